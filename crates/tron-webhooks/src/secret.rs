//! Webhook signing secrets.
//!
//! Invariant: the secret's bytes leave [`WebhookSecret`] only to key an HMAC
//! (crate-internal) or to be sealed for storage ([`crate::seal`]); its text
//! form `whsec_…` is produced on request, once, for the response that creates
//! or rotates it. `Debug` and `Display` are redacted and the bytes are wiped
//! when the value is dropped.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::{Zeroize, Zeroizing};

/// The prefix of a secret's text form.
pub const SECRET_PREFIX: &str = "whsec_";
/// Bytes of randomness in a generated secret.
pub const GENERATED_SECRET_LEN: usize = 32;
/// The lengths Standard Webhooks allows for a secret (24 to 64 bytes).
const ACCEPTED_LEN: std::ops::RangeInclusive<usize> = 24..=64;

/// A webhook's signing secret: the bytes after `whsec_`, base64-decoded.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

/// Why a text is not a webhook secret. Never repeats the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a webhook secret starts with `whsec_`")]
    MissingPrefix,
    #[error("a webhook secret is `whsec_` followed by standard base64")]
    NotBase64,
    #[error("a webhook secret holds 24 to 64 bytes")]
    BadLength,
}

impl WebhookSecret {
    /// A new secret of 32 bytes from the operating system's generator.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; GENERATED_SECRET_LEN];
        OsRng.fill_bytes(&mut bytes);
        WebhookSecret(bytes)
    }

    /// Parses `whsec_` + standard base64 (as generated, or as a receiver
    /// stores it).
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let bytes = Zeroizing::new(
            STANDARD
                .decode(encoded)
                .map_err(|_| SecretError::NotBase64)?,
        );
        WebhookSecret::from_bytes(&bytes)
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        if !ACCEPTED_LEN.contains(&bytes.len()) {
            return Err(SecretError::BadLength);
        }
        Ok(WebhookSecret(bytes.to_vec()))
    }

    /// The text form, `whsec_` + base64 (standard, padded): to show once.
    pub fn reveal(&self) -> Zeroizing<String> {
        let mut text = Zeroizing::new(String::with_capacity(
            SECRET_PREFIX.len() + self.0.len().div_ceil(3) * 4,
        ));
        text.push_str(SECRET_PREFIX);
        STANDARD.encode_string(&self.0, &mut text);
        text
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for WebhookSecret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("whsec_[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_whsec_and_32_bytes_of_padded_base64() {
        let a = WebhookSecret::generate();
        let text = a.reveal();
        assert!(text.starts_with("whsec_"));
        // 32 bytes are 44 characters of padded base64, the last one `=`.
        assert_eq!(text.len(), 6 + 44);
        assert!(text.ends_with('='));
        let parsed = WebhookSecret::parse(&text).unwrap();
        assert_eq!(parsed.bytes(), a.bytes());
        assert_ne!(WebhookSecret::generate().bytes(), a.bytes());
    }

    #[test]
    fn parse_takes_the_standard_webhooks_example_secret() {
        let s = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(s.bytes().len(), 24);
        assert_eq!(&*s.reveal(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    }

    #[test]
    fn parse_refuses_what_is_not_a_secret_without_repeating_it() {
        let cases = [
            (
                "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                SecretError::MissingPrefix,
            ),
            (
                "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                SecretError::MissingPrefix,
            ),
            ("whsec_not base64!", SecretError::NotBase64),
            (
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",
                SecretError::NotBase64,
            ),
            ("whsec_", SecretError::BadLength),
            ("whsec_AAAA", SecretError::BadLength),
        ];
        for (text, want) in cases {
            let err = WebhookSecret::parse(text).unwrap_err();
            assert_eq!(err, want, "{text}");
            assert!(!err.to_string().contains("MfKQ"));
        }
        let too_long = format!("whsec_{}", STANDARD.encode([7u8; 65]));
        assert_eq!(
            WebhookSecret::parse(&too_long).unwrap_err(),
            SecretError::BadLength
        );
    }

    #[test]
    fn debug_and_display_are_redacted() {
        let s = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        for shown in [format!("{s:?}"), format!("{s}"), format!("{:?}", Some(&s))] {
            assert!(!shown.contains("MfKQ"), "{shown}");
        }
    }
}
