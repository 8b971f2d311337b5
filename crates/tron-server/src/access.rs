//! The OrganizationAccessContext: token → principal → organization member
//! → groups → decision, resolved once per request.
//!
//! Invariant: every route under `/organizations/{org}` is mounted in the
//! router returned by [`organization_routes`], whose layer resolves this
//! context before any handler runs. Such routes can only be declared in a
//! `Routes<Org>` table (see `crate::routes`), which only this function turns
//! into a router. A caller that is not a member (and not a
//! superuser acting by session or personal token) gets `404` there, so no
//! handler under the prefix can run for it. Handlers then get the context
//! through the [`OrgCtx`] extractor, take the organization id only from it,
//! and call [`OrganizationAccessContext::require`] before touching data.
use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::{DateTime, Utc};
use tower::layer::layer_fn;
use tower::Service;
use tron_core::authz::{
    decide, requirement, Action, Decision, Grant, Requirement, Resource, Visible,
};
use tron_core::ids::{ApplicationId, EnvironmentId, MemberId, OrganizationId};
use tron_core::principal::{Principal, PrincipalKind};
use tron_core::Error;
use tron_store::members::MemberKey;
use tron_store::models::{Membership, Organization, RequestMeta};
use tron_store::OrgStore;

use crate::auth::{Auth, ClientInfo};
use crate::cache::{AccessEntry, AccessKey};
use crate::error::ApiError;
use crate::extract::PathParams;
use crate::routes::{Org, Routes};
use crate::state::AppState;

pub struct OrganizationAccessContext {
    /// The store and the clock, for [`store`](Self::store).
    state: AppState,
    principal: Principal,
    /// The organization and membership, shared with the cache.
    access: Arc<AccessEntry>,
    superuser: bool,
    client: ClientInfo,
    /// The route's path parameters, decoded by the API's layer; the
    /// handler's [`PathParams`] reads them from here.
    path: Option<PathParams>,
    /// Built on first use: reads do not need it.
    meta: OnceLock<RequestMeta>,
}

impl OrganizationAccessContext {
    pub(crate) async fn resolve(
        state: &AppState,
        principal: Principal,
        org_id: OrganizationId,
        client: ClientInfo,
        path: Option<PathParams>,
    ) -> Result<Self, Error> {
        // A service account belongs to one organization; any other is hidden.
        if let PrincipalKind::ServiceAccount {
            organization_id, ..
        } = principal.kind
        {
            if organization_id != org_id {
                return Err(Error::NotFound);
            }
        }
        let key = match (principal.user_id(), principal.service_account_id()) {
            (Some(u), _) => MemberKey::User(u),
            (None, Some(s)) => MemberKey::ServiceAccount(s),
            _ => return Err(Error::NotFound),
        };
        let access = load_access(state, org_id, key).await?;
        let superuser = principal.is_superuser();
        if access.membership.is_none() && !superuser {
            return Err(Error::NotFound);
        }
        Ok(OrganizationAccessContext {
            state: state.clone(),
            principal,
            access,
            superuser,
            client,
            path,
            meta: OnceLock::new(),
        })
    }

    /// The only handle on this organization's data: the store opened with
    /// the key the access path minted, this request's audit metadata and
    /// the time now.
    pub fn store(&self) -> OrgStore<'_> {
        self.state
            .store
            .organization(self.access.key, self, self.state.clock.as_ref())
    }

    /// The server's state, for the operations' use of its keys and caches.
    pub(crate) fn state(&self) -> &AppState {
        &self.state
    }

    /// The time now, for rules checked before the store is asked.
    pub fn now(&self) -> DateTime<Utc> {
        self.state.now()
    }

    pub fn org_id(&self) -> OrganizationId {
        self.access.organization.id
    }

    pub fn organization(&self) -> &Organization {
        &self.access.organization
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    pub fn client(&self) -> &ClientInfo {
        &self.client
    }

    pub(crate) fn path(&self) -> Option<&PathParams> {
        self.path.as_ref()
    }

    /// `None` for a superuser that is not a member.
    pub fn member_id(&self) -> Option<MemberId> {
        self.access.membership.as_ref().map(|m| m.member_id)
    }

    pub fn grants(&self) -> &[Grant] {
        self.access
            .membership
            .as_ref()
            .map_or(&[], |m: &Membership| &m.grants)
    }

    pub fn is_superuser(&self) -> bool {
        self.superuser
    }

    /// Audit metadata of this request.
    pub fn meta(&self) -> &RequestMeta {
        self.meta
            .get_or_init(|| self.client.meta(self.principal.actor()))
    }

    /// The decision, with its justification.
    pub fn decide(&self, action: Action, resource: &Resource) -> Option<Decision<'_>> {
        decide(self.grants(), self.superuser, resource, action)
    }

    pub fn allows(&self, action: Action, resource: &Resource) -> bool {
        self.decide(action, resource).is_some_and(|d| d.allowed)
    }

    /// `403 forbidden` unless the caller may perform `action` on `resource`
    /// (the refusal says which, for the portal's explanation).
    pub fn require(&self, action: Action, resource: &Resource) -> Result<(), Error> {
        match requirement(resource, action) {
            Requirement::Invalid => Err(Error::internal(format!(
                "route asks for a meaningless permission {action:?} on {resource:?}"
            ))),
            _ if self.allows(action, resource) => Ok(()),
            _ => Err(Error::Denied {
                action,
                resource: *resource,
            }),
        }
    }

    pub fn visible_environments(&self) -> Visible<EnvironmentId> {
        tron_core::authz::visible_environments(self.grants(), self.superuser)
    }

    pub fn visible_applications(&self) -> Visible<ApplicationId> {
        tron_core::authz::visible_applications(self.grants(), self.superuser)
    }
}

impl tron_store::Actor for OrganizationAccessContext {
    fn meta(&self) -> &RequestMeta {
        OrganizationAccessContext::meta(self)
    }
}

impl std::fmt::Debug for OrganizationAccessContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrganizationAccessContext")
            .field("principal", &self.principal)
            .field("organization", &self.access.organization.id)
            .field("superuser", &self.superuser)
            .finish_non_exhaustive()
    }
}

/// The organization and a principal's membership, through the cache.
async fn load_access(
    state: &AppState,
    org: OrganizationId,
    who: MemberKey,
) -> Result<Arc<AccessEntry>, Error> {
    let key = AccessKey {
        organization: org,
        who: who.into(),
    };
    if let Some(hit) = state.cache.get_access(&key) {
        return Ok(hit);
    }
    // Boxed: the cold path, kept out of every request's future.
    let epoch = state.cache.epoch();
    let entry = Arc::new(Box::pin(state.store.load_access(org, who)).await?);
    state.cache.put_access(key, entry.clone(), epoch);
    Ok(entry)
}

/// The handlers' handle on the context.
#[derive(Clone)]
pub struct OrgCtx(pub Arc<OrganizationAccessContext>);

impl std::ops::Deref for OrgCtx {
    type Target = OrganizationAccessContext;
    fn deref(&self) -> &OrganizationAccessContext {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for OrgCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<OrgCtx>()
            .cloned()
            .ok_or_else(|| ApiError(Error::internal("route mounted outside organization_routes")))
    }
}

/// Resolves the context before the route's handler runs; refusals answer
/// here. A plain tower service rather than `middleware::from_fn`, which
/// boxes the inner service and a `Next` on every request.
#[derive(Clone)]
struct Resolve<S> {
    state: AppState,
    inner: S,
}

impl<S> Service<Request> for Resolve<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = crate::ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The service that was polled ready handles this request; a clone
        // stays for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            match resolve_parts(&state, &mut parts).await {
                Ok(ctx) => {
                    parts.extensions.insert(OrgCtx(Arc::new(ctx)));
                    inner.call(Request::from_parts(parts, body)).await
                }
                Err(e) => Ok(e.into_response()),
            }
        })
    }
}

async fn resolve_parts(
    state: &AppState,
    parts: &mut Parts,
) -> Result<OrganizationAccessContext, ApiError> {
    // The context carries the principal, the client and the path on to the
    // handler's extractors: one extension instead of four.
    let client = ClientInfo::of(parts, state);
    let principal = Auth::authenticate(parts, state, &client).await?;
    let path = PathParams::decode(parts).await?;
    let org: OrganizationId = path.id("org")?;
    Ok(OrganizationAccessContext::resolve(state, principal, org, client, Some(path)).await?)
}

/// The organization routes (all under `/api/v1/organizations/{org}`, by
/// their type) behind the context layer.
pub fn organization_routes(state: &AppState, routes: Routes<Org>) -> Router<AppState> {
    let state = state.clone();
    routes
        .into_inner()
        .route_layer(layer_fn(move |inner| Resolve {
            state: state.clone(),
            inner,
        }))
}

/// The key to an organization's data is minted on one path: the store's
/// `load_access`, called by this module's loader, and opened by
/// [`OrganizationAccessContext::store`]. The compiler cannot hold that
/// across crates (the store cannot know the server), so this test does:
/// no other file of the server calls either.
#[cfg(test)]
mod one_path_tests {
    #[test]
    fn only_the_access_context_mints_and_opens_organization_keys() {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(p);
                }
            }
        }
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        walk(&src, &mut files);
        assert!(files.len() > 20, "the server's sources were found");
        let mut offenders = Vec::new();
        for f in files {
            if f.ends_with("access.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            for needle in [".load_access(", ".organization(self", "store.organization("] {
                if text.contains(needle) {
                    offenders.push(format!("{}: {needle}", f.display()));
                }
            }
        }
        assert!(offenders.is_empty(), "{offenders:?}");
    }
}
