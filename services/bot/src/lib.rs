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

/// What the `bot` binary does: configuration from `env` (exit 2 when it is
/// wrong), telemetry, then serve until SIGTERM/SIGINT and drain. Public so the
/// fault tests can run the very same process and kill it with SIGKILL.
pub async fn main_with(env: &runtime::config::Env) -> anyhow::Result<()> {
    let config = Config::from_env(env).unwrap_or_else(|e| {
        eprintln!("bot: configuration error: {e}");
        std::process::exit(2);
    });
    let telemetry = runtime::telemetry::init(
        "bot",
        &config.common.log_filter,
        config.common.otlp_endpoint.as_deref(),
    )?;
    let app = App::build(config).await?;
    app.run(runtime::shutdown::on_signal()).await?;
    telemetry.shutdown();
    Ok(())
}
