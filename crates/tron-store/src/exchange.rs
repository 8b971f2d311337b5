//! The storage side of the keyless CI exchange (SPEC §7). The exchange is
//! anonymous — the caller proves itself with an ID token, not a Tron
//! credential — so these functions are on [`Store`], keyed by the service
//! account the request names; the organization is the account's own.
//!
//! Invariants: an ID token's `jti` is recorded in the same transaction as
//! the token it mints, under a primary key, so it is exchanged once across
//! every instance; the policy that accepted it is read again under a lock
//! in that transaction and checked again, so a policy changed or deleted
//! meanwhile mints nothing it no longer allows; and a refused exchange is
//! audited at most once a minute per account and reason, counted in the
//! database (not per instance).
use chrono::{DateTime, Duration, Utc};
use sqlx::Any;
use tron_core::clock::Clock;
use tron_core::ids::{OrganizationId, ServiceAccountId, TrustPolicyId};
use tron_core::settings::OrganizationSettings;
use tron_core::{Error, Result};

use crate::audit::Target;
use crate::db::*;
use crate::models::{RequestMeta, TokenRecord};
use crate::tokens::{insert_token, NewToken};
use crate::trust_policies::{row_to_policy, TrustPolicyRecord, POLICY_COLUMNS};
use crate::Store;

/// A service account as the exchange sees it, with its policies for one
/// issuer.
#[derive(Debug, Clone)]
pub struct ExchangeCandidates {
    pub organization_id: OrganizationId,
    pub service_account_name: String,
    pub active: bool,
    pub settings: OrganizationSettings,
    pub policies: Vec<TrustPolicyRecord>,
}

/// What one accepted exchange stores besides its token.
#[derive(Debug, Clone)]
pub struct Exchange<'a> {
    pub organization_id: OrganizationId,
    pub service_account_id: ServiceAccountId,
    pub service_account_name: &'a str,
    pub policy_id: TrustPolicyId,
    pub issuer: &'a str,
    pub jti: &'a str,
    /// When the `jti` may be forgotten: once the ID token can no longer be
    /// accepted (its `exp` plus the leeway, and a margin).
    pub forget_after: DateTime<Utc>,
    /// The `service_token.exchange` event's details.
    pub details: serde_json::Value,
}

/// Why [`Store::complete_exchange`] minted nothing.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeRefused {
    /// The account is gone or disabled, or the policy gone, since the
    /// candidates were read.
    #[error("the service account or the policy is gone")]
    Gone,
    /// The `jti` was exchanged before.
    #[error("the token was already exchanged")]
    Replayed,
    /// `mint` refused the policy as it is now.
    #[error("the policy no longer accepts the token")]
    Refused(Error),
    #[error(transparent)]
    Store(#[from] Error),
}

impl Store {
    /// The account's organization, state and policies for `issuer`;
    /// `None` when there is no such account.
    pub async fn exchange_candidates(
        &self,
        sa: ServiceAccountId,
        issuer: &str,
    ) -> Result<Option<ExchangeCandidates>> {
        let row = sqlx::query::<Any>(
            "SELECT organization_id, name, status FROM service_accounts WHERE id = $1",
        )
        .bind(sa.to_string())
        .fetch_optional(&self.read)
        .await
        .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let org: OrganizationId = get_id(&row, "organization_id")?;
        let organization = match self.get_organization(org).await {
            Ok(o) => o,
            Err(Error::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let policies = sqlx::query::<Any>(&format!(
            "SELECT {POLICY_COLUMNS} FROM trust_policies p \
             WHERE p.organization_id = $1 AND p.service_account_id = $2 AND p.issuer = $3 \
             ORDER BY p.created_at, p.id"
        ))
        .bind(org.to_string())
        .bind(sa.to_string())
        .bind(issuer.to_owned())
        .fetch_all(&self.read)
        .await
        .map_err(db_err)?
        .iter()
        .map(row_to_policy)
        .collect::<Result<Vec<_>>>()?;
        Ok(Some(ExchangeCandidates {
            organization_id: org,
            service_account_name: get_str(&row, "name")?,
            active: get_str(&row, "status")? == "active",
            settings: organization.settings,
            policies,
        }))
    }

    /// Mints the exchange's token: locks the organization and the account
    /// (they stay, the account stays active), reads the policy again under
    /// a lock and lets `mint` check it and build the token from it and the
    /// time read under the locks, records the `jti`, stamps the policy's
    /// `last_used_at` and writes `service_token.exchange` — all in one
    /// transaction.
    pub async fn complete_exchange(
        &self,
        meta: &RequestMeta,
        clock: &dyn Clock,
        exchange: Exchange<'_>,
        mint: impl FnOnce(&TrustPolicyRecord, DateTime<Utc>) -> Result<NewToken>,
    ) -> Result<(TrustPolicyRecord, TokenRecord), ExchangeRefused> {
        let org = exchange.organization_id;
        let sa = exchange.service_account_id;
        let mut tx = self.begin().await?;
        let gone = |e: Error| match e {
            Error::NotFound => ExchangeRefused::Gone,
            e => ExchangeRefused::Store(e),
        };
        self.hold_org(&mut tx, org).await.map_err(gone)?;
        self.lock_row(
            &mut tx,
            "service_accounts",
            org,
            sa.to_string(),
            Lock::KeyShare,
        )
        .await
        .map_err(gone)?;
        let (key_share, update) = (
            self.lock_suffix(Lock::KeyShare),
            self.lock_suffix(Lock::Update),
        );
        let status = sqlx::query::<Any>(&format!(
            "SELECT status FROM service_accounts WHERE id = $1{key_share}"
        ))
        .bind(sa.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .map(|row| get_str(&row, "status"))
        .transpose()?;
        if status.as_deref() != Some("active") {
            return Err(ExchangeRefused::Gone);
        }
        let policy = sqlx::query::<Any>(&format!(
            "SELECT {POLICY_COLUMNS} FROM trust_policies p \
             WHERE p.organization_id = $1 AND p.service_account_id = $2 AND p.id = $3{update}"
        ))
        .bind(org.to_string())
        .bind(sa.to_string())
        .bind(exchange.policy_id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .ok_or(ExchangeRefused::Gone)?;
        let policy = row_to_policy(&policy)?;
        let now = clock.now();
        let token = mint(&policy, now).map_err(ExchangeRefused::Refused)?;
        let recorded = sqlx::query::<Any>(
            "INSERT INTO oidc_exchanged_tokens (issuer, jti, forget_after) VALUES ($1, $2, $3) \
             ON CONFLICT (issuer, jti) DO NOTHING",
        )
        .bind(exchange.issuer.to_owned())
        .bind(exchange.jti.to_owned())
        .bind(ts(exchange.forget_after))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if recorded == 0 {
            return Err(ExchangeRefused::Replayed);
        }
        let rec = insert_token(&mut tx, meta, now, &token).await?;
        sqlx::query::<Any>(
            "UPDATE trust_policies SET last_used_at = $1 WHERE id = $2 \
             AND (last_used_at IS NULL OR last_used_at < $1)",
        )
        .bind(ts(now))
        .bind(policy.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let mut details = exchange.details;
        details["token_id"] = rec.id.to_string().into();
        details["hint"] = rec.hint.clone().into();
        details["expires_at"] = serde_json::json!(rec.expires_at);
        tx.audit(
            Some(org),
            meta,
            now,
            "service_token.exchange",
            Target::new(
                "service_account",
                sa,
                exchange.service_account_name.to_owned(),
            ),
            details,
        )
        .await?;
        tx.commit(&[]).await?;
        let mut policy = policy;
        policy.last_used_at = Some(now);
        Ok((policy, rec))
    }

    /// Writes `service_token.exchange_rejected` unless one for the same
    /// account and `reason` was written less than a minute ago (by any
    /// instance), with its webhook event; answers whether it wrote one.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_exchange_rejection(
        &self,
        meta: &RequestMeta,
        now: DateTime<Utc>,
        org: OrganizationId,
        sa: ServiceAccountId,
        sa_name: &str,
        reason: &str,
        details: serde_json::Value,
        webhook_event: &tron_webhooks::Event,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let claimed = sqlx::query::<Any>(
            "INSERT INTO oidc_rejections (service_account_id, reason, logged_at) VALUES ($1, $2, $3) \
             ON CONFLICT (service_account_id, reason) DO UPDATE SET logged_at = excluded.logged_at \
             WHERE oidc_rejections.logged_at <= $4",
        )
        .bind(sa.to_string())
        .bind(reason.to_owned())
        .bind(ts(now))
        .bind(ts(now - Duration::minutes(1)))
        .execute(&mut *tx)
        .await;
        let claimed = match claimed {
            Ok(r) => r.rows_affected() > 0,
            // The account was deleted meanwhile: nobody to tell.
            Err(e)
                if e.as_database_error()
                    .is_some_and(|d| d.is_foreign_key_violation()) =>
            {
                return Ok(false)
            }
            Err(e) => return Err(db_err(e)),
        };
        if !claimed {
            return Ok(false);
        }
        tx.audit(
            Some(org),
            meta,
            now,
            "service_token.exchange_rejected",
            Target::new("service_account", sa, sa_name.to_owned()),
            details,
        )
        .await?;
        tx.emit(webhook_event, None).await?;
        tx.commit(&[]).await?;
        Ok(true)
    }

    /// Forgets the `jti`s of ID tokens that can no longer be accepted.
    pub async fn forget_exchanged_tokens(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut tx = self.begin().await?;
        let r = sqlx::query::<Any>("DELETE FROM oidc_exchanged_tokens WHERE forget_after < $1")
            .bind(ts(now))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit(&[]).await?;
        Ok(r.rows_affected())
    }
}
