//! Unit tests: top matching, includes, merge strategies, external pillars
//! and render errors.

use std::path::Path;

use brine_common::fileroots::Roots;
use brine_common::ids::SaltEnv;
use serde_json::{Map, Value, json};

use super::*;

fn write(dir: &Path, path: &str, text: &str) {
    let full = dir.join(path);
    if let Some(parent) = full.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(full, text).expect("write");
}

fn opts_for(dir: &Path) -> PillarOpts {
    let mut roots = Map::new();
    roots.insert("base".into(), json!([dir.display().to_string()]));
    PillarOpts {
        pillar_roots: roots,
        safe_render_error: true,
        ..PillarOpts::default()
    }
}

fn grains(role: &str) -> Map<String, Value> {
    match json!({"role": role, "os": "Debian"}) {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn run(opts: &PillarOpts, id: &str, role: &str) -> Pillar {
    let roots = Roots::from_config(&opts.pillar_roots);
    compile(&roots, id, &grains(role), opts)
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[test]
fn top_targets_match_by_glob_grain_compound_and_list() {
    let dir = tempfile::tempdir().expect("tmp");
    write(
        dir.path(),
        "top.sls",
        "base:\n  '*':\n    - common\n  'role:db':\n    - match: grain\n    - db\n  'web* and G@os:Debian':\n    - web\n  'x,y':\n    - match: list\n    - never\n",
    );
    write(dir.path(), "common.sls", "common: true\n");
    write(dir.path(), "db.sls", "secret: hunter2\n");
    write(dir.path(), "web.sls", "site: example\n");
    let opts = opts_for(dir.path());
    let web = run(&opts, "web1", "web");
    assert_eq!(web.errors, Vec::<String>::new());
    assert_eq!(
        Value::Object(web.data),
        json!({"common": true, "site": "example"})
    );
    let db = run(&opts, "db1", "db");
    assert_eq!(
        Value::Object(db.data),
        json!({"common": true, "secret": "hunter2"})
    );
}

#[test]
fn includes_nest_under_key_and_get_defaults() {
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), "top.sls", "base:\n  '*':\n    - app\n");
    write(
        dir.path(),
        "app/init.sls",
        "include:\n  - .users\n  - settings:\n      key: app:conf\n      defaults:\n        port: 8080\napp:\n  name: demo\n",
    );
    write(dir.path(), "app/users.sls", "users: [alice]\n");
    write(
        dir.path(),
        "settings.sls",
        "port: {{ port }}\nhost: {{ grains['os'] }}\n",
    );
    let p = run(&opts_for(dir.path()), "web1", "web");
    assert_eq!(p.errors, Vec::<String>::new());
    assert_eq!(
        Value::Object(p.data),
        json!({"users": ["alice"], "app": {"conf": {"port": 8080, "host": "Debian"}, "name": "demo"}})
    );
}

#[test]
fn merge_strategies_follow_salt() {
    let a = obj(json!({"k": {"x": 1, "l": [1, 2]}, "t": 1}));
    let b = obj(json!({"k": {"y": 2, "l": [2, 3]}}));
    let recurse = merge(a.clone(), b.clone(), MergeStrategy::Smart, false);
    assert_eq!(
        Value::Object(recurse),
        json!({"k": {"x": 1, "l": [2, 3], "y": 2}, "t": 1})
    );
    let lists = merge(a.clone(), b.clone(), MergeStrategy::Recurse, true);
    assert_eq!(
        Value::Object(lists),
        json!({"k": {"x": 1, "l": [1, 2, 3], "y": 2}, "t": 1})
    );
    let overwrite = merge(a.clone(), b.clone(), MergeStrategy::Overwrite, false);
    assert_eq!(
        Value::Object(overwrite),
        json!({"k": {"y": 2, "l": [2, 3]}, "t": 1})
    );
    let aggregate = merge(a.clone(), b.clone(), MergeStrategy::Aggregate, false);
    assert_eq!(
        Value::Object(aggregate),
        json!({"k": {"x": 1, "l": [1, 2, 3], "y": 2}, "t": 1})
    );
    let none = merge(a, b, MergeStrategy::None, false);
    assert_eq!(
        Value::Object(none),
        json!({"k": {"x": 1, "l": [2, 3], "y": 2}, "t": 1})
    );
    assert_eq!(MergeStrategy::parse("bogus"), MergeStrategy::Recurse);
}

#[test]
fn strategy_none_and_pillarenv_read_one_environment() {
    let base = tempfile::tempdir().expect("tmp");
    let dev = tempfile::tempdir().expect("tmp");
    write(base.path(), "top.sls", "base:\n  '*':\n    - b\n");
    write(base.path(), "b.sls", "from: base\n");
    write(dev.path(), "top.sls", "dev:\n  '*':\n    - d\n");
    write(dev.path(), "d.sls", "from: dev\ndev: true\n");
    let mut opts = opts_for(base.path());
    opts.pillar_roots
        .insert("dev".into(), json!([dev.path().display().to_string()]));
    let both = run(&opts, "m", "web");
    assert_eq!(
        Value::Object(both.data),
        json!({"from": "dev", "dev": true})
    );
    opts.strategy = MergeStrategy::None;
    assert_eq!(
        Value::Object(run(&opts, "m", "web").data),
        json!({"from": "base"})
    );
    opts.strategy = MergeStrategy::Smart;
    opts.pillarenv = Some(SaltEnv::parse("dev").expect("env"));
    assert_eq!(
        Value::Object(run(&opts, "m", "web").data),
        json!({"from": "dev", "dev": true})
    );
}

#[test]
fn a_render_error_is_reported_never_an_empty_pillar() {
    let dir = tempfile::tempdir().expect("tmp");
    write(
        dir.path(),
        "top.sls",
        "base:\n  '*':\n    - bad\n    - good\n    - missing\n",
    );
    write(dir.path(), "bad.sls", "a: {{ undefined_thing.x }}\n");
    write(dir.path(), "good.sls", "good: 1\n");
    let mut opts = opts_for(dir.path());
    let p = run(&opts, "m", "web");
    assert_eq!(
        p.errors,
        [
            "Rendering SLS 'bad' failed. Please see master log for details.",
            "Specified SLS 'missing' in environment 'base' is not available on the salt master",
        ]
    );
    let map = p.clone().into_map();
    assert_eq!(map["good"], json!(1));
    assert_eq!(errors_of(&map), p.errors);
    opts.safe_render_error = false;
    let p = run(&opts, "m", "web");
    assert!(
        p.errors[0].starts_with("Rendering SLS 'bad' failed, render error:\n"),
        "{:?}",
        p.errors
    );
}

#[test]
fn execution_functions_are_refused_in_pillar_templates() {
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), "top.sls", "base:\n  '*':\n    - cmd\n");
    write(
        dir.path(),
        "cmd.sls",
        "x: {{ salt['cmd.run']('id') }}\ny: {{ salt['grains.get']('role') }}\n",
    );
    let mut opts = opts_for(dir.path());
    opts.safe_render_error = false;
    let p = run(&opts, "m", "web");
    assert_eq!(p.errors.len(), 1);
    assert!(
        p.errors[0].contains("'cmd.run' is not available"),
        "{}",
        p.errors[0]
    );
}

#[test]
fn ext_pillar_cmd_yaml_cmd_json_and_file_tree() {
    let dir = tempfile::tempdir().expect("tmp");
    let tree = tempfile::tempdir().expect("tree");
    write(tree.path(), "hosts/web1/db/password", "s3cret\n");
    write(tree.path(), "hosts/web1/motd", "hello\n");
    write(tree.path(), "hosts/db1/other", "x");
    write(tree.path(), "nodegroups/webs/group", "webs\n");
    let mut opts = opts_for(dir.path());
    opts.nodegroups = obj(json!({"webs": "web*"}));
    opts.ext_pillar = vec![
        json!({"cmd_yaml": "printf 'y: {a: 1}\\n'"}),
        json!({"cmd_json": "echo '{\"j\": [1]}'"}),
        json!({"file_tree": {"root_dir": tree.path().display().to_string(), "keep_newline": ["motd"]}}),
        json!({"cmd_yaml": "exit 3"}),
    ];
    let p = run(&opts, "web1", "web");
    assert_eq!(
        Value::Object(p.data),
        json!({"y": {"a": 1}, "j": [1], "group": "webs", "db": {"password": "s3cret"}, "motd": "hello\n"})
    );
    assert_eq!(p.errors.len(), 1);
    assert!(
        p.errors[0].starts_with("Failed to load ext_pillar cmd_yaml: 'exit 3' exited with"),
        "{}",
        p.errors[0]
    );
}

#[test]
fn the_override_is_merged_last() {
    let dir = tempfile::tempdir().expect("tmp");
    write(dir.path(), "top.sls", "base:\n  '*':\n    - a\n");
    write(dir.path(), "a.sls", "k: {x: 1, y: 1}\n");
    let mut opts = opts_for(dir.path());
    opts.pillar_override = obj(json!({"k": {"y": 2}}));
    assert_eq!(
        Value::Object(run(&opts, "m", "web").data),
        json!({"k": {"x": 1, "y": 2}})
    );
}

/// A minion's override is merged into its pillar but does not take part in
/// matching the top file: claiming `role: db` does not earn the db pillar.
#[test]
fn the_override_does_not_choose_top_matches() {
    let dir = tempfile::tempdir().expect("tmp");
    write(
        dir.path(),
        "top.sls",
        "base:\n  'role:db':\n    - match: pillar\n    - db\n",
    );
    write(dir.path(), "db.sls", "db_password: s3cret\n");
    let mut opts = opts_for(dir.path());
    opts.pillar_override = obj(json!({"role": "db"}));
    assert_eq!(
        Value::Object(run(&opts, "m", "web").data),
        json!({"role": "db"})
    );
}
