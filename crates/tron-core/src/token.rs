//! The token format and its keyed hash.
//!
//! Invariant: a token's plaintext lives only inside [`SecretToken`], which
//! redacts itself in `Debug`, is never serialized, and can only be hashed or
//! revealed once to the caller that minted it. Storage sees the HMAC-SHA256
//! of the token under the server secret and a 4-character hint, nothing else.
//! A string that fails the shape or the checksum is rejected before any
//! storage lookup.
use std::fmt;

use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::Rng;
use sha2::Sha256;
use subtle::ConstantTimeEq;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// 43 base62 characters carry log2(62) * 43 ≈ 256.03 bits.
const RANDOM_LEN: usize = 43;
const CHECKSUM_LEN: usize = 6;
const PREFIX_LEN: usize = "trn_ses_".len();
pub const TOKEN_LEN: usize = PREFIX_LEN + RANDOM_LEN + CHECKSUM_LEN;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    Session,
    Personal,
    Service,
}

impl TokenKind {
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::Session => "trn_ses_",
            TokenKind::Personal => "trn_pat_",
            TokenKind::Service => "trn_sat_",
        }
    }

    /// The name used in the API (`GET /me`) and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Session => "session",
            TokenKind::Personal => "personal",
            TokenKind::Service => "service",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "session" => Some(TokenKind::Session),
            "personal" => Some(TokenKind::Personal),
            "service" => Some(TokenKind::Service),
            _ => None,
        }
    }
}

/// A token's plaintext. Deliberately not `Clone`, `Serialize` or `Display`.
pub struct SecretToken {
    kind: TokenKind,
    text: String,
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretToken({}…{})", self.kind.prefix(), self.hint())
    }
}

fn checksum(body: &str) -> [u8; CHECKSUM_LEN] {
    let mut n = crc32fast::hash(body.as_bytes());
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    // 62^6 > 2^32, so every CRC-32 fits.
    out
}

impl SecretToken {
    /// Mints a fresh token from the operating system's random generator.
    pub fn generate(kind: TokenKind) -> Self {
        let mut rng = OsRng;
        let mut text = String::with_capacity(TOKEN_LEN);
        text.push_str(kind.prefix());
        for _ in 0..RANDOM_LEN {
            text.push(ALPHABET[rng.gen_range(0..62)] as char);
        }
        let sum = checksum(&text);
        text.extend(sum.iter().map(|&b| char::from(b)));
        SecretToken { kind, text }
    }

    /// Checks shape and checksum. Never touches storage.
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() != TOKEN_LEN || !s.is_ascii() {
            return None;
        }
        let kind = [TokenKind::Session, TokenKind::Personal, TokenKind::Service]
            .into_iter()
            .find(|k| s.starts_with(k.prefix()))?;
        if !s[PREFIX_LEN..].bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let (body, sum) = s.split_at(TOKEN_LEN - CHECKSUM_LEN);
        if checksum(body)[..].ct_eq(sum.as_bytes()).into() {
            Some(SecretToken {
                kind,
                text: s.to_owned(),
            })
        } else {
            None
        }
    }

    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    /// The last four characters, safe to display.
    pub fn hint(&self) -> String {
        self.text[TOKEN_LEN - 4..].to_owned()
    }

    /// Hands the plaintext out, consuming the token: it is shown once, to
    /// the caller that minted it.
    pub fn reveal(self) -> String {
        self.text
    }
}

/// The server secret. Redacted in `Debug`.
#[derive(Clone)]
pub struct ServerSecret {
    bytes: Vec<u8>,
    /// The HMAC keyed once (its inner and outer pads), cloned per hash.
    keyed: Hmac<Sha256>,
}

impl fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerSecret(..)")
    }
}

pub const MIN_SECRET_LEN: usize = 32;

impl ServerSecret {
    pub fn new(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() < MIN_SECRET_LEN {
            return Err(format!(
                "the server secret must be at least {MIN_SECRET_LEN} bytes"
            ));
        }
        Ok(ServerSecret::keyed(bytes))
    }

    fn keyed(bytes: Vec<u8>) -> Self {
        // HMAC accepts keys of any length, so this cannot fail.
        let keyed = match Hmac::<Sha256>::new_from_slice(&bytes) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        ServerSecret { bytes, keyed }
    }

    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 48];
        OsRng.fill(&mut bytes[..]);
        ServerSecret::keyed(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `HMAC-SHA256(secret, token)`: the only thing stored (as hex).
    pub fn hash(&self, token: &SecretToken) -> TokenHash {
        let mut mac = self.keyed.clone();
        mac.update(token.text.as_bytes());
        TokenHash(mac.finalize().into_bytes().into())
    }
}

/// A token's HMAC-SHA256. Stored as hex; compared in constant time. The
/// derived comparisons serve only as a cache key and for ordering (lookups),
/// never as the check, which is [`TokenHash::ct_eq`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenHash([u8; 32]);

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

impl TokenHash {
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        // Compared as four words: the same constant-time comparison with an
        // eighth of the steps of a byte-by-byte one.
        fn words(h: &[u8; 32]) -> [u64; 4] {
            std::array::from_fn(|i| {
                let mut w = [0u8; 8];
                w.copy_from_slice(&h[i * 8..i * 8 + 8]);
                u64::from_ne_bytes(w)
            })
        }
        words(&self.0)[..].ct_eq(&words(&other.0)[..]).into()
    }

    /// The stored form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Option<TokenHash> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(TokenHash(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_match_the_public_regex_shape() {
        for kind in [TokenKind::Session, TokenKind::Personal, TokenKind::Service] {
            let t = SecretToken::generate(kind);
            let text = t.text.clone();
            assert_eq!(text.len(), TOKEN_LEN);
            assert!(text.starts_with(kind.prefix()));
            assert!(text[PREFIX_LEN..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric()));
            let parsed = SecretToken::parse(&text).map(|p| p.kind());
            assert_eq!(parsed, Some(kind));
        }
    }

    #[test]
    fn checksum_is_crc32_in_base62_msd_first() {
        // Decoding the base62 digits gives back the CRC-32 of the body.
        let body = "trn_pat_0000000000000000000000000000000000000000000";
        let sum = checksum(body);
        let decoded = sum.iter().fold(0u64, |acc, &b| {
            acc * 62
                + ALPHABET
                    .iter()
                    .position(|&a| a == b)
                    .map_or(0, |p| p as u64)
        });
        assert_eq!(decoded, u64::from(crc32fast::hash(body.as_bytes())));
        assert_eq!(sum.len(), 6);
    }

    #[test]
    fn checksum_known_vector() {
        // Python: zlib.crc32(b"123456789") == 0xCBF43926, which is
        // "3jZRME" in base62 (0-9A-Za-z), most significant digit first.
        assert_eq!(&checksum("123456789"), b"3jZRME");
    }

    #[test]
    fn rejects_bad_shapes_and_checksums() {
        let good = SecretToken::generate(TokenKind::Service).reveal();
        assert!(SecretToken::parse(&good).is_some());
        assert!(SecretToken::parse("").is_none());
        assert!(SecretToken::parse(&good[..good.len() - 1]).is_none());
        assert!(SecretToken::parse(&format!("{good}x")).is_none());
        let wrong_prefix = good.replacen("trn_sat_", "trn_xxx_", 1);
        assert!(SecretToken::parse(&wrong_prefix).is_none());
        // Flip one random character: the checksum catches it.
        let mut bytes = good.clone().into_bytes();
        bytes[20] = if bytes[20] == b'a' { b'b' } else { b'a' };
        let flipped = String::from_utf8(bytes).unwrap_or_default();
        assert!(SecretToken::parse(&flipped).is_none());
        let non_ascii = format!("{}é", &good[..good.len() - 2]);
        assert!(SecretToken::parse(&non_ascii).is_none());
    }

    #[test]
    fn debug_never_shows_the_plaintext() {
        let t = SecretToken::generate(TokenKind::Personal);
        let text = t.text.clone();
        let dbg = format!("{t:?}");
        assert!(!dbg.contains(&text[PREFIX_LEN..PREFIX_LEN + 20]));
        assert!(dbg.ends_with(&format!("{})", &text[TOKEN_LEN - 4..])));
    }

    #[test]
    fn hash_is_keyed_and_stable() {
        let a = ServerSecret::new(vec![1; 32]).unwrap_or_else(|_| ServerSecret::generate());
        let b = ServerSecret::new(vec![2; 32]).unwrap_or_else(|_| ServerSecret::generate());
        let t = SecretToken::generate(TokenKind::Service);
        assert_eq!(a.hash(&t), a.hash(&t));
        assert_ne!(a.hash(&t), b.hash(&t));
        let hex = a.hash(&t).to_hex();
        assert_eq!(hex.len(), 64);
        assert_eq!(TokenHash::from_hex(&hex), Some(a.hash(&t)));
        assert_eq!(TokenHash::from_hex(&hex[1..]), None);
        assert!(a.hash(&t).ct_eq(&a.hash(&t)));
        assert!(!a.hash(&t).ct_eq(&b.hash(&t)));
        // The pre-keyed state gives plain HMAC-SHA256.
        let Ok(mut direct) = Hmac::<Sha256>::new_from_slice(&[1; 32]) else {
            unreachable!("HMAC takes keys of any length")
        };
        direct.update(t.reveal().as_bytes());
        assert_eq!(hex, hex::encode(direct.finalize().into_bytes()));
        assert!(ServerSecret::new(vec![0; 31]).is_err());
    }
}
