use super::*;

const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
        .into_bytes()
}

fn good() -> Vec<(&'static str, &'static str)> {
    vec![
        ("grant_type", GRANT_TYPE),
        ("subject_token", JWT),
        ("subject_token_type", TOKEN_TYPE_ID_TOKEN),
        ("service_account", "sa_1"),
    ]
}

#[test]
fn parses_form_and_json() {
    let r = ExchangeRequest::from_form(&form(&good())).unwrap();
    assert_eq!(r.subject_token, JWT);
    assert_eq!(r.subject_token_type, SubjectTokenType::IdToken);
    assert_eq!(r.service_account, "sa_1");
    let mut p = good();
    p[2].1 = TOKEN_TYPE_JWT;
    p.push(("requested_token_type", TOKEN_TYPE_ACCESS_TOKEN));
    p.push(("scope", "ignored"));
    let r = ExchangeRequest::from_form(&form(&p)).unwrap();
    assert_eq!(r.subject_token_type, SubjectTokenType::Jwt);
    let json = serde_json::json!({
        "grant_type": GRANT_TYPE, "subject_token": JWT,
        "subject_token_type": TOKEN_TYPE_ID_TOKEN, "service_account": "sa_1", "extra": 5
    });
    assert_eq!(
        ExchangeRequest::from_json(json.to_string().as_bytes()).unwrap(),
        ExchangeRequest::from_form(&form(&good())).unwrap()
    );
}

#[test]
fn refusals_are_invalid_request_or_unsupported_grant_type_and_never_quote_the_token() {
    let cases: Vec<(Vec<u8>, ErrorCode)> = vec![
        (form(&good()[1..]), ErrorCode::InvalidRequest),
        (
            form(&[("grant_type", "password"), ("subject_token", JWT)]),
            ErrorCode::UnsupportedGrantType,
        ),
        (
            form(&[
                good()[0],
                ("subject_token_type", TOKEN_TYPE_ID_TOKEN),
                ("service_account", "s"),
            ]),
            ErrorCode::InvalidRequest,
        ),
        (
            form(&[good()[0], good()[1], ("subject_token_type", JWT), good()[3]]),
            ErrorCode::InvalidRequest,
        ),
        (
            form(&[good()[0], good()[1], good()[2]]),
            ErrorCode::InvalidRequest,
        ),
        (
            form(&[
                good()[0],
                good()[1],
                good()[2],
                good()[3],
                ("requested_token_type", "urn:x"),
            ]),
            ErrorCode::InvalidRequest,
        ),
        (
            form(&[good()[0], good()[1], good()[1], good()[2], good()[3]]),
            ErrorCode::InvalidRequest,
        ),
        (
            form(&[good()[0], ("subject_token", ""), good()[2], good()[3]]),
            ErrorCode::InvalidRequest,
        ),
    ];
    for (body, code) in cases {
        let e = ExchangeRequest::from_form(&body).unwrap_err();
        assert_eq!(e.error, code, "{}", String::from_utf8_lossy(&body));
        assert_eq!(e.status(), 400);
        assert!(!e.error_description.unwrap().contains(JWT));
    }
    for body in [&b"[]"[..], b"not json", b"{\"grant_type\": 5}"] {
        let e = ExchangeRequest::from_json(body).unwrap_err();
        assert_eq!(e.error, ErrorCode::InvalidRequest);
    }
}

#[test]
fn debug_redacts_the_tokens() {
    let r = ExchangeRequest::from_form(&form(&good())).unwrap();
    let shown = format!("{r:?}");
    assert!(
        !shown.contains(JWT) && shown.contains("[redacted]"),
        "{shown}"
    );
    let ok = ExchangeResponse::new("trn_sat_secret".into(), 900);
    assert!(!format!("{ok:?}").contains("trn_sat_secret"));
}

#[test]
fn bodies_are_as_the_spec_writes_them() {
    let ok = ExchangeResponse::new("trn_sat_x".into(), 900);
    assert_eq!(
        serde_json::to_value(&ok).unwrap(),
        serde_json::json!({"access_token": "trn_sat_x", "issued_token_type": TOKEN_TYPE_ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 900})
    );
    let e = OAuthError::from(&Rejection::Expired);
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        serde_json::json!({"error": "invalid_request", "error_description": "the token has expired"})
    );
    let e = OAuthError::from(&Rejection::KeysUnavailable(crate::FetchError::Timeout));
    assert_eq!(e.status(), 503);
    assert_eq!(
        serde_json::to_value(&e).unwrap()["error"],
        "temporarily_unavailable"
    );
    assert_eq!(
        OAuthError::no_policy_accepts().error_description.as_deref(),
        Some(NO_POLICY_ACCEPTS)
    );
}
