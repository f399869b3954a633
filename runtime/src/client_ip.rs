//! The client's address as nginx saw it, never as the client claims it.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// `TRUSTED_PROXIES` (default loopback): the proxies whose `X-Real-IP` is believed.
pub fn trusted_proxies(env: &crate::config::Env) -> Result<Vec<IpNet>, crate::config::ConfigError> {
    env.list_or(
        "TRUSTED_PROXIES",
        vec![
            "127.0.0.1/32".parse().expect("valid"),
            "::1/128".parse().expect("valid"),
        ],
    )
}

/// `X-Real-IP` is believed only when the TCP peer is a trusted proxy (nginx
/// overwrites that header with the address it accepted the connection from).
/// A request straight from the internet is judged by its own peer address.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer_ip = peer.ip().to_canonical();
    if !trusted.iter().any(|n| n.contains(&peer_ip)) {
        return peer_ip;
    }
    headers
        .get("x-real-ip")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
        .unwrap_or(peer_ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(real_ip: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-real-ip", real_ip.parse().unwrap());
        h.insert("x-forwarded-for", "31.133.220.8".parse().unwrap());
        h
    }

    #[test]
    fn real_ip_header_is_believed_only_from_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        let from_nginx: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let from_internet: SocketAddr = "203.0.113.9:5000".parse().unwrap();
        assert_eq!(
            client_ip(from_nginx, &headers("31.133.220.8"), &trusted).to_string(),
            "31.133.220.8"
        );
        // A direct caller claiming to be Heleket is judged by its own address.
        assert_eq!(
            client_ip(from_internet, &headers("31.133.220.8"), &trusted).to_string(),
            "203.0.113.9"
        );
        // X-Forwarded-For is never read.
        assert_eq!(
            client_ip(from_nginx, &HeaderMap::new(), &trusted).to_string(),
            "127.0.0.1"
        );
    }
}
