//! Verifying Heleket callbacks (reference/external_apis.md 1.7).
//!
//! Heleket signs `json_encode($data_without_sign, JSON_UNESCAPED_UNICODE)`,
//! PHP style: original key order, `/` escaped as `\/`, raw UTF-8, no
//! whitespace, nulls kept. Re-serializing with serde would change those
//! bytes, so we never do. First we cut the `"sign":"…"` member out of the raw
//! body and hash the rest (what the official SDKs do); if that fails we
//! rewrite the remaining tokens into PHP's form and try once more, for
//! senders (or proxies) that changed escaping or whitespace on the way.

use super::sign::sign_matches;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("callback is not a JSON object: {0}")]
    Malformed(String),
    #[error("callback has no sign")]
    MissingSign,
    #[error("callback sign does not match")]
    BadSign,
}

/// The fields of a payment callback we act on; amounts stay decimal strings.
#[derive(Debug, Clone, Deserialize)]
pub struct CallbackPayload {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    pub uuid: String,
    pub order_id: String,
    pub status: String,
}

/// Checks the signature and returns the payload.
pub fn verify(raw: &[u8], api_key: &str) -> Result<CallbackPayload, VerifyError> {
    let stripped = strip_sign(raw)?;
    let sign = stripped.sign.ok_or(VerifyError::MissingSign)?;
    let signed = sign_matches(&stripped.rest, api_key, &sign)
        || php_canonical(&stripped.rest).is_some_and(|php| sign_matches(&php, api_key, &sign));
    if !signed {
        return Err(VerifyError::BadSign);
    }
    serde_json::from_slice(raw).map_err(|e| VerifyError::Malformed(e.to_string()))
}

struct Stripped {
    sign: Option<String>,
    rest: Vec<u8>,
}

/// Removes the top-level `"sign"` member (and one neighbouring comma) from the
/// raw bytes, leaving every other byte untouched.
fn strip_sign(raw: &[u8]) -> Result<Stripped, VerifyError> {
    let bad = |m: &str| VerifyError::Malformed(m.to_string());
    let mut i = skip_ws(raw, 0);
    if raw.get(i) != Some(&b'{') {
        return Err(bad("expected an object"));
    }
    i += 1;
    let mut prev_comma: Option<usize> = None;
    loop {
        i = skip_ws(raw, i);
        match raw.get(i) {
            Some(b'}') => {
                if skip_ws(raw, i + 1) != raw.len() {
                    return Err(bad("trailing bytes after the object"));
                }
                return Ok(Stripped {
                    sign: None,
                    rest: raw.to_vec(),
                });
            }
            Some(b'"') => {}
            _ => return Err(bad("expected a member name")),
        }
        let key_start = i;
        let key_end = scan_string(raw, i).ok_or_else(|| bad("unterminated member name"))?;
        let key: String =
            serde_json::from_slice(&raw[key_start..key_end]).map_err(|e| bad(&e.to_string()))?;
        i = skip_ws(raw, key_end);
        if raw.get(i) != Some(&b':') {
            return Err(bad("expected ':'"));
        }
        let value_start = skip_ws(raw, i + 1);
        let value_end = scan_value(raw, value_start).ok_or_else(|| bad("malformed value"))?;
        let after = skip_ws(raw, value_end);
        if key == "sign" {
            let sign: String = serde_json::from_slice(&raw[value_start..value_end])
                .map_err(|_| bad("sign is not a string"))?;
            let mut rest = Vec::with_capacity(raw.len());
            match (prev_comma, raw.get(after)) {
                // `…,"sign":"x"}` → drop from the comma before.
                (Some(c), _) => {
                    rest.extend_from_slice(&raw[..c]);
                    rest.extend_from_slice(&raw[value_end..]);
                }
                // `{"sign":"x",…}` → drop through the comma after.
                (None, Some(b',')) => {
                    rest.extend_from_slice(&raw[..key_start]);
                    rest.extend_from_slice(&raw[skip_ws(raw, after + 1)..]);
                }
                // `{"sign":"x"}` → `{}`.
                (None, _) => {
                    rest.extend_from_slice(&raw[..key_start]);
                    rest.extend_from_slice(&raw[after..]);
                }
            }
            return Ok(Stripped {
                sign: Some(sign),
                rest,
            });
        }
        match raw.get(after) {
            Some(b',') => {
                prev_comma = Some(after);
                i = after + 1;
            }
            Some(b'}') => i = after,
            _ => return Err(bad("expected ',' or '}'")),
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The index just past the string starting at `i` (which is a `"`).
fn scan_string(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The index just past the JSON value starting at `i`.
fn scan_value(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => scan_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while let Some(&c) = b.get(j) {
                match c {
                    b'"' => {
                        j = scan_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while let Some(&c) = b.get(j) {
                if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// Rewrites JSON bytes into what PHP's `json_encode(…, JSON_UNESCAPED_UNICODE)`
/// prints for the same data: no whitespace between tokens, strings re-escaped
/// PHP's way. Numbers and literals are kept as written.
fn php_canonical(b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(b.len() + 16);
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'"' => {
                let end = scan_string(b, i)?;
                let s: String = serde_json::from_slice(&b[i..end]).ok()?;
                php_string(&s, &mut out);
                i = end;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(out)
}

fn php_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for ch in s.chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '/' => out.extend_from_slice(b"\\/"),
            '\u{08}' => out.extend_from_slice(b"\\b"),
            '\u{0c}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            // Without JSON_UNESCAPED_LINE_TERMINATORS PHP escapes these two.
            '\u{2028}' => out.extend_from_slice(b"\\u2028"),
            '\u{2029}' => out.extend_from_slice(b"\\u2029"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heleket::sign::sign;

    const KEY: &str = "test-api-key";

    /// Builds a body the way Heleket does: sign over the PHP form, sign appended last.
    fn signed(php_body_without_sign: &str) -> String {
        let s = sign(php_body_without_sign.as_bytes(), KEY);
        format!(
            "{},\"sign\":\"{s}\"}}",
            &php_body_without_sign[..php_body_without_sign.len() - 1]
        )
    }

    #[test]
    fn a_heleket_style_body_verifies_by_raw_stripping() {
        let body = signed(
            r#"{"type":"payment","uuid":"u-1","order_id":"o-1","amount":"15.00","status":"paid","additional_data":"https:\/\/x.y\/z","txid":null}"#,
        );
        let p = verify(body.as_bytes(), KEY).unwrap();
        assert_eq!((p.uuid.as_str(), p.status.as_str()), ("u-1", "paid"));
    }

    #[test]
    fn sign_may_be_anywhere_in_the_object() {
        let php = r#"{"uuid":"u","order_id":"o","status":"paid"}"#;
        let s = sign(php.as_bytes(), KEY);
        let first = format!(r#"{{"sign":"{s}","uuid":"u","order_id":"o","status":"paid"}}"#);
        let middle = format!(r#"{{"uuid":"u","sign":"{s}","order_id":"o","status":"paid"}}"#);
        assert!(verify(first.as_bytes(), KEY).is_ok());
        assert!(verify(middle.as_bytes(), KEY).is_ok());
    }

    #[test]
    fn unescaped_slashes_and_whitespace_verify_through_the_php_fallback() {
        // Signed over PHP's form, delivered with plain slashes and spaces.
        let php = r#"{"uuid":"u","order_id":"o","status":"paid","additional_data":"https:\/\/shop.example\/ok","note":"Привет"}"#;
        let s = sign(php.as_bytes(), KEY);
        let wire = format!(
            "{{ \"uuid\": \"u\", \"order_id\": \"o\", \"status\": \"paid\", \"additional_data\": \"https://shop.example/ok\", \"note\": \"\\u041f\\u0440\\u0438\\u0432\\u0435\\u0442\", \"sign\": \"{s}\" }}"
        );
        assert!(verify(wire.as_bytes(), KEY).is_ok());
    }

    #[test]
    fn forged_missing_and_malformed_signs_are_rejected() {
        let body = signed(r#"{"uuid":"u","order_id":"o","status":"paid"}"#);
        let tampered = body.replace("\"paid\"", "\"paid_over\"");
        assert_eq!(
            verify(tampered.as_bytes(), KEY).unwrap_err(),
            VerifyError::BadSign
        );
        assert_eq!(
            verify(body.as_bytes(), "other-key").unwrap_err(),
            VerifyError::BadSign
        );
        assert_eq!(
            verify(br#"{"uuid":"u","order_id":"o","status":"paid"}"#, KEY).unwrap_err(),
            VerifyError::MissingSign
        );
        assert!(matches!(
            verify(b"{not json", KEY),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            verify(b"[1,2]", KEY),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            verify(br#"{"sign":5}"#, KEY),
            Err(VerifyError::Malformed(_))
        ));
    }

    #[test]
    fn a_sign_nested_inside_a_value_is_not_the_sign() {
        let php = r#"{"uuid":"u","order_id":"o","status":"paid","convert":{"sign":"nested"}}"#;
        let body = signed(php);
        assert!(verify(body.as_bytes(), KEY).is_ok());
    }

    #[test]
    fn escaped_quotes_and_brackets_inside_strings_do_not_end_them() {
        // A value holding `\"`, `}`, `]` and `,`, before the sign and inside
        // nested values: only real structure ends a string or a value.
        let php = r#"{"uuid":"u","order_id":"o","status":"paid","comment":"say \"hi\", ok}","list":["a]","b\"}",{"k":"v]"}],"n":-1.5e3,"t":true}"#;
        let body = signed(php);
        let p = verify(body.as_bytes(), KEY).unwrap();
        assert_eq!((p.order_id.as_str(), p.status.as_str()), ("o", "paid"));
        // The sign before such a member, and with whitespace around the colon.
        let s = sign(php.as_bytes(), KEY);
        let first = format!("{{\"sign\" : \"{s}\" , {}", &php[1..]);
        assert!(verify(first.as_bytes(), KEY).is_ok(), "{first}");
        // Tampering inside the escaped part is still caught.
        let tampered = body.replace(r#"say \"hi\""#, r#"say \"ho\""#);
        assert_eq!(
            verify(tampered.as_bytes(), KEY).unwrap_err(),
            VerifyError::BadSign
        );
    }

    #[test]
    fn the_sign_alone_leaves_an_empty_object() {
        let s = sign(b"{}", KEY);
        let stripped = strip_sign(format!(r#"{{ "sign":"{s}" }}"#).as_bytes()).unwrap();
        assert_eq!(stripped.sign.as_deref(), Some(s.as_str()));
        assert_eq!(stripped.rest, b"{ }");
        let last = strip_sign(br#"{"a":1,"sign":"x"}"#).unwrap();
        assert_eq!(last.rest, br#"{"a":1}"#);
        let first = strip_sign(br#"{"sign":"x", "a":1}"#).unwrap();
        assert_eq!(first.rest, br#"{"a":1}"#);
        let none = strip_sign(br#" {"a":1} "#).unwrap();
        assert_eq!(
            (none.sign, none.rest.as_slice()),
            (None, &br#" {"a":1} "#[..])
        );
    }

    #[test]
    fn structural_errors_are_malformed_not_bad_sign() {
        for raw in [
            &br#"{"a":1} x"#[..],
            br#"{"a" 1}"#,
            br#"{"a":1 "b":2}"#,
            br#"{"a":}"#,
            br#"{"a":"unterminated}"#,
            br#"{"a":[1,2}"#,
            br#"{a:1}"#,
            br#"{"unterminated"#,
            b"",
        ] {
            assert!(
                matches!(strip_sign(raw), Err(VerifyError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn control_characters_and_line_separators_are_escaped_as_php_does() {
        // \u0001 and \u001f are escaped as \u00XX (lower-case hex), the space
        // (0x20) is not; U+2028/2029 are escaped; other characters stay raw.
        let out =
            php_canonical(br#"{"a":"\u0001 \u001f\u0020\b\f\r\t\u2028\u2029\u00e9\"\\"}"#).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":"\u0001 \u001f \b\f\r\t\u2028\u2029é\"\\"}"#
        );
    }

    #[test]
    fn php_canonical_matches_php_json_encode() {
        let out =
            php_canonical(br#"{ "a" : "x/y", "b": [1, 2.50, null], "c": "\u00e9\n" }"#).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"a\":\"x\\/y\",\"b\":[1,2.50,null],\"c\":\"é\\n\"}"
        );
    }
}
