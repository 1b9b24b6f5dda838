//! The apt/dpkg backend of `pkg` (Salt's `aptpkg`): `dpkg-query` for what
//! is installed, `apt-get` to change it, `apt-cache policy` for candidates,
//! `dpkg --get/--set-selections` for holds. Every apt and dpkg command runs
//! non-interactively (`DEBIAN_FRONTEND=noninteractive`, `-q -y`, keeping
//! existing config files) and is retried while another process holds the
//! dpkg lock.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use brine_common::functions::FnError;
use serde_json::{Map, Value, json};

use super::{
    InstallOptions, PkgList, Targets, compare_dicts, debversion, glob_matches, problem, stringify,
};
use crate::modules::host::{CmdOutput, HostCmd};

/// Salt's `DPKG_ENV_VARS`: no prompts, no pagers, keep old config files.
const DPKG_ENV: &[(&str, &str)] = &[
    ("APT_LISTBUGS_FRONTEND", "none"),
    ("APT_LISTCHANGES_FRONTEND", "none"),
    ("DEBIAN_FRONTEND", "noninteractive"),
    ("UCF_FORCE_CONFFOLD", "1"),
];

/// Where `apt-get update` keeps the package lists (its mtime is the last refresh).
const APT_LISTS_PATH: &str = "/var/lib/apt/lists";

/// How often to retry a command that found the dpkg lock taken.
const LOCK_RETRIES: u32 = 6;

/// `apt-get remove` or `apt-get purge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    Remove,
    Purge,
}

impl Removal {
    fn verb(self) -> &'static str {
        match self {
            Removal::Remove => "remove",
            Removal::Purge => "purge",
        }
    }
}

/// The package lists `dpkg-query` yields (Salt keeps the same three).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lists {
    pub installed: PkgList,
    /// Removed, with their config files still there.
    pub removed: PkgList,
    /// Marked for purge but still installed.
    pub purge_desired: PkgList,
}

impl Lists {
    /// What Salt's `list_pkgs()` returns: installed plus purge-desired.
    pub fn installed_or_purge_desired(self) -> PkgList {
        let mut ret = self.purge_desired;
        ret.extend(self.installed);
        ret
    }
}

fn apt_cmd(program: &str) -> HostCmd {
    DPKG_ENV
        .iter()
        .fold(HostCmd::new(program), |cmd, (k, v)| cmd.env(k, v))
}

/// Run an apt/dpkg command, waiting (with growing pauses) while the dpkg
/// lock is held by someone else.
async fn run_apt(cmd: &HostCmd) -> Result<CmdOutput, FnError> {
    let mut out = cmd.output().await?;
    for attempt in 1..=LOCK_RETRIES {
        if !out.stderr.contains("Could not get lock") {
            break;
        }
        let pause = Duration::from_secs((1u64 << attempt).min(30));
        tracing::warn!(command = %out.command, "dpkg lock busy, retrying in {pause:?}");
        tokio::time::sleep(pause).await;
        out = cmd.output().await?;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// What is installed

/// Every package dpkg knows, by state.
pub async fn list_pkgs() -> Result<Lists, FnError> {
    let arch = native_arch().await;
    let out = HostCmd::new("dpkg-query")
        .args([
            "--showformat",
            "${Status} ${Package} ${Version} ${Architecture}\n",
            "-W",
        ])
        .checked()
        .await?;
    Ok(parse_dpkg_query(&out.stdout, arch.as_deref()))
}

/// dpkg's native architecture (`amd64`), if dpkg says.
async fn native_arch() -> Option<String> {
    let out = HostCmd::new("dpkg")
        .arg("--print-architecture")
        .checked()
        .await
        .ok()?;
    Some(out.stdout.trim().to_string()).filter(|a| !a.is_empty())
}

/// Parse `dpkg-query -W --showformat '${Status} ${Package} ${Version} ${Architecture}\n'`:
///
/// ```text
/// install ok installed zsh 4.3.17-1ubuntu1 amd64
/// deinstall ok config-files mc 3:4.8.1-2ubuntu1 amd64
/// ```
///
/// Packages of a foreign architecture are named `name:arch`, as Salt does.
pub fn parse_dpkg_query(out: &str, native_arch: Option<&str>) -> Lists {
    let mut lists = Lists::default();
    for line in out.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let [want, _, status, name, version, arch, ..] = cols.as_slice() else {
            continue;
        };
        let name = match native_arch {
            Some(native) if *arch != "all" && arch != &native => format!("{name}:{arch}"),
            _ => name.to_string(),
        };
        // Salt's order: anything wanted installed or held (a pending
        // "deinstall" included) that is installed counts as installed.
        let list = if (want.contains("install") || want.contains("hold"))
            && status.contains("installed")
        {
            &mut lists.installed
        } else if want.contains("deinstall") {
            &mut lists.removed
        } else if want.contains("purge") && *status == "installed" {
            &mut lists.purge_desired
        } else {
            continue;
        };
        list.entry(name).or_default().push(version.to_string());
    }
    for list in [
        &mut lists.installed,
        &mut lists.removed,
        &mut lists.purge_desired,
    ] {
        for versions in list.values_mut() {
            versions.sort_by(|a, b| debversion::compare(a, b));
        }
    }
    lists
}

/// The installed packages as Salt's default `list_pkgs()` map.
async fn installed_map() -> Result<Map<String, Value>, FnError> {
    Ok(stringify(&list_pkgs().await?.installed_or_purge_desired()))
}

// ---------------------------------------------------------------------------
// Install

/// One package to install, resolved to what `apt-get install` is given.
struct Item {
    name: String,
    /// `name`, `name=version` or the package file's path.
    arg: String,
    version: Option<String>,
}

/// Install `targets`; the changes as `{name: {old, new}}`.
pub async fn install(
    targets: Targets,
    opts: &InstallOptions,
) -> Result<Map<String, Value>, FnError> {
    let from_files = matches!(targets, Targets::Files(_));
    let items = resolve_items(targets).await?;
    let old = installed_map().await?;
    let plan = plan_install(&items, &old, opts.reinstall);
    let cmds = install_commands(&plan, opts, from_files);
    if cmds.is_empty() {
        return Ok(Map::new());
    }
    if opts.refresh {
        refresh_db(opts.cache_valid_time, false).await?;
    }
    let held = get_selections(None)
        .await?
        .remove("hold")
        .unwrap_or_default();
    let to_unhold: Vec<String> = items
        .iter()
        .map(|i| i.name.clone())
        .filter(|n| held.contains(n))
        .collect();
    for name in &to_unhold {
        set_selection(name, "install").await?;
    }
    let mut errors = Vec::new();
    for cmd in &cmds {
        let out = run_apt(cmd).await?;
        if !out.success() {
            errors.push(out.failure_message());
        }
    }
    let new = installed_map().await?;
    let mut ret = compare_dicts(&old, &new);
    for name in &plan.reinstall_names {
        let entry = json!({
            "old": old.get(name).cloned().unwrap_or(json!("")),
            "new": new.get(name).cloned().unwrap_or(json!("")),
        });
        ret.insert(name.clone(), entry);
    }
    for name in &to_unhold {
        set_selection(name, "hold").await?;
    }
    if !errors.is_empty() {
        return Err(problem(
            "Problem encountered installing package(s)",
            json!({"errors": errors, "changes": ret}),
        ));
    }
    Ok(ret)
}

/// Repository targets as given; package files with the name and version
/// read from the file.
async fn resolve_items(targets: Targets) -> Result<Vec<Item>, FnError> {
    match targets {
        Targets::Repo(list) => list
            .into_iter()
            .map(|(name, version)| {
                let version = version.map(|v| v.trim_start_matches('=').to_string());
                if version.as_ref().is_some_and(|v| v.starts_with(['<', '>'])) {
                    return Err(FnError::Invocation(format!(
                        "version comparison operators are not supported yet ({name}: {})",
                        version.unwrap_or_default()
                    )));
                }
                let arg = match &version {
                    Some(v) => format!("{name}={v}"),
                    None => name.clone(),
                };
                Ok(Item { name, arg, version })
            })
            .collect(),
        Targets::Files(list) => {
            let mut items = Vec::new();
            for (_given, path) in list {
                let (name, version) = deb_info(&path).await?;
                items.push(Item {
                    name,
                    arg: path.display().to_string(),
                    version: Some(version),
                });
            }
            Ok(items)
        }
    }
}

/// The package name and version inside a `.deb` file.
async fn deb_info(path: &Path) -> Result<(String, String), FnError> {
    let out = HostCmd::new("dpkg-deb")
        .args(["--show", "--showformat", "${Package}\t${Version}\n"])
        .arg(path.display().to_string())
        .checked()
        .await?;
    out.stdout
        .lines()
        .next()
        .and_then(|l| l.split_once('\t'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .filter(|(n, v)| !n.is_empty() && !v.is_empty())
        .ok_or_else(|| {
            FnError::Execution(format!(
                "cannot read the package name and version of {}",
                path.display()
            ))
        })
}

/// Which `apt-get install` runs are needed (Salt's split into plain
/// installs, downgrades and reinstalls).
#[derive(Debug, Default, PartialEq)]
struct Plan {
    targets: Vec<String>,
    downgrades: Vec<String>,
    reinstalls: Vec<String>,
    reinstall_names: Vec<String>,
}

fn plan_install(items: &[Item], old: &Map<String, Value>, reinstall: bool) -> Plan {
    let mut plan = Plan::default();
    for item in items {
        let current = old.get(&item.name).and_then(Value::as_str).unwrap_or("");
        match &item.version {
            None if reinstall && !current.is_empty() => {
                plan.reinstalls.push(item.arg.clone());
                plan.reinstall_names.push(item.name.clone());
            }
            None => plan.targets.push(item.arg.clone()),
            Some(v) => {
                let cmp = debversion::compare(v, current);
                if reinstall && !current.is_empty() && cmp.is_eq() {
                    plan.reinstalls.push(item.arg.clone());
                    plan.reinstall_names.push(item.name.clone());
                } else if current.is_empty() || cmp.is_ge() {
                    plan.targets.push(item.arg.clone());
                } else {
                    plan.downgrades.push(item.arg.clone());
                }
            }
        }
    }
    plan
}

fn install_commands(plan: &Plan, opts: &InstallOptions, from_files: bool) -> Vec<HostCmd> {
    let mut prefix = vec!["-q".to_string(), "-y".to_string()];
    if opts.force_yes {
        prefix.push("--force-yes".into());
    }
    prefix.extend(conf_options(opts.force_conf_new));
    match opts.install_recommends {
        Some(false) => prefix.push("--no-install-recommends".into()),
        Some(true) => prefix.push("--install-recommends".into()),
        None => {}
    }
    if opts.only_upgrade {
        prefix.push("--only-upgrade".into());
    }
    if opts.skip_verify {
        prefix.push("--allow-unauthenticated".into());
    }
    if opts.downloadonly {
        prefix.push("--download-only".into());
    }
    if let Some(repo) = opts.fromrepo.as_ref().filter(|_| !from_files) {
        prefix.extend(["-t".to_string(), repo.clone()]);
    }
    let build = |extra: &[&str], pkgs: &[String]| {
        apt_cmd("apt-get")
            .args(prefix.iter().cloned())
            .args(extra.iter().copied())
            .arg("install")
            .args(pkgs.iter().cloned())
    };
    let mut cmds = Vec::new();
    if !plan.targets.is_empty() {
        cmds.push(build(&[], &plan.targets));
    }
    if !plan.downgrades.is_empty() {
        cmds.push(build(&["--allow-downgrades"], &plan.downgrades));
    }
    if !plan.reinstalls.is_empty() {
        let extra: &[&str] = if from_files { &[] } else { &["--reinstall"] };
        cmds.push(build(extra, &plan.reinstalls));
    }
    cmds
}

fn conf_options(force_conf_new: bool) -> Vec<String> {
    let opts: &[&str] = if force_conf_new {
        &["-o", "DPkg::Options::=--force-confnew"]
    } else {
        &[
            "-o",
            "DPkg::Options::=--force-confold",
            "-o",
            "DPkg::Options::=--force-confdef",
        ]
    };
    opts.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------
// Remove

/// `apt-get remove|purge` whatever of `wanted` (names or globs) is there.
pub async fn uninstall(action: Removal, wanted: &[String]) -> Result<Value, FnError> {
    let lists = list_pkgs().await?;
    let old_removed = stringify(&lists.removed);
    let old = stringify(&lists.installed_or_purge_desired());
    let mut targets = match_wildcard(&old, wanted);
    if action == Removal::Purge {
        targets.extend(match_wildcard(&old_removed, wanted));
        targets.sort();
        targets.dedup();
    }
    if targets.is_empty() {
        return Ok(json!({}));
    }
    let cmd = apt_cmd("apt-get")
        .args(["-q", "-y", action.verb()])
        .args(targets);
    let out = run_apt(&cmd).await?;
    let lists = list_pkgs().await?;
    let new_removed = stringify(&lists.removed);
    let new = stringify(&lists.installed_or_purge_desired());
    let changes = Value::Object(compare_dicts(&old, &new));
    let ret = match action {
        Removal::Purge => json!({
            "removed": compare_dicts(&old_removed, &new_removed),
            "installed": changes,
        }),
        Removal::Remove => changes,
    };
    if !out.success() {
        return Err(problem(
            "Problem encountered removing package(s)",
            json!({"errors": [out.failure_message()], "changes": ret}),
        ));
    }
    Ok(ret)
}

/// The names in `present` that `wanted` names exactly or by glob.
fn match_wildcard(present: &Map<String, Value>, wanted: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for want in wanted {
        if want.contains(['*', '?', '[']) {
            found.extend(glob_matches(want, present.keys()));
        } else if present.contains_key(want) {
            found.push(want.clone());
        }
    }
    found.dedup();
    found
}

// ---------------------------------------------------------------------------
// The package database

/// `apt-get -q update`: each source -> True (fetched), None (unchanged) or
/// False (ignored or failed).
pub async fn refresh_db(
    cache_valid_time: u64,
    failhard: bool,
) -> Result<Map<String, Value>, FnError> {
    if cache_valid_time > 0 && lists_fresh_within(Path::new(APT_LISTS_PATH), cache_valid_time) {
        return Ok(Map::new());
    }
    let out = run_apt(&apt_cmd("apt-get").args(["-q", "update"])).await?;
    if !out.success() {
        return Err(FnError::Execution(out.failure_message()));
    }
    let (ret, errors) = parse_update(&out.stdout);
    if failhard && !errors.is_empty() {
        return Err(FnError::Execution(format!(
            "Error getting repos: {}",
            errors.join(", ")
        )));
    }
    Ok(ret)
}

fn lists_fresh_within(path: &Path, secs: u64) -> bool {
    let modified = path.metadata().and_then(|m| m.modified());
    match modified.map(|m| SystemTime::now().duration_since(m)) {
        Ok(Ok(age)) => age.as_secs() < secs,
        Ok(Err(_)) => true,
        Err(e) => {
            tracing::warn!("could not stat {}: {e}", path.display());
            false
        }
    }
}

/// Parse `apt-get -q update` output (`Get:1 <source> [12 kB]`, `Hit:2 ...`,
/// `Ign:3 ...`, `Err:4 ...`); also the sources that failed.
pub fn parse_update(out: &str) -> (Map<String, Value>, Vec<String>) {
    let mut ret = Map::new();
    let mut errors = Vec::new();
    for line in out.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let Some((first, rest)) = cols.split_first() else {
            continue;
        };
        let mut ident = rest.join(" ");
        if first.contains("Get") {
            if let Some(i) = ident.rfind(" [").filter(|_| ident.ends_with("B]")) {
                ident.truncate(i);
            }
            ret.insert(ident, json!(true));
        } else if first.contains("Ign") {
            ret.insert(ident, json!(false));
        } else if first.contains("Hit") {
            ret.insert(ident, Value::Null);
        } else if first.contains("Err") {
            ret.insert(ident.clone(), json!(false));
            errors.push(ident);
        }
    }
    (ret, errors)
}

/// How `latest_version` asks.
#[derive(Debug, Clone, Default)]
pub struct LatestQuery {
    pub refresh: bool,
    pub show_installed: bool,
    pub fromrepo: Option<String>,
    pub cache_valid_time: u64,
}

/// Each name's install candidate if it would be an install or an upgrade
/// (`''` otherwise), as Salt's `latest_version`.
pub async fn latest_version(
    names: &[String],
    query: &LatestQuery,
) -> Result<BTreeMap<String, String>, FnError> {
    let installed = list_pkgs().await?.installed_or_purge_desired();
    if query.refresh {
        refresh_db(query.cache_valid_time, false).await?;
    }
    let mut cmd = HostCmd::new("apt-cache")
        .args(["-q", "policy"])
        .args(names.iter().cloned());
    if let Some(repo) = &query.fromrepo {
        cmd = cmd.args(["-o".to_string(), format!("APT::Default-Release={repo}")]);
    }
    let out = cmd.checked().await?;
    let candidates = parse_policy(&out.stdout, names);
    Ok(names
        .iter()
        .map(|name| {
            let candidate = candidates.get(name).cloned().unwrap_or_default();
            let versions = installed.get(name).map(Vec::as_slice).unwrap_or_default();
            let newer = !candidate.is_empty()
                && !versions
                    .iter()
                    .any(|v| debversion::compare(v, &candidate).is_ge());
            let keep = versions.is_empty() || query.show_installed || newer;
            (name.clone(), if keep { candidate } else { String::new() })
        })
        .collect())
}

/// The `Candidate:` of each package in `apt-cache policy` output.
pub fn parse_policy(out: &str, names: &[String]) -> BTreeMap<String, String> {
    let mut ret = BTreeMap::new();
    let mut current: Option<&String> = None;
    for line in out.lines() {
        if let Some(head) = line.strip_suffix(':').filter(|_| !line.starts_with(' ')) {
            current = names
                .iter()
                .find(|n| n.as_str() == head || n.split(':').next() == Some(head));
        } else if let (Some(name), Some(value)) = (current, line.trim().strip_prefix("Candidate:"))
        {
            let value = value.trim();
            let value = if value.eq_ignore_ascii_case("(none)") {
                ""
            } else {
                value
            };
            ret.insert(name.clone(), value.to_string());
        }
    }
    ret
}

/// The versions the repositories offer for each package, in apt's order
/// (`apt-cache show NAME...`, or `apt-cache dump` for every package). As in
/// Salt, apt-cache's exit status is ignored: unknown names are just absent.
pub async fn list_repo_pkgs(names: &[String]) -> Result<BTreeMap<String, Vec<String>>, FnError> {
    let cmd = if names.is_empty() {
        apt_cmd("apt-cache").arg("dump")
    } else {
        apt_cmd("apt-cache").arg("show").args(names.iter().cloned())
    };
    let out = run_apt(&cmd).await?;
    Ok(parse_repo_versions(&out.stdout))
}

/// `Version:` lines grouped under the `Package:` line before them.
pub fn parse_repo_versions(out: &str) -> BTreeMap<String, Vec<String>> {
    let mut ret: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current: Option<&str> = None;
    for line in out.lines() {
        if let Some(name) = line.strip_prefix("Package: ") {
            current = Some(name.trim());
            continue;
        }
        let mut words = line.trim().splitn(2, char::is_whitespace);
        if let (Some("Version:"), Some(version), Some(name)) = (words.next(), words.next(), current)
        {
            ret.entry(name.to_string())
                .or_default()
                .push(version.trim().to_string());
        }
    }
    ret
}

/// Packages an upgrade would install: `{name: version}`.
pub async fn list_upgrades(
    dist_upgrade: bool,
    fromrepo: Option<&str>,
) -> Result<BTreeMap<String, String>, FnError> {
    let mut cmd = HostCmd::new("apt-get").args([
        "--just-print",
        if dist_upgrade {
            "dist-upgrade"
        } else {
            "upgrade"
        },
    ]);
    if let Some(repo) = fromrepo {
        cmd = cmd.args(["-o".to_string(), format!("APT::Default-Release={repo}")]);
    }
    let out = run_apt(&cmd).await?;
    if !out.success() {
        return Err(FnError::Execution(format!(
            "Failed to get upgrades: {}",
            out.failure_message()
        )));
    }
    Ok(parse_just_print(&out.stdout))
}

/// `Conf libxfont1 (1:1.4.5-1 Debian:testing [i386])` lines of
/// `apt-get --just-print`.
pub fn parse_just_print(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("Conf ")?;
            let (name, rest) = rest.split_once(' ')?;
            let version = rest.strip_prefix('(')?.split(' ').next()?;
            Some((name.to_string(), version.trim_end_matches(')').to_string()))
        })
        .collect()
}

/// The options of `pkg.upgrade`.
#[derive(Debug, Clone, Default)]
pub struct UpgradeOptions {
    pub refresh: bool,
    pub cache_valid_time: u64,
    pub dist_upgrade: bool,
    pub force_conf_new: bool,
    pub force_yes: bool,
    pub skip_verify: bool,
    pub download_only: bool,
    pub allow_downgrades: bool,
}

/// `apt-get upgrade` (or `dist-upgrade`); the changes.
pub async fn upgrade(opts: &UpgradeOptions) -> Result<Map<String, Value>, FnError> {
    if opts.refresh {
        refresh_db(opts.cache_valid_time, false).await?;
    }
    let old = installed_map().await?;
    let out = run_apt(&upgrade_command(opts)).await?;
    let new = installed_map().await?;
    let ret = compare_dicts(&old, &new);
    if !out.success() {
        return Err(problem(
            "Problem encountered upgrading packages",
            json!({
                "changes": ret,
                "result": {"retcode": out.code, "stdout": out.stdout, "stderr": out.stderr},
            }),
        ));
    }
    Ok(ret)
}

fn upgrade_command(opts: &UpgradeOptions) -> HostCmd {
    let mut cmd = apt_cmd("apt-get")
        .args(["-q", "-y"])
        .args(conf_options(opts.force_conf_new));
    for (on, flag) in [
        (opts.force_yes, "--force-yes"),
        (opts.skip_verify, "--allow-unauthenticated"),
        (opts.download_only, "--download-only"),
        (opts.allow_downgrades, "--allow-downgrades"),
    ] {
        if on {
            cmd = cmd.arg(flag);
        }
    }
    cmd.arg(if opts.dist_upgrade {
        "dist-upgrade"
    } else {
        "upgrade"
    })
}

// ---------------------------------------------------------------------------
// Selections and holds

/// `dpkg --get-selections [pattern]` as `{state: [packages]}`.
pub async fn get_selections(
    pattern: Option<&str>,
) -> Result<BTreeMap<String, Vec<String>>, FnError> {
    let out = HostCmd::new("dpkg")
        .args(["--get-selections", pattern.unwrap_or("*")])
        .checked()
        .await?;
    Ok(parse_selections(&out.stdout))
}

pub fn parse_selections(out: &str) -> BTreeMap<String, Vec<String>> {
    let mut ret: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in out.lines() {
        if let [pkg, state] = line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ret.entry(state.to_string())
                .or_default()
                .push(pkg.to_string());
        }
    }
    ret
}

/// Set one package's selection state (`install`, `hold`, ...).
async fn set_selection(pkg: &str, state: &str) -> Result<(), FnError> {
    let cmd = HostCmd::new("dpkg")
        .arg("--set-selections")
        .stdin(format!("{pkg} {state}\n"));
    let out = run_apt(&cmd).await?;
    if !out.success() {
        return Err(FnError::Execution(format!(
            "cannot set the state of {pkg} to {state}: {}",
            out.failure_message()
        )));
    }
    Ok(())
}

/// The current selection state of one package, if dpkg knows it.
async fn selection_of(pkg: &str) -> Result<Option<String>, FnError> {
    let selections = get_selections(Some(pkg)).await?;
    Ok(selections
        .into_iter()
        .find(|(_, pkgs)| {
            pkgs.iter()
                .any(|p| p == pkg || p.split(':').next() == Some(pkg))
        })
        .map(|(state, _)| state))
}

/// Salt's per-package `hold` result.
pub async fn hold_one(target: &str, test: bool) -> Result<Value, FnError> {
    change_hold(target, test, "hold").await
}

/// Salt's per-package `unhold` result.
pub async fn unhold_one(target: &str, test: bool) -> Result<Value, FnError> {
    change_hold(target, test, "install").await
}

async fn change_hold(target: &str, test: bool, want: &str) -> Result<Value, FnError> {
    let mut ret = json!({"name": target, "changes": {}, "result": false, "comment": ""});
    let holding = want == "hold";
    let Some(current) = selection_of(target).await? else {
        ret["comment"] = json!(format!("Package {target} does not have a state."));
        return Ok(ret);
    };
    let (already, pending, done) = if holding {
        (
            "is already set to be held.",
            "is set to be held.",
            "is now being held.",
        )
    } else {
        (
            "is already set not to be held.",
            "is set not to be held.",
            "is no longer being held.",
        )
    };
    if (current == "hold") == holding {
        ret["result"] = json!(true);
        ret["comment"] = json!(format!("Package {target} {already}"));
    } else if test {
        ret["result"] = Value::Null;
        ret["comment"] = json!(format!("Package {target} {pending}"));
    } else {
        set_selection(target, want).await?;
        ret["changes"] = json!({"old": current, "new": want});
        ret["result"] = json!(true);
        ret["comment"] = json!(format!("Package {target} {done}"));
    }
    Ok(ret)
}

/// For tests: the commands a plan turns into, as argv lists.
#[cfg(test)]
fn argvs(cmds: &[HostCmd]) -> Vec<Vec<String>> {
    cmds.iter()
        .map(|c| {
            std::iter::once(c.program().to_string())
                .chain(c.argv().iter().cloned())
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_query_lines_become_lists() {
        let out = "install ok installed zsh 4.3.17-1ubuntu1 amd64\n\
                   deinstall ok config-files mc 3:4.8.1-2ubuntu1 amd64\n\
                   deinstall ok installed going 2.0 amd64\n\
                   hold ok installed bash 5.2.15-2+b8 amd64\n\
                   install ok installed libc6 2.36-9 i386\n\
                   install ok installed tzdata 2024a-0 all\n\
                   purge ok installed old 1.0 amd64\n\
                   unknown ok not-installed gone 1.0 amd64\n\
                   garbage\n";
        let lists = parse_dpkg_query(out, Some("amd64"));
        assert_eq!(lists.installed["zsh"], ["4.3.17-1ubuntu1"]);
        assert_eq!(lists.installed["bash"], ["5.2.15-2+b8"]);
        assert_eq!(lists.installed["libc6:i386"], ["2.36-9"]);
        assert_eq!(lists.installed["tzdata"], ["2024a-0"]);
        assert_eq!(lists.removed["mc"], ["3:4.8.1-2ubuntu1"]);
        assert_eq!(lists.installed["going"], ["2.0"]);
        assert_eq!(lists.purge_desired["old"], ["1.0"]);
        assert!(!lists.installed.contains_key("gone"));
        assert!(!lists.installed.contains_key("mc"));
        let all = lists.installed_or_purge_desired();
        assert!(all.contains_key("old") && all.contains_key("zsh"));
    }

    #[test]
    fn apt_update_output() {
        let out = "Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]\n\
                   Hit:2 http://deb.debian.org/debian-security bookworm-security InRelease\n\
                   Ign:3 http://example.invalid/repo stable InRelease\n\
                   Err:4 http://example.invalid/repo stable Release\n\
                   Reading package lists...\n";
        let (ret, errors) = parse_update(out);
        assert_eq!(
            ret["http://deb.debian.org/debian bookworm InRelease"],
            json!(true)
        );
        assert_eq!(
            ret["http://deb.debian.org/debian-security bookworm-security InRelease"],
            Value::Null
        );
        assert_eq!(
            ret["http://example.invalid/repo stable InRelease"],
            json!(false)
        );
        assert_eq!(errors, ["http://example.invalid/repo stable Release"]);
    }

    #[test]
    fn policy_candidates() {
        let out = "bash:\n  Installed: 5.2.15-2+b8\n  Candidate: 5.2.15-2+b13\n  Version table:\n     5.2.15-2+b13 500\n        500 http://deb.debian.org/debian bookworm/main amd64 Packages\nvirt:\n  Installed: (none)\n  Candidate: (none)\n";
        let names = vec!["bash".to_string(), "virt".to_string(), "nope".to_string()];
        let c = parse_policy(out, &names);
        assert_eq!(c["bash"], "5.2.15-2+b13");
        assert_eq!(c["virt"], "");
        assert!(!c.contains_key("nope"));
    }

    #[test]
    fn repo_versions_by_package() {
        let out = "Package: chrony\nVersion: 4.3-2+deb12u1\nArchitecture: amd64\n\nPackage: chrony\nVersion: 4.3-2\n\nPackage: redis-server\nVersion: 5:7.0.15-1~deb12u5\nDepends: redis-tools (= 5:7.0.15-1~deb12u5)\n";
        let v = parse_repo_versions(out);
        assert_eq!(v["chrony"], ["4.3-2+deb12u1", "4.3-2"]);
        assert_eq!(v["redis-server"], ["5:7.0.15-1~deb12u5"]);
        assert_eq!(v.len(), 2);
    }

    #[test]
    fn just_print_conf_lines() {
        let out = "Inst libxfont1 [1:1.4.5-1] (1:1.4.5-2 Debian:testing [i386])\nConf libxfont1 (1:1.4.5-2 Debian:testing [i386])\nConf bash (5.2.15-2+b13 Debian:12.9/stable [amd64])\n";
        let up = parse_just_print(out);
        assert_eq!(up["libxfont1"], "1:1.4.5-2");
        assert_eq!(up["bash"], "5.2.15-2+b13");
        assert_eq!(up.len(), 2);
    }

    #[test]
    fn selections_by_state() {
        let s = parse_selections("bash\t\t\t\t\tinstall\nfoo\t\t\thold\nbar\thold\n");
        assert_eq!(s["hold"], ["foo", "bar"]);
        assert_eq!(s["install"], ["bash"]);
    }

    fn item(name: &str, version: Option<&str>) -> Item {
        Item {
            name: name.into(),
            arg: match version {
                Some(v) => format!("{name}={v}"),
                None => name.into(),
            },
            version: version.map(String::from),
        }
    }

    #[test]
    fn install_plan_splits_downgrades_and_reinstalls() {
        let old: Map<String, Value> = [("a", "1.0"), ("b", "2.0"), ("c", "1.0")]
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let items = [
            item("a", Some("2.0")),
            item("b", Some("1.0")),
            item("c", None),
            item("new", None),
        ];
        let plan = plan_install(&items, &old, false);
        assert_eq!(plan.targets, ["a=2.0", "c", "new"]);
        assert_eq!(plan.downgrades, ["b=1.0"]);
        let plan = plan_install(&items, &old, true);
        assert_eq!(plan.reinstalls, ["c"]);
        assert_eq!(plan.reinstall_names, ["c"]);
        let opts = InstallOptions {
            fromrepo: Some("unstable".into()),
            ..InstallOptions::default()
        };
        let cmds = argvs(&install_commands(&plan, &opts, false));
        assert_eq!(
            cmds[0],
            [
                "apt-get",
                "-q",
                "-y",
                "-o",
                "DPkg::Options::=--force-confold",
                "-o",
                "DPkg::Options::=--force-confdef",
                "-t",
                "unstable",
                "install",
                "a=2.0",
                "new"
            ]
        );
        assert!(cmds[1].contains(&"--allow-downgrades".to_string()));
        assert!(cmds[2].contains(&"--reinstall".to_string()));
    }

    #[test]
    fn wildcards_match_installed_names() {
        let present: Map<String, Value> = ["libfoo1", "libfoo2", "bar"]
            .iter()
            .map(|k| (k.to_string(), json!("1")))
            .collect();
        assert_eq!(
            match_wildcard(&present, &["libfoo*".into(), "bar".into(), "nope".into()]),
            ["libfoo1", "libfoo2", "bar"]
        );
    }

    #[test]
    fn upgrade_command_flags() {
        let opts = UpgradeOptions {
            dist_upgrade: true,
            download_only: true,
            ..UpgradeOptions::default()
        };
        let argv = argvs(&[upgrade_command(&opts)]).remove(0);
        assert_eq!(argv.last().map(String::as_str), Some("dist-upgrade"));
        assert!(argv.contains(&"--download-only".to_string()));
    }
}
