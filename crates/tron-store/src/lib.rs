//! Tron's storage, on SQLite or PostgreSQL chosen by URL at run time.
//!
//! Both backends run the same SQL through sqlx's `Any` driver: ids are UUID
//! text, timestamps microseconds since the epoch and flags 0/1, so only the
//! migrations differ per backend. Invariant: organization data is reachable
//! only through an [`OrgStore`], opened with the [`OrgKey`] that the access
//! path mints (see `scope`); every query it runs filters by that
//! organization, and every mutation writes its audit event in the same
//! transaction.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod audit;
mod db;
pub mod exchange;
pub mod groups;
pub mod invalidate;
pub mod members;
pub mod models;
mod named;
pub mod organizations;
pub mod platform;
mod retention;
mod scope;
pub mod service_accounts;
pub mod service_tokens;
pub mod tokens;
pub mod trust_policies;
pub mod users;
pub mod webhooks;
mod wire;
mod work;

pub use db::{sqlite_path, Backend, Page, PageRequest, Store};
pub use scope::{Access, Actor, OrgKey, OrgStore};
pub use tron_core::{Error, Result};
