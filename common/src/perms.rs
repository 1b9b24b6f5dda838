//! Permission lists as Salt's `external_auth` (brine-api) and
//! `publisher_acl` (the master's local socket) take them, checked as Salt's
//! `auth_check` and `spec_check` do (`salt/utils/minions.py`).
//!
//! A user's entries are:
//! - `'test.*'`: a function regex allowed on every minion;
//! - `{'web*': ['test.*', 'state.apply']}`: function regexes allowed when
//!   every minion the call targets is one the expression (compound) matches
//!   — by id, or for grain, pillar and address words by the master's cache;
//! - `'@runner'`, `'@wheel'`, `'@jobs'`: every function of that client or
//!   runner module; `{'@runner': ['jobs.*']}`: only those functions.
//!
//! A function may carry argument constraints, as in Salt:
//! `{'test.echo': {'args': ['hello.*'], 'kwargs': {'lang': 'en|fr'}}}` (or a
//! list of such dicts, any of which may pass). Each listed positional
//! argument must be given and match its regex (`null` allows any value);
//! each listed keyword must be given and match. Unlisted arguments are not
//! constrained — Salt's rule.
//!
//! Unlike Salt, function and argument regexes must match the whole text
//! (Salt anchors only the start, so `test.ping` there also allows
//! `test.ping_evil`).

use std::collections::BTreeSet;

use crate::target::{Target, TargetType};
use crate::wire::TargetSpec;
use regex::Regex;
use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error)]
#[error("{key}: {user}: {message}")]
pub struct PermsError {
    /// The config key the list came from (`external_auth`, `publisher_acl`).
    pub key: &'static str,
    pub user: String,
    pub message: String,
}

#[derive(Debug, Clone)]
enum Entry {
    AnyMinion(FunRule),
    OnTarget { target: String, funs: Vec<FunRule> },
    Form(String),
    FormFuns { form: String, funs: Vec<FunRule> },
}

/// A permitted function name, and the arguments it may be called with
/// (`None`: any; otherwise any one of the constraints).
#[derive(Debug, Clone)]
struct FunRule {
    name: Regex,
    args: Option<Vec<ArgConstraint>>,
}

#[derive(Debug, Clone)]
struct ArgConstraint {
    /// Positional regexes by position; `None` allows any value there.
    args: Vec<Option<Regex>>,
    kwargs: Vec<(String, Option<Regex>)>,
}

/// The arguments of a call being checked.
#[derive(Debug, Clone, Copy)]
pub struct CallArgs<'a> {
    pub args: &'a [Value],
    pub kwargs: &'a Map<String, Value>,
}

impl CallArgs<'_> {
    /// No arguments at all.
    pub fn none() -> CallArgs<'static> {
        static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
        CallArgs {
            args: &[],
            kwargs: &EMPTY,
        }
    }
}

impl FunRule {
    fn allows(&self, fun: &str, call: CallArgs) -> bool {
        self.name.is_match(fun)
            && self
                .args
                .as_ref()
                .is_none_or(|constraints| constraints.iter().any(|c| c.allows(call)))
    }
}

impl ArgConstraint {
    fn allows(&self, call: CallArgs) -> bool {
        let positional = self.args.iter().enumerate().all(|(i, re)| {
            call.args
                .get(i)
                .is_some_and(|given| re.as_ref().is_none_or(|re| re.is_match(&as_text(given))))
        });
        let keywords = self.kwargs.iter().all(|(key, re)| {
            call.kwargs
                .get(key)
                .is_some_and(|given| re.as_ref().is_none_or(|re| re.is_match(&as_text(given))))
        });
        positional && keywords
    }
}

/// An argument as the text a constraint regex sees, as Salt's `str()` of
/// it: strings bare, booleans `True`/`False`, null `None`, the rest JSON.
fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

/// One user's compiled permissions, and the entries as configured (for the
/// login reply).
#[derive(Debug, Clone, Default)]
pub struct Perms {
    entries: Vec<Entry>,
    pub raw: Vec<Value>,
}

/// Where a call runs: on minions (`local`) or on the master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Runner,
    Wheel,
}

impl Form {
    pub fn name(self) -> &'static str {
        match self {
            Form::Runner => "runner",
            Form::Wheel => "wheel",
        }
    }
}

impl Perms {
    /// `user`'s list under the config key `key` (for the error message).
    pub fn parse(key: &'static str, user: &str, value: &Value) -> Result<Self, PermsError> {
        let err = |message: String| PermsError {
            key,
            user: user.to_string(),
            message,
        };
        let list = value
            .as_array()
            .ok_or_else(|| err("permissions must be a list".into()))?;
        let mut entries = Vec::new();
        for item in list {
            match item {
                Value::String(s) => entries.push(string_entry(s).map_err(err)?),
                Value::Object(map) if map.len() == 1 => {
                    entries.push(map_entry(map).map_err(err)?);
                }
                other => return Err(err(format!("unsupported permission entry {other}"))),
            }
        }
        Ok(Perms {
            entries,
            raw: list.clone(),
        })
    }

    /// May `fun` run on `targeted` (the minions the call's target matches)?
    /// `permitted` gives the minions a permitted target expression covers
    /// (`None`: unknown, which allows nothing): see [`permitted_by_id`] and
    /// [`Perms::data_targets`].
    pub fn allows_local(
        &self,
        fun: &str,
        call: CallArgs,
        targeted: &BTreeSet<String>,
        permitted: &dyn Fn(&str) -> Option<BTreeSet<String>>,
    ) -> bool {
        self.entries.iter().any(|entry| match entry {
            Entry::AnyMinion(rule) => rule.allows(fun, call),
            Entry::OnTarget { target, funs } => {
                funs.iter().any(|rule| rule.allows(fun, call))
                    && permitted(target).is_some_and(|allowed| targeted.is_subset(&allowed))
            }
            _ => false,
        })
    }

    /// The permitted target expressions that could allow `fun` but look
    /// beyond minion ids (`G@os:Debian`, `I@role:web`, `S@10.0.0.0/8`):
    /// the minions they cover come from the master's data cache.
    pub fn data_targets(
        &self,
        fun: &str,
        call: CallArgs,
        nodegroups: &Map<String, Value>,
    ) -> Vec<String> {
        self.entries
            .iter()
            .filter_map(|entry| match entry {
                Entry::OnTarget { target, funs }
                    if funs.iter().any(|rule| rule.allows(fun, call))
                        && compile_by_id(target, nodegroups).is_none() =>
                {
                    Some(target.clone())
                }
                _ => None,
            })
            .collect()
    }

    /// May the runner or wheel function `fun` (`module.function`) run?
    pub fn allows_master(&self, form: Form, fun: &str, call: CallArgs) -> bool {
        let Some((module, name)) = fun.split_once('.') else {
            return false;
        };
        let names_form = |f: &str| f == form.name() || f == format!("{}s", form.name());
        self.entries.iter().any(|entry| match entry {
            Entry::Form(f) => f == module || names_form(f),
            Entry::FormFuns { form: f, funs } => {
                (f == module && funs.iter().any(|rule| rule.allows(name, call)))
                    || (names_form(f) && funs.iter().any(|rule| rule.allows(fun, call)))
            }
            _ => false,
        })
    }

    /// May runner or wheel functions be called at all (master-level events
    /// are shown to such users)?
    pub fn is_master_level(&self) -> bool {
        self.entries.iter().any(|entry| match entry {
            Entry::Form(f) | Entry::FormFuns { form: f, .. } => {
                matches!(f.as_str(), "runner" | "runners" | "wheel" | "wheels")
            }
            _ => false,
        })
    }

    /// The target expressions of the entries that look beyond minion ids
    /// (`G@os:Debian`, ...): the minions they cover, by the master's data
    /// cache, are visible too.
    pub fn visibility_data_targets(&self, nodegroups: &Map<String, Value>) -> Vec<String> {
        self.entries
            .iter()
            .filter_map(|entry| match entry {
                Entry::OnTarget { target, .. } if compile_by_id(target, nodegroups).is_none() => {
                    Some(target.clone())
                }
                _ => None,
            })
            .collect()
    }

    /// May anything run on minion `id` (its events are shown)?
    pub fn sees_minion(&self, id: &str, nodegroups: &Map<String, Value>) -> bool {
        self.entries.iter().any(|entry| match entry {
            Entry::AnyMinion(_) => true,
            Entry::OnTarget { target, .. } => {
                compile_by_id(target, nodegroups).is_some_and(|t| t.matches_id(id))
            }
            _ => false,
        })
    }
}

fn string_entry(s: &str) -> Result<Entry, String> {
    match s.strip_prefix('@') {
        Some(form) => Ok(Entry::Form(form.to_string())),
        None => Ok(Entry::AnyMinion(FunRule {
            name: fun_regex(s)?,
            args: None,
        })),
    }
}

fn map_entry(map: &Map<String, Value>) -> Result<Entry, String> {
    let Some((key, value)) = map.iter().next() else {
        return Err("empty permission entry".into());
    };
    let funs = fun_list(value)?;
    Ok(match key.strip_prefix('@') {
        Some(form) => Entry::FormFuns {
            form: form.to_string(),
            funs,
        },
        None => Entry::OnTarget {
            target: key.clone(),
            funs,
        },
    })
}

/// The function rules of a list: names, or `{name: constraints}` dicts.
fn fun_list(value: &Value) -> Result<Vec<FunRule>, String> {
    let items = match value {
        Value::Array(a) => a.as_slice(),
        single => std::slice::from_ref(single),
    };
    items.iter().map(fun_rule).collect()
}

fn fun_rule(item: &Value) -> Result<FunRule, String> {
    match item {
        Value::String(s) => Ok(FunRule {
            name: fun_regex(s)?,
            args: None,
        }),
        Value::Object(map) if map.len() == 1 => {
            let (name, constraints) = map.iter().next().ok_or("empty function entry")?;
            let constraints = match constraints {
                Value::Array(list) => list.iter().map(|c| arg_constraint(name, c)).collect(),
                single => arg_constraint(name, single).map(|c| vec![c]),
            }?;
            Ok(FunRule {
                name: fun_regex(name)?,
                args: Some(constraints),
            })
        }
        other => Err(format!(
            "a function entry must be a name or {{name: {{args: [...], kwargs: {{...}}}}}}, got {other}"
        )),
    }
}

fn arg_constraint(fun: &str, value: &Value) -> Result<ArgConstraint, String> {
    let bad = |what: &str| format!("'{fun}': {what}");
    let map = value
        .as_object()
        .ok_or_else(|| bad("argument constraints must be a dict with 'args' and/or 'kwargs'"))?;
    if let Some(key) = map
        .keys()
        .find(|k| !matches!(k.as_str(), "args" | "kwargs"))
    {
        return Err(bad(&format!(
            "unknown constraint key '{key}' (expected args or kwargs)"
        )));
    }
    let args = match map.get("args") {
        None => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| optional_regex(fun, v))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad("'args' must be a list of regexes")),
    };
    let kwargs = match map.get("kwargs") {
        None => Vec::new(),
        Some(Value::Object(kw)) => kw
            .iter()
            .map(|(k, v)| Ok((k.clone(), optional_regex(fun, v)?)))
            .collect::<Result<_, String>>()?,
        Some(_) => return Err(bad("'kwargs' must be a dict of regexes")),
    };
    Ok(ArgConstraint { args, kwargs })
}

/// An argument regex; `null` allows any value, as in Salt.
fn optional_regex(fun: &str, value: &Value) -> Result<Option<Regex>, String> {
    match value {
        Value::Null => Ok(None),
        other => {
            let pattern = as_text(other);
            anchored(&pattern)
                .map(Some)
                .map_err(|e| format!("'{fun}': invalid argument regex '{pattern}': {e}"))
        }
    }
}

fn fun_regex(pattern: &str) -> Result<Regex, String> {
    anchored(pattern).map_err(|e| format!("invalid function regex '{pattern}': {e}"))
}

/// A regex that must match the whole text.
fn anchored(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{pattern})$"))
}

/// A permitted target expression compiled as Salt's `validate_tgt` does
/// (compound); `None` unless it is decided by minion ids alone.
fn compile_by_id(expr: &str, nodegroups: &Map<String, Value>) -> Option<Target> {
    let spec = TargetSpec {
        tgt: Value::String(expr.to_string()),
        tgt_type: TargetType::Compound,
    };
    Target::compile_with_nodegroups(&spec, nodegroups)
        .ok()
        .filter(Target::is_id_only)
}

/// The accepted minions (`known`) a permitted target expression covers, when
/// ids alone decide it.
pub fn permitted_by_id(
    expr: &str,
    known: &[String],
    nodegroups: &Map<String, Value>,
) -> Option<BTreeSet<String>> {
    let target = compile_by_id(expr, nodegroups)?;
    Some(
        known
            .iter()
            .filter(|id| target.matches_id(id))
            .cloned()
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EA: &str = "external_auth";

    fn alice() -> Perms {
        Perms::parse(
            EA,
            "alice",
            &json!([{"web*": ["test.*", "state.apply"]}, "@runner", {"@wheel": ["key.list_all"]}]),
        )
        .expect("parse")
    }

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    const KNOWN: &[&str] = &["web1", "web2", "db1"];

    fn known() -> Vec<String> {
        KNOWN.iter().map(|s| s.to_string()).collect()
    }

    fn by_id(ng: &Map<String, Value>) -> impl Fn(&str) -> Option<BTreeSet<String>> + '_ {
        move |expr| permitted_by_id(expr, &known(), ng)
    }

    #[test]
    fn local_needs_function_and_every_minion() {
        let p = alice();
        let ng = Map::new();
        assert!(p.allows_local(
            "test.ping",
            CallArgs::none(),
            &set(&["web1", "web2"]),
            &by_id(&ng)
        ));
        assert!(p.allows_local(
            "state.apply",
            CallArgs::none(),
            &set(&["web1"]),
            &by_id(&ng)
        ));
        assert!(!p.allows_local("cmd.run", CallArgs::none(), &set(&["web1"]), &by_id(&ng)));
        assert!(!p.allows_local(
            "test.ping",
            CallArgs::none(),
            &set(&["web1", "db1"]),
            &by_id(&ng)
        ));
        assert!(!p.allows_local(
            "state.apply_evil",
            CallArgs::none(),
            &set(&["web1"]),
            &by_id(&ng)
        ));
    }

    #[test]
    fn runner_and_wheel_forms() {
        let p = alice();
        assert!(p.allows_master(Form::Runner, "jobs.list_jobs", CallArgs::none()));
        assert!(p.allows_master(Form::Wheel, "key.list_all", CallArgs::none()));
        assert!(!p.allows_master(Form::Wheel, "key.delete", CallArgs::none()));
        let jobs_only = Perms::parse(EA, "bob", &json!([{"@jobs": ["list_.*"]}])).expect("parse");
        assert!(jobs_only.allows_master(Form::Runner, "jobs.list_jobs", CallArgs::none()));
        assert!(!jobs_only.allows_master(Form::Runner, "manage.up", CallArgs::none()));
        assert!(!jobs_only.is_master_level());
    }

    #[test]
    fn minion_visibility() {
        let p = alice();
        assert!(p.sees_minion("web9", &Map::new()));
        assert!(!p.sees_minion("db1", &Map::new()));
    }

    fn call<'a>(args: &'a [Value], kwargs: &'a Map<String, Value>) -> CallArgs<'a> {
        CallArgs { args, kwargs }
    }

    #[test]
    fn argument_constraints_as_salt_checks_them() {
        let p = Perms::parse(
            EA,
            "carol",
            &json!([{"web*": [
                {"test.echo": {"args": ["hello.*"]}},
                {"pkg.install": [{"args": [null], "kwargs": {"version": "1\\..*"}}, {"args": ["vim"]}]},
            ]}]),
        )
        .expect("parse");
        let ng = Map::new();
        let web1 = set(&["web1"]);
        let no_kw = Map::new();
        let allows = |fun: &str, args: &[Value], kwargs: &Map<String, Value>| {
            p.allows_local(fun, call(args, kwargs), &web1, &by_id(&ng))
        };
        assert!(allows("test.echo", &[json!("hello world")], &no_kw));
        assert!(!allows("test.echo", &[json!("goodbye")], &no_kw));
        assert!(
            !allows("test.echo", &[], &no_kw),
            "a listed argument must be given"
        );
        assert!(
            !allows("test.echo", &[json!("say hello")], &no_kw),
            "anchored at both ends"
        );
        let v1 = json!({"version": "1.2"}).as_object().cloned().expect("map");
        let v2 = json!({"version": "2.0"}).as_object().cloned().expect("map");
        assert!(
            allows("pkg.install", &[json!("nginx")], &v1),
            "null allows any value"
        );
        assert!(!allows("pkg.install", &[json!("nginx")], &v2));
        assert!(!allows("pkg.install", &[json!("nginx")], &no_kw));
        assert!(
            allows("pkg.install", &[json!("vim")], &no_kw),
            "the second constraint"
        );
        assert!(!allows("test.ping", &[], &no_kw));
    }

    #[test]
    fn grain_permissions_take_the_minions_the_cache_matches() {
        let p = Perms::parse(EA, "erin", &json!([{"G@role:web": ["test.*"]}])).expect("parse");
        let ng = Map::new();
        assert_eq!(
            p.data_targets("test.ping", CallArgs::none(), &ng),
            ["G@role:web"]
        );
        assert!(p.data_targets("cmd.run", CallArgs::none(), &ng).is_empty());
        let cache = |expr: &str| (expr == "G@role:web").then(|| set(&["web1", "db1"]));
        assert!(p.allows_local("test.ping", CallArgs::none(), &set(&["db1"]), &cache));
        assert!(!p.allows_local("test.ping", CallArgs::none(), &set(&["web2"]), &cache));
        let unknown = |_: &str| None;
        assert!(!p.allows_local("test.ping", CallArgs::none(), &set(&["db1"]), &unknown));
    }

    #[test]
    fn runner_arguments_are_constrained_too() {
        let p = Perms::parse(
            EA,
            "dave",
            &json!([{"@runner": [{"jobs.lookup_jid": {"args": ["2026.*"]}}]}]),
        )
        .expect("parse");
        let kw = Map::new();
        assert!(p.allows_master(
            Form::Runner,
            "jobs.lookup_jid",
            call(&[json!("20261122")], &kw)
        ));
        assert!(!p.allows_master(Form::Runner, "jobs.lookup_jid", call(&[json!("1999")], &kw)));
    }

    #[test]
    fn bad_entries_are_errors() {
        assert!(Perms::parse(EA, "x", &json!("test.*")).is_err());
        assert!(Perms::parse(EA, "x", &json!(["test.(("])).is_err());
        let bad_key = Perms::parse(EA, "x", &json!([{"*": [{"test.echo": {"arg": ["x"]}}]}]));
        assert!(bad_key.is_err_and(|e| e.to_string().contains("unknown constraint key 'arg'")));
        assert!(Perms::parse(EA, "x", &json!([{"*": [{"test.echo": {"args": "x"}}]}])).is_err());
    }
}
