//! `POST /oidc/token`: the keyless CI exchange (SPEC §7, RFC 8693), an
//! adapter of `ops::exchange`. Anonymous, throttled per client address,
//! answering RFC 6749's error shape instead of the API's.
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Json;
use tron_oidc::wire::OAuthError;
use tron_oidc::{ExchangeRequest, ExchangeResponse};

use crate::auth::ClientInfo;
use crate::ops;
use crate::routes::{Api, Routes};
use crate::state::AppState;

pub fn router() -> Routes<Api> {
    Routes::new().route("/oidc/token", post(exchange))
}

/// RFC 6749 §5.1: token responses are not cached.
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn refuse(error: OAuthError, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, Json(error)).into_response();
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    no_store(response)
}

#[utoipa::path(post, path = "/oidc/token", tag = "keyless CI",
    request_body(content = tron_api::TokenExchange, content_type = "application/x-www-form-urlencoded",
        description = "Form-encoded as RFC 8693 says; a JSON object with the same fields is accepted too."),
    responses(
        (status = 200, description = "A short-lived service token of the account.", body = tron_api::TokenExchangeResponse),
        (status = 400, description = "The request or the ID token was refused (`invalid_request`, `unsupported_grant_type`).", body = tron_api::OAuthErrorBody),
        (status = 413, description = "The body is larger than 64 KiB.", body = tron_api::OAuthErrorBody),
        (status = 415, description = "The body is neither form-encoded nor JSON.", body = tron_api::OAuthErrorBody),
        (status = 429, description = "Too many exchanges from this client address (`slow_down`).", body = tron_api::OAuthErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "The issuer's keys cannot be had right now (`temporarily_unavailable`).", body = tron_api::OAuthErrorBody),
    ))]
async fn exchange(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Err(retry_after) = state
        .exchange_by_ip
        .try_hit(&client.ip_key(), state.now())
        .await
    {
        return refuse(OAuthError::slow_down(retry_after), Some(retry_after));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            let status = rejection.status();
            let mut response = refuse(OAuthError::invalid_request(rejection.body_text()), None);
            *response.status_mut() = status;
            return response;
        }
    };
    let request = match content_type.as_deref() {
        Some("application/x-www-form-urlencoded") => ExchangeRequest::from_form(&body),
        Some("application/json") => ExchangeRequest::from_json(&body),
        _ => {
            let error = OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded (or application/json)",
            );
            let mut response = refuse(error, None);
            *response.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
            return response;
        }
    };
    let request = match request {
        Ok(r) => r,
        Err(e) => return refuse(e, None),
    };
    match ops::exchange::exchange(&state, &client, &request).await {
        Ok(done) => no_store(
            Json(ExchangeResponse::new(done.secret.reveal(), done.expires_in)).into_response(),
        ),
        Err(e) => refuse(e, None),
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(exchange))]
pub struct Doc;
