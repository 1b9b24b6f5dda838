//! The minion's file client: `salt://` files from the master's file server
//! (or brine-ssh's, through its channel), or from the minion's own
//! `file_roots` when `file_client: local`.
//!
//! Remote files are cached under `cachedir/files/<saltenv>/<path>` and keyed
//! by hash: a state run asks for an environment's manifest once, and a file
//! is downloaded (in chunks, its SHA-256 checked before it replaces the
//! cached copy) only when its hash differs from the cached copy's.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brine_common::config::MinionConfig;
use brine_common::fileroots::{FileEntry, FileStore, Roots, hex, sha256_file};
use brine_common::ids::{RelPath, SaltEnv};
use brine_common::wire::{MAX_FILE_CHUNK, Reply, Request};

use crate::upstream::Upstream;

/// How long one file-server request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

pub enum FileClient {
    Local(Roots),
    Remote {
        upstream: Upstream,
        cachedir: PathBuf,
        /// Manifests already fetched by this client (one per environment
        /// per state run, not one request per file).
        manifests: Mutex<HashMap<SaltEnv, Arc<[FileEntry]>>>,
    },
}

impl FileClient {
    /// Local roots when the config says `file_client: local` or there is no
    /// master (nor brine-ssh); the master's file server otherwise.
    pub fn new(config: &MinionConfig, upstream: Option<Upstream>) -> Self {
        match upstream {
            Some(upstream) if config.file_client != "local" => FileClient::Remote {
                upstream,
                cachedir: config.cachedir.join("files"),
                manifests: Default::default(),
            },
            _ => FileClient::Local(Roots::from_config(&config.file_roots)),
        }
    }

    pub async fn environments(&self) -> Result<Vec<SaltEnv>, String> {
        match self {
            FileClient::Local(roots) => Ok(roots.environments()),
            FileClient::Remote { upstream, .. } => {
                match request(upstream, Request::FileEnvs).await? {
                    Reply::FileEnvs(envs) => Ok(envs),
                    other => Err(unexpected(&other)),
                }
            }
        }
    }

    /// Every file of `env` with its hash; the master is asked once per
    /// environment for the life of this client (a state run).
    pub async fn manifest(&self, env: &SaltEnv) -> Result<Arc<[FileEntry]>, String> {
        match self {
            FileClient::Local(roots) => roots
                .manifest(env)
                .map(Arc::from)
                .map_err(|e| e.to_string()),
            FileClient::Remote {
                upstream,
                manifests,
                ..
            } => {
                if let Some(known) = lock(manifests).get(env) {
                    return Ok(Arc::clone(known));
                }
                let list = Request::FileList {
                    saltenv: env.clone(),
                };
                let list: Arc<[FileEntry]> = match request(upstream, list).await? {
                    Reply::FileList(list) => list.into(),
                    other => return Err(unexpected(&other)),
                };
                lock(manifests).insert(env.clone(), Arc::clone(&list));
                Ok(list)
            }
        }
    }

    /// The paths of `env`'s files. Local roots are walked without hashing
    /// every file (a listing needs no hashes).
    pub async fn list_paths(&self, env: &SaltEnv) -> Result<Vec<RelPath>, String> {
        match self {
            FileClient::Local(roots) => roots.paths(env).map_err(|e| e.to_string()),
            FileClient::Remote { .. } => Ok(self
                .manifest(env)
                .await?
                .iter()
                .map(|entry| entry.path.clone())
                .collect()),
        }
    }

    /// A local path holding `salt://path` of `saltenv`.
    pub async fn cache_file(&self, env: &SaltEnv, rel: &RelPath) -> Result<PathBuf, String> {
        match self {
            FileClient::Local(roots) => roots.resolve(env.as_str(), rel).map_err(|e| e.to_string()),
            FileClient::Remote {
                upstream, cachedir, ..
            } => {
                let entry = self
                    .manifest(env)
                    .await?
                    .iter()
                    .find(|e| e.path == *rel)
                    .cloned()
                    .ok_or_else(|| format!("salt://{rel} does not exist in environment {env:?}"))?;
                let dest = cachedir.join(env.as_str()).join(rel.as_str());
                if sha256_file(&dest).is_ok_and(|h| h == entry.hash) {
                    return Ok(dest);
                }
                download(upstream, env, &entry, &dest).await?;
                Ok(dest)
            }
        }
    }

    /// The bytes of `salt://path`, `None` if it does not exist (nor its
    /// environment, when the roots are local).
    pub async fn read_file(
        &self,
        saltenv: &SaltEnv,
        path: &RelPath,
    ) -> Result<Option<Vec<u8>>, String> {
        if let FileClient::Local(roots) = self {
            return roots.read_whole(saltenv, path, u64::MAX);
        }
        match self.cache_file(saltenv, path).await {
            Ok(local) => std::fs::read(&local)
                .map(Some)
                .map_err(|e| format!("{}: {e}", local.display())),
            Err(e) if e.contains("does not exist") => Ok(None),
            Err(e) => Err(e),
        }
    }
}

async fn request(upstream: &Upstream, body: Request) -> Result<Reply, String> {
    match upstream.request(body, REQUEST_TIMEOUT).await? {
        Reply::Refused { reason } => Err(reason),
        reply => Ok(reply),
    }
}

/// Names the kind of answer only: a reply can hold a pillar.
fn unexpected(reply: &Reply) -> String {
    format!("unexpected answer from the file server: {}", reply.kind())
}

/// Fetch a file in chunks into a temporary file, check its hash, then put it
/// in place; a file that changed on the master mid-way is refused.
async fn download(
    upstream: &Upstream,
    env: &SaltEnv,
    entry: &FileEntry,
    dest: &PathBuf,
) -> Result<(), String> {
    let dir = dest.parent().ok_or("bad cache path")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let tmp = dest.with_file_name(format!(
        ".{}.{}.part",
        dest.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let mut out = std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut offset = 0u64;
    loop {
        let reply = request(
            upstream,
            Request::FileChunk {
                saltenv: env.clone(),
                path: entry.path.clone(),
                offset,
                len: MAX_FILE_CHUNK,
            },
        )
        .await?;
        let Reply::FileChunk { data, size } = reply else {
            return Err(unexpected(&reply));
        };
        ctx.update(&data);
        out.write_all(&data)
            .map_err(|e| format!("{}: {e}", tmp.display()))?;
        offset += data.len() as u64;
        if data.is_empty() || offset >= size {
            break;
        }
    }
    drop(out);
    let got = hex(ctx.finish().as_ref());
    if got != entry.hash {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "salt://{} changed while it was being fetched; try again",
            entry.path
        ));
    }
    std::fs::rename(&tmp, dest).map_err(|e| format!("{}: {e}", dest.display()))
}

/// The manifests even if a panicking request poisoned the lock: the map
/// only ever holds whole answers.
fn lock(
    manifests: &Mutex<HashMap<SaltEnv, Arc<[FileEntry]>>>,
) -> std::sync::MutexGuard<'_, HashMap<SaltEnv, Arc<[FileEntry]>>> {
    manifests
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
