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

/// What the `broadcast` binary does: configuration from `env` (exit 2 when it
/// is wrong), telemetry, then serve until SIGTERM/SIGINT and drain. Public so
/// the crash tests can run the very same process and kill it with SIGKILL.
pub async fn main_with(env: &runtime::config::Env) -> anyhow::Result<()> {
    let config = Config::from_env(env).unwrap_or_else(|e| {
        eprintln!("broadcast: configuration error: {e}");
        std::process::exit(2);
    });
    let telemetry = runtime::telemetry::init(
        "broadcast",
        &config.common.log_filter,
        config.common.otlp_endpoint.as_deref(),
    )?;
    let app = App::build(config).await?;
    app.run(runtime::shutdown::on_signal()).await?;
    telemetry.shutdown();
    Ok(())
}
