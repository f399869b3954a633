//! A small Telegram Bot API client: the methods the fleet uses, typed updates,
//! and errors classified once (flood wait, unreachable user, bad request,
//! transient) so every service reacts to them the same way.

mod client;
mod error;
mod files;
pub mod types;

pub use client::{Bot, SendBudget, SendOptions, TelegramConfig};
pub use error::TgError;
pub use files::DownloadError;
pub use types::*;
