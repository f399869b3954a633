//! The web console at `/admin/` through nginx: sign-in by form with a
//! strict session cookie, pages per role, CSRF on every change, sign-out.
//! (The script itself runs in a real browser in `admin_browser.rs`.)

use crate::admin::{Admin, OWNER, OWNER_PW};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// A form's body, urlencoded as a browser sends it.
fn form(pairs: &[(&str, &str)]) -> String {
    let mut f = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        f.append_pair(k, v);
    }
    f.finish()
}

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in through the form; returns the `name=value` of the session cookie.
async fn sign_in(a: &Admin, login: &str, password: &str) -> String {
    let resp = browser()
        .post(format!("{}/admin/login", a.base()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("login", login), ("password", password)]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[LOCATION], "/admin/");
    let set = resp.headers()[SET_COOKIE].to_str().unwrap().to_string();
    set.split(';').next().unwrap().to_string()
}

async fn page(
    a: &Admin,
    cookie: Option<&str>,
    path: &str,
) -> (StatusCode, String, reqwest::header::HeaderMap) {
    let mut req = browser().get(format!("{}{path}", a.base()));
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    let resp = req.send().await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    (status, resp.text().await.unwrap(), headers)
}

/// The CSRF token a page carries for its script.
fn csrf_of(html: &str) -> String {
    let at = html
        .find(r#"name="csrf-token" content=""#)
        .expect("csrf meta tag")
        + 27;
    html[at..at + 64].to_string()
}

#[tokio::test]
async fn signing_in_by_form_sets_a_strict_cookie_and_each_role_sees_its_pages() {
    let a = Admin::start().await;
    // Signed out: every page sends you to the form.
    let (st, _, h) = page(&a, None, "/admin/").await;
    assert_eq!(
        (st, h[LOCATION].to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/admin/login")
    );
    let (st, login_page, _) = page(&a, None, "/admin/login").await;
    assert_eq!(st, StatusCode::OK);
    assert!(login_page.contains(r#"name="password" type="password""#));

    let wrong = browser()
        .post(format!("{}/admin/login", a.base()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("login", OWNER), ("password", "not the password")]))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get(SET_COOKIE).is_none());
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("Wrong login or password")
    );

    let resp = browser()
        .post(format!("{}/admin/login", a.base()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("login", OWNER), ("password", OWNER_PW)]))
        .send()
        .await
        .unwrap();
    let set = resp.headers()[SET_COOKIE].to_str().unwrap().to_string();
    for attr in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/admin",
        "Max-Age=",
    ] {
        assert!(set.contains(attr), "{attr} missing from {set}");
    }
    let owner = set.split(';').next().unwrap().to_string();

    sqlx::query(
        "INSERT INTO users (id, first_name, username) VALUES (601, '<script>alert(1)</script>', 'mallory')",
    )
    .execute(&a.pool)
    .await
    .unwrap();
    let (st, dash, h) = page(&a, Some(&owner), "/admin/").await;
    assert_eq!(st, StatusCode::OK);
    assert!(dash.contains("New users per day") && dash.contains("Start → purchase"));
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(h["cache-control"], "no-store");
    for path in [
        "/admin/campaigns",
        "/admin/campaigns/new",
        "/admin/customers",
        "/admin/orders",
        "/admin/audit",
        "/admin/admins",
        "/admin/customers/601",
    ] {
        let (st, body, _) = page(&a, Some(&owner), path).await;
        assert_eq!(st, StatusCode::OK, "{path}: {body}");
        assert!(
            !body.contains("<script>alert"),
            "{path} must escape what users typed"
        );
    }
    let (_, customers, _) = page(&a, Some(&owner), "/admin/customers?q=mall").await;
    assert!(
        customers.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{customers}"
    );
    // The API's docs page: rendered from the OpenAPI document, no script, no internet.
    let (st, docs, _) = page(&a, None, "/admin/api/docs").await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        docs.contains("<code>POST /campaigns</code>") && docs.contains("Roles: owner, marketing")
    );
    assert_eq!(
        docs.matches("<script").count(),
        1,
        "only our own script tag"
    );
    let (_, script, h) = page(&a, None, "/admin/static/console.js").await;
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(script.contains("x-csrf-token"));

    // A readonly admin: the menu and the server agree on what they may see.
    let token = a.token(OWNER, OWNER_PW).await;
    let (st, _) = a
        .call(
            Method::POST,
            "/admins",
            Some(&token),
            Some(json!({"login": "reader", "password": "reader-password-1", "role": "readonly"})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let reader = sign_in(&a, "reader", "reader-password-1").await;
    let (st, dash, _) = page(&a, Some(&reader), "/admin/").await;
    assert_eq!(st, StatusCode::OK);
    assert!(dash.contains(r#"href="/admin/orders""#));
    assert!(!dash.contains(r#"href="/admin/admins""#) && !dash.contains(r#"href="/admin/audit""#));
    for path in ["/admin/admins", "/admin/audit", "/admin/campaigns/new"] {
        let (st, body, _) = page(&a, Some(&reader), path).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{path}");
        assert!(body.contains("readonly role may not"), "{body}");
    }
    a.stop().await;
}

#[tokio::test]
async fn a_cookie_request_that_changes_anything_needs_the_pages_csrf_token() {
    let a = Admin::start().await;
    let cookie = sign_in(&a, OWNER, OWNER_PW).await;
    let (_, html, _) = page(&a, Some(&cookie), "/admin/campaigns/new").await;
    let csrf = csrf_of(&html);
    let campaign = json!({"content": {"text": "Hi"}, "audience": {"segment": "all"}});
    let post = |token: Option<String>| {
        let mut req = browser()
            .post(a.url("/campaigns"))
            .header(COOKIE, &cookie)
            .json(&campaign);
        if let Some(t) = token {
            req = req.header("x-csrf-token", t);
        }
        req.send()
    };
    // What a forged cross-site request can send: the cookie, no token.
    let resp = post(None).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.text().await.unwrap().contains("CSRF"));
    let resp = post(Some("0".repeat(64))).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM campaigns")
        .fetch_one(&a.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "refused requests stored nothing");
    // The page's own token works; reading needs none.
    let resp = post(Some(csrf.clone())).await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let list = browser()
        .get(a.url("/campaigns"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    // Another session's token is no good either.
    let other = sign_in(&a, OWNER, OWNER_PW).await;
    let (_, other_html, _) = page(&a, Some(&other), "/admin/").await;
    assert_ne!(csrf_of(&other_html), csrf);
    // Bearer clients are not cookie clients: no token needed.
    let token = a.token(OWNER, OWNER_PW).await;
    let (st, _) = a
        .call(
            Method::POST,
            "/campaigns",
            Some(&token),
            Some(campaign.clone()),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    // A sign-in form posted from another site is refused.
    let resp = browser()
        .post(format!("{}/admin/login", a.base()))
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("login", OWNER), ("password", OWNER_PW)]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.headers().get(SET_COOKIE).is_none());
    a.stop().await;
}

#[tokio::test]
async fn signing_out_ends_the_cookie_session_at_once() {
    let a = Admin::start().await;
    let cookie = sign_in(&a, OWNER, OWNER_PW).await;
    let (_, html, _) = page(&a, Some(&cookie), "/admin/").await;
    let csrf = csrf_of(&html);
    let out = |token: Option<&str>| {
        let mut req = browser()
            .post(format!("{}/admin/logout", a.base()))
            .header(COOKIE, &cookie);
        if let Some(t) = token {
            req = req.header("x-csrf-token", t);
        }
        req.send()
    };
    // Without the token a cross-site page could sign you out: refused.
    assert_eq!(out(None).await.unwrap().status(), StatusCode::FORBIDDEN);
    let (st, _, _) = page(&a, Some(&cookie), "/admin/").await;
    assert_eq!(st, StatusCode::OK, "still signed in");
    let resp = out(Some(&csrf)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(
        resp.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    // The old cookie is worthless now, for pages and the API alike.
    let (st, _, h) = page(&a, Some(&cookie), "/admin/").await;
    assert_eq!(
        (st, h[LOCATION].to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/admin/login")
    );
    let api = browser()
        .get(a.url("/me"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    assert!(a.audit_actions().await.contains(&"auth.logout".to_string()));
    a.stop().await;
}
