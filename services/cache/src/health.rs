//! Per-node reachability for /health and /health/redis.

use std::time::Instant;

use fred::interfaces::ClientLike;
use serde::Serialize;

use crate::client::{Cache, Node};

/// One node's state, as shown in the /health JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeHealth {
    /// "master" or "replica".
    pub role: String,
    /// host:port as configured.
    pub addr: String,
    pub up: bool,
    /// Round trip of the PING, when it answered.
    pub latency_ms: Option<u64>,
    /// Why the node is down; names the node ("redis master 10.0.0.5:6379 unavailable: ...").
    pub error: Option<String>,
}

/// The whole trio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedisHealth {
    pub master: NodeHealth,
    pub replicas: Vec<NodeHealth>,
}

impl RedisHealth {
    /// The master answers: everything that must be correct (sessions, claims,
    /// rate limits) works. Replicas only speed up and offload cached reads.
    pub fn healthy(&self) -> bool {
        self.master.up
    }

    /// Healthy, but at least one replica is down (cached reads fall back to the
    /// other replica or the master).
    pub fn degraded(&self) -> bool {
        self.healthy() && self.replicas.iter().any(|r| !r.up)
    }

    /// "ok", "degraded" or "down", for the health JSON.
    pub fn status(&self) -> &'static str {
        match (self.healthy(), self.degraded()) {
            (false, _) => "down",
            (true, true) => "degraded",
            (true, false) => "ok",
        }
    }
}

impl Cache {
    /// PINGs every node concurrently, each bounded by the socket timeout (a
    /// disconnected node is reported at once).
    pub async fn health(&self) -> RedisHealth {
        let replicas = futures::future::join_all(self.inner.replicas.iter().map(ping));
        let (master, replicas) = tokio::join!(ping(&self.inner.master), replicas);
        RedisHealth { master, replicas }
    }
}

async fn ping(node: &Node) -> NodeHealth {
    let started = Instant::now();
    let result: Result<String, _> = node.client().ping(None).await;
    let (up, latency_ms, error) = match result {
        Ok(_) => (true, Some(started.elapsed().as_millis() as u64), None),
        Err(e) => (false, None, Some(node.err(e).to_string())),
    };
    NodeHealth {
        role: node.role.to_string(),
        // Through the Sentinels: which node they named, so an operator
        // sees a failover in /health/redis.
        addr: match node.connected_addr() {
            Some(now) if node.via_sentinel => format!("{now} ({})", node.addr),
            _ => node.addr.clone(),
        },
        up,
        latency_ms,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime::health::{Component, Status};

    fn node(role: &str, up: bool) -> NodeHealth {
        NodeHealth {
            role: role.into(),
            addr: "127.0.0.1:6379".into(),
            up,
            latency_ms: up.then_some(1),
            error: (!up).then(|| format!("redis {role} 127.0.0.1:6379 unavailable: refused")),
        }
    }

    #[test]
    fn status_follows_the_master_then_the_replicas() {
        let all = RedisHealth {
            master: node("master", true),
            replicas: vec![node("replica", true), node("replica", true)],
        };
        assert_eq!(
            (all.healthy(), all.degraded(), all.status()),
            (true, false, "ok")
        );
        let c = Component::from(all);
        assert_eq!(c.status, Status::Up);
        assert_eq!(c.details["replicas"][1]["up"], true);

        let one_replica = RedisHealth {
            master: node("master", true),
            replicas: vec![node("replica", false), node("replica", true)],
        };
        assert_eq!(one_replica.status(), "degraded");
        assert_eq!(Component::from(one_replica).status, Status::Degraded);

        let no_master = RedisHealth {
            master: node("master", false),
            replicas: vec![node("replica", true), node("replica", true)],
        };
        assert_eq!((no_master.healthy(), no_master.status()), (false, "down"));
        let c = Component::from(no_master);
        assert_eq!(c.status, Status::Down);
        assert!(c.critical && c.error.unwrap().contains("master"));
    }
}
