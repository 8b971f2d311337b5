//! Tron's domain: identifiers, principals, the token format, roles, scopes and
//! the permission decision. No HTTP and no SQL lives here, so every rule can be
//! unit-tested on its own.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod authz;
pub mod clock;
pub mod error;
pub mod ids;
pub mod principal;
pub mod settings;
pub mod token;
pub mod validate;
pub mod values;

pub use error::{AuthFailure, Error, Result};
