//! Salt's `schedule` execution module: list and change the minion's job
//! schedule at run time (`schedule.list`, `add`, `modify`, `delete`,
//! `enable`, `disable`, `enable_job`, `disable_job`, `run_job`, `save`).
//! Changes apply to the running scheduler at once and last until the minion
//! restarts, unless `schedule.save` writes the minion's own jobs (not the
//! pillar's) to `minion.d/_schedule.conf`, which the next start reads.

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use serde_json::{Map, Value, json};

use super::MinionCtx;
use super::beacons::yaml_or_value;
use crate::schedule::{JobSpec, ScheduleStore};
use brine_common::output::python::truthy;

/// Keys `schedule.add`/`modify` take as the job's own (the rest of the
/// keyword arguments are Salt's bookkeeping and ignored).
const JOB_KEYS: &[&str] = &[
    "function",
    "args",
    "job_args",
    "kwargs",
    "job_kwargs",
    "seconds",
    "minutes",
    "hours",
    "days",
    "splay",
    "once",
    "once_fmt",
    "maxrunning",
    "run_on_start",
    "enabled",
    "return_job",
    "cron",
    "jid_include",
];

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "schedule.list",
        "show_all=False, show_disabled=True, where=None, return_yaml=True",
        "List the jobs currently scheduled on the minion.",
        |ctx, call| async move { Ok(list(&ctx, &call).into()) },
    );
    f.register(
        "schedule.add",
        "name, **kwargs",
        "Add a job to the schedule: schedule.add job1 function='test.ping' seconds=3600",
        |ctx, call| async move { add_or_modify(&ctx, &call, false) },
    );
    f.register(
        "schedule.modify",
        "name, **kwargs",
        "Modify an existing job in the schedule.",
        |ctx, call| async move { add_or_modify(&ctx, &call, true) },
    );
    f.register(
        "schedule.delete",
        "name, **kwargs",
        "Delete a job from the minion's schedule.",
        |ctx, call| async move { delete(&ctx, &call) },
    );
    f.register(
        "schedule.enable",
        "**kwargs",
        "Enable all scheduled jobs on the minion.",
        |ctx, _| async move { Ok(set_all(&ctx, true)) },
    );
    f.register(
        "schedule.disable",
        "**kwargs",
        "Disable all scheduled jobs on the minion.",
        |ctx, _| async move { Ok(set_all(&ctx, false)) },
    );
    f.register(
        "schedule.enable_job",
        "name, **kwargs",
        "Enable a job in the minion's schedule.",
        |ctx, call| async move { set_one(&ctx, &call, true) },
    );
    f.register(
        "schedule.disable_job",
        "name, **kwargs",
        "Disable a job in the minion's schedule.",
        |ctx, call| async move { set_one(&ctx, &call, false) },
    );
    f.register(
        "schedule.save",
        "**kwargs",
        "Save the schedule (not pillar's jobs) to minion.d/_schedule.conf, read at the next start.",
        |ctx, call| async move {
            if call.kwargs.get("test").is_some_and(truthy) {
                return Ok(answer(true, "Schedule would be saved.", json!({})));
            }
            Ok(
                match ctx.save_include("_schedule.conf", "schedule", store(&ctx).snapshot()) {
                    Ok(_) => answer(true, "Schedule (non-pillar items) saved.", json!({})),
                    Err(e) => answer(
                        false,
                        format!("Unable to write the schedule file: {e}"),
                        json!({}),
                    ),
                },
            )
        },
    );
    f.register(
        "schedule.run_job",
        "name, force=False",
        "Run a scheduled job on the minion immediately.",
        |ctx, call| async move { run_job(&ctx, &call) },
    );
}

fn store(ctx: &MinionCtx) -> std::sync::Arc<ScheduleStore> {
    ctx.schedule.clone()
}

fn name_param(call: &Call) -> Result<String, FnError> {
    call.param(0, "name")
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or_else(|| FnError::Invocation("missing required argument 'name'".into()))
}

/// Salt's `{comment, result, changes}` answer.
fn answer(ok: bool, comment: impl Into<String>, changes: Value) -> FnOutput {
    json!({"comment": comment.into(), "result": ok, "changes": changes}).into()
}

fn list(ctx: &MinionCtx, call: &Call) -> Value {
    let show_disabled = call.param(1, "show_disabled").is_none_or(truthy);
    let jobs: Map<String, Value> = crate::schedule::effective_schedule(ctx)
        .into_iter()
        .filter(|(name, job)| {
            name != "enabled" && (show_disabled || job.get("enabled").is_none_or(truthy))
        })
        .collect();
    if jobs.is_empty() {
        return json!({"schedule": {}});
    }
    let mut call = call.clone();
    if let Some(v) = call.param(3, "return_yaml").cloned() {
        call.kwargs.insert("return_yaml".into(), v);
    }
    call.args.clear();
    yaml_or_value("schedule", Value::Object(jobs), &call)
}

/// The job a call describes: its keyword arguments that are job keys.
fn job_from_call(call: &Call) -> Map<String, Value> {
    call.user_kwargs()
        .into_iter()
        .filter(|(k, _)| JOB_KEYS.contains(&k.as_str()))
        .collect()
}

fn add_or_modify(ctx: &MinionCtx, call: &Call, modify: bool) -> Result<FnOutput, FnError> {
    let name = name_param(call)?;
    if name == "enabled" {
        return Ok(answer(
            false,
            "Job name \"enabled\" is reserved.",
            json!({}),
        ));
    }
    let job = Value::Object(job_from_call(call));
    if let Err(e) = JobSpec::parse(&job) {
        return Ok(answer(
            false,
            format!("Invalid job {name}: {e}."),
            json!({}),
        ));
    }
    let test = call.kwargs.get("test").is_some_and(truthy);
    let out = store(ctx).update(|jobs| {
        let old = jobs.get(&name).cloned();
        match (modify, old) {
            (false, Some(_)) => answer(
                false,
                format!("Job {name} already exists in schedule."),
                json!({}),
            ),
            (true, None) => answer(
                false,
                format!("Job {name} does not exist in schedule."),
                json!({}),
            ),
            (false, None) if test => answer(
                true,
                format!("Job: {name} would be added to schedule."),
                json!({}),
            ),
            (true, Some(_)) if test => answer(
                true,
                format!("Job: {name} would be modified in schedule."),
                json!({}),
            ),
            (false, None) => {
                jobs.insert(name.clone(), job);
                answer(
                    true,
                    format!("Added job: {name} to schedule."),
                    json!({name.clone(): "added"}),
                )
            }
            (true, Some(old)) => {
                jobs.insert(name.clone(), job.clone());
                answer(
                    true,
                    format!("Modified job: {name} in schedule."),
                    json!({name.clone(): {"old": old, "new": job}}),
                )
            }
        }
    });
    Ok(out)
}

fn delete(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let name = name_param(call)?;
    let removed = name != "enabled" && store(ctx).update(|jobs| jobs.remove(&name).is_some());
    Ok(if removed {
        answer(
            true,
            format!("Deleted Job {name} from schedule."),
            json!({name.clone(): "removed"}),
        )
    } else {
        answer(false, format!("Job {name} does not exist."), json!({}))
    })
}

fn set_all(ctx: &MinionCtx, enabled: bool) -> FnOutput {
    store(ctx).update(|jobs| jobs.insert("enabled".into(), json!(enabled)));
    let (word, change) = if enabled {
        ("Enabled", "enabled")
    } else {
        ("Disabled", "disabled")
    };
    answer(
        true,
        format!("{word} schedule on minion."),
        json!({"schedule": change}),
    )
}

fn set_one(ctx: &MinionCtx, call: &Call, enabled: bool) -> Result<FnOutput, FnError> {
    let name = name_param(call)?;
    let found = store(ctx).update(|jobs| match jobs.get_mut(&name) {
        Some(Value::Object(job)) if name != "enabled" => {
            job.insert("enabled".into(), json!(enabled));
            true
        }
        _ => false,
    });
    let (word, change) = if enabled {
        ("Enabled", "enabled")
    } else {
        ("Disabled", "disabled")
    };
    Ok(if found {
        answer(
            true,
            format!("{word} Job {name} in schedule."),
            json!({name.clone(): change}),
        )
    } else {
        answer(false, format!("Job {name} does not exist."), json!({}))
    })
}

fn run_job(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let name = name_param(call)?;
    let force = call.param(1, "force").is_some_and(truthy);
    let store = store(ctx);
    let Some(job) = crate::schedule::effective_schedule(ctx)
        .get(&name)
        .cloned()
        .filter(|_| name != "enabled")
    else {
        return Ok(answer(
            false,
            format!("Job {name} does not exist."),
            json!({}),
        ));
    };
    if !force && job.get("enabled").is_some_and(|v| !truthy(v)) {
        return Ok(answer(false, format!("Job {name} is disabled."), json!({})));
    }
    store.request_run(&name);
    Ok(answer(
        true,
        format!("Scheduling Job {name} on minion."),
        json!({}),
    ))
}
