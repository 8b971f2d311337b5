//! Webhooks (SPEC §8) end to end, on both backends: CRUD and its audit
//! events, signed deliveries to a local receiver that checks every
//! signature, retries with the injected clock, redelivery with the same
//! `webhook-id`, the expiry scan's thresholds, and two instances on one
//! PostgreSQL database delivering each event once.
use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tron_core::clock::Clock;
use tron_webhooks::testing::{Reply, TestReceiver};
use tron_webhooks::WebhookSecret;

use crate::kit::{o, org_scope, str_of, Db, TestServer};

/// How long a delivery may take to arrive in these tests.
const WAIT: StdDuration = StdDuration::from_secs(10);

macro_rules! webhook_contract {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::start($crate::kit::Db::Sqlite).await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::start($crate::kit::Db::Postgres).await).await
            }
        }
    )*};
}

webhook_contract!(
    webhook_lifecycle,
    pings_and_security_events_are_delivered_signed,
    failed_attempts_are_retried_then_delivered,
    the_expiry_scan_warns_once_at_each_threshold,
);

fn configure(c: &mut tron_server::Config) {
    c.webhook_allow_private = true;
    c.webhook_poll_interval = StdDuration::from_millis(20);
    // The scan is driven by hand (`deliveries::scan`).
    c.expiry_scan_interval = StdDuration::from_secs(3600);
}

async fn start(db: Db) -> TestServer {
    TestServer::start_configured(db, configure).await
}

async fn receiver() -> TestReceiver {
    TestReceiver::start(WebhookSecret::generate())
        .await
        .expect("receiver")
}

/// Creates a webhook to `rx` for `events` and gives `rx` its secret;
/// returns the webhook's id.
async fn hook(s: &TestServer, admin: &str, org: &str, rx: &TestReceiver, events: Value) -> String {
    let (status, body) = s
        .post(
            &o(org, "/webhooks"),
            admin,
            json!({"url": rx.url(), "events": events, "description": "ops"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    rx.set_secret(WebhookSecret::parse(body["secret"].as_str().unwrap()).unwrap());
    str_of(&body["id"])
}

async fn deliveries(s: &TestServer, admin: &str, org: &str, hook: &str) -> Vec<Value> {
    let (status, body) = s
        .get(&o(org, &format!("/webhooks/{hook}/deliveries")), admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

async fn webhook_lifecycle(s: TestServer) {
    let (admin, org) = s.admin_and_org().await;
    let rx = receiver().await;
    let (status, created) = s
        .post(
            &o(&org, "/webhooks"),
            &admin,
            json!({"url": rx.url(), "events": ["service_token.revoked", "service_token.expiring"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = str_of(&created["secret"]);
    assert!(secret.starts_with("whsec_"), "{secret}");
    let mut keys: Vec<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "active",
            "created_at",
            "created_by",
            "description",
            "events",
            "id",
            "secret",
            "url"
        ]
    );
    assert_eq!(created["active"], true);
    assert_eq!(
        created["events"],
        json!(["service_token.expiring", "service_token.revoked"])
    );
    let id = str_of(&created["id"]);
    let one = o(&org, &format!("/webhooks/{id}"));
    let (status, got) = s.get(&one, &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        got.get("secret").is_none(),
        "the secret is shown once: {got}"
    );
    // The secret is not stored in plaintext.
    let stored: String = sqlx::query_scalar::<sqlx::Any, String>("SELECT secret FROM webhooks")
        .fetch_one(&sqlx::AnyPool::connect(&s.database_url).await.unwrap())
        .await
        .unwrap();
    assert!(!stored.contains(&secret[6..]), "stored in plaintext");

    for (body, field) in [
        (json!({"url": "ftp://example.com", "events": ["*"]}), "url"),
        (json!({"url": rx.url(), "events": []}), "events"),
        (json!({"url": rx.url(), "events": ["*", "ping"]}), "events"),
        (json!({"url": rx.url(), "events": ["token.made"]}), "events"),
        (json!({"url": rx.url()}), "events"),
    ] {
        let (status, err) = s.post(&o(&org, "/webhooks"), &admin, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {err}");
        assert_eq!(err["error"]["field"], field, "{body}: {err}");
    }

    let (status, changed) = s
        .patch(&one, &admin, json!({"events": ["*"], "active": false}))
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["events"], json!(["*"]));
    assert_eq!(changed["active"], false);
    let (status, body) = s.post(&format!("{one}/ping"), &admin, json!({})).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "an inactive webhook is not pinged: {body}"
    );
    let (status, rotated) = s
        .post(&format!("{one}/rotate-secret"), &admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rotated}");
    assert_ne!(rotated["secret"], created["secret"]);
    let (status, list) = s.get(&o(&org, "/webhooks"), &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // Admins only, to manage and to view.
    let (editor, _, _) = s
        .member_in_group(&admin, &org, "ed@example.com", "editor", org_scope())
        .await;
    let (status, _) = s.get(&o(&org, "/webhooks"), &editor).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s.get(&format!("{one}/deliveries"), &editor).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _) = s.delete(&one, &admin).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s.get(&one, &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for action in [
        "webhook.create",
        "webhook.update",
        "webhook.rotate_secret",
        "webhook.delete",
    ] {
        let events = s.audit_events_about(&admin, &org, action, &id).await;
        assert_eq!(events.len(), 1, "{action}");
        assert!(
            !events[0].to_string().contains("whsec_"),
            "{action} holds a secret"
        );
    }
}

async fn pings_and_security_events_are_delivered_signed(s: TestServer) {
    let (admin, org) = s.admin_and_org().await;
    let rx = receiver().await;
    let id = hook(&s, &admin, &org, &rx, json!(["*"])).await;
    let (status, queued) = s
        .post(&o(&org, &format!("/webhooks/{id}/ping")), &admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    let got = rx.wait_for(1, WAIT).await.expect("the ping");
    assert!(got[0].verified.is_ok(), "{:?}", got[0].verified);
    assert_eq!(got[0].webhook_id(), queued["event_id"].as_str());
    let ping = got[0].event().unwrap();
    assert_eq!(ping.event_type.as_str(), "ping");
    assert_eq!(ping.organization_id.to_string(), org);

    // A revocation, a disabled account, a deleted one.
    let robot = s.robot(&admin, &org, "deployer", "ci").await;
    let (status, _) = s
        .delete(
            &o(
                &org,
                &format!("/service-accounts/{}/tokens/{}", robot.id, robot.token_id),
            ),
            &admin,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s
        .patch(
            &o(&org, &format!("/service-accounts/{}", robot.id)),
            &admin,
            json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = s
        .delete(&o(&org, &format!("/service-accounts/{}", robot.id)), &admin)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // A leaked token reported.
    let leaked = s.robot(&admin, &org, "leaky", "ci").await;
    let (status, body) = s
        .post(
            "/tokens/revoke-leaked",
            "",
            json!({"tokens": [leaked.token]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let got = rx.wait_for(5, WAIT).await.expect("five deliveries");
    let events: Vec<tron_webhooks::Event> = got.iter().map(|r| r.event().unwrap()).collect();
    for r in &got {
        assert!(r.verified.is_ok(), "{:?}", r.verified);
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            !body.contains(&robot.token) && !body.contains(&leaked.token),
            "{body}"
        );
        assert!(!body.contains("whsec_"), "{body}");
    }
    // Attempts run in parallel: no order between events is promised.
    let mut types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    types.sort();
    assert_eq!(
        types,
        [
            "ping",
            "service_account.deleted",
            "service_account.disabled",
            "service_token.revoked",
            "service_token.revoked"
        ]
    );
    let revoked = |reason: &str| {
        events
            .iter()
            .find(|e| {
                e.event_type.as_str() == "service_token.revoked" && e.data["reason"] == reason
            })
            .unwrap_or_else(|| panic!("no {reason} revocation"))
            .data
            .clone()
    };
    let manual = revoked("manual");
    assert_eq!(manual["token"]["id"], robot.token_id.as_str());
    assert_eq!(
        manual["token"]["hint"],
        &robot.token[robot.token.len() - 4..]
    );
    assert_eq!(manual["service_account"]["name"], "deployer");
    assert_eq!(manual["revoked_by"]["type"], "user");
    let leak = revoked("leak_report");
    assert_eq!(leak["token"]["id"], leaked.token_id.as_str());
    assert_eq!(leak["revoked_by"], Value::Null);

    // The receiver answered; the outcome is recorded just after.
    let mut list = deliveries(&s, &admin, &org, &id).await;
    for _ in 0..500 {
        if list.iter().all(|d| d["status"] == "delivered") {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(20)).await;
        list = deliveries(&s, &admin, &org, &id).await;
    }
    assert_eq!(list.len(), 5);
    for d in &list {
        assert_eq!(d["status"], "delivered", "{d}");
        assert_eq!(d["attempts"], 1);
        assert_eq!(d["last_status_code"], 200);
    }
    // Newest first: the ping was queued first.
    assert_eq!(list[4]["event_type"], "ping");
    let metrics = s
        .http
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("tron_webhook_deliveries_total{outcome=\"delivered\"} 5"),
        "{metrics}"
    );
}

async fn failed_attempts_are_retried_then_delivered(s: TestServer) {
    let (admin, org) = s.admin_and_org().await;
    let rx = receiver().await;
    let id = hook(&s, &admin, &org, &rx, json!(["ping"])).await;
    rx.reply_next(2, Reply::Status(500));
    let (_, queued) = s
        .post(&o(&org, &format!("/webhooks/{id}/ping")), &admin, json!({}))
        .await;
    rx.wait_for(1, WAIT).await.expect("the first attempt");
    let list = until_delivery(&s, &admin, &org, &id, |d| d["attempts"] == 1).await;
    assert_eq!(list["status"], "pending");
    assert_eq!(list["last_status_code"], 500);
    assert!(list["next_attempt_at"].is_string());
    // About 5 s later (with jitter), then about a minute.
    s.advance(Duration::seconds(10));
    rx.wait_for(2, WAIT).await.expect("the second attempt");
    until_delivery(&s, &admin, &org, &id, |d| d["attempts"] == 2).await;
    s.advance(Duration::minutes(2));
    let got = rx.wait_for(3, WAIT).await.expect("the third attempt");
    let d = until_delivery(&s, &admin, &org, &id, |d| d["status"] == "delivered").await;
    assert_eq!(d["attempts"], 3);
    assert_eq!(d["last_status_code"], 200);
    assert_eq!(d["next_attempt_at"], Value::Null);
    let ids: BTreeSet<Option<&str>> = got.iter().map(|r| r.webhook_id()).collect();
    assert_eq!(ids.len(), 1, "every attempt has the same webhook-id");
    assert_eq!(got[0].webhook_id(), queued["event_id"].as_str());

    // A redelivery is a new delivery of the same event.
    let (status, again) = s
        .post(
            &o(
                &org,
                &format!("/webhooks/{id}/deliveries/{}/redeliver", str_of(&d["id"])),
            ),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_eq!(again["event_id"], d["event_id"]);
    let got = rx.wait_for(4, WAIT).await.expect("the redelivery");
    assert_eq!(got[3].webhook_id(), queued["event_id"].as_str());
    assert!(got[3].verified.is_ok());
    assert_eq!(deliveries(&s, &admin, &org, &id).await.len(), 2);

    // Past 24 hours of failures a delivery is failed.
    rx.reply_next(100, Reply::Status(503));
    let (_, queued) = s
        .post(&o(&org, &format!("/webhooks/{id}/ping")), &admin, json!({}))
        .await;
    rx.wait_for(5, WAIT).await.expect("the first attempt");
    s.advance(Duration::hours(25));
    let d = until_delivery(&s, &admin, &org, &id, |d| d["status"] == "failed").await;
    assert_eq!(d["event_id"], queued["event_id"]);
    assert_eq!(d["last_status_code"], 503);
}

/// Polls the newest delivery of `hook` until `done` holds (at most 10 s).
async fn until_delivery(
    s: &TestServer,
    admin: &str,
    org: &str,
    hook: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..500 {
        let list = deliveries(s, admin, org, hook).await;
        if let Some(d) = list.first() {
            if done(d) {
                return d.clone();
            }
        }
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    panic!(
        "the delivery never got there: {:?}",
        deliveries(s, admin, org, hook).await
    );
}

async fn the_expiry_scan_warns_once_at_each_threshold(s: TestServer) {
    let (admin, org) = s.admin_and_org().await;
    let rx = receiver().await;
    hook(
        &s,
        &admin,
        &org,
        &rx,
        json!(["service_token.expiring", "service_token.expired"]),
    )
    .await;
    let (sa, _) = s.service_account(&admin, &org, "deployer").await;
    let now = s.clock.now();
    let (long_id, _) = s
        .service_token(
            &admin,
            &org,
            &sa,
            json!({"name": "long", "expires_at": (now + Duration::days(40)).to_rfc3339()}),
        )
        .await;
    // Created with 10 days left: the 30-day warning was never ahead.
    let (short_id, _) = s
        .service_token(
            &admin,
            &org,
            &sa,
            json!({"name": "short", "expires_at": (now + Duration::days(10)).to_rfc3339()}),
        )
        .await;
    let scan = || tron_server::deliveries::scan(&s.state);
    assert_eq!(scan().await, 0);
    // 9.5 days before the short one's expiry: its 7-day warning is ahead.
    s.advance(Duration::hours(12));
    assert_eq!(scan().await, 0);
    // 6.5 days before the short one's expiry.
    s.advance(Duration::days(3));
    assert_eq!(scan().await, 1);
    rx.wait_for(1, WAIT).await.unwrap();
    assert_eq!(scan().await, 0, "a warning is sent once");
    // 0.5 days before the short one's expiry.
    s.advance(Duration::days(6));
    assert_eq!(scan().await, 1);
    // Past it, and 29.5 days before the long one's.
    s.advance(Duration::days(1));
    assert_eq!(scan().await, 2);
    assert_eq!(scan().await, 0);
    let got = rx.wait_for(4, WAIT).await.unwrap();
    let mut seen: Vec<(String, String, Option<u64>)> = got
        .iter()
        .map(|r| {
            assert!(r.verified.is_ok());
            let e = r.event().unwrap();
            (
                e.event_type.as_str().to_owned(),
                str_of(&e.data["token"]["name"]),
                e.data["days_left"].as_u64(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("service_token.expired".into(), "short".into(), None),
            ("service_token.expiring".into(), "long".into(), Some(30)),
            ("service_token.expiring".into(), "short".into(), Some(1)),
            ("service_token.expiring".into(), "short".into(), Some(7)),
        ]
    );
    let token_ids: BTreeSet<String> = got
        .iter()
        .map(|r| str_of(&r.event().unwrap().data["token"]["id"]))
        .collect();
    assert_eq!(token_ids, BTreeSet::from([long_id, short_id]));
}

/// Two instances on one PostgreSQL database: each event is attempted by
/// one of them, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_deliver_each_event_once() {
    let a = start(Db::Postgres).await;
    let b = TestServer::start_on_configured(Db::Postgres, a.database_url.clone(), None, configure)
        .await;
    let (admin, org) = a.admin_and_org().await;
    let rx = receiver().await;
    let id = hook(&a, &admin, &org, &rx, json!(["ping"])).await;
    let mut queued = BTreeSet::new();
    for i in 0..30 {
        let server = if i % 2 == 0 { &a } else { &b };
        let (status, body) = server
            .post(&o(&org, &format!("/webhooks/{id}/ping")), &admin, json!({}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        queued.insert(str_of(&body["event_id"]));
    }
    let got = rx.wait_for(30, WAIT).await.expect("thirty deliveries");
    // Nothing more comes.
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    let got_all = rx.received();
    assert_eq!(got_all.len(), 30, "a delivery was attempted twice");
    let ids: BTreeSet<String> = got
        .iter()
        .map(|r| r.webhook_id().unwrap().to_owned())
        .collect();
    assert_eq!(ids, queued);
}
