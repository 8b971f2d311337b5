//! Tron's keyless CI core (SPEC §7): everything about exchanging a CI
//! job's OIDC ID token that does not touch storage.
//!
//! - [`TrustedIssuers`]: the operator's `TRON_OIDC_ISSUERS`;
//! - [`KeyCache`]: each trusted issuer's keys, fetched through discovery,
//!   cached, refreshed and refetched within bounds;
//! - [`Verifier::verify`]: an ID token to [`VerifiedToken`] or a
//!   [`Rejection`] with its `error_description`;
//! - [`TrustPolicy`]: validation of a policy, and [`TrustPolicy::check`],
//!   which names the first claim that did not match;
//! - [`wire`]: the RFC 8693 request, response and RFC 6749 error body;
//! - `testing` (feature): a local OIDC issuer for tests.
//!
//! The server's exchange parses an [`ExchangeRequest`], calls `verify`,
//! records the `jti` in the same transaction as the token it mints, and
//! tries the account's policies for the token's issuer with `check`.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod issuers;
pub mod jwks;
pub mod keys;
pub mod policy;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod verify;
pub mod wire;

#[cfg(test)]
mod http_tests;

pub use issuers::{Issuer, IssuerError, TrustedIssuers};
pub use jwks::{KeySet, PublicKey};
pub use keys::{FetchError, KeyCache, KeyCacheConfig, KeyError};
pub use policy::{Mismatch, Pattern, PolicyError, PolicyInput, TrustPolicy};
pub use verify::{Rejection, VerifiedToken, Verifier};
pub use wire::{ExchangeRequest, ExchangeResponse, OAuthError};
