//! docs/keyless-ci.md says what the code does: every refusal's description
//! is in its table, and its example policy and condition presets validate.

use serde_json::Value;
use tron_oidc::policy::{PolicyInput, TrustPolicy};
use tron_oidc::{FetchError, Rejection, TrustedIssuers};

fn doc() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/keyless-ci.md"
    ))
    .unwrap()
}

#[test]
fn every_refusal_is_explained() {
    let doc = doc();
    let plain = [
        Rejection::Malformed,
        Rejection::TooLarge,
        Rejection::UnsupportedAlgorithm,
        Rejection::MissingKid,
        Rejection::UntrustedIssuer,
        Rejection::UnknownKey,
        Rejection::KeyMismatch,
        Rejection::BadSignature,
        Rejection::Expired,
        Rejection::LifetimeTooLong,
    ];
    for r in plain {
        assert!(doc.contains(&format!("| {} |", r.description())), "{r:?}");
    }
    assert!(doc.contains(&Rejection::MissingClaim("X").description()));
    assert!(doc.contains(&Rejection::InvalidClaim("X").description()));
    let nbf = Rejection::NotYetValid.description();
    let iat = Rejection::IssuedInFuture.description();
    let iat_tail = iat.trim_start_matches("the token ");
    assert!(
        doc.contains(&format!("| {nbf} / {iat_tail} |")),
        "{nbf} / {iat_tail}"
    );
    assert!(doc.contains(&format!("| {} |", tron_oidc::wire::NO_POLICY_ACCEPTS)));
    assert!(Rejection::KeysUnavailable(FetchError::Timeout).is_unavailable());
    assert!(doc.contains("503 {\"error\": \"temporarily_unavailable\"}"));
}

#[test]
fn the_examples_validate() {
    let doc = doc();
    let trusted = TrustedIssuers::parse(None).unwrap();
    let start = doc.find("```json\n").unwrap() + 8;
    let end = start + doc[start..].find("```").unwrap();
    let policy: Value = serde_json::from_str(&doc[start..end]).unwrap();
    let input = PolicyInput {
        issuer: policy["issuer"].as_str().unwrap(),
        audience: policy["audience"].as_str().unwrap(),
        conditions: &policy["conditions"],
        token_ttl_seconds: policy["token_ttl_seconds"].as_i64(),
    };
    TrustPolicy::validate(input, &trusted).unwrap();
    // The preset tables: GitHub's rows first, then GitLab's.
    let gitlab_at = doc.find("### GitLab CI").unwrap();
    let mut seen = 0;
    for (at, _) in doc.match_indices("| `{") {
        let row = &doc[at + 3..];
        let json = &row[..row.find("}` |").unwrap() + 1];
        let conditions: Value = serde_json::from_str(json).unwrap();
        let issuer = if at < gitlab_at {
            tron_oidc::issuers::GITHUB_ACTIONS
        } else {
            tron_oidc::issuers::GITLAB_COM
        };
        let input = PolicyInput {
            issuer,
            audience: "https://tron.example.com",
            conditions: &conditions,
            token_ttl_seconds: None,
        };
        TrustPolicy::validate(input, &trusted).unwrap_or_else(|e| panic!("{json}: {e}"));
        seen += 1;
    }
    assert_eq!(seen, 6);
}
