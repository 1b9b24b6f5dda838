//! The master's graceful stop through the real binaries: SIGTERM or SIGINT
//! stops it within a bound with exit status 0, its publisher process goes
//! with it, and no return it acknowledged is lost: every return is in the
//! job cache or still in its minion's outbox, which delivers it later.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::cluster::{Cluster, json_out, wait_for};
use crate::outbox::outbox_dir;
use crate::security::jid_of;

const MINIONS: [&str; 3] = ["m1", "m2", "m3"];
/// How long a stopping master may take: its handlers' grace, the commit,
/// the publisher's exit, and slack for a loaded test machine.
const STOP_BOUND: Duration = Duration::from_secs(12);

/// The publisher process: the master's child started with `--publisher`.
pub(crate) fn publisher_of(master: u32) -> u32 {
    let children = std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            status.lines().any(|l| l == format!("PPid:\t{master}"))
        });
    let publisher = children.into_iter().find(|pid| {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        String::from_utf8_lossy(&cmdline).contains("--publisher")
    });
    publisher.expect("the master's publisher process")
}

fn process_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The minions whose return for `jid` is in the job cache.
fn stored(c: &Cluster, jid: &str) -> BTreeSet<String> {
    let out = c.brine_run(&["--out", "json", "jobs.lookup_jid", jid]);
    let returns = json_out(&out);
    returns
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Is `id`'s return for `jid` waiting in its outbox? (An outbox file holds
/// the return with its jid as a string.)
fn in_outbox(c: &Cluster, id: &str, jid: &str) -> bool {
    let Ok(dir) = std::fs::read_dir(outbox_dir(c, id)) else {
        return false;
    };
    dir.filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".ret"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .any(|bytes| bytes.windows(jid.len()).any(|w| w == jid.as_bytes()))
}

/// Stop the master with `signal`: it exits 0 within the bound, and its
/// publisher process is gone.
fn stop_master(c: &mut Cluster, signal: &str) {
    let master = c.master_pid().expect("a running master");
    let publisher = publisher_of(master);
    let started = Instant::now();
    let status = c.signal_master(signal, STOP_BOUND);
    assert_eq!(status.code(), Some(0), "{}", c.master_log());
    assert!(
        started.elapsed() < STOP_BOUND,
        "stopped in {:?}",
        started.elapsed()
    );
    assert!(c.master_log().contains("brine-master stopped"));
    eprintln!("the master stopped in {:?}", started.elapsed());
    assert!(
        !process_exists(publisher),
        "the publisher process {publisher} outlived the master"
    );
}

/// SIGTERM while returns of a burst of jobs are arriving. The minions are
/// then killed and the master restarted alone: every return is in the job
/// cache or in its minion's outbox (a minion drops a return only when the
/// master acknowledges it, so one in neither was acknowledged and lost).
/// Once the minions are back, their outboxes deliver the rest.
#[test]
fn sigterm_during_a_burst_loses_no_acknowledged_return() {
    let mut c = Cluster::builder().minion_ids(&MINIONS).start().ready();
    let events = c.events("*");
    // Sleeps of 0.2 s to 1.6 s: their returns arrive over more than a second.
    let jids: Vec<String> = (1..=8)
        .map(|k| {
            let secs = format!("{:.1}", f64::from(k) * 0.2);
            jid_of(&c.brine(&["--async", "*", "test.sleep", &secs]))
        })
        .collect();
    let mut acks: BTreeSet<String> = jids
        .iter()
        .flat_map(|jid| MINIONS.map(|id| format!("{jid}/ack/{id}")))
        .collect();
    let mut returned = 0;
    while !acks.is_empty() || returned < MINIONS.len() {
        let (tag, _) = events.expect(
            "every ack and a first returns",
            Duration::from_secs(20),
            |tag, _| tag.contains("/ack/") || tag.contains("/ret/"),
        );
        acks.retain(|ack| !tag.ends_with(ack.as_str()));
        returned += usize::from(tag.contains("/ret/"));
    }
    // Returns are arriving: some stored, more on their way.
    stop_master(&mut c, "TERM");
    drop(events);

    // Every job has ended (its return is in the outbox before it is sent).
    std::thread::sleep(Duration::from_secs(3));
    for id in MINIONS {
        c.stop_minion(id);
    }
    c.start_master();
    let mut cached = 0;
    for jid in &jids {
        let stored = stored(&c, jid);
        for id in MINIONS {
            let here = stored.contains(id);
            cached += usize::from(here);
            assert!(
                here || in_outbox(&c, id, jid),
                "{id}'s return for {jid} is neither in the job cache nor in its outbox"
            );
        }
    }
    eprintln!(
        "{cached} of {} returns were in the job cache after the stop",
        jids.len() * MINIONS.len()
    );

    for id in MINIONS {
        c.start_minion(id);
    }
    let all: BTreeSet<String> = MINIONS.iter().map(|id| id.to_string()).collect();
    wait_for(
        "every return in the job cache",
        Duration::from_secs(60),
        || jids.iter().all(|jid| stored(&c, jid) == all).then_some(()),
    );
}

/// SIGINT on an idle master stops it the same way.
#[test]
fn sigint_stops_an_idle_master_and_its_publisher() {
    let mut c = Cluster::builder().minions(1).start().ready();
    stop_master(&mut c, "INT");
    c.start_master();
    c.wait_pingable("m1", &["m1"]);
}
