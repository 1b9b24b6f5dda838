//! Lowstate chunks turned into permitted calls, then run. Every chunk of a
//! request is parsed and authorised before the first one runs, so a request
//! with one forbidden chunk reaches no minion at all.

use brine_common::target::Target;
use brine_common::wire::TargetSpec;
use brine_master::client::JobRequest;
use serde_json::{Map, Value};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::lowstate::{Chunk, Client};
use crate::master::targeted;
use crate::perms::Form;
use crate::tokens::Session;
use crate::wheel;

/// A call that passed the permission check.
#[derive(Debug)]
pub enum Call {
    Local {
        job: JobRequest,
        timeout: Option<f64>,
        wait: bool,
    },
    Runner {
        fun: String,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    },
    Wheel {
        fun: String,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    },
}

/// Check a chunk against the session's permissions.
pub async fn authorize(state: &AppState, session: &Session, chunk: Chunk) -> ApiResult<Call> {
    match chunk.client {
        Client::Local | Client::LocalAsync => authorize_local(state, session, chunk).await,
        Client::Runner => {
            authorize_master(session, Form::Runner, &chunk.fun)?;
            if chunk.fun == "state.event" {
                return Err(ApiError::field(
                    "fun",
                    "state.event streams; use GET /events instead",
                ));
            }
            Ok(Call::Runner {
                fun: chunk.fun,
                args: chunk.arg,
                kwargs: chunk.kwarg,
            })
        }
        Client::Wheel => {
            authorize_master(session, Form::Wheel, &chunk.fun)?;
            Ok(Call::Wheel {
                fun: chunk.fun,
                args: chunk.arg,
                kwargs: chunk.kwarg,
            })
        }
    }
}

fn authorize_master(session: &Session, form: Form, fun: &str) -> ApiResult<()> {
    if session.perms.allows_master(form, fun) {
        return Ok(());
    }
    Err(ApiError::Forbidden(format!(
        "user '{}' may not run {} function '{fun}'",
        session.user,
        form.name()
    )))
}

async fn authorize_local(state: &AppState, session: &Session, chunk: Chunk) -> ApiResult<Call> {
    let spec = TargetSpec {
        tgt: chunk.tgt.clone(),
        tgt_type: chunk.tgt_type.clone(),
    };
    let target = Target::compile_with_nodegroups(&spec, &state.nodegroups)
        .map_err(|e| ApiError::field("tgt", &e.to_string()))?;
    if !target.is_id_only() {
        return Err(ApiError::Forbidden(format!(
            "target type '{}' depends on grains, pillar or addresses, which external_auth cannot check yet; use a glob, list, pcre or id-only compound target",
            chunk.tgt_type
        )));
    }
    let known = state.master.accepted_minions().await?;
    let matched = targeted(&target, &known);
    if !session
        .perms
        .allows_local(&chunk.fun, &matched, &known, &state.nodegroups)
    {
        return Err(ApiError::Forbidden(format!(
            "user '{}' may not run '{}' on target '{}' ({} matching minion(s))",
            session.user,
            chunk.fun,
            display_tgt(&chunk.tgt),
            matched.len()
        )));
    }
    Ok(Call::Local {
        job: JobRequest {
            tgt: chunk.tgt,
            tgt_type: chunk.tgt_type,
            fun: chunk.fun,
            arg: chunk.arg,
            kwarg: chunk.kwarg,
            // Recorded under the eauth login, as salt-api does; the master
            // only honours this from its own user.
            user: session.user.clone(),
        },
        timeout: chunk.timeout,
        wait: chunk.client == Client::Local,
    })
}

fn display_tgt(tgt: &Value) -> String {
    match tgt {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub async fn execute(state: &AppState, call: Call) -> ApiResult<Value> {
    match call {
        Call::Local {
            job,
            timeout,
            wait: true,
        } => state.master.run_local(job, timeout).await,
        Call::Local { job, .. } => state.master.run_async(job).await,
        Call::Runner { fun, args, kwargs } => state.master.runner(&fun, args, kwargs).await,
        Call::Wheel { fun, args, kwargs } => wheel::call(&state.master, &fun, &args, &kwargs).await,
    }
}

/// Authorise every chunk, then run them in order: `{"return": [...]}` items.
pub async fn run_all(
    state: &AppState,
    session: &Session,
    chunks: Vec<Chunk>,
) -> ApiResult<Vec<Value>> {
    let mut calls = Vec::with_capacity(chunks.len());
    for chunk in chunks {
        calls.push(authorize(state, session, chunk).await?);
    }
    let mut results = Vec::with_capacity(calls.len());
    for call in calls {
        results.push(execute(state, call).await?);
    }
    Ok(results)
}
