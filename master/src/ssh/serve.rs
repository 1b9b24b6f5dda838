//! brine-ssh's side of a host's channel: what the master would answer a
//! minion, for the `brine-call` running on the host (minion/src/channel.rs):
//! the file server's environments, manifests and chunks, and the pillar,
//! compiled here from the grains the host sent first, as the master compiles
//! it. Anything else a minion could ask a master is refused.

use std::sync::Arc;

use brine_common::config::MasterConfig;
use brine_common::fileroots::Roots;
use brine_common::wire::{Reply, Request};
use brine_pillar::{PillarOpts, SaltFunctions};
use serde_json::{Map, Value};

use crate::fileserver::FileServer;
use crate::functions::MasterFunctions;
use crate::reqserver::files;

/// What every host's channel is answered from.
pub struct Server {
    /// Where the grains each host sends are kept (`super::grains_dir`).
    grains_dir: std::path::PathBuf,
    fileserver: Arc<FileServer>,
    pillar_roots: Arc<Roots>,
    pillar_opts: Arc<PillarOpts>,
    functions: Arc<MasterFunctions>,
}

impl Server {
    pub fn from_config(config: &MasterConfig) -> Server {
        Server {
            grains_dir: super::grains_dir(config),
            fileserver: Arc::new(FileServer::from_config(config)),
            pillar_roots: Arc::new(Roots::from_config(&config.pillar_roots)),
            pillar_opts: Arc::new(PillarOpts::from_master(config)),
            functions: Arc::default(),
        }
    }

    /// The answer to one request of host `id`; `grains` holds what it said
    /// its grains are (a `MinionData` request comes before its pillar).
    pub async fn answer(
        &self,
        id: &str,
        grains: &mut Map<String, Value>,
        request: Request,
    ) -> Reply {
        match request {
            Request::FileEnvs => files::environments(&self.fileserver),
            Request::FileList { saltenv } => files::list(&self.fileserver, saltenv).await,
            Request::FileChunk {
                saltenv,
                path,
                offset,
                len,
            } => files::chunk(&self.fileserver, saltenv, path, offset, len).await,
            Request::MinionData { grains: sent } => {
                if let Err(e) = super::save_grains(&self.grains_dir, id, &sent) {
                    tracing::warn!("cannot keep the grains of {id}: {e}");
                }
                *grains = sent;
                Reply::Ok
            }
            Request::Pillar {
                saltenv,
                pillarenv,
                extra,
            } => {
                let mut opts = PillarOpts::clone(&self.pillar_opts);
                opts.saltenv = saltenv;
                if pillarenv.is_some() {
                    opts.pillarenv = pillarenv;
                }
                opts.pillar_override = extra;
                let (roots, functions) = (self.pillar_roots.clone(), self.functions.clone());
                let (id, grains) = (id.to_owned(), grains.clone());
                let compiled = tokio::task::spawn_blocking(move || {
                    let functions: &dyn SaltFunctions = functions.as_ref();
                    brine_pillar::compile_on(&roots, &id, &grains, &opts, Some(functions))
                        .into_map()
                })
                .await;
                match compiled {
                    Ok(pillar) => Reply::Pillar(pillar),
                    Err(_) => Reply::Refused {
                        reason: "the pillar compile stopped".into(),
                    },
                }
            }
            other => Reply::Refused {
                reason: format!("brine-ssh does not answer {}", other.kind()),
            },
        }
    }
}
