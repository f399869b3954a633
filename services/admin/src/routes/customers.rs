//! Customers and orders, read-only: the bot owns `users`, payments owns
//! `orders` and `ledger`. Lists are keyset-paginated (an id or a
//! (created_at, id) cursor, never OFFSET), so a page costs the same at the
//! millionth user as at the first.

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Params};
use crate::export;
use crate::roles::Permission;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsersQuery {
    /// A user id, or a prefix of a username (with or without `@`) or first name.
    q: Option<String>,
    /// Users with a greater id than this (the previous page's `next`).
    after: Option<i64>,
    limit: Option<i64>,
}

#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct UserRow {
    id: i64,
    first_name: String,
    username: Option<String>,
    language_code: Option<String>,
    subscribed: bool,
    reachable: bool,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    last_seen_at: OffsetDateTime,
}

/// LIKE's own wildcards in a search term match themselves.
fn like_prefix(term: &str) -> String {
    let escaped: String = term
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("{escaped}%")
}

/// Users matching `q` (an id, or a username or first-name prefix) after the
/// id `after`, by id: one query for the page and the export.
fn select_users(
    q: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> ApiResult<export::Select<UserRow>> {
    let term = q.map(str::trim).filter(|t| !t.is_empty());
    if term.is_some_and(|t| t.chars().count() > 64) {
        return Err(ApiError::invalid("q: at most 64 characters"));
    }
    let exact_id = term.and_then(|t| t.parse::<i64>().ok());
    let prefix = term.map(|t| like_prefix(t.trim_start_matches('@')));
    Ok(sqlx::query_as(
        "SELECT id, first_name, username, language_code, subscribed, reachable, created_at, last_seen_at
         FROM users
         WHERE ($1::bigint IS NULL OR id > $1)
           AND ($2::text IS NULL OR id = $3 OR lower(username) LIKE $2 OR lower(first_name) LIKE $2)
         ORDER BY id LIMIT $4",
    )
    .bind(after)
    .bind(prefix)
    .bind(exact_id)
    .bind(limit))
}

/// A page of users; `next` is the `after` of the next page.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UsersPage {
    items: Vec<UserRow>,
    next: Option<i64>,
}

#[utoipa::path(get, path = "/users", tag = "customers", operation_id = "list_users", params(UsersQuery), responses((status = 200, description = "A page of users by id", body = UsersPage), (status = 400, description = "Bad input: what is wrong", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody)))]
pub async fn users(
    State(s): State<AppState>,
    caller: Caller,
    Params(q): Params<UsersQuery>,
) -> ApiResult<Json<UsersPage>> {
    caller.require(Permission::ReadCustomers)?;
    let limit = super::page_size(q.limit)?;
    let rows = select_users(q.q.as_deref(), q.after, limit + 1)?
        .fetch_all(&s.db)
        .await?;
    let (items, next) = super::keyset(rows, limit, |u| u.id);
    Ok(Json(UsersPage { items, next }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportUsersQuery {
    q: Option<String>,
}

/// `GET /users.csv`: every user the search selects, by id, streamed.
#[utoipa::path(get, path = "/users.csv", tag = "customers", operation_id = "export_users", params(ExportUsersQuery), responses((status = 200, description = "Every user the search selects, streamed", content_type = "text/csv", body = String), (status = 400, description = "Bad input: what is wrong", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody)))]
pub async fn users_csv(
    State(s): State<AppState>,
    caller: Caller,
    Params(q): Params<ExportUsersQuery>,
) -> ApiResult<Response> {
    caller.require(Permission::ReadCustomers)?;
    let select = select_users(q.q.as_deref(), None, i64::MAX)?;
    Ok(export::rows("users.csv", s.db, select))
}

#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct OrderRow {
    id: Uuid,
    user_id: i64,
    stars: i64,
    /// A decimal string without the column's trailing zeros ("1.5").
    #[serde(serialize_with = "decimal")]
    #[schema(value_type = String)]
    amount: Decimal,
    currency: String,
    status: String,
    heleket_status: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    credited_at: Option<OffsetDateTime>,
}

fn decimal<S: serde::Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&d.normalize().to_string())
}

#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct LedgerRow {
    id: i64,
    order_id: Option<Uuid>,
    delta: i64,
    reason: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

/// `GET /users/{id}`: the profile, the balance (the sum of the ledger), the
/// latest 50 ledger entries, orders and support's notes.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserDetail {
    user: UserRow,
    /// Stars: the sum of the ledger.
    balance: i64,
    ledger: Vec<LedgerRow>,
    orders: Vec<OrderRow>,
    notes: Vec<super::support::Note>,
}

#[utoipa::path(get, path = "/users/{id}", tag = "customers", operation_id = "get_user", params(("id" = i64, Path)), responses((status = 200, description = "The user, balance, ledger, orders and notes", body = UserDetail), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody), (status = 404, description = "No such thing", body = crate::openapi::ErrorBody)))]
pub async fn user(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<UserDetail>> {
    caller.require(Permission::ReadCustomers)?;
    let profile: Option<UserRow> = sqlx::query_as(
        "SELECT id, first_name, username, language_code, subscribed, reachable, created_at, last_seen_at
         FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&s.db)
    .await?;
    let profile = profile.ok_or_else(|| ApiError::not_found(format!("user {id}")))?;
    let balance: i64 =
        sqlx::query_scalar("SELECT COALESCE(sum(delta), 0)::bigint FROM ledger WHERE user_id = $1")
            .bind(id)
            .fetch_one(&s.db)
            .await?;
    let ledger: Vec<LedgerRow> = sqlx::query_as(
        "SELECT id, order_id, delta, reason, created_at FROM ledger
         WHERE user_id = $1 ORDER BY id DESC LIMIT 50",
    )
    .bind(id)
    .fetch_all(&s.db)
    .await?;
    let orders: Vec<OrderRow> = sqlx::query_as(
        "SELECT id, user_id, stars, amount, currency, status, heleket_status, created_at, credited_at
         FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT 50",
    )
    .bind(id)
    .fetch_all(&s.db)
    .await?;
    let notes = super::support::notes_of(&s.db, id).await?;
    Ok(Json(UserDetail {
        user: profile,
        balance,
        ledger,
        orders,
        notes,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrdersQuery {
    status: Option<String>,
    user_id: Option<i64>,
    /// RFC 3339; orders created at or after.
    #[serde(default, with = "time::serde::rfc3339::option")]
    from: Option<OffsetDateTime>,
    /// RFC 3339; orders created before.
    #[serde(default, with = "time::serde::rfc3339::option")]
    to: Option<OffsetDateTime>,
    /// The previous page's `next`.
    after: Option<String>,
    limit: Option<i64>,
}

pub const STATUSES: &[&str] = &[
    "new",
    "pending",
    "failed",
    "paid",
    "paid_over",
    "wrong_amount",
    "cancel",
    "fail",
    "system_fail",
    "refund_paid",
    "expired",
    "process",
    "check",
    "confirm_check",
    "refund_process",
    "refund_fail",
    "locked",
];

/// A cursor `<created_at µs>.<order id>`: newest first, ties broken by id.
fn parse_cursor(c: &str) -> ApiResult<(OffsetDateTime, Uuid)> {
    let bad = || ApiError::invalid("after: not a cursor this API returned");
    let (micros, id) = c.split_once('.').ok_or_else(bad)?;
    let micros: i128 = micros.parse().map_err(|_| bad())?;
    let at = OffsetDateTime::from_unix_timestamp_nanos(micros * 1000).map_err(|_| bad())?;
    Ok((at, id.parse().map_err(|_| bad())?))
}

fn cursor(o: &OrderRow) -> String {
    format!("{}.{}", o.created_at.unix_timestamp_nanos() / 1000, o.id)
}

/// Orders matching the filters, newest first, after the cursor: one query
/// for the page and the export.
fn select_orders(q: OrdersQuery, limit: i64) -> ApiResult<export::Select<OrderRow>> {
    if let Some(st) = &q.status
        && !STATUSES.contains(&st.as_str())
    {
        return Err(ApiError::invalid(format!(
            "status {st:?}: expected one of {}",
            STATUSES.join(", ")
        )));
    }
    let after = q.after.as_deref().map(parse_cursor).transpose()?;
    Ok(sqlx::query_as(
        "SELECT id, user_id, stars, amount, currency, status, heleket_status, created_at, credited_at
         FROM orders
         WHERE ($1::text IS NULL OR status = $1)
           AND ($2::bigint IS NULL OR user_id = $2)
           AND ($3::timestamptz IS NULL OR created_at >= $3)
           AND ($4::timestamptz IS NULL OR created_at < $4)
           AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6))
         ORDER BY created_at DESC, id DESC LIMIT $7",
    )
    .bind(q.status)
    .bind(q.user_id)
    .bind(q.from)
    .bind(q.to)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit))
}

/// `GET /orders`: newest first, filtered by status, user and creation time.
/// A page of orders; `next` is the `after` of the next page.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OrdersPage {
    items: Vec<OrderRow>,
    next: Option<String>,
}

#[utoipa::path(get, path = "/orders", tag = "orders", operation_id = "list_orders", params(OrdersQuery), responses((status = 200, description = "A page of orders, newest first", body = OrdersPage), (status = 400, description = "Bad input: what is wrong", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody)))]
pub async fn orders(
    State(s): State<AppState>,
    caller: Caller,
    Params(q): Params<OrdersQuery>,
) -> ApiResult<Json<OrdersPage>> {
    caller.require(Permission::ReadOrders)?;
    let limit = super::page_size(q.limit)?;
    let rows = select_orders(q, limit + 1)?.fetch_all(&s.db).await?;
    let (items, next) = super::keyset(rows, limit, cursor);
    Ok(Json(OrdersPage { items, next }))
}

/// `GET /orders.csv`: the same filters as `/orders` (no page), streamed.
#[utoipa::path(get, path = "/orders.csv", tag = "orders", operation_id = "export_orders", params(OrdersQuery), responses((status = 200, description = "Every order the filters select, streamed", content_type = "text/csv", body = String), (status = 400, description = "Bad input: what is wrong", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody)))]
pub async fn orders_csv(
    State(s): State<AppState>,
    caller: Caller,
    Params(q): Params<OrdersQuery>,
) -> ApiResult<Response> {
    caller.require(Permission::ReadOrders)?;
    if q.limit.is_some() {
        return Err(ApiError::invalid("limit: an export has no pages"));
    }
    let select = select_orders(q, i64::MAX)?;
    Ok(export::rows("orders.csv", s.db, select))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_in_a_search_match_themselves() {
        assert_eq!(like_prefix("Al_%"), "al\\_\\%%");
    }

    #[test]
    fn an_order_cursor_reads_back() {
        let id = Uuid::new_v4();
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_764_000_000_123_456_000).unwrap();
        let (a, i) = parse_cursor(&format!("{}.{id}", at.unix_timestamp_nanos() / 1000)).unwrap();
        assert_eq!((a, i), (at, id));
        assert!(parse_cursor("garbage").is_err());
    }
}
