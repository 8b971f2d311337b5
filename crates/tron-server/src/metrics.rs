//! Prometheus metrics, one registry per server. Labels are route templates
//! (`/api/v1/organizations/{org}`), token kinds and outcomes: never a token,
//! an id or a query string.
use std::collections::HashMap;
use std::sync::RwLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
    TextEncoder,
};

/// The hot-path caches, for [`Metrics::cache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKind {
    Token = 0,
    Access = 1,
    Instance = 2,
}

impl CacheKind {
    const ALL: [CacheKind; 3] = [CacheKind::Token, CacheKind::Access, CacheKind::Instance];

    pub fn as_str(self) -> &'static str {
        match self {
            CacheKind::Token => "token",
            CacheKind::Access => "access",
            CacheKind::Instance => "instance",
        }
    }
}

/// Token kinds whose successful authentications are counted through
/// handles resolved once (the label lookup hashes every label value).
const AUTH_KINDS: [&str; 3] = ["session", "personal", "service"];

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    auth: IntCounterVec,
    rate_limited: IntCounterVec,
    /// `[kind][hit]` children of `cache`, resolved once.
    cache_children: [[IntCounter; 2]; 3],
    /// `[kind]` children of `auth` with the outcome `ok`.
    auth_ok: [IntCounter; 3],
    /// Children of `requests` and `latency` by route template, then method
    /// and status, resolved on a route's first request: a label lookup
    /// hashes every label value, and route templates are long.
    routes: RwLock<HashMap<Box<str>, Vec<RouteChildren>, foldhash::fast::RandomState>>,
    webhook_deliveries: IntCounterVec,
    webhook_queue_depth: prometheus::IntGauge,
    webhook_oldest_pending: prometheus::Gauge,
    /// `[kind]` children of `tron_cache_entries`.
    cache_entries: [prometheus::IntGauge; 3],
}

struct RouteChildren {
    method: &'static str,
    status: u16,
    count: IntCounter,
    latency: Histogram,
}

/// Methods counted by name; any other is `other`, so that clients cannot
/// add label values without end.
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
];

fn method_label(method: &str) -> &'static str {
    METHODS
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("other")
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|_| unreachable!("valid metric"));
    // Registration fails only on duplicate names, which are constants here.
    let _ = registry.register(Box::new(c.clone()));
    c
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = counter(
            &registry,
            "tron_http_requests_total",
            "HTTP requests by route, method and status.",
            &["route", "method", "status"],
        );
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "tron_http_request_duration_seconds",
                "HTTP request latency by route and method.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["route", "method"],
        )
        .unwrap_or_else(|_| unreachable!("valid metric"));
        let _ = registry.register(Box::new(latency.clone()));
        let auth = counter(
            &registry,
            "tron_authentications_total",
            "Authentications by token kind and outcome.",
            &["kind", "outcome"],
        );
        let cache = counter(
            &registry,
            "tron_cache_requests_total",
            "Cache lookups by cache and result (hit or miss).",
            &["cache", "result"],
        );
        let rate_limited = counter(
            &registry,
            "tron_rate_limited_total",
            "Requests refused by a rate limit, by limiter.",
            &["limiter"],
        );
        let cache_children = CacheKind::ALL
            .map(|k| [false, true].map(|hit| cache.with_label_values(&[k.as_str(), result(hit)])));
        let auth_ok = AUTH_KINDS.map(|k| auth.with_label_values(&[k, "ok"]));
        let webhook_deliveries = counter(
            &registry,
            "tron_webhook_deliveries_total",
            "Webhook delivery attempts by outcome (delivered, retry, failed).",
            &["outcome"],
        );
        let webhook_queue_depth = prometheus::IntGauge::new(
            "tron_webhook_queue_depth",
            "Webhook deliveries pending (as of this instance's last look).",
        )
        .unwrap_or_else(|_| unreachable!("valid metric"));
        let _ = registry.register(Box::new(webhook_queue_depth.clone()));
        let webhook_oldest_pending = prometheus::Gauge::new(
            "tron_webhook_oldest_pending_seconds",
            "Age of the oldest pending webhook delivery, 0 when none.",
        )
        .unwrap_or_else(|_| unreachable!("valid metric"));
        let _ = registry.register(Box::new(webhook_oldest_pending.clone()));
        let entries = prometheus::IntGaugeVec::new(
            Opts::new(
                "tron_cache_entries",
                "Entries held by each cache (approximate), as of this scrape.",
            ),
            &["cache"],
        )
        .unwrap_or_else(|_| unreachable!("valid metric"));
        let _ = registry.register(Box::new(entries.clone()));
        let cache_entries = CacheKind::ALL.map(|k| entries.with_label_values(&[k.as_str()]));
        Metrics {
            registry,
            cache_entries,
            requests,
            latency,
            auth,
            rate_limited,
            cache_children,
            auth_ok,
            routes: RwLock::default(),
            webhook_deliveries,
            webhook_queue_depth,
            webhook_oldest_pending,
        }
    }

    /// One request to `route` (a template, or `unmatched`: never a raw
    /// path, which would let clients add label values without end).
    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let method = method_label(method);
        let find = |children: &[RouteChildren]| {
            children
                .iter()
                .find(|c| c.method == method && c.status == status)
                .map(|c| {
                    c.count.inc();
                    c.latency.observe(seconds);
                })
        };
        let seen = self
            .routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(route)
            .and_then(|children| find(children));
        if seen.is_some() {
            return;
        }
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        let children = routes.entry(route.into()).or_default();
        if find(children).is_none() {
            let child = RouteChildren {
                method,
                status,
                count: self
                    .requests
                    .with_label_values(&[route, method, &status.to_string()]),
                latency: self.latency.with_label_values(&[route, method]),
            };
            child.count.inc();
            child.latency.observe(seconds);
            children.push(child);
        }
    }

    pub fn auth(&self, kind: &str, outcome: &str) {
        match AUTH_KINDS.iter().position(|k| *k == kind) {
            Some(i) if outcome == "ok" => self.auth_ok[i].inc(),
            _ => self.auth.with_label_values(&[kind, outcome]).inc(),
        }
    }

    pub fn cache(&self, cache: CacheKind, hit: bool) {
        self.cache_children[cache as usize][usize::from(hit)].inc();
    }

    /// How many entries `cache` holds (set when `/metrics` is scraped).
    pub fn cache_entries(&self, cache: CacheKind, entries: u64) {
        self.cache_entries[cache as usize].set(i64::try_from(entries).unwrap_or(i64::MAX));
    }

    /// One webhook attempt: `delivered`, `retry` or `failed`.
    pub fn webhook_delivery(&self, outcome: &'static str) {
        self.webhook_deliveries.with_label_values(&[outcome]).inc();
    }

    pub fn webhook_queue(&self, depth: i64, oldest_pending_seconds: f64) {
        self.webhook_queue_depth.set(depth);
        self.webhook_oldest_pending.set(oldest_pending_seconds);
    }

    /// `tron_redis_up` and `tron_redis_fallbacks_total`, registered only
    /// when limits are shared through Redis.
    pub fn redis(&self) -> (prometheus::IntGauge, IntCounter) {
        let up = prometheus::IntGauge::new(
            "tron_redis_up",
            "Whether Redis answered this instance's last call (1) or not (0).",
        )
        .unwrap_or_else(|_| unreachable!("valid metric"));
        let _ = self.registry.register(Box::new(up.clone()));
        let fallbacks = IntCounter::new(
            "tron_redis_fallbacks_total",
            "Limit checks answered by this instance's own limiters because Redis did not answer.",
        )
        .unwrap_or_else(|_| unreachable!("valid metric"));
        let _ = self.registry.register(Box::new(fallbacks.clone()));
        (up, fallbacks)
    }

    pub fn rate_limited(&self, limiter: &str) {
        self.rate_limited.with_label_values(&[limiter]).inc();
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

fn result(hit: bool) -> &'static str {
    if hit {
        "hit"
    } else {
        "miss"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_method_and_status() {
        let m = Metrics::new();
        let route = "/api/v1/organizations/{org}";
        m.request(route, "GET", 200, 0.001);
        m.request(route, "GET", 200, 0.001);
        m.request(route, "GET", 404, 0.001);
        m.request(route, "DELETE", 204, 0.001);
        m.request("unmatched", "BREW", 404, 0.001);
        m.request("unmatched", "WHEN", 404, 0.001);
        let text = m.render();
        let count = |labels: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("tron_http_requests_total{{{labels}}} ")))
                .and_then(|l| l.rsplit(' ').next())
                .map(str::to_owned)
        };
        assert_eq!(
            count(r#"method="GET",route="/api/v1/organizations/{org}",status="200""#).as_deref(),
            Some("2")
        );
        assert_eq!(
            count(r#"method="GET",route="/api/v1/organizations/{org}",status="404""#).as_deref(),
            Some("1")
        );
        assert_eq!(
            count(r#"method="DELETE",route="/api/v1/organizations/{org}",status="204""#).as_deref(),
            Some("1")
        );
        // Unknown methods share one label value.
        assert_eq!(
            count(r#"method="other",route="unmatched",status="404""#).as_deref(),
            Some("2")
        );
        assert!(!text.contains("BREW"));
        assert!(text.contains(
            r#"tron_http_request_duration_seconds_count{method="GET",route="/api/v1/organizations/{org}"} 3"#
        ));
    }
}
