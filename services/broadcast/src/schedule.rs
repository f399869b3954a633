//! PLACEHOLDER until branch bc-content lands (same interface).
use time::OffsetDateTime;

#[derive(Clone, Debug)]
pub struct Tz(String);

pub fn parse_timezone(name: &str) -> Result<Tz, String> {
    if name == "UTC" { Ok(Tz(name.into())) } else { Err("unknown".into()) }
}

pub fn parse_at(at: &str, _tz: &Tz, _now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).map_err(|e| e.to_string())
}

#[derive(Clone, Debug)]
pub struct Recurrence;

pub fn parse_recurring(_expr: &str, _tz: &Tz) -> Result<Recurrence, String> {
    Err("not yet".into())
}

impl Recurrence {
    pub fn next_after(&self, _t: OffsetDateTime) -> Option<OffsetDateTime> {
        None
    }
    pub fn describe(&self) -> String {
        String::new()
    }
}
