//! The keyless CI exchange (SPEC §7, RFC 8693): a CI job's OIDC ID token
//! for a short-lived service token of the account whose trust policy
//! accepts it.
//!
//! Order: the ID token is verified first (`tron-oidc`: algorithm, trusted
//! issuer, key, signature, times); only a correctly signed token makes the
//! server look at the account, so nothing about an account is learned or
//! logged from a forged token. The account's policies for the token's
//! issuer are tried in creation order; the first that accepts `aud` and
//! every condition mints the token, in a transaction that records the
//! `jti` (single use across instances), reads the policy again under a
//! lock and checks it again. Every refusal after the signature is the same
//! `no trust policy … accepts this token` for the caller, and a
//! `service_token.exchange_rejected` event naming the claim for the
//! organization's admins.
use chrono::Duration;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tron_core::ids::{ServiceAccountId, TokenId};
use tron_core::principal::{Actor, ActorType};
use tron_core::token::{SecretToken, TokenKind};
use tron_oidc::verify::LEEWAY_SECONDS;
use tron_oidc::wire::OAuthError;
use tron_oidc::{ExchangeRequest, Mismatch, VerifiedToken};
use tron_store::exchange::{Exchange, ExchangeCandidates, ExchangeRefused};
use tron_store::tokens::NewTokenOwner;

use crate::auth::{anonymous_meta, ClientInfo};
use crate::ops::tokens::mint;
use crate::ops::trust_policies::compiled;
use crate::state::AppState;

/// The claims a reviewer of `service_token.exchange` needs, where present.
const REVIEW_CLAIMS: [&str; 7] = [
    "repository",
    "ref",
    "environment",
    "job_workflow_ref",
    "run_id",
    "project_path",
    "pipeline_id",
];

/// A minted token and its lifetime in seconds.
pub struct Exchanged {
    pub secret: SecretToken,
    pub expires_in: i64,
}

fn review_claims(token: &VerifiedToken) -> Value {
    let picked: Map<String, Value> = REVIEW_CLAIMS
        .iter()
        .filter_map(|c| token.claims.get(*c).map(|v| ((*c).to_owned(), v.clone())))
        .collect();
    Value::Object(picked)
}

fn store_unavailable(e: tron_core::Error) -> OAuthError {
    tracing::error!(error = %e, "keyless CI exchange: the store failed");
    OAuthError::unavailable("the exchange cannot be completed right now")
}

/// Exchanges `request`'s ID token; the caller is anonymous, `client` is
/// where it calls from.
pub async fn exchange(
    state: &AppState,
    client: &ClientInfo,
    request: &ExchangeRequest,
) -> Result<Exchanged, OAuthError> {
    let verifier = state
        .oidc
        .as_ref()
        .ok_or_else(|| OAuthError::unavailable("keyless CI is not available on this server"))?;
    let token = verifier.verify(&request.subject_token).await.map_err(|r| {
        if r.is_unavailable() {
            tracing::warn!(rejection = ?r, "keyless CI exchange: an issuer's keys cannot be had");
        }
        OAuthError::from(&r)
    })?;
    // An unknown account is refused like a mismatch: nothing tells a
    // caller which ids exist.
    let Ok(sa) = request.service_account.trim().parse::<ServiceAccountId>() else {
        return Err(OAuthError::no_policy_accepts());
    };
    let Some(found) = state
        .store
        .exchange_candidates(sa, token.issuer.as_str())
        .await
        .map_err(store_unavailable)?
    else {
        return Err(OAuthError::no_policy_accepts());
    };
    let rejection = Rejection {
        state,
        client,
        token: &token,
        sa,
        found: &found,
    };
    if !found.active {
        rejection
            .record("service_account_disabled", Vec::new())
            .await?;
        return Err(OAuthError::no_policy_accepts());
    }
    let trusted = &state.config.oidc_issuers;
    let mut mismatches = Vec::new();
    let mut accepted = None;
    for record in &found.policies {
        let outcome = match compiled(record, trusted) {
            Some(policy) => policy.check(&token.aud, &token.claims),
            None => Err(Mismatch {
                claim: "issuer".to_owned(),
                wanted: "a trusted issuer".to_owned(),
                seen: Some(record.issuer.clone()),
            }),
        };
        match outcome {
            Ok(()) => {
                accepted = Some(record);
                break;
            }
            Err(m) => mismatches.push((record, m)),
        }
    }
    let Some(policy) = accepted else {
        let reason = if found.policies.is_empty() {
            "no_policy_for_issuer"
        } else {
            "no_policy_accepts"
        };
        rejection.record(reason, mismatches).await?;
        return Err(OAuthError::no_policy_accepts());
    };

    let token_id = TokenId::new();
    let meta = client.meta(Actor {
        kind: ActorType::ServiceAccount,
        id: Some(sa.0),
        name: Some(found.service_account_name.clone()),
        token_id: Some(token_id),
    });
    let settings = found.settings;
    let mut secret = None;
    let mut expires_in = 0;
    let done = state
        .store
        .complete_exchange(
            &meta,
            &*state.clock,
            Exchange {
                organization_id: found.organization_id,
                service_account_id: sa,
                service_account_name: &found.service_account_name,
                policy_id: policy.id,
                issuer: token.issuer.as_str(),
                jti: &token.jti,
                // Accepted until `exp` + leeway; kept a minute more.
                forget_after: token.expires_at + Duration::seconds(LEEWAY_SECONDS + 60),
                details: json!({
                    "issuer": token.issuer.as_str(),
                    "sub": token.sub,
                    "jti": token.jti,
                    "trust_policy_id": policy.id,
                    "trust_policy": policy.name,
                    "claims": review_claims(&token),
                }),
            },
            |fresh, now| {
                // The policy as it is now, under its lock: a change since
                // it was read applies to this exchange too.
                let accepts = compiled(fresh, trusted)
                    .is_some_and(|p| p.check(&token.aud, &token.claims).is_ok());
                if !accepts {
                    return Err(tron_core::Error::Forbidden);
                }
                let mut ttl = fresh.token_ttl_seconds;
                if let Some(days) = settings.max_token_lifetime_days {
                    ttl = ttl.min(i64::from(days) * 86_400);
                }
                expires_in = ttl;
                let (s, mut new) = mint(
                    state,
                    TokenKind::Service,
                    fresh.name.clone(),
                    NewTokenOwner::ServiceAccount(sa, found.organization_id),
                    Some(now + Duration::seconds(ttl)),
                );
                new.id = token_id;
                new.trust_policy = Some(fresh.id);
                secret = Some(s);
                Ok(new)
            },
        )
        .await;
    match done {
        Ok(_) => {}
        Err(ExchangeRefused::Replayed) => {
            rejection.record("replayed", Vec::new()).await?;
            return Err(OAuthError::invalid_request(
                "the token was already exchanged (an ID token is single-use)",
            ));
        }
        Err(ExchangeRefused::Gone | ExchangeRefused::Refused(_)) => {
            return Err(OAuthError::no_policy_accepts());
        }
        Err(ExchangeRefused::Store(e)) => return Err(store_unavailable(e)),
    }
    // Best effort: a failure leaves the rows for the next exchange.
    if let Err(e) = state.store.forget_exchanged_tokens(state.now()).await {
        tracing::warn!(error = %e, "keyless CI exchange: could not forget old jtis");
    }
    let secret =
        secret.ok_or_else(|| store_unavailable(tron_core::Error::internal("no token minted")))?;
    Ok(Exchanged { secret, expires_in })
}

/// A refused exchange of a correctly signed token, for the audit log.
struct Rejection<'a> {
    state: &'a AppState,
    client: &'a ClientInfo,
    token: &'a VerifiedToken,
    sa: ServiceAccountId,
    found: &'a ExchangeCandidates,
}

impl Rejection<'_> {
    /// Writes `service_token.exchange_rejected` (at most once a minute per
    /// account and reason: the reason's key is the kind of refusal with
    /// each policy's failing claim).
    async fn record(
        &self,
        reason: &str,
        mismatches: Vec<(&tron_store::trust_policies::TrustPolicyRecord, Mismatch)>,
    ) -> Result<(), OAuthError> {
        let mut key = Sha256::new();
        key.update(reason.as_bytes());
        for (policy, m) in &mismatches {
            key.update(format!("\n{}:{}", policy.id, m.claim).as_bytes());
        }
        let key = hex::encode(key.finalize());
        let policies: Vec<Value> = mismatches
            .iter()
            .map(|(policy, m)| {
                json!({
                    "id": policy.id,
                    "name": policy.name,
                    "claim": m.claim,
                    "wanted": m.wanted,
                    "seen": m.seen,
                })
            })
            .collect();
        let details = json!({
            "reason": reason,
            "issuer": self.token.issuer.as_str(),
            "sub": self.token.sub,
            "jti": self.token.jti,
            "policies": policies,
            "claims": review_claims(self.token),
        });
        let now = self.state.now();
        let data = tron_webhooks::data::ExchangeRejected {
            service_account: tron_webhooks::data::ServiceAccountRef {
                id: self.sa.0,
                name: self.found.service_account_name.clone(),
            },
            issuer: self.token.issuer.as_str().to_owned(),
            subject: self.token.sub.clone(),
            policies: mismatches
                .iter()
                .map(|(policy, m)| tron_webhooks::data::PolicyMismatch {
                    policy_id: policy.id.0,
                    claim: m.claim.clone(),
                    pattern: m.wanted.clone(),
                    value: m.seen.clone(),
                })
                .collect(),
        };
        let event = tron_webhooks::Event::new(
            uuid::Uuid::now_v7(),
            self.found.organization_id.0,
            now,
            &data,
        )
        .map_err(|e| store_unavailable(tron_core::Error::internal(e.to_string())))?;
        self.state
            .store
            .record_exchange_rejection(
                &anonymous_meta(self.client),
                now,
                self.found.organization_id,
                self.sa,
                &self.found.service_account_name,
                &key,
                details,
                &event,
            )
            .await
            .map_err(store_unavailable)?;
        Ok(())
    }
}
