//! Who is on the other end: the client's address (through trusted proxies
//! only) and the request id, for audit events, throttles and cookies.
use crate::access::OrgCtx;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use std::net::{IpAddr, SocketAddr};
use tron_core::principal::Actor;
use tron_store::models::RequestMeta;

/// The caller's address and the request id, for audit events and throttles.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    /// A trusted proxy said the browser used https (`X-Forwarded-Proto`).
    pub forwarded_https: bool,
    /// The header as received (cloning it copies no bytes); see
    /// [`ClientInfo::request_id`].
    request_id: Option<axum::http::HeaderValue>,
}

impl ClientInfo {
    /// Audit metadata of a request made by `actor` from this client.
    pub fn meta(&self, actor: Actor) -> RequestMeta {
        RequestMeta {
            actor,
            request_id: self.request_id(),
            ip: self.ip.map(|i| i.to_string()),
        }
    }

    /// The request id for audit events: at most 200 characters.
    pub fn request_id(&self) -> Option<String> {
        let s = self.request_id.as_ref()?.to_str().ok()?;
        // `to_str` admits visible ASCII only: bytes are characters.
        Some(s[..s.len().min(200)].to_owned())
    }

    /// The request's client, worked out afresh.
    pub(crate) fn of(parts: &Parts, state: &AppState) -> ClientInfo {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        ClientInfo {
            ip: client_ip(state, peer, &parts.headers),
            forwarded_https: forwarded_https(&state.config.trusted_proxies, peer, &parts.headers),
            request_id: parts.headers.get(&crate::REQUEST_ID).cloned(),
        }
    }

    pub fn ip_key(&self) -> String {
        self.ip
            .map(|i| i.to_string())
            .unwrap_or_else(|| "unknown".into())
    }
}

/// The client address (SPEC §4): the peer's, unless the peer is a trusted
/// proxy, in which case `X-Forwarded-For` is walked from the right (every
/// such header, in order, as one list) to the first address that is not a
/// trusted proxy. An entry that does not parse stops the walk: the last
/// trusted hop is then the client, so no value left of it (which anyone
/// may have written) can be chosen. Addresses are compared in canonical
/// form: `::ffff:10.1.2.3` is `10.1.2.3`.
pub fn client_ip(state: &AppState, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
    client_address(&state.config.trusted_proxies, peer, headers)
}

pub fn client_address(
    trusted_proxies: &[ipnet::IpNet],
    peer: Option<IpAddr>,
    headers: &HeaderMap,
) -> Option<IpAddr> {
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|n| n.contains(ip));
    let mut client = peer?.to_canonical();
    if !trusted(&client) {
        return Some(client);
    }
    let values: Vec<&HeaderValue> = headers.get_all("x-forwarded-for").iter().collect();
    for value in values.into_iter().rev() {
        let Ok(text) = value.to_str() else {
            return Some(client);
        };
        for entry in text.rsplit(',') {
            let Some(ip) = parse_forwarded(entry) else {
                return Some(client);
            };
            client = ip;
            if !trusted(&client) {
                return Some(client);
            }
        }
    }
    Some(client)
}

/// One `X-Forwarded-For` entry: an address, canonical.
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    entry
        .trim()
        .parse::<IpAddr>()
        .ok()
        .map(|ip| ip.to_canonical())
}

/// Whether a proxy said the browser used https. Only a trusted proxy is
/// believed: anyone else could send the header.
pub fn forwarded_https(
    trusted_proxies: &[ipnet::IpNet],
    peer: Option<IpAddr>,
    headers: &HeaderMap,
) -> bool {
    let from_proxy = peer
        .map(|p| p.to_canonical())
        .is_some_and(|p| trusted_proxies.iter().any(|n| n.contains(&p)));
    from_proxy
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next_back())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(c) = parts.extensions.get::<ClientInfo>() {
            return Ok(c.clone());
        }
        if let Some(ctx) = parts.extensions.get::<OrgCtx>() {
            return Ok(ctx.client().clone());
        }
        let info = ClientInfo::of(parts, state);
        parts.extensions.insert(info.clone());
        Ok(info)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod client_address_tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<ipnet::IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let t = nets(&["10.0.0.0/8"]);
        let got = client_address(&t, Some(ip("203.0.113.9")), &headers(&["1.2.3.4"]));
        assert_eq!(got, Some(ip("203.0.113.9")));
    }

    #[test]
    fn the_walk_is_from_the_right_past_trusted_hops() {
        let t = nets(&["10.0.0.0/8"]);
        let h = headers(&["6.6.6.6, 198.51.100.7", "10.0.0.2"]);
        assert_eq!(
            client_address(&t, Some(ip("10.0.0.1")), &h),
            Some(ip("198.51.100.7"))
        );
        // Only proxies: the left-most of them.
        let h = headers(&["10.0.0.3, 10.0.0.2"]);
        assert_eq!(
            client_address(&t, Some(ip("10.0.0.1")), &h),
            Some(ip("10.0.0.3"))
        );
        // No header: the proxy itself.
        assert_eq!(
            client_address(&t, Some(ip("10.0.0.1")), &headers(&[])),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn an_unparsable_entry_stops_the_walk() {
        let t = nets(&["10.0.0.0/8"]);
        // The attacker wrote `6.6.6.6, garbage`; the proxy appended 10.0.0.2.
        let h = headers(&["6.6.6.6, garbage, 10.0.0.2"]);
        assert_eq!(
            client_address(&t, Some(ip("10.0.0.1")), &h),
            Some(ip("10.0.0.2"))
        );
        let h = headers(&["6.6.6.6, unknown"]);
        assert_eq!(
            client_address(&t, Some(ip("10.0.0.1")), &h),
            Some(ip("10.0.0.1"))
        );
        let h = headers(&["6.6.6.6", ""]);
        assert_eq!(
            client_address(&t, Some(ip("10.0.0.1")), &h),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn ipv4_mapped_addresses_are_canonical() {
        let t = nets(&["10.0.0.0/8"]);
        // A mapped peer matches an IPv4 CIDR and forwards the client.
        let h = headers(&["::ffff:198.51.100.7"]);
        assert_eq!(
            client_address(&t, Some(ip("::ffff:10.0.0.1")), &h),
            Some(ip("198.51.100.7"))
        );
        // A mapped client is the same client as its IPv4 form.
        assert_eq!(
            client_address(&[], Some(ip("::ffff:203.0.113.9")), &headers(&[])),
            Some(ip("203.0.113.9"))
        );
        // A mapped trusted hop inside the header is skipped as trusted.
        let h = headers(&["198.51.100.7, ::ffff:10.0.0.9"]);
        assert_eq!(
            client_address(&t, Some(ip("10.0.0.1")), &h),
            Some(ip("198.51.100.7"))
        );
    }

    #[test]
    fn forwarded_proto_is_believed_only_from_a_trusted_proxy() {
        let t = nets(&["10.0.0.0/8"]);
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(forwarded_https(&t, Some(ip("10.0.0.1")), &h));
        assert!(forwarded_https(&t, Some(ip("::ffff:10.0.0.1")), &h));
        assert!(!forwarded_https(&t, Some(ip("203.0.113.9")), &h));
        assert!(!forwarded_https(&[], Some(ip("127.0.0.1")), &h));
        assert!(!forwarded_https(&t, None, &h));
    }
}
