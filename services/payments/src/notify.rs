//! What payments tells people: the buyer (in their language) when an order
//! is paid, underpaid or closed, and the admins when a human is needed.

use crate::orders::Order;
use std::time::Duration;
use telegram::{Bot, SendOptions};

/// How long a notification may wait out Telegram's flood limits.
const PATIENCE: Duration = Duration::from_secs(15);

#[derive(Clone)]
pub struct Notifier {
    tg: Bot,
    admins: Vec<i64>,
}

impl Notifier {
    pub fn new(tg: Bot, admins: Vec<i64>) -> Self {
        Notifier { tg, admins }
    }

    pub async fn paid(&self, o: &Order, balance: Option<i64>) {
        let mut text = match o.language.as_str() {
            "ru" => format!("✅ Оплата подтверждена! Зачислено {} ⭐.", o.stars),
            _ => format!("✅ Payment confirmed! {} ⭐ credited.", o.stars),
        };
        if let Some(b) = balance {
            text += &match o.language.as_str() {
                "ru" => format!("\nВаш баланс: {b} ⭐."),
                _ => format!("\nYour balance: {b} ⭐."),
            };
        }
        self.to_user(o, &text).await;
    }

    pub async fn underpaid(&self, o: &Order) {
        let text = match o.language.as_str() {
            "ru" => format!(
                "⚠️ По заказу {} пришло меньше, чем {} {}. Звёзды не зачислены; мы уже передали заказ поддержке.",
                short(o),
                o.amount_text(),
                o.currency
            ),
            _ => format!(
                "⚠️ The payment for order {} was less than {} {}. No stars were credited; support has been notified.",
                short(o),
                o.amount_text(),
                o.currency
            ),
        };
        self.to_user(o, &text).await;
        self.to_admins(&format!(
            "⚠️ Underpaid invoice (wrong_amount): order {}, user {}, {} stars for {} {}. Nothing credited.",
            o.id, o.user_id, o.stars, o.amount_text(), o.currency
        ))
        .await;
    }

    pub async fn closed(&self, o: &Order) {
        let text = match o.language.as_str() {
            "ru" => format!(
                "Заказ {} закрыт без оплаты ({}). Если хотите, оформите новый в меню.",
                short(o),
                o.status
            ),
            _ => format!(
                "Order {} was closed without payment ({}). Start a new one from the menu whenever you like.",
                short(o),
                o.status
            ),
        };
        self.to_user(o, &text).await;
    }

    /// The payment went back to the payer; the stars credited for it were debited.
    pub async fn refunded(&self, o: &Order) {
        let debited = o.credited_at.is_some();
        let text = match (o.language.as_str(), debited) {
            ("ru", true) => format!(
                "↩️ Оплата заказа {} возвращена. {} ⭐ списаны с баланса.",
                short(o),
                o.stars
            ),
            ("ru", false) => format!("↩️ Оплата заказа {} возвращена.", short(o)),
            (_, true) => format!(
                "↩️ The payment for order {} was refunded. {} ⭐ were taken off your balance.",
                short(o),
                o.stars
            ),
            (_, false) => format!("↩️ The payment for order {} was refunded.", short(o)),
        };
        self.to_user(o, &text).await;
        self.to_admins(&format!(
            "↩️ Order {} was refunded by Heleket: user {}, {} stars for {} {}. {}",
            o.id,
            o.user_id,
            o.stars,
            o.amount_text(),
            o.currency,
            if debited {
                format!("{} stars debited.", o.stars)
            } else {
                "Nothing had been credited.".to_string()
            }
        ))
        .await;
    }

    /// Heleket confirmed an invoice that is not this order's (altered, or another order's).
    pub async fn mismatch(&self, o: &Order, invoice: &str, status: &str, reason: &str) {
        self.to_admins(&format!(
            "🚨 Heleket invoice {invoice} ({status}) does not match its order {}: {reason}. \
             The order is user {}, {} stars for {} {}. Nothing credited; see payment_mismatches.",
            o.id,
            o.user_id,
            o.stars,
            o.amount_text(),
            o.currency
        ))
        .await;
    }

    /// The order's payment link again, with the pay button (support asked).
    /// Unlike the other notices, a failure is the caller's to report.
    pub async fn pay_link(&self, o: &Order, url: &str) -> Result<(), telegram::TgError> {
        let (text, button) = match o.language.as_str() {
            "ru" => (
                format!(
                    "💳 Ссылка на оплату заказа {}: {} ⭐ за {} {}.",
                    short(o),
                    o.stars,
                    o.amount_text(),
                    o.currency
                ),
                "💳 Оплатить через Heleket",
            ),
            _ => (
                format!(
                    "💳 Here is the payment link for order {}: {} ⭐ for {} {}.",
                    short(o),
                    o.stars,
                    o.amount_text(),
                    o.currency
                ),
                "💳 Pay with Heleket",
            ),
        };
        let keyboard = telegram::InlineKeyboardMarkup {
            inline_keyboard: vec![vec![telegram::InlineKeyboardButton::link(button, url)]],
        };
        let opts = SendOptions::default().with_keyboard(keyboard);
        self.tg
            .send_message_patiently(o.chat_id, &text, &opts, PATIENCE)
            .await
            .map(drop)
    }

    pub async fn to_admins(&self, text: &str) {
        for &admin in &self.admins {
            if let Err(e) = self
                .tg
                .send_message_patiently(admin, text, &SendOptions::default(), PATIENCE)
                .await
            {
                tracing::warn!(admin, error = %e, "admin alert not delivered");
            }
        }
    }

    async fn to_user(&self, o: &Order, text: &str) {
        // The money side is already committed; a lost notification is logged, not retried forever.
        if let Err(e) = self
            .tg
            .send_message_patiently(o.chat_id, text, &SendOptions::default(), PATIENCE)
            .await
        {
            tracing::warn!(order_id = %o.id, error = %e, "order notification not delivered");
        }
    }
}

/// The order number users see: the first block of the uuid.
pub fn short(o: &Order) -> String {
    o.id.to_string()[..8].to_string()
}
