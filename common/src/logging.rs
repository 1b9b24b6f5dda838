//! Logging setup shared by every binary: Salt's level names onto `tracing`.

use tracing_subscriber::EnvFilter;

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

/// Install the global subscriber, writing to stderr. `RUST_LOG` wins when set.
pub fn init(level: &str) {
    let directive = filter_for(level).unwrap_or("warn");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(directive));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal, never into log files.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_salt_level_maps() {
        for l in super::LEVELS {
            assert!(super::filter_for(l).is_some(), "{l}");
        }
        assert!(super::filter_for("loud").is_none());
    }
}
