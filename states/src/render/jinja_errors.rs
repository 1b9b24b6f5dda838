//! Jinja errors in Jinja2's words, as Salt's `render_jinja_tmpl` reports
//! them: `Jinja variable <UndefinedError>`, `Jinja syntax error:
//! <TemplateSyntaxError>` (unknown filters and tests are syntax errors
//! there, found at compile time) or `Jinja error: <other>`.
//!
//! minijinja says the same things differently; this module rewrites the
//! messages Salt users meet most. Where minijinja does not tell what Jinja2
//! would (the type of the object an attribute was missing on, when that
//! object is a template variable), the likeliest answer is given: a dict.

use minijinja::{Error, ErrorKind};

/// Salt's message for `error`, without the line and context.
pub(crate) fn salt_message(error: &Error, source: Option<&str>) -> String {
    let detail = error.detail().unwrap_or("");
    match error.kind() {
        ErrorKind::UndefinedError => {
            let from_source;
            let detail = match (detail, source_expression(error, source)) {
                ("", Some(expr)) => {
                    from_source = format!("`{expr}` is undefined");
                    from_source.as_str()
                }
                _ => detail,
            };
            format!("Jinja variable {}", undefined_message(detail))
        }
        ErrorKind::UnknownFunction => match detail.strip_suffix(" is unknown") {
            Some(name) => format!("Jinja variable '{name}' is undefined"),
            None => format!("Jinja variable {}", error.kind()),
        },
        ErrorKind::UnknownFilter => unknown("filter", detail),
        ErrorKind::UnknownTest => unknown("test", detail),
        ErrorKind::SyntaxError => format!("Jinja syntax error: {}", syntax_message(detail, source)),
        kind => match error.detail() {
            // A Python exception a filter or method raised (`py_error`): Salt
            // prints `str(exception)`, without the class name.
            Some(detail) if kind == ErrorKind::InvalidOperation => match python_exception(detail) {
                Some(text) => format!("Jinja error: {text}"),
                None => format!("Jinja error: {kind}: {detail}"),
            },
            Some(detail) => format!("Jinja error: {kind}: {detail}"),
            None => format!("Jinja error: {kind}"),
        },
    }
}

/// `str()` of the exception in a `"TypeError: text"` detail: the text.
fn python_exception(detail: &str) -> Option<&str> {
    let (class, text) = detail.split_once(": ")?;
    let named = class.chars().all(|c| c.is_ascii_alphanumeric())
        && class.starts_with(|c: char| c.is_ascii_uppercase())
        && (class.ends_with("Error") || class.ends_with("Exception"));
    named.then_some(text)
}

/// The expression an error points at, when minijinja gave no description
/// of the undefined value (inside a macro): the source text of its span, if
/// that is a plain name, attribute or item lookup.
fn source_expression<'a>(error: &Error, source: Option<&'a str>) -> Option<&'a str> {
    let expr = source?.get(error.range()?)?.trim();
    let plain = expr.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && expr
            .chars()
            .all(|c| c.is_alphanumeric() || "_.[]'\"".contains(c));
    plain.then_some(expr)
}

/// `No filter named 'x'.`: Jinja2's compile-time check.
fn unknown(what: &str, detail: &str) -> String {
    let name = detail
        .strip_prefix(&format!("{what} "))
        .and_then(|rest| rest.strip_suffix(" is unknown"))
        .unwrap_or(detail);
    format!("Jinja syntax error: No {what} named '{name}'.")
}

/// Jinja2's `Undefined` message for minijinja's "`expr` is undefined": a
/// name (`'x' is undefined`), or an attribute or item missing on an object
/// (`'dict object' has no attribute 'x'`, `dict object has no element 3`).
fn undefined_message(detail: &str) -> String {
    // A message already in Jinja2's words (the `salt` object gives those).
    if detail.starts_with('\'') {
        return detail.to_owned();
    }
    let Some(expr) = undefined_expression(detail) else {
        return if detail.is_empty() {
            "undefined value".to_owned()
        } else {
            detail.to_owned()
        };
    };
    match split_lookup(expr) {
        None => format!("'{expr}' is undefined"),
        Some((base, Lookup::Name(name))) => {
            format!("'{}' has no attribute '{name}'", object_type(base))
        }
        Some((base, Lookup::Index(index))) => {
            format!("{} has no element {index}", object_type(base))
        }
    }
}

/// The expression of minijinja's "`expr` is undefined" (possibly inside a
/// longer detail).
fn undefined_expression(detail: &str) -> Option<&str> {
    let start = detail.find('`')? + 1;
    let rest = &detail[start..];
    let end = rest.find("` is undefined")?;
    Some(&rest[..end])
}

enum Lookup<'a> {
    /// `.name` or `['name']`.
    Name(&'a str),
    /// `[3]`.
    Index(&'a str),
}

/// `base.name`, `base['name']` or `base[3]` split at the last lookup; `None`
/// for a bare name.
fn split_lookup(expr: &str) -> Option<(&str, Lookup<'_>)> {
    if let Some(inner) = expr.strip_suffix(']') {
        let open = inner.rfind('[')?;
        let key = &inner[open + 1..];
        let base = &expr[..open];
        let quoted = key
            .strip_prefix('\'')
            .and_then(|k| k.strip_suffix('\''))
            .or_else(|| key.strip_prefix('"').and_then(|k| k.strip_suffix('"')));
        return Some(match quoted {
            Some(name) => (base, Lookup::Name(name)),
            None => (base, Lookup::Index(key)),
        });
    }
    let dot = expr.rfind('.')?;
    Some((&expr[..dot], Lookup::Name(&expr[dot + 1..])))
}

/// Jinja2's `object_type_repr` of the object `base` names: Salt's own types
/// for its context objects, else a dict (the usual owner of a missing key).
fn object_type(base: &str) -> &'static str {
    let root_end = base.find(['.', '[']).unwrap_or(base.len());
    let nested = root_end < base.len();
    match (&base[..root_end], nested) {
        ("pillar" | "grains", false) => "salt.utils.optsdict.DictProxy object",
        ("opts", false) => "salt.utils.optsdict.OptsDict object",
        ("salt", false) => "salt.utils.templates.AliasedLoader object",
        // Salt's pillar is built of OrderedDicts below the top.
        ("pillar", true) => "collections.OrderedDict object",
        _ => "dict object",
    }
}

/// Jinja2's words for the syntax errors minijinja words differently.
fn syntax_message(detail: &str, source: Option<&str>) -> String {
    let detail = detail.strip_prefix("syntax error: ").unwrap_or(detail);
    if let Some(name) = detail.strip_prefix("unknown statement ") {
        return format!("Encountered unknown tag '{name}'.");
    }
    if detail.starts_with("cannot assign to reserved variable name") {
        return "can't assign to 'const'".to_owned();
    }
    match detail {
        "unexpected end of variable block" => "unexpected 'end of print statement'".to_owned(),
        "unexpected end of block" => "unexpected 'end of statement block'".to_owned(),
        "unexpected end of input, expected end of block" => {
            match source.and_then(innermost_open_block) {
                Some(block) => unclosed_block_message(&block),
                None => "Unexpected end of template.".to_owned(),
            }
        }
        other => other.to_owned(),
    }
}

/// Jinja2's message for a template that ends inside `block`.
fn unclosed_block_message(block: &str) -> String {
    let looking_for = match block {
        "if" => "'elif' or 'else' or 'endif'".to_owned(),
        "for" => "'endfor' or 'else'".to_owned(),
        other => format!("'end{other}'"),
    };
    format!(
        "Unexpected end of template. Jinja was looking for the following tags: {looking_for}. \
         The innermost block that needs to be closed is '{block}'."
    )
}

/// Block statements that need an `end...` tag.
const BLOCK_TAGS: &[&str] = &[
    "if",
    "for",
    "macro",
    "call",
    "filter",
    "with",
    "block",
    "autoescape",
    "raw",
];

/// The innermost block statement left open at the end of `source`, found by
/// a light scan of its `{% ... %}` tags (a `{% set x %}` without `=` is a
/// block too).
fn innermost_open_block(source: &str) -> Option<String> {
    let mut open: Vec<String> = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find("{%") {
        let after = &rest[start + 2..];
        let end = after.find("%}").unwrap_or(after.len());
        let tag = after[..end].trim_start_matches(['-', '+']).trim();
        rest = &after[end..];
        let name = tag.split_whitespace().next().unwrap_or("");
        if let Some(ended) = name.strip_prefix("end") {
            if open.last().is_some_and(|top| top == ended) {
                open.pop();
            }
        } else if BLOCK_TAGS.contains(&name) || (name == "set" && !tag.contains('=')) {
            open.push(name.to_owned());
        }
    }
    open.pop()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Salt 3008.5's texts for the same templates (err-jinja case and more).
    #[test]
    fn undefined_messages_match_jinja2() {
        let cases = [
            (
                "`no_such_variable` is undefined",
                "'no_such_variable' is undefined",
            ),
            (
                "`d.missing` is undefined",
                "'dict object' has no attribute 'missing'",
            ),
            (
                "`pillar['nokey']` is undefined",
                "'salt.utils.optsdict.DictProxy object' has no attribute 'nokey'",
            ),
            (
                "`opts.nokey` is undefined",
                "'salt.utils.optsdict.OptsDict object' has no attribute 'nokey'",
            ),
            (
                "`pillar['a']['nokey']` is undefined",
                "'collections.OrderedDict object' has no attribute 'nokey'",
            ),
            ("`(...)[3]` is undefined", "dict object has no element 3"),
        ];
        for (detail, expected) in cases {
            assert_eq!(undefined_message(detail), expected, "{detail}");
        }
    }

    /// The first line of Salt 3008.5's render errors in the conformance
    /// case jinja-random-filter (`5 | random`, `{"a": 1} | random`).
    #[test]
    fn a_python_exception_is_printed_as_str_of_it() {
        let message = |detail: &str| {
            salt_message(
                &Error::new(ErrorKind::InvalidOperation, detail.to_string()),
                None,
            )
        };
        assert_eq!(
            message("TypeError: object of type 'int' has no len()"),
            "Jinja error: object of type 'int' has no len()"
        );
        assert_eq!(message("KeyError: 0"), "Jinja error: 0");
        // Not an exception's text: minijinja's own words stay.
        assert_eq!(
            message("tried to use + operator on unsupported types"),
            "Jinja error: invalid operation: tried to use + operator on unsupported types"
        );
    }

    #[test]
    fn syntax_messages_match_jinja2() {
        assert_eq!(
            syntax_message("syntax error: unknown statement foo", None),
            "Encountered unknown tag 'foo'."
        );
        assert_eq!(
            syntax_message("cannot assign to reserved variable name none", None),
            "can't assign to 'const'"
        );
        assert_eq!(
            syntax_message("unexpected end of variable block", None),
            "unexpected 'end of print statement'"
        );
        let eof = "unexpected end of input, expected end of block";
        assert_eq!(
            syntax_message(eof, Some("{% if true %}\nx:\n  test.nop\n")),
            "Unexpected end of template. Jinja was looking for the following tags: \
             'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if'."
        );
        assert_eq!(
            syntax_message(eof, Some("{% if a %}{% endif %}{%- for x in [1] %}\n")),
            "Unexpected end of template. Jinja was looking for the following tags: \
             'endfor' or 'else'. The innermost block that needs to be closed is 'for'."
        );
    }
}
