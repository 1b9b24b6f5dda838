//! Salt's `mine` execution module: run the functions named by the minion's
//! `mine_functions` option (or one given on the command line) and keep their
//! results on the master, where any minion can read them with `mine.get`.
//!
//! The master holds the data (`Request::MineSend`, stored only as the
//! sending minion) and answers `mine.get` by matching the target over its
//! cached grains and pillar (`Request::MineGet`).

use std::time::Duration;

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use brine_common::target::TargetType;
use brine_common::truth::salt_is_true;
use brine_common::wire::{Reply, Request};
use serde_json::{Map, Value, json};

use super::MinionCtx;
use super::host::required_str;

/// How long to wait for the master to take or answer a mine request.
const MINE_TIMEOUT: Duration = Duration::from_secs(60);

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "mine.update",
        "clear=False, mine_functions=None",
        UPDATE_DOC,
        |ctx, call| async move { update(&ctx, &call).await },
    );
    f.register(
        "mine.send",
        "name, *args, **kwargs",
        SEND_DOC,
        |ctx, call| async move { send(&ctx, &call).await },
    );
    f.register(
        "mine.get",
        "tgt, fun, tgt_type='glob', exclude_minion=False",
        GET_DOC,
        |ctx, call| async move { get(&ctx, &call).await },
    );
    f.register("mine.delete", "fun", DELETE_DOC, |ctx, call| async move {
        let fun = required_str(&call, 0, "fun")?;
        let request = Request::MineDelete { fun: Some(fun) };
        Ok(json!(ask(&ctx, request).await?.is_some()).into())
    });
    f.register("mine.flush", "", FLUSH_DOC, |ctx, _| async move {
        let request = Request::MineDelete { fun: None };
        Ok(json!(ask(&ctx, request).await?.is_some()).into())
    });
}

/// One entry of `mine_functions`: the function to call and its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct MineFunction {
    pub function: String,
    pub args: Vec<Value>,
    pub kwargs: Map<String, Value>,
    /// `allow_tgt` (and `allow_tgt_type`): only minions this target matches
    /// may read the data with `mine.get`.
    pub allow: Option<(Value, String)>,
}

impl MineFunction {
    /// The data as the master stores it: wrapped with its ACL as Salt's
    /// `wrap_acl_structure` does when `allow_tgt` is set.
    fn stored(allow: Option<(Value, String)>, data: Value) -> Value {
        match allow {
            None => data,
            Some((tgt, tgt_type)) => json!({
                "__data__": data,
                "__allow_tgt__": tgt,
                "__allow_tgt_type__": tgt_type,
            }),
        }
    }
}

/// `allow_tgt`/`allow_tgt_type` from keyword arguments (removed from them).
fn take_allow(kwargs: &mut Map<String, Value>) -> Option<(Value, String)> {
    let tgt = kwargs.remove("allow_tgt")?;
    let tgt_type = kwargs
        .remove("allow_tgt_type")
        .and_then(|t| t.as_str().map(String::from))
        .unwrap_or_else(|| "glob".into());
    Some((tgt, tgt_type))
}

/// Read one `mine_functions` entry as Salt's `parse_function` does: a list
/// of positional arguments where dict items are keyword arguments (and a
/// `mine_function:` item names the function of an alias); a dict alone is
/// keyword arguments; null or an empty list is no arguments.
pub fn parse_entry(alias: &str, data: &Value) -> MineFunction {
    let items: Vec<Value> = match data {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    };
    let mut entry = MineFunction {
        function: alias.to_string(),
        args: Vec::new(),
        kwargs: Map::new(),
        allow: None,
    };
    for item in items {
        match item {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("mine_function", Value::String(f)) => entry.function = f,
                        (_, v) => {
                            entry.kwargs.insert(k, v);
                        }
                    }
                }
            }
            other => entry.args.push(other),
        }
    }
    entry.allow = take_allow(&mut entry.kwargs);
    entry
}

/// Run one mine function; `None` (logged) when it is not available or fails.
async fn run_function(ctx: &MinionCtx, alias: &str, entry: MineFunction) -> Option<Value> {
    let registry = ctx.registry()?;
    if !registry.contains(&entry.function) || entry.function.starts_with("mine.") {
        tracing::warn!(
            "mine function {} ({alias}) is not available",
            entry.function
        );
        return None;
    }
    let call = Call {
        fun: entry.function.clone(),
        args: entry.args,
        kwargs: entry.kwargs,
    };
    let outcome = registry.call(ctx.clone(), call).await;
    if !outcome.success {
        tracing::warn!(
            "mine function {} ({alias}) failed: {}",
            entry.function,
            outcome.ret
        );
        return None;
    }
    Some(outcome.ret)
}

/// Send a request to the master: `Some(reply)`, `None` when there is no
/// master (local mode); an error when it refused or could not be reached.
async fn ask(ctx: &MinionCtx, request: Request) -> Result<Option<Reply>, FnError> {
    let Some(link) = ctx.link.as_ref() else {
        tracing::warn!("no master in local mode: the mine is not available");
        return Ok(None);
    };
    match link.request(request, MINE_TIMEOUT).await {
        Ok(Reply::Refused { reason }) => Err(FnError::Execution(reason)),
        Ok(reply) => Ok(Some(reply)),
        Err(e) => Err(FnError::Execution(format!(
            "cannot reach the master for the mine: {e}"
        ))),
    }
}

/// Salt's `mine.update`: run every `mine_functions` entry and send the results.
pub async fn update(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let clear = call.param(0, "clear").is_some_and(salt_is_true);
    let functions = match call.param(1, "mine_functions") {
        Some(Value::Object(given)) => given.clone(),
        _ => ctx.config.mine_functions.clone(),
    };
    let mut data = Map::new();
    for (alias, spec) in &functions {
        let mut entry = parse_entry(alias, spec);
        let allow = entry.allow.take();
        if let Some(ret) = run_function(ctx, alias, entry).await {
            data.insert(alias.clone(), MineFunction::stored(allow, ret));
        }
    }
    if data.is_empty() && !clear {
        return Ok(Value::Null.into());
    }
    let sent = ask(ctx, Request::MineSend { data, clear }).await?;
    Ok(json!(sent.is_some()).into())
}

/// Salt's `mine.send name [args...] [mine_function=fun] [kwargs...]`.
async fn send(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let name = required_str(call, 0, "name")?;
    let mut kwargs = call.user_kwargs();
    let function = match kwargs.remove("mine_function") {
        Some(Value::String(f)) => f,
        _ => name.clone(),
    };
    let allow = take_allow(&mut kwargs);
    let entry = MineFunction {
        function,
        args: call.args.iter().skip(1).cloned().collect(),
        kwargs,
        allow: None,
    };
    let label = entry.function.clone();
    let Some(ret) = run_function(ctx, &name, entry).await else {
        return Err(FnError::Execution(format!(
            "Function {label} is not available or failed"
        )));
    };
    let mut data = Map::new();
    data.insert(name, MineFunction::stored(allow, ret));
    let sent = ask(ctx, Request::MineSend { data, clear: false }).await?;
    Ok(json!(sent.is_some()).into())
}

/// Salt's `mine.get`: `{minion: data}` from the master's mine.
async fn get(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let tgt = call
        .param(0, "tgt")
        .cloned()
        .ok_or_else(|| FnError::Invocation("missing required argument 'tgt'".into()))?;
    let fun = call
        .param(1, "fun")
        .cloned()
        .ok_or_else(|| FnError::Invocation("missing required argument 'fun'".into()))?;
    let raw_type = call
        .param(2, "tgt_type")
        .and_then(Value::as_str)
        .unwrap_or("glob");
    let exclude_self = call.param(3, "exclude_minion").is_some_and(salt_is_true);
    let tgt_type = match TargetType::parse(raw_type) {
        Ok(tgt_type) => tgt_type,
        // What the master refused it with, before the type was parsed here.
        Err(e) if ctx.link.is_some() => return Err(FnError::Execution(e.to_string())),
        // Masterless, any mine.get finds nothing (see `ask`).
        Err(_) => TargetType::Glob,
    };
    let request = Request::MineGet { tgt, tgt_type, fun };
    let mut found = match ask(ctx, request).await? {
        Some(Reply::Mine(found)) => found,
        _ => Map::new(),
    };
    if exclude_self {
        found.remove(ctx.id.as_str());
    }
    Ok(Value::Object(found).into())
}

const UPDATE_DOC: &str = "Call the configured functions and send the data back up to the master.\nThe functions to be called are merged from the master config, pillar and\nminion config under the option `mine_functions`:\n\n    mine_functions:\n      network.ip_addrs:\n        - eth0\n      disk.usage: []\n\nclear\n    Replace all of this minion's mine data instead of updating it.\n\nCLI Example:\n\n    brine '*' mine.update";
const SEND_DOC: &str = "Send a specific function and its result to the salt mine.\nThis gets stored in either the local cache, or the master's mine.\n\nname\n    Name of the function to add to the mine.\n\nThe following parameters are extracted from kwargs if present:\n\nmine_function\n    The name of the execution_module.function to run and whose value will\n    be stored in the salt mine. Defaults to ``name``.\n\nRemaining args and kwargs will be passed on to the function to run.\n\nCLI Example:\n\n    brine '*' mine.send network.ip_addrs interface=eth0\n    brine '*' mine.send eth0_ip_addrs mine_function=network.ip_addrs interface=eth0";
const GET_DOC: &str = "Get data from the salt mine.\n\ntgt\n    Target whose mine data to get.\n\nfun\n    Function to get the mine data of. You can specify multiple functions\n    to retrieve using either a list or a comma-separated string.\n\ntgt_type\n    Default ``glob``. Target type to use with ``tgt``.\n\nexclude_minion\n    Excludes the current minion from the result set.\n\nCLI Example:\n\n    brine '*' mine.get '*' network.interfaces\n    brine '*' mine.get 'os:Fedora' network.interfaces grain";
const DELETE_DOC: &str = "Remove specific function contents of minion.\n\nReturns True on success.\n\nCLI Example:\n\n    brine '*' mine.delete 'network.interfaces'";
const FLUSH_DOC: &str = "Remove all mine contents of minion.\n\nReturns True on success.\n\nCLI Example:\n\n    brine '*' mine.flush";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_read_as_salt_reads_them() {
        let plain = parse_entry("test.ping", &json!([]));
        assert_eq!(plain.function, "test.ping");
        assert!(plain.args.is_empty() && plain.kwargs.is_empty());
        let kw = parse_entry("network.ip_addrs", &json!({"interface": "eth0"}));
        assert_eq!(kw.kwargs.get("interface"), Some(&json!("eth0")));
        let alias = parse_entry(
            "ip_list",
            &json!([{"mine_function": "grains.get"}, "ipv4", {"delimiter": ":"}]),
        );
        assert_eq!(alias.function, "grains.get");
        assert_eq!(alias.args, vec![json!("ipv4")]);
        assert_eq!(alias.kwargs.get("delimiter"), Some(&json!(":")));
        assert!(parse_entry("x", &Value::Null).args.is_empty());
    }
}
