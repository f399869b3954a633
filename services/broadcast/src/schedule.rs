//! When a campaign runs: a time zone by IANA name, a one-off time ("at"), and
//! a recurring rule (cron, "daily HH:MM", "weekly mon HH:MM"), all read in the
//! campaign's time zone.
//!
//! The zone database is `chrono-tz` (compiled in, so a container without
//! tzdata still knows Europe/Moscow) and cron expressions are evaluated by
//! `croner`, which knows what a wall clock does at a DST change. Both speak
//! chrono; the rest of the service speaks `time`, so the conversion happens
//! here, at the edge, and every instant returned is an `OffsetDateTime` in UTC.
//!
//! Daylight saving time, for the record:
//! - a one-off local time that does not exist (the clocks jump over it) is
//!   refused, since any instant we picked would be a guess;
//! - a one-off local time that happens twice (the clocks go back) means the
//!   earlier of the two;
//! - a recurring fixed time (`daily 02:30`) that falls in a gap runs at the
//!   first instant after the jump, and one that falls in a fold runs once, at
//!   the earlier instant: a daily broadcast never skips a day and never runs
//!   twice in one.

use chrono::{LocalResult, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc, Weekday};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// A time zone from the IANA database (`Tz::UTC`, `Tz::Europe__Moscow`...).
pub use chrono_tz::Tz;

/// A one-off time may lie this far in the past (the admin took a moment to
/// confirm "now"); anything older is a mistake.
const PAST_TOLERANCE_SECONDS: i64 = 60;

/// The shortest interval a recurring broadcast may have. A marketer's cron
/// typo (`* * * * *`) must not message every subscriber every minute.
const MIN_INTERVAL_MINUTES: u32 = 10;

/// A time zone by IANA name ("UTC", "Europe/Moscow"); Err says the name is
/// unknown. The name is matched exactly first, then ignoring case
/// ("europe/moscow" is Europe/Moscow), since nobody means anything else by it.
pub fn parse_timezone(name: &str) -> Result<Tz, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("no time zone given: use an IANA name such as UTC or Europe/Moscow".into());
    }
    if let Ok(tz) = name.parse::<Tz>() {
        return Ok(tz);
    }
    chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| tz.name().eq_ignore_ascii_case(name))
        .copied()
        .ok_or_else(|| {
            format!(
                "unknown time zone {name:?}: use an IANA name such as UTC, Europe/Moscow or America/New_York"
            )
        })
}

/// "YYYY-MM-DD HH:MM" (or with :SS) in `tz`, or RFC 3339 with an offset
/// ("2026-12-01T09:30:00+03:00", which ignores `tz`). Refuses a time more than
/// 60 s before `now`, and a local time that does not exist in `tz` (a DST
/// gap); a local time that exists twice (a DST fold) takes the earlier
/// instant. The result is in UTC.
pub fn parse_at(at: &str, tz: &Tz, now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    let text = at.trim();
    let instant = match OffsetDateTime::parse(text, &Rfc3339) {
        Ok(instant) => instant.to_offset(UtcOffset::UTC),
        Err(_) => {
            let local = parse_local(text).ok_or_else(|| {
                format!(
                    "can't read {at:?} as a time: write \"YYYY-MM-DD HH:MM\" (in {tz}) \
                     or RFC 3339 with an offset, like 2026-12-01T09:30:00+03:00"
                )
            })?;
            resolve_local(local, tz, text)?
        }
    };
    let earliest = now - time::Duration::seconds(PAST_TOLERANCE_SECONDS);
    if instant < earliest {
        let ago = (now - instant).whole_seconds();
        return Err(format!(
            "{text:?} is in the past ({} ago): a scheduled broadcast needs a time from now on",
            human_duration(ago)
        ));
    }
    Ok(instant)
}

/// "YYYY-MM-DD HH:MM[:SS]", with a space or a `T` between date and time.
fn parse_local(text: &str) -> Option<NaiveDateTime> {
    const WITH_SECONDS: &[time::format_description::BorrowedFormatItem<'static>] =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    const WITHOUT_SECONDS: &[time::format_description::BorrowedFormatItem<'static>] =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    let text = text.replacen('T', " ", 1);
    let parsed = PrimitiveDateTime::parse(&text, WITH_SECONDS)
        .or_else(|_| PrimitiveDateTime::parse(&text, WITHOUT_SECONDS))
        .ok()?;
    let date = NaiveDate::from_ymd_opt(
        parsed.year(),
        u32::from(u8::from(parsed.month())),
        u32::from(parsed.day()),
    )?;
    date.and_hms_opt(
        u32::from(parsed.hour()),
        u32::from(parsed.minute()),
        u32::from(parsed.second()),
    )
}

/// The instant a wall clock time in `tz` names: the earlier one in a fold, an
/// error in a gap.
fn resolve_local(local: NaiveDateTime, tz: &Tz, text: &str) -> Result<OffsetDateTime, String> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(dt) | LocalResult::Ambiguous(dt, _) => {
            to_time(&dt).ok_or_else(|| format!("{text:?} is out of the supported range of years"))
        }
        LocalResult::None => {
            let (from, to) = gap_around(local, tz);
            Err(format!(
                "{text:?} does not exist in {tz}: that night the clocks jump from {from} to {to} \
                 (daylight saving time); pick a time outside the jump"
            ))
        }
    }
}

/// The wall clock times a DST gap containing `local` jumps between, as
/// "HH:MM" (the last minute that exists before it, plus one, and the first
/// minute that exists after it).
fn gap_around(local: NaiveDateTime, tz: &Tz) -> (String, String) {
    let exists = |t: NaiveDateTime| !matches!(tz.from_local_datetime(&t), LocalResult::None);
    let minute = chrono::Duration::minutes(1);
    let mut start = local;
    let mut end = local;
    // Gaps are an hour, rarely two; a day bounds the search whatever the data says.
    for _ in 0..24 * 60 {
        if exists(start - minute) {
            break;
        }
        start -= minute;
    }
    for _ in 0..24 * 60 {
        if exists(end) {
            break;
        }
        end += minute;
    }
    let hm = |t: NaiveDateTime| format!("{:02}:{:02}", t.hour(), t.minute());
    (hm(start), hm(end))
}

fn human_duration(seconds: i64) -> String {
    let minutes = seconds / 60;
    match seconds {
        s if s < 120 => format!("{s} s"),
        _ if minutes < 120 => format!("{minutes} min"),
        _ if minutes < 48 * 60 => format!("{} h {} min", minutes / 60, minutes % 60),
        _ => format!("{} days", minutes / (24 * 60)),
    }
}

/// A recurring schedule in a time zone. Occurrences come from `next_after`.
#[derive(Clone, Debug)]
pub struct Recurrence {
    cron: Cron,
    tz: Tz,
    rule: Rule,
}

/// What the admin wrote, kept for `describe`.
#[derive(Clone, Debug)]
enum Rule {
    /// The five fields, separated by single spaces.
    Cron(String),
    Daily {
        hour: u32,
        minute: u32,
    },
    Weekly {
        day: Weekday,
        hour: u32,
        minute: u32,
    },
}

/// A five-field cron expression ("30 9 * * 1" = Mondays 09:30), or
/// "daily HH:MM", or "weekly mon HH:MM" (mon..sun, also full English names),
/// evaluated in `tz`. Refuses an expression that can fire more often than
/// every 10 minutes, or never.
pub fn parse_recurring(expr: &str, tz: &Tz) -> Result<Recurrence, String> {
    let words: Vec<&str> = expr.split_whitespace().collect();
    let (rule, pattern) = match words.as_slice() {
        [first, rest @ ..] if first.eq_ignore_ascii_case("daily") => {
            let [at] = rest else {
                return Err(format!(
                    "can't read {expr:?}: write \"daily HH:MM\", e.g. \"daily 09:30\""
                ));
            };
            let (hour, minute) = parse_hh_mm(at).ok_or_else(|| {
                format!("can't read {at:?} in {expr:?} as HH:MM (00:00 to 23:59)")
            })?;
            (
                Rule::Daily { hour, minute },
                format!("{minute} {hour} * * *"),
            )
        }
        [first, rest @ ..] if first.eq_ignore_ascii_case("weekly") => {
            let [day, at] = rest else {
                return Err(format!(
                    "can't read {expr:?}: write \"weekly <day> HH:MM\", e.g. \"weekly mon 09:30\""
                ));
            };
            let day = parse_weekday(day).ok_or_else(|| {
                format!("unknown day {day:?} in {expr:?}: use mon, tue, wed, thu, fri, sat or sun")
            })?;
            let (hour, minute) = parse_hh_mm(at).ok_or_else(|| {
                format!("can't read {at:?} in {expr:?} as HH:MM (00:00 to 23:59)")
            })?;
            let cron_day = day.num_days_from_sunday();
            (
                Rule::Weekly { day, hour, minute },
                format!("{minute} {hour} * * {cron_day}"),
            )
        }
        fields if fields.len() == 5 => {
            let pattern = fields.join(" ");
            (Rule::Cron(pattern.clone()), pattern)
        }
        _ => {
            return Err(format!(
                "can't read {expr:?} as a schedule: write a five-field cron expression \
                 (minute hour day-of-month month day-of-week, e.g. \"30 9 * * 1\"), \
                 \"daily HH:MM\" or \"weekly mon HH:MM\""
            ));
        }
    };
    let cron = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(&pattern)
        .map_err(|e| format!("can't read {expr:?} as a cron expression: {e}"))?;
    check_interval(expr, &cron)?;
    let recurrence = Recurrence {
        cron,
        tz: *tz,
        rule,
    };
    // "0 0 30 2 *" parses but never comes; say so now rather than schedule nothing.
    let probe = OffsetDateTime::UNIX_EPOCH + time::Duration::days(30 * 365);
    if recurrence.next_after(probe).is_none() {
        return Err(format!(
            "{expr:?} never fires (no date matches it): check the day and month fields"
        ));
    }
    Ok(recurrence)
}

/// "9:30" or "09:30".
fn parse_hh_mm(s: &str) -> Option<(u32, u32)> {
    let (h, m) = s.split_once(':')?;
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || h.len() > 2 || !digits(m) || m.len() != 2 {
        return None;
    }
    let (hour, minute) = (h.parse().ok()?, m.parse().ok()?);
    (hour < 24 && minute < 60).then_some((hour, minute))
}

fn parse_weekday(s: &str) -> Option<Weekday> {
    const DAYS: [(&str, &str, Weekday); 7] = [
        ("mon", "monday", Weekday::Mon),
        ("tue", "tuesday", Weekday::Tue),
        ("wed", "wednesday", Weekday::Wed),
        ("thu", "thursday", Weekday::Thu),
        ("fri", "friday", Weekday::Fri),
        ("sat", "saturday", Weekday::Sat),
        ("sun", "sunday", Weekday::Sun),
    ];
    DAYS.iter()
        .find(|(short, long, _)| s.eq_ignore_ascii_case(short) || s.eq_ignore_ascii_case(long))
        .map(|&(_, _, day)| day)
}

/// Refuses a pattern whose wall clock times of day come closer than
/// `MIN_INTERVAL_MINUTES`, including across midnight (the last time of one
/// day and the first of the next; counted even when the day fields make
/// such neighbouring days rare, which only refuses contrived patterns).
/// Measured on the wall clock: a DST change can bring two runs closer in
/// real time on one night a year, which is no spam.
fn check_interval(expr: &str, cron: &Cron) -> Result<(), String> {
    let minutes = cron.pattern.minutes.values();
    let hours = cron.pattern.hours.values();
    let mut times: Vec<u32> = hours
        .iter()
        .flat_map(|&h| {
            minutes
                .iter()
                .map(move |&m| u32::from(h) * 60 + u32::from(m))
        })
        .collect();
    times.sort_unstable();
    let (Some(&first), Some(&last)) = (times.first(), times.last()) else {
        return Ok(());
    };
    let hm = |t: u32| format!("{:02}:{:02}", t / 60, t % 60);
    let mut closest = (
        first + 24 * 60 - last,
        hm(last),
        format!("{} the next day", hm(first)),
    );
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        if gap < closest.0 {
            closest = (gap, hm(pair[0]), hm(pair[1]));
        }
    }
    let (gap, from, to) = closest;
    if gap < MIN_INTERVAL_MINUTES {
        return Err(format!(
            "{expr:?} fires as often as every {gap} min (at {from} and {to}): a recurring \
             broadcast may run at most once every {MIN_INTERVAL_MINUTES} minutes"
        ));
    }
    Ok(())
}

impl Recurrence {
    /// The first occurrence strictly after `t`, in UTC; None when there is
    /// none (past the year 5000, which croner does not search).
    pub fn next_after(&self, t: OffsetDateTime) -> Option<OffsetDateTime> {
        let start = Utc
            .timestamp_opt(t.unix_timestamp(), t.nanosecond())
            .single()?
            .with_timezone(&self.tz);
        // croner searches from the whole second after `start`, so an
        // occurrence equal to `t` (or within its second) is never returned.
        let next = self.cron.find_next_occurrence(&start, false).ok()?;
        let next = to_time(&next)?;
        (next > t).then_some(next)
    }

    /// e.g. "every day at 09:30 (Europe/Moscow)" or "cron 30 9 * * 1 (UTC)".
    pub fn describe(&self) -> String {
        let tz = self.tz.name();
        match &self.rule {
            Rule::Cron(pattern) => format!("cron {pattern} ({tz})"),
            Rule::Daily { hour, minute } => format!("every day at {hour:02}:{minute:02} ({tz})"),
            Rule::Weekly { day, hour, minute } => format!(
                "every {} at {hour:02}:{minute:02} ({tz})",
                weekday_name(*day)
            ),
        }
    }

    /// The time zone the rule is read in.
    pub fn timezone(&self) -> Tz {
        self.tz
    }
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// The same instant as a `time` value in UTC; None outside `time`'s years.
fn to_time<T: TimeZone>(dt: &chrono::DateTime<T>) -> Option<OffsetDateTime> {
    let nanos =
        i128::from(dt.timestamp()) * 1_000_000_000 + i128::from(dt.timestamp_subsec_nanos());
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn tz(name: &str) -> Tz {
        parse_timezone(name).unwrap()
    }

    /// A "now" well before every time the tests schedule.
    const LONG_AGO: OffsetDateTime = datetime!(2020-01-01 00:00 UTC);

    #[test]
    fn timezone_by_iana_name() {
        assert_eq!(tz("UTC"), Tz::UTC);
        assert_eq!(tz("Europe/Moscow"), Tz::Europe__Moscow);
        assert_eq!(tz(" America/New_York "), Tz::America__New_York);
    }

    #[test]
    fn timezone_name_ignores_case() {
        assert_eq!(tz("europe/moscow"), Tz::Europe__Moscow);
        assert_eq!(tz("utc"), Tz::UTC);
    }

    #[test]
    fn unknown_timezone_is_refused_by_name() {
        let err = parse_timezone("Mars/Olympus").unwrap_err();
        assert!(err.contains("unknown time zone \"Mars/Olympus\""), "{err}");
        let err = parse_timezone("  ").unwrap_err();
        assert!(err.contains("no time zone"), "{err}");
    }

    #[test]
    fn local_time_is_read_in_the_zone() {
        let at = parse_at("2026-12-01 09:30", &tz("Europe/Moscow"), LONG_AGO).unwrap();
        assert_eq!(at, datetime!(2026-12-01 06:30 UTC));
        assert_eq!(at.offset(), UtcOffset::UTC);
    }

    #[test]
    fn local_time_may_have_seconds_and_a_t() {
        let utc = tz("UTC");
        assert_eq!(
            parse_at("2026-12-01 09:30:15", &utc, LONG_AGO).unwrap(),
            datetime!(2026-12-01 09:30:15 UTC)
        );
        assert_eq!(
            parse_at("2026-12-01T09:30", &utc, LONG_AGO).unwrap(),
            datetime!(2026-12-01 09:30 UTC)
        );
    }

    #[test]
    fn rfc3339_keeps_its_own_offset() {
        // The zone argument does not apply to a time that carries an offset.
        let at = parse_at(
            "2026-12-01T09:30:00+03:00",
            &tz("America/New_York"),
            LONG_AGO,
        );
        assert_eq!(at.unwrap(), datetime!(2026-12-01 06:30 UTC));
        let at = parse_at("2026-12-01T09:30:00Z", &tz("Europe/Moscow"), LONG_AGO);
        assert_eq!(at.unwrap(), datetime!(2026-12-01 09:30 UTC));
    }

    #[test]
    fn unreadable_time_says_what_to_write() {
        for bad in [
            "tomorrow",
            "2026-12-01",
            "01.12.2026 09:30",
            "2026-12-01 25:00",
            "",
        ] {
            let err = parse_at(bad, &Tz::UTC, LONG_AGO).unwrap_err();
            assert!(err.contains("YYYY-MM-DD HH:MM"), "{bad}: {err}");
        }
    }

    #[test]
    fn impossible_date_is_refused() {
        assert!(parse_at("2026-02-30 10:00", &Tz::UTC, LONG_AGO).is_err());
    }

    #[test]
    fn time_more_than_a_minute_ago_is_refused() {
        let now = datetime!(2026-12-01 10:00 UTC);
        let err = parse_at("2026-12-01 09:58:59", &Tz::UTC, now).unwrap_err();
        assert!(err.contains("in the past"), "{err}");
        assert!(err.contains("61 s ago"), "{err}");
        let err = parse_at("2026-11-01 10:00", &Tz::UTC, now).unwrap_err();
        assert!(err.contains("30 days ago"), "{err}");
    }

    #[test]
    fn time_up_to_a_minute_ago_is_accepted() {
        let now = datetime!(2026-12-01 10:00 UTC);
        let at = parse_at("2026-12-01 09:59:00", &Tz::UTC, now).unwrap();
        assert_eq!(at, datetime!(2026-12-01 09:59 UTC));
        assert!(parse_at("2026-12-01 09:59:30", &Tz::UTC, now).is_ok());
    }

    #[test]
    fn past_check_uses_the_zone() {
        // 12:30 in Moscow is 09:30 UTC: half an hour before "now".
        let now = datetime!(2026-12-01 10:00 UTC);
        assert!(parse_at("2026-12-01 12:30", &tz("Europe/Moscow"), now).is_err());
        assert!(parse_at("2026-12-01 13:30", &tz("Europe/Moscow"), now).is_ok());
    }

    #[test]
    fn local_time_in_a_dst_gap_is_refused() {
        // Berlin, 29 March 2026: 02:00 CET becomes 03:00 CEST.
        let err = parse_at("2026-03-29 02:30", &tz("Europe/Berlin"), LONG_AGO).unwrap_err();
        assert!(err.contains("does not exist in Europe/Berlin"), "{err}");
        assert!(err.contains("from 02:00 to 03:00"), "{err}");
        // Just outside the gap is fine.
        let before = parse_at("2026-03-29 01:59", &tz("Europe/Berlin"), LONG_AGO).unwrap();
        assert_eq!(before, datetime!(2026-03-29 00:59 UTC));
        let after = parse_at("2026-03-29 03:00", &tz("Europe/Berlin"), LONG_AGO).unwrap();
        assert_eq!(after, datetime!(2026-03-29 01:00 UTC));
    }

    #[test]
    fn local_time_in_a_dst_fold_takes_the_earlier_instant() {
        // Berlin, 25 October 2026: 03:00 CEST becomes 02:00 CET, so 02:30
        // happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET).
        let at = parse_at("2026-10-25 02:30", &tz("Europe/Berlin"), LONG_AGO).unwrap();
        assert_eq!(at, datetime!(2026-10-25 00:30 UTC));
    }

    fn rec(expr: &str, zone: &str) -> Recurrence {
        parse_recurring(expr, &tz(zone)).unwrap()
    }

    #[test]
    fn daily_runs_at_the_local_time_every_day() {
        let r = rec("daily 09:30", "Europe/Moscow");
        assert_eq!(r.describe(), "every day at 09:30 (Europe/Moscow)");
        let first = r.next_after(datetime!(2026-12-01 00:00 UTC)).unwrap();
        assert_eq!(first, datetime!(2026-12-01 06:30 UTC));
        let second = r.next_after(first).unwrap();
        assert_eq!(second, datetime!(2026-12-02 06:30 UTC));
    }

    #[test]
    fn daily_accepts_a_one_digit_hour() {
        assert_eq!(
            rec("Daily 9:05", "UTC").describe(),
            "every day at 09:05 (UTC)"
        );
    }

    #[test]
    fn daily_with_a_bad_time_is_refused() {
        for bad in [
            "daily 24:00",
            "daily 9:5",
            "daily",
            "daily 09:30 10:30",
            "daily nine",
        ] {
            assert!(parse_recurring(bad, &Tz::UTC).is_err(), "{bad}");
        }
    }

    #[test]
    fn next_after_is_strictly_after() {
        let r = rec("daily 09:30", "UTC");
        let at = datetime!(2026-12-01 09:30 UTC);
        assert_eq!(r.next_after(at).unwrap(), datetime!(2026-12-02 09:30 UTC));
        let just_before = datetime!(2026-12-01 09:29:59.999 UTC);
        assert_eq!(r.next_after(just_before).unwrap(), at);
        let just_after = datetime!(2026-12-01 09:30:00.001 UTC);
        assert_eq!(
            r.next_after(just_after).unwrap(),
            datetime!(2026-12-02 09:30 UTC)
        );
    }

    #[test]
    fn weekly_next_occurrence_crosses_a_month_boundary() {
        // Wednesday 28 January 2026; the next Monday is 2 February.
        let r = rec("weekly mon 09:30", "Europe/Moscow");
        assert_eq!(r.describe(), "every Monday at 09:30 (Europe/Moscow)");
        let next = r.next_after(datetime!(2026-01-28 12:00 UTC)).unwrap();
        assert_eq!(next, datetime!(2026-02-02 06:30 UTC));
        let after = r.next_after(next).unwrap();
        assert_eq!(after, datetime!(2026-02-09 06:30 UTC));
    }

    #[test]
    fn weekly_accepts_full_names_in_any_case() {
        let r = rec("weekly Sunday 20:00", "UTC");
        assert_eq!(r.describe(), "every Sunday at 20:00 (UTC)");
        // Saturday 31 January 2026 → Sunday 1 February.
        let next = r.next_after(datetime!(2026-01-31 21:00 UTC)).unwrap();
        assert_eq!(next, datetime!(2026-02-01 20:00 UTC));
        assert_eq!(
            rec("WEEKLY FRI 18:00", "UTC").describe(),
            "every Friday at 18:00 (UTC)"
        );
    }

    #[test]
    fn weekly_with_an_unknown_day_is_refused() {
        let err = parse_recurring("weekly funday 09:30", &Tz::UTC).unwrap_err();
        assert!(err.contains("unknown day \"funday\""), "{err}");
        assert!(parse_recurring("weekly mon", &Tz::UTC).is_err());
    }

    #[test]
    fn cron_runs_in_the_zone() {
        let r = rec("30 9 * * 1", "Europe/Moscow");
        assert_eq!(r.describe(), "cron 30 9 * * 1 (Europe/Moscow)");
        // Thursday 1 January 2026 → Monday 5 January, 09:30 Moscow.
        let next = r.next_after(datetime!(2026-01-01 00:00 UTC)).unwrap();
        assert_eq!(next, datetime!(2026-01-05 06:30 UTC));
    }

    #[test]
    fn cron_description_normalises_spaces() {
        assert_eq!(
            rec("  0   12 1 *  * ", "UTC").describe(),
            "cron 0 12 1 * * (UTC)"
        );
    }

    #[test]
    fn cron_day_of_month_crosses_into_next_month() {
        let r = rec("0 12 1 * *", "UTC");
        let next = r.next_after(datetime!(2026-01-15 00:00 UTC)).unwrap();
        assert_eq!(next, datetime!(2026-02-01 12:00 UTC));
    }

    #[test]
    fn cron_with_names_is_accepted() {
        let r = rec("0 10 * * MON-FRI", "UTC");
        // Saturday 3 January 2026 → Monday 5 January.
        let next = r.next_after(datetime!(2026-01-03 00:00 UTC)).unwrap();
        assert_eq!(next, datetime!(2026-01-05 10:00 UTC));
    }

    #[test]
    fn every_minute_cron_is_refused() {
        let err = parse_recurring("* * * * *", &Tz::UTC).unwrap_err();
        assert!(err.contains("every 1 min"), "{err}");
        assert!(err.contains("at most once every 10 minutes"), "{err}");
    }

    #[test]
    fn cron_more_often_than_ten_minutes_is_refused() {
        for expr in ["*/5 * * * *", "0,9 12 * * *", "0-3 9 * * 1"] {
            let err = parse_recurring(expr, &Tz::UTC).unwrap_err();
            assert!(err.contains("10 minutes"), "{expr}: {err}");
        }
    }

    #[test]
    fn cron_every_ten_minutes_is_accepted() {
        let r = rec("*/10 * * * *", "UTC");
        let next = r.next_after(datetime!(2026-01-01 00:00 UTC)).unwrap();
        assert_eq!(next, datetime!(2026-01-01 00:10 UTC));
        assert!(parse_recurring("0,10 9 * * *", &Tz::UTC).is_ok());
    }

    #[test]
    fn cron_interval_check_looks_across_midnight() {
        // 23:58 and then 00:03 the next day: five minutes apart.
        let err = parse_recurring("3,58 0,23 * * *", &Tz::UTC).unwrap_err();
        assert!(err.contains("every 5 min"), "{err}");
        assert!(err.contains("23:58 and 00:03 the next day"), "{err}");
        // 23:55 and 00:05 the next day are ten minutes apart.
        assert!(parse_recurring("5,55 0,23 * * *", &Tz::UTC).is_ok());
    }

    #[test]
    fn cron_that_never_fires_is_refused() {
        let err = parse_recurring("0 0 30 2 *", &Tz::UTC).unwrap_err();
        assert!(err.contains("never fires"), "{err}");
    }

    #[test]
    fn malformed_cron_is_refused() {
        for bad in [
            "61 * * * *",
            "0 9 * *",
            "0 0 9 * * 1",
            "@daily",
            "every monday",
            "0 9 * * 8x",
        ] {
            assert!(parse_recurring(bad, &Tz::UTC).is_err(), "{bad}");
        }
    }

    #[test]
    fn cron_wrong_field_count_says_five_fields() {
        let err = parse_recurring("0 0 9 * * 1", &Tz::UTC).unwrap_err();
        assert!(err.contains("five-field cron"), "{err}");
    }

    #[test]
    fn daily_in_a_dst_gap_runs_right_after_the_jump() {
        // Berlin skips 02:00-03:00 on 29 March 2026; that day's 02:30 run
        // happens at 03:00 CEST (01:00 UTC), the next day's at 02:30 CEST.
        let r = rec("daily 02:30", "Europe/Berlin");
        let on_gap_day = r.next_after(datetime!(2026-03-28 12:00 UTC)).unwrap();
        assert_eq!(on_gap_day, datetime!(2026-03-29 01:00 UTC));
        let next_day = r.next_after(on_gap_day).unwrap();
        assert_eq!(next_day, datetime!(2026-03-30 00:30 UTC));
    }

    #[test]
    fn daily_in_a_dst_fold_runs_once_at_the_earlier_instant() {
        // Berlin has 02:30 twice on 25 October 2026 (00:30 and 01:30 UTC).
        let r = rec("daily 02:30", "Europe/Berlin");
        let on_fold_day = r.next_after(datetime!(2026-10-24 12:00 UTC)).unwrap();
        assert_eq!(on_fold_day, datetime!(2026-10-25 00:30 UTC));
        let next = r.next_after(on_fold_day).unwrap();
        assert_eq!(next, datetime!(2026-10-26 01:30 UTC));
    }

    #[test]
    fn recurrence_keeps_its_zone_across_dst() {
        // 09:30 in Berlin is 08:30 UTC in winter and 07:30 UTC in summer.
        let r = rec("daily 09:30", "Europe/Berlin");
        let winter = r.next_after(datetime!(2026-03-28 00:00 UTC)).unwrap();
        assert_eq!(winter, datetime!(2026-03-28 08:30 UTC));
        let summer = r.next_after(winter).unwrap();
        assert_eq!(summer, datetime!(2026-03-29 07:30 UTC));
        assert_eq!(r.timezone(), Tz::Europe__Berlin);
    }
}
