use runtime::config::Env;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = payments::Config::from_env(&Env::from_process()).unwrap_or_else(|e| {
        eprintln!("payments: configuration error: {e}");
        std::process::exit(2);
    });
    let telemetry = runtime::telemetry::init(
        "payments",
        &config.common.log_filter,
        config.common.otlp_endpoint.as_deref(),
    )?;
    let app = payments::App::build(config).await?;
    app.run(runtime::shutdown::on_signal()).await?;
    telemetry.shutdown();
    Ok(())
}
