// Starts Swagger UI on Tron's OpenAPI document (no inline script: the page's
// Content-Security-Policy allows scripts from this origin only).
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
