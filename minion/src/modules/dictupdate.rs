//! Salt's `salt/utils/dictupdate.py` over JSON values: `update` and `merge`
//! with its strategies (`smart`, `recurse`, `aggregate`, `list`,
//! `overwrite`, `none`), as `slsutil`, `defaults` and `config.get` call them.
//!
//! The quirks are Salt's: `overwrite` replaces whole top-level values;
//! `aggregate` with plain data unites the top level
//! only (below it the later value's keys win, as yamlex's
//! `merge_recursive(level=1)` does); an unknown strategy and `none` merge
//! like `recurse` but ignore `merge_lists`; `merge_lists` appends the items
//! the first list lacks (checked against the first list only, so duplicates
//! within the second list stay).

use brine_common::functions::FnError;
use brine_common::output::python::python_type;
use serde_json::{Map, Value};

/// Salt's `TypeError` text when `update` is given something that is not a dict.
pub const NON_DICT: &str = "Cannot update using non-dict types in dictupdate.update()";

/// Salt's `dictupdate.update(dest, upd, recursive_update, merge_lists)`.
pub fn update(
    dest: Value,
    upd: Value,
    recursive: bool,
    merge_lists: bool,
) -> Result<Value, FnError> {
    match (dest, upd) {
        (Value::Object(dest), Value::Object(upd)) => {
            Ok(Value::Object(update_map(dest, upd, recursive, merge_lists)))
        }
        _ => Err(FnError::Type(NON_DICT.into())),
    }
}

/// [`update`] on two mappings.
pub fn update_map(
    mut dest: Map<String, Value>,
    upd: Map<String, Value>,
    recursive: bool,
    merge_lists: bool,
) -> Map<String, Value> {
    if !recursive {
        dest.extend(upd);
        return dest;
    }
    for (key, value) in upd {
        let merged = match (dest.remove_entry_keep(&key), value) {
            (Some(Value::Object(inner)), Value::Object(more)) => {
                Value::Object(update_map(inner, more, true, merge_lists))
            }
            (Some(Value::Array(list)), Value::Array(more)) if merge_lists => {
                Value::Array(union(list, more))
            }
            (_, value) => value,
        };
        dest.insert(key, merged);
    }
    dest
}

/// `first` followed by the items of `more` that `first` does not hold.
fn union(first: Vec<Value>, more: Vec<Value>) -> Vec<Value> {
    let missing: Vec<Value> = more.into_iter().filter(|x| !first.contains(x)).collect();
    let mut list = first;
    list.extend(missing);
    list
}

/// Taking a value out of a map without moving its key to the end when it is
/// put back (`preserve_order` maps keep the slot of an overwritten key).
trait TakeKeepingSlot {
    fn remove_entry_keep(&mut self, key: &str) -> Option<Value>;
}

impl TakeKeepingSlot for Map<String, Value> {
    fn remove_entry_keep(&mut self, key: &str) -> Option<Value> {
        self.get_mut(key).map(Value::take)
    }
}

/// Salt's `dictupdate.merge(obj_a, obj_b, strategy, renderer, merge_lists)`.
pub fn merge(
    a: Value,
    b: Value,
    strategy: &str,
    renderer: &str,
    merge_lists: bool,
) -> Result<Value, FnError> {
    match resolve(strategy, renderer) {
        "list" => merge_list(a, &b),
        "recurse" => update(a, b, true, merge_lists),
        "aggregate" => Ok(aggregate(a, b, true)),
        "overwrite" => update(a, b, false, merge_lists),
        "none" => update(a, b, true, false),
        other => {
            tracing::warn!("Unknown merging strategy '{other}', fallback to recurse");
            update(a, b, true, false)
        }
    }
}

/// `smart` is `aggregate` for the yamlex renderer and `recurse` otherwise.
fn resolve<'a>(strategy: &'a str, renderer: &str) -> &'a str {
    if strategy != "smart" {
        return strategy;
    }
    let last = renderer.rsplit('|').next().unwrap_or(renderer);
    if last == "yamlex" || renderer.starts_with("yamlex_") {
        "aggregate"
    } else {
        "recurse"
    }
}

/// `list`: keys of `a`; where `b` has the key too, `[a's, b's]`.
fn merge_list(a: Value, b: &Value) -> Result<Value, FnError> {
    let Value::Object(a) = a else {
        return Err(FnError::Exception(format!(
            "AttributeError: '{}' object has no attribute 'items'",
            python_type(&a)
        )));
    };
    let merged = a
        .into_iter()
        .map(|(key, value)| {
            let value = match other_value(b, &key) {
                Some(other) => Value::Array(vec![value, other.clone()]),
                None => value,
            };
            (key, value)
        })
        .collect();
    Ok(Value::Object(merged))
}

/// `b[key]` when `key in b` holds for a mapping.
fn other_value<'a>(b: &'a Value, key: &str) -> Option<&'a Value> {
    b.as_object().and_then(|map| map.get(key))
}

/// Salt's `aggregation.aggregate` for unmarked data: `marked` is true at the
/// top level only (`level=1`), where mappings unite and sequences (scalars
/// count as one-item sequences) are joined without duplicates. Below it,
/// only the keys of `b` remain, merged with `a`'s where both have them.
fn aggregate(a: Value, b: Value, marked: bool) -> Value {
    match (a, b) {
        (Value::Object(mut a), Value::Object(b)) => {
            let mut response = if marked { a.clone() } else { Map::new() };
            for (key, value) in b {
                let value = match a.get_mut(&key) {
                    Some(old) => aggregate(old.take(), value, false),
                    None => value,
                };
                response.insert(key, value);
            }
            Value::Object(response)
        }
        (a, b) if marked && !a.is_object() && !b.is_object() => {
            Value::Array(union(as_sequence(a), as_sequence(b)))
        }
        (_, b) => b,
    }
}

/// Salt's `mark` of a value as a sequence: a list as is, anything else in a list.
fn as_sequence(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        other => vec![other],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn merged(a: Value, b: Value, strategy: &str, lists: bool) -> Value {
        merge(a, b, strategy, "yaml", lists).expect("merge")
    }

    #[test]
    fn recurse_merges_mappings_and_optionally_lists() {
        let a = json!({"a": {"b": 1}, "l": [1], "x": "keep"});
        let b = json!({"a": {"c": 2}, "l": [2, 2]});
        assert_eq!(
            merged(a.clone(), b.clone(), "recurse", true),
            json!({"a": {"b": 1, "c": 2}, "l": [1, 2, 2], "x": "keep"})
        );
        assert_eq!(
            merged(a.clone(), b.clone(), "smart", false),
            json!({"a": {"b": 1, "c": 2}, "l": [2, 2], "x": "keep"})
        );
        // `none` and unknown strategies ignore merge_lists.
        assert_eq!(
            merged(a.clone(), b.clone(), "none", true)["l"],
            json!([2, 2])
        );
        assert_eq!(merged(a, b, "bogus", true)["l"], json!([2, 2]));
    }

    #[test]
    fn overwrite_replaces_top_level_values() {
        let out = merged(
            json!({"a": {"b": 1}, "x": 1}),
            json!({"a": {"c": 2}}),
            "overwrite",
            true,
        );
        assert_eq!(out, json!({"a": {"c": 2}, "x": 1}));
        assert!(merge(json!([1]), json!({}), "overwrite", "yaml", false).is_err());
    }

    #[test]
    fn overwritten_keys_keep_their_place() {
        let out = merged(json!({"a": 1, "b": 2}), json!({"a": 3}), "recurse", false);
        let keys: Vec<&String> = out
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["a", "b"]);
    }

    #[test]
    fn aggregate_is_salts_level_one_merge() {
        let a = json!({"a": {"x": 1, "y": [1]}, "l": [1], "s": 1});
        let b = json!({"a": {"z": 2, "y": [2]}, "l": [2], "t": 2});
        assert_eq!(
            merged(a, b, "aggregate", false),
            json!({"a": {"z": 2, "y": [2]}, "l": [2], "s": 1, "t": 2})
        );
        assert_eq!(
            merged(json!([1]), json!([2, 1]), "aggregate", false),
            json!([1, 2])
        );
        assert_eq!(
            merged(json!(1), json!(2), "aggregate", false),
            json!([1, 2])
        );
    }

    #[test]
    fn smart_is_aggregate_for_yamlex() {
        let out = merge(
            json!({"l": [1]}),
            json!({"l": [2]}),
            "smart",
            "jinja|yamlex",
            false,
        );
        assert_eq!(out, Ok(json!({"l": [2]})));
        let out = merge(json!([1]), json!([2]), "smart", "yamlex_x", false);
        assert_eq!(out, Ok(json!([1, 2])));
    }

    #[test]
    fn list_strategy_pairs_shared_keys() {
        assert_eq!(
            merged(
                json!({"a": 1, "b": [1]}),
                json!({"a": 2, "b": [2]}),
                "list",
                false
            ),
            json!({"a": [1, 2], "b": [[1], [2]]})
        );
        assert!(matches!(
            merge(json!(1), json!(2), "list", "yaml", false),
            Err(FnError::Exception(m)) if m == "AttributeError: 'int' object has no attribute 'items'"
        ));
    }

    #[test]
    fn non_dicts_are_a_type_error() {
        assert_eq!(
            merge(json!([1]), json!([2]), "recurse", "yaml", false),
            Err(FnError::Type(NON_DICT.into()))
        );
        assert_eq!(
            update(json!({}), json!(1), true, false),
            Err(FnError::Type(NON_DICT.into()))
        );
    }

    #[test]
    fn flat_update_replaces_whole_values() {
        let out = update(json!({"a": {"x": 1}}), json!({"a": {"y": 2}}), false, false);
        assert_eq!(out, Ok(json!({"a": {"y": 2}})));
    }
}
