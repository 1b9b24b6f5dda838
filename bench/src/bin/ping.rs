//! `brine-bench-ping`: wall time of `brine '*' test.ping` against real local
//! daemons (1 and 10 minion processes, median of 10 runs), and the idle RSS of
//! the master and a minion. Build the release binaries first:
//!
//!     cargo build --release --bins && target/release/brine-bench-ping
//!
//! Prints one line per figure; BENCHMARKS.md records them.

use std::process::Command;
use std::time::{Duration, Instant};

use brine_tests::cluster::{Cluster, bin};

const RUNS: usize = 10;

fn main() {
    for n in [1usize, 10] {
        let c = Cluster::builder()
            .log_level("warning")
            .minions(n)
            .auto_accept(true)
            .start();
        let ids: Vec<String> = (1..=n).map(|i| format!("m{i}")).collect();
        let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        c.wait_pingable("*", &id_refs);
        for _ in 0..3 {
            ping(&c, n);
        }
        let mut times: Vec<Duration> = (0..RUNS).map(|_| ping(&c, n)).collect();
        times.sort();
        println!(
            "test.ping wall time, {n} minion(s): median {:.1} ms (min {:.1}, max {:.1}, {RUNS} runs)",
            ms(times[RUNS / 2]),
            ms(times[0]),
            ms(times[RUNS - 1])
        );
        if n == 1 {
            // Let both settle after the pings, then read their resident memory.
            std::thread::sleep(Duration::from_secs(2));
            let master = c.master_pid().and_then(rss_kib).unwrap_or(0);
            let minion = c.minion_pid("m1").and_then(rss_kib).unwrap_or(0);
            println!(
                "idle RSS: master {:.1} MiB, minion {:.1} MiB",
                master as f64 / 1024.0,
                minion as f64 / 1024.0
            );
        }
    }
}

/// One `brine '*' test.ping`; panics unless all `n` minions answered.
fn ping(c: &Cluster, n: usize) -> Duration {
    let start = Instant::now();
    let out = Command::new(bin("brine"))
        .arg("-c")
        .arg(c.master_dir())
        .args(["--out", "txt", "*", "test.ping"])
        .output()
        .expect("run brine");
    let elapsed = start.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.matches(": True").count(),
        n,
        "not every minion answered: {text}"
    );
    elapsed
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// VmRSS of a process, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
