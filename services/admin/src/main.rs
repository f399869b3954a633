use runtime::config::Env;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    admin::main_with(&Env::from_process()).await
}
