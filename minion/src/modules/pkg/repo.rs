//! Salt's APT repository functions (`aptpkg`): `pkg.list_repos`,
//! `pkg.get_repo`, `pkg.mod_repo` and `pkg.del_repo`, over
//! `/etc/apt/sources.list`, `sources.list.d/*.list` and deb822
//! `sources.list.d/*.sources`, as Salt 3008.5 reads them.
//!
//! The text handling is shared with the `pkgrepo` states
//! (`brine_states::modules::pkgrepo::debsources`). Files are read in
//! directory order, as Salt's `os.listdir` does. Deliberately different:
//! a change rewrites only the files it touches (Salt's `SourcesList.save`
//! rewrites, and so reformats, every sources file).

use std::path::{Path, PathBuf};

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use brine_common::output::python::truthy;
use brine_common::salt_url;
use brine_states::modules::pkgrepo::debsources::{
    self, LineEntry, SOURCES_LIST, SOURCES_PARTSDIR, Section, Source, split_repo,
};
use serde_json::{Map, Value, json};

use super::super::MinionCtx;
use super::super::host::{HostCmd, which};

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "pkg.list_repos",
        "**kwargs",
        LIST_REPOS_DOC,
        |_, _| async move { Ok(Value::Object(list_repos(&Sources::load(Path::new("/")))).into()) },
    );
    f.register(
        "pkg.get_repo",
        "repo, **kwargs",
        GET_REPO_DOC,
        |ctx, call| async move {
            let repo = repo_arg(&call)?;
            Ok(Value::Object(get_repo(
                &Sources::load(Path::new("/")),
                &repo,
                &distro(&ctx),
            )?)
            .into())
        },
    );
    f.register(
        "pkg.del_repo",
        "repo, **kwargs",
        DEL_REPO_DOC,
        |_, call| async move {
            let repo = repo_arg(&call)?;
            let msg = del_repo(Path::new("/"), &repo)?;
            super::apt::refresh_db(0, false).await?;
            Ok(json!(msg).into())
        },
    );
    f.register(
        "pkg.mod_repo",
        "repo, saltenv='base', aptkey=True, **kwargs",
        MOD_REPO_DOC,
        |ctx, call| async move { mod_repo(&ctx, &call).await },
    );
}

const LIST_REPOS_DOC: &str = "Lists all repos in the sources.list (and sources.lists.d) files\n\nCLI Example:\n\n    brine '*' pkg.list_repos\n    brine '*' pkg.list_repos disabled=True";
const GET_REPO_DOC: &str = "Display a repo from the sources.list / sources.list.d\n\nThe repo passed in needs to be a complete repo entry.\n\nCLI Examples:\n\n    brine '*' pkg.get_repo \"myrepo definition\"";
const DEL_REPO_DOC: &str = "Delete a repo from the sources.list / sources.list.d\n\nThe repo passed in needs to be a complete repo entry.\n\nCLI Examples:\n\n    brine '*' pkg.del_repo \"myrepo definition\"";
const MOD_REPO_DOC: &str = "Modify one or more values for a repo. If the repo does not exist, it will\nbe created, so long as the definition is well formed.\n\nCLI Examples:\n\n    brine '*' pkg.mod_repo 'myrepo definition' uri=http://new/uri\n    brine '*' pkg.mod_repo 'myrepo definition' comps=main,universe";

fn repo_arg(call: &Call) -> Result<String, FnError> {
    call.param(0, "repo")
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or_else(|| FnError::Invocation("missing required argument 'repo'".into()))
}

/// The `os` and `oscodename` grains (for PPA definitions).
fn distro(ctx: &MinionCtx) -> (String, String) {
    (grain(ctx, "os"), grain(ctx, "oscodename"))
}

fn grain(ctx: &MinionCtx, key: &str) -> String {
    ctx.grains()
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// Every entry of the sources files under `root` (`/` on a host).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub entries: Vec<Source>,
}

/// `root` joined with an absolute path.
fn under(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

impl Sources {
    /// Salt's `SourcesList()`: sources.list, then sources.list.d's `.list`
    /// and `.sources` files (regular files only).
    pub fn load(root: &Path) -> Sources {
        let mut entries = Vec::new();
        let main = under(root, SOURCES_LIST);
        if main.is_file() {
            entries.extend(read_file(&main));
        }
        if let Ok(dir) = std::fs::read_dir(under(root, SOURCES_PARTSDIR)) {
            for entry in dir.flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if (name.ends_with(".list") || name.ends_with(".sources")) && path.is_file() {
                    entries.extend(read_file(&path));
                }
            }
        }
        Sources { entries }
    }

    /// Write the files of `files` back from the entries (a file left with
    /// no entries becomes empty).
    fn save(&self, files: &[String]) -> Result<(), FnError> {
        for file in files {
            let mut text = String::new();
            for e in self.entries.iter().filter(|e| e.file() == file) {
                if matches!(e, Source::Deb822 { .. }) && !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&e.render());
                text.push('\n');
            }
            std::fs::write(file, text)
                .map_err(|e| FnError::Execution(format!("Unable to write {file}: {e}")))?;
        }
        Ok(())
    }
}

/// A file's entries; an unreadable file gives none (Salt logs and goes on).
fn read_file(path: &Path) -> Vec<Source> {
    match std::fs::read_to_string(path) {
        Ok(text) => debsources::parse_file(&path.display().to_string(), &text),
        Err(e) => {
            tracing::error!("Could not parse source file '{}': {e}", path.display());
            Vec::new()
        }
    }
}

/// `pkg.list_repos`: URI -> the dicts of its entries.
pub fn list_repos(sources: &Sources) -> Map<String, Value> {
    let mut out = Map::new();
    for source in sources.entries.iter().filter(|s| !s.skipped()) {
        for (uri, repo) in source.repo_dicts() {
            let list = out.entry(uri).or_insert_with(|| json!([]));
            if let Value::Array(items) = list {
                items.push(Value::Object(repo));
            }
        }
    }
    out
}

/// Salt's Launchpad line for `ppa:owner/name` on Ubuntu-like systems.
fn ppa_line(repo: &str, os: &str, codename: &str) -> Option<String> {
    let ppa = repo.strip_prefix("ppa:")?;
    if !matches!(os, "Ubuntu" | "Mint" | "neon") {
        return None;
    }
    let (owner, name) = ppa.split_once('/')?;
    Some(format!(
        "deb http://ppa.launchpad.net/{owner}/{name}/ubuntu {codename} main"
    ))
}

/// `pkg.get_repo`: the first configured entry matching the definition, or `{}`.
pub fn get_repo(
    sources: &Sources,
    repo: &str,
    (os, codename): &(String, String),
) -> Result<Map<String, Value>, FnError> {
    let repo = ppa_line(repo, os, codename).unwrap_or_else(|| repo.to_string());
    let repos = list_repos(sources);
    if repos.is_empty() {
        return Ok(Map::new());
    }
    let wanted = split_repo(&repo).map_err(|e| FnError::Invocation(e.to_string()))?;
    let all: Vec<&Map<String, Value>> = repos
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(Value::as_object)
        .collect();
    Ok(debsources::find_repo(all, &wanted)
        .cloned()
        .unwrap_or_default())
}

/// `pkg.del_repo` without the refresh: what was removed, Salt's message.
pub fn del_repo(root: &Path, repo: &str) -> Result<String, FnError> {
    let mut sources = Sources::load(root);
    let wanted = split_repo(repo).map_err(|e| FnError::Invocation(e.to_string()))?;
    let mut touched: Vec<String> = Vec::new();
    let mut kept = Vec::new();
    for mut source in std::mem::take(&mut sources.entries) {
        if source.invalid() || !matches_for_delete(&source, &wanted) {
            kept.push(source);
            continue;
        }
        let file = source.file().to_string();
        if !touched.contains(&file) {
            touched.push(file);
        }
        let s_comps = source.comps();
        let same_comps = sorted(&s_comps) == sorted(&wanted.comps);
        if same_comps {
            let suites: Vec<String> = source
                .suites()
                .into_iter()
                .filter(|s| *s != wanted.dist)
                .collect();
            if suites.is_empty() {
                continue;
            }
            set_suites(&mut source, suites);
        } else if s_comps.iter().any(|c| wanted.comps.contains(c))
            || (s_comps.is_empty() && wanted.comps.is_empty())
        {
            let comps: Vec<String> = s_comps
                .into_iter()
                .filter(|c| !wanted.comps.contains(c))
                .collect();
            if comps.is_empty() {
                continue;
            }
            set_comps(&mut source, comps);
        }
        kept.push(source);
    }
    sources.entries = kept;
    if touched.is_empty() {
        return Err(FnError::Execution(format!(
            "Repo {repo} doesn't exist in the sources.list(s)"
        )));
    }
    sources.save(&touched)?;
    let mut msg = String::new();
    for file in &touched {
        let left = sources
            .entries
            .iter()
            .filter(|s| s.file() == file && !s.invalid())
            .count();
        if left == 0 && file.contains("sources.list.d/") && Path::new(file).is_file() {
            let _ = std::fs::remove_file(file);
            msg.push_str(&format!(
                "File {file} containing repo '{repo}' has been removed."
            ));
        } else {
            msg.push_str(&format!("Repo '{repo}' has been removed from {file}.\n"));
        }
    }
    Ok(msg)
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

/// Salt's `del_repo` match: type, architectures, URI and suite.
fn matches_for_delete(source: &Source, wanted: &LineEntry) -> bool {
    source.types().contains(&wanted.kind)
        && source.architectures() == wanted.architectures
        && source
            .uris()
            .iter()
            .any(|u| u.trim_end_matches('/') == wanted.uri.trim_end_matches('/'))
        && source.suites().contains(&wanted.dist)
}

fn set_suites(source: &mut Source, suites: Vec<String>) {
    match source {
        Source::Line(e) => e.dist = suites.first().cloned().unwrap_or_default(),
        Source::Deb822 { section, .. } => section.set("Suites", suites.join(" ")),
    }
}

fn set_comps(source: &mut Source, comps: Vec<String>) {
    match source {
        Source::Line(e) => e.comps = comps,
        Source::Deb822 { section, .. } => section.set("Components", comps.join(" ")),
    }
}

/// What `mod_repo` is asked to do, from its arguments.
#[derive(Debug, Clone, Default)]
pub struct RepoChange {
    pub repo: String,
    pub file: Option<String>,
    pub comps: Option<Vec<String>>,
    pub architectures: Option<Vec<String>>,
    pub disabled: Option<bool>,
    pub comments: Option<String>,
    pub trusted: Option<bool>,
}

impl RepoChange {
    fn from_call(repo: &str, kw: &Map<String, Value>) -> RepoChange {
        let disabled = match (kw.get("disabled"), kw.get("enabled")) {
            (Some(d), _) if !d.is_null() => Some(truthy(d)),
            (_, Some(e)) if !e.is_null() => Some(!truthy(e)),
            _ => None,
        };
        RepoChange {
            repo: repo.to_string(),
            file: kw.get("file").and_then(Value::as_str).map(String::from),
            comps: kw
                .get("comps")
                .filter(|v| !v.is_null())
                .map(debsources::comma_list),
            architectures: kw
                .get("architectures")
                .filter(|v| !v.is_null())
                .map(debsources::comma_list),
            disabled,
            comments: kw
                .get("comments")
                .filter(|v| !v.is_null())
                .map(|v| match v {
                    Value::Array(items) => items
                        .iter()
                        .map(brine_common::output::python::to_str)
                        .collect::<Vec<_>>()
                        .join(" ")
                        .trim()
                        .to_string(),
                    other => brine_common::output::python::to_str(other)
                        .trim()
                        .to_string(),
                }),
            trusted: kw.get("trusted").filter(|v| !v.is_null()).map(truthy),
        }
    }
}

/// The source-file part of `mod_repo`: find the entry to change (same type,
/// URI and suite, sharing a component or with other architectures) or add
/// one to `file` (`sources.list` by default), then write the touched file.
pub fn apply_repo_change(root: &Path, change: &RepoChange) -> Result<(), FnError> {
    let wanted = split_repo(&change.repo).ok().filter(|e| !e.invalid).ok_or_else(|| {
        FnError::Invocation(format!(
            "Name {} is not valid. This must be the complete repo entry as seen in the sources file",
            change.repo
        ))
    })?;
    let mut sources = Sources::load(root);
    let mut full_comps = wanted.comps.clone();
    if let Some(extra) = &change.comps {
        for c in extra {
            if !full_comps.contains(c) {
                full_comps.push(c.clone());
            }
        }
    }
    let architectures = change
        .architectures
        .clone()
        .unwrap_or_else(|| wanted.architectures.clone());
    let found = sources.entries.iter().position(|s| {
        !s.invalid()
            && s.types().contains(&wanted.kind)
            && s.uris()
                .iter()
                .any(|u| u.trim_end_matches('/') == wanted.uri.trim_end_matches('/'))
            && s.suites().contains(&wanted.dist)
            && (full_comps.iter().any(|c| s.comps().contains(c))
                || s.comps().is_empty()
                || architectures != s.architectures())
    });
    let index = match found {
        Some(i) => i,
        None => {
            let file = change
                .file
                .clone()
                .map(|f| under(root, &f).display().to_string())
                .unwrap_or_else(|| under(root, SOURCES_LIST).display().to_string());
            let source = if file.ends_with(".sources") {
                let mut section = Section::default();
                section.set("Types", wanted.kind.clone());
                section.set("URIs", wanted.uri.clone());
                section.set("Suites", wanted.dist.clone());
                section.set("Components", wanted.comps.join(" "));
                if change.trusted == Some(true)
                    || (change.trusted.is_none() && wanted.trusted == Some(true))
                {
                    section.set("Trusted", "yes".into());
                }
                if !wanted.signedby.is_empty() {
                    section.set("Signed-By", wanted.signedby.clone());
                }
                Source::Deb822 { section, file }
            } else {
                let mut e = wanted.clone();
                e.file = file;
                Source::Line(e)
            };
            sources.entries.push(source);
            sources.entries.len() - 1
        }
    };
    let entry = &mut sources.entries[index];
    apply_settings(entry, &wanted, change, &full_comps, &architectures);
    let file = entry.file().to_string();
    if let Some(dir) = Path::new(&file).parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| FnError::Execution(format!("Unable to create {}: {e}", dir.display())))?;
    }
    sources.save(&[file])
}

/// Salt's `setattr` loop over the allowed keys.
fn apply_settings(
    entry: &mut Source,
    wanted: &LineEntry,
    change: &RepoChange,
    comps: &[String],
    architectures: &[String],
) {
    match entry {
        Source::Line(e) => {
            e.line = wanted.line.clone();
            e.comps = comps.to_vec();
            e.architectures = architectures.to_vec();
            e.signedby = wanted.signedby.clone();
            e.uri = wanted.uri.clone();
            if let Some(d) = change.disabled {
                e.disabled = d;
            }
            if let Some(t) = change.trusted {
                e.trusted = Some(t);
            }
            if let Some(c) = &change.comments {
                e.comment = c.clone();
            }
        }
        Source::Deb822 { section, .. } => {
            section.set("Components", comps.join(" "));
            if !architectures.is_empty() {
                section.set("Architectures", architectures.join(" "));
            }
            if !wanted.signedby.is_empty() {
                section.set("Signed-By", wanted.signedby.clone());
            }
            match change.disabled {
                Some(true) => section.set("Enabled", "no".into()),
                Some(false) => section.remove("Enabled"),
                None => {}
            }
            if let Some(t) = change.trusted {
                section.set("Trusted", if t { "yes" } else { "no" }.into());
            }
            if let Some(c) = &change.comments {
                section.header = c
                    .lines()
                    .map(|l| {
                        if l.starts_with('#') {
                            l.to_string()
                        } else {
                            format!("#{l}")
                        }
                    })
                    .collect();
            }
        }
    }
}

/// `pkg.mod_repo`: keys first (`keyid`+`keyserver`, `key_url`, `key_text`),
/// then the source entry, then `apt-get update` unless `refresh` is off.
async fn mod_repo(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let repo = repo_arg(call)?;
    let kw = &call.kwargs;
    let saltenv = call
        .param(1, "saltenv")
        .and_then(Value::as_str)
        .unwrap_or("base")
        .to_string();
    let aptkey = call.param(2, "aptkey").is_none_or(truthy) && which("apt-key").is_some();
    let refresh = kw
        .get("refresh_db")
        .or_else(|| kw.get("refresh"))
        .is_none_or(truthy);
    if repo.starts_with("ppa:") {
        return mod_ppa(ctx, &repo, refresh).await;
    }
    let wanted = split_repo(&repo).ok().filter(|e| !e.invalid).ok_or_else(|| {
        FnError::Invocation(format!(
            "Name {repo} is not valid. This must be the complete repo entry as seen in the sources file"
        ))
    })?;
    let signedby = wanted.signedby.clone();
    add_keys(ctx, kw, &saltenv, aptkey, &signedby).await?;
    let change = RepoChange::from_call(&repo, kw);
    let exists = get_repo(&Sources::load(Path::new("/")), &repo, &distro(ctx))?;
    if exists.is_empty()
        && !aptkey
        && signedby.is_empty()
        && !kw.get("trusted").is_some_and(truthy)
        && wanted.trusted != Some(true)
    {
        return Err(FnError::Invocation(
            "missing 'signedby' or 'trusted' option when apt-key is missing".into(),
        ));
    }
    apply_repo_change(Path::new("/"), &change)?;
    if refresh {
        super::apt::refresh_db(0, false).await?;
    }
    let now = get_repo(&Sources::load(Path::new("/")), &repo, &distro(ctx))?;
    let mut out = Map::new();
    out.insert(repo, Value::Object(now));
    Ok(Value::Object(out).into())
}

/// A PPA: `apt-add-repository -y` on Ubuntu-like systems, else Salt's error.
async fn mod_ppa(ctx: &MinionCtx, repo: &str, refresh: bool) -> Result<FnOutput, FnError> {
    let os = grain(ctx, "os");
    if !matches!(os.as_str(), "Ubuntu" | "Mint" | "neon") || which("apt-add-repository").is_none() {
        return Err(FnError::Execution(format!(
            "cannot parse \"ppa:\" style repo definitions: {repo}"
        )));
    }
    let out = HostCmd::new("apt-add-repository")
        .args(["-y", repo])
        .output()
        .await?;
    if !out.success() {
        return Err(FnError::Execution(format!(
            "Unable to add PPA '{}'. '['apt-add-repository', '-y', '{repo}']' exited with status {}: '{}'",
            &repo[4..],
            out.code.unwrap_or(-1),
            out.stderr
        )));
    }
    if refresh {
        super::apt::refresh_db(0, false).await?;
    }
    let mut ret = Map::new();
    ret.insert(
        repo.to_string(),
        json!({"pid": Value::Null, "retcode": out.code, "stdout": out.stdout, "stderr": out.stderr}),
    );
    Ok(Value::Object(ret).into())
}

/// The key arguments of `mod_repo`, as Salt handles them.
async fn add_keys(
    ctx: &MinionCtx,
    kw: &Map<String, Value>,
    saltenv: &str,
    aptkey: bool,
    signedby: &str,
) -> Result<(), FnError> {
    let text_of = |k: &str| {
        kw.get(k)
            .filter(|v| !v.is_null())
            .map(brine_common::output::python::to_str)
    };
    if let Some(keyid) = text_of("keyid") {
        let Some(keyserver) = text_of("keyserver").filter(|s| !s.is_empty()) else {
            return Err(FnError::Exception(
                "both keyserver and keyid options required.".into(),
            ));
        };
        return add_key_from_server(&keyid, &keyserver, aptkey, signedby).await;
    }
    if let Some(key_url) = text_of("key_url") {
        let cached = cache_key(ctx, &key_url, saltenv).await?;
        let cached = match Path::new(signedby).file_name() {
            Some(name) if cached.file_name() != Some(name) => {
                let renamed = cached.with_file_name(name);
                std::fs::rename(&cached, &renamed).map_err(|e| {
                    FnError::Execution(format!("Error: file not found: {key_url}: {e}"))
                })?;
                renamed
            }
            _ => cached,
        };
        if aptkey {
            let out = HostCmd::new("apt-key")
                .arg("add")
                .arg(cached.display().to_string())
                .output()
                .await?;
            if !out.stdout.to_uppercase().starts_with("OK") {
                return Err(FnError::Execution(format!(
                    "Error: failed to add key from {key_url}"
                )));
            }
            return Ok(());
        }
        return install_keyring(&cached, signedby).await;
    }
    if let Some(key_text) = text_of("key_text") {
        let out = HostCmd::new("apt-key")
            .args(["add", "-"])
            .stdin(key_text.clone().into_bytes())
            .output()
            .await?;
        if !out.stdout.to_uppercase().starts_with("OK") {
            return Err(FnError::Execution(format!(
                "Error: failed to add key:\n{key_text}"
            )));
        }
    }
    Ok(())
}

async fn add_key_from_server(
    keyid: &str,
    keyserver: &str,
    aptkey: bool,
    signedby: &str,
) -> Result<(), FnError> {
    if aptkey {
        let exported = HostCmd::new("apt-key")
            .args(["export", keyid])
            .output()
            .await?;
        if exported.stdout.starts_with("-----BEGIN PGP") {
            return Ok(());
        }
        let out = HostCmd::new("apt-key")
            .args([
                "adv",
                "--batch",
                "--keyserver",
                keyserver,
                "--logger-fd",
                "1",
                "--recv-keys",
                keyid,
            ])
            .output()
            .await?;
        if !out.success() {
            return Err(FnError::Execution(format!(
                "Error: key retrieval failed: {}",
                out.stdout
            )));
        }
        return Ok(());
    }
    // Salt needs the keyring's path from `signed-by` here (without it, its
    // code fails on the missing path; this is the error it means).
    if signedby.is_empty() {
        return Err(FnError::Invocation(
            "missing 'signedby' or 'trusted' option when apt-key is missing".into(),
        ));
    }
    let keyring = signedby;
    let out = HostCmd::new("gpg")
        .args([
            "--no-default-keyring",
            "--keyring",
            keyring,
            "--keyserver",
            keyserver,
            "--recv-keys",
            keyid,
        ])
        .output()
        .await?;
    if !out.success() {
        return Err(FnError::Execution(format!(
            "Error: Could not add key: {keyid}"
        )));
    }
    Ok(())
}

/// Without apt-key: the key (dearmored when ASCII-armored) copied into the
/// keyring directory of `signed-by` (Salt's `add_repo_key(aptkey=False)`).
async fn install_keyring(cached: &Path, signedby: &str) -> Result<(), FnError> {
    let keydir = Path::new(signedby)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("/etc/apt/keyrings"));
    let could_not =
        || FnError::Execution(format!("Error: Could not add key: {}", cached.display()));
    std::fs::create_dir_all(keydir).map_err(|_| could_not())?;
    let armored = std::fs::read(cached)
        .map(|b| {
            String::from_utf8_lossy(&b)
                .trim_start_matches('-')
                .starts_with("BEGIN PGP")
        })
        .unwrap_or(false);
    let dest = keydir.join(cached.file_name().ok_or_else(could_not)?);
    if armored && !dest.to_string_lossy().ends_with(".asc") {
        let out = HostCmd::new("gpg")
            .args([
                "--yes",
                "--output",
                &dest.display().to_string(),
                "--dearmor",
                &cached.display().to_string(),
            ])
            .output()
            .await?;
        if !out.success() {
            return Err(could_not());
        }
    } else if dest != cached {
        std::fs::copy(cached, &dest).map_err(|_| could_not())?;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o644)).map_err(|_| could_not())
}

/// `cp.cache_file` of a key: a URL into `extrn_files`, a `salt://` file from
/// the file server, a local path as it is.
async fn cache_key(ctx: &MinionCtx, key_url: &str, saltenv: &str) -> Result<PathBuf, FnError> {
    let not_found = || FnError::Execution(format!("Error: file not found: {key_url}"));
    if super::super::cp::remote::is_remote(key_url) {
        let cachedir = ctx.config.cachedir.clone();
        let (url, env) = (key_url.to_string(), saltenv.to_string());
        return tokio::task::spawn_blocking(move || {
            let fetch = super::super::cp::remote::Fetch {
                cachedir: &cachedir,
                saltenv: &env,
                url: &url,
                source_hash: None,
                verify_ssl: true,
            };
            super::super::cp::remote::cache_url(&fetch, super::super::cp::remote::system_lookup)
        })
        .await
        .map_err(|e| FnError::Exception(e.to_string()))?
        .map_err(|e| FnError::Execution(e.to_string()));
    }
    if let Some(file) = salt_url::file_of(key_url, saltenv) {
        let Ok((env, path)) = file else {
            return Err(not_found());
        };
        let client = crate::fileclient::FileClient::new(&ctx.config, ctx.upstream());
        return client
            .cache_file(&env, &path)
            .await
            .map_err(|_| not_found());
    }
    let local = PathBuf::from(key_url.strip_prefix("file://").unwrap_or(key_url));
    if local.is_file() {
        Ok(local)
    } else {
        Err(not_found())
    }
}

#[cfg(test)]
mod tests;
