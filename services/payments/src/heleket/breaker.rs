//! The circuit breaker around Heleket, with its state mirrored in a watch
//! channel so /health/payment, metrics and admin alerts see it.
//!
//! failsafe's state machine counts consecutive failures and times the open
//! state; around it this module adds what failsafe lacks:
//!
//! - **one trial in half-open.** failsafe lets every caller through once the
//!   recovery time has passed; here exactly one operation gets the trial
//!   [`Permit`], the others are refused at once until it reports back.
//! - **results per operation.** A permit is taken once per user operation
//!   (with its retries) and reports once, so one failing purchase counts one
//!   failure, not one per attempt.
//! - **stale results are ignored.** An operation that started while the
//!   breaker was closed and ends after it opened does not move it; only the
//!   trial decides between half-open and closed/open.
//!
//! Every call into the state machine happens under one mutex, so the trial
//! flag and the mirrored state never disagree with failsafe's own state.

use failsafe::failure_policy::ConsecutiveFailures;
use failsafe::{Config, Instrument, StateMachine, backoff};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// Mirrors the breaker's state; subscribers (the admin alerts) see changes.
#[derive(Clone)]
pub struct StateProbe {
    state: Arc<watch::Sender<BreakerState>>,
}

impl Default for StateProbe {
    fn default() -> Self {
        StateProbe {
            state: Arc::new(watch::channel(BreakerState::Closed).0),
        }
    }
}

impl StateProbe {
    pub fn get(&self) -> BreakerState {
        *self.state.borrow()
    }

    pub fn subscribe(&self) -> watch::Receiver<BreakerState> {
        self.state.subscribe()
    }

    fn set(&self, s: BreakerState, value: u8) {
        // failsafe reports "closed" after every success; act on real transitions only.
        let changed = self.state.send_if_modified(|cur| {
            let changed = *cur != s;
            *cur = s;
            changed
        });
        if changed {
            metrics::gauge!("heleket_circuit_breaker_state").set(value as f64);
            tracing::warn!(state = s.as_str(), "heleket circuit breaker changed state");
        }
    }
}

impl Instrument for StateProbe {
    fn on_call_rejected(&self) {
        metrics::counter!("heleket_calls_rejected_total").increment(1);
    }
    fn on_open(&self) {
        self.set(BreakerState::Open, 1);
    }
    fn on_half_open(&self) {
        self.set(BreakerState::HalfOpen, 2);
    }
    fn on_closed(&self) {
        self.set(BreakerState::Closed, 0);
    }
}

type Machine = StateMachine<ConsecutiveFailures<backoff::Constant>, StateProbe>;

/// The breaker: failsafe's state machine plus the half-open trial flag.
#[derive(Clone)]
pub struct Breaker {
    machine: Machine,
    probe: StateProbe,
    /// Whether the half-open trial is out; the lock also serializes every
    /// call into `machine`, so the mirror in `probe` is always current under it.
    trial: Arc<Mutex<bool>>,
}

/// Permission for one operation (with its retries) to call Heleket. Report
/// its outcome with [`Permit::success`] or [`Permit::failure`]; dropped
/// without a report, it records nothing (and frees the trial for another).
pub struct Permit {
    breaker: Breaker,
    trial: bool,
    reported: bool,
}

impl Permit {
    /// The half-open trial: its result alone closes or reopens the breaker.
    pub fn is_trial(&self) -> bool {
        self.trial
    }

    /// Heleket answered (a refusal, 4xx, counts as an answer).
    pub fn success(mut self) {
        self.report(true);
    }

    /// Heleket failed (transport error, 5xx, timeout).
    pub fn failure(mut self) {
        self.report(false);
    }

    fn report(&mut self, ok: bool) {
        self.reported = true;
        let mut trial_out = self.breaker.lock();
        // A non-trial operation that ends after the breaker left "closed" is stale news.
        if self.trial || self.breaker.probe.get() == BreakerState::Closed {
            if ok {
                self.breaker.machine.on_success();
            } else {
                self.breaker.machine.on_error();
            }
        }
        if self.trial {
            *trial_out = false;
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.trial && !self.reported {
            *self.breaker.lock() = false;
        }
    }
}

impl Breaker {
    fn lock(&self) -> MutexGuard<'_, bool> {
        // The flag is a plain bool: a panic elsewhere cannot leave it half-written.
        self.trial.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A permit for one operation, or None: open, or half-open with the trial out.
    pub fn try_acquire(&self) -> Option<Permit> {
        let mut trial_out = self.lock();
        // Moves open → half-open once the recovery time has passed.
        if !self.machine.is_call_permitted() {
            return None;
        }
        let trial = self.probe.get() != BreakerState::Closed;
        if trial {
            if *trial_out {
                metrics::counter!("heleket_calls_rejected_total").increment(1);
                return None;
            }
            *trial_out = true;
        }
        Some(Permit {
            breaker: self.clone(),
            trial,
            reported: false,
        })
    }

    /// Whether [`Breaker::try_acquire`] would give a permit now (moves open →
    /// half-open once the recovery time has passed, takes nothing).
    pub fn would_permit(&self) -> bool {
        let trial_out = self.lock();
        self.machine.is_call_permitted()
            && (self.probe.get() == BreakerState::Closed || !*trial_out)
    }

    pub fn state(&self) -> BreakerState {
        self.probe.get()
    }

    pub fn subscribe(&self) -> watch::Receiver<BreakerState> {
        self.probe.subscribe()
    }
}

/// Opens after `threshold` consecutive failed operations; after `recovery`
/// one operation is let through as the trial, and its success closes it.
pub fn new(threshold: u32, recovery: Duration) -> Breaker {
    let probe = StateProbe::default();
    let policy =
        failsafe::failure_policy::consecutive_failures(threshold, backoff::constant(recovery));
    let machine = Config::new()
        .failure_policy(policy)
        .instrument(probe.clone())
        .build();
    Breaker {
        machine,
        probe,
        trial: Arc::new(Mutex::new(false)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(b: &Breaker, threshold: u32) {
        for _ in 0..threshold {
            b.try_acquire().expect("closed").failure();
        }
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn half_open_lets_exactly_one_trial_through() {
        let b = new(2, Duration::from_millis(20));
        open(&b, 2);
        assert!(b.try_acquire().is_none(), "open refuses");
        std::thread::sleep(Duration::from_millis(30));
        let trial = b.try_acquire().expect("the trial");
        assert!(trial.is_trial());
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(
            (0..19).all(|_| b.try_acquire().is_none()),
            "the rest refused"
        );
        assert!(!b.would_permit());
        trial.success();
        assert_eq!(b.state(), BreakerState::Closed);
        let p = b.try_acquire().expect("closed again");
        assert!(!p.is_trial());
    }

    #[test]
    fn a_failed_trial_reopens_and_a_dropped_one_frees_the_slot() {
        let b = new(1, Duration::from_millis(20));
        open(&b, 1);
        std::thread::sleep(Duration::from_millis(30));
        drop(b.try_acquire().expect("trial"));
        assert_eq!(b.state(), BreakerState::HalfOpen, "no report, no move");
        let trial = b.try_acquire().expect("the trial again");
        trial.failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.try_acquire().is_none());
    }

    #[test]
    fn results_of_operations_started_before_the_breaker_opened_are_ignored() {
        let b = new(2, Duration::from_millis(20));
        let slow = b.try_acquire().unwrap();
        open(&b, 2);
        std::thread::sleep(Duration::from_millis(30));
        let trial = b.try_acquire().expect("trial");
        slow.success();
        assert_eq!(b.state(), BreakerState::HalfOpen, "stale success ignored");
        trial.failure();
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn successes_reset_the_count_of_consecutive_failures() {
        let b = new(2, Duration::from_secs(60));
        b.try_acquire().unwrap().failure();
        b.try_acquire().unwrap().success();
        b.try_acquire().unwrap().failure();
        assert_eq!(b.state(), BreakerState::Closed);
        b.try_acquire().unwrap().failure();
        assert_eq!(b.state(), BreakerState::Open);
    }
}
