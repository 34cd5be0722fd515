//! The client's address, for rate limits: the peer, unless the peer is a
//! configured proxy, in which case `X-Forwarded-For` names the client.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

/// The request's client address, attached to GraphQL requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

/// Forwarding headers are believed only from trusted proxies, and then read
/// from the right: the nearest address that is not a trusted proxy is the
/// client. Anything further left was written by the client and may be forged.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let chain: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    chain
        .iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(chain.first())
        .copied()
        .or(Some(peer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn forwarding_headers_from_untrusted_peers_are_ignored() {
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_ip(Some(peer), &headers("1.2.3.4"), &[]), Some(peer));
    }

    #[test]
    fn behind_trusted_proxies_the_nearest_untrusted_address_is_the_client() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        // The client forged 6.6.6.6; the edge proxy appended the real address.
        let got = client_ip(
            Some(proxy),
            &headers("6.6.6.6, 198.51.100.7, 10.0.0.2"),
            &trusted,
        );
        assert_eq!(got, "198.51.100.7".parse().ok());
    }
}
