//! The return path: a minion's job returns (for jobs the master published,
//! and for the jobs of its own scheduler), stored in the job cache and fired
//! as Salt's `salt/job/<jid>/ret/<id>` events.

use std::sync::Arc;

use brine_common::event::tags;
use brine_common::ids::{Jid, MinionId};
use brine_common::target::{Target, TargetType};
use brine_common::wire::{JobReturn, Reply, TargetSpec};
use serde_json::{Value, json};

use super::cache_unavailable;
use crate::bus::{BusEvent, EventBus};
use crate::daemon::Master;
use crate::job_cache::{CacheError, JobCache, JobRecord, ReturnRecord};
use crate::jobs::{InFlight, JobInFlight, ReturnVerdict};

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
    Ok(JobInFlight::new(job.user, target, exact, expected))
}

/// The parts of the master that take returns.
pub(super) struct ReturnPath<'a> {
    pub jobs: JobLookup<'a>,
    pub bus: &'a EventBus,
}

impl<'a> ReturnPath<'a> {
    pub(super) fn of(master: &'a Master, jobs: JobLookup<'a>) -> Self {
        ReturnPath {
            jobs,
            bus: &master.bus,
        }
    }

    fn cache(&self) -> Arc<dyn JobCache> {
        self.jobs.cache.clone()
    }

    /// Store a return (only for a job the master published) and fire its event.
    pub(super) async fn ret(&self, minion: &MinionId, ret: JobReturn) -> Reply {
        let jid = ret.jid.clone();
        let job = match self.jobs.find(&jid).await {
            Ok(job) => job,
            Err(reason) => return Reply::Refused { reason },
        };
        match job.record_return(minion.as_str()) {
            ReturnVerdict::First => {}
            // A re-sent return (after a reconnect) is acknowledged again, not stored again.
            ReturnVerdict::Duplicate => return Reply::Ok,
            // A minion the job was not for has nothing to return (and must not
            // feed a reactor a `salt/job/<jid>/ret/<id>` event).
            ReturnVerdict::NotTargeted => return not_targeted(&jid, minion),
            ReturnVerdict::AfterCompletion { exact } => {
                return self.late_return(minion, ret, &job.user, exact).await;
            }
        }
        let record = ReturnRecord::from_return(&ret);
        let event = return_event(&ret, minion, &job.user, None, &record.stamp);
        if let Err(e) = self.jobs.cache.store_return(&jid, minion, record) {
            return cache_failure(e);
        }
        self.bus.fire_packed(event);
        Reply::Ok
    }

    /// A return for a job whose expected minions have all returned: usually a
    /// re-sent one, which the job cache recognises. Otherwise the minion was not
    /// expected: refused for an exact target, stored for any other (a minion
    /// whose grains changed since the master last saw them still matches).
    async fn late_return(
        &self,
        minion: &MinionId,
        ret: JobReturn,
        user: &str,
        exact: bool,
    ) -> Reply {
        let (cache, jid, id) = (self.cache(), ret.jid.clone(), minion.clone());
        let record = ReturnRecord::from_return(&ret);
        let event = return_event(&ret, minion, user, None, &record.stamp);
        let late = tokio::task::spawn_blocking(move || {
            if exact {
                let had = cache.has_return(&jid, &id)?;
                Ok(if had { Late::Resent } else { Late::NotTargeted })
            } else {
                let new = cache.add_return(&jid, &id, record)?;
                Ok(if new { Late::Stored } else { Late::Resent })
            }
        })
        .await;
        match late {
            Ok(Ok(Late::Resent)) => Reply::Ok,
            Ok(Ok(Late::Stored)) => {
                self.bus.fire_packed(event);
                Reply::Ok
            }
            Ok(Ok(Late::NotTargeted)) => not_targeted(&ret.jid, minion),
            Ok(Err(e)) => cache_failure(e),
            Err(_) => cache_unavailable(),
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
    ) -> Reply {
        let jid = ret.jid.clone();
        if !jid.as_str().contains('_') {
            return Reply::Refused {
                reason: format!("scheduled job {jid} needs a minion-made jid"),
            };
        }
        let record = scheduled_job_record(minion, &ret);
        let (cache, stored) = (self.cache(), ReturnRecord::from_return(&ret));
        let event = return_event(&ret, minion, "schedule", Some(&schedule), &stored.stamp);
        let id = minion.clone();
        let saved = tokio::task::spawn_blocking(move || {
            match cache.get_job(&record.jid)? {
                // Its job is recorded: a re-sent return, stored only if the
                // first copy's never was.
                Some(existing) if existing == record => {
                    if !cache.add_return(&record.jid, &id, stored)? {
                        return Ok(Late::Resent);
                    }
                }
                Some(_) => return Ok(Late::NotTargeted),
                None => {
                    cache.save_job(&record)?;
                    cache.store_return(&record.jid, &id, stored)?;
                }
            }
            cache.flush().map(|()| Late::Stored)
        })
        .await;
        match saved {
            Ok(Ok(Late::Stored)) => {
                self.bus.fire_packed(event);
                Reply::Ok
            }
            Ok(Ok(Late::Resent)) => Reply::Ok,
            Ok(Ok(Late::NotTargeted)) => Reply::Refused {
                reason: format!("job {jid} is not a scheduled job of {minion}"),
            },
            Ok(Err(e)) => cache_failure(e),
            Err(_) => cache_unavailable(),
        }
    }
}

/// The job record of a scheduled job: for the returning minion only, run
/// by user `schedule`.
fn scheduled_job_record(minion: &MinionId, ret: &JobReturn) -> JobRecord {
    JobRecord {
        jid: ret.jid.clone(),
        fun: ret.fun.clone(),
        arg: ret.fun_args.clone(),
        kwarg: Default::default(),
        tgt: json!(minion),
        tgt_type: TargetType::Glob,
        user: "schedule".into(),
        minions: vec![minion.clone()],
    }
}

/// What a return the job cache has the last word on (one after its job's
/// completion, or a scheduled one) turned out to be.
enum Late {
    Resent,
    Stored,
    NotTargeted,
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

    /// A job cache, the jobs in memory and the bus: all the return path uses.
    struct Parts {
        _dir: tempfile::TempDir,
        cache: Arc<dyn JobCache>,
        in_flight: InFlight,
        bus: EventBus,
    }

    impl Parts {
        fn new() -> Self {
            let dir = tempfile::tempdir().expect("dir");
            let cache = RedbJobCache::open(dir.path().join("jobs.redb")).expect("cache");
            Parts {
                _dir: dir,
                cache: Arc::new(cache),
                in_flight: InFlight::default(),
                bus: EventBus::new(),
            }
        }

        fn path(&self) -> ReturnPath<'_> {
            ReturnPath {
                jobs: JobLookup {
                    in_flight: &self.in_flight,
                    cache: &self.cache,
                },
                bus: &self.bus,
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
        let ids = ["web1".to_string(), "web2".to_string()].into();
        let job = JobInFlight::new(
            "root".into(),
            target("web1,web2", TargetType::List),
            Some(ids),
            0,
        );
        parts.in_flight.insert(jid(), job);
        let path = parts.path();

        let reply = path.ret(&id("web1"), job_return(&jid())).await;
        assert!(matches!(reply, Reply::Ok), "{reply:?}");
        let event = events.try_recv().expect("a return event").unpack();
        assert_eq!(event.tag, format!("salt/job/{}/ret/web1", jid()));
        assert_eq!(event.data["user"], json!("root"));

        let reply = path.ret(&id("web1"), job_return(&jid())).await;
        assert!(matches!(reply, Reply::Ok), "a re-sent return: {reply:?}");
        let reply = path.ret(&id("db1"), job_return(&jid())).await;
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
        };
        parts.cache.save_job(&record).expect("save");
        let stamp = ReturnRecord::from_return(&job_return(&jid()));
        parts
            .cache
            .store_return(&jid(), &id("web1"), stamp)
            .expect("store");
        parts.cache.flush().expect("flush");
        let path = parts.path();

        let reply = path.ret(&id("web2"), job_return(&jid())).await;
        assert!(matches!(reply, Reply::Ok), "{reply:?}");
        assert!(parts.in_flight.get(&jid()).is_some(), "now in memory");
        let reply = path.ret(&id("web1"), job_return(&jid())).await;
        assert!(
            matches!(reply, Reply::Ok),
            "re-sent after the restart: {reply:?}"
        );
        assert_eq!(parts.stored(&jid()), ["web1", "web2"]);

        let unknown = Jid::parse("20261122063000999999").expect("jid");
        let reply = path.ret(&id("web1"), job_return(&unknown)).await;
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
            let reply = path.ret(&id("web1"), job_return(&job)).await;
            assert!(matches!(reply, Reply::Ok), "{reply:?}");
            assert!(events.try_recv().is_ok(), "the first return is fired");
            // Both jobs are complete now: the job cache answers.
            let reply = path.ret(&id("web1"), job_return(&job)).await;
            assert!(matches!(reply, Reply::Ok), "re-sent: {reply:?}");
            assert!(events.try_recv().is_err(), "a re-sent return fires nothing");
            assert_eq!(parts.stored(&job), ["web1"]);
        }

        // A restarted master knows only what the job cache holds.
        let restarted = Parts {
            _dir: tempfile::tempdir().expect("dir"),
            cache: parts.cache.clone(),
            in_flight: InFlight::default(),
            bus: EventBus::new(),
        };
        let mut events = restarted.bus.subscribe();
        parts
            .cache
            .save_job(&JobRecord {
                jid: jid(),
                fun: "test.ping".into(),
                arg: Vec::new(),
                kwarg: Default::default(),
                tgt: json!("web1"),
                tgt_type: TargetType::List,
                user: "root".into(),
                minions: vec![id("web1")],
            })
            .expect("save");
        let reply = restarted.path().ret(&id("web1"), job_return(&jid())).await;
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
            .await;
        assert!(matches!(reply, Reply::Ok), "re-sent: {reply:?}");
        assert!(events.try_recv().is_err(), "a re-sent return fires nothing");
        assert_eq!(parts.stored(&own), ["web1"]);
        let reply = path
            .schedule_return(&id("web2"), "nightly".into(), job_return(&own))
            .await;
        assert!(refused(&reply).is_some_and(|r| r.contains("not a scheduled job of web2")));
        let reply = path
            .schedule_return(&id("web1"), "nightly".into(), job_return(&jid()))
            .await;
        assert!(refused(&reply).is_some_and(|r| r.contains("minion-made jid")));
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
