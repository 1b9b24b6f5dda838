//! Matching `key:value` expressions against nested data (grains, pillar):
//! Salt's `traverse_dict_and_list` and `subdict_match`.
//!
//! `os:Debian` looks up `os` and globs its value against `Debian`. A colon may
//! sit in the key path or in the value, so `a:b:c` is tried as key `a:b` with
//! value `c` first, then as key `a` with value `b:c`. A list matches when any
//! element matches; a dict matches when the pattern names one of its keys
//! (`*` asks only that the key exists), or deeper. Values are compared as
//! Python's `str(value)` and without regard to case, as Salt does.

use regex::Regex;
use serde_json::{Map, Value};

use super::TargetError;
use super::compound::anchored_regex;
use super::fnmatch::Fnmatch;
use crate::output::python;

/// How values are compared: Salt's glob (`-G`, `-I`) or a regular expression
/// anchored at the start (`-P`, `-J`, Python's `re.match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueMatch {
    Glob,
    Regex,
}

/// A compiled `key<delimiter>value` expression.
#[derive(Debug, Clone)]
pub struct DataPattern {
    delimiter: String,
    mode: ValueMatch,
    /// Every way to split the expression into key path and value pattern,
    /// the deepest key first (Salt's order).
    splits: Vec<Split>,
}

impl DataPattern {
    /// The top-level keys this pattern can look at; `None` when it searches
    /// the whole data (`G@*:value`).
    pub fn top_keys(&self) -> Option<Vec<String>> {
        self.splits
            .iter()
            .map(|split| {
                let key = split.key.as_ref()?;
                Some(
                    key.split(self.delimiter.as_str())
                        .next()
                        .unwrap_or(key)
                        .to_string(),
                )
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
struct Split {
    /// `None` for the key `*`: the whole data is searched.
    key: Option<String>,
    value_text: String,
    /// `None` when this split's value is not a valid pattern (Salt skips it).
    pattern: Option<ValuePattern>,
}

#[derive(Debug, Clone)]
enum ValuePattern {
    Glob(Fnmatch),
    Regex(Regex),
}

impl DataPattern {
    /// Compile `expr`; `kind` names the target type in errors (`grain`, ...).
    pub fn new(
        expr: &str,
        delimiter: &str,
        mode: ValueMatch,
        kind: &'static str,
    ) -> Result<Self, TargetError> {
        if delimiter.is_empty() || !expr.contains(delimiter) {
            return Err(TargetError::MissingDelimiter {
                kind,
                expr: expr.to_string(),
                delimiter: delimiter.to_string(),
            });
        }
        let parts: Vec<&str> = expr.split(delimiter).collect();
        let mut splits = Vec::with_capacity(parts.len() - 1);
        let mut first_error = None;
        for idx in (1..parts.len()).rev() {
            let key = parts[..idx].join(delimiter);
            let (key, value_text) = if key == "*" {
                (None, expr.to_string())
            } else {
                (Some(key), parts[idx..].join(delimiter))
            };
            let pattern = match ValuePattern::compile(&value_text, mode) {
                Ok(p) => Some(p),
                Err(e) => {
                    first_error.get_or_insert(e);
                    None
                }
            };
            splits.push(Split {
                key,
                value_text,
                pattern,
            });
        }
        // Salt skips a split whose pattern does not compile; if none compiles
        // the target can never match, which is a mistake worth reporting.
        if let Some(e) = first_error
            && splits.iter().all(|s| s.pattern.is_none())
        {
            return Err(e);
        }
        Ok(DataPattern {
            delimiter: delimiter.to_string(),
            mode,
            splits,
        })
    }

    /// Salt's `subdict_match(data, expr)`.
    pub fn matches(&self, data: &Map<String, Value>) -> bool {
        self.splits
            .iter()
            .any(|split| self.split_matches(split, data))
    }

    fn split_matches(&self, split: &Split, data: &Map<String, Value>) -> bool {
        let found = match &split.key {
            None => Found::Dict(data),
            Some(key) => match traverse(data, key, &self.delimiter) {
                None => return false,
                Some(Value::Object(map)) if map.is_empty() => return false,
                Some(Value::Object(map)) => Found::Dict(map),
                Some(value) => Found::Value(value),
            },
        };
        let value_matches = |v: &Value| split.pattern.as_ref().is_some_and(|p| p.matches(v));
        match found {
            Found::Dict(map) => dict_match(map, &split.value_text, self.mode),
            Found::Value(Value::Array(items)) => items.iter().any(|member| {
                member
                    .as_object()
                    .is_some_and(|m| dict_match(m, &split.value_text, self.mode))
                    || value_matches(member)
            }),
            Found::Value(value) => value_matches(value),
        }
    }
}

enum Found<'a> {
    Dict(&'a Map<String, Value>),
    Value(&'a Value),
}

impl ValuePattern {
    fn compile(text: &str, mode: ValueMatch) -> Result<Self, TargetError> {
        match mode {
            ValueMatch::Glob => Fnmatch::case_insensitive(text).map(ValuePattern::Glob),
            // Salt lower-cases the pattern text; a case-insensitive regex means
            // the same without turning `\D` into `\d`.
            ValueMatch::Regex => anchored_regex(text, "(?i)").map(ValuePattern::Regex),
        }
    }

    /// Compare `str(value)` with the pattern.
    fn matches(&self, value: &Value) -> bool {
        let owned;
        let text = match value {
            Value::String(s) => s.as_str(),
            other => {
                owned = python::to_str(other);
                owned.as_str()
            }
        };
        match self {
            ValuePattern::Glob(g) => g.is_match(text),
            ValuePattern::Regex(re) => re.is_match(text),
        }
    }
}

/// Salt's `_dict_match`: the value found is a dict; `pattern` may name one
/// of its keys, match deeper, or (`*:` prefix) match any of its values.
fn dict_match(target: &Map<String, Value>, pattern: &str, mode: ValueMatch) -> bool {
    let (wildcard, pattern) = match pattern.strip_prefix("*:") {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    if pattern == "*" || target.contains_key(pattern) {
        return true;
    }
    // Salt recurses with its default delimiter here, whatever the caller used.
    let deeper = pattern.contains(':')
        && DataPattern::new(pattern, ":", mode, "nested").is_ok_and(|p| p.matches(target));
    if deeper {
        return true;
    }
    wildcard && wildcard_match(target, pattern, mode)
}

/// `*:pattern`: any value of the dict (or any element of a list value) matches.
fn wildcard_match(target: &Map<String, Value>, pattern: &str, mode: ValueMatch) -> bool {
    let Ok(value_pattern) = ValuePattern::compile(pattern, mode) else {
        return false;
    };
    target.values().any(|value| match value {
        Value::Object(inner) => dict_match(inner, pattern, mode),
        Value::Array(items) => items.iter().any(|item| value_pattern.matches(item)),
        scalar => value_pattern.matches(scalar),
    })
}

/// Salt's `traverse_dict_and_list`: follow `a:b:0` through dicts and lists.
/// In a list, a number indexes (negative from the end, as in Python) and a
/// word picks the first dict element holding that key.
pub fn traverse<'a>(data: &'a Map<String, Value>, key: &str, delimiter: &str) -> Option<&'a Value> {
    let mut parts = key.split(delimiter);
    let first = parts.next()?;
    let mut node = data.get(first)?;
    for part in parts {
        node = step(node, part)?;
    }
    Some(node)
}

/// [`traverse`] starting from any value.
pub fn traverse_value<'a>(data: &'a Value, key: &str, delimiter: &str) -> Option<&'a Value> {
    key.split(delimiter).try_fold(data, step)
}

fn step<'a>(node: &'a Value, part: &str) -> Option<&'a Value> {
    match node {
        Value::Object(map) => map.get(part),
        Value::Array(items) => match part.trim().parse::<i64>() {
            Ok(index) => {
                let len = i64::try_from(items.len()).ok()?;
                let index = if index < 0 { len + index } else { index };
                usize::try_from(index).ok().and_then(|i| items.get(i))
            }
            Err(_) => items
                .iter()
                .filter_map(Value::as_object)
                .find_map(|m| m.get(part)),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn grains() -> Map<String, Value> {
        json!({
            "os": "Debian",
            "osmajorrelease": 12,
            "virtual": false,
            "roles": ["web", "cache"],
            "ipv4": ["127.0.0.1", "10.0.0.5"],
            "app": {"name": "nginx", "ports": [80, 443], "opts": {"tls": true}},
            "url": "http://x:8080",
            "servers": [{"name": "a", "port": 1}, {"name": "b"}],
            "empty": {},
        })
        .as_object()
        .cloned()
        .expect("object")
    }

    fn glob(expr: &str) -> bool {
        DataPattern::new(expr, ":", ValueMatch::Glob, "grain")
            .expect("pattern")
            .matches(&grains())
    }

    fn pcre(expr: &str) -> bool {
        DataPattern::new(expr, ":", ValueMatch::Regex, "grain_pcre")
            .expect("pattern")
            .matches(&grains())
    }

    #[test]
    fn scalars_glob_without_case() {
        assert!(glob("os:Debian") && glob("os:debian") && glob("os:Deb*"));
        assert!(!glob("os:RedHat") && !glob("nosuch:x"));
        assert!(glob("osmajorrelease:12") && glob("osmajorrelease:1?"));
        assert!(glob("virtual:False") && glob("virtual:false"));
    }

    #[test]
    fn lists_match_any_element() {
        assert!(glob("roles:web") && glob("roles:cach*") && !glob("roles:db"));
        assert!(glob("app:ports:443"));
        assert!(glob("servers:name:b"), "word steps pick an embedded dict");
    }

    #[test]
    fn nested_keys_and_colons_in_values() {
        assert!(glob("app:name:nginx") && glob("app:opts:tls:True"));
        assert!(glob("url:http://x:8080"), "a value holding the delimiter");
        assert!(glob("app:name"), "a key of the dict found");
        assert!(glob("app:*"), "any key exists");
        assert!(!glob("empty:*"), "an empty dict matches nothing");
        assert!(glob("app:*:nginx"), "`*:` searches the dict's values");
        assert!(glob("*:Debian"), "a top-level `*` searches every grain");
        assert!(!glob("*:nginx"), "but only one level deep, as in Salt");
    }

    #[test]
    fn regex_values_are_anchored_at_the_start() {
        assert!(pcre("os:Deb") && pcre("os:^deb.*n$") && !pcre("os:ebian"));
        assert!(pcre("roles:(web|db)") && !pcre("roles:db"));
        assert!(pcre(r"os:\D+"), "\\D keeps its meaning");
    }

    #[test]
    fn a_split_with_a_bad_regex_is_skipped() {
        // Key `a:(b` / value `c)` is no regex, key `a` / value `(b:c)` is.
        let p = DataPattern::new("a:(b:c)", ":", ValueMatch::Regex, "grain_pcre").expect("ok");
        let data = json!({"a": "b:c"}).as_object().cloned().expect("object");
        assert!(p.matches(&data));
        assert!(DataPattern::new("a:(", ":", ValueMatch::Regex, "grain_pcre").is_err());
    }

    #[test]
    fn missing_delimiter_is_an_error() {
        let err = DataPattern::new("os", ":", ValueMatch::Glob, "grain").expect_err("no colon");
        assert!(err.to_string().contains("key and a value"), "{err}");
    }

    #[test]
    fn other_delimiters() {
        let p = DataPattern::new("app|name|ng*", "|", ValueMatch::Glob, "grain").expect("ok");
        assert!(p.matches(&grains()));
    }

    #[test]
    fn traverse_like_salt() {
        let g = grains();
        assert_eq!(traverse(&g, "app:ports:1", ":"), Some(&json!(443)));
        assert_eq!(traverse(&g, "app:ports:-1", ":"), Some(&json!(443)));
        assert_eq!(traverse(&g, "servers:port", ":"), Some(&json!(1)));
        assert_eq!(traverse(&g, "app|name", "|"), Some(&json!("nginx")));
        assert_eq!(traverse(&g, "os:x", ":"), None);
        assert_eq!(traverse(&g, "app:ports:7", ":"), None);
        let root = Value::Object(g);
        assert_eq!(
            traverse_value(&root, "app:name", ":"),
            Some(&json!("nginx"))
        );
    }
}
