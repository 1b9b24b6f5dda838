//! From nodes to JSON values, as Salt's `SaltYamlSafeLoader` constructs them:
//! explicit tags, merge keys flattened Salt's way, duplicate keys refused.

use std::collections::HashSet;
use std::rc::Rc;

use serde_json::{Map, Value};

use super::compose::{Node, NodeKind};
use super::resolve::{
    Scalar, Tag, construct_binary, construct_bool, construct_float, construct_int,
};
use super::{YamlError, YamlErrorKind};

/// PyYAML's context line for errors inside a mapping.
const IN_MAPPING: &str = "while constructing a mapping";

/// The value of a document's root node.
pub(crate) fn construct_document(root: &Node, source: &str) -> Result<Value, YamlError> {
    Constructor { source }.value(root)
}

type Entry = (Rc<Node>, Rc<Node>);

struct Constructor<'a> {
    source: &'a str,
}

impl Constructor<'_> {
    fn error(&self, node: &Node, message: impl Into<String>) -> YamlError {
        node.mark
            .error(self.source, YamlErrorKind::Constructor, message)
    }

    /// An error about `node` inside `mapping`, which PyYAML names as context.
    fn mapping_error(&self, mapping: &Node, node: &Node, message: impl Into<String>) -> YamlError {
        mapping.mark.error_in_context(
            IN_MAPPING,
            node.mark,
            self.source,
            YamlErrorKind::Constructor,
            message,
        )
    }

    /// The error for a tag we have no constructor for, in PyYAML's words.
    fn unknown_tag(&self, node: &Node) -> YamlError {
        let uri = node.tag.uri();
        let message = match uri.strip_prefix("tag:yaml.org,2002:") {
            // PyYAML builds these, but as Python sets and tuples, not JSON.
            Some("set" | "omap" | "pairs") => {
                format!("the tag '{uri}' is not supported (its value has no JSON form)")
            }
            _ => format!("could not determine a constructor for the tag '{uri}'"),
        };
        self.error(node, message)
    }

    fn value(&self, node: &Node) -> Result<Value, YamlError> {
        match (&node.tag, &node.kind) {
            (Tag::Map, NodeKind::Mapping(_)) => self.mapping(node).map(Value::Object),
            (Tag::Seq, NodeKind::Sequence(items)) => items
                .iter()
                .map(|item| self.value(item))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            (Tag::Map, kind) => Err(self.error(
                node,
                format!("expected a mapping node, but found {}", kind.name()),
            )),
            (Tag::Seq, kind) => Err(self.error(
                node,
                format!("expected a sequence node, but found {}", kind.name()),
            )),
            _ => self.scalar(node).map(Scalar::into_value),
        }
    }

    /// A node with a scalar tag: `!!str`, `!!int`, ... (or an unknown tag).
    fn scalar(&self, node: &Node) -> Result<Scalar, YamlError> {
        let text = match &node.kind {
            NodeKind::Scalar(text) => text.as_str(),
            _ if is_scalar_tag(&node.tag) => {
                let kind = node.kind.name();
                return Err(self.error(node, format!("expected a scalar node, but found {kind}")));
            }
            _ => return Err(self.unknown_tag(node)),
        };
        let scalar = match node.tag {
            Tag::Null => Scalar::Null,
            Tag::Bool => Scalar::Bool(construct_bool(text).map_err(|e| self.error(node, e))?),
            Tag::Int => construct_int(text).map_err(|e| self.error(node, e))?,
            Tag::Float => Scalar::Float(construct_float(text).map_err(|e| self.error(node, e))?),
            // Salt constructs timestamps as plain strings.
            Tag::Str | Tag::Timestamp | Tag::PythonUnicode => Scalar::Str(text.to_owned()),
            Tag::Binary => Scalar::Str(construct_binary(text).map_err(|e| self.error(node, e))?),
            _ => return Err(self.unknown_tag(node)),
        };
        Ok(scalar)
    }

    /// A key of `mapping`, which Python requires to be hashable: a scalar.
    fn key(&self, mapping: &Node, node: &Node) -> Result<Scalar, YamlError> {
        match (&node.tag, &node.kind) {
            // Salt's flatten_mapping retags `=` keys as strings.
            (Tag::ValueKey, NodeKind::Scalar(text)) => Ok(Scalar::Str(text.clone())),
            (_, NodeKind::Scalar(_)) => self.scalar(node),
            // Lists and dicts are unhashable in Python.
            _ => Err(self.mapping_error(mapping, node, "found unacceptable key")),
        }
    }

    /// A mapping. Keys are spelled as Salt's JSON output spells them, since
    /// our maps are keyed by strings. A key is a duplicate if Python would
    /// call it one (`1`, `1.0` and `true` are equal there) or if its spelling
    /// is already taken (`1` and `"1"`, which Python would keep apart); the
    /// error names it as Python's `str()` does, as Salt's message does.
    fn mapping(&self, node: &Node) -> Result<Map<String, Value>, YamlError> {
        let mut map = Map::new();
        let mut python_keys = HashSet::new();
        for (key_node, value_node) in self.flatten(node)? {
            let key = self.key(node, &key_node)?;
            let value = self.value(&value_node)?;
            let spelling = key.json_key();
            let shown = key.python_str();
            if !python_keys.insert(PythonKey::of(key)) || map.contains_key(&spelling) {
                let message = format!("found conflicting ID '{shown}'");
                return Err(self.mapping_error(node, &key_node, message));
            }
            map.insert(spelling, value);
        }
        Ok(map)
    }

    /// A mapping's entries with its merge keys (`<<`) expanded, the way Salt's
    /// `flatten_mapping` does it: entries from the merge sources come first, in
    /// order (the mappings of a merged list in reverse, so that the earlier
    /// ones would win in a plain dict), minus those whose key text is also an
    /// explicit key here. Salt then refuses any key that remains twice, so two
    /// sources that share a key are a conflict, not a precedence question.
    fn flatten(&self, node: &Node) -> Result<Vec<Entry>, YamlError> {
        let NodeKind::Mapping(entries) = &node.kind else {
            return Err(self.error(node, "expected a mapping node"));
        };
        let mut merged: Vec<Entry> = Vec::new();
        let mut explicit: Vec<Entry> = Vec::new();
        for (key, value) in entries {
            if key.tag != Tag::Merge {
                explicit.push((Rc::clone(key), Rc::clone(value)));
                continue;
            }
            match &value.kind {
                NodeKind::Mapping(_) => merged.extend(self.flatten(value)?),
                NodeKind::Sequence(sources) => {
                    let mut flattened = Vec::with_capacity(sources.len());
                    for source in sources {
                        if !matches!(source.kind, NodeKind::Mapping(_)) {
                            let kind = source.kind.name();
                            let message =
                                format!("expected a mapping for merging, but found {kind}");
                            return Err(self.mapping_error(node, source, message));
                        }
                        flattened.push(self.flatten(source)?);
                    }
                    merged.extend(flattened.into_iter().rev().flatten());
                }
                NodeKind::Scalar(_) => {
                    let message =
                        "expected a mapping or list of mappings for merging, but found scalar";
                    return Err(self.mapping_error(node, value, message));
                }
            }
        }
        if merged.is_empty() {
            return Ok(explicit);
        }
        let explicit_texts: Vec<&str> = explicit
            .iter()
            .filter_map(|(k, _)| scalar_text(k))
            .collect();
        merged
            .retain(|(key, _)| scalar_text(key).is_none_or(|text| !explicit_texts.contains(&text)));
        merged.extend(explicit);
        Ok(merged)
    }
}

/// A key as Python's dict compares it: numbers by value, whatever their type.
#[derive(Debug, PartialEq, Eq, Hash)]
enum PythonKey {
    Null,
    Integral(i128),
    /// The bits of a float with a fraction (or too big for `i128`).
    Fractional(u64),
    Str(String),
}

impl PythonKey {
    fn of(key: Scalar) -> PythonKey {
        match key {
            Scalar::Null => PythonKey::Null,
            Scalar::Bool(b) => PythonKey::Integral(i128::from(b)),
            Scalar::Int(i) => PythonKey::Integral(i),
            Scalar::Float(f) if f.fract() == 0.0 && f.abs() < 1e38 => {
                PythonKey::Integral(f as i128)
            }
            Scalar::Float(f) => PythonKey::Fractional(f.to_bits()),
            Scalar::Str(s) => PythonKey::Str(s),
        }
    }
}

fn scalar_text(node: &Node) -> Option<&str> {
    match &node.kind {
        NodeKind::Scalar(text) => Some(text),
        _ => None,
    }
}

/// Tags whose PyYAML constructor insists on a scalar node.
fn is_scalar_tag(tag: &Tag) -> bool {
    matches!(
        tag,
        Tag::Null
            | Tag::Bool
            | Tag::Int
            | Tag::Float
            | Tag::Str
            | Tag::Binary
            | Tag::Timestamp
            | Tag::PythonUnicode
    )
}
