//! `last_used_at` without a database write per request: uses are buffered
//! in memory and flushed every few seconds (and on shutdown), so stored
//! values are at most one flush interval behind.
use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use tron_core::ids::{ServiceAccountId, TokenId};
use tron_store::Store;

#[derive(Default)]
pub struct UsageRecorder {
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    tokens: HashMap<TokenId, DateTime<Utc>>,
    accounts: HashMap<ServiceAccountId, DateTime<Utc>>,
}

impl UsageRecorder {
    pub fn record(&self, token: TokenId, account: Option<ServiceAccountId>, at: DateTime<Utc>) {
        if let Ok(mut p) = self.pending.lock() {
            let t = p.tokens.entry(token).or_insert(at);
            *t = (*t).max(at);
            if let Some(a) = account {
                let e = p.accounts.entry(a).or_insert(at);
                *e = (*e).max(at);
            }
        }
    }

    /// Writes what is pending. On failure the values are put back.
    pub async fn flush(&self, store: &Store) {
        let taken = match self.pending.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => return,
        };
        if taken.tokens.is_empty() && taken.accounts.is_empty() {
            return;
        }
        let tokens: Vec<_> = taken.tokens.iter().map(|(k, v)| (*k, *v)).collect();
        let accounts: Vec<_> = taken.accounts.iter().map(|(k, v)| (*k, *v)).collect();
        if let Err(e) = store.record_token_usage(&tokens, &accounts).await {
            tracing::warn!(error = %e, "could not record token usage; will retry");
            for (k, v) in tokens {
                self.record(k, None, v);
            }
            if let Ok(mut p) = self.pending.lock() {
                for (k, v) in accounts {
                    p.accounts.entry(k).or_insert(v);
                }
            }
        }
    }
}
