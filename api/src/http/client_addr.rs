//! Who is asking: the client's address, as far as it can be trusted.
//!
//! Behind the nginx front or an ingress every connection comes from the
//! proxy, so keying limits on the TCP peer puts every client in one bucket
//! (one visitor's failed logins locked everyone out). The forwarded headers
//! are believed only from a proxy listed in `TRUSTED_PROXIES`; from anyone
//! else they are the visitor's own words and ignored.
//!
//! `X-Forwarded-For` is read from the right: each trusted proxy appends the
//! address it saw, so the first entry from the right that is not itself a
//! trusted proxy is the client. Entries further left were written by the
//! client and may be anything. Without the header, `X-Real-IP` (what the
//! nginx front sets) is taken from a trusted peer.

use std::net::IpAddr;

/// An address range: `10.0.0.0/8`, `::1/128`, or one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    base: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let base: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?} is not an address or a range"))?;
        let bits = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= bits)
                .ok_or_else(|| format!("{text:?}: the prefix must be 0 to {bits}"))?,
            None => bits,
        };
        Ok(Self { base, prefix })
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.base, canonical(address)) {
            (IpAddr::V4(base), IpAddr::V4(address)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(base) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(base), IpAddr::V6(address)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(base) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

/// `::ffff:10.0.0.1` is `10.0.0.1`: a dual-stack listener reports IPv4
/// peers mapped into IPv6.
pub fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// The address a client is counted under by per-client limits: IPv6 by
/// its /64, which one subscriber usually holds whole (counting each of
/// its 2^64 addresses apart would be no limit at all).
pub fn subscriber(address: IpAddr) -> IpAddr {
    match canonical(address) {
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            IpAddr::V6(segments.into())
        }
        v4 => v4,
    }
}

/// The proxies whose forwarded headers are believed (`TRUSTED_PROXIES`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Network>);

impl TrustedProxies {
    /// A comma-separated list of addresses and ranges; empty trusts none.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .filter(|item| !item.trim().is_empty())
            .map(Network::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Whether `address` is one of the trusted proxies.
    pub fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|network| network.contains(address))
    }

    /// The client behind `peer`, from the forwarded headers when `peer` is trusted.
    pub fn client(&self, peer: IpAddr, forwarded_for: Option<&str>, real_ip: Option<&str>) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        if let Some(list) = forwarded_for {
            let mut nearest = peer;
            for entry in list.rsplit(',') {
                let Ok(address) = entry.trim().parse::<IpAddr>().map(canonical) else {
                    // Unreadable: what lies beyond it cannot be placed.
                    return nearest;
                };
                if !self.trusts(address) {
                    return address;
                }
                nearest = address;
            }
            return nearest;
        }
        real_ip
            .and_then(|value| value.trim().parse::<IpAddr>().ok())
            .map_or(peer, canonical)
    }
}

/// The client address of `req` (the peer when it is not a socket address).
pub fn of(req: &salvo::Request, trusted: &TrustedProxies) -> IpAddr {
    let peer = req
        .remote_addr()
        .as_ipv4()
        .map(|a| IpAddr::V4(*a.ip()))
        .or_else(|| req.remote_addr().as_ipv6().map(|a| IpAddr::V6(*a.ip())))
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    trusted.client(peer, header("x-forwarded-for"), header("x-real-ip"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_contain_what_they_should() {
        let private = Network::parse("10.0.0.0/8").unwrap();
        assert!(private.contains(ip("10.200.1.2")));
        assert!(private.contains(ip("::ffff:10.0.0.1")));
        assert!(!private.contains(ip("11.0.0.1")));
        assert!(Network::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Network::parse("::1").unwrap().contains(ip("::1")));
        assert!(!Network::parse("fd00::/8").unwrap().contains(ip("fe80::1")));
        for bad in ["10.0.0.0/33", "nowhere", "::/129", "1.2.3.4/x"] {
            assert!(Network::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_headers_count_only_from_a_trusted_proxy() {
        let trusted = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        // A stranger's claims are ignored.
        assert_eq!(
            trusted.client(ip("203.0.113.9"), Some("1.1.1.1"), Some("2.2.2.2")),
            ip("203.0.113.9")
        );
        // Through the proxy: the nearest untrusted entry, whatever the client prepended.
        assert_eq!(
            trusted.client(ip("127.0.0.1"), Some("6.6.6.6, 198.51.100.7"), None),
            ip("198.51.100.7")
        );
        assert_eq!(
            trusted.client(ip("127.0.0.1"), Some("198.51.100.7, 10.1.1.1"), None),
            ip("198.51.100.7"),
            "two proxies deep"
        );
        assert_eq!(
            trusted.client(ip("127.0.0.1"), Some("garbage, 10.1.1.1"), None),
            ip("10.1.1.1")
        );
        assert_eq!(
            trusted.client(ip("127.0.0.1"), None, Some("198.51.100.8")),
            ip("198.51.100.8")
        );
        assert_eq!(trusted.client(ip("127.0.0.1"), None, None), ip("127.0.0.1"));
        assert_eq!(
            TrustedProxies::default().client(ip("127.0.0.1"), Some("1.1.1.1"), None),
            ip("127.0.0.1")
        );
    }

    proptest::proptest! {
        /// Whatever a client writes in the headers, an untrusted peer is
        /// itself, and a trusted one never yields an address the client
        /// could pick when the proxy appended the real one.
        #[test]
        fn a_client_cannot_choose_its_address(prefix in "[0-9a-f.:, ]{0,60}", real in "[0-9.]{0,20}") {
            let trusted = TrustedProxies::parse("127.0.0.1").unwrap();
            proptest::prop_assert_eq!(trusted.client(ip("192.0.2.1"), Some(&prefix), Some(&real)), ip("192.0.2.1"));
            let appended = format!("{prefix}, 198.51.100.7");
            proptest::prop_assert_eq!(trusted.client(ip("127.0.0.1"), Some(&appended), Some(&real)), ip("198.51.100.7"));
        }
    }
}
