//! The global state arguments checked around a call: `onlyif`, `unless`,
//! `creates` (before), `retry` (around) and `check_cmd` (after), with Salt's
//! comments. Commands go through the host's `cmd.retcode` with
//! `python_shell=True` and `ignore_retcode=True`, as Salt runs them.

use brine_common::output::python::{repr, truthy};
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

/// A condition command's return code, run with the state's `cmd` options;
/// `None` when it could not be run.
fn retcode(host: &dyn StateHost, chunk: &LowChunk, cmd: &str) -> Option<i64> {
    let options = CMD_ARGS
        .iter()
        .filter_map(|key| {
            Some((
                key.to_string(),
                chunk.arg(key).filter(|v| !v.is_null())?.clone(),
            ))
        })
        .collect();
    host_retcode_with(host, cmd, options)
}

/// A `check_cmd` command's return code (Salt passes it none of the state's options).
fn host_retcode(host: &dyn StateHost, cmd: &str) -> Option<i64> {
    host_retcode_with(host, cmd, Map::new())
}

fn host_retcode_with(
    host: &dyn StateHost,
    cmd: &str,
    mut kwargs: Map<String, Value>,
) -> Option<i64> {
    kwargs.insert("ignore_retcode".into(), json!(true));
    kwargs.insert("python_shell".into(), json!(true));
    host.call("cmd.retcode", vec![json!(cmd)], kwargs)
        .ok()
        .and_then(|v| v.as_i64())
}

/// What one condition entry says: a command's return code, a function's
/// (truthy) return, or an entry Salt cannot use.
enum Cond {
    Holds(bool),
    /// A mapping without `fun`: Salt notes it and lets the state run.
    NoFun(String),
    BadType,
}

/// One `onlyif`/`unless` entry: a command (its return code, `failed_rc`
/// when it cannot run) or a function `{fun: mod.fun, args: [...],
/// get_return: key, ...kwargs}` whose return is read as a truth value.
fn condition(host: &dyn StateHost, chunk: &LowChunk, entry: &Value, failed_rc: i64) -> Cond {
    match entry {
        Value::String(cmd) => Cond::Holds(retcode(host, chunk, cmd).unwrap_or(failed_rc) == 0),
        Value::Object(o) => {
            let Some(fun) = o.get("fun").and_then(Value::as_str) else {
                return Cond::NoFun(repr(entry));
            };
            let args = o.get("args").map(as_list).unwrap_or_default();
            let kwargs: Map<String, Value> = o
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "fun" | "args" | "get_return"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let ret = host.call(fun, args, kwargs).unwrap_or(Value::Null);
            let ret = match o.get("get_return").and_then(Value::as_str) {
                Some(path) => traverse(&ret, path),
                None => ret,
            };
            Cond::Holds(truthy(&ret))
        }
        _ => Cond::BadType,
    }
}

/// Salt's `traverse_dict_and_list` with `:` as the delimiter.
fn traverse(value: &Value, path: &str) -> Value {
    let mut cur = value;
    for key in path.split(':') {
        let next = match cur {
            Value::Object(o) => o.get(key),
            Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        match next {
            Some(v) => cur = v,
            None => return Value::Null,
        }
    }
    cur.clone()
}

/// A check's verdict: whether it skips the state, and its comment.
struct Verdict {
    skip: bool,
    comment: String,
}

impl Verdict {
    fn new(skip: bool, comment: impl Into<String>) -> Self {
        Verdict {
            skip,
            comment: comment.into(),
        }
    }
}

/// `onlyif`: the state runs only if every entry holds; the first that does
/// not skips it.
fn onlyif(host: &dyn StateHost, chunk: &LowChunk, entries: &[Value]) -> Verdict {
    let mut verdict = Verdict::new(false, "");
    for entry in entries {
        match condition(host, chunk, entry, 100) {
            Cond::Holds(true) => verdict = Verdict::new(false, "onlyif condition is true"),
            Cond::Holds(false) => return Verdict::new(true, "onlyif condition is false"),
            Cond::NoFun(e) => {
                return Verdict::new(false, format!("no `fun` argument in onlyif: {e}"));
            }
            Cond::BadType => {
                return Verdict::new(false, "onlyif execution failed, bad type passed");
            }
        }
    }
    verdict
}

/// `unless`: the state is skipped only if every entry holds; the first that
/// does not lets it run.
fn unless(host: &dyn StateHost, chunk: &LowChunk, entries: &[Value]) -> Verdict {
    let mut verdict = Verdict::new(false, "");
    for entry in entries {
        match condition(host, chunk, entry, 0) {
            Cond::Holds(true) => verdict = Verdict::new(true, "unless condition is true"),
            Cond::Holds(false) => return Verdict::new(false, "unless condition is false"),
            Cond::NoFun(e) => {
                verdict.comment = format!("no `fun` argument in unless: {e}");
                return verdict;
            }
            Cond::BadType => {
                verdict = Verdict::new(false, "unless condition is false, bad type passed");
            }
        }
    }
    verdict
}

/// `creates`: one path (`<path> exists`) or a list of paths that all exist.
fn creates(value: &Value) -> Verdict {
    let exists = |p: &str| std::path::Path::new(p).exists();
    match value {
        Value::String(p) if exists(p) => Verdict::new(true, format!("{p} exists")),
        Value::Array(paths) if paths.iter().all(|p| p.as_str().is_some_and(exists)) => {
            Verdict::new(true, "All files in creates exist")
        }
        _ => Verdict::new(false, "Creates files not found"),
    }
}

/// `onlyif` / `unless` / `creates`: `Some(result)` (with `skip_watch`) when
/// any of them skips the state, their comments joined.
pub fn run_checks(host: &dyn StateHost, chunk: &LowChunk) -> Option<StateResult> {
    let mut verdicts = Vec::new();
    if let Some(v) = chunk.arg("onlyif") {
        verdicts.push(onlyif(host, chunk, &as_list(v)));
    }
    if let Some(v) = chunk.arg("unless") {
        verdicts.push(unless(host, chunk, &as_list(v)));
    }
    if let Some(v) = chunk.arg("creates") {
        verdicts.push(creates(v));
    }
    if !verdicts.iter().any(|v| v.skip) {
        return None;
    }
    let comments: Vec<&str> = verdicts.iter().map(|v| v.comment.as_str()).collect();
    Some(StateResult {
        skip_watch: true,
        ..StateResult::ok(&chunk.name, comments.join("\n"))
    })
}

/// Salt's `retry` settings as `verify_retry_data` reads them: a mapping
/// (each key of the wrong type takes its default), `True` (the defaults) or
/// `False` (no attempts).
pub struct Retry {
    until: bool,
    attempts: i64,
    interval: i64,
    splay: i64,
}

impl Retry {
    /// The chunk's `retry`, if it has one.
    pub fn of(chunk: &LowChunk) -> Option<Retry> {
        let defaults = Retry {
            until: true,
            attempts: 2,
            interval: 30,
            splay: 0,
        };
        match chunk.arg("retry")? {
            Value::Object(o) => {
                let int = |k: &str, d: i64| o.get(k).and_then(Value::as_i64).unwrap_or(d);
                Some(Retry {
                    until: o.get("until").and_then(Value::as_bool).unwrap_or(true),
                    attempts: int("attempts", defaults.attempts),
                    interval: int("interval", defaults.interval),
                    splay: int("splay", defaults.splay),
                })
            }
            Value::Bool(false) => Some(Retry {
                attempts: 0,
                ..defaults
            }),
            _ => Some(defaults),
        }
    }

    /// What test mode appends to the comment.
    fn test_note(&self) -> String {
        format!(
            "The state would be retried every {} seconds (with a splay of up to {} seconds) \
             a maximum of {} times or until a result of {} is returned",
            self.interval,
            self.splay,
            self.attempts,
            python_bool(Some(self.until))
        )
    }

    /// Seconds to wait before the next attempt: the interval plus a random splay.
    fn wait_secs(&self) -> f64 {
        let mut byte = [0u8; 8];
        let splay = if self.splay > 0 {
            let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut byte);
            (u64::from_le_bytes(byte) % (self.splay as u64 + 1)) as i64
        } else {
            0
        };
        (self.interval + splay) as f64
    }
}

/// `retry`: call again while the result is not `until` and attempts remain,
/// noting each earlier attempt in the comment; in test mode only say what
/// would happen. Returns the last result and how many calls were made (each
/// takes a run number, as in Salt).
pub fn with_retry(
    chunk: &LowChunk,
    test: bool,
    kill: Option<&AtomicBool>,
    mut attempt: impl FnMut() -> StateResult,
) -> (StateResult, u64) {
    let mut result = attempt();
    let Some(retry) = Retry::of(chunk) else {
        return (result, 1);
    };
    if test {
        result.comment = format!("{}  {}", result.comment, retry.test_note());
        return (result, 1);
    }
    let mut notes = Vec::new();
    let mut calls = 1;
    while result.result != Some(retry.until) && retry.attempts > calls {
        if !sleep_unless_killed(retry.wait_secs(), kill) {
            break;
        }
        notes.push(format!(
            "Attempt {calls}: Returned a result of \"{}\", with the following comment: \"{}\"",
            python_bool(result.result),
            result.comment
        ));
        result = attempt();
        calls += 1;
    }
    if !notes.is_empty() {
        notes.push(result.comment.clone());
        result.comment = notes.join("\n");
    }
    (result, calls as u64)
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
pub fn call_guarded(call: &StateCall<'_>, fun: StateFn) -> StateResult {
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

/// State functions that take `check_cmd` as their own argument (Salt's
/// `file.managed` and `file.serialize` check a temp file before writing),
/// where the generic check below does not apply.
const OWN_CHECK_CMD: &[&str] = &["file.managed", "file.serialize"];

/// `check_cmd`: after a real run, every command must return 0 for the state
/// to succeed (the first that does not fails it).
pub fn check_cmd(host: &dyn StateHost, chunk: &LowChunk, result: &mut StateResult) {
    let Some(cmds) = chunk.arg("check_cmd") else {
        return;
    };
    if OWN_CHECK_CMD.contains(&format!("{}.{}", chunk.state, chunk.fun).as_str()) {
        return;
    }
    result.result = Some(false);
    for entry in as_list(cmds) {
        let Some(cmd) = entry.as_str() else {
            continue;
        };
        if host_retcode(host, cmd) != Some(0) {
            result.result = Some(false);
            result.comment = "check_cmd determined the state failed".into();
            return;
        }
        result.result = Some(true);
        result.comment = "check_cmd determined the state succeeded".into();
    }
}
