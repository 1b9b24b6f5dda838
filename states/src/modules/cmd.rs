//! Salt's `cmd` states: `cmd.run` (a shell command; `creates`, `unless`
//! and `onlyif` are checked by the runtime before it is called), `cmd.wait`
//! (runs only when a watched state changes, through `mod_watch`).
//!
//! The command itself is run by the execution function `cmd.run_all`.

use serde_json::{Map, Value, json};

use super::{arg, name_of, one, pending};
use crate::lowstate::{StateCall, StateModules, StateResult};

pub fn register(m: &mut StateModules) {
    m.register("cmd.run", run);
    m.register("cmd.wait", wait);
    m.register_mod_watch("cmd", mod_watch);
}

/// State arguments passed on to `cmd.run_all` as they are.
const PASSED: &[&str] = &[
    "cwd",
    "runas",
    "group",
    "shell",
    "env",
    "stdin",
    "umask",
    "timeout",
    "output_loglevel",
    "hide_output",
    "success_retcodes",
    "success_stdout",
    "success_stderr",
    "prepend_path",
    "clean_env",
    "reset_system_locale",
    "use_vt",
    "template",
];

fn run_all_kwargs(c: &StateCall<'_>) -> Map<String, Value> {
    let mut kw = Map::new();
    for key in PASSED {
        let v = arg(c.chunk, key);
        if !v.is_null() {
            kw.insert((*key).to_string(), v);
        }
    }
    kw.insert("python_shell".into(), json!(true));
    kw.insert("saltenv".into(), json!(c.chunk.env));
    kw
}

/// Salt's `stateful` argument: `True`, or `[{test_name: cmd}]` naming the
/// command that reports what a test run would do.
fn stateful_test_name(c: &StateCall<'_>) -> Option<String> {
    let first = c.chunk.arg("stateful")?.as_array()?.first()?;
    first.get("test_name")?.as_str().map(String::from)
}

fn is_stateful(c: &StateCall<'_>) -> bool {
    stateful_test_name(c).is_some() || c.chunk.arg("stateful") == Some(&json!(true))
}

fn run(c: &StateCall<'_>) -> StateResult {
    let test_name = stateful_test_name(c).filter(|_| c.test);
    let name = test_name.as_deref().unwrap_or(name_of(c));
    if c.test && test_name.is_none() {
        // Salt's prediction; a stateful command's is re-read as its
        // (empty) output: no changes, no comment.
        if is_stateful(c) {
            return pending(name, "", Map::new());
        }
        return pending(
            name,
            format!("Command \"{name}\" would have been executed"),
            one("cmd", json!(name)),
        );
    }
    let out = match c
        .host
        .call("cmd.run_all", vec![json!(name)], run_all_kwargs(c))
    {
        Ok(Value::Object(out)) => out,
        Ok(other) => {
            return StateResult::fail(name, format!("Unexpected cmd.run_all result: {other}"));
        }
        Err(e) => return StateResult::fail(name, e),
    };
    let retcode = out.get("retcode").and_then(Value::as_i64).unwrap_or(-1);
    let success = retcode == 0 || success_retcode(c, retcode);
    let mut ret = StateResult {
        result: Some(success),
        ..StateResult::ok(name, format!("Command \"{name}\" run"))
    };
    if is_stateful(c) {
        ret = stateful(ret, out, success);
    } else {
        ret.changes = out;
    }
    // A `test_name` command ran in test mode: what it reports is a prediction.
    if c.test && success && !ret.changes.is_empty() {
        ret.result = None;
    }
    ret
}

/// `success_retcodes`: return codes that also count as success.
fn success_retcode(c: &StateCall<'_>, retcode: i64) -> bool {
    match c.chunk.arg("success_retcodes") {
        Some(Value::Array(codes)) => codes.iter().any(|v| v.as_i64() == Some(retcode)),
        Some(Value::Number(n)) => n.as_i64() == Some(retcode),
        _ => false,
    }
}

/// A `stateful` command reports on its last stdout line, as
/// `changed=yes comment="..."` or a JSON object.
fn stateful(mut ret: StateResult, mut out: Map<String, Value>, success: bool) -> StateResult {
    let stdout = out
        .get("stdout")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let (body, last) = match stdout.trim_end().rsplit_once('\n') {
        Some((body, last)) => (body.to_string(), last.trim().to_string()),
        None => (String::new(), stdout.trim().to_string()),
    };
    let report = parse_state_line(&last);
    let Some(report) = report else {
        ret.result = Some(false);
        ret.comment =
            "Failed parsing script output! Stdout must be JSON or a line of name=value pairs."
                .into();
        ret.changes = out;
        return ret;
    };
    out.insert("stdout".into(), json!(body));
    let changed = report
        .get("changed")
        .is_some_and(|v| matches!(v.as_str(), Some("yes" | "true" | "True")) || v == &json!(true));
    if let Some(comment) = report.get("comment").and_then(Value::as_str) {
        ret.comment = comment.to_string();
    }
    if changed || !success {
        ret.changes = out;
    }
    ret
}

fn parse_state_line(line: &str) -> Option<Map<String, Value>> {
    if line.starts_with('{') {
        return serde_json::from_str::<Value>(line)
            .ok()?
            .as_object()
            .cloned();
    }
    let mut m = Map::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            after.split_once(' ').unwrap_or((after, ""))
        };
        m.insert(key.trim().to_string(), json!(value));
        rest = next.trim_start();
    }
    Some(m)
}

/// `cmd.wait` does nothing by itself; a watched change runs it via `mod_watch`.
fn wait(c: &StateCall<'_>) -> StateResult {
    StateResult::ok(name_of(c), "")
}

/// A watched state changed: run the command (for `cmd.run` and `cmd.wait`).
fn mod_watch(c: &StateCall<'_>) -> StateResult {
    match c.chunk.fun.as_str() {
        "run" | "wait" | "watch" => run(c),
        other => StateResult::fail(
            name_of(c),
            format!(
                "cmd.{other} does not work with the watch requisite, please use cmd.wait or cmd.run"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run as run_state};

    fn host(retcode: i64, stdout: &'static str) -> MockHost {
        MockHost::new(move |f, _, _| match f {
            "cmd.run_all" => {
                Ok(json!({"pid": 42, "retcode": retcode, "stdout": stdout, "stderr": ""}))
            }
            _ => Err(format!("unexpected {f}")),
        })
    }

    #[test]
    fn run_reports_the_command_output_as_changes() {
        let h = host(0, "hi");
        let ch = chunk("cmd", "run", "echo hi", json!({"cwd": "/tmp"}));
        let r = run_state(run, &h, &ch, false);
        assert_eq!(r.result, Some(true));
        assert_eq!(r.comment, "Command \"echo hi\" run");
        assert_eq!(r.changes["stdout"], json!("hi"));
        let call = &h.calls_to("cmd.run_all")[0];
        assert_eq!(call.kwargs["cwd"], json!("/tmp"));
        assert_eq!(call.kwargs["python_shell"], json!(true));
    }

    #[test]
    fn a_failing_command_fails_the_state() {
        let h = host(3, "");
        let ch = chunk("cmd", "run", "false", json!({}));
        assert_eq!(run_state(run, &h, &ch, false).result, Some(false));
        let ok = chunk("cmd", "run", "false", json!({"success_retcodes": [3]}));
        assert_eq!(run_state(run, &h, &ok, false).result, Some(true));
    }

    #[test]
    fn test_mode_runs_nothing() {
        let h = host(0, "");
        let r = run_state(run, &h, &chunk("cmd", "run", "rm -rf /x", json!({})), true);
        assert_eq!(r.result, None);
        assert_eq!(r.comment, "Command \"rm -rf /x\" would have been executed");
        assert_eq!(r.changes["cmd"], json!("rm -rf /x"));
        assert!(!h.called("cmd.run_all"));
    }

    #[test]
    fn wait_runs_only_through_mod_watch() {
        let h = host(0, "done");
        let ch = chunk("cmd", "wait", "echo done", json!({}));
        let r = run_state(wait, &h, &ch, false);
        assert!(r.changes.is_empty() && r.result == Some(true));
        assert!(!h.called("cmd.run_all"));
        let w = run_state(mod_watch, &h, &ch, false);
        assert_eq!(w.changes["stdout"], json!("done"));
    }

    #[test]
    fn stateful_commands_report_their_own_changes() {
        let h = host(0, "working\nchanged=no comment=\"all good\"");
        let ch = chunk("cmd", "run", "./check", json!({"stateful": true}));
        let r = run_state(run, &h, &ch, false);
        assert_eq!(r.comment, "all good");
        assert!(r.changes.is_empty());
    }
}
