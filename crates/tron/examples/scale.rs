//! The measuring half of `scripts/bench-scale`, against a seeded server
//! (`tron admin seed`): cold token resolution with tokens the server has
//! never seen, the audit log's filters, and list endpoints paged to the
//! end. Prints one JSON line per measurement.
//!
//! cargo run --release --example scale -- BASE ADMIN_TOKEN TOKENS_FILE [COLD_SAMPLES]
//! cargo run --release --example scale -- warm BASE TOKENS_FILE [CONCURRENCY]
//! cargo run --release --example scale -- big BASE ADMIN_TOKEN [ORG|newest] [SAMPLES]
//!
//! `warm` presents every token of the file once (`GET /me`, over
//! CONCURRENCY connections), so that the server holds that many principals
//! in its caches; the script then reads its RSS. `big` times the audit
//! filters in one organization with millions of events.
use std::time::{Duration, Instant};

use serde_json::{json, Value};

struct Sample(Vec<Duration>);

impl Sample {
    fn summary(mut self, what: &str, extra: Value) -> Value {
        self.0.sort();
        let n = self.0.len();
        let at = |q: f64| {
            if n == 0 {
                0.0
            } else {
                self.0[((n as f64 * q) as usize).min(n - 1)].as_secs_f64() * 1000.0
            }
        };
        let mut v = json!({
            "what": what, "samples": n,
            "p50_ms": round(at(0.50)), "p99_ms": round(at(0.99)), "max_ms": round(at(1.0)),
        });
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        v
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

async fn get(c: &reqwest::Client, url: &str, token: &str) -> (u16, Value, Duration) {
    let t = Instant::now();
    let resp = c.get(url).bearer_auth(token).send().await;
    let Ok(resp) = resp else {
        return (0, Value::Null, t.elapsed());
    };
    let status = resp.status().as_u16();
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, body, t.elapsed())
}

/// Pages `url` to the end; the time of each page.
async fn walk(c: &reqwest::Client, url: &str, token: &str) -> (usize, Sample, Vec<Value>) {
    let mut times = Vec::new();
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if url.contains('?') { '&' } else { '?' };
        let page = match &cursor {
            Some(cur) => format!("{url}{sep}limit=200&cursor={cur}"),
            None => format!("{url}{sep}limit=200"),
        };
        let (status, body, took) = get(c, &page, token).await;
        times.push(took);
        if status != 200 {
            eprintln!("scale: GET {page}: {status}");
            break;
        }
        items.extend(body["items"].as_array().cloned().unwrap_or_default());
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    (items.len(), Sample(times), items)
}

/// Every token of `file` presented once, `concurrency` at a time.
async fn warm(base: &str, file: &str, concurrency: usize) {
    let tokens: Vec<String> = std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap_or_default();
    let url = format!("{base}/api/v1/me");
    let started = Instant::now();
    let chunk = tokens.len().div_ceil(concurrency.max(1)).max(1);
    let mut tasks = Vec::new();
    for part in tokens.chunks(chunk) {
        let (c, url, part) = (c.clone(), url.clone(), part.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut refused = 0usize;
            for t in &part {
                if get(&c, &url, t).await.0 != 200 {
                    refused += 1;
                }
            }
            refused
        }));
    }
    let mut refused = 0;
    for t in tasks {
        refused += t.await.unwrap_or(0);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "what": "warm: distinct tokens presented once",
            "tokens": tokens.len(), "refused": refused,
            "seconds": round(secs), "per_second": (tokens.len() as f64 / secs).round(),
        })
    );
}

/// The audit filters in one large organization, with values that match
/// much of its log and values that match little or nothing of it (which,
/// without an index of their own, read every event of the organization).
async fn big(base: &str, admin: &str, org: &str, samples: usize) {
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap_or_default();
    let log = format!("{base}/api/v1/organizations/{org}/audit-events");
    let now = chrono::Utc::now();
    let day = |days: i64| {
        (now - chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let nobody = "01a00000-0000-7000-8000-000000000000";
    let filters = [
        ("none (the newest page)", String::new()),
        (
            "action=service_token.* (common)",
            "action=service_token.*".to_owned(),
        ),
        (
            "action=service_account.* (rare)",
            "action=service_account.*".to_owned(),
        ),
        ("action=webhook.* (none)", "action=webhook.*".to_owned()),
        ("actor_id (none)", format!("actor_id={nobody}")),
        (
            "actor_type=service_account (none)",
            "actor_type=service_account".to_owned(),
        ),
        ("target_id (none)", format!("target_id={nobody}")),
        (
            "since/until (one day)",
            format!("since={}&until={}", day(200), day(199)),
        ),
    ];
    for (label, query) in filters {
        let url = format!("{log}?{query}&limit=50");
        let (times, items, refused) = timed(&c, std::iter::repeat_n(url, samples), admin).await;
        println!(
            "{}",
            times.summary(
                &format!("large organization: audit filter {label}"),
                json!({"events_on_page": items.last().copied().unwrap_or(0), "refused": refused})
            )
        );
    }
}

/// Each of `urls` asked once, in turn: the times, the items of each `200`
/// answer, and how many answers were not `200`.
async fn timed(
    c: &reqwest::Client,
    urls: impl IntoIterator<Item = String>,
    token: &str,
) -> (Sample, Vec<usize>, usize) {
    let (mut times, mut items, mut refused) = (Vec::new(), Vec::new(), 0);
    for url in urls {
        let (status, body, took) = get(c, &url, token).await;
        if status == 200 {
            items.push(body["items"].as_array().map_or(0, Vec::len));
        } else {
            refused += 1;
        }
        times.push(took);
    }
    (Sample(times), items, refused)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("big") {
        let (Some(base), Some(admin)) = (args.get(2), args.get(3)) else {
            eprintln!("usage: scale big BASE ADMIN_TOKEN [ORG|newest] [SAMPLES]");
            std::process::exit(2);
        };
        let mut org = args.get(4).cloned().unwrap_or_else(|| "newest".into());
        if org == "newest" {
            // Ids are made in time order, and the list is in id order.
            let c = reqwest::Client::new();
            let (_, _, orgs) =
                walk(&c, &format!("{base}/api/v1/organizations?all=true"), admin).await;
            let Some(last) = orgs.last().and_then(|o| o["id"].as_str()) else {
                eprintln!("scale: no organizations");
                std::process::exit(1);
            };
            org = last.to_owned();
        }
        let samples = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(50);
        return big(base, admin, &org, samples).await;
    }
    if args.get(1).map(String::as_str) == Some("warm") {
        let (Some(base), Some(file)) = (args.get(2), args.get(3)) else {
            eprintln!("usage: scale warm BASE TOKENS_FILE [CONCURRENCY]");
            std::process::exit(2);
        };
        let concurrency = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(16);
        return warm(base, file, concurrency).await;
    }
    let (Some(base), Some(admin), Some(file)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: scale BASE ADMIN_TOKEN TOKENS_FILE [COLD_SAMPLES]");
        std::process::exit(2);
    };
    let cold_samples: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let api = format!("{base}/api/v1");
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap_or_default();
    let tokens: Vec<String> = std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    // Warm the connection (not a token).
    let _ = get(&c, &format!("{base}/healthz"), "-").await;

    // Cold resolution: each token once, never seen by the caches.
    let mut cold = Vec::new();
    let mut refused = 0;
    for t in tokens.iter().take(cold_samples) {
        let (status, _, took) = get(&c, &format!("{api}/me"), t).await;
        if status != 200 {
            refused += 1;
        }
        cold.push(took);
    }
    println!(
        "{}",
        Sample(cold).summary(
            "cold token resolution (GET /me)",
            json!({"refused": refused})
        )
    );

    // Lists paged to the end.
    let (n, times, orgs) = walk(&c, &format!("{api}/organizations?all=true"), admin).await;
    println!(
        "{}",
        times.summary(
            "GET /organizations?all=true, per page of 200",
            json!({"items": n})
        )
    );
    let Some(org) = orgs.first().and_then(|o| o["id"].as_str()) else {
        eprintln!("scale: no organizations");
        std::process::exit(1);
    };
    let (n, times, sas) = walk(
        &c,
        &format!("{api}/organizations/{org}/service-accounts"),
        admin,
    )
    .await;
    println!(
        "{}",
        times.summary(
            "service accounts of one organization, per page",
            json!({"items": n})
        )
    );
    if let Some(sa) = sas.first().and_then(|s| s["id"].as_str()) {
        let (n, times, _) = walk(
            &c,
            &format!("{api}/organizations/{org}/service-accounts/{sa}/tokens"),
            admin,
        )
        .await;
        println!(
            "{}",
            times.summary(
                "tokens of one service account, per page",
                json!({"items": n})
            )
        );
    }
    let (n, times, _) = walk(
        &c,
        &format!("{api}/organizations/{org}/audit-events"),
        admin,
    )
    .await;
    println!(
        "{}",
        times.summary(
            "audit events of one organization, per page",
            json!({"items": n})
        )
    );

    // The audit filters, over many organizations.
    let me = get(&c, &format!("{api}/me"), admin).await.1;
    let actor = me["principal"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let now = chrono::Utc::now();
    let since =
        (now - chrono::Duration::days(200)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let until =
        (now - chrono::Duration::days(199)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let filters = [
        (
            "action=service_token.*",
            "action=service_token.*".to_owned(),
        ),
        ("actor_id", format!("actor_id={actor}")),
        (
            "since/until (one day)",
            format!("since={since}&until={until}"),
        ),
        (
            "action + since",
            format!("action=deployment.*&since={since}"),
        ),
    ];
    for (label, query) in filters {
        let urls = orgs.iter().take(50).map(|o| {
            let id = o["id"].as_str().unwrap_or_default();
            format!("{api}/organizations/{id}/audit-events?{query}&limit=50")
        });
        let (times, items, _) = timed(&c, urls, admin).await;
        println!(
            "{}",
            times.summary(
                &format!("audit filter {label}"),
                json!({"events_found": items.iter().sum::<usize>()})
            )
        );
    }
}
