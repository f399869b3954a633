//! End-to-end tests of the fleet through nginx, against real Postgres, Redis
//! (master + 2 replicas) and nginx. One binary, so the services link once.

mod hardening;
mod harness;

mod admin;
mod admin_browser;
mod admin_campaigns;
mod admin_console;
mod admin_support;
mod broadcast;
mod broadcast_bot;
mod compose;
mod config;
mod faults;
mod health;
mod payments_hardening;
mod purchase;
mod trace;
mod updates;
