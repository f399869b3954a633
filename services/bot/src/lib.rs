//! The bot service: Telegram dialogs, menus and user registration.
//!
//! The gateway hands it one update at a time over gRPC and waits; an error
//! status makes the gateway answer Telegram with 5xx so the update is redelivered.

mod app;
pub mod broadcast;
pub mod config;
mod dispatch;
mod purchase;
pub mod texts;
mod users;

pub use app::App;
pub use config::Config;

impl runtime::service::Service for App {
    const NAME: &'static str = "bot";
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

/// What the `bot` binary does (see [`runtime::service::main_with`]). Public
/// so the fault tests can run the very same process and kill it with SIGKILL.
pub async fn main_with(env: &runtime::config::Env) -> anyhow::Result<()> {
    runtime::service::main_with::<App>(env).await
}
