//! Running low chunks: Salt's `call_chunks` / `call_chunk` / `check_requisite`.
//!
//! Chunks run in order; before a chunk runs, the chunks it requires run
//! first (depth first). A chunk's requisites then decide what happens, with
//! Salt's statuses and comments:
//!
//! | status | when | result |
//! |---|---|---|
//! | fail | a required/watched target failed | `False`, "One or more requisite failed: sls.id" |
//! | onchanges | no `onchanges` target changed | `True`, "State was not run because none of the onchanges reqs changed" |
//! | onfail | no `onfail` target failed | `True`, "State was not run because onfail req did not change" |
//! | pre | the `prereq` target would not change | `True`, "No changes detected" |
//! | change | a `watch` target changed | the state runs, then its module's `mod_watch` if it made no changes itself |
//! | met | otherwise | the state runs |
//!
//! Around each call: `onlyif` / `unless` (via `cmd.retcode`) and `creates`,
//! `retry`, `check_cmd`. `failhard` (per state or for the run) stops the run
//! after a failure (not in test mode). `listen` runs `mod_watch` at the end.
//! A state with `parallel: True` runs on its own thread while the run goes
//! on; anything requiring it waits for it, and the run ends when all are in.
//! Each result carries `__run_num__`, `start_time`, `duration`, `__sls__`, `__id__`.

mod checks;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde_json::{Map, Value, json};

use crate::compile::{Lowstate, Req, ReqKind};
use crate::host::StateHost;
use crate::lowstate::{LowChunk, StateCall, StateFn, StateModules, StateResult};

/// How to run.
#[derive(Default, Clone, Copy)]
pub struct RunOptions<'a> {
    /// `test=True`: predict, change nothing.
    pub test: bool,
    /// The `failhard` option for the whole run.
    pub failhard: bool,
    /// Set by the caller to stop between states (`saltutil.kill_job`).
    pub kill: Option<&'a AtomicBool>,
    /// Where states with `fire_event` send their result. `None` for runs
    /// outside a job (masterless), where Salt fires nothing either.
    pub events: Option<StateEvents<'a>>,
}

/// The job a run belongs to and how to reach the master's bus, for Salt's
/// `fire_event`: `fire_event: True` sends `salt/state_result/<jid>/<id>/<name>`,
/// `fire_event: some/suffix` sends `salt/state_result/<jid>/<id>/some/suffix`,
/// each with `{"ret": <the state's result>}`.
#[derive(Clone, Copy)]
pub struct StateEvents<'a> {
    pub jid: &'a str,
    pub minion_id: &'a str,
    /// Salt's `state_events`: every other state's result goes out as
    /// `salt/job/<jid>/prog/<id>/<run number>` with `{ret, len}`.
    pub progress: bool,
    pub fire: &'a (dyn Fn(&str, Value) + Sync),
}

/// The state functions a lowstate calls that are not registered, as Salt's
/// compile errors ("State 'x.y' was not found in SLS 'z'").
pub fn missing_functions(low: &Lowstate, modules: &StateModules) -> Vec<String> {
    let mut errors: Vec<String> = Vec::new();
    for c in &low.chunks {
        let full = format!("{}.{}", c.state, c.fun);
        if modules.get(&full).is_none() {
            let msg = not_found(c, &format!("'{full}' is not available."));
            if !errors.contains(&msg) {
                errors.push(msg);
            }
        }
    }
    errors
}

/// Run a compiled lowstate; the running dict keyed by Salt's tags, in completion order.
pub fn run(
    host: &dyn StateHost,
    modules: &StateModules,
    low: &Lowstate,
    opts: &RunOptions<'_>,
) -> Map<String, Value> {
    std::thread::scope(|scope| {
        let mut runner = Runner {
            host,
            modules,
            low,
            opts: *opts,
            ran: vec![None; low.chunks.len()],
            pre: HashMap::new(),
            run_num: 0,
            out: Map::new(),
            stopped: false,
            scope,
            running: HashMap::new(),
        };
        for i in 0..low.chunks.len() {
            runner.run_chunk(i);
            if runner.stopped {
                break;
            }
        }
        runner.join_all();
        if !runner.stopped {
            runner.run_listeners();
        }
        runner.out
    })
}

/// What later checks need of a finished chunk.
#[derive(Clone, Copy)]
struct Ran {
    result: Option<bool>,
    changed: bool,
    state_ran: bool,
}

impl Ran {
    fn of(r: &StateResult, state_ran: bool) -> Self {
        Ran {
            result: r.result,
            changed: !r.changes.is_empty(),
            state_ran,
        }
    }
}

/// What the requisites say about a chunk.
#[derive(Debug, PartialEq)]
enum Status {
    Met,
    Fail,
    Pre,
    Onfail,
    Onchanges,
    Change,
}

/// A `parallel: True` state running on its own thread.
struct Running<'s> {
    handle: std::thread::ScopedJoinHandle<'s, (StateResult, f64)>,
    started: String,
    run_num: u64,
}

struct Runner<'a, 's> {
    host: &'a dyn StateHost,
    modules: &'a StateModules,
    low: &'a Lowstate,
    opts: RunOptions<'a>,
    ran: Vec<Option<Ran>>,
    /// Results of `prereq` targets run in test mode.
    pre: HashMap<usize, Ran>,
    run_num: u64,
    out: Map<String, Value>,
    stopped: bool,
    /// Where `parallel: True` states run; each is joined before anything
    /// that requires it is decided, and all are joined before the run ends.
    scope: &'s std::thread::Scope<'s, 'a>,
    running: HashMap<usize, Running<'s>>,
}

impl<'a, 's> Runner<'a, 's> {
    fn killed(&self) -> bool {
        self.opts.kill.is_some_and(|k| k.load(Ordering::Relaxed))
    }

    fn run_chunk(&mut self, i: usize) {
        if self.ran[i].is_some() || self.running.contains_key(&i) || self.stopped {
            return;
        }
        let ordering: Vec<usize> = self.low.reqs[i]
            .iter()
            .filter(|r| r.kind.orders())
            .map(|r| r.target)
            .collect();
        for t in ordering {
            self.run_chunk(t);
            if self.stopped {
                return;
            }
        }
        // Every requisite's result must be in before this chunk is decided.
        let targets: Vec<usize> = self.low.reqs[i].iter().map(|r| r.target).collect();
        for t in targets {
            self.join(t);
        }
        if self.stopped {
            return;
        }
        if self.killed() {
            self.stopped = true;
            return;
        }
        self.run_prereq_tests(i);
        let low = self.low;
        let chunk = &low.chunks[i];
        let status = self.status(i);
        let ran = match status {
            Status::Fail => {
                let comment = format!(
                    "One or more requisite failed: {}",
                    self.failed_reqs(i).join(", ")
                );
                self.skip(chunk, false, &comment)
            }
            Status::Pre => self.skip(chunk, true, "No changes detected"),
            Status::Onfail => self.skip(
                chunk,
                true,
                "State was not run because onfail req did not change",
            ),
            Status::Onchanges => self.skip(
                chunk,
                true,
                "State was not run because none of the onchanges reqs changed",
            ),
            Status::Change => self.call_with_watch(i),
            Status::Met if chunk.bool_arg("parallel", false) => {
                self.spawn_parallel(i);
                return;
            }
            Status::Met => self.call_and_record(i, None),
        };
        self.finish(i, ran);
    }

    /// A chunk's result is in: fire its event, honour `failhard`.
    fn finish(&mut self, i: usize, ran: Ran) {
        let chunk = &self.low.chunks[i];
        self.ran[i] = Some(ran);
        self.fire_result_event(chunk);
        let failhard = chunk.bool_arg("failhard", self.opts.failhard);
        if failhard && !self.opts.test && ran.result == Some(false) {
            self.stopped = true;
        }
    }

    /// `parallel: True`: run the state on its own thread and go on with the
    /// next; its run number is taken now, as Salt numbers it at start.
    fn spawn_parallel(&mut self, i: usize) {
        self.run_num += 1;
        let run_num = self.run_num - 1;
        let prepared = self.prepare(i, None);
        let (host, test, kill) = (self.host, self.opts.test, self.opts.kill);
        let started = now_hms();
        let handle = self.scope.spawn(move || {
            let t0 = Instant::now();
            let (result, _) = execute(host, &prepared, test, kill, false);
            (result, elapsed_ms(t0))
        });
        self.running.insert(
            i,
            Running {
                handle,
                started,
                run_num,
            },
        );
    }

    /// Wait for chunk `i` if it runs in parallel, and record its result.
    fn join(&mut self, i: usize) {
        let Some(running) = self.running.remove(&i) else {
            return;
        };
        let low = self.low;
        let chunk = &low.chunks[i];
        let (result, duration) = running.handle.join().unwrap_or_else(|_| {
            let failed = StateResult::fail(&chunk.name, "The parallel state's thread panicked");
            (failed, 0.0)
        });
        let mut value =
            self.result_value_numbered(chunk, &result, &running.started, duration, running.run_num);
        if let Value::Object(fields) = &mut value {
            // Salt marks what its parallel runner ran.
            fields.insert("__parallel__".into(), Value::Bool(true));
        }
        self.out.insert(chunk.tag(), value);
        self.finish(i, Ran::of(&result, true));
    }

    /// Wait for every parallel state still running, in chunk order.
    fn join_all(&mut self) {
        let mut pending: Vec<usize> = self.running.keys().copied().collect();
        pending.sort_unstable();
        for i in pending {
            self.join(i);
        }
    }

    /// Run every `prereq` target of chunk `i` in test mode (once).
    fn run_prereq_tests(&mut self, i: usize) {
        let targets: Vec<usize> = self.low.reqs[i]
            .iter()
            .filter(|r| r.kind == ReqKind::Prereq)
            .map(|r| r.target)
            .collect();
        for t in targets {
            if self.pre.contains_key(&t) {
                continue;
            }
            let ran = match self.ran[t] {
                Some(ran) => ran,
                None => Ran::of(&self.call_prereq(t), true),
            };
            self.pre.insert(t, ran);
        }
    }

    fn has_mod_watch(&self, chunk: &LowChunk) -> bool {
        self.modules
            .get(&format!("{}.{}", chunk.state, chunk.fun))
            .is_some_and(|e| e.mod_watch.is_some())
    }

    /// Salt's `check_requisite`.
    fn status(&self, i: usize) -> Status {
        let chunk = &self.low.chunks[i];
        let watch_fires = self.has_mod_watch(chunk);
        let mut groups: Vec<((ReqKind, bool), Vec<Req>)> = Vec::new();
        for req in &self.low.reqs[i] {
            if req.kind == ReqKind::Listen {
                continue;
            }
            let mut req = *req;
            if req.kind == ReqKind::Watch && !watch_fires {
                req.kind = ReqKind::Require;
            }
            match groups.iter_mut().find(|(k, _)| *k == (req.kind, req.any)) {
                Some((_, list)) => list.push(req),
                None => groups.push(((req.kind, req.any), vec![req])),
            }
        }
        let mut stats: Vec<&'static str> = Vec::new();
        for ((kind, any), reqs) in &groups {
            let mut group = Vec::new();
            for req in reqs {
                group.push(self.req_stat(*kind, req.target));
            }
            let has = |g: &Vec<&str>, s: &str| g.contains(&s);
            if *any {
                if has(&group, "met") || has(&group, "change") {
                    group.retain(|s| *s != "fail");
                }
                if has(&group, "onchangesmet") {
                    group.retain(|s| *s != "onchanges" && *s != "fail");
                }
                if has(&group, "onfail") && has(&group, "met") {
                    group.retain(|s| *s != "onfail");
                }
            } else if *kind == ReqKind::Onfail && has(&group, "onfail") {
                group.retain(|s| *s != "met");
            }
            stats.extend(group);
        }
        let has = |s: &str| stats.contains(&s);
        if has("fail") || has("unmet") {
            Status::Fail
        } else if has("pre") {
            if has("premet") {
                Status::Met
            } else {
                Status::Pre
            }
        } else if has("onfail") && !has("onchangesmet") {
            Status::Onfail
        } else if has("onchanges") && !has("onchangesmet") {
            Status::Onchanges
        } else if has("change") {
            Status::Change
        } else {
            Status::Met
        }
    }

    /// One target's contribution, as Salt's `req_stats`.
    fn req_stat(&self, kind: ReqKind, target: usize) -> &'static str {
        let ran = if kind == ReqKind::Prereq {
            self.pre.get(&target).copied()
        } else {
            self.ran[target]
        };
        let Some(ran) = ran else {
            return "unmet";
        };
        match kind {
            ReqKind::Onfail if ran.result == Some(true) => return "onfail",
            // A soft trigger: a failed target counts as one without changes.
            ReqKind::Onchanges if ran.result == Some(false) || !ran.changed => {
                return "onchanges";
            }
            ReqKind::Onchanges => return "onchangesmet",
            ReqKind::Onfail => {}
            _ if ran.result == Some(false) => return "fail",
            _ => {}
        }
        match kind {
            ReqKind::Watch if ran.changed => "change",
            ReqKind::Prereq => {
                if ran.result.is_none() {
                    "premet"
                } else {
                    "pre"
                }
            }
            ReqKind::Prerequired => "",
            _ if ran.state_ran => "met",
            _ => "",
        }
    }

    /// `sls.id` of each failed requisite target, for the comment.
    fn failed_reqs(&self, i: usize) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for req in &self.low.reqs[i] {
            let ran = if req.kind == ReqKind::Prereq {
                self.pre.get(&req.target).copied()
            } else {
                self.ran[req.target]
            };
            if ran.is_some_and(|r| r.result == Some(false)) {
                let t = &self.low.chunks[req.target];
                let name = format!("{}.{}", t.sls, t.id);
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names
    }

    /// Salt's `fire_event` state argument: the chunk's result on the bus.
    fn fire_result_event(&self, chunk: &LowChunk) {
        let Some(events) = self.opts.events else {
            return;
        };
        let Some(ret) = self.out.get(&chunk.tag()) else {
            return;
        };
        let (jid, id) = (events.jid, events.minion_id);
        let tag = match chunk.arg("fire_event") {
            Some(Value::Bool(true)) => format!("salt/state_result/{jid}/{id}/{}", chunk.name),
            Some(Value::String(custom)) if !custom.is_empty() => {
                format!("salt/state_result/{jid}/{id}/{custom}")
            }
            // Salt's `state_events`: every state's progress.
            _ if events.progress => {
                let num = ret.get("__run_num__").cloned().unwrap_or(Value::Null);
                let len = self.low.chunks.len();
                let tag = format!("salt/job/{jid}/prog/{id}/{num}");
                (events.fire)(&tag, json!({"ret": ret, "len": len}));
                return;
            }
            _ => return,
        };
        (events.fire)(&tag, json!({"ret": ret}));
    }

    /// A state that did not run (Salt's `_assign_not_run_result_dict`): its
    /// result without calling the function, `__state_ran__: false`.
    fn skip(&mut self, chunk: &LowChunk, result: bool, comment: &str) -> Ran {
        let started = now_hms();
        let t0 = Instant::now();
        let mut v = Map::new();
        v.insert("changes".into(), json!({}));
        v.insert("result".into(), json!(result));
        v.insert("duration".into(), json!(elapsed_ms(t0)));
        v.insert("start_time".into(), json!(started));
        v.insert("comment".into(), json!(comment));
        v.insert("__state_ran__".into(), json!(false));
        v.insert("__run_num__".into(), json!(self.next_run_num()));
        v.insert("__sls__".into(), chunk.sls_value());
        v.insert("__id__".into(), json!(chunk.id));
        v.insert("name".into(), json!(chunk.name));
        self.out.insert(chunk.tag(), Value::Object(v));
        Ran {
            result: Some(result),
            changed: false,
            state_ran: false,
        }
    }

    fn next_run_num(&mut self) -> u64 {
        let n = self.run_num;
        self.run_num += 1;
        n
    }

    /// Run a chunk for real (or in test mode) and record its result.
    fn call_and_record(&mut self, i: usize, mod_watch: Option<(StateFn, Value)>) -> Ran {
        let low = self.low;
        let chunk = &low.chunks[i];
        let full = format!("{}.{}", chunk.state, chunk.fun);
        if mod_watch.is_none()
            && let Some(reason) = self.modules.unavailable(&full, self.host)
        {
            return self.record_not_found(chunk, &reason);
        }
        let started = now_hms();
        let t0 = Instant::now();
        let result = self.call(i, self.opts.test, mod_watch);
        let ran = Ran::of(&result, true);
        let value = self.result_value(chunk, &result, &started, elapsed_ms(t0));
        self.out.insert(chunk.tag(), value);
        ran
    }

    /// Salt's result for a state function that does not exist: a failure
    /// with only `result`, `name`, `changes`, `comment` and `__run_num__`.
    fn record_not_found(&mut self, chunk: &LowChunk, reason: &str) -> Ran {
        let mut v = Map::new();
        v.insert("result".into(), json!(false));
        v.insert("name".into(), json!(chunk.name));
        v.insert("changes".into(), json!({}));
        v.insert("comment".into(), json!(not_found(chunk, reason)));
        v.insert("__run_num__".into(), json!(self.next_run_num()));
        self.out.insert(chunk.tag(), Value::Object(v));
        Ran {
            result: Some(false),
            changed: false,
            state_ran: true,
        }
    }

    /// A watched target changed: run the state; if it made no changes itself
    /// and no check skipped it, call its module's `mod_watch` (both calls use
    /// a run number). `mod_watch` sees `sfun` (the state's function),
    /// `__reqs__` (`{"watch": [...], "watch_any": [...]}`: the changed
    /// targets' lowstate) and `__watch_changes__` (`["file: config_file"]`,
    /// from plain `watch` only, as Salt's `test.mod_watch` reads them).
    fn call_with_watch(&mut self, i: usize) -> Ran {
        let low = self.low;
        let chunk = &low.chunks[i];
        let started = now_hms();
        let t0 = Instant::now();
        let first = self.call(i, self.opts.test, None);
        let entry = self.modules.get(&format!("{}.{}", chunk.state, chunk.fun));
        let watch_fn = entry.and_then(|e| e.mod_watch);
        let Some(watch_fn) = watch_fn.filter(|_| first.changes.is_empty() && !first.skip_watch)
        else {
            let value = self.result_value(chunk, &first, &started, elapsed_ms(t0));
            self.out.insert(chunk.tag(), value);
            return Ran::of(&first, true);
        };
        let reqs = self.watch_reqs(i);
        self.call_and_record(i, Some((watch_fn, reqs)))
    }

    /// `__reqs__` for `mod_watch`: the changed `watch` / `watch_any` targets.
    fn watch_reqs(&self, i: usize) -> Value {
        let mut reqs = Map::new();
        for r in &self.low.reqs[i] {
            if r.kind != ReqKind::Watch || !self.ran[r.target].is_some_and(|t| t.changed) {
                continue;
            }
            let key = if r.any { "watch_any" } else { "watch" };
            if let Ok(target) = serde_json::to_value(&self.low.chunks[r.target]) {
                let list = reqs.entry(key).or_insert_with(|| json!([]));
                if let Value::Array(list) = list {
                    list.push(target);
                }
            }
        }
        Value::Object(reqs)
    }

    /// Whether any `listen` target of chunk `i` changed.
    fn listened_change(&self, i: usize) -> bool {
        self.low.reqs[i]
            .iter()
            .any(|r| r.kind == ReqKind::Listen && self.ran[r.target].is_some_and(|t| t.changed))
    }

    /// `listen`: after the run, Salt's listener chunk for every state whose
    /// target changed: `__id__` `listener_<id>`, function `mod_watch`, no
    /// requisites (so `test.mod_watch` lists no "Requisites with changes").
    fn run_listeners(&mut self) {
        for i in 0..self.low.chunks.len() {
            if self.killed() {
                return;
            }
            if !self.listened_change(i) {
                continue;
            }
            let low = self.low;
            let chunk = &low.chunks[i];
            let entry = self.modules.get(&format!("{}.{}", chunk.state, chunk.fun));
            let Some(watch_fn) = entry.and_then(|e| e.mod_watch) else {
                continue;
            };
            let mut listener = chunk.clone();
            listener.id = format!("listener_{}", chunk.id);
            let started = now_hms();
            let t0 = Instant::now();
            let mut prepared = self.prepare(i, Some((watch_fn, json!({}))));
            prepared.low.to_mut().id.clone_from(&listener.id);
            prepared.required.clear();
            let (result, calls) =
                execute(self.host, &prepared, self.opts.test, self.opts.kill, true);
            self.run_num += calls;
            let value = self.result_value(&listener, &result, &started, elapsed_ms(t0));
            listener.fun = "mod_watch".into();
            self.out.insert(listener.tag(), value);
        }
    }

    /// One numbered call of the state function (or `mod_watch`) with the
    /// global arguments around it and `retry`: each call made takes a run
    /// number, the result carries the last.
    fn call(&mut self, i: usize, test: bool, mod_watch: Option<(StateFn, Value)>) -> StateResult {
        let prepared = self.prepare(i, mod_watch);
        let (result, calls) = execute(self.host, &prepared, test, self.opts.kill, true);
        self.run_num += calls;
        result
    }

    /// A `prereq` target's test run: no retry, no run number (Salt returns
    /// from `call` before numbering a `__prereq__` run).
    fn call_prereq(&mut self, i: usize) -> StateResult {
        let prepared = self.prepare(i, None);
        execute(self.host, &prepared, true, self.opts.kill, false).0
    }

    /// The function a call runs, the chunk it sees (with `mod_watch`'s
    /// extra arguments) and the states it requires.
    fn prepare(&self, i: usize, mod_watch: Option<(StateFn, Value)>) -> Prepared<'a> {
        let low: &'a Lowstate = self.low;
        let chunk = &low.chunks[i];
        let full = format!("{}.{}", chunk.state, chunk.fun);
        let (fun, call_low) = match mod_watch {
            Some((f, reqs)) => {
                let mut call_low = chunk.clone();
                call_low.args.insert("sfun".into(), json!(chunk.fun));
                call_low
                    .args
                    .insert("__watch_changes__".into(), watch_changes(&reqs));
                call_low.args.insert("__reqs__".into(), reqs);
                (Some(f), Cow::Owned(call_low))
            }
            None => (self.modules.get(&full).map(|e| e.run), Cow::Borrowed(chunk)),
        };
        let required = low.reqs[i]
            .iter()
            .filter(|r| matches!(r.kind, ReqKind::Require | ReqKind::Watch))
            .map(|r| &low.chunks[r.target])
            .collect();
        Prepared {
            fun,
            low: call_low,
            required,
        }
    }

    fn result_value(
        &self,
        chunk: &LowChunk,
        r: &StateResult,
        started: &str,
        duration: f64,
    ) -> Value {
        self.result_value_numbered(chunk, r, started, duration, self.run_num - 1)
    }

    /// Salt's running-dict entry, keys in Salt's order (the module's own
    /// keys first, as its state functions build them).
    fn result_value_numbered(
        &self,
        chunk: &LowChunk,
        r: &StateResult,
        started: &str,
        duration: f64,
        num: u64,
    ) -> Value {
        // A module's extra keys come first, as Salt's modules that have any
        // (`postgres_schema`'s `dbname`) build their result dicts; but
        // `warnings` is added to a built result, after Salt's four keys.
        let mut v = r.extra.clone();
        let warnings = v.shift_remove("warnings");
        // A comment that is data (a dict, a number) in place of the text.
        let comment = v
            .shift_remove("comment")
            .unwrap_or_else(|| json!(r.comment));
        if chunk.state == "file" {
            v.insert("changes".into(), Value::Object(r.changes.clone()));
            v.insert("comment".into(), comment);
            v.insert("name".into(), json!(r.name));
            v.insert("result".into(), json!(r.result));
        } else {
            v.insert("name".into(), json!(r.name));
            v.insert("changes".into(), Value::Object(r.changes.clone()));
            v.insert("result".into(), json!(r.result));
            v.insert("comment".into(), comment);
        }
        if let Some(warnings) = warnings {
            v.insert("warnings".into(), warnings);
        }
        if r.skip_watch {
            v.insert("skip_watch".into(), json!(true));
        }
        v.insert("__sls__".into(), chunk.sls_value());
        v.insert("__run_num__".into(), json!(num));
        v.insert("start_time".into(), json!(started));
        v.insert("duration".into(), json!(duration));
        v.insert("__id__".into(), json!(chunk.id));
        Value::Object(v)
    }
}

/// A state call made ready: the function (if registered) and the chunk it sees.
struct Prepared<'a> {
    fun: Option<StateFn>,
    /// The chunk as the function sees it (a copy only for `mod_watch`).
    low: Cow<'a, LowChunk>,
    /// The states it requires (`require`, `watch` and their `_in` forms).
    required: Vec<&'a LowChunk>,
}

/// Run a prepared call, with `retry` when `retry` is set (Salt does not
/// retry `parallel` states nor `prereq` test runs). Returns the result and
/// how many calls were made. Needs nothing of the runner, so a `parallel`
/// state runs it on its own thread.
fn execute(
    host: &dyn StateHost,
    prepared: &Prepared<'_>,
    test: bool,
    kill: Option<&AtomicBool>,
    retry: bool,
) -> (StateResult, u64) {
    let once = || attempt(host, prepared, test);
    if retry {
        checks::with_retry(&prepared.low, test, kill, once)
    } else {
        (once(), 1)
    }
}

/// One call as Salt's `State.call` makes it: `onlyif`/`unless`/`creates`
/// (which may skip the function), the function, then `check_cmd`.
fn attempt(host: &dyn StateHost, prepared: &Prepared<'_>, test: bool) -> StateResult {
    let chunk: &LowChunk = &prepared.low;
    let mut result = match (checks::run_checks(host, chunk), prepared.fun) {
        (Some(skipped), _) => skipped,
        (None, Some(fun)) => {
            let call = StateCall {
                host,
                chunk,
                test,
                required: &prepared.required,
            };
            checks::call_guarded(&call, fun)
        }
        (None, None) => {
            let full = format!("{}.{}", chunk.state, chunk.fun);
            let reason = format!("'{full}' is not available.");
            StateResult::fail(&chunk.name, not_found(chunk, &reason))
        }
    };
    checks::check_cmd(host, chunk, &mut result);
    result
}

/// Salt's `verify_data` error for a state function that does not exist
/// or whose module did not load (`reason`, see [`StateModules::unavailable`]).
fn not_found(chunk: &LowChunk, reason: &str) -> String {
    let full = format!("{}.{}", chunk.state, chunk.fun);
    format!(
        "State '{full}' was not found in SLS '{}'\nReason: {reason}\n",
        chunk.sls
    )
}

/// `["file: config_file", ...]`: the changed plain `watch` targets, as
/// Salt's `test.mod_watch` lists them (it reads `__reqs__["watch"]` only).
fn watch_changes(reqs: &Value) -> Value {
    let names: Vec<Value> = reqs
        .get("watch")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            let field = |k: &str| {
                c.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            json!(format!("{}: {}", field("state"), field("__id__")))
        })
        .collect();
    Value::Array(names)
}

/// Local wall-clock time as Salt prints `start_time`: `HH:MM:SS.ffffff`.
pub fn now_hms() -> String {
    let t = brine_common::local_time::now().time();
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        t.hour(),
        t.minute(),
        t.second(),
        t.subsec_nanosecond() / 1000
    )
}

/// Milliseconds with microsecond precision, as Salt computes `duration`.
fn elapsed_ms(t0: Instant) -> f64 {
    t0.elapsed().as_micros() as f64 / 1000.0
}

#[cfg(test)]
mod tests;
