//! Salt's `pkgrepo` states on Debian: `managed` (an APT source is
//! configured) and `absent` (it is not), through `pkg.get_repo`,
//! `pkg.mod_repo`, `pkg.del_repo` and `pkg.list_repos`.
//!
//! `managed` compares what `pkg.get_repo` found with the entry `mod_repo`
//! would write ([`debsources::expand_repo_def`], Salt's `_expand_repo_def`),
//! key by key as Salt does, so "already configured" and the test-mode
//! changes are Salt's. Comments are word for word Salt 3008.5's.

pub mod debsources;

use serde_json::{Map, Value, json};

use super::{call, changed, name_of, pending, text, truthy};
use crate::lowstate::{StateCall, StateModules, StateResult};

pub fn register(m: &mut StateModules) {
    m.register("pkgrepo.managed", managed);
    m.register("pkgrepo.absent", absent);
}

/// Salt's `STATE_REQUISITE_IN_KEYWORDS` and `STATE_RUNTIME_KEYWORDS` (the
/// `__`-prefixed ones aside, all dropped here).
const IN_AND_RUNTIME_KEYWORDS: &[&str] = &[
    "onchanges_in",
    "onfail_in",
    "prereq_in",
    "watch_in",
    "require_in",
    "listen_in",
    "fun",
    "state",
    "check_cmd",
    "cmd_opts_exclude",
    "failhard",
    "onlyif",
    "unless",
    "creates",
    "retry",
    "order",
    "parallel",
    "reload_modules",
    "reload_grains",
    "reload_pillar",
    "runas",
    "runas_password",
    "no_log",
    "fire_event",
    "saltenv",
    "umask",
    "use",
    "use_in",
];

/// Salt's `STATE_INTERNAL_KEYWORDS` (and the compiler's own `name`,
/// `names`): never passed on to the `pkg` functions.
fn internal(key: &str) -> bool {
    key.starts_with("__")
        || matches!(key, "name" | "names")
        || crate::compile::verify::REQUISITE_KEYWORDS.contains(&key)
        || IN_AND_RUNTIME_KEYWORDS.contains(&key)
}

/// The state's keyword arguments, as `**kwargs` reach Salt's function.
fn user_kwargs(c: &StateCall<'_>) -> Map<String, Value> {
    c.chunk
        .args
        .iter()
        .filter(|(k, _)| !internal(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn grain(c: &StateCall<'_>, key: &str) -> String {
    c.host.grains().get(key).map(text).unwrap_or_default()
}

/// A `pkg.*` call whose error text is the exception's message.
fn pkg_call(
    c: &StateCall<'_>,
    fun: &str,
    args: Vec<Value>,
    kwargs: Map<String, Value>,
) -> Result<Value, String> {
    c.host
        .call(fun, args, kwargs)
        .map_err(|e| crate::modules::exc_text(&e).to_string())
}

/// The test-mode and conflict checks that set `result: False` but go on
/// (Salt's `managed` does not return after them).
fn key_conflict(kw: &Map<String, Value>) -> Option<&'static str> {
    let has = |k: &str| kw.contains_key(k);
    let mut out = None;
    if has("key_url") && (has("keyid") || has("keyserver")) {
        out = Some(r#"You may not use both "keyid"/"keyserver" and "key_url" argument."#);
    }
    if has("key_text") && (has("keyid") || has("keyserver")) {
        out = Some(r#"You may not use both "keyid"/"keyserver" and "key_text" argument."#);
    }
    if has("key_text") && has("key_url") {
        out = Some(r#"You may not use both "key_url" and "key_text" argument."#);
    }
    out
}

/// `pkgrepo.managed`.
fn managed(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    // Without an os_family grain the minion's pkg functions pick apt by
    // the tools present; with one, only Debian's family is apt.
    let family = grain(c, "os_family");
    if !family.is_empty() && family != "Debian" {
        return StateResult::fail(name, "Repo management not implemented on this platform");
    }
    let mut kw = user_kwargs(c);
    let conflict = key_conflict(&kw);
    if kw.contains_key("repo") {
        return StateResult::fail(
            name,
            "'repo' is not a supported argument for this state. The 'name' argument is probably what was intended.",
        );
    }
    let enabled = kw.shift_remove("enabled").filter(|v| !v.is_null());
    let disabled = kw.shift_remove("disabled").filter(|v| !v.is_null());
    let disabled = match (enabled, disabled) {
        (Some(_), Some(_)) => {
            return StateResult::fail(name, "Only one of enabled/disabled is allowed");
        }
        (Some(e), None) => !truthy(&e),
        (None, Some(d)) => truthy(&d),
        (None, None) => false,
    };
    let allow_insecure = kw
        .shift_remove("allow_insecure_key")
        .is_none_or(|v| truthy(&v));
    let insecure = kw
        .get("key_url")
        .is_some_and(|u| text(u).trim().starts_with("http:"));
    if insecure && !allow_insecure {
        return StateResult::fail(
            name,
            "Cannot have 'key_url' using http with 'allow_insecure_key' set to True",
        );
    }
    let aptkey = kw.shift_remove("aptkey").is_none_or(|v| truthy(&v));
    let repo = match kw.shift_remove("ppa").filter(|v| !v.is_null()) {
        Some(ppa) => format!("ppa:{}", text(&ppa)),
        None => name.to_string(),
    };
    kw.shift_remove("copr");
    kw.insert("name".into(), json!(name));
    kw.insert("disabled".into(), json!(disabled));
    let outcome = configure(c, name, &repo, kw, aptkey);
    match conflict {
        // Salt keeps the conflict's `False` unless a later step sets a result.
        Some(msg) if outcome.result.is_none() => StateResult {
            result: Some(false),
            comment: if outcome.comment.is_empty() {
                msg.to_string()
            } else {
                outcome.comment
            },
            ..outcome
        },
        _ => outcome,
    }
}

/// The body of `managed` once the arguments are checked.
fn configure(
    c: &StateCall<'_>,
    name: &str,
    repo: &str,
    mut kw: Map<String, Value>,
    aptkey: bool,
) -> StateResult {
    let pre = match pkg_call(c, "pkg.get_repo", vec![json!(repo)], kw.clone()) {
        Ok(Value::Object(m)) => m,
        Ok(_) => Map::new(),
        Err(e) => return StateResult::fail(name, format!("Failed to examine repo '{name}': {e}")),
    };
    let mut sanitized = match debsources::expand_repo_def(repo, &kw) {
        Ok(m) => m,
        Err(e) => return StateResult::fail(name, e.to_string()),
    };
    let clean_file = kw.get("clean_file").is_some_and(truthy);
    let needs_clean = !pre.is_empty() && clean_file && has_stale_lines(c, &kw, name);
    let mut pre_cmp = pre.clone();
    if !pre.is_empty() && !needs_clean {
        pre_cmp.shift_remove("file");
        sanitized.shift_remove("file");
        if already_configured(&sanitized, &pre_cmp, &kw) {
            return StateResult::ok(name, format!("Package repo '{name}' already configured"));
        }
    }
    for key in ["uri", "uris"] {
        let differs = match (sanitized.get(key), pre.get(key)) {
            (Some(s), Some(p)) if key == "uri" => s != p,
            (Some(Value::Array(s)), Some(Value::Array(p))) => {
                s.first().is_some_and(|u| !p.contains(u))
            }
            _ => false,
        };
        if !kw.contains_key(key) && differs {
            kw.insert(key.into(), sanitized[key].clone());
        }
    }
    if c.test {
        let comment = format!(
            "Package repo '{name}' would be configured. This may cause pkg states to behave differently than stated if this action is repeated without test=True, due to the differences in the configured repositories."
        );
        let changes = if pre.is_empty() {
            super::one("repo", json!(name))
        } else {
            diff(&sanitized, &pre_cmp)
        };
        return pending(name, comment, changes);
    }
    if clean_file
        && let Some(file) = kw.get("file").map(text)
        && let Err(e) = call(c.host, "file.write", vec![json!(file), json!("")], &[])
    {
        return StateResult::fail(name, format!("Failed to configure repo '{name}': {e}"));
    }
    let mut mod_kw = kw.clone();
    mod_kw.insert("saltenv".into(), json!(c.chunk.env));
    mod_kw.insert("aptkey".into(), json!(aptkey));
    if let Err(e) = pkg_call(c, "pkg.mod_repo", vec![json!(repo)], mod_kw) {
        return StateResult::fail(name, format!("Failed to configure repo '{name}': {e}"));
    }
    let post = match pkg_call(c, "pkg.get_repo", vec![json!(repo)], kw) {
        Ok(Value::Object(m)) => m,
        Ok(_) => Map::new(),
        Err(e) => {
            return StateResult::fail(
                name,
                format!("Failed to confirm config of repo '{name}': {e}"),
            );
        }
    };
    let changes = if pre.is_empty() {
        super::one("repo", json!(repo))
    } else {
        sanitized
            .keys()
            .filter_map(|k| {
                let (new, old) = (post.get(k).cloned(), pre_cmp.get(k).cloned());
                (new != old).then(|| (k.clone(), json!({"new": new, "old": old})))
            })
            .collect()
    };
    changed(name, format!("Configured package repo '{name}'"), changes)
}

/// `clean_file`: the file holds lines other than this repository's.
fn has_stale_lines(c: &StateCall<'_>, kw: &Map<String, Value>, name: &str) -> bool {
    let Some(file) = kw.get("file").map(text) else {
        return false;
    };
    if !call(c.host, "file.file_exists", vec![json!(file)], &[]).is_ok_and(|v| truthy(&v)) {
        return false;
    }
    let Ok(content) = call(c.host, "file.read", vec![json!(file)], &[]) else {
        return false;
    };
    text(&content)
        .lines()
        .map(str::trim)
        .any(|l| !l.is_empty() && !l.starts_with('#') && l != name.trim())
}

/// Salt's comparison loop: every wanted key matches what is configured.
fn already_configured(
    sanitized: &Map<String, Value>,
    pre: &Map<String, Value>,
    kw: &Map<String, Value>,
) -> bool {
    use brine_common::output::python::to_str;
    for (key, want) in sanitized {
        let Some(have) = pre.get(key) else {
            if matches!(key.as_str(), "comps" | "key_url" | "enabled") {
                return false;
            }
            continue;
        };
        let same = match key.as_str() {
            "comps" | "key_url" => sorted_words(want) == sorted_words(have),
            "line" => {
                let disabled = sanitized.get("disabled").is_some_and(truthy);
                disabled || same_line(&text(want), &text(have), kw)
            }
            "architectures" if truthy(want) => {
                let set = |v: &Value| {
                    let mut w = sorted_words(v);
                    w.dedup();
                    w
                };
                set(want) == set(have)
            }
            _ => to_str(want) == to_str(have),
        };
        if !same {
            return false;
        }
    }
    true
}

fn sorted_words(v: &Value) -> Vec<String> {
    let mut words: Vec<String> = match v {
        Value::Array(a) => a.iter().map(text).collect(),
        other => text(other).chars().map(String::from).collect(),
    };
    words.sort();
    words
}

/// Two source lines alike up to the order of the words after the third,
/// and with the same trailing comment when `comments` is given.
fn same_line(want: &str, have: &str, kw: &Map<String, Value>) -> bool {
    let words = |s: &str| {
        let mut w: Vec<String> = s.split_whitespace().map(String::from).collect();
        if w.len() > 3 {
            w[3..].sort();
        }
        w
    };
    let (have_line, have_comment) = have.split_once('#').unwrap_or((have, ""));
    if words(want) != words(have_line.trim()) {
        return false;
    }
    match kw.get("comments") {
        Some(comments) => combine_comments(comments) == have_comment.trim(),
        None => true,
    }
}

/// Salt's `combine_comments`: one line of text from a comment or a list.
fn combine_comments(v: &Value) -> String {
    match v {
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(" "),
        other => text(other),
    }
    .trim()
    .to_string()
}

/// `{key: {new, old}}` for the keys whose values differ.
fn diff(new: &Map<String, Value>, old: &Map<String, Value>) -> Map<String, Value> {
    new.iter()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .map(|(k, v)| {
            (
                k.clone(),
                json!({"new": v, "old": old.get(k).cloned().unwrap_or(Value::Null)}),
            )
        })
        .collect()
}

/// `pkgrepo.absent`.
fn absent(c: &StateCall<'_>) -> StateResult {
    let mut name = name_of(c).to_string();
    let mut kw = user_kwargs(c);
    if let Some(ppa) = kw.shift_remove("ppa").filter(|v| !v.is_null())
        && matches!(grain(c, "os").as_str(), "Ubuntu" | "Mint")
    {
        let ppa = text(&ppa);
        name = if ppa.starts_with("ppa:") {
            ppa
        } else {
            format!("ppa:{ppa}")
        };
    }
    let name = name.as_str();
    let remove_key = ["keyid", "keyid_ppa"]
        .iter()
        .any(|k| kw.get(*k).is_some_and(|v| !v.is_null()));
    if remove_key && !c.host.has_function("pkg.del_repo_key") {
        return StateResult::fail(
            name,
            "Repo key management is not implemented for this platform",
        );
    }
    let stripname = debsources::strip_uri(name);
    let repo = match pkg_call(c, "pkg.get_repo", vec![json!(stripname)], kw.clone()) {
        Ok(Value::Object(m)) => m,
        Ok(_) => Map::new(),
        Err(e) => {
            return StateResult::fail(name, format!("Failed to configure repo '{name}': {e}"));
        }
    };
    // A match of other architectures is no match (Salt's check).
    let wanted_arches = debsources::split_repo(&stripname)
        .map(|e| e.architectures)
        .unwrap_or_default();
    let same_arches = |found: &Map<String, Value>| {
        let mut a = wanted_arches.clone();
        let mut b = super::strings(found.get("architectures").unwrap_or(&Value::Null));
        a.sort();
        a.dedup();
        b.sort();
        b.dedup();
        a == b
    };
    if repo.is_empty() || !same_arches(&repo) {
        return StateResult::ok(name, format!("Package repo {name} is absent"));
    }
    if c.test {
        return pending(
            name,
            format!(
                "Package repo '{name}' will be removed. This may cause pkg states to behave differently than stated if this action is repeated without test=True, due to the differences in the configured repositories."
            ),
            Map::new(),
        );
    }
    kw.insert("name".into(), json!(name));
    if let Err(e) = pkg_call(c, "pkg.del_repo", vec![json!(stripname)], kw.clone()) {
        return StateResult::fail(name, e);
    }
    let repos = pkg_call(c, "pkg.list_repos", vec![], Map::new()).unwrap_or(Value::Null);
    if repos.get(&stripname).is_some() {
        return StateResult::fail(name, format!("Failed to remove repo {name}"));
    }
    let changes = super::one("repo", json!(name));
    if !remove_key {
        return changed(name, format!("Removed repo {name}"), changes);
    }
    match pkg_call(c, "pkg.del_repo_key", vec![json!(stripname)], kw) {
        Ok(keyid) => {
            let mut changes = changes;
            changes.insert("keyid".into(), keyid.clone());
            changed(
                name,
                format!("Removed repo {name}, and keyid {}", text(&keyid)),
                changes,
            )
        }
        Err(e) => StateResult {
            changes,
            ..StateResult::fail(
                name,
                format!("Removed repo {name}, but failed to remove key: {e}"),
            )
        },
    }
}

#[cfg(test)]
mod tests;
