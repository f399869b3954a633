use crate::chat_order::ChatLocks;
use crate::config::Config;
use proto::bot::bot_client::BotClient;
use proto::payments::payments_client::PaymentsClient;
use runtime::grpc::TracedChannel;
use sqlx::PgPool;
use std::sync::Arc;

/// What every handler of the gateway shares.
#[derive(Clone)]
pub struct AppState {
    pub cfg: Arc<Config>,
    pub cache: cache::Cache,
    pub db: PgPool,
    pub bot: BotClient<TracedChannel>,
    pub payments: PaymentsClient<TracedChannel>,
    /// Channels kept for `grpc.health.v1` checks of each service.
    pub bot_channel: TracedChannel,
    pub payments_channel: TracedChannel,
    pub broadcast_channel: TracedChannel,
    pub chats: ChatLocks,
    /// Update claims, with their owner's heartbeat.
    pub claims: crate::claims::Claims,
    /// Every hand-over in flight, detached from its HTTP request: shutdown
    /// waits for them before the heartbeat stops.
    pub handovers: tokio_util::task::TaskTracker,
    /// For alerts to the admins (parked updates).
    pub tg: telegram::Bot,
    /// Telegram's view of our webhook, for /health.
    pub webhook_info: crate::webhook_info::Cached,
}
