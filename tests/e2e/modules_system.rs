//! The host-facing execution modules (`pkg`, `service`, `user`, `group`,
//! `cron`, `network`, `status`, `disk`, `hosts`, `sysctl`, `event`) through
//! the real binaries, against the real system tools.
//!
//! Every test confines itself to what it creates — a throwaway `.deb`, an
//! init script, a user, a group, a temp hosts file — and a guard removes
//! those in `Drop`, so cleanup happens even when an assertion fails. Tests
//! that change the host need root and say so when they skip; CI runs as root.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::cluster::{Cluster, host_lock, json_out, stderr, stdout};
use crate::states::by_id;

/// A short name nobody else uses: `prefix` and some hex.
fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}{:x}{:x}",
        std::process::id() & 0xffff,
        nanos & 0xfffff
    )
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn have(program: &str) -> bool {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| Path::new(d).join(program).exists())
}

/// Skip (return early with a note) unless running as root with `programs`.
macro_rules! require {
    (root $(, $program:expr)*) => {
        if !is_root() {
            eprintln!("skipping {}: needs root (CI runs as root)", module_path!());
            return;
        }
        require!($($program),*);
    };
    ($($program:expr),*) => {
        $(
            if !have($program) {
                eprintln!("skipping {}: needs `{}` on this host", module_path!(), $program);
                return;
            }
        )*
    };
}

/// `brine-call --local --out json <args>` on the cluster's minion: the
/// return, which must have succeeded.
fn local(c: &Cluster, args: &[&str]) -> Value {
    let mut full = vec!["--local", "--out", "json"];
    full.extend_from_slice(args);
    let out = c.brine_call("m1", &full);
    assert!(
        out.status.success(),
        "brine-call {args:?} failed ({:?}): {} {}",
        out.status.code(),
        stdout(&out),
        stderr(&out)
    );
    json_out(&out)["local"].clone()
}

/// Like [`local`] but the call must fail; the error it printed on stderr.
fn local_err(c: &Cluster, args: &[&str]) -> String {
    let mut full = vec!["--local", "--out", "json"];
    full.extend_from_slice(args);
    let out = c.brine_call("m1", &full);
    assert!(
        !out.status.success(),
        "brine-call {args:?} should fail: {}",
        stdout(&out)
    );
    // salt-call prints a failed call's error on stderr, not a return.
    assert_eq!(stdout(&out), "", "brine-call {args:?} printed a return");
    stderr(&out).trim_end().to_string()
}

/// A cluster whose single minion is only used through `brine-call --local`.
fn minion_only() -> Cluster {
    Cluster::builder().minions(1).start()
}

/// Run a cleanup command, ignoring failures (the thing may be gone already).
fn quietly(program: &str, args: &[&str]) {
    let _ = Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

// ---------------------------------------------------------------------------
// pkg

/// Purges the test package on drop.
struct PkgGuard(String);

impl Drop for PkgGuard {
    fn drop(&mut self) {
        quietly("dpkg", &["--purge", &self.0]);
    }
}

/// Build `<name>_<version>_all.deb` with one config file, in `dir`.
fn build_deb(dir: &Path, name: &str, version: &str) -> PathBuf {
    let root = dir.join(format!("{name}-{version}"));
    std::fs::create_dir_all(root.join("DEBIAN")).expect("mkdir DEBIAN");
    std::fs::create_dir_all(root.join("etc")).expect("mkdir etc");
    std::fs::write(
        root.join("DEBIAN/control"),
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: Brine tests <tests@example.invalid>\nDescription: throwaway package of the Brine end-to-end tests\n"
        ),
    )
    .expect("control");
    std::fs::write(root.join("DEBIAN/conffiles"), format!("/etc/{name}.conf\n"))
        .expect("conffiles");
    std::fs::write(root.join(format!("etc/{name}.conf")), "setting = 1\n").expect("conf");
    let deb = dir.join(format!("{name}_{version}_all.deb"));
    let out = Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group"])
        .arg(&root)
        .arg(&deb)
        .output()
        .expect("run dpkg-deb");
    assert!(
        out.status.success(),
        "dpkg-deb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    deb
}

#[test]
fn pkg_installs_holds_removes_and_purges_a_local_deb() {
    require!(root, "dpkg-deb", "apt-get", "dpkg-query");
    let _lock = host_lock();
    let c = minion_only();
    let dir = tempfile::tempdir().expect("tempdir");
    let name = unique("brine-test-pkg-");
    let _guard = PkgGuard(name.clone());
    let deb = build_deb(dir.path(), &name, "1.0-1");
    let deb = deb.to_str().expect("utf-8 path");

    assert_eq!(local(&c, &["pkg.version", &name]), json!(""));
    let sources = format!("sources=[{{\"{name}\": \"{deb}\"}}]");
    let changes = local(&c, &["pkg.install", &sources]);
    assert_eq!(
        changes,
        json!({ name.clone(): {"old": "", "new": "1.0-1"} })
    );
    assert_eq!(local(&c, &["pkg.version", &name]), json!("1.0-1"));
    assert_eq!(
        local(&c, &["pkg.version", &name, "brine-no-such-package"]),
        json!({ name.clone(): "1.0-1", "brine-no-such-package": "" })
    );
    assert_eq!(local(&c, &["pkg.list_pkgs"])[&name], json!("1.0-1"));
    // Installing what is there changes nothing.
    assert_eq!(local(&c, &["pkg.install", &sources]), json!({}));

    let held = local(&c, &["pkg.hold", &name]);
    assert_eq!(held[&name]["result"], json!(true), "{held}");
    assert_eq!(
        held[&name]["changes"],
        json!({"old": "install", "new": "hold"})
    );
    let selections = local(&c, &["pkg.get_selections", "state=hold"]);
    assert!(
        selections["hold"]
            .as_array()
            .is_some_and(|h| h.contains(&json!(name)))
    );
    let again = local(&c, &["pkg.hold", &name]);
    assert_eq!(
        again[&name]["comment"],
        json!(format!("Package {name} is already set to be held."))
    );
    let unheld = local(&c, &["pkg.unhold", &name]);
    assert_eq!(
        unheld[&name]["comment"],
        json!(format!("Package {name} is no longer being held."))
    );

    let removed = local(&c, &["pkg.remove", &name]);
    assert_eq!(
        removed,
        json!({ name.clone(): {"new": "", "old": "1.0-1"} })
    );
    assert_eq!(local(&c, &["pkg.version", &name]), json!(""));
    // The config file keeps it in dpkg's "removed" list until purged.
    assert_eq!(
        local(&c, &["pkg.list_pkgs", "removed=True"])[&name],
        json!("1.0-1")
    );
    assert_eq!(local(&c, &["pkg.remove", &name]), json!({}));
    let purged = local(&c, &["pkg.purge", &name]);
    assert_eq!(
        purged,
        json!({"removed": { name.clone(): {"new": "", "old": "1.0-1"} }, "installed": {}})
    );
    assert!(!Path::new(&format!("/etc/{name}.conf")).exists());
}

/// A flat local apt repository (`deb [trusted=yes] file:<dir> ./`) listed
/// in its own sources file; removed, with apt's cached index of it, on drop.
struct LocalAptRepo {
    dir: tempfile::TempDir,
    list: PathBuf,
}

impl LocalAptRepo {
    /// A repository serving these `.deb` files (a hand-written `Packages`
    /// index, so no dpkg-dev is needed).
    fn new(debs: &[(&str, &str, PathBuf)]) -> LocalAptRepo {
        let dir = tempfile::tempdir().expect("repo dir");
        let mut index = String::new();
        for (name, version, deb) in debs {
            let file = deb.file_name().and_then(|f| f.to_str()).expect("deb name");
            let bytes = std::fs::read(deb).expect("read deb");
            std::fs::write(dir.path().join(file), &bytes).expect("copy deb");
            let sha256: String = ring::digest::digest(&ring::digest::SHA256, &bytes)
                .as_ref()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            index.push_str(&format!(
                "Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: Brine tests <tests@example.invalid>\nFilename: ./{file}\nSize: {}\nSHA256: {sha256}\nDescription: throwaway package of the Brine end-to-end tests\n\n",
                bytes.len()
            ));
        }
        std::fs::write(dir.path().join("Packages"), index).expect("Packages");
        let list = PathBuf::from(format!(
            "/etc/apt/sources.list.d/{}.list",
            unique("brine-test-repo-")
        ));
        std::fs::write(
            &list,
            format!("deb [trusted=yes] file:{} ./\n", dir.path().display()),
        )
        .expect("sources list");
        let repo = LocalAptRepo { dir, list };
        repo.update();
        repo
    }

    /// `apt-get update` of this source only.
    fn update(&self) {
        let out = Command::new("apt-get")
            .args(["-q", "update"])
            .arg(format!("-o=Dir::Etc::sourcelist={}", self.list.display()))
            .args(["-o=Dir::Etc::sourceparts=-", "-o=APT::Get::List-Cleanup=0"])
            .output()
            .expect("run apt-get update");
        assert!(
            out.status.success(),
            "apt-get update: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for LocalAptRepo {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.list);
        // apt names its cached index after the source's path.
        let key = self
            .dir
            .path()
            .display()
            .to_string()
            .trim_start_matches('/')
            .replace('/', "_");
        if let Ok(entries) = std::fs::read_dir("/var/lib/apt/lists") {
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().contains(&key) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }
}

/// The `pkg` beacon reports a listed package once a newer version of it is
/// available (a local apt repository holds 2.0 while 1.0 is installed),
/// and stays silent about packages that are not installed.
#[test]
fn pkg_beacon_reports_an_available_upgrade() {
    require!(root, "dpkg-deb", "apt-get", "apt-cache", "dpkg");
    let _lock = host_lock();
    let debs = tempfile::tempdir().expect("tempdir");
    let name = unique("brine-test-pkg-");
    let _guard = PkgGuard(name.clone());
    let old = build_deb(debs.path(), &name, "1.0-1");
    let install = Command::new("dpkg")
        .arg("-i")
        .arg(&old)
        .output()
        .expect("dpkg -i");
    assert!(
        install.status.success(),
        "{}",
        String::from_utf8_lossy(&install.stderr)
    );
    let new = build_deb(debs.path(), &name, "2.0-1");
    let _repo = LocalAptRepo::new(&[(&name, "2.0-1", new)]);

    let c = Cluster::builder()
        .minions(1)
        .minion_conf(&format!(
            "beacons:\n  pkg:\n    - pkgs:\n      - {name}\n      - brine-not-installed\n    - refresh: False\n    - interval: 1\n"
        ))
        .start()
        .ready();
    let events = c.events("salt/beacon/m1/pkg/*");
    let (_, data) = events.expect("the pkg beacon event", Duration::from_secs(30), |tag, _| {
        tag == "salt/beacon/m1/pkg/"
    });
    assert_eq!(data["pkg"], json!(name), "{data}");
    assert_eq!(data["version"], json!("2.0-1"), "{data}");
    assert_eq!(data["id"], json!("m1"), "{data}");
    let later = events.collect_for(Duration::from_millis(2500));
    assert!(
        later.iter().all(|(_, d)| d["pkg"] == json!(name)),
        "only the installed package is reported: {later:?}"
    );
}

#[test]
fn pkg_reports_apt_failures_with_the_command_and_its_error() {
    require!(root, "apt-get");
    let _lock = host_lock();
    let c = minion_only();
    let missing = unique("brine-test-absent-");
    let err = local_err(&c, &["pkg.install", &missing]);
    assert!(
        err.starts_with("Error running 'pkg.install': Problem encountered installing package(s)"),
        "{err}"
    );
    assert!(
        err.contains("apt-get") && err.contains("exited with code"),
        "{err}"
    );
    let err = local_err(&c, &["pkg.install", "sources=[{\"x\": \"salt://x.deb\"}]"]);
    assert!(err.contains("only local package files"), "{err}");
}

// ---------------------------------------------------------------------------
// service (sysvinit)

/// Stops the test daemon and removes the init script and its boot links.
struct InitScriptGuard {
    name: String,
    pidfile: PathBuf,
}

impl Drop for InitScriptGuard {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.pidfile) {
            quietly("kill", &[pid.trim()]);
        }
        quietly("update-rc.d", &["-f", &self.name, "remove"]);
        let _ = std::fs::remove_file(Path::new("/etc/init.d").join(&self.name));
    }
}

/// An LSB init script that daemonizes `sleep <secs>` with a pid file and
/// appends each action it is asked for to `calls`, so a test can see what
/// was done to the service rather than guess from timing.
fn init_script(name: &str, pidfile: &Path, calls: &Path, secs: u32) -> String {
    let pidfile = pidfile.display();
    let calls = calls.display();
    format!(
        r#"#!/bin/sh
### BEGIN INIT INFO
# Provides:          {name}
# Required-Start:
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: Brine end-to-end test service
### END INIT INFO
PIDFILE={pidfile}
echo "$1" >> {calls}
running() {{ [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }}
case "$1" in
  start) running && exit 0
         sleep {secs} </dev/null >/dev/null 2>&1 &
         echo $! > "$PIDFILE" ;;
  stop)  running && kill "$(cat "$PIDFILE")"; rm -f "$PIDFILE" ;;
  restart|force-reload) "$0" stop; "$0" start ;;
  reload) running ;;
  status) running || exit 3 ;;
  *) echo "usage: $0 start|stop|restart|reload|status" >&2; exit 2 ;;
esac
"#
    )
}

#[test]
fn service_starts_checks_enables_and_stops_an_init_script() {
    require!(root, "update-rc.d");
    if Path::new("/run/systemd/system").is_dir() {
        eprintln!("skipping: systemd runs here; this test drives the sysvinit backend");
        return;
    }
    let c = minion_only();
    let dir = tempfile::tempdir().expect("tempdir");
    let name = unique("brine-test-svc-");
    let pidfile = dir.path().join("daemon.pid");
    let _guard = InitScriptGuard {
        name: name.clone(),
        pidfile: pidfile.clone(),
    };
    let secs = 100_000 + (std::process::id() % 90_000);
    let script = Path::new("/etc/init.d").join(&name);
    let calls = dir.path().join("calls.log");
    std::fs::write(&script, init_script(&name, &pidfile, &calls, secs)).expect("write init script");
    quietly("chmod", &["0755", script.to_str().expect("utf-8")]);

    assert_eq!(local(&c, &["service.available", &name]), json!(true));
    assert!(
        local(&c, &["service.get_all"])
            .as_array()
            .is_some_and(|a| a.contains(&json!(name)))
    );
    assert_eq!(local(&c, &["service.status", &name]), json!(false));
    assert_eq!(local(&c, &["service.start", &name]), json!(true));
    assert_eq!(local(&c, &["service.status", &name]), json!(true));
    let sig = format!("sig=sleep {secs}");
    assert_eq!(local(&c, &["service.status", &name, &sig]), json!(true));
    let pid = std::fs::read_to_string(&pidfile).expect("pid file");
    assert_eq!(
        local(&c, &["status.pid", &format!("sleep {secs}")]),
        json!(pid.trim())
    );
    assert_eq!(local(&c, &["service.restart", &name]), json!(true));
    assert_eq!(local(&c, &["service.status", &name]), json!(true));

    assert_eq!(local(&c, &["service.enabled", &name]), json!(false));
    assert_eq!(local(&c, &["service.enable", &name]), json!(true));
    assert_eq!(local(&c, &["service.enabled", &name]), json!(true));
    assert_eq!(local(&c, &["service.disable", &name]), json!(true));
    assert_eq!(local(&c, &["service.enabled", &name]), json!(false));
    assert_eq!(local(&c, &["service.disabled", &name]), json!(true));

    assert_eq!(local(&c, &["service.stop", &name]), json!(true));
    assert_eq!(local(&c, &["service.status", &name]), json!(false));
    assert_eq!(local(&c, &["service.status", &name, &sig]), json!(false));
    assert!(
        local_err(&c, &["service.start", "name=--status-all"]).contains("invalid service name")
    );
}

/// The actions the test init script was asked for, in order.
fn init_calls(calls: &Path) -> Vec<String> {
    std::fs::read_to_string(calls)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// An SLS where `service.running` watches the `file.managed` of its config.
fn watching_sls(name: &str, conf: &Path, contents: &str) -> String {
    format!(
        "{name}_conf:\n  file.managed:\n    - name: {}\n    - contents: {contents}\n\
         {name}:\n  service.running:\n    - watch:\n      - file: {name}_conf\n",
        conf.display()
    )
}

/// Salt's `watch`: a changed config file makes `service.running` call its
/// `mod_watch`, which restarts the running service through its init script;
/// an unchanged file leaves the service alone.
#[test]
fn service_running_restarts_when_a_watched_file_changes() {
    require!(root, "update-rc.d");
    if Path::new("/run/systemd/system").is_dir() {
        eprintln!("skipping: systemd runs here; this test drives the sysvinit backend");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).expect("state tree");
    let name = unique("brine-test-watch-");
    let pidfile = dir.path().join("daemon.pid");
    let calls = dir.path().join("calls.log");
    let conf = dir.path().join("app.conf");
    let _guard = InitScriptGuard {
        name: name.clone(),
        pidfile: pidfile.clone(),
    };
    // Not the other service test's figure: `status.pid` there looks for its
    // own `sleep <secs>` while this one may run.
    let secs = 200_000 + (std::process::id() % 90_000);
    let script = Path::new("/etc/init.d").join(&name);
    std::fs::write(&script, init_script(&name, &pidfile, &calls, secs)).expect("write init script");
    quietly("chmod", &["0755", script.to_str().expect("utf-8")]);
    let c = crate::states::masterless(&tree);
    let sls = tree.join("svc.sls");
    let apply = || local(&c, &["state.sls", "svc"]);

    // Config in place and the service up: nothing to do, no restart.
    std::fs::write(&sls, watching_sls(&name, &conf, "v1")).expect("write sls");
    let first = apply();
    assert_eq!(by_id(&first, &name)["result"], json!(true), "{first:#}");
    let pid = std::fs::read_to_string(&pidfile).expect("the service runs");
    std::fs::write(&calls, "").expect("reset the init script's record");
    let unchanged = apply();
    let svc = by_id(&unchanged, &name);
    assert_eq!(
        by_id(&unchanged, &format!("{name}_conf"))["changes"],
        json!({})
    );
    assert_eq!(svc["result"], json!(true), "{unchanged:#}");
    // Salt's `_offline()`: where systemctl is installed but systemd does not
    // run (a container), `service.running` itself does nothing; its
    // `mod_watch` still restarts. `service.offline` answers systemctl's path
    // there, as Salt's does.
    let offline = local(&c, &["service.offline"]);
    let expected = if offline.as_str().is_some_and(|p| !p.is_empty()) || offline == json!(true) {
        "Running in OFFLINE mode. Nothing to do".to_string()
    } else {
        format!("The service {name} is already running")
    };
    assert_eq!(svc["comment"], json!(expected));
    assert_eq!(svc["changes"], json!({}));
    assert!(
        !init_calls(&calls).iter().any(|c| c == "restart"),
        "restarted without a change: {:?}",
        init_calls(&calls)
    );
    assert_eq!(std::fs::read_to_string(&pidfile).ok(), Some(pid.clone()));

    // The config changes: the watch fires and the service is restarted.
    std::fs::write(&sls, watching_sls(&name, &conf, "v2")).expect("write sls");
    let changed = apply();
    let file = by_id(&changed, &format!("{name}_conf"));
    assert!(file["changes"]["diff"].is_string(), "{changed:#}");
    let svc = by_id(&changed, &name);
    assert_eq!(svc["result"], json!(true), "{changed:#}");
    assert_eq!(svc["comment"], json!("Service restarted"));
    assert_eq!(svc["changes"], json!({ &name: true }));
    assert!(
        init_calls(&calls).iter().any(|c| c == "restart"),
        "no restart in the init script's record: {:?}",
        init_calls(&calls)
    );
    let new_pid = std::fs::read_to_string(&pidfile).expect("the service runs again");
    assert_ne!(new_pid, pid, "the daemon was not replaced");
    assert_eq!(std::fs::read_to_string(&conf).expect("config"), "v2\n");
}

// ---------------------------------------------------------------------------
// user and group

/// Deletes the test user and group on drop.
struct AccountGuard {
    user: String,
    group: String,
}

impl Drop for AccountGuard {
    fn drop(&mut self) {
        quietly("crontab", &["-r", "-u", &self.user]);
        quietly("userdel", &["-r", &self.user]);
        quietly("groupdel", &[&self.user]);
        quietly("groupdel", &[&self.group]);
    }
}

#[test]
fn users_and_groups_are_created_changed_and_deleted() {
    require!(root, "useradd", "groupadd", "gpasswd");
    let _lock = host_lock();
    let c = minion_only();
    let dir = tempfile::tempdir().expect("tempdir");
    let user = unique("brtu");
    let group = unique("brtg");
    let _guard = AccountGuard {
        user: user.clone(),
        group: group.clone(),
    };
    let home = dir.path().join("home");
    let home = home.to_str().expect("utf-8");

    assert_eq!(local(&c, &["group.info", &group]), json!({}));
    assert_eq!(local(&c, &["group.add", &group]), json!(true));
    let info = local(&c, &["group.info", &group]);
    assert_eq!(info["name"], json!(group));
    assert_eq!(info["members"], json!([]));
    assert!(info["gid"].is_u64());

    assert_eq!(local(&c, &["user.info", &user]), json!({}));
    let added = local(
        &c,
        &[
            "user.add",
            &user,
            &format!("home={home}"),
            "shell=/bin/sh",
            "fullname=Brine Test",
            &format!("groups=[{group}]"),
        ],
    );
    assert_eq!(added, json!(true));
    assert!(Path::new(home).is_dir(), "createhome made no {home}");
    let info = local(&c, &["user.info", &user]);
    assert_eq!(info["name"], json!(user));
    assert_eq!(info["home"], json!(home));
    assert_eq!(info["shell"], json!("/bin/sh"));
    assert_eq!(info["fullname"], json!("Brine Test"));
    let groups = info["groups"].as_array().cloned().unwrap_or_default();
    assert!(
        groups.contains(&json!(group)) && groups.contains(&json!(user)),
        "{info}"
    );
    for key in [
        "uid",
        "gid",
        "passwd",
        "roomnumber",
        "workphone",
        "homephone",
        "other",
    ] {
        assert!(info.get(key).is_some(), "user.info lacks {key}: {info}");
    }
    // Adding the same user again fails the Salt way: False.
    assert_eq!(local(&c, &["user.add", &user]), json!(false));
    assert!(
        local(&c, &["user.list_users"])
            .as_array()
            .is_some_and(|u| u.contains(&json!(user)))
    );
    let getent = local(&c, &["user.getent"]);
    assert!(
        getent
            .as_array()
            .is_some_and(|all| all.iter().any(|u| u["name"] == json!(user)))
    );

    assert_eq!(
        local(&c, &["user.chshell", &user, "/bin/bash"]),
        json!(true)
    );
    assert_eq!(
        local(&c, &["user.info", &user])["shell"],
        json!("/bin/bash")
    );
    let new_home = format!("{home}2");
    assert_eq!(local(&c, &["user.chhome", &user, &new_home]), json!(true));
    assert_eq!(local(&c, &["user.chgroups", &user, &user]), json!(true));
    assert_eq!(local(&c, &["user.list_groups", &user]), json!([user]));
    assert_eq!(local(&c, &["group.info", &group])["members"], json!([]));

    assert_eq!(local(&c, &["group.adduser", &group, &user]), json!(true));
    assert_eq!(local(&c, &["group.info", &group])["members"], json!([user]));
    assert_eq!(local(&c, &["group.deluser", &group, &user]), json!(true));
    assert_eq!(local(&c, &["group.info", &group])["members"], json!([]));
    assert_eq!(local(&c, &["group.deluser", &group, &user]), json!(true));
    assert_eq!(local(&c, &["group.members", &group, &user]), json!(true));
    assert_eq!(local(&c, &["group.info", &group])["members"], json!([user]));
    assert!(
        local(&c, &["group.getent"])
            .as_array()
            .is_some_and(|g| g.iter().any(|e| e["name"] == json!(group)))
    );

    assert_eq!(
        local(&c, &["user.delete", &user, "remove=True"]),
        json!(true)
    );
    assert_eq!(local(&c, &["user.info", &user]), json!({}));
    assert_eq!(local(&c, &["group.delete", &group]), json!(true));
    assert_eq!(local(&c, &["group.info", &group]), json!({}));
    assert_eq!(local(&c, &["group.delete", &group]), json!(false));
}

// ---------------------------------------------------------------------------
// cron

#[test]
fn cron_jobs_are_set_listed_and_removed_for_a_throwaway_user() {
    require!(root, "crontab", "useradd");
    let _lock = host_lock();
    let c = minion_only();
    let user = unique("brtc");
    let _guard = AccountGuard {
        user: user.clone(),
        group: String::new(),
    };
    let out = Command::new("useradd")
        .args(["-M", &user])
        .output()
        .expect("useradd");
    assert!(
        out.status.success(),
        "useradd: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert_eq!(
        local(&c, &["cron.list_tab", &user]),
        json!({"pre": [], "crons": [], "special": [], "env": []})
    );
    let job = [
        "cron.set_job",
        &user,
        "5",
        "*",
        "*",
        "*",
        "*",
        "/bin/true --brine",
        "identifier=brine-e2e",
    ];
    assert_eq!(local(&c, &job), json!("new"));
    assert_eq!(local(&c, &job), json!("present"));
    let tab = local(&c, &["cron.list_tab", &user]);
    assert_eq!(
        tab["crons"],
        json!([{"minute": "5", "hour": "*", "daymonth": "*", "month": "*", "dayweek": "*",
                "identifier": "brine-e2e", "cmd": "/bin/true --brine", "comment": "", "commented": false}])
    );
    let raw = local(&c, &["cron.raw_cron", &user]);
    assert!(
        raw.as_str().is_some_and(|r| r.contains("# Lines below here are managed by Salt, do not edit\n# SALT_CRON_IDENTIFIER:brine-e2e\n5 * * * * /bin/true --brine\n")),
        "{raw}"
    );
    let moved = [
        "cron.set_job",
        &user,
        "10",
        "*",
        "*",
        "*",
        "*",
        "/bin/true --brine",
        "identifier=brine-e2e",
    ];
    assert_eq!(local(&c, &moved), json!("updated"));
    assert_eq!(
        local(&c, &["cron.list_tab", &user])["crons"][0]["minute"],
        json!("10")
    );
    assert_eq!(
        local(&c, &["cron.set_env", &user, "MAILTO", "nobody"]),
        json!("new")
    );
    assert_eq!(
        local(&c, &["cron.list_tab", &user])["env"],
        json!([{"name": "MAILTO", "value": "nobody"}])
    );
    let rm = [
        "cron.rm_job",
        &user,
        "/bin/true --brine",
        "identifier=brine-e2e",
    ];
    assert_eq!(local(&c, &rm), json!("removed"));
    assert_eq!(local(&c, &rm), json!("absent"));
    assert_eq!(local(&c, &["cron.list_tab", &user])["crons"], json!([]));
}

// ---------------------------------------------------------------------------
// network, status, disk

#[test]
fn network_connect_interfaces_and_ping_on_loopback() {
    let c = minion_only();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("addr").port().to_string();
    let ret = local(&c, &["network.connect", "127.0.0.1", &port]);
    assert_eq!(
        ret,
        json!({"result": true, "comment": format!("Successfully connected to 127.0.0.1 (127.0.0.1) on tcp port {port}")})
    );
    drop(listener);
    let ret = local(&c, &["network.connect", "127.0.0.1", &port, "timeout=2"]);
    assert_eq!(ret["result"], json!(false), "{ret}");
    assert_eq!(
        local(&c, &["network.connect", "127.0.0.1"]),
        json!({"result": false, "comment": "Required argument, port, is missing."})
    );

    if have("ip") {
        let ifaces = local(&c, &["network.interfaces"]);
        let lo = &ifaces["lo"];
        assert_eq!(lo["up"], json!(true), "{ifaces}");
        assert_eq!(
            lo["inet"][0],
            json!({"address": "127.0.0.1", "netmask": "255.0.0.0", "broadcast": null, "label": "lo"})
        );
        let addrs = local(&c, &["network.ip_addrs", "include_loopback=True"]);
        assert!(
            addrs
                .as_array()
                .is_some_and(|a| a.contains(&json!("127.0.0.1"))),
            "{addrs}"
        );
        let addrs = local(&c, &["network.ip_addrs"]);
        assert!(
            !addrs
                .as_array()
                .is_some_and(|a| a.contains(&json!("127.0.0.1"))),
            "{addrs}"
        );
    }
    if have("ping") {
        let ok = local(
            &c,
            &[
                "network.ping",
                "127.0.0.1",
                "return_boolean=True",
                "timeout=2",
            ],
        );
        assert_eq!(ok, json!(true));
    }
    assert!(local(&c, &["network.netstat"]).is_array());
}

/// Kills the child on drop.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn status_and_disk_report_salts_shapes() {
    let c = minion_only();
    let up = local(&c, &["status.uptime"]);
    for key in ["seconds", "since_iso", "since_t", "days", "time"] {
        assert!(up.get(key).is_some(), "status.uptime lacks {key}: {up}");
    }
    assert!(up["seconds"].as_u64().is_some_and(|s| s > 0));
    let load = local(&c, &["status.loadavg"]);
    assert!(load["1-min"].is_number() && load["5-min"].is_number() && load["15-min"].is_number());
    assert!(local(&c, &["status.meminfo"])["MemTotal"]["value"].is_string());
    assert!(
        local(&c, &["status.cpuinfo"])
            .as_object()
            .is_some_and(|m| !m.is_empty())
    );

    let secs = format!("{}", 200_000 + std::process::id() % 90_000);
    let child = Command::new("sleep").arg(&secs).spawn().expect("sleep");
    let child = ChildGuard(child);
    let pid = child.0.id().to_string();
    assert_eq!(
        local(&c, &["status.pid", &format!("sleep {secs}")]),
        json!(pid)
    );
    let procs = local(&c, &["status.procs"]);
    assert_eq!(
        procs[&pid]["cmd"],
        json!(format!("sleep {secs}")),
        "{}",
        procs[&pid]
    );

    let df = local(&c, &["disk.usage"]);
    let root = &df["/"];
    for key in ["filesystem", "1K-blocks", "used", "available", "capacity"] {
        assert!(root[key].is_string(), "disk.usage / lacks {key}: {root}");
    }
    let usage = local(&c, &["status.diskusage", "/"]);
    assert!(
        usage["/"]["total"].as_u64().is_some_and(|t| t > 0),
        "{usage}"
    );
    assert!(local_err(&c, &["disk.usage", "args=z"]).contains("Invalid flag passed to disk.usage"));
}

// ---------------------------------------------------------------------------
// hosts, sysctl

#[test]
fn hosts_functions_edit_only_the_given_file() {
    let c = minion_only();
    let before = std::fs::read("/etc/hosts").ok();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hosts");
    std::fs::write(&path, "127.0.0.1\tlocalhost\n# keep me\n").expect("write");
    let hf = format!("hosts_file={}", path.display());

    assert_eq!(
        local(&c, &["hosts.add_host", "10.9.8.7", "brine-a", &hf]),
        json!(true)
    );
    assert_eq!(
        local(&c, &["hosts.add_host", "10.9.8.7", "brine-b", &hf]),
        json!(true)
    );
    assert_eq!(
        local(&c, &["hosts.has_pair", "10.9.8.7", "brine-b", &hf]),
        json!(true)
    );
    assert_eq!(
        local(&c, &["hosts.get_ip", "brine-a", &hf]),
        json!("10.9.8.7")
    );
    assert_eq!(
        local(&c, &["hosts.get_alias", "10.9.8.7", &hf]),
        json!(["brine-a", "brine-b"])
    );
    assert_eq!(
        local(&c, &["hosts.list_hosts", &hf]),
        json!({
            "127.0.0.1": {"aliases": ["localhost"]},
            "comment-0": ["# keep me"],
            "10.9.8.7": {"aliases": ["brine-a", "brine-b"]},
        })
    );
    assert_eq!(
        local(&c, &["hosts.rm_host", "10.9.8.7", "brine-a", &hf]),
        json!(true)
    );
    assert_eq!(
        local(&c, &["hosts.get_alias", "10.9.8.7", &hf]),
        json!(["brine-b"])
    );
    assert_eq!(
        local(
            &c,
            &[
                "hosts.set_host",
                "10.9.8.7",
                "brine-c",
                "comment=set by brine",
                &hf
            ]
        ),
        json!(true)
    );
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(
        text.contains("10.9.8.7\t\tbrine-c\t\t# set by brine\n"),
        "{text}"
    );
    assert!(text.contains("# keep me\n"));
    assert_eq!(local(&c, &["hosts.get_ip", "brine-b", &hf]), json!(""));
    assert_eq!(
        std::fs::read("/etc/hosts").ok(),
        before,
        "/etc/hosts changed"
    );
}

#[test]
fn sysctl_reads_and_persists_into_a_given_file() {
    require!("sysctl");
    let c = minion_only();
    let key = "net.ipv4.ip_forward";
    let current = local(&c, &["sysctl.get", key]);
    let current = current.as_str().expect("a value").to_string();
    assert_eq!(local(&c, &["sysctl.show"])[key], json!(current));
    let writable = std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/sys/net/ipv4/ip_forward")
        .is_ok();
    if !is_root() || !writable {
        eprintln!("skipping sysctl.persist: needs root and a writable /proc/sys");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("sysctl.d/99-brine.conf");
    let config = format!("config={}", conf.display());
    // The same value as now: the kernel setting does not change.
    assert_eq!(
        local(&c, &["sysctl.persist", key, &current, &config]),
        json!("Updated")
    );
    assert_eq!(
        local(&c, &["sysctl.persist", key, &current, &config]),
        json!("Already set")
    );
    let text = std::fs::read_to_string(&conf).expect("config written");
    assert!(text.contains(&format!("{key} = {current}\n")), "{text}");
    assert_eq!(
        local(
            &c,
            &["sysctl.show", &format!("config_file={}", conf.display())]
        )[key],
        json!(current)
    );
    assert!(
        local_err(&c, &["sysctl.assign", "net.brine.nonexistent", "1"]).contains("does not exist")
    );
}

// ---------------------------------------------------------------------------
// event

#[test]
fn event_send_reaches_the_masters_bus() {
    let c = Cluster::builder().minions(1).start().ready();
    let events = c.events("myco/*");

    // Through the minion daemon, as a job.
    let out = c.brine(&[
        "--out",
        "json",
        "--static",
        "m1",
        "event.send",
        "myco/brine/job",
        "foo=bar",
    ]);
    assert_eq!(json_out(&out)["m1"], json!(true), "{}", stderr(&out));
    let (_, data) = events.expect("myco/brine/job", Duration::from_secs(20), |tag, _| {
        tag == "myco/brine/job"
    });
    assert_eq!(data["cmd"], json!("_minion_event"));
    assert_eq!(data["id"], json!("m1"));
    assert_eq!(data["data"]["foo"], json!("bar"));
    assert!(data["data"].get("__pub_jid").is_none(), "{data}");

    // Through brine-call, which authenticates on its own.
    let out = c.brine_call(
        "m1",
        &["--out", "json", "event.send", "myco/brine/call", "{a: 1}"],
    );
    assert_eq!(json_out(&out)["local"], json!(true), "{}", stderr(&out));
    let (_, data) = events.expect("myco/brine/call", Duration::from_secs(20), |tag, _| {
        tag == "myco/brine/call"
    });
    assert_eq!(data["data"], json!({"a": 1}));

    // The master's own tags are refused, and the caller hears why.
    let out = c.brine_call(
        "m1",
        &[
            "--out",
            "json",
            "event.fire_master",
            "{}",
            "salt/job/1/ret/m1",
        ],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.starts_with("Error running 'event.fire_master':") && err.contains("refused"),
        "{err}"
    );
    // Masterless: nothing to send to.
    assert_eq!(
        local(&c, &["event.fire_master", "{}", "myco/x"]),
        json!(false)
    );
}
