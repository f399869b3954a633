//! `POST {WEBHOOK_PATH}`: Telegram updates in, handed to the bot over gRPC.
//!
//! Contract with Telegram: 2xx means "handled, never send it again", so we
//! answer 2xx only once the bot has handled the update (or it can never be
//! handled: unparsable). Anything that stops the hand-over answers 5xx and
//! Telegram redelivers. Each `update_id` is claimed in Redis so redeliveries
//! and concurrent duplicates are handled once.

use crate::claims::Claim;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use proto::bot::UpdateRequest;
use runtime::ServiceError;
use secrecy::ExposeSecret;
use std::time::Duration;
use subtle::ConstantTimeEq;
use tracing::Instrument;

/// How long a claim outlives the longest the work may take, so a live claim
/// is never taken over, while an update claimed by a crashed gateway is
/// handled again soon.
const CLAIM_MARGIN: Duration = Duration::from_secs(35);
/// Telegram keeps undelivered updates for 24 h; remember handled ones as long.
const DONE_TTL: Duration = cache::UPDATE_DONE_TTL;

pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

pub async fn telegram_update(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ServiceError> {
    if !secret_matches(&headers, s.cfg.webhook_secret.expose_secret()) {
        metrics::counter!("gateway_updates_total", "outcome" => "bad_secret").increment(1);
        tracing::warn!("update with a wrong or missing secret token rejected");
        return Err(ServiceError::Unauthorized);
    }
    let update: telegram::Update = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => {
            // Redelivering it would fail the same way forever: log and drop.
            metrics::counter!("gateway_updates_total", "outcome" => "unparsable").increment(1);
            tracing::warn!(error = %e, bytes = body.len(), "unparsable update dropped");
            return Ok(StatusCode::OK);
        }
    };
    let update_id = update.update_id;
    let chat_id = update.chat_id();
    let budget = s.cfg.update_budget;

    // The work runs in a task of its own. If nginx or Telegram stop waiting,
    // axum drops this handler, but the task goes on: a hand-over cut in half
    // would leave the claim "processing" and the bot's handler dropped
    // mid-way (after the order, before the pay link).
    let work = s
        .handovers
        .clone()
        .spawn(handle(s, update_id, chat_id, body).in_current_span());
    match tokio::time::timeout(budget, work).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(ServiceError::Internal(anyhow::anyhow!(
            "update {update_id} task failed: {e}"
        ))),
        // Still running: Telegram will redeliver, and the copy finds the
        // claim "processing" (503 again) or "done" (200).
        Err(_) => {
            metrics::counter!("gateway_updates_total", "outcome" => "over_budget").increment(1);
            tracing::info!(
                update_id,
                ?budget,
                "update not finished within its budget; answered 503, work goes on"
            );
            Err(ServiceError::Unavailable(format!(
                "update {update_id} is still being handled"
            )))
        }
    }
}

/// Waits for the chat's turn, claims the update, hands it to the bot and
/// records the outcome. Runs to the end whoever waits for it.
async fn handle(
    s: AppState,
    update_id: i64,
    chat_id: i64,
    body: Bytes,
) -> Result<StatusCode, ServiceError> {
    // Queue behind earlier updates of the chat first, then claim: the claim's
    // lease starts only when this copy is about to be handled. Waiting longer
    // than the budget is pointless: the answer has gone, and Telegram will
    // redeliver this copy.
    let Ok(_in_order) = tokio::time::timeout(s.cfg.update_budget, s.chats.lock(chat_id)).await
    else {
        return Err(ServiceError::Unavailable(format!("chat {chat_id} is busy")));
    };
    let lease = s.cfg.work_limit + CLAIM_MARGIN;
    match s.claims.claim(update_id, lease).await? {
        Claim::Ours => {}
        // Handled before: Telegram must stop resending it.
        Claim::Done => {
            metrics::counter!("gateway_updates_total", "outcome" => "duplicate").increment(1);
            tracing::info!(update_id, "duplicate update ignored");
            return Ok(StatusCode::OK);
        }
        // Someone is handling it right now; if they fail, this copy must not be
        // lost, so ask Telegram to try again later rather than answer 200.
        Claim::Busy => {
            metrics::counter!("gateway_updates_total", "outcome" => "in_progress").increment(1);
            return Err(ServiceError::Unavailable(format!(
                "update {update_id} is being handled"
            )));
        }
    }

    let req = UpdateRequest {
        update_id,
        chat_id,
        raw: body.to_vec(),
    };
    match s.bot.clone().handle_update(req).await {
        Ok(reply) => {
            // Usually the bot has marked it already, in the same Redis.
            if !reply.get_ref().marked_done {
                mark_done(&s, update_id, lease).await;
            }
            metrics::counter!("gateway_updates_total", "outcome" => "handled").increment(1);
            Ok(StatusCode::OK)
        }
        Err(status) => {
            let err = ServiceError::from_status(&status);
            if let ServiceError::InvalidInput(reason) = &err {
                tracing::warn!(update_id, %reason, "bot refused the update; dropped");
                mark_done(&s, update_id, lease).await;
                return Ok(StatusCode::OK);
            }
            // The bot failed on this very update (not "down", not "busy"):
            // after a few tries it is parked, or it would block its chat for
            // as long as Telegram retries.
            if let ServiceError::Internal(e) = &err
                && crate::dead_letter::record_failure(&s, update_id, chat_id, &body, &e.to_string())
                    .await
            {
                mark_done(&s, update_id, lease).await;
                return Ok(StatusCode::OK);
            }
            // Let the redelivery take the claim.
            s.claims.release(update_id).await;
            metrics::counter!("gateway_updates_total", "outcome" => "handover_failed").increment(1);
            tracing::warn!(update_id, code = ?status.code(), message = status.message(), "hand-over failed; Telegram will redeliver");
            Err(match err {
                ServiceError::Internal(e) => ServiceError::Internal(e),
                other => ServiceError::Unavailable(other.to_string()),
            })
        }
    }
}

async fn mark_done(s: &AppState, update_id: i64, lease: Duration) {
    s.claims.finish(update_id, DONE_TTL, lease).await;
}

/// Compares in constant time, so response timing does not reveal how much
/// of a guessed secret was right.
fn secret_matches(headers: &HeaderMap, expected: &str) -> bool {
    let Some(given) = headers.get(SECRET_HEADER) else {
        return false;
    };
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_must_match_exactly() {
        let mut h = HeaderMap::new();
        assert!(!secret_matches(&h, "s3cret"));
        h.insert(SECRET_HEADER, "s3cre".parse().unwrap());
        assert!(!secret_matches(&h, "s3cret"));
        h.insert(SECRET_HEADER, "s3cret".parse().unwrap());
        assert!(secret_matches(&h, "s3cret"));
        h.insert(SECRET_HEADER, "S3cret".parse().unwrap());
        assert!(!secret_matches(&h, "s3cret"));
    }
}
