//! The request and response types of Tron's HTTP API (`/api/v1`), shared by
//! the server (which answers with them and documents them in its OpenAPI
//! document) and the client (which reads them).
//!
//! Request fields use the validated value types of `tron_core::values`:
//! a body that deserializes is a valid one. Responses are plain data;
//! the server converts its storage models into them.
#![forbid(unsafe_code)]

pub mod requests;
pub mod responses;

pub use requests::*;
pub use responses::*;
