//! An uploaded audience: a text or CSV file of Telegram user ids, as the bot's
//! broadcast dialog and the admin API both accept it. It lives with the
//! contracts because both front ends must refuse the same files the same way
//! before a `SEGMENT_USER_IDS` audience reaches the broadcast service.

use std::fmt;

/// The largest list accepted (about 250,000 ids with their separators).
pub const MAX_BYTES: u64 = 5 * 1024 * 1024;

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

/// In English, for API clients; the bot words its own refusals per language.
impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListError::NotText => f.write_str("the list is not UTF-8 text"),
            ListError::NoIds => f.write_str("the list holds no user ids"),
            ListError::BadLines { first, total } => {
                write!(f, "{total} line(s) hold something that is not a user id: ")?;
                let shown: Vec<String> = first
                    .iter()
                    .map(|(n, l)| format!("line {n} {l:?}"))
                    .collect();
                f.write_str(&shown.join(", "))
            }
        }
    }
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

    #[test]
    fn a_refusal_names_the_lines_in_english() {
        let e = parse_id_list(b"1\nBob\n2\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "1 line(s) hold something that is not a user id: line 2 \"Bob\""
        );
    }
}
