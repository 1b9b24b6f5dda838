//! Beacons and the scheduler through the real binaries: an `inotify`
//! beacon's event reaches the master's bus, and a scheduled job's return
//! reaches the master's job cache; beacons and jobs come from the minion
//! config or from pillar.

use std::time::Duration;

use serde_json::Value;

use crate::cluster::{Cluster, json_out, wait_for};

#[test]
fn inotify_beacon_event_reaches_the_master_bus() {
    let mut c = Cluster::builder().start();
    let dir = c.minion_root("m1");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let watched = dir.join("watched.txt");
    std::fs::write(&watched, "before\n").expect("write");
    let path = watched.to_string_lossy().to_string();
    c.add_minion(
        "m1",
        &format!("beacons:\n  inotify:\n    - files:\n        {path}:\n          mask: [modify]\n    - interval: 1\n"),
    );
    let c = c.ready();
    let events = c.events("salt/beacon/*");
    // The beacon watches from its first run on; keep editing until it reports.
    let tag = format!("salt/beacon/m1/inotify/{path}");
    let (_, data) = wait_for("the inotify beacon event", Duration::from_secs(30), || {
        std::fs::write(&watched, "after\n").expect("edit");
        let got = events.collect_for(Duration::from_millis(1500));
        got.into_iter().find(|(t, _)| *t == tag)
    });
    assert_eq!(data["path"], Value::String(path.clone()), "{data}");
    assert_eq!(data["change"], "IN_MODIFY", "{data}");
    assert_eq!(data["id"], "m1", "{data}");
}

#[test]
fn scheduled_job_return_lands_in_the_job_cache() {
    let c = Cluster::builder()
        .minion_conf("schedule:\n  pinger:\n    function: test.ping\n    seconds: 1\n")
        .minions(1)
        .start()
        .ready();
    let events = c.events("salt/job/*");
    let (_, ret) = events.expect(
        "a scheduled return",
        Duration::from_secs(30),
        |tag, data| tag.ends_with("/ret/m1") && data["schedule"] == "pinger",
    );
    assert_eq!(ret["fun"], "test.ping", "{ret}");
    assert_eq!(ret["return"], true, "{ret}");
    let jid = ret["jid"].as_str().expect("jid").to_string();
    let jobs = json_out(&c.brine_run(&["--out", "json", "jobs.list_jobs"]));
    let job = &jobs[&jid];
    assert_eq!(job["Function"], "test.ping", "{jobs}");
    assert_eq!(job["User"], "schedule", "{jobs}");
    let found = json_out(&c.brine_run(&["--out", "json", "jobs.lookup_jid", &jid]));
    assert_eq!(found["m1"], true, "{found}");
}

/// A one-minion cluster whose minion's pillar is `pillar_sls` (its temp
/// tree is returned with it: it must live as long as the cluster).
fn with_pillar(pillar_sls: &str) -> (Cluster, tempfile::TempDir) {
    let tree = tempfile::tempdir().expect("tempdir");
    std::fs::write(tree.path().join("top.sls"), "base:\n  '*':\n    - p\n").expect("top");
    std::fs::write(tree.path().join("p.sls"), pillar_sls).expect("sls");
    let c = Cluster::builder()
        .master_conf(&format!(
            "pillar_roots:\n  base:\n    - {}\n",
            tree.path().display()
        ))
        .minions(1)
        .start()
        .ready();
    (c, tree)
}

/// Jobs under the pillar's `schedule` key run like the minion config's.
#[test]
fn pillar_defined_schedule_runs() {
    let (c, _tree) = with_pillar(
        "schedule:\n  from_pillar:\n    function: test.echo\n    args: [pillar-job]\n    seconds: 1\n",
    );
    let events = c.events("salt/job/*");
    let (_, ret) = events.expect(
        "the pillar job's return",
        Duration::from_secs(30),
        |tag, data| tag.ends_with("/ret/m1") && data["schedule"] == "from_pillar",
    );
    assert_eq!(ret["return"], "pillar-job", "{ret}");
}

/// Beacons under the pillar's `beacons` key run like the minion config's.
#[test]
fn pillar_defined_beacon_fires() {
    let (c, _tree) = with_pillar("beacons:\n  status:\n    - interval: 1\n");
    let events = c.events("salt/beacon/*");
    let (tag, data) = events.expect(
        "the pillar beacon's event",
        Duration::from_secs(30),
        |tag, _| tag.starts_with("salt/beacon/m1/status/"),
    );
    assert_eq!(data["id"], "m1", "{tag}: {data}");
}

/// A `cron` job runs at the next matching minute (local time).
#[test]
fn cron_scheduled_job_runs_at_the_next_minute() {
    let c = Cluster::builder()
        .minion_conf("schedule:\n  every_minute:\n    function: test.echo\n    args: [cron]\n    cron: '* * * * *'\n")
        .minions(1)
        .start()
        .ready();
    let events = c.events("salt/job/*");
    let (_, ret) = events.expect(
        "the cron job's return (at most a minute away)",
        Duration::from_secs(90),
        |tag, data| tag.ends_with("/ret/m1") && data["schedule"] == "every_minute",
    );
    assert_eq!(ret["return"], "cron", "{ret}");
}

/// `network_info` reports an interface whose counter passes its threshold
/// (loopback has carried traffic by the time the minion is up).
#[test]
fn network_info_beacon_reports_loopback() {
    let c = Cluster::builder()
        .minion_conf("beacons:\n  network_info:\n    - interfaces:\n        lo:\n          type: greater\n          bytes_recv: 0\n    - interval: 1\n")
        .minions(1)
        .start()
        .ready();
    let events = c.events("salt/beacon/*");
    let (_, data) = events.expect(
        "the network_info event",
        Duration::from_secs(30),
        |tag, _| tag == "salt/beacon/m1/network_info/",
    );
    assert_eq!(data["interface"], "lo", "{data}");
    assert!(
        data["network_info"]["bytes_recv"].as_u64() > Some(0),
        "{data}"
    );
}

/// A `when` job runs at the local time it names.
#[test]
fn when_scheduled_job_runs_at_its_time() {
    let soon = std::process::Command::new("date")
        .args(["-d", "+8 seconds", "+%H:%M:%S"])
        .output()
        .expect("date");
    let soon = String::from_utf8_lossy(&soon.stdout).trim().to_string();
    let c = Cluster::builder()
        .minion_conf(&format!(
            "schedule:\n  at_a_time:\n    function: test.echo\n    args: [when]\n    when: '{soon}'\n"
        ))
        .minions(1)
        .start()
        .ready();
    let events = c.events("salt/job/*");
    let (_, ret) = events.expect(
        "the when job's return",
        Duration::from_secs(30),
        |tag, data| tag.ends_with("/ret/m1") && data["schedule"] == "at_a_time",
    );
    assert_eq!(ret["return"], "when", "{ret}");
}

/// `beacons.save` and `schedule.save` write `minion.d/` files that the
/// restarted minion reads back.
#[test]
fn saved_beacons_and_schedule_survive_a_restart() {
    let mut c = Cluster::builder().minions(1).start().ready();
    let run = |c: &Cluster, args: &[&str]| {
        let mut all = vec!["--out", "json", "m1"];
        all.extend_from_slice(args);
        json_out(&c.brine(&all))["m1"].clone()
    };
    let added = run(&c, &["beacons.add", "status", "[{'interval': 3600}]"]);
    assert_eq!(added["result"], true, "{added}");
    let added = run(
        &c,
        &[
            "schedule.add",
            "hourly",
            "function=test.ping",
            "seconds=3600",
        ],
    );
    assert_eq!(added["result"], true, "{added}");
    let saved = run(&c, &["beacons.save"]);
    assert_eq!(saved["result"], true, "{saved}");
    let saved = run(&c, &["schedule.save"]);
    assert_eq!(saved["result"], true, "{saved}");
    let conf = c.minion_config_dir("m1").join("minion.d");
    let beacons = std::fs::read_to_string(conf.join("beacons.conf")).expect("beacons.conf");
    assert!(beacons.contains("status"), "{beacons}");

    c.stop_minion("m1");
    c.start_minion("m1");
    c.wait_pingable("m1", &["m1"]);
    let beacons = run(&c, &["beacons.list", "return_yaml=False"]);
    assert!(beacons["status"].is_array(), "{beacons}");
    let schedule = run(&c, &["schedule.list", "return_yaml=False"]);
    assert_eq!(schedule["hourly"]["function"], "test.ping", "{schedule}");
}

/// The master's own `schedule:` runs runner functions, with runner events.
#[test]
fn master_schedule_runs_a_runner() {
    let c = Cluster::builder()
        .master_conf("schedule:\n  who_is_here:\n    function: manage.present\n    seconds: 1\n")
        .minions(1)
        .start()
        .ready();
    let events = c.events("salt/run/*");
    let (_, ret) = events.expect(
        "the scheduled runner's return",
        Duration::from_secs(30),
        |tag, data| tag.ends_with("/ret") && data["schedule"] == "who_is_here",
    );
    assert_eq!(ret["fun"], "runner.manage.present", "{ret}");
    assert_eq!(ret["success"], true, "{ret}");
    assert_eq!(ret["return"], serde_json::json!(["m1"]), "{ret}");
}
