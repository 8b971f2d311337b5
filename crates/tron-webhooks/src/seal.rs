//! Webhook secrets at rest.
//!
//! Invariant: a stored secret is `v1.` + base64(nonce ‖ ciphertext), where
//! the ciphertext is XChaCha20-Poly1305 under a key derived from the server
//! secret (HKDF-SHA256, info [`KEY_INFO`]), with a random 24-byte nonce and
//! the webhook's id as associated data. So a database dump alone reveals no
//! secret, and a ciphertext copied to another webhook's row does not open.
//! Opening refuses a changed byte, another id and another key alike, and no
//! error says which (nor shows the stored text or the plaintext).

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;
use uuid::Uuid;
use zeroize::{Zeroize, Zeroizing};

use crate::secret::WebhookSecret;

/// The HKDF info string: names the purpose and the format version, so this
/// key is unrelated to any other key derived from the same server secret.
pub const KEY_INFO: &[u8] = b"tron webhook secret v1";
/// The shortest server secret accepted (as for token hashing).
pub const MIN_SERVER_SECRET_LEN: usize = 32;
const VERSION_PREFIX: &str = "v1.";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// Seals and opens webhook secrets with the key derived from the server
/// secret, shared by the API (seal) and the delivery worker (open).
#[derive(Clone)]
pub struct SecretSealer {
    cipher: XChaCha20Poly1305,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the server secret must be at least {MIN_SERVER_SECRET_LEN} bytes")]
    ServerSecretTooShort,
    #[error("the webhook secret could not be encrypted")]
    Encrypt,
}

/// Why a stored secret does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("the stored webhook secret is not in a known format")]
    Malformed,
    #[error("the stored webhook secret does not open with this server secret and webhook id")]
    Rejected,
}

impl fmt::Debug for SecretSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretSealer(..)")
    }
}

impl SecretSealer {
    /// Derives the sealing key from the server secret (at least 32 bytes).
    pub fn new(server_secret: &[u8]) -> Result<Self, SealError> {
        if server_secret.len() < MIN_SERVER_SECRET_LEN {
            return Err(SealError::ServerSecretTooShort);
        }
        let mut key = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(None, server_secret)
            .expand(KEY_INFO, &mut key[..])
            // 32 bytes is far below HKDF-SHA256's limit of 255 * 32.
            .map_err(|_| SealError::ServerSecretTooShort)?;
        let cipher = XChaCha20Poly1305::new_from_slice(&key[..])
            .map_err(|_| SealError::ServerSecretTooShort)?;
        Ok(SecretSealer { cipher })
    }

    /// The text to store for `secret` on the webhook `webhook_id`. A new
    /// random nonce each time, so sealing twice gives two different texts.
    pub fn seal(&self, webhook_id: Uuid, secret: &WebhookSecret) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: secret.bytes(),
                    aad: webhook_id.as_bytes(),
                },
            )
            .map_err(|_| SealError::Encrypt)?;
        let mut raw = Vec::with_capacity(NONCE_LEN + sealed.len());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&sealed);
        Ok(format!("{VERSION_PREFIX}{}", STANDARD.encode(raw)))
    }

    /// The secret of the webhook `webhook_id` from its stored text.
    pub fn open(&self, webhook_id: Uuid, stored: &str) -> Result<WebhookSecret, OpenError> {
        let encoded = stored
            .strip_prefix(VERSION_PREFIX)
            .ok_or(OpenError::Malformed)?;
        let raw = STANDARD.decode(encoded).map_err(|_| OpenError::Malformed)?;
        if raw.len() <= NONCE_LEN + TAG_LEN {
            return Err(OpenError::Malformed);
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let mut plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: webhook_id.as_bytes(),
                },
            )
            .map_err(|_| OpenError::Rejected)?;
        let secret = WebhookSecret::from_bytes(&plain).map_err(|_| OpenError::Malformed);
        plain.zeroize();
        secret
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER_SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-server";

    fn sealer() -> SecretSealer {
        SecretSealer::new(SERVER_SECRET).unwrap()
    }

    #[test]
    fn round_trip_and_the_stored_form() {
        let id = Uuid::now_v7();
        let secret = WebhookSecret::generate();
        let stored = sealer().seal(id, &secret).unwrap();
        assert!(stored.starts_with("v1."));
        // nonce (24) + secret (32) + tag (16) = 72 bytes = 96 base64 chars.
        assert_eq!(stored.len(), 3 + 96);
        let plain_b64 = &secret.reveal()["whsec_".len()..];
        assert!(!stored.contains(plain_b64));
        // A sealer built again from the same server secret (a restart,
        // another instance) opens it.
        let opened = sealer().open(id, &stored).unwrap();
        assert_eq!(*opened.reveal(), *secret.reveal());
        // Fresh nonce each time.
        assert_ne!(sealer().seal(id, &secret).unwrap(), stored);
    }

    #[test]
    fn another_webhook_id_is_refused() {
        let secret = WebhookSecret::generate();
        let stored = sealer().seal(Uuid::now_v7(), &secret).unwrap();
        assert_eq!(
            sealer().open(Uuid::now_v7(), &stored).unwrap_err(),
            OpenError::Rejected
        );
    }

    #[test]
    fn another_server_secret_is_refused() {
        let id = Uuid::now_v7();
        let stored = sealer().seal(id, &WebhookSecret::generate()).unwrap();
        let other = SecretSealer::new(b"another server secret of 32 bytes or more").unwrap();
        assert_eq!(other.open(id, &stored).unwrap_err(), OpenError::Rejected);
    }

    #[test]
    fn every_changed_byte_is_refused() {
        let id = Uuid::now_v7();
        let stored = sealer().seal(id, &WebhookSecret::generate()).unwrap();
        let raw = STANDARD.decode(&stored[3..]).unwrap();
        for i in 0..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            let text = format!("v1.{}", STANDARD.encode(&bad));
            assert_eq!(
                sealer().open(id, &text).unwrap_err(),
                OpenError::Rejected,
                "byte {i}"
            );
        }
        // Cut short or extended.
        let short = format!("v1.{}", STANDARD.encode(&raw[..raw.len() - 1]));
        assert_eq!(sealer().open(id, &short).unwrap_err(), OpenError::Rejected);
        let mut long = raw.clone();
        long.push(0);
        let long = format!("v1.{}", STANDARD.encode(&long));
        assert_eq!(sealer().open(id, &long).unwrap_err(), OpenError::Rejected);
    }

    #[test]
    fn malformed_texts_are_refused() {
        let id = Uuid::now_v7();
        let stored = sealer().seal(id, &WebhookSecret::generate()).unwrap();
        // 39 bytes: shorter than a nonce and a tag.
        let too_short = format!("v1.{}", "A".repeat(52));
        for text in [
            "",
            "v1.",
            "v1.!!!",
            "v2.AAAA",
            &stored[3..],
            &stored.replacen("v1.", "v2.", 1),
            &too_short,
        ] {
            assert_eq!(
                sealer().open(id, text).unwrap_err(),
                OpenError::Malformed,
                "{text}"
            );
        }
    }

    #[test]
    fn a_short_server_secret_is_refused() {
        assert_eq!(
            SecretSealer::new(&[1u8; 31]).unwrap_err(),
            SealError::ServerSecretTooShort
        );
        assert!(SecretSealer::new(&[1u8; 32]).is_ok());
        assert_eq!(format!("{:?}", sealer()), "SecretSealer(..)");
    }
}
