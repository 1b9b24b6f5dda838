//! `file_roots`: the directories that serve `salt://` paths per environment.
//!
//! The master's file server reads them for its minions; a masterless minion
//! (`file_client: local`) reads its own. Several roots may serve one
//! environment: the first that has a path wins. Every path is a validated
//! [`RelPath`] and is resolved to its real location, which must stay inside
//! the root it was found in: `..`, absolute paths and NUL bytes cannot be
//! written as a `RelPath`, and a symlink that leads out of its root is
//! refused (and logged).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ids::{RelPath, SaltEnv};

/// One file of an environment's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: RelPath,
    /// SHA-256, lowercase hex.
    pub hash: String,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RootsError {
    #[error("no environment {0:?} in file_roots")]
    NoEnv(String),
    #[error("salt://{0} does not exist in environment {1:?}")]
    NotFound(String, String),
    #[error("salt://{0} leaves its file root (refused)")]
    Escapes(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// A store of `salt://` files by environment (`file_roots`, the master's
/// file server). A template host reads and lists its files through the
/// provided [`FileStore::read_whole`] and [`FileStore::list_paths`], so every
/// host answers a missing file, a missing environment and an error alike.
pub trait FileStore {
    /// Why the store could not answer.
    type Error: std::fmt::Display;

    /// Every file of `env`.
    fn env_files(&self, env: &SaltEnv) -> Result<Vec<FileEntry>, Self::Error>;

    /// Up to `len` bytes of `path` in `env` from `offset`, and the file's size.
    fn file_chunk(&self, env: &SaltEnv, path: &RelPath, offset: u64, len: usize) -> Chunk<Self>;

    /// Whether `error` says that the environment does not exist.
    fn no_such_env(error: &Self::Error) -> bool;

    /// Whether `error` says that the file (or its environment) does not exist.
    fn no_such_file(error: &Self::Error) -> bool;

    /// The bytes of `salt://path` in `env`, at most `limit` of them;
    /// `Ok(None)` when there is no such file (a template host's `read_file`).
    fn read_whole(
        &self,
        env: &SaltEnv,
        path: &RelPath,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, String> {
        let mut data = Vec::new();
        loop {
            let want = (limit - data.len() as u64).min(READ_CHUNK as u64) as usize;
            let (bytes, size) = match self.file_chunk(env, path, data.len() as u64, want) {
                Ok(chunk) => chunk,
                Err(e) if Self::no_such_file(&e) => return Ok(None),
                Err(e) => return Err(e.to_string()),
            };
            let done = bytes.is_empty();
            data.extend(bytes);
            let read = data.len() as u64;
            if done || read >= size || read >= limit {
                return Ok(Some(data));
            }
        }
    }

    /// The paths of `env`'s files; an environment the store lacks has none
    /// (a template host's `list_files`).
    fn list_paths(&self, env: &SaltEnv) -> Result<Vec<RelPath>, String> {
        match self.env_files(env) {
            Ok(files) => Ok(files.into_iter().map(|f| f.path).collect()),
            Err(e) if Self::no_such_env(&e) => Ok(Vec::new()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// What [`FileStore::file_chunk`] answers: the bytes and the file's size.
pub type Chunk<S> = Result<(Vec<u8>, u64), <S as FileStore>::Error>;

/// How much of a file [`FileStore::read_whole`] asks for at a time.
const READ_CHUNK: usize = 1 << 20;

impl FileStore for Roots {
    type Error = RootsError;

    fn env_files(&self, env: &SaltEnv) -> Result<Vec<FileEntry>, RootsError> {
        self.manifest(env)
    }

    fn list_paths(&self, env: &SaltEnv) -> Result<Vec<RelPath>, String> {
        match self.paths(env) {
            Err(e) if Self::no_such_env(&e) => Ok(Vec::new()),
            listed => listed.map_err(|e| e.to_string()),
        }
    }

    fn file_chunk(&self, env: &SaltEnv, path: &RelPath, offset: u64, len: usize) -> Chunk<Self> {
        self.read_chunk(env.as_str(), path, offset, len)
    }

    fn no_such_env(error: &RootsError) -> bool {
        matches!(error, RootsError::NoEnv(_))
    }

    fn no_such_file(error: &RootsError) -> bool {
        matches!(error, RootsError::NotFound(..) | RootsError::NoEnv(_))
    }
}

/// `file_roots` (or `pillar_roots`): environment -> directories, in order.
pub struct Roots {
    envs: BTreeMap<String, Vec<PathBuf>>,
    /// Hashes by (real path), valid while size and mtime are unchanged.
    hashes: Mutex<BTreeMap<PathBuf, (u64, SystemTime, String)>>,
}

impl Roots {
    /// From the config value (`{base: [/srv/salt], dev: [...]}`).
    pub fn from_config(value: &Map<String, Value>) -> Self {
        let envs = value
            .iter()
            .map(|(env, dirs)| {
                let dirs = match dirs {
                    Value::Array(items) => items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(PathBuf::from)
                        .collect(),
                    Value::String(one) => vec![PathBuf::from(one)],
                    _ => Vec::new(),
                };
                (env.clone(), dirs)
            })
            .collect();
        Roots {
            envs,
            hashes: Mutex::new(BTreeMap::new()),
        }
    }

    /// The configured environments, `base` first (as Salt lists them); a
    /// name no request could ask for (not a valid [`SaltEnv`]) is left out.
    pub fn environments(&self) -> Vec<SaltEnv> {
        let mut envs: Vec<SaltEnv> = self
            .envs
            .keys()
            .filter_map(|e| SaltEnv::parse(e).ok())
            .collect();
        envs.sort_by_key(|e| (e.as_str() != "base", e.clone()));
        envs
    }

    fn dirs(&self, env: &str) -> Result<&[PathBuf], RootsError> {
        self.envs
            .get(env)
            .map(Vec::as_slice)
            .ok_or_else(|| RootsError::NoEnv(env.to_string()))
    }

    /// The real location of `path` in `env`: the first root that has it,
    /// refused if the real file is outside that root.
    pub fn resolve(&self, env: &str, path: &RelPath) -> Result<PathBuf, RootsError> {
        let in_roots = self.dirs(env)?.iter().map(|root| in_root(root, path));
        first_found(in_roots)?
            .ok_or_else(|| RootsError::NotFound(path.to_string(), env.to_string()))
    }

    /// Every file of `env` (first root wins), with hashes. Symlinks that
    /// leave their root are left out.
    pub fn manifest(&self, env: &SaltEnv) -> Result<Vec<FileEntry>, RootsError> {
        let walked = Walked::of(self.dirs(env.as_str())?);
        let per_root = (0..walked.dirs.len())
            .map(|i| Ok::<_, RootsError>(Some(self.root_manifest(&walked, i))));
        Ok(merge_first_wins(per_root)?.unwrap_or_default())
    }

    /// The paths of `env`'s files, as [`Roots::manifest`] lists them but
    /// without reading and hashing each file: a listing (`cp.list_master`,
    /// a template's file list) needs only the names.
    pub fn paths(&self, env: &SaltEnv) -> Result<Vec<RelPath>, RootsError> {
        let mut paths = BTreeSet::new();
        let walked = Walked::of(self.dirs(env.as_str())?);
        for i in 0..walked.dirs.len() {
            // What `manifest` keeps: a path that resolves (confined to its
            // root, a regular file) to the file `env` serves.
            for (path, is_file) in walked.entries(i) {
                if let Ok(Some(_)) = walked.served_from(i, &path, is_file) {
                    paths.insert(path);
                }
            }
        }
        Ok(paths.into_iter().collect())
    }

    /// The files under one root of `env`, each hashed as `env` serves it.
    fn root_manifest(&self, walked: &Walked<'_>, i: usize) -> Vec<FileEntry> {
        let mut entries = Vec::new();
        for (path, is_file) in walked.entries(i) {
            // A path an earlier root also has resolves to that root's file,
            // already hashed (the cache answers); the merge keeps it.
            let Ok(Some(real)) = walked.served_from(i, &path, is_file) else {
                continue;
            };
            match self.hash_of(&real) {
                Ok((size, hash)) => entries.push(FileEntry { path, hash, size }),
                Err(e) => tracing::warn!("{e}"),
            }
        }
        entries
    }

    /// Size and SHA-256 of a real file, cached while it is unchanged.
    fn hash_of(&self, real: &Path) -> Result<(u64, String), RootsError> {
        let io = |source| RootsError::Io {
            path: real.display().to_string(),
            source,
        };
        let meta = std::fs::metadata(real).map_err(io)?;
        let mtime = meta.modified().map_err(io)?;
        let mut cache = self.hashes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((size, m, hash)) = cache.get(real)
            && *size == meta.len()
            && *m == mtime
        {
            return Ok((*size, hash.clone()));
        }
        let hash = sha256_file(real).map_err(io)?;
        cache.insert(real.to_path_buf(), (meta.len(), mtime, hash.clone()));
        Ok((meta.len(), hash))
    }

    /// Up to `len` bytes of `path` from `offset`, and the file's size.
    pub fn read_chunk(
        &self,
        env: &str,
        path: &RelPath,
        offset: u64,
        len: usize,
    ) -> Result<(Vec<u8>, u64), RootsError> {
        let real = self.resolve(env, path)?;
        let io = |source| RootsError::Io {
            path: real.display().to_string(),
            source,
        };
        let mut f = std::fs::File::open(&real).map_err(io)?;
        let size = f.metadata().map_err(io)?.len();
        f.seek(SeekFrom::Start(offset.min(size))).map_err(io)?;
        let mut buf = Vec::with_capacity(len.min(size.saturating_sub(offset) as usize));
        f.take(len as u64).read_to_end(&mut buf).map_err(io)?;
        Ok((buf, size))
    }
}

/// `path` under one root: its real location if it is a file there, an
/// error if it leads out of the root.
fn in_root(root: &Path, path: &RelPath) -> Result<Option<PathBuf>, RootsError> {
    in_known_root(root, root.canonicalize().ok().as_deref(), path)
}

/// [`in_root`] with the root's real location already known (`None`: the
/// root does not resolve, so it has nothing).
fn in_known_root(
    root: &Path,
    real_root: Option<&Path>,
    path: &RelPath,
) -> Result<Option<PathBuf>, RootsError> {
    let (Ok(real), Some(real_root)) = (root.join(path.as_str()).canonicalize(), real_root) else {
        return Ok(None);
    };
    if !real.starts_with(real_root) {
        tracing::warn!(path = %path, root = %root.display(), "refused a path that leaves its file root");
        return Err(RootsError::Escapes(path.to_string()));
    }
    Ok(real.is_file().then_some(real))
}

/// One listing of an environment's roots: their real locations, taken once
/// for the whole listing (a root may itself be a symlink a deploy switches),
/// and what a walk of each found.
struct Walked<'a> {
    dirs: &'a [PathBuf],
    real_roots: Vec<Option<PathBuf>>,
}

impl<'a> Walked<'a> {
    fn of(dirs: &'a [PathBuf]) -> Self {
        Walked {
            dirs,
            real_roots: dirs.iter().map(|root| root.canonicalize().ok()).collect(),
        }
    }

    /// The paths under root `i`, each with whether it is a regular file
    /// (not a link).
    fn entries(&self, i: usize) -> Vec<(RelPath, bool)> {
        let Some(real_root) = &self.real_roots[i] else {
            return Vec::new();
        };
        walk(real_root)
            .into_iter()
            .filter_map(|(rel, is_file)| RelPath::parse(&rel).ok().map(|p| (p, is_file)))
            .collect()
    }

    /// The real file `path` (found walking root `i`) is served from, as
    /// [`Roots::resolve`] answers. A regular file the walk reached through
    /// the real directories of a real root is its own real path and inside
    /// that root, so only the roots before it are asked; `realpath`'s
    /// readlink of every component for every file of a tree (a listing of
    /// a formula checkout: thousands) is what this saves.
    fn served_from(
        &self,
        i: usize,
        path: &RelPath,
        walked_file: bool,
    ) -> Result<Option<PathBuf>, RootsError> {
        let ask = |range: std::ops::Range<usize>| {
            first_found(
                range.map(|j| in_known_root(&self.dirs[j], self.real_roots[j].as_deref(), path)),
            )
        };
        if let Some(found) = ask(0..i)? {
            return Ok(Some(found));
        }
        match (&self.real_roots[i], walked_file) {
            (Some(real_root), true) => Ok(Some(real_root.join(path.as_str()))),
            _ => ask(i..self.dirs.len()),
        }
    }
}

/// Salt's rule wherever several sources serve one environment (the roots of
/// `file_roots`, gitfs remotes, file-server backends): the first source that
/// has a path wins. The answer of the first source that has it; sources
/// after it are not asked. An error stops the search.
pub fn first_found<T, E>(
    sources: impl IntoIterator<Item = Result<Option<T>, E>>,
) -> Result<Option<T>, E> {
    for answer in sources {
        if let Some(found) = answer? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// The manifests of the sources of one environment as one, each path from
/// the first source that has it ([`first_found`]'s rule for whole
/// listings); `None` when no source serves the environment.
pub fn merge_first_wins<E>(
    manifests: impl IntoIterator<Item = Result<Option<Vec<FileEntry>>, E>>,
) -> Result<Option<Vec<FileEntry>>, E> {
    let mut merged: BTreeMap<RelPath, FileEntry> = BTreeMap::new();
    let mut served = false;
    for manifest in manifests {
        let Some(files) = manifest? else {
            continue;
        };
        served = true;
        for entry in files {
            merged.entry(entry.path.clone()).or_insert(entry);
        }
    }
    Ok(served.then(|| merged.into_values().collect()))
}

/// Relative paths of what is not a directory under `root` (directories
/// are descended, links to directories are not), each with whether it is a
/// regular file: a link is followed only as far as `resolve` allows later.
fn walk(root: &Path) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&rel)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let child = rel.join(name);
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(child),
                Ok(t) => out.push((child.to_string_lossy().into_owned(), t.is_file())),
                Err(_) => {}
            }
        }
    }
    out.sort();
    out
}

/// SHA-256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    Ok(hex(ctx.finish().as_ref()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of bytes, lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

/// The directory a git remote without a `name` is cached under (gitfs,
/// git ext_pillar): a hash of its URL.
pub fn url_id(url: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, url.as_bytes());
    hex(&digest.as_ref()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn roots(dirs: &[&Path]) -> Roots {
        let list: Vec<Value> = dirs
            .iter()
            .map(|d| json!(d.display().to_string()))
            .collect();
        let mut m = Map::new();
        m.insert("base".into(), Value::Array(list));
        Roots::from_config(&m)
    }

    fn env(name: &str) -> SaltEnv {
        SaltEnv::parse(name).expect("saltenv")
    }

    #[test]
    fn environments_are_base_first_and_only_valid_names() {
        let mut m = Map::new();
        for name in ["dev", "base", "..", "a"] {
            m.insert(name.into(), json!([]));
        }
        let envs = Roots::from_config(&m).environments();
        let names: Vec<&str> = envs.iter().map(SaltEnv::as_str).collect();
        assert_eq!(names, ["base", "a", "dev"]);
    }

    #[test]
    fn first_root_wins_and_manifest_hashes() {
        let a = tempfile::tempdir().expect("a");
        let b = tempfile::tempdir().expect("b");
        std::fs::write(a.path().join("top.sls"), "from a").expect("w");
        std::fs::write(b.path().join("top.sls"), "from b").expect("w");
        std::fs::create_dir_all(b.path().join("web")).expect("mkdir");
        std::fs::write(b.path().join("web/init.sls"), "web").expect("w");
        let r = roots(&[a.path(), b.path()]);
        let top = RelPath::parse("top.sls").expect("path");
        assert_eq!(
            r.read_chunk("base", &top, 0, 100).expect("read").0,
            b"from a"
        );
        let m = r.manifest(&env("base")).expect("manifest");
        let paths: Vec<&str> = m.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["top.sls", "web/init.sls"]);
        assert_eq!(m[0].size, 6);
        assert!(matches!(r.manifest(&env("dev")), Err(RootsError::NoEnv(_))));
        // The listing without hashes names the same files.
        let listed = r.paths(&env("base")).expect("paths");
        assert_eq!(
            listed.iter().map(RelPath::as_str).collect::<Vec<_>>(),
            paths
        );
        assert!(matches!(r.paths(&env("dev")), Err(RootsError::NoEnv(_))));
    }

    #[test]
    fn symlinks_out_of_the_root_are_refused() {
        let root = tempfile::tempdir().expect("root");
        let outside = tempfile::tempdir().expect("outside");
        std::fs::write(outside.path().join("secret"), "s").expect("w");
        std::os::unix::fs::symlink(outside.path().join("secret"), root.path().join("link"))
            .expect("ln");
        std::os::unix::fs::symlink(outside.path(), root.path().join("dir")).expect("ln");
        let r = roots(&[root.path()]);
        for p in ["link", "dir/secret"] {
            let path = RelPath::parse(p).expect("path");
            assert!(
                matches!(r.resolve("base", &path), Err(RootsError::Escapes(_))),
                "{p}"
            );
        }
        assert!(r.manifest(&env("base")).expect("manifest").is_empty());
        assert!(r.paths(&env("base")).expect("paths").is_empty());
    }

    /// The listing, which skips `realpath` for plain files, answers for
    /// every path exactly as `resolve` does: links inside and out of their
    /// root, a link to a directory, and earlier roots that have the same
    /// path as a plain file, an escaping link or a directory.
    #[test]
    fn the_listing_answers_as_resolve_does_for_each_path() {
        let a = tempfile::tempdir().expect("a");
        let b = tempfile::tempdir().expect("b");
        let outside = tempfile::tempdir().expect("outside");
        std::fs::write(outside.path().join("secret"), "s").expect("w");
        let (a, b) = (a.path(), b.path());
        std::os::unix::fs::symlink(outside.path().join("secret"), a.join("x")).expect("ln");
        std::fs::write(b.join("x"), "b").expect("w");
        std::fs::create_dir(a.join("d")).expect("mkdir");
        std::os::unix::fs::symlink(a.join("d"), a.join("y")).expect("ln");
        std::fs::write(b.join("y"), "b").expect("w");
        std::fs::write(a.join("z"), "a").expect("w");
        std::fs::write(b.join("z"), "b").expect("w");
        std::os::unix::fs::symlink("z", a.join("inside")).expect("ln");
        std::fs::create_dir_all(b.join("sub/deeper")).expect("mkdir");
        std::fs::write(b.join("sub/deeper/f"), "b").expect("w");
        std::fs::write(b.join("d"), "a file where a has a directory").expect("w");
        let r = roots(&[a, b]);
        let listed: Vec<String> = r
            .paths(&env("base"))
            .expect("paths")
            .iter()
            .map(|p| p.as_str().to_string())
            .collect();
        let mut by_resolve = BTreeSet::new();
        for root in [a, b] {
            for (rel, _) in walk(&root.canonicalize().expect("real")) {
                let path = RelPath::parse(&rel).expect("path");
                if r.resolve("base", &path).is_ok() {
                    by_resolve.insert(rel);
                }
            }
        }
        assert_eq!(listed, by_resolve.into_iter().collect::<Vec<_>>());
        assert_eq!(listed, ["d", "inside", "sub/deeper/f", "y", "z"]);
        let manifest: Vec<String> = r
            .manifest(&env("base"))
            .expect("manifest")
            .iter()
            .map(|e| e.path.as_str().to_string())
            .collect();
        assert_eq!(manifest, listed);
    }

    #[test]
    fn chunks_cover_the_file() {
        let root = tempfile::tempdir().expect("root");
        std::fs::write(root.path().join("f"), b"0123456789").expect("w");
        let r = roots(&[root.path()]);
        let p = RelPath::parse("f").expect("path");
        assert_eq!(
            r.read_chunk("base", &p, 4, 3).expect("chunk"),
            (b"456".to_vec(), 10)
        );
        assert_eq!(r.read_chunk("base", &p, 8, 10).expect("chunk").0, b"89");
        assert_eq!(r.read_chunk("base", &p, 20, 10).expect("chunk").0, b"");
    }

    fn entry(path: &str, hash: &str) -> FileEntry {
        FileEntry {
            path: RelPath::parse(path).expect("path"),
            hash: hash.to_string(),
            size: 1,
        }
    }

    #[test]
    fn the_first_source_that_has_it_wins_and_later_ones_are_not_asked() {
        let mut asked = Vec::new();
        let answers = [Ok(None), Ok(Some("b")), Err("not asked")];
        let found = first_found(answers.into_iter().enumerate().map(|(i, a)| {
            asked.push(i);
            a
        }));
        assert_eq!(found, Ok(Some("b")));
        assert_eq!(asked, [0, 1]);
        assert_eq!(first_found([Ok::<Option<u8>, &str>(None)]), Ok(None));
        assert_eq!(first_found([Err("broken"), Ok(Some(1))]), Err("broken"));
    }

    #[test]
    fn merged_manifests_keep_each_path_from_its_first_source() {
        let merged = merge_first_wins::<&str>([
            Ok(None),
            Ok(Some(vec![entry("b", "first"), entry("c", "first")])),
            Ok(Some(vec![entry("a", "second"), entry("b", "second")])),
        ]);
        let expected = vec![
            entry("a", "second"),
            entry("b", "first"),
            entry("c", "first"),
        ];
        assert_eq!(merged, Ok(Some(expected)));
        assert_eq!(merge_first_wins::<&str>([Ok(None), Ok(None)]), Ok(None));
        assert_eq!(
            merge_first_wins::<&str>([Ok(Some(Vec::new()))]),
            Ok(Some(Vec::new()))
        );
        assert_eq!(merge_first_wins([Err("broken")]), Err("broken"));
    }

    #[test]
    fn a_store_reads_and_lists_for_a_template_host() {
        let root = tempfile::tempdir().expect("root");
        std::fs::write(root.path().join("f"), b"0123456789").expect("w");
        let outside = tempfile::tempdir().expect("outside");
        std::fs::write(outside.path().join("secret"), "s").expect("w");
        std::os::unix::fs::symlink(outside.path().join("secret"), root.path().join("link"))
            .expect("ln");
        let r = roots(&[root.path()]);
        let read = |env: &str, path: &str, limit| {
            let (env, path) = crate::ids::salt_file(env, path).expect("valid");
            r.read_whole(&env, &path, limit)
        };
        assert_eq!(
            read("base", "f", u64::MAX),
            Ok(Some(b"0123456789".to_vec()))
        );
        assert_eq!(read("base", "f", 4), Ok(Some(b"0123".to_vec())));
        assert_eq!(read("base", "missing", u64::MAX), Ok(None));
        assert_eq!(read("dev", "f", u64::MAX), Ok(None));
        let refused = read("base", "link", u64::MAX);
        assert!(refused.is_err_and(|e| e.contains("leaves its file root")));
        assert_eq!(
            r.list_paths(&env("base")),
            Ok(vec![RelPath::parse("f").expect("path")])
        );
        assert_eq!(r.list_paths(&env("dev")), Ok(Vec::new()));
    }
}
