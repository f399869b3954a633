//! The admin API (`/admin/api/v1/...`, behind nginx): operators sign in with
//! a password and get a short-lived access token and a rotating refresh
//! token; every endpoint checks the caller's role on the server; every change
//! is written to the append-only audit log. See the README's "Admin API".

mod app;
pub mod audit;
pub mod auth;
pub mod campaigns;
pub mod config;
mod console;
mod error;
mod export;
pub mod openapi;
pub mod roles;
mod routes;
pub mod store;

pub use app::App;
pub use config::Config;

runtime::service!("admin");
