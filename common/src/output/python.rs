//! Python's spellings of JSON values, for the outputters that print what
//! Python would print.
//!
//! Salt's `raw` outputter is `str(data)` and its `txt` outputter formats values
//! with `str()`, and `nested` prints numbers with `repr()`. Users grep and diff
//! that output, so we reproduce CPython 3's rules exactly where JSON values can
//! reach them: `True`/`False`/`None`, quoting and escaping of `str`, shortest
//! round-trip floats with Python's switch to exponent notation, and the line
//! splitting and whitespace rules of `str.splitlines()` and `str.rstrip()`.

use serde_json::{Number, Value};

/// Python's truthiness, `bool(value)`: `None`, `False`, `0`, `""`, `[]` and
/// `{}` are false. Salt's other readings of truth are in [`crate::truth`].
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// `repr(value)` of the Python object the JSON value decodes to:
/// `None`, `True`, `1`, `1.5`, `'text'`, `[1, 2]`, `{'a': 1}`.
///
/// Dict keys keep their order, as a Python 3.7+ dict does.
pub fn repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, value);
    out
}

/// `str(value)`: a string as it is, anything else as [`repr`]. This is what
/// Python's `format()` prints for a value inside a message.
pub fn to_str(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => repr(other),
    }
}

fn write_repr(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(number) => out.push_str(&number_repr(number)),
        Value::String(text) => out.push_str(&str_repr(text)),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_repr(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (index, (key, item)) in map.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                match crate::typed_key::TypedKey::parse(key) {
                    Some(typed) => out.push_str(typed.python()),
                    None => out.push_str(&str_repr(key)),
                }
                out.push_str(": ");
                write_repr(out, item);
            }
            out.push('}');
        }
    }
}

/// `repr()` of a JSON number: integers in decimal, floats as [`float_repr`].
pub fn number_repr(number: &Number) -> String {
    if let Some(int) = number.as_i64() {
        int.to_string()
    } else if let Some(int) = number.as_u64() {
        int.to_string()
    } else if let Some(float) = number.as_f64() {
        float_repr(float)
    } else {
        // Only reachable with serde_json's arbitrary_precision feature.
        number.to_string()
    }
}

/// `repr(float)` in Python 3: the shortest digits that read back to the same
/// value, in positional notation when the decimal exponent is in -4..16 (always
/// with a fractional part, `5.0`), otherwise as `1e-05` / `1.5e+16`.
pub fn float_repr(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let scientific = shortest_scientific(value);
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let body = if (-4..16).contains(&exponent) {
        positional(&digits, exponent)
    } else {
        exponential(&digits, exponent)
    };
    format!("{sign}{body}")
}

/// The fewest digits that read back as `value`, as Rust's `{:e}` writes them
/// ("1.2345e-5"), choosing like Python when two candidates are equally near.
///
/// Rust's `{:e}` finds the shortest digit count, but when the exact value lies
/// halfway between two such candidates (960948980595587.25 with 16 digits) it
/// rounds up, where Python rounds half to even. Rust's fixed-precision
/// formatting is correctly rounded half-to-even, so we redo the digits at
/// that precision and keep them if they still read back as `value`.
fn shortest_scientific(value: f64) -> String {
    let shortest = format!("{value:e}");
    let digit_count = shortest.split('e').next().map_or(1, |mantissa| {
        mantissa.chars().filter(char::is_ascii_digit).count()
    });
    let rounded = format!("{value:.*e}", digit_count.saturating_sub(1));
    if rounded.parse::<f64>() == Ok(value) {
        rounded
    } else {
        shortest
    }
}

/// `digits` × 10^(exponent - len + 1) written out, e.g. ("808", 0) -> "8.08".
fn positional(digits: &str, exponent: i32) -> String {
    match usize::try_from(exponent) {
        Ok(exponent) => {
            let point = exponent + 1;
            if digits.len() <= point {
                format!("{digits}{}.0", "0".repeat(point - digits.len()))
            } else {
                format!("{}.{}", &digits[..point], &digits[point..])
            }
        }
        Err(_) => {
            let zeros = usize::try_from(-exponent - 1).unwrap_or(0);
            format!("0.{}{digits}", "0".repeat(zeros))
        }
    }
}

/// Python's exponent layout: no ".0" for one digit, a sign and at least two
/// exponent digits ("1e-05", "1.5e+16").
fn exponential(digits: &str, exponent: i32) -> String {
    let (first, rest) = digits.split_at(1);
    let sign = if exponent < 0 { '-' } else { '+' };
    let magnitude = exponent.unsigned_abs();
    if rest.is_empty() {
        format!("{first}e{sign}{magnitude:02}")
    } else {
        format!("{first}.{rest}e{sign}{magnitude:02}")
    }
}

/// Python's `str.center(width, fill)` (the odd space goes where CPython puts it).
pub fn center(text: &str, width: usize, fill: char) -> String {
    let len = text.chars().count();
    if width <= len {
        return text.to_owned();
    }
    let margin = width - len;
    let left = margin / 2 + (margin & width & 1);
    let pad = |n: usize| std::iter::repeat_n(fill, n).collect::<String>();
    format!("{}{text}{}", pad(left), pad(margin - left))
}

/// Python's `textwrap.wrap(text, width)` with its defaults: whitespace
/// characters become spaces (runs are kept inside a line, dropped at line
/// ends), words fill lines greedily, a hyphenated word may break after its
/// hyphens, and a word too long for the line is cut to fill it.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut chunks: Vec<String> = wrap_chunks(text);
    chunks.reverse();
    let mut lines = Vec::new();
    while !chunks.is_empty() {
        let mut line: Vec<String> = Vec::new();
        let mut used = 0;
        if !lines.is_empty() && chunks.last().is_some_and(|c| c.trim().is_empty()) {
            chunks.pop();
        }
        while let Some(next) = chunks.last() {
            let len = next.chars().count();
            if used + len > width {
                break;
            }
            used += len;
            line.extend(chunks.pop());
        }
        if chunks.last().is_some_and(|c| c.chars().count() > width) {
            cut_long_word(&mut chunks, &mut line, width.saturating_sub(used).max(1));
        }
        if line.last().is_some_and(|c| c.trim().is_empty()) {
            line.pop();
        }
        if !line.is_empty() {
            lines.push(line.concat());
        }
    }
    lines
}

/// textwrap's chunks: runs of spaces, and words split after each hyphen
/// between two letters (`well-known` -> `well-`, `known`).
fn wrap_chunks(text: &str) -> Vec<String> {
    let chars: Vec<char> = text
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    let mut chunks = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let boundary = current.ends_with(' ') != (c == ' ');
        if boundary && !current.is_empty() {
            chunks.push(std::mem::take(&mut current));
        }
        current.push(c);
        let hyphen_break = c == '-'
            && i > 0
            && chars[i - 1].is_alphabetic()
            && chars.get(i + 1).is_some_and(|n| n.is_alphabetic());
        if hyphen_break {
            chunks.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// textwrap's `_handle_long_word`: as much of the next chunk as fits
/// (up to its last hyphen in that space, if any).
fn cut_long_word(chunks: &mut [String], line: &mut Vec<String>, space: usize) {
    let Some(word) = chunks.last_mut() else {
        return;
    };
    let chars: Vec<char> = word.chars().collect();
    let mut end = space.min(chars.len());
    if let Some(h) = chars[..end].iter().rposition(|&c| c == '-')
        && h > 0
        && chars[..h].iter().any(|&c| c != '-')
    {
        end = h + 1;
    }
    line.push(chars[..end].iter().collect());
    *word = chars[end..].iter().collect();
}

/// `repr(str)`: single quotes unless the text has a `'` and no `"`; escapes
/// for the backslash, the chosen quote, `\t` `\n` `\r`, and `\xNN`/`\uNNNN`/
/// `\UNNNNNNNN` for characters Python does not consider printable.
pub fn str_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c => out.push_str(&hex_escape(c)),
        }
    }
    out.push(quote);
    out
}

fn hex_escape(ch: char) -> String {
    let code = u32::from(ch);
    if code <= 0xff {
        format!("\\x{code:02x}")
    } else if code <= 0xffff {
        format!("\\u{code:04x}")
    } else {
        format!("\\U{code:08x}")
    }
}

/// Python's `str.isprintable()` for one character: false for control
/// characters, separators other than the ASCII space, format characters,
/// private-use code points and non-characters.
///
/// Python decides this from the full Unicode category table; we list the
/// categories' members that matter in practice (C0/C1 controls, spaces and
/// line/paragraph separators, the common format characters, private use).
/// Unassigned code points in the BMP and planes 1-2 are the one gap: Python
/// escapes them, we print them.
fn is_printable(ch: char) -> bool {
    let code = u32::from(ch);
    let not_printable = matches!(
        code,
        // Cc: C0 and C1 controls, DEL.
        0x00..=0x1f | 0x7f..=0x9f
        // Zs (except ' '), Zl, Zp.
        | 0xa0 | 0x1680 | 0x2000..=0x200a | 0x2028 | 0x2029 | 0x202f | 0x205f | 0x3000
        // Cf: soft hyphen, Arabic/Syriac marks, Mongolian vowel separator,
        // zero-width and directional marks, invisible operators, BOM,
        // interlinear annotations, and the astral format characters.
        | 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890 | 0x891 | 0x8e2 | 0x180e
        | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0x2066..=0x206f
        | 0xfeff | 0xfff9..=0xfffb | 0x110bd | 0x110cd | 0x13430..=0x1343f
        | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f
        // Co: private use.
        | 0xe000..=0xf8ff | 0xf0000..=0xffffd | 0x100000..=0x10fffd
        // Cn: non-characters, and the astral ranges no Unicode version has
        // assigned yet (the rest of plane 3, planes 4-13, most of plane 14).
        | 0xfdd0..=0xfdef | 0x323b0..=0xdffff | 0xe0080..=0xe00ff | 0xe01f0..=0xeffff
    ) || (code & 0xfffe) == 0xfffe;
    !not_printable
}

/// `str.splitlines()`: split at every line boundary Python knows (`\n`, `\r`,
/// `\r\n`, `\v`, `\f`, `\x1c`-`\x1e`, `\x85`, U+2028, U+2029), without the
/// boundaries, and without an empty last line after a trailing boundary.
/// `""` gives no lines at all.
pub fn splitlines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((index, ch)) = chars.next() {
        if !is_line_boundary(ch) {
            continue;
        }
        lines.push(&text[start..index]);
        start = index + ch.len_utf8();
        if ch == '\r' && chars.next_if(|&(_, next)| next == '\n').is_some() {
            start += 1;
        }
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

fn is_line_boundary(ch: char) -> bool {
    matches!(
        ch,
        '\n' | '\r'
            | '\x0b'
            | '\x0c'
            | '\x1c'
            | '\x1d'
            | '\x1e'
            | '\u{85}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// `str.rstrip()` with no argument: Python's whitespace is Unicode
/// `White_Space` plus the information separators `\x1c`-`\x1f`.
pub fn rstrip(text: &str) -> &str {
    text.trim_end_matches(|ch: char| ch.is_whitespace() || ('\x1c'..='\x1f').contains(&ch))
}

/// Python's type name of a JSON value (for Python's `TypeError` messages).
pub fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_fills_lines_as_textwrap_does() {
        assert_eq!(
            wrap("THIS FILE IS MANAGED BY SALT - DO NOT EDIT", 20),
            ["THIS FILE IS MANAGED", "BY SALT - DO NOT", "EDIT"]
        );
        assert_eq!(
            wrap("a  well-known   word", 8),
            ["a  well-", "known", "word"]
        );
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("ab cdefghijkl", 5), ["ab cd", "efghi", "jkl"]);
        assert!(wrap("   ", 5).is_empty());
    }
    use serde_json::json;

    #[test]
    fn scalars_use_python_spelling() {
        assert_eq!(repr(&json!(null)), "None");
        assert_eq!(repr(&json!(true)), "True");
        assert_eq!(repr(&json!(false)), "False");
        assert_eq!(repr(&json!(42)), "42");
        assert_eq!(repr(&json!(-7)), "-7");
        assert_eq!(repr(&json!(u64::MAX)), "18446744073709551615");
    }

    #[test]
    fn containers_match_python_repr() {
        assert_eq!(repr(&json!([])), "[]");
        assert_eq!(repr(&json!({})), "{}");
        assert_eq!(repr(&json!([1, "a", null])), "[1, 'a', None]");
        assert_eq!(
            repr(&json!({"b": {"c": [true, 1.5]}, "a": 1})),
            "{'b': {'c': [True, 1.5]}, 'a': 1}"
        );
    }

    #[test]
    fn str_repr_picks_quotes_like_python() {
        assert_eq!(str_repr("plain"), "'plain'");
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(str_repr("say \"hi\""), "'say \"hi\"'");
        assert_eq!(str_repr("both ' and \""), "'both \\' and \"'");
        assert_eq!(str_repr(""), "''");
    }

    #[test]
    fn str_repr_escapes_like_python() {
        assert_eq!(str_repr("a\\b"), "'a\\\\b'");
        assert_eq!(str_repr("l1\nl2\tx\r"), "'l1\\nl2\\tx\\r'");
        assert_eq!(str_repr("\x1b[31m"), "'\\x1b[31m'");
        assert_eq!(str_repr("\x7f\u{85}\u{a0}"), "'\\x7f\\x85\\xa0'");
        assert_eq!(str_repr("\u{2028}\u{feff}"), "'\\u2028\\ufeff'");
        assert_eq!(str_repr("\u{10fffd}"), "'\\U0010fffd'");
        assert_eq!(str_repr("héllo ✓ 日本 🙂"), "'héllo ✓ 日本 🙂'");
    }

    #[test]
    fn float_repr_matches_python() {
        let cases = [
            (8.08, "8.08"),
            (5.0, "5.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (123.456, "123.456"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (-2.5e-300, "-2.5e-300"),
            (1e100, "1e+100"),
            // A tie between two shortest candidates: Python rounds half to even.
            (960_948_980_595_587.0 + 0.25, "960948980595587.2"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ];
        for (value, expected) in cases {
            assert_eq!(float_repr(value), expected, "repr({value:?})");
        }
    }

    #[test]
    fn splitlines_matches_python() {
        assert!(splitlines("").is_empty());
        assert_eq!(splitlines("one"), ["one"]);
        assert_eq!(splitlines("one\n"), ["one"]);
        assert_eq!(splitlines("\n"), [""]);
        assert_eq!(splitlines("a\n\nb"), ["a", "", "b"]);
        assert_eq!(
            splitlines("a\r\nb\rc\x0bd\u{2028}e"),
            ["a", "b", "c", "d", "e"]
        );
        assert_eq!(splitlines("a\r\n"), ["a"]);
        assert_eq!(splitlines("a\r\r\nb"), ["a", "", "b"]);
    }

    #[test]
    fn rstrip_matches_python() {
        assert_eq!(rstrip("a \t\n\x1c\u{a0}"), "a");
        assert_eq!(rstrip("  "), "");
        assert_eq!(rstrip(" a b "), " a b");
    }
}
