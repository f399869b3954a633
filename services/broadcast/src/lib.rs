//! The broadcast service: campaigns composed by admins (in the bot, later
//! over the admin API) and delivered at Telegram's limits by an engine that
//! every replica runs. See `engine` for the delivery rules and the README's
//! "Broadcasts" section for the guarantees.

mod api;
mod app;
pub mod audience;
pub mod config;
pub mod content;
pub mod engine;
pub mod schedule;
pub mod store;

pub use app::App;
pub use config::Config;

impl runtime::service::Service for App {
    const NAME: &'static str = "broadcast";
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

/// What the `broadcast` binary does (see [`runtime::service::main_with`]). Public
/// so the fault tests can run the very same process and kill it with SIGKILL.
pub async fn main_with(env: &runtime::config::Env) -> anyhow::Result<()> {
    runtime::service::main_with::<App>(env).await
}
