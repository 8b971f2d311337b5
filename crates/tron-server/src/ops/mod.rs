//! The operations: one function per use case, written once for the API and
//! the portal.
//!
//! Invariant: an operation is the only code that changes or reads
//! organization data. It takes the request's [`OrganizationAccessContext`]
//! and already-parsed input (the value types of `tron_core::values`, so no
//! unchecked text reaches it), checks the permission with `ctx.require`
//! before it touches anything, and calls the store through `ctx.store()`,
//! which writes the audit event in the change's own transaction. The API
//! handlers (JSON in, JSON out) and the portal handlers (a form in, a page
//! or a redirect out) are adapters around these functions and hold no
//! rule of their own, so the two cannot drift apart. Platform data
//! (users and their personal tokens, in `users`) belongs to no
//! organization: those operations take the caller and check it first.
//!
//! [`OrganizationAccessContext`]: crate::access::OrganizationAccessContext
pub mod applications;
pub mod audit;
pub mod environments;
pub mod exchange;
pub mod groups;
pub mod instances;
pub mod members;
pub mod organization;
pub mod service_accounts;
pub mod tokens;
pub mod trust_policies;
pub mod users;
pub mod webhooks;
