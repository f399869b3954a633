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

/// Callback data of the main menu's buttons (≤ 64 bytes, as Telegram requires).
pub mod cb {
    pub const BUY: &str = "menu:buy";
    pub const BALANCE: &str = "menu:balance";
    pub const HISTORY: &str = "menu:history";
    pub const HELP: &str = "menu:help";
}

pub fn welcome(lang: Lang, first_name: &str) -> String {
    let name = html_escape(first_name);
    match lang {
        Lang::En => format!(
            "👋 Hi, {name}!\n\nThis bot sells <b>Telegram Stars</b> for crypto via Heleket.\n\
             Pick a pack below, pay with the link, and the stars are credited as soon as the payment is confirmed.\n\n\
             You are subscribed to our news; you can unsubscribe at any time."
        ),
        Lang::Ru => format!(
            "👋 Привет, {name}!\n\nЭтот бот продаёт <b>Telegram Stars</b> за криптовалюту через Heleket.\n\
             Выберите пакет ниже, оплатите по ссылке, и звёзды будут зачислены, как только платёж подтвердится.\n\n\
             Вы подписаны на наши новости; отписаться можно в любой момент."
        ),
    }
}

pub fn help(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "ℹ️ <b>How it works</b>\n\n\
            /start — main menu\n/balance — your stars\n/history — your recent orders\n/help — this message\n\n\
            Choose a pack, pay with crypto through Heleket, and your stars are credited automatically once \
            the payment is confirmed. Questions? Just write here.",
        Lang::Ru => "ℹ️ <b>Как это работает</b>\n\n\
            /start — главное меню\n/balance — ваши звёзды\n/history — последние заказы\n/help — эта справка\n\n\
            Выберите пакет, оплатите криптовалютой через Heleket, и звёзды зачислятся автоматически после \
            подтверждения платежа. Вопросы? Просто напишите сюда.",
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

/// Escapes user-supplied text for `parse_mode=HTML`.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
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
        assert!(welcome(Lang::En, "<b>x</b>&").contains("&lt;b&gt;x&lt;/b&gt;&amp;"));
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
