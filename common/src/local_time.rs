//! The host's local time zone, read once per process.
//!
//! `jiff::Zoned::now()` and `TimeZone::system()` also name the zone, and
//! naming it walks the whole zoneinfo directory (40-odd directories read) for
//! what `/etc/localtime` itself holds: a tenth of a small state run's system
//! calls. Salt's Python reads the zone once at start as well (`time.tzset`),
//! so a daemon sees a changed zone after a restart, as Salt's does.

use std::path::Path;
use std::sync::OnceLock;

use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// The local time zone: `TZ` when set (jiff's reading of it), else
/// `/etc/localtime` read directly, else jiff's system zone (UTC when it
/// finds none).
pub fn zone() -> &'static TimeZone {
    static ZONE: OnceLock<TimeZone> = OnceLock::new();
    ZONE.get_or_init(|| {
        read_zone(
            std::env::var_os("TZ").is_some(),
            Path::new("/etc/localtime"),
        )
    })
}

/// The zone `localtime` (a TZif file) holds, unless `TZ` is set or the file
/// does not read as one.
fn read_zone(tz_set: bool, localtime: &Path) -> TimeZone {
    if !tz_set
        && let Ok(data) = std::fs::read(localtime)
        && let Ok(zone) = TimeZone::tzif("localtime", &data)
    {
        return zone;
    }
    TimeZone::system()
}

/// The current local time.
pub fn now() -> Zoned {
    Timestamp::now().to_zoned(zone().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zone_is_read_from_the_localtime_file() {
        let tokyo = Path::new("/usr/share/zoneinfo/Asia/Tokyo");
        if !tokyo.exists() {
            eprintln!("skipped: no tzdata at {}", tokyo.display());
            return;
        }
        let at = Timestamp::from_second(1_700_000_000).expect("timestamp");
        let zone = read_zone(false, tokyo);
        assert_eq!(zone.to_offset(at).seconds(), 9 * 3600);
        // With TZ set, the file is not the answer: jiff's reading of TZ is.
        let system = read_zone(true, tokyo);
        assert_eq!(system.to_offset(at), TimeZone::system().to_offset(at));
    }

    #[test]
    fn a_file_that_is_not_a_zone_falls_back_to_the_system_zone() {
        let dir = tempfile::tempdir().expect("temp dir");
        let bogus = dir.path().join("localtime");
        std::fs::write(&bogus, "not a zone").expect("write");
        let at = Timestamp::from_second(1_700_000_000).expect("timestamp");
        assert_eq!(
            read_zone(false, &bogus).to_offset(at),
            TimeZone::system().to_offset(at)
        );
    }

    #[test]
    fn now_is_in_the_local_zone() {
        let here = now();
        assert_eq!(here.offset(), zone().to_offset(here.timestamp()));
    }
}
