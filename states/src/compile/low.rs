//! High data to Salt's low chunks (`compile_high_data`): one chunk per id ×
//! state module × name (`names:` expands an id into several chunks, each
//! keeping the id and a `name_order` for the fractional order). A chunk is
//! Salt's dict: `state`, `name` (the id unless given as a string),
//! `__sls__`, `__env__`, `__sls_included_from__`, `__id__`, every argument,
//! then `fun`. Ordering is [`super::order`]'s.

use serde_json::{Map, Value};

use super::HighData;

/// Salt's low chunk dict.
pub type SaltChunk = Map<String, Value>;

/// The chunks of `high` in definition order (before ordering).
pub fn compile_high_data(high: HighData) -> Vec<SaltChunk> {
    let mut chunks = Vec::new();
    for (id, body) in high {
        if id.starts_with("__") {
            continue;
        }
        let Value::Object(mut body) = body else {
            continue;
        };
        let bookkeeping: Vec<(&str, Value)> = ["__sls__", "__env__", "__sls_included_from__"]
            .into_iter()
            .filter_map(|key| body.get(key).map(|v| (key, v.clone())))
            .collect();
        body.retain(|state, _| !state.starts_with("__"));
        for (state, run) in body {
            chunks.extend(compile_decl(&id, &bookkeeping, state, run));
        }
    }
    chunks
}

/// The chunks of one `module: [args]` declaration.
fn compile_decl(
    id: &str,
    bookkeeping: &[(&str, Value)],
    state: String,
    run: Value,
) -> Vec<SaltChunk> {
    let mut chunk = SaltChunk::new();
    chunk.insert("state".into(), Value::String(state));
    chunk.insert("name".into(), Value::String(id.into()));
    for (key, value) in bookkeeping {
        chunk.insert((*key).into(), value.clone());
    }
    chunk.insert("__id__".into(), Value::String(id.into()));
    let mut funs: Vec<String> = Vec::new();
    let mut names: Vec<Value> = Vec::new();
    let Value::Array(args) = run else {
        return Vec::new();
    };
    for arg in args {
        match arg {
            Value::String(f) if !funs.contains(&f) => funs.push(f),
            Value::Object(o) => {
                for (key, val) in o {
                    match key.as_str() {
                        "names" => {
                            for n in val.as_array().into_iter().flatten() {
                                if !names.contains(n) {
                                    names.push(n.clone());
                                }
                            }
                        }
                        "state" => {}
                        "name" if !val.is_string() => {
                            chunk.insert(key, Value::String(id.into()));
                        }
                        _ => {
                            chunk.insert(key, val);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let Some(fun) = funs.first() else {
        return Vec::new();
    };
    let with_fun = |mut live: SaltChunk| {
        live.insert("fun".into(), Value::String(fun.clone()));
        live
    };
    if names.is_empty() {
        return vec![with_fun(chunk)];
    }
    names
        .iter()
        .enumerate()
        .map(|(n, entry)| {
            let mut live = chunk.clone();
            match entry {
                Value::Object(o) => {
                    if let Some((name, args)) = o.iter().next() {
                        live.insert("name".into(), Value::String(name.clone()));
                        for a in args
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_object)
                        {
                            for (k, v) in a {
                                live.insert(k.clone(), v.clone());
                            }
                        }
                    }
                }
                other => {
                    live.insert("name".into(), other.clone());
                }
            }
            live.insert("name_order".into(), Value::from(n + 1));
            with_fun(live)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_expand_with_their_own_arguments_and_name_order() {
        let high = json!({"pkgs": {"__sls__": "s", "__env__": "base", "test": [
            {"names": ["one", {"two": [{"extra": 1}]}]}, {"shared": true}, "nop", {"order": 10000}]}});
        let chunks = compile_high_data(high.as_object().expect("object").clone());
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0]["name"], json!("one"));
        assert_eq!(chunks[1]["extra"], json!(1));
        assert_eq!(chunks[1]["name_order"], json!(2));
        assert_eq!(chunks[1]["fun"], json!("nop"));
        assert_eq!(chunks[1]["shared"], json!(true));
    }

    #[test]
    fn a_name_that_is_not_a_string_falls_back_to_the_id() {
        let high = json!({"x": {"__sls__": "s", "test": [{"name": 5}, "nop"]}});
        let chunks = compile_high_data(high.as_object().expect("object").clone());
        assert_eq!(chunks[0]["name"], json!("x"));
        assert_eq!(chunks[0]["__id__"], json!("x"));
    }
}
