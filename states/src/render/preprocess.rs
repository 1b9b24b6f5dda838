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
//!   (Python's `%` formatting, `percent.rs`; minijinja's `%` is numeric only);
//! - `x|attr('name')(args)` → `x.name(args)` (`(x|f).name(args)` after filters);
//! - `{% do <expr> %}` → `{% do __salt_discard(<expr>) %}`: minijinja's `do`
//!   takes only a call, Jinja's any expression (`x.pop('k') if c`);
//! - `{% include X [ignore missing] without context %}` → `{{ __salt_include(X, ignore) }}`;
//! - a macro whose body uses `varargs`/`kwargs` → a hidden macro taking
//!   them, wrapped by `__salt_varargs_macro` under the macro's name (`calls.rs`).
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
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

/// Salt's extension tags, found where a `{%` opens one and matched by hand
/// (`salt_tag`). They were a regular expression; compiling it was a tenth of
/// a formula's render, and the test `salt_tags_match_as_the_expression_did`
/// keeps the two in step. What the expression was, and so what is matched
/// (`\s` is Unicode whitespace; `[^%]` is any byte but `%`):
///
/// ```text
/// \{%(?P<l>[-+]?)\s*(?:
///     import_(?P<ikind>yaml|json|text)\s+(?P<src>(?:[^%]|%[^}])+?)\s+as\s+(?P<iname>NAME)
///   | load_(?P<lkind>yaml|json|text)\s+as\s+(?P<lname>NAME)
///   | (?P<end>endload)
///   | set\s+(?P<sname>NAME(?:\.NAME)?)\s*=\s*(?P<literal>(?:[^%\s]|%[^}])(?:[^%]|%[^}])*?)
/// )\s*(?P<r>[-+]?)%\}
/// ```
///
/// The lazy `src` and `literal` end at the first place where the rest
/// matches; since neither can hold a `%}`, looking never goes past the next
/// one.
struct SaltTag<'a> {
    /// The whole tag: from its `{%` to after its `%}`.
    start: usize,
    end: usize,
    /// Whitespace control marks (`-`, `+` or "").
    left: &'a str,
    right: &'a str,
    kind: SaltTagKind<'a>,
}

enum SaltTagKind<'a> {
    Import {
        kind: &'a str,
        src: &'a str,
        name: &'a str,
    },
    Load {
        kind: &'a str,
        name: &'a str,
    },
    EndLoad,
    Set {
        name: &'a str,
        literal: &'a str,
    },
}

/// The Salt tag whose `{%` is at `start`, if one is.
fn salt_tag(s: &str, start: usize) -> Option<SaltTag<'_>> {
    let b = s.as_bytes();
    let mut i = start + 2;
    let left_end = if matches!(b.get(i), Some(b'-' | b'+')) {
        i + 1
    } else {
        i
    };
    let left = &s[i..left_end];
    i = skip_space(s, left_end);
    let rest = &s[i..];
    let (kind, tail) = if let Some(after) = rest.strip_prefix("import_") {
        import_tag(s, i + rest.len() - after.len())?
    } else if let Some(after) = rest.strip_prefix("load_") {
        load_tag(s, i + rest.len() - after.len())?
    } else if rest.starts_with("endload") {
        (SaltTagKind::EndLoad, i + "endload".len())
    } else if rest.starts_with("set") {
        return set_tag(s, start, left, i + "set".len());
    } else {
        return None;
    };
    let (right, end) = tag_close(s, tail)?;
    Some(SaltTag {
        start,
        end,
        left,
        right,
        kind,
    })
}

/// `yaml|json|text\s+SRC\s+as\s+NAME` from `i`, the shortest SRC that
/// lets the tag close; what follows NAME.
fn import_tag(s: &str, i: usize) -> Option<(SaltTagKind<'_>, usize)> {
    let (kind, i) = data_kind(s, i)?;
    let src_start = required_space(s, i)?;
    let mut at = src_start;
    loop {
        at = lazy_unit_end(s.as_bytes(), at)?;
        let Some(name_start) = required_space(s, at)
            .and_then(|j| s[j..].starts_with("as").then_some(j + 2))
            .and_then(|j| required_space(s, j))
        else {
            continue;
        };
        let Some(name_end) = name_end(s, name_start) else {
            continue;
        };
        if tag_close(s, name_end).is_some() {
            let kind = SaltTagKind::Import {
                kind,
                src: &s[src_start..at],
                name: &s[name_start..name_end],
            };
            return Some((kind, name_end));
        }
    }
}

/// `yaml|json|text\s+as\s+NAME` from `i`; what follows NAME.
fn load_tag(s: &str, i: usize) -> Option<(SaltTagKind<'_>, usize)> {
    let (kind, i) = data_kind(s, i)?;
    let i = required_space(s, i)?;
    let i = s[i..].starts_with("as").then_some(i + 2)?;
    let name_start = required_space(s, i)?;
    let end = name_end(s, name_start)?;
    let name = &s[name_start..end];
    Some((SaltTagKind::Load { kind, name }, end))
}

/// `\s+NAME(.NAME)?\s*=\s*LITERAL` from `i` up to the close, with the
/// shortest LITERAL that lets the tag close.
fn set_tag<'a>(s: &'a str, start: usize, left: &'a str, i: usize) -> Option<SaltTag<'a>> {
    let b = s.as_bytes();
    let name_start = required_space(s, i)?;
    let mut end = name_end(s, name_start)?;
    if b.get(end) == Some(&b'.')
        && let Some(attr_end) = name_end(s, end + 1)
    {
        end = attr_end;
    }
    let name = &s[name_start..end];
    let i = skip_space(s, end);
    let literal_start = skip_space(s, (b.get(i) == Some(&b'=')).then_some(i + 1)?);
    // The first unit is no ASCII whitespace (`(?-u:[^%\s])`).
    let mut at = match b.get(literal_start)? {
        b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' => return None,
        _ => lazy_unit_end(b, literal_start)?,
    };
    loop {
        if let Some((right, tag_end)) = tag_close(s, at) {
            return Some(SaltTag {
                start,
                end: tag_end,
                left,
                right,
                kind: SaltTagKind::Set {
                    name,
                    literal: &s[literal_start..at],
                },
            });
        }
        at = lazy_unit_end(b, at)?;
    }
}

/// `yaml`, `json` or `text` at `i`, and what follows.
fn data_kind(s: &str, i: usize) -> Option<(&str, usize)> {
    let kind = s.get(i..i + 4)?;
    matches!(kind, "yaml" | "json" | "text").then_some((kind, i + 4))
}

/// The end of one unit of a lazy `src`/`literal` starting at `i`: a byte
/// other than `%`, or `%` and a byte other than `}`; `None` at a `%}` or
/// the end of the text.
fn lazy_unit_end(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'%' => b.get(i + 1).filter(|&&next| next != b'}').map(|_| i + 2),
        _ => Some(i + 1),
    }
}

/// `\s*([-+]?)%}` at `i`: the right control mark and the end of the tag.
fn tag_close(s: &str, i: usize) -> Option<(&str, usize)> {
    let i = skip_space(s, i);
    let mark_end = if matches!(s.as_bytes().get(i), Some(b'-' | b'+')) {
        i + 1
    } else {
        i
    };
    // `i` may fall inside a character (the units are bytes): compare bytes.
    (s.as_bytes().get(mark_end..mark_end + 2) == Some(b"%}"))
        .then(|| (&s[i..mark_end], mark_end + 2))
}

/// Past the Unicode whitespace at `i` (none when `i` is inside a character).
fn skip_space(s: &str, mut i: usize) -> usize {
    while let Some(c) = s.get(i..).and_then(|rest| rest.chars().next()) {
        if !c.is_whitespace() {
            break;
        }
        i += c.len_utf8();
    }
    i
}

/// Past at least one whitespace character at `i`.
fn required_space(s: &str, i: usize) -> Option<usize> {
    let end = skip_space(s, i);
    (end > i).then_some(end)
}

/// The end of `[A-Za-z_][A-Za-z0-9_]*` at `i`.
fn name_end(s: &str, i: usize) -> Option<usize> {
    let b = s.as_bytes();
    if !b
        .get(i)
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
    {
        return None;
    }
    let len = b[i..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    Some(i + len)
}

/// How many rewritten templates [`preprocessed`] keeps, and their total
/// size; past either it starts afresh.
const REMEMBERED_TEMPLATES: usize = 512;
const REMEMBERED_BYTES: usize = 16 << 20;

/// Rewritten templates by their source text, for the life of the process.
#[derive(Default)]
struct Remembered {
    by_source: HashMap<String, Arc<str>>,
    bytes: usize,
}

/// [`preprocess`]d `source`, remembered by its text: a state run renders
/// the same imported templates (a formula's `map.jinja`, its defaults)
/// once for every SLS file that imports them.
pub(crate) fn preprocessed(source: &str) -> String {
    static REMEMBERED: LazyLock<Mutex<Remembered>> = LazyLock::new(Mutex::default);
    let lock = || REMEMBERED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(done) = lock().by_source.get(source) {
        return done.to_string();
    }
    let done: Arc<str> = Arc::from(preprocess(source));
    let mut remembered = lock();
    let size = source.len() + done.len();
    if remembered.by_source.len() >= REMEMBERED_TEMPLATES
        || remembered.bytes + size > REMEMBERED_BYTES
    {
        *remembered = Remembered::default();
    }
    remembered.bytes += size;
    remembered.by_source.insert(source.to_owned(), done.clone());
    done.to_string()
}

/// Rewrites Salt's extension tags in `source` into plain Jinja.
pub(crate) fn preprocess(source: &str) -> Cow<'_, str> {
    let formatted = rewrite_expressions(source);
    match rewrite_salt_tags(&formatted) {
        Some(rewritten) => Cow::Owned(rewritten),
        None => formatted,
    }
}

/// `text` with every Salt tag in plain Jinja; `None` when it has none.
fn rewrite_salt_tags(text: &str) -> Option<String> {
    let mut open_loads: Vec<(&str, &str)> = Vec::new();
    let mut out = String::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some(start) = find_from(text, from, "{%") {
        let Some(tag) = salt_tag(text, start) else {
            from = start + 1;
            continue;
        };
        out.push_str(&text[copied..start]);
        rewrite(text, &tag, &mut open_loads, &mut out);
        copied = tag.end;
        from = tag.end;
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// Appends the plain Jinja for `tag` to `out`.
fn rewrite<'a>(
    text: &'a str,
    tag: &SaltTag<'a>,
    open_loads: &mut Vec<(&'a str, &'a str)>,
    out: &mut String,
) {
    use std::fmt::Write;
    let (left, right) = (tag.left, tag.right);
    // Writing to a String cannot fail.
    let _ = match tag.kind {
        SaltTagKind::Import { kind, src, name } => write!(
            out,
            "{{%{left} set {name} = __salt_import_{kind}({src}) {right}%}}"
        ),
        SaltTagKind::Load { kind, name } => {
            open_loads.push((kind, name));
            write!(out, "{{%{left} set {name} {right}%}}")
        }
        SaltTagKind::EndLoad => match open_loads.pop() {
            Some((kind, name)) => write!(
                out,
                "{{%{left} endset %}}{{% set {name} = __salt_load_{kind}({name}) {right}%}}"
            ),
            // An `endload` without `load_*`: left for the parser to report.
            None => write!(out, "{}", &text[tag.start..tag.end]),
        },
        SaltTagKind::Set { name, literal } => write!(
            out,
            "{{%{left} set {name} = __salt_mutable({literal}) {right}%}}"
        ),
    };
}

/// Rewrites the expressions of every `{{ }}` and `{% %}` body: `%`
/// formatting, `|attr('name')(...)` calls, `include ... without context`
/// and macros that use `varargs`/`kwargs`.
fn rewrite_expressions(source: &str) -> Cow<'_, str> {
    if !source.contains("{{") && !source.contains("{%") {
        return Cow::Borrowed(source);
    }
    let bytes = source.as_bytes();
    let mut edits: Vec<Edit> = Vec::new();
    let mut macros: Vec<OpenMacro> = Vec::new();
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
                // Whitespace control marks are not part of the expression.
                let body_start = if matches!(bytes.get(start), Some(b'-' | b'+')) {
                    start + 1
                } else {
                    start
                };
                let right_ctrl = end > body_start && matches!(bytes[end - 1], b'-' | b'+');
                let body_end = if right_ctrl { end - 1 } else { end };
                let tokens = tokenize(&source[body_start..body_end], body_start);
                let do_tag = block
                    && tokens.len() > 1
                    && tokens[0].kind == Kind::Name
                    && tokens[0].text == "do";
                if do_tag {
                    edits.push(Edit {
                        at: tokens[1].start,
                        remove: 0,
                        text: "__salt_discard(".into(),
                    });
                }
                find_percents(&tokens, &mut edits);
                find_attr_calls(source, &tokens, &mut edits);
                if let Some(last) = tokens.last().filter(|_| do_tag) {
                    edits.push(Edit {
                        at: last.end,
                        remove: 0,
                        text: ")".into(),
                    });
                }
                if block {
                    let tag = BlockTag {
                        open: i,
                        end,
                        right: if right_ctrl {
                            &source[end - 1..end]
                        } else {
                            ""
                        },
                    };
                    include_without_context(source, &tag, &tokens, &mut edits);
                    track_macros(&tag, &tokens, &mut macros, &mut edits);
                } else {
                    mark_macro_names(&tokens, &mut macros);
                }
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
        if edit.at < last {
            // Overlapping edits cannot happen for well-formed input; keep
            // the text rather than corrupt it.
            continue;
        }
        out.push_str(&source[last..edit.at]);
        out.push_str(&edit.text);
        last = edit.at + edit.remove;
    }
    out.push_str(&source[last..]);
    Cow::Owned(out)
}

/// A `{% %}` tag: where its `{%` starts, where its closing `%}` starts, and
/// its right whitespace control mark (`-`, `+` or none).
struct BlockTag<'a> {
    open: usize,
    end: usize,
    right: &'a str,
}

/// The newlines in `text`, so a replacement keeps the line count.
fn newlines(text: &str) -> String {
    "\n".repeat(text.matches('\n').count())
}

/// `x|attr('name')(args)` → `x.name(args)`: minijinja's `attr` gives
/// attributes, not methods. The call binds to the value the filter
/// applies to: `x|f|attr('n')()` and `-x|attr('n')()` get parentheses,
/// `(x|f).n()`; where that value is unclear nothing is rewritten.
fn find_attr_calls(source: &str, tokens: &[Token<'_>], edits: &mut Vec<Edit>) {
    for i in 1..tokens.len() {
        let window = tokens.get(i..i + 5);
        let Some([pipe, attr, open, name, close]) = window else {
            break;
        };
        if !(pipe.kind == Kind::Op
            && pipe.text == "|"
            && attr.kind == Kind::Name
            && attr.text == "attr"
            && open.kind == Kind::Open(b'(')
            && open.close == Some(i + 4)
            && name.kind == Kind::Str
            && close.kind == Kind::Close
            && tokens
                .get(i + 5)
                .is_some_and(|t| t.kind == Kind::Open(b'(')))
        {
            continue;
        }
        let ident = &name.text[1..name.text.len().saturating_sub(1).max(1)];
        let valid = !ident.is_empty()
            && !ident.starts_with(|c: char| c.is_ascii_digit())
            && ident.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
        if !valid {
            continue;
        }
        let Some((start, compound)) = operand_start(tokens, i) else {
            continue;
        };
        let span = &source[pipe.start..close.end];
        if compound {
            edits.push(Edit {
                at: tokens[start].start,
                remove: 0,
                text: "(".into(),
            });
        }
        edits.push(Edit {
            at: pipe.start,
            remove: span.len(),
            text: format!(
                "{}.{ident}{}",
                if compound { ")" } else { "" },
                newlines(span)
            ),
        });
    }
}

/// Where the operand a filter at index `pipe` applies to starts: a
/// primary and its postfixes, earlier filters of the same chain, a unary
/// sign; and whether that is more than a primary with postfixes (so it
/// needs parentheses to take a method call). `None` when it is not clear.
fn operand_start(tokens: &[Token<'_>], pipe: usize) -> Option<(usize, bool)> {
    let mut j = pipe;
    let mut compound = false;
    loop {
        let prev = j.checked_sub(1)?;
        let token = &tokens[prev];
        let start = match token.kind {
            Kind::Close => tokens[..prev].iter().rposition(|t| t.close == Some(prev))?,
            Kind::Name | Kind::Number | Kind::Str => prev,
            Kind::Open(_) | Kind::Op => return None,
        };
        let before = start.checked_sub(1).map(|b| &tokens[b]);
        let postfix = match (token.kind, before) {
            (Kind::Name | Kind::Number, Some(b)) => b.kind == Kind::Op && b.text == ".",
            (Kind::Close, Some(b)) => {
                tokens[start].kind != Kind::Open(b'{')
                    && matches!(b.kind, Kind::Name | Kind::Str | Kind::Close)
                    && !is_keyword(b)
            }
            (Kind::Str, Some(b)) => b.kind == Kind::Str,
            _ => false,
        };
        if postfix {
            j = if matches!(token.kind, Kind::Name | Kind::Number) {
                start - 1
            } else {
                start
            };
            continue;
        }
        match before {
            // An earlier filter of the chain: `x|f|attr(...)`.
            Some(b) if b.kind == Kind::Op && b.text == "|" => {
                compound = true;
                j = start - 1;
            }
            Some(b) if b.kind == Kind::Op && (b.text == "-" || b.text == "+") => {
                let unary = start < 2 || {
                    let t = &tokens[start - 2];
                    matches!(t.kind, Kind::Op | Kind::Open(_)) || is_keyword(t)
                };
                return unary.then_some((start - 1, true));
            }
            Some(b) if b.kind == Kind::Op && b.text == "." => return None,
            Some(b) if b.kind == Kind::Name && b.text == "is" => return None,
            _ => return Some((start, compound)),
        }
    }
}

fn is_keyword(token: &Token<'_>) -> bool {
    token.kind == Kind::Name
        && matches!(
            token.text,
            "and"
                | "or"
                | "not"
                | "in"
                | "is"
                | "if"
                | "else"
                | "set"
                | "do"
                | "for"
                | "elif"
                | "with"
                | "return"
                | "include"
                | "import"
                | "from"
        )
}

/// `{% include X [ignore missing] without context %}` →
/// `{{ __salt_include(X, ignore) }}`: the template renders with the
/// globals only, as Jinja renders it without the including template's
/// variables.
fn include_without_context(
    source: &str,
    tag: &BlockTag<'_>,
    tokens: &[Token<'_>],
    edits: &mut Vec<Edit>,
) {
    let n = tokens.len();
    if n < 4
        || tokens[0].text != "include"
        || tokens[n - 2].text != "without"
        || tokens[n - 1].text != "context"
    {
        return;
    }
    let mut last = n - 3;
    let ignore = last >= 2 && tokens[last].text == "missing" && tokens[last - 1].text == "ignore";
    if ignore {
        last -= 2;
    }
    if last < 1 {
        return;
    }
    let template = &source[tokens[1].start..tokens[last].end];
    let left = source.get(tag.open + 2..tokens[0].start).unwrap_or("");
    let left = if left.starts_with(['-', '+']) {
        &left[..1]
    } else {
        ""
    };
    let original = &source[tag.open..tag.end + 2];
    edits.push(Edit {
        at: tag.open,
        remove: original.len(),
        text: format!(
            "{{{{{left} __salt_include({template}, {ignore}) {right}}}}}{}",
            newlines(&source[tag.open..tokens[1].start])
                + &newlines(&source[tokens[last].end..tag.end]),
            right = tag.right,
        ),
    });
}

/// A `{% macro %}` not yet closed: where its name is, where its parameter
/// list closes, and whether its body uses `varargs` or `kwargs`.
struct OpenMacro {
    name: String,
    name_at: usize,
    params_close: usize,
    params_empty: bool,
    uses_extra: bool,
}

fn mark_macro_names(tokens: &[Token<'_>], macros: &mut [OpenMacro]) {
    if let Some(open) = macros.last_mut()
        && tokens
            .iter()
            .any(|t| t.kind == Kind::Name && (t.text == "varargs" || t.text == "kwargs"))
    {
        open.uses_extra = true;
    }
}

/// Macros whose body uses `varargs` or `kwargs` (minijinja has neither):
/// `{% macro m(a) %}...{% endmacro %}` →
/// `{% macro __salt_m_m(a, varargs=none, kwargs=none) %}...{% endmacro %}{% set m = __salt_varargs_macro(__salt_m_m) %}`;
/// the wrapper passes the declared arguments on and the rest as
/// `varargs` (a list) and `kwargs` (a dict), as Jinja does.
fn track_macros(
    tag: &BlockTag<'_>,
    tokens: &[Token<'_>],
    macros: &mut Vec<OpenMacro>,
    edits: &mut Vec<Edit>,
) {
    match tokens.first().map(|t| t.text) {
        Some("macro") => {
            if let (Some(name), Some(open)) = (tokens.get(1), tokens.get(2))
                && name.kind == Kind::Name
                && open.kind == Kind::Open(b'(')
                && let Some(close) = open.close
            {
                mark_macro_names(tokens, macros);
                macros.push(OpenMacro {
                    name: name.text.to_owned(),
                    name_at: name.start,
                    params_close: tokens[close].start,
                    params_empty: close == 3,
                    uses_extra: false,
                });
            }
        }
        Some("endmacro") => {
            let Some(open) = macros.pop() else { return };
            if !open.uses_extra {
                return;
            }
            let hidden = format!("__salt_m_{}", open.name);
            edits.push(Edit {
                at: open.name_at,
                remove: open.name.len(),
                text: hidden.clone(),
            });
            edits.push(Edit {
                at: open.params_close,
                remove: 0,
                text: if open.params_empty {
                    "varargs=none, kwargs=none".into()
                } else {
                    ", varargs=none, kwargs=none".into()
                },
            });
            edits.push(Edit {
                at: tag.end + 2,
                remove: 0,
                text: format!(
                    "{{% set {} = __salt_varargs_macro({hidden}) {}%}}",
                    open.name, tag.right
                ),
            });
        }
        _ => mark_macro_names(tokens, macros),
    }
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
    fn a_remembered_template_is_the_same_rewrite() {
        let source = "{% import_yaml 'x.yaml' as d %}{{ '%s' % d }}";
        let first = preprocessed(source);
        assert_eq!(first, preprocess(source));
        assert_eq!(preprocessed(source), first, "from memory");
        assert_eq!(
            preprocessed("{{ 1 }}"),
            "{{ 1 }}",
            "another text is its own"
        );
    }

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

    /// The regular expression the tags were matched with before
    /// `salt_tag`, replaced the same way, on every text the tests below
    /// and the fragments here make: the same rewrite.
    #[test]
    fn salt_tags_match_as_the_expression_did() {
        let expression = regex::bytes::Regex::new(concat!(
            r"(?s)\{%(?P<l>[-+]?)\s*(?:",
            r"import_(?P<ikind>yaml|json|text)\s+(?P<src>(?:(?-u:[^%])|%(?-u:[^}]))+?)\s+as\s+(?P<iname>[A-Za-z_][A-Za-z0-9_]*)",
            r"|load_(?P<lkind>yaml|json|text)\s+as\s+(?P<lname>[A-Za-z_][A-Za-z0-9_]*)",
            r"|(?P<end>endload)",
            r"|set\s+(?P<sname>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)\s*=\s*(?P<literal>(?:(?-u:[^%\s])|%(?-u:[^}]))(?:(?-u:[^%])|%(?-u:[^}]))*?)",
            r")\s*(?P<r>[-+]?)%\}",
        ))
        .expect("the old expression compiles");
        let by_expression = |text: &str| -> String {
            let mut open: Vec<(String, String)> = Vec::new();
            let out = expression.replace_all(text.as_bytes(), |c: &regex::bytes::Captures<'_>| {
                let g = |n: &str| {
                    c.name(n)
                        .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
                        .unwrap_or_default()
                };
                let (l, r) = (g("l"), g("r"));
                if c.name("ikind").is_some() {
                    let (k, src, name) = (g("ikind"), g("src"), g("iname"));
                    format!("{{%{l} set {name} = __salt_import_{k}({src}) {r}%}}")
                } else if c.name("lkind").is_some() {
                    open.push((g("lkind"), g("lname")));
                    format!("{{%{l} set {} {r}%}}", g("lname"))
                } else if c.name("end").is_some() {
                    match open.pop() {
                        Some((k, n)) => {
                            format!("{{%{l} endset %}}{{% set {n} = __salt_load_{k}({n}) {r}%}}")
                        }
                        None => String::from_utf8_lossy(&c[0]).into_owned(),
                    }
                } else {
                    format!(
                        "{{%{l} set {} = __salt_mutable({}) {r}%}}",
                        g("sname"),
                        g("literal")
                    )
                }
            });
            String::from_utf8(out.into_owned()).expect("whole UTF-8")
        };
        const FRAGMENTS: &[&str] = &[
            "{%",
            "%}",
            "{%-",
            "-%}",
            "+",
            "-",
            " ",
            "  ",
            "\n",
            "\t",
            "\u{a0}",
            "\u{2003}",
            "é",
            "日",
            "%",
            "}",
            "{",
            "%%",
            "import_yaml",
            "import_json",
            "import_text",
            "import_xml",
            "load_yaml",
            "load_text",
            "load_",
            "endload",
            "endloadx",
            "set",
            "settings",
            "as",
            "asx",
            "x",
            "_y1",
            "ns.a",
            "ns.",
            "1x",
            "=",
            "==",
            "'a.yaml'",
            "\"b c\"",
            "[]",
            "{'k': 1}",
            "a % b",
            "tpldir ~ '/x'",
            "endset",
        ];
        // A fixed linear congruential sequence: the same texts every run.
        let mut state: u64 = 0x5eed;
        let mut next = |below: usize| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(state >> 33).unwrap_or(0) % below
        };
        let mut texts: Vec<String> = vec![
            "{% import_yaml 'a/x.yaml' as x %}\n{%- load_json as j -%}\n{\"a\": 1}\n{%- endload %}"
                .into(),
            "{% set x = a %% b %}{% set y = 1 %}".into(),
            "{% set x = %}{% set y =  -%}{%set z=1%}{%- set ns.k = v +%}".into(),
            "{% import_yaml a as b as c %}{% import_yaml  x  as  y  -%}".into(),
            "{% endload %}{% load_text as t %}x{% endload %}{% endload %}".into(),
        ];
        for _ in 0..20_000 {
            let len = 1 + next(14);
            texts.push((0..len).map(|_| FRAGMENTS[next(FRAGMENTS.len())]).collect());
        }
        for text in &texts {
            let out = rewrite_salt_tags(text).unwrap_or_else(|| text.clone());
            assert_eq!(out, by_expression(text), "for {text:?}");
        }
    }

    /// The tag expression works on bytes: text outside ASCII, in and
    /// around the tags (Unicode spaces included), comes through whole.
    #[test]
    fn render_preprocess_keeps_text_outside_ascii_whole() {
        let source = "ü {% import_yaml 'dé/x.yaml' as x %}\u{a0}{% set s = 'ça • 日本'\u{a0}%}{%\u{2003}set t\u{a0}=\u{a0}'€' %} ö";
        assert_eq!(
            preprocess(source),
            "ü {% set x = __salt_import_yaml('dé/x.yaml') %}\u{a0}{% set s = __salt_mutable('ça • 日本') %}{% set t = __salt_mutable('€') %} ö"
        );
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

#[cfg(test)]
mod rewrite_tests {
    use super::*;

    #[test]
    fn render_preprocess_rewrites_attr_calls_where_sound() {
        let cases = [
            ("{{ d|attr('get')('a') }}", "{{ d.get('a') }}"),
            ("{{ x.y[0]|attr('keys')() }}", "{{ x.y[0].keys() }}"),
            ("{{ s|upper|attr('lower')() }}", "{{ (s|upper).lower() }}"),
            ("{{ -n|attr('real')() }}", "{{ (-n).real() }}"),
            // Not a call, or not a name: left for minijinja.
            ("{{ d|attr('get') }}", "{{ d|attr('get') }}"),
            ("{{ d|attr('no-name')() }}", "{{ d|attr('no-name')() }}"),
        ];
        for (source, expected) in cases {
            assert_eq!(preprocess(source), expected, "{source}");
        }
    }

    #[test]
    fn render_preprocess_rewrites_include_without_context_and_varargs() {
        assert_eq!(
            preprocess("{%- include ['a', 'b'] ignore missing without context -%}\nx"),
            "{{- __salt_include(['a', 'b'], true) -}}\nx"
        );
        assert_eq!(
            preprocess("{% include 'a' with context %}"),
            "{% include 'a' with context %}"
        );
        let source =
            "{% macro m(a) -%}\n{{ varargs }}{% endmacro -%}\n{% macro n() %}{% endmacro %}";
        let out = preprocess(source);
        assert_eq!(
            out,
            "{% macro __salt_m_m(a, varargs=none, kwargs=none) -%}\n{{ varargs }}{% endmacro -%}\
             {% set m = __salt_mutable(__salt_varargs_macro(__salt_m_m)) -%}\n{% macro n() %}{% endmacro %}"
        );
        assert_eq!(out.lines().count(), source.lines().count());
    }
}
