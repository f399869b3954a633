//! The cache layer against a real Redis master + two replicas.
//!
//! Every test starts its own trio (tests kill and restart nodes) and uses its
//! own key prefix.

use std::time::Duration;

use cache::{Cache, CacheError, ClaimState, Claimed, RateLimit, RedisConfig};
use runtime::config::Env;
use serde::{Deserialize, Serialize};
use testkit::redis::RedisTrio;
use tokio::time::{Instant, sleep};

/// Short, so "fails fast" and "no hang" are visible within the test's patience.
const SOCKET_TIMEOUT: Duration = Duration::from_millis(1000);
const LONG: Duration = Duration::from_secs(600);

fn config(trio: &RedisTrio) -> RedisConfig {
    RedisConfig::from_env(&Env::from_pairs(trio.env_pairs()))
        .expect("the trio's variables parse")
        .with_key_prefix(format!("test-{}:", uuid::Uuid::new_v4().simple()))
        .with_socket_timeout(SOCKET_TIMEOUT)
        .with_max_connections(2)
}

async fn connected(cfg: &RedisConfig) -> Cache {
    let cache = Cache::connect(cfg)
        .await
        .expect("connect never fails on a valid config");
    cache
        .wait_connected(Duration::from_secs(10))
        .await
        .expect("master connects");
    cache
}

async fn setup() -> (RedisTrio, Cache) {
    let trio = RedisTrio::start().await.expect("start redis trio");
    let cache = connected(&config(&trio)).await;
    (trio, cache)
}

/// Polls `check` every 50 ms until it returns true or `within` runs out.
async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every node of `cache` answers PING.
async fn all_up(cache: &Cache) {
    eventually(Duration::from_secs(10), "all nodes up", || async {
        let h = cache.health().await;
        h.master.up && h.replicas.iter().all(|r| r.up)
    })
    .await;
}

/// Waits until every replica holds `value` under `key` (each replicates on
/// its own schedule, so one answering says nothing about the other).
async fn replicated(trio: &RedisTrio, cache: &Cache, key: &str, value: &str) {
    let full_key = cache.key(key);
    for port in trio.replica_ports() {
        eventually(Duration::from_secs(5), "replication", || async {
            trio.command(port, &["GET", &full_key])
                .await
                .ok()
                .as_deref()
                == Some(value)
        })
        .await;
    }
}

#[tokio::test]
async fn cached_write_on_master_is_read_back_from_a_replica() {
    let (trio, cache) = setup().await;
    all_up(&cache).await;

    cache.set_cached("price:100", "1.99", LONG).await.unwrap();
    eventually(Duration::from_secs(5), "replicated value", || async {
        cache.get_cached("price:100").await.unwrap().as_deref() == Some("1.99")
    })
    .await;
    replicated(&trio, &cache, "price:100", "1.99").await;

    // Prove the read path: give each replica its own value behind the
    // master's back. get_cached then sees replica values, in turn; get sees
    // the master's.
    let key = cache.key("origin");
    cache.set("origin", "master", LONG).await.unwrap();
    replicated(&trio, &cache, "origin", "master").await;
    for (i, port) in trio.replica_ports().into_iter().enumerate() {
        trio.command(port, &["CONFIG", "SET", "replica-read-only", "no"])
            .await
            .unwrap();
        trio.command(port, &["SET", &key, &format!("replica{}", i + 1)])
            .await
            .unwrap();
    }
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..4 {
        seen.insert(cache.get_cached("origin").await.unwrap().unwrap());
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["replica1", "replica2"],
        "round-robin over both replicas"
    );
    assert_eq!(
        cache.get("origin").await.unwrap().as_deref(),
        Some("master")
    );
}

#[tokio::test]
async fn owned_claims_name_their_holder_and_move_only_from_it() {
    let (_trio, cache) = setup().await;
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.claim_as("u:1", LONG, &format!("gw{i}")).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap().unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| **o == Claimed::Taken).count(), 1);
    let winner = outcomes.iter().position(|o| *o == Claimed::Taken).unwrap();
    let holder = format!("gw{winner}");
    for (i, o) in outcomes.iter().enumerate() {
        if i != winner {
            assert_eq!(*o, Claimed::HeldBy(holder.clone()));
        }
    }
    assert_eq!(
        cache.claim_state("u:1").await.unwrap(),
        Some(ClaimState::Processing)
    );

    // Only from the holder: a stale takeover or release changes nothing.
    assert!(
        !cache
            .take_over("u:1", "nobody", "thief", LONG)
            .await
            .unwrap()
    );
    assert!(!cache.release_as("u:1", "nobody").await.unwrap());
    assert!(cache.take_over("u:1", &holder, "heir", LONG).await.unwrap());
    assert_eq!(
        cache.claim_as("u:1", LONG, "late").await.unwrap(),
        Claimed::HeldBy("heir".into())
    );
    assert!(!cache.release_as("u:1", &holder).await.unwrap());
    assert!(cache.release_as("u:1", "heir").await.unwrap());
    assert_eq!(
        cache.claim_as("u:1", LONG, "next").await.unwrap(),
        Claimed::Taken
    );

    // Done is final: no takeover, no release, every claim sees it.
    cache.finish("u:1", LONG).await.unwrap();
    assert!(!cache.take_over("u:1", "next", "x", LONG).await.unwrap());
    assert!(!cache.release_as("u:1", "next").await.unwrap());
    assert_eq!(
        cache.claim_as("u:1", LONG, "again").await.unwrap(),
        Claimed::Done
    );
    // A takeover renews the lease: the moved claim lives for the new ttl.
    assert_eq!(
        cache
            .claim_as("u:2", Duration::from_millis(200), "a")
            .await
            .unwrap(),
        Claimed::Taken
    );
    assert!(cache.take_over("u:2", "a", "b", LONG).await.unwrap());
    sleep(Duration::from_millis(400)).await;
    assert_eq!(
        cache.claim_as("u:2", LONG, "c").await.unwrap(),
        Claimed::HeldBy("b".into())
    );
    // An unowned claim (Cache::claim) is held by "", and its lease runs out.
    assert!(
        cache
            .claim("u:3", Duration::from_millis(200))
            .await
            .unwrap()
    );
    assert_eq!(
        cache.claim_as("u:3", LONG, "d").await.unwrap(),
        Claimed::HeldBy(String::new())
    );
    sleep(Duration::from_millis(400)).await;
    assert_eq!(
        cache.claim_as("u:3", LONG, "d").await.unwrap(),
        Claimed::Taken
    );
}

#[tokio::test]
async fn set_get_del_on_master() {
    let (_trio, cache) = setup().await;
    assert_eq!(cache.get("k").await.unwrap(), None);
    cache.set("k", "v", LONG).await.unwrap();
    assert_eq!(cache.get("k").await.unwrap().as_deref(), Some("v"));
    assert!(cache.del("k").await.unwrap());
    assert!(!cache.del("k").await.unwrap());
    assert_eq!(cache.get("k").await.unwrap(), None);

    cache
        .set("short", "v", Duration::from_millis(100))
        .await
        .unwrap();
    sleep(Duration::from_millis(300)).await;
    assert_eq!(cache.get("short").await.unwrap(), None, "expired");
}

#[tokio::test]
async fn exactly_one_of_twenty_concurrent_claims_wins() {
    let (_trio, cache) = setup().await;

    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.claim("update:1", LONG).await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1);
    assert_eq!(
        cache.claim_state("update:1").await.unwrap(),
        Some(ClaimState::Processing)
    );

    // A failed attempt gives the claim back so a retry can take it.
    assert!(cache.release("update:1").await.unwrap());
    assert_eq!(cache.claim_state("update:1").await.unwrap(), None);
    assert!(cache.claim("update:1", LONG).await.unwrap());
    assert!(!cache.claim("update:1", LONG).await.unwrap());

    // Once finished, nobody claims it again, and a late release keeps the marker.
    cache.finish("update:1", LONG).await.unwrap();
    assert!(!cache.claim("update:1", LONG).await.unwrap());
    assert!(!cache.release("update:1").await.unwrap());
    assert_eq!(
        cache.claim_state("update:1").await.unwrap(),
        Some(ClaimState::Done)
    );

    // An expired claim (a crashed worker) can be taken again.
    assert!(
        cache
            .claim("update:2", Duration::from_millis(100))
            .await
            .unwrap()
    );
    sleep(Duration::from_millis(300)).await;
    assert!(cache.claim("update:2", LONG).await.unwrap());
}

#[tokio::test]
async fn master_down_reads_continue_from_replicas_and_the_rest_fails_fast() {
    let (mut trio, cache) = setup().await;
    all_up(&cache).await;
    cache.set_cached("profile:7", "alice", LONG).await.unwrap();
    assert!(cache.claim("paid:order-1", LONG).await.unwrap());
    cache.finish("paid:order-1", LONG).await.unwrap();
    replicated(&trio, &cache, "profile:7", "alice").await;

    trio.stop_master().await.unwrap();

    for _ in 0..4 {
        assert_eq!(
            cache.get_cached("profile:7").await.unwrap().as_deref(),
            Some("alice"),
            "replicas keep serving cached lookups"
        );
    }

    let limit = RateLimit {
        per_minute: 60,
        burst: 5,
    };
    let started = Instant::now();
    let errors = [
        cache.claim("paid:order-2", LONG).await.unwrap_err(),
        cache.set("k", "v", LONG).await.unwrap_err(),
        cache.get("k").await.unwrap_err(),
        cache.rate_limit("user:1", limit).await.unwrap_err(),
        cache.session_get::<String>("dialog", 1).await.unwrap_err(),
    ];
    // The first command may have raced the client noticing the crash and so
    // waited out the socket timeout; none may take longer than that.
    assert!(
        started.elapsed() < SOCKET_TIMEOUT * 2,
        "failed within {:?}",
        started.elapsed()
    );
    // Once the loss is noticed, commands fail at once instead of queueing.
    let started = Instant::now();
    assert!(
        cache
            .claim("paid:order-3", LONG)
            .await
            .unwrap_err()
            .is_unavailable()
    );
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "fail fast: {:?}",
        started.elapsed()
    );
    for e in &errors {
        assert!(e.is_unavailable(), "{e}");
        assert!(
            matches!(e, CacheError::Unavailable { node, .. } if node.starts_with("master")),
            "{e}"
        );
    }

    trio.start_master().await.unwrap();
    eventually(Duration::from_secs(15), "master reconnected", || async {
        cache.claim("paid:order-2", LONG).await.is_ok()
    })
    .await;
    // The append-only file kept the claim made before the crash, so the paid
    // order is not processed a second time.
    assert_eq!(
        cache.claim_state("paid:order-1").await.unwrap(),
        Some(ClaimState::Done)
    );
    assert!(!cache.claim("paid:order-1", LONG).await.unwrap());
    // The restarted server has an empty script cache: EVALSHA falls back to EVAL.
    assert!(cache.rate_limit("user:1", limit).await.unwrap().allowed);
}

#[tokio::test]
async fn one_replica_down_reads_still_answer() {
    let (mut trio, cache) = setup().await;
    all_up(&cache).await;
    cache.set_cached("pack:250", "4.99", LONG).await.unwrap();
    replicated(&trio, &cache, "pack:250", "4.99").await;

    trio.stop_replica(0).await.unwrap();
    for _ in 0..4 {
        assert_eq!(
            cache.get_cached("pack:250").await.unwrap().as_deref(),
            Some("4.99")
        );
    }

    // Both replicas down: the master answers.
    trio.stop_replica(1).await.unwrap();
    for _ in 0..2 {
        assert_eq!(
            cache.get_cached("pack:250").await.unwrap().as_deref(),
            Some("4.99")
        );
    }

    // Back up: the replica resyncs and serves again.
    trio.start_replica(0).await.unwrap();
    trio.start_replica(1).await.unwrap();
    all_up(&cache).await;
    assert_eq!(
        cache.get_cached("pack:250").await.unwrap().as_deref(),
        Some("4.99")
    );
}

#[tokio::test]
async fn rate_limit_allows_burst_then_denies_shares_budget_and_refills() {
    let trio = RedisTrio::start().await.unwrap();
    let cfg = config(&trio);
    // Two Cache instances stand for two processes sharing one budget.
    let a = connected(&cfg).await;
    let b = connected(&cfg).await;
    // 120/min = one every 500 ms, so the test stays short.
    let limit = RateLimit {
        per_minute: 120,
        burst: 3,
    };

    for expected_remaining in [2, 1, 0] {
        let d = a.rate_limit("chat:9", limit).await.unwrap();
        assert!(d.allowed);
        assert_eq!(d.remaining, expected_remaining);
        assert_eq!(d.retry_after, Duration::ZERO);
    }
    let denied = b.rate_limit("chat:9", limit).await.unwrap();
    assert!(!denied.allowed, "b shares a's budget");
    assert!(
        denied.retry_after > Duration::ZERO && denied.retry_after <= Duration::from_millis(500),
        "{:?}",
        denied.retry_after
    );
    // Other keys have their own budget.
    assert!(b.rate_limit("chat:10", limit).await.unwrap().allowed);

    sleep(denied.retry_after + Duration::from_millis(30)).await;
    assert!(
        b.rate_limit("chat:9", limit).await.unwrap().allowed,
        "refilled"
    );
    assert!(
        !a.rate_limit("chat:9", limit).await.unwrap().allowed,
        "b took the refill"
    );

    // The script cache may be flushed at any time (SCRIPT FLUSH, failover).
    trio.command(trio.master_port(), &["SCRIPT", "FLUSH"])
        .await
        .unwrap();
    assert!(a.rate_limit("chat:11", limit).await.unwrap().allowed);
}

/// A command ends the user's dialog in the limiter's round trip, but only when
/// the limiter lets it through: a denied command changes nothing.
#[tokio::test]
async fn an_allowed_request_ends_the_named_session_and_a_denied_one_keeps_it() {
    let (_trio, cache) = setup().await;
    let limit = RateLimit {
        per_minute: 1,
        burst: 1,
    };
    let dialog = Dialog {
        step: "custom_amount".into(),
        stars: None,
    };
    cache.session_set("dialog", 7, &dialog, LONG).await.unwrap();
    cache.session_set("dialog", 8, &dialog, LONG).await.unwrap();
    let allowed = cache
        .rate_limit_ending_session("user:7", limit, Some(("dialog", 7)))
        .await
        .unwrap();
    assert!(allowed.allowed);
    assert_eq!(
        cache.session_get::<Dialog>("dialog", 7).await.unwrap(),
        None,
        "the allowed command ended the dialog"
    );
    assert!(
        cache
            .session_get::<Dialog>("dialog", 8)
            .await
            .unwrap()
            .is_some(),
        "another user's dialog is untouched"
    );

    cache.session_set("dialog", 7, &dialog, LONG).await.unwrap();
    let denied = cache
        .rate_limit_ending_session("user:7", limit, Some(("dialog", 7)))
        .await
        .unwrap();
    assert!(!denied.allowed);
    assert_eq!(
        cache.session_get::<Dialog>("dialog", 7).await.unwrap(),
        Some(dialog),
        "a denied command leaves the dialog as it was"
    );
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Dialog {
    step: String,
    stars: Option<u32>,
}

#[tokio::test]
async fn session_round_trip_and_expiry() {
    let (_trio, cache) = setup().await;
    let state = Dialog {
        step: "custom_amount".into(),
        stars: Some(750),
    };
    assert_eq!(
        cache.session_get::<Dialog>("dialog", 42).await.unwrap(),
        None
    );
    cache.session_set("dialog", 42, &state, LONG).await.unwrap();
    assert_eq!(
        cache.session_get::<Dialog>("dialog", 42).await.unwrap(),
        Some(state)
    );
    assert_eq!(
        cache.session_get::<Dialog>("dialog", 43).await.unwrap(),
        None
    );
    assert_eq!(
        cache.session_get::<Dialog>("other", 42).await.unwrap(),
        None
    );

    cache.session_clear("dialog", 42).await.unwrap();
    assert_eq!(
        cache.session_get::<Dialog>("dialog", 42).await.unwrap(),
        None
    );

    let short = Dialog {
        step: "menu".into(),
        stars: None,
    };
    cache
        .session_set("dialog", -100123, &short, Duration::from_millis(150))
        .await
        .unwrap();
    assert!(
        cache
            .session_get::<Dialog>("dialog", -100123)
            .await
            .unwrap()
            .is_some()
    );
    sleep(Duration::from_millis(400)).await;
    assert_eq!(
        cache
            .session_get::<Dialog>("dialog", -100123)
            .await
            .unwrap(),
        None
    );

    // Garbage under a session key is a codec error, not a panic or a None.
    cache
        .set("session:dialog:5", "{not json", LONG)
        .await
        .unwrap();
    let err = cache.session_get::<Dialog>("dialog", 5).await.unwrap_err();
    assert!(matches!(err, CacheError::Codec { .. }), "{err}");
}

#[tokio::test]
async fn health_reports_each_node() {
    let (mut trio, cache) = setup().await;
    all_up(&cache).await;
    let h = cache.health().await;
    assert!(h.healthy() && !h.degraded(), "{h:?}");
    assert_eq!(h.status(), "ok");
    assert_eq!(h.master.role, "master");
    assert_eq!(h.master.addr, format!("127.0.0.1:{}", trio.master_port()));
    assert!(h.master.latency_ms.is_some() && h.master.error.is_none());
    assert_eq!(h.replicas.len(), 2);
    assert!(h.replicas.iter().all(|r| r.role == "replica"));

    trio.stop_replica(1).await.unwrap();
    let h = cache.health().await;
    assert!(h.healthy() && h.degraded(), "{h:?}");
    assert_eq!(h.status(), "degraded");
    assert!(!h.replicas[1].up && h.replicas[1].error.is_some());

    trio.stop_master().await.unwrap();
    let started = Instant::now();
    let h = cache.health().await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(!h.healthy(), "{h:?}");
    assert_eq!(h.status(), "down");
    let error = h.master.error.clone().expect("master error");
    assert!(error.contains("master"), "{error}");
    assert!(error.contains(&trio.master_port().to_string()), "{error}");

    let json = serde_json::to_value(&h).unwrap();
    assert_eq!(json["master"]["up"], false);
    assert_eq!(json["master"]["role"], "master");
    assert_eq!(json["replicas"][0]["up"], true);
}

#[tokio::test]
async fn connect_succeeds_while_redis_is_down_and_reports_it() {
    // Nothing listens on this port.
    let port = testkit::ports::free_port();
    let cfg = RedisConfig::new("127.0.0.1", port)
        .with_replica("127.0.0.1", testkit::ports::free_port())
        .with_socket_timeout(SOCKET_TIMEOUT);
    let started = Instant::now();
    let cache = Cache::connect(&cfg)
        .await
        .expect("connect does not wait for Redis");
    let err = cache.claim("x", LONG).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    let err = cache.get_cached("x").await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(
        err.to_string().contains("replica1"),
        "names the replicas too: {err}"
    );
    assert!(!cache.health().await.healthy());
    assert!(
        cache
            .wait_connected(Duration::from_millis(200))
            .await
            .is_err()
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn password_protected_trio() {
    let trio = RedisTrio::start_with_password("s3cret-pw").await.unwrap();
    assert!(
        trio.env_pairs()
            .contains(&("REDIS_PASSWORD".into(), "s3cret-pw".into()))
    );
    let cache = connected(&config(&trio)).await;
    all_up(&cache).await;
    cache.set_cached("k", "v", LONG).await.unwrap();
    replicated(&trio, &cache, "k", "v").await;
    assert_eq!(cache.get_cached("k").await.unwrap().as_deref(), Some("v"));

    // A wrong password is "unavailable" (the node cannot serve us), not a hang.
    let wrong = Cache::connect(&config(&trio).with_password("wrong"))
        .await
        .unwrap();
    let started = Instant::now();
    let err = wrong.claim("k", LONG).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// Through the Sentinels: the master is killed, the Sentinels promote a
/// replica, and the same Cache (no restart, no new config) writes to it, with
/// the password on every node and Sentinel. /health names the new master.
#[tokio::test]
async fn a_lost_master_is_replaced_through_the_sentinels() {
    let mut trio = RedisTrio::start_with_sentinels(Some("s3ntinel-pw"))
        .await
        .expect("start redis trio with sentinels");
    let cache = connected(&config(&trio)).await;
    cache.set("before", "1", LONG).await.expect("write");
    let first = cache.health().await.master.addr;
    assert!(
        first.starts_with(&format!(
            "127.0.0.1:{} (starshop via sentinels",
            trio.master_port()
        )),
        "{first}"
    );

    trio.stop_master().await.expect("kill master");
    let killed = Instant::now();
    // Writes fail fast meanwhile (no hang) and work again once promoted.
    eventually(Duration::from_secs(20), "writes after failover", || async {
        cache.set("after", "2", LONG).await.is_ok()
    })
    .await;
    let recovered = killed.elapsed();
    eprintln!("writes resumed {recovered:?} after the master was killed");

    let promoted = trio.wait_promoted().await.expect("a replica promoted");
    assert!(
        trio.replica_ports().contains(&promoted),
        "{promoted} is not a replica port"
    );
    assert_eq!(cache.get("after").await.unwrap().as_deref(), Some("2"));
    // Written before the kill and replicated: still there.
    assert_eq!(cache.get("before").await.unwrap().as_deref(), Some("1"));
    let h = cache.health().await;
    assert!(h.master.up, "{h:?}");
    assert!(
        h.master.addr.starts_with(&format!("127.0.0.1:{promoted} ")),
        "{h:?}"
    );
}

/// A frozen replica (SIGSTOP: sockets open, no answers) costs one read the
/// socket timeout; it is then left out, so later reads do not wait on it, and
/// it serves again once it thaws.
#[tokio::test]
async fn a_frozen_replica_is_waited_on_once_then_left_out_until_it_thaws() {
    let (trio, cache) = setup().await;
    all_up(&cache).await;
    cache.set_cached("price-list", "v1", LONG).await.unwrap();
    replicated(&trio, &cache, "price-list", "v1").await;

    trio.pause_replica(0).unwrap();
    let mut waited = 0;
    for _ in 0..10 {
        let started = Instant::now();
        assert_eq!(
            cache.get_cached("price-list").await.unwrap().as_deref(),
            Some("v1")
        );
        // A read that went to the frozen node waited out the timeout.
        if started.elapsed() >= SOCKET_TIMEOUT / 2 {
            waited += 1;
        }
    }
    assert!(
        waited <= 1,
        "{waited} of 10 reads waited on the frozen replica"
    );

    trio.resume_replica(0).unwrap();
    eventually(
        Duration::from_secs(10),
        "replica back in health",
        || async { cache.health().await.replicas.iter().all(|r| r.up) },
    )
    .await;
}

/// Update claims keep their done markers as bits: handled ids are refused,
/// their neighbours (also across a chunk boundary) are not, a finished claim
/// cannot be taken over, and a day of markers costs a fraction of a byte per
/// update (printed: the figure behind the README's memory arithmetic).
/// Telegram redelivers an unanswered update for up to 24 h, so the marker
/// written with the production lifetime must last that long (and no longer:
/// the README sizes Redis by a day of markers).
#[tokio::test]
async fn an_update_done_marker_lasts_as_long_as_telegram_redelivers() {
    let (trio, cache) = setup().await;
    let id = 3 * 65_536 + 5;
    cache.claim_update(id, LONG, "gw").await.unwrap();
    cache
        .finish_update(id, cache::UPDATE_DONE_TTL)
        .await
        .unwrap();
    let chunk = cache.key(&format!("tg:done:{}", id / 65_536));
    let left_ms: i64 = trio
        .command(trio.master_port(), &["PTTL", &chunk])
        .await
        .unwrap()
        .parse()
        .unwrap();
    let day_ms = 24 * 3600 * 1000;
    assert!(
        left_ms > day_ms - 60_000 && left_ms <= day_ms,
        "the done marker lives {left_ms} ms"
    );
}

#[tokio::test]
async fn update_done_markers_are_bits_and_cost_a_fraction_of_a_byte() {
    let (trio, cache) = setup().await;
    let id = 7 * 65_536 - 1; // the last bit of a chunk
    assert_eq!(
        cache.claim_update(id, LONG, "gw").await.unwrap(),
        Claimed::Taken
    );
    assert_eq!(
        cache.claim_update(id, LONG, "other").await.unwrap(),
        Claimed::HeldBy("gw".into())
    );
    cache.finish_update(id, LONG).await.unwrap();
    assert_eq!(
        cache.claim_update(id, LONG, "other").await.unwrap(),
        Claimed::Done
    );
    let key = cache::update_claim_key(id);
    assert!(!cache.take_over(&key, "gw", "other", LONG).await.unwrap());
    assert!(!cache.release_as(&key, "gw").await.unwrap());
    for neighbour in [id - 1, id + 1] {
        assert_eq!(
            cache.claim_update(neighbour, LONG, "gw").await.unwrap(),
            Claimed::Taken,
            "{neighbour}"
        );
    }
    // A released claim (failed hand-over) can be taken again; not done.
    assert!(
        cache
            .release_as(&cache::update_claim_key(id + 1), "gw")
            .await
            .unwrap()
    );
    assert_eq!(
        cache.claim_update(id + 1, LONG, "x").await.unwrap(),
        Claimed::Taken
    );

    // Memory: 20,000 consecutive updates handled.
    let first = 1_000_000_000;
    let n = 20_000;
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..20 {
        let cache = cache.clone();
        tasks.spawn(async move {
            for i in 0..(n / 20) {
                let u = first + chunk * (n / 20) + i;
                assert_eq!(
                    cache.claim_update(u, LONG, "gw").await.unwrap(),
                    Claimed::Taken
                );
                cache.finish_update(u, LONG).await.unwrap();
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let prefix = cache.key("");
    let mut bytes = 0u64;
    for c in [first / 65_536, (first + n - 1) / 65_536] {
        let used = trio
            .command(
                trio.master_port(),
                &["MEMORY", "USAGE", &format!("{prefix}tg:done:{c}")],
            )
            .await
            .unwrap();
        bytes += used.parse::<u64>().unwrap_or(0);
    }
    // No claim keys are left behind.
    let left = trio.command(trio.master_port(), &["DBSIZE"]).await.unwrap();
    eprintln!(
        "{n} handled updates: {bytes} bytes of done markers ({:.3} B/update); {left} keys in Redis",
        bytes as f64 / n as f64
    );
    assert!(
        bytes > 0 && bytes < n as u64,
        "{bytes} bytes for {n} updates"
    );
    assert!(left.parse::<u64>().unwrap() < 10, "{left} keys left");
}
