//! Campaigns, exports and KPIs through the admin API (nginx → admin →
//! broadcast → the sandbox's Telegram, with its flood limits on): what an
//! operator starts and watches reaches each recipient once, the CSV export
//! says exactly what Telegram recorded, and the dashboard's figures add up.

use crate::admin::{Admin, OWNER, OWNER_PW};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// Users `first..first+n`, subscribed and reachable, named so CSV quoting is exercised.
async fn seed_users(a: &Admin, first: i64, n: i64) {
    sqlx::query(
        "INSERT INTO users (id, first_name, language_code)
         SELECT id, 'User, \"' || id || '\"', 'en' FROM generate_series($1::bigint, $2::bigint) AS id",
    )
    .bind(first)
    .bind(first + n - 1)
    .execute(&a.pool)
    .await
    .expect("seed users");
}

/// The CSV's rows as header → value maps.
fn csv_rows(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let headers = r.headers().expect("a header line").clone();
    r.records()
        .map(|rec| {
            let rec = rec.expect("a CSV record");
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Reads the event stream until it ends; each `progress` event's campaign.
async fn watch(a: &Admin, token: &str, id: &str) -> Vec<Value> {
    let mut resp = a
        .request(Method::GET, &format!("/campaigns/{id}/events"), token)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("event stream");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()[reqwest::header::CONTENT_TYPE],
        "text/event-stream"
    );
    let mut buf = String::new();
    while let Some(chunk) = resp.chunk().await.expect("stream chunk") {
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
    buf.split("\n\n")
        .filter(|e| e.lines().any(|l| l == "event: progress"))
        .map(|e| {
            let data = e
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .expect("data line");
            serde_json::from_str(data).expect("campaign JSON")
        })
        .collect()
}

#[tokio::test]
async fn a_campaign_started_and_watched_through_the_api_reaches_each_listed_user_once() {
    let a = Admin::start().await;
    let owner = a.token(OWNER, OWNER_PW).await;
    seed_users(&a, 7001, 60).await;

    // A list with garbage in it is refused, naming the line; nothing is kept.
    let (st, _, body) = a
        .text(
            a.request(Method::POST, "/audiences/ids", &owner)
                .header("content-type", "text/csv")
                .body("user_id\n7001\nBob Smith\n7002\n"),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("line 3") && body.contains("Bob Smith"),
        "{body}"
    );

    // 40 of the users and one id nobody has.
    let list: String = (7001..=7040)
        .chain([99_999])
        .map(|id| format!("{id}\n"))
        .collect();
    let (st, _, body) = a
        .text(
            a.request(Method::POST, "/audiences/ids", &owner)
                .header("content-type", "text/plain")
                .body(format!("id\n{list}7001\n")),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let upload: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(upload["recipients"], 40);
    assert_eq!(upload["ignored_ids"], 1);
    assert_eq!(upload["duplicates"], 1);
    let audience = json!({"segment": "user_ids", "user_ids": upload["user_ids"]});
    let (st, count) = a
        .call(
            Method::POST,
            "/audiences/count",
            Some(&owner),
            Some(audience.clone()),
        )
        .await;
    assert_eq!(
        (st, count["recipients"].as_i64()),
        (StatusCode::OK, Some(40))
    );

    let (st, draft) = a
        .call(
            Method::POST,
            "/campaigns",
            Some(&owner),
            Some(json!({
                "title": "Winter sale",
                "content": {"text": "Hello {first_name}", "buttons": [{"text": "Shop", "url": "https://example.com"}]},
                "audience": audience,
            })),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{draft}");
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["title"], "Winter sale");
    let id = draft["id"].as_str().unwrap().to_string();
    assert!(
        a.tg.calls_to("sendMessage").is_empty(),
        "a draft sends nothing"
    );

    let (st, started) = a
        .call(
            Method::POST,
            &format!("/campaigns/{id}/start"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{started}");
    assert_eq!(started["progress"]["recipients"], 40);

    let events = watch(&a, &owner, &id).await;
    let last = events.last().expect("at least one event");
    assert_eq!(last["status"], "done", "the stream ends with the campaign");
    assert_eq!(last["progress"]["sent"], 40);
    assert_eq!(last["progress"]["pending"], 0);
    // Counts only grow while it runs.
    let sent: Vec<i64> = events
        .iter()
        .map(|e| e["progress"]["sent"].as_i64().unwrap())
        .collect();
    assert!(sent.windows(2).all(|w| w[0] <= w[1]), "{sent:?}");

    let (st, got) = a
        .call(Method::GET, &format!("/campaigns/{id}"), Some(&owner), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(got["progress"]["sent"], 40);
    assert_eq!(got["failures"], json!([]));

    // The export matches what Telegram recorded, recipient by recipient.
    let (st, ctype, csv_text) = a
        .text(a.request(
            Method::GET,
            &format!("/campaigns/{id}/recipients.csv"),
            &owner,
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{csv_text}");
    assert!(ctype.starts_with("text/csv"), "{ctype}");
    let rows = csv_rows(&csv_text);
    assert_eq!(rows.len(), 40);
    for row in &rows {
        let user: i64 = row["user_id"].parse().unwrap();
        assert!((7001..=7040).contains(&user), "{row:?}");
        assert_eq!(row["state"], "sent");
        let delivered = a.tg.messages_to(user);
        assert_eq!(delivered.len(), 1, "user {user} got it once");
        let text = delivered[0].params["text"].as_str().unwrap();
        // The name is filled in HTML-escaped (the message is Telegram HTML).
        assert_eq!(text, format!("Hello User, &quot;{user}&quot;"));
        assert_eq!(
            row["message_id"],
            delivered[0].response["result"]["message_id"].to_string(),
            "{row:?}"
        );
    }
    for user in 7041..=7060 {
        assert!(
            a.tg.messages_to(user).is_empty(),
            "{user} was not on the list"
        );
    }
    let actions = a.audit_actions().await;
    for action in ["campaign.create", "campaign.start"] {
        assert!(actions.contains(&action.to_string()), "{actions:?}");
    }
    a.stop().await;
}

#[tokio::test]
async fn bad_campaigns_are_refused_with_the_reason_and_store_nothing() {
    let a = Admin::start().await;
    let owner = a.token(OWNER, OWNER_PW).await;
    seed_users(&a, 8001, 3).await;
    let all = json!({"segment": "all"});
    let cases = [
        (
            json!({"content": {"text": "x"}, "audience": all, "colour": "red"}),
            "unknown field",
        ),
        (
            json!({"content": {"text": "x", "copy": {"from_chat_id": 1, "message_id": 2}}, "audience": all}),
            "exactly one",
        ),
        (
            json!({"content": {"text": "Hi {email}"}, "audience": all}),
            "email",
        ),
        (
            json!({"content": {"text": "<b>unclosed"}, "audience": all}),
            "invalid input",
        ),
        (
            json!({"content": {"text": "x"}, "audience": {"segment": "vips"}}),
            "vips",
        ),
        (
            json!({"content": {"text": "x"}, "audience": all, "schedule": {"kind": "at", "at": "tomorrow-ish"}}),
            "invalid input",
        ),
        (
            json!({"content": {"text": "x"}, "audience": {"segment": "user_ids", "user_ids": [1, -2]}}),
            "-2",
        ),
    ];
    for (body, reason) in cases {
        tokio::time::sleep(Duration::from_millis(120)).await;
        let (st, reply) = a
            .call(Method::POST, "/campaigns", Some(&owner), Some(body.clone()))
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body} → {reply}");
        let msg = reply["error"].as_str().unwrap_or_default();
        assert!(
            msg.contains(reason),
            "{body}: {msg:?} should say {reason:?}"
        );
    }
    let (st, _) = a
        .call(Method::GET, "/campaigns/not-a-uuid", Some(&owner), None)
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let unknown = "/campaigns/00000000-0000-4000-8000-000000000000";
    for (method, path) in [
        (Method::GET, unknown.to_string()),
        (Method::POST, format!("{unknown}/start")),
        (Method::GET, format!("{unknown}/recipients.csv")),
        (Method::GET, format!("{unknown}/events")),
    ] {
        let (st, reply) = a.call(method.clone(), &path, Some(&owner), None).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{method} {path}: {reply}");
    }
    let (st, _) = a
        .call(
            Method::POST,
            &format!("{unknown}/explode"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // An upload over the limit is refused at the edge.
    let big = "1234567890\n".repeat(600_000);
    let (st, _, _) = a
        .text(a.request(Method::POST, "/audiences/ids", &owner).body(big))
        .await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);

    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM campaigns")
        .fetch_one(&a.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "no refused campaign was stored");
    let actions = a.audit_actions().await;
    assert!(
        !actions.iter().any(|x| x.starts_with("campaign.")),
        "{actions:?}"
    );
    assert!(a.tg.calls_to("sendMessage").is_empty());
    a.stop().await;
}

#[tokio::test]
async fn users_and_orders_export_as_csv_with_the_lists_filters() {
    let a = Admin::start().await;
    let owner = a.token(OWNER, OWNER_PW).await;
    seed_users(&a, 9001, 1200).await;
    sqlx::query(
        "INSERT INTO orders (id, user_id, chat_id, stars, amount, currency, status, created_at)
         SELECT gen_random_uuid(), 9000 + i, 9000 + i, 100, 1.50, 'USDT',
                CASE WHEN i % 3 = 0 THEN 'paid' ELSE 'pending' END,
                now() - i * interval '1 minute'
         FROM generate_series(1, 30) AS i",
    )
    .execute(&a.pool)
    .await
    .expect("seed orders");

    // More rows than one 64 KiB chunk: the export streams them all.
    let (st, ctype, text) = a.text(a.request(Method::GET, "/users.csv", &owner)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(ctype.starts_with("text/csv"));
    let users = csv_rows(&text);
    assert_eq!(users.len(), 1200);
    assert_eq!(users[0]["id"], "9001");
    assert_eq!(
        users[0]["first_name"], "User, \"9001\"",
        "quoted back intact"
    );
    let (_, _, one) = a
        .text(a.request(Method::GET, "/users.csv?q=9005", &owner))
        .await;
    assert_eq!(csv_rows(&one).len(), 1);

    let (st, _, text) = a
        .text(a.request(Method::GET, "/orders.csv?status=paid", &owner))
        .await;
    assert_eq!(st, StatusCode::OK);
    let paid = csv_rows(&text);
    assert_eq!(paid.len(), 10);
    assert!(
        paid.iter()
            .all(|o| o["status"] == "paid" && o["amount"] == "1.5")
    );
    // Newest first, like the list.
    let (_, page) = a
        .call(
            Method::GET,
            "/orders?status=paid&limit=10",
            Some(&owner),
            None,
        )
        .await;
    let listed: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    let exported: Vec<&str> = paid.iter().map(|o| o["id"].as_str()).collect();
    assert_eq!(listed, exported);
    let (st, _, _) = a
        .text(a.request(Method::GET, "/orders.csv?status=shipped", &owner))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    let (st, _, text) = a.text(a.request(Method::GET, "/audit.csv", &owner)).await;
    assert_eq!(st, StatusCode::OK);
    let audit = csv_rows(&text);
    assert!(
        audit.iter().any(|r| r["action"] == "auth.login"),
        "{audit:?}"
    );
    a.stop().await;
}

#[tokio::test]
async fn kpis_count_users_activity_sales_packs_and_what_followed_a_campaign() {
    let a = Admin::start().await;
    let owner = a.token(OWNER, OWNER_PW).await;
    // Three users joined two days ago, two today; one of the old ones came back today.
    sqlx::query(
        "INSERT INTO users (id, first_name, created_at, last_seen_at)
         SELECT id, 'U', now() - interval '2 days', now() - interval '2 days'
         FROM generate_series(1, 3) AS id",
    )
    .execute(&a.pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO users (id, first_name) VALUES (4, 'U'), (5, 'U')")
        .execute(&a.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE users SET last_seen_at = now() WHERE id = 1")
        .execute(&a.pool)
        .await
        .unwrap();
    // A campaign to everyone, through the API.
    let (st, draft) = a
        .call(
            Method::POST,
            "/campaigns",
            Some(&owner),
            Some(json!({"title": "Promo", "content": {"text": "Sale!"}, "audience": {"segment": "all"}})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{draft}");
    let id = draft["id"].as_str().unwrap().to_string();
    let (st, _) = a
        .call(
            Method::POST,
            &format!("/campaigns/{id}/start"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let events = watch(&a, &owner, &id).await;
    assert_eq!(events.last().unwrap()["progress"]["sent"], 5);
    // User 2 bought before the campaign, user 4 after it; user 5's order is unpaid.
    sqlx::query(
        "INSERT INTO orders (id, user_id, chat_id, stars, amount, currency, status, created_at, credited_at) VALUES
         (gen_random_uuid(), 2, 2, 100, 1.50, 'USDT', 'paid', now() - interval '2 days', now() - interval '2 days'),
         (gen_random_uuid(), 4, 4, 500, 7.50, 'USDT', 'paid', now(), now()),
         (gen_random_uuid(), 5, 5, 500, 7.50, 'USDT', 'pending', now(), NULL)",
    )
    .execute(&a.pool)
    .await
    .unwrap();

    let today: String = sqlx::query_scalar("SELECT ((now() AT TIME ZONE 'UTC')::date)::text")
        .fetch_one(&a.pool)
        .await
        .unwrap();
    let two_days_ago: String =
        sqlx::query_scalar("SELECT ((now() AT TIME ZONE 'UTC')::date - 2)::text")
            .fetch_one(&a.pool)
            .await
            .unwrap();
    let (st, k) = a
        .call(
            Method::GET,
            &format!("/kpis?from={two_days_ago}&to={today}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{k}");
    let days = k["days"].as_array().unwrap();
    assert_eq!(days.len(), 3, "every day listed, the empty one too: {k}");
    let day = |i: usize, f: &str| days[i][f].clone();
    assert_eq!(
        (
            day(0, "new_users"),
            day(0, "active_users"),
            day(0, "purchases")
        ),
        (json!(3), json!(3), json!(1))
    );
    assert_eq!(day(0, "revenue"), json!({"USDT": "1.5"}));
    assert_eq!(
        (day(1, "new_users"), day(1, "purchases")),
        (json!(0), json!(0))
    );
    assert_eq!(
        (
            day(2, "new_users"),
            day(2, "active_users"),
            day(2, "purchases")
        ),
        (json!(2), json!(3), json!(1))
    );
    assert_eq!(k["totals"]["revenue"], json!({"USDT": "9"}));
    assert_eq!(k["conversion"]["started"], 5);
    assert_eq!(k["conversion"]["bought"], 2);
    assert_eq!(k["conversion"]["rate"], 0.4);
    assert_eq!(
        k["packs"],
        json!([{"stars": 100, "orders": 1}, {"stars": 500, "orders": 1}])
    );
    let c = &k["campaigns"][0];
    assert_eq!(
        (c["id"].as_str(), c["sent"].as_i64()),
        (Some(id.as_str()), Some(5))
    );
    assert_eq!(
        c["purchases_24h"], 1,
        "only the purchase after the message counts"
    );
    assert_eq!(c["revenue_24h"], json!({"USDT": "7.5"}));

    for bad in [
        "from=yesterday",
        "from=2026-12-05&to=2026-12-01",
        "from=2020-01-01&to=2026-01-01",
        "days=3",
    ] {
        let (st, reply) = a
            .call(Method::GET, &format!("/kpis?{bad}"), Some(&owner), None)
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}: {reply}");
    }
    a.stop().await;
}

#[tokio::test]
async fn a_photo_uploaded_through_the_api_goes_out_as_the_campaigns_media() {
    let a = Admin::start().await;
    let owner = a.token(OWNER, OWNER_PW).await;
    seed_users(&a, 7501, 3).await;
    let upload = |query: &str, body: &'static [u8]| {
        a.text(
            a.request(Method::POST, &format!("/media{query}"), &owner)
                .header("content-type", "application/octet-stream")
                .body(body),
        )
    };
    // Refusals first: nothing is sent for them.
    for (query, body, why) in [
        ("?kind=gif&chat_id=900123", &b"GIF89a"[..], "gif"),
        ("?kind=photo", &b"x"[..], "chat_id"),
        ("?kind=photo&chat_id=900123", &b""[..], "empty"),
    ] {
        let (st, _, reply) = upload(query, body).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{query}: {reply}");
        assert!(reply.contains(why), "{query}: {reply} should say {why}");
    }
    assert!(a.tg.calls_to("sendPhoto").is_empty());

    let (st, _, reply) = upload(
        "?kind=photo&chat_id=900123&name=sale.png",
        b"\x89PNG\r\n\x1a\n not really an image",
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{reply}");
    let file_id = serde_json::from_str::<Value>(&reply).unwrap()["file_id"]
        .as_str()
        .unwrap()
        .to_string();
    let sent = a.tg.calls_to("sendPhoto");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].chat_id(),
        Some(900_123),
        "the file went to the admin's chat first"
    );

    let (st, draft) = a
        .call(
            Method::POST,
            "/campaigns",
            Some(&owner),
            Some(json!({
                "content": {"media": {"kind": "photo", "file_id": file_id, "caption": "<b>New</b> pack, {first_name}"}},
                "audience": {"segment": "all"},
            })),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{draft}");
    let id = draft["id"].as_str().unwrap().to_string();
    let (st, _) = a
        .call(
            Method::POST,
            &format!("/campaigns/{id}/start"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let events = watch(&a, &owner, &id).await;
    assert_eq!(events.last().unwrap()["progress"]["sent"], 3);
    for user in 7501..=7503 {
        let got = a.tg.messages_to(user);
        assert_eq!(got.len(), 1, "{user}");
        assert_eq!(got[0].method, "sendPhoto");
        assert_eq!(
            got[0].params["photo"], file_id,
            "the uploaded file, by its id"
        );
        assert_eq!(
            got[0].params["caption"],
            format!("<b>New</b> pack, User, &quot;{user}&quot;")
        );
    }
    assert!(
        a.audit_actions()
            .await
            .contains(&"media.upload".to_string())
    );
    a.stop().await;
}
