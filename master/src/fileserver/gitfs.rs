//! The `git` backend (Salt's gitfs): `gitfs_remotes` served as `salt://`.
//!
//! Each remote is kept as a bare mirror under `<cachedir>/gitfs/<id>`, made
//! and refreshed with the `git` CLI (`clone --mirror`, `fetch --prune`), and
//! read straight from the object store with git2: no checkout. Branches and
//! tags are environments; `base` is the remote's `base` (`gitfs_base`,
//! default `master`). A remote's `root` subdirectory is served as its top,
//! under its `mountpoint` prefix. The first remote that has a path wins.
//!
//! Salt's environment mapping applies on top: `saltenv` (per remote, or
//! `gitfs_saltenv` for all) maps an environment to any `ref` with its own
//! `root` and `mountpoint`; `disable_saltenv_mapping` serves only `base` and
//! those mapped environments; `all_saltenvs` serves one ref as every
//! environment; `fallback` is the ref for an environment no ref matches;
//! `ref_types` picks which of branches, tags and commit IDs may name one;
//! `gitfs_saltenv_whitelist`/`_blacklist` hide environments.
//! Symlink blobs are never followed: they are left out of manifests and a
//! read of one is refused.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use brine_common::config::MasterConfig;
use brine_common::fileroots::{FileEntry, first_found, merge_first_wins, sha256_hex, url_id};
use brine_common::ids::{RelPath, SaltEnv};
use brine_common::target::{ExprMatcher, check_whitelist_blacklist};
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
    /// `gitfs_saltenv`.
    pub saltenv: BTreeMap<String, EnvSettings>,
    pub ref_types: Vec<RefType>,
    pub disable_saltenv_mapping: bool,
    pub fallback: String,
}

impl Defaults {
    pub fn from_config(config: &MasterConfig) -> Result<Self, String> {
        let ref_types = config
            .gitfs_ref_types
            .iter()
            .map(|t| RefType::parse(t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("gitfs_ref_types: {e}"))?;
        Ok(Defaults {
            base: config.gitfs_base.clone(),
            root: config.gitfs_root.clone(),
            mountpoint: config.gitfs_mountpoint.clone(),
            mirrors: config.cachedir.join("gitfs"),
            saltenv: saltenv_settings(&Value::Array(config.gitfs_saltenv.clone()))
                .map_err(|e| format!("gitfs_saltenv: {e}"))?,
            ref_types,
            disable_saltenv_mapping: config.gitfs_disable_saltenv_mapping,
            fallback: config.gitfs_fallback.clone(),
        })
    }
}

/// The kinds of refs that may name an environment (`ref_types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefType {
    Branch,
    Tag,
    Sha,
}

impl RefType {
    fn parse(text: &str) -> Result<RefType, String> {
        match text {
            "branch" => Ok(RefType::Branch),
            "tag" => Ok(RefType::Tag),
            "sha" => Ok(RefType::Sha),
            other => Err(format!(
                "unknown ref type {other:?} (expected branch, tag or sha)"
            )),
        }
    }
}

/// One environment's `saltenv` settings; `None` falls back to the remote's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvSettings {
    pub reference: Option<String>,
    pub root: Option<String>,
    pub mountpoint: Option<String>,
}

/// How one remote serves one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
struct View {
    /// The branch, tag or commit ID.
    reference: String,
    root: String,
    mountpoint: String,
}

impl View {
    /// `salt://` path of a file at `rel` under the root.
    fn salt_path(&self, rel: &str) -> String {
        if self.mountpoint.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.mountpoint)
        }
    }

    /// The path inside the repository that serves `path`, if it is under
    /// the mountpoint.
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
}

/// `saltenv` settings from Salt's list of one-key maps (`- dev: [{ref: x},
/// {root: y}]`; plain maps are accepted at either level).
fn saltenv_settings(raw: &Value) -> Result<BTreeMap<String, EnvSettings>, String> {
    let mut out = BTreeMap::new();
    for (env, conf) in one_key_maps(raw)? {
        let conf = one_key_maps(&conf).map_err(|e| format!("{env}: {e}"))?;
        let mut settings = EnvSettings::default();
        for (key, value) in conf {
            let text = match &value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                other => return Err(format!("{env}: {key} must be a string, not {other}")),
            };
            match key.as_str() {
                "ref" => settings.reference = Some(text),
                "root" => {
                    settings.root =
                        Some(normalize_dir(&text).map_err(|e| format!("{env}: root: {e}"))?)
                }
                "mountpoint" => {
                    settings.mountpoint =
                        Some(normalize_dir(&text).map_err(|e| format!("{env}: mountpoint: {e}"))?);
                }
                other => {
                    return Err(format!(
                        "{env}: unknown setting {other:?} (expected ref, root or mountpoint)"
                    ));
                }
            }
        }
        out.insert(env, settings);
    }
    Ok(out)
}

/// The pairs of a map, or of a list of one-key maps (Salt's config idiom).
fn one_key_maps(raw: &Value) -> Result<Vec<(String, Value)>, String> {
    match raw {
        Value::Null => Ok(Vec::new()),
        Value::Object(map) => Ok(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                let Value::Object(map) = item else {
                    return Err(format!("{item} is not a map"));
                };
                out.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            Ok(out)
        }
        other => Err(format!("cannot read {other}")),
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
    /// Per-environment settings (`gitfs_saltenv`, then the remote's own).
    pub saltenv: BTreeMap<String, EnvSettings>,
    pub ref_types: Vec<RefType>,
    pub disable_saltenv_mapping: bool,
    /// The ref for an environment no ref matches.
    pub fallback: Option<String>,
    /// The ref served as every environment.
    pub all_saltenvs: Option<String>,
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
        let mut saltenv = defaults.saltenv.clone();
        if let Some(own) = options.get("saltenv") {
            saltenv.extend(saltenv_settings(own).map_err(|e| bad("saltenv", e))?);
        }
        let ref_types = match options.get("ref_types") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|t| RefType::parse(t.as_str().unwrap_or_default()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad("ref_types", e))?,
            Some(other) => return Err(bad("ref_types", format!("not a list: {other}"))),
            None => defaults.ref_types.clone(),
        };
        let disable_saltenv_mapping = match options.get("disable_saltenv_mapping") {
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(bad(
                    "disable_saltenv_mapping",
                    format!("not a boolean: {other}"),
                ));
            }
            None => defaults.disable_saltenv_mapping,
        };
        let nonempty = |s: String| (!s.is_empty()).then_some(s);
        Ok(Remote {
            mirror: defaults.mirrors.join(dir_name),
            fallback: nonempty(text("fallback", &defaults.fallback)),
            all_saltenvs: nonempty(text("all_saltenvs", "")),
            url,
            root,
            mountpoint,
            base,
            saltenv,
            ref_types,
            disable_saltenv_mapping,
        })
    }

    /// How this remote serves `env`, or `None` when it does not (Salt's
    /// order: the environment's own `ref`, `all_saltenvs`, `base` for
    /// `base`, else the environment's own name unless mapping is disabled).
    fn view(&self, env: &str) -> Option<View> {
        let own = self.saltenv.get(env);
        let reference = own
            .and_then(|o| o.reference.clone())
            .or_else(|| self.all_saltenvs.clone())
            .or_else(|| (env == "base").then(|| self.base.clone()))
            .or_else(|| (!self.disable_saltenv_mapping).then(|| env.to_string()))?;
        Some(View {
            reference,
            root: own
                .and_then(|o| o.root.clone())
                .unwrap_or_else(|| self.root.clone()),
            mountpoint: own
                .and_then(|o| o.mountpoint.clone())
                .unwrap_or_else(|| self.mountpoint.clone()),
        })
    }

    /// The environment a branch or tag name is served as.
    fn env_name(&self, short: &str) -> String {
        if short == self.base {
            "base".into()
        } else {
            short.to_string()
        }
    }

    fn git_error(&self, what: impl Into<String>, source: git2::Error) -> FileServerError {
        FileServerError::Git {
            remote: self.url.clone(),
            what: what.into(),
            source,
        }
    }
}

/// Per-remote options as a map, from Salt's list of one-key maps.
fn remote_options(url: &str, raw: &Value) -> Result<Map<String, Value>, String> {
    let options: Map<String, Value> = one_key_maps(raw)
        .map_err(|e| format!("gitfs remote {url}: options: {e}"))?
        .into_iter()
        .collect();
    for key in options.keys() {
        if !matches!(
            key.as_str(),
            "root"
                | "mountpoint"
                | "base"
                | "name"
                | "saltenv"
                | "ref_types"
                | "disable_saltenv_mapping"
                | "fallback"
                | "all_saltenvs"
        ) {
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

/// The gitfs backend.
pub struct GitFs {
    remotes: Vec<Remote>,
    /// `gitfs_saltenv_whitelist` and `gitfs_saltenv_blacklist`, compiled.
    whitelist: Vec<ExprMatcher>,
    blacklist: Vec<ExprMatcher>,
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
            whitelist: Vec::new(),
            blacklist: Vec::new(),
            hashes: Mutex::new(HashMap::new()),
            last_blob: Mutex::new(None),
            updating: Mutex::new(()),
        }
    }

    /// The remotes of `gitfs_remotes`; bad or duplicate entries are logged
    /// and skipped.
    pub fn from_config(config: &MasterConfig) -> Self {
        let defaults = match Defaults::from_config(config) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("{e}; gitfs serves nothing until the config is fixed");
                return GitFs::new(Vec::new());
            }
        };
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
        GitFs {
            whitelist: ExprMatcher::all(&config.gitfs_saltenv_whitelist),
            blacklist: ExprMatcher::all(&config.gitfs_saltenv_blacklist),
            ..GitFs::new(remotes)
        }
    }

    /// With these `gitfs_saltenv_whitelist` and `_blacklist` entries.
    pub fn with_env_lists(self, whitelist: Vec<String>, blacklist: Vec<String>) -> Self {
        GitFs {
            whitelist: ExprMatcher::all(&whitelist),
            blacklist: ExprMatcher::all(&blacklist),
            ..self
        }
    }

    /// Whether the white- and blacklist let `env` be served.
    fn exposed(&self, env: &str) -> bool {
        check_whitelist_blacklist(env, &self.whitelist, &self.blacklist)
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

    /// The tree `view` serves: its ref tried as each allowed ref type, then
    /// the remote's `fallback`; `None` when nothing matches.
    fn env_tree<'r>(
        repo: &'r Repository,
        remote: &Remote,
        view: &View,
    ) -> Result<Option<Tree<'r>>, FileServerError> {
        for name in std::iter::once(&view.reference).chain(remote.fallback.as_ref()) {
            for kind in &remote.ref_types {
                if let Some(tree) = Self::ref_tree(repo, remote, *kind, name)? {
                    return Ok(Some(tree));
                }
            }
        }
        Ok(None)
    }

    /// The tree of `name` read as a branch, a tag or a commit ID.
    fn ref_tree<'r>(
        repo: &'r Repository,
        remote: &Remote,
        kind: RefType,
        name: &str,
    ) -> Result<Option<Tree<'r>>, FileServerError> {
        let full = match kind {
            RefType::Branch => format!("refs/heads/{name}"),
            RefType::Tag => format!("refs/tags/{name}"),
            RefType::Sha => return Self::commit_tree(repo, remote, name),
        };
        if !git2::Reference::is_valid_name(&full) {
            return Ok(None);
        }
        match repo.find_reference(&full) {
            Ok(r) => r
                .peel_to_tree()
                .map(Some)
                .map_err(|e| remote.git_error(format!("ref {full}"), e)),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(remote.git_error(format!("ref {full}"), e)),
        }
    }

    /// The tree of a commit named by its ID (4 to 40 hex digits).
    fn commit_tree<'r>(
        repo: &'r Repository,
        remote: &Remote,
        id: &str,
    ) -> Result<Option<Tree<'r>>, FileServerError> {
        if !(4..=40).contains(&id.len()) || !id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let object = match repo.revparse_single(id) {
            Ok(o) => o,
            Err(e) if matches!(e.code(), ErrorCode::NotFound | ErrorCode::Ambiguous) => {
                return Ok(None);
            }
            Err(e) => return Err(remote.git_error(format!("commit {id}"), e)),
        };
        match object.peel_to_commit() {
            Ok(commit) => commit
                .tree()
                .map(Some)
                .map_err(|e| remote.git_error(format!("tree of commit {id}"), e)),
            Err(_) => Ok(None),
        }
    }

    /// The remote's `root` inside `tree`, or `None` when the ref lacks it.
    fn root_tree<'r>(
        repo: &'r Repository,
        remote: &Remote,
        view: &View,
        tree: Tree<'r>,
        env: &str,
    ) -> Result<Option<Tree<'r>>, FileServerError> {
        if view.root.is_empty() {
            return Ok(Some(tree));
        }
        let what = || format!("root {:?} in {env:?}", view.root);
        match tree.get_path(Path::new(&view.root)) {
            Ok(entry) if entry.kind() == Some(ObjectType::Tree) => repo
                .find_tree(entry.id())
                .map(Some)
                .map_err(|e| remote.git_error(what(), e)),
            Ok(_) => Ok(None),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(remote.git_error(what(), e)),
        }
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
        let Some(view) = remote.view(env).filter(|_| self.exposed(env)) else {
            return Ok(None);
        };
        let Some(repo) = self.open(remote)? else {
            return Ok(None);
        };
        let Some(tree) = Self::env_tree(&repo, remote, &view)? else {
            return Ok(None);
        };
        let Some(top) = Self::root_tree(&repo, remote, &view, tree, env)? else {
            return Ok(Some(Vec::new()));
        };
        let mut entries = Vec::new();
        for (rel, oid) in tree_files(&top, &remote.url, env)? {
            let salt_path = view.salt_path(&rel);
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
        let Some(view) = remote.view(env).filter(|_| self.exposed(env)) else {
            return Ok(None);
        };
        let Some(inner) = view.repo_path(path) else {
            return Ok(None);
        };
        let Some(repo) = self.open(remote)? else {
            return Ok(None);
        };
        let Some(tree) = Self::env_tree(&repo, remote, &view)? else {
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
                reference: view.reference.clone(),
                path: path.to_string(),
            });
        }
        if entry.kind() != Some(ObjectType::Blob) {
            return Ok(None);
        }
        let data = self.blob_content(&repo, remote, entry.id(), path)?;
        Ok(Some((chunk(&data, offset, len), data.len() as u64)))
    }

    /// Environments of one remote: its branches and tags (as the allowed
    /// ref types and the mapping setting permit; the `base` ref as `base`),
    /// and every `saltenv` environment whose ref exists; all of them through
    /// the white- and blacklist.
    fn remote_envs(&self, remote: &Remote) -> Result<Vec<String>, FileServerError> {
        let Some(repo) = self.open(remote)? else {
            return Ok(Vec::new());
        };
        let refs = repo
            .references()
            .map_err(|e| remote.git_error("references", e))?;
        let allows = |kind: RefType| remote.ref_types.contains(&kind);
        let mut envs = Vec::new();
        for reference in refs.flatten() {
            let Ok(name) = reference.name() else {
                continue;
            };
            let short = match (
                name.strip_prefix("refs/heads/"),
                name.strip_prefix("refs/tags/"),
            ) {
                (Some(branch), _) if allows(RefType::Branch) => branch,
                (_, Some(tag)) if allows(RefType::Tag) => tag,
                _ => continue,
            };
            let env = remote.env_name(short);
            if env == "base" || !remote.disable_saltenv_mapping {
                envs.push(env);
            }
        }
        for env in remote.saltenv.keys() {
            if let Some(view) = remote.view(env)
                && Self::env_tree(&repo, remote, &view)?.is_some()
            {
                envs.push(env.clone());
            }
        }
        envs.retain(|env| self.exposed(env));
        Ok(envs)
    }
}

/// Regular files under `tree` as (path relative to it, blob id).
/// Symlinks and submodules are left out.
pub(crate) fn tree_files(
    tree: &Tree<'_>,
    url: &str,
    env: &str,
) -> Result<Vec<(String, Oid)>, FileServerError> {
    let mut files = Vec::new();
    tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
        let Ok(name) = entry.name() else {
            tracing::warn!(
                "git remote {}: a non-UTF-8 name under {dir:?} is not served",
                url
            );
            return TreeWalkResult::Ok;
        };
        if entry.filemode() == SYMLINK_MODE {
            tracing::debug!(
                "git remote {}: {dir}{name} in {env:?} is a symlink, not served",
                url
            );
        } else if entry.kind() == Some(ObjectType::Blob) {
            files.push((format!("{dir}{name}"), entry.id()));
        }
        TreeWalkResult::Ok
    })
    .map_err(|e| FileServerError::Git {
        remote: url.to_string(),
        what: format!("tree of {env:?}"),
        source: e,
    })?;
    Ok(files)
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

/// A bare mirror of a git remote at `path`, made and refreshed with the
/// git CLI (gitfs remotes and git ext_pillar remotes alike).
pub(crate) struct Mirror<'a> {
    pub url: &'a str,
    pub path: &'a Path,
}

impl Mirror<'_> {
    fn error(&self, reason: impl Into<String>) -> FileServerError {
        FileServerError::Update {
            remote: self.url.to_string(),
            reason: reason.into(),
        }
    }
}

/// Run a git command for a mirror; its stderr names the failure.
fn run_git(m: &Mirror<'_>, what: &str, mut cmd: Command) -> Result<(), FileServerError> {
    let out = cmd
        .output()
        .map_err(|e| m.error(format!("cannot run git {what}: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(m.error(format!("git {what} failed: {}", stderr.trim())))
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
fn clone_mirror(m: &Mirror<'_>) -> Result<(), FileServerError> {
    let io = |what: &str, e: std::io::Error| m.error(format!("{what}: {e}"));
    if let Some(parent) = m.path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io("cannot create the mirror dir", e))?;
    }
    // Remote names cannot start with a dot, so this never names a mirror.
    let partial = match m.path.file_name() {
        Some(name) => m
            .path
            .with_file_name(format!(".{}.partial", name.to_string_lossy())),
        None => return Err(m.error("the mirror path has no name")),
    };
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| io("cannot remove a partial clone", e))?;
    }
    if m.path.exists() {
        std::fs::remove_dir_all(m.path).map_err(|e| io("cannot remove a broken mirror", e))?;
    }
    let mut cmd = git();
    cmd.args(["clone", "--mirror", "--quiet", "--"])
        .arg(m.url)
        .arg(&partial);
    run_git(m, "clone", cmd)?;
    std::fs::rename(&partial, m.path).map_err(|e| io("cannot move the new mirror", e))
}

/// Later fetches: follow the URL (a named remote may change it) and prune
/// refs deleted upstream.
fn fetch_mirror(m: &Mirror<'_>) -> Result<(), FileServerError> {
    let mut set_url = git();
    set_url
        .arg("-C")
        .arg(m.path)
        .args(["remote", "set-url", "origin", "--"])
        .arg(m.url);
    run_git(m, "remote set-url", set_url)?;
    let mut fetch = git();
    fetch
        .arg("-C")
        .arg(m.path)
        .args(["fetch", "--prune", "--quiet", "origin"]);
    run_git(m, "fetch", fetch)
}

/// Clone or fetch a mirror; true when a ref moved.
pub(crate) fn update_mirror(m: &Mirror<'_>) -> Result<bool, FileServerError> {
    let before = ref_targets(m.path);
    if m.path.join("HEAD").exists() {
        fetch_mirror(m)?;
    } else {
        clone_mirror(m)?;
    }
    let changed = ref_targets(m.path) != before;
    tracing::info!(remote = %m.url, changed, "gitfs remote updated");
    Ok(changed)
}

impl Backend for GitFs {
    fn name(&self) -> &'static str {
        "git"
    }

    fn environments(&self) -> Vec<SaltEnv> {
        let mut envs = BTreeSet::new();
        for remote in &self.remotes {
            match self.remote_envs(remote) {
                Ok(found) => envs.extend(found),
                Err(e) => tracing::warn!("{e}"),
            }
        }
        // A branch or tag whose name cannot be a saltenv is not served.
        envs.iter().filter_map(|e| SaltEnv::parse(e).ok()).collect()
    }

    fn manifest(&self, env: &SaltEnv) -> Result<Option<Vec<FileEntry>>, FileServerError> {
        merge_first_wins(
            self.remotes
                .iter()
                .map(|remote| self.remote_manifest(remote, env.as_str())),
        )
    }

    fn read_chunk(
        &self,
        env: &str,
        path: &RelPath,
        offset: u64,
        len: usize,
    ) -> Result<Option<(Vec<u8>, u64)>, FileServerError> {
        first_found(
            self.remotes
                .iter()
                .map(|remote| self.remote_read(remote, env, path, offset, len)),
        )
    }

    fn update(&self) -> UpdateOutcome {
        let _one_at_a_time = self.updating.lock().unwrap_or_else(|p| p.into_inner());
        let mut outcome = UpdateOutcome::default();
        for remote in &self.remotes {
            let mirror = Mirror {
                url: &remote.url,
                path: &remote.mirror,
            };
            match update_mirror(&mirror) {
                Ok(changed) => outcome.changed |= changed,
                Err(e) => outcome.errors.push(e),
            }
        }
        outcome
    }
}
