//! Salt's data helpers on plain JSON values: `traverse_dict_and_list`,
//! `dictupdate.update`, `filter_by` and `fnmatch`, as in
//! `salt/utils/data.py` and `salt/utils/dictupdate.py`.

use serde_json::{Map, Value};

/// Salt's `traverse_dict_and_list`: walks `key` split on `delimiter` through
/// maps and lists (a numeric part indexes a list; a non-numeric part looks
/// into the list's embedded maps). `None` where Salt returns the default.
pub(crate) fn traverse<'a>(data: &'a Value, key: &str, delimiter: &str) -> Option<&'a Value> {
    let mut current = data;
    for part in key.split(delimiter) {
        current = match current {
            Value::Array(items) => match part.parse::<i64>() {
                Ok(index) => list_index(items, index)?,
                Err(_) => items.iter().find_map(|item| item.as_object()?.get(part))?,
            },
            Value::Object(map) => map.get(part)?,
            _ => return None,
        };
    }
    Some(current)
}

fn list_index(items: &[Value], index: i64) -> Option<&Value> {
    let len = i64::try_from(items.len()).ok()?;
    let index = if index < 0 { len + index } else { index };
    usize::try_from(index).ok().and_then(|i| items.get(i))
}

/// Salt's `dictupdate.update(dest, upd, merge_lists)`: recursive for maps;
/// with `merge_lists`, lists are extended by the items they lack.
pub(crate) fn update(dest: &mut Map<String, Value>, upd: &Map<String, Value>, merge_lists: bool) {
    for (key, new) in upd {
        match (dest.get_mut(key), new) {
            (Some(Value::Object(old)), Value::Object(new)) => update(old, new, merge_lists),
            (Some(Value::Array(old)), Value::Array(new)) if merge_lists => {
                for item in new {
                    if !old.contains(item) {
                        old.push(item.clone());
                    }
                }
            }
            _ => {
                dest.insert(key.clone(), new.clone());
            }
        }
    }
}

/// Arguments of Salt's `filter_by`, beyond the lookup table.
pub(crate) struct FilterBy<'a> {
    /// The value(s) to match: the grain's (or pillar's) value.
    pub(crate) value: Option<&'a Value>,
    pub(crate) merge: Option<&'a Value>,
    pub(crate) default: &'a str,
    pub(crate) base: Option<&'a str>,
}

/// Salt's `salt.utils.data.filter_by`: the first table entry whose key
/// matches (as a glob) the value, or one of the values when it is a list;
/// then the `default` entry; `base` merged under it and `merge` over it.
pub(crate) fn filter_by(table: &Map<String, Value>, args: &FilterBy<'_>) -> Result<Value, String> {
    let values: Vec<&Value> = match args.value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(value) => vec![value],
        None => Vec::new(),
    };
    let mut found = values.iter().find_map(|value| {
        let text = python_str(value);
        table
            .iter()
            .find(|(key, _)| fnmatch(&text, key))
            .map(|(_, v)| v.clone())
    });
    if found.is_none() {
        found = table.get(args.default).cloned();
    }
    if let Some(base) = args.base.and_then(|b| table.get(b)) {
        found = Some(merge_base(base, found)?);
    }
    if let Some(merge) = args.merge.filter(|m| !is_falsy(m)) {
        let Value::Object(merge) = merge else {
            return Err("filter_by merge argument must be a dictionary.".to_owned());
        };
        found = Some(match found {
            None | Some(Value::Null) => Value::Object(merge.clone()),
            Some(Value::Object(mut map)) => {
                update(&mut map, merge, false);
                Value::Object(map)
            }
            Some(_) => return Err("filter_by merge argument must be a dictionary.".to_owned()),
        });
    }
    Ok(found.unwrap_or(Value::Null))
}

fn merge_base(base: &Value, found: Option<Value>) -> Result<Value, String> {
    match (found, base) {
        (None | Some(Value::Null), _) => Ok(base.clone()),
        (Some(Value::Object(found)), Value::Object(base)) => {
            let mut merged = base.clone();
            update(&mut merged, &found, false);
            Ok(Value::Object(merged))
        }
        (Some(_), Value::Object(_)) => {
            Err("filter_by default and look-up values must both be dictionaries.".to_owned())
        }
        (Some(found), _) => Ok(found),
    }
}

/// Python's truthiness of a JSON value.
pub(crate) fn is_falsy(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// What Python's `str()` prints for a scalar (used to match grains like
/// `osmajorrelease: 12` against table keys).
pub(crate) fn python_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Null => "None".to_owned(),
        other => other.to_string(),
    }
}

/// Python's `fnmatch.fnmatchcase`: `*`, `?`, `[seq]` and `[!seq]`.
pub(crate) fn fnmatch(text: &str, pattern: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let pattern: Vec<char> = pattern.chars().collect();
    glob_at(&text, &pattern)
}

fn glob_at(text: &[char], pattern: &[char]) -> bool {
    let Some((&first, rest)) = pattern.split_first() else {
        return text.is_empty();
    };
    match first {
        '*' => (0..=text.len()).any(|skip| glob_at(&text[skip..], rest)),
        '?' => !text.is_empty() && glob_at(&text[1..], rest),
        '[' => match class_end(pattern) {
            Some(end) => {
                let Some((&c, text_rest)) = text.split_first() else {
                    return false;
                };
                class_matches(&pattern[1..end], c) && glob_at(text_rest, &pattern[end + 1..])
            }
            None => text.first() == Some(&'[') && glob_at(&text[1..], rest),
        },
        literal => text.first() == Some(&literal) && glob_at(&text[1..], rest),
    }
}

/// Index of the `]` closing a class that starts at `pattern[0] == '['`.
fn class_end(pattern: &[char]) -> Option<usize> {
    let mut index = 1;
    if pattern.get(index) == Some(&'!') {
        index += 1;
    }
    if pattern.get(index) == Some(&']') {
        index += 1;
    }
    pattern[index..]
        .iter()
        .position(|&c| c == ']')
        .map(|p| p + index)
}

fn class_matches(class: &[char], c: char) -> bool {
    let (negate, class) = match class.split_first() {
        Some(('!', rest)) => (true, rest),
        _ => (false, class),
    };
    let mut found = false;
    let mut index = 0;
    while index < class.len() {
        if index + 2 < class.len() && class[index + 1] == '-' {
            found |= class[index] <= c && c <= class[index + 2];
            index += 3;
        } else {
            found |= class[index] == c;
            index += 1;
        }
    }
    found != negate
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn render_data_traverse_walks_maps_lists_and_embedded_maps() {
        let data = json!({"a": {"b": [10, {"c": 3}]}});
        assert_eq!(traverse(&data, "a:b:0", ":"), Some(&json!(10)));
        assert_eq!(traverse(&data, "a:b:c", ":"), Some(&json!(3)));
        assert_eq!(traverse(&data, "a:x", ":"), None);
        assert_eq!(traverse(&data, "a.b.-1.c", "."), Some(&json!(3)));
    }

    #[test]
    fn render_data_fnmatch_is_python_fnmatchcase() {
        assert!(fnmatch("Debian", "Deb*"));
        assert!(fnmatch("RedHat", "[RS]ed?at"));
        assert!(!fnmatch("debian", "Deb*"));
        assert!(fnmatch("x", "[!a-c]"));
        assert!(!fnmatch("b", "[!a-c]"));
    }

    #[test]
    fn render_data_update_merges_recursively_and_lists_on_request() {
        let mut dest = json!({"a": {"x": 1, "l": [1]}, "b": 1});
        let upd = json!({"a": {"y": 2, "l": [1, 2]}, "b": 2});
        let (Value::Object(dest_map), Value::Object(upd_map)) = (&mut dest, &upd) else {
            panic!("maps");
        };
        update(dest_map, upd_map, true);
        assert_eq!(dest, json!({"a": {"x": 1, "l": [1, 2], "y": 2}, "b": 2}));
    }
}
