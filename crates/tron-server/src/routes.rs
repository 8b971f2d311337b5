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
    /// Organization paths registered outside [`Routes<Org>`]: they would
    /// skip the access context, so the table refuses to become a router.
    misplaced: Vec<String>,
    _prefix: PhantomData<P>,
}

/// A route table that cannot be served; the server refuses to start.
#[derive(Debug, thiserror::Error)]
#[error(
    "{path} must be registered through Routes<Org> (it would skip the organization access context)"
)]
pub struct RouteError {
    pub path: String,
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
            misplaced: Vec::new(),
            _prefix: PhantomData,
        }
    }

    /// Adds `path` (relative to the prefix; `/` is the prefix itself).
    pub fn route(mut self, path: &str, method_router: MethodRouter<AppState>) -> Self {
        let full = if path == "/" {
            P::PREFIX.to_owned()
        } else {
            format!("{}{path}", P::PREFIX)
        };
        // An organization route registered anywhere else would skip the
        // access context: such a table is never turned into a router
        // (`into_router` answers the error, and the server does not start).
        if P::PREFIX != Org::PREFIX && full.starts_with("/api/v1/organizations/{") {
            self.misplaced.push(full);
            return self;
        }
        Routes {
            router: self.router.route(&full, method_router),
            misplaced: self.misplaced,
            _prefix: PhantomData,
        }
    }

    pub fn merge(mut self, other: Routes<P>) -> Self {
        self.misplaced.extend(other.misplaced);
        Routes {
            router: self.router.merge(other.router),
            misplaced: self.misplaced,
            _prefix: PhantomData,
        }
    }

    pub(crate) fn into_inner(self) -> Router<AppState> {
        self.router
    }
}

impl Routes<Api> {
    /// The router, unless an organization path was registered here.
    pub fn into_router(self) -> Result<Router<AppState>, RouteError> {
        match self.misplaced.into_iter().next() {
            Some(path) => Err(RouteError { path }),
            None => Ok(self.router),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::get;

    use super::*;

    #[test]
    fn an_organization_path_outside_routes_org_is_a_start_up_error() {
        let routes = Routes::<Api>::new()
            .route("/me", get(|| async {}))
            .route("/organizations/{org}/secrets", get(|| async {}));
        let err = routes.into_router().err().map(|e| e.path);
        assert_eq!(err.as_deref(), Some("/api/v1/organizations/{org}/secrets"));
        // Merged from another table, too.
        let merged = Routes::<Api>::new()
            .merge(Routes::<Api>::new().route("/organizations/{org}/x", get(|| async {})));
        assert!(merged.into_router().is_err());
        assert!(Routes::<Api>::new()
            .route("/organizations", get(|| async {}))
            .into_router()
            .is_ok());
    }
}
