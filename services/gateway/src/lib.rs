//! The webhook gateway: Telegram updates and Heleket callbacks in over HTTP
//! (behind nginx), handed to the bot and payments services over gRPC.

mod app;
mod callbacks;
mod certificate;
mod chat_order;
mod claims;
use runtime::client_ip;
pub mod config;
mod dead_letter;
mod health;
mod ops;
mod register;
mod state;
mod webhook;
mod webhook_info;

pub use app::App;
pub use config::Config;
pub use webhook::SECRET_HEADER;

runtime::service!("gateway");
