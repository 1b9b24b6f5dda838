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

mod dicts;
mod hash;
mod lists;
mod net;
mod paths;
pub(crate) mod pystr;
mod salt_more;
pub(crate) mod text;

/// Adds every Salt filter and test to `env`.
pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_filter("yaml", yaml);
    env.add_filter("json", json);
    env.add_filter("tojson", tojson);
    env.add_filter("dict_to_sls_yaml_params", dict_to_sls_yaml_params);
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
    env.add_filter("base64_encode", base64_encode);
    env.add_filter("base64_decode", base64_decode);
    env.add_filter("strftime", strftime);
    env.add_filter("date_format", strftime);
    env.add_filter("quote", quote);
    env.add_test("list", is_list);
    env.add_test("match", test_match);
    hash::register(env);
    lists::register(env);
    net::register(env);
    text::register(env);
    dicts::register(env);
    paths::register(env);
    salt_more::register(env);
}

/// An argument Salt's Python signature lets a template give by position or
/// by keyword: the keyword wins; every other keyword is an error.
pub(crate) fn positional_or_keyword<T>(
    positional: Option<T>,
    kwargs: &Kwargs,
    name: &str,
) -> Result<Option<T>, Error>
where
    T: for<'a> minijinja::value::ArgType<'a, Output = T>,
{
    let keyword: Option<T> = kwargs.get(name)?;
    kwargs.assert_all_used()?;
    Ok(keyword.or(positional))
}

pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// `|yaml`: flow style by default (`{a: 1}`), block style with `|yaml(False)`.
fn yaml(value: &Value, flow_style: Option<bool>) -> Result<String, Error> {
    let json = brine_common::typed_key::sorted_as_python(&to_json(value)?);
    Ok(match flow_style {
        Some(false) => brine_common::yaml::dump_block(&json).trim().to_owned(),
        _ => brine_common::yaml::dump_flow(&json),
    })
}

/// Salt's `|dict_to_sls_yaml_params(flow_style=False)`: each key and value
/// as a one-key mapping in a list, as YAML (block style by default).
fn dict_to_sls_yaml_params(
    value: &Value,
    flow_style: Option<bool>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let flow_style = positional_or_keyword(flow_style, &kwargs, "flow_style")?;
    if value.kind() != ValueKind::Map {
        return Err(invalid(format!(
            "AttributeError: '{}' object has no attribute 'items'",
            match value.kind() {
                ValueKind::Seq => "list",
                ValueKind::String => "str",
                ValueKind::Number => "int",
                ValueKind::None | ValueKind::Undefined => "NoneType",
                _ => "object",
            }
        )));
    }
    let params: Vec<Value> = value
        .try_iter()?
        .map(|key| {
            let item = value.get_item(&key).unwrap_or_default();
            super::mutable::new_dict([(key, item)])
        })
        .collect();
    yaml(&Value::from(params), Some(flow_style.unwrap_or(false)))
}

/// `|json`: Python's `json.dumps(sort_keys=True)`.
fn json(value: &Value, kwargs: Kwargs) -> Result<String, Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
    kwargs.assert_all_used()?;
    let json = to_json(value)?;
    Ok(pyjson::dumps_with(&json, indent, sort_keys.unwrap_or(true)))
}

/// Salt's `|tojson(indent=None)`: keys in their order, and `<`, `>`, `&`,
/// `'` escaped for HTML.
fn tojson(value: &Value, indent: Option<usize>, kwargs: Kwargs) -> Result<String, Error> {
    let indent = kwargs.get::<Option<usize>>("indent")?.or(indent);
    let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
    kwargs.assert_all_used()?;
    let text = pyjson::dumps_with(&to_json(value)?, indent, sort_keys);
    Ok(text
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\'', "\\u0027"))
}

/// Salt's `yaml_encode`: a scalar as PyYAML's representer writes it, a
/// string double-quoted on one line (`yaml_dquote`). Anything else is
/// refused, as in Salt.
fn yaml_encode(value: &Value) -> Result<String, Error> {
    match to_json(value)? {
        serde_json::Value::String(text) => Ok(yaml_dquote(text)),
        json @ (serde_json::Value::Array(_) | serde_json::Value::Object(_)) => {
            Err(invalid(format!(
                "yaml_encode() only works with YAML scalar data; failed for <class '{}'>",
                if json.is_array() { "list" } else { "dict" }
            )))
        }
        // A bare number, bool or null is written plain by the emitter.
        scalar => Ok(brine_common::yaml::dump_flow(&scalar)),
    }
}

/// Salt's `yaml_dquote`: a YAML double-quoted scalar as PyYAML's pure-Python
/// emitter writes it (`allow_unicode` off, no line wrapping): printable ASCII
/// as is, everything else escaped.
fn yaml_dquote(text: String) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match dquote_escape(c) {
            Some(escape) => {
                out.push('\\');
                out.push_str(&escape);
            }
            None => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What follows the backslash for `c` in PyYAML's `write_double_quoted`,
/// or `None` for a character written as itself.
fn dquote_escape(c: char) -> Option<String> {
    let short = match c {
        '\0' => '0',
        '\x07' => 'a',
        '\x08' => 'b',
        '\t' => 't',
        '\n' => 'n',
        '\x0B' => 'v',
        '\x0C' => 'f',
        '\r' => 'r',
        '\x1B' => 'e',
        '"' => '"',
        '\\' => '\\',
        '\u{85}' => 'N',
        '\u{A0}' => '_',
        '\u{2028}' => 'L',
        '\u{2029}' => 'P',
        ' '..='~' => return None,
        c => {
            let code = u32::from(c);
            return Some(match code {
                0..=0xFF => format!("x{code:02X}"),
                0x100..=0xFFFF => format!("u{code:04X}"),
                _ => format!("U{code:08X}"),
            });
        }
    };
    Some(short.to_string())
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

/// Salt's `to_bool`: strings are true when `yes`, `1` or `true`; integers
/// when positive; collections when not empty; anything else (floats
/// included) is false.
fn to_bool(value: &Value) -> bool {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => false,
        ValueKind::Bool => value.is_true(),
        ValueKind::String => value
            .as_str()
            .is_some_and(|s| matches!(s.to_lowercase().as_str(), "yes" | "1" | "true")),
        ValueKind::Number if value.is_integer() => {
            i128::try_from(value.clone()).is_ok_and(|n| n > 0)
        }
        ValueKind::Seq | ValueKind::Map => value.len().is_some_and(|n| n > 0),
        _ => false,
    }
}

fn build_regex(pattern: &str, flags: RegexFlags) -> Result<regex::Regex, Error> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(flags.ignorecase)
        .multi_line(flags.multiline)
        .build()
        .map_err(|e| invalid(format!("invalid regular expression: {e}")))
}

/// `ignorecase` and `multiline` of Salt's regex filters, given by position
/// or by keyword.
#[derive(Clone, Copy, Default)]
struct RegexFlags {
    ignorecase: bool,
    multiline: bool,
}

impl RegexFlags {
    fn read(
        ignorecase: Option<bool>,
        multiline: Option<bool>,
        kwargs: &Kwargs,
    ) -> Result<Self, Error> {
        let ignorecase = kwargs.get::<Option<bool>>("ignorecase")?.or(ignorecase);
        let multiline = kwargs.get::<Option<bool>>("multiline")?.or(multiline);
        kwargs.assert_all_used()?;
        Ok(RegexFlags {
            ignorecase: ignorecase.unwrap_or(false),
            multiline: multiline.unwrap_or(false),
        })
    }
}

/// What Salt's `regex_search`/`regex_match` give: the groups (unmatched
/// ones as `None`), or a one-item tuple of the whole match when the
/// pattern has no groups.
fn groups(captures: &regex::Captures<'_>) -> Value {
    let text = |m: Option<regex::Match<'_>>| m.map_or(Value::from(()), |m| Value::from(m.as_str()));
    let groups: Vec<Value> = if captures.len() == 1 {
        vec![text(captures.get(0))]
    } else {
        captures.iter().skip(1).map(text).collect()
    };
    Value::from_object(minijinja::value::Tuple::from(groups))
}

/// Python's `re.match`: the match must start at the beginning of the text.
fn python_match<'t>(
    text: &'t str,
    pattern: &str,
    flags: RegexFlags,
) -> Result<Option<regex::Captures<'t>>, Error> {
    let re = build_regex(&format!(r"\A(?:{pattern})"), flags)?;
    Ok(re.captures(text))
}

/// `|regex_match(pattern, ignorecase=False, multiline=False)`: Python's `re.match`.
fn regex_match(
    text: String,
    pattern: String,
    ignorecase: Option<bool>,
    multiline: Option<bool>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let flags = RegexFlags::read(ignorecase, multiline, &kwargs)?;
    Ok(python_match(&text, &pattern, flags)?.map_or(Value::from(()), |c| groups(&c)))
}

/// `is match(pattern, ignorecase=False, multiline=False)`.
fn test_match(
    text: String,
    pattern: String,
    ignorecase: Option<bool>,
    multiline: Option<bool>,
    kwargs: Kwargs,
) -> Result<bool, Error> {
    let flags = RegexFlags::read(ignorecase, multiline, &kwargs)?;
    Ok(python_match(&text, &pattern, flags)?.is_some())
}

/// `|regex_search(pattern, ignorecase=False, multiline=False)`: Python's `re.search`.
fn regex_search(
    text: String,
    pattern: String,
    ignorecase: Option<bool>,
    multiline: Option<bool>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let flags = RegexFlags::read(ignorecase, multiline, &kwargs)?;
    let re = build_regex(&pattern, flags)?;
    Ok(re.captures(&text).map_or(Value::from(()), |c| groups(&c)))
}

/// `|regex_replace(pattern, replacement)`: Python's `re.sub`; `\1` and
/// `\g<name>` in the replacement refer to groups.
fn regex_replace(
    text: String,
    pattern: String,
    replacement: String,
    ignorecase: Option<bool>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    // minijinja passes at most five arguments: `multiline` by keyword only.
    let flags = RegexFlags::read(ignorecase, None, &kwargs)?;
    let re = build_regex(&pattern, flags)?;
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

/// `|sequence`: a list or dict stays as it is, anything else becomes `[value]`.
fn sequence(value: Value) -> Value {
    if matches!(value.kind(), ValueKind::Seq | ValueKind::Map) {
        value
    } else {
        Value::from(vec![value])
    }
}

fn md5(text: String) -> String {
    use md5::Digest as _;
    hash::hex(&md5::Md5::digest(text.as_bytes()))
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
