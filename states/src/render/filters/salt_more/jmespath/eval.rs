//! Evaluation of a JMESPath tree as jmespath.py's `TreeInterpreter` does
//! it, with Python's equality, ordering and slicing.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value as Json};

use super::functions::call;
use super::lexer::Cmp;
use super::parser::Node;

pub(super) fn eval(node: &Node, value: &Json) -> Result<Json, String> {
    Ok(match node {
        Node::Identity => value.clone(),
        Node::Field(name) => value.get(name).cloned().unwrap_or(Json::Null),
        Node::Literal(json) => json.clone(),
        Node::Subexpression(children) | Node::IndexExpression(children) => {
            let mut current = value.clone();
            for child in children {
                current = eval(child, &current)?;
            }
            current
        }
        Node::Pipe(left, right) => eval(right, &eval(left, value)?)?,
        Node::Index(n) => index(value, *n),
        Node::Slice(parts) => slice(value, *parts)?,
        Node::Projection(left, right) => match eval(left, value)? {
            Json::Array(items) => project(&items, right)?,
            _ => Json::Null,
        },
        Node::ValueProjection(left, right) => match eval(left, value)? {
            Json::Object(map) => {
                project(&map.into_iter().map(|(_, v)| v).collect::<Vec<_>>(), right)?
            }
            _ => Json::Null,
        },
        Node::FilterProjection(left, right, condition) => {
            let Json::Array(items) = eval(left, value)? else {
                return Ok(Json::Null);
            };
            let mut kept = Vec::new();
            for item in &items {
                if is_true(&eval(condition, item)?) {
                    kept.push(item.clone());
                }
            }
            project(&kept, right)?
        }
        Node::Flatten(inner) => match eval(inner, value)? {
            Json::Array(items) => Json::Array(
                items
                    .into_iter()
                    .flat_map(|item| match item {
                        Json::Array(inner) => inner,
                        other => vec![other],
                    })
                    .collect(),
            ),
            _ => Json::Null,
        },
        Node::Comparator(op, left, right) => {
            compare(*op, &eval(left, value)?, &eval(right, value)?)?
        }
        Node::Or(left, right) => {
            let matched = eval(left, value)?;
            if is_true(&matched) {
                matched
            } else {
                eval(right, value)?
            }
        }
        Node::And(left, right) => {
            let matched = eval(left, value)?;
            if is_true(&matched) {
                eval(right, value)?
            } else {
                matched
            }
        }
        Node::Not(inner) => Json::Bool(!is_true(&eval(inner, value)?)),
        Node::MultiList(items) => {
            if value.is_null() {
                return Ok(Json::Null);
            }
            Json::Array(
                items
                    .iter()
                    .map(|n| eval(n, value))
                    .collect::<Result<_, _>>()?,
            )
        }
        Node::MultiHash(pairs) => {
            if value.is_null() {
                return Ok(Json::Null);
            }
            let mut map = Map::new();
            for (key, node) in pairs {
                map.insert(key.clone(), eval(node, value)?);
            }
            Json::Object(map)
        }
        Node::Function(name, args) => call(name, args, value)?,
        Node::Expref(_) => return Err("expref is only valid as a function argument".into()),
    })
}

/// A projection: the right side on each item, `null`s dropped.
fn project(items: &[Json], right: &Node) -> Result<Json, String> {
    let mut collected = Vec::new();
    for item in items {
        let result = eval(right, item)?;
        if !result.is_null() {
            collected.push(result);
        }
    }
    Ok(Json::Array(collected))
}

fn index(value: &Json, n: i64) -> Json {
    let Json::Array(items) = value else {
        return Json::Null;
    };
    let len = items.len() as i64;
    let position = if n < 0 { n + len } else { n };
    usize::try_from(position)
        .ok()
        .and_then(|p| items.get(p))
        .cloned()
        .unwrap_or(Json::Null)
}

/// Python's `list[start:stop:step]`.
fn slice(value: &Json, [start, stop, step]: [Option<i64>; 3]) -> Result<Json, String> {
    let Json::Array(items) = value else {
        return Ok(Json::Null);
    };
    let step = step.unwrap_or(1);
    if step == 0 {
        return Err("ValueError: slice step cannot be zero".into());
    }
    let len = items.len() as i64;
    let (lower, upper) = if step > 0 { (0, len) } else { (-1, len - 1) };
    let clamp = |bound: Option<i64>, default: i64| match bound {
        None => default,
        Some(b) if b < 0 => (b + len).max(lower),
        Some(b) => b.min(upper),
    };
    let mut i = clamp(start, if step > 0 { lower } else { upper });
    let stop = clamp(stop, if step > 0 { upper } else { lower });
    let mut picked = Vec::new();
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        if let Some(item) = usize::try_from(i).ok().and_then(|i| items.get(i)) {
            picked.push(item.clone());
        }
        i += step;
    }
    Ok(Json::Array(picked))
}

/// JMESPath truth: empty strings, lists and objects, `false` and `null`
/// are false; every number is true.
pub(super) fn is_true(value: &Json) -> bool {
    match value {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::String(s) => !s.is_empty(),
        Json::Array(a) => !a.is_empty(),
        Json::Object(o) => !o.is_empty(),
        Json::Number(_) => true,
    }
}

pub(super) fn as_f64(n: &Number) -> f64 {
    n.as_f64().unwrap_or(f64::NAN)
}

/// Python's `==` on decoded JSON (`True == 1`, `1 == 1.0`).
pub(super) fn py_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => as_f64(x) == as_f64(y),
        },
        (Json::Bool(flag), Json::Number(n)) | (Json::Number(n), Json::Bool(flag)) => {
            as_f64(n) == if *flag { 1.0 } else { 0.0 }
        }
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| py_eq(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        _ => a == b,
    }
}

fn compare(op: Cmp, left: &Json, right: &Json) -> Result<Json, String> {
    if matches!(op, Cmp::Eq | Cmp::Ne) {
        let zero_or_one =
            |v: &Json| matches!(v, Json::Number(n) if as_f64(n) == 0.0 || as_f64(n) == 1.0);
        // jmespath.py: 0 and 1 never equal booleans at the top level.
        let special =
            (zero_or_one(left) && right.is_boolean()) || (zero_or_one(right) && left.is_boolean());
        let equal = !special && py_eq(left, right);
        return Ok(Json::Bool(equal == (op == Cmp::Eq)));
    }
    let ordering = match (left, right) {
        (Json::Number(a), Json::Number(b)) => as_f64(a).partial_cmp(&as_f64(b)),
        (Json::String(a), Json::String(b)) => Some(a.cmp(b)),
        (Json::Number(_), Json::String(_)) | (Json::String(_), Json::Number(_)) => {
            return Err(format!(
                "TypeError: '{}' not supported between instances of '{}' and '{}'",
                match op {
                    Cmp::Lt => "<",
                    Cmp::Le => "<=",
                    Cmp::Gt => ">",
                    _ => ">=",
                },
                python_type(left),
                python_type(right)
            ));
        }
        _ => return Ok(Json::Null),
    };
    let Some(ordering) = ordering else {
        return Ok(Json::Bool(false));
    };
    Ok(Json::Bool(match op {
        Cmp::Lt => ordering == Ordering::Less,
        Cmp::Le => ordering != Ordering::Greater,
        Cmp::Gt => ordering == Ordering::Greater,
        _ => ordering != Ordering::Less,
    }))
}

/// Python's type name, for the `TypeError` texts JMESPath's Python
/// implementation raises.
pub(super) use brine_common::output::python::python_type;

/// A value's JMESPath type name.
pub(super) fn jmes_type(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}
