//! A rate limiter shared by every process: GCRA in one Lua script on the master.
//!
//! GCRA (the generic cell rate algorithm) keeps a single number per key, the
//! "theoretical arrival time" (TAT) of the next request at the steady rate.
//! A request is allowed when, after adding one emission interval, the TAT is
//! at most `burst` intervals ahead of now. So a fresh key allows `burst`
//! requests at once, then one per `60 / per_minute` seconds. The script reads
//! the clock with Redis' TIME, so processes with skewed clocks share one
//! budget, and runs atomically, so concurrent callers cannot both take the
//! last slot. Counters live on the master: a replica would show old counts.

use std::time::Duration;

use crate::client::Cache;
use crate::error::CacheError;

/// KEYS[1]: limiter key; KEYS[2..]: keys deleted when the request is allowed
/// (sessions a command ends, so that costs no round trip of its own).
/// ARGV[1]: emission interval in µs. ARGV[2]: burst.
/// Returns {allowed (0/1), remaining, retry_after in µs}.
pub(crate) const GCRA_LUA: &str = r#"
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end
local new_tat = tat + interval
local ahead = new_tat - now
local limit = interval * burst
if ahead > limit then
  return {0, 0, ahead - limit}
end
-- The key is only needed until the bucket is full again.
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil(ahead / 1000) + 1)
for i = 2, #KEYS do
  redis.call('DEL', KEYS[i])
end
return {1, math.floor((limit - ahead) / interval), 0}
"#;

/// A budget: `burst` requests at once, refilling at `per_minute` per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Steady rate; 0 is treated as 1 (a limiter that never refills is a ban,
    /// not a rate limit).
    pub per_minute: u32,
    /// Requests allowed at once on a fresh key; 0 is treated as 1.
    pub burst: u32,
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    /// Further requests that would be allowed right now.
    pub remaining: u32,
    /// When denied, how long until one more request would be allowed; zero when allowed.
    pub retry_after: Duration,
}

impl RateLimit {
    /// Microseconds between two requests at the steady rate.
    fn interval_us(&self) -> u64 {
        (60_000_000 / u64::from(self.per_minute.max(1))).max(1)
    }
}

impl Cache {
    /// Counts one request against `key`'s budget and says whether it may proceed.
    pub async fn rate_limit(
        &self,
        key: &str,
        limit: RateLimit,
    ) -> Result<RateDecision, CacheError> {
        self.rate_limit_ending_session(key, limit, None).await
    }

    /// [`Cache::rate_limit`]; when the request is allowed, the session
    /// `(scope, id)` (see [`Cache::session_clear`]) ends too, atomically and in
    /// the same round trip. A denied request leaves the session as it was.
    pub async fn rate_limit_ending_session(
        &self,
        key: &str,
        limit: RateLimit,
        session: Option<(&str, i64)>,
    ) -> Result<RateDecision, CacheError> {
        let mut keys = vec![self.key(&format!("rl:{key}"))];
        keys.extend(session.map(|(scope, id)| self.session_key(scope, id)));
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let args = [
            limit.interval_us().to_string(),
            limit.burst.max(1).to_string(),
        ];
        let reply: Vec<i64> = self
            .inner
            .rate_limit_script
            .run(&self.inner.master, &keys, &args)
            .await?;
        match reply[..] {
            [allowed, remaining, retry_us] => Ok(RateDecision {
                allowed: allowed == 1,
                remaining: u32::try_from(remaining.max(0)).unwrap_or(u32::MAX),
                retry_after: Duration::from_micros(retry_us.max(0) as u64),
            }),
            _ => Err(CacheError::Protocol {
                node: self.inner.master.label.clone(),
                reason: format!("rate limit script returned {reply:?}"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_follows_the_rate() {
        let l = |per_minute| {
            RateLimit {
                per_minute,
                burst: 1,
            }
            .interval_us()
        };
        assert_eq!(l(60), 1_000_000);
        assert_eq!(l(600), 100_000);
        assert_eq!(l(0), 60_000_000);
        assert_eq!(l(u32::MAX), 1);
    }
}
