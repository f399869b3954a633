//! `parse_mode: "HTML"` as Telegram's server reads it (TDLib's HTML parser): the tags it
//! supports, the four named references plus numeric ones it decodes (anything else after `&`
//! stays literal), and its error messages with byte offsets, so a bot that builds broken HTML
//! fails here the way it would in production.

const TAGS: &[&str] = &[
    "a",
    "b",
    "strong",
    "i",
    "em",
    "s",
    "strike",
    "del",
    "u",
    "ins",
    "tg-spoiler",
    "tg-emoji",
    "tg-time",
    "span",
    "pre",
    "code",
    "blockquote",
];

/// An open tag: its name, the argument Telegram keeps (href, class...) and where its content
/// starts in the output.
struct Open {
    tag: String,
    argument: String,
    content_start: usize,
}

/// The text the user will see, or Telegram's reason for refusing it (the part after
/// "can't parse entities: ").
pub(crate) fn plain_text(html: &str) -> Result<String, String> {
    let text = html.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(text.len());
    let mut open: Vec<Open> = Vec::new();
    let mut surrogate = false;
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        if c == b'&'
            && let Some((code, next)) = decode_reference(text, i)
        {
            surrogate |= push_code(&mut out, code);
            i = next;
            continue;
        }
        if c != b'<' {
            out.push(c);
            i += 1;
            continue;
        }
        let begin = i;
        i += 1;
        if at(text, i) == b'/' {
            close_tag(text, begin, &mut i, &out, &mut open)?;
        } else {
            let mut tag = start_tag(text, begin, &mut i)?;
            tag.content_start = out.len();
            open.push(tag);
        }
        // `i` is on the tag's closing '>'.
        i += 1;
    }
    if let Some(tag) = open.last() {
        return Err(format!(
            "Can't find end tag corresponding to start tag \"{}\"",
            tag.tag
        ));
    }
    if surrogate {
        return Err("Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units".into());
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Past the end reads as NUL, as the C string the server parses.
fn at(text: &[u8], i: usize) -> u8 {
    text.get(i).copied().unwrap_or(0)
}

/// TDLib's notion of space includes NUL, which is how the end of the text stops its loops.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | 0 | 0x0b | 0x0c)
}

fn lower(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_ascii_lowercase()
}

/// Appends a decoded reference; true when it was a lone surrogate, which Telegram refuses.
fn push_code(out: &mut Vec<u8>, code: u32) -> bool {
    let ch = char::from_u32(code);
    let mut buf = [0u8; 4];
    out.extend_from_slice(
        ch.unwrap_or(char::REPLACEMENT_CHARACTER)
            .encode_utf8(&mut buf)
            .as_bytes(),
    );
    ch.is_none()
}

/// `&lt;` `&gt;` `&amp;` `&quot;` and `&#NN;`/`&#xHH;` (the `;` is optional); the code point and
/// the index after the reference. Anything else is not a reference and stays as typed.
fn decode_reference(text: &[u8], pos: usize) -> Option<(u32, usize)> {
    let mut end = pos + 1;
    let code = if at(text, end) == b'#' {
        end += 1;
        let radix = if at(text, end) == b'x' {
            end += 1;
            16
        } else {
            10
        };
        let mut code: u32 = 0;
        while let Some(d) = char::from(at(text, end)).to_digit(radix) {
            code = code.wrapping_mul(radix).wrapping_add(d);
            end += 1;
        }
        if code == 0 || code >= 0x10ffff || end - pos >= 10 {
            return None;
        }
        code
    } else {
        while at(text, end).is_ascii_alphabetic() {
            end += 1;
        }
        match &text[pos + 1..end] {
            b"lt" => u32::from('<'),
            b"gt" => u32::from('>'),
            b"amp" => u32::from('&'),
            b"quot" => u32::from('"'),
            _ => return None,
        }
    };
    let next = if at(text, end) == b';' { end + 1 } else { end };
    Some((code, next))
}

/// Reads `<tag attr="value" ...>` from just after the `<`; leaves `i` on the `>`.
fn start_tag(text: &[u8], begin: usize, i: &mut usize) -> Result<Open, String> {
    while !is_space(at(text, *i)) && at(text, *i) != b'>' {
        *i += 1;
    }
    if at(text, *i) == 0 {
        return Err(format!("Unclosed start tag at byte offset {begin}"));
    }
    let tag = lower(&text[begin + 1..*i]);
    if !TAGS.contains(&tag.as_str()) {
        return Err(format!(
            "Unsupported start tag \"{tag}\" at byte offset {begin}"
        ));
    }
    let mut argument = String::new();
    while at(text, *i) != b'>' {
        skip_spaces(text, i);
        if at(text, *i) == b'>' {
            break;
        }
        let name_start = *i;
        while !is_space(at(text, *i)) && !matches!(at(text, *i), b'=' | b'>' | b'/' | b'"' | b'\'')
        {
            *i += 1;
        }
        let name = String::from_utf8_lossy(&text[name_start..*i]).into_owned();
        if name.is_empty() {
            return Err(format!(
                "Empty attribute name in the tag \"{tag}\" at byte offset {begin}"
            ));
        }
        skip_spaces(text, i);
        if at(text, *i) != b'=' {
            // A bare attribute; only `<blockquote expandable>` means something.
            if at(text, *i) == 0 {
                return Err(format!(
                    "Unclosed start tag \"{tag}\" at byte offset {begin}"
                ));
            }
            if tag == "blockquote" && name == "expandable" {
                argument = "1".into();
            }
            continue;
        }
        *i += 1;
        skip_spaces(text, i);
        if at(text, *i) == 0 {
            return Err(format!(
                "Unclosed start tag \"{tag}\" at byte offset {begin}"
            ));
        }
        let value = attribute_value(text, i)?;
        if at(text, *i) == 0 {
            return Err(format!("Unclosed start tag at byte offset {begin}"));
        }
        match (tag.as_str(), name.as_str()) {
            ("a", "href") | ("tg-emoji", "emoji-id") => argument = value,
            ("code", "class") if value.starts_with("language-") => argument = value[9..].into(),
            ("span", "class") if value.starts_with("tg-") => argument = value[3..].into(),
            ("blockquote", "expandable") => argument = "1".into(),
            _ => {}
        }
    }
    if tag == "span" && argument != "spoiler" {
        return Err(format!(
            "Tag \"span\" must have class \"tg-spoiler\" at byte offset {begin}"
        ));
    }
    Ok(Open {
        tag,
        argument,
        content_start: 0,
    })
}

fn skip_spaces(text: &[u8], i: &mut usize) {
    while at(text, *i) != 0 && is_space(at(text, *i)) {
        *i += 1;
    }
}

/// An unquoted name token (lower-cased, like HTML) or a quoted string with references decoded.
fn attribute_value(text: &[u8], i: &mut usize) -> Result<String, String> {
    let quote = at(text, *i);
    if quote != b'"' && quote != b'\'' {
        let start = *i;
        while at(text, *i).is_ascii_alphanumeric() || matches!(at(text, *i), b'.' | b'-') {
            *i += 1;
        }
        if !is_space(at(text, *i)) && at(text, *i) != b'>' {
            return Err(format!(
                "Unexpected end of name token at byte offset {start}"
            ));
        }
        return Ok(lower(&text[start..*i]));
    }
    *i += 1;
    let mut value = Vec::new();
    while at(text, *i) != quote && at(text, *i) != 0 {
        if at(text, *i) == b'&'
            && let Some((code, next)) = decode_reference(text, *i)
        {
            push_code(&mut value, code);
            *i = next;
            continue;
        }
        value.push(text[*i]);
        *i += 1;
    }
    if at(text, *i) == quote {
        *i += 1;
    }
    Ok(String::from_utf8_lossy(&value).into_owned())
}

/// Reads `</tag>` from the `/`; leaves `i` on the `>`.
fn close_tag(
    text: &[u8],
    begin: usize,
    i: &mut usize,
    out: &[u8],
    open: &mut Vec<Open>,
) -> Result<(), String> {
    let Some(top) = open.last() else {
        return Err(format!("Unexpected end tag at byte offset {begin}"));
    };
    while !is_space(at(text, *i)) && at(text, *i) != b'>' {
        *i += 1;
    }
    let name = lower(&text[begin + 2..*i]);
    skip_spaces(text, i);
    if at(text, *i) != b'>' {
        return Err(format!("Unclosed end tag at byte offset {begin}"));
    }
    if !name.is_empty() && name != top.tag {
        return Err(format!(
            "Unmatched end tag at byte offset {begin}, expected \"</{}>\", found \"</{name}>\"",
            top.tag
        ));
    }
    // An empty custom emoji makes no entity, so only a non-empty one has its id checked.
    let has_content = out.len() > top.content_start;
    if top.tag == "tg-emoji" && has_content && !positive_id(&top.argument) {
        return Err("Invalid custom emoji identifier specified".into());
    }
    open.pop();
    Ok(())
}

fn positive_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.parse::<i64>().is_ok_and(|n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::plain_text;

    #[test]
    fn supported_tags_and_references_leave_the_visible_text() {
        let html = "<b>Sale</b> <i>-50%</i> <a href=\"https://shop.example/?a=1&amp;b=2\">shop</a> \
                    &lt;now&gt; &amp; &#8364;5 &#x1F600; &copy; x & y <span class=\"tg-spoiler\">s</span> \
                    <pre><code class=\"language-rust\">fn</code></pre> <blockquote expandable>q</blockquote> \
                    <tg-emoji emoji-id=\"5368324170671202286\">👍</tg-emoji> <B>caps</B>";
        assert_eq!(
            plain_text(html).unwrap(),
            "Sale -50% shop <now> & €5 😀 &copy; x & y s fn q 👍 caps"
        );
    }

    #[test]
    fn errors_read_like_telegrams() {
        let cases = [
            ("<br>", "Unsupported start tag \"br\" at byte offset 0"),
            ("a < b", "Unsupported start tag \"\" at byte offset 2"),
            ("x <b", "Unclosed start tag at byte offset 2"),
            ("<a href", "Unclosed start tag \"a\" at byte offset 0"),
            ("<a href=\"x\"", "Unclosed start tag at byte offset 0"),
            (
                "<a =\"x\">y</a>",
                "Empty attribute name in the tag \"a\" at byte offset 0",
            ),
            (
                "<a href=x/>y</a>",
                "Unexpected end of name token at byte offset 8",
            ),
            (
                "<span>x</span>",
                "Tag \"span\" must have class \"tg-spoiler\" at byte offset 0",
            ),
            ("x</b>", "Unexpected end tag at byte offset 1"),
            ("<b>x</b", "Unclosed end tag at byte offset 4"),
            (
                "<b>x</i>",
                "Unmatched end tag at byte offset 4, expected \"</b>\", found \"</i>\"",
            ),
            (
                "<b>x",
                "Can't find end tag corresponding to start tag \"b\"",
            ),
            (
                "<tg-emoji emoji-id=\"x\">y</tg-emoji>",
                "Invalid custom emoji identifier specified",
            ),
            (
                "&#xD800;",
                "Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units",
            ),
        ];
        for (html, reason) in cases {
            assert_eq!(plain_text(html), Err(reason.to_owned()), "{html}");
        }
    }

    #[test]
    fn offsets_are_in_bytes() {
        // "Привет " is 13 bytes.
        assert_eq!(
            plain_text("Привет <p>"),
            Err("Unsupported start tag \"p\" at byte offset 13".to_owned())
        );
    }

    #[test]
    fn an_end_tag_may_omit_its_name() {
        assert_eq!(plain_text("<b>x</>").unwrap(), "x");
    }
}
