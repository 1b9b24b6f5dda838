//! Salt's `pillar` execution module, and how the minion gets its pillar.
//!
//! The master compiles each minion's pillar (`Request::Pillar`, answered for
//! the session's own minion only); a masterless minion (`file_client:
//! local`) compiles its own from its `pillar_roots` with the same
//! `brine_pillar` code. The minion keeps it in `ctx.pillar`, fetched after
//! every authentication and on `saltutil.refresh_pillar`, and pushes it to
//! the master's targeting cache with its grains.
//!
//! Functions: `pillar.items` (a freshly compiled pillar, as in Salt),
//! `pillar.item`, `pillar.get`, `pillar.raw`, `pillar.ls`, `pillar.keys`,
//! `pillar.obfuscate`. Render errors show under `_errors`.
//!
//! Masking (Salt 3008): `pillar.items`, `pillar.item` and `pillar.get` give
//! every non-empty scalar as `**********` unless called with `unmask=True`
//! or from a template (which renders with masking off, see
//! [`MinionCtx::rendering`]); `pillar.raw` is unmasked unless `unmask=False`.

use std::time::Duration;

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use brine_common::ids::SaltEnv;
use brine_common::output::python::truthy;
use brine_common::target::traverse;
use brine_common::typed_key::key_as_value;
use brine_common::wire::{Reply, Request};
use serde_json::{Map, Value, json};

use super::MinionCtx;

/// How long the master may take to compile a pillar.
const PILLAR_TIMEOUT: Duration = Duration::from_secs(60);

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "pillar.items",
        "*args, **kwargs",
        "Calls the master for a fresh pillar and generates the pillar data on the fly\n\nContrast with :py:func:`raw` which returns the pillar data that is\ncurrently loaded into the minion.\n\npillarenv\n    Pass a specific pillar environment from which to compile pillar data.\n\nCLI Example:\n\n    brine '*' pillar.items",
        |ctx, call| async move { items(&ctx, &call).await },
    );
    f.register(
        "pillar.item",
        "*args, **kwargs",
        "Return one or more pillar entries from the pillar data currently loaded\ninto the minion.\n\ndefault\n    The value returned for a key that is not found (default: '').\n\ndelimiter\n    Delimiter used to traverse nested dictionaries (default ':').\n\nCLI Examples:\n\n    brine '*' pillar.item foo\n    brine '*' pillar.item foo:bar",
        |ctx, call| async move { item(&ctx, &call).await },
    );
    f.register(
        "pillar.get",
        "key, default='', merge=False, merge_nested_lists=None, delimiter=':', pillarenv=None, saltenv=None, unmask=None",
        "Attempt to retrieve the named value from pillar; if the named value is\nnot available return the passed default (an empty string by default).\n\nThe value can also represent a value in a nested dict using a \":\"\ndelimiter for the dict: ``pkg:apache``.\n\nmerge\n    Merge the found dict (or list) over ``default`` instead of replacing it.\n\ndelimiter\n    Specify an alternate delimiter to use when traversing a nested dict.\n\nCLI Example:\n\n    brine '*' pillar.get pkg:apache",
        |ctx, call| async move { get(&ctx, &call).await },
    );
    f.register(
        "pillar.raw",
        "key=None, unmask=None",
        "Return the raw pillar data that is currently loaded into the minion.\n\nCLI Example:\n\n    brine '*' pillar.raw\n    brine '*' pillar.raw key='roles'",
        |ctx, call| async move { raw(&ctx, &call).await },
    );
    f.register(
        "pillar.ls",
        "*args",
        "Calls the master for a fresh pillar, generates the pillar data on the\nfly and returns its top-level keys.\n\nCLI Example:\n\n    brine '*' pillar.ls",
        |ctx, call| async move {
            let pillar = fresh_pillar(&ctx, &call).await?;
            Ok(Value::Array(pillar.keys().map(|key| key_as_value(key)).collect()).into())
        },
    );
    f.register(
        "pillar.keys",
        "key, delimiter=':', unmask=None",
        "Attempt to retrieve a list of keys from the named value from the pillar.\n\nCLI Example:\n\n    brine '*' pillar.keys web:sites",
        |ctx, call| async move { keys(&ctx, &call).await },
    );
    f.register(
        "pillar.obfuscate",
        "*args, **kwargs",
        "Same as :py:func:`items`, but replace pillar values with a simple type\nindication.\n\nCLI Example:\n\n    brine '*' pillar.obfuscate",
        |ctx, call| async move {
            let pillar = fresh_pillar(&ctx, &call).await?;
            Ok(obfuscate(&Value::Object(pillar)).into())
        },
    );
}

/// Whether this minion compiles its own pillar (`file_client: local`).
fn is_masterless(ctx: &MinionCtx) -> bool {
    ctx.config.file_client == "local"
}

/// Compile or fetch a pillar, without keeping it.
pub async fn compile_pillar(
    ctx: &MinionCtx,
    saltenv: Option<String>,
    pillarenv: Option<String>,
) -> Result<Map<String, Value>, String> {
    let env = |name: Option<String>| -> Result<Option<SaltEnv>, String> {
        name.map(|n| SaltEnv::parse(&n).map_err(|e| format!("invalid environment {n:?}: {e}")))
            .transpose()
    };
    let (saltenv, pillarenv) = (env(saltenv)?, env(pillarenv)?);
    if is_masterless(ctx) {
        return compile_locally(ctx, saltenv, pillarenv).await;
    }
    let Some(upstream) = ctx.upstream() else {
        return Err("no connection to the master to fetch the pillar from".into());
    };
    // brine-ssh compiles the pillar from the grains brine-call sent it when
    // the channel opened (crate::call), as a master from a minion's.
    let request = Request::Pillar {
        saltenv,
        pillarenv,
        extra: Map::new(),
    };
    match upstream.request(request, PILLAR_TIMEOUT).await {
        Ok(Reply::Pillar(pillar)) => Ok(pillar),
        Ok(Reply::Refused { reason }) => Err(format!("the master refused the pillar: {reason}")),
        Ok(other) => Err(format!("unexpected answer to a pillar request: {other:?}")),
        Err(e) => Err(format!("cannot fetch the pillar from the master: {e}")),
    }
}

/// A masterless minion's pillar from its own `pillar_roots`, on a blocking thread.
async fn compile_locally(
    ctx: &MinionCtx,
    saltenv: Option<SaltEnv>,
    pillarenv: Option<SaltEnv>,
) -> Result<Map<String, Value>, String> {
    let mut opts = brine_pillar::PillarOpts::from_minion(&ctx.config);
    opts.saltenv = saltenv;
    if pillarenv.is_some() {
        opts.pillarenv = pillarenv;
    }
    if ctx.compiling_pillar {
        return Err(
            "the pillar cannot be compiled from a template of the pillar being \
                    compiled (pillar.items and friends are not available while rendering \
                    pillar; use pillar.get)"
                .into(),
        );
    }
    let roots = brine_common::fileroots::Roots::from_config(&ctx.config.pillar_roots);
    let (id, grains) = (ctx.id.to_string(), ctx.grains());
    let functions = ctx.registry();
    let handle = tokio::runtime::Handle::current();
    let so_far = ctx.pillar();
    let ctx = ctx.clone().compiling_pillar();
    tokio::task::spawn_blocking(move || {
        let host = functions.map(|functions| {
            crate::state_host::MinionStateHost::new(ctx, functions, handle, so_far)
        });
        let host = host
            .as_ref()
            .map(|h| &**h as &dyn brine_pillar::SaltFunctions);
        brine_pillar::compile_on(&roots, &id, &grains, &opts, host).into_map()
    })
    .await
    .map_err(|e| format!("the pillar compile stopped: {e}"))
}

/// Salt's `saltutil.refresh_pillar`: a fresh pillar into `ctx.pillar`, then
/// grains and pillar to the master's targeting cache.
pub async fn refresh_pillar(ctx: &MinionCtx) -> Result<(), String> {
    let pillar = compile_pillar(ctx, None, None).await?;
    *ctx.pillar.write().unwrap_or_else(|p| p.into_inner()) = pillar;
    if let Some(link) = &ctx.link {
        crate::daemon::send_minion_data(link, ctx).await;
    }
    Ok(())
}

/// The loaded pillar; compiled first when none is loaded yet (a masterless
/// run, or `brine-call`, which has not fetched one).
pub async fn loaded_pillar(ctx: &MinionCtx) -> Map<String, Value> {
    let current = ctx.pillar();
    if !current.is_empty() && !is_masterless(ctx) {
        return current;
    }
    match compile_pillar(ctx, None, None).await {
        Ok(pillar) => {
            *ctx.pillar.write().unwrap_or_else(|p| p.into_inner()) = pillar.clone();
            pillar
        }
        Err(e) => {
            tracing::warn!("{e}");
            current
        }
    }
}

fn text_kwarg(call: &Call, name: &str) -> Option<String> {
    call.kwargs.get(name).and_then(|v| match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(brine_common::output::python::to_str(other)),
    })
}

async fn fresh_pillar(ctx: &MinionCtx, call: &Call) -> Result<Map<String, Value>, FnError> {
    compile_pillar(
        ctx,
        text_kwarg(call, "saltenv"),
        text_kwarg(call, "pillarenv"),
    )
    .await
    .map_err(FnError::Execution)
}

fn delimiter(call: &Call, index: usize) -> String {
    match call.param(index, "delimiter") {
        Some(Value::String(d)) if !d.is_empty() => d.clone(),
        _ => brine_common::target::DEFAULT_DELIMITER.to_owned(),
    }
}

fn key_args(call: &Call) -> Vec<String> {
    call.args
        .iter()
        .map(brine_common::output::python::to_str)
        .collect()
}

async fn items(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    if !call.args.is_empty() {
        // Salt passes the keys on to `item` without `unmask`.
        let mut call = call.clone();
        call.kwargs.remove("unmask");
        return item(ctx, &call).await;
    }
    let pillar = Value::Object(fresh_pillar(ctx, call).await?);
    Ok(masked(pillar, unmask(ctx, call.kwargs.get("unmask"))).into())
}

/// The `unmask` argument as given; when it is not given (or `None`),
/// values are unmasked only where the caller renders a template.
fn unmask(ctx: &MinionCtx, given: Option<&Value>) -> bool {
    match given {
        None | Some(Value::Null) => !ctx.mask_pillar,
        Some(flag) => truthy(flag),
    }
}

/// Salt's `secret.serial` unless `unmask`: every scalar that is truthy in
/// Python (a non-empty string, a non-zero number, `True`) becomes
/// `**********`; structure, keys, empty strings, zeros, `False` and `None`
/// stay.
fn masked(value: Value, unmask: bool) -> Value {
    if unmask {
        return value;
    }
    serial(value)
}

fn serial(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, serial(v))).collect()),
        Value::Array(items) => Value::Array(items.into_iter().map(serial).collect()),
        scalar if truthy(&scalar) => json!(REDACTED),
        scalar => scalar,
    }
}

/// Salt's `REDACT_PLACEHOLDER`.
const REDACTED: &str = "**********";

async fn item(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let pillar = loaded_pillar(ctx).await;
    let default = call.kwargs.get("default").cloned().unwrap_or(json!(""));
    let delimiter = match call.kwargs.get("delimiter") {
        Some(Value::String(d)) if !d.is_empty() => d.clone(),
        _ => brine_common::target::DEFAULT_DELIMITER.to_owned(),
    };
    let mut out = Map::new();
    for key in key_args(call) {
        let value = traverse(&pillar, &key, &delimiter).cloned();
        out.insert(key, value.unwrap_or_else(|| default.clone()));
    }
    Ok(masked(Value::Object(out), unmask(ctx, call.kwargs.get("unmask"))).into())
}

async fn get(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let key = match call.param(0, "key") {
        Some(Value::Null) | None => {
            return Err(FnError::Invocation(
                "missing required argument 'key'".into(),
            ));
        }
        Some(k) => brine_common::output::python::to_str(k),
    };
    let default = call.param(1, "default").cloned().unwrap_or(json!(""));
    let merge = call.param(2, "merge").is_some_and(truthy);
    let merge_lists = call.param(3, "merge_nested_lists").is_some_and(truthy);
    let delimiter = delimiter(call, 4);
    let unmask = unmask(ctx, call.param(7, "unmask"));
    let pillar = loaded_pillar(ctx).await;
    let found = traverse(&pillar, &key, &delimiter).cloned();
    if merge && let Some(merged) = merge_default(&default, found.as_ref(), merge_lists) {
        return Ok(masked(merged, unmask).into());
    }
    Ok(masked(found.unwrap_or(default), unmask).into())
}

/// `merge=True`: the found dict merged over a dict default, or the found
/// list's new items appended to a list default. `None` when the types do
/// not allow it (Salt logs and skips the merge).
fn merge_default(default: &Value, found: Option<&Value>, merge_lists: bool) -> Option<Value> {
    match (default, found) {
        (Value::Object(base), Some(Value::Object(over))) => {
            Some(Value::Object(brine_pillar::merge(
                base.clone(),
                over.clone(),
                brine_pillar::MergeStrategy::Recurse,
                merge_lists,
            )))
        }
        (Value::Object(_) | Value::Array(_), None) => Some(default.clone()),
        (Value::Array(base), Some(Value::Array(more))) => {
            let mut list = base.clone();
            for item in more {
                if !list.contains(item) {
                    list.push(item.clone());
                }
            }
            Some(Value::Array(list))
        }
        _ => {
            tracing::error!(
                "pillar.get: Default ({default}) must be a dict or list of the found value's type to merge. Merge will be skipped."
            );
            None
        }
    }
}

async fn raw(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let pillar = loaded_pillar(ctx).await;
    let value = match call.param(0, "key") {
        Some(key) if truthy(key) => {
            let key = brine_common::output::python::to_str(key);
            pillar.get(&key).cloned().unwrap_or(json!({}))
        }
        _ => Value::Object(pillar),
    };
    // Unmasked unless asked otherwise (Salt 3008.2).
    let unmask = call
        .param(1, "unmask")
        .is_none_or(|v| v.is_null() || truthy(v));
    Ok(masked(value, unmask).into())
}

async fn keys(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let key = match call.param(0, "key") {
        Some(Value::Null) | None => {
            return Err(FnError::Invocation(
                "missing required argument 'key'".into(),
            ));
        }
        Some(k) => brine_common::output::python::to_str(k),
    };
    let pillar = loaded_pillar(ctx).await;
    match traverse(&pillar, &key, &delimiter(call, 1)) {
        None => Err(FnError::Exception(format!(
            "KeyError: 'Pillar key not found: {key}'"
        ))),
        // A `None` or bool key is listed as that value, as Salt lists it.
        Some(Value::Object(map)) => {
            Ok(Value::Array(map.keys().map(|key| key_as_value(key)).collect()).into())
        }
        Some(_) => Err(FnError::Exception(format!(
            "ValueError: Pillar value in key {key} is not a dict"
        ))),
    }
}

/// Values replaced by their Python type names, structure kept.
fn obfuscate(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), obfuscate(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(obfuscate).collect()),
        Value::String(_) => json!("<str>"),
        Value::Bool(_) => json!("<bool>"),
        Value::Number(n) if n.is_f64() => json!("<float>"),
        Value::Number(_) => json!("<int>"),
        Value::Null => json!("<NoneType>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obfuscate_keeps_the_shape() {
        let v = json!({"a": {"b": [1, "x", 1.5, null, true]}});
        assert_eq!(
            obfuscate(&v),
            json!({"a": {"b": ["<int>", "<str>", "<float>", "<NoneType>", "<bool>"]}})
        );
    }

    #[test]
    fn masking_hides_truthy_scalars_only() {
        let v = json!({"a": {"s": "x", "e": "", "n": 0, "f": 1.5, "b": false, "t": true, "z": null}, "l": [1, 0]});
        assert_eq!(
            masked(v.clone(), false),
            json!({"a": {"s": REDACTED, "e": "", "n": 0, "f": REDACTED, "b": false, "t": REDACTED, "z": null}, "l": [REDACTED, 0]})
        );
        assert_eq!(masked(v.clone(), true), v);
        assert_eq!(masked(json!("fallback"), false), json!(REDACTED));
    }

    #[test]
    fn merge_default_merges_dicts_and_lists() {
        let merged = merge_default(&json!({"a": 1, "b": 1}), Some(&json!({"b": 2})), false);
        assert_eq!(merged, Some(json!({"a": 1, "b": 2})));
        let merged = merge_default(&json!([1, 2]), Some(&json!([2, 3])), false);
        assert_eq!(merged, Some(json!([1, 2, 3])));
        assert_eq!(merge_default(&json!("x"), Some(&json!({})), false), None);
    }
}
