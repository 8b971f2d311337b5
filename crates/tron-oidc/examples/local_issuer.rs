//! A local OIDC issuer for trying keyless CI by hand (feature `testing`):
//!
//! ```sh
//! cargo run -p tron-oidc --features testing --example local_issuer -- https://tron.example
//! ```
//!
//! It prints its issuer URL (put it in `TRON_OIDC_ISSUERS`), then answers
//! each line read on stdin with one line:
//! - a JSON object: an ID token with GitHub Actions' claims for the
//!   audience given as the argument, issued now, with the object's claims
//!   put over them (`{"ref": "refs/pull/1/merge"}`);
//! - `none`: the same token with `alg: none` and no signature;
//! - `unknown-kid`: a token signed by a key the issuer never published;
//! - `fetches`: how many times its discovery document and JWKS were read.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, Write};

use serde_json::{json, Value};
use tron_oidc::testing::{KeyKind, Signer, TestIssuer};

#[tokio::main]
async fn main() {
    let audience = std::env::args().nth(1).unwrap_or_else(|| "tron".to_owned());
    let issuer = TestIssuer::start().await.expect("start the issuer");
    println!("{}", issuer.issuer());
    std::io::stdout().flush().expect("flush");
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line.expect("read stdin");
        let claims = || issuer.github_claims(&audience, chrono::Utc::now());
        let out = match line.trim() {
            "fetches" => format!(
                "discovery {} jwks {}",
                issuer.discovery_fetches(),
                issuer.jwks_fetches()
            ),
            "none" => issuer.sign_with(
                &json!({"alg": "none", "typ": "JWT", "kid": issuer.rsa_kid()}),
                Signer::Unsigned,
                &claims(),
            ),
            "unknown-kid" => {
                let kid = issuer.unpublished_key(KeyKind::Rsa);
                issuer.sign_with(
                    &json!({"alg": "RS256", "typ": "JWT", "kid": kid}),
                    Signer::Rsa(kid.clone()),
                    &claims(),
                )
            }
            text => {
                let mut c = claims();
                if let Ok(Value::Object(edits)) = serde_json::from_str(text) {
                    for (k, v) in edits {
                        c[k] = v;
                    }
                }
                issuer.sign(&c)
            }
        };
        println!("{out}");
        std::io::stdout().flush().expect("flush");
    }
}
