//! Salt's log line formats: Python `%`-style strings such as
//! `%(asctime)s,%(msecs)03d [%(name)-17s:%(lineno)-4d][%(levelname)-8s] %(message)s`
//! (`log_fmt_console`, `log_fmt_logfile`), and the strftime date formats
//! `%(asctime)s` is written with (`log_datefmt`, `log_datefmt_logfile`).
//!
//! A format is parsed once, when the config is read, so an unknown
//! placeholder is a config error naming the key rather than a broken line at
//! run time; rendering a record is then a walk over the parsed parts.

use std::fmt::Write as _;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;
use tracing::Level;

/// Salt's default `log_fmt_console`.
pub const DEFAULT_FMT_CONSOLE: &str = "[%(levelname)-8s] %(message)s";
/// Salt's default `log_fmt_logfile`.
pub const DEFAULT_FMT_LOGFILE: &str =
    "%(asctime)s,%(msecs)03d [%(name)-17s:%(lineno)-4d][%(levelname)-8s][%(process)d] %(message)s";
/// Salt's default `log_datefmt` (the console's).
pub const DEFAULT_DATEFMT: &str = "%H:%M:%S";
/// Salt's default `log_datefmt_logfile`.
pub const DEFAULT_DATEFMT_LOGFILE: &str = "%Y-%m-%d %H:%M:%S";

/// Why a format string was refused.
#[derive(Debug, Error, PartialEq)]
pub enum FormatError {
    #[error("unknown placeholder '%({0})' (known: {known})", known = PLACEHOLDERS.join(", "))]
    UnknownPlaceholder(String),
    #[error("'%({name}){conversion}': {name} is text, write it with 's'")]
    TextAsNumber { name: String, conversion: char },
    #[error("'%' at byte {0} must start a %(name)s placeholder or be written '%%'")]
    BarePercent(usize),
    #[error("unfinished placeholder at byte {0}")]
    Unfinished(usize),
    #[error("unknown conversion '{conversion}' at byte {at} (use s, d, i or f)")]
    UnknownConversion { conversion: char, at: usize },
    #[error("invalid date format '{format}': {reason}")]
    DateFormat { format: String, reason: String },
}

/// The placeholders a format may name: the Python `LogRecord` attributes
/// that have a meaning here, and the ones Salt's records add.
pub const PLACEHOLDERS: &[&str] = &[
    "asctime",
    "msecs",
    "created",
    "relativeCreated",
    "name",
    "levelname",
    "levelno",
    "lineno",
    "message",
    "process",
    "processName",
    "thread",
    "threadName",
    "module",
    "filename",
    "pathname",
    "funcName",
    "bracketname",
    "bracketlevel",
    "bracketprocess",
    "colorname",
    "colorlevel",
    "colorprocess",
    "colormsg",
    "jid",
    "minion_id",
];

/// What a placeholder stands for: a number can be written with any
/// conversion, text only with `s`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Number,
}

fn kind_of(name: &str) -> Kind {
    match name {
        "msecs" | "created" | "relativeCreated" | "levelno" | "lineno" | "process" | "thread" => {
            Kind::Number
        }
        _ => Kind::Text,
    }
}

/// How a placeholder's value is converted: `s` (also `r`, `a`), `d` (`i`,
/// `u`), `f` (`F`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Conversion {
    Str,
    Int,
    Float,
}

/// One `%(name)...` with its flags, width and precision.
#[derive(Debug, Clone, PartialEq)]
struct Placeholder {
    name: &'static str,
    left: bool,
    zero: bool,
    width: usize,
    precision: Option<usize>,
    conversion: Conversion,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Value(Placeholder),
}

/// A parsed `log_fmt_*` string; it serialises back to the text it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct LogFormat {
    source: String,
    parts: Vec<Part>,
}

impl LogFormat {
    /// Parse a Python `%`-style log format.
    pub fn parse(source: &str) -> Result<Self, FormatError> {
        let bytes = source.as_bytes();
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = source;
        while let Some(at) = rest.find('%') {
            text.push_str(&rest[..at]);
            let start = source.len() - rest.len() + at;
            match bytes.get(start + 1) {
                Some(b'%') => {
                    text.push('%');
                    rest = &source[start + 2..];
                }
                Some(b'(') => {
                    let (placeholder, end) = parse_placeholder(source, start)?;
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(Part::Value(placeholder));
                    rest = &source[end..];
                }
                _ => return Err(FormatError::BarePercent(start)),
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(LogFormat {
            source: source.to_string(),
            parts,
        })
    }

    /// The text the format was parsed from.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the format writes the time (so a line can do without it when
    /// something else stamps it, the journal).
    pub fn uses_time(&self) -> bool {
        self.parts.iter().any(|p| {
            matches!(p, Part::Value(v)
                if matches!(v.name, "asctime" | "msecs" | "created" | "relativeCreated"))
        })
    }

    /// One line for `record` (no newline); `datefmt` writes `%(asctime)s`;
    /// `color` turns on the ANSI codes of the `color*` placeholders.
    pub fn render(&self, record: &Record<'_>, datefmt: &DateFormat, color: bool) -> String {
        let mut line = String::with_capacity(self.source.len() + record.message.len() + 32);
        for part in &self.parts {
            match part {
                Part::Text(text) => line.push_str(text),
                Part::Value(p) => {
                    let value = record.value(p.name, datefmt, color);
                    push_converted(&mut line, p, &value);
                }
            }
        }
        line
    }
}

impl LogFormat {
    /// Salt's default `log_fmt_console`.
    pub fn console_default() -> Self {
        Self::trusted(DEFAULT_FMT_CONSOLE)
    }

    /// Salt's default `log_fmt_logfile`.
    pub fn logfile_default() -> Self {
        Self::trusted(DEFAULT_FMT_LOGFILE)
    }

    /// A format from a constant of this module (a test parses each); were
    /// one wrong, lines would still carry their message.
    fn trusted(source: &str) -> Self {
        Self::parse(source).unwrap_or_else(|_| LogFormat {
            source: source.into(),
            parts: vec![Part::Value(Placeholder {
                name: "message",
                left: false,
                zero: false,
                width: 0,
                precision: None,
                conversion: Conversion::Str,
            })],
        })
    }
}

impl Serialize for LogFormat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for LogFormat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        LogFormat::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `%(name)<flags><width>.<precision><conversion>` starting at `start` (the
/// `%`); the placeholder and the byte after it.
fn parse_placeholder(source: &str, start: usize) -> Result<(Placeholder, usize), FormatError> {
    let close = source[start..]
        .find(')')
        .map(|i| start + i)
        .ok_or(FormatError::Unfinished(start))?;
    let raw_name = &source[start + 2..close];
    let name = PLACEHOLDERS
        .iter()
        .copied()
        .find(|known| *known == raw_name)
        .ok_or_else(|| FormatError::UnknownPlaceholder(raw_name.to_string()))?;
    let bytes = source.as_bytes();
    let mut i = close + 1;
    let (mut left, mut zero) = (false, false);
    while let Some(flag) = bytes.get(i).filter(|b| b"-0 +#".contains(b)) {
        left |= *flag == b'-';
        zero |= *flag == b'0';
        i += 1;
    }
    let width = digits(bytes, &mut i).unwrap_or(0);
    let precision = if bytes.get(i) == Some(&b'.') {
        i += 1;
        Some(digits(bytes, &mut i).unwrap_or(0))
    } else {
        None
    };
    let conversion_char = source[i..]
        .chars()
        .next()
        .ok_or(FormatError::Unfinished(start))?;
    let conversion = match conversion_char {
        's' | 'r' | 'a' => Conversion::Str,
        'd' | 'i' | 'u' => Conversion::Int,
        'f' | 'F' => Conversion::Float,
        other => {
            return Err(FormatError::UnknownConversion {
                conversion: other,
                at: i,
            });
        }
    };
    if conversion != Conversion::Str && kind_of(name) == Kind::Text {
        return Err(FormatError::TextAsNumber {
            name: name.to_string(),
            conversion: conversion_char,
        });
    }
    let placeholder = Placeholder {
        name,
        left,
        zero,
        width,
        precision,
        conversion,
    };
    Ok((placeholder, i + conversion_char.len_utf8()))
}

fn digits(bytes: &[u8], i: &mut usize) -> Option<usize> {
    let start = *i;
    while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
        *i += 1;
    }
    std::str::from_utf8(&bytes[start..*i]).ok()?.parse().ok()
}

/// A placeholder's value before conversion.
enum Value {
    Text(String),
    Number(f64),
}

/// Python's `%` conversion of `value` with the placeholder's flags.
fn push_converted(line: &mut String, p: &Placeholder, value: &Value) {
    let body = match (value, p.conversion) {
        (Value::Text(text), _) => match p.precision {
            Some(max) => text.chars().take(max).collect(),
            None => text.clone(),
        },
        (Value::Number(n), Conversion::Float) => format!("{n:.*}", p.precision.unwrap_or(6)),
        (Value::Number(n), Conversion::Int) => {
            let int = n.trunc() as i64;
            let digits = int.unsigned_abs().to_string();
            let min = p.precision.unwrap_or(0);
            let sign = if int < 0 { "-" } else { "" };
            format!("{sign}{digits:0>min$}")
        }
        (Value::Number(n), Conversion::Str) => python_str(*n),
    };
    let len = body.chars().count();
    let pad = p.width.saturating_sub(len);
    if pad == 0 {
        line.push_str(&body);
    } else if p.left {
        line.push_str(&body);
        line.extend(std::iter::repeat_n(' ', pad));
    } else if p.zero && p.conversion != Conversion::Str {
        let (sign, digits) = body
            .strip_prefix('-')
            .map_or(("", body.as_str()), |d| ("-", d));
        line.push_str(sign);
        line.extend(std::iter::repeat_n('0', pad));
        line.push_str(digits);
    } else {
        line.extend(std::iter::repeat_n(' ', pad));
        line.push_str(&body);
    }
}

/// `str()` of a Python number: integers without a fraction.
fn python_str(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// A validated strftime format (`log_datefmt`, `log_datefmt_logfile`).
#[derive(Debug, Clone, PartialEq)]
pub struct DateFormat(String);

impl DateFormat {
    /// Check `format` by writing one date with it.
    pub fn parse(format: &str) -> Result<Self, FormatError> {
        let sample = jiff::Timestamp::UNIX_EPOCH.to_zoned(jiff::tz::TimeZone::UTC);
        jiff::fmt::strtime::format(format, &sample).map_err(|e| FormatError::DateFormat {
            format: format.to_string(),
            reason: e.to_string(),
        })?;
        Ok(DateFormat(format.to_string()))
    }

    /// Salt's default `log_datefmt` (a test checks the constants).
    pub fn console_default() -> Self {
        DateFormat(DEFAULT_DATEFMT.into())
    }

    /// Salt's default `log_datefmt_logfile`.
    pub fn logfile_default() -> Self {
        DateFormat(DEFAULT_DATEFMT_LOGFILE.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn write(&self, time: &jiff::Zoned, out: &mut String) {
        let tm = jiff::fmt::strtime::BrokenDownTime::from(time);
        // Checked when parsed; a failure here would leave the field short,
        // never lose the line.
        let _ = tm.format(&self.0, out);
    }
}

impl Serialize for DateFormat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DateFormat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        DateFormat::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// What a log line is made of.
pub struct Record<'a> {
    pub time: jiff::Zoned,
    /// Milliseconds since logging started (`%(relativeCreated)d`).
    pub since_start_ms: f64,
    pub level: Level,
    /// The event's target (`brine_master::daemon`), `%(name)s` with dots.
    pub target: &'a str,
    pub file: Option<&'a str>,
    pub line: Option<u32>,
    /// The message and the event's other fields (`running job jid=...`).
    pub message: &'a str,
    pub jid: Option<&'a str>,
    pub minion_id: Option<&'a str>,
}

/// Salt's level name for a `tracing` level (`WARNING`, not `WARN`).
pub fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}

/// Python's number for a level (Salt's `TRACE` is 5).
fn level_number(level: Level) -> u32 {
    match level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

/// Salt's `LOG_COLORS`: the level's colour and its message's colour.
fn level_colors(level: Level) -> (&'static str, &'static str) {
    match level {
        Level::ERROR => ("\x1b[0;1;31m", "\x1b[0;31m"),
        Level::WARN => ("\x1b[0;1;33m", "\x1b[0;33m"),
        Level::INFO => ("\x1b[0;1;32m", "\x1b[0;32m"),
        Level::DEBUG => ("\x1b[0;1;36m", "\x1b[0;36m"),
        Level::TRACE => ("\x1b[0;1;35m", "\x1b[0;35m"),
    }
}
const COLOR_NAME: &str = "\x1b[0;1;32m";
const COLOR_PROCESS: &str = "\x1b[0;1;34m";
const COLOR_RESET: &str = "\x1b[0m";

impl Record<'_> {
    fn name(&self) -> String {
        self.target.replace("::", ".")
    }

    fn value(&self, placeholder: &str, datefmt: &DateFormat, color: bool) -> Value {
        let text = Value::Text;
        let number = |n: f64| Value::Number(n);
        match placeholder {
            "asctime" => {
                let mut out = String::new();
                datefmt.write(&self.time, &mut out);
                text(out)
            }
            "msecs" => number(f64::from(self.time.subsec_nanosecond()) / 1e6),
            "created" => number(self.time.timestamp().as_millisecond() as f64 / 1e3),
            "relativeCreated" => number(self.since_start_ms),
            "name" => text(self.name()),
            "levelname" => text(level_name(self.level).into()),
            "levelno" => number(f64::from(level_number(self.level))),
            "lineno" => number(f64::from(self.line.unwrap_or(0))),
            "message" => text(self.message.into()),
            "process" => number(f64::from(std::process::id())),
            "processName" => text(process_name()),
            "thread" => number(f64::from(nix::unistd::gettid().as_raw())),
            "threadName" => text(std::thread::current().name().unwrap_or("-").into()),
            "module" => text(self.file_stem().into()),
            "filename" => text(self.file_name().into()),
            "pathname" => text(self.file.unwrap_or("-").into()),
            // Rust's events do not carry their function; the module path
            // is the nearest thing.
            "funcName" => text(self.target.rsplit("::").next().unwrap_or("-").into()),
            "jid" => text(self.jid.unwrap_or("").into()),
            "minion_id" => text(self.minion_id.unwrap_or("").into()),
            salt_extra => text(self.salt_extra(salt_extra, color)),
        }
    }

    /// Salt's `bracket*` and `color*` record attributes.
    fn salt_extra(&self, placeholder: &str, color: bool) -> String {
        let (level_color, msg_color) = level_colors(self.level);
        let paint = |code: &str, body: String| {
            if color {
                format!("{code}{body}{COLOR_RESET}")
            } else {
                body
            }
        };
        let name = format!("[{:<17}]", self.name());
        let level = format!("[{:<8}]", level_name(self.level));
        let process = format!("[{:>5}]", std::process::id());
        match placeholder {
            "bracketname" => name,
            "bracketlevel" => level,
            "bracketprocess" => process,
            "colorname" => paint(COLOR_NAME, name),
            "colorlevel" => paint(level_color, level),
            "colorprocess" => paint(COLOR_PROCESS, process),
            "colormsg" => paint(msg_color, self.message.to_string()),
            _ => String::new(),
        }
    }

    fn file_name(&self) -> &str {
        let file = self.file.unwrap_or("-");
        file.rsplit('/').next().unwrap_or(file)
    }

    fn file_stem(&self) -> &str {
        let name = self.file_name();
        name.strip_suffix(".rs").unwrap_or(name)
    }
}

fn process_name() -> String {
    std::env::args()
        .next()
        .and_then(|arg0| arg0.rsplit('/').next().map(str::to_string))
        .unwrap_or_else(|| "-".into())
}

/// Append ` key=value` for each field, as `tracing`'s own formatter does.
pub fn push_field(message: &mut String, name: &str, value: &dyn std::fmt::Debug) {
    if !message.is_empty() {
        message.push(' ');
    }
    let _ = write!(message, "{name}={value:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(message: &str) -> Record<'_> {
        let time = jiff::civil::date(2026, 12, 7)
            .at(13, 4, 5, 42_600_000)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .expect("a valid time");
        Record {
            time,
            since_start_ms: 1500.0,
            level: Level::WARN,
            target: "brine_master::daemon",
            file: Some("master/src/daemon.rs"),
            line: Some(42),
            message,
            jid: Some("20261207130405042600"),
            minion_id: None,
        }
    }

    fn render(format: &str, datefmt: &str) -> String {
        let format = LogFormat::parse(format).expect("valid format");
        let datefmt = DateFormat::parse(datefmt).expect("valid datefmt");
        format.render(&record("it happened"), &datefmt, false)
    }

    /// Salt's two defaults, as Python's logging writes them.
    #[test]
    fn salt_defaults_render_as_python_does() {
        assert_eq!(
            render(DEFAULT_FMT_CONSOLE, DEFAULT_DATEFMT),
            "[WARNING ] it happened"
        );
        assert_eq!(
            render(DEFAULT_FMT_LOGFILE, DEFAULT_DATEFMT_LOGFILE),
            format!(
                "2026-12-07 13:04:05,042 [brine_master.daemon:42  ][WARNING ][{}] it happened",
                std::process::id()
            )
        );
    }

    #[test]
    fn width_alignment_zero_fill_and_precision() {
        assert_eq!(render("%(levelname)8s|", "%H"), " WARNING|");
        assert_eq!(render("%(levelname)-9s|", "%H"), "WARNING  |");
        assert_eq!(render("%(lineno)05d", "%H"), "00042");
        assert_eq!(render("%(lineno)-5d|", "%H"), "42   |");
        assert_eq!(render("%(levelname).4s", "%H"), "WARN");
        assert_eq!(render("%(relativeCreated).1f", "%H"), "1500.0");
        assert_eq!(render("%(msecs)d %(lineno)s", "%H"), "42 42");
        assert_eq!(
            render("100%% %(asctime)s", "%d/%m %H:%M"),
            "100% 07/12 13:04"
        );
        assert_eq!(
            render("%(name)s %(module)s %(filename)s", "%H"),
            "brine_master.daemon daemon daemon.rs"
        );
        assert_eq!(render("[%(jid)s]", "%H"), "[20261207130405042600]");
    }

    #[test]
    fn salt_bracket_and_color_placeholders() {
        assert_eq!(
            render("%(bracketlevel)s%(bracketname)s", "%H"),
            "[WARNING ][brine_master.daemon]"
        );
        // Without colour the colour placeholders are the bracketed ones.
        assert_eq!(
            render("%(colorlevel)s %(colormsg)s", "%H"),
            "[WARNING ] it happened"
        );
        let format = LogFormat::parse("%(colorlevel)s").expect("valid");
        let painted = format.render(&record("x"), &DateFormat::parse("%H").expect("valid"), true);
        assert_eq!(painted, "\x1b[0;1;33m[WARNING ]\x1b[0m");
    }

    #[test]
    fn bad_formats_say_what_is_wrong() {
        assert_eq!(
            LogFormat::parse("%(levelnam)s"),
            Err(FormatError::UnknownPlaceholder("levelnam".into()))
        );
        assert!(
            FormatError::UnknownPlaceholder("x".into())
                .to_string()
                .contains("levelname")
        );
        assert_eq!(
            LogFormat::parse("50% %(message)s"),
            Err(FormatError::BarePercent(2))
        );
        assert_eq!(
            LogFormat::parse("%(message"),
            Err(FormatError::Unfinished(0))
        );
        assert_eq!(
            LogFormat::parse("%(message)"),
            Err(FormatError::Unfinished(0))
        );
        assert!(matches!(
            LogFormat::parse("%(message)x"),
            Err(FormatError::UnknownConversion {
                conversion: 'x',
                ..
            })
        ));
        assert!(matches!(
            LogFormat::parse("%(name)d"),
            Err(FormatError::TextAsNumber { .. })
        ));
        assert!(DateFormat::parse("%Y-%!").is_err());
    }

    #[test]
    fn a_format_knows_whether_it_writes_the_time() {
        assert!(
            !LogFormat::parse(DEFAULT_FMT_CONSOLE)
                .expect("valid")
                .uses_time()
        );
        assert!(
            LogFormat::parse(DEFAULT_FMT_LOGFILE)
                .expect("valid")
                .uses_time()
        );
    }

    #[test]
    fn the_default_constants_are_valid() {
        for format in [DEFAULT_FMT_CONSOLE, DEFAULT_FMT_LOGFILE] {
            assert!(LogFormat::parse(format).is_ok(), "{format}");
        }
        for format in [DEFAULT_DATEFMT, DEFAULT_DATEFMT_LOGFILE] {
            assert!(DateFormat::parse(format).is_ok(), "{format}");
        }
        assert_eq!(LogFormat::console_default().as_str(), DEFAULT_FMT_CONSOLE);
        assert_eq!(LogFormat::logfile_default().as_str(), DEFAULT_FMT_LOGFILE);
    }

    #[test]
    fn fields_follow_the_message_as_tracing_writes_them() {
        let mut message = String::from("running job");
        push_field(&mut message, "jid", &format_args!("{}", "123"));
        push_field(&mut message, "fun", &"test.ping");
        assert_eq!(message, "running job jid=123 fun=\"test.ping\"");
    }
}
