//! The broadcast service as a process of its own, built with the e2e tests
//! (cargo gives them its path), so a test can SIGKILL it mid-campaign.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    broadcast::main_with(&runtime::config::Env::from_process()).await
}
