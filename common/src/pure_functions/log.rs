//! Salt's `log` module (`salt/modules/logmod.py`): write a message to the
//! log at a level and return `True`, so templates can log with
//! `{% do salt['log.info']('...') %}`. Pure: the minion and the master (its
//! pillar, reactor and orchestrate templates) register the same functions.

use serde_json::Value;

use crate::functions::{Call, FnError, FnOutput, Functions};
use crate::output::python::to_str;

/// Salt's doc string of one level's function.
macro_rules! doc {
    ($label:literal, $name:literal) => {
        concat!(
            "Log message at level ",
            $label,
            ".\n\nCLI Example:\n\n    brine '*' log.",
            $name,
            " 'Please dont do that, this is not good.'"
        )
    };
}

/// Salt's levels, by function name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
    Exception,
}

/// Each function's name, level and doc string.
const LEVELS: [(&str, Level, &str); 6] = [
    ("log.debug", Level::Debug, doc!("DEBUG", "debug")),
    ("log.info", Level::Info, doc!("INFO", "info")),
    ("log.warning", Level::Warning, doc!("WARNING", "warning")),
    ("log.error", Level::Error, doc!("ERROR", "error")),
    (
        "log.critical",
        Level::Critical,
        doc!("CRITICAL", "critical"),
    ),
    (
        "log.exception",
        Level::Exception,
        doc!("EXCEPTION", "exception"),
    ),
];

pub fn register<C: Send + 'static>(f: &mut Functions<C>) {
    for (name, level, doc) in LEVELS {
        f.register(name, "message", doc, move |_: C, call| async move {
            log(level, &call)
        });
    }
}

/// Log `message` (Python's `str()` of whatever was passed) and return `True`.
fn log(level: Level, call: &Call) -> Result<FnOutput, FnError> {
    let message = call.param(0, "message").map(to_str).unwrap_or_default();
    match level {
        Level::Debug => tracing::debug!(target: "salt.loader.log", "{message}"),
        Level::Info => tracing::info!(target: "salt.loader.log", "{message}"),
        Level::Warning => tracing::warn!(target: "salt.loader.log", "{message}"),
        Level::Error | Level::Critical | Level::Exception => {
            tracing::error!(target: "salt.loader.log", "{message}")
        }
    }
    Ok(Value::Bool(true).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    #[test]
    fn every_level_returns_true() {
        let call = Call {
            fun: "log.info".into(),
            args: vec![json!({"a": 1})],
            kwargs: Map::new(),
        };
        for (_, level, _) in LEVELS {
            assert_eq!(log(level, &call).map(|o| o.ret), Ok(json!(true)));
        }
    }

    #[test]
    fn docs_name_the_level() {
        let (_, _, doc) = LEVELS[2];
        assert!(doc.starts_with("Log message at level WARNING."));
        assert!(doc.contains("log.warning"));
    }
}
