//! Job id generation in Salt's format: UTC `%Y%m%d%H%M%S%f`, 20 digits.
//!
//! Jids must be unique per master and sort by time. Two jobs in the same
//! microsecond get the later one bumped by a microsecond, as Salt does with
//! `unique_jid`, so the generator is monotonic.

use std::sync::Mutex;

use jiff::Timestamp;

use crate::ids::Jid;

/// Hands out strictly increasing jids.
#[derive(Debug, Default)]
pub struct JidGenerator {
    last_micros: Mutex<i64>,
    /// `_<suffix>` after every jid: what keeps several masters' jids apart
    /// (Salt's `unique_jid` suffixes the process id the same way).
    suffix: Option<String>,
}

impl JidGenerator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Jids ending in `_<suffix>` (ASCII letters and digits, as a jid's
    /// suffix must be).
    pub fn with_suffix(suffix: String) -> Self {
        JidGenerator {
            last_micros: Mutex::default(),
            suffix: Some(suffix),
        }
    }

    pub fn next(&self) -> Jid {
        let now = Timestamp::now().as_microsecond();
        let mut last = self.last_micros.lock().unwrap_or_else(|p| p.into_inner());
        let micros = if now > *last { now } else { *last + 1 };
        *last = micros;
        let jid = jid_for_micros(micros);
        match &self.suffix {
            Some(suffix) => Jid::from_generated(format!("{}_{suffix}", jid.as_str())),
            None => jid,
        }
    }
}

/// The jid for a point in time given as microseconds since the Unix epoch.
pub fn jid_for_micros(micros: i64) -> Jid {
    let ts = Timestamp::from_microsecond(micros).unwrap_or(Timestamp::UNIX_EPOCH);
    let text = ts.strftime("%Y%m%d%H%M%S%6f").to_string();
    // strftime above always yields 20 digits for years 1000..=9999.
    Jid::from_generated(text)
}

/// Salt's `StartTime` format for a jid: `2026, Nov 21 23:40:22.259307`.
pub fn jid_to_start_time(jid: &Jid) -> String {
    let d = &jid.as_str()[..20];
    let month = match &d[4..6] {
        "01" => "Jan",
        "02" => "Feb",
        "03" => "Mar",
        "04" => "Apr",
        "05" => "May",
        "06" => "Jun",
        "07" => "Jul",
        "08" => "Aug",
        "09" => "Sep",
        "10" => "Oct",
        "11" => "Nov",
        _ => "Dec",
    };
    format!(
        "{}, {} {} {}:{}:{}.{}",
        &d[0..4],
        month,
        &d[6..8],
        &d[8..10],
        &d[10..12],
        &d[12..14],
        &d[14..20]
    )
}

/// Microseconds since the epoch encoded in a jid (for retention).
pub fn jid_micros(jid: &Jid) -> Option<i64> {
    let d = &jid.as_str()[..20];
    let civil = jiff::civil::DateTime::strptime("%Y%m%d%H%M%S", &d[..14]).ok()?;
    let secs = civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()?
        .timestamp()
        .as_second();
    let frac: i64 = d[14..20].parse().ok()?;
    Some(secs * 1_000_000 + frac)
}

/// Salt's `_stamp`: ISO 8601 UTC with microseconds and `+00:00`.
pub fn stamp_now() -> String {
    Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_salt() {
        // 2026-11-21T23:40:19.509933Z
        let micros = 1_795_304_419_509_933;
        assert_eq!(jid_for_micros(micros).as_str(), "20261121234019509933");
        assert_eq!(jid_micros(&jid_for_micros(micros)), Some(micros));
        assert_eq!(
            jid_to_start_time(&jid_for_micros(micros)),
            "2026, Nov 21 23:40:19.509933"
        );
    }

    #[test]
    fn generator_is_strictly_increasing() {
        let g = JidGenerator::new();
        let mut prev = g.next();
        for _ in 0..1000 {
            let next = g.next();
            assert!(next > prev);
            prev = next;
        }
    }

    #[test]
    fn stamp_looks_like_salts() {
        let s = stamp_now();
        assert_eq!(s.len(), "2026-11-21T23:40:15.861167+00:00".len(), "{s}");
        assert!(s.ends_with("+00:00"));
    }
}
