//! Passwords, tokens and the caller of a request.
//!
//! - Passwords are argon2id PHC strings (salt and parameters inside).
//! - An access token is an HS256 JWT naming the admin and the session; it
//!   lives `ADMIN_ACCESS_TTL`. Each request also looks the session up, so a
//!   signed-out session or a removed admin is refused at once, and a role
//!   change applies to the next request, not at the token's expiry.
//! - A refresh token is 32 random bytes; only its SHA-256 is stored.

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::roles::{Permission, Role};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::net::{IpAddr, SocketAddr};
use uuid::Uuid;

pub const MIN_PASSWORD: usize = 12;
pub const MAX_PASSWORD: usize = 256;

pub fn check_password(p: &str) -> Result<(), String> {
    let n = p.chars().count();
    if n < MIN_PASSWORD {
        return Err(format!(
            "password must be at least {MIN_PASSWORD} characters"
        ));
    }
    if n > MAX_PASSWORD {
        return Err(format!(
            "password must be at most {MAX_PASSWORD} characters"
        ));
    }
    Ok(())
}

pub fn check_login_name(login: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "._@-".contains(c);
    if !(3..=64).contains(&login.len()) || !login.chars().all(ok_char) {
        return Err("login must be 3-64 characters of letters, digits and . _ @ -".into());
    }
    Ok(())
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?
        .to_string())
}

/// True when `password` matches `hash`. With no hash (an unknown login) a
/// fixed one is checked instead, so the answer takes as long either way and
/// does not tell which logins exist.
pub fn verify_password(hash: Option<&str>, password: &str) -> bool {
    static DUMMY: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| hash_password("not-a-password-of-anyone").expect("hash"));
    let known = hash.is_some();
    let stored = hash.unwrap_or(DUMMY.as_str());
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
        && known
}

/// A fresh refresh token and the digest that is stored for it.
pub fn new_refresh_token() -> (String, Vec<u8>) {
    let token = hex::encode(rand::random::<[u8; 32]>());
    let digest = digest(&token);
    (token, digest)
}

pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// The admin's id.
    sub: String,
    /// The session (sign-in) the token belongs to.
    sid: Uuid,
    iat: i64,
    exp: i64,
}

pub fn issue_access(state: &AppState, admin_id: i64, session: Uuid) -> anyhow::Result<String> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = Claims {
        sub: admin_id.to_string(),
        sid: session,
        iat: now,
        exp: now + state.cfg.auth.access_ttl.as_secs() as i64,
    };
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &state.keys.encoding,
    )?)
}

pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Keys the console's CSRF tokens (the same secret, another purpose).
    csrf: Vec<u8>,
}

impl Keys {
    pub fn new(secret: &[u8]) -> Keys {
        Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            csrf: secret.to_vec(),
        }
    }

    /// The console's CSRF token for a session: HMAC-SHA256 of its id. A page
    /// carries it; a cross-site form cannot read it, so it cannot send it.
    pub fn csrf_token(&self, session: Uuid) -> String {
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&self.csrf).expect("any key length");
        mac.update(b"console-csrf:");
        mac.update(session.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// The console's session cookie: the session's secret (its digest is stored,
/// as for refresh tokens). HttpOnly (no script reads it), Secure, SameSite=Strict
/// (no other site's page sends it), and only under `/admin`.
pub const SESSION_COOKIE: &str = "starshop_admin";
/// Where the console's pages send their CSRF token with every change.
pub const CSRF_HEADER: &str = "x-csrf-token";

fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A console request that changes something must carry the session's CSRF
/// token in [`CSRF_HEADER`]; reading needs none.
fn check_csrf(parts: &Parts, state: &AppState, session: Uuid) -> ApiResult<()> {
    use subtle::ConstantTimeEq;
    if parts.method.is_safe() {
        return Ok(());
    }
    let sent = parts
        .headers
        .get(CSRF_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let expected = state.keys.csrf_token(session);
    if bool::from(sent.ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "missing or wrong CSRF token (the console sends it from the page)",
        ))
    }
}

/// The admin a request comes from, checked against the session table.
#[derive(Debug, Clone)]
pub struct Caller {
    pub admin_id: i64,
    pub login: String,
    pub role: Role,
    pub session: Uuid,
    pub address: IpAddr,
}

impl Caller {
    pub fn require(&self, p: Permission) -> ApiResult<()> {
        if self.role.may(p) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "the {} role may not do this",
                self.role
            )))
        }
    }

    /// How the audit log names this caller.
    pub fn actor(&self) -> String {
        format!("admin:{} {}", self.admin_id, self.login)
    }

    /// Writes one change this caller made to the audit log, with their address.
    pub async fn audit(
        &self,
        db: &sqlx::PgPool,
        action: &str,
        target: String,
        details: serde_json::Value,
    ) -> sqlx::Result<()> {
        crate::audit::append(
            db,
            crate::audit::Entry {
                actor: &self.actor(),
                action,
                target: Some(target),
                details,
                address: self.address,
            },
        )
        .await
    }
}

/// The client's address as nginx saw it.
pub fn client_address(parts: &Parts, state: &AppState) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    runtime::client_ip::client_ip(peer, &parts.headers, &state.cfg.trusted_proxies)
}

/// The client's address, for routes that need no sign-in.
pub struct Address(pub IpAddr);

impl FromRequestParts<AppState> for Address {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Address> {
        Ok(Address(client_address(parts, state)))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;
    /// A bearer access token (API clients), or else the console's session
    /// cookie with its CSRF token on every change.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Caller> {
        let bearer = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let Some(token) = bearer else {
            let secret = cookie(parts, SESSION_COOKIE).ok_or_else(ApiError::unauthorized)?;
            let (session, admin_id, login, role) =
                crate::store::cookie_session(&state.db, &digest(secret))
                    .await?
                    .ok_or_else(ApiError::unauthorized)?;
            check_csrf(parts, state, session)?;
            return Ok(Caller {
                admin_id,
                login,
                role,
                session,
                address: client_address(parts, state),
            });
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let claims =
            jsonwebtoken::decode::<Claims>(token.trim(), &state.keys.decoding, &validation)
                .map_err(|_| ApiError::unauthorized())?
                .claims;
        let admin_id: i64 = claims.sub.parse().map_err(|_| ApiError::unauthorized())?;
        let (login, role) = crate::store::live_session(&state.db, claims.sid, admin_id)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        Ok(Caller {
            admin_id,
            login,
            role,
            session: claims.sid,
            address: client_address(parts, state),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_only_against_its_own_hash() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(Some(&h), "correct horse battery"));
        assert!(!verify_password(Some(&h), "correct horse batterY"));
        // An unknown login never verifies, whatever the password.
        assert!(!verify_password(None, "not-a-password-of-anyone"));
    }

    #[test]
    fn weak_passwords_and_odd_logins_are_refused() {
        assert!(check_password("short").is_err());
        assert!(check_password("twelve chars").is_ok());
        assert!(check_login_name("alice@example.com").is_ok());
        assert!(check_login_name("a b").is_err());
        assert!(check_login_name("ab").is_err());
    }

    #[test]
    fn csrf_tokens_are_per_session_and_per_key() {
        let (k1, k2) = (
            Keys::new(b"one key of 32 bytes or more......"),
            Keys::new(b"another key of 32 bytes or more.."),
        );
        let (s1, s2) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(k1.csrf_token(s1), k1.csrf_token(s1));
        assert_eq!(k1.csrf_token(s1).len(), 64);
        assert_ne!(k1.csrf_token(s1), k1.csrf_token(s2));
        assert_ne!(k1.csrf_token(s1), k2.csrf_token(s1));
    }

    #[test]
    fn refresh_tokens_are_stored_as_digests() {
        let (t, d) = new_refresh_token();
        assert_eq!(t.len(), 64);
        assert_eq!(d, digest(&t));
        assert_ne!(d, t.as_bytes());
    }
}
