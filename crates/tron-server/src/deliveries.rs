//! The background work of webhooks, on every instance: the delivery worker
//! and the expiry scan (SPEC §8).
//!
//! The worker claims due deliveries (a lease in the database: exactly one
//! instance attempts each), opens the webhook's secret, makes the signed
//! attempt, and records the outcome with the next attempt's time from
//! `tron_webhooks::next_attempt` (or `failed` past 24 h). It wakes on its
//! poll interval or as soon as a commit of this instance queued something.
//! A claim that is never recorded (the instance died mid-attempt) lapses
//! with its lease and another instance retries: at least once.
use std::time::Duration as StdDuration;

use chrono::Duration;
use tokio::task::JoinHandle;
use tron_store::webhooks::{AttemptRecord, DueDelivery};

use crate::state::AppState;

/// Deliveries claimed at once.
const CLAIM: u32 = 16;

/// Starts the worker and the scan; the caller aborts them at shutdown.
pub fn spawn(state: &AppState) -> Vec<JoinHandle<()>> {
    if !state.config.webhook_worker {
        return Vec::new();
    }
    let worker = {
        let state = state.clone();
        tokio::spawn(async move {
            let queued = state.store.deliveries_queued();
            loop {
                let done = deliver_due(&state).await;
                if done == 0 {
                    tokio::select! {
                        _ = tokio::time::sleep(state.config.webhook_poll_interval) => {}
                        _ = queued.notified() => {}
                    }
                }
            }
        })
    };
    let scan = {
        let state = state.clone();
        tokio::spawn(async move {
            let every = state
                .config
                .expiry_scan_interval
                .max(StdDuration::from_millis(10));
            loop {
                scan(&state).await;
                tokio::time::sleep(every).await;
            }
        })
    };
    vec![worker, scan]
}

/// One pass of the expiry scan; how many events it queued.
pub async fn scan(state: &AppState) -> usize {
    match state.store.scan_token_notices(state.now()).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "webhooks: the expiry scan failed; it runs again later");
            0
        }
    }
}

/// Attempts the deliveries due now (claimed by this instance); how many.
pub async fn deliver_due(state: &AppState) -> usize {
    let Some(deliverer) = state.deliverer.clone() else {
        return 0;
    };
    let now = state.now();
    let lease = Duration::from_std(state.config.webhook_lease).unwrap_or(Duration::seconds(60));
    let due = match state.store.claim_deliveries(now, now + lease, CLAIM).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "webhooks: cannot claim deliveries");
            return 0;
        }
    };
    let n = due.len();
    let mut attempts = tokio::task::JoinSet::new();
    for d in due {
        let state = state.clone();
        let deliverer = deliverer.clone();
        attempts.spawn(async move { attempt(&state, &deliverer, d).await });
    }
    attempts.join_all().await;
    if let Ok(q) = state.store.delivery_queue().await {
        let age = q
            .oldest_pending
            .map(|t| (state.now() - t).num_milliseconds().max(0) as f64 / 1000.0)
            .unwrap_or(0.0);
        state.metrics.webhook_queue(q.pending, age);
    }
    n
}

async fn attempt(state: &AppState, deliverer: &tron_webhooks::Deliverer, d: DueDelivery) {
    let now = state.now();
    let record = match state.sealer.open(d.webhook_id.0, &d.sealed_secret) {
        Ok(secret) => {
            let outcome = deliverer.deliver(&d.url, &secret, &d.event, now).await;
            let delivered = outcome.is_delivered();
            let after = state.now();
            AttemptRecord {
                delivered,
                status_code: outcome.status_code(),
                error: outcome.error().map(str::to_owned),
                next_attempt_at: if delivered {
                    None
                } else {
                    tron_webhooks::next_attempt(
                        d.event.occurred_at,
                        d.attempts + 1,
                        after,
                        &mut rand::thread_rng(),
                    )
                },
            }
        }
        // A secret that cannot be opened (the server secret changed) will
        // not open later either.
        Err(_) => AttemptRecord {
            delivered: false,
            status_code: None,
            error: Some("the webhook's secret cannot be opened with this server secret".into()),
            next_attempt_at: None,
        },
    };
    let outcome = match (record.delivered, record.next_attempt_at) {
        (true, _) => "delivered",
        (false, Some(_)) => "retry",
        (false, None) => "failed",
    };
    state.metrics.webhook_delivery(outcome);
    if let Err(e) = state.store.record_attempt(d.id, state.now(), &record).await {
        // The lease lapses and the attempt is made again: at least once.
        tracing::warn!(error = %e, delivery = %d.id, "webhooks: cannot record an attempt");
    }
}
