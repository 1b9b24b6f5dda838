//! Brine's one Salt-compatible YAML loader, and the YAML emitters.
//!
//! # Loading
//!
//! [`load`] and [`load_all`] read YAML the way Salt's `SaltYamlSafeLoader`
//! (`salt/utils/yamlloader.py`) does: PyYAML's `CSafeLoader` (libyaml's
//! scanner and parser, YAML 1.1), plus Salt's changes. The syntax is judged by
//! `libyaml-safer`, a safe Rust port of libyaml 0.2.5 (vendored with fixes for
//! its panics and CR LF handling: `vendor/libyaml-safer`), so what parses and the
//! words of a syntax error are those Salt gets (libyaml is laxer than YAML
//! 1.2: a continuation line of a quoted scalar or flow collection may be less
//! indented than its key, which wrapped `|yaml` output relies on). Errors
//! carry PyYAML's context and marks; [`YamlError::pyyaml_text`] prints one as
//! Python's `str()` does. Everything after the events is ours, in three steps:
//!
//! 1. `compose` turns events into a node tree (anchors and aliases resolved,
//!    every node carrying its position) and gives each scalar its tag, using
//!    the YAML 1.1 implicit resolver of `resolve` for plain untagged scalars.
//! 2. `construct` turns nodes into `serde_json::Value`s: merge keys `<<`,
//!    duplicate keys as errors, explicit tags.
//! 3. `resolve` also holds the scalar constructors (ints, floats, ...).
//!
//! The rules, all checked against PyYAML 6 and Salt's loader:
//!
//! - Only plain, untagged scalars are resolved implicitly (`!` counts as
//!   untagged, even on a quoted scalar, as in PyYAML). Booleans are the YAML 1.1
//!   words `yes/no/true/false/on/off` in three spellings each (never `y`/`n`);
//!   null is `~`, `null`, `Null`, `NULL` or empty.
//! - Ints: `_` separators, `0x`, `0b`, sexagesimal `1:20` (= 80). Salt strips
//!   leading zeros as *decimal*: `0644` is 644, not octal 420, and `00` is 0.
//!   A signed one is not stripped, so `-0644` is octal, -420, as in Salt.
//! - Floats need a `.`: `1.5`, `.5`, `1.0e+3`, `.inf`, `.nan`, `1:20.5`. As in
//!   PyYAML the exponent needs a sign, so `1e3` and `1.0e3` are strings.
//! - Timestamps stay strings (Salt's change).
//! - Explicit tags: `!!str`, `!!int`, `!!float`, `!!bool`, `!!null`,
//!   `!!binary` (base64, must decode to UTF-8), `!!timestamp` (a string),
//!   `!!map`, `!!seq`, `!!python/unicode` (a string). Any other tag is an error.
//! - A key that appears twice in one mapping is an error, as in Salt
//!   (`found conflicting ID 'x'`); plain PyYAML would keep the last value.
//! - Merge keys follow Salt's `flatten_mapping`: merged entries come first, an
//!   explicit key drops the merged one, and a key that two merge sources both
//!   give is a conflicting ID (Salt's duplicate check sees both; plain PyYAML
//!   would let the earlier source win).
//! - A leading byte-order mark is skipped, as PyYAML's reader does.
//!
//! ## Deviations from Salt/PyYAML
//!
//! JSON cannot hold everything Python can:
//!
//! - Int and float keys become the string Python's `str()` (and Salt's JSON
//!   output) prints for them: `1` -> `"1"`, `1.5` -> `"1.5"`. Null, bool and
//!   non-finite float keys (`~`, `yes`, `.inf`) become reserved marker
//!   strings ([`crate::typed_key`]) that templates see as `None`, `True`,
//!   `inf` and every outputter prints as Salt does, so `~` and `"null"` stay
//!   two keys. Two keys conflict if Python says so (`1`, `1.0` and `true`
//!   are equal there) and also if they are spelled alike, so `{1: a, "1": b}`
//!   is an error here where Python keeps both. A sequence or mapping as a key
//!   is an error, as in Python ("found unacceptable key").
//! - `.inf`, `-.inf` and `.nan` cannot be JSON numbers; they load as the
//!   strings `".inf"`, `"-.inf"` and `".nan"`.
//! - Ints beyond `i64` become `u64` if they fit, else the nearest `f64`.
//! - `!!binary` gives a string (bytes that are not UTF-8 are an error), and
//!   only whitespace may be mixed into the base64 (Python skips any junk).
//! - `!!set`, `!!omap` and `!!pairs` are errors.
//! - An alias inside the collection it names is an error (Python would build
//!   a recursive structure). A key that is a collection is refused with
//!   "found unacceptable key", without Python's dump of the node.
//! - An alias is expanded by copying, so a document that expands past
//!   5,000,000 nodes, or nests deeper than 500 levels, is refused (a "billion
//!   laughs" guard; Python's recursion limit stops Salt before 500 levels).
//!
//! # Emitting
//!
//! [`dump_block`] prints what Salt's `--out yaml` prints and [`dump_flow`] what
//! its Jinja `|yaml` filter prints. Both go through `salt.utils.yaml.safe_dump`,
//! which is PyYAML's `SafeDumper` with `allow_unicode=True`, running on libyaml's
//! C emitter (`CSafeDumper`) wherever PyYAML is built with it, as it is in Salt's
//! packages. `emit` is a port of that emitter, so the output matches
//! `yaml.dump(v, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False)`
//! byte for byte, with keys in insertion order (Salt sorts plain dicts; we keep
//! the order our maps have). libyaml differs from PyYAML's pure-Python emitter
//! only in corners: no `...` after a bare plain scalar, `''` as a simple key,
//! and characters outside the BMP (and U+0085) written as double-quoted escapes.

mod compose;
mod construct;
pub use construct::NonStringKey;
mod emit;
mod resolve;

use std::rc::Rc;

use serde_json::Value;

/// Which stage of loading refused the text, as PyYAML's exception classes
/// name them (Salt reports a scanner error differently from the others).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YamlErrorKind {
    /// A character YAML does not allow (`ReaderError`).
    Reader,
    /// A token could not be read (`ScannerError`).
    Scanner,
    /// The tokens do not make a document (`ParserError`).
    Parser,
    /// Anchors, aliases, documents (`ComposerError`).
    Composer,
    /// The nodes do not make values (`ConstructorError`), or a document past
    /// our size limits.
    Constructor,
}

/// What the loader was in the middle of when it failed ("while parsing a
/// block mapping"), and where that started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlErrorContext {
    pub text: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// A YAML document that could not be read: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}:{line}:{column}: {}{message}", context_prefix(.context))]
pub struct YamlError {
    /// The name the caller gave the text, usually a path.
    pub source_name: String,
    /// 1-based line of the offending node or character.
    pub line: usize,
    /// 1-based column of the offending node or character.
    pub column: usize,
    /// What went wrong, in PyYAML's (libyaml's) or Salt's words.
    pub message: String,
    /// What the loader was doing, when PyYAML says so (boxed: most errors
    /// have none, and the error travels in `Result`s).
    pub context: Option<Box<YamlErrorContext>>,
    pub kind: YamlErrorKind,
    /// For a reader error, the offset PyYAML reports instead of a line.
    pub offset: Option<usize>,
}

fn context_prefix(context: &Option<Box<YamlErrorContext>>) -> String {
    context
        .as_ref()
        .map(|c| format!("{}, ", c.text))
        .unwrap_or_default()
}

impl YamlError {
    /// The error as Python's `str()` prints PyYAML's exception for text
    /// loaded from a Python string: context and problem, each followed by its
    /// mark `  in "<unicode string>", line L, column C` (the context's mark
    /// only where it differs from the problem's).
    pub fn pyyaml_text(&self) -> String {
        let mark = |line: usize, column: usize| {
            format!("  in \"<unicode string>\", line {line}, column {column}")
        };
        if let Some(offset) = self.offset {
            return format!(
                "{}\n  in \"<unicode string>\", position {offset}",
                self.message
            );
        }
        let mut lines = Vec::new();
        if let Some(context) = &self.context {
            lines.push(context.text.clone());
            if (context.line, context.column) != (self.line, self.column) {
                lines.push(mark(context.line, context.column));
            }
        }
        lines.push(self.message.clone());
        lines.push(mark(self.line, self.column));
        lines.join("\n")
    }
}

/// A position in the text, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Mark {
    pub line: usize,
    pub column: usize,
}

impl Mark {
    fn error(
        self,
        source_name: &str,
        kind: YamlErrorKind,
        message: impl Into<String>,
    ) -> YamlError {
        YamlError {
            source_name: source_name.to_owned(),
            line: self.line,
            column: self.column,
            message: message.into(),
            context: None,
            kind,
            offset: None,
        }
    }

    /// An error with PyYAML's context line ("while constructing a mapping")
    /// pointing at `self`, and the problem at `problem_mark`.
    fn error_in_context(
        self,
        context: &str,
        problem_mark: Mark,
        source_name: &str,
        kind: YamlErrorKind,
        message: impl Into<String>,
    ) -> YamlError {
        YamlError {
            context: Some(Box::new(YamlErrorContext {
                text: context.to_owned(),
                line: self.line,
                column: self.column,
            })),
            ..problem_mark.error(source_name, kind, message)
        }
    }
}

/// Parses one YAML document as Salt does. `source` names the text in errors.
///
/// Empty text (or only comments) gives `Value::Null`. A second document in the
/// stream is an error, as with PyYAML's `yaml.load`.
pub fn load(text: &str, source: &str) -> Result<Value, YamlError> {
    match document_root(text, source)? {
        Some(root) => construct::construct_document(&root, source),
        None => Ok(Value::Null),
    }
}

/// [`load`], and the keys of the top-level mapping that were not strings in
/// the text (see [`NonStringKey`]): Salt's state compiler refuses those IDs.
pub fn load_with_top_key_types(
    text: &str,
    source: &str,
) -> Result<(Value, Vec<NonStringKey>), YamlError> {
    match document_root(text, source)? {
        Some(root) => construct::construct_document_with_root_keys(&root, source),
        None => Ok((Value::Null, Vec::new())),
    }
}

/// The root node of the single document in `text` (`None` when empty).
fn document_root(text: &str, source: &str) -> Result<Option<Rc<compose::Node>>, YamlError> {
    compose::with_composer(text, source, |composer| {
        let Some(root) = composer.next_document()? else {
            return Ok(None);
        };
        if let Some(mark) = composer.next_document_start()? {
            // PyYAML points at the first document's root node.
            return Err(root.mark.error_in_context(
                "expected a single document in the stream",
                mark,
                source,
                YamlErrorKind::Composer,
                "but found another document",
            ));
        }
        Ok(Some(root))
    })
}

/// Parses every document of a YAML stream as Salt does.
pub fn load_all(text: &str, source: &str) -> Result<Vec<Value>, YamlError> {
    compose::with_composer(text, source, |composer| {
        let mut documents = Vec::new();
        while let Some(root) = composer.next_document()? {
            documents.push(construct::construct_document(&root, source)?);
        }
        Ok(documents)
    })
}

/// Prints `value` as Salt's `--out yaml` does: block style, a trailing newline.
///
/// Sequences inside a mapping are not indented (`k:\n- 1\n`), empty
/// collections are `{}` and `[]`, and strings are quoted exactly when PyYAML
/// would quote them (`'yes'`, `'0644'`, `''`, ...).
pub fn dump_block(value: &Value) -> String {
    emit::emit(value, false)
}

/// [`dump_block`] with PyYAML's default `allow_unicode=False`, as Salt's
/// `yaml` serializer writes (`file.serialize`): non-ASCII text is
/// double-quoted with `\xE9`/`\u65E5` escapes.
pub fn dump_block_ascii(value: &Value) -> String {
    emit::emit_with(value, false, false)
}

/// Prints `value` as Salt's Jinja `|yaml` filter does: flow style, no trailing
/// newline, e.g. `{a: 1, b: [1, 2]}`.
///
/// Long collections wrap at 80 columns, as libyaml wraps them.
pub fn dump_flow(value: &Value) -> String {
    // The filter strips the dump and drops a trailing "\n..." document end
    // marker; libyaml never writes that marker for these values.
    emit::emit(value, true).trim().to_owned()
}

#[cfg(test)]
mod tests;
