//! The webhook gateway: Telegram updates and Heleket callbacks in over HTTP
//! (behind nginx), handed to the bot and payments services over gRPC.

mod app;
mod callbacks;
mod certificate;
mod chat_order;
mod claims;
mod client_ip;
pub mod config;
mod dead_letter;
mod health;
mod ops;
mod register;
mod state;
mod webhook;
mod webhook_info;

pub use app::App;
pub use config::Config;
pub use webhook::SECRET_HEADER;

impl runtime::service::Service for App {
    const NAME: &'static str = "gateway";
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

/// What the `gateway` binary does (see [`runtime::service::main_with`]). Public
/// so the fault tests can run the very same process and kill it with SIGKILL.
pub async fn main_with(env: &runtime::config::Env) -> anyhow::Result<()> {
    runtime::service::main_with::<App>(env).await
}
