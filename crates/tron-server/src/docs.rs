//! `/api/docs`: Swagger UI over `/api/v1/openapi.json`, embedded in the
//! binary (vendored `swagger-ui-dist`, see `static/swagger/README.md`).
//! No inline script or style: the page's CSP allows only this origin (plus
//! `data:` images, which Swagger UI's stylesheet uses for its icons).
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tron API</title>
<link rel="stylesheet" href="/api/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/api/docs/swagger-ui-bundle.js"></script>
<script src="/api/docs/init.js"></script>
</body>
</html>
"#;

const CSS: &[u8] = include_bytes!("../static/swagger/swagger-ui.css");
const BUNDLE: &[u8] = include_bytes!("../static/swagger/swagger-ui-bundle.js");
const INIT: &[u8] = include_bytes!("../static/swagger/init.js");
const LICENSE: &[u8] = include_bytes!("../static/swagger/LICENSE");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/docs", get(|| async { page() }))
        .route(
            "/api/docs/swagger-ui.css",
            get(|| async { asset("text/css; charset=utf-8", CSS) }),
        )
        .route(
            "/api/docs/swagger-ui-bundle.js",
            get(|| async { asset("text/javascript; charset=utf-8", BUNDLE) }),
        )
        .route(
            "/api/docs/init.js",
            get(|| async { asset("text/javascript; charset=utf-8", INIT) }),
        )
        .route(
            "/api/docs/LICENSE",
            get(|| async { asset("text/plain; charset=utf-8", LICENSE) }),
        )
}

fn page() -> Response {
    let mut resp = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE).into_response();
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    resp
}

fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
