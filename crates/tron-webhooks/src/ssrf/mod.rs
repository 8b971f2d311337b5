//! Where a webhook may point: the SSRF guard.
//!
//! Invariant: with [`NetworkPolicy::PublicOnly`] (the default) Tron never
//! opens a connection to an address [`classify`] refuses. A target URL is
//! checked when it is registered ([`TargetUrl::parse`]: `https`, a host, no
//! credentials, at most [`MAX_URL_LEN`], no IP literal of a refused range)
//! and again at every delivery, where the host is resolved once, every
//! address is checked, and the connection is handed only the addresses that
//! passed ([`resolve::GuardedResolver`]) — so a name that changes its answer
//! between the check and the connection (DNS rebinding) gains nothing.
//! [`NetworkPolicy::AllowPrivate`] (`TRON_WEBHOOK_ALLOW_PRIVATE=true`) lifts
//! the address checks and also allows `http://`.

pub mod ranges;
pub mod resolve;

use std::net::{IpAddr, Ipv4Addr};

use url::{Host, Url};

pub use ranges::{classify, AddressClass};

/// The longest target URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// Which networks webhooks may reach: the operator's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkPolicy {
    /// `https://` to globally reachable addresses only.
    #[default]
    PublicOnly,
    /// Any address, `http://` too (a private network, tests).
    AllowPrivate,
}

impl NetworkPolicy {
    /// Why `ip` may not be reached under this policy, if it may not.
    pub fn refuses(self, ip: IpAddr) -> Option<AddressClass> {
        match self {
            NetworkPolicy::PublicOnly => classify(ip),
            NetworkPolicy::AllowPrivate => None,
        }
    }
}

/// Why a target URL is refused. Messages never repeat the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("the URL is longer than {MAX_URL_LEN} characters")]
    TooLong,
    #[error("the URL is not a valid absolute URL")]
    Invalid,
    #[error("the URL must start with https://")]
    HttpsRequired,
    #[error("the URL must start with https:// or http://")]
    HttpRequired,
    #[error("the URL must have a host")]
    NoHost,
    #[error("the URL must not hold a user name or password")]
    Credentials,
    #[error("the URL must not have a #fragment (it is never sent)")]
    Fragment,
    #[error("the URL's address is {0}, which webhooks may not reach")]
    Forbidden(AddressClass),
}

/// A target URL that passed the registration checks; `as_str` is its
/// normalized form, the one to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUrl(Url);

impl TargetUrl {
    pub fn parse(text: &str, policy: NetworkPolicy) -> Result<Self, TargetError> {
        if text.len() > MAX_URL_LEN {
            return Err(TargetError::TooLong);
        }
        let url = Url::parse(text).map_err(|_| TargetError::Invalid)?;
        match (url.scheme(), policy) {
            ("https", _) | ("http", NetworkPolicy::AllowPrivate) => {}
            (_, NetworkPolicy::PublicOnly) => return Err(TargetError::HttpsRequired),
            (_, NetworkPolicy::AllowPrivate) => return Err(TargetError::HttpRequired),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetError::Credentials);
        }
        if url.fragment().is_some() {
            return Err(TargetError::Fragment);
        }
        let ip = match url.host() {
            None => return Err(TargetError::NoHost),
            Some(Host::Domain("")) => return Err(TargetError::NoHost),
            // RFC 6761: these names are loopback wherever they resolve.
            Some(Host::Domain(d)) if is_localhost(d) => Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            Some(Host::Domain(_)) => None,
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        };
        if let Some(class) = ip.and_then(|ip| policy.refuses(ip)) {
            return Err(TargetError::Forbidden(class));
        }
        // Normalization (punycode, default port dropped) may lengthen it.
        if url.as_str().len() > MAX_URL_LEN {
            return Err(TargetError::TooLong);
        }
        Ok(TargetUrl(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &Url {
        &self.0
    }
}

/// `localhost` and `*.localhost`, with or without the root's dot.
fn is_localhost(domain: &str) -> bool {
    let name = domain.strip_suffix('.').unwrap_or(domain);
    name == "localhost" || name.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::*;
    use NetworkPolicy::*;

    #[test]
    fn https_urls_pass_and_come_out_normalized() {
        for (given, stored) in [
            (
                "https://hooks.example.com/tron",
                "https://hooks.example.com/tron",
            ),
            (
                "https://Hooks.Example.COM:443/a?b=c",
                "https://hooks.example.com/a?b=c",
            ),
            ("https://example.com:8443", "https://example.com:8443/"),
            (
                "https://bücher.example/x",
                "https://xn--bcher-kva.example/x",
            ),
            ("https://8.8.8.8/hook", "https://8.8.8.8/hook"),
            (
                "https://[2606:4700:4700::1111]/",
                "https://[2606:4700:4700::1111]/",
            ),
        ] {
            let t = TargetUrl::parse(given, PublicOnly).unwrap();
            assert_eq!(t.as_str(), stored);
        }
    }

    #[test]
    fn refusals_at_registration() {
        let cases = [
            (
                "http://example.com/",
                PublicOnly,
                TargetError::HttpsRequired,
            ),
            ("ftp://example.com/", PublicOnly, TargetError::HttpsRequired),
            ("file:///etc/passwd", PublicOnly, TargetError::HttpsRequired),
            (
                "ftp://example.com/",
                AllowPrivate,
                TargetError::HttpRequired,
            ),
            ("example.com/hook", PublicOnly, TargetError::Invalid),
            ("https://", PublicOnly, TargetError::Invalid),
            ("", PublicOnly, TargetError::Invalid),
            (
                "https://user:pw@example.com/",
                PublicOnly,
                TargetError::Credentials,
            ),
            (
                "https://user@example.com/",
                PublicOnly,
                TargetError::Credentials,
            ),
            (
                "https://:pw@example.com/",
                PublicOnly,
                TargetError::Credentials,
            ),
            ("https://example.com/#x", PublicOnly, TargetError::Fragment),
        ];
        for (url, policy, want) in cases {
            assert_eq!(TargetUrl::parse(url, policy), Err(want), "{url}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(
            TargetUrl::parse(&long, PublicOnly),
            Err(TargetError::TooLong)
        );
        let err = TargetUrl::parse("https://user:hunter2@example.com/", PublicOnly).unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn ip_literals_of_refused_ranges_are_refused_unless_private_is_allowed() {
        for (url, class) in [
            ("https://127.0.0.1/", AddressClass::Loopback),
            ("https://127.1/", AddressClass::Loopback),
            ("https://2130706433/", AddressClass::Loopback),
            ("https://0x7f000001/", AddressClass::Loopback),
            ("https://0177.0.0.1/", AddressClass::Loopback),
            ("https://10.0.0.1:8443/", AddressClass::Private),
            (
                "https://169.254.169.254/latest/meta-data",
                AddressClass::LinkLocal,
            ),
            ("https://0.0.0.0/", AddressClass::Unspecified),
            ("https://[::1]/", AddressClass::Loopback),
            ("https://[::ffff:127.0.0.1]/", AddressClass::Loopback),
            ("https://[::ffff:7f00:1]/", AddressClass::Loopback),
            ("https://[fd00::1]/", AddressClass::UniqueLocal),
            ("https://[fe80::1]/", AddressClass::LinkLocal),
            ("https://[64:ff9b::a9fe:a9fe]/", AddressClass::LinkLocal),
        ] {
            assert_eq!(
                TargetUrl::parse(url, PublicOnly),
                Err(TargetError::Forbidden(class)),
                "{url}"
            );
            assert!(TargetUrl::parse(url, AllowPrivate).is_ok(), "{url}");
        }
        assert!(TargetUrl::parse("http://127.0.0.1:8080/hook", AllowPrivate).is_ok());
        assert!(TargetUrl::parse("http://localhost:8080/hook", AllowPrivate).is_ok());
        for url in [
            "https://localhost/hook",
            "https://LOCALHOST./hook",
            "https://api.localhost/",
        ] {
            assert_eq!(
                TargetUrl::parse(url, PublicOnly),
                Err(TargetError::Forbidden(AddressClass::Loopback)),
                "{url}"
            );
        }
        // Any other name is judged when it resolves, at delivery.
        assert!(TargetUrl::parse("https://localhost.example.com/", PublicOnly).is_ok());
    }
}
