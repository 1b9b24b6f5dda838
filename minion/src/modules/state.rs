//! Salt's `state` execution module: `state.apply` (highstate without
//! arguments, else SLS names), `state.highstate`, `state.sls`,
//! `state.sls_id`, `state.single`, `state.test`, the `show_*` functions and
//! `state.running`.
//!
//! Keyword arguments: `test=True`, `pillar={...}` (merged over the minion's
//! pillar for this run), `saltenv`, `queue=True` (wait for a running state
//! run instead of refusing). One state run at a time per minion process. A
//! failed state gives retcode 2 (Salt's `EX_STATE_FAILURE`), a compile error
//! retcode 1 with the errors as a list. The run itself happens on a blocking
//! thread (`spawn_blocking`), checking the job's kill flag between states.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use brine_common::truth::affirmative;
use brine_states::compile::{self, CompileError, Lowstate};
use brine_states::host::StateHost;
use brine_states::lowstate::StateModules;
use brine_states::runtime::{self, RunOptions, StateEvents};
use serde_json::{Map, Value, json};

use super::MinionCtx;
use crate::state_host::MinionStateHost;

/// Salt's `EX_STATE_FAILURE`.
pub const EX_STATE_FAILURE: i32 = 2;
/// Salt's `EX_STATE_COMPILER_ERROR`.
pub const EX_STATE_COMPILER_ERROR: i32 = 1;
/// Salt's `EX_PILLAR_FAILURE`.
pub const EX_PILLAR_FAILURE: i32 = 5;

/// The functions whose return is a state run (the CLIs print them with the `highstate` outputter).
pub use brine_states::output::RUN_FUNCTIONS;

/// The state run in progress in this process, for the conflict message and `state.running`.
#[derive(Clone)]
struct Active {
    fun: String,
    jid: String,
    started: String,
}

static ACTIVE: Mutex<Option<Active>> = Mutex::new(None);

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "state.apply",
        "mods=None, **kwargs",
        APPLY_DOC,
        |ctx, call| async move {
            let what = sls_or_highstate(&call);
            run_job(ctx, call, what).await
        },
    );
    f.register(
        "state.highstate",
        "test=None, queue=False, **kwargs",
        HIGHSTATE_DOC,
        |ctx, call| async move { run_job(ctx, call, What::Highstate).await },
    );
    f.register(
        "state.sls",
        "mods, test=None, exclude=None, queue=False, **kwargs",
        SLS_DOC,
        |ctx, call| async move {
            let mods = mods_of(&call, 0);
            run_job(ctx, call, What::Sls(mods)).await
        },
    );
    f.register(
        "state.sls_id",
        "id_, mods, test=None, queue=False, **kwargs",
        SLS_ID_DOC,
        |ctx, call| async move {
            let id = str_param(&call, 0, "id_")?;
            let mods = mods_of(&call, 1);
            run_job(ctx, call, What::SlsId(id, mods)).await
        },
    );
    f.register(
        "state.single",
        "fun, name, test=None, queue=False, **kwargs",
        SINGLE_DOC,
        |ctx, call| async move {
            let fun = str_param(&call, 0, "fun")?;
            let name = str_param(&call, 1, "name")?;
            run_job(ctx, call, What::Single(fun, name)).await
        },
    );
    f.register(
        "state.test",
        "*args, **kwargs",
        TEST_DOC,
        |ctx, mut call| async move {
            call.kwargs.insert("test".into(), json!(true));
            let what = sls_or_highstate(&call);
            run_job(ctx, call, what).await
        },
    );
    f.register(
        "state.show_sls",
        "mods, test=None, queue=False, **kwargs",
        SHOW_SLS_DOC,
        |ctx, call| async move {
            let mods = mods_of(&call, 0);
            show(ctx, call, Show::Sls(mods)).await
        },
    );
    f.register(
        "state.show_highstate",
        "queue=False, **kwargs",
        SHOW_HIGHSTATE_DOC,
        |ctx, call| async move { show(ctx, call, Show::Highstate).await },
    );
    f.register(
        "state.show_lowstate",
        "queue=False, **kwargs",
        SHOW_LOWSTATE_DOC,
        |ctx, call| async move { show(ctx, call, Show::Lowstate).await },
    );
    f.register(
        "state.show_low_sls",
        "mods, test=None, queue=False, **kwargs",
        SHOW_LOW_SLS_DOC,
        |ctx, call| async move {
            let mods = mods_of(&call, 0);
            show(ctx, call, Show::LowSls(mods)).await
        },
    );
    f.register(
        "state.show_states",
        "queue=None, **kwargs",
        SHOW_STATES_DOC,
        |ctx, call| async move { show(ctx, call, Show::States).await },
    );
    f.register(
        "state.show_top",
        "queue=False, **kwargs",
        SHOW_TOP_DOC,
        |ctx, call| async move { show(ctx, call, Show::Top).await },
    );
    f.register(
        "state.running",
        "concurrent=False",
        RUNNING_DOC,
        |_, _| async {
            Ok(json!(
                running_message("state.running")
                    .into_iter()
                    .collect::<Vec<_>>()
            )
            .into())
        },
    );
}

const APPLY_DOC: &str = "Apply states: without arguments the highstate (top.sls), else the SLS names given (comma separated or a list).\n\nCLI Example:\n\n    brine '*' state.apply\n    brine '*' state.apply stuff,pkgs test=True";
const HIGHSTATE_DOC: &str = "Apply the states the top file assigns to this minion.\n\nCLI Example:\n\n    brine '*' state.highstate";
const SLS_DOC: &str = "Apply the SLS files named.\n\nCLI Example:\n\n    brine '*' state.sls core,edit.vim pillar='{\"foo\": \"bar\"}'";
const SLS_ID_DOC: &str = "Apply one state id from the SLS files named.\n\nCLI Example:\n\n    brine '*' state.sls_id my_state my_module";
const SINGLE_DOC: &str = "Apply a single state function.\n\nCLI Example:\n\n    brine '*' state.single pkg.installed name=vim";
const TEST_DOC: &str = "state.apply with test=True.\n\nCLI Example:\n\n    brine '*' state.test";
const SHOW_SLS_DOC: &str = "The high data of the SLS files named.\n\nCLI Example:\n\n    brine '*' state.show_sls core,edit.vim";
const SHOW_HIGHSTATE_DOC: &str =
    "The high data of the highstate.\n\nCLI Example:\n\n    brine '*' state.show_highstate";
const SHOW_LOWSTATE_DOC: &str = "The low chunks of the highstate, in run order.\n\nCLI Example:\n\n    brine '*' state.show_lowstate";
const SHOW_LOW_SLS_DOC: &str = "The low chunks of the SLS files named.\n\nCLI Example:\n\n    brine '*' state.show_low_sls foo";
const SHOW_STATES_DOC: &str = "Returns the list of states that will be applied on highstate.\n\nCLI Example:\n\n    brine '*' state.show_states";
const SHOW_TOP_DOC: &str = "The SLS names the top file assigns to this minion.\n\nCLI Example:\n\n    brine '*' state.show_top";
const RUNNING_DOC: &str = "The state run in progress on the minion, if any.\n\nCLI Example:\n\n    brine '*' state.running";

/// What a run applies.
enum What {
    Highstate,
    Sls(Vec<String>),
    SlsId(String, Vec<String>),
    Single(String, String),
}

enum Show {
    Sls(Vec<String>),
    Highstate,
    Lowstate,
    LowSls(Vec<String>),
    Top,
    /// The SLS names a highstate applies, in run order.
    States,
}

fn str_param(call: &Call, index: usize, name: &str) -> Result<String, FnError> {
    match call.param(index, name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Null) | None => Err(FnError::Invocation(format!(
            "missing required argument '{name}'"
        ))),
        Some(other) => Ok(brine_common::output::python::to_str(other)),
    }
}

/// SLS names from a comma-separated string or a list.
/// `state.apply`/`state.test`: the SLS files given, or the highstate.
fn sls_or_highstate(call: &Call) -> What {
    let mods = mods_of(call, 0);
    if mods.is_empty() {
        What::Highstate
    } else {
        What::Sls(mods)
    }
}

fn mods_of(call: &Call, index: usize) -> Vec<String> {
    let value = call.param(index, "mods");
    let raw: Vec<String> = match value {
        Some(Value::String(s)) => s.split(',').map(str::to_string).collect(),
        Some(Value::Array(a)) => a.iter().map(brine_common::output::python::to_str).collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![brine_common::output::python::to_str(other)],
    };
    raw.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Salt's conflict message when a state run is already going.
fn running_message(_asking: &str) -> Option<String> {
    let active = ACTIVE.lock().unwrap_or_else(|p| p.into_inner()).clone()?;
    Some(format!(
        "The function \"{}\" is running as PID {} and was started at {} with jid {}",
        active.fun,
        std::process::id(),
        active.started,
        active.jid
    ))
}

/// Holds the one-run-at-a-time slot; frees it when dropped.
struct Slot;

impl Drop for Slot {
    fn drop(&mut self) {
        *ACTIVE.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// Take the run slot, waiting if `queue` is set; else Salt's conflict message.
async fn take_slot(fun: &str, jid: &str, queue: bool) -> Result<Slot, String> {
    loop {
        {
            let mut active = ACTIVE.lock().unwrap_or_else(|p| p.into_inner());
            if active.is_none() {
                let now = brine_common::local_time::now();
                *active = Some(Active {
                    fun: fun.to_string(),
                    jid: jid.to_string(),
                    started: now.strftime("%Y, %b %d %H:%M:%S%.6f").to_string(),
                });
                return Ok(Slot);
            }
        }
        if !queue {
            return Err(running_message(fun).unwrap_or_default());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The pillar for this run: the minion's, with `pillar=` merged over it.
fn run_pillar(ctx: &MinionCtx, call: &Call) -> Result<Map<String, Value>, FnError> {
    let mut pillar = ctx.pillar();
    let over = match call.kwargs.get("pillar") {
        None | Some(Value::Null) => return Ok(pillar),
        Some(Value::Object(o)) => o.clone(),
        Some(Value::String(s)) => match brine_common::yaml::load(s, "<pillar>") {
            Ok(Value::Object(o)) => o,
            _ => {
                return Err(FnError::Invocation(
                    "Pillar data must be formatted as a dictionary".into(),
                ));
            }
        },
        Some(_) => {
            return Err(FnError::Invocation(
                "Pillar data must be formatted as a dictionary".into(),
            ));
        }
    };
    merge(&mut pillar, over);
    Ok(pillar)
}

fn merge(base: &mut Map<String, Value>, over: Map<String, Value>) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(Value::Object(b)), Value::Object(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn saltenv_of(call: &Call) -> Option<String> {
    call.kwargs
        .get("saltenv")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A host for this call, built on the async side (it captures the runtime handle).
fn host_for(ctx: &MinionCtx, call: &Call) -> Result<Arc<MinionStateHost>, FnError> {
    let functions = ctx
        .registry()
        .ok_or_else(|| FnError::Execution("the function registry is gone".into()))?;
    let pillar = run_pillar(ctx, call)?;
    Ok(MinionStateHost::new(
        ctx.clone(),
        functions,
        tokio::runtime::Handle::current(),
        pillar,
    ))
}

/// Why a state run did not start: Salt's compiler errors (returned as a
/// list) or an error the function raises.
enum NotRun {
    Compile(CompileError),
    Call(FnError),
}

impl From<CompileError> for NotRun {
    fn from(e: CompileError) -> Self {
        NotRun::Compile(e)
    }
}

impl From<FnError> for NotRun {
    fn from(e: FnError) -> Self {
        NotRun::Call(e)
    }
}

/// Compile what a run applies.
fn compile_what(
    host: &dyn StateHost,
    what: &What,
    saltenv: Option<&str>,
) -> Result<Option<Lowstate>, NotRun> {
    let env = saltenv.unwrap_or("base");
    let high = match what {
        What::Highstate => {
            let high = compile::high_from_top(host, saltenv)?;
            if high.is_empty() {
                return Ok(None);
            }
            high
        }
        What::Sls(mods) => compile::high_from_sls(host, env, mods)?,
        What::SlsId(_, mods) => compile::high_from_sls(host, env, mods)?,
        What::Single(fun, name) => {
            let kwargs: Map<String, Value> = Map::new();
            compile::high_from_single(fun, name, &kwargs)?
        }
    };
    let low = match what {
        What::SlsId(id, mods) => compile::compile_id(high, id)?.ok_or_else(|| {
            FnError::Invocation(format!(
                "No matches for ID '{id}' found in SLS '{}' within saltenv '{env}'",
                mods.join(",")
            ))
        })?,
        _ => compile::compile(high)?,
    };
    Ok(Some(low))
}

/// The result when nothing in the top file matches (Salt's `no_|-states_|-states_|-None`).
fn no_states() -> Value {
    json!({"no_|-states_|-states_|-None": {
        "result": false,
        "comment": compile::top::NO_TOP_MATCH,
        "name": "No States",
        "changes": {},
        "__run_num__": 0,
    }})
}

async fn run_job(ctx: MinionCtx, call: Call, what: What) -> Result<FnOutput, FnError> {
    let jid = call
        .kwargs
        .get("__pub_jid")
        .map(brine_common::output::python::to_str)
        .or_else(|| ctx.jid.as_ref().map(|j| j.to_string()))
        .unwrap_or_default();
    let queue = call.kwargs.get("queue").is_some_and(affirmative);
    let slot = match take_slot(&call.fun, &jid, queue).await {
        Ok(slot) => slot,
        Err(msg) => {
            return Ok(FnOutput {
                ret: json!([msg]),
                retcode: EX_STATE_COMPILER_ERROR,
            });
        }
    };
    super::pillar::loaded_pillar(&ctx).await;
    if let Some(refused) = pillar_errors(&ctx, &call) {
        return Ok(refused);
    }
    let host = host_for(&ctx, &call)?;
    let test = match call.kwargs.get("test") {
        Some(v) => affirmative(v),
        None => host.opts().get("test").is_some_and(affirmative),
    };
    let failhard = host.opts().get("failhard").is_some_and(affirmative);
    let saltenv = saltenv_of(&call);
    let single_kwargs = call.user_kwargs();
    // saltutil.kill_job raises this; the run stops between states.
    let kill = match &ctx.jid {
        Some(jid) => ctx.running.kill_flag(jid),
        None => Arc::new(AtomicBool::new(false)),
    };
    let fire = result_event_sender(&ctx);
    let minion_id = ctx.id.to_string();
    let job = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let events = (ctx.link.is_some() && !jid.is_empty()).then_some(StateEvents {
            jid: &jid,
            minion_id: &minion_id,
            progress: ctx.config.state_events,
            fire: &fire,
        });
        let modules = brine_states::modules::registry();
        let what = match what {
            What::Single(fun, name) => {
                return Ok(run_single(
                    &*host,
                    &modules,
                    &fun,
                    &name,
                    &single_kwargs,
                    test,
                ));
            }
            other => other,
        };
        let low = match compile_what(&*host, &what, saltenv.as_deref()) {
            Ok(Some(low)) => low,
            Ok(None) => return Ok((no_states(), EX_STATE_FAILURE)),
            Err(NotRun::Compile(e)) => return Ok((json!(e.errors), EX_STATE_COMPILER_ERROR)),
            Err(NotRun::Call(e)) => return Err(e),
        };
        Ok(run_low(
            &*host, &modules, &low, test, failhard, &kill, events,
        ))
    });
    let (ret, retcode) = job
        .await
        .map_err(|e| FnError::Exception(format!("the state run stopped: {e}")))??;
    Ok(FnOutput { ret, retcode })
}

/// How a state run on a blocking thread sends `fire_event` results to the
/// master: a refused or undeliverable event is logged, never fatal.
fn result_event_sender(ctx: &MinionCtx) -> impl Fn(&str, Value) + Sync + use<> {
    let ctx = ctx.clone();
    let handle = tokio::runtime::Handle::current();
    move |tag: &str, data: Value| match handle
        .block_on(super::event::fire_master(&ctx, data, tag, None))
    {
        Ok(true) => {}
        Ok(false) => tracing::warn!(%tag, "the state result event did not reach the master"),
        Err(e) => tracing::warn!(%tag, "the state result event was refused: {e}"),
    }
}

fn run_low(
    host: &dyn StateHost,
    modules: &StateModules,
    low: &Lowstate,
    test: bool,
    failhard: bool,
    kill: &AtomicBool,
    events: Option<StateEvents<'_>>,
) -> (Value, i32) {
    // A state function that does not exist fails its state in the run (its
    // comment says why), and, as Salt's salt-call does, the run exits with
    // the compiler error's code.
    let missing = !runtime::missing_functions(low, modules).is_empty();
    let opts = RunOptions {
        test,
        failhard,
        kill: Some(kill),
        events,
    };
    let out = runtime::run(host, modules, low, &opts);
    let failed = out
        .values()
        .any(|r| r.get("result") == Some(&Value::Bool(false)));
    (
        Value::Object(out),
        if missing {
            EX_STATE_COMPILER_ERROR
        } else if failed {
            EX_STATE_FAILURE
        } else {
            0
        },
    )
}

fn run_single(
    host: &dyn StateHost,
    modules: &StateModules,
    fun: &str,
    name: &str,
    kwargs: &Map<String, Value>,
    test: bool,
) -> (Value, i32) {
    let args: Map<String, Value> = kwargs
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "test" | "queue" | "pillar" | "saltenv" | "fun" | "name"
            )
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let low = compile::high_from_single(fun, name, &args).and_then(compile::compile);
    match low {
        Ok(low) => run_low(
            host,
            modules,
            &low,
            test,
            false,
            &AtomicBool::new(false),
            None,
        ),
        Err(e) => (json!(e.errors), EX_STATE_COMPILER_ERROR),
    }
}

/// The pillar's render errors, unless the call says `force=True` (Salt's
/// `_get_pillar_errors`).
fn failed_pillar(ctx: &MinionCtx, call: &Call) -> Option<Vec<String>> {
    if call.kwargs.get("force").is_some_and(affirmative) {
        return None;
    }
    let errors = brine_pillar::errors_of(&ctx.pillar());
    (!errors.is_empty()).then_some(errors)
}

/// Salt's refusal to run states with a pillar that failed to render
/// (unless `force=True`).
fn pillar_errors(ctx: &MinionCtx, call: &Call) -> Option<FnOutput> {
    let errors = failed_pillar(ctx, call)?;
    let mut lines = vec![Value::String(brine_pillar::PILLAR_FAILED.to_owned())];
    lines.extend(errors.into_iter().map(Value::String));
    Some(FnOutput {
        ret: Value::Array(lines),
        retcode: EX_PILLAR_FAILURE,
    })
}

/// The `show_*` functions' refusal of a pillar that failed to render (unless
/// `force=True`): a `CommandExecutionError` with the errors as its info,
/// where the running functions return them (see [`pillar_errors`]).
fn refuse_failed_pillar(ctx: &MinionCtx, call: &Call) -> Result<(), FnError> {
    let Some(errors) = failed_pillar(ctx, call) else {
        return Ok(());
    };
    let info = Value::Array(errors.into_iter().map(Value::String).collect());
    Err(FnError::execution_with_info(
        "Pillar failed to render",
        &info,
    ))
}

async fn show(ctx: MinionCtx, call: Call, what: Show) -> Result<FnOutput, FnError> {
    super::pillar::loaded_pillar(&ctx).await;
    refuse_failed_pillar(&ctx, &call)?;
    let host = host_for(&ctx, &call)?;
    let saltenv = saltenv_of(&call);
    let job = tokio::task::spawn_blocking(move || show_blocking(&*host, &what, saltenv.as_deref()));
    let result = job
        .await
        .map_err(|e| FnError::Exception(format!("the state compile stopped: {e}")))?;
    Ok(match result {
        Ok(v) => v.into(),
        Err(e) => FnOutput {
            ret: json!(e.errors),
            retcode: EX_STATE_COMPILER_ERROR,
        },
    })
}

/// What Salt's `show_*` functions return: `show_sls` and `show_highstate`
/// the raw high data (`__extend__`/`__exclude__` unapplied; `show_sls` with
/// Salt's structure checks), `show_low_sls` the chunks of that raw data,
/// `show_lowstate` the chunks of the prepared highstate.
fn show_blocking(
    host: &dyn StateHost,
    what: &Show,
    saltenv: Option<&str>,
) -> Result<Value, CompileError> {
    let env = saltenv.unwrap_or("base");
    Ok(match what {
        Show::Sls(mods) => {
            let (high, mut errors) = compile::render_sls(host, env, mods);
            errors.extend(compile::verify::verify_high(&high));
            checked(errors)?;
            Value::Object(high)
        }
        Show::Highstate => Value::Object(compile::high_from_top(host, saltenv)?),
        Show::Lowstate => {
            let high = compile::high_from_top(host, saltenv)?;
            salt_chunks(compile::order(compile::prepare(high)?)?)
        }
        Show::States => {
            let high = compile::high_from_top(host, saltenv)?;
            let chunks = compile::order(compile::prepare(high)?)?.into_salt_chunks();
            let mut names: Vec<Value> = Vec::new();
            for sls in chunks.into_iter().filter_map(|mut c| c.remove("__sls__")) {
                if !names.contains(&sls) {
                    names.push(sls);
                }
            }
            Value::Array(names)
        }
        Show::LowSls(mods) => {
            let (high, mut errors) = compile::render_sls(host, env, mods);
            errors.extend(compile::verify::verify_high(&high));
            checked(errors)?;
            salt_chunks(compile::order(high)?)
        }
        Show::Top => {
            serde_json::to_value(compile::top::matches(host, saltenv)?).unwrap_or(Value::Null)
        }
    })
}

fn checked(errors: Vec<String>) -> Result<(), CompileError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CompileError::new(errors))
    }
}

/// Salt's lowstate list (prereq check chunks included, as Salt lists them).
fn salt_chunks(ordered: compile::order::Ordered) -> Value {
    Value::Array(
        ordered
            .into_salt_chunks()
            .into_iter()
            .map(Value::Object)
            .collect(),
    )
}
