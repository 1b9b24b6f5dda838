//! The loader and emitters against answers taken from Salt's loader (PyYAML
//! 6.0.3 `SafeLoader` with `salt/utils/yamlloader.py`'s changes) and from
//! `yaml.dump(..., Dumper=yaml.CSafeDumper, allow_unicode=True,
//! sort_keys=False)`. The expected values are hard-coded here.

use super::*;
use crate::typed_key::TypedKey;
use serde_json::json;

/// Loads `text`, or fails the test naming it.
fn load_ok(text: &str) -> Value {
    match load(text, "test.sls") {
        Ok(value) => value,
        Err(e) => panic!("{text:?} did not load: {e}"),
    }
}

/// Loads `text` expecting an error, and returns its display.
fn load_err(text: &str) -> String {
    match load(text, "test.sls") {
        Ok(value) => panic!("{text:?} loaded as {value}, expected an error"),
        Err(e) => e.to_string(),
    }
}

/// Loads `text` expecting an error, and returns it as PyYAML prints it.
fn pyyaml_err(text: &str) -> String {
    match load(text, "test.sls") {
        Ok(value) => panic!("{text:?} loaded as {value}, expected an error"),
        Err(e) => e.pyyaml_text(),
    }
}

/// PyYAML's mark for a position in a Python string.
fn at(line: usize, column: usize) -> String {
    format!("  in \"<unicode string>\", line {line}, column {column}")
}

/// Each YAML text must load to the JSON given, key order included.
fn assert_loads(cases: &[(&str, &str)]) {
    for (text, expected) in cases {
        let expected: Value = serde_json::from_str(expected).expect("test JSON is valid");
        let got = load_ok(text);
        // `Value`'s equality ignores key order; the printed form does not.
        assert_eq!(got.to_string(), expected.to_string(), "loading {text:?}");
    }
}

// The implicit resolver.

#[test]
fn yaml_11_booleans_but_not_y_and_n() {
    assert_loads(&[
        (
            "[yes, Yes, YES, no, No, NO, true, True, TRUE, false, False, FALSE, on, On, ON, off, Off, OFF]",
            "[true,true,true,false,false,false,true,true,true,false,false,false,true,true,true,false,false,false]",
        ),
        ("[y, n, Y, N, yES, oN]", r#"["y","n","Y","N","yES","oN"]"#),
        (
            "enabled: yes\nkey: on\nother: off",
            r#"{"enabled":true,"key":true,"other":false}"#,
        ),
    ]);
}

#[test]
fn nulls() {
    assert_loads(&[
        (
            "- ~\n- null\n- Null\n- NULL\n-\n- nuLL\n- ''",
            r#"[null,null,null,null,null,"nuLL",""]"#,
        ),
        ("a:\nb: ~", r#"{"a":null,"b":null}"#),
    ]);
}

#[test]
fn ints_with_salts_leading_zero_rule() {
    assert_loads(&[
        ("mode: 0644", r#"{"mode":644}"#),
        ("[00, 0_644, -0644, +0644, 0, -0]", "[0,644,-420,420,0,0]"),
        ("[1_000, 0x1F, 0x_1f, 0b101, +12]", "[1000,31,31,5,12]"),
        ("[1:20, -1:20:30]", "[80,-4830]"),
        // Not ints in YAML 1.1: no octal 8 or 9, no 0o, seconds above 59.
        (
            "[0899, 0o17, 1:70, 0X1F]",
            r#"["0899","0o17","1:70","0X1F"]"#,
        ),
    ]);
}

#[test]
fn ints_beyond_i64() {
    assert_loads(&[(
        "[18446744073709551615, 99999999999999999999999, -9223372036854775808, 9223372036854775808]",
        "[18446744073709551615, 1e23, -9223372036854775808, 9223372036854775808]",
    )]);
}

#[test]
fn floats_need_a_point_and_a_signed_exponent() {
    assert_loads(&[
        (
            "[1.5, .5, -1.5, 1., 1_000.5, 1.0e+3, 6.8523015e+5, 1:20.5, 190:20:30.15]",
            "[1.5, 0.5, -1.5, 1.0, 1000.5, 1000.0, 685230.15, 80.5, 685230.15]",
        ),
        ("[1e3, 1.0e3, -.5, 1E3]", r#"["1e3","1.0e3","-.5","1E3"]"#),
        // JSON has no infinities or NaN.
        (
            "[.inf, -.inf, +.INF, .NaN]",
            r#"[".inf","-.inf",".inf",".nan"]"#,
        ),
    ]);
}

#[test]
fn timestamps_stay_strings() {
    assert_loads(&[(
        "[2001-12-14, 2001-12-14t21:59:43.10-05:00, !!timestamp 2001-01-01]",
        r#"["2001-12-14","2001-12-14t21:59:43.10-05:00","2001-01-01"]"#,
    )]);
}

#[test]
fn quoted_and_block_scalars_are_strings() {
    assert_loads(&[
        (
            r#"['yes', "on", '0644', "1.5", '~', "", 'it''s']"#,
            r#"["yes","on","0644","1.5","~","","it's"]"#,
        ),
        (
            "a: |\n  line one\n  line two\nb: >\n  folded\n  text\nc: |-\n  1\n",
            r#"{"a":"line one\nline two\n","b":"folded text\n","c":"1"}"#,
        ),
        (
            "s: \"caf\\u00e9\\ttab\"\nt: 'plain # not a comment'\nu: plain # comment",
            r#"{"s":"café\ttab","t":"plain # not a comment","u":"plain"}"#,
        ),
    ]);
}

// Tags.

#[test]
fn explicit_tags() {
    assert_loads(&[
        (
            "- !!str 0644\n- !!str yes\n- !!int '0644'\n- !!int \"0x10\"\n- !!float 1\n- !!float '1e3'\n\
             - !!bool 'on'\n- !!bool YeS\n- !!null abc\n- !!python/unicode hi\n- !!str\n\
             - !<tag:yaml.org,2002:str> 12",
            r#"["0644","yes",644,16,1.0,1000.0,true,true,null,"hi","","12"]"#,
        ),
        // The non-specific tag `!` resolves like a plain scalar, even quoted.
        ("[! 123, ! '123']", "[123,123]"),
        ("a: !!map {b: 1}\nc: !!seq [1]", r#"{"a":{"b":1},"c":[1]}"#),
    ]);
}

#[test]
fn binary_decodes_to_a_string() {
    assert_loads(&[(
        "a: !!binary aGVsbG8=\nb: !!binary |\n  aGVs\n  bG8=\n",
        r#"{"a":"hello","b":"hello"}"#,
    )]);
    assert!(load_err("a: !!binary /w==").contains("not valid UTF-8"));
}

#[test]
fn unknown_tags_are_errors_naming_the_tag() {
    assert_eq!(
        load_err("a: !foo x"),
        "test.sls:1:4: could not determine a constructor for the tag '!foo'"
    );
    assert!(load_err("a: !!set {x}").contains("'tag:yaml.org,2002:set' is not supported"));
    assert!(load_err("a: !!str [1]").ends_with("expected a scalar node, but found sequence"));
    assert!(load_err("a: !!map 1").ends_with("expected a mapping node, but found scalar"));
    assert!(load_err("a: !!int abc").ends_with("invalid integer 'abc'"));
    // `=` resolves to the value tag, which has no constructor (except as a key).
    assert!(load_err("a: =").ends_with("the tag 'tag:yaml.org,2002:value'"));
}

// Mappings: keys, duplicates, merges.

#[test]
fn non_string_keys_are_spelled_as_python_prints_them_or_marked() {
    let (null, yes, no) = (
        TypedKey::Null.marker(),
        TypedKey::Bool(true).marker(),
        TypedKey::Bool(false).marker(),
    );
    assert_eq!(
        load(
            "{2: a, 1.5: b, yes: c, ~: d, 0644: e, 2001-01-01: f, 1.0e+20: g, 0x10: h, off: i, '<<': j, =: k}",
            "t"
        ),
        Ok(
            json!({"2": "a", "1.5": "b", (yes): "c", (null.clone()): "d", "644": "e",
            "2001-01-01": "f", "1e+20": "g", "16": "h", (no): "i", "<<": "j", "=": "k"})
        )
    );
    let floats = [f64::INFINITY, f64::NEG_INFINITY, f64::NAN]
        .map(|f| TypedKey::float(f).map(TypedKey::marker).unwrap_or_default());
    assert_eq!(
        load("{.inf: a, -.inf: b, .nan: c}", "t"),
        Ok(json!({(floats[0].clone()): "a", (floats[1].clone()): "b", (floats[2].clone()): "c"}))
    );
    // A null key and the string "null" are two keys, as in Python; an
    // anchor on an empty key is a null key.
    assert_eq!(
        load("{~: a, 'null': b}", "t"),
        Ok(json!({(null.clone()): "a", "null": "b"}))
    );
    assert_eq!(load("{&colorcolumn: 'x'}", "t"), Ok(json!({(null): "x"})));
    // Salt's text for an unrendered `{{ x }}` in YAML, from PyYAML.
    assert_eq!(
        pyyaml_err("a: {{ x }}"),
        format!(
            "while constructing a mapping\n{}\nfound unacceptable key [(ScalarNode(\
             tag='tag:yaml.org,2002:str', value='x'), ScalarNode(tag='tag:yaml.org,2002:null', \
             value=''))]\n{}",
            at(1, 4),
            at(1, 5)
        )
    );
    // Tags pick the constructor (answers from PyYAML).
    assert_eq!(
        pyyaml_err("!!map k: x"),
        format!(
            "while constructing a mapping\nfound unacceptable key k\n{}",
            at(1, 1)
        )
    );
    assert_eq!(
        pyyaml_err("!!str [1]: x"),
        format!("expected a scalar node, but found sequence\n{}", at(1, 1))
    );
    assert_eq!(
        pyyaml_err("a: !!map x\nb: {c: 1, c: 2}"),
        format!("expected a mapping node, but found scalar\n{}", at(1, 4))
    );
    assert!(load_err("[1, 2]: x").contains(
        "found unacceptable key [ScalarNode(tag='tag:yaml.org,2002:int', value='1'), \
         ScalarNode(tag='tag:yaml.org,2002:int', value='2')]"
    ));
}

#[test]
fn duplicate_keys_name_the_key_and_its_position() {
    assert_eq!(
        load_err("x:\n  y:\n    foo: 1\n    bar: 2\n    foo: 3\n"),
        "test.sls:5:5: while constructing a mapping, found conflicting ID 'foo'"
    );
    assert_eq!(
        pyyaml_err("x:\n  y:\n    foo: 1\n    bar: 2\n    foo: 3\n"),
        format!(
            "while constructing a mapping\n{}\nfound conflicting ID 'foo'\n{}",
            at(3, 5),
            at(5, 5)
        )
    );
    // Python's dict sees 1 and true as the same key.
    assert_eq!(
        pyyaml_err("1: a\ntrue: b"),
        format!(
            "while constructing a mapping\n{}\nfound conflicting ID 'True'\n{}",
            at(1, 1),
            at(2, 1)
        )
    );
    // Python would keep both; our string-keyed map cannot.
    assert_eq!(
        load_err("1: a\n'1': b"),
        "test.sls:2:1: while constructing a mapping, found conflicting ID '1'"
    );
}

/// Past 16 keys duplicates are found by hashing: the same answers.
#[test]
fn duplicate_keys_in_a_large_mapping() {
    let keys: String = (0..20).map(|i| format!("k{i}: {i}\n")).collect();
    assert_eq!(load_ok(&keys).as_object().map(|m| m.len()), Some(20));
    for (late, line) in [
        ("k3: x\n", 21),
        ("1.0: x\n2: y\n1: z\n", 23),
        ("'2': x\n2: y\n", 22),
    ] {
        let text = format!("{keys}{late}");
        let err = load_err(&text);
        assert!(
            err.starts_with(&format!(
                "test.sls:{line}:1: while constructing a mapping, found conflicting ID"
            )),
            "{text:?}: {err}"
        );
    }
}

#[test]
fn merge_keys() {
    assert_loads(&[
        // An explicit key drops the merged one; merged entries come first.
        (
            "base: &base\n  a: 1\n  b: 2\nchild:\n  <<: *base\n  b: 3\n  c: 4",
            r#"{"base":{"a":1,"b":2},"child":{"a":1,"b":3,"c":4}}"#,
        ),
        (
            "b: &b {c: 3}\nx: {a: 1, <<: *b}",
            r#"{"b":{"c":3},"x":{"c":3,"a":1}}"#,
        ),
        // A list of sources is merged last source first.
        (
            "a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: [*a, *b]\n  z: 3",
            r#"{"a":{"x":1},"b":{"y":2},"c":{"y":2,"x":1,"z":3}}"#,
        ),
        // A source's own merges are flattened first.
        (
            "a: &a {x: 1, <<: {w: 0}}\nc:\n  <<: *a\n  y: 2",
            r#"{"a":{"w":0,"x":1},"c":{"w":0,"x":1,"y":2}}"#,
        ),
        (
            "a: &a {x: 1}\nb: &b {x: 2}\nc:\n  <<: [*a, *b]\n  x: 9",
            r#"{"a":{"x":1},"b":{"x":2},"c":{"x":9}}"#,
        ),
    ]);
}

#[test]
fn merge_errors() {
    // Two sources giving the same key: Salt's duplicate check sees both.
    assert_eq!(
        pyyaml_err("a: &a {x: 1}\nb: &b {x: 2}\nc:\n  <<: [*a, *b]"),
        format!(
            "while constructing a mapping\n{}\nfound conflicting ID 'x'\n{}",
            at(4, 3),
            at(1, 8)
        )
    );
    assert_eq!(
        pyyaml_err("<<: 1"),
        format!(
            "while constructing a mapping\n{}\n\
             expected a mapping or list of mappings for merging, but found scalar\n{}",
            at(1, 1),
            at(1, 5)
        )
    );
    assert_eq!(
        pyyaml_err("<<: [{a: 1}, 2]"),
        format!(
            "while constructing a mapping\n{}\nexpected a mapping for merging, but found scalar\n{}",
            at(1, 1),
            at(1, 14)
        )
    );
}

#[test]
fn anchors_and_aliases() {
    assert_loads(&[(
        "a: &x [1, {b: 2}]\nc: *x",
        r#"{"a":[1,{"b":2}],"c":[1,{"b":2}]}"#,
    )]);
    assert_eq!(
        pyyaml_err("a: &x 1\nb: *x\nc: &x 2\nd: *x"),
        format!(
            "found duplicate anchor; first occurrence\n{}\nsecond occurrence\n{}",
            at(1, 4),
            at(3, 4)
        )
    );
    assert_eq!(
        load_err("a: &x [1, *x]"),
        "test.sls:1:11: found recursive alias"
    );
    assert_eq!(
        pyyaml_err("a: [1, *nope]"),
        format!("found undefined alias\n{}", at(1, 8))
    );
}

#[test]
fn alias_bombs_and_deep_nesting_are_refused() {
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..=8 {
        let below = format!("*a{}", level - 1);
        let items = [below.as_str(); 10].join(", ");
        bomb.push_str(&format!("a{level}: &a{level} [{items}]\n"));
    }
    assert!(load_err(&bomb).contains("expands to more than"));
    let deep = format!("{}x", "- ".repeat(compose::MAX_DEPTH + 1));
    assert!(load_err(&deep).contains("nested deeper than"));
}

// Documents, streams and errors.

#[test]
fn documents() {
    assert_loads(&[
        ("", "null"),
        ("# only a comment\n", "null"),
        ("---\n", "null"),
        ("hello", r#""hello""#),
        ("1", "1"),
        ("\u{feff}a: 1", r#"{"a":1}"#),
    ]);
    assert_eq!(
        pyyaml_err("# c\n---\na: 1\n---\nb: 2\n"),
        format!(
            "expected a single document in the stream\n{}\nbut found another document\n{}",
            at(3, 1),
            at(4, 1)
        )
    );
    assert_eq!(
        pyyaml_err("a: \u{1}"),
        "unacceptable character #x0001: control characters are not allowed\n  \
         in \"<unicode string>\", position 3"
    );
    assert_eq!(
        pyyaml_err("a: 1\n---\nb: 2\n"),
        format!(
            "expected a single document in the stream\n{}\nbut found another document\n{}",
            at(1, 1),
            at(2, 1)
        )
    );
}

#[test]
fn load_all_reads_every_document() {
    let documents = load_all("a: 1\n---\nb: 2\n", "x").expect("loads");
    assert_eq!(
        documents,
        vec![serde_json::json!({"a": 1}), serde_json::json!({"b": 2})]
    );
    assert_eq!(
        load_all("---\n---\n", "x").expect("loads"),
        vec![Value::Null, Value::Null]
    );
    assert!(load_all("", "x").expect("loads").is_empty());
    assert!(load_all("a: 1\n---\na: 2\na: 3\n", "x").is_err());
}

#[test]
fn syntax_errors_carry_their_position() {
    let error = load("a: b: c", "/srv/salt/top.sls").expect_err("bad syntax");
    assert_eq!((error.line, error.column), (1, 5));
    assert_eq!(error.source_name, "/srv/salt/top.sls");
    assert_eq!(
        error.to_string(),
        "/srv/salt/top.sls:1:5: mapping values are not allowed in this context"
    );
}

/// Syntax errors are libyaml's, word for word, as PyYAML's C loader raises
/// them (answers from `yaml.load(text, Loader=yaml.CSafeLoader)`).
#[test]
fn syntax_errors_are_libyamls() {
    let cases: &[(&str, &str)] = &[
        (
            "a: \"unclosed",
            "while scanning a quoted scalar\n@1:4\nfound unexpected end of stream\n@1:13",
        ),
        (
            "x:\n  y: 1\n z: 2",
            "while parsing a block mapping\n@1:1\ndid not find expected key\n@3:2",
        ),
        (
            "{a: 1",
            "while parsing a flow mapping\n@1:1\ndid not find expected ',' or '}'\n@2:1",
        ),
        (
            "a:\n  - b\n  c: d",
            "while parsing a block collection\n@2:3\ndid not find expected '-' indicator\n@3:3",
        ),
        (
            "a: @x",
            "while scanning for the next token\nfound character that cannot start any token\n@1:4",
        ),
        (
            "x:\n\ty",
            "while scanning for the next token\nfound character that cannot start any token\n@2:1",
        ),
        (
            "%FOO\n---\na",
            "while scanning a directive\n@1:1\nfound unknown directive name\n@1:5",
        ),
        (
            "[:x]",
            "while parsing a flow node\ndid not find expected node content\n@1:2",
        ),
    ];
    for (text, expected) in cases {
        let expected = expected
            .split('\n')
            .map(|line| match line.strip_prefix('@') {
                Some(mark) => {
                    let (line, column) = mark.split_once(':').expect("line:column");
                    at(line.parse().expect("line"), column.parse().expect("column"))
                }
                None => line.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(pyyaml_err(text), expected, "loading {text:?}");
    }
    let error = load("a: b: c", "x").expect_err("bad syntax");
    assert_eq!(error.kind, YamlErrorKind::Scanner);
}

/// What libyaml accepts and yaml-rust2 (YAML 1.2's stricter indentation)
/// refused: continuation lines of quoted scalars and flow collections less
/// indented than their key, as `|yaml` and `yaml_encode` output wraps them
/// (postgres-formula, logrotate-formula). Answers from PyYAML.
#[test]
fn flow_continuation_lines_may_be_less_indented() {
    assert_loads(&[
        ("a:\n  b: \"x\nyy\"", r#"{"a":{"b":"x yy"}}"#),
        (
            "a:\n  b:\n    c: [[1, 2], [3,\n  4]]",
            r#"{"a":{"b":{"c":[[1,2],[3,4]]}}}"#,
        ),
        ("[a -]", r#"["a -"]"#),
        ("a: !!str", r#"{"a":""}"#),
        ("a: &x", r#"{"a":null}"#),
    ]);
}

/// Windows line ends: the values and marks libyaml gives (libyaml-safer
/// 0.1.1 counted each CRLF twice; vendor/libyaml-safer/BRINE-PATCH.md).
#[test]
fn crlf_line_ends_count_once() {
    assert_loads(&[(
        "a: \"x\r\n  y\"\r\nb: |\r\n  l1\r\n  l2\r\n",
        r#"{"a":"x y","b":"l1\nl2\n"}"#,
    )]);
    assert_eq!(
        pyyaml_err("a: 1\r\nb: 2\r\nc: d: e\r\n"),
        format!(
            "mapping values are not allowed in this context\n{}",
            at(3, 5)
        )
    );
    assert!(pyyaml_err("a:\r\n \u{0}").ends_with("position 5"));
}

/// PyYAML fills nested collections level by level, so a duplicate key at
/// the top is reported before any error deeper down (answers from Salt).
#[test]
fn errors_come_in_pyyamls_level_order() {
    assert_eq!(
        pyyaml_err("x:\n  a: {b: 1, b: 2}\nx: 2\n"),
        format!(
            "while constructing a mapping\n{}\nfound conflicting ID 'x'\n{}",
            at(1, 1),
            at(3, 1)
        )
    );
    assert_eq!(
        pyyaml_err("- [[{a: 1, a: 2}]]\n- {b: 1, b: 2}\n"),
        format!(
            "while constructing a mapping\n{}\nfound conflicting ID 'b'\n{}",
            at(2, 3),
            at(2, 10)
        )
    );
}

/// Texts on which libyaml-safer 0.1.1 panicked (BRINE-PATCH.md), with
/// PyYAML's answers.
#[test]
fn texts_that_crashed_the_libyaml_port() {
    assert_loads(&[
        ("a: |\n  x", r#"{"a":"x"}"#),
        ("a: >-\n  x\n  y", r#"{"a":"x y"}"#),
        ("a: |", r#"{"a":""}"#),
        ("- |+\n  x\n\n", r#"["x\n\n"]"#),
        ("[!!str, x]", r#"["","x"]"#),
        ("\u{ff01}: x", r#"{"\uff01":"x"}"#),
        ("{!!str : x}", r#"{"":"x"}"#),
    ]);
    assert!(pyyaml_err("\u{feff}a: \u{7}").ends_with("position 6"));
    assert!(
        pyyaml_err("a: !x' 1").starts_with("could not determine a constructor for the tag \"!x'\"")
    );
    assert_eq!(
        pyyaml_err("a: \"\\"),
        format!(
            "while parsing a quoted scalar\n{}\nfound unknown escape character\n{}",
            at(1, 4),
            at(1, 5)
        )
    );
}

#[test]
fn a_typical_sls() {
    assert_loads(&[(
        "nginx:\n  pkg.installed:\n    - name: nginx\n    - version: 1.18\n  service.running:\n\
         \x20   - enable: True\n    - watch:\n      - file: /etc/nginx/nginx.conf\n\
         /etc/nginx/nginx.conf:\n  file.managed:\n    - mode: 0644\n    - user: root\n",
        r#"{"nginx":{"pkg.installed":[{"name":"nginx"},{"version":1.18}],
            "service.running":[{"enable":true},{"watch":[{"file":"/etc/nginx/nginx.conf"}]}]},
            "/etc/nginx/nginx.conf":{"file.managed":[{"mode":644},{"user":"root"}]}}"#,
    )]);
}

// Emitting.

/// Each JSON value must dump to the block and flow texts given.
fn assert_dumps(cases: &[(&str, &str, &str)]) {
    for (json, block, flow) in cases {
        let value: Value = serde_json::from_str(json).expect("test JSON is valid");
        assert_eq!(dump_block(&value), *block, "dump_block of {json}");
        assert_eq!(dump_flow(&value), *flow, "dump_flow of {json}");
    }
}

#[test]
fn dumps_collections() {
    assert_dumps(&[
        (
            r#"{"a": 1, "b": [1, 2], "c": {"d": null, "e": true, "f": false}}"#,
            "a: 1\nb:\n- 1\n- 2\nc:\n  d: null\n  e: true\n  f: false\n",
            "{a: 1, b: [1, 2], c: {d: null, e: true, f: false}}",
        ),
        ("{}", "{}\n", "{}"),
        ("[]", "[]\n", "[]"),
        (r#"{"a": {}, "b": []}"#, "a: {}\nb: []\n", "{a: {}, b: []}"),
        (
            r#"[[1, [2, 3]], {"a": [1, {"b": [2]}]}, [{"x": 1, "y": 2}]]"#,
            "- - 1\n  - - 2\n    - 3\n- a:\n  - 1\n  - b:\n    - 2\n- - x: 1\n    y: 2\n",
            "[[1, [2, 3]], {a: [1, {b: [2]}]}, [{x: 1, y: 2}]]",
        ),
        (r#""abc""#, "abc\n", "abc"),
        ("null", "null\n", "null"),
        ("42", "42\n", "42"),
    ]);
}

#[test]
fn dumps_numbers_as_python_does() {
    assert_dumps(&[(
        "[1.0, 1.5, 1e17, 1e-05, -0.0, 0.1, 18446744073709551615, -5]",
        "- 1.0\n- 1.5\n- 1.0e+17\n- 1.0e-05\n- -0.0\n- 0.1\n- 18446744073709551615\n- -5\n",
        "[1.0, 1.5, 1.0e+17, 1.0e-05, -0.0, 0.1, 18446744073709551615, -5]",
    )]);
}

#[test]
fn quotes_strings_that_would_read_back_as_something_else() {
    assert_dumps(&[(
        r#"["yes", "on", "No", "0644", "1.5", "null", "~", "", "1e3", "0899", "y", "<<", "=", "2001-12-14", "0x1F", "1:20", ".inf"]"#,
        "- 'yes'\n- 'on'\n- 'No'\n- '0644'\n- '1.5'\n- 'null'\n- '~'\n- ''\n- 1e3\n- 0899\n- y\n- '<<'\n\
         - '='\n- '2001-12-14'\n- '0x1F'\n- '1:20'\n- '.inf'\n",
        "['yes', 'on', 'No', '0644', '1.5', 'null', '~', '', 1e3, 0899, y, '<<', '=', '2001-12-14',\n  \
         '0x1F', '1:20', '.inf']",
    )]);
}

#[test]
fn quotes_strings_with_indicators() {
    assert_dumps(&[(
        r##"["a: b", "a:b", "- x", "-x", "#c", "x #c", "x#c", " lead", "trail ", "it's", "@x", "`x", "%x", "!x", "&x", "*x", "|x", ">x", "[x", "{x", "x]", "x,y", "?x", "? x", ":x", "---", "...", "'q'", "\"q\""]"##,
        "- 'a: b'\n- a:b\n- '- x'\n- -x\n- '#c'\n- 'x #c'\n- x#c\n- ' lead'\n- 'trail '\n- it's\n- '@x'\n\
         - '`x'\n- '%x'\n- '!x'\n- '&x'\n- '*x'\n- '|x'\n- '>x'\n- '[x'\n- '{x'\n- x]\n- x,y\n- ?x\n\
         - '? x'\n- :x\n- '---'\n- '...'\n- '''q'''\n- '\"q\"'\n",
        "['a: b', 'a:b', '- x', -x, '#c', 'x #c', x#c, ' lead', 'trail ', it's, '@x', '`x',\n  \
         '%x', '!x', '&x', '*x', '|x', '>x', '[x', '{x', 'x]', 'x,y', '?x', '? x', ':x',\n  \
         '---', '...', '''q''', '\"q\"']",
    )]);
}

#[test]
fn escapes_what_libyaml_escapes() {
    assert_dumps(&[(
        "[\"caf\u{e9} \u{65e5}\u{672c}\", \"tab\\there\", \"\u{1F600}\", \"nul\\u0000\", \"bell\\u0007\", \
         \"\u{feff}bom\", \"nel\u{85}\", \"nbsp\u{a0}\"]",
        "- caf\u{e9} \u{65e5}\u{672c}\n- \"tab\\there\"\n- \"\\U0001F600\"\n- \"nul\\0\"\n- \"bell\\a\"\n\
         - \"\\uFEFFbom\"\n- \"nel\\N\"\n- nbsp\u{a0}\n",
        "[caf\u{e9} \u{65e5}\u{672c}, \"tab\\there\", \"\\U0001F600\", \"nul\\0\", \"bell\\a\", \
         \"\\uFEFFbom\", \"nel\\N\", nbsp\u{a0}]",
    )]);
}

#[test]
fn multi_line_strings() {
    assert_dumps(&[
        (
            r#"{"text": "line one\nline two\n", "two": "a\n\nb", "lead": "\nx", "trailsp": "a \nb", "indented": "a\n b"}"#,
            "text: 'line one\n\n  line two\n\n  '\ntwo: 'a\n\n\n  b'\nlead: '\n\n  x'\ntrailsp: \"a \\nb\"\n\
             indented: \"a\\n b\"\n",
            "{text: 'line one\n\n    line two\n\n    ', two: 'a\n\n\n    b', lead: '\n\n    x', \
             trailsp: \"a \\nb\", indented: \"a\\n b\"}",
        ),
        (
            r#""multi\nline""#,
            "'multi\n\n  line'\n",
            "'multi\n\n  line'",
        ),
    ]);
}

#[test]
fn wraps_long_lines_at_80_columns() {
    let words = vec!["word"; 30].join(" ");
    let items: Vec<String> = (0..30).map(|i| format!("\"item{i:02}\"")).collect();
    assert_dumps(&[
        (
            &format!(r#"{{"k": "{words}"}}"#),
            "k: word word word word word word word word word word word word word word word word\n  \
             word word word word word word word word word word word word word word\n",
            "{k: word word word word word word word word word word word word word word word word\n    \
             word word word word word word word word word word word word word word}",
        ),
        (
            &format!(
                r#"{{"k": "tab\tand a long double quoted string {}"}}"#,
                vec!["word"; 20].join(" ")
            ),
            "k: \"tab\\tand a long double quoted string word word word word word word word word word\n  \
             word word word word word word word word word word word\"\n",
            "{k: \"tab\\tand a long double quoted string word word word word word word word word\n    \
             word word word word word word word word word word word word\"}",
        ),
        (
            &format!("[{}]", items.join(", ")),
            &(0..30)
                .map(|i| format!("- item{i:02}\n"))
                .collect::<String>(),
            "[item00, item01, item02, item03, item04, item05, item06, item07, item08, item09, item10,\n  \
             item11, item12, item13, item14, item15, item16, item17, item18, item19, item20,\n  \
             item21, item22, item23, item24, item25, item26, item27, item28, item29]",
        ),
    ]);
}

#[test]
fn complex_keys() {
    let long = "k".repeat(129);
    assert_dumps(&[
        (
            &format!(r#"{{"{long}": 1, "short": 2}}"#),
            &format!("? {long}\n: 1\nshort: 2\n"),
            &format!("{{? {long}\n  : 1, short: 2}}"),
        ),
        (
            r#"{"multi\nline": 1}"#,
            "? 'multi\n\n  line'\n: 1\n",
            "{? 'multi\n\n    line' : 1}",
        ),
        (r#"{"": "empty key"}"#, "'': empty key\n", "{'': empty key}"),
    ]);
}

#[test]
fn dumps_a_state_return() {
    assert_dumps(&[(
        r#"{"minion": {"file_|-/etc/motd_|-/etc/motd_|-managed": {"result": true, "comment": "File /etc/motd updated", "changes": {"diff": "---\n+++\n@@ -1 +1 @@\n-old\n+new\n"}}}}"#,
        "minion:\n  file_|-/etc/motd_|-/etc/motd_|-managed:\n    result: true\n    comment: File /etc/motd updated\n    \
         changes:\n      diff: '---\n\n        +++\n\n        @@ -1 +1 @@\n\n        -old\n\n        +new\n\n        '\n",
        "{minion: {file_|-/etc/motd_|-/etc/motd_|-managed: {result: true, comment: File /etc/motd\n        \
         updated, changes: {diff: '---\n\n          +++\n\n          @@ -1 +1 @@\n\n          -old\n\n          \
         +new\n\n          '}}}}",
    )]);
}

#[test]
fn dumped_values_load_back() {
    let value = serde_json::json!({
        "strings": ["yes", "0644", "", "a: b", "multi\nline\n", " padded ", "é", "\u{1F600}"],
        "numbers": [1, -2, 1.5, 1e17],
        "nested": {"list": [[], {}], "null": null, "bool": false},
    });
    assert_eq!(load_ok(&dump_block(&value)), value);
    assert_eq!(load_ok(&dump_flow(&value)), value);
}

#[test]
fn top_level_keys_that_are_not_strings_are_reported_with_their_python_type() {
    let text = "123: a\nname: b\n1.5: c\n~: d\n'7': e\nyes: f\n";
    let (value, keys) = super::load_with_top_key_types(text, "<t>").expect("loads");
    assert_eq!(value["123"], serde_json::json!("a"));
    let seen: Vec<(&str, &str, &str)> = keys
        .iter()
        .map(|k| (k.key.as_str(), k.shown.as_str(), k.type_name))
        .collect();
    assert_eq!(
        seen,
        [
            ("123", "123", "int"),
            ("1.5", "1.5", "float"),
            ("\u{FFFF}null", "None", "NoneType"),
            ("\u{FFFF}true", "True", "bool"),
        ]
    );
    let (_, none) = super::load_with_top_key_types("- 1\n- 2\n", "<t>").expect("loads");
    assert!(none.is_empty());
}

#[test]
fn dump_block_ascii_escapes_non_ascii_as_pyyaml_without_allow_unicode() {
    let value = serde_json::json!({
        "a": "café", "b": "日本", "c": "a é b", "d": "😀", "e": ["ü"], "ké": 1, "f": "plain"
    });
    assert_eq!(
        super::dump_block_ascii(&value),
        "a: \"caf\\xE9\"\nb: \"\\u65E5\\u672C\"\nc: \"a \\xE9 b\"\nd: \"\\U0001F600\"\ne:\n- \"\\xFC\"\n\"k\\xE9\": 1\nf: plain\n"
    );
    assert_eq!(
        super::dump_block(&serde_json::json!({"a": "café"})),
        "a: café\n"
    );
}

/// The reader decodes a long text 16 KiB at a time: characters cut by a
/// chunk's end, values across the cut and an error mark past it come out
/// as from one piece.
#[test]
fn a_long_text_reads_across_chunks() {
    let mut text = String::new();
    let mut expected = serde_json::Map::new();
    let mut i = 0;
    while text.len() < 50_000 {
        // Three-byte characters at every offset modulo 3 sooner or later
        // straddle a 16,384-byte boundary.
        let value = format!("日本{}é€{}", "x".repeat(i % 7), i);
        text.push_str(&format!("k{i}: {value}\n"));
        expected.insert(format!("k{i}"), Value::String(value));
        i += 1;
    }
    assert_eq!(load_ok(&text), Value::Object(expected));
    let lines = text.lines().count();
    text.push_str("bad: [\n");
    let error = pyyaml_err(&text);
    assert!(
        error.contains(&format!("line {}", lines + 2)),
        "an error past the chunks names its line: {error}"
    );
}
