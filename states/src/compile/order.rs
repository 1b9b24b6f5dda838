//! Salt's `order_chunks` (3008): a dependency graph of the chunks, one node
//! per chunk (plus a "prereq check" node sharing the chunk of every state
//! another one `prereq`s), an edge from each requisite target to the state
//! naming it, and a topological sort that always takes, among the ready
//! nodes, the least `(order, chunk order, state+name+fun, tag)`, where a
//! node's order is lowered to the least order of the states that need it.
//!
//! `order`: numbers as given (`names` entries `+ n/10000`), none -> `cap`
//! (the first order above 0 plus 100, raised past any larger one), `first`
//! -> 0, `last` -> `cap + 1000000`, negative numbers count back from there.
//!
//! Errors, as Salt words them: a requisite naming nothing ("Referenced state
//! does not exist for requisite [..]") and a cycle ("Recursive requisites
//! were found: ...").

use std::borrow::Cow;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};

use brine_common::output::python;
use brine_common::target::Fnmatch;
use indexmap::{IndexMap, IndexSet};
use serde_json::{Map, Value};

use super::low::SaltChunk;
use super::requisites::{Req, ReqKind};

/// Salt's `RequisiteType`, in its order of precedence (the weight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ReqType {
    Onfail,
    OnfailAny,
    OnfailAll,
    Require,
    RequireAny,
    Onchanges,
    OnchangesAny,
    Watch,
    WatchAny,
    Prereq,
}

impl ReqType {
    /// The types `add_requisites` reads, in its order.
    const READ: [ReqType; 10] = [
        ReqType::Require,
        ReqType::RequireAny,
        ReqType::Watch,
        ReqType::WatchAny,
        ReqType::Prereq,
        ReqType::Onfail,
        ReqType::OnfailAny,
        ReqType::OnfailAll,
        ReqType::Onchanges,
        ReqType::OnchangesAny,
    ];

    fn keyword(self) -> &'static str {
        match self {
            ReqType::Onfail => "onfail",
            ReqType::OnfailAny => "onfail_any",
            ReqType::OnfailAll => "onfail_all",
            ReqType::Require => "require",
            ReqType::RequireAny => "require_any",
            ReqType::Onchanges => "onchanges",
            ReqType::OnchangesAny => "onchanges_any",
            ReqType::Watch => "watch",
            ReqType::WatchAny => "watch_any",
            ReqType::Prereq => "prereq",
        }
    }

    fn weight(self) -> u8 {
        self as u8
    }

    /// The runtime's kind and `_any` flag.
    fn runtime(self) -> (ReqKind, bool) {
        match self {
            ReqType::Onfail | ReqType::OnfailAny => (ReqKind::Onfail, true),
            ReqType::OnfailAll => (ReqKind::Onfail, false),
            ReqType::Require => (ReqKind::Require, false),
            ReqType::RequireAny => (ReqKind::Require, true),
            ReqType::Onchanges => (ReqKind::Onchanges, false),
            ReqType::OnchangesAny => (ReqKind::Onchanges, true),
            ReqType::Watch => (ReqKind::Watch, false),
            ReqType::WatchAny => (ReqKind::Watch, true),
            ReqType::Prereq => (ReqKind::Prereq, false),
        }
    }
}

/// The graph's maps are keyed by our own strings and indices, not by anything
/// an attacker picks for collisions, and are rebuilt for every run: a fast
/// hasher (the graph is most of the compile time of a large tree).
type FastHash = foldhash::fast::RandomState;

/// One node: a chunk (shared by a state and its prereq check node).
struct Node {
    tag: String,
    chunk: usize,
    /// The least order of the states that need this one, once computed.
    child_min: Option<f64>,
}

/// (module or "id", id or name) -> the nodes it names.
type NodesLookup = IndexMap<(String, String), IndexSet<usize, FastHash>, FastHash>;

/// Salt's `DependencyGraph`.
#[derive(Default)]
struct Graph {
    chunks: Vec<SaltChunk>,
    nodes: Vec<Node>,
    by_tag: HashMap<String, usize, FastHash>,
    /// Edges by source: target -> edge types in insertion order.
    out: Vec<IndexMap<usize, Vec<ReqType>, FastHash>>,
    incoming: Vec<IndexMap<usize, Vec<ReqType>, FastHash>>,
    /// (module or "id", id or name) -> nodes, as Salt's `nodes_lookup_map`;
    /// built when the first requisite is resolved ([`Graph::lookup`]), so a
    /// run without requisites never builds it.
    lookup: Option<NodesLookup>,
    sls_nodes: IndexMap<String, IndexSet<usize, FastHash>, FastHash>,
    /// Requisites for the runtime: (owner chunk, kind, any, target chunk).
    runtime: Vec<(usize, ReqKind, bool, usize)>,
}

/// The ordered chunks, each held once: Salt's list (prereq checks included,
/// for `show_*`) and, for the runtime, each state once with its requisites
/// (`reqs[i]` belongs to the `i`th state of [`Ordered::run`]).
pub struct Ordered {
    chunks: Vec<SaltChunk>,
    /// Salt's order as indices into `chunks` (a prereq'd chunk twice).
    shown: Vec<usize>,
    /// Run order as indices into `chunks`, each state once.
    run: Vec<usize>,
    pub reqs: Vec<Vec<Req>>,
}

impl Ordered {
    /// Salt's ordered chunk list, as `state.show_lowstate` prints it.
    pub fn into_salt_chunks(self) -> Vec<SaltChunk> {
        let mut owned: Vec<Option<SaltChunk>> = self.chunks.into_iter().map(Some).collect();
        let mut remaining = vec![0usize; owned.len()];
        for &c in &self.shown {
            remaining[c] += 1;
        }
        self.shown
            .iter()
            .map(|&c| {
                remaining[c] -= 1;
                if remaining[c] == 0 {
                    owned[c].take().unwrap_or_default()
                } else {
                    owned[c].clone().unwrap_or_default()
                }
            })
            .collect()
    }

    /// The states in run order, each once, with their requisites.
    pub fn into_run(self) -> (Vec<SaltChunk>, Vec<Vec<Req>>) {
        let mut owned: Vec<Option<SaltChunk>> = self.chunks.into_iter().map(Some).collect();
        let run = self
            .run
            .iter()
            .map(|&c| owned[c].take().unwrap_or_default())
            .collect();
        (run, self.reqs)
    }
}

/// A chunk field as Python's `str()` prints it (borrowed when it is a string,
/// as nearly every field is).
fn text(v: Option<&Value>) -> Cow<'_, str> {
    match v {
        Some(Value::String(s)) => Cow::Borrowed(s),
        Some(other) => Cow::Owned(python::to_str(other)),
        None => Cow::Borrowed(""),
    }
}

/// Salt's `_gen_tag`.
pub fn gen_tag(chunk: &SaltChunk) -> String {
    format!(
        "{}_|-{}_|-{}_|-{}",
        text(chunk.get("state")),
        text(chunk.get("__id__")),
        text(chunk.get("name")),
        text(chunk.get("fun"))
    )
}

fn is_pattern(value: &str) -> bool {
    value.contains(['*', '?', '[', ']'])
}

fn fnmatch(text: &str, pattern: &str) -> bool {
    Fnmatch::new(pattern).is_ok_and(|g| g.is_match(text))
}

impl Graph {
    fn add_node(&mut self, tag: String, chunk: usize) -> usize {
        let i = self.nodes.len();
        self.by_tag.insert(tag.clone(), i);
        self.nodes.push(Node {
            tag,
            chunk,
            child_min: None,
        });
        self.out.push(IndexMap::default());
        self.incoming.push(IndexMap::default());
        i
    }

    fn add_edge(&mut self, source: usize, target: usize, kind: ReqType) {
        let types = self.out[source].entry(target).or_default();
        if !types.contains(&kind) {
            types.push(kind);
            self.incoming[target].entry(source).or_default().push(kind);
        }
    }

    /// Salt's `add_chunk`.
    fn add_chunk(&mut self, chunk: SaltChunk) {
        let index = self.chunks.len();
        let node = self.add_node(gen_tag(&chunk), index);
        debug_assert_eq!(node, index, "chunks are added before any other node");
        if let Some(sls) = chunk.get("__sls__").and_then(Value::as_str) {
            match self.sls_nodes.get_mut(sls) {
                Some(nodes) => {
                    nodes.insert(node);
                }
                None => {
                    let nodes = IndexSet::from_iter([node]);
                    self.sls_nodes.insert(sls.to_string(), nodes);
                }
            }
        }
        for sls in chunk
            .get("__sls_included_from__")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.sls_nodes
                .entry(python::to_str(sls))
                .or_default()
                .insert(node);
        }
        self.chunks.push(chunk);
    }

    fn check_tag(tag: &str) -> String {
        format!("{tag}_|-__prereq_test__")
    }

    /// Salt's `_add_prereq`: `node` prereqs `target`.
    fn add_prereq(&mut self, node: usize, target: usize) {
        let (node_chunk, target_chunk) = (self.nodes[node].chunk, self.nodes[target].chunk);
        self.chunks[node_chunk].insert("__prerequiring__".into(), Value::Bool(true));
        self.chunks[target_chunk].insert("__prereq__".into(), Value::Bool(true));
        let check_tag = Self::check_tag(&self.nodes[target].tag);
        let check = match self.by_tag.get(&check_tag) {
            Some(&c) => c,
            None => {
                let c = self.add_node(check_tag, target_chunk);
                let deps: Vec<(usize, ReqType)> = self.incoming[target]
                    .iter()
                    .flat_map(|(s, ts)| ts.iter().map(move |t| (*s, *t)))
                    .filter(|(_, t)| *t != ReqType::Prereq)
                    .collect();
                for (source, kind) in deps {
                    self.add_edge(source, c, kind);
                }
                c
            }
        };
        self.add_edge(check, node, ReqType::Prereq);
        self.add_edge(node, target, ReqType::Require);
        if let Some(&own_check) = self.by_tag.get(&Self::check_tag(&self.nodes[node].tag)) {
            self.add_edge(check, own_check, ReqType::Prereq);
        }
        self.runtime
            .push((node_chunk, ReqKind::Prereq, false, target_chunk));
        self.runtime
            .push((target_chunk, ReqKind::Prerequired, false, node_chunk));
    }

    /// Salt's `_add_reqs`.
    fn add_reqs(&mut self, node: usize, kind: ReqType, targets: &[usize]) {
        let chunk = self.nodes[node].chunk;
        let has_check = self.chunks[chunk].get("__prereq__") == Some(&Value::Bool(true));
        for &target in targets {
            if kind == ReqType::Prereq {
                self.add_prereq(node, target);
                continue;
            }
            if has_check
                && let Some(&check) = self.by_tag.get(&Self::check_tag(&self.nodes[node].tag))
            {
                self.add_edge(target, check, kind);
            }
            self.add_edge(target, node, kind);
            let (rk, any) = kind.runtime();
            self.runtime
                .push((chunk, rk, any, self.nodes[target].chunk));
        }
    }

    /// Salt's `add_dependency`: whether the requisite found a target.
    /// Salt's `nodes_lookup_map`, built on first use, keys in Salt's order:
    /// of the chunks' own nodes, which are the first ones, node `i` for
    /// chunk `i` (every chunk is added before any requisite is resolved;
    /// the prereq check nodes that resolving adds are not looked up).
    fn lookup(&mut self) -> &NodesLookup {
        let chunks = &self.chunks;
        self.lookup.get_or_insert_with(|| {
            let mut lookup = NodesLookup::default();
            for (node, chunk) in chunks.iter().enumerate() {
                let state = text(chunk.get("state")).into_owned();
                let (name, id) = (
                    text(chunk.get("name")).into_owned(),
                    text(chunk.get("__id__")).into_owned(),
                );
                for key in [
                    (state.clone(), name.clone()),
                    (state, id.clone()),
                    ("id".into(), id),
                    ("id".into(), name),
                ] {
                    lookup.entry(key).or_default().insert(node);
                }
            }
            lookup
        })
    }

    fn add_dependency(&mut self, node: usize, kind: ReqType, key: &str, val: &str) -> bool {
        let mut targets: Vec<usize> = Vec::new();
        let found = if key == "sls" {
            if is_pattern(val) {
                for (sls, nodes) in &self.sls_nodes {
                    if fnmatch(sls, val) {
                        targets.extend(nodes.iter().copied());
                    }
                }
                true
            } else {
                targets.extend(self.sls_nodes.get(val).into_iter().flatten().copied());
                !targets.is_empty()
            }
        } else if is_pattern(val) {
            for ((state, name), nodes) in self.lookup() {
                if state == key && fnmatch(name, val) {
                    targets.extend(nodes.iter().copied());
                }
            }
            !targets.is_empty()
        } else {
            let key = (key.to_string(), val.to_string());
            targets.extend(self.lookup().get(&key).into_iter().flatten().copied());
            !targets.is_empty()
        };
        self.add_reqs(node, kind, &targets);
        found
    }

    /// Salt's `add_requisites` for one chunk: its first error, if any.
    fn add_requisites(&mut self, node: usize) -> Option<String> {
        let requisites = match requisites_of(&self.chunks[self.nodes[node].chunk]) {
            Ok(r) => r,
            Err(e) => return Some(e),
        };
        for (kind, key, val) in requisites {
            if !self.add_dependency(node, kind, &key, &val) {
                let chunk = &self.chunks[self.nodes[node].chunk];
                return Some(format!(
                    "Referenced state does not exist for requisite [{}: ({key}: {val})] {}",
                    kind.keyword(),
                    where_(chunk)
                ));
            }
        }
        None
    }

    /// Salt's `_get_chunk_order`: (order lowered to its dependents', own order).
    fn chunk_order(&mut self, cap: f64, node: usize) -> (f64, f64) {
        let ci = self.nodes[node].chunk;
        let mut order = normalise_order(&mut self.chunks[ci], cap);
        if let Some(n) = self.chunks[ci]
            .shift_remove("name_order")
            .and_then(|v| v.as_f64())
            && n != 0.0
        {
            order += n / 10000.0;
            self.chunks[ci].insert("order".into(), number(order));
        }
        if order < 0.0 {
            order += cap + 1_000_000.0;
            self.chunks[ci].insert("order".into(), number(order));
        }
        if self.nodes[node].child_min.is_none() {
            let mut child_min = f64::INFINITY;
            let mut req_order: i16 = -1;
            let edges: Vec<(usize, ReqType)> = self.out[node]
                .iter()
                .flat_map(|(t, ks)| ks.iter().map(move |k| (*t, *k)))
                .collect();
            for (child, kind) in edges {
                if req_order <= i16::from(kind.weight()) {
                    req_order = i16::from(kind.weight());
                    let cc = self.nodes[child].chunk;
                    let child_order = match self.chunks[cc].get("order") {
                        None => f64::INFINITY,
                        Some(_) => normalise_order(&mut self.chunks[cc], cap),
                    };
                    child_min = child_min.min(child_order);
                }
            }
            self.nodes[node].child_min = Some(child_min);
            order = order.min(child_min);
        }
        let own = self.chunks[ci]
            .get("order")
            .and_then(Value::as_f64)
            .unwrap_or(cap);
        (order, own)
    }
}

/// A chunk's requisites as `(type, module or "id" or "sls", target)`, in
/// the order Salt reads them, or the error of the first malformed one
/// (entries with a null target are skipped, as Salt skips them).
fn requisites_of(chunk: &SaltChunk) -> Result<Vec<(ReqType, String, String)>, String> {
    let mut found = Vec::new();
    // Most chunks have none: one pass over the keys instead of ten lookups.
    if !chunk
        .keys()
        .any(|k| ReqType::READ.iter().any(|kind| kind.keyword() == k))
    {
        return Ok(found);
    }
    for kind in ReqType::READ {
        let Some(Value::Array(reqs)) = chunk.get(kind.keyword()) else {
            continue;
        };
        for req in reqs {
            let (key, val) = match req {
                Value::Object(o) => match o.iter().next() {
                    Some((k, v)) => (k.split('.').next().unwrap_or(k).to_string(), v),
                    None => continue,
                },
                other => {
                    found.push((kind, "id".to_string(), python::to_str(other)));
                    continue;
                }
            };
            match val {
                Value::Null => {}
                Value::String(s) => found.push((kind, key, s.clone())),
                _ => {
                    return Err(format!(
                        "Requisite [{}: {key}] {} must have a string as the value",
                        kind.keyword(),
                        where_(chunk)
                    ));
                }
            }
        }
    }
    Ok(found)
}

/// "in state [name] in SLS [sls]", as Salt's requisite errors end.
fn where_(chunk: &SaltChunk) -> String {
    format!(
        "in state [{}] in SLS [{}]",
        text(chunk.get("name")),
        chunk
            .get("__sls__")
            .map(python::to_str)
            .unwrap_or_else(|| "None".into())
    )
}

/// A chunk's order as a number, writing back what `first`/`last`/none become.
fn normalise_order(chunk: &mut SaltChunk, cap: f64) -> f64 {
    if let Some(n) = chunk.get("order").and_then(Value::as_f64)
        && !chunk.get("order").is_some_and(Value::is_boolean)
    {
        return n;
    }
    let order = match chunk.get("order").and_then(Value::as_str) {
        Some("last") => cap + 1_000_000.0,
        Some("first") => 0.0,
        _ => cap,
    };
    chunk.insert("order".into(), number(order));
    order
}

/// An order as JSON: an integer when it is one (as Salt's ints print).
fn number(order: f64) -> Value {
    if order.fract() == 0.0 && order.abs() < 9.0e15 {
        Value::from(order as i64)
    } else {
        Value::from(order)
    }
}

/// A heap entry: Salt's sort key, least first.
struct Key(f64, f64, String, String, usize);

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .total_cmp(&other.0)
            .then(self.1.total_cmp(&other.1))
            .then_with(|| self.2.cmp(&other.2))
            .then_with(|| self.3.cmp(&other.3))
    }
}

/// Order `chunks` as Salt does, or Salt's errors.
pub fn order_chunks(chunks: Vec<SaltChunk>) -> Result<Ordered, Vec<String>> {
    let mut graph = Graph::default();
    for chunk in chunks {
        graph.add_chunk(chunk);
    }
    let mut cap: i64 = 1;
    let mut errors = Vec::new();
    for node in 0..graph.chunks.len() {
        if let Some(e) = graph.add_requisites(node) {
            errors.push(e);
            continue;
        }
        let order = graph.chunks[node].get("order");
        if let Some(n) = order.and_then(Value::as_i64)
            && n > cap - 1
            && n > 0
        {
            cap = n + 100;
        }
    }
    let sorted = topological(&mut graph, cap as f64);
    if sorted.len() != graph.nodes.len() {
        errors.push(format!(
            "Recursive requisites were found: {}",
            cycle_text(&graph)
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(finish(graph, &sorted))
}

/// Salt's `lexicographical_topological_sort` keyed by `_get_chunk_order`.
fn topological(graph: &mut Graph, cap: f64) -> Vec<usize> {
    let mut in_degree: Vec<usize> = graph
        .incoming
        .iter()
        .map(|m| m.values().map(Vec::len).sum())
        .collect();
    let mut heap = BinaryHeap::new();
    let key = |graph: &mut Graph, node: usize| {
        let (order, own) = graph.chunk_order(cap, node);
        let chunk = &graph.chunks[graph.nodes[node].chunk];
        let label = format!(
            "{}{}{}",
            text(chunk.get("state")),
            text(chunk.get("name")),
            text(chunk.get("fun"))
        );
        Reverse(Key(order, own, label, graph.nodes[node].tag.clone(), node))
    };
    let ready: Vec<usize> = (0..graph.nodes.len())
        .filter(|&n| in_degree[n] == 0)
        .collect();
    for node in ready {
        let k = key(graph, node);
        heap.push(k);
    }
    let mut sorted = Vec::new();
    while let Some(Reverse(Key(.., node))) = heap.pop() {
        sorted.push(node);
        let targets: Vec<(usize, usize)> = graph.out[node]
            .iter()
            .map(|(t, ks)| (*t, ks.len()))
            .collect();
        for (target, n) in targets {
            in_degree[target] -= n;
            if in_degree[target] == 0 {
                let k = key(graph, target);
                heap.push(k);
            }
        }
    }
    sorted
}

/// Salt's `get_cycles_str` for the first cycle a depth-first search finds.
fn cycle_text(graph: &Graph) -> String {
    let cycle = find_cycle(graph);
    let chunk_str = |node: usize| {
        let chunk = &graph.chunks[graph.nodes[node].chunk];
        let id = text(chunk.get("__id__"));
        let name = text(chunk.get("name"));
        let mut s = format!(
            "{{'SLS': {}, 'ID': {}",
            python::str_repr(&text(chunk.get("__sls__"))),
            python::str_repr(&id)
        );
        if id != name {
            s.push_str(&format!(", 'NAME': {}", python::str_repr(&name)));
        }
        s.push('}');
        s
    };
    cycle
        .iter()
        .map(|&(dependency, dependent, kind)| {
            let dependent_chunk = &graph.chunks[graph.nodes[dependent].chunk];
            let kind = if kind == ReqType::Require && !dependent_chunk.contains_key("require") {
                ReqType::Prereq
            } else {
                kind
            };
            format!(
                "({}, '{}', {})",
                chunk_str(dependent),
                kind.keyword(),
                chunk_str(dependency)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Salt's `find_cycle`: (source, target, type) edges of the first cycle found.
fn find_cycle(graph: &Graph) -> Vec<(usize, usize, ReqType)> {
    #[derive(Clone, Copy, PartialEq)]
    enum Color {
        White,
        Gray,
        Black,
    }
    struct Dfs<'g> {
        graph: &'g Graph,
        color: Vec<Color>,
        parent: HashMap<usize, (usize, ReqType)>,
    }
    impl Dfs<'_> {
        fn visit(&mut self, node: usize) -> Option<Vec<(usize, usize, ReqType)>> {
            self.color[node] = Color::Gray;
            for (&target, kinds) in &self.graph.out[node] {
                for &kind in kinds {
                    match self.color[target] {
                        Color::Gray => {
                            let mut cycle = vec![(node, target, kind)];
                            let mut current = node;
                            while current != target {
                                let (prev, k) = self.parent[&current];
                                cycle.push((prev, current, k));
                                current = prev;
                            }
                            cycle.reverse();
                            return Some(cycle);
                        }
                        Color::White => {
                            self.parent.insert(target, (node, kind));
                            if let Some(c) = self.visit(target) {
                                return Some(c);
                            }
                        }
                        Color::Black => {}
                    }
                }
            }
            self.color[node] = Color::Black;
            None
        }
    }
    let mut dfs = Dfs {
        graph,
        color: vec![Color::White; graph.nodes.len()],
        parent: HashMap::new(),
    };
    for node in 0..graph.nodes.len() {
        if dfs.color[node] == Color::White
            && let Some(c) = dfs.visit(node)
        {
            return c;
        }
    }
    Vec::new()
}

/// The sorted chunks for `show_*` and, each state once, for the runtime.
fn finish(graph: Graph, sorted: &[usize]) -> Ordered {
    let shown: Vec<usize> = sorted.iter().map(|&n| graph.nodes[n].chunk).collect();
    let real: Vec<usize> = sorted
        .iter()
        .copied()
        .filter(|&n| graph.nodes[n].chunk == n)
        .collect();
    let position: HashMap<usize, usize> = real.iter().enumerate().map(|(i, &c)| (c, i)).collect();
    let mut reqs: Vec<Vec<Req>> = vec![Vec::new(); real.len()];
    for &(owner, kind, any, target) in &graph.runtime {
        let (Some(&o), Some(&t)) = (position.get(&owner), position.get(&target)) else {
            continue;
        };
        let req = Req {
            kind,
            any,
            target: t,
        };
        if o != t && !reqs[o].contains(&req) {
            reqs[o].push(req);
        }
    }
    let run: Vec<&SaltChunk> = real.iter().map(|&c| &graph.chunks[c]).collect();
    add_listeners(&run, &mut reqs);
    Ordered {
        chunks: graph.chunks,
        shown,
        run: real,
        reqs,
    }
}

/// `listen` / `listen_in`: the states (by module and id or name) whose
/// changes trigger a deferred `mod_watch` (Salt's `call_listen`).
fn add_listeners(run: &[&SaltChunk], reqs: &mut [Vec<Req>]) {
    for (i, chunk) in run.iter().enumerate() {
        for (key, reverse) in [("listen", false), ("listen_in", true)] {
            for entry in chunk
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some((lkey, lval)) = listen_target(entry) else {
                    continue;
                };
                for (j, other) in run.iter().enumerate() {
                    let hit = text(other.get("state")) == lkey
                        && (text(other.get("__id__")) == lval || text(other.get("name")) == lval);
                    if hit && i != j {
                        let (owner, target) = if reverse { (j, i) } else { (i, j) };
                        let req = Req {
                            kind: ReqKind::Listen,
                            any: false,
                            target,
                        };
                        if !reqs[owner].contains(&req) {
                            reqs[owner].push(req);
                        }
                    }
                }
            }
        }
    }
}

fn listen_target(entry: &Value) -> Option<(String, String)> {
    let o: &Map<String, Value> = entry.as_object()?;
    let (k, v) = o.iter().next()?;
    Some((
        k.split('.').next().unwrap_or(k).to_string(),
        python::to_str(v),
    ))
}
