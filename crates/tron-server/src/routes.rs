//! Route tables registered with their full paths.
//!
//! `Router::nest` would give every nested route a URI rewrite and two more
//! boxed service layers per request; on the hottest automation calls that
//! was a measurable share of the server's time (see docs/decisions.md,
//! "Hot path"). [`Routes`] prefixes paths at registration instead, and its
//! type says which prefix: a [`Routes<Org>`] table can only be turned into a
//! router by [`crate::access::organization_routes`], which puts it behind
//! the organization access context.
use std::marker::PhantomData;

use axum::routing::MethodRouter;
use axum::Router;

use crate::state::AppState;

/// Where a route table is mounted.
pub trait Prefix {
    const PREFIX: &'static str;
}

/// Routes under `/api/v1`.
pub enum Api {}
/// Routes under `/api/v1/organizations/{org}`.
pub enum Org {}

impl Prefix for Api {
    const PREFIX: &'static str = "/api/v1";
}

impl Prefix for Org {
    const PREFIX: &'static str = "/api/v1/organizations/{org}";
}

pub struct Routes<P: Prefix> {
    router: Router<AppState>,
    _prefix: PhantomData<P>,
}

impl<P: Prefix> Default for Routes<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Prefix> Routes<P> {
    pub fn new() -> Self {
        Routes {
            router: Router::new(),
            _prefix: PhantomData,
        }
    }

    /// Adds `path` (relative to the prefix; `/` is the prefix itself).
    pub fn route(self, path: &str, method_router: MethodRouter<AppState>) -> Self {
        let full = if path == "/" {
            P::PREFIX.to_owned()
        } else {
            format!("{}{path}", P::PREFIX)
        };
        // An organization route registered anywhere else would skip the
        // access context: refuse to build such a table at all.
        assert!(
            P::PREFIX == Org::PREFIX || !full.starts_with("/api/v1/organizations/{"),
            "{full} must be registered through Routes<Org>"
        );
        Routes {
            router: self.router.route(&full, method_router),
            _prefix: PhantomData,
        }
    }

    pub fn merge(self, other: Routes<P>) -> Self {
        Routes {
            router: self.router.merge(other.router),
            _prefix: PhantomData,
        }
    }

    pub(crate) fn into_inner(self) -> Router<AppState> {
        self.router
    }
}

impl Routes<Api> {
    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}
