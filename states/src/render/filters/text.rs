//! Salt's text filters (`salt/utils/stringutils.py`, `salt/utils/jinja.py`)
//! and the Jinja built-ins minijinja lacks (`truncate`, `wordcount`,
//! `center`, `filesizeformat`), with Python's and Jinja2's exact rules.

use std::sync::LazyLock;

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error};

use super::pystr;

/// Adds the text filters to `env`.
pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("to_num", to_num);
    env.add_filter("str_to_num", to_num);
    env.add_filter("human_to_bytes", human_to_bytes);
    env.add_filter("to_bytes", |text: String| {
        Value::from_bytes(text.into_bytes())
    });
    env.add_filter("is_hex", |v: &Value| v.as_str().is_some_and(is_hex));
    env.add_filter("contains_whitespace", |t: String| {
        t.chars().any(char::is_whitespace)
    });
    env.add_filter("to_snake_case", |t: String| to_snake_case(&t));
    env.add_filter(
        "to_camelcase",
        |t: String, upper: Option<bool>, kw: Kwargs| {
            let upper = super::positional_or_keyword(upper, &kw, "uppercamel")?;
            Ok::<_, Error>(to_camelcase(&t, upper.unwrap_or(false)))
        },
    );
    env.add_filter("skip", |_: Value| String::new());
    env.add_filter("regex_escape", |t: String| regex_escape(&t));
    env.add_filter("python", |v: Value| pystr::pformat(&v));
    env.add_filter("string", |v: Value| pystr::py_str(&v));
    env.add_filter("truncate", truncate);
    env.add_filter("wordcount", wordcount);
    env.add_filter("center", |t: String, width: Option<usize>| {
        center(&t, width.unwrap_or(80), ' ')
    });
    env.add_filter("filesizeformat", filesizeformat);
}

/// Python's `int(text)` for a string: sign, digits, `_` between digits,
/// surrounding whitespace.
pub(super) fn python_int(text: &str, radix: u32) -> Option<i128> {
    let text = text.trim();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let digits = if radix == 16 {
        digits
            .strip_prefix("0x")
            .or_else(|| digits.strip_prefix("0X"))
            .unwrap_or(digits)
    } else {
        digits
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let value = i128::from_str_radix(&digits.replace('_', ""), radix).ok()?;
    Some(if negative { -value } else { value })
}

/// Python's `float(text)`.
fn python_float(text: &str) -> Option<f64> {
    let text = text.trim();
    let lower = text.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if matches!(body, "inf" | "infinity" | "nan") {
        return lower.parse().ok();
    }
    if text.is_empty()
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE_".contains(&b))
    {
        return None;
    }
    text.replace('_', "").parse().ok()
}

/// `|to_num`: an int, else a float, else the value unchanged.
pub(crate) fn to_num(value: Value) -> Value {
    let Some(text) = value.as_str() else {
        return value;
    };
    if let Some(n) = python_int(text, 10) {
        return Value::from(n);
    }
    python_float(text).map_or(value, Value::from)
}

/// `|human_to_bytes(default_unit='B', handle_metric=False)`: `10K`, `2 GB`,
/// `64KiB` in bytes (powers of 1024 unless `handle_metric` for `kB`...);
/// 0 for anything else.
fn human_to_bytes(value: Value, default_unit: Option<String>, metric: Option<bool>) -> i128 {
    static FORM: LazyLock<Option<regex::Regex>> =
        LazyLock::new(|| regex::Regex::new(r"^([0-9.]*)\s*(.*)$").ok());
    let text = pystr::py_str(&value);
    let Some(caps) = FORM.as_ref().and_then(|re| re.captures(text.trim())) else {
        return 0;
    };
    let number = caps.get(1).map_or("", |m| m.as_str());
    let mut unit = caps.get(2).map_or("", |m| m.as_str()).to_lowercase();
    if unit.is_empty() {
        unit = default_unit.unwrap_or_else(|| "B".into()).to_lowercase();
    }
    let Some(power) = unit_power(&unit) else {
        return 0;
    };
    let decimal = unit.len() == 2 && unit.ends_with('b') && metric.unwrap_or(false);
    let scale = if decimal {
        10f64.powi(3 * power)
    } else {
        2f64.powi(10 * power)
    };
    match number.parse::<i128>() {
        Ok(n) => n.saturating_mul(scale as i128),
        Err(_) => number.parse::<f64>().map_or(0, |f| (f * scale) as i128),
    }
}

/// The power of a unit (`b`, `k`, `kb`, `kib`, ... `y`): 0 for bytes.
fn unit_power(unit: &str) -> Option<i32> {
    const PREFIXES: &str = "bkmgtpezy";
    let first = unit.chars().next()?;
    let rest = &unit[first.len_utf8()..];
    let valid = match first {
        'b' => rest.is_empty(),
        'k' | 'm' | 'g' | 't' | 'p' | 'e' | 'z' | 'y' => matches!(rest, "" | "b" | "ib"),
        _ => false,
    };
    valid
        .then(|| PREFIXES.find(first))
        .flatten()
        .and_then(|p| i32::try_from(p).ok())
}

fn is_hex(text: &str) -> bool {
    python_int(text, 16).is_some()
}

/// Salt's `camel_to_snake_case`.
fn to_snake_case(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        let boundary = i > 0
            && c.is_uppercase()
            && (chars[i - 1].is_lowercase()
                || (i + 1 < chars.len() && chars[i + 1].is_lowercase()));
        if boundary {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// Python's `str.capitalize`.
pub(crate) fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

/// Salt's `snake_to_camel_case`.
fn to_camelcase(text: &str, uppercamel: bool) -> String {
    let mut words = text.split('_');
    let first = words.next().unwrap_or("");
    let mut out = if uppercamel {
        capitalize(first)
    } else {
        first.to_owned()
    };
    for word in words {
        out.push_str(&capitalize(word));
    }
    out
}

/// Python's `re.escape`.
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\u{b}\u{c}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Jinja2's `truncate(length=255, killwords=False, end='...', leeway=5)`.
fn truncate(
    text: String,
    length: Option<usize>,
    killwords: Option<bool>,
    end: Option<String>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let length: usize = kwargs
        .get::<Option<usize>>("length")?
        .or(length)
        .unwrap_or(255);
    let killwords = kwargs
        .get::<Option<bool>>("killwords")?
        .or(killwords)
        .unwrap_or(false);
    let end = kwargs
        .get::<Option<String>>("end")?
        .or(end)
        .unwrap_or_else(|| "...".into());
    let leeway: usize = kwargs.get::<Option<usize>>("leeway")?.unwrap_or(5);
    kwargs.assert_all_used()?;
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= length + leeway {
        return Ok(text);
    }
    let keep: String = chars[..length.saturating_sub(end.chars().count())]
        .iter()
        .collect();
    if killwords {
        return Ok(keep + &end);
    }
    let cut = keep
        .rsplit_once(' ')
        .map_or(keep.as_str(), |(head, _)| head);
    Ok(format!("{cut}{end}"))
}

/// Jinja2's `wordcount`: runs of word characters.
fn wordcount(text: String) -> usize {
    static WORD: LazyLock<Option<regex::Regex>> = LazyLock::new(|| regex::Regex::new(r"\w+").ok());
    WORD.as_ref().map_or(0, |re| re.find_iter(&text).count())
}

pub(crate) use brine_common::output::python::center;

/// Jinja2's `filesizeformat(binary=False)`.
fn filesizeformat(value: Value, binary: Option<bool>) -> Result<String, Error> {
    let bytes = match value.kind() {
        ValueKind::String => value
            .as_str()
            .and_then(python_float)
            .ok_or_else(|| super::invalid("filesizeformat needs a number"))?,
        _ => f64::try_from(value)?,
    };
    let binary = binary.unwrap_or(false);
    let base: f64 = if binary { 1024.0 } else { 1000.0 };
    let prefixes = if binary {
        ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]
    } else {
        ["kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
    };
    if bytes == 1.0 {
        return Ok("1 Byte".into());
    }
    if bytes < base {
        return Ok(format!("{} Bytes", bytes as i64));
    }
    let mut unit = base;
    for prefix in prefixes {
        unit *= base;
        if bytes < unit || prefix.starts_with('Y') {
            return Ok(format!("{:.1} {prefix}", base * bytes / unit));
        }
    }
    Ok(format!("{bytes} Bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_filters_text_number_conversions_follow_python() {
        assert_eq!(to_num(Value::from("42")), Value::from(42));
        assert_eq!(to_num(Value::from("4.2")), Value::from(4.2));
        assert_eq!(to_num(Value::from("x42")), Value::from("x42"));
        assert_eq!(human_to_bytes(Value::from("10K"), None, None), 10240);
        assert_eq!(human_to_bytes(Value::from("2 GB"), None, None), 2147483648);
        assert_eq!(
            human_to_bytes(Value::from("2 GB"), None, Some(true)),
            2000000000
        );
        assert_eq!(human_to_bytes(Value::from("x"), None, None), 0);
        assert!(is_hex("0xff") && !is_hex("zz"));
    }

    #[test]
    fn render_filters_text_case_conversions() {
        assert_eq!(to_snake_case("camelCaseString"), "camel_case_string");
        assert_eq!(to_snake_case("HTTPServer"), "http_server");
        assert_eq!(to_camelcase("snake_case_string", true), "SnakeCaseString");
    }

    #[test]
    fn render_filters_text_jinja_builtins() {
        assert_eq!(center("x", 5, ' '), "  x  ");
        assert_eq!(center("ab", 5, '*'), "**ab*");
        assert_eq!(
            filesizeformat(Value::from(123456), None).ok().as_deref(),
            Some("123.5 kB")
        );
        assert_eq!(regex_escape("a.b c"), "a\\.b\\ c");
        assert_eq!(wordcount("a b-c".into()), 3);
    }
}
