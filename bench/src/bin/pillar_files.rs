//! `brine-bench-pillar-files`: issue 6's two figures.
//!
//! 1. Pillar compilation for 1,000 minions from one pillar tree (top file
//!    with grain and glob matches, Jinja with grains and includes), in process,
//!    as the master compiles it.
//! 2. `cp.cache_file` of a 100 MiB file over loopback: a real master and
//!    minion, the minion's cache emptied before each run.
//!
//!     cargo build --release --bins && target/release/brine-bench-pillar-files

use std::path::Path;
use std::time::{Duration, Instant};

use brine_common::config::MasterConfig;
use brine_common::fileroots::Roots;
use brine_pillar::{PillarOpts, compile};
use brine_tests::cluster::{Cluster, json_out};
use serde_json::{Map, Value, json};

fn main() {
    pillar_for_1000_minions();
    copy_100_mib();
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn pillar_for_1000_minions() {
    let tree = tempfile::tempdir().expect("tmp");
    write(
        tree.path(),
        "top.sls",
        "base:\n  '*':\n    - common\n  'role:web':\n    - match: grain\n    - web\n  'web0*':\n    - secrets\n",
    );
    write(
        tree.path(),
        "common.sls",
        "include:\n  - users\nntp: {{ grains['id'] }}.ntp.example.com\nsettings:\n{% for i in range(20) %}  key{{ i }}: {{ i * 2 }}\n{% endfor %}",
    );
    write(
        tree.path(),
        "users.sls",
        "users:\n  alice: {uid: 1000}\n  bob: {uid: 1001}\n",
    );
    write(
        tree.path(),
        "web.sls",
        "nginx:\n  workers: {{ grains.get('num_cpus', 1) * 2 }}\n",
    );
    write(tree.path(), "secrets.sls", "api_key: s3cr3t\n");
    let mut config = MasterConfig::default();
    let mut roots = Map::new();
    roots.insert("base".into(), json!([tree.path().display().to_string()]));
    config.pillar_roots = roots.clone();
    let opts = PillarOpts::from_master(&config);
    let roots = Roots::from_config(&roots);
    let start = Instant::now();
    let mut keys = 0;
    for i in 0..1000 {
        let id = format!("web{i:04}");
        let mut grains = Map::new();
        grains.insert("id".into(), json!(id));
        grains.insert("role".into(), json!(if i % 2 == 0 { "web" } else { "db" }));
        grains.insert("num_cpus".into(), json!(4));
        let pillar = compile(&roots, &id, &grains, &opts);
        assert!(pillar.errors.is_empty(), "{:?}", pillar.errors);
        keys += pillar.data.len();
    }
    println!(
        "pillar compilation, 1,000 minions (5 SLS files, include, Jinja): {:.0} ms ({keys} top-level keys)",
        start.elapsed().as_secs_f64() * 1000.0
    );
}

fn copy_100_mib() {
    let tree = tempfile::tempdir().expect("tmp");
    let big: Vec<u8> = (0..100u32 * 1024 * 1024 / 4)
        .flat_map(|i| i.wrapping_mul(2654435761).to_le_bytes())
        .collect();
    std::fs::write(tree.path().join("big.bin"), &big).expect("write");
    let c = Cluster::builder()
        .log_level("warning")
        .minions(1)
        .auto_accept(true)
        .master_conf(&format!(
            "file_roots:\n  base:\n    - {}\n",
            tree.path().display()
        ))
        .start();
    c.wait_pingable("m1", &["m1"]);
    let cache = c.minion_root("m1").join("var/cache/brine/minion/files");
    // Warm the master's hash cache once.
    c.brine(&["-t", "60", "m1", "cp.hash_file", "salt://big.bin"]);
    let mut times = Vec::new();
    for _ in 0..3 {
        let _ = std::fs::remove_dir_all(&cache);
        let start = Instant::now();
        let out = c.brine(&[
            "-t",
            "60",
            "--out",
            "json",
            "--static",
            "m1",
            "cp.cache_file",
            "salt://big.bin",
        ]);
        times.push(start.elapsed());
        let path: Value = json_out(&out)["m1"].clone();
        assert!(
            path.as_str().is_some_and(|p| p.ends_with("big.bin")),
            "{path}"
        );
    }
    times.sort();
    let median: Duration = times[1];
    println!(
        "cp.cache_file of 100 MiB over loopback (whole brine command, median of 3): {:.0} ms = {:.0} MiB/s",
        median.as_secs_f64() * 1000.0,
        100.0 / median.as_secs_f64()
    );
}
