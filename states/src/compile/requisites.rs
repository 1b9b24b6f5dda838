//! Requisites: resolving `require`, `watch`, `onchanges`, `onfail`,
//! `prereq`, `use`, `listen`, their `_any` / `_all` forms and every `_in`
//! form to the chunks they name.
//!
//! A target is written `module: id-or-name` (globs allowed, as Salt's
//! `fnmatch`), `id: id-or-name` (any module), `sls: name` (every state of
//! that SLS), or a bare id or name. `X_in` on A naming B is `X` on B naming A.
//! `use` copies the target's arguments the state does not set itself.
//! `prereq` on A naming B also makes B wait for A (Salt's `prerequired`).
//! A requisite naming nothing, and a cycle through ordering requisites, are
//! compile errors naming the states (Salt's "The following requisites were
//! not found" and "Recursive requisite found").

use serde_json::{Map, Value};

use super::{CompileError, Lowstate};
use crate::lowstate::LowChunk;

/// What a requisite asks of its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReqKind {
    Require,
    Watch,
    Onchanges,
    Onfail,
    /// Run the target in test mode first; run this state only if it would change.
    Prereq,
    /// The reverse of `prereq`: wait for the state that prereqs this one.
    Prerequired,
    /// Deferred `mod_watch` at the end of the run if the target changed.
    Listen,
}

impl ReqKind {
    /// Salt's keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            ReqKind::Require => "require",
            ReqKind::Watch => "watch",
            ReqKind::Onchanges => "onchanges",
            ReqKind::Onfail => "onfail",
            ReqKind::Prereq => "prereq",
            ReqKind::Prerequired => "prerequired",
            ReqKind::Listen => "listen",
        }
    }

    /// Whether the target must run before the state that names it.
    pub fn orders(self) -> bool {
        !matches!(self, ReqKind::Prereq | ReqKind::Listen)
    }
}

/// One resolved requisite of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Req {
    pub kind: ReqKind,
    /// `_any` semantics: one target meeting the condition is enough (plain
    /// `onfail` is "any" in Salt; `onfail_all` is not).
    pub any: bool,
    /// Index of the target chunk.
    pub target: usize,
}

/// Requisite keywords: (keyword, kind, any).
const KEYWORDS: &[(&str, ReqKind, bool)] = &[
    ("require", ReqKind::Require, false),
    ("require_any", ReqKind::Require, true),
    ("watch", ReqKind::Watch, false),
    ("watch_any", ReqKind::Watch, true),
    ("onchanges", ReqKind::Onchanges, false),
    ("onchanges_any", ReqKind::Onchanges, true),
    ("onfail", ReqKind::Onfail, true),
    ("onfail_any", ReqKind::Onfail, true),
    ("onfail_all", ReqKind::Onfail, false),
    ("prereq", ReqKind::Prereq, false),
    ("listen", ReqKind::Listen, false),
];

/// Arguments `use` never copies.
const NOT_COPIED: &[&str] = &["name", "names", "order", "fun", "state", "use", "use_in"];

/// Whether an argument is a requisite (not copied by `use`, not passed on by `state.single`).
pub fn is_requisite_key(key: &str) -> bool {
    let base = key.strip_suffix("_in").unwrap_or(key);
    base == "use" || KEYWORDS.iter().any(|(k, _, _)| *k == base)
}

/// Resolve every chunk's requisites and check them.
pub fn resolve(mut chunks: Vec<LowChunk>) -> Result<Lowstate, CompileError> {
    let mut errors = Vec::new();
    apply_use(&mut chunks, &mut errors);
    let mut reqs: Vec<Vec<Req>> = vec![Vec::new(); chunks.len()];
    for i in 0..chunks.len() {
        let mut lost: Vec<(String, String)> = Vec::new();
        for (key, value) in &chunks[i].args {
            let (base, reverse) = match key.strip_suffix("_in") {
                Some(base) => (base, true),
                None => (key.as_str(), false),
            };
            let Some(&(_, kind, any)) = KEYWORDS.iter().find(|(k, _, _)| *k == base) else {
                continue;
            };
            for (tkey, tval) in targets_of(value) {
                let found = find_targets(&chunks, &tkey, &tval, i);
                if found.is_empty() {
                    lost.push((key.clone(), describe_target(&tkey, &tval)));
                }
                for t in found {
                    let (owner, target) = if reverse { (t, i) } else { (i, t) };
                    add_req(&mut reqs, owner, Req { kind, any, target });
                    if kind == ReqKind::Prereq {
                        add_req(
                            &mut reqs,
                            target,
                            Req {
                                kind: ReqKind::Prerequired,
                                any: false,
                                target: owner,
                            },
                        );
                    }
                }
            }
        }
        if !lost.is_empty() {
            errors.push(not_found_message(&chunks[i], &lost));
        }
    }
    if errors.is_empty() {
        errors.extend(find_cycle(&chunks, &reqs));
    }
    if errors.is_empty() {
        Ok(Lowstate { chunks, reqs })
    } else {
        Err(CompileError::new(errors))
    }
}

fn add_req(reqs: &mut [Vec<Req>], owner: usize, req: Req) {
    if owner != req.target && !reqs[owner].contains(&req) {
        reqs[owner].push(req);
    }
}

/// The `(module-or-id-or-sls, value)` pairs a requisite list names; a bare
/// string has an empty key.
fn targets_of(value: &Value) -> Vec<(String, String)> {
    let items: Vec<&Value> = match value {
        Value::Array(list) => list.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for item in items {
        match item {
            Value::String(s) => out.push((String::new(), s.clone())),
            Value::Object(o) => {
                for (k, v) in o {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => brine_common::output::python::to_str(other),
                    };
                    // `cmd.run: C` is read as `cmd: C`, as Salt does.
                    let k = k.split('.').next().unwrap_or(k).to_string();
                    out.push((k, v));
                }
            }
            other => out.push((String::new(), brine_common::output::python::to_str(other))),
        }
    }
    out
}

fn glob_match(pattern: &str, text: &str) -> bool {
    pattern == text
        || brine_common::target::Fnmatch::new(pattern)
            .map(|g| g.is_match(text))
            .unwrap_or(false)
}

/// The chunks a target names (never `own` itself).
fn find_targets(chunks: &[LowChunk], key: &str, val: &str, own: usize) -> Vec<usize> {
    chunks
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != own)
        .filter(|(_, c)| match key {
            "sls" => glob_match(val, &c.sls),
            "" | "id" => {
                c.id == val || c.name == val || glob_match(val, &c.id) || glob_match(val, &c.name)
            }
            module => c.state == module && (glob_match(val, &c.name) || glob_match(val, &c.id)),
        })
        .map(|(j, _)| j)
        .collect()
}

fn describe_target(key: &str, val: &str) -> String {
    if key.is_empty() {
        val.to_string()
    } else {
        format!("{key}: {val}")
    }
}

/// Salt's comment, prefixed with the state it belongs to.
fn not_found_message(chunk: &LowChunk, lost: &[(String, String)]) -> String {
    let mut text = format!(
        "State '{}' ({}.{}) in SLS '{}': The following requisites were not found:\n",
        chunk.id, chunk.state, chunk.fun, chunk.sls
    );
    let mut last_key = "";
    for (key, target) in lost {
        if key != last_key {
            text.push_str(&format!("{}{key}:\n", " ".repeat(19)));
            last_key = key;
        }
        text.push_str(&format!("{}{target}\n", " ".repeat(23)));
    }
    text
}

/// `use` / `use_in`: copy the target's non-requisite arguments the state lacks.
fn apply_use(chunks: &mut [LowChunk], errors: &mut Vec<String>) {
    let mut copies: Vec<(usize, usize)> = Vec::new();
    for i in 0..chunks.len() {
        for (key, reverse) in [("use", false), ("use_in", true)] {
            let Some(value) = chunks[i].args.get(key) else {
                continue;
            };
            let mut lost = Vec::new();
            for (tkey, tval) in targets_of(value) {
                let found = find_targets(chunks, &tkey, &tval, i);
                if found.is_empty() {
                    lost.push((key.to_string(), describe_target(&tkey, &tval)));
                }
                for t in found {
                    copies.push(if reverse { (t, i) } else { (i, t) });
                }
            }
            if !lost.is_empty() {
                errors.push(not_found_message(&chunks[i], &lost));
            }
        }
    }
    for (to, from) in copies {
        let source: Map<String, Value> = chunks[from]
            .args
            .iter()
            .filter(|(k, _)| {
                !NOT_COPIED.contains(&k.as_str()) && !is_requisite_key(k) && !k.starts_with("__")
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (k, v) in source {
            chunks[to].args.entry(k).or_insert(v);
        }
    }
}

/// A cycle through ordering requisites, as Salt's "Recursive requisite found".
fn find_cycle(chunks: &[LowChunk], reqs: &[Vec<Req>]) -> Option<String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        i: usize,
        reqs: &[Vec<Req>],
        marks: &mut [Mark],
        path: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        marks[i] = Mark::Active;
        path.push(i);
        for req in reqs[i].iter().filter(|r| r.kind.orders()) {
            match marks[req.target] {
                Mark::Active => {
                    let start = path.iter().position(|p| *p == req.target).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(req.target);
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(c) = visit(req.target, reqs, marks, path) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks[i] = Mark::Done;
        None
    }
    let mut marks = vec![Mark::New; chunks.len()];
    for i in 0..chunks.len() {
        if marks[i] == Mark::New {
            let mut path = Vec::new();
            if let Some(cycle) = visit(i, reqs, &mut marks, &mut path) {
                let names: Vec<String> = cycle
                    .iter()
                    .map(|&c| {
                        format!(
                            "{}: {} (SLS '{}')",
                            chunks[c].state, chunks[c].id, chunks[c].sls
                        )
                    })
                    .collect();
                return Some(format!("Recursive requisite found: {}", names.join(" -> ")));
            }
        }
    }
    None
}
