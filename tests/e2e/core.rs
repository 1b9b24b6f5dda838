//! The core flows through the real binaries: keys, jobs, outputs, restarts,
//! catch-up of missed jobs, the job cache and the event bus.

use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::{Cluster, json_out, stderr, stdout, wait_for};

fn jid_of(out: &std::process::Output) -> String {
    let text = stdout(out);
    text.trim()
        .strip_prefix("Executed command with job ID: ")
        .unwrap_or_else(|| panic!("no jid in {text:?} / {}", stderr(out)))
        .to_string()
}

#[test]
fn pending_minion_gets_no_job_until_accepted_then_answers() {
    let c = Cluster::builder().minions(1).start();
    c.wait_key_in("minions_pre", "m1");

    // Only accepted keys are targeted: nothing matches yet, exit code 2.
    let out = c.brine(&["*", "test.ping"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("No minions matched the target"));
    assert!(
        !c.minion_log("m1").contains("running job"),
        "a pending minion ran a job"
    );

    let out = c.brine_key(&["-a", "m1", "-y"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Key for minion m1 accepted."));
    // Published before the minion's next auth attempt (it retries every
    // 0.3 s): it was meant for the minion, so it must still reach it.
    let jid = jid_of(&c.brine(&["--async", "*", "test.echo", "first"]));
    let got = wait_for(
        "the first job after acceptance",
        Duration::from_secs(20),
        || {
            json_out(&c.brine_run(&["--out", "json", "jobs.lookup_jid", &jid]))
                .get("m1")
                .cloned()
        },
    );
    assert_eq!(got, json!("first"));

    let out = c.brine(&["*", "test.ping"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "m1:\n    True\n");
}

/// Runs a CLI with its stdout a pipe nobody reads (`brine ... | head -0`):
/// its exit status and what it said on stderr.
fn with_closed_stdout(c: &Cluster, name: &str, args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut child = std::process::Command::new(crate::cluster::bin(name))
        .arg("-c")
        .arg(c.master_dir())
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} {args:?} hangs"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        std::io::Read::read_to_string(&mut e, &mut err).expect("stderr");
    }
    (status.code(), err)
}

#[test]
fn a_closed_stdout_ends_the_output_without_a_panic() {
    let c = Cluster::builder().minions(1).start().ready();
    for (name, args) in [
        ("brine-key", &["-L"][..]),
        ("brine", &["*", "test.ping"][..]),
        ("brine-run", &["manage.up"][..]),
    ] {
        let (code, err) = with_closed_stdout(&c, name, args);
        assert!(
            !err.contains("panicked") && code != Some(101),
            "{name} {args:?}: exit {code:?}, stderr {err}"
        );
    }
}

#[test]
fn key_listing_matches_salt_key_json() {
    let c = Cluster::builder().minions(2).start().ready();
    let keys = c.keys();
    assert_eq!(
        keys,
        json!({"minions_pre": [], "minions_rejected": [], "minions": ["m1", "m2"], "minions_denied": []})
    );
    let out = c.brine_key(&["-L"]);
    assert_eq!(
        stdout(&out),
        "Accepted Keys:\nm1\nm2\nDenied Keys:\nUnaccepted Keys:\nRejected Keys:\n"
    );
    let out = c.brine_key(&["-f", "m1"]);
    assert!(
        stdout(&out).contains("Local Keys:") && stdout(&out).contains("m1:  "),
        "{}",
        stdout(&out)
    );
}

#[test]
fn deleted_and_rejected_minions_receive_nothing_afterwards() {
    let c = Cluster::builder().minions(3).start().ready();
    let events = c.events("salt/job/*");

    let out = c.brine_key(&["-d", "m1", "-y"]);
    assert!(
        stdout(&out).contains("Key for minion m1 deleted."),
        "{}",
        stdout(&out)
    );
    // m1 comes back with its key pending; reject it, and also reject m2.
    c.wait_key_in("minions_pre", "m1");
    assert!(c.brine_key(&["-r", "m1", "-y"]).status.success());
    assert!(
        c.brine_key(&["-r", "m2", "--include-accepted", "-y"])
            .status
            .success()
    );

    let out = c.brine(&["--out", "json", "--static", "*", "test.ping"]);
    assert_eq!(json_out(&out), json!({"m3": true}));
    let jid = events
        .expect("the job's new event", Duration::from_secs(10), |tag, _| {
            tag.ends_with("/new")
        })
        .1["jid"]
        .as_str()
        .expect("jid")
        .to_string();
    // Whatever the removed minions still hold, they cannot read the publication.
    let later = events.collect_for(Duration::from_secs(2));
    assert!(
        !later
            .iter()
            .any(|(tag, _)| tag.contains(&format!("{jid}/ret/m1"))
                || tag.contains(&format!("{jid}/ret/m2"))),
        "a removed minion returned: {later:?}"
    );
    for id in ["m1", "m2"] {
        assert!(
            !c.minion_log(id).contains(&format!("running job jid={jid}")),
            "{id} ran {jid}"
        );
    }
}

#[test]
fn outputs_arguments_and_exit_codes() {
    let c = Cluster::builder().minions(2).start().ready();

    let out = c.brine(&[
        "--out",
        "json",
        "--static",
        "m1",
        "test.arg",
        "1",
        "two",
        "flag=True",
    ]);
    let v = json_out(&out);
    assert_eq!(v["m1"]["args"], json!([1, "two"]));
    assert_eq!(v["m1"]["kwargs"]["flag"], json!(true));
    assert_eq!(v["m1"]["kwargs"]["__pub_fun"], json!("test.arg"));

    let out = c.brine(&["--out", "yaml", "-L", "m1,m2", "test.echo", "hello"]);
    let text = stdout(&out);
    assert!(
        text.contains("m1: hello\n") && text.contains("m2: hello\n"),
        "{text}"
    );

    let out = c.brine(&["--out", "txt", "-E", "m[12]", "test.version"]);
    assert!(stdout(&out).contains("m1: 0.1.0"), "{}", stdout(&out));

    let out = c.brine(&["--out", "raw", "m1", "test.true"]);
    assert_eq!(stdout(&out), "{'m1': True}\n");

    let out = c.brine(&["--out", "quiet", "m1", "test.ping"]);
    assert_eq!(stdout(&out), "");

    // A failing function: Salt's string, exit 1; its retcode with passthrough.
    let out = c.brine(&["m1", "test.exception", "boom"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("The minion function caused an exception"),
        "{}",
        stdout(&out)
    );
    let out = c.brine(&["m1", "no.such"]);
    assert!(stdout(&out).contains("'no.such' is not available."));
    let out = c.brine(&["--retcode-passthrough", "m1", "no.such"]);
    assert_eq!(out.status.code(), Some(1));

    let out = c.brine(&["--async", "*", "test.ping"]);
    assert_eq!(out.status.code(), Some(0));
    let jid = jid_of(&out);
    assert_eq!(jid.len(), 20, "{jid}");

    let out = c.brine(&[
        "--out",
        "json",
        "--static",
        "m1",
        "sys.list_functions",
        "test",
    ]);
    let funcs = json_out(&out)["m1"].clone();
    assert!(
        funcs
            .as_array()
            .is_some_and(|f| f.contains(&json!("test.ping")) && !f.contains(&json!("sys.doc")))
    );
}

/// What real Salt printed, as captured (tests/e2e/salt-captures).
pub(crate) fn captured(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("e2e/salt-captures")
        .join(name);
    std::fs::read_to_string(&path).expect("captured Salt output")
}

/// What real Salt printed for the same command (tests/e2e/salt-captures),
/// with its jid and minion id replaced by `jid` and `id`.
fn salt_capture(name: &str, jid: &str, id: &str) -> String {
    let text = captured(name);
    let salt_jid = text
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 20)
        .expect("a jid in the capture");
    text.replace(salt_jid, jid).replace("m0001", id)
}

/// The 20-digit jid in `text`.
fn jid_in(text: &str) -> &str {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 20)
        .unwrap_or_else(|| panic!("no jid in {text}"))
}

/// `-v` and `--show-jid` print the job id first, as real Salt 3008.5 does.
#[test]
fn verbose_and_show_jid_print_the_job_id_first() {
    let c = Cluster::builder().minions(1).start().ready();
    for (flag, capture) in [
        ("-v", "salt-v-test.ping.out"),
        ("--show-jid", "salt-show-jid-test.ping.out"),
    ] {
        let text = stdout(&c.brine(&[flag, "m1", "test.ping"]));
        assert_eq!(text, salt_capture(capture, jid_in(&text), "m1"), "{flag}");
    }
}

#[test]
fn a_minion_that_is_down_is_reported_and_slow_jobs_are_waited_for() {
    let mut c = Cluster::builder().minions(2).start().ready();

    // A job longer than the timeout is waited for: the minion heart-beats.
    let out = c.brine(&[
        "-t",
        "1",
        "--out",
        "json",
        "--static",
        "m1",
        "test.sleep",
        "2.5",
    ]);
    assert_eq!(json_out(&out), json!({"m1": true}), "{}", stderr(&out));

    c.stop_minion("m2");
    let out = c.brine(&["-t", "1", "*", "test.ping"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("m1:\n    True"), "{text}");
    assert!(text.contains("m2:\n    Minion did not return. ["), "{text}");
}

#[test]
fn jobs_run_concurrently_and_can_be_found_and_killed() {
    let c = Cluster::builder().minions(1).start().ready();
    let out = c.brine(&["--async", "m1", "test.sleep", "30"]);
    let jid = jid_of(&out);
    let found = wait_for(
        "the sleeping job to be running",
        Duration::from_secs(10),
        || {
            let out = c.brine(&["--out", "json", "--static", "m1", "saltutil.find_job", &jid]);
            let v = json_out(&out);
            (v["m1"]["jid"] == json!(jid)).then_some(v)
        },
    );
    assert_eq!(found["m1"]["fun"], json!("test.sleep"));
    // The minion is not blocked by the sleeping job.
    let out = c.brine(&["--out", "json", "--static", "m1", "saltutil.running"]);
    assert_eq!(json_out(&out)["m1"][0]["jid"], json!(jid));
    let out = c.brine(&["--out", "json", "--static", "m1", "saltutil.kill_job", &jid]);
    assert!(
        json_out(&out)["m1"]
            .as_str()
            .is_some_and(|s| s.contains(&jid))
    );
    let out = c.brine(&["--out", "json", "--static", "m1", "saltutil.find_job", &jid]);
    assert_eq!(json_out(&out), json!({"m1": {}}));
}

#[test]
fn master_killed_mid_job_comes_back_with_its_cache_and_minions() {
    let mut c = Cluster::builder().minions(2).start().ready();
    let events = c.events("*");
    let out = c.brine(&["--out", "json", "--static", "*", "test.ping"]);
    assert_eq!(json_out(&out), json!({"m1": true, "m2": true}));
    let ping_jid = events
        .expect("the ping's new event", Duration::from_secs(10), |tag, _| {
            tag.ends_with("/new")
        })
        .1["jid"]
        .as_str()
        .expect("jid")
        .to_string();

    // A job in flight when the master dies: its return must still arrive.
    let out = c.brine(&["--async", "m1", "test.sleep", "2"]);
    let sleep_jid = jid_of(&out);
    events.expect("the sleep's ack", Duration::from_secs(10), |tag, _| {
        tag.contains(&format!("{sleep_jid}/ack/m1"))
    });
    drop(events);
    c.kill_master();
    c.start_master();

    // The minions re-authenticate by themselves.
    c.wait_pingable("*", &["m1", "m2"]);
    let jobs = json_out(&c.brine_run(&["--out", "json", "jobs.list_jobs"]));
    assert!(jobs.get(&ping_jid).is_some(), "earlier job lost: {jobs}");
    let ret = json_out(&c.brine_run(&["--out", "json", "jobs.lookup_jid", &ping_jid]));
    assert_eq!(ret, json!({"m1": true, "m2": true}));
    let slept = wait_for(
        "the in-flight job's return",
        Duration::from_secs(20),
        || {
            let v = json_out(&c.brine_run(&["--out", "json", "jobs.lookup_jid", &sleep_jid]));
            (v == json!({"m1": true})).then_some(v)
        },
    );
    assert_eq!(slept, json!({"m1": true}));
}

#[test]
fn a_minion_that_was_down_runs_the_jobs_it_missed() {
    let mut c = Cluster::builder().minions(2).start().ready();
    c.stop_minion("m2");
    let out = c.brine(&["--async", "*", "test.echo", "while-you-were-out"]);
    let jid = jid_of(&out);
    let out = c.brine(&["--async", "-L", "m2", "test.echo", "just-for-you"]);
    let own_jid = jid_of(&out);
    c.start_minion("m2");
    for (jid, text) in [(&jid, "while-you-were-out"), (&own_jid, "just-for-you")] {
        let got = wait_for(
            "m2 to catch up on a missed job",
            Duration::from_secs(30),
            || {
                let v = json_out(&c.brine_run(&["--out", "json", "jobs.lookup_jid", jid]));
                v.get("m2").cloned()
            },
        );
        assert_eq!(got, json!(text));
    }
}

#[test]
fn events_reach_state_event_subscribers() {
    let c = Cluster::builder().minions(1).start();
    let events = c.events("salt/*");
    c.wait_key_in("minions_pre", "m1");
    let (_, auth) = events.expect("salt/auth pend", Duration::from_secs(10), |tag, d| {
        tag == "salt/auth" && d["act"] == json!("pend")
    });
    assert_eq!(auth["id"], json!("m1"));
    assert!(auth["_stamp"].is_string());
    assert!(c.brine_key(&["-a", "m1", "-y"]).status.success());
    events.expect("salt/key accept", Duration::from_secs(10), |tag, d| {
        tag == "salt/key" && d["act"] == json!("accept")
    });
    let (_, start) = events.expect(
        "the minion's start event",
        Duration::from_secs(20),
        |tag, _| tag == "salt/minion/m1/start",
    );
    assert_eq!(start["id"], json!("m1"));
    c.wait_pingable("m1", &["m1"]);
    let (tag, ret) = events.expect("a return event", Duration::from_secs(10), |tag, _| {
        tag.contains("/ret/m1")
    });
    assert!(tag.starts_with("salt/job/"));
    for key in [
        "cmd", "fun", "fun_args", "id", "jid", "retcode", "return", "success", "_stamp",
    ] {
        assert!(ret.get(key).is_some(), "return event lacks {key}: {ret}");
    }
}

#[test]
fn brine_call_runs_locally_and_through_the_master() {
    let c = Cluster::builder().minions(1).start().ready();
    let out = c.brine_call("m1", &["--local", "test.echo", "hi"]);
    assert_eq!(stdout(&out), "local:\n    hi\n");
    let out = c.brine_call("m1", &["--out", "json", "test.fib", "10"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json_out(&out)["local"][0], json!(55));
    let out = c.brine_call("m1", &["--local", "test.exception"]);
    assert_eq!(out.status.code(), Some(1));
    let out = c.brine_call(
        "m1",
        &["--local", "--retcode-passthrough", "test.exception"],
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn manage_runners_report_up_and_down() {
    let mut c = Cluster::builder().minions(2).start().ready();
    c.stop_minion("m2");
    let status = json_out(&c.brine_run(&["--out", "json", "manage.status", "timeout=1"]));
    assert_eq!(status, json!({"up": ["m1"], "down": ["m2"]}));
    let up: Value = json_out(&c.brine_run(&["--out", "json", "manage.up", "timeout=1"]));
    assert_eq!(up, json!(["m1"]));
}

#[test]
fn bad_config_is_an_error_naming_key_and_file() {
    let c = Cluster::builder().minions(0).start();
    let bad = c.dir.path().join("bad-conf");
    std::fs::create_dir_all(bad.join("master.d")).expect("mkdir");
    std::fs::write(bad.join("master.d/ports.conf"), "ret_port: lots\n").expect("write");
    let out = crate::cluster::run_with_timeout(
        std::process::Command::new(crate::cluster::bin("brine-master"))
            .arg("-c")
            .arg(&bad),
        Duration::from_secs(10),
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("ret_port") && err.contains("ports.conf"),
        "{err}"
    );
}

#[test]
fn auto_accept_and_autosign_file_accept_without_an_operator() {
    let c = Cluster::builder().minions(1).auto_accept(true).start();
    c.wait_pingable("m1", &["m1"]);

    // Like every path option, autosign_file lives under root_dir.
    let c = Cluster::builder()
        .minion_ids(&["web1", "db1"])
        .master_root_file(
            "/etc/brine/autosign.conf",
            "# web servers sign themselves\nweb*\n",
        )
        .master_conf("autosign_file: /etc/brine/autosign.conf\n")
        .start();
    c.wait_pingable("web1", &["web1"]);
    c.wait_key_in("minions_pre", "db1");
}

#[test]
fn master_finger_pins_the_expected_master() {
    let mut c = Cluster::builder().minions(0).auto_accept(true).start();
    let master_pub =
        brine_common::crypto::PublicKey::load(&c.pki_dir().join("master.pub")).expect("master.pub");
    c.add_minion(
        "good",
        &format!("master_finger: '{}'\n", master_pub.fingerprint()),
    );
    c.add_minion(
        "wary",
        &format!("master_finger: '{}'\n", "00:".repeat(31) + "00"),
    );
    c.wait_pingable("good", &["good"]);
    // The wary minion refuses the master's answer, so it never runs anything.
    let out = c.brine(&["-t", "1", "wary", "test.ping"]);
    assert!(!stdout(&out).contains("True"), "{}", stdout(&out));
    assert!(
        c.minion_log("wary")
            .contains("does not match master_finger")
    );
}

#[test]
fn jobs_active_lists_running_jobs() {
    let c = Cluster::builder().minions(1).start().ready();
    let jid = jid_of(&c.brine(&["--async", "m1", "test.sleep", "20"]));
    let active = wait_for("the job to be active", Duration::from_secs(10), || {
        let v = json_out(&c.brine_run(&["--out", "json", "jobs.active", "timeout=2"]));
        v.get(&jid).cloned()
    });
    assert_eq!(active["Function"], json!("test.sleep"));
    assert!(
        active["Running"]
            .as_array()
            .is_some_and(|r| r.iter().any(|m| m.get("m1").is_some()))
    );
    let list = json_out(&c.brine_run(&["--out", "json", "jobs.list_job", &jid]));
    assert_eq!(list["Function"], json!("test.sleep"));
    assert_eq!(list["Minions"], json!(["m1"]));
}
