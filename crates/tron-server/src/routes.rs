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
    /// Organization routes registered here by mistake (see [`Routes::route`]).
    misplaced: Vec<String>,
    _prefix: PhantomData<P>,
}

/// Organization routes registered outside `Routes<Org>`: they would skip
/// the organization access context, so the server refuses to start.
#[derive(Debug, thiserror::Error)]
#[error("organization routes registered outside Routes<Org>: {}", .0.join(", "))]
pub struct MisplacedRoutes(pub Vec<String>);

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
    pub fn route(self, path: &str, method_router: MethodRouter<AppState>) -> Self {
        let full = if path == "/" {
            P::PREFIX.to_owned()
        } else {
            format!("{}{path}", P::PREFIX)
        };
        // An organization route registered anywhere else would skip the
        // access context: it is not registered, and the table cannot be
        // turned into a router (`into_router` says which).
        let mut misplaced = self.misplaced;
        if P::PREFIX != Org::PREFIX && full.starts_with("/api/v1/organizations/{") {
            misplaced.push(full);
            return Routes {
                router: self.router,
                misplaced,
                _prefix: PhantomData,
            };
        }
        Routes {
            router: self.router.route(&full, method_router),
            misplaced,
            _prefix: PhantomData,
        }
    }

    pub fn merge(self, other: Routes<P>) -> Self {
        let mut misplaced = self.misplaced;
        misplaced.extend(other.misplaced);
        Routes {
            router: self.router.merge(other.router),
            misplaced,
            _prefix: PhantomData,
        }
    }

    pub(crate) fn into_inner(self) -> Router<AppState> {
        self.router
    }
}

impl Routes<Api> {
    pub fn into_router(self) -> Result<Router<AppState>, MisplacedRoutes> {
        if self.misplaced.is_empty() {
            Ok(self.router)
        } else {
            Err(MisplacedRoutes(self.misplaced))
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::get;

    use super::*;

    /// Issue 13, defect 16: a misplaced organization route is a start-up
    /// error naming it, not a panic.
    #[test]
    fn organization_routes_outside_their_table_are_refused() {
        let ok = Routes::<Api>::new().route("/me", get(|| async {}));
        assert!(ok.into_router().is_ok());
        let bad = Routes::<Api>::new()
            .route("/me", get(|| async {}))
            .merge(Routes::<Api>::new().route("/organizations/{org}/secrets", get(|| async {})));
        let err = bad
            .into_router()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("/api/v1/organizations/{org}/secrets"), "{err}");
        // Through their own table they are fine.
        let org = Routes::<Org>::new().route("/secrets", get(|| async {}));
        assert!(org.misplaced.is_empty());
    }
}
