//! The event-driven loop from end to end: a minion's `inotify` beacon sees a
//! watched file change, the master's reactor answers the beacon event with
//! `state.apply` on that minion, and the state puts the file back. The event
//! stream shows the whole chain.

use std::time::Duration;

use serde_json::json;

use crate::cluster::{Cluster, wait_for};

#[test]
fn a_beacon_event_makes_the_reactor_restore_the_file() {
    let tree = tempfile::tempdir().expect("tree");
    let watched_dir = tempfile::tempdir().expect("watched");
    let watched = watched_dir.path().join("app.conf");
    let path = watched.display().to_string();
    std::fs::create_dir_all(tree.path().join("reactor")).expect("mkdir");
    std::fs::write(
        tree.path().join("restore.sls"),
        format!("app_conf:\n  file.managed:\n    - name: {path}\n    - contents: good\n"),
    )
    .expect("write state");
    std::fs::write(
        tree.path().join("reactor/restore.sls"),
        "restore_app_conf:\n  local.state.apply:\n    - tgt: {{ data['id'] }}\n    - args:\n      - mods: restore\n",
    )
    .expect("write reactor");
    let mut c = Cluster::builder()
        .minions(0)
        .master_conf(&format!(
            "file_roots:\n  base:\n    - {root}\nreactor:\n  - 'salt/beacon/*/inotify/*':\n    - salt://reactor/restore.sls\n",
            root = tree.path().display()
        ))
        .start();
    std::fs::write(&watched, "good\n").expect("write");
    c.add_minion(
        "m1",
        &format!(
            "beacons:\n  inotify:\n    - files:\n        {path}:\n          mask: [modify]\n    - disable_during_state_run: True\n    - interval: 1\n"
        ),
    );
    let c = c.ready();
    let events = c.events("*");

    // Edit until the beacon (watching from its first run on) reports it.
    let beacon_tag = format!("salt/beacon/m1/inotify/{path}");
    let seen = wait_for("the beacon event", Duration::from_secs(30), || {
        std::fs::write(&watched, "tampered\n").expect("tamper");
        let got = events.collect_for(Duration::from_millis(1500));
        got.iter().any(|(t, _)| *t == beacon_tag).then_some(got)
    });
    // The chain: beacon -> the reactor's state.apply job -> its return.
    let rest = {
        let mut all = seen;
        all.extend(events.collect_for(Duration::from_secs(1)));
        all
    };
    let jid = match rest
        .iter()
        .find(|(t, d)| t.ends_with("/new") && d["fun"] == json!("state.apply"))
    {
        Some((_, d)) => d["jid"].as_str().expect("jid").to_string(),
        None => events
            .expect(
                "the reactor's state.apply",
                Duration::from_secs(20),
                |t, d| t.ends_with("/new") && d["fun"] == json!("state.apply"),
            )
            .1["jid"]
            .as_str()
            .expect("jid")
            .to_string(),
    };
    let new_pos = rest
        .iter()
        .position(|(t, _)| *t == format!("salt/job/{jid}/new"));
    let beacon_pos = rest.iter().position(|(t, _)| *t == beacon_tag);
    if let (Some(b), Some(n)) = (beacon_pos, new_pos) {
        assert!(b < n, "the job came before the beacon event");
    }
    let ret_tag = format!("salt/job/{jid}/ret/m1");
    if !rest.iter().any(|(t, _)| *t == ret_tag) {
        events.expect("the state run's return", Duration::from_secs(30), |t, _| {
            t == ret_tag
        });
    }
    wait_for("the file to be restored", Duration::from_secs(30), || {
        (std::fs::read_to_string(&watched).ok()? == "good\n").then_some(())
    });
}
