//! Rendering tests against an in-memory host.

use std::path::PathBuf;

use brine_common::ids::{RelPath, SaltEnv};
use serde_json::{Map, Value, json};

use super::*;
use crate::host::StateHost;
use crate::testfiles::MemFiles;

/// A host with fixed grains, pillar and opts, files in memory, and a few
/// execution functions (`test.echo`, `test.fail`).
#[derive(Default)]
struct MemHost {
    grains: Map<String, Value>,
    pillar: Map<String, Value>,
    opts: Map<String, Value>,
    files: MemFiles,
}

impl MemHost {
    fn new() -> MemHost {
        MemHost {
            grains: map(
                json!({"os": "Debian", "os_family": "Debian", "osmajorrelease": 12, "id": "web1"}),
            ),
            pillar: map(
                json!({"apache": {"port": 8080, "modules": ["ssl"]}, "master": {"m": "from-master"}}),
            ),
            opts: map(json!({"id": "web1", "shared": "from-opts"})),
            files: MemFiles::default(),
        }
    }

    fn file(mut self, path: &str, text: &str) -> MemHost {
        self.files.insert(path, text);
        self
    }
}

fn map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl StateHost for MemHost {
    fn call(
        &self,
        fun: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Result<Value, String> {
        match fun {
            "test.echo" => Ok(json!({"args": args, "kwargs": kwargs})),
            "test.fail" => Err("it failed".to_owned()),
            // Shallow stand-ins for the minion's functions: what matters
            // here is that the renderer sends them and uses the answer.
            "slsutil.update" | "defaults.update" => match (args.first(), args.get(1)) {
                (Some(Value::Object(dest)), Some(Value::Object(upd))) => {
                    let mut dest = dest.clone();
                    dest.extend(upd.clone());
                    Ok(Value::Object(dest))
                }
                _ => Err("two dicts needed".to_owned()),
            },
            "config.get" => Ok(json!({"host": args, "kwargs": kwargs})),
            _ => Err(format!("'{fun}' is not available.")),
        }
    }

    fn has_function(&self, fun: &str) -> bool {
        matches!(
            fun,
            "test.echo" | "test.fail" | "slsutil.update" | "defaults.update" | "config.get"
        )
    }

    fn grains(&self) -> Map<String, Value> {
        self.grains.clone()
    }

    fn pillar(&self) -> Map<String, Value> {
        self.pillar.clone()
    }

    fn opts(&self) -> Map<String, Value> {
        self.opts.clone()
    }

    fn read_file(&self, saltenv: &SaltEnv, path: &RelPath) -> Result<Option<Vec<u8>>, String> {
        Ok(self.files.read(saltenv, path))
    }

    fn cache_file(&self, _saltenv: &SaltEnv, path: &RelPath) -> Result<PathBuf, String> {
        Err(format!("no cache for {path}"))
    }

    fn list_files(&self, saltenv: &SaltEnv) -> Result<Vec<RelPath>, String> {
        Ok(self.files.list(saltenv))
    }

    fn environments(&self) -> Vec<SaltEnv> {
        self.files.environments()
    }
}

fn sls<'a>(name: &'a str, path: &'a str) -> SlsSource<'a> {
    SlsSource {
        saltenv: "base",
        sls: name,
        path,
    }
}

fn render(host: &MemHost, text: &str) -> Result<Value, RenderError> {
    render_sls(host, &sls("apache.config", "apache/config.sls"), text)
}

fn text(host: &MemHost, template: &str) -> String {
    let context = TemplateContext {
        saltenv: "base".into(),
        sls: "apache".into(),
        path: "apache/files/x.conf".into(),
        ..Default::default()
    };
    match render_template(host, template, &context) {
        Ok(out) => out,
        Err(e) => panic!("render failed: {e}"),
    }
}

fn ok(result: Result<Value, RenderError>) -> Value {
    match result {
        Ok(value) => value,
        Err(e) => panic!("render failed: {e}"),
    }
}

fn err(result: Result<Value, RenderError>) -> String {
    match result {
        Ok(value) => panic!("expected an error, got {value}"),
        Err(e) => e.message,
    }
}

#[test]
fn render_default_pipeline_is_jinja_then_yaml() {
    let host = MemHost::new();
    let out = ok(render(
        &host,
        "pkg-{{ grains['os'] }}:\n  pkg.installed:\n    - name: apache2\n",
    ));
    assert_eq!(
        out,
        json!({"pkg-Debian": {"pkg.installed": [{"name": "apache2"}]}})
    );
}

#[test]
fn render_shebangs_choose_the_pipeline() {
    let host = MemHost::new();
    assert_eq!(
        ok(render(&host, "#!yaml\na: '{{ x }}'\n")),
        json!({"a": "{{ x }}"})
    );
    assert_eq!(
        ok(render(
            &host,
            "#!jinja|json\n{\"a\": \"{{ grains.id }}\"}\n"
        )),
        json!({"a": "web1"})
    );
    assert_eq!(ok(render(&host, "#!json\n{\"a\": 1}")), json!({"a": 1}));
    assert_eq!(
        ok(render(&host, "#!yaml_jinja\na: {{ 1 + 1 }}\n")),
        json!({"a": 2})
    );
    assert_eq!(ok(render(&host, "  \n")), json!({}));
}

#[test]
fn shebang_reads_the_pipeline_of_the_first_line_only() {
    assert_eq!(shebang("#!jinja|yaml\na: 1\n"), Some("jinja|yaml"));
    assert_eq!(shebang("#! json \n{}"), Some("json"));
    assert_eq!(shebang("#!/bin/sh\necho\n"), None);
    assert_eq!(shebang("a: 1\n#!yaml\n"), None);
    assert_eq!(shebang(""), None);
}

#[test]
fn render_data_adds_the_callers_names_to_every_pipeline() {
    let host = MemHost::new();
    let context = map(json!({"tag": "myapp/go", "data": {"who": "m1"}}));
    let source = sls("", "/srv/reactor/go.sls");
    let data = |text: &str| render_data(&host, &source, text, &context);
    assert_eq!(
        ok(data("a: {{ tag }}\nb: {{ data.who }}\n")),
        json!({"a": "myapp/go", "b": "m1"})
    );
    assert_eq!(
        ok(data("#!jinja|json\n{\"a\": \"{{ tag }}\"}\n")),
        json!({"a": "myapp/go"})
    );
    assert_eq!(
        ok(data("#!yaml\na: '{{ tag }}'\n")),
        json!({"a": "{{ tag }}"})
    );
    let message = err(data("#!py\ndef run():\n    return {}\n"));
    assert!(
        message.contains("The renderer \"py\" is not available (in /srv/reactor/go.sls)"),
        "{message}"
    );
}

#[test]
fn render_unknown_renderer_is_a_clear_error() {
    let message = err(render(&MemHost::new(), "#!jinja|mako\na: 1\n"));
    assert!(
        message.contains("The renderer \"mako\" is not available"),
        "{message}"
    );
    assert!(message.contains("salt://apache/config.sls"), "{message}");
    let message = err(render(&MemHost::new(), "#!yaml|jinja\na: 1\n"));
    assert!(message.contains("text renderer"), "{message}");
}

#[test]
fn render_context_names_match_salt() {
    let host = MemHost::new();
    let template = "a: {{ [sls, slspath, sls_path, slsdotpath, slscolonpath, tpldir, tplfile, tpldot, saltenv, opts.id] | tojson }}\n";
    let out = ok(render_sls(
        &host,
        &sls("web.apache.conf", "web/apache/conf.sls"),
        template,
    ));
    assert_eq!(
        out["a"],
        json!([
            "web.apache.conf",
            "web/apache",
            "web_apache",
            "web.apache",
            "web:apache",
            "web/apache",
            "web/apache/conf.sls",
            "web.apache",
            "base",
            "web1"
        ])
    );
    let out = ok(render_sls(
        &host,
        &sls("web", "web/init.sls"),
        "a: {{ [slspath, tpldir, tplfile] | tojson }}\n",
    ));
    assert_eq!(out["a"], json!(["web", "web", "web/init.sls"]));
    let out = ok(render_sls(
        &host,
        &sls("top", "top.sls"),
        "a: {{ [slspath, tpldir, tpldot] | tojson }}\n",
    ));
    assert_eq!(out["a"], json!(["", ".", ""]));
}

#[test]
fn render_salt_functions_go_to_the_host() {
    let host = MemHost::new();
    let out = ok(render(
        &host,
        "a: {{ salt['test.echo'](1, k='v') | json }}\nb: {{ salt.test.echo(2) | json }}\n",
    ));
    assert_eq!(out["a"], json!({"args": [1], "kwargs": {"k": "v"}}));
    assert_eq!(out["b"]["args"], json!([2]));
}

#[test]
fn render_missing_salt_function_is_named_in_the_error() {
    let message = err(render(
        &MemHost::new(),
        "a: 1\nb: {{ salt['nope.fun']() }}\n",
    ));
    assert!(
        message.starts_with(
            "Jinja variable 'salt.utils.templates.AliasedLoader object' has no attribute \
             'nope.fun'; line 2\n\n---\n"
        ),
        "{message}"
    );
    let message = err(render(&MemHost::new(), "b: {{ salt['test.fail']() }}\n"));
    assert!(message.contains("it failed"), "{message}");
}

#[test]
fn render_builtin_pillar_grains_and_config_get() {
    let host = MemHost::new();
    let template = concat!(
        "a: {{ salt['pillar.get']('apache:port') }}\n",
        "b: {{ salt['pillar.get']('apache:nope', 'dflt') }}\n",
        "c: {{ salt['pillar.get']('apache:modules:0') }}\n",
        "d: {{ salt['grains.get']('os') }}\n",
        "e: {{ salt['grains.get']('nope') | tojson }}\n",
        "f: {{ salt['config.get']('shared') }}\n",
        "g: {{ salt['config.get']('os') }}\n",
        "h: {{ salt['config.get']('apache:port') }}\n",
        "i: {{ salt['config.get']('m', default='x') }}\n",
        "j: {{ salt['pillar.get']('apache', {'user': 'www'}, merge=True) | json }}\n",
    );
    let out = ok(render(&host, template));
    assert_eq!(out["a"], json!(8080));
    assert_eq!(out["b"], json!("dflt"));
    assert_eq!(out["c"], json!("ssl"));
    assert_eq!(out["d"], json!("Debian"));
    assert_eq!(out["e"], json!(""));
    assert_eq!(out["f"], json!("from-opts"));
    assert_eq!(out["g"], json!("Debian"));
    assert_eq!(out["h"], json!(8080));
    assert_eq!(out["i"], json!("from-master"));
    assert_eq!(
        out["j"],
        json!({"modules": ["ssl"], "port": 8080, "user": "www"})
    );
}

#[test]
fn render_grains_filter_by_and_defaults_merge() {
    let host = MemHost::new();
    let template = concat!(
        "{% set t = {'Debian': {'pkg': 'apache2'}, 'RedHat': {'pkg': 'httpd'}, 'default': {'pkg': 'x'}, 'base': {'port': 80, 'pkg': 'b'}} %}\n",
        "a: {{ salt['grains.filter_by'](t) | json }}\n",
        "b: {{ salt['grains.filter_by'](t, grain='os', base='base', merge={'port': 81}) | json }}\n",
        "c: {{ salt['grains.filter_by']({'1*': 'one', 'default': 'dflt'}, grain='osmajorrelease') }}\n",
        "d: {{ salt['grains.filter_by']({'Deb*': 'glob'}) }}\n",
        "{% set d = {'a': {'x': 1}} %}{% do salt['defaults.merge'](d, {'a': {'y': 2}}) %}\n",
        "e: {{ d | json }}\n",
    );
    let out = ok(render(&host, template));
    assert_eq!(out["a"], json!({"pkg": "apache2"}));
    assert_eq!(out["b"], json!({"pkg": "apache2", "port": 81}));
    assert_eq!(out["c"], json!("one"));
    assert_eq!(out["d"], json!("glob"));
    assert_eq!(out["e"], json!({"a": {"x": 1, "y": 2}}));
}

#[test]
fn render_formula_map_jinja_with_from_import_with_context() {
    let host = MemHost::new()
        .file(
            "apache/map.jinja",
            concat!(
                "{% import_yaml tpldir ~ '/defaults.yaml' as defaults %}\n",
                "{% set os_map = salt['grains.filter_by']({'Debian': {'pkg': 'apache2'}, 'RedHat': {'pkg': 'httpd'}}, merge=salt['pillar.get']('apache:lookup')) %}\n",
                "{% set apache = salt['defaults.merge'](defaults.apache, os_map) %}\n",
                "{% do apache.update({'port': salt['pillar.get']('apache:port', 80)}) %}\n",
            ),
        )
        .file("apache/defaults.yaml", "apache:\n  service: {{ 'apache' ~ '2' }}\n  pkg: none\n");
    let template = concat!(
        "{% from tpldir ~ '/map.jinja' import apache with context %}\n",
        "{% from './map.jinja' import apache as again with context %}\n",
        "apache:\n",
        "  pkg.installed:\n",
        "    - name: {{ apache.pkg }}\n",
        "  service.running:\n",
        "    - name: {{ apache.service }}\n",
        "    - port: {{ again.port }}\n",
    );
    let out = ok(render_sls(
        &host,
        &sls("apache", "apache/init.sls"),
        template,
    ));
    assert_eq!(
        out,
        json!({"apache": {"pkg.installed": [{"name": "apache2"}], "service.running": [{"name": "apache2"}, {"port": 8080}]}})
    );
}

#[test]
fn render_include_and_import_macros_from_salt_urls() {
    let host = MemHost::new()
        .file(
            "lib/macros.jinja",
            "{% macro pkg(name) %}{{ name }}:\n  pkg.installed: []\n{% endmacro %}",
        )
        .file("lib/extra.sls", "extra:\n  test.nop: []\n");
    let template = "{% import 'salt://lib/macros.jinja' as m %}{{ m.pkg('vim') }}{% include 'lib/extra.sls' %}\n";
    let out = ok(render(&host, template));
    assert_eq!(
        out,
        json!({"vim": {"pkg.installed": []}, "extra": {"test.nop": []}})
    );
}

#[test]
fn render_import_json_text_and_load_blocks_without_autoescape() {
    let host = MemHost::new()
        .file("apache/x.json", "{\"k\": \"{{ grains.os }}\"}")
        .file("apache/x.txt", "plain {{ 1 }}");
    let template = concat!(
        "{% import_json 'apache/x.json' as j %}{% import_text './x.txt' as t %}\n",
        "{% load_yaml as y %}\nlist: [1, 2]\n{% endload %}\n",
        "{%- load_json as lj -%}{\"n\": 3}{%- endload %}\n",
        "{% load_text as lt %}hello{% endload %}\n",
        "a: {{ j.k }}\nb: {{ t }}\nc: {{ y.list | json }}\nd: {{ lj.n }}\ne: {{ lt }}\n",
    );
    let out = ok(render(&host, template));
    assert_eq!(
        out,
        json!({"a": "Debian", "b": "plain 1", "c": [1, 2], "d": 3, "e": "hello"})
    );
}

#[test]
fn render_do_append_and_update_on_literals() {
    let host = MemHost::new();
    let template = concat!(
        "{% set l = [] %}{% for i in range(3) %}{% do l.append(i) %}{% endfor %}{% do l.extend([7]) %}\n",
        "{% set d = {} %}{% do d.update({'a': 1}) %}{% do d.update(b=2) %}{% do d.setdefault('c', 3) %}\n",
        "a: {{ l | json }}\nb: {{ d | json }}\nc: {{ l | length }}-{{ 2 in l }}-{{ 'a' in d }}-{{ l[-1] }}\n",
        "e: {{ d.items() | list | length }}-{{ d.get('zz', 'none') }}-{{ l | join(',') }}\n",
        "f: {{ d | yaml }}\n",
    );
    let out = ok(render(&host, template));
    assert_eq!(out["a"], json!([0, 1, 2, 7]));
    assert_eq!(out["b"], json!({"a": 1, "b": 2, "c": 3}));
    assert_eq!(out["c"], json!("4-True-True-7"));
    assert_eq!(out["e"], json!("3-none-0,1,2,7"));
    assert_eq!(out["f"], json!({"a": 1, "b": 2, "c": 3}));
}

/// Answers of Salt's `yaml_encode` (PyYAML's representer and pure-Python
/// emitter): strings double-quoted on one line whatever their length, with
/// every non-ASCII character escaped; other scalars plain.
#[test]
fn render_yaml_encode_writes_one_line_like_pyyaml() {
    let host = MemHost::new();
    let long = "x ".repeat(60);
    let checks: &[(&str, String)] = &[
        ("{{ 'a\\nb' | yaml_encode }}", r#""a\nb""#.to_owned()),
        ("{{ ('x ' * 60) | yaml_encode }}", format!("\"{long}\"")),
        (
            "{{ 'caf\u{e9} \u{1F600} \u{85}\t' | yaml_encode }}",
            r#""caf\xE9 \U0001F600 \N\t""#.to_owned(),
        ),
        (
            "{{ 1 | yaml_encode }}-{{ 1.5 | yaml_encode }}",
            "1-1.5".to_owned(),
        ),
        (
            "{{ true | yaml_encode }}-{{ none | yaml_encode }}",
            "true-null".to_owned(),
        ),
        ("{{ '\u{2028}' | yaml_dquote }}", r#""\L""#.to_owned()),
    ];
    for (template, expected) in checks {
        assert_eq!(&text(&host, template), expected, "template {template}");
    }
    let message = err(render(&host, "a: {{ [1] | yaml_encode }}\n"));
    assert!(
        message.contains("only works with YAML scalar data"),
        "{message}"
    );
}

/// logrotate-formula's `contents: {{ contents | yaml_encode }}` with a long
/// multi-line string: one line in Salt, so the YAML after it loads.
#[test]
fn render_yaml_encode_of_long_text_loads_back() {
    let contents = "/var/log/x/*.log {\n  weekly\n  missingok\n".repeat(5);
    let template = format!(
        "{{% set contents = {} %}}\nx:\n  file.managed:\n    - contents: {{{{ contents | yaml_encode }}}}\n",
        serde_json::to_string(&contents).expect("a string")
    );
    let data = ok(render(&MemHost::new(), &template));
    assert_eq!(data["x"]["file.managed"][0]["contents"], json!(contents));
}

#[test]
fn render_salt_filters() {
    let host = MemHost::new();
    let checks: &[(&str, &str)] = &[
        ("{{ {'b': 1, 'a': [1, 'x']} | yaml }}", "{a: [1, x], b: 1}"),
        ("{{ {'b': 1, 'a': 2} | json }}", r#"{"a": 2, "b": 1}"#),
        (
            "{{ {'b': 1, 'a': '<'} | tojson }}",
            r#"{"b": 1, "a": "\u003c"}"#,
        ),
        ("{{ 'yes' | yaml_encode }}", r#""yes""#),
        ("{{ 'a\"b' | yaml_dquote }}", r#""a\"b""#),
        ("{{ \"it's\" | yaml_squote }}", "'it''s'"),
        ("{{ ('a: [1, on]' | load_yaml).a | json }}", "[1, true]"),
        ("{{ ('{\"a\": 1}' | load_json).a }}", "1"),
        ("{{ {'a': {'b': [5]}} | traverse('a:b:0') }}", "5"),
        ("{{ {'a': 1} | traverse('x', 'd') }}", "d"),
        ("{{ [1, 2, 1, 3] | unique | json }}", "[1, 2, 3]"),
        (
            "{{ [1] | is_list }}-{{ 'x' | is_list }}-{{ [1] is list }}",
            "True-False-True",
        ),
        (
            "{{ 'Yes' | to_bool }}-{{ 0 | to_bool }}-{{ [1] | to_bool }}",
            "True-False-True",
        ),
        (
            "{{ 'abc' | regex_match('a(b)') | json }}-{{ 'abc' | regex_match('b') }}",
            r#"["b"]-None"#,
        ),
        (
            "{{ 'xabc' | regex_search('(b)(c)') | json }}",
            r#"["b", "c"]"#,
        ),
        (
            "{{ 'a1b2' | regex_replace('(\\\\d)', '<\\\\1>') }}",
            "a<1>b<2>",
        ),
        (
            "{{ 'x' | sequence | json }}-{{ ['x'] | sequence | json }}",
            r#"["x"]-["x"]"#,
        ),
        ("{{ 'abc' | md5 }}", "900150983cd24fb0d6963f7d28e17f72"),
        (
            "{{ 'abc' | sha256 }}",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            "{{ 'hello' | base64_encode }}-{{ 'aGVsbG8=' | base64_decode }}",
            "aGVsbG8=-hello",
        ),
        (
            "{{ 0 | strftime('%Y-%m-%d %H:%M') }}-{{ '2024-02-03' | strftime('%d/%m/%Y') }}",
            "1970-01-01 00:00-03/02/2024",
        ),
        ("{{ \"a b\" | quote }}", "'a b'"),
        ("{{ {'b': 1, 'a': 2} | dictsort | first | first }}", "a"),
        (
            "{{ '10.0.0.1'|is_ip(options='private') }}-{{ 'a_b'|to_camelcase(uppercamel=True) }}",
            "True-AB",
        ),
        (
            "{% set d = {'f': []} %}{% do d['f'].append(1) %}{% do d.setdefault('g', []).append(2) %}{{ d|json }}",
            r#"{"f": [1], "g": [2]}"#,
        ),
        (
            "{% set ns = namespace(names=[]) %}{% for n in 'ab' %}{% do ns.names.append(n) %}{% endfor %}{{ ns.names|json }}",
            r#"["a", "b"]"#,
        ),
        (
            "{% set p = pillar %}{% do p.update({'new': 1}) %}{{ pillar.new }}",
            "1",
        ),
        (
            "{{ 'abcd'|regex_search('bc')|json }}-{{ 'ABC' is match('a', ignorecase=True) }}",
            r#"["bc"]-True"#,
        ),
        (
            "{{ 'a,b'.split(',') | json }}-{{ 'X'.lower() }}-{{ {'k': 1}.get('k') }}",
            r#"["a", "b"]-x-1"#,
        ),
    ];
    for (template, expected) in checks {
        assert_eq!(text(&host, template), *expected, "template {template}");
    }
}

#[test]
fn render_template_keeps_trailing_newline_and_uses_extra_context() {
    let host = MemHost::new();
    let mut context = TemplateContext {
        saltenv: "base".into(),
        sls: "apache".into(),
        path: "apache/files/httpd.conf".into(),
        ..Default::default()
    };
    context.context.insert("port".into(), json!(81));
    let out = render_template(&host, "Listen {{ port }} {{ tpldir }}\n", &context);
    assert_eq!(out, Ok("Listen 81 apache/files\n".to_owned()));
    let out = render_template(&host, "no newline {{ grains.os }}", &context);
    assert_eq!(out, Ok("no newline Debian".to_owned()));
    // Without an SLS, Salt's tpldir is "." (the template's own directory is not known).
    context.sls.clear();
    let out = render_template(&host, "{{ tpldir }} {{ tplfile }}", &context);
    assert_eq!(out, Ok(". httpd.conf".to_owned()));
}

#[test]
fn render_error_for_jinja_syntax_names_file_and_line() {
    let message = err(render(&MemHost::new(), "a: 1\nb: 2\nc: {% if %}\nd: 4\n"));
    assert!(message.starts_with("Jinja syntax error: "), "{message}");
    assert!(message.contains("; line 3\n\n"), "{message}");
    assert!(
        message.contains("---\na: 1\nb: 2\nc: {% if %}    <======================\nd: 4\n---"),
        "{message}"
    );
}

#[test]
fn render_error_for_undefined_variable_names_file_and_line() {
    let message = err(render(&MemHost::new(), "a: 1\nb: {{ nope }}\n"));
    assert!(
        message.starts_with("Jinja variable 'nope' is undefined; line 2\n\n---\n"),
        "{message}"
    );
    assert!(
        message.contains("b: {{ nope }}    <======================"),
        "{message}"
    );
    let message = err(render(
        &MemHost::new(),
        "{% if grains['nokey'] %}x: 1{% endif %}\n",
    ));
    assert!(message.contains("line 1"), "{message}");
}

#[test]
fn render_error_in_imported_template_shows_that_file() {
    let mut host = MemHost::new().file(
        "apache/map.jinja",
        "{% set x = 1 %}\n{% set y = nope.attr %}\n",
    );
    host.opts
        .insert("cachedir".into(), json!("/var/cache/salt"));
    let message = err(render(
        &host,
        "{% from 'apache/map.jinja' import x %}\na: {{ x }}\n",
    ));
    // Salt's text: the file as Salt read it (its cached copy), no "; line".
    assert_eq!(
        message,
        "Jinja variable 'nope' is undefined\n\
         /var/cache/salt/files/base/apache/map.jinja(2):\n---\n\
         {% set x = 1 %}\n{% set y = nope.attr %}    <======================\n---"
    );
}

/// An undefined name inside a macro: minijinja does not describe it, the
/// source span does (Salt: `'zz' is undefined`).
#[test]
fn render_error_for_undefined_name_in_macro() {
    let message = err(render(
        &MemHost::new(),
        "{% macro m() %}{{ zz }}{% endmacro %}\na: {{ m() }}\n",
    ));
    assert!(
        message.starts_with("Jinja variable 'zz' is undefined; line 1\n"),
        "{message}"
    );
}

/// Salt's yaml renderer passes PyYAML's constructor error on whole.
#[test]
fn render_error_for_yaml_duplicate_key_is_pyyaml_text() {
    let message = err(render(
        &MemHost::new(),
        "{% for i in [1, 1] %}\ndup{{ i }}:\n  test.nop: []\n{% endfor %}\n",
    ));
    assert_eq!(
        message,
        "while constructing a mapping\n  in \"<unicode string>\", line 2, column 1\n\
         found conflicting ID 'dup1'\n  in \"<unicode string>\", line 5, column 1"
    );
}

/// A scanner error is only its problem in Salt; a parser error is whole.
#[test]
fn render_error_for_yaml_syntax_is_salt_text() {
    let host = MemHost::new();
    assert_eq!(
        err(render(&host, "x:\n  test.nop:\n    - a: b: c\n")),
        "mapping values are not allowed in this context"
    );
    assert_eq!(
        err(render(&host, "x:\n\ttest.nop\n")),
        "found character that cannot start any token"
    );
    assert_eq!(
        err(render(&host, "x:\n  test.nop:\n    - a: 1\n   - b: 2\n")),
        "while parsing a block mapping\n  in \"<unicode string>\", line 2, column 3\n\
         did not find expected key\n  in \"<unicode string>\", line 4, column 4"
    );
}

#[test]
fn render_allow_undefined_makes_undefined_lenient() {
    let mut host = MemHost::new();
    host.opts.insert("allow_undefined".into(), json!(true));
    assert_eq!(ok(render(&host, "a: '{{ nope }}'\n")), json!({"a": ""}));
}

#[test]
fn render_thousand_states_is_fast() {
    let host = MemHost::new().file(
        "apache/map.jinja",
        "{% set m = salt['grains.filter_by']({'Debian': {'pkg': 'apache2'}}) %}",
    );
    let template = concat!(
        "{% from 'apache/map.jinja' import m with context %}\n",
        "{% for i in range(1000) %}\n",
        "state-{{ i }}:\n  pkg.installed:\n    - name: {{ m.pkg }}-{{ salt['pillar.get']('apache:port') }}-{{ grains.os }}\n",
        "{% endfor %}\n",
    );
    let start = std::time::Instant::now();
    let out = ok(render(&host, template));
    let elapsed = start.elapsed();
    assert_eq!(out.as_object().map(Map::len), Some(1000));
    // Generous bound for debug builds on shared machines; release is a few ms.
    eprintln!("1000-state render (debug build): {elapsed:?}");
    assert!(elapsed.as_millis() < 2000, "took {elapsed:?}");
}

/// Salt's CVE-2021-25283 class (template injection reaching the renderer's
/// host objects): values have no Python internals to climb through. Each
/// payload renders as nothing or fails to render; none reveals a class,
/// a module or the environment.
#[test]
fn template_payloads_reach_no_host_internals() {
    let host = MemHost::new();
    for payload in [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__ }}",
        "{{ grains.__class__.__init__.__globals__ }}",
        "{{ salt.__dict__ }}",
        "{{ pillar.__class__.__subclasses__() }}",
        "{{ config.items() }}",
        "{{ self.__init__.__globals__.__builtins__ }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    ] {
        let context = TemplateContext {
            saltenv: "base".into(),
            sls: "apache".into(),
            path: "apache/files/x.conf".into(),
            ..Default::default()
        };
        let shown = render_template(&host, payload, &context).unwrap_or_default();
        for leak in [
            "class",
            "module",
            "builtin",
            "uid=",
            "globals",
            "from-master",
        ] {
            assert!(!shown.contains(leak), "{payload} rendered {shown:?}");
        }
    }
}

#[test]
fn render_python_percent_formatting() {
    let host = MemHost::new();
    let out = text(
        &host,
        "{%- set user = {} %}{%- set name = 'bob' %}\
         {%- set home = user.get('home', \"/home/%s\" % name) -%}\
         {{ home }}|{{ '%s-%d' % (grains.os, 3) }}|{{ '%(port)05d' % pillar.apache }}\
         |{{ 'a' 'b%s' % ('c',) }}|{{ 7 % 3 }}|{{ '%r%%' % grains['id'] }}",
    );
    assert_eq!(out, "/home/bob|Debian-3|08080|abc|1|'web1'%");
}

#[test]
fn render_attr_call_varargs_and_extras() {
    let host = MemHost::new().file(
        "m.jinja",
        "{%- macro v(a, b=2) -%}{{ a }}{{ b }}|{{ varargs|join(',') }}|{{ kwargs|dictsort|join(';') }}{%- endmacro %}",
    );
    let out = text(
        &host,
        "{%- from 'm.jinja' import v -%}\
         {{ {'a': 1}|attr('get')('a') }}|{{ 'ab'|upper|attr('lower')() }}\
         |{{ v(1, 3, 'x', 'y', k=1, b=4) if false else v(1, 3, 'x', 'y', k=1) }}\
         |{{ odict([('z', 1), ('a', 2)])|list|join }}{{ odict(q=1)|tojson }}\
         |{{ [v is callable, salt['test.echo'] is callable, 'x' is callable, grains is callable]|join(',') }}\
         |{{ 'a' ~ none }}",
    );
    assert_eq!(
        out,
        "1|ab|13|x,y|('k', 1)|za{\"q\": 1}|True,True,False,False|aNone"
    );
}

#[test]
fn render_include_without_context_sees_globals_only() {
    let host = MemHost::new().file("part.jinja", "{{ local is defined }}-{{ grains.os }}");
    let out = text(
        &host,
        "{%- set local = 1 -%}\n{% include 'part.jinja' without context %}|{% include 'part.jinja' %}|{% include ['nope.jinja'] ignore missing without context %}.",
    );
    assert_eq!(out, "False-Debian|True-Debian|.");
}

#[test]
fn render_jinja2_header_sets_options_for_the_file() {
    let host = MemHost::new();
    let source = "#!jinja|yaml\n#jinja2: {\"trim_blocks\": true, \"lstrip_blocks\": true}\nk:\n  - |\n    {% for i in [1, 2] %}\n    i{{ i }}\n    {% endfor %}\n";
    assert_eq!(ok(render(&host, source)), json!({"k": ["i1\ni2\n"]}));
    // Without the header (or with a malformed one) the blocks leave lines.
    let plain = source.replace(
        "#jinja2: {\"trim_blocks\": true, \"lstrip_blocks\": true}\n",
        "#jinja2: {bad\n",
    );
    assert_eq!(ok(render(&host, &plain)), json!({"k": ["\ni1\n\ni2\n"]}));
}

#[test]
fn render_dict_to_sls_yaml_params() {
    let host = MemHost::new();
    let out = text(
        &host,
        "{%- set p = {'name': '/etc/x', 'mode': '0644', 'makedirs': True} -%}\
         {{ p|dict_to_sls_yaml_params }}\n{{ p|dict_to_sls_yaml_params(flow_style=True) }}",
    );
    assert_eq!(
        out,
        "- name: /etc/x\n- mode: '0644'\n- makedirs: true\n[{name: /etc/x}, {mode: '0644'}, {makedirs: true}]"
    );
}

#[test]
fn render_in_place_updates_and_config_get_merge() {
    let host = MemHost::new();
    let out = text(
        &host,
        "{%- set d = {'a': 1} %}{%- set alias = d %}\
         {%- do salt['slsutil.update'](d, {'b': 2}) %}\
         {%- set e = {'a': 1} %}{%- do salt['defaults.update'](e, {'c': 3}) %}\
         {%- set f = {'a': 1} %}{%- set g = salt['defaults.update'](f, {'c': 3}, in_place=False) %}\
         {%- set m = {'a': {'b': 1}} %}\
         {%- set copy = salt['defaults.merge'](m, {'a': {'c': 2}}, in_place=False) %}\
         {%- set same = salt['defaults.merge'](m, {'x': none}) %}\
         {{ alias|json }}|{{ e|json }}|{{ f|json }}{{ g|json }}|{{ m|json }}{{ copy|json }}\
         |{{ salt['defaults.merge']({'a': 1}, none, in_place=False)|json }}\
         |{{ salt['config.get']('k', merge='recurse')|json }}|{{ salt['config.get']('shared')|json }}",
    );
    assert_eq!(
        out,
        "{\"a\": 1, \"b\": 2}|{\"a\": 1, \"c\": 3}|{\"a\": 1}{\"a\": 1, \"c\": 3}\
         |{\"a\": {\"b\": 1}, \"x\": null}{\"a\": {\"b\": 1, \"c\": 2}}\
         |{\"a\": 1}|{\"host\": [\"k\"], \"kwargs\": {\"merge\": \"recurse\"}}|\"from-opts\""
    );
}

#[test]
fn render_tplpath_is_the_cached_copy() {
    let mut host = MemHost::new();
    host.opts
        .insert("cachedir".into(), json!("/var/cache/brine/minion"));
    let out = ok(render(&host, "k: {{ tplpath }}|{{ tplfile }}"));
    assert_eq!(
        out,
        json!({"k": "/var/cache/brine/minion/files/base/apache/config.sls|apache/config.sls"})
    );
}

#[test]
fn render_default_filter_keywords() {
    let host = MemHost::new();
    let out = text(
        &host,
        "{{ ''|default({'v': 1}, boolean=True)|json }}|{{ ''|d('x', true) }}|{{ nope|default(default_value='k') }}|{{ 'a'|default('b', boolean=True) }}|{{ ''|default('z') }}.",
    );
    assert_eq!(out, "{\"v\": 1}|x|k|a|.");
}

#[test]
fn render_do_takes_any_expression() {
    let host = MemHost::new();
    let out = text(
        &host,
        "{%- set d = {'a': 1, 'b': 2} %}{%- do d.pop('a') if d.a is defined %}\
         {%- do d.pop('zz') if d.zz is defined %}{%- do 1 + 1 %}{{ d|json }}",
    );
    assert_eq!(out, "{\"b\": 2}");
}

#[test]
fn render_filter_by_int_default_key() {
    let host = MemHost::new();
    let out = text(
        &host,
        "{{ salt['grains.filter_by']({2: {'p': 'py2'}, 3: {'p': 'py3'}}, default=3).p }}",
    );
    assert_eq!(out, "py3");
}
