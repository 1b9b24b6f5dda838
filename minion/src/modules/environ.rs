//! Salt's `environ` module, read side: the minion process's environment
//! variables as formulas look them up while rendering (`environ.get`,
//! `has_value`, `item`, `items`). A non-string key answers `False`, as in
//! Salt. Setting variables (`setval`, `setenv`) is left out: it would change
//! the environment of every job the minion runs at once.

use std::env;

use brine_common::functions::{FnOutput, Functions};
use serde_json::{Map, Value};

use super::MinionCtx;
use super::process::Args;

const GET_SIG: &str = "key, default=''";
const HAS_VALUE_SIG: &str = "key, value=None";
const ITEM_SIG: &str = "keys, default=''";

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register("environ.get", GET_SIG, GET_DOC, |_, call| async move {
        Ok(get(&Args::bind(&call, GET_SIG)).into())
    });
    f.register(
        "environ.has_value",
        HAS_VALUE_SIG,
        HAS_VALUE_DOC,
        |_, call| async move { Ok(has_value(&Args::bind(&call, HAS_VALUE_SIG)).into()) },
    );
    f.register("environ.item", ITEM_SIG, ITEM_DOC, |_, call| async move {
        Ok(item(&Args::bind(&call, ITEM_SIG)).into())
    });
    f.register("environ.items", "", ITEMS_DOC, |_, _| async {
        Ok(FnOutput::from(Value::Object(
            env::vars().map(|(k, v)| (k, Value::String(v))).collect(),
        )))
    });
}

/// The default argument, `''` when not given (any value may be passed,
/// `None` among them).
fn default_of(args: &Args) -> Value {
    args.named()
        .get("default")
        .cloned()
        .unwrap_or_else(|| Value::String(String::new()))
}

fn get(args: &Args) -> Value {
    let Some(Value::String(key)) = args.get("key") else {
        return Value::Bool(false);
    };
    env::var(key).map_or_else(|_| default_of(args), Value::String)
}

fn has_value(args: &Args) -> Value {
    let Some(Value::String(key)) = args.get("key") else {
        return Value::Bool(false);
    };
    let Ok(current) = env::var(key) else {
        return Value::Bool(false);
    };
    Value::Bool(match args.get("value") {
        None | Some(Value::Null) => true,
        Some(wanted) => wanted.as_str() == Some(current.as_str()),
    })
}

fn item(args: &Args) -> Value {
    let keys: Vec<String> = match args.get("keys") {
        Some(Value::String(k)) => vec![k.clone()],
        Some(Value::Array(list)) => list.iter().map(super::process::py_str).collect(),
        _ => Vec::new(),
    };
    let default = default_of(args);
    let found: Map<String, Value> = keys
        .into_iter()
        .map(|k| {
            let v = env::var(&k).map_or_else(|_| default.clone(), Value::String);
            (k, v)
        })
        .collect();
    Value::Object(found)
}

const GET_DOC: &str = "Get a single salt process environment variable.\n\nkey\n    String used as the key for environment lookup.\n\ndefault\n    If the key is not found in the environment, return this value.\n    Default: ''\n\nCLI Example:\n\n    brine '*' environ.get foo\n    brine '*' environ.get baz default=False";
const HAS_VALUE_DOC: &str = "Determine whether the key exists in the current salt process\nenvironment dictionary. Optionally compare the current value\nof the environment against the supplied value string.\n\nkey\n    Must be a string. Used as key for environment lookup.\n\nvalue:\n    Optional. If key exists in the environment, compare the\n    current value with this value. Return True if they are equal.\n\nCLI Example:\n\n    brine '*' environ.has_value foo";
const ITEM_DOC: &str = "Get one or more salt process environment variables.\nReturns a dict.\n\nkeys\n    Either a string or a list of strings that will be used as the\n    keys for environment lookup.\n\ndefault\n    If the key is not found in the environment, return this value.\n    Default: ''\n\nCLI Example:\n\n    brine '*' environ.item foo\n    brine '*' environ.item '[foo, baz]' default=None";
const ITEMS_DOC: &str = "Return a dict of the entire environment set for the salt process\n\nCLI Example:\n\n    brine '*' environ.items";

#[cfg(test)]
mod tests {
    use super::*;
    use brine_common::functions::Call;
    use serde_json::json;

    fn bind(sig: &str, args: Vec<Value>, kwargs: Value) -> Args {
        let call = Call {
            fun: "environ.x".into(),
            args,
            kwargs: kwargs.as_object().cloned().unwrap_or_default(),
        };
        Args::bind(&call, sig)
    }

    #[test]
    fn get_reads_the_process_environment_with_salts_defaults() {
        // PATH is set for every test process; the other name is not.
        let path = env::var("PATH").expect("PATH");
        assert_eq!(
            get(&bind(GET_SIG, vec![json!("PATH")], json!({}))),
            json!(path)
        );
        let unset = "BRINE_ENVIRON_TEST_SURELY_UNSET";
        assert_eq!(
            get(&bind(GET_SIG, vec![json!(unset)], json!({}))),
            json!("")
        );
        assert_eq!(
            get(&bind(GET_SIG, vec![json!(unset), json!(false)], json!({}))),
            json!(false)
        );
        assert_eq!(get(&bind(GET_SIG, vec![json!(5)], json!({}))), json!(false));
    }

    #[test]
    fn has_value_and_item_answer_as_salt() {
        let path = env::var("PATH").expect("PATH");
        let unset = "BRINE_ENVIRON_TEST_SURELY_UNSET";
        assert_eq!(
            has_value(&bind(HAS_VALUE_SIG, vec![json!("PATH")], json!({}))),
            json!(true)
        );
        assert_eq!(
            has_value(&bind(
                HAS_VALUE_SIG,
                vec![json!("PATH"), json!("nope")],
                json!({})
            )),
            json!(false)
        );
        assert_eq!(
            has_value(&bind(HAS_VALUE_SIG, vec![json!(unset)], json!({}))),
            json!(false)
        );
        assert_eq!(
            item(&bind(
                ITEM_SIG,
                vec![json!(["PATH", unset])],
                json!({"default": null})
            )),
            json!({"PATH": path, unset: null})
        );
    }
}
