//! The planning of a token: rotation windows, replacements, expiry.
use super::*;

fn at(s: &str) -> DateTime<Utc> {
    parse_time(s).unwrap()
}

fn active(expires: &str, rotate: Option<i64>) -> State<'static> {
    State {
        id: string("t1"),
        organization_id: string("o"),
        service_account_id: string("sa"),
        name: string("ci"),
        expires_in_days: Value::Value(30),
        expires_at: string(expires),
        rotate_before_days: rotate.map(Value::Value).unwrap_or(Value::Null),
        token: string("secret"),
        hint: string("abcd"),
        status: string("active"),
        created_at: string("2030-01-01T00:00:00Z"),
        ..Default::default()
    }
}

#[test]
fn rotation_is_due_within_the_window_only() {
    let now = at("2030-01-20T00:00:00Z");
    let exp = Some(at("2030-01-31T00:00:00Z"));
    assert!(!rotation_due(exp, now, None));
    assert!(!rotation_due(exp, now, Some(10)));
    assert!(rotation_due(exp, now, Some(11)));
    assert!(rotation_due(exp, now, Some(30)));
    assert!(!rotation_due(None, now, Some(30)), "no expiry, no rotation");
}

#[test]
fn nothing_changes_outside_the_window_even_when_expired_or_revoked() {
    let now = at("2030-01-20T00:00:00Z");
    let prior = active("2030-01-31T00:00:00Z", Some(5));
    let mut p = prior.clone();
    assert_eq!(
        plan_change(&prior, &mut p, &Value::Null, now),
        Change::Nothing
    );
    assert_eq!(p, prior);
    let revoked = State {
        status: string("revoked"),
        ..prior.clone()
    };
    let mut p = revoked.clone();
    assert_eq!(
        plan_change(&revoked, &mut p, &Value::Null, now),
        Change::Nothing
    );
}

#[test]
fn an_active_token_in_the_window_rotates_in_place() {
    let now = at("2030-01-28T00:00:00Z");
    let prior = active("2030-01-31T00:00:00Z", Some(5));
    let mut p = prior.clone();
    assert_eq!(
        plan_change(&prior, &mut p, &Value::Null, now),
        Change::Rotate
    );
    assert!(p.token.is_unknown() && p.id.is_unknown() && p.expires_at.is_unknown());
}

#[test]
fn an_expired_token_in_the_window_is_replaced() {
    let now = at("2030-02-28T00:00:00Z");
    let prior = State {
        status: string("expired"),
        ..active("2030-01-31T00:00:00Z", Some(5))
    };
    let mut p = prior.clone();
    assert_eq!(
        plan_change(&prior, &mut p, &Value::Null, now),
        Change::Replace(vec!["id"])
    );
}

#[test]
fn arguments_the_api_cannot_change_replace() {
    let now = at("2030-01-01T00:00:00Z");
    let prior = active("2030-01-31T00:00:00Z", None);
    let mut p = State {
        name: string("ci2"),
        ..prior.clone()
    };
    assert_eq!(
        plan_change(&prior, &mut p, &Value::Null, now),
        Change::Replace(vec!["name"])
    );
    let mut p = prior.clone();
    let same = string("2030-01-31T00:00:00+00:00");
    assert_eq!(
        plan_change(&prior, &mut p, &same, now),
        Change::Nothing,
        "same instant"
    );
    let mut p = prior.clone();
    let later = string("2030-03-01T00:00:00Z");
    assert_eq!(
        plan_change(&prior, &mut p, &later, now),
        Change::Replace(vec!["expires_at"])
    );
    let mut p = State {
        rotate_before_days: Value::Value(1),
        grace_period_seconds: Value::Value(60),
        ..prior.clone()
    };
    assert_eq!(
        plan_change(&prior, &mut p, &Value::Null, now),
        Change::Nothing
    );
}

#[test]
fn a_window_as_long_as_the_lifetime_is_refused() {
    assert!(window_error(Some(91), Some(90)).is_some_and(|m| m.contains("(91)")));
    assert!(window_error(Some(90), Some(90)).is_some());
    assert_eq!(window_error(Some(15), Some(90)), None);
    assert_eq!(window_error(None, Some(90)), None);
    assert_eq!(window_error(Some(15), None), None);
}
