//! Publishing a job: work out which minions should answer, record the job,
//! announce it on the bus (`salt/job/<jid>/new`) and send it to the minions.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brine_client::JobRequest;
use brine_common::event::{Event, tags};
use brine_common::ids::{Jid, MinionId};
use brine_common::target::{MinionFacts, Target, expand_nodegroups};
use brine_common::wire::{Publication, TargetSpec};
use serde_json::{Map, Value, json};

use crate::bus::JobEvents;
use crate::daemon::Master;
use crate::job_cache::JobRecord;
use crate::keys::KeyState;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{0}")]
    Target(#[from] brine_common::target::TargetError),
    #[error("key store: {0}")]
    Keys(#[from] crate::keys::KeyError),
    #[error("job cache: {0}")]
    Cache(String),
    #[error("publish: {0}")]
    Publish(#[from] crate::publisher::PublishError),
}

/// How many recent jobs the master keeps in memory for the return path.
const IN_FLIGHT_CAP: usize = 4096;

/// What the return path needs to know about a recent job.
#[derive(Debug)]
pub struct JobInFlight {
    pub user: String,
    /// The master that published the job, when it is another master of the
    /// cluster store: its acknowledgements, heartbeats and returns go there.
    pub origin: Option<i64>,
    /// The job's target (nodegroups expanded), to judge which minions may
    /// say they are running it.
    target: Target,
    progress: Mutex<Progress>,
}

#[derive(Debug)]
enum Progress {
    Open {
        /// The minions the job expects, when the target names them exactly
        /// (id-based targets); returns from anyone else are refused.
        exact: Option<HashSet<String>>,
        /// How many minions the master expected to match at publication.
        expected: usize,
        /// Who has returned already (only the first return counts).
        returned: HashSet<String>,
    },
    /// Every expected minion has returned. At 10,000 minions the id sets
    /// held about a megabyte, so they are gone; the job cache answers for
    /// whatever still arrives (re-sent returns, and for a grain or other
    /// non-id target, a minion the master did not expect to match).
    Complete { exact: bool },
}

/// What to do with a minion's return for a job in flight.
#[derive(Debug, PartialEq, Eq)]
pub enum ReturnVerdict {
    /// The first return of this minion: store it, fire its event.
    First,
    /// The minion returned already (a re-sent return): acknowledge only.
    Duplicate,
    /// The job was not for this minion.
    NotTargeted,
    /// The job is complete: the job cache knows whether this minion returned
    /// already. If it did not, an exact job was not for it (`exact`), while
    /// any other target lets it return as Salt does.
    AfterCompletion { exact: bool },
}

impl JobInFlight {
    /// `exact`: the expected minions when the target names them; otherwise
    /// `expected` is how many the master's data says will match.
    pub fn new(
        user: String,
        target: Target,
        exact: Option<HashSet<String>>,
        expected: usize,
    ) -> Self {
        let expected = exact.as_ref().map_or(expected, HashSet::len);
        JobInFlight {
            user,
            origin: None,
            target,
            progress: Mutex::new(Progress::Open {
                exact,
                expected,
                returned: HashSet::new(),
            }),
        }
    }

    /// Whether `minion` may acknowledge the job or heart-beat for it: an id
    /// target must name it; any other target must match the data the
    /// master holds for it (`facts` gives it for the keys the target reads).
    /// Without this, any accepted minion could keep a client waiting on a
    /// job that was never for it.
    pub fn is_for(
        &self,
        minion: &str,
        facts: impl FnOnce(&brine_common::target::DataNeeds) -> Option<Value>,
    ) -> bool {
        if self.target.is_id_only() {
            return self.target.matches_id(minion);
        }
        let data = facts(&self.target.data_needs());
        let facts = MinionFacts::from_cache(minion, data.as_ref());
        self.target.evaluate(&facts) == Some(true)
    }

    /// Record `minion`'s return and say what it is. The return that
    /// completes the expected set turns the job into a small marker.
    pub fn record_return(&self, minion: &str) -> ReturnVerdict {
        let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        let complete = match &mut *progress {
            Progress::Complete { exact } => {
                return ReturnVerdict::AfterCompletion { exact: *exact };
            }
            Progress::Open {
                exact,
                expected,
                returned,
            } => {
                if exact.as_ref().is_some_and(|ids| !ids.contains(minion)) {
                    return ReturnVerdict::NotTargeted;
                }
                if !returned.insert(minion.to_string()) {
                    return ReturnVerdict::Duplicate;
                }
                (returned.len() >= *expected).then(|| Progress::Complete {
                    exact: exact.is_some(),
                })
            }
        };
        if let Some(complete) = complete {
            *progress = complete;
        }
        ReturnVerdict::First
    }

    /// Un-count `minion`'s return: its first copy could not be stored, so
    /// the copy the minion sends again is the first. (A return that
    /// completed the job cannot be un-counted; the job cache answers for it,
    /// see the return path.)
    pub fn forget_return(&self, minion: &str) {
        let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        if let Progress::Open { returned, .. } = &mut *progress {
            returned.remove(minion);
        }
    }
}

/// The most recent jobs, so returns are checked and stored without reading
/// the job cache (and without a blocking thread per return).
#[derive(Default)]
pub struct InFlight {
    jobs: Mutex<BTreeMap<Jid, Arc<JobInFlight>>>,
    /// Held while a job is read back from the job cache, so that a crowd of
    /// returns for a job the master no longer holds reads it once.
    loading: tokio::sync::Mutex<()>,
}

impl InFlight {
    pub fn insert(&self, jid: Jid, job: JobInFlight) -> Arc<JobInFlight> {
        let job = Arc::new(job);
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.insert(jid, job.clone());
        // Jids sort by time: the oldest go first.
        while jobs.len() > IN_FLIGHT_CAP {
            jobs.pop_first();
        }
        job
    }

    /// Wait for the right to load a job from the job cache (see `loading`).
    pub async fn lock_loading(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.loading.lock().await
    }

    pub fn get(&self, jid: &Jid) -> Option<Arc<JobInFlight>> {
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(jid)
            .cloned()
    }
}

#[derive(Debug, Clone)]
pub enum PublishOutcome {
    Published {
        jid: Jid,
        minions: Vec<MinionId>,
        not_connected: Vec<MinionId>,
    },
    NoMinions,
}

/// Publish a job and wait for its returns: each minion's return event data
/// (`return`, `retcode`, ...), and the expected minions that did not return
/// within `timeout`. `None` when the target matched no minion.
pub async fn publish_and_wait(
    master: &Master,
    job: JobRequest,
    timeout: Duration,
) -> Result<Option<(BTreeMap<String, Value>, Vec<String>)>, String> {
    let (outcome, events) = publish(master, job, true)
        .await
        .map_err(|e| e.to_string())?;
    let (
        PublishOutcome::Published {
            jid,
            minions,
            not_connected,
        },
        Some(mut events),
    ) = (outcome, events)
    else {
        return Ok(None);
    };
    let names = |ids: Vec<MinionId>| ids.into_iter().map(|m| m.to_string()).collect::<Vec<_>>();
    let mut waiter = brine_client::wait::JobWaiter::new(
        jid.as_str(),
        &names(minions),
        &names(not_connected),
        timeout,
        std::time::Instant::now(),
    );
    let mut got = BTreeMap::new();
    waiter
        .drive(&mut events, |arrived| {
            got.insert(arrived.minion, arrived.data);
        })
        .await?;
    let missing = waiter.missing().into_iter().map(|(m, _)| m).collect();
    Ok(Some((got, missing)))
}

/// The accepted minions a target expects to answer.
///
/// Id-only targets are exact. Grain, pillar and address targets are evaluated
/// over the minion data cache (the grains and pillar each minion pushes after
/// every authentication and after its grains change); the minions themselves
/// stay the authority. A minion with no cached data is expected only if it is
/// connected right now (it has just authenticated and its data is on the
/// way). A disconnected minion without data is not waited for: if it catches
/// up on the publication later it decides for itself, and its return is still
/// accepted. This keeps "Minion did not return" for minions that were really
/// meant, where Salt's greedy match would list every uncached minion.
pub fn expected_minions(master: &Master, target: &Target) -> Result<Vec<MinionId>, JobError> {
    let accepted = master.keys.list(KeyState::Accepted)?;
    if target.is_id_only() {
        return Ok(accepted
            .into_iter()
            .filter(|id| target.matches_id(id.as_str()))
            .collect());
    }
    let connected = master.connected_minions();
    let needs = target.data_needs();
    Ok(accepted
        .into_iter()
        .filter(|id| {
            let data = master.minion_data.facts(id.as_str(), &needs);
            let facts = MinionFacts::from_cache(id.as_str(), data.as_ref());
            target
                .evaluate(&facts)
                .unwrap_or_else(|| connected.contains(id))
        })
        .collect())
}

/// The accepted minions a publication of `spec` would expect.
pub fn match_target(master: &Master, spec: &TargetSpec) -> Result<Vec<MinionId>, JobError> {
    let (_, target) = resolve_target(master, spec)?;
    expected_minions(master, &target)
}

/// Expand nodegroups and compile. Nodegroups become compound targets here,
/// as Salt's client expands them: minions, the job record and the events
/// all see the expanded target.
fn resolve_target(master: &Master, spec: &TargetSpec) -> Result<(TargetSpec, Target), JobError> {
    let tgt = expand_nodegroups(spec, &master.config.nodegroups)?;
    let target = Target::compile(&tgt)?;
    Ok((tgt, target))
}

/// Publish a job. With `watch`, also return the job's event stream, opened
/// before anything is published so no event can slip past.
pub async fn publish(
    master: &Master,
    job: JobRequest,
    watch: bool,
) -> Result<(PublishOutcome, Option<JobEvents>), JobError> {
    let (tgt, target) = resolve_target(
        master,
        &TargetSpec {
            tgt: job.tgt.clone(),
            tgt_type: job.tgt_type,
        },
    )?;
    let minions = expected_minions(master, &target)?;
    if minions.is_empty() {
        return Ok((PublishOutcome::NoMinions, None));
    }
    let jid = master.jids.next();
    let events = watch.then(|| master.bus.watch_job(&jid));
    let record = JobRecord {
        jid: jid.clone(),
        fun: job.fun.clone(),
        arg: job.arg.clone(),
        kwarg: job.kwarg.clone(),
        tgt: tgt.tgt.clone(),
        tgt_type: tgt.tgt_type,
        user: job.user.clone(),
        minions: minions.to_vec(),
        master: master.peers.as_ref().map(|p| p.origin()),
    };
    let exact = target
        .is_id_only()
        .then(|| minions.iter().map(|m| m.to_string()).collect());
    master.in_flight.insert(
        jid.clone(),
        JobInFlight::new(job.user.clone(), target.clone(), exact, minions.len()),
    );
    let cache = master.cache.clone();
    // The job is on disk before any minion can return for it.
    tokio::task::spawn_blocking(move || cache.save_job(&record).and_then(|()| cache.flush()))
        .await
        .map_err(|e| JobError::Cache(e.to_string()))?
        .map_err(|e| JobError::Cache(e.to_string()))?;
    master.bus.fire(Event::new(
        tags::job_new(jid.as_str()),
        json!({
            "arg": salt_arg_list(&job.arg, &job.kwarg),
            "fun": job.fun,
            "jid": jid,
            "minions": minions,
            "missing": [],
            "tgt": tgt.tgt.clone(),
            "tgt_type": tgt.tgt_type,
            "user": job.user,
        }),
    ));
    let publication = Publication {
        jid: jid.clone(),
        tgt,
        fun: job.fun,
        arg: job.arg,
        kwarg: job.kwarg,
        user: job.user,
        resent_to: None,
    };
    let listed = target.listed_ids().is_some();
    match listed {
        // A list target goes only to the listed minions' topics.
        true => master.publisher.to_minions(&minions, &publication)?,
        false => master.publisher.broadcast(&publication)?,
    }
    // The other masters publish it to their minions.
    if let Some(peers) = &master.peers
        && let Err(e) = peers
            .announce(&publication, listed.then_some(minions.as_slice()))
            .await
    {
        tracing::error!("job {jid} not relayed to the other masters: {e}");
    }
    let connected = master.connected_minions();
    let not_connected = minions
        .iter()
        .filter(|m| !connected.contains(*m))
        .cloned()
        .collect();
    let outcome = PublishOutcome::Published {
        jid,
        minions,
        not_connected,
    };
    Ok((outcome, events))
}

/// Publish again, at start, the recent jobs that expected minions have not
/// returned for: a master killed while a publication was going out may have
/// reached only part of the fleet, and its catch-up window did not survive
/// it. Each such job goes out once more with its own jid, to the accepted
/// minions it expected whose return is not in the job cache
/// (`Publication::resent_to`); a minion that ran it already (its return
/// still on the way, from memory or from its outbox) does not run it again.
/// Looks back `publish_recovery_seconds`, at most `publish_window` jobs.
/// Returns how many jobs went out again.
pub async fn publish_unfinished(master: &Master) -> Result<usize, JobError> {
    let lookback = master.config.publish_recovery_seconds;
    if lookback == 0 {
        return Ok(0);
    }
    let micros = i64::try_from(lookback)
        .unwrap_or(i64::MAX)
        .saturating_mul(1_000_000);
    let since = brine_common::jid::jid_for_micros(
        jiff::Timestamp::now()
            .as_microsecond()
            .saturating_sub(micros),
    );
    let accepted: HashSet<MinionId> = master.keys.list(KeyState::Accepted)?.into_iter().collect();
    let (cache, cap) = (master.cache.clone(), master.config.publish_window);
    let unfinished = tokio::task::spawn_blocking(move || {
        let jobs = cache.jobs_since(&since)?;
        let recent = &jobs[jobs.len().saturating_sub(cap)..];
        let mut unfinished = Vec::new();
        for job in recent {
            let returned: HashSet<String> = cache.returned_minions(&job.jid)?.into_iter().collect();
            let missing: Vec<MinionId> = job
                .minions
                .iter()
                .filter(|m| !returned.contains(m.as_str()) && accepted.contains(*m))
                .cloned()
                .collect();
            if !missing.is_empty() {
                unfinished.push((job.clone(), missing));
            }
        }
        Ok::<_, crate::job_cache::CacheError>(unfinished)
    })
    .await
    .map_err(|e| JobError::Cache(e.to_string()))?
    .map_err(|e| JobError::Cache(e.to_string()))?;
    for (job, missing) in &unfinished {
        tracing::info!(
            jid = %job.jid,
            fun = %job.fun,
            minions = missing.len(),
            "job published again to the expected minions that have not returned"
        );
        master.publisher.broadcast(&Publication {
            jid: job.jid.clone(),
            tgt: TargetSpec {
                tgt: job.tgt.clone(),
                tgt_type: job.tgt_type,
            },
            fun: job.fun.clone(),
            arg: job.arg.clone(),
            kwarg: job.kwarg.clone(),
            user: job.user.clone(),
            resent_to: Some(missing.clone()),
        })?;
    }
    Ok(unfinished.len())
}

/// The arguments as Salt's job events list them: the positional ones, then
/// the keyword ones as one dict marked `__kwarg__: True`.
fn salt_arg_list(arg: &[Value], kwarg: &Map<String, Value>) -> Vec<Value> {
    let mut out = arg.to_vec();
    if !kwarg.is_empty() {
        let mut packed = kwarg.clone();
        packed.insert("__kwarg__".into(), Value::Bool(true));
        out.push(Value::Object(packed));
    }
    out
}

#[cfg(test)]
mod in_flight_tests {
    use super::*;
    use brine_common::target::TargetType;

    fn target(tgt: &str, tgt_type: TargetType) -> Target {
        Target::compile(&TargetSpec {
            tgt: json!(tgt),
            tgt_type,
        })
        .expect("target")
    }

    #[test]
    fn exact_jobs_complete_when_everyone_returned() {
        use ReturnVerdict::*;
        let ids: HashSet<String> = ["a".to_string(), "b".to_string()].into();
        let job = JobInFlight::new("root".into(), target("a,b", TargetType::List), Some(ids), 0);
        assert_eq!(job.record_return("a"), First);
        assert_eq!(job.record_return("a"), Duplicate, "only the first counts");
        assert_eq!(job.record_return("x"), NotTargeted);
        assert_eq!(job.record_return("b"), First);
        assert_eq!(
            job.record_return("b"),
            AfterCompletion { exact: true },
            "a complete job has forgotten who returned"
        );
    }

    #[test]
    fn other_targets_complete_at_the_expected_count_and_stay_open_to_others() {
        use ReturnVerdict::*;
        let job = JobInFlight::new(
            "root".into(),
            target("role:web", TargetType::Grain),
            None,
            2,
        );
        assert_eq!(job.record_return("a"), First);
        assert_eq!(job.record_return("a"), Duplicate);
        assert_eq!(job.record_return("z"), First, "any minion may match");
        assert_eq!(job.record_return("c"), AfterCompletion { exact: false });
    }

    #[test]
    fn a_forgotten_return_counts_as_the_first_again() {
        use ReturnVerdict::*;
        let ids: HashSet<String> = ["a".to_string(), "b".to_string()].into();
        let job = JobInFlight::new("root".into(), target("a,b", TargetType::List), Some(ids), 0);
        assert_eq!(job.record_return("a"), First);
        job.forget_return("a");
        assert_eq!(job.record_return("a"), First, "not a duplicate");
        assert_eq!(job.record_return("a"), Duplicate);
    }

    #[test]
    fn only_minions_a_job_is_for_may_report_running_it() {
        let by_id = JobInFlight::new("root".into(), target("web*", TargetType::Glob), None, 1);
        assert!(by_id.is_for("web1", |_| None));
        assert!(!by_id.is_for("db1", |_| Some(json!({"grains": {}, "pillar": {}}))));
        let by_grain = JobInFlight::new(
            "root".into(),
            target("role:web", TargetType::Grain),
            None,
            1,
        );
        let grains = |role: &str| {
            let data = json!({"grains": {"role": role}, "pillar": {}});
            move |_: &brine_common::target::DataNeeds| Some(data)
        };
        assert!(by_grain.is_for("a", grains("web")));
        assert!(!by_grain.is_for("a", grains("db")));
        assert!(!by_grain.is_for("a", |_| None), "no data: not for it");
    }
}
