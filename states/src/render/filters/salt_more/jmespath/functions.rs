//! JMESPath's built-in functions as jmespath.py defines them: their
//! signatures, type checks (with its error texts) and results.

use std::cmp::Ordering;

use minijinja::value::Value;
use serde_json::{Map, Number, Value as Json};

use super::eval::{as_f64, eval, jmes_type, py_eq, python_type};
use super::parser::Node;
use crate::render::values::to_json;

/// An evaluated function argument: a value or an `&expression`.
enum Arg<'a> {
    Value(Json),
    Expref(&'a Node),
}

impl Arg<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            Arg::Value(v) => jmes_type(v),
            Arg::Expref(_) => "expref",
        }
    }
}

/// Each function's parameter types (`None`: any), and whether the last
/// one repeats.
fn signature(name: &str) -> Option<(&'static [Option<&'static [&'static str]>], bool)> {
    const NUMBER: Option<&[&str]> = Some(&["number"]);
    const ANY: Option<&[&str]> = None;
    const STRING: Option<&[&str]> = Some(&["string"]);
    const ARRAY: Option<&[&str]> = Some(&["array"]);
    const OBJECT: Option<&[&str]> = Some(&["object"]);
    const EXPREF: Option<&[&str]> = Some(&["expref"]);
    const NUMBERS_OR_STRINGS: Option<&[&str]> = Some(&["array-number", "array-string"]);
    Some(match name {
        "abs" | "ceil" | "floor" => (&[NUMBER], false),
        "avg" | "sum" => (&[Some(&["array-number"])], false),
        "not_null" => (&[ANY], true),
        "to_array" | "to_string" | "to_number" | "type" => (&[ANY], false),
        "contains" => (&[Some(&["array", "string"]), ANY], false),
        "length" => (&[Some(&["string", "array", "object"])], false),
        "ends_with" | "starts_with" => (&[STRING, STRING], false),
        "reverse" => (&[Some(&["array", "string"])], false),
        "join" => (&[STRING, Some(&["array-string"])], false),
        "map" => (&[EXPREF, ARRAY], false),
        "max" | "min" | "sort" => (&[NUMBERS_OR_STRINGS], false),
        "merge" => (&[OBJECT], true),
        "keys" | "values" => (&[OBJECT], false),
        "sort_by" | "min_by" | "max_by" => (&[ARRAY, EXPREF], false),
        _ => return None,
    })
}

/// jmespath.py's `JMESPathTypeError` text; `received` is the JMESPath
/// type for an argument, the Python type for an item of an array.
fn type_error(function: &str, value: &Arg<'_>, received: &str, expected: &[&str]) -> String {
    let shown = match value {
        Arg::Value(Json::String(s)) => s.clone(),
        Arg::Value(Json::Null) => "None".to_owned(),
        Arg::Value(Json::Bool(b)) => if *b { "True" } else { "False" }.to_owned(),
        Arg::Value(v) => v.to_string(),
        Arg::Expref(_) => "<expref>".to_owned(),
    };
    let expected: Vec<String> = expected.iter().map(|t| format!("'{t}'")).collect();
    format!(
        "In function {function}(), invalid type for value: {shown}, expected one of: [{}], received: \"{received}\"",
        expected.join(", ")
    )
}

/// jmespath.py's `_type_check_single`: the type, then the item types of
/// an `array-<type>`.
fn check_type(function: &str, arg: &Arg<'_>, allowed: &[&str]) -> Result<(), String> {
    let actual = arg.type_name();
    let base = |t: &str| t.split('-').next().unwrap_or(t).to_owned();
    if !allowed.iter().any(|t| base(t) == actual) {
        return Err(type_error(function, arg, actual, allowed));
    }
    let subtypes: Vec<&str> = allowed
        .iter()
        .filter_map(|t| t.split_once('-').map(|(_, s)| s))
        .collect();
    let (Arg::Value(Json::Array(items)), false) = (arg, subtypes.is_empty()) else {
        return Ok(());
    };
    let wanted = match subtypes.as_slice() {
        [only] => *only,
        _ => match items.first() {
            None => return Ok(()),
            Some(first) => subtypes
                .iter()
                .copied()
                .find(|s| *s == jmes_type(first))
                .ok_or_else(|| {
                    type_error(
                        function,
                        &Arg::Value(first.clone()),
                        python_type(first),
                        allowed,
                    )
                })?,
        },
    };
    match items.iter().find(|item| jmes_type(item) != wanted) {
        Some(bad) => Err(type_error(
            function,
            &Arg::Value(bad.clone()),
            python_type(bad),
            allowed,
        )),
        None => Ok(()),
    }
}

pub(super) fn call(name: &str, nodes: &[Node], value: &Json) -> Result<Json, String> {
    let mut args = Vec::with_capacity(nodes.len());
    for node in nodes {
        args.push(match node {
            Node::Expref(inner) => Arg::Expref(inner),
            other => Arg::Value(eval(other, value)?),
        });
    }
    let (params, variadic) =
        signature(name).ok_or_else(|| format!("Unknown function: {name}()"))?;
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    if variadic && args.len() < params.len() {
        return Err(format!(
            "Expected at least {} {} for function {name}(), received {}",
            params.len(),
            plural(params.len()),
            args.len()
        ));
    }
    if !variadic && args.len() != params.len() {
        return Err(format!(
            "Expected {} {} for function {name}(), received {}",
            params.len(),
            plural(params.len()),
            args.len()
        ));
    }
    for (arg, allowed) in args.iter().zip(params.iter()) {
        if let Some(allowed) = allowed {
            check_type(name, arg, allowed)?;
        }
    }
    apply(name, args)
}

/// The next argument (the arity was checked before).
fn take<'a>(args: &mut impl Iterator<Item = Arg<'a>>) -> Arg<'a> {
    args.next().unwrap_or(Arg::Value(Json::Null))
}

fn value_of(arg: Arg<'_>) -> Json {
    match arg {
        Arg::Value(v) => v,
        Arg::Expref(_) => Json::Null,
    }
}

fn number(n: f64) -> Json {
    Number::from_f64(n).map_or(Json::Null, Json::Number)
}

/// A Python int when the float is whole and fits (`math.ceil` and
/// `math.floor` return ints).
fn whole(n: f64) -> Json {
    if n.abs() < 9.0e15 {
        Json::from(n as i64)
    } else {
        number(n)
    }
}

fn apply(name: &str, args: Vec<Arg<'_>>) -> Result<Json, String> {
    let mut args = args.into_iter();
    Ok(match name {
        "abs" => match value_of(take(&mut args)) {
            Json::Number(n) => match n.as_i64() {
                Some(i) => Json::from(i.unsigned_abs()),
                None => number(as_f64(&n).abs()),
            },
            other => other,
        },
        "ceil" | "floor" => match value_of(take(&mut args)) {
            Json::Number(n) if n.as_i64().is_some() => Json::Number(n),
            Json::Number(n) => whole(if name == "ceil" {
                as_f64(&n).ceil()
            } else {
                as_f64(&n).floor()
            }),
            other => other,
        },
        "avg" => {
            let items = array(value_of(take(&mut args)));
            if items.is_empty() {
                Json::Null
            } else {
                number(items.iter().filter_map(Json::as_f64).sum::<f64>() / items.len() as f64)
            }
        }
        "sum" => sum(&array(value_of(take(&mut args)))),
        "not_null" => {
            let first = args.by_ref().map(value_of).find(|v| !v.is_null());
            first.unwrap_or(Json::Null)
        }
        "to_array" => match value_of(take(&mut args)) {
            Json::Array(items) => Json::Array(items),
            other => Json::Array(vec![other]),
        },
        "to_string" => match value_of(take(&mut args)) {
            Json::String(s) => Json::String(s),
            other => Json::String(compact_json(&other)),
        },
        "to_number" => to_number(value_of(take(&mut args))),
        "type" => Json::String(jmes_type(&value_of(take(&mut args))).to_owned()),
        "contains" => {
            let subject = value_of(take(&mut args));
            let search = value_of(take(&mut args));
            Json::Bool(match (&subject, &search) {
                (Json::String(s), Json::String(needle)) => s.contains(needle.as_str()),
                (Json::String(_), other) => {
                    return Err(format!(
                        "TypeError: 'in <string>' requires string as left operand, not {}",
                        python_type(other)
                    ));
                }
                (Json::Array(items), needle) => items.iter().any(|item| py_eq(item, needle)),
                _ => false,
            })
        }
        "length" => Json::from(match value_of(take(&mut args)) {
            Json::String(s) => s.chars().count(),
            Json::Array(a) => a.len(),
            Json::Object(o) => o.len(),
            _ => 0,
        }),
        "ends_with" | "starts_with" => {
            let subject = value_of(take(&mut args));
            let affix = value_of(take(&mut args));
            let (s, a) = (subject.as_str().unwrap_or(""), affix.as_str().unwrap_or(""));
            Json::Bool(if name == "ends_with" {
                s.ends_with(a)
            } else {
                s.starts_with(a)
            })
        }
        "reverse" => match value_of(take(&mut args)) {
            Json::String(s) => Json::String(s.chars().rev().collect()),
            Json::Array(mut items) => {
                items.reverse();
                Json::Array(items)
            }
            other => other,
        },
        "join" => {
            let separator = value_of(take(&mut args));
            let items = array(value_of(take(&mut args)));
            let parts: Vec<&str> = items.iter().filter_map(Json::as_str).collect();
            Json::String(parts.join(separator.as_str().unwrap_or("")))
        }
        "map" => {
            let Arg::Expref(expression) = take(&mut args) else {
                return Ok(Json::Null);
            };
            let items = array(value_of(take(&mut args)));
            Json::Array(
                items
                    .iter()
                    .map(|item| eval(expression, item))
                    .collect::<Result<_, _>>()?,
            )
        }
        "max" | "min" => {
            let items = array(value_of(take(&mut args)));
            let wanted = if name == "max" {
                Ordering::Greater
            } else {
                Ordering::Less
            };
            extreme(items.iter().map(|item| (item, item)), wanted)
                .cloned()
                .unwrap_or(Json::Null)
        }
        "sort" => {
            let mut items = array(value_of(take(&mut args)));
            items.sort_by(order);
            Json::Array(items)
        }
        "merge" => {
            let mut merged = Map::new();
            for arg in args.by_ref() {
                if let Json::Object(map) = value_of(arg) {
                    merged.extend(map);
                }
            }
            Json::Object(merged)
        }
        "keys" | "values" => match value_of(take(&mut args)) {
            Json::Object(map) if name == "keys" => Json::Array(
                map.keys()
                    .map(|key| brine_common::typed_key::key_as_value(key))
                    .collect(),
            ),
            Json::Object(map) => Json::Array(map.values().cloned().collect()),
            _ => Json::Null,
        },
        "sort_by" | "min_by" | "max_by" => {
            let items = array(value_of(take(&mut args)));
            let Arg::Expref(expression) = take(&mut args) else {
                return Ok(Json::Null);
            };
            by_key(name, items, expression)?
        }
        _ => return Err(format!("Unknown function: {name}()")),
    })
}

fn array(value: Json) -> Vec<Json> {
    match value {
        Json::Array(items) => items,
        _ => Vec::new(),
    }
}

/// Python's `sum()` of numbers: an int while every item is one.
fn sum(items: &[Json]) -> Json {
    if items.iter().all(|i| i.as_i64().is_some()) {
        return Json::from(
            items
                .iter()
                .filter_map(Json::as_i64)
                .fold(0i64, i64::wrapping_add),
        );
    }
    number(items.iter().filter_map(Json::as_f64).sum())
}

/// Numbers numerically, strings by code point (the only orders JMESPath's
/// functions accept; the type checks keep lists homogeneous).
fn order(a: &Json, b: &Json) -> Ordering {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => {
            as_f64(x).partial_cmp(&as_f64(y)).unwrap_or(Ordering::Equal)
        }
        (Json::String(x), Json::String(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

/// The first item whose key is strictly beyond every earlier one (as
/// Python's `max`/`min` keep the first of equals).
fn extreme<'a>(
    pairs: impl Iterator<Item = (&'a Json, &'a Json)>,
    wanted: Ordering,
) -> Option<&'a Json> {
    let mut best: Option<(&Json, &Json)> = None;
    for (item, key) in pairs {
        if best.is_none_or(|(_, best_key)| order(key, best_key) == wanted) {
            best = Some((item, key));
        }
    }
    best.map(|(item, _)| item)
}

fn by_key(name: &str, items: Vec<Json>, expression: &Node) -> Result<Json, String> {
    if items.is_empty() {
        return Ok(if name == "sort_by" {
            Json::Array(items)
        } else {
            Json::Null
        });
    }
    let keys = items
        .iter()
        .map(|item| eval(expression, item))
        .collect::<Result<Vec<_>, _>>()?;
    let allowed: Vec<&str> = if name == "sort_by" {
        let first = jmes_type(&keys[0]);
        if !["number", "string"].contains(&first) {
            return Err(type_error(
                name,
                &Arg::Value(items[0].clone()),
                first,
                &["string", "number"],
            ));
        }
        vec![first]
    } else {
        vec!["number", "string"]
    };
    if let Some(bad) = keys.iter().find(|k| !allowed.contains(&jmes_type(k))) {
        return Err(type_error(
            name,
            &Arg::Value(bad.clone()),
            jmes_type(bad),
            &allowed,
        ));
    }
    if name == "sort_by" {
        let mut pairs: Vec<(Json, Json)> = keys.into_iter().zip(items).collect();
        pairs.sort_by(|(a, _), (b, _)| order(a, b));
        return Ok(Json::Array(
            pairs.into_iter().map(|(_, item)| item).collect(),
        ));
    }
    let wanted = if name == "max_by" {
        Ordering::Greater
    } else {
        Ordering::Less
    };
    Ok(extreme(items.iter().zip(keys.iter()), wanted)
        .cloned()
        .unwrap_or(Json::Null))
}

/// `to_number`: numbers as they are, a string as Python's `int()` then
/// `float()` read it, anything else `null`.
fn to_number(value: Json) -> Json {
    match value {
        Json::Number(n) => Json::Number(n),
        Json::String(text) => {
            let converted = crate::render::filters::text::to_num(Value::from(text.as_str()));
            match to_json(&converted) {
                Ok(Json::Number(n)) => Json::Number(n),
                _ => Json::Null,
            }
        }
        _ => Json::Null,
    }
}

/// `json.dumps(value, separators=(',', ':'))`: compact, non-ASCII escaped.
fn compact_json(value: &Json) -> String {
    let text = brine_common::typed_key::spell_keys(value).to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}
