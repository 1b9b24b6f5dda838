//! The outputter against Salt 3008's own output (samples captured from
//! `salt-call --local state.apply` and `salt m0001 state.apply`), kept as
//! files under `fixtures/` and compared with `brine_common::snapshot`.

use brine_common::assert_fixture;
use serde_json::{Map, Value, json};

use super::*;

fn sample(json_text: &str) -> Map<String, Value> {
    serde_json::from_str(json_text).expect("sample JSON")
}

/// The text sample comes from a separate run than the JSON one, so its
/// fixture has `[..]` for the times, the durations and the pid.
#[test]
fn output_matches_salts_requisites_sample_byte_for_byte() {
    let returns = sample(include_str!("fixtures/requisites_first.json"));
    let ours = render_highstate_all(&returns, &HighstateOptions::default());
    assert_fixture!("src/output/fixtures/requisites_first_highstate.txt", ours);
}

#[test]
fn output_summary_and_layout_match_the_second_run_sample() {
    // Rebuild the return from the text sample's own figures.
    let ret = json!({
        "file_|-sample_file_|-<repo>/anchors/salt/run/target/sample-m0001/hello.txt_|-managed": {
            "changes": {}, "comment": "File <repo>/anchors/salt/run/target/sample-m0001/hello.txt is in the correct state",
            "name": "<repo>/anchors/salt/run/target/sample-m0001/hello.txt", "result": true, "__sls__": "sample",
            "__run_num__": 0, "start_time": "23:40:23.721171", "duration": 6.724, "__id__": "sample_file"},
        "test_|-sample_ok_|-nothing to do_|-succeed_without_changes": {
            "name": "nothing to do", "changes": {}, "result": true, "comment": "Success!", "__sls__": "sample",
            "__run_num__": 1, "start_time": "23:40:23.728894", "duration": 0.192, "__id__": "sample_ok"},
        "cmd_|-sample_cmd_|-echo hi_|-run": {
            "changes": {}, "result": true, "duration": 0.007, "start_time": "23:40:23.730073",
            "comment": "State was not run because none of the onchanges reqs changed", "__state_ran__": false,
            "__run_num__": 2, "__sls__": "sample", "__id__": "sample_cmd", "name": "echo hi"}
    });
    assert_fixture!(
        "src/output/fixtures/highstate_sample_second.txt",
        render_highstate("m0001", &ret, &HighstateOptions::default())
    );
}

#[test]
fn output_terse_verbose_and_compile_errors() {
    let ret = json!({
        "test_|-a_|-a_|-nop": {"result": true, "changes": {}, "comment": "ok", "__run_num__": 0, "duration": 1.5, "start_time": "01:02:03.000004"},
        "test_|-b_|-b_|-nop": {"result": null, "changes": {"x": 1}, "comment": "would", "__run_num__": 1, "duration": 0.5, "start_time": "01:02:03.000005"}
    });
    let terse = HighstateOptions {
        state_output: "terse".into(),
        ..HighstateOptions::default()
    };
    let text = render_highstate("m", &ret, &terse);
    assert!(text.contains("  Name: a - Function: test.nop - Result: Clean - Started: 01:02:03.000004 - Duration: 1.5 ms\n"), "{text}");
    assert!(
        text.contains("Succeeded: 2 (unchanged=1, changed=1)\n"),
        "{text}"
    );
    let quiet = HighstateOptions {
        state_verbose: false,
        ..HighstateOptions::default()
    };
    assert!(!render_highstate("m", &ret, &quiet).contains("ID: a"));
    let errors = render_highstate("m", &json!(["bad thing"]), &HighstateOptions::default());
    assert_eq!(
        errors,
        "m:\n    Data failed to compile:\n----------\n    bad thing\n"
    );
    let colored = render_highstate(
        "m",
        &ret,
        &HighstateOptions {
            color: true,
            ..HighstateOptions::default()
        },
    );
    assert!(
        colored.starts_with("\x1b[0;1;33mm:\x1b[0;0m"),
        "{colored:?}"
    );
}
