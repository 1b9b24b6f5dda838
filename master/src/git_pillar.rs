//! The master's side of the `git` ext_pillar: fetching its remotes and
//! writing each branch's tree where pillar compilation reads it
//! (`brine_pillar::git` names the places and compiles from them).
//!
//! Each remote is a bare mirror (the same clone/fetch code as gitfs); each
//! branch it serves (the configured one, or every branch for `__env__`) is
//! written out as plain files under `trees/<branch>`, replaced as a whole
//! (written beside it, then renamed in) only when the branch's commit
//! moved, so a compile never sees half a tree. Symlinks in the repository
//! are not written. Updates run at start-up, every
//! `git_pillar_update_interval` seconds and on `brine-run git_pillar.update`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use brine_common::config::MasterConfig;
use brine_pillar::git::{ENV_BRANCH, GitPillarRemote, GitPillarSettings, parse_remotes};
use git2::{ObjectType, Repository};
use serde_json::{Map, Value};

use crate::daemon::Master;
use crate::fileserver::gitfs::{Mirror, tree_files, update_mirror};
use crate::fileserver::{FileServerError, UpdateOutcome};

/// Every remote of every `git` entry in `ext_pillar`; bad entries are
/// logged (pillar compilation reports them to the minions too).
pub fn remotes(config: &MasterConfig) -> Vec<GitPillarRemote> {
    let settings = GitPillarSettings::from_master(config);
    let mut out = Vec::new();
    for entry in &config.ext_pillar {
        let Some(arg) = entry.get("git") else {
            continue;
        };
        match parse_remotes(arg, &settings) {
            Ok(found) => out.extend(found),
            Err(e) => tracing::error!("ext_pillar git: {e}"),
        }
    }
    out
}

/// Fetch every remote and write the trees of the branches that moved.
pub fn update(config: &MasterConfig) -> (Map<String, Value>, UpdateOutcome) {
    let cache = GitPillarSettings::from_master(config).cache;
    let mut report = Map::new();
    let mut outcome = UpdateOutcome::default();
    for remote in remotes(config) {
        let key = format!("{} {}", remote.branch, remote.url);
        match update_remote(&remote, &cache) {
            Ok(changed) => {
                outcome.changed |= changed;
                report.insert(key, Value::Bool(changed));
            }
            Err(e) => {
                tracing::warn!("git ext_pillar: {e}");
                report.insert(key, Value::Null);
                outcome.errors.push(e);
            }
        }
    }
    (report, outcome)
}

/// Update off the async threads.
pub async fn update_async(master: &Master) -> (Map<String, Value>, UpdateOutcome) {
    let config = master.config.clone();
    tokio::task::spawn_blocking(move || update(&config))
        .await
        .unwrap_or_else(|e| {
            let error = FileServerError::Update {
                remote: "*".into(),
                reason: format!("git_pillar update task failed: {e}"),
            };
            (
                Map::new(),
                UpdateOutcome {
                    changed: false,
                    errors: vec![error],
                },
            )
        })
}

/// Update every `git_pillar_update_interval` seconds (the first update
/// runs at start-up, before this loop).
pub async fn periodic_updates(master: Arc<Master>) {
    let every = std::time::Duration::from_secs(master.config.git_pillar_update_interval.max(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        update_async(&master).await;
    }
}

/// Fetch one remote, then write its branches' trees; true when a tree changed.
fn update_remote(remote: &GitPillarRemote, cache: &Path) -> Result<bool, FileServerError> {
    let mirror_path = remote.mirror(cache);
    let mirror = Mirror {
        url: &remote.url,
        path: &mirror_path,
    };
    update_mirror(&mirror)?;
    let repo = Repository::open_bare(&mirror_path).map_err(|e| git_error(remote, "mirror", e))?;
    let branches = if remote.branch == ENV_BRANCH {
        let all = branch_names(&repo, remote)?;
        prune_trees(remote, cache, &all);
        all
    } else {
        vec![remote.branch.clone()]
    };
    let mut changed = false;
    for branch in branches {
        changed |= write_tree(&repo, remote, &branch, &remote.tree(cache, &branch))?;
    }
    Ok(changed)
}

fn git_error(remote: &GitPillarRemote, what: &str, source: git2::Error) -> FileServerError {
    FileServerError::Git {
        remote: remote.url.clone(),
        what: what.to_string(),
        source,
    }
}

fn io_error(remote: &GitPillarRemote, what: String, e: std::io::Error) -> FileServerError {
    FileServerError::Update {
        remote: remote.url.clone(),
        reason: format!("{what}: {e}"),
    }
}

fn branch_names(
    repo: &Repository,
    remote: &GitPillarRemote,
) -> Result<Vec<String>, FileServerError> {
    let refs = repo
        .references()
        .map_err(|e| git_error(remote, "references", e))?;
    Ok(refs
        .flatten()
        .filter_map(|r| r.name().ok()?.strip_prefix("refs/heads/").map(String::from))
        .collect())
}

/// Remove the trees of `__env__` branches deleted upstream.
fn prune_trees(remote: &GitPillarRemote, cache: &Path, branches: &[String]) {
    let keep: Vec<PathBuf> = branches.iter().map(|b| remote.tree(cache, b)).collect();
    let Ok(entries) = std::fs::read_dir(remote.dir(cache).join("trees")) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let is_tree = !name.to_string_lossy().starts_with('.') && path.is_dir();
        if is_tree && !keep.contains(&path) {
            tracing::info!(url = %remote.url, tree = %path.display(), "git ext_pillar branch gone; tree removed");
            if let Err(e) = std::fs::remove_dir_all(&path) {
                tracing::warn!("cannot remove {}: {e}", path.display());
            }
            let _ = std::fs::remove_file(commit_marker(&path));
        }
    }
}

/// The file recording which commit a tree was written from.
fn commit_marker(tree: &Path) -> PathBuf {
    let name = tree
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    tree.with_file_name(format!(".{name}.commit"))
}

/// Write `branch`'s files to `dest` unless they are from the same commit;
/// true when written. A branch the remote lacks is an error.
fn write_tree(
    repo: &Repository,
    remote: &GitPillarRemote,
    branch: &str,
    dest: &Path,
) -> Result<bool, FileServerError> {
    let reference = repo
        .find_reference(&format!("refs/heads/{branch}"))
        .or_else(|_| repo.find_reference(&format!("refs/tags/{branch}")))
        .map_err(|e| git_error(remote, &format!("branch {branch:?}"), e))?;
    let commit = reference
        .peel_to_commit()
        .map_err(|e| git_error(remote, &format!("commit of {branch:?}"), e))?;
    let id = commit.id().to_string();
    let marker = commit_marker(dest);
    if dest.is_dir() && std::fs::read_to_string(&marker).is_ok_and(|m| m.trim() == id) {
        return Ok(false);
    }
    let tree = commit
        .tree()
        .map_err(|e| git_error(remote, &format!("tree of {branch:?}"), e))?;
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let fresh = dest.with_file_name(format!(".{name}.new"));
    let stale = dest.with_file_name(format!(".{name}.old"));
    for leftover in [&fresh, &stale] {
        if leftover.exists() {
            std::fs::remove_dir_all(leftover).map_err(|e| {
                io_error(remote, format!("cannot remove {}", leftover.display()), e)
            })?;
        }
    }
    for (rel, oid) in tree_files(&tree, &remote.url, branch)? {
        let blob = repo
            .find_object(oid, Some(ObjectType::Blob))
            .and_then(|o| o.peel_to_blob())
            .map_err(|e| git_error(remote, &format!("blob of {rel}"), e))?;
        let path = fresh.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| io_error(remote, format!("cannot create {}", parent.display()), e))?;
        }
        std::fs::write(&path, blob.content())
            .map_err(|e| io_error(remote, format!("cannot write {}", path.display()), e))?;
    }
    std::fs::create_dir_all(&fresh)
        .map_err(|e| io_error(remote, format!("cannot create {}", fresh.display()), e))?;
    if dest.exists() {
        std::fs::rename(dest, &stale)
            .map_err(|e| io_error(remote, format!("cannot move {} aside", dest.display()), e))?;
    }
    std::fs::rename(&fresh, dest).map_err(|e| {
        io_error(
            remote,
            format!("cannot move the new tree to {}", dest.display()),
            e,
        )
    })?;
    if stale.exists() {
        let _ = std::fs::remove_dir_all(&stale);
    }
    std::fs::write(&marker, &id)
        .map_err(|e| io_error(remote, format!("cannot write {}", marker.display()), e))?;
    tracing::info!(url = %remote.url, branch, commit = %id, "git ext_pillar tree written");
    Ok(true)
}
