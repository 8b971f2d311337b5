//! The periodic scan for what time alone causes (SPEC §8): expiry
//! warnings 30, 7 and 1 days ahead, expiries, and the end of a rotation's
//! grace period. Any instance may run it at any time: each notice is a row
//! of `token_notices` inserted in the transaction that emits its event, so
//! a notice is sent once across instances and restarts.
//!
//! Only organizations with an active webhook are scanned (an event no
//! webhook wants is not stored). A warning is sent only for a threshold
//! that was still ahead when the token was created, and a token found late
//! (its organization's first webhook came after a threshold passed) gets
//! only the nearest warning: the larger thresholds it passed are recorded
//! as done without an event.
use chrono::{DateTime, Duration, Utc};
use sqlx::{Any, AnyConnection};
use tron_core::ids::{OrganizationId, TokenId};
use tron_core::Result;
use tron_webhooks::data::{RevocationReason, TokenExpired, TokenExpiring, TokenRevoked};

use super::produce::{event, sa_ref, token_ref};
use crate::db::*;
use crate::models::TokenRecord;
use crate::tokens::{row_to_token, TOKEN_COLUMNS};
use crate::Store;

/// Days before `expires_at`, nearest first.
pub const WARNING_DAYS: [i64; 3] = [1, 7, 30];
const EXPIRED: i64 = 0;
const GRACE_ENDED: i64 = -1;
/// A token that expired (or whose grace ended) longer ago than this is not
/// reported any more.
const LOOK_BACK: Duration = Duration::days(1);
/// Tokens handled per query of the scan.
const BATCH: u32 = 500;

const WITH_WEBHOOKS: &str =
    "t.kind = 'service' AND t.organization_id IN (SELECT organization_id FROM webhooks WHERE active = 1)";

fn micros(d: Duration) -> i64 {
    d.num_microseconds().unwrap_or(i64::MAX)
}

/// Records notice `n` of `token`; answers whether it is new.
async fn claim(conn: &mut AnyConnection, token: TokenId, n: i64) -> Result<bool> {
    let r = sqlx::query::<Any>(
        "INSERT INTO token_notices (token_id, notice) VALUES ($1, $2) ON CONFLICT (token_id, notice) DO NOTHING",
    )
    .bind(token.to_string())
    .bind(n)
    .execute(&mut *conn)
    .await
    .map_err(db_err)?;
    Ok(r.rows_affected() > 0)
}

impl Store {
    async fn notice_candidates(
        &self,
        condition: &str,
        binds: &[i64],
        notice: i64,
    ) -> Result<Vec<TokenRecord>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens t WHERE {WITH_WEBHOOKS} AND {condition} \
             AND NOT EXISTS (SELECT 1 FROM token_notices n WHERE n.token_id = t.id AND n.notice = {notice}) \
             ORDER BY t.id LIMIT {BATCH}"
        );
        let mut q = sqlx::query::<Any>(&sql);
        for b in binds {
            q = q.bind(*b);
        }
        let rows = q.fetch_all(&self.read).await.map_err(db_err)?;
        rows.iter().map(row_to_token).collect()
    }

    /// One pass of the scan at `now`; answers how many events it emitted.
    pub async fn scan_token_notices(&self, now: DateTime<Utc>) -> Result<usize> {
        let mut sent = 0;
        let now_us = ts(now);
        for (i, days) in WARNING_DAYS.iter().enumerate() {
            let ahead = micros(Duration::days(*days));
            let tokens = self
                .notice_candidates(
                    "t.expires_at > $1 AND t.expires_at <= $1 + $2 AND t.expires_at - $2 >= t.created_at \
                     AND (t.revoked_at IS NULL OR t.revoked_at > $1)",
                    &[now_us, ahead],
                    *days,
                )
                .await?;
            for token in tokens {
                let mut tx = self.begin().await?;
                let new = claim(&mut tx, token.id, *days).await?;
                // The farther thresholds it passed are done too.
                for farther in &WARNING_DAYS[i + 1..] {
                    claim(&mut tx, token.id, *farther).await?;
                }
                if let (true, Some(org), Some(sa)) =
                    (new, token.organization_id, token.service_account_id)
                {
                    let data = TokenExpiring {
                        service_account: sa_ref(&mut tx, sa).await?,
                        token: token_ref(&token),
                        days_left: u32::try_from(*days).unwrap_or(0),
                    };
                    sent += tx.emit(&event(org, now, &data)?, None).await?.min(1);
                }
                tx.commit(&[]).await?;
            }
        }
        let since = now_us - micros(LOOK_BACK);
        let expired = self
            .notice_candidates(
                "t.expires_at <= $1 AND t.expires_at > $2 \
                 AND (t.revoked_at IS NULL OR t.revoked_at > t.expires_at)",
                &[now_us, since],
                EXPIRED,
            )
            .await?;
        for token in expired {
            sent += self
                .notice_once(&token, EXPIRED, |org, sa, t| {
                    event(
                        org,
                        now,
                        &TokenExpired {
                            service_account: sa,
                            token: token_ref(t),
                        },
                    )
                })
                .await?;
        }
        let grace_ended = self
            .notice_candidates(
                "t.grace_ends_at IS NOT NULL AND t.revoked_at = t.grace_ends_at \
                 AND t.grace_ends_at <= $1 AND t.grace_ends_at > $2",
                &[now_us, since],
                GRACE_ENDED,
            )
            .await?;
        for token in grace_ended {
            sent += self
                .notice_once(&token, GRACE_ENDED, |org, sa, t| {
                    let data = TokenRevoked {
                        service_account: sa,
                        token: token_ref(t),
                        reason: RevocationReason::RotationGraceEnded,
                        revoked_by: None,
                    };
                    event(org, now, &data)
                })
                .await?;
        }
        Ok(sent)
    }

    async fn notice_once(
        &self,
        token: &TokenRecord,
        notice: i64,
        make: impl FnOnce(
            OrganizationId,
            tron_webhooks::data::ServiceAccountRef,
            &TokenRecord,
        ) -> Result<tron_webhooks::Event>,
    ) -> Result<usize> {
        let (Some(org), Some(sa)) = (token.organization_id, token.service_account_id) else {
            return Ok(0);
        };
        let mut tx = self.begin().await?;
        let mut sent = 0;
        if claim(&mut tx, token.id, notice).await? {
            let sa = sa_ref(&mut tx, sa).await?;
            sent = tx.emit(&make(org, sa, token)?, None).await?.min(1);
        }
        tx.commit(&[]).await?;
        Ok(sent)
    }
}
