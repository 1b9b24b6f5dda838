//! Salt's filters that change nested dicts in place
//! (`salt/utils/dictupdate.py`: `set_dict_key_value`, `update_dict_key_value`,
//! `append_dict_key_value`, `extend_dict_key_value`) and `method_call`.
//! They work on the mutable dicts of [`crate::render::mutable`], so the
//! dict a template holds is changed, as in Salt.

use minijinja::value::{Rest, Value, ValueOrKwargs};
use minijinja::{Environment, Error};

use super::invalid;
use crate::render::methods::python_method;
use crate::render::mutable::{MutableDict, MutableList, make_mutable, new_dict, new_list};

/// Adds the dict filters to `env`.
pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter(
        "set_dict_key_value",
        |d: Value, k: String, v: Value, s: Option<String>| change_at(d, &k, v, s, Change::Set),
    );
    env.add_filter(
        "update_dict_key_value",
        |d: Value, k: String, v: Value, s: Option<String>| change_at(d, &k, v, s, Change::Update),
    );
    env.add_filter(
        "append_dict_key_value",
        |d: Value, k: String, v: Value, s: Option<String>| change_at(d, &k, v, s, Change::Append),
    );
    env.add_filter(
        "extend_dict_key_value",
        |d: Value, k: String, v: Value, s: Option<String>| change_at(d, &k, v, s, Change::Extend),
    );
    env.add_filter("method_call", method_call);
}

#[derive(Clone, Copy, PartialEq)]
enum Change {
    Set,
    Update,
    Append,
    Extend,
}

fn as_dict(value: &Value) -> Result<&MutableDict, Error> {
    value
        .downcast_object_ref::<MutableDict>()
        .ok_or_else(|| invalid(format!("expected a dict, got {}", value.kind())))
}

/// Salt's `_dict_rpartition` then the change at the last key.
fn change_at(
    dict: Value,
    keys: &str,
    value: Value,
    delimiter: Option<String>,
    change: Change,
) -> Result<Value, Error> {
    let root = make_mutable(dict);
    let delimiter = delimiter.unwrap_or_else(|| ":".to_owned());
    let (path, last) = match keys.rsplit_once(delimiter.as_str()) {
        Some((path, last)) => (path.split(delimiter.as_str()).collect::<Vec<_>>(), last),
        None => (Vec::new(), keys),
    };
    let mut pointer = root.clone();
    for key in path {
        let key = Value::from(key);
        let here = as_dict(&pointer)?;
        let next = here
            .get(&key)
            .filter(|v| v.downcast_object_ref::<MutableDict>().is_some());
        pointer = match next {
            Some(next) => next,
            None => {
                let fresh = new_dict(Vec::new());
                here.insert(key, fresh.clone());
                fresh
            }
        };
    }
    apply(as_dict(&pointer)?, Value::from(last), value, change)?;
    Ok(root)
}

fn apply(dict: &MutableDict, key: Value, value: Value, change: Change) -> Result<(), Error> {
    if change == Change::Set {
        dict.insert(key, value);
        return Ok(());
    }
    let current = dict.get(&key).filter(|v| !v.is_none());
    let target = match current {
        Some(target) => target,
        None => {
            let fresh = if change == Change::Update {
                new_dict(Vec::new())
            } else {
                new_list(Vec::new())
            };
            dict.insert(key, fresh.clone());
            fresh
        }
    };
    let (method, what) = match change {
        Change::Update => ("update", "update"),
        Change::Append => ("append", "append"),
        _ => ("extend", "extend"),
    };
    let supported = match change {
        Change::Update => target.downcast_object_ref::<MutableDict>().is_some(),
        _ => target.downcast_object_ref::<MutableList>().is_some(),
    };
    if !supported {
        return Err(invalid(format!(
            "The last key contains a {}, which cannot {what}.",
            target.kind()
        )));
    }
    python_method(&target, method, &[value])?;
    Ok(())
}

/// `|method_call('name', *args, **kwargs)`: `value.name(...)`, or `None`
/// when the value has no such method (Salt's `getattr(..., lambda: None)`).
fn method_call(value: &Value, name: String, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let args = args.into_values();
    Ok(python_method(value, &name, &args)?.unwrap_or(Value::from(())))
}
