// Tron portal: the only script (the Content-Security-Policy allows no inline
// script). Pages work without it; it adds a copy button, a scope picker that
// shows only the relevant choices, and keeps a shown-once token from coming
// back on reload.
(function () {
  "use strict";

  // A page that shows a new token answers a POST. Replace that history entry
  // with the account's address, so that a reload is a plain GET (which never
  // shows the token) instead of a second POST.
  var replace = document.body.getAttribute("data-replace-url");
  if (replace && window.history && window.history.replaceState) {
    window.history.replaceState(null, "", replace);
  }

  function copied(button) {
    var label = button.textContent;
    button.textContent = "Copied";
    window.setTimeout(function () { button.textContent = label; }, 2000);
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = field.value || field.textContent;
      var fallback = function () {
        if (typeof field.select === "function") {
          field.focus();
          field.select();
        } else {
          var range = document.createRange();
          range.selectNodeContents(field);
          var selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
        }
        try { if (document.execCommand("copy")) { copied(button); } } catch (e) { /* the text stays selected */ }
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(function () { copied(button); }, fallback);
      } else {
        fallback();
      }
    });
  });

  document.querySelectorAll("[data-scope-picker]").forEach(function (picker) {
    var update = function () {
      var chosen = picker.querySelector("input[name=scope]:checked");
      var kind = chosen ? chosen.value : "organization";
      picker.querySelectorAll("[data-scope-for]").forEach(function (list) {
        list.hidden = list.getAttribute("data-scope-for") !== kind;
      });
    };
    picker.addEventListener("change", update);
    update();
  });
})();
