//! The one cluster builder every end-to-end test shares.
//!
//! `Cluster::builder().minions(3).start()` writes configs into a temp dir,
//! starts a master on free loopback ports and the minions, and offers the
//! CLIs with the right `-c`. Every wait is bounded and fails with a message
//! saying what it waited for. Dropping the cluster kills its processes.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::netns::Netns;

/// Where cargo put the binaries: `target/<profile>`, which holds a test's
/// `deps/` directory and the bench binaries themselves.
pub fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("BRINE_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("current exe");
    let parent = exe.parent().expect("exe dir");
    let dir = if parent.ends_with("deps") {
        parent.parent().unwrap_or(parent)
    } else {
        parent
    }
    .to_path_buf();
    assert!(
        dir.join("brine-master").exists(),
        "brine binaries not found in {}: run `cargo build --workspace --bins` first",
        dir.display()
    );
    dir
}

pub fn bin(name: &str) -> PathBuf {
    bin_dir().join(name)
}

/// Serializes the tests that change the host's accounts or packages:
/// `useradd` and `dpkg` refuse to run while another process holds their lock,
/// and every e2e test runs in the same test binary.
pub fn host_lock() -> std::sync::MutexGuard<'static, ()> {
    static HOST_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HOST_LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// The `file_roots` config serving `dir` as `base`.
pub fn file_roots(dir: &Path) -> String {
    format!("file_roots:\n  base:\n    - {}\n", dir.display())
}

/// An argon2 hash of `password` from `brine-api hash-password`, for an
/// external_auth password file.
pub fn hash_password(password: &str) -> String {
    let mut child = Command::new(bin("brine-api"))
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("brine-api hash-password");
    writeln!(child.stdin.take().expect("stdin"), "{password}").expect("write password");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "hash-password failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Where [`free_port`] looks: below Linux's ephemeral range (32768 and up),
/// so no outgoing connection of a test running in parallel can take the
/// port between the check and the daemon's bind.
const TEST_PORTS: std::ops::Range<u32> = 20000..32000;

/// A port nobody listens on right now, never handed out twice by this
/// process.
pub fn free_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let span = TEST_PORTS.end - TEST_PORTS.start;
    let offset = std::process::id() % span;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let port = TEST_PORTS.start + (offset + n) % span;
        let Ok(port) = u16::try_from(port) else {
            continue;
        };
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {TEST_PORTS:?}")
}

/// Poll `check` until it returns `Some`, or fail after `timeout` saying `what`.
pub fn wait_for<T>(what: &str, timeout: Duration, check: impl FnMut() -> Option<T>) -> T {
    poll_for(timeout, check)
        .unwrap_or_else(|| panic!("timed out after {timeout:?} waiting for {what}"))
}

/// Poll `check` until it returns `Some`, for at most `timeout` (`None`
/// then: the caller says what was missing).
pub fn poll_for<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Poll `text()` until it contains `needle`; false after `timeout`.
pub fn wait_for_text(text: impl Fn() -> String, needle: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if text().contains(needle) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Run a command to completion within `timeout`.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => out.expect("wait"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{cmd:?} did not finish within {timeout:?}");
        }
    }
}

pub struct Builder {
    root_files: Vec<(String, String)>,
    log_level: String,
    minion_ids: Vec<String>,
    auto_accept: bool,
    master_conf: String,
    minion_conf: String,
    netns: Option<Netns>,
}

impl Builder {
    pub fn minions(mut self, n: usize) -> Self {
        self.minion_ids = (1..=n).map(|i| format!("m{i}")).collect();
        self
    }

    pub fn minion_ids(mut self, ids: &[&str]) -> Self {
        self.minion_ids = ids.iter().map(|s| s.to_string()).collect();
        self
    }

    /// A file to create under the master's `root_dir` before it starts
    /// (`path` is absolute as the config would name it, e.g. `/etc/brine/autosign.conf`).
    pub fn master_root_file(mut self, path: &str, contents: &str) -> Self {
        self.root_files
            .push((path.to_string(), contents.to_string()));
        self
    }

    /// The daemons' `-l` (tests keep `debug` for their failure logs).
    pub fn log_level(mut self, level: &str) -> Self {
        self.log_level = level.to_string();
        self
    }

    pub fn auto_accept(mut self, yes: bool) -> Self {
        self.auto_accept = yes;
        self
    }

    /// Extra lines for the master config.
    pub fn master_conf(mut self, yaml: &str) -> Self {
        self.master_conf.push_str(yaml);
        self
    }

    /// Extra lines for every minion config.
    pub fn minion_conf(mut self, yaml: &str) -> Self {
        self.minion_conf.push_str(yaml);
        self
    }

    /// Run every daemon and CLI of the cluster inside `netns` (the fault
    /// suite); the cluster deletes it last, after its processes are gone.
    pub fn netns(mut self, netns: Netns) -> Self {
        self.netns = Some(netns);
        self
    }

    pub fn start(self) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = Cluster {
            netns: self.netns,
            minion_wrapper: Vec::new(),
            log_level: self.log_level.clone(),
            ret_port: free_port(),
            publish_port: free_port(),
            master: None,
            minions: Vec::new(),
            dir,
        };
        c.write_master_config(self.auto_accept, &self.master_conf);
        for (path, contents) in &self.root_files {
            let full = c.master_root().join(path.trim_start_matches('/'));
            std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
            std::fs::write(&full, contents).expect("write root file");
        }
        c.start_master();
        for id in &self.minion_ids {
            c.add_minion(id, &self.minion_conf);
        }
        c
    }
}

pub struct MinionProc {
    pub id: String,
    pub config_dir: PathBuf,
    pub child: Option<Child>,
}

pub struct Cluster {
    log_level: String,
    /// A command the minions are started through (`faketime ...`), if any.
    pub minion_wrapper: Vec<String>,
    pub dir: tempfile::TempDir,
    pub ret_port: u16,
    pub publish_port: u16,
    master: Option<Child>,
    pub minions: Vec<MinionProc>,
    /// Declared last: dropped after the processes running in it are killed.
    netns: Option<Netns>,
}

impl Cluster {
    pub fn builder() -> Builder {
        Builder {
            root_files: Vec::new(),
            log_level: "debug".into(),
            minion_ids: vec!["m1".into()],
            auto_accept: false,
            master_conf: String::new(),
            minion_conf: String::new(),
            netns: None,
        }
    }

    /// The namespace the cluster runs in, if any.
    pub fn netns(&self) -> Option<&Netns> {
        self.netns.as_ref()
    }

    /// `program`, run inside the cluster's namespace when it has one.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        match &self.netns {
            Some(ns) => ns.command(program),
            None => Command::new(program),
        }
    }

    pub fn master_dir(&self) -> PathBuf {
        self.dir.path().join("master-conf")
    }

    pub fn master_root(&self) -> PathBuf {
        self.dir.path().join("master-root")
    }

    /// The master's request port.
    pub fn ret_port(&self) -> u16 {
        self.ret_port
    }

    pub fn pki_dir(&self) -> PathBuf {
        self.master_root().join("etc/brine/pki/master")
    }

    fn write_master_config(&self, auto_accept: bool, extra: &str) {
        std::fs::create_dir_all(self.master_dir()).expect("mkdir");
        let text = format!(
            "root_dir: {root}\ninterface: 127.0.0.1\npublish_port: {pp}\nret_port: {rp}\nauto_accept: {aa}\npresence_timeout: 5\n{extra}",
            root = self.master_root().display(),
            pp = self.publish_port,
            rp = self.ret_port,
            aa = if auto_accept { "True" } else { "False" },
        );
        std::fs::write(self.master_dir().join("master"), text).expect("write master config");
    }

    /// Start (or restart) the master and wait until it says it is ready.
    pub fn start_master(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("master.log")).expect("log");
        let mut child = self
            .command(bin("brine-master"))
            .args(["-c"])
            .arg(self.master_dir())
            .args(["-l", &self.log_level])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start brine-master");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line.starts_with("brine-master ready") => {}
            other => panic!(
                "brine-master did not become ready: {other:?}\n{}",
                self.master_log()
            ),
        }
        self.master = Some(child);
    }

    pub fn master_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("master.log")).unwrap_or_default()
    }

    pub fn minion_log(&self, id: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("minion-{id}.log")))
            .unwrap_or_default()
    }

    /// The master's `log_file`: its default, under the master's `root_dir`,
    /// so inside the cluster's temp dir like every path of the cluster.
    pub fn master_log_file(&self) -> PathBuf {
        self.master_root().join("var/log/brine/master")
    }

    /// Minion `id`'s `log_file` (under its `root_dir`).
    pub fn minion_log_file(&self, id: &str) -> PathBuf {
        self.minion_root(id).join("var/log/brine/minion")
    }

    pub fn master_pid(&self) -> Option<u32> {
        self.master.as_ref().map(Child::id)
    }

    pub fn minion_pid(&self, id: &str) -> Option<u32> {
        self.minions
            .iter()
            .find(|m| m.id == id)?
            .child
            .as_ref()
            .map(Child::id)
    }

    /// SIGKILL the master: no chance to flush or say goodbye.
    pub fn kill_master(&mut self) {
        if let Some(mut child) = self.master.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn minion_config_dir(&self, id: &str) -> PathBuf {
        self.dir.path().join(format!("minion-{id}-conf"))
    }

    pub fn minion_root(&self, id: &str) -> PathBuf {
        self.dir.path().join(format!("minion-{id}-root"))
    }

    /// Write a minion's config (fast test timings) and start it.
    /// Start minion `id` with `extra` config lines; a minion of that id
    /// already running (the builder's `m1`, say) is stopped first, so no
    /// process outlives the cluster.
    pub fn add_minion(&mut self, id: &str, extra: &str) {
        self.add_minion_at(id, self.ret_port, extra);
    }

    /// [`Cluster::add_minion`] with the minion's `master_port` set to
    /// `master_port` (a proxy in front of the master's request port).
    pub fn add_minion_at(&mut self, id: &str, master_port: u16, extra: &str) {
        let master = format!("master: 127.0.0.1\nmaster_port: {master_port}\n");
        self.add_minion_of(id, &master, extra);
    }

    /// [`Cluster::add_minion`] with `master` lines of its own (several
    /// masters, say) in place of this cluster's master.
    pub fn add_minion_of(&mut self, id: &str, master: &str, extra: &str) {
        if self.minions.iter().any(|m| m.id == id) {
            self.stop_minion(id);
            self.minions.retain(|m| m.id != id);
        }
        let conf = self.minion_config_dir(id);
        std::fs::create_dir_all(&conf).expect("mkdir");
        let text = format!(
            "root_dir: {root}\nid: {id}\n{master}acceptance_wait_time: 0.3\nauth_timeout: 2\nmaster_alive_interval: 1\njob_heartbeat_interval: 0.5\n{extra}",
            root = self.minion_root(id).display(),
        );
        std::fs::write(conf.join("minion"), text).expect("write minion config");
        self.minions.push(MinionProc {
            id: id.to_string(),
            config_dir: conf,
            child: None,
        });
        self.start_minion(id);
    }

    pub fn start_minion(&mut self, id: &str) {
        let log_path = self.dir.path().join(format!("minion-{id}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .expect("log");
        let mut cmd = match self.minion_wrapper.split_first() {
            Some((wrapper, args)) => {
                let mut cmd = self.command(wrapper);
                cmd.args(args).arg(bin("brine-minion"));
                cmd
            }
            None => self.command(bin("brine-minion")),
        };
        let m = self
            .minions
            .iter_mut()
            .find(|m| m.id == id)
            .expect("known minion");
        let child = cmd
            .arg("-c")
            .arg(&m.config_dir)
            .args(["-l", &self.log_level])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start brine-minion");
        m.child = Some(child);
    }

    pub fn stop_minion(&mut self, id: &str) {
        let m = self
            .minions
            .iter_mut()
            .find(|m| m.id == id)
            .expect("known minion");
        if let Some(mut child) = m.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Send `signal` (a `kill -s` name: `TERM`, `INT`) to minion `id` and
    /// wait up to `timeout` for it to exit; how it exited.
    pub fn signal_minion(
        &mut self,
        id: &str,
        signal: &str,
        timeout: Duration,
    ) -> std::process::ExitStatus {
        let m = self
            .minions
            .iter_mut()
            .find(|m| m.id == id)
            .expect("known minion");
        let child = m.child.take().expect("a running minion");
        signal_and_wait(child, &format!("minion {id}"), signal, timeout)
    }

    /// [`Cluster::signal_minion`] for the master.
    pub fn signal_master(&mut self, signal: &str, timeout: Duration) -> std::process::ExitStatus {
        let child = self.master.take().expect("a running master");
        signal_and_wait(child, "the master", signal, timeout)
    }

    fn cli(&self, name: &str, conf: &Path, args: &[&str], timeout: Duration) -> Output {
        run_with_timeout(
            self.command(bin(name)).arg("-c").arg(conf).args(args),
            timeout,
        )
    }

    pub fn brine(&self, args: &[&str]) -> Output {
        self.cli("brine", &self.master_dir(), args, Duration::from_secs(60))
    }

    pub fn brine_key(&self, args: &[&str]) -> Output {
        self.cli(
            "brine-key",
            &self.master_dir(),
            args,
            Duration::from_secs(30),
        )
    }

    pub fn brine_cp(&self, args: &[&str]) -> Output {
        self.cli(
            "brine-cp",
            &self.master_dir(),
            args,
            Duration::from_secs(60),
        )
    }

    pub fn brine_run(&self, args: &[&str]) -> Output {
        self.cli(
            "brine-run",
            &self.master_dir(),
            args,
            Duration::from_secs(60),
        )
    }

    pub fn brine_call(&self, id: &str, args: &[&str]) -> Output {
        self.cli(
            "brine-call",
            &self.minion_config_dir(id),
            args,
            Duration::from_secs(60),
        )
    }

    /// `brine-key --out json -L` as JSON.
    pub fn keys(&self) -> Value {
        let out = self.brine_key(&["-L", "--out", "json"]);
        assert!(
            out.status.success(),
            "brine-key -L failed: {}",
            stderr(&out)
        );
        serde_json::from_slice(&out.stdout).expect("brine-key json")
    }

    pub fn wait_key_in(&self, state: &str, id: &str) {
        wait_for(
            &format!("key {id} in {state}"),
            Duration::from_secs(20),
            || {
                self.keys()[state]
                    .as_array()
                    .is_some_and(|ids| ids.iter().any(|i| i == id))
                    .then_some(())
            },
        );
    }

    /// Wait for every minion's key to be pending, then accept them all.
    pub fn accept_all(&self) {
        for m in &self.minions {
            self.wait_key_in("minions_pre", &m.id);
        }
        let out = self.brine_key(&["-A", "-y"]);
        assert!(
            out.status.success(),
            "brine-key -A failed: {}",
            stderr(&out)
        );
    }

    /// Ping `target` until each of `ids` answers True (bounded).
    pub fn wait_pingable(&self, target: &str, ids: &[&str]) {
        wait_for(
            &format!("{ids:?} to answer test.ping"),
            Duration::from_secs(30),
            || {
                let out =
                    self.brine(&["-t", "2", "--out", "json", "--static", target, "test.ping"]);
                let v: Value = serde_json::from_slice(&out.stdout).ok()?;
                ids.iter()
                    .all(|id| v[*id] == Value::Bool(true))
                    .then_some(())
            },
        );
    }

    /// A started cluster with every minion accepted and answering.
    pub fn ready(self) -> Self {
        self.accept_all();
        let ids: Vec<&str> = self.minions.iter().map(|m| m.id.as_str()).collect();
        self.wait_pingable("*", &ids);
        self
    }

    /// Start a `brine-swarm` of `count` simulated minions (ids `<prefix>0001`...)
    /// against this master; `args` are extra `brine-swarm` flags. It is
    /// killed when the returned handle drops.
    pub fn start_swarm(&self, count: usize, prefix: &str, args: &[&str]) -> Swarm {
        let conf = self.dir.path().join(format!("swarm-{prefix}conf"));
        std::fs::create_dir_all(&conf).expect("mkdir");
        let text = format!(
            "root_dir: {root}\nmaster: 127.0.0.1\nmaster_port: {rp}\nacceptance_wait_time: 0.3\nauth_timeout: 5\nmaster_alive_interval: 5\n",
            root = self
                .dir
                .path()
                .join(format!("swarm-{prefix}root"))
                .display(),
            rp = self.ret_port,
        );
        std::fs::write(conf.join("minion"), text).expect("write swarm config");
        let log = std::fs::File::create(self.dir.path().join(format!("swarm-{prefix}.log")))
            .expect("log");
        let child = self
            .command(bin("brine-swarm"))
            .arg("-c")
            .arg(&conf)
            .args([
                "-l",
                &self.log_level,
                "-n",
                &count.to_string(),
                "--id-prefix",
                prefix,
            ])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start brine-swarm");
        Swarm { child }
    }

    /// Start `brine-api` with this master's config (its `rest_api` block
    /// comes from the builder's `master_conf`) plus `args`, and wait until it
    /// listens. It is killed when the returned handle drops.
    pub fn start_api(&self, args: &[&str]) -> ApiProc {
        let log = std::fs::File::create(self.dir.path().join("api.log")).expect("log");
        let mut child = self
            .command(bin("brine-api"))
            .arg("-c")
            .arg(self.master_dir())
            .args(["-l", &self.log_level])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start brine-api");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("brine-api ready on ") {
                    let _ = tx.send(url.to_string());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| {
                let log =
                    std::fs::read_to_string(self.dir.path().join("api.log")).unwrap_or_default();
                panic!("brine-api did not become ready:\n{log}")
            });
        ApiProc { child, url }
    }

    /// Start `brine-run state.event <glob>` and read its lines.
    pub fn events(&self, glob: &str) -> EventStream {
        let mut child = self
            .command(bin("brine-run"))
            .arg("-c")
            .arg(self.master_dir())
            .args(["-l", "info", "state.event", glob])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start state.event");
        let stderr = child.stderr.take().expect("stderr");
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening for events") {
                    let _ = ready_tx.send(());
                }
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("state.event did not start listening");
        EventStream { child, rx }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for m in &mut self.minions {
            if let Some(mut c) = m.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        self.kill_master();
        if std::thread::panicking() {
            eprintln!("--- master log ---\n{}", tail(&self.master_log(), 60));
            for m in &self.minions {
                eprintln!(
                    "--- minion {} log ---\n{}",
                    m.id,
                    tail(&self.minion_log(&m.id), 40)
                );
            }
        }
    }
}

/// Send `signal` to `child` and wait up to `timeout` for it to exit.
fn signal_and_wait(
    mut child: Child,
    name: &str,
    signal: &str,
    timeout: Duration,
) -> std::process::ExitStatus {
    run_ok(Command::new("kill").args(["-s", signal, &child.id().to_string()]));
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait for the process") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} did not exit within {timeout:?} of SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A running `brine-swarm`.
pub struct Swarm {
    child: Child,
}

impl Swarm {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `brine-api`.
pub struct ApiProc {
    child: Child,
    /// `https://127.0.0.1:<port>` (or `http://` with `disable_ssl`).
    pub url: String,
}

impl ApiProc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ApiProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lines from `brine-run state.event`: `tag<TAB>json`.
pub struct EventStream {
    child: Child,
    rx: mpsc::Receiver<String>,
}

impl EventStream {
    /// The next event whose tag satisfies `pred`, within `timeout`.
    pub fn expect(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str, &Value) -> bool,
    ) -> (String, Value) {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("timed out after {timeout:?} waiting for event {what}"));
            let Some((tag, json)) = line.split_once('\t') else {
                continue;
            };
            let data: Value = serde_json::from_str(json).unwrap_or(Value::Null);
            if pred(tag, &data) {
                return (tag.to_string(), data);
            }
        }
    }

    /// Every event that arrives within `window`.
    pub fn collect_for(&self, window: Duration) -> Vec<(String, Value)> {
        let deadline = Instant::now() + window;
        let mut out = Vec::new();
        while let Ok(line) = self
            .rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if let Some((tag, json)) = line.split_once('\t') {
                out.push((
                    tag.to_string(),
                    serde_json::from_str(json).unwrap_or(Value::Null),
                ));
            }
        }
        out
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Removes the test's system user and group on drop.
pub struct SystemAccount {
    pub user: String,
    pub group: String,
}

impl SystemAccount {
    /// Create `group`, then `user` (no home) in it: `membership` is
    /// useradd's `-g` (its primary group) or `-G` (a supplementary one).
    /// Whatever was made is removed on drop, even if a step fails.
    pub fn create(user: String, group: String, membership: &str) -> Self {
        let account = SystemAccount { user, group };
        run_ok(Command::new("groupadd").arg(&account.group));
        run_ok(Command::new("useradd").args(["-M", membership, &account.group, &account.user]));
        account
    }
}

impl Drop for SystemAccount {
    fn drop(&mut self) {
        for (cmd, name) in [("userdel", &self.user), ("groupdel", &self.group)] {
            let _ = Command::new(cmd).arg(name).stderr(Stdio::null()).status();
        }
    }
}

/// Run a host command (a test's setup: useradd, chown...) that must succeed.
pub fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `brine ... --out json --static` parsed.
pub fn json_out(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): stdout={} stderr={}", stdout(o), stderr(o)))
}
