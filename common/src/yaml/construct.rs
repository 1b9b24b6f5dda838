//! From nodes to JSON values, as Salt's `SaltYamlSafeLoader` constructs them:
//! explicit tags, merge keys flattened Salt's way, duplicate keys refused.

use std::cell::RefCell;
use std::collections::{HashSet, VecDeque};
use std::rc::Rc;

use serde_json::Value;

use super::compose::{Node, NodeKind};
use super::resolve::{
    Scalar, Tag, construct_binary, construct_bool, construct_float, construct_int,
};
use super::{YamlError, YamlErrorKind};
use crate::output::python::str_repr;

/// PyYAML's context line for errors inside a mapping.
const IN_MAPPING: &str = "while constructing a mapping";

/// The value of a document's root node.
///
/// Built level by level, as PyYAML's constructor does it (a mapping or
/// sequence inside another is filled in only after every collection above
/// it, through its generators), so that of several errors the one Salt
/// reports comes first: a duplicate key at the top before one deeper down.
pub(crate) fn construct_document(root: &Rc<Node>, source: &str) -> Result<Value, YamlError> {
    construct(root, source, false).map(|(value, _)| value)
}

/// [`construct_document`], and the keys of the root mapping that Python
/// would not hold as strings (`123:`, `true:`, `~:`), in document order:
/// Salt refuses such a state ID, and our string-keyed maps no longer tell
/// them apart. Noted while the root mapping is built, not in a second pass.
pub(crate) fn construct_document_with_root_keys(
    root: &Rc<Node>,
    source: &str,
) -> Result<(Value, Vec<NonStringKey>), YamlError> {
    construct(root, source, true)
}

fn construct(
    root: &Rc<Node>,
    source: &str,
    note_root_keys: bool,
) -> Result<(Value, Vec<NonStringKey>), YamlError> {
    let constructor = Constructor {
        source,
        root_keys: note_root_keys.then(|| RefCell::new(Vec::new())),
    };
    let mut slots = vec![Slot::Pending(Rc::clone(root))];
    let mut queue = VecDeque::from([0]);
    while let Some(index) = queue.pop_front() {
        if let Slot::Pending(node) = &slots[index] {
            let node = Rc::clone(node);
            slots[index] = constructor.fill(&node, index == 0, &mut slots, &mut queue)?;
        }
    }
    let root_keys = constructor
        .root_keys
        .map(RefCell::into_inner)
        .unwrap_or_default();
    Ok((assemble(&mut slots, 0), root_keys))
}

impl NonStringKey {
    /// The key if `key` is not a string.
    fn of(key: &Scalar) -> Option<NonStringKey> {
        let type_name = match key {
            Scalar::Str(_) => return None,
            Scalar::Null => "NoneType",
            Scalar::Bool(_) => "bool",
            Scalar::Int(_) => "int",
            Scalar::Float(_) => "float",
        };
        Some(NonStringKey {
            key: key.map_key(),
            shown: key.python_str(),
            type_name,
        })
    }
}

/// A mapping key that was not a string in the YAML text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonStringKey {
    /// The key as our maps spell it: Python's `str()` of an int or float,
    /// a marker for `None`, a bool or a non-finite float (see
    /// [`crate::typed_key`]).
    pub key: String,
    /// The key as Python's `str()` prints it (`True`, `None`, `1.5`).
    pub shown: String,
    /// Python's type name: `int`, `float`, `bool` or `NoneType`.
    pub type_name: &'static str,
}

/// One value under construction.
enum Slot {
    Done(Value),
    /// A collection whose children are not built yet.
    Pending(Rc<Node>),
    /// A mapping's keys, with the slots of their values.
    Map(Vec<(String, usize)>),
    /// A sequence's item slots.
    Seq(Vec<usize>),
}

/// The finished value of slot `index` (its children's slots are consumed).
fn assemble(slots: &mut [Slot], index: usize) -> Value {
    match std::mem::replace(&mut slots[index], Slot::Done(Value::Null)) {
        Slot::Done(value) => value,
        Slot::Pending(_) => Value::Null,
        Slot::Map(entries) => Value::Object(
            entries
                .into_iter()
                .map(|(key, child)| (key, assemble(slots, child)))
                .collect(),
        ),
        Slot::Seq(items) => Value::Array(
            items
                .into_iter()
                .map(|child| assemble(slots, child))
                .collect(),
        ),
    }
}

/// Whether PyYAML fills `node` later (a mapping or sequence with its own
/// tag); everything else is constructed where it stands.
fn is_deferred(node: &Node) -> bool {
    // The tag picks the constructor, whatever the node's kind: a `!!map` on a
    // scalar fails only when its turn comes.
    matches!(node.tag, Tag::Map | Tag::Seq)
}

type Entry = (Rc<Node>, Rc<Node>);

struct Constructor<'a> {
    source: &'a str,
    /// Where the root mapping's non-string keys are noted, when asked for.
    root_keys: Option<RefCell<Vec<NonStringKey>>>,
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
            _ => format!(
                "could not determine a constructor for the tag {}",
                str_repr(&uri)
            ),
        };
        self.error(node, message)
    }

    /// A node constructed where it stands: a scalar, or a node whose tag
    /// does not fit its kind.
    fn leaf(&self, node: &Node) -> Result<Value, YamlError> {
        match (&node.tag, &node.kind) {
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

    /// The slot for `node` inside a collection being filled: its value, or
    /// a pending slot queued for the next level.
    fn child(
        &self,
        node: &Rc<Node>,
        slots: &mut Vec<Slot>,
        queue: &mut VecDeque<usize>,
    ) -> Result<usize, YamlError> {
        let slot = if is_deferred(node) {
            queue.push_back(slots.len());
            Slot::Pending(Rc::clone(node))
        } else {
            Slot::Done(self.leaf(node)?)
        };
        slots.push(slot);
        Ok(slots.len() - 1)
    }

    /// One level of `node`: a collection's entries, its collections left
    /// pending.
    fn fill(
        &self,
        node: &Rc<Node>,
        is_root: bool,
        slots: &mut Vec<Slot>,
        queue: &mut VecDeque<usize>,
    ) -> Result<Slot, YamlError> {
        match (&node.tag, &node.kind) {
            (Tag::Map, NodeKind::Mapping(_)) => self.mapping(node, is_root, slots, queue),
            (Tag::Seq, NodeKind::Sequence(items)) => items
                .iter()
                .map(|item| self.child(item, slots, queue))
                .collect::<Result<_, _>>()
                .map(Slot::Seq),
            _ => self.leaf(node).map(Slot::Done),
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
            // Lists and dicts are unhashable in Python; Salt's message shows
            // the node's value with `str()`.
            (Tag::Map | Tag::Seq, kind) => {
                let value = match kind {
                    NodeKind::Scalar(text) => text.clone(),
                    _ => node_value_repr(node),
                };
                let message = format!("found unacceptable key {value}");
                Err(self.mapping_error(mapping, node, message))
            }
            _ => self.scalar(node),
        }
    }

    /// A mapping. Our maps are keyed by strings: an int or finite float key
    /// is spelled as Python's `str()` prints it, a null, bool or non-finite
    /// float key as its marker ([`crate::typed_key`]), so that templates
    /// see it typed and `~` and `"null"` stay two keys. A key is a duplicate
    /// if Python would call it one (`1`, `1.0` and `true` are equal there) or
    /// if its spelling is already taken (`1` and `"1"`, which Python would
    /// keep apart); the error names it as Python's `str()` does, as Salt's
    /// message does.
    fn mapping(
        &self,
        node: &Node,
        is_root: bool,
        slots: &mut Vec<Slot>,
        queue: &mut VecDeque<usize>,
    ) -> Result<Slot, YamlError> {
        let mut entries: Vec<(String, usize)> = Vec::new();
        let mut seen = SeenKeys::default();
        for (key_node, value_node) in self.flatten(node)? {
            let key = self.key(node, &key_node)?;
            let value = self.child(&value_node, slots, queue)?;
            if is_root
                && let Some(noted) = &self.root_keys
                && let Some(non_string) = NonStringKey::of(&key)
            {
                noted.borrow_mut().push(non_string);
            }
            let spelling = key.map_key();
            if !seen.first(&spelling, PythonKey::of(&key), &entries) {
                let message = format!("found conflicting ID '{}'", key.python_str());
                return Err(self.mapping_error(node, &key_node, message));
            }
            entries.push((spelling, value));
        }
        Ok(Slot::Map(entries))
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
    fn of(key: &Scalar) -> PythonKey {
        match key {
            Scalar::Null => PythonKey::Null,
            Scalar::Bool(b) => PythonKey::Integral(i128::from(*b)),
            Scalar::Int(i) => PythonKey::Integral(*i),
            Scalar::Float(f) if f.fract() == 0.0 && f.abs() < 1e38 => {
                PythonKey::Integral(*f as i128)
            }
            Scalar::Float(f) => PythonKey::Fractional(f.to_bits()),
            Scalar::Str(s) => PythonKey::Str(s.clone()),
        }
    }
}

/// The keys one mapping has had so far, to refuse a duplicate: one Python
/// calls equal (`1`, `1.0`, `true`) or one spelled the same in our maps
/// (`1` and `"1"`). Most mappings have a handful of keys, and comparing
/// with each is cheaper than hashing every key twice; past
/// [`SeenKeys::LINEAR`] keys the look-up is hashed.
#[derive(Default)]
struct SeenKeys {
    python: Vec<PythonKey>,
    hashed: Option<(HashSet<String>, HashSet<PythonKey>)>,
}

impl SeenKeys {
    const LINEAR: usize = 16;

    /// Remember a key; false when it is a duplicate. `entries` are the
    /// mapping's entries so far (their spellings are the ones seen).
    fn first(&mut self, spelling: &str, python: PythonKey, entries: &[(String, usize)]) -> bool {
        if self.hashed.is_none() {
            if self.python.contains(&python) || entries.iter().any(|(s, _)| s == spelling) {
                return false;
            }
            if self.python.len() < Self::LINEAR {
                self.python.push(python);
                return true;
            }
            let spellings = entries.iter().map(|(s, _)| s.clone()).collect();
            let pythons = self.python.drain(..).collect();
            self.hashed = Some((spellings, pythons));
        }
        let Some((spellings, pythons)) = &mut self.hashed else {
            return false;
        };
        pythons.insert(python) && spellings.insert(spelling.to_owned())
    }
}

/// Python's `repr()` of a PyYAML node's value, as its "found unacceptable
/// key" message shows it: a list of nodes, or of (key, value) node pairs.
fn node_value_repr(node: &Node) -> String {
    match &node.kind {
        NodeKind::Scalar(text) => str_repr(text),
        NodeKind::Sequence(items) => {
            let items: Vec<String> = items.iter().map(|item| node_repr(item)).collect();
            format!("[{}]", items.join(", "))
        }
        NodeKind::Mapping(entries) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|(key, value)| format!("({}, {})", node_repr(key), node_repr(value)))
                .collect();
            format!("[{}]", entries.join(", "))
        }
    }
}

/// `ScalarNode(tag='tag:yaml.org,2002:str', value='x')`, as PyYAML's
/// `Node.__repr__` prints it.
fn node_repr(node: &Node) -> String {
    let class = match node.kind {
        NodeKind::Scalar(_) => "ScalarNode",
        NodeKind::Sequence(_) => "SequenceNode",
        NodeKind::Mapping(_) => "MappingNode",
    };
    let tag = str_repr(&node.tag.uri());
    format!("{class}(tag={tag}, value={})", node_value_repr(node))
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
