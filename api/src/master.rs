//! Talking to the master over its local socket, as the CLIs do: publishing
//! and waiting for returns, runners, keys, firing events and subscribing to
//! the bus.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use brine_common::wire::TargetSpec;
use brine_master::client::{
    ClientReply, ClientRequest, Connection, JobRequest, KeyCommand, KeyReply, request,
};
use brine_master::wait::JobWaiter;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult};

/// A job the master published.
pub struct Published {
    pub conn: Connection,
    pub jid: String,
    pub minions: Vec<String>,
    pub not_connected: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct MasterLink {
    pub sock_dir: PathBuf,
    /// Seconds without a word from a minion before a `local` call gives up on it.
    pub timeout: Duration,
}

impl MasterLink {
    async fn ask(&self, req: &ClientRequest) -> ApiResult<ClientReply> {
        match request(&self.sock_dir, req).await? {
            ClientReply::Error { message } => Err(ApiError::Master(message)),
            reply => Ok(reply),
        }
    }

    /// The ids of every accepted minion.
    pub async fn accepted_minions(&self) -> ApiResult<Vec<String>> {
        let listing = self.keys(KeyCommand::List).await?;
        Ok(listing
            .get("minions")
            .and_then(Value::as_array)
            .map(|ids| {
                ids.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The accepted minions the master's data cache says `spec` matches.
    pub async fn matching_minions(&self, spec: &TargetSpec) -> ApiResult<Vec<String>> {
        let req = ClientRequest::Match {
            tgt: spec.tgt.clone(),
            tgt_type: spec.tgt_type.clone(),
        };
        match self.ask(&req).await? {
            ClientReply::Matched { minions } => {
                Ok(minions.into_iter().map(|id| id.to_string()).collect())
            }
            other => Err(unexpected(&other)),
        }
    }

    pub async fn keys(&self, cmd: KeyCommand) -> ApiResult<Map<String, Value>> {
        match self.ask(&ClientRequest::Keys(cmd)).await? {
            ClientReply::Keys(
                KeyReply::Listing { keys: m, .. }
                | KeyReply::Changed(m)
                | KeyReply::Fingerprints(m),
            ) => Ok(m),
            other => Err(unexpected(&other)),
        }
    }

    /// Publish; `None` when the target matched no minion.
    pub async fn publish(&self, job: JobRequest, watch: bool) -> ApiResult<Option<Published>> {
        let req = ClientRequest::Publish { job, watch };
        let mut conn = Connection::open(&self.sock_dir, &req).await?;
        let names = |ids: Vec<brine_common::ids::MinionId>| {
            ids.into_iter().map(|m| m.to_string()).collect()
        };
        match conn.next().await? {
            ClientReply::Published {
                jid,
                minions,
                not_connected,
            } => Ok(Some(Published {
                conn,
                jid: jid.to_string(),
                minions: names(minions),
                not_connected: names(not_connected),
            })),
            ClientReply::NoMinions => Ok(None),
            ClientReply::Error { message } => Err(ApiError::Master(message)),
            other => Err(unexpected(&other)),
        }
    }

    /// `local`: publish and wait; `{minion: return}` for those that returned.
    pub async fn run_local(&self, job: JobRequest, timeout: Option<f64>) -> ApiResult<Value> {
        let Some(mut published) = self.publish(job, true).await? else {
            return Ok(json!({}));
        };
        let timeout = timeout.map_or(self.timeout, Duration::from_secs_f64);
        let mut waiter = JobWaiter::new(
            &published.jid,
            &published.minions,
            &published.not_connected,
            timeout,
            Instant::now(),
        );
        let mut returns = Map::new();
        waiter
            .drive(&mut published.conn, |arrived| {
                let ret = arrived.data.get("return").cloned().unwrap_or(Value::Null);
                returns.insert(arrived.minion, ret);
            })
            .await
            .map_err(ApiError::Master)?;
        Ok(Value::Object(returns))
    }

    /// `local_async`: publish only; `{jid, minions}` (empty when none matched).
    pub async fn run_async(&self, job: JobRequest) -> ApiResult<Value> {
        Ok(match self.publish(job, false).await? {
            Some(p) => json!({"jid": p.jid, "minions": p.minions}),
            None => json!({}),
        })
    }

    pub async fn runner(
        &self,
        fun: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> ApiResult<Value> {
        let req = ClientRequest::Runner {
            fun: fun.to_string(),
            args,
            kwargs,
        };
        match self.ask(&req).await? {
            ClientReply::RunnerResult { ret, .. } => Ok(ret),
            other => Err(unexpected(&other)),
        }
    }

    pub async fn fire(&self, tag: String, data: Value) -> ApiResult<()> {
        match self.ask(&ClientRequest::FireEvent { tag, data }).await? {
            ClientReply::Fired => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// A live subscription to every bus event.
    pub async fn subscribe(&self) -> ApiResult<Connection> {
        let mut conn =
            Connection::open(&self.sock_dir, &ClientRequest::Events { tag_glob: None }).await?;
        match conn.next().await? {
            ClientReply::Lagged(_) => Ok(conn),
            ClientReply::Error { message } => Err(ApiError::Master(message)),
            other => Err(unexpected(&other)),
        }
    }
}

/// The minions of `known` a job request would target, for permission checks.
pub fn targeted(target: &brine_common::target::Target, known: &[String]) -> BTreeSet<String> {
    known
        .iter()
        .filter(|id| target.matches_id(id))
        .cloned()
        .collect()
}

fn unexpected(reply: &ClientReply) -> ApiError {
    ApiError::Master(format!("unexpected reply from the master: {reply:?}"))
}
