//! What every binary's command line shares: `-c/--config-dir` and `-l` (and
//! the daemons' `--log-file`, `--log-file-level`), and loading the config
//! with its warnings logged once logging is up.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use crate::config::{ConfigFile, DEFAULT_CONFIG_DIR, Loaded, load};
use crate::logging;
use crate::output::{OutputFormat, OutputOptions};

#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Directory holding the `master`/`minion` config files
    #[arg(short = 'c', long = "config-dir", value_name = "DIR", default_value = DEFAULT_CONFIG_DIR, env = "BRINE_CONFIG_DIR")]
    pub config_dir: PathBuf,

    /// Log level: all, garbage, trace, debug, profile, info, warning, error, critical, quiet
    #[arg(short = 'l', long = "log-level", value_name = "LOG_LEVEL", value_parser = clap::builder::PossibleValuesParser::new(logging::LEVELS))]
    pub log_level: Option<String>,
}

/// The log file flags of the daemons (Salt's `--log-file`,
/// `--log-file-level`), over the config's `log_file` and `log_level_logfile`.
#[derive(Debug, Clone, Default, Args)]
pub struct LogFileArgs {
    /// Log file path (default: the config's log_file)
    #[arg(long = "log-file", value_name = "LOG_FILE")]
    pub log_file: Option<PathBuf>,

    /// Log file level (default: the config's log_level_logfile, else its log_level)
    #[arg(long = "log-file-level", value_name = "LOG_LEVEL_LOGFILE", value_parser = clap::builder::PossibleValuesParser::new(logging::LEVELS))]
    pub log_file_level: Option<String>,
}

impl LogFileArgs {
    /// The log file of a daemon whose config names `config_path`.
    fn settings<T: ConfigFile>(&self, config: &T, config_path: &Path) -> logging::FileSettings {
        let keys = config.log_config();
        logging::FileSettings {
            path: self
                .log_file
                .clone()
                .unwrap_or_else(|| config_path.to_path_buf()),
            // Salt's order: the flag, log_level_logfile, the config's
            // log_level (not -l, which is the console's).
            level: self
                .log_file_level
                .clone()
                .or_else(|| {
                    keys.log_level_logfile
                        .as_ref()
                        .map(|l| l.as_str().to_string())
                })
                .unwrap_or_else(|| config.log_level().to_string()),
            line: logging::LineFormat {
                format: keys.log_fmt_logfile.clone(),
                datefmt: keys.log_datefmt_logfile.clone(),
            },
        }
    }
}

impl CommonArgs {
    /// Load the config, start logging to the console at `-l` (or the
    /// config's `log_level`) and log the config's warnings: the tools.
    pub fn load<T: ConfigFile>(&self) -> anyhow::Result<T> {
        let loaded = self.read::<T>()?;
        logging::init(self.console_settings(&loaded.config));
        log_warnings(&loaded.warnings);
        Ok(loaded.config)
    }

    /// [`CommonArgs::load`] for a daemon, which also logs to its log file:
    /// `log_file` picks it from the config (the master's `log_file`,
    /// brine-api's `api_logfile`), `--log-file` overrides it.
    pub fn load_daemon<T: ConfigFile>(
        &self,
        file_args: &LogFileArgs,
        log_file: impl Fn(&T) -> &Path,
    ) -> anyhow::Result<T> {
        let loaded = self.read::<T>()?;
        let config = &loaded.config;
        let mut settings = self.console_settings(config);
        settings.file = Some(file_args.settings(config, log_file(config)));
        logging::init(settings);
        log_warnings(&loaded.warnings);
        Ok(loaded.config)
    }

    fn read<T: ConfigFile>(&self) -> anyhow::Result<Loaded<T>> {
        load::<T>(&self.config_dir).with_context(|| {
            format!(
                "cannot load the {} config from {}",
                T::NAME,
                self.config_dir.display()
            )
        })
    }

    /// The console: `-l`, else the config's `log_level`, in its
    /// `log_fmt_console`.
    fn console_settings<T: ConfigFile>(&self, config: &T) -> logging::Settings {
        let keys = config.log_config();
        logging::Settings {
            console_level: self
                .log_level
                .clone()
                .unwrap_or_else(|| config.log_level().to_string()),
            console: logging::LineFormat {
                format: keys.log_fmt_console.clone(),
                datefmt: keys.log_datefmt.clone(),
            },
            file: None,
        }
    }
}

fn log_warnings(warnings: &[String]) {
    for w in warnings {
        tracing::warn!("{w}");
    }
}

/// The output flags `brine`, `brine-run` and `brine-call` share.
#[derive(Debug, Clone, Default, Args)]
pub struct OutputArgs {
    /// Output format: nested (default; highstate for state runs), highstate, json, yaml, txt, raw, quiet
    #[arg(long = "out", visible_alias = "output")]
    pub out: Option<OutputFormat>,

    /// Indentation for json output (negative: one line)
    #[arg(
        long = "out-indent",
        visible_alias = "output-indent",
        allow_negative_numbers = true
    )]
    pub out_indent: Option<i64>,

    /// Never colour the output
    #[arg(long = "no-color", visible_alias = "no-colour")]
    pub no_color: bool,

    /// Colour the output even when not on a terminal
    #[arg(long = "force-color", visible_alias = "force-colour")]
    pub force_color: bool,

    /// Override the configured state_output: full, terse, mixed, changes or filter (each also with _id)
    #[arg(
        long = "state-output",
        visible_alias = "state_output",
        value_name = "STATE_OUTPUT"
    )]
    pub state_output: Option<String>,

    /// Override the configured state_verbose: True or False
    #[arg(
        long = "state-verbose",
        visible_alias = "state_verbose",
        value_name = "STATE_VERBOSE",
        value_parser = parse_python_bool
    )]
    pub state_verbose: Option<bool>,
}

/// `True`/`False` as Salt's command line takes them (any case; also 1/0,
/// yes/no, on/off).
fn parse_python_bool(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("expected True or False, not '{text}'")),
    }
}

impl OutputArgs {
    /// The outputter: `--out`, else Salt's default (`nested`).
    pub fn format(&self) -> OutputFormat {
        self.out.unwrap_or(OutputFormat::Nested)
    }

    /// Whether a return is printed with the `highstate` outputter: always
    /// with `--out=highstate`; a return that asks for it (a state run) only
    /// when no `--out` was given, as in Salt.
    pub fn wants_highstate(&self, ret_out: Option<&str>) -> bool {
        match self.out {
            Some(OutputFormat::Highstate) => true,
            Some(_) => false,
            None => ret_out == Some("highstate"),
        }
    }

    /// Salt's rule: colour when the config allows it and stdout is a
    /// terminal, unless `--no-color`; always with `--force-color`.
    pub fn options(&self, config_color: bool, static_: bool) -> OutputOptions {
        use std::io::IsTerminal;
        let color = !self.no_color
            && (self.force_color || (config_color && std::io::stdout().is_terminal()));
        OutputOptions {
            color,
            static_,
            indent: self.out_indent,
        }
    }
}

/// Wait for SIGTERM or SIGINT (a daemon's signal to stop).
pub async fn wait_for_shutdown() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers, run until killed.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MasterConfig;
    use crate::logging::LogLevel;

    /// Salt's order for the log file: the flags, then `log_level_logfile`,
    /// then the config's `log_level` (never `-l`, the console's).
    #[test]
    fn log_file_flags_win_over_the_config() {
        let mut config = MasterConfig {
            log_level: "error".into(),
            ..MasterConfig::default()
        };
        let none = LogFileArgs::default();
        let file = none.settings(&config, &config.log_file);
        assert_eq!(file.path, Path::new("/var/log/brine/master"));
        assert_eq!(file.level, "error");
        assert_eq!(
            file.line.format.as_str(),
            logging::format::DEFAULT_FMT_LOGFILE
        );

        config.log.log_level_logfile = LogLevel::parse("info").ok();
        assert_eq!(none.settings(&config, &config.log_file).level, "info");

        let flags = LogFileArgs {
            log_file: Some("/tmp/brine.log".into()),
            log_file_level: Some("debug".into()),
        };
        let file = flags.settings(&config, &config.api_logfile);
        assert_eq!(file.path, Path::new("/tmp/brine.log"));
        assert_eq!(file.level, "debug");
    }
}
