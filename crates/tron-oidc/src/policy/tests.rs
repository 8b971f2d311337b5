use serde_json::json;

use super::*;

fn trusted() -> TrustedIssuers {
    TrustedIssuers::parse(Some(
        "https://token.actions.githubusercontent.com,https://gitlab.com,https://ci.example",
    ))
    .unwrap()
}

fn input<'a>(issuer: &'a str, conditions: &'a Value) -> PolicyInput<'a> {
    PolicyInput {
        issuer,
        audience: "tron",
        conditions,
        token_ttl_seconds: None,
    }
}

fn field(r: Result<TrustPolicy, PolicyError>) -> &'static str {
    r.unwrap_err().field
}

#[test]
fn a_github_policy_pinning_the_owner_id_is_valid_with_the_default_ttl() {
    let c = json!({"repository_owner_id": "123", "ref": "refs/heads/*"});
    let p = TrustPolicy::validate(input(GITHUB_ACTIONS, &c), &trusted()).unwrap();
    assert_eq!(p.token_ttl_seconds, 900);
    assert_eq!(p.conditions.len(), 2);
    let c = json!({"repository_id": "9"});
    assert!(TrustPolicy::validate(input(GITHUB_ACTIONS, &c), &trusted()).is_ok());
    let c = json!({"project_id": "9"});
    assert!(TrustPolicy::validate(input(GITLAB_COM, &c), &trusted()).is_ok());
    let c = json!({"namespace_id": "9", "ref": "main"});
    assert!(TrustPolicy::validate(input(GITLAB_COM, &c), &trusted()).is_ok());
}

#[test]
fn each_rule_names_its_field() {
    let t = trusted();
    let ok = json!({"sub": "repo:x"});
    assert_eq!(
        field(TrustPolicy::validate(
            input("https://evil.example", &ok),
            &t
        )),
        "issuer"
    );
    assert_eq!(
        field(TrustPolicy::validate(input("https://ci.example/", &ok), &t)),
        "issuer"
    );
    for audience in ["", &"a".repeat(256)] {
        let i = PolicyInput {
            audience,
            ..input("https://ci.example", &ok)
        };
        assert_eq!(field(TrustPolicy::validate(i, &t)), "audience");
    }
    let i = PolicyInput {
        audience: &"é".repeat(255),
        ..input("https://ci.example", &ok)
    };
    assert!(
        TrustPolicy::validate(i, &t).is_ok(),
        "255 characters, not bytes"
    );
    let many: serde_json::Map<String, Value> =
        (0..21).map(|n| (format!("c{n}"), json!("x"))).collect();
    let twenty: serde_json::Map<String, Value> =
        (0..20).map(|n| (format!("c{n}"), json!("x"))).collect();
    assert!(TrustPolicy::validate(input("https://ci.example", &Value::Object(twenty)), &t).is_ok());
    for bad in [
        json!({}),
        json!([]),
        json!("sub"),
        Value::Object(many),
        json!({"Sub": "x"}),
        json!({"a-b": "x"}),
        json!({"": "x"}),
        json!({"x".repeat(65): "x"}),
        json!({"sub": ""}),
        json!({"sub": "x".repeat(256)}),
        json!({"sub": 5}),
        json!({"sub": "repo:*", "ref": "*"}),
    ] {
        assert_eq!(
            field(TrustPolicy::validate(input("https://ci.example", &bad), &t)),
            "conditions",
            "{bad}"
        );
    }
    assert!(TrustPolicy::validate(
        input(
            "https://ci.example",
            &json!({"x".repeat(64): "x".repeat(255)})
        ),
        &t
    )
    .is_ok());
    for bad in [
        json!({"repository": "acme/app"}),
        json!({"repository_owner_id": "12*", "repository": "acme/app"}),
        json!({"repository_owner": "acme"}),
    ] {
        assert_eq!(
            field(TrustPolicy::validate(input(GITHUB_ACTIONS, &bad), &t)),
            "conditions",
            "{bad}"
        );
    }
    for bad in [
        json!({"project_path": "acme/app"}),
        json!({"namespace_id": "*", "ref": "main"}),
    ] {
        assert_eq!(
            field(TrustPolicy::validate(input(GITLAB_COM, &bad), &t)),
            "conditions",
            "{bad}"
        );
    }
    let plain = ok_c();
    for (ttl, ok) in [
        (59, false),
        (60, true),
        (3600, true),
        (3601, false),
        (-1, false),
    ] {
        let i = PolicyInput {
            token_ttl_seconds: Some(ttl),
            ..input("https://ci.example", &plain)
        };
        let r = TrustPolicy::validate(i, &t);
        assert_eq!(r.is_ok(), ok, "{ttl}");
        if !ok {
            assert_eq!(field(r), "token_ttl_seconds");
        }
    }
}

fn ok_c() -> Value {
    json!({"sub": "x"})
}

#[test]
fn patterns_match_with_star_as_any_run() {
    let cases = [
        ("main", "main", true),
        ("main", "Main", false),
        ("main", "mainx", false),
        ("refs/heads/*", "refs/heads/", true),
        ("refs/heads/*", "refs/heads/feature/x", true),
        ("refs/heads/*", "refs/tags/v1", false),
        ("*", "", true),
        ("*", "anything", true),
        ("a*b*c", "abc", true),
        ("a*b*c", "a-b-c", true),
        ("a*b*c", "acb", false),
        ("a*a", "a", false),
        ("a*a", "aa", true),
        (
            "*.yml@refs/heads/main",
            "acme/app/.github/workflows/d.yml@refs/heads/main",
            true,
        ),
        ("a**b", "ab", true),
        ("ä*ö", "äxö", true),
    ];
    for (p, v, want) in cases {
        assert_eq!(Pattern(p.into()).matches(v), want, "{p} ~ {v}");
    }
}

#[test]
fn a_pathological_pattern_is_decided_in_linear_time() {
    // A backtracking matcher takes exponential time here; the leftmost
    // piece search makes a single pass.
    let pattern = Pattern(format!("{}b", "*a".repeat(100)));
    let value = "a".repeat(100_000);
    assert!(!pattern.matches(&value));
    assert!(pattern.matches(&format!("{value}b")));
}

fn policy() -> TrustPolicy {
    let c = json!({
        "repository_owner_id": "42",
        "ref": "refs/heads/main",
        "run_attempt": "1",
        "environment": "prod*",
    });
    TrustPolicy::validate(input(GITHUB_ACTIONS, &c), &trusted()).unwrap()
}

#[test]
fn claims_match_on_their_string_form() {
    let p = policy();
    let claims = json!({
        "repository_owner_id": "42",
        "ref": "refs/heads/main",
        "run_attempt": 1,
        "environment": "production",
    });
    assert_eq!(p.check(&json!("tron"), claims.as_object().unwrap()), Ok(()));
    let bools = TrustPolicy::validate(
        input("https://ci.example", &json!({"protected": "true"})),
        &trusted(),
    )
    .unwrap();
    assert_eq!(
        bools.check(
            &json!("tron"),
            json!({"protected": true}).as_object().unwrap()
        ),
        Ok(())
    );
    assert!(bools
        .check(
            &json!("tron"),
            json!({"protected": "True"}).as_object().unwrap()
        )
        .is_err());
}

#[test]
fn a_mismatch_names_the_first_failing_claim_with_wanted_and_seen() {
    let p = policy();
    let check = |claims: Value| {
        p.check(&json!("tron"), claims.as_object().unwrap())
            .unwrap_err()
    };
    // Claim-name order: environment, ref, repository_owner_id, run_attempt.
    let m = check(
        json!({"repository_owner_id": "43", "ref": "refs/heads/dev", "run_attempt": 1, "environment": "staging"}),
    );
    assert_eq!(
        m,
        Mismatch {
            claim: "environment".into(),
            wanted: "prod*".into(),
            seen: Some("staging".into())
        }
    );
    let m = check(
        json!({"repository_owner_id": 43, "ref": "refs/heads/main", "run_attempt": 1, "environment": "prod"}),
    );
    assert_eq!(
        m,
        Mismatch {
            claim: "repository_owner_id".into(),
            wanted: "42".into(),
            seen: Some("43".into())
        }
    );
    let m = check(
        json!({"repository_owner_id": "42", "ref": "refs/heads/main", "environment": "prod"}),
    );
    assert_eq!(
        m,
        Mismatch {
            claim: "run_attempt".into(),
            wanted: "1".into(),
            seen: None
        }
    );
    let m = check(
        json!({"repository_owner_id": "42", "ref": "refs/heads/main", "run_attempt": ["1"], "environment": "prod"}),
    );
    assert_eq!(
        m,
        Mismatch {
            claim: "run_attempt".into(),
            wanted: "1".into(),
            seen: Some("[\"1\"]".into())
        }
    );
    let m = check(
        json!({"repository_owner_id": "42", "ref": null, "run_attempt": "1", "environment": "prod"}),
    );
    assert_eq!(m.claim, "ref");
    let long = "x".repeat(1000);
    let m = check(json!({"environment": long}));
    assert_eq!(m.seen.unwrap().len(), 255);
}

#[test]
fn the_audience_is_one_string_or_a_one_element_array() {
    assert_eq!(check_audience(&json!("tron"), "tron"), Ok(()));
    assert_eq!(check_audience(&json!(["tron"]), "tron"), Ok(()));
    for bad in [
        json!("Tron"),
        json!(["tron", "other"]),
        json!([]),
        json!(5),
        json!(null),
        json!([["tron"]]),
    ] {
        let m = check_audience(&bad, "tron").unwrap_err();
        assert_eq!(m.claim, "aud");
        assert_eq!(m.wanted, "tron");
    }
    let p = policy();
    let claims = json!({"repository_owner_id": "42", "ref": "refs/heads/main", "run_attempt": "1", "environment": "prod"});
    let m = p
        .check(&json!("other"), claims.as_object().unwrap())
        .unwrap_err();
    assert_eq!(
        m,
        Mismatch {
            claim: "aud".into(),
            wanted: "tron".into(),
            seen: Some("other".into())
        }
    );
}
