//! `file.recurse`: a directory that mirrors a `salt://` directory.
//!
//! Every file under the source becomes a `file.managed` of its own (same
//! arguments, `file_mode` as its mode), so contents, templates, ownership,
//! diffs and test-mode predictions are `file.managed`'s, not a second copy;
//! `clean: True` removes what the source does not have.

use serde_json::{Map, Value, json};

use super::absolute_error;
use super::managed::managed;
use crate::lowstate::{LowChunk, StateCall, StateResult};
use crate::modules::{call, str_of};

/// Arguments of `file.recurse` that do not carry over to each file.
const RECURSE_ONLY: &[&str] = &[
    "source",
    "clean",
    "include_pat",
    "exclude_pat",
    "file_mode",
    "dir_mode",
    "mode",
];

pub fn recurse(c: &StateCall<'_>) -> StateResult {
    let name = c.chunk.name.trim_end_matches('/').to_string();
    if let Some(err) = absolute_error(&name) {
        return StateResult::fail(&name, err);
    }
    let Some(source) = str_of(c.chunk, "source") else {
        return StateResult::fail(&name, "'source' is required for file.recurse");
    };
    let Some(rest) = source.strip_prefix("salt://") else {
        return StateResult::fail(
            &name,
            format!("Invalid source '{source}' (must be a salt:// URL)"),
        );
    };
    let (dir, env) = match rest.split_once("?saltenv=") {
        Some((d, e)) => (d.trim_end_matches('/').to_string(), e.to_string()),
        None => (rest.trim_end_matches('/').to_string(), c.chunk.env.clone()),
    };
    let files = match c.host.list_files(&env) {
        Ok(files) => files,
        Err(e) => return StateResult::fail(&name, e),
    };
    let wanted: Vec<(String, String)> = files
        .iter()
        .filter_map(|f| {
            f.strip_prefix(&dir)
                .and_then(|r| r.strip_prefix('/'))
                .map(|rel| (rel.to_string(), f.clone()))
        })
        .filter(|(rel, _)| pattern_ok(c, rel))
        .collect();
    if wanted.is_empty() {
        return StateResult::fail(
            &name,
            format!("Recurse failed: none of the specified sources were found (salt://{dir})"),
        );
    }
    let mut changes = Map::new();
    let mut failures = Vec::new();
    let mut pending = false;
    for (rel, source_path) in &wanted {
        let target = format!("{name}/{rel}");
        let sub = file_chunk(
            c.chunk,
            &target,
            &format!("salt://{source_path}?saltenv={env}"),
        );
        let result = managed(&StateCall {
            host: c.host,
            chunk: &sub,
            test: c.test,
            required: &[],
        });
        match result.result {
            Some(false) => failures.push(format!("{target}: {}", result.comment)),
            None => pending = true,
            Some(true) => {}
        }
        if !result.changes.is_empty() {
            changes.insert(target, Value::Object(result.changes));
        }
    }
    if c.chunk.bool_arg("clean", false) {
        clean(c, &name, &wanted, &mut changes, &mut pending);
    }
    finish(&name, changes, failures, pending)
}

/// A `file.managed` chunk for one file of the tree.
fn file_chunk(parent: &LowChunk, target: &str, source: &str) -> LowChunk {
    let mut args: Map<String, Value> = parent
        .args
        .iter()
        .filter(|(k, _)| !RECURSE_ONLY.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    args.insert("source".into(), json!(source));
    args.insert("makedirs".into(), json!(true));
    if let Some(mode) = parent.arg("file_mode").filter(|m| !m.is_null()) {
        args.insert("mode".into(), mode.clone());
    }
    LowChunk {
        name: target.to_string(),
        fun: "managed".into(),
        args,
        ..parent.clone()
    }
}

/// Salt's `include_pat`/`exclude_pat`: globs over the path relative to the
/// source (`file.directory`'s `clean` uses `exclude_pat` the same way).
pub(super) fn pattern_ok(c: &StateCall<'_>, rel: &str) -> bool {
    let matches = |key: &str| {
        str_of(c.chunk, key).map(|pat| {
            let pat = pat.strip_prefix("E@").unwrap_or(&pat).to_string();
            brine_common::target::Fnmatch::new(&pat)
                .is_ok_and(|g| g.is_match(rel) || g.is_match(rel.rsplit('/').next().unwrap_or(rel)))
        })
    };
    matches("include_pat").unwrap_or(true) && !matches("exclude_pat").unwrap_or(false)
}

/// `clean: True`: remove files under `name` that the source does not have.
fn clean(
    c: &StateCall<'_>,
    name: &str,
    wanted: &[(String, String)],
    changes: &mut Map<String, Value>,
    pending: &mut bool,
) {
    let Ok(found) = call(
        c.host,
        "file.find",
        vec![json!(name)],
        &[("type", json!("f"))],
    ) else {
        return;
    };
    let keep: Vec<String> = wanted
        .iter()
        .map(|(rel, _)| format!("{name}/{rel}"))
        .collect();
    let mut removed = Vec::new();
    for path in found
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if keep.iter().any(|k| k == path) {
            continue;
        }
        if c.test {
            *pending = true;
        } else if call(c.host, "file.remove", vec![json!(path)], &[]).is_err() {
            continue;
        }
        removed.push(json!(path));
    }
    if !removed.is_empty() {
        changes.insert("removed".into(), Value::Array(removed));
    }
}

fn finish(
    name: &str,
    changes: Map<String, Value>,
    failures: Vec<String>,
    pending: bool,
) -> StateResult {
    let mut result = StateResult::new(name);
    if !failures.is_empty() {
        result.result = Some(false);
        result.comment = failures.join("\n");
    } else if pending {
        result.result = None;
        result.comment = format!("Recursively updated {name}");
    } else if changes.is_empty() {
        result.comment = format!("The directory {name} is in the correct state");
    } else {
        result.comment = format!("Recursively updated {name}");
    }
    result.changes = changes;
    result
}
