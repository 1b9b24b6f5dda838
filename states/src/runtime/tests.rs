use serde_json::{Value, json};

use super::*;
use crate::compile::testhost::MemHost;
use crate::compile::{compile, high_from_sls};

fn changes_ok(c: &StateCall<'_>) -> StateResult {
    let mut r = StateResult::ok(&c.chunk.name, "Success!");
    r.changes.insert("changed".into(), json!(true));
    if c.test {
        r.result = None;
    }
    r
}

fn no_changes(c: &StateCall<'_>) -> StateResult {
    StateResult::ok(&c.chunk.name, "Success!")
}

fn fails(c: &StateCall<'_>) -> StateResult {
    StateResult::fail(&c.chunk.name, "Failure!")
}

fn watch_fired(c: &StateCall<'_>) -> StateResult {
    let mut r = StateResult::ok(&c.chunk.name, "Watch statement fired.");
    let changed = c
        .chunk
        .arg("__watch_changes__")
        .cloned()
        .unwrap_or(json!([]));
    r.changes.insert("Requisites with changes".into(), changed);
    r
}

/// Two `sync.meet` states meet only if they run at the same time: each
/// waits (up to 10 s) for the other to arrive.
static MEETING: (std::sync::Mutex<u32>, std::sync::Condvar) =
    (std::sync::Mutex::new(0), std::sync::Condvar::new());

fn meet(c: &StateCall<'_>) -> StateResult {
    let (count, arrived) = &MEETING;
    let Ok(mut here) = count.lock() else {
        return StateResult::fail(&c.chunk.name, "poisoned");
    };
    *here += 1;
    arrived.notify_all();
    let waited = arrived.wait_timeout_while(here, std::time::Duration::from_secs(10), |n| *n < 2);
    match waited {
        Ok((_, timeout)) if !timeout.timed_out() => StateResult::ok(&c.chunk.name, "met"),
        _ => StateResult::fail(&c.chunk.name, "alone"),
    }
}

fn registry() -> StateModules {
    let mut m = StateModules::default();
    m.register("sync.meet", meet);
    m.register("test.succeed_with_changes", changes_ok);
    m.register("test.succeed_without_changes", no_changes);
    m.register("test.fail_without_changes", fails);
    m.register_mod_watch("test", watch_fired);
    m.register("file.managed", changes_ok);
    m
}

fn run_sls(sls: &str, opts: &RunOptions<'_>) -> Map<String, Value> {
    run_on(&MemHost::with_files(&[("base/s.sls", sls)]), sls, opts)
}

fn run_on(host: &MemHost, _sls: &str, opts: &RunOptions<'_>) -> Map<String, Value> {
    let high = high_from_sls(host, "base", &["s".to_string()]).expect("renders");
    let low = compile(high).expect("compiles");
    assert!(missing_functions(&low, &registry()).is_empty());
    run(host, &registry(), &low, opts)
}

fn by_id<'a>(out: &'a Map<String, Value>, id: &str) -> &'a Value {
    out.values()
        .find(|v| v["__id__"] == json!(id))
        .unwrap_or_else(|| panic!("no result for {id}: {out:#?}"))
}

const REQUISITES: &str = "\
config_file:
  file.managed:
    - name: /tmp/app.conf
always_fails:
  test.fail_without_changes:
    - name: this state always fails
needs_failed:
  test.succeed_with_changes:
    - name: should never run
    - require:
      - test: always_fails
restart_on_watch:
  test.succeed_without_changes:
    - name: pretend service restart
    - watch:
      - file: config_file
run_on_changes:
  test.succeed_with_changes:
    - name: echo config changed
    - onchanges:
      - file: config_file
";

#[test]
fn runtime_matches_salts_requisite_sample() {
    let out = run_sls(REQUISITES, &RunOptions::default());
    let needs = by_id(&out, "needs_failed");
    assert_eq!(needs["result"], json!(false));
    assert_eq!(
        needs["comment"],
        json!("One or more requisite failed: s.always_fails")
    );
    assert_eq!(needs["__state_ran__"], json!(false));
    assert_eq!(needs["__run_num__"], json!(2));
    let keys: Vec<&str> = needs
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "changes",
            "result",
            "duration",
            "start_time",
            "comment",
            "__state_ran__",
            "__run_num__",
            "__sls__",
            "__id__",
            "name"
        ]
    );
    let watch = by_id(&out, "restart_on_watch");
    assert_eq!(watch["comment"], json!("Watch statement fired."));
    assert_eq!(
        watch["changes"],
        json!({"Requisites with changes": ["file: config_file"]})
    );
    assert_eq!(watch["__run_num__"], json!(4));
    assert_eq!(by_id(&out, "run_on_changes")["__run_num__"], json!(5));
    let start = by_id(&out, "config_file")["start_time"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(start.len(), 15, "{start}");
    assert_eq!(
        out.keys().next().map(String::as_str),
        Some("file_|-config_file_|-/tmp/app.conf_|-managed")
    );
}

#[test]
fn runtime_onchanges_and_onfail_skip_with_salts_comments() {
    let sls = "\
quiet:
  test.succeed_without_changes
bad:
  test.fail_without_changes
after_quiet:
  test.succeed_with_changes:
    - onchanges:
      - quiet
on_fail:
  test.succeed_with_changes:
    - onfail:
      - bad
not_on_fail:
  test.succeed_with_changes:
    - onfail:
      - quiet
";
    let out = run_sls(sls, &RunOptions::default());
    let skipped = by_id(&out, "after_quiet");
    assert_eq!(skipped["result"], json!(true));
    assert_eq!(
        skipped["comment"],
        json!("State was not run because none of the onchanges reqs changed")
    );
    assert_eq!(by_id(&out, "on_fail")["comment"], json!("Success!"));
    assert_eq!(
        by_id(&out, "not_on_fail")["comment"],
        json!("State was not run because onfail req did not change")
    );
}

#[test]
fn runtime_prereq_runs_first_only_when_target_would_change() {
    let sls = "\
target:
  test.succeed_with_changes
steady:
  test.succeed_without_changes
before_target:
  test.succeed_without_changes:
    - prereq:
      - test: target
before_steady:
  test.succeed_without_changes:
    - prereq:
      - test: steady
";
    let out = run_sls(sls, &RunOptions::default());
    let before = by_id(&out, "before_target")["__run_num__"].as_u64();
    let target = by_id(&out, "target")["__run_num__"].as_u64();
    assert!(before < target, "{out:#?}");
    assert_eq!(by_id(&out, "before_target")["comment"], json!("Success!"));
    assert_eq!(
        by_id(&out, "before_steady")["comment"],
        json!("No changes detected")
    );
}

#[test]
fn runtime_failhard_stops_and_test_mode_predicts() {
    let sls = "\
first:
  test.fail_without_changes:
    - failhard: True
second:
  test.succeed_with_changes
";
    let out = run_sls(sls, &RunOptions::default());
    assert_eq!(out.len(), 1, "{out:#?}");
    let out = run_sls(
        sls,
        &RunOptions {
            test: true,
            ..RunOptions::default()
        },
    );
    assert_eq!(out.len(), 2);
    assert_eq!(by_id(&out, "second")["result"], Value::Null);
}

#[test]
fn runtime_unless_onlyif_creates_go_through_cmd_retcode() {
    let sls = "\
skip_unless:
  test.succeed_with_changes:
    - unless: 'true'
skip_onlyif:
  test.succeed_with_changes:
    - onlyif: 'false'
run_onlyif:
  test.succeed_with_changes:
    - onlyif:
      - 'true'
skip_creates:
  test.succeed_with_changes:
    - creates: /
watcher:
  test.succeed_without_changes:
    - watch:
      - test: skip_unless
";
    let mut host = MemHost::with_files(&[("base/s.sls", sls)]);
    host.retcodes.insert("true".into(), 0);
    let out = run_on(&host, sls, &RunOptions::default());
    assert_eq!(
        by_id(&out, "skip_unless")["comment"],
        json!("unless condition is true")
    );
    assert_eq!(
        by_id(&out, "skip_onlyif")["comment"],
        json!("onlyif condition is false")
    );
    assert_eq!(by_id(&out, "run_onlyif")["comment"], json!("Success!"));
    // One `creates` path is named in the comment (Salt's `<path> exists`).
    assert_eq!(by_id(&out, "skip_creates")["comment"], json!("/ exists"));
    for skipped in ["skip_unless", "skip_onlyif", "skip_creates"] {
        assert_eq!(by_id(&out, skipped)["skip_watch"], json!(true));
    }
    assert!(by_id(&out, "run_onlyif").get("skip_watch").is_none());
    // skip_watch: the watched state was skipped, so no mod_watch.
    assert_eq!(by_id(&out, "watcher")["comment"], json!("Success!"));
    let calls = host.calls.lock().map(|c| c.clone()).unwrap_or_default();
    assert_eq!(
        calls,
        ["cmd.retcode true", "cmd.retcode false", "cmd.retcode true"]
    );
}

#[test]
fn runtime_listen_runs_mod_watch_at_the_end() {
    let sls = "\
listener:
  test.succeed_without_changes:
    - listen:
      - test: changer
changer:
  test.succeed_with_changes
";
    let out = run_sls(sls, &RunOptions::default());
    let keys: Vec<&String> = out.keys().collect();
    // Salt's listener chunk: `__id__` `listener_<id>`, no requisites.
    let tag = "test_|-listener_listener_|-listener_|-mod_watch";
    assert_eq!(keys.last().map(|k| k.as_str()), Some(tag));
    assert_eq!(out[tag]["__run_num__"], json!(2));
    assert_eq!(out[tag]["__id__"], json!("listener_listener"));
    assert_eq!(out[tag]["changes"]["Requisites with changes"], json!([]));
}

#[test]
fn runtime_kill_flag_stops_between_states() {
    let flag = AtomicBool::new(true);
    let out = run_sls(
        "a:\n  test.succeed_without_changes\n",
        &RunOptions {
            kill: Some(&flag),
            ..RunOptions::default()
        },
    );
    assert!(out.is_empty());
}

#[test]
fn runtime_fire_event_sends_the_result_with_salts_tag() {
    let sls = "\
plain:
  test.succeed_with_changes:
    - fire_event: True
custom:
  test.succeed_without_changes:
    - name: the name
    - fire_event: deploy/step1
quiet:
  test.succeed_without_changes
";
    let fired = std::sync::Mutex::new(Vec::new());
    let fire = |tag: &str, data: Value| fired.lock().expect("lock").push((tag.to_string(), data));
    let opts = RunOptions {
        events: Some(StateEvents {
            jid: "20261122015500000000",
            minion_id: "m1",
            progress: false,
            fire: &fire,
        }),
        ..RunOptions::default()
    };
    let out = run_sls(sls, &opts);
    let fired = fired.into_inner().expect("lock");
    let tags: Vec<&str> = fired.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        tags,
        [
            "salt/state_result/20261122015500000000/m1/plain",
            "salt/state_result/20261122015500000000/m1/deploy/step1",
        ]
    );
    assert_eq!(
        &fired[0].1["ret"],
        by_id(&out, "plain"),
        "the state's own result"
    );
    assert_eq!(fired[1].1["ret"]["name"], "the name");
    // Without a job (masterless), nothing is fired and the argument is inert.
    let out = run_sls(sls, &RunOptions::default());
    assert_eq!(out.len(), 3);
}

#[test]
fn runtime_parallel_states_run_at_the_same_time_and_requisites_wait() {
    let sls = "\
first:
  sync.meet:
    - parallel: True
second:
  sync.meet:
    - parallel: True
after_both:
  test.succeed_without_changes:
    - require:
      - sync: first
      - sync: second
broken:
  test.fail_without_changes:
    - parallel: True
needs_broken:
  test.succeed_without_changes:
    - require:
      - test: broken
";
    let out = run_sls(sls, &RunOptions::default());
    assert_eq!(by_id(&out, "first")["comment"], "met", "{out:#?}");
    assert_eq!(by_id(&out, "second")["comment"], "met", "{out:#?}");
    assert_eq!(by_id(&out, "after_both")["result"], true);
    let first = by_id(&out, "first")["__run_num__"].as_u64();
    let after = by_id(&out, "after_both")["__run_num__"].as_u64();
    assert!(first < after, "run numbers are taken at start: {out:#?}");
    // Salt marks the results its parallel runner made, and only those.
    assert_eq!(by_id(&out, "first")["__parallel__"], true);
    assert!(by_id(&out, "after_both").get("__parallel__").is_none());
    assert_eq!(
        by_id(&out, "needs_broken")["comment"],
        "One or more requisite failed: s.broken"
    );
}

#[test]
fn runtime_state_events_send_every_states_progress() {
    let sls = "\
one:
  test.succeed_without_changes
two:
  test.succeed_with_changes
";
    let fired = std::sync::Mutex::new(Vec::new());
    let fire = |tag: &str, data: Value| fired.lock().expect("lock").push((tag.to_string(), data));
    let opts = RunOptions {
        events: Some(StateEvents {
            jid: "20261122015500000000",
            minion_id: "m1",
            progress: true,
            fire: &fire,
        }),
        ..RunOptions::default()
    };
    run_sls(sls, &opts);
    let fired = fired.into_inner().expect("lock");
    let tags: Vec<&str> = fired.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        tags,
        [
            "salt/job/20261122015500000000/prog/m1/0",
            "salt/job/20261122015500000000/prog/m1/1",
        ]
    );
    assert_eq!(fired[1].1["len"], 2);
    assert_eq!(fired[1].1["ret"]["__id__"], "two");
}

#[test]
fn runtime_onlyif_lists_and_entries_without_fun_as_salt() {
    let sls = "\
one_false:
  test.succeed_with_changes:
    - onlyif:
      - 'true'
      - 'false'
no_fun:
  test.succeed_with_changes:
    - onlyif:
      - path: /x
unless_one_false:
  test.succeed_with_changes:
    - unless:
      - 'true'
      - 'false'
bad_type:
  test.succeed_with_changes:
    - onlyif: 7
";
    let mut host = MemHost::with_files(&[("base/s.sls", sls)]);
    host.retcodes.insert("true".into(), 0);
    let out = run_on(&host, sls, &RunOptions::default());
    assert_eq!(
        by_id(&out, "one_false")["comment"],
        json!("onlyif condition is false")
    );
    // A mapping without `fun` and a value of another type let the state run.
    assert_eq!(by_id(&out, "no_fun")["comment"], json!("Success!"));
    assert_eq!(by_id(&out, "bad_type")["comment"], json!("Success!"));
    assert_eq!(
        by_id(&out, "unless_one_false")["comment"],
        json!("Success!")
    );
}

#[test]
fn runtime_retries_take_run_numbers_and_note_attempts() {
    let sls = "\
first:
  test.fail_without_changes:
    - retry:
        attempts: 3
        interval: 0
second:
  test.succeed_without_changes
";
    let out = run_sls(sls, &RunOptions::default());
    let first = by_id(&out, "first");
    assert_eq!(first["__run_num__"], json!(2));
    assert_eq!(by_id(&out, "second")["__run_num__"], json!(3));
    let attempt = "Returned a result of \"False\", with the following comment: \"Failure!\"";
    assert_eq!(
        first["comment"],
        json!(format!(
            "Attempt 1: {attempt}\nAttempt 2: {attempt}\nFailure!"
        ))
    );
}

#[test]
fn runtime_retry_in_test_mode_only_says_what_would_happen() {
    let sls = "first:\n  test.fail_without_changes:\n    - retry: True\n";
    let test = RunOptions {
        test: true,
        ..RunOptions::default()
    };
    let out = run_sls(sls, &test);
    let first = by_id(&out, "first");
    assert_eq!(first["__run_num__"], json!(0));
    assert_eq!(
        first["comment"],
        json!(
            "Failure!  The state would be retried every 30 seconds (with a splay of up to 0 \
             seconds) a maximum of 2 times or until a result of True is returned"
        )
    );
}

#[test]
fn runtime_prereq_test_runs_take_no_run_number() {
    let sls = "\
before:
  test.succeed_with_changes:
    - prereq:
      - test: quiet
quiet:
  test.succeed_without_changes
";
    let out = run_sls(sls, &RunOptions::default());
    let before = by_id(&out, "before");
    assert_eq!(before["__run_num__"], json!(0));
    assert_eq!(before["comment"], json!("No changes detected"));
    assert_eq!(before["__state_ran__"], json!(false));
    assert_eq!(by_id(&out, "quiet")["__run_num__"], json!(1));
}

#[test]
fn runtime_a_failed_onchanges_target_counts_as_unchanged() {
    let sls = "\
broken:
  test.fail_without_changes
after:
  test.succeed_with_changes:
    - onchanges:
      - test: broken
";
    let out = run_sls(sls, &RunOptions::default());
    assert_eq!(
        by_id(&out, "after")["comment"],
        json!("State was not run because none of the onchanges reqs changed")
    );
}

#[test]
fn runtime_an_unknown_state_function_is_a_failed_result() {
    let sls = "nosuch:\n  nosuchmodule.present\nafter:\n  test.succeed_without_changes\n";
    let host = MemHost::with_files(&[("base/s.sls", sls)]);
    let high = high_from_sls(&host, "base", &["s".to_string()]).expect("renders");
    let low = compile(high).expect("compiles");
    let out = run(&host, &registry(), &low, &RunOptions::default());
    let bad = &out["nosuchmodule_|-nosuch_|-nosuch_|-present"];
    assert_eq!(bad["result"], json!(false));
    assert_eq!(
        bad["comment"],
        json!(
            "State 'nosuchmodule.present' was not found in SLS 's'\n\
             Reason: 'nosuchmodule.present' is not available.\n"
        )
    );
    assert!(bad.get("__sls__").is_none());
    assert_eq!(by_id(&out, "after")["__run_num__"], json!(1));
}
