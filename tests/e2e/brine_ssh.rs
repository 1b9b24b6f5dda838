//! brine-ssh against a throwaway sshd on 127.0.0.1 (tests/src/sshd.rs):
//! functions on roster hosts with no minion, the binary copied once, the
//! arguments and roster values that must never reach a shell or ssh's option
//! parser, and host keys.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use brine_tests::cluster::{bin, run_with_timeout};
use brine_tests::sshd::Sshd;
use serde_json::{Value, json};

const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// A config directory for brine-ssh and a roster of `ids`, all on `sshd`.
struct Operator {
    dir: tempfile::TempDir,
}

impl Operator {
    fn new(sshd: &Sshd, ids: &[&str], known_hosts: &Path) -> Operator {
        let dir = tempfile::Builder::new()
            .prefix("brine-ssh-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path();
        std::fs::write(
            root.join("master"),
            format!(
                "root_dir: {root}\nknown_hosts_file: {known}\nssh_user: {user}\nssh_priv: {key}\n",
                root = root.display(),
                known = known_hosts.display(),
                user = sshd.user(),
                key = sshd.client_key().display(),
            ),
        )
        .expect("master config");
        let mut roster = String::new();
        for id in ids {
            roster.push_str(&format!(
                "{id}:\n  host: 127.0.0.1\n  port: {port}\n  thin_dir: {thin}\n",
                port = sshd.port(),
                thin = root.join("thin").display(),
            ));
        }
        std::fs::write(root.join("roster"), roster).expect("roster");
        Operator { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        run_with_timeout(
            Command::new(bin("brine-ssh"))
                .arg("-c")
                .arg(self.dir.path())
                .args(args),
            RUN_TIMEOUT,
        )
    }

    /// `--out json` of a run, one document per host merged, and the exit code.
    fn json(&self, args: &[&str]) -> (Value, i32) {
        let mut full = vec!["--out", "json", "--static"];
        full.extend_from_slice(args);
        let out = self.run(&full);
        let text = String::from_utf8_lossy(&out.stdout);
        let value = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "brine-ssh {args:?} printed no JSON ({e}): {text}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (value, out.status.code().unwrap_or(-1))
    }
}

#[test]
fn functions_run_on_roster_hosts_and_the_binary_is_copied_once() {
    let sshd = Sshd::start();
    let op = Operator::new(&sshd, &["web1", "web2", "db1"], &sshd.known_hosts());
    let (ret, code) = op.json(&["web*", "test.ping"]);
    assert_eq!(
        ret,
        json!({"web1": true, "web2": true}),
        "sshd: {}",
        sshd.log()
    );
    assert_eq!(code, 0);
    let binary = op.path("thin/brine-call");
    let copied = std::fs::metadata(&binary)
        .expect("brine-call copied")
        .modified()
        .expect("mtime");
    // Without its debug sections when binutils' strip is there (it is
    // wherever Rust links).
    let has_strip = Command::new("strip")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if has_strip {
        let size = |p: &Path| std::fs::metadata(p).expect("size").len();
        assert!(
            size(&binary) < size(&bin("brine-call")),
            "the copy is stripped"
        );
    }
    let (ret, code) = op.json(&["-L", "web1,db1", "grains.item", "id"]);
    assert_eq!(ret, json!({"web1": {"id": "web1"}, "db1": {"id": "db1"}}));
    assert_eq!(code, 0);
    let again = std::fs::metadata(&binary)
        .expect("still there")
        .modified()
        .expect("mtime");
    assert_eq!(copied, again, "the same version is not copied again");
    // A function that fails: its retcode, and brine's exit code 1.
    let (ret, code) = op.json(&["db1", "cmd.retcode", "exit 4"]);
    assert_eq!(ret, json!({"db1": 4}));
    assert_eq!(code, 1);
    // A call that fails before the function runs: what a minion returns.
    let (ret, code) = op.json(&["db1", "test.echo"]);
    let text = ret["db1"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("Passed invalid arguments to test.echo"),
        "{ret}"
    );
    assert_eq!(code, 1);
    // No roster entry matches.
    let out = op.run(&["nothing*", "test.ping"]);
    assert_eq!(out.status.code(), Some(2));
}

/// CVE-2020-16846's lesson: an argument is data on the far side, whatever
/// it holds. Each goes through `test.arg` back to us unchanged, and none of
/// the commands inside them ran.
#[test]
fn arguments_never_reach_a_shell() {
    let sshd = Sshd::start();
    let op = Operator::new(&sshd, &["h1"], &sshd.known_hosts());
    let marker = op.path("pwned");
    let m = marker.display();
    // Words YAML reads as themselves (the CLI parses arguments as YAML, as
    // Salt does), each with a command inside.
    let nasty = [
        format!("x'; touch {m}; 'y"),
        format!("$(touch {m})"),
        format!("x`touch {m}`"),
        format!("x\"; touch {m}; \"y"),
        format!("x|touch {m}"),
        "--help".to_owned(),
    ];
    let mut args = vec!["h1", "test.arg"];
    args.extend(nasty.iter().map(String::as_str));
    let (ret, code) = op.json(&args);
    assert_eq!(code, 0, "{ret}");
    assert_eq!(ret["h1"]["args"], json!(nasty), "{ret}");
    // A line break inside an argument, for the remote script's sake.
    let broken = format!("a\ntouch {m}");
    let (_, code) = op.json(&["h1", "test.arg", &broken]);
    assert_eq!(code, 0);
    assert!(!marker.exists(), "a command inside an argument ran");
}

/// Roster values ssh would read as options (a host `-oProxyCommand=...`,
/// CVE-2021-3197's `ProxyCommand` in any spelling) are refused before ssh
/// starts, naming the entry.
#[test]
fn roster_values_that_would_run_commands_are_refused() {
    let sshd = Sshd::start();
    let op = Operator::new(&sshd, &[], &sshd.known_hosts());
    let marker = op.path("pwned");
    for (entry, key) in [
        (
            format!("h1:\n  host: -oProxyCommand=touch {}\n", marker.display()),
            "host",
        ),
        (
            format!(
                "h1:\n  host: 127.0.0.1\n  ssh_options: ['proxycommand touch {}']\n",
                marker.display()
            ),
            "ssh_options",
        ),
        (
            format!(
                "h1:\n  host: 127.0.0.1\n  port: '22 -oProxyCommand=touch {}'\n",
                marker.display()
            ),
            "port",
        ),
        (
            "h1:\n  host: 127.0.0.1\n  user: '-F/dev/null'\n".to_owned(),
            "user",
        ),
    ] {
        std::fs::write(op.path("roster"), &entry).expect("roster");
        let out = op.run(&["h1", "test.ping"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{entry}: {stderr}");
        assert!(
            stderr.contains("roster entry \"h1\"") && stderr.contains(&format!("`{key}`")),
            "{entry}: {stderr}"
        );
        assert!(!marker.exists(), "{entry}: a command ran");
    }
}

#[test]
fn an_unknown_host_key_is_refused_unless_ignored() {
    let sshd = Sshd::start();
    let empty = tempfile::NamedTempFile::new().expect("known_hosts");
    let op = Operator::new(&sshd, &["h1"], empty.path());
    let (ret, code) = op.json(&["h1", "test.ping"]);
    assert_eq!(code, 1);
    let message = ret["h1"].as_str().unwrap_or_default();
    assert!(message.contains("Host key verification failed"), "{ret}");
    assert!(!op.path("thin").exists(), "nothing reached the host");
    let (ret, code) = op.json(&["-i", "h1", "test.ping"]);
    assert_eq!((ret, code), (json!({"h1": true}), 0));
    // Debian's ssh_config hashes the names it records: ask ssh-keygen.
    let found = run_with_timeout(
        Command::new("ssh-keygen")
            .arg("-F")
            .arg(format!("[127.0.0.1]:{}", sshd.port()))
            .arg("-f")
            .arg(empty.path()),
        Duration::from_secs(30),
    );
    assert!(found.status.success(), "-i records the key in known_hosts");
}

#[test]
fn raw_shell_runs_the_command_line() {
    let sshd = Sshd::start();
    let op = Operator::new(&sshd, &["h1"], &sshd.known_hosts());
    let (ret, code) = op.json(&["-r", "h1", "echo hi; echo oops >&2; exit 3"]);
    assert_eq!(code, 1);
    assert_eq!(ret["h1"]["stdout"], json!("hi\n"));
    assert_eq!(ret["h1"]["stderr"], json!("oops"));
    assert_eq!(ret["h1"]["retcode"], json!(3));
    assert!(!op.path("thin").exists(), "no binary for a raw command");
}

/// A state run on a roster host: the SLS files and `salt://` sources come
/// from the operator's file_roots over the channel (only those the run
/// reads), the pillar is compiled on the operator's side from the host's
/// grains, and the result prints as brine prints state runs.
#[test]
fn a_state_run_takes_its_tree_and_pillar_from_the_operator() {
    let sshd = Sshd::start();
    let op = Operator::new(&sshd, &["web1"], &sshd.known_hosts());
    let srv = op.path("srv");
    let target = op.path("target");
    for (path, text) in [
        ("salt/top.sls", "base:\n  'web*':\n    - web\n".to_owned()),
        (
            "salt/web/init.sls",
            format!(
                "motd:\n  file.managed:\n    - name: {}/motd\n    - source: salt://web/motd.j2\n    - template: jinja\n    - makedirs: True\n",
                target.display()
            ),
        ),
        (
            "salt/web/motd.j2",
            "Welcome to {{ grains['id'] }}, {{ pillar['greeting'] }}\n".to_owned(),
        ),
        ("salt/unused/secret.txt", "not for web1\n".to_owned()),
        ("pillar/top.sls", "base:\n  'web1':\n    - web\n".to_owned()),
        (
            "pillar/web.sls",
            "greeting: {{ 'from the ' ~ grains['id'] ~ ' pillar' }}\n".to_owned(),
        ),
    ] {
        let file = srv.join(path);
        std::fs::create_dir_all(file.parent().expect("dir")).expect("mkdir");
        std::fs::write(file, text).expect("write");
    }
    let mut config = std::fs::read_to_string(op.path("master")).expect("config");
    config.push_str(&format!(
        "file_roots:\n  base:\n    - {salt}\npillar_roots:\n  base:\n    - {pillar}\n",
        salt = srv.join("salt").display(),
        pillar = srv.join("pillar").display(),
    ));
    std::fs::write(op.path("master"), config).expect("config");

    let (ret, code) = op.json(&["web1", "state.apply"]);
    assert_eq!(code, 0, "{ret}");
    let states = ret["web1"].as_object().expect("a state run");
    assert_eq!(states.len(), 1, "{ret}");
    let motd = std::fs::read_to_string(target.join("motd")).expect("motd written");
    assert_eq!(motd, "Welcome to web1, from the web1 pillar\n");
    // The host's file cache holds what the run read, not the whole tree.
    let cached: Vec<String> = walk(&op.path("thin"))
        .into_iter()
        .filter_map(|p| p.to_str().map(str::to_owned))
        .filter(|p| p.contains("/files/base/"))
        .collect();
    assert!(
        cached.iter().any(|p| p.ends_with("web/motd.j2")),
        "{cached:?}"
    );
    assert!(!cached.iter().any(|p| p.contains("unused")), "{cached:?}");
    // The highstate outputter by default, as brine prints state runs.
    let out = op.run(&["web1", "state.apply", "test=True"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Succeeded: 1") && text.contains("ID: motd"),
        "{text}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// The channel owns brine-call's stdin and stdout: a command run on the host
/// that writes to its parent's stdout or reads its stdin (as a careless
/// package script might) reaches stderr and /dev/null, not the frames.
#[test]
fn commands_on_the_host_cannot_write_into_the_channel() {
    let sshd = Sshd::start();
    let op = Operator::new(&sshd, &["h1"], &sshd.known_hosts());
    let (ret, code) = op.json(&[
        "h1",
        "cmd.run",
        "echo junkjunk > /proc/$PPID/fd/1; head -c 8 < /proc/$PPID/fd/0 | wc -c; echo ok",
    ]);
    assert_eq!(code, 0, "{ret}");
    assert_eq!(ret, json!({"h1": "0\nok"}));
}

/// Grain targets are decided on the grains each host sent on its last run
/// (Salt's cache roster); a host never run is left out, with a word.
#[test]
fn grain_targets_use_the_grains_hosts_sent_last() {
    let sshd = Sshd::start();
    let op = Operator::new(&sshd, &[], &sshd.known_hosts());
    let mut roster = String::new();
    for (id, role) in [("web1", "web"), ("db1", "db")] {
        roster.push_str(&format!(
            "{id}:\n  host: 127.0.0.1\n  port: {port}\n  thin_dir: {thin}\n  minion_opts:\n    grains:\n      role: {role}\n",
            port = sshd.port(),
            thin = op.path("thin").display(),
        ));
    }
    std::fs::write(op.path("roster"), roster).expect("roster");
    let out = op.run(&["-G", "role:web", "test.ping"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "nothing cached yet: {stderr}");
    assert!(
        stderr.contains("no grains cached yet") && stderr.contains("web1"),
        "{stderr}"
    );
    let (ret, code) = op.json(&["*", "test.ping"]);
    assert_eq!((ret, code), (json!({"web1": true, "db1": true}), 0));
    let (ret, _) = op.json(&["-G", "role:web", "test.ping"]);
    assert_eq!(ret, json!({"web1": true}));
    let (ret, _) = op.json(&["-C", "G@role:db and not web*", "grains.item", "role"]);
    assert_eq!(ret, json!({"db1": {"role": "db"}}));
}

/// A command the host leaves running neither inherits the channel (its
/// descriptors are close-on-exec) nor keeps brine-ssh waiting for it.
#[test]
fn a_process_left_running_on_the_host_holds_nothing_up() {
    let sshd = Sshd::start();
    let op = Operator::new(&sshd, &["h1"], &sshd.known_hosts());
    // What a command started by brine-call has open: its own 0, 1 and 2
    // (cmd.run's pipes and /dev/null) and the directory ls reads.
    let (ret, code) = op.json(&["h1", "cmd.run", "ls /proc/self/fd | wc -l"]);
    assert_eq!((ret, code), (json!({"h1": "4"}), 0));
    // A daemon that closes its own stdio and outlives the run.
    let (ret, code) = op.json(&[
        "h1",
        "cmd.run",
        "setsid sleep 300 < /dev/null > /dev/null 2>&1 & echo started",
    ]);
    assert_eq!((ret, code), (json!({"h1": "started"}), 0));
}

/// A thin_dir that is a symbolic link (someone else could point it at a
/// directory of theirs, or swap what it points at) is refused before
/// anything is written through it.
#[test]
fn a_thin_dir_that_is_a_link_is_refused() {
    let sshd = Sshd::start();
    let op = Operator::new(&sshd, &[], &sshd.known_hosts());
    let elsewhere = op.path("elsewhere");
    std::fs::create_dir(&elsewhere).expect("dir");
    std::os::unix::fs::symlink(&elsewhere, op.path("link")).expect("link");
    let roster = format!(
        "h1:\n  host: 127.0.0.1\n  port: {}\n  thin_dir: {}\n",
        sshd.port(),
        op.path("link").display()
    );
    std::fs::write(op.path("roster"), roster).expect("roster");
    let (ret, code) = op.json(&["h1", "test.ping"]);
    assert_eq!(code, 1, "{ret}");
    let stderr = ret["h1"]["stderr"].as_str().unwrap_or_default();
    assert!(stderr.contains("is not a directory of this user"), "{ret}");
    assert_eq!(ret["h1"]["retcode"], json!(73), "{ret}");
    let written: Vec<_> = std::fs::read_dir(&elsewhere).expect("read").collect();
    assert!(written.is_empty(), "nothing written through the link");
}

/// The minions `--bootstrap` started on the test's "hosts", stopped when
/// the test ends (they run in their own sessions, no child of ours).
struct BootstrappedMinions {
    hosts: tempfile::TempDir,
}

impl BootstrappedMinions {
    fn dir(&self, id: &str) -> PathBuf {
        self.hosts.path().join(id)
    }

    fn pid(&self, id: &str) -> Option<String> {
        std::fs::read_to_string(self.dir(id).join("etc/brine-minion.pid"))
            .ok()
            .map(|p| p.trim().to_owned())
    }
}

impl Drop for BootstrappedMinions {
    fn drop(&mut self) {
        let Ok(entries) = std::fs::read_dir(self.hosts.path()) else {
            return;
        };
        for entry in entries.flatten() {
            if let Ok(pid) = std::fs::read_to_string(entry.path().join("etc/brine-minion.pid")) {
                let _ = Command::new("kill").args(["-9", pid.trim()]).status();
            }
        }
    }
}

/// `--bootstrap`: brine-minion installed on each roster host with its key
/// made here and accepted by the master, so `brine '*' test.ping` answers
/// at once; a second run finds everything in place and changes nothing; an
/// id the master holds another key for is refused with nothing installed.
#[test]
fn bootstrap_starts_accepted_minions_and_a_second_run_changes_nothing() {
    let sshd = Sshd::start();
    let hosts = BootstrappedMinions {
        hosts: tempfile::tempdir().expect("hosts dir"),
    };
    let cluster = brine_tests::cluster::Cluster::builder()
        .minion_ids(&[])
        .master_conf(&format!(
            "known_hosts_file: {}\nssh_user: {}\nssh_priv: {}\n",
            sshd.known_hosts().display(),
            sshd.user(),
            sshd.client_key().display(),
        ))
        .start();
    let mut roster = String::new();
    for id in ["new1", "new2", "taken"] {
        let dir = hosts.dir(id);
        roster.push_str(&format!(
            "{id}:\n  host: 127.0.0.1\n  port: {port}\n  minion_bin: {dir}/bin/brine-minion\n  \
             minion_conf_dir: {dir}/etc\n  minion_service: direct\n  \
             minion_opts:\n    root_dir: {dir}/root\n    acceptance_wait_time: 1\n",
            port = sshd.port(),
            dir = dir.display(),
        ));
    }
    std::fs::write(cluster.master_dir().join("roster"), roster).expect("roster");
    // The master holds a key for `taken` already (another machine's).
    let other = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
    std::fs::write(cluster.pki_dir().join("minions/taken"), other).expect("taken's key");
    let bootstrap = || {
        let out = run_with_timeout(
            Command::new(bin("brine-ssh"))
                .arg("-c")
                .arg(cluster.master_dir())
                .args(["--out", "json", "--static", "*", "--bootstrap"]),
            RUN_TIMEOUT,
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let ret: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "--bootstrap printed no JSON ({e}): {text}\nstderr: {}\nsshd: {}",
                String::from_utf8_lossy(&out.stderr),
                sshd.log()
            )
        });
        (ret, out.status.code().unwrap_or(-1))
    };

    let (first, code) = bootstrap();
    assert_eq!(code, 1, "taken failed: {first}");
    for id in ["new1", "new2"] {
        let ret = &first[id];
        let said = |step: &str| ret[step].as_str().unwrap_or_default().to_owned();
        assert!(said("binary").ends_with("installed"), "{ret}");
        assert!(said("key").starts_with("made here and accepted"), "{ret}");
        assert!(said("config").starts_with("written"), "{ret}");
        assert_eq!(said("master_key"), "pinned", "{ret}");
        assert!(said("service").starts_with("started"), "{ret}");
        let pem = hosts.dir(id).join("root/etc/brine/pki/minion/minion.pem");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&pem)
                .expect("the key is on the host")
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{}", pem.display());
    }
    let refusal = first["taken"].as_str().unwrap_or_default();
    assert!(refusal.contains("brine-key -d taken"), "{first}");
    assert!(
        !hosts.dir("taken").join("bin").exists(),
        "nothing installed for a refused id"
    );
    let keys = cluster.keys();
    assert_eq!(keys["minions"], json!(["new1", "new2", "taken"]), "{keys}");
    assert_eq!(keys["minions_denied"], json!([]), "{keys}");
    assert_eq!(keys["minions_pre"], json!([]), "{keys}");
    cluster.wait_pingable("new*", &["new1", "new2"]);

    let pids = (hosts.pid("new1"), hosts.pid("new2"));
    let binary = hosts.dir("new1").join("bin/brine-minion");
    let mtime = || std::fs::metadata(&binary).and_then(|m| m.modified()).ok();
    let installed_at = mtime();
    // A roster entry pointing at new1's host under another id: refused, so
    // new1's key is never accepted as a second minion.
    let new1 = hosts.dir("new1");
    let mut roster = std::fs::read_to_string(cluster.master_dir().join("roster")).expect("roster");
    roster.push_str(&format!(
        "typo:\n  host: 127.0.0.1\n  port: {port}\n  minion_bin: {dir}/bin/brine-minion\n  \
         minion_conf_dir: {dir}/etc\n  minion_service: direct\n  \
         minion_opts:\n    root_dir: {dir}/root\n",
        port = sshd.port(),
        dir = new1.display(),
    ));
    std::fs::write(cluster.master_dir().join("roster"), roster).expect("roster");
    let (second, _) = bootstrap();
    let refusal = second["typo"].as_str().unwrap_or_default();
    assert!(refusal.contains("is minion \"new1\"'s"), "{second}");
    for id in ["new1", "new2"] {
        let ret = &second[id];
        let said = |step: &str| ret[step].as_str().unwrap_or_default().to_owned();
        assert!(said("binary").ends_with("unchanged"), "{ret}");
        assert!(said("key").starts_with("accepted already"), "{ret}");
        assert_eq!(said("config"), "unchanged", "{ret}");
        assert_eq!(said("master_key"), "unchanged", "{ret}");
        assert!(said("service").starts_with("running"), "{ret}");
    }
    assert_eq!(
        (hosts.pid("new1"), hosts.pid("new2")),
        pids,
        "not restarted"
    );
    assert_eq!(mtime(), installed_at, "not copied again");
    assert_eq!(cluster.keys()["minions"], json!(["new1", "new2", "taken"]));
    cluster.wait_pingable("new*", &["new1", "new2"]);
}

/// An installed brine-ssh ships the static builds its package carries in
/// `/usr/lib/brine/ssh` (pkg/build-debs.sh), not a binary beside it: here
/// an install tree with no brine-call in `bin` still runs functions.
#[test]
fn an_installed_brine_ssh_ships_the_packaged_binary() {
    let sshd = Sshd::start();
    let op = Operator::new(&sshd, &["h1"], &sshd.known_hosts());
    let prefix = op.path("usr");
    let (bin_dir, lib_dir) = (prefix.join("bin"), prefix.join("lib/brine/ssh"));
    std::fs::create_dir_all(&bin_dir).expect("bin");
    std::fs::create_dir_all(&lib_dir).expect("lib");
    // brine-ssh finds its package by its own path: a copy, not a link.
    std::fs::copy(bin("brine-ssh"), bin_dir.join("brine-ssh")).expect("brine-ssh");
    std::fs::copy(bin("brine-call"), lib_dir.join("brine-call")).expect("brine-call");
    let out = run_with_timeout(
        Command::new(bin_dir.join("brine-ssh"))
            .arg("-c")
            .arg(op.path(""))
            .args(["--out", "json", "h1", "test.ping"]),
        RUN_TIMEOUT,
    );
    let ret: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(
        ret,
        json!({"h1": true}),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
