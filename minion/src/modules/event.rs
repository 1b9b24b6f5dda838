//! Salt's `event` execution module: fire events onto the master's event bus
//! (`event.send`, `event.fire_master`) or the minion's own (`event.fire`).
//!
//! Events to the master travel over the minion's authenticated link as
//! `Request::Event`, with Salt's `_minion_event` load as data (`cmd`, `data`,
//! `id`, `pretag`, `tag`), which is what the master's bus shows for a Salt
//! minion's events. The master refuses tags that belong to it (`salt/job/...`);
//! that refusal is reported as an error.
//!
//! There is no minion-local event bus yet: `event.fire` (and `event.send`
//! in masterless mode) logs the event and returns True.

use std::time::Duration;

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use brine_common::truth::salt_is_true;
use brine_common::wire::{Reply, Request};
use serde_json::{Map, Value, json};

use super::MinionCtx;
use super::host::{list_value, required_str};

/// How long to wait for the master to take an event.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "event.send",
        "tag, data=None, preload=None, with_env=False, with_grains=False, with_pillar=False, with_env_opts=False, **kwargs",
        SEND_DOC,
        |ctx, call| async move { send(&ctx, &call).await },
    );
    f.register(
        "event.fire_master",
        "data, tag, preload=None",
        FIRE_MASTER_DOC,
        |ctx, call| async move {
            let data = call.param(0, "data").cloned().unwrap_or(Value::Null);
            let tag = required_str(&call, 1, "tag")?;
            let preload = call.param(2, "preload").and_then(Value::as_object).cloned();
            if ctx.link.is_none() {
                tracing::warn!("Local mode detected. Event with tag {tag} will NOT be sent.");
                return Ok(json!(false).into());
            }
            Ok(json!(fire_master(&ctx, data, &tag, preload).await?).into())
        },
    );
    f.register("event.fire", "data, tag", FIRE_DOC, |_, call| async move {
        let data = call.param(0, "data").cloned().unwrap_or(Value::Null);
        let tag = required_str(&call, 1, "tag")?;
        Ok(json!(fire_local(&data, &tag)).into())
    });
}

/// The event data `event.send` builds (Salt's order: environment, grains,
/// pillar, env opts, keyword arguments, then `data` overriding them all).
fn send_data(ctx: &MinionCtx, call: &Call) -> Map<String, Value> {
    let mut data = Map::new();
    if let Some(sel) = call.param(3, "with_env").filter(|v| salt_is_true(v)) {
        let env: Map<String, Value> = std::env::vars().map(|(k, v)| (k, json!(v))).collect();
        data.insert("environ".into(), Value::Object(subset(sel, env)));
    }
    if let Some(sel) = call.param(4, "with_grains").filter(|v| salt_is_true(v)) {
        data.insert("grains".into(), Value::Object(subset(sel, ctx.grains())));
    }
    if let Some(sel) = call.param(5, "with_pillar").filter(|v| salt_is_true(v)) {
        data.insert("pillar".into(), Value::Object(subset(sel, ctx.pillar())));
    }
    if call.param(6, "with_env_opts").is_some_and(salt_is_true) {
        data.insert("saltenv".into(), json!("base"));
        data.insert("pillarenv".into(), Value::Null);
    }
    let own = [
        "tag",
        "data",
        "preload",
        "with_env",
        "with_grains",
        "with_pillar",
        "with_env_opts",
    ];
    for (k, v) in call.user_kwargs() {
        if !own.contains(&k.as_str()) {
            data.insert(k, v);
        }
    }
    if let Some(Value::Object(given)) = call.param(1, "data") {
        data.extend(given.clone());
    }
    data
}

/// Only the keys listed when given a list (as Salt's `_dict_subset`), else
/// all of `map`.
fn subset(selector: &Value, map: Map<String, Value>) -> Map<String, Value> {
    if !selector.is_array() {
        return map;
    }
    let keys = list_value(selector);
    map.into_iter().filter(|(k, _)| keys.contains(k)).collect()
}

async fn send(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let tag = required_str(call, 0, "tag")?;
    let data = send_data(ctx, call);
    let preload = call.param(2, "preload").and_then(Value::as_object).cloned();
    if ctx.link.is_none() {
        return Ok(json!(fire_local(&Value::Object(data), &tag)).into());
    }
    Ok(json!(fire_master(ctx, Value::Object(data), &tag, preload).await?).into())
}

/// Salt's `_minion_event` load.
fn minion_event(id: &str, tag: &str, data: Value, preload: Option<Map<String, Value>>) -> Value {
    let mut load = preload.unwrap_or_default();
    load.insert("cmd".into(), json!("_minion_event"));
    load.insert("data".into(), data);
    load.insert("id".into(), json!(id));
    load.insert("pretag".into(), Value::Null);
    load.insert("tag".into(), json!(tag));
    Value::Object(load)
}

/// Send the event through the link: True when the master took it, False
/// when it could not be reached; an error when it refused the tag.
pub(crate) async fn fire_master(
    ctx: &MinionCtx,
    data: Value,
    tag: &str,
    preload: Option<Map<String, Value>>,
) -> Result<bool, FnError> {
    let Some(link) = ctx.link.as_ref() else {
        return Ok(false);
    };
    let request = Request::Event {
        tag: tag.to_string(),
        data: minion_event(ctx.id.as_str(), tag, data, preload),
    };
    match link.request(request, SEND_TIMEOUT).await {
        Ok(Reply::Refused { reason }) => Err(FnError::Execution(format!(
            "the master refused the event {tag:?}: {reason}"
        ))),
        Ok(_) => Ok(true),
        Err(e) => {
            tracing::warn!("cannot send the event {tag:?} to the master: {e}");
            Ok(false)
        }
    }
}

/// No minion-local bus yet: log the event.
fn fire_local(data: &Value, tag: &str) -> bool {
    tracing::info!(%tag, %data, "event.fire: no minion-local event bus yet; event logged only");
    true
}

const SEND_DOC: &str = "Send an event to the Salt Master\n\n:param tag: A tag to give the event.\n    Use slashes to create a namespace for related events. E.g.,\n    ``myco/build/buildserver1/start``, ``myco/build/buildserver1/success``,\n    ``myco/build/buildserver1/failure``.\n\n:param data: A dictionary of data to send in the event.\n    This is free-form. Send any data points that are needed for whoever is\n    consuming the event. Arguments on the CLI are interpreted as YAML so\n    complex data structures are possible.\n\n:param with_env: Include environment variables from the current shell\n    environment in the event data as ``environ``. ``True`` or a list of names.\n\n:param with_grains: Include grains (``True`` or a list of names) as ``grains``.\n\n:param with_pillar: Include Pillar values (``True`` or a list of keys) as ``pillar``.\n\n:param with_env_opts: Include ``saltenv`` and ``pillarenv``.\n\n:param kwargs: Any additional keyword arguments passed to this function\n    will be interpreted as key-value pairs and included in the event data.\n\nCLI Example:\n\n    brine-call event.send myco/mytag foo=Foo bar=Bar\n    brine-call event.send 'myco/mytag' '{foo: Foo, bar: Bar}'";
const FIRE_MASTER_DOC: &str = "Fire an event off up to the master server\n\nCLI Example:\n\n    brine '*' event.fire_master '{\"data\":\"my event data\"}' 'tag'";
const FIRE_DOC: &str = "Fire an event on the local minion event bus. Data must be formed as a dict.\n\n(Brine has no minion-local event bus yet: the event is only logged.)\n\nCLI Example:\n\n    brine '*' event.fire '{\"data\":\"my event data\"}' 'tag'";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minion_event_load_matches_salt() {
        let load = minion_event("m1", "myco/x", json!({"a": 1}), Some(Map::new()));
        assert_eq!(
            load,
            json!({"cmd": "_minion_event", "data": {"a": 1}, "id": "m1", "pretag": null, "tag": "myco/x"})
        );
        let mut pre = Map::new();
        pre.insert("extra".into(), json!(true));
        pre.insert("id".into(), json!("spoof"));
        let load = minion_event("m1", "t", json!({}), Some(pre));
        assert_eq!(load["extra"], json!(true));
        assert_eq!(load["id"], json!("m1"));
    }

    #[test]
    fn subsets() {
        let mut map = Map::new();
        map.insert("os".into(), json!("Debian"));
        map.insert("id".into(), json!("m1"));
        assert_eq!(subset(&json!(true), map.clone()).len(), 2);
        assert_eq!(subset(&json!(["os"]), map.clone()), {
            let mut m = Map::new();
            m.insert("os".into(), json!("Debian"));
            m
        });
        assert_eq!(subset(&json!("True"), map).len(), 2);
    }
}
