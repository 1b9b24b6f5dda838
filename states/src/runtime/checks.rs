//! The global state arguments checked around a call: `onlyif`, `unless`,
//! `creates` (before), `retry` (around) and `check_cmd` (after), with Salt's
//! comments. Commands go through the host's `cmd.retcode` with
//! `python_shell=True` and `ignore_retcode=True`, as Salt runs them.

use brine_common::output::python::truthy;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::host::StateHost;
use crate::lowstate::{LowChunk, StateCall, StateFn, StateResult};

/// `cmd.*` options the condition commands inherit from the state (Salt's `POSSIBLE_CMD_ARGS`).
const CMD_ARGS: &[&str] = &[
    "cwd",
    "root",
    "runas",
    "env",
    "prepend_path",
    "umask",
    "timeout",
    "success_retcodes",
    "shell",
];

/// A list argument, a single value read as a one-item list.
fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

fn retcode(host: &dyn StateHost, chunk: &LowChunk, cmd: &str) -> i64 {
    let mut kwargs = Map::new();
    kwargs.insert("ignore_retcode".into(), json!(true));
    kwargs.insert("python_shell".into(), json!(true));
    for key in CMD_ARGS {
        if let Some(v) = chunk.arg(key).filter(|v| !v.is_null()) {
            kwargs.insert((*key).to_string(), v.clone());
        }
    }
    match host.call("cmd.retcode", vec![json!(cmd)], kwargs) {
        Ok(v) => v.as_i64().unwrap_or(100),
        Err(_) => 100,
    }
}

/// Whether one condition entry holds: a command returning 0, or a function
/// (`{fun: mod.fun, args: [...], ...kwargs}`) returning something truthy.
fn condition_holds(host: &dyn StateHost, chunk: &LowChunk, entry: &Value) -> bool {
    match entry {
        Value::String(cmd) => retcode(host, chunk, cmd) == 0,
        Value::Bool(b) => *b,
        Value::Object(o) => {
            let Some(fun) = o.get("fun").and_then(Value::as_str) else {
                return false;
            };
            let args = o.get("args").map(as_list).unwrap_or_default();
            let kwargs: Map<String, Value> = o
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "fun" | "args" | "get_return"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            match host.call(fun, args, kwargs) {
                Ok(v) => truthy(&v),
                Err(_) => false,
            }
        }
        _ => false,
    }
}

/// `onlyif` / `unless` / `creates`: `Some(result)` when they skip the state.
pub fn run_checks(host: &dyn StateHost, chunk: &LowChunk) -> Option<StateResult> {
    let mut comments = Vec::new();
    let mut skip = false;
    if let Some(onlyif) = chunk.arg("onlyif") {
        if as_list(onlyif)
            .iter()
            .all(|e| condition_holds(host, chunk, e))
        {
            comments.push("onlyif condition is true");
        } else {
            comments.push("onlyif condition is false");
            skip = true;
        }
    }
    if let Some(unless) = chunk.arg("unless") {
        let entries = as_list(unless);
        if !entries.is_empty() && entries.iter().all(|e| condition_holds(host, chunk, e)) {
            comments.push("unless condition is true");
            skip = true;
        } else {
            comments.push("unless condition is false");
        }
    }
    if let Some(creates) = chunk.arg("creates") {
        let paths = as_list(creates);
        let all_exist = !paths.is_empty()
            && paths
                .iter()
                .all(|p| p.as_str().is_some_and(|p| std::path::Path::new(p).exists()));
        if all_exist {
            comments.push("All files in creates exist");
            skip = true;
        } else {
            comments.push("Creates files not found");
        }
    }
    skip.then(|| StateResult::ok(&chunk.name, comments.join("\n")))
}

/// `retry: {attempts, until, interval, splay}` (or `retry: True`): call again
/// while the result is not `until`, noting each attempt in the comment.
pub fn with_retry(call: &StateCall<'_>, fun: StateFn, kill: Option<&AtomicBool>) -> StateResult {
    let mut result = call_guarded(call, fun);
    let Some(retry) = call.chunk.arg("retry").filter(|v| truthy(v)) else {
        return result;
    };
    let field = |k: &str| retry.get(k);
    let attempts = field("attempts").and_then(Value::as_u64).unwrap_or(2);
    let until = field("until").and_then(Value::as_bool).unwrap_or(true);
    let interval = field("interval").and_then(Value::as_f64).unwrap_or(30.0);
    let mut notes = Vec::new();
    let mut attempt = 1;
    while attempt < attempts && result.result != Some(until) && !call.test {
        notes.push(format!(
            "Attempt {attempt}: Returned a result of \"{}\", with the following comment: \"{}\"",
            python_bool(result.result),
            result.comment
        ));
        if !sleep_unless_killed(interval, kill) {
            break;
        }
        attempt += 1;
        result = call_guarded(call, fun);
    }
    if !notes.is_empty() {
        notes.push(result.comment.clone());
        result.comment = notes.join("\n");
    }
    result
}

fn python_bool(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "True",
        Some(false) => "False",
        None => "None",
    }
}

fn sleep_unless_killed(secs: f64, kill: Option<&AtomicBool>) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs_f64(secs.clamp(0.0, 86400.0));
    while std::time::Instant::now() < deadline {
        if kill.is_some_and(|k| k.load(Ordering::Relaxed)) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50).min(deadline - std::time::Instant::now()));
    }
    true
}

/// Call a state function; a panic becomes Salt's "An exception occurred in this state".
fn call_guarded(call: &StateCall<'_>, fun: StateFn) -> StateResult {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fun(call))) {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown error".into());
            StateResult::fail(
                &call.chunk.name,
                format!("An exception occurred in this state: {msg}"),
            )
        }
    }
}

/// `check_cmd`: after a real run, every command must return 0 for the state to succeed.
pub fn check_cmd(host: &dyn StateHost, chunk: &LowChunk, result: &mut StateResult) {
    let Some(cmds) = chunk.arg("check_cmd") else {
        return;
    };
    for entry in as_list(cmds) {
        let Some(cmd) = entry.as_str() else {
            continue;
        };
        if retcode(host, chunk, cmd) != 0 {
            result.result = Some(false);
            result.comment = "check_cmd determined the state failed".into();
            return;
        }
        result.result = Some(true);
        result.comment = "check_cmd determined the state succeeded".into();
    }
}
