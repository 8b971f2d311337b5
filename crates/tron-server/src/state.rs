use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use ipnet::IpNet;
use moka::sync::Cache;
use tron_core::clock::{Clock, SystemClock};
use tron_core::ids::TokenId;
use tron_core::token::ServerSecret;
use tron_oidc::{KeyCache, KeyCacheConfig, TrustedIssuers, Verifier};
use tron_store::Store;
use tron_webhooks::{Deliverer, DeliveryConfig, NetworkPolicy, SecretSealer};

use crate::cache::Caches;
use crate::metrics::Metrics;
use crate::password::Passwords;
use crate::ratelimit::TokenLimiter;
use crate::shared::SharedLimits;
use crate::throttle::Throttle;
use crate::usage::UsageRecorder;

/// Run-time settings of the server.
#[derive(Clone)]
pub struct Config {
    pub secret: ServerSecret,
    pub session_ttl: Duration,
    pub trusted_proxies: Vec<IpNet>,
    /// How often buffered `last_used_at` values are written.
    pub usage_flush_interval: StdDuration,
    /// The token and access caches (off only for measurements).
    pub cache_enabled: bool,
    /// The address users reach the server at (`TRON_PUBLIC_URL`); when it
    /// is https, the portal's cookies are `Secure`.
    pub public_url: Option<String>,
    /// How long a client may take to send a request head
    /// (`TRON_HEADER_READ_TIMEOUT_SECONDS`).
    pub header_read_timeout: StdDuration,
    /// Connections one client address may hold at once
    /// (`TRON_MAX_CONNECTIONS_PER_ADDRESS`; trusted proxies are exempt).
    pub max_connections_per_address: usize,
    /// The issuers whose ID tokens the keyless CI exchange accepts
    /// (`TRON_OIDC_ISSUERS`).
    pub oidc_issuers: TrustedIssuers,
    /// Exchanges one client address may make a minute
    /// (`TRON_OIDC_EXCHANGES_PER_MINUTE`).
    pub oidc_exchanges_per_minute: usize,
    /// How the issuers' keys are fetched and cached (tests shorten it).
    pub oidc_keys: KeyCacheConfig,
    /// Webhooks may target `http://` and loopback, private or link-local
    /// addresses (`TRON_WEBHOOK_ALLOW_PRIVATE`).
    pub webhook_allow_private: bool,
    /// How often the expiry scan runs (`TRON_EXPIRY_SCAN_SECONDS`).
    pub expiry_scan_interval: StdDuration,
    /// How often the delivery worker looks for due deliveries when nothing
    /// wakes it.
    pub webhook_poll_interval: StdDuration,
    /// Whether this instance runs the webhook worker and the scan (off in
    /// tests that drive them by hand).
    pub webhook_worker: bool,
    /// How long a claimed delivery stays this instance's: after it (the
    /// instance died mid-attempt) another instance retries. Longer than an
    /// attempt's 10 s timeout.
    pub webhook_lease: StdDuration,
    /// Where limits are counted across instances (`TRON_REDIS_URL`);
    /// `None`: each instance counts its own.
    pub redis: Option<redis::Client>,
    /// Put before every Redis key (tests give each server pair its own).
    pub redis_prefix: String,
    /// How long audit events are kept (`TRON_AUDIT_RETENTION_DAYS`;
    /// `None`: forever).
    pub audit_retention: Option<Duration>,
    /// How long revoked and expired tokens are kept
    /// (`TRON_TOKEN_RETENTION_DAYS`, 90 days; `None`: forever).
    pub token_retention: Option<Duration>,
    /// How often the retention purge runs.
    pub retention_interval: StdDuration,
}

impl Config {
    pub fn new(secret: ServerSecret) -> Self {
        Config {
            secret,
            session_ttl: Duration::hours(12),
            trusted_proxies: Vec::new(),
            usage_flush_interval: StdDuration::from_secs(15),
            cache_enabled: true,
            public_url: None,
            header_read_timeout: StdDuration::from_secs(10),
            max_connections_per_address: 256,
            oidc_issuers: TrustedIssuers::default(),
            oidc_exchanges_per_minute: 300,
            oidc_keys: KeyCacheConfig::default(),
            webhook_allow_private: false,
            expiry_scan_interval: StdDuration::from_secs(60),
            webhook_poll_interval: StdDuration::from_secs(1),
            webhook_worker: true,
            webhook_lease: StdDuration::from_secs(60),
            redis: None,
            redis_prefix: "tron:".into(),
            audit_retention: None,
            token_retention: Some(Duration::days(90)),
            retention_interval: StdDuration::from_secs(3600),
        }
    }
}

pub struct Inner {
    pub store: Store,
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    pub usage: UsageRecorder,
    pub login_by_email: Throttle,
    pub login_by_ip: Throttle,
    pub leaked_by_ip: Throttle,
    /// The argon2 work of requests, bounded.
    pub passwords: Passwords,
    /// When this instance last audited a refused service token.
    pub rejected_logged: Cache<TokenId, chrono::DateTime<chrono::Utc>>,
    pub cache: Arc<Caches>,
    pub metrics: Arc<Metrics>,
    pub limiter: TokenLimiter,
    /// Checks the ID tokens of keyless CI exchanges; `None` when its HTTP
    /// client could not be built (the exchange then answers `503`).
    pub oidc: Option<Verifier>,
    pub exchange_by_ip: Throttle,
    /// The limits' counts across instances, when Redis is configured.
    pub shared: Option<Arc<SharedLimits>>,
    /// Seals webhook secrets at rest (a key derived from the server
    /// secret).
    pub sealer: SecretSealer,
    /// Sends webhook attempts; `None` when its HTTP client could not be
    /// built (deliveries then wait).
    pub deliverer: Option<Deliverer>,
}

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(store: Store, config: Config) -> Self {
        Self::with_clock(store, config, Arc::new(SystemClock))
    }

    pub fn with_clock(store: Store, config: Config, clock: Arc<dyn Clock>) -> Self {
        let metrics = Arc::new(Metrics::new());
        let cache = Arc::new(Caches::new(config.cache_enabled, metrics.clone()));
        let hook_cache = cache.clone();
        let oidc = match KeyCache::new(
            config.oidc_issuers.clone(),
            clock.clone(),
            config.oidc_keys.clone(),
        ) {
            Ok(keys) => Some(Verifier::new(Arc::new(keys))),
            Err(e) => {
                tracing::error!(error = %e, "keyless CI is unavailable: cannot build its HTTP client");
                None
            }
        };
        let network = if config.webhook_allow_private {
            NetworkPolicy::AllowPrivate
        } else {
            NetworkPolicy::PublicOnly
        };
        let deliverer = match Deliverer::new(DeliveryConfig {
            network,
            ..DeliveryConfig::default()
        }) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::error!(error = %e, "webhooks cannot be delivered: cannot build their HTTP client");
                None
            }
        };
        let sealer = SecretSealer::new(config.secret.as_bytes())
            .unwrap_or_else(|_| unreachable!("a server secret is at least 32 bytes"));
        let shared = config.redis.clone().and_then(|client| {
            match SharedLimits::new(
                client,
                &config.redis_prefix,
                &config.secret,
                &metrics,
                clock.clone(),
            ) {
                Ok(s) => Some(Arc::new(s)),
                Err(e) => {
                    tracing::error!(kind = ?e.kind(), "limits are counted per instance: cannot set up Redis");
                    None
                }
            }
        });
        let throttle = |name, window, limit| Throttle::new(name, window, limit, shared.clone());
        let exchange_by_ip = throttle(
            "exchange_ip",
            Duration::minutes(1),
            config.oidc_exchanges_per_minute.max(1),
        );
        let login_by_email = throttle("login_email", Duration::minutes(15), 5);
        let login_by_ip = throttle("login_ip", Duration::minutes(1), 50);
        let leaked_by_ip = throttle("leaked_ip", Duration::minutes(1), 10);
        store.on_invalidate(Arc::new(move |inv| hook_cache.invalidate(inv)));
        AppState(Arc::new(Inner {
            store,
            config,
            clock,
            usage: UsageRecorder::default(),
            login_by_email,
            login_by_ip,
            leaked_by_ip,
            passwords: Passwords::for_this_machine(),
            rejected_logged: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(StdDuration::from_secs(60))
                .build(),
            cache,
            metrics,
            limiter: TokenLimiter::default(),
            oidc,
            exchange_by_ip,
            shared,
            sealer,
            deliverer,
        }))
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}
