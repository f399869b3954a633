//! The bot service: Telegram dialogs, menus and user registration.
//!
//! The gateway hands it one update at a time over gRPC and waits; an error
//! status makes the gateway answer Telegram with 5xx so the update is redelivered.

mod app;
pub mod broadcast;
pub mod config;
mod dispatch;
mod purchase;
pub mod texts;
mod users;

pub use app::App;
pub use config::Config;

runtime::service!("bot");
