//! Python's `str()` and `repr()` of template values, for `|string`,
//! `|python`, `%` formatting and `%r`: `None`, `True`, `'quoted'` strings
//! in containers, `[1, 'a']`, `(1,)`, `{'k': 'v'}`, `b'bytes'`.

use brine_common::output::python::{float_repr, str_repr as string_repr};
use minijinja::value::{Value, ValueKind};

/// Python's `str(value)`.
pub(crate) fn py_str(value: &Value) -> String {
    match value.kind() {
        ValueKind::String => value.as_str().unwrap_or_default().to_owned(),
        _ => py_repr(value),
    }
}

/// Python's `repr(value)`; dict keys in their order.
pub(crate) fn py_repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, value, false);
    out
}

/// `pprint.pformat(value)` for values that fit on a line: dict keys sorted.
pub(crate) fn pformat(value: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, value, true);
    out
}

fn write_repr(out: &mut String, value: &Value, sort_keys: bool) {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::Number => out.push_str(&number_repr(value)),
        ValueKind::String => out.push_str(&string_repr(value.as_str().unwrap_or_default())),
        ValueKind::Bytes => out.push_str(&bytes_repr(value.as_bytes().unwrap_or_default())),
        ValueKind::Seq | ValueKind::Iterable => write_seq(out, value, sort_keys),
        ValueKind::Map => write_map(out, value, sort_keys),
        _ => out.push_str(&value.to_string()),
    }
}

fn write_seq(out: &mut String, value: &Value, sort_keys: bool) {
    let items: Vec<Value> = value.try_iter().map(Iterator::collect).unwrap_or_default();
    let (open, close) = if value.is_tuple() {
        ('(', ')')
    } else {
        ('[', ']')
    };
    out.push(open);
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        write_repr(out, item, sort_keys);
    }
    if value.is_tuple() && items.len() == 1 {
        out.push(',');
    }
    out.push(close);
}

fn write_map(out: &mut String, value: &Value, sort_keys: bool) {
    let mut keys: Vec<Value> = value.try_iter().map(Iterator::collect).unwrap_or_default();
    if sort_keys {
        keys.sort();
    }
    out.push('{');
    for (index, key) in keys.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        write_repr(out, key, sort_keys);
        out.push_str(": ");
        write_repr(out, &value.get_item(key).unwrap_or_default(), sort_keys);
    }
    out.push('}');
}

/// Python's `repr` of an int or float (`1.0`, `1e+16`, `1e-05`, `inf`).
pub(crate) fn number_repr(value: &Value) -> String {
    if value.is_integer() {
        return value.to_string();
    }
    let Ok(f) = f64::try_from(value.clone()) else {
        return value.to_string();
    };
    float_repr(f)
}

fn bytes_repr(bytes: &[u8]) -> String {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::from("b");
    out.push(char::from(quote));
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b if b == quote => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(char::from(quote));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_pystr_prints_python_reprs() {
        let value = crate::render::mutable::new_dict([
            (
                Value::from("b"),
                Value::from(vec![Value::from(()), Value::from(true)]),
            ),
            (Value::from("a"), Value::from("it's")),
        ]);
        assert_eq!(py_repr(&value), "{'b': [None, True], 'a': \"it's\"}");
        assert_eq!(pformat(&value), "{'a': \"it's\", 'b': [None, True]}");
        assert_eq!(py_str(&Value::from_bytes(b"abc".to_vec())), "b'abc'");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(2.0), "2.0");
        assert_eq!(float_repr(0.00001), "1e-05");
    }
}
