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
const DONE: &str = "done";

/// Deletes the claim only while it is still `processing`, so a late release
/// cannot erase a `done` marker (which would let a redelivery run again).
pub(crate) const RELEASE_LUA: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

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

    /// The claim's state, `None` when nobody holds it.
    pub async fn claim_state(&self, key: &str) -> Result<Option<ClaimState>, CacheError> {
        let key = self.claim_key(key);
        match self.inner.master.get(&key).await?.as_deref() {
            None => Ok(None),
            Some(PROCESSING) => Ok(Some(ClaimState::Processing)),
            Some(DONE) => Ok(Some(ClaimState::Done)),
            Some(other) => Err(CacheError::codec(
                &key,
                format!("unexpected claim value {other:?}"),
            )),
        }
    }
}
