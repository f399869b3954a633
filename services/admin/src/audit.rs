//! The append-only audit log: every change made through the admin API, and
//! every sign-in attempt, with who, when, what and from where. The table's
//! trigger refuses UPDATE and DELETE, so not even a bug here can rewrite it.

use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use std::net::IpAddr;
use time::OffsetDateTime;

pub struct Entry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: Option<String>,
    pub details: Value,
    pub address: IpAddr,
}

pub async fn append(db: &PgPool, e: Entry<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (actor, action, target, details, address) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(e.actor)
    .bind(e.action)
    .bind(e.target)
    .bind(e.details)
    .bind(e.address.to_string())
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Record {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    #[schema(value_type = Object)]
    #[schema(value_type = Object)]
    pub details: Value,
    pub address: Option<String>,
}

/// Newest first, `limit` entries older than `before` (an id), optionally of one action.
pub async fn page(
    db: &PgPool,
    before: Option<i64>,
    action: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<Record>> {
    sqlx::query_as(
        "SELECT id, at, actor, action, target, details, address FROM audit_log
         WHERE ($1::bigint IS NULL OR id < $1) AND ($2::text IS NULL OR action = $2)
         ORDER BY id DESC LIMIT $3",
    )
    .bind(before)
    .bind(action)
    .bind(limit)
    .fetch_all(db)
    .await
}
