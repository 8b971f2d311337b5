//! Tron's HTTP server: the API under `/api/v1`, operations endpoints and the
//! web portal at `/`.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod access;
pub mod api;
pub mod auth;
pub mod bootstrap;
pub mod cache;
pub mod client;
mod conn;
pub mod deliveries;
pub mod docs;
pub mod error;
pub mod extract;
pub mod flap;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod password;
pub mod portal;
pub mod ratelimit;
pub mod retention;
pub mod routes;
pub mod shared;
pub mod startup;
pub mod state;
pub mod throttle;
pub mod usage;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tower::layer::layer_fn;
use tower::{Service, ServiceBuilder};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

pub use state::{AppState, Config};

use crate::auth::RateSlot;
use crate::error::error_body;

pub(crate) static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
static RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
static RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Ready while storage answers. Without Redis (when it is configured) the
/// server still serves, with limits counted per instance: still `200`, but
/// `degraded`, and says why.
async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => match &state.shared {
            None => Json(json!({"status": "ready"})).into_response(),
            Some(shared) => match shared.probe().await {
                shared::RedisHealth::Up => {
                    Json(json!({"status": "ready", "redis": "up"})).into_response()
                }
                shared::RedisHealth::Down => Json(json!({
                    "status": "degraded",
                    "redis": "down",
                    "detail": "Redis is unreachable: rate limits and throttles are counted per instance.",
                }))
                .into_response(),
            },
        },
        Err(e) => {
            tracing::warn!(error = %e, "storage is not reachable");
            error_body(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Storage is not reachable.",
                None,
            )
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    state.cache.report_sizes();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// How long a request may take; then it answers `408 request_timeout` (the
/// handler is dropped, and an open transaction rolls back).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The future of this crate's own tower services.
pub(crate) type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// Around every route: the [`REQUEST_TIMEOUT`], and the count of requests
/// by route template, method and status (a timed-out request is counted as
/// its `408`). A route layer, because only the router knows the template;
/// a plain service, because `middleware::from_fn` would clone its inner
/// route and box a `Next` on every request.
#[derive(Clone)]
struct Track<S> {
    metrics: std::sync::Arc<metrics::Metrics>,
    inner: S,
}

impl<S> Service<Request> for Track<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let route = req.extensions().get::<MatchedPath>().cloned();
        let method = req.method().clone();
        let metrics = self.metrics.clone();
        let start = Instant::now();
        let response = tokio::time::timeout(REQUEST_TIMEOUT, self.inner.call(req));
        Box::pin(async move {
            let resp = match response.await {
                Ok(Ok(resp)) => resp,
                Err(_) => error_body(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    "The request took too long.",
                    None,
                ),
            };
            metrics.request(
                route.as_ref().map_or("unmatched", MatchedPath::as_str),
                method.as_str(),
                resp.status().as_u16(),
                start.elapsed().as_secs_f64(),
            );
            Ok(resp)
        })
    }
}

/// `RateLimit-*` headers on every response to a service token.
async fn rate_headers(mut req: Request, next: Next) -> Response {
    let slot = RateSlot::default();
    req.extensions_mut().insert(slot.clone());
    let mut resp = next.run(req).await;
    if let Some(info) = slot.get() {
        let h = resp.headers_mut();
        h.insert(RATELIMIT_LIMIT.clone(), HeaderValue::from(info.limit));
        h.insert(
            RATELIMIT_REMAINING.clone(),
            HeaderValue::from(info.remaining),
        );
        h.insert(RATELIMIT_RESET.clone(), HeaderValue::from(info.reset));
    }
    resp
}

async fn not_found(req: axum::extract::Request) -> Response {
    if wants_html(&req) {
        return portal::not_found_page();
    }
    error_body(
        StatusCode::NOT_FOUND,
        "not_found",
        "There is nothing at this address.",
        None,
    )
}

/// A browser navigating outside the API gets pages, not JSON.
fn wants_html(req: &axum::extract::Request) -> bool {
    !req.uri().path().starts_with("/api/")
        && req
            .headers()
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
}

async fn method_not_allowed(req: axum::extract::Request) -> Response {
    if wants_html(&req) {
        return portal::method_not_allowed_page();
    }
    error_body(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This method is not allowed here.",
        None,
    )
}

/// The whole application: API, operations endpoints and middleware.
///
/// Limits: bodies over 64 KiB answer `413`; a request taking more than
/// [`REQUEST_TIMEOUT`] answers `408`. Header sizes are hyper's HTTP/1
/// defaults: at most 100 headers, and the request head (request line and
/// headers) must fit the ~400 KiB read buffer, else the connection gets
/// `431`/is closed before any handler runs. Every response carries
/// `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`,
/// `Referrer-Policy: no-referrer` (the portal's pages: `same-origin`) and,
/// unless the handler says otherwise, `Cache-Control: no-store`.
///
/// The middleware that needs no route wraps the router once, as one
/// concrete service. `Router::layer` would put each layer around every
/// route as one more boxed service, and a boxed route clones everything it
/// wraps on each call: with ten layers, dozens of allocations per request
/// (docs/decisions.md, "Hot path"). Only [`Track`] (the timeout and the
/// request count, which needs the matched route) stays a route layer.
pub fn app(
    state: AppState,
) -> Result<
    impl Service<Request, Response = Response, Error = Infallible, Future: Send>
        + Clone
        + Send
        + Sync
        + 'static,
    routes::RouteError,
> {
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(api::router(&state)?)
        .merge(docs::router())
        .merge(portal::router(&state))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(layer_fn({
            let metrics = state.metrics.clone();
            move |inner| Track {
                metrics: metrics.clone(),
                inner,
            }
        }))
        .with_state(state);
    Ok(ServiceBuilder::new()
        .map_response(IntoResponse::into_response)
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(make_span as fn(&Request) -> Span))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("cache-control"),
            HeaderValue::from_static("no-store"),
        ))
        // The portal's pages set `same-origin` themselves (their forms post
        // back); everything else sends no referrer at all.
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
        .layer(middleware::from_fn(rate_headers))
        .layer(DefaultBodyLimit::max(extract::MAX_BODY))
        .service(router))
}

fn make_span(req: &Request) -> Span {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The path only: query strings are not logged.
    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish and
/// writes pending `last_used_at` values.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Before anything is spawned: a route table that cannot be built is a
    // start-up error.
    let app = app(state.clone()).map_err(std::io::Error::other)?;
    let flusher = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(state.config.usage_flush_interval);
            tick.tick().await;
            loop {
                tick.tick().await;
                state.usage.flush(&state.store).await;
            }
        })
    };
    let listener_task = {
        let cache = state.cache.clone();
        let live = cache.live();
        state.store.spawn_invalidation_listener(
            std::sync::Arc::new(move |inv| cache.invalidate(inv)),
            live,
        )
    };
    // Redis's state is known (and an unreachable one logged) from the
    // start, not from the first limited request.
    if let Some(shared) = state.shared.clone() {
        tokio::spawn(async move {
            shared.probe().await;
        });
    }
    let webhooks = deliveries::spawn(&state);
    let retention = retention::spawn(&state);
    conn::serve_connections(listener, app, &state, shutdown).await;
    let result = Ok(());
    flusher.abort();
    for task in webhooks.into_iter().chain(retention) {
        task.abort();
    }
    if let Some(t) = listener_task {
        t.abort();
    }
    state.usage.flush(&state.store).await;
    result
}

/// How long a graceful shutdown may wait for in-flight requests.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);
