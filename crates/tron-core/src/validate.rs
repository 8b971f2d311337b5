//! Input rules that are not values of their own (passwords, integers
//! written as floats, patches that tell `null` from absent); the text
//! values with a rule are types in `crate::values`.
use serde::{Deserialize, Deserializer};

use crate::error::{Error, Result};

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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_12_to_1024_characters() {
        assert!(password("password", &"x".repeat(11)).is_err());
        assert!(password("password", &"é".repeat(12)).is_ok());
        assert!(password("password", &"x".repeat(1024)).is_ok());
        assert!(password("password", &"x".repeat(1025)).is_err());
    }

    #[test]
    fn integers_may_be_written_as_whole_floats() {
        #[derive(Deserialize)]
        struct B {
            #[serde(deserialize_with = "opt_int")]
            n: Option<i64>,
        }
        let b: B = serde_json::from_str(r#"{"n": 3.0}"#).unwrap();
        assert_eq!(b.n, Some(3));
        assert!(serde_json::from_str::<B>(r#"{"n": 3.5}"#).is_err());
    }
}
