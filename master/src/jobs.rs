//! Publishing a job: work out which minions should answer, record the job,
//! announce it on the bus (`salt/job/<jid>/new`) and send it to the minions.

use std::time::Duration;

use brine_common::event::{Event, tags};
use brine_common::ids::{Jid, MinionId};
use brine_common::target::Matcher;
use brine_common::wire::{Publication, TargetSpec};
use serde_json::json;

use crate::client::JobRequest;
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

#[derive(Debug, Clone)]
pub enum PublishOutcome {
    Published {
        jid: Jid,
        minions: Vec<MinionId>,
        not_connected: Vec<MinionId>,
    },
    NoMinions,
}

/// The accepted minions a target expects to answer.
pub fn expected_minions(master: &Master, matcher: &Matcher) -> Result<Vec<MinionId>, JobError> {
    let accepted = master.keys.list(KeyState::Accepted)?;
    Ok(accepted
        .into_iter()
        .filter(|id| matcher.matches_id(id.as_str()))
        .collect())
}

pub async fn publish(master: &Master, job: JobRequest) -> Result<PublishOutcome, JobError> {
    let tgt = TargetSpec {
        tgt: job.tgt.clone(),
        tgt_type: job.tgt_type.clone(),
    };
    let matcher = Matcher::compile(&tgt)?;
    let minions = expected_minions(master, &matcher)?;
    if minions.is_empty() {
        return Ok(PublishOutcome::NoMinions);
    }
    let jid = master.jids.next();
    let record = JobRecord {
        jid: jid.clone(),
        fun: job.fun.clone(),
        arg: job.arg.clone(),
        kwarg: job.kwarg.clone(),
        tgt: job.tgt.clone(),
        tgt_type: job.tgt_type.clone(),
        user: job.user.clone(),
        minions: minions.iter().map(|m| m.to_string()).collect(),
    };
    let cache = master.cache.clone();
    // The job is on disk before any minion can return for it.
    tokio::task::spawn_blocking(move || cache.save_job(&record).and_then(|()| cache.flush()))
        .await
        .map_err(|e| JobError::Cache(e.to_string()))?
        .map_err(|e| JobError::Cache(e.to_string()))?;
    master.bus.fire(Event::new(
        tags::job_new(jid.as_str()),
        json!({
            "arg": job.arg,
            "fun": job.fun,
            "jid": jid,
            "minions": minions,
            "missing": [],
            "tgt": job.tgt,
            "tgt_type": job.tgt_type,
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
    };
    match matcher.listed_ids() {
        // A list target goes only to the listed minions' topics.
        Some(_) => master.publisher.to_minions(&minions, &publication)?,
        None => master.publisher.broadcast(&publication)?,
    }
    let connected = master.sessions.connected(master.presence_window());
    let not_connected = minions
        .iter()
        .filter(|m| !connected.contains(*m))
        .cloned()
        .collect();
    Ok(PublishOutcome::Published {
        jid,
        minions,
        not_connected,
    })
}

impl Master {
    /// A minion that has not spoken for this long counts as disconnected.
    pub fn presence_window(&self) -> Duration {
        Duration::from_secs(self.config.presence_timeout.max(1))
    }
}
