//! Salt's default `nested` outputter.
//!
//! Layout, as `salt/output/nested.py` prints it:
//! - a dict prints `key:` lines with each value 4 columns further in; a dict
//!   below the top level is announced by a `----------` line; keys are sorted
//!   (Salt sorts every plain dict, and a minion's return is always one);
//! - a list prints scalars as `- item`; a list or dict inside a list gets a
//!   `|_` line and is printed 2 columns further in;
//! - strings print raw, one output line per line of text, continuation lines
//!   aligned under the first; empty strings, lists and dicts print nothing;
//! - `None`/`True`/`False` and numbers print as Python's `repr`.
//!
//! Colours, when on: keys and `----------` cyan, `|_` and strings green,
//! scalars bold yellow; for a return with a non-zero retcode, keys, `----------`
//! and `|_` turn red. Each coloured piece ends with a reset.

use super::{python, strip_esc};
use crate::typed_key;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;

/// The escape sequences of Salt's default theme (`salt/utils/color.py`:
/// every `TextFormat` starts with a reset, `0;`).
struct Palette {
    cyan: &'static str,
    green: &'static str,
    light_yellow: &'static str,
    red: &'static str,
    endc: &'static str,
}

const COLORS: Palette = Palette {
    cyan: "\x1b[0;36m",
    green: "\x1b[0;32m",
    light_yellow: "\x1b[0;1;33m",
    red: "\x1b[0;31m",
    endc: "\x1b[0;0m",
};

/// With colour off Salt sets every colour to "", so nothing but text remains.
const PLAIN: Palette = Palette {
    cyan: "",
    green: "",
    light_yellow: "",
    red: "",
    endc: "",
};

/// Renders `entries` as a top-level dict (minion id -> return), one string
/// with the lines joined by `\n` and no trailing newline.
pub(super) fn render_top(entries: &[(&str, &Value)], color: bool, retcode: i64) -> String {
    let mut display = Display::new(color, retcode);
    display.dict(entries.to_vec(), 0);
    display.finish()
}

/// Renders any value starting at column `indent` (Salt's `nested_indent`).
pub(super) fn render_value(value: &Value, indent: usize, color: bool) -> String {
    let mut display = Display::new(color, 0);
    display.value(value, indent, "");
    display.finish()
}

/// The lines produced so far, and how to colour them.
struct Display {
    palette: &'static Palette,
    /// Colour of keys and `----------` lines.
    structure: &'static str,
    /// Colour of `|_` lines.
    list_marker: &'static str,
    lines: Vec<String>,
}

impl Display {
    fn new(color: bool, retcode: i64) -> Self {
        let palette = if color { &COLORS } else { &PLAIN };
        let failed = retcode != 0;
        Display {
            palette,
            structure: if failed { palette.red } else { palette.cyan },
            list_marker: if failed { palette.red } else { palette.green },
            lines: Vec::new(),
        }
    }

    fn finish(self) -> String {
        self.lines.join("\n")
    }

    /// One output line: indent, colour, prefix, text, reset, suffix — the
    /// order Salt's `ustring` uses, so the `:` after a key stays uncoloured.
    fn line(&mut self, indent: usize, color: &str, prefix: &str, text: &str, suffix: &str) {
        let endc = self.palette.endc;
        self.lines
            .push(format!("{:indent$}{color}{prefix}{text}{endc}{suffix}", ""));
    }

    fn value(&mut self, value: &Value, indent: usize, prefix: &str) {
        match value {
            Value::Null | Value::Bool(_) | Value::Number(_) => {
                let text = python::repr(value);
                self.line(indent, self.palette.light_yellow, prefix, &text, "");
            }
            Value::String(text) => self.string(text, indent, prefix),
            Value::Array(items) => self.list(items, indent),
            Value::Object(map) => {
                self.dict(map.iter().map(|(k, v)| (k.as_str(), v)).collect(), indent);
            }
        }
    }

    /// Each line of the text; lines after the first are indented by the
    /// width of the prefix so they line up under the first (`- one`, `  two`).
    fn string(&mut self, text: &str, indent: usize, prefix: &str) {
        let continuation = " ".repeat(prefix.chars().count());
        for (index, line) in python::splitlines(text).into_iter().enumerate() {
            let line_prefix = if index == 0 { prefix } else { &continuation };
            self.line(
                indent,
                self.palette.green,
                line_prefix,
                &strip_esc(line),
                "",
            );
        }
    }

    fn list(&mut self, items: &[Value], indent: usize) {
        for item in items {
            match item {
                Value::Array(_) | Value::Object(_) => {
                    self.line(indent, self.list_marker, "", "|_", "");
                    let prefix = if item.is_object() { "" } else { "- " };
                    self.value(item, indent + 2, prefix);
                }
                scalar => self.value(scalar, indent, "- "),
            }
        }
    }

    /// Dicts are only ever reached with an empty prefix (a dict inside a list
    /// is given ""), so keys print flush at `indent`.
    fn dict(&mut self, entries: Vec<(&str, &Value)>, indent: usize) {
        // The top level (indent 0) is the minion-id dict; it has no divider.
        if indent > 0 {
            self.line(indent, self.structure, "", "----------", "");
        }
        for (key, value) in sorted_entries(entries) {
            let key: Cow<str> = strip_esc(typed_key::python_str_key(key));
            self.line(indent, self.structure, "", &key, ":");
            self.value(value, indent + 4, "");
        }
    }
}

/// A dict's entries in the order Salt's `nested` prints them: `sorted()` of
/// the keys (strings by code point, which UTF-8 byte order is too); keys
/// Python cannot compare (`None` beside a string) are first turned into
/// their `str()`, as Salt does on the `TypeError`, so a `True` key and a
/// `'True'` key become one entry holding the later value.
fn sorted_entries<'a>(mut entries: Vec<(&'a str, &'a Value)>) -> Vec<(&'a str, &'a Value)> {
    if typed_key::sort_as_python(&mut entries, |entry| entry.0) {
        return entries;
    }
    let mut by_str: Vec<(&str, &Value)> = Vec::with_capacity(entries.len());
    let mut positions: HashMap<&str, usize> = HashMap::new();
    for (key, value) in entries {
        let key = typed_key::python_str_key(key);
        match positions.get(key) {
            Some(&index) => by_str[index].1 = value,
            None => {
                positions.insert(key, by_str.len());
                by_str.push((key, value));
            }
        }
    }
    by_str.sort_by(|a, b| a.0.cmp(b.0));
    by_str
}
