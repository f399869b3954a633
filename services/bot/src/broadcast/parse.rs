//! What the admin types or uploads in the broadcast dialog, parsed here so
//! a mistake is refused at once, naming the line.

use serde::{Deserialize, Serialize};

/// Telegram allows at most 100 buttons under a message.
pub const MAX_BUTTONS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlButton {
    pub text: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ButtonsError {
    /// 1-based line number and the line as typed.
    BadLine {
        line: usize,
        text: String,
    },
    TooMany {
        max: usize,
    },
}

/// The separators accepted between a button's text and its URL (clients
/// turn a typed "--" into a dash).
const SEPARATORS: [&str; 3] = [" - ", " – ", " — "];

/// `Text - https://example.com`, one button per line; blank lines are skipped.
pub fn parse_buttons(input: &str) -> Result<Vec<UrlButton>, ButtonsError> {
    let mut buttons = Vec::new();
    for (i, raw) in input.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let bad = || ButtonsError::BadLine {
            line: i + 1,
            text: line.to_string(),
        };
        let (text, url) = SEPARATORS
            .iter()
            .filter_map(|sep| line.rfind(sep).map(|at| (at, sep.len())))
            .max_by_key(|(at, _)| *at)
            .map(|(at, len)| (line[..at].trim(), line[at + len..].trim()))
            .ok_or_else(bad)?;
        if text.is_empty() || !valid_url(url) {
            return Err(bad());
        }
        buttons.push(UrlButton {
            text: text.to_string(),
            url: url.to_string(),
        });
        if buttons.len() > MAX_BUTTONS {
            return Err(ButtonsError::TooMany { max: MAX_BUTTONS });
        }
    }
    if buttons.is_empty() {
        return Err(ButtonsError::BadLine {
            line: 1,
            text: input.trim().to_string(),
        });
    }
    Ok(buttons)
}

fn valid_url(url: &str) -> bool {
    ["https://", "http://", "tg://"].iter().any(|scheme| {
        url.strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty() && !rest.chars().any(char::is_whitespace))
    })
}

/// An uploaded list of user ids, deduplicated, in the file's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdList {
    pub ids: Vec<i64>,
    pub duplicates: usize,
    pub header: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListError {
    NotText,
    NoIds,
    /// The first few bad lines (1-based number, the line cut short) and how many there are.
    BadLines {
        first: Vec<(usize, String)>,
        total: usize,
    },
}

/// How many bad lines a refusal names.
const SHOWN_BAD_LINES: usize = 3;

fn id_token(token: &str) -> Option<i64> {
    let t = token.trim_matches('"').trim_matches('\'');
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<i64>().ok().filter(|id| *id > 0)
}

/// Ids separated by newlines, commas, semicolons or whitespace (a .txt or a
/// one-column .csv). The first non-empty line may be a header (no id in it);
/// any other line holding something that is not a user id refuses the file.
pub fn parse_id_list(bytes: &[u8]) -> Result<IdList, ListError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| ListError::NotText)?;
    let mut seen = std::collections::HashSet::new();
    let mut list = IdList {
        ids: Vec::new(),
        duplicates: 0,
        header: None,
    };
    let mut bad = Vec::new();
    let mut total_bad = 0;
    let mut first_line = true;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let tokens: Vec<&str> = line
            .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
            .filter(|t| !t.is_empty())
            .collect();
        if tokens.is_empty() {
            continue;
        }
        let parsed: Vec<Option<i64>> = tokens.iter().map(|t| id_token(t)).collect();
        let is_first = std::mem::replace(&mut first_line, false);
        if is_first && parsed.iter().all(Option::is_none) {
            list.header = Some(line.to_string());
            continue;
        }
        if parsed.iter().any(Option::is_none) {
            total_bad += 1;
            if bad.len() < SHOWN_BAD_LINES {
                let shown: String = line.chars().take(40).collect();
                bad.push((i + 1, shown));
            }
            continue;
        }
        for id in parsed.into_iter().flatten() {
            if seen.insert(id) {
                list.ids.push(id);
            } else {
                list.duplicates += 1;
            }
        }
    }
    if total_bad > 0 {
        return Err(ListError::BadLines {
            first: bad,
            total: total_bad,
        });
    }
    if list.ids.is_empty() {
        return Err(ListError::NoIds);
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(text: &str, url: &str) -> UrlButton {
        UrlButton {
            text: text.into(),
            url: url.into(),
        }
    }

    #[test]
    fn button_lines_are_text_dash_url() {
        let got = parse_buttons(
            "Shop - https://example.com/shop\n\n  Read - more — https://example.com/a?b=c-d  \nApp – tg://resolve?domain=x",
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                b("Shop", "https://example.com/shop"),
                b("Read - more", "https://example.com/a?b=c-d"),
                b("App", "tg://resolve?domain=x"),
            ]
        );
    }

    #[test]
    fn a_bad_button_line_is_named() {
        let err = parse_buttons("Ok - https://a.io\nno url here\nX - https://b.io").unwrap_err();
        assert_eq!(
            err,
            ButtonsError::BadLine {
                line: 2,
                text: "no url here".into()
            }
        );
        for bad in [
            "- https://a.io",
            "Text - ftp://a.io",
            "Text - https://",
            "Text-https://a.io",
            "T - https://a b",
        ] {
            assert!(
                matches!(
                    parse_buttons(bad),
                    Err(ButtonsError::BadLine { line: 1, .. })
                ),
                "{bad}"
            );
        }
        let many: String = (0..=MAX_BUTTONS)
            .map(|i| format!("B{i} - https://a.io/{i}\n"))
            .collect();
        assert_eq!(
            parse_buttons(&many),
            Err(ButtonsError::TooMany { max: MAX_BUTTONS })
        );
    }

    #[test]
    fn id_lists_accept_every_separator_a_header_and_duplicates() {
        let file = "\u{feff}user_id\n101\n102,103; 104\t105 \"106\"\r\n\n101\n";
        let list = parse_id_list(file.as_bytes()).unwrap();
        assert_eq!(list.ids, vec![101, 102, 103, 104, 105, 106]);
        assert_eq!(list.duplicates, 1);
        assert_eq!(list.header.as_deref(), Some("user_id"));
        let plain = parse_id_list(b"7 8 9").unwrap();
        assert_eq!((plain.ids, plain.header), (vec![7, 8, 9], None));
    }

    #[test]
    fn garbage_lines_refuse_the_file_naming_the_first_ones() {
        let file = "id\n1\nBob\n2\n3,x\n-5\n4\n12abc\n";
        match parse_id_list(file.as_bytes()) {
            Err(ListError::BadLines { first, total }) => {
                assert_eq!(total, 4);
                assert_eq!(
                    first,
                    vec![(3, "Bob".into()), (5, "3,x".into()), (6, "-5".into())]
                );
            }
            other => panic!("{other:?}"),
        }
        // Only the first line may be a header.
        assert!(matches!(
            parse_id_list(b"id\nname\n1"),
            Err(ListError::BadLines { total: 1, .. })
        ));
        // A first line with an id in it is data, not a header.
        assert!(matches!(
            parse_id_list(b"1,name\n2"),
            Err(ListError::BadLines { total: 1, .. })
        ));
    }

    #[test]
    fn empty_or_binary_lists_are_refused() {
        assert_eq!(parse_id_list(b"id\n\n"), Err(ListError::NoIds));
        assert_eq!(parse_id_list(b""), Err(ListError::NoIds));
        assert_eq!(parse_id_list(&[0xff, 0xfe, 0x00]), Err(ListError::NotText));
    }
}
