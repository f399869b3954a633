//! Which users a campaign goes to: one SQL condition per segment, used both
//! to count an audience and to materialise a campaign's recipients, so the
//! count an admin confirms is computed by the same rule that sends.

use proto::broadcast::{Audience, Segment};
use runtime::ServiceError;
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

/// The most ids an uploaded list may hold (a list of every user of a large
/// bot fits; a runaway file does not).
pub const MAX_LIST: usize = 2_000_000;

/// Where the ids of a SEGMENT_USER_IDS audience come from.
pub enum Ids<'a> {
    /// Straight from the request (counting before anything is stored).
    Given(&'a [i64]),
    /// Stored in audience_lists.
    List(Uuid),
}

/// Refuses an audience that selects nothing meaningful, with the reason.
pub fn validate(a: &Audience) -> Result<Segment, ServiceError> {
    let bad = |m: &str| Err(ServiceError::InvalidInput(m.to_string()));
    let segment = Segment::try_from(a.segment).unwrap_or(Segment::Unspecified);
    match segment {
        Segment::Unspecified => bad("choose an audience"),
        Segment::Language if normalized_language(&a.language).is_none() => {
            bad("a language code is two or three letters, like en or ru")
        }
        Segment::ActiveWithin | Segment::InactiveFor if !(1..=3650).contains(&a.days) => {
            bad("the number of days must be between 1 and 3650")
        }
        Segment::UserIds if a.user_ids.is_empty() => bad("the id list is empty"),
        Segment::UserIds if a.user_ids.len() > MAX_LIST => {
            bad("the id list is too long (at most 2,000,000 ids)")
        }
        s => Ok(s),
    }
}

fn normalized_language(code: &str) -> Option<String> {
    let c = code.trim().to_ascii_lowercase();
    ((2..=3).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_lowercase())).then_some(c)
}

/// Appends `FROM users u WHERE <who may receive this audience>` to `q`.
/// Unsubscribed and unreachable users are always excluded.
pub fn push_selection(q: &mut QueryBuilder<Postgres>, a: &Audience, ids: Ids<'_>) {
    q.push(" FROM users u WHERE u.subscribed AND u.reachable");
    let buyer =
        " EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.credited_at IS NOT NULL)";
    match Segment::try_from(a.segment).unwrap_or(Segment::Unspecified) {
        Segment::Buyers => {
            q.push(" AND").push(buyer);
        }
        Segment::NonBuyers => {
            q.push(" AND NOT").push(buyer);
        }
        Segment::Language => {
            let lang = normalized_language(&a.language).unwrap_or_default();
            q.push(" AND (lower(u.language_code) = ")
                .push_bind(lang.clone())
                .push(" OR lower(u.language_code) LIKE ")
                .push_bind(format!("{lang}-%"))
                .push(")");
        }
        Segment::ActiveWithin => {
            q.push(" AND u.last_seen_at >= now() - make_interval(days => ")
                .push_bind(a.days as i32)
                .push(")");
        }
        Segment::InactiveFor => {
            q.push(" AND u.last_seen_at < now() - make_interval(days => ")
                .push_bind(a.days as i32)
                .push(")");
        }
        Segment::UserIds => match ids {
            Ids::Given(ids) => {
                q.push(" AND u.id = ANY(").push_bind(ids).push(")");
            }
            Ids::List(list) => {
                q.push(" AND u.id IN (SELECT user_id FROM audience_lists WHERE list_id = ")
                    .push_bind(list)
                    .push(")");
            }
        },
        Segment::All | Segment::Unspecified => {}
    }
}

/// How many users the audience selects now.
pub async fn count(db: &PgPool, a: &Audience, ids: Ids<'_>) -> Result<i64, ServiceError> {
    let mut q = QueryBuilder::new("SELECT count(*)");
    push_selection(&mut q, a, ids);
    Ok(q.build_query_scalar().fetch_one(db).await?)
}

/// Stores an uploaded id list; returns its id.
pub async fn store_list(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    ids: &[i64],
) -> Result<Uuid, ServiceError> {
    let list = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO audience_lists (list_id, user_id)
         SELECT $1, id FROM unnest($2::bigint[]) AS id ON CONFLICT DO NOTHING",
    )
    .bind(list)
    .bind(ids)
    .execute(&mut **tx)
    .await?;
    Ok(list)
}

/// Materialises the recipients of `campaign` (one row each); returns how many.
pub async fn materialise(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    campaign: Uuid,
    a: &Audience,
    list: Option<Uuid>,
) -> Result<i64, ServiceError> {
    let mut q = QueryBuilder::new("INSERT INTO campaign_recipients (campaign_id, user_id) SELECT ");
    q.push_bind(campaign).push(", u.id");
    let ids = match list {
        Some(l) => Ids::List(l),
        None => Ids::Given(&[]),
    };
    push_selection(&mut q, a, ids);
    q.push(" ON CONFLICT DO NOTHING");
    let done = q.build().execute(&mut **tx).await?;
    Ok(done.rows_affected() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audience(segment: Segment) -> Audience {
        Audience {
            segment: segment as i32,
            ..Default::default()
        }
    }

    #[test]
    fn audiences_that_select_nothing_meaningful_are_refused() {
        assert!(validate(&audience(Segment::Unspecified)).is_err());
        assert!(validate(&audience(Segment::Language)).is_err());
        assert!(validate(&audience(Segment::ActiveWithin)).is_err());
        assert!(validate(&audience(Segment::UserIds)).is_err());
        let mut ru = audience(Segment::Language);
        ru.language = " RU ".into();
        assert_eq!(validate(&ru).unwrap(), Segment::Language);
        let mut days = audience(Segment::InactiveFor);
        days.days = 30;
        assert!(validate(&days).is_ok());
        assert!(validate(&audience(Segment::All)).is_ok());
    }

    #[test]
    fn language_codes_are_letters_only() {
        assert_eq!(normalized_language("en").as_deref(), Some("en"));
        assert_eq!(normalized_language("e%"), None);
        assert_eq!(normalized_language("english"), None);
    }
}
