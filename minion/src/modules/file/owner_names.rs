//! Owner names of files (`file.stats`' `user` and `group`, `file.find`'s
//! `print=user`), remembered while the account databases are unchanged.
//!
//! A uid -> name lookup goes through NSS, which for its `files` source opens,
//! reads and parses `/etc/passwd` (or `/etc/group`) every time: a dozen
//! system calls for each file a state run looks at, more than the file's own
//! stat and read. A name is remembered until the database file changes (its
//! size, mtime or inode: `user.present` and `useradd` rewrite it) and for at
//! most [`MAX_AGE`], so names from other NSS sources (LDAP, sssd) are never
//! staler than that.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::unistd::{Gid, Group, Uid, User};
use serde_json::{Value, json};

/// How long a remembered name is trusted when its database file is unchanged.
const MAX_AGE: Duration = Duration::from_secs(5);

/// The user name of `uid`, or the uid itself when it has none (Salt's
/// `uid_to_user`).
pub fn user_name(uid: u32) -> Value {
    static USERS: Mutex<Names> = Mutex::new(Names::new());
    remembered(&USERS, Path::new("/etc/passwd"), uid, |uid| {
        User::from_uid(Uid::from_raw(uid))
            .ok()
            .flatten()
            .map_or(json!(uid), |u| json!(u.name))
    })
}

/// The group name of `gid`, or the gid itself.
pub fn group_name(gid: u32) -> Value {
    static GROUPS: Mutex<Names> = Mutex::new(Names::new());
    remembered(&GROUPS, Path::new("/etc/group"), gid, |gid| {
        Group::from_gid(Gid::from_raw(gid))
            .ok()
            .flatten()
            .map_or(json!(gid), |g| json!(g.name))
    })
}

/// Names looked up while `database` had the stamp in `valid`.
struct Names {
    /// The stamp the names belong to, and when it was first seen; `None`
    /// until a lookup has seen a readable database.
    valid: Option<(Stamp, Instant)>,
    names: Option<HashMap<u32, Value>>,
}

/// What tells that a database file was rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
    inode: u64,
}

impl Names {
    const fn new() -> Self {
        Names {
            valid: None,
            names: None,
        }
    }

    /// Forget everything unless the database still has `stamp` and the
    /// names are younger than [`MAX_AGE`].
    fn refresh(&mut self, stamp: Option<Stamp>, now: Instant) {
        let fresh = matches!(
            (self.valid, stamp),
            (Some((known, since)), Some(seen)) if known == seen && now.duration_since(since) < MAX_AGE
        );
        if !fresh {
            self.valid = stamp.map(|seen| (seen, now));
            self.names = None;
        }
    }
}

/// `id`'s name from `names` if still valid for `database`, else `resolve`d
/// and remembered. A database that cannot be read is never trusted.
fn remembered(
    names: &Mutex<Names>,
    database: &Path,
    id: u32,
    resolve: impl Fn(u32) -> Value,
) -> Value {
    let stamp = stamp_of(database);
    let mut names = lock(names);
    names.refresh(stamp, Instant::now());
    if stamp.is_none() {
        return resolve(id);
    }
    names
        .names
        .get_or_insert_with(HashMap::new)
        .entry(id)
        .or_insert_with(|| resolve(id))
        .clone()
}

fn stamp_of(database: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(database).ok()?;
    Some(Stamp {
        size: meta.size(),
        mtime: meta.mtime(),
        mtime_nsec: meta.mtime_nsec(),
        inode: meta.ino(),
    })
}

/// The lock even if a panicking lookup poisoned it: the map stays valid.
fn lock(names: &Mutex<Names>) -> MutexGuard<'_, Names> {
    names
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn counting(calls: &Cell<u32>) -> impl Fn(u32) -> Value + '_ {
        move |id| {
            calls.set(calls.get() + 1);
            json!(format!("name{id}-{}", calls.get()))
        }
    }

    #[test]
    fn a_name_is_looked_up_once_while_the_database_is_unchanged() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("passwd");
        std::fs::write(&db, "a:x:1:1::/:/bin/sh\n").expect("test setup");
        let names = Mutex::new(Names::new());
        let calls = Cell::new(0);
        assert_eq!(remembered(&names, &db, 1, counting(&calls)), "name1-1");
        assert_eq!(remembered(&names, &db, 1, counting(&calls)), "name1-1");
        assert_eq!(remembered(&names, &db, 2, counting(&calls)), "name2-2");
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn rewriting_the_database_forgets_the_names() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("passwd");
        std::fs::write(&db, "a:x:1:1::/:/bin/sh\n").expect("test setup");
        let names = Mutex::new(Names::new());
        let calls = Cell::new(0);
        remembered(&names, &db, 1, counting(&calls));
        // What useradd does: a new file renamed over the old one.
        let new = dir.path().join("passwd+");
        std::fs::write(&new, "b:x:1:1::/:/bin/sh\n").expect("test setup");
        std::fs::rename(&new, &db).expect("test setup");
        assert_eq!(remembered(&names, &db, 1, counting(&calls)), "name1-2");
    }

    #[test]
    fn names_older_than_the_limit_are_looked_up_again() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("group");
        std::fs::write(&db, "g:x:1:\n").expect("test setup");
        let stamp = stamp_of(&db);
        let mut names = Names::new();
        let start = Instant::now();
        names.refresh(stamp, start);
        names.names = Some(HashMap::from([(1, json!("old"))]));
        names.refresh(stamp, start + MAX_AGE / 2);
        assert!(names.names.is_some());
        names.refresh(stamp, start + MAX_AGE);
        assert!(names.names.is_none());
    }

    #[test]
    fn an_unreadable_database_is_never_trusted() {
        let names = Mutex::new(Names::new());
        let calls = Cell::new(0);
        let missing = Path::new("/nonexistent/passwd");
        remembered(&names, missing, 1, counting(&calls));
        remembered(&names, missing, 1, counting(&calls));
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn the_minions_own_uid_has_its_name() {
        let uid = nix::unistd::getuid();
        let expected = User::from_uid(uid)
            .expect("the minion's own uid")
            .map_or(json!(uid.as_raw()), |u| json!(u.name));
        assert_eq!(user_name(uid.as_raw()), expected);
        assert_eq!(user_name(uid.as_raw()), expected);
    }
}
