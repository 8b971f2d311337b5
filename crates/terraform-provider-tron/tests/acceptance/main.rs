//! The provider driven by the real `terraform` binary against the real
//! server started in-process over a fresh SQLite database; one server and
//! one working folder per test.
//!
//! Fails, never skips, when `terraform` is not on the PATH.
mod harness;
mod organization;
mod service_accounts;
