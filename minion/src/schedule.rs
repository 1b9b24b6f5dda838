//! The minion's job scheduler (Salt's `salt.utils.schedule`): runs
//! functions of the minion's registry on an interval and returns their
//! results to the master's job cache.
//!
//! Configuration is Salt's `schedule:` map from the minion config, over the
//! same map under the pillar's `schedule` key (a job of the same name in
//! the minion config wins):
//!
//! ```yaml
//! schedule:
//!   ping_often:
//!     function: test.ping
//!     seconds: 30          # or minutes / hours / days (they add up)
//!     splay: 5             # or {start: 2, end: 10}: a random delay per run
//!     args: []
//!     kwargs: {}
//!     maxrunning: 1        # runs of this job allowed at once
//!     run_on_start: True   # first run at start instead of after one interval
//!     enabled: True
//!     return_job: True
//!   one_shot:
//!     function: state.apply
//!     once: '2026-12-01T03:00:00'   # local time, `once_fmt` as in Salt
//!   nightly:
//!     function: state.apply
//!     cron: '30 2 * * *'            # five fields, local time
//!   weekly:
//!     function: state.apply
//!     when: ['Monday 5:00pm', '23:30']   # see `clock`
//!   office_hours:
//!     function: test.ping
//!     minutes: 10
//!     range: {start: '8:00am', end: '5:00pm'}   # invert: True for outside
//! ```
//!
//! A top-level `enabled: False` pauses every job. Each run gets a fresh jid
//! made by the minion (`<time>_<random>`: the suffix keeps it apart from the
//! master's jids) and its return travels as `Request::ScheduleReturn` with
//! the job's name, which the master stores in the job cache as this minion's
//! (Salt's scheduled returns carry `schedule: <name>` the same way); it goes
//! through the return outbox like any return.
//!
//! The schedule can change at run time (`schedule.add`, `modify`, `delete`,
//! `enable`, `disable`, `run_job`): it lives in a [`ScheduleStore`] shared by
//! the scheduler task and the `schedule.*` functions.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brine_common::functions::{Call, Functions};
use brine_common::ids::Jid;
pub use brine_common::schedule::JobSpec;
use brine_common::schedule::{JobState, due_jobs, is_paused, sync_jobs};
use brine_common::wire::JobReturn;
use rand::Rng;
use serde_json::{Map, Value, json};

use crate::executor::Unsettled;
use crate::link::Link;
use crate::modules::MinionCtx;
use crate::outbox::Pending;

/// How often the scheduler wakes (Salt's `loop_interval`).
const LOOP_INTERVAL: Duration = Duration::from_secs(1);

/// The minion's schedule, as `schedule.*` changes it at run time.
#[derive(Debug, Default)]
pub struct ScheduleStore {
    jobs: Mutex<Map<String, Value>>,
    /// Jobs `schedule.run_job` asked to run now.
    run_now: Mutex<Vec<String>>,
}

impl ScheduleStore {
    pub fn new(config: &Value) -> Self {
        ScheduleStore {
            jobs: Mutex::new(config.as_object().cloned().unwrap_or_default()),
            run_now: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Map<String, Value>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of the schedule.
    pub fn snapshot(&self) -> Map<String, Value> {
        self.lock().clone()
    }

    /// Change the schedule under the lock; returns what `f` returns.
    pub fn update<T>(&self, f: impl FnOnce(&mut Map<String, Value>) -> T) -> T {
        f(&mut self.lock())
    }

    /// Ask the scheduler to run `name` on its next tick.
    pub fn request_run(&self, name: &str) {
        self.run_now
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(name.to_string());
    }

    fn take_run_requests(&self) -> Vec<String> {
        std::mem::take(&mut *self.run_now.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Run the schedule until the process ends (a stopping minion aborts it, so
/// it starts nothing new). Started only for a real minion (`brine-minion`),
/// never for the swarm's simulated ones.
pub async fn run(ctx: MinionCtx, functions: Arc<Functions<MinionCtx>>, link: Link) {
    let store = ctx.schedule.clone();
    let mut jobs: HashMap<String, JobState> = HashMap::new();
    let mut tick = tokio::time::interval(LOOP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let config = effective_schedule(&ctx);
        let forced: HashSet<String> = store.take_run_requests().into_iter().collect();
        sync_jobs(&mut jobs, &config, Instant::now());
        let paused = is_paused(&config);
        if paused && forced.is_empty() {
            continue;
        }
        for name in due_jobs(&mut jobs, &forced, paused, Instant::now()) {
            if let Some(job) = jobs.get(&name) {
                start_run(&ctx, &functions, &link, &name, job);
            }
        }
    }
}

/// The schedule the minion runs: its own jobs over the pillar's (Salt's
/// `_get_schedule`).
pub fn effective_schedule(ctx: &MinionCtx) -> Map<String, Value> {
    ctx.over_pillar("schedule", ctx.schedule.snapshot())
}

/// A fresh minion-made jid: the time, then a random suffix.
pub fn schedule_jid() -> Option<Jid> {
    let base = brine_common::jid::jid_for_micros(jiff::Timestamp::now().as_microsecond());
    let suffix: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(12)
        .map(char::from)
        .collect();
    Jid::parse(&format!("{base}_{suffix}")).ok()
}

/// Run one job as its own task and send its return.
fn start_run(
    ctx: &MinionCtx,
    functions: &Arc<Functions<MinionCtx>>,
    link: &Link,
    name: &str,
    job: &JobState,
) {
    let Some(jid) = schedule_jid() else {
        return;
    };
    tracing::info!(%jid, schedule = name, fun = %job.spec.function, "running scheduled job");
    let (ctx, functions, link) = (ctx.clone(), functions.clone(), link.clone());
    let (name, spec, running) = (name.to_string(), job.spec.clone(), job.running.clone());
    running.fetch_add(1, Ordering::SeqCst);
    let unsettled = Unsettled::new(&ctx.running);
    tokio::spawn(async move {
        let call = job_call(&spec, &jid, &name);
        let ret = run_minion_job(&ctx, &functions, jid, call, spec.fun_args()).await;
        running.fetch_sub(1, Ordering::SeqCst);
        if !spec.return_job {
            return;
        }
        let pending = Pending::ScheduleReturn {
            schedule: name,
            ret,
        };
        deliver(&link, pending, unsettled).await;
    });
}

/// Run `call`, a job the minion started by itself (scheduled, or its
/// startup state run), under `jid`: its return.
pub async fn run_minion_job(
    ctx: &MinionCtx,
    functions: &Functions<MinionCtx>,
    jid: Jid,
    call: Call,
    fun_args: Vec<Value>,
) -> JobReturn {
    let fun = call.fun.clone();
    let outcome = functions.call(ctx.for_job(jid.clone()), call).await;
    JobReturn {
        jid,
        fun,
        fun_args,
        ret: outcome.ret,
        retcode: outcome.retcode,
        success: outcome.success,
        out: None,
    }
}

/// Put a finished job's return in the outbox (the job is settled then) and
/// send it until the master acknowledges it.
pub async fn deliver(link: &Link, pending: Pending, unsettled: Unsettled) {
    let delivery = link.outbox().persist(pending).await;
    drop(unsettled);
    delivery.send(link).await;
}

/// The call a job makes, with Salt's `__pub_*` bookkeeping.
fn job_call(spec: &JobSpec, jid: &Jid, name: &str) -> Call {
    let mut kwargs = spec.kwargs.clone();
    kwargs.insert("__pub_fun".into(), json!(spec.function));
    kwargs.insert("__pub_jid".into(), json!(jid));
    kwargs.insert("__pub_schedule".into(), json!(name));
    Call {
        fun: spec.function.clone(),
        args: spec.args.clone(),
        kwargs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_jids_have_a_suffix() {
        let jid = schedule_jid().expect("test value");
        assert!(jid.as_str().contains('_'));
        assert_ne!(jid, schedule_jid().expect("test value"));
    }
}
