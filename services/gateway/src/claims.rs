//! Who is handling an update, and when a claim on one is orphaned.
//!
//! Each update is claimed in Redis before it goes to the bot, so a
//! redelivery is not handled twice. A claim outlives the longest hand-over
//! (minutes), so a claim left behind would refuse the update's redeliveries
//! for that long. Two ways to leave one behind, both healed here within
//! seconds:
//!
//! - this gateway could not give the claim back (Redis was failing over
//!   when the hand-over failed). The chat's lock (`chat_order`) is held for
//!   the whole of a hand-over, so when a redelivery of the same chat finds a
//!   claim of ours, no work of ours is still on it: it is taken back, unless
//!   the work was done and only the done marker failed, which is remembered
//!   (and retried) in memory;
//! - the gateway holding it died (SIGKILL, OOM). Every gateway refreshes a
//!   heartbeat key; a claim whose owner's heartbeat has been gone for two
//!   looks is taken over.
//!
//! The bot marks an update done itself when its reaction ends (it goes on
//! after the asking gateway died), and refuses a second hand-over of an
//! update it is still reacting to, so a takeover finds the work done or
//! waits for it. What is left: a *bot* killed after it replied and before it
//! marked the update done, whose redelivery is handled again (the
//! at-least-once window every webhook consumer has). Orders it would create
//! are still deduplicated by payments.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cache::{Cache, CacheError, Claimed, update_claim_key};
use tokio_util::sync::CancellationToken;

/// How often each gateway says it is alive, and how long that lasts.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
const HEARTBEAT_TTL: Duration = Duration::from_secs(3);
/// How long after the first "no heartbeat" the owner is looked for again, so
/// a heartbeat lost with a Redis failover (the key was written to the old
/// master just before it died) does not count as death.
const SECOND_LOOK: Duration = Duration::from_millis(1_500);
/// How often a done marker that could not be written is retried.
const FINISH_RETRY: Duration = Duration::from_millis(500);

/// The outcome of claiming an update.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// Ours to hand over.
    Ours,
    /// Handled before: answer 200.
    Done,
    /// Someone alive is on it: ask for a redelivery later.
    Busy,
}

#[derive(Clone)]
pub struct Claims {
    cache: Cache,
    /// This process's name in the claims it takes.
    instance: Arc<str>,
    /// Updates whose work finished but whose done marker is not written yet.
    unfinished: Arc<Mutex<HashSet<i64>>>,
}

impl Claims {
    pub fn new(cache: Cache) -> Claims {
        Claims {
            cache,
            instance: uuid::Uuid::new_v4().simple().to_string().into(),
            unfinished: Arc::default(),
        }
    }

    fn heartbeat_key(owner: &str) -> String {
        format!("gw:alive:{owner}")
    }

    /// Keeps this gateway's heartbeat fresh until `stop`, then removes it.
    /// Cancel `stop` only once every hand-over of this process has ended
    /// (`App::run` does): a gateway that still works on an update must not
    /// look dead to another one.
    pub fn spawn_heartbeat(&self, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let shutdown = stop;
            let key = Self::heartbeat_key(&me.instance);
            let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tick.tick() => {
                        // Redis down: nothing to do, the next tick tries again.
                        if let Err(e) = me.cache.set(&key, "1", HEARTBEAT_TTL).await {
                            tracing::debug!(error = %e, "gateway heartbeat not written");
                        }
                    }
                }
            }
            let _ = me.cache.del(&key).await;
        })
    }

    /// Claims update `update_id` for `lease`, taking over a claim left
    /// behind (see the module notes). Call with the update's chat lock held.
    pub async fn claim(&self, update_id: i64, lease: Duration) -> Result<Claim, CacheError> {
        // Done here, only the marker is missing (and may be lost altogether
        // with a failover): never handle it again, whatever Redis holds.
        if self
            .unfinished
            .lock()
            .expect("poisoned")
            .contains(&update_id)
        {
            return Ok(Claim::Done);
        }
        let key = update_claim_key(update_id);
        let key = key.as_str();
        let owner = match self
            .cache
            .claim_update(update_id, lease, &self.instance)
            .await?
        {
            Claimed::Taken => return Ok(Claim::Ours),
            Claimed::Done => return Ok(Claim::Done),
            Claimed::HeldBy(owner) => owner,
        };
        if *owner == *self.instance {
            tracing::info!(key, "taking back a claim this gateway could not release");
        } else if owner.is_empty() || !self.dead(&owner).await? {
            return Ok(Claim::Busy);
        } else {
            tracing::warn!(key, owner, "taking over the claim of a gateway that died");
        }
        Ok(
            if self
                .cache
                .take_over(key, &owner, &self.instance, lease)
                .await?
            {
                metrics::counter!("gateway_claims_taken_over_total").increment(1);
                Claim::Ours
            } else {
                Claim::Busy
            },
        )
    }

    async fn dead(&self, owner: &str) -> Result<bool, CacheError> {
        let key = Self::heartbeat_key(owner);
        if self.cache.get(&key).await?.is_some() {
            return Ok(false);
        }
        tokio::time::sleep(SECOND_LOOK).await;
        Ok(self.cache.get(&key).await?.is_none())
    }

    /// Marks the work done. When Redis refuses, the marker is retried in the
    /// background for up to `lease` and, meanwhile, redeliveries that reach
    /// this gateway are answered as done.
    pub async fn finish(&self, update_id: i64, done_ttl: Duration, lease: Duration) {
        let Err(e) = self.cache.finish_update(update_id, done_ttl).await else {
            return;
        };
        tracing::warn!(update_id, error = %e, "could not mark update done; retrying in the background");
        self.unfinished.lock().expect("poisoned").insert(update_id);
        let me = self.clone();
        tokio::spawn(async move {
            let give_up = tokio::time::Instant::now() + lease;
            while tokio::time::Instant::now() < give_up {
                tokio::time::sleep(FINISH_RETRY).await;
                if me.cache.finish_update(update_id, done_ttl).await.is_ok() {
                    break;
                }
            }
            me.unfinished.lock().expect("poisoned").remove(&update_id);
        });
    }

    /// Gives the claim back after a failed hand-over so a redelivery can take
    /// it. When Redis refuses, the claim stays ours and is taken back by the
    /// next redelivery (see [`Claims::claim`]).
    pub async fn release(&self, update_id: i64) {
        let key = update_claim_key(update_id);
        if let Err(e) = self.cache.release_as(&key, &self.instance).await {
            tracing::warn!(update_id, error = %e, "could not release claim");
        }
    }
}
