//! From libyaml's events to a tree of nodes, as the composer of PyYAML's C
//! loader (`yaml._yaml.CParser`, which Salt's `SaltYamlSafeLoader` is built
//! on) does: aliases resolved to the anchored node, tags resolved, positions
//! kept. The events come from `libyaml-safer`, a Rust port of libyaml 0.2.5,
//! the very scanner and parser Salt runs, so what is valid YAML and the
//! words of a syntax error are libyaml's.

use std::collections::HashMap;
use std::rc::Rc;

use libyaml_safer::{Event, EventData, Parser};

use super::resolve::{Tag, resolve_plain};
use super::{Mark, YamlError, YamlErrorContext, YamlErrorKind};

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
    anchor: Option<String>,
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
                None => *key = Some(node),
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

/// Runs `work` with a composer reading `text`. (The parser borrows its input,
/// so the composer lives only as long as this call.)
pub(crate) fn with_composer<T>(
    text: &str,
    source: &str,
    work: impl FnOnce(&mut Composer<'_, '_>) -> Result<T, YamlError>,
) -> Result<T, YamlError> {
    let mut input = text.as_bytes();
    let mut parser = Parser::new();
    parser.set_input_string(&mut input);
    let mut composer = Composer {
        parser,
        source,
        peeked: None,
        anchors: HashMap::new(),
    };
    work(&mut composer)
}

/// An anchor's node, or `None` while the anchored collection is still open.
type Anchored = Option<Rc<Node>>;

pub(crate) struct Composer<'r, 's> {
    parser: Parser<'r>,
    source: &'s str,
    peeked: Option<Event>,
    /// Anchors of the current document, with where each was defined.
    anchors: HashMap<String, (Mark, Anchored)>,
}

impl Composer<'_, '_> {
    fn next_event(&mut self) -> Result<Event, YamlError> {
        if let Some(event) = self.peeked.take() {
            return Ok(event);
        }
        self.parser
            .parse()
            .map_err(|e| libyaml_error(&e, self.source))
    }

    fn peek_event(&mut self) -> Result<&Event, YamlError> {
        let event = self.next_event()?;
        Ok(self.peeked.insert(event))
    }

    /// Skips to the next document and returns the position of its start, or
    /// `None` at the end of the stream. The start event stays unread.
    pub(crate) fn next_document_start(&mut self) -> Result<Option<Mark>, YamlError> {
        loop {
            let event = self.peek_event()?;
            match event.data {
                EventData::StreamEnd => return Ok(None),
                EventData::StreamStart { .. } => {}
                _ => return Ok(Some(to_mark(event.start_mark))),
            }
            self.peeked = None;
        }
    }

    /// The root node of the next document, or `None` at the end of the
    /// stream.
    pub(crate) fn next_document(&mut self) -> Result<Option<Rc<Node>>, YamlError> {
        if self.next_document_start()?.is_none() {
            return Ok(None);
        }
        let event = self.next_event()?;
        let start = to_mark(event.start_mark);
        if !matches!(event.data, EventData::DocumentStart { .. }) {
            return Err(self.error(
                start,
                format!("expected a document, found {:?}", event.data),
            ));
        }
        // Anchors do not cross documents.
        self.anchors.clear();
        let root = self.compose_node()?;
        let event = self.next_event()?;
        if !matches!(event.data, EventData::DocumentEnd { .. }) {
            let mark = to_mark(event.start_mark);
            let message = format!("expected document end, found {:?}", event.data);
            return Err(self.error(mark, message));
        }
        Ok(Some(root))
    }

    fn error(&self, mark: Mark, message: impl Into<String>) -> YamlError {
        mark.error(self.source, YamlErrorKind::Composer, message)
    }

    /// Reads the events of one node (with everything inside it). Iterative, so
    /// deep input cannot overflow the stack before the depth check sees it.
    fn compose_node(&mut self) -> Result<Rc<Node>, YamlError> {
        let mut open: Vec<Open> = Vec::new();
        loop {
            let event = self.next_event()?;
            let mark = to_mark(event.start_mark);
            let node = match event.data {
                EventData::Scalar {
                    anchor,
                    tag,
                    value,
                    plain_implicit,
                    ..
                } => {
                    let tag = scalar_tag(&value, plain_implicit, tag.as_deref());
                    let node = Node {
                        mark,
                        tag,
                        kind: NodeKind::Scalar(value),
                        size: 1,
                        depth: 1,
                    };
                    self.define_anchor(anchor.as_deref(), mark)?;
                    self.anchored(anchor, node)
                }
                EventData::Alias { anchor } => self.alias(&anchor, mark)?,
                EventData::SequenceStart { anchor, tag, .. } => {
                    self.check_depth(open.len(), mark)?;
                    self.define_anchor(anchor.as_deref(), mark)?;
                    open.push(open_collection(mark, anchor, tag.as_deref(), true));
                    continue;
                }
                EventData::MappingStart { anchor, tag, .. } => {
                    self.check_depth(open.len(), mark)?;
                    self.define_anchor(anchor.as_deref(), mark)?;
                    open.push(open_collection(mark, anchor, tag.as_deref(), false));
                    continue;
                }
                EventData::SequenceEnd | EventData::MappingEnd => {
                    let Some(mut done) = open.pop() else {
                        return Err(self.error(mark, "unexpected end of collection"));
                    };
                    let anchor = done.anchor.take();
                    let node = self.checked(done.close())?;
                    self.anchored(anchor, node)
                }
                other => {
                    return Err(self.error(mark, format!("unexpected event {other:?}")));
                }
            };
            match open.last_mut() {
                Some(parent) => parent.add(node),
                None => return Ok(node),
            }
        }
    }

    /// The node an alias names, with PyYAML's error for an unknown anchor.
    fn alias(&self, anchor: &str, mark: Mark) -> Result<Rc<Node>, YamlError> {
        match self.anchors.get(anchor) {
            Some((_, Some(node))) => Ok(Rc::clone(node)),
            // The anchored collection is still open: the alias is inside what
            // it names. Python would build a recursive structure; JSON cannot.
            Some((_, None)) => Err(self.error(mark, "found recursive alias")),
            None => Err(self.error(mark, "found undefined alias")),
        }
    }

    /// Notes where an anchor is defined; PyYAML refuses one defined twice.
    fn define_anchor(&mut self, anchor: Option<&str>, mark: Mark) -> Result<(), YamlError> {
        let Some(anchor) = anchor else {
            return Ok(());
        };
        if let Some((first, _)) = self.anchors.get(anchor) {
            return Err(first.error_in_context(
                "found duplicate anchor; first occurrence",
                mark,
                self.source,
                YamlErrorKind::Composer,
                "second occurrence",
            ));
        }
        self.anchors.insert(anchor.to_owned(), (mark, None));
        Ok(())
    }

    fn check_depth(&self, open: usize, mark: Mark) -> Result<(), YamlError> {
        if open >= MAX_DEPTH {
            let message = format!("document is nested deeper than {MAX_DEPTH} levels");
            return Err(mark.error(self.source, YamlErrorKind::Constructor, message));
        }
        Ok(())
    }

    /// Enforces the expansion limits on a finished collection.
    fn checked(&self, node: Node) -> Result<Node, YamlError> {
        let limit = |message: String| {
            Err(node
                .mark
                .error(self.source, YamlErrorKind::Constructor, message))
        };
        if node.depth > MAX_DEPTH {
            return limit(format!(
                "document is nested deeper than {MAX_DEPTH} levels through aliases"
            ));
        }
        if node.size > MAX_EXPANDED_NODES {
            return limit(format!(
                "document expands to more than {MAX_EXPANDED_NODES} nodes through aliases"
            ));
        }
        Ok(node)
    }

    fn anchored(&mut self, anchor: Option<String>, node: Node) -> Rc<Node> {
        let node = Rc::new(node);
        if let Some((_, slot)) = anchor.and_then(|anchor| self.anchors.get_mut(&anchor)) {
            *slot = Some(Rc::clone(&node));
        }
        node
    }
}

fn open_collection(
    mark: Mark,
    anchor: Option<String>,
    tag: Option<&str>,
    is_sequence: bool,
) -> Open {
    let default = if is_sequence { Tag::Seq } else { Tag::Map };
    let tag = match tag {
        Some(tag) if tag != "!" => Tag::from_uri(tag),
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

/// A scalar's tag, as PyYAML's C composer picks it: without a tag, or with
/// the non-specific `!`, a scalar libyaml calls "plain implicit" (a plain
/// scalar, or `!` on any scalar: `! "123"` is the int 123) goes through the
/// implicit resolver, and any other is a string. libyaml has already expanded
/// a tag's handle (`!!str` is `tag:yaml.org,2002:str`).
fn scalar_tag(value: &str, plain_implicit: bool, tag: Option<&str>) -> Tag {
    match tag {
        None | Some("!") if plain_implicit => resolve_plain(value),
        None | Some("!") => Tag::Str,
        Some(tag) => Tag::from_uri(tag),
    }
}

/// libyaml counts lines and columns from 0.
fn to_mark(mark: libyaml_safer::Mark) -> Mark {
    Mark {
        line: usize::try_from(mark.line)
            .unwrap_or(usize::MAX)
            .saturating_add(1),
        column: usize::try_from(mark.column)
            .unwrap_or(usize::MAX)
            .saturating_add(1),
    }
}

/// A libyaml error as PyYAML's C loader raises it: problem and context, each
/// with its mark.
fn libyaml_error(error: &libyaml_safer::Error, source: &str) -> YamlError {
    use libyaml_safer::ErrorKind;
    let kind = match error.kind() {
        ErrorKind::Scanner => YamlErrorKind::Scanner,
        ErrorKind::Parser => YamlErrorKind::Parser,
        ErrorKind::Composer => YamlErrorKind::Composer,
        ErrorKind::Reader | ErrorKind::Emitter | ErrorKind::Io => YamlErrorKind::Reader,
    };
    let mark = error
        .problem_mark()
        .map(to_mark)
        .unwrap_or(Mark { line: 1, column: 1 });
    if kind == YamlErrorKind::Reader {
        return reader_error(error, mark, source);
    }
    let mut yaml_error = mark.error(source, kind, error.problem());
    if let (Some(text), Some(context_mark)) = (error.context(), error.context_mark()) {
        let context_mark = to_mark(context_mark);
        yaml_error.context = Some(Box::new(YamlErrorContext {
            text: text.to_owned(),
            line: context_mark.line,
            column: context_mark.column,
        }));
    }
    yaml_error
}

/// A reader error as PyYAML words it: `unacceptable character #x0001:
/// control characters are not allowed`, at an offset. libyaml-safer shows
/// the character and offset only in its `Display` ("... (offset 3, value 1)").
fn reader_error(error: &libyaml_safer::Error, mark: Mark, source: &str) -> YamlError {
    let shown = error.to_string();
    let number = |label: &str| -> Option<u64> {
        let start = shown.find(label)? + label.len();
        let digits: String = shown[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    let problem = error.problem();
    let message = match number("value ") {
        Some(value) => format!("unacceptable character #x{value:04x}: {problem}"),
        None => problem.to_owned(),
    };
    YamlError {
        offset: number("offset ").and_then(|o| usize::try_from(o).ok()),
        ..mark.error(source, YamlErrorKind::Reader, message)
    }
}
