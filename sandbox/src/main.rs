//! `sandbox serve` runs both fakes for the demo; `sandbox simulate` plays a customer.

mod cli;

use std::process::ExitCode;

const USAGE: &str = "\
usage:
  sandbox serve
      env SANDBOX_TELEGRAM_LISTEN (127.0.0.1:8091), SANDBOX_HELEKET_LISTEN (127.0.0.1:8092),
          MERCHANT_UUID, API_KEY, TELEGRAM_TOKEN (optional: only this token is accepted),
          SANDBOX_TELEGRAM_LIMITS (on; off switches Telegram's rate limits off, for benchmarks)
  sandbox simulate [--telegram URL] [--user-id N] [--first-name NAME] [--lang CODE]
                   [--text TEXT | --press DATA --message-id N | --purchase STARS [--heleket URL]
                    | --broadcast SUBSCRIBERS]
                   [--timeout SECONDS]
      --purchase walks the whole purchase: /start, the pack menu, the order, payment on the
      fake Heleket (http://127.0.0.1:8092), the confirmation and /balance.
      --broadcast has SUBSCRIBERS users start the bot, then the user (an admin, see ADMIN_IDS)
      sends them a campaign through /broadcast and watches its progress message.
      env SANDBOX_TELEGRAM_URL / SANDBOX_HELEKET_URL can replace --telegram / --heleket";

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    sandbox::install_crypto_provider();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => cli::serve::run().await,
        Some("simulate") => match cli::simulate::Args::parse(&args[1..]) {
            Ok(parsed) => cli::simulate::run(parsed).await,
            Err(err) => Err(err),
        },
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("sandbox: {err:#}");
            ExitCode::FAILURE
        }
    }
}
