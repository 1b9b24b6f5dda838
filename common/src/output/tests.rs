//! Exact-string tests. Where a sample captured from Salt 3008.5 exists
//! (`salt-baseline/samples/`), the expected text is copied from it verbatim:
//! the longer ones as files under `fixtures/`, compared with
//! [`crate::snapshot`].

use super::*;
use serde_json::json;

const PLAIN: OutputOptions = OutputOptions {
    color: false,
    static_: false,
    indent: None,
};
const COLOR: OutputOptions = OutputOptions {
    color: true,
    static_: false,
    indent: None,
};

fn with_indent(indent: i64) -> OutputOptions {
    OutputOptions {
        indent: Some(indent),
        ..PLAIN
    }
}

fn map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("test input must be an object, got {other}"),
    }
}

/// Renders one return per minion, in this order, as the CLI prints them.
fn per_minion(format: OutputFormat, opts: &OutputOptions, ids: &[&str], ret: &Value) -> String {
    ids.iter()
        .map(|id| render_minion(format, opts, id, ret))
        .collect()
}

// ---- format names ---------------------------------------------------------

#[test]
fn format_names_round_trip() {
    for format in OutputFormat::ALL {
        assert_eq!(format.to_string().parse::<OutputFormat>(), Ok(format));
    }
    assert_eq!("text".parse::<OutputFormat>(), Ok(OutputFormat::Txt));
    assert_eq!(OutputFormat::default(), OutputFormat::Nested);
}

#[test]
fn unknown_format_lists_valid_names() {
    let err = "pprint"
        .parse::<OutputFormat>()
        .expect_err("pprint is not an outputter of ours");
    assert_eq!(
        err.to_string(),
        "unknown outputter 'pprint'; valid outputters: nested, highstate, json, yaml, txt, raw, quiet"
    );
}

// ---- nested -----------------------------------------------------------------

/// samples/test_ping_k10.txt: `salt '*' test.ping` against ten minions.
#[test]
fn nested_test_ping_matches_salt_sample() {
    let order = [
        "m0008", "m0007", "m0010", "m0001", "m0002", "m0005", "m0004", "m0003", "m0009", "m0006",
    ];
    crate::assert_fixture!(
        "src/output/fixtures/test_ping_k10.txt",
        per_minion(OutputFormat::Nested, &PLAIN, &order, &json!(true))
    );
}

/// The `Changes:` block of samples/jobs_lookup_jid.txt is the nested
/// outputter at indent 14: dict keys sorted, an empty string prints nothing.
#[test]
fn nested_changes_block_matches_salt_sample() {
    let changes = json!({"pid": 9343, "retcode": 0, "stdout": "hi", "stderr": ""});
    let expected = "              ----------\n              pid:\n                  9343\n              \
                    retcode:\n                  0\n              stderr:\n              stdout:\n                  hi";
    assert_eq!(render_nested(&changes, 14, false), expected);
    assert_eq!(
        render_nested(&json!({"diff": "New file"}), 14, false),
        "              ----------\n              diff:\n                  New file"
    );
}

/// The example in the docstring of Salt's nested.py.
#[test]
fn nested_salt_docstring_example() {
    let ret = json!({"foo": {"list": ["Hello", "World"], "bar": "baz",
                             "dictionary": {"abc": 123, "def": 456}}});
    crate::assert_fixture!(
        "src/output/fixtures/nested_docstring_example.txt",
        render_minion(OutputFormat::Nested, &PLAIN, "myminion", &ret)
    );
}

#[test]
fn nested_scalars_use_python_spelling() {
    let ret = json!({"none": null, "no": false, "int": -3, "float": 8.08, "small": 0.00001});
    let expected = "\
m1:
    ----------
    float:
        8.08
    int:
        -3
    no:
        False
    none:
        None
    small:
        1e-05
";
    assert_eq!(
        render_minion(OutputFormat::Nested, &PLAIN, "m1", &ret),
        expected
    );
    assert_eq!(
        render_minion(OutputFormat::Nested, &PLAIN, "m1", &Value::Null),
        "m1:\n    None\n"
    );
}

#[test]
fn nested_empty_values() {
    let nested = |ret: Value| render_minion(OutputFormat::Nested, &PLAIN, "m1", &ret);
    // An empty dict below the top still gets its divider; an empty list or
    // string has no lines at all.
    assert_eq!(nested(json!({})), "m1:\n    ----------\n");
    assert_eq!(nested(json!([])), "m1:\n");
    assert_eq!(nested(json!("")), "m1:\n");
    assert_eq!(
        nested(json!({"changes": {}, "list": [], "text": ""})),
        "m1:\n    ----------\n    changes:\n        ----------\n    list:\n    text:\n"
    );
}

#[test]
fn nested_lists_of_containers_use_bars() {
    let ret = json!([{"b": 2, "a": 1}, [1, [2]], "x\ny", {}, [], null]);
    let expected = "\
m1:
    |_
      ----------
      a:
          1
      b:
          2
    |_
      - 1
      |_
        - 2
    - x
      y
    |_
      ----------
    |_
    - None
";
    assert_eq!(
        render_minion(OutputFormat::Nested, &PLAIN, "m1", &ret),
        expected
    );
}

#[test]
fn nested_multi_line_strings_are_indented() {
    let ret = json!({"stdout": "line one\nline two\r\n\nline four\n"});
    // The blank line keeps its indentation (8 spaces), as Salt prints it.
    let expected = "m1:\n    ----------\n    stdout:\n        line one\n        line two\n        \n        line four\n";
    assert_eq!(
        render_minion(OutputFormat::Nested, &PLAIN, "m1", &ret),
        expected
    );
}

/// A trailing blank line is indentation only; Salt's final `rstrip()` drops it.
#[test]
fn nested_output_is_right_stripped() {
    let ret = json!("text\n\n");
    assert_eq!(
        render_minion(OutputFormat::Nested, &PLAIN, "m1", &ret),
        "m1:\n    text\n"
    );
}

#[test]
fn nested_minion_that_did_not_return() {
    let ret = json!("Minion did not return. [No response]");
    assert_eq!(
        render_minion(OutputFormat::Nested, &PLAIN, "m0004", &ret),
        "m0004:\n    Minion did not return. [No response]\n"
    );
    let ret = json!("Minion did not return. [Not connected]");
    assert_eq!(
        render_minion(OutputFormat::Nested, &PLAIN, "m0004", &ret),
        "m0004:\n    Minion did not return. [Not connected]\n"
    );
}

/// `--static` nested prints one dict, and Salt sorts every dict's keys.
#[test]
fn nested_static_sorts_minions() {
    let returns =
        map(json!({"web2": true, "db1": "Minion did not return. [No response]", "web10": 1}));
    let expected =
        "db1:\n    Minion did not return. [No response]\nweb10:\n    1\nweb2:\n    True\n";
    assert_eq!(render_all(OutputFormat::Nested, &PLAIN, &returns), expected);
    // brine-call prints its return under `local`.
    let local = map(json!({"local": {"retcode": 0, "pid": 12}}));
    assert_eq!(
        render_all(OutputFormat::Nested, &PLAIN, &local),
        "local:\n    ----------\n    pid:\n        12\n    retcode:\n        0\n"
    );
}

#[test]
fn nested_colours_follow_salt_theme() {
    let ret = json!({"k": "v", "n": 1, "l": ["a", {}]});
    let expected = "\
\x1b[0;36mm1\x1b[0;0m:
    \x1b[0;36m----------\x1b[0;0m
    \x1b[0;36mk\x1b[0;0m:
        \x1b[0;32mv\x1b[0;0m
    \x1b[0;36ml\x1b[0;0m:
        \x1b[0;32m- a\x1b[0;0m
        \x1b[0;32m|_\x1b[0;0m
          \x1b[0;36m----------\x1b[0;0m
    \x1b[0;36mn\x1b[0;0m:
        \x1b[0;1;33m1\x1b[0;0m
";
    assert_eq!(
        render_minion(OutputFormat::Nested, &COLOR, "m1", &ret),
        expected
    );
}

#[test]
fn nested_failed_return_is_red() {
    let ret = json!({"retcode": 1, "l": [[]]});
    let expected = "\
\x1b[0;31mm1\x1b[0;0m:
    \x1b[0;31m----------\x1b[0;0m
    \x1b[0;31ml\x1b[0;0m:
        \x1b[0;31m|_\x1b[0;0m
    \x1b[0;31mretcode\x1b[0;0m:
        \x1b[0;1;33m1\x1b[0;0m
";
    assert_eq!(
        render_minion_with_retcode(OutputFormat::Nested, &COLOR, "m1", &ret, 1),
        expected
    );
    // Without colour a retcode changes nothing.
    assert_eq!(
        render_minion_with_retcode(OutputFormat::Nested, &PLAIN, "m1", &ret, 1),
        render_minion(OutputFormat::Nested, &PLAIN, "m1", &ret)
    );
}

#[test]
fn colour_off_emits_no_escape_codes() {
    let ret = json!({"a": [1, {"b": null}, [true]], "s": "x\ny", "e": {}, "f": 1.5});
    for format in OutputFormat::ALL {
        if format == OutputFormat::Yaml {
            continue; // covered by the yaml module's own tests
        }
        let out = render_minion(format, &PLAIN, "m1", &ret);
        assert!(!out.contains('\x1b'), "{format}: {out:?}");
    }
}

/// Returned data cannot send terminal escapes through nested or txt output.
#[test]
fn escape_characters_in_returns_are_neutralised() {
    let ret = json!({"evil\x1b]0;x\x07": "\x1b[2Jgone"});
    let nested = render_minion(OutputFormat::Nested, &PLAIN, "m1", &ret);
    assert_eq!(
        nested,
        "m1:\n    ----------\n    evil?]0;x\x07:\n        ?[2Jgone\n"
    );
    let txt = render_minion(OutputFormat::Txt, &PLAIN, "m1", &json!("\x1b[2Jgone"));
    assert_eq!(txt, "m1: ?[2Jgone\n");
    let coloured = render_minion(OutputFormat::Nested, &COLOR, "m1", &ret);
    assert_eq!(coloured.matches('\x1b').count(), 8, "{coloured:?}");
}

// ---- json -------------------------------------------------------------------

/// samples/test_ping_k10.json: without --static, one object per minion.
#[test]
fn json_per_minion_matches_salt_sample() {
    let order = [
        "m0009", "m0002", "m0001", "m0003", "m0006", "m0007", "m0010", "m0005", "m0004", "m0008",
    ];
    let expected: String = order
        .iter()
        .map(|id| format!("{{\n    \"{id}\": true\n}}\n"))
        .collect();
    assert_eq!(
        per_minion(OutputFormat::Json, &PLAIN, &order, &json!(true)),
        expected
    );
    assert_eq!(
        render_minion(OutputFormat::Json, &PLAIN, "m0001", &json!(true)),
        "{\n    \"m0001\": true\n}\n"
    );
}

/// samples/test_ping_k10_static.json: one object, minions in arrival order.
#[test]
fn json_static_matches_salt_sample() {
    let sample = include_str!("fixtures/test_ping_k10_static.json");
    let returns: Map<String, Value> = serde_json::from_str(sample).expect("sample parses");
    crate::assert_fixture!(
        "src/output/fixtures/test_ping_k10_static.json",
        render_all(OutputFormat::Json, &PLAIN, &returns)
    );
}

/// A state return from samples/jobs_lookup_jid.json, byte for byte: key order
/// kept, empty dicts inline, floats as Python prints them, quotes escaped.
#[test]
fn json_state_return_matches_salt_sample() {
    let sample = include_str!("fixtures/jobs_lookup_jid_state.json");
    let returns: Map<String, Value> = serde_json::from_str(sample).expect("sample parses");
    crate::assert_fixture!(
        "src/output/fixtures/jobs_lookup_jid_state.json",
        render_all(OutputFormat::Json, &PLAIN, &returns)
    );
}

#[test]
fn json_out_indent() {
    let ret = json!({"a": [1, 2.5], "b": null, "c": {}, "d": []});
    // Negative: one line, Python's separators keep a space after , and :.
    assert_eq!(
        render_minion(OutputFormat::Json, &with_indent(-1), "m1", &ret),
        "{\"m1\": {\"a\": [1, 2.5], \"b\": null, \"c\": {}, \"d\": []}}\n"
    );
    // 0: Python still breaks lines, without indentation.
    assert_eq!(
        render_minion(OutputFormat::Json, &with_indent(0), "m1", &ret),
        "{\n\"m1\": {\n\"a\": [\n1,\n2.5\n],\n\"b\": null,\n\"c\": {},\n\"d\": []\n}\n}\n"
    );
    assert_eq!(
        render_minion(OutputFormat::Json, &with_indent(2), "m1", &json!([true])),
        "{\n  \"m1\": [\n    true\n  ]\n}\n"
    );
}

#[test]
fn json_strings_escape_like_python_without_ensure_ascii() {
    let ret = json!("日本 \"q\" \\ \n\t\r\x08\x0c\x1b\x01\x7f\u{2028}");
    assert_eq!(
        render_minion(OutputFormat::Json, &with_indent(-1), "m1", &ret),
        "{\"m1\": \"日本 \\\"q\\\" \\\\ \\n\\t\\r\\b\\f\\u001b\\u0001\x7f\u{2028}\"}\n"
    );
}

#[test]
fn json_floats_use_python_repr() {
    let ret = json!([1e-5, 1e16, 5.0, 0.1, -0.0]);
    assert_eq!(
        render_minion(OutputFormat::Json, &with_indent(-1), "m1", &ret),
        "{\"m1\": [1e-05, 1e+16, 5.0, 0.1, -0.0]}\n"
    );
}

#[test]
fn json_of_nothing_is_an_empty_object() {
    assert_eq!(render_all(OutputFormat::Json, &PLAIN, &Map::new()), "{}\n");
}

// ---- yaml -------------------------------------------------------------------

/// Expected text from PyYAML 6 `safe_dump(data, default_flow_style=False,
/// allow_unicode=True)`, which is what Salt's yaml outputter calls.
#[test]
fn yaml_uses_block_style() {
    assert_eq!(
        render_minion(OutputFormat::Yaml, &PLAIN, "m0001", &json!(true)),
        "m0001: true\n"
    );
    let ret = json!({"pkgs": ["vim", "git"], "empty": {}, "count": 2, "none": null});
    assert_eq!(
        render_minion(OutputFormat::Yaml, &PLAIN, "m1", &ret),
        "m1:\n  count: 2\n  empty: {}\n  none: null\n  pkgs:\n  - vim\n  - git\n"
    );
    // --static: one document, minions sorted like any other dict keys.
    let returns =
        map(json!({"m2": [{"z": 1, "a": 2}], "m1": "Minion did not return. [No response]"}));
    assert_eq!(
        render_all(OutputFormat::Yaml, &PLAIN, &returns),
        "m1: Minion did not return. [No response]\nm2:\n- a: 2\n  z: 1\n"
    );
}

// ---- txt, raw, quiet ----------------------------------------------------

#[test]
fn txt_prints_minion_and_line() {
    let txt = |ret: Value| render_minion(OutputFormat::Txt, &PLAIN, "m1", &ret);
    assert_eq!(txt(json!("hello\nworld\n")), "m1: hello\nm1: world\n");
    assert_eq!(txt(json!(true)), "m1: True\n");
    assert_eq!(txt(json!(null)), "m1: None\n");
    assert_eq!(txt(json!(2.5)), "m1: 2.5\n");
    assert_eq!(
        txt(json!({"a": [1, "b"], "c": "it's"})),
        "m1: {'a': [1, 'b'], 'c': \"it's\"}\n"
    );
    // An empty string has no lines, so nothing at all is printed.
    assert_eq!(txt(json!("")), "");
}

#[test]
fn txt_static_keeps_order() {
    let returns = map(json!({"m2": "up 3 days", "m1": "a\nb", "m3": false}));
    assert_eq!(
        render_all(OutputFormat::Txt, &PLAIN, &returns),
        "m2: up 3 days\nm1: a\nm1: b\nm3: False\n"
    );
}

#[test]
fn raw_prints_python_str_of_the_dict() {
    assert_eq!(
        render_minion(OutputFormat::Raw, &PLAIN, "m1", &json!(true)),
        "{'m1': True}\n"
    );
    let returns = map(
        json!({"myminion": {"foo": {"list": ["Hello", "World"], "bar": "baz",
                                                  "dictionary": {"abc": 123, "def": 456}}}}),
    );
    // The example in the docstring of Salt's raw.py.
    assert_eq!(
        render_all(OutputFormat::Raw, &PLAIN, &returns),
        "{'myminion': {'foo': {'list': ['Hello', 'World'], 'bar': 'baz', \
         'dictionary': {'abc': 123, 'def': 456}}}}\n"
    );
    assert_eq!(render_all(OutputFormat::Raw, &PLAIN, &Map::new()), "{}\n");
}

#[test]
fn quiet_prints_nothing() {
    assert_eq!(
        render_minion(OutputFormat::Quiet, &PLAIN, "m1", &json!({"a": 1})),
        ""
    );
    let returns = map(json!({"m1": true, "m2": false}));
    assert_eq!(render_all(OutputFormat::Quiet, &COLOR, &returns), "");
}

#[test]
fn nothing_to_show_prints_nothing() {
    assert_eq!(render_all(OutputFormat::Nested, &PLAIN, &Map::new()), "");
    assert_eq!(render_all(OutputFormat::Txt, &PLAIN, &Map::new()), "");
}

/// Null, bool and infinite keys (marker keys from the YAML loader) print as
/// Salt 3008.5 printed `pillar.items` for this pillar, in every outputter:
/// `keys: {~: a, yes: b, no: b2, .inf: c, -.inf: c2, .nan: c3, 'null': d,
/// 'True': e, nested: {~: {yes: x}}}` and `bools: {yes: 1, no: 0, .inf: 2}`.
#[test]
fn typed_keys_print_as_salt_prints_them() {
    use crate::typed_key::TypedKey;
    let [null, yes, no] =
        [TypedKey::Null, TypedKey::Bool(true), TypedKey::Bool(false)].map(TypedKey::marker);
    let [inf, ninf, nan] =
        [f64::INFINITY, f64::NEG_INFINITY, f64::NAN].map(|f| TypedKey::Float(f).marker());
    let ret = json!({
        "keys": {
            (null.clone()): "a", (yes.clone()): "b", (no.clone()): "b2", (inf.clone()): "c",
            (ninf): "c2", (nan): "c3", "null": "d", "True": "e",
            "nested": {(null): {(yes.clone()): "x"}},
        },
        "bools": {(yes): 1, (no): 0, (inf): 2},
    });
    let returns = map(json!({"local": ret}));
    let render = |format| render_all(format, &PLAIN, &returns);
    assert_eq!(
        render(OutputFormat::Json),
        r#"{
    "local": {
        "keys": {
            "null": "a",
            "true": "b",
            "false": "b2",
            "Infinity": "c",
            "-Infinity": "c2",
            "NaN": "c3",
            "null": "d",
            "True": "e",
            "nested": {
                "null": {
                    "true": "x"
                }
            }
        },
        "bools": {
            "true": 1,
            "false": 0,
            "Infinity": 2
        }
    }
}
"#
    );
    assert_eq!(
        render(OutputFormat::Nested),
        "local:
    ----------
    bools:
        ----------
        False:
            0
        True:
            1
        inf:
            2
    keys:
        ----------
        -inf:
            c2
        False:
            b2
        None:
            a
        True:
            e
        inf:
            c
        nan:
            c3
        nested:
            ----------
            None:
                ----------
                True:
                    x
        null:
            d
"
    );
    assert_eq!(
        render(OutputFormat::Yaml),
        "local:
  bools:
    false: 0
    true: 1
    .inf: 2
  keys:
    null: a
    true: b
    false: b2
    .inf: c
    -.inf: c2
    .nan: c3
    'null': d
    'True': e
    nested:
      null:
        true: x
"
    );
    let python = "{'keys': {None: 'a', True: 'b', False: 'b2', inf: 'c', -inf: 'c2', nan: 'c3', \
                  'null': 'd', 'True': 'e', 'nested': {None: {True: 'x'}}}, \
                  'bools': {True: 1, False: 0, inf: 2}}";
    assert_eq!(render(OutputFormat::Txt), format!("local: {python}\n"));
    assert_eq!(
        render(OutputFormat::Raw),
        format!("{{'local': {python}}}\n")
    );
}
