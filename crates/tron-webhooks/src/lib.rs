//! Tron's webhook delivery core: everything about one webhook attempt that
//! does not touch storage.
//!
//! - [`WebhookSecret`]: `whsec_…` signing secrets, and [`SecretSealer`],
//!   their encryption at rest under a key derived from the server secret;
//! - [`signature`]: Standard Webhooks signing, and the receiver's check;
//! - [`Event`], [`EventType`], [`EventFilter`] and the typed [`data`];
//! - [`ssrf`]: the SSRF guard, at registration and at delivery;
//! - [`Deliverer::deliver`]: one signed `POST`, an [`Outcome`] to record;
//! - [`schedule::next_attempt`]: when to try again, or give up;
//! - `testing` (feature): a signature-checking receiver for tests.
//!
//! The server's worker claims a due delivery, opens the secret, calls
//! `deliver`, records the outcome and, on failure, stores `next_attempt`
//! (or `failed` when it is `None`).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod data;
pub mod delivery;
pub mod event;
pub mod schedule;
pub mod seal;
pub mod secret;
pub mod signature;
pub mod ssrf;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use delivery::{AttemptResult, Deliverer, DeliveryConfig, FailureKind, Outcome};
pub use event::{Event, EventFilter, EventType, FilterError};
pub use schedule::next_attempt;
pub use seal::{OpenError, SealError, SecretSealer};
pub use secret::{SecretError, WebhookSecret};
pub use ssrf::{NetworkPolicy, TargetError, TargetUrl};
