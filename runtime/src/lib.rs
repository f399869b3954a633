//! What every service of the fleet shares: configuration, telemetry, metrics,
//! Postgres, gRPC plumbing, error mapping and graceful shutdown.

pub mod client_ip;
pub mod config;
pub mod db;
pub mod error;
pub mod grpc;
pub mod health;
pub mod http;
pub mod metrics;
pub mod service;
pub mod shutdown;
pub mod telemetry;

pub use error::ServiceError;
