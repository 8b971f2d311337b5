//! Tron's webhook delivery core: everything about one webhook attempt that
//! does not touch storage.
//!
//! - [`WebhookSecret`]: `whsec_…` signing secrets, and [`SecretSealer`],
//!   their encryption at rest under a key derived from the server secret;
//! - [`signature`]: Standard Webhooks signing, and the receiver's check;
//! - [`Event`], [`EventType`], [`EventFilter`] and the typed [`data`];
//! - [`schedule::next_attempt`]: when to try again, or give up.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod data;
pub mod event;
pub mod schedule;
pub mod seal;
pub mod secret;
pub mod signature;

pub use event::{Event, EventFilter, EventType, FilterError};
pub use schedule::next_attempt;
pub use seal::{OpenError, SealError, SecretSealer};
pub use secret::{SecretError, WebhookSecret};
