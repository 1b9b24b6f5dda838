//! Gathering SLS files into one high data: rendering, `include` (absolute,
//! relative `.name` / `..name`, `saltenv:name`), `extend`, `exclude`, the
//! `module.function` shorthand and Salt's automatic order (`state_auto_order`:
//! every state declaration without `order` gets the next number from 10000,
//! included files before the file that includes them).

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::{CompileError, HighData};
use crate::host::StateHost;
use crate::render::{SlsSource, render_sls};

/// The first automatic order number (Salt's `iorder`).
pub const AUTO_ORDER_START: i64 = 10000;

/// The requisites that `extend` merges instead of replacing.
const REQUISITE_KEYS: &[&str] = &[
    "require",
    "require_any",
    "watch",
    "watch_any",
    "onchanges",
    "onchanges_any",
    "onfail",
    "onfail_any",
    "onfail_all",
    "prereq",
    "use",
    "listen",
];

/// Collects SLS files into high data.
pub struct Gatherer<'a> {
    host: &'a dyn StateHost,
    high: HighData,
    extends: Vec<(String, String, Map<String, Value>)>,
    excludes: Vec<Value>,
    seen: HashSet<(String, String)>,
    iorder: i64,
    errors: Vec<String>,
}

impl<'a> Gatherer<'a> {
    pub fn new(host: &'a dyn StateHost) -> Self {
        Gatherer {
            host,
            high: Map::new(),
            extends: Vec::new(),
            excludes: Vec::new(),
            seen: HashSet::new(),
            iorder: AUTO_ORDER_START,
            errors: Vec::new(),
        }
    }

    /// Render one SLS (and what it includes) into the high data.
    pub fn add(&mut self, saltenv: &str, sls: &str) {
        if !self.seen.insert((saltenv.to_string(), sls.to_string())) {
            return;
        }
        let Some((path, text)) = self.find(saltenv, sls) else {
            return;
        };
        let source = SlsSource {
            saltenv,
            sls,
            path: &path,
        };
        let data = match render_sls(self.host, &source, &text) {
            Ok(Value::Object(map)) => map,
            Ok(Value::Null) => return,
            Ok(_) => {
                self.errors.push(format!(
                    "SLS '{saltenv}:{sls}' does not render to a dictionary"
                ));
                return;
            }
            Err(e) => {
                self.errors.push(e.to_string());
                return;
            }
        };
        self.add_rendered(
            saltenv,
            sls,
            path.ends_with("/init.sls") || path == "init.sls",
            data,
        );
    }

    /// Locate `a.b` as `a/b.sls` or `a/b/init.sls`.
    fn find(&mut self, saltenv: &str, sls: &str) -> Option<(String, String)> {
        let base = sls.replace('.', "/");
        for path in [format!("{base}.sls"), format!("{base}/init.sls")] {
            match self.host.read_file(saltenv, &path) {
                Ok(Some(bytes)) => {
                    return Some((path, String::from_utf8_lossy(&bytes).into_owned()));
                }
                Ok(None) => {}
                Err(e) => {
                    self.errors.push(format!(
                        "Could not read '{path}' in saltenv '{saltenv}': {e}"
                    ));
                    return None;
                }
            }
        }
        self.errors.push(format!(
            "No matching sls found for '{sls}' in env '{saltenv}'"
        ));
        None
    }

    fn add_rendered(
        &mut self,
        saltenv: &str,
        sls: &str,
        is_init: bool,
        mut data: Map<String, Value>,
    ) {
        if let Some(includes) = data.remove("include") {
            for (env, name) in self.include_targets(saltenv, sls, is_init, &includes) {
                self.add(&env, &name);
            }
        }
        if let Some(extend) = data.remove("extend") {
            match extend {
                Value::Object(ext) => {
                    self.extends
                        .push((saltenv.to_string(), sls.to_string(), ext))
                }
                _ => self
                    .errors
                    .push(format!("Extension data in SLS '{sls}' is not a dictionary")),
            }
        }
        if let Some(exclude) = data.remove("exclude") {
            match exclude {
                Value::Array(list) => self.excludes.extend(list),
                other => self.excludes.push(other),
            }
        }
        for (id, body) in data {
            self.add_id(saltenv, sls, id, body);
        }
    }

    /// The `(saltenv, sls)` pairs an `include:` list names.
    fn include_targets(
        &mut self,
        saltenv: &str,
        sls: &str,
        is_init: bool,
        includes: &Value,
    ) -> Vec<(String, String)> {
        let Some(list) = includes.as_array() else {
            self.errors.push(format!(
                "Include declaration in SLS '{sls}' is not formed as a list"
            ));
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in list {
            let (mut env, name) = match item {
                Value::String(s) => match s.split_once(':') {
                    Some((e, n)) => (e.to_string(), n.to_string()),
                    None => (saltenv.to_string(), s.clone()),
                },
                Value::Object(o) => match o.iter().next() {
                    Some((n, opts)) => {
                        let env = opts
                            .get("saltenv")
                            .and_then(Value::as_str)
                            .unwrap_or(saltenv);
                        (env.to_string(), n.clone())
                    }
                    None => continue,
                },
                _ => {
                    self.errors
                        .push(format!("Invalid include in SLS '{sls}': {item}"));
                    continue;
                }
            };
            if env.is_empty() {
                env = saltenv.to_string();
            }
            match resolve_relative(sls, is_init, &name) {
                Some(resolved) => out.push((env, resolved)),
                None => self.errors.push(format!(
                    "Attempted relative include of '{name}' within SLS '{saltenv}:{sls}' goes beyond top level package"
                )),
            }
        }
        out
    }

    /// Normalise one id declaration and add it (with its auto order).
    fn add_id(&mut self, saltenv: &str, sls: &str, id: String, body: Value) {
        let body = match body {
            Value::Object(map) => map,
            // `vim: pkg.installed`
            Value::String(fun) => Map::from_iter([(fun, Value::Array(Vec::new()))]),
            _ => {
                self.errors
                    .push(format!("ID '{id}' in SLS '{sls}' is not a dictionary"));
                return;
            }
        };
        if let Some(existing) = self.high.get(&id) {
            let other = existing
                .get("__sls__")
                .and_then(Value::as_str)
                .unwrap_or_default();
            self.errors.push(format!(
                "Detected conflicting IDs, SLS IDs need to be globally unique.\n    The conflicting ID is '{id}' and is found in SLS '{saltenv}:{other}' and SLS '{saltenv}:{sls}'"
            ));
            return;
        }
        let mut decls = match normalise_decls(&id, sls, body) {
            Ok(decls) => decls,
            Err(e) => {
                self.errors.push(e);
                return;
            }
        };
        for (_, args) in decls.iter_mut() {
            if let Value::Array(list) = args {
                let has_order = list
                    .iter()
                    .any(|a| a.as_object().is_some_and(|o| o.contains_key("order")));
                if !has_order {
                    list.push(Value::Object(Map::from_iter([(
                        "order".to_string(),
                        Value::from(self.iorder),
                    )])));
                    self.iorder += 1;
                }
            }
        }
        decls.insert("__sls__".into(), Value::String(sls.to_string()));
        decls.insert("__env__".into(), Value::String(saltenv.to_string()));
        self.high.insert(id, Value::Object(decls));
    }

    /// Apply `extend` and `exclude` and return the high data, or every error found.
    pub fn finish(mut self) -> Result<HighData, CompileError> {
        for (env, sls, ext) in std::mem::take(&mut self.extends) {
            for (id, body) in ext {
                self.extend_one(&env, &sls, &id, body);
            }
        }
        self.apply_excludes();
        if self.errors.is_empty() {
            Ok(self.high)
        } else {
            Err(CompileError::new(self.errors))
        }
    }

    fn extend_one(&mut self, env: &str, sls: &str, id: &str, body: Value) {
        let decls = match body {
            Value::Object(map) => normalise_decls(id, sls, map),
            _ => Err(format!(
                "Extension of '{id}' in SLS '{sls}' is not a dictionary"
            )),
        };
        let decls = match decls {
            Ok(d) => d,
            Err(e) => {
                self.errors.push(e);
                return;
            }
        };
        let Some(Value::Object(target)) = self.high.get_mut(id) else {
            self.errors.push(format!(
                "Cannot extend ID '{id}' in '{env}:{sls}'. It is not part of the high state.\nThis is likely due to a missing include statement or an incorrectly typed ID.\nEnsure that a state with an ID of '{id}' is available\nin environment '{env}' and to SLS '{sls}'"
            ));
            return;
        };
        for (state, args) in decls {
            let new_args = args.as_array().cloned().unwrap_or_default();
            match target.get_mut(&state) {
                Some(Value::Array(existing)) => merge_args(existing, new_args),
                _ => {
                    target.insert(state, Value::Array(new_args));
                }
            }
        }
    }

    fn apply_excludes(&mut self) {
        let mut ex_sls = Vec::new();
        let mut ex_id = Vec::new();
        for exc in std::mem::take(&mut self.excludes) {
            match exc {
                Value::String(s) => ex_sls.push(s),
                Value::Object(o) => {
                    if let Some(s) = o.get("sls").and_then(Value::as_str) {
                        ex_sls.push(s.to_string());
                    }
                    if let Some(i) = o.get("id").and_then(Value::as_str) {
                        ex_id.push(i.to_string());
                    }
                }
                _ => {}
            }
        }
        self.high.retain(|id, body| {
            let sls = body
                .get("__sls__")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let by_sls = ex_sls.iter().any(|p| {
                brine_common::target::Fnmatch::new(p)
                    .map(|g| g.is_match(sls))
                    .unwrap_or(p == sls)
            });
            !by_sls && !ex_id.iter().any(|e| e == id)
        });
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

/// `file.managed: [...]` becomes `file: [..., "managed"]`; a `null` body an empty list.
fn normalise_decls(
    id: &str,
    sls: &str,
    body: Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (key, args) in body {
        if key.starts_with("__") {
            out.insert(key, args);
            continue;
        }
        let mut list = match args {
            Value::Array(list) => list,
            Value::Null => Vec::new(),
            _ => {
                return Err(format!(
                    "The type {key} in {id} in SLS '{sls}' is not formatted as a list"
                ));
            }
        };
        let module = match key.split_once('.') {
            Some((module, fun)) => {
                list.push(Value::String(fun.to_string()));
                module.to_string()
            }
            None => key,
        };
        match out.get_mut(&module) {
            Some(Value::Array(existing)) => existing.extend(list),
            _ => {
                out.insert(module, Value::Array(list));
            }
        }
    }
    Ok(out)
}

/// Salt's `reconcile_extend` for one state declaration: a function replaces
/// the function, a requisite list is appended to, any other argument replaced.
fn merge_args(existing: &mut Vec<Value>, new_args: Vec<Value>) {
    for arg in new_args {
        let pos = match &arg {
            Value::String(_) => existing.iter().position(Value::is_string),
            Value::Object(o) => o.keys().next().and_then(|k| {
                existing
                    .iter()
                    .position(|e| e.as_object().is_some_and(|eo| eo.contains_key(k)))
            }),
            _ => None,
        };
        match (pos, arg) {
            (Some(i), Value::Object(o)) => {
                let key = o.keys().next().cloned().unwrap_or_default();
                let merge_list = REQUISITE_KEYS.contains(&key.as_str());
                match (&mut existing[i], o.get(&key)) {
                    (Value::Object(eo), Some(Value::Array(add))) if merge_list => {
                        if let Some(Value::Array(list)) = eo.get_mut(&key) {
                            list.extend(add.iter().cloned());
                        }
                    }
                    (slot, _) => *slot = Value::Object(o),
                }
            }
            (Some(i), arg) => existing[i] = arg,
            (None, arg) => existing.push(arg),
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
