//! Mutable lists and dicts for `{% do x.append(y) %}` and `{% do d.update(e) %}`.
//!
//! minijinja's values are immutable, while Salt formulas build lists and
//! dicts in place. The preprocessor wraps literal right-hand sides of `set`
//! (`{% set x = [] %}`, `{% set d = {'a': 1} %}`) in `__salt_mutable(...)`,
//! which turns them into these objects. They iterate, index, compare by
//! content in `in`, and serialize like ordinary lists and maps; unknown
//! methods fall through to the `pycompat` methods (`.items()`, `.get()`...).
//! A `[]` written inside a larger expression stays immutable.

use std::sync::{Arc, Mutex, MutexGuard};

use indexmap::IndexMap;
use minijinja::value::{Enumerator, Kwargs, Object, ObjectRepr, Value, ValueKind};
use minijinja::{Error, ErrorKind, State};

/// Wraps a plain list or map (shallowly) in its mutable counterpart; other
/// values, and values already mutable, are returned unchanged.
pub(crate) fn make_mutable(value: Value) -> Value {
    if value.as_object().is_some() && !is_plain_collection(&value) {
        return value;
    }
    match value.kind() {
        ValueKind::Seq => {
            let items = value.try_iter().map(|it| it.collect()).unwrap_or_default();
            Value::from_object(MutableList(Mutex::new(items)))
        }
        ValueKind::Map => {
            let mut map = IndexMap::new();
            if let Ok(keys) = value.try_iter() {
                for key in keys {
                    let item = value.get_item(&key).unwrap_or_default();
                    map.insert(key, item);
                }
            }
            Value::from_object(MutableDict(Mutex::new(map)))
        }
        _ => value,
    }
}

/// Whether `value` is a list or map this module did not already wrap.
fn is_plain_collection(value: &Value) -> bool {
    value.downcast_object_ref::<MutableList>().is_none()
        && value.downcast_object_ref::<MutableDict>().is_none()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn no_method() -> Error {
    Error::from(ErrorKind::UnknownMethod)
}

/// A list that `append`, `extend`, `insert`, `pop`, `remove` and `clear` change in place.
#[derive(Debug, Default)]
pub(crate) struct MutableList(Mutex<Vec<Value>>);

impl Object for MutableList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let items = lock(&self.0);
        let index = i64::try_from(key.clone()).ok()?;
        let len = i64::try_from(items.len()).ok()?;
        let index = if index < 0 { index + len } else { index };
        items.get(usize::try_from(index).ok()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(lock(&self.0).clone())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(lock(&self.0).len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let mut items = lock(&self.0);
        match (method, args) {
            ("append", [item]) => items.push(item.clone()),
            ("extend", [other]) => items.extend(other.try_iter()?),
            ("insert", [index, item]) => {
                let index = usize::try_from(index.clone()).unwrap_or(0).min(items.len());
                items.insert(index, item.clone());
            }
            ("pop", []) => return Ok(items.pop().unwrap_or_default()),
            ("pop", [index]) => {
                let index = usize::try_from(index.clone())?;
                if index >= items.len() {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "pop index out of range",
                    ));
                }
                return Ok(items.remove(index));
            }
            ("remove", [item]) => match items.iter().position(|x| x == item) {
                Some(index) => {
                    items.remove(index);
                }
                None => {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "list.remove(x): x not in list",
                    ));
                }
            },
            ("clear", []) => items.clear(),
            _ => return Err(no_method()),
        }
        Ok(Value::from(()))
    }
}

/// A dict that `update`, `setdefault`, `pop` and `clear` change in place.
#[derive(Debug, Default)]
pub(crate) struct MutableDict(Mutex<IndexMap<Value, Value>>);

impl MutableDict {
    /// Replaces the whole content with the entries of the map `value`.
    pub(crate) fn replace_with(&self, value: &Value) -> Result<(), Error> {
        let mut entries = IndexMap::new();
        for key in value.try_iter()? {
            let item = value.get_item(&key)?;
            entries.insert(key, item);
        }
        *lock(&self.0) = entries;
        Ok(())
    }

    fn update_from(&self, other: &Value) -> Result<(), Error> {
        let pairs: Vec<(Value, Value)> = if other.kind() == ValueKind::Map {
            other
                .try_iter()?
                .map(|key| (key.clone(), other.get_item(&key).unwrap_or_default()))
                .collect()
        } else {
            other
                .try_iter()?
                .map(|pair| {
                    (
                        pair.get_item_by_index(0).unwrap_or_default(),
                        pair.get_item_by_index(1).unwrap_or_default(),
                    )
                })
                .collect()
        };
        lock(&self.0).extend(pairs);
        Ok(())
    }

    fn update_from_kwargs(&self, kwargs: &Kwargs) -> Result<(), Error> {
        let mut map = lock(&self.0);
        for key in kwargs.args() {
            map.insert(Value::from(key), kwargs.get::<Value>(key)?);
        }
        Ok(())
    }
}

impl Object for MutableDict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        lock(&self.0).get(key).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(lock(&self.0).keys().cloned().collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(lock(&self.0).len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match (method, args) {
            ("update", args) => {
                for arg in args {
                    match Kwargs::try_from(arg.clone()) {
                        Ok(kwargs) if arg.is_kwargs() => self.update_from_kwargs(&kwargs)?,
                        _ => self.update_from(arg)?,
                    }
                }
                Ok(Value::from(()))
            }
            ("setdefault", [key, rest @ ..]) => {
                let default = rest.first().cloned().unwrap_or(Value::from(()));
                Ok(lock(&self.0).entry(key.clone()).or_insert(default).clone())
            }
            ("pop", [key, rest @ ..]) => match lock(&self.0).shift_remove(key) {
                Some(value) => Ok(value),
                None => rest.first().cloned().ok_or_else(|| {
                    Error::new(ErrorKind::InvalidOperation, format!("KeyError: {key}"))
                }),
            },
            ("clear", []) => {
                lock(&self.0).clear();
                Ok(Value::from(()))
            }
            _ => Err(no_method()),
        }
    }
}
