//! The fault suite (issue 15, RELIABILITY.md): each scenario runs a master
//! and its minions inside a network namespace of its own, injects a fault
//! (packet loss and partitions with iptables, crashes with signals, a full
//! disk with a small tmpfs, a skewed clock with libfaketime), and asserts on
//! the job cache (`brine-run jobs.lookup_jid`) and the event bus, not on logs.
//!
//! It needs root, `ip netns` and iptables (.ci/run installs them); in CI a
//! missing prerequisite fails the scenario, elsewhere it is skipped with the
//! reason printed. Timings are short (keepalives of 1 s, timeouts of 2 s) so
//! the suite stays within a few minutes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use brine_tests::netns::Netns;
use serde_json::Value;

use crate::cluster::{Cluster, json_out, poll_for, stderr, stdout, wait_for};
use crate::security::jid_of;

/// The minions whose return for `jid` is in the job cache.
fn stored(c: &Cluster, jid: &str) -> BTreeSet<String> {
    let out = c.brine_run(&["--out", "json", "jobs.lookup_jid", jid]);
    json_out(&out)
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Wait up to `timeout` until every job of `jids` has a return in the cache
/// from each of `ids` (at least); how long that took.
fn wait_all_stored(
    c: &Cluster,
    jids: &[String],
    ids: &BTreeSet<String>,
    timeout: Duration,
) -> Duration {
    let started = Instant::now();
    let mut pending: Vec<&String> = jids.iter().collect();
    let complete = poll_for(timeout, || {
        pending.retain(|jid| !ids.is_subset(&stored(c, jid)));
        pending.is_empty().then_some(())
    });
    if complete.is_none() {
        // Which jobs are short, and by whom: what a rare failure needs to
        // be traced (a job no minion got, or minions that never resent).
        let short: Vec<String> = pending
            .iter()
            .map(|jid| {
                let have = stored(c, jid);
                let missing: Vec<&String> = ids.difference(&have).take(5).collect();
                format!(
                    "{jid}: {} of {} stored, missing e.g. {missing:?}",
                    have.len(),
                    ids.len()
                )
            })
            .collect();
        panic!(
            "timed out after {timeout:?} waiting for every return of {} jobs from {} minions; \
             incomplete: {short:#?}",
            jids.len(),
            ids.len()
        );
    }
    started.elapsed()
}

/// Publish `test.ping` to `target` `n` times without waiting; the jids.
fn burst(c: &Cluster, target: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| jid_of(&c.brine(&["--async", target, "test.ping"])))
        .collect()
}

/// How many times each `salt/job/<jid>/ret/<id>` of `jids` was fired, from
/// `events` (tag, data) pairs.
fn fired_returns(events: &[(String, Value)], jids: &[String]) -> BTreeMap<(String, String), usize> {
    let mut count = BTreeMap::new();
    for (tag, _) in events {
        let Some(rest) = tag.strip_prefix("salt/job/") else {
            continue;
        };
        let Some((jid, id)) = rest.split_once("/ret/") else {
            continue;
        };
        if jids.iter().any(|j| j == jid) {
            *count.entry((jid.to_string(), id.to_string())).or_insert(0) += 1;
        }
    }
    count
}

/// The swarm's minion ids: `<prefix>0001`...
fn swarm_ids(prefix: &str, n: usize) -> BTreeSet<String> {
    (1..=n).map(|i| format!("{prefix}{i:04}")).collect()
}

/// Ping `target` until `n` minions answer True.
fn wait_swarm_up(c: &Cluster, target: &str, n: usize) {
    wait_for(
        &format!("{n} swarm minions to answer"),
        Duration::from_secs(60),
        || {
            let out = c.brine(&["-t", "3", "--out", "txt", target, "test.ping"]);
            let up = stdout(&out)
                .lines()
                .filter(|l| l.ends_with(": True"))
                .count();
            (up == n).then_some(())
        },
    );
}

const LOSS_SWARM: usize = 50;
const BURST: usize = 20;

/// A 20-job burst to 50 minions while `p` of the packets on the master's
/// ports are dropped: every return is stored, and fired exactly once.
fn burst_under_loss(scenario: &str, p: f64) {
    let Some(ns) = Netns::for_scenario(scenario) else {
        return;
    };
    let c = Cluster::builder()
        .netns(ns)
        .minions(0)
        .auto_accept(true)
        .log_level("info")
        .start();
    let _swarm = c.start_swarm(LOSS_SWARM, "l-", &[]);
    wait_swarm_up(&c, "l-*", LOSS_SWARM);
    let events = c.events("salt/job/*");
    let ns = c.netns().expect("namespace");
    ns.lose(&[c.ret_port, c.publish_port], p);

    let jids = burst(&c, "l-*", BURST);
    let ids = swarm_ids("l-", LOSS_SWARM);
    let took = wait_all_stored(&c, &jids, &ids, Duration::from_secs(90));
    let dropped = ns.dropped_packets();
    ns.heal();
    eprintln!(
        "{scenario}: {} returns stored {took:?} after the burst; {dropped} packets dropped",
        BURST * LOSS_SWARM
    );
    assert!(
        dropped > 0,
        "no packet was dropped: the fault was not injected"
    );

    let fired = fired_returns(&events.collect_for(Duration::from_secs(3)), &jids);
    let twice: Vec<_> = fired.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        twice.is_empty(),
        "returns not fired exactly once: {twice:?}"
    );
    assert_eq!(fired.len(), BURST * LOSS_SWARM, "every return fired");
}

#[test]
fn loss_10_percent_loses_and_duplicates_no_return() {
    burst_under_loss("loss-10", 0.10);
}

#[test]
fn loss_30_percent_loses_and_duplicates_no_return() {
    burst_under_loss("loss-30", 0.30);
}

/// The address minion k's connections leave from (its `source_address`),
/// so it can be cut off alone.
fn own_address(n: u8) -> String {
    format!("127.0.0.{n}")
}

/// A cluster in its own namespace with minions `ids`, minion k bound to
/// 127.0.0.(k+2); accepted and answering.
fn partitionable_cluster(ns: Netns, ids: &[&str]) -> Cluster {
    let mut c = Cluster::builder().netns(ns).minions(0).start();
    for (k, id) in ids.iter().enumerate() {
        let addr = own_address(u8::try_from(k + 2).expect("few minions"));
        // The minion's id in its environment, for the shell jobs of
        // [`publish_marked_jobs`].
        c.minion_wrapper = vec!["env".into(), format!("FAULT_MINION={id}")];
        c.add_minion(id, &format!("source_address: {addr}\n"));
    }
    c.minion_wrapper.clear();
    c.ready()
}

/// `jobs` shell jobs to every minion, job k appending `k` to `runs/<id>`
/// (the id from the minion's environment, `FAULT_MINION`): a record of what
/// each minion ran, and how often, that no return can fake.
fn publish_marked_jobs(
    c: &Cluster,
    runs: &std::path::Path,
    jobs: std::ops::Range<usize>,
) -> Vec<String> {
    jobs.map(|k| {
        let line = format!("echo {k} >> {}/$FAULT_MINION", runs.display());
        jid_of(&c.brine(&["--async", "*", "cmd.run", &line]))
    })
    .collect()
}

/// What each minion ran, from the files of [`publish_marked_jobs`]: job
/// number to how many times.
fn runs_of(runs: &std::path::Path, id: &str) -> BTreeMap<usize, usize> {
    let text = std::fs::read_to_string(runs.join(id)).unwrap_or_default();
    let mut count = BTreeMap::new();
    for k in text.lines().filter_map(|l| l.trim().parse().ok()) {
        *count.entry(k).or_insert(0) += 1;
    }
    count
}

/// m1 is cut off for `cut` while jobs are published to everyone; m2 is
/// not. m2 runs them at once; after the heal m1 runs each job it missed
/// exactly once and every return reaches the job cache.
fn partition_one_minion(scenario: &str, cut: Duration) {
    let Some(ns) = Netns::for_scenario(scenario) else {
        return;
    };
    let c = partitionable_cluster(ns, &["m1", "m2"]);
    let runs = c.dir.path().join("runs");
    std::fs::create_dir_all(&runs).expect("mkdir runs");
    let events = c.events("salt/job/*");
    let ns = c.netns().expect("namespace");

    let before = publish_marked_jobs(&c, &runs, 0..2);
    ns.cut_off(&own_address(2));
    let cut_at = Instant::now();
    let mut jids = before;
    // Jobs published through the whole cut, the last just before the heal.
    let during = 5;
    for k in 2..2 + during {
        std::thread::sleep(cut / (during as u32 + 1));
        jids.extend(publish_marked_jobs(&c, &runs, k..k + 1));
    }
    let m2_only: BTreeSet<String> = ["m2".to_string()].into();
    wait_all_stored(&c, &jids, &m2_only, Duration::from_secs(10));
    std::thread::sleep(cut.saturating_sub(cut_at.elapsed()));
    let dropped = ns.dropped_packets();
    ns.heal();
    let healed = Instant::now();

    let both: BTreeSet<String> = ["m1".to_string(), "m2".to_string()].into();
    let took = wait_all_stored(&c, &jids, &both, Duration::from_secs(60));
    eprintln!(
        "{scenario}: cut for {:?} ({dropped} packets dropped); every missed return stored {took:?} after the heal",
        healed - cut_at
    );
    assert!(dropped > 0, "m1 was not cut off");
    let fired = fired_returns(&events.collect_for(Duration::from_secs(3)), &jids);
    let not_once: Vec<_> = fired.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        not_once.is_empty(),
        "returns not fired exactly once: {not_once:?}"
    );
    let all_once: BTreeMap<usize, usize> = (0..jids.len()).map(|k| (k, 1)).collect();
    for id in ["m1", "m2"] {
        assert_eq!(
            runs_of(&runs, id),
            all_once,
            "{id} ran each job exactly once; the first job's returns: {}",
            stdout(&c.brine_run(&["--out", "json", "jobs.lookup_jid", &jids[0]]))
        );
    }
}

/// A 10 s cut: longer than the minion's keepalive (1 s) and its auth
/// timeout (2 s), and than the master's presence timeout (5 s).
#[test]
fn a_minion_cut_off_for_10_s_runs_each_missed_job_once() {
    partition_one_minion("partition-10s", Duration::from_secs(10));
}

/// A 25 s cut: several reconnect rounds and presence timeouts fail, so the
/// minion re-authenticates from scratch after the heal.
#[test]
fn a_minion_cut_off_for_25_s_runs_each_missed_job_once() {
    partition_one_minion("partition-25s", Duration::from_secs(25));
}

/// m1 is down while jobs are published to everyone and m2 runs them; then
/// the master is killed with kill -9 and restarted (its catch-up window
/// gone with it), m2 restarted too, and m1 started. The restarted master
/// publishes again, to m1 alone, the jobs m1 has not returned for: m1 runs
/// each exactly once, m2 none a second time, and every return reaches the
/// job cache. (A minion merely cut off gets such jobs without this: the
/// dead master's kernel still delivers what its socket had buffered once
/// the path heals.)
#[test]
fn jobs_a_stopped_minion_missed_reach_it_after_a_master_restart() {
    let Some(ns) = Netns::for_scenario("master-restart-missed") else {
        return;
    };
    let mut c = partitionable_cluster(ns, &["m1", "m2"]);
    let runs = c.dir.path().join("runs");
    std::fs::create_dir_all(&runs).expect("mkdir runs");
    c.stop_minion("m1");
    let jids = publish_marked_jobs(&c, &runs, 0..3);
    let m2_only: BTreeSet<String> = ["m2".to_string()].into();
    wait_all_stored(&c, &jids, &m2_only, Duration::from_secs(10));

    kill_9(c.master_pid().expect("a running master"));
    c.kill_master();
    c.stop_minion("m2");
    c.start_master();
    for id in ["m2", "m1"] {
        c.minion_wrapper = vec!["env".into(), format!("FAULT_MINION={id}")];
        c.start_minion(id);
    }
    c.minion_wrapper.clear();
    let started = Instant::now();

    let both: BTreeSet<String> = ["m1".to_string(), "m2".to_string()].into();
    let took = wait_all_stored(&c, &jids, &both, Duration::from_secs(60));
    eprintln!("master-restart-missed: m1's returns stored {took:?} after it started");
    c.wait_pingable("m2", &["m2"]);
    let all_once: BTreeMap<usize, usize> = (0..jids.len()).map(|k| (k, 1)).collect();
    for id in ["m1", "m2"] {
        assert_eq!(
            runs_of(&runs, id),
            all_once,
            "{id} ran each job exactly once"
        );
    }
    // m2 may be named too: a return of m2's that the killed master had not
    // committed yet waits in m2's outbox, and the restarted m2 sends it
    // again instead of running the job a second time.
    let log = c.master_log();
    let named: BTreeSet<&String> = jids
        .iter()
        .filter(|jid| {
            log.lines()
                .any(|l| l.contains("job published again") && l.contains(jid.as_str()))
        })
        .collect();
    assert_eq!(
        named.len(),
        jids.len(),
        "the master names each job it published again ({:?} since m1 started): {log}",
        started.elapsed()
    );
}

/// `kill -9` a process by pid (the cluster reaps it later).
fn kill_9(pid: u32) {
    crate::cluster::run_ok(std::process::Command::new("kill").args(["-9", &pid.to_string()]));
}

/// m1 is killed with kill -9 while a job runs. Meanwhile `brine`, waiting
/// for that job, names the reason m1 did not return ("Job running,
/// heartbeat lost"). Restarted, m1 does not run the job again (a
/// publication runs at most once, docs/protocol.md) and its outbox sends
/// the job's error return: the minion died while it ran.
#[test]
fn minion_kill_9_during_a_job_reports_it_from_the_outbox_not_run_twice() {
    let Some(ns) = Netns::for_scenario("minion-kill-mid-job") else {
        return;
    };
    let mut c = Cluster::builder().netns(ns).minions(1).start().ready();
    let runs = c.dir.path().join("runs");
    let events = c.events("*");
    let pid = c.minion_pid("m1").expect("m1 runs");
    let line = format!("echo started >> {}; sleep 4", runs.display());
    let (out, jid) = std::thread::scope(|s| {
        let waiting = s.spawn(|| c.brine(&["-t", "3", "--out", "txt", "m1", "cmd.run", &line]));
        let (tag, _) = events.expect("m1's ack", Duration::from_secs(10), |tag, _| {
            tag.contains("/ack/m1")
        });
        kill_9(pid);
        let out = waiting.join().expect("brine");
        let jid = tag
            .split('/')
            .nth(2)
            .expect("jid in the ack tag")
            .to_string();
        (out, jid)
    });
    assert_eq!(
        stdout(&out).trim(),
        "m1: Minion did not return. [Job running, heartbeat lost]",
        "{}",
        stderr(&out)
    );
    c.stop_minion("m1");
    let restarted = Instant::now();
    c.start_minion("m1");
    let returned = wait_for(
        "the killed job's return from the outbox",
        Duration::from_secs(30),
        || {
            let v = json_out(&c.brine_run(&["--out", "json", "jobs.lookup_jid", &jid]));
            v.get("m1").cloned()
        },
    );
    eprintln!(
        "minion-kill-mid-job: the return stored {:?} after the restart: {returned}",
        restarted.elapsed()
    );
    assert!(
        returned.as_str().is_some_and(
            |r| r.contains("the minion stopped (killed or crashed) while this job was running")
        ),
        "{returned}"
    );
    c.wait_pingable("m1", &["m1"]);
    std::thread::sleep(Duration::from_secs(2));
    let text = std::fs::read_to_string(&runs).unwrap_or_default();
    assert_eq!(text.lines().count(), 1, "the job ran once, not again");
}

/// Publish `job` (function and arguments) to m1 (bound to its own address,
/// see [`partitionable_cluster`]), cut m1 off once it acknowledged the job,
/// and kill it with kill -9 once the job's return waits in its outbox; the
/// jid. `events` streams the bus from before the publication.
fn kill_with_return_in_outbox(
    c: &mut Cluster,
    events: &crate::cluster::EventStream,
    job: &[&str],
) -> String {
    let mut args = vec!["--async", "m1"];
    args.extend_from_slice(job);
    let jid = jid_of(&c.brine(&args));
    events.expect("m1's ack", Duration::from_secs(10), |tag, _| {
        tag.contains(&format!("{jid}/ack/m1"))
    });
    c.netns().expect("namespace").cut_off(&own_address(2));
    wait_for("the return in m1's outbox", Duration::from_secs(10), || {
        (crate::outbox::outbox_entries(c, "m1") == 1).then_some(())
    });
    c.stop_minion("m1");
    jid
}

/// m1 is cut off as its job ends, so the return waits in its outbox, being
/// re-sent; m1 is killed with kill -9 there. Meanwhile `brine` says m1 is
/// not connected. Healed and restarted, m1 sends the return from its
/// outbox: stored and fired once.
#[test]
fn minion_kill_9_while_sending_its_return_delivers_it_from_the_outbox() {
    let Some(ns) = Netns::for_scenario("minion-kill-mid-return") else {
        return;
    };
    let mut c = partitionable_cluster(ns, &["m1"]);
    let events = c.events("*");
    let jid = kill_with_return_in_outbox(&mut c, &events, &["test.sleep", "1"]);
    let out = c.brine(&["-t", "2", "--out", "txt", "m1", "test.ping"]);
    eprintln!("brine while m1 is down: {}", stdout(&out).trim());
    c.netns().expect("namespace").heal();
    c.start_minion("m1");
    let took = wait_all_stored(
        &c,
        std::slice::from_ref(&jid),
        &["m1".to_string()].into(),
        Duration::from_secs(30),
    );
    eprintln!("minion-kill-mid-return: the return stored {took:?} after the restart");
    let fired = fired_returns(&events.collect_for(Duration::from_secs(2)), &[jid]);
    assert_eq!(
        fired.values().copied().collect::<Vec<_>>(),
        [1],
        "fired once"
    );
    // Which of the two depends on whether the master's presence timeout
    // (5 s) has passed since m1 was last heard from.
    let reason = stdout(&out);
    assert!(
        [
            "m1: Minion did not return. [No response]",
            "m1: Minion did not return. [Not connected]"
        ]
        .contains(&reason.trim()),
        "{reason}"
    );
}

/// m1 runs a job and is cut off as it ends, so the return waits in its
/// outbox; m1 is killed there, and the master too. The restarted master
/// publishes the job again to m1 (no return of m1's is stored); m1,
/// healed and restarted, sends the return from its outbox and does not
/// run the job a second time.
#[test]
fn a_job_whose_return_waits_in_the_outbox_is_not_run_again_for_a_restarted_master() {
    let Some(ns) = Netns::for_scenario("master-restart-outbox") else {
        return;
    };
    let mut c = partitionable_cluster(ns, &["m1"]);
    let runs = c.dir.path().join("runs");
    let events = c.events("*");
    let line = format!("echo ran >> {}; sleep 1", runs.display());
    let jid = kill_with_return_in_outbox(&mut c, &events, &["cmd.run", &line]);
    kill_9(c.master_pid().expect("a running master"));
    c.kill_master();
    c.start_master();
    assert!(
        c.master_log()
            .lines()
            .any(|l| l.contains("job published again") && l.contains(&jid)),
        "the restarted master publishes the job again: {}",
        c.master_log()
    );
    c.netns().expect("namespace").heal();
    c.minion_wrapper = vec!["env".into(), "FAULT_MINION=m1".into()];
    c.start_minion("m1");
    c.minion_wrapper.clear();
    wait_all_stored(
        &c,
        std::slice::from_ref(&jid),
        &["m1".to_string()].into(),
        Duration::from_secs(30),
    );
    // Time for the publication to reach m1 and be turned down.
    c.wait_pingable("m1", &["m1"]);
    let text = std::fs::read_to_string(&runs).unwrap_or_default();
    assert_eq!(text.lines().count(), 1, "the job ran once, not again");
}

const CRASH_SWARM: usize = 200;

/// The master is killed with kill -9 in the middle of a 20-job burst to
/// 200 minions, then restarted: every job whose jid `brine` printed
/// completes with all 200 returns.
#[test]
fn master_kill_9_during_a_burst_completes_every_printed_job() {
    let Some(ns) = Netns::for_scenario("master-kill-mid-burst") else {
        return;
    };
    let mut c = Cluster::builder()
        .netns(ns)
        .minions(0)
        .auto_accept(true)
        .log_level("info")
        .start();
    let _swarm = c.start_swarm(CRASH_SWARM, "k-", &[]);
    wait_swarm_up(&c, "k-*", CRASH_SWARM);
    let master = c.master_pid().expect("a running master");

    let mut printed = Vec::new();
    let mut refused = 0;
    for k in 0..BURST {
        if k == BURST / 2 {
            kill_9(master);
        }
        let out = c.brine(&["--async", "k-*", "test.ping"]);
        match stdout(&out)
            .trim()
            .strip_prefix("Executed command with job ID: ")
        {
            Some(jid) => printed.push(jid.to_string()),
            None => refused += 1,
        }
    }
    eprintln!(
        "master-kill-mid-burst: {} jids printed, {refused} publications refused",
        printed.len()
    );
    assert!(refused > 0, "the master was not killed during the burst");
    c.kill_master();
    let restarted = Instant::now();
    c.start_master();
    let ids = swarm_ids("k-", CRASH_SWARM);
    let took = wait_all_stored(&c, &printed, &ids, Duration::from_secs(90));
    eprintln!(
        "master-kill-mid-burst: every printed job complete {:?} after the restart ({took:?} of waiting)",
        restarted.elapsed()
    );
}

/// libfaketime's preload library (Debian's libfaketime package).
const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// A minion whose clock is 10 minutes ahead (libfaketime) is refused: the
/// master allows `AUTH_MAX_SKEW_SECS` (300 s) against replayed auth
/// requests. The master's log says why, naming the minion, and the minion's
/// says what to check; the minion is never served.
#[test]
fn a_minion_clock_10_minutes_off_is_refused_saying_why() {
    let Some(ns) = Netns::for_scenario("clock-skew") else {
        return;
    };
    assert!(
        std::path::Path::new(LIBFAKETIME).exists(),
        "{LIBFAKETIME} is missing (apt-get install libfaketime; .ci/run does)"
    );
    let mut c = Cluster::builder()
        .netns(ns)
        .auto_accept(true)
        .minions(1)
        .start();
    c.wait_pingable("m1", &["m1"]);
    c.minion_wrapper = [
        "env",
        &format!("LD_PRELOAD={LIBFAKETIME}"),
        "FAKETIME=+10m",
        "FAKETIME_DONT_FAKE_MONOTONIC=1",
    ]
    .map(String::from)
    .to_vec();
    c.add_minion("skewed", "");
    let said = wait_for("the master to say why", Duration::from_secs(15), || {
        let log = c.master_log();
        log.lines()
            .find(|l| l.contains("skewed") && l.contains("clock"))
            .map(str::to_string)
    });
    eprintln!("clock-skew: the master says: {said}");
    let warned = wait_for("the minion to say why", Duration::from_secs(15), || {
        let log = c.minion_log("skewed");
        log.lines()
            .find(|l| l.contains("more than 300 s from its own clock"))
            .map(str::to_string)
    });
    eprintln!("clock-skew: the minion says: {warned}");
    // Refused before its key is looked at: never listed, never served.
    let keys = c.keys().to_string();
    assert!(!keys.contains("skewed"), "{keys}");
    let out = c.brine(&["-t", "2", "--out", "txt", "skewed", "test.ping"]);
    eprintln!(
        "clock-skew: brine says: {} {}",
        stdout(&out).trim(),
        stderr(&out).trim()
    );
    assert!(!stdout(&out).contains("True"), "{}", stdout(&out));
    c.wait_pingable("m1", &["m1"]);
}

/// Fill the file system holding `dir` with a file `dir/filler`; how many
/// bytes it took.
fn fill_up(dir: &std::path::Path) -> u64 {
    use std::io::Write;
    let mut file = std::fs::File::create(dir.join("filler")).expect("create the filler");
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    while let Ok(n) = file.write(&chunk) {
        if n == 0 {
            break;
        }
        written += n as u64;
    }
    let _ = file.sync_all();
    written
}

/// The master's cache directory (the job cache, `jobs.redb`) on a full
/// tmpfs: the master keeps answering, says what is wrong, stores every
/// return once space is back, and loses none of them when it is then killed
/// with kill -9.
#[test]
fn a_full_cache_directory_recovers_and_loses_nothing_acknowledged() {
    let Some(ns) = Netns::for_scenario("cache-full") else {
        return;
    };
    let mut c = Cluster::builder().netns(ns).minions(1).start().ready();
    let cachedir = c.master_root().join("var/cache/brine/master");
    let status = c.signal_master("TERM", Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "{}", c.master_log());
    let tmpfs = brine_tests::netns::Tmpfs::mount(&cachedir, "16m");
    c.start_master();
    c.wait_pingable("m1", &["m1"]);

    // Jobs whose returns come back once the disk is full.
    let jids: Vec<String> = (0..5)
        .map(|_| jid_of(&c.brine(&["--async", "m1", "test.sleep", "2"])))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let filled = fill_up(&cachedir);
    eprintln!("cache-full: {filled} bytes filled the cache directory");

    // New jobs, until the job cache's file has to grow and cannot: then a
    // job is refused, saying why (the ones accepted before must complete).
    let mut jids = jids;
    let refusal = (0..200).find_map(|_| {
        let out = c.brine(&["--async", "m1", "test.ping"]);
        match stdout(&out)
            .trim()
            .strip_prefix("Executed command with job ID: ")
        {
            Some(jid) => {
                jids.push(jid.to_string());
                None
            }
            None => Some(stderr(&out)),
        }
    });
    let refusal = refusal.expect("a job refused on a full disk");
    assert!(refusal.contains("No space left on device"), "{refusal}");
    eprintln!(
        "cache-full: {} jobs accepted, then brine says: {}",
        jids.len(),
        refusal.trim()
    );
    let said = wait_for(
        "the master to say the returns cannot be stored",
        Duration::from_secs(15),
        || {
            c.master_log()
                .lines()
                .find(|l| l.contains("commit") && l.contains("No space left"))
                .map(str::to_string)
        },
    );
    eprintln!("cache-full: the master says: {said}");
    // Still serving what needs no disk: reads of the job cache, keys.
    assert!(stored(&c, &jids[0]).is_empty() || stored(&c, &jids[0]).contains("m1"));
    assert!(c.keys()["minions"].to_string().contains("m1"));
    std::thread::sleep(Duration::from_secs(3));
    let waiting = crate::outbox::outbox_entries(&c, "m1");
    eprintln!("cache-full: {waiting} returns wait in m1's outbox");

    std::fs::remove_file(cachedir.join("filler")).expect("free the space");
    let freed = Instant::now();
    let m1: BTreeSet<String> = ["m1".to_string()].into();
    wait_all_stored(&c, &jids, &m1, Duration::from_secs(60));
    // The master acknowledges a return once it is committed, and the
    // minion then drops it from its outbox: an empty outbox means every
    // return is on disk.
    wait_for(
        "every return acknowledged (m1's outbox empty)",
        Duration::from_secs(60),
        || (crate::outbox::outbox_entries(&c, "m1") == 0).then_some(()),
    );
    eprintln!(
        "cache-full: every return stored and acknowledged {:?} after space came back",
        freed.elapsed()
    );
    c.kill_master();
    c.start_master();
    for jid in &jids {
        assert_eq!(stored(&c, jid), m1, "{jid}'s return survived kill -9");
    }
    drop(tmpfs);
}

/// A 120 s cut: Salt 3008.5's minion, cut off as long, never ran the jobs
/// published meanwhile (RELIABILITY.md); Brine's catch-up brings them.
#[test]
fn a_minion_cut_off_for_120_s_runs_each_missed_job_once() {
    partition_one_minion("partition-120s", Duration::from_secs(120));
}
