//! Reactions in a rendered reactor SLS: `<id>: {<client>.<fun>: [params]}`.
//!
//! The client is `local` (alias `cmd`), `runner`, `wheel` or `caller`. The
//! parameters come in Salt's two forms (`salt/utils/reactor.py`,
//! `ReactWrap.run`):
//!
//! - new: `args:` is a list of one-key maps (or a map) that become the
//!   function's keyword arguments; for `caller`, a plain list is positional;
//! - old: `arg:` (positional) and `kwarg:` (keyword); for `runner` and
//!   `wheel`, any other parameter is a keyword argument too.
//!
//! `local` also takes `tgt` (required) and `tgt_type` (or the old
//! `expr_form`, default `glob`).

use brine_common::target::TargetType;
use serde_json::{Map, Value};

/// Which client runs a reaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    Local,
    Runner,
    Wheel,
    Caller,
}

impl Client {
    fn parse(name: &str) -> Option<Client> {
        match name {
            "local" | "cmd" => Some(Client::Local),
            "runner" => Some(Client::Runner),
            "wheel" => Some(Client::Wheel),
            "caller" => Some(Client::Caller),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Client::Local => "local",
            Client::Runner => "runner",
            Client::Wheel => "wheel",
            Client::Caller => "caller",
        }
    }
}

/// One reaction, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// The state ID (`restart_nginx`).
    pub id: String,
    pub client: Client,
    /// The function for the client (`cmd.run`, `key.accept`).
    pub fun: String,
    /// The parameters, merged from their list of one-key maps.
    pub params: Map<String, Value>,
}

/// Reactions by their `order` as Salt's `order_chunks` reads it (a number;
/// `first` before all, `last` after all, a negative number counted from
/// the end; none: after every numbered one); equal orders keep file order.
/// Salt breaks ties alphabetically but launches the reactions at once on a
/// thread pool, so its order is never a guarantee; Brine runs them one
/// after another, and file order makes `fileserver.update` then
/// `state.apply` in one reactor SLS do what it says.
pub fn sort_by_order<T>(items: &mut [T], action: impl Fn(&T) -> &Action) {
    let declared = |a: &Action| a.params.get("order").and_then(Value::as_f64);
    let highest = items
        .iter()
        .filter_map(|i| declared(action(i)))
        .filter(|o| o.fract() == 0.0 && *o > 0.0)
        .fold(0.0_f64, f64::max);
    let cap = if highest > 0.0 { highest + 100.0 } else { 1.0 };
    let key = |a: &Action| -> f64 {
        match a.params.get("order") {
            None => cap,
            Some(Value::String(s)) if s == "first" => 0.0,
            Some(Value::String(s)) if s == "last" => cap + 1_000_000.0,
            Some(v) => match v.as_f64() {
                Some(n) if n < 0.0 => cap + 1_000_000.0 + n,
                Some(n) => n,
                None => cap,
            },
        }
    };
    // A stable sort: equal orders stay in file order.
    items.sort_by(|x, y| key(action(x)).total_cmp(&key(action(y))));
}

/// Positional and keyword arguments for the function.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallArgs {
    pub arg: Vec<Value>,
    pub kwarg: Map<String, Value>,
}

/// Where a local job goes.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalTarget {
    pub tgt: Value,
    pub tgt_type: TargetType,
}

/// Parameters the reactor itself reads; never passed on as keyword arguments.
const RESERVED: &[&str] = &[
    "args",
    "arg",
    "kwarg",
    "tgt",
    "tgt_type",
    "expr_form",
    "name",
    "order",
    "ret",
    "timeout",
    "metadata",
    "__id__",
    "__sls__",
];

/// Every reaction of a rendered SLS, in file order.
pub fn parse_actions(high: &Value) -> Result<Vec<Action>, String> {
    let Some(ids) = high.as_object() else {
        return Err(format!(
            "a reactor SLS must render to a mapping, not {high}"
        ));
    };
    let mut actions = Vec::new();
    for (id, body) in ids {
        actions.extend(parse_id(id, body)?);
    }
    Ok(actions)
}

fn parse_id(id: &str, body: &Value) -> Result<Vec<Action>, String> {
    let Some(calls) = body.as_object() else {
        return Err(format!(
            "ID '{id}' must be a mapping of <client>.<function> to parameters"
        ));
    };
    calls
        .iter()
        .map(|(key, params)| parse_call(id, key, params))
        .collect()
}

fn parse_call(id: &str, key: &str, params: &Value) -> Result<Action, String> {
    let (client, fun) = key
        .split_once('.')
        .and_then(|(c, f)| Some((Client::parse(c)?, f)))
        .filter(|(_, f)| !f.is_empty())
        .ok_or_else(|| {
            format!(
                "ID '{id}': '{key}' is not a reaction (use local.<fun>, runner.<fun>, \
                 wheel.<fun> or caller.<fun>)"
            )
        })?;
    Ok(Action {
        id: id.to_string(),
        client,
        fun: fun.to_string(),
        params: merge_params(id, params)?,
    })
}

/// A state's parameter list (`- tgt: x`, `- args: [...]`) as one map.
fn merge_params(id: &str, params: &Value) -> Result<Map<String, Value>, String> {
    match params {
        Value::Null => Ok(Map::new()),
        Value::Object(map) => Ok(map.clone()),
        Value::Array(items) => repack_dictlist(items)
            .ok_or_else(|| format!("ID '{id}': parameters must be a list of one-key maps")),
        other => Err(format!("ID '{id}': parameters must be a list, not {other}")),
    }
}

/// Salt's `repack_dictlist`: `[{a: 1}, {b: 2}]` as `{a: 1, b: 2}`.
fn repack_dictlist(items: &[Value]) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    for item in items {
        let map = item.as_object().filter(|m| m.len() == 1)?;
        out.extend(map.clone());
    }
    Some(out)
}

fn is_dictlist(items: &[Value]) -> bool {
    items
        .iter()
        .all(|i| i.as_object().is_some_and(|m| m.len() == 1))
}

impl Action {
    /// The function's arguments, from the new `args:` form or the old
    /// `arg:`/`kwarg:` form.
    pub fn call_args(&self) -> Result<CallArgs, String> {
        match self.params.get("args") {
            Some(args) => self.new_style_args(args),
            None => self.old_style_args(),
        }
    }

    fn new_style_args(&self, args: &Value) -> Result<CallArgs, String> {
        for old in ["arg", "kwarg"] {
            if self.params.contains_key(old) {
                tracing::warn!(
                    "Reactor '{}' is ignoring '{old}' because 'args' is present",
                    self.id
                );
            }
        }
        match args {
            Value::Array(items) if self.client == Client::Caller && !is_dictlist(items) => {
                Ok(CallArgs {
                    arg: items.clone(),
                    kwarg: Map::new(),
                })
            }
            Value::Object(map) => Ok(CallArgs {
                arg: Vec::new(),
                kwarg: map.clone(),
            }),
            Value::Array(items) => match repack_dictlist(items) {
                Some(kwarg) if !kwarg.is_empty() || items.is_empty() => Ok(CallArgs {
                    arg: Vec::new(),
                    kwarg,
                }),
                _ => Err(self.bad_format()),
            },
            _ => Err(self.bad_format()),
        }
    }

    fn bad_format(&self) -> String {
        format!(
            "Reactor '{}' failed to execute {} '{}': Incorrect argument format, check the \
             Reactor System documentation for the correct format.",
            self.id,
            self.client.name(),
            self.fun
        )
    }

    fn old_style_args(&self) -> Result<CallArgs, String> {
        let arg = match self.params.get("arg") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.clone(),
            Some(one) => vec![one.clone()],
        };
        let mut kwarg = match self.params.get("kwarg") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(map)) => map.clone(),
            Some(_) => return Err(self.bad_format()),
        };
        if matches!(self.client, Client::Runner | Client::Wheel) {
            for (k, v) in &self.params {
                if !RESERVED.contains(&k.as_str()) {
                    kwarg.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
        Ok(CallArgs { arg, kwarg })
    }

    /// `tgt` and `tgt_type` of a `local` reaction. An unknown type is
    /// refused with the words publishing it would have been refused with.
    pub fn local_target(&self) -> Result<LocalTarget, String> {
        let tgt = self
            .params
            .get("tgt")
            .filter(|t| !t.is_null())
            .cloned()
            .ok_or_else(|| format!("Reactor '{}': local.{} needs 'tgt'", self.id, self.fun))?;
        let raw_type = self
            .params
            .get("tgt_type")
            .or_else(|| self.params.get("expr_form"))
            .and_then(Value::as_str)
            .unwrap_or("glob");
        let tgt_type = TargetType::parse(raw_type)
            .map_err(|e| format!("Reactor '{}': local.{}: {e}", self.id, self.fun))?;
        Ok(LocalTarget { tgt, tgt_type })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn actions(yaml: &str) -> Result<Vec<Action>, String> {
        parse_actions(&brine_common::yaml::load(yaml, "test").expect("yaml"))
    }

    fn one(yaml: &str) -> Action {
        let mut all = actions(yaml).expect("actions");
        assert_eq!(all.len(), 1);
        all.remove(0)
    }

    #[test]
    fn new_style_local() {
        let a = one(
            "restart:\n  local.service.restart:\n    - tgt: web1\n    - tgt_type: list\n    \
             - args:\n      - name: nginx\n",
        );
        assert_eq!(
            (a.client, a.fun.as_str()),
            (Client::Local, "service.restart")
        );
        assert_eq!(
            a.local_target().expect("target"),
            LocalTarget {
                tgt: json!("web1"),
                tgt_type: TargetType::List
            }
        );
        let call = a.call_args().expect("args");
        assert!(call.arg.is_empty());
        assert_eq!(
            call.kwarg,
            json!({"name": "nginx"}).as_object().cloned().expect("map")
        );
    }

    #[test]
    fn old_style_local_and_cmd_alias() {
        let a = one(
            "x:\n  cmd.cmd.run:\n    - tgt: 'web*'\n    - expr_form: glob\n    - arg:\n      \
             - echo hi\n    - kwarg:\n        cwd: /tmp\n",
        );
        assert_eq!(a.client, Client::Local);
        let call = a.call_args().expect("args");
        assert_eq!(call.arg, vec![json!("echo hi")]);
        assert_eq!(call.kwarg.get("cwd"), Some(&json!("/tmp")));
        assert_eq!(a.local_target().expect("target").tgt_type, TargetType::Glob);
    }

    #[test]
    fn local_needs_a_target() {
        let a = one("x:\n  local.test.ping: []\n");
        assert!(a.local_target().is_err());
    }

    #[test]
    fn an_unknown_target_type_is_refused_in_the_words_publishing_it_had() {
        let a = one("x:\n  local.test.ping:\n    - tgt: '*'\n    - tgt_type: pillar_exact\n");
        let err = a.local_target().expect_err("unknown type");
        assert!(
            err.starts_with(
                "Reactor 'x': local.test.ping: unsupported target type \"pillar_exact\" (known: glob,"
            ),
            "{err}"
        );
    }

    #[test]
    fn old_style_wheel_takes_other_params_as_kwargs() {
        let a = one("accept:\n  wheel.key.accept:\n    - match: m1\n");
        assert_eq!((a.client, a.fun.as_str()), (Client::Wheel, "key.accept"));
        let call = a.call_args().expect("args");
        assert_eq!(call.kwarg.get("match"), Some(&json!("m1")));
    }

    #[test]
    fn new_style_runner_and_caller() {
        let r = one("o:\n  runner.state.orchestrate:\n    - args:\n      - mods: orch.deploy\n");
        assert_eq!(
            r.call_args().expect("args").kwarg.get("mods"),
            Some(&json!("orch.deploy"))
        );
        // A plain list is positional for caller (its legacy form).
        let c = one("t:\n  caller.file.touch:\n    - args:\n      - /tmp/x\n");
        assert_eq!(c.call_args().expect("args").arg, vec![json!("/tmp/x")]);
        // ... and an error for the others.
        let bad = one("t:\n  runner.x.y:\n    - args:\n      - /tmp/x\n");
        assert!(
            bad.call_args()
                .expect_err("an error")
                .contains("Incorrect argument format")
        );
    }

    #[test]
    fn unknown_clients_and_shapes_are_errors() {
        assert!(
            actions("x:\n  state.apply:\n    - tgt: a\n")
                .expect_err("an error")
                .contains("not a reaction")
        );
        assert!(actions("x: 3\n").is_err());
        assert!(actions("- a\n").is_err());
        assert!(actions("x:\n  local.test.ping: 5\n").is_err());
        assert_eq!(actions("{}").expect("empty"), vec![]);
    }

    #[test]
    fn reactions_run_by_order_then_file_order() {
        let ids = |yaml: &str| {
            let mut all = actions(yaml).expect("actions");
            sort_by_order(&mut all, |a| a);
            all.iter().map(|a| a.id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(
            ids(
                "c:\n  runner.jobs.list_jobs: []\nb:\n  local.test.ping:\n    - tgt: '*'\na:\n  local.test.ping:\n    - tgt: '*'\n"
            ),
            ["c", "b", "a"]
        );
        // Numbers first, unordered after them, `first`/`last` at the ends.
        assert_eq!(
            ids(
                "z:\n  local.test.ping:\n    - order: 1\ny:\n  local.test.ping:\n    - order: last\nx:\n  local.test.ping: []\nw:\n  local.test.ping:\n    - order: first\nv:\n  local.test.ping:\n    - order: 2\n"
            ),
            ["w", "z", "v", "x", "y"]
        );
    }
}
