//! Logging as Salt configures it, onto `tracing`: Salt's level names, a
//! console (stderr) at `log_level` in `log_fmt_console`, and for the daemons
//! a log file (`log_file`) at `log_level_logfile` in `log_fmt_logfile`.
//!
//! The log file is reopened by path on SIGHUP ([`reopen_on_sighup`]), which
//! is what logrotate's move-then-signal rotation needs. Under systemd
//! (stderr is the journal stream systemd names in `JOURNAL_STREAM`) console
//! lines carry sd-daemon(3)'s `<N>` priority prefix, no colour and no time:
//! the journal stamps its own.

pub mod format;

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

pub use format::{DateFormat, FormatError, LogFormat, Record};

/// Salt's log levels, as `-l`/`log_level` accept them.
pub const LEVELS: &[&str] = &[
    "all", "garbage", "trace", "debug", "profile", "info", "warning", "error", "critical", "quiet",
];

/// The `tracing` filter for a Salt level name, or `None` for an unknown name.
pub fn filter_for(level: &str) -> Option<&'static str> {
    Some(match level {
        "all" | "garbage" | "trace" => "trace",
        "debug" | "profile" => "debug",
        "info" => "info",
        "warning" | "warn" => "warn",
        "error" | "critical" => "error",
        "quiet" => "off",
        _ => return None,
    })
}

/// The level filter for a Salt level name (an unknown name: `warning`).
fn level_filter(level: &str) -> LevelFilter {
    filter_for(level)
        .and_then(|directive| directive.parse().ok())
        .unwrap_or(LevelFilter::WARN)
}

/// A Salt level name checked when the config is read
/// (`log_level_logfile`).
#[derive(Debug, Clone, PartialEq)]
pub struct LogLevel(String);

impl LogLevel {
    pub fn parse(name: &str) -> Result<Self, String> {
        match filter_for(name) {
            Some(_) => Ok(LogLevel(name.to_string())),
            None => Err(format!(
                "unknown log level '{name}' (one of {})",
                LEVELS.join(", ")
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for LogLevel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for LogLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        LogLevel::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// One destination's format: the line and the date in it.
#[derive(Debug, Clone)]
pub struct LineFormat {
    pub format: LogFormat,
    pub datefmt: DateFormat,
}

/// The log file of a daemon.
#[derive(Debug, Clone)]
pub struct FileSettings {
    pub path: PathBuf,
    pub level: String,
    pub line: LineFormat,
}

/// Everything [`init`] needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub console_level: String,
    pub console: LineFormat,
    pub file: Option<FileSettings>,
}

impl Settings {
    /// Console only, in Salt's default console format (tools and tests).
    pub fn console(level: &str) -> Self {
        Settings {
            console_level: level.to_string(),
            console: LineFormat {
                format: LogFormat::console_default(),
                datefmt: DateFormat::console_default(),
            },
            file: None,
        }
    }
}

/// The open log file, kept so SIGHUP can reopen it.
static LOG_FILE: OnceLock<Arc<LogFile>> = OnceLock::new();
/// When logging started (`%(relativeCreated)d`).
static STARTED: OnceLock<Instant> = OnceLock::new();

/// Install the global subscriber: the console at `console_level` (`RUST_LOG`
/// wins when set), and the log file if one is given. A log file that cannot
/// be opened is said on stderr, with its path and the error, and the daemon
/// goes on with the console only (Salt does the same).
pub fn init(settings: Settings) {
    STARTED.get_or_init(Instant::now);
    let journal = stderr_is_journal();
    let console_filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(filter_for(&settings.console_level).unwrap_or("warn")));
    let console = LineLayer {
        line: console_line(settings.console, journal),
        sink: Sink::Console {
            journal,
            color: !journal && std::io::stderr().is_terminal(),
        },
    };
    let file_layer = settings
        .file
        .and_then(|file| file_layer(file, journal))
        .map(|(layer, level)| layer.with_filter(level));
    let _ = tracing_subscriber::registry()
        .with(console.with_filter(console_filter))
        .with(file_layer)
        .try_init();
}

/// The log file's layer and level, or `None` (said on stderr, whatever the
/// console's level: a daemon without its log file must not be silent about
/// it) when the file cannot be opened.
fn file_layer(file: FileSettings, journal: bool) -> Option<(LineLayer, LevelFilter)> {
    match open_log_file(&file.path) {
        Ok(log_file) => {
            let log_file = Arc::new(log_file);
            let _ = LOG_FILE.set(log_file.clone());
            let layer = LineLayer {
                line: file.line,
                sink: Sink::File(log_file),
            };
            Some((layer, level_filter(&file.level)))
        }
        Err(e) => {
            let prefix = if journal {
                journal_prefix(Level::WARN)
            } else {
                ""
            };
            eprintln!(
                "{prefix}[WARNING ] cannot open the log file {}: {e}; logging to the console only",
                file.path.display()
            );
            None
        }
    }
}

/// The console's format: under the journal one that writes no time (the
/// journal stamps each line), so a configured format with a time falls back
/// to Salt's default there.
fn console_line(line: LineFormat, journal: bool) -> LineFormat {
    if journal && line.format.uses_time() {
        return LineFormat {
            format: LogFormat::console_default(),
            datefmt: line.datefmt,
        };
    }
    line
}

/// Open the daemon's log file. Salt's `log_file` may also name a syslog
/// destination (`udp://host:514`, `file:///dev/log`), which Brine does not
/// log to: refused here rather than made into a directory named `udp:`.
fn open_log_file(path: &Path) -> std::io::Result<LogFile> {
    if crate::config::is_syslog_destination(path) {
        return Err(std::io::Error::other(
            "syslog destinations are not supported; give a file path",
        ));
    }
    LogFile::open(path)
}

/// Reopen the log file by its path (after logrotate moved it away). An
/// error leaves the old file in use and is returned; no log file, nothing
/// to do.
pub fn reopen() -> std::io::Result<()> {
    match LOG_FILE.get() {
        Some(file) => file.reopen(),
        None => Ok(()),
    }
}

/// Reopen the log file on every SIGHUP, for as long as the runtime runs.
/// Call it inside the daemon's runtime: the handler is in place when this
/// returns, so a SIGHUP no longer ends the process.
pub fn reopen_on_sighup() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match reopen() {
                Ok(()) => tracing::info!("SIGHUP: log file reopened"),
                Err(e) => tracing::warn!("SIGHUP: cannot reopen the log file: {e}"),
            }
        }
    });
    Ok(())
}

/// A log file appended to one whole line per write, swapped for a fresh
/// open of the same path by [`LogFile::reopen`].
struct LogFile {
    path: PathBuf,
    file: Mutex<File>,
}

impl LogFile {
    fn open(path: &Path) -> std::io::Result<Self> {
        Ok(LogFile {
            path: path.to_path_buf(),
            file: Mutex::new(open_append(path)?),
        })
    }

    fn reopen(&self) -> std::io::Result<()> {
        let fresh = open_append(&self.path)?;
        *self.file.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    fn write_line(&self, line: &[u8]) {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        // A full disk must not stop the daemon; the line is lost.
        let _ = file.write_all(line);
    }
}

/// Open `path` for appending, making its directory as Salt does (mode 0750
/// for the directory, 0640 for the file, Salt's umask 027).
fn open_append(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(dir)?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

/// Whether stderr is the journal stream: systemd sets `JOURNAL_STREAM` to
/// `<device>:<inode>` of the stream it connects (systemd.exec(5)); a
/// child whose stderr was redirected inherits the variable but not the
/// stream, hence the comparison.
fn stderr_is_journal() -> bool {
    let Ok(stream) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    match nix::sys::stat::fstat(std::io::stderr()) {
        Ok(stat) => journal_stream_is(&stream, stat.st_dev, stat.st_ino),
        Err(_) => false,
    }
}

fn journal_stream_is(stream: &str, dev: u64, ino: u64) -> bool {
    let parsed = stream
        .split_once(':')
        .and_then(|(d, i)| Some((d.parse::<u64>().ok()?, i.parse::<u64>().ok()?)));
    parsed == Some((dev, ino))
}

/// sd-daemon(3)'s priority prefix for a level.
fn journal_prefix(level: Level) -> &'static str {
    match level {
        Level::ERROR => "<3>",
        Level::WARN => "<4>",
        Level::INFO => "<6>",
        Level::DEBUG | Level::TRACE => "<7>",
    }
}

enum Sink {
    Console { journal: bool, color: bool },
    File(Arc<LogFile>),
}

/// Writes each event as one line in its format to its sink.
struct LineLayer {
    line: LineFormat,
    sink: Sink,
}

impl<S: Subscriber> Layer<S> for LineLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = EventFields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let message = fields.message();
        let record = Record {
            time: jiff::Zoned::now(),
            since_start_ms: STARTED
                .get()
                .map_or(0.0, |t| t.elapsed().as_secs_f64() * 1e3),
            level: *meta.level(),
            // `log` crate records come through tracing-log with their own
            // target and place in fields.
            target: fields.log_target.as_deref().unwrap_or(meta.target()),
            file: fields.log_file.as_deref().or(meta.file()),
            line: fields.log_line.or(meta.line()),
            message: &message,
            jid: fields.jid.as_deref(),
            minion_id: fields.minion_id.as_deref(),
        };
        let color = matches!(self.sink, Sink::Console { color: true, .. });
        let mut text = String::new();
        if let Sink::Console { journal: true, .. } = self.sink {
            text.push_str(journal_prefix(record.level));
        }
        text.push_str(&self.line.format.render(&record, &self.line.datefmt, color));
        text.push('\n');
        match &self.sink {
            Sink::Console { .. } => {
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }
            Sink::File(file) => file.write_line(text.as_bytes()),
        }
    }
}

/// An event's message and its other fields as `key=value`, and the fields a
/// format can name on their own.
#[derive(Default)]
struct EventFields {
    message: String,
    others: String,
    jid: Option<String>,
    minion_id: Option<String>,
    log_target: Option<String>,
    log_file: Option<String>,
    log_line: Option<u32>,
}

impl EventFields {
    fn message(&self) -> String {
        match (self.message.is_empty(), self.others.is_empty()) {
            (_, true) => self.message.clone(),
            (true, false) => self.others.clone(),
            (false, false) => format!("{} {}", self.message, self.others),
        }
    }
}

impl Visit for EventFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "log.target" => self.log_target = Some(value.to_string()),
            "log.file" => self.log_file = Some(value.to_string()),
            _ => self.record_debug(field, &value),
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "log.line" => self.log_line = u32::try_from(value).ok(),
            _ => self.record_debug(field, &value),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let name = field.name();
        match name {
            "message" => self.message = format!("{value:?}"),
            name if name.starts_with("log.") => {}
            _ => {
                let shown = format!("{value:?}");
                let bare = shown.trim_matches('"').to_string();
                match name {
                    "jid" => self.jid = Some(bare),
                    "minion_id" | "minion" => self.minion_id = Some(bare),
                    _ => {}
                }
                format::push_field(&mut self.others, name, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_salt_level_maps() {
        for l in LEVELS {
            assert!(filter_for(l).is_some(), "{l}");
            assert!(LogLevel::parse(l).is_ok(), "{l}");
        }
        assert!(filter_for("loud").is_none());
        assert_eq!(level_filter("garbage"), LevelFilter::TRACE);
        assert_eq!(level_filter("profile"), LevelFilter::DEBUG);
        assert_eq!(level_filter("critical"), LevelFilter::ERROR);
        assert_eq!(level_filter("quiet"), LevelFilter::OFF);
        let err = LogLevel::parse("loud").expect_err("not a level");
        assert!(err.contains("'loud'") && err.contains("warning"), "{err}");
    }

    #[test]
    fn the_journal_is_recognised_by_device_and_inode() {
        assert!(journal_stream_is("8:12345", 8, 12345));
        assert!(!journal_stream_is("8:12345", 8, 999));
        assert!(!journal_stream_is("garbage", 8, 12345));
        assert_eq!(journal_prefix(Level::WARN), "<4>");
        assert_eq!(journal_prefix(Level::ERROR), "<3>");
    }

    /// Under the journal a console format with a time falls back to Salt's
    /// default, which has none; elsewhere it is kept.
    #[test]
    fn journal_lines_carry_no_time() {
        let timed = LineFormat {
            format: LogFormat::parse(format::DEFAULT_FMT_LOGFILE).expect("valid"),
            datefmt: DateFormat::console_default(),
        };
        assert!(!console_line(timed.clone(), true).format.uses_time());
        assert!(console_line(timed, false).format.uses_time());
    }

    /// The file is reopened by path: after a rename, lines go to a new file
    /// at the old name.
    #[test]
    fn reopen_follows_the_path_after_a_rename() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("var/log/brine/minion");
        let file = LogFile::open(&path).expect("open, making the directories");
        file.write_line(b"one\n");
        let moved = dir.path().join("minion.1");
        std::fs::rename(&path, &moved).expect("rename");
        file.write_line(b"two\n");
        file.reopen().expect("reopen");
        file.write_line(b"three\n");
        assert_eq!(std::fs::read_to_string(&moved).expect("read"), "one\ntwo\n");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "three\n");
    }

    #[test]
    fn a_syslog_destination_is_refused_not_made_a_directory() {
        let root = tempfile::tempdir().expect("tempdir");
        for url in ["udp://localhost:514", "file:///dev/log/LOG_DAEMON"] {
            // root_dir does not prefix it, and opening refuses it.
            let mut path = std::path::PathBuf::from(url);
            crate::config::prefix(root.path(), &mut path);
            assert_eq!(path, std::path::PathBuf::from(url));
            let err = open_log_file(&path).err().expect("refused");
            assert!(err.to_string().contains("syslog"), "{err}");
        }
        assert_eq!(std::fs::read_dir(root.path()).expect("read").count(), 0);
    }

    /// Events through the layer: the file's level filters, the fields follow
    /// the message, `%(jid)s` comes from the event's field, `%(name)s` is the
    /// module path with dots.
    #[test]
    fn events_become_lines_in_the_files_format() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("minion");
        let layer = LineLayer {
            line: LineFormat {
                format: LogFormat::parse("%(levelname)s %(name)s [%(jid)s] %(message)s")
                    .expect("valid"),
                datefmt: DateFormat::logfile_default(),
            },
            sink: Sink::File(Arc::new(LogFile::open(&path).expect("open"))),
        };
        let subscriber =
            tracing_subscriber::registry().with(layer.with_filter(level_filter("info")));
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!("filtered out");
            tracing::info!(jid = %"20261207", fun = "test.ping", "running job");
            tracing::warn!("plain");
        });
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "INFO brine_common.logging.tests [20261207] running job jid=20261207 fun=\"test.ping\"\n\
             WARNING brine_common.logging.tests [] plain\n"
        );
    }

    #[test]
    fn fields_follow_the_message() {
        let mut fields = EventFields {
            message: "running job".into(),
            others: "jid=1".into(),
            ..Default::default()
        };
        assert_eq!(fields.message(), "running job jid=1");
        fields.message.clear();
        assert_eq!(fields.message(), "jid=1");
    }
}
