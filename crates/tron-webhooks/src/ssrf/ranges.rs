//! Which addresses a webhook may not reach.
//!
//! Invariant: [`classify`] answers `None` only for globally reachable unicast
//! addresses. IPv4 is refused by the IANA special-purpose ranges; IPv6 is
//! refused outside global unicast `2000::/3` (which takes loopback, ULA,
//! link-local, site-local, multicast and everything unassigned) and for the
//! special ranges inside it. Forms that embed an IPv4 address — mapped
//! `::ffff:a.b.c.d`, translated `::ffff:0:a.b.c.d`, NAT64 `64:ff9b::/96` and
//! 6to4 `2002::/16` — are judged by the embedded address; the deprecated
//! IPv4-compatible `::a.b.c.d`, local NAT64 `64:ff9b:1::/48` and Teredo
//! (inside `2001::/23`) are refused whole.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

/// Why an address is refused, for the delivery log. Says the kind, never
/// the address (an admin must not learn internal addresses through it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    Unspecified,
    Loopback,
    Private,
    SharedAddressSpace,
    LinkLocal,
    Multicast,
    Broadcast,
    Documentation,
    Benchmarking,
    UniqueLocal,
    SiteLocal,
    Reserved,
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressClass::Unspecified => "an unspecified address",
            AddressClass::Loopback => "a loopback address",
            AddressClass::Private => "a private address",
            AddressClass::SharedAddressSpace => "a shared (CGNAT) address",
            AddressClass::LinkLocal => "a link-local address",
            AddressClass::Multicast => "a multicast address",
            AddressClass::Broadcast => "the broadcast address",
            AddressClass::Documentation => "a documentation address",
            AddressClass::Benchmarking => "a benchmarking address",
            AddressClass::UniqueLocal => "a unique local (private) IPv6 address",
            AddressClass::SiteLocal => "a site-local IPv6 address",
            AddressClass::Reserved => "a reserved address",
        })
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

#[allow(clippy::too_many_arguments)]
const fn v6(a: u16, b: u16, c: u16, d: u16, e: u16, f: u16, len: u8) -> Ipv6Net {
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, 0, 0), len)
}

/// IANA IPv4 special-purpose ranges. Broadcast comes before `240.0.0.0/4`,
/// which holds it.
const V4: &[(Ipv4Net, AddressClass)] = &[
    (v4(0, 0, 0, 0, 32), AddressClass::Unspecified),
    (v4(0, 0, 0, 0, 8), AddressClass::Reserved), // "this network"
    (v4(10, 0, 0, 0, 8), AddressClass::Private),
    (v4(100, 64, 0, 0, 10), AddressClass::SharedAddressSpace),
    (v4(127, 0, 0, 0, 8), AddressClass::Loopback),
    (v4(169, 254, 0, 0, 16), AddressClass::LinkLocal),
    (v4(172, 16, 0, 0, 12), AddressClass::Private),
    (v4(192, 0, 0, 0, 24), AddressClass::Reserved), // IETF protocol assignments
    (v4(192, 0, 2, 0, 24), AddressClass::Documentation),
    (v4(192, 88, 99, 0, 24), AddressClass::Reserved), // 6to4 relay anycast
    (v4(192, 168, 0, 0, 16), AddressClass::Private),
    (v4(198, 18, 0, 0, 15), AddressClass::Benchmarking),
    (v4(198, 51, 100, 0, 24), AddressClass::Documentation),
    (v4(203, 0, 113, 0, 24), AddressClass::Documentation),
    (v4(224, 0, 0, 0, 4), AddressClass::Multicast),
    (v4(255, 255, 255, 255, 32), AddressClass::Broadcast),
    (v4(240, 0, 0, 0, 4), AddressClass::Reserved),
];

/// IPv6 ranges refused inside global unicast `2000::/3`.
const V6_IN_GLOBAL: &[(Ipv6Net, AddressClass)] = &[
    (
        v6(0x2001, 0xdb8, 0, 0, 0, 0, 32),
        AddressClass::Documentation,
    ),
    (v6(0x3fff, 0, 0, 0, 0, 0, 20), AddressClass::Documentation),
    (v6(0x2001, 0x2, 0, 0, 0, 0, 48), AddressClass::Benchmarking),
    // IETF protocol assignments: Teredo, ORCHID, benchmarking, …
    (v6(0x2001, 0, 0, 0, 0, 0, 23), AddressClass::Reserved),
];

const GLOBAL_UNICAST: Ipv6Net = v6(0x2000, 0, 0, 0, 0, 0, 3);
const NAT64_WELL_KNOWN: Ipv6Net = v6(0x64, 0xff9b, 0, 0, 0, 0, 96);
const NAT64_LOCAL: Ipv6Net = v6(0x64, 0xff9b, 0x1, 0, 0, 0, 48);
const SIX_TO_FOUR: Ipv6Net = v6(0x2002, 0, 0, 0, 0, 0, 16);
const TRANSLATED: Ipv6Net = v6(0, 0, 0, 0, 0xffff, 0, 96);
const COMPATIBLE: Ipv6Net = v6(0, 0, 0, 0, 0, 0, 96);
const MULTICAST: Ipv6Net = v6(0xff00, 0, 0, 0, 0, 0, 8);
const LINK_LOCAL: Ipv6Net = v6(0xfe80, 0, 0, 0, 0, 0, 10);
const SITE_LOCAL: Ipv6Net = v6(0xfec0, 0, 0, 0, 0, 0, 10);
const UNIQUE_LOCAL: Ipv6Net = v6(0xfc00, 0, 0, 0, 0, 0, 7);

/// `None` for an address a webhook may reach, else why not.
pub fn classify(ip: IpAddr) -> Option<AddressClass> {
    match ip {
        IpAddr::V4(ip) => classify_v4(ip),
        IpAddr::V6(ip) => classify_v6(ip),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<AddressClass> {
    V4.iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|&(_, class)| class)
}

fn classify_v6(ip: Ipv6Addr) -> Option<AddressClass> {
    if ip.is_unspecified() {
        return Some(AddressClass::Unspecified);
    }
    if ip.is_loopback() {
        return Some(AddressClass::Loopback);
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let o = ip.octets();
    let low32 = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if TRANSLATED.contains(&ip) || NAT64_WELL_KNOWN.contains(&ip) {
        return classify_v4(low32);
    }
    if COMPATIBLE.contains(&ip) || NAT64_LOCAL.contains(&ip) {
        return Some(AddressClass::Reserved);
    }
    if SIX_TO_FOUR.contains(&ip) {
        return classify_v4(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    if MULTICAST.contains(&ip) {
        return Some(AddressClass::Multicast);
    }
    if LINK_LOCAL.contains(&ip) {
        return Some(AddressClass::LinkLocal);
    }
    if SITE_LOCAL.contains(&ip) {
        return Some(AddressClass::SiteLocal);
    }
    if UNIQUE_LOCAL.contains(&ip) {
        return Some(AddressClass::UniqueLocal);
    }
    if !GLOBAL_UNICAST.contains(&ip) {
        return Some(AddressClass::Reserved);
    }
    V6_IN_GLOBAL
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|&(_, class)| class)
}

#[cfg(test)]
mod tests {
    use super::*;
    use AddressClass::*;

    fn class(text: &str) -> Option<AddressClass> {
        classify(text.parse().unwrap())
    }

    #[test]
    fn every_forbidden_ipv4_range() {
        let cases = [
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Reserved),
            ("10.0.0.1", Private),
            ("10.255.255.255", Private),
            ("100.64.0.1", SharedAddressSpace),
            ("100.127.255.254", SharedAddressSpace),
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("169.254.169.254", LinkLocal),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.0.0.8", Reserved),
            ("192.0.2.10", Documentation),
            ("192.88.99.1", Reserved),
            ("192.168.1.1", Private),
            ("198.18.0.1", Benchmarking),
            ("198.19.255.255", Benchmarking),
            ("198.51.100.7", Documentation),
            ("203.0.113.9", Documentation),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("240.0.0.1", Reserved),
            ("255.255.255.254", Reserved),
            ("255.255.255.255", Broadcast),
        ];
        for (ip, want) in cases {
            assert_eq!(class(ip), Some(want), "{ip}");
        }
    }

    #[test]
    fn public_ipv4_passes_including_the_edges_of_forbidden_ranges() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert_eq!(class(ip), None, "{ip}");
        }
    }

    #[test]
    fn every_forbidden_ipv6_range() {
        let cases = [
            ("::", Unspecified),
            ("::1", Loopback),
            ("fe80::1", LinkLocal),
            ("febf:ffff::1", LinkLocal),
            ("fec0::1", SiteLocal),
            ("fc00::1", UniqueLocal),
            ("fd12:3456:789a::1", UniqueLocal),
            ("ff02::1", Multicast),
            ("ff0e::1", Multicast),
            ("2001:db8::1", Documentation),
            ("3fff::1", Documentation),
            ("2001:2::1", Benchmarking),
            ("2001::1", Reserved),          // Teredo
            ("2001:20::1", Reserved),       // ORCHIDv2
            ("100::1", Reserved),           // discard-only
            ("64:ff9b:1::a00:1", Reserved), // local-use NAT64
            ("5f00::1", Reserved),          // SRv6 SIDs
            ("4000::1", Reserved),          // unassigned
            ("::127.0.0.1", Reserved),      // IPv4-compatible
            ("::8.8.8.8", Reserved),        // IPv4-compatible
            ("::2", Reserved),
        ];
        for (ip, want) in cases {
            assert_eq!(class(ip), Some(want), "{ip}");
        }
    }

    #[test]
    fn ipv6_forms_of_ipv4_are_judged_by_the_ipv4_address() {
        let cases = [
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:10.1.2.3", Some(Private)),
            ("::ffff:169.254.169.254", Some(LinkLocal)),
            ("::ffff:100.64.0.1", Some(SharedAddressSpace)),
            ("::ffff:0.0.0.0", Some(Unspecified)),
            ("::ffff:255.255.255.255", Some(Broadcast)),
            ("::ffff:8.8.8.8", None),
            ("::ffff:0:192.168.0.1", Some(Private)), // IPv4-translated
            ("::ffff:0:8.8.8.8", None),
            ("64:ff9b::127.0.0.1", Some(Loopback)), // NAT64
            ("64:ff9b::10.0.0.1", Some(Private)),
            ("64:ff9b::169.254.169.254", Some(LinkLocal)),
            ("64:ff9b::8.8.8.8", None),
            ("2002:7f00:1::", Some(Loopback)), // 6to4 of 127.0.0.1
            ("2002:c0a8:101::1", Some(Private)), // 6to4 of 192.168.1.1
            ("2002:808:808::1", None),         // 6to4 of 8.8.8.8
        ];
        for (ip, want) in cases {
            assert_eq!(class(ip), want, "{ip}");
        }
    }

    #[test]
    fn public_ipv6_passes() {
        for ip in [
            "2606:4700:4700::1111",
            "2a00:1450:4001:82a::200e",
            "2001:200::1", // just past 2001::/23
            "2001:4860:4860::8888",
            "3ffe::1",
            "2000::1",
        ] {
            assert_eq!(class(ip), None, "{ip}");
        }
    }

    #[test]
    fn messages_name_the_kind_not_the_address() {
        assert_eq!(Private.to_string(), "a private address");
        assert_eq!(Loopback.to_string(), "a loopback address");
    }
}
