//! Fakes of the only two external services of the fleet: the Telegram Bot API and Heleket.
//!
//! Integration tests start them in-process ([`telegram::FakeTelegram`], [`heleket::FakeHeleket`]);
//! the demo runs them out-of-process through the `sandbox` binary and drives them over the
//! `/_sandbox/` control endpoints. Both bind 127.0.0.1 on a free port by default so parallel
//! tests never collide.

pub mod heleket;
mod net;
pub mod telegram;

pub use net::install_crypto_provider;
