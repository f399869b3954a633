use runtime::config::Env;

// See the workspace Cargo.toml: allocation is a large share of each update's CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    gateway::main_with(&Env::from_process()).await
}
