//! Everything the bot says, in Russian and English. One place so a reviewer
//! can read the whole voice of the bot, and so tests can match on it.

use telegram::{InlineKeyboardButton, InlineKeyboardMarkup};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ru,
}

impl Lang {
    /// Russian for Russian-language clients, English for everyone else.
    pub fn from_code(code: Option<&str>) -> Lang {
        match code {
            Some(c) if c.to_ascii_lowercase().starts_with("ru") => Lang::Ru,
            _ => Lang::En,
        }
    }
}

/// Callback data of the bot's buttons (≤ 64 bytes, as Telegram requires).
pub mod cb {
    pub const BUY: &str = "menu:buy";
    pub const BALANCE: &str = "menu:balance";
    pub const HISTORY: &str = "menu:history";
    pub const HELP: &str = "menu:help";
    pub const CANCEL: &str = "cancel";
    pub const CUSTOM: &str = "buy:custom";
    /// `buy:<stars>` orders that many stars.
    pub const BUY_PREFIX: &str = "buy:";
    /// `chk:<order id>` checks an order's payment.
    pub const CHECK_PREFIX: &str = "chk:";
    /// The unsubscribe button the broadcast service puts under campaign messages.
    pub const UNSUB: &str = "unsub";
}

pub fn welcome(lang: Lang, first_name: &str, subscribed: bool) -> String {
    let name = html_escape(first_name);
    let news = match (lang, subscribed) {
        (Lang::En, true) => "You are subscribed to our news; /unsubscribe stops them at any time.",
        (Lang::En, false) => "You are not subscribed to our news; /subscribe if you want them.",
        (Lang::Ru, true) => {
            "Вы подписаны на наши новости; /unsubscribe — отписаться в любой момент."
        }
        (Lang::Ru, false) => "Вы не подписаны на наши новости; /subscribe — подписаться.",
    };
    match lang {
        Lang::En => format!(
            "👋 Hi, {name}!\n\nThis bot sells <b>Telegram Stars</b> for crypto via Heleket.\n\
             Pick a pack below, pay with the link, and the stars are credited as soon as the payment is confirmed.\n\n{news}"
        ),
        Lang::Ru => format!(
            "👋 Привет, {name}!\n\nЭтот бот продаёт <b>Telegram Stars</b> за криптовалюту через Heleket.\n\
             Выберите пакет ниже, оплатите по ссылке, и звёзды будут зачислены, как только платёж подтвердится.\n\n{news}"
        ),
    }
}

pub fn subscription(lang: Lang, subscribed: bool) -> &'static str {
    match (lang, subscribed) {
        (Lang::En, true) => "🔔 You are subscribed to our news. /unsubscribe stops them.",
        (Lang::En, false) => "🔕 You are unsubscribed from our news. /subscribe brings them back.",
        (Lang::Ru, true) => "🔔 Вы подписаны на наши новости. /unsubscribe — отписаться.",
        (Lang::Ru, false) => "🔕 Вы отписались от наших новостей. /subscribe — подписаться снова.",
    }
}

/// The short answer to the unsubscribe button under a campaign message.
pub fn unsubscribed_answer(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "🔕 Unsubscribed from news",
        Lang::Ru => "🔕 Вы отписались от новостей",
    }
}

/// The admin commands, added to /help for admins.
pub fn admin_help(lang: Lang) -> &'static str {
    match lang {
        Lang::En => {
            "\n\n🛠 <b>Admin</b>\n/broadcast — compose a broadcast\n/campaigns — recent and scheduled campaigns\n/stats — subscribers, buyers, revenue"
        }
        Lang::Ru => {
            "\n\n🛠 <b>Администратор</b>\n/broadcast — новая рассылка\n/campaigns — последние и запланированные рассылки\n/stats — подписчики, покупатели, выручка"
        }
    }
}

pub fn help(lang: Lang) -> &'static str {
    match lang {
        Lang::En => {
            "ℹ️ <b>How it works</b>\n\n\
            /start — main menu\n/buy — buy stars\n/balance — your stars\n/history — your recent orders\n\
            /subscribe, /unsubscribe — news on or off\n/cancel — leave the current step\n/help — this message\n\n\
            Choose a pack, pay with crypto through Heleket, and your stars are credited automatically once \
            the payment is confirmed. Questions? Just write here."
        }
        Lang::Ru => {
            "ℹ️ <b>Как это работает</b>\n\n\
            /start — главное меню\n/buy — купить звёзды\n/balance — ваши звёзды\n/history — последние заказы\n\
            /subscribe, /unsubscribe — включить или выключить новости\n/cancel — отменить текущий шаг\n/help — эта справка\n\n\
            Выберите пакет, оплатите криптовалютой через Heleket, и звёзды зачислятся автоматически после \
            подтверждения платежа. Вопросы? Просто напишите сюда."
        }
    }
}

pub fn unknown(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "I didn't understand that. Send /start to open the menu or /help for help.",
        Lang::Ru => "Я не понял. Отправьте /start, чтобы открыть меню, или /help для справки.",
    }
}

pub fn main_menu(lang: Lang) -> InlineKeyboardMarkup {
    let (buy, balance, history, help) = match lang {
        Lang::En => ("⭐ Buy stars", "💰 Balance", "📜 History", "❓ Help"),
        Lang::Ru => ("⭐ Купить звёзды", "💰 Баланс", "📜 История", "❓ Помощь"),
    };
    InlineKeyboardMarkup {
        inline_keyboard: vec![
            vec![InlineKeyboardButton::callback(buy, cb::BUY)],
            vec![
                InlineKeyboardButton::callback(balance, cb::BALANCE),
                InlineKeyboardButton::callback(history, cb::HISTORY),
            ],
            vec![InlineKeyboardButton::callback(help, cb::HELP)],
        ],
    }
}

/// A price as the payments service quoted it (decimal string, never a float).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Quote {
    pub stars: i64,
    pub amount: String,
    pub currency: String,
}

pub fn choose_pack(lang: Lang) -> &'static str {
    match lang {
        Lang::En => {
            "⭐ <b>Choose a pack</b>\n\nThe price is shown on each button; you pay in crypto through Heleket."
        }
        Lang::Ru => {
            "⭐ <b>Выберите пакет</b>\n\nЦена указана на кнопке; оплата криптовалютой через Heleket."
        }
    }
}

pub fn packs_menu(lang: Lang, quotes: &[Quote]) -> InlineKeyboardMarkup {
    let mut rows: Vec<Vec<InlineKeyboardButton>> = quotes
        .chunks(2)
        .map(|pair| {
            pair.iter()
                .map(|q| {
                    InlineKeyboardButton::callback(
                        format!("{} ⭐ — {} {}", q.stars, q.amount, q.currency),
                        format!("{}{}", cb::BUY_PREFIX, q.stars),
                    )
                })
                .collect()
        })
        .collect();
    let custom = match lang {
        Lang::En => "✏️ Custom amount",
        Lang::Ru => "✏️ Своё количество",
    };
    rows.push(vec![InlineKeyboardButton::callback(custom, cb::CUSTOM)]);
    rows.push(vec![back_button(lang)]);
    InlineKeyboardMarkup {
        inline_keyboard: rows,
    }
}

fn back_button(lang: Lang) -> InlineKeyboardButton {
    let label = match lang {
        Lang::En => "✖️ Cancel",
        Lang::Ru => "✖️ Отмена",
    };
    InlineKeyboardButton::callback(label, cb::CANCEL)
}

pub fn ask_custom(lang: Lang, min: i64, max: i64) -> String {
    match lang {
        Lang::En => format!(
            "✏️ How many stars do you want? Send a whole number from {min} to {max}.\n/cancel to go back."
        ),
        Lang::Ru => format!(
            "✏️ Сколько звёзд вы хотите? Отправьте целое число от {min} до {max}.\n/cancel — назад."
        ),
    }
}

/// Why a custom amount was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountProblem {
    NotANumber,
    TooSmall,
    TooLarge,
}

pub fn bad_amount(lang: Lang, problem: AmountProblem, min: i64, max: i64) -> String {
    match (lang, problem) {
        (Lang::En, AmountProblem::NotANumber) => {
            format!(
                "That is not a whole number. Send the number of stars, from {min} to {max}, or /cancel."
            )
        }
        (Lang::En, AmountProblem::TooSmall) => {
            format!("The minimum is {min} stars. Send a number from {min} to {max}, or /cancel.")
        }
        (Lang::En, AmountProblem::TooLarge) => {
            format!("The maximum is {max} stars. Send a number from {min} to {max}, or /cancel.")
        }
        (Lang::Ru, AmountProblem::NotANumber) => {
            format!("Это не целое число. Отправьте количество звёзд от {min} до {max} или /cancel.")
        }
        (Lang::Ru, AmountProblem::TooSmall) => {
            format!("Минимум — {min} звёзд. Отправьте число от {min} до {max} или /cancel.")
        }
        (Lang::Ru, AmountProblem::TooLarge) => {
            format!("Максимум — {max} звёзд. Отправьте число от {min} до {max} или /cancel.")
        }
    }
}

pub fn confirm_custom(lang: Lang, q: &Quote) -> (String, InlineKeyboardMarkup) {
    let (text, pay) = match lang {
        Lang::En => (
            format!(
                "You are buying <b>{} ⭐</b> for <b>{} {}</b>.",
                q.stars, q.amount, q.currency
            ),
            format!("✅ Pay {} {}", q.amount, q.currency),
        ),
        Lang::Ru => (
            format!(
                "Вы покупаете <b>{} ⭐</b> за <b>{} {}</b>.",
                q.stars, q.amount, q.currency
            ),
            format!("✅ Оплатить {} {}", q.amount, q.currency),
        ),
    };
    let kb = InlineKeyboardMarkup {
        inline_keyboard: vec![
            vec![InlineKeyboardButton::callback(
                pay,
                format!("{}{}", cb::BUY_PREFIX, q.stars),
            )],
            vec![back_button(lang)],
        ],
    };
    (text, kb)
}

/// An order as the bot shows it.
pub struct OrderView<'a> {
    pub id: &'a str,
    pub stars: i64,
    pub amount: &'a str,
    pub currency: &'a str,
    pub status: &'a str,
    pub pay_url: &'a str,
}

fn short_id(id: &str) -> &str {
    &id[..id.len().min(8)]
}

pub fn order_created(lang: Lang, o: &OrderView) -> (String, InlineKeyboardMarkup) {
    let (text, pay, check) = match lang {
        Lang::En => (
            format!(
                "🧾 Order <code>{}</code>: <b>{} ⭐</b> for <b>{} {}</b>.\n\nPay with the button below. Stars are credited as soon as Heleket confirms the payment; press «Check status» any time.",
                short_id(o.id),
                o.stars,
                o.amount,
                o.currency
            ),
            "💳 Pay with Heleket",
            "🔄 Check status",
        ),
        Lang::Ru => (
            format!(
                "🧾 Заказ <code>{}</code>: <b>{} ⭐</b> за <b>{} {}</b>.\n\nОплатите по кнопке ниже. Звёзды зачислятся, как только Heleket подтвердит платёж; нажмите «Проверить статус» в любой момент.",
                short_id(o.id),
                o.stars,
                o.amount,
                o.currency
            ),
            "💳 Оплатить через Heleket",
            "🔄 Проверить статус",
        ),
    };
    let mut rows = Vec::new();
    if !o.pay_url.is_empty() {
        rows.push(vec![InlineKeyboardButton::link(pay, o.pay_url)]);
    }
    rows.push(vec![InlineKeyboardButton::callback(
        check,
        format!("{}{}", cb::CHECK_PREFIX, o.id),
    )]);
    (
        text,
        InlineKeyboardMarkup {
            inline_keyboard: rows,
        },
    )
}

pub fn payments_unavailable(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "⏳ Payments are temporarily unavailable. Please try again in a few minutes.",
        Lang::Ru => "⏳ Платежи временно недоступны. Пожалуйста, попробуйте через несколько минут.",
    }
}

/// A status in the user's words.
pub fn status_word(lang: Lang, status: &str) -> &'static str {
    match (lang, status) {
        (Lang::En, "paid" | "paid_over") => "✅ paid",
        (Lang::En, "new" | "pending") => "⏳ waiting for payment",
        (Lang::En, "wrong_amount") => "⚠️ underpaid",
        (Lang::En, "cancel") => "✖️ expired",
        (Lang::En, "fail" | "system_fail" | "failed") => "✖️ failed",
        (Lang::En, "refunded") => "↩️ refunded",
        (Lang::En, _) => "❔ under review",
        (Lang::Ru, "paid" | "paid_over") => "✅ оплачен",
        (Lang::Ru, "new" | "pending") => "⏳ ожидает оплаты",
        (Lang::Ru, "wrong_amount") => "⚠️ недоплата",
        (Lang::Ru, "cancel") => "✖️ истёк",
        (Lang::Ru, "fail" | "system_fail" | "failed") => "✖️ не удался",
        (Lang::Ru, "refunded") => "↩️ возвращён",
        (Lang::Ru, _) => "❔ на проверке",
    }
}

pub fn order_status(lang: Lang, o: &OrderView) -> String {
    match lang {
        Lang::En => format!(
            "Order <code>{}</code> ({} ⭐, {} {}): {}",
            short_id(o.id),
            o.stars,
            o.amount,
            o.currency,
            status_word(lang, o.status)
        ),
        Lang::Ru => format!(
            "Заказ <code>{}</code> ({} ⭐, {} {}): {}",
            short_id(o.id),
            o.stars,
            o.amount,
            o.currency,
            status_word(lang, o.status)
        ),
    }
}

pub fn balance(lang: Lang, stars: i64) -> String {
    match lang {
        Lang::En => format!("💰 Your balance: <b>{stars} ⭐</b>"),
        Lang::Ru => format!("💰 Ваш баланс: <b>{stars} ⭐</b>"),
    }
}

pub fn history(lang: Lang, orders: &[OrderView]) -> String {
    if orders.is_empty() {
        return match lang {
            Lang::En => "📜 You have no orders yet. Press /start to buy stars.".into(),
            Lang::Ru => "📜 У вас пока нет заказов. Нажмите /start, чтобы купить звёзды.".into(),
        };
    }
    let head = match lang {
        Lang::En => "📜 <b>Your recent orders</b>",
        Lang::Ru => "📜 <b>Ваши последние заказы</b>",
    };
    let lines: Vec<String> = orders
        .iter()
        .map(|o| format!("• {}", order_status(lang, o)))
        .collect();
    format!("{head}\n\n{}", lines.join("\n"))
}

pub fn cancelled(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Cancelled. Here is the menu again.",
        Lang::Ru => "Отменено. Вот снова меню.",
    }
}

pub fn rate_limited(lang: Lang, seconds: u64) -> String {
    match lang {
        Lang::En => format!(
            "🐢 You are sending messages too fast. Please wait {seconds} s; messages until then are ignored."
        ),
        Lang::Ru => format!(
            "🐢 Вы отправляете сообщения слишком часто. Подождите {seconds} с; до этого сообщения игнорируются."
        ),
    }
}

pub fn invalid_order(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "That amount can't be ordered. Open the menu with /start and pick a pack.",
        Lang::Ru => {
            "Такое количество заказать нельзя. Откройте меню через /start и выберите пакет."
        }
    }
}

pub fn order_unknown(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "I can't find that order.",
        Lang::Ru => "Не удалось найти этот заказ.",
    }
}

/// Escapes user-supplied text for `parse_mode=HTML`.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn russian_clients_get_russian_everyone_else_english() {
        assert_eq!(Lang::from_code(Some("ru")), Lang::Ru);
        assert_eq!(Lang::from_code(Some("ru-RU")), Lang::Ru);
        assert_eq!(Lang::from_code(Some("de")), Lang::En);
        assert_eq!(Lang::from_code(None), Lang::En);
    }

    #[test]
    fn names_cannot_inject_markup() {
        assert!(welcome(Lang::En, "<b>x</b>&", true).contains("&lt;b&gt;x&lt;/b&gt;&amp;"));
    }

    #[test]
    fn menu_callback_data_fits_telegrams_limit() {
        for lang in [Lang::En, Lang::Ru] {
            for row in main_menu(lang).inline_keyboard {
                for b in row {
                    assert!(b.callback_data.unwrap().len() <= 64);
                }
            }
        }
    }
}
