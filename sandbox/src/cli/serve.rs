//! `sandbox serve`: both fakes on fixed addresses until SIGINT/SIGTERM.

use std::net::SocketAddr;

use anyhow::Context;
use sandbox::heleket::{FakeHeleket, HeleketOptions, SANDBOX_API_KEY, SANDBOX_MERCHANT};
use sandbox::telegram::{FakeTelegram, TelegramOptions};
use tokio::net::TcpListener;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

async fn listen(var: &str, default: &str) -> anyhow::Result<TcpListener> {
    let raw = env_or(var, default);
    let addr: SocketAddr = raw
        .parse()
        .with_context(|| format!("{var}={raw:?} is not an IP:PORT address"))?;
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {var}={addr}"))
}

/// `SANDBOX_TELEGRAM_LIMITS`: unset, empty or "on" enforces Telegram's rate
/// limits; "off" switches them off. Anything else is refused, so a typo
/// never silently changes what the fake enforces.
fn limits_on(raw: Option<&str>) -> anyhow::Result<bool> {
    match raw.map(str::trim) {
        None | Some("" | "on") => Ok(true),
        Some("off") => Ok(false),
        Some(other) => anyhow::bail!("SANDBOX_TELEGRAM_LIMITS={other:?}: expected on or off"),
    }
}

pub async fn run() -> anyhow::Result<()> {
    let tg_listener = listen("SANDBOX_TELEGRAM_LISTEN", "127.0.0.1:8091").await?;
    let hk_listener = listen("SANDBOX_HELEKET_LISTEN", "127.0.0.1:8092").await?;
    let tg_opts = TelegramOptions {
        expected_token: std::env::var("TELEGRAM_TOKEN")
            .ok()
            .filter(|t| !t.is_empty()),
        // Telegram's limits by default; a benchmark measuring our own
        // overhead switches them off (SANDBOX_TELEGRAM_LIMITS=off).
        enforce_limits: limits_on(std::env::var("SANDBOX_TELEGRAM_LIMITS").ok().as_deref())?,
        ..TelegramOptions::default()
    };
    let telegram = FakeTelegram::start_on(tg_listener, tg_opts)?;
    let heleket = FakeHeleket::start_on(
        hk_listener,
        HeleketOptions {
            merchant: env_or("MERCHANT_UUID", SANDBOX_MERCHANT),
            api_key: env_or("API_KEY", SANDBOX_API_KEY),
            port: 0,
        },
    )?;
    println!(
        "fake Telegram Bot API listening on {} (control: {}/_sandbox/)",
        telegram.base_url(),
        telegram.base_url()
    );
    println!(
        "fake Heleket API listening on {} (merchant {}, control: {}/_sandbox/)",
        heleket.base_url(),
        heleket.merchant(),
        heleket.base_url()
    );
    shutdown_signal().await?;
    tracing::info!("stopping the sandbox");
    telegram.shutdown();
    heleket.shutdown();
    Ok(())
}

async fn shutdown_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        res = tokio::signal::ctrl_c() => res.context("waiting for SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::limits_on;

    #[test]
    fn limits_are_on_unless_switched_off() {
        assert!(limits_on(None).unwrap());
        assert!(limits_on(Some("")).unwrap());
        assert!(limits_on(Some("on")).unwrap());
        assert!(!limits_on(Some("off")).unwrap());
        assert!(limits_on(Some("false")).is_err());
    }
}
