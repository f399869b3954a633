//! What a campaign sends: checking an admin's content once (`validate`) and
//! turning it into one recipient's Bot API call (`render`).
//!
//! Text and captions are Telegram HTML with template variables. `validate`
//! reads them the way Telegram's parser does (tdlib's `parse_html`), so content
//! it accepts is not refused with "can't parse entities" half-way through a
//! campaign, and says what is wrong in words for the admin, with the
//! character (counted from 1 in what the admin wrote) where it is.
//!
//! Variables: `{first_name}`, `{username}`, `{language}`, `{balance}`; `{{` and
//! `}}` are literal braces. A filled value is HTML-escaped, so a first name
//! `<b>` stays text. `{username}` is "@name", or the first name when the user
//! has no username (a greeting "Hi {username}!" still reads right); so its
//! longest value is a first name's. `{language}` is empty when Telegram gave
//! no language. Variables stand only in text, never inside a tag: a value
//! would need URL encoding in an `href`, not HTML escaping.
//!
//! Where this is stricter than Telegram, on purpose:
//! - a `&` in text must start an entity with its `;` (Telegram keeps a stray
//!   `&` and reads `&lt` without `;` as `<`; its docs ask for `&amp;`);
//! - `<a>` needs an `href` with http(s)://, tg:// or mailto: (Telegram drops a
//!   link it can't read, silently);
//! - tags inside `<code>`/`<pre>` (other than `<pre><code class="language-x">`),
//!   `<a>` inside `<a>` and `<blockquote>` inside `<blockquote>` are refused:
//!   Telegram's entity rules forbid them and the formatting would be lost.

use proto::broadcast::content::Body;
use proto::broadcast::{Content, CopyBody, MediaBody, MediaKind, TextBody, UrlButton};
use serde_json::{Map, Value, json};
use std::borrow::Cow;

/// Telegram's limit on a message text, in characters after entity parsing.
pub const TEXT_MAX_CHARS: usize = 4096;
/// Telegram's limit on a media caption, in characters after entity parsing.
pub const CAPTION_MAX_CHARS: usize = 1024;
/// URL buttons a campaign may carry (the unsubscribe button comes on top).
pub const MAX_BUTTONS: usize = 20;
/// Longest button label we accept, in characters.
pub const BUTTON_TEXT_MAX_CHARS: usize = 64;
/// `callback_data` of the unsubscribe button; the bot handles it.
pub const UNSUBSCRIBE_CALLBACK: &str = "unsub";

/// The per-recipient values a template may use.
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    pub first_name: &'a str,
    pub username: Option<&'a str>,
    /// Telegram language_code, e.g. "en", "ru", "pt-br".
    pub language: Option<&'a str>,
    /// Stars.
    pub balance: i64,
}

/// A Bot API call ready to send, without `chat_id` (the engine adds it, and
/// `allow_paid_broadcast`).
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub method: &'static str,
    pub params: Value,
}

/// Why the content cannot be sent, in words for the admin who composed it;
/// Ok when it can.
pub fn validate(content: &Content) -> Result<(), String> {
    match &content.body {
        None => {
            return Err(
                "the message has no body: give a text, a media file or a message to copy".into(),
            );
        }
        Some(Body::Text(text)) => validate_text(text)?,
        Some(Body::Media(media)) => validate_media(media)?,
        Some(Body::Copy(copy)) => validate_copy(copy)?,
    }
    validate_buttons(&content.buttons)
}

/// The message one recipient gets. Only called on content that passed
/// `validate`; on anything else it still returns a call (which Telegram may
/// refuse) rather than panic mid-campaign.
pub fn render(content: &Content, r: &Recipient) -> Outgoing {
    let mut params = Map::new();
    let method = match &content.body {
        Some(Body::Text(text)) => {
            params.insert("text".into(), fill(&text.html, r).into());
            params.insert("parse_mode".into(), "HTML".into());
            if text.disable_link_preview {
                params.insert(
                    "link_preview_options".into(),
                    json!({ "is_disabled": true }),
                );
            }
            "sendMessage"
        }
        Some(Body::Media(media)) => {
            let (method, field) = media_method(media.kind());
            params.insert(field.into(), media.file_id.trim().into());
            if !media.caption_html.trim().is_empty() {
                params.insert("caption".into(), fill(&media.caption_html, r).into());
                params.insert("parse_mode".into(), "HTML".into());
            }
            method
        }
        Some(Body::Copy(copy)) => {
            params.insert("from_chat_id".into(), copy.from_chat_id.into());
            params.insert("message_id".into(), copy.message_id.into());
            "copyMessage"
        }
        None => {
            params.insert("text".into(), "".into());
            "sendMessage"
        }
    };
    params.insert(
        "disable_notification".into(),
        content.disable_notification.into(),
    );
    if let Some(markup) = reply_markup(content, r) {
        params.insert("reply_markup".into(), markup);
    }
    Outgoing {
        method,
        params: Value::Object(params),
    }
}

fn media_method(kind: MediaKind) -> (&'static str, &'static str) {
    match kind {
        MediaKind::Photo => ("sendPhoto", "photo"),
        MediaKind::Video => ("sendVideo", "video"),
        MediaKind::Animation => ("sendAnimation", "animation"),
        // Unspecified never passes validate; a document is the safest guess.
        MediaKind::Document | MediaKind::Unspecified => ("sendDocument", "document"),
    }
}

fn reply_markup(content: &Content, r: &Recipient) -> Option<Value> {
    let mut rows: Vec<Value> = content
        .buttons
        .iter()
        .map(|b| json!([{ "text": b.text.trim(), "url": b.url.trim() }]))
        .collect();
    if content.unsubscribe_button {
        rows.push(json!([{
            "text": unsubscribe_label(r.language),
            "callback_data": UNSUBSCRIBE_CALLBACK,
        }]));
    }
    (!rows.is_empty()).then(|| json!({ "inline_keyboard": rows }))
}

/// The unsubscribe button's label in the recipient's language.
pub fn unsubscribe_label(language: Option<&str>) -> &'static str {
    let russian = language.is_some_and(|l| {
        l.get(..2)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case("ru"))
    });
    if russian {
        "Отписаться"
    } else {
        "Unsubscribe"
    }
}

// ---------------------------------------------------------------------------
// Template variables

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    FirstName,
    Username,
    Language,
    Balance,
}

impl Var {
    const ALL: [Var; 4] = [Var::FirstName, Var::Username, Var::Language, Var::Balance];

    fn name(self) -> &'static str {
        match self {
            Var::FirstName => "first_name",
            Var::Username => "username",
            Var::Language => "language",
            Var::Balance => "balance",
        }
    }

    fn from_name(name: &str) -> Option<Var> {
        Var::ALL.into_iter().find(|v| v.name() == name)
    }

    /// The longest value, in characters, the variable can take: a Telegram
    /// first name is at most 64 characters, a username 32 (plus "@", but
    /// `{username}` falls back to the first name), a language code is short
    /// (10 allows "zh-hans-cn"), an i64 balance has at most 19 digits and a
    /// sign. `render` cuts values to these lengths, so `validate`'s length
    /// check holds for every recipient.
    fn longest(self) -> usize {
        match self {
            Var::FirstName | Var::Username => FIRST_NAME_MAX,
            Var::Language => LANGUAGE_MAX,
            Var::Balance => 20,
        }
    }

    /// The value for `r`, not yet escaped.
    fn value<'a>(self, r: &Recipient<'a>) -> Cow<'a, str> {
        match self {
            Var::FirstName => Cow::Borrowed(truncate(r.first_name, FIRST_NAME_MAX)),
            Var::Username => match r.username.map(|u| u.trim_start_matches('@')) {
                Some(name) if !name.is_empty() => {
                    Cow::Owned(format!("@{}", truncate(name, USERNAME_MAX)))
                }
                _ => Var::FirstName.value(r),
            },
            Var::Language => Cow::Borrowed(truncate(r.language.unwrap_or(""), LANGUAGE_MAX)),
            Var::Balance => Cow::Owned(r.balance.to_string()),
        }
    }
}

const FIRST_NAME_MAX: usize = 64;
const USERNAME_MAX: usize = 32;
const LANGUAGE_MAX: usize = 10;

fn truncate(s: &str, max_chars: usize) -> &str {
    match s.char_indices().nth(max_chars) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

fn known_variables() -> String {
    Var::ALL
        .iter()
        .map(|v| format!("{{{}}}", v.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One unit of a template after its braces are read: a character of the
/// HTML, or a variable. `at` is where it starts in the template, counted in
/// characters from 1.
#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Tok,
    at: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Char(char),
    Var(Var),
}

/// Reads the braces of a template: `{name}` is a variable, `{{` and `}}` are
/// literal braces, anything else with a brace is an error.
fn tokenize(src: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let at = i + 1;
        match chars[i] {
            '{' if chars.get(i + 1) == Some(&'{') => {
                out.push(Token {
                    kind: Tok::Char('{'),
                    at,
                });
                i += 2;
            }
            '}' if chars.get(i + 1) == Some(&'}') => {
                out.push(Token {
                    kind: Tok::Char('}'),
                    at,
                });
                i += 2;
            }
            '{' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '}' || c == '{')
                    .map(|n| i + 1 + n)
                    .filter(|&end| chars[end] == '}')
                    .ok_or_else(|| {
                        let fragment: String = chars[i + 1..]
                            .iter()
                            .take_while(|c| !c.is_whitespace() && **c != '{' && **c != '<')
                            .take(32)
                            .collect();
                        format!(
                            "unclosed {{{fragment} at character {at}: end a variable with }}, \
                             or write {{{{ for a literal brace"
                        )
                    })?;
                let name: String = chars[i + 1..end].iter().collect();
                let var = Var::from_name(&name).ok_or_else(|| {
                    format!(
                        "unknown variable {{{name}}} at character {at} (known: {})",
                        known_variables()
                    )
                })?;
                out.push(Token {
                    kind: Tok::Var(var),
                    at,
                });
                i = end + 1;
            }
            '}' => {
                return Err(format!(
                    "single }} at character {at}: write }}}} for a literal brace"
                ));
            }
            c => {
                out.push(Token {
                    kind: Tok::Char(c),
                    at,
                });
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The template with each variable replaced by its escaped value for `r`.
/// A template that does not tokenize (never after `validate`) goes out as
/// written.
fn fill(src: &str, r: &Recipient) -> String {
    let Ok(tokens) = tokenize(src) else {
        return src.to_string();
    };
    let mut out = String::with_capacity(src.len() + 32);
    for token in tokens {
        match token.kind {
            Tok::Char(c) => out.push(c),
            Tok::Var(v) => escape_into(&mut out, &v.value(r)),
        }
    }
    out
}

fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

// ---------------------------------------------------------------------------
// Telegram HTML

/// What the HTML of a text or caption shows once Telegram has parsed it.
#[derive(Debug, Default)]
struct Parsed {
    /// Characters of literal text, tags removed and entities decoded.
    chars: usize,
    /// Whether that literal text has anything besides whitespace.
    visible: bool,
    /// The variables, in order, each time it appears.
    vars: Vec<Var>,
}

/// The tags Telegram's HTML knows.
const TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "tg-emoji",
    "code",
    "pre",
    "blockquote",
];

/// tdlib's notion of a space between tag parts.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | '\u{b}' | '\u{c}')
}

struct OpenTag {
    name: String,
    at: usize,
}

struct HtmlParser<'t> {
    tokens: &'t [Token],
    pos: usize,
    open: Vec<OpenTag>,
    parsed: Parsed,
}

fn parse_html(tokens: &[Token]) -> Result<Parsed, String> {
    let mut p = HtmlParser {
        tokens,
        pos: 0,
        open: Vec::new(),
        parsed: Parsed::default(),
    };
    p.run()?;
    Ok(p.parsed)
}

impl HtmlParser<'_> {
    fn char_at(&self, pos: usize) -> Option<char> {
        match self.tokens.get(pos)?.kind {
            Tok::Char(c) => Some(c),
            Tok::Var(_) => None,
        }
    }

    /// The character at the cursor inside a tag; a variable there is an
    /// error, the end of the input is `None`.
    fn tag_char(&self, tag_at: usize) -> Result<Option<char>, String> {
        match self.tokens.get(self.pos) {
            None => Ok(None),
            Some(Token {
                kind: Tok::Char(c), ..
            }) => Ok(Some(*c)),
            Some(Token {
                kind: Tok::Var(v),
                at,
            }) => Err(format!(
                "variable {{{}}} at character {at} is inside the tag at character {tag_at}: \
                 variables can only stand in the text",
                v.name()
            )),
        }
    }

    fn unclosed_tag(tag_at: usize) -> String {
        format!("the tag at character {tag_at} is never closed with > (write &lt; for a literal <)")
    }

    fn run(&mut self) -> Result<(), String> {
        while let Some(token) = self.tokens.get(self.pos).copied() {
            match token.kind {
                Tok::Var(v) => {
                    self.parsed.vars.push(v);
                    self.pos += 1;
                }
                Tok::Char('<') => self.tag(token.at)?,
                Tok::Char('&') => {
                    let c = self.text_entity(token.at)?;
                    self.text_char(c);
                }
                Tok::Char('\0') => {
                    return Err(format!(
                        "a NUL character at character {}: Telegram stops reading there",
                        token.at
                    ));
                }
                Tok::Char(c) => {
                    self.text_char(c);
                    self.pos += 1;
                }
            }
        }
        if let Some(tag) = self.open.last() {
            return Err(format!("unclosed <{}> at character {}", tag.name, tag.at));
        }
        Ok(())
    }

    fn text_char(&mut self, c: char) {
        self.parsed.chars += 1;
        self.parsed.visible |= !c.is_whitespace();
    }

    /// Decodes the entity at the cursor the way tdlib's `decode_html_entity`
    /// does: `&lt;` `&gt;` `&amp;` `&quot;` and numeric ones, the `;` optional.
    /// Returns the code point, the tokens it spans and whether it ended with
    /// `;`; None when tdlib would keep the `&` as text.
    fn entity_at(&self) -> Option<(u32, usize, bool)> {
        let start = self.pos;
        let mut end = start + 1;
        let code = if self.char_at(end) == Some('#') {
            end += 1;
            let hex = self.char_at(end) == Some('x');
            if hex {
                end += 1;
            }
            let radix = if hex { 16 } else { 10 };
            let digits_start = end;
            let mut value: u32 = 0;
            while let Some(d) = self.char_at(end).and_then(|c| c.to_digit(radix)) {
                value = value.saturating_mul(radix).saturating_add(d);
                end += 1;
            }
            // tdlib gives up on 0, on 0x10FFFF and up, and on ten or more
            // characters from the `&`.
            if end == digits_start || value == 0 || value >= 0x10_ffff || end - start >= 10 {
                return None;
            }
            value
        } else {
            let name_start = end;
            while self.char_at(end).is_some_and(|c| c.is_ascii_alphabetic()) {
                end += 1;
            }
            let name: String = (name_start..end).filter_map(|i| self.char_at(i)).collect();
            match name.as_str() {
                "lt" => u32::from('<'),
                "gt" => u32::from('>'),
                "amp" => u32::from('&'),
                "quot" => u32::from('"'),
                _ => return None,
            }
        };
        let semicolon = self.char_at(end) == Some(';');
        let len = end - start + usize::from(semicolon);
        Some((code, len, semicolon))
    }

    /// An entity in text: it must be a whole one, `;` included.
    fn text_entity(&mut self, at: usize) -> Result<char, String> {
        let written: String = (self.pos..self.tokens.len())
            .map_while(|i| self.char_at(i))
            .take_while(|&c| c != ';' && !c.is_whitespace() && c != '<')
            .take(12)
            .collect();
        match self.entity_at() {
            Some((code, len, true)) => {
                let c = char::from_u32(code).ok_or_else(|| {
                    format!("{written}; at character {at} is not a valid character")
                })?;
                self.pos += len;
                Ok(c)
            }
            Some((_, _, false)) => Err(format!(
                "{written} at character {at} lacks its ;: write {written}; for the entity, \
                 or &amp; for a literal &"
            )),
            None if written.len() > 1
                && self
                    .char_at(self.pos + 1)
                    .is_some_and(|c| c.is_ascii_alphabetic())
                && self.has_semicolon_after_name() =>
            {
                Err(format!(
                    "unsupported entity {written}; at character {at}: Telegram knows only \
                     &lt; &gt; &amp; &quot; and numeric ones like &#8212;"
                ))
            }
            None if self.char_at(self.pos + 1) == Some('#') => Err(format!(
                "{written} at character {at} is not a valid numeric entity \
                 (write &amp; for a literal &)"
            )),
            None => Err(format!(
                "bare & at character {at}: write &amp; for a literal &"
            )),
        }
    }

    fn has_semicolon_after_name(&self) -> bool {
        let mut i = self.pos + 1;
        while self.char_at(i).is_some_and(|c| c.is_ascii_alphanumeric()) {
            i += 1;
        }
        self.char_at(i) == Some(';')
    }

    fn tag(&mut self, at: usize) -> Result<(), String> {
        self.pos += 1;
        if self.tag_char(at)? == Some('/') {
            self.pos += 1;
            return self.end_tag(at);
        }
        let name = self.tag_name(at)?;
        if name.is_empty() {
            return Err(format!(
                "bare < at character {at}: write &lt; for a literal <"
            ));
        }
        if !TAGS.contains(&name.as_str()) {
            return Err(format!(
                "unsupported tag <{name}> at character {at} (Telegram knows b, strong, i, em, u, \
                 ins, s, strike, del, span class=\"tg-spoiler\", tg-spoiler, a, tg-emoji, code, \
                 pre, blockquote; write &lt; for a literal <)"
            ));
        }
        let attrs = self.attributes(&name, at)?;
        self.check_start_tag(&name, at, &attrs)?;
        self.open.push(OpenTag { name, at });
        Ok(())
    }

    /// A tag name: up to a space or `>`, lower-cased as tdlib does.
    fn tag_name(&mut self, at: usize) -> Result<String, String> {
        let mut name = String::new();
        loop {
            match self.tag_char(at)? {
                None => return Err(Self::unclosed_tag(at)),
                Some(c) if is_space(c) || c == '>' => return Ok(name.to_lowercase()),
                Some(c) => {
                    name.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// The attributes of a start tag, up to and including its `>`.
    fn attributes(&mut self, tag: &str, at: usize) -> Result<Vec<(String, String)>, String> {
        let mut attrs = Vec::new();
        loop {
            self.skip_spaces(at)?;
            let attr_at = match self.tokens.get(self.pos) {
                None => return Err(Self::unclosed_tag(at)),
                Some(t) => t.at,
            };
            if self.tag_char(at)? == Some('>') {
                self.pos += 1;
                return Ok(attrs);
            }
            let mut name = String::new();
            while let Some(c) = self.tag_char(at)? {
                if is_space(c) || c == '=' || c == '>' {
                    break;
                }
                name.push(c);
                self.pos += 1;
            }
            if name.is_empty() {
                return Err(format!(
                    "an attribute of <{tag}> at character {attr_at} has no name"
                ));
            }
            self.skip_spaces(at)?;
            match self.tag_char(at)? {
                None => return Err(Self::unclosed_tag(at)),
                Some('=') => self.pos += 1,
                Some(_) if tag == "blockquote" && name == "expandable" => {
                    attrs.push((name, String::new()));
                    continue;
                }
                Some(_) => {
                    return Err(format!(
                        "attribute {name} of <{tag}> at character {attr_at} needs a value, \
                         like {name}=\"...\""
                    ));
                }
            }
            self.skip_spaces(at)?;
            let value = match self.tag_char(at)? {
                None => return Err(Self::unclosed_tag(at)),
                Some(quote @ ('"' | '\'')) => {
                    self.pos += 1;
                    self.quoted_value(quote, at)?
                }
                Some(_) => self.bare_value(&name, attr_at, at)?,
            };
            attrs.push((name, value));
        }
    }

    fn skip_spaces(&mut self, at: usize) -> Result<(), String> {
        while self.tag_char(at)?.is_some_and(is_space) {
            self.pos += 1;
        }
        Ok(())
    }

    /// A quoted attribute value, entities decoded. As in tdlib a `&` that
    /// starts no entity stays (URLs are full of them); one that tdlib would
    /// read as an entity without its `;` (`&lt=1`) is refused, because the
    /// link would silently change.
    fn quoted_value(&mut self, quote: char, at: usize) -> Result<String, String> {
        let mut value = String::new();
        loop {
            match self.tag_char(at)? {
                None => return Err(Self::unclosed_tag(at)),
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(value);
                }
                Some('&') => match self.entity_at() {
                    Some((code, len, true)) => {
                        let amp_at = self.tokens[self.pos].at;
                        value.push(char::from_u32(code).ok_or_else(|| {
                            format!("the entity at character {amp_at} is not a valid character")
                        })?);
                        self.pos += len;
                    }
                    Some((_, len, false)) => {
                        let amp_at = self.tokens[self.pos].at;
                        let written: String = (self.pos..self.pos + len)
                            .filter_map(|i| self.char_at(i))
                            .collect();
                        return Err(format!(
                            "{written} at character {amp_at} reads as an entity to Telegram: \
                             write &amp;{} to keep it as text",
                            &written[1..]
                        ));
                    }
                    None => {
                        value.push('&');
                        self.pos += 1;
                    }
                },
                Some(c) => {
                    value.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// An unquoted value: letters, digits, `.` and `-`, lower-cased (tdlib).
    fn bare_value(&mut self, name: &str, attr_at: usize, at: usize) -> Result<String, String> {
        let mut value = String::new();
        while let Some(c) = self.tag_char(at)? {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                value.push(c.to_ascii_lowercase());
                self.pos += 1;
            } else if is_space(c) || c == '>' {
                return Ok(value);
            } else {
                return Err(format!(
                    "the value of {name} at character {attr_at} must be in quotes, \
                     like {name}=\"...\""
                ));
            }
        }
        Err(Self::unclosed_tag(at))
    }

    fn check_start_tag(
        &self,
        name: &str,
        at: usize,
        attrs: &[(String, String)],
    ) -> Result<(), String> {
        // The last value of an attribute counts, as in tdlib.
        let attr = |key: &str| {
            attrs
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        match name {
            "a" => {
                let href = attr("href")
                    .ok_or_else(|| format!("<a> at character {at} has no href=\"...\" link"))?;
                check_link(href)
                    .map_err(|why| format!("the link of <a> at character {at} {why}"))?;
            }
            "span" if attr("class") != Some("tg-spoiler") => {
                return Err(format!(
                    "<span> at character {at} needs class=\"tg-spoiler\", the only span Telegram knows"
                ));
            }
            "tg-emoji" => {
                let id = attr("emoji-id").unwrap_or("");
                let valid = !id.is_empty()
                    && id.bytes().all(|b| b.is_ascii_digit())
                    && id.parse::<i64>().is_ok_and(|n| n > 0);
                if !valid {
                    return Err(format!(
                        "<tg-emoji> at character {at} needs emoji-id=\"...\" with the custom emoji's number"
                    ));
                }
            }
            _ => {}
        }
        self.check_nesting(name, at)
    }

    /// Telegram's entity rules: nothing inside code and pre (but pre's own
    /// `<code class="language-x">`), no link in a link, no quote in a quote.
    fn check_nesting(&self, name: &str, at: usize) -> Result<(), String> {
        let inside = |tag: &str| self.open.iter().rev().find(|t| t.name == tag);
        if let Some(code) = inside("code") {
            return Err(format!(
                "<{name}> at character {at} is inside <code> from character {}: Telegram shows no \
                 formatting in code",
                code.at
            ));
        }
        if let Some(pre) = inside("pre") {
            let language_block =
                name == "code" && self.open.last().is_some_and(|t| t.name == "pre");
            if !language_block {
                return Err(format!(
                    "<{name}> at character {at} is inside <pre> from character {}: Telegram shows \
                     no formatting in a code block",
                    pre.at
                ));
            }
        }
        if name == "a"
            && let Some(link) = inside("a")
        {
            return Err(format!(
                "<a> at character {at} is inside the link from character {}: links can't be nested",
                link.at
            ));
        }
        if name == "blockquote"
            && let Some(quote) = inside("blockquote")
        {
            return Err(format!(
                "<blockquote> at character {at} is inside the quote from character {}: quotes \
                 can't be nested",
                quote.at
            ));
        }
        Ok(())
    }

    /// `</name>` (or `</>`, which tdlib reads as closing the innermost tag);
    /// the cursor is past the `</`.
    fn end_tag(&mut self, at: usize) -> Result<(), String> {
        let mut name = String::new();
        while let Some(c) = self.tag_char(at)? {
            if is_space(c) || c == '>' {
                break;
            }
            name.push(c);
            self.pos += 1;
        }
        let name = name.to_lowercase();
        self.skip_spaces(at)?;
        if self.tag_char(at)? != Some('>') {
            return Err(format!(
                "the end tag at character {at} is never closed with >"
            ));
        }
        self.pos += 1;
        let Some(open) = self.open.last() else {
            return Err(format!(
                "unexpected </{name}> at character {at}: no tag is open"
            ));
        };
        if !name.is_empty() && name != open.name {
            return Err(format!(
                "mismatched </{name}> at character {at}: <{}> from character {} must be closed first",
                open.name, open.at
            ));
        }
        self.open.pop();
        Ok(())
    }
}

/// Why an `<a href>` can't be a Telegram link, as the end of a sentence.
fn check_link(href: &str) -> Result<(), String> {
    let href = href.trim();
    match url::Url::parse(href) {
        Ok(url) => match url.scheme() {
            "http" | "https" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
            "tg" | "mailto"
                if !url.path().is_empty() || url.host_str().is_some_and(|h| !h.is_empty()) =>
            {
                Ok(())
            }
            "http" | "https" | "tg" | "mailto" => Err(format!("{href:?} is incomplete")),
            _ => Err(format!(
                "{href:?} must start with http://, https://, tg:// or mailto:"
            )),
        },
        Err(url::ParseError::RelativeUrlWithoutBase) => Err(format!(
            "{href:?} must start with http://, https://, tg:// or mailto:"
        )),
        Err(e) => Err(format!("{href:?} is not a valid URL ({e})")),
    }
}

// ---------------------------------------------------------------------------
// The parts of a Content

fn validate_text(text: &TextBody) -> Result<(), String> {
    let parsed = check_formatted("text", &text.html, TEXT_MAX_CHARS)?;
    let only_blank_vars = parsed.vars.iter().all(|v| *v == Var::Language);
    if !parsed.visible && only_blank_vars {
        return Err(if parsed.vars.is_empty() && parsed.chars == 0 {
            "text is empty: Telegram refuses a message without text".to_string()
        } else {
            "text shows nothing (only spaces, tags or {language}, which can be empty): \
             Telegram refuses an empty message"
                .to_string()
        });
    }
    Ok(())
}

fn validate_media(media: &MediaBody) -> Result<(), String> {
    match MediaKind::try_from(media.kind) {
        Ok(MediaKind::Unspecified) => {
            return Err("media kind is missing: photo, video, document or animation".into());
        }
        Err(_) => {
            return Err(format!(
                "unknown media kind {}: photo, video, document or animation",
                media.kind
            ));
        }
        Ok(_) => {}
    }
    if media.file_id.trim().is_empty() {
        return Err("media has no file_id: upload the file to the bot first".into());
    }
    if !media.caption_html.trim().is_empty() {
        check_formatted("caption", &media.caption_html, CAPTION_MAX_CHARS)?;
    }
    Ok(())
}

fn validate_copy(copy: &CopyBody) -> Result<(), String> {
    if copy.from_chat_id == 0 {
        return Err("the message to copy has no from_chat_id".into());
    }
    if copy.message_id <= 0 {
        return Err("the message to copy has no message_id".into());
    }
    Ok(())
}

/// Checks a text or caption (`what`) and its length with each variable at
/// its longest value.
fn check_formatted(what: &str, html: &str, max_chars: usize) -> Result<Parsed, String> {
    let tokens = tokenize(html).map_err(|e| format!("{what}: {e}"))?;
    let parsed = parse_html(&tokens).map_err(|e| format!("{what}: {e}"))?;
    let longest = parsed.chars + parsed.vars.iter().map(|v| v.longest()).sum::<usize>();
    if longest > max_chars {
        if parsed.vars.is_empty() {
            return Err(format!(
                "{what} is too long: {longest} characters after formatting, Telegram allows {max_chars}"
            ));
        }
        let mut used: Vec<Var> = Vec::new();
        for v in &parsed.vars {
            if !used.contains(v) {
                used.push(*v);
            }
        }
        let sizes = used
            .iter()
            .map(|v| format!("{{{}}} {}", v.name(), v.longest()))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(format!(
            "{what} can be too long: {longest} characters after formatting with each variable at \
             its longest ({sizes}), Telegram allows {max_chars}"
        ));
    }
    Ok(parsed)
}

fn validate_buttons(buttons: &[UrlButton]) -> Result<(), String> {
    if buttons.len() > MAX_BUTTONS {
        return Err(format!(
            "too many buttons: {}, at most {MAX_BUTTONS}",
            buttons.len()
        ));
    }
    for (n, button) in buttons.iter().enumerate() {
        let n = n + 1;
        let text = button.text.trim();
        if text.is_empty() {
            return Err(format!("button {n} has no text"));
        }
        let chars = text.chars().count();
        if chars > BUTTON_TEXT_MAX_CHARS {
            return Err(format!(
                "button {n} text is too long: {chars} characters, at most {BUTTON_TEXT_MAX_CHARS}"
            ));
        }
        for field in [text, button.url.as_str()] {
            if let Some(v) = Var::ALL
                .iter()
                .find(|v| field.contains(&format!("{{{}}}", v.name())))
            {
                return Err(format!(
                    "button {n} ({text:?}): variables such as {{{}}} are not filled in buttons",
                    v.name()
                ));
            }
        }
        check_button_url(&button.url)
            .map_err(|why| format!("button {n} ({text:?}): the link {why}"))?;
    }
    Ok(())
}

fn check_button_url(url: &str) -> Result<(), String> {
    let url = url.trim();
    if url.is_empty() {
        return Err("is missing".into());
    }
    match url::Url::parse(url) {
        Ok(parsed) => match parsed.scheme() {
            "http" | "https" if parsed.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
            "tg" if parsed.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
            "http" | "https" | "tg" => Err(format!("{url:?} is incomplete")),
            _ => Err(format!(
                "{url:?} must start with http://, https:// or tg://"
            )),
        },
        Err(url::ParseError::RelativeUrlWithoutBase) => Err(format!(
            "{url:?} must start with http://, https:// or tg://"
        )),
        Err(e) => Err(format!("{url:?} is not a valid URL ({e})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: Recipient<'static> = Recipient {
        first_name: "Alice",
        username: Some("alice"),
        language: Some("en"),
        balance: 250,
    };

    fn text(html: &str) -> Content {
        Content {
            body: Some(Body::Text(TextBody {
                html: html.into(),
                disable_link_preview: false,
            })),
            ..Default::default()
        }
    }

    fn media(kind: MediaKind, file_id: &str, caption: &str) -> Content {
        Content {
            body: Some(Body::Media(MediaBody {
                kind: kind.into(),
                file_id: file_id.into(),
                caption_html: caption.into(),
            })),
            ..Default::default()
        }
    }

    fn copy(from_chat_id: i64, message_id: i64) -> Content {
        Content {
            body: Some(Body::Copy(CopyBody {
                from_chat_id,
                message_id,
            })),
            ..Default::default()
        }
    }

    fn button(text: &str, url: &str) -> UrlButton {
        UrlButton {
            text: text.into(),
            url: url.into(),
        }
    }

    fn with_buttons(mut content: Content, buttons: Vec<UrlButton>) -> Content {
        content.buttons = buttons;
        content
    }

    /// The reason `html` as a text is refused.
    fn refused(html: &str) -> String {
        match validate(&text(html)) {
            Ok(()) => panic!("{html:?} was accepted"),
            Err(e) => e,
        }
    }

    fn accepted(html: &str) {
        if let Err(e) = validate(&text(html)) {
            panic!("{html:?} was refused: {e}");
        }
    }

    fn rendered_text(html: &str, r: &Recipient) -> String {
        let out = render(&text(html), r);
        out.params["text"].as_str().unwrap().to_string()
    }

    fn assert_contains(haystack: &str, needle: &str) {
        assert!(
            haystack.contains(needle),
            "expected {needle:?} in {haystack:?}"
        );
    }

    // --- bodies -------------------------------------------------------------

    #[test]
    fn content_without_a_body_is_refused() {
        let err = validate(&Content::default()).unwrap_err();
        assert_contains(&err, "no body");
    }

    #[test]
    fn text_is_a_send_message_in_html() {
        let content = text("<b>Hello</b>");
        validate(&content).unwrap();
        let out = render(&content, &ALICE);
        assert_eq!(out.method, "sendMessage");
        assert_eq!(
            out.params,
            json!({
                "text": "<b>Hello</b>",
                "parse_mode": "HTML",
                "disable_notification": false,
            })
        );
    }

    #[test]
    fn disabled_link_preview_is_passed_on() {
        let content = Content {
            body: Some(Body::Text(TextBody {
                html: "https://example.com".into(),
                disable_link_preview: true,
            })),
            ..Default::default()
        };
        let out = render(&content, &ALICE);
        assert_eq!(
            out.params["link_preview_options"],
            json!({ "is_disabled": true })
        );
    }

    #[test]
    fn disable_notification_is_passed_on() {
        let mut content = text("quiet");
        content.disable_notification = true;
        assert_eq!(
            render(&content, &ALICE).params["disable_notification"],
            true
        );
    }

    #[test]
    fn each_media_kind_has_its_method_and_field() {
        for (kind, method, field) in [
            (MediaKind::Photo, "sendPhoto", "photo"),
            (MediaKind::Video, "sendVideo", "video"),
            (MediaKind::Document, "sendDocument", "document"),
            (MediaKind::Animation, "sendAnimation", "animation"),
        ] {
            let content = media(kind, "FILE123", "");
            validate(&content).unwrap();
            let out = render(&content, &ALICE);
            assert_eq!(out.method, method);
            assert_eq!(out.params[field], "FILE123", "{method}");
        }
    }

    #[test]
    fn media_caption_is_html_with_variables() {
        let content = media(MediaKind::Photo, "AgAD", "<i>For {first_name}</i>");
        validate(&content).unwrap();
        let out = render(&content, &ALICE);
        assert_eq!(out.params["caption"], "<i>For Alice</i>");
        assert_eq!(out.params["parse_mode"], "HTML");
    }

    #[test]
    fn empty_caption_sends_no_caption() {
        for caption in ["", "   "] {
            let out = render(&media(MediaKind::Video, "BAAD", caption), &ALICE);
            assert!(out.params.get("caption").is_none(), "{caption:?}");
            assert!(out.params.get("parse_mode").is_none(), "{caption:?}");
        }
    }

    #[test]
    fn media_without_a_kind_is_refused() {
        let err = validate(&media(MediaKind::Unspecified, "AgAD", "")).unwrap_err();
        assert_contains(&err, "media kind is missing");
        let mut unknown = media(MediaKind::Photo, "AgAD", "");
        if let Some(Body::Media(m)) = &mut unknown.body {
            m.kind = 42;
        }
        assert_contains(&validate(&unknown).unwrap_err(), "unknown media kind 42");
    }

    #[test]
    fn media_without_a_file_id_is_refused() {
        for file_id in ["", "  "] {
            let err = validate(&media(MediaKind::Photo, file_id, "")).unwrap_err();
            assert_contains(&err, "no file_id");
        }
    }

    #[test]
    fn media_caption_is_checked_like_text() {
        let err = validate(&media(MediaKind::Photo, "AgAD", "<b>unclosed")).unwrap_err();
        assert_eq!(err, "caption: unclosed <b> at character 1");
        let err = validate(&media(MediaKind::Photo, "AgAD", "{firstname}")).unwrap_err();
        assert_contains(&err, "caption: unknown variable {firstname}");
    }

    #[test]
    fn copy_is_a_copy_message() {
        let content = copy(-100123, 42);
        validate(&content).unwrap();
        let out = render(&content, &ALICE);
        assert_eq!(out.method, "copyMessage");
        assert_eq!(
            out.params,
            json!({ "from_chat_id": -100123, "message_id": 42, "disable_notification": false })
        );
    }

    #[test]
    fn copy_without_ids_is_refused() {
        assert_contains(&validate(&copy(0, 42)).unwrap_err(), "from_chat_id");
        assert_contains(&validate(&copy(-100123, 0)).unwrap_err(), "message_id");
        assert_contains(&validate(&copy(0, 0)).unwrap_err(), "no from_chat_id");
    }

    #[test]
    fn copy_keeps_its_buttons() {
        let content = with_buttons(copy(-100, 7), vec![button("Go", "https://example.com")]);
        validate(&content).unwrap();
        let out = render(&content, &ALICE);
        assert_eq!(
            out.params["reply_markup"],
            json!({ "inline_keyboard": [[{ "text": "Go", "url": "https://example.com" }]] })
        );
    }

    // --- variables ----------------------------------------------------------

    #[test]
    fn first_name_is_filled() {
        assert_eq!(rendered_text("Hi {first_name}!", &ALICE), "Hi Alice!");
    }

    #[test]
    fn username_is_filled_with_an_at() {
        assert_eq!(rendered_text("{username}", &ALICE), "@alice");
        let stored_with_at = Recipient {
            username: Some("@alice"),
            ..ALICE
        };
        assert_eq!(rendered_text("{username}", &stored_with_at), "@alice");
    }

    #[test]
    fn username_falls_back_to_the_first_name() {
        for username in [None, Some("")] {
            let r = Recipient { username, ..ALICE };
            assert_eq!(rendered_text("Hi {username}!", &r), "Hi Alice!");
        }
    }

    #[test]
    fn language_is_filled_or_empty() {
        let r = Recipient {
            language: Some("pt-br"),
            ..ALICE
        };
        assert_eq!(rendered_text("[{language}]", &r), "[pt-br]");
        let r = Recipient {
            language: None,
            ..ALICE
        };
        assert_eq!(rendered_text("[{language}]", &r), "[]");
    }

    #[test]
    fn balance_is_filled() {
        assert_eq!(rendered_text("{balance} stars", &ALICE), "250 stars");
        let r = Recipient {
            balance: -5,
            ..ALICE
        };
        assert_eq!(rendered_text("{balance}", &r), "-5");
    }

    #[test]
    fn filled_values_are_html_escaped() {
        let r = Recipient {
            first_name: "<b>Tom & \"Jerry\"</b>",
            username: None,
            language: Some("<i>"),
            balance: 0,
        };
        let filled = rendered_text("<i>{first_name}</i> {username} {language}", &r);
        assert_eq!(
            filled,
            "<i>&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;</i> \
             &lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt; &lt;i&gt;"
        );
        // Telegram reads it back as the values themselves: only the <i> of
        // the template is a tag, everything else is text.
        let parsed = parse_html(&tokenize(&filled).unwrap()).unwrap();
        let name = "<b>Tom & \"Jerry\"</b>".chars().count();
        assert_eq!(parsed.chars, name + 1 + name + 1 + "<i>".len());
    }

    #[test]
    fn values_are_cut_to_their_longest() {
        let long = "x".repeat(100);
        let r = Recipient {
            first_name: &long,
            username: Some(&long),
            language: Some(&long),
            balance: i64::MIN,
        };
        assert_eq!(rendered_text("{first_name}", &r).chars().count(), 64);
        assert_eq!(rendered_text("{username}", &r).chars().count(), 33);
        assert_eq!(rendered_text("{language}", &r).chars().count(), 10);
        assert_eq!(rendered_text("{balance}", &r).chars().count(), 20);
    }

    #[test]
    fn double_braces_are_literal_braces() {
        accepted("{{first_name}} and {{{first_name}}}");
        assert_eq!(
            rendered_text("{{first_name}} and {{{first_name}}}", &ALICE),
            "{first_name} and {Alice}"
        );
        assert_eq!(rendered_text("{{}}", &ALICE), "{}");
    }

    #[test]
    fn unknown_variable_is_refused_by_name() {
        let err = refused("Hi {firstname}!");
        assert_contains(&err, "unknown variable {firstname} at character 4");
        assert_contains(&err, "{first_name}");
    }

    #[test]
    fn unclosed_brace_is_refused_by_name() {
        let err = refused("Hi {first_name, welcome");
        assert_contains(&err, "unclosed {first_name, at character 4");
        assert_contains(&refused("Hi {"), "unclosed { at character 4");
        // A brace opened inside another one is unclosed, not a long name.
        assert_contains(
            &refused("{oops {first_name}"),
            "unclosed {oops at character 1",
        );
    }

    #[test]
    fn single_closing_brace_is_refused() {
        assert_contains(&refused("smile :}"), "single } at character 8");
    }

    #[test]
    fn variable_inside_a_tag_is_refused() {
        let err = refused("<a href=\"https://t.me/{username}\">me</a>");
        assert_contains(
            &err,
            "variable {username} at character 23 is inside the tag",
        );
    }

    #[test]
    fn literal_brace_inside_a_tag_is_kept() {
        let html = "<a href=\"https://example.com/{{id}}\">x</a>";
        accepted(html);
        assert_eq!(
            rendered_text(html, &ALICE),
            "<a href=\"https://example.com/{id}\">x</a>"
        );
    }

    // --- Telegram HTML --------------------------------------------------------

    #[test]
    fn every_telegram_tag_is_accepted() {
        accepted(
            "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>i</ins>\
             <s>s</s><strike>s</strike><del>d</del>\
             <span class=\"tg-spoiler\">x</span><tg-spoiler>x</tg-spoiler>\
             <a href=\"https://example.com\">l</a><a href=\"tg://user?id=1\">m</a>\
             <a href=\"mailto:a@example.com\">e</a>\
             <tg-emoji emoji-id=\"5368324170671202286\">👍</tg-emoji>\
             <code>c</code><pre>p</pre><pre><code class=\"language-rust\">fn</code></pre>\
             <blockquote>q</blockquote><blockquote expandable>long</blockquote>",
        );
    }

    #[test]
    fn tag_names_ignore_case() {
        accepted("<B>bold</B> <Blockquote>q</BLOCKQUOTE>");
    }

    #[test]
    fn nested_tags_are_accepted() {
        accepted("<b>bold <i>both <u>all <s>four</s></u></i></b>");
        accepted("<blockquote><b>quoted <a href=\"https://example.com\">link</a></b></blockquote>");
        accepted("<a href=\"https://example.com\"><b>bold link</b></a>");
    }

    #[test]
    fn unclosed_tag_is_refused_with_its_position() {
        assert_eq!(
            refused("Hello, <b>world"),
            "text: unclosed <b> at character 8"
        );
        // The innermost open tag is named, as Telegram does.
        assert_contains(&refused("<b>a<i>b"), "unclosed <i> at character 5");
    }

    #[test]
    fn unsupported_tag_is_refused() {
        assert_contains(
            &refused("<div>x</div>"),
            "unsupported tag <div> at character 1",
        );
        assert_contains(
            &refused("line<br>break"),
            "unsupported tag <br> at character 5",
        );
        assert_contains(&refused("x<br/>"), "unsupported tag <br/>");
        assert_contains(&refused("<b/>"), "unsupported tag <b/>");
        assert_contains(&refused("I <3 you"), "unsupported tag <3> at character 3");
    }

    #[test]
    fn improperly_nested_tags_are_refused() {
        assert_eq!(
            refused("<b><i>x</b></i>"),
            "text: mismatched </b> at character 8: <i> from character 4 must be closed first"
        );
    }

    #[test]
    fn end_tag_without_start_is_refused() {
        assert_contains(
            &refused("x</b>"),
            "unexpected </b> at character 2: no tag is open",
        );
    }

    #[test]
    fn empty_end_tag_closes_the_innermost_tag() {
        accepted("<b>bold <i>both</></>");
    }

    #[test]
    fn bare_less_than_is_refused() {
        assert_contains(&refused("1 < 2"), "bare < at character 3");
        assert_contains(&refused("a <"), "never closed");
        assert_contains(
            &refused("<b"),
            "the tag at character 1 is never closed with >",
        );
        accepted("1 &lt; 2");
    }

    #[test]
    fn greater_than_is_text() {
        accepted("2 > 1");
        accepted("-> done");
    }

    #[test]
    fn bare_ampersand_is_refused() {
        assert_contains(&refused("Tom & Jerry"), "bare & at character 5");
        assert_contains(&refused("a&b"), "bare & at character 2");
        assert_contains(&refused("&"), "bare & at character 1");
    }

    #[test]
    fn entity_without_semicolon_is_refused() {
        assert_contains(&refused("a &amp b"), "&amp at character 3 lacks its ;");
        assert_contains(&refused("&lt"), "lacks its ;");
    }

    #[test]
    fn only_telegrams_named_entities_are_accepted() {
        accepted("&lt;&gt;&amp;&quot;");
        assert_contains(
            &refused("a&nbsp;b"),
            "unsupported entity &nbsp; at character 2",
        );
        assert_contains(&refused("&copy; 2026"), "unsupported entity &copy;");
        // Names are case-sensitive in Telegram.
        assert_contains(&refused("&LT;"), "unsupported entity &LT;");
    }

    #[test]
    fn numeric_entities_are_accepted() {
        accepted("&#8212; &#x1F600; &#65;");
    }

    #[test]
    fn invalid_numeric_entities_are_refused() {
        assert_contains(&refused("&#0;"), "not a valid numeric entity");
        assert_contains(
            &refused("&#xD800;"),
            "&#xD800; at character 1 is not a valid character",
        );
        assert_contains(&refused("&#;"), "not a valid numeric entity");
        assert_contains(&refused("&#99999999;"), "not a valid numeric entity");
    }

    #[test]
    fn nul_character_is_refused() {
        assert_contains(&refused("a\0b"), "NUL character at character 2");
    }

    #[test]
    fn escaped_ampersand_in_a_link_is_accepted_and_sent_as_written() {
        let html = "<a href=\"https://example.com/?a=1&amp;b=2\">x</a>";
        accepted(html);
        assert_eq!(rendered_text(html, &ALICE), html);
    }

    #[test]
    fn plain_ampersand_in_a_link_is_accepted_as_telegram_does() {
        accepted("<a href=\"https://example.com/?utm_source=tg&utm_medium=news\">x</a>");
    }

    #[test]
    fn ampersand_in_a_link_that_telegram_reads_as_an_entity_is_refused() {
        let err = refused("<a href=\"https://example.com/?x=1&lt=2\">x</a>");
        assert_contains(&err, "&lt at character 34 reads as an entity to Telegram");
        assert_contains(&err, "&amp;lt");
    }

    #[test]
    fn entity_in_a_link_is_decoded_before_the_link_is_checked() {
        // &#104; is "h": the href is https://example.com.
        accepted("<a href=\"&#104;ttps://example.com\">x</a>");
        assert_contains(
            &refused("<a href=\"&#106;avascript:alert(1)\">x</a>"),
            "must start with http://",
        );
    }

    #[test]
    fn link_needs_an_http_tg_or_mailto_href() {
        assert_contains(&refused("<a>x</a>"), "<a> at character 1 has no href");
        assert_contains(
            &refused("<a href=\"javascript:alert(1)\">x</a>"),
            "must start with",
        );
        assert_contains(&refused("<a href=\"example.com\">x</a>"), "must start with");
        assert_contains(
            &refused("<a href=\"ftp://example.com\">x</a>"),
            "must start with",
        );
        assert_contains(
            &refused("<a href=\"https://\">x</a>"),
            "the link of <a> at character 1",
        );
        assert_contains(&refused("<a href=\"\">x</a>"), "must start with");
        assert_contains(&refused("<a href=\"tg://\">x</a>"), "is incomplete");
        assert_contains(&refused("<a href=\"mailto:\">x</a>"), "is incomplete");
        accepted("<a href='https://example.com/path?q=1'>single quotes</a>");
        accepted("<a href=\"tg://resolve?domain=durov\">tg</a>");
    }

    #[test]
    fn unquoted_attribute_value_must_be_a_plain_token() {
        // tdlib reads letters, digits, dots and dashes only.
        assert_contains(
            &refused("<a href=https://example.com>x</a>"),
            "must be in quotes",
        );
        accepted("<span class=tg-spoiler>hidden</span>");
    }

    #[test]
    fn unknown_attributes_are_ignored() {
        accepted("<a href=\"https://example.com\" target=\"_blank\">x</a>");
        accepted("<b class=\"x\">bold</b>");
    }

    #[test]
    fn attribute_without_value_is_refused_except_expandable() {
        assert_contains(
            &refused("<b bold>x</b>"),
            "attribute bold of <b> at character 4 needs a value",
        );
        assert_contains(&refused("<b expandable>x</b>"), "needs a value");
        assert_contains(&refused("<a =\"x\">x</a>"), "has no name");
        accepted("<blockquote expandable>x</blockquote>");
    }

    #[test]
    fn span_must_be_a_spoiler() {
        assert_contains(&refused("<span>x</span>"), "needs class=\"tg-spoiler\"");
        assert_contains(
            &refused("<span class=\"red\">x</span>"),
            "needs class=\"tg-spoiler\"",
        );
        accepted("<span class=\"tg-spoiler\">x</span>");
    }

    #[test]
    fn custom_emoji_needs_its_id() {
        assert_contains(&refused("<tg-emoji>👍</tg-emoji>"), "needs emoji-id");
        assert_contains(
            &refused("<tg-emoji emoji-id=\"abc\">👍</tg-emoji>"),
            "needs emoji-id",
        );
        assert_contains(
            &refused("<tg-emoji emoji-id=\"0\">👍</tg-emoji>"),
            "needs emoji-id",
        );
    }

    #[test]
    fn code_block_may_name_its_language() {
        accepted("<pre><code class=\"language-python\">print(1)</code></pre>");
        accepted("<code class=\"language-python\">inline</code>");
    }

    #[test]
    fn formatting_inside_code_is_refused() {
        assert_contains(
            &refused("<code>a <b>b</b></code>"),
            "<b> at character 9 is inside <code> from character 1",
        );
        assert_contains(
            &refused("<pre>a <i>b</i></pre>"),
            "<i> at character 8 is inside <pre>",
        );
        assert_contains(&refused("<pre><b><code>x</code></b></pre>"), "inside <pre>");
        assert_contains(&refused("<code><code>x</code></code>"), "inside <code>");
    }

    #[test]
    fn link_inside_link_is_refused() {
        let err =
            refused("<a href=\"https://a.example\">a <a href=\"https://b.example\">b</a></a>");
        assert_contains(&err, "links can't be nested");
    }

    #[test]
    fn quote_inside_quote_is_refused() {
        assert_contains(
            &refused("<blockquote>a <blockquote>b</blockquote></blockquote>"),
            "quotes can't be nested",
        );
    }

    // --- lengths --------------------------------------------------------------

    #[test]
    fn text_up_to_4096_characters_is_accepted() {
        accepted(&"я".repeat(4096));
        let err = refused(&"я".repeat(4097));
        assert_contains(&err, "text is too long: 4097 characters");
        assert_contains(&err, "4096");
    }

    #[test]
    fn length_is_counted_after_tags_and_entities() {
        accepted(&format!("<b>{}</b>", "x".repeat(4096)));
        accepted(&"&amp;".repeat(4096));
        assert_contains(&refused(&"&#128512;".repeat(4097)), "4097 characters");
    }

    #[test]
    fn length_counts_each_variable_at_its_longest() {
        // {first_name} counts 64: 4032 + 64 = 4096 fits, one more does not.
        accepted(&format!("{}{{first_name}}", "x".repeat(4032)));
        let err = refused(&format!("{}{{first_name}}", "x".repeat(4033)));
        assert_contains(&err, "text can be too long: 4097 characters");
        assert_contains(&err, "each variable at its longest ({first_name} 64)");
    }

    #[test]
    fn longest_values_of_the_other_variables() {
        // {username} falls back to a first name, so it counts 64 too.
        accepted(&format!("{}{{username}}", "x".repeat(4032)));
        assert_contains(
            &refused(&format!("{}{{username}}", "x".repeat(4033))),
            "{username} 64",
        );
        accepted(&format!("{}{{language}}", "x".repeat(4086)));
        assert_contains(
            &refused(&format!("{}{{language}}", "x".repeat(4087))),
            "{language} 10",
        );
        accepted(&format!("{}{{balance}}", "x".repeat(4076)));
        assert_contains(
            &refused(&format!("{}{{balance}}", "x".repeat(4077))),
            "{balance} 20",
        );
    }

    #[test]
    fn every_use_of_a_variable_counts() {
        let err = refused(&format!("{}{{balance}}{{balance}}", "x".repeat(4057)));
        assert_contains(&err, "4097 characters");
    }

    #[test]
    fn caption_up_to_1024_characters_is_accepted() {
        validate(&media(MediaKind::Photo, "AgAD", &"c".repeat(1024))).unwrap();
        let err = validate(&media(MediaKind::Photo, "AgAD", &"c".repeat(1025))).unwrap_err();
        assert_contains(&err, "caption is too long: 1025 characters");
        let err = validate(&media(
            MediaKind::Photo,
            "AgAD",
            &format!("{}{{first_name}}", "c".repeat(961)),
        ))
        .unwrap_err();
        assert_contains(&err, "caption can be too long: 1025 characters");
    }

    #[test]
    fn empty_text_is_refused() {
        assert_contains(&refused(""), "text is empty");
        assert_contains(&refused("  \n "), "shows nothing");
        assert_contains(&refused("<b></b>"), "text is empty");
        assert_contains(&refused("{language}"), "shows nothing");
        accepted("{first_name}");
        accepted("&#65;");
    }

    // --- buttons --------------------------------------------------------------

    #[test]
    fn buttons_are_one_per_row_in_order() {
        let content = with_buttons(
            text("Shop"),
            vec![
                button("Open", "https://example.com/shop"),
                button(" Channel ", "tg://resolve?domain=news"),
            ],
        );
        validate(&content).unwrap();
        assert_eq!(
            render(&content, &ALICE).params["reply_markup"],
            json!({ "inline_keyboard": [
                [{ "text": "Open", "url": "https://example.com/shop" }],
                [{ "text": "Channel", "url": "tg://resolve?domain=news" }],
            ]})
        );
    }

    #[test]
    fn no_buttons_means_no_reply_markup() {
        assert!(
            render(&text("x"), &ALICE)
                .params
                .get("reply_markup")
                .is_none()
        );
    }

    #[test]
    fn at_most_twenty_buttons() {
        let buttons = |n| {
            (0..n)
                .map(|i| button(&format!("b{i}"), "https://example.com"))
                .collect()
        };
        validate(&with_buttons(text("x"), buttons(20))).unwrap();
        let err = validate(&with_buttons(text("x"), buttons(21))).unwrap_err();
        assert_contains(&err, "too many buttons: 21, at most 20");
    }

    #[test]
    fn button_needs_text() {
        for label in ["", "   "] {
            let err = validate(&with_buttons(
                text("x"),
                vec![button(label, "https://e.com")],
            ))
            .unwrap_err();
            assert_contains(&err, "button 1 has no text");
        }
    }

    #[test]
    fn button_text_is_at_most_64_characters() {
        let ok = with_buttons(text("x"), vec![button(&"ж".repeat(64), "https://e.com")]);
        validate(&ok).unwrap();
        let long = with_buttons(
            text("x"),
            vec![
                button("fine", "https://e.com"),
                button(&"ж".repeat(65), "https://e.com"),
            ],
        );
        assert_contains(
            &validate(&long).unwrap_err(),
            "button 2 text is too long: 65 characters, at most 64",
        );
    }

    #[test]
    fn button_url_must_be_http_or_tg() {
        for url in [
            "http://example.com",
            "https://example.com/a?b=c&d=e",
            "tg://resolve?domain=x",
        ] {
            validate(&with_buttons(text("x"), vec![button("ok", url)]))
                .unwrap_or_else(|e| panic!("{url}: {e}"));
        }
        for (url, why) in [
            ("", "is missing"),
            ("example.com", "must start with http://, https:// or tg://"),
            ("ftp://example.com", "must start with"),
            ("mailto:a@example.com", "must start with"),
            ("javascript:alert(1)", "must start with"),
            ("https://", "not a valid URL"),
            ("https://exa mple.com", "not a valid URL"),
        ] {
            let err = validate(&with_buttons(text("x"), vec![button("Shop", url)])).unwrap_err();
            assert_contains(&err, "button 1 (\"Shop\"): the link");
            assert_contains(&err, why);
        }
    }

    #[test]
    fn variables_in_buttons_are_refused() {
        let err = validate(&with_buttons(
            text("x"),
            vec![button("Hi {first_name}", "https://e.com")],
        ))
        .unwrap_err();
        assert_contains(&err, "{first_name} are not filled in buttons");
        let err = validate(&with_buttons(
            text("x"),
            vec![button("Me", "https://e.com/{username}")],
        ))
        .unwrap_err();
        assert_contains(&err, "{username} are not filled in buttons");
    }

    #[test]
    fn unsubscribe_button_comes_last_with_its_callback() {
        let mut content = with_buttons(text("x"), vec![button("Shop", "https://example.com")]);
        content.unsubscribe_button = true;
        validate(&content).unwrap();
        assert_eq!(
            render(&content, &ALICE).params["reply_markup"],
            json!({ "inline_keyboard": [
                [{ "text": "Shop", "url": "https://example.com" }],
                [{ "text": "Unsubscribe", "callback_data": "unsub" }],
            ]})
        );
    }

    #[test]
    fn unsubscribe_button_alone_is_the_keyboard() {
        let mut content = media(MediaKind::Photo, "AgAD", "");
        content.unsubscribe_button = true;
        assert_eq!(
            render(&content, &ALICE).params["reply_markup"],
            json!({ "inline_keyboard": [[{ "text": "Unsubscribe", "callback_data": "unsub" }]] })
        );
    }

    #[test]
    fn unsubscribe_label_follows_the_language() {
        for language in [Some("ru"), Some("ru-RU"), Some("RU")] {
            assert_eq!(unsubscribe_label(language), "Отписаться", "{language:?}");
        }
        for language in [None, Some("en"), Some("uk"), Some("r"), Some("")] {
            assert_eq!(unsubscribe_label(language), "Unsubscribe", "{language:?}");
        }
        let mut content = text("x");
        content.unsubscribe_button = true;
        let russian = Recipient {
            language: Some("ru"),
            ..ALICE
        };
        assert_eq!(
            render(&content, &russian).params["reply_markup"]["inline_keyboard"][0][0]["text"],
            "Отписаться"
        );
    }
}
