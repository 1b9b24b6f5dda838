//! The reactor through the real binaries: an event fired with
//! `brine-run event.send` runs the reactor SLS configured for its tag, whose
//! `local.*` reaction becomes a job published as user `Reactor`; a broken
//! reactor SLS is reported on the bus and the master goes on serving;
//! `reactor.*`, `manage.present` and presence events.

use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::{Cluster, EventStream, json_out, stderr};

/// The target goes through one of the master's own functions (`test.echo`),
/// as Salt's reactor templates may call them.
const DEPLOY_SLS: &str = "\
deploy_{{ data['who'] }}:
  local.test.echo:
    - tgt: {{ salt['test.echo'](data['who']) }}
    - args:
      - text: deployed by {{ tag }}
";

/// Fire `tag` with `data` through `brine-run event.send`.
fn send(c: &Cluster, tag: &str, data: &str) {
    let out = c.brine_run(&["--out", "json", "event.send", tag, data]);
    assert!(out.status.success(), "event.send failed: {}", stderr(&out));
}

fn run_json(c: &Cluster, args: &[&str]) -> Value {
    json_out(&c.brine_run(&[&["--out", "json"][..], args].concat()))
}

/// The chain `tag` -> `salt/job/<jid>/new` (user Reactor) -> `.../ret/<who>`;
/// returns what the minion returned.
fn expect_reaction(events: &EventStream, tag: &str, who: &str) -> Value {
    let wait = Duration::from_secs(20);
    events.expect(tag, wait, |t, _| t == tag);
    let (new_tag, new) = events.expect("the reactor's job", wait, |t, d| {
        t.starts_with("salt/job/") && t.ends_with("/new") && d["user"] == json!("Reactor")
    });
    assert_eq!(new["fun"], json!("test.echo"), "{new}");
    assert_eq!(new["minions"], json!([who]), "{new}");
    let jid = new_tag
        .trim_start_matches("salt/job/")
        .trim_end_matches("/new")
        .to_string();
    let ret_tag = format!("salt/job/{jid}/ret/{who}");
    let (_, ret) = events.expect("the reactor job's return", wait, |t, _| t == ret_tag);
    ret["return"].clone()
}

#[test]
fn events_trigger_reactions_and_broken_reactors_do_not_stop_the_master() {
    let tree = tempfile::tempdir().expect("tree");
    std::fs::create_dir_all(tree.path().join("reactor")).expect("mkdir");
    std::fs::write(tree.path().join("reactor/deploy.sls"), DEPLOY_SLS).expect("write");
    let broken = tree.path().join("broken.sls");
    std::fs::write(
        &broken,
        "ok:\n  local.test.ping:\n    - tgt: '*'\n{{ data['nope']['x'] }}\n",
    )
    .expect("write");
    let unsupported = tree.path().join("unsupported.sls");
    std::fs::write(
        &unsupported,
        "touch:\n  caller.file.touch:\n    - args:\n      - /tmp/x\n",
    )
    .expect("write");
    let c = Cluster::builder()
        .minions(1)
        .master_conf(&format!(
            "file_roots:\n  base:\n    - {root}\n\
             reactor:\n  - 'myapp/deploy':\n    - salt://reactor/deploy.sls\n  \
             - 'myapp/broken': {broken}\n\
             presence_events: True\nloop_interval: 1\n",
            root = tree.path().display(),
            broken = broken.display(),
        ))
        .start()
        .ready();
    let events = c.events("*");

    send(&c, "myapp/deploy", r#"{"who": "m1"}"#);
    assert_eq!(
        expect_reaction(&events, "myapp/deploy", "m1"),
        json!("deployed by myapp/deploy")
    );

    // A render error is reported with the file and line; the master goes on.
    send(&c, "myapp/broken", r#"{"who": "m1"}"#);
    let (_, error) = events.expect("the reactor error", Duration::from_secs(20), |t, _| {
        t == "brine/reactor/error"
    });
    assert_eq!(error["tag"], json!("myapp/broken"), "{error}");
    let message = error["error"].as_str().unwrap_or_default();
    assert!(message.contains("broken.sls"), "{error}");
    assert!(
        message.contains("line 4") || message.contains(":4"),
        "{error}"
    );
    assert!(
        c.master_log().contains("reacting to myapp/broken"),
        "the error is logged"
    );

    // reactor.add/list/delete change the rules at run time.
    let added = run_json(
        &c,
        &[
            "reactor.add",
            "myapp/caller/*",
            &format!("reactors={}", unsupported.display()),
        ],
    );
    assert_eq!(added["status"], json!(true), "{added}");
    let listed = run_json(&c, &["reactor.list"]);
    assert_eq!(
        listed[2],
        json!({"myapp/caller/*": [unsupported.display().to_string()]}),
        "{listed}"
    );
    send(&c, "myapp/caller/x", "{}");
    let (_, error) = events.expect("the caller error", Duration::from_secs(20), |t, d| {
        t == "brine/reactor/error" && d["tag"] == json!("myapp/caller/x")
    });
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("not supported on a master")),
        "{error}"
    );
    let deleted = run_json(&c, &["reactor.delete", "myapp/caller/*"]);
    assert_eq!(deleted["status"], json!(true), "{deleted}");
    assert_eq!(
        run_json(&c, &["reactor.list"]).as_array().map(Vec::len),
        Some(2)
    );

    // Still serving: the next event reacts again.
    send(&c, "myapp/deploy", r#"{"who": "m1"}"#);
    assert_eq!(
        expect_reaction(&events, "myapp/deploy", "m1"),
        json!("deployed by myapp/deploy")
    );

    // Presence.
    let (_, present) = events.expect("presence", Duration::from_secs(10), |t, _| {
        t == "salt/presence/present"
    });
    assert_eq!(present["present"], json!(["m1"]), "{present}");
    assert_eq!(run_json(&c, &["manage.present"]), json!(["m1"]));
    assert_eq!(run_json(&c, &["manage.not_present"]), json!([]));
}

/// Reactions from every SLS of a tag run by `order:`, then in file order;
/// a later file's ID replaces an earlier one's.
#[test]
fn reactions_run_by_order_then_file_order_across_files() {
    let tree = tempfile::tempdir().expect("tree");
    let echo = |id: &str, text: &str, extra: &str| {
        format!(
            "{id}:\n  local.test.echo:\n    - tgt: m1\n    - args:\n      - text: {text}\n{extra}"
        )
    };
    let first = tree.path().join("first.sls");
    let second = tree.path().join("second.sls");
    std::fs::write(
        &first,
        [
            echo("zz", "zz", ""),
            echo("numbered", "numbered", "    - order: 1\n"),
            echo("replaced", "from first", ""),
        ]
        .concat(),
    )
    .expect("write");
    std::fs::write(
        &second,
        [echo("aa", "aa", ""), echo("replaced", "from second", "")].concat(),
    )
    .expect("write");
    let c = Cluster::builder()
        .minions(1)
        .master_conf(&format!(
            "reactor:\n  - 'myapp/ordered':\n    - {}\n    - {}\n",
            first.display(),
            second.display()
        ))
        .start()
        .ready();
    let events = c.events("salt/job/*/new");
    send(&c, "myapp/ordered", "{}");
    let mut texts = Vec::new();
    for _ in 0..4 {
        let (_, new) = events.expect("a reactor job", Duration::from_secs(20), |_, d| {
            d["user"] == json!("Reactor")
        });
        texts.push(
            new["arg"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    assert_eq!(texts, ["numbered", "zz", "aa", "from second"]);
}
