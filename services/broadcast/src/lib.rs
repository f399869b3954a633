//! The broadcast service: campaigns delivered at Telegram's limits. For now it
//! serves its health and audience counts; campaigns build on this.

mod app;
pub mod config;
pub mod content;
pub mod schedule;

pub use app::App;
pub use config::Config;
