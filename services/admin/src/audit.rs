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
    pub details: Value,
    pub address: Option<String>,
}

/// What a search of the log asks for; each part optional.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Filter {
    /// Exactly this action (`campaign.start`).
    pub action: Option<String>,
    /// Entries whose actor contains this, in any case (`alice`, `telegram:`).
    pub actor: Option<String>,
    /// Entries whose target contains this, in any case (`user:701`, a campaign id).
    pub target: Option<String>,
}

/// The log's rows a filter selects, newest first, older than `before`; one
/// query for the page and the export.
pub fn select<T>(f: &Filter, before: Option<i64>, limit: i64) -> crate::export::Select<T>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    sqlx::query_as(
        "SELECT id, at, actor, action, target, details, address FROM audit_log
         WHERE ($1::bigint IS NULL OR id < $1) AND ($2::text IS NULL OR action = $2)
           AND ($3::text IS NULL OR strpos(lower(actor), lower($3)) > 0)
           AND ($4::text IS NULL OR strpos(lower(coalesce(target, '')), lower($4)) > 0)
         ORDER BY id DESC LIMIT $5",
    )
    .bind(before)
    .bind(f.action.clone())
    .bind(f.actor.clone())
    .bind(f.target.clone())
    .bind(limit)
}
