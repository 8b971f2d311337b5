//! `POST /tokens/revoke-leaked`, for secret scanners: no authentication,
//! throttled per client address.
use axum::extract::State;
use axum::routing::post;
use axum::Json;
use tron_api::{RevokeLeaked, Revoked};
use tron_core::token::SecretToken;
use tron_core::Error;

use crate::auth::{anonymous_meta, ClientInfo};
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::routes::{Api, Routes};
use crate::state::AppState;

pub const MAX_LEAKED_PER_CALL: usize = 1000;

pub fn router() -> Routes<Api> {
    Routes::new().route("/tokens/revoke-leaked", post(revoke_leaked))
}

#[utoipa::path(post, path = "/tokens/revoke-leaked", tag = "tokens", request_body = RevokeLeaked,
    responses(
        (status = 200, description = "How many listed tokens were revoked.", body = Revoked),
        (status = 429, description = "Too many calls from this client address.", body = crate::openapi::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ))]
async fn revoke_leaked(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<RevokeLeaked>,
) -> ApiResult<Json<Revoked>> {
    state
        .leaked_by_ip
        .try_hit(&client.ip_key(), state.now())
        .await
        .map_err(|retry_after_secs| Error::RateLimited { retry_after_secs })?;
    if body.tokens.len() > MAX_LEAKED_PER_CALL {
        return Err(Error::validation(
            "tokens",
            format!("at most {MAX_LEAKED_PER_CALL} tokens per call"),
        )
        .into());
    }
    // Malformed strings cannot be tokens: they are skipped without a lookup.
    let mut hashes: Vec<_> = body
        .tokens
        .iter()
        .filter_map(|t| SecretToken::parse(t.trim()))
        .map(|t| state.config.secret.hash(&t))
        .collect();
    hashes.sort();
    hashes.dedup();
    let revoked = state
        .store
        .revoke_leaked(&anonymous_meta(&client), &*state.clock, &hashes)
        .await?;
    Ok(Json(Revoked {
        revoked: revoked.len(),
    }))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(revoke_leaked))]
pub struct Doc;
