//! ID token verification: algorithms, signatures, issuers, time rules.
use crate::testing::{KeyKind, Signer, TestIssuer};
use crate::verify::{Algorithm, Rejection};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Duration as D;
use serde_json::{json, Value};
use tron_core::clock::Clock;

use super::*;

#[tokio::test]
async fn rs256_and_es256_tokens_are_accepted_with_their_claims() {
    let s = setup().await;
    let claims = s.claims();
    let v = s.verify(&s.issuer.sign(&claims)).await.unwrap();
    assert_eq!(v.issuer.as_str(), s.issuer.issuer());
    assert_eq!(v.algorithm, Algorithm::Rs256);
    assert_eq!(v.jti, claims["jti"].as_str().unwrap());
    assert_eq!(v.sub.as_deref(), Some("repo:acme/app:environment:staging"));
    assert_eq!(v.aud, json!("tron"));
    assert_eq!(v.claims["repository_owner_id"], "42");
    assert_eq!(v.expires_at.timestamp(), claims["exp"].as_i64().unwrap());
    let v = s
        .verify(
            &s.issuer
                .sign_es256(&s.issuer.gitlab_claims("tron", s.clock.now())),
        )
        .await
        .unwrap();
    assert_eq!(v.algorithm, Algorithm::Es256);
    assert_eq!(v.claims["project_path"], "acme/app");
    assert_eq!(
        (s.issuer.discovery_fetches(), s.issuer.jwks_fetches()),
        (1, 1),
        "fetched once, then cached"
    );
}

#[tokio::test]
async fn none_hmac_and_algorithm_confusion_are_refused() {
    let s = setup().await;
    let claims = s.claims();
    let rsa = s.issuer.rsa_kid();
    let ec = s.issuer.ec_kid();
    // Warm the cache so that each refusal is about the token.
    s.verify(&s.issuer.sign(&claims)).await.unwrap();
    let cases = [
        (
            json!({"alg": "none", "kid": rsa}),
            Signer::Unsigned,
            Rejection::UnsupportedAlgorithm,
        ),
        (
            json!({"alg": "None", "kid": rsa}),
            Signer::Unsigned,
            Rejection::UnsupportedAlgorithm,
        ),
        (
            json!({"alg": "RS256", "kid": rsa}),
            Signer::Unsigned,
            Rejection::BadSignature,
        ),
        (
            json!({"alg": "HS256", "kid": rsa}),
            Signer::Hmac(s.issuer.jwk(&rsa).unwrap().to_string().into_bytes()),
            Rejection::UnsupportedAlgorithm,
        ),
        (
            json!({"alg": "RS384", "kid": rsa}),
            Signer::Rsa(rsa.clone()),
            Rejection::UnsupportedAlgorithm,
        ),
        (
            json!({"alg": "PS256", "kid": rsa}),
            Signer::Rsa(rsa.clone()),
            Rejection::UnsupportedAlgorithm,
        ),
        (
            json!({"alg": "ES384", "kid": ec}),
            Signer::Ec(ec.clone()),
            Rejection::UnsupportedAlgorithm,
        ),
        // An RSA key named with an EC algorithm, and the other way round.
        (
            json!({"alg": "ES256", "kid": rsa}),
            Signer::Ec(ec.clone()),
            Rejection::KeyMismatch,
        ),
        (
            json!({"alg": "RS256", "kid": ec}),
            Signer::Rsa(rsa.clone()),
            Rejection::KeyMismatch,
        ),
        // Signed by the EC key, header naming the RSA key with RS256.
        (
            json!({"alg": "RS256", "kid": rsa}),
            Signer::Ec(ec.clone()),
            Rejection::BadSignature,
        ),
        (
            json!({"alg": "RS256"}),
            Signer::Rsa(rsa.clone()),
            Rejection::MissingKid,
        ),
        (
            json!({"alg": "RS256", "kid": 5}),
            Signer::Rsa(rsa.clone()),
            Rejection::MissingKid,
        ),
        (
            json!({"alg": "RS256", "kid": rsa, "crit": ["b64"]}),
            Signer::Rsa(rsa.clone()),
            Rejection::Malformed,
        ),
    ];
    for (header, signer, want) in cases {
        let token = s.issuer.sign_with(&header, signer, &claims);
        let got = s.verify(&token).await.unwrap_err();
        assert_eq!(got, want, "{header}");
        let said = got.description();
        assert!(
            token
                .split('.')
                .all(|part| part.is_empty() || !said.contains(part)),
            "{said}"
        );
    }
}

#[tokio::test]
async fn a_key_whose_own_alg_disagrees_with_the_header_is_refused() {
    let s = setup().await;
    let kid = s.issuer.rsa_kid();
    s.issuer.edit_jwk(&kid, "alg", json!("RS512"));
    let token = s.issuer.sign(&s.claims());
    assert_eq!(s.verify(&token).await.unwrap_err(), Rejection::KeyMismatch);
    // Without an alg of its own the key serves RS256.
    let other = s.issuer.new_key(KeyKind::Rsa);
    s.issuer.edit_jwk(&other, "alg", Value::Null);
    s.clock.advance(D::minutes(2));
    let token = s.issuer.sign_with(
        &json!({"alg": "RS256", "kid": other}),
        Signer::Rsa(other.clone()),
        &s.claims(),
    );
    assert!(s.verify(&token).await.is_ok());
}

#[tokio::test]
async fn a_forged_signature_and_garbage_are_refused() {
    let s = setup().await;
    let token = s.issuer.sign(&s.claims());
    let parts: Vec<&str> = token.split('.').collect();
    let mut evil = s.claims();
    evil["repository_owner_id"] = json!("666");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(evil.to_string()),
        parts[2]
    );
    assert_eq!(
        s.verify(&forged).await.unwrap_err(),
        Rejection::BadSignature
    );
    for garbage in [
        "",
        "a.b",
        "a.b.c.d",
        "!!.!!.!!",
        &format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
    ] {
        assert_eq!(
            s.verify(garbage).await.unwrap_err(),
            Rejection::Malformed,
            "{garbage}"
        );
    }
    assert_eq!(
        s.verify(&"a".repeat(20_000)).await.unwrap_err(),
        Rejection::TooLarge
    );
}

#[tokio::test]
async fn an_untrusted_issuer_is_refused_before_anything_is_fetched() {
    let s = setup().await;
    let stranger = TestIssuer::start().await.unwrap();
    let token = stranger.sign(&stranger.github_claims("tron", s.clock.now()));
    assert_eq!(
        s.verify(&token).await.unwrap_err(),
        Rejection::UntrustedIssuer
    );
    // A token claiming the trusted issuer's name with a path variant.
    let mut claims = s.claims();
    claims["iss"] = json!(format!("{}/", s.issuer.issuer()));
    assert_eq!(
        s.verify(&s.issuer.sign(&claims)).await.unwrap_err(),
        Rejection::UntrustedIssuer
    );
    claims["iss"] = json!(5);
    assert_eq!(
        s.verify(&s.issuer.sign(&claims)).await.unwrap_err(),
        Rejection::InvalidClaim("iss")
    );
    assert_eq!(
        (stranger.discovery_fetches(), stranger.jwks_fetches()),
        (0, 0)
    );
    assert_eq!(
        (s.issuer.discovery_fetches(), s.issuer.jwks_fetches()),
        (0, 0)
    );
}

#[tokio::test]
async fn time_rules_hold_with_30_seconds_of_leeway() {
    let s = setup().await;
    let now = s.clock.now().timestamp();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = s.claims();
        f(&mut c);
        s.issuer.sign(&c)
    };
    let cases: Vec<(String, Result<(), Rejection>)> = vec![
        (with(&|c| c["exp"] = json!(now - 29)), Ok(())),
        (
            with(&|c| c["exp"] = json!(now - 31)),
            Err(Rejection::Expired),
        ),
        (with(&|c| c["nbf"] = json!(now + 29)), Ok(())),
        (
            with(&|c| c["nbf"] = json!(now + 31)),
            Err(Rejection::NotYetValid),
        ),
        (with(&|c| c["iat"] = json!(now + 29)), Ok(())),
        (
            with(&|c| c["iat"] = json!(now + 31)),
            Err(Rejection::IssuedInFuture),
        ),
        (
            with(&|c| {
                c["iat"] = json!(now - 10);
                c["exp"] = json!(now - 10 + 24 * 3600)
            }),
            Ok(()),
        ),
        (
            with(&|c| {
                c["iat"] = json!(now - 10);
                c["exp"] = json!(now - 9 + 24 * 3600)
            }),
            Err(Rejection::LifetimeTooLong),
        ),
        (with(&|c| c["exp"] = json!((now + 60) as f64 + 0.5)), Ok(())),
        (
            with(&|c| c["exp"] = json!("soon")),
            Err(Rejection::InvalidClaim("exp")),
        ),
        (
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
            Err(Rejection::MissingClaim("exp")),
        ),
        (
            with(&|c| {
                c.as_object_mut().unwrap().remove("iat");
            }),
            Err(Rejection::MissingClaim("iat")),
        ),
        (
            with(&|c| {
                c.as_object_mut().unwrap().remove("nbf");
            }),
            Ok(()),
        ),
        (
            with(&|c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
            Err(Rejection::MissingClaim("jti")),
        ),
        (
            with(&|c| c["jti"] = json!("")),
            Err(Rejection::InvalidClaim("jti")),
        ),
        (
            with(&|c| {
                c.as_object_mut().unwrap().remove("aud");
            }),
            Err(Rejection::MissingClaim("aud")),
        ),
    ];
    for (i, (token, want)) in cases.into_iter().enumerate() {
        assert_eq!(s.verify(&token).await.map(|_| ()), want, "case {i}");
    }
    // The same token, later on the injected clock.
    let token = s.issuer.sign(&s.claims());
    assert!(s.verify(&token).await.is_ok());
    s.clock.advance(D::seconds(300 + 29));
    assert!(s.verify(&token).await.is_ok());
    s.clock.advance(D::seconds(2));
    assert_eq!(s.verify(&token).await.unwrap_err(), Rejection::Expired);
}
