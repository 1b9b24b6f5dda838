//! `top.sls`: which SLS files apply to this minion, per environment.
//!
//! ```yaml
//! base:
//!   '*':
//!     - common
//!   'os:Debian':
//!     - match: grain
//!     - apt
//! ```
//! Each target is matched with `brine_common::target` against the minion's
//! own id, grains and pillar (`match:` picks the type; `glob` by default;
//! nodegroups come from the minion's `nodegroups` option).
//!
//! The top files of every environment are read (`base` first) and merged by
//! Salt's `top_file_merging_strategy`:
//! - `merge` (default): every section of base's top file counts; another
//!   environment's top file adds only its own environment's section, and
//!   only if base's top did not define that environment;
//! - `same`: each environment's section comes from its own top file only
//!   (from `default_top`'s, when the environment has none);
//! - `merge_all`: every section of every top file, the SLS lists of a target
//!   defined twice joined.
//!
//! `env_order` limits and orders the environments whose top files are read.

use brine_common::ids::{SaltEnv, salt_file};
use brine_common::target::{MinionFacts, Target, TargetType};
use brine_common::wire::TargetSpec;
use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::CompileError;
use crate::host::StateHost;
use crate::render::{SlsSource, render_sls};

/// The SLS names per environment, in top-file order.
pub type TopMatches = IndexMap<String, Vec<String>>;

/// Salt's message when nothing in the top file matches.
pub const NO_TOP_MATCH: &str =
    "No Top file or master_tops data matches found. Please see master log for details.";

/// Where each environment's top file is.
const TOP_FILE: &str = "top.sls";

/// A rendered top file and the environment it was read from.
pub struct TopFile {
    pub env: String,
    pub sections: Map<String, Value>,
}

/// Sections (environment -> target -> its list) after merging.
type MergedTop = IndexMap<String, IndexMap<String, Value>>;

/// The rendered top files, `base` first (`state.show_top` uses the matches).
pub fn read_tops(
    host: &dyn StateHost,
    saltenv: Option<&str>,
) -> Result<Vec<TopFile>, CompileError> {
    let envs: Vec<String> = match saltenv {
        Some(env) => vec![env.to_string()],
        None => {
            let available = host.environments().iter().map(SaltEnv::to_string).collect();
            ordered_envs(available, &host.opts())
        }
    };
    let mut tops = Vec::new();
    let mut errors = Vec::new();
    for env in &envs {
        let read = salt_file(env, TOP_FILE).map_err(|e| e.to_string());
        let text = match read.and_then(|(env, top)| host.read_file(&env, &top)) {
            Ok(Some(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
            Ok(None) => continue,
            Err(e) => {
                errors.push(format!("Could not read top.sls in saltenv '{env}': {e}"));
                continue;
            }
        };
        let source = SlsSource {
            saltenv: env,
            sls: "top",
            path: TOP_FILE,
        };
        match render_sls(host, &source, &text) {
            Ok(Value::Object(sections)) => tops.push(TopFile {
                env: env.clone(),
                sections,
            }),
            Ok(Value::Null) => {}
            Ok(_) => errors.push(format!(
                "Top file in saltenv '{env}' does not render to a dictionary"
            )),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if errors.is_empty() {
        Ok(tops)
    } else {
        Err(CompileError::new(errors))
    }
}

/// Salt's `env_order`: when set, only the listed environments that exist,
/// in the listed order (duplicates dropped); otherwise every environment.
fn ordered_envs(available: Vec<String>, opts: &Map<String, Value>) -> Vec<String> {
    let order: Vec<&str> = opts
        .get("env_order")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if order.is_empty() {
        return available;
    }
    let mut seen = std::collections::HashSet::new();
    order
        .into_iter()
        .filter(|env| seen.insert(*env) && available.iter().any(|a| a == env))
        .map(String::from)
        .collect()
}

/// The SLS names the top files assign to this minion.
pub fn matches(host: &dyn StateHost, saltenv: Option<&str>) -> Result<TopMatches, CompileError> {
    let tops = read_tops(host, saltenv)?;
    let grains = host.grains();
    let pillar = host.pillar();
    let opts = host.opts();
    let id = opts
        .get("id")
        .and_then(Value::as_str)
        .or_else(|| grains.get("id").and_then(Value::as_str))
        .unwrap_or_default()
        .to_string();
    let nodegroups = opts
        .get("nodegroups")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let strategy = opts
        .get("top_file_merging_strategy")
        .and_then(Value::as_str)
        .unwrap_or("merge");
    let default_top = opts
        .get("default_top")
        .and_then(Value::as_str)
        .unwrap_or("base");
    let merged = merge_tops(&tops, strategy, default_top)?;
    let facts = MinionFacts::new(&id, &grains, &pillar);
    let mut found = TopMatches::new();
    let mut errors = Vec::new();
    for (env, targets) in &merged {
        if saltenv.is_some_and(|wanted| wanted != env) {
            continue;
        }
        for (target, items) in targets {
            match target_matches(target, items, &facts, &nodegroups) {
                Ok(true) => add_sls(found.entry(env.clone()).or_default(), items),
                Ok(false) => {}
                Err(e) => errors.push(format!(
                    "Invalid target '{target}' in the top file of saltenv '{env}': {e}"
                )),
            }
        }
    }
    if !errors.is_empty() {
        return Err(CompileError::new(errors));
    }
    found.retain(|_, mods| !mods.is_empty());
    Ok(found)
}

/// Merge the top files by `strategy` (see the module doc).
fn merge_tops(
    tops: &[TopFile],
    strategy: &str,
    default_top: &str,
) -> Result<MergedTop, CompileError> {
    let mut merged = MergedTop::new();
    let mut errors = Vec::new();
    let mut take = |merged: &mut MergedTop, top: &TopFile, env: &str, join: bool| {
        let Some(targets) = top.sections.get(env) else {
            return;
        };
        let Some(targets) = targets.as_object() else {
            errors.push(format!(
                "Top file environment '{env}' in the top file of saltenv '{}' is not a dictionary of targets",
                top.env
            ));
            return;
        };
        let section = merged.entry(env.to_string()).or_default();
        for (target, items) in targets {
            match section.get_mut(target) {
                Some(existing) if join => join_target_lists(existing, items),
                _ => {
                    section.insert(target.clone(), items.clone());
                }
            }
        }
    };
    let envs_of = |top: &TopFile| -> Vec<String> {
        top.sections
            .keys()
            .filter(|k| *k != "include")
            .cloned()
            .collect()
    };
    match strategy {
        "merge" => {
            for top in tops.iter().filter(|t| t.env == "base") {
                for env in envs_of(top) {
                    take(&mut merged, top, &env, false);
                }
            }
            for top in tops.iter().filter(|t| t.env != "base") {
                let own = top.env.clone();
                if !merged.contains_key(&own) {
                    take(&mut merged, top, &own, false);
                }
            }
        }
        "same" => {
            for top in tops {
                take(&mut merged, top, &top.env.clone(), false);
            }
            // An environment without a top file of its own takes its section from default_top's.
            if let Some(fallback) = tops.iter().find(|t| t.env == default_top) {
                for env in envs_of(fallback) {
                    if !tops.iter().any(|t| t.env == env) {
                        take(&mut merged, fallback, &env, false);
                    }
                }
            }
        }
        "merge_all" => {
            for top in tops {
                for env in envs_of(top) {
                    take(&mut merged, top, &env, true);
                }
            }
        }
        other => errors.push(format!(
            "top_file_merging_strategy '{other}' is not one of merge, same, merge_all"
        )),
    }
    if errors.is_empty() {
        Ok(merged)
    } else {
        Err(CompileError::new(errors))
    }
}

/// `merge_all` for a target in two top files: the later `match:` wins, the
/// SLS names are joined without repeats.
fn join_target_lists(existing: &mut Value, later: &Value) {
    let as_list = |v: &Value| match v {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    let (first, second) = (as_list(existing), as_list(later));
    let match_of = |items: &[Value]| items.iter().find(|i| i.is_object()).cloned();
    let mut joined: Vec<Value> = match_of(&second)
        .or_else(|| match_of(&first))
        .into_iter()
        .collect();
    for name in first.iter().chain(&second).filter(|i| i.is_string()) {
        if !joined.contains(name) {
            joined.push(name.clone());
        }
    }
    *existing = Value::Array(joined);
}

/// Whether one top-file target matches, with its `match:` type.
fn target_matches(
    target: &str,
    items: &Value,
    facts: &MinionFacts<'_>,
    nodegroups: &Map<String, Value>,
) -> Result<bool, String> {
    let tgt_type = items
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .find_map(|o| o.get("match").and_then(Value::as_str))
        .unwrap_or("glob");
    let spec = TargetSpec {
        tgt: Value::String(target.to_string()),
        tgt_type: TargetType::parse(tgt_type).map_err(|e| e.to_string())?,
    };
    let compiled = Target::compile_with_nodegroups(&spec, nodegroups).map_err(|e| e.to_string())?;
    Ok(compiled.matches(facts))
}

/// The SLS names of a target's list (strings; `match:` and other options skipped).
fn add_sls(mods: &mut Vec<String>, items: &Value) {
    let names: Vec<&str> = match items {
        Value::String(s) => vec![s.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    for name in names {
        if !mods.iter().any(|m| m == name) {
            mods.push(name.to_string());
        }
    }
}
