//! A local OIDC issuer for trying keyless CI by hand (feature `testing`):
//!
//! ```sh
//! cargo run -p tron-oidc --features testing --example local_issuer -- https://tron.example
//! ```
//!
//! It prints its issuer URL (put it in `TRON_OIDC_ISSUERS`), then one ID
//! token per line read on stdin: GitHub Actions' claims for the audience
//! given as the argument, issued now; a line holding a JSON object
//! overrides claims (`{"ref": "refs/pull/1/merge"}`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, Write};

use tron_oidc::testing::TestIssuer;

#[tokio::main]
async fn main() {
    let audience = std::env::args().nth(1).unwrap_or_else(|| "tron".to_owned());
    let issuer = TestIssuer::start().await.expect("start the issuer");
    println!("{}", issuer.issuer());
    std::io::stdout().flush().expect("flush");
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line.expect("read stdin");
        let mut claims = issuer.github_claims(&audience, chrono::Utc::now());
        if let Ok(serde_json::Value::Object(edits)) = serde_json::from_str(&line) {
            for (k, v) in edits {
                claims[k] = v;
            }
        }
        println!("{}", issuer.sign(&claims));
        std::io::stdout().flush().expect("flush");
    }
}
