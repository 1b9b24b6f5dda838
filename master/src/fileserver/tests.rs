//! File server tests on real git repositories made with the `git` CLI.

use std::path::{Path, PathBuf};
use std::process::Command;

use brine_common::fileroots::Roots;
use brine_common::ids::{RelPath, SaltEnv};
use serde_json::{Map, Value, json};

use super::gitfs::{Defaults, GitFs, RefType, Remote};
use super::roots::RootsBackend;
use super::{Backend, FileServer, FileServerError};

/// A work-tree repository on branch `master`.
struct TestRepo {
    dir: tempfile::TempDir,
}

impl TestRepo {
    fn new() -> Self {
        let repo = TestRepo {
            dir: tempfile::tempdir().expect("repo dir"),
        };
        repo.git(&["init", "--quiet", "--initial-branch=master"]);
        repo.git(&["config", "user.name", "Brine Test"]);
        repo.git(&["config", "user.email", "test@brine.invalid"]);
        repo
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn url(&self) -> String {
        format!("file://{}", self.path().display())
    }

    fn git(&self, args: &[&str]) {
        let out = Command::new("git")
            .arg("-C")
            .arg(self.path())
            .args(args)
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn write(&self, rel: &str, text: &str) {
        let full = self.path().join(rel);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, text).expect("write");
    }

    fn commit(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "--quiet", "-m", message]);
    }
}

fn defaults(cache: &Path) -> Defaults {
    Defaults {
        base: "master".into(),
        root: String::new(),
        mountpoint: String::new(),
        mirrors: cache.join("gitfs"),
        saltenv: Default::default(),
        ref_types: vec![RefType::Branch, RefType::Tag, RefType::Sha],
        disable_saltenv_mapping: false,
        fallback: String::new(),
    }
}

fn remote(entry: Value, cache: &Path) -> Remote {
    Remote::parse(&entry, &defaults(cache)).expect("remote")
}

/// A gitfs backend over `entries`, fetched once.
fn gitfs(entries: Vec<Value>, cache: &Path) -> GitFs {
    let fs = GitFs::new(entries.into_iter().map(|e| remote(e, cache)).collect());
    let outcome = fs.update();
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    fs
}

fn rel(p: &str) -> RelPath {
    RelPath::parse(p).expect("path")
}

fn env(name: &str) -> SaltEnv {
    SaltEnv::parse(name).expect("env")
}

fn names(envs: &[SaltEnv]) -> Vec<&str> {
    envs.iter().map(SaltEnv::as_str).collect()
}

fn read(fs: &dyn Backend, env: &str, path: &str) -> Option<String> {
    fs.read_chunk(env, &rel(path), 0, 1 << 20)
        .expect("read")
        .map(|(data, _)| String::from_utf8(data).expect("utf-8"))
}

fn paths(fs: &dyn Backend, env: &str) -> Vec<String> {
    fs.manifest(&self::env(env))
        .expect("manifest")
        .expect("env served")
        .into_iter()
        .map(|e| e.path.to_string())
        .collect()
}

fn sha256(text: &str) -> String {
    brine_common::fileroots::hex(
        ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref(),
    )
}

#[test]
fn branches_and_tags_are_environments_with_base_for_gitfs_base() {
    let repo = TestRepo::new();
    repo.write("top.sls", "base: {}\n");
    repo.commit("one");
    repo.git(&["tag", "v1"]);
    repo.git(&["branch", "dev"]);
    let cache = tempfile::tempdir().expect("cache");
    let fs = gitfs(vec![json!(repo.url())], cache.path());
    assert_eq!(names(&fs.environments()), ["base", "dev", "v1"]);
    assert_eq!(read(&fs, "v1", "top.sls").as_deref(), Some("base: {}\n"));
    // The base branch's own name still resolves, as in Salt.
    assert_eq!(
        read(&fs, "master", "top.sls").as_deref(),
        Some("base: {}\n")
    );
    assert!(fs.manifest(&env("nope")).expect("manifest").is_none());

    // A per-remote base makes another branch `base`.
    let cache = tempfile::tempdir().expect("cache");
    let fs = gitfs(vec![json!({repo.url(): [{"base": "dev"}]})], cache.path());
    assert_eq!(names(&fs.environments()), ["base", "master", "v1"]);
}

#[test]
fn manifest_hashes_are_sha256_of_the_blob_and_reads_are_chunked() {
    let repo = TestRepo::new();
    repo.write("files/motd", "0123456789");
    repo.commit("one");
    let cache = tempfile::tempdir().expect("cache");
    let fs = gitfs(vec![json!(repo.path().display().to_string())], cache.path());
    let manifest = fs.manifest(&env("base")).expect("manifest").expect("base");
    assert_eq!(manifest.len(), 1);
    assert_eq!(manifest[0].hash, sha256("0123456789"));
    assert_eq!(manifest[0].size, 10);
    let motd = rel("files/motd");
    let got = fs.read_chunk("base", &motd, 4, 3).expect("chunk");
    assert_eq!(got, Some((b"456".to_vec(), 10)));
    let got = fs.read_chunk("base", &motd, 20, 3).expect("chunk");
    assert_eq!(got, Some((Vec::new(), 10)));
    assert_eq!(
        read(&fs, "base", "files"),
        None,
        "a directory is not a file"
    );
}

#[test]
fn root_and_mountpoint_map_paths() {
    let repo = TestRepo::new();
    repo.write("salt/web/init.sls", "web\n");
    repo.write("README", "not served\n");
    repo.commit("one");
    let cache = tempfile::tempdir().expect("cache");
    let entry = json!({repo.url(): [{"root": "salt/"}, {"mountpoint": "salt://mnt/x"}]});
    let fs = gitfs(vec![entry], cache.path());
    assert_eq!(paths(&fs, "base"), ["mnt/x/web/init.sls"]);
    assert_eq!(
        read(&fs, "base", "mnt/x/web/init.sls").as_deref(),
        Some("web\n")
    );
    assert_eq!(read(&fs, "base", "web/init.sls"), None);
    assert_eq!(read(&fs, "base", "mnt/x/README"), None);
    assert_eq!(read(&fs, "base", "mnt/xweb/init.sls"), None);
}

#[test]
fn a_missing_root_serves_nothing_in_that_ref() {
    let repo = TestRepo::new();
    repo.write("top.sls", "x\n");
    repo.commit("one");
    let cache = tempfile::tempdir().expect("cache");
    let fs = gitfs(vec![json!({repo.url(): {"root": "salt"}})], cache.path());
    assert!(paths(&fs, "base").is_empty());
    assert_eq!(read(&fs, "base", "top.sls"), None);
}

#[test]
fn the_first_remote_that_has_a_path_wins() {
    let first = TestRepo::new();
    first.write("top.sls", "first\n");
    first.commit("one");
    let second = TestRepo::new();
    second.write("top.sls", "second\n");
    second.write("only/second.sls", "only\n");
    second.commit("one");
    let cache = tempfile::tempdir().expect("cache");
    let fs = gitfs(vec![json!(first.url()), json!(second.url())], cache.path());
    assert_eq!(read(&fs, "base", "top.sls").as_deref(), Some("first\n"));
    assert_eq!(
        read(&fs, "base", "only/second.sls").as_deref(),
        Some("only\n")
    );
    let manifest = fs.manifest(&env("base")).expect("manifest").expect("base");
    let top = manifest
        .iter()
        .find(|e| e.path.as_str() == "top.sls")
        .expect("top");
    assert_eq!(top.hash, sha256("first\n"));
    assert_eq!(manifest.len(), 2);
}

#[test]
fn symlinks_are_not_followed() {
    let repo = TestRepo::new();
    repo.write("real.sls", "real\n");
    std::os::unix::fs::symlink("/etc/passwd", repo.path().join("leak")).expect("ln");
    std::os::unix::fs::symlink("real.sls", repo.path().join("inside")).expect("ln");
    repo.commit("one");
    let cache = tempfile::tempdir().expect("cache");
    let fs = gitfs(vec![json!(repo.url())], cache.path());
    assert_eq!(paths(&fs, "base"), ["real.sls"]);
    for link in ["leak", "inside"] {
        let err = fs
            .read_chunk("base", &rel(link), 0, 100)
            .expect_err("a symlink is refused");
        assert!(matches!(err, FileServerError::Symlink { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains(&repo.url()) && text.contains(link), "{text}");
    }
}

#[test]
fn update_fetches_new_commits_and_reports_changes() {
    let repo = TestRepo::new();
    repo.write("motd", "one\n");
    repo.commit("one");
    let cache = tempfile::tempdir().expect("cache");
    let fs = GitFs::new(vec![remote(json!(repo.url()), cache.path())]);
    assert!(
        fs.environments().is_empty(),
        "nothing before the first fetch"
    );
    assert!(fs.update().changed, "the first clone is a change");
    assert!(!fs.update().changed);
    repo.write("motd", "two\n");
    repo.commit("two");
    repo.git(&["branch", "dev"]);
    assert_eq!(read(&fs, "base", "motd").as_deref(), Some("one\n"));
    let outcome = fs.update();
    assert!(outcome.changed && outcome.errors.is_empty());
    assert_eq!(read(&fs, "base", "motd").as_deref(), Some("two\n"));
    assert_eq!(names(&fs.environments()), ["base", "dev"]);
    repo.git(&["branch", "-D", "dev"]);
    fs.update();
    assert_eq!(
        names(&fs.environments()),
        ["base"],
        "deleted branches are pruned"
    );
}

#[test]
fn update_errors_name_the_remote() {
    let cache = tempfile::tempdir().expect("cache");
    let missing = cache.path().join("no-such-repo");
    let fs = GitFs::new(vec![remote(
        json!(missing.display().to_string()),
        cache.path(),
    )]);
    let outcome = fs.update();
    assert_eq!(outcome.errors.len(), 1);
    let text = outcome.errors[0].to_string();
    assert!(
        text.contains("no-such-repo") && text.contains("clone"),
        "{text}"
    );
}

#[test]
fn remote_options_follow_salt() {
    let cache = PathBuf::from("/cache");
    let r = remote(
        json!({"https://git.example/x.git": [
            {"root": "/states/"}, {"mountpoint": "salt://a/b/"}, {"base": "main"}, {"name": "x"}
        ]}),
        &cache,
    );
    assert_eq!(
        (r.root.as_str(), r.mountpoint.as_str(), r.base.as_str()),
        ("states", "a/b", "main")
    );
    assert_eq!(r.mirror, PathBuf::from("/cache/gitfs/x"));
    let plain = remote(json!("https://git.example/x.git"), &cache);
    assert_eq!(plain.base, "master");
    assert_ne!(plain.mirror, r.mirror);
    for bad in [
        json!({"u": [{"root": "../etc"}]}),
        json!({"u": [{"name": "../x"}]}),
        json!({"u": "root"}),
        json!(""),
        json!(3),
    ] {
        assert!(Remote::parse(&bad, &defaults(&cache)).is_err(), "{bad}");
    }
}

#[test]
fn backends_combine_in_order_first_wins() {
    let repo = TestRepo::new();
    repo.write("top.sls", "from git\n");
    repo.write("git-only.sls", "git\n");
    repo.commit("one");
    repo.git(&["branch", "dev"]);
    let roots_dir = tempfile::tempdir().expect("roots");
    std::fs::write(roots_dir.path().join("top.sls"), "from roots\n").expect("write");
    let mut envs = Map::new();
    envs.insert(
        "base".into(),
        json!([roots_dir.path().display().to_string()]),
    );
    envs.insert("prod".into(), json!([]));
    let cache = tempfile::tempdir().expect("cache");
    let roots = || Box::new(RootsBackend::new(Roots::from_config(&envs))) as Box<dyn Backend>;
    let git = || Box::new(gitfs(vec![json!(repo.url())], cache.path())) as Box<dyn Backend>;

    let fs = FileServer::new(vec![roots(), git()]);
    assert!(fs.has_git());
    assert_eq!(names(&fs.environments()), ["base", "dev", "prod"]);
    let (data, _) = fs
        .read_chunk(&env("base"), &rel("top.sls"), 0, 100)
        .expect("read");
    assert_eq!(data, b"from roots\n");
    let files: Vec<String> = fs
        .manifest(&env("base"))
        .expect("manifest")
        .into_iter()
        .map(|e| e.path.to_string())
        .collect();
    assert_eq!(files, ["git-only.sls", "top.sls"]);
    assert!(matches!(
        fs.read_chunk(&env("base"), &rel("none"), 0, 1),
        Err(FileServerError::NotFound(..))
    ));
    assert!(matches!(
        fs.manifest(&env("qa")),
        Err(FileServerError::NoEnv(_))
    ));
    // A name that cannot be an environment is one no backend has.
    assert!(matches!(
        super::known_env("../base"),
        Err(FileServerError::NoEnv(_))
    ));

    let fs = FileServer::new(vec![git(), roots()]);
    let (data, _) = fs
        .read_chunk(&env("base"), &rel("top.sls"), 0, 100)
        .expect("read");
    assert_eq!(data, b"from git\n");
}

/// A repository with `master`, `develop` (with a `states/` subdirectory),
/// a tag and a commit only reachable by its ID.
fn mapped_repo() -> (TestRepo, String) {
    let repo = TestRepo::new();
    repo.write("top.sls", "master-top\n");
    repo.commit("one");
    let first = String::from_utf8(
        std::process::Command::new("git")
            .arg("-C")
            .arg(repo.path())
            .args(["rev-parse", "HEAD"])
            .output()
            .expect("rev-parse")
            .stdout,
    )
    .expect("utf-8")
    .trim()
    .to_string();
    repo.git(&["tag", "v1"]);
    repo.git(&["checkout", "--quiet", "-b", "develop"]);
    repo.write("states/top.sls", "develop-top\n");
    repo.write("top.sls", "develop-root\n");
    repo.commit("two");
    repo.git(&["checkout", "--quiet", "master"]);
    (repo, first)
}

#[test]
fn saltenv_maps_an_environment_to_any_ref_with_its_own_root() {
    let (repo, first) = mapped_repo();
    let cache = tempfile::tempdir().expect("cache");
    let entry = json!({repo.url(): [{"saltenv": [
        {"dev": [{"ref": "develop"}, {"root": "states"}]},
        {"pinned": [{"ref": first.clone()}]},
        {"shared": [{"ref": "develop"}, {"mountpoint": "salt://mnt"}]},
    ]}]});
    let fs = gitfs(vec![entry], cache.path());
    assert_eq!(
        read(&fs, "dev", "top.sls").as_deref(),
        Some("develop-top\n")
    );
    assert_eq!(
        read(&fs, "pinned", "top.sls").as_deref(),
        Some("master-top\n")
    );
    assert_eq!(
        read(&fs, "shared", "mnt/top.sls").as_deref(),
        Some("develop-root\n")
    );
    assert_eq!(read(&fs, "shared", "top.sls"), None);
    // The branch is still its own environment, with the remote's settings.
    assert_eq!(
        read(&fs, "develop", "top.sls").as_deref(),
        Some("develop-root\n")
    );
    let envs = fs.environments();
    let envs = names(&envs);
    for env in ["base", "dev", "develop", "pinned", "shared", "v1"] {
        assert!(envs.contains(&env), "{env} in {envs:?}");
    }
}

#[test]
fn disabled_mapping_serves_base_and_mapped_environments_only() {
    let (repo, _) = mapped_repo();
    let cache = tempfile::tempdir().expect("cache");
    let entry = json!({repo.url(): [
        {"disable_saltenv_mapping": true},
        {"saltenv": [{"dev": [{"ref": "develop"}]}]},
    ]});
    let fs = gitfs(vec![entry], cache.path());
    assert_eq!(names(&fs.environments()), ["base", "dev"]);
    assert_eq!(read(&fs, "develop", "top.sls"), None);
    assert_eq!(read(&fs, "v1", "top.sls"), None);
    assert_eq!(
        read(&fs, "dev", "top.sls").as_deref(),
        Some("develop-root\n")
    );
}

#[test]
fn ref_types_fallback_and_all_saltenvs() {
    let (repo, first) = mapped_repo();
    let cache = tempfile::tempdir().expect("cache");
    let branches_only = json!({repo.url(): [{"ref_types": ["branch"]}, {"fallback": "develop"}]});
    let fs = gitfs(vec![branches_only], cache.path());
    assert_eq!(
        names(&fs.environments()),
        ["base", "develop"],
        "tags are not environments"
    );
    // A tag or commit ID is not a branch: the fallback serves instead.
    assert_eq!(
        read(&fs, "v1", "top.sls").as_deref(),
        Some("develop-root\n")
    );
    assert_eq!(
        read(&fs, &first, "top.sls").as_deref(),
        Some("develop-root\n")
    );

    let cache = tempfile::tempdir().expect("cache");
    let everywhere = json!({repo.url(): [{"all_saltenvs": "develop"}]});
    let fs = gitfs(vec![everywhere], cache.path());
    for env in ["base", "qa", "anything"] {
        assert_eq!(
            read(&fs, env, "top.sls").as_deref(),
            Some("develop-root\n"),
            "{env}"
        );
    }
}

#[test]
fn whitelist_and_blacklist_hide_environments() {
    let (repo, _) = mapped_repo();
    let cache = tempfile::tempdir().expect("cache");
    let fs = gitfs(vec![json!(repo.url())], cache.path()).with_env_lists(
        vec!["base".into(), "dev*".into(), r"v\d+".into()],
        vec!["develop".into()],
    );
    assert_eq!(names(&fs.environments()), ["base", "v1"]);
    assert_eq!(read(&fs, "develop", "top.sls"), None, "blacklisted");
    assert!(fs.manifest(&env("develop")).expect("manifest").is_none());
    assert_eq!(read(&fs, "v1", "top.sls").as_deref(), Some("master-top\n"));
}

#[test]
fn bad_saltenv_settings_name_the_remote_and_key() {
    let cache = tempfile::tempdir().expect("cache");
    let err = Remote::parse(
        &json!({"file:///x": [{"saltenv": [{"dev": [{"branch": "develop"}]}]}]}),
        &defaults(cache.path()),
    )
    .expect_err("refused");
    assert!(
        err.contains("gitfs remote file:///x: saltenv: dev: unknown setting \"branch\""),
        "{err}"
    );
}
