//! `publisher_acl` (issue 18): a local user the ACL names may publish the
//! jobs it permits through the master's socket, and nothing else; a user it
//! does not name is refused; `publisher_acl_blacklist` refuses root too.
//! Who is asking comes from the kernel (SO_PEERCRED), so the test runs the
//! real `brine` as real system users.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::core::captured;
use brine_tests::cluster::{
    Cluster, SystemAccount, bin, host_lock, run_with_timeout, stderr, stdout,
};

/// The CLIs copied where another user can run them (the build's target
/// directory is under root's home).
fn shared_binaries(dir: &Path) -> PathBuf {
    let shared = dir.join("bin");
    std::fs::create_dir_all(&shared).expect("bin dir");
    for name in ["brine", "brine-run"] {
        std::fs::copy(bin(name), shared.join(name)).expect("copy binary");
    }
    shared
}

/// Let other users reach the master's config and socket directory (the
/// socket keeps the mode the master gave it).
fn open_up(dir: &Path) {
    use std::os::unix::fs::FileTypeExt;
    for entry in walk(dir) {
        let is_socket = std::fs::symlink_metadata(&entry).is_ok_and(|m| m.file_type().is_socket());
        if is_socket {
            continue;
        }
        let mode = if entry.is_dir() { 0o755 } else { 0o644 };
        let keep_executable = entry.parent().is_some_and(|p| p.ends_with("bin"));
        let mode = if keep_executable { 0o755 } else { mode };
        let _ = std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode));
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        let path = out[i].clone();
        // The master's pki and cache stay as they are (not walked).
        let walked = path.is_dir()
            && !path.is_symlink()
            && !path.ends_with("pki")
            && !path.ends_with("cache");
        if walked && let Ok(entries) = std::fs::read_dir(&path) {
            out.extend(entries.flatten().map(|e| e.path()));
        }
        i += 1;
    }
    out
}

/// A system user's uid and primary gid.
fn ids_of(user: &str) -> (u32, u32) {
    let user = nix::unistd::User::from_name(user)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no user {user}"));
    (user.uid.as_raw(), user.gid.as_raw())
}

/// Run one of the shared CLIs as `user` against the cluster's master config.
fn as_user(c: &Cluster, shared: &Path, user: &str, program: &str, args: &[&str]) -> Output {
    let (uid, gid) = ids_of(user);
    let mut cmd = Command::new(shared.join(program));
    cmd.arg("-c")
        .arg(c.master_dir())
        .args(args)
        .uid(uid)
        .gid(gid)
        .env("HOME", "/");
    run_with_timeout(&mut cmd, Duration::from_secs(60))
}

#[test]
fn publisher_acl_admits_the_users_it_names_for_what_it_permits() {
    if !nix::unistd::geteuid().is_root()
        || !Path::new("/usr/sbin/useradd").exists()
        || !Path::new("/usr/sbin/groupadd").exists()
    {
        eprintln!("skipping: needs root and the shadow tools (CI has them)");
        return;
    }
    let _host = host_lock();
    let suffix = format!("{:x}", std::process::id());
    let member = SystemAccount::create(
        format!("brineacl{suffix}"),
        format!("brineacl{suffix}"),
        "-g",
    );
    let outsider = SystemAccount::create(
        format!("brinenoacl{suffix}"),
        format!("brinenoacl{suffix}"),
        "-g",
    );
    let c = Cluster::builder()
        .minions(2)
        .master_conf(&format!(
            "publisher_acl:\n  {user}:\n    - test.ping\n    - m1:\n      - test.echo\n\
             publisher_acl_blacklist:\n  modules:\n    - test.arg\n",
            user = member.user
        ))
        .start()
        .ready();
    let shared = shared_binaries(c.dir.path());
    open_up(c.dir.path());
    let member_brine = |args: &[&str]| as_user(&c, &shared, &member.user, "brine", args);

    // What the ACL permits: test.ping anywhere, test.echo on m1 only.
    let ping = member_brine(&["-t", "30", "--out", "json", "--static", "*", "test.ping"]);
    assert!(ping.status.success(), "{}", stderr(&ping));
    assert!(
        stdout(&ping).contains("\"m1\": true") && stdout(&ping).contains("\"m2\": true"),
        "{}",
        stdout(&ping)
    );
    let echo = member_brine(&["-t", "30", "m1", "test.echo", "hi"]);
    assert!(echo.status.success(), "{}", stderr(&echo));
    assert_eq!(stdout(&echo), "m1:\n    hi\n");

    // Not on every minion targeted, not a permitted function: refused.
    for args in [
        &["-t", "30", "*", "test.echo", "hi"][..],
        &["-t", "30", "m1", "cmd.run", "id"][..],
    ] {
        // As Salt 3008.5's CLI prints it: the output, exit code 0.
        let refused = member_brine(args);
        assert_eq!(
            stdout(&refused),
            captured("salt-publisher-acl-not-permitted.out"),
            "{args:?}: {}",
            stderr(&refused)
        );
        assert!(refused.status.success(), "{args:?}: {}", stderr(&refused));
    }
    let as_json = member_brine(&["--out", "json", "m1", "cmd.run", "id"]);
    assert_eq!(
        stdout(&as_json),
        captured("salt-publisher-acl-not-permitted-json.out")
    );

    // Publishing is all a member may do: no runner, and no event stream
    // (every job's returns pass there, other users' included).
    for args in [&["jobs.list_jobs"][..], &["state.event"][..]] {
        let refused = as_user(&c, &shared, &member.user, "brine-run", args);
        assert!(!refused.status.success(), "{args:?}: {}", stdout(&refused));
        assert!(
            stderr(&refused).contains("may only publish"),
            "{args:?}: {}",
            stderr(&refused)
        );
    }

    // A user the ACL does not name gets nothing.
    let stranger = as_user(&c, &shared, &outsider.user, "brine", &["*", "test.ping"]);
    assert_eq!(
        stdout(&stranger),
        captured("salt-publisher-acl-unknown-user.out"),
        "{}",
        stderr(&stranger)
    );
    assert!(stranger.status.success(), "{}", stderr(&stranger));

    // The blacklist holds for root too; root may do the rest.
    let blacklisted = c.brine(&["-t", "30", "m1", "test.arg", "x"]);
    assert_eq!(
        stdout(&blacklisted),
        captured("salt-publisher-acl-not-permitted.out"),
        "{}",
        stderr(&blacklisted)
    );
    let root = c.brine(&["-t", "30", "m2", "test.echo", "root"]);
    assert_eq!(stdout(&root), "m2:\n    root\n", "{}", stderr(&root));
}
