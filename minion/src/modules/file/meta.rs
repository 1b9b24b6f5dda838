//! Paths, ownership, modes and errors for the `file` module, with Python's
//! spellings: `os.path.normpath`/`dirname`/`expanduser`/`expandvars`/
//! `realpath`, Salt's `normalize_mode`, `stats` and `check_perms`, and
//! `OSError` messages (`[Errno 2] No such file or directory: '/x'`).

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use brine_common::functions::FnError;
use brine_common::output::python;
use nix::unistd::{Group, User};
use serde_json::{Map, Value, json};

use super::super::process::py_str;
use super::hash;
use super::owner_names::{group_name, user_name};

// ---------------------------------------------------------------------------
// Paths

/// The minion user's home: `$HOME`, else its passwd entry.
pub fn own_home() -> Option<String> {
    std::env::var("HOME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.dir.display().to_string())
        })
}

/// `os.path.expanduser`: `~` and `~user` at the start become home directories.
pub fn expand_user(path: &str) -> String {
    let Some(rest) = path.strip_prefix('~') else {
        return path.to_string();
    };
    let (name, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let home = if name.is_empty() {
        own_home()
    } else {
        User::from_name(name)
            .ok()
            .flatten()
            .map(|u| u.dir.display().to_string())
    };
    match home {
        Some(h) => {
            let joined = format!("{}{tail}", h.trim_end_matches('/'));
            if joined.is_empty() {
                "/".into()
            } else {
                joined
            }
        }
        None => path.to_string(),
    }
}

/// `os.path.expandvars`: `$NAME` and `${NAME}` of set variables.
pub fn expand_vars(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let (name, used) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        match std::env::var(name).ok().filter(|_| !name.is_empty()) {
            Some(value) => {
                out.push_str(&value);
                rest = &after[used..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `posixpath.normpath`.
pub fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let initial = if path.starts_with("//") && !path.starts_with("///") {
        "//"
    } else if path.starts_with('/') {
        "/"
    } else {
        ""
    };
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." if !initial.is_empty() && parts.is_empty() => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let joined = format!("{initial}{}", parts.join("/"));
    if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

/// `posixpath.dirname`.
pub fn dirname(path: &str) -> String {
    let head = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "",
    };
    if !head.is_empty() && head.chars().any(|c| c != '/') {
        head.trim_end_matches('/').to_string()
    } else {
        head.to_string()
    }
}

/// `os.path.realpath`: symlinks resolved; a missing tail is kept as given.
pub fn realpath(path: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p;
    }
    let mut current = PathBuf::from(normpath(&path.display().to_string()));
    for _ in 0..40 {
        match std::fs::read_link(&current) {
            Ok(target) => {
                let parent = current.parent().map(Path::to_path_buf).unwrap_or_default();
                let joined = parent.join(target);
                current = PathBuf::from(normpath(&joined.display().to_string()));
            }
            Err(_) => break,
        }
    }
    match (current.parent(), current.file_name()) {
        (Some(parent), Some(name)) if parent != current => match std::fs::canonicalize(parent) {
            Ok(p) => p.join(name),
            Err(_) => current,
        },
        _ => current,
    }
}

/// A user-supplied path, `~` expanded, which must be absolute.
pub fn absolute(raw: &str) -> Result<PathBuf, FnError> {
    let expanded = expand_user(raw);
    if Path::new(&expanded).is_absolute() {
        Ok(PathBuf::from(expanded))
    } else {
        Err(FnError::Invocation(format!(
            "File path must be absolute: {raw}"
        )))
    }
}

// ---------------------------------------------------------------------------
// Errors

/// Python's `OSError.__str__`: `[Errno 2] No such file or directory: '/x'`.
pub fn os_error(err: &io::Error, path: &Path) -> String {
    match err.raw_os_error() {
        Some(n) => format!(
            "[Errno {n}] {}: {}",
            nix::errno::Errno::from_raw(n).desc(),
            python::str_repr(&path.display().to_string())
        ),
        None => format!("{err}: {}", python::str_repr(&path.display().to_string())),
    }
}

/// The Python exception an `OSError` would be, as the minion reports an
/// exception a function raised: `FileNotFoundError: [Errno 2] ...`.
pub fn os_exception(err: &io::Error, path: &Path) -> FnError {
    let class = match err.kind() {
        io::ErrorKind::NotFound => "FileNotFoundError",
        io::ErrorKind::AlreadyExists => "FileExistsError",
        io::ErrorKind::PermissionDenied => "PermissionError",
        io::ErrorKind::IsADirectory => "IsADirectoryError",
        io::ErrorKind::NotADirectory => "NotADirectoryError",
        _ => "OSError",
    };
    FnError::Exception(format!("{class}: {}", os_error(err, path)))
}

// ---------------------------------------------------------------------------
// Owners and modes

/// Salt's `user_to_uid`: a number is a uid, a name is looked up (`None`
/// when unknown), no user at all is the minion's own.
pub fn uid_of(user: Option<&Value>) -> Option<u32> {
    match user {
        None => Some(nix::unistd::getuid().as_raw()),
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Some(v) => User::from_name(&py_str(v))
            .ok()
            .flatten()
            .map(|u| u.uid.as_raw()),
    }
}

/// Salt's `group_to_gid`: a number is a gid, a name is looked up.
pub fn gid_of(group: &Value) -> Option<u32> {
    match group {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        v => Group::from_name(&py_str(v))
            .ok()
            .flatten()
            .map(|g| g.gid.as_raw()),
    }
}

/// Salt's `normalize_mode` of a mode's permission bits: `0644`, `4755`.
pub fn mode_string(mode: u32) -> String {
    format!("{:04o}", mode & 0o7777)
}

/// A mode as Salt reads one: the digits of `644`, `"0644"` or `"0o644"`
/// taken as octal.
pub fn parse_mode(mode: &Value) -> Result<u32, String> {
    let text = py_str(mode);
    let digits = text.trim().trim_start_matches(['0', 'O', 'o']);
    let digits = if digits.is_empty() { "0" } else { digits };
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| digits.to_string())
}

/// Salt's `file.stats` dict.
pub fn stats(
    path: &Path,
    hash_type: Option<&str>,
    follow: bool,
) -> Result<Map<String, Value>, FnError> {
    let mut ret = stats_without_target(path, hash_type, follow, true)?;
    ret.insert("target".into(), json!(realpath(path).display().to_string()));
    Ok(ret)
}

/// [`stats`] without `target`, the real path: resolving it costs a
/// `readlink` per path component, and what a state decides from a path's
/// stats (its type, owner and mode) never needs it. Without `owner_names`,
/// also without `user` and `group` (each name lookup checks that the
/// account database is unchanged: two `stat`s), for a caller that compares
/// no owner.
pub fn stats_without_target(
    path: &Path,
    hash_type: Option<&str>,
    follow: bool,
    owner_names: bool,
) -> Result<Map<String, Value>, FnError> {
    let not_found = || FnError::Execution(format!("Path not found: {}", path.display()));
    // The link itself first: for anything but a symlink (and for a missing
    // path) that is the answer, in one system call.
    let own = std::fs::symlink_metadata(path).map_err(|_| not_found())?;
    let meta = if follow && own.file_type().is_symlink() {
        // A broken symlink still has an owner.
        std::fs::metadata(path).unwrap_or(own)
    } else {
        own
    };
    let time = |secs: i64, nsecs: i64| json!(secs as f64 + nsecs as f64 / 1e9);
    let mut ret = Map::new();
    ret.insert("inode".into(), json!(meta.ino()));
    ret.insert("uid".into(), json!(meta.uid()));
    ret.insert("gid".into(), json!(meta.gid()));
    if owner_names {
        ret.insert("group".into(), group_name(meta.gid()));
        ret.insert("user".into(), user_name(meta.uid()));
    }
    ret.insert("atime".into(), time(meta.atime(), meta.atime_nsec()));
    ret.insert("mtime".into(), time(meta.mtime(), meta.mtime_nsec()));
    ret.insert("ctime".into(), time(meta.ctime(), meta.ctime_nsec()));
    ret.insert("size".into(), json!(meta.size()));
    ret.insert("mode".into(), json!(mode_string(meta.mode())));
    if let Some(form) = hash_type.filter(|h| !h.is_empty()) {
        let sum = hash::file_digest(path, form, 65536).map_err(|e| hash_error(e, path))?;
        ret.insert("sum".into(), json!(sum));
    }
    ret.insert("type".into(), json!(file_type(&meta.file_type())));
    Ok(ret)
}

/// `file.stats`' type names.
fn file_type(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        "dir"
    } else if ft.is_char_device() {
        "char"
    } else if ft.is_block_device() {
        "block"
    } else if ft.is_symlink() {
        "link"
    } else if ft.is_fifo() {
        "pipe"
    } else if ft.is_socket() {
        "socket"
    } else {
        "file"
    }
}

/// A hashing failure as Salt reports it (an exception in `get_hash`).
pub fn hash_error(err: hash::HashError, path: &Path) -> FnError {
    match err {
        hash::HashError::InvalidForm(_) => FnError::Exception(format!("ValueError: {err}")),
        hash::HashError::Io(e) => os_exception(&e, path),
    }
}

/// The owner, group and mode a file has, to restore after rewriting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Perms {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

impl Perms {
    pub fn of(path: &Path) -> io::Result<Perms> {
        let m = std::fs::metadata(path)?;
        Ok(Perms {
            uid: m.uid(),
            gid: m.gid(),
            mode: m.mode() & 0o7777,
        })
    }

    /// Salt's `check_perms(path, None, user, group, mode)`: change what differs.
    pub fn apply(&self, path: &Path) -> io::Result<()> {
        let now = Perms::of(path)?;
        if (now.uid, now.gid) != (self.uid, self.gid) {
            std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid))?;
        }
        if now.mode != self.mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(self.mode))?;
        }
        Ok(())
    }
}

/// Salt's `check_perms` with optional user, group and mode, for a file just
/// created: an unknown user or group is an error naming it.
pub fn set_owner_and_mode(
    path: &Path,
    user: Option<&Value>,
    group: Option<&Value>,
    mode: Option<u32>,
) -> Result<(), FnError> {
    let uid =
        match user {
            Some(u) => Some(uid_of(Some(u)).ok_or_else(|| {
                FnError::Execution(format!("User {} is not available", py_str(u)))
            })?),
            None => None,
        };
    let gid =
        match group {
            Some(g) => Some(gid_of(g).ok_or_else(|| {
                FnError::Execution(format!("Group {} is not available", py_str(g)))
            })?),
            None => None,
        };
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::chown(path, uid, gid).map_err(|e| os_exception(&e, path))?;
    }
    if let Some(mode) = mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| os_exception(&e, path))?;
    }
    Ok(())
}

/// Salt's `files.is_text`: no NUL in the first 512 bytes, and either valid
/// UTF-8 or at most 30% unusual bytes. Unreadable files are not text.
pub fn is_text(path: &Path) -> bool {
    use std::io::Read;
    let mut block = Vec::with_capacity(512);
    let read = std::fs::File::open(path).and_then(|f| f.take(512).read_to_end(&mut block));
    read.is_ok() && is_text_block(&block)
}

fn is_text_block(block: &[u8]) -> bool {
    if block.contains(&0) {
        return false;
    }
    if block.is_empty() || std::str::from_utf8(block).is_ok() {
        return true;
    }
    let text_like = |b: &u8| (32..127).contains(b) || b"\n\r\t\x0c\x08".contains(b);
    let nontext = block.iter().filter(|b| !text_like(b)).count();
    (nontext as f64) / (block.len() as f64) <= 0.30
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_follow_links_and_a_broken_link_is_the_link() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("file");
        std::fs::write(&file, "x").expect("test setup");
        std::os::unix::fs::symlink(&file, dir.path().join("good")).expect("test setup");
        std::os::unix::fs::symlink("nowhere", dir.path().join("broken")).expect("test setup");
        let type_of = |name: &str, follow: bool| {
            stats(&dir.path().join(name), None, follow).map(|s| s["type"].clone())
        };
        assert_eq!(type_of("file", true).expect("file"), json!("file"));
        assert_eq!(type_of("good", true).expect("good"), json!("file"));
        assert_eq!(type_of("good", false).expect("good"), json!("link"));
        assert_eq!(type_of("broken", true).expect("broken"), json!("link"));
        assert!(type_of("missing", true).is_err());
    }

    #[test]
    fn stats_without_target_are_stats_less_the_real_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("file");
        std::fs::write(&file, "x").expect("test setup");
        let mut full = stats(&file, None, true).expect("stats");
        let lean = stats_without_target(&file, None, true, true).expect("stats");
        let nameless = stats_without_target(&file, None, true, false).expect("stats");
        assert!(!nameless.contains_key("user") && !nameless.contains_key("group"));
        assert_eq!(nameless.get("uid"), lean.get("uid"));
        assert!(!lean.contains_key("target"));
        assert_eq!(
            full.remove("target"),
            Some(json!(realpath(&file).display().to_string()))
        );
        full.remove("atime");
        let mut lean = lean;
        lean.remove("atime");
        assert_eq!(full, lean);
    }

    #[test]
    fn realpath_follows_every_link_like_os_path_realpath() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = std::fs::canonicalize(dir.path()).expect("test setup");
        std::fs::create_dir(root.join("real")).expect("test setup");
        std::fs::write(root.join("real/file"), "x").expect("test setup");
        std::os::unix::fs::symlink(root.join("real"), root.join("dirlink")).expect("test setup");
        std::os::unix::fs::symlink("file", root.join("real/filelink")).expect("test setup");
        std::os::unix::fs::symlink("nowhere", root.join("real/broken")).expect("test setup");
        let real_file = root.join("real/file");
        assert_eq!(realpath(&root.join("dirlink/filelink")), real_file);
        assert_eq!(realpath(&root.join("dirlink/./file")), real_file);
        assert_eq!(realpath(&root.join("real")), root.join("real"));
        // A missing tail is kept, as Python keeps it.
        assert_eq!(
            realpath(&root.join("dirlink/missing")),
            root.join("real/missing")
        );
        assert_eq!(
            realpath(&root.join("dirlink/broken")),
            root.join("real/nowhere")
        );
    }

    #[test]
    fn paths_like_posixpath() {
        assert_eq!(normpath("/a//b/./c/../d/"), "/a/b/d");
        assert_eq!(normpath("//x"), "//x");
        assert_eq!(normpath("/../x"), "/x");
        assert_eq!(normpath("a/../.."), "..");
        assert_eq!(dirname("/opt/code/"), "/opt/code");
        assert_eq!(dirname("/opt/code"), "/opt");
        assert_eq!(dirname("/opt"), "/");
        assert_eq!(dirname("name"), "");
        assert!(absolute("relative/x").is_err());
        assert_eq!(absolute("/x").expect("abs"), PathBuf::from("/x"));
    }

    #[test]
    fn modes_read_as_octal_digits() {
        assert_eq!(parse_mode(&json!(644)), Ok(0o644));
        assert_eq!(parse_mode(&json!("0644")), Ok(0o644));
        assert_eq!(parse_mode(&json!("0o755")), Ok(0o755));
        assert_eq!(parse_mode(&json!("0")), Ok(0));
        assert_eq!(parse_mode(&json!("8")), Err("8".to_string()));
        assert_eq!(mode_string(0o100644), "0644");
        assert_eq!(mode_string(0o4755), "4755");
    }

    #[test]
    fn text_detection() {
        assert!(is_text_block(b""));
        assert!(is_text_block("héllo\n".as_bytes()));
        assert!(!is_text_block(b"a\0b"));
        assert!(!is_text_block(&[0xff, 0xfe, 0x81, 0x82, b'a']));
    }

    #[test]
    fn os_errors_read_like_python() {
        let e = io::Error::from_raw_os_error(2);
        assert_eq!(
            os_error(&e, Path::new("/nope")),
            "[Errno 2] No such file or directory: '/nope'"
        );
        assert!(
            matches!(os_exception(&e, Path::new("/nope")), FnError::Exception(m) if m.starts_with("FileNotFoundError: [Errno 2]"))
        );
    }

    #[test]
    fn expand_vars_and_user() {
        // Reads an existing variable: tests must not change the environment.
        let home = std::env::var("HOME").unwrap_or_default();
        if !home.is_empty() {
            assert_eq!(expand_vars("$HOME/x"), format!("{home}/x"));
            assert_eq!(expand_vars("${HOME}"), home);
        }
        assert_eq!(expand_vars("$NO_SUCH_VAR_BRINE/x"), "$NO_SUCH_VAR_BRINE/x");
        assert_eq!(expand_user("/abs"), "/abs");
    }
}
