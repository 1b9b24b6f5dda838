//! external_auth permissions, checked as Salt's `auth_check` and
//! `spec_check` do (`salt/utils/minions.py`).
//!
//! A user's entries are:
//! - `'test.*'`: a function regex allowed on every minion;
//! - `{'web*': ['test.*', 'state.apply']}`: function regexes allowed when
//!   every minion the call targets is one the expression (compound, by id)
//!   matches;
//! - `'@runner'`, `'@wheel'`, `'@jobs'`: every function of that client or
//!   runner module; `{'@runner': ['jobs.*']}`: only those functions.
//!
//! Unlike Salt, function regexes must match the whole name (Salt anchors
//! only the start, so `test.ping` there also allows `test.ping_evil`).
//! Argument constraints (`{'pkg.install': {'args': ...}}`) are not checked
//! yet, so such an entry allows nothing.

use std::collections::BTreeSet;

use brine_common::target::Target;
use brine_common::wire::TargetSpec;
use regex::Regex;
use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error)]
#[error("external_auth: {user}: {message}")]
pub struct PermsError {
    pub user: String,
    pub message: String,
}

#[derive(Debug, Clone)]
enum Entry {
    AnyMinion(Regex),
    OnTarget { target: String, funs: Vec<Regex> },
    Form(String),
    FormFuns { form: String, funs: Vec<Regex> },
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
    pub fn parse(user: &str, value: &Value) -> Result<Self, PermsError> {
        let err = |message: String| PermsError {
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
    /// `known` are all accepted minion ids, over which permitted target
    /// expressions are evaluated.
    pub fn allows_local(
        &self,
        fun: &str,
        targeted: &BTreeSet<String>,
        known: &[String],
        nodegroups: &Map<String, Value>,
    ) -> bool {
        self.entries.iter().any(|entry| match entry {
            Entry::AnyMinion(re) => re.is_match(fun),
            Entry::OnTarget { target, funs } => {
                funs.iter().any(|re| re.is_match(fun))
                    && permitted_minions(target, known, nodegroups)
                        .is_some_and(|allowed| targeted.is_subset(&allowed))
            }
            _ => false,
        })
    }

    /// May the runner or wheel function `fun` (`module.function`) run?
    pub fn allows_master(&self, form: Form, fun: &str) -> bool {
        let Some((module, name)) = fun.split_once('.') else {
            return false;
        };
        let names_form = |f: &str| f == form.name() || f == format!("{}s", form.name());
        self.entries.iter().any(|entry| match entry {
            Entry::Form(f) => f == module || names_form(f),
            Entry::FormFuns { form: f, funs } => {
                (f == module && funs.iter().any(|re| re.is_match(name)))
                    || (names_form(f) && funs.iter().any(|re| re.is_match(fun)))
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
        None => Ok(Entry::AnyMinion(fun_regex(s)?)),
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

/// The function regexes of a list; entries with argument constraints are
/// skipped (they allow nothing yet).
fn fun_list(value: &Value) -> Result<Vec<Regex>, String> {
    let items = match value {
        Value::String(s) => vec![Value::String(s.clone())],
        Value::Array(a) => a.clone(),
        other => return Err(format!("function list expected, got {other}")),
    };
    items
        .iter()
        .filter_map(Value::as_str)
        .map(fun_regex)
        .collect()
}

fn fun_regex(pattern: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| format!("invalid function regex '{pattern}': {e}"))
}

/// A permitted target expression compiled as Salt's `validate_tgt` does
/// (compound); `None` unless it is decided by minion ids alone.
fn compile_by_id(expr: &str, nodegroups: &Map<String, Value>) -> Option<Target> {
    let spec = TargetSpec {
        tgt: Value::String(expr.to_string()),
        tgt_type: "compound".into(),
    };
    Target::compile_with_nodegroups(&spec, nodegroups)
        .ok()
        .filter(Target::is_id_only)
}

fn permitted_minions(
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

    fn alice() -> Perms {
        Perms::parse(
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

    #[test]
    fn local_needs_function_and_every_minion() {
        let p = alice();
        let ng = Map::new();
        assert!(p.allows_local("test.ping", &set(&["web1", "web2"]), &known(), &ng));
        assert!(p.allows_local("state.apply", &set(&["web1"]), &known(), &ng));
        assert!(!p.allows_local("cmd.run", &set(&["web1"]), &known(), &ng));
        assert!(!p.allows_local("test.ping", &set(&["web1", "db1"]), &known(), &ng));
        assert!(!p.allows_local("state.apply_evil", &set(&["web1"]), &known(), &ng));
    }

    #[test]
    fn runner_and_wheel_forms() {
        let p = alice();
        assert!(p.allows_master(Form::Runner, "jobs.list_jobs"));
        assert!(p.allows_master(Form::Wheel, "key.list_all"));
        assert!(!p.allows_master(Form::Wheel, "key.delete"));
        let jobs_only = Perms::parse("bob", &json!([{"@jobs": ["list_.*"]}])).expect("parse");
        assert!(jobs_only.allows_master(Form::Runner, "jobs.list_jobs"));
        assert!(!jobs_only.allows_master(Form::Runner, "manage.up"));
        assert!(!jobs_only.is_master_level());
    }

    #[test]
    fn minion_visibility() {
        let p = alice();
        assert!(p.sees_minion("web9", &Map::new()));
        assert!(!p.sees_minion("db1", &Map::new()));
    }

    #[test]
    fn bad_entries_are_errors() {
        assert!(Perms::parse("x", &json!("test.*")).is_err());
        assert!(Perms::parse("x", &json!(["test.(("])).is_err());
    }
}
