//! Standard Webhooks signatures.
//!
//! The sender puts three headers on each attempt: `webhook-id` (the event id,
//! the same on every retry, for receivers to deduplicate), `webhook-timestamp`
//! (Unix seconds of this attempt) and `webhook-signature: v1,<base64 of
//! HMAC-SHA256(secret bytes, "{id}.{timestamp}.{body}")>`. The receiver
//! recomputes the HMAC over the exact body bytes, compares in constant time
//! with each space-separated `v1,` signature of the header, and refuses a
//! timestamp too far from its clock (replays).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::secret::WebhookSecret;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// How far a receiver lets `webhook-timestamp` be from its clock, either way.
pub const DEFAULT_TOLERANCE: TimeDelta = TimeDelta::minutes(5);

/// Why a request is not a valid signed webhook. Never repeats a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the `{0}` header is missing")]
    MissingHeader(&'static str),
    #[error("`webhook-timestamp` is not Unix seconds")]
    BadTimestamp,
    #[error("`webhook-timestamp` is too old")]
    TooOld,
    #[error("`webhook-timestamp` is in the future")]
    TooNew,
    #[error("no `v1` signature matches")]
    NoMatch,
}

/// `v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`.
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mac = mac(secret, id, &timestamp.to_string(), body);
    format!("v1,{}", STANDARD.encode(mac))
}

/// Checks a request's headers and body as a receiver does, with
/// [`DEFAULT_TOLERANCE`].
pub fn verify(
    secret: &WebhookSecret,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), VerifyError> {
    let (id, timestamp, signatures) = header_parts(headers)?;
    verify_parts(
        secret,
        id,
        timestamp,
        signatures,
        body,
        now,
        DEFAULT_TOLERANCE,
    )
}

/// The values of `webhook-id`, `webhook-timestamp` and `webhook-signature`.
pub(crate) fn header_parts(headers: &HeaderMap) -> Result<(&str, &str, &str), VerifyError> {
    let header = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(VerifyError::MissingHeader(name))
    };
    Ok((
        header(HEADER_ID)?,
        header(HEADER_TIMESTAMP)?,
        header(HEADER_SIGNATURE)?,
    ))
}

/// [`verify`] from the three header values, with a chosen tolerance.
pub fn verify_parts(
    secret: &WebhookSecret,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: TimeDelta,
) -> Result<(), VerifyError> {
    let sent = check_signature(secret, id, timestamp, signatures, body)?;
    let now = now.timestamp();
    let tolerance = tolerance.num_seconds();
    if sent < now.saturating_sub(tolerance) {
        return Err(VerifyError::TooOld);
    }
    if sent > now.saturating_add(tolerance) {
        return Err(VerifyError::TooNew);
    }
    Ok(())
}

/// The signature check without the clock: returns the timestamp signed.
pub(crate) fn check_signature(
    secret: &WebhookSecret,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
) -> Result<i64, VerifyError> {
    let sent = parse_timestamp(timestamp)?;
    let expected = mac(secret, id, timestamp, body);
    let mut matched = subtle::Choice::from(0u8);
    for entry in signatures.split(' ') {
        let Some(("v1", encoded)) = entry.split_once(',') else {
            continue;
        };
        let Ok(given) = STANDARD.decode(encoded) else {
            continue;
        };
        // Every entry is compared: how many fail before a match is not
        // observable either. Different lengths compare unequal.
        matched |= given.ct_eq(&expected[..]);
    }
    if bool::from(matched) {
        Ok(sent)
    } else {
        Err(VerifyError::NoMatch)
    }
}

/// Unix seconds as ASCII digits (Standard Webhooks sends no sign, no
/// fraction); anything else is refused before any HMAC is computed.
fn parse_timestamp(text: &str) -> Result<i64, VerifyError> {
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::BadTimestamp);
    }
    text.parse().map_err(|_| VerifyError::BadTimestamp)
}

fn mac(secret: &WebhookSecret, id: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    // The example of the Standard Webhooks specification and of its
    // reference libraries' tests.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn secret() -> WebhookSecret {
        WebhookSecret::parse(SECRET).unwrap()
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    fn headers(id: &str, timestamp: &str, signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HEADER_ID, HeaderValue::from_str(id).unwrap());
        h.insert(HEADER_TIMESTAMP, HeaderValue::from_str(timestamp).unwrap());
        h.insert(HEADER_SIGNATURE, HeaderValue::from_str(signature).unwrap());
        h
    }

    #[test]
    fn signs_the_standard_webhooks_test_vector() {
        assert_eq!(sign(&secret(), ID, TIMESTAMP, BODY), SIGNATURE);
    }

    #[test]
    fn verifies_the_test_vector() {
        let h = headers(ID, &TIMESTAMP.to_string(), SIGNATURE);
        assert_eq!(verify(&secret(), &h, BODY, at(TIMESTAMP)), Ok(()));
        // Within the tolerance either way.
        assert_eq!(verify(&secret(), &h, BODY, at(TIMESTAMP + 300)), Ok(()));
        assert_eq!(verify(&secret(), &h, BODY, at(TIMESTAMP - 300)), Ok(()));
    }

    #[test]
    fn refuses_old_and_future_timestamps() {
        let h = headers(ID, &TIMESTAMP.to_string(), SIGNATURE);
        assert_eq!(
            verify(&secret(), &h, BODY, at(TIMESTAMP + 301)),
            Err(VerifyError::TooOld)
        );
        assert_eq!(
            verify(&secret(), &h, BODY, at(TIMESTAMP - 301)),
            Err(VerifyError::TooNew)
        );
        let tight = verify_parts(
            &secret(),
            ID,
            &TIMESTAMP.to_string(),
            SIGNATURE,
            BODY,
            at(TIMESTAMP + 2),
            TimeDelta::seconds(1),
        );
        assert_eq!(tight, Err(VerifyError::TooOld));
    }

    #[test]
    fn refuses_tampering() {
        let ts = TIMESTAMP.to_string();
        let now = at(TIMESTAMP);
        let s = secret();
        // Another body, id, timestamp (re-signed timestamps are the replay
        // defence), secret, signature.
        let h = headers(ID, &ts, SIGNATURE);
        assert_eq!(
            verify(&s, &h, br#"{"test": 2432232315}"#, now),
            Err(VerifyError::NoMatch)
        );
        let h = headers("msg_other", &ts, SIGNATURE);
        assert_eq!(verify(&s, &h, BODY, now), Err(VerifyError::NoMatch));
        let h = headers(ID, "1614265331", SIGNATURE);
        assert_eq!(verify(&s, &h, BODY, now), Err(VerifyError::NoMatch));
        let other = WebhookSecret::generate();
        let h = headers(ID, &ts, SIGNATURE);
        assert_eq!(verify(&other, &h, BODY, now), Err(VerifyError::NoMatch));
        for bad in [
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=",
            "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1O",
            "v1,",
            "v1,not base64",
            "",
        ] {
            let h = headers(ID, &ts, bad);
            assert_eq!(
                verify(&s, &h, BODY, now),
                Err(VerifyError::NoMatch),
                "{bad}"
            );
        }
    }

    #[test]
    fn accepts_any_of_several_signatures() {
        let ts = TIMESTAMP.to_string();
        let now = at(TIMESTAMP);
        for header in [
            format!("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {SIGNATURE}"),
            format!("{SIGNATURE} v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="),
            format!("v1a,whatever {SIGNATURE} v2,abc"),
        ] {
            let h = headers(ID, &ts, &header);
            assert_eq!(verify(&secret(), &h, BODY, now), Ok(()), "{header}");
        }
    }

    #[test]
    fn refuses_missing_headers_and_bad_timestamps() {
        let ts = TIMESTAMP.to_string();
        let now = at(TIMESTAMP);
        for name in [HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE] {
            let mut h = headers(ID, &ts, SIGNATURE);
            h.remove(name);
            assert_eq!(
                verify(&secret(), &h, BODY, now),
                Err(VerifyError::MissingHeader(name))
            );
        }
        for bad in [
            "",
            "-1614265330",
            "+1614265330",
            "1614265330.0",
            " 1614265330",
            "99999999999999999999",
        ] {
            let h = headers(ID, bad, SIGNATURE);
            assert_eq!(
                verify(&secret(), &h, BODY, now),
                Err(VerifyError::BadTimestamp),
                "{bad:?}"
            );
        }
    }
}
