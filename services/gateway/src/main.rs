use runtime::config::Env;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = gateway::Config::from_env(&Env::from_process()).unwrap_or_else(|e| {
        eprintln!("gateway: configuration error: {e}");
        std::process::exit(2);
    });
    let telemetry = runtime::telemetry::init(
        "gateway",
        &config.common.log_filter,
        config.common.otlp_endpoint.as_deref(),
    )?;
    let app = gateway::App::build(config).await?;
    app.run(runtime::shutdown::on_signal()).await?;
    telemetry.shutdown();
    Ok(())
}
