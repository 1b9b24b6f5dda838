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
//!   name holds change in place (`{% do x.append(y) %}`), as in Python;
//! - `"<literal>" % <operand>` → `__salt_percent("<literal>", <operand>, <is_tuple>)`
//!   (Python's `%` formatting, `percent.rs`; minijinja's `%` is numeric only).
//!
//! The `%` rewrite is not a regex: every `{{ }}` and `{% %}` body (found as
//! Jinja's lexer finds its end: outside strings and brackets; `{# #}` and
//! `{% raw %}` blocks skipped) is split into tokens (strings with their
//! escapes, names, numbers, brackets matched to their closers, operators).
//! A `%` whose left side is a string literal (or adjacent literals) that
//! nothing binds tighter to (not after `*`, `/`, `//`, `%`, `**`, `.`) is
//! rewritten; its right side is parsed as Jinja's unary operand: an
//! optional sign, a name, number, literal or bracketed group, then any
//! `.attr`, `[key]`, `(args)`, `|filter(args)` and `is test`, then `** x`.
//! A parenthesised group with a top-level comma (or `()`) is a tuple: its
//! items are the arguments. Numeric `a % b` is never touched. Only text is
//! inserted (and the `%` replaced by `,`), so line numbers stay the same.

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
    let formatted = rewrite_percent(source);
    let Some(tags) = TAGS.as_ref() else {
        return formatted;
    };
    if !formatted.contains("{%") {
        return formatted;
    }
    let mut open_loads: Vec<(String, String)> = Vec::new();
    match formatted {
        Cow::Borrowed(text) => {
            tags.replace_all(text, |c: &Captures<'_>| rewrite(c, &mut open_loads))
        }
        Cow::Owned(text) => Cow::Owned(
            tags.replace_all(&text, |c: &Captures<'_>| rewrite(c, &mut open_loads))
                .into_owned(),
        ),
    }
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

/// Rewrites every `"<literal>" % <operand>` inside `{{ }}` and `{% %}`
/// into `__salt_percent("<literal>", <operand>, <is_tuple>)`.
fn rewrite_percent(source: &str) -> Cow<'_, str> {
    if !source.contains('%') {
        return Cow::Borrowed(source);
    }
    let bytes = source.as_bytes();
    let mut edits: Vec<Edit> = Vec::new();
    let mut i = 0;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'{', b'#') => i = find_from(source, i + 2, "#}").map_or(bytes.len(), |e| e + 2),
            (b'{', b'{') | (b'{', b'%') => {
                let block = bytes[i + 1] == b'%';
                let start = i + 2;
                if block && is_raw_tag(&source[start..]) {
                    i = skip_raw(source, start);
                    continue;
                }
                let end = tag_end(bytes, start, block);
                let tokens = tokenize(&source[start..end], start);
                find_percents(&tokens, &mut edits);
                i = end + 2;
            }
            _ => i += 1,
        }
    }
    if edits.is_empty() {
        return Cow::Borrowed(source);
    }
    edits.sort_by_key(|e| e.at);
    let mut out = String::with_capacity(source.len() + edits.len() * 16);
    let mut last = 0;
    for edit in &edits {
        out.push_str(&source[last..edit.at]);
        out.push_str(&edit.text);
        last = edit.at + edit.remove;
    }
    out.push_str(&source[last..]);
    Cow::Owned(out)
}

/// Text to put at byte `at`, replacing `remove` bytes.
struct Edit {
    at: usize,
    remove: usize,
    text: String,
}

fn find_from(source: &str, from: usize, needle: &str) -> Option<usize> {
    source.get(from..)?.find(needle).map(|p| p + from)
}

/// `{% raw %}` (with `-`/`+` whitespace control), after the `{%`.
fn is_raw_tag(rest: &str) -> bool {
    let rest = rest.trim_start_matches(['-', '+']).trim_start();
    rest.strip_prefix("raw").is_some_and(|after| {
        after
            .trim_start()
            .trim_start_matches(['-', '+'])
            .starts_with("%}")
    })
}

/// The byte after the `{% endraw %}` closing a raw block.
fn skip_raw(source: &str, from: usize) -> usize {
    let mut at = from;
    while let Some(open) = find_from(source, at, "{%") {
        let rest = source[open + 2..]
            .trim_start_matches(['-', '+'])
            .trim_start();
        if rest.starts_with("endraw") {
            return find_from(source, open, "%}").map_or(source.len(), |e| e + 2);
        }
        at = open + 2;
    }
    source.len()
}

/// Where a tag's body ends (the `}}` or `%}`), as Jinja's lexer finds it:
/// not inside a string, not inside brackets.
fn tag_end(bytes: &[u8], start: usize, block: bool) -> usize {
    let close = if block { b'%' } else { b'}' };
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' => i = string_end(bytes, i),
            c if depth == 0 && c == close && bytes.get(i + 1) == Some(&b'}') => return i,
            b'(' | b'[' | b'{' => {
                depth += 1;
                i += 1;
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The byte after the string literal opening at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Str,
    Name,
    Number,
    Open(u8),
    Close,
    Op,
}

/// A token of a Jinja expression: its kind and byte span in the source.
#[derive(Debug)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
    start: usize,
    end: usize,
    /// For an opening bracket, the index of its closing token.
    close: Option<usize>,
}

fn tokenize(body: &str, offset: usize) -> Vec<Token<'_>> {
    let bytes = body.as_bytes();
    let mut tokens: Vec<Token<'_>> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let kind = match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'\'' | b'"' => {
                i = string_end(bytes, i);
                Kind::Str
            }
            b'0'..=b'9' => {
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || bytes[i] == b'_'
                        || (bytes[i] == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)))
                {
                    i += 1;
                }
                Kind::Number
            }
            c if c == b'_' || c.is_ascii_alphabetic() || c >= 0x80 => {
                while i < bytes.len()
                    && (bytes[i] == b'_' || bytes[i].is_ascii_alphanumeric() || bytes[i] >= 0x80)
                {
                    i += 1;
                }
                Kind::Name
            }
            b'(' | b'[' | b'{' => {
                i += 1;
                open.push(tokens.len());
                Kind::Open(c)
            }
            b')' | b']' | b'}' => {
                i += 1;
                if let Some(o) = open.pop() {
                    tokens[o].close = Some(tokens.len());
                }
                Kind::Close
            }
            _ => {
                let two = body.get(i..i + 2).unwrap_or("");
                i += if ["//", "**", "==", "!=", "<=", ">="].contains(&two) {
                    2
                } else {
                    // One character, however many bytes it takes.
                    body[i..].chars().next().map_or(1, char::len_utf8)
                };
                Kind::Op
            }
        };
        let end = i.min(bytes.len());
        tokens.push(Token {
            kind,
            text: body.get(start..end).unwrap_or(""),
            start: offset + start,
            end: offset + end,
            close: None,
        });
    }
    tokens
}

/// Adds the edits for every `"<literal>" % <operand>` among `tokens`.
fn find_percents(tokens: &[Token<'_>], edits: &mut Vec<Edit>) {
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i].kind != Kind::Str || !left_operand_boundary(tokens, i) {
            i += 1;
            continue;
        }
        // Adjacent literals are one string in Jinja ("a" "b").
        let first = i;
        while tokens.get(i + 1).is_some_and(|t| t.kind == Kind::Str) {
            i += 1;
        }
        let Some(op) = tokens.get(i + 1) else { break };
        if !(op.kind == Kind::Op && op.text == "%") {
            i += 1;
            continue;
        }
        let Some((last, is_tuple)) = operand(tokens, i + 2) else {
            i += 1;
            continue;
        };
        edits.push(Edit {
            at: tokens[first].start,
            remove: 0,
            text: "__salt_percent(".into(),
        });
        edits.push(Edit {
            at: op.start,
            remove: 1,
            text: ",".into(),
        });
        edits.push(Edit {
            at: tokens[last].end,
            remove: 0,
            text: format!(", {})", if is_tuple { "true" } else { "false" }),
        });
        // Literals inside the operand are rewritten on their own.
        i += 2;
    }
}

/// Whether the literal at `i` can be the whole left operand of `%`: not
/// the right side of a `*`, `/`, `//`, `%` or `**` (which would bind
/// first), nor the object of an attribute or a test.
fn left_operand_boundary(tokens: &[Token<'_>], i: usize) -> bool {
    let Some(before) = i.checked_sub(1).map(|b| &tokens[b]) else {
        return true;
    };
    match before.kind {
        Kind::Op => !["*", "/", "//", "%", "**", ".", "|"].contains(&before.text),
        Kind::Open(_) => true,
        Kind::Name => matches!(
            before.text,
            "and"
                | "or"
                | "not"
                | "in"
                | "if"
                | "else"
                | "return"
                | "set"
                | "do"
                | "for"
                | "elif"
                | "with"
        ),
        Kind::Str | Kind::Number | Kind::Close => false,
    }
}

/// The operand of `%` starting at token `i`, as Jinja parses it: a unary
/// sign, a primary (name, literal, bracketed group) and its postfixes
/// (`.attr`, `[key]`, `(args)`, `|filter(args)`, `is test`), then `**`.
/// Gives the index of its last token and whether it is a tuple literal.
fn operand(tokens: &[Token<'_>], i: usize) -> Option<(usize, bool)> {
    let (last, is_tuple) = unary(tokens, i)?;
    if tokens
        .get(last + 1)
        .is_some_and(|t| t.kind == Kind::Op && t.text == "**")
    {
        return operand(tokens, last + 2).map(|(last, _)| (last, false));
    }
    Some((last, is_tuple))
}

fn unary(tokens: &[Token<'_>], i: usize) -> Option<(usize, bool)> {
    let token = tokens.get(i)?;
    if token.kind == Kind::Op && (token.text == "-" || token.text == "+") {
        return unary(tokens, i + 1).map(|(last, _)| (last, false));
    }
    let (mut last, mut is_tuple) = match token.kind {
        Kind::Str => {
            let mut last = i;
            while tokens.get(last + 1).is_some_and(|t| t.kind == Kind::Str) {
                last += 1;
            }
            (last, false)
        }
        Kind::Name | Kind::Number => (i, false),
        Kind::Open(b) => {
            let close = token.close?;
            let tuple = b == b'(' && (close == i + 1 || has_top_level_comma(tokens, i + 1, close));
            (close, tuple)
        }
        Kind::Close | Kind::Op => return None,
    };
    while let Some(next) = tokens.get(last + 1) {
        match (next.kind, next.text) {
            (Kind::Op, ".") => {
                let attr = tokens.get(last + 2)?;
                if !matches!(attr.kind, Kind::Name | Kind::Number) {
                    return None;
                }
                last += 2;
            }
            (Kind::Open(b'[' | b'('), _) => last = next.close?,
            (Kind::Op, "|") => {
                last = filter_or_test(tokens, last + 2)?;
            }
            (Kind::Name, "is") => {
                let mut at = last + 2;
                if tokens.get(at).is_some_and(|t| t.text == "not") {
                    at += 1;
                }
                last = filter_or_test(tokens, at)?;
            }
            _ => break,
        }
        is_tuple = false;
    }
    Some((last, is_tuple))
}

/// A filter or test name (dotted) at `i` and its bracketed arguments, if
/// any: the index of the last token.
fn filter_or_test(tokens: &[Token<'_>], i: usize) -> Option<usize> {
    if tokens.get(i)?.kind != Kind::Name {
        return None;
    }
    let mut last = i;
    while tokens.get(last + 1).is_some_and(|t| t.text == ".")
        && tokens.get(last + 2).is_some_and(|t| t.kind == Kind::Name)
    {
        last += 2;
    }
    if let Some(next) = tokens.get(last + 1)
        && next.kind == Kind::Open(b'(')
    {
        last = next.close?;
    }
    Some(last)
}

fn has_top_level_comma(tokens: &[Token<'_>], from: usize, to: usize) -> bool {
    let mut i = from;
    while i < to {
        match tokens[i].kind {
            Kind::Open(_) => i = tokens[i].close.unwrap_or(to) + 1,
            Kind::Op if tokens[i].text == "," => return true,
            _ => i += 1,
        }
    }
    false
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

#[cfg(test)]
mod percent_tests {
    use super::*;

    #[test]
    fn render_preprocess_rewrites_string_percent_only() {
        let cases = [
            (
                r#"{%- set home = user.get('home', "/home/%s" % name) -%}"#,
                r#"{%- set home = __salt_mutable(user.get('home', __salt_percent("/home/%s" , name, false))) -%}"#,
            ),
            (
                "{{ '%s-%d' % (a, b) }}",
                "{{ __salt_percent('%s-%d' , (a, b), true) }}",
            ),
            (
                "{{ '%s' % (a) }}",
                "{{ __salt_percent('%s' , (a), false) }}",
            ),
            (
                "{{ '100%%' % () }}",
                "{{ __salt_percent('100%%' , (), true) }}",
            ),
            (
                "{{ \"%(k)s\" % {'k': {'x': 1}} }}",
                "{{ __salt_percent(\"%(k)s\" , {'k': {'x': 1}}, false) }}",
            ),
            (
                "{{ 'a' 'b%s' % x.y['z'](1)|upper ~ 'c' }}",
                "{{ __salt_percent('a' 'b%s' , x.y['z'](1)|upper, false) ~ 'c' }}",
            ),
            (
                "{{ f('%s' % g('%d' % -n)) }}",
                "{{ f(__salt_percent('%s' , g(__salt_percent('%d' , -n, false)), false)) }}",
            ),
            // Numeric modulo, a literal that is not the left operand, text,
            // comments and raw blocks stay as they are.
            (
                "{{ n % 2 }} {{ x * '%s' % y }}",
                "{{ n % 2 }} {{ x * '%s' % y }}",
            ),
            ("'%s' % x {# '%s' % x #}", "'%s' % x {# '%s' % x #}"),
            (
                "{% raw %}{{ '%s' % x }}{% endraw %}",
                "{% raw %}{{ '%s' % x }}{% endraw %}",
            ),
            (
                "{{ 'it''s %s %}' % x }}",
                "{{ __salt_percent('it''s %s %}' , x, false) }}",
            ),
        ];
        for (source, expected) in cases {
            assert_eq!(preprocess(source), expected, "{source}");
        }
    }

    #[test]
    fn render_preprocess_percent_keeps_lines() {
        let source = "{{ '%s\\n%s' %\n  (a,\n   b) }}\nline";
        let out = preprocess(source);
        assert_eq!(
            out,
            "{{ __salt_percent('%s\\n%s' ,\n  (a,\n   b), true) }}\nline"
        );
        assert_eq!(out.lines().count(), source.lines().count());
    }
}
