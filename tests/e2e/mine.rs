//! The Salt mine: minions publish `mine_functions` results to the master,
//! any minion reads them with `mine.get` (also from a state's Jinja), and
//! the master's `cache.*` runners show what it holds; `allow_tgt` limits
//! who may read an entry.

use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::{Cluster, json_out, stderr, stdout, wait_for};

const MINE_CONF: &str =
    "mine_functions:\n  test.ping: []\n  my_id:\n    - mine_function: grains.get\n    - id\n";

/// `brine --out json --static <tgt> <args>`.
fn salt(c: &Cluster, tgt: &str, args: &[&str]) -> Value {
    let mut all = vec!["--out", "json", "--static", tgt];
    all.extend_from_slice(args);
    json_out(&c.brine(&all))
}

#[test]
fn mine_data_is_shared_between_minions_and_templates() {
    let roots = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    let written = out.path().join("from_mine");
    std::fs::write(
        roots.path().join("mine_user.sls"),
        format!(
            "from_mine:\n  file.managed:\n    - name: {}\n    - contents: {{{{ salt['mine.get']('m1', 'my_id')['m1'] }}}}\n",
            written.display()
        ),
    )
    .expect("write sls");
    let c = Cluster::builder()
        .minions(2)
        .minion_conf(MINE_CONF)
        .master_conf(&crate::cluster::file_roots(roots.path()))
        .start()
        .ready();

    // m1's mine_functions reach the master after it authenticates.
    let got = wait_for("m1's mine data", Duration::from_secs(30), || {
        let v = salt(&c, "m2", &["mine.get", "m1", "my_id"]);
        (v["m2"] == json!({"m1": "m1"})).then_some(v)
    });
    assert_eq!(got["m2"], json!({"m1": "m1"}));
    let both = salt(&c, "m2", &["mine.get", "*", "test.ping"]);
    assert_eq!(both["m2"], json!({"m1": true, "m2": true}));

    // A state on m2 reads m1's mine data in Jinja.
    let applied = salt(&c, "m2", &["state.sls", "mine_user"]);
    assert!(
        applied["m2"]
            .as_object()
            .is_some_and(|r| r.values().all(|s| s["result"] == json!(true))),
        "{applied:#}"
    );
    assert_eq!(std::fs::read_to_string(&written).expect("read"), "m1\n");

    // mine.send with an alias, then delete and flush.
    let sent = salt(
        &c,
        "m2",
        &["mine.send", "greeting", "mine_function=test.echo", "hello"],
    );
    assert_eq!(sent["m2"], json!(true));
    let cached = json_out(&c.brine_run(&["--out", "json", "cache.mine", "m2"]));
    assert_eq!(cached["m2"]["greeting"], json!("hello"), "{cached:#}");
    assert_eq!(
        salt(&c, "m2", &["mine.delete", "greeting"])["m2"],
        json!(true)
    );
    let cached = json_out(&c.brine_run(&["--out", "json", "cache.mine"]));
    assert!(cached["m2"].get("greeting").is_none(), "{cached:#}");
    assert_eq!(salt(&c, "m1", &["mine.flush"])["m1"], json!(true));
    let gone = salt(&c, "m2", &["mine.get", "m1", "my_id"]);
    assert_eq!(gone["m2"], json!({}));

    // The master's cached grains and pillar.
    let grains = json_out(&c.brine_run(&["--out", "json", "cache.grains", "m1"]));
    assert_eq!(grains["m1"]["id"], json!("m1"), "{grains:#}");
    assert!(grains.get("m2").is_none());
    let pillar = json_out(&c.brine_run(&["--out", "json", "cache.pillar"]));
    assert!(
        pillar["m1"].is_object() && pillar["m2"].is_object(),
        "{pillar:#}"
    );
}

/// Mine data sent with `allow_tgt` is served only to the minions it names.
#[test]
fn allow_tgt_limits_who_reads_mine_data() {
    let c = Cluster::builder().minions(2).start().ready();
    let sent = salt(
        &c,
        "m1",
        &[
            "mine.send",
            "secret_id",
            "mine_function=grains.get",
            "id",
            "allow_tgt=m2",
        ],
    );
    assert_eq!(sent["m1"], true, "{sent}");
    let for_m2 = salt(&c, "m2", &["mine.get", "m1", "secret_id"]);
    assert_eq!(for_m2["m2"], json!({"m1": "m1"}), "m2 is allowed: {for_m2}");
    let for_m1 = salt(&c, "m1", &["mine.get", "m1", "secret_id"]);
    assert_eq!(for_m1["m1"], json!({}), "m1 is not in allow_tgt: {for_m1}");
}

/// `mine.get`'s `tgt_type` is parsed on the minion: a known type reaches
/// the master's mine, an unknown one is refused in the words the master
/// refused it with before; the `cache.*` runners parse theirs the same way.
#[test]
fn mine_get_parses_its_target_type() {
    let c = Cluster::builder()
        .minions(2)
        .minion_conf(MINE_CONF)
        .start()
        .ready();
    let by_grain = wait_for("m1's mine data by grain", Duration::from_secs(30), || {
        let v = salt(&c, "m2", &["mine.get", "id:m1", "my_id", "grain"]);
        (v["m2"] == json!({"m1": "m1"})).then_some(v)
    });
    assert_eq!(by_grain["m2"], json!({"m1": "m1"}));
    let unknown = salt(&c, "m2", &["mine.get", "m1", "my_id", "pillar_exact"]);
    let said = unknown["m2"].to_string();
    assert!(
        said.contains(r#"unsupported target type \"pillar_exact\" (known: glob,"#),
        "{unknown:#}"
    );
    let listed =
        json_out(&c.brine_run(&["--out", "json", "cache.grains", "m1,m2", "tgt_type=list"]));
    assert!(
        listed["m1"].is_object() && listed["m2"].is_object(),
        "{listed:#}"
    );
    let refused = c.brine_run(&["cache.grains", "m1", "tgt_type=pillar_exact"]);
    let text = format!("{}{}", stdout(&refused), stderr(&refused));
    assert!(
        text.contains(r#"unsupported target type "pillar_exact""#),
        "{text}"
    );
}
