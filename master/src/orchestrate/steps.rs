//! The work of each orchestration state function, on the master, with the
//! results and comments of Salt's `salt/states/saltmod.py`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use brine_client::{JobRequest, KeyCommand, KeyReply};
use brine_common::target::{Fnmatch, TargetType};
use brine_common::truth::truthy_after_yaml;
use brine_states::lowstate::{LowChunk, StateResult};
use serde_json::{Map, Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::daemon::Master;
use crate::jobs;

/// Chunk arguments that steer the state system, never passed on to a runner.
const STATE_KEYS: &[&str] = &[
    "require",
    "require_in",
    "require_any",
    "watch",
    "watch_in",
    "watch_any",
    "onfail",
    "onfail_in",
    "onfail_any",
    "onfail_all",
    "onchanges",
    "onchanges_in",
    "onchanges_any",
    "prereq",
    "prereq_in",
    "use",
    "use_in",
    "listen",
    "listen_in",
    "order",
    "failhard",
    "names",
    "check_cmd",
    "retry",
    "parallel",
    "unless",
    "onlyif",
];

/// What each minion sent back: its return event's data (`return`, `retcode`).
type Returns = BTreeMap<String, Value>;

/// Publish a job and wait for its returns (see [`jobs::publish_and_wait`]).
async fn publish_and_wait(
    master: &Master,
    job: JobRequest,
    timeout: Duration,
) -> Result<(Returns, Vec<String>), String> {
    jobs::publish_and_wait(master, job, timeout)
        .await?
        .ok_or_else(|| {
            "No minions matched the target. No command was sent, no jid was assigned.".into()
        })
}

fn str_arg(chunk: &LowChunk, key: &str) -> Option<String> {
    match chunk.arg(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Salt's `tgt_type` (or the old `expr_form`), default `glob`. An unknown
/// type fails the step with the words publishing it would have failed with.
fn tgt_type(chunk: &LowChunk) -> Result<TargetType, String> {
    let raw = str_arg(chunk, "tgt_type").or_else(|| str_arg(chunk, "expr_form"));
    raw.map_or(Ok(TargetType::Glob), |raw| {
        TargetType::parse(&raw).map_err(|e| e.to_string())
    })
}

fn timeout(master: &Master, chunk: &LowChunk) -> Duration {
    let secs = chunk
        .arg("timeout")
        .and_then(Value::as_f64)
        .unwrap_or(master.config.timeout as f64);
    Duration::from_secs_f64(secs.max(1.0))
}

/// `fail_minions` as a list or a comma-separated string.
fn fail_minions(chunk: &LowChunk) -> BTreeSet<String> {
    match chunk.arg("fail_minions") {
        Some(Value::String(s)) => s.split(',').map(|m| m.trim().to_string()).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => BTreeSet::new(),
    }
}

/// The job a `salt.state` step publishes: `state.highstate` or `state.sls`.
fn state_job(chunk: &LowChunk, tgt: Value, test: bool) -> Result<JobRequest, String> {
    let highstate = chunk.bool_arg("highstate", false);
    let sls = match chunk.arg("sls") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let (fun, arg) = match (highstate, sls.is_empty()) {
        (true, _) => ("state.highstate", vec![]),
        (false, false) => ("state.sls", vec![json!(sls)]),
        (false, true) => return Err("No highstate or sls specified, no execution made".into()),
    };
    let mut kwarg = Map::new();
    if test || chunk.bool_arg("test", false) {
        kwarg.insert("test".into(), json!(true));
    }
    for key in ["pillar", "saltenv", "pillarenv", "queue"] {
        if let Some(v) = chunk.arg(key).filter(|v| !v.is_null()) {
            kwarg.insert(key.into(), v.clone());
        }
    }
    Ok(JobRequest {
        tgt,
        tgt_type: tgt_type(chunk)?,
        fun: fun.into(),
        arg,
        kwarg,
        user: "root".into(),
    })
}

/// How one minion's state run went.
#[derive(Debug, PartialEq)]
enum MinionRun {
    Failed,
    Changed,
    Unchanged,
    /// `test=True` and something would change.
    Pending,
}

fn judge_state_run(data: &Value) -> MinionRun {
    let retcode = data.get("retcode").and_then(Value::as_i64).unwrap_or(0);
    let Some(states) = data.get("return").and_then(Value::as_object) else {
        return MinionRun::Failed;
    };
    let results: Vec<&Value> = states.values().collect();
    let result_of = |r: &&Value| r.get("result").cloned().unwrap_or(Value::Null);
    if retcode != 0 || results.iter().any(|r| result_of(r) == json!(false)) {
        return MinionRun::Failed;
    }
    if results.iter().any(|r| result_of(r).is_null()) {
        return MinionRun::Pending;
    }
    let changed = results.iter().any(|r| {
        r.get("changes")
            .and_then(Value::as_object)
            .is_some_and(|c| !c.is_empty())
    });
    if changed {
        MinionRun::Changed
    } else {
        MinionRun::Unchanged
    }
}

/// Salt's `salt.state`: run states on the targeted minions; fail if any
/// (outside `fail_minions`) failed or did not return.
pub async fn state(master: &Master, chunk: &LowChunk, test: bool) -> StateResult {
    let name = chunk.name.as_str();
    let Some(tgt) = chunk.arg("tgt").cloned() else {
        return StateResult::fail(name, "No tgt specified");
    };
    let job = match state_job(chunk, tgt, test) {
        Ok(job) => job,
        Err(e) => return StateResult::fail(name, e),
    };
    let (returns, missing) = match publish_and_wait(master, job, timeout(master, chunk)).await {
        Ok(found) => found,
        Err(e) => return StateResult::fail(name, e),
    };
    let allowed = fail_minions(chunk);
    let mut fail = Vec::new();
    let mut changed = Vec::new();
    let mut unchanged = Vec::new();
    let mut pending = false;
    let mut shown = Map::new();
    for (minion, data) in &returns {
        let ret = data.get("return").cloned().unwrap_or(Value::Null);
        match judge_state_run(data) {
            MinionRun::Failed => {
                if !allowed.contains(minion) {
                    fail.push(minion.clone());
                }
                shown.insert(minion.clone(), ret);
            }
            MinionRun::Changed => {
                changed.push(minion.clone());
                shown.insert(minion.clone(), ret);
            }
            MinionRun::Pending => {
                pending = true;
                shown.insert(minion.clone(), ret);
            }
            MinionRun::Unchanged => unchanged.push(minion.clone()),
        }
    }
    fail.extend(missing.iter().filter(|m| !allowed.contains(*m)).cloned());
    let mut result = StateResult::new(name);
    if !shown.is_empty() {
        result.changes.insert("out".into(), json!("highstate"));
        result.changes.insert("ret".into(), Value::Object(shown));
    }
    if !fail.is_empty() {
        result.result = Some(false);
        result.comment = format!("Run failed on minions: {}", fail.join(", "));
        for m in &missing {
            result.comment += &format!("\n    {m}: Minion did not respond");
        }
        return result;
    }
    result.comment = "States ran successfully.".into();
    if !changed.is_empty() {
        result.comment += &format!(" Updating {}.", changed.join(", "));
    }
    if !unchanged.is_empty() {
        result.comment += &format!(" No changes made to {}.", unchanged.join(", "));
    }
    if pending {
        result.result = None;
    }
    result
}

/// The positional arguments of `salt.function`: a list, or a string split on whitespace.
fn function_args(chunk: &LowChunk) -> Vec<Value> {
    match chunk.arg("arg") {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::String(s)) => s.split_whitespace().map(|w| json!(w)).collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other.clone()],
    }
}

/// Salt's `salt.function`: run an execution function on the targeted
/// minions; fail on a non-zero retcode or a missing return.
pub async fn function(master: &Master, chunk: &LowChunk, test: bool) -> StateResult {
    let name = chunk.name.as_str();
    let Some(tgt) = chunk.arg("tgt").cloned() else {
        return StateResult::fail(name, "No tgt specified");
    };
    if test {
        let mut r = StateResult::ok(
            name,
            format!(
                "Function {name} would be executed on target {}",
                display(&tgt)
            ),
        );
        r.result = None;
        return r;
    }
    let tgt_type = match tgt_type(chunk) {
        Ok(tgt_type) => tgt_type,
        Err(e) => return StateResult::fail(name, e),
    };
    let job = JobRequest {
        tgt,
        tgt_type,
        fun: name.to_string(),
        arg: function_args(chunk),
        kwarg: chunk
            .arg("kwarg")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        user: "root".into(),
    };
    match publish_and_wait(master, job, timeout(master, chunk)).await {
        Ok((returns, missing)) => function_result(name, &returns, &missing, &fail_minions(chunk)),
        Err(e) => StateResult::fail(name, e),
    }
}

/// The state result of a `salt.function` step from its returns.
fn function_result(
    name: &str,
    returns: &Returns,
    missing: &[String],
    allowed: &BTreeSet<String>,
) -> StateResult {
    let mut result = StateResult::new(name);
    let mut fail = Vec::new();
    let mut ran = Vec::new();
    let mut failures = Vec::new();
    let mut shown = Map::new();
    for (minion, data) in returns {
        let ret = data.get("return").cloned().unwrap_or(Value::Null);
        let retcode = data.get("retcode").and_then(Value::as_i64).unwrap_or(0);
        if retcode != 0 {
            if !allowed.contains(minion) {
                fail.push(minion.clone());
            }
            failures.push(format!("    {minion}:\n        {}", display(&ret)));
            continue;
        }
        ran.push(minion.clone());
        shown.insert(minion.clone(), ret);
    }
    for m in missing {
        if !allowed.contains(m) {
            fail.push(m.clone());
        }
        failures.push(format!("    {m}:\n        Minion did not respond"));
    }
    if !shown.is_empty() {
        result.changes.insert("out".into(), json!("highstate"));
        result.changes.insert("ret".into(), Value::Object(shown));
    }
    result.comment = if fail.is_empty() {
        "Function ran successfully.".to_string()
    } else {
        result.result = Some(false);
        format!(
            "Running function {name} failed on minions: {}",
            fail.join(", ")
        )
    };
    if !ran.is_empty() {
        result.comment += &format!(" Function {name} ran on {}.", ran.join(", "));
    }
    if !failures.is_empty() {
        result.comment += &format!("\nFailures:\n{}\n", failures.join("\n"));
    }
    result
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The chunk's own arguments, as keyword arguments for a runner or wheel function.
fn passthrough_kwargs(chunk: &LowChunk) -> Map<String, Value> {
    chunk
        .args
        .iter()
        .filter(|(k, _)| !k.starts_with("__") && !STATE_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Salt's `salt.runner`: run a runner function on the master.
pub async fn runner(master: &Master, chunk: &LowChunk, test: bool) -> StateResult {
    let name = chunk.name.as_str();
    if test {
        let mut r = StateResult::ok(name, format!("Runner function '{name}' would be executed."));
        r.result = None;
        return r;
    }
    if matches!(name, "state.orchestrate" | "state.orch") {
        return StateResult::fail(name, "Nested orchestration is not supported");
    }
    let kwargs = passthrough_kwargs(chunk);
    match Box::pin(crate::runners::run(master, name, Vec::new(), kwargs)).await {
        Ok((ret, 0)) => {
            let mut r = StateResult::ok(name, format!("Runner function '{name}' executed."));
            if !is_empty(&ret) {
                r.changes.insert("return".into(), ret);
            }
            r
        }
        Ok((ret, _)) => StateResult::fail(name, display(&ret)),
        Err(e) => StateResult::fail(name, e.to_string()),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// The key command a wheel function names (`key.accept match=web*`, ...).
fn key_command(name: &str, kwargs: &Map<String, Value>) -> Result<KeyCommand, String> {
    let pattern = kwargs
        .get("match")
        .or_else(|| kwargs.get("pattern"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let need = || {
        pattern
            .clone()
            .ok_or_else(|| format!("{name}: missing 'match'"))
    };
    Ok(match name {
        "key.list_all" => KeyCommand::List,
        "key.accept" => KeyCommand::Accept {
            pattern: need()?,
            include_rejected: kwargs
                .get("include_rejected")
                .is_some_and(truthy_after_yaml),
            include_denied: kwargs.get("include_denied").is_some_and(truthy_after_yaml),
        },
        "key.reject" => KeyCommand::Reject {
            pattern: need()?,
            include_accepted: kwargs
                .get("include_accepted")
                .is_some_and(truthy_after_yaml),
            include_denied: kwargs.get("include_denied").is_some_and(truthy_after_yaml),
        },
        "key.delete" => KeyCommand::Delete { pattern: need()? },
        "key.finger" => KeyCommand::Fingerprints { pattern: need()? },
        _ => return Err(format!("'{name}' is not available.")),
    })
}

/// Salt's `salt.wheel`: the key functions (`key.list_all`, `key.accept`,
/// `key.reject`, `key.delete`, `key.finger`).
pub fn wheel(master: &Master, chunk: &LowChunk, test: bool) -> StateResult {
    let name = chunk.name.as_str();
    if test {
        let mut r = StateResult::ok(name, format!("Wheel function '{name}' would be executed."));
        r.result = None;
        return r;
    }
    let cmd = match key_command(name, &passthrough_kwargs(chunk)) {
        Ok(cmd) => cmd,
        Err(e) => return StateResult::fail(name, e),
    };
    match master.key_command(&cmd) {
        Ok(reply) => {
            let changes = match reply {
                KeyReply::Listing { keys: m, .. }
                | KeyReply::Changed(m)
                | KeyReply::Fingerprints(m) => m,
            };
            let mut r = StateResult::ok(name, format!("Wheel function '{name}' executed."));
            r.changes = changes;
            r
        }
        Err(e) => StateResult::fail(name, e.to_string()),
    }
}

/// Salt's `salt.wait_for_event`: wait until an event matching `name` has
/// come from every id in `id_list` (by the data's `event_id` key), or `timeout`.
pub async fn wait_for_event(master: &Master, chunk: &LowChunk, test: bool) -> StateResult {
    let name = chunk.name.as_str();
    if test {
        let mut r = StateResult::ok(name, format!("Orchestration would wait for event '{name}'"));
        r.result = None;
        return r;
    }
    let pattern = match Fnmatch::new(name) {
        Ok(p) => p,
        Err(e) => return StateResult::fail(name, e.to_string()),
    };
    let mut waiting: Vec<String> = match chunk.arg("id_list") {
        Some(Value::Array(items)) => items.iter().map(display).collect(),
        Some(Value::String(s)) => s.split(',').map(|i| i.trim().to_string()).collect(),
        _ => Vec::new(),
    };
    let event_id = str_arg(chunk, "event_id").unwrap_or_else(|| "id".into());
    let secs = chunk
        .arg("timeout")
        .and_then(Value::as_f64)
        .unwrap_or(300.0);
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs.max(0.0));
    let mut events = master.bus.subscribe();
    let mut seen = Vec::new();
    while !waiting.is_empty() {
        let event = match tokio::time::timeout_at(deadline.into(), events.recv()).await {
            Err(_) | Ok(Err(RecvError::Closed)) => break,
            Ok(Err(RecvError::Lagged(_))) => continue,
            Ok(Ok(event)) => event,
        };
        if !pattern.is_match(&event.tag) {
            continue;
        }
        let Some(id) = event.data().get(&event_id).map(display) else {
            continue;
        };
        if let Some(i) = waiting.iter().position(|w| *w == id) {
            waiting.remove(i);
            seen.push(json!(id));
        }
    }
    let mut r = StateResult::new(name);
    if !seen.is_empty() {
        r.changes.insert("minions_seen".into(), Value::Array(seen));
    }
    if waiting.is_empty() {
        r.comment = format!(
            "All events seen in {} seconds.",
            start.elapsed().as_secs_f64()
        );
    } else {
        r.result = Some(false);
        r.comment = "Timeout value reached.".into();
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(args: Value) -> LowChunk {
        LowChunk {
            id: "step".into(),
            sls: "orch".into(),
            env: "base".into(),
            state: "salt".into(),
            fun: "state".into(),
            name: "step".into(),
            order: 10000,
            args: args.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn state_jobs_are_sls_or_highstate_with_test_and_pillar() {
        let c = chunk(json!({"tgt": "m1", "sls": ["a", "b"], "pillar": {"x": 1}}));
        let job = state_job(&c, json!("m1"), true).expect("job");
        assert_eq!(job.fun, "state.sls");
        assert_eq!(job.arg, vec![json!("a,b")]);
        assert_eq!(job.kwarg.get("test"), Some(&json!(true)));
        assert_eq!(job.kwarg.get("pillar"), Some(&json!({"x": 1})));
        let c = chunk(json!({"tgt": "m1", "highstate": true}));
        assert_eq!(
            state_job(&c, json!("m1"), false).expect("job").fun,
            "state.highstate"
        );
        assert!(state_job(&chunk(json!({"tgt": "m1"})), json!("m1"), false).is_err());
    }

    #[test]
    fn a_steps_target_type_is_parsed_with_expr_form_as_the_old_name() {
        let job = |args: Value| state_job(&chunk(args), json!("m1"), false);
        let typed = job(json!({"sls": "a", "tgt_type": "grain"})).expect("job");
        assert_eq!(typed.tgt_type, TargetType::Grain);
        let old = job(json!({"sls": "a", "expr_form": "list"})).expect("job");
        assert_eq!(old.tgt_type, TargetType::List);
        let plain = job(json!({"sls": "a", "tgt_type": null})).expect("job");
        assert_eq!(plain.tgt_type, TargetType::Glob);
        let err = job(json!({"sls": "a", "tgt_type": "pillar_exact"})).expect_err("unknown");
        assert!(
            err.starts_with("unsupported target type \"pillar_exact\" (known: glob,"),
            "{err}"
        );
    }

    #[test]
    fn state_runs_are_judged_by_retcode_and_results() {
        let ok = json!({"retcode": 0, "return": {"a": {"result": true, "changes": {}}}});
        let changed = json!({"retcode": 0, "return": {"a": {"result": true, "changes": {"x": 1}}}});
        let failed = json!({"retcode": 2, "return": {"a": {"result": false, "changes": {}}}});
        let errors = json!({"retcode": 1, "return": ["Rendering SLS failed"]});
        assert_eq!(judge_state_run(&ok), MinionRun::Unchanged);
        assert_eq!(judge_state_run(&changed), MinionRun::Changed);
        assert_eq!(judge_state_run(&failed), MinionRun::Failed);
        assert_eq!(judge_state_run(&errors), MinionRun::Failed);
    }

    #[test]
    fn function_results_fail_on_retcode_unless_allowed() {
        let mut returns = Returns::new();
        returns.insert("m1".into(), json!({"retcode": 0, "return": "hi"}));
        returns.insert("m2".into(), json!({"retcode": 1, "return": "boom"}));
        let r = function_result("cmd.run", &returns, &[], &BTreeSet::new());
        assert_eq!(r.result, Some(false));
        assert!(
            r.comment
                .starts_with("Running function cmd.run failed on minions: m2")
        );
        let allowed = BTreeSet::from(["m2".to_string()]);
        let r = function_result("cmd.run", &returns, &[], &allowed);
        assert_eq!(r.result, Some(true));
        assert!(
            r.comment
                .starts_with("Function ran successfully. Function cmd.run ran on m1.")
        );
        let r = function_result("cmd.run", &Returns::new(), &["m3".to_string()], &allowed);
        assert_eq!(r.result, Some(false));
    }

    #[test]
    fn runner_kwargs_leave_out_requisites() {
        let c = chunk(json!({"require": [{"salt": "x"}], "tgt": "m1", "__x": 1}));
        assert_eq!(Value::Object(passthrough_kwargs(&c)), json!({"tgt": "m1"}));
        assert!(key_command("key.accept", &Map::new()).is_err());
        assert!(matches!(
            key_command("key.list_all", &Map::new()),
            Ok(KeyCommand::List)
        ));
    }
}
