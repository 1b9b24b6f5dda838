//! What every binary's command line shares: `-c/--config-dir` and `-l`, and
//! loading the config with its warnings logged once logging is up.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::config::{ConfigFile, DEFAULT_CONFIG_DIR, load};
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

impl CommonArgs {
    /// Load the config, start logging at `-l` (or the config's `log_level`)
    /// and log the config's warnings.
    pub fn load<T: ConfigFile>(&self, config_log_level: impl Fn(&T) -> &str) -> anyhow::Result<T> {
        let loaded = load::<T>(&self.config_dir).with_context(|| {
            format!(
                "cannot load the {} config from {}",
                T::NAME,
                self.config_dir.display()
            )
        })?;
        let level = self
            .log_level
            .clone()
            .unwrap_or_else(|| config_log_level(&loaded.config).to_string());
        logging::init(&level);
        for w in &loaded.warnings {
            tracing::warn!("{w}");
        }
        Ok(loaded.config)
    }
}

/// The output flags `brine`, `brine-run` and `brine-call` share.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Output format: nested (default; highstate for state runs), json, yaml, txt, raw, quiet
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
}

impl OutputArgs {
    /// The outputter: `--out`, else Salt's default (`nested`).
    pub fn format(&self) -> OutputFormat {
        self.out.unwrap_or(OutputFormat::Nested)
    }

    /// Whether a return that asks for the `highstate` outputter (a state
    /// run) gets it: only when no `--out` was given, as in Salt.
    pub fn wants_highstate(&self, ret_out: Option<&str>) -> bool {
        self.out.is_none() && ret_out == Some("highstate")
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
