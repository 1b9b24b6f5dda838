//! Salt's Jinja filters and tests (`salt/utils/jinja.py`, `salt/utils/data.py`,
//! `salt/utils/stringutils.py`, `salt/utils/hashutils.py`), on top of
//! minijinja's built-ins.

use std::sync::LazyLock;

use base64::Engine as _;
use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

use super::data;
use super::pyjson;
use super::values::{from_json, to_json};

/// Adds every Salt filter and test to `env`.
pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_filter("yaml", yaml);
    env.add_filter("json", json);
    env.add_filter("tojson", tojson);
    env.add_filter("yaml_encode", yaml_encode);
    env.add_filter("yaml_dquote", yaml_dquote);
    env.add_filter("yaml_squote", yaml_squote);
    env.add_filter("load_yaml", load_yaml);
    env.add_filter("load_json", load_json);
    env.add_filter("load_text", |text: String| text);
    env.add_filter("traverse", traverse);
    env.add_filter("unique", unique);
    env.add_filter("is_list", is_list);
    env.add_filter("to_bool", to_bool);
    env.add_filter("regex_match", regex_match);
    env.add_filter("regex_search", regex_search);
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("sequence", sequence);
    env.add_filter("md5", md5);
    env.add_filter("sha256", sha256);
    env.add_filter("base64_encode", base64_encode);
    env.add_filter("base64_decode", base64_decode);
    env.add_filter("strftime", strftime);
    env.add_filter("quote", quote);
    env.add_test("list", is_list);
}

pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// `|yaml`: flow style by default (`{a: 1}`), block style with `|yaml(False)`.
fn yaml(value: &Value, flow_style: Option<bool>) -> Result<String, Error> {
    let json = to_json(value)?;
    Ok(match flow_style {
        Some(false) => brine_common::yaml::dump_block(&json).trim().to_owned(),
        _ => brine_common::yaml::dump_flow(&json),
    })
}

/// `|json`: Python's `json.dumps(sort_keys=True)`.
fn json(value: &Value, kwargs: Kwargs) -> Result<String, Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
    kwargs.assert_all_used()?;
    let json = to_json(value)?;
    if sort_keys == Some(false) {
        return serde_json::to_string(&json).map_err(|e| invalid(e.to_string()));
    }
    Ok(pyjson::dumps(&json, indent))
}

/// `|tojson`: sorted keys, and `<`, `>`, `&`, `'` escaped for HTML as Jinja does.
fn tojson(value: &Value, indent: Option<usize>) -> Result<String, Error> {
    let text = pyjson::dumps(&to_json(value)?, indent);
    Ok(text
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\'', "\\u0027"))
}

fn yaml_encode(value: &Value) -> Result<String, Error> {
    Ok(brine_common::yaml::dump_flow(&to_json(value)?))
}

/// A YAML double-quoted scalar, as PyYAML writes one without line wrapping.
fn yaml_dquote(text: String) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn yaml_squote(text: String) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn load_yaml(text: String) -> Result<Value, Error> {
    brine_common::yaml::load(&text, "<load_yaml>")
        .map(from_json)
        .map_err(|e| invalid(format!("Unable to load YAML: {e}")))
}

fn load_json(text: String) -> Result<Value, Error> {
    serde_json::from_str(&text)
        .map(from_json)
        .map_err(|e| invalid(format!("Unable to load JSON: {e}")))
}

/// `|traverse('a:b', default)`: Salt's `traverse_dict_and_list`.
fn traverse(
    value: &Value,
    key: String,
    default: Option<Value>,
    delimiter: Option<String>,
) -> Result<Value, Error> {
    let json = to_json(value)?;
    let delimiter = delimiter.unwrap_or_else(|| ":".to_owned());
    Ok(match data::traverse(&json, &key, &delimiter) {
        Some(found) => from_json(found.clone()),
        None => default.unwrap_or(Value::from(())),
    })
}

/// `|unique`: the items in first-seen order.
fn unique(value: &Value) -> Result<Value, Error> {
    let mut seen: Vec<Value> = Vec::new();
    for item in value.try_iter()? {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    Ok(Value::from(seen))
}

fn is_list(value: &Value) -> bool {
    value.kind() == ValueKind::Seq
}

/// Salt's `to_bool`: strings are true when `yes`, `1` or `true`; numbers
/// when positive; collections when not empty.
fn to_bool(value: &Value) -> bool {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => false,
        ValueKind::Bool => value.is_true(),
        ValueKind::String => value
            .as_str()
            .is_some_and(|s| matches!(s.to_lowercase().as_str(), "yes" | "1" | "true")),
        ValueKind::Number => f64::try_from(value.clone()).is_ok_and(|n| n > 0.0),
        ValueKind::Seq | ValueKind::Map => value.len().is_some_and(|n| n > 0),
        _ => false,
    }
}

fn build_regex(pattern: &str, ignorecase: bool, multiline: bool) -> Result<regex::Regex, Error> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(ignorecase)
        .multi_line(multiline)
        .build()
        .map_err(|e| invalid(format!("invalid regular expression: {e}")))
}

/// Python's `match.groups()`: every group, unmatched ones as `None`.
fn groups(captures: &regex::Captures<'_>) -> Value {
    let groups: Vec<Value> = captures
        .iter()
        .skip(1)
        .map(|group| group.map_or(Value::from(()), |m| Value::from(m.as_str())))
        .collect();
    Value::from(groups)
}

/// `|regex_match(pattern)`: Python's `re.match` (anchored at the start);
/// the groups, or `None`.
fn regex_match(
    text: String,
    pattern: String,
    ignorecase: Option<bool>,
    multiline: Option<bool>,
) -> Result<Value, Error> {
    let anchored = format!("^(?:{pattern})");
    let re = build_regex(&anchored, ignorecase.unwrap_or(false), false)?;
    let _ = multiline;
    Ok(re.captures(&text).map_or(Value::from(()), |c| groups(&c)))
}

/// `|regex_search(pattern)`: Python's `re.search`; the groups, or `None`.
fn regex_search(
    text: String,
    pattern: String,
    ignorecase: Option<bool>,
    multiline: Option<bool>,
) -> Result<Value, Error> {
    let re = build_regex(
        &pattern,
        ignorecase.unwrap_or(false),
        multiline.unwrap_or(false),
    )?;
    Ok(re.captures(&text).map_or(Value::from(()), |c| groups(&c)))
}

/// `|regex_replace(pattern, replacement)`: Python's `re.sub`; `\1` and
/// `\g<name>` in the replacement refer to groups.
fn regex_replace(
    text: String,
    pattern: String,
    replacement: String,
    ignorecase: Option<bool>,
    multiline: Option<bool>,
) -> Result<String, Error> {
    let re = build_regex(
        &pattern,
        ignorecase.unwrap_or(false),
        multiline.unwrap_or(false),
    )?;
    Ok(re
        .replace_all(&text, python_replacement(&replacement).as_str())
        .into_owned())
}

/// Translates a Python `re.sub` replacement into the `regex` crate's syntax.
fn python_replacement(replacement: &str) -> String {
    static GROUP: LazyLock<Option<regex::Regex>> =
        LazyLock::new(|| regex::Regex::new(r"\\(\d+)|\\g<(\w+)>|\\(.)|\$").ok());
    let Some(group) = GROUP.as_ref() else {
        return replacement.to_owned();
    };
    group
        .replace_all(replacement, |c: &regex::Captures<'_>| {
            if let Some(n) = c.get(1).or_else(|| c.get(2)) {
                format!("${{{}}}", n.as_str())
            } else if let Some(escaped) = c.get(3) {
                match escaped.as_str() {
                    "n" => "\n".to_owned(),
                    "t" => "\t".to_owned(),
                    "\\" => "\\".to_owned(),
                    other => format!("\\{other}"),
                }
            } else {
                "$$".to_owned()
            }
        })
        .into_owned()
}

/// `|sequence`: a list stays a list, anything else becomes `[value]`.
fn sequence(value: Value) -> Value {
    if value.kind() == ValueKind::Seq {
        value
    } else {
        Value::from(vec![value])
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn md5(text: String) -> String {
    use md5::Digest as _;
    hex(&md5::Md5::digest(text.as_bytes()))
}

fn sha256(text: String) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref())
}

fn base64_encode(text: String) -> String {
    base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
}

fn base64_decode(text: String) -> Result<String, Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| invalid(format!("base64_decode: {e}")))?;
    String::from_utf8(bytes).map_err(|e| invalid(format!("base64_decode: {e}")))
}

/// `|strftime(format)`: a Unix timestamp or a date string, printed with a
/// Python-style format (default `%Y-%m-%d`). Times are UTC.
fn strftime(value: &Value, format: Option<String>) -> Result<String, Error> {
    let format = format.unwrap_or_else(|| "%Y-%m-%d".to_owned());
    let datetime = parse_datetime(value)?;
    jiff::fmt::strtime::format(format.as_str(), datetime)
        .map_err(|e| invalid(format!("strftime: {e}")))
}

fn parse_datetime(value: &Value) -> Result<jiff::civil::DateTime, Error> {
    let utc = jiff::tz::TimeZone::UTC;
    if value.kind() == ValueKind::Number {
        let seconds = f64::try_from(value.clone())?;
        let nanos = (seconds * 1e9) as i128;
        let timestamp =
            jiff::Timestamp::from_nanosecond(nanos).map_err(|e| invalid(e.to_string()))?;
        return Ok(timestamp.to_zoned(utc).datetime());
    }
    let text = value
        .as_str()
        .ok_or_else(|| invalid("strftime needs a date string or a timestamp"))?;
    if let Ok(timestamp) = text.parse::<jiff::Timestamp>() {
        return Ok(timestamp.to_zoned(utc).datetime());
    }
    if let Ok(datetime) = text.parse::<jiff::civil::DateTime>() {
        return Ok(datetime);
    }
    text.parse::<jiff::civil::Date>()
        .map(|date| date.to_datetime(jiff::civil::Time::midnight()))
        .map_err(|e| invalid(format!("strftime: cannot read date {text:?}: {e}")))
}

/// `|quote`: Python's `shlex.quote`.
fn quote(text: String) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
    if text.is_empty() {
        "''".to_owned()
    } else if text.chars().all(safe) {
        text
    } else {
        format!("'{}'", text.replace('\'', "'\"'\"'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_filters_python_replacement_translates_groups() {
        assert_eq!(python_replacement(r"\1-\g<name>$"), "${1}-${name}$$");
    }

    #[test]
    fn render_filters_quote_is_shlex_quote() {
        assert_eq!(quote("abc".into()), "abc");
        assert_eq!(quote("a b'c".into()), "'a b'\"'\"'c'");
        assert_eq!(quote(String::new()), "''");
    }
}
