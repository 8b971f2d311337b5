//! A JSON Web Key Set as Tron uses it: the signing keys of one issuer,
//! RSA and P-256 only, each with the `alg` it declares (if any), so that
//! verification can refuse a key used with an algorithm it was not made for.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

/// What a key is, as the verifier needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// Big-endian modulus and exponent.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// The uncompressed point `04 ‖ x ‖ y`.
    P256 { point: Vec<u8> },
}

/// One public signing key of an issuer.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    /// The key's own `alg`, when its JWK states one.
    pub alg: Option<String>,
    pub material: KeyMaterial,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.material {
            KeyMaterial::Rsa { .. } => "RSA",
            KeyMaterial::P256 { .. } => "EC P-256",
        };
        f.debug_struct("PublicKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("kind", &kind)
            .finish()
    }
}

/// The keys of one issuer, by `kid` (the first of a repeated `kid` wins).
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Arc<PublicKey>>,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawKey {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

impl KeySet {
    /// Parses a JWKS document. Keys Tron cannot use (another type or
    /// curve, `use` other than `sig`, no `kid`, bad encoding) are skipped;
    /// a document that is not a key set at all is an error.
    pub fn parse(body: &[u8]) -> Result<KeySet, serde_json::Error> {
        let raw: RawSet = serde_json::from_slice(body)?;
        let mut keys: Vec<Arc<PublicKey>> = Vec::new();
        for value in raw.keys {
            let Ok(raw) = serde_json::from_value::<RawKey>(value) else {
                continue;
            };
            let Some(key) = usable(raw) else { continue };
            if !keys.iter().any(|k| k.kid == key.kid) {
                keys.push(Arc::new(key));
            }
        }
        Ok(KeySet { keys })
    }

    pub fn from_keys(keys: Vec<PublicKey>) -> KeySet {
        KeySet {
            keys: keys.into_iter().map(Arc::new).collect(),
        }
    }

    pub fn get(&self, kid: &str) -> Option<Arc<PublicKey>> {
        self.keys.iter().find(|k| k.kid == kid).cloned()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn b64(s: Option<&String>) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s?.trim_end_matches('=')).ok()
}

fn usable(raw: RawKey) -> Option<PublicKey> {
    if raw.use_.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    let kid = raw.kid.filter(|k| !k.is_empty())?;
    let material = match raw.kty.as_str() {
        "RSA" => {
            let n = b64(raw.n.as_ref())?;
            let e = b64(raw.e.as_ref())?;
            if n.is_empty() || e.is_empty() {
                return None;
            }
            KeyMaterial::Rsa { n, e }
        }
        "EC" if raw.crv.as_deref() == Some("P-256") => {
            let x = b64(raw.x.as_ref())?;
            let y = b64(raw.y.as_ref())?;
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            let mut point = Vec::with_capacity(65);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            KeyMaterial::P256 { point }
        }
        _ => return None,
    };
    Some(PublicKey {
        kid,
        alg: raw.alg,
        material,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_rsa_and_p256_signing_keys_only() {
        let x = URL_SAFE_NO_PAD.encode([1u8; 32]);
        let doc = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "r", "alg": "RS256", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "r", "n": "AQID", "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "kid": "e", "crv": "P-256", "x": x, "y": x},
            {"kty": "EC", "kid": "short", "crv": "P-256", "x": "AQ", "y": x},
            {"kty": "EC", "kid": "p384", "crv": "P-384", "x": x, "y": x},
            {"kty": "oct", "kid": "h", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "bad", "n": "!!", "e": "AQAB"},
            "not a key"
        ]});
        let set = KeySet::parse(doc.to_string().as_bytes()).unwrap();
        assert_eq!(set.len(), 2);
        let r = set.get("r").unwrap();
        assert_eq!(r.alg.as_deref(), Some("RS256"));
        assert_eq!(
            r.material,
            KeyMaterial::Rsa {
                n: vec![1, 0, 1],
                e: vec![1, 0, 1]
            }
        );
        assert!(
            matches!(set.get("e").unwrap().material, KeyMaterial::P256 { ref point } if point.len() == 65)
        );
        assert!(set.get("h").is_none());
        assert!(KeySet::parse(b"{\"nokeys\": []}").is_err());
    }
}
