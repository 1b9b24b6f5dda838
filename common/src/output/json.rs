//! Salt's `json` outputter: Python's `json.dumps(data, indent=...)` with
//! `ensure_ascii=False` (`salt.utils.json.dumps` turns it off).
//!
//! We write the text ourselves rather than through serde_json's formatters
//! because Python differs in the details scripts diff against: the compact
//! form keeps a space after `,` and `:` (`{"a": 1, "b": 2}`), `indent=0` still
//! breaks lines, and floats are Python's `repr` (`1e-05`, `1e+16`).
//! Keys keep their order (Salt does not pass `sort_keys`).

use super::python;
use serde_json::Value;

/// How the text is laid out, from `--out-indent`.
#[derive(Clone, Copy)]
enum Layout {
    /// One line, `", "` between items (negative `--out-indent`).
    Compact,
    /// One item per line, nested `n` spaces per level (`indent=n`, 0 included).
    Indented(usize),
}

impl Layout {
    /// Salt: no `--out-indent` means 4; a negative one means one line.
    fn from_option(indent: Option<i64>) -> Layout {
        match indent {
            None => Layout::Indented(4),
            Some(n) => usize::try_from(n).map_or(Layout::Compact, Layout::Indented),
        }
    }
}

/// Renders `entries` as one JSON object (no trailing newline).
pub(super) fn render_top(entries: &[(&str, &Value)], indent: Option<i64>) -> String {
    let mut writer = Writer {
        out: String::new(),
        layout: Layout::from_option(indent),
    };
    writer.object(entries.iter().copied(), 0);
    writer.out
}

/// Renders any value (a runner's return) the same way (no trailing newline).
pub(super) fn render_value(value: &Value, indent: Option<i64>) -> String {
    let mut writer = Writer {
        out: String::new(),
        layout: Layout::from_option(indent),
    };
    writer.value(value, 0);
    writer.out
}

struct Writer {
    out: String,
    layout: Layout,
}

impl Writer {
    fn value(&mut self, value: &Value, depth: usize) {
        match value {
            Value::Null => self.out.push_str("null"),
            Value::Bool(true) => self.out.push_str("true"),
            Value::Bool(false) => self.out.push_str("false"),
            // Python's json writes floats with float.__repr__ and ints as is.
            Value::Number(number) => self.out.push_str(&python::number_repr(number)),
            Value::String(text) => self.string(text),
            Value::Array(items) => self.array(items, depth),
            Value::Object(map) => self.object(map.iter().map(|(k, v)| (k.as_str(), v)), depth),
        }
    }

    fn array(&mut self, items: &[Value], depth: usize) {
        if items.is_empty() {
            self.out.push_str("[]");
            return;
        }
        self.out.push('[');
        for (index, item) in items.iter().enumerate() {
            self.item_start(index, depth + 1);
            self.value(item, depth + 1);
        }
        self.close(depth);
        self.out.push(']');
    }

    fn object<'a>(
        &mut self,
        entries: impl ExactSizeIterator<Item = (&'a str, &'a Value)>,
        depth: usize,
    ) {
        if entries.len() == 0 {
            self.out.push_str("{}");
            return;
        }
        self.out.push('{');
        for (index, (key, value)) in entries.enumerate() {
            self.item_start(index, depth + 1);
            // A null or bool key prints as `json.dumps` spells it.
            self.string(crate::typed_key::json_key(key));
            self.out.push_str(": ");
            self.value(value, depth + 1);
        }
        self.close(depth);
        self.out.push('}');
    }

    /// The separator before an item: `", "` on one line, or `","` and a new
    /// line indented to `depth` levels.
    fn item_start(&mut self, index: usize, depth: usize) {
        match self.layout {
            Layout::Compact => {
                if index > 0 {
                    self.out.push_str(", ");
                }
            }
            Layout::Indented(width) => {
                if index > 0 {
                    self.out.push(',');
                }
                self.newline(width * depth);
            }
        }
    }

    /// Before the closing bracket: a new line back at the container's level.
    fn close(&mut self, depth: usize) {
        if let Layout::Indented(width) = self.layout {
            self.newline(width * depth);
        }
    }

    fn newline(&mut self, columns: usize) {
        self.out.push('\n');
        self.out.extend(std::iter::repeat_n(' ', columns));
    }

    /// Python's escaping with `ensure_ascii=False`: `"` and `\`, the short
    /// forms `\n \r \t \b \f`, `\u00XX` for other control characters; all
    /// else (DEL, non-ASCII, U+2028) is written as is.
    fn string(&mut self, text: &str) {
        self.out.push('"');
        for ch in text.chars() {
            match ch {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                '\r' => self.out.push_str("\\r"),
                '\t' => self.out.push_str("\\t"),
                '\x08' => self.out.push_str("\\b"),
                '\x0c' => self.out.push_str("\\f"),
                c if c < ' ' => self.out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }
}
