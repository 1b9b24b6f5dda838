//! Salt's `grains` execution module: read the minion's grains, and set,
//! append to or delete the grains kept in the `grains` file beside the minion
//! config.
//!
//! Every writer changes the file (never the minion config, whose `grains:`
//! still win), re-collects the grains and pushes them to the master, so a
//! grain target sees the change as soon as the function returns.

use std::time::Duration;

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use brine_common::output::python;
use brine_common::target::{DEFAULT_DELIMITER, traverse};
use brine_common::truth::salt_is_true;
use serde_json::{Map, Value, json};

use super::MinionCtx;
use crate::grains::{grains_file, read_grains_file, write_grains_file};

/// How long a writer waits for the master to take the new grains.
const PUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// One writer at a time: each reads, changes and rewrites the whole file.
static FILE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "grains.items",
        "sanitize=False",
        ITEMS_DOC,
        |ctx, call| async move { Ok(items(&ctx, &call).into()) },
    );
    f.register(
        "grains.item",
        "*args, **kwargs",
        ITEM_DOC,
        |ctx, call| async move { Ok(item(&ctx, &call).into()) },
    );
    for name in ["grains.get", "grains.fetch"] {
        f.register(
            name,
            "key, default='', delimiter=':', ordered=True",
            GET_DOC,
            |ctx, call| async move { get(&ctx, &call) },
        );
    }
    f.register(
        "grains.has_value",
        "key",
        HAS_VALUE_DOC,
        |ctx, call| async move { has_value(&ctx, &call) },
    );
    f.register(
        "grains.equals",
        "key, value",
        EQUALS_DOC,
        |ctx, call| async move { equals(&ctx, &call) },
    );
    f.register("grains.ls", "", LS_DOC, |ctx, _| async move {
        Ok(json!(ctx.grains().keys().collect::<Vec<_>>()).into())
    });
    f.register(
        "grains.setval",
        "key, val, destructive=False, refresh_pillar=True",
        SETVAL_DOC,
        |ctx, call| async move { setval(&ctx, &call).await },
    );
    f.register(
        "grains.setvals",
        "grains, destructive=False, refresh_pillar=True",
        SETVALS_DOC,
        |ctx, call| async move { setvals(&ctx, &call).await },
    );
    f.register(
        "grains.append",
        "key, val, convert=False, delimiter=':'",
        APPEND_DOC,
        |ctx, call| async move { append(&ctx, &call).await },
    );
    f.register(
        "grains.remove",
        "key, val, delimiter=':'",
        REMOVE_DOC,
        |ctx, call| async move { remove(&ctx, &call).await },
    );
    f.register(
        "grains.filter_by",
        "lookup_dict, grain='os_family', merge=None, default='default', base=None",
        FILTER_BY_DOC,
        |ctx, call| async move { filter_by(&ctx.grains(), &call).map(FnOutput::from) },
    );
    f.register(
        "grains.set",
        "key, val='', force=False, destructive=False, delimiter=':'",
        SET_DOC,
        |ctx, call| async move { set(&ctx, &call).await },
    );
    f.register(
        "grains.delval",
        "key, destructive=False, force=False",
        DELVAL_DOC,
        |ctx, call| async move {
            let destructive = flag(&call, 1, "destructive");
            let force = flag(&call, 2, "force");
            delete(&ctx, &call, destructive, force).await
        },
    );
    f.register(
        "grains.delkey",
        "key, force=False",
        DELKEY_DOC,
        |ctx, call| async move {
            let force = flag(&call, 1, "force");
            delete(&ctx, &call, true, force).await
        },
    );
}

const ITEMS_DOC: &str = "Return all of the minion's grains\n\nCLI Example:\n\n    brine '*' grains.items\n\nSanitized CLI Example:\n\n    brine '*' grains.items sanitize=True";
const ITEM_DOC: &str = "Return one or more grains\n\nCLI Example:\n\n    brine '*' grains.item os\n    brine '*' grains.item os osrelease oscodename\n\nSanitized CLI Example:\n\n    brine '*' grains.item host sanitize=True";
const GET_DOC: &str = "Attempt to retrieve the named value from grains, if the named value is not\navailable return the passed default. The default return is an empty string.\n\nThe value can also represent a value in a nested dict using a \":\" delimiter\nfor the dict. This means that if a dict in grains looks like this::\n\n    {'pkg': {'apache': 'httpd'}}\n\nTo retrieve the value associated with the apache key in the pkg dict this\nkey can be passed::\n\n    pkg:apache\n\ndelimiter\n    Specify an alternate delimiter to use when traversing a nested dict.\n\nCLI Example:\n\n    brine '*' grains.get pkg:apache\n    brine '*' grains.get abc::def|ghi delimiter='|'";
const HAS_VALUE_DOC: &str = "Determine whether a key exists in the grains dictionary.\n\nCLI Example:\n\n    brine '*' grains.has_value pkg:apache";
const EQUALS_DOC: &str = "Used to make sure the minion's grain key/value matches.\n\nReturns ``True`` if matches otherwise ``False``.\n\nCLI Example:\n\n    brine '*' grains.equals fqdn <expected_fqdn>\n    brine '*' grains.equals systemd:version 219";
const LS_DOC: &str =
    "Return a list of all available grains\n\nCLI Example:\n\n    brine '*' grains.ls";
const SETVAL_DOC: &str = "Set a grains value in the grains config file\n\nkey\n    The grain key to be set.\n\nval\n    The value to set the grain key to.\n\ndestructive\n    If an operation results in a key being removed, delete the key, too.\n    Defaults to False.\n\nCLI Example:\n\n    brine '*' grains.setval key val\n    brine '*' grains.setval key \"{'sub-key': 'val', 'sub-key2': 'val2'}\"";
const SETVALS_DOC: &str = "Set new grains values in the grains config file\n\ndestructive\n    If an operation results in a key being removed, delete the key, too.\n    Defaults to False.\n\nCLI Example:\n\n    brine '*' grains.setvals \"{'key1': 'val1', 'key2': 'val2'}\"";
const APPEND_DOC: &str = "Append a value to a list in the grains config file. If the grain doesn't\nexist, the grain key is added and the value is appended to the new grain\nas a list item.\n\nkey\n    The grain key to be appended to\n\nval\n    The value to append to the grain key\n\nconvert\n    If convert is True, convert non-list contents into a list.\n    If convert is False and the grain contains non-list contents, an error\n    is given. Defaults to False.\n\ndelimiter\n    The key can be a nested dict key. Use this parameter to\n    specify the delimiter you use, instead of the default ``:``.\n\nCLI Example:\n\n    brine '*' grains.append key val";
const REMOVE_DOC: &str = "Remove a value from a list in the grains config file\n\nCLI Example:\n\n    brine '*' grains.remove key val";
const SET_DOC: &str = "Set a key to an arbitrary value. It is used like setval but works\nwith nested keys.\n\nThis function is conservative. It will only overwrite an entry if\nits value and the given one are not a list or a dict. The ``force``\nparameter is used to allow overwriting in all cases.\n\nCLI Example:\n\n    brine '*' grains.set 'apps:myApp:port' 2209\n    brine '*' grains.set 'apps:myApp' '{port: 2209}'";
const DELVAL_DOC: &str = "Delete a grain value from the grains config file. This will just set the\ngrain value to ``None``. To completely remove the grain, run ``grains.delkey``\nor pass ``destructive=True`` to ``grains.delval``.\n\nCLI Example:\n\n    brine '*' grains.delval key";
const DELKEY_DOC: &str = "Remove a grain completely from the grain system, this will remove the\ngrain key and value\n\nkey\n    The grain key from which to delete the value.\n\nforce\n    Force remove the grain even when it is a mapped value.\n    Defaults to False\n\nCLI Example:\n\n    brine '*' grains.delkey key";

const FILTER_BY_DOC: &str = "Look up the given grain in a given dictionary for the current OS and return\nthe result\n\nAlthough this may occasionally be useful at the CLI, the primary intent of\nthis function is for use in Jinja to make short work of creating lookup\ntables for OS-specific data. For example:\n\n    {% set apache = salt['grains.filter_by']({\n        'Debian': {'pkg': 'apache2', 'srv': 'apache2'},\n        'RedHat': {'pkg': 'httpd', 'srv': 'httpd'},\n    }, default='Debian') %}\n\nlookup_dict\n    A dictionary, keyed by a grain, containing a value or values relevant\n    to systems matching that grain.\ngrain : os_family\n    The name of a grain to match with the current system's grains.\nmerge\n    A dictionary to merge with the results of the grain selection from\n    ``lookup_dict``.\ndefault : default\n    default lookup_dict's key used if the grain does not exists or if the\n    grain value has no match on lookup_dict.\nbase\n    A lookup_dict key to use for a base dictionary. The grain-selected\n    ``lookup_dict`` is merged over this and then finally the ``merge``\n    dictionary is merged.\n\nCLI Example:\n\n    brine '*' grains.filter_by '{Debian: Debheads rule, RedHat: I love my hat}'";

// --- readers -----------------------------------------------------------------

/// Salt's `grains.filter_by` (`salt.utils.data.filter_by` over the grains):
/// the first entry whose key (a case-sensitive glob) matches the grain's
/// value, or one of its values when it is a list; else the `default` entry;
/// the `base` entry under it and `merge` over it.
fn filter_by(grains: &Map<String, Value>, call: &Call) -> Result<Value, FnError> {
    let Some(Value::Object(table)) = call.param(0, "lookup_dict") else {
        let kind = call
            .param(0, "lookup_dict")
            .map_or("NoneType", brine_common::output::python::python_type);
        return Err(FnError::Exception(format!(
            "AttributeError: '{kind}' object has no attribute 'get'"
        )));
    };
    let text = |index, name, default: &str| {
        call.param(index, name)
            .filter(|v| !v.is_null())
            .map_or_else(|| default.to_string(), python::to_str)
    };
    let grain = text(1, "grain", "os_family");
    let default = text(3, "default", "default");
    let mut found = selected(table, traverse(grains, &grain, DEFAULT_DELIMITER))
        .or_else(|| table.get(&default))
        .cloned()
        .filter(|v| !v.is_null());
    let base = call
        .param(4, "base")
        .filter(|v| python::truthy(v))
        .map(python::to_str);
    if let Some(base_values) = base.and_then(|b| table.get(&b)) {
        found = Some(match found {
            None => base_values.clone(),
            Some(ret) if base_values.is_object() => {
                if !ret.is_object() {
                    return Err(FnError::Exception(
                        "filter_by default and look-up values must both be dictionaries.".into(),
                    ));
                }
                super::dictupdate::update(base_values.clone(), ret, true, false)?
            }
            Some(ret) => ret,
        });
    }
    match call.param(2, "merge").filter(|v| python::truthy(v)) {
        None => Ok(found.unwrap_or(Value::Null)),
        Some(merge) if !merge.is_object() => Err(FnError::Exception(
            "filter_by merge argument must be a dictionary.".into(),
        )),
        Some(merge) => match found {
            None => Ok(merge.clone()),
            Some(ret) => super::dictupdate::update(ret, merge.clone(), true, false),
        },
    }
}

/// The entry of `table` whose key matches the value (or one of the values).
fn selected<'a>(table: &'a Map<String, Value>, value: Option<&Value>) -> Option<&'a Value> {
    let values: Vec<&Value> = match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    values.into_iter().find_map(|value| {
        let text = python::to_str(value);
        table
            .iter()
            .find(|(key, _)| {
                brine_common::target::Fnmatch::new(key).is_ok_and(|glob| glob.is_match(&text))
            })
            .map(|(_, entry)| entry)
            .filter(|entry| !entry.is_null())
    })
}

fn flag(call: &Call, index: usize, name: &str) -> bool {
    call.param(index, name).is_some_and(salt_is_true)
}

/// A parameter as text (`str(value)` for non-strings).
fn text_param(call: &Call, index: usize, name: &str) -> Option<String> {
    call.param(index, name).map(python::to_str)
}

fn required_text(call: &Call, index: usize, name: &str) -> Result<String, FnError> {
    text_param(call, index, name)
        .ok_or_else(|| FnError::Invocation(format!("missing required argument '{name}'")))
}

fn delimiter(call: &Call, index: usize) -> String {
    text_param(call, index, "delimiter")
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| DEFAULT_DELIMITER.to_string())
}

/// Salt's sanitizers for `sanitize=True`: host names and serials masked.
fn sanitize(grains: &mut Map<String, Value>) {
    for (name, value) in grains.iter_mut() {
        let masked = match name.as_str() {
            "domain" => json!("DOMAINNAME"),
            "fqdn" | "id" => json!("MINION.DOMAINNAME"),
            "host" | "localhost" | "nodename" => json!("MINION"),
            "serialnumber" => {
                let text = python::to_str(value);
                let keep = text.chars().count() * 3 / 4;
                let hidden = text.chars().count() - keep;
                json!(format!(
                    "{}{}",
                    text.chars().take(keep).collect::<String>(),
                    "X".repeat(hidden)
                ))
            }
            _ => continue,
        };
        *value = masked;
    }
}

fn items(ctx: &MinionCtx, call: &Call) -> Value {
    let mut grains = ctx.grains();
    if flag(call, 0, "sanitize") {
        sanitize(&mut grains);
    }
    Value::Object(grains)
}

/// Several grains (nested keys allowed) as one dict.
fn item(ctx: &MinionCtx, call: &Call) -> Value {
    let grains = ctx.grains();
    let default = call
        .kwargs
        .get("default")
        .cloned()
        .unwrap_or_else(|| json!(""));
    let delimiter = call
        .kwargs
        .get("delimiter")
        .map(python::to_str)
        .unwrap_or_else(|| DEFAULT_DELIMITER.to_string());
    let mut out = Map::new();
    for key in call.args.iter().map(python::to_str) {
        let value = traverse(&grains, &key, &delimiter)
            .cloned()
            .unwrap_or_else(|| default.clone());
        out.insert(key, value);
    }
    if call.kwargs.get("sanitize").is_some_and(salt_is_true) {
        sanitize(&mut out);
    }
    Value::Object(out)
}

fn get(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let key = required_text(call, 0, "key")?;
    let default = call
        .param(1, "default")
        .cloned()
        .unwrap_or_else(|| json!(""));
    let grains = ctx.grains();
    Ok(traverse(&grains, &key, &delimiter(call, 2))
        .cloned()
        .unwrap_or(default)
        .into())
}

fn has_value(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let key = required_text(call, 0, "key")?;
    let grains = ctx.grains();
    Ok(json!(traverse(&grains, &key, DEFAULT_DELIMITER).is_some()).into())
}

fn equals(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let key = required_text(call, 0, "key")?;
    let value = call.param(1, "value").cloned().unwrap_or(Value::Null);
    let grains = ctx.grains();
    let current = traverse(&grains, &key, DEFAULT_DELIMITER)
        .cloned()
        .unwrap_or_else(|| json!(""));
    Ok(json!(python::to_str(&value) == python::to_str(&current)).into())
}

// --- writers -----------------------------------------------------------------

fn execution(e: impl std::fmt::Display) -> FnError {
    FnError::Execution(e.to_string())
}

/// Write `new` into the grains file (a `null` with `destructive` deletes the
/// key), then refresh and push the grains. Returns `new`, as Salt does.
async fn write_values(
    ctx: &MinionCtx,
    new: Map<String, Value>,
    destructive: bool,
) -> Result<Value, FnError> {
    {
        let _guard = FILE_LOCK.lock().await;
        let path = grains_file(&ctx.config);
        let mut file = read_grains_file(&path).map_err(execution)?;
        for (key, value) in &new {
            if value.is_null() && destructive {
                file.remove(key);
            } else {
                file.insert(key.clone(), value.clone());
            }
        }
        write_grains_file(&path, &file).map_err(execution)?;
    }
    refresh_grains(ctx).await;
    Ok(Value::Object(new))
}

/// Re-collect the grains (detection included), and push them to the master
/// when connected: Salt's `saltutil.refresh_grains`.
pub async fn refresh_grains(ctx: &MinionCtx) {
    let fresh = crate::grains::refresh(&ctx.config, &ctx.id);
    ctx.grains
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .replace(fresh);
    if let Some(link) = &ctx.link {
        let push = crate::daemon::send_minion_data(link, ctx);
        if tokio::time::timeout(PUSH_TIMEOUT, push).await.is_err() {
            tracing::warn!("the master did not take the new grains within {PUSH_TIMEOUT:?}");
        }
    }
}

async fn setval(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let key = required_text(call, 0, "key")?;
    let val = call
        .param(1, "val")
        .cloned()
        .ok_or_else(|| FnError::Invocation("missing required argument 'val'".into()))?;
    let mut new = Map::new();
    new.insert(key, val);
    Ok(write_values(ctx, new, flag(call, 2, "destructive"))
        .await?
        .into())
}

async fn setvals(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let Some(Value::Object(new)) = call.param(0, "grains").cloned() else {
        return Err(FnError::Exception(
            "SaltException: setvals grains must be a dictionary.".into(),
        ));
    };
    Ok(write_values(ctx, new, flag(call, 1, "destructive"))
        .await?
        .into())
}

/// The current value at a nested key, if any.
fn current(ctx: &MinionCtx, key: &str, delimiter: &str) -> Option<Value> {
    traverse(&ctx.grains(), key, delimiter).cloned()
}

/// Put `value` back at `key` inside its parents (Salt's loop that rebuilds
/// `a:b:c` bottom-up), returning the top-level key and its new value.
fn rebuild_nested(
    ctx: &MinionCtx,
    key: &str,
    delimiter: &str,
    mut value: Value,
) -> (String, Value) {
    let mut key = key.to_string();
    while let Some((parent, rest)) = key.rsplit_once(delimiter) {
        let mut container = current(ctx, parent, delimiter).unwrap_or_else(|| json!({}));
        if let Value::Object(map) = &mut container {
            map.insert(rest.to_string(), value);
        }
        value = container;
        key = parent.to_string();
    }
    (key, value)
}

async fn append(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let key = required_text(call, 0, "key")?;
    let val = call.param(1, "val").cloned().unwrap_or(Value::Null);
    let delimiter = delimiter(call, 3);
    let mut list = current(ctx, &key, &delimiter).unwrap_or_else(|| json!([]));
    if flag(call, 2, "convert") && !list.is_array() {
        list = if list.is_null() {
            json!([])
        } else {
            json!([list])
        };
    }
    let Value::Array(items) = &mut list else {
        return Ok(json!(format!("The key {key} is not a valid list")).into());
    };
    if items.contains(&val) {
        let message = format!(
            "The val {} was already in the list {key}",
            python::to_str(&val)
        );
        return Ok(json!(message).into());
    }
    match val {
        Value::Array(many) => items.extend(many),
        one => items.push(one),
    }
    let (top, value) = rebuild_nested(ctx, &key, &delimiter, list);
    let mut new = Map::new();
    new.insert(top, value);
    Ok(write_values(ctx, new, false).await?.into())
}

async fn remove(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let key = required_text(call, 0, "key")?;
    let val = call.param(1, "val").cloned().unwrap_or(Value::Null);
    let delimiter = delimiter(call, 2);
    let mut list = current(ctx, &key, &delimiter).unwrap_or_else(|| json!([]));
    let Value::Array(items) = &mut list else {
        return Ok(json!(format!("The key {key} is not a valid list")).into());
    };
    let Some(position) = items.iter().position(|v| *v == val) else {
        let message = format!("The val {} was not in the list {key}", python::to_str(&val));
        return Ok(json!(message).into());
    };
    items.remove(position);
    let (top, value) = rebuild_nested(ctx, &key, &delimiter, list);
    let mut new = Map::new();
    new.insert(top, value);
    Ok(write_values(ctx, new, false).await?.into())
}

/// What Salt's `grains.set` was asked to do.
struct SetRequest {
    key: String,
    val: Value,
    force: bool,
    destructive: bool,
    delimiter: String,
}

async fn set(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let request = SetRequest {
        key: required_text(call, 0, "key")?,
        val: call.param(1, "val").cloned().unwrap_or_else(|| json!("")),
        force: flag(call, 2, "force"),
        destructive: flag(call, 3, "destructive"),
        delimiter: delimiter(call, 4),
    };
    Ok(set_nested(ctx, request).await?.into())
}

/// `grains.delval` / `grains.delkey`: `grains.set` with a `None` value.
async fn delete(
    ctx: &MinionCtx,
    call: &Call,
    destructive: bool,
    force: bool,
) -> Result<FnOutput, FnError> {
    let request = SetRequest {
        key: required_text(call, 0, "key")?,
        val: Value::Null,
        force,
        destructive,
        delimiter: DEFAULT_DELIMITER.to_string(),
    };
    Ok(set_nested(ctx, request).await?.into())
}

fn is_complex(v: &Value) -> bool {
    v.is_object() || v.is_array()
}

/// Salt's `grains.set`: conservative about replacing lists and dicts unless
/// `force`; nested keys are rebuilt bottom-up. Refusals are a
/// `{"result": False, "comment": ...}` return, not an error.
async fn set_nested(ctx: &MinionCtx, req: SetRequest) -> Result<Value, FnError> {
    let outcome = |result: bool, comment: String, changes: Value| json!({"comment": comment, "changes": changes, "result": result});
    let refuse = |comment: String| Ok(outcome(false, comment, json!({})));
    let existing = current(ctx, &req.key, &req.delimiter);
    if existing.as_ref() == Some(&req.val) && (!req.val.is_null() || !req.destructive) {
        return Ok(outcome(true, "Grain is already set".into(), json!({})));
    }
    if let Some(old) = &existing
        && !old.is_null()
        && !req.force
    {
        if is_complex(old) {
            return refuse(format!(
                "The key '{}' exists but is a dict or a list. Use 'force=True' to overwrite.",
                req.key
            ));
        }
        if is_complex(&req.val) {
            return refuse(format!(
                "The key '{}' exists and the given value is a dict or a list. Use 'force=True' to overwrite.",
                req.key
            ));
        }
    }
    let mut key = req.key.clone();
    let mut value = req.val.clone();
    while let Some((parent, rest)) = key.rsplit_once(req.delimiter.as_str()) {
        let container = current(ctx, parent, &req.delimiter).unwrap_or_else(|| json!({}));
        value = match place_in_parent(container, rest, value, &req) {
            Ok(v) => v,
            Err(comment) => return refuse(comment.replace("{parent}", parent)),
        };
        key = parent.to_string();
    }
    let mut new = Map::new();
    new.insert(key, value);
    let changes = write_values(ctx, new, req.destructive).await?;
    Ok(outcome(true, String::new(), changes))
}

/// One step of Salt's nested `set`: put `value` under `rest` in the parent.
fn place_in_parent(
    parent: Value,
    rest: &str,
    value: Value,
    req: &SetRequest,
) -> Result<Value, String> {
    match parent {
        Value::Object(mut map) => {
            if value.is_null() && req.destructive {
                map.remove(rest);
            } else {
                map.insert(rest.to_string(), value);
            }
            Ok(Value::Object(map))
        }
        Value::Array(mut items) => {
            let mut updated = false;
            for item in items.iter_mut() {
                if item.as_str() == Some(rest) {
                    *item = json!({ rest: value.clone() });
                    updated = true;
                } else if let Some(map) = item.as_object_mut().filter(|m| m.contains_key(rest)) {
                    map.insert(rest.to_string(), value.clone());
                    updated = true;
                }
            }
            if !updated {
                items.push(json!({ rest: value }));
            }
            Ok(Value::Array(items))
        }
        other if other.as_str() == Some(rest) || req.force => Ok(json!({ rest: value })),
        other => Err(format!(
            "The key '{{parent}}' value is '{}', which is different from the provided key '{rest}'. Use 'force=True' to overwrite.",
            python::to_str(&other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(args: Vec<Value>, kwargs: Value) -> Result<Value, FnError> {
        let grains = json!({"os": "Debian", "os_family": "Debian", "roles": ["db", "web"]});
        let call = Call {
            fun: "grains.filter_by".into(),
            args,
            kwargs: kwargs.as_object().cloned().unwrap_or_default(),
        };
        filter_by(grains.as_object().unwrap_or(&Map::new()), &call)
    }

    #[test]
    fn filter_by_like_salt() {
        let table = json!({"Debian": "deb", "RedHat": "rpm"});
        assert_eq!(filter(vec![table.clone()], json!({})), Ok(json!("deb")));
        assert_eq!(
            filter(vec![json!({"Deb*": 1})], json!({"grain": "os"})),
            Ok(json!(1))
        );
        assert_eq!(
            filter(vec![json!({"web": 1, "db": 2})], json!({"grain": "roles"})),
            Ok(json!(2))
        );
        assert_eq!(
            filter(vec![json!({"default": "d"})], json!({})),
            Ok(json!("d"))
        );
        assert_eq!(
            filter(vec![json!({"x": "d"})], json!({"grain": "nosuch"})),
            Ok(Value::Null)
        );
        assert_eq!(
            filter(
                vec![json!({"Debian": {"a": 1}})],
                json!({"merge": {"b": 2}})
            ),
            Ok(json!({"a": 1, "b": 2}))
        );
        assert_eq!(
            filter(
                vec![json!({"Debian": {"a": 1}, "base": {"a": 0, "c": 3}})],
                json!({"base": "base"})
            ),
            Ok(json!({"a": 1, "c": 3}))
        );
        assert!(matches!(
            filter(vec![json!({"Debian": {"a": 1}})], json!({"merge": 3})),
            Err(FnError::Exception(m)) if m == "filter_by merge argument must be a dictionary."
        ));
        assert!(filter(vec![json!([1])], json!({})).is_err());
    }

    use std::sync::Arc;

    use brine_common::config::MinionConfig;
    use brine_common::ids::MinionId;

    fn ctx(dir: &std::path::Path) -> (MinionCtx, Arc<Functions<MinionCtx>>) {
        let config = MinionConfig {
            config_dir: dir.to_path_buf(),
            cachedir: dir.join("cache"),
            grains: json!({"role": "web", "app": {"name": "nginx"}})
                .as_object()
                .cloned()
                .expect("map"),
            ..MinionConfig::default()
        };
        let functions = super::super::registry();
        let id = MinionId::parse("m1").expect("id");
        (MinionCtx::new(id, Arc::new(config), &functions), functions)
    }

    async fn call(f: &Functions<MinionCtx>, ctx: &MinionCtx, fun: &str, words: &[&str]) -> Value {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        let (args, kwargs) = brine_common::functions::parse_cli_args(&words);
        let out = f
            .call(
                ctx.clone(),
                Call {
                    fun: fun.into(),
                    args,
                    kwargs,
                },
            )
            .await;
        assert!(out.success, "{fun} {words:?}: {:?}", out.ret);
        out.ret
    }

    #[tokio::test]
    async fn readers() {
        let dir = tempfile::tempdir().expect("tmp");
        let (ctx, f) = ctx(dir.path());
        assert_eq!(call(&f, &ctx, "grains.get", &["app:name"]).await, "nginx");
        assert_eq!(
            call(&f, &ctx, "grains.get", &["nosuch", "dflt"]).await,
            "dflt"
        );
        assert_eq!(call(&f, &ctx, "grains.get", &["nosuch"]).await, "");
        assert_eq!(
            call(&f, &ctx, "grains.get", &["app|name", "delimiter=|"]).await,
            "nginx"
        );
        assert_eq!(
            call(&f, &ctx, "grains.item", &["role", "app:name", "nosuch"]).await,
            json!({"role": "web", "app:name": "nginx", "nosuch": ""})
        );
        let items = call(&f, &ctx, "grains.items", &[]).await;
        assert_eq!(items["id"], "m1");
        let sanitized = call(&f, &ctx, "grains.items", &["sanitize=True"]).await;
        assert_eq!(sanitized["id"], "MINION.DOMAINNAME");
        let ls = call(&f, &ctx, "grains.ls", &[]).await;
        assert!(ls.as_array().is_some_and(|l| l.contains(&json!("role"))));
        assert_eq!(
            call(&f, &ctx, "grains.has_value", &["app:name"]).await,
            true
        );
        assert_eq!(
            call(&f, &ctx, "grains.equals", &["role", "web"]).await,
            true
        );
    }

    #[tokio::test]
    async fn writers_persist_to_the_grains_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let (ctx, f) = ctx(dir.path());
        let file = dir.path().join("grains");
        assert_eq!(
            call(&f, &ctx, "grains.setval", &["color", "blue"]).await,
            json!({"color": "blue"})
        );
        assert_eq!(ctx.grains()["color"], "blue");
        assert!(
            std::fs::read_to_string(&file)
                .expect("file")
                .contains("color: blue")
        );

        assert_eq!(
            call(&f, &ctx, "grains.append", &["tags", "a"]).await,
            json!({"tags": ["a"]})
        );
        call(&f, &ctx, "grains.append", &["tags", "b"]).await;
        assert_eq!(
            call(&f, &ctx, "grains.append", &["tags", "a"]).await,
            "The val a was already in the list tags"
        );
        assert_eq!(
            call(&f, &ctx, "grains.append", &["color", "x"]).await,
            "The key color is not a valid list"
        );
        call(&f, &ctx, "grains.remove", &["tags", "a"]).await;
        assert_eq!(ctx.grains()["tags"], json!(["b"]));

        let set = call(&f, &ctx, "grains.set", &["apps:web:port", "8080"]).await;
        assert_eq!(set["result"], true);
        assert_eq!(ctx.grains()["apps"], json!({"web": {"port": 8080}}));
        let refused = call(&f, &ctx, "grains.set", &["apps", "x"]).await;
        assert_eq!(refused["result"], false);

        let deleted = call(&f, &ctx, "grains.delkey", &["color"]).await;
        assert_eq!(
            deleted,
            json!({"comment": "", "changes": {"color": null}, "result": true})
        );
        assert!(!ctx.grains().contains_key("color"));
        call(&f, &ctx, "grains.delval", &["tags", "force=True"]).await;
        assert_eq!(ctx.grains()["tags"], Value::Null);

        call(&f, &ctx, "grains.setvals", &["{role: db, extra: 1}"]).await;
        assert_eq!(ctx.grains()["role"], "web", "the minion config still wins");
        assert_eq!(ctx.grains()["extra"], 1);
    }

    #[tokio::test]
    async fn setvals_needs_a_dict() {
        let dir = tempfile::tempdir().expect("tmp");
        let (ctx, f) = ctx(dir.path());
        let out = f
            .call(
                ctx.clone(),
                Call {
                    fun: "grains.setvals".into(),
                    args: vec![json!("x")],
                    ..Call::default()
                },
            )
            .await;
        assert!(!out.success);
        assert!(
            out.ret
                .as_str()
                .is_some_and(|s| s.contains("must be a dictionary"))
        );
    }
}
