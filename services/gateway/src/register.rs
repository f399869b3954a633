//! Registers the webhook with Telegram at start-up, retrying in the
//! background until Telegram accepts it, so the gateway never blocks its own
//! start on Telegram being reachable.

use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const ALLOWED_UPDATES: &[&str] = &["message", "callback_query", "my_chat_member"];

/// What Telegram says right after registering, so the start-up log shows
/// at once a webhook Telegram cannot call (its last error) or a backlog.
async fn report_info(bot: &telegram::Bot) {
    match crate::webhook_info::fetch(bot).await {
        Ok(i) if i.last_error_message.is_some() => tracing::warn!(
            url = %i.url,
            pending_update_count = i.pending_update_count,
            last_error_message = i.last_error_message.as_deref().unwrap_or(""),
            last_error_date = i.last_error_date.unwrap_or(0),
            "Telegram reports an earlier delivery error for this webhook"
        ),
        Ok(i) => tracing::info!(
            url = %i.url,
            pending_update_count = i.pending_update_count,
            has_custom_certificate = i.has_custom_certificate,
            "getWebhookInfo"
        ),
        Err(e) => tracing::warn!(error = %e, "getWebhookInfo failed"),
    }
}

/// `certificate`: the PEM to upload (self-signed), or None (publicly trusted).
pub fn spawn(
    bot: telegram::Bot,
    url: String,
    secret: SecretString,
    certificate: Option<Vec<u8>>,
    shutdown: CancellationToken,
) {
    tokio::spawn(async move {
        let mut delay = Duration::from_millis(500);
        loop {
            let registered = match &certificate {
                Some(pem) => {
                    bot.set_webhook_with_certificate(
                        &url,
                        secret.expose_secret(),
                        ALLOWED_UPDATES,
                        pem.clone(),
                    )
                    .await
                }
                None => {
                    bot.set_webhook(&url, secret.expose_secret(), ALLOWED_UPDATES)
                        .await
                }
            };
            match registered {
                Ok(()) => {
                    let uploaded = certificate.is_some();
                    tracing::info!(%url, certificate_uploaded = uploaded, "webhook registered with Telegram");
                    report_info(&bot).await;
                    return;
                }
                // Telegram refused the request itself (a wrong token, a URL it
                // will not call): retrying cannot help, and a warning every
                // minute forever would bury it. Said once, loudly.
                Err(e @ telegram::TgError::BadRequest { .. }) => {
                    tracing::error!(error = %e, %url, "Telegram refused setWebhook; check TELEGRAM_TOKEN and WEBHOOK_HOST, then restart the gateway");
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "setWebhook failed; retrying"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(60));
        }
    });
}
