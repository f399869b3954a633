//! Telegram's parameter checks, answered with Telegram's own error descriptions.

use serde_json::Value;

use super::html;

pub(crate) const MAX_TEXT: usize = 4096;
pub(crate) const MAX_CAPTION: usize = 1024;
pub(crate) const MAX_CALLBACK_ANSWER: usize = 200;
const MAX_CALLBACK_DATA_BYTES: usize = 64;

/// A 400 description; the caller wraps it in Telegram's envelope.
pub(crate) type Invalid = String;

/// The text the user sees, whose length Telegram checks: after entity parsing, so HTML tags
/// don't count and `&amp;` is one character. Broken HTML is refused as Telegram refuses it.
pub(crate) fn visible_text(text: &str, parse_mode: Option<&str>) -> Result<String, Invalid> {
    match parse_mode.map(str::to_ascii_lowercase).as_deref() {
        Some("html") => html::plain_text(text)
            .map_err(|reason| format!("Bad Request: can't parse entities: {reason}")),
        Some("markdownv2") => Ok(markdown_v2_text(text)),
        // Legacy Markdown is approximated by the raw text.
        None | Some("" | "markdown") => Ok(text.to_owned()),
        Some(_) => Err("Bad Request: unsupported parse_mode".into()),
    }
}

/// Approximation: escapes become the escaped character and bare markers are dropped.
fn markdown_v2_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            '*' | '_' | '~' | '|' | '`' => {}
            _ => out.push(c),
        }
    }
    out
}

/// sendMessage / editMessageText `text`: 1..=4096 visible characters.
pub(crate) fn text(params: &Value) -> Result<String, Invalid> {
    let text = match params.get("text") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let visible = visible_text(&text, params.get("parse_mode").and_then(Value::as_str))?;
    if visible.trim().is_empty() {
        return Err("Bad Request: message text is empty".into());
    }
    if visible.chars().count() > MAX_TEXT {
        return Err("Bad Request: message is too long".into());
    }
    entities(params, "entities")?;
    Ok(text)
}

/// Optional caption: at most 1024 visible characters.
pub(crate) fn caption(params: &Value) -> Result<Option<String>, Invalid> {
    let Some(caption) = params.get("caption").and_then(Value::as_str) else {
        return Ok(None);
    };
    let visible = visible_text(caption, params.get("parse_mode").and_then(Value::as_str))?;
    if visible.chars().count() > MAX_CAPTION {
        return Err("Bad Request: message caption is too long".into());
    }
    entities(params, "caption_entities")?;
    Ok(Some(caption.to_owned()))
}

/// Explicit `entities` / `caption_entities`: each a known type with its required fields.
pub(crate) fn entities(params: &Value, field: &str) -> Result<(), Invalid> {
    let Some(list) = params.get(field).filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let Some(items) = list.as_array() else {
        return Err("Bad Request: expected an Array of MessageEntity".into());
    };
    items.iter().try_for_each(entity)
}

fn entity(item: &Value) -> Result<(), Invalid> {
    let refuse = |reason: &str| Err(format!("Bad Request: can't parse MessageEntity: {reason}"));
    let Some(obj) = item.as_object() else {
        return refuse("expected an Object");
    };
    let Some(kind) = obj.get("type").and_then(Value::as_str) else {
        return refuse("Can't find field \"type\"");
    };
    if !ENTITY_TYPES.contains(&kind) {
        return refuse("Unsupported type specified");
    }
    for field in ["offset", "length"] {
        if !obj.get(field).is_some_and(Value::is_i64) {
            return refuse(&format!("Can't find field \"{field}\""));
        }
    }
    let needs = match kind {
        "text_link" => Some("url"),
        "text_mention" => Some("user"),
        "custom_emoji" => Some("custom_emoji_id"),
        _ => None,
    };
    match needs {
        Some(field) if !obj.contains_key(field) => refuse(&format!("Can't find field \"{field}\"")),
        _ => Ok(()),
    }
}

const ENTITY_TYPES: &[&str] = &[
    "mention",
    "hashtag",
    "cashtag",
    "bot_command",
    "url",
    "email",
    "phone_number",
    "bold",
    "italic",
    "underline",
    "strikethrough",
    "spoiler",
    "blockquote",
    "expandable_blockquote",
    "code",
    "pre",
    "text_link",
    "text_mention",
    "custom_emoji",
    "date_time",
];

/// `reply_markup`; edits accept only inline keyboards.
pub(crate) fn reply_markup(markup: &Value, inline_only: bool) -> Result<(), Invalid> {
    let Some(obj) = markup.as_object() else {
        return Err("Bad Request: can't parse reply keyboard markup JSON object".into());
    };
    let Some(keyboard) = obj.get("inline_keyboard") else {
        if inline_only {
            return Err("Bad Request: inline keyboard expected".into());
        }
        return Ok(());
    };
    let Some(rows) = keyboard.as_array() else {
        return Err("Bad Request: field \"inline_keyboard\" must be an Array".into());
    };
    for row in rows {
        let Some(buttons) = row.as_array() else {
            return Err("Bad Request: can't parse inline keyboard button: InlineKeyboardButton must be an Array".into());
        };
        for button in buttons {
            inline_button(button)?;
        }
    }
    Ok(())
}

fn inline_button(button: &Value) -> Result<(), Invalid> {
    if button.get("text").and_then(Value::as_str).is_none() {
        return Err(
            "Bad Request: can't parse inline keyboard button: Field \"text\" must be of type String"
                .into(),
        );
    }
    if let Some(data) = button.get("callback_data") {
        let bytes = data.as_str().map_or(0, str::len);
        if !(1..=MAX_CALLBACK_DATA_BYTES).contains(&bytes) {
            return Err("Bad Request: BUTTON_DATA_INVALID".into());
        }
    }
    if let Some(url) = button.get("url") {
        let url = url.as_str().unwrap_or("");
        if let Err(reason) = button_url(url) {
            return Err(format!(
                "Bad Request: inline keyboard button URL '{url}' is invalid: {reason}"
            ));
        }
    }
    const ACTIONS: &[&str] = &[
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    ];
    if !ACTIONS.iter().any(|a| button.get(*a).is_some()) {
        return Err("Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard".into());
    }
    Ok(())
}

/// A button's link: http(s) with a host, or a tg:// link. (Telegram also takes a bare domain and
/// adds http://; the fake wants the scheme spelled out.)
fn button_url(url: &str) -> Result<(), &'static str> {
    let Some((scheme, rest)) = url.split_once(':') else {
        return Err("Wrong HTTP URL");
    };
    let scheme_chars = |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.');
    if scheme.is_empty() || !scheme.chars().all(scheme_chars) {
        return Err("Wrong HTTP URL");
    }
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "https" => {
            let host = rest.strip_prefix("//").unwrap_or("");
            let host = host.split(['/', '?', '#']).next().unwrap_or("");
            if host.is_empty() {
                return Err("Wrong HTTP URL");
            }
            Ok(())
        }
        "tg" if rest.len() > 2 && rest.starts_with("//") => Ok(()),
        "tg" => Err("Wrong tg URL"),
        _ => Err("Unsupported URL protocol"),
    }
}

/// setWebhook `secret_token`: 1..=256 of `A-Z a-z 0-9 _ -`.
pub(crate) fn secret_token(token: &str) -> Result<(), Invalid> {
    let allowed = token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if token.is_empty() || token.len() > 256 || !allowed {
        return Err("Bad Request: secret token contains unallowed characters".into());
    }
    Ok(())
}

/// Bot tokens look like `123456:AA-bb_CC`.
pub(crate) fn token_shape(token: &str) -> bool {
    let Some((id, secret)) = token.split_once(':') else {
        return false;
    };
    !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
        && !secret.is_empty()
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn html_visible_text_drops_tags_and_decodes_references() {
        assert_eq!(visible_text("<b>a&amp;b</b>", Some("HTML")).unwrap(), "a&b");
        assert_eq!(visible_text("x & y", Some("html")).unwrap(), "x & y");
        assert_eq!(
            visible_text("<b>a&amp;b</b>", None).unwrap(),
            "<b>a&amp;b</b>"
        );
        assert_eq!(
            visible_text("<b oops", Some("HTML")),
            Err(
                "Bad Request: can't parse entities: Unclosed start tag \"b\" at byte offset 0"
                    .to_owned()
            )
        );
        assert_eq!(
            visible_text("hi", Some("XML")),
            Err("Bad Request: unsupported parse_mode".to_owned())
        );
    }

    #[test]
    fn explicit_entities_need_a_known_type_and_their_fields() {
        let with = |entities: Value| json!({"text": "Big sale", "entities": entities});
        assert!(text(&with(json!([{"type": "bold", "offset": 0, "length": 3}]))).is_ok());
        assert_eq!(
            text(&with(json!([{"type": "shiny", "offset": 0, "length": 3}]))),
            Err("Bad Request: can't parse MessageEntity: Unsupported type specified".to_owned())
        );
        assert_eq!(
            text(&with(
                json!([{"type": "text_link", "offset": 0, "length": 3}])
            )),
            Err("Bad Request: can't parse MessageEntity: Can't find field \"url\"".to_owned())
        );
    }

    #[test]
    fn html_text_of_4096_visible_chars_is_accepted_even_with_tags() {
        let text = format!("<b>{}</b>", "&amp;".repeat(MAX_TEXT));
        assert!(super::text(&json!({"text": text, "parse_mode": "HTML"})).is_ok());
        let text = format!("<b>{}</b>", "x".repeat(MAX_TEXT + 1));
        assert_eq!(
            super::text(&json!({"text": text, "parse_mode": "HTML"})),
            Err("Bad Request: message is too long".to_owned())
        );
    }

    #[test]
    fn callback_data_is_limited_in_bytes_not_chars() {
        // 22 three-byte characters are 66 bytes although only 22 characters.
        let data = "⭐".repeat(22);
        let markup = json!({"inline_keyboard": [[{"text": "x", "callback_data": data}]]});
        assert_eq!(
            reply_markup(&markup, false),
            Err("Bad Request: BUTTON_DATA_INVALID".to_owned())
        );
        let markup = json!({"inline_keyboard": [[{"text": "x", "callback_data": "a".repeat(64)}]]});
        assert_eq!(reply_markup(&markup, false), Ok(()));
    }

    #[test]
    fn button_urls_need_http_or_tg() {
        let button = |url: &str| {
            let markup = json!({"inline_keyboard": [[{"text": "x", "url": url}]]});
            reply_markup(&markup, false)
        };
        assert_eq!(button("https://shop.example/a?b=1"), Ok(()));
        assert_eq!(button("tg://resolve?domain=shop"), Ok(()));
        assert_eq!(
            button("javascript:alert(1)"),
            Err("Bad Request: inline keyboard button URL 'javascript:alert(1)' is invalid: Unsupported URL protocol".to_owned())
        );
        assert_eq!(
            button("https://"),
            Err(
                "Bad Request: inline keyboard button URL 'https://' is invalid: Wrong HTTP URL"
                    .to_owned()
            )
        );
        assert!(button("shop").is_err());
        let empty = json!({"inline_keyboard": [[{"text": "x", "callback_data": ""}]]});
        assert_eq!(
            reply_markup(&empty, false),
            Err("Bad Request: BUTTON_DATA_INVALID".to_owned())
        );
    }

    #[test]
    fn token_shape_matches_telegram() {
        assert!(token_shape("123:ABC-def_9"));
        assert!(!token_shape("abc:def"));
        assert!(!token_shape("123:"));
        assert!(!token_shape("123:a b"));
    }
}
