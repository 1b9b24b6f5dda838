//! Conversions between minijinja values and the JSON values the host speaks.
//! Lists and maps from the host become mutable (see [`super::mutable`]), so
//! templates can change pillar, grains and module results in place.
//!
//! This is the one place where JSON and template values meet, so it is also
//! where a map key Python holds as `None`, a bool or an infinite float (a
//! marker string in JSON, see [`brine_common::typed_key`]) becomes that
//! typed key for the template, and back: `{{ key }}` prints `None`, and
//! `d[None]` finds it, as in Salt's Jinja.

use brine_common::typed_key::TypedKey;
use minijinja::value::{DynObject, Serde, Value, ValueKind};
use minijinja::{Error, ErrorKind};

use super::mutable::{new_dict, new_list};

/// A template value as JSON (mutable lists and dicts included; undefined is
/// null). A `None`, bool or infinite float map key becomes its marker.
pub(crate) fn to_json(value: &Value) -> Result<serde_json::Value, Error> {
    match value.kind() {
        ValueKind::Map => {
            let Some(pairs) = value.as_object().and_then(DynObject::try_iter_pairs) else {
                return serde_to_json(value);
            };
            let mut map = serde_json::Map::new();
            for (key, item) in pairs {
                map.insert(map_key(&key)?, to_json(&item)?);
            }
            Ok(serde_json::Value::Object(map))
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let items = value.try_iter()?.checked();
            let items = items
                .map(|item| item.and_then(|item| to_json(&item)))
                .collect::<Result<_, _>>()?;
            Ok(serde_json::Value::Array(items))
        }
        _ => serde_to_json(value),
    }
}

fn serde_to_json(value: &Value) -> Result<serde_json::Value, Error> {
    serde_json::to_value(value).map_err(cannot_convert)
}

fn cannot_convert(e: serde_json::Error) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("cannot convert value: {e}"),
    )
}

/// A template map key as a JSON map key: a string as it is, `None`, a bool
/// or an infinite float as its marker, a number as serde_json spells it.
fn map_key(key: &Value) -> Result<String, Error> {
    let typed = match key.kind() {
        ValueKind::String => return Ok(key.as_str().unwrap_or_default().to_owned()),
        ValueKind::None | ValueKind::Undefined => Some(TypedKey::Null),
        ValueKind::Bool => Some(TypedKey::Bool(key.is_true())),
        ValueKind::Number => f64::try_from(key.clone())
            .ok()
            .filter(|f| !f.is_finite())
            .and_then(TypedKey::float),
        _ => None,
    };
    if let Some(typed) = typed {
        return Ok(typed.marker());
    }
    // serde_json's own spelling of other keys (`1` -> "1"), and its error
    // for a key it cannot spell.
    let entry = serde_json::to_value(std::collections::BTreeMap::from([(key, ())]))
        .map_err(cannot_convert)?;
    match entry {
        serde_json::Value::Object(map) => {
            Ok(map.into_iter().next().map(|(k, _)| k).unwrap_or_default())
        }
        _ => Ok(String::new()),
    }
}

/// A JSON value as a template value, its lists and maps mutable, marker
/// keys typed.
pub(crate) fn from_json(value: serde_json::Value) -> Value {
    match value {
        serde_json::Value::Array(items) => new_list(items.into_iter().map(from_json).collect()),
        serde_json::Value::Object(map) => new_dict(
            map.into_iter()
                .map(|(k, v)| (template_key(k), from_json(v))),
        ),
        scalar => Value::from(Serde(scalar)),
    }
}

/// A JSON map key as the template sees it: a marker as its typed key.
fn template_key(key: String) -> Value {
    match TypedKey::parse(&key) {
        None => Value::from(key),
        Some(TypedKey::Null) => Value::from(()),
        Some(TypedKey::Bool(b)) => Value::from(b),
        Some(TypedKey::Float(f)) => Value::from(f),
    }
}

/// `value[key]`, or `None` when it has no such item.
pub(crate) fn lookup(value: &Value, key: &Value) -> Option<Value> {
    value.get_item(key).ok().filter(|v| !v.is_undefined())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn markers() -> [String; 4] {
        [
            TypedKey::Null.marker(),
            TypedKey::Bool(true).marker(),
            TypedKey::Bool(false).marker(),
            TypedKey::Float(f64::INFINITY).marker(),
        ]
    }

    #[test]
    fn marker_keys_are_typed_in_templates_and_round_trip() {
        let [null, yes, no, inf] = markers();
        let data = json!({(null.clone()): "n", "null": "s", (yes.clone()): [{(no.clone()): 1}], (inf.clone()): 2});
        let value = from_json(data.clone());
        let keys: Vec<Value> = value.try_iter().expect("a map").collect();
        assert_eq!(
            keys,
            [
                Value::from(()),
                Value::from("null"),
                Value::from(true),
                Value::from(f64::INFINITY)
            ]
        );
        assert_eq!(lookup(&value, &Value::from(())), Some(Value::from("n")));
        assert_eq!(lookup(&value, &Value::from("null")), Some(Value::from("s")));
        assert_eq!(to_json(&value).expect("converts"), data);
    }

    #[test]
    fn template_made_keys_convert_as_before_or_as_markers() {
        let env = minijinja::Environment::new();
        let made = |expr: &str| {
            let value = env
                .compile_expression(expr)
                .expect("parses")
                .eval(())
                .expect("evaluates");
            to_json(&value).expect("converts")
        };
        let [null, yes, _, _] = markers();
        assert_eq!(
            made("{none: 1, true: 2, 'a': [3], 4: 5}"),
            json!({(null): 1, (yes): 2, "a": [3], "4": 5})
        );
        assert_eq!(made("[1, 'x', none]"), json!([1, "x", null]));
        assert_eq!(made("{1.5: 0}"), json!({"1.5": 0}));
    }
}
