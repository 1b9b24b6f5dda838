//! Running one reaction on the master: `local` publishes a job as user
//! `Reactor` (fire and forget, like Salt's `cmd_async`), `runner` calls a
//! runner, `wheel` runs the key commands, `caller` is refused (it belongs to
//! a masterless minion's reactor).

use brine_client::{JobRequest, KeyCommand};
use serde_json::Value;

use super::REACTOR_USER;
use super::actions::{Action, CallArgs, Client};
use crate::daemon::Master;
use crate::jobs::{self, PublishOutcome};

/// Run `action`; `Ok` describes what happened, for the log.
pub async fn execute(master: &Master, action: &Action) -> Result<String, String> {
    let call = action.call_args()?;
    match action.client {
        Client::Local => local(master, action, call).await,
        Client::Runner => runner(master, action, call).await,
        Client::Wheel => wheel(master, action, &call),
        Client::Caller => Err(format!(
            "Reactor '{}': caller.{} runs only in a masterless minion's reactor; it is not \
             supported on a master",
            action.id, action.fun
        )),
    }
}

async fn local(master: &Master, action: &Action, call: CallArgs) -> Result<String, String> {
    let target = action.local_target()?;
    let job = JobRequest {
        tgt: target.tgt.clone(),
        tgt_type: target.tgt_type,
        fun: action.fun.clone(),
        arg: call.arg,
        kwarg: call.kwarg,
        user: REACTOR_USER.into(),
    };
    let (outcome, _) = jobs::publish(master, job, false)
        .await
        .map_err(|e| format!("Reactor '{}': local.{}: {e}", action.id, action.fun))?;
    Ok(match outcome {
        PublishOutcome::Published { jid, minions, .. } => {
            format!(
                "local.{} published as job {jid} to {} minion(s)",
                action.fun,
                minions.len()
            )
        }
        PublishOutcome::NoMinions => {
            format!(
                "local.{}: no minions matched target {}",
                action.fun, target.tgt
            )
        }
    })
}

async fn runner(master: &Master, action: &Action, call: CallArgs) -> Result<String, String> {
    let (ret, retcode) = Box::pin(crate::runners::run(
        master,
        &action.fun,
        call.arg,
        call.kwarg,
    ))
    .await
    .map_err(|e| format!("Reactor '{}': runner.{}: {e}", action.id, action.fun))?;
    if retcode != 0 {
        return Err(format!(
            "Reactor '{}': runner.{} returned {retcode}: {ret}",
            action.id, action.fun
        ));
    }
    Ok(format!("runner.{} returned {ret}", action.fun))
}

fn wheel(master: &Master, action: &Action, call: &CallArgs) -> Result<String, String> {
    let fail = |msg: String| format!("Reactor '{}': wheel.{}: {msg}", action.id, action.fun);
    let patterns = match_patterns(call).map_err(fail)?;
    let flag = |name: &str| {
        call.kwarg
            .get(name)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let mut done = Vec::new();
    for pattern in patterns {
        let command = match action.fun.as_str() {
            "key.accept" => KeyCommand::Accept {
                pattern,
                include_rejected: flag("include_rejected"),
                include_denied: flag("include_denied"),
            },
            "key.reject" => KeyCommand::Reject {
                pattern,
                include_accepted: flag("include_accepted"),
                include_denied: flag("include_denied"),
            },
            "key.delete" => KeyCommand::Delete { pattern },
            other => {
                return Err(fail(format!(
                    "'{other}' is not available (the reactor runs key.accept, key.reject and \
                     key.delete)"
                )));
            }
        };
        let reply = master
            .key_command(&command)
            .map_err(|e| fail(e.to_string()))?;
        done.push(format!("{reply:?}"));
    }
    Ok(format!("wheel.{}: {}", action.fun, done.join(", ")))
}

/// `match:` as one glob or a list of them (Salt's wheel takes both).
fn match_patterns(call: &CallArgs) -> Result<Vec<String>, String> {
    let raw = call
        .kwarg
        .get("match")
        .or_else(|| call.arg.first())
        .ok_or("missing argument: match")?;
    match raw {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or("match: ids must be strings")
            })
            .collect::<Result<_, _>>()
            .map_err(str::to_string),
        other => Err(format!(
            "match must be a glob or a list of ids, not {other}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    fn call(kwarg: Value) -> CallArgs {
        CallArgs {
            arg: Vec::new(),
            kwarg: kwarg.as_object().cloned().unwrap_or_else(Map::new),
        }
    }

    #[test]
    fn wheel_match_forms() {
        assert_eq!(
            match_patterns(&call(json!({"match": "m*"}))),
            Ok(vec!["m*".into()])
        );
        assert_eq!(
            match_patterns(&call(json!({"match": ["a", "b"]}))),
            Ok(vec!["a".into(), "b".into()])
        );
        assert!(match_patterns(&call(json!({}))).is_err());
        assert!(match_patterns(&call(json!({"match": 3}))).is_err());
    }
}
