//! The payments service: Heleket invoices, callbacks and the star ledger.

mod app;
mod claims;
pub mod config;
mod flow;
pub mod heleket;
mod notify;
mod orders;
pub mod pricing;
mod reconciler;

pub use app::App;
pub use config::Config;

runtime::service!("payments");
