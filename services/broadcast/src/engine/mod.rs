//! The delivery engine, one per broadcast replica. Every replica runs the
//! same loop; they coordinate only through Postgres (row locks, conditional
//! updates) and Redis (the token's send budget), so any number may run and
//! any may be killed.
//!
//! Each tick (BROADCAST_POLL_INTERVAL):
//! 1. starts scheduled campaigns that are due and the due occurrences of
//!    recurring series (a row lock makes each start happen exactly once);
//! 2. turns recipients whose sender died mid-send into "unknown" (see
//!    `liveness`: within seconds of a replica's last heartbeat);
//! 3. makes sure a sender task runs here for every running campaign and tells
//!    each one its campaign's current status (pause, cancel).

mod liveness;
mod progress;
mod sender;
mod start;
mod window;

use crate::config::EngineConfig;
use crate::schedule::Tz;
use crate::store::{self, Campaign};
use runtime::ServiceError;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use telegram::{Bot, SendBudget};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

pub use liveness::sweep_stale_claims;
pub use progress::Progress;
pub use start::materialise_and_run;

#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub db: PgPool,
    pub cache: cache::Cache,
    /// Unpaced, with the short send timeout: the senders reserve their
    /// budget slots themselves, in batches.
    pub bulk: Bot,
    pub budget: SendBudget,
    pub cfg: EngineConfig,
    pub tz: Tz,
    pub progress: Progress,
    pub counts: Arc<store::CountsCache>,
    /// The status each local sender should follow, by campaign.
    senders: Mutex<HashMap<Uuid, watch::Sender<String>>>,
    /// Set by a 429 seen here: local sends wait for it without asking Redis.
    pub flood_until: Mutex<Option<tokio::time::Instant>>,
    /// This process's campaign sends by when they can have arrived, ordinary
    /// and paid (Telegram counts the two apart).
    arrivals: [window::Arrivals; 2],
    wake: Notify,
    tasks: TaskTracker,
    /// This replica in `broadcast_senders` and in the rows it claims.
    pub sender_id: Uuid,
    /// Batches claimed here whose outcomes are not written yet.
    pub claims_in_flight: AtomicUsize,
}

impl Engine {
    pub fn new(
        db: PgPool,
        cache: cache::Cache,
        telegram: &telegram::TelegramConfig,
        cfg: EngineConfig,
        tz: Tz,
    ) -> Engine {
        let budget = SendBudget::new(cache.clone(), telegram);
        let replies = Bot::new(telegram).paced(budget.clone());
        let counts = Arc::new(store::CountsCache::default());
        let progress = Progress::new(
            db.clone(),
            cache.clone(),
            replies,
            cfg.progress_interval,
            counts.clone(),
        );
        Engine {
            inner: Arc::new(Inner {
                bulk: Bot::with_timeout(telegram, cfg.send_timeout),
                db,
                cache,
                budget,
                cfg,
                tz,
                progress,
                counts,
                senders: Mutex::new(HashMap::new()),
                flood_until: Mutex::new(None),
                arrivals: Default::default(),
                wake: Notify::new(),
                tasks: TaskTracker::new(),
                sender_id: Uuid::new_v4(),
                claims_in_flight: AtomicUsize::new(0),
            }),
        }
    }

    pub fn db(&self) -> &PgPool {
        &self.inner.db
    }

    pub fn tz(&self) -> &Tz {
        &self.inner.tz
    }

    pub fn progress(&self) -> &Progress {
        &self.inner.progress
    }

    /// The campaign as the API shows it, counts shared by every viewer.
    pub async fn snapshot(&self, id: Uuid) -> Result<proto::broadcast::Campaign, ServiceError> {
        self.inner.counts.snapshot(&self.inner.db, id).await
    }

    pub async fn counts(&self, c: &Campaign) -> Result<store::Counts, ServiceError> {
        self.inner.counts.counts(&self.inner.db, c).await
    }

    /// Runs the next tick now (a campaign was started or changed here).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Tells a local sender about a status change made here at once, instead
    /// of at the next tick.
    pub fn status_changed(&self, id: Uuid, status: &str) {
        if let Some(tx) = self.inner.senders.lock().expect("senders").get(&id) {
            tx.send_replace(status.to_string());
        }
        self.wake();
    }

    /// Ticks until `shutdown`, then waits for the senders to record what
    /// they sent (in-flight sends finish; nothing new is claimed).
    pub async fn run(self, shutdown: CancellationToken) {
        let inner = self.inner.clone();
        inner
            .tasks
            .spawn(progress::run(inner.clone(), shutdown.clone()));
        // Starting a due campaign can take seconds (materialising a million
        // recipients); it has a loop of its own so pause and cancel keep
        // reaching this replica's senders meanwhile.
        inner
            .tasks
            .spawn(start::run(inner.clone(), shutdown.clone()));
        // Beats outlive the stop: sends claimed before it are still being
        // made and recorded while the tasks drain, and a replica that went
        // silent meanwhile would have them swept to "unknown".
        let beats = CancellationToken::new();
        let beating = tokio::spawn(liveness::run(inner.clone(), beats.clone()));
        let mut last_sweep = tokio::time::Instant::now() - Duration::from_secs(3600);
        loop {
            if let Err(e) = self.tick(&shutdown, &mut last_sweep).await {
                tracing::warn!(error = %e, "broadcast tick failed; retrying");
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(inner.cfg.poll_interval) => {}
                _ = inner.wake.notified() => {}
            }
        }
        inner.tasks.close();
        inner.tasks.wait().await;
        beats.cancel();
        let _ = beating.await;
        liveness::forget(&inner).await;
        tracing::info!("broadcast engine stopped; every claimed send is recorded");
    }

    async fn tick(
        &self,
        shutdown: &CancellationToken,
        last_sweep: &mut tokio::time::Instant,
    ) -> Result<(), ServiceError> {
        let inner = &self.inner;
        // Statuses first: whatever else fails, pause and cancel get through.
        let live: Vec<(Uuid, String)> =
            sqlx::query_as("SELECT id, status FROM campaigns WHERE status = ANY($1)")
                .bind(&store::LIVE[..])
                .fetch_all(&inner.db)
                .await?;
        self.follow(live, shutdown);
        // The sweep only matters once a lease or a heartbeat can have run out.
        if last_sweep.elapsed() >= inner.cfg.claim_lease.min(liveness::SENDER_TIMEOUT) / 4 {
            sweep_stale_claims(&inner.db, inner.cfg.claim_lease).await?;
            for c in store::settle_cancelled(&inner.db).await? {
                inner.progress.update_now(&c).await;
            }
            *last_sweep = tokio::time::Instant::now();
        }
        Ok(())
    }

    /// Tells each local sender its campaign's status; starts a sender for a
    /// live campaign that has none here, stops those no longer live.
    fn follow(&self, live: Vec<(Uuid, String)>, shutdown: &CancellationToken) {
        let inner = &self.inner;
        let mut senders = inner.senders.lock().expect("senders");
        let live_ids: std::collections::HashSet<Uuid> = live.iter().map(|(id, _)| *id).collect();
        // A campaign no longer live (cancelled, done) stops its sender here.
        senders.retain(|id, tx| {
            let keep = live_ids.contains(id);
            if !keep {
                tx.send_replace("cancelled".to_string());
            }
            keep
        });
        for (id, status) in live {
            if let Some(tx) = senders.get(&id) {
                tx.send_if_modified(|s| {
                    let changed = *s != status;
                    s.clone_from(&status);
                    changed
                });
                continue;
            }
            let (tx, rx) = watch::channel(status);
            senders.insert(id, tx);
            inner
                .tasks
                .spawn(sender::run(inner.clone(), id, rx, shutdown.child_token()));
        }
    }
}

impl Inner {
    /// Forgets a sender that stopped (its campaign finished or ended).
    pub(crate) fn sender_stopped(&self, id: Uuid) {
        self.senders.lock().expect("senders").remove(&id);
    }

    /// Campaign finished by this replica: the summary goes out now.
    pub(crate) async fn finished(&self, c: &Campaign) {
        metrics::counter!("broadcast_campaigns_finished_total").increment(1);
        tracing::info!(campaign = %c.id, recipients = c.recipients, "campaign finished");
        self.progress.update_now(c).await;
    }
}
