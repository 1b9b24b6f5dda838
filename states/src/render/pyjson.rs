//! Python's `json.dumps(value, sort_keys=True, indent=None, ensure_ascii=True)`,
//! which Salt's `json` filter and Jinja's `tojson` print.

use std::fmt::Write as _;

use brine_common::typed_key::{json_key, sorted_as_python};
use serde_json::Value;

/// Python's `json.dumps(value, indent=indent, sort_keys=sort_keys)`: `", "`
/// and `": "` separators without indent, non-ASCII as `\uXXXX`.
pub(crate) fn dumps_with(value: &Value, indent: Option<usize>, sort_keys: bool) -> String {
    let mut out = String::new();
    let value = if sort_keys {
        sorted_as_python(value)
    } else {
        value.clone()
    };
    write_value(&mut out, &value, indent, 0);
    out
}

fn write_value(out: &mut String, value: &Value, indent: Option<usize>, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                separator(out, indent, depth + 1, index == 0);
                write_value(out, item, indent, depth + 1);
            }
            close(out, indent, depth, ']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (index, (key, item)) in map.iter().enumerate() {
                separator(out, indent, depth + 1, index == 0);
                write_string(out, json_key(key));
                out.push_str(": ");
                write_value(out, item, indent, depth + 1);
            }
            close(out, indent, depth, '}');
        }
    }
}

fn separator(out: &mut String, indent: Option<usize>, depth: usize, first: bool) {
    match indent {
        None if !first => out.push_str(", "),
        None => {}
        Some(width) => {
            if !first {
                out.push(',');
            }
            out.push('\n');
            out.push_str(&" ".repeat(width * depth));
        }
    }
}

fn close(out: &mut String, indent: Option<usize>, depth: usize, bracket: char) {
    if let Some(width) = indent {
        out.push('\n');
        out.push_str(&" ".repeat(width * depth));
    }
    out.push(bracket);
}

fn write_number(out: &mut String, number: &serde_json::Number) {
    match number.as_f64() {
        Some(f) if number.is_f64() && f.fract() == 0.0 && f.abs() < 1e16 => {
            let _ = write!(out, "{f:.1}");
        }
        _ => {
            let _ = write!(out, "{number}");
        }
    }
}

fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7f => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn render_pyjson_sorts_keys_and_uses_python_separators() {
        let value = json!({"b": [1, 2.0, null], "a": "é\"", "c": {}});
        assert_eq!(
            dumps_with(&value, None, true),
            r#"{"a": "\u00e9\"", "b": [1, 2.0, null], "c": {}}"#
        );
        assert_eq!(
            dumps_with(&json!({"a": [1]}), Some(2), true),
            "{\n  \"a\": [\n    1\n  ]\n}"
        );
        assert_eq!(
            dumps_with(&json!({"b": 1, "a": 2}), None, false),
            r#"{"b": 1, "a": 2}"#
        );
    }
}
