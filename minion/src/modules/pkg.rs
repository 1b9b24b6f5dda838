//! Salt's `pkg` execution module: install, remove and query packages.
//!
//! The functions, arguments and return shapes are Salt's (`aptpkg`):
//! `install`/`remove` return the changes as `{name: {old, new}}`, `version`
//! returns a string for one name and a dict for several, and so on. The work
//! is done by a backend chosen from the `os_family` grain; apt/dpkg
//! ([`apt`]) is the one there is so far. Argument handling that Salt keeps in
//! `pkg_resource` (`parse_targets`, `version`, `compare_dicts`) lives here, so
//! every backend shares it.

mod apt;
mod debversion;
mod repo;

use std::collections::BTreeMap;
use std::path::PathBuf;

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use brine_common::truth::salt_is_true;
use globset::Glob;
use serde_json::{Map, Value, json};

use super::MinionCtx;
use super::host::{bool_param, kwarg_int, list_value, str_param, value_text};

/// Installed packages: name -> versions (more than one for multi-version
/// installs), as Salt's `list_pkgs(versions_as_list=True)`.
pub type PkgList = BTreeMap<String, Vec<String>>;

/// The package manager behind `pkg.*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Debian and its derivatives: apt-get, apt-cache and dpkg.
    Apt,
}

impl Backend {
    /// The backend for this host: from the `os_family` grain when there is
    /// one, else from the tools present.
    pub fn for_host(ctx: &MinionCtx) -> Result<Backend, FnError> {
        let grains = ctx.grains();
        match grains.get("os_family").and_then(Value::as_str) {
            Some(family) => Backend::for_os_family(family).ok_or_else(|| {
                FnError::Execution(format!(
                    "pkg: no package backend for os_family '{family}' (only Debian's apt/dpkg is supported)"
                ))
            }),
            None if super::host::which("dpkg-query").is_some() => Ok(Backend::Apt),
            None => Err(FnError::Execution(
                "pkg: cannot tell the package manager: no os_family grain and no dpkg on this host"
                    .into(),
            )),
        }
    }

    fn for_os_family(family: &str) -> Option<Backend> {
        match family {
            "Debian" | "Kali" => Some(Backend::Apt),
            _ => None,
        }
    }
}

/// What `install` was asked to install (Salt's `pkg_resource.parse_targets`).
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// Packages from the repositories, each with an optional version.
    Repo(Vec<(String, Option<String>)>),
    /// Package files: the name given for each, and its local path.
    Files(Vec<(String, PathBuf)>),
}

/// The options of `pkg.install` beyond the targets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstallOptions {
    pub refresh: bool,
    pub cache_valid_time: u64,
    pub fromrepo: Option<String>,
    pub skip_verify: bool,
    pub reinstall: bool,
    pub downloadonly: bool,
    pub force_yes: bool,
    pub force_conf_new: bool,
    pub install_recommends: Option<bool>,
    pub only_upgrade: bool,
}

pub fn register(f: &mut Functions<MinionCtx>) {
    repo::register(f);
    f.register(
        "pkg.install",
        "name=None, refresh=False, fromrepo=None, skip_verify=False, debconf=None, pkgs=None, sources=None, reinstall=False, downloadonly=False, ignore_epoch=False, **kwargs",
        INSTALL_DOC,
        |ctx, call| async move { install(&ctx, &call).await },
    );
    f.register(
        "pkg.remove",
        "name=None, pkgs=None, **kwargs",
        REMOVE_DOC,
        |ctx, call| async move { uninstall(&ctx, &call, apt::Removal::Remove).await },
    );
    f.register(
        "pkg.purge",
        "name=None, pkgs=None, **kwargs",
        PURGE_DOC,
        |ctx, call| async move { uninstall(&ctx, &call, apt::Removal::Purge).await },
    );
    f.register(
        "pkg.version",
        "*names, **kwargs",
        VERSION_DOC,
        |ctx, call| async move { version(&ctx, &call).await },
    );
    f.register(
        "pkg.latest_version",
        "*names, **kwargs",
        LATEST_VERSION_DOC,
        |ctx, call| async move { latest_version(&ctx, &call).await },
    );
    f.register(
        "pkg.list_repo_pkgs",
        "*args, **kwargs",
        LIST_REPO_PKGS_DOC,
        |ctx, call| async move { list_repo_pkgs(&ctx, &call).await },
    );
    f.register(
        "pkg.upgrade_available",
        "name, **kwargs",
        UPGRADE_AVAILABLE_DOC,
        |ctx, call| async move { upgrade_available(&ctx, &call).await },
    );
    f.register(
        "pkg.list_pkgs",
        "versions_as_list=False, removed=False, purge_desired=False, **kwargs",
        LIST_PKGS_DOC,
        |ctx, call| async move { list_pkgs(&ctx, &call).await },
    );
    f.register(
        "pkg.list_upgrades",
        "refresh=True, dist_upgrade=True, **kwargs",
        LIST_UPGRADES_DOC,
        |ctx, call| async move { list_upgrades(&ctx, &call).await },
    );
    f.register(
        "pkg.upgrade",
        "refresh=True, dist_upgrade=False, **kwargs",
        UPGRADE_DOC,
        |ctx, call| async move { upgrade(&ctx, &call).await },
    );
    f.register(
        "pkg.refresh_db",
        "cache_valid_time=0, failhard=False, **kwargs",
        REFRESH_DB_DOC,
        |ctx, call| async move { refresh_db(&ctx, &call).await },
    );
    f.register(
        "pkg.hold",
        "name=None, pkgs=None, sources=None, **kwargs",
        HOLD_DOC,
        |ctx, call| async move { hold(&ctx, &call, true).await },
    );
    f.register(
        "pkg.unhold",
        "name=None, pkgs=None, sources=None, **kwargs",
        UNHOLD_DOC,
        |ctx, call| async move { hold(&ctx, &call, false).await },
    );
    f.register(
        "pkg.get_selections",
        "pattern=None, state=None",
        GET_SELECTIONS_DOC,
        |ctx, call| async move { get_selections(&ctx, &call).await },
    );
    f.register(
        "pkg.version_cmp",
        "pkg1, pkg2, ignore_epoch=False, **kwargs",
        VERSION_CMP_DOC,
        |ctx, call| async move { version_cmp(&ctx, &call) },
    );
}

fn ok(v: Value) -> Result<FnOutput, FnError> {
    Ok(v.into())
}

// ---------------------------------------------------------------------------
// The functions

async fn install(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let Backend::Apt = Backend::for_host(ctx)?;
    if call.param(4, "debconf").is_some_and(|v| !v.is_null()) {
        return Err(FnError::Invocation(
            "debconf answer files are not supported yet".into(),
        ));
    }
    let name = str_param(call, 0, "name");
    let version = call.kwargs.get("version").and_then(value_text);
    let Some(targets) = parse_targets(
        name,
        call.param(5, "pkgs"),
        call.param(6, "sources"),
        version,
    )?
    else {
        return ok(json!({}));
    };
    let opts = install_options(call)?;
    ok(Value::Object(apt::install(targets, &opts).await?))
}

fn install_options(call: &Call) -> Result<InstallOptions, FnError> {
    let kw = |name: &str| call.kwargs.get(name);
    let fromrepo = str_param(call, 2, "fromrepo").or_else(|| kw("repo").and_then(value_text));
    Ok(InstallOptions {
        refresh: bool_param(call, 1, "refresh", false),
        cache_valid_time: cache_valid_time(call, None)?,
        fromrepo,
        skip_verify: bool_param(call, 3, "skip_verify", false),
        reinstall: bool_param(call, 7, "reinstall", false),
        downloadonly: bool_param(call, 8, "downloadonly", false)
            || kw("download_only").is_some_and(salt_is_true),
        force_yes: kw("force_yes").is_some_and(salt_is_true),
        force_conf_new: kw("force_conf_new").is_some_and(salt_is_true),
        install_recommends: kw("install_recommends").map(salt_is_true),
        only_upgrade: kw("only_upgrade").is_some_and(salt_is_true),
    })
}

fn cache_valid_time(call: &Call, index: Option<usize>) -> Result<u64, FnError> {
    let secs = match index {
        Some(i) => call.int_param(i, "cache_valid_time", Some(0))?,
        None => kwarg_int(call, "cache_valid_time", 0)?,
    };
    Ok(u64::try_from(secs).unwrap_or(0))
}

async fn uninstall(
    ctx: &MinionCtx,
    call: &Call,
    action: apt::Removal,
) -> Result<FnOutput, FnError> {
    let Backend::Apt = Backend::for_host(ctx)?;
    let wanted = removal_names(str_param(call, 0, "name"), call.param(1, "pkgs"))?;
    if wanted.is_empty() {
        return ok(json!({}));
    }
    ok(apt::uninstall(action, &wanted).await?)
}

async fn version(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let Backend::Apt = Backend::for_host(ctx)?;
    let names: Vec<String> = call.args.iter().filter_map(value_text).collect();
    if names.is_empty() {
        return ok(json!(""));
    }
    let installed = apt::list_pkgs().await?.installed_or_purge_desired();
    let as_list = call
        .kwargs
        .get("versions_as_list")
        .is_some_and(salt_is_true);
    ok(version_result(&names, &installed, as_list))
}

async fn latest_version(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let Backend::Apt = Backend::for_host(ctx)?;
    if call.kwargs.contains_key("repo") {
        return Err(FnError::Invocation(
            "The 'repo' argument is invalid, use 'fromrepo' instead".into(),
        ));
    }
    let names: Vec<String> = call.args.iter().filter_map(value_text).collect();
    if names.is_empty() {
        return ok(json!(""));
    }
    let query = apt::LatestQuery {
        refresh: call.kwargs.get("refresh").is_none_or(salt_is_true),
        show_installed: call.kwargs.get("show_installed").is_some_and(salt_is_true),
        fromrepo: call.kwargs.get("fromrepo").and_then(value_text),
        cache_valid_time: cache_valid_time(call, None)?,
    };
    let latest = apt::latest_version(&names, &query).await?;
    ok(one_or_map(&names, latest))
}

async fn list_repo_pkgs(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let Backend::Apt = Backend::for_host(ctx)?;
    let names: Vec<String> = call.args.iter().filter_map(value_text).collect();
    ok(json!(apt::list_repo_pkgs(&names).await?))
}

async fn upgrade_available(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let Backend::Apt = Backend::for_host(ctx)?;
    let name = super::host::required_str(call, 0, "name")?;
    let query = apt::LatestQuery {
        refresh: true,
        ..apt::LatestQuery::default()
    };
    let latest = apt::latest_version(std::slice::from_ref(&name), &query).await?;
    ok(json!(latest.get(&name).is_some_and(|v| !v.is_empty())))
}

async fn list_pkgs(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let Backend::Apt = Backend::for_host(ctx)?;
    let lists = apt::list_pkgs().await?;
    let list = if bool_param(call, 1, "removed", false) {
        lists.removed
    } else if bool_param(call, 2, "purge_desired", false) {
        lists.purge_desired
    } else {
        lists.installed_or_purge_desired()
    };
    if bool_param(call, 0, "versions_as_list", false) {
        ok(json!(list))
    } else {
        ok(Value::Object(stringify(&list)))
    }
}

async fn list_upgrades(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let Backend::Apt = Backend::for_host(ctx)?;
    if bool_param(call, 0, "refresh", true) {
        apt::refresh_db(cache_valid_time(call, None)?, false).await?;
    }
    let fromrepo = call.kwargs.get("fromrepo").and_then(value_text);
    let upgrades = apt::list_upgrades(
        bool_param(call, 1, "dist_upgrade", true),
        fromrepo.as_deref(),
    )
    .await?;
    ok(json!(upgrades))
}

async fn upgrade(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let Backend::Apt = Backend::for_host(ctx)?;
    let kw = |name: &str| call.kwargs.get(name).is_some_and(salt_is_true);
    let opts = apt::UpgradeOptions {
        refresh: bool_param(call, 0, "refresh", true),
        cache_valid_time: cache_valid_time(call, None)?,
        dist_upgrade: bool_param(call, 1, "dist_upgrade", false),
        force_conf_new: kw("force_conf_new"),
        force_yes: kw("force_yes"),
        skip_verify: kw("skip_verify"),
        download_only: kw("download_only") || kw("downloadonly"),
        allow_downgrades: kw("allow_downgrades"),
    };
    ok(Value::Object(apt::upgrade(&opts).await?))
}

async fn refresh_db(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let Backend::Apt = Backend::for_host(ctx)?;
    let ret = apt::refresh_db(
        cache_valid_time(call, Some(0))?,
        bool_param(call, 1, "failhard", false),
    )
    .await?;
    ok(Value::Object(ret))
}

async fn hold(ctx: &MinionCtx, call: &Call, hold: bool) -> Result<FnOutput, FnError> {
    let Backend::Apt = Backend::for_host(ctx)?;
    let targets = hold_targets(
        str_param(call, 0, "name"),
        call.param(1, "pkgs"),
        call.param(2, "sources"),
    )?;
    let test = call.kwargs.get("test").is_some_and(salt_is_true);
    let mut ret = Map::new();
    for target in targets {
        let result = if hold {
            apt::hold_one(&target, test).await?
        } else {
            apt::unhold_one(&target, test).await?
        };
        ret.insert(target, result);
    }
    ok(Value::Object(ret))
}

async fn get_selections(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let Backend::Apt = Backend::for_host(ctx)?;
    let pattern = str_param(call, 0, "pattern");
    let state = str_param(call, 1, "state");
    let selections = apt::get_selections(pattern.as_deref()).await?;
    match state {
        Some(state) => {
            let pkgs = selections.get(&state).cloned().unwrap_or_default();
            ok(json!({ state: pkgs }))
        }
        None => ok(json!(selections)),
    }
}

fn version_cmp(_ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let a = super::host::required_str(call, 0, "pkg1")?;
    let b = super::host::required_str(call, 1, "pkg2")?;
    let strip = |v: &str| -> String {
        if bool_param(call, 2, "ignore_epoch", false) {
            v.split_once(':').map_or(v, |(_, rest)| rest).to_string()
        } else {
            v.to_string()
        }
    };
    let ord = debversion::compare(&strip(&a), &strip(&b));
    ok(json!(ord as i8))
}

// ---------------------------------------------------------------------------
// Salt's pkg_resource helpers

/// Salt's `parse_targets`: what to install from `name` (+ `version`),
/// `pkgs` or `sources`; `None` when nothing was named.
pub fn parse_targets(
    name: Option<String>,
    pkgs: Option<&Value>,
    sources: Option<&Value>,
    version: Option<String>,
) -> Result<Option<Targets>, FnError> {
    let pkgs = pkgs.filter(|v| !v.is_null());
    let sources = sources.filter(|v| !v.is_null());
    if pkgs.is_some() && sources.is_some() {
        return Err(FnError::Invocation(
            "Only one of pkgs or sources can be specified.".into(),
        ));
    }
    if let Some(pkgs) = pkgs {
        let list = pack_pkgs(pkgs)?;
        return Ok((!list.is_empty()).then_some(Targets::Repo(list)));
    }
    if let Some(sources) = sources {
        let list = pack_sources(sources)?;
        return Ok((!list.is_empty()).then_some(Targets::Files(list)));
    }
    let Some(name) = name.filter(|n| !n.trim().is_empty()) else {
        return Ok(None);
    };
    let names: Vec<String> = list_value(&Value::String(name));
    let list = match (names.as_slice(), version) {
        ([one], Some(v)) => vec![(one.clone(), Some(v))],
        _ => names.into_iter().map(|n| (n, None)).collect(),
    };
    Ok(Some(Targets::Repo(list)))
}

/// `pkgs`: names, or single-key `{name: version}` maps.
fn pack_pkgs(pkgs: &Value) -> Result<Vec<(String, Option<String>)>, FnError> {
    let items = match pkgs {
        Value::Array(items) => items.clone(),
        Value::String(_) => list_value(pkgs).into_iter().map(Value::String).collect(),
        other => {
            return Err(FnError::Execution(format!(
                "Invalid input: pkgs must be a list, not {other}"
            )));
        }
    };
    items
        .iter()
        .map(|item| match item {
            Value::Object(map) if map.len() == 1 => {
                let (k, v) = map.iter().next().ok_or_else(|| bad_pkgs(item))?;
                Ok((k.clone(), value_text(v)))
            }
            Value::String(s) if !s.is_empty() => Ok((s.clone(), None)),
            Value::Number(_) => Ok((item.to_string(), None)),
            _ => Err(bad_pkgs(item)),
        })
        .collect()
}

fn bad_pkgs(item: &Value) -> FnError {
    FnError::Execution(format!(
        "Invalid input: pkgs entries must be names or single-key {{name: version}} maps, not {item}"
    ))
}

/// `sources`: single-key `{name: path}` maps naming local package files.
fn pack_sources(sources: &Value) -> Result<Vec<(String, PathBuf)>, FnError> {
    let Value::Array(items) = sources else {
        return Err(FnError::Execution(format!(
            "Invalid input: sources must be a list of {{name: path}} maps, not {sources}"
        )));
    };
    items
        .iter()
        .map(|item| {
            let entry = item.as_object().filter(|m| m.len() == 1);
            let (name, src) = entry
                .and_then(|m| m.iter().next())
                .and_then(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .ok_or_else(|| {
                    FnError::Execution(format!(
                        "Invalid input: sources entries must be single-key {{name: path}} maps, not {item}"
                    ))
                })?;
            Ok((name.clone(), local_source(&name, &src)?))
        })
        .collect()
}

/// A source as a local file path. Only local files are supported: fetching
/// `salt://` or `http(s)://` sources needs a file client.
fn local_source(name: &str, src: &str) -> Result<PathBuf, FnError> {
    let path = src.strip_prefix("file://").unwrap_or(src);
    if src.contains("://") && !src.starts_with("file://") {
        return Err(FnError::Execution(format!(
            "Source {src} for package {name}: only local package files are supported so far"
        )));
    }
    if !path.starts_with('/') {
        return Err(FnError::Execution(format!(
            "Path {src} for package {name} is either not absolute or an invalid protocol"
        )));
    }
    let path = PathBuf::from(path);
    if !path.is_file() {
        return Err(FnError::Execution(format!(
            "Package file {} for package {name} not found",
            path.display()
        )));
    }
    Ok(path)
}

/// The names `remove`/`purge` act on: `pkgs` when given, else `name` split
/// on commas.
fn removal_names(name: Option<String>, pkgs: Option<&Value>) -> Result<Vec<String>, FnError> {
    match pkgs.filter(|v| !v.is_null()) {
        Some(pkgs) => Ok(pack_pkgs(pkgs)?.into_iter().map(|(n, _)| n).collect()),
        None => Ok(name
            .map(|n| list_value(&Value::String(n)))
            .unwrap_or_default()),
    }
}

/// The names `hold`/`unhold` act on (Salt's rules and messages).
fn hold_targets(
    name: Option<String>,
    pkgs: Option<&Value>,
    sources: Option<&Value>,
) -> Result<Vec<String>, FnError> {
    let pkgs = pkgs.filter(|v| !v.is_null());
    let sources = sources.filter(|v| !v.is_null());
    if name.is_none() && pkgs.is_none() && sources.is_none() {
        return Err(FnError::Invocation(
            "One of name, pkgs, or sources must be specified.".into(),
        ));
    }
    if pkgs.is_some() && sources.is_some() {
        return Err(FnError::Invocation(
            "Only one of pkgs or sources can be specified.".into(),
        ));
    }
    if let Some(pkgs) = pkgs {
        return Ok(pack_pkgs(pkgs)?.into_iter().map(|(n, _)| n).collect());
    }
    if let Some(Value::Array(items)) = sources {
        return Ok(items
            .iter()
            .filter_map(|i| i.as_object()?.keys().next().cloned())
            .collect());
    }
    Ok(name.into_iter().collect())
}

/// Salt's `pkg_resource.stringify`: versions joined with commas.
pub fn stringify(list: &PkgList) -> Map<String, Value> {
    list.iter()
        .map(|(k, v)| (k.clone(), Value::String(v.join(","))))
        .collect()
}

/// Salt's `compare_dicts`: `{name: {old, new}}` for every name whose value
/// differs, `''` standing for absent.
pub fn compare_dicts(old: &Map<String, Value>, new: &Map<String, Value>) -> Map<String, Value> {
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut ret = Map::new();
    for key in keys {
        let entry = match (old.get(key), new.get(key)) {
            (None, Some(n)) => json!({"old": "", "new": n}),
            (Some(o), None) => json!({"new": "", "old": o}),
            (Some(o), Some(n)) if o != n => json!({"old": o, "new": n}),
            _ => continue,
        };
        ret.insert(key.clone(), entry);
    }
    ret
}

/// Salt's `pkg_resource.version`: one plain name gives a string, several
/// names (or a glob) a map; absent packages are `''`.
fn version_result(names: &[String], installed: &PkgList, as_list: bool) -> Value {
    let mut ret = Map::new();
    let mut globbed = false;
    for name in names {
        if name.contains(['*', '?', '[']) {
            globbed = true;
            for found in glob_matches(name, installed.keys()) {
                ret.insert(found.clone(), json!(installed[&found]));
            }
        } else {
            let versions = installed.get(name).cloned().unwrap_or_default();
            ret.insert(name.clone(), json!(versions));
        }
    }
    if !as_list {
        for v in ret.values_mut() {
            let joined = v
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            *v = Value::String(joined);
        }
    }
    if ret.len() == 1 && !globbed {
        return ret.into_iter().next().map(|(_, v)| v).unwrap_or_default();
    }
    Value::Object(ret)
}

/// A string for one name, a map for several.
fn one_or_map(names: &[String], mut found: BTreeMap<String, String>) -> Value {
    if let [one] = names {
        return json!(found.remove(one).unwrap_or_default());
    }
    Value::Object(
        names
            .iter()
            .map(|n| (n.clone(), json!(found.get(n).cloned().unwrap_or_default())))
            .collect(),
    )
}

/// The names among `candidates` that the shell-style pattern matches.
pub fn glob_matches<'a>(
    pattern: &str,
    candidates: impl Iterator<Item = &'a String>,
) -> Vec<String> {
    match Glob::new(pattern) {
        Ok(g) => {
            let m = g.compile_matcher();
            candidates
                .filter(|c| m.is_match(c.as_str()))
                .cloned()
                .collect()
        }
        Err(_) => Vec::new(),
    }
}

/// Salt's `CommandExecutionError(message, info=...)` text: the message, then
/// the info in the nested outputter's layout.
pub fn problem(message: &str, info: Value) -> FnError {
    FnError::execution_with_info(message, &info)
}

const INSTALL_DOC: &str = "Install the passed package(s), add refresh=True to update the package database first.\n\nname\n    The name of the package to be installed. Ignored if \"pkgs\" or \"sources\"\n    is passed. A comma-separated list installs several.\n\nrefresh\n    Whether or not to refresh the package database before installing.\n\nfromrepo\n    Specify a package repository (release) to install from\n    (``apt-get -t unstable install somepackage``).\n\nskip_verify\n    Skip the GPG verification check (``--allow-unauthenticated``).\n\nversion\n    Install a specific version of the package, e.g. 1.2.3~0ubuntu0. Ignored\n    if \"pkgs\" or \"sources\" is passed.\n\nreinstall : False\n    Use ``apt-get install --reinstall`` for requested packages that are\n    already installed.\n\npkgs\n    A list of packages to install from a software repository.\n\n        brine '*' pkg.install pkgs='[\"foo\", {\"bar\": \"1.2.3-0ubuntu0\"}]'\n\nsources\n    A list of DEB packages to install, as {name: path} maps with local\n    absolute paths.\n\n        brine '*' pkg.install sources='[{\"foo\": \"/tmp/foo.deb\"}]'\n\nforce_yes, install_recommends, only_upgrade, force_conf_new, download_only\n    Passed on to apt-get as in Salt.\n\nReturns a dict containing the new package names and versions::\n\n    {'<package>': {'old': '<old-version>',\n                   'new': '<new-version>'}}\n\nCLI Example:\n\n    brine '*' pkg.install <package name>";
const REMOVE_DOC: &str = "Remove packages using ``apt-get remove``.\n\nname\n    The name of the package to be deleted (comma-separated for several).\n\npkgs\n    A list of packages to delete. The ``name`` parameter is ignored if this\n    option is passed.\n\nReturns a dict containing the changes.\n\nCLI Example:\n\n    brine '*' pkg.remove <package name>\n    brine '*' pkg.remove <package1>,<package2>,<package3>\n    brine '*' pkg.remove pkgs='[\"foo\", \"bar\"]'";
const PURGE_DOC: &str = "Remove packages via ``apt-get purge`` along with all configuration files.\n\nname\n    The name of the package to be deleted.\n\npkgs\n    A list of packages to delete.\n\nReturns a dict with the changes to installed packages (``installed``) and\nto removed-but-not-purged ones (``removed``).\n\nCLI Example:\n\n    brine '*' pkg.purge <package name>\n    brine '*' pkg.purge pkgs='[\"foo\", \"bar\"]'";
const VERSION_DOC: &str = "Returns a string representing the package version or an empty string if not\ninstalled. If more than one package name is specified, a dict of\nname/version pairs is returned.\n\nCLI Example:\n\n    brine '*' pkg.version <package name>\n    brine '*' pkg.version <package1> <package2> <package3> ...";
const LIST_REPO_PKGS_DOC: &str = "Returns all available packages. Optionally, package names can be passed and\nthe results will be filtered to packages matching those names.\n\nThe return data maps package names to a list of version numbers, in the\norder apt lists them (newest first).\n\nCLI Examples:\n\n    brine '*' pkg.list_repo_pkgs\n    brine '*' pkg.list_repo_pkgs foo bar baz";
const LATEST_VERSION_DOC: &str = "Return the latest version of the named package available for upgrade or\ninstallation. If more than one package name is specified, a dict of\nname/version pairs is returned.\n\nIf the latest version of a given package is already installed, an empty\nstring will be returned for that package.\n\nA specific repo can be requested using the ``fromrepo`` keyword argument;\n``refresh=False`` skips updating the package database first.\n\nCLI Example:\n\n    brine '*' pkg.latest_version <package name>\n    brine '*' pkg.latest_version <package name> fromrepo=unstable\n    brine '*' pkg.latest_version <package1> <package2> <package3> ...";
const UPGRADE_AVAILABLE_DOC: &str = "Check whether or not an upgrade is available for a given package\n\nCLI Example:\n\n    brine '*' pkg.upgrade_available <package name>";
const LIST_PKGS_DOC: &str = "List the packages currently installed in a dict::\n\n    {'<package_name>': '<version>'}\n\nremoved\n    If ``True``, then only packages which have been removed (but not\n    purged) will be returned.\n\npurge_desired\n    If ``True``, then only packages which have been marked to be purged,\n    but can't be purged due to their status as dependencies for other\n    installed packages, will be returned.\n\nCLI Example:\n\n    brine '*' pkg.list_pkgs\n    brine '*' pkg.list_pkgs versions_as_list=True";
const LIST_UPGRADES_DOC: &str = "List all available package upgrades.\n\nrefresh\n    Whether to refresh the package database before listing upgrades.\n    Default: True.\n\ndist_upgrade\n    Whether to list the upgrades using dist-upgrade vs upgrade. Default is\n    to use dist-upgrade.\n\nCLI Example:\n\n    brine '*' pkg.list_upgrades";
const UPGRADE_DOC: &str = "Upgrades all packages via ``apt-get upgrade`` or ``apt-get dist-upgrade``\nif ``dist_upgrade`` is ``True``.\n\nReturns a dictionary containing the changes:\n\n    {'<package>':  {'old': '<old-version>',\n                    'new': '<new-version>'}}\n\nrefresh : True\n    If ``True``, the apt cache will be refreshed first.\n\ndownload_only, force_conf_new, allow_downgrades\n    As in Salt.\n\nCLI Example:\n\n    brine '*' pkg.upgrade";
const REFRESH_DB_DOC: &str = "Updates the APT database to latest packages based upon repositories\n\nReturns a dict, with the keys being package databases and the values being\nthe result of the update attempt. Values can be one of the following:\n\n- ``True``: Database updated successfully\n- ``False``: Problem updating database\n- ``None``: Database already up-to-date\n\ncache_valid_time\n    Skip refreshing the package database if refresh has already occurred within\n    <value> seconds\n\nfailhard\n    If True, raise an error with a list of the package databases that encountered\n    errors.\n\nCLI Example:\n\n    brine '*' pkg.refresh_db";
const HOLD_DOC: &str = "Set package in 'hold' state, meaning it will not be upgraded.\n\nname\n    The name of the package, e.g., 'tmux'\n\npkgs\n    A list of packages to hold.\n\nCLI Example:\n\n    brine '*' pkg.hold <package name>\n    brine '*' pkg.hold pkgs='[\"foo\", \"bar\"]'";
const UNHOLD_DOC: &str = "Set package current in 'hold' state to install state,\nmeaning it will be upgraded.\n\nname\n    The name of the package, e.g., 'tmux'\n\npkgs\n    A list of packages to unhold.\n\nCLI Example:\n\n    brine '*' pkg.unhold <package name>\n    brine '*' pkg.unhold pkgs='[\"foo\", \"bar\"]'";
const GET_SELECTIONS_DOC: &str = "View package state from the dpkg database.\n\nReturns a dict of the states and the package names in each::\n\n    {'<state>': ['pkg1', ...]}\n\nCLI Example:\n\n    brine '*' pkg.get_selections\n    brine '*' pkg.get_selections 'python-*'\n    brine '*' pkg.get_selections state=hold";
const VERSION_CMP_DOC: &str = "Do a cmp-style comparison on two packages. Return -1 if pkg1 < pkg2, 0 if\npkg1 == pkg2, and 1 if pkg1 > pkg2.\n\nignore_epoch : False\n    Set to ``True`` to ignore the epoch when comparing versions\n\nCLI Example:\n\n    brine '*' pkg.version_cmp '0.2.4-0ubuntu1' '0.2.4.1-0ubuntu1'";

#[cfg(test)]
mod tests {
    use super::*;

    fn pkglist(items: &[(&str, &str)]) -> PkgList {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
            .collect()
    }

    #[test]
    fn targets_from_name_pkgs_and_sources() {
        assert_eq!(parse_targets(None, None, None, None).expect("ok"), None);
        assert_eq!(
            parse_targets(Some("a,b".into()), None, None, None).expect("ok"),
            Some(Targets::Repo(vec![("a".into(), None), ("b".into(), None)]))
        );
        assert_eq!(
            parse_targets(Some("a".into()), None, None, Some("1.0".into())).expect("ok"),
            Some(Targets::Repo(vec![("a".into(), Some("1.0".into()))]))
        );
        let pkgs = json!(["x", {"y": "2.0"}, {"z": 1.5}]);
        assert_eq!(
            parse_targets(Some("ignored".into()), Some(&pkgs), None, None).expect("ok"),
            Some(Targets::Repo(vec![
                ("x".into(), None),
                ("y".into(), Some("2.0".into())),
                ("z".into(), Some("1.5".into()))
            ]))
        );
        let both = parse_targets(None, Some(&pkgs), Some(&json!([])), None);
        assert_eq!(
            both,
            Err(FnError::Invocation(
                "Only one of pkgs or sources can be specified.".into()
            ))
        );
        let bad = parse_targets(None, None, Some(&json!([{"foo": "salt://foo.deb"}])), None);
        assert!(bad.is_err_and(|e| e.to_string().contains("only local package files")));
        let missing = parse_targets(
            None,
            None,
            Some(&json!([{"foo": "/nonexistent/x.deb"}])),
            None,
        );
        assert!(missing.is_err_and(|e| e.to_string().contains("not found")));
        let relative = parse_targets(None, None, Some(&json!([{"foo": "x.deb"}])), None);
        assert!(relative.is_err_and(|e| e.to_string().contains("not absolute")));
    }

    #[test]
    fn changes_are_salts_compare_dicts() {
        let old = stringify(&pkglist(&[("a", "1"), ("b", "1"), ("c", "1")]));
        let new = stringify(&pkglist(&[("a", "1"), ("b", "2"), ("d", "3")]));
        let changes = compare_dicts(&old, &new);
        assert_eq!(
            Value::Object(changes),
            json!({
                "b": {"old": "1", "new": "2"},
                "c": {"new": "", "old": "1"},
                "d": {"old": "", "new": "3"},
            })
        );
    }

    #[test]
    fn version_is_a_string_for_one_name_and_a_map_for_several() {
        let mut installed = pkglist(&[("bash", "5.2"), ("bc", "1.07")]);
        installed.insert("multi".into(), vec!["1".into(), "2".into()]);
        assert_eq!(
            version_result(&["bash".into()], &installed, false),
            json!("5.2")
        );
        assert_eq!(
            version_result(&["nope".into()], &installed, false),
            json!("")
        );
        assert_eq!(
            version_result(&["multi".into()], &installed, false),
            json!("1,2")
        );
        assert_eq!(
            version_result(&["bash".into(), "nope".into()], &installed, false),
            json!({"bash": "5.2", "nope": ""})
        );
        assert_eq!(
            version_result(&["b*".into()], &installed, false),
            json!({"bash": "5.2", "bc": "1.07"})
        );
        assert_eq!(
            version_result(&["bash".into()], &installed, true),
            json!(["5.2"])
        );
    }

    #[test]
    fn hold_needs_a_target() {
        assert!(hold_targets(None, None, None).is_err());
        assert_eq!(
            hold_targets(None, None, Some(&json!([{"foo": "/x.deb"}]))).expect("ok"),
            ["foo"]
        );
    }

    #[test]
    fn problems_read_like_salts_command_execution_error() {
        let e = problem(
            "Problem encountered installing package(s)",
            json!({"errors": ["E: boom"], "changes": {}}),
        );
        let text = e.to_string();
        assert!(
            text.starts_with(
                "Problem encountered installing package(s). Additional info follows:\n\n"
            ),
            "{text}"
        );
        assert!(text.contains("errors:\n    - E: boom"), "{text}");
    }

    #[test]
    fn backend_from_os_family() {
        assert_eq!(Backend::for_os_family("Debian"), Some(Backend::Apt));
        assert_eq!(Backend::for_os_family("RedHat"), None);
    }
}
