//! One handler per console page. Each calls the JSON API's own handler for
//! its data (same queries, same role checks) and renders the answer.

use super::html::{self, bars, cell, esc, money, table};
use super::{PageError, PageResult, session_cookie};
use crate::app::AppState;
use crate::auth::{Address, Caller};
use crate::error::{ApiError, Params};
use crate::roles::Permission;
use crate::routes::{admins as admins_api, audit as audit_api, campaigns as campaigns_api};
use crate::routes::{auth as auth_api, customers as customers_api, kpis as kpis_api};
use axum::Form;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect};
use serde::Deserialize;
use serde_json::Value;
use std::fmt::Write;

type Viewer = Result<Caller, ApiError>;
type Query<T> = Result<Params<T>, ApiError>;

/// An API handler's answer as JSON, to render.
fn value<T: serde::Serialize>(t: T) -> Result<Value, PageError> {
    Ok(serde_json::to_value(t).map_err(anyhow::Error::from)?)
}

fn render(s: &AppState, caller: &Caller, title: &str, body: &str) -> PageResult {
    let csrf = s.keys.csrf_token(caller.session);
    Ok(Html(html::page(title, Some((caller, &csrf)), body)).into_response())
}

/// The query string with `key` set to `value` (for "next page" links).
fn with_param(raw: &Option<String>, key: &str, value: &str) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        if k != key {
            out.append_pair(&k, &v);
        }
    }
    out.append_pair(key, value);
    out.finish()
}

fn param(raw: &Option<String>, key: &str) -> String {
    form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn next_link(page: &Value, raw: &Option<String>, key: &str, path: &str) -> String {
    match &page["next"] {
        Value::Null => String::new(),
        next => {
            let v = match next {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!(
                r#"<p><a class="button" href="{path}?{}">Next page →</a></p>"#,
                esc(&with_param(raw, key, &v))
            )
        }
    }
}

// ---- sign-in ----

pub async fn login_form(viewer: Viewer) -> PageResult {
    if viewer.is_ok() {
        return Ok(Redirect::to("/admin/").into_response());
    }
    Ok(Html(login_page(None)).into_response())
}

fn login_page(problem: Option<&str>) -> String {
    let problem = problem
        .map(|p| format!(r#"<p class="error">{}</p>"#, esc(p)))
        .unwrap_or_default();
    html::page(
        "Sign in",
        None,
        &format!(
            r#"{problem}<form method="post" action="/admin/login" class="card narrow">
<label>Login <input name="login" autocomplete="username" required maxlength="64"></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required maxlength="256"></label>
<button type="submit">Sign in</button></form>"#
        ),
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    login: String,
    password: String,
}

/// A form posted from another site is refused: its Origin names another
/// host. Ports are not compared: nginx passes `Host` without one.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let hostname = |h: &str| -> String {
        let h = h.trim();
        match h.strip_prefix('[') {
            Some(v6) => v6
                .split(']')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase(),
            None => h.split(':').next().unwrap_or_default().to_ascii_lowercase(),
        }
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(hostname)
        .unwrap_or_default();
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| !host.is_empty() && hostname(rest) == host)
}

pub async fn login(
    State(s): State<AppState>,
    Address(ip): Address,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    if !same_origin(&headers) {
        return Err(ApiError::forbidden("a sign-in from another site").into());
    }
    let Ok(Form(f)) = form else {
        let page = login_page(Some("Give a login and a password."));
        return Ok((StatusCode::BAD_REQUEST, Html(page)).into_response());
    };
    match auth_api::sign_in(&s, ip, &f.login, f.password).await {
        Ok(ok) => {
            let cookie = session_cookie(Some(&ok.secret), s.cfg.auth.refresh_ttl.as_secs());
            Ok((
                StatusCode::SEE_OTHER,
                [
                    (header::SET_COOKIE, cookie),
                    (header::LOCATION, "/admin/".parse().expect("path")),
                ],
            )
                .into_response())
        }
        Err(ApiError::Service(runtime::ServiceError::Unauthorized)) => Ok((
            StatusCode::UNAUTHORIZED,
            Html(login_page(Some("Wrong login or password."))),
        )
            .into_response()),
        Err(ApiError::TooMany(msg, _)) => {
            Ok((StatusCode::TOO_MANY_REQUESTS, Html(login_page(Some(msg)))).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// Sent by the script with the CSRF token (the Caller extractor checks it).
pub async fn logout(State(s): State<AppState>, viewer: Viewer) -> PageResult {
    let caller = viewer?;
    auth_api::sign_out(&s, &caller).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, session_cookie(None, 0))],
    )
        .into_response())
}

// ---- dashboard ----

pub async fn dashboard(
    State(s): State<AppState>,
    viewer: Viewer,
    q: Query<kpis_api::Query>,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let caller = viewer?;
    let k = value(
        kpis_api::kpis(State(s.clone()), caller.clone(), q?)
            .await?
            .0,
    )?;
    let days = k["days"].as_array().cloned().unwrap_or_default();
    let series = |field: &str| -> Vec<(String, f64)> {
        days.iter()
            .map(|d| {
                let label = d["day"].as_str().unwrap_or_default().to_string();
                (label, d[field].as_f64().unwrap_or(0.0))
            })
            .collect()
    };
    let conv = &k["conversion"];
    let rate = conv["rate"].as_f64().unwrap_or(0.0) * 100.0;
    let mut body = format!(
        r#"<form method="get" class="filters"><label>From <input type="date" name="from" value="{}"></label>
<label>To <input type="date" name="to" value="{}"></label><button type="submit">Show</button>
<a href="/admin/api/v1/kpis?{}">JSON</a></form>
<div class="cards">
<div class="card"><span>New users</span><strong>{}</strong></div>
<div class="card"><span>Purchases</span><strong>{}</strong></div>
<div class="card"><span>Revenue</span><strong>{}</strong></div>
<div class="card"><span>Start → purchase</span><strong>{rate:.1} %</strong><small>{} of {}</small></div>
</div>"#,
        esc(k["from"].as_str().unwrap_or_default()),
        esc(k["to"].as_str().unwrap_or_default()),
        esc(raw.as_deref().unwrap_or("")),
        cell(&k["totals"]["new_users"]),
        cell(&k["totals"]["purchases"]),
        money(&k["totals"]["revenue"]),
        cell(&conv["bought"]),
        cell(&conv["started"]),
    );
    body.push_str("<div class=\"charts\">");
    body.push_str(&bars("New users per day", &series("new_users")));
    body.push_str(&bars("Active users per day", &series("active_users")));
    body.push_str(&bars("Purchases per day", &series("purchases")));
    body.push_str("</div><h2>Pack mix</h2>");
    let packs = k["packs"].as_array().cloned().unwrap_or_default();
    body.push_str(&table(
        &packs,
        &[("stars", "Stars"), ("orders", "Orders")],
        None,
    ));
    body.push_str("<h2>Campaigns</h2>");
    let mut campaigns = k["campaigns"].as_array().cloned().unwrap_or_default();
    for c in &mut campaigns {
        c["revenue_24h"] = Value::String(money(&c["revenue_24h"]));
    }
    let link = caller
        .role
        .may(Permission::ReadCampaigns)
        .then_some("/admin/campaigns/{}");
    body.push_str(&table(
        &campaigns,
        &[
            ("id", "Campaign"),
            ("title", "Title"),
            ("status", "Status"),
            ("recipients", "Recipients"),
            ("sent", "Sent"),
            ("failed", "Failed"),
            ("blocked", "Blocked"),
            ("purchases_24h", "Purchases ≤ 24 h"),
            ("revenue_24h", "Revenue ≤ 24 h"),
        ],
        link,
    ));
    render(&s, &caller, "Dashboard", &body)
}

// ---- campaigns ----

pub async fn campaigns(
    State(s): State<AppState>,
    viewer: Viewer,
    q: Query<campaigns_api::ListQuery>,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let caller = viewer?;
    let page = value(
        campaigns_api::list(State(s.clone()), caller.clone(), q?)
            .await?
            .0,
    )?;
    let mut rows = page["items"].as_array().cloned().unwrap_or_default();
    for r in &mut rows {
        for f in ["recipients", "sent", "failed", "blocked"] {
            r[f] = r["progress"][f].clone();
        }
    }
    let mut body = String::new();
    if caller.role.may(Permission::ManageCampaigns) {
        body.push_str(r#"<p><a class="button" href="/admin/campaigns/new">New campaign</a></p>"#);
    }
    body.push_str(&table(
        &rows,
        &[
            ("id", "Campaign"),
            ("title", "Title"),
            ("status", "Status"),
            ("recipients", "Recipients"),
            ("sent", "Sent"),
            ("failed", "Failed"),
            ("blocked", "Blocked"),
            ("created_at", "Created"),
        ],
        Some("/admin/campaigns/{}"),
    ));
    body.push_str(&next_link(&page, &raw, "before", "/admin/campaigns"));
    render(&s, &caller, "Campaigns", &body)
}

pub async fn new_campaign(State(s): State<AppState>, viewer: Viewer) -> PageResult {
    let caller = viewer?;
    caller.require(Permission::ManageCampaigns)?;
    let body = r#"<form id="compose" class="card">
<label>Title <input name="title" maxlength="200"></label>
<label>Message (Telegram HTML: &lt;b&gt; &lt;i&gt; &lt;u&gt; &lt;s&gt; &lt;a href&gt; &lt;code&gt; &lt;pre&gt;; variables {first_name} {username} {language} {balance})
<textarea name="text" rows="6"></textarea></label>
<fieldset><legend>Or a photo, video, document or animation (the text becomes its caption)</legend>
<select name="media_kind"><option value="photo">photo</option><option value="video">video</option><option value="document">document</option><option value="animation">animation</option></select>
<input name="media_chat" type="number" placeholder="your Telegram id (the file is sent to you)">
<input name="media_file" type="file"> <output id="media-status"></output>
<label>Its file_id (filled in by the upload, or a Telegram file_id or https URL)<input name="file_id"></label></fieldset>
<div class="preview"><span>Preview</span><div id="preview"></div></div>
<label>Buttons, one per line: <code>Text - https://…</code><textarea name="buttons" rows="3"></textarea></label>
<label><input type="checkbox" name="unsubscribe_button" checked> Unsubscribe button</label>
<fieldset><legend>Audience</legend>
<select name="segment"><option value="all">All subscribers</option><option value="buyers">Buyers</option>
<option value="non_buyers">Non-buyers</option><option value="language">By language</option>
<option value="active_within">Active within N days</option><option value="inactive_for">Not seen for N days</option>
<option value="user_ids">An uploaded list of user ids</option></select>
<input name="language" placeholder="language, e.g. en" maxlength="10">
<input name="days" type="number" min="1" max="3650" placeholder="days">
<input name="list" type="file" accept=".txt,.csv,text/plain,text/csv">
<button type="button" id="count">Count recipients</button> <output id="recipients"></output></fieldset>
<fieldset><legend>When</legend>
<select name="schedule"><option value="now">Now (after you start it)</option><option value="at">At a date and time</option><option value="recurring">Recurring</option></select>
<input name="at" placeholder="YYYY-MM-DD HH:MM"><input name="cron" placeholder="daily 09:00 / weekly mon 09:00 / cron">
<input name="timezone" placeholder="time zone, e.g. Europe/Berlin (default UTC)"></fieldset>
<label><input type="checkbox" name="paid"> Paid broadcast (up to 1000 messages/s, billed in Stars by Telegram)</label>
<p class="error" id="problem" hidden></p>
<button type="submit">Create draft</button></form>"#;
    render(&s, &caller, "New campaign", body)
}

pub async fn campaign(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(id): Path<uuid::Uuid>,
) -> PageResult {
    let caller = viewer?;
    let c = value(
        campaigns_api::get(State(s.clone()), caller.clone(), Path(id))
            .await?
            .0,
    )?;
    let p = &c["progress"];
    let status = c["status"].as_str().unwrap_or_default();
    let mut body = format!(
        r#"<section id="campaign" class="card" data-id="{id}" data-status="{}">
<p>Status: <strong data-field="status">{}</strong> · paid: {} · created {}</p>
<progress data-field="bar" max="{}" value="{}"></progress>
<div class="cards">"#,
        esc(status),
        esc(status),
        cell(&c["paid"]),
        cell(&c["created_at"]),
        p["recipients"].as_i64().unwrap_or(0).max(1),
        p["sent"].as_i64().unwrap_or(0)
            + p["failed"].as_i64().unwrap_or(0)
            + p["blocked"].as_i64().unwrap_or(0)
            + p["unknown"].as_i64().unwrap_or(0),
    );
    for (f, label) in [
        ("recipients", "Recipients"),
        ("sent", "Sent"),
        ("failed", "Failed"),
        ("blocked", "Blocked"),
        ("pending", "Pending"),
        ("unknown", "Unknown"),
        ("rate", "Messages/s"),
        ("eta_seconds", "ETA, s"),
    ] {
        let _ = write!(
            body,
            r#"<div class="card"><span>{label}</span><strong data-field="{f}">{}</strong></div>"#,
            cell(&p[f])
        );
    }
    body.push_str("</div>");
    if caller.role.may(Permission::ManageCampaigns) {
        body.push_str(
            r#"<p class="actions"><button type="button" data-action="start">Start</button>
<button type="button" data-action="pause">Pause</button><button type="button" data-action="resume">Resume</button>
<button type="button" data-action="cancel">Cancel</button></p>
<form id="preview-form" class="inline"><input name="chat_id" type="number" placeholder="your Telegram id" required>
<button type="submit">Send me a preview</button></form><p class="error" id="problem" hidden></p>"#,
        );
    }
    let _ = write!(
        body,
        r#"<p><a href="/admin/api/v1/campaigns/{id}/recipients.csv">Per-recipient results (CSV)</a></p></section>
<h2>Message</h2><pre class="message">{}</pre>"#,
        esc(&message_text(&c["content"])),
    );
    body.push_str("<h2>Failures by reason</h2>");
    let failures = c["failures"].as_array().cloned().unwrap_or_default();
    body.push_str(&table(
        &failures,
        &[("reason", "Reason"), ("count", "Recipients")],
        None,
    ));
    let title = match c["title"].as_str() {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => "Campaign".to_string(),
    };
    render(&s, &caller, &title, &body)
}

/// The content as its author wrote it (shown as text: it is one admin's
/// HTML, and another admin's browser must not run it).
fn message_text(content: &Value) -> String {
    let mut out = String::new();
    if let Some(t) = content["text"].as_str() {
        out.push_str(t);
    } else if let Some(m) = content["media"].as_object() {
        let _ = write!(
            out,
            "[{} {}]\n{}",
            m.get("kind").and_then(Value::as_str).unwrap_or_default(),
            m.get("file_id").and_then(Value::as_str).unwrap_or_default(),
            m.get("caption").and_then(Value::as_str).unwrap_or_default()
        );
    } else if let Some(c) = content["copy"].as_object() {
        let _ = write!(
            out,
            "[a copy of message {} from chat {}]",
            cell(&c["message_id"]),
            cell(&c["from_chat_id"])
        );
    }
    for b in content["buttons"].as_array().into_iter().flatten() {
        let _ = write!(
            out,
            "\n[{} → {}]",
            b["text"].as_str().unwrap_or_default(),
            b["url"].as_str().unwrap_or_default()
        );
    }
    out
}

// ---- customers and orders ----

pub async fn customers(
    State(s): State<AppState>,
    viewer: Viewer,
    q: Query<customers_api::UsersQuery>,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let caller = viewer?;
    let page = value(
        customers_api::users(State(s.clone()), caller.clone(), q?)
            .await?
            .0,
    )?;
    let term = param(&raw, "q");
    let mut body = format!(
        r#"<form method="get" class="filters"><input name="q" value="{}" placeholder="id, @username or name" maxlength="64">
<button type="submit">Search</button> <a href="/admin/api/v1/users.csv?q={}">CSV</a></form>"#,
        esc(&term),
        esc(&form_urlencoded::byte_serialize(term.as_bytes()).collect::<String>()),
    );
    let rows = page["items"].as_array().cloned().unwrap_or_default();
    body.push_str(&table(
        &rows,
        &[
            ("id", "Id"),
            ("first_name", "Name"),
            ("username", "Username"),
            ("language_code", "Language"),
            ("subscribed", "Subscribed"),
            ("reachable", "Reachable"),
            ("last_seen_at", "Last seen"),
        ],
        Some("/admin/customers/{}"),
    ));
    body.push_str(&next_link(&page, &raw, "after", "/admin/customers"));
    render(&s, &caller, "Customers", &body)
}

pub async fn customer(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> PageResult {
    let caller = viewer?;
    let v = value(
        customers_api::user(State(s.clone()), caller.clone(), Path(id))
            .await?
            .0,
    )?;
    let u = &v["user"];
    let mut body = String::from("<div class=\"scroll\"><table class=\"pairs\">");
    for (f, label) in [
        ("id", "Id"),
        ("first_name", "Name"),
        ("username", "Username"),
        ("language_code", "Language"),
        ("subscribed", "Subscribed to news"),
        ("reachable", "Reachable"),
        ("created_at", "Started"),
        ("last_seen_at", "Last seen"),
    ] {
        let _ = write!(body, "<tr><th>{label}</th><td>{}</td></tr>", cell(&u[f]));
    }
    let _ = write!(
        body,
        "<tr><th>Balance</th><td><strong>{} ★</strong></td></tr></table></div>",
        cell(&v["balance"])
    );
    let support = caller.role.may(Permission::SupportCustomers);
    body.push_str("<h2>Orders</h2>");
    let orders = v["orders"].as_array().cloned().unwrap_or_default();
    body.push_str(&order_table(&orders));
    if support {
        for o in orders
            .iter()
            .filter(|o| matches!(o["status"].as_str(), Some("new" | "pending")))
        {
            let _ = write!(
                body,
                r#"<p><button type="button" data-resend="{}">Send the payment link of order {} again</button></p>"#,
                cell(&o["id"]),
                esc(o["id"]
                    .as_str()
                    .unwrap_or_default()
                    .get(..8)
                    .unwrap_or_default()),
            );
        }
    }
    body.push_str("<h2>Notes</h2>");
    let notes = v["notes"].as_array().cloned().unwrap_or_default();
    body.push_str(&table(
        &notes,
        &[("created_at", "When"), ("author", "Who"), ("body", "Note")],
        None,
    ));
    if support {
        let _ = write!(
            body,
            r#"<form id="note-form" class="card" data-user="{id}"><label>A note for the team
<textarea name="text" rows="3" maxlength="{}" required></textarea></label><button type="submit">Add note</button></form>"#,
            crate::routes::support::MAX_NOTE_CHARS
        );
    }
    body.push_str(r#"<p class="error" id="problem" hidden></p><h2>Ledger</h2>"#);
    let ledger = v["ledger"].as_array().cloned().unwrap_or_default();
    body.push_str(&table(
        &ledger,
        &[
            ("created_at", "When"),
            ("delta", "Stars"),
            ("reason", "Reason"),
            ("order_id", "Order"),
        ],
        None,
    ));
    let name = u["first_name"].as_str().unwrap_or("Customer").to_string();
    render(&s, &caller, &name, &body)
}

fn order_table(rows: &[Value]) -> String {
    table(
        rows,
        &[
            ("created_at", "Created"),
            ("user_id", "User"),
            ("stars", "Stars"),
            ("amount", "Amount"),
            ("currency", "Currency"),
            ("status", "Status"),
            ("heleket_status", "Heleket"),
            ("credited_at", "Credited"),
            ("id", "Order"),
        ],
        None,
    )
}

pub async fn orders(
    State(s): State<AppState>,
    viewer: Viewer,
    q: Query<customers_api::OrdersQuery>,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let caller = viewer?;
    let page = value(
        customers_api::orders(State(s.clone()), caller.clone(), q?)
            .await?
            .0,
    )?;
    let status = param(&raw, "status");
    let mut options = String::from(r#"<option value="">any status</option>"#);
    for st in customers_api::STATUSES {
        let sel = if *st == status { " selected" } else { "" };
        let _ = write!(options, r#"<option{sel}>{st}</option>"#);
    }
    let mut export = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        if k != "after" && k != "limit" {
            export.append_pair(&k, &v);
        }
    }
    let mut body = format!(
        r#"<form method="get" class="filters"><select name="status">{options}</select>
<input name="user_id" type="number" placeholder="user id" value="{}"><button type="submit">Filter</button>
<a href="/admin/api/v1/orders.csv?{}">CSV</a></form>"#,
        esc(&param(&raw, "user_id")),
        esc(&export.finish()),
    );
    let rows = page["items"].as_array().cloned().unwrap_or_default();
    body.push_str(&order_table(&rows));
    body.push_str(&next_link(&page, &raw, "after", "/admin/orders"));
    render(&s, &caller, "Orders", &body)
}

// ---- audit and admins ----

pub async fn audit(
    State(s): State<AppState>,
    viewer: Viewer,
    q: Query<audit_api::Query>,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let caller = viewer?;
    let page = value(
        audit_api::list(State(s.clone()), caller.clone(), q?)
            .await?
            .0,
    )?;
    let mut export = form_urlencoded::Serializer::new(String::new());
    for key in ["action", "actor", "target"] {
        let v = param(&raw, key);
        if !v.is_empty() {
            export.append_pair(key, &v);
        }
    }
    let mut body = format!(
        r#"<form method="get" class="filters"><input name="action" value="{}" placeholder="action, e.g. campaign.start">
<input name="actor" value="{}" placeholder="who, e.g. alice"><input name="target" value="{}" placeholder="target, e.g. user:701">
<button type="submit">Search</button> <a href="/admin/api/v1/audit.csv?{}">CSV</a></form>"#,
        esc(&param(&raw, "action")),
        esc(&param(&raw, "actor")),
        esc(&param(&raw, "target")),
        esc(&export.finish()),
    );
    let mut rows = page["items"].as_array().cloned().unwrap_or_default();
    for r in &mut rows {
        r["details"] = Value::String(r["details"].to_string());
    }
    body.push_str(&table(
        &rows,
        &[
            ("at", "When"),
            ("actor", "Who"),
            ("action", "What"),
            ("target", "Target"),
            ("details", "Details"),
            ("address", "From"),
        ],
        None,
    ));
    body.push_str(&next_link(&page, &raw, "before", "/admin/audit"));
    render(&s, &caller, "Audit log", &body)
}

pub async fn admins(State(s): State<AppState>, viewer: Viewer) -> PageResult {
    let caller = viewer?;
    let list = admins_api::list(State(s.clone()), caller.clone()).await?.0;
    let roles = crate::roles::Role::ALL;
    let options = |current: crate::roles::Role| -> String {
        roles
            .iter()
            .map(|r| {
                let sel = if *r == current { " selected" } else { "" };
                format!(r#"<option{sel}>{r}</option>"#)
            })
            .collect()
    };
    let mut body = String::from(
        r#"<div class="scroll"><table><thead><tr><th>Login</th><th>Role</th><th>Since</th><th></th></tr></thead><tbody>"#,
    );
    for a in &list {
        let _ = write!(
            body,
            r#"<tr data-admin="{}"><td>{}</td><td><select name="role">{}</select></td><td>{}</td>
<td><button type="button" data-admin-action="save">Save role</button> <button type="button" data-admin-action="remove">Remove</button></td></tr>"#,
            a.id,
            esc(&a.login),
            options(a.role),
            esc(&a.created_at.to_string()),
        );
    }
    body.push_str("</tbody></table></div>");
    let _ = write!(
        body,
        r#"<h2>Invite an admin</h2><form id="invite" class="card narrow">
<label>Login <input name="login" required maxlength="64"></label>
<label>Password (at least {} characters) <input name="password" type="password" required minlength="{}" autocomplete="new-password"></label>
<label>Role <select name="role">{}</select></label><button type="submit">Invite</button></form>
<p class="error" id="problem" hidden></p>"#,
        crate::auth::MIN_PASSWORD,
        crate::auth::MIN_PASSWORD,
        options(crate::roles::Role::Readonly)
    );
    render(&s, &caller, "Admins", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_keep_the_filters_and_replace_the_cursor() {
        let raw = Some("status=paid&after=old&user_id=5".to_string());
        assert_eq!(
            with_param(&raw, "after", "1.x"),
            "status=paid&user_id=5&after=1.x"
        );
        assert_eq!(param(&raw, "status"), "paid");
        assert_eq!(param(&None, "q"), "");
    }

    #[test]
    fn only_a_form_from_our_own_origin_signs_in() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "shop.example:8443".parse().unwrap());
        assert!(same_origin(&h), "no Origin: a plain form post");
        h.insert(header::ORIGIN, "https://shop.example:8443".parse().unwrap());
        assert!(same_origin(&h));
        // nginx's $host has no port.
        h.insert(header::HOST, "shop.example".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(!same_origin(&h), "an opaque origin is another site");
        h.insert(
            header::ORIGIN,
            "https://shop.example.evil.example".parse().unwrap(),
        );
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!same_origin(&h));
    }

    #[test]
    fn a_message_is_shown_as_its_text_with_its_buttons() {
        let c = serde_json::json!({"text": "<b>Hi</b>", "buttons": [{"text": "Shop", "url": "https://a.io"}]});
        assert_eq!(message_text(&c), "<b>Hi</b>\n[Shop → https://a.io]");
    }
}
