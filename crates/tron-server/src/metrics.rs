//! Prometheus metrics, one registry per server. Labels are route templates
//! (`/api/v1/organizations/{org}`), token kinds and outcomes: never a token,
//! an id or a query string.
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
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
        Metrics {
            registry,
            requests,
            latency,
            auth,
            rate_limited,
            cache_children,
            auth_ok,
        }
    }

    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[route, method])
            .observe(seconds);
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
