//! Salt's `defaults` module: `merge` and `update` (Salt's
//! `dictupdate.update` with `None` handling), `deepcopy`, and `get`, which
//! reads `<formula>/defaults.yaml` (or `.json`) from the file server.
//!
//! Called from a template, `merge` and `update` return the merged data;
//! changing the caller's dict in place is the renderer's part.

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use brine_common::ids::salt_file;
use brine_common::output::python::to_str;
use brine_common::target::traverse_value;
use serde_json::{Map, Value};

use super::MinionCtx;
use super::dictupdate;
use super::process::Args;

const MERGE_SIG: &str = "dest, src, merge_lists=False, in_place=True, convert_none=True";
const UPDATE_SIG: &str = "dest, defaults, merge_lists=True, in_place=True, convert_none=True";

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "defaults.merge",
        MERGE_SIG,
        MERGE_DOC,
        |_, call| async move { Ok(merge(&Args::bind(&call, MERGE_SIG))?.into()) },
    );
    f.register(
        "defaults.update",
        UPDATE_SIG,
        UPDATE_DOC,
        |_, call| async move { Ok(update(&Args::bind(&call, UPDATE_SIG))?.into()) },
    );
    f.register(
        "defaults.deepcopy",
        "source",
        DEEPCOPY_DOC,
        |_, call| async move {
            Ok(call
                .param(0, "source")
                .cloned()
                .unwrap_or(Value::Null)
                .into())
        },
    );
    f.register(
        "defaults.get",
        "key, default=''",
        GET_DOC,
        |ctx, call| async move { get(&ctx, &call).await },
    );
}

const MERGE_DOC: &str = "defaults.merge\n    Allows deep merging of dicts in formulas.\n\nmerge_lists : False\n    If True, it will also merge lists instead of replace their items.\n\nin_place : True\n    If True, it will merge into dest dict,\n    if not it will make a new copy from that dict and return it.\n\nconvert_none : True\n    If True, it will convert src and dest to empty dicts if they are None.\n    If True and dest is None but in_place is True, raises TypeError.\n    If False it will make a new copy from that dict and return it.\n\nCLI Example:\n\n    brine '*' defaults.merge '{a: b}' '{d: e}'\n\nIt is more typical to use this in a templating language in formulas,\ninstead of directly on the command-line.";
const UPDATE_DOC: &str = "defaults.update\n    Allows setting defaults for group of data set e.g. group for nodes.\n\n    This function is a combination of defaults.merge\n    and defaults.deepcopy to avoid redundant in jinja.\n\n    Example:\n\n        {% do salt['defaults.update'](group01.nodes, group01.defaults) %}\n\nmerge_lists : True\n    If True, it will also merge lists instead of replace their items.\n\nin_place : True\n    If True, it will merge into dest dict.\n    if not it will make a new copy from that dict and return it.\n\nconvert_none : True\n    If True, it will convert src and dest to empty dicts if they are None.\n    If True and dest is None but in_place is True, raises TypeError.\n    If False it will make a new copy from that dict and return it.\n\nIt is more typical to use this in a templating language in formulas,\ninstead of directly on the command-line.";
const DEEPCOPY_DOC: &str = "defaults.deepcopy\n    Allows deep copy of objects in formulas.\n\n    By default, Python does not copy objects,\n    it creates bindings between a target and an object.\n\nIt is more typical to use this in a templating language in formulas,\ninstead of directly on the command-line.";
const GET_DOC: &str = "defaults.get is a helper function to retrieve information from\nformula's defaults.yaml (or defaults.json) files.\n\nCLI Example:\n\n    brine '*' defaults.get core:users:root\n\nThe defaults is computed from pillar key. The first entry is considered as\nthe formula namespace.";

/// A bound parameter, `None` included.
fn value(args: &Args, name: &str) -> Value {
    args.named().get(name).cloned().unwrap_or(Value::Null)
}

/// Salt's `defaults.merge(dest, src, merge_lists, in_place, convert_none)`.
fn merge(args: &Args) -> Result<Value, FnError> {
    let convert_none = args.bool("convert_none", true);
    let mut src = value(args, "src");
    if src.is_null() && convert_none {
        src = Value::Object(Map::new());
    }
    let mut dest = value(args, "dest");
    if dest.is_null() && convert_none {
        if args.bool("in_place", true) {
            return Err(FnError::Type(
                "Can't perform in-place merge into NoneType".into(),
            ));
        }
        dest = Value::Object(Map::new());
    }
    dictupdate::update(dest, src, true, args.bool("merge_lists", false))
}

/// Salt's `defaults.update`: each value of `dest` is `defaults` with the
/// value merged over it.
fn update(args: &Args) -> Result<Value, FnError> {
    let convert_none = args.bool("convert_none", true);
    let merge_lists = args.bool("merge_lists", true);
    let mut dest = value(args, "dest");
    if dest.is_null() {
        if args.bool("in_place", true) {
            return Err(FnError::Type(
                "Can't perform in-place update into NoneType".into(),
            ));
        }
        if convert_none {
            dest = Value::Object(Map::new());
        }
    }
    let mut defaults = value(args, "defaults");
    if defaults.is_null() && convert_none {
        defaults = Value::Object(Map::new());
    }
    let Value::Object(nodes) = dest else {
        return Err(FnError::Exception(format!(
            "AttributeError: '{}' object has no attribute 'items'",
            brine_common::output::python::python_type(&dest)
        )));
    };
    let mut out = Map::new();
    for (name, node) in nodes {
        let node = node_over_defaults(defaults.clone(), node, merge_lists, convert_none)?;
        out.insert(name, node);
    }
    Ok(Value::Object(out))
}

/// One node of `update`: `defaults.merge(copy_of_defaults, node)`.
fn node_over_defaults(
    defaults: Value,
    node: Value,
    merge_lists: bool,
    convert_none: bool,
) -> Result<Value, FnError> {
    let node = if node.is_null() && convert_none {
        Value::Object(Map::new())
    } else {
        node
    };
    dictupdate::update(defaults, node, true, merge_lists)
}

/// Salt's `defaults.get('formula:a:b')`: `formula/defaults.yaml` (else
/// `.json`) from the `base` file server, then the key in it.
async fn get(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let query = call.param(0, "key").map(to_str).unwrap_or_default();
    let default = call
        .param(1, "default")
        .cloned()
        .unwrap_or_else(|| Value::String(String::new()));
    let (namespace, key) = match query.split_once(':') {
        Some((namespace, key)) => (namespace.to_string(), Some(key.to_string())),
        None => (query, None),
    };
    let defaults = load(ctx, &namespace).await?;
    let found = match (&key, defaults) {
        (None, defaults) => defaults,
        (Some(key), Some(defaults)) => Some(
            traverse_value(&defaults, key, ":")
                .cloned()
                .unwrap_or(default),
        ),
        (Some(_), None) => Some(default),
    };
    Ok(found.unwrap_or(Value::Null).into())
}

/// The formula's defaults file, `None` when it has none (an empty file is `{}`).
async fn load(ctx: &MinionCtx, formula: &str) -> Result<Option<Value>, FnError> {
    let client = crate::fileclient::FileClient::new(&ctx.config, ctx.upstream());
    for ext in ["yaml", "json"] {
        let path = format!("{formula}/defaults.{ext}");
        let Ok((env, file)) = salt_file("base", &path) else {
            continue;
        };
        let Ok(Some(bytes)) = client.read_file(&env, &file).await else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        let data = if ext == "yaml" {
            brine_common::yaml::load(&text, &path).map_err(|e| FnError::Exception(e.to_string()))?
        } else {
            serde_json::from_str(&text).map_err(|e| FnError::Exception(e.to_string()))?
        };
        return Ok(Some(if data.is_null() {
            Value::Object(Map::new())
        } else {
            data
        }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(sig: &str, args: Vec<Value>, kwargs: Value) -> Args {
        let call = Call {
            fun: "defaults.x".into(),
            args,
            kwargs: kwargs.as_object().cloned().unwrap_or_default(),
        };
        Args::bind(&call, sig)
    }

    #[test]
    fn merge_like_salt() {
        let a = args(
            MERGE_SIG,
            vec![json!({"a": [1]}), json!({"a": [2], "n": null})],
            json!({"merge_lists": true}),
        );
        assert_eq!(merge(&a), Ok(json!({"a": [1, 2], "n": null})));
        let a = args(MERGE_SIG, vec![json!(null), json!({"b": 2})], json!({}));
        assert_eq!(
            merge(&a),
            Err(FnError::Type(
                "Can't perform in-place merge into NoneType".into()
            ))
        );
        let a = args(
            MERGE_SIG,
            vec![json!(null), json!({"b": 2})],
            json!({"in_place": false}),
        );
        assert_eq!(merge(&a), Ok(json!({"b": 2})));
        let a = args(MERGE_SIG, vec![json!({"b": 1}), json!(null)], json!({}));
        assert_eq!(merge(&a), Ok(json!({"b": 1})));
    }

    #[test]
    fn update_lays_each_node_over_the_defaults() {
        let a = args(
            UPDATE_SIG,
            vec![
                json!({"n1": {"x": 1}, "n2": {"x": 2, "l": ["own"]}}),
                json!({"enabled": true, "l": ["def"]}),
            ],
            json!({}),
        );
        assert_eq!(
            update(&a),
            Ok(json!({
                "n1": {"enabled": true, "l": ["def"], "x": 1},
                "n2": {"enabled": true, "l": ["def", "own"], "x": 2},
            }))
        );
        let a = args(
            UPDATE_SIG,
            vec![json!({"n": 1}), json!({"y": 2})],
            json!({}),
        );
        assert_eq!(update(&a), Err(FnError::Type(dictupdate::NON_DICT.into())));
        let a = args(UPDATE_SIG, vec![json!(null), json!({"y": 2})], json!({}));
        assert!(matches!(update(&a), Err(FnError::Type(m)) if m.contains("in-place update")));
    }
}
