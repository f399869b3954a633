//! The payments service: Heleket invoices, callbacks and the star ledger.

mod app;
pub mod config;
pub mod heleket;

pub use app::App;
pub use config::Config;
