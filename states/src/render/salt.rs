//! The `salt` object of templates: `salt['mod.fun'](...)` and `salt.mod.fun(...)`.
//!
//! A handful of functions that nearly every formula calls are answered by
//! the renderer itself from the host data it already holds, for speed (no
//! round trip to the host per lookup) and so that they behave the same on
//! every minion: `pillar.get`, `grains.get`, `config.get`,
//! `grains.filter_by` and `defaults.merge`. Every other name goes to
//! [`StateHost::call`](crate::host::StateHost::call); a name the host does
//! not have fails when called, with Jinja2's error for it in Salt
//! (`'salt.utils.templates.AliasedLoader object' has no attribute 'x.y'`;
//! `'x.y' in salt` is always true: the lookup cannot tell).

use std::sync::Arc;

use minijinja::value::{Kwargs, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};
use serde_json::{Map, Value as Json};

use super::bridge::HostBridge;
use super::data::{self, FilterBy};
use super::mutable::make_mutable;
use super::values::{from_json, to_json};

/// Host data a render reads often, fetched once per render.
#[derive(Debug)]
pub(crate) struct HostData {
    pub(crate) grains: Json,
    pub(crate) pillar: Json,
    pub(crate) opts: Json,
}

/// The `salt` global.
#[derive(Debug)]
pub(crate) struct SaltObject {
    pub(crate) bridge: HostBridge,
    pub(crate) data: Arc<HostData>,
}

impl Object for SaltObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    /// What `{{ salt }}` shows (not the host data it carries).
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<salt.loader.LazyLoader>")
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        if name.contains('.') {
            Some(Value::from_object(SaltFunction {
                name: name.to_owned(),
                salt: self.clone(),
            }))
        } else {
            Some(Value::from_object(SaltModule {
                name: name.to_owned(),
                salt: self.clone(),
            }))
        }
    }
}

/// `salt.cmd` in `salt.cmd.run(...)`.
#[derive(Debug)]
struct SaltModule {
    name: String,
    salt: Arc<SaltObject>,
}

impl Object for SaltModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<salt.loader.LazyLoader {}>", self.name)
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = format!("{}.{}", self.name, key.as_str()?);
        Some(Value::from_object(SaltFunction {
            name,
            salt: self.salt.clone(),
        }))
    }

    fn call_method(
        self: &Arc<Self>,
        state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let function = Arc::new(SaltFunction {
            name: format!("{}.{method}", self.name),
            salt: self.salt.clone(),
        });
        function.call(state, args)
    }
}

/// Whether `value` is a `salt['mod.fun']` function.
pub(crate) fn is_salt_function(value: &Value) -> bool {
    value.downcast_object_ref::<SaltFunction>().is_some()
}

/// One callable `salt['mod.fun']`.
#[derive(Debug)]
struct SaltFunction {
    name: String,
    salt: Arc<SaltObject>,
}

impl Object for SaltFunction {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    /// Python shows `<function ping at 0x...>`; the address means nothing here.
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = self.name.rsplit('.').next().unwrap_or(&self.name);
        write!(f, "<function {short}>")
    }

    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let call = CallArgs::split(args)?;
        let data = &self.salt.data;
        match self.name.as_str() {
            "pillar.get" => pillar_get(data, &call),
            "grains.get" => lookup(&data.grains, &call),
            "config.get" if !config_get_needs_host(&call) => config_get(data, &call),
            "grains.filter_by" => grains_filter_by(data, &call),
            "defaults.merge" => defaults_merge(&call),
            "defaults.update" => {
                let in_place = call.get(3, "in_place").is_none_or(Value::is_true);
                update_in_place(&self.salt.bridge, "defaults.update", call, in_place)
            }
            "slsutil.update" => update_in_place(&self.salt.bridge, "slsutil.update", call, true),
            name => host_call(&self.salt.bridge, name, call),
        }
    }
}

/// Positional and keyword arguments as JSON, with Python-style lookup by
/// position or name.
struct CallArgs {
    positional: Vec<Value>,
    keywords: Vec<(String, Value)>,
}

impl CallArgs {
    fn split(args: &[Value]) -> Result<CallArgs, Error> {
        let (positional, keywords) = match args.split_last() {
            Some((last, rest)) if last.is_kwargs() => {
                let kwargs = Kwargs::try_from(last.clone())?;
                let keywords = kwargs
                    .args()
                    .map(|key| Ok((key.to_owned(), kwargs.get::<Value>(key)?)))
                    .collect::<Result<Vec<_>, Error>>()?;
                (rest.to_vec(), keywords)
            }
            _ => (args.to_vec(), Vec::new()),
        };
        Ok(CallArgs {
            positional,
            keywords,
        })
    }

    /// The argument at `index` or named `name`.
    fn get(&self, index: usize, name: &str) -> Option<&Value> {
        self.positional.get(index).or_else(|| {
            self.keywords
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v)
        })
    }

    fn json(&self, index: usize, name: &str) -> Result<Option<Json>, Error> {
        self.get(index, name).map(to_json).transpose()
    }

    fn string(&self, index: usize, name: &str, default: &str) -> String {
        self.get(index, name)
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| default.to_owned())
    }

    fn flag(&self, index: usize, name: &str) -> bool {
        self.get(index, name).is_some_and(Value::is_true)
    }

    fn key(&self) -> Result<String, Error> {
        self.get(0, "key")
            .and_then(|v| v.as_str().map(str::to_owned))
            .ok_or_else(|| Error::new(ErrorKind::MissingArgument, "a key is required"))
    }
}

/// `grains.get` (and the common part of the others): traverse, or the default (`''`).
fn lookup(source: &Json, call: &CallArgs) -> Result<Value, Error> {
    let key = call.key()?;
    let delimiter = call.string(2, "delimiter", ":");
    Ok(found_or_default(
        data::traverse(source, &key, &delimiter),
        call,
    ))
}

/// The value found, or the call's `default` (`''` when not given).
fn found_or_default(found: Option<&Json>, call: &CallArgs) -> Value {
    match found {
        Some(found) => from_json(found.clone()),
        None => call
            .get(1, "default")
            .cloned()
            .unwrap_or_else(|| Value::from("")),
    }
}

/// `pillar.get(key, default='', merge=False, delimiter=':')`.
fn pillar_get(data: &HostData, call: &CallArgs) -> Result<Value, Error> {
    let key = call.key()?;
    let delimiter = call.string(3, "delimiter", ":");
    let found = data::traverse(&data.pillar, &key, &delimiter);
    if call.flag(2, "merge")
        && let (Some(Json::Object(found)), Some(Json::Object(mut default))) =
            (found, call.json(1, "default")?)
    {
        data::update(&mut default, found, false);
        return Ok(from_json(Json::Object(default)));
    }
    Ok(found_or_default(found, call))
}

/// `config.get(key, default='', delimiter=':')`: Salt's order is the
/// minion's options, then grains, then pillar, then the master's config as
/// pillar gives it (`pillar['master']`).
fn config_get(data: &HostData, call: &CallArgs) -> Result<Value, Error> {
    let key = call.key()?;
    let delimiter = call.string(2, "delimiter", ":");
    let master = data.pillar.get("master").cloned().unwrap_or(Json::Null);
    let found = [&data.opts, &data.grains, &data.pillar, &master]
        .into_iter()
        .find_map(|source| data::traverse(source, &key, &delimiter));
    Ok(found_or_default(found, call))
}

/// Whether a `config.get` call takes more than the renderer answers
/// (`key`, `default`, `delimiter`): `merge=`, `omit_*=` go to the minion.
fn config_get_needs_host(call: &CallArgs) -> bool {
    call.positional.len() > 3
        || call
            .keywords
            .iter()
            .any(|(k, v)| !matches!(k.as_str(), "key" | "default" | "delimiter") && !v.is_none())
}

/// A host function that updates its first argument (`dest`) in place:
/// the call goes through JSON, so the result is written back into the
/// template's mutable dict, as Python would have changed it.
fn update_in_place(
    bridge: &HostBridge,
    name: &str,
    call: CallArgs,
    in_place: bool,
) -> Result<Value, Error> {
    let dest = call.get(0, "dest").cloned();
    let result = host_call(bridge, name, call)?;
    if in_place
        && let Some(dest) = dest
        && let Some(target) = dest.downcast_object::<super::mutable::MutableDict>()
        && result.kind() == minijinja::value::ValueKind::Map
    {
        target.replace_with(&result)?;
        return Ok(dest);
    }
    Ok(make_mutable(result))
}

/// `grains.filter_by(lookup_dict, grain='os_family', merge=None, default='default', base=None)`.
fn grains_filter_by(data: &HostData, call: &CallArgs) -> Result<Value, Error> {
    let Some(Json::Object(table)) = call.json(0, "lookup_dict")? else {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "grains.filter_by: lookup_dict must be a dictionary",
        ));
    };
    let grain = call.string(1, "grain", "os_family");
    let merge = call.json(2, "merge")?;
    // An int default (`default=grains.pythonversion[0]`) names an int key,
    // which is its decimal text once the table is JSON.
    let default = match call.get(3, "default") {
        Some(v) if v.kind() == minijinja::value::ValueKind::Number && v.is_integer() => {
            v.to_string()
        }
        _ => call.string(3, "default", "default"),
    };
    let base = call
        .get(4, "base")
        .and_then(|v| v.as_str().map(str::to_owned));
    let args = FilterBy {
        value: data::traverse(&data.grains, &grain, ":"),
        merge: merge.as_ref(),
        default: &default,
        base: base.as_deref(),
    };
    data::filter_by(&table, &args)
        .map(|found| make_mutable(from_json(found)))
        .map_err(|message| Error::new(ErrorKind::InvalidOperation, message))
}

/// `defaults.merge(dest, src, merge_lists=False, in_place=True, convert_none=True)`:
/// a recursive update, returned and, with `in_place`, written into `dest`
/// when it is a mutable dict (otherwise `dest` is left as it was).
fn defaults_merge(call: &CallArgs) -> Result<Value, Error> {
    let two_dicts = || {
        Error::new(
            ErrorKind::InvalidOperation,
            "defaults.merge needs two dictionaries",
        )
    };
    let in_place = call.get(3, "in_place").is_none_or(Value::is_true);
    let convert_none = call.get(4, "convert_none").is_none_or(Value::is_true);
    let src = match call.json(1, "src")? {
        Some(Json::Object(src)) => src,
        Some(Json::Null) if convert_none => Map::new(),
        _ => return Err(two_dicts()),
    };
    let dest_value = call.get(0, "dest").ok_or_else(two_dicts)?;
    let mut dest = match to_json(dest_value)? {
        Json::Object(dest) => dest,
        Json::Null if convert_none && in_place => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "TypeError: Can't perform in-place merge into NoneType",
            ));
        }
        Json::Null if convert_none => Map::new(),
        _ => return Err(two_dicts()),
    };
    data::update(&mut dest, &src, call.flag(2, "merge_lists"));
    let merged = from_json(Json::Object(dest));
    if in_place && let Some(target) = dest_value.downcast_object::<super::mutable::MutableDict>() {
        target.replace_with(&merged)?;
        return Ok(dest_value.clone());
    }
    Ok(make_mutable(merged))
}

fn host_call(bridge: &HostBridge, name: &str, call: CallArgs) -> Result<Value, Error> {
    let args = call
        .positional
        .iter()
        .map(to_json)
        .collect::<Result<Vec<_>, _>>()?;
    let mut kwargs = Map::new();
    for (key, value) in &call.keywords {
        kwargs.insert(key.clone(), to_json(value)?);
    }
    if !bridge.has_function(name) {
        // Salt's loader has no such key, so Jinja2 falls back to an attribute
        // lookup and calls the undefined it gets.
        return Err(Error::new(
            ErrorKind::UndefinedError,
            format!("'salt.utils.templates.AliasedLoader object' has no attribute '{name}'"),
        ));
    }
    bridge
        .call(name, args, kwargs)
        .map(from_json)
        .map_err(|message| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("Problem running salt function '{name}': {message}"),
            )
        })
}
