//! The one way a service process runs, so every binary (and the fault tests'
//! `service-process`) starts, reports a bad configuration and drains alike.

use std::future::Future;

pub use tokio_util::sync::CancellationToken;

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

/// Implements [`Service`] for the crate's `App` (with inherent `build` and
/// `run`, configured by `Config::from_env` with a `common` field) and defines
/// the crate's public `main_with`, which its binary and the fault tests'
/// `service-process` call: `runtime::service!("bot");` in the crate's lib.rs.
#[macro_export]
macro_rules! service {
    ($name:literal) => {
        impl $crate::service::Service for App {
            const NAME: &'static str = $name;
            type Config = Config;
            fn config(
                env: &$crate::config::Env,
            ) -> ::std::result::Result<Config, $crate::config::ConfigError> {
                Config::from_env(env)
            }
            fn common(config: &Config) -> &$crate::config::CommonConfig {
                &config.common
            }
            async fn build(config: Config) -> ::anyhow::Result<App> {
                App::build(config).await
            }
            async fn run(
                self,
                shutdown: $crate::service::CancellationToken,
            ) -> ::std::io::Result<()> {
                App::run(self, shutdown).await
            }
        }

        /// What this service's binary does (see `runtime::service::main_with`).
        /// Public so the fault tests can run the very same process and kill it
        /// with SIGKILL.
        pub async fn main_with(env: &$crate::config::Env) -> ::anyhow::Result<()> {
            $crate::service::main_with::<App>(env).await
        }
    };
}
