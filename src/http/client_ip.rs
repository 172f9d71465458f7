//! The client's IP address: the socket peer, unless the peer is a trusted proxy, in
//! which case `X-Forwarded-For` is walked from the right past trusted proxies.

use std::net::IpAddr;

use ipnet::IpNet;
use poem::Request;
use poem::http::HeaderMap;

/// The address a request came from (see the module doc).
pub fn client_ip(req: &Request, trusted_proxies: &[IpNet]) -> Option<IpAddr> {
    let peer = req.remote_addr().as_socket_addr()?.ip();
    Some(resolve(peer, req.headers(), trusted_proxies))
}

fn resolve(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .collect::<Vec<_>>();
    forwarded.into_iter().rev().find(|ip| !trusted(ip)).unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert("x-forwarded-for", xff.parse().unwrap());
        map
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let ip = resolve("203.0.113.9".parse().unwrap(), &headers("198.51.100.1"), &[]);
        assert_eq!(ip, "203.0.113.9".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn forwarded_for_is_followed_through_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = resolve("10.0.0.2".parse().unwrap(), &headers("198.51.100.1, 203.0.113.7, 10.0.0.5"), &trusted);
        assert_eq!(ip, "203.0.113.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn ipv4_mapped_peers_are_plain_ipv4() {
        let ip = resolve("::ffff:127.0.0.1".parse().unwrap(), &HeaderMap::new(), &[]);
        assert_eq!(ip, "127.0.0.1".parse::<IpAddr>().unwrap());
    }
}
