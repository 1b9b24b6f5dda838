//! A job's progress as its minions report it: the acknowledgement that a
//! minion will run a publication, and heartbeats while it runs. Each fires
//! its event (`salt/job/<jid>/ack/<id>`, `brine/job/<jid>/beat/<id>`) for
//! the clients waiting on the job, but only from a minion the job is for.

use brine_common::event::{Event, tags};
use brine_common::ids::{Jid, MinionId};
use brine_common::wire::Reply;
use serde_json::json;

use super::returns::{JobLookup, not_targeted};
use crate::bus::EventBus;
use crate::daemon::Master;
use crate::minion_data::MinionData;

/// Most jobs one heartbeat may name (a minion runs a handful at once).
const MAX_HEARTBEAT_JIDS: usize = 256;

/// The parts of the master that judge and announce a job's progress.
pub(super) struct Progress<'a> {
    pub jobs: JobLookup<'a>,
    pub minion_data: &'a MinionData,
    pub bus: &'a EventBus,
}

impl<'a> Progress<'a> {
    pub(super) fn of(master: &'a Master, jobs: JobLookup<'a>) -> Self {
        Progress {
            jobs,
            minion_data: &master.minion_data,
            bus: &master.bus,
        }
    }

    /// `minion` received job `jid` and will run it.
    pub(super) async fn ack(&self, minion: &MinionId, jid: Jid) -> Reply {
        if !self.job_is_for(&jid, minion).await {
            return not_targeted(&jid, minion);
        }
        self.bus.fire(Event::new(
            tags::job_ack(jid.as_str(), minion.as_str()),
            json!({"id": minion, "jid": jid}),
        ));
        Reply::Ok
    }

    /// `minion` is still running `jids`; refused (for the first job it is
    /// not for) if any of them is not its.
    pub(super) async fn heartbeat(&self, minion: &MinionId, jids: Vec<Jid>) -> Reply {
        let mut refused = Vec::new();
        for jid in jids.into_iter().take(MAX_HEARTBEAT_JIDS) {
            if !self.job_is_for(&jid, minion).await {
                refused.push(jid);
                continue;
            }
            self.bus.fire(Event::new(
                tags::job_beat(jid.as_str(), minion.as_str()),
                json!({"id": minion, "jid": jid}),
            ));
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
    async fn job_is_for(&self, jid: &Jid, minion: &MinionId) -> bool {
        let Ok(job) = self.jobs.find(jid).await else {
            return false;
        };
        job.is_for(minion.as_str(), |needs| {
            self.minion_data.facts(minion.as_str(), needs)
        })
    }
}
