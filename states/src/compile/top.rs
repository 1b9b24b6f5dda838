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
//! nodegroups come from the minion's `nodegroups` option). Top files of every
//! environment are read; SLS names are merged per environment in the order
//! found, duplicates dropped (Salt's `merge` strategy).

use brine_common::target::{MinionFacts, Target};
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

/// The rendered top files: environment -> target -> its list (`state.show_top` uses the matches).
pub fn read_tops(
    host: &dyn StateHost,
    saltenv: Option<&str>,
) -> Result<Vec<Map<String, Value>>, CompileError> {
    let envs: Vec<String> = match saltenv {
        Some(env) => vec![env.to_string()],
        None => host.environments(),
    };
    let mut tops = Vec::new();
    let mut errors = Vec::new();
    for env in &envs {
        let text = match host.read_file(env, "top.sls") {
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
            path: "top.sls",
        };
        match render_sls(host, &source, &text) {
            Ok(Value::Object(top)) => tops.push(top),
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
    let facts = MinionFacts::new(&id, &grains, &pillar);
    let mut found = TopMatches::new();
    let mut errors = Vec::new();
    for top in &tops {
        for (env, targets) in top {
            if saltenv.is_some_and(|wanted| wanted != env) {
                continue;
            }
            let Some(targets) = targets.as_object() else {
                errors.push(format!(
                    "Top file environment '{env}' is not a dictionary of targets"
                ));
                continue;
            };
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
    }
    if !errors.is_empty() {
        return Err(CompileError::new(errors));
    }
    found.retain(|_, mods| !mods.is_empty());
    Ok(found)
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
        tgt_type: tgt_type.to_string(),
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
