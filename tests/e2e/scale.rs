//! A small swarm through the real binaries: 200 simulated minions (each with
//! its own keys and connections) authenticate, answer, and are targeted by a
//! grain; no return is lost.

use std::time::Duration;

use crate::cluster::{Cluster, stdout, wait_for};

const SWARM: usize = 200;

fn returned(out: &std::process::Output) -> usize {
    stdout(out)
        .lines()
        .filter(|l| l.ends_with(": True"))
        .count()
}

#[test]
fn a_swarm_of_200_minions_all_return() {
    let c = Cluster::builder()
        .minions(0)
        .auto_accept(true)
        .log_level("info")
        .start();
    let _swarm = c.start_swarm(SWARM, "sw-", &["--grain", "role=web,db,cache,queue"]);
    wait_for(
        "all 200 swarm minions to answer",
        Duration::from_secs(60),
        || {
            let out = c.brine(&["-t", "3", "--out", "txt", "*", "test.ping"]);
            (returned(&out) == SWARM).then_some(())
        },
    );
    // Three more rounds: nothing is lost once they are up.
    for round in 0..3 {
        let out = c.brine(&["-t", "5", "--out", "txt", "*", "test.ping"]);
        assert_eq!(
            returned(&out),
            SWARM,
            "round {round} lost returns:\n{}",
            stdout(&out)
        );
        assert_eq!(out.status.code(), Some(0));
    }
    // A list target reaches exactly the named minions.
    let out = c.brine(&["--out", "txt", "-L", "sw-0001,sw-0100,sw-0200", "test.ping"]);
    assert_eq!(returned(&out), 3, "{}", stdout(&out));
}
