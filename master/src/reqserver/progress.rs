//! A job's progress as its minions report it: the acknowledgement that a
//! minion will run a publication, and heartbeats while it runs. Each fires
//! its event (`brine/job/<jid>/ack/<id>`, `brine/job/<jid>/beat/<id>`) for
//! the clients waiting on the job, but only from a minion the job is for.

use brine_common::event::{Event, tags};
use brine_common::ids::{Jid, MinionId};
use brine_common::wire::Reply;
use serde_json::json;

use super::returns::{JobLookup, not_targeted};
use crate::bus::{BusEvent, EventBus};
use crate::daemon::Master;
use crate::minion_data::MinionData;
use crate::peers::Peers;

/// Most jobs one heartbeat may name (a minion runs a handful at once).
const MAX_HEARTBEAT_JIDS: usize = 256;

/// The parts of the master that judge and announce a job's progress.
pub(super) struct Progress<'a> {
    pub jobs: JobLookup<'a>,
    pub minion_data: &'a MinionData,
    pub bus: &'a EventBus,
    /// The other masters of the cluster store, if any.
    pub peers: Option<&'a Peers>,
}

impl<'a> Progress<'a> {
    pub(super) fn of(master: &'a Master, jobs: JobLookup<'a>) -> Self {
        Progress {
            jobs,
            minion_data: &master.minion_data,
            bus: &master.bus,
            peers: master.peers.as_deref(),
        }
    }

    /// `minion` received job `jid` and will run it.
    pub(super) async fn ack(&self, minion: &MinionId, jid: Jid) -> Reply {
        let Some(origin) = self.job_for(&jid, minion).await else {
            return not_targeted(&jid, minion);
        };
        self.fire(
            origin,
            tags::job_ack(jid.as_str(), minion.as_str()),
            minion,
            &jid,
        );
        Reply::Ok
    }

    /// Fire a progress event here, and send it to the master that published
    /// the job when that is another one.
    fn fire(&self, origin: Option<i64>, tag: String, minion: &MinionId, jid: &Jid) {
        let event = BusEvent::pack(Event::new(tag, json!({"id": minion, "jid": jid})));
        if let (Some(peers), Some(origin)) = (self.peers, origin) {
            peers.forward(origin, &event);
        }
        self.bus.fire_packed(event);
    }

    /// `minion` is still running `jids`; refused (for the first job it is
    /// not for) if any of them is not its.
    pub(super) async fn heartbeat(&self, minion: &MinionId, jids: Vec<Jid>) -> Reply {
        let mut refused = Vec::new();
        for jid in jids.into_iter().take(MAX_HEARTBEAT_JIDS) {
            let Some(origin) = self.job_for(&jid, minion).await else {
                refused.push(jid);
                continue;
            };
            self.fire(
                origin,
                tags::job_beat(jid.as_str(), minion.as_str()),
                minion,
                &jid,
            );
        }
        match refused.as_slice() {
            [] => Reply::Ok,
            [jid, ..] => not_targeted(jid, minion),
        }
    }

    /// Whether `jid` is a job the master knows and `minion` is one it is for
    /// (see [`crate::jobs::JobInFlight::is_for`]): acknowledgements and
    /// heartbeats from any other minion are refused, so they cannot hold a
    /// waiting client.
    /// `Some` with the job's publishing master (when another one).
    async fn job_for(&self, jid: &Jid, minion: &MinionId) -> Option<Option<i64>> {
        let job = self.jobs.find(jid).await.ok()?;
        job.is_for(minion.as_str(), |needs| {
            self.minion_data.facts(minion.as_str(), needs)
        })
        .then_some(job.origin)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use brine_common::target::{Target, TargetType};
    use brine_common::wire::TargetSpec;

    use super::*;
    use crate::job_cache::{JobCache, RedbJobCache};
    use crate::jobs::{InFlight, JobInFlight};

    fn id(name: &str) -> MinionId {
        MinionId::parse(name).expect("id")
    }

    /// Only a minion the job is for may acknowledge it or heart-beat for it;
    /// an unknown job is refused too. Refusals fire nothing.
    #[tokio::test]
    async fn progress_is_taken_only_from_the_jobs_minions() {
        let dir = tempfile::tempdir().expect("dir");
        let cache: Arc<dyn JobCache> =
            Arc::new(RedbJobCache::open(dir.path().join("jobs.redb")).expect("cache"));
        let in_flight = InFlight::default();
        let jid = Jid::parse("20261122063000123456").expect("jid");
        let target = Target::compile(&TargetSpec {
            tgt: json!("web*"),
            tgt_type: TargetType::Glob,
        })
        .expect("target");
        in_flight.insert(
            jid.clone(),
            JobInFlight::new("root".into(), target, None, 1),
        );
        let (minion_data, bus) = (MinionData::default(), EventBus::new());
        let mut events = bus.subscribe();
        let progress = Progress {
            jobs: JobLookup {
                in_flight: &in_flight,
                cache: &cache,
            },
            minion_data: &minion_data,
            bus: &bus,
            peers: None,
        };

        assert!(matches!(
            progress.ack(&id("web1"), jid.clone()).await,
            Reply::Ok
        ));
        let event = events.try_recv().expect("an ack event");
        assert_eq!(event.tag, format!("brine/job/{jid}/ack/web1"));
        let refused = progress.ack(&id("db1"), jid.clone()).await;
        assert!(matches!(refused, Reply::Refused { .. }), "{refused:?}");

        let unknown = Jid::parse("20261122063000999999").expect("jid");
        let reply = progress
            .heartbeat(&id("web1"), vec![jid.clone(), unknown.clone()])
            .await;
        let Reply::Refused { reason } = reply else {
            panic!("{reply:?}");
        };
        assert!(reason.contains(unknown.as_str()), "{reason}");
        let beat = events.try_recv().expect("the known job's beat");
        assert!(beat.tag.contains("/beat/web1"), "{}", beat.tag);
        assert!(
            events.try_recv().is_err(),
            "nothing for db1 or the unknown job"
        );
    }
}
