//! Contract tests over HTTP, compiled into one binary. Every test in a
//! `contract!` list runs on SQLite and on PostgreSQL.
mod kit;

mod foundation;
mod portal;
