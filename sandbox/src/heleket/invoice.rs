//! Invoices as the fake keeps them, and how a status change moves their amounts.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

/// Every status of reference 1.6.
pub const STATUSES: &[&str] = &[
    "paid",
    "paid_over",
    "wrong_amount",
    "wrong_amount_waiting",
    "check",
    "confirm_check",
    "process",
    "fail",
    "cancel",
    "system_fail",
    "refund_process",
    "refund_paid",
    "refund_fail",
    "locked",
];

pub fn is_final(status: &str) -> bool {
    matches!(
        status,
        "paid"
            | "paid_over"
            | "wrong_amount"
            | "fail"
            | "cancel"
            | "system_fail"
            | "refund_paid"
            | "refund_fail"
            | "locked"
    )
}

/// Heleket's commission in the sandbox: 2 % of the amount.
const COMMISSION_PERCENT: i64 = 2;

#[derive(Debug, Clone, PartialEq)]
pub struct Invoice {
    pub uuid: Uuid,
    pub order_id: String,
    pub amount: Decimal,
    pub currency: String,
    pub status: String,
    pub payment_amount: Option<Decimal>,
    pub payer_amount: Option<Decimal>,
    pub payer_currency: Option<String>,
    pub merchant_amount: Option<Decimal>,
    pub commission: Option<Decimal>,
    pub network: Option<String>,
    pub address: Option<String>,
    pub from: Option<String>,
    pub txid: Option<String>,
    pub to_currency: Option<String>,
    pub url_callback: Option<String>,
    pub url_return: Option<String>,
    pub url_success: Option<String>,
    pub additional_data: Option<String>,
    pub lifetime: i64,
    /// Unix seconds.
    pub expired_at: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Invoice {
    pub fn is_final(&self) -> bool {
        is_final(&self.status)
    }

    /// An unpaid invoice past its lifetime is cancelled, as Heleket reports it.
    pub(crate) fn expire_if_due(&mut self, now: OffsetDateTime) {
        if !self.is_final() && now.unix_timestamp() >= self.expired_at {
            self.status = "cancel".into();
            self.updated_at = now;
        }
    }

    /// Moves the invoice to `status`, filling the amounts a real payment would produce.
    pub(crate) fn apply_status(&mut self, status: &str, now: OffsetDateTime) {
        let paid = match status {
            "paid" | "confirm_check" | "process" => Some(self.amount),
            // Overpaid by 10 %, underpaid by half: enough to tell them apart in assertions.
            "paid_over" => Some(self.amount * Decimal::new(11, 1)),
            "wrong_amount" | "wrong_amount_waiting" => Some(self.amount / Decimal::TWO),
            _ => None,
        };
        if let Some(paid) = paid {
            let paid = paid.round_dp(2);
            let payer_currency = self.to_currency.clone().unwrap_or_else(|| "USDT".into());
            let network = self.network.clone().unwrap_or_else(|| "tron".into());
            self.payment_amount = Some(paid);
            self.payer_amount = Some(paid);
            let commission = (paid * Decimal::new(COMMISSION_PERCENT, 2)).round_dp(2);
            self.commission = Some(commission);
            self.merchant_amount = Some(paid - commission);
            self.payer_currency = Some(payer_currency);
            if self.address.is_none() {
                self.address = Some(fake_address(&self.uuid, "T"));
            }
            self.network = Some(network);
            self.from = Some(fake_address(&self.uuid, "TF"));
            self.txid = Some(format!(
                "{:x}{:x}",
                self.uuid.as_u128(),
                now.unix_timestamp()
            ));
        }
        self.status = status.to_owned();
        self.updated_at = now;
    }

    pub fn to_json(&self, base_url: &str) -> Value {
        json!({
            "uuid": self.uuid,
            "order_id": self.order_id,
            "amount": self.amount.to_string(),
            "payment_amount": dec(self.payment_amount),
            "payment_amount_usd": dec(self.payment_amount),
            "payer_amount": dec(self.payer_amount),
            "payer_currency": self.payer_currency,
            "currency": self.currency,
            "merchant_amount": dec(self.merchant_amount),
            "commission": dec(self.commission),
            "network": self.network,
            "address": self.address,
            "from": self.from,
            "txid": self.txid,
            "payment_status": self.status,
            "status": self.status,
            "url": format!("{base_url}/pay/{}", self.uuid),
            "url_callback": self.url_callback,
            "expired_at": self.expired_at,
            "is_final": self.is_final(),
            "additional_data": self.additional_data,
            "created_at": timestamp(self.created_at),
            "updated_at": timestamp(self.updated_at),
            "discount_percent": null,
            "discount": "0.00000000",
            "address_qr_code": null,
            "convert": null,
        })
    }
}

pub(crate) fn dec(v: Option<Decimal>) -> Value {
    v.map_or(Value::Null, |d| Value::String(d.to_string()))
}

/// Heleket stamps times in UTC+3 (per aioheleket).
pub(crate) fn timestamp(at: OffsetDateTime) -> String {
    let offset = UtcOffset::from_hms(3, 0, 0).unwrap_or(UtcOffset::UTC);
    at.to_offset(offset)
        .replace_nanosecond(0)
        .unwrap_or(at)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// A deterministic TRON-looking address, so repeated runs print the same thing.
fn fake_address(uuid: &Uuid, prefix: &str) -> String {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut n = uuid.as_u128() ^ u128::from_str_radix("5bd1e9955bd1e995", 16).unwrap_or(0);
    let mut out = String::from(prefix);
    while out.len() < 34 {
        out.push(char::from(ALPHABET[(n % 58) as usize]));
        n = n / 58 + u128::from(out.len() as u8) * 0x9E37_79B9;
    }
    out
}

/// `amount` must be a plain decimal string with a `.` separator: `10`, `10.28`.
pub(crate) fn parse_amount(raw: &str) -> Option<Decimal> {
    let (int, frac) = raw.split_once('.').unwrap_or((raw, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || (raw.contains('.') && frac.is_empty()) {
        return None;
    }
    Decimal::from_str(raw).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_strict_decimal_strings() {
        assert_eq!(parse_amount("10.28"), Some(Decimal::new(1028, 2)));
        assert_eq!(parse_amount("10"), Some(Decimal::new(10, 0)));
        for bad in ["", "1e5", "10,5", "-1", "1.", ".5", "abc", " 1"] {
            assert_eq!(parse_amount(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps_are_utc_plus_three() {
        let at = OffsetDateTime::from_unix_timestamp(0).unwrap();
        assert_eq!(timestamp(at), "1970-01-01T03:00:00+03:00");
    }
}
