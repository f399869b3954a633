//! Bot API parameters arrive as JSON, a urlencoded form or a query string; these helpers read
//! them uniformly (a form sends every value as a string, so numbers and booleans are lenient).

use serde_json::{Map, Value};

/// Fields that are JSON-serialized objects when sent in a form or query string.
const JSON_FIELDS: &[&str] = &[
    "reply_markup",
    "allowed_updates",
    "entities",
    "caption_entities",
    "link_preview_options",
    "reply_parameters",
];

/// One part of a multipart/form-data body, already read.
pub(crate) enum Part {
    Text(String),
    /// An uploaded file: its bytes (setWebhook's `certificate`).
    File(Vec<u8>),
}

/// Reads a multipart/form-data body (how a client uploads a file, e.g.
/// setWebhook's self-signed `certificate`).
pub(crate) async fn multipart(
    content_type: &str,
    body: bytes::Bytes,
) -> Result<Vec<(String, Part)>, String> {
    let bad = |e: multer::Error| format!("Bad Request: can't parse multipart body: {e}");
    let boundary = multer::parse_boundary(content_type).map_err(bad)?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    while let Some(field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        let is_file = field.file_name().is_some();
        let bytes = field.bytes().await.map_err(bad)?;
        let part = if is_file {
            Part::File(bytes.to_vec())
        } else {
            Part::Text(String::from_utf8_lossy(&bytes).into_owned())
        };
        parts.push((name, part));
    }
    Ok(parts)
}

/// Merges the query string and the body (the body wins) into one JSON object.
/// Uploaded files become `{"upload_bytes": N, "upload_text": "..."}`.
pub(crate) fn parse(
    content_type: Option<&str>,
    query: Option<&str>,
    body: &[u8],
    parts: Option<Vec<(String, Part)>>,
) -> Result<Value, String> {
    let mut params = Map::new();
    if let Some(q) = query {
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            params.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if let Some(parts) = parts {
        for (name, part) in parts {
            let value = match part {
                Part::Text(t) => Value::String(t),
                Part::File(bytes) => serde_json::json!({
                    "upload_bytes": bytes.len(),
                    "upload_text": String::from_utf8_lossy(&bytes),
                }),
            };
            params.insert(name, value);
        }
    } else if ct.starts_with("multipart/") {
        return Err("Bad Request: can't parse multipart body".into());
    }
    let body_is_blank = body.iter().all(u8::is_ascii_whitespace);
    if ct.starts_with("application/json") || (!body_is_blank && body.first() == Some(&b'{')) {
        if !body_is_blank {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(obj)) => params.extend(obj),
                Ok(_) | Err(_) => return Err("Bad Request: can't parse JSON object".into()),
            }
        }
    } else if ct.starts_with("multipart/") {
        // Read above.
    } else if ct.starts_with("application/x-www-form-urlencoded") || !body_is_blank {
        for (k, v) in form_urlencoded::parse(body) {
            params.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    for field in JSON_FIELDS {
        if let Some(Value::String(raw)) = params.get(*field)
            && let Ok(decoded) = serde_json::from_str::<Value>(raw)
        {
            params.insert((*field).to_owned(), decoded);
        }
    }
    Ok(Value::Object(params))
}

pub(crate) fn int(params: &Value, key: &str) -> Option<i64> {
    match params.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn string(params: &Value, key: &str) -> Option<String> {
    match params.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn boolean(params: &Value, key: &str) -> bool {
    match params.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.as_str(), "true" | "True" | "1"),
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        _ => false,
    }
}

/// `reply_markup` when present and not JSON null.
pub(crate) fn markup(params: &Value) -> Option<Value> {
    params.get("reply_markup").filter(|v| !v.is_null()).cloned()
}
