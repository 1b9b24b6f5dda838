//! The state compiler: from `top.sls` and SLS files to ordered low chunks,
//! pass for pass as Salt 3008 does it.
//!
//! ```text
//! top.sls --[top]--> {saltenv: [sls, ...]}
//!   --[sls]--> high data (includes merged, `__extend__`/`__exclude__` raw, auto-order)
//!   --[extend, verify]--> extensions applied, structure checked (Salt's `call_high`)
//!   --[extend::requisite_in]--> `X_in` / `use` turned into extensions and applied
//!   --[low]--> Salt's chunk dicts
//!   --[order]--> chunks in Salt's order, requisites resolved, cycles refused
//! ```
//!
//! High data is Salt's: `{id: {state_module: [args..., "fun"], "__sls__", "__env__"}}`
//! in definition order. Every problem found along the way is collected as one
//! of Salt's error strings; a run with errors does not start.

pub mod extend;
pub mod low;
pub mod order;
pub mod requisites;
pub mod sls;
#[cfg(test)]
pub(crate) mod testhost;
pub mod top;
pub mod verify;

use serde_json::{Map, Value};

use crate::host::StateHost;
use crate::lowstate::LowChunk;

pub use low::SaltChunk;
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

    fn check(errors: Vec<String>) -> Result<(), CompileError> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(CompileError::new(errors))
        }
    }
}

/// Low chunks in run order, each with its requisites resolved to indices
/// into `chunks` (`reqs[i]` belongs to `chunks[i]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Lowstate {
    pub chunks: Vec<LowChunk>,
    pub reqs: Vec<Vec<Req>>,
}

/// Salt's `render_highstate` for `mods` in `saltenv`: the raw high data
/// (`__extend__`/`__exclude__` kept) and the render errors.
pub fn render_sls(host: &dyn StateHost, saltenv: &str, mods: &[String]) -> (HighData, Vec<String>) {
    let matches = sls::Matches::from_iter([(saltenv.to_string(), mods.to_vec())]);
    sls::render_highstate(host, &matches)
}

/// The raw high data of everything the top file assigns to this minion and
/// the render errors (an unreadable top file is an `Err`).
pub fn render_top(
    host: &dyn StateHost,
    saltenv: Option<&str>,
) -> Result<(HighData, Vec<String>), CompileError> {
    let matches = top::matches(host, saltenv)?;
    Ok(sls::render_highstate(host, &matches))
}

/// The raw high data of a `state.sls` run (render errors refuse it).
pub fn high_from_sls(
    host: &dyn StateHost,
    saltenv: &str,
    mods: &[String],
) -> Result<HighData, CompileError> {
    let (high, errors) = render_sls(host, saltenv, mods);
    CompileError::check(errors)?;
    Ok(high)
}

/// The raw high data of a highstate (render errors refuse it).
pub fn high_from_top(
    host: &dyn StateHost,
    saltenv: Option<&str>,
) -> Result<HighData, CompileError> {
    let (high, errors) = render_top(host, saltenv)?;
    CompileError::check(errors)?;
    Ok(high)
}

/// Salt's `call_high` passes before compiling: extensions, structure checks,
/// `requisite_in`, excludes.
pub fn prepare(mut high: HighData) -> Result<HighData, CompileError> {
    let mut errors = extend::reconcile_extend(&mut high, false);
    errors.extend(verify::verify_high(&high));
    CompileError::check(errors)?;
    let errors = extend::requisite_in(&mut high);
    extend::apply_exclude(&mut high);
    CompileError::check(errors)?;
    Ok(high)
}

/// Salt's `compile_high_data` and `order_chunks` over prepared (or raw, for
/// `show_low_sls`) high data.
pub fn order(high: HighData) -> Result<order::Ordered, CompileError> {
    order::order_chunks(low::compile_high_data(high)).map_err(CompileError::new)
}

/// The runtime's lowstate from ordered chunks.
pub fn lowstate(ordered: order::Ordered) -> Lowstate {
    let (run, reqs) = ordered.into_run();
    Lowstate {
        chunks: run.into_iter().map(requisites::into_low_chunk).collect(),
        reqs,
    }
}

/// Compile raw high data into ordered low chunks with resolved requisites.
pub fn compile(high: HighData) -> Result<Lowstate, CompileError> {
    Ok(lowstate(order(prepare(high)?)?))
}

/// `state.sls_id`: the chunks of one id and, before them, every state they
/// need (Salt's `call_chunk` runs a chunk's requisites first), in run order;
/// `None` when no state has that id.
pub fn compile_id(high: HighData, id: &str) -> Result<Option<Lowstate>, CompileError> {
    let low = compile(high)?;
    let mut keep: Vec<bool> = low.chunks.iter().map(|c| c.id == id).collect();
    if !keep.contains(&true) {
        return Ok(None);
    }
    let mut pending: Vec<usize> = (0..keep.len()).filter(|&i| keep[i]).collect();
    while let Some(i) = pending.pop() {
        for req in &low.reqs[i] {
            let needed = !matches!(req.kind, ReqKind::Listen | ReqKind::Prerequired);
            if needed && !keep[req.target] {
                keep[req.target] = true;
                pending.push(req.target);
            }
        }
    }
    Ok(Some(low.subset(&keep)))
}

impl Lowstate {
    /// The chunks marked in `keep`, in their order, with their requisites
    /// on each other (requisites on chunks left out are dropped).
    fn subset(self, keep: &[bool]) -> Lowstate {
        let mut position = vec![None; keep.len()];
        let mut next = 0;
        for (i, &k) in keep.iter().enumerate() {
            if k {
                position[i] = Some(next);
                next += 1;
            }
        }
        let mut out = Lowstate::default();
        for (i, (chunk, reqs)) in self.chunks.into_iter().zip(self.reqs).enumerate() {
            if !keep[i] {
                continue;
            }
            out.chunks.push(chunk);
            out.reqs.push(
                reqs.into_iter()
                    .filter_map(|r| position[r.target].map(|target| Req { target, ..r }))
                    .collect(),
            );
        }
        out
    }
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
    // Salt's `state.single` runs a chunk of no SLS: `__sls__` is None.
    body.insert("__sls__".into(), Value::Null);
    body.insert("__env__".into(), Value::String("base".into()));
    let mut high = Map::new();
    high.insert(name.to_string(), Value::Object(body));
    Ok(high)
}

#[cfg(test)]
mod tests;
