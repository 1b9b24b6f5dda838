//! Salt's data filters that Brine lacked: `json_encode_dict`/`_list` (and
//! their old names `json_decode_dict`/`_list`), `mysql_to_dict`,
//! `check_whitelist_blacklist` (`salt/utils/data.py`,
//! `salt/utils/stringutils.py`) and Salt's own `min`/`max`
//! (`salt/utils/jinja.py`), which replace Jinja's.

use std::cmp::Ordering;

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error};

use super::{py_error, type_name};
use crate::render::filters::{positional_or_keyword, text::to_num};
use crate::render::mutable::new_dict;

/// Adds the data filters to `env`.
pub(super) fn register(env: &mut Environment<'_>) {
    env.add_filter("json_encode_dict", encode_dict);
    env.add_filter("json_decode_dict", encode_dict);
    env.add_filter("json_encode_list", encode_list);
    env.add_filter("json_decode_list", encode_list);
    env.add_filter("mysql_to_dict", mysql_to_dict);
    env.add_filter("check_whitelist_blacklist", check_whitelist_blacklist);
    env.add_filter("min", |v: &Value| extreme(v, Ordering::Less));
    env.add_filter("max", |v: &Value| extreme(v, Ordering::Greater));
}

/// `|json_encode_dict`: every string key and value, at any depth, as UTF-8
/// bytes (Salt's `encode_dict`, despite the name).
fn encode_dict(value: &Value) -> Result<Value, Error> {
    if value.kind() != ValueKind::Map {
        return Err(py_error(
            "AttributeError",
            format!("'{}' object has no attribute 'items'", type_name(value)),
        ));
    }
    encode(value)
}

/// `|json_encode_list`: every string item, at any depth, as UTF-8 bytes
/// (a mapping gives its keys, as iterating it in Python does).
fn encode_list(value: &Value) -> Result<Value, Error> {
    if value.kind() == ValueKind::Map {
        let keys: Vec<Value> = value.try_iter()?.map(|k| encode_scalar(&k)).collect();
        return Ok(Value::from(keys));
    }
    let items = value.try_iter().map_err(|_| {
        py_error(
            "TypeError",
            format!("'{}' object is not iterable", type_name(value)),
        )
    })?;
    Ok(Value::from(
        items
            .map(|item| encode(&item))
            .collect::<Result<Vec<_>, _>>()?,
    ))
}

fn encode(value: &Value) -> Result<Value, Error> {
    match value.kind() {
        ValueKind::Map => {
            let mut entries = Vec::new();
            for key in value.try_iter()? {
                let item = value.get_item(&key)?;
                entries.push((encode_scalar(&key), encode(&item)?));
            }
            Ok(new_dict(entries))
        }
        ValueKind::Seq => Ok(Value::from(
            value
                .try_iter()?
                .map(|item| encode(&item))
                .collect::<Result<Vec<_>, _>>()?,
        )),
        _ => Ok(encode_scalar(value)),
    }
}

fn encode_scalar(value: &Value) -> Value {
    match value.as_str() {
        Some(text) if value.kind() == ValueKind::String => {
            Value::from_bytes(text.as_bytes().to_vec())
        }
        _ => value.clone(),
    }
}

/// `|mysql_to_dict(key)`: the rows of a MySQL client's table output (a
/// list of lines), keyed by the column `key`, numbers converted.
fn mysql_to_dict(lines: &Value, key: &Value) -> Result<Value, Error> {
    let mut headers: Vec<String> = vec![String::new()];
    let mut rows: Vec<(Value, Value)> = Vec::new();
    for line in lines.try_iter()? {
        let line = line.as_str().unwrap_or_default().to_owned();
        if line.is_empty() || line.starts_with('+') {
            continue;
        }
        let cells: Vec<String> = line.split('|').map(|c| c.trim().to_owned()).collect();
        if headers.len() <= 1 {
            headers = cells;
            continue;
        }
        let row = mysql_row(&headers, &cells)?;
        let id = row
            .iter()
            .rev()
            .find(|(name, _)| Some(name.as_str()) == key.as_str())
            .map(|(_, v)| v.clone())
            .ok_or_else(|| py_error("KeyError", python_repr(key)))?;
        let row = new_dict(row.into_iter().map(|(k, v)| (Value::from(k), v)));
        match rows.iter_mut().find(|(existing, _)| *existing == id) {
            Some(slot) => slot.1 = row,
            None => rows.push((id, row)),
        }
    }
    Ok(new_dict(rows))
}

/// The cells between the outer `|`s, named by the header line.
fn mysql_row(headers: &[String], cells: &[String]) -> Result<Vec<(String, Value)>, Error> {
    (1..headers.len() - 1)
        .map(|field| {
            let cell = cells
                .get(field)
                .ok_or_else(|| py_error("IndexError", "list index out of range"))?;
            Ok((headers[field].clone(), to_num(Value::from(cell.as_str()))))
        })
        .collect()
}

fn python_repr(value: &Value) -> String {
    match value.as_str() {
        Some(text) if value.kind() == ValueKind::String => format!("'{text}'"),
        _ => value.to_string(),
    }
}

/// `|check_whitelist_blacklist(whitelist=None, blacklist=None)`: whether
/// the value passes the lists (entries are names, globs or regexes).
fn check_whitelist_blacklist(
    value: &Value,
    whitelist: Option<Value>,
    blacklist: Option<Value>,
    kwargs: Kwargs,
) -> Result<bool, Error> {
    let blacklist_keyword: Option<Value> = kwargs.get("blacklist")?;
    let whitelist = positional_or_keyword(whitelist, &kwargs, "whitelist")?;
    let blacklist = blacklist_keyword.or(blacklist);
    let whitelist = pattern_list(whitelist, "whitelist")?;
    let blacklist = pattern_list(blacklist, "blacklist")?;
    // A value that is not a string matches no pattern (Salt logs the
    // TypeError of `fnmatch` and counts it as no match).
    let Some(text) = value.as_str().filter(|_| value.kind() == ValueKind::String) else {
        return Ok(whitelist.is_empty());
    };
    Ok(brine_common::target::check_whitelist_blacklist(
        text,
        &brine_common::target::ExprMatcher::all(&whitelist),
        &brine_common::target::ExprMatcher::all(&blacklist),
    ))
}

/// A list argument: a string is a list of one; `None` or empty is none.
fn pattern_list(list: Option<Value>, name: &str) -> Result<Vec<String>, Error> {
    let Some(list) = list.filter(Value::is_true) else {
        return Ok(Vec::new());
    };
    if let Some(text) = list.as_str() {
        return Ok(vec![text.to_owned()]);
    }
    let items = list.try_iter().map_err(|_| {
        py_error(
            "TypeError",
            format!(
                "Expecting iterable {name}, but got {} ({list})",
                type_name(&list)
            ),
        )
    })?;
    Ok(items
        .map(|item| {
            item.as_str()
                .map_or_else(|| item.to_string(), str::to_owned)
        })
        .collect())
}

/// Salt's `min`/`max`: Python's `min(obj)`/`max(obj)` (case-sensitive,
/// the first of equal items; a mapping gives its keys, a string its
/// characters).
fn extreme(value: &Value, wanted: Ordering) -> Result<Value, Error> {
    let (name, operator) = match wanted {
        Ordering::Less => ("min", "<"),
        _ => ("max", ">"),
    };
    let items: Vec<Value> = match value.kind() {
        ValueKind::String => value
            .as_str()
            .unwrap_or_default()
            .chars()
            .map(|c| Value::from(c.to_string()))
            .collect(),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable => value.try_iter()?.collect(),
        _ => {
            return Err(py_error(
                "TypeError",
                format!("'{}' object is not iterable", type_name(value)),
            ));
        }
    };
    let mut items = items.into_iter();
    let Some(mut best) = items.next() else {
        return Err(py_error(
            "ValueError",
            format!("{name}() arg is an empty sequence"),
        ));
    };
    for item in items {
        if python_compare(&item, &best, operator)? == wanted {
            best = item;
        }
    }
    Ok(best)
}

/// Python's ordering of two values, or its TypeError for types it does not
/// order (`operator` is the one named in that message).
fn python_compare(left: &Value, right: &Value, operator: &str) -> Result<Ordering, Error> {
    let refused = || {
        py_error(
            "TypeError",
            format!(
                "'{operator}' not supported between instances of '{}' and '{}'",
                type_name(left),
                type_name(right)
            ),
        )
    };
    let numeric = |v: &Value| matches!(v.kind(), ValueKind::Number | ValueKind::Bool);
    match (left.kind(), right.kind()) {
        _ if numeric(left) && numeric(right) => {
            let (a, b) = (as_f64(left), as_f64(right));
            a.partial_cmp(&b).ok_or_else(refused)
        }
        (ValueKind::String, ValueKind::String) => Ok(left.as_str().cmp(&right.as_str())),
        (ValueKind::Seq, ValueKind::Seq) => {
            let (a, b): (Vec<Value>, Vec<Value>) =
                (left.try_iter()?.collect(), right.try_iter()?.collect());
            for (x, y) in a.iter().zip(&b) {
                if x != y {
                    return python_compare(x, y, operator);
                }
            }
            Ok(a.len().cmp(&b.len()))
        }
        _ => Err(refused()),
    }
}

fn as_f64(value: &Value) -> f64 {
    if value.kind() == ValueKind::Bool {
        return if value.is_true() { 1.0 } else { 0.0 };
    }
    f64::try_from(value.clone()).unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::super::tests::render;

    #[test]
    fn min_and_max_are_pythons() {
        assert_eq!(render("{{ ['B', 'a']|max }} {{ ['B', 'a']|min }}"), "a B");
        assert_eq!(render("{{ {'b': 1, 'a': 2}|min }}"), "a");
        assert_eq!(render("{{ 'hello'|max }}"), "o");
        assert_eq!(
            render("{{ [1, 2.5, true]|max }} {{ [1, true]|max }}"),
            "2.5 1"
        );
        assert_eq!(render("{{ [[1, 2], [1, 3]]|max }}"), "[1, 3]");
        let err = render("{{ []|max }}");
        assert!(
            err.contains("ValueError: max() arg is an empty sequence"),
            "{err}"
        );
        let err = render("{{ [1, 'a']|max }}");
        assert!(
            err.contains("TypeError: '>' not supported between instances of 'str' and 'int'"),
            "{err}"
        );
        let err = render("{{ none|min }}");
        assert!(
            err.contains("TypeError: 'NoneType' object is not iterable"),
            "{err}"
        );
    }

    #[test]
    fn mysql_to_dict_keys_rows_by_a_column() {
        let out = render(
            "{% set d = ['+----+------+', '| id | name |', '+----+------+', \
             '| 1  | foo  |', '| 2  | 2.5  |', '+----+------+']|mysql_to_dict('id') %}\
             {{ d[1].name }} {{ d[2].name + 1 }} {{ d|length }}",
        );
        assert_eq!(out, "foo 3.5 2");
        let err = render("{{ ['| id |', '| 1 |']|mysql_to_dict('x') }}");
        assert!(err.contains("KeyError: 'x'"), "{err}");
    }

    #[test]
    fn whitelist_and_blacklist() {
        let out = render(
            "{{ 'web1'|check_whitelist_blacklist(whitelist='web*') }} \
             {{ 'web1'|check_whitelist_blacklist(blacklist=['web\\\\d']) }} \
             {{ 'db1'|check_whitelist_blacklist(['web*'], ['db*']) }} \
             {{ 'db1'|check_whitelist_blacklist }} \
             {{ 5|check_whitelist_blacklist(blacklist=['5']) }}",
        );
        assert_eq!(out, "True False False True True");
        let err = render("{{ 'a'|check_whitelist_blacklist(whitelist=5) }}");
        assert!(
            err.contains("Expecting iterable whitelist, but got int (5)"),
            "{err}"
        );
    }

    #[test]
    fn json_encode_turns_strings_into_bytes() {
        assert_eq!(
            render("{{ ({'a': 'b', 'n': 1}|json_encode_dict)|first is string }}"),
            "False"
        );
        assert_eq!(render("{{ (['a', 1]|json_encode_list)[1] }}"), "1");
        let err = render("{{ [1]|json_decode_dict }}");
        assert!(
            err.contains("AttributeError: 'list' object has no attribute 'items'"),
            "{err}"
        );
    }
}
