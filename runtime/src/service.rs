//! The one way a service process runs, so every binary (and the fault tests'
//! `service-process`) starts, reports a bad configuration and drains alike.

use std::future::Future;

use tokio_util::sync::CancellationToken;

use crate::config::{CommonConfig, ConfigError, Env};

/// What a service's `App` offers its `main`.
pub trait Service: Sized {
    /// Names the service in logs, traces and error messages.
    const NAME: &'static str;
    type Config;
    fn config(env: &Env) -> Result<Self::Config, ConfigError>;
    fn common(config: &Self::Config) -> &CommonConfig;
    fn build(config: Self::Config) -> impl Future<Output = anyhow::Result<Self>>;
    fn run(self, shutdown: CancellationToken) -> impl Future<Output = std::io::Result<()>>;
}

/// Configuration from `env` (exit status 2, naming the variable, when it is
/// wrong), telemetry, then serve until SIGTERM/SIGINT and drain.
pub async fn main_with<S: Service>(env: &Env) -> anyhow::Result<()> {
    let config = S::config(env).unwrap_or_else(|e| {
        eprintln!("{}: configuration error: {e}", S::NAME);
        std::process::exit(2);
    });
    let common = S::common(&config);
    let telemetry =
        crate::telemetry::init(S::NAME, &common.log_filter, common.otlp_endpoint.as_deref())?;
    let app = S::build(config).await?;
    app.run(crate::shutdown::on_signal()).await?;
    telemetry.shutdown();
    Ok(())
}
