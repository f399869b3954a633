//! The admin service's SQL: admins and their sessions (its own tables), and
//! the read-only views of customers and orders (tables the bot and payments
//! own; this service never writes them).

use crate::roles::Role;
use serde::Serialize;
use sqlx::PgPool;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

fn role(s: &str) -> Result<Role, sqlx::Error> {
    s.parse().map_err(|e: String| sqlx::Error::Decode(e.into()))
}

fn interval(d: Duration) -> f64 {
    d.as_secs_f64()
}

pub struct Credentials {
    pub id: i64,
    pub login: String,
    pub role: Role,
    pub password_hash: String,
    pub locked_until: Option<OffsetDateTime>,
}

pub async fn count_admins(db: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM admins WHERE removed_at IS NULL")
        .fetch_one(db)
        .await
}

/// Creates an admin; `None` when the login is taken (also by a removed admin:
/// the audit log keeps naming that one).
pub async fn create_admin(
    db: &PgPool,
    login: &str,
    password_hash: &str,
    role: Role,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "INSERT INTO admins (login, password_hash, role) VALUES ($1, $2, $3)
         ON CONFLICT (login) DO NOTHING RETURNING id",
    )
    .bind(login)
    .bind(password_hash)
    .bind(role.as_str())
    .fetch_optional(db)
    .await
}

pub async fn credentials(db: &PgPool, login: &str) -> sqlx::Result<Option<Credentials>> {
    let row: Option<(i64, String, String, String, Option<OffsetDateTime>)> = sqlx::query_as(
        "SELECT id, login, role, password_hash, locked_until FROM admins
         WHERE login = $1 AND removed_at IS NULL",
    )
    .bind(login)
    .fetch_optional(db)
    .await?;
    row.map(|(id, login, r, password_hash, locked_until)| {
        Ok(Credentials {
            id,
            login,
            role: role(&r)?,
            password_hash,
            locked_until,
        })
    })
    .transpose()
}

/// Counts a failed sign-in; at `max` the account locks for `lockout` and the
/// count restarts. Returns when it is now locked until, if it is.
pub async fn record_failure(
    db: &PgPool,
    id: i64,
    max: u32,
    lockout: Duration,
) -> sqlx::Result<Option<OffsetDateTime>> {
    sqlx::query_scalar(
        "UPDATE admins SET
           failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
           locked_until = CASE WHEN failed_logins + 1 >= $2
                               THEN now() + make_interval(secs => $3) ELSE locked_until END
         WHERE id = $1
         RETURNING CASE WHEN locked_until > now() THEN locked_until END",
    )
    .bind(id)
    .bind(max as i32)
    .bind(interval(lockout))
    .fetch_one(db)
    .await
}

pub async fn reset_failures(db: &PgPool, id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE admins SET failed_logins = 0, locked_until = NULL WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn create_session(
    db: &PgPool,
    admin_id: i64,
    refresh_hash: &[u8],
    ttl: Duration,
    address: &str,
) -> sqlx::Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO admin_sessions (id, admin_id, refresh_hash, expires_at, address)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5)",
    )
    .bind(id)
    .bind(admin_id)
    .bind(refresh_hash)
    .bind(interval(ttl))
    .bind(address)
    .execute(db)
    .await?;
    Ok(id)
}

pub enum Rotation {
    /// The current token: replaced by the new one.
    Rotated {
        session: Uuid,
        admin_id: i64,
        role: Role,
    },
    /// The token this session's current one replaced: someone kept a copy.
    /// The session is revoked.
    Reused { admin_id: i64 },
    /// Unknown, expired, revoked or of a removed admin.
    Refused,
}

pub async fn rotate(
    db: &PgPool,
    presented: &[u8],
    next: &[u8],
    ttl: Duration,
) -> sqlx::Result<Rotation> {
    let mut tx = db.begin().await?;
    let row: Option<(Uuid, i64, bool, String)> = sqlx::query_as(
        "SELECT s.id, s.admin_id, s.refresh_hash = $1, a.role FROM admin_sessions s
         JOIN admins a ON a.id = s.admin_id
         WHERE (s.refresh_hash = $1 OR s.previous_hash = $1)
           AND s.revoked_at IS NULL AND s.expires_at > now() AND a.removed_at IS NULL
         FOR UPDATE OF s",
    )
    .bind(presented)
    .fetch_optional(&mut *tx)
    .await?;
    let out = match row {
        None => Rotation::Refused,
        Some((session, admin_id, true, r)) => {
            sqlx::query(
                "UPDATE admin_sessions SET previous_hash = refresh_hash, refresh_hash = $2,
                   expires_at = now() + make_interval(secs => $3)
                 WHERE id = $1",
            )
            .bind(session)
            .bind(next)
            .bind(interval(ttl))
            .execute(&mut *tx)
            .await?;
            Rotation::Rotated {
                session,
                admin_id,
                role: role(&r)?,
            }
        }
        Some((session, admin_id, false, _)) => {
            revoke_in(&mut tx, session).await?;
            Rotation::Reused { admin_id }
        }
    };
    tx.commit().await?;
    Ok(out)
}

async fn revoke_in(tx: &mut sqlx::PgConnection, session: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE admin_sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
    )
    .bind(session)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn revoke_session(db: &PgPool, session: Uuid) -> sqlx::Result<()> {
    let mut c = db.acquire().await?;
    revoke_in(&mut c, session).await
}

/// The login and role behind a live session of `admin_id`, if it is live.
pub async fn live_session(
    db: &PgPool,
    session: Uuid,
    admin_id: i64,
) -> sqlx::Result<Option<(String, Role)>> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT a.login, a.role FROM admin_sessions s JOIN admins a ON a.id = s.admin_id
         WHERE s.id = $1 AND s.admin_id = $2 AND s.revoked_at IS NULL
           AND s.expires_at > now() AND a.removed_at IS NULL",
    )
    .bind(session)
    .bind(admin_id)
    .fetch_optional(db)
    .await?;
    row.map(|(login, r)| Ok((login, role(&r)?))).transpose()
}

/// The live session a console cookie (a session secret, stored as its
/// digest like a refresh token) belongs to: (session, admin id, login, role).
pub async fn cookie_session(
    db: &PgPool,
    digest: &[u8],
) -> sqlx::Result<Option<(Uuid, i64, String, Role)>> {
    let row: Option<(Uuid, i64, String, String)> = sqlx::query_as(
        "SELECT s.id, a.id, a.login, a.role FROM admin_sessions s JOIN admins a ON a.id = s.admin_id
         WHERE s.refresh_hash = $1 AND s.revoked_at IS NULL
           AND s.expires_at > now() AND a.removed_at IS NULL",
    )
    .bind(digest)
    .fetch_optional(db)
    .await?;
    row.map(|(session, id, login, r)| Ok((session, id, login, role(&r)?)))
        .transpose()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminView {
    pub id: i64,
    pub login: String,
    pub role: Role,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

pub async fn list_admins(db: &PgPool) -> sqlx::Result<Vec<AdminView>> {
    let rows: Vec<(i64, String, String, OffsetDateTime)> = sqlx::query_as(
        "SELECT id, login, role, created_at FROM admins WHERE removed_at IS NULL ORDER BY id",
    )
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|(id, login, r, created_at)| {
            Ok(AdminView {
                id,
                login,
                role: role(&r)?,
                created_at,
            })
        })
        .collect()
}

/// What an owner does to another admin.
#[derive(Debug, Clone, Copy)]
pub enum Change {
    SetRole(Role),
    /// Removed, and every session of theirs revoked.
    Remove,
}

/// Applies `change` to a live admin, unless it would leave no owner.
/// `Ok(None)`: no such admin; `Ok(Some(Err(why)))`: refused.
pub async fn change_admin(
    db: &PgPool,
    id: i64,
    change: Change,
) -> sqlx::Result<Option<Result<(), &'static str>>> {
    let mut tx = db.begin().await?;
    // Owners locked in id order, so two owners demoting or removing each
    // other at once cannot both pass the "another owner remains" check.
    let owners: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM admins WHERE role = 'owner' AND removed_at IS NULL ORDER BY id FOR UPDATE",
    )
    .fetch_all(&mut *tx)
    .await?;
    let current: Option<String> = sqlx::query_scalar(
        "SELECT role FROM admins WHERE id = $1 AND removed_at IS NULL FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(current) = current else {
        return Ok(None);
    };
    let last_owner = current == "owner" && owners.len() <= 1;
    match change {
        Change::SetRole(new) => {
            if last_owner && new != Role::Owner {
                return Ok(Some(Err("the last owner cannot be demoted")));
            }
            sqlx::query("UPDATE admins SET role = $2 WHERE id = $1")
                .bind(id)
                .bind(new.as_str())
                .execute(&mut *tx)
                .await?;
        }
        Change::Remove => {
            if last_owner {
                return Ok(Some(Err("the last owner cannot be removed")));
            }
            sqlx::query("UPDATE admins SET removed_at = now() WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE admin_sessions SET revoked_at = now() WHERE admin_id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(Some(Ok(())))
}
