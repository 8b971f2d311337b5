//! kill -9 between commit and delivery: pings are queued as fast as the
//! server takes them while it is killed mid-stream, then it is started again
//! on the same database. Every ping the client saw acknowledged (`202`) must
//! reach the receiver, correctly signed — at least once: a delivery whose
//! attempt was in flight at the kill may arrive twice (receivers
//! deduplicate by `webhook-id`).
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tron_webhooks::testing::TestReceiver;
use tron_webhooks::WebhookSecret;

use super::{call, create, fresh_postgres, fresh_sqlite, http, login, ok, Server};

/// A short lease, so that an attempt cut by the kill is retried soon.
const FLAGS: &[&str] = &[
    "--webhook-allow-private",
    "true",
    "--webhook-lease-seconds",
    "15",
];

async fn kill9_between_commit_and_delivery(database_url: &str, label: &str) {
    let rx = TestReceiver::start(WebhookSecret::generate())
        .await
        .expect("receiver");
    let s = Server::start_with(database_url, FLAGS);
    let root = login(&s).await;
    let c = http();
    let org = create(
        &c,
        &s.url("/organizations"),
        &root,
        json!({"name": "drill"}),
    )
    .await;
    let hook = ok(
        &c,
        reqwest::Method::POST,
        &s.url(&format!("/organizations/{org}/webhooks")),
        &root,
        Some(json!({"url": rx.url(), "events": ["ping"]})),
    )
    .await;
    rx.set_secret(WebhookSecret::parse(hook["secret"].as_str().expect("secret")).expect("whsec_"));
    let ping_url = s.url(&format!(
        "/organizations/{org}/webhooks/{}/ping",
        hook["id"].as_str().expect("id")
    ));
    let acked: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let mut pingers = Vec::new();
    for _ in 0..4 {
        let (c, acked, url, root) = (c.clone(), acked.clone(), ping_url.clone(), root.clone());
        let label = label.to_owned();
        pingers.push(tokio::spawn(async move {
            loop {
                match call(&c, reqwest::Method::POST, &url, &root, None).await {
                    Ok((StatusCode::ACCEPTED, body)) => {
                        let id = body["event_id"].as_str().unwrap_or_default().to_owned();
                        acked.lock().expect("lock").insert(id);
                    }
                    Ok((status, body)) => {
                        assert!(
                            !status.is_server_error(),
                            "{label}: a ping answered {status} {body}"
                        );
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    s.kill9();
    for p in pingers {
        let _ = p.await;
    }
    let acked = acked.lock().expect("lock").clone();
    let before_restart = rx.received().len();

    let restarted = Instant::now();
    let _s = Server::start_with(database_url, FLAGS);
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    while restarted.elapsed() < Duration::from_secs(60) {
        got.clear();
        for r in rx.received() {
            assert!(
                r.verified.is_ok(),
                "{label}: a delivery is not signed right"
            );
            *got.entry(r.webhook_id().unwrap_or_default().to_owned())
                .or_default() += 1;
        }
        if acked.iter().all(|id| got.contains_key(id)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let lost: Vec<&String> = acked.iter().filter(|id| !got.contains_key(*id)).collect();
    let twice = got.values().filter(|n| **n > 1).count();
    println!(
        "DRILL webhooks kill-9 {label}: acknowledged {}, delivered before the kill {}, delivered in all {} \
         ({} twice), lost {}, caught up {:.1} s after the restart",
        acked.len(),
        before_restart,
        got.len(),
        twice,
        lost.len(),
        restarted.elapsed().as_secs_f64()
    );
    assert!(acked.len() > 20, "{label}: too few pings to mean anything");
    assert!(
        lost.is_empty(),
        "{label}: acknowledged pings never delivered: {lost:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhooks_survive_kill9_sqlite() {
    let (url, _dir) = fresh_sqlite();
    kill9_between_commit_and_delivery(&url, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhooks_survive_kill9_postgres() {
    kill9_between_commit_and_delivery(&fresh_postgres(), "postgres").await;
}
