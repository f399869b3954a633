//! Support's tools through the admin API: notes on a customer, and an open
//! order's payment link sent to the buyer again (admin → payments → the
//! sandbox's Telegram), refused for orders that are not open.

use crate::admin::{Admin, OWNER, OWNER_PW};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn support_notes_a_customer_and_resends_an_open_orders_pay_link_only() {
    let a = Admin::start().await;
    let owner = a.token(OWNER, OWNER_PW).await;
    let support = a.admin_with_role(&owner, "support").await;
    let marketing = a.admin_with_role(&owner, "marketing").await;
    sqlx::query("INSERT INTO users (id, first_name, language_code) VALUES (701, 'Olga', 'ru')")
        .execute(&a.pool)
        .await
        .unwrap();
    let open = "00000000-0000-4000-8000-000000000701";
    let expired = "00000000-0000-4000-8000-000000000702";
    let paid = "00000000-0000-4000-8000-000000000703";
    sqlx::query(
        "INSERT INTO orders (id, user_id, chat_id, stars, amount, currency, status, pay_url, expires_at, language, credited_at) VALUES
         ($1, 701, 701, 250, 3.75, 'USDT', 'pending', 'https://pay.heleket.test/inv/701', now() + interval '1 hour', 'ru', NULL),
         ($2, 701, 701, 100, 1.5, 'USDT', 'pending', 'https://pay.heleket.test/inv/702', now() - interval '1 minute', 'ru', NULL),
         ($3, 701, 701, 100, 1.5, 'USDT', 'paid', 'https://pay.heleket.test/inv/703', now() + interval '1 hour', 'ru', now())",
    )
    .bind(uuid::Uuid::parse_str(open).unwrap())
    .bind(uuid::Uuid::parse_str(expired).unwrap())
    .bind(uuid::Uuid::parse_str(paid).unwrap())
    .execute(&a.pool)
    .await
    .unwrap();

    // Notes: support writes, everyone who reads customers sees them.
    let (st, note) = a
        .call(
            Method::POST,
            "/users/701/notes",
            Some(&support),
            Some(json!({"text": "  Wrote in: the invoice page timed out.  "})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{note}");
    assert_eq!(note["body"], "Wrote in: the invoice page timed out.");
    assert_eq!(note["author"], "admin:2 support@shop");
    for (body, why) in [
        (json!({"text": "   "}), "empty"),
        (json!({"text": "x".repeat(2001)}), "too long"),
        (json!({"text": "hi", "pin": true}), "unknown field"),
    ] {
        let (st, _) = a
            .call(Method::POST, "/users/701/notes", Some(&support), Some(body))
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{why}");
    }
    let (st, _) = a
        .call(
            Method::POST,
            "/users/999/notes",
            Some(&support),
            Some(json!({"text": "who?"})),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = a
        .call(
            Method::POST,
            "/users/701/notes",
            Some(&marketing),
            Some(json!({"text": "x"})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, user) = a
        .call(Method::GET, "/users/701", Some(&marketing), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let notes = user["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{user}");

    // The open order's link goes to the buyer, in their language, with the button.
    let (st, sent) = a
        .call(
            Method::POST,
            &format!("/orders/{open}/resend-link"),
            Some(&support),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{sent}");
    let msgs = a.tg.messages_to(701);
    assert_eq!(msgs.len(), 1);
    let text = msgs[0].params["text"].as_str().unwrap();
    assert!(
        text.contains("Ссылка на оплату заказа 00000000") && text.contains("250 ⭐"),
        "{text}"
    );
    assert_eq!(
        msgs[0].params["reply_markup"]["inline_keyboard"][0][0]["url"],
        "https://pay.heleket.test/inv/701"
    );
    // Paid, expired, unknown, or asked by marketing: nothing more is sent.
    for (order, token, expected) in [
        (paid, &support, StatusCode::CONFLICT),
        (expired, &support, StatusCode::CONFLICT),
        (
            "00000000-0000-4000-8000-000000000799",
            &support,
            StatusCode::NOT_FOUND,
        ),
        (open, &marketing, StatusCode::FORBIDDEN),
    ] {
        let (st, reply) = a
            .call(
                Method::POST,
                &format!("/orders/{order}/resend-link"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(st, expected, "{order}: {reply}");
    }
    assert_eq!(a.tg.messages_to(701).len(), 1);
    let actions = a.audit_actions().await;
    let count = |name: &str| actions.iter().filter(|x| *x == name).count();
    assert_eq!((count("customer.note"), count("order.resend_link")), (1, 1));
    // The log is searchable by who and by what it was about, in the API and its CSV.
    let (st, by_support) = a
        .call(Method::GET, "/audit?actor=SUPPORT@", Some(&owner), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let actions: Vec<&str> = by_support["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["order.resend_link", "customer.note", "auth.login"]
    );
    let (_, about) = a
        .call(Method::GET, "/audit?target=user:701", Some(&owner), None)
        .await;
    assert_eq!(about["items"].as_array().unwrap().len(), 1, "{about}");
    let (st, _, csv) = a
        .text(a.request(Method::GET, &format!("/audit.csv?target={open}"), &owner))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(csv.lines().count(), 2, "a header and the one resend: {csv}");
    assert!(
        csv.contains("order.resend_link") && csv.contains(r#""{""status"":""pending""}""#),
        "{csv}"
    );
    let (st, _) = a
        .call(Method::GET, "/audit?who=me", Some(&owner), None)
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    a.stop().await;
}
