//! Salt's template tags that minijinja has no syntax for, rewritten into
//! plain Jinja before compiling (the line count never changes, so error
//! lines stay right):
//!
//! - `{% import_yaml "x.yaml" as d %}` → `{% set d = __salt_import_yaml("x.yaml") %}`,
//!   and the same for `import_json` and `import_text`;
//! - `{% load_yaml as d %}...{% endload %}` → `{% set d %}...{% endset %}{% set d = __salt_load_yaml(d) %}`,
//!   and the same for `load_json` and `load_text`;
//! - `{% set x = <expr> %}` (and `{% set ns.x = <expr> %}`) →
//!   `{% set x = __salt_mutable(<expr>) %}`, so that the lists and dicts a
//!   name holds change in place (`{% do x.append(y) %}`), as in Python.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

static TAGS: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?s)\{%(?P<l>[-+]?)\s*(?:",
        r"import_(?P<ikind>yaml|json|text)\s+(?P<src>(?:[^%]|%[^}])+?)\s+as\s+(?P<iname>[A-Za-z_][A-Za-z0-9_]*)",
        r"|load_(?P<lkind>yaml|json|text)\s+as\s+(?P<lname>[A-Za-z_][A-Za-z0-9_]*)",
        r"|(?P<end>endload)",
        r"|set\s+(?P<sname>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)\s*=\s*(?P<literal>(?:[^%\s]|%[^}])(?:[^%]|%[^}])*?)",
        r")\s*(?P<r>[-+]?)%\}",
    ))
    .ok()
});

/// Rewrites Salt's extension tags in `source` into plain Jinja.
pub(crate) fn preprocess(source: &str) -> Cow<'_, str> {
    let Some(tags) = TAGS.as_ref() else {
        return Cow::Borrowed(source);
    };
    if !source.contains("{%") {
        return Cow::Borrowed(source);
    }
    let mut open_loads: Vec<(String, String)> = Vec::new();
    tags.replace_all(source, |c: &Captures<'_>| rewrite(c, &mut open_loads))
}

fn group<'a>(c: &'a Captures<'_>, name: &str) -> &'a str {
    c.name(name).map_or("", |m| m.as_str())
}

fn rewrite(c: &Captures<'_>, open_loads: &mut Vec<(String, String)>) -> String {
    let (left, right) = (group(c, "l"), group(c, "r"));
    if let Some(kind) = c.name("ikind") {
        let (kind, src, name) = (kind.as_str(), group(c, "src"), group(c, "iname"));
        return format!("{{%{left} set {name} = __salt_import_{kind}({src}) {right}%}}");
    }
    if let Some(kind) = c.name("lkind") {
        let name = group(c, "lname");
        open_loads.push((kind.as_str().to_owned(), name.to_owned()));
        return format!("{{%{left} set {name} {right}%}}");
    }
    if c.name("end").is_some() {
        return match open_loads.pop() {
            Some((kind, name)) => {
                format!(
                    "{{%{left} endset %}}{{% set {name} = __salt_load_{kind}({name}) {right}%}}"
                )
            }
            // An `endload` without `load_*`: leave it for the parser to report.
            None => c[0].to_owned(),
        };
    }
    let (name, literal) = (group(c, "sname"), group(c, "literal"));
    format!("{{%{left} set {name} = __salt_mutable({literal}) {right}%}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_preprocess_rewrites_salt_tags_keeping_lines() {
        let source = "{% import_yaml 'a/x.yaml' as x %}\n{%- load_json as j -%}\n{\"a\": 1}\n{%- endload %}\n{% set l = [] %}{% set n = 1 %}";
        let out = preprocess(source);
        assert_eq!(
            out,
            "{% set x = __salt_import_yaml('a/x.yaml') %}\n{%- set j -%}\n{\"a\": 1}\n{%- endset %}{% set j = __salt_load_json(j) %}\n{% set l = __salt_mutable([]) %}{% set n = __salt_mutable(1) %}"
        );
        assert_eq!(out.lines().count(), source.lines().count());
    }
}
