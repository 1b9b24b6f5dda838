//! The master's scheduler: Salt's master-side `schedule:` runs runner
//! functions (`function: jobs.list_jobs`, `function: state.orchestrate`,
//! ...) with the same job options and timing as the minion's scheduler
//! ([`brine_common::schedule`]). Each run fires `salt/run/<jid>/new` and
//! `salt/run/<jid>/ret` on the bus, as Salt's runner events look, with the
//! job's name under `schedule`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use brine_common::event::Event;
use brine_common::schedule::{JobSpec, JobState, due_jobs, is_paused, sync_jobs};
use serde_json::json;

use crate::daemon::Master;

/// How often the scheduler wakes (Salt's `loop_interval`).
const LOOP_INTERVAL: Duration = Duration::from_secs(1);

/// Run the master's schedule until the process ends (returns at once when
/// there is none).
pub async fn run(master: Arc<Master>) {
    let Some(config) = master.config.schedule.as_object().cloned() else {
        return;
    };
    for (name, item) in config.iter().filter(|(name, _)| *name != "enabled") {
        if let Err(e) = JobSpec::parse(item) {
            tracing::warn!("schedule job {name} in the master config cannot run: {e}");
        }
    }
    let mut jobs: HashMap<String, JobState> = HashMap::new();
    sync_jobs(&mut jobs, &config, Instant::now());
    // Masters sharing a cluster store run the schedule once: the one that
    // leads it. The others keep its timing, so a new leader goes on in step.
    let leads = master
        .peers
        .as_ref()
        .map(|peers| crate::peers::leadership(peers, "schedule"));
    let mut tick = tokio::time::interval(LOOP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if is_paused(&config) {
            continue;
        }
        let due = due_jobs(&mut jobs, &HashSet::new(), false, Instant::now());
        if leads.as_ref().is_some_and(|leads| !*leads.borrow()) {
            continue;
        }
        for name in due {
            if let Some(job) = jobs.get(&name) {
                start_run(&master, &name, job);
            }
        }
    }
}

/// Run one job's runner function as its own task, with its events.
fn start_run(master: &Arc<Master>, name: &str, job: &JobState) {
    let jid = master.jids.next();
    let (master, name, spec, running) = (
        master.clone(),
        name.to_string(),
        job.spec.clone(),
        job.running.clone(),
    );
    tracing::info!(%jid, schedule = %name, fun = %spec.function, "running scheduled runner");
    running.fetch_add(1, Ordering::SeqCst);
    // A stopping master ends the run at its next await.
    master.stop.clone().spawn(async move {
        let fun = format!("runner.{}", spec.function);
        let fun_args = spec.fun_args();
        master.bus.fire(Event::new(
            format!("salt/run/{jid}/new"),
            json!({"fun": fun, "fun_args": fun_args, "jid": jid, "user": "Scheduler", "schedule": name}),
        ));
        let outcome = crate::runners::run(
            &master,
            &spec.function,
            spec.args.clone(),
            spec.kwargs.clone(),
        )
        .await;
        running.fetch_sub(1, Ordering::SeqCst);
        let (ret, success) = match outcome {
            Ok((ret, retcode)) => (ret, retcode == 0),
            Err(e) => (json!(e.to_string()), false),
        };
        if !success {
            tracing::warn!(%jid, schedule = %name, "scheduled runner failed: {ret}");
        }
        master.bus.fire(Event::new(
            format!("salt/run/{jid}/ret"),
            json!({"fun": fun, "fun_args": fun_args, "jid": jid, "user": "Scheduler",
                   "schedule": name, "return": ret, "success": success}),
        ));
    });
}
