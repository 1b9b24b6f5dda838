//! `file.find`: Salt's approximation of `find(1)` (`salt.utils.find`), with
//! its options, their error messages and its walk order rules.
//!
//! Criteria: `name`, `iname`, `regex`, `iregex` (on the base name), `type`,
//! `owner` (`user` is accepted too), `group`, `size`, `mtime`, `grep`.
//! Actions: `print` (default `path`), `delete`, `exec`. Depth: `mindepth`,
//! `maxdepth`. The path may be a glob.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use regex::bytes::Regex;
use serde_json::{Map, Value, json};

use super::super::process::{py_str, shlex_split, to_int};
use super::owner_names::{group_name, user_name};
use super::{hash, pyre};

/// What a criterion needs to decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Needs {
    Path,
    Stat,
    Contents,
}

/// One match criterion.
#[derive(Debug)]
enum Criterion {
    /// A regex over the base name (`name`, `iname`, `regex`, `iregex`).
    Name(Regex),
    /// File type letters (`type`, and `delete`'s types).
    Types(String),
    Owner(Vec<u32>),
    Group(Vec<u32>),
    Size(u64, u64),
    /// Newer than (`-`) or older than the cutoff, in seconds since the epoch.
    Mtime {
        cutoff: f64,
        newer: bool,
    },
    Grep(Regex),
}

impl Criterion {
    fn needs(&self) -> Needs {
        match self {
            Criterion::Name(_) => Needs::Path,
            Criterion::Grep(_) => Needs::Contents,
            _ => Needs::Stat,
        }
    }

    fn matches(&self, name: &str, path: &Path, meta: Option<&std::fs::Metadata>) -> bool {
        let meta = match (self, meta) {
            (Criterion::Name(r), _) => return r.is_match(name.as_bytes()),
            (_, None) => return false,
            (_, Some(m)) => m,
        };
        match self {
            Criterion::Name(_) => true,
            Criterion::Types(types) => types.contains(type_letter(meta)),
            Criterion::Owner(uids) => uids.contains(&meta.uid()),
            Criterion::Group(gids) => gids.contains(&meta.gid()),
            Criterion::Size(min, max) => (*min..=*max).contains(&meta.size()),
            Criterion::Mtime { cutoff, newer } => {
                let mtime = meta.mtime() as f64;
                if *newer {
                    mtime >= *cutoff
                } else {
                    mtime <= *cutoff
                }
            }
            Criterion::Grep(r) => {
                meta.is_file() && std::fs::read(path).is_ok_and(|data| r.is_match(&data))
            }
        }
    }
}

/// One action on a matched path.
#[derive(Debug)]
enum Action {
    Print(Vec<String>),
    Delete,
    Exec(String),
}

/// A compiled `file.find` query.
#[derive(Debug)]
pub struct Finder {
    criteria: Vec<Criterion>,
    actions: Vec<Action>,
    mindepth: i64,
    maxdepth: Option<i64>,
    test: bool,
}

/// The letter `find` uses for a file's type.
fn type_letter(meta: &std::fs::Metadata) -> char {
    let ft = meta.file_type();
    if ft.is_dir() {
        'd'
    } else if ft.is_symlink() {
        'l'
    } else if ft.is_block_device() {
        'b'
    } else if ft.is_char_device() {
        'c'
    } else if ft.is_fifo() {
        'p'
    } else if ft.is_socket() {
        's'
    } else {
        'f'
    }
}

/// Salt's `NameOption`: the glob turned into a regex the way Salt does it
/// (`.` literal, `?` optional character, `*` anything), matched from the
/// start of the base name.
fn glob_regex(glob: &str, ignore_case: bool) -> Result<Regex, String> {
    let converted = glob
        .replace('.', "\\.")
        .replace('{', "\\{")
        .replace('}', "\\}")
        .replace('?', ".?")
        .replace('*', ".*");
    let flags = if ignore_case { pyre::IGNORECASE } else { 0 };
    pyre::compile(&format!("\\A(?:{converted}$)"), flags)
        .map_err(|_| format!("invalid regular expression: \"{glob}\""))
}

fn user_regex(value: &str, ignore_case: bool) -> Result<Regex, String> {
    let flags = if ignore_case { pyre::IGNORECASE } else { 0 };
    pyre::compile(&format!("\\A(?:{value})"), flags)
        .map_err(|_| format!("invalid regular expression: \"{value}\""))
}

fn parse_types(value: &str) -> Result<String, String> {
    let letters: String = value
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ',')
        .collect();
    match letters.chars().find(|c| !"bcdfpls".contains(*c)) {
        Some(bad) => Err(format!("invalid file type \"{bad}\"")),
        None => Ok(letters),
    }
}

fn parse_ids(
    value: &str,
    kind: &str,
    lookup: impl Fn(&str) -> Option<u32>,
) -> Result<Vec<u32>, String> {
    value
        .replace(',', " ")
        .split_whitespace()
        .map(|name| match name.parse::<u32>() {
            Ok(id) => Ok(id),
            Err(_) => lookup(name).ok_or_else(|| format!("no such {kind} \"{name}\"")),
        })
        .collect()
}

/// Salt's `_parse_size`: `[+-]number[bkmgt]` to an inclusive byte range.
fn parse_size(value: &str) -> Result<(u64, u64), String> {
    let invalid = || format!("invalid size: \"{value}\"");
    let scalar = value.trim();
    let (style, scalar) = match scalar.chars().next() {
        Some(c @ ('+' | '-')) => (c, &scalar[1..]),
        _ => ('=', scalar),
    };
    let unit = scalar
        .chars()
        .last()
        .and_then(|c| match c.to_ascii_lowercase() {
            'b' => Some(1u64),
            'k' => Some(1 << 10),
            'm' => Some(1 << 20),
            'g' => Some(1 << 30),
            't' => Some(1 << 40),
            _ => None,
        });
    let (number, multiplier) = match unit {
        Some(m) => (scalar[..scalar.len() - 1].trim(), m),
        None => (scalar, 1),
    };
    let num = match number.parse::<u64>() {
        Ok(n) => n.saturating_mul(multiplier),
        Err(_) => {
            let f: f64 = number.parse().map_err(|_| invalid())?;
            (f * multiplier as f64) as u64
        }
    };
    Ok(match style {
        '-' => (0, num),
        '+' => (num, u64::MAX),
        _ => (num, num + multiplier - 1),
    })
}

/// Salt's `_parse_interval`: `[+-][Nw][Nd][Nh][Nm][Ns]` to seconds, the
/// smallest unit given, and the modifier.
fn parse_interval(value: &str) -> Result<(f64, f64, char), String> {
    let invalid = || format!("invalid time interval: '{value}'");
    let re = Regex::new(
        r"(?x)^\s*(?P<modifier>[+-]?)
        (?:(?P<week>\d+(?:\.\d*)?)\s*[wW])?\s*
        (?:(?P<day>\d+(?:\.\d*)?)\s*[dD])?\s*
        (?:(?P<hour>\d+(?:\.\d*)?)\s*[hH])?\s*
        (?:(?P<minute>\d+(?:\.\d*)?)\s*[mM])?\s*
        (?:(?P<second>\d+(?:\.\d*)?)\s*[sS])?\s*$",
    )
    .map_err(|e| e.to_string())?;
    let caps = re.captures(value.as_bytes()).ok_or_else(invalid)?;
    let mut total = 0.0;
    let mut resolution = None;
    for (name, mult) in [
        ("second", 1.0),
        ("minute", 60.0),
        ("hour", 3600.0),
        ("day", 86400.0),
        ("week", 604800.0),
    ] {
        if let Some(m) = caps.name(name) {
            let n: f64 = String::from_utf8_lossy(m.as_bytes())
                .parse()
                .map_err(|_| invalid())?;
            total += n * mult;
            resolution.get_or_insert(mult);
        }
    }
    let modifier = caps
        .name("modifier")
        .and_then(|m| m.as_bytes().first().copied())
        .map_or(' ', char::from);
    Ok((total, resolution.ok_or_else(invalid)?, modifier))
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

impl Finder {
    /// Salt's `Finder(options)`; the error is the `ValueError` text that
    /// `file.find` returns as `error: ...`.
    pub fn new(options: &Map<String, Value>) -> Result<Finder, String> {
        let mut f = Finder {
            criteria: Vec::new(),
            actions: Vec::new(),
            mindepth: 0,
            maxdepth: None,
            test: false,
        };
        for (key, value) in options {
            if key.starts_with('_') {
                continue;
            }
            match key.as_str() {
                "mindepth" => f.mindepth = to_int(value).unwrap_or(0),
                "maxdepth" => f.maxdepth = to_int(value),
                "test" => f.test = super::super::process::truthy(value),
                _ => f.add(key, value)?,
            }
        }
        if f.actions.is_empty() {
            f.actions.push(Action::Print(vec!["path".into()]));
        }
        f.criteria.sort_by_key(Criterion::needs);
        Ok(f)
    }

    fn add(&mut self, key: &str, value: &Value) -> Result<(), String> {
        let text = py_str(value);
        if value.is_null() || text.is_empty() {
            return Err(format!("missing value for \"{key}\" option"));
        }
        let criterion = match key {
            "name" => Criterion::Name(glob_regex(&text, false)?),
            "iname" => Criterion::Name(glob_regex(&text, true)?),
            "regex" => Criterion::Name(user_regex(&text, false)?),
            "iregex" => Criterion::Name(user_regex(&text, true)?),
            "type" => Criterion::Types(parse_types(&text)?),
            "owner" | "user" => Criterion::Owner(parse_ids(&text, "user", |n| {
                nix::unistd::User::from_name(n)
                    .ok()
                    .flatten()
                    .map(|u| u.uid.as_raw())
            })?),
            "group" => Criterion::Group(parse_ids(&text, "group", |n| {
                nix::unistd::Group::from_name(n)
                    .ok()
                    .flatten()
                    .map(|g| g.gid.as_raw())
            })?),
            "size" => {
                let (min, max) = parse_size(&text)?;
                Criterion::Size(min, max)
            }
            "mtime" => {
                let (secs, resolution, modifier) = parse_interval(&text)?;
                let cutoff = now_secs() - (secs / resolution).trunc() * resolution;
                Criterion::Mtime {
                    cutoff,
                    newer: modifier == '-',
                }
            }
            "grep" => Criterion::Grep(
                pyre::compile(&text, 0)
                    .map_err(|_| format!("invalid regular expression: \"{text}\""))?,
            ),
            "print" => {
                let mut fmt: Vec<String> = text
                    .replace(',', " ")
                    .split_whitespace()
                    .map(String::from)
                    .collect();
                if fmt.is_empty() {
                    fmt.push("path".into());
                }
                self.actions.push(Action::Print(fmt));
                return Ok(());
            }
            "delete" => {
                let types = if text.contains('a') {
                    "bcdpfls".to_string()
                } else {
                    text
                };
                self.actions.push(Action::Delete);
                Criterion::Types(parse_types(&types)?)
            }
            "exec" => {
                self.actions.push(Action::Exec(text));
                return Ok(());
            }
            other => return Err(format!("invalid option \"{other}\"")),
        };
        self.criteria.push(criterion);
        Ok(())
    }

    fn needs_stat(&self) -> bool {
        self.criteria.iter().any(|c| c.needs() != Needs::Path)
            || self
                .actions
                .iter()
                .any(|a| matches!(a, Action::Print(fmt) if fmt.iter().any(|f| f != "path" && f != "name")))
    }

    /// Every result for the tree at `root`.
    pub fn find(&self, root: &Path) -> Vec<Value> {
        let mut out = Vec::new();
        if self.mindepth < 1 {
            self.visit(root, &mut out);
        }
        self.walk(root, 1, &mut out);
        out
    }

    /// `os.walk` top-down: entries of `dir` are at `depth`.
    fn walk(&self, dir: &Path, depth: i64, out: &mut Vec<Value>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        let in_range = depth >= self.mindepth && self.maxdepth.is_none_or(|m| m >= depth);
        if in_range {
            for p in &paths {
                self.visit(p, out);
            }
        }
        if self.maxdepth.is_some_and(|m| depth > m) {
            return;
        }
        for p in paths {
            // os.walk does not follow symlinks to directories.
            if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
                self.walk(&p, depth + 1, out);
            }
        }
    }

    fn visit(&self, path: &Path, out: &mut Vec<Value>) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Salt stats through symlinks and falls back to the link itself.
        let meta = if self.needs_stat() {
            std::fs::metadata(path)
                .or_else(|_| std::fs::symlink_metadata(path))
                .ok()
        } else {
            None
        };
        if self.criteria.iter().any(|c| c.needs() != Needs::Path) && meta.is_none() {
            return;
        }
        if !self
            .criteria
            .iter()
            .all(|c| c.matches(&name, path, meta.as_ref()))
        {
            return;
        }
        for action in &self.actions {
            if let Some(v) = self.act(action, path, meta.as_ref()) {
                out.push(v);
            }
        }
    }

    fn act(&self, action: &Action, path: &Path, meta: Option<&std::fs::Metadata>) -> Option<Value> {
        let shown = path.display().to_string();
        match action {
            Action::Print(fmt) => {
                let mut items: Vec<Value> = fmt
                    .iter()
                    .filter_map(|f| print_item(f, path, meta))
                    .collect();
                match items.len() {
                    1 => items.pop(),
                    _ => Some(Value::Array(items)),
                }
            }
            Action::Delete => {
                if self.test {
                    return Some(json!(shown));
                }
                let removed = if path.is_dir() && !path.is_symlink() {
                    std::fs::remove_dir_all(path)
                } else {
                    std::fs::remove_file(path)
                };
                removed.ok().map(|_| json!(shown))
            }
            Action::Exec(command) => Some(json!(exec(command, &shown))),
        }
    }
}

/// One `print=` field.
fn print_item(field: &str, path: &Path, meta: Option<&std::fs::Metadata>) -> Option<Value> {
    let shown = path.display().to_string();
    Some(match field {
        "path" => json!(shown),
        "name" => json!(
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ),
        "size" => json!(meta?.size()),
        "type" => json!(type_letter(meta?).to_string()),
        "mode" => json!(meta?.mode() & 0o777),
        "mtime" => json!(meta?.mtime()),
        "user" => user_name(meta?.uid()),
        "group" => group_name(meta?.gid()),
        "md5" => {
            if meta?.is_file() {
                json!(hash::file_digest(path, "md5", 65536).unwrap_or_default())
            } else {
                json!("")
            }
        }
        _ => return None,
    })
}

/// `exec=`: `{}` replaced by the path, run without a shell.
fn exec(command: &str, path: &str) -> String {
    let command = command.replace("{}", path);
    let run = || -> Option<String> {
        let argv = shlex_split(&command).ok()?;
        let (program, args) = argv.split_first()?;
        let out = std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .ok()?;
        if !out.stderr.is_empty() {
            tracing::error!(
                "Error running command: {command}\n\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Some(format!(
            "{command}:\n{}\n",
            String::from_utf8_lossy(&out.stdout)
        ))
    };
    run().unwrap_or_else(|| format!("{path}: Failed"))
}

/// Python's ordering of the results (`list.sort()`): strings and numbers by
/// value, lists element by element.
pub fn py_cmp(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                match py_cmp(p, q) {
                    Ordering::Equal => {}
                    other => return other,
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Array(x), other) => x.first().map_or(Ordering::Less, |f| py_cmp(f, other)),
        (other, Value::Array(y)) => y.first().map_or(Ordering::Greater, |f| py_cmp(other, f)),
        _ => py_str(a).cmp(&py_str(b)),
    }
}

/// `glob.glob(pattern)`: the existing paths a pattern names (no match for
/// hidden names unless the pattern starts with a dot).
pub fn glob(pattern: &str) -> Vec<PathBuf> {
    if !pattern.contains(['*', '?', '[']) {
        let p = PathBuf::from(pattern);
        return if p.symlink_metadata().is_ok() {
            vec![p]
        } else {
            Vec::new()
        };
    }
    let mut current = vec![PathBuf::from(if pattern.starts_with('/') {
        "/"
    } else {
        "."
    })];
    for comp in pattern.split('/').filter(|c| !c.is_empty()) {
        let literal = !comp.contains(['*', '?', '[']);
        let matcher = globset::GlobBuilder::new(comp)
            .literal_separator(true)
            .build()
            .map(|g| g.compile_matcher());
        let mut next = Vec::new();
        for base in &current {
            if literal {
                let p = base.join(comp);
                if p.symlink_metadata().is_ok() {
                    next.push(p);
                }
                continue;
            }
            let Ok(m) = &matcher else { continue };
            let Ok(entries) = std::fs::read_dir(base) else {
                continue;
            };
            for e in entries.filter_map(Result::ok) {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && !comp.starts_with('.') {
                    continue;
                }
                if m.is_match(&name) {
                    next.push(base.join(name));
                }
            }
        }
        current = next;
    }
    current.sort();
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn sizes_and_intervals_like_salt() {
        assert_eq!(parse_size("+10m"), Ok((10 << 20, u64::MAX)));
        assert_eq!(parse_size("-1k"), Ok((0, 1024)));
        assert_eq!(parse_size("2k"), Ok((2048, 3071)));
        assert_eq!(parse_size("12"), Ok((12, 12)));
        assert!(parse_size("big").is_err());
        assert_eq!(parse_interval("1w3d"), Ok((864000.0, 86400.0, ' ')));
        assert_eq!(parse_interval("-30m"), Ok((1800.0, 60.0, '-')));
        assert_eq!(
            parse_interval("5"),
            Err("invalid time interval: '5'".into())
        );
    }

    #[test]
    fn option_errors_read_like_salt() {
        assert_eq!(
            Finder::new(&opts(json!({"colour": "red"}))).err(),
            Some("invalid option \"colour\"".into())
        );
        assert_eq!(
            Finder::new(&opts(json!({"type": "fz"}))).err(),
            Some("invalid file type \"z\"".into())
        );
        assert_eq!(
            Finder::new(&opts(json!({"name": ""}))).err(),
            Some("missing value for \"name\" option".into())
        );
        assert!(Finder::new(&opts(json!({"__pub_jid": "1", "name": "*.txt"}))).is_ok());
    }

    #[test]
    fn name_globs_follow_salts_translation() {
        let r = glob_regex("*.txt", false).expect("glob");
        assert!(r.is_match(b"a.txt"));
        assert!(!r.is_match(b"a.txt.bak"));
        assert!(!r.is_match(b"atxt"));
        assert!(glob_regex("*.TXT", true).expect("glob").is_match(b"a.txt"));
    }

    #[test]
    fn finds_with_depth_and_prints() {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).expect("mkdir");
        std::fs::write(root.join("top.txt"), "x").expect("write");
        std::fs::write(root.join("a/mid.txt"), "hello").expect("write");
        std::fs::write(root.join("a/b/deep.txt"), "hello world").expect("write");
        let find = |o: Value| {
            let mut v = Finder::new(&opts(o)).expect("finder").find(root);
            v.sort_by(py_cmp);
            v
        };
        let p = |rel: &str| json!(root.join(rel).display().to_string());
        assert_eq!(
            find(json!({"name": "*.txt"})),
            vec![p("a/b/deep.txt"), p("a/mid.txt"), p("top.txt")]
        );
        assert_eq!(
            find(json!({"name": "*.txt", "maxdepth": 1})),
            vec![p("top.txt")]
        );
        assert_eq!(
            find(json!({"type": "d", "mindepth": 1})),
            vec![p("a"), p("a/b")]
        );
        assert_eq!(
            find(json!({"type": "f", "size": "+6"})),
            vec![p("a/b/deep.txt")]
        );
        assert_eq!(
            find(json!({"grep": "hello", "print": "name,size"})),
            vec![json!(["deep.txt", 11]), json!(["mid.txt", 5])]
        );
        assert_eq!(
            find(json!({"name": "top.txt", "delete": "f"})),
            vec![p("top.txt")]
        );
        assert!(!root.join("top.txt").exists());
    }

    #[test]
    fn glob_expands_components() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("x1/y")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("x2/y")).expect("mkdir");
        let pattern = format!("{}/x*/y", dir.path().display());
        assert_eq!(
            glob(&pattern),
            vec![dir.path().join("x1/y"), dir.path().join("x2/y")]
        );
        assert!(glob(&format!("{}/none*", dir.path().display())).is_empty());
    }
}
