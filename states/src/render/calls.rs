//! Jinja features minijinja lacks, which the preprocessor rewrites into
//! calls of these functions, and Salt's `odict` global and `callable` test:
//!
//! - `__salt_include(name_or_names, ignore_missing)`: `{% include ... without context %}`,
//!   the template rendered with the globals only;
//! - `__salt_varargs_macro(macro)`: a macro that takes any arguments,
//!   passing the extra positional ones as `varargs` and the unknown
//!   keyword ones as `kwargs`, as a Jinja macro whose body uses them.

use std::sync::Arc;

use minijinja::value::{Kwargs, Object, ObjectRepr, Value, ValueKind};
use minijinja::{Error, ErrorKind, State};

use super::jinja::join_path;
use super::mutable::{new_dict, new_list, split_kwargs};

/// `{% include names [ignore missing] without context %}`: the first of
/// `names` that exists, rendered without the caller's variables.
pub(crate) fn include(state: &State<'_, '_>, names: Value, ignore: bool) -> Result<String, Error> {
    let names: Vec<Value> = match names.kind() {
        ValueKind::Seq | ValueKind::Iterable => names.try_iter()?.collect(),
        _ => vec![names],
    };
    let mut tried = Vec::new();
    for name in &names {
        let Some(name) = name.as_str() else {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "template name must be a string",
            ));
        };
        let resolved = join_path(name, state.name());
        match state.env().get_template(&resolved) {
            Ok(template) => return template.render(()),
            Err(e) if e.kind() == ErrorKind::TemplateNotFound => tried.push(resolved),
            Err(e) => return Err(e),
        }
    }
    if ignore {
        return Ok(String::new());
    }
    Err(Error::new(
        ErrorKind::TemplateNotFound,
        match tried.as_slice() {
            [one] => format!("template {one:?} does not exist"),
            many => format!("none of the templates {many:?} exist"),
        },
    ))
}

/// A macro taking Jinja's `varargs` and `kwargs`.
#[derive(Debug)]
pub(crate) struct VarargsMacro {
    inner: Value,
}

pub(crate) fn varargs_macro(inner: Value) -> Value {
    Value::from_object(VarargsMacro { inner })
}

impl VarargsMacro {
    /// The macro's declared parameters (without `varargs` and `kwargs`).
    fn declared(&self) -> Vec<String> {
        let arguments = self.inner.get_attr("arguments").unwrap_or_default();
        let names: Vec<String> = arguments
            .try_iter()
            .map(|it| it.filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        names
            .into_iter()
            .filter(|n| n != "varargs" && n != "kwargs")
            .collect()
    }
}

impl Object for VarargsMacro {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "name" => self
                .inner
                .get_attr("name")
                .ok()
                .and_then(|n| {
                    n.as_str()
                        .map(|n| n.trim_start_matches("__salt_m_").to_owned())
                })
                .map(Value::from),
            "arguments" => Some(Value::from(
                self.declared()
                    .into_iter()
                    .map(Value::from)
                    .collect::<Vec<_>>(),
            )),
            "caller" => self.inner.get_attr("caller").ok(),
            _ => None,
        }
    }

    fn call(self: &Arc<Self>, state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let declared = self.declared();
        let (positional, kwargs) = split_kwargs(args);
        let split = positional.len().min(declared.len());
        let mut call_args: Vec<Value> = positional[..split].to_vec();
        let extra = new_list(positional[split..].to_vec());
        let mut passed: Vec<(String, Value)> = Vec::new();
        let mut unknown: Vec<(Value, Value)> = Vec::new();
        if let Some(kwargs) = &kwargs {
            for key in kwargs.args() {
                let value: Value = kwargs.get(key)?;
                if key == "caller" || declared.iter().any(|d| d == key) {
                    passed.push((key.to_owned(), value));
                } else {
                    unknown.push((Value::from(key), value));
                }
            }
        }
        passed.push(("varargs".into(), extra));
        passed.push(("kwargs".into(), new_dict(unknown)));
        call_args.push(Value::from(passed.into_iter().collect::<Kwargs>()));
        self.inner.call(state, &call_args)
    }
}

/// Salt's `odict` global (`collections.OrderedDict`): from pairs or a
/// mapping, then keyword arguments.
pub(crate) fn odict(args: &[Value]) -> Result<Value, Error> {
    let (positional, kwargs) = split_kwargs(args);
    let mut entries: Vec<(Value, Value)> = Vec::new();
    match positional {
        [] => {}
        [source] if source.kind() == ValueKind::Map => {
            for key in source.try_iter()? {
                let value = source.get_item(&key)?;
                entries.push((key, value));
            }
        }
        [source] => {
            for pair in source.try_iter()? {
                let items: Vec<Value> = pair.try_iter()?.collect();
                let [key, value] = <[Value; 2]>::try_from(items).map_err(|_| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        "dictionary update sequence element has the wrong length; 2 is required",
                    )
                })?;
                entries.push((key, value));
            }
        }
        _ => {
            return Err(Error::new(
                ErrorKind::TooManyArguments,
                "expected at most 1 argument",
            ));
        }
    }
    if let Some(kwargs) = &kwargs {
        for key in kwargs.args() {
            entries.push((Value::from(key), kwargs.get::<Value>(key)?));
        }
    }
    Ok(new_dict(entries))
}

/// Jinja's `callable` test: macros, functions, `salt['mod.fun']`.
/// minijinja has no trait method telling a callable object apart, so the
/// kinds it makes are known by their debug text (`<macro m>`, a function
/// type path or `function`).
pub(crate) fn is_callable(value: &Value) -> bool {
    if value.kind() != ValueKind::Plain {
        return false;
    }
    let Some(object) = value.as_object() else {
        return false;
    };
    if value.downcast_object_ref::<VarargsMacro>().is_some() || super::salt::is_salt_function(value)
    {
        return true;
    }
    let text = format!("{object:?}");
    text.starts_with("<macro ")
        || text == "function"
        || (text.contains("::") && !text.contains(['(', '{', ' ']))
}
