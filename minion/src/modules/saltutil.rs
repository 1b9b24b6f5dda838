//! Salt's `saltutil` job functions: what is running, and stopping it; and
//! `saltutil.refresh_grains`.

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use brine_common::ids::Jid;
use serde_json::{Value, json};

use super::MinionCtx;

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "saltutil.running",
        "",
        "Return the data on all running salt processes on the minion\n\nCLI Example:\n\n    brine '*' saltutil.running",
        |ctx, _| async move { running(&ctx) },
    );
    f.register(
        "saltutil.find_job",
        "jid",
        "Return the data for a specific job id that is currently running.\n\njid\n    The job id to search for and return data.\n\nCLI Example:\n\n    brine '*' saltutil.find_job <job id>",
        |ctx, call| async move { find_job(&ctx, &call) },
    );
    f.register(
        "saltutil.refresh_grains",
        "**kwargs",
        "Refresh the minion's grains without syncing custom grains modules from\n``salt://_grains``; the new grains are sent to the master.\n\nrefresh_pillar\n    Accepted for compatibility; pillar is refreshed by the master.\n\nCLI Example:\n\n    brine '*' saltutil.refresh_grains",
        |ctx, _| async move {
            super::grains::refresh_grains(&ctx).await;
            Ok(json!(true).into())
        },
    );
    f.register(
        "saltutil.refresh_pillar",
        "wait=False, timeout=30",
        "Signal the minion to refresh the in-memory pillar data: a fresh pillar\nis compiled (by the master, or locally with ``file_client: local``) and\nsent back to the master's targeting cache.\n\nCLI Example:\n\n    brine '*' saltutil.refresh_pillar",
        |ctx, _| async move {
            match super::pillar::refresh_pillar(&ctx).await {
                Ok(()) => Ok(json!(true).into()),
                Err(e) => {
                    tracing::warn!("pillar refresh failed: {e}");
                    Ok(json!(false).into())
                }
            }
        },
    );
    f.register(
        "saltutil.kill_job",
        "jid",
        "Sends a kill signal (SIGKILL 9) to the named salt job's process\n\nCLI Example:\n\n    brine '*' saltutil.kill_job <job id>",
        |ctx, call| async move { kill_job(&ctx, &call) },
    );
}

fn jid_param(call: &Call) -> Result<Jid, FnError> {
    let raw = call
        .param(0, "jid")
        .ok_or_else(|| FnError::Invocation("missing required argument 'jid'".into()))?;
    let text = match raw {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Jid::parse(&text).map_err(|e| FnError::Invocation(e.to_string()))
}

/// Every running job except the one asking.
fn running(ctx: &MinionCtx) -> Result<FnOutput, FnError> {
    let jobs: Vec<Value> = ctx
        .running
        .list()
        .iter()
        .filter(|j| Some(&j.publication.jid) != ctx.jid.as_ref())
        .map(|j| j.describe())
        .collect();
    Ok(Value::Array(jobs).into())
}

/// The job's data if it is running, `{}` if not (Salt's answer).
fn find_job(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let jid = jid_param(call)?;
    Ok(ctx
        .running
        .get(&jid)
        .map(|j| j.describe())
        .unwrap_or_else(|| json!({}))
        .into())
}

fn kill_job(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let jid = jid_param(call)?;
    if ctx.running.kill(&jid) {
        Ok(json!(format!(
            "Signal 9 sent to job {jid} at pid {}",
            std::process::id()
        ))
        .into())
    } else {
        Ok(json!("").into())
    }
}
