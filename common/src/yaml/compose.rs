//! From `yaml-rust2` events to a tree of nodes, as PyYAML's `Composer` does:
//! aliases resolved to the anchored node, tags resolved, positions kept.

use std::collections::HashMap;
use std::rc::Rc;
use std::str::Chars;

use yaml_rust2::parser::{Event, Parser, Tag as EventTag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::resolve::{Tag, resolve_plain};
use super::{Mark, YamlError};

/// The deepest nesting we accept, counting what aliases bring in. Salt gets
/// no deeper either: Python's recursion limit stops its constructor first.
pub(crate) const MAX_DEPTH: usize = 500;

/// The most nodes a document may expand to through aliases. An alias is
/// copied into the JSON value, so without a cap a few lines of nested aliases
/// (the "billion laughs") would take all memory.
pub(crate) const MAX_EXPANDED_NODES: usize = 5_000_000;

#[derive(Debug)]
pub(crate) struct Node {
    pub mark: Mark,
    pub tag: Tag,
    pub kind: NodeKind,
    /// Nodes in this subtree with aliases expanded, and its depth likewise.
    size: usize,
    depth: usize,
}

#[derive(Debug)]
pub(crate) enum NodeKind {
    Scalar(String),
    Sequence(Vec<Rc<Node>>),
    Mapping(Vec<(Rc<Node>, Rc<Node>)>),
}

impl NodeKind {
    /// The kind as PyYAML names it in messages ("expected a mapping node, but
    /// found sequence").
    pub(crate) fn name(&self) -> &'static str {
        match self {
            NodeKind::Scalar(_) => "scalar",
            NodeKind::Sequence(_) => "sequence",
            NodeKind::Mapping(_) => "mapping",
        }
    }
}

/// A collection whose end event has not arrived yet.
struct Open {
    mark: Mark,
    tag: Tag,
    anchor: usize,
    size: usize,
    depth: usize,
    content: OpenContent,
}

enum OpenContent {
    Sequence(Vec<Rc<Node>>),
    Mapping {
        entries: Vec<(Rc<Node>, Rc<Node>)>,
        key: Option<Rc<Node>>,
    },
}

impl Open {
    fn add(&mut self, node: Rc<Node>) {
        self.size = self.size.saturating_add(node.size);
        self.depth = self.depth.max(node.depth + 1);
        match &mut self.content {
            OpenContent::Sequence(items) => items.push(node),
            OpenContent::Mapping { entries, key } => match key.take() {
                Some(key) => entries.push((key, node)),
                None => {
                    // yaml-rust2 marks a block mapping one column after its
                    // first key; PyYAML (and the user) mean the key's position.
                    if entries.is_empty() && node.mark < self.mark {
                        self.mark = node.mark;
                    }
                    *key = Some(node);
                }
            },
        }
    }

    fn close(self) -> Node {
        let kind = match self.content {
            OpenContent::Sequence(items) => NodeKind::Sequence(items),
            OpenContent::Mapping { entries, .. } => NodeKind::Mapping(entries),
        };
        Node {
            mark: self.mark,
            tag: self.tag,
            kind,
            size: self.size,
            depth: self.depth,
        }
    }
}

pub(crate) struct Composer<'a> {
    parser: Parser<Chars<'a>>,
    source: &'a str,
    /// yaml-rust2 numbers anchors itself; a reused name gets a new number.
    anchors: HashMap<usize, Rc<Node>>,
}

impl<'a> Composer<'a> {
    pub(crate) fn new(text: &'a str, source: &'a str) -> Self {
        // PyYAML's reader drops a byte-order mark; yaml-rust2 would make it
        // part of the first scalar.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Composer {
            parser: Parser::new_from_str(text),
            source,
            anchors: HashMap::new(),
        }
    }

    fn next_event(&mut self) -> Result<(Event, Mark), YamlError> {
        match self.parser.next_token() {
            Ok((event, marker)) => Ok((event, to_mark(marker))),
            Err(e) => Err(to_mark(*e.marker()).error(self.source, e.info())),
        }
    }

    /// Skips to the next document and returns the position of its start, or
    /// `None` at the end of the stream. The start event stays unread.
    pub(crate) fn next_document_start(&mut self) -> Result<Option<Mark>, YamlError> {
        loop {
            let (stream_start, stream_end, marker) = match self.parser.peek() {
                Ok((event, marker)) => (
                    *event == Event::StreamStart,
                    *event == Event::StreamEnd,
                    *marker,
                ),
                Err(e) => return Err(to_mark(*e.marker()).error(self.source, e.info())),
            };
            if stream_end {
                return Ok(None);
            }
            if !stream_start {
                return Ok(Some(to_mark(marker)));
            }
            self.next_event()?;
        }
    }

    /// The root node of the next document, or `None` at the end of the stream.
    pub(crate) fn next_document(&mut self) -> Result<Option<Rc<Node>>, YamlError> {
        if self.next_document_start()?.is_none() {
            return Ok(None);
        }
        let (event, mark) = self.next_event()?;
        if event != Event::DocumentStart {
            return Err(mark.error(self.source, format!("expected a document, found {event:?}")));
        }
        // Anchors do not cross documents.
        self.anchors.clear();
        let root = self.compose_node()?;
        let (event, mark) = self.next_event()?;
        if event != Event::DocumentEnd {
            return Err(mark.error(
                self.source,
                format!("expected document end, found {event:?}"),
            ));
        }
        Ok(Some(root))
    }

    /// Reads the events of one node (with everything inside it). Iterative, so
    /// deep input cannot overflow the stack before the depth check sees it.
    fn compose_node(&mut self) -> Result<Rc<Node>, YamlError> {
        let mut open: Vec<Open> = Vec::new();
        loop {
            let (event, mark) = self.next_event()?;
            let node = match event {
                Event::Scalar(value, style, anchor, tag) => {
                    let tag = scalar_tag(&value, style, tag.as_ref());
                    let node = Node {
                        mark,
                        tag,
                        kind: NodeKind::Scalar(value),
                        size: 1,
                        depth: 1,
                    };
                    self.anchored(anchor, node)
                }
                Event::Alias(anchor) => match self.anchors.get(&anchor) {
                    Some(node) => Rc::clone(node),
                    // The anchor is known to the parser but its node is still
                    // open: the alias is inside what it names.
                    None => return Err(mark.error(self.source, "found recursive alias")),
                },
                Event::SequenceStart(anchor, tag) => {
                    self.check_depth(open.len(), mark)?;
                    open.push(open_collection(mark, anchor, tag.as_ref(), true));
                    continue;
                }
                Event::MappingStart(anchor, tag) => {
                    self.check_depth(open.len(), mark)?;
                    open.push(open_collection(mark, anchor, tag.as_ref(), false));
                    continue;
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let Some(done) = open.pop() else {
                        return Err(mark.error(self.source, "unexpected end of collection"));
                    };
                    let anchor = done.anchor;
                    let node = self.checked(done.close())?;
                    self.anchored(anchor, node)
                }
                other => {
                    return Err(mark.error(self.source, format!("unexpected event {other:?}")));
                }
            };
            match open.last_mut() {
                Some(parent) => parent.add(node),
                None => return Ok(node),
            }
        }
    }

    fn check_depth(&self, open: usize, mark: Mark) -> Result<(), YamlError> {
        if open >= MAX_DEPTH {
            let message = format!("document is nested deeper than {MAX_DEPTH} levels");
            return Err(mark.error(self.source, message));
        }
        Ok(())
    }

    /// Enforces the expansion limits on a finished collection.
    fn checked(&self, node: Node) -> Result<Node, YamlError> {
        if node.depth > MAX_DEPTH {
            return Err(node.mark.error(
                self.source,
                format!("document is nested deeper than {MAX_DEPTH} levels through aliases"),
            ));
        }
        if node.size > MAX_EXPANDED_NODES {
            return Err(node.mark.error(
                self.source,
                format!("document expands to more than {MAX_EXPANDED_NODES} nodes through aliases"),
            ));
        }
        Ok(node)
    }

    fn anchored(&mut self, anchor: usize, node: Node) -> Rc<Node> {
        let node = Rc::new(node);
        if anchor != 0 {
            self.anchors.insert(anchor, Rc::clone(&node));
        }
        node
    }
}

fn open_collection(mark: Mark, anchor: usize, tag: Option<&EventTag>, is_sequence: bool) -> Open {
    let default = if is_sequence { Tag::Seq } else { Tag::Map };
    let tag = match tag {
        Some(tag) if !is_non_specific(tag) => Tag::from_uri(&uri(tag)),
        _ => default,
    };
    let content = if is_sequence {
        OpenContent::Sequence(Vec::new())
    } else {
        OpenContent::Mapping {
            entries: Vec::new(),
            key: None,
        }
    };
    Open {
        mark,
        tag,
        anchor,
        size: 1,
        depth: 1,
        content,
    }
}

/// A scalar's tag. Only plain untagged scalars are resolved implicitly; the
/// non-specific tag `!` resolves like a plain scalar even on a quoted one,
/// because PyYAML's parser marks it implicit (`! "123"` is the int 123).
fn scalar_tag(value: &str, style: TScalarStyle, tag: Option<&EventTag>) -> Tag {
    match tag {
        None if style == TScalarStyle::Plain => resolve_plain(value),
        None => Tag::Str,
        Some(tag) if is_non_specific(tag) => resolve_plain(value),
        Some(tag) => Tag::from_uri(&uri(tag)),
    }
}

/// yaml-rust2 gives the lone `!` as an empty handle with suffix `!`.
fn is_non_specific(tag: &EventTag) -> bool {
    tag.handle.is_empty() && tag.suffix == "!"
}

/// yaml-rust2 has already expanded the handle (`!!` into the core prefix).
fn uri(tag: &EventTag) -> String {
    format!("{}{}", tag.handle, tag.suffix)
}

/// yaml-rust2 counts lines from 1 and columns from 0.
fn to_mark(marker: Marker) -> Mark {
    Mark {
        line: marker.line(),
        column: marker.col() + 1,
    }
}
