//! `brine-bench-reactor`: latency from an event on the master's bus to the
//! reactor's job publication (issue 7). A reactor rule maps `bench/trigger`
//! to `local.test.ping`; each trigger is fired with `brine-run event.send`,
//! and the latency is the difference of the master's `_stamp`s on the trigger
//! event and on the reaction's `salt/job/<jid>/new` event.
//!
//!     cargo build --release --bins && target/release/brine-bench-reactor

use std::time::Duration;

use brine_tests::cluster::Cluster;
use serde_json::Value;

const TRIGGERS: usize = 20;

fn stamp_micros(data: &Value) -> Option<i64> {
    let text = data.get("_stamp")?.as_str()?;
    let ts: jiff::Timestamp = text.parse().ok()?;
    Some(ts.as_microsecond())
}

fn main() {
    let tree = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(tree.path().join("reactor")).expect("mkdir");
    std::fs::write(
        tree.path().join("reactor/ping.sls"),
        "ping_back:\n  local.test.ping:\n    - tgt: m1\n",
    )
    .expect("write");
    let c = Cluster::builder()
        .log_level("warning")
        .minions(1)
        .auto_accept(true)
        .master_conf(&format!(
            "file_roots:\n  base:\n    - {}\nreactor:\n  - 'bench/trigger':\n    - salt://reactor/ping.sls\n",
            tree.path().display()
        ))
        .start();
    c.wait_pingable("m1", &["m1"]);
    let events = c.events("*");
    let mut latencies = Vec::new();
    for _ in 0..TRIGGERS {
        c.brine_run(&["event.send", "bench/trigger"]);
        let (_, trigger) = events.expect("the trigger", Duration::from_secs(10), |t, _| {
            t == "bench/trigger"
        });
        let (_, new) = events.expect("the reaction", Duration::from_secs(10), |t, d| {
            t.ends_with("/new") && d["user"] == "Reactor"
        });
        if let (Some(a), Some(b)) = (stamp_micros(&trigger), stamp_micros(&new)) {
            latencies.push((b - a) as f64 / 1000.0);
        }
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "event -> reactor job publication, {} triggers: median {:.2} ms, max {:.2} ms",
        latencies.len(),
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );
}
