//! The broadcast service: campaigns composed by admins (in the bot, later
//! over the admin API) and delivered at Telegram's limits by an engine that
//! every replica runs. See `engine` for the delivery rules and the README's
//! "Broadcasts" section for the guarantees.

mod api;
mod app;
pub mod audience;
pub mod config;
pub mod content;
pub mod engine;
pub mod schedule;
pub mod store;

pub use app::App;
pub use config::Config;

runtime::service!("broadcast");
