//! The admin API's errors and how each becomes an HTTP answer: the fleet's
//! `ServiceError` for the common kinds, plus sign-in throttling. Bodies are
//! `{"error": "..."}` with a message that says what is wrong and never a
//! secret or an internal detail.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use runtime::ServiceError;
use serde::de::DeserializeOwned;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// Too many sign-in attempts (per address) or a locked account.
    #[error("{0}")]
    TooMany(&'static str, Duration),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn invalid(msg: impl Into<String>) -> ApiError {
        ServiceError::InvalidInput(msg.into()).into()
    }
    pub fn unauthorized() -> ApiError {
        ServiceError::Unauthorized.into()
    }
    pub fn forbidden(msg: impl Into<String>) -> ApiError {
        ServiceError::Forbidden(msg.into()).into()
    }
    pub fn not_found(msg: impl Into<String>) -> ApiError {
        ServiceError::NotFound(msg.into()).into()
    }
    pub fn conflict(msg: impl Into<String>) -> ApiError {
        ServiceError::Conflict(msg.into()).into()
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        ServiceError::from(e).into()
    }
}

impl From<cache::CacheError> for ApiError {
    fn from(e: cache::CacheError) -> ApiError {
        ServiceError::Unavailable(format!("redis: {e}")).into()
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> ApiError {
        ServiceError::Internal(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Service(e) => {
                let unauthorized = matches!(e, ServiceError::Unauthorized);
                let mut resp = e.into_response();
                if unauthorized {
                    resp.headers_mut()
                        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                }
                resp
            }
            ApiError::TooMany(msg, retry) => {
                let body = axum::Json(serde_json::json!({ "error": msg }));
                let mut resp = (StatusCode::TOO_MANY_REQUESTS, body).into_response();
                let secs = retry.as_secs_f64().ceil().max(1.0) as u64;
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                resp
            }
        }
    }
}

/// A JSON body whose refusal (not JSON, a wrong type, an unknown field with
/// `deny_unknown_fields`) is a 400 naming what is wrong, like every other error.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(r) => Err(ApiError::invalid(r.body_text())),
        }
    }
}

/// Query parameters, refused like [`Body`].
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Params(v)),
            Err(r) => Err(ApiError::invalid(r.body_text())),
        }
    }
}
