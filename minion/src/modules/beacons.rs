//! Salt's `beacons` execution module: list and change the minion's beacons
//! at run time (`beacons.list`, `add`, `modify`, `delete`, `enable`,
//! `disable`, `enable_beacon`, `disable_beacon`, `reset`,
//! `list_available`, `save`). Changes apply to the running beacon task at
//! once and last until the minion restarts, unless `beacons.save` writes the
//! minion's own beacons (not the pillar's) to `minion.d/beacons.conf`, which
//! the next start reads.

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use brine_common::output::python;
use serde_json::{Map, Value, json};

use super::MinionCtx;
use crate::beacons::{self, BeaconStore, Module};

/// The beacon modules Brine has, for `beacons.list_available`.
const AVAILABLE: &[&str] = &[
    "diskusage",
    "inotify",
    "load",
    "log",
    "memusage",
    "network_info",
    "pkg",
    "ps",
    "service",
    "status",
];

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "beacons.list",
        "return_yaml=True, include_pillar=True, include_opts=True, **kwargs",
        "List the beacons currently configured on the minion.",
        |ctx, call| async move {
            let beacons = Value::Object(ctx.over_pillar("beacons", store(&ctx).snapshot()));
            Ok(yaml_or_value("beacons", beacons, &call).into())
        },
    );
    f.register(
        "beacons.list_available",
        "return_yaml=True, **kwargs",
        "List the beacon modules available on the minion.",
        |_, call| async move { Ok(yaml_or_value("beacons", json!(AVAILABLE), &call).into()) },
    );
    f.register(
        "beacons.add",
        "name, beacon_data, **kwargs",
        "Add a beacon on the minion: beacons.add ps \"[{'processes': {'sshd': 'running'}}]\"",
        |ctx, call| async move { add_or_modify(&ctx, &call, false) },
    );
    f.register(
        "beacons.modify",
        "name, beacon_data, **kwargs",
        "Modify an existing beacon.",
        |ctx, call| async move { add_or_modify(&ctx, &call, true) },
    );
    f.register(
        "beacons.delete",
        "name, **kwargs",
        "Delete a beacon item.",
        |ctx, call| async move { delete(&ctx, &call) },
    );
    f.register(
        "beacons.enable",
        "**kwargs",
        "Enable all beacons on the minion.",
        |ctx, _| async move { Ok(set_all(&ctx, true)) },
    );
    f.register(
        "beacons.disable",
        "**kwargs",
        "Disable all beacons on the minion.",
        |ctx, _| async move { Ok(set_all(&ctx, false)) },
    );
    f.register(
        "beacons.enable_beacon",
        "name, **kwargs",
        "Enable one beacon on the minion.",
        |ctx, call| async move { set_one(&ctx, &call, true) },
    );
    f.register(
        "beacons.disable_beacon",
        "name, **kwargs",
        "Disable one beacon on the minion.",
        |ctx, call| async move { set_one(&ctx, &call, false) },
    );
    f.register(
        "beacons.save",
        "**kwargs",
        "Save the beacons (not pillar's) to minion.d/beacons.conf, read at the next start.",
        |ctx, _| async move {
            Ok(
                match ctx.save_include("beacons.conf", "beacons", store(&ctx).snapshot()) {
                    Ok(path) => result(true, format!("Beacons saved to {}.", path.display())),
                    Err(e) => result(false, format!("Unable to write the beacons file: {e}")),
                },
            )
        },
    );
    f.register(
        "beacons.reset",
        "**kwargs",
        "Reset the beacons to the minion config's.",
        |ctx, _| async move {
            store(&ctx).reset();
            Ok(result(true, "Beacon Reset"))
        },
    );
}

fn store(ctx: &MinionCtx) -> std::sync::Arc<BeaconStore> {
    ctx.beacons.clone()
}

fn result(ok: bool, comment: impl Into<String>) -> FnOutput {
    json!({"comment": comment.into(), "result": ok}).into()
}

/// `{key: value}` as Salt's YAML text, or with `return_yaml=False` the
/// value itself (Salt's `{key: {}}` when there is nothing).
pub fn yaml_or_value(key: &str, value: Value, call: &Call) -> Value {
    let empty = value.as_object().is_some_and(Map::is_empty) || value.is_null();
    let as_data = call
        .param(0, "return_yaml")
        .is_some_and(|v| !python::truthy(v));
    if as_data && !empty {
        return value;
    }
    let mut map = Map::new();
    map.insert(key.into(), if empty { json!({}) } else { value });
    let wrapped = Value::Object(map);
    if as_data {
        return wrapped;
    }
    json!(brine_common::yaml::dump_block(&wrapped))
}

fn name_param(call: &Call) -> Result<String, FnError> {
    call.param(0, "name")
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or_else(|| FnError::Invocation("missing required argument 'name'".into()))
}

fn add_or_modify(ctx: &MinionCtx, call: &Call, modify: bool) -> Result<FnOutput, FnError> {
    let name = name_param(call)?;
    let data = call
        .param(1, "beacon_data")
        .cloned()
        .ok_or_else(|| FnError::Invocation("missing required argument 'beacon_data'".into()))?;
    if !matches!(data, Value::Array(_) | Value::Object(_)) {
        return Ok(result(false, "Beacon data must be a list of dictionaries."));
    }
    let module = beacons::merge_config(&data)
        .get("beacon_module")
        .and_then(Value::as_str)
        .map_or_else(|| name.clone(), String::from);
    if Module::from_name(&module).is_none() {
        return Ok(result(false, format!("Beacon {module} is not available.")));
    }
    let test = call.kwargs.get("test").is_some_and(python::truthy);
    let out = store(ctx).update(|config| {
        let exists = config.contains_key(&name);
        let out = match (modify, exists) {
            (false, true) => return result(false, format!("Beacon {name} is already configured.")),
            (true, false) => return result(false, format!("Beacon {name} is not configured.")),
            (false, false) if test => {
                return result(true, format!("Beacon: {name} would be added."));
            }
            (true, true) if test => {
                return result(true, format!("Beacon: {name} would be modified."));
            }
            (false, false) => result(true, format!("Added beacon: {name}.")),
            (true, true) => result(true, format!("Modified beacon: {name}.")),
        };
        config.insert(name.clone(), data);
        out
    });
    Ok(out)
}

fn delete(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let name = name_param(call)?;
    let removed = store(ctx).update(|config| config.remove(&name).is_some());
    Ok(if removed {
        result(true, format!("Deleted beacon: {name}."))
    } else {
        result(false, format!("Beacon: {name} is not configured."))
    })
}

fn set_all(ctx: &MinionCtx, enabled: bool) -> FnOutput {
    store(ctx).update(|config| config.insert("enabled".into(), json!(enabled)));
    let word = if enabled { "Enabled" } else { "Disabled" };
    result(true, format!("{word} beacons on minion."))
}

fn set_one(ctx: &MinionCtx, call: &Call, enabled: bool) -> Result<FnOutput, FnError> {
    let name = name_param(call)?;
    let found = store(ctx).update(|config| match config.get_mut(&name) {
        Some(raw) if name != "enabled" => {
            beacons::set_enabled(raw, enabled);
            true
        }
        _ => false,
    });
    let word = if enabled { "Enabled" } else { "Disabled" };
    Ok(if found {
        result(true, format!("{word} beacon {name} on minion."))
    } else {
        result(false, format!("Beacon {name} is not configured."))
    })
}
