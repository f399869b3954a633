//! PLACEHOLDER until branch bc-content lands (same interface).
use proto::broadcast::Content;
use proto::broadcast::content::Body;
use serde_json::{Value, json};

pub struct Recipient<'a> {
    pub first_name: &'a str,
    pub username: Option<&'a str>,
    pub language: Option<&'a str>,
    pub balance: i64,
}

pub struct Outgoing {
    pub method: &'static str,
    pub params: Value,
}

pub fn validate(content: &Content) -> Result<(), String> {
    match &content.body {
        Some(Body::Text(t)) if !t.html.trim().is_empty() => Ok(()),
        Some(Body::Copy(c)) if c.message_id != 0 => Ok(()),
        _ => Err("empty".into()),
    }
}

pub fn render(content: &Content, r: &Recipient) -> Outgoing {
    match &content.body {
        Some(Body::Copy(c)) => Outgoing {
            method: "copyMessage",
            params: json!({"from_chat_id": c.from_chat_id, "message_id": c.message_id}),
        },
        Some(Body::Text(t)) => Outgoing {
            method: "sendMessage",
            params: json!({"text": t.html.replace("{first_name}", r.first_name), "parse_mode": "HTML"}),
        },
        _ => Outgoing {
            method: "sendMessage",
            params: json!({"text": "?"}),
        },
    }
}
