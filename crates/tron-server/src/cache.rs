//! The hot-path caches: token hash → resolved token, (organization,
//! principal) → organization and membership, and (organization,
//! application, environment) → the instance's JSON (the read behind the
//! most frequent automation call, `GET …/instances/{env}`).
//!
//! Invariant: a cached answer never outlives the change that invalidates it.
//! Every committed change publishes its invalidations (see
//! `tron_store::invalidate`), which are applied here before the change's
//! response is sent, and on other instances through LISTEN/NOTIFY. Entries
//! also expire after at most 30 s as a safety net. Token status (expiry,
//! rotation grace) is recomputed from the cached record on every request.
//!
//! A read that raced with an invalidation must not repopulate the cache
//! with what it read before the change: every invalidation bumps an epoch,
//! and a loaded value is cached only if the epoch did not move while it was
//! being read. The check comes twice, before and after the insert: an
//! invalidation that lands between the first check and the insert (and so
//! finds nothing to remove) moves the epoch, and the second check removes
//! what was just inserted.
//!
//! On PostgreSQL the caches are filled only while this instance's
//! invalidation listener is listening (`live`): while it is not, another
//! instance's changes would go unheard.
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use moka::sync::Cache;
use tron_core::ids::{ApplicationId, EnvironmentId, OrganizationId, TokenId};
use tron_core::token::{TokenHash, TokenKind};
use tron_store::invalidate::Invalidation;
use tron_store::members::MemberKey;
use tron_store::models::{ResolvedToken, TokenOwner, TokenStatus};

use crate::metrics::{CacheKind, Metrics};
use crate::ratelimit::Limiter;

pub const TTL: Duration = Duration::from_secs(30);
const MAX_ENTRIES: u64 = 100_000;

/// A resolved token as the token cache keeps it: only what authenticating
/// a request reads (its status, its owner, the hash compared again), not
/// the whole record, so that 100,000 cached tokens stay small (issue 20),
/// and the owner's names shared with every request's principal. Its rate
/// limiter is kept once it has one (a service token's limiter lives in
/// `TokenLimiter`; this only saves the lookup, and is dropped with the
/// entry whenever the token, its account or its organization's settings
/// change).
pub struct CachedToken {
    pub id: TokenId,
    pub kind: TokenKind,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The stored hash, compared again in constant time by the caller.
    pub stored_hash: TokenHash,
    pub owner: TokenOwner,
    /// The token's name and hint, for its `service_token.rejected` event.
    pub name: Box<str>,
    pub hint: Box<str>,
    pub limiter: OnceLock<Arc<Limiter>>,
    last_noted: OncePerSecond,
}

/// The second (Unix time) of the last use handed to the usage recorder: a
/// token used many times a second is recorded once.
struct OncePerSecond(AtomicI64);

impl OncePerSecond {
    fn new() -> Self {
        OncePerSecond(AtomicI64::new(i64::MIN))
    }

    /// Whether `now` falls in a later second than any noted before.
    fn note(&self, now: DateTime<Utc>) -> bool {
        let second = now.timestamp();
        self.0.fetch_max(second, Ordering::Relaxed) < second
    }
}

impl CachedToken {
    pub fn new(resolved: ResolvedToken) -> Self {
        let ResolvedToken {
            token,
            stored_hash,
            owner,
        } = resolved;
        CachedToken {
            id: token.id,
            kind: token.kind,
            expires_at: token.expires_at,
            revoked_at: token.revoked_at,
            stored_hash,
            owner,
            name: token.name.into(),
            hint: token.hint.into(),
            limiter: OnceLock::new(),
            last_noted: OncePerSecond::new(),
        }
    }

    pub fn status(&self, now: DateTime<Utc>) -> TokenStatus {
        TokenStatus::at(self.revoked_at, self.expires_at, now)
    }

    /// The organization of a service token.
    pub fn organization_id(&self) -> Option<OrganizationId> {
        match self.owner {
            TokenOwner::ServiceAccount {
                organization_id, ..
            } => Some(organization_id),
            TokenOwner::User { .. } => None,
        }
    }

    /// Whether a use at `now` should be recorded: the first use in each
    /// second is (so `last_used_at` loses less than a second, well within
    /// the spec's 60).
    pub fn note_use(&self, now: DateTime<Utc>) -> bool {
        self.last_noted.note(now)
    }
}

/// The organization, the caller's membership (`None`: not a member) and
/// the key to the organization's data.
pub use tron_store::Access as AccessEntry;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccessKey {
    pub organization: OrganizationId,
    pub who: MemberKeyId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InstanceKey {
    pub organization: OrganizationId,
    pub application: ApplicationId,
    pub environment: EnvironmentId,
}

/// `MemberKey` with `Eq + Hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberKeyId {
    User(uuid::Uuid),
    ServiceAccount(uuid::Uuid),
}

impl From<MemberKey> for MemberKeyId {
    fn from(k: MemberKey) -> Self {
        match k {
            MemberKey::User(u) => MemberKeyId::User(u.0),
            MemberKey::ServiceAccount(s) => MemberKeyId::ServiceAccount(s.0),
        }
    }
}

pub struct Caches {
    enabled: bool,
    epoch: AtomicU64,
    /// Whether invalidations from other instances are being heard.
    live: Arc<AtomicBool>,
    tokens: Cache<TokenHash, Arc<CachedToken>, Hasher>,
    access: Cache<AccessKey, Arc<AccessEntry>, Hasher>,
    /// Serialized once: the response body.
    instances: Cache<InstanceKey, Bytes, Hasher>,
    metrics: Arc<Metrics>,
}

/// The caches' key hasher. Keys are HMAC outputs (unpredictable without the
/// server secret) and ids of rows that exist (only found entries are
/// inserted; the server made the ids), hashed with a per-process seed, so
/// a client cannot flood a bucket: SipHash's extra strength buys nothing
/// here, and it was a measurable share of a cached request
/// (docs/decisions.md, "Hot path").
type Hasher = foldhash::fast::RandomState;

fn bounded<K, V>() -> Cache<K, V, Hasher>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(MAX_ENTRIES)
        .time_to_live(TTL)
        .support_invalidation_closures()
        .build_with_hasher(Hasher::default())
}

impl Caches {
    pub fn new(enabled: bool, metrics: Arc<Metrics>) -> Self {
        Caches {
            enabled,
            epoch: AtomicU64::new(0),
            live: Arc::new(AtomicBool::new(true)),
            tokens: bounded(),
            access: bounded(),
            instances: bounded(),
            metrics,
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The flag the invalidation listener keeps up to date (see
    /// `Store::spawn_invalidation_listener`).
    pub fn live(&self) -> Arc<AtomicBool> {
        self.live.clone()
    }

    /// The epoch to pass back to `put_*` after a load.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    fn get<K, V>(&self, cache: &Cache<K, V, Hasher>, kind: CacheKind, key: &K) -> Option<V>
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        if !self.enabled {
            return None;
        }
        let hit = cache.get(key);
        self.metrics.cache(kind, hit.is_some());
        hit
    }

    /// Caches `value` unless an invalidation came after `epoch` was read
    /// (or comes while it is inserted).
    fn put<K, V>(&self, cache: &Cache<K, V, Hasher>, key: K, value: V, epoch: u64)
    where
        K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        self.put_then(cache, key, value, epoch, || {});
    }

    /// `put`, with `between` run after the first check and before the
    /// insert (for the test of the interleaving that matters).
    fn put_then<K, V>(
        &self,
        cache: &Cache<K, V, Hasher>,
        key: K,
        value: V,
        epoch: u64,
        between: impl FnOnce(),
    ) where
        K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        if !self.fresh(epoch) {
            return;
        }
        between();
        cache.insert(key.clone(), value);
        if !self.fresh(epoch) {
            cache.invalidate(&key);
        }
    }

    /// Whether a value loaded at `epoch` may be cached now.
    fn fresh(&self, epoch: u64) -> bool {
        self.enabled && self.live.load(Ordering::SeqCst) && self.epoch() == epoch
    }

    /// Sets `tron_cache_entries` (for `/metrics`).
    pub fn report_sizes(&self) {
        self.tokens.run_pending_tasks();
        self.access.run_pending_tasks();
        self.instances.run_pending_tasks();
        self.metrics
            .cache_entries(CacheKind::Token, self.tokens.entry_count());
        self.metrics
            .cache_entries(CacheKind::Access, self.access.entry_count());
        self.metrics
            .cache_entries(CacheKind::Instance, self.instances.entry_count());
    }

    pub fn get_token(&self, hash: &TokenHash) -> Option<Arc<CachedToken>> {
        self.get(&self.tokens, CacheKind::Token, hash)
    }

    pub fn put_token(&self, hash: TokenHash, value: Arc<CachedToken>, epoch: u64) {
        self.put(&self.tokens, hash, value, epoch);
    }

    pub fn get_access(&self, key: &AccessKey) -> Option<Arc<AccessEntry>> {
        self.get(&self.access, CacheKind::Access, key)
    }

    pub fn put_access(&self, key: AccessKey, value: Arc<AccessEntry>, epoch: u64) {
        self.put(&self.access, key, value, epoch);
    }

    pub fn get_instance(&self, key: &InstanceKey) -> Option<Bytes> {
        self.get(&self.instances, CacheKind::Instance, key)
    }

    pub fn put_instance(&self, key: InstanceKey, value: Bytes, epoch: u64) {
        self.put(&self.instances, key, value, epoch);
    }

    pub fn invalidate(&self, inv: &[Invalidation]) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        for i in inv {
            self.invalidate_one(*i);
        }
    }

    fn invalidate_one(&self, inv: Invalidation) {
        // `invalidate_entries_if` only fails if closures are unsupported,
        // which the builder enables; fall back to a full flush regardless.
        let ok = match inv {
            Invalidation::All => {
                self.flush();
                true
            }
            Invalidation::Instance {
                organization,
                application,
                environment,
            } => {
                self.instances.invalidate(&InstanceKey {
                    organization,
                    application,
                    environment,
                });
                true
            }
            Invalidation::Token(id) => self
                .tokens
                .invalidate_entries_if(move |_, v| v.id == id)
                .is_ok(),
            Invalidation::User(id) => {
                let a = self
                    .tokens
                    .invalidate_entries_if(
                        move |_, v| matches!(v.owner, TokenOwner::User { id: u, .. } if u == id),
                    )
                    .is_ok();
                let b = self
                    .access
                    .invalidate_entries_if(move |k, _| k.who == MemberKeyId::User(id.0))
                    .is_ok();
                a && b
            }
            Invalidation::ServiceAccount(id) => {
                let a = self
                    .tokens
                    .invalidate_entries_if(
                        move |_, v| matches!(v.owner, TokenOwner::ServiceAccount { id: s, .. } if s == id),
                    )
                    .is_ok();
                let b = self
                    .access
                    .invalidate_entries_if(move |k, _| k.who == MemberKeyId::ServiceAccount(id.0))
                    .is_ok();
                a && b
            }
            Invalidation::Organization(org) => {
                let a = self
                    .tokens
                    .invalidate_entries_if(move |_, v| v.organization_id() == Some(org))
                    .is_ok();
                let b = self
                    .access
                    .invalidate_entries_if(move |k, _| k.organization == org)
                    .is_ok();
                let c = self
                    .instances
                    .invalidate_entries_if(move |k, _| k.organization == org)
                    .is_ok();
                a && b && c
            }
        };
        if !ok {
            self.flush();
        }
    }

    fn flush(&self) {
        self.tokens.invalidate_all();
        self.access.invalidate_all();
        self.instances.invalidate_all();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn key() -> InstanceKey {
        InstanceKey {
            organization: OrganizationId::new(),
            application: ApplicationId::new(),
            environment: EnvironmentId::new(),
        }
    }

    fn caches() -> Caches {
        Caches::new(true, Arc::new(Metrics::new()))
    }

    /// Issue 13, defect 8: an invalidation landing after a load's epoch
    /// check but before its insert (so it finds nothing to remove) must not
    /// leave the loaded value cached. Before the fix the value stayed.
    #[test]
    fn an_invalidation_between_check_and_insert_is_not_lost() {
        let c = caches();
        let k = key();
        let epoch = c.epoch();
        c.put_then(&c.instances, k, Bytes::from_static(b"old"), epoch, || {
            c.invalidate(&[Invalidation::instance(
                k.organization,
                k.application,
                k.environment,
            )])
        });
        assert_eq!(c.get_instance(&k), None);
        // Without a race the value is cached.
        let epoch = c.epoch();
        c.put_instance(k, Bytes::from_static(b"new"), epoch);
        assert_eq!(c.get_instance(&k), Some(Bytes::from_static(b"new")));
    }

    /// Nothing is cached while the invalidation listener is not listening,
    /// nor when it stops during the insert.
    #[test]
    fn nothing_is_cached_while_invalidations_go_unheard() {
        let c = caches();
        let k = key();
        c.live().store(false, Ordering::SeqCst);
        c.put_instance(k, Bytes::from_static(b"v"), c.epoch());
        assert_eq!(c.get_instance(&k), None);
        c.live().store(true, Ordering::SeqCst);
        let epoch = c.epoch();
        c.put_then(&c.instances, k, Bytes::from_static(b"v"), epoch, || {
            c.live().store(false, Ordering::SeqCst)
        });
        assert_eq!(c.get_instance(&k), None);
    }

    #[test]
    fn a_use_is_noted_once_per_second() {
        let t = OncePerSecond::new();
        let at = |s: i64, ms: i64| {
            DateTime::from_timestamp(s, 0).unwrap_or_default() + chrono::Duration::milliseconds(ms)
        };
        assert!(t.note(at(100, 0)));
        assert!(!t.note(at(100, 500)));
        assert!(!t.note(at(100, 999)));
        assert!(t.note(at(101, 1)));
        // An earlier time (another thread's clock read) is not noted again.
        assert!(!t.note(at(100, 700)));
        assert!(t.note(at(160, 0)));
    }
}
