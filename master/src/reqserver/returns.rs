//! The return path: a minion's job returns (for jobs the master published,
//! and for the jobs of its own scheduler), stored in the job cache and fired
//! as Salt's `salt/job/<jid>/ret/<id>` events.
//!
//! A minion drops a return from its outbox once the master says `Ok`, so the
//! master says it only once the return is committed: a handler queues the
//! write and answers with an [`Acknowledgement`] that waits for the batch
//! holding it (no commit of its own, see `job_cache`). A return the cache
//! cannot commit is answered with `CACHE_UNAVAILABLE`, which the minion takes
//! as "send it again later".

use std::sync::Arc;
use std::time::Duration;

use brine_common::event::tags;
use brine_common::ids::{Jid, MinionId};
use brine_common::target::{Target, TargetType};
use brine_common::wire::{JobReturn, Reply, TargetSpec};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::cache_unavailable;
use crate::bus::{BusEvent, EventBus};
use crate::daemon::Master;
use crate::job_cache::{
    CacheError, CommitState, JobCache, JobRecord, ReturnRecord, Ticket, committed,
};
use crate::jobs::{InFlight, JobInFlight, ReturnVerdict};
use crate::peers::Peers;

/// The longest a reply waits for the job cache's commit before it says the
/// cache is unavailable (a commit normally lands within tens of
/// milliseconds; a minion waits 30 s for an answer before it sends again).
const COMMIT_WAIT: Duration = Duration::from_secs(10);

/// A handler's answer: a reply to send now, or `Ok` to send once the job
/// cache has committed the write it acknowledges.
pub(super) enum Acknowledgement {
    Now(Reply),
    OnceCommitted(Ticket, watch::Receiver<CommitState>),
}

impl Acknowledgement {
    fn once_committed(cache: &dyn JobCache, ticket: Ticket) -> Self {
        Acknowledgement::OnceCommitted(ticket, cache.commits())
    }

    /// The reply to send: `Ok` only once what it acknowledges is on disk,
    /// otherwise the refusal that asks the minion to try again later.
    pub(super) async fn settle(self) -> Reply {
        let (ticket, commits) = match self {
            Acknowledgement::Now(reply) => return reply,
            Acknowledgement::OnceCommitted(ticket, commits) => (ticket, commits),
        };
        match tokio::time::timeout(COMMIT_WAIT, committed(commits, ticket)).await {
            Ok(Ok(())) => Reply::Ok,
            Ok(Err(e)) => cache_failure(e),
            Err(_) => {
                tracing::error!("job cache: no commit within {COMMIT_WAIT:?}");
                cache_unavailable()
            }
        }
    }
}

/// Finds a job the master published: in memory if recent, otherwise read
/// back from the job cache.
#[derive(Clone, Copy)]
pub(super) struct JobLookup<'a> {
    pub in_flight: &'a InFlight,
    pub cache: &'a Arc<dyn JobCache>,
}

impl<'a> JobLookup<'a> {
    pub(super) fn of(master: &'a Master) -> Self {
        JobLookup {
            in_flight: &master.in_flight,
            cache: &master.cache,
        }
    }

    /// The job `jid`, or why there is none to use (for the minion's reply).
    pub(super) async fn find(&self, jid: &Jid) -> Result<Arc<JobInFlight>, String> {
        match self.in_flight.get(jid) {
            Some(job) => Ok(job),
            None => self.load(jid).await,
        }
    }

    /// A job that is no longer (or not yet, after a restart) in memory: read
    /// it and the minions that already returned from the job cache, once
    /// however many of its returns arrive at the same time.
    async fn load(&self, jid: &Jid) -> Result<Arc<JobInFlight>, String> {
        let _loading = self.in_flight.lock_loading().await;
        if let Some(job) = self.in_flight.get(jid) {
            return Ok(job);
        }
        let (cache, id) = (self.cache.clone(), jid.clone());
        let loaded = tokio::task::spawn_blocking(move || {
            let job = cache.get_job(&id)?;
            let returned = match &job {
                Some(_) => cache.returned_minions(&id)?,
                None => Vec::new(),
            };
            Ok::<_, CacheError>((job, returned))
        })
        .await;
        let (job, returned) = match loaded {
            Ok(Ok((Some(job), returned))) => (job, returned),
            Ok(Ok((None, _))) => return Err(format!("no job {jid}")),
            Ok(Err(e)) => {
                tracing::error!("job cache read failed: {e}");
                return Err(brine_common::wire::CACHE_UNAVAILABLE.into());
            }
            Err(_) => return Err(brine_common::wire::CACHE_UNAVAILABLE.into()),
        };
        let in_flight = in_flight_from_record(job)?;
        for minion in returned {
            in_flight.record_return(&minion);
        }
        Ok(self.in_flight.insert(jid.clone(), in_flight))
    }
}

/// The return path's view of a job read back from the job cache.
fn in_flight_from_record(job: JobRecord) -> Result<JobInFlight, String> {
    let jid = &job.jid;
    let spec = TargetSpec {
        tgt: job.tgt.clone(),
        tgt_type: job.tgt_type,
    };
    let target = Target::compile(&spec).map_err(|e| {
        tracing::error!("job {jid} in the job cache has a bad target: {e}");
        format!("job {jid} has a bad target")
    })?;
    let expected = job.minions.len();
    let exact = target
        .is_id_only()
        .then(|| job.minions.iter().map(MinionId::to_string).collect());
    let mut in_flight = JobInFlight::new(job.user, target, exact, expected);
    in_flight.origin = job.master;
    Ok(in_flight)
}

/// The parts of the master that take returns.
pub(super) struct ReturnPath<'a> {
    pub jobs: JobLookup<'a>,
    pub bus: &'a EventBus,
    /// The other masters of the cluster store, if any.
    pub peers: Option<&'a Peers>,
}

impl<'a> ReturnPath<'a> {
    pub(super) fn of(master: &'a Master, jobs: JobLookup<'a>) -> Self {
        ReturnPath {
            jobs,
            bus: &master.bus,
            peers: master.peers.as_deref(),
        }
    }

    fn cache(&self) -> Arc<dyn JobCache> {
        self.jobs.cache.clone()
    }

    /// Store a return (only for a job the master published) and fire its event.
    pub(super) async fn ret(&self, minion: &MinionId, ret: JobReturn) -> Acknowledgement {
        let jid = ret.jid.clone();
        let job = match self.jobs.find(&jid).await {
            Ok(job) => job,
            Err(reason) => return Acknowledgement::Now(Reply::Refused { reason }),
        };
        match job.record_return(minion.as_str()) {
            ReturnVerdict::First => {}
            // A re-sent return (after a reconnect) is acknowledged again, not stored again.
            ReturnVerdict::Duplicate => return self.resent(&jid, minion).await,
            // A minion the job was not for has nothing to return (and must not
            // feed a reactor a `salt/job/<jid>/ret/<id>` event).
            ReturnVerdict::NotTargeted => return Acknowledgement::Now(not_targeted(&jid, minion)),
            ReturnVerdict::AfterCompletion { exact } => {
                return self.late_return(minion, ret, &job.user, exact).await;
            }
        }
        let record = ReturnRecord::from_return(&ret);
        let event = return_event(&ret, minion, &job.user, None, &record.stamp);
        match self.jobs.cache.store_return(&jid, minion, record) {
            Ok(ticket) => {
                if let (Some(peers), Some(origin)) = (self.peers, job.origin) {
                    peers.forward(origin, &event);
                }
                self.bus.fire_packed(event);
                Acknowledgement::once_committed(self.jobs.cache.as_ref(), ticket)
            }
            Err(e) => {
                // Nothing was stored: the copy the minion sends again is the first.
                job.forget_return(minion.as_str());
                Acknowledgement::Now(cache_failure(e))
            }
        }
    }

    /// A copy of a return the job in memory has counted already: `Ok` once
    /// the first copy is committed. A first copy not in the job cache yet
    /// (its own request is storing it this instant) is not promised: the
    /// minion sends it again.
    async fn resent(&self, jid: &Jid, minion: &MinionId) -> Acknowledgement {
        let (cache, jid, id) = (self.cache(), jid.clone(), minion.clone());
        match tokio::task::spawn_blocking(move || cache.stored_return(&jid, &id)).await {
            Ok(Ok(Some(ticket))) => {
                Acknowledgement::once_committed(self.jobs.cache.as_ref(), ticket)
            }
            Ok(Ok(None)) | Err(_) => Acknowledgement::Now(cache_unavailable()),
            Ok(Err(e)) => Acknowledgement::Now(cache_failure(e)),
        }
    }

    /// A return for a job whose expected minions have all returned: usually a
    /// re-sent one, which the job cache recognises. Otherwise the minion was not
    /// expected: refused for an exact target unless the job's record lists it
    /// (its first copy completed the job but could not be stored), stored for
    /// any other (a minion whose grains changed since the master last saw
    /// them still matches).
    async fn late_return(
        &self,
        minion: &MinionId,
        ret: JobReturn,
        user: &str,
        exact: bool,
    ) -> Acknowledgement {
        let (cache, jid, id) = (self.cache(), ret.jid.clone(), minion.clone());
        let record = ReturnRecord::from_return(&ret);
        let event = return_event(&ret, minion, user, None, &record.stamp);
        let late = tokio::task::spawn_blocking(move || {
            if exact {
                if let Some(ticket) = cache.stored_return(&jid, &id)? {
                    return Ok(Late::Resent(ticket));
                }
                let listed = cache
                    .get_job(&jid)?
                    .is_some_and(|job| job.minions.contains(&id));
                if !listed {
                    return Ok(Late::NotTargeted);
                }
            }
            cache.add_return(&jid, &id, record).map(Late::from)
        })
        .await;
        self.answer_late(late, event, &ret.jid, minion)
    }

    /// The answer to a return the job cache had the last word on.
    fn answer_late(
        &self,
        late: Result<Result<Late, CacheError>, tokio::task::JoinError>,
        event: BusEvent,
        jid: &Jid,
        minion: &MinionId,
    ) -> Acknowledgement {
        let cache = self.jobs.cache.as_ref();
        match late {
            Ok(Ok(Late::Resent(ticket))) => Acknowledgement::once_committed(cache, ticket),
            Ok(Ok(Late::Stored(ticket))) => {
                self.bus.fire_packed(event);
                Acknowledgement::once_committed(cache, ticket)
            }
            Ok(Ok(Late::NotTargeted)) => Acknowledgement::Now(not_targeted(jid, minion)),
            Ok(Err(e)) => Acknowledgement::Now(cache_failure(e)),
            Err(_) => Acknowledgement::Now(cache_unavailable()),
        }
    }

    /// A scheduled job's return: the master never published it, so it records
    /// the job (targeting only the returning minion, user `schedule`) and then
    /// the return. A jid without the minion's suffix, or one that belongs to
    /// another job, is refused; a re-sent return is acknowledged once more,
    /// neither stored nor fired again.
    pub(super) async fn schedule_return(
        &self,
        minion: &MinionId,
        schedule: String,
        ret: JobReturn,
    ) -> Acknowledgement {
        let made_by = MinionMade {
            kind: "scheduled job",
            user: "schedule",
            schedule: Some(schedule),
        };
        self.minion_made_return(minion, ret, made_by).await
    }

    /// The return of a job the minion started on its own (`startup_states`;
    /// Salt sends such a return with jid `req` and the master records it as
    /// a job of that minion alone). Stored as a scheduled return is, by the
    /// user Salt's job listing shows for such a job (`root`); the jid is
    /// the minion's, so a re-sent return is stored once.
    pub(super) async fn standalone_return(
        &self,
        minion: &MinionId,
        ret: JobReturn,
    ) -> Acknowledgement {
        let made_by = MinionMade {
            kind: "startup job",
            user: STANDALONE_USER,
            schedule: None,
        };
        self.minion_made_return(minion, ret, made_by).await
    }

    /// Record a job the minion ran without a publication (for it alone, run
    /// by `made_by.user`), then its return; see [`Self::schedule_return`].
    async fn minion_made_return(
        &self,
        minion: &MinionId,
        ret: JobReturn,
        made_by: MinionMade,
    ) -> Acknowledgement {
        let (jid, kind) = (ret.jid.clone(), made_by.kind);
        if !jid.as_str().contains('_') {
            return Acknowledgement::Now(Reply::Refused {
                reason: format!("{kind} {jid} needs a minion-made jid"),
            });
        }
        let record = minion_job_record(minion, &ret, made_by.user);
        let (cache, stored) = (self.cache(), ReturnRecord::from_return(&ret));
        let schedule = made_by.schedule.as_deref();
        let event = return_event(&ret, minion, made_by.user, schedule, &stored.stamp);
        let id = minion.clone();
        let saved = tokio::task::spawn_blocking(move || {
            match cache.get_job(&record.jid)? {
                // Its job is recorded: a re-sent return, stored only if the
                // first copy's never was.
                Some(existing) if existing == record => {
                    cache.add_return(&record.jid, &id, stored).map(Late::from)
                }
                Some(_) => Ok(Late::NotTargeted),
                None => {
                    cache.save_job(&record)?;
                    // Its ticket covers the job record, accepted before it.
                    cache
                        .store_return(&record.jid, &id, stored)
                        .map(Late::Stored)
                }
            }
        })
        .await;
        if let Ok(Ok(Late::NotTargeted)) = saved {
            return Acknowledgement::Now(Reply::Refused {
                reason: format!("job {jid} is not a {kind} of {minion}"),
            });
        }
        self.answer_late(saved, event, &jid, minion)
    }
}

/// How a job the minion ran without a publication is recorded.
struct MinionMade {
    /// What it is, for refusals.
    kind: &'static str,
    /// The job record's user.
    user: &'static str,
    /// The scheduled job's name, for the return event.
    schedule: Option<String>,
}

/// The user of a job a minion started on its own, as Salt's job listing
/// shows it (its `req` load has no user).
const STANDALONE_USER: &str = "root";

/// The job record of a job the minion ran by itself (scheduled, or a
/// startup state run): for the returning minion only, run by `user`.
fn minion_job_record(minion: &MinionId, ret: &JobReturn, user: &str) -> JobRecord {
    JobRecord {
        jid: ret.jid.clone(),
        fun: ret.fun.clone(),
        arg: ret.fun_args.clone(),
        kwarg: Default::default(),
        tgt: json!(minion),
        tgt_type: TargetType::Glob,
        user: user.into(),
        minions: vec![minion.clone()],
        master: None,
    }
}

/// What a return the job cache has the last word on (one after its job's
/// completion, or a scheduled one) turned out to be, with the ticket of the
/// stored return's write.
enum Late {
    Resent(Ticket),
    Stored(Ticket),
    NotTargeted,
}

impl From<crate::job_cache::Added> for Late {
    fn from(added: crate::job_cache::Added) -> Self {
        if added.first {
            Late::Stored(added.ticket)
        } else {
            Late::Resent(added.ticket)
        }
    }
}

pub(super) fn not_targeted(jid: &Jid, minion: &MinionId) -> Reply {
    Reply::Refused {
        reason: format!("job {jid} was not for {minion}"),
    }
}

fn cache_failure(e: CacheError) -> Reply {
    tracing::error!("job cache failed: {e}");
    cache_unavailable()
}

/// Salt's `salt/job/<jid>/ret/<id>` event, stamped with the `_stamp` of the
/// return's record in the job cache (one receive time, formatted once).
pub fn return_event(
    ret: &JobReturn,
    minion: &MinionId,
    user: &str,
    schedule: Option<&str>,
    stamp: &str,
) -> BusEvent {
    let data = ReturnEventData {
        stamp,
        cmd: "_return",
        fun: &ret.fun,
        fun_args: &ret.fun_args,
        id: minion.as_str(),
        jid: ret.jid.as_str(),
        out: ret.out.as_deref(),
        retcode: ret.retcode,
        ret: &ret.ret,
        schedule,
        success: ret.success,
        ts: jiff::Timestamp::now().as_second(),
        user,
    };
    BusEvent::from_data(tags::job_ret(ret.jid.as_str(), minion.as_str()), &data)
}

/// The data of a `salt/job/<jid>/ret/<id>` event, as Salt fires it (plus the
/// `schedule` of a scheduled job's return). Packed straight from the return,
/// without building (and copying the return into) a JSON tree first.
#[derive(serde::Serialize)]
struct ReturnEventData<'a> {
    #[serde(rename = "_stamp")]
    stamp: &'a str,
    cmd: &'static str,
    fun: &'a str,
    fun_args: &'a [Value],
    id: &'a str,
    jid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    out: Option<&'a str>,
    retcode: i32,
    #[serde(rename = "return")]
    ret: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule: Option<&'a str>,
    success: bool,
    ts: i64,
    user: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job_cache::RedbJobCache;

    fn id(name: &str) -> MinionId {
        MinionId::parse(name).expect("id")
    }

    fn jid() -> Jid {
        Jid::parse("20261122063000123456").expect("jid")
    }

    fn job_return(jid: &Jid) -> JobReturn {
        JobReturn {
            jid: jid.clone(),
            fun: "test.ping".into(),
            fun_args: Vec::new(),
            ret: json!(true),
            retcode: 0,
            success: true,
            out: None,
        }
    }

    fn target(tgt: &str, tgt_type: TargetType) -> Target {
        Target::compile(&TargetSpec {
            tgt: json!(tgt),
            tgt_type,
        })
        .expect("target")
    }

    /// The job record of a `test.ping` for web1 only.
    fn web1_job_record() -> JobRecord {
        JobRecord {
            jid: jid(),
            fun: "test.ping".into(),
            arg: Vec::new(),
            kwarg: Default::default(),
            tgt: json!("web1"),
            tgt_type: TargetType::List,
            user: "root".into(),
            minions: vec![id("web1")],
            master: None,
        }
    }

    /// A job cache, the jobs in memory and the bus: all the return path uses.
    struct Parts {
        _dir: tempfile::TempDir,
        /// The cache itself, for its test switches.
        redb: Arc<RedbJobCache>,
        cache: Arc<dyn JobCache>,
        in_flight: InFlight,
        bus: EventBus,
    }

    impl Parts {
        fn new() -> Self {
            let dir = tempfile::tempdir().expect("dir");
            let redb = Arc::new(RedbJobCache::open(dir.path().join("jobs.redb")).expect("cache"));
            Parts {
                _dir: dir,
                cache: redb.clone(),
                redb,
                in_flight: InFlight::default(),
                bus: EventBus::new(),
            }
        }

        /// A job in memory for exactly the minions `ids`.
        fn exact_job(&self, ids: &[&str]) -> Arc<JobInFlight> {
            let job = JobInFlight::new(
                "root".into(),
                target(&ids.join(","), TargetType::List),
                Some(ids.iter().map(|i| i.to_string()).collect()),
                0,
            );
            self.in_flight.insert(jid(), job)
        }

        fn path(&self) -> ReturnPath<'_> {
            ReturnPath {
                jobs: JobLookup {
                    in_flight: &self.in_flight,
                    cache: &self.cache,
                },
                bus: &self.bus,
                peers: None,
            }
        }

        fn stored(&self, jid: &Jid) -> Vec<String> {
            self.cache.flush().expect("flush");
            self.cache
                .returns(jid)
                .expect("returns")
                .into_keys()
                .collect()
        }
    }

    /// The answer to `minion`'s return for `job`, once it is settled.
    async fn answer(path: &ReturnPath<'_>, minion: &str, job: &Jid) -> Reply {
        path.ret(&id(minion), job_return(job)).await.settle().await
    }

    fn refused(reply: &Reply) -> Option<&str> {
        match reply {
            Reply::Refused { reason } => Some(reason),
            _ => None,
        }
    }

    /// The first return of a targeted minion is stored and fired once; a
    /// re-sent one is only acknowledged; a minion the job was not for is
    /// refused and fires nothing.
    #[tokio::test]
    async fn a_return_is_stored_and_fired_once_and_only_from_a_target() {
        let parts = Parts::new();
        let mut events = parts.bus.subscribe();
        parts.exact_job(&["web1", "web2"]);
        let path = parts.path();

        let reply = answer(&path, "web1", &jid()).await;
        assert!(matches!(reply, Reply::Ok), "{reply:?}");
        let event = events.try_recv().expect("a return event").unpack();
        assert_eq!(event.tag, format!("salt/job/{}/ret/web1", jid()));
        assert_eq!(event.data["user"], json!("root"));

        let reply = answer(&path, "web1", &jid()).await;
        assert!(matches!(reply, Reply::Ok), "a re-sent return: {reply:?}");
        let reply = answer(&path, "db1", &jid()).await;
        let reason = refused(&reply).expect("refused");
        assert!(reason.contains("was not for db1"), "{reason}");
        assert!(events.try_recv().is_err(), "no second event, none for db1");
        assert_eq!(parts.stored(&jid()), ["web1"]);
    }

    /// After a restart the job is read back from the job cache, with the
    /// minions that returned already.
    #[tokio::test]
    async fn a_job_only_in_the_cache_is_read_back() {
        let parts = Parts::new();
        let record = JobRecord {
            jid: jid(),
            fun: "test.ping".into(),
            arg: Vec::new(),
            kwarg: Default::default(),
            tgt: json!("web1,web2"),
            tgt_type: TargetType::List,
            user: "root".into(),
            minions: vec![id("web1"), id("web2")],
            master: None,
        };
        parts.cache.save_job(&record).expect("save");
        let stamp = ReturnRecord::from_return(&job_return(&jid()));
        parts
            .cache
            .store_return(&jid(), &id("web1"), stamp)
            .expect("store");
        parts.cache.flush().expect("flush");
        let path = parts.path();

        let reply = answer(&path, "web2", &jid()).await;
        assert!(matches!(reply, Reply::Ok), "{reply:?}");
        assert!(parts.in_flight.get(&jid()).is_some(), "now in memory");
        let reply = answer(&path, "web1", &jid()).await;
        assert!(
            matches!(reply, Reply::Ok),
            "re-sent after the restart: {reply:?}"
        );
        assert_eq!(parts.stored(&jid()), ["web1", "web2"]);

        let unknown = Jid::parse("20261122063000999999").expect("jid");
        let reply = answer(&path, "web1", &unknown).await;
        assert_eq!(refused(&reply), Some(format!("no job {unknown}").as_str()));
    }

    /// A return re-sent from a minion's outbox (its acknowledgement was lost,
    /// or the minion restarted) is acknowledged, so the minion drops it, and
    /// neither stored nor fired again: after the job completed, for an exact
    /// target and for any other, and after a master restart.
    #[tokio::test]
    async fn a_resent_return_is_acknowledged_and_not_stored_or_fired_again() {
        let parts = Parts::new();
        let mut events = parts.bus.subscribe();
        let grain_jid = Jid::parse("20261122063000654321").expect("jid");
        let exact = JobInFlight::new(
            "root".into(),
            target("web1", TargetType::List),
            Some(["web1".to_string()].into()),
            0,
        );
        let by_grain = JobInFlight::new(
            "root".into(),
            target("role:web", TargetType::Grain),
            None,
            1,
        );
        parts.in_flight.insert(jid(), exact);
        parts.in_flight.insert(grain_jid.clone(), by_grain);
        let path = parts.path();
        for job in [jid(), grain_jid.clone()] {
            let reply = answer(&path, "web1", &job).await;
            assert!(matches!(reply, Reply::Ok), "{reply:?}");
            assert!(events.try_recv().is_ok(), "the first return is fired");
            // Both jobs are complete now: the job cache answers.
            let reply = answer(&path, "web1", &job).await;
            assert!(matches!(reply, Reply::Ok), "re-sent: {reply:?}");
            assert!(events.try_recv().is_err(), "a re-sent return fires nothing");
            assert_eq!(parts.stored(&job), ["web1"]);
        }

        // A restarted master knows only what the job cache holds.
        let restarted = Parts {
            _dir: tempfile::tempdir().expect("dir"),
            redb: parts.redb.clone(),
            cache: parts.cache.clone(),
            in_flight: InFlight::default(),
            bus: EventBus::new(),
        };
        let mut events = restarted.bus.subscribe();
        parts.cache.save_job(&web1_job_record()).expect("save");
        let reply = answer(&restarted.path(), "web1", &jid()).await;
        assert!(
            matches!(reply, Reply::Ok),
            "re-sent after a restart: {reply:?}"
        );
        assert!(
            events.try_recv().is_err(),
            "nothing fired after the restart"
        );
        assert_eq!(restarted.stored(&jid()), ["web1"]);
    }

    /// A scheduled job is recorded as the returning minion's own; its jid must
    /// be minion-made, and another minion cannot return under it.
    #[tokio::test]
    async fn a_scheduled_return_is_recorded_for_its_minion_only() {
        let parts = Parts::new();
        let mut events = parts.bus.subscribe();
        let path = parts.path();
        let own = Jid::parse("20261122063000123456_1").expect("jid");

        let reply = path
            .schedule_return(&id("web1"), "nightly".into(), job_return(&own))
            .await
            .settle()
            .await;
        assert!(matches!(reply, Reply::Ok), "{reply:?}");
        let event = events.try_recv().expect("an event");
        assert_eq!(event.data()["schedule"], json!("nightly"));
        let job = parts.cache.get_job(&own).expect("read").expect("a job");
        assert_eq!(
            (job.user.as_str(), job.minions.as_slice()),
            ("schedule", &[id("web1")][..])
        );

        let reply = path
            .schedule_return(&id("web1"), "nightly".into(), job_return(&own))
            .await
            .settle()
            .await;
        assert!(matches!(reply, Reply::Ok), "re-sent: {reply:?}");
        assert!(events.try_recv().is_err(), "a re-sent return fires nothing");
        assert_eq!(parts.stored(&own), ["web1"]);
        let reply = path
            .schedule_return(&id("web2"), "nightly".into(), job_return(&own))
            .await
            .settle()
            .await;
        assert!(refused(&reply).is_some_and(|r| r.contains("not a scheduled job of web2")));
        let reply = path
            .schedule_return(&id("web1"), "nightly".into(), job_return(&jid()))
            .await
            .settle()
            .await;
        assert!(refused(&reply).is_some_and(|r| r.contains("minion-made jid")));
    }

    /// A startup state run's return (Salt's jid `req`) is recorded as a job
    /// of its minion alone, by Salt's listed user `root`, stored once.
    #[tokio::test]
    async fn a_standalone_return_is_recorded_as_its_minions_job() {
        let parts = Parts::new();
        let mut events = parts.bus.subscribe();
        let path = parts.path();
        let own = Jid::parse("20261122063000123456_startup").expect("jid");
        let reply = path
            .standalone_return(&id("web1"), job_return(&own))
            .await
            .settle()
            .await;
        assert!(matches!(reply, Reply::Ok), "{reply:?}");
        let event = events.try_recv().expect("an event");
        assert!(event.data().get("schedule").is_none_or(|s| s.is_null()));
        let job = parts.cache.get_job(&own).expect("read").expect("a job");
        assert_eq!(
            (job.user.as_str(), job.minions.as_slice()),
            ("root", &[id("web1")][..])
        );
        let reply = path
            .standalone_return(&id("web1"), job_return(&own))
            .await
            .settle()
            .await;
        assert!(matches!(reply, Reply::Ok), "re-sent: {reply:?}");
        assert_eq!(parts.stored(&own), ["web1"]);
        // Another minion cannot add its return to web1's job by sending
        // the same jid: the job is web1's alone.
        let reply = path
            .standalone_return(&id("web2"), job_return(&own))
            .await
            .settle()
            .await;
        assert!(
            refused(&reply).is_some_and(|r| r.contains("is not a startup job of web2")),
            "{reply:?}"
        );
        assert_eq!(parts.stored(&own), ["web1"]);
        let reply = path
            .standalone_return(&id("web1"), job_return(&jid()))
            .await
            .settle()
            .await;
        assert!(refused(&reply).is_some_and(|r| r.contains("minion-made jid")));
    }

    /// `Ok` means committed: a return accepted while commits fail is refused
    /// with the answer that makes the minion send it again (its event is
    /// fired, it is stored and readable); the copy sent once the disk works
    /// again is acknowledged, on disk, and fired no second time.
    #[tokio::test]
    async fn a_return_is_acknowledged_only_once_committed() {
        let parts = Parts::new();
        let mut events = parts.bus.subscribe();
        parts.exact_job(&["web1"]);
        let path = parts.path();
        parts.redb.fail_commits(true);
        let reply = answer(&path, "web1", &jid()).await;
        assert_eq!(refused(&reply), Some(brine_common::wire::CACHE_UNAVAILABLE));
        assert!(!parts.redb.return_on_disk(&jid(), &id("web1")));
        assert!(events.try_recv().is_ok(), "fired when first stored");

        parts.redb.fail_commits(false);
        let reply = answer(&path, "web1", &jid()).await;
        assert!(matches!(reply, Reply::Ok), "{reply:?}");
        assert!(
            parts.redb.return_on_disk(&jid(), &id("web1")),
            "on disk when acknowledged"
        );
        assert!(events.try_recv().is_err(), "not fired again");
        assert_eq!(parts.stored(&jid()), ["web1"]);
    }

    /// A return the job cache cannot take (its writer is gone) is refused
    /// with the answer that makes the minion send it again, fires nothing,
    /// and is not counted: the next copy is the first, not a duplicate.
    #[tokio::test]
    async fn a_return_that_cannot_be_stored_is_refused_and_not_counted() {
        let parts = Parts::new();
        let mut events = parts.bus.subscribe();
        let job = parts.exact_job(&["web1", "web2"]);
        parts.redb.stop_writer();
        let reply = answer(&parts.path(), "web1", &jid()).await;
        assert_eq!(refused(&reply), Some(brine_common::wire::CACHE_UNAVAILABLE));
        assert!(events.try_recv().is_err(), "nothing fired");
        assert_eq!(job.record_return("web1"), ReturnVerdict::First);
    }

    /// The return that completed an exact job but could not be stored comes
    /// again: the job's record lists the minion, so it is stored and fired,
    /// not refused as a minion the job was not for.
    #[tokio::test]
    async fn a_completing_return_that_was_not_stored_is_taken_when_sent_again() {
        let parts = Parts::new();
        let mut events = parts.bus.subscribe();
        parts.cache.save_job(&web1_job_record()).expect("save");
        // Counted (the job is complete), never stored.
        assert_eq!(
            parts.exact_job(&["web1"]).record_return("web1"),
            ReturnVerdict::First
        );
        let path = parts.path();
        let reply = answer(&path, "web1", &jid()).await;
        assert!(matches!(reply, Reply::Ok), "{reply:?}");
        assert!(parts.redb.return_on_disk(&jid(), &id("web1")));
        assert!(events.try_recv().is_ok(), "fired");
        let reply = answer(&path, "db1", &jid()).await;
        assert!(refused(&reply).is_some_and(|r| r.contains("was not for db1")));
    }

    /// The packed event holds what Salt's return event holds.
    #[test]
    fn a_return_event_carries_salts_fields() {
        let jid = jid();
        let ret = JobReturn {
            jid: jid.clone(),
            fun: "test.echo".into(),
            fun_args: vec![json!("hi")],
            ret: json!({"a": [1, 2.5]}),
            retcode: 0,
            success: true,
            out: Some("highstate".into()),
        };
        let web1 = id("web1");
        let stamp = "2026-11-22T06:30:00.123456";
        let event = return_event(&ret, &web1, "root", None, stamp).unpack();
        assert_eq!(event.tag, format!("salt/job/{jid}/ret/web1"));
        let mut data = event.data;
        let map = data.as_object_mut().expect("a map");
        assert_eq!(map.remove("_stamp"), Some(json!(stamp)));
        assert!(map.remove("ts").is_some_and(|t| t.is_i64()));
        assert_eq!(
            data,
            json!({
                "cmd": "_return", "fun": "test.echo", "fun_args": ["hi"], "id": "web1",
                "jid": jid.as_str(), "out": "highstate", "retcode": 0,
                "return": {"a": [1, 2.5]}, "success": true, "user": "root",
            })
        );
        let scheduled = return_event(&ret, &web1, "schedule", Some("nightly"), stamp).data();
        assert_eq!(scheduled["schedule"], json!("nightly"));
        assert_eq!(scheduled["user"], json!("schedule"));
    }
}
