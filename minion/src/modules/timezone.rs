//! Salt's `timezone` execution module on Linux: the system time zone
//! (`get_zone`, `set_zone`, `zone_compare`), the hardware clock
//! (`get_hwclock`, `set_hwclock`) and the current zone code and offset.
//!
//! As in Salt, `timedatectl` is the source wherever it is installed: if it
//! fails (a container where systemd is not PID 1) the functions fail with
//! its stderr (`timedatectl failed: ...`) rather than guess, except
//! `zone_compare`, which then compares `/etc/localtime` with the zone's
//! file. Without `timedatectl` each OS family's files are read and written
//! (`/etc/timezone` on Debian, `/etc/sysconfig/clock` on RedHat and Suse,
//! `/etc/adjtime` for the hardware clock). AIX and Solaris are left out.

use std::path::Path;

use brine_common::functions::{FnError, Functions};
use brine_common::output::python;
use regex::Regex;
use serde_json::{Map, Value, json};

use super::MinionCtx;
use super::file::meta::os_error;
use super::host::{CmdOutput, HostCmd, required_str, which};

const ZONEINFO: &str = "/usr/share/zoneinfo/";
const ADJTIME: &str = "/etc/adjtime";

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register("timezone.get_zone", "", GET_ZONE_DOC, |ctx, _| async move {
        Ok(json!(get_zone(&ctx.grains()).await?).into())
    });
    f.register(
        "timezone.get_zonecode",
        "",
        GET_ZONECODE_DOC,
        |_, _| async { Ok(json!(date("+%Z").await?).into()) },
    );
    f.register("timezone.get_offset", "", GET_OFFSET_DOC, |_, _| async {
        Ok(json!(date("+%z").await?).into())
    });
    f.register(
        "timezone.zone_compare",
        "timezone",
        ZONE_COMPARE_DOC,
        |ctx, call| async move {
            let zone = required_str(&call, 0, "timezone")?;
            Ok(json!(zone_compare(&ctx.grains(), &zone).await?).into())
        },
    );
    f.register(
        "timezone.set_zone",
        "timezone",
        SET_ZONE_DOC,
        |ctx, call| async move {
            let zone = required_str(&call, 0, "timezone")?;
            Ok(set_zone(&ctx.grains(), &zone).await?.into())
        },
    );
    f.register(
        "timezone.get_hwclock",
        "",
        GET_HWCLOCK_DOC,
        |ctx, _| async move { Ok(json!(get_hwclock(&ctx.grains()).await?).into()) },
    );
    f.register(
        "timezone.set_hwclock",
        "clock",
        SET_HWCLOCK_DOC,
        |ctx, call| async move {
            let clock = required_str(&call, 0, "clock")?;
            Ok(json!(set_hwclock(&ctx.grains(), &clock).await?).into())
        },
    );
}

fn os_family(grains: &Map<String, Value>) -> &str {
    grains
        .get("os_family")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// `timedatectl`'s output; its stderr (trailing whitespace removed, as
/// `cmd.run_all` gives it) when it fails.
async fn timedatectl() -> Result<CmdOutput, FnError> {
    let out = HostCmd::new("timedatectl").output().await?;
    if !out.success() {
        return Err(FnError::Execution(format!(
            "timedatectl failed: {}",
            python::rstrip(&out.stderr)
        )));
    }
    Ok(out)
}

fn unparsable(stdout: &str) -> FnError {
    FnError::Execution(format!(
        "Failed to parse timedatectl output: {}\nPlease file an issue with SaltStack",
        python::rstrip(stdout)
    ))
}

/// The zone of a `Time zone: Europe/Berlin (CET, +0100)` line.
pub fn zone_in_timedatectl(stdout: &str) -> Option<String> {
    stdout.split('\n').find_map(|line| {
        let line = line.trim();
        let rest = line
            .strip_prefix("Time zone:")
            .or_else(|| line.strip_prefix("Timezone:"))?;
        if !rest.starts_with(char::is_whitespace) {
            return None;
        }
        rest.split_whitespace().next().map(String::from)
    })
}

/// "localtime" or "UTC" from the `RTC in local TZ: no` line.
pub fn hwclock_in_timedatectl(stdout: &str) -> Option<&'static str> {
    stdout
        .lines()
        .map(str::trim)
        .find(|line| line.to_lowercase().contains("rtc in local tz"))
        .map(|line| {
            let value = line.rsplit(':').next().unwrap_or("").trim().to_lowercase();
            if value == "yes" { "localtime" } else { "UTC" }
        })
}

/// The value of the first `KEY=value` line (`#` comments skipped when
/// `skip_comments`) whose text contains `needle`, quotes removed; "UTC"
/// when the value is empty.
pub fn assigned_zone(text: &str, needle: &str, skip_comments: bool) -> Option<String> {
    text.lines()
        .filter(|l| !(skip_comments && l.trim_start().starts_with('#')))
        .find(|l| l.contains(needle) && l.contains('='))
        .map(|l| {
            let value = l.rsplit('=').next().unwrap_or("").trim_matches(['\'', '"']);
            if value.is_empty() {
                "UTC".to_string()
            } else {
                value.to_string()
            }
        })
}

/// `/etc/localtime` (or NI Linux RT's own path).
fn localtime_path(grains: &Map<String, Value>) -> &'static str {
    let nilrt = grains
        .get("lsb_distrib_id")
        .and_then(Value::as_str)
        .is_some_and(|id| id.contains("nilrt"));
    if os_family(grains).contains("NILinuxRT") && nilrt {
        "/etc/natinst/share/localtime"
    } else {
        "/etc/localtime"
    }
}

async fn get_zone(grains: &Map<String, Value>) -> Result<String, FnError> {
    if which("timedatectl").is_some() {
        let out = timedatectl().await?;
        return zone_in_timedatectl(&out.stdout).ok_or_else(|| unparsable(&out.stdout));
    }
    match os_family(grains) {
        "RedHat" | "Suse" => zone_from_file("/etc/sysconfig/clock", "ZONE", true),
        "Debian" | "Gentoo" => std::fs::read_to_string("/etc/timezone")
            .map(|t| t.trim().to_string())
            .map_err(|e| {
                let strerror = os_error(&e, Path::new("/etc/timezone"));
                FnError::Execution(format!(
                    "Problem reading timezone file /etc/timezone: {}",
                    strerror_of(&strerror)
                ))
            }),
        "FreeBSD" | "OpenBSD" | "NetBSD" | "NILinuxRT" | "Slackware" => {
            zone_from_localtime(localtime_path(grains))
        }
        _ => Err(FnError::Execution("Unable to get timezone".into())),
    }
}

/// Python's `exc.strerror` out of `[Errno 2] No such file or directory: '/x'`.
fn strerror_of(os_error: &str) -> &str {
    let after = os_error.split_once("] ").map_or(os_error, |(_, r)| r);
    after.rsplit_once(": ").map_or(after, |(s, _)| s)
}

fn zone_from_file(path: &str, key: &str, skip_comments: bool) -> Result<String, FnError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| FnError::Execution(os_error(&e, Path::new(path))))?;
    assigned_zone(&text, key, skip_comments)
        .ok_or_else(|| FnError::Execution(format!("Unable to get timezone from {path}")))
}

/// The zone `/etc/localtime` links to, or whose file it is a copy of.
fn zone_from_localtime(tzfile: &str) -> Result<String, FnError> {
    match std::fs::read_link(tzfile) {
        Ok(target) => {
            let joined = Path::new("/etc").join(target);
            let olson = super::file::meta::normpath(&joined.display().to_string());
            if let Some(zone) = olson.strip_prefix(ZONEINFO) {
                return Ok(zone.to_string());
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(FnError::Execution(format!("{tzfile} does not exist")));
        }
        Err(_) => {
            // A copy of a zone file rather than a link: find the same bytes.
            if let Some(zone) = zone_with_same_content(tzfile) {
                return Ok(zone);
            }
        }
    }
    Err(FnError::Execution("Unable to determine timezone".into()))
}

fn zone_with_same_content(tzfile: &str) -> Option<String> {
    let wanted = std::fs::read(tzfile).ok()?;
    let mut dirs = vec![std::path::PathBuf::from(ZONEINFO)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let path = entry.path();
            let Some(olson) = path.to_str().and_then(|p| p.strip_prefix(ZONEINFO)) else {
                continue;
            };
            let olson = olson.to_string();
            // Lower-case names (posixrules, zone.tab, ...) are not zones.
            if olson.starts_with(|c: char| c.is_ascii_lowercase()) {
                continue;
            }
            if path.is_dir() {
                dirs.push(path);
            } else if std::fs::read(&path).is_ok_and(|b| b == wanted) {
                return Some(olson);
            }
        }
    }
    None
}

/// `date <format>` as `cmd.run` gives it.
async fn date(format: &str) -> Result<String, FnError> {
    let out = HostCmd::new("date").arg(format).output().await?;
    Ok(python::rstrip(&out.stdout).to_string())
}

/// Why comparing two zone files failed: which file could not be read.
#[derive(Debug, PartialEq)]
pub enum CompareError {
    Zone,
    Localtime(String),
}

/// Python's `filecmp.cmp(a, b, shallow=False)`: both regular files
/// (symlinks followed) with the same bytes.
pub fn same_file_content(localtime: &Path, zonefile: &Path) -> Result<bool, CompareError> {
    let strerror = |e: &std::io::Error, p: &Path| strerror_of(&os_error(e, p)).to_string();
    let a = std::fs::metadata(localtime)
        .map_err(|e| CompareError::Localtime(strerror(&e, localtime)))?;
    let b = std::fs::metadata(zonefile).map_err(|_| CompareError::Zone)?;
    if !a.is_file() || !b.is_file() || a.len() != b.len() {
        return Ok(false);
    }
    let a =
        std::fs::read(localtime).map_err(|e| CompareError::Localtime(strerror(&e, localtime)))?;
    let b = std::fs::read(zonefile).map_err(|_| CompareError::Zone)?;
    Ok(a == b)
}

async fn zone_compare(grains: &Map<String, Value>, zone: &str) -> Result<bool, FnError> {
    match get_zone(grains).await {
        Ok(current) => Ok(current == zone),
        Err(FnError::Execution(_)) => {
            let tzfile = localtime_path(grains);
            let zonepath = format!("{ZONEINFO}{zone}");
            same_file_content(Path::new(tzfile), Path::new(&zonepath)).map_err(|e| match e {
                CompareError::Zone => {
                    FnError::Invocation(format!("Can't find a local timezone \"{zone}\""))
                }
                CompareError::Localtime(why) => FnError::Execution(format!(
                    "Failed to read {tzfile} to determine current timezone: {why}"
                )),
            })
        }
        Err(other) => Err(other),
    }
}

/// Point `/etc/localtime` at `zonepath`.
fn relink_localtime(tzfile: &str, zonepath: &str) -> Result<(), FnError> {
    let path = Path::new(tzfile);
    if path.exists() || path.is_symlink() {
        std::fs::remove_file(path).map_err(|e| FnError::Execution(os_error(&e, path)))?;
    }
    std::os::unix::fs::symlink(zonepath, path).map_err(|e| FnError::Execution(os_error(&e, path)))
}

/// Salt's `file.sed(path, pattern, repl)` for the one-line settings files:
/// every match of `pattern` (multi-line mode) replaced; a missing file is
/// left alone.
fn sed(path: &str, pattern: &str, repl: &str) -> Result<(), FnError> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let re = Regex::new(&format!("(?m){pattern}"))
        .map_err(|e| FnError::Execution(format!("bad pattern {pattern}: {e}")))?;
    let edited = re.replace_all(&text, regex::NoExpand(repl));
    if edited != text {
        std::fs::write(path, edited.as_bytes())
            .map_err(|e| FnError::Execution(os_error(&e, Path::new(path))))?;
    }
    Ok(())
}

async fn set_zone(grains: &Map<String, Value>, zone: &str) -> Result<Value, FnError> {
    if which("timedatectl").is_some() {
        // Salt runs it and goes on to the files whatever it answers.
        let _ = HostCmd::new("timedatectl")
            .args(["set-timezone", zone])
            .output()
            .await;
    }
    let zonepath = format!("{ZONEINFO}{zone}");
    if !Path::new(&zonepath).exists() {
        return Ok(json!(format!("Zone does not exist: {zonepath}")));
    }
    relink_localtime(localtime_path(grains), &zonepath)?;
    match os_family(grains) {
        "RedHat" => sed(
            "/etc/sysconfig/clock",
            "^ZONE=.*",
            &format!("ZONE=\"{zone}\""),
        )?,
        "Suse" => sed(
            "/etc/sysconfig/clock",
            "^TIMEZONE=.*",
            &format!("TIMEZONE=\"{zone}\""),
        )?,
        "Debian" | "Gentoo" => std::fs::write("/etc/timezone", format!("{}\n", zone.trim()))
            .map_err(|e| FnError::Execution(os_error(&e, Path::new("/etc/timezone"))))?,
        _ => {}
    }
    Ok(json!(true))
}

/// The last line of `/etc/adjtime` ("UTC" or "LOCAL"); `None` when there
/// is no hardware clock at all.
fn adjtime_clock() -> Result<Option<String>, FnError> {
    if Path::new(ADJTIME).exists() {
        let text = std::fs::read_to_string(ADJTIME)
            .map_err(|e| FnError::Execution(os_error(&e, Path::new(ADJTIME))))?;
        return Ok(Some(
            python::rstrip(&text)
                .rsplit('\n')
                .next()
                .unwrap_or("")
                .to_string(),
        ));
    }
    if Path::new("/dev/rtc").exists() {
        return Err(FnError::Execution(format!(
            "Unable to get hwclock timezone from {ADJTIME}"
        )));
    }
    Ok(None)
}

/// Debian's `UTC=yes|no` in `/etc/default/rcS` (before Wheezy).
pub fn rcs_clock(text: &str) -> Option<&'static str> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find(|l| l.contains("UTC="))
        .map(|l| {
            if l.rsplit('=').next().unwrap_or("").to_lowercase() == "yes" {
                "UTC"
            } else {
                "localtime"
            }
        })
}

/// Gentoo's `clock="UTC"|"local"` in `/etc/conf.d/hwclock`.
fn gentoo_clock() -> Result<Option<String>, FnError> {
    if Path::new(ADJTIME).exists() {
        return adjtime_clock();
    }
    let file = "/etc/conf.d/hwclock";
    let text = std::fs::read_to_string(file).map_err(|e| {
        FnError::Execution(format!(
            "Problem reading offset file {file}: {}",
            strerror_of(&os_error(&e, Path::new(file)))
        ))
    })?;
    for line in text.lines().filter(|l| l.starts_with("clock=")) {
        match line
            .rsplit('=')
            .next()
            .unwrap_or("")
            .trim_matches(['\'', '"'])
        {
            "UTC" => return Ok(Some("UTC".into())),
            "local" => return Ok(Some("LOCAL".into())),
            _ => {}
        }
    }
    Err(FnError::Execution(format!(
        "Correct offset value not found in {file}"
    )))
}

async fn get_hwclock(grains: &Map<String, Value>) -> Result<Option<String>, FnError> {
    if which("timedatectl").is_some() {
        let out = timedatectl().await?;
        return hwclock_in_timedatectl(&out.stdout)
            .map(|c| Some(c.to_string()))
            .ok_or_else(|| unparsable(&out.stdout));
    }
    let family = os_family(grains);
    if ["RedHat", "Suse", "NILinuxRT"]
        .iter()
        .any(|f| family.contains(f))
    {
        return adjtime_clock();
    }
    if family.contains("Debian") {
        if let Some(clock) = std::fs::read_to_string("/etc/default/rcS")
            .ok()
            .as_deref()
            .and_then(rcs_clock)
        {
            return Ok(Some(clock.to_string()));
        }
        return adjtime_clock();
    }
    if family.contains("Gentoo") {
        return gentoo_clock();
    }
    if family.contains("Slackware") {
        if Path::new(ADJTIME).exists() {
            return adjtime_clock();
        }
        let text = std::fs::read_to_string("/etc/hardwareclock").unwrap_or_default();
        let utc = text.is_empty() || text.lines().any(|l| l.starts_with("UTC"));
        return Ok(Some(if utc { "UTC" } else { "localtime" }.to_string()));
    }
    Ok(None)
}

async fn set_hwclock(grains: &Map<String, Value>, clock: &str) -> Result<bool, FnError> {
    let local_rtc = if clock == "localtime" {
        "true"
    } else {
        "false"
    };
    if which("timedatectl").is_some() {
        let out = HostCmd::new("timedatectl")
            .args(["set-local-rtc", local_rtc])
            .output()
            .await?;
        return Ok(out.success());
    }
    let family = os_family(grains);
    if family == "NILinuxRT" {
        if !clock.eq_ignore_ascii_case("utc") {
            return Err(FnError::Invocation(
                "UTC is the only permitted value".into(),
            ));
        }
        return Ok(true);
    }
    let zone = get_zone(grains).await?;
    let zonepath = format!("{ZONEINFO}{zone}");
    if !Path::new(&zonepath).exists() {
        return Err(FnError::Execution(format!(
            "Zone '{zonepath}' does not exist"
        )));
    }
    relink_localtime("/etc/localtime", &zonepath)?;
    if family.contains("Arch") {
        // Salt's spelling: `timezonectl` (which Arch does not have).
        let out = HostCmd::new("timezonectl")
            .args(["set-local-rtc", local_rtc])
            .output()
            .await?;
        return Ok(out.success());
    }
    if family.contains("RedHat") {
        sed(
            "/etc/sysconfig/clock",
            "^ZONE=.*",
            &format!("ZONE=\"{zone}\""),
        )?;
    } else if family.contains("Suse") {
        sed(
            "/etc/sysconfig/clock",
            "^TIMEZONE=.*",
            &format!("TIMEZONE=\"{zone}\""),
        )?;
    } else if family.contains("Debian") {
        match clock {
            "UTC" => sed("/etc/default/rcS", "^UTC=.*", "UTC=yes")?,
            "localtime" => sed("/etc/default/rcS", "^UTC=.*", "UTC=no")?,
            _ => {}
        }
    } else if family.contains("Gentoo") || family.contains("Slackware") {
        if clock != "UTC" && clock != "localtime" {
            return Err(FnError::Invocation(
                "Only 'UTC' and 'localtime' are allowed".into(),
            ));
        }
        if family.contains("Gentoo") {
            let value = if clock == "localtime" { "local" } else { clock };
            sed(
                "/etc/conf.d/hwclock",
                "^clock=.*",
                &format!("clock=\"{value}\""),
            )?;
        } else {
            sed("/etc/hardwareclock", "^(UTC|localtime)", clock)?;
        }
    }
    Ok(true)
}

const GET_ZONE_DOC: &str =
    "Get current timezone (i.e. America/Denver)\n\nCLI Example:\n\n    brine '*' timezone.get_zone";
const GET_ZONECODE_DOC: &str = "Get current timezone (i.e. PST, MDT, etc)\n\nCLI Example:\n\n    brine '*' timezone.get_zonecode";
const GET_OFFSET_DOC: &str = "Get current numeric timezone offset from UTC (i.e. -0700)\n\nCLI Example:\n\n    brine '*' timezone.get_offset";
const ZONE_COMPARE_DOC: &str = "Compares the given timezone name with the system timezone name determined\nby timezone.get_zone. Returns True if names match, and False if not.\nMostly useful for running state checks.\n\nCLI Example:\n\n    brine '*' timezone.zone_compare 'America/Denver'";
const SET_ZONE_DOC: &str = "Unlinks, then symlinks /etc/localtime to the set timezone.\n\nThe timezone is crucial to several system processes, each of which SHOULD\nbe restarted (for instance, whatever you system uses as its cron and\nsyslog daemons). This will not be automagically done and must be done\nmanually!\n\nCLI Example:\n\n    brine '*' timezone.set_zone 'America/Denver'";
const GET_HWCLOCK_DOC: &str = "Get current hardware clock setting (UTC or localtime)\n\nCLI Example:\n\n    brine '*' timezone.get_hwclock";
const SET_HWCLOCK_DOC: &str = "Sets the hardware clock to be either UTC or localtime\n\nCLI Example:\n\n    brine '*' timezone.set_hwclock UTC";

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEDATECTL: &str = "               Local time: Mon 2026-12-07 04:00:00 CET\n           Universal time: Mon 2026-12-07 03:00:00 UTC\n                 RTC time: Mon 2026-12-07 03:00:00\n                Time zone: Europe/Berlin (CET, +0100)\nSystem clock synchronized: yes\n              NTP service: active\n          RTC in local TZ: no\n";

    #[test]
    fn timedatectl_output_gives_zone_and_clock() {
        assert_eq!(
            zone_in_timedatectl(TIMEDATECTL).as_deref(),
            Some("Europe/Berlin")
        );
        assert_eq!(
            zone_in_timedatectl("Timezone: UTC\n").as_deref(),
            Some("UTC")
        );
        assert_eq!(zone_in_timedatectl("Time zone:UTC\n"), None);
        assert_eq!(hwclock_in_timedatectl(TIMEDATECTL), Some("UTC"));
        assert_eq!(
            hwclock_in_timedatectl("RTC in local TZ: yes"),
            Some("localtime")
        );
        assert_eq!(hwclock_in_timedatectl("nothing"), None);
    }

    #[test]
    fn settings_files_read_like_salt() {
        assert_eq!(
            assigned_zone("# ZONE=x\nZONE=\"America/Denver\"\n", "ZONE", true).as_deref(),
            Some("America/Denver")
        );
        assert_eq!(
            assigned_zone("ZONE=''\n", "ZONE", true).as_deref(),
            Some("UTC")
        );
        assert_eq!(assigned_zone("nothing\n", "ZONE", true), None);
        assert_eq!(rcs_clock("#UTC=no\nUTC=yes\n"), Some("UTC"));
        assert_eq!(rcs_clock("UTC=no\n"), Some("localtime"));
        assert_eq!(rcs_clock(""), None);
    }

    #[test]
    fn strerror_is_the_middle_of_pythons_oserror_text() {
        assert_eq!(
            strerror_of("[Errno 2] No such file or directory: '/etc/timezone'"),
            "No such file or directory"
        );
    }

    #[test]
    fn zone_files_compare_by_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        let c = dir.path().join("c");
        std::fs::write(&a, b"TZif-1").expect("write");
        std::fs::write(&b, b"TZif-1").expect("write");
        std::fs::write(&c, b"TZif-2").expect("write");
        assert_eq!(same_file_content(&a, &b), Ok(true));
        assert_eq!(same_file_content(&a, &c), Ok(false));
        assert_eq!(
            same_file_content(&a, &dir.path().join("none")),
            Err(CompareError::Zone)
        );
        assert_eq!(
            same_file_content(&dir.path().join("none"), &a),
            Err(CompareError::Localtime("No such file or directory".into()))
        );
    }

    #[test]
    fn sed_replaces_whole_setting_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("rcS");
        std::fs::write(&f, "# UTC=no\nUTC=no\nX=1\n").expect("write");
        let path = f.display().to_string();
        sed(&path, "^UTC=.*", "UTC=yes").expect("sed");
        assert_eq!(
            std::fs::read_to_string(&f).expect("read"),
            "# UTC=no\nUTC=yes\nX=1\n"
        );
        // A missing file is left alone.
        sed(&dir.path().join("none").display().to_string(), "^a", "b").expect("no file");
    }
}
