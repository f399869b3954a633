//! Heleket's signature: `md5(base64(body) + api_key)` in hex, over the exact
//! bytes sent or received (reference/external_apis.md 1.2 and 1.7).

use base64::Engine;
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

pub fn sign(body: &[u8], api_key: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(body);
    let mut h = Md5::new();
    h.update(encoded.as_bytes());
    h.update(api_key.as_bytes());
    hex::encode(h.finalize())
}

/// Constant-time comparison of a received sign with the expected one.
pub fn sign_matches(body: &[u8], api_key: &str, given: &str) -> bool {
    let expected = sign(body, api_key);
    expected
        .as_bytes()
        .ct_eq(given.to_ascii_lowercase().as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_vectors() {
        assert_eq!(
            sign(b"", "test-api-key"),
            "6339da7207f32bfc28decb98edf89318"
        );
        assert_eq!(
            sign(
                br#"{"amount":"10.28","currency":"USD","order_id":"order-42"}"#,
                "test-api-key"
            ),
            "0358a89304e030cc3102463ce5b94306"
        );
    }

    #[test]
    fn comparison_rejects_any_difference() {
        let body = br#"{"a":1}"#;
        let good = sign(body, "k");
        assert!(sign_matches(body, "k", &good));
        assert!(sign_matches(body, "k", &good.to_uppercase()));
        assert!(!sign_matches(body, "k2", &good));
        assert!(!sign_matches(body, "k", &good[..31]));
        assert!(!sign_matches(br#"{"a":2}"#, "k", &good));
    }
}
