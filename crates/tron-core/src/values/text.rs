//! Text values with a rule (SPEC §4): each type can only hold text that
//! passes its rule, so a request body that deserialized holds no
//! unchecked name, and an operation that takes a [`Name`] cannot be handed
//! a raw string. The rule, its message and its OpenAPI schema are written
//! once, here; the API reads them through `Deserialize`, the portal through
//! [`parse`](Name::parse) with the form field's name.
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// One text rule: what it accepts (after normalizing) and how it is
/// described to a client.
struct Rule {
    /// Completes "`field` …" in a validation message; never holds a value.
    message: &'static str,
    min: usize,
    max: usize,
    pattern: &'static str,
    description: &'static str,
}

const NAME: Rule = Rule {
    message:
        "must be 1 to 63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit",
    min: 1,
    max: 63,
    pattern: r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$",
    description: "A name: lower-case letters, digits and '-'.",
};

const DISPLAY_NAME: Rule = Rule {
    message: "must be 1 to 100 characters without control characters",
    min: 1,
    max: 100,
    pattern: r"^[^\s\u0000-\u001F\u007F-\u009F]([^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F])?$",
    description: "A display name (surrounding spaces are trimmed).",
};

const DESCRIPTION: Rule = Rule {
    message: "must be at most 1000 characters without control characters",
    min: 0,
    max: 1000,
    pattern: r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$",
    description: "Free text; line breaks and tabs allowed.",
};

const EMAIL: Rule = Rule {
    message: "must be a valid email address",
    min: 3,
    max: 254,
    pattern: r"^[^\s@\u0000-\u001F\u007F-\u009F]+@[^\s@\u0000-\u001F\u007F-\u009F]+$",
    description: "An email address (compared case-insensitively).",
};

const IMAGE_REF: Rule = Rule {
    message: "must be 1 to 512 characters without spaces",
    min: 1,
    max: 512,
    pattern: r"^[^\s\u0000-\u001F\u007F-\u009F]+$",
    description: "A container image reference, for example `ghcr.io/acme/web:1.4.2`.",
};

const SHORT_TEXT: Rule = Rule {
    message: "must be 1 to 512 characters without control characters",
    min: 1,
    max: 512,
    pattern: r"^[^\u0000-\u001F\u007F-\u009F]+$",
    description: "A short line of text.",
};

/// Every rule's message: the JSON extractor recognizes them in a
/// deserialization error and passes them on (they hold no value).
pub const RULE_MESSAGES: &[&str] = &[
    NAME.message,
    DISPLAY_NAME.message,
    DESCRIPTION.message,
    EMAIL.message,
    IMAGE_REF.message,
    SHORT_TEXT.message,
];

fn slug_ok(s: &str) -> bool {
    (NAME.min..=NAME.max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn normalize_name(s: &str) -> Option<String> {
    slug_ok(s).then(|| s.to_owned())
}

fn normalize_display_name(s: &str) -> Option<String> {
    let t = s.trim();
    let n = t.chars().count();
    ((DISPLAY_NAME.min..=DISPLAY_NAME.max).contains(&n) && !t.chars().any(char::is_control))
        .then(|| t.to_owned())
}

fn normalize_description(s: &str) -> Option<String> {
    (s.chars().count() <= DESCRIPTION.max
        && !s
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r')))
    .then(|| s.to_owned())
}

fn normalize_email(s: &str) -> Option<String> {
    let e = s.trim().to_lowercase();
    let ok = e.chars().count() <= EMAIL.max
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(e.split_once('@'),
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    ok.then_some(e)
}

fn normalize_image(s: &str) -> Option<String> {
    let n = s.chars().count();
    ((IMAGE_REF.min..=IMAGE_REF.max).contains(&n)
        && !s.chars().any(|c| c.is_whitespace() || c.is_control()))
    .then(|| s.to_owned())
}

fn normalize_short_text(s: &str) -> Option<String> {
    let n = s.chars().count();
    ((SHORT_TEXT.min..=SHORT_TEXT.max).contains(&n) && !s.chars().any(char::is_control))
        .then(|| s.to_owned())
}

fn schema_of(rule: &Rule) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    let mut b = utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .max_length(Some(rule.max))
        .pattern(Some(rule.pattern))
        .description(Some(rule.description));
    if rule.min > 0 {
        b = b.min_length(Some(rule.min));
    }
    b.into()
}

macro_rules! text_value {
    ($(#[$doc:meta])* $ty:ident, $rule:expr, $normalize:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty(String);

        impl $ty {
            /// Checks `text` (as typed into the form or query field
            /// `field`), naming the field when it is refused.
            pub fn parse(field: &str, text: &str) -> Result<Self> {
                $normalize(text).map($ty).ok_or_else(|| {
                    Error::validation(field, format!("{field} {}", $rule.message))
                })
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $ty {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl From<$ty> for String {
            fn from(v: $ty) -> String {
                v.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(de: D) -> std::result::Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<$ty, E> {
                        $normalize(v).map($ty).ok_or_else(|| E::custom($rule.message))
                    }
                }
                de.deserialize_str(V)
            }
        }

        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                schema_of(&$rule)
            }
        }

        impl utoipa::ToSchema for $ty {}
    };
}

text_value!(
    /// Environment, application and service-account names: 1–63 characters
    /// of `[a-z0-9-]`, starting and ending alphanumeric.
    Name,
    NAME,
    normalize_name
);
text_value!(
    /// Organization, group and token names: trimmed, 1–100 characters, no
    /// control characters.
    DisplayName,
    DISPLAY_NAME,
    normalize_display_name
);
text_value!(
    /// Free text such as descriptions: at most 1000 characters; line breaks
    /// and tabs are the only control characters allowed. Empty by default.
    #[derive(Default)]
    Description,
    DESCRIPTION,
    normalize_description
);
text_value!(
    /// An email address, trimmed and lower-cased.
    Email,
    EMAIL,
    normalize_email
);
text_value!(
    /// A container image reference: 1–512 characters, no spaces.
    ImageRef,
    IMAGE_REF,
    normalize_image
);
text_value!(
    /// A short line (a repository, a version): 1–512 characters, no control
    /// characters.
    ShortText,
    SHORT_TEXT,
    normalize_short_text
);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "ci-deployer", "a1", "0", &"a".repeat(63)] {
            assert!(Name::parse("name", ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a b", &"a".repeat(64), "é"] {
            assert!(Name::parse("name", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_names_are_trimmed() {
        assert_eq!(
            DisplayName::parse("name", "  Acme  ").unwrap().as_str(),
            "Acme"
        );
        assert!(DisplayName::parse("name", "   ").is_err());
        assert!(DisplayName::parse("name", "a\u{7}b").is_err());
        assert!(DisplayName::parse("name", &"é".repeat(100)).is_ok());
        assert!(DisplayName::parse("name", &"é".repeat(101)).is_err());
    }

    #[test]
    fn descriptions_allow_line_breaks_only() {
        assert!(Description::parse("d", "").is_ok());
        assert!(Description::parse("d", "two\nlines\tand\r").is_ok());
        assert!(Description::parse("d", "bell\u{7}").is_err());
        assert!(Description::parse("d", &"x".repeat(1001)).is_err());
    }

    #[test]
    fn emails_are_lower_cased() {
        assert_eq!(
            Email::parse("email", " Ann@Example.com ").unwrap().as_str(),
            "ann@example.com"
        );
        for bad in ["nope", "a@b@c", "@b", "a@", "a b@c"] {
            assert!(Email::parse("email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn images_and_short_text() {
        assert!(ImageRef::parse("image", "ghcr.io/acme/web:1.4.2").is_ok());
        assert!(ImageRef::parse("image", "a b").is_err());
        assert!(ImageRef::parse("image", "").is_err());
        assert!(ShortText::parse("version", "v1 (hotfix)").is_ok());
        assert!(ShortText::parse("version", "").is_err());
        assert!(ShortText::parse("version", "a\nb").is_err());
    }

    #[test]
    fn a_refusal_names_the_field_and_never_the_value() {
        let Error::Validation { field, message, .. } =
            Name::parse("name", "Secret_Value").unwrap_err()
        else {
            panic!("not a validation error")
        };
        assert_eq!(field.as_deref(), Some("name"));
        assert!(message.starts_with("name must be"), "{message}");
        assert!(!message.contains("Secret_Value"));
    }

    #[test]
    fn deserializing_applies_the_rule() {
        let n: Name = serde_json::from_str(r#""web""#).unwrap();
        assert_eq!(n.as_str(), "web");
        let e = serde_json::from_str::<Name>(r#""Web""#).unwrap_err();
        assert!(e.to_string().starts_with(NAME.message), "{e}");
        let d: DisplayName = serde_json::from_str(r#"" Acme ""#).unwrap();
        assert_eq!(d.as_str(), "Acme");
    }
}
