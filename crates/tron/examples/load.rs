//! A small closed-loop load generator for `scripts/bench`: N concurrent
//! connections send GET requests for a fixed time; prints requests/s and
//! latency percentiles as one JSON line.
//!
//! cargo run --release --example load -- URL [TOKEN] [CONCURRENCY] [SECONDS]
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8080/healthz".into());
    let token = args.get(2).cloned().filter(|t| !t.is_empty() && t != "-");
    // Parsed and formatted once: the generator's own work per request
    // should be as small as possible, and the same for every target.
    let url: reqwest::Url = match url.parse() {
        Ok(u) => u,
        Err(e) => {
            eprintln!("load: bad URL {url}: {e}");
            std::process::exit(2);
        }
    };
    let auth = token.as_ref().and_then(|t| {
        let mut v = reqwest::header::HeaderValue::from_str(&format!("Bearer {t}")).ok()?;
        v.set_sensitive(true);
        Some(v)
    });
    let concurrency: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(16);
    let seconds: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(10);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap_or_default();
    // Warm-up: connections and caches.
    let request = |client: &reqwest::Client| {
        let req = client.get(url.clone());
        match &auth {
            Some(v) => req.header(reqwest::header::AUTHORIZATION, v.clone()),
            None => req,
        }
    };
    for _ in 0..concurrency {
        let _ = request(&client).send().await.map(|r| r.status());
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, auth) = (client.clone(), url.clone(), auth.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(100_000);
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let start = Instant::now();
                let mut req = client.get(url.clone());
                if let Some(v) = &auth {
                    req = req.header(reqwest::header::AUTHORIZATION, v.clone());
                }
                match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        lat.push(start.elapsed().as_micros() as u64);
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((lat, e)) = t.await {
            all.extend(lat);
            errors += e;
        }
    }
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "{{\"requests\": {}, \"errors\": {}, \"rps\": {:.0}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}}}",
        all.len(),
        errors,
        all.len() as f64 / seconds as f64,
        pct(0.50) as f64 / 1000.0,
        pct(0.99) as f64 / 1000.0
    );
}
