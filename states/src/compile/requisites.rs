//! Requisites as the runtime sees them: each chunk's `require`, `watch`,
//! `onchanges`, `onfail`, `prereq` and `listen` resolved to the chunks they
//! name. `X_in` and `use` are turned around in the high data first
//! ([`super::extend::requisite_in`]); the targets are found, and the
//! errors reported, by [`super::order`] as Salt's dependency graph does.

use brine_common::output::python;
use serde_json::Value;

use super::low::SaltChunk;
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

/// The requisite keywords (each also with `_in`).
const KEYWORDS: &[&str] = &[
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
    "listen",
    "use",
];

/// Whether an argument is a requisite (not copied by `use`, not passed on by `state.single`).
pub fn is_requisite_key(key: &str) -> bool {
    let base = key.strip_suffix("_in").unwrap_or(key);
    KEYWORDS.contains(&base)
}

/// A runtime chunk from Salt's chunk dict: the fields Salt's lowstate has
/// at the top, every other argument (bookkeeping `__` keys left out) in `args`.
pub fn into_low_chunk(chunk: SaltChunk) -> LowChunk {
    // A null field (`state.single`'s `__sls__`) stays empty, not "None".
    let text = |k: &str| match chunk.get(k) {
        None | Some(Value::Null) => String::new(),
        Some(v) => python::to_str(v),
    };
    let (id, sls, env, state, fun, name) = (
        text("__id__"),
        text("__sls__"),
        text("__env__"),
        text("state"),
        text("fun"),
        text("name"),
    );
    let order = chunk
        .get("order")
        .and_then(Value::as_f64)
        .unwrap_or_default() as i64;
    let mut args = chunk;
    // In place: the chunk's own map, without re-hashing what stays.
    args.retain(|k, _| {
        !k.starts_with("__") && !matches!(k.as_str(), "state" | "name" | "fun" | "order")
    });
    LowChunk {
        id,
        sls,
        env,
        state,
        fun,
        name,
        order,
        args,
    }
}
