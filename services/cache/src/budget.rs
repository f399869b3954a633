//! The send budget of a bot token, shared by every process that sends with it
//! (the bot's replies, payment notices, every broadcast worker and replica).
//!
//! Telegram counts sends per token in any sliding second, so the budget is a
//! GCRA schedule with no burst: each send gets a slot one emission interval
//! after the previous one, and the caller waits until its slot. Reserving
//! slots ahead (a batch of them in one call) is how a broadcast worker keeps
//! a steady rate without a round trip per message; it may reserve at most
//! `max_ahead` into the future, so whoever asks next (a reply to a user) is
//! never queued behind more than `max_ahead` of broadcast traffic. That is
//! the replies' priority: they ask with a long `max_ahead` and always get the
//! next free slot.
//!
//! A 429 sets a pause that every reservation respects: no slot is handed out
//! before the pause ends, for any process using the token.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tokio::time::Instant;

use crate::client::{Cache, Script};
use crate::error::CacheError;

/// KEYS[1]: schedule key, KEYS[2]: pause key. ARGV[1]: interval µs, ARGV[2]:
/// slots wanted, ARGV[3]: max µs ahead of now the first slot may be, ARGV[4]:
/// µs ahead of now the first slot must be at least. KEYS[3], when given: a
/// chat's per-chat key, taken for ARGV[5] ms once a slot is granted (a reply
/// in a chat keeps campaign messages out of it for that long).
/// Returns {granted, µs from now to the first granted slot (or to when one
/// could be granted, when none was), now in µs (Redis' clock)}.
static RESERVE: Script = Script::new(
    r#"
local interval = tonumber(ARGV[1])
local wanted = tonumber(ARGV[2])
local max_ahead = tonumber(ARGV[3])
local lead = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local start = tonumber(redis.call('GET', KEYS[1])) or now
local pause = tonumber(redis.call('GET', KEYS[2])) or now
if start < now + lead then start = now + lead end
if start < pause then start = pause end
local ahead = start - now
if ahead > max_ahead then
  return {0, ahead - max_ahead, now}
end
local fits = math.floor((max_ahead - ahead) / interval) + 1
if wanted > fits then wanted = fits end
local tat = start + wanted * interval
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
if KEYS[3] then
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[5])
end
return {wanted, ahead, now}
"#,
);

/// KEYS[1]: pause key. ARGV[1]: pause length in µs. Extends, never shortens.
static PAUSE: Script = Script::new(
    r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local untl = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1])) or 0
if cur < untl then
  redis.call('SET', KEYS[1], string.format('%.0f', untl), 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1000)
  cur = untl
end
return cur - now
"#,
);

/// KEYS: one per chat. ARGV[1]: spacing in ms. Returns 1 per chat that may
/// be sent to now (and is now taken), 0 per chat sent to within the spacing.
static CHAT_SLOTS: Script = Script::new(
    r#"
local out = {}
for i, k in ipairs(KEYS) do
  if redis.call('SET', k, '1', 'NX', 'PX', ARGV[1]) then out[i] = 1 else out[i] = 0 end
end
return out
"#,
);

/// How long a reply keeps campaign messages out of its chat.
const CHAT_SPACING_MS: u64 = 1000;

/// Slots granted by [`Cache::reserve_sends`]: `count` sends, the first
/// `first_in` from now, each `interval` after the previous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slots {
    pub count: u32,
    /// When `count` is 0: how long until asking again can succeed.
    pub first_in: Duration,
    pub interval: Duration,
    /// When the answer arrived: slot `i` is never used before
    /// `answered + offset(i)` (Redis counted from a moment before this).
    pub answered: Instant,
    /// Where Redis' "now" of this reservation lies on the local clock: after
    /// the question, before the answer, estimated from the round trip with
    /// the least delay seen lately (see [`ClockSync`]).
    pub reserved: Instant,
}

impl Slots {
    /// Offset from the reservation of slot `i` (0-based).
    pub fn offset(&self, i: u32) -> Duration {
        self.first_in + self.interval * i
    }

    /// Slot `i` on the local clock, for judging how late a send is: Telegram
    /// counts arrivals, and the schedule is Redis', not the answer's.
    pub fn due(&self, i: u32) -> Instant {
        self.reserved + self.offset(i)
    }

    /// Slot `i`, waited for from the answer (never early).
    pub fn at(&self, i: u32) -> Instant {
        self.answered + self.offset(i)
    }
}

/// Maps Redis' clock (TIME, µs) onto the local monotonic clock, so a
/// reservation's slots can be judged late against when Redis counted them
/// rather than against when the question was asked. Judged from the
/// question, one slow round trip (the request queued behind others, the
/// process descheduled for a few ms) made every slot of the batch "late" and
/// gave them up, though each would have left on time; at 30/s that cost
/// about 1 % of the budget. The offset comes from the round trip with the
/// least delay (its midpoint is off by at most half of it); a sample's delay
/// counts a little more as it ages, so a failover or clock step is followed
/// within seconds. Whatever the estimate, Redis' moment is kept between the
/// question and the answer, where it certainly was.
struct ClockSync {
    base: std::time::Instant,
    /// Per master: (Redis µs minus local µs since `base`, round trip, when).
    best: Mutex<HashMap<String, (i128, Duration, Instant)>>,
}

fn clock() -> &'static ClockSync {
    static CLOCK: OnceLock<ClockSync> = OnceLock::new();
    CLOCK.get_or_init(|| ClockSync {
        base: std::time::Instant::now(),
        best: Mutex::new(HashMap::new()),
    })
}

impl ClockSync {
    fn local_us(&self, t: Instant) -> i128 {
        t.into_std()
            .saturating_duration_since(self.base)
            .as_micros() as i128
    }

    /// Redis' `now` of a call asked at `asked` and answered at `answered`,
    /// on the local clock.
    fn place(&self, master: &str, asked: Instant, answered: Instant, redis_us: i64) -> Instant {
        let rtt = answered - asked;
        let mid = self.local_us(asked) + (rtt.as_micros() / 2) as i128;
        let sample = i128::from(redis_us) - mid;
        let offset = {
            let mut best = self.best.lock().unwrap_or_else(|p| p.into_inner());
            let entry = best
                .entry(master.to_string())
                .or_insert((sample, rtt, answered));
            // One ms of allowance per second of age.
            let aged = entry.1 + (answered - entry.2) / 1000;
            if rtt <= aged {
                *entry = (sample, rtt, answered);
            }
            entry.0
        };
        let local = i128::from(redis_us) - offset;
        let since_asked = (local - self.local_us(asked)).clamp(0, rtt.as_micros() as i128);
        asked + Duration::from_micros(since_asked as u64)
    }
}

/// Slots are spread over a second plus this margin. Telegram (and the
/// sandbox) count sends in any sliding second by arrival time; without a
/// margin, one send a millisecond late and the next on time put rate + 1
/// sends into some second. 8 ms keeps the rate above 99 % of the budget
/// (29.76/s of 30, 992/s of 1000) and absorbs that much scheduling jitter.
const WINDOW_MARGIN_US: u64 = 8_000;

/// A slot used later than this must be given up and a new one reserved: the
/// window margin (8 ms) absorbs smaller delays, not larger ones. Kept a little
/// under the margin for the request's own way to Telegram; on a busy machine
/// giving up slots lowers the rate, which is the price of never flooding.
pub const LATE_LIMIT: Duration = Duration::from_millis(6);

/// The emission interval of a rate, in whole µs.
fn interval_us(per_sec: u32) -> u64 {
    ((1_000_000 + WINDOW_MARGIN_US) / u64::from(per_sec.max(1))).max(1)
}

impl Cache {
    /// Reserves up to `wanted` send slots of `budget` (a key per token and
    /// kind) at `per_sec`, the first at least `lead` and at most `max_ahead`
    /// from now. The lead is the caller's time to prepare the sends (claim
    /// the recipients): a slot used late would bunch up with the next one
    /// and put more than the rate into some second.
    pub async fn reserve_sends(
        &self,
        budget: &str,
        per_sec: u32,
        wanted: u32,
        lead: Duration,
        max_ahead: Duration,
        chat: Option<i64>,
    ) -> Result<Slots, CacheError> {
        let interval = interval_us(per_sec);
        let mut keys = vec![
            self.key(&format!("tg:budget:{budget}")),
            self.pause_key(budget),
        ];
        if let Some(chat) = chat {
            keys.push(self.chat_key(budget, chat));
        }
        let args = [
            interval.to_string(),
            wanted.max(1).to_string(),
            (max_ahead.as_micros() as u64).to_string(),
            (lead.min(max_ahead).as_micros() as u64).to_string(),
            CHAT_SPACING_MS.to_string(),
        ];
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let asked = Instant::now();
        let reply: Vec<i64> = RESERVE.run(&self.inner.master, &keys, &args).await?;
        let answered = Instant::now();
        match reply[..] {
            [count, us, redis_now] => Ok(Slots {
                count: u32::try_from(count.max(0)).unwrap_or(0),
                first_in: Duration::from_micros(us.max(0) as u64),
                interval: Duration::from_micros(interval),
                answered,
                reserved: clock().place(&self.inner.master.label, asked, answered, redis_now),
            }),
            _ => Err(self.protocol(format!("reserve script returned {reply:?}"))),
        }
    }

    /// Pauses every sender of the token for `length` (a 429's retry_after).
    /// Returns how long the pause now lasts (an existing longer one stays).
    pub async fn pause_sends(&self, token: &str, length: Duration) -> Result<Duration, CacheError> {
        let key = self.pause_key(token);
        let left: i64 = PAUSE
            .run(
                &self.inner.master,
                &[&key],
                &[(length.as_micros() as u64).to_string()],
            )
            .await?;
        Ok(Duration::from_micros(left.max(0) as u64))
    }

    /// Takes the per-chat slot of each chat that has had no send of `token`
    /// within `spacing`; returns, per chat, whether it was taken.
    pub async fn take_chat_slots(
        &self,
        token: &str,
        chats: &[i64],
        spacing: Duration,
    ) -> Result<Vec<bool>, CacheError> {
        if chats.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = chats.iter().map(|c| self.chat_key(token, *c)).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let reply: Vec<i64> = CHAT_SLOTS
            .run(
                &self.inner.master,
                &keys,
                &[spacing.as_millis().max(1).to_string()],
            )
            .await?;
        if reply.len() != chats.len() {
            return Err(self.protocol(format!("chat slot script returned {reply:?}")));
        }
        Ok(reply.into_iter().map(|v| v == 1).collect())
    }

    /// The per-chat key: per token (the budget name up to its first ':').
    fn chat_key(&self, budget: &str, chat: i64) -> String {
        let token = budget.split(':').next().unwrap_or(budget);
        self.key(&format!("tg:chat:{token}:{chat}"))
    }

    /// The pause key is per token (the budget name up to its first ':'), so a
    /// 429 on paid traffic pauses the normal budget too and vice versa.
    fn pause_key(&self, budget: &str) -> String {
        let token = budget.split(':').next().unwrap_or(budget);
        self.key(&format!("tg:pause:{token}"))
    }

    fn protocol(&self, reason: String) -> CacheError {
        CacheError::Protocol {
            node: self.inner.master.label.clone(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_spaced_by_the_interval() {
        let now = Instant::now();
        let s = Slots {
            count: 3,
            first_in: Duration::from_millis(5),
            interval: Duration::from_micros(interval_us(30)),
            answered: now,
            reserved: now,
        };
        assert_eq!(s.offset(0), Duration::from_millis(5));
        assert_eq!(
            s.offset(2),
            Duration::from_millis(5) + Duration::from_micros(67_200)
        );
        // `rate` slots always span more than a second, so no sliding second
        // of arrivals holds more than `rate` sends.
        for rate in [1u32, 30, 1000] {
            assert!(interval_us(rate) * u64::from(rate) > 1_005_000, "{rate}");
        }
        assert_eq!(interval_us(1000), 1008);
        assert_eq!(interval_us(0), 1_008_000);
    }

    #[test]
    fn redis_time_is_placed_by_the_quickest_round_trip_and_within_the_call() {
        let c = ClockSync {
            base: std::time::Instant::now(),
            best: Mutex::new(HashMap::new()),
        };
        let t0 = Instant::now() + Duration::from_secs(1);
        let ms = Duration::from_millis;
        // Redis' clock runs 5 s ahead of ours since `base`.
        let redis = |t: Instant| (c.local_us(t) + 5_000_000) as i64;
        // A quick call (0.2 ms): Redis ran at its midpoint.
        let (a, b) = (t0, t0 + Duration::from_micros(200));
        let mid = t0 + Duration::from_micros(100);
        assert_eq!(c.place("m", a, b, redis(mid)), mid);
        // A slow call whose delay was on the way there (queued): Redis ran
        // just before the answer, and that is where it is placed, not at
        // the question.
        let (a, b) = (t0 + ms(10), t0 + ms(30));
        let placed = c.place("m", a, b, redis(t0 + ms(29)));
        assert!(
            placed >= t0 + ms(29) && placed <= t0 + ms(29) + ms(1),
            "{placed:?}"
        );
        // Delay on the way back: placed near the question.
        let (a, b) = (t0 + ms(40), t0 + ms(60));
        let placed = c.place("m", a, b, redis(t0 + ms(41)));
        assert!(placed >= t0 + ms(41) && placed <= t0 + ms(42), "{placed:?}");
        // A clock that jumped is still kept within the call.
        let (a, b) = (t0 + ms(70), t0 + ms(75));
        assert_eq!(c.place("m", a, b, redis(t0) - 60_000_000), a);
        assert_eq!(c.place("m", a, b, redis(t0) + 60_000_000), b);
    }
}
