use serde_json::{Value, json};

use super::testhost::MemHost;
use super::*;

fn compile_sls(files: &[(&str, &str)], mods: &[&str]) -> Result<Lowstate, CompileError> {
    let host = MemHost::with_files(files);
    let mods: Vec<String> = mods.iter().map(|m| m.to_string()).collect();
    compile(high_from_sls(&host, "base", &mods)?)
}

fn ids(low: &Lowstate) -> Vec<String> {
    low.chunks
        .iter()
        .map(|c| format!("{}:{}", c.id, c.name))
        .collect()
}

fn req_of(low: &Lowstate, id: &str) -> Vec<(ReqKind, String)> {
    let i = low.chunks.iter().position(|c| c.id == id).expect("chunk");
    low.reqs[i]
        .iter()
        .map(|r| (r.kind, low.chunks[r.target].id.clone()))
        .collect()
}

#[test]
fn compile_orders_by_definition_then_order_key() {
    let sls = "b:\n  test.nop: []\na:\n  test.nop:\n    - order: last\nc:\n  test.nop:\n    - order: first\nd:\n  test.nop\n";
    let low = compile_sls(&[("base/s.sls", sls)], &["s"]).expect("compiles");
    assert_eq!(ids(&low), ["c:c", "b:b", "d:d", "a:a"]);
    assert_eq!(low.chunks[1].order, 10000);
    assert_eq!(low.chunks[1].env, "base");
}

#[test]
fn compile_expands_names_and_defaults_name_to_id() {
    let sls = "pkgs:\n  test.nop:\n    - names:\n      - one\n      - two:\n        - extra: 1\nsolo:\n  test.nop:\n    - name: other\n";
    let low = compile_sls(&[("base/s.sls", sls)], &["s"]).expect("compiles");
    assert_eq!(ids(&low), ["pkgs:one", "pkgs:two", "solo:other"]);
    assert_eq!(low.chunks[1].args["extra"], json!(1));
    assert_eq!(low.chunks[0].tag(), "test_|-pkgs_|-one_|-nop");
}

#[test]
fn compile_includes_run_first_and_resolve_relative_names() {
    let files = [
        (
            "base/app/init.sls",
            "include:\n  - .conf\n  - common\nmain:\n  test.nop\n",
        ),
        ("base/app/conf.sls", "conf:\n  test.nop\n"),
        ("base/common.sls", "common:\n  test.nop\n"),
    ];
    let low = compile_sls(&files, &["app"]).expect("compiles");
    assert_eq!(ids(&low), ["conf:conf", "common:common", "main:main"]);
    assert_eq!(low.chunks[0].sls, "app.conf");
}

#[test]
fn compile_applies_extend_and_exclude() {
    let files = [
        (
            "base/a.sls",
            "include:\n  - b\nextend:\n  target:\n    test.nop:\n      - name: renamed\n      - require:\n        - test: other\nexclude:\n  - id: gone\n",
        ),
        (
            "base/b.sls",
            "target:\n  test.nop: []\nother:\n  test.nop: []\ngone:\n  test.nop: []\n",
        ),
    ];
    let low = compile_sls(&files, &["a"]).expect("compiles");
    // `other` runs first: `target` (the lower order) requires it.
    assert_eq!(ids(&low), ["other:other", "target:renamed"]);
    assert_eq!(
        req_of(&low, "target"),
        [(ReqKind::Require, "other".to_string())]
    );
}

#[test]
fn compile_resolves_requisites_in_all_forms() {
    let sls = "\
a:
  test.nop: []
b:
  test.nop:
    - require_in:
      - cmd: c
    - watch_in:
      - a
c:
  cmd.run:
    - name: echo c
    - onchanges:
      - test: a
    - onfail_any:
      - id: a
d:
  test.nop:
    - prereq:
      - cmd: echo c
    - listen:
      - test: b
";
    let low = compile_sls(&[("base/s.sls", sls)], &["s"]).expect("compiles");
    assert_eq!(req_of(&low, "a"), [(ReqKind::Watch, "b".into())]);
    let c = req_of(&low, "c");
    assert!(c.contains(&(ReqKind::Require, "b".into())), "{c:?}");
    assert!(c.contains(&(ReqKind::Onchanges, "a".into())));
    assert!(c.contains(&(ReqKind::Onfail, "a".into())));
    assert!(c.contains(&(ReqKind::Prerequired, "d".into())));
    assert_eq!(
        req_of(&low, "d"),
        [(ReqKind::Prereq, "c".into()), (ReqKind::Listen, "b".into())]
    );
}

#[test]
fn compile_use_copies_arguments() {
    let sls = "a:\n  test.nop:\n    - mode: 644\n    - user: root\nb:\n  test.nop:\n    - user: www\n    - use:\n      - test: a\n";
    let low = compile_sls(&[("base/s.sls", sls)], &["s"]).expect("compiles");
    assert_eq!(low.chunks[1].args["mode"], json!(644));
    assert_eq!(low.chunks[1].args["user"], json!("www"));
}

#[test]
fn compile_error_names_state_with_missing_requisite() {
    let sls = "g:\n  cmd.run:\n    - name: echo G\n    - require:\n      - cmd: Z\n";
    let err = compile_sls(&[("base/s.sls", sls)], &["s"]).expect_err("missing");
    assert_eq!(
        err.errors,
        [
            "Referenced state does not exist for requisite [require: (cmd: Z)] in state [echo G] in SLS [s]"
        ]
    );
}

#[test]
fn compile_error_names_states_in_a_cycle() {
    let sls = "a:\n  test.nop:\n    - require:\n      - test: b\nb:\n  test.nop:\n    - watch:\n      - test: a\n";
    let err = compile_sls(&[("base/s.sls", sls)], &["s"]).expect_err("cycle");
    assert_eq!(
        err.errors,
        [
            "Recursive requisites were found: ({'SLS': 's', 'ID': 'b'}, 'watch', {'SLS': 's', 'ID': 'a'}), ({'SLS': 's', 'ID': 'a'}, 'require', {'SLS': 's', 'ID': 'b'})"
        ]
    );
}

#[test]
fn compile_reports_missing_sls_conflicts_and_bad_functions() {
    let err = compile_sls(&[], &["nope"]).expect_err("missing");
    assert_eq!(
        err.errors,
        ["No matching sls found for 'nope' in env 'base'"]
    );
    let files = [
        ("base/a.sls", "include:\n  - b\nx:\n  test.nop\n"),
        ("base/b.sls", "x:\n  test.nop\n"),
    ];
    let err = compile_sls(&files, &["a"]).expect_err("conflict");
    assert!(
        err.errors[0].starts_with("Detected conflicting IDs"),
        "{err:?}"
    );
    let err =
        compile_sls(&[("base/s.sls", "x:\n  test:\n    - name: y\n")], &["s"]).expect_err("no fun");
    assert_eq!(err.errors, ["No function declared in state 'x' in SLS 's'"]);
}

#[test]
fn compile_top_matches_by_type() {
    let top = "\
base:
  '*':
    - common
  'os:Debian':
    - match: grain
    - debian
  'os:RedHat':
    - match: grain
    - redhat
  'm[0-9]':
    - match: pcre
    - numbered
  'role:web':
    - match: pillar
    - web
  'G@os:Debian and not m2':
    - match: compound
    - compound
  'other,m1':
    - match: list
    - listed
";
    let mut host = MemHost::with_files(&[("base/top.sls", top)]);
    host.pillar.insert("role".into(), json!("web"));
    let matches = top::matches(&host, None).expect("top");
    assert_eq!(
        matches["base"],
        ["common", "debian", "numbered", "web", "compound", "listed"]
    );
}

#[test]
fn an_unknown_match_type_in_the_top_file_is_an_error_naming_it() {
    let top = "base:\n  'role:web':\n    - match: pillar_exact\n    - web\n";
    let host = MemHost::with_files(&[("base/top.sls", top)]);
    let err = top::matches(&host, None).expect_err("unknown type");
    assert!(
        err.errors[0].starts_with(
            "Invalid target 'role:web' in the top file of saltenv 'base': \
             unsupported target type \"pillar_exact\" (known: glob,"
        ),
        "{err:?}"
    );
}

/// Top files in three environments, as a gitfs remote with one branch per
/// environment often has them: each branch carries its own copy.
fn three_tops() -> MemHost {
    MemHost::with_files(&[
        (
            "base/top.sls",
            "base:\n  '*':\n    - common\ndev:\n  '*':\n    - dev_from_base\n",
        ),
        (
            "dev/top.sls",
            "base:\n  '*':\n    - stale_common\ndev:\n  '*':\n    - dev_own\n",
        ),
        (
            "qa/top.sls",
            "base:\n  '*':\n    - qa_base\nqa:\n  '*':\n    - qa_own\n",
        ),
    ])
}

fn merged(host: &mut MemHost, strategy: &str) -> Vec<(String, Vec<String>)> {
    host.opts
        .insert("top_file_merging_strategy".into(), json!(strategy));
    top::matches(host, None).expect("top").into_iter().collect()
}

fn env(name: &str, mods: &[&str]) -> (String, Vec<String>) {
    (
        name.to_string(),
        mods.iter().map(|m| m.to_string()).collect(),
    )
}

#[test]
fn top_merge_takes_base_then_each_environments_own_section() {
    let mut host = three_tops();
    assert_eq!(
        merged(&mut host, "merge"),
        [
            env("base", &["common"]),
            env("dev", &["dev_from_base"]),
            env("qa", &["qa_own"])
        ]
    );
}

#[test]
fn top_same_takes_each_section_from_its_own_environment() {
    let mut host = three_tops();
    assert_eq!(
        merged(&mut host, "same"),
        [
            env("base", &["common"]),
            env("dev", &["dev_own"]),
            env("qa", &["qa_own"])
        ]
    );
}

#[test]
fn top_merge_all_joins_every_section() {
    let mut host = three_tops();
    assert_eq!(
        merged(&mut host, "merge_all"),
        [
            env("base", &["common", "stale_common", "qa_base"]),
            env("dev", &["dev_from_base", "dev_own"]),
            env("qa", &["qa_own"]),
        ]
    );
}

#[test]
fn top_unknown_merging_strategy_is_an_error_naming_the_option() {
    let mut host = three_tops();
    host.opts
        .insert("top_file_merging_strategy".into(), json!("smart"));
    let err = top::matches(&host, None).expect_err("refused");
    assert!(
        err.to_string()
            .contains("top_file_merging_strategy 'smart'"),
        "{err}"
    );
}

#[test]
fn top_env_order_limits_and_orders_the_top_files_read() {
    let mut host = three_tops();
    host.opts
        .insert("env_order".into(), json!(["qa", "base", "qa"]));
    assert_eq!(
        merged(&mut host, "merge_all"),
        [
            env("base", &["qa_base", "common"]),
            env("qa", &["qa_own"]),
            env("dev", &["dev_from_base"]),
        ],
        "dev's own top file is not read; qa's comes first"
    );
}

#[test]
fn top_same_serves_an_environment_without_top_from_default_top() {
    let mut host = MemHost::with_files(&[
        (
            "base/top.sls",
            "base:\n  '*':\n    - common\nprod:\n  '*':\n    - prod_from_base\n",
        ),
        ("prod/app.sls", "{}\n"),
    ]);
    assert_eq!(
        merged(&mut host, "same"),
        [env("base", &["common"]), env("prod", &["prod_from_base"])]
    );
    host.opts.insert("default_top".into(), json!("nowhere"));
    assert_eq!(merged(&mut host, "same"), [env("base", &["common"])]);
}

#[test]
fn a_plain_include_that_is_there_needs_no_listing_and_a_missing_one_reads_as_before() {
    let listings = |host: &MemHost| host.listings.load(std::sync::atomic::Ordering::Relaxed);
    let files = [
        ("base/a.sls", "include:\n  - b\n  - c\nx:\n  test.nop\n"),
        ("base/b.sls", "y:\n  test.nop\n"),
        ("base/c/init.sls", "z:\n  test.nop\n"),
    ];
    let host = MemHost::with_files(&files);
    let (high, errors) = render_sls(&host, "base", &["a".to_string()]);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(high.keys().collect::<Vec<_>>(), ["x", "y", "z"]);
    assert_eq!(
        listings(&host),
        0,
        "b.sls and c/init.sls were found directly"
    );

    let files = [
        (
            "base/a.sls",
            "include:\n  - missing\n  - d.e\nx:\n  test.nop\n",
        ),
        // Listed as `d.e`, though `d.e` is looked for as d/e.sls.
        ("base/d.e.sls", "w:\n  test.nop\n"),
    ];
    let host = MemHost::with_files(&files);
    let (_, errors) = render_sls(&host, "base", &["a".to_string()]);
    assert_eq!(
        errors,
        [
            "Specified SLS missing in saltenv base is not available on the salt master or through a configured fileserver",
            "Specified SLS d.e in saltenv base is not available on the salt master or through a configured fileserver",
        ]
    );
    assert_eq!(listings(&host), 1, "the listing decided, once");
}

#[test]
fn included_states_carry_the_sls_that_included_them() {
    let files = [
        ("base/a.sls", "include:\n  - b\nx:\n  test.nop\n"),
        ("base/b.sls", "include:\n  - c\ny:\n  test.nop\n"),
        ("base/c.sls", "z:\n  test.nop\n"),
    ];
    let host = MemHost::with_files(&files);
    let (high, errors) = render_sls(&host, "base", &["a".to_string()]);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(high["z"]["__sls_included_from__"], json!(["b", "a"]));
    assert_eq!(high["y"]["__sls_included_from__"], json!(["a"]));
    assert!(high["x"].get("__sls_included_from__").is_none());
    // Own ids first, then what was included; included files numbered first.
    assert_eq!(high.keys().collect::<Vec<_>>(), ["x", "y", "z"]);
    assert_eq!(high["z"]["test"], json!(["nop", {"order": 10000}]));
    assert_eq!(high["x"]["test"], json!(["nop", {"order": 10002}]));
}

#[test]
fn extend_and_exclude_stay_raw_until_compiled() {
    let files = [
        (
            "base/a.sls",
            "include:\n  - b\nextend:\n  y:\n    test:\n      - k: 1\nexclude:\n  - id: gone\nx:\n  test.nop\n",
        ),
        ("base/b.sls", "y:\n  test.nop\ngone:\n  test.nop\n"),
    ];
    let host = MemHost::with_files(&files);
    let (high, _) = render_sls(&host, "base", &["a".to_string()]);
    assert_eq!(
        high["__extend__"],
        json!([{"y": {"test": [{"k": 1}], "__sls__": "a", "__env__": "base"}}])
    );
    assert_eq!(high["__exclude__"], json!([{"id": "gone"}]));
    let low = compile(high).expect("compiles");
    assert_eq!(ids(&low), ["y:y", "x:x"]);
    assert_eq!(low.chunks[0].args["k"], json!(1));
}

#[test]
fn include_forms_are_read_as_salt_reads_them() {
    let files = [(
        "base/a.sls",
        "include:\n  - base: gone.one\n  - 'prod:thing'\nx:\n  test.nop\n",
    )];
    let err = compile_sls(&files, &["a"]).expect_err("missing includes");
    assert_eq!(
        err.errors,
        [
            "Specified SLS gone.one in saltenv base is not available on the salt master or through a configured fileserver",
            "Specified SLS prod:thing in saltenv base is not available on the salt master or through a configured fileserver",
        ]
    );
}

#[test]
fn names_get_fractional_orders_and_string_orders_sort_at_the_cap() {
    let sls = "n:\n  test.nop:\n    - names: [p, q]\ns:\n  test.nop:\n    - order: '3'\nl:\n  test.nop:\n    - order: last\n";
    let host = MemHost::with_files(&[("base/s.sls", sls)]);
    let high = high_from_sls(&host, "base", &["s".to_string()]).expect("renders");
    let ordered = order(prepare(high).expect("prepares")).expect("orders");
    let orders: Vec<(String, Value)> = ordered
        .into_salt_chunks()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_string(),
                c["order"].clone(),
            )
        })
        .collect();
    assert_eq!(
        orders,
        [
            ("p".to_string(), json!(10000.0001)),
            ("q".to_string(), json!(10000.0002)),
            ("s".to_string(), json!(10100)),
            ("l".to_string(), json!(1010100)),
        ]
    );
}

#[test]
fn require_in_a_missing_id_is_salts_cannot_extend_error() {
    let sls = "p:\n  test.nop:\n    - require_in:\n      - test: nothere\n";
    let err = compile_sls(&[("base/s.sls", sls)], &["s"]).expect_err("missing");
    assert!(
        err.errors[0].starts_with(
            "Cannot extend ID 'nothere' in 'base:s'. It is not part of the high state."
        ),
        "{err:?}"
    );
}

#[test]
fn sls_id_runs_the_id_after_the_states_it_needs_and_nothing_else() {
    let sls = "a:\n  test.nop: []\nb:\n  test.nop:\n    - require:\n      - test: a\nc:\n  test.nop:\n    - watch:\n      - test: b\nother:\n  test.nop: []\n";
    let host = MemHost::with_files(&[("base/s.sls", sls)]);
    let high = high_from_sls(&host, "base", &["s".to_string()]).expect("renders");
    let low = compile_id(high.clone(), "c")
        .expect("compiles")
        .expect("c exists");
    assert_eq!(ids(&low), ["a:a", "b:b", "c:c"]);
    assert_eq!(req_of(&low, "c"), [(ReqKind::Watch, "b".to_string())]);
    assert_eq!(req_of(&low, "b"), [(ReqKind::Require, "a".to_string())]);
    let alone = compile_id(high.clone(), "a")
        .expect("compiles")
        .expect("a exists");
    assert_eq!(ids(&alone), ["a:a"]);
    assert!(compile_id(high, "nope").expect("compiles").is_none());
}

#[test]
fn a_single_state_has_no_sls() {
    let high = high_from_single("test.nop", "one", &serde_json::Map::new()).expect("high");
    let low = compile(high).expect("compiles");
    assert_eq!(low.chunks[0].sls, "");
    assert_eq!(low.chunks[0].sls_value(), Value::Null);
}

#[test]
fn null_and_bool_ids_are_named_as_python_names_them_in_every_error() {
    let text = "~: foo\nyes:\n  test.nop:\nno:\n  test: nop\n'null':\n  test.nop\n";
    let files = [("base/a.sls", text)];
    let host = MemHost::with_files(&files);
    let (high, mut errors) = render_sls(&host, "base", &["a".to_string()]);
    errors.extend(super::verify::verify_high(&high));
    assert_eq!(
        errors,
        [
            "ID None in SLS a is not a dictionary",
            "The type None in foo is not formatted as a dictionary",
            "ID 'True' in SLS 'a' is not formed as a string, but is type bool. It may need to be quoted.",
            "ID 'True' in SLS 'a' contains a short declaration (test.nop) with a trailing colon. When not passing any arguments to a state, the colon must be omitted.",
            "ID 'False' in SLS 'a' is not formed as a string, but is type bool. It may need to be quoted.",
            "State 'False' in SLS 'a' is not formed as a list",
        ]
    );
}

#[test]
fn an_id_that_yaml_reads_as_a_number_is_refused_as_salt_refuses_it() {
    let files = [("base/a.sls", "123:\n  test.nop\n'456':\n  test.nop\n")];
    let host = MemHost::with_files(&files);
    let (high, errors) = render_sls(&host, "base", &["a".to_string()]);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        super::verify::verify_high(&high),
        [
            "ID '123' in SLS 'a' is not formed as a string, but is type int. It may need to be quoted."
        ]
    );
}
