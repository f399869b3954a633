//! One error type at service boundaries, mapped to HTTP and gRPC status in
//! one place so that "unavailable, retry" and "your input is wrong" are
//! classified once for the whole fleet.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tonic::Code;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The caller sent something we will never accept; retrying will not help.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("unauthorized")]
    Unauthorized,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// A dependency (Redis master, Postgres, a peer service, Heleket) is not
    /// answering; the caller should retry later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected failure; details are logged, never sent out.
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl ServiceError {
    pub fn http_status(&self) -> StatusCode {
        match self {
            ServiceError::InvalidInput(_) => StatusCode::BAD_REQUEST,
            ServiceError::Unauthorized => StatusCode::UNAUTHORIZED,
            ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::Conflict(_) => StatusCode::CONFLICT,
            ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn grpc_code(&self) -> Code {
        match self {
            ServiceError::InvalidInput(_) => Code::InvalidArgument,
            ServiceError::Unauthorized => Code::Unauthenticated,
            ServiceError::Forbidden(_) => Code::PermissionDenied,
            ServiceError::NotFound(_) => Code::NotFound,
            ServiceError::Conflict(_) => Code::AlreadyExists,
            ServiceError::Unavailable(_) => Code::Unavailable,
            ServiceError::Internal(_) => Code::Internal,
        }
    }

    /// The message a client may see: internal details stay in the logs.
    fn public_message(&self) -> String {
        match self {
            ServiceError::Internal(_) => "internal error".to_string(),
            other => other.to_string(),
        }
    }

    /// Classifies a gRPC failure from a peer service, so the gateway answers
    /// with the same meaning it received (unavailable stays retryable).
    pub fn from_status(status: &tonic::Status) -> ServiceError {
        // A peer built its message with the same Display ("invalid input: …");
        // without the kind, so this side's Display does not say it twice.
        let msg = status.message();
        let msg = [
            "invalid input: ",
            "forbidden: ",
            "not found: ",
            "conflict: ",
            "unavailable: ",
        ]
        .iter()
        .find_map(|kind| msg.strip_prefix(kind))
        .unwrap_or(msg)
        .to_string();
        match status.code() {
            Code::InvalidArgument | Code::OutOfRange | Code::FailedPrecondition => {
                ServiceError::InvalidInput(msg)
            }
            Code::Unauthenticated => ServiceError::Unauthorized,
            Code::PermissionDenied => ServiceError::Forbidden(msg),
            Code::NotFound => ServiceError::NotFound(msg),
            Code::AlreadyExists | Code::Aborted => ServiceError::Conflict(msg),
            Code::Unavailable
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Cancelled => ServiceError::Unavailable(msg),
            // tonic's own code for a connection that broke mid-call (the peer
            // was killed or restarted): an outage to retry, not the peer's bug.
            // Taken for Internal, a restart's in-flight updates were counted
            // as failures and parked in dead_updates instead of redelivered.
            Code::Unknown if msg.contains("transport error") => ServiceError::Unavailable(msg),
            _ => ServiceError::Internal(anyhow::anyhow!("peer failed: {:?} {msg}", status.code())),
        }
    }

    fn log(&self) {
        match self {
            ServiceError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error")
            }
            ServiceError::Unavailable(m) => tracing::warn!(reason = %m, "dependency unavailable"),
            _ => {}
        }
    }
}

impl From<ServiceError> for tonic::Status {
    fn from(e: ServiceError) -> Self {
        e.log();
        tonic::Status::new(e.grpc_code(), e.public_message())
    }
}

impl From<tonic::Status> for ServiceError {
    fn from(s: tonic::Status) -> Self {
        ServiceError::from_status(&s)
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            // The pool could not hand out a connection or the server went away:
            // the database is unavailable, not our logic broken.
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => ServiceError::Unavailable(format!("database: {e}")),
            sqlx::Error::RowNotFound => ServiceError::NotFound("row".into()),
            other => ServiceError::Internal(other.into()),
        }
    }
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        self.log();
        let status = self.http_status();
        let body = axum::Json(serde_json::json!({ "error": self.public_message() }));
        let mut resp = (status, body).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // Telegram and Heleket both honour Retry-After on a non-2xx.
            resp.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("5"),
            );
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_is_retryable_on_both_protocols() {
        let e = ServiceError::Unavailable("redis master".into());
        assert_eq!(e.http_status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.grpc_code(), Code::Unavailable);
        let back = ServiceError::from_status(&tonic::Status::unavailable("x"));
        assert!(matches!(back, ServiceError::Unavailable(_)));
    }

    #[test]
    fn a_connection_broken_mid_call_is_an_outage_not_a_bug() {
        let broken = tonic::Status::unknown("transport error");
        assert!(matches!(
            ServiceError::from_status(&broken),
            ServiceError::Unavailable(_)
        ));
        let other = tonic::Status::unknown("the handler panicked");
        assert!(matches!(
            ServiceError::from_status(&other),
            ServiceError::Internal(_)
        ));
    }

    #[test]
    fn a_peers_refusal_reads_once_not_twice() {
        let peer: tonic::Status = ServiceError::InvalidInput("text: bad tag".into()).into();
        let here = ServiceError::from_status(&peer);
        assert_eq!(here.to_string(), "invalid input: text: bad tag");
        let gone = ServiceError::from_status(&tonic::Status::not_found("not found: campaign x"));
        assert_eq!(gone.to_string(), "not found: campaign x");
    }

    #[test]
    fn internal_details_are_not_sent_to_clients() {
        let s: tonic::Status = ServiceError::Internal(anyhow::anyhow!("password=hunter2")).into();
        assert_eq!(s.code(), Code::Internal);
        assert!(!s.message().contains("hunter2"));
    }
}
