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

impl runtime::service::Service for App {
    const NAME: &'static str = "payments";
    type Config = Config;
    fn config(env: &runtime::config::Env) -> Result<Config, runtime::config::ConfigError> {
        Config::from_env(env)
    }
    fn common(config: &Config) -> &runtime::config::CommonConfig {
        &config.common
    }
    async fn build(config: Config) -> anyhow::Result<App> {
        App::build(config).await
    }
    async fn run(self, shutdown: tokio_util::sync::CancellationToken) -> std::io::Result<()> {
        App::run(self, shutdown).await
    }
}

/// What the `payments` binary does (see [`runtime::service::main_with`]). Public
/// so the fault tests can run the very same process and kill it with SIGKILL.
pub async fn main_with(env: &runtime::config::Env) -> anyhow::Result<()> {
    runtime::service::main_with::<App>(env).await
}
