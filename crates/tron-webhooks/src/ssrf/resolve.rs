//! Name resolution for deliveries, with the address check in it.
//!
//! Invariant: reqwest connects only to addresses this resolver returned, and
//! it returns only addresses the [`NetworkPolicy`] allows, from the one
//! lookup it made. IP-literal hosts never reach a resolver (hyper connects
//! to them directly): [`crate::ssrf::TargetUrl::parse`] checks those
//! before each delivery. Proxies are disabled on the client, since a proxy
//! would resolve the name itself.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::{AddressClass, NetworkPolicy};

/// A boxed lookup future.
pub type LookupFuture = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// Turns a host name into addresses. [`SystemLookup`] in production; tests
/// inject names that resolve where they need.
pub trait Lookup: Send + Sync + 'static {
    fn lookup(&self, host: &str) -> LookupFuture;
}

/// The operating system's resolver (`getaddrinfo`, through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: &str) -> LookupFuture {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// Why a name gives no address to connect to. Found in reqwest's error
/// chain by [`crate::delivery`] to write a clear reason in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the host resolves to {0}, which webhooks may not reach")]
    Forbidden(AddressClass),
    #[error("the host resolves to no address")]
    NoAddress,
}

/// Why a delivery has no address to connect to.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("the host could not be resolved")]
    Lookup(#[source] io::Error),
}

/// The reqwest resolver: one lookup, every address checked, only the
/// allowed ones handed on (port 0: hyper puts the URL's port in).
pub struct GuardedResolver {
    policy: NetworkPolicy,
    lookup: Arc<dyn Lookup>,
}

impl GuardedResolver {
    pub fn new(policy: NetworkPolicy, lookup: Arc<dyn Lookup>) -> Self {
        GuardedResolver { policy, lookup }
    }

    /// The addresses of `host` that may be reached, or why there are none.
    pub async fn allowed_addresses(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let found = self
            .lookup
            .lookup(host)
            .await
            .map_err(ResolveError::Lookup)?;
        let mut refused = None;
        let allowed: Vec<IpAddr> = found
            .into_iter()
            .filter(|&ip| match self.policy.refuses(ip) {
                Some(class) => {
                    refused.get_or_insert(class);
                    false
                }
                None => true,
            })
            .collect();
        if allowed.is_empty() {
            return Err(refused
                .map_or(Refusal::NoAddress, Refusal::Forbidden)
                .into());
        }
        Ok(allowed)
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        let lookup = Arc::clone(&self.lookup);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let guard = GuardedResolver { policy, lookup };
            let allowed = guard
                .allowed_addresses(&host)
                .await
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?;
            let addrs: Addrs = Box::new(allowed.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fixed(HashMap<&'static str, Vec<IpAddr>>);

    impl Lookup for Fixed {
        fn lookup(&self, host: &str) -> LookupFuture {
            let found = self.0.get(host).cloned();
            Box::pin(async move {
                found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such host"))
            })
        }
    }

    fn resolver(policy: NetworkPolicy) -> GuardedResolver {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let table = HashMap::from([
            (
                "public.test",
                vec![ip("93.184.216.34"), ip("2606:2800:220:1::1")],
            ),
            ("private.test", vec![ip("10.0.0.7")]),
            (
                "mixed.test",
                vec![ip("169.254.169.254"), ip("93.184.216.34"), ip("::1")],
            ),
            ("rebind.test", vec![ip("127.0.0.1"), ip("::ffff:127.0.0.1")]),
            ("empty.test", vec![]),
        ]);
        GuardedResolver::new(policy, Arc::new(Fixed(table)))
    }

    fn refusal(err: ResolveError) -> Refusal {
        match err {
            ResolveError::Refused(r) => r,
            ResolveError::Lookup(e) => panic!("lookup failed: {e}"),
        }
    }

    #[tokio::test]
    async fn only_allowed_addresses_are_handed_on() {
        let r = resolver(NetworkPolicy::PublicOnly);
        assert_eq!(r.allowed_addresses("public.test").await.unwrap().len(), 2);
        assert_eq!(
            r.allowed_addresses("mixed.test").await.unwrap(),
            vec!["93.184.216.34".parse::<IpAddr>().unwrap()]
        );
        let err = r.allowed_addresses("private.test").await.unwrap_err();
        assert_eq!(refusal(err), Refusal::Forbidden(AddressClass::Private));
        let err = r.allowed_addresses("rebind.test").await.unwrap_err();
        assert_eq!(refusal(err), Refusal::Forbidden(AddressClass::Loopback));
        let err = r.allowed_addresses("empty.test").await.unwrap_err();
        assert_eq!(refusal(err), Refusal::NoAddress);
        let err = r.allowed_addresses("nowhere.test").await.unwrap_err();
        assert!(matches!(err, ResolveError::Lookup(e) if e.kind() == io::ErrorKind::NotFound));
    }

    #[tokio::test]
    async fn allow_private_hands_on_everything() {
        let r = resolver(NetworkPolicy::AllowPrivate);
        assert_eq!(r.allowed_addresses("private.test").await.unwrap().len(), 1);
        assert_eq!(r.allowed_addresses("mixed.test").await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn the_reqwest_resolver_gives_port_zero() {
        let r = resolver(NetworkPolicy::PublicOnly);
        let addrs: Vec<SocketAddr> = r
            .resolve("public.test".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(addrs.iter().all(|a| a.port() == 0));
        assert_eq!(addrs.len(), 2);
        assert!(r.resolve("private.test".parse().unwrap()).await.is_err());
    }
}
