//! `sandbox simulate`: a customer typing to the bot (or pressing a button) through the running
//! fake Telegram, then printing what they would see.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};

pub struct Args {
    telegram: String,
    user_id: i64,
    first_name: String,
    lang: String,
    text: String,
    press: Option<String>,
    message_id: Option<i64>,
    timeout: Duration,
    /// `--purchase STARS`: the whole purchase, paid through the fake Heleket.
    purchase: Option<i64>,
    /// `--broadcast N`: N subscribers start the bot, then the user (an admin)
    /// sends them a campaign through the bot's dialog and watches its progress.
    broadcast: Option<i64>,
    heleket: String,
}

impl Args {
    pub fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut parsed = Args {
            telegram: std::env::var("SANDBOX_TELEGRAM_URL")
                .unwrap_or_else(|_| "http://127.0.0.1:8091".into()),
            user_id: 1001,
            first_name: "Alice".into(),
            lang: "en".into(),
            text: "/start".into(),
            press: None,
            message_id: None,
            timeout: Duration::from_secs(15),
            purchase: None,
            broadcast: None,
            heleket: std::env::var("SANDBOX_HELEKET_URL")
                .unwrap_or_else(|_| "http://127.0.0.1:8092".into()),
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| anyhow!("{flag} needs a value"))
            };
            match flag.as_str() {
                "--telegram" => parsed.telegram = value()?,
                "--user-id" => parsed.user_id = value()?.parse().context("--user-id")?,
                "--first-name" => parsed.first_name = value()?,
                "--lang" => parsed.lang = value()?,
                "--text" => parsed.text = value()?,
                "--press" => parsed.press = Some(value()?),
                "--message-id" => {
                    parsed.message_id = Some(value()?.parse().context("--message-id")?)
                }
                "--purchase" => parsed.purchase = Some(value()?.parse().context("--purchase")?),
                "--heleket" => parsed.heleket = value()?,
                "--broadcast" => parsed.broadcast = Some(value()?.parse().context("--broadcast")?),
                "--timeout" => {
                    parsed.timeout = Duration::from_secs(value()?.parse().context("--timeout")?)
                }
                other => bail!("unknown argument {other:?} (see `sandbox --help`)"),
            }
        }
        parsed.telegram = parsed.telegram.trim_end_matches('/').to_owned();
        parsed.heleket = parsed.heleket.trim_end_matches('/').to_owned();
        if parsed.press.is_some() && parsed.message_id.is_none() {
            bail!("--press needs --message-id (the id printed under the bot's message)");
        }
        Ok(parsed)
    }
}

/// One thing the customer does.
enum Action<'a> {
    Send(&'a str),
    Press { message_id: i64, data: &'a str },
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .build()?;
    if let Some(stars) = args.purchase {
        return purchase(&client, &args, stars).await;
    }
    if let Some(subscribers) = args.broadcast {
        return broadcast(&client, &args, subscribers).await;
    }
    let action = match (&args.press, args.message_id) {
        (Some(data), Some(message_id)) => Action::Press { message_id, data },
        _ => Action::Send(&args.text),
    };
    for call in &act(&client, &args, action).await? {
        print_call(call);
    }
    Ok(())
}

/// The whole purchase a customer makes: menu, pack, pay, confirmation, balance.
async fn purchase(client: &reqwest::Client, args: &Args, stars: i64) -> anyhow::Result<()> {
    let show = |calls: &[Value]| calls.iter().for_each(print_call);
    let welcome = act(client, args, Action::Send("/start")).await?;
    show(&welcome);
    let menu = message_with_button(&welcome, |d| d == "menu:buy")
        .context("the welcome has no \"buy\" button")?;
    let packs = act(
        client,
        args,
        Action::Press {
            message_id: menu.0,
            data: "menu:buy",
        },
    )
    .await?;
    show(&packs);
    let pack_data = format!("buy:{stars}");
    let pack = message_with_button(&packs, |d| d == pack_data)
        .with_context(|| format!("no {stars}-star pack in the menu"))?;
    let order = act(
        client,
        args,
        Action::Press {
            message_id: pack.0,
            data: &pack_data,
        },
    )
    .await?;
    show(&order);
    let (_, check) = message_with_button(&order, |d| d.starts_with("chk:"))
        .context("no order came back (see the bot's reply above)")?;
    let order_id = check.trim_start_matches("chk:").to_owned();

    println!(
        "\n💸 The customer pays order {order_id} on Heleket's page (fake Heleket marks it paid and calls back)…"
    );
    let seen = calls_to(client, args).await?.len();
    let paid = client
        .post(format!("{}/_sandbox/pay", args.heleket))
        .json(&json!({ "order_id": order_id, "status": "paid" }))
        .send()
        .await
        .with_context(|| format!("cannot reach the fake Heleket at {}", args.heleket))?;
    if !paid.status().is_success() {
        bail!(
            "the fake Heleket refused to pay: HTTP {} {}",
            paid.status(),
            paid.text().await.unwrap_or_default()
        );
    }
    let confirmation = wait_for_replies(client, args, &calls_url(args), seen, None).await?;
    show(&confirmation);
    if !confirmation.iter().any(|c| {
        c["params"]["text"]
            .as_str()
            .is_some_and(|t| t.contains('⭐'))
    }) {
        bail!("the customer was not told about the payment");
    }
    show(&act(client, args, Action::Send("/balance")).await?);
    Ok(())
}

/// An admin's campaign, as a person would send it: subscribers start the bot, then the admin
/// walks the /broadcast dialog (content, no extra buttons, an unsubscribe button, everyone,
/// now, confirm) and watches the progress message update until the summary.
async fn broadcast(client: &reqwest::Client, args: &Args, subscribers: i64) -> anyhow::Result<()> {
    println!("\n👥 {subscribers} subscribers (ids 20001…) start the bot…");
    let ids: Vec<i64> = (20_001..20_001 + subscribers).collect();
    for chunk in ids.chunks(25) {
        let mut sends = tokio::task::JoinSet::new();
        for id in chunk {
            let request = client
                .post(format!("{}/_sandbox/users/{id}/send", args.telegram))
                .json(&json!({"text": "/start", "first_name": format!("Fan{id}"), "language_code": "en"}));
            sends.spawn(request.send());
        }
        while let Some(r) = sends.join_next().await {
            r?.context("cannot reach the fake Telegram")?
                .error_for_status()
                .context("a subscriber's /start was refused")?;
        }
    }
    let step = |calls: &[Value], data: &str| {
        message_with_button(calls, |d| d.starts_with(data))
            .with_context(|| format!("the bot showed no {data:?} button (see its reply above)"))
    };
    let show = |calls: &[Value]| calls.iter().for_each(print_call);
    // The admin uses the bot like anyone (the preview fills in their own name).
    act(client, args, Action::Send("/start")).await?;
    let mut calls = act(client, args, Action::Send("/broadcast")).await?;
    show(&calls);
    calls = act(
        client,
        args,
        Action::Send("Hello {first_name}! Our <b>weekend sale</b> starts now: 20% more stars."),
    )
    .await?;
    show(&calls);
    for data in [
        "bcd:skip",
        "bcd:unsub:yes",
        "bcd:aud:all",
        "bcd:when:now",
        "bcd:ok:",
    ] {
        let (message_id, data) = step(&calls, data)?;
        calls = act(
            client,
            args,
            Action::Press {
                message_id,
                data: &data,
            },
        )
        .await?;
        show(&calls);
    }
    println!("\n📣 The campaign runs; its progress message updates in place:");
    let deadline = tokio::time::Instant::now()
        + Duration::from_secs(60 + u64::try_from(subscribers).unwrap_or(0) / 20);
    let mut last = String::new();
    loop {
        let progress = calls_to(client, args)
            .await?
            .into_iter()
            .filter(|c| c["status"] == 200)
            .filter_map(|c| c["params"]["text"].as_str().map(str::to_owned))
            .rfind(|t| t.starts_with('📣'));
        if let Some(text) = progress.filter(|t| *t != last) {
            println!(
                "bot (progress) › {}",
                strip_html(&text).replace('\n', "\n      ")
            );
            if text.contains("finished") || text.contains("завершена") {
                return Ok(());
            }
            last = text;
        }
        if tokio::time::Instant::now() > deadline {
            bail!("the campaign did not finish in time; see the broadcast service's log");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The id of the first message with a button whose data matches, and that data.
fn message_with_button(calls: &[Value], want: impl Fn(&str) -> bool) -> Option<(i64, String)> {
    calls.iter().find_map(|c| {
        let id = c["response"]["result"]["message_id"].as_i64()?;
        c["params"]["reply_markup"]["inline_keyboard"]
            .as_array()?
            .iter()
            .flat_map(|row| row.as_array().cloned().unwrap_or_default())
            .find_map(|b| {
                b["callback_data"]
                    .as_str()
                    .filter(|d| want(d))
                    .map(|d| (id, d.to_owned()))
            })
    })
}

fn calls_url(args: &Args) -> String {
    format!("{}/_sandbox/calls?chat_id={}", args.telegram, args.user_id)
}

async fn calls_to(client: &reqwest::Client, args: &Args) -> anyhow::Result<Vec<Value>> {
    Ok(get_json(client, &calls_url(args))
        .await?
        .as_array()
        .cloned()
        .unwrap_or_default())
}

/// Does one thing as the customer and returns what the bot showed in response.
async fn act(
    client: &reqwest::Client,
    args: &Args,
    action: Action<'_>,
) -> anyhow::Result<Vec<Value>> {
    let seen = calls_to(client, args).await?.len();
    let (path, body, said) = match action {
        Action::Press { message_id, data } => (
            "press",
            json!({"message_id": message_id, "data": data,
                   "first_name": args.first_name, "language_code": args.lang}),
            format!("presses the button {data:?} under message {message_id}"),
        ),
        Action::Send(text) => (
            "send",
            json!({"text": text, "first_name": args.first_name, "language_code": args.lang}),
            format!("› {text}"),
        ),
    };
    println!("\n{} (id {}) {said}", args.first_name, args.user_id);
    let url = format!("{}/_sandbox/users/{}/{path}", args.telegram, args.user_id);
    let response = client
        .post(&url)
        .json(&body)
        .send()
        .await
        .with_context(|| {
            format!(
                "cannot reach the fake Telegram at {} (is `sandbox serve` running?)",
                args.telegram
            )
        })?;
    let status = response.status();
    let delivery: Value = response.json().await.unwrap_or(Value::Null);
    if status == reqwest::StatusCode::CONFLICT {
        bail!("the bot has not set a webhook on the fake Telegram yet (is the fleet running?)");
    }
    if !status.is_success() {
        bail!("the fake Telegram refused the update: HTTP {status} {delivery}");
    }
    if delivery["delivered"] != json!(true) {
        bail!(
            "the bot's webhook did not accept the update (attempt statuses {}, 0 = connection error)",
            delivery["attempts"]
        );
    }
    let callback_id = delivery["callback_query_id"].as_str().map(str::to_owned);
    wait_for_replies(client, args, &calls_url(args), seen, callback_id.as_deref()).await
}

async fn get_json(client: &reqwest::Client, url: &str) -> anyhow::Result<Value> {
    let response = client.get(url).send().await.with_context(|| {
        format!("cannot reach the fake Telegram at {url} (is `sandbox serve` running?)")
    })?;
    if !response.status().is_success() {
        bail!("GET {url} answered HTTP {}", response.status());
    }
    Ok(response.json().await?)
}

/// Polls until the bot has answered and then stayed quiet briefly, since one user action often
/// produces several messages (a greeting, then a menu).
async fn wait_for_replies(
    client: &reqwest::Client,
    args: &Args,
    calls_url: &str,
    seen: usize,
    callback_id: Option<&str>,
) -> anyhow::Result<Vec<Value>> {
    const QUIET: Duration = Duration::from_millis(800);
    let deadline = tokio::time::Instant::now() + args.timeout;
    let mut last_count = 0;
    let mut quiet_since = tokio::time::Instant::now();
    loop {
        let mut replies: Vec<Value> = get_json(client, calls_url)
            .await?
            .as_array()
            .map(|calls| {
                calls
                    .iter()
                    .skip(seen)
                    .filter(|c| is_visible(c))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if let Some(id) = callback_id {
            let answers = get_json(
                client,
                &format!(
                    "{}/_sandbox/calls?method=answerCallbackQuery",
                    args.telegram
                ),
            )
            .await?;
            replies.extend(
                answers
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|c| c["params"]["callback_query_id"].as_str() == Some(id))
                    .cloned(),
            );
        }
        let now = tokio::time::Instant::now();
        if replies.len() != last_count {
            last_count = replies.len();
            quiet_since = now;
        }
        if !replies.is_empty() && now.duration_since(quiet_since) >= QUIET {
            return Ok(replies);
        }
        if now >= deadline {
            if replies.is_empty() {
                bail!("no reply from the bot within {} s", args.timeout.as_secs());
            }
            return Ok(replies);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn is_visible(call: &Value) -> bool {
    let ok = call["status"]
        .as_u64()
        .is_some_and(|s| (200..300).contains(&s));
    let method = call["method"].as_str().unwrap_or("");
    ok && matches!(
        method,
        "sendMessage"
            | "sendPhoto"
            | "sendVideo"
            | "copyMessage"
            | "editMessageText"
            | "editMessageReplyMarkup"
    )
}

fn print_call(call: &Value) {
    let params = &call["params"];
    let method = call["method"].as_str().unwrap_or("");
    if method == "answerCallbackQuery" {
        if let Some(text) = params["text"].as_str().filter(|t| !t.is_empty()) {
            println!("bot (toast) › {text}");
        }
        return;
    }
    let message_id = call["response"]["result"]["message_id"]
        .as_i64()
        .or_else(|| params["message_id"].as_i64());
    let html = params["parse_mode"]
        .as_str()
        .is_some_and(|m| m.eq_ignore_ascii_case("html"));
    let body = match method {
        "sendPhoto" => format!("[photo] {}", params["caption"].as_str().unwrap_or("")),
        "sendVideo" => format!("[video] {}", params["caption"].as_str().unwrap_or("")),
        "copyMessage" => "[copied post]".to_owned(),
        "editMessageReplyMarkup" => "(buttons changed)".to_owned(),
        _ => params["text"].as_str().unwrap_or("").to_owned(),
    };
    let body = if html { strip_html(&body) } else { body };
    let label = if method.starts_with("edit") {
        "bot (edited)"
    } else {
        "bot"
    };
    let mut lines = body.lines();
    println!("{label} › {}", lines.next().unwrap_or(""));
    for line in lines {
        println!("      {line}");
    }
    let rows = params["reply_markup"]["inline_keyboard"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut actions = Vec::new();
    for row in &rows {
        let buttons: Vec<String> = row
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| {
                let text = b["text"].as_str().unwrap_or("?");
                if let Some(data) = b["callback_data"].as_str() {
                    actions.push(format!("{text:?} → --press {data}"));
                } else if let Some(url) = b["url"].as_str() {
                    actions.push(format!("{text:?} → opens {url}"));
                }
                format!("[ {text} ]")
            })
            .collect();
        println!("      {}", buttons.join(" "));
    }
    if let Some(id) = message_id {
        println!("      (message_id {id})");
    }
    for action in actions {
        println!("        {action}");
    }
}

/// What a Telegram client renders for parse_mode HTML: tags hidden, basic entities decoded.
fn strip_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}
