//! Salt's `txt` and `raw` outputters, both built on Python's `str()`.

use super::{python, strip_esc};
use serde_json::Value;

/// `txt`: `minion: line` for every line of a string return (so command output
/// reads as on the minion), `minion: str(value)` for anything else. An empty
/// string has no lines and prints nothing.
pub(super) fn render_txt(entries: &[(&str, &Value)]) -> String {
    let mut out = String::new();
    for (key, value) in entries {
        let key = strip_esc(key);
        match value {
            Value::String(text) => {
                for line in python::splitlines(text) {
                    out.push_str(&format!("{key}: {}\n", strip_esc(line)));
                }
            }
            other => out.push_str(&format!("{key}: {}\n", python::to_str(other))),
        }
    }
    out
}

/// `raw`: `str(data)` of the whole dict, e.g. `{'m1': True}`. String escapes
/// come from `repr`, so nothing raw reaches the terminal.
pub(super) fn render_raw(entries: &[(&str, &Value)]) -> String {
    let items: Vec<String> = entries
        .iter()
        .map(|(key, value)| format!("{}: {}", python::str_repr(key), python::repr(value)))
        .collect();
    format!("{{{}}}", items.join(", "))
}
