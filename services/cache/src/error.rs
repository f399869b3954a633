//! What can go wrong talking to Redis, split by what the caller should do.

use fred::error::{Error as FredError, ErrorKind};

/// A failed cache operation.
///
/// [`CacheError::Unavailable`] means "Redis could not answer right now": the
/// caller must not guess and should answer 503 / gRPC `UNAVAILABLE` (or let
/// Telegram retry). The other variants are bugs or data problems that a retry
/// will not fix.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The node is down, unreachable, still loading, out of memory, rejected
    /// our credentials, or did not answer within the socket timeout.
    #[error("redis {node} unavailable: {reason}")]
    Unavailable { node: String, reason: String },
    /// Redis answered with an error that a retry will not fix (wrong type,
    /// script error, ...).
    #[error("redis {node} error: {reason}")]
    Protocol { node: String, reason: String },
    /// A stored value could not be encoded or decoded.
    #[error("cannot encode or decode the value of {key}: {reason}")]
    Codec { key: String, reason: String },
}

impl CacheError {
    /// Whether the caller should report "unavailable, retry later".
    pub fn is_unavailable(&self) -> bool {
        matches!(self, CacheError::Unavailable { .. })
    }

    pub(crate) fn codec(key: &str, reason: impl ToString) -> CacheError {
        CacheError::Codec {
            key: key.to_string(),
            reason: reason.to_string(),
        }
    }

    /// Classifies a fred error from `node` (e.g. "master 10.0.0.5:6379").
    pub(crate) fn from_fred(node: &str, err: FredError) -> CacheError {
        let node = node.to_string();
        let details = err.details().to_string();
        match err.kind() {
            ErrorKind::IO
            | ErrorKind::Timeout
            | ErrorKind::Backpressure
            | ErrorKind::Routing
            | ErrorKind::Auth
            | ErrorKind::Tls => CacheError::Unavailable {
                node,
                reason: format!("{}: {details}", err.kind().to_str()),
            },
            // fred answers Canceled when a fail-fast command finds the
            // connection down (it is reconnecting in the background).
            ErrorKind::Canceled => CacheError::Unavailable {
                node,
                reason: format!("not connected ({details})"),
            },
            ErrorKind::Unknown if unavailable_reply(&details) => CacheError::Unavailable {
                node,
                reason: details,
            },
            // Includes replies fred could not convert to the expected type.
            _ => CacheError::Protocol {
                node,
                reason: details,
            },
        }
    }
}

/// Whether an error text means the node cannot serve us right now.
///
/// Redis error replies start with an upper-case code (`ERR`, `WRONGTYPE`,
/// `LOADING`, ...); fred reports its own client-state problems ("Client is not
/// initialized.", "Too many failed write attempts.") with the same generic
/// kind but in prose, and those all mean the connection is not usable.
fn unavailable_reply(details: &str) -> bool {
    let code = details.split_whitespace().next().unwrap_or("");
    let is_redis_code = !code.is_empty()
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !is_redis_code {
        return true;
    }
    matches!(
        code,
        // Starting up or resyncing; a replica cut off from its master with
        // replica-serve-stale-data off; a demoted master; persistence broken;
        // maxmemory reached (noeviction); a script hogging the server.
        "LOADING"
            | "MASTERDOWN"
            | "READONLY"
            | "MISCONF"
            | "OOM"
            | "BUSY"
            | "TRYAGAIN"
            | "NOREPLICAS"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_problems_are_unavailable() {
        for err in [
            FredError::new(ErrorKind::IO, "Connection reset by peer"),
            FredError::new(ErrorKind::Timeout, "Request timed out."),
            FredError::new(ErrorKind::Canceled, "Connection closed unexpectedly."),
            FredError::new(ErrorKind::Auth, "WRONGPASS invalid username-password pair"),
            FredError::new(ErrorKind::Unknown, "Client is not initialized."),
            FredError::new(
                ErrorKind::Unknown,
                "LOADING Redis is loading the dataset in memory",
            ),
            FredError::new(
                ErrorKind::Unknown,
                "OOM command not allowed when used memory > 'maxmemory'.",
            ),
        ] {
            let e = CacheError::from_fred("master 127.0.0.1:6379", err);
            assert!(e.is_unavailable(), "{e}");
            assert!(e.to_string().contains("master 127.0.0.1:6379"), "{e}");
        }
    }

    #[test]
    fn server_errors_are_not_unavailable() {
        for err in [
            FredError::new(ErrorKind::Unknown, "ERR wrong number of arguments"),
            FredError::new(
                ErrorKind::InvalidArgument,
                "WRONGTYPE Operation against a key",
            ),
            FredError::new(ErrorKind::Unknown, "NOSCRIPT No matching script."),
            FredError::new(ErrorKind::Parse, "Could not convert to integer."),
        ] {
            let e = CacheError::from_fred("master x:1", err);
            assert!(matches!(e, CacheError::Protocol { .. }), "{e}");
        }
    }
}
