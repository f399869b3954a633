//! Everything the broadcast dialog and the admin commands say, in Russian
//! and English, and the callback data of their buttons.

use super::parse::ButtonsError;
use super::state::{Segment, When};
use crate::texts::{Lang, html_escape};
use proto::audience_list::ListError;
use proto::broadcast as pb;
use telegram::{InlineKeyboardButton, InlineKeyboardMarkup};

/// Callback data of the dialog's buttons (≤ 64 bytes, as Telegram requires).
pub mod cb {
    /// Every dialog button starts so.
    pub const DIALOG_PREFIX: &str = "bcd:";
    pub const SKIP: &str = "bcd:skip";
    pub const UNSUB_YES: &str = "bcd:unsub:yes";
    pub const UNSUB_NO: &str = "bcd:unsub:no";
    /// `bcd:aud:<all|buyers|nonbuyers|lang|active|inactive|list>`.
    pub const AUDIENCE_PREFIX: &str = "bcd:aud:";
    /// `bcd:when:<now|at|daily|weekly|cron>`.
    pub const WHEN_PREFIX: &str = "bcd:when:";
    /// `bcd:ok:<draft id>` and so on: a summary's buttons name their draft,
    /// so a press on an outdated summary is recognised as such.
    pub const CONFIRM_PREFIX: &str = "bcd:ok:";
    pub const EDIT_PREFIX: &str = "bcd:edit:";
    pub const CANCEL_PREFIX: &str = "bcd:no:";
    pub const PAID_PREFIX: &str = "bcd:paid:";
    /// The broadcast service's progress buttons: `bc:<pause|resume|cancel>:<campaign id>`.
    pub const PROGRESS_PREFIX: &str = "bc:";
}

fn button(text: &str, data: impl Into<String>) -> InlineKeyboardButton {
    InlineKeyboardButton::callback(text, data)
}

fn pick(lang: Lang, en: &'static str, ru: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::Ru => ru,
    }
}

pub fn ask_content(lang: Lang) -> &'static str {
    pick(
        lang,
        "📣 <b>New broadcast</b> — step 1 of 5\n\nSend the message to broadcast:\n\
         • text (Telegram HTML allowed: &lt;b&gt;, &lt;i&gt;, &lt;a href=\"…\"&gt;…, or just format it in your client);\n\
         • a photo, video, document or animation with a caption;\n\
         • or forward a post from a channel (it is sent on as is).\n\n\
         Variables: {first_name}, {username}, {language}, {balance}.\n/cancel leaves at any step.",
        "📣 <b>Новая рассылка</b> — шаг 1 из 5\n\nОтправьте сообщение для рассылки:\n\
         • текст (можно Telegram HTML: &lt;b&gt;, &lt;i&gt;, &lt;a href=\"…\"&gt;… или просто отформатируйте его в клиенте);\n\
         • фото, видео, документ или анимацию с подписью;\n\
         • или перешлите пост из канала (он уйдёт как есть).\n\n\
         Переменные: {first_name}, {username}, {language}, {balance}.\n/cancel — выйти на любом шаге.",
    )
}

pub fn not_content(lang: Lang) -> String {
    let head = pick(
        lang,
        "I can't broadcast that kind of message.",
        "Такое сообщение разослать нельзя.",
    );
    format!("{head}\n\n{}", ask_content(lang))
}

pub fn content_refused(lang: Lang, reason: &str) -> String {
    let reason = html_escape(reason);
    match lang {
        Lang::En => format!(
            "✖️ This message can't be broadcast: {reason}\n\nFix it and send it again, or /cancel."
        ),
        Lang::Ru => format!(
            "✖️ Это сообщение нельзя разослать: {reason}\n\nИсправьте и отправьте снова или /cancel."
        ),
    }
}

pub fn ask_buttons(lang: Lang) -> (&'static str, InlineKeyboardMarkup) {
    let text = pick(
        lang,
        "🔘 Step 2 of 5: buttons.\n\nSend URL buttons, one per line:\n<code>Text - https://example.com</code>\n\nor press Skip.",
        "🔘 Шаг 2 из 5: кнопки.\n\nОтправьте кнопки-ссылки, по одной в строке:\n<code>Текст - https://example.com</code>\n\nили нажмите «Пропустить».",
    );
    let skip = pick(lang, "⏭ Skip", "⏭ Пропустить");
    (
        text,
        InlineKeyboardMarkup {
            inline_keyboard: vec![vec![button(skip, cb::SKIP)]],
        },
    )
}

pub fn bad_buttons(lang: Lang, e: &ButtonsError) -> String {
    match (lang, e) {
        (Lang::En, ButtonsError::BadLine { line, text }) => format!(
            "✖️ Line {line} is not a button: «{}».\nEach line must be <code>Text - https://example.com</code> (http, https or tg links). Send the buttons again, or Skip.",
            html_escape(text)
        ),
        (Lang::Ru, ButtonsError::BadLine { line, text }) => format!(
            "✖️ Строка {line} — не кнопка: «{}».\nКаждая строка должна быть <code>Текст - https://example.com</code> (ссылки http, https или tg). Отправьте кнопки снова или «Пропустить».",
            html_escape(text)
        ),
        (Lang::En, ButtonsError::TooMany { max }) => {
            format!("✖️ At most {max} buttons fit under a message. Send fewer, or Skip.")
        }
        (Lang::Ru, ButtonsError::TooMany { max }) => {
            format!(
                "✖️ Под сообщением помещается не больше {max} кнопок. Отправьте меньше или «Пропустить»."
            )
        }
    }
}

/// What a typed "skip" looks like.
pub fn is_skip(text: &str) -> bool {
    let t = text.trim().to_lowercase();
    matches!(
        t.as_str(),
        "skip" | "-" | "no" | "none" | "пропустить" | "нет" | "без кнопок"
    )
}

pub fn ask_unsub_button(lang: Lang) -> (&'static str, InlineKeyboardMarkup) {
    let text = pick(
        lang,
        "Add an «Unsubscribe» button under the message?",
        "Добавить под сообщением кнопку «Отписаться»?",
    );
    let (yes, no) = (pick(lang, "✅ Yes", "✅ Да"), pick(lang, "No", "Нет"));
    (
        text,
        InlineKeyboardMarkup {
            inline_keyboard: vec![vec![button(yes, cb::UNSUB_YES), button(no, cb::UNSUB_NO)]],
        },
    )
}

pub fn audience_keyboard(lang: Lang) -> InlineKeyboardMarkup {
    let l = |en, ru| pick(lang, en, ru);
    let a = |what: &str| format!("{}{what}", cb::AUDIENCE_PREFIX);
    InlineKeyboardMarkup {
        inline_keyboard: vec![
            vec![button(
                l("👥 All subscribers", "👥 Все подписчики"),
                a("all"),
            )],
            vec![
                button(l("💳 Buyers", "💳 Покупатели"), a("buyers")),
                button(l("🆕 Non-buyers", "🆕 Не покупали"), a("nonbuyers")),
            ],
            vec![button(l("🌐 By language", "🌐 По языку"), a("lang"))],
            vec![
                button(
                    l("🟢 Active within N days", "🟢 Активны за N дней"),
                    a("active"),
                ),
                button(
                    l("💤 Not seen for N days", "💤 Не заходили N дней"),
                    a("inactive"),
                ),
            ],
            vec![button(
                l("📄 Upload a list", "📄 Загрузить список"),
                a("list"),
            )],
        ],
    }
}

pub fn ask_audience(lang: Lang) -> String {
    pick(
        lang,
        "👥 Step 3 of 5: who gets it? Unsubscribed and blocked users are always left out.",
        "👥 Шаг 3 из 5: кому отправить? Отписавшиеся и заблокировавшие бота не получат рассылку в любом случае.",
    )
    .to_string()
}

pub fn ask_language(lang: Lang) -> &'static str {
    pick(
        lang,
        "🌐 Send the language code, e.g. <code>en</code> or <code>ru</code> (\"en\" also matches en-GB).",
        "🌐 Отправьте код языка, например <code>ru</code> или <code>en</code> («en» включает и en-GB).",
    )
}

pub fn bad_language(lang: Lang) -> &'static str {
    pick(
        lang,
        "✖️ That is not a language code. Send two or three letters such as <code>en</code>, or /cancel.",
        "✖️ Это не код языка. Отправьте две-три буквы, например <code>ru</code>, или /cancel.",
    )
}

pub fn ask_days(lang: Lang, inactive: bool) -> &'static str {
    match (lang, inactive) {
        (Lang::En, false) => "🟢 Active within how many days? Send a number, e.g. <code>7</code>.",
        (Lang::En, true) => "💤 Not seen for how many days? Send a number, e.g. <code>30</code>.",
        (Lang::Ru, false) => {
            "🟢 Активны за сколько дней? Отправьте число, например <code>7</code>."
        }
        (Lang::Ru, true) => {
            "💤 Не заходили сколько дней? Отправьте число, например <code>30</code>."
        }
    }
}

pub fn bad_days(lang: Lang, max: u32) -> String {
    match lang {
        Lang::En => format!("✖️ Send a whole number of days from 1 to {max}, or /cancel."),
        Lang::Ru => format!("✖️ Отправьте целое число дней от 1 до {max} или /cancel."),
    }
}

pub fn ask_list(lang: Lang, max_mb: u64) -> String {
    match lang {
        Lang::En => format!(
            "📄 Send a .txt or .csv file (up to {max_mb} MB) with Telegram user ids, separated by new lines, commas, semicolons or spaces. One header line is allowed."
        ),
        Lang::Ru => format!(
            "📄 Отправьте файл .txt или .csv (до {max_mb} МБ) с Telegram id пользователей через перевод строки, запятую, точку с запятой или пробел. Одна строка заголовка допускается."
        ),
    }
}

pub fn list_not_a_file(lang: Lang, max_mb: u64) -> String {
    let head = pick(lang, "I need a file here.", "Здесь нужен файл.");
    format!("{head} {}", ask_list(lang, max_mb))
}

pub fn list_wrong_type(lang: Lang) -> &'static str {
    pick(
        lang,
        "✖️ Only .txt or .csv files are accepted. Send the list again, or /cancel.",
        "✖️ Принимаются только файлы .txt или .csv. Отправьте список снова или /cancel.",
    )
}

pub fn list_too_large(lang: Lang, max_mb: u64) -> String {
    match lang {
        Lang::En => format!("✖️ The file is larger than {max_mb} MB. Split it, or /cancel."),
        Lang::Ru => format!("✖️ Файл больше {max_mb} МБ. Разделите его или /cancel."),
    }
}

pub fn bad_list(lang: Lang, e: &ListError) -> String {
    match (lang, e) {
        (Lang::En, ListError::NotText) => {
            "✖️ The file is not text (UTF-8). Send a .txt or .csv of ids, or /cancel.".into()
        }
        (Lang::Ru, ListError::NotText) => {
            "✖️ Файл не текстовый (UTF-8). Отправьте .txt или .csv с id или /cancel.".into()
        }
        (Lang::En, ListError::NoIds) => {
            "✖️ There are no user ids in the file. Send another, or /cancel.".into()
        }
        (Lang::Ru, ListError::NoIds) => {
            "✖️ В файле нет id пользователей. Отправьте другой или /cancel.".into()
        }
        (_, ListError::BadLines { first, total }) => {
            let lines: Vec<String> = first
                .iter()
                .map(|(n, l)| format!("• {n}: «{}»", html_escape(l)))
                .collect();
            let lines = lines.join("\n");
            match lang {
                Lang::En => format!(
                    "✖️ The file was refused: {total} line(s) hold something that is not a user id, for example:\n{lines}\n\nOnly ids (and one header line) are allowed. Fix the file and send it again, or /cancel."
                ),
                Lang::Ru => format!(
                    "✖️ Файл не принят: в {total} строк(ах) не только id пользователей, например:\n{lines}\n\nДопускаются только id (и одна строка заголовка). Исправьте файл и отправьте снова или /cancel."
                ),
            }
        }
    }
}

pub fn schedule_keyboard(lang: Lang) -> InlineKeyboardMarkup {
    let l = |en, ru| pick(lang, en, ru);
    let w = |what: &str| format!("{}{what}", cb::WHEN_PREFIX);
    InlineKeyboardMarkup {
        inline_keyboard: vec![
            vec![button(l("🚀 Now", "🚀 Сейчас"), w("now"))],
            vec![button(l("🕒 At a time", "🕒 В заданное время"), w("at"))],
            vec![
                button(l("🔁 Daily", "🔁 Ежедневно"), w("daily")),
                button(l("📅 Weekly", "📅 Еженедельно"), w("weekly")),
            ],
            vec![button(l("⚙️ Cron", "⚙️ Cron"), w("cron"))],
        ],
    }
}

/// The audience count, then the schedule question.
pub fn ask_schedule(lang: Lang, recipients: i64, ignored: i64, list: bool) -> String {
    let ignored = if list && ignored > 0 {
        match lang {
            Lang::En => format!(
                "\n{ignored} id(s) of the list are left out: not users of the bot, unsubscribed or blocked."
            ),
            Lang::Ru => format!(
                "\n{ignored} id из списка пропущены: не пользователи бота, отписались или заблокировали его."
            ),
        }
    } else {
        String::new()
    };
    match lang {
        Lang::En => format!(
            "👥 Recipients: <b>{recipients}</b>.{ignored}\n\n🕒 Step 4 of 5: when to send it?"
        ),
        Lang::Ru => format!(
            "👥 Получателей: <b>{recipients}</b>.{ignored}\n\n🕒 Шаг 4 из 5: когда отправить?"
        ),
    }
}

pub fn no_recipients(lang: Lang, ignored: i64) -> String {
    let extra = if ignored > 0 {
        match lang {
            Lang::En => format!(" ({ignored} id(s) of the list are not reachable subscribers)"),
            Lang::Ru => format!(" ({ignored} id из списка — не доступные подписчики)"),
        }
    } else {
        String::new()
    };
    match lang {
        Lang::En => format!("🤷 Nobody is in this audience right now{extra}. Choose another one:"),
        Lang::Ru => format!("🤷 Сейчас в этой аудитории никого нет{extra}. Выберите другую:"),
    }
}

pub fn ask_at(lang: Lang) -> &'static str {
    pick(
        lang,
        "🕒 Send the date and time as <code>YYYY-MM-DD HH:MM</code>, e.g. <code>2026-12-31 18:00</code> (the broadcast service's time zone).",
        "🕒 Отправьте дату и время в виде <code>ГГГГ-ММ-ДД ЧЧ:ММ</code>, например <code>2026-12-31 18:00</code> (часовой пояс сервиса рассылок).",
    )
}

pub fn ask_daily(lang: Lang) -> &'static str {
    pick(
        lang,
        "🔁 Every day at what time? Send <code>HH:MM</code>, e.g. <code>09:30</code>.",
        "🔁 Каждый день во сколько? Отправьте <code>ЧЧ:ММ</code>, например <code>09:30</code>.",
    )
}

pub fn ask_weekly(lang: Lang) -> &'static str {
    pick(
        lang,
        "📅 Which day and time every week? Send e.g. <code>mon 09:30</code> (mon, tue, wed, thu, fri, sat, sun).",
        "📅 В какой день и время каждую неделю? Отправьте, например, <code>mon 09:30</code> (mon, tue, wed, thu, fri, sat, sun).",
    )
}

pub fn ask_cron(lang: Lang) -> &'static str {
    pick(
        lang,
        "⚙️ Send a five-field cron expression: minute hour day month weekday, e.g. <code>30 9 * * 1</code> (Mondays 09:30).",
        "⚙️ Отправьте cron-выражение из пяти полей: минута час день месяц день-недели, например <code>30 9 * * 1</code> (по понедельникам в 09:30).",
    )
}

pub fn schedule_refused(lang: Lang, reason: &str) -> String {
    let reason = html_escape(reason);
    match lang {
        Lang::En => format!("✖️ {reason}\n\nTry again, or /cancel."),
        Lang::Ru => format!("✖️ {reason}\n\nПопробуйте снова или /cancel."),
    }
}

pub fn describe_segment(lang: Lang, s: &Segment) -> String {
    match (lang, s) {
        (Lang::En, Segment::All) => "all subscribers".into(),
        (Lang::Ru, Segment::All) => "все подписчики".into(),
        (Lang::En, Segment::Buyers) => "buyers".into(),
        (Lang::Ru, Segment::Buyers) => "покупатели".into(),
        (Lang::En, Segment::NonBuyers) => "non-buyers".into(),
        (Lang::Ru, Segment::NonBuyers) => "не покупавшие".into(),
        (Lang::En, Segment::Language { code }) => format!("language «{}»", html_escape(code)),
        (Lang::Ru, Segment::Language { code }) => format!("язык «{}»", html_escape(code)),
        (Lang::En, Segment::ActiveWithin { days }) => format!("active within {days} days"),
        (Lang::Ru, Segment::ActiveWithin { days }) => format!("активные за {days} дн."),
        (Lang::En, Segment::InactiveFor { days }) => format!("not seen for {days} days"),
        (Lang::Ru, Segment::InactiveFor { days }) => format!("не заходившие {days} дн."),
        (Lang::En, Segment::List { ids }) => format!("uploaded list ({ids} ids)"),
        (Lang::Ru, Segment::List { ids }) => format!("загруженный список ({ids} id)"),
    }
}

pub fn describe_when(lang: Lang, w: &When, run_at: i64, next_run_at: i64) -> String {
    let at = |t: i64| {
        if t > 0 {
            format!(" ({})", super::commands::utc(t))
        } else {
            String::new()
        }
    };
    match (lang, w) {
        (Lang::En, When::Now) => "now, as soon as you confirm".into(),
        (Lang::Ru, When::Now) => "сейчас, сразу после подтверждения".into(),
        (Lang::En, When::At { at: t }) => format!("at {}{}", html_escape(t), at(run_at)),
        (Lang::Ru, When::At { at: t }) => format!("в {}{}", html_escape(t), at(run_at)),
        // A draft of a series carries its first occurrence in run_at.
        (_, When::Recurring { .. }) if next_run_at <= 0 && run_at > 0 => {
            describe_when(lang, w, 0, run_at)
        }
        (Lang::En, When::Recurring { cron }) => {
            let next = if next_run_at > 0 {
                format!(", next {}", super::commands::utc(next_run_at))
            } else {
                String::new()
            };
            format!("recurring «{}»{next}", html_escape(cron))
        }
        (Lang::Ru, When::Recurring { cron }) => {
            let next = if next_run_at > 0 {
                format!(", следующая {}", super::commands::utc(next_run_at))
            } else {
                String::new()
            };
            format!("повторяется «{}»{next}", html_escape(cron))
        }
    }
}

pub struct Summary<'a> {
    pub campaign_id: &'a str,
    pub recipients: i64,
    pub audience: String,
    pub when: String,
    pub paid: bool,
    pub buttons: usize,
    pub unsubscribe_button: bool,
    /// Why the preview could not be sent, when it could not.
    pub preview_problem: Option<String>,
}

pub fn summary(lang: Lang, s: &Summary) -> (String, InlineKeyboardMarkup) {
    let paid = match (lang, s.paid) {
        (Lang::En, true) => "yes — up to 1000 msg/s, 0.1 Star per message",
        (Lang::En, false) => "no — about 30 msg/s, free",
        (Lang::Ru, true) => "да — до 1000 сообщ./с, 0,1 звезды за сообщение",
        (Lang::Ru, false) => "нет — около 30 сообщ./с, бесплатно",
    };
    let unsub = match (lang, s.unsubscribe_button) {
        (Lang::En, true) => ", plus «Unsubscribe»",
        (Lang::Ru, true) => ", плюс «Отписаться»",
        _ => "",
    };
    let preview = match (&s.preview_problem, lang) {
        (None, Lang::En) => {
            "☝️ Above is the preview, exactly as recipients will see it.".to_string()
        }
        (None, Lang::Ru) => "☝️ Выше — предпросмотр, ровно так его увидят получатели.".to_string(),
        (Some(p), Lang::En) => format!("⚠️ The preview could not be sent: {}", html_escape(p)),
        (Some(p), Lang::Ru) => format!("⚠️ Предпросмотр не отправлен: {}", html_escape(p)),
    };
    let text = match lang {
        Lang::En => format!(
            "{preview}\n\n📣 <b>Step 5 of 5: confirm</b>\n👥 Recipients: <b>{}</b> ({})\n🕒 When: {}\n🔘 Buttons: {}{unsub}\n💫 Paid broadcast: {paid}",
            s.recipients, s.audience, s.when, s.buttons
        ),
        Lang::Ru => format!(
            "{preview}\n\n📣 <b>Шаг 5 из 5: подтверждение</b>\n👥 Получателей: <b>{}</b> ({})\n🕒 Когда: {}\n🔘 Кнопки: {}{unsub}\n💫 Платная рассылка: {paid}",
            s.recipients, s.audience, s.when, s.buttons
        ),
    };
    let l = |en, ru| pick(lang, en, ru);
    let id = s.campaign_id;
    let toggle = if s.paid {
        l(
            "💫 Paid: on → make it free",
            "💫 Платная: да → сделать бесплатной",
        )
    } else {
        l(
            "💫 Paid: off → up to 1000 msg/s",
            "💫 Платная: нет → до 1000 сообщ./с",
        )
    };
    let kb = InlineKeyboardMarkup {
        inline_keyboard: vec![
            vec![button(
                l("✅ Confirm", "✅ Подтвердить"),
                format!("{}{id}", cb::CONFIRM_PREFIX),
            )],
            vec![
                button(
                    l("✏️ Edit", "✏️ Изменить"),
                    format!("{}{id}", cb::EDIT_PREFIX),
                ),
                button(
                    l("✖️ Cancel", "✖️ Отмена"),
                    format!("{}{id}", cb::CANCEL_PREFIX),
                ),
            ],
            vec![button(toggle, format!("{}{id}", cb::PAID_PREFIX))],
        ],
    };
    (text, kb)
}

pub fn started(lang: Lang, c: &pb::Campaign) -> String {
    match (lang, c.status.as_str()) {
        (Lang::En, "scheduled") => format!(
            "✅ Scheduled for {}. /campaigns lists it; the progress message appears here when it starts.",
            super::commands::utc(c.run_at)
        ),
        (Lang::Ru, "scheduled") => format!(
            "✅ Запланировано на {}. Рассылка есть в /campaigns; сообщение с прогрессом появится здесь, когда она начнётся.",
            super::commands::utc(c.run_at)
        ),
        (Lang::En, "recurring") => format!(
            "✅ Recurring broadcast set up; next run {}. Each run is a campaign of its own, listed in /campaigns.",
            super::commands::utc(c.next_run_at)
        ),
        (Lang::Ru, "recurring") => format!(
            "✅ Повторяющаяся рассылка настроена; следующий запуск {}. Каждый запуск — отдельная рассылка в /campaigns.",
            super::commands::utc(c.next_run_at)
        ),
        (Lang::En, _) => "🚀 Started. The progress message here shows how it goes, with Pause / Resume / Cancel.".into(),
        (Lang::Ru, _) => "🚀 Запущено. Сообщение с прогрессом здесь покажет ход рассылки, с кнопками «Пауза» / «Продолжить» / «Отменить».".into(),
    }
}

pub fn dialog_cancelled(lang: Lang) -> &'static str {
    pick(
        lang,
        "✖️ Broadcast cancelled; nothing was sent.",
        "✖️ Рассылка отменена; ничего не отправлено.",
    )
}

pub fn stale_button(lang: Lang) -> &'static str {
    pick(
        lang,
        "This button belongs to an earlier step.",
        "Эта кнопка относится к прошлому шагу.",
    )
}

pub fn refused(lang: Lang, reason: &str) -> String {
    let reason = html_escape(reason);
    match lang {
        Lang::En => format!("✖️ {reason}"),
        Lang::Ru => format!("✖️ {reason}"),
    }
}

pub fn try_later(lang: Lang) -> &'static str {
    pick(
        lang,
        "⏳ The broadcast service is not answering right now. Please try again in a minute; your step is kept.",
        "⏳ Сервис рассылок сейчас не отвечает. Попробуйте через минуту; текущий шаг сохранён.",
    )
}

pub fn try_later_short(lang: Lang) -> &'static str {
    pick(
        lang,
        "⏳ The broadcast service is not answering; try again in a minute.",
        "⏳ Сервис рассылок не отвечает; попробуйте через минуту.",
    )
}

pub fn admins_only(lang: Lang) -> &'static str {
    pick(
        lang,
        "⛔ Only admins can do that.",
        "⛔ Это могут только администраторы.",
    )
}

pub fn progress_done(lang: Lang, action: &str) -> &'static str {
    match (lang, action) {
        (Lang::En, "pause") => "⏸ Paused",
        (Lang::En, "resume") => "▶️ Resumed",
        (Lang::En, _) => "⏹ Cancelled",
        (Lang::Ru, "pause") => "⏸ Пауза",
        (Lang::Ru, "resume") => "▶️ Продолжено",
        (Lang::Ru, _) => "⏹ Отменено",
    }
}

pub fn status_word(lang: Lang, status: &str) -> &'static str {
    match (lang, status) {
        (Lang::En, "draft") => "📝 draft",
        (Lang::En, "scheduled") => "🕒 scheduled",
        (Lang::En, "recurring") => "🔁 recurring",
        (Lang::En, "running") => "🚀 running",
        (Lang::En, "paused") => "⏸ paused",
        (Lang::En, "done") => "✅ done",
        (Lang::En, "cancelled") => "✖️ cancelled",
        (Lang::En, _) => "❔ unknown",
        (Lang::Ru, "draft") => "📝 черновик",
        (Lang::Ru, "scheduled") => "🕒 запланирована",
        (Lang::Ru, "recurring") => "🔁 повторяется",
        (Lang::Ru, "running") => "🚀 идёт",
        (Lang::Ru, "paused") => "⏸ на паузе",
        (Lang::Ru, "done") => "✅ завершена",
        (Lang::Ru, "cancelled") => "✖️ отменена",
        (Lang::Ru, _) => "❔ неизвестно",
    }
}

pub fn stats(lang: Lang, s: &pb::StatsReply) -> String {
    let revenue = if s.revenue.is_empty() {
        "0".to_string()
    } else {
        s.revenue
            .iter()
            .map(|r| format!("{} {}", html_escape(&r.amount), html_escape(&r.currency)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match lang {
        Lang::En => format!(
            "📊 <b>Stats</b>\n\n👤 Users: <b>{}</b>\n📬 Subscribers: <b>{}</b>, reachable <b>{}</b>\n🚫 Blocked: <b>{}</b>\n💳 Buyers: <b>{}</b>\n💰 Revenue: <b>{revenue}</b>\n📣 Campaigns sent: <b>{}</b>",
            s.users_total,
            s.subscribers,
            s.subscribers_reachable,
            s.blocked,
            s.buyers,
            s.campaigns_sent
        ),
        Lang::Ru => format!(
            "📊 <b>Статистика</b>\n\n👤 Пользователей: <b>{}</b>\n📬 Подписчиков: <b>{}</b>, доступных <b>{}</b>\n🚫 Заблокировали: <b>{}</b>\n💳 Покупателей: <b>{}</b>\n💰 Выручка: <b>{revenue}</b>\n📣 Рассылок отправлено: <b>{}</b>",
            s.users_total,
            s.subscribers,
            s.subscribers_reachable,
            s.blocked,
            s.buyers,
            s.campaigns_sent
        ),
    }
}

pub fn campaigns_head(lang: Lang, empty: bool) -> &'static str {
    match (lang, empty) {
        (Lang::En, true) => "📣 No campaigns yet. /broadcast creates one.",
        (Lang::Ru, true) => "📣 Рассылок пока нет. /broadcast создаст новую.",
        (Lang::En, false) => "📣 <b>Latest campaigns</b>",
        (Lang::Ru, false) => "📣 <b>Последние рассылки</b>",
    }
}

/// "forwarded post" and the like, when a campaign has no title and no text.
pub fn untitled(lang: Lang, copy: bool) -> &'static str {
    match (lang, copy) {
        (Lang::En, true) => "(forwarded post)",
        (Lang::Ru, true) => "(пересланный пост)",
        (Lang::En, false) => "(no text)",
        (Lang::Ru, false) => "(без текста)",
    }
}

pub fn campaign_when(lang: Lang, c: &pb::Campaign) -> String {
    let t = super::commands::utc;
    match (lang, c.status.as_str()) {
        (Lang::En, "scheduled") => format!("at {}", t(c.run_at)),
        (Lang::Ru, "scheduled") => format!("на {}", t(c.run_at)),
        (Lang::En, "recurring") => format!("next {}", t(c.next_run_at)),
        (Lang::Ru, "recurring") => format!("следующая {}", t(c.next_run_at)),
        (Lang::En, "done" | "cancelled") if c.finished_at > 0 => {
            format!("ended {}", t(c.finished_at))
        }
        (Lang::Ru, "done" | "cancelled") if c.finished_at > 0 => {
            format!("завершена {}", t(c.finished_at))
        }
        (Lang::En, "running" | "paused") if c.started_at > 0 => {
            format!("started {}", t(c.started_at))
        }
        (Lang::Ru, "running" | "paused") if c.started_at > 0 => {
            format!("начата {}", t(c.started_at))
        }
        (Lang::En, _) => format!("created {}", t(c.created_at)),
        (Lang::Ru, _) => format!("создана {}", t(c.created_at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dialog_button_fits_telegrams_64_bytes() {
        let uuid = "123e4567-e89b-12d3-a456-426614174000";
        let mut keyboards = Vec::new();
        for lang in [Lang::En, Lang::Ru] {
            keyboards.push(ask_buttons(lang).1);
            keyboards.push(ask_unsub_button(lang).1);
            keyboards.push(audience_keyboard(lang));
            keyboards.push(schedule_keyboard(lang));
            for paid in [false, true] {
                let s = Summary {
                    campaign_id: uuid,
                    recipients: 1,
                    audience: String::new(),
                    when: String::new(),
                    paid,
                    buttons: 0,
                    unsubscribe_button: false,
                    preview_problem: None,
                };
                keyboards.push(summary(lang, &s).1);
            }
        }
        let mut seen = 0;
        for kb in keyboards {
            for b in kb.inline_keyboard.into_iter().flatten() {
                let data = b.callback_data.expect("callback button");
                assert!(data.len() <= 64, "{data} is {} bytes", data.len());
                assert!(data.starts_with(cb::DIALOG_PREFIX), "{data}");
                assert!(!data.starts_with(cb::PROGRESS_PREFIX), "{data}");
                seen += 1;
            }
        }
        assert!(seen > 20);
        // The service's progress buttons too.
        for action in ["pause", "resume", "cancel"] {
            assert!(format!("{}{action}:{uuid}", cb::PROGRESS_PREFIX).len() <= 64);
        }
    }

    #[test]
    fn a_drafted_series_shows_its_first_run() {
        let w = When::Recurring {
            cron: "daily 09:30".into(),
        };
        let shown = describe_when(Lang::En, &w, 1_798_740_000, 0);
        assert_eq!(shown, "recurring «daily 09:30», next 2026-12-31 18:00 UTC");
        let at = When::At {
            at: "2026-12-31 18:00".into(),
        };
        assert_eq!(
            describe_when(Lang::En, &at, 1_798_740_000, 0),
            "at 2026-12-31 18:00 (2026-12-31 18:00 UTC)"
        );
    }

    #[test]
    fn skip_can_be_typed() {
        assert!(is_skip(" Skip "));
        assert!(is_skip("Пропустить"));
        assert!(!is_skip("Shop - https://a.io"));
    }
}
