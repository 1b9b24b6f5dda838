//! Salt's `pkg` states: `installed`, `latest`, `removed`, `purged`.
//!
//! Decisions come from `pkg.list_pkgs` (and `pkg.latest_version`); the work
//! is `pkg.install`, `pkg.remove` and `pkg.purge`, which return Salt's
//! `{name: {old, new}}` changes.

use std::collections::BTreeMap;

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
        let local = match src.strip_prefix("salt://") {
            Some(path) => c.host.cache_file(&c.chunk.env, path)?.display().to_string(),
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

fn installed(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let run = || -> Result<StateResult, String> {
        let have = installed_pkgs(c)?;
        let from_files = sources(c)?;
        let wanted: Vec<(String, Option<String>)> = if from_files.is_empty() {
            targets(c)
        } else {
            from_files.iter().map(|(n, _)| (n.clone(), None)).collect()
        };
        let todo: Vec<&(String, Option<String>)> = wanted
            .iter()
            .filter(|(p, v)| !have.get(p).is_some_and(|h| satisfies(h, v.as_deref())))
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
            let msg = format!(
                "The following packages would be installed/updated: {}",
                names.join(", ")
            );
            return Ok(pending(name, msg, Map::new()));
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

fn latest(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let run = || -> Result<StateResult, String> {
        let names: Vec<String> = targets(c).into_iter().map(|(p, _)| p).collect();
        let args: Vec<Value> = names.iter().map(|n| json!(n)).collect();
        let mut kw = vec![
            ("refresh", arg(c.chunk, "refresh")),
            ("fromrepo", arg(c.chunk, "fromrepo")),
        ];
        kw.retain(|(_, v)| !v.is_null());
        let latest = call(c.host, "pkg.latest_version", args, &kw)?;
        let have = installed_pkgs(c)?;
        let available = |n: &str| match &latest {
            Value::Object(m) => m.get(n).map(text).unwrap_or_default(),
            other => text(other),
        };
        let todo: Vec<&String> = names
            .iter()
            .filter(|n| !available(n).is_empty() || !have.contains_key(n.as_str()))
            .collect();
        if todo.is_empty() {
            return Ok(StateResult::ok(
                name,
                match names.as_slice() {
                    [one] => format!("Package {one} is already up-to-date"),
                    _ => format!("All packages are up-to-date ({}).", names.join(", ")),
                },
            ));
        }
        let list: Vec<&str> = todo.iter().map(|s| s.as_str()).collect();
        if c.test {
            let msg = format!(
                "The following packages would be installed/upgraded: {}",
                list.join(", ")
            );
            return Ok(pending(name, msg, Map::new()));
        }
        let mut kw = passed(c);
        kw.push(("pkgs", json!(list)));
        let out = call(c.host, "pkg.install", vec![], &kw)?;
        let changes = out.as_object().cloned().unwrap_or_default();
        let msg = format!(
            "The following packages were successfully installed/upgraded: {}",
            list.join(", ")
        );
        Ok(changed(name, msg, changes))
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

fn remove(c: &StateCall<'_>, purge: bool) -> StateResult {
    let name = name_of(c);
    let (verb, done, fun) = if purge {
        ("purged", "purged", "pkg.purge")
    } else {
        ("removed", "removed", "pkg.remove")
    };
    let run = || -> Result<StateResult, String> {
        let have = installed_pkgs(c)?;
        let present: Vec<String> = targets(c)
            .into_iter()
            .filter(|(p, v)| have.get(p).is_some_and(|h| satisfies(h, v.as_deref())))
            .map(|(p, _)| p)
            .collect();
        if present.is_empty() {
            return Ok(StateResult::ok(
                name,
                "All specified packages are already absent",
            ));
        }
        if c.test {
            let msg = format!(
                "The following packages will be {verb}: {}",
                present.join(", ")
            );
            return Ok(pending(name, msg, Map::new()));
        }
        let out = call(c.host, fun, vec![], &[("pkgs", json!(present))])?;
        let changes = out.as_object().cloned().unwrap_or_default();
        let now = installed_pkgs(c)?;
        let left: Vec<&String> = present
            .iter()
            .filter(|p| now.contains_key(p.as_str()))
            .collect();
        if !left.is_empty() {
            let names: Vec<&str> = left.iter().map(|s| s.as_str()).collect();
            let msg = format!(
                "The following packages were not {done}: {}.",
                names.join(", ")
            );
            return Ok(StateResult {
                changes,
                ..StateResult::fail(name, msg)
            });
        }
        Ok(changed(
            name,
            format!("All targeted packages were {done}."),
            changes,
        ))
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
        MockHost::new(move |f, _, _| match f {
            "pkg.list_pkgs" if done.load(Ordering::SeqCst) => {
                Ok(json!({"vim": "2:9.0", "nginx": "1.22.1-9"}))
            }
            "pkg.list_pkgs" => Ok(json!({"vim": "2:9.0"})),
            "pkg.install" => {
                done.store(true, Ordering::SeqCst);
                Ok(json!({"nginx": {"old": "", "new": "1.22.1-9"}}))
            }
            "pkg.remove" => Ok(json!({"vim": {"old": "2:9.0", "new": ""}})),
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
        assert_eq!(r.comment, "All specified packages are already installed");
        assert!(!h.called("pkg.install"));
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
        assert_eq!(run(installed, &h, &ch, true).result, None);
        let ok = chunk("pkg", "installed", "vim", json!({"version": "2:9.0"}));
        assert_eq!(
            run(installed, &h, &ok, true).comment,
            "All specified packages are already installed and are at the desired version"
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
        assert_eq!(t.comment, "The following packages will be removed: vim");
        assert!(!h.called("pkg.remove"));
    }
}
