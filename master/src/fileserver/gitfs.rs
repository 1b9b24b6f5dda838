//! The `git` backend (Salt's gitfs): `gitfs_remotes` served as `salt://`.
//!
//! Each remote is kept as a bare mirror under `<cachedir>/gitfs/<id>`, made
//! and refreshed with the `git` CLI (`clone --mirror`, `fetch --prune`), and
//! read straight from the object store with git2: no checkout. Branches and
//! tags are environments; `base` is the remote's `base` (`gitfs_base`,
//! default `master`). A remote's `root` subdirectory is served as its top,
//! under its `mountpoint` prefix. The first remote that has a path wins.
//! Symlink blobs are never followed: they are left out of manifests and a
//! read of one is refused.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use brine_common::config::MasterConfig;
use brine_common::fileroots::{FileEntry, hex};
use brine_common::ids::RelPath;
use git2::{ErrorCode, ObjectType, Oid, Repository, Tree, TreeWalkMode, TreeWalkResult};
use serde_json::{Map, Value};

use super::{Backend, FileServerError, UpdateOutcome};

/// Git's file mode for a symlink blob.
const SYMLINK_MODE: i32 = 0o120000;

/// The settings every remote starts from (Salt's global `gitfs_*` keys).
#[derive(Debug, Clone)]
pub struct Defaults {
    pub base: String,
    pub root: String,
    pub mountpoint: String,
    /// Where the mirrors live (`<cachedir>/gitfs`).
    pub mirrors: PathBuf,
}

impl Defaults {
    pub fn from_config(config: &MasterConfig) -> Self {
        Defaults {
            base: config.gitfs_base.clone(),
            root: config.gitfs_root.clone(),
            mountpoint: config.gitfs_mountpoint.clone(),
            mirrors: config.cachedir.join("gitfs"),
        }
    }
}

/// One entry of `gitfs_remotes`, with its options resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub url: String,
    /// Subdirectory served as the top ("" for the whole tree).
    pub root: String,
    /// Prefix of every served path ("" for none).
    pub mountpoint: String,
    /// The branch or tag that is the `base` environment.
    pub base: String,
    /// The bare mirror.
    pub mirror: PathBuf,
}

impl Remote {
    /// From a `gitfs_remotes` entry: `url`, or `{url: [{root: x}, ...]}`
    /// (Salt's list of one-key maps; a plain map is accepted too).
    pub fn parse(entry: &Value, defaults: &Defaults) -> Result<Remote, String> {
        let (url, options) = match entry {
            Value::String(url) => (url.clone(), Map::new()),
            Value::Object(map) if map.len() == 1 => {
                let (url, raw) = map.iter().next().ok_or("empty remote")?;
                (url.clone(), remote_options(url, raw)?)
            }
            other => return Err(format!("gitfs_remotes: cannot read entry {other}")),
        };
        if url.trim().is_empty() {
            return Err("gitfs_remotes: empty remote URL".into());
        }
        let text = |key: &str, default: &str| -> String {
            match options.get(key) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => default.to_string(),
                Some(other) => other.to_string(),
            }
        };
        let bad = |what: &str, e: String| format!("gitfs remote {url}: {what}: {e}");
        let root = normalize_dir(&text("root", &defaults.root)).map_err(|e| bad("root", e))?;
        let mountpoint = normalize_dir(&text("mountpoint", &defaults.mountpoint))
            .map_err(|e| bad("mountpoint", e))?;
        let base = text("base", &defaults.base);
        if base.is_empty() {
            return Err(bad("base", "empty".into()));
        }
        let dir_name = match options.get("name") {
            Some(Value::String(name)) => valid_name(name).map_err(|e| bad("name", e))?,
            Some(other) => return Err(bad("name", format!("not a string: {other}"))),
            None => url_id(&url),
        };
        Ok(Remote {
            mirror: defaults.mirrors.join(dir_name),
            url,
            root,
            mountpoint,
            base,
        })
    }

    /// The branch or tag name `env` stands for.
    fn ref_name<'a>(&'a self, env: &'a str) -> &'a str {
        if env == "base" { &self.base } else { env }
    }

    /// The environment a branch or tag name is served as.
    fn env_name(&self, short: &str) -> String {
        if short == self.base {
            "base".into()
        } else {
            short.to_string()
        }
    }

    /// `salt://` path of a file at `rel` under the root.
    fn salt_path(&self, rel: &str) -> String {
        if self.mountpoint.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.mountpoint)
        }
    }

    /// The path inside the repository that serves `path`, if it is under
    /// this remote's mountpoint.
    fn repo_path(&self, path: &RelPath) -> Option<String> {
        let rest = if self.mountpoint.is_empty() {
            path.as_str()
        } else {
            path.as_str()
                .strip_prefix(self.mountpoint.as_str())?
                .strip_prefix('/')?
        };
        Some(if self.root.is_empty() {
            rest.to_string()
        } else {
            format!("{}/{rest}", self.root)
        })
    }

    fn git_error(&self, what: impl Into<String>, source: git2::Error) -> FileServerError {
        FileServerError::Git {
            remote: self.url.clone(),
            what: what.into(),
            source,
        }
    }

    fn update_error(&self, reason: impl Into<String>) -> FileServerError {
        FileServerError::Update {
            remote: self.url.clone(),
            reason: reason.into(),
        }
    }
}

/// Per-remote options as a map, from Salt's list of one-key maps.
fn remote_options(url: &str, raw: &Value) -> Result<Map<String, Value>, String> {
    let mut options = Map::new();
    match raw {
        Value::Null => {}
        Value::Object(map) => options.extend(map.clone()),
        Value::Array(items) => {
            for item in items {
                let Value::Object(map) = item else {
                    return Err(format!("gitfs remote {url}: option {item} is not a map"));
                };
                options.extend(map.clone());
            }
        }
        other => return Err(format!("gitfs remote {url}: cannot read options {other}")),
    }
    for key in options.keys() {
        if !matches!(key.as_str(), "root" | "mountpoint" | "base" | "name") {
            tracing::warn!("gitfs remote {url}: unsupported option {key:?} ignored");
        }
    }
    Ok(options)
}

/// A `root` or `mountpoint` as a relative path without slashes at either
/// end ("" for none); a `salt://` prefix is dropped.
fn normalize_dir(raw: &str) -> Result<String, String> {
    let trimmed = raw.strip_prefix("salt://").unwrap_or(raw).trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    RelPath::parse(trimmed)
        .map(|p| p.as_str().to_string())
        .map_err(|e| e.to_string())
}

/// A remote's `name`, used as its mirror's directory name.
fn valid_name(name: &str) -> Result<String, String> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(name.to_string())
    } else {
        Err(format!("{name:?} is not a plain directory name"))
    }
}

/// The mirror directory name of an unnamed remote: a hash of its URL.
fn url_id(url: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, url.as_bytes());
    hex(&digest.as_ref()[..16])
}

fn sha256_hex(data: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

/// The gitfs backend.
pub struct GitFs {
    remotes: Vec<Remote>,
    /// (size, SHA-256) by blob id: a blob id names its content, so entries
    /// never go stale.
    hashes: Mutex<HashMap<Oid, (u64, String)>>,
    /// The last blob read, so the chunks of one file decompress it once.
    last_blob: Mutex<Option<(Oid, Arc<Vec<u8>>)>>,
    /// One update at a time.
    updating: Mutex<()>,
}

impl GitFs {
    pub fn new(remotes: Vec<Remote>) -> Self {
        GitFs {
            remotes,
            hashes: Mutex::new(HashMap::new()),
            last_blob: Mutex::new(None),
            updating: Mutex::new(()),
        }
    }

    /// The remotes of `gitfs_remotes`; bad or duplicate entries are logged
    /// and skipped.
    pub fn from_config(config: &MasterConfig) -> Self {
        let defaults = Defaults::from_config(config);
        let mut mirrors = HashSet::new();
        let mut remotes = Vec::new();
        for entry in &config.gitfs_remotes {
            match Remote::parse(entry, &defaults) {
                Ok(remote) if mirrors.insert(remote.mirror.clone()) => remotes.push(remote),
                Ok(remote) => tracing::error!(
                    "gitfs remote {} is listed twice (or shares a name); the later entry is ignored",
                    remote.url
                ),
                Err(e) => tracing::error!("{e}"),
            }
        }
        GitFs::new(remotes)
    }

    pub fn remotes(&self) -> &[Remote] {
        &self.remotes
    }

    /// The remote's mirror, or `None` before its first fetch.
    fn open(&self, remote: &Remote) -> Result<Option<Repository>, FileServerError> {
        if !remote.mirror.join("HEAD").exists() {
            tracing::debug!("gitfs remote {} is not fetched yet", remote.url);
            return Ok(None);
        }
        Repository::open_bare(&remote.mirror)
            .map(Some)
            .map_err(|e| remote.git_error(format!("mirror {}", remote.mirror.display()), e))
    }

    /// The tree of the branch or tag `env` stands for, or `None` when the
    /// remote has no such ref.
    fn env_tree<'r>(
        repo: &'r Repository,
        remote: &Remote,
        env: &str,
    ) -> Result<Option<Tree<'r>>, FileServerError> {
        let name = remote.ref_name(env);
        for full in [format!("refs/heads/{name}"), format!("refs/tags/{name}")] {
            if !git2::Reference::is_valid_name(&full) {
                return Ok(None);
            }
            match repo.find_reference(&full) {
                Ok(r) => {
                    return r
                        .peel_to_tree()
                        .map(Some)
                        .map_err(|e| remote.git_error(format!("ref {full}"), e));
                }
                Err(e) if e.code() == ErrorCode::NotFound => continue,
                Err(e) => return Err(remote.git_error(format!("ref {full}"), e)),
            }
        }
        Ok(None)
    }

    /// The remote's `root` inside `tree`, or `None` when the ref lacks it.
    fn root_tree<'r>(
        repo: &'r Repository,
        remote: &Remote,
        tree: Tree<'r>,
        env: &str,
    ) -> Result<Option<Tree<'r>>, FileServerError> {
        if remote.root.is_empty() {
            return Ok(Some(tree));
        }
        let what = || format!("root {:?} in {env:?}", remote.root);
        match tree.get_path(Path::new(&remote.root)) {
            Ok(entry) if entry.kind() == Some(ObjectType::Tree) => repo
                .find_tree(entry.id())
                .map(Some)
                .map_err(|e| remote.git_error(what(), e)),
            Ok(_) => Ok(None),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(remote.git_error(what(), e)),
        }
    }

    /// Regular files under `tree` as (path relative to it, blob id).
    /// Symlinks and submodules are left out.
    fn walk_files(
        tree: &Tree<'_>,
        remote: &Remote,
        env: &str,
    ) -> Result<Vec<(String, Oid)>, FileServerError> {
        let mut files = Vec::new();
        tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
            let Ok(name) = entry.name() else {
                tracing::warn!(
                    "gitfs remote {}: a non-UTF-8 name under {dir:?} is not served",
                    remote.url
                );
                return TreeWalkResult::Ok;
            };
            if entry.filemode() == SYMLINK_MODE {
                tracing::debug!(
                    "gitfs remote {}: {dir}{name} in {env:?} is a symlink, not served",
                    remote.url
                );
            } else if entry.kind() == Some(ObjectType::Blob) {
                files.push((format!("{dir}{name}"), entry.id()));
            }
            TreeWalkResult::Ok
        })
        .map_err(|e| remote.git_error(format!("tree of {env:?}"), e))?;
        Ok(files)
    }

    /// Size and SHA-256 of a blob, computed once per blob id.
    fn blob_hash(
        &self,
        repo: &Repository,
        remote: &Remote,
        oid: Oid,
        path: &str,
    ) -> Result<(u64, String), FileServerError> {
        if let Some(known) = self.lock_hashes().get(&oid) {
            return Ok(known.clone());
        }
        let blob = repo
            .find_blob(oid)
            .map_err(|e| remote.git_error(format!("blob of {path}"), e))?;
        let found = (blob.size() as u64, sha256_hex(blob.content()));
        self.lock_hashes().insert(oid, found.clone());
        Ok(found)
    }

    fn lock_hashes(&self) -> std::sync::MutexGuard<'_, HashMap<Oid, (u64, String)>> {
        self.hashes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The content of a blob (the last one read is kept).
    fn blob_content(
        &self,
        repo: &Repository,
        remote: &Remote,
        oid: Oid,
        path: &RelPath,
    ) -> Result<Arc<Vec<u8>>, FileServerError> {
        let mut last = self.last_blob.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((id, data)) = last.as_ref()
            && *id == oid
        {
            return Ok(data.clone());
        }
        let blob = repo
            .find_blob(oid)
            .map_err(|e| remote.git_error(format!("blob of salt://{path}"), e))?;
        let data = Arc::new(blob.content().to_vec());
        *last = Some((oid, data.clone()));
        Ok(data)
    }

    /// One remote's files in `env`, or `None` when it has no such ref.
    fn remote_manifest(
        &self,
        remote: &Remote,
        env: &str,
    ) -> Result<Option<Vec<FileEntry>>, FileServerError> {
        let Some(repo) = self.open(remote)? else {
            return Ok(None);
        };
        let Some(tree) = Self::env_tree(&repo, remote, env)? else {
            return Ok(None);
        };
        let Some(top) = Self::root_tree(&repo, remote, tree, env)? else {
            return Ok(Some(Vec::new()));
        };
        let mut entries = Vec::new();
        for (rel, oid) in Self::walk_files(&top, remote, env)? {
            let salt_path = remote.salt_path(&rel);
            let Ok(path) = RelPath::parse(&salt_path) else {
                tracing::warn!("gitfs remote {}: unusable path {salt_path:?}", remote.url);
                continue;
            };
            let (size, hash) = self.blob_hash(&repo, remote, oid, &salt_path)?;
            entries.push(FileEntry { path, hash, size });
        }
        Ok(Some(entries))
    }

    /// A chunk of `path` from one remote, or `None` when it lacks the path.
    fn remote_read(
        &self,
        remote: &Remote,
        env: &str,
        path: &RelPath,
        offset: u64,
        len: usize,
    ) -> Result<Option<(Vec<u8>, u64)>, FileServerError> {
        let Some(inner) = remote.repo_path(path) else {
            return Ok(None);
        };
        let Some(repo) = self.open(remote)? else {
            return Ok(None);
        };
        let Some(tree) = Self::env_tree(&repo, remote, env)? else {
            return Ok(None);
        };
        let entry = match tree.get_path(Path::new(&inner)) {
            Ok(entry) => entry,
            Err(e) if e.code() == ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(remote.git_error(format!("salt://{path} in {env:?}"), e)),
        };
        if entry.filemode() == SYMLINK_MODE {
            tracing::warn!(path = %path, remote = %remote.url, env, "refused a symlink in a gitfs remote");
            return Err(FileServerError::Symlink {
                remote: remote.url.clone(),
                reference: remote.ref_name(env).to_string(),
                path: path.to_string(),
            });
        }
        if entry.kind() != Some(ObjectType::Blob) {
            return Ok(None);
        }
        let data = self.blob_content(&repo, remote, entry.id(), path)?;
        Ok(Some((chunk(&data, offset, len), data.len() as u64)))
    }

    /// Environments of one remote (its branches and tags).
    fn remote_envs(&self, remote: &Remote) -> Result<Vec<String>, FileServerError> {
        let Some(repo) = self.open(remote)? else {
            return Ok(Vec::new());
        };
        let refs = repo
            .references()
            .map_err(|e| remote.git_error("references", e))?;
        let mut envs = Vec::new();
        for reference in refs.flatten() {
            let Ok(name) = reference.name() else {
                continue;
            };
            if let Some(short) = name
                .strip_prefix("refs/heads/")
                .or_else(|| name.strip_prefix("refs/tags/"))
            {
                envs.push(remote.env_name(short));
            }
        }
        Ok(envs)
    }
}

/// Up to `len` bytes of `data` from `offset`.
fn chunk(data: &[u8], offset: u64, len: usize) -> Vec<u8> {
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(data.len());
    let end = start.saturating_add(len).min(data.len());
    data[start..end].to_vec()
}

/// `git` with no prompts and no stdin.
fn git() -> Command {
    let mut cmd = Command::new("git");
    cmd.env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Run a git command for `remote`; its stderr names the failure.
fn run_git(remote: &Remote, what: &str, mut cmd: Command) -> Result<(), FileServerError> {
    let out = cmd
        .output()
        .map_err(|e| remote.update_error(format!("cannot run git {what}: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(remote.update_error(format!("git {what} failed: {}", stderr.trim())))
}

/// Every ref of a mirror and its target (empty before the first clone).
fn ref_targets(mirror: &Path) -> BTreeMap<String, Oid> {
    let Ok(repo) = Repository::open_bare(mirror) else {
        return BTreeMap::new();
    };
    let Ok(refs) = repo.references() else {
        return BTreeMap::new();
    };
    refs.flatten()
        .filter_map(|r| Some((r.name().ok()?.to_string(), r.target()?)))
        .collect()
}

/// First fetch: clone into a temporary directory, then move it in place,
/// so an interrupted clone never looks like a mirror.
fn clone_mirror(remote: &Remote) -> Result<(), FileServerError> {
    let io = |what: &str, e: std::io::Error| remote.update_error(format!("{what}: {e}"));
    if let Some(parent) = remote.mirror.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io("cannot create the mirror dir", e))?;
    }
    // Remote names cannot start with a dot, so this never names a mirror.
    let partial = match remote.mirror.file_name() {
        Some(name) => remote
            .mirror
            .with_file_name(format!(".{}.partial", name.to_string_lossy())),
        None => return Err(remote.update_error("the mirror path has no name")),
    };
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| io("cannot remove a partial clone", e))?;
    }
    if remote.mirror.exists() {
        std::fs::remove_dir_all(&remote.mirror)
            .map_err(|e| io("cannot remove a broken mirror", e))?;
    }
    let mut cmd = git();
    cmd.args(["clone", "--mirror", "--quiet", "--"])
        .arg(&remote.url)
        .arg(&partial);
    run_git(remote, "clone", cmd)?;
    std::fs::rename(&partial, &remote.mirror).map_err(|e| io("cannot move the new mirror", e))
}

/// Later fetches: follow the URL (a named remote may change it) and prune
/// refs deleted upstream.
fn fetch_mirror(remote: &Remote) -> Result<(), FileServerError> {
    let mut set_url = git();
    set_url
        .arg("-C")
        .arg(&remote.mirror)
        .args(["remote", "set-url", "origin", "--"])
        .arg(&remote.url);
    run_git(remote, "remote set-url", set_url)?;
    let mut fetch = git();
    fetch
        .arg("-C")
        .arg(&remote.mirror)
        .args(["fetch", "--prune", "--quiet", "origin"]);
    run_git(remote, "fetch", fetch)
}

/// Clone or fetch one remote; true when a ref moved.
fn update_remote(remote: &Remote) -> Result<bool, FileServerError> {
    let before = ref_targets(&remote.mirror);
    if remote.mirror.join("HEAD").exists() {
        fetch_mirror(remote)?;
    } else {
        clone_mirror(remote)?;
    }
    let changed = ref_targets(&remote.mirror) != before;
    tracing::info!(remote = %remote.url, changed, "gitfs remote updated");
    Ok(changed)
}

impl Backend for GitFs {
    fn name(&self) -> &'static str {
        "git"
    }

    fn environments(&self) -> Vec<String> {
        let mut envs = BTreeSet::new();
        for remote in &self.remotes {
            match self.remote_envs(remote) {
                Ok(found) => envs.extend(found),
                Err(e) => tracing::warn!("{e}"),
            }
        }
        envs.into_iter().collect()
    }

    fn manifest(&self, env: &str) -> Result<Option<Vec<FileEntry>>, FileServerError> {
        let mut merged: BTreeMap<RelPath, FileEntry> = BTreeMap::new();
        let mut served = false;
        for remote in &self.remotes {
            let Some(files) = self.remote_manifest(remote, env)? else {
                continue;
            };
            served = true;
            for entry in files {
                merged.entry(entry.path.clone()).or_insert(entry);
            }
        }
        Ok(served.then(|| merged.into_values().collect()))
    }

    fn read_chunk(
        &self,
        env: &str,
        path: &RelPath,
        offset: u64,
        len: usize,
    ) -> Result<Option<(Vec<u8>, u64)>, FileServerError> {
        for remote in &self.remotes {
            if let Some(found) = self.remote_read(remote, env, path, offset, len)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    fn update(&self) -> UpdateOutcome {
        let _one_at_a_time = self.updating.lock().unwrap_or_else(|p| p.into_inner());
        let mut outcome = UpdateOutcome::default();
        for remote in &self.remotes {
            match update_remote(remote) {
                Ok(changed) => outcome.changed |= changed,
                Err(e) => outcome.errors.push(e),
            }
        }
        outcome
    }
}
