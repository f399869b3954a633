//! Any service as a process of its own, built with the e2e tests (cargo gives
//! them its path), so a test can SIGKILL it mid-stream:
//! `service-process gateway|bot|payments|broadcast`, configured by its
//! environment exactly like the service's own binary.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env = runtime::config::Env::from_process();
    match std::env::args().nth(1).as_deref() {
        Some("gateway") => gateway::main_with(&env).await,
        Some("bot") => bot::main_with(&env).await,
        Some("payments") => payments::main_with(&env).await,
        Some("broadcast") => broadcast::main_with(&env).await,
        other => {
            eprintln!("usage: service-process gateway|bot|payments|broadcast (got {other:?})");
            std::process::exit(2);
        }
    }
}
