//! Salt's state modules: `file.managed`, `service.running`, `pkg.installed`...
//!
//! Each state function decides whether the host is already in the wanted
//! state, predicts the change in test mode (`result: None` plus the changes
//! it would make) and otherwise makes the change. The host work is always
//! done by the minion's execution functions through [`StateHost::call`]
//! (`file.stats`, `pkg.install`, `service.start`, ...): a state module never
//! carries its own copy of a host action. Comments and changes dicts are
//! Salt's, so outputs and requisites (`onchanges`, `watch`) behave alike.

pub(crate) use brine_common::output::python::truthy;
use serde_json::{Map, Value};

use crate::host::StateHost;
use crate::lowstate::{LowChunk, StateCall, StateModules, StateResult};

pub mod archive;
pub mod cmd;
pub mod cron;
pub mod debconf;
pub mod event;
pub mod file;
pub mod git;
pub mod group;
pub mod host;
pub mod locale;
pub mod module;
pub mod mount;
pub mod pkg;
pub mod pkgrepo;
pub mod postgres;
pub mod service;
pub mod ssh_auth;
pub mod ssh_known_hosts;
pub mod sysctl;
pub mod test;
pub mod timezone;
pub mod user;

/// Every state function, registered under its `module.function` name.
pub fn registry() -> StateModules {
    let mut m = StateModules::default();
    test::register(&mut m);
    archive::register(&mut m);
    git::register(&mut m);
    file::register(&mut m);
    cmd::register(&mut m);
    pkg::register(&mut m);
    pkgrepo::register(&mut m);
    service::register(&mut m);
    user::register(&mut m);
    group::register(&mut m);
    cron::register(&mut m);
    debconf::register(&mut m);
    host::register(&mut m);
    locale::register(&mut m);
    sysctl::register(&mut m);
    mount::register(&mut m);
    timezone::register(&mut m);
    module::register(&mut m);
    event::register(&mut m);
    ssh_auth::register(&mut m);
    ssh_known_hosts::register(&mut m);
    postgres::register(&mut m);
    m
}

/// Keyword arguments from `(name, value)` pairs, leaving out nulls (the
/// execution function's default then applies).
pub(crate) fn kwargs(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect()
}

/// Call an execution function with positional and keyword arguments.
pub(crate) fn call(
    host: &dyn StateHost,
    fun: &str,
    args: Vec<Value>,
    kw: &[(&str, Value)],
) -> Result<Value, String> {
    host.call(fun, args, kwargs(kw))
}

/// A state argument as given, `Null` when absent.
pub(crate) fn arg(chunk: &LowChunk, key: &str) -> Value {
    chunk.arg(key).cloned().unwrap_or(Value::Null)
}

/// Python's `str()` of a value, for arguments that may come as numbers.
pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => brine_common::output::python::to_str(other),
    }
}

/// A string-ish argument (strings and numbers), `None` when absent or empty.
pub(crate) fn str_of(chunk: &LowChunk, key: &str) -> Option<String> {
    match chunk.arg(key) {
        None | Some(Value::Null) => None,
        Some(v) => Some(text(v)).filter(|s| !s.is_empty()),
    }
}

/// A list argument: a YAML list, or a comma-separated string.
pub(crate) fn list_of(chunk: &LowChunk, key: &str) -> Vec<String> {
    match chunk.arg(key) {
        Some(Value::Array(items)) => items.iter().map(text).collect(),
        Some(Value::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        Some(v) if !v.is_null() => vec![text(v)],
        _ => Vec::new(),
    }
}

/// The strings of a list an execution function returned (empty when it
/// returned something else).
pub(crate) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// An execution error's own message (Python's `str(exc)`), without what
/// the execution layer puts before it (`ERROR: ` for a
/// `CommandExecutionError`, `ERROR executing '<fun>': ` for a
/// `SaltInvocationError`).
pub(crate) fn exc_text(e: &str) -> &str {
    if let Some(msg) = e.strip_prefix("ERROR: ") {
        return msg;
    }
    e.strip_prefix("ERROR executing '")
        .and_then(|rest| rest.split_once("': "))
        .map_or(e, |(_, msg)| msg)
}

/// A test-mode answer: nothing done, `result: None`, the predicted changes.
pub(crate) fn pending(
    name: &str,
    comment: impl Into<String>,
    changes: Map<String, Value>,
) -> StateResult {
    StateResult {
        result: None,
        changes,
        ..StateResult::ok(name, comment)
    }
}

/// A success carrying changes.
pub(crate) fn changed(
    name: &str,
    comment: impl Into<String>,
    changes: Map<String, Value>,
) -> StateResult {
    StateResult {
        changes,
        ..StateResult::ok(name, comment)
    }
}

/// A one-entry changes dict.
pub(crate) fn one(key: &str, value: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(key.to_string(), value);
    m
}

/// The name a state acts on.
pub(crate) fn name_of<'a>(c: &'a StateCall<'_>) -> &'a str {
    &c.chunk.name
}

#[cfg(test)]
pub(crate) mod mock;

#[cfg(test)]
mod tests {
    use super::exc_text;

    #[test]
    fn exc_text_strips_the_execution_layers_prefix() {
        assert_eq!(exc_text("ERROR: boom"), "boom");
        assert_eq!(exc_text("ERROR executing 'a.b': bad arg"), "bad arg");
        assert_eq!(exc_text("plain"), "plain");
        assert_eq!(exc_text("Unable to find 'x': y"), "Unable to find 'x': y");
    }
}
