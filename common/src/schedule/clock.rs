//! Wall-clock schedule options (Salt's `when` and `range`), in local time.
//!
//! Salt reads these with `dateutil`; we accept the forms its docs use:
//! a time of day (`17:05`, `17:05:30`, `5:05pm`, `5:05 PM`, `5pm`), a
//! weekday before it (`Monday 5:00pm`, `mon 17:00`), or a full date and
//! time (`2026-12-01 17:00`, `2026-12-01T17:00:00`). Anything else is an
//! error naming the text.

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::{Timestamp, Zoned};

/// One `when` entry.
#[derive(Debug, Clone, PartialEq)]
pub enum WhenTime {
    /// Every day at this time.
    Daily(Time),
    /// Every week on this day at this time.
    Weekly(Weekday, Time),
    /// Once, at this local date and time.
    At(DateTime),
}

/// `range: {start, end, invert}`: runs happen only inside the daily window
/// (or only outside it with `invert: True`).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeRange {
    pub start: Time,
    pub end: Time,
    pub invert: bool,
}

const TIME_FORMATS: [&str; 6] = [
    "%H:%M:%S",
    "%H:%M",
    "%I:%M:%S%p",
    "%I:%M%p",
    "%I%p",
    "%I %p",
];
const DATETIME_FORMATS: [&str; 4] = [
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
];

/// A time of day in one of Salt's documented forms.
pub fn parse_time(text: &str) -> Result<Time, String> {
    let text = text.trim();
    let spaced_meridiem = text.replace(' ', "");
    TIME_FORMATS
        .iter()
        .find_map(|f| {
            jiff::fmt::strtime::parse(f, text)
                .or_else(|_| jiff::fmt::strtime::parse(f, &spaced_meridiem))
                .and_then(|t| t.to_time())
                .ok()
        })
        .ok_or_else(|| format!("{text:?} is not a time of day (e.g. 17:05 or 5:05pm)"))
}

/// One `when` entry.
pub fn parse_when(text: &str) -> Result<WhenTime, String> {
    let text = text.trim();
    if let Some(at) = DATETIME_FORMATS.iter().find_map(|f| {
        jiff::fmt::strtime::parse(f, text)
            .and_then(|t| t.to_datetime())
            .ok()
    }) {
        return Ok(WhenTime::At(at));
    }
    if let Some((day, rest)) = text.split_once(char::is_whitespace)
        && let Some(weekday) = weekday(day)
    {
        return Ok(WhenTime::Weekly(weekday, parse_time(rest)?));
    }
    parse_time(text).map(WhenTime::Daily).map_err(|_| {
        format!("when: {text:?} is not a time, a weekday and time, or a date and time")
    })
}

fn weekday(word: &str) -> Option<Weekday> {
    let word = word.to_ascii_lowercase();
    let days = [
        ("mon", Weekday::Monday),
        ("tue", Weekday::Tuesday),
        ("wed", Weekday::Wednesday),
        ("thu", Weekday::Thursday),
        ("fri", Weekday::Friday),
        ("sat", Weekday::Saturday),
        ("sun", Weekday::Sunday),
    ];
    days.iter()
        .find(|(short, _)| word.starts_with(short) && word.len() >= 3)
        .map(|(_, day)| *day)
}

impl WhenTime {
    /// The first moment after `now` this entry names, if any is left.
    pub fn next_after(&self, now: &Zoned) -> Option<Timestamp> {
        let today = now.date();
        let at = |date: Date, time: Time| {
            date.to_datetime(time)
                .to_zoned(now.time_zone().clone())
                .ok()
                .map(|z| z.timestamp())
        };
        let after = |t: &Timestamp| *t > now.timestamp();
        match self {
            WhenTime::At(datetime) => at(datetime.date(), datetime.time()).filter(after),
            WhenTime::Daily(time) => (0..2)
                .filter_map(|d| today.checked_add(jiff::Span::new().days(d)).ok())
                .filter_map(|date| at(date, *time))
                .find(after),
            WhenTime::Weekly(day, time) => (0..8)
                .filter_map(|d| today.checked_add(jiff::Span::new().days(d)).ok())
                .filter(|date| date.weekday() == *day)
                .filter_map(|date| at(date, *time))
                .find(after),
        }
    }
}

impl TimeRange {
    /// `range:` from its config dict.
    pub fn parse(value: &serde_json::Value) -> Result<TimeRange, String> {
        let map = value
            .as_object()
            .ok_or("range must be a dictionary with start and end")?;
        let bound = |key: &str| {
            map.get(key)
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| format!("range needs {key}"))
                .and_then(|t| parse_time(t).map_err(|e| format!("range {key}: {e}")))
        };
        let (start, end) = (bound("start")?, bound("end")?);
        if end <= start {
            return Err("range end must be after its start".into());
        }
        let invert = map.get("invert").is_some_and(crate::output::python::truthy);
        Ok(TimeRange { start, end, invert })
    }

    /// Whether a run may happen at local time `now`.
    pub fn allows(&self, now: &Zoned) -> bool {
        let inside = (self.start..=self.end).contains(&now.time());
        inside != self.invert
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{date, time};

    fn local(y: i16, m: i8, d: i8, h: i8, min: i8) -> Zoned {
        date(y, m, d)
            .at(h, min, 0, 0)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .expect("zoned")
    }

    #[test]
    fn times_in_salts_documented_forms() {
        for text in ["17:05", "5:05pm", "5:05 PM", "17:05:00"] {
            assert_eq!(parse_time(text), Ok(time(17, 5, 0, 0)), "{text}");
        }
        assert_eq!(parse_time("5pm"), Ok(time(17, 0, 0, 0)));
        assert!(parse_time("teatime").is_err_and(|e| e.contains("teatime")));
    }

    #[test]
    fn when_entries_find_their_next_moment() {
        // 2026-11-22 is a Sunday.
        let now = local(2026, 11, 22, 12, 0);
        let next = |text: &str| parse_when(text).expect("parses").next_after(&now);
        let ts = |z: Zoned| Some(z.timestamp());
        assert_eq!(next("13:00"), ts(local(2026, 11, 22, 13, 0)), "later today");
        assert_eq!(next("11:00"), ts(local(2026, 11, 23, 11, 0)), "tomorrow");
        assert_eq!(next("Monday 9:00am"), ts(local(2026, 11, 23, 9, 0)));
        assert_eq!(
            next("sun 11:00"),
            ts(local(2026, 11, 29, 11, 0)),
            "next week"
        );
        assert_eq!(next("2026-12-01 17:00"), ts(local(2026, 12, 1, 17, 0)));
        assert_eq!(next("2026-01-01 17:00"), None, "a past date never comes");
        assert!(parse_when("someday").is_err());
    }

    #[test]
    fn ranges_allow_inside_or_outside() {
        let office = TimeRange::parse(&serde_json::json!({"start": "8:00am", "end": "5:00pm"}))
            .expect("parses");
        assert!(office.allows(&local(2026, 11, 22, 12, 0)));
        assert!(!office.allows(&local(2026, 11, 22, 20, 0)));
        let night = TimeRange {
            invert: true,
            ..office
        };
        assert!(night.allows(&local(2026, 11, 22, 20, 0)));
        assert!(TimeRange::parse(&serde_json::json!({"start": "5pm", "end": "8am"})).is_err());
    }
}
