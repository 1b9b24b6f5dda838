//! The state compiler: from `top.sls` and SLS files to ordered low chunks.
//!
//! ```text
//! top.sls --[top]--> {saltenv: [sls, ...]}
//!   --[sls]--> high data (include / extend / exclude resolved, auto-order)
//!   --[low]--> low chunks in Salt's order (order key, then definition order)
//!   --[requisites]--> every requisite resolved to the chunks it names
//! ```
//!
//! High data is Salt's: `{id: {state_module: [args..., "fun"], "__sls__", "__env__"}}`
//! in definition order. Every problem found along the way is collected as one
//! of Salt's error strings; a run with errors does not start (Salt's "Data
//! failed to compile").

pub mod low;
pub mod requisites;
pub mod sls;
#[cfg(test)]
pub(crate) mod testhost;
pub mod top;

use serde_json::{Map, Value};

use crate::host::StateHost;
use crate::lowstate::LowChunk;

pub use requisites::{Req, ReqKind};

/// Salt's high data: ids in definition order.
pub type HighData = Map<String, Value>;

/// What failed to compile: Salt's error strings, in the order found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", .errors.join("\n"))]
pub struct CompileError {
    pub errors: Vec<String>,
}

impl CompileError {
    pub fn new(errors: Vec<String>) -> Self {
        CompileError { errors }
    }
}

/// Low chunks in run order, each with its requisites resolved to indices
/// into `chunks` (`reqs[i]` belongs to `chunks[i]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Lowstate {
    pub chunks: Vec<LowChunk>,
    pub reqs: Vec<Vec<Req>>,
}

/// Render `mods` (dotted SLS names) in `saltenv`, with their includes, and
/// apply `extend` and `exclude`: the high data of a `state.sls` run.
pub fn high_from_sls(
    host: &dyn StateHost,
    saltenv: &str,
    mods: &[String],
) -> Result<HighData, CompileError> {
    let mut gatherer = sls::Gatherer::new(host);
    for m in mods {
        gatherer.add(saltenv, m);
    }
    gatherer.finish()
}

/// Render every SLS the top file assigns to this minion: the high data of a highstate.
pub fn high_from_top(
    host: &dyn StateHost,
    saltenv: Option<&str>,
) -> Result<HighData, CompileError> {
    let matches = top::matches(host, saltenv)?;
    let mut gatherer = sls::Gatherer::new(host);
    for (env, mods) in &matches {
        for m in mods {
            gatherer.add(env, m);
        }
    }
    gatherer.finish()
}

/// Compile high data into ordered low chunks with resolved requisites.
pub fn compile(high: &HighData) -> Result<Lowstate, CompileError> {
    let chunks = low::compile_high(high)?;
    requisites::resolve(chunks)
}

/// High data for one state given on the command line (`state.single`):
/// `fun` is `module.function`, `kwargs` its arguments (`name` among them).
pub fn high_from_single(
    fun: &str,
    name: &str,
    kwargs: &Map<String, Value>,
) -> Result<HighData, CompileError> {
    let Some((module, function)) = fun.split_once('.') else {
        return Err(CompileError::new(vec![format!(
            "Invalid function passed: {fun}; the state function must be given as module.function"
        )]));
    };
    let mut args: Vec<Value> = kwargs
        .iter()
        .filter(|(k, _)| !k.starts_with("__") && k.as_str() != "name")
        .map(|(k, v)| Value::Object(Map::from_iter([(k.clone(), v.clone())])))
        .collect();
    args.push(Value::String(function.to_string()));
    let mut body = Map::new();
    body.insert(module.to_string(), Value::Array(args));
    body.insert("__sls__".into(), Value::String("single".into()));
    body.insert("__env__".into(), Value::String("base".into()));
    let mut high = Map::new();
    high.insert(name.to_string(), Value::Object(body));
    Ok(high)
}

#[cfg(test)]
mod tests;
