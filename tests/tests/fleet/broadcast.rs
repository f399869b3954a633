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
        if send && call.ok() && let Some(chat) = call.chat_id().filter(|c| *c != ADMIN) {
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
    assert_eq!(p.recipients, 1_960, "2000 minus 20 unsubscribed and 20 unreachable");
    assert_eq!((p.sent, p.blocked, p.failed, p.unknown, p.pending), (1_950, 10, 0, 0, 0));
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
    for c in fleet.tg.calls().iter().filter(|c| c.status == 429) {
        let t = c.at;
        let mut w: Vec<_> = fleet.tg.calls().into_iter().filter(|x| x.ok() && x.method.starts_with("send") && x.at <= t && t.duration_since(x.at).unwrap() < Duration::from_secs(1)).map(|x| (t.duration_since(x.at).unwrap().as_micros() as i64 / 100, x.chat_id())).collect();
        w.sort();
        eprintln!("DEBUG429 {} {:?} n={} {:?}", c.method, c.chat_id(), w.len(), w);
    }
    assert_eq!(flood_replies(&fleet), 0, "the sandbox never had to say 429");
    assert!(max_per_second(&fleet) <= 100, "{}", max_per_second(&fleet));
    fleet.stop().await;
}
