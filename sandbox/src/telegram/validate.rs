//! Telegram's parameter checks, answered with Telegram's own error descriptions.

use serde_json::Value;

pub(crate) const MAX_TEXT: usize = 4096;
pub(crate) const MAX_CAPTION: usize = 1024;
pub(crate) const MAX_CALLBACK_ANSWER: usize = 200;
const MAX_CALLBACK_DATA_BYTES: usize = 64;

/// A 400 description; the caller wraps it in Telegram's envelope.
pub(crate) type Invalid = String;

/// Length Telegram checks: the text after entity parsing, so HTML tags don't count and an
/// entity like `&amp;` is one character.
pub(crate) fn visible_len(text: &str, parse_mode: Option<&str>) -> Result<usize, Invalid> {
    match parse_mode.map(str::to_ascii_lowercase).as_deref() {
        Some("html") => html_len(text),
        Some("markdownv2") => Ok(markdown_v2_len(text)),
        _ => Ok(text.chars().count()),
    }
}

fn html_len(text: &str) -> Result<usize, Invalid> {
    let mut len = 0;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => match rest.find('>') {
                Some(end) => rest = &rest[end + 1..],
                None => {
                    let offset = text.len() - rest.len();
                    return Err(format!(
                        "Bad Request: can't parse entities: Unclosed start tag at byte offset {offset}"
                    ));
                }
            },
            '&' => {
                len += 1;
                // A well-formed entity (`&amp;`, `&#39;`) renders as one character.
                let entity_end = rest[1..]
                    .char_indices()
                    .take(10)
                    .find(|(_, ch)| *ch == ';' || !(ch.is_ascii_alphanumeric() || *ch == '#'))
                    .filter(|(_, ch)| *ch == ';');
                rest = match entity_end {
                    Some((i, _)) => &rest[i + 2..],
                    None => &rest[1..],
                };
            }
            _ => {
                len += 1;
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    Ok(len)
}

/// Approximation: escapes count as the escaped character and bare markers are dropped.
fn markdown_v2_len(text: &str) -> usize {
    let mut len = 0;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if chars.next().is_some() {
                    len += 1;
                }
            }
            '*' | '_' | '~' | '|' | '`' => {}
            _ => len += 1,
        }
    }
    len
}

/// sendMessage / editMessageText `text`: 1..=4096 visible characters.
pub(crate) fn text(params: &Value) -> Result<String, Invalid> {
    let text = match params.get("text") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let len = visible_len(&text, params.get("parse_mode").and_then(Value::as_str))?;
    if len == 0 || text.trim().is_empty() {
        return Err("Bad Request: message text is empty".into());
    }
    if len > MAX_TEXT {
        return Err("Bad Request: message is too long".into());
    }
    Ok(text)
}

/// Optional caption: at most 1024 visible characters.
pub(crate) fn caption(params: &Value) -> Result<Option<String>, Invalid> {
    let Some(caption) = params.get("caption").and_then(Value::as_str) else {
        return Ok(None);
    };
    let len = visible_len(caption, params.get("parse_mode").and_then(Value::as_str))?;
    if len > MAX_CAPTION {
        return Err("Bad Request: message caption is too long".into());
    }
    Ok(Some(caption.to_owned()))
}

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
        let known_scheme = ["http://", "https://", "tg://"]
            .iter()
            .any(|s| url.starts_with(s) && url.len() > s.len());
        if !known_scheme {
            return Err("Bad Request: BUTTON_URL_INVALID".into());
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
    fn html_length_ignores_tags_and_counts_entities_once() {
        assert_eq!(visible_len("<b>a&amp;b</b>", Some("HTML")), Ok(3));
        assert_eq!(visible_len("x & y", Some("HTML")), Ok(5));
        assert_eq!(visible_len("<b>a&amp;b</b>", None), Ok(14));
        assert!(visible_len("<b oops", Some("HTML")).is_err());
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
    fn token_shape_matches_telegram() {
        assert!(token_shape("123:ABC-def_9"));
        assert!(!token_shape("abc:def"));
        assert!(!token_shape("123:"));
        assert!(!token_shape("123:a b"));
    }
}
