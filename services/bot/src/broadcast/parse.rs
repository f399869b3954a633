//! What the admin types in the broadcast dialog, parsed here so a mistake is
//! refused at once, naming the line. (An uploaded id list is parsed by
//! `proto::audience_list`, shared with the admin API.)

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
}
