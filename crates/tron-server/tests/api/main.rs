//! Contract tests over HTTP, compiled into one binary. Every test in a
//! `contract!` list runs on SQLite and on PostgreSQL.
mod kit;

mod audit;
mod auth_hardening;
mod connections;
mod foundation;
mod hot_path;
mod http_hardening;
mod keyless;
mod openapi;
mod outage;
mod portal;
mod portal_keyless;
mod portal_platform;
mod portal_users;
mod portal_webhooks;
mod portal_why;
mod proxy;
mod races;
mod rbac;
mod redirects;
mod retention;
mod service_accounts;
mod shared_limits;
mod webhooks;

// The typed client (tron-client) end to end.
mod client;
