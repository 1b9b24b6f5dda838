//! Salt's `startup_states` through the real binaries: a starting minion runs
//! its state run once it is authenticated, and the return is in the master's
//! job cache as a job of that minion alone.

use std::time::Duration;

use crate::cluster::{Cluster, json_out, wait_for};

#[test]
fn startup_states_sls_runs_at_start_and_its_return_is_in_the_job_cache() {
    let roots = tempfile::tempdir().expect("tempdir");
    let made = roots.path().join("made-at-start");
    std::fs::write(
        roots.path().join("x.sls"),
        format!(
            "made:\n  file.managed:\n    - name: {}\n    - contents: started\n",
            made.display()
        ),
    )
    .expect("sls");
    let c = Cluster::builder()
        .master_conf(&format!(
            "file_roots:\n  base:\n    - {}\n",
            roots.path().display()
        ))
        .minion_conf("startup_states: sls\nsls_list: [x]\n")
        .minions(1)
        .start()
        .ready();
    wait_for("the startup state's file", Duration::from_secs(60), || {
        made.exists().then_some(())
    });
    assert_eq!(
        std::fs::read_to_string(&made).expect("read").trim_end(),
        "started"
    );
    let (jid, job) = wait_for(
        "the startup job in the job cache",
        Duration::from_secs(30),
        || {
            let jobs = json_out(&c.brine_run(&["--out", "json", "jobs.list_jobs"]));
            jobs.as_object()?
                .iter()
                .find(|(_, job)| job["Function"] == "state.sls")
                .map(|(jid, job)| (jid.clone(), job.clone()))
        },
    );
    assert_eq!(job["Target"], "m1", "{job}");
    assert_eq!(job["Arguments"][0][0], "x", "{job}");
    let found = json_out(&c.brine_run(&["--out", "json", "jobs.lookup_jid", &jid]));
    let states = found["m1"].as_object().expect("the state run's return");
    assert!(states.values().all(|s| s["result"] == true), "{found}");
}
