//! The organization-scoped store.
//!
//! Invariant: organization data is reachable only through an [`OrgStore`],
//! and an `OrgStore` is only opened with an [`OrgKey`]. A key is minted in
//! one place, [`Store::load_access`], which the server's access context
//! calls after authenticating the request and before deciding whether the
//! principal may see the organization at all; no other constructor exists
//! (the field is private to this crate). So a handler cannot write
//! `store.get_environment(other_org, …)`: the organization-scoped functions
//! are `pub` on `OrgStore` only, take no organization id, and filter by the
//! one their key names. The handle also carries the request's audit
//! metadata and the clock, so no call site passes `meta`, `now` or the
//! organization by hand.
use std::ops::Deref;

use chrono::{DateTime, Utc};
use tron_core::clock::Clock;
use tron_core::ids::OrganizationId;

use crate::members::MemberKey;
use crate::models::{Membership, Organization, RequestMeta};
use crate::{Result, Store};

/// Proof that an organization was loaded through the access path. Cheap to
/// copy; only [`Store::load_access`] makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgKey {
    id: OrganizationId,
}

impl OrgKey {
    pub fn id(&self) -> OrganizationId {
        self.id
    }
}

/// An organization with a principal's membership in it (`None` for a
/// non-member), and the key to its data.
#[derive(Debug)]
pub struct Access {
    pub organization: Organization,
    pub membership: Option<Membership>,
    pub key: OrgKey,
}

/// Who is acting, for audit events; asked only when something is written,
/// so a read never builds it.
pub trait Actor: Send + Sync {
    fn meta(&self) -> &RequestMeta;
}

impl Actor for RequestMeta {
    fn meta(&self) -> &RequestMeta {
        self
    }
}

/// The store seen from inside one organization, for one request.
#[derive(Clone, Copy)]
pub struct OrgStore<'a> {
    store: &'a Store,
    pub(crate) org: OrganizationId,
    actor: &'a dyn Actor,
    pub(crate) now: DateTime<Utc>,
    pub(crate) clock: &'a dyn Clock,
}

impl Store {
    /// The organization and `who`'s membership in it, with the key that
    /// opens its data. The access context's loader is its one caller.
    pub async fn load_access(&self, org: OrganizationId, who: MemberKey) -> Result<Access> {
        let organization = self.get_organization(org).await?;
        let membership = self.load_membership(org, who).await?;
        Ok(Access {
            key: OrgKey {
                id: organization.id,
            },
            organization,
            membership,
        })
    }

    /// Opens the organization's data for one request. `now` is read from
    /// `clock` here; functions that must read the time under a lock read
    /// `clock` again.
    pub fn organization<'a>(
        &'a self,
        key: OrgKey,
        actor: &'a dyn Actor,
        clock: &'a dyn Clock,
    ) -> OrgStore<'a> {
        OrgStore {
            store: self,
            org: key.id,
            actor,
            now: clock.now(),
            clock,
        }
    }
}

impl<'a> OrgStore<'a> {
    pub fn id(&self) -> OrganizationId {
        self.org
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    pub(crate) fn meta(&self) -> &'a RequestMeta {
        self.actor.meta()
    }
}

impl Deref for OrgStore<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
    }
}

impl std::fmt::Debug for OrgStore<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgStore").field("org", &self.org).finish()
    }
}

/// A key for this crate's own tests; an
/// integration test goes through HTTP instead.
#[cfg(test)]
impl OrgKey {
    pub fn for_tests(id: OrganizationId) -> OrgKey {
        OrgKey { id }
    }
}
