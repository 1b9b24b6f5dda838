//! Targeting through the real CLI: every target form against minions with
//! different static grains, malformed targets refused before publishing, the
//! `grains.*` functions end to end, and batch mode's sliding window.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cluster::{Cluster, json_out, stderr, stdout, wait_for};

const NODEGROUPS: &str =
    "nodegroups:\n  webs: 'G@role:web'\n  prod_webs: 'N@webs and G@env:prod'\n  dbs: [db1, db2]\n";

/// Four minions: two web, two db, one of each in prod and dev.
fn four_minions() -> Cluster {
    let mut c = Cluster::builder()
        .minion_ids(&[])
        .master_conf(NODEGROUPS)
        .start();
    c.add_minion(
        "web1",
        "grains:\n  role: web\n  env: prod\n  tags: [edge, tls]\n  app:\n    name: nginx\n",
    );
    c.add_minion("web2", "grains:\n  role: web\n  env: dev\n");
    c.add_minion("db1", "grains:\n  role: db\n  env: prod\n");
    c.add_minion("db2", "grains:\n  role: db\n  env: dev\n");
    let c = c.ready();
    // The master learns grains from each minion after it authenticates.
    wait_for(
        "every minion's grains in the master's cache",
        Duration::from_secs(20),
        || (matched(&c, &["-G", "role:*"]) == ids(&["web1", "web2", "db1", "db2"])).then_some(()),
    );
    c
}

fn ids(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// The minions that answered `test.ping` for a target (empty when nothing
/// matched, which must then be exit code 2).
fn matched(c: &Cluster, target: &[&str]) -> BTreeSet<String> {
    let mut args = vec!["--out", "json", "--static", "-t", "10"];
    args.extend_from_slice(target);
    args.push("test.ping");
    let out = c.brine(&args);
    if out.status.code() == Some(2) {
        assert!(
            stderr(&out).contains("No minions matched the target"),
            "{target:?}: {}",
            stderr(&out)
        );
        return BTreeSet::new();
    }
    assert_eq!(out.status.code(), Some(0), "{target:?}: {}", stderr(&out));
    match json_out(&out) {
        Value::Object(map) => map.keys().cloned().collect(),
        other => panic!("{target:?}: not an object: {other}"),
    }
}

/// A documentation subnet none of this host's addresses is in.
fn unused_subnet(c: &Cluster) -> &'static str {
    let out = c.brine(&["--out", "json", "--static", "web1", "grains.get", "ipv4"]);
    let addresses = json_out(&out)["web1"].clone();
    let taken = |prefix: &str| {
        addresses.as_array().is_some_and(|a| {
            a.iter()
                .any(|ip| ip.as_str().is_some_and(|ip| ip.starts_with(prefix)))
        })
    };
    [
        ("203.0.113.", "203.0.113.0/24"),
        ("198.51.100.", "198.51.100.0/24"),
        ("192.0.2.", "192.0.2.0/24"),
    ]
    .into_iter()
    .find(|(prefix, _)| !taken(prefix))
    .map(|(_, net)| net)
    .unwrap_or("240.0.0.0/24")
}

#[test]
fn every_target_form_reaches_exactly_the_matching_minions() {
    let c = four_minions();
    let cases: &[(&[&str], &[&str])] = &[
        (&["web*"], &["web1", "web2"]),
        (&["-E", r"db\d"], &["db1", "db2"]),
        (&["-L", "web1,db2"], &["web1", "db2"]),
        (&["-G", "role:web"], &["web1", "web2"]),
        (&["-G", "tags:tls"], &["web1"]),
        (&["-G", "app:name:ngin*"], &["web1"]),
        (&["-G", "ROLE:WEB"], &[]),
        (&["-G", "role:WEB"], &["web1", "web2"]),
        (&["-P", "env:^pro"], &["web1", "db1"]),
        (&["-C", "G@role:web and not G@env:dev"], &["web1"]),
        (&["-C", "( web1 or db1 ) and G@env:prod"], &["web1", "db1"]),
        (&["-C", "not G@role:web"], &["db1", "db2"]),
        (&["-C", r"E@web\d and L@web2,db1"], &["web2"]),
        (&["-C", "db* not ( G@env:dev or web* )"], &["db1"]),
        (&["-N", "webs"], &["web1", "web2"]),
        (&["-N", "prod_webs"], &["web1"]),
        (&["-N", "dbs"], &["db1", "db2"]),
        (&["-C", "N@dbs and G@env:dev"], &["db2"]),
        (&["-S", "127.0.0.0/8"], &["web1", "web2", "db1", "db2"]),
        (&["-S", "127.0.0.1"], &["web1", "web2", "db1", "db2"]),
        (&["-S", unused_subnet(&c)], &[]),
        // Pillar is not compiled yet: every minion's pillar is empty.
        (&["-I", "team:*"], &[]),
        (&["-J", "team:.*"], &[]),
        (&["-C", "web1 or I@team:blue"], &["web1"]),
    ];
    for (target, want) in cases {
        assert_eq!(matched(&c, target), ids(want), "target {target:?}");
    }
}

#[test]
fn malformed_targets_are_refused_before_publishing() {
    let c = Cluster::builder()
        .minions(1)
        .master_conf(NODEGROUPS)
        .start()
        .ready();
    let events = c.events("salt/job/*");
    let cases: &[(&[&str], &str)] = &[
        (
            &["-C", "and web1"],
            "'and' (word 1) has no target before it",
        ),
        (&["-C", "( web1 or m1"], "'(' (word 1) is never closed"),
        (&["-C", "m1 )"], "')' (word 2) has no matching '('"),
        (&["-C", "m1 m2"], "need 'and' or 'or' between them"),
        (&["-C", "X@foo"], "unknown target type 'X@'"),
        (&["-N", "nosuch"], "unknown nodegroup \"nosuch\""),
        (&["-E", "("], "invalid regular expression \"(\""),
        (&["-G", "role"], "needs a key and a value"),
        (&["-S", "10.0.0.1/8"], "host bits are set"),
        (&["-b", "0", "*"], "Invalid batch data sent"),
    ];
    for (target, message) in cases {
        let mut args = target.to_vec();
        args.push("test.ping");
        let out = c.brine(&args);
        assert_eq!(out.status.code(), Some(2), "{target:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(message),
            "{target:?}: expected {message:?} in {}",
            stderr(&out)
        );
    }
    let published: Vec<String> = events
        .collect_for(Duration::from_secs(1))
        .into_iter()
        .map(|(tag, _)| tag)
        .filter(|tag| tag.ends_with("/new"))
        .collect();
    assert!(published.is_empty(), "published anyway: {published:?}");
}

#[test]
fn grains_functions_round_trip() {
    let mut c = Cluster::builder().minion_ids(&[]).start();
    c.add_minion("g1", "grains:\n  role: web\n  app:\n    name: nginx\n");
    let c = c.ready();
    let call = |args: &[&str]| {
        let mut full = vec!["--out", "json", "--static", "g1"];
        full.extend_from_slice(args);
        let out = c.brine(&full);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        json_out(&out)["g1"].clone()
    };

    let items = call(&["grains.items"]);
    assert_eq!(items["id"], "g1");
    assert_eq!(items["role"], "web");
    assert_eq!(items["kernel"], "Linux");
    for name in [
        "os",
        "os_family",
        "osrelease",
        "num_cpus",
        "mem_total",
        "ipv4",
        "fqdn",
    ] {
        assert!(items.get(name).is_some(), "grains.items lacks {name}");
    }
    assert!(
        items["ipv4"]
            .as_array()
            .is_some_and(|a| a.contains(&json!("127.0.0.1")))
    );
    assert!(items["num_cpus"].is_u64() && items["mem_total"].is_u64());

    assert_eq!(call(&["grains.get", "app:name"]), "nginx");
    assert_eq!(
        call(&["grains.get", "nosuch", "default=fallback"]),
        "fallback"
    );
    assert_eq!(
        call(&["grains.item", "role", "id"]),
        json!({"role": "web", "id": "g1"})
    );

    assert_eq!(
        call(&["grains.setval", "color", "blue"]),
        json!({"color": "blue"})
    );
    let file =
        std::fs::read_to_string(c.minion_config_dir("g1").join("grains")).expect("grains file");
    assert!(file.contains("color: blue"), "{file}");
    assert_eq!(call(&["grains.get", "color"]), "blue");
    // The writer pushed the new grains before returning: the master targets on them.
    assert_eq!(matched(&c, &["-G", "color:blue"]), ids(&["g1"]));

    let deleted = call(&["grains.delkey", "color"]);
    assert_eq!(deleted["result"], true, "{deleted}");
    assert_eq!(matched(&c, &["-G", "color:blue"]), ids(&[]));
    assert_eq!(call(&["saltutil.refresh_grains"]), true);
    assert!(
        call(&["grains.ls"])
            .as_array()
            .is_some_and(|l| l.contains(&json!("role")))
    );
}

/// `-b 2` over four minions sleeping one second: never more than two run at
/// once, so the run takes two waves.
#[test]
fn batch_runs_at_most_two_at_a_time() {
    let c = Cluster::builder().minions(4).start().ready();
    let start = Instant::now();
    let out = c.brine(&["-b", "2", "-t", "30", "*", "test.sleep", "1"]);
    let elapsed = start.elapsed();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));

    let (mut started, mut returned, mut waves) = (0usize, 0usize, Vec::new());
    for line in text.lines() {
        if let Some(list) = line.strip_prefix("Executing run on ") {
            let wave = list.matches('\'').count() / 2;
            waves.push(wave);
            started += wave;
        } else if line.starts_with('m') && line.ends_with(':') {
            returned += 1;
        }
        assert!(
            started - returned <= 2,
            "more than two minions running at once:\n{text}"
        );
    }
    assert_eq!((started, returned), (4, 4), "{text}");
    assert_eq!(
        waves.first(),
        Some(&2),
        "the first wave fills the window:\n{text}"
    );
    assert!(waves.len() >= 2, "{text}");
    assert!(
        text.contains("Executing run on ['m1', 'm2']"),
        "Salt's progress line:\n{text}"
    );
    // The second wave can only start after a one-second sleep has finished.
    assert!(elapsed >= Duration::from_secs(2), "took only {elapsed:?}");
}
