//! Python methods on template values, beyond minijinja's `pycompat`:
//! the mutating list and dict methods of [`super::mutable`], and the `str`,
//! `list`, `dict` and `bytes` methods Salt formulas call that `pycompat`
//! lacks (`swapcase`, `rsplit`, `zfill`, `partition`, `encode`, ...), with
//! Python's rules. Anything else goes to `pycompat`.
//!
//! [`python_method`] needs no template state, so `|method_call` shares it.

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind, State};

use super::filters::text::{capitalize, center};
use super::mutable::{MutableDict, MutableList, make_mutable, split_kwargs};
use super::values::lookup;

/// The environment's unknown-method callback.
pub(crate) fn callback(
    state: &mut State<'_, '_>,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    match python_method(value, method, args)? {
        Some(result) => Ok(result),
        None => minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args),
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// `value.method(*args)`, or `None` when we do not have that method.
pub(crate) fn python_method(
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Option<Value>, Error> {
    if let Some(list) = value.downcast_object_ref::<MutableList>() {
        match list.method(method, args) {
            Err(e) if e.kind() == ErrorKind::UnknownMethod => {}
            other => return other.map(Some),
        }
    }
    if let Some(dict) = value.downcast_object_ref::<MutableDict>() {
        match dict.method(method, args) {
            Err(e) if e.kind() == ErrorKind::UnknownMethod => {}
            other => return other.map(Some),
        }
    }
    match value.kind() {
        ValueKind::String => str_method(value.as_str().unwrap_or_default(), method, args),
        ValueKind::Bytes => bytes_method(value.as_bytes().unwrap_or_default(), method, args),
        ValueKind::Seq => seq_method(value, method, args),
        ValueKind::Map => map_method(value, method, args),
        _ => Ok(None),
    }
}

fn text_arg(args: &[Value], index: usize) -> Result<Option<&str>, Error> {
    match args.get(index) {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => v
            .as_str()
            .map(Some)
            .ok_or_else(|| invalid(format!("expected a string argument, got {}", v.kind()))),
    }
}

fn int_arg(args: &[Value], index: usize) -> Result<Option<i64>, Error> {
    args.get(index)
        .map(|v| i64::try_from(v.clone()))
        .transpose()
}

fn fill_arg(args: &[Value]) -> Result<char, Error> {
    let fill = text_arg(args, 1)?.unwrap_or(" ");
    let mut chars = fill.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(c),
        _ => Err(invalid(
            "The fill character must be exactly one character long",
        )),
    }
}

fn width_arg(args: &[Value]) -> Result<usize, Error> {
    Ok(usize::try_from(int_arg(args, 0)?.unwrap_or(0)).unwrap_or(0))
}

fn str_method(s: &str, method: &str, args: &[Value]) -> Result<Option<Value>, Error> {
    let len = s.chars().count();
    let result = match method {
        "swapcase" => Value::from(swapcase(s)),
        "split" => Value::from(split(s, text_arg(args, 0)?, int_arg(args, 1)?, false)),
        "rsplit" => Value::from(split(s, text_arg(args, 0)?, int_arg(args, 1)?, true)),
        "index" | "rindex" => {
            let needle = text_arg(args, 0)?.unwrap_or_default();
            let found = if method == "index" {
                s.find(needle)
            } else {
                s.rfind(needle)
            };
            let byte = found.ok_or_else(|| invalid("substring not found"))?;
            Value::from(s[..byte].chars().count())
        }
        "zfill" => Value::from(zfill(s, width_arg(args)?)),
        "ljust" => {
            let pad = width_arg(args)?.saturating_sub(len);
            Value::from(format!("{s}{}", repeat(fill_arg(args)?, pad)))
        }
        "rjust" => {
            let pad = width_arg(args)?.saturating_sub(len);
            Value::from(format!("{}{s}", repeat(fill_arg(args)?, pad)))
        }
        "center" => Value::from(center(s, width_arg(args)?, fill_arg(args)?)),
        "partition" | "rpartition" => partition(
            s,
            text_arg(args, 0)?.unwrap_or_default(),
            method == "rpartition",
        )?,
        "encode" => Value::from_bytes(s.as_bytes().to_vec()),
        "removeprefix" => Value::from(
            s.strip_prefix(text_arg(args, 0)?.unwrap_or_default())
                .unwrap_or(s),
        ),
        "removesuffix" => Value::from(
            s.strip_suffix(text_arg(args, 0)?.unwrap_or_default())
                .unwrap_or(s),
        ),
        "expandtabs" => Value::from(expandtabs(s, int_arg(args, 0)?.unwrap_or(8))),
        "capitalize" => Value::from(capitalize(s)),
        _ => return Ok(None),
    };
    Ok(Some(result))
}

fn repeat(c: char, n: usize) -> String {
    std::iter::repeat_n(c, n).collect()
}

fn swapcase(s: &str) -> String {
    s.chars()
        .flat_map(|c| -> Box<dyn Iterator<Item = char>> {
            if c.is_uppercase() {
                Box::new(c.to_lowercase())
            } else if c.is_lowercase() {
                Box::new(c.to_uppercase())
            } else {
                Box::new(std::iter::once(c))
            }
        })
        .collect()
}

/// Python's `str.split` / `str.rsplit` (`sep=None` splits on whitespace runs).
fn split(s: &str, sep: Option<&str>, maxsplit: Option<i64>, from_right: bool) -> Vec<String> {
    let limit = maxsplit.filter(|n| *n >= 0).map(|n| n as usize);
    let mut parts: Vec<String> = match sep {
        Some(sep) => match (limit, from_right) {
            (None, _) => s.split(sep).map(str::to_owned).collect(),
            (Some(n), false) => s.splitn(n + 1, sep).map(str::to_owned).collect(),
            (Some(n), true) => {
                let mut parts: Vec<String> = s.rsplitn(n + 1, sep).map(str::to_owned).collect();
                parts.reverse();
                parts
            }
        },
        None => split_whitespace(s, limit, from_right),
    };
    if sep == Some("") {
        parts.clear();
    }
    parts
}

fn split_whitespace(s: &str, limit: Option<usize>, from_right: bool) -> Vec<String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let Some(limit) = limit.filter(|l| *l < words.len()) else {
        return words.into_iter().map(str::to_owned).collect();
    };
    if from_right {
        let keep = words.len() - limit;
        let head_end = word_end(s, keep);
        let mut parts = vec![s[..head_end].trim_start().to_owned()];
        parts.extend(words[keep..].iter().map(|w| (*w).to_owned()));
        parts.retain(|p| !p.is_empty());
        parts
    } else {
        let tail_start = word_start(s, limit);
        let mut parts: Vec<String> = words[..limit].iter().map(|w| (*w).to_owned()).collect();
        parts.push(s[tail_start..].trim_end().to_owned());
        parts
    }
}

/// Byte offset where word `n` (0-based) starts.
fn word_start(s: &str, n: usize) -> usize {
    let mut count = 0;
    let mut in_word = false;
    for (i, c) in s.char_indices() {
        if !c.is_whitespace() && !in_word {
            if count == n {
                return i;
            }
            count += 1;
        }
        in_word = !c.is_whitespace();
    }
    s.len()
}

/// Byte offset where word `n` (1-based count) ends.
fn word_end(s: &str, n: usize) -> usize {
    let mut count = 0;
    let mut in_word = false;
    for (i, c) in s.char_indices() {
        if c.is_whitespace() && in_word {
            count += 1;
            if count == n {
                return i;
            }
        }
        in_word = !c.is_whitespace();
    }
    s.len()
}

fn zfill(s: &str, width: usize) -> String {
    let len = s.chars().count();
    if width <= len {
        return s.to_owned();
    }
    let zeros = repeat('0', width - len);
    match s.chars().next() {
        Some(sign @ ('+' | '-')) => format!("{sign}{zeros}{}", &s[1..]),
        _ => format!("{zeros}{s}"),
    }
}

fn partition(s: &str, sep: &str, from_right: bool) -> Result<Value, Error> {
    if sep.is_empty() {
        return Err(invalid("empty separator"));
    }
    let found = if from_right {
        s.rfind(sep)
    } else {
        s.find(sep)
    };
    let parts = match found {
        Some(at) => [&s[..at], sep, &s[at + sep.len()..]],
        None if from_right => ["", "", s],
        None => [s, "", ""],
    };
    Ok(Value::from_object(minijinja::value::Tuple::from(
        parts.iter().map(|p| Value::from(*p)).collect::<Vec<_>>(),
    )))
}

fn expandtabs(s: &str, tabsize: i64) -> String {
    let tabsize = usize::try_from(tabsize).unwrap_or(0);
    let mut out = String::new();
    let mut column = 0;
    for c in s.chars() {
        match c {
            '\t' => {
                let pad = if tabsize == 0 {
                    0
                } else {
                    tabsize - column % tabsize
                };
                out.push_str(&repeat(' ', pad));
                column += pad;
            }
            '\n' | '\r' => {
                out.push(c);
                column = 0;
            }
            c => {
                out.push(c);
                column += 1;
            }
        }
    }
    out
}

fn bytes_method(bytes: &[u8], method: &str, _args: &[Value]) -> Result<Option<Value>, Error> {
    match method {
        "decode" => String::from_utf8(bytes.to_vec())
            .map(|s| Some(Value::from(s)))
            .map_err(|e| invalid(format!("'utf-8' codec can't decode bytes: {e}"))),
        _ => Ok(None),
    }
}

fn seq_method(value: &Value, method: &str, args: &[Value]) -> Result<Option<Value>, Error> {
    let items = || -> Result<Vec<Value>, Error> { Ok(value.try_iter()?.collect()) };
    Ok(Some(match (method, args) {
        ("index", [item, ..]) => items()?
            .iter()
            .position(|x| x == item)
            .map(Value::from)
            .ok_or_else(|| invalid(format!("{item} is not in list")))?,
        ("copy", []) => make_mutable(Value::from(items()?)),
        _ => return Ok(None),
    }))
}

fn map_method(value: &Value, method: &str, args: &[Value]) -> Result<Option<Value>, Error> {
    let (args, _) = split_kwargs(args);
    Ok(Some(match (method, args) {
        ("copy", []) => {
            let keys: Vec<Value> = value.try_iter()?.collect();
            let entries = keys.into_iter().map(|k| {
                let v = value.get_item(&k).unwrap_or_default();
                (k, v)
            });
            super::mutable::new_dict(entries)
        }
        ("get", [key, rest @ ..]) => {
            lookup(value, key).unwrap_or_else(|| rest.first().cloned().unwrap_or(Value::from(())))
        }
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(value: impl Into<Value>, method: &str, args: &[Value]) -> String {
        match python_method(&value.into(), method, args) {
            Ok(Some(v)) => v.to_string(),
            Ok(None) => "<none>".into(),
            Err(e) => format!("<error {e}>"),
        }
    }

    #[test]
    fn render_methods_str_follow_python() {
        assert_eq!(call("AbC", "swapcase", &[]), "aBc");
        assert_eq!(
            call("/a/b/c", "rsplit", &["/".into(), 1.into()]),
            "['/a/b', 'c']"
        );
        assert_eq!(call(" a  b c ", "split", &[]), "['a', 'b', 'c']");
        assert_eq!(
            call("a b c", "split", &[Value::from(()), 1.into()]),
            "['a', 'b c']"
        );
        assert_eq!(call("42", "zfill", &[5.into()]), "00042");
        assert_eq!(call("-4", "zfill", &[4.into()]), "-004");
        assert_eq!(call("ab", "ljust", &[5.into(), ".".into()]), "ab...");
        assert_eq!(call("ab", "center", &[6.into(), "*".into()]), "**ab**");
        assert_eq!(
            call("k=v=x", "rpartition", &["=".into()]),
            "('k=v', '=', 'x')"
        );
        assert_eq!(call("a\tb", "expandtabs", &[4.into()]), "a   b");
        assert_eq!(
            call("abc", "index", &["z".into()]),
            "<error invalid operation: substring not found>"
        );
    }

    #[test]
    fn render_methods_copy_gives_independent_mutable_values() {
        let dict = super::super::mutable::new_dict([(Value::from("a"), Value::from(1))]);
        let copy = python_method(&dict, "copy", &[])
            .ok()
            .flatten()
            .unwrap_or_default();
        let update = super::super::mutable::new_dict([(Value::from("a"), Value::from(2))]);
        assert!(python_method(&copy, "update", &[update]).is_ok());
        assert_eq!(dict.to_string(), "{'a': 1}");
        assert_eq!(copy.to_string(), "{'a': 2}");
    }
}
