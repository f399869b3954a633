//! This process's own count of the token's sends in any second, as Telegram
//! counts them: by arrival.
//!
//! The shared budget spaces the slots by a second and 8 ms per `rate`, and a
//! send is given up when it leaves more than LATE_LIMIT after its slot. But
//! a send can also be delayed after it left: on a busy machine the request
//! waits for a CPU on either side, and one that arrives 10–20 ms after its
//! slot lands in the same sliding second as the on-time send `rate` slots
//! later. Telegram answers that one 429, and every sender pauses a whole
//! second (measured at 30/s beside other work: two 429s in 10,000 sends,
//! each after a send that reached the sandbox 9–17 ms late although it had
//! left on time).
//!
//! Where a send arrived is not known, but it arrived before its answer: a
//! send answered at `r` was counted no later than `r`. So a send is held
//! until fewer than `rate` of this process's sends may still be in the
//! second before it, counting those not answered yet and those answered
//! within the last second. Against a distant Telegram that would hold every
//! send by the round trip; what is counted instead is the answer less the
//! quickest round trip seen lately, i.e. only delay beyond the usual one
//! (a fixed part of the way shifts every arrival alike and no second gains a
//! send). The sends of other processes on the token are left to the budget's
//! margin.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

#[derive(Default)]
pub(crate) struct Arrivals {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    in_flight: usize,
    /// Latest possible arrivals (shifted by the quickest round trip) of
    /// answered sends, oldest first.
    answered: VecDeque<Instant>,
    /// The quickest recent round trip and when it was seen.
    quickest: Option<(Duration, Instant)>,
}

/// A send that is counted until it is answered (or dropped).
pub(crate) struct Ticket<'a> {
    arrivals: &'a Arrivals,
    left: Instant,
}

impl Arrivals {
    /// Waits until a send fits under `limit` per second; `None` once it
    /// would leave after `deadline` (the slot is given up instead).
    pub async fn admit(&self, limit: usize, deadline: Instant) -> Option<Ticket<'_>> {
        let mut waited = false;
        loop {
            let now = Instant::now();
            let wake = {
                let mut s = self.state.lock().expect("arrivals");
                while s.answered.front().is_some_and(|t| *t + SECOND <= now) {
                    s.answered.pop_front();
                }
                if s.in_flight + s.answered.len() < limit.max(1) {
                    if now > deadline {
                        return None;
                    }
                    s.in_flight += 1;
                    return Some(Ticket {
                        arrivals: self,
                        left: now,
                    });
                }
                // The oldest answered send leaves the second then; a send
                // still in flight may be answered sooner.
                s.answered
                    .front()
                    .map_or(now + Duration::from_millis(1), |t| *t + SECOND)
                    .min(now + Duration::from_millis(1))
            };
            if !waited {
                // Sends held for an earlier one answered late.
                metrics::counter!("broadcast_arrival_waits_total").increment(1);
                waited = true;
            }
            if wake > deadline {
                return None;
            }
            tokio::time::sleep_until(wake).await;
        }
    }

    fn answered(&self, left: Instant) {
        let now = Instant::now();
        let rtt = now - left;
        let mut s = self.state.lock().expect("arrivals");
        s.in_flight = s.in_flight.saturating_sub(1);
        // A sample counts a millisecond more per second of age, so the
        // estimate follows a slower path within seconds.
        let quickest = match s.quickest {
            Some((q, at)) if q + (now - at) / 1000 < rtt => q,
            _ => {
                s.quickest = Some((rtt, now));
                rtt
            }
        };
        let latest = (now - quickest).max(left);
        // Kept in order (answers may come back out of order), so the front
        // is always the first to leave the second.
        let at = s.answered.partition_point(|t| *t <= latest);
        s.answered.insert(at, latest);
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.arrivals.answered(self.left);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_send_answered_late_holds_the_one_a_second_later() {
        let a = Arrivals::default();
        let far = Instant::now() + Duration::from_secs(60);
        let ms = Duration::from_millis;
        // Sends answered at once teach the quickest round trip (~0).
        for _ in 0..3 {
            drop(a.admit(3, far).await.expect("fits"));
        }
        tokio::time::sleep(ms(1010)).await;
        // One answered 30 ms after it left: it may have arrived that late.
        let t = a.admit(3, far).await.expect("fits");
        tokio::time::sleep(ms(30)).await;
        drop(t);
        let answered = Instant::now();
        drop(a.admit(3, far).await.expect("fits"));
        drop(a.admit(3, far).await.expect("fits"));
        // A fourth is given up when a second after that answer is past its
        // deadline...
        let soon = Instant::now() + ms(5);
        assert!(a.admit(3, soon).await.is_none());
        // ...and otherwise waits until then.
        drop(a.admit(3, far).await.expect("fits after a wait"));
        assert!(Instant::now() + ms(2) >= answered + SECOND);
        // A send not answered yet counts too.
        tokio::time::sleep(ms(1010)).await;
        let _t = a.admit(3, far).await.expect("fits");
        drop(a.admit(3, far).await.expect("fits"));
        drop(a.admit(3, far).await.expect("fits"));
        let soon = Instant::now() + ms(5);
        assert!(a.admit(3, soon).await.is_none(), "the one in flight counts");
    }
}
