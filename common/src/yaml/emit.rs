//! A YAML emitter that writes what Salt's `salt.utils.yaml.safe_dump` writes.
//!
//! Salt dumps with PyYAML's `CSafeDumper`, i.e. libyaml's emitter
//! (`src/emitter.c`), with `allow_unicode=True`, indent 2 and width 80. This is
//! a port of that emitter, reduced to what a JSON value needs: no anchors, no
//! tags, no block scalars (the representer never asks for `|` or `>`). The
//! state machine becomes recursion, but the bookkeeping (column, `whitespace`,
//! `indention`, the indent stack) is libyaml's, because the exact places where
//! it breaks lines and indents depend on it.

use serde_json::Value;

use super::resolve::{Tag, represent_float, resolve_plain};
use crate::typed_key::TypedKey;

const BEST_INDENT: usize = 2;
const BEST_WIDTH: usize = 80;
/// libyaml writes a key longer than this (in bytes) as a complex `? key`.
const MAX_SIMPLE_KEY_BYTES: usize = 128;

/// Emits one document holding `value`, in flow style throughout if `flow`.
pub(crate) fn emit(value: &Value, flow: bool) -> String {
    emit_with(value, flow, true)
}

/// [`emit`] with libyaml's `unicode` setting: without it (PyYAML's default
/// `allow_unicode=False`), non-ASCII text is double-quoted and escaped.
pub(crate) fn emit_with(value: &Value, flow: bool, allow_unicode: bool) -> String {
    let mut emitter = Emitter {
        out: String::new(),
        flow_style: flow,
        allow_unicode,
        column: 0,
        whitespace: true,
        indention: true,
        indent: None,
        indents: Vec::new(),
        flow_level: 0,
        context: Context::default(),
    };
    emitter.node(value, Context::default());
    // DOCUMENT-END of an implicit document: just end the line.
    emitter.write_indent();
    emitter.out
}

/// Where the node being emitted sits: the two of libyaml's `*_context` flags
/// that change the output.
#[derive(Debug, Clone, Copy, Default)]
struct Context {
    /// A key or value of a mapping.
    mapping: bool,
    /// A key written as `key:` (not as `? key`).
    simple_key: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
}

struct Emitter {
    out: String,
    /// `default_flow_style=True`: every collection in flow style.
    flow_style: bool,
    /// `allow_unicode`: non-ASCII printable characters are written as they are.
    allow_unicode: bool,
    column: usize,
    /// The last character written was whitespace (or nothing yet).
    whitespace: bool,
    /// Only indentation (and `-`, `?`, `:` indicators) on this line so far.
    indention: bool,
    indent: Option<usize>,
    indents: Vec<Option<usize>>,
    flow_level: usize,
    context: Context,
}

impl Emitter {
    fn node(&mut self, value: &Value, context: Context) {
        self.context = context;
        match value {
            Value::Null => self.scalar("null", true),
            Value::Bool(b) => self.scalar(if *b { "true" } else { "false" }, true),
            Value::Number(n) => {
                let text = match (n.is_f64(), n.as_f64()) {
                    (true, Some(f)) => represent_float(f),
                    _ => n.to_string(),
                };
                self.scalar(&text, true);
            }
            // A string may be written plain only if it would read back as a
            // string (PyYAML's serializer passes this as `plain_implicit`).
            Value::String(s) => self.scalar(s, resolve_plain(s) == Tag::Str),
            Value::Array(items) if self.flow_level > 0 || self.flow_style || items.is_empty() => {
                self.flow_sequence(items);
            }
            Value::Array(items) => self.block_sequence(items),
            Value::Object(map) if self.flow_level > 0 || self.flow_style || map.is_empty() => {
                self.flow_mapping(map);
            }
            Value::Object(map) => self.block_mapping(map),
        }
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        self.indent = Some(match self.indent {
            None if flow => BEST_INDENT,
            None => 0,
            Some(indent) if indentless => indent,
            Some(indent) => indent + BEST_INDENT,
        });
    }

    fn decrease_indent(&mut self) {
        self.indent = self.indents.pop().flatten();
    }

    // Collections.

    fn flow_sequence(&mut self, items: &[Value]) {
        self.write_indicator("[", true, true, false);
        self.increase_indent(true, false);
        self.flow_level += 1;
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.write_indicator(",", false, false, false);
            }
            if self.column > BEST_WIDTH {
                self.write_indent();
            }
            self.node(item, Context::default());
        }
        self.flow_level -= 1;
        self.decrease_indent();
        self.write_indicator("]", false, false, false);
    }

    /// A mapping key: a string, or the plain `null`/`true`/`.inf` PyYAML
    /// writes for a key that is not one ([`crate::typed_key`]).
    fn key(&mut self, key: &str, context: Context) {
        match TypedKey::parse(key) {
            Some(typed) => {
                self.context = context;
                self.scalar(typed.yaml(), true);
            }
            None => self.node(&Value::String(key.to_owned()), context),
        }
    }

    fn flow_mapping(&mut self, map: &serde_json::Map<String, Value>) {
        self.write_indicator("{", true, true, false);
        self.increase_indent(true, false);
        self.flow_level += 1;
        for (i, (key, value)) in map.iter().enumerate() {
            if i > 0 {
                self.write_indicator(",", false, false, false);
            }
            if self.column > BEST_WIDTH {
                self.write_indent();
            }
            if is_simple_key(key) {
                self.key(
                    key,
                    Context {
                        mapping: true,
                        simple_key: true,
                    },
                );
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, false);
                self.key(
                    key,
                    Context {
                        mapping: true,
                        simple_key: false,
                    },
                );
                if self.column > BEST_WIDTH {
                    self.write_indent();
                }
                self.write_indicator(":", true, false, false);
            }
            self.node(
                value,
                Context {
                    mapping: true,
                    simple_key: false,
                },
            );
        }
        self.flow_level -= 1;
        self.decrease_indent();
        self.write_indicator("}", false, false, false);
    }

    fn block_sequence(&mut self, items: &[Value]) {
        // A sequence that is a mapping's value starts on the key's own column
        // ("k:\n- 1"), PyYAML's "indentless" sequence.
        let indentless = self.context.mapping && !self.indention;
        self.increase_indent(false, indentless);
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, Context::default());
        }
        self.decrease_indent();
    }

    fn block_mapping(&mut self, map: &serde_json::Map<String, Value>) {
        self.increase_indent(false, false);
        for (key, value) in map {
            self.write_indent();
            if is_simple_key(key) {
                self.key(
                    key,
                    Context {
                        mapping: true,
                        simple_key: true,
                    },
                );
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, true);
                self.key(
                    key,
                    Context {
                        mapping: true,
                        simple_key: false,
                    },
                );
                self.write_indent();
                self.write_indicator(":", true, false, true);
            }
            self.node(
                value,
                Context {
                    mapping: true,
                    simple_key: false,
                },
            );
        }
        self.decrease_indent();
    }

    // Scalars.

    fn scalar(&mut self, text: &str, plain_implicit: bool) {
        let analysis = Analysis::of(text, self.allow_unicode);
        let style = self.choose_style(&analysis, plain_implicit);
        self.increase_indent(true, false);
        let allow_breaks = !self.context.simple_key;
        match style {
            Style::Plain => self.write_plain(text, allow_breaks),
            Style::SingleQuoted => self.write_single_quoted(text, allow_breaks),
            Style::DoubleQuoted => self.write_double_quoted(text, allow_breaks),
        }
        self.decrease_indent();
    }

    /// libyaml's `yaml_emitter_select_scalar_style`, starting from plain.
    fn choose_style(&self, analysis: &Analysis, plain_implicit: bool) -> Style {
        let in_flow = self.flow_level > 0;
        if self.context.simple_key && analysis.multiline {
            return Style::DoubleQuoted;
        }
        let plain_allowed = if in_flow {
            analysis.flow_plain_allowed
        } else {
            analysis.block_plain_allowed
        };
        let empty_needs_quotes = analysis.empty && (in_flow || self.context.simple_key);
        if plain_allowed && !empty_needs_quotes && plain_implicit {
            Style::Plain
        } else if analysis.single_quoted_allowed {
            Style::SingleQuoted
        } else {
            Style::DoubleQuoted
        }
    }

    fn write_plain(&mut self, text: &str, allow_breaks: bool) {
        if !self.whitespace && (!text.is_empty() || self.flow_level > 0) {
            self.put(' ');
        }
        let mut spaces = false;
        let mut breaks = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == ' ' {
                // Fold at a single space once past the width.
                if allow_breaks && !spaces && self.column > BEST_WIDTH && chars.peek() != Some(&' ')
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single_quoted(&mut self, text: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let mut spaces = false;
        let mut breaks = false;
        let last = text.chars().count().saturating_sub(1);
        let mut chars = text.chars().enumerate().peekable();
        while let Some((i, c)) = chars.next() {
            if c == ' ' {
                let next_is_space = chars.peek().is_some_and(|&(_, next)| next == ' ');
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i != last
                    && !next_is_space
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                // A lone line break would fold into a space; write it twice.
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        if breaks {
            self.write_indent();
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double_quoted(&mut self, text: &str, allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        let mut spaces = false;
        let last = text.chars().count().saturating_sub(1);
        let mut chars = text.chars().enumerate().peekable();
        while let Some((i, c)) = chars.next() {
            if !is_printable(c)
                || (!self.allow_unicode && !c.is_ascii())
                || c == '\u{feff}'
                || is_break(c)
                || c == '"'
                || c == '\\'
            {
                self.write_escape(c);
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && i != 0 && i != last {
                    self.write_indent();
                    // A space starting the next line would be eaten by the
                    // fold, so escape it.
                    if chars.peek().is_some_and(|&(_, next)| next == ' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_escape(&mut self, c: char) {
        self.put('\\');
        let short = match c {
            '\0' => Some('0'),
            '\u{7}' => Some('a'),
            '\u{8}' => Some('b'),
            '\t' => Some('t'),
            '\n' => Some('n'),
            '\u{b}' => Some('v'),
            '\u{c}' => Some('f'),
            '\r' => Some('r'),
            '\u{1b}' => Some('e'),
            '"' => Some('"'),
            '\\' => Some('\\'),
            '\u{85}' => Some('N'),
            '\u{a0}' => Some('_'),
            '\u{2028}' => Some('L'),
            '\u{2029}' => Some('P'),
            _ => None,
        };
        let escape = match short {
            Some(letter) => letter.to_string(),
            None => match u32::from(c) {
                code @ 0..=0xFF => format!("x{code:02X}"),
                code @ 0x100..=0xFFFF => format!("u{code:04X}"),
                code => format!("U{code:08X}"),
            },
        };
        for e in escape.chars() {
            self.put(e);
        }
    }

    // Low-level writers, with libyaml's column and whitespace bookkeeping.

    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for c in indicator.chars() {
            self.put(c);
        }
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn write_indent(&mut self) {
        let indent = self.indent.unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }
}

/// Whether a mapping key can be written as `key: value` rather than as a
/// complex `? key` / `: value` pair (a marker key is short and one line).
fn is_simple_key(key: &str) -> bool {
    key.len() <= MAX_SIMPLE_KEY_BYTES && !key.chars().any(is_break)
}

/// libyaml's `IS_PRINTABLE` (with `allow_unicode`): what may appear unescaped.
/// Note that it stops at U+FFFD: characters beyond the BMP get escaped.
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{a0}'..='\u{d7ff}')
        || (('\u{e000}'..='\u{fffd}').contains(&c) && c != '\u{feff}')
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// libyaml's `IS_BLANKZ`; the end of the text counts too (its NUL terminator).
fn is_blankz(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => matches!(c, ' ' | '\t' | '\0') || is_break(c),
    }
}

/// What a scalar's text allows: libyaml's `yaml_emitter_analyze_scalar`.
#[derive(Debug)]
struct Analysis {
    empty: bool,
    multiline: bool,
    flow_plain_allowed: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
}

impl Analysis {
    fn of(text: &str, allow_unicode: bool) -> Analysis {
        if text.is_empty() {
            return Analysis {
                empty: true,
                multiline: false,
                flow_plain_allowed: false,
                block_plain_allowed: true,
                single_quoted_allowed: true,
            };
        }
        let chars: Vec<char> = text.chars().collect();
        let last = chars.len() - 1;

        // A document marker at the start would end or start a document.
        let document_marker = text.starts_with("---") || text.starts_with("...");
        let mut block_indicators = document_marker;
        let mut flow_indicators = document_marker;
        let mut line_breaks = false;
        let mut special_characters = false;
        let mut leading_space = false;
        let mut leading_break = false;
        let mut trailing_space = false;
        let mut trailing_break = false;
        let mut break_space = false;
        let mut space_break = false;
        let mut previous_space = false;
        let mut previous_break = false;
        let mut preceded_by_whitespace = true;

        for (i, &c) in chars.iter().enumerate() {
            let followed_by_whitespace = is_blankz(chars.get(i + 1).copied());
            if i == 0 {
                if "#,[]{}&*!|>'\"%@`".contains(c) {
                    flow_indicators = true;
                    block_indicators = true;
                }
                if c == '?' || c == ':' {
                    flow_indicators = true;
                    block_indicators |= followed_by_whitespace;
                }
                if c == '-' && followed_by_whitespace {
                    flow_indicators = true;
                    block_indicators = true;
                }
            } else {
                if ",?[]{}".contains(c) {
                    flow_indicators = true;
                }
                if c == ':' {
                    flow_indicators = true;
                    block_indicators |= followed_by_whitespace;
                }
                if c == '#' && preceded_by_whitespace {
                    flow_indicators = true;
                    block_indicators = true;
                }
            }

            special_characters |= !is_printable(c) || (!allow_unicode && !c.is_ascii());
            line_breaks |= is_break(c);

            if c == ' ' {
                leading_space |= i == 0;
                trailing_space |= i == last;
                break_space |= previous_break;
                previous_space = true;
                previous_break = false;
            } else if is_break(c) {
                leading_break |= i == 0;
                trailing_break |= i == last;
                space_break |= previous_space;
                previous_space = false;
                previous_break = true;
            } else {
                previous_space = false;
                previous_break = false;
            }
            preceded_by_whitespace = is_blankz(Some(c));
        }

        let mut flow_plain_allowed = true;
        let mut block_plain_allowed = true;
        let mut single_quoted_allowed = true;
        // Leading and trailing whitespace would be lost in a plain scalar.
        if leading_space || leading_break || trailing_space || trailing_break {
            flow_plain_allowed = false;
            block_plain_allowed = false;
        }
        // Spaces at the start of a continuation line need double quotes.
        if break_space {
            flow_plain_allowed = false;
            block_plain_allowed = false;
            single_quoted_allowed = false;
        }
        if space_break || special_characters {
            flow_plain_allowed = false;
            block_plain_allowed = false;
            single_quoted_allowed = false;
        }
        if line_breaks {
            flow_plain_allowed = false;
            block_plain_allowed = false;
        }
        if flow_indicators {
            flow_plain_allowed = false;
        }
        if block_indicators {
            block_plain_allowed = false;
        }
        Analysis {
            empty: false,
            multiline: line_breaks,
            flow_plain_allowed,
            block_plain_allowed,
            single_quoted_allowed,
        }
    }
}
