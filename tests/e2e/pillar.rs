//! Pillar through the real binaries: the master compiles each minion's
//! pillar from `pillar_roots` for that minion only, minions fetch it after
//! authenticating and on `saltutil.refresh_pillar`, `-I` targets see it, and
//! a render error shows in `_errors` and stops `state.apply`.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::{Cluster, json_out, stderr, stdout, wait_for};

const TOP: &str = "base:\n  '*':\n    - common\n  'web1':\n    - web\n  'db1':\n    - db\n";

fn write(dir: &Path, path: &str, text: &str) {
    std::fs::write(dir.join(path), text).expect("write pillar file");
}

fn pillar_tree(dir: &Path) {
    write(dir, "top.sls", TOP);
    write(
        dir,
        "common.sls",
        "common:\n  site: example\n  id: {{ grains['id'] }}\n",
    );
    write(dir, "web.sls", "web_secret: only-for-web1\n");
    write(dir, "db.sls", "role: db\n");
}

/// `brine <id> <fun> [args]` with JSON output: the minion's return.
/// `fun_and_args` on minion `id` through the master. Pillar functions are
/// asked for unmasked values: Salt 3008 prints pillar values as
/// `**********` unless `unmask=True` (its `pillar_mask_output`).
fn call(c: &Cluster, id: &str, fun_and_args: &[&str]) -> Value {
    let mut args = vec!["--out", "json", "--static", "-t", "20", id];
    args.extend_from_slice(fun_and_args);
    if fun_and_args
        .first()
        .is_some_and(|f| f.starts_with("pillar."))
    {
        args.push("unmask=True");
    }
    let out = c.brine(&args);
    let all = json_out(&out);
    all.get(id).cloned().unwrap_or_else(|| {
        panic!(
            "{fun_and_args:?}: no return from {id}: {} {}",
            stdout(&out),
            stderr(&out)
        )
    })
}

/// A master serving [`pillar_tree`] plus `extra` SLS files (each also in the
/// top file for every minion), and minion `db1`.
fn db1_with_pillar(tree: &Path, extra: &[(&str, &str)]) -> Cluster {
    pillar_tree(tree);
    let mut top = TOP.to_string();
    for (file, text) in extra {
        write(tree, file, text);
        top.push_str(&format!("    - {}\n", file.trim_end_matches(".sls")));
    }
    write(tree, "top.sls", &top);
    let conf = format!("pillar_roots:\n  base:\n    - {}\n", tree.display());
    Cluster::builder()
        .minion_ids(&["db1"])
        .master_conf(&conf)
        .start()
        .ready()
}

/// `db1`'s pillar, once it has `key`.
fn db1_pillar_with(c: &Cluster, key: &str) -> Value {
    wait_for("db1's pillar", Duration::from_secs(20), || {
        let p = call(c, "db1", &["pillar.items"]);
        p.get(key).is_some().then_some(p)
    })
}

fn pingers(c: &Cluster, target: &[&str]) -> Vec<String> {
    let mut args = vec!["--out", "json", "--static", "-t", "10"];
    args.extend_from_slice(target);
    args.push("test.ping");
    let out = c.brine(&args);
    match json_out(&out) {
        Value::Object(map) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

#[test]
fn each_minion_gets_only_its_own_pillar() {
    let tree = tempfile::tempdir().expect("pillar dir");
    pillar_tree(tree.path());
    let conf = format!("pillar_roots:\n  base:\n    - {}\n", tree.path().display());
    let c = Cluster::builder()
        .minion_ids(&["web1", "db1"])
        .master_conf(&conf)
        .start()
        .ready();

    let web = wait_for("web1's pillar", Duration::from_secs(20), || {
        let p = call(&c, "web1", &["pillar.items"]);
        p.get("web_secret").is_some().then_some(p)
    });
    assert_eq!(web["web_secret"], json!("only-for-web1"));
    assert_eq!(web["common"], json!({"site": "example", "id": "web1"}));
    assert!(web.get("_errors").is_none(), "{web}");

    let db = call(&c, "db1", &["pillar.items"]);
    assert!(
        db.get("web_secret").is_none(),
        "db1 sees web1's secret: {db}"
    );
    assert_eq!(db["role"], json!("db"));

    // What the minion holds, after a refresh over the wire.
    assert_eq!(call(&c, "db1", &["saltutil.refresh_pillar"]), json!(true));
    let raw = call(&c, "db1", &["pillar.raw"]);
    assert!(raw.get("web_secret").is_none(), "{raw}");
    assert_eq!(raw["common"]["id"], json!("db1"));
    assert!(
        call(&c, "db1", &["pillar.items"])
            .get("web_secret")
            .is_none()
    );

    assert_eq!(
        call(&c, "db1", &["pillar.get", "common:site"]),
        json!("example")
    );
    assert_eq!(
        call(&c, "db1", &["pillar.get", "common/id", "delimiter=/"]),
        json!("db1")
    );
    assert_eq!(
        call(&c, "db1", &["pillar.get", "nope", "default=fallback"]),
        json!("fallback")
    );
    assert_eq!(
        call(&c, "db1", &["pillar.item", "role"]),
        json!({"role": "db"})
    );
    assert_eq!(
        call(&c, "web1", &["pillar.keys", "common"]),
        json!(["site", "id"])
    );

    // Pillar targeting, on the master's cache and on the minions.
    let only_db = wait_for("-I role:db targets db1", Duration::from_secs(20), || {
        let got = pingers(&c, &["-I", "role:db"]);
        (got == ["db1"]).then_some(got)
    });
    assert_eq!(only_db, ["db1"]);
    assert_eq!(pingers(&c, &["-J", "web_secret:only-.*"]), ["web1"]);
}

#[test]
fn a_pillar_render_error_is_shown_and_stops_state_runs() {
    let tree = tempfile::tempdir().expect("pillar dir");
    let c = db1_with_pillar(
        tree.path(),
        &[("broken.sls", "x: {{ no_such_variable.attr }}\n")],
    );
    let items = db1_pillar_with(&c, "_errors");
    assert_eq!(
        items["_errors"],
        json!(["Rendering SLS 'broken' failed. Please see master log for details."])
    );
    // The rest of the pillar still renders.
    assert_eq!(items["role"], json!("db"));

    assert_eq!(call(&c, "db1", &["saltutil.refresh_pillar"]), json!(true));
    let ret = call(&c, "db1", &["state.apply"]);
    assert_eq!(
        ret,
        json!([
            "Pillar failed to render with the following messages:",
            "Rendering SLS 'broken' failed. Please see master log for details."
        ])
    );
    assert!(
        c.master_log().contains("no_such_variable"),
        "the master log names the cause"
    );
}

/// A pillar SLS served by the master calls the master's own functions
/// (Salt's master loads its `minion_mods` for pillar rendering); one the
/// master lacks fails that SLS, and the master log names it.
#[test]
fn pillar_templates_call_the_masters_functions() {
    let tree = tempfile::tempdir().expect("pillar dir");
    let c = db1_with_pillar(
        tree.path(),
        &[
            (
                "calls.sls",
                "echo: {{ salt['test.echo']('x') }}\nbase: {{ salt['file.basename']('/a/b') }}\n",
            ),
            ("refused.sls", "out: {{ salt['cmd.run']('id') }}\n"),
        ],
    );
    let items = db1_pillar_with(&c, "echo");
    assert_eq!(items["echo"], json!("x"));
    assert_eq!(items["base"], json!("b"));
    assert_eq!(
        items["_errors"],
        json!(["Rendering SLS 'refused' failed. Please see master log for details."])
    );
    assert!(
        c.master_log().contains("'cmd.run' is not available"),
        "the master log names the refused function"
    );
}

/// Pillar from git (`ext_pillar: - git:`): a fixed branch, and `__env__`
/// following the requested pillarenv; a new commit reaches the minion after
/// `brine-run git_pillar.update` and `saltutil.refresh_pillar`.
#[test]
fn git_ext_pillar_follows_branches_and_commits() {
    use crate::gitfs::{commit, git, init_repo, write as write_file};
    let repo = tempfile::tempdir().expect("repo");
    let r = repo.path();
    init_repo(r, "master");
    write_file(r, "pillar/top.sls", "base:\n  'web*':\n    - web\n");
    write_file(r, "pillar/web.sls", "app:\n  version: one\n");
    commit(r, "one");
    git(r, &["checkout", "--quiet", "-b", "dev"]);
    write_file(r, "pillar/top.sls", "dev:\n  '*':\n    - devonly\n");
    write_file(r, "pillar/devonly.sls", "dev_flag: true\n");
    commit(r, "dev");
    git(r, &["checkout", "--quiet", "master"]);
    let url = format!("file://{}", r.display());
    let c = Cluster::builder()
        .minion_ids(&["web1"])
        .master_conf(&format!(
            "git_pillar_root: pillar\next_pillar:\n  - git:\n    - master {url}\n    - __env__ {url}:\n      - name: by-env\n"
        ))
        .start()
        .ready();

    assert_eq!(
        call(&c, "web1", &["pillar.item", "app"]),
        json!({"app": {"version": "one"}})
    );
    let dev = call(&c, "web1", &["pillar.items", "pillarenv=dev"]);
    assert_eq!(dev["dev_flag"], json!(true), "{dev:#}");
    assert!(
        dev.get("app").is_none(),
        "pillarenv=dev reads only dev: {dev:#}"
    );

    write_file(r, "pillar/web.sls", "app:\n  version: two\n");
    commit(r, "two");
    let updated = c.brine_run(&["--out", "json", "git_pillar.update"]);
    assert_eq!(
        json_out(&updated)[format!("master {url}")],
        json!(true),
        "{}{}",
        stdout(&updated),
        stderr(&updated)
    );
    call(&c, "web1", &["saltutil.refresh_pillar", "wait=True"]);
    assert_eq!(
        call(&c, "web1", &["pillar.item", "app"]),
        json!({"app": {"version": "two"}})
    );

    // A branch deleted upstream takes its `__env__` tree with it.
    git(r, &["branch", "--quiet", "-D", "dev"]);
    let updated = c.brine_run(&["--out", "json", "git_pillar.update"]);
    assert!(updated.status.success(), "{}", stderr(&updated));
    let gone = call(&c, "web1", &["pillar.items", "pillarenv=dev"]);
    assert!(
        gone.get("dev_flag").is_none(),
        "the deleted branch's pillar is still served: {gone:#}"
    );
}

/// A masterless minion's pillar may call its execution functions, but not
/// one that compiles the pillar again: `pillar.items` from the pillar's own
/// template is refused (an `_errors` entry naming why) instead of recursing
/// until the process runs out of threads.
#[test]
fn a_masterless_pillar_that_asks_for_itself_is_refused_not_recursed() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    for sub in ["pillar", "conf"] {
        std::fs::create_dir_all(root.join(sub)).expect("mkdir");
    }
    write(root, "pillar/top.sls", "base:\n  '*':\n    - selfref\n");
    write(
        root,
        "pillar/selfref.sls",
        "echoed: {{ salt['test.echo']('fine') }}\nall: {{ salt['pillar.items']() }}\n",
    );
    write(
        root,
        "conf/minion",
        &format!(
            "id: m\nfile_client: local\nroot_dir: {r}\npillar_roots:\n  base:\n    - {r}/pillar\n",
            r = root.display()
        ),
    );
    let out = crate::cluster::run_with_timeout(
        std::process::Command::new(crate::cluster::bin("brine-call"))
            .arg("-c")
            .arg(root.join("conf"))
            .args(["--local", "--out", "json", "pillar.items", "unmask=True"]),
        Duration::from_secs(60),
    );
    let errors = json_out(&out)["local"]["_errors"].to_string();
    assert!(
        errors.contains("Rendering SLS 'selfref' failed"),
        "the pillar's render error is reported: {errors} / {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("pillar.items and friends are not available while rendering pillar"),
        "the log says why: {}",
        stderr(&out)
    );
}
