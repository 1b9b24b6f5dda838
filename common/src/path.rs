//! Finding programs as Salt's `salt.utils.path.which` does: the directories
//! of `$PATH`, then the usual system directories "in case someone's PATH is
//! busted". One implementation for the minion's modules (`cmd.which`, the
//! commands they run) and the renderer's `which` filter.

use std::path::{Path, PathBuf};

use nix::unistd::{AccessFlags, access};

/// Directories searched after `$PATH` when it does not list them.
const EXTRA_PATH: [&str; 6] = [
    "/sbin",
    "/bin",
    "/usr/sbin",
    "/usr/bin",
    "/usr/local/sbin",
    "/usr/local/bin",
];

/// A regular file (after links) this process may execute (`os.access(X_OK)`).
pub fn is_executable(path: &Path) -> bool {
    path.is_file() && access(path, AccessFlags::X_OK).is_ok()
}

/// The path of `exe` if it is executable (a name with a `/` is taken as it
/// is), else the first match on `path_var` followed by the system
/// directories; `None` when there is none.
pub fn which_in(exe: &str, path_var: Option<&str>) -> Option<PathBuf> {
    if exe.is_empty() {
        return None;
    }
    if exe.contains('/') {
        let p = PathBuf::from(exe);
        return is_executable(&p).then_some(p);
    }
    let mut dirs: Vec<&str> = path_var
        .unwrap_or_default()
        .split(':')
        .filter(|d| !d.is_empty())
        .collect();
    for extra in EXTRA_PATH {
        if !dirs.contains(&extra) {
            dirs.push(extra);
        }
    }
    dirs.into_iter()
        .map(|d| Path::new(d).join(exe))
        .find(|p| is_executable(p))
}

/// [`which_in`] with this process's `$PATH`.
pub fn which(exe: &str) -> Option<PathBuf> {
    which_in(exe, std::env::var("PATH").ok().as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_on_the_path_and_in_the_system_directories() {
        assert!(which_in("sh", Some("")).is_some_and(|p| p.ends_with("sh")));
        assert_eq!(which_in("sh", Some("/nonexistent")), which_in("sh", None));
        assert_eq!(which_in("brine-surely-not-a-program", None), None);
        assert_eq!(which_in("", None), None);
        assert_eq!(which_in("/etc/passwd", None), None, "not executable");
        assert_eq!(which_in("/bin/sh", None), Some(PathBuf::from("/bin/sh")));
    }
}
