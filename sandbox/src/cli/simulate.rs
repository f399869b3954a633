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
                "--timeout" => {
                    parsed.timeout = Duration::from_secs(value()?.parse().context("--timeout")?)
                }
                other => bail!("unknown argument {other:?} (see `sandbox --help`)"),
            }
        }
        parsed.telegram = parsed.telegram.trim_end_matches('/').to_owned();
        if parsed.press.is_some() && parsed.message_id.is_none() {
            bail!("--press needs --message-id (the id printed under the bot's message)");
        }
        Ok(parsed)
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .build()?;
    let calls_url = format!("{}/_sandbox/calls?chat_id={}", args.telegram, args.user_id);
    let seen = get_json(&client, &calls_url)
        .await?
        .as_array()
        .map_or(0, Vec::len);

    let (path, body, said) = match &args.press {
        Some(data) => (
            "press",
            json!({"message_id": args.message_id, "data": data,
                   "first_name": args.first_name, "language_code": args.lang}),
            format!(
                "presses the button {data:?} under message {}",
                args.message_id.unwrap_or(0)
            ),
        ),
        None => (
            "send",
            json!({"text": args.text, "first_name": args.first_name, "language_code": args.lang}),
            format!("› {}", args.text),
        ),
    };
    println!("{} (id {}) {said}", args.first_name, args.user_id);
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
    let replies =
        wait_for_replies(&client, &args, &calls_url, seen, callback_id.as_deref()).await?;
    for call in &replies {
        print_call(call);
    }
    Ok(())
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
