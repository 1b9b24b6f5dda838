//! The state system through `brine-call --local state.apply`, masterless
//! (`file_client: local`, `file_roots` at the repository's `examples/salt`),
//! with the example states writing under a temp dir given by pillar.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::{Cluster, json_out, stderr, stdout};

fn example_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/salt")
}

/// A one-minion cluster whose minion reads states from `examples/salt`.
fn cluster() -> Cluster {
    masterless(&example_root())
}

/// A one-minion cluster whose minion reads states from `file_root` itself
/// (`file_client: local`).
pub(crate) fn masterless(file_root: &Path) -> Cluster {
    let conf = format!(
        "file_client: local\n{}",
        crate::cluster::file_roots(file_root)
    );
    Cluster::builder().minions(1).minion_conf(&conf).start()
}

fn pillar(dir: &Path) -> String {
    format!(
        "pillar={}",
        json!({"example_dir": dir.display().to_string()})
    )
}

/// `brine-call --local --out json state.<args>`: (local's value, exit code).
fn apply(c: &Cluster, args: &[&str]) -> (Value, i32) {
    let mut all = vec!["--local", "--out", "json"];
    all.extend_from_slice(args);
    let out = c.brine_call("m1", &all);
    (
        json_out(&out)["local"].clone(),
        out.status.code().unwrap_or(-1),
    )
}

/// The result of the state whose `__id__` is `id` in a state run's return.
pub(crate) fn by_id<'a>(ret: &'a Value, id: &str) -> &'a Value {
    ret.as_object()
        .and_then(|o| o.values().find(|v| v["__id__"] == json!(id)))
        .unwrap_or_else(|| panic!("no result for {id}: {ret:#}"))
}

fn changed(ret: &Value) -> Vec<String> {
    let mut ids: Vec<String> = ret
        .as_object()
        .into_iter()
        .flat_map(|o| o.values())
        .filter(|v| v["changes"].as_object().is_some_and(|c| !c.is_empty()))
        .filter_map(|v| v["__id__"].as_str().map(str::to_string))
        .collect();
    ids.sort();
    ids
}

#[test]
fn states_highstate_applies_then_reports_no_changes_and_test_predicts() {
    let c = cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let pillar = pillar(dir.path());

    let (predicted, code) = apply(&c, &["state.apply", "test=True", &pillar]);
    assert_eq!(code, 0, "{predicted:#}");
    assert_eq!(
        by_id(&predicted, "motd")["result"],
        Value::Null,
        "{predicted:#}"
    );
    assert!(
        !dir.path().join("motd").exists(),
        "test=True changed nothing"
    );

    let (first, code) = apply(&c, &["state.apply", &pillar]);
    assert_eq!(code, 0, "{first:#}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("motd"))
            .ok()
            .as_deref(),
        Some("Welcome to brine\n")
    );
    assert_eq!(
        changed(&first),
        ["app_config", "app_notify", "app_restart", "motd"]
    );
    assert_eq!(
        by_id(&first, "app_restart")["comment"],
        json!("Watch statement fired.")
    );
    let mut predicted_ids: Vec<String> = predicted
        .as_object()
        .into_iter()
        .flat_map(|o| o.values())
        .filter(|v| v["result"].is_null())
        .filter_map(|v| v["__id__"].as_str().map(str::to_string))
        .collect();
    predicted_ids.sort();
    assert!(
        predicted_ids.contains(&"motd".to_string())
            && predicted_ids.contains(&"app_config".to_string())
    );

    let (second, code) = apply(&c, &["state.apply", &pillar]);
    assert_eq!(code, 0, "{second:#}");
    assert!(changed(&second).is_empty(), "{second:#}");
    assert_eq!(
        by_id(&second, "app_notify")["comment"],
        json!("State was not run because none of the onchanges reqs changed")
    );
}

#[test]
fn states_requisites_in_onfail_and_exit_codes() {
    let c = cluster();
    let dir = tempfile::tempdir().expect("tempdir");
    let pillar = pillar(dir.path());
    let (ret, code) = apply(&c, &["state.apply", "requisites", &pillar]);
    assert_eq!(code, 1, "a failed state makes brine-call exit 1: {ret:#}");
    let marker = by_id(&ret, "marker")["__run_num__"].as_u64();
    let after = by_id(&ret, "after_marker")["__run_num__"].as_u64();
    assert!(marker < after, "require_in orders: {ret:#}");
    assert_eq!(by_id(&ret, "recover")["result"], json!(true));
    assert_eq!(
        by_id(&ret, "not_needed")["comment"],
        json!("State was not run because onfail req did not change")
    );
    let out = c.brine_call(
        "m1",
        &[
            "--local",
            "--retcode-passthrough",
            "state.apply",
            "requisites",
            &pillar,
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("local:\n----------\n"), "{text}");
    assert!(text.contains("\nSummary for local\n"), "{text}");
}

#[test]
fn states_failhard_stops_the_run() {
    let c = cluster();
    let (ret, code) = apply(&c, &["state.sls", "failhard"]);
    assert_eq!(code, 1);
    assert_eq!(ret.as_object().map(|o| o.len()), Some(1), "{ret:#}");
    assert_eq!(by_id(&ret, "stop_here")["result"], json!(false));
}

#[test]
fn states_show_and_compile_errors() {
    let c = cluster();
    let (top, _) = apply(&c, &["state.show_top"]);
    assert_eq!(top, json!({"base": ["motd", "app"]}));
    let (low, _) = apply(&c, &["state.show_low_sls", "failhard"]);
    assert_eq!(low[0]["__id__"], json!("stop_here"));
    assert_eq!(low[0]["order"], json!(10000));
    let (err, code) = apply(&c, &["state.sls", "no.such.sls"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        json!(["No matching sls found for 'no.such.sls' in env 'base'"])
    );
}

/// The master serves the tree: `brine '*' state.apply` applies it on the
/// minion from the master's file server, a second run changes nothing, the
/// highstate outputter prints it, and the lowstate matches the masterless one.
#[test]
fn states_apply_through_the_master_from_its_file_server() {
    let c = Cluster::builder()
        .minions(1)
        .master_conf(&crate::cluster::file_roots(&example_root()))
        .start()
        .ready();
    let dir = c.dir.path().join("applied");
    let p = pillar(&dir);
    let run = |extra: &[&str]| {
        let out = c.brine(
            &[
                &["-t", "60", "--out", "json", "--static", "m1", "state.apply"][..],
                extra,
                &[p.as_str()],
            ]
            .concat(),
        );
        (json_out(&out)["m1"].clone(), out.status.code())
    };
    let (first, code) = run(&[]);
    assert_eq!(code, Some(0), "{first:#}");
    assert_eq!(
        changed(&first),
        ["app_config", "app_notify", "app_restart", "motd"]
    );
    // Salt ends `contents` with a newline (contents_newline defaults to True).
    assert_eq!(
        std::fs::read_to_string(dir.join("motd")).expect("motd"),
        "Welcome to brine\n"
    );
    let (second, _) = run(&[]);
    assert!(
        changed(&second).is_empty(),
        "second run changed: {second:#}"
    );

    // Without --out, a state run prints with Salt's highstate outputter.
    let out = c.brine(&["-t", "60", "m1", "state.apply", &p]);
    let text = stdout(&out);
    assert!(
        text.contains("Summary for m1") && text.contains("Succeeded: 4"),
        "{text}"
    );
    // Salt's flags over the master's config: terse lines in colour, and
    // state_verbose off hides the states that succeeded without changes
    // (all of them now). tests/conformance's highstate-output cases pin the
    // exact bytes against Salt's.
    let terse = stdout(&c.brine(&[
        "-t",
        "60",
        "--force-color",
        "--state-output=terse",
        "m1",
        "state.apply",
        &p,
    ]));
    assert!(terse.starts_with("\x1b[0;32mm1:\x1b[0;0m\n"), "{terse:?}");
    assert_eq!(
        terse.matches(" - Result: Clean - Started: ").count(),
        4,
        "{terse:?}"
    );
    let quiet = stdout(&c.brine(&["-t", "60", "--state-verbose=False", "m1", "state.apply", &p]));
    assert!(
        !quiet.contains("ID: ") && quiet.contains("Succeeded: 4"),
        "{quiet}"
    );

    // The same lowstate through the master's file server and masterless.
    let through_master = json_out(&c.brine(&[
        "-t",
        "60",
        "--out",
        "json",
        "--static",
        "m1",
        "state.show_lowstate",
        &p,
    ]))["m1"]
        .clone();
    let local_conf = c.dir.path().join("local-conf");
    std::fs::create_dir_all(&local_conf).expect("mkdir");
    std::fs::write(
        local_conf.join("minion"),
        format!(
            "root_dir: {}\nid: m1\nfile_client: local\nfile_roots:\n  base:\n    - {}\n",
            c.dir.path().join("local-root").display(),
            example_root().display()
        ),
    )
    .expect("write config");
    let out = crate::cluster::run_with_timeout(
        std::process::Command::new(crate::cluster::bin("brine-call"))
            .arg("-c")
            .arg(&local_conf)
            .args(["--local", "--out", "json", "state.show_lowstate", &p]),
        std::time::Duration::from_secs(60),
    );
    assert_eq!(json_out(&out)["local"], through_master, "{}", stderr(&out));
}

/// `file.recurse` mirrors a salt:// directory (each file through
/// file.managed), predicts in test mode, removes strays with `clean`, and a
/// second run changes nothing.
#[test]
fn states_file_recurse_mirrors_a_directory() {
    let tree = tempfile::tempdir().expect("tree");
    let dest = tempfile::tempdir().expect("dest");
    std::fs::create_dir_all(tree.path().join("site/conf")).expect("mkdir");
    std::fs::write(tree.path().join("site/index.html"), "<h1>hi</h1>\n").expect("write");
    std::fs::write(tree.path().join("site/conf/app.ini"), "[app]\n").expect("write");
    let target = dest.path().join("www");
    std::fs::write(
        tree.path().join("web.sls"),
        format!("site:\n  file.recurse:\n    - name: {}\n    - source: salt://site\n    - clean: True\n", target.display()),
    )
    .expect("write");
    let c = Cluster::builder()
        .minions(1)
        .master_conf(&crate::cluster::file_roots(tree.path()))
        .start()
        .ready();
    let run = |extra: &[&str]| {
        let out = c.brine(
            &[
                &[
                    "-t",
                    "60",
                    "--out",
                    "json",
                    "--static",
                    "m1",
                    "state.sls",
                    "web",
                ][..],
                extra,
            ]
            .concat(),
        );
        json_out(&out)["m1"].clone()
    };
    let predicted = run(&["test=True"]);
    let site = by_id(&predicted, "site");
    assert_eq!(site["result"], Value::Null, "{site:#}");
    assert!(!target.exists(), "test mode changed the disk");

    std::fs::create_dir_all(&target).expect("mkdir");
    std::fs::write(target.join("stray.txt"), "remove me").expect("write");
    let applied = run(&[]);
    let site = by_id(&applied, "site");
    assert_eq!(site["result"], json!(true), "{site:#}");
    assert_eq!(
        std::fs::read_to_string(target.join("conf/app.ini")).expect("read"),
        "[app]\n"
    );
    assert!(
        !target.join("stray.txt").exists(),
        "clean left a stray file"
    );
    assert!(site["changes"]["removed"].is_array(), "{site:#}");

    let again = run(&[]);
    let site = by_id(&again, "site");
    assert_eq!(site["changes"], json!({}), "{site:#}");
    assert_eq!(
        site["comment"],
        json!(format!(
            "The directory {} is in the correct state",
            target.display()
        ))
    );
}

/// A ready one-minion cluster whose master serves one SLS, `<name>.sls`
/// (its temp tree is returned with it: it must live as long as the cluster).
fn master_served(name: &str, sls: &str, minion_conf: &str) -> (Cluster, tempfile::TempDir) {
    let srv = tempfile::tempdir().expect("tempdir");
    std::fs::write(srv.path().join(format!("{name}.sls")), sls).expect("sls");
    let c = Cluster::builder()
        .minions(1)
        .minion_conf(minion_conf)
        .master_conf(&crate::cluster::file_roots(srv.path()))
        .start()
        .ready();
    (c, srv)
}

/// `brine m1 state.apply <sls>`, which must succeed.
fn apply_through_master(c: &Cluster, sls: &str) {
    let out = c.brine(&["--out", "json", "m1", "state.apply", sls]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
}

/// `fire_event` through the master: `True` sends the result under the
/// state's name, a string under that suffix, both as
/// `salt/state_result/<jid>/<minion>/...` on the master's bus.
#[test]
fn states_fire_event_puts_results_on_the_masters_bus() {
    let (c, _srv) = master_served(
        "fired",
        "announce:\n  test.succeed_with_changes:\n    - fire_event: True\n\
         step:\n  test.succeed_without_changes:\n    - fire_event: deploy/step1\n",
        "",
    );
    let events = c.events("salt/*");
    apply_through_master(&c, "fired");
    let (new_tag, _) = events.expect("the job", Duration::from_secs(20), |t, d| {
        t.ends_with("/new") && d["fun"] == "state.apply"
    });
    let jid = new_tag.split('/').nth(2).expect("jid").to_string();
    let (_, announce) = events.expect("the announce result", Duration::from_secs(30), |t, _| {
        t == format!("salt/state_result/{jid}/m1/announce")
    });
    // As Salt's master puts a minion's event on the bus: the `_minion_event`
    // load, the state's result under `data.ret`.
    assert_eq!(announce["data"]["ret"]["result"], true, "{announce}");
    assert_eq!(announce["data"]["ret"]["__id__"], "announce", "{announce}");
    let (_, step) = events.expect(
        "the custom-tagged result",
        Duration::from_secs(30),
        |t, _| t == format!("salt/state_result/{jid}/m1/deploy/step1"),
    );
    assert_eq!(step["data"]["ret"]["comment"], "Success!", "{step}");
    assert_eq!(step["id"], "m1", "{step}");
}

/// `top_file_merging_strategy` decides which environment's top file speaks
/// for which environment (a dev branch's stale copy of base's section is
/// ignored by default).
#[test]
fn states_top_file_merging_strategy_picks_the_sections() {
    let roots = tempfile::tempdir().expect("tempdir");
    for (env, top) in [
        (
            "base",
            "base:\n  '*':\n    - common\ndev:\n  '*':\n    - dev_from_base\n",
        ),
        (
            "dev",
            "base:\n  '*':\n    - stale_common\ndev:\n  '*':\n    - dev_own\n",
        ),
    ] {
        std::fs::create_dir(roots.path().join(env)).expect("env dir");
        std::fs::write(roots.path().join(env).join("top.sls"), top).expect("top");
    }
    let file_roots = format!(
        "file_client: local\nfile_roots:\n  base:\n    - {root}/base\n  dev:\n    - {root}/dev\n",
        root = roots.path().display()
    );
    let show_top = |strategy: &str| {
        let c = Cluster::builder()
            .minions(1)
            .minion_conf(&format!(
                "{file_roots}top_file_merging_strategy: {strategy}\n"
            ))
            .start();
        let (top, code) = apply(&c, &["state.show_top"]);
        assert_eq!(code, 0, "{top:#}");
        top
    };
    assert_eq!(
        show_top("merge"),
        json!({"base": ["common"], "dev": ["dev_from_base"]})
    );
    assert_eq!(
        show_top("same"),
        json!({"base": ["common"], "dev": ["dev_own"]})
    );
    assert_eq!(
        show_top("merge_all"),
        json!({"base": ["common", "stale_common"], "dev": ["dev_from_base", "dev_own"]})
    );
    // env_order: dev's top file is read first, base's second.
    assert_eq!(
        show_top("merge_all\nenv_order: [dev, base]"),
        json!({"base": ["stale_common", "common"], "dev": ["dev_own", "dev_from_base"]})
    );
}

/// `file.directory` with `clean: True` removes what no required `file`
/// state manages (a `require_in` counts, a required directory keeps its
/// contents, `exclude_pat` spares), after predicting it in test mode path by
/// path (`{path: {"removed": "Removed due to clean"}}`); applied, `removed`
/// lists what it removed, a directory standing for its contents, as Salt's.
#[test]
fn states_directory_clean_keeps_required_files_only() {
    let roots = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let app = work.path().join("app");
    for dir in ["old/deeper", "conf.d"] {
        std::fs::create_dir_all(app.join(dir)).expect("mkdir");
    }
    for file in [
        "stray.txt",
        "old/deeper/file",
        "notes.keep",
        "conf.d/inner.txt",
    ] {
        std::fs::write(app.join(file), "x").expect("write");
    }
    let app = app.display().to_string();
    std::fs::write(
        roots.path().join("clean.sls"),
        format!(
            "{app}:\n  file.directory:\n    - clean: True\n    - exclude_pat: '*.keep'\n    - require:\n      - file: {app}/managed.conf\n\
             {app}/managed.conf:\n  file.managed:\n    - contents: hi\n\
             {app}/conf.d:\n  file.directory:\n    - require_in:\n      - file: {app}\n"
        ),
    )
    .expect("sls");
    let c = masterless(roots.path());
    let doomed = [
        format!("{app}/stray.txt"),
        format!("{app}/old/deeper/file"),
        format!("{app}/old/deeper"),
        format!("{app}/old"),
    ];
    let removed = json!([format!("{app}/stray.txt"), format!("{app}/old")]);
    let sorted = |v: &Value| {
        let mut list: Vec<String> = v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str().map(String::from))
            .collect();
        list.sort();
        list
    };

    let (predicted, code) = apply(&c, &["state.apply", "clean", "test=True"]);
    assert_eq!(code, 0, "{predicted:#}");
    let dir = by_id(&predicted, &app);
    assert_eq!(dir["result"], Value::Null, "{predicted:#}");
    let mut listed: Vec<&String> = dir["changes"]
        .as_object()
        .map(|c| c.keys().collect())
        .unwrap_or_default();
    listed.sort();
    let mut expected: Vec<&String> = doomed.iter().collect();
    expected.sort();
    assert_eq!(listed, expected, "{predicted:#}");
    for path in &doomed {
        assert_eq!(
            dir["changes"][path],
            json!({"removed": "Removed due to clean"})
        );
    }
    assert!(
        Path::new(&app).join("stray.txt").exists(),
        "test mode removed nothing"
    );

    let (ret, code) = apply(&c, &["state.apply", "clean"]);
    assert_eq!(code, 0, "{ret:#}");
    let dir = by_id(&ret, &app);
    assert_eq!(
        dir["comment"],
        format!("Files cleaned from directory {app}")
    );
    assert_eq!(sorted(&dir["changes"]["removed"]), sorted(&removed));
    for gone in ["stray.txt", "old"] {
        assert!(!Path::new(&app).join(gone).exists(), "{gone} was cleaned");
    }
    for kept in ["managed.conf", "notes.keep", "conf.d/inner.txt"] {
        assert!(Path::new(&app).join(kept).exists(), "{kept} was kept");
    }
    let (again, _) = apply(&c, &["state.apply", "clean"]);
    assert!(
        by_id(&again, &app)["changes"]
            .as_object()
            .is_some_and(|c| c.is_empty()),
        "{again:#}"
    );
}

/// `parallel: True` states run at the same time: each waits (bounded) for
/// the other's marker file, so they succeed only together.
#[test]
fn states_parallel_states_run_together() {
    let roots = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path().display();
    let meet = |me: &str, other: &str| {
        format!(
            "  cmd.run:\n    - name: touch {w}/{me}; for i in $(seq 200); do [ -e {w}/{other} ] && exit 0; sleep 0.05; done; exit 1\n    - parallel: True\n"
        )
    };
    std::fs::write(
        roots.path().join("together.sls"),
        format!(
            "left:\n{}right:\n{}after:\n  cmd.run:\n    - name: echo both\n    - require:\n      - cmd: left\n      - cmd: right\n",
            meet("left", "right"),
            meet("right", "left")
        ),
    )
    .expect("sls");
    let c = masterless(roots.path());
    let (ret, code) = apply(&c, &["state.apply", "together"]);
    assert_eq!(code, 0, "{ret:#}");
    for id in ["left", "right", "after"] {
        assert_eq!(by_id(&ret, id)["result"], true, "{ret:#}");
    }
}

/// `state_events: True` on the minion: each state's progress reaches the
/// master's bus as `salt/job/<jid>/prog/<minion>/<run number>`.
#[test]
fn states_progress_events_with_state_events() {
    let (c, _srv) = master_served(
        "steps",
        "first:\n  test.succeed_without_changes\nsecond:\n  test.succeed_without_changes\n",
        "state_events: True\n",
    );
    let events = c.events("salt/job/*");
    apply_through_master(&c, "steps");
    let (_, data) = events.expect(
        "the second state's progress",
        Duration::from_secs(30),
        |t, _| t.contains("/prog/m1/1"),
    );
    assert_eq!(data["data"]["len"], 2, "{data}");
    assert_eq!(data["data"]["ret"]["__id__"], "second", "{data}");
}
