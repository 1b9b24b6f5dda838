//! What every binary's command line shares: `-c/--config-dir` and `-l`, and
//! loading the config with its warnings logged once logging is up.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::config::{ConfigFile, DEFAULT_CONFIG_DIR, load};
use crate::logging;

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
