//! The job executor: runs each publication the minion matches as its own task.
//!
//! On receipt it acknowledges the job, while it runs it heart-beats, and when
//! it finishes the return goes to the [`crate::outbox`] (on disk) and then to
//! the master, re-sent until the master acknowledges it (so a return survives
//! a reconnect and a restart). A slow or failing job never blocks the minion
//! or other jobs; `saltutil.kill_job` aborts one. A stopping minion waits
//! for [`RunningJobs::wait_settled`].

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brine_common::functions::{Call, Functions};
use brine_common::ids::{Jid, MinionId};
use brine_common::target::{MinionFacts, Target};
use brine_common::wire::{JobReturn, Publication, Request};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};
use tokio::task::AbortHandle;

use crate::link::Link;
use crate::modules::MinionCtx;
use crate::outbox::Pending;

/// How many recent jids are remembered to refuse running one twice.
const SEEN_JIDS: usize = 4096;

/// A job in progress, as `saltutil.running` reports it.
#[derive(Clone)]
pub struct RunningJob {
    pub publication: Publication,
    abort: Option<AbortHandle>,
    /// Process groups the job's commands run in (`cmd.*`), killed with it.
    process_groups: Vec<i32>,
    /// Raised by `saltutil.kill_job`; a state run checks it between states
    /// (its blocking thread cannot be aborted).
    kill_flag: Arc<std::sync::atomic::AtomicBool>,
}

impl RunningJob {
    /// Salt's `saltutil.running` entry.
    pub fn describe(&self) -> Value {
        let p = &self.publication;
        json!({
            "jid": p.jid,
            "fun": p.fun,
            "arg": p.arg,
            "tgt": p.tgt.tgt,
            "tgt_type": p.tgt.tgt_type,
            "user": p.user,
            "pid": std::process::id(),
        })
    }
}

/// The jobs running now, shared with `saltutil.*`.
#[derive(Default)]
pub struct RunningJobs {
    inner: Mutex<BTreeMap<Jid, RunningJob>>,
    /// Jobs started whose return is not in the outbox yet (a stopping
    /// minion waits for none to be left). A counter and a `Notify` rather
    /// than a watch channel: a swarm holds thousands of these.
    unsettled: AtomicUsize,
    settled: Notify,
}

/// Held by a job (published or scheduled) from its start until its return
/// is in the outbox (or the job is gone): counted in [`RunningJobs`]'
/// `unsettled`, which a stopping minion waits on.
pub struct Unsettled(Arc<RunningJobs>);

impl Unsettled {
    pub fn new(jobs: &Arc<RunningJobs>) -> Self {
        jobs.unsettled.fetch_add(1, Ordering::SeqCst);
        Unsettled(jobs.clone())
    }
}

impl Drop for Unsettled {
    fn drop(&mut self) {
        if self.0.unsettled.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.settled.notify_waiters();
        }
    }
}

impl RunningJobs {
    /// Wait until every job started has ended with its return in the outbox
    /// (or was killed), or until `deadline`; true when none is left.
    pub async fn wait_settled(&self, deadline: tokio::time::Instant) -> bool {
        let settled = async {
            loop {
                // Registered before the check, so a job settling in between
                // is not missed.
                let notified = self.settled.notified();
                if self.unsettled.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout_at(deadline, settled).await.is_ok()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Jid, RunningJob>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, jid: &Jid) -> Option<RunningJob> {
        self.lock().get(jid).cloned()
    }

    pub fn list(&self) -> Vec<RunningJob> {
        self.lock().values().cloned().collect()
    }

    pub fn jids(&self) -> Vec<Jid> {
        self.lock().keys().cloned().collect()
    }

    /// Abort a running job and SIGKILL the process groups of the commands
    /// it started; true if it was running.
    pub fn kill(&self, jid: &Jid) -> bool {
        let Some(job) = self.lock().remove(jid) else {
            return false;
        };
        job.kill_flag
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(a) = job.abort {
            a.abort();
        }
        for pgid in job.process_groups {
            if let Err(e) = killpg(Pid::from_raw(pgid), Signal::SIGKILL) {
                tracing::debug!(%jid, pgid, "process group already gone: {e}");
            }
        }
        true
    }

    /// Remember that a command of job `jid` runs in process group `pgid`.
    pub fn add_process_group(&self, jid: &Jid, pgid: i32) {
        if let Some(job) = self.lock().get_mut(jid) {
            job.process_groups.push(pgid);
        }
    }

    /// The command in process group `pgid` finished.
    pub fn remove_process_group(&self, jid: &Jid, pgid: i32) {
        if let Some(job) = self.lock().get_mut(jid) {
            job.process_groups.retain(|g| *g != pgid);
        }
    }

    fn insert(&self, jid: Jid, job: RunningJob) {
        self.lock().insert(jid, job);
    }

    /// The kill flag of a running job (a fresh one if it is not running).
    pub fn kill_flag(&self, jid: &Jid) -> Arc<std::sync::atomic::AtomicBool> {
        self.lock()
            .get(jid)
            .map(|j| j.kill_flag.clone())
            .unwrap_or_default()
    }

    fn set_abort(&self, jid: &Jid, abort: AbortHandle) {
        if let Some(job) = self.lock().get_mut(jid) {
            job.abort = Some(abort);
        }
    }

    fn remove(&self, jid: &Jid) -> bool {
        self.lock().remove(jid).is_some()
    }
}

/// Run publications from `publications` until the channel closes.
/// `already_run`: jobs a previous run of this minion ran (their returns wait
/// in the outbox), which a restarted master may publish again.
pub async fn run(
    link: Link,
    functions: Arc<Functions<MinionCtx>>,
    ctx: MinionCtx,
    mut publications: mpsc::UnboundedReceiver<Box<Publication>>,
    heartbeat: Duration,
    already_run: Vec<Jid>,
) {
    tokio::spawn(heartbeat_task(link.clone(), ctx.running.clone(), heartbeat));
    let mut seen = SeenJids::default();
    for jid in already_run {
        seen.first_time(&jid);
    }
    while let Some(publication) = publications.recv().await {
        let publication = *publication;
        if !matches_me(&publication, link.id(), &ctx) {
            continue;
        }
        if !seen.first_time(&publication.jid) {
            tracing::debug!(jid = %publication.jid, "already ran this job");
            continue;
        }
        start_job(&link, &functions, &ctx, publication);
    }
}

/// The jids of the last [`SEEN_JIDS`] jobs started, to run each at most once
/// however many times it is published (catch-up, a restarted master).
#[derive(Default)]
struct SeenJids {
    order: VecDeque<Jid>,
    set: HashSet<Jid>,
}

impl SeenJids {
    /// Remember `jid`; false when it was remembered already.
    fn first_time(&mut self, jid: &Jid) -> bool {
        if !self.set.insert(jid.clone()) {
            return false;
        }
        self.order.push_back(jid.clone());
        if self.order.len() > SEEN_JIDS
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }
}

/// The minion decides for itself whether a publication is for it: its id,
/// and for grain, pillar and address targets its own grains and pillar.
fn matches_me(publication: &Publication, id: &MinionId, ctx: &MinionCtx) -> bool {
    if !publication.resent_to_includes(id) {
        return false;
    }
    let target = match Target::compile(&publication.tgt) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(jid = %publication.jid, "cannot match the target: {e}");
            return false;
        }
    };
    if target.is_id_only() {
        return target.matches_id(id.as_str());
    }
    let needs = target.data_needs();
    let store = ctx.grains.read().unwrap_or_else(|p| p.into_inner());
    let grains = store.for_keys(needs.grains.as_ref());
    let pillar = ctx.pillar.read().unwrap_or_else(|p| p.into_inner());
    target.matches(&MinionFacts::new(id.as_str(), &grains, &pillar))
}

fn start_job(
    link: &Link,
    functions: &Arc<Functions<MinionCtx>>,
    ctx: &MinionCtx,
    publication: Publication,
) {
    let jid = publication.jid.clone();
    let job_jid = jid.clone();
    let running_jobs = ctx.running.clone();
    let unsettled = Unsettled::new(&ctx.running);
    tracing::info!(%jid, fun = %publication.fun, "running job");
    ctx.running.insert(
        jid.clone(),
        RunningJob {
            publication: publication.clone(),
            abort: None,
            process_groups: Vec::new(),
            kill_flag: Default::default(),
        },
    );
    // Acknowledge soon, so the CLI knows the job arrived; a job that is
    // already done by then is acknowledged by its return alone, which halves
    // the requests for quick jobs on a large fleet.
    let (ack_link, ack_jid, ack_running) = (link.clone(), jid.clone(), ctx.running.clone());
    let ack_delay = Duration::from_secs_f64(ctx.config.job_ack_delay.max(0.0));
    tokio::spawn(async move {
        // With no delay configured, every job is acknowledged.
        if !ack_delay.is_zero() {
            tokio::time::sleep(ack_delay).await;
        }
        if ack_delay.is_zero() || ack_running.get(&ack_jid).is_some() {
            let _ = ack_link
                .request(Request::Ack { jid: ack_jid }, Duration::from_secs(10))
                .await;
        }
    });
    let running = ctx.running.clone();
    let (link, functions, ctx) = (link.clone(), functions.clone(), ctx.clone());
    let handle = tokio::spawn(async move {
        let call = to_call(&publication, link.id());
        let fun_args = fun_args(&publication);
        let mark = link
            .outbox()
            .mark_running(interrupted_return(&publication, &fun_args))
            .await;
        let outcome = functions.call(ctx.for_job(jid.clone()), call).await;
        if !running.remove(&jid) {
            return; // killed meanwhile (dropping the mark removes it)
        }
        let ret = JobReturn {
            jid,
            fun: publication.fun.clone(),
            fun_args,
            ret: outcome.ret,
            retcode: outcome.retcode,
            success: outcome.success,
            // Salt's minion marks state runs for the `highstate` outputter.
            out: crate::modules::state::RUN_FUNCTIONS
                .contains(&publication.fun.as_str())
                .then(|| "highstate".to_string()),
        };
        let delivery = link.outbox().persist(Pending::Return(ret)).await;
        drop(mark);
        drop(unsettled);
        delivery.send(&link).await;
    });
    // If the job already finished, its entry is gone and this does nothing.
    running_jobs.set_abort(&job_jid, handle.abort_handle());
}

/// What a job whose minion died while it ran returns (sent at the next start).
pub const INTERRUPTED: &str = "ERROR: the minion stopped (killed or crashed) while this job was running; it was not run again and may have done part of its work";

/// The return the next start sends if the minion dies while `p` runs.
fn interrupted_return(p: &Publication, fun_args: &[Value]) -> JobReturn {
    JobReturn {
        jid: p.jid.clone(),
        fun: p.fun.clone(),
        fun_args: fun_args.to_vec(),
        ret: json!(INTERRUPTED),
        retcode: 1,
        success: false,
        out: None,
    }
}

/// The call for a publication, with Salt's `__pub_*` keyword arguments.
fn to_call(p: &Publication, id: &MinionId) -> Call {
    let mut kwargs = p.kwarg.clone();
    kwargs.insert("__pub_fun".into(), json!(p.fun));
    kwargs.insert("__pub_jid".into(), json!(p.jid));
    kwargs.insert("__pub_pid".into(), json!(std::process::id()));
    kwargs.insert("__pub_tgt".into(), p.tgt.tgt.clone());
    kwargs.insert("__pub_tgt_type".into(), json!(p.tgt.tgt_type));
    kwargs.insert("__pub_user".into(), json!(p.user));
    kwargs.insert("__pub_minion_id".into(), json!(id));
    Call {
        fun: p.fun.clone(),
        args: p.arg.clone(),
        kwargs,
    }
}

/// Salt's `fun_args`: the positional args, then the kwargs as one dict.
fn fun_args(p: &Publication) -> Vec<Value> {
    let mut args = p.arg.clone();
    if !p.kwarg.is_empty() {
        args.push(Value::Object(p.kwarg.clone()));
    }
    args
}

async fn heartbeat_task(link: Link, running: Arc<RunningJobs>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let jids = running.jids();
        if !jids.is_empty() {
            // Boxed: the request's future would size this long-lived task.
            let _ = Box::pin(link.request(Request::Heartbeat { jids }, every)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jid_counts_once_until_it_leaves_the_remembered_window() {
        let jid = |n: usize| Jid::parse(&format!("20261207{n:012}")).expect("jid");
        let mut seen = SeenJids::default();
        assert!(seen.first_time(&jid(0)));
        assert!(!seen.first_time(&jid(0)), "the second time is refused");
        for n in 1..=SEEN_JIDS {
            assert!(seen.first_time(&jid(n)));
        }
        assert!(seen.first_time(&jid(0)), "the oldest was forgotten");
        assert!(!seen.first_time(&jid(SEEN_JIDS)));
    }

    /// A stopping minion waits for every started job until its return is in
    /// the outbox (the guard is dropped then), and no longer than asked.
    #[tokio::test]
    async fn stopping_waits_for_unsettled_jobs() {
        let jobs = Arc::new(RunningJobs::default());
        let soon = || tokio::time::Instant::now() + Duration::from_millis(50);
        assert!(jobs.wait_settled(soon()).await, "nothing to wait for");
        let job = Unsettled::new(&jobs);
        assert!(!jobs.wait_settled(soon()).await, "a job is unsettled");
        let waiter = tokio::spawn({
            let jobs = jobs.clone();
            async move {
                jobs.wait_settled(tokio::time::Instant::now() + Duration::from_secs(10))
                    .await
            }
        });
        drop(job);
        assert!(
            waiter.await.expect("waiter"),
            "settled once the guard is gone"
        );
    }
}
