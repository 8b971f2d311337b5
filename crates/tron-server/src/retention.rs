//! The background purge (every instance runs it; the deletes are
//! idempotent): audit events older than `TRON_AUDIT_RETENTION_DAYS` (unset:
//! kept forever) and tokens revoked or expired more than
//! `TRON_TOKEN_RETENTION_DAYS` ago (default 90; their audit history stays).
//! [`BATCH`] rows per transaction with a short pause between, so requests
//! never wait on it for long.
use std::time::Duration as StdDuration;

use tokio::task::JoinHandle;

use crate::state::AppState;

/// Rows deleted per transaction.
pub const BATCH: u32 = 1000;
/// The pause between two batches.
const PAUSE: StdDuration = StdDuration::from_millis(50);

/// What one pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub audit_events: u64,
    pub tokens: u64,
}

/// Runs a pass every `retention_interval`, the first one interval after
/// start; the caller aborts it at shutdown.
pub fn spawn(state: &AppState) -> Option<JoinHandle<()>> {
    let config = &state.config;
    if config.audit_retention.is_none() && config.token_retention.is_none() {
        return None;
    }
    let state = state.clone();
    Some(tokio::spawn(async move {
        let every = state
            .config
            .retention_interval
            .max(StdDuration::from_secs(1));
        loop {
            tokio::time::sleep(every).await;
            purge(&state, BATCH).await;
        }
    }))
}

/// One pass, `batch` rows per transaction. A failing batch ends the pass
/// (the next pass tries again).
pub async fn purge(state: &AppState, batch: u32) -> Purged {
    let mut purged = Purged::default();
    let now = state.now();
    if let Some(keep) = state.config.audit_retention {
        purged.audit_events = batches(state, Old::AuditEvents, now - keep, batch).await;
    }
    if let Some(keep) = state.config.token_retention {
        purged.tokens = batches(state, Old::Tokens, now - keep, batch).await;
    }
    if purged != Purged::default() {
        tracing::info!(
            audit_events = purged.audit_events,
            tokens = purged.tokens,
            "retention: deleted what is past its retention"
        );
    }
    purged
}

#[derive(Clone, Copy)]
enum Old {
    AuditEvents,
    Tokens,
}

/// Deletes `what` from before `cutoff`, `batch` rows at a time, until a
/// batch comes back short; how many.
async fn batches(
    state: &AppState,
    what: Old,
    cutoff: chrono::DateTime<chrono::Utc>,
    batch: u32,
) -> u64 {
    let mut total = 0;
    loop {
        let deleted = match what {
            Old::AuditEvents => state.store.purge_audit_batch(cutoff, batch).await,
            Old::Tokens => state.store.prune_tokens_batch(cutoff, batch).await,
        };
        match deleted {
            Ok(n) => {
                total += n;
                if n < u64::from(batch.max(1)) {
                    return total;
                }
            }
            Err(e) => {
                let what = match what {
                    Old::AuditEvents => "audit events",
                    Old::Tokens => "tokens",
                };
                tracing::warn!(error = %e, "retention: deleting old {what} failed; the next pass tries again");
                return total;
            }
        }
        tokio::time::sleep(PAUSE).await;
    }
}
