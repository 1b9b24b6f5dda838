//! The pillar top files (Salt's `get_tops`, `merge_tops`, `top_matches`):
//! which SLS files of which environment apply to a minion.

use brine_common::ids::{RelPath, SaltEnv, SlsName};
use brine_common::target::{MinionFacts, Target, TargetType};
use brine_common::truth::affirmative;
use brine_common::wire::TargetSpec;
use brine_states::host::StateHost;
use brine_states::render::{SlsSource, render_sls};
use serde_json::{Map, Value};

use crate::merge::MergeStrategy;
use crate::opts::PillarOpts;
use crate::sls;

/// env -> target -> the target's items (`match:` mappings first, then SLS names).
pub(crate) type MergedTop = Vec<(String, Vec<(String, Vec<Value>)>)>;

/// env -> SLS names (or globs) in top-file order.
pub(crate) type TopMatches = Vec<(String, Vec<String>)>;

/// What the top files say, with the SLS names that may be missing quietly.
#[derive(Default)]
pub(crate) struct Top {
    pub merged: MergedTop,
    /// env -> SLS names listed under `ignore_missing: True`.
    pub ignored: Vec<(String, String)>,
}

/// Read, render and merge the top files. Errors use Salt's wording.
pub(crate) fn get_top(host: &dyn StateHost, opts: &PillarOpts) -> (Top, Vec<String>) {
    let mut errors = Vec::new();
    let mut tops: Vec<Map<String, Value>> = Vec::new();
    for env in top_envs(opts) {
        let Some(text) = read_text(host, &env, "top.sls", &mut errors) else {
            continue;
        };
        match render_top(host, &env, "top.sls", &text) {
            Ok(top) => {
                let includes = take_includes(&top);
                tops.push(top);
                tops.extend(included_tops(host, &env, includes, &mut errors));
            }
            Err(e) => errors.push(format!(
                "Rendering Primary Top file failed, render error:\n{e}"
            )),
        }
    }
    let top = merge_tops(&tops, &mut errors);
    (top, errors)
}

/// The environments whose top files are read.
fn top_envs(opts: &PillarOpts) -> Vec<String> {
    if let Some(env) = &opts.pillarenv {
        if opts.pillar_roots.contains_key(env.as_str()) {
            return vec![env.to_string()];
        }
        tracing::debug!("pillarenv '{env}' not found in the configured pillar environments");
        return Vec::new();
    }
    let envs = opts.envs();
    if opts.strategy == MergeStrategy::None {
        let wanted = opts.saltenv.as_ref().map_or("base", SaltEnv::as_str);
        return envs.into_iter().filter(|e| e == wanted).collect();
    }
    envs
}

fn read_text(
    host: &dyn StateHost,
    env: &str,
    path: &str,
    errors: &mut Vec<String>,
) -> Option<String> {
    // A name that cannot be an environment has no files (the roots know
    // no such environment either).
    let saltenv = SaltEnv::parse(env).ok()?;
    let read = RelPath::parse(path).map_err(|e| e.to_string());
    match read.and_then(|path| host.read_file(&saltenv, &path)) {
        Ok(Some(bytes)) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Ok(None) => None,
        Err(e) => {
            errors.push(format!(
                "Could not read pillar {path} in saltenv '{env}': {e}"
            ));
            None
        }
    }
}

fn render_top(
    host: &dyn StateHost,
    env: &str,
    path: &str,
    text: &str,
) -> Result<Map<String, Value>, String> {
    let source = SlsSource {
        saltenv: env,
        sls: "",
        path,
    };
    match render_sls(host, &source, text).map_err(|e| e.message)? {
        Value::Object(top) => Ok(top),
        _ => Err(format!(
            "{path} in saltenv '{env}' does not render to a dictionary"
        )),
    }
}

fn take_includes(top: &Map<String, Value>) -> Vec<String> {
    match top.get("include") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

/// Top files named by `include:` in a top file, and theirs, each once.
fn included_tops(
    host: &dyn StateHost,
    env: &str,
    mut pending: Vec<String>,
    errors: &mut Vec<String>,
) -> Vec<Map<String, Value>> {
    let mut done: Vec<String> = Vec::new();
    let mut tops = Vec::new();
    while let Some(sls_name) = pending.pop() {
        if done.contains(&sls_name) {
            continue;
        }
        done.push(sls_name.clone());
        let rendered = SlsName::parse(&sls_name)
            .ok()
            .and_then(|name| sls::find(host, env, &name))
            .ok_or_else(|| format!("SLS '{sls_name}' not found in saltenv '{env}'"))
            .and_then(|(path, text)| render_top(host, env, &path, &text));
        match rendered {
            Ok(top) => {
                pending.extend(take_includes(&top));
                tops.push(top);
            }
            Err(e) => errors.push(format!(
                "Rendering Top file {sls_name} failed, render error:\n{e}"
            )),
        }
    }
    tops
}

/// Salt's `merge_tops` and `sort_top_targets`: later top files replace a
/// target's list; targets sorted by their `order:` (stable).
fn merge_tops(tops: &[Map<String, Value>], errors: &mut Vec<String>) -> Top {
    let mut top = Top::default();
    let mut orders: Vec<(String, String, i64)> = Vec::new();
    for ctop in tops {
        for (env, targets) in ctop {
            if env == "include" {
                continue;
            }
            let Some(targets) = targets.as_object() else {
                errors.push("Error encountered while rendering pillar top file.".to_owned());
                continue;
            };
            for (target, items) in targets {
                let Some(items) = items.as_array() else {
                    errors.push("Error encountered while rendering pillar top file.".to_owned());
                    continue;
                };
                let entry = merge_target(&mut top, env, target, items);
                orders.retain(|(e, t, _)| !(e == env && t == target));
                orders.push((env.clone(), target.clone(), entry));
            }
        }
    }
    for (env, targets) in &mut top.merged {
        targets.sort_by_key(|(target, _)| {
            orders
                .iter()
                .find(|(e, t, _)| e == env && t == target)
                .map_or(0, |(_, _, order)| *order)
        });
    }
    top
}

/// Put one target's items in the merged top; returns its `order`.
fn merge_target(top: &mut Top, env: &str, target: &str, items: &[Value]) -> i64 {
    let mut matches = Vec::new();
    let mut states: Vec<Value> = Vec::new();
    let mut order = 0;
    let mut ignore_missing = false;
    for item in items {
        match item {
            Value::Object(comp) => {
                if comp.contains_key("match") {
                    matches.push(item.clone());
                }
                if let Some(o) = comp.get("order") {
                    order = as_order(o);
                }
                ignore_missing |= comp.get("ignore_missing").is_some_and(affirmative);
            }
            Value::String(name) if !states.iter().any(|s| s.as_str() == Some(name)) => {
                states.push(item.clone());
            }
            _ => {}
        }
    }
    if ignore_missing {
        for name in states.iter().filter_map(Value::as_str) {
            top.ignored.push((env.to_owned(), name.to_owned()));
        }
    }
    matches.extend(states);
    let env_targets = match top.merged.iter_mut().position(|(e, _)| e == env) {
        Some(i) => &mut top.merged[i].1,
        None => {
            top.merged.push((env.to_owned(), Vec::new()));
            let last = top.merged.len() - 1;
            &mut top.merged[last].1
        }
    };
    match env_targets.iter_mut().find(|(t, _)| t == target) {
        Some(slot) => slot.1 = matches,
        None => env_targets.push((target.to_owned(), matches)),
    }
    order
}

fn as_order(value: &Value) -> i64 {
    match value {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

/// Salt's `top_matches`: the SLS names of every target that matches the minion.
pub(crate) fn top_matches(
    top: &MergedTop,
    facts: &MinionFacts<'_>,
    opts: &PillarOpts,
) -> TopMatches {
    let mut found: TopMatches = Vec::new();
    for (env, targets) in top {
        if opts.pillarenv.as_ref().is_some_and(|p| p.as_str() != env) {
            continue;
        }
        for (target, items) in targets {
            if !confirm_top(target, items, facts, &opts.nodegroups) {
                continue;
            }
            let names = match found.iter_mut().position(|(e, _)| e == env) {
                Some(i) => &mut found[i].1,
                None => {
                    found.push((env.clone(), Vec::new()));
                    let last = found.len() - 1;
                    &mut found[last].1
                }
            };
            for name in items.iter().filter_map(Value::as_str) {
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_owned());
                }
            }
        }
    }
    found
}

/// Salt's `confirm_top`: the target with its `match:` type (`compound` by default).
fn confirm_top(
    target: &str,
    items: &[Value],
    facts: &MinionFacts<'_>,
    nodegroups: &Map<String, Value>,
) -> bool {
    let tgt_type = items
        .iter()
        .filter_map(Value::as_object)
        .filter_map(|o| o.get("match").and_then(Value::as_str))
        .next_back()
        .unwrap_or("compound");
    let compiled = TargetType::parse(tgt_type).and_then(|tgt_type| {
        let spec = TargetSpec {
            tgt: Value::String(target.to_owned()),
            tgt_type,
        };
        Target::compile_with_nodegroups(&spec, nodegroups)
    });
    match compiled {
        Ok(compiled) => compiled.matches(facts),
        Err(e) => {
            tracing::warn!("Invalid {tgt_type} target '{target}' in the pillar top file: {e}");
            false
        }
    }
}
