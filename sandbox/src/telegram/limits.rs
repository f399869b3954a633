//! Telegram's flood limits for send methods: a sliding window per token (30/s for ordinary sends,
//! a separate 1000/s for paid broadcasts), a token bucket per chat (1/s with a small burst) and
//! 20/min per group.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::TelegramOptions;

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);

pub(crate) struct Limiter {
    global_per_sec: usize,
    paid_per_sec: usize,
    chat_burst: f64,
    chat_refill_per_sec: f64,
    group_per_min: usize,
    /// Ordinary sends of a token: the 30/s budget. Paid sends stay out of it, so a 1000/s paid
    /// campaign does not push the bot's own replies into 429.
    global: HashMap<String, Window>,
    /// Paid-broadcast sends of a token: their own 1000/s budget.
    paid: HashMap<String, Window>,
    chats: HashMap<(String, i64), Bucket>,
    groups: HashMap<(String, i64), Window>,
}

impl Limiter {
    pub fn new(opts: &TelegramOptions) -> Self {
        Self {
            global_per_sec: opts.global_per_sec as usize,
            paid_per_sec: opts.paid_per_sec as usize,
            chat_burst: f64::from(opts.chat_burst.max(1)),
            chat_refill_per_sec: opts.chat_refill_per_sec.max(0.001),
            group_per_min: opts.group_per_min as usize,
            global: HashMap::new(),
            paid: HashMap::new(),
            chats: HashMap::new(),
            groups: HashMap::new(),
        }
    }

    /// Takes one send from every budget, or returns `retry_after` in whole seconds (≥ 1) without
    /// taking anything, so a rejected request costs the bot nothing but the round trip.
    pub fn acquire(
        &mut self,
        token: &str,
        chat_id: i64,
        paid: bool,
        now: Instant,
    ) -> Result<(), u64> {
        let (windows, limit) = if paid {
            (&mut self.paid, self.paid_per_sec)
        } else {
            (&mut self.global, self.global_per_sec)
        };
        let window = windows.entry(token.to_owned()).or_default();
        window.prune(now, SECOND);
        let mut wait = window.wait(now, SECOND, limit);
        let key = (token.to_owned(), chat_id);
        let bucket = self.chats.entry(key.clone()).or_insert(Bucket {
            tokens: self.chat_burst,
            last: now,
        });
        bucket.refill(now, self.chat_burst, self.chat_refill_per_sec);
        wait = wait.max(bucket.wait(self.chat_refill_per_sec));
        if chat_id < 0 {
            let group = self.groups.entry(key.clone()).or_default();
            group.prune(now, MINUTE);
            wait = wait.max(group.wait(now, MINUTE, self.group_per_min));
        }
        if !wait.is_zero() {
            return Err(whole_seconds(wait));
        }
        let windows = if paid {
            &mut self.paid
        } else {
            &mut self.global
        };
        windows
            .entry(token.to_owned())
            .or_default()
            .hits
            .push_back(now);
        if let Some(bucket) = self.chats.get_mut(&key) {
            bucket.tokens -= 1.0;
        }
        if chat_id < 0 {
            self.groups.entry(key).or_default().hits.push_back(now);
        }
        Ok(())
    }
}

/// Telegram answers whole seconds; rounding up means retrying after N always works.
pub(crate) fn whole_seconds(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[derive(Default)]
struct Window {
    hits: VecDeque<Instant>,
}

impl Window {
    fn prune(&mut self, now: Instant, span: Duration) {
        while let Some(first) = self.hits.front() {
            if now.duration_since(*first) >= span {
                self.hits.pop_front();
            } else {
                break;
            }
        }
    }

    /// How long until one more hit fits under `limit` (zero when it fits now).
    fn wait(&self, now: Instant, span: Duration, limit: usize) -> Duration {
        if self.hits.len() < limit {
            return Duration::ZERO;
        }
        if limit == 0 {
            return span;
        }
        // Once this hit leaves the window, the count drops below the limit.
        let freeing = self.hits[self.hits.len() - limit];
        (freeing + span).saturating_duration_since(now)
    }
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant, cap: f64, rate: f64) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(cap);
        self.last = now;
    }

    fn wait(&self, rate: f64) -> Duration {
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> Limiter {
        Limiter::new(&TelegramOptions::default())
    }

    #[test]
    fn thirty_first_send_in_a_second_waits_for_the_window() {
        let mut l = limiter();
        let t0 = Instant::now();
        for chat in 0..30 {
            assert!(l.acquire("t", chat + 1, false, t0).is_ok());
        }
        assert_eq!(l.acquire("t", 99, false, t0), Err(1));
        assert!(l.acquire("t", 99, false, t0 + SECOND).is_ok());
    }

    #[test]
    fn per_chat_burst_then_one_per_second() {
        let mut l = limiter();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.acquire("t", 7, false, t0).is_ok());
        }
        assert_eq!(l.acquire("t", 7, false, t0), Err(1));
        assert!(l.acquire("t", 7, false, t0 + SECOND).is_ok());
    }

    #[test]
    fn group_chats_get_twenty_a_minute() {
        let mut l = limiter();
        let t0 = Instant::now();
        for i in 0..20 {
            assert!(l.acquire("t", -5, false, t0 + SECOND * i).is_ok());
        }
        let retry = l.acquire("t", -5, false, t0 + SECOND * 20).unwrap_err();
        assert_eq!(retry, 40);
    }

    #[test]
    fn paid_sends_have_their_own_budget_and_leave_the_normal_one_alone() {
        let mut l = limiter();
        let t0 = Instant::now();
        for chat in 0..1000 {
            assert!(l.acquire("t", chat + 1, true, t0).is_ok());
        }
        assert_eq!(
            l.acquire("t", 5000, true, t0),
            Err(1),
            "the 1001st paid send"
        );
        // The paid burst took nothing from the ordinary 30/s.
        for chat in 0..30 {
            assert!(l.acquire("t", 6000 + chat, false, t0).is_ok());
        }
        assert_eq!(l.acquire("t", 7000, false, t0), Err(1));
    }

    #[test]
    fn per_chat_limits_apply_to_paid_sends_too() {
        let mut l = limiter();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.acquire("t", 7, true, t0).is_ok());
        }
        assert_eq!(l.acquire("t", 7, true, t0), Err(1));
        assert_eq!(
            l.acquire("t", 7, false, t0),
            Err(1),
            "the chat's bucket is shared"
        );
    }

    #[test]
    fn tokens_have_separate_budgets() {
        let mut l = limiter();
        let t0 = Instant::now();
        for chat in 0..30 {
            assert!(l.acquire("a", chat + 1, false, t0).is_ok());
        }
        assert!(l.acquire("b", 1, false, t0).is_ok());
    }
}
