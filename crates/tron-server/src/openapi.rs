//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`
//! annotations and the types' `ToSchema` derives, served at
//! `GET /api/v1/openapi.json`.
//!
//! What every route shares is added here, in one place, rather than
//! repeated on each handler: the path parameters (every `{name}` segment is
//! a UUID), the security requirement (every route except [`PUBLIC`]), and
//! the error responses that follow from the route's shape:
//!
//! - a token: `401` (and `403`, `429` for service tokens over their quota);
//! - a path parameter: `404`; under `/organizations/{org}`: `403`, `404`;
//! - a JSON body: `400`, `413`, `415`; query parameters: `400`.
//!
//! Route-specific answers (`409`, `429` of the login throttle) are on the
//! handlers. Every error uses the one [`ErrorBody`] schema.
use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, ObjectBuilder, OpenApi as Doc, Ref, RefOr, Required, ResponseBuilder,
};
use utoipa::{IntoParams, OpenApi, PartialSchema};

use crate::api;

/// Routes that need no token (method, path).
pub const PUBLIC: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/tokens/revoke-leaked"),
    ("post", "/api/v1/oidc/token"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
];

pub use tron_api::{ErrorBody, ErrorDetail, Status};

/// `limit` and `cursor` of every list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page (empty: the first page).
    #[param(
        pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is alive.", body = Status)))]
#[allow(dead_code)]
fn healthz() {}

#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Storage is reachable (`degraded` when Redis is configured and unreachable: limits are then counted per instance).", body = Status),
        (status = 503, description = "Storage is not reachable.", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn readyz() {}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition.",
        content_type = "text/plain", body = String)))]
#[allow(dead_code)]
fn metrics() {}

#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "This document.", body = Object)))]
#[allow(dead_code)]
fn openapi_json() {}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tron",
        description = "Tron's access layer: organizations, users, service accounts, groups, tokens, platform resources and the audit log.",
        license(name = "Apache-2.0"),
    ),
    paths(healthz, readyz, metrics)
)]
struct Root;

#[derive(OpenApi)]
#[openapi(paths(openapi_json))]
struct ApiRoot;

/// Builds the document (once per process).
pub fn document() -> &'static Doc {
    static DOC: OnceLock<Doc> = OnceLock::new();
    DOC.get_or_init(build)
}

fn build() -> Doc {
    let mut v1 = ApiRoot::openapi();
    for part in [
        api::me::Doc::openapi(),
        api::users::Doc::openapi(),
        api::tokens::Doc::openapi(),
        api::organizations::Doc::openapi(),
        api::groups::Doc::openapi(),
        api::access_check::Doc::openapi(),
        api::platform::Doc::openapi(),
        api::service_accounts::Doc::openapi(),
        api::trust_policies::Doc::openapi(),
        api::oidc::Doc::openapi(),
        api::webhooks::Doc::openapi(),
        api::audit::Doc::openapi(),
    ] {
        v1.merge(part);
    }
    let mut doc = Root::openapi().nest("/api/v1", v1);
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .schemas
        .insert("ErrorBody".to_owned(), ErrorBody::schema());
    components
        .schemas
        .insert("ErrorDetail".to_owned(), ErrorDetail::schema());
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("trn_(ses|pat|sat)_…")
                .description(Some("`Authorization: Bearer <token>`"))
                .build(),
        ),
    );
    components.add_security_scheme(
        "x-tron-token",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "x-tron-token",
            "The token in the `x-tron-token` header.",
        ))),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("delete", &mut item.delete),
            ("patch", &mut item.patch),
        ];
        for (method, op) in ops {
            if let Some(op) = op {
                complete(path, method, op);
            }
        }
    }
    doc
}

fn error_ref() -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description("An error.")
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

fn add_error(op: &mut Operation, status: u16, description: &str) {
    let key = status.to_string();
    if op.responses.responses.contains_key(&key) {
        return;
    }
    let mut r = error_ref();
    if let RefOr::T(resp) = &mut r {
        resp.description = description.to_owned();
        if status == 401 {
            resp.headers.insert(
                "WWW-Authenticate".to_owned(),
                utoipa::openapi::header::Header::new(ObjectBuilder::new()),
            );
        }
        if status == 429 {
            resp.headers.insert(
                "Retry-After".to_owned(),
                utoipa::openapi::header::Header::new(ObjectBuilder::new()),
            );
        }
    }
    op.responses.responses.insert(key, r);
}

/// Adds what follows from the route's shape (see the module's comment).
fn complete(path: &str, method: &str, op: &mut Operation) {
    // Unique operation ids (handlers' names repeat across modules):
    // `patch_users_id`, `get_organizations_org_groups`, …
    let words: Vec<&str> = path
        .trim_start_matches("/api/v1")
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    op.operation_id = Some(format!("{method}_{}", words.join("_")));
    // Path parameters: every `{name}` is a UUID.
    let params = op.parameters.get_or_insert_with(Vec::new);
    let names: Vec<&str> = path
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect();
    for (i, name) in names.iter().enumerate() {
        if params
            .iter()
            .any(|p| p.name == *name && p.parameter_in == ParameterIn::Path)
        {
            continue;
        }
        params.insert(
            i,
            ParameterBuilder::new()
                .name(*name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::String)
                        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                            utoipa::openapi::KnownFormat::Uuid,
                        ))),
                ))
                .build(),
        );
    }
    let has_query = params.iter().any(|p| p.parameter_in == ParameterIn::Query);
    if params.is_empty() {
        op.parameters = None;
    }
    let public = PUBLIC.iter().any(|(m, p)| *m == method && *p == path);
    if public {
        op.security = Some(Vec::new());
    } else {
        op.security = Some(vec![
            SecurityRequirement::new::<_, _, &str>("bearer", []),
            SecurityRequirement::new::<_, _, &str>("x-tron-token", []),
        ]);
        add_error(
            op,
            401,
            "No token, or an invalid, expired or revoked one, or a disabled principal.",
        );
        if !(method == "get" && path == "/api/v1/me") {
            add_error(op, 403, "The caller may not do this.");
        }
        add_error(
            op,
            429,
            "A service token over its organization's rate limit.",
        );
    }
    if !names.is_empty() {
        add_error(op, 404, "Not found (or not visible to the caller).");
    }
    if op.request_body.is_some() {
        add_error(op, 400, "The body is malformed or not valid.");
        add_error(op, 413, "The body is larger than 64 KiB.");
        add_error(op, 415, "The body is not JSON.");
    }
    if has_query {
        add_error(op, 400, "A query parameter is not valid.");
    }
}

/// `GET /api/v1/openapi.json`.
pub async fn serve_document() -> Response {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(|| document().to_json().unwrap_or_else(|_| "{}".to_owned()));
    ([(header::CONTENT_TYPE, "application/json")], body.as_str()).into_response()
}
