use std::time::Duration;

/// A failed Bot API call, classified by `error_code` plus a substring of the
/// description, as Telegram's wording varies (see reference/external_apis.md 2.5).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TgError {
    /// 429: wait `retry_after`, then send the same request again.
    #[error("flood limit: retry after {0:?}")]
    RetryAfter(Duration),
    /// 403 blocked / deactivated / kicked / can't initiate: never retry.
    #[error("user unreachable: {0}")]
    Unreachable(String),
    /// 400 "message is not modified": the edit was a no-op, not a failure.
    #[error("message is not modified")]
    NotModified,
    /// Any other 4xx: our request is wrong; retrying will not help.
    #[error("bad request ({code}): {description}")]
    BadRequest { code: u16, description: String },
    /// 5xx: Telegram answered that it failed; retry with backoff.
    #[error("transient failure: {0}")]
    Transient(String),
    /// No answer (a timeout, a connection cut after the request was written):
    /// Telegram may have acted on it. Safe to retry only where a duplicate
    /// is harmless; the broadcast engine never resends these.
    #[error("no answer: {0}")]
    Unconfirmed(String),
    /// The connection was refused or never made: Telegram cannot have
    /// received the request, so resending can never duplicate it.
    #[error("not sent: {0}")]
    NotSent(String),
}

impl TgError {
    pub fn from_reply(code: u16, description: &str, retry_after: Option<u64>) -> TgError {
        let d = description.to_ascii_lowercase();
        match code {
            429 => TgError::RetryAfter(Duration::from_secs(retry_after.unwrap_or(1).max(1))),
            403 => TgError::Unreachable(description.to_string()),
            400 if d.contains("message is not modified") => TgError::NotModified,
            400 if d.contains("chat not found") || d.contains("user not found") => {
                TgError::Unreachable(description.to_string())
            }
            c if c >= 500 => TgError::Transient(format!("{c}: {description}")),
            c => TgError::BadRequest {
                code: c,
                description: description.to_string(),
            },
        }
    }

    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            TgError::Transient(_)
                | TgError::Unconfirmed(_)
                | TgError::NotSent(_)
                | TgError::RetryAfter(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telegram_errors_are_classified_by_code_and_wording() {
        assert_eq!(
            TgError::from_reply(429, "Too Many Requests: retry after 7", Some(7)),
            TgError::RetryAfter(Duration::from_secs(7))
        );
        assert!(matches!(
            TgError::from_reply(403, "Forbidden: bot was blocked by the user", None),
            TgError::Unreachable(_)
        ));
        assert!(matches!(
            TgError::from_reply(403, "Forbidden: user is deactivated", None),
            TgError::Unreachable(_)
        ));
        assert_eq!(
            TgError::from_reply(
                400,
                "Bad Request: message is not modified: specified new message content",
                None
            ),
            TgError::NotModified
        );
        assert!(TgError::from_reply(502, "Bad Gateway", None).is_transient());
        assert!(matches!(
            TgError::from_reply(400, "Bad Request: message is too long", None),
            TgError::BadRequest { code: 400, .. }
        ));
    }
}
