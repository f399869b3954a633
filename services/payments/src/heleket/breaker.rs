//! The circuit breaker around Heleket (failsafe), with its state mirrored in
//! a watch channel so /health/payment, metrics and admin alerts see it.

use failsafe::failure_policy::ConsecutiveFailures;
use failsafe::{Config, Instrument, StateMachine, backoff};
use std::sync::Arc;
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

pub type Breaker = StateMachine<ConsecutiveFailures<backoff::Constant>, StateProbe>;

/// Opens after `threshold` consecutive failures; after `recovery` the next
/// call is let through as a trial, and its success closes the breaker.
pub fn new(threshold: u32, recovery: Duration) -> (Breaker, StateProbe) {
    let probe = StateProbe::default();
    let policy =
        failsafe::failure_policy::consecutive_failures(threshold, backoff::constant(recovery));
    let breaker = Config::new()
        .failure_policy(policy)
        .instrument(probe.clone())
        .build();
    (breaker, probe)
}
