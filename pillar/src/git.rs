//! Salt's `git` external pillar: pillar trees kept in git branches.
//!
//! ```yaml
//! ext_pillar:
//!   - git:
//!     - master https://example.com/pillar.git   # "<branch> <url>"
//!     - dev file:///srv/pillar.git:
//!       - root: pillar
//!       - env: qa
//!     - __env__ file:///srv/pillar.git          # the minion's pillarenv
//! ```
//!
//! The master keeps each branch's tree as plain files under
//! `<cachedir>/git_pillar/<remote>/trees/<branch>` (its git_pillar updater
//! fetches the remotes with the git CLI and writes the trees); this module
//! names those places and compiles from them as Salt's `git_pillar` does:
//! every remote is a pillar tree of one environment (`env`, else `base` for
//! the `git_pillar_base` branch, else the branch's name; `__env__` follows
//! the minion's `pillarenv`/saltenv), compiled with `pillar_roots` set to it
//! (plus, with `git_pillar_includes`, the other trees of that environment,
//! so their SLS files can be included), and the results merged.

use std::path::{Path, PathBuf};

use brine_common::config::MasterConfig;
use brine_common::fileroots::{Roots, url_id};
use brine_common::ids::SaltEnv;
use brine_common::target::MinionFacts;
use serde_json::{Map, Value};

use crate::ext::ExtPillarError;
use crate::merge::merge;
use crate::opts::PillarOpts;

/// The branch name that stands for the minion's pillar environment.
pub const ENV_BRANCH: &str = "__env__";

/// The global `git_pillar_*` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct GitPillarSettings {
    /// The branch that is `base`.
    pub base: String,
    /// The branch of a remote given without one.
    pub branch: String,
    /// Every remote's environment ("" for: from its branch).
    pub env: String,
    /// Every remote's subdirectory.
    pub root: String,
    pub includes: bool,
    /// `<cachedir>/git_pillar`.
    pub cache: PathBuf,
}

impl Default for GitPillarSettings {
    fn default() -> Self {
        GitPillarSettings {
            base: "master".into(),
            branch: "master".into(),
            env: String::new(),
            root: String::new(),
            includes: true,
            cache: PathBuf::new(),
        }
    }
}

impl GitPillarSettings {
    pub fn from_master(config: &MasterConfig) -> Self {
        GitPillarSettings {
            base: config.git_pillar_base.clone(),
            branch: config.git_pillar_branch.clone(),
            env: config.git_pillar_env.clone(),
            root: config.git_pillar_root.clone(),
            includes: config.git_pillar_includes,
            cache: config.cachedir.join("git_pillar"),
        }
    }
}

/// One remote of a `git` ext_pillar entry.
#[derive(Debug, Clone, PartialEq)]
pub struct GitPillarRemote {
    pub url: String,
    /// A branch, or `__env__`.
    pub branch: String,
    /// The subdirectory holding the pillar tree ("" for the whole tree).
    pub root: String,
    /// The pillar environment, when set (per remote or `git_pillar_env`).
    pub env: Option<String>,
    /// The branch that is `base` (per remote, or `git_pillar_base`).
    pub base: String,
    /// The cache directory name (`name`, else a hash of the URL).
    pub dir_name: String,
}

impl GitPillarRemote {
    /// Where the master keeps this remote: a bare `mirror` and `trees`.
    pub fn dir(&self, cache: &Path) -> PathBuf {
        cache.join(&self.dir_name)
    }

    pub fn mirror(&self, cache: &Path) -> PathBuf {
        self.dir(cache).join("mirror")
    }

    /// The directory holding `branch`'s files.
    pub fn tree(&self, cache: &Path, branch: &str) -> PathBuf {
        let escaped = branch.replace('%', "%25").replace('/', "%2F");
        self.dir(cache).join("trees").join(escaped)
    }

    /// The branch and environment this remote serves a minion whose pillar
    /// environment is `minion_env`.
    fn branch_and_env(&self, minion_env: &str) -> (String, String) {
        if self.branch == ENV_BRANCH {
            let env = self.env.clone().unwrap_or_else(|| minion_env.to_string());
            let branch = if env == "base" {
                self.base.clone()
            } else {
                env.clone()
            };
            return (branch, env);
        }
        let env = self.env.clone().unwrap_or_else(|| {
            if self.branch == self.base {
                "base".into()
            } else {
                self.branch.clone()
            }
        });
        (self.branch.clone(), env)
    }
}

/// The remotes of one `git` ext_pillar entry: a list whose items are
/// `"<branch> <url>"` (or just a URL, on `git_pillar_branch`), each
/// optionally a one-key map to its options (`root`, `env`, `name`, `base`).
pub fn parse_remotes(
    arg: &Value,
    settings: &GitPillarSettings,
) -> Result<Vec<GitPillarRemote>, ExtPillarError> {
    let items = match arg {
        Value::Array(items) => items.clone(),
        Value::String(_) => vec![arg.clone()],
        _ => {
            return Err(ExtPillarError::Argument(
                "a list of \"<branch> <url>\" remotes",
            ));
        }
    };
    items
        .iter()
        .map(|item| parse_remote(item, settings))
        .collect()
}

fn parse_remote(
    item: &Value,
    settings: &GitPillarSettings,
) -> Result<GitPillarRemote, ExtPillarError> {
    let bad = |why: String| ExtPillarError::GitRemote(why);
    let (spec, options) = match item {
        Value::String(spec) => (spec.clone(), Map::new()),
        Value::Object(map) if map.len() == 1 => {
            let (spec, raw) = map
                .iter()
                .next()
                .ok_or_else(|| bad("empty remote".into()))?;
            (spec.clone(), remote_options(spec, raw)?)
        }
        other => return Err(bad(format!("cannot read remote {other}"))),
    };
    let words: Vec<&str> = spec.split_whitespace().collect();
    let (branch, url) = match words.as_slice() {
        [url] => (settings.branch.clone(), (*url).to_string()),
        [branch, url] => ((*branch).to_string(), (*url).to_string()),
        _ => return Err(bad(format!("{spec:?} is not \"<branch> <url>\""))),
    };
    let text = |key: &str| -> Result<Option<String>, ExtPillarError> {
        match options.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(bad(format!("{url}: {key} must be a string, not {other}"))),
        }
    };
    let root = text("root")?.unwrap_or_else(|| settings.root.clone());
    let root = root.trim_matches('/').to_string();
    if root.split('/').any(|part| part == "..") {
        return Err(bad(format!("{url}: root {root:?} leaves the repository")));
    }
    let dir_name = match text("name")? {
        Some(name) if valid_name(&name) => name,
        Some(name) => {
            return Err(bad(format!(
                "{url}: name {name:?} is not a plain directory name"
            )));
        }
        None => url_id(&format!("{branch} {url}")),
    };
    let env = text("env")?.or_else(|| (!settings.env.is_empty()).then(|| settings.env.clone()));
    Ok(GitPillarRemote {
        base: text("base")?.unwrap_or_else(|| settings.base.clone()),
        url,
        branch,
        root,
        env,
        dir_name,
    })
}

/// A remote's options from Salt's list of one-key maps (or a map).
fn remote_options(spec: &str, raw: &Value) -> Result<Map<String, Value>, ExtPillarError> {
    let mut options = Map::new();
    match raw {
        Value::Null => {}
        Value::Object(map) => options.extend(map.clone()),
        Value::Array(items) => {
            for item in items {
                let Value::Object(map) = item else {
                    return Err(ExtPillarError::GitRemote(format!(
                        "{spec}: option {item} is not a map"
                    )));
                };
                options.extend(map.clone());
            }
        }
        other => {
            return Err(ExtPillarError::GitRemote(format!(
                "{spec}: cannot read options {other}"
            )));
        }
    }
    for key in options.keys() {
        if !matches!(key.as_str(), "root" | "env" | "name" | "base") {
            tracing::warn!("git ext_pillar remote {spec}: unsupported option {key:?} ignored");
        }
    }
    Ok(options)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The `git` ext_pillar for one minion: each remote's tree compiled as a
/// pillar of its environment, merged in order.
pub(crate) fn compile(
    arg: &Value,
    facts: &MinionFacts<'_>,
    opts: &PillarOpts,
    errors: &mut Vec<String>,
) -> Map<String, Value> {
    let settings = &opts.git_pillar;
    let remotes = match parse_remotes(arg, settings) {
        Ok(r) => r,
        Err(e) => {
            errors.push(format!("Failed to load ext_pillar git: {e}"));
            return Map::new();
        }
    };
    let minion_env = opts
        .pillarenv
        .as_ref()
        .or(opts.saltenv.as_ref())
        .map_or("base", SaltEnv::as_str);
    let mut trees: Vec<(SaltEnv, PathBuf)> = Vec::new();
    for remote in &remotes {
        let (branch, env) = remote.branch_and_env(minion_env);
        if opts.pillarenv.as_ref().is_some_and(|p| p.as_str() != env) {
            continue;
        }
        let env = match SaltEnv::parse(&env) {
            Ok(env) => env,
            Err(e) => {
                errors.push(format!("Failed to load ext_pillar git: {e}"));
                continue;
            }
        };
        let tree = remote.tree(&settings.cache, &branch);
        if !tree.is_dir() {
            if remote.branch == ENV_BRANCH {
                tracing::debug!(url = %remote.url, branch, "no such branch for __env__; skipped");
            } else {
                errors.push(format!(
                    "Failed to load ext_pillar git: branch '{branch}' of {} is not available (not fetched yet, or no such branch; see brine-run git_pillar.update)",
                    remote.url
                ));
            }
            continue;
        }
        let dir = if remote.root.is_empty() {
            tree
        } else {
            tree.join(&remote.root)
        };
        trees.push((env, dir));
    }
    let grains = facts.grains.cloned().unwrap_or_default();
    let mut data = Map::new();
    for (env, dir) in &trees {
        let mut dirs = vec![Value::String(dir.display().to_string())];
        if settings.includes {
            dirs.extend(
                trees
                    .iter()
                    .filter(|(e, d)| e == env && d != dir)
                    .map(|(_, d)| Value::String(d.display().to_string())),
            );
        }
        let mut pillar_roots = Map::new();
        pillar_roots.insert(env.to_string(), Value::Array(dirs));
        let nested = PillarOpts {
            pillar_roots: pillar_roots.clone(),
            saltenv: Some(env.clone()),
            ext_pillar: Vec::new(),
            pillar_override: Map::new(),
            ..opts.clone()
        };
        let one = crate::compile(
            &Roots::from_config(&pillar_roots),
            facts.id,
            &grains,
            &nested,
        );
        errors.extend(one.errors);
        data = merge(data, one.data, opts.strategy, opts.merge_lists);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(cache: &Path) -> GitPillarSettings {
        GitPillarSettings {
            cache: cache.to_path_buf(),
            ..GitPillarSettings::default()
        }
    }

    #[test]
    fn remotes_in_salts_forms() {
        let s = settings(Path::new("/c"));
        let arg = json!([
            "master file:///srv/a.git",
            {"dev file:///srv/a.git": [{"root": "pillar/"}, {"env": "qa"}, {"name": "a_dev"}]},
            "file:///srv/b.git",
            "__env__ file:///srv/c.git",
        ]);
        let r = parse_remotes(&arg, &s).expect("parsed");
        assert_eq!(
            r[0].branch_and_env("base"),
            ("master".into(), "base".into())
        );
        assert_eq!(r[1].root, "pillar");
        assert_eq!(r[1].branch_and_env("base"), ("dev".into(), "qa".into()));
        assert_eq!(r[1].mirror(&s.cache), Path::new("/c/a_dev/mirror"));
        assert_eq!(r[2].branch, "master", "git_pillar_branch");
        assert_eq!(r[3].branch_and_env("dev"), ("dev".into(), "dev".into()));
        assert_eq!(
            r[3].branch_and_env("base"),
            ("master".into(), "base".into())
        );
        assert_eq!(
            r[3].tree(&s.cache, "feature/x")
                .file_name()
                .and_then(|n| n.to_str()),
            Some("feature%2Fx")
        );
        assert_ne!(r[0].dir_name, r[1].dir_name);
    }

    #[test]
    fn bad_remotes_are_named() {
        let s = settings(Path::new("/c"));
        let err = parse_remotes(&json!(["a b c"]), &s).expect_err("refused");
        assert!(
            err.to_string()
                .contains("\"a b c\" is not \"<branch> <url>\""),
            "{err}"
        );
        let err = parse_remotes(&json!([{"master file:///x": [{"root": "../up"}]}]), &s)
            .expect_err("refused");
        assert!(err.to_string().contains("leaves the repository"), "{err}");
    }

    #[test]
    fn trees_compile_per_environment_and_merge() {
        let cache = tempfile::tempdir().expect("cache");
        let s = settings(cache.path());
        let remotes = parse_remotes(
            &json!(["master file:///a", {"master file:///b": [{"root": "sub"}]}]),
            &s,
        )
        .expect("parsed");
        let write = |dir: PathBuf, rel: &str, text: &str| {
            let full = dir.join(rel);
            std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
            std::fs::write(full, text).expect("write");
        };
        let a = remotes[0].tree(&s.cache, "master");
        write(a.clone(), "top.sls", "base:\n  'web*':\n    - web\n");
        write(a, "web.sls", "role: web\nshared: {a: 1}\n");
        let b = remotes[1].tree(&s.cache, "master").join("sub");
        write(b.clone(), "top.sls", "base:\n  '*':\n    - common\n");
        write(b, "common.sls", "shared: {b: 2}\n");
        let opts = PillarOpts {
            git_pillar: s,
            ..PillarOpts::default()
        };
        let grains = Map::new();
        let empty = Map::new();
        let arg = json!(["master file:///a", {"master file:///b": [{"root": "sub"}]}]);
        let mut errors = Vec::new();
        let web = compile(
            &arg,
            &MinionFacts::new("web1", &grains, &empty),
            &opts,
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            Value::Object(web),
            json!({"role": "web", "shared": {"a": 1, "b": 2}})
        );
        let db = compile(
            &arg,
            &MinionFacts::new("db1", &grains, &empty),
            &opts,
            &mut errors,
        );
        assert_eq!(Value::Object(db), json!({"shared": {"b": 2}}));

        let missing = json!(["nope file:///a"]);
        compile(
            &missing,
            &MinionFacts::new("db1", &grains, &empty),
            &opts,
            &mut errors,
        );
        assert!(
            errors[0].contains("branch 'nope' of file:///a is not available"),
            "{errors:?}"
        );
    }

    #[test]
    fn a_branch_with_a_slash_is_the_pillarenv_it_names() {
        let cache = tempfile::tempdir().expect("cache");
        let s = settings(cache.path());
        let arg = json!(["__env__ file:///a"]);
        let remotes = parse_remotes(&arg, &s).expect("parsed");
        let tree = remotes[0].tree(&s.cache, "feature/x");
        std::fs::create_dir_all(&tree).expect("mkdir");
        std::fs::write(tree.join("top.sls"), "feature/x:\n  '*':\n    - f\n").expect("top");
        std::fs::write(tree.join("f.sls"), "from: feature\n").expect("sls");
        let opts = PillarOpts {
            git_pillar: s,
            pillarenv: Some(SaltEnv::parse("feature/x").expect("a branch name is a saltenv")),
            ..PillarOpts::default()
        };
        let (grains, empty) = (Map::new(), Map::new());
        let mut errors = Vec::new();
        let data = compile(
            &arg,
            &MinionFacts::new("web1", &grains, &empty),
            &opts,
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(Value::Object(data), json!({"from": "feature"}));
    }
}
