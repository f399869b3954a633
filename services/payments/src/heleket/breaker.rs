//! The circuit breaker around Heleket (failsafe), with its state mirrored in
//! an atomic so /health/payment and metrics can report it.

use failsafe::failure_policy::ConsecutiveFailures;
use failsafe::{Config, Instrument, StateMachine, backoff};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

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

#[derive(Clone, Default)]
pub struct StateProbe {
    state: Arc<AtomicU8>,
}

impl StateProbe {
    pub fn get(&self) -> BreakerState {
        match self.state.load(Ordering::Relaxed) {
            1 => BreakerState::Open,
            2 => BreakerState::HalfOpen,
            _ => BreakerState::Closed,
        }
    }

    fn set(&self, s: BreakerState, value: u8) {
        // failsafe reports "closed" after every success; log only real transitions.
        if self.state.swap(value, Ordering::Relaxed) != value {
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

pub type Breaker = StateMachine<ConsecutiveFailures<backoff::Constant>, StateProbe>;

/// Opens after `threshold` consecutive failures; after `recovery` the next
/// call is let through as a trial, and its success closes the breaker.
pub fn new(threshold: u32, recovery: Duration) -> (Breaker, StateProbe) {
    let probe = StateProbe::default();
    let policy = failsafe::failure_policy::consecutive_failures(threshold, backoff::constant(recovery));
    let breaker = Config::new().failure_policy(policy).instrument(probe.clone()).build();
    (breaker, probe)
}
