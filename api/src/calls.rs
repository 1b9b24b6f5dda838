//! Lowstate chunks turned into permitted calls, then run. Every chunk of a
//! request is parsed and authorised before the first one runs, so a request
//! with one forbidden chunk reaches no minion at all.

use std::collections::{BTreeSet, HashMap};

use brine_client::JobRequest;
use brine_common::target::{Target, TargetError, TargetType, expand_nodegroups, restrict_to_ids};
use brine_common::typed_key::spell_keys;
use brine_common::wire::TargetSpec;
use serde_json::{Map, Value};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::lowstate::{Chunk, Client};
use crate::master::targeted;
use crate::tokens::Session;
use crate::wheel;
use brine_common::perms::{CallArgs, Form, permitted_by_id};

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
            authorize_master(session, Form::Runner, &chunk)?;
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
            authorize_master(session, Form::Wheel, &chunk)?;
            Ok(Call::Wheel {
                fun: chunk.fun,
                args: chunk.arg,
                kwargs: chunk.kwarg,
            })
        }
    }
}

fn authorize_master(session: &Session, form: Form, chunk: &Chunk) -> ApiResult<()> {
    let fun = &chunk.fun;
    if session.perms.allows_master(form, fun, call_args(chunk)) {
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
        tgt_type: chunk.tgt_type,
    };
    let target = Target::compile_with_nodegroups(&spec, &state.nodegroups)
        .map_err(|e| ApiError::field("tgt", &e.to_string()))?;
    let known = state.master.accepted_minions().await?;
    let (matched, published) = if target.is_id_only() {
        (targeted(&target, &known), spec)
    } else {
        narrowed_to_matches(state, &spec).await?
    };
    let by_data = permitted_by_data(state, session, &chunk).await?;
    let permitted = |expr: &str| {
        permitted_by_id(expr, &known, &state.nodegroups).or_else(|| by_data.get(expr).cloned())
    };
    if !session
        .perms
        .allows_local(&chunk.fun, call_args(&chunk), &matched, &permitted)
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
            tgt: published.tgt,
            tgt_type: published.tgt_type,
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

/// The minions each grain, pillar or address expression in the user's
/// permissions covers, by the master's data cache (as Salt's `auth_check`
/// reads its cache).
async fn permitted_by_data(
    state: &AppState,
    session: &Session,
    chunk: &Chunk,
) -> ApiResult<HashMap<String, BTreeSet<String>>> {
    let mut covered = HashMap::new();
    for expr in session
        .perms
        .data_targets(&chunk.fun, call_args(chunk), &state.nodegroups)
    {
        let spec = TargetSpec {
            tgt: Value::String(expr.clone()),
            tgt_type: TargetType::Compound,
        };
        let minions = state.master.matching_minions(&spec).await?;
        covered.insert(expr, minions.into_iter().collect());
    }
    Ok(covered)
}

/// A grain, pillar or address target: the master says which minions its
/// data cache matches, permissions are checked on those, and the job is
/// published narrowed to them — so a minion whose cached grains were stale
/// cannot run a job its user was never permitted on it.
async fn narrowed_to_matches(
    state: &AppState,
    spec: &TargetSpec,
) -> ApiResult<(BTreeSet<String>, TargetSpec)> {
    let bad_target = |e: TargetError| ApiError::field("tgt", &e.to_string());
    let expanded = expand_nodegroups(spec, &state.nodegroups).map_err(bad_target)?;
    let matched = state.master.matching_minions(&expanded).await?;
    let narrowed = restrict_to_ids(&expanded, &matched).map_err(bad_target)?;
    Ok((matched.into_iter().collect(), narrowed))
}

fn call_args(chunk: &Chunk) -> CallArgs<'_> {
    CallArgs {
        args: &chunk.arg,
        kwargs: &chunk.kwarg,
    }
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
        // A `None` or bool key in a return (a marker in our maps) leaves as
        // salt-api's `json.dumps` spells it.
        let result = execute(state, call).await?;
        results.push(spell_keys(&result).into_owned());
    }
    Ok(results)
}
