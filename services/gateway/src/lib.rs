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

/// What the `gateway` binary does: configuration from `env` (exit 2 when it is
/// wrong), telemetry, then serve until SIGTERM/SIGINT and drain. Public so the
/// fault tests can run the very same process and kill it with SIGKILL.
pub async fn main_with(env: &runtime::config::Env) -> anyhow::Result<()> {
    let config = Config::from_env(env).unwrap_or_else(|e| {
        eprintln!("gateway: configuration error: {e}");
        std::process::exit(2);
    });
    let telemetry = runtime::telemetry::init(
        "gateway",
        &config.common.log_filter,
        config.common.otlp_endpoint.as_deref(),
    )?;
    let app = App::build(config).await?;
    app.run(runtime::shutdown::on_signal()).await?;
    telemetry.shutdown();
    Ok(())
}
