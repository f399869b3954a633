//! The shared Redis layer used by every service (a library, not a network hop).
//!
//! A master (at a fixed address, or found through Redis Sentinel) and up to
//! two replicas: writes and every read that must see the
//! latest write (sessions, dedup/idempotency claims, rate limits) go to the
//! master; cached lookups that tolerate a little staleness are read from the
//! replicas. When the node an operation needs is unreachable the operation
//! fails fast with [`CacheError::Unavailable`] instead of guessing; callers
//! answer 503 / gRPC `UNAVAILABLE`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use cache::{Cache, RateLimit, RedisConfig};
//!
//! let env = runtime::config::Env::from_process();
//! let cache = Cache::connect(&RedisConfig::from_env(&env)?).await?;
//! if cache.claim("update:42", Duration::from_secs(60)).await? {
//!     // ... handle update 42 ...
//!     cache.finish("update:42", Duration::from_secs(86_400)).await?;
//! }
//! let decision = cache
//!     .rate_limit("user:7", RateLimit { per_minute: 60, burst: 10 })
//!     .await?;
//! # let _ = decision;
//! # Ok(())
//! # }
//! ```

mod budget;
mod client;
mod config;
mod dedup;
mod error;
mod health;
mod ratelimit;
mod session;
mod status;

pub use budget::{LATE_LIMIT, Slots};
pub use client::Cache;
pub use config::{
    DEFAULT_KEY_PREFIX, DEFAULT_MAX_CONNECTIONS, DEFAULT_PORT, DEFAULT_SENTINEL_MASTER,
    DEFAULT_SENTINEL_PORT, DEFAULT_SOCKET_TIMEOUT, Master, NodeAddr, RedisConfig,
};
pub use dedup::{ClaimState, Claimed, UPDATE_DONE_TTL, update_claim_key};
pub use error::CacheError;
pub use health::{NodeHealth, RedisHealth};
pub use ratelimit::{RateDecision, RateLimit};
