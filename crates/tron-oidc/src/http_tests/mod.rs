//! Verification and the key cache against a local issuer over real HTTP;
//! the shared set-up is here.

mod keys;
mod verify;

use std::sync::Arc;

use serde_json::Value;
use tron_core::clock::{Clock, OffsetClock};

use crate::keys::{KeyCache, KeyCacheConfig, KeyError};
use crate::testing::TestIssuer;
use crate::verify::{Rejection, Verifier};
use crate::TrustedIssuers;

pub(super) struct Setup {
    issuer: TestIssuer,
    clock: OffsetClock,
    verifier: Verifier,
}

pub(super) async fn setup_with(config: KeyCacheConfig) -> Setup {
    let issuer = TestIssuer::start().await.unwrap();
    let clock = OffsetClock::default();
    let trusted =
        TrustedIssuers::parse(Some(&format!("https://gitlab.com,{}", issuer.issuer()))).unwrap();
    let keys = KeyCache::new(trusted, Arc::new(clock.clone()), config).unwrap();
    Setup {
        issuer,
        clock,
        verifier: Verifier::new(Arc::new(keys)),
    }
}

pub(super) async fn setup() -> Setup {
    setup_with(KeyCacheConfig::default()).await
}

impl Setup {
    fn claims(&self) -> Value {
        self.issuer.github_claims("tron", self.clock.now())
    }

    async fn verify(&self, token: &str) -> Result<crate::VerifiedToken, Rejection> {
        self.verifier.verify(token).await
    }

    async fn key(&self, kid: &str) -> Result<Arc<crate::PublicKey>, KeyError> {
        self.verifier.keys().key(&self.issuer.issuer(), kid).await
    }
}
