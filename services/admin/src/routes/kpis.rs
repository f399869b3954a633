//! `GET /kpis?from=YYYY-MM-DD&to=YYYY-MM-DD`: the dashboard's numbers as
//! JSON (`ReadKpis`). Days are UTC; a range is at most 366 days (the last 30
//! by default) and every day in it is listed, zeros included, so a chart
//! needs no gap filling. Each figure is one grouped query over an index:
//! users by `created_at`, `user_activity` by day, orders by `credited_at`.

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Params};
use crate::roles::Permission;
use axum::Json;
use axum::extract::State;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use std::collections::BTreeMap;
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

pub const MAX_DAYS: i64 = 366;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Query {
    from: Option<String>,
    to: Option<String>,
}

fn day(name: &str, s: &str) -> ApiResult<Date> {
    Date::parse(s, &time::format_description::well_known::Iso8601::DATE)
        .map_err(|_| ApiError::invalid(format!("{name} {s:?}: expected YYYY-MM-DD")))
}

/// The days asked for, checked.
pub fn range(q: &Query, today: Date) -> ApiResult<(Date, Date)> {
    let to =
        q.to.as_deref()
            .map(|s| day("to", s))
            .transpose()?
            .unwrap_or(today);
    let from = match q.from.as_deref() {
        Some(s) => day("from", s)?,
        None => to - Duration::days(29),
    };
    if from > to {
        return Err(ApiError::invalid("from: must not be after to"));
    }
    if (to - from).whole_days() >= MAX_DAYS {
        return Err(ApiError::invalid(format!(
            "from..to: at most {MAX_DAYS} days"
        )));
    }
    Ok((from, to))
}

/// Amounts per currency, as exact decimal strings.
type Money = BTreeMap<String, String>;

fn add(money: &mut BTreeMap<String, Decimal>, currency: &str, amount: Decimal) {
    *money.entry(currency.to_string()).or_default() += amount;
}

fn money(m: BTreeMap<String, Decimal>) -> Money {
    m.into_iter()
        .map(|(c, a)| (c, a.normalize().to_string()))
        .collect()
}

#[derive(Serialize, utoipa::ToSchema)]
struct Day {
    day: String,
    new_users: i64,
    active_users: i64,
    purchases: i64,
    revenue: Money,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Conversion {
    /// Users who started the bot in the range.
    started: i64,
    /// Of those, how many have bought (by now).
    bought: i64,
    rate: f64,
}

#[derive(Serialize, sqlx::FromRow, utoipa::ToSchema)]
struct Pack {
    stars: i64,
    orders: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
struct CampaignKpi {
    id: Uuid,
    title: String,
    status: String,
    #[serde(with = "time::serde::rfc3339::option")]
    started_at: Option<OffsetDateTime>,
    recipients: i64,
    sent: i64,
    failed: i64,
    blocked: i64,
    unknown: i64,
    /// Purchases credited to a recipient within 24 h after their message.
    purchases_24h: i64,
    revenue_24h: Money,
}

#[derive(sqlx::FromRow)]
struct CampaignRow {
    id: Uuid,
    title: String,
    status: String,
    started_at: Option<OffsetDateTime>,
    recipients: i64,
    sent: i64,
    failed: i64,
    blocked: i64,
    unknown: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Totals {
    new_users: i64,
    purchases: i64,
    revenue: Money,
}

/// The dashboard: every day of the range, and the range's totals.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Kpis {
    from: String,
    to: String,
    days: Vec<Day>,
    totals: Totals,
    conversion: Conversion,
    packs: Vec<Pack>,
    campaigns: Vec<CampaignKpi>,
}

#[utoipa::path(get, path = "/kpis", tag = "dashboard", operation_id = "kpis", params(Query), responses((status = 200, description = "The figures, per UTC day", body = Kpis), (status = 400, description = "Bad input: what is wrong", body = crate::openapi::ErrorBody), (status = 401, description = "Not signed in, or the token or session is no longer valid", body = crate::openapi::ErrorBody), (status = 403, description = "The role may not do this (or a cookie request without its CSRF token)", body = crate::openapi::ErrorBody)))]
pub async fn kpis(
    State(s): State<AppState>,
    caller: Caller,
    Params(q): Params<Query>,
) -> ApiResult<Json<Kpis>> {
    caller.require(Permission::ReadKpis)?;
    let (from, to) = range(&q, OffsetDateTime::now_utc().date())?;
    let start = from.midnight().assume_utc();
    let end = (to + Duration::days(1)).midnight().assume_utc();
    let db = &s.db;

    let mut days: BTreeMap<Date, (i64, i64, i64, BTreeMap<String, Decimal>)> = BTreeMap::new();
    let mut d = from;
    while d <= to {
        days.insert(d, Default::default());
        d = d.next_day().unwrap_or(d + Duration::days(1));
    }
    let new: Vec<(Date, i64)> = sqlx::query_as(
        "SELECT (created_at AT TIME ZONE 'UTC')::date, count(*) FROM users
         WHERE created_at >= $1 AND created_at < $2 GROUP BY 1",
    )
    .bind(start)
    .bind(end)
    .fetch_all(db)
    .await?;
    for (d, n) in new {
        days.entry(d).or_default().0 = n;
    }
    let active: Vec<(Date, i64)> = sqlx::query_as(
        "SELECT day, count(*) FROM user_activity WHERE day >= $1 AND day <= $2 GROUP BY day",
    )
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await?;
    for (d, n) in active {
        days.entry(d).or_default().1 = n;
    }
    let sales: Vec<(Date, String, i64, Decimal)> = sqlx::query_as(
        "SELECT (credited_at AT TIME ZONE 'UTC')::date, currency, count(*), sum(amount) FROM orders
         WHERE credited_at >= $1 AND credited_at < $2 GROUP BY 1, 2",
    )
    .bind(start)
    .bind(end)
    .fetch_all(db)
    .await?;
    let mut total_revenue = BTreeMap::new();
    let mut total_purchases = 0;
    for (d, currency, n, amount) in sales {
        let e = days.entry(d).or_default();
        e.2 += n;
        add(&mut e.3, &currency, amount);
        total_purchases += n;
        add(&mut total_revenue, &currency, amount);
    }
    let total_new: i64 = days.values().map(|d| d.0).sum();
    let days: Vec<Day> = days
        .into_iter()
        .map(|(d, (new_users, active_users, purchases, revenue))| Day {
            day: d.to_string(),
            new_users,
            active_users,
            purchases,
            revenue: money(revenue),
        })
        .collect();

    let (started, bought): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE EXISTS (
                SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.credited_at IS NOT NULL))
         FROM users u WHERE created_at >= $1 AND created_at < $2",
    )
    .bind(start)
    .bind(end)
    .fetch_one(db)
    .await?;
    let packs: Vec<Pack> = sqlx::query_as(
        "SELECT stars, count(*) AS orders FROM orders
         WHERE credited_at >= $1 AND credited_at < $2
         GROUP BY stars ORDER BY count(*) DESC, stars",
    )
    .bind(start)
    .bind(end)
    .fetch_all(db)
    .await?;
    let campaigns = campaigns(db, start, end).await?;

    Ok(Json(Kpis {
        from: from.to_string(),
        to: to.to_string(),
        days,
        totals: Totals {
            new_users: total_new,
            purchases: total_purchases,
            revenue: money(total_revenue),
        },
        conversion: Conversion {
            started,
            bought,
            rate: if started > 0 {
                bought as f64 / started as f64
            } else {
                0.0
            },
        },
        packs,
        campaigns,
    }))
}

/// The 20 latest campaigns started in the range: delivery, and the purchases
/// that followed within a day of each recipient's message.
async fn campaigns(
    db: &PgPool,
    start: OffsetDateTime,
    end: OffsetDateTime,
) -> ApiResult<Vec<CampaignKpi>> {
    let rows: Vec<CampaignRow> = sqlx::query_as(
        "SELECT c.id, c.title, c.status, c.started_at, c.recipients,
                count(*) FILTER (WHERE r.state = 'sent') AS sent,
                count(*) FILTER (WHERE r.state = 'failed') AS failed,
                count(*) FILTER (WHERE r.state = 'blocked') AS blocked,
                count(*) FILTER (WHERE r.state = 'unknown') AS unknown
         FROM campaigns c LEFT JOIN campaign_recipients r ON r.campaign_id = c.id
         WHERE c.started_at >= $1 AND c.started_at < $2
         GROUP BY c.id ORDER BY c.started_at DESC LIMIT 20",
    )
    .bind(start)
    .bind(end)
    .fetch_all(db)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for c in rows {
        let followed: Vec<(String, i64, Decimal)> = sqlx::query_as(
            "SELECT o.currency, count(*), sum(o.amount)
             FROM campaign_recipients r JOIN orders o ON o.user_id = r.user_id
             WHERE r.campaign_id = $1 AND r.state = 'sent'
               AND o.credited_at >= r.sent_at AND o.credited_at < r.sent_at + interval '24 hours'
             GROUP BY o.currency",
        )
        .bind(c.id)
        .fetch_all(db)
        .await?;
        let mut revenue = BTreeMap::new();
        let mut purchases = 0;
        for (currency, n, amount) in followed {
            purchases += n;
            add(&mut revenue, &currency, amount);
        }
        out.push(CampaignKpi {
            id: c.id,
            title: c.title,
            status: c.status,
            started_at: c.started_at,
            recipients: c.recipients,
            sent: c.sent,
            failed: c.failed,
            blocked: c.blocked,
            unknown: c.unknown,
            purchases_24h: purchases,
            revenue_24h: money(revenue),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(from: Option<&str>, to: Option<&str>) -> Query {
        Query {
            from: from.map(String::from),
            to: to.map(String::from),
        }
    }

    #[test]
    fn the_range_defaults_to_the_last_30_days_and_is_bounded() {
        let today = Date::from_calendar_date(2026, time::Month::December, 2).unwrap();
        let (from, to) = range(&q(None, None), today).unwrap();
        assert_eq!((from.to_string(), to), ("2026-11-03".to_string(), today));
        let (from, to) = range(&q(Some("2026-01-01"), Some("2026-12-31")), today).unwrap();
        assert_eq!((to - from).whole_days(), 364);
        assert!(range(&q(Some("2025-01-01"), Some("2026-12-31")), today).is_err());
        assert!(range(&q(Some("2026-12-03"), Some("2026-12-02")), today).is_err());
        assert!(range(&q(Some("2026-13-01"), None), today).is_err());
        assert!(range(&q(Some("yesterday"), None), today).is_err());
    }
}
