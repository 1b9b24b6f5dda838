//! High data to low chunks (Salt's `compile_high_data` and `order_chunks`).
//!
//! One chunk per id × state module × name (`names:` expands an id into
//! several chunks, each keeping the id). `name` defaults to the id. Chunks
//! are sorted by `order` (numbers; `first` is 0, `last` after everything,
//! negative numbers count back from `last`; `names` entries get
//! `order + n/10000`), then by `state + name + fun` as Salt breaks ties.

use serde_json::{Map, Value};

use super::{CompileError, HighData};
use crate::lowstate::LowChunk;

/// A chunk and its sort key while ordering.
struct Ordered {
    chunk: LowChunk,
    order: Option<Value>,
    name_order: Option<u32>,
}

/// Compile high data into chunks in run order.
pub fn compile_high(high: &HighData) -> Result<Vec<LowChunk>, CompileError> {
    let mut errors = Vec::new();
    let mut found = Vec::new();
    for (id, body) in high {
        if id.starts_with("__") {
            continue;
        }
        let Some(body) = body.as_object() else {
            errors.push(format!("ID '{id}' is not a dictionary"));
            continue;
        };
        let sls = str_field(body, "__sls__", "base");
        let env = str_field(body, "__env__", "base");
        for (state, args) in body {
            if state.starts_with("__") {
                continue;
            }
            match compile_decl(id, &sls, &env, state, args) {
                Ok(chunks) => found.extend(chunks),
                Err(e) => errors.push(e),
            }
        }
    }
    if !errors.is_empty() {
        return Err(CompileError::new(errors));
    }
    Ok(order_chunks(found))
}

fn str_field(body: &Map<String, Value>, key: &str, default: &str) -> String {
    body.get(key)
        .and_then(Value::as_str)
        .unwrap_or(default)
        .to_string()
}

/// The chunks of one `state_module: [args]` declaration.
fn compile_decl(
    id: &str,
    sls: &str,
    env: &str,
    state: &str,
    args: &Value,
) -> Result<Vec<Ordered>, String> {
    let Some(list) = args.as_array() else {
        return Err(format!(
            "State '{state}' in SLS '{sls}' is not formed as a list"
        ));
    };
    let mut funs = Vec::new();
    let mut names: Vec<Value> = Vec::new();
    let mut kw = Map::new();
    for arg in list {
        match arg {
            Value::String(f) if !funs.contains(f) => funs.push(f.clone()),
            Value::Object(o) => {
                for (k, v) in o {
                    match k.as_str() {
                        "names" => collect_names(v, &mut names),
                        "state" => {}
                        _ => {
                            kw.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    match funs.len() {
        0 => {
            return Err(format!(
                "No function declared in state '{state}' in SLS '{sls}'"
            ));
        }
        1 => {}
        _ => {
            return Err(format!(
                "Too many functions declared in state '{state}' in SLS '{sls}'"
            ));
        }
    }
    let fun = funs.remove(0);
    let default_name = match kw.remove("name") {
        Some(Value::String(n)) => n,
        Some(Value::Number(n)) => n.to_string(),
        _ => id.to_string(),
    };
    let order = kw.remove("order");
    let make = |name: String, extra: &Map<String, Value>, name_order: Option<u32>| {
        let mut args = kw.clone();
        for (k, v) in extra {
            args.insert(k.clone(), v.clone());
        }
        Ordered {
            chunk: LowChunk {
                id: id.to_string(),
                sls: sls.to_string(),
                env: env.to_string(),
                state: state.to_string(),
                fun: fun.clone(),
                name,
                order: 0,
                args,
            },
            order: order.clone(),
            name_order,
        }
    };
    if names.is_empty() {
        return Ok(vec![make(default_name, &Map::new(), None)]);
    }
    let mut out = Vec::new();
    for (n, entry) in names.iter().enumerate() {
        let (name, extra) = name_entry(entry);
        out.push(make(name, &extra, Some(n as u32 + 1)));
    }
    Ok(out)
}

fn collect_names(v: &Value, names: &mut Vec<Value>) {
    for n in v.as_array().into_iter().flatten() {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
}

/// A `names:` entry: a plain name, or `{name: [{arg: value}, ...]}`.
fn name_entry(entry: &Value) -> (String, Map<String, Value>) {
    match entry {
        Value::Object(o) => match o.iter().next() {
            Some((name, args)) => {
                let mut extra = Map::new();
                for a in args
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                {
                    extra.extend(a.clone());
                }
                (name.clone(), extra)
            }
            None => (String::new(), Map::new()),
        },
        Value::String(s) => (s.clone(), Map::new()),
        other => (brine_common::output::python::to_str(other), Map::new()),
    }
}

/// Salt's `order_chunks`.
fn order_chunks(found: Vec<Ordered>) -> Vec<LowChunk> {
    let cap = found
        .iter()
        .filter_map(|o| o.order.as_ref().and_then(Value::as_i64))
        .filter(|n| *n > 0)
        .fold(1, |cap, n| if n > cap - 1 { n + 100 } else { cap });
    let mut keyed: Vec<(f64, String, LowChunk)> = found
        .into_iter()
        .map(|o| {
            let mut order = match &o.order {
                None => cap as f64,
                Some(Value::Number(n)) => n.as_f64().unwrap_or(cap as f64),
                Some(Value::String(s)) if s == "last" => (cap + 1_000_000) as f64,
                Some(Value::String(s)) if s == "first" => 0.0,
                Some(_) => cap as f64,
            };
            if let Some(n) = o.name_order {
                order += f64::from(n) / 10000.0;
            }
            if order < 0.0 {
                order += (cap + 1_000_000) as f64;
            }
            let mut chunk = o.chunk;
            chunk.order = order as i64;
            let tie = format!("{}{}{}", chunk.state, chunk.name, chunk.fun);
            (order, tie, chunk)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    keyed.into_iter().map(|(_, _, c)| c).collect()
}
