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

/// What the `payments` binary does: configuration from `env` (exit 2 when it is
/// wrong), telemetry, then serve until SIGTERM/SIGINT and drain. Public so the
/// fault tests can run the very same process and kill it with SIGKILL.
pub async fn main_with(env: &runtime::config::Env) -> anyhow::Result<()> {
    let config = Config::from_env(env).unwrap_or_else(|e| {
        eprintln!("payments: configuration error: {e}");
        std::process::exit(2);
    });
    let telemetry = runtime::telemetry::init(
        "payments",
        &config.common.log_filter,
        config.common.otlp_endpoint.as_deref(),
    )?;
    let app = App::build(config).await?;
    app.run(runtime::shutdown::on_signal()).await?;
    telemetry.shutdown();
    Ok(())
}
