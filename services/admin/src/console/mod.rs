//! The web console at `/admin/`: server-rendered pages over the same
//! handlers the JSON API uses (so a page shows exactly what the API
//! answers, under the same role checks), plus one small script of our own
//! (`static/console.js`, no library, no CDN) for the forms that change
//! things and for live campaign progress.
//!
//! Sign-in sets a session cookie (HttpOnly, Secure, SameSite=Strict, path
//! `/admin`). The script sends every change to `/admin/api/v1` with the
//! session's CSRF token from the page's meta tag; the API refuses a cookie
//! request that changes something without it.

pub(crate) mod html;
mod pages;

use crate::app::AppState;
use crate::auth::SESSION_COOKIE;
use crate::error::ApiError;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use runtime::ServiceError;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/admin", get(|| async { Redirect::permanent("/admin/") }))
        .route("/admin/", get(pages::dashboard))
        .route("/admin/login", get(pages::login_form).post(pages::login))
        .route("/admin/logout", post(pages::logout))
        .route("/admin/campaigns", get(pages::campaigns))
        .route("/admin/campaigns/new", get(pages::new_campaign))
        .route("/admin/campaigns/{id}", get(pages::campaign))
        .route("/admin/customers", get(pages::customers))
        .route("/admin/customers/{id}", get(pages::customer))
        .route("/admin/orders", get(pages::orders))
        .route("/admin/audit", get(pages::audit))
        .route("/admin/admins", get(pages::admins))
        .route("/admin/static/console.js", get(script))
        .route("/admin/static/console.css", get(style))
        .layer(axum::middleware::map_response(secure_headers))
        .with_state(state)
}

/// No inline script or style runs, nothing is framed, nothing is cached.
async fn secure_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp
}

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../static/console.js"),
    )
}

async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../static/console.css"),
    )
}

/// `Set-Cookie` for a new console session, or (with `None`) one that ends it.
fn session_cookie(secret: Option<&str>, max_age: u64) -> HeaderValue {
    let v = match secret {
        Some(s) => format!(
            "{SESSION_COOKIE}={s}; Path=/admin; HttpOnly; Secure; SameSite=Strict; Max-Age={max_age}"
        ),
        None => {
            format!("{SESSION_COOKIE}=; Path=/admin; HttpOnly; Secure; SameSite=Strict; Max-Age=0")
        }
    };
    HeaderValue::from_str(&v).expect("cookie characters are hex")
}

/// A page that could not be shown: signed out goes to the sign-in form,
/// anything else is an HTML page with the status and the reason.
pub struct PageError(ApiError);

impl<E: Into<ApiError>> From<E> for PageError {
    fn from(e: E) -> PageError {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, message) = match self.0 {
            ApiError::Service(ServiceError::Unauthorized) => {
                return Redirect::to("/admin/login").into_response();
            }
            ApiError::Service(ServiceError::Internal(e)) => {
                tracing::error!(error = format!("{e:#}"), "console page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".to_string(),
                )
            }
            ApiError::Service(e) => (e.http_status(), e.to_string()),
            ApiError::TooMany(msg, _) => (StatusCode::TOO_MANY_REQUESTS, msg.to_string()),
        };
        let body = format!(
            r#"<p class="error">{}</p><p><a href="/admin/">Back to the dashboard</a></p>"#,
            html::esc(&message)
        );
        let title = status.canonical_reason().unwrap_or("Error");
        (status, Html(html::page(title, None, &body))).into_response()
    }
}

pub type PageResult = Result<Response, PageError>;
