//! Salt's `module.run`: call execution functions from a state.
//!
//! New style: `module.run: [{test.arg: [1, {k: v}]}, ...]` (each function a
//! key; list items are positional arguments, one-key maps keyword ones).
//! Old style: `name: test.arg` with `args`/`kwargs` or the remaining
//! arguments as keywords.

use serde_json::{Map, Value, json};

use super::{name_of, one, pending, text};
use crate::lowstate::{StateCall, StateModules, StateResult};

pub fn register(m: &mut StateModules) {
    m.register("module.run", run);
    m.register("module.wait", wait);
    m.register_mod_watch("module", run);
}

/// Arguments the state system owns, never function arguments.
fn reserved(key: &str) -> bool {
    key.starts_with("__")
        || matches!(
            key,
            "name"
                | "fun"
                | "state"
                | "order"
                | "names"
                | "args"
                | "kwargs"
                | "m_name"
                | "m_fun"
                | "m_names"
                | "m_state"
                | "m_saltenv"
                | "require"
                | "require_in"
                | "watch"
                | "watch_in"
                | "onchanges"
                | "onchanges_in"
                | "onfail"
                | "onfail_in"
                | "prereq"
                | "prereq_in"
                | "use"
                | "use_in"
                | "listen"
                | "listen_in"
                | "unless"
                | "onlyif"
                | "creates"
                | "check_cmd"
                | "failhard"
                | "fire_event"
                | "reload_modules"
                | "retry"
                | "parallel"
        )
}

/// A new-style argument list: positional values and one-key maps as keywords.
fn split_args(v: &Value) -> (Vec<Value>, Map<String, Value>) {
    let mut args = Vec::new();
    let mut kwargs = Map::new();
    let items = match v {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    };
    for item in items {
        match item {
            Value::Object(m) if m.len() == 1 => kwargs.extend(m),
            other => args.push(other),
        }
    }
    (args, kwargs)
}

/// Salt's verdict on a function's return: a dict's `result`, or `retcode`.
fn succeeded(ret: &Value) -> bool {
    match ret {
        Value::Object(m) => {
            m.get("result").is_none_or(|r| r != &json!(false))
                && m.get("retcode")
                    .and_then(Value::as_i64)
                    .is_none_or(|r| r == 0)
        }
        _ => true,
    }
}

fn run(c: &StateCall<'_>) -> StateResult {
    let functions: Vec<(&String, &Value)> = c
        .chunk
        .args
        .iter()
        .filter(|(k, _)| !reserved(k) && k.contains('.'))
        .collect();
    if functions.is_empty() {
        return old_style(c);
    }
    let name = name_of(c);
    if c.test {
        let lines: Vec<String> = functions
            .iter()
            .map(|(f, _)| format!("Function {f} to be executed."))
            .collect();
        return pending(name, lines.join("\n"), Map::new());
    }
    let (mut ok, mut failed, mut changes) = (Vec::new(), Vec::new(), Map::new());
    for (fun, spec) in functions {
        if !c.host.has_function(fun) {
            failed.push(format!("Unavailable function: {fun}."));
            continue;
        }
        let (args, kwargs) = split_args(spec);
        match c.host.call(fun, args, kwargs) {
            Ok(ret) if succeeded(&ret) => {
                ok.push(format!("{fun}: Success"));
                changes.insert(fun.clone(), ret);
            }
            Ok(ret) => failed.push(format!("'{fun}' failed: {}", text(&ret))),
            Err(e) => failed.push(format!("'{fun}' failed: {e}")),
        }
    }
    let comment = failed
        .iter()
        .chain(ok.iter())
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    StateResult {
        result: Some(failed.is_empty()),
        changes,
        ..StateResult::ok(name, comment)
    }
}

/// `name: mod.fun`, with `args`, `kwargs` and other keywords; `m_name`,
/// `m_fun`, `m_names`, `m_state` and `m_saltenv` give the function the
/// arguments whose names the state system owns.
fn old_style(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let fun = name;
    if !c.host.has_function(fun) {
        return StateResult::fail(name, format!("Module function {fun} is not available"));
    }
    if c.test {
        return pending(
            name,
            format!("Module function {fun} is set to execute"),
            Map::new(),
        );
    }
    let (args, _) = split_args(&c.chunk.arg("args").cloned().unwrap_or(Value::Null));
    let mut kwargs: Map<String, Value> = c
        .chunk
        .args
        .iter()
        .filter_map(|(k, v)| match k.strip_prefix("m_") {
            Some(owned @ ("name" | "fun" | "names" | "state" | "saltenv")) => {
                Some((owned.to_owned(), v.clone()))
            }
            _ if reserved(k) => None,
            _ => Some((k.clone(), v.clone())),
        })
        .collect();
    if let Some(Value::Object(kw)) = c.chunk.arg("kwargs") {
        kwargs.extend(kw.clone());
    }
    match c.host.call(fun, args, kwargs) {
        Ok(ret) => StateResult {
            result: Some(succeeded(&ret)),
            changes: one("ret", ret),
            ..StateResult::ok(name, format!("Module function {fun} executed"))
        },
        Err(e) => StateResult::fail(name, e),
    }
}

/// `module.wait`: only runs through `mod_watch`.
fn wait(c: &StateCall<'_>) -> StateResult {
    StateResult::ok(name_of(c), "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run as run_state};

    fn host() -> MockHost {
        MockHost::new(|f, args, kwargs| match f {
            "test.arg" => Ok(json!({"args": args, "kwargs": kwargs})),
            "test.false" => Ok(json!({"result": false})),
            _ => Err(format!("unexpected {f}")),
        })
    }

    #[test]
    fn new_style_calls_each_function_with_its_arguments() {
        let h = host();
        let ch = chunk(
            "module",
            "run",
            "run it",
            json!({"test.arg": [1, {"k": "v"}], "require": [{"file": "x"}]}),
        );
        let r = run_state(run, &h, &ch, false);
        assert_eq!(r.result, Some(true));
        assert_eq!(r.comment, "test.arg: Success");
        assert_eq!(
            r.changes["test.arg"],
            json!({"args": [1], "kwargs": {"k": "v"}})
        );
        let t = run_state(run, &h, &ch, true);
        assert_eq!(
            (t.result, t.comment.as_str()),
            (None, "Function test.arg to be executed.")
        );
    }

    #[test]
    fn old_style_runs_the_named_function() {
        let h = host();
        let ch = chunk("module", "run", "test.arg", json!({"args": ["a"], "x": 1}));
        let r = run_state(run, &h, &ch, false);
        assert_eq!(r.comment, "Module function test.arg executed");
        assert_eq!(r.changes["ret"]["kwargs"], json!({"x": 1}));
        let f = run_state(
            run,
            &h,
            &chunk("module", "run", "x", json!({"test.false": null})),
            false,
        );
        assert_eq!(f.result, Some(false));
    }

    #[test]
    fn old_style_m_name_is_the_functions_name_argument() {
        let h = host();
        let ch = chunk(
            "module",
            "wait",
            "test.arg",
            json!({"m_name": "postgresql", "m_fun": "f"}),
        );
        let t = run_state(run, &h, &ch, true);
        assert_eq!(t.comment, "Module function test.arg is set to execute");
        let r = run_state(run, &h, &ch, false);
        assert_eq!(
            r.changes["ret"]["kwargs"],
            json!({"name": "postgresql", "fun": "f"})
        );
    }
}
