//! The fault suite: one component is broken while a steady stream of distinct
//! updates and payment callbacks flows through nginx, and the fleet must heal
//! by itself. The stream is delivered the way Telegram and Heleket deliver:
//! every answer that is not 2xx (and every cut connection) is retried with
//! backoff until it is accepted.
//!
//! Each test checks what a customer would notice: every update answered
//! exactly once, every paid order credited exactly once, and service back
//! within [`RECOVERY_LIMIT`] of the fault. It prints what it measured (time to
//! recover, deliveries retried, duplicates) for the README's "Reliability"
//! section.
//!
//! Real processes throughout: Redis with three Sentinels, a Postgres server of
//! the test's own when it is the one restarted, and the service under test
//! run as a process of its own (`service-process`) so it can be SIGKILLed.

use crate::harness::*;
use sandbox::telegram::TelegramOptions;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::pg_server::PgServer;
use testkit::redis::RedisTrio;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep};

/// Updates per second in the stream: a busy bot, well inside the 30 replies/s
/// Telegram allows one token.
const RATE: u64 = 10;
/// How long the stream runs; the fault comes [`FAULT_AT`] into it.
const STREAM: Duration = Duration::from_secs(12);
const FAULT_AT: Duration = Duration::from_secs(3);
/// Orders created before the stream and paid during it, one callback each.
const ORDERS: usize = 6;
const STARS: i64 = 100;
/// From the fault to the last refused delivery.
const RECOVERY_LIMIT: Duration = Duration::from_secs(10);
/// How long one update or callback is redelivered before the test gives up
/// (Telegram keeps trying for much longer; the test must end).
const PATIENCE: Duration = Duration::from_secs(60);

/// Every delivery attempt that was refused, by when.
#[derive(Default)]
struct Tally {
    refused_at: Mutex<Vec<Instant>>,
    attempts: AtomicU64,
    retried: AtomicU64,
}

impl Tally {
    fn refused(&self) {
        self.refused_at.lock().unwrap().push(Instant::now());
    }
}

/// Posts `body` until it gets a 2xx, backing off 100 ms doubling to 2 s like
/// the senders we stand in for. False when [`PATIENCE`] ran out.
async fn deliver_until_accepted(
    http: &reqwest::Client,
    url: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
    tally: &Tally,
) -> bool {
    let deadline = Instant::now() + PATIENCE;
    let mut backoff = Duration::from_millis(100);
    let mut first = true;
    loop {
        tally.attempts.fetch_add(1, Ordering::Relaxed);
        if !first {
            tally.retried.fetch_add(1, Ordering::Relaxed);
        }
        first = false;
        let mut req = http
            .post(url)
            .header("content-type", "application/json")
            .timeout(Duration::from_secs(15))
            .body(body.clone());
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => return true,
            _ => tally.refused(),
        }
        if Instant::now() + backoff > deadline {
            return false;
        }
        sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// The stream in flight: started before the fault, collected after it.
struct Load {
    started: Instant,
    updates: JoinSet<bool>,
    callbacks: JoinSet<bool>,
    users: Vec<i64>,
    orders: Vec<(i64, String)>,
    update_tally: Arc<Tally>,
    callback_tally: Arc<Tally>,
}

/// Creates [`ORDERS`] orders through the bot (so they exist in payments and
/// in the fake Heleket), then starts the stream.
async fn start_load(fleet: &Fleet, first_user: i64) -> Load {
    let mut orders = Vec::new();
    for i in 0..ORDERS as i64 {
        let u = user(first_user + 50_000 + i);
        orders.push((u.id, fleet.order_pack(&u, STARS).await));
    }
    let update_tally = Arc::new(Tally::default());
    let callback_tally = Arc::new(Tally::default());
    let started = Instant::now();

    let mut updates = JoinSet::new();
    let mut users = Vec::new();
    let n = RATE * STREAM.as_secs();
    for i in 0..n {
        let user_id = first_user + i as i64;
        users.push(user_id);
        // /start touches Postgres and Redis; /buy asks payments for the price
        // list as well. Each user sends one, so each gets exactly one reply.
        let text = if i % 2 == 0 { "/start" } else { "/buy" };
        let body = message_update(1_000_000 + first_user + i as i64, user_id, text);
        let (http, url, tally) = (
            fleet.http.clone(),
            fleet.url("/webhook"),
            update_tally.clone(),
        );
        let at = started + Duration::from_millis(i * 1000 / RATE);
        updates.spawn(async move {
            tokio::time::sleep_until(at).await;
            let headers = [(gateway::SECRET_HEADER, SECRET.to_string())];
            deliver_until_accepted(&http, &url, &headers, body.to_string().into_bytes(), &tally)
                .await
        });
    }

    // Callbacks 400 ms apart from a second before the fault, so some of them
    // meet even a short outage.
    let mut callbacks = JoinSet::new();
    let spacing = Duration::from_millis(400);
    for (k, (_, order_id)) in orders.iter().enumerate() {
        let (heleket, http, url, tally) = (
            fleet.heleket.clone(),
            fleet.http.clone(),
            fleet.callback_url(),
            callback_tally.clone(),
        );
        let order_id = order_id.clone();
        let at = started + FAULT_AT - Duration::from_secs(1) + spacing * k as u32;
        callbacks.spawn(async move {
            tokio::time::sleep_until(at).await;
            heleket.set_status(&order_id, "paid").expect("invoice");
            let body = heleket.callback_body(&order_id, "paid").expect("body");
            let ok = deliver_until_accepted(&http, &url, &[], body.clone(), &tally).await;
            // Heleket may send the same callback again after it was accepted.
            let again = deliver_until_accepted(&http, &url, &[], body, &tally).await;
            ok && again
        });
    }
    Load {
        started,
        updates,
        callbacks,
        users,
        orders,
        update_tally,
        callback_tally,
    }
}

/// Waits until the stream's fault moment.
async fn until_fault(load: &Load) -> Instant {
    tokio::time::sleep_until(load.started + FAULT_AT).await;
    Instant::now()
}

/// Collects the stream, checks exactly-once for updates and payments, prints
/// the figures and checks the recovery time.
async fn finish(fleet: &Fleet, load: Load, fault: &str, fault_at: Instant) {
    finish_allowing(fleet, load, fault, fault_at, 0).await
}

/// [`finish`], tolerating up to `may_repeat` updates answered twice: a
/// process killed after the bot replied and before the gateway recorded it
/// leaves the update to be handled again (README "Reliability").
async fn finish_allowing(
    fleet: &Fleet,
    mut load: Load,
    fault: &str,
    fault_at: Instant,
    may_repeat: usize,
) {
    let mut lost_updates = 0;
    while let Some(r) = load.updates.join_next().await {
        if !r.expect("delivery task") {
            lost_updates += 1;
        }
    }
    let mut lost_callbacks = 0;
    while let Some(r) = load.callbacks.join_next().await {
        if !r.expect("callback task") {
            lost_callbacks += 1;
        }
    }

    // Answered: each user's /start got its welcome. A welcome may still be
    // on its way when the last delivery was accepted; then exactly one.
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && load.users.iter().any(|u| fleet.replies_to(*u).is_empty()) {
        sleep(Duration::from_millis(100)).await;
    }
    sleep(Duration::from_millis(500)).await;
    let mut unanswered = 0;
    let mut duplicates = 0;
    let mut repeated = Vec::new();
    for u in &load.users {
        match fleet.replies_to(*u).len() {
            0 => unanswered += 1,
            1 => {}
            n => {
                duplicates += n - 1;
                repeated.push((*u, fleet.texts_to(*u)));
            }
        }
    }

    // Credited: one purchase row per order, for exactly the pack.
    let mut wrong_credit = Vec::new();
    for (user_id, order_id) in &load.orders {
        let rows: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM ledger WHERE order_id::text = $1 AND reason = 'purchase'",
        )
        .bind(order_id)
        .fetch_one(&fleet.pool)
        .await
        .expect("count ledger rows");
        let balance = fleet.balance_of(*user_id).await;
        if rows != 1 || balance != STARS {
            wrong_credit.push(format!("{order_id}: {rows} rows, balance {balance}"));
        }
    }

    let refused = load.update_tally.refused_at.lock().unwrap().clone();
    let cb_refused = load.callback_tally.refused_at.lock().unwrap().clone();
    let last_refusal = refused.iter().chain(cb_refused.iter()).max().copied();
    let recovered_in = last_refusal
        .map(|t| t.saturating_duration_since(fault_at))
        .unwrap_or_default();
    eprintln!(
        "FAULT {fault}: service back {:.1} s after the fault; updates {} answered {} (unanswered {unanswered}, duplicates {duplicates}), deliveries refused {} retried {}; callbacks {} credited once {} (refused {}), lost {lost_updates} updates {lost_callbacks} callbacks",
        recovered_in.as_secs_f64(),
        load.users.len(),
        load.users.len() - unanswered,
        refused.len(),
        load.update_tally.retried.load(Ordering::Relaxed),
        load.orders.len(),
        load.orders.len() - wrong_credit.len(),
        cb_refused.len(),
    );
    assert_eq!(lost_updates, 0, "{fault}: updates never accepted");
    assert_eq!(lost_callbacks, 0, "{fault}: callbacks never accepted");
    assert_eq!(
        unanswered, 0,
        "{fault}: updates accepted but never answered"
    );
    assert!(
        duplicates <= may_repeat,
        "{fault}: {duplicates} updates answered more than once: {repeated:#?}"
    );
    assert!(
        wrong_credit.is_empty(),
        "{fault}: orders not credited exactly once: {wrong_credit:?}"
    );
    assert!(
        recovered_in <= RECOVERY_LIMIT,
        "{fault}: deliveries still refused {recovered_in:?} after the fault"
    );
}

/// A fleet on a Redis trio with Sentinels (found through them, as deployed),
/// optionally on a Postgres server of the test's own.
async fn fleet_for_faults(pg: Option<&PgServer>) -> Fleet {
    let redis = RedisTrio::start_with_sentinels(None)
        .await
        .expect("redis with sentinels");
    let db = match pg {
        Some(pg) => testkit::postgres::fresh_database_at(&pg.url()).await,
        None => testkit::postgres::fresh_database().await,
    }
    .expect("database");
    Fleet::start_on(TelegramOptions::default(), redis, db, |_| {}).await
}

/// A service run as its own process, so it can be killed like a crash.
struct ServiceProcess {
    name: &'static str,
    child: tokio::process::Child,
}

impl ServiceProcess {
    /// Starts `name` with the fleet's environment (its listen address is the
    /// one the in-process copy used, so nginx and the other services find it)
    /// and waits until it accepts connections.
    async fn spawn(fleet: &Fleet, name: &'static str) -> ServiceProcess {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_service-process"));
        cmd.arg(name)
            .env_clear()
            .envs(fleet.env.vars())
            .env("LOG_LEVEL", "warn")
            .kill_on_drop(true);
        let child = cmd.spawn().expect("service process starts");
        let var = format!("{}_LISTEN", name.to_uppercase());
        let addr = fleet.env.get(&var).expect("listen address").to_string();
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                return ServiceProcess { name, child };
            }
            sleep(Duration::from_millis(50)).await;
        }
        panic!("{name} process never listened on {addr}");
    }

    async fn sigkill(mut self) {
        self.child.kill().await.expect("SIGKILL");
        eprintln!("killed {} with SIGKILL", self.name);
    }
}

/// Swaps the in-process copy of `name` for a process, runs the stream, kills
/// the process with SIGKILL at the fault and starts it again at once (what
/// docker's restart policy does).
async fn kill_service_under_load(name: &'static str, first_user: i64) {
    let mut fleet = fleet_for_faults(None).await;
    match name {
        "gateway" => fleet.stop_gateway().await,
        "bot" => fleet.stop_bot().await,
        "payments" => fleet.stop_payments().await,
        "broadcast" => fleet.stop_broadcast().await,
        other => panic!("no service {other}"),
    }
    let process = ServiceProcess::spawn(&fleet, name).await;
    let load = start_load(&fleet, first_user).await;
    let fault_at = until_fault(&load).await;
    process.sigkill().await;
    let process = ServiceProcess::spawn(&fleet, name).await;
    // One update may be in the window between the reply and its record.
    finish_allowing(&fleet, load, &format!("kill -9 {name}"), fault_at, 1).await;
    drop(process);
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_master_killed_a_replica_is_promoted_and_nothing_is_lost() {
    let mut fleet = fleet_for_faults(None).await;
    let load = start_load(&fleet, 7_100_000).await;
    let fault_at = until_fault(&load).await;
    fleet.redis.stop_master().await.expect("kill -9 master");
    finish(&fleet, load, "kill -9 redis master", fault_at).await;
    let promoted = fleet
        .redis
        .wait_promoted()
        .await
        .expect("a replica promoted");
    assert!(fleet.redis.replica_ports().contains(&promoted));
    fleet.stop().await;
}

/// A hung master (SIGSTOP: sockets open, nothing answered) is not noticed by
/// TCP; the services see their commands time out, reconnect through the
/// Sentinels and find the replica they promoted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_master_frozen_the_fleet_moves_to_the_promoted_replica() {
    let fleet = fleet_for_faults(None).await;
    let load = start_load(&fleet, 7_800_000).await;
    let fault_at = until_fault(&load).await;
    fleet.redis.pause_master().expect("SIGSTOP master");
    finish(&fleet, load, "SIGSTOP redis master", fault_at).await;
    let promoted = fleet
        .redis
        .wait_promoted()
        .await
        .expect("a replica promoted");
    assert!(fleet.redis.replica_ports().contains(&promoted));
    // Thawed, it is made a replica of the new master; the fleet goes on.
    fleet.redis.resume_master().expect("SIGCONT master");
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restarted_nothing_is_lost() {
    let pg = PgServer::start().await.expect("private postgres");
    let fleet = fleet_for_faults(Some(&pg)).await;
    let load = start_load(&fleet, 7_200_000).await;
    let fault_at = until_fault(&load).await;
    let down = std::time::Instant::now();
    pg.crash_and_restart().await.expect("restart postgres");
    eprintln!("postgres was down for {:?}", down.elapsed());
    finish(&fleet, load, "crash + restart postgres", fault_at).await;
    fleet.stop().await;
    // The server outlives the fleet's pools.
    drop(pg);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gateway_killed_and_restarted_nothing_is_lost() {
    kill_service_under_load("gateway", 7_300_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bot_killed_and_restarted_nothing_is_lost() {
    kill_service_under_load("bot", 7_400_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payments_killed_and_restarted_nothing_is_lost() {
    kill_service_under_load("payments", 7_500_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broadcast_killed_and_restarted_nothing_is_lost() {
    kill_service_under_load("broadcast", 7_600_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_frozen_replica_is_read_around_and_rejoins() {
    let fleet = fleet_for_faults(None).await;
    let load = start_load(&fleet, 7_700_000).await;
    let fault_at = until_fault(&load).await;
    fleet.redis.pause_replica(0).expect("SIGSTOP replica");
    sleep(Duration::from_secs(5)).await;
    fleet.redis.resume_replica(0).expect("SIGCONT replica");
    finish(&fleet, load, "SIGSTOP a redis replica for 5 s", fault_at).await;
    // Reads use it again: /health/redis shows both replicas up.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = fleet.get("/health/redis").await;
        let up = body.to_string().matches("\"up\":true").count();
        if up >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "replica never back: {body}");
        sleep(Duration::from_millis(200)).await;
    }
    fleet.stop().await;
}
