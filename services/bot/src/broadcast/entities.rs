//! A formatted Telegram message (text plus `entities`) as Telegram HTML, so a
//! post the admin formatted in their client is broadcast as they see it.
//!
//! Offsets and lengths are UTF-16 code units. Entities may nest, and clients
//! occasionally send overlapping ones; those are closed and reopened around
//! the overlap, so the HTML is always well-formed.

use std::collections::BTreeSet;
use telegram::MessageEntity;

/// Entity types that become tags. The others (url, mention, hashtag,
/// bot_command, email...) Telegram detects again in the sent text by itself.
fn is_formatting(kind: &str) -> bool {
    matches!(
        kind,
        "bold"
            | "italic"
            | "underline"
            | "strikethrough"
            | "spoiler"
            | "code"
            | "pre"
            | "text_link"
            | "text_mention"
            | "blockquote"
            | "expandable_blockquote"
            | "custom_emoji"
    )
}

/// Whether the message carries formatting of its own. Without any, the text
/// is taken as HTML source the admin typed.
pub fn has_formatting(entities: &[MessageEntity]) -> bool {
    entities.iter().any(|e| is_formatting(&e.kind))
}

/// Escapes text for Telegram HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn escape_attr(s: &str) -> String {
    escape(s).replace('"', "&quot;")
}

fn open_tag(e: &MessageEntity) -> String {
    match e.kind.as_str() {
        "bold" => "<b>".into(),
        "italic" => "<i>".into(),
        "underline" => "<u>".into(),
        "strikethrough" => "<s>".into(),
        "spoiler" => "<tg-spoiler>".into(),
        "code" => "<code>".into(),
        "pre" => match e.language.as_deref().filter(|l| !l.is_empty()) {
            Some(lang) => format!("<pre><code class=\"language-{}\">", escape_attr(lang)),
            None => "<pre>".into(),
        },
        "text_link" => format!(
            "<a href=\"{}\">",
            escape_attr(e.url.as_deref().unwrap_or_default())
        ),
        "text_mention" => format!(
            "<a href=\"tg://user?id={}\">",
            e.user.as_ref().map(|u| u.id).unwrap_or_default()
        ),
        "blockquote" => "<blockquote>".into(),
        "expandable_blockquote" => "<blockquote expandable>".into(),
        "custom_emoji" => format!(
            "<tg-emoji emoji-id=\"{}\">",
            escape_attr(e.custom_emoji_id.as_deref().unwrap_or_default())
        ),
        _ => String::new(),
    }
}

fn close_tag(e: &MessageEntity) -> &'static str {
    match e.kind.as_str() {
        "bold" => "</b>",
        "italic" => "</i>",
        "underline" => "</u>",
        "strikethrough" => "</s>",
        "spoiler" => "</tg-spoiler>",
        "code" => "</code>",
        "pre" if e.language.as_deref().is_some_and(|l| !l.is_empty()) => "</code></pre>",
        "pre" => "</pre>",
        "text_link" | "text_mention" => "</a>",
        "blockquote" | "expandable_blockquote" => "</blockquote>",
        "custom_emoji" => "</tg-emoji>",
        _ => "",
    }
}

struct Span<'a> {
    start: usize,
    end: usize,
    entity: &'a MessageEntity,
}

/// The text with its formatting entities as Telegram HTML; the plain text is escaped.
pub fn to_html(text: &str, entities: &[MessageEntity]) -> String {
    let units: Vec<u16> = text.encode_utf16().collect();
    let n = units.len();
    let spans: Vec<Span> = entities
        .iter()
        .filter(|e| is_formatting(&e.kind))
        .filter_map(|e| {
            let start = e.offset.min(n);
            let end = e.offset.saturating_add(e.length).min(n);
            (start < end).then_some(Span {
                start,
                end,
                entity: e,
            })
        })
        .collect();
    let mut points: BTreeSet<usize> = spans.iter().flat_map(|s| [s.start, s.end]).collect();
    points.insert(n);

    let mut out = String::with_capacity(text.len() + 16 * spans.len());
    let mut stack: Vec<usize> = Vec::new();
    let mut pos = 0;
    for p in points {
        if p > pos {
            out.push_str(&escape(&String::from_utf16_lossy(&units[pos..p])));
            pos = p;
        }
        // Close what ends here; anything above it that goes on is closed
        // too and reopened right after, keeping the tags nested.
        if stack.iter().any(|&i| spans[i].end == p) {
            let mut reopen = Vec::new();
            while stack.iter().any(|&i| spans[i].end == p) {
                let top = stack.pop().expect("non-empty");
                out.push_str(close_tag(spans[top].entity));
                if spans[top].end != p {
                    reopen.push(top);
                }
            }
            for i in reopen.into_iter().rev() {
                out.push_str(&open_tag(spans[i].entity));
                stack.push(i);
            }
        }
        // Open what starts here, the longest (outermost) first.
        let mut starting: Vec<usize> = (0..spans.len()).filter(|&i| spans[i].start == p).collect();
        starting.sort_by_key(|&i| (std::cmp::Reverse(spans[i].end), i));
        for i in starting {
            out.push_str(&open_tag(spans[i].entity));
            stack.push(i);
        }
    }
    while let Some(top) = stack.pop() {
        out.push_str(close_tag(spans[top].entity));
    }
    out
}

/// The message's text without markup, for a campaign's title.
pub fn plain_words(html: &str, max_chars: usize) -> String {
    let mut plain = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => plain.push(c),
            _ => {}
        }
    }
    let plain = plain
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    let words: Vec<&str> = plain.split_whitespace().collect();
    let mut title = String::new();
    for w in words {
        let extra = if title.is_empty() { 0 } else { 1 } + w.chars().count();
        if title.chars().count() + extra > max_chars {
            if title.is_empty() {
                title = w.chars().take(max_chars).collect();
            }
            title.push('…');
            break;
        }
        if !title.is_empty() {
            title.push(' ');
        }
        title.push_str(w);
    }
    title
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ent(kind: &str, offset: usize, length: usize) -> MessageEntity {
        MessageEntity::new(kind, offset, length)
    }

    #[test]
    fn plain_text_is_escaped() {
        assert_eq!(to_html("a < b & c > d", &[]), "a &lt; b &amp; c &gt; d");
    }

    #[test]
    fn every_formatting_entity_becomes_its_tag() {
        let text = "b i u s sp c pre link quote more";
        let mut link = ent("text_link", 17, 4);
        link.url = Some("https://example.com/?a=1&b=\"2\"".into());
        let mut pre = ent("pre", 13, 3);
        pre.language = Some("rust".into());
        let entities = vec![
            ent("bold", 0, 1),
            ent("italic", 2, 1),
            ent("underline", 4, 1),
            ent("strikethrough", 6, 1),
            ent("spoiler", 8, 2),
            ent("code", 11, 1),
            pre,
            link,
            ent("blockquote", 22, 5),
            ent("expandable_blockquote", 28, 4),
        ];
        assert_eq!(
            to_html(text, &entities),
            "<b>b</b> <i>i</i> <u>u</u> <s>s</s> <tg-spoiler>sp</tg-spoiler> <code>c</code> \
             <pre><code class=\"language-rust\">pre</code></pre> \
             <a href=\"https://example.com/?a=1&amp;b=&quot;2&quot;\">link</a> \
             <blockquote>quote</blockquote> <blockquote expandable>more</blockquote>"
        );
    }

    #[test]
    fn pre_without_language_is_a_bare_pre() {
        assert_eq!(to_html("x<y", &[ent("pre", 0, 3)]), "<pre>x&lt;y</pre>");
    }

    #[test]
    fn offsets_count_utf16_units_so_emoji_take_two() {
        // "👍" and "🎉" are two UTF-16 units each; "é" is one.
        let text = "👍 Hé <3 🎉bold! {first_name}";
        // "👍 Hé <3 " = 2+1+2+1+2+1 = 9 units, "🎉" = 2 → "bold" starts at 11.
        let html = to_html(text, &[ent("bold", 11, 4), ent("italic", 9, 2)]);
        assert_eq!(html, "👍 Hé &lt;3 <i>🎉</i><b>bold</b>! {first_name}");
    }

    #[test]
    fn nested_entities_nest_and_overlapping_ones_are_split() {
        // bold over "hello world", italic over "world".
        assert_eq!(
            to_html("hello world", &[ent("bold", 0, 11), ent("italic", 6, 5)]),
            "<b>hello <i>world</i></b>"
        );
        // bold [0,7) and italic [3,11) overlap: italic is closed and reopened.
        assert_eq!(
            to_html("abcdefghijk", &[ent("bold", 0, 7), ent("italic", 3, 8)]),
            "<b>abc<i>defg</i></b><i>hijk</i>"
        );
        // Same start: the longer one is outside.
        assert_eq!(
            to_html("abcdef", &[ent("italic", 0, 3), ent("bold", 0, 6)]),
            "<b><i>abc</i>def</b>"
        );
    }

    #[test]
    fn detected_entities_are_not_formatting_and_bad_ranges_are_clamped() {
        let only_detected = [ent("url", 0, 5), ent("mention", 6, 3)];
        assert!(!has_formatting(&only_detected));
        assert_eq!(to_html("a.com @me", &only_detected), "a.com @me");
        assert!(has_formatting(&[ent("url", 0, 1), ent("bold", 0, 1)]));
        // An entity running past the end is cut at the end; an empty one vanishes.
        assert_eq!(
            to_html("abc", &[ent("bold", 1, 99), ent("italic", 0, 0)]),
            "a<b>bc</b>"
        );
    }

    #[test]
    fn titles_are_the_first_words_without_markup() {
        assert_eq!(
            plain_words("<b>Big</b> sale &amp; more today", 14),
            "Big sale &…"
        );
        assert_eq!(plain_words("<i>Hi</i>", 40), "Hi");
        assert_eq!(plain_words("abcdefghij", 4), "abcd…");
    }
}
