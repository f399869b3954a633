//! Free TCP ports on loopback.

use std::net::TcpListener;

/// A port that was free a moment ago. Servers that cannot bind port 0
/// themselves (redis, nginx) get their port from here.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port on 127.0.0.1")
}
