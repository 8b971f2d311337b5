//! Input rules shared by the API and the portal.
use serde::{Deserialize, Deserializer};

use crate::error::{Error, Result};

/// Environment, application and service-account names: 1–63 characters of
/// `[a-z0-9-]`, starting and ending alphanumeric.
pub fn slug_name(field: &str, name: &str) -> Result<String> {
    let ok = (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(name.to_owned())
    } else {
        Err(Error::validation(
            field,
            format!("{field} must be 1 to 63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit"),
        ))
    }
}

/// Organization, group and token names: trimmed, 1–100 characters, no
/// control characters.
pub fn display_name(field: &str, name: &str) -> Result<String> {
    let trimmed = name.trim();
    let len = trimmed.chars().count();
    if len == 0 || len > 100 || trimmed.chars().any(char::is_control) {
        return Err(Error::validation(
            field,
            format!("{field} must be 1 to 100 characters without control characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// Free text such as descriptions: at most 1000 characters.
pub fn description(field: &str, text: &str) -> Result<String> {
    if text.chars().count() > 1000
        || text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(Error::validation(
            field,
            format!("{field} must be at most 1000 characters without control characters"),
        ));
    }
    Ok(text.to_owned())
}

pub fn email(field: &str, email: &str) -> Result<String> {
    let e = email.trim().to_lowercase();
    let valid = e.chars().count() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(e.split_once('@'), Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if valid {
        Ok(e)
    } else {
        Err(Error::validation(
            field,
            "email must be a valid email address",
        ))
    }
}

pub const MIN_PASSWORD_LEN: usize = 12;

pub fn password(field: &str, password: &str) -> Result<()> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(Error::validation(
            field,
            format!("password must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if n > 1024 {
        return Err(Error::validation(
            field,
            "password must be at most 1024 characters",
        ));
    }
    Ok(())
}

/// Distinguishes an absent field (`None`) from an explicit `null`
/// (`Some(None)`) in a JSON patch.
pub fn double_option<'de, T, D>(de: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// An optional integer that may also be written as a float without a
/// fraction (`3.0`): JSON Schema's `integer` allows it.
pub fn opt_int<'de, D>(de: D) -> std::result::Result<Option<i64>, D::Error>
where
    D: Deserializer<'de>,
{
    Option::<serde_json::Number>::deserialize(de)?
        .map(|n| {
            number_to_int(&n).ok_or_else(|| {
                serde::de::Error::custom(format!("invalid type: {n}, expected an integer"))
            })
        })
        .transpose()
}

/// [`opt_int`] for a field where `null` and absent differ.
pub fn double_option_int<'de, D>(de: D) -> std::result::Result<Option<Option<i64>>, D::Error>
where
    D: Deserializer<'de>,
{
    opt_int(de).map(Some)
}

fn number_to_int(n: &serde_json::Number) -> Option<i64> {
    n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["a", "ci-deployer", "a1", "0", &"a".repeat(63)] {
            assert!(slug_name("name", ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a b", &"a".repeat(64), "é"] {
            assert!(slug_name("name", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_names() {
        assert_eq!(
            display_name("name", "  Acme  ").ok().as_deref(),
            Some("Acme")
        );
        assert!(display_name("name", "   ").is_err());
        assert!(display_name("name", "a\u{7}b").is_err());
        assert!(display_name("name", &"é".repeat(100)).is_ok());
        assert!(display_name("name", &"é".repeat(101)).is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(
            email("email", " Ann@Example.com ").ok().as_deref(),
            Some("ann@example.com")
        );
        assert!(email("email", "nope").is_err());
        assert!(email("email", "a@b@c").is_err());
        assert!(email("email", "@b").is_err());
    }
}
