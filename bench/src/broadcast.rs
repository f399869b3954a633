//! The broadcast benchmarks: the release `broadcast` binary as a child
//! process (so its CPU and RSS are its own in /proc), a fresh Postgres
//! database, the infra's Redis, and the fake Telegram in this process with
//! the limits each scenario needs. Users are seeded with one INSERT ...
//! generate_series; campaigns are created and started over gRPC, and the
//! fake's record of every call is what the figures are computed from.

use crate::procfs;
use crate::redis::{self, info_field};
use anyhow::{Context, bail};
use proto::broadcast::broadcast_client::BroadcastClient;
use proto::broadcast::content::Body;
use proto::broadcast::{
    Audience, CampaignRef, Content, CreateCampaignRequest, Schedule, ScheduleKind, Segment,
    TextBody,
};
use sandbox::telegram::{FakeTelegram, TelegramOptions};
use sqlx::PgPool;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::Channel;

/// The admin's chat: campaigns keep their progress message there, as in
/// production. Never a recipient (users are seeded from FIRST_USER up).
pub const ADMIN: i64 = 900_001;
const FIRST_USER: i64 = 1_000_000;
/// Recipients of the warm-up campaign each process sends before the
/// measured one (pools connected, statements prepared, pages cached).
const WARM_UP: i64 = 20;

/// Where everything runs.
pub struct Infra {
    pub broadcast_bin: PathBuf,
    pub logs: PathBuf,
    /// The Redis the broadcast service uses (REDIS_* from infra.env).
    pub redis_env: Vec<(String, String)>,
    pub redis_pid: Option<u32>,
    /// Record a system-wide `perf` profile of each measured window.
    pub perf: bool,
}

impl Infra {
    pub async fn from_env(
        broadcast_bin: PathBuf,
        logs: PathBuf,
        perf: bool,
    ) -> anyhow::Result<Infra> {
        let names = [
            "REDIS_MASTER_HOST",
            "REDIS_MASTER_PORT",
            "REDIS_SLAVE1_HOST",
            "REDIS_SLAVE1_PORT",
            "REDIS_SLAVE2_HOST",
            "REDIS_SLAVE2_PORT",
            "REDIS_PASSWORD",
        ];
        let redis_env: Vec<(String, String)> = names
            .iter()
            .filter_map(|n| std::env::var(n).ok().map(|v| (n.to_string(), v)))
            .collect();
        let get = |n: &str| {
            redis_env
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
        };
        let (Some(host), Some(port)) = (get("REDIS_MASTER_HOST"), get("REDIS_MASTER_PORT")) else {
            bail!("REDIS_MASTER_HOST/PORT are not set: run through scripts/bench.sh");
        };
        let info = redis::info(&host, &port, get("REDIS_PASSWORD").as_deref(), "server")
            .await
            .context("INFO from the Redis master")?;
        std::fs::create_dir_all(&logs)?;
        Ok(Infra {
            broadcast_bin,
            logs,
            redis_env,
            redis_pid: info_field(&info, "process_id").and_then(|p| p.parse().ok()),
            perf,
        })
    }
}

/// What a scenario sets up and how it ends.
pub struct Scenario {
    pub key: &'static str,
    pub title: String,
    pub users: i64,
    pub rate_limit: u32,
    pub paid_rate_limit: u32,
    pub sandbox: TelegramOptions,
    /// The campaigns started together: (paid, audience).
    pub campaigns: Vec<(bool, Audience)>,
    /// None: until every campaign is done. Some: cancel after this long
    /// running (the materialisation scenario does not send a million).
    pub send_for: Option<Duration>,
    /// The budget the campaigns share (msg/s), for the share figure.
    pub budget: f64,
}

pub fn everyone() -> Audience {
    Audience {
        segment: Segment::All as i32,
        ..Default::default()
    }
}

pub fn sandbox(global: u32, paid: u32, enforce: bool) -> TelegramOptions {
    TelegramOptions {
        global_per_sec: global,
        paid_per_sec: paid,
        enforce_limits: enforce,
        ..TelegramOptions::default()
    }
}

/// The figures of one run, by name (see `report` for which are shown).
pub type Figures = HashMap<&'static str, f64>;

/// One run: its figures and the correctness problems found (none expected).
pub struct Run {
    pub figures: Figures,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
}

/// The broadcast service as a child process.
struct Service {
    child: tokio::process::Child,
    pid: u32,
    port: u16,
    log: PathBuf,
}

impl Service {
    async fn spawn(
        infra: &Infra,
        sc: &Scenario,
        db_url: &str,
        tg: &FakeTelegram,
        token: &str,
        log: PathBuf,
    ) -> anyhow::Result<Service> {
        let port = testkit::ports::free_port();
        let out = std::fs::File::create(&log)?;
        let mut cmd = tokio::process::Command::new(&infra.broadcast_bin);
        cmd.env_clear()
            .envs(
                infra
                    .redis_env
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .env("ENVIRONMENT", "development")
            .env("LOG_LEVEL", "info")
            .env("TELEGRAM_TOKEN", token)
            .env("TELEGRAM_API_BASE", tg.base_url())
            .env("TELEGRAM_RATE_LIMIT", sc.rate_limit.to_string())
            .env("TELEGRAM_PAID_RATE_LIMIT", sc.paid_rate_limit.to_string())
            .env("DATABASE_URL", db_url)
            .env("ADMIN_IDS", ADMIN.to_string())
            .env("BROADCAST_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .with_context(|| format!("start {}", infra.broadcast_bin.display()))?;
        let pid = child.id().context("broadcast pid")?;
        Ok(Service {
            child,
            pid,
            port,
            log,
        })
    }

    /// Connects once the service listens (after its migrations).
    async fn client(&mut self) -> anyhow::Result<BroadcastClient<Channel>> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(c) = BroadcastClient::connect(format!("http://127.0.0.1:{}", self.port)).await
            {
                return Ok(c);
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "broadcast exited ({status}) before listening; log: {}",
                    self.log.display()
                );
            }
            if Instant::now() > deadline {
                bail!("broadcast never listened; log: {}", self.log.display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The service's Prometheus counters (sum over labels) whose name starts with `prefix`.
    async fn metric(&self, name: &str, label: Option<&str>) -> f64 {
        let Ok(text) = http_get(self.port, "/metrics").await else {
            return f64::NAN;
        };
        text.lines()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|r| r.starts_with(' ') || r.starts_with('{'))
                    && label.is_none_or(|lb| l.contains(lb))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .fold(0.0, |a, v| a + v)
    }

    /// SIGTERM (graceful: in-flight sends are recorded), SIGKILL after 20 s.
    async fn stop(mut self) -> Vec<String> {
        let _ = tokio::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await;
        if tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        // What an operator would be asked to look at.
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .map(str::to_owned)
            .collect()
    }
}

async fn http_get(port: u16, path: &str) -> anyhow::Result<String> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut body = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut body)).await??;
    Ok(body)
}

/// CPU used so far by every process taking part.
#[derive(Clone, Copy)]
struct Cpu {
    broadcast: Duration,
    postgres: Duration,
    redis: Duration,
    harness: Duration,
    machine: Duration,
}

fn cpu_now(bc_pid: u32, pg_pid: u32, redis_pid: Option<u32>) -> Cpu {
    Cpu {
        broadcast: procfs::cpu(bc_pid).unwrap_or_default(),
        postgres: procfs::tree_cpu(pg_pid).unwrap_or_default(),
        redis: redis_pid
            .and_then(|p| procfs::cpu(p).ok())
            .unwrap_or_default(),
        harness: procfs::self_cpu(),
        machine: procfs::machine_busy(),
    }
}

/// Samples the child's RSS until stopped: the peaks of each phase.
struct RssSampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<(Instant, u64)>>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut samples = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                if let Ok(m) = procfs::memory(pid) {
                    samples.push((Instant::now(), m.rss_kib));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            samples
        });
        RssSampler { stop, task }
    }

    async fn finish(self) -> Vec<(Instant, u64)> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap_or_default()
    }
}

/// `perf record` of the broadcast service with call graphs unwound from
/// DWARF (a release build keeps no frame pointers, but has unwind tables).
/// The other processes' share is in the /proc figures already.
struct Perf {
    child: tokio::process::Child,
}

impl Perf {
    async fn start(pid: u32, out: &Path) -> anyhow::Result<Perf> {
        let child = tokio::process::Command::new("perf")
            .args([
                "record",
                "-e",
                "cpu-clock",
                "-F",
                "499",
                "--call-graph",
                "dwarf,16384",
            ])
            .args(["-p", &pid.to_string(), "-o"])
            .arg(out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("perf record (apt-get install linux-perf)")?;
        // Let it attach before the measured window opens.
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(Perf { child })
    }

    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = tokio::process::Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status()
                .await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(60), self.child.wait()).await;
    }
}

/// A fresh database for one scenario, its users seeded once.
pub struct Database {
    pub db: testkit::postgres::TestDb,
    pub pool: PgPool,
    pub postmaster: u32,
}

impl Database {
    pub async fn fresh() -> anyhow::Result<Database> {
        let db = testkit::postgres::fresh_database().await?;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&db.url)
            .await?;
        let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&pool)
            .await?;
        let postmaster = procfs::stat(&backend.to_string())
            .context("the Postgres backend's /proc entry (Postgres must run on this machine)")?
            .ppid;
        Ok(Database {
            db,
            pool,
            postmaster,
        })
    }

    /// Users FIRST_USER.., subscribed and reachable; even ids speak en, odd ru.
    async fn seed(&self, n: i64) -> anyhow::Result<Duration> {
        let t = Instant::now();
        sqlx::query(
            "INSERT INTO users (id, first_name, language_code)
             SELECT id, 'User' || id, CASE WHEN id % 2 = 0 THEN 'en' ELSE 'ru' END
             FROM generate_series($1::bigint, $2::bigint) AS id",
        )
        .bind(FIRST_USER)
        .bind(FIRST_USER + n - 1)
        .execute(&self.pool)
        .await?;
        sqlx::query("ANALYZE users").execute(&self.pool).await?;
        Ok(t.elapsed())
    }

    async fn reset_campaigns(&self) -> anyhow::Result<()> {
        sqlx::query("TRUNCATE campaign_recipients, audience_lists, campaigns")
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

fn text(html: &str) -> Content {
    Content {
        body: Some(Body::Text(TextBody {
            html: html.into(),
            disable_link_preview: true,
        })),
        ..Default::default()
    }
}

async fn draft(
    c: &mut BroadcastClient<Channel>,
    paid: bool,
    audience: Audience,
    title: &str,
) -> anyhow::Result<String> {
    Ok(c.create_campaign(CreateCampaignRequest {
        content: Some(text(
            "Hello {first_name}! Our <b>new</b> star packs are here.",
        )),
        audience: Some(audience),
        schedule: Some(Schedule {
            kind: ScheduleKind::Now as i32,
            ..Default::default()
        }),
        paid,
        created_by: ADMIN,
        progress_chat_id: ADMIN,
        title: title.into(),
    })
    .await?
    .into_inner()
    .id)
}

fn campaign_ref(id: &str) -> CampaignRef {
    CampaignRef {
        id: id.into(),
        actor: ADMIN,
    }
}

/// Waits until every campaign in `ids` is done or cancelled; false on timeout.
async fn wait_ended(pool: &PgPool, ids: &[sqlx::types::Uuid], within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let open: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM campaigns WHERE id = ANY($1) AND status NOT IN ('done', 'cancelled')",
        )
        .bind(ids)
        .fetch_one(pool)
        .await
        .unwrap_or(1);
        if open == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn uuids(ids: &[String]) -> anyhow::Result<Vec<sqlx::types::Uuid>> {
    ids.iter()
        .map(|i| Ok(sqlx::types::Uuid::parse_str(i)?))
        .collect()
}

/// Runs a scenario `reps` times on one fresh database.
pub async fn run_scenario(infra: &Infra, sc: &Scenario, reps: usize) -> anyhow::Result<Vec<Run>> {
    let db = Database::fresh().await?;
    let mut runs = Vec::new();
    for rep in 0..reps {
        eprintln!("bench: {} — run {}/{reps}", sc.title, rep + 1);
        let run = run_once(infra, sc, &db, rep).await?;
        for p in &run.problems {
            eprintln!("bench:   PROBLEM: {p}");
        }
        runs.push(run);
        db.reset_campaigns().await?;
    }
    db.pool.close().await;
    db.db.drop_database().await?;
    Ok(runs)
}

async fn run_once(infra: &Infra, sc: &Scenario, db: &Database, rep: usize) -> anyhow::Result<Run> {
    let mut f = Figures::new();
    let mut problems = Vec::new();
    let tg = FakeTelegram::start(sc.sandbox.clone()).await?;
    // A bot id of its own per run: no budget or per-chat key of an earlier
    // run is in the way.
    let token = format!(
        "{}:bench_{}_{rep}",
        7_100_000 + rep,
        sc.key.replace('-', "_")
    );
    let log = infra
        .logs
        .join(format!("broadcast-{}-{}.log", sc.key, rep + 1));
    let mut svc = Service::spawn(infra, sc, &db.db.url, &tg, &token, log).await?;
    let mut client = svc.client().await?;
    if rep == 0 {
        let took = db.seed(sc.users).await?;
        eprintln!(
            "bench:   seeded {} users in {:.1} s",
            sc.users,
            took.as_secs_f64()
        );
    }

    // Warm-up: a small campaign through the whole path, then a pause long
    // enough for its per-chat slots (1 s) to run out.
    let warm_ids: Vec<i64> = (FIRST_USER..FIRST_USER + WARM_UP).collect();
    let warm = draft(
        &mut client,
        false,
        Audience {
            segment: Segment::UserIds as i32,
            user_ids: warm_ids,
            ..Default::default()
        },
        "warm-up",
    )
    .await?;
    client.start_campaign(campaign_ref(&warm)).await?;
    if !wait_ended(&db.pool, &uuids(&[warm])?, Duration::from_secs(60)).await {
        bail!("the warm-up campaign did not finish within 60 s");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    tg.clear_calls();

    let mut ids = Vec::new();
    for (i, (paid, audience)) in sc.campaigns.iter().enumerate() {
        ids.push(draft(&mut client, *paid, audience.clone(), &format!("bench {i}")).await?);
    }
    let uids = uuids(&ids)?;

    let perf = if infra.perf {
        Some(
            Perf::start(
                svc.pid,
                &infra.logs.join(format!("perf-{}-{}.data", sc.key, rep + 1)),
            )
            .await?,
        )
    } else {
        None
    };
    let rss = RssSampler::start(svc.pid);
    let cpu0 = cpu_now(svc.pid, db.postmaster, infra.redis_pid);
    let t0 = SystemTime::now();
    let i0 = Instant::now();
    for id in &ids {
        client.start_campaign(campaign_ref(id)).await?;
    }
    let running_at = Instant::now();
    let cpu_running = cpu_now(svc.pid, db.postmaster, infra.redis_pid);
    let mem_running = procfs::memory(svc.pid).unwrap_or_default();
    f.insert("running_s", (running_at - i0).as_secs_f64());

    let ended = match sc.send_for {
        None => {
            let expected = sc.users as f64 / sc.budget.max(1.0);
            let within = Duration::from_secs_f64(expected * 2.0 + 60.0);
            let ok = wait_ended(&db.pool, &uids, within).await;
            if !ok {
                problems.push(format!(
                    "the campaign did not finish within {:.0} s",
                    within.as_secs_f64()
                ));
            }
            ok
        }
        Some(d) => {
            tokio::time::sleep(d).await;
            for id in &ids {
                client.cancel_campaign(campaign_ref(id)).await?;
            }
            wait_ended(&db.pool, &uids, Duration::from_secs(30)).await
        }
    };
    // Cancelled: the sends in flight finish and are recorded.
    let settle_deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < settle_deadline {
        let sending: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM campaign_recipients WHERE campaign_id = ANY($1) AND state = 'sending'",
        )
        .bind(&uids)
        .fetch_one(&db.pool)
        .await?;
        if sending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let end = Instant::now();
    let cpu_end = cpu_now(svc.pid, db.postmaster, infra.redis_pid);
    let mem_end = procfs::memory(svc.pid).unwrap_or_default();
    let samples = rss.finish().await;
    if let Some(p) = perf {
        p.stop().await;
    }
    f.insert(
        "late_slots",
        svc.metric("broadcast_late_slots_total", None).await,
    );
    f.insert(
        "retries",
        svc.metric("broadcast_sends_total", Some("outcome=\"pending\""))
            .await,
    );
    f.insert("wall_s", (end - i0).as_secs_f64());

    // What the fake saw.
    let calls = tg.calls();
    let mut per_chat: HashMap<i64, u32> = HashMap::new();
    let mut times = Vec::new();
    let mut refused = 0usize;
    for c in calls.iter().filter(|c| c.token == token) {
        let send = c.method.starts_with("send") || c.method == "copyMessage";
        let Some(chat) = c.chat_id().filter(|_| send) else {
            continue;
        };
        if !c.ok() {
            refused += 1;
        } else if chat != ADMIN {
            *per_chat.entry(chat).or_default() += 1;
            times.push(c.at);
        }
    }
    times.sort();
    dump_calls(infra, sc, rep, &token, &calls, t0);
    let delivered = per_chat.len() as f64;
    let duplicates: u32 = per_chat.values().map(|n| n - 1).sum();
    f.insert("delivered", delivered);
    f.insert("duplicates", f64::from(duplicates));
    f.insert("n429", tg.count_429() as f64);
    f.insert("refused", refused as f64);
    f.insert("peak_1s", tg.sends_per_second_max(&token).total as f64);
    if let (Some(first), Some(last)) = (times.first(), times.last()) {
        f.insert(
            "first_msg_s",
            first.duration_since(t0).unwrap_or_default().as_secs_f64(),
        );
        let span = last
            .duration_since(*first)
            .unwrap_or_default()
            .as_secs_f64();
        if times.len() > 1 && span > 0.0 {
            f.insert("rate_first_last", (times.len() - 1) as f64 / span);
        }
        // The steady rate leaves out the first and the last second.
        if span > 3.0 {
            let lo = *first + Duration::from_secs(1);
            let hi = *last - Duration::from_secs(1);
            let n = times.iter().filter(|t| **t > lo && **t <= hi).count();
            f.insert("rate_steady", n as f64 / (span - 2.0));
        } else if let Some(r) = f.get("rate_first_last").copied() {
            f.insert("rate_steady", r);
        }
        if let Some(r) = f.get("rate_steady").copied() {
            f.insert("budget_share", 100.0 * r / sc.budget);
        }
        // Where the budget went unused: gaps between consecutive sends longer
        // than two slots, as a share of the whole span.
        let slot = 1.008 / sc.budget;
        let idle: f64 = times
            .windows(2)
            .map(|w| w[1].duration_since(w[0]).unwrap_or_default().as_secs_f64())
            .filter(|g| *g > 2.0 * slot)
            .map(|g| g - slot)
            .fold(0.0, |a, g| a + g);
        if span > 0.0 {
            f.insert("idle_pct", 100.0 * idle / span);
        }
        // The middle 98 % of the messages: the pipeline's steady state,
        // without the start and the tail of retried recipients.
        let (p1, p99) = (times.len() / 100, times.len() * 99 / 100);
        if p99 > p1 + 1 {
            let d = times[p99].duration_since(times[p1]).unwrap_or_default();
            f.insert("rate_p1_p99", (p99 - p1) as f64 / d.as_secs_f64());
        }
        // Whole-second waits (a 429's retry_after pauses every sender).
        let paused: f64 = times
            .windows(2)
            .map(|w| w[1].duration_since(w[0]).unwrap_or_default().as_secs_f64())
            .filter(|g| *g >= 0.9)
            .fold(0.0, |a, g| a + g);
        f.insert("paused_s", paused);
        // The last 1 % of the messages (retried recipients, mostly).
        let at99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
        f.insert(
            "tail_s",
            last.duration_since(at99).unwrap_or_default().as_secs_f64(),
        );
    }

    // CPU per message, over the whole run (start to last outcome recorded).
    let per_msg = |a: Duration, b: Duration| {
        if delivered > 0.0 {
            (b.saturating_sub(a)).as_secs_f64() * 1e6 / delivered
        } else {
            f64::NAN
        }
    };
    f.insert("bc_us", per_msg(cpu0.broadcast, cpu_end.broadcast));
    f.insert("pg_us", per_msg(cpu0.postgres, cpu_end.postgres));
    f.insert("redis_us", per_msg(cpu0.redis, cpu_end.redis));
    f.insert("harness_us", per_msg(cpu0.harness, cpu_end.harness));
    let bc_s = cpu_end
        .broadcast
        .saturating_sub(cpu0.broadcast)
        .as_secs_f64();
    if bc_s > 0.0 {
        f.insert("msgs_per_bc_cpu_s", delivered / bc_s);
    }
    let total = |c: Cpu| c.broadcast + c.postgres + c.redis + c.harness;
    f.insert("all_us", per_msg(total(cpu0), total(cpu_end)));
    // Whatever else ran on the machine meanwhile (other users, builds): the
    // context for the wall-clock figures of this run.
    let ours = total(cpu_end).saturating_sub(total(cpu0));
    let busy = cpu_end.machine.saturating_sub(cpu0.machine);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let wall = (end - i0).as_secs_f64();
    if wall > 0.0 {
        f.insert(
            "others_pct",
            100.0 * busy.saturating_sub(ours).as_secs_f64() / (wall * cores),
        );
        f.insert("ours_pct", 100.0 * ours.as_secs_f64() / (wall * cores));
    }
    // Starting (materialising) separately: mostly Postgres.
    let ms = |a: Duration, b: Duration| b.saturating_sub(a).as_secs_f64() * 1e3;
    f.insert("pg_start_ms", ms(cpu0.postgres, cpu_running.postgres));
    f.insert("bc_start_ms", ms(cpu0.broadcast, cpu_running.broadcast));
    // Sending separately (after the start), per message.
    f.insert(
        "pg_send_us",
        per_msg(cpu_running.postgres, cpu_end.postgres),
    );
    f.insert(
        "bc_send_us",
        per_msg(cpu_running.broadcast, cpu_end.broadcast),
    );
    if let Some(first) = f.get("first_msg_s").copied() {
        f.insert(
            "first_after_running_s",
            first - (running_at - i0).as_secs_f64(),
        );
    }
    let mb = |kib: u64| kib as f64 / 1024.0;
    f.insert("hwm_running_mb", mb(mem_running.hwm_kib));
    f.insert("hwm_end_mb", mb(mem_end.hwm_kib));
    let peak = |from: Instant, to: Instant| {
        samples
            .iter()
            .filter(|(t, _)| *t >= from && *t <= to)
            .map(|(_, k)| *k)
            .max()
            .map(mb)
            .unwrap_or(f64::NAN)
    };
    f.insert("rss_start_peak_mb", peak(i0, running_at));
    f.insert("rss_send_peak_mb", peak(running_at, end));

    // Correctness: never twice, nobody lost, every outcome recorded.
    let states: Vec<(String, i64)> = sqlx::query_as(
        "SELECT state, count(*) FROM campaign_recipients WHERE campaign_id = ANY($1) GROUP BY state",
    )
    .bind(&uids)
    .fetch_all(&db.pool)
    .await?;
    let state = |s: &str| states.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
    let recipients: i64 = states.iter().map(|(_, n)| n).sum();
    // Each claim writes its own token: the number of batches the rows were
    // last claimed in, and their mean size.
    let batches: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT claimed_by) FROM campaign_recipients
         WHERE campaign_id = ANY($1) AND claimed_by IS NOT NULL",
    )
    .bind(&uids)
    .fetch_one(&db.pool)
    .await?;
    if batches > 0 {
        f.insert("batch_mean", delivered / batches as f64);
    }
    f.insert("recipients", recipients as f64);
    f.insert("unknown", state("unknown") as f64);
    if duplicates > 0 {
        problems.push(format!("{duplicates} duplicate deliveries"));
    }
    if recipients != sc.users {
        problems.push(format!(
            "{recipients} recipients materialised for {} users",
            sc.users
        ));
    }
    let (sent, unknown) = (state("sent"), state("unknown"));
    match sc.send_for {
        None if ended => {
            let lost = sc.users - delivered as i64;
            f.insert("lost", lost as f64);
            if lost != 0 || sent != sc.users {
                problems.push(format!(
                    "{} delivered, {sent} recorded sent of {} ({states:?})",
                    delivered, sc.users
                ));
            }
        }
        None => {}
        Some(_) => {
            // Cancelled mid-way: what was delivered is recorded sent (or
            // unknown, never re-sent), and what is recorded sent was delivered.
            let d = delivered as i64;
            if !(sent <= d && d <= sent + unknown) {
                problems.push(format!(
                    "{d} delivered but {sent} recorded sent and {unknown} unknown"
                ));
            }
            if state("sending") > 0 {
                problems.push(format!("{} recipients left 'sending'", state("sending")));
            }
        }
    }
    let warnings = svc.stop().await;
    f.insert("warnings", warnings.len() as f64);
    // sqlx logs statements slower than 500 ms with their duration.
    let slow: Vec<f64> = warnings
        .iter()
        .filter(|l| l.contains("slow statement"))
        .filter_map(|l| {
            let v = l.split("\"elapsed_secs\":").nth(1)?;
            v.split([',', '}']).next()?.trim().parse().ok()
        })
        .collect();
    f.insert("slow_count", slow.len() as f64);
    f.insert("slow_max_s", slow.iter().copied().fold(0.0, f64::max));
    tg.shutdown();
    Ok(Run {
        figures: f,
        problems,
        warnings,
    })
}

/// Every call of the run as CSV (ms since StartCampaign, method, chat,
/// HTTP status, paid), next to the service's log: the timeline to look at
/// when a figure is off.
fn dump_calls(
    infra: &Infra,
    sc: &Scenario,
    rep: usize,
    token: &str,
    calls: &[sandbox::telegram::RecordedCall],
    t0: SystemTime,
) {
    let mut out = String::from("ms,method,chat,status,paid,error\n");
    for c in calls.iter().filter(|c| c.token == token) {
        let ms = match c.at.duration_since(t0) {
            Ok(d) => d.as_secs_f64() * 1e3,
            Err(e) => -e.duration().as_secs_f64() * 1e3,
        };
        let paid = c
            .params
            .get("allow_paid_broadcast")
            .is_some_and(|v| v == true);
        let error = c
            .response
            .get("description")
            .and_then(|d| d.as_str())
            .filter(|_| !c.ok())
            .unwrap_or("")
            .replace([',', '\n'], ";");
        out.push_str(&format!(
            "{ms:.3},{},{},{},{},{error}\n",
            c.method,
            c.chat_id().unwrap_or(0),
            c.status,
            u8::from(paid)
        ));
    }
    let path = infra.logs.join(format!("calls-{}-{}.csv", sc.key, rep + 1));
    if let Err(e) = std::fs::write(&path, out) {
        eprintln!("bench: could not write {}: {e}", path.display());
    }
}

/// The version strings of the servers, for the report.
pub async fn server_versions(infra: &Infra) -> (String, String) {
    let pg = match Database::fresh().await {
        Ok(d) => {
            let v: String = sqlx::query_scalar("SHOW server_version")
                .fetch_one(&d.pool)
                .await
                .unwrap_or_default();
            d.pool.close().await;
            let _ = d.db.drop_database().await;
            v
        }
        Err(_) => String::new(),
    };
    let get = |n: &str| {
        infra
            .redis_env
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let redis = redis::info(
        &get("REDIS_MASTER_HOST"),
        &get("REDIS_MASTER_PORT"),
        infra
            .redis_env
            .iter()
            .find(|(k, _)| k == "REDIS_PASSWORD")
            .map(|(_, v)| v.as_str()),
        "server",
    )
    .await
    .ok()
    .and_then(|i| info_field(&i, "redis_version").map(str::to_owned))
    .unwrap_or_default();
    (pg, redis)
}

/// The release binary next to this one, unless BENCH_BROADCAST_BIN says otherwise.
pub fn default_binary() -> PathBuf {
    if let Ok(p) = std::env::var("BENCH_BROADCAST_BIN") {
        return PathBuf::from(p);
    }
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
        .unwrap_or_default()
        .join("broadcast")
}
