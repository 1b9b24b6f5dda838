//! The passes Salt's `call_high` makes over high data before compiling it:
//! `reconcile_extend` (apply `__extend__`), `requisite_in` (every `X_in`,
//! `use` and `use_in` turned into extensions of the states they name) and
//! `apply_exclude` (drop `__exclude__`d ids and SLS files).

use brine_common::target::Fnmatch;
use brine_common::typed_key::python_str_key;
use serde_json::{Map, Value};

use super::HighData;
use super::verify::REQUISITE_KEYWORDS;

/// Salt's `reconcile_extend`: merge every `__extend__` body into its id.
/// `strict` (for `requisite_in`) finds ids by name only in the same module.
pub fn reconcile_extend(high: &mut HighData, strict: bool) -> Vec<String> {
    let mut errors = Vec::new();
    let Some(Value::Array(exts)) = high.shift_remove("__extend__") else {
        return errors;
    };
    for ext in exts {
        let Value::Object(ext) = ext else { continue };
        for (name, body) in ext {
            let Value::Object(body) = body else { continue };
            extend_one(high, name, body, strict, &mut errors);
        }
    }
    errors
}

fn extend_one(
    high: &mut HighData,
    mut name: String,
    body: Map<String, Value>,
    strict: bool,
    errors: &mut Vec<String>,
) {
    let state_type = body
        .keys()
        .find(|k| !k.starts_with("__"))
        .cloned()
        .unwrap_or_default();
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or("base")
            .to_string()
    };
    let (env, sls) = (field("__env__"), field("__sls__"));
    let known = high
        .get(&name)
        .and_then(Value::as_object)
        .is_some_and(|b| b.contains_key(&state_type));
    if !known {
        let ids = find_name(&name, &state_type, high, strict);
        if ids.len() != 1 {
            let name = python_str_key(&name);
            errors.push(format!(
                "Cannot extend ID '{name}' in '{env}:{sls}'. It is not part of the high state.\nThis is likely due to a missing include statement or an incorrectly typed ID.\nEnsure that a state with an ID of '{name}' is available\nin environment '{env}' and to SLS '{sls}'"
            ));
            return;
        }
        name = ids[0].0.clone();
    }
    if excluded_sls(high).contains(&sls) {
        return;
    }
    let Some(Value::Object(target)) = high.get_mut(&name) else {
        return;
    };
    for (state, run) in body {
        if state.starts_with("__") {
            continue;
        }
        let run = match run {
            Value::Array(list) => list,
            other => vec![other],
        };
        match target.get_mut(&state) {
            Some(Value::Array(existing)) => merge_args(existing, run),
            _ => {
                target.insert(state, Value::Array(run));
            }
        }
    }
}

/// The SLS names `__exclude__` lists (plain names and `sls:` entries).
fn excluded_sls(high: &HighData) -> Vec<String> {
    let Some(Value::Array(list)) = high.get("__exclude__") else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|e| match e {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("sls").and_then(Value::as_str).map(str::to_string),
            _ => None,
        })
        .collect()
}

/// Salt's merge of extension arguments: a function replaces the function, a
/// requisite list is appended to, any other argument replaced; `name`
/// replaces `names`; anything new is appended.
fn merge_args(existing: &mut Vec<Value>, run: Vec<Value>) {
    for arg in run {
        let mut update = false;
        for slot in existing.iter_mut() {
            match (&arg, &mut *slot) {
                (Value::String(_), Value::String(_)) => {
                    *slot = arg.clone();
                    update = true;
                }
                (Value::Object(new), Value::Object(old)) => {
                    let Some(argfirst) = new.keys().next() else {
                        continue;
                    };
                    let oldfirst = old.keys().next().cloned().unwrap_or_default();
                    if *argfirst == oldfirst {
                        match (old.get_mut(argfirst), new.get(argfirst)) {
                            (Some(Value::Array(list)), Some(Value::Array(add)))
                                if REQUISITE_KEYWORDS.contains(&argfirst.as_str()) =>
                            {
                                list.extend(add.iter().cloned());
                            }
                            _ => *slot = arg.clone(),
                        }
                        update = true;
                    } else if argfirst == "name" && oldfirst == "names" {
                        *slot = arg.clone();
                    }
                }
                _ => {}
            }
        }
        if !update {
            existing.push(arg);
        }
    }
}

/// Salt's `find_name`: the `(id, module)` pairs an extension of `name` reaches.
fn find_name(name: &str, state: &str, high: &HighData, strict: bool) -> Vec<(String, String)> {
    let body_of = |id: &str| high.get(id).and_then(Value::as_object);
    let check2 = !strict || body_of(name).is_some_and(|b| b.contains_key(state));
    if body_of(name).is_some() && check2 {
        return vec![(name.to_string(), state.to_string())];
    }
    if state == "sls" {
        return high
            .iter()
            .filter(|(_, b)| b.get("__sls__").and_then(Value::as_str) == Some(name))
            .filter_map(|(id, b)| {
                let first = b.as_object()?.keys().next()?.clone();
                Some((id.clone(), first))
            })
            .collect();
    }
    let mut out = Vec::new();
    for (id, body) in high {
        let Some(Value::Array(args)) = body.get(state) else {
            continue;
        };
        for arg in args.iter().filter_map(Value::as_object) {
            if arg.len() == 1 && arg.values().next().and_then(Value::as_str) == Some(name) {
                out.push((id.clone(), state.to_string()));
            }
        }
    }
    out
}

/// Salt's `apply_exclude`: drop the ids `__exclude__` names, directly
/// (`id:`) or by SLS (a plain name or `sls:`, globs allowed).
pub fn apply_exclude(high: &mut HighData) {
    let Some(Value::Array(exclude)) = high.shift_remove("__exclude__") else {
        return;
    };
    let mut ex_sls = Vec::new();
    let mut ex_id = Vec::new();
    for exc in exclude {
        match exc {
            Value::String(s) => ex_sls.push(s),
            Value::Object(o) if o.len() == 1 => match o.into_iter().next() {
                Some((k, v)) if k == "sls" => ex_sls.push(value_str(&v)),
                Some((k, v)) if k == "id" => ex_id.push(value_str(&v)),
                _ => {}
            },
            _ => {}
        }
    }
    high.retain(|id, body| {
        if id.starts_with("__") {
            return true;
        }
        let sls = body
            .get("__sls__")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let by_sls = !sls.is_empty()
            && ex_sls
                .iter()
                .any(|p| p == sls || Fnmatch::new(p).is_ok_and(|g| g.is_match(sls)));
        !by_sls && !ex_id.iter().any(|e| e == id)
    });
}

fn value_str(v: &Value) -> String {
    brine_common::output::python::to_str(v)
}

/// The requisites `requisite_in` turns around (and `use`, copied forward).
const REQ_IN: &[&str] = &[
    "require_in",
    "watch_in",
    "onfail_in",
    "onchanges_in",
    "use",
    "use_in",
    "prereq_in",
];

/// Arguments `use` / `use_in` never copy (besides those the state sets itself).
const REQ_IN_ALL: &[&str] = &[
    "require_in",
    "watch_in",
    "onfail_in",
    "onchanges_in",
    "use",
    "use_in",
    "prereq_in",
    "require",
    "watch",
    "prereq",
    "onfail",
    "onfail_stop",
    "onchanges",
    "name",
    "names",
];

/// The extensions `requisite_in` builds: id -> its extension body.
type Extend = Map<String, Value>;

/// Salt's `requisite_in`: build extensions from every `X_in` / `use` /
/// `use_in` argument and apply them with `reconcile_extend(strict)`.
pub fn requisite_in(high: &mut HighData) -> Vec<String> {
    let mut extend = Extend::new();
    let mut errors = Vec::new();
    for (id, body) in high.iter() {
        let Value::Object(body) = body else { continue };
        for (state, run) in body {
            if state.starts_with("__") {
                continue;
            }
            for arg in run
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
            {
                let Some((key, items)) = arg.iter().next() else {
                    continue;
                };
                if !REQ_IN.contains(&key.as_str()) {
                    continue;
                }
                let ctx = ReqIn {
                    high,
                    id,
                    state,
                    body,
                    key,
                };
                match items {
                    Value::Object(items) => ctx.single(items, &mut extend, &mut errors),
                    Value::Array(items) => ctx.list(items, &mut extend, &mut errors),
                    _ => {}
                }
            }
        }
    }
    high.insert(
        "__extend__".into(),
        Value::Array(
            extend
                .into_iter()
                .map(|(k, v)| Value::Object(Map::from_iter([(k, v)])))
                .collect(),
        ),
    );
    errors.extend(reconcile_extend(high, true));
    errors
}

/// One `X_in` / `use` argument of state `state` of id `id`.
struct ReqIn<'a> {
    high: &'a HighData,
    id: &'a str,
    state: &'a str,
    body: &'a Map<String, Value>,
    key: &'a str,
}

impl ReqIn<'_> {
    /// `require` for `require_in`.
    fn rkey(&self) -> &str {
        self.key.split('_').next().unwrap_or(self.key)
    }

    fn sls(&self) -> String {
        self.body
            .get("__sls__")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }

    /// `require_in: {module: id}`.
    fn single(&self, items: &Map<String, Value>, extend: &mut Extend, errors: &mut Vec<String>) {
        for (pstate, name) in items {
            let name = value_str(name);
            let mut pstate = pstate.as_str();
            if let Some(dot) = pstate.find('.') {
                errors.push(format!(
                    "Invalid requisite in {}: {pstate} for {name} in SLS '{}'. Requisites must not contain dots, did you mean '{}'?",
                    self.rkey(),
                    self.sls(),
                    &pstate[..dot]
                ));
                pstate = &pstate[..dot];
            }
            self.add_requisite(extend, &name, pstate);
        }
    }

    /// `require_in: [...]`; as in Salt, the targets found so far are
    /// revisited for every later entry.
    fn list(&self, items: &[Value], extend: &mut Extend, errors: &mut Vec<String>) {
        let mut hinges: Vec<(String, String)> = Vec::new();
        for item in items {
            let Some((pstate, pname)) = self.target_of(item) else {
                continue;
            };
            if pstate == "sls" {
                hinges = find_sls_ids(&pname, self.high);
            } else {
                hinges.push((pname.clone(), pstate.clone()));
            }
            if let Some(dot) = pstate.find('.') {
                errors.push(format!(
                    "Invalid requisite in {}: {pstate} for {pname}, in SLS '{}'. Requisites must not contain dots, did you mean '{}'?",
                    self.rkey(),
                    self.sls(),
                    &pstate[..dot]
                ));
            }
            for (name, tstate) in hinges.clone() {
                match self.key {
                    "use_in" => self.use_in(extend, &name, &tstate),
                    "use" => self.use_args(extend, &name, &tstate),
                    _ => self.add_requisite(extend, &name, &tstate),
                }
            }
        }
    }

    /// `(module, name)` of a list entry; a bare string is an id, or a `name:` of some state.
    fn target_of(&self, item: &Value) -> Option<(String, String)> {
        match item {
            Value::Object(o) => o.iter().next().map(|(k, v)| (k.clone(), value_str(v))),
            other => {
                let ind = value_str(other);
                if let Some(Value::Object(b)) = self.high.get(&ind) {
                    let first = b.keys().find(|k| !k.starts_with("__"))?;
                    return Some((first.clone(), ind));
                }
                let mut found = None;
                for (id, body) in self.high {
                    let Some(body) = body.as_object() else {
                        continue;
                    };
                    for (st, args) in body.iter().filter(|(k, _)| !k.starts_with("__")) {
                        for a in args
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_object)
                        {
                            if a.get("name").and_then(Value::as_str) == Some(ind.as_str()) {
                                found = Some((st.clone(), id.clone()));
                            }
                        }
                    }
                }
                found
            }
        }
    }

    /// Add `{rkey: [{state: id}]}` to the extension of `name`'s `tstate`.
    fn add_requisite(&self, extend: &mut Extend, name: &str, tstate: &str) {
        let ext = ext_body(extend, name);
        let list = ext
            .entry(tstate.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        let me = Value::Object(Map::from_iter([(
            self.state.to_string(),
            Value::String(self.id.to_string()),
        )]));
        let rkey = self.rkey().to_string();
        let mut found = false;
        if let Value::Array(list) = list {
            for entry in list.iter_mut().filter_map(Value::as_object_mut) {
                if entry.keys().next() == Some(&rkey)
                    && let Some(Value::Array(reqs)) = entry.get_mut(&rkey)
                {
                    reqs.push(me.clone());
                    found = true;
                }
            }
            if !found {
                list.push(Value::Object(Map::from_iter([(
                    rkey,
                    Value::Array(vec![me]),
                )])));
            }
        }
        ext.insert(
            "__env__".into(),
            self.body.get("__env__").cloned().unwrap_or(Value::Null),
        );
        ext.insert(
            "__sls__".into(),
            self.body.get("__sls__").cloned().unwrap_or(Value::Null),
        );
    }

    /// `use_in`: this state's arguments go to the states named.
    fn use_in(&self, extend: &mut Extend, name: &str, tstate: &str) {
        for (ext_id, req_state) in find_name(name, tstate, self.high, true) {
            let ignore = state_args(self.high, &ext_id, tstate);
            let args = copied_args(self.high, self.id, self.state, &ignore);
            append_args(ext_body(extend, &ext_id), &req_state, args);
        }
    }

    /// `use`: the named states' arguments come to this state.
    fn use_args(&self, extend: &mut Extend, name: &str, tstate: &str) {
        for (ext_id, req_state) in find_name(name, tstate, self.high, true) {
            let ignore = state_args(self.high, self.id, self.state);
            let args = copied_args(self.high, &ext_id, &req_state, &ignore);
            append_args(ext_body(extend, self.id), self.state, args);
        }
    }
}

fn ext_body<'e>(extend: &'e mut Extend, id: &str) -> &'e mut Map<String, Value> {
    let slot = extend
        .entry(id.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("just made an object")
}

fn append_args(ext: &mut Map<String, Value>, state: &str, args: Vec<Value>) {
    if let Value::Array(list) = ext
        .entry(state.to_string())
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        list.extend(args);
    }
}

/// Salt's `state_args`: the argument names of a declaration.
fn state_args(high: &HighData, id: &str, state: &str) -> Vec<String> {
    high.get(id)
        .and_then(|b| b.get(state))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter(|o| o.len() == 1)
        .filter_map(|o| o.keys().next().cloned())
        .collect()
}

/// The one-key arguments of `id`'s `state` that `use` copies.
fn copied_args(high: &HighData, id: &str, state: &str, ignore: &[String]) -> Vec<Value> {
    high.get(id)
        .and_then(|b| b.get(state))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|a| {
            a.as_object().is_some_and(|o| {
                o.len() == 1
                    && o.keys()
                        .next()
                        .is_some_and(|k| !REQ_IN_ALL.contains(&k.as_str()) && !ignore.contains(k))
            })
        })
        .cloned()
        .collect()
}

/// Salt's `find_sls_ids`: `(id, module)` of every declaration of an SLS.
fn find_sls_ids(sls: &str, high: &HighData) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (id, body) in high {
        let Some(body) = body.as_object() else {
            continue;
        };
        if body.get("__sls__").and_then(Value::as_str) == Some(sls) {
            for st in body.keys().filter(|k| !k.starts_with("__")) {
                out.push((id.clone(), st.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn high(v: Value) -> HighData {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn extend_appends_requisites_and_replaces_other_arguments() {
        let mut h = high(json!({
            "a": {"__sls__": "s", "__env__": "base", "test": [{"x": 1}, {"require": [{"test": "b"}]}, "nop"]},
            "__extend__": [{"a": {"test": [{"x": 2}, {"require": [{"test": "c"}]}, "succeed"], "__sls__": "t", "__env__": "base"}}],
        }));
        assert!(reconcile_extend(&mut h, false).is_empty());
        assert_eq!(
            h["a"]["test"],
            json!([{"x": 2}, {"require": [{"test": "b"}, {"test": "c"}]}, "succeed"])
        );
    }

    #[test]
    fn extend_of_unknown_id_is_salts_error() {
        let mut h = high(
            json!({"__extend__": [{"gone": {"test": [], "__sls__": "t", "__env__": "base"}}]}),
        );
        let errs = reconcile_extend(&mut h, false);
        assert!(
            errs[0].starts_with(
                "Cannot extend ID 'gone' in 'base:t'. It is not part of the high state."
            )
        );
    }

    #[test]
    fn require_in_becomes_require_on_the_target_and_use_copies_arguments() {
        let mut h = high(json!({
            "a": {"__sls__": "s", "__env__": "base", "test": [{"require_in": [{"test": "b"}]}, {"x": 1}, "nop"]},
            "b": {"__sls__": "s", "__env__": "base", "test": ["nop"]},
            "c": {"__sls__": "s", "__env__": "base", "test": [{"use": [{"test": "a"}]}, "nop"]},
        }));
        assert!(requisite_in(&mut h).is_empty());
        assert_eq!(h["b"]["test"], json!(["nop", {"require": [{"test": "a"}]}]));
        assert_eq!(
            h["c"]["test"],
            json!([{"use": [{"test": "a"}]}, "nop", {"x": 1}])
        );
    }

    #[test]
    fn exclude_drops_ids_and_sls_globs() {
        let mut h = high(json!({
            "a": {"__sls__": "one"}, "b": {"__sls__": "two.x"}, "c": {"__sls__": "three"},
            "__exclude__": [{"id": "a"}, "two.*"],
        }));
        apply_exclude(&mut h);
        assert_eq!(h.keys().collect::<Vec<_>>(), ["c"]);
    }
}
