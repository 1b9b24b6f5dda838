//! Talking to the master over its local socket, as the CLIs do: publishing
//! and waiting for returns, runners, keys, firing events and subscribing to
//! the bus.

use std::collections::BTreeSet;
use std::time::Duration;

use brine_client::{Client, JobRequest, KeyCommand};
use brine_common::wire::TargetSpec;
use serde_json::{Map, Value, json};

use crate::error::ApiResult;

#[derive(Debug, Clone)]
pub struct MasterLink {
    pub client: Client,
    /// Seconds without a word from a minion before a `local` call gives up on it.
    pub timeout: Duration,
}

impl MasterLink {
    /// The ids of every accepted minion.
    pub async fn accepted_minions(&self) -> ApiResult<Vec<String>> {
        let listing = self.keys(KeyCommand::List).await?;
        Ok(listing.get("minions").map(string_list).unwrap_or_default())
    }

    /// The accepted minions the master's data cache says `spec` matches.
    pub async fn matching_minions(&self, spec: &TargetSpec) -> ApiResult<Vec<String>> {
        let minions = self
            .client
            .matching(spec.tgt.clone(), spec.tgt_type)
            .await?;
        Ok(minions.into_iter().map(|id| id.to_string()).collect())
    }

    pub async fn keys(&self, cmd: KeyCommand) -> ApiResult<Map<String, Value>> {
        Ok(self.client.keys(cmd).await?.into_map())
    }

    /// `local`: publish and wait; `{minion: return}` for those that returned.
    pub async fn run_local(&self, job: JobRequest, timeout: Option<f64>) -> ApiResult<Value> {
        let Some(published) = self.client.publish(job, true).await? else {
            return Ok(json!({}));
        };
        let timeout = timeout.map_or(self.timeout, Duration::from_secs_f64);
        let mut returns = Map::new();
        published
            .wait(timeout, |arrived| {
                let ret = arrived.data.get("return").cloned().unwrap_or(Value::Null);
                returns.insert(arrived.minion, ret);
            })
            .await?;
        Ok(Value::Object(returns))
    }

    /// `local_async`: publish only; `{jid, minions}` (empty when none matched).
    pub async fn run_async(&self, job: JobRequest) -> ApiResult<Value> {
        Ok(match self.client.publish(job, false).await? {
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
        let (ret, _retcode) = self.client.runner(fun, args, kwargs).await?;
        Ok(ret)
    }

    pub async fn fire(&self, tag: String, data: Value) -> ApiResult<()> {
        Ok(self.client.fire(tag, data).await?)
    }

    /// A live subscription to every bus event.
    pub async fn subscribe(&self) -> ApiResult<brine_client::Connection> {
        Ok(self.client.subscribe(None).await?)
    }
}

/// The strings of a JSON list (ids in a listing); anything else is none.
pub fn string_list(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The minions of `known` a job request would target, for permission checks.
pub fn targeted(target: &brine_common::target::Target, known: &[String]) -> BTreeSet<String> {
    known
        .iter()
        .filter(|id| target.matches_id(id))
        .cloned()
        .collect()
}
