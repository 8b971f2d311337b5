//! Limits shared by every instance, counted in Redis (`TRON_REDIS_URL`):
//! the per-token GCRA and the sliding windows of the throttles, each one
//! server-side Lua script, so one check is one round trip and atomic
//! across instances.
//!
//! Invariants: keys never hold a token or its hash, only token ids and
//! HMACs (keyed by the server secret) of the throttles' keys (addresses,
//! emails); a call that takes longer than [`CALL_TIMEOUT`] or fails is
//! answered by the instance's own limiters, which count every request
//! all along. Redis being unreachable is logged once when it happens and
//! once when it is back, never per request, and when it flaps at most once
//! a minute for each kind of change ([`crate::flap`]); while it is down one
//! call a second tries it again.
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use prometheus::{IntCounter, IntGauge};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use sha2::Sha256;
use tron_core::clock::Clock;
use tron_core::ids::TokenId;
use tron_core::token::ServerSecret;

use crate::flap::{FlapDamper, FLAP_WINDOW};
use crate::metrics::Metrics;
use crate::ratelimit::RateInfo;

/// How long one call to Redis may take before the local limiters answer.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// While Redis is down, how often a request tries it again.
pub const RETRY_EVERY: Duration = Duration::from_secs(1);
/// An attempt under way longer than this was cut short (its instance
/// died): it still counts, but no longer makes others wait only a moment.
const IN_FLIGHT_GRACE_MS: i64 = 30_000;

/// The GCRA of one token: the theoretical arrival time, in microseconds
/// (a double holds them exactly), is the whole state.
const GCRA: &str = r"
local now = tonumber(ARGV[1])
local t = tonumber(ARGV[2])
local tau = t * tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + t
local over = new_tat - now - tau
if over > 0 then
  return {0, 0, math.ceil(over)}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return {1, math.floor((tau - (new_tat - now)) / t + 1e-6), 0}
";

/// A sliding window: KEYS[1] holds every counted attempt (member, time in
/// ms), KEYS[2] those still under way. Answers -1 when the attempt is
/// counted, else the milliseconds to wait.
const WINDOW: &str = r"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local grace = tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - grace)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  if ARGV[5] == '1' then
    redis.call('ZADD', KEYS[2], now, ARGV[4])
    redis.call('PEXPIRE', KEYS[2], grace)
  end
  return -1
end
if redis.call('ZCARD', KEYS[2]) > 0 then return 0 end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(0, tonumber(oldest[2]) + window - now)
";

/// How an attempt held by [`SharedLimits::window`] ends.
const FINISH: &str = r"
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] == '0' then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
";

const UNKNOWN: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

/// Whether Redis answers, as last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisHealth {
    Up,
    Down,
}

pub struct SharedLimits {
    conn: ConnectionManager,
    prefix: String,
    key_hmac: Hmac<Sha256>,
    gcra: Script,
    window: Script,
    finish: Script,
    state: AtomicU8,
    /// While down: when a call may try Redis again.
    retry_at: Mutex<Instant>,
    up_gauge: IntGauge,
    fallbacks: IntCounter,
    clock: Arc<dyn Clock>,
    damper: Mutex<FlapDamper>,
    /// Whether the damper owes a line (read without its lock).
    owed: AtomicBool,
}

/// An attempt counted in Redis, to be finished with
/// [`SharedLimits::finish`].
pub struct SharedSlot {
    keys: [String; 2],
    member: String,
}

/// A window's counted attempt: [`Window::Counted`] with its slot when the
/// attempt is still under way.
pub enum Window {
    Counted(Option<SharedSlot>),
    Full { retry_after_secs: u64 },
}

impl SharedLimits {
    /// No connection is made here: the first check makes it.
    pub fn new(
        client: redis::Client,
        prefix: &str,
        secret: &ServerSecret,
        metrics: &Metrics,
        clock: Arc<dyn Clock>,
    ) -> redis::RedisResult<Self> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(100));
        let conn = ConnectionManager::new_lazy_with_config(client, config)?;
        let (up_gauge, fallbacks) = metrics.redis();
        let key_hmac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        Ok(SharedLimits {
            conn,
            prefix: prefix.to_owned(),
            key_hmac,
            gcra: Script::new(GCRA),
            window: Script::new(WINDOW),
            finish: Script::new(FINISH),
            state: AtomicU8::new(UNKNOWN),
            retry_at: Mutex::new(Instant::now()),
            up_gauge,
            fallbacks,
            clock,
            damper: Mutex::new(FlapDamper::new(FLAP_WINDOW)),
            owed: AtomicBool::new(false),
        })
    }

    pub fn health(&self) -> RedisHealth {
        match self.state.load(Ordering::Relaxed) {
            UP => RedisHealth::Up,
            _ => RedisHealth::Down,
        }
    }

    /// A `PING` (for `/readyz`), tried even while Redis is down.
    pub async fn probe(&self) -> RedisHealth {
        let mut conn = self.conn.clone();
        let ping = redis::cmd("PING");
        let result =
            tokio::time::timeout(CALL_TIMEOUT, ping.query_async::<String>(&mut conn)).await;
        self.note(failure(result).err());
        self.health()
    }

    /// Counts one request of `token` against `per_minute` (burst of the
    /// same size); `None` when Redis did not answer.
    pub async fn gcra(
        &self,
        token: TokenId,
        per_minute: u32,
        now: DateTime<Utc>,
    ) -> Option<RateInfo> {
        let n = per_minute.max(1);
        let emission_us = 60_000_000.0 / f64::from(n);
        let mut call = self.gcra.prepare_invoke();
        call.key(format!("{}gcra:{}:{n}", self.prefix, token.0))
            .arg(now.timestamp_micros())
            .arg(emission_us)
            .arg(n);
        let (allowed, remaining, wait_us): (i64, i64, i64) = self.run(call).await?;
        let remaining = u32::try_from(remaining.max(0)).unwrap_or(0).min(n);
        let per_cell = 60.0 / f64::from(n);
        Some(if allowed == 1 {
            let used = n.saturating_sub(remaining);
            RateInfo {
                limit: n,
                remaining,
                reset: (f64::from(used) * per_cell).ceil() as u64,
                retry_after: None,
            }
        } else {
            RateInfo {
                limit: n,
                remaining: 0,
                reset: (f64::from(n) * per_cell).ceil() as u64,
                retry_after: Some((wait_us.max(0) as u64).div_ceil(1_000_000).max(1)),
            }
        })
    }

    /// Counts an attempt on `key` of the throttle `name` unless the window
    /// is full; `hold` keeps it marked as under way until
    /// [`SharedLimits::finish`]. `None` when Redis did not answer.
    pub async fn window(
        &self,
        name: &str,
        key: &str,
        spec: (chrono::Duration, usize),
        hold: bool,
        now: DateTime<Utc>,
    ) -> Option<Window> {
        let (window, limit) = spec;
        let keys = self.window_keys(name, key);
        let member = uuid::Uuid::new_v4().simple().to_string();
        let mut call = self.window.prepare_invoke();
        call.key(&keys[0])
            .key(&keys[1])
            .arg(now.timestamp_millis())
            .arg(window.num_milliseconds().max(1))
            .arg(limit)
            .arg(&member)
            .arg(if hold { "1" } else { "0" })
            .arg(IN_FLIGHT_GRACE_MS);
        let wait_ms: i64 = self.run(call).await?;
        Some(if wait_ms < 0 {
            Window::Counted(hold.then_some(SharedSlot { keys, member }))
        } else {
            Window::Full {
                retry_after_secs: (wait_ms as u64).div_ceil(1000).max(1),
            }
        })
    }

    /// Ends an attempt under way: `hit` keeps it counted, otherwise it is
    /// taken back. A slot never finished stays counted.
    pub async fn finish(&self, slot: SharedSlot, hit: bool) {
        let mut call = self.finish.prepare_invoke();
        call.key(&slot.keys[0])
            .key(&slot.keys[1])
            .arg(&slot.member)
            .arg(if hit { "1" } else { "0" });
        let _: Option<i64> = self.run(call).await;
    }

    fn window_keys(&self, name: &str, key: &str) -> [String; 2] {
        let mut mac = self.key_hmac.clone();
        mac.update(name.as_bytes());
        mac.update(b"\0");
        mac.update(key.as_bytes());
        let digest = hex::encode(&mac.finalize().into_bytes()[..16]);
        let base = format!("{}w:{name}:{digest}", self.prefix);
        [format!("{base}:n"), format!("{base}:f")]
    }

    /// Runs one script unless Redis is down and not due for a retry.
    async fn run<T: redis::FromRedisValue>(&self, call: redis::ScriptInvocation<'_>) -> Option<T> {
        if !self.may_try() {
            self.fallbacks.inc();
            return None;
        }
        let mut conn = self.conn.clone();
        let result =
            failure(tokio::time::timeout(CALL_TIMEOUT, call.invoke_async(&mut conn)).await);
        match result {
            Ok(v) => {
                self.note(None);
                Some(v)
            }
            Err(why) => {
                self.note(Some(why));
                self.fallbacks.inc();
                None
            }
        }
    }

    fn may_try(&self) -> bool {
        if self.state.load(Ordering::Relaxed) != DOWN {
            return true;
        }
        let mut at = self.retry_at.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if now < *at {
            return false;
        }
        *at = now + RETRY_EVERY;
        true
    }

    /// Records the outcome of a call (`Some(why)`: it failed). A change
    /// is logged once (damped when Redis flaps: see [`crate::flap`]), and
    /// names only the kind of failure, never the error's text (which may
    /// name the URL and its password).
    fn note(&self, failed: Option<String>) {
        let new = if failed.is_none() { UP } else { DOWN };
        let old = self.state.swap(new, Ordering::Relaxed);
        if old == new {
            if self.owed.load(Ordering::Relaxed) {
                let mut damper = self.damper.lock().unwrap_or_else(|e| e.into_inner());
                let line = damper.steady(new == UP, self.clock.now());
                self.owed.store(damper.owes(), Ordering::Relaxed);
                drop(damper);
                if let Some(suppressed) = line {
                    log_change(failed.as_deref(), suppressed);
                }
            }
            return;
        }
        self.up_gauge.set(i64::from(new == UP));
        if failed.is_some() {
            *self.retry_at.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now() + RETRY_EVERY;
        }
        let mut damper = self.damper.lock().unwrap_or_else(|e| e.into_inner());
        let line = damper.changed(new == UP, self.clock.now());
        self.owed.store(damper.owes(), Ordering::Relaxed);
        drop(damper);
        if let Some(suppressed) = line {
            log_change(failed.as_deref(), suppressed);
        }
    }
}

/// One line for Redis's state: `failed` names the kind of failure;
/// `suppressed` counts the changes not logged since the last line.
fn log_change(failed: Option<&str>, suppressed: u64) {
    match failed {
        None => tracing::info!(
            suppressed_changes = suppressed,
            "Redis answers: limits are counted across instances"
        ),
        Some(why) => tracing::warn!(
            failure = %why,
            suppressed_changes = suppressed,
            "Redis is unreachable: limits are counted per instance until it answers again"
        ),
    }
}

/// A call's value, or what kind of failure it was.
fn failure<T>(r: Result<redis::RedisResult<T>, tokio::time::error::Elapsed>) -> Result<T, String> {
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{:?}", e.kind())),
        Err(_) => Err("timed out".into()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn clock() -> Arc<dyn Clock> {
        Arc::new(tron_core::clock::SystemClock)
    }

    /// Nothing listens on port 1: every call fails at once. The first marks
    /// Redis down; the next ones, within the retry interval, do not even
    /// try, and all of them are fallbacks.
    #[tokio::test]
    async fn an_unreachable_redis_is_a_fallback_not_an_error() {
        let metrics = Metrics::new();
        let secret = ServerSecret::generate();
        let client = redis::Client::open("redis://127.0.0.1:1/").unwrap();
        let shared = SharedLimits::new(client, "t:", &secret, &metrics, clock()).unwrap();
        let token = TokenId::new();
        for _ in 0..5 {
            assert_eq!(shared.gcra(token, 10, Utc::now()).await, None);
        }
        let spec = (chrono::Duration::minutes(1), 3);
        assert!(shared
            .window("login_ip", "10.0.0.1", spec, true, Utc::now())
            .await
            .is_none());
        assert_eq!(shared.health(), RedisHealth::Down);
        assert_eq!(shared.probe().await, RedisHealth::Down);
        let text = metrics.render();
        assert!(text.contains("tron_redis_up 0"), "{text}");
        assert!(text.contains("tron_redis_fallbacks_total 6"), "{text}");
    }

    #[test]
    fn throttle_keys_are_keyed_hashes() {
        let metrics = Metrics::new();
        let secret = ServerSecret::generate();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let client = redis::Client::open("redis://127.0.0.1:1/").unwrap();
        let shared = SharedLimits::new(client, "p:", &secret, &metrics, clock()).unwrap();
        let [n, f] = shared.window_keys("login_email", "ann@example.com");
        assert!(
            n.starts_with("p:w:login_email:") && n.ends_with(":n"),
            "{n}"
        );
        assert!(f.ends_with(":f"), "{f}");
        assert!(!n.contains("ann"), "{n}");
        // Another secret, other keys: the hash cannot be looked up without it.
        let other = SharedLimits::new(
            redis::Client::open("redis://127.0.0.1:1/").unwrap(),
            "p:",
            &ServerSecret::generate(),
            &Metrics::new(),
            clock(),
        )
        .unwrap();
        assert_ne!(other.window_keys("login_email", "ann@example.com")[0], n);
        assert_ne!(shared.window_keys("login_ip", "ann@example.com")[0], n);
    }
}
