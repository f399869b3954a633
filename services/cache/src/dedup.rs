//! Dedup and idempotency claims: "handle this update / callback only once".
//!
//! A claim is a key on the master: absent (nobody has it), `processing` (a
//! worker is on it; expires so a crashed worker does not block retries for
//! ever) or `done` (handled; kept longer so late redeliveries are dropped).
//! Always on the master: a replica lagging by a few milliseconds would let two
//! workers both see "absent".

use std::time::Duration;

use fred::interfaces::KeysInterface;
use fred::prelude::SetOptions;

use crate::client::{Cache, px};
use crate::error::CacheError;

const PROCESSING: &str = "processing";
/// A claim taken by [`Cache::claim_as`]: `processing:<owner>`.
const OWNED_PREFIX: &str = "processing:";
const DONE: &str = "done";

fn owned(owner: &str) -> String {
    format!("{OWNED_PREFIX}{owner}")
}

fn owner_of(value: &str) -> &str {
    value.strip_prefix(OWNED_PREFIX).unwrap_or_default()
}

/// Decodes the reply of [`CLAIM_AS_LUA`] and [`CLAIM_UPDATE_LUA`].
fn claimed(key: &str, reply: &[String]) -> Result<Claimed, CacheError> {
    match reply.first().map(String::as_str) {
        Some("1") => Ok(Claimed::Taken),
        Some("2") => Ok(Claimed::Done),
        Some("3") => {
            let value = reply.get(1).map(String::as_str).unwrap_or_default();
            Ok(Claimed::HeldBy(owner_of(value).to_string()))
        }
        _ => Err(CacheError::codec(
            key,
            format!("unexpected claim reply {reply:?}"),
        )),
    }
}

fn px_millis(ttl: Duration) -> u128 {
    ttl.as_millis().max(1)
}

/// Deletes the claim only while it is still `processing`, so a late release
/// cannot erase a `done` marker (which would let a redelivery run again).
pub(crate) const RELEASE_LUA: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// Takes an absent claim for an owner in one round trip, or says who has it.
/// Returns {1} taken, {2} done, {3, value} held.
pub(crate) const CLAIM_AS_LUA: &str = r#"
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1}
end
if v == 'done' then
  return {2}
end
return {3, v}
"#;

/// Hands a claim from one owner to another, only if the first still has it.
pub(crate) const TAKE_OVER_LUA: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"#;

/// [`CLAIM_AS_LUA`] for a Telegram update, which first looks for the
/// update's bit in its chunk of done markers (KEYS[2], ARGV[3] the bit).
pub(crate) const CLAIM_UPDATE_LUA: &str = r#"
if redis.call('GETBIT', KEYS[2], ARGV[3]) == 1 then
  return {2}
end
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1}
end
if v == 'done' then
  return {2}
end
return {3, v}
"#;

/// Sets the update's done bit, keeps its chunk for the done ttl after its
/// latest update, and drops the claim.
pub(crate) const FINISH_UPDATE_LUA: &str = r#"
redis.call('SETBIT', KEYS[2], ARGV[1], 1)
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[1])
return 1
"#;

/// How long an update's done marker is kept: Telegram keeps undelivered
/// updates for 24 h, so a redelivery can come as late as that.
pub const UPDATE_DONE_TTL: Duration = Duration::from_secs(24 * 3600);

/// Telegram numbers updates consecutively, so "handled" markers are bits:
/// one Redis string per 65,536 update ids (8 KiB when full), about 0.13 byte
/// per update instead of ~80 for a key of its own, so a day of markers fits
/// in a few MB at any rate.
const UPDATE_CHUNK_BITS: i64 = 1 << 16;

/// The claim key, done-chunk key and bit of an update.
fn update_keys(update_id: i64) -> (String, String, i64) {
    (
        format!("tg:update:{update_id}"),
        format!("tg:done:{}", update_id.div_euclid(UPDATE_CHUNK_BITS)),
        update_id.rem_euclid(UPDATE_CHUNK_BITS),
    )
}

/// The key (under [`Cache::claim_as`]'s naming) that holds update
/// `update_id`'s claim while it is handled, for [`Cache::take_over`] and
/// [`Cache::release_as`].
pub fn update_claim_key(update_id: i64) -> String {
    update_keys(update_id).0
}

/// What [`Cache::claim_as`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// Ours now.
    Taken,
    /// Finished before.
    Done,
    /// Someone is on it: their owner name ("" for a claim taken with
    /// [`Cache::claim`], which names nobody).
    HeldBy(String),
}

/// Where a claim stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimState {
    /// Claimed, not finished yet (or the worker died and the claim has not
    /// expired yet).
    Processing,
    /// Finished; further claims fail until the marker expires.
    Done,
}

impl Cache {
    fn claim_key(&self, key: &str) -> String {
        self.key(&format!("claim:{key}"))
    }

    /// Takes the claim on `key` (SET NX PX): true only for the first caller
    /// while the claim or its done marker exists. `ttl` should exceed the
    /// longest processing time; when it runs out the work may be claimed again.
    pub async fn claim(&self, key: &str, ttl: Duration) -> Result<bool, CacheError> {
        let m = &self.inner.master;
        let reply: Option<String> = m
            .client()
            .set(
                self.claim_key(key),
                PROCESSING,
                Some(px(ttl)),
                Some(SetOptions::NX),
                false,
            )
            .await
            .map_err(|e| m.err(e))?;
        // "OK" when set; nil when the key already existed.
        Ok(reply.is_some())
    }

    /// Marks the work done, replacing the claim; the marker lives for `ttl`
    /// (longer than the claim, to cover redeliveries).
    pub async fn finish(&self, key: &str, ttl: Duration) -> Result<(), CacheError> {
        let m = &self.inner.master;
        m.client()
            .set::<(), _, _>(self.claim_key(key), DONE, Some(px(ttl)), None, false)
            .await
            .map_err(|e| m.err(e))
    }

    /// Gives a claim back after a failure so a retry can take it. A `done`
    /// marker is left alone. Returns whether a claim was released.
    ///
    /// Claims carry no owner, so a worker whose claim expired and was taken
    /// by another would release the other's claim: keep the claim ttl above
    /// the processing time.
    pub async fn release(&self, key: &str) -> Result<bool, CacheError> {
        let m = &self.inner.master;
        let key = self.claim_key(key);
        let deleted: i64 = self
            .inner
            .release_script
            .run(m, &[&key], &[PROCESSING.to_string()])
            .await?;
        Ok(deleted > 0)
    }

    /// Like [`Cache::claim`], recording who holds the claim, so a claim
    /// whose owner died can be told from one still being worked on (see
    /// [`Cache::take_over`]). One round trip whatever the outcome.
    pub async fn claim_as(
        &self,
        key: &str,
        ttl: Duration,
        owner: &str,
    ) -> Result<Claimed, CacheError> {
        let m = &self.inner.master;
        let key = self.claim_key(key);
        let reply: Vec<String> = self
            .inner
            .claim_as_script
            .run(m, &[&key], &[owned(owner), px_millis(ttl).to_string()])
            .await?;
        claimed(&key, &reply)
    }

    /// [`Cache::claim_as`] for Telegram update `update_id`, whose done marker
    /// is a bit (see [`Cache::finish_update`]). Its claim is
    /// [`update_claim_key`].
    pub async fn claim_update(
        &self,
        update_id: i64,
        ttl: Duration,
        owner: &str,
    ) -> Result<Claimed, CacheError> {
        let m = &self.inner.master;
        let (claim, chunk, bit) = update_keys(update_id);
        let (claim, chunk) = (self.claim_key(&claim), self.key(&chunk));
        let reply: Vec<String> = self
            .inner
            .claim_update_script
            .run(
                m,
                &[&claim, &chunk],
                &[owned(owner), px_millis(ttl).to_string(), bit.to_string()],
            )
            .await?;
        claimed(&claim, &reply)
    }

    /// Marks update `update_id` handled for at least `ttl` and drops its claim.
    pub async fn finish_update(&self, update_id: i64, ttl: Duration) -> Result<(), CacheError> {
        let m = &self.inner.master;
        let (claim, chunk, bit) = update_keys(update_id);
        let (claim, chunk) = (self.claim_key(&claim), self.key(&chunk));
        let _: i64 = self
            .inner
            .finish_update_script
            .run(
                m,
                &[&claim, &chunk],
                &[bit.to_string(), px_millis(ttl).to_string()],
            )
            .await?;
        Ok(())
    }

    /// Moves a claim held by `from` to `to` (with a fresh `ttl`); false when
    /// `from` no longer holds it (finished, released, or taken by someone else).
    pub async fn take_over(
        &self,
        key: &str,
        from: &str,
        to: &str,
        ttl: Duration,
    ) -> Result<bool, CacheError> {
        let m = &self.inner.master;
        let key = self.claim_key(key);
        let moved: i64 = self
            .inner
            .take_over_script
            .run(
                m,
                &[&key],
                &[owned(from), owned(to), px_millis(ttl).to_string()],
            )
            .await?;
        Ok(moved == 1)
    }

    /// [`Cache::release`] for a claim taken with [`Cache::claim_as`]: only
    /// while `owner` still holds it.
    pub async fn release_as(&self, key: &str, owner: &str) -> Result<bool, CacheError> {
        let m = &self.inner.master;
        let key = self.claim_key(key);
        let deleted: i64 = self
            .inner
            .release_script
            .run(m, &[&key], &[owned(owner)])
            .await?;
        Ok(deleted > 0)
    }

    /// The claim's state, `None` when nobody holds it.
    pub async fn claim_state(&self, key: &str) -> Result<Option<ClaimState>, CacheError> {
        let key = self.claim_key(key);
        match self.inner.master.get(&key).await?.as_deref() {
            None => Ok(None),
            Some(v) if v == PROCESSING || v.starts_with(OWNED_PREFIX) => {
                Ok(Some(ClaimState::Processing))
            }
            Some(DONE) => Ok(Some(ClaimState::Done)),
            Some(other) => Err(CacheError::codec(
                &key,
                format!("unexpected claim value {other:?}"),
            )),
        }
    }
}
