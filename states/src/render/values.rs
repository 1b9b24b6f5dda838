//! Conversions between minijinja values and the JSON values the host speaks.

use minijinja::value::{Serde, Value};
use minijinja::{Error, ErrorKind};

/// A template value as JSON (mutable lists and dicts included; undefined is null).
pub(crate) fn to_json(value: &Value) -> Result<serde_json::Value, Error> {
    serde_json::to_value(value).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("cannot convert value: {e}"),
        )
    })
}

/// A JSON value as a template value.
pub(crate) fn from_json(value: serde_json::Value) -> Value {
    Value::from(Serde(value))
}
