//! `brine-run state.orchestrate`: an orchestration SLS from the master's file
//! server runs steps across minions in requisite order, passes `test=True`
//! on, stops at a failed step, and its templates call the master's own
//! functions.

use std::path::Path;

use serde_json::{Value, json};

use crate::cluster::{Cluster, json_out};

fn write(root: &Path, name: &str, text: &str) {
    let path = root.join(name);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// The orchestration SLS files, writing under `out`.
fn orchestration_tree(root: &Path, out: &Path) {
    let out = out.display();
    write(
        root,
        "orch/deploy.sls",
        &format!(
            "write_on_m1:\n  salt.function:\n    - name: cmd.run\n    - tgt: m1\n    - arg:\n      - touch {out}/step1\n\
             copy_on_m2:\n  salt.function:\n    - name: cmd.run\n    - tgt: m2\n    - arg:\n      - cp {out}/step1 {out}/step2\n    - require:\n      - salt: write_on_m1\n\
             apply_on_m2:\n  salt.state:\n    - tgt: m2\n    - sls: hello\n    - require:\n      - salt: copy_on_m2\n"
        ),
    );
    write(
        root,
        "hello.sls",
        &format!("hello:\n  file.managed:\n    - name: {out}/hello\n    - contents: hi\n"),
    );
    write(
        root,
        "orch/broken.sls",
        &format!(
            "fails:\n  salt.function:\n    - name: cmd.run\n    - tgt: m1\n    - arg:\n      - 'false'\n\
             after:\n  salt.function:\n    - name: cmd.run\n    - tgt: m2\n    - arg:\n      - touch {out}/never\n    - require:\n      - salt: fails\n"
        ),
    );
    // A template calling the master's own functions (the step's id and
    // target come from them).
    write(
        root,
        "orch/own.sls",
        "{{ salt['file.basename']('/steps/ping_m1') }}:\n  salt.function:\n    - name: test.ping\n    - tgt: {{ salt['test.echo']('m1') }}\n",
    );
}

/// `brine-run --out json state.orchestrate <args>`: (the master's results, exit code).
fn orchestrate(c: &Cluster, args: &[&str]) -> (Value, i32) {
    let mut all = vec!["--out", "json", "state.orchestrate"];
    all.extend_from_slice(args);
    let out = c.brine_run(&all);
    let ret = json_out(&out);
    let (id, results) = ret
        .as_object()
        .and_then(|o| o.iter().next())
        .unwrap_or_else(|| panic!("empty orchestration return: {ret:#}"));
    assert!(id.ends_with("_master"), "{id}");
    (results.clone(), out.status.code().unwrap_or(-1))
}

fn step<'a>(results: &'a Value, id: &str) -> &'a Value {
    results
        .as_object()
        .and_then(|o| o.values().find(|v| v["__id__"] == json!(id)))
        .unwrap_or_else(|| panic!("no result for {id}: {results:#}"))
}

#[test]
fn orchestration_runs_steps_in_order_and_stops_on_failure() {
    let roots = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    orchestration_tree(roots.path(), out.path());
    let c = Cluster::builder()
        .minions(2)
        .master_conf(&crate::cluster::file_roots(roots.path()))
        .start()
        .ready();

    // test=True predicts and changes nothing.
    let (predicted, code) = orchestrate(&c, &["orch.deploy", "test=True"]);
    assert_eq!(code, 0, "{predicted:#}");
    assert_eq!(
        step(&predicted, "write_on_m1")["result"],
        Value::Null,
        "{predicted:#}"
    );
    assert!(!out.path().join("step1").exists());
    assert!(!out.path().join("hello").exists());

    // Step 2 on m2 needs step 1's file from m1; step 3 applies states on m2.
    let (ran, code) = orchestrate(&c, &["orch.deploy"]);
    assert_eq!(code, 0, "{ran:#}");
    for id in ["write_on_m1", "copy_on_m2", "apply_on_m2"] {
        assert_eq!(step(&ran, id)["result"], json!(true), "{id}: {ran:#}");
    }
    assert!(out.path().join("step2").exists());
    assert_eq!(
        std::fs::read_to_string(out.path().join("hello")).expect("hello"),
        "hi\n"
    );
    let applied = step(&ran, "apply_on_m2");
    assert!(
        applied["comment"]
            .as_str()
            .is_some_and(|c| c.starts_with("States ran successfully.")),
        "{applied:#}"
    );
    assert!(applied["changes"]["ret"]["m2"].is_object(), "{applied:#}");

    // A failing step fails its dependent and the run.
    let (broken, code) = orchestrate(&c, &["orch.broken"]);
    assert_ne!(code, 0, "{broken:#}");
    let failed = step(&broken, "fails");
    assert_eq!(failed["result"], json!(false), "{broken:#}");
    assert!(
        failed["comment"]
            .as_str()
            .is_some_and(|c| c.contains("failed on minions: m1")),
        "{failed:#}"
    );
    let after = step(&broken, "after");
    assert_eq!(after["result"], json!(false));
    assert!(
        after["comment"]
            .as_str()
            .is_some_and(|c| c.starts_with("One or more requisite failed")),
        "{after:#}"
    );
    assert!(!out.path().join("never").exists());

    // jobs.print_job and jobs.exit_success on the job step 1 published.
    let jobs = json_out(&c.brine_run(&["--out", "json", "jobs.list_jobs"]));
    let jid = jobs
        .as_object()
        .and_then(|o| o.iter().find(|(_, j)| j["Function"] == json!("state.sls")))
        .map(|(jid, _)| jid.clone())
        .expect("the state.sls job");
    let printed = json_out(&c.brine_run(&["--out", "json", "jobs.print_job", &jid]));
    assert_eq!(printed[&jid]["Function"], json!("state.sls"), "{printed:#}");
    assert!(
        printed[&jid]["Result"]["m2"]["return"].is_object(),
        "{printed:#}"
    );
    let success = json_out(&c.brine_run(&["--out", "json", "jobs.exit_success", &jid]));
    assert_eq!(success, json!({"m2": true}));

    // The master's own functions answer the orchestration's templates.
    let (own, code) = orchestrate(&c, &["orch.own"]);
    assert_eq!(code, 0, "{own:#}");
    assert_eq!(step(&own, "ping_m1")["result"], json!(true), "{own:#}");
}
