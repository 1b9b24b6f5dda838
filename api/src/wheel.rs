//! The `wheel` client: the key functions Salt's wheel offers, done with the
//! master's key commands. Results are shaped as Salt's wheel returns them
//! through the API (`{"tag", "data": {"fun", "return", "success"}}`).

use brine_client::KeyCommand;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult};
use crate::master::MasterLink;

pub async fn call(
    master: &MasterLink,
    fun: &str,
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> ApiResult<Value> {
    let cmd = key_command(fun, args, kwargs)?;
    let ret = master.keys(cmd).await?;
    Ok(json!({
        "tag": format!("salt/wheel/{fun}"),
        "data": {"fun": format!("wheel.{fun}"), "return": ret, "success": true},
    }))
}

fn key_command(fun: &str, args: &[Value], kwargs: &Map<String, Value>) -> ApiResult<KeyCommand> {
    let pattern = || -> ApiResult<String> {
        args.first()
            .or_else(|| kwargs.get("match"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ApiError::field("match", "is required (a minion id glob)"))
    };
    Ok(match fun {
        "key.list_all" => KeyCommand::List,
        "key.accept" => KeyCommand::Accept {
            pattern: pattern()?,
            include_rejected: flag(kwargs, "include_rejected"),
            include_denied: flag(kwargs, "include_denied"),
        },
        "key.reject" => KeyCommand::Reject {
            pattern: pattern()?,
            include_accepted: flag(kwargs, "include_accepted"),
            include_denied: flag(kwargs, "include_denied"),
        },
        "key.delete" => KeyCommand::Delete {
            pattern: pattern()?,
        },
        "key.finger" => KeyCommand::Fingerprints {
            pattern: pattern()?,
        },
        other => {
            return Err(ApiError::field(
                "fun",
                &format!(
                    "wheel function '{other}' is not supported (key.list_all, key.accept, key.reject, key.delete, key.finger)"
                ),
            ));
        }
    })
}

fn flag(kwargs: &Map<String, Value>, key: &str) -> bool {
    kwargs.get(key).and_then(Value::as_bool).unwrap_or(false)
}
