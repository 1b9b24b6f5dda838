//! Salt's `verify_high`: the structural checks of high data, with Salt's
//! error texts word for word (state declarations, functions, `names`, and
//! the shape of every requisite list).

use brine_common::output::python;
use brine_common::typed_key::python_str_key;
use serde_json::{Map, Value};

use super::HighData;

/// Salt's `STATE_REQUISITE_KEYWORDS`: the arguments checked as requisite lists.
pub const REQUISITE_KEYWORDS: &[&str] = &[
    "onfail",
    "onfail_any",
    "onfail_all",
    "require",
    "require_any",
    "onchanges",
    "onchanges_any",
    "watch",
    "watch_any",
    "prereq",
    "prerequired",
    "listen",
    "onfail_stop",
];

/// The body key under which the compiler notes an ID that was not a string
/// in the SLS text (`{"type": "int", "shown": "123"}`).
pub(crate) const NON_STRING_ID: &str = "__non_string_id__";

/// Every structural error of `high`, in Salt's order.
pub fn verify_high(high: &HighData) -> Vec<String> {
    let mut errors = Vec::new();
    for (id, body) in high {
        if id.starts_with("__") {
            continue;
        }
        // A `None` or bool ID (a marker key) is named as Python's str() does.
        let id = python_str_key(id);
        let Value::Object(body) = body else {
            errors.push(format!(
                "The type {id} in {} is not formatted as a dictionary",
                python::to_str(body)
            ));
            continue;
        };
        let sls = body.get("__sls__").map(python::to_str).unwrap_or_default();
        if let Some(key) = body.get(NON_STRING_ID) {
            let field = |k: &str| key.get(k).map(python::to_str).unwrap_or_default();
            errors.push(format!(
                "ID '{}' in SLS '{sls}' is not formed as a string, but is type {}. It may need to be quoted.",
                field("shown"),
                field("type")
            ));
        }
        for (state, run) in body {
            if !state.starts_with("__") {
                verify_decl(id, &sls, state, run, &mut errors);
            }
        }
    }
    errors
}

/// One `module: [args]` declaration of an id.
fn verify_decl(id: &str, sls: &str, state: &str, run: &Value, errors: &mut Vec<String>) {
    let list = match run {
        Value::Null => {
            errors.push(format!(
                "ID '{id}' in SLS '{sls}' contains a short declaration ({state}) with a trailing colon. When not passing any arguments to a state, the colon must be omitted."
            ));
            return;
        }
        Value::Array(list) => list,
        _ => {
            errors.push(format!(
                "State '{id}' in SLS '{sls}' is not formed as a list"
            ));
            return;
        }
    };
    let mut funs: Vec<String> = state
        .split_once('.')
        .map(|(_, f)| vec![f.to_string()])
        .unwrap_or_default();
    for arg in list {
        match arg {
            Value::String(f) => {
                funs.push(f.clone());
                if f.trim().contains(' ') {
                    errors.push(format!(
                        "The function \"{f}\" in state \"{id}\" in SLS \"{sls}\" has whitespace, a function with whitespace is not supported, perhaps this is an argument that is missing a \":\""
                    ));
                }
            }
            Value::Object(arg) => verify_arg(id, sls, arg, errors),
            _ => {}
        }
    }
    match funs.len() {
        0 => errors.push(format!(
            "No function declared in state '{id}' in SLS '{sls}'"
        )),
        1 => {}
        _ => errors.push(format!(
            "Too many functions declared in state '{id}' in SLS '{sls}'. Please choose one of the following: {}",
            funs.join(", ")
        )),
    }
}

/// One `{key: value}` argument: `names` and requisite lists.
fn verify_arg(id: &str, sls: &str, arg: &Map<String, Value>, errors: &mut Vec<String>) {
    let Some((first, value)) = arg.iter().next() else {
        return;
    };
    if first == "names" && !value.is_array() {
        errors.push(format!(
            "The 'names' argument in state '{id}' in SLS '{sls}' needs to be formed as a list"
        ));
    }
    if !REQUISITE_KEYWORDS.contains(&first.as_str()) {
        return;
    }
    match value {
        Value::Array(reqs) => {
            for req in reqs {
                verify_requisite(id, sls, req, errors);
            }
        }
        _ => errors.push(format!(
            "The {first} statement in state '{id}' in SLS '{sls}' needs to be formed as a list"
        )),
    }
    if arg.len() != 1 {
        errors.push(format!(
            "Multiple dictionaries defined in argument of state '{id}' in SLS '{sls}'"
        ));
    }
}

/// One entry of a requisite list: a bare id or a single-key `{type: target}`.
fn verify_requisite(id: &str, sls: &str, req: &Value, errors: &mut Vec<String>) {
    let single = match req {
        Value::String(_) => return,
        Value::Object(o) if o.len() == 1 => o.iter().next(),
        _ => None,
    };
    let Some((key, val)) = single else {
        errors.push(format!(
            "Requisite declaration {} in state {id} in SLS {sls} is not formed as a single key dictionary",
            yaml_repr(req)
        ));
        return;
    };
    if let Some(dot) = key.find('.') {
        errors.push(format!(
            "Invalid requisite type '{key}' in state '{id}', in SLS '{sls}'. Requisite types must not contain dots, did you mean '{}'?",
            &key[..dot]
        ));
    }
    if val.is_array() || val.is_object() {
        errors.push(format!(
            "Illegal requisite \"{}\" in SLS \"{sls}\", please check your syntax.\n",
            yaml_repr(val)
        ));
    }
}

/// `repr()` of a value as Salt's YAML loader builds it: mappings are `OrderedDict`s.
pub fn yaml_repr(value: &Value) -> String {
    match value {
        Value::Object(o) => {
            let items: Vec<String> = o
                .iter()
                .map(|(k, v)| format!("({}, {})", python::str_repr(k), yaml_repr(v)))
                .collect();
            format!("OrderedDict([{}])", items.join(", "))
        }
        Value::Array(list) => {
            let items: Vec<String> = list.iter().map(yaml_repr).collect();
            format!("[{}]", items.join(", "))
        }
        other => python::repr(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors_of(high: Value) -> Vec<String> {
        verify_high(high.as_object().expect("object"))
    }

    #[test]
    fn functions_are_counted_with_the_dotted_key() {
        let errs = errors_of(json!({"x": {"__sls__": "s", "test.nop": ["other"]}}));
        assert_eq!(
            errs,
            [
                "Too many functions declared in state 'x' in SLS 's'. Please choose one of the following: nop, other"
            ]
        );
        let errs = errors_of(json!({"x": {"__sls__": "s", "test": [{"a": 1}]}}));
        assert_eq!(errs, ["No function declared in state 'x' in SLS 's'"]);
    }

    #[test]
    fn requisite_shapes_give_salts_texts() {
        let errs = errors_of(json!({"x": {"__sls__": "s", "test": ["nop",
            {"require": [{"test": "a", "file": "b"}, {"test.nop": "c"}, {"test": ["d"]}, "e"]},
            {"watch": "f"}]}}));
        assert_eq!(
            errs,
            [
                "Requisite declaration OrderedDict([('test', 'a'), ('file', 'b')]) in state x in SLS s is not formed as a single key dictionary",
                "Invalid requisite type 'test.nop' in state 'x', in SLS 's'. Requisite types must not contain dots, did you mean 'test'?",
                "Illegal requisite \"['d']\" in SLS \"s\", please check your syntax.\n",
                "The watch statement in state 'x' in SLS 's' needs to be formed as a list",
            ]
        );
    }

    #[test]
    fn ids_and_declarations_must_be_well_formed() {
        let errs = errors_of(json!({"a": "text", "b": {"__sls__": "s", "test.nop": null},
            "c": {"__sls__": "s", "test": {"x": 1}}, "d": {"__sls__": "s", "test": ["no p", {"names": "n"}]}}));
        assert_eq!(
            errs,
            [
                "The type a in text is not formatted as a dictionary",
                "ID 'b' in SLS 's' contains a short declaration (test.nop) with a trailing colon. When not passing any arguments to a state, the colon must be omitted.",
                "State 'c' in SLS 's' is not formed as a list",
                "The function \"no p\" in state \"d\" in SLS \"s\" has whitespace, a function with whitespace is not supported, perhaps this is an argument that is missing a \":\"",
                "The 'names' argument in state 'd' in SLS 's' needs to be formed as a list",
            ]
        );
    }
}
