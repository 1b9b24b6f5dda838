//! Gathering SLS files into one high data, as Salt's `render_highstate` and
//! `render_state` do: each SLS is rendered, its own ids come first, then the
//! ids of what it includes (each marked with `__sls_included_from__`, the
//! SLS names that pulled it in, innermost first). `extend` and `exclude` are
//! kept raw as `__extend__` / `__exclude__` (applied later, by
//! [`super::extend`]); the `module.function` shorthand is split; and Salt's
//! automatic order (`state_auto_order`) gives every state declaration
//! without `order` the next number from 10000, after the files it includes.
//!
//! Include forms: `name`, `.name` / `..name` (relative to the including SLS;
//! an `init.sls` counts as its package), `{saltenv: name}`, `{_xenv: name}`
//! and globs matched against the environment's SLS names. A string is never
//! split at `:` (`'prod:thing'` is an SLS named so, as in Salt).

use std::collections::{HashMap, HashSet};

use brine_common::ids::{SaltEnv, SlsName};
use brine_common::output::python;
use brine_common::target::Fnmatch;
use brine_common::typed_key::{key_as_value, python_str_key};
use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::HighData;
use super::verify::NON_STRING_ID;
use crate::host::StateHost;
use crate::render::{SlsSource, render_sls_with_key_types};
use brine_common::yaml::NonStringKey;

/// The first automatic order number (Salt's `iorder`).
pub const AUTO_ORDER_START: i64 = 10000;

/// SLS names per environment, as a top file or `state.sls` asks for them.
pub type Matches = IndexMap<String, Vec<String>>;

/// Salt's `render_highstate`: the high data of `matches` and every error found.
pub fn render_highstate(host: &dyn StateHost, matches: &Matches) -> (HighData, Vec<String>) {
    let mut gatherer = Gatherer::new(host, matches);
    let mut high = HighData::new();
    let mut all_errors = Vec::new();
    for (saltenv, mods) in matches {
        for sls_match in mods {
            let found = gatherer.available(saltenv, sls_match);
            let statefiles = if found.is_empty() {
                vec![sls_match.clone()]
            } else {
                found
            };
            for sls in statefiles {
                if gatherer.mods.contains(&format!("{saltenv}:{sls}")) {
                    continue;
                }
                let (state, mut errors) = gatherer.render_state(&sls, saltenv);
                if let Some(state) = state {
                    merge_included_states(&mut high, state, &mut errors);
                }
                let this_sls = format!("SLS {sls_match} in saltenv");
                for e in errors.iter_mut() {
                    if e.contains("is not available") && e.contains(&this_sls) {
                        *e = format!("No matching sls found for '{sls_match}' in env '{saltenv}'");
                    }
                }
                all_errors.extend(errors);
            }
        }
    }
    clean_duplicate_extends(&mut high);
    (high, all_errors)
}

/// Renders SLS files once each (`mods`), numbering states as it goes.
struct Gatherer<'a> {
    host: &'a dyn StateHost,
    matches: &'a Matches,
    /// `saltenv:sls` already rendered.
    mods: HashSet<String>,
    /// Salt's `avail`: the SLS names of each environment.
    avail: HashMap<String, Vec<String>>,
    envs: Vec<String>,
    iorder: i64,
}

impl<'a> Gatherer<'a> {
    fn new(host: &'a dyn StateHost, matches: &'a Matches) -> Self {
        Gatherer {
            host,
            matches,
            mods: HashSet::new(),
            avail: HashMap::new(),
            envs: host.environments().iter().map(SaltEnv::to_string).collect(),
            iorder: AUTO_ORDER_START,
        }
    }

    /// The SLS names of `saltenv` matching the glob `pattern` (Salt's `fnmatch.filter(avail[env], ..)`).
    fn available(&mut self, saltenv: &str, pattern: &str) -> Vec<String> {
        let host = self.host;
        // A plain name matches only itself, and when its file is there
        // that is the answer, without listing the whole environment (a
        // formula checkout with its `.git` is hundreds of files). When it
        // is not, the listing decides: it also names `a.b` after a file
        // called `a.b.sls`.
        if !pattern.contains(['*', '?', '['])
            && !self.avail.contains_key(saltenv)
            && sls_exists(host, saltenv, pattern)
        {
            return vec![pattern.to_string()];
        }
        let names = self
            .avail
            .entry(saltenv.to_string())
            .or_insert_with(|| list_states(host, saltenv));
        names
            .iter()
            .filter(|n| glob_match(pattern, n))
            .cloned()
            .collect()
    }

    /// Salt's `render_state`: the state of one SLS with what it includes
    /// (`None` when there is nothing to merge) and its errors.
    fn render_state(&mut self, sls: &str, saltenv: &str) -> (Option<Value>, Vec<String>) {
        let mut errors = Vec::new();
        // A name that is not a valid SLS name names no file: "not available".
        let found = SlsName::parse(sls)
            .ok()
            .and_then(|name| find_sls(self.host, saltenv, &name, &mut errors));
        let Some((path, text)) = found else {
            if errors.is_empty() {
                errors.push(format!(
                    "Specified SLS {sls} in saltenv {saltenv} is not available on the salt master or through a configured fileserver"
                ));
            }
            return (None, errors);
        };
        let source = SlsSource {
            saltenv,
            sls,
            path: &path,
        };
        let rendered = render_sls_with_key_types(self.host, &source, &text);
        self.mods.insert(format!("{saltenv}:{sls}"));
        let (rendered, key_types) = match rendered {
            Ok((data, key_types)) => (Ok(data), key_types),
            Err(e) => (Err(e), Vec::new()),
        };
        let state = match rendered {
            Ok(Value::Object(map)) => map,
            Ok(v) if !python::truthy(&v) => return (None, errors),
            Ok(other) => {
                errors.push(format!("SLS {sls} does not render to a dictionary"));
                return (Some(other), errors);
            }
            Err(e) => {
                errors.push(e.to_string());
                return (None, errors);
            }
        };
        if state.is_empty() {
            return (None, errors);
        }
        let is_init = path.ends_with("/init.sls") || path == "init.sls";
        let mut state = self.expand(state, sls, saltenv, is_init, &mut errors);
        mark_non_string_ids(&mut state, &key_types);
        (Some(Value::Object(state)), errors)
    }

    /// Extend, exclude, state declarations, includes and auto order of one rendered SLS.
    fn expand(
        &mut self,
        mut state: Map<String, Value>,
        sls: &str,
        saltenv: &str,
        is_init: bool,
        errors: &mut Vec<String>,
    ) -> Map<String, Value> {
        let include = match state.get("include") {
            Some(Value::Array(_)) => match state.shift_remove("include") {
                Some(Value::Array(list)) => list,
                _ => Vec::new(),
            },
            Some(_) => {
                errors.push(format!(
                    "Include Declaration in SLS {sls} is not formed as a list"
                ));
                Vec::new()
            }
            None => Vec::new(),
        };
        handle_extend(&mut state, sls, saltenv, errors);
        handle_exclude(&mut state, sls, errors);
        handle_state_decls(&mut state, sls, saltenv, errors);
        for inc in include {
            self.include_one(&mut state, inc, sls, saltenv, is_init, errors);
        }
        self.handle_iorder(&mut state);
        state
    }

    /// One `include:` entry: render what it names and merge it into `state`.
    fn include_one(
        &mut self,
        state: &mut Map<String, Value>,
        inc: Value,
        sls: &str,
        saltenv: &str,
        is_init: bool,
        errors: &mut Vec<String>,
    ) {
        let (env_key, mut inc_sls) = match inc {
            Value::Object(o) => match o.into_iter().next_back() {
                Some((env, name)) => (env, python::to_str(&name)),
                None => return,
            },
            other => (saltenv.to_string(), python::to_str(&other)),
        };
        if !self.envs.iter().any(|e| *e == env_key || e == "__env__") && env_key != "_xenv" {
            errors.push(format!(
                "Nonexistent saltenv '{env_key}' found in include of '{inc_sls}' within SLS '{saltenv}:{sls}'"
            ));
            return;
        }
        if inc_sls.starts_with('.') {
            match resolve_relative(sls, is_init, &inc_sls) {
                Some(resolved) => inc_sls = resolved,
                None => {
                    errors.push(format!(
                        "Attempted relative include of '{inc_sls}' within SLS '{saltenv}:{sls}' goes beyond top level package "
                    ));
                    return;
                }
            }
        }
        let resolved_envs: Vec<String> = if env_key == "_xenv" {
            let envs: Vec<String> = self.matches.keys().cloned().collect();
            envs.into_iter()
                .filter(|e| !self.available(e, &inc_sls).is_empty())
                .collect()
        } else if self.matches.contains_key(&env_key)
            || !self.available(&env_key, &inc_sls).is_empty()
        {
            vec![env_key.clone()]
        } else {
            Vec::new()
        };
        if resolved_envs.len() != 1 && !resolved_envs.iter().any(|e| e == saltenv) {
            errors.push(unresolved_include(
                &env_key,
                &inc_sls,
                &resolved_envs,
                self.matches,
            ));
            return;
        }
        let r_env = if resolved_envs.len() == 1 {
            resolved_envs[0].clone()
        } else {
            saltenv.to_string()
        };
        let mut targets = self.available(saltenv, &inc_sls);
        if targets.is_empty() {
            targets.push(inc_sls);
        }
        for target in targets {
            if self.mods.contains(&format!("{r_env}:{target}")) {
                continue;
            }
            let (nstate, err) = self.render_state(&target, &r_env);
            if let Some(mut nstate) = nstate {
                mark_included_from(&mut nstate, sls);
                merge_included_states(state, nstate, errors);
            }
            errors.extend(err);
        }
    }

    /// Salt's `_handle_iorder`: number every declaration without an `order`.
    fn handle_iorder(&mut self, state: &mut Map<String, Value>) {
        for body in state.values_mut() {
            let Value::Object(body) = body else { continue };
            for (key, args) in body.iter_mut() {
                if key.starts_with('_') {
                    continue;
                }
                let Value::Array(list) = args else { continue };
                let found = list.iter().any(|a| {
                    a.as_object()
                        .and_then(|o| o.keys().next())
                        .is_some_and(|k| k == "order")
                });
                if !found {
                    list.push(Value::Object(Map::from_iter([(
                        "order".to_string(),
                        Value::from(self.iorder),
                    )])));
                    self.iorder += 1;
                }
            }
        }
    }
}

/// Locate `a.b` as `a/b.sls` or `a/b/init.sls`: its path and text.
fn find_sls(
    host: &dyn StateHost,
    saltenv: &str,
    sls: &SlsName,
    errors: &mut Vec<String>,
) -> Option<(String, String)> {
    let env = SaltEnv::parse(saltenv).map_err(|e| e.to_string());
    for path in sls.candidate_files() {
        let read = env.as_ref().map_err(Clone::clone);
        match read.and_then(|env| host.read_file(env, &path)) {
            Ok(Some(bytes)) => {
                return Some((
                    path.to_string(),
                    String::from_utf8_lossy(&bytes).into_owned(),
                ));
            }
            Ok(None) => {}
            Err(e) => {
                errors.push(format!(
                    "Could not read '{path}' in saltenv '{saltenv}': {e}"
                ));
                return None;
            }
        }
    }
    None
}

/// Whether `saltenv` has the SLS `name` (`a/b.sls` or `a/b/init.sls`): a
/// file that is there but cannot be read counts, as a listing shows it.
fn sls_exists(host: &dyn StateHost, saltenv: &str, name: &str) -> bool {
    let (Ok(saltenv), Ok(name)) = (SaltEnv::parse(saltenv), SlsName::parse(name)) else {
        return false;
    };
    name.candidate_files()
        .iter()
        .any(|path| !matches!(host.read_file(&saltenv, path), Ok(None)))
}

/// Salt's `list_states`: every SLS name of an environment, sorted.
/// An environment name that is not a valid [`SaltEnv`] has none.
fn list_states(host: &dyn StateHost, saltenv: &str) -> Vec<String> {
    let Ok(saltenv) = SaltEnv::parse(saltenv) else {
        return Vec::new();
    };
    let mut names: Vec<String> = host
        .list_files(&saltenv)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| SlsName::from_file(p.as_str()).map(|name| name.to_string()))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn glob_match(pattern: &str, text: &str) -> bool {
    pattern == text || Fnmatch::new(pattern).is_ok_and(|g| g.is_match(text))
}

/// Salt's message for an include no environment (or more than one) provides.
fn unresolved_include(
    env_key: &str,
    inc_sls: &str,
    resolved: &[String],
    matches: &Matches,
) -> String {
    if resolved.is_empty() {
        let envs = if env_key == "_xenv" {
            matches.keys().cloned().collect::<Vec<_>>().join(", ")
        } else {
            env_key.to_string()
        };
        format!(
            "Unknown include: Specified SLS {env_key}: {inc_sls} is not available on the salt master in saltenv(s): {envs} "
        )
    } else {
        format!(
            "Ambiguous include: Specified SLS {env_key}: {inc_sls} is available on the salt master in multiple available saltenvs: {}",
            resolved.join(", ")
        )
    }
}

/// Append `sls` to `__sls_included_from__` of every id of an included state.
fn mark_included_from(nstate: &mut Value, sls: &str) {
    let Value::Object(ids) = nstate else { return };
    for (id, body) in ids.iter_mut() {
        if id.starts_with("__") {
            continue;
        }
        if let Value::Object(body) = body {
            let from = body
                .entry("__sls_included_from__")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = from {
                list.push(Value::String(sls.to_string()));
            }
        }
    }
}

/// Salt's `merge_included_states`: `__extend__`/`__exclude__` appended, ids
/// added (an id defined differently twice is a conflict).
fn merge_included_states(high: &mut Map<String, Value>, state: Value, errors: &mut Vec<String>) {
    let Value::Object(mut state) = state else {
        errors.push(format!(
            "Error when rendering state with contents: {}",
            // Salt formats it with str(): a string without its quotes.
            python::to_str(&state)
        ));
        return;
    };
    for key in ["__extend__", "__exclude__"] {
        if let Some(Value::Array(add)) = state.shift_remove(key)
            && let Value::Array(list) = high.entry(key).or_insert_with(|| Value::Array(Vec::new()))
        {
            list.extend(add);
        }
    }
    for (id, body) in &state {
        if let Some(existing) = high.get(id)
            && existing != body
        {
            let field = |v: &Value, k: &str| v.get(k).map(python::to_str).unwrap_or_default();
            let id = python_str_key(id);
            errors.push(format!(
                "Detected conflicting IDs, SLS IDs need to be globally unique.\n    The conflicting ID is '{id}' and is found in SLS '{}:{}' and SLS '{}:{}'",
                field(existing, "__env__"),
                field(existing, "__sls__"),
                field(body, "__env__"),
                field(body, "__sls__"),
            ));
        }
    }
    for (id, body) in state {
        high.insert(id, body);
    }
}

/// Salt's `clean_duplicate_extends`: one `{id: body}` per distinct extension.
fn clean_duplicate_extends(high: &mut Map<String, Value>) {
    let Some(Value::Array(exts)) = high.get("__extend__") else {
        return;
    };
    let mut items: Vec<(String, Value)> = Vec::new();
    for ext in exts.iter().filter_map(Value::as_object) {
        for (id, body) in ext {
            let item = (id.clone(), body.clone());
            if !items.contains(&item) {
                items.push(item);
            }
        }
    }
    let cleaned = items
        .into_iter()
        .map(|(id, body)| Value::Object(Map::from_iter([(id, body)])))
        .collect();
    high.insert("__extend__".into(), Value::Array(cleaned));
}

/// Salt's `_handle_extend`: `extend:` moves to `__extend__`, each body marked
/// with its SLS and saltenv and its `module.function` keys split.
fn handle_extend(
    state: &mut Map<String, Value>,
    sls: &str,
    saltenv: &str,
    errors: &mut Vec<String>,
) {
    let Some(ext) = state.shift_remove("extend") else {
        return;
    };
    let Value::Object(mut ext) = ext else {
        errors.push(format!(
            "Extension value in SLS '{sls}' is not a dictionary"
        ));
        return;
    };
    for (name, body) in ext.iter_mut() {
        let Value::Object(body) = body else {
            errors.push(format!(
                "Extension name '{name}' in SLS '{sls}' is not a dictionary"
            ));
            continue;
        };
        body.entry("__sls__")
            .or_insert_with(|| Value::String(sls.into()));
        body.entry("__env__")
            .or_insert_with(|| Value::String(saltenv.into()));
        let keys: Vec<String> = body.keys().cloned().collect();
        for key in keys {
            if key.starts_with('_') || !body[&key].is_array() {
                continue;
            }
            if let Some((module, fun)) = split_dotted(&key)
                && let Some(Value::Array(mut list)) = body.shift_remove(&key)
            {
                list.push(Value::String(fun));
                body.insert(module, Value::Array(list));
            }
        }
    }
    if let Value::Array(list) = state
        .entry("__extend__")
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        list.push(Value::Object(ext));
    }
}

/// Salt's `_handle_exclude`: `exclude:` moves to `__exclude__`.
fn handle_exclude(state: &mut Map<String, Value>, sls: &str, errors: &mut Vec<String>) {
    let Some(exc) = state.shift_remove("exclude") else {
        return;
    };
    // Python's `list.extend` of a non-list: a string's characters, a dict's keys.
    let items: Vec<Value> = match exc {
        Value::Array(list) => list,
        other => {
            errors.push(format!(
                "Exclude Declaration in SLS {sls} is not formed as a list"
            ));
            match other {
                Value::String(s) => s.chars().map(|c| Value::String(c.into())).collect(),
                Value::Object(o) => o.keys().map(|k| key_as_value(k)).collect(),
                _ => Vec::new(),
            }
        }
    };
    if let Value::Array(list) = state
        .entry("__exclude__")
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        list.extend(items);
    }
}

/// `module.function` as (`module`, `function`) (Salt keeps the second component only).
fn split_dotted(key: &str) -> Option<(String, String)> {
    let mut comps = key.split('.');
    let module = comps.next()?;
    let fun = comps.next()?;
    Some((module.to_string(), fun.to_string()))
}

/// Salt's `_handle_state_decls`: `vim: pkg.installed` padded, `pkg.installed:`
/// split into `pkg: [..., installed]`, `__sls__`/`__env__` added.
fn handle_state_decls(
    state: &mut Map<String, Value>,
    sls: &str,
    saltenv: &str,
    errors: &mut Vec<String>,
) {
    for (name, body) in state.iter_mut() {
        if name == "__extend__" || name == "__exclude__" {
            continue;
        }
        let Value::Object(decls) = body else {
            match body.as_str().and_then(split_dotted) {
                Some((module, fun)) => {
                    *body = Value::Object(Map::from_iter([
                        ("__sls__".to_string(), Value::String(sls.into())),
                        ("__env__".to_string(), Value::String(saltenv.into())),
                        (module, Value::Array(vec![Value::String(fun)])),
                    ]));
                }
                None => errors.push(format!(
                    "ID {} in SLS {sls} is not a dictionary",
                    python_str_key(name)
                )),
            }
            continue;
        };
        let mut skeys: HashSet<String> = HashSet::new();
        let keys: Vec<String> = decls.keys().cloned().collect();
        for key in keys {
            if key.starts_with('_') || !decls[&key].is_array() {
                continue;
            }
            let Some((module, fun)) = split_dotted(&key) else {
                skeys.insert(key);
                continue;
            };
            if skeys.contains(&module) {
                errors.push(format!(
                    "ID '{}' in SLS '{sls}' contains multiple state declarations of the same type",
                    python_str_key(name)
                ));
                continue;
            }
            if let Some(Value::Array(mut list)) = decls.shift_remove(&key) {
                list.push(Value::String(fun));
                decls.insert(module.clone(), Value::Array(list));
            }
            skeys.insert(module);
        }
        decls
            .entry("__sls__")
            .or_insert_with(|| Value::String(sls.into()));
        decls
            .entry("__env__")
            .or_insert_with(|| Value::String(saltenv.into()));
    }
}

/// `.name` / `..name` relative to the including SLS (an `init.sls` counts as
/// its package); absolute names unchanged. `None` when it climbs too high.
pub fn resolve_relative(sls: &str, is_init: bool, name: &str) -> Option<String> {
    let level = name.chars().take_while(|c| *c == '.').count();
    if level == 0 {
        return Some(name.to_string());
    }
    let mut comps: Vec<&str> = sls.split('.').collect();
    if is_init {
        comps.push("init");
    }
    if level > comps.len() {
        return None;
    }
    comps.truncate(comps.len() - level);
    let rest = &name[level..];
    if !rest.is_empty() {
        comps.push(rest);
    }
    (!comps.is_empty()).then(|| comps.join("."))
}
/// Mark the IDs the YAML renderer read as numbers, booleans or null, so that
/// `verify_high` refuses them as Salt does ("ID '123' ... is not formed as a
/// string"); our maps hold every key as a string.
fn mark_non_string_ids(state: &mut Map<String, Value>, key_types: &[NonStringKey]) {
    for key in key_types {
        if let Some(Value::Object(body)) = state.get_mut(&key.key) {
            body.insert(
                NON_STRING_ID.to_owned(),
                serde_json::json!({"type": key.type_name, "shown": key.shown}),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_includes_resolve_like_salt() {
        assert_eq!(resolve_relative("a.b", false, ".c").as_deref(), Some("a.c"));
        assert_eq!(
            resolve_relative("a.b", true, ".c").as_deref(),
            Some("a.b.c")
        );
        assert_eq!(resolve_relative("a.b", false, "..c").as_deref(), Some("c"));
        assert_eq!(resolve_relative("a", false, "..c"), None);
        assert_eq!(
            resolve_relative("a.b", false, "x.y").as_deref(),
            Some("x.y")
        );
    }
}
