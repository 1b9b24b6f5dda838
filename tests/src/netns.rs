//! Fault injection for the fault suite (issue 15): a network namespace per
//! scenario, iptables rules inside it, and a size-limited tmpfs.
//!
//! Every daemon and CLI of a scenario runs through `ip netns exec`, so all of
//! its traffic stays on the namespace's own loopback (127.0.0.0/8) and the
//! rules injected there touch nothing else on the host. The namespace and the
//! tmpfs are removed when their guards drop, panics included.
//!
//! The suite needs root, `ip netns` and iptables. Without them a scenario
//! fails in CI (`CI` set), naming what is missing, and is skipped with a
//! printed reason elsewhere.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A network namespace `brine-fault-<random>` with its loopback up; deleted
/// on drop.
pub struct Netns {
    name: String,
}

/// Why the fault suite cannot run here, if it cannot.
fn missing_prerequisite() -> Option<String> {
    if !is_root() {
        return Some("the fault suite needs root (ip netns, iptables, mount)".into());
    }
    for (tool, package) in [("ip", "iproute2"), ("iptables", "iptables")] {
        let found = Command::new(tool)
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!(
                "`{tool}` is not installed (apt-get install {package}; .ci/run does)"
            ));
        }
    }
    None
}

fn is_root() -> bool {
    // /proc/self/status's Uid line: real, effective, saved, filesystem.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Run `cmd`; its output, or a panic naming the command.
fn output_of(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Run `cmd`, which must succeed.
fn run_ok(cmd: &mut Command) {
    let out = output_of(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Netns {
    /// A fresh namespace for `scenario`, or `None` (after saying why) where
    /// the suite cannot run outside CI. In CI a missing prerequisite fails
    /// the test: a fault suite that silently passes proves nothing.
    pub fn for_scenario(scenario: &str) -> Option<Netns> {
        let ci = std::env::var("CI").ok();
        match verdict(scenario, missing_prerequisite(), ci.as_deref()) {
            Verdict::Run => Some(Netns::create()),
            Verdict::Skip(why) => {
                eprintln!("{why}");
                None
            }
            Verdict::Fail(why) => panic!("{why}"),
        }
    }

    fn create() -> Netns {
        let random: u32 = std::process::id() ^ rand_u32();
        let name = format!("brine-fault-{random:08x}");
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns { name };
        run_ok(Command::new("ip").args(["-n", &ns.name, "link", "set", "lo", "up"]));
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `program` run inside the namespace (`ip netns exec` execs it, so the
    /// child's pid is the program's own and signals reach it directly).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// `iptables <args>` inside the namespace; must succeed.
    pub fn iptables(&self, args: &[&str]) {
        run_ok(self.command("iptables").args(args));
    }

    /// Drop each packet to or from any of `ports` (TCP) with probability
    /// `p`, in both directions (INPUT sees every loopback packet once).
    pub fn lose(&self, ports: &[u16], p: f64) {
        let list = ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let p = format!("{p}");
        self.iptables(&[
            "-A",
            "INPUT",
            "-p",
            "tcp",
            "-m",
            "multiport",
            "--ports",
            &list,
            "-m",
            "statistic",
            "--mode",
            "random",
            "--probability",
            &p,
            "-j",
            "DROP",
        ]);
    }

    /// Cut `addr` off: every packet to or from it is dropped.
    pub fn cut_off(&self, addr: &str) {
        self.iptables(&["-A", "INPUT", "-d", addr, "-j", "DROP"]);
        self.iptables(&["-A", "INPUT", "-s", addr, "-j", "DROP"]);
    }

    /// Remove every rule: the network heals.
    pub fn heal(&self) {
        self.iptables(&["-F", "INPUT"]);
    }

    /// How many packets the INPUT rules dropped so far (proof the fault
    /// was really injected).
    pub fn dropped_packets(&self) -> u64 {
        let out = output_of(
            self.command("iptables")
                .args(["-L", "INPUT", "-v", "-n", "-x"]),
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("DROP"))
            .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
            .sum()
    }
}

/// What a scenario does given what is missing and the `CI` variable.
#[derive(Debug, PartialEq)]
enum Verdict {
    Run,
    Skip(String),
    Fail(String),
}

fn verdict(scenario: &str, missing: Option<String>, ci: Option<&str>) -> Verdict {
    let Some(why) = missing else {
        return Verdict::Run;
    };
    let in_ci = ci.is_some_and(|v| !v.is_empty() && v != "false" && v != "0");
    if in_ci {
        Verdict::Fail(format!("fault scenario {scenario} cannot run in CI: {why}"))
    } else {
        Verdict::Skip(format!("SKIPPED fault scenario {scenario}: {why}"))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A few random bits without a dependency (std's randomly keyed hasher over
/// the time): enough to keep the names of concurrent scenarios apart.
fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish() as u32
}

/// A tmpfs of a fixed size mounted on a directory; unmounted on drop.
pub struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mount a tmpfs of `size` (mount's syntax: `2m`) on `path`, created if
    /// missing.
    pub fn mount(path: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(path).expect("mkdir for the tmpfs");
        run_ok(
            Command::new("mount")
                .args([
                    "-t",
                    "tmpfs",
                    "-o",
                    &format!("size={size},mode=0700"),
                    "tmpfs",
                ])
                .arg(path),
        );
        Tmpfs {
            path: path.to_path_buf(),
        }
    }

    /// Grow (or shrink) the mounted tmpfs to `size`.
    pub fn resize(&self, size: &str) {
        run_ok(
            Command::new("mount")
                .args(["-o", &format!("remount,size={size}")])
                .arg(&self.path),
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily, so a daemon still holding a file open cannot keep it mounted.
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fault suite that silently passes proves nothing: in CI a missing
    /// prerequisite fails the scenario; elsewhere it is skipped, saying why.
    #[test]
    fn a_missing_prerequisite_fails_in_ci_and_skips_elsewhere() {
        let missing = || Some("`iptables` is not installed".to_string());
        assert_eq!(verdict("loss-10", None, Some("true")), Verdict::Run);
        assert_eq!(
            verdict("loss-10", missing(), Some("true")),
            Verdict::Fail(
                "fault scenario loss-10 cannot run in CI: `iptables` is not installed".into()
            )
        );
        for not_ci in [None, Some(""), Some("false"), Some("0")] {
            assert!(matches!(
                verdict("loss-10", missing(), not_ci),
                Verdict::Skip(why) if why.contains("iptables")
            ));
        }
    }
}
