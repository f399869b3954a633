//! The console in a real browser (headless Chromium on a phone-sized
//! screen): sign in through the form, see the dashboard's charts, compose a
//! campaign with the live preview, count its audience, create it, start it
//! and watch the progress arrive by server-sent events until every
//! subscriber has it, then find a customer and open their orders. A
//! screenshot of each step is kept in `.scratch/artifacts/console/`. This is
//! the test of `static/console.js`; `admin_console.rs` covers the server side.

use crate::admin::{Admin, OWNER, OWNER_PW};
use std::path::PathBuf;
use std::time::Duration;
use testkit::browser::Browser;

/// Where the screenshots go (kept after the run, ignored by git).
fn shot(name: &str) -> PathBuf {
    testkit::repo_root()
        .join(".scratch/artifacts/console")
        .join(format!("{name}.png"))
}

#[tokio::test]
async fn an_operator_on_a_phone_signs_in_composes_starts_and_watches_a_campaign() {
    let a = Admin::start().await;
    sqlx::query(
        "INSERT INTO users (id, first_name, language_code)
         SELECT id, 'User' || id, 'en' FROM generate_series(3001, 3030) AS id",
    )
    .execute(&a.pool)
    .await
    .unwrap();
    sqlx::raw_sql(
        "UPDATE users SET username = 'vera_k', first_name = 'Vera' WHERE id = 3007;
         INSERT INTO orders (id, user_id, chat_id, stars, amount, currency, status, credited_at)
         VALUES ('00000000-0000-4000-8000-000000003007', 3007, 3007, 500, 7.5, 'USDT', 'paid', now());
         INSERT INTO ledger (user_id, order_id, delta, reason)
         VALUES (3007, '00000000-0000-4000-8000-000000003007', 500, 'purchase')",
    )
    .execute(&a.pool)
    .await
    .unwrap();
    let b = Browser::start(390, 844).await.expect("headless chromium");
    let base = a.base();
    let wait = Duration::from_secs(20);

    b.goto(&format!("{base}/admin/")).await.unwrap();
    assert!(
        b.url().await.unwrap().ends_with("/admin/login"),
        "signed out → the form"
    );
    b.type_into("input[name=login]", OWNER).await.unwrap();
    b.type_into("input[name=password]", OWNER_PW).await.unwrap();
    b.click("form button[type=submit]").await.unwrap();
    b.wait_for("return location.pathname === '/admin/'", wait)
        .await
        .expect("signed in, on the dashboard");
    assert_eq!(b.text("h1").await.unwrap(), "Dashboard");
    // The charts are drawn: three, with bars of a visible size.
    let charts = b
        .eval(
            "const svgs = [...document.querySelectorAll('figure.chart svg')];
             return [svgs.length, svgs.every(s => s.getBoundingClientRect().height > 50),
                     document.querySelectorAll('figure.chart rect').length > 0]",
        )
        .await
        .unwrap();
    assert_eq!(charts, serde_json::json!([3, true, true]));
    b.screenshot(&shot("01-dashboard")).await.unwrap();
    let fits = b
        .eval("return document.documentElement.scrollWidth <= window.innerWidth")
        .await
        .unwrap();
    assert_eq!(fits, true, "the dashboard fits a phone's width");

    b.goto(&format!("{base}/admin/campaigns/new"))
        .await
        .unwrap();
    // A picture from the phone: uploaded to the admin's own chat for its file_id.
    b.type_into("input[name=media_chat]", "900001")
        .await
        .unwrap();
    b.type_into(
        "input[name=media_file]",
        shot("01-dashboard").to_str().unwrap(),
    )
    .await
    .unwrap();
    b.wait_for(
        "return document.querySelector('input[name=file_id]').value.length > 10
             && document.getElementById('media-status').textContent === 'uploaded'",
        wait,
    )
    .await
    .expect("the file uploaded and its file_id filled in");
    let photos = a.tg.calls_to("sendPhoto");
    assert_eq!(photos.len(), 1);
    assert_eq!(photos[0].chat_id(), Some(900_001));
    // This campaign is text after all.
    b.clear("input[name=file_id]").await.unwrap();
    b.type_into("input[name=title]", "Phone sale")
        .await
        .unwrap();
    let html = "<b>Big</b> sale, {first_name}! <img src=x onerror=\"window.pwned=1\">";
    b.type_into("textarea[name=text]", html).await.unwrap();
    b.type_into("textarea[name=buttons]", "Shop - https://example.com/shop")
        .await
        .unwrap();
    // The preview renders Telegram's tags and nothing else.
    b.wait_for(
        "const p = document.getElementById('preview');
         return p.querySelector('b')?.textContent === 'Big' && p.textContent.includes('sale, Ann!')",
        wait,
    )
    .await
    .expect("a live preview");
    let unsafe_bits = b
        .eval(
            "const p = document.getElementById('preview');
             return [p.querySelectorAll('img').length, window.pwned === undefined, p.querySelector('.tg-button')?.textContent]",
        )
        .await
        .unwrap();
    assert_eq!(unsafe_bits, serde_json::json!([0, true, "Shop"]));
    b.screenshot(&shot("02-compose-preview")).await.unwrap();
    b.click("#count").await.unwrap();
    b.wait_for(
        "return document.getElementById('recipients').textContent === '30 recipients'",
        wait,
    )
    .await
    .expect("the audience counted");
    // Telegram would refuse the <img>: the service says so before anything is stored.
    b.click("#compose button[type=submit]").await.unwrap();
    b.wait_for(
        "const p = document.getElementById('problem'); return !p.hidden && p.textContent.includes('<img>')",
        wait,
    )
    .await
    .expect("the refusal, with its reason, on the page");
    assert_eq!(a.campaigns().await, 0, "a refused campaign is not stored");
    b.screenshot(&shot("03-refused")).await.unwrap();
    b.clear("textarea[name=text]").await.unwrap();
    b.type_into("textarea[name=text]", "<b>Big</b> sale, {first_name}!")
        .await
        .unwrap();
    b.click("#compose button[type=submit]").await.unwrap();
    let created = b
        .wait_for(
            "return /^\\/admin\\/campaigns\\/[0-9a-f-]{36}$/.test(location.pathname)",
            wait,
        )
        .await;
    if let Err(e) = created {
        let problem = b.text("#problem").await.unwrap_or_default();
        panic!("the draft's page: {e}; the page says {problem:?}");
    }
    assert_eq!(b.text("[data-field=status]").await.unwrap(), "draft");
    assert!(
        a.tg.calls_to("sendMessage").is_empty(),
        "a draft sends nothing"
    );

    b.click("button[data-action=start]").await.unwrap();
    b.wait_for(
        "return document.querySelector('[data-field=status]').textContent === 'done'
             && document.querySelector('[data-field=sent]').textContent === '30'",
        Duration::from_secs(30),
    )
    .await
    .expect("the progress followed live to the end");
    let bar = b
        .eval("const p = document.querySelector('progress'); return [p.value, p.max]")
        .await
        .unwrap();
    assert_eq!(bar, serde_json::json!([30, 30]), "100 %");
    b.screenshot(&shot("04-campaign-done")).await.unwrap();
    for user in 3001..=3030 {
        let got = a.tg.messages_to(user);
        assert_eq!(got.len(), 1, "user {user} got it once");
        let text = got[0].params["text"].as_str().unwrap();
        let name = if user == 3007 {
            "Vera".to_string()
        } else {
            format!("User{user}")
        };
        assert!(
            text.starts_with(&format!("<b>Big</b> sale, {name}!")),
            "{text}"
        );
    }

    // Find a customer by username, open them, see their order.
    b.goto(&format!("{base}/admin/customers")).await.unwrap();
    b.type_into("input[name=q]", "@vera").await.unwrap();
    b.click("form.filters button[type=submit]").await.unwrap();
    b.wait_for("return location.search.includes('q=%40vera')", wait)
        .await
        .expect("the search ran");
    let rows = b
        .eval("return document.querySelectorAll('tbody tr').length")
        .await
        .unwrap();
    assert_eq!(rows, 1, "one customer matches");
    b.screenshot(&shot("05-customer-search")).await.unwrap();
    b.click("tbody tr td a").await.unwrap();
    b.wait_for("return location.pathname === '/admin/customers/3007'", wait)
        .await
        .expect("the customer's page");
    let page = b.text("main").await.unwrap();
    assert!(page.contains("Vera") && page.contains("500 ★"), "{page}");
    assert!(
        page.contains("00000000-0000-4000-8000-000000003007"),
        "their order: {page}"
    );
    b.screenshot(&shot("06-customer")).await.unwrap();

    b.click("#sign-out").await.unwrap();
    b.wait_for("return location.pathname === '/admin/login'", wait)
        .await
        .expect("signed out");
    b.goto(&format!("{base}/admin/")).await.unwrap();
    assert!(
        b.url().await.unwrap().ends_with("/admin/login"),
        "the session is over"
    );
    b.quit().await;
    a.stop().await;
}
