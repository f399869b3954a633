//! Campaigns through the broadcast gRPC API, delivered to the sandbox's
//! Telegram with its flood limits on: exactly once per reachable subscriber,
//! within the shared budget, through pauses, 429s and crashes.

use crate::harness::{ADMIN, Fleet};
use proto::broadcast::broadcast_client::BroadcastClient;
use proto::broadcast::content::Body;
use proto::broadcast::{
    Audience, Campaign, CampaignRef, Content, CreateCampaignRequest, Schedule, ScheduleKind,
    Segment, TextBody,
};
use sandbox::telegram::{RecordedCall, TelegramOptions};
use std::collections::HashMap;
use std::time::{Duration, SystemTime};
use tonic::transport::Channel;

/// The fleet with the sandbox's global limit and our budget both at `rate`.
pub async fn fleet_at(rate: u32, tweak: impl FnOnce(&mut runtime::config::Env)) -> Fleet {
    let opts = TelegramOptions {
        global_per_sec: rate,
        ..TelegramOptions::default()
    };
    Fleet::start_custom(opts, |env| {
        env.set("TELEGRAM_RATE_LIMIT", rate.to_string());
        env.set("BROADCAST_POLL_INTERVAL", "0.1");
        env.set("BROADCAST_CLAIM_LEASE", "3");
        env.set("BROADCAST_SEND_TIMEOUT", "2");
        env.set("BROADCAST_RETRY_BASE", "0.2");
        env.set("BROADCAST_PROGRESS_INTERVAL", "1");
        tweak(env);
    })
    .await
}

pub async fn client(fleet: &Fleet) -> BroadcastClient<Channel> {
    let url = fleet.env.get("BROADCAST_GRPC_URL").expect("broadcast url");
    BroadcastClient::connect(url.to_string())
        .await
        .expect("broadcast reachable")
}

/// Users `first..first+n` who started the bot, subscribed and reachable.
pub async fn seed_users(fleet: &Fleet, first: i64, n: i64) {
    sqlx::query(
        "INSERT INTO users (id, first_name, language_code)
         SELECT id, 'User' || id, 'en' FROM generate_series($1::bigint, $2::bigint) AS id",
    )
    .bind(first)
    .bind(first + n - 1)
    .execute(&fleet.pool)
    .await
    .expect("seed users");
}

pub fn text(html: &str) -> Content {
    Content {
        body: Some(Body::Text(TextBody {
            html: html.into(),
            disable_link_preview: false,
        })),
        ..Default::default()
    }
}

pub fn everyone() -> Audience {
    Audience {
        segment: Segment::All as i32,
        ..Default::default()
    }
}

pub fn now() -> Schedule {
    Schedule {
        kind: ScheduleKind::Now as i32,
        ..Default::default()
    }
}

/// Creates and confirms a campaign; returns its id.
pub async fn start(
    c: &mut BroadcastClient<Channel>,
    content: Content,
    audience: Audience,
    schedule: Schedule,
) -> String {
    let draft = c
        .create_campaign(CreateCampaignRequest {
            content: Some(content),
            audience: Some(audience),
            schedule: Some(schedule),
            created_by: ADMIN,
            progress_chat_id: ADMIN,
            title: "test".into(),
            ..Default::default()
        })
        .await
        .expect("draft created")
        .into_inner();
    c.start_campaign(CampaignRef {
        id: draft.id.clone(),
        actor: ADMIN,
    })
    .await
    .expect("confirmed");
    draft.id
}

pub async fn get(c: &mut BroadcastClient<Channel>, id: &str) -> Campaign {
    c.get_campaign(CampaignRef {
        id: id.into(),
        actor: ADMIN,
    })
    .await
    .expect("campaign")
    .into_inner()
}

/// Waits until the campaign reaches `status` (or panics after `within`).
pub async fn wait_status(
    c: &mut BroadcastClient<Channel>,
    id: &str,
    status: &str,
    within: Duration,
) -> Campaign {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let now = get(c, id).await;
        if now.status == status {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "campaign never became {status}: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Successful campaign sends (sendMessage/copyMessage/media) per chat,
/// leaving out the admin's chat (previews, progress).
pub fn deliveries(fleet: &Fleet) -> HashMap<i64, Vec<RecordedCall>> {
    let mut out: HashMap<i64, Vec<RecordedCall>> = HashMap::new();
    for call in fleet.tg.calls() {
        let send = call.method.starts_with("send") || call.method == "copyMessage";
        if send
            && call.ok()
            && let Some(chat) = call.chat_id().filter(|c| *c != ADMIN)
        {
            out.entry(chat).or_default().push(call);
        }
    }
    out
}

/// The most successful sends of any sliding second, by the sandbox's clock.
pub fn max_per_second(fleet: &Fleet) -> usize {
    let mut at: Vec<SystemTime> = fleet
        .tg
        .calls()
        .into_iter()
        .filter(|c| (c.method.starts_with("send") || c.method == "copyMessage") && c.ok())
        .map(|c| c.at)
        .collect();
    at.sort();
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..at.len() {
        while at[hi].duration_since(at[lo]).unwrap_or_default() >= Duration::from_secs(1) {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

pub fn flood_replies(fleet: &Fleet) -> usize {
    fleet.tg.calls().iter().filter(|c| c.status == 429).count()
}

// Several threads, as the services have in production: on one thread the
// sandbox, the test and every service share a single scheduler, and timers
// fire late whenever one of them is busy.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_campaign_reaches_every_reachable_subscriber_once_within_the_budget() {
    let fleet = fleet_at(100, |_| {}).await;
    let mut c = client(&fleet).await;
    seed_users(&fleet, 10_000, 2_000).await;
    // Excluded before the start: unsubscribed, and known unreachable.
    sqlx::query("UPDATE users SET subscribed = FALSE WHERE id BETWEEN 10000 AND 10019")
        .execute(&fleet.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE users SET reachable = FALSE WHERE id BETWEEN 10020 AND 10039")
        .execute(&fleet.pool)
        .await
        .unwrap();
    // Blocked the bot without us knowing yet: Telegram answers 403.
    for id in 10_040..10_050 {
        fleet.tg.block_chat(id);
    }
    let id = start(&mut c, text("Hello {first_name}!"), everyone(), now()).await;
    let done = wait_status(&mut c, &id, "done", Duration::from_secs(90)).await;

    let p = done.progress.unwrap();
    assert_eq!(
        p.recipients, 1_960,
        "2000 minus 20 unsubscribed and 20 unreachable"
    );
    assert_eq!(
        (p.sent, p.blocked, p.failed, p.unknown, p.pending),
        (1_950, 10, 0, 0, 0)
    );
    let got = deliveries(&fleet);
    assert_eq!(got.len(), 1_950);
    assert!(got.values().all(|v| v.len() == 1), "nobody got it twice");
    assert_eq!(
        got[&10_100][0].params["text"], "Hello User10100!",
        "variables are filled per recipient"
    );
    for id in (10_000..10_040).chain(10_040..10_050) {
        assert!(!got.contains_key(&id), "{id} must not receive it");
    }
    let blocked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM users WHERE id BETWEEN 10040 AND 10049 AND NOT reachable",
    )
    .fetch_one(&fleet.pool)
    .await
    .unwrap();
    assert_eq!(blocked, 10, "a 403 marks the user unreachable");
    assert_eq!(flood_replies(&fleet), 0, "the sandbox never had to say 429");
    assert!(max_per_second(&fleet) <= 100, "{}", max_per_second(&fleet));
    fleet.stop().await;
}

/// The broadcast service as a real process (tests/bin), for SIGKILL.
struct Process {
    child: tokio::process::Child,
}

impl Process {
    fn spawn(fleet: &Fleet, port: u16) -> Process {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_service-process"));
        cmd.arg("broadcast")
            .env_clear()
            .envs(fleet.env.vars())
            .env("BROADCAST_LISTEN", format!("127.0.0.1:{port}"))
            .env("LOG_LEVEL", "warn")
            .kill_on_drop(true);
        Process {
            child: cmd.spawn().expect("broadcast process starts"),
        }
    }

    async fn sigkill(mut self) {
        // tokio's kill() is SIGKILL: no drain, no outcome written.
        self.child.kill().await.expect("killed");
    }
}

async fn client_at(port: u16) -> BroadcastClient<Channel> {
    for _ in 0..100 {
        if let Ok(c) = BroadcastClient::connect(format!("http://127.0.0.1:{port}")).await {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("broadcast process never listened on {port}");
}

fn settled(p: &proto::broadcast::Progress) -> i64 {
    p.sent + p.failed + p.blocked + p.unknown
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sigkilled_broadcast_service_resumes_and_nobody_gets_the_campaign_twice() {
    // The production lease: the dead replica's claims are found by its
    // silent heartbeat, long before the lease would end them.
    let mut fleet = fleet_at(100, |env| {
        env.set("BROADCAST_CLAIM_LEASE", "60");
    })
    .await;
    // Only the process sends: the in-process service stops first.
    if let Some(b) = fleet.broadcast.take() {
        b.stop().await;
    }
    seed_users(&fleet, 20_000, 1_000).await;
    let port = testkit::ports::free_port();
    let first = Process::spawn(&fleet, port);
    let mut c = client_at(port).await;
    let id = start(&mut c, text("Crash test"), everyone(), now()).await;
    // Mid-campaign: some sent, most not.
    loop {
        let p = get(&mut c, &id).await.progress.unwrap();
        if p.sent >= 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.sigkill().await;
    let second = Process::spawn(&fleet, port);
    let mut c = client_at(port).await;
    // 1,000 at 100/s is ~10 s of sending; the killed replica's claims are
    // swept ~10-13 s after its last heartbeat. Under half the lease.
    let done = wait_status(&mut c, &id, "done", Duration::from_secs(30)).await;
    let p = done.progress.unwrap();
    assert_eq!(p.recipients, 1_000);
    assert_eq!(
        settled(&p),
        1_000,
        "sent + failed + blocked + unknown = recipients: {p:?}"
    );
    let got = deliveries(&fleet);
    assert!(got.values().all(|v| v.len() == 1), "nobody got it twice");
    assert_eq!(
        got.len() as i64,
        p.sent + p.unknown - unknown_not_delivered(&fleet, &id, &got).await,
        "every chat that got it is counted sent or unknown"
    );
    assert!(p.sent >= 900, "the restart resumed the campaign: {p:?}");
    second.sigkill().await;
    fleet.stop().await;
}

/// Another broadcast replica on the same database, Redis and token.
async fn second_replica(fleet: &Fleet) -> crate::harness::Running {
    let mut env = fleet.env.clone();
    env.set("BROADCAST_LISTEN", "127.0.0.1:0");
    let app = broadcast::App::build(broadcast::Config::from_env(&env).expect("config"))
        .await
        .expect("second replica starts");
    crate::harness::Running::spawn(|t| app.run(t))
}

/// Unknown recipients the sandbox never saw (their send had not left yet).
async fn unknown_not_delivered(
    fleet: &Fleet,
    id: &str,
    got: &HashMap<i64, Vec<RecordedCall>>,
) -> i64 {
    let unknown: Vec<i64> = sqlx::query_scalar(
        "SELECT user_id FROM campaign_recipients WHERE campaign_id = $1::uuid AND state = 'unknown'",
    )
    .bind(id)
    .fetch_all(&fleet.pool)
    .await
    .unwrap();
    unknown.iter().filter(|u| !got.contains_key(u)).count() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_broadcast_replicas_share_one_campaign_and_one_budget() {
    let fleet = fleet_at(60, |_| {}).await;
    let second = second_replica(&fleet).await;
    seed_users(&fleet, 30_000, 600).await;
    let mut c = client(&fleet).await;
    let id = start(&mut c, text("Twice the workers"), everyone(), now()).await;
    let done = wait_status(&mut c, &id, "done", Duration::from_secs(60)).await;
    assert_eq!(done.progress.unwrap().sent, 600);
    let got = deliveries(&fleet);
    assert_eq!(got.len(), 600);
    assert!(
        got.values().all(|v| v.len() == 1),
        "no duplicates across replicas"
    );
    let senders: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT claimed_by) FROM campaign_recipients WHERE campaign_id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&fleet.pool)
    .await
    .unwrap();
    assert!(senders > 1, "batches were claimed by more than one sender");
    assert_eq!(flood_replies(&fleet), 0);
    assert!(max_per_second(&fleet) <= 60, "{}", max_per_second(&fleet));
    second.stop().await;
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pause_stops_sending_resume_continues_and_cancel_is_final() {
    let fleet = fleet_at(50, |_| {}).await;
    seed_users(&fleet, 40_000, 400).await;
    let mut c = client(&fleet).await;
    let id = start(&mut c, text("Pause me"), everyone(), now()).await;
    let r = || CampaignRef {
        id: id.clone(),
        actor: ADMIN,
    };
    while get(&mut c, &id).await.progress.unwrap().sent < 50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    c.pause_campaign(r()).await.expect("paused");
    // Whatever was in flight lands within a second; then nothing moves.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let at_pause = deliveries(&fleet).len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(deliveries(&fleet).len(), at_pause, "no sends while paused");
    let paused = get(&mut c, &id).await;
    assert_eq!(paused.status, "paused");
    assert!(at_pause < 400);
    let err = c.pause_campaign(r()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::AlreadyExists, "{err:?}");

    c.resume_campaign(r()).await.expect("resumed");
    while deliveries(&fleet).len() < at_pause + 50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    c.cancel_campaign(r()).await.expect("cancelled");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let at_cancel = deliveries(&fleet).len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(deliveries(&fleet).len(), at_cancel, "nothing after cancel");
    assert!(at_cancel < 400, "cancelled before the end");
    let err = c.resume_campaign(r()).await.unwrap_err();
    assert_eq!(
        err.code(),
        tonic::Code::AlreadyExists,
        "cancel is final: {err:?}"
    );
    assert!(deliveries(&fleet).values().all(|v| v.len() == 1));
    // The progress message shows the end, without buttons.
    let last_edit = fleet
        .tg
        .calls_to("editMessageText")
        .into_iter()
        .rfind(|e| e.chat_id() == Some(ADMIN))
        .expect("progress edits");
    let t = last_edit.params["text"].as_str().unwrap();
    assert!(t.contains("cancelled"), "{t}");
    // Once the in-flight sends land, the counts are final: what is left was
    // never sent, and everything adds up to the recipients.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let settled_counts: Option<serde_json::Value> = loop {
        let v: Option<serde_json::Value> =
            sqlx::query_scalar("SELECT final_counts FROM campaigns WHERE id = $1::uuid")
                .bind(&id)
                .fetch_one(&fleet.pool)
                .await
                .unwrap();
        if v.is_some() || tokio::time::Instant::now() > deadline {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let f = settled_counts.expect("a cancelled campaign gets final counts");
    let sum: i64 = ["pending", "sending", "sent", "failed", "blocked", "unknown"]
        .iter()
        .map(|k| f[k].as_i64().unwrap())
        .sum();
    assert_eq!(sum, 400, "{f}");
    assert_eq!(f["sending"], 0);
    assert_eq!(f["sent"].as_i64().unwrap(), at_cancel as i64, "{f}");
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_audience_selects_exactly_its_users() {
    let fleet = fleet_at(100, |_| {}).await;
    let mut c = client(&fleet).await;
    seed_users(&fleet, 50_000, 10).await;
    let db = &fleet.pool;
    let exec = |sql: &'static str| async move { sqlx::query(sql).execute(db).await.unwrap() };
    exec("UPDATE users SET language_code = 'ru' WHERE id IN (50000, 50001)").await;
    exec("UPDATE users SET language_code = 'pt-BR' WHERE id = 50002").await;
    exec("UPDATE users SET last_seen_at = now() - interval '40 days' WHERE id IN (50003, 50004)")
        .await;
    exec("UPDATE users SET subscribed = FALSE WHERE id = 50008").await;
    exec("UPDATE users SET reachable = FALSE WHERE id = 50009").await;
    // 50005 bought (credited); 50006 has an order that never paid.
    exec(
        "INSERT INTO orders (id, user_id, chat_id, stars, amount, currency, status, credited_at)
          VALUES (gen_random_uuid(), 50005, 50005, 100, 1.5, 'USD', 'paid', now()),
                 (gen_random_uuid(), 50006, 50006, 100, 1.5, 'USD', 'cancel', NULL)",
    )
    .await;
    let probe = c.clone();
    let count = |a: Audience| {
        let mut c = probe.clone();
        async move { c.count_audience(a).await.map(|r| r.into_inner().recipients) }
    };
    let seg = |s: Segment| Audience {
        segment: s as i32,
        ..Default::default()
    };
    assert_eq!(
        count(seg(Segment::All)).await.unwrap(),
        8,
        "unsubscribed and unreachable never count"
    );
    assert_eq!(count(seg(Segment::Buyers)).await.unwrap(), 1);
    assert_eq!(count(seg(Segment::NonBuyers)).await.unwrap(), 7);
    let lang = |l: &str| Audience {
        segment: Segment::Language as i32,
        language: l.into(),
        ..Default::default()
    };
    assert_eq!(count(lang("ru")).await.unwrap(), 2);
    assert_eq!(count(lang("pt")).await.unwrap(), 1, "pt matches pt-BR");
    let days = |s: Segment, d: u32| Audience {
        segment: s as i32,
        days: d,
        ..Default::default()
    };
    assert_eq!(count(days(Segment::InactiveFor, 30)).await.unwrap(), 2);
    assert_eq!(count(days(Segment::ActiveWithin, 30)).await.unwrap(), 6);
    let ids = Audience {
        segment: Segment::UserIds as i32,
        user_ids: vec![50000, 50007, 50008, 50009, 99_999_999],
        ..Default::default()
    };
    let reply = c.count_audience(ids.clone()).await.unwrap().into_inner();
    assert_eq!((reply.recipients, reply.ignored_ids), (2, 3));
    let err = count(lang("r%")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    // The list campaign sends to exactly those two.
    let id = start(&mut c, text("Listed"), ids, now()).await;
    wait_status(&mut c, &id, "done", Duration::from_secs(30)).await;
    let mut got: Vec<i64> = deliveries(&fleet).keys().copied().collect();
    got.sort();
    assert_eq!(got, vec![50000, 50007]);
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_content_is_refused_at_composition_and_nothing_is_stored() {
    let fleet = fleet_at(100, |_| {}).await;
    let mut c = client(&fleet).await;
    for (html, why) in [
        ("Hi {firstname}", "firstname"),
        ("<b>bold", "<b>"),
        ("<div>x</div>", "div"),
    ] {
        let err = c
            .create_campaign(CreateCampaignRequest {
                content: Some(text(html)),
                audience: Some(everyone()),
                schedule: Some(now()),
                created_by: ADMIN,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(err.message().contains(why), "{html}: {}", err.message());
        let v = c.validate_content(text(html)).await.unwrap().into_inner();
        assert!(!v.error.is_empty());
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM campaigns")
        .fetch_one(&fleet.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scheduled_campaign_starts_once_with_two_replicas_and_a_series_makes_one_per_occurrence()
{
    let fleet = fleet_at(100, |_| {}).await;
    let second = second_replica(&fleet).await;
    seed_users(&fleet, 60_000, 20).await;
    let mut c = client(&fleet).await;
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(3);
    let at = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let id = start(
        &mut c,
        text("On time"),
        everyone(),
        Schedule {
            kind: ScheduleKind::At as i32,
            at,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(get(&mut c, &id).await.status, "scheduled");
    assert!(deliveries(&fleet).is_empty(), "nothing before its time");
    let done = wait_status(&mut c, &id, "done", Duration::from_secs(30)).await;
    assert!(done.started_at >= done.run_at, "not early");
    assert_eq!(done.progress.unwrap().sent, 20);
    assert!(
        deliveries(&fleet).values().all(|v| v.len() == 1),
        "started once"
    );

    // A daily series: each time it falls due, one occurrence of its own.
    let series = start(
        &mut c,
        text("Daily news"),
        everyone(),
        Schedule {
            kind: ScheduleKind::Recurring as i32,
            cron: "daily 09:30".into(),
            ..Default::default()
        },
    )
    .await;
    let s = get(&mut c, &series).await;
    assert_eq!(s.status, "recurring");
    assert!(s.next_run_at > time::OffsetDateTime::now_utc().unix_timestamp());
    for occurrence in 1..=2i64 {
        // Make the next occurrence due now (instead of waiting a day).
        sqlx::query("UPDATE campaigns SET run_at = now() WHERE id = $1::uuid")
            .bind(&series)
            .execute(&fleet.pool)
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM campaigns WHERE series_id = $1::uuid AND status = 'done'",
            )
            .bind(&series)
            .fetch_one(&fleet.pool)
            .await
            .unwrap();
            if n == occurrence {
                break;
            }
            assert!(n < occurrence, "one campaign per occurrence, got {n}");
            assert!(
                tokio::time::Instant::now() < deadline,
                "occurrence {occurrence} never ran"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let news: usize = deliveries(&fleet)
        .values()
        .map(|v| {
            v.iter()
                .filter(|m| m.params["text"] == "Daily news")
                .count()
        })
        .sum();
    assert_eq!(news, 40, "two occurrences × 20 subscribers");
    let s = get(&mut c, &series).await;
    assert_eq!(s.status, "recurring", "the series goes on");
    second.stop().await;
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replies_to_users_are_not_queued_behind_a_running_campaign() {
    let fleet = fleet_at(30, |_| {}).await;
    seed_users(&fleet, 70_000, 3_000).await;
    let mut c = client(&fleet).await;
    let id = start(&mut c, text("A long campaign"), everyone(), now()).await;
    while get(&mut c, &id).await.progress.unwrap().sent < 60 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let u = crate::harness::user(7_777);
    let sent = || {
        fleet
            .tg
            .calls_to("sendMessage")
            .iter()
            .filter(|m| m.ok() && m.params["text"] == "A long campaign")
            .count()
    };
    for _ in 0..3 {
        let before = sent();
        let reply = fleet.say(&u, "/start").await;
        assert!(reply.ok());
        let during = sent() - before;
        // The reply waits behind at most the slots the campaign had already
        // reserved (a fraction of a second), not behind the 3,000 recipients.
        assert!(
            during <= 20,
            "{during} campaign sends went before the reply"
        );
    }
    assert_eq!(
        flood_replies(&fleet),
        0,
        "replies and campaign share one budget"
    );
    assert!(max_per_second(&fleet) <= 30);
    c.cancel_campaign(CampaignRef { id, actor: ADMIN })
        .await
        .unwrap();
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_429_pauses_every_sender_for_retry_after_and_nobody_is_skipped() {
    let fleet = fleet_at(50, |_| {}).await;
    seed_users(&fleet, 80_000, 300).await;
    let mut c = client(&fleet).await;
    let id = start(&mut c, text("Flood"), everyone(), now()).await;
    while get(&mut c, &id).await.progress.unwrap().sent < 50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fleet
        .tg
        .inject_errors(sandbox::telegram::FaultSpec::flood_wait(1, 2));
    let done = wait_status(&mut c, &id, "done", Duration::from_secs(60)).await;
    assert_eq!(
        done.progress.unwrap().sent,
        300,
        "the refused message was retried"
    );
    let got = deliveries(&fleet);
    assert_eq!(got.len(), 300);
    assert!(got.values().all(|v| v.len() == 1));
    let calls = fleet.tg.calls();
    let first_429 = calls
        .iter()
        .find(|c| c.status == 429)
        .expect("the sandbox said 429")
        .at;
    let during_pause = calls
        .iter()
        .filter(|c| c.ok() && c.method == "sendMessage" && c.chat_id() != Some(ADMIN))
        .filter(|c| c.at > first_429 && c.at < first_429 + Duration::from_millis(1_990))
        .count();
    assert_eq!(during_pause, 0, "no send on the token during retry_after");
    assert!(
        fleet.tg.count_429() <= 3,
        "senders stopped at once: {}",
        fleet.tg.count_429()
    );
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_errors_are_retried_and_a_vanished_chat_is_failed_with_its_reason() {
    let fleet = fleet_at(100, |_| {}).await;
    seed_users(&fleet, 90_000, 50).await;
    fleet.tg.vanish_chat(90_007);
    fleet
        .tg
        .inject_errors(sandbox::telegram::FaultSpec::server_error(3, 502));
    let mut c = client(&fleet).await;
    let id = start(&mut c, text("Retry me"), everyone(), now()).await;
    let done = wait_status(&mut c, &id, "done", Duration::from_secs(30)).await;
    let p = done.progress.unwrap();
    assert_eq!(
        (p.sent, p.failed, p.blocked, p.unknown),
        (49, 1, 0, 0),
        "{p:?}"
    );
    let reason: String = sqlx::query_scalar(
        "SELECT error FROM campaign_recipients WHERE campaign_id = $1::uuid AND user_id = 90007",
    )
    .bind(&id)
    .fetch_one(&fleet.pool)
    .await
    .unwrap();
    assert!(reason.contains("chat not found"), "{reason}");
    assert!(deliveries(&fleet).values().all(|v| v.len() == 1));
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_small_campaign_still_ends_with_its_summary_in_the_admins_chat() {
    let fleet = fleet_at(30, |_| {}).await;
    seed_users(&fleet, 95_000, 3).await;
    let mut c = client(&fleet).await;
    let id = start(&mut c, text("Tiny"), everyone(), now()).await;
    wait_status(&mut c, &id, "done", Duration::from_secs(30)).await;
    // Start message and summary come within a second or two of each other:
    // the admin's per-chat limit is waited out, not given up on.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let shown = fleet.tg.calls().into_iter().rev().find(|m| {
            m.ok()
                && m.chat_id() == Some(ADMIN)
                && (m.method == "editMessageText" || m.method == "sendMessage")
        });
        if let Some(m) = &shown
            && m.params["text"]
                .as_str()
                .is_some_and(|t| t.contains("finished"))
        {
            let t = m.params["text"].as_str().unwrap();
            assert!(t.contains("Sent: 3"), "{t}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no summary: {shown:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    fleet.stop().await;
}

/// The start message is held back (a 429 on the admin's chat) while the
/// campaign finishes: the summary must still replace it, not be dropped
/// because the first message was "being sent elsewhere".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_summary_waits_for_a_start_message_still_being_sent() {
    let fleet = fleet_at(30, |_| {}).await;
    seed_users(&fleet, 96_000, 3).await;
    fleet.tg.inject_errors(
        sandbox::telegram::FaultSpec::flood_wait(1, 2)
            .only_method("sendMessage")
            .only_chat(ADMIN),
    );
    let mut c = client(&fleet).await;
    let id = start(&mut c, text("Tiny"), everyone(), now()).await;
    wait_status(&mut c, &id, "done", Duration::from_secs(30)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let shown: Vec<_> = fleet
            .tg
            .calls()
            .into_iter()
            .filter(|m| {
                m.ok()
                    && m.chat_id() == Some(ADMIN)
                    && (m.method == "editMessageText" || m.method == "sendMessage")
            })
            .collect();
        if let Some(m) = shown.last()
            && m.params["text"]
                .as_str()
                .is_some_and(|t| t.contains("finished"))
        {
            let t = m.params["text"].as_str().unwrap();
            assert!(t.contains("Sent: 3"), "{t}");
            // One message in the chat, edited into the summary.
            let sends = shown.iter().filter(|m| m.method == "sendMessage").count();
            assert_eq!(sends, 1, "{shown:?}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no summary: {:?}",
            shown.last()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_campaign_starts_with_statistics_that_know_its_recipients() {
    // With the table's old statistics (here: never analysed, so "empty"),
    // every claim of a large campaign read and sorted all its pending rows;
    // at 1,000,000 that outlasted the slots and nothing was sent.
    let fleet = fleet_at(30, |_| {}).await;
    seed_users(&fleet, 1_000_000, 12_000).await;
    let mut c = client(&fleet).await;
    let id = start(&mut c, text("Many"), everyone(), now()).await;
    let running = get(&mut c, &id).await;
    assert_eq!(running.progress.unwrap().recipients, 12_000);
    let (analysed, tuples): (bool, f32) = sqlx::query_as(
        "SELECT s.last_analyze IS NOT NULL, c.reltuples FROM pg_stat_user_tables s
         JOIN pg_class c ON c.oid = s.relid WHERE s.relname = 'campaign_recipients'",
    )
    .fetch_one(&fleet.pool)
    .await
    .unwrap();
    assert!(analysed, "the start analysed campaign_recipients");
    assert!(tuples >= 12_000.0, "the planner knows the rows: {tuples}");
    c.cancel_campaign(CampaignRef { id, actor: ADMIN })
        .await
        .unwrap();
    fleet.stop().await;
}
