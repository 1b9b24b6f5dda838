//! Salt's list and set filters (`salt/utils/jinja.py`, `salt/utils/data.py`)
//! and the `itertools` filters its `SerializerExtension` registers.
//!
//! Lists keep Python's order: the set operations on lists work on
//! `unique(...)` of the items in first-seen order, as Salt does for lists
//! (it only falls back to Python sets for hashable inputs such as strings).

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error};

use super::invalid;
use crate::render::mutable::new_dict;
use crate::render::values::lookup;

/// Adds the list filters to `env`.
pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("union", union);
    env.add_filter("intersect", intersect);
    env.add_filter("difference", difference);
    env.add_filter("symmetric_difference", symmetric_difference);
    env.add_filter("flatten", flatten);
    env.add_filter("avg", avg);
    env.add_filter("sorted_ignorecase", sorted_ignorecase);
    env.add_filter("is_iter", is_iter);
    env.add_filter("exactly_one_true", |v: &Value| exactly_n_true(v, None));
    env.add_filter("exactly_n_true", exactly_n_true);
    env.add_filter("substring_in_list", substring_in_list);
    env.add_filter("compare_lists", compare_lists);
    env.add_filter("compare_dicts", compare_dicts);
    env.add_filter("to_entries", to_entries);
    env.add_filter("from_entries", from_entries);
    env.add_filter("zip", zip);
    env.add_filter("zip_longest", zip_longest);
    env.add_filter("product", product);
    env.add_filter("combinations", combinations);
    env.add_filter("permutations", permutations);
    env.add_filter("compress", compress);
}

pub(super) fn items(value: &Value) -> Result<Vec<Value>, Error> {
    Ok(value.try_iter()?.collect())
}

/// Salt's `unique` on a list: first-seen order, no repeats.
pub(super) fn unique_items(values: impl IntoIterator<Item = Value>) -> Vec<Value> {
    let mut seen: Vec<Value> = Vec::new();
    for value in values {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    seen
}

fn union(a: &Value, b: &Value) -> Result<Value, Error> {
    let mut all = items(a)?;
    all.extend(items(b)?);
    Ok(Value::from(unique_items(all)))
}

fn intersect(a: &Value, b: &Value) -> Result<Value, Error> {
    let other = items(b)?;
    let kept = items(a)?.into_iter().filter(|x| other.contains(x));
    Ok(Value::from(unique_items(kept)))
}

fn difference(a: &Value, b: &Value) -> Result<Value, Error> {
    let other = items(b)?;
    let kept = items(a)?.into_iter().filter(|x| !other.contains(x));
    Ok(Value::from(unique_items(kept)))
}

fn symmetric_difference(a: &Value, b: &Value) -> Result<Value, Error> {
    let (left, right) = (items(a)?, items(b)?);
    let both: Vec<Value> = left.iter().filter(|x| right.contains(x)).cloned().collect();
    let all = left.into_iter().chain(right);
    Ok(Value::from(unique_items(all.filter(|x| !both.contains(x)))))
}

/// Salt's `is_iter`: iterable and not a string.
fn is_iter(value: &Value) -> bool {
    matches!(
        value.kind(),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable
    )
}

/// `|flatten(levels=None, preserve_nulls=False)`: `None`, `"None"` and
/// `"null"` items are dropped unless `preserve_nulls`.
fn flatten(value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let levels: Option<i64> = kwargs.get("levels")?;
    let preserve_nulls: Option<bool> = kwargs.get("preserve_nulls")?;
    kwargs.assert_all_used()?;
    let mut out = Vec::new();
    flatten_into(value, levels, preserve_nulls.unwrap_or(false), &mut out)?;
    Ok(Value::from(out))
}

fn flatten_into(
    value: &Value,
    levels: Option<i64>,
    preserve_nulls: bool,
    out: &mut Vec<Value>,
) -> Result<(), Error> {
    for item in value.try_iter()? {
        let is_null = item.is_none() || matches!(item.as_str(), Some("None" | "null"));
        if is_null && !preserve_nulls {
            continue;
        }
        match levels {
            _ if !is_iter(&item) => out.push(item),
            None => flatten_into(&item, None, preserve_nulls, out)?,
            Some(n) if n >= 1 => flatten_into(&item, Some(n - 1), preserve_nulls, out)?,
            Some(_) => out.push(item),
        }
    }
    Ok(())
}

/// `|avg`: the mean as a float; a single number is returned as a float.
fn avg(value: &Value) -> Result<f64, Error> {
    if value.kind() == ValueKind::Number {
        return f64::try_from(value.clone());
    }
    let numbers = items(value)?
        .into_iter()
        .map(f64::try_from)
        .collect::<Result<Vec<f64>, Error>>()?;
    if numbers.is_empty() {
        return Err(invalid("avg: division by zero (the list is empty)"));
    }
    Ok(numbers.iter().sum::<f64>() / numbers.len() as f64)
}

fn sorted_ignorecase(value: &Value) -> Result<Value, Error> {
    let mut list = items(value)?;
    let key = |v: &Value| v.as_str().map(str::to_lowercase);
    if list.iter().any(|v| v.as_str().is_none()) {
        return Err(invalid("sorted_ignorecase: every item must be a string"));
    }
    list.sort_by_key(key);
    Ok(Value::from(list))
}

/// `|exactly_n_true(n=1)`: exactly `n` items are truthy.
fn exactly_n_true(value: &Value, amount: Option<usize>) -> Result<bool, Error> {
    let truthy = value.try_iter()?.filter(Value::is_true).count();
    Ok(truthy == amount.unwrap_or(1))
}

/// `|substring_in_list(list)`: the text occurs in one of the list's strings.
fn substring_in_list(text: String, list: &Value) -> Result<bool, Error> {
    Ok(list
        .try_iter()?
        .any(|item| item.as_str().is_some_and(|s| s.contains(text.as_str()))))
}

/// `old|compare_lists(new)`: `{'new': [added...], 'old': [removed...]}`.
fn compare_lists(old: &Value, new: &Value) -> Result<Value, Error> {
    let (old, new) = (items(old)?, items(new)?);
    let added: Vec<Value> = new.iter().filter(|x| !old.contains(x)).cloned().collect();
    let removed: Vec<Value> = old.iter().filter(|x| !new.contains(x)).cloned().collect();
    let mut out: Vec<(Value, Value)> = Vec::new();
    if !added.is_empty() {
        out.push((Value::from("new"), Value::from(added)));
    }
    if !removed.is_empty() {
        out.push((Value::from("old"), Value::from(removed)));
    }
    Ok(new_dict(out))
}

/// `old|compare_dicts(new)`: `{key: {'old': ..., 'new': ...}}` for every
/// key added, removed or changed (`''` stands for a missing side).
fn compare_dicts(old: &Value, new: &Value) -> Result<Value, Error> {
    let mut keys = items(new)?;
    keys.extend(items(old)?);
    let mut out: Vec<(Value, Value)> = Vec::new();
    for key in unique_items(keys) {
        let before = lookup(old, &key);
        let after = lookup(new, &key);
        if before.is_some() && before == after {
            continue;
        }
        let side = |v: Option<Value>| v.unwrap_or_else(|| Value::from(""));
        let change = [
            (Value::from("old"), side(before)),
            (Value::from("new"), side(after)),
        ];
        out.push((key, new_dict(change)));
    }
    Ok(new_dict(out))
}

/// `|to_entries`: `[{'key': k, 'value': v}, ...]` for a dict or a list.
fn to_entries(value: &Value) -> Result<Value, Error> {
    let entry = |key: Value, value: Value| {
        new_dict([(Value::from("key"), key), (Value::from("value"), value)])
    };
    let entries: Vec<Value> = match value.kind() {
        ValueKind::Map => items(value)?
            .into_iter()
            .map(|k| {
                let v = value.get_item(&k).unwrap_or_default();
                entry(k, v)
            })
            .collect(),
        ValueKind::Seq => items(value)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| entry(Value::from(i), v))
            .collect(),
        _ => return Err(invalid("Input data must be a dict or list")),
    };
    Ok(Value::from(entries))
}

/// `|from_entries`: a dict from entries keyed `key` or `name` (any case).
fn from_entries(value: &Value) -> Result<Value, Error> {
    let mut out: Vec<(Value, Value)> = Vec::new();
    for entry in value.try_iter()? {
        let field = |name: &str| -> Option<Value> {
            let key = entry
                .try_iter()
                .ok()?
                .find(|k| k.as_str().is_some_and(|s| s.eq_ignore_ascii_case(name)))?;
            lookup(&entry, &key)
        };
        let key = ["key", "name"]
            .iter()
            .find_map(|name| field(name).filter(Value::is_true));
        if let Some(key) = key {
            let value = field("value").unwrap_or_default();
            out.retain(|(k, _)| *k != key);
            out.push((key, value));
        }
    }
    Ok(new_dict(out))
}

fn zip(first: &Value, others: minijinja::value::Rest<Value>) -> Result<Value, Error> {
    let mut lists = vec![items(first)?];
    for other in others.iter() {
        lists.push(items(other)?);
    }
    let len = lists.iter().map(Vec::len).min().unwrap_or(0);
    Ok(Value::from(rows(&lists, len, &Value::from(()))))
}

fn zip_longest(
    first: &Value,
    others: minijinja::value::Rest<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let fill: Option<Value> = kwargs.get("fillvalue")?;
    kwargs.assert_all_used()?;
    let mut lists = vec![items(first)?];
    for other in others.iter() {
        lists.push(items(other)?);
    }
    let len = lists.iter().map(Vec::len).max().unwrap_or(0);
    Ok(Value::from(rows(&lists, len, &fill.unwrap_or_default())))
}

/// Row `i` of every list, `fill` where a list is too short.
fn rows(lists: &[Vec<Value>], len: usize, fill: &Value) -> Vec<Value> {
    (0..len)
        .map(|i| {
            let row: Vec<Value> = lists
                .iter()
                .map(|l| l.get(i).cloned().unwrap_or_else(|| fill.clone()))
                .collect();
            Value::from(row)
        })
        .collect()
}

/// `|product(other, ..., repeat=1)`: the cartesian product, in
/// `itertools.product`'s order.
fn product(
    first: &Value,
    others: minijinja::value::Rest<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let repeat: Option<usize> = kwargs.get("repeat")?;
    kwargs.assert_all_used()?;
    let mut pools = vec![items(first)?];
    for other in others.iter() {
        pools.push(items(other)?);
    }
    let pools: Vec<Vec<Value>> = (0..repeat.unwrap_or(1))
        .flat_map(|_| pools.clone())
        .collect();
    let mut result: Vec<Vec<Value>> = vec![Vec::new()];
    for pool in &pools {
        result = result
            .iter()
            .flat_map(|prefix| {
                pool.iter().map(move |item| {
                    let mut row = prefix.clone();
                    row.push(item.clone());
                    row
                })
            })
            .collect();
    }
    Ok(Value::from_iter(result.into_iter().map(Value::from)))
}

/// `|combinations(r)`: `itertools.combinations`, in its order.
fn combinations(value: &Value, r: usize) -> Result<Value, Error> {
    let pool = items(value)?;
    let mut out = Vec::new();
    choose(&pool, r, 0, &mut Vec::new(), &mut out);
    Ok(Value::from(out))
}

fn choose(pool: &[Value], r: usize, start: usize, row: &mut Vec<Value>, out: &mut Vec<Value>) {
    if row.len() == r {
        out.push(Value::from(row.clone()));
        return;
    }
    for index in start..pool.len() {
        row.push(pool[index].clone());
        choose(pool, r, index + 1, row, out);
        row.pop();
    }
}

/// `|permutations(r=None)`: `itertools.permutations`, in its order.
fn permutations(value: &Value, r: Option<usize>) -> Result<Value, Error> {
    let pool = items(value)?;
    let r = r.unwrap_or(pool.len());
    let mut out = Vec::new();
    let mut used = vec![false; pool.len()];
    arrange(&pool, r, &mut used, &mut Vec::new(), &mut out);
    Ok(Value::from(out))
}

fn arrange(
    pool: &[Value],
    r: usize,
    used: &mut [bool],
    row: &mut Vec<Value>,
    out: &mut Vec<Value>,
) {
    if row.len() == r {
        out.push(Value::from(row.clone()));
        return;
    }
    for index in 0..pool.len() {
        if used[index] {
            continue;
        }
        used[index] = true;
        row.push(pool[index].clone());
        arrange(pool, r, used, row, out);
        row.pop();
        used[index] = false;
    }
}

/// `|compress(selectors)`: the items whose selector is truthy.
fn compress(value: &Value, selectors: &Value) -> Result<Value, Error> {
    let kept = items(value)?
        .into_iter()
        .zip(selectors.try_iter()?)
        .filter(|(_, s)| s.is_true())
        .map(|(v, _)| v);
    Ok(Value::from_iter(kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[i64]) -> Value {
        Value::from_iter(items.iter().copied())
    }

    #[test]
    fn render_filters_set_operations_keep_first_seen_order() {
        let (a, b) = (list(&[1, 2, 3, 4]), list(&[2, 4, 6]));
        assert_eq!(union(&a, &b).ok(), Some(list(&[1, 2, 3, 4, 6])));
        assert_eq!(intersect(&a, &b).ok(), Some(list(&[2, 4])));
        assert_eq!(difference(&a, &b).ok(), Some(list(&[1, 3])));
        assert_eq!(symmetric_difference(&a, &b).ok(), Some(list(&[1, 3, 6])));
    }

    #[test]
    fn render_filters_itertools_follow_python_order() {
        let got = combinations(&list(&[1, 2, 3]), 2).map(|v| v.to_string());
        assert_eq!(got.ok().as_deref(), Some("[[1, 2], [1, 3], [2, 3]]"));
        let got = permutations(&list(&[1, 2]), None).map(|v| v.to_string());
        assert_eq!(got.ok().as_deref(), Some("[[1, 2], [2, 1]]"));
    }

    #[test]
    fn render_filters_exactly_n_true_counts_truthy_items() {
        let v = Value::from(vec![Value::from(true), Value::from(0), Value::from("x")]);
        assert_eq!(exactly_n_true(&v, Some(2)).ok(), Some(true));
        assert_eq!(exactly_n_true(&v, None).ok(), Some(false));
    }
}
