//! The key cache: refreshes, unknown kids, failures, limits.
use crate::keys::{FetchError, KeyCache, KeyCacheConfig, KeyError};
use crate::testing::{JwksReply, KeyKind, Signer, TestIssuer};
use crate::verify::Rejection;
use crate::TrustedIssuers;
use chrono::Duration as D;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tron_core::clock::OffsetClock;

use super::*;

#[tokio::test]
async fn keys_are_refreshed_hourly() {
    let s = setup().await;
    let kid = s.issuer.rsa_kid();
    s.key(&kid).await.unwrap();
    s.clock.advance(D::minutes(59));
    s.key(&kid).await.unwrap();
    assert_eq!(s.issuer.jwks_fetches(), 1);
    s.clock.advance(D::minutes(2));
    s.key(&kid).await.unwrap();
    assert_eq!(s.issuer.jwks_fetches(), 2);
    // A key retired by the issuer is gone after the refresh.
    s.issuer.retire(&kid);
    s.key(&kid).await.unwrap();
    s.clock.advance(D::minutes(61));
    assert_eq!(s.key(&kid).await.unwrap_err(), KeyError::UnknownKid);
}

#[tokio::test]
async fn a_key_rotated_right_after_the_first_fetch_is_picked_up() {
    let s = setup().await;
    s.verify(&s.issuer.sign(&s.claims())).await.unwrap();
    s.issuer.rotate(KeyKind::Rsa);
    // The first fetch does not count towards the once-a-minute refetch.
    s.verify(&s.issuer.sign(&s.claims())).await.unwrap();
    assert_eq!(s.issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_makes_at_most_one_fetch_a_minute() {
    let s = setup().await;
    s.key(&s.issuer.rsa_kid()).await.unwrap();
    for n in 0..100 {
        let kid = format!("unknown-{n}");
        let token = s.issuer.sign_with(
            &json!({"alg": "RS256", "kid": kid}),
            Signer::Rsa(s.issuer.rsa_kid()),
            &s.claims(),
        );
        assert_eq!(s.verify(&token).await.unwrap_err(), Rejection::UnknownKey);
    }
    assert_eq!(
        s.issuer.jwks_fetches(),
        2,
        "the first fetch and one refetch"
    );
    // A new key published during the cooldown waits for the next minute.
    let new = s.issuer.new_key(KeyKind::Ec);
    s.clock.advance(D::seconds(59));
    assert_eq!(s.key(&new).await.unwrap_err(), KeyError::UnknownKid);
    assert_eq!(s.issuer.jwks_fetches(), 2);
    s.clock.advance(D::seconds(1));
    s.key(&new).await.unwrap();
    assert_eq!(s.issuer.jwks_fetches(), 3);
}

/// An unknown `kid` whose refetch fails cannot be told from a key the
/// issuer has just rotated to: the keys are unavailable (503), not the
/// token wrong (400). Before, the answer was "unknown kid".
#[tokio::test]
async fn a_failed_refetch_for_an_unknown_kid_is_unavailable() {
    let s = setup().await;
    s.key(&s.issuer.rsa_kid()).await.unwrap();
    let kid = s.issuer.unpublished_key(KeyKind::Rsa);
    s.issuer.set_jwks_reply(JwksReply::Status(500));
    let token = s.issuer.sign_with(
        &json!({"alg": "RS256", "kid": kid}),
        Signer::Rsa(kid.clone()),
        &s.claims(),
    );
    let e = s.verify(&token).await.unwrap_err();
    assert_eq!(e, Rejection::KeysUnavailable(FetchError::Status(500)));
    assert!(e.is_unavailable());
    assert_eq!(
        s.issuer.jwks_fetches(),
        2,
        "the first fetch and one refetch"
    );
    // Known keys keep working meanwhile.
    s.verify(&s.issuer.sign(&s.claims())).await.unwrap();
}

#[tokio::test]
async fn concurrent_misses_share_one_fetch() {
    let s = Arc::new(setup().await);
    let token = s.issuer.sign(&s.claims());
    let cold: Vec<_> = (0..20)
        .map(|_| {
            let (s, token) = (Arc::clone(&s), token.clone());
            tokio::spawn(async move { s.verify(&token).await.map(|_| ()) })
        })
        .collect();
    for t in cold {
        assert_eq!(t.await.unwrap(), Ok(()));
    }
    assert_eq!(
        (s.issuer.discovery_fetches(), s.issuer.jwks_fetches()),
        (1, 1)
    );
    let kid = s.issuer.unpublished_key(KeyKind::Rsa);
    let token = s.issuer.sign_with(
        &json!({"alg": "RS256", "kid": kid}),
        Signer::Rsa(kid.clone()),
        &s.claims(),
    );
    let misses: Vec<_> = (0..20)
        .map(|_| {
            let (s, token) = (Arc::clone(&s), token.clone());
            tokio::spawn(async move { s.verify(&token).await.map(|_| ()) })
        })
        .collect();
    for t in misses {
        assert_eq!(t.await.unwrap(), Err(Rejection::UnknownKey));
    }
    assert_eq!(s.issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn keys_that_cannot_be_had_are_unavailable_and_not_hammered() {
    let s = setup().await;
    s.issuer.set_jwks_reply(JwksReply::Status(500));
    let token = s.issuer.sign(&s.claims());
    let e = s.verify(&token).await.unwrap_err();
    assert_eq!(e, Rejection::KeysUnavailable(FetchError::Status(500)));
    assert!(e.is_unavailable());
    s.issuer.set_jwks_reply(JwksReply::Keys);
    assert_eq!(
        s.verify(&token).await.unwrap_err(),
        Rejection::KeysUnavailable(FetchError::Status(500))
    );
    assert_eq!(
        s.issuer.jwks_fetches(),
        1,
        "no new attempt within the backoff"
    );
    s.clock.advance(D::seconds(10));
    s.verify(&token).await.unwrap();
    assert_eq!(s.issuer.jwks_fetches(), 2);
    // A failed hourly refresh keeps the keys it had.
    s.issuer.set_discovery_status(Some(503));
    s.clock.advance(D::minutes(61));
    s.verify(&s.issuer.sign(&s.claims())).await.unwrap();
    assert_eq!(s.issuer.discovery_fetches(), 3);
    // … but not for more than a day.
    s.clock.advance(D::hours(24));
    assert_eq!(
        s.verify(&s.issuer.sign(&s.claims())).await.unwrap_err(),
        Rejection::KeysUnavailable(FetchError::Status(503))
    );
}

#[tokio::test]
async fn bad_documents_are_refused_with_a_reason() {
    let s = setup().await;
    let kid = s.issuer.rsa_kid();
    let again = |s: &Setup| s.clock.advance(D::seconds(11));
    s.issuer.set_jwks_reply(JwksReply::Oversize);
    assert_eq!(
        s.key(&kid).await.unwrap_err(),
        KeyError::Unavailable(FetchError::TooLarge)
    );
    s.issuer.set_jwks_reply(JwksReply::Keys);
    again(&s);
    s.issuer
        .set_discovery_issuer(Some("https://gitlab.com".into()));
    assert_eq!(
        s.key(&kid).await.unwrap_err(),
        KeyError::Unavailable(FetchError::IssuerMismatch)
    );
    assert_eq!(
        s.issuer.jwks_fetches(),
        1,
        "no JWKS for a mismatched discovery"
    );
    s.issuer.set_discovery_issuer(None);
    for (uri, want) in [
        ("http://192.0.2.1/jwks", FetchError::BadJwksUri),
        ("file:///etc/passwd", FetchError::BadJwksUri),
    ] {
        again(&s);
        s.issuer.set_jwks_uri(Some(uri.into()));
        assert_eq!(
            s.key(&kid).await.unwrap_err(),
            KeyError::Unavailable(want),
            "{uri}"
        );
    }
    again(&s);
    // A redirect to another host (localhost is not 127.0.0.1) is not followed.
    s.issuer.set_jwks_uri(None);
    s.issuer.set_jwks_reply(JwksReply::Redirect(format!(
        "http://localhost:{}/jwks-moved",
        s.issuer.addr().port()
    )));
    assert_eq!(
        s.key(&kid).await.unwrap_err(),
        KeyError::Unavailable(FetchError::Status(302))
    );
    again(&s);
    s.issuer
        .set_jwks_reply(JwksReply::Redirect("/jwks-moved".into()));
    s.key(&kid).await.unwrap();
    // Oversize, the refused redirect, then /jwks and /jwks-moved: had the
    // redirect to localhost been followed, /jwks-moved would count twice.
    assert_eq!(s.issuer.jwks_fetches(), 4);
}

#[tokio::test]
async fn a_hanging_issuer_times_out() {
    let s = setup_with(KeyCacheConfig {
        timeout: Duration::from_millis(300),
        ..KeyCacheConfig::default()
    })
    .await;
    s.issuer.set_jwks_reply(JwksReply::Hang);
    let kid = s.issuer.rsa_kid();
    assert_eq!(
        s.key(&kid).await.unwrap_err(),
        KeyError::Unavailable(FetchError::Timeout)
    );
}

#[tokio::test]
async fn an_issuer_outside_the_list_is_never_fetched() {
    let s = setup().await;
    let stranger = TestIssuer::start().await.unwrap();
    assert_eq!(
        s.verifier
            .keys()
            .key(&stranger.issuer(), &stranger.rsa_kid())
            .await
            .unwrap_err(),
        KeyError::UntrustedIssuer
    );
    assert_eq!(stranger.discovery_fetches(), 0);
}

#[tokio::test]
async fn zero_durations_do_not_make_a_caller_fetch_forever() {
    let zero = chrono::Duration::zero();
    let s = setup_with(KeyCacheConfig {
        refresh: zero,
        unknown_kid_cooldown: zero,
        failure_backoff: zero,
        ..KeyCacheConfig::default()
    })
    .await;
    s.issuer.set_jwks_reply(JwksReply::Status(500));
    let kid = s.issuer.rsa_kid();
    assert_eq!(
        s.key(&kid).await.unwrap_err(),
        KeyError::Unavailable(FetchError::Status(500))
    );
    assert_eq!(s.issuer.jwks_fetches(), 3);
    s.issuer.set_jwks_reply(JwksReply::Keys);
    assert_eq!(s.key("unknown").await.unwrap_err(), KeyError::UnknownKid);
    assert_eq!(s.issuer.jwks_fetches(), 6);
}

/// An issuer over raw TCP whose JWKS comes chunked, without a length, so
/// that only counting the bytes read can stop it.
async fn chunked_issuer(jwks_bytes: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let issuer = base.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let base = base.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).to_string();
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
                let _ = conn.write_all(head.as_bytes()).await;
                let body = if request.starts_with("GET /.well-known/openid-configuration") {
                    json!({"issuer": base, "jwks_uri": format!("{base}/jwks")}).to_string()
                } else {
                    format!("{{\"keys\": [], \"pad\": \"{}\"}}", "x".repeat(jwks_bytes))
                };
                for piece in body.as_bytes().chunks(8192) {
                    let _ = conn
                        .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                        .await;
                    let _ = conn.write_all(piece).await;
                    let _ = conn.write_all(b"\r\n").await;
                }
                let _ = conn.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    issuer
}

#[tokio::test]
async fn a_document_without_a_length_is_cut_at_256_kib() {
    for (size, want) in [
        (200 * 1024, KeyError::UnknownKid),
        (257 * 1024, KeyError::Unavailable(FetchError::TooLarge)),
    ] {
        let issuer = chunked_issuer(size).await;
        let trusted = TrustedIssuers::parse(Some(&issuer)).unwrap();
        let keys = KeyCache::new(
            trusted,
            Arc::new(OffsetClock::default()),
            KeyCacheConfig::default(),
        )
        .unwrap();
        assert_eq!(keys.key(&issuer, "k").await.unwrap_err(), want, "{size}");
    }
}
