//! What "true" means for a value: Salt reads the truth of a setting or an
//! argument in several ways, and each caller must use the one Salt uses in
//! its place. One function per meaning:
//!
//! - Python's `bool(x)`: [`crate::output::python::truthy`].
//! - [`salt_is_true`]: `salt.utils.data.is_true`, which execution modules
//!   use for their flags (numbers are true only when positive).
//! - [`truthy_after_yaml`]: Python's `bool(x)` of a value Salt's YAML would
//!   have read from a command-line string, so the words `False`, `no`, `off`
//!   and `0` are false (state arguments, runner arguments).
//! - [`affirmative`]: only a yes (a true bool, a non-zero number, or the
//!   words `true`, `yes`, `1`) counts; anything else is false.

use serde_json::Value;

/// Salt's `salt.utils.data.is_true`: a number, or a string that Python's
/// `int()`/`float()` reads as one, is true when it is positive; another
/// string only when it is `true` in any case (no spaces around); anything
/// else by Python's `bool()`.
pub fn salt_is_true(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f > 0.0),
        // Python's int()/float() ignore surrounding whitespace; `lower() ==
        // "true"` does not.
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(f) => f > 0.0,
            Err(_) => s.eq_ignore_ascii_case("true"),
        },
        other => crate::output::python::truthy(other),
    }
}

/// Python's `bool()` of what Salt's YAML makes of a command-line value: the
/// strings `false`, `no`, `off` and `0` (any case) and the empty string are
/// false, as the YAML values they stand for are; any other value by
/// Python's `bool()`.
pub fn truthy_after_yaml(value: &Value) -> bool {
    match value {
        Value::String(s) => !matches!(s.to_lowercase().as_str(), "" | "false" | "no" | "off" | "0"),
        other => crate::output::python::truthy(other),
    }
}

/// A yes and nothing else: `true`, a non-zero number, or the string `true`,
/// `yes` or `1` in any case. Null, other strings, lists and mappings are
/// false.
pub fn affirmative(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => matches!(s.to_lowercase().as_str(), "true" | "yes" | "1"),
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::Null | Value::Array(_) | Value::Object(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::python::truthy;
    use serde_json::json;

    /// One value per row and what each meaning answers for it:
    /// (value, Python's bool, is_true, after YAML, affirmative).
    fn table() -> Vec<(Value, bool, bool, bool, bool)> {
        vec![
            (json!(null), false, false, false, false),
            (json!(true), true, true, true, true),
            (json!(false), false, false, false, false),
            (json!(0), false, false, false, false),
            (json!(1), true, true, true, true),
            (json!(-1), true, false, true, true),
            (json!(0.5), true, true, true, true),
            (json!(""), false, false, false, false),
            (json!("true"), true, true, true, true),
            (json!("True"), true, true, true, true),
            (json!(" true "), true, false, true, false),
            (json!("yes"), true, false, true, true),
            (json!("on"), true, false, true, false),
            (json!("1"), true, true, true, true),
            (json!(" 2 "), true, true, true, false),
            (json!("-1"), true, false, true, false),
            (json!("0"), true, false, false, false),
            (json!("false"), true, false, false, false),
            (json!("No"), true, false, false, false),
            (json!("off"), true, false, false, false),
            (json!("abc"), true, false, true, false),
            (json!([]), false, false, false, false),
            (json!([0]), true, true, true, false),
            (json!({}), false, false, false, false),
            (json!({"a": 1}), true, true, true, false),
        ]
    }

    #[test]
    fn each_meaning_answers_as_its_salt_counterpart() {
        for (value, python, is_true, after_yaml, yes) in table() {
            assert_eq!(truthy(&value), python, "bool({value})");
            assert_eq!(salt_is_true(&value), is_true, "is_true({value})");
            assert_eq!(truthy_after_yaml(&value), after_yaml, "after YAML {value}");
            assert_eq!(affirmative(&value), yes, "affirmative({value})");
        }
    }
}
