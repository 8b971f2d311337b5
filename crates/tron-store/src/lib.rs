//! Tron's storage, on SQLite or PostgreSQL chosen by URL at run time.
//!
//! Both backends run the same SQL through sqlx's `Any` driver: ids are UUID
//! text, timestamps microseconds since the epoch and flags 0/1, so only the
//! migrations differ per backend. Invariant: every function that reads or
//! writes organization data takes the organization id and filters by it, and
//! every mutation writes its audit event in the same transaction.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod audit;
mod db;
pub mod groups;
pub mod invalidate;
pub mod members;
pub mod models;
pub mod organizations;
pub mod platform;
pub mod service_accounts;
pub mod tokens;
pub mod users;

pub use db::{sqlite_path, Backend, Page, PageRequest, Store};
pub use tron_core::{Error, Result};
