//! Salt's `pkg` states: `installed`, `latest`, `removed`, `purged`.
//!
//! Decisions come from `pkg.list_pkgs` (and `pkg.latest_version`); the work
//! is `pkg.install`, `pkg.remove` and `pkg.purge`, which return Salt's
//! `{name: {old, new}}` changes.

use std::collections::BTreeMap;

use brine_common::salt_url;
use serde_json::{Map, Value, json};

use super::{arg, call, changed, name_of, pending, str_of, text};
use crate::lowstate::{StateCall, StateModules, StateResult};

pub fn register(m: &mut StateModules) {
    m.register("pkg.installed", installed);
    m.register("pkg.latest", latest);
    m.register("pkg.removed", removed);
    m.register("pkg.purged", purged);
}

/// The packages a state is about, each with an optional version: `pkgs`
/// (names or `{name: version}`), else `name` with `version`.
fn targets(c: &StateCall<'_>) -> Vec<(String, Option<String>)> {
    match c.chunk.arg("pkgs") {
        Some(Value::Array(items)) => items
            .iter()
            .flat_map(|item| match item {
                Value::Object(m) => m
                    .iter()
                    .map(|(k, v)| (k.clone(), (!v.is_null()).then(|| text(v))))
                    .collect::<Vec<_>>(),
                other => vec![(text(other), None)],
            })
            .collect(),
        _ => vec![(name_of(c).to_string(), str_of(c.chunk, "version"))],
    }
}

/// `sources: [{name: path}]` with `salt://` files cached locally.
fn sources(c: &StateCall<'_>) -> Result<Vec<(String, String)>, String> {
    let Some(Value::Array(items)) = c.chunk.arg("sources") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (name, src) in items.iter().filter_map(Value::as_object).flatten() {
        let src = text(src);
        let local = match salt_url::file_of(&src, &c.chunk.env) {
            Some(file) => {
                let (env, path) = file.map_err(|e| e.to_string())?;
                c.host.cache_file(&env, &path)?.display().to_string()
            }
            None => src,
        };
        out.push((name.clone(), local));
    }
    Ok(out)
}

fn installed_pkgs(c: &StateCall<'_>) -> Result<BTreeMap<String, String>, String> {
    let v = call(c.host, "pkg.list_pkgs", vec![], &[])?;
    Ok(v.as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
        .unwrap_or_default())
}

/// Whether an installed version satisfies a wanted one (`1.2` matches `1.2-3`).
fn satisfies(have: &str, want: Option<&str>) -> bool {
    match want.map(|w| w.trim_start_matches('=')) {
        None | Some("") | Some("latest") => true,
        Some(w) => {
            have == w || have.starts_with(&format!("{w}-")) || have.split(',').any(|h| h == w)
        }
    }
}

fn passed(c: &StateCall<'_>) -> Vec<(&'static str, Value)> {
    [
        "refresh",
        "fromrepo",
        "skip_verify",
        "reinstall",
        "cache_valid_time",
    ]
    .into_iter()
    .map(|k| (k, arg(c.chunk, k)))
    .collect()
}

/// `version: latest` made concrete, as Salt does before comparing: the
/// install candidate when it is newer than what is installed, else the
/// installed version; no version at all for a package apt does not offer.
fn resolve_latest(
    c: &StateCall<'_>,
    wanted: Vec<(String, Option<String>)>,
    have: &BTreeMap<String, String>,
) -> Result<Vec<(String, Option<String>)>, String> {
    let latest: Vec<String> = wanted
        .iter()
        .filter(|(_, v)| v.as_deref() == Some("latest"))
        .map(|(p, _)| p.clone())
        .collect();
    if latest.is_empty() {
        return Ok(wanted);
    }
    let args: Vec<Value> = latest.iter().map(|p| json!(p)).collect();
    let refresh = arg(c.chunk, "refresh");
    let answer = call(c.host, "pkg.latest_version", args, &[("refresh", refresh)])?;
    let candidates = per_name(&latest, &answer);
    Ok(wanted
        .into_iter()
        .map(|(p, v)| {
            if v.as_deref() != Some("latest") {
                return (p, v);
            }
            let installed = || {
                have.get(&p)
                    .map(|h| h.rsplit(',').next().unwrap_or(h).to_string())
            };
            let resolved = match candidates.get(&p).filter(|v| !v.is_empty()) {
                Some(candidate) => Some(candidate.clone()),
                None => installed(),
            };
            (p, resolved)
        })
        .collect())
}

/// `pkgs: []`: Salt succeeds without looking at the host.
fn no_packages_listed(c: &StateCall<'_>) -> bool {
    matches!(c.chunk.arg("pkgs"), Some(Value::Array(items)) if items.is_empty())
}

/// `name=version` as Salt spells a wanted package (no `=` before a
/// comparison operator).
fn desired_spec(name: &str, version: &str) -> String {
    if version.starts_with(['<', '>', '=']) {
        format!("{name}{version}")
    } else {
        format!("{name}={version}")
    }
}

/// The changes test mode predicts for installing `targets` (Salt's
/// `_get_installable_versions`): `{name: {new, old}}` where `new` is the
/// install candidate (`pkg.latest_version`) for unversioned targets, the
/// newest repository version matching the spec (`pkg.list_repo_pkgs`) for
/// versioned ones, and `"installed"` when the repositories offer none.
fn installable_versions(
    c: &StateCall<'_>,
    targets: &[(String, Option<String>)],
    current: &BTreeMap<String, String>,
) -> Result<Map<String, Value>, String> {
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    let unversioned: Vec<Value> = targets
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(p, _)| json!(p))
        .collect();
    if !unversioned.is_empty() {
        match call(c.host, "pkg.latest_version", unversioned.clone(), &[])? {
            Value::Object(m) => found.extend(m.iter().map(|(k, v)| (k.clone(), text(v)))),
            Value::String(v) => {
                found.insert(text(&unversioned[0]), v);
            }
            _ => {}
        }
    }
    let specs: Vec<Value> = targets
        .iter()
        .filter_map(|(p, v)| v.as_ref().map(|v| json!(desired_spec(p, v))))
        .collect();
    if !specs.is_empty() {
        let offered = call(c.host, "pkg.list_repo_pkgs", specs, &[])?;
        for (pkg, versions) in offered.as_object().into_iter().flatten() {
            if let Some(first) = versions.as_array().and_then(|v| v.first()) {
                found.insert(pkg.clone(), text(first));
            }
        }
    }
    Ok(targets
        .iter()
        .map(|(p, _)| {
            let new = found.get(p).filter(|v| !v.is_empty());
            let change = json!({
                "new": new.map_or("installed", String::as_str),
                "old": current.get(p).map_or("", String::as_str),
            });
            (p.clone(), change)
        })
        .collect())
}

fn installed(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    if no_packages_listed(c) {
        return StateResult::ok(name, "No packages to install provided");
    }
    let run = || -> Result<StateResult, String> {
        let have = installed_pkgs(c)?;
        let from_files = sources(c)?;
        let wanted: Vec<(String, Option<String>)> = if from_files.is_empty() {
            resolve_latest(c, targets(c), &have)?
        } else {
            from_files.iter().map(|(n, _)| (n.clone(), None)).collect()
        };
        let todo: Vec<(String, Option<String>)> = wanted
            .iter()
            .filter(|(p, v)| !have.get(p).is_some_and(|h| satisfies(h, v.as_deref())))
            .cloned()
            .collect();
        if todo.is_empty() {
            let versions = wanted.iter().any(|(_, v)| v.is_some());
            let tail = if versions {
                " and are at the desired version"
            } else {
                ""
            };
            return Ok(StateResult::ok(
                name,
                format!("All specified packages are already installed{tail}"),
            ));
        }
        let names: Vec<String> = todo.iter().map(|(p, _)| p.clone()).collect();
        if c.test {
            let changes = if from_files.is_empty() {
                installable_versions(c, &todo, &BTreeMap::new())?
            } else {
                names
                    .iter()
                    .map(|p| (p.clone(), json!({"new": "installed", "old": ""})))
                    .collect()
            };
            let msg = format!(
                "The following packages would be installed/updated: {}",
                names.join(", ")
            );
            return Ok(pending(name, msg, changes));
        }
        let mut kw = passed(c);
        if from_files.is_empty() {
            let pkgs: Vec<Value> = todo
                .iter()
                .map(|(p, v)| match v {
                    Some(v) => json!({p.clone(): v}),
                    None => json!(p),
                })
                .collect();
            kw.push(("pkgs", json!(pkgs)));
        } else {
            let srcs: Vec<Value> = from_files
                .iter()
                .map(|(n, p)| json!({n.clone(): p}))
                .collect();
            kw.push(("sources", json!(srcs)));
        }
        let out = call(c.host, "pkg.install", vec![], &kw)?;
        let changes = out.as_object().cloned().unwrap_or_default();
        let now = installed_pkgs(c)?;
        let failed: Vec<&String> = todo
            .iter()
            .filter(|(p, v)| !now.get(p).is_some_and(|h| satisfies(h, v.as_deref())))
            .map(|(p, _)| p)
            .collect();
        if !failed.is_empty() {
            let names: Vec<&str> = failed.iter().map(|s| s.as_str()).collect();
            let msg = format!(
                "The following packages failed to install/update: {}",
                names.join(", ")
            );
            return Ok(StateResult {
                changes,
                ..StateResult::fail(name, msg)
            });
        }
        let msg = format!(
            "The following packages were installed/updated: {}",
            names.join(", ")
        );
        Ok(changed(name, msg, changes))
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

/// `{name: text}` from an answer that is a string for one name and a map
/// for several (`pkg.version`, `pkg.latest_version`).
fn per_name(names: &[String], answer: &Value) -> BTreeMap<String, String> {
    match answer {
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        other => names
            .first()
            .map(|n| (n.clone(), text(other)))
            .into_iter()
            .collect(),
    }
}

/// The test-mode comment of `pkg.latest`: what would change, then what is
/// already current (listed up to ten, else counted), as Salt words it.
fn latest_test_comment(targets: &[String], up_to_date: &[(String, String)]) -> String {
    let mut sorted = targets.to_vec();
    sorted.sort();
    let mut lines = vec![format!(
        "The following packages would be installed/upgraded: {}",
        sorted.join(", ")
    )];
    if up_to_date.len() > 10 {
        lines.push(format!(
            "{} packages are already up-to-date",
            up_to_date.len()
        ));
    } else if !up_to_date.is_empty() {
        let mut current: Vec<String> = up_to_date
            .iter()
            .map(|(p, v)| format!("{p} ({v})"))
            .collect();
        current.sort();
        lines.push(format!(
            "The following packages are already up-to-date: {}",
            current.join(", ")
        ));
    }
    lines.join("\n")
}

/// Salt's comment when `pkg.latest` finds nothing to upgrade.
fn all_up_to_date(names: &[String]) -> String {
    match names {
        [one] => format!("Package {one} is already up-to-date"),
        _ if names.len() > 10 => format!("All {} packages are up-to-date.", names.len()),
        _ => {
            let mut sorted = names.to_vec();
            sorted.sort();
            format!("All packages are up-to-date ({}).", sorted.join(", "))
        }
    }
}

fn latest(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    if no_packages_listed(c) {
        return StateResult::ok(name, "No packages to install provided");
    }
    let run = || -> Result<StateResult, String> {
        let from_list = c.chunk.arg("pkgs").is_some_and(|v| !v.is_null());
        let names: Vec<String> = targets(c).into_iter().map(|(p, _)| p).collect();
        let args: Vec<Value> = names.iter().map(|n| json!(n)).collect();
        let mut kw = vec![
            ("refresh", arg(c.chunk, "refresh")),
            ("fromrepo", arg(c.chunk, "fromrepo")),
        ];
        kw.retain(|(_, v)| !v.is_null());
        let avail = per_name(
            &names,
            &call(c.host, "pkg.latest_version", args.clone(), &kw)?,
        );
        let cur = per_name(&names, &call(c.host, "pkg.version", args, &[])?);
        let has = |m: &BTreeMap<String, String>, n: &str| m.get(n).is_some_and(|v| !v.is_empty());
        let problems: Vec<String> = names
            .iter()
            .filter(|n| !has(&avail, n) && !has(&cur, n))
            .map(|n| format!("No information found for '{n}'."))
            .collect();
        if !problems.is_empty() {
            return Ok(StateResult::fail(name, problems.join(" ")));
        }
        let todo: Vec<String> = names.iter().filter(|n| has(&avail, n)).cloned().collect();
        if todo.is_empty() {
            return Ok(StateResult::ok(name, all_up_to_date(&names)));
        }
        if c.test {
            let up_to_date: Vec<(String, String)> = names
                .iter()
                .filter(|n| from_list && !todo.contains(n))
                .map(|n| (n.clone(), cur.get(n).cloned().unwrap_or_default()))
                .collect();
            let versioned: Vec<(String, Option<String>)> = todo
                .iter()
                .map(|n| (n.clone(), avail.get(n).cloned()))
                .collect();
            let changes = installable_versions(c, &versioned, &cur)?;
            return Ok(pending(
                name,
                latest_test_comment(&todo, &up_to_date),
                changes,
            ));
        }
        let mut kw = passed(c);
        kw.push(("pkgs", json!(todo)));
        let out = call(c.host, "pkg.install", vec![], &kw)?;
        let changes = out.as_object().cloned().unwrap_or_default();
        let msg = format!(
            "The following packages were successfully installed/upgraded: {}",
            todo.join(", ")
        );
        Ok(changed(name, msg, changes))
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

/// Packages removed but whose config files remain (dpkg's `rc` state).
fn config_only_pkgs(c: &StateCall<'_>) -> Result<BTreeMap<String, String>, String> {
    let v = call(c.host, "pkg.list_pkgs", vec![], &[("removed", json!(true))])?;
    Ok(v.as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
        .unwrap_or_default())
}

/// `pkg.removed` / `pkg.purged`, worded as Salt's `_uninstall`: a purge
/// also targets packages that only left their config files behind.
fn remove(c: &StateCall<'_>, purge: bool) -> StateResult {
    let name = name_of(c);
    let (action, fun) = if purge {
        ("purge", "pkg.purge")
    } else {
        ("remove", "pkg.remove")
    };
    let run = || -> Result<StateResult, String> {
        let have = installed_pkgs(c)?;
        let wanted = targets(c);
        let mut present: Vec<String> = wanted
            .iter()
            .filter(|(p, v)| have.get(p).is_some_and(|h| satisfies(h, v.as_deref())))
            .map(|(p, _)| p.clone())
            .collect();
        if present.is_empty() && !purge {
            let versions = wanted.iter().any(|(_, v)| v.is_some());
            let which = if versions {
                " (matching specified versions)"
            } else {
                ""
            };
            return Ok(StateResult::ok(
                name,
                format!("All specified packages{which} are already absent"),
            ));
        }
        if purge {
            let leftovers = config_only_pkgs(c)?;
            let extra: Vec<String> = wanted
                .iter()
                .filter(|(p, _)| leftovers.contains_key(p) && !present.contains(p))
                .map(|(p, _)| p.clone())
                .collect();
            present.extend(extra);
        }
        present.sort();
        if present.is_empty() {
            return Ok(StateResult::ok(
                name,
                "None of the targeted packages are installed or partially installed",
            ));
        }
        if c.test {
            let changes = present
                .iter()
                .map(|p| (p.clone(), json!({"new": format!("{action}d"), "old": ""})))
                .collect();
            let msg = format!(
                "The following packages will be {action}d: {}.",
                present.join(", ")
            );
            return Ok(pending(name, msg, changes));
        }
        let out = call(c.host, fun, vec![], &[("pkgs", json!(present))])?;
        let changes = out.as_object().cloned().unwrap_or_default();
        let now = installed_pkgs(c)?;
        let left_config = if purge {
            config_only_pkgs(c)?
        } else {
            BTreeMap::new()
        };
        let mut failed: Vec<&str> = wanted
            .iter()
            .filter(|(p, _)| now.contains_key(p) || left_config.contains_key(p))
            .map(|(p, _)| p.as_str())
            .collect();
        failed.sort();
        if !failed.is_empty() {
            let msg = format!(
                "The following packages failed to {action}: {}.",
                failed.join(", ")
            );
            return Ok(StateResult {
                changes,
                ..StateResult::fail(name, msg)
            });
        }
        let mut not_installed: Vec<&str> = wanted
            .iter()
            .map(|(p, _)| p.as_str())
            .filter(|p| !present.iter().any(|t| t == p))
            .collect();
        not_installed.sort();
        let comment = if not_installed.is_empty() {
            format!("All targeted packages were {action}d.")
        } else {
            format!(
                "The following packages were not installed: {} The following packages were \
                 {action}d: {}.",
                not_installed.join(", "),
                present.join(", ")
            )
        };
        Ok(changed(name, comment, changes))
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

fn removed(c: &StateCall<'_>) -> StateResult {
    remove(c, false)
}

fn purged(c: &StateCall<'_>) -> StateResult {
    remove(c, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A host with `vim` installed; `pkg.install` installs `nginx`.
    fn host() -> MockHost {
        let done = Arc::new(AtomicBool::new(false));
        MockHost::new(move |f, a, kw| match f {
            // dpkg state `rc`: removed, config files left.
            "pkg.list_pkgs" if kw.contains_key("removed") => Ok(json!({"oldconf": "1.0"})),
            "pkg.list_pkgs" if done.load(Ordering::SeqCst) => {
                Ok(json!({"vim": "2:9.0", "nginx": "1.22.1-9"}))
            }
            "pkg.list_pkgs" => Ok(json!({"vim": "2:9.0"})),
            "pkg.install" => {
                done.store(true, Ordering::SeqCst);
                Ok(json!({"nginx": {"old": "", "new": "1.22.1-9"}}))
            }
            "pkg.remove" => Ok(json!({"vim": {"old": "2:9.0", "new": ""}})),
            // apt-cache policy: nginx and vim have candidates, `nosuch` none.
            "pkg.latest_version" => {
                let candidate = |n: &Value| match n.as_str() {
                    Some("nginx") => json!("1.22.1-9"),
                    Some("vim") => json!("2:9.1"),
                    _ => json!(""),
                };
                match a {
                    [one] => Ok(candidate(one)),
                    many => Ok(Value::Object(
                        many.iter().map(|n| (text(n), candidate(n))).collect(),
                    )),
                }
            }
            "pkg.version" => Ok(match a {
                [one] if one == "vim" => json!("2:9.0"),
                [_] => json!(""),
                many => Value::Object(
                    many.iter()
                        .map(|n| (text(n), json!(if n == "vim" { "2:9.0" } else { "" })))
                        .collect(),
                ),
            }),
            // apt-cache show vim=2:9.1: one matching version; nginx's spec none.
            "pkg.list_repo_pkgs" => Ok(if a.contains(&json!("vim=2:9.1")) {
                json!({"vim": ["2:9.1"]})
            } else {
                json!({})
            }),
            _ => Err(format!("unexpected {f}")),
        })
    }

    #[test]
    fn installed_leaves_installed_packages_alone() {
        let h = host();
        let r = run(
            installed,
            &h,
            &chunk("pkg", "installed", "vim", json!({})),
            false,
        );
        // A single name is packed into `pkgs` first, so the comment is the list's.
        assert_eq!(r.comment, "All specified packages are already installed");
        assert!(!h.called("pkg.install"));
        let none = chunk("pkg", "installed", "x", json!({"pkgs": []}));
        assert_eq!(
            run(installed, &h, &none, false).comment,
            "No packages to install provided"
        );
    }

    #[test]
    fn installed_installs_and_reports_changes() {
        let h = host();
        let ch = chunk("pkg", "installed", "web", json!({"pkgs": ["vim", "nginx"]}));
        let t = run(installed, &h, &ch, true);
        assert_eq!(t.result, None);
        assert_eq!(
            t.comment,
            "The following packages would be installed/updated: nginx"
        );
        assert_eq!(
            Value::Object(t.changes),
            json!({"nginx": {"new": "1.22.1-9", "old": ""}})
        );
        let r = run(installed, &h, &ch, false);
        assert_eq!(r.result, Some(true));
        assert_eq!(r.changes["nginx"]["new"], json!("1.22.1-9"));
        assert_eq!(
            h.calls_to("pkg.install")[0].kwargs["pkgs"],
            json!(["nginx"])
        );
    }

    #[test]
    fn a_version_mismatch_is_an_update() {
        let h = host();
        let ch = chunk("pkg", "installed", "vim", json!({"version": "2:9.1"}));
        let t = run(installed, &h, &ch, true);
        assert_eq!(t.result, None);
        // Salt predicts "old": "" even for an upgrade.
        assert_eq!(
            Value::Object(t.changes),
            json!({"vim": {"new": "2:9.1", "old": ""}})
        );
        let ok = chunk("pkg", "installed", "vim", json!({"version": "2:9.0"}));
        assert_eq!(
            run(installed, &h, &ok, true).comment,
            "All specified packages are already installed and are at the desired version"
        );
    }

    #[test]
    fn version_latest_is_the_candidate() {
        let h = host();
        // nginx is not installed: the candidate, looked up in the repository.
        let ch = chunk("pkg", "installed", "nginx", json!({"version": "latest"}));
        let t = run(installed, &h, &ch, true);
        assert_eq!(t.result, None);
        assert_eq!(
            h.calls_to("pkg.list_repo_pkgs")[0].args,
            [json!("nginx=1.22.1-9")]
        );
        // vim 2:9.0 is installed, 2:9.1 is the candidate: an upgrade.
        let up = chunk("pkg", "installed", "vim", json!({"version": "latest"}));
        let t = run(installed, &h, &up, true);
        assert_eq!(
            Value::Object(t.changes),
            json!({"vim": {"new": "2:9.1", "old": ""}})
        );
    }

    #[test]
    fn test_mode_predicts_installed_without_a_candidate() {
        let h = host();
        let ch = chunk(
            "pkg",
            "installed",
            "x",
            json!({"pkgs": ["nosuch", "nginx"]}),
        );
        let t = run(installed, &h, &ch, true);
        assert_eq!(
            Value::Object(t.changes),
            json!({
                "nosuch": {"new": "installed", "old": ""},
                "nginx": {"new": "1.22.1-9", "old": ""},
            })
        );
        assert_eq!(
            t.comment,
            "The following packages would be installed/updated: nosuch, nginx"
        );
    }

    #[test]
    fn latest_in_test_mode_predicts_upgrades() {
        let h = host();
        let ch = chunk("pkg", "latest", "x", json!({"pkgs": ["vim", "nginx"]}));
        let t = run(latest, &h, &ch, true);
        assert_eq!(t.result, None);
        assert_eq!(
            t.comment,
            "The following packages would be installed/upgraded: nginx, vim"
        );
        // `new` comes from `apt-cache show name=candidate`, `old` from pkg.version.
        assert_eq!(
            Value::Object(t.changes),
            json!({
                "vim": {"new": "2:9.1", "old": "2:9.0"},
                "nginx": {"new": "installed", "old": ""},
            })
        );
        let gone = chunk("pkg", "latest", "nosuch", json!({}));
        let r = run(latest, &h, &gone, true);
        assert_eq!(r.result, Some(false));
        assert_eq!(r.comment, "No information found for 'nosuch'.");
        let none = chunk("pkg", "latest", "x", json!({"pkgs": []}));
        assert_eq!(
            run(latest, &h, &none, true).comment,
            "No packages to install provided"
        );
    }

    #[test]
    fn removed_removes_only_what_is_there() {
        let h = host();
        let gone = chunk("pkg", "removed", "nano", json!({}));
        assert_eq!(
            run(removed, &h, &gone, false).comment,
            "All specified packages are already absent"
        );
        let t = run(
            removed,
            &h,
            &chunk("pkg", "removed", "vim", json!({})),
            true,
        );
        assert_eq!(t.comment, "The following packages will be removed: vim.");
        assert_eq!(
            Value::Object(t.changes),
            json!({"vim": {"new": "removed", "old": ""}})
        );
        assert!(!h.called("pkg.remove"));
        let leftover = chunk("pkg", "purged", "oldconf", json!({}));
        let t = run(purged, &h, &leftover, true);
        assert_eq!(t.comment, "The following packages will be purged: oldconf.");
        let purge_gone = chunk("pkg", "purged", "nano", json!({}));
        assert_eq!(
            run(purged, &h, &purge_gone, false).comment,
            "None of the targeted packages are installed or partially installed"
        );
    }
}
