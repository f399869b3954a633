//! Every endpoint of `/admin/api/v1`, and the permission each one needs
//! (checked in the handler with `Caller::require`).

pub mod admins;
mod audit;
mod auth;
mod customers;

use crate::app::AppState;
use axum::Router;
use axum::routing::{get, patch, post};

pub const PREFIX: &str = "/admin/api/v1";

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/logout", post(auth::logout))
        .route("/me", get(auth::me))
        .route("/admins", get(admins::list).post(admins::create))
        .route("/admins/{id}", patch(admins::update).delete(admins::remove))
        .route("/users", get(customers::users))
        .route("/users/{id}", get(customers::user))
        .route("/orders", get(customers::orders))
        .route("/audit", get(audit::list))
        .fallback(|| async { crate::error::ApiError::not_found("no such endpoint") });
    Router::new().nest(PREFIX, api).with_state(state)
}

/// A page size from `?limit=`: 50 by default, at most 500.
pub fn page_size(limit: Option<i64>) -> Result<i64, crate::error::ApiError> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=500).contains(&n) => Ok(n),
        Some(n) => Err(crate::error::ApiError::invalid(format!(
            "limit {n}: must be between 1 and 500"
        ))),
    }
}

/// Rows fetched with `LIMIT limit + 1`: the page, and the cursor of its last
/// row when there is more after it.
pub fn keyset<T, K>(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> K) -> (Vec<T>, Option<K>) {
    if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        let next = rows.last().map(key);
        (rows, next)
    } else {
        (rows, None)
    }
}
