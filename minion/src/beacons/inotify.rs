//! The `inotify` beacon: file and directory changes, read from the kernel's
//! inotify queue on every beacon run (Salt's `salt.beacons.inotify`).
//!
//! ```yaml
//! beacons:
//!   inotify:
//!     - files:
//!         /etc/fstab: {}
//!         /srv/www:
//!           mask: [create, modify, delete]
//!           recurse: True
//!           auto_add: True
//!           exclude: [/srv/www/cache, {'/srv/www/.*\.tmp': {regex: True}}]
//! ```
//!
//! Each change is Salt's item `{tag: <watched path>, path: <changed path>,
//! change: <pyinotify mask name>}`, e.g. `IN_MODIFY` or `IN_CREATE|IN_ISDIR`.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, InotifyEvent, WatchDescriptor};
use serde_json::{Map, Value, json};

use brine_common::output::python::truthy;

/// The mask Salt uses when a path names none: create, delete, modify.
fn default_mask() -> AddWatchFlags {
    AddWatchFlags::IN_CREATE | AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MODIFY
}

/// Salt's mask names (pyinotify's without the `IN_` prefix, lower case).
const MASK_NAMES: &[(&str, AddWatchFlags)] = &[
    ("access", AddWatchFlags::IN_ACCESS),
    ("attrib", AddWatchFlags::IN_ATTRIB),
    ("close_nowrite", AddWatchFlags::IN_CLOSE_NOWRITE),
    ("close_write", AddWatchFlags::IN_CLOSE_WRITE),
    ("create", AddWatchFlags::IN_CREATE),
    ("delete", AddWatchFlags::IN_DELETE),
    ("delete_self", AddWatchFlags::IN_DELETE_SELF),
    ("modify", AddWatchFlags::IN_MODIFY),
    ("move_self", AddWatchFlags::IN_MOVE_SELF),
    ("moved_from", AddWatchFlags::IN_MOVED_FROM),
    ("moved_to", AddWatchFlags::IN_MOVED_TO),
    ("open", AddWatchFlags::IN_OPEN),
    ("close", AddWatchFlags::IN_CLOSE),
    ("move", AddWatchFlags::IN_MOVE),
    ("all_events", AddWatchFlags::IN_ALL_EVENTS),
];

/// Event bits and the names pyinotify gives them, in its order.
const EVENT_NAMES: &[(AddWatchFlags, &str)] = &[
    (AddWatchFlags::IN_ACCESS, "IN_ACCESS"),
    (AddWatchFlags::IN_MODIFY, "IN_MODIFY"),
    (AddWatchFlags::IN_ATTRIB, "IN_ATTRIB"),
    (AddWatchFlags::IN_CLOSE_WRITE, "IN_CLOSE_WRITE"),
    (AddWatchFlags::IN_CLOSE_NOWRITE, "IN_CLOSE_NOWRITE"),
    (AddWatchFlags::IN_OPEN, "IN_OPEN"),
    (AddWatchFlags::IN_MOVED_FROM, "IN_MOVED_FROM"),
    (AddWatchFlags::IN_MOVED_TO, "IN_MOVED_TO"),
    (AddWatchFlags::IN_CREATE, "IN_CREATE"),
    (AddWatchFlags::IN_DELETE, "IN_DELETE"),
    (AddWatchFlags::IN_DELETE_SELF, "IN_DELETE_SELF"),
    (AddWatchFlags::IN_MOVE_SELF, "IN_MOVE_SELF"),
    (AddWatchFlags::IN_UNMOUNT, "IN_UNMOUNT"),
    (AddWatchFlags::IN_Q_OVERFLOW, "IN_Q_OVERFLOW"),
    (AddWatchFlags::IN_IGNORED, "IN_IGNORED"),
];

/// The mask a `mask:` list asks for; unknown names are skipped with a log line.
pub fn parse_mask(value: Option<&Value>) -> AddWatchFlags {
    let Some(Value::Array(names)) = value else {
        return default_mask();
    };
    let mut mask = AddWatchFlags::empty();
    for name in names.iter().filter_map(Value::as_str) {
        match MASK_NAMES.iter().find(|(n, _)| *n == name) {
            Some((_, bits)) => mask |= *bits,
            None => tracing::warn!("inotify beacon: unknown mask {name:?}"),
        }
    }
    if mask.is_empty() {
        default_mask()
    } else {
        mask
    }
}

/// pyinotify's `maskname`: the event's name, `|IN_ISDIR` for directories.
pub fn mask_name(mask: AddWatchFlags) -> String {
    let base = EVENT_NAMES
        .iter()
        .find(|(bits, _)| mask.contains(*bits))
        .map_or("IN_UNKNOWN", |(_, name)| *name);
    if mask.contains(AddWatchFlags::IN_ISDIR) {
        format!("{base}|IN_ISDIR")
    } else {
        base.to_string()
    }
}

/// One configured path's options.
#[derive(Debug, Clone)]
struct PathSpec {
    /// The configured path (the event's `tag`).
    root: String,
    mask: AddWatchFlags,
    recurse: bool,
    auto_add: bool,
    exclude: Vec<Exclude>,
}

/// An `exclude` entry: a path prefix, or a regular expression.
#[derive(Debug, Clone)]
enum Exclude {
    Prefix(String),
    Regex(regex::Regex),
}

impl Exclude {
    fn parse(entry: &Value) -> Option<Exclude> {
        match entry {
            Value::String(s) => Some(Exclude::Prefix(s.clone())),
            Value::Object(map) => {
                let (pattern, opts) = map.iter().next()?;
                let is_regex = opts
                    .as_object()
                    .is_some_and(|o| o.get("regex").is_some_and(truthy));
                if !is_regex {
                    return Some(Exclude::Prefix(pattern.clone()));
                }
                match regex::Regex::new(pattern) {
                    Ok(re) => Some(Exclude::Regex(re)),
                    Err(e) => {
                        tracing::warn!("inotify beacon: bad exclude regex {pattern:?}: {e}");
                        None
                    }
                }
            }
            _ => None,
        }
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            Exclude::Prefix(p) => path.starts_with(p.as_str()),
            Exclude::Regex(re) => re.is_match(path),
        }
    }
}

/// The configured paths of a beacon config (`files:` as a dict, or as a
/// list of paths or one-key dicts).
fn path_specs(config: &Map<String, Value>) -> Vec<PathSpec> {
    let entries: Vec<(String, Map<String, Value>)> = match config.get("files") {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(p, o)| (p.clone(), o.as_object().cloned().unwrap_or_default()))
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .flat_map(|item| match item {
                Value::String(p) => vec![(p.clone(), Map::new())],
                Value::Object(map) => map
                    .iter()
                    .map(|(p, o)| (p.clone(), o.as_object().cloned().unwrap_or_default()))
                    .collect(),
                _ => Vec::new(),
            })
            .collect(),
        _ => Vec::new(),
    };
    entries
        .into_iter()
        .map(|(root, opts)| PathSpec {
            root,
            mask: parse_mask(opts.get("mask")),
            recurse: opts.get("recurse").is_some_and(truthy),
            auto_add: opts.get("auto_add").is_some_and(truthy),
            exclude: match opts.get("exclude") {
                Some(Value::Array(items)) => items.iter().filter_map(Exclude::parse).collect(),
                _ => Vec::new(),
            },
        })
        .collect()
}

/// One watch: the directory or file it is on, and which spec added it.
struct Watch {
    path: PathBuf,
    spec: usize,
}

/// The inotify instance of one beacon, with its watches.
pub struct Watcher {
    inotify: Option<Inotify>,
    specs: Vec<PathSpec>,
    watches: HashMap<WatchDescriptor, Watch>,
}

impl Watcher {
    /// Watch every configured path (a path that does not exist yet is
    /// skipped, as pyinotify skips it).
    pub fn new(config: &Map<String, Value>) -> Watcher {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .map_err(|e| tracing::warn!("inotify beacon: cannot start inotify: {e}"))
            .ok();
        let mut watcher = Watcher {
            inotify,
            specs: path_specs(config),
            watches: HashMap::new(),
        };
        for index in 0..watcher.specs.len() {
            let root = PathBuf::from(&watcher.specs[index].root);
            watcher.add_tree(&root, index);
        }
        watcher
    }

    /// Watch `path`, and below it when the spec recurses.
    fn add_tree(&mut self, path: &Path, spec: usize) {
        self.add_watch(path, spec);
        if !self.specs[spec].recurse || !path.is_dir() {
            return;
        }
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        for entry in entries.filter_map(Result::ok) {
            let child = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) && !self.excluded(spec, &child) {
                self.add_tree(&child, spec);
            }
        }
    }

    fn add_watch(&mut self, path: &Path, spec: usize) {
        let Some(inotify) = &self.inotify else {
            return;
        };
        let mask = self.specs[spec].mask;
        match inotify.add_watch(path, mask) {
            Ok(wd) => {
                self.watches.insert(
                    wd,
                    Watch {
                        path: path.to_path_buf(),
                        spec,
                    },
                );
            }
            Err(e) => tracing::debug!("inotify beacon: cannot watch {}: {e}", path.display()),
        }
    }

    fn excluded(&self, spec: usize, path: &Path) -> bool {
        let text = path.to_string_lossy();
        self.specs[spec].exclude.iter().any(|e| e.matches(&text))
    }

    /// Every change queued since the last poll, as beacon items.
    pub fn poll(&mut self) -> Vec<Map<String, Value>> {
        let Some(inotify) = &self.inotify else {
            return Vec::new();
        };
        let mut events = Vec::new();
        // Non-blocking: EAGAIN ends the batch.
        while let Ok(batch) = inotify.read_events() {
            if batch.is_empty() {
                break;
            }
            events.extend(batch);
        }
        events
            .into_iter()
            .filter_map(|event| self.item_for(event))
            .collect()
    }

    /// The beacon item for one kernel event, adding a watch for a new
    /// directory when the spec asks for `auto_add`.
    fn item_for(&mut self, event: InotifyEvent) -> Option<Map<String, Value>> {
        let watch = self.watches.get(&event.wd)?;
        let spec_index = watch.spec;
        let path = changed_path(&watch.path, event.name.as_deref());
        if event.mask.contains(AddWatchFlags::IN_IGNORED) {
            self.watches.remove(&event.wd);
            return None;
        }
        if self.excluded(spec_index, &path) {
            return None;
        }
        let spec = &self.specs[spec_index];
        let new_dir = event
            .mask
            .contains(AddWatchFlags::IN_CREATE | AddWatchFlags::IN_ISDIR);
        if new_dir && spec.recurse && spec.auto_add {
            self.add_tree(&path, spec_index);
        }
        let spec = &self.specs[spec_index];
        Some(item(&spec.root, &path, event.mask))
    }
}

/// The path an event is about: the watched path, joined with the entry's
/// name for events inside a watched directory.
fn changed_path(watched: &Path, name: Option<&OsStr>) -> PathBuf {
    match name {
        Some(name) if !name.is_empty() => watched.join(name),
        _ => watched.to_path_buf(),
    }
}

/// Salt's inotify item: `{tag, path, change}`.
fn item(root: &str, path: &Path, mask: AddWatchFlags) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("tag".into(), json!(root));
    map.insert("path".into(), json!(path.to_string_lossy()));
    map.insert("change".into(), json!(mask_name(mask)));
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_list_maps_to_bits_and_defaults() {
        let m = parse_mask(Some(&json!(["modify", "close_write"])));
        assert_eq!(m, AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CLOSE_WRITE);
        assert_eq!(parse_mask(None), default_mask());
        assert_eq!(parse_mask(Some(&json!(["bogus"]))), default_mask());
    }

    #[test]
    fn mask_names_are_pyinotify_names() {
        assert_eq!(mask_name(AddWatchFlags::IN_MODIFY), "IN_MODIFY");
        assert_eq!(
            mask_name(AddWatchFlags::IN_CREATE | AddWatchFlags::IN_ISDIR),
            "IN_CREATE|IN_ISDIR"
        );
    }

    #[test]
    fn files_in_list_and_dict_form() {
        let dict = super::super::merge_config(&json!([{"files": {"/a": {"recurse": true}}}]));
        let specs = path_specs(&dict);
        assert_eq!(specs.len(), 1);
        assert!(specs[0].recurse);
        let list =
            super::super::merge_config(&json!({"files": ["/a", {"/b": {"mask": ["open"]}}]}));
        let specs = path_specs(&list);
        assert_eq!(specs[1].root, "/b");
        assert_eq!(specs[1].mask, AddWatchFlags::IN_OPEN);
    }

    #[test]
    fn excludes_by_prefix_and_regex() {
        let prefix = Exclude::parse(&json!("/srv/cache")).expect("test value");
        assert!(prefix.matches("/srv/cache/x"));
        let re = Exclude::parse(&json!({r".*\.tmp$": {"regex": true}})).expect("test value");
        assert!(re.matches("/srv/a.tmp"));
        assert!(!re.matches("/srv/a.txt"));
    }

    #[test]
    fn file_and_dir_events_are_reported() {
        let dir = tempfile::tempdir().expect("test value");
        let file = dir.path().join("watched");
        std::fs::write(&file, "a").expect("test value");
        let root = file.to_string_lossy().to_string();
        let dir_root = dir.path().to_string_lossy().to_string();
        let config = super::super::merge_config(&json!([{"files": {
            root.clone(): {"mask": ["modify"]},
            dir_root.clone(): {"mask": ["create"], "exclude": [{r".*\.skip$": {"regex": true}}]},
        }}]));
        let mut watcher = Watcher::new(&config);
        std::fs::write(&file, "b").expect("test value");
        std::fs::write(dir.path().join("new"), "").expect("test value");
        std::fs::write(dir.path().join("x.skip"), "").expect("test value");
        let items = watcher.poll();
        assert!(
            items.contains(&item(&root, &file, AddWatchFlags::IN_MODIFY)),
            "{items:?}"
        );
        let new = dir.path().join("new");
        assert!(
            items.contains(&item(&dir_root, &new, AddWatchFlags::IN_CREATE)),
            "{items:?}"
        );
        assert!(
            !items
                .iter()
                .any(|i| i["path"].as_str().expect("test value").ends_with(".skip"))
        );
    }
}
