//! A swarm of simulated minions in one process, for scale tests.
//!
//! Every simulated minion is a real minion: its own Ed25519 identity, its own
//! DEALER and SUB connections, and the same [`start_minion`] code path as
//! `brine-minion` (link, executor, grains report, start events). Only the
//! process is shared, plus what is safe to share: the host's detected grains
//! (collected once, then given each minion its id and template grains) and the
//! function registry (a subset that is safe to run thousands of times at once).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use brine_common::config::MinionConfig;
use brine_common::crypto::Identity;
use brine_common::ids::MinionId;
use serde_json::{Map, Value};

use crate::daemon::{link_settings, start_minion};
use crate::grains::GrainStore;
use crate::link::Link;
use crate::modules::{self, MinionCtx};

/// The modules a swarm minion runs: nothing that touches the host.
pub const SAFE_MODULES: &[&str] = &["test", "grains", "sys", "saltutil"];

/// One template grain: minion `i` gets `values[i % values.len()]`.
#[derive(Debug, Clone, PartialEq)]
pub struct GrainTemplate {
    pub key: String,
    pub values: Vec<Value>,
}

impl std::str::FromStr for GrainTemplate {
    type Err = String;

    /// `role=web,db,cache` (values read as YAML scalars, like CLI arguments).
    fn from_str(s: &str) -> Result<Self, String> {
        let (key, values) = s
            .split_once('=')
            .ok_or_else(|| format!("grain template {s:?} is not key=v1,v2,..."))?;
        let values: Vec<Value> = values
            .split(',')
            .map(brine_common::functions::yamlify_arg)
            .collect();
        if key.is_empty() || values.is_empty() {
            return Err(format!(
                "grain template {s:?} needs a key and at least one value"
            ));
        }
        Ok(GrainTemplate {
            key: key.to_string(),
            values,
        })
    }
}

pub struct SwarmOptions {
    pub count: usize,
    pub id_prefix: String,
    /// The shared minion settings (master address, timings, cachedir unused).
    pub config: MinionConfig,
    pub grains: Vec<GrainTemplate>,
    /// Keep identities under this directory so a restarted swarm is the same
    /// set of minions; `None` makes fresh keys in memory.
    pub key_dir: Option<PathBuf>,
    /// New minions started per second (spreads the initial connect/auth burst).
    pub start_rate: usize,
}

/// The id of the `i`-th minion (1-based, zero-padded so ids sort naturally).
pub fn swarm_id(prefix: &str, i: usize, count: usize) -> String {
    let width = count.to_string().len().max(4);
    format!("{prefix}{i:0width$}")
}

/// The grains of minion `i`: the host's (shared by every minion of the
/// swarm), under its id and its template values.
fn grains_for(
    host: &Arc<Map<String, Value>>,
    id: &str,
    i: usize,
    templates: &[GrainTemplate],
) -> GrainStore {
    let mut own = Map::new();
    own.insert("id".into(), Value::String(id.to_string()));
    for t in templates {
        own.insert(t.key.clone(), t.values[i % t.values.len()].clone());
    }
    GrainStore::layered(host.clone(), own)
}

fn identity_for(key_dir: Option<&PathBuf>, id: &str) -> anyhow::Result<Identity> {
    match key_dir {
        Some(dir) => Identity::load_or_generate(
            &dir.join(format!("{id}.pem")),
            &dir.join(format!("{id}.pub")),
        )
        .with_context(|| format!("key of {id}")),
        None => Identity::generate().context("generating a key"),
    }
}

/// Start the swarm; returns every minion's link.
pub async fn start(opts: SwarmOptions) -> anyhow::Result<Vec<Link>> {
    let config = Arc::new(opts.config);
    let functions = modules::registry_of(SAFE_MODULES);
    let first = MinionId::parse(&swarm_id(&opts.id_prefix, 1, opts.count))?;
    let host_grains = Arc::new(crate::grains::collect(&config, &first));
    let mut links = Vec::with_capacity(opts.count);
    let pause = Duration::from_secs_f64(1.0 / opts.start_rate.max(1) as f64);
    let mut next_start = tokio::time::Instant::now();
    let verified = Arc::new(brine_common::crypto::VerifiedSignatures::default());
    for i in 1..=opts.count {
        let id_text = swarm_id(&opts.id_prefix, i, opts.count);
        let id = MinionId::parse(&id_text)?;
        let identity = identity_for(opts.key_dir.as_ref(), &id_text)?;
        let grains = grains_for(&host_grains, &id_text, i, &opts.grains);
        let mut settings = link_settings(&config, id.clone(), true);
        // Simulated minions keep their pin and stream position in memory.
        settings.master_pub_path = None;
        settings.position = crate::pubstate::PositionFile::new(None);
        settings.verified = Some(verified.clone());
        let ctx = MinionCtx::with_grain_store(id, config.clone(), grains, &functions);
        links.push(start_minion(ctx, identity, settings, functions.clone()));
        next_start += pause;
        tokio::time::sleep_until(next_start).await;
    }
    Ok(links)
}

/// Wait until every link has a session; prints progress each second. Returns
/// the time it took from `since`.
pub async fn wait_authenticated(
    links: &[Link],
    since: Instant,
    timeout: Duration,
) -> anyhow::Result<Duration> {
    let deadline = since + timeout;
    loop {
        let done = links
            .iter()
            .filter(|l| l.sessions_established() > 0)
            .count();
        if done == links.len() {
            return Ok(since.elapsed());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {done} of {} minions authenticated within {timeout:?} (are their keys accepted?)",
            links.len()
        );
        eprintln!(
            "authenticated {done}/{} after {:.1}s",
            links.len(),
            since.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_cycle_over_minions() {
        let t: GrainTemplate = "role=web,db".parse().expect("template");
        let host = Arc::new(Map::new());
        assert_eq!(
            grains_for(&host, "s1", 1, std::slice::from_ref(&t)).snapshot()["role"],
            json!("db")
        );
        assert_eq!(
            grains_for(&host, "s2", 2, std::slice::from_ref(&t)).snapshot()["role"],
            json!("web")
        );
        let n: GrainTemplate = "rack=1,2,3".parse().expect("template");
        assert_eq!(n.values, vec![json!(1), json!(2), json!(3)]);
        assert!("novalue".parse::<GrainTemplate>().is_err());
    }

    #[test]
    fn ids_are_padded_to_sort() {
        assert_eq!(swarm_id("swarm-", 7, 10000), "swarm-00007");
        assert_eq!(swarm_id("s", 7, 10), "s0007");
    }
}
