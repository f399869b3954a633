//! Heleket's request and webhook signature.

use base64::Engine;
use md5::{Digest, Md5};

/// `hex(md5(base64(body) + api_key))`: not an HMAC, and computed over the exact bytes sent.
pub fn sign(body: &[u8], api_key: &str) -> String {
    let mut hasher = Md5::new();
    hasher.update(
        base64::engine::general_purpose::STANDARD
            .encode(body)
            .as_bytes(),
    );
    hasher.update(api_key.as_bytes());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::sign;

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
}
