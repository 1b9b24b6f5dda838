//! The minion's return outbox and graceful stop through the real binaries:
//! a return survives the death of both master and minion, and a minion told
//! to stop lets its running job finish and delivers its return.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use crate::cluster::{Cluster, json_out, wait_for};
use crate::security::jid_of;

/// The minion's outbox directory (its `cachedir` under its `root_dir`).
pub(crate) fn outbox_dir(c: &Cluster, id: &str) -> PathBuf {
    c.minion_root(id)
        .join("var/cache/brine/minion/return_outbox")
}

/// The returns waiting in a minion's outbox.
pub(crate) fn outbox_entries(c: &Cluster, id: &str) -> usize {
    std::fs::read_dir(outbox_dir(c, id)).map_or(0, |dir| {
        dir.filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".ret"))
            .count()
    })
}

/// Start `test.sleep <secs>` on m1 and wait until the minion acknowledged it.
fn start_sleep(c: &Cluster, secs: &str) -> String {
    let events = c.events("*");
    let jid = jid_of(&c.brine(&["--async", "m1", "test.sleep", secs]));
    events.expect("the sleep's ack", Duration::from_secs(10), |tag, _| {
        tag.contains(&format!("{jid}/ack/m1"))
    });
    jid
}

/// The returns of `jid` in the job cache, once m1's is there.
fn wait_stored(c: &Cluster, jid: &str) -> serde_json::Value {
    wait_for(
        "m1's return in the job cache",
        Duration::from_secs(30),
        || {
            let v = json_out(&c.brine_run(&["--out", "json", "jobs.lookup_jid", jid]));
            v.get("m1").is_some().then_some(v)
        },
    )
}

/// The master dies while a job runs; the job ends with nobody to take its
/// return, which waits in the outbox; the minion is killed too. Restarted,
/// the minion sends the return from its outbox and the master stores it
/// exactly once.
#[test]
fn a_return_survives_kill_9_of_master_and_minion() {
    let mut c = Cluster::builder().minions(1).start().ready();
    let jid = start_sleep(&c, "2");
    c.kill_master();
    wait_for(
        "the finished job's return in m1's outbox",
        Duration::from_secs(20),
        || (outbox_entries(&c, "m1") == 1).then_some(()),
    );
    c.stop_minion("m1");

    c.start_master();
    let events = c.events("*");
    c.start_minion("m1");
    assert_eq!(wait_stored(&c, &jid), json!({"m1": true}));
    wait_for(
        "m1's outbox to be emptied by the acknowledgement",
        Duration::from_secs(10),
        || (outbox_entries(&c, "m1") == 0).then_some(()),
    );
    let ret_tag = format!("salt/job/{jid}/ret/m1");
    let fired = events
        .collect_for(Duration::from_secs(2))
        .into_iter()
        .filter(|(tag, _)| *tag == ret_tag)
        .count();
    assert_eq!(fired, 1, "the return is published on the bus once");
}

/// SIGTERM while a job runs: the minion lets it finish, its return reaches
/// the master, and the minion exits 0 with nothing left in its outbox.
#[test]
fn sigterm_lets_a_running_job_finish_and_deliver() {
    let mut c = Cluster::builder().minions(1).start().ready();
    let jid = start_sleep(&c, "2");
    let status = c.signal_minion("m1", "TERM", Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{}", c.minion_log("m1"));
    let out = c.brine_run(&["--out", "json", "jobs.lookup_jid", &jid]);
    assert_eq!(
        json_out(&out),
        json!({"m1": true}),
        "{}",
        c.minion_log("m1")
    );
    assert_eq!(outbox_entries(&c, "m1"), 0);
}

/// SIGINT with the master down: the running job finishes, its return is
/// kept in the outbox, and it is delivered once both are back.
#[test]
fn sigint_with_the_master_down_keeps_the_return_for_the_next_start() {
    let mut c = Cluster::builder().minions(1).start().ready();
    let jid = start_sleep(&c, "2");
    c.kill_master();
    let status = c.signal_minion("m1", "INT", Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{}", c.minion_log("m1"));
    assert_eq!(outbox_entries(&c, "m1"), 1, "the return waits on disk");

    c.start_master();
    c.start_minion("m1");
    assert_eq!(wait_stored(&c, &jid), json!({"m1": true}));
}
