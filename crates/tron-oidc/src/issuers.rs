//! The operator's trusted issuers (`TRON_OIDC_ISSUERS`).
//!
//! Invariant: an issuer is trusted only if it is in this list, and nothing
//! about a token's issuer is fetched before the list has been consulted.
//! An issuer is kept exactly as written (OIDC compares `iss` as a string);
//! only the discovery URL drops a trailing `/` before appending the
//! well-known path, as OIDC Discovery §4 says.

use std::net::IpAddr;

use url::{Host, Url};

/// The default when `TRON_OIDC_ISSUERS` is unset.
pub const DEFAULT_ISSUERS: &str = "https://token.actions.githubusercontent.com,https://gitlab.com";
/// GitHub Actions' issuer: policies must pin an owner or repository id.
pub const GITHUB_ACTIONS: &str = "https://token.actions.githubusercontent.com";
/// gitlab.com's issuer: policies must pin a namespace or project id.
pub const GITLAB_COM: &str = "https://gitlab.com";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuerError {
    #[error("TRON_OIDC_ISSUERS lists no issuer")]
    Empty,
    #[error("issuer {0:?} is not a URL")]
    NotAUrl(String),
    #[error("issuer {0:?} must use https:// (http:// only on a loopback address)")]
    Scheme(String),
    #[error("issuer {0:?} must not carry a query, a fragment or credentials")]
    Extra(String),
    #[error("issuer {0:?} is listed twice (a trailing slash does not make another issuer)")]
    Duplicate(String),
}

/// One trusted issuer URL, validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Issuer(String);

impl Issuer {
    /// `https://…`, or `http://` on a loopback address; no query,
    /// fragment or user info.
    pub fn parse(raw: &str) -> Result<Issuer, IssuerError> {
        let raw = raw.trim();
        let url = Url::parse(raw).map_err(|_| IssuerError::NotAUrl(raw.to_owned()))?;
        let loopback = match url.host() {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => return Err(IssuerError::NotAUrl(raw.to_owned())),
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err(IssuerError::Scheme(raw.to_owned())),
        }
        if url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
            || raw.contains(['?', '#'])
        {
            return Err(IssuerError::Extra(raw.to_owned()));
        }
        Ok(Issuer(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `{issuer}/.well-known/openid-configuration`, a trailing `/` of the
    /// issuer dropped first.
    pub fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.0.trim_end_matches('/')
        )
    }

    fn key(&self) -> &str {
        self.0.trim_end_matches('/')
    }
}

impl std::fmt::Display for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The trusted issuers, in the operator's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuers(Vec<Issuer>);

impl Default for TrustedIssuers {
    /// GitHub Actions and gitlab.com ([`DEFAULT_ISSUERS`]).
    fn default() -> Self {
        TrustedIssuers(vec![
            Issuer(GITHUB_ACTIONS.to_owned()),
            Issuer(GITLAB_COM.to_owned()),
        ])
    }
}

impl TrustedIssuers {
    /// Parses `TRON_OIDC_ISSUERS`: comma-separated, blanks around entries
    /// ignored; `None` (unset) is the default list.
    pub fn parse(raw: Option<&str>) -> Result<TrustedIssuers, IssuerError> {
        let raw = raw.unwrap_or(DEFAULT_ISSUERS);
        let mut list: Vec<Issuer> = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let issuer = Issuer::parse(part)?;
            if list.iter().any(|i| i.key() == issuer.key()) {
                return Err(IssuerError::Duplicate(part.to_owned()));
            }
            list.push(issuer);
        }
        if list.is_empty() {
            return Err(IssuerError::Empty);
        }
        Ok(TrustedIssuers(list))
    }

    pub fn from_issuers(list: Vec<Issuer>) -> TrustedIssuers {
        TrustedIssuers(list)
    }

    /// The trusted issuer whose URL is exactly `iss`.
    pub fn get(&self, iss: &str) -> Option<&Issuer> {
        self.0.iter().find(|i| i.0 == iss)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Issuer> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_list_is_the_parsed_default() {
        assert_eq!(
            TrustedIssuers::default(),
            TrustedIssuers::parse(None).unwrap()
        );
    }

    #[test]
    fn default_is_github_and_gitlab() {
        let t = TrustedIssuers::parse(None).unwrap();
        let v: Vec<&str> = t.iter().map(Issuer::as_str).collect();
        assert_eq!(v, [GITHUB_ACTIONS, GITLAB_COM]);
    }

    #[test]
    fn accepts_https_and_loopback_http() {
        let t = TrustedIssuers::parse(Some(
            " https://a.example/x , http://127.0.0.1:8080,http://[::1]:9,http://localhost:1,",
        ))
        .unwrap();
        assert_eq!(t.iter().count(), 4);
        assert!(t.get("https://a.example/x").is_some());
        assert!(
            t.get("https://a.example/x/").is_none(),
            "iss is compared exactly"
        );
    }

    #[test]
    fn refuses_bad_entries_with_a_reason() {
        for (raw, want) in [
            ("", IssuerError::Empty),
            (" , ", IssuerError::Empty),
            ("gitlab.com", IssuerError::NotAUrl("gitlab.com".into())),
            (
                "http://gitlab.com",
                IssuerError::Scheme("http://gitlab.com".into()),
            ),
            (
                "http://10.0.0.1",
                IssuerError::Scheme("http://10.0.0.1".into()),
            ),
            (
                "ftp://127.0.0.1",
                IssuerError::Scheme("ftp://127.0.0.1".into()),
            ),
            (
                "https://a.example?x=1",
                IssuerError::Extra("https://a.example?x=1".into()),
            ),
            (
                "https://a.example/#f",
                IssuerError::Extra("https://a.example/#f".into()),
            ),
            (
                "https://a.example/?",
                IssuerError::Extra("https://a.example/?".into()),
            ),
            (
                "https://u:p@a.example",
                IssuerError::Extra("https://u:p@a.example".into()),
            ),
            (
                "https://gitlab.com,https://gitlab.com/",
                IssuerError::Duplicate("https://gitlab.com/".into()),
            ),
        ] {
            assert_eq!(TrustedIssuers::parse(Some(raw)), Err(want), "{raw:?}");
        }
    }

    #[test]
    fn discovery_url_drops_a_trailing_slash() {
        let a = Issuer::parse("https://gitlab.com/").unwrap();
        assert_eq!(a.as_str(), "https://gitlab.com/");
        assert_eq!(
            a.discovery_url(),
            "https://gitlab.com/.well-known/openid-configuration"
        );
        let b = Issuer::parse("https://a.example/tenant").unwrap();
        assert_eq!(
            b.discovery_url(),
            "https://a.example/tenant/.well-known/openid-configuration"
        );
    }
}
