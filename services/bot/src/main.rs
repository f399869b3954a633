use runtime::config::Env;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bot::main_with(&Env::from_process()).await
}
