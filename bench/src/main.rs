//! The benchmark harness. It reports figures; it never fails because a
//! machine is slow, only when a correctness check does (a duplicate, a lost
//! recipient, an outcome not recorded).
//!
//! ```text
//! bench broadcast [--quick] [--reps N] [--only KEY,...] [--write BENCHMARKS.md] [--perf]
//! bench ingress [--quick] [--reps N] [--write BENCHMARKS.md] [--perf]
//! bench bare-200 --listen ADDR   (the ingress baseline, spawned by `bench ingress`)
//! ```
//!
//! Run it through `scripts/bench.sh`, which builds in release mode and
//! starts (and stops) Postgres and Redis.

mod broadcast;
mod ingress;
mod procfs;
mod redis;
mod report;
mod stats;

use broadcast::{Infra, Scenario, everyone, sandbox};
use report::{Row, Section, row};
use std::path::PathBuf;
use std::time::Duration;

struct Args {
    quick: bool,
    reps: Option<usize>,
    only: Option<Vec<String>>,
    write: Option<PathBuf>,
    perf: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("broadcast") => {}
        other => anyhow::bail!(
            "usage: bench broadcast|ingress [--quick] [--reps N] [--only KEY,...] [--write FILE] [--perf] (got {other:?})"
        ),
    }
    let mut a = Args {
        quick: false,
        reps: None,
        only: None,
        write: None,
        perf: false,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{name} needs a value"))
        };
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--perf" => a.perf = true,
            "--reps" => a.reps = Some(value("--reps")?.parse()?),
            "--only" => {
                a.only = Some(
                    value("--only")?
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .collect(),
                )
            }
            "--write" => a.write = Some(value("--write")?.into()),
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    Ok(a)
}

// One line per row reads as the table it becomes.
#[rustfmt::skip]
const RATE_ROWS: &[Row] = &[
    row("rate_steady", "sustained rate, msg/s (first and last second left out)", "", 2),
    row("budget_share", "share of the budget, %", "≥ 99 %", 1),
    row("rate_first_last", "rate first to last message, msg/s", "", 2),
    row("rate_p1_p99", "rate over the middle 98 % of the messages, msg/s", "", 2),
    row("peak_1s", "most sends in any sliding second (the sandbox's count)", "≤ budget", 0),
    row("n429", "429 answers from the sandbox", "0", 0),
    row("duplicates", "duplicate deliveries", "0", 0),
    row("lost", "recipients not reached", "0", 0),
    row("first_msg_s", "StartCampaign to the first message, s", "< 1 s", 3),
    row("bc_us", "broadcast CPU per message, µs (= ms per 1000)", "", 1),
    row("pg_us", "Postgres CPU per message, µs", "", 1),
    row("redis_us", "Redis master CPU per message, µs", "", 1),
    row("harness_us", "fake Telegram + harness CPU per message, µs", "", 1),
    row("hwm_end_mb", "broadcast peak RSS (VmHWM), MB", "< 100 MB", 1),
    row("late_slots", "budget slots missed by > 4 ms (re-queued)", "", 0),
    row("retries", "sends re-queued when due (429, flood wait)", "", 0),
    row("idle_pct", "budget idle in gaps longer than two slots, % of the time", "", 1),
    row("paused_s", "time in whole-second pauses (after a 429), s", "", 2),
    row("tail_s", "time for the last 1 % of the messages, s", "", 2),
    row("batch_mean", "recipients per claimed batch (mean)", "", 1),
    row("wall_s", "StartCampaign to the last outcome recorded, s", "", 1),
    row("slow_count", "statements over 500 ms (the service's slow-statement warnings)", "", 0),
    row("slow_max_s", "slowest statement, s", "", 2),
    row("ours_pct", "CPU of the run's processes, % of the machine", "", 0),
    row("others_pct", "CPU of everything else on the machine meanwhile, %", "", 0),
];

#[rustfmt::skip]
const RAW_ROWS: &[Row] = &[
    row("rate_steady", "sustained rate, msg/s (first and last second left out)", "≥ 5,000", 0),
    row("rate_first_last", "rate first to last message, msg/s", "", 0),
    row("rate_p1_p99", "rate over the middle 98 % of the messages, msg/s", "", 0),
    row("bc_us", "broadcast CPU per message, µs", "", 1),
    row("pg_us", "Postgres CPU per message, µs (every backend)", "", 1),
    row("redis_us", "Redis master CPU per message, µs", "", 1),
    row("harness_us", "fake Telegram + harness CPU per message, µs", "", 1),
    row("all_us", "all four together per message, µs", "", 1),
    row("msgs_per_bc_cpu_s", "messages per broadcast CPU-second", "", 0),
    row("duplicates", "duplicate deliveries", "0", 0),
    row("lost", "recipients not reached", "0", 0),
    row("first_msg_s", "StartCampaign to the first message, s", "< 1 s", 3),
    row("hwm_end_mb", "broadcast peak RSS (VmHWM), MB", "< 100 MB", 1),
    row("late_slots", "budget slots missed by > 4 ms (re-queued)", "", 0),
    row("retries", "sends re-queued when due (429, flood wait)", "", 0),
    row("tail_s", "time for the last 1 % of the messages, s", "", 2),
    row("batch_mean", "recipients per claimed batch (mean)", "", 1),
    row("slow_count", "statements over 500 ms (the service's slow-statement warnings)", "", 0),
    row("slow_max_s", "slowest statement, s", "", 2),
    row("ours_pct", "CPU of the run's processes, % of the machine", "", 0),
    row("others_pct", "CPU of everything else on the machine meanwhile, %", "", 0),
];

#[rustfmt::skip]
const MATERIALISE_ROWS: &[Row] = &[
    row("running_s", "StartCampaign to running (recipients materialised), s", "≤ 30 s", 2),
    row("recipients", "recipients materialised", "", 0),
    row("pg_start_ms", "Postgres CPU during the start, ms", "", 0),
    row("hwm_running_mb", "broadcast peak RSS up to running (VmHWM), MB", "< 100 MB", 1),
    row("rss_send_peak_mb", "broadcast RSS peak while sending (sampled every 50 ms), MB", "< 100 MB", 1),
    row("hwm_end_mb", "broadcast peak RSS over the run (VmHWM), MB", "< 100 MB", 1),
    row("first_msg_s", "StartCampaign to the first message, s", "", 2),
    row("first_after_running_s", "running to the first message, s", "", 2),
    row("rate_steady", "rate while sending (paid, limits off), msg/s", "", 0),
    row("delivered", "messages sent before the cancel", "", 0),
    row("bc_send_us", "broadcast CPU per message while sending, µs", "", 1),
    row("pg_send_us", "Postgres CPU per message while sending, µs", "", 1),
    row("late_slots", "budget slots missed by > 4 ms (re-queued)", "", 0),
    row("duplicates", "duplicate deliveries", "0", 0),
    row("slow_count", "statements over 500 ms (the service's slow-statement warnings)", "", 0),
    row("slow_max_s", "slowest statement, s", "", 2),
    row("ours_pct", "CPU of the run's processes, % of the machine", "", 0),
    row("others_pct", "CPU of everything else on the machine meanwhile, %", "", 0),
];

/// The paid budget of the limits-off scenario: never the bottleneck.
const RAW_BUDGET: u32 = 20_000;

fn scenarios(quick: bool) -> Vec<(Scenario, &'static [Row], String)> {
    let n = |full: i64, q: i64| if quick { q } else { full };
    let s1 = n(10_000, 1_000);
    let s2 = n(10_000, 2_000);
    let s3 = n(50_000, 10_000);
    let s4 = n(1_000_000, 100_000);
    let send_for = Duration::from_secs(if quick { 5 } else { 15 });
    vec![
        (
            Scenario {
                key: "budget-30",
                title: format!("1. {s1} recipients at 30 msg/s"),
                users: s1,
                rate_limit: 30,
                paid_rate_limit: 1000,
                sandbox: sandbox(30, 1000, true),
                campaigns: vec![(false, everyone())],
                send_for: None,
                budget: 30.0,
            },
            RATE_ROWS,
            "TELEGRAM_RATE_LIMIT=30; the sandbox enforces 30/s per token, 1/s per chat. \
             One campaign to everyone, with its progress message in the admin's chat."
                .into(),
        ),
        (
            Scenario {
                key: "paid-1000",
                title: format!("2. {s2} recipients, paid, at 1000 msg/s"),
                users: s2,
                rate_limit: 30,
                paid_rate_limit: 1000,
                sandbox: sandbox(30, 1000, true),
                campaigns: vec![(true, everyone())],
                send_for: None,
                budget: 1000.0,
            },
            RATE_ROWS,
            "TELEGRAM_PAID_RATE_LIMIT=1000; the sandbox enforces 1000/s for paid sends. \
             One paid campaign (allow_paid_broadcast) to everyone."
                .into(),
        ),
        (
            Scenario {
                key: "limits-off",
                title: format!("3. {s3} recipients with the sandbox's limits off"),
                users: s3,
                rate_limit: 30,
                paid_rate_limit: RAW_BUDGET,
                sandbox: sandbox(30, 1000, false),
                campaigns: vec![(true, everyone())],
                send_for: None,
                budget: f64::from(RAW_BUDGET),
            },
            RAW_ROWS,
            format!(
                "The sandbox enforces nothing. One paid campaign to everyone with \
                 TELEGRAM_PAID_RATE_LIMIT={RAW_BUDGET}, far past what the pipeline can do (the \
                 configuration allows budgets over Telegram's 1000/s only when TELEGRAM_API_BASE \
                 is not api.telegram.org), so what is measured is the engine itself: the same \
                 budget reservations, claims, per-chat slots and outcome writes as at 30/s."
            ),
        ),
        (
            Scenario {
                key: "materialise",
                title: format!("4. Materialising {s4} recipients"),
                users: s4,
                rate_limit: 30,
                paid_rate_limit: 1000,
                sandbox: sandbox(30, 1000, false),
                campaigns: vec![(true, everyone())],
                send_for: Some(send_for),
                budget: 1000.0,
            },
            MATERIALISE_ROWS,
            format!(
                "One paid campaign to all {s4} users; StartCampaign materialises one row per \
                 recipient in its transaction. It then sends for {} s (sandbox limits off, \
                 1000/s budget) and is cancelled.",
                send_for.as_secs()
            ),
        ),
    ]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("bare-200") {
        return ingress::bare_200(&argv[1..]).await;
    }
    let work = async {
        if argv.first().map(String::as_str) == Some("ingress") {
            ingress::run(ingress::parse_args(&argv[1..])?).await
        } else {
            run(parse_args()?).await
        }
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // On a signal the run is dropped, and with it the processes it started
    // (kill_on_drop; nginx by process group), so nothing outlives the harness.
    let (signal, code) = tokio::select! {
        r = work => return r,
        _ = tokio::signal::ctrl_c() => ("SIGINT", 130),
        _ = term.recv() => ("SIGTERM", 143),
    };
    eprintln!("bench: {signal}; stopped, nothing written");
    std::process::exit(code)
}

async fn run(args: Args) -> anyhow::Result<()> {
    let root = testkit::repo_root();
    let infra = Infra::from_env(
        broadcast::default_binary(),
        root.join("target").join("bench").join("logs"),
        args.perf,
    )
    .await?;
    if !infra.broadcast_bin.exists() {
        anyhow::bail!(
            "{} is missing: cargo build --release -p broadcast",
            infra.broadcast_bin.display()
        );
    }
    let reps = args.reps.unwrap_or(if args.quick { 1 } else { 3 });
    let (pg, redis) = broadcast::server_versions(&infra).await;
    let mut sections = Vec::new();
    let mut keyed = Vec::new();
    for (sc, rows, setup) in scenarios(args.quick) {
        if let Some(only) = &args.only
            && !only.iter().any(|k| k == sc.key)
        {
            continue;
        }
        let runs = broadcast::run_scenario(&infra, &sc, reps).await?;
        keyed.push(sc.key);
        sections.push(Section {
            title: sc.title.clone(),
            setup,
            rows,
            runs,
        });
    }
    let machine = report::Machine::detect(if args.quick { "quick" } else { "full" }, pg, redis);
    let generated = report::render(&machine, &sections);
    println!("{generated}");
    let all: Vec<(String, &[broadcast::Run])> = keyed
        .iter()
        .zip(&sections)
        .map(|(k, s)| (k.to_string(), &s.runs[..]))
        .collect();
    let csv = infra.logs.join("figures.csv");
    std::fs::write(&csv, report::figures_csv(&all))?;
    eprintln!("bench: every run's figures in {}", csv.display());
    let failed = sections
        .iter()
        .flat_map(|s| &s.runs)
        .any(|r| !r.problems.is_empty());
    if failed {
        eprintln!("bench: correctness checks failed (see PROBLEM lines); nothing written");
        std::process::exit(1);
    }
    if let Some(path) = args.write {
        let doc = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".into());
        std::fs::write(&path, report::splice(&doc, &generated))?;
        eprintln!("bench: results written to {}", path.display());
    }
    Ok(())
}
