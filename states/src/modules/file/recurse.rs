//! `file.recurse`: a directory that mirrors a `salt://` directory.
//!
//! As Salt does, every directory of the tree becomes a `file.directory` and
//! every file a `file.managed` of its own (same arguments, `file_mode` as its
//! mode), so contents, templates, ownership, diffs and test-mode predictions
//! are those states', not a second copy. Their results are merged Salt's way:
//! the changes keyed by path, the most negative result, and a comment of
//! `#### <path> ####` blocks for every path that is not in order;
//! `clean: True` removes what the source does not have.

use std::collections::{BTreeMap, BTreeSet};

use brine_common::ids::{RelPath, SaltEnv};
use brine_common::salt_url;
use serde_json::{Map, Value, json};

use super::absolute_error;
use super::managed::managed;
use super::paths::directory;
use super::perms::stats;
use crate::lowstate::{LowChunk, StateCall, StateResult};
use crate::modules::{arg, call, changed, one, pending, strings, text};

/// Arguments of `file.recurse`'s own signature: they do not reach the
/// `file.managed` of each file (Salt passes only the rest of `**kwargs`,
/// less `mode` and `makedirs`, which it sets itself).
const RECURSE_ONLY: &[&str] = &[
    "source",
    "clean",
    "require",
    "dir_mode",
    "file_mode",
    "sym_mode",
    "include_empty",
    "include_pat",
    "exclude_pat",
    "maxdepth",
    "keep_symlinks",
    "force_symlinks",
    "win_owner",
    "win_perms",
    "win_deny_perms",
    "win_inheritance",
    "merge",
    "mode",
    "makedirs",
    "attrs",
];

pub fn recurse(c: &StateCall<'_>) -> StateResult {
    let name = c.chunk.name.as_str();
    if c.chunk.arg("mode").is_some() {
        return StateResult::fail(
            name,
            "'mode' is not allowed in 'file.recurse'. Please use 'file_mode' and 'dir_mode'.",
        );
    }
    if !c.test
        && let Some(err) = missing_owner(c)
    {
        return StateResult::fail(name, err);
    }
    if let Some(err) = absolute_error(name) {
        return StateResult::fail(name, err);
    }
    let sources = match existing_sources(c) {
        Ok(sources) => sources,
        Err(e) => return StateResult::fail(name, format!("Recurse failed: {e}")),
    };
    if let Err(e) = prepare_target(c, name) {
        return StateResult::fail(name, e);
    }
    let tree = match plan(c, name, &sources) {
        Ok(tree) => tree,
        Err(e) => return StateResult::fail(name, e),
    };
    let clean = c.chunk.bool_arg("clean", false);
    let mut merged = Merged::new();
    for dir in &tree.dirs {
        manage_directory(c, dir, clean, &mut merged);
    }
    for (dest, source) in &tree.files {
        manage_file(c, dest, source, clean, &mut merged);
    }
    if clean {
        match clean_target(c, name, &tree.keep) {
            Ok(removed) => merged.removed(c.test, removed),
            Err(e) => return StateResult::fail(name, e),
        }
    }
    merged.finish(name)
}

/// Salt's `_check_user`: a `user` or `group` the minion does not have
/// stops the state (test mode only logs it, so it is not asked then).
/// Numbers are taken as ids, as `file.user_to_uid` takes them.
fn missing_owner(c: &StateCall<'_>) -> Option<String> {
    let unknown = |key: &str, fun: &str| match c.chunk.arg(key) {
        Some(Value::String(owner)) if !owner.is_empty() => {
            call(c.host, fun, vec![json!(owner)], &[])
                .is_ok_and(|info| info.as_object().is_some_and(Map::is_empty))
                .then(|| owner.clone())
        }
        _ => None,
    };
    let mut err = String::new();
    if let Some(user) = unknown("user", "user.info") {
        err.push_str(&format!("User {user} is not available "));
    }
    if let Some(group) = unknown("group", "group.info") {
        err.push_str(&format!("Group {group} is not available"));
    }
    (!err.is_empty()).then_some(err)
}

/// Salt's `_filter_recurse_sources`: every source must be a `salt://` URL;
/// those naming a directory of the file server are kept, in their order.
fn existing_sources(c: &StateCall<'_>) -> Result<Vec<String>, String> {
    let given: Vec<String> = match c.chunk.arg("source") {
        Some(Value::Array(items)) => items.iter().map(text).collect(),
        Some(v) => vec![text(v)],
        None => vec![String::new()],
    };
    let given: Vec<String> = given
        .iter()
        .map(|s| s.trim_end_matches('/').to_string())
        .collect();
    if let Some(bad) = given.iter().find(|s| salt_url::split(s).is_none()) {
        return Err(format!("Invalid source '{bad}' (must be a salt:// URI)"));
    }
    let mut dirs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut found = Vec::new();
    for source in given {
        let (path, env) = parse_url(c, &source);
        if !dirs.contains_key(&env) {
            let listed = call(
                c.host,
                "cp.list_master_dirs",
                vec![],
                &[("saltenv", json!(env))],
            )?;
            dirs.insert(env.clone(), strings(&listed));
        }
        if dirs.get(&env).is_some_and(|d| d.contains(&path)) {
            found.push(source);
        }
    }
    if found.is_empty() {
        return Err("none of the specified sources were found".into());
    }
    Ok(found)
}

/// (path, saltenv) of a `salt://` URL, the state's environment when the URL
/// names none.
fn parse_url(c: &StateCall<'_>, url: &str) -> (String, String) {
    let (path, env) = salt_url::split(url).unwrap_or((url, None));
    (path.to_string(), env.unwrap_or(&c.chunk.env).to_string())
}

/// The target must be a directory: Salt fails on anything else there and
/// creates it (owner, `dir_mode`) before the tree, except in test mode.
fn prepare_target(c: &StateCall<'_>, name: &str) -> Result<(), String> {
    match stats(c.host, name) {
        Some(st) if st.get("type") == Some(&json!("dir")) => Ok(()),
        Some(_) => Err(format!("The path {name} exists and is not a directory")),
        None if c.test => Ok(()),
        None => call(
            c.host,
            "file.makedirs",
            vec![json!(format!("{}/", name.trim_end_matches('/')))],
            &[
                ("user", arg(c.chunk, "user")),
                ("group", arg(c.chunk, "group")),
                ("mode", arg(c.chunk, "dir_mode")),
            ],
        )
        .map(|_| ()),
    }
}

/// What the tree holds on the minion (Salt's `_gen_recurse_managed_files`).
#[derive(Debug, Default, PartialEq)]
struct Tree {
    /// Destination file -> `salt://path?saltenv=env`.
    files: BTreeMap<String, String>,
    /// Directories: the parent of every file, and with `include_empty`
    /// every directory of the source (the source itself as `<name>/.`).
    dirs: BTreeSet<String>,
    /// What `clean` keeps.
    keep: BTreeSet<String>,
}

/// Walk the source(s): only the first unless `merge: True`, where an
/// earlier source wins a path a later one also has.
fn plan(c: &StateCall<'_>, name: &str, sources: &[String]) -> Result<Tree, String> {
    let merge = c.chunk.bool_arg("merge", false);
    let include_empty = c.chunk.bool_arg("include_empty", false);
    let maxdepth = c.chunk.arg("maxdepth").and_then(Value::as_u64);
    let mut tree = Tree::default();
    let mut all_dirs: BTreeSet<String> = BTreeSet::new();
    let taken = if merge { sources.len() } else { 1 };
    for source in sources.iter().take(taken) {
        let (root, env) = parse_url(c, source);
        let root = format!("{root}/");
        let prefix = root.trim_matches('/').to_string();
        let env = SaltEnv::parse(&env).map_err(|e| e.to_string())?;
        let files = c.host.list_files(&env)?;
        for found in files
            .iter()
            .map(RelPath::as_str)
            .filter(|f| f.starts_with(&prefix))
        {
            let Some(rel) = relative(found, &root, maxdepth).filter(|r| pattern_ok(c, r)) else {
                continue;
            };
            let dest = join(name, &rel);
            if occupied(&tree, &all_dirs, &dest) {
                continue;
            }
            tree.keep.insert(dest.clone());
            tree.dirs.insert(parent(&dest));
            all_dirs.extend(ancestors(&dest));
            tree.files
                .insert(dest, format!("salt://{found}?saltenv={env}"));
        }
        if include_empty {
            let listed = call(
                c.host,
                "cp.list_master_dirs",
                vec![],
                &[("saltenv", json!(env)), ("prefix", json!(root))],
            )?;
            for dir in strings(&listed) {
                let Some(rel) = relative(&dir, &root, maxdepth).filter(|r| pattern_ok(c, r)) else {
                    continue;
                };
                let dest = join(name, &rel);
                if occupied(&tree, &all_dirs, &dest) {
                    continue;
                }
                tree.dirs.insert(dest.clone());
                all_dirs.insert(dest.clone());
                tree.keep.insert(dest);
            }
        }
    }
    Ok(tree)
}

/// A file-server path relative to the source root (`root` ends with `/`),
/// as Python's `posixpath.relpath` gives it: `.` for the root itself,
/// `None` for what is outside it or deeper than `maxdepth`.
fn relative(found: &str, root: &str, maxdepth: Option<u64>) -> Option<String> {
    if found.trim().is_empty() {
        return None;
    }
    let rel = if found == root.trim_end_matches('/') {
        ".".to_string()
    } else {
        found.strip_prefix(root)?.trim_end_matches('/').to_string()
    };
    if rel.split('/').any(|part| part == "..") {
        return None;
    }
    let depth = rel.trim_matches('/').matches('/').count() as u64;
    (maxdepth.is_none_or(|max| depth <= max)).then_some(rel)
}

/// Python's `os.path.join(name, rel)`.
fn join(name: &str, rel: &str) -> String {
    if name.ends_with('/') {
        format!("{name}{rel}")
    } else {
        format!("{name}/{rel}")
    }
}

/// `str(Path(path).parent)`: without doubled or trailing slashes.
fn parent(path: &str) -> String {
    let clean: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    match clean.split_last() {
        Some((_, rest)) if !rest.is_empty() => format!("/{}", rest.join("/")),
        _ => "/".into(),
    }
}

/// Every ancestor directory of `path` up to `/`.
fn ancestors(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = parent(path);
    while current != "/" {
        let next = parent(&current);
        out.push(current);
        current = next;
    }
    out.push("/".into());
    out
}

/// With several sources merged, a path an earlier source gave (or gave a
/// file above) is not taken again.
fn occupied(tree: &Tree, all_dirs: &BTreeSet<String>, dest: &str) -> bool {
    all_dirs.contains(dest)
        || tree.files.contains_key(dest)
        || ancestors(dest).iter().any(|a| tree.files.contains_key(a))
}

/// Salt's `check_include_exclude` on a path relative to the source: globs
/// (Python's `fnmatch`, `*` crossing `/`) or `E@` regular expressions
/// (searched); a list matches when one of its patterns does.
/// `file.directory`'s `clean` applies `exclude_pat` the same way.
pub(super) fn pattern_ok(c: &StateCall<'_>, rel: &str) -> bool {
    patterns_allow(c, rel, true)
}

/// [`pattern_ok`], with or without looking at `include_pat`.
fn patterns_allow(c: &StateCall<'_>, rel: &str, with_include: bool) -> bool {
    let matches = |key: &str| -> Option<bool> {
        // Python's truthiness: an empty pattern or list is no pattern.
        let patterns: Vec<String> = match c.chunk.arg(key)? {
            Value::Array(items) => items.iter().map(text).collect(),
            Value::Null => return None,
            other => vec![text(other)]
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect(),
        };
        (!patterns.is_empty()).then(|| patterns.iter().any(|p| pattern_matches(p, rel)))
    };
    let included = !with_include || matches("include_pat").unwrap_or(true);
    included && !matches("exclude_pat").unwrap_or(false)
}

fn pattern_matches(pattern: &str, rel: &str) -> bool {
    match pattern.strip_prefix("E@") {
        Some(re) => brine_common::target::compound::target_regex(re).is_ok_and(|r| r.is_match(rel)),
        None => brine_common::target::Fnmatch::new(pattern).is_ok_and(|g| g.is_match(rel)),
    }
}

/// One directory of the tree: `file.directory` with the owner and
/// `dir_mode` (with `clean`, a file in its way goes first).
fn manage_directory(c: &StateCall<'_>, path: &str, clean: bool, merged: &mut Merged) {
    if path.rsplit('/').next() == Some("..") {
        return;
    }
    let in_the_way = stats(c.host, path).is_some_and(|st| st.get("type") != Some(&json!("dir")));
    if clean
        && in_the_way
        && !clear_the_way(
            c,
            path,
            format!("Replacing {path} with a directory"),
            "Replaced file with a directory",
            merged,
        )
    {
        return;
    }
    let mut args = Map::new();
    for key in ["user", "group", "dir_mode"] {
        if let Some(v) = c.chunk.arg(key) {
            args.insert(key.into(), v.clone());
        }
    }
    args.insert("makedirs".into(), json!(true));
    let sub = sub_chunk(c.chunk, path, "directory", args);
    merged.add(path, &directory(&nested(c, &sub)));
}

/// One file of the tree: `file.managed` with the state's arguments (with
/// `clean`, a directory in its way goes first).
fn manage_file(c: &StateCall<'_>, path: &str, source: &str, clean: bool, merged: &mut Merged) {
    let replace = c.chunk.bool_arg("replace", true);
    let is_dir = stats(c.host, path).is_some_and(|st| st.get("type") == Some(&json!("dir")));
    if clean
        && is_dir
        && replace
        && !clear_the_way(
            c,
            path,
            format!("Replacing directory {path} with a file"),
            "Replaced directory with a new file",
            merged,
        )
    {
        return;
    }
    let mut args: Map<String, Value> = c
        .chunk
        .args
        .iter()
        .filter(|(k, _)| !RECURSE_ONLY.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    args.insert("source".into(), json!(source));
    args.insert("makedirs".into(), json!(true));
    if let Some(mode) = c.chunk.arg("file_mode").filter(|m| !m.is_null()) {
        args.insert("mode".into(), mode.clone());
    }
    let sub = sub_chunk(c.chunk, path, "managed", args);
    merged.add(path, &managed(&nested(c, &sub)));
}

/// With `clean`, what is of the wrong kind at `path` goes first. In test
/// mode Salt only says so and leaves the path at that (`false`: skip it).
fn clear_the_way(
    c: &StateCall<'_>,
    path: &str,
    test_comment: String,
    diff: &str,
    merged: &mut Merged,
) -> bool {
    if c.test {
        merged.add(path, &pending(path, test_comment, Map::new()));
        return false;
    }
    let replaced = match call(c.host, "file.remove", vec![json!(path)], &[]) {
        Ok(_) => changed(path, "", one("diff", json!(diff))),
        Err(e) => StateResult::fail(path, e),
    };
    merged.add(path, &replaced);
    true
}

fn sub_chunk(parent: &LowChunk, name: &str, fun: &str, args: Map<String, Value>) -> LowChunk {
    LowChunk {
        name: name.to_string(),
        fun: fun.into(),
        args,
        ..parent.clone()
    }
}

fn nested<'a>(c: &StateCall<'a>, chunk: &'a LowChunk) -> StateCall<'a> {
    StateCall {
        host: c.host,
        chunk,
        test: c.test,
        required: &[],
    }
}

/// `clean: True`: everything under `name` that the tree does not keep
/// (nor lies above something kept), spared by `exclude_pat`. Removed
/// unless in test mode; what sits in a removed directory goes with it.
fn clean_target(
    c: &StateCall<'_>,
    name: &str,
    keep: &BTreeSet<String>,
) -> Result<Vec<String>, String> {
    let root = name.trim_end_matches('/');
    let mut kept: BTreeSet<String> = BTreeSet::new();
    kept.insert(root.to_string());
    for path in keep.iter().chain(required_paths(c).iter()) {
        let path = normalize(path);
        kept.extend(ancestors(&path));
        kept.insert(path);
    }
    let found = call(
        c.host,
        "file.find",
        vec![json!(root)],
        &[("mindepth", json!(1))],
    )?;
    let mut removed: Vec<String> = Vec::new();
    for path in strings(&found) {
        if kept.contains(&path) {
            continue;
        }
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .trim_start_matches('/');
        // `_clean_dir` looks at `exclude_pat` only, never `include_pat`.
        if !patterns_allow(c, rel, false) {
            continue;
        }
        let gone_with_parent = removed.iter().any(|r| path.starts_with(&format!("{r}/")));
        if !c.test && !gone_with_parent {
            call(c.host, "file.remove", vec![json!(path)], &[])?;
        }
        if c.test || !gone_with_parent {
            removed.push(path);
        }
    }
    removed.sort();
    Ok(removed)
}

/// Files of the `file` states this one requires stay (Salt's `_gen_keep_files`).
fn required_paths(c: &StateCall<'_>) -> Vec<String> {
    c.required
        .iter()
        .filter(|r| r.state == "file")
        .map(|r| r.name.clone())
        .collect()
}

/// `os.path.abspath`-like: `.` parts and trailing slashes dropped.
fn normalize(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

/// The merged answer of the sub-states (Salt's `merge_ret`).
struct Merged {
    result: Option<bool>,
    changes: Map<String, Value>,
    /// Path -> its comments, in the order paths first spoke.
    comments: Vec<(String, Vec<String>)>,
}

impl Merged {
    fn new() -> Self {
        Merged {
            result: Some(true),
            changes: Map::new(),
            comments: Vec::new(),
        }
    }

    /// The most negative result wins (`False` over `None` over `True`);
    /// only paths not in order leave a comment.
    fn add(&mut self, path: &str, sub: &StateResult) {
        if sub.result == Some(false) || self.result == Some(true) {
            self.result = sub.result;
        }
        if sub.result != Some(true) && !sub.comment.is_empty() {
            self.comment(path, std::slice::from_ref(&sub.comment));
        }
        if !sub.changes.is_empty() {
            self.changes
                .insert(path.to_string(), Value::Object(sub.changes.clone()));
        }
    }

    fn comment(&mut self, path: &str, lines: &[String]) {
        match self.comments.iter_mut().find(|(p, _)| p == path) {
            Some((_, existing)) => existing.extend(lines.iter().cloned()),
            None => self.comments.push((path.to_string(), lines.to_vec())),
        }
    }

    /// `clean`'s removals: a comment (and `None`) in test mode, a change
    /// otherwise.
    fn removed(&mut self, test: bool, removed: Vec<String>) {
        if removed.is_empty() {
            return;
        }
        if test {
            if self.result == Some(true) {
                self.result = None;
            }
            self.comment("removed", &removed);
        } else {
            self.changes.insert("removed".into(), json!(removed));
        }
    }

    fn finish(self, name: &str) -> StateResult {
        let result = self.result;
        let blocks: Vec<String> = self
            .comments
            .iter()
            .map(|(path, lines)| format!("\n#### {path} ####\n{}", lines.join("\n")))
            .collect();
        let mut comment = blocks.join("\n").trim().to_string();
        if comment.is_empty() {
            comment = format!("Recursively updated {name}");
        }
        if self.changes.is_empty() && result == Some(true) {
            comment = format!("The directory {name} is in the correct state");
        }
        StateResult {
            result,
            changes: self.changes,
            ..StateResult::ok(name, comment)
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn relative_paths_as_posixpath_relpath_gives_them() {
        assert_eq!(relative("a/b", "a/b/", None), Some(".".into()));
        assert_eq!(relative("a/b/c/d", "a/b/", None), Some("c/d".into()));
        assert_eq!(relative("a/bc/d", "a/b/", None), None);
        assert_eq!(relative("a/b/c/d", "a/b/", Some(0)), None);
        assert_eq!(relative("a/b/c", "a/b/", Some(0)), Some("c".into()));
    }

    #[test]
    fn parents_are_normalised_as_pathlib_does() {
        assert_eq!(parent("/x/y/"), "/x");
        assert_eq!(parent("/x//y/z"), "/x/y");
        assert_eq!(parent("/x"), "/");
        assert_eq!(join("/x/", "."), "/x/.");
        assert_eq!(ancestors("/a/b/c"), vec!["/a/b", "/a", "/"]);
    }
}
