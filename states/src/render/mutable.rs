//! Mutable lists and dicts, so that templates change data in place as
//! Python does (`{% do x.append(y) %}`, `{% do d['f'].append(1) %}`,
//! `{% do d.setdefault('k', []).append(v) %}`, `{% do ns.names.append(x) %}`).
//!
//! minijinja's lists and maps are immutable. Every list and map a template
//! can reach is made one of these objects instead, deeply: host data
//! (grains, pillar, opts, results of `salt[...]`, `import_yaml`) through
//! [`super::values::from_json`], the right-hand side of every `set` (the
//! preprocessor wraps it in `__salt_mutable(...)`), `namespace(...)`
//! values, and anything stored into one of these objects. A value that is
//! already mutable is kept as is, so two names bound to one dict see each
//! other's changes, as in Python. They iterate, index, compare by content
//! and serialize like ordinary lists and maps; methods they do not have
//! fall through to [`super::methods`].

use std::sync::{Arc, Mutex, MutexGuard};

use indexmap::IndexMap;
use minijinja::value::{Enumerator, Kwargs, Object, ObjectRepr, Value, ValueKind};
use minijinja::{Error, ErrorKind, State};

/// Makes `value` and every list and map inside it mutable (deeply);
/// values already mutable, and other objects, are returned unchanged.
pub(crate) fn make_mutable(value: Value) -> Value {
    let plain_seq = value.kind() == ValueKind::Seq
        && !value.is_tuple()
        && value.downcast_object_ref::<MutableList>().is_none();
    if plain_seq {
        let items = value.try_iter().map(|it| it.map(make_mutable).collect());
        return Value::from_object(MutableList(Mutex::new(items.unwrap_or_default())));
    }
    if let Some(map) = value.downcast_object_ref::<IndexMap<Value, Value>>() {
        let map = map
            .iter()
            .map(|(k, v)| (k.clone(), make_mutable(v.clone())))
            .collect();
        return Value::from_object(MutableDict(Mutex::new(map)));
    }
    value
}

/// A new mutable list holding `items` (made mutable).
pub(crate) fn new_list(items: Vec<Value>) -> Value {
    let items = items.into_iter().map(make_mutable).collect();
    Value::from_object(MutableList(Mutex::new(items)))
}

/// A new mutable dict holding `entries` (values made mutable).
pub(crate) fn new_dict(entries: impl IntoIterator<Item = (Value, Value)>) -> Value {
    let map = entries
        .into_iter()
        .map(|(k, v)| (k, make_mutable(v)))
        .collect();
    Value::from_object(MutableDict(Mutex::new(map)))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn no_method() -> Error {
    Error::from(ErrorKind::UnknownMethod)
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// Python's list index rules: negative counts from the end.
fn resolve_index(index: &Value, len: usize) -> Option<usize> {
    let index = i64::try_from(index.clone()).ok()?;
    let len = i64::try_from(len).ok()?;
    let index = if index < 0 { index + len } else { index };
    usize::try_from(index).ok()
}

/// A list whose methods change it in place.
#[derive(Debug, Default)]
pub(crate) struct MutableList(Mutex<Vec<Value>>);

impl MutableList {
    /// Python's list methods: `append`, `extend`, `insert`, `pop`, `remove`,
    /// `clear`, `sort`, `reverse`, `index`, `count`, `copy`.
    pub(crate) fn method(&self, method: &str, args: &[Value]) -> Result<Value, Error> {
        let (args, kwargs) = split_kwargs(args);
        let mut items = lock(&self.0);
        match (method, args) {
            ("append", [item]) => items.push(make_mutable(item.clone())),
            ("extend", [other]) => items.extend(other.try_iter()?.map(make_mutable)),
            ("insert", [index, item]) => {
                let len = items.len();
                let at = i64::try_from(index.clone())?;
                let at = if at < 0 { (at + len as i64).max(0) } else { at };
                let at = usize::try_from(at).unwrap_or(0).min(len);
                items.insert(at, make_mutable(item.clone()));
            }
            ("pop", []) => return items.pop().ok_or_else(|| invalid("pop from empty list")),
            ("pop", [index]) => {
                return match resolve_index(index, items.len()).filter(|i| *i < items.len()) {
                    Some(i) => Ok(items.remove(i)),
                    None => Err(invalid("pop index out of range")),
                };
            }
            ("remove", [item]) => match items.iter().position(|x| x == item) {
                Some(index) => {
                    items.remove(index);
                }
                None => return Err(invalid("list.remove(x): x not in list")),
            },
            ("clear", []) => items.clear(),
            ("sort", []) => {
                let reverse = kwarg_flag(kwargs.as_ref(), "reverse")?;
                items.sort();
                if reverse {
                    items.reverse();
                }
            }
            ("reverse", []) => items.reverse(),
            ("index", [item, ..]) => {
                return items
                    .iter()
                    .position(|x| x == item)
                    .map(Value::from)
                    .ok_or_else(|| invalid(format!("{item} is not in list")));
            }
            ("count", [item]) => {
                return Ok(Value::from(items.iter().filter(|x| *x == item).count()));
            }
            ("copy", []) => return Ok(Value::from_object(MutableList(Mutex::new(items.clone())))),
            _ => return Err(no_method()),
        }
        Ok(Value::from(()))
    }
}

/// The positional arguments, and the keyword arguments when the last one is.
pub(crate) fn split_kwargs(args: &[Value]) -> (&[Value], Option<Kwargs>) {
    match args.split_last() {
        Some((last, rest)) if last.is_kwargs() => (rest, Kwargs::try_from(last.clone()).ok()),
        _ => (args, None),
    }
}

fn kwarg_flag(kwargs: Option<&Kwargs>, name: &str) -> Result<bool, Error> {
    match kwargs {
        Some(kwargs) => {
            let flag = kwargs.get::<Option<bool>>(name)?.unwrap_or(false);
            kwargs.assert_all_used()?;
            Ok(flag)
        }
        None => Ok(false),
    }
}

impl Object for MutableList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let items = lock(&self.0);
        items.get(resolve_index(key, items.len())?).cloned()
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
        self.method(method, args)
    }
}

/// A dict whose methods change it in place.
#[derive(Debug, Default)]
pub(crate) struct MutableDict(Mutex<IndexMap<Value, Value>>);

impl MutableDict {
    /// Replaces the whole content with the entries of the map `value`.
    pub(crate) fn replace_with(&self, value: &Value) -> Result<(), Error> {
        let mut entries = IndexMap::new();
        for key in value.try_iter()? {
            let item = value.get_item(&key)?;
            entries.insert(key, make_mutable(item));
        }
        *lock(&self.0) = entries;
        Ok(())
    }

    pub(crate) fn get(&self, key: &Value) -> Option<Value> {
        lock(&self.0).get(key).cloned()
    }

    /// `self[key] = value` (the value made mutable).
    pub(crate) fn insert(&self, key: Value, value: Value) {
        lock(&self.0).insert(key, make_mutable(value));
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
        for (key, value) in pairs {
            self.insert(key, value);
        }
        Ok(())
    }

    fn update_from_kwargs(&self, kwargs: &Kwargs) -> Result<(), Error> {
        for key in kwargs.args() {
            self.insert(Value::from(key), kwargs.get::<Value>(key)?);
        }
        Ok(())
    }

    /// Python's dict methods that change it: `update`, `setdefault`, `pop`,
    /// `popitem`, `clear`; and `copy` (shallow).
    pub(crate) fn method(&self, method: &str, args: &[Value]) -> Result<Value, Error> {
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
                let default = make_mutable(rest.first().cloned().unwrap_or(Value::from(())));
                Ok(lock(&self.0).entry(key.clone()).or_insert(default).clone())
            }
            ("pop", [key, rest @ ..]) => match lock(&self.0).shift_remove(key) {
                Some(value) => Ok(value),
                None => rest
                    .first()
                    .cloned()
                    .ok_or_else(|| invalid(format!("KeyError: {key}"))),
            },
            ("popitem", []) => lock(&self.0)
                .pop()
                .map(|(k, v)| Value::from(vec![k, v]))
                .ok_or_else(|| invalid("popitem(): dictionary is empty")),
            ("clear", []) => {
                lock(&self.0).clear();
                Ok(Value::from(()))
            }
            ("copy", []) => Ok(Value::from_object(MutableDict(Mutex::new(
                lock(&self.0).clone(),
            )))),
            _ => Err(no_method()),
        }
    }
}

impl Object for MutableDict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get(key)
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
        self.method(method, args)
    }
}

/// `namespace(...)` with its initial values made mutable.
pub(crate) fn namespace(defaults: Option<minijinja::value::ValueOrKwargs>) -> Result<Value, Error> {
    let defaults = defaults.map(|d| {
        let value = d.into_value();
        let entries: Vec<(Value, Value)> = value
            .try_iter()
            .map(|keys| {
                keys.map(|k| {
                    let v = value.get_item(&k).unwrap_or_default();
                    (k, make_mutable(v))
                })
                .collect()
            })
            .unwrap_or_default();
        minijinja::value::ValueOrKwargs::from(new_dict(entries))
    });
    minijinja::functions::namespace(defaults)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_mutable_conversion_is_deep_and_keeps_identity() {
        let inner = Value::from(Vec::<Value>::new());
        let map: IndexMap<Value, Value> = [(Value::from("f"), inner)].into_iter().collect();
        let outer = make_mutable(Value::from_object(map));
        let Some(dict) = outer.downcast_object_ref::<MutableDict>() else {
            panic!("a map becomes a MutableDict");
        };
        let list = dict.get(&Value::from("f")).unwrap_or_default();
        let Some(list_obj) = list.downcast_object_ref::<MutableList>() else {
            panic!("a nested list becomes a MutableList");
        };
        assert!(list_obj.method("append", &[Value::from(1)]).is_ok());
        assert_eq!(outer.to_string(), r#"{"f": [1]}"#.replace('"', "'"));
        let again = make_mutable(outer.clone());
        assert!(
            again
                .downcast_object_ref::<MutableDict>()
                .map(|d| d as *const MutableDict)
                == Some(dict as *const MutableDict)
        );
    }

    #[test]
    fn render_mutable_list_sort_reverse_index() {
        let list = make_mutable(Value::from(vec![3, 1, 2]));
        let Some(obj) = list.downcast_object_ref::<MutableList>() else {
            panic!("a list becomes a MutableList");
        };
        assert!(obj.method("sort", &[]).is_ok());
        assert_eq!(list.to_string(), "[1, 2, 3]");
        assert!(obj.method("sort", &[]).is_ok());
        assert!(obj.method("reverse", &[]).is_ok());
        assert_eq!(
            obj.method("index", &[Value::from(1)]).ok(),
            Some(Value::from(2))
        );
        assert!(obj.method("index", &[Value::from(9)]).is_err());
    }
}
