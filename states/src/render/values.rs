//! Conversions between minijinja values and the JSON values the host speaks.
//! Lists and maps from the host become mutable (see [`super::mutable`]), so
//! templates can change pillar, grains and module results in place.

use minijinja::value::{Serde, Value};
use minijinja::{Error, ErrorKind};

use super::mutable::{new_dict, new_list};

/// A template value as JSON (mutable lists and dicts included; undefined is null).
pub(crate) fn to_json(value: &Value) -> Result<serde_json::Value, Error> {
    serde_json::to_value(value).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("cannot convert value: {e}"),
        )
    })
}

/// A JSON value as a template value, its lists and maps mutable.
pub(crate) fn from_json(value: serde_json::Value) -> Value {
    match value {
        serde_json::Value::Array(items) => new_list(items.into_iter().map(from_json).collect()),
        serde_json::Value::Object(map) => {
            new_dict(map.into_iter().map(|(k, v)| (Value::from(k), from_json(v))))
        }
        scalar => Value::from(Serde(scalar)),
    }
}

/// `value[key]`, or `None` when it has no such item.
pub(crate) fn lookup(value: &Value, key: &Value) -> Option<Value> {
    value.get_item(key).ok().filter(|v| !v.is_undefined())
}
