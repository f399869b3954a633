//! Payment webhooks byte-for-byte as Heleket's PHP backend produces them.
//!
//! PHP's `json_encode($data, JSON_UNESCAPED_UNICODE)` keeps key order and nulls, writes no
//! whitespace, leaves non-ASCII raw and escapes `/` as `\/`. Receivers that re-serialize with
//! a different encoder compute a different sign, which is exactly the bug tests must catch.

use serde_json::{Value, json};

use super::invoice::{Invoice, dec};
use super::sign::sign;

/// The signed callback body for the invoice in its current state.
pub(crate) fn render(invoice: &Invoice, api_key: &str) -> Vec<u8> {
    let convert = if invoice.payment_amount.is_some() {
        // Nested objects keep Heleket's key order too, so they are written by hand as well.
        php_object(&[
            ("to_currency", json!(invoice.payer_currency)),
            ("commission", Value::Null),
            ("rate", json!("1.00000000")),
            ("amount", dec(invoice.merchant_amount)),
        ])
    } else {
        "null".to_owned()
    };
    let fields: Vec<(&str, String)> = vec![
        ("type", php_value(&json!("payment"))),
        ("uuid", php_value(&json!(invoice.uuid.to_string()))),
        ("order_id", php_value(&json!(invoice.order_id))),
        ("amount", php_value(&json!(invoice.amount.to_string()))),
        ("payment_amount", php_value(&dec(invoice.payment_amount))),
        (
            "payment_amount_usd",
            php_value(&dec(invoice.payment_amount)),
        ),
        ("merchant_amount", php_value(&dec(invoice.merchant_amount))),
        ("commission", php_value(&dec(invoice.commission))),
        ("is_final", php_value(&json!(invoice.is_final()))),
        ("status", php_value(&json!(invoice.status))),
        ("from", php_value(&json!(invoice.from))),
        ("wallet_address_uuid", "null".to_owned()),
        ("network", php_value(&json!(invoice.network))),
        ("currency", php_value(&json!(invoice.currency))),
        ("payer_currency", php_value(&json!(invoice.payer_currency))),
        (
            "additional_data",
            php_value(&json!(invoice.additional_data)),
        ),
        ("convert", convert),
        ("txid", php_value(&json!(invoice.txid))),
    ];
    let unsigned = join_object(&fields);
    let signature = sign(unsigned.as_bytes(), api_key);
    // Appending `sign` last means stripping `,"sign":"..."` restores the signed bytes exactly.
    let mut body = unsigned;
    body.pop();
    body.push_str(&format!(r#","sign":"{signature}"}}"#));
    body.into_bytes()
}

fn php_object(pairs: &[(&str, Value)]) -> String {
    let rendered: Vec<(&str, String)> = pairs.iter().map(|(k, v)| (*k, php_value(v))).collect();
    join_object(&rendered)
}

fn join_object(fields: &[(&str, String)]) -> String {
    let members: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", php_value(&json!(k))))
        .collect();
    format!("{{{}}}", members.join(","))
}

/// One scalar as PHP encodes it: serde_json's compact form already writes raw UTF-8, so only
/// the slash and the two JavaScript line terminators PHP escapes need rewriting.
fn php_value(v: &Value) -> String {
    serde_json::to_string(v)
        .unwrap_or_else(|_| "null".to_owned())
        .replace('/', "\\/")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn php_escaping() {
        assert_eq!(php_value(&json!("https://x.y/z")), r#""https:\/\/x.y\/z""#);
        assert_eq!(php_value(&json!("Привет")), "\"Привет\"");
        assert_eq!(php_value(&Value::Null), "null");
    }
}
