//! `terraform-provider-tron`: Tron's Terraform provider, speaking plugin
//! protocol v6 (through the `tf-provider` crate: tonic, go-plugin's
//! handshake and its AutoMTLS) over the typed `tron-client`.
//!
//! Invariant: no token reaches the log. The provider's stderr is
//! Terraform's log, so nothing here prints a configuration, a state or a
//! response body; diagnostics carry only the API's error code and message,
//! which never repeat a request's values (SPEC §4).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod common;
mod data_sources;
mod group;
mod group_member;
mod lookup;
mod member;
mod platform;
mod platform_data;
mod provider;
mod service_account;
mod settings;
mod token;
mod trust_policy;
mod webhook;

/// go-plugin's handshake cookie for Terraform providers: a binary started
/// by hand (not by Terraform) says so and stops.
const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
const MAGIC_COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    if std::env::var(MAGIC_COOKIE_KEY).as_deref() != Ok(MAGIC_COOKIE_VALUE) {
        eprintln!(
            "This binary is a plugin for Terraform: it is not meant to be run directly. \
             Install it (or point dev_overrides at it) and run terraform."
        );
        std::process::exit(1);
    }
    tf_provider::serve("tron", provider::TronProvider::default()).await
}
