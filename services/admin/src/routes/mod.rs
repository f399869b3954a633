//! Every endpoint of `/admin/api/v1`, and the permission each one needs
//! (checked in the handler with `Caller::require`).

pub mod admins;
pub(crate) mod audit;
pub(crate) mod auth;
pub(crate) mod campaigns;
pub(crate) mod customers;
pub(crate) mod kpis;
pub(crate) mod support;

use crate::app::AppState;
use crate::roles::Permission;
use axum::Router;
use axum::routing::{get, patch, post};

pub const PREFIX: &str = "/admin/api/v1";

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/logout", post(auth::logout))
        .route("/me", get(auth::me))
        .route("/openapi.json", get(crate::openapi::json))
        .route("/admins", get(admins::list).post(admins::create))
        .route("/admins/{id}", patch(admins::update).delete(admins::remove))
        .route("/users", get(customers::users))
        .route("/users.csv", get(customers::users_csv))
        .route("/users/{id}", get(customers::user))
        .route("/users/{id}/notes", post(support::add_note))
        .route("/orders", get(customers::orders))
        .route("/orders.csv", get(customers::orders_csv))
        .route("/orders/{id}/resend-link", post(support::resend_link))
        .route("/kpis", get(kpis::kpis))
        .route("/audit", get(audit::list))
        .route("/audit.csv", get(audit::export))
        .route("/audiences/count", post(campaigns::count))
        .route(
            "/audiences/ids",
            post(campaigns::upload_ids).layer(axum::extract::DefaultBodyLimit::max(
                proto::audience_list::MAX_BYTES as usize,
            )),
        )
        .route(
            "/campaigns",
            // A user_ids audience carries what an uploaded list held.
            get(campaigns::list).post(campaigns::create).layer(
                axum::extract::DefaultBodyLimit::max(
                    proto::audience_list::MAX_BYTES as usize + 64 * 1024,
                ),
            ),
        )
        .route(
            "/media",
            post(campaigns::upload_media).layer(axum::extract::DefaultBodyLimit::max(
                campaigns::MAX_MEDIA_BYTES,
            )),
        )
        .route("/campaigns/{id}", get(campaigns::get))
        .route("/campaigns/{id}/events", get(campaigns::events))
        .route(
            "/campaigns/{id}/recipients.csv",
            get(campaigns::recipients_csv),
        )
        .route("/campaigns/{id}/preview", post(campaigns::preview))
        .route("/campaigns/{id}/{action}", post(campaigns::act))
        .fallback(|| async { crate::error::ApiError::not_found("no such endpoint") });
    Router::new()
        .nest(PREFIX, api)
        .route("/admin/api/docs", get(crate::openapi::docs))
        .with_state(state)
}

/// What each operation (by its OpenAPI operation id) needs; `None`: any
/// signed-in admin. The OpenAPI document's `x-roles` come from here, and the
/// role-matrix test holds the server to them. Sign-in and refresh are public.
pub const PERMISSIONS: &[(&str, Option<Permission>)] = {
    use Permission::*;
    &[
        ("login", None),
        ("refresh", None),
        ("logout", None),
        ("me", None),
        ("list_admins", Some(ManageAdmins)),
        ("create_admin", Some(ManageAdmins)),
        ("set_admin_role", Some(ManageAdmins)),
        ("remove_admin", Some(ManageAdmins)),
        ("list_users", Some(ReadCustomers)),
        ("export_users", Some(ReadCustomers)),
        ("get_user", Some(ReadCustomers)),
        ("add_note", Some(SupportCustomers)),
        ("list_orders", Some(ReadOrders)),
        ("export_orders", Some(ReadOrders)),
        ("resend_pay_link", Some(SupportCustomers)),
        ("kpis", Some(ReadKpis)),
        ("list_audit", Some(ReadAudit)),
        ("export_audit", Some(ReadAudit)),
        ("count_audience", Some(ManageCampaigns)),
        ("upload_id_list", Some(ManageCampaigns)),
        ("upload_media", Some(ManageCampaigns)),
        ("list_campaigns", Some(ReadCampaigns)),
        ("create_campaign", Some(ManageCampaigns)),
        ("get_campaign", Some(ReadCampaigns)),
        ("campaign_action", Some(ManageCampaigns)),
        ("preview_campaign", Some(ManageCampaigns)),
        ("watch_campaign", Some(ReadCampaigns)),
        ("export_recipients", Some(ReadCampaigns)),
    ]
};

/// The permission an operation needs (`Some(None)`: none), if it is known.
pub fn permission(operation_id: &str) -> Option<Option<Permission>> {
    PERMISSIONS
        .iter()
        .find(|(id, _)| *id == operation_id)
        .map(|(_, p)| *p)
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
