//! The master's file server: `salt://` paths per environment, served from the
//! backends named in `fileserver_backend`, in that order.
//!
//! Two backends exist: `roots` ([`roots::RootsBackend`], the `file_roots`
//! directories) and `git`/`gitfs` ([`gitfs::GitFs`], branches and tags of git
//! remotes read from bare mirrors). The environments are the union of the
//! backends' environments; a manifest merges every backend's files and a read
//! comes from the first backend that has the path, as in Salt.

pub mod gitfs;
pub mod roots;

use std::sync::Arc;

use brine_common::config::MasterConfig;
use brine_common::event::Event;
use brine_common::fileroots::{
    Chunk, FileEntry, FileStore, RootsError, first_found, merge_first_wins,
};
use brine_common::ids::{RelPath, SaltEnv};
use serde_json::json;

use crate::daemon::Master;

/// The event tag Salt fires after a gitfs update.
pub const GITFS_UPDATE_TAG: &str = "salt/fileserver/gitfs/update";

#[derive(Debug, thiserror::Error)]
pub enum FileServerError {
    #[error("no environment {0:?} in the file server")]
    NoEnv(String),
    #[error("salt://{0} does not exist in environment {1:?}")]
    NotFound(String, String),
    #[error(transparent)]
    Roots(#[from] RootsError),
    #[error("salt://{path} is a symlink in git remote {remote} ({reference}) (refused)")]
    Symlink {
        remote: String,
        reference: String,
        path: String,
    },
    #[error("git remote {remote}: {what}: {source}")]
    Git {
        remote: String,
        what: String,
        source: git2::Error,
    },
    #[error("git remote {remote}: {reason}")]
    Update { remote: String, reason: String },
}

/// One source of `salt://` files.
pub trait Backend: Send + Sync {
    /// The name in `fileserver_backend` (`roots`, `git`).
    fn name(&self) -> &'static str;
    /// The environments this backend serves; a name no request could ask
    /// for (not a valid [`SaltEnv`]) is left out.
    fn environments(&self) -> Vec<SaltEnv>;
    /// The files of `env`, or `None` when this backend does not serve `env`.
    fn manifest(&self, env: &SaltEnv) -> Result<Option<Vec<FileEntry>>, FileServerError>;
    /// Up to `len` bytes of `path` from `offset` and the file's size, or
    /// `None` when this backend does not have the path.
    fn read_chunk(
        &self,
        env: &str,
        path: &RelPath,
        offset: u64,
        len: usize,
    ) -> Result<Option<(Vec<u8>, u64)>, FileServerError>;
    /// Refresh from upstream (a no-op for local backends).
    fn update(&self) -> UpdateOutcome {
        UpdateOutcome::default()
    }
}

/// What an update of every backend did.
#[derive(Debug, Default)]
pub struct UpdateOutcome {
    pub changed: bool,
    pub errors: Vec<FileServerError>,
}

/// The backends in `fileserver_backend` order.
pub struct FileServer {
    backends: Vec<Box<dyn Backend>>,
}

impl FileServer {
    pub fn new(backends: Vec<Box<dyn Backend>>) -> Self {
        FileServer { backends }
    }

    /// The backends `config.fileserver_backend` names; unknown names are
    /// logged and skipped.
    pub fn from_config(config: &MasterConfig) -> Self {
        let mut backends: Vec<Box<dyn Backend>> = Vec::new();
        for name in &config.fileserver_backend {
            match name.trim() {
                "roots" => backends.push(Box::new(roots::RootsBackend::from_config(config))),
                "git" | "gitfs" => backends.push(Box::new(gitfs::GitFs::from_config(config))),
                other => tracing::error!("fileserver_backend: unknown backend {other:?} ignored"),
            }
        }
        FileServer::new(backends)
    }

    /// True when a git backend is configured (it needs periodic updates).
    pub fn has_git(&self) -> bool {
        self.backends.iter().any(|b| b.name() == "git")
    }

    /// Every backend's environments, `base` first.
    pub fn environments(&self) -> Vec<SaltEnv> {
        let mut envs: Vec<SaltEnv> = self
            .backends
            .iter()
            .flat_map(|b| b.environments())
            .collect();
        envs.sort_by_key(|e| (e.as_str() != "base", e.clone()));
        envs.dedup();
        envs
    }

    /// Every file of `env` by path; the first backend that has a path wins.
    pub fn manifest(&self, env: &SaltEnv) -> Result<Vec<FileEntry>, FileServerError> {
        let manifests = self.backends.iter().map(|backend| backend.manifest(env));
        merge_first_wins(manifests)?.ok_or_else(|| FileServerError::NoEnv(env.to_string()))
    }

    /// Up to `len` bytes of `path` in `env` from `offset`, and its size,
    /// from the first backend that has it.
    pub fn read_chunk(
        &self,
        env: &SaltEnv,
        path: &RelPath,
        offset: u64,
        len: usize,
    ) -> Result<(Vec<u8>, u64), FileServerError> {
        let answers = self
            .backends
            .iter()
            .map(|backend| backend.read_chunk(env.as_str(), path, offset, len));
        first_found(answers)?
            .ok_or_else(|| FileServerError::NotFound(path.to_string(), env.to_string()))
    }

    /// Refresh every backend (gitfs fetches its remotes).
    pub fn update(&self) -> UpdateOutcome {
        let mut outcome = UpdateOutcome::default();
        for backend in &self.backends {
            let one = backend.update();
            outcome.changed |= one.changed;
            outcome.errors.extend(one.errors);
        }
        outcome
    }
}

impl FileStore for FileServer {
    type Error = FileServerError;

    fn env_files(&self, env: &SaltEnv) -> Result<Vec<FileEntry>, FileServerError> {
        self.manifest(env)
    }

    fn file_chunk(&self, env: &SaltEnv, path: &RelPath, offset: u64, len: usize) -> Chunk<Self> {
        self.read_chunk(env, path, offset, len)
    }

    fn no_such_env(error: &FileServerError) -> bool {
        matches!(error, FileServerError::NoEnv(_))
    }

    fn no_such_file(error: &FileServerError) -> bool {
        matches!(
            error,
            FileServerError::NotFound(..) | FileServerError::NoEnv(_)
        )
    }
}

/// `raw` as an environment name; one that is not a valid name is an
/// environment no backend has (`NoEnv`), as the backends answered before
/// names were validated here.
pub fn known_env(raw: &str) -> Result<SaltEnv, FileServerError> {
    SaltEnv::parse(raw).map_err(|_| FileServerError::NoEnv(raw.to_string()))
}

/// Update the file server off the async threads, log failures, and fire
/// `salt/fileserver/gitfs/update` when a git backend is configured.
pub async fn update(master: &Master) -> UpdateOutcome {
    let fs: Arc<FileServer> = master.fileserver.clone();
    let outcome = tokio::task::spawn_blocking(move || fs.update())
        .await
        .unwrap_or_else(|e| UpdateOutcome {
            changed: false,
            errors: vec![FileServerError::Update {
                remote: "*".into(),
                reason: format!("update task failed: {e}"),
            }],
        });
    for e in &outcome.errors {
        tracing::warn!("file server update: {e}");
    }
    if master.fileserver.has_git() {
        master.bus.fire(Event::new(
            GITFS_UPDATE_TAG,
            json!({"changed": outcome.changed, "backend": "gitfs"}),
        ));
    }
    outcome
}

/// Update every `gitfs_update_interval` seconds (the first update runs at
/// start-up, before this loop).
pub async fn periodic_updates(master: Arc<Master>) {
    let every = std::time::Duration::from_secs(master.config.gitfs_update_interval.max(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        update(&master).await;
    }
}

#[cfg(test)]
mod tests;
