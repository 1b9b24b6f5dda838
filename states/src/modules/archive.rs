//! Salt's `archive.extracted`: make sure an archive's contents are present
//! under a directory, extracting it only when something is missing.
//!
//! The archive comes from `salt://` (cached through the file client), a
//! `file://` URL or a local path, is checked against `source_hash`, listed
//! with `archive.list` and unpacked with `archive.extract` (or the `tar`
//! command through `archive.tar` when `options` are given). As in Salt, the
//! archive must have a single top-level directory unless
//! `enforce_toplevel: False`, paths of the wrong type block extraction
//! unless `force: True`, `clean: True` removes the archive's top-level paths
//! first, `if_missing` short-cuts the check and `user`/`group` are enforced
//! recursively on what the archive holds.

use serde_json::{Map, Value, json};

use super::file::managed::{check_hash, salt_url};
use super::file::paths;
use super::{call, changed, name_of, pending, str_of, strings, truthy};
use crate::lowstate::{LowChunk, StateCall, StateModules, StateResult};
use brine_common::ids::salt_file;

pub fn register(m: &mut StateModules) {
    m.register("archive.extracted", extracted);
}

/// What `archive.list` reported (Salt's verbose listing).
struct Contents {
    dirs: Vec<String>,
    files: Vec<String>,
    links: Vec<String>,
    top_level_dirs: Vec<String>,
    top_level_files: Vec<String>,
    top_level_links: Vec<String>,
}

impl Contents {
    fn from(listing: &Value) -> Contents {
        let get = |key: &str| listing.get(key).map(strings).unwrap_or_default();
        Contents {
            dirs: get("dirs"),
            files: get("files"),
            links: get("links"),
            top_level_dirs: get("top_level_dirs"),
            top_level_files: get("top_level_files"),
            top_level_links: get("top_level_links"),
        }
    }
}

fn extracted(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    if !name.starts_with('/') {
        return StateResult::fail(name, format!("{name} is not an absolute path"));
    }
    let Some(source) = source_of(c.chunk) else {
        return StateResult::fail(name, "'source' is required");
    };
    if let Some(p) = str_of(c.chunk, "if_missing").filter(|p| !p.starts_with('/')) {
        return StateResult::fail(
            name,
            format!("Value for 'if_missing' ({p}) is not an absolute path"),
        );
    }
    run(c, name, &source).unwrap_or_else(|e| StateResult::fail(name, e))
}

/// `source`: a string, or the first of a list (Salt tries them in order; a
/// list of one is what formulas write).
fn source_of(chunk: &LowChunk) -> Option<String> {
    match chunk.arg("source")? {
        Value::Array(items) => items.iter().find_map(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Object(m) => m.keys().next().cloned(),
            _ => None,
        }),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// The URL scheme of a source Salt does not read in place (anything but a
/// plain path or `file://`): `salt`, `https`, ...
fn remote_scheme(source: &str) -> Option<&str> {
    let (scheme, _) = source.split_once("://")?;
    let valid = !scheme.is_empty()
        && scheme
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '+' | '-' | '.'));
    (valid && !scheme.eq_ignore_ascii_case("file")).then_some(scheme)
}

/// Salt's `redact_http_basic_auth`: `https://user:pw@host` shows as
/// `https://<redacted>@host`.
fn redact_basic_auth(source: &str) -> String {
    let lower = source.to_ascii_lowercase();
    let scheme_len = if lower.starts_with("https://") {
        5
    } else if lower.starts_with("http://") {
        4
    } else {
        return source.to_string();
    };
    match source.rfind('@') {
        Some(at) if at > scheme_len + 3 => {
            format!("{}://<redacted>{}", &source[..scheme_len], &source[at..])
        }
        _ => source.to_string(),
    }
}

/// A real run with an http(s)/ftp source. Brine has no download client, so
/// the archive cannot be fetched; when the host does not even resolve, the
/// result is the one Salt's `file.cached` gives (named after the source).
fn remote_fetch_failure(c: &StateCall<'_>, name: &str, source: &str, scheme: &str) -> StateResult {
    let rest = &source[scheme.len() + 3..];
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => (h, p.to_string()),
        _ => (host_port, default_port(scheme).to_string()),
    };
    let probe = call(
        c.host,
        "network.connect",
        vec![json!(host), json!(port)],
        &[("timeout", json!(5))],
    );
    let unresolved = probe.as_ref().is_ok_and(|v| {
        v.get("comment")
            .and_then(Value::as_str)
            .is_some_and(|m| m.starts_with("Unable to resolve host"))
    });
    if unresolved {
        return StateResult::fail(
            source,
            format!("Error: [Errno -2] Name or service not known reading {path}"),
        );
    }
    StateResult::fail(
        name,
        format!(
            "Unable to cache {}: downloading {scheme}:// sources is not supported; use salt://, \
             file:// or an absolute local path",
            redact_basic_auth(source)
        ),
    )
}

fn default_port(scheme: &str) -> u16 {
    match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "ftp" => 21,
        _ => 443,
    }
}

fn run(c: &StateCall<'_>, name: &str, source: &str) -> Result<StateResult, String> {
    if let Some(scheme) = remote_scheme(source) {
        // Salt caches every non-local source (salt:// included) before it
        // can list the archive, and test mode never caches.
        if c.test {
            let comment = format!(
                "Archive {} would be cached (if necessary) and checked to discover if \
                 extraction is needed",
                redact_basic_auth(source)
            );
            return Ok(pending(name, comment, Map::new()));
        }
        if !scheme.eq_ignore_ascii_case("salt") {
            return Ok(remote_fetch_failure(c, name, source, scheme));
        }
    }
    let cached = local_copy(c, source)?;
    if !c.chunk.bool_arg("skip_verify", false) {
        check_hash(c, source, &cached)?;
    }
    let options = str_of(c.chunk, "options");
    let listing = call(
        c.host,
        "archive.list",
        vec![json!(cached)],
        &[
            ("archive_format", json!(str_of(c.chunk, "archive_format"))),
            (
                "strip_components",
                json!(options.as_deref().and_then(strip_components)),
            ),
            ("verbose", json!(true)),
        ],
    )?;
    let contents = Contents::from(&listing);
    let format = str_of(c.chunk, "archive_format").unwrap_or_else(|| "tar".into());
    if c.chunk.bool_arg("enforce_toplevel", true)
        && (contents.top_level_dirs.len() > 1 || !contents.top_level_files.is_empty())
    {
        return Err(format!(
            "Archive does not have a single top-level directory. To allow this archive to be \
             extracted, set 'enforce_toplevel' to False. To avoid a '{format}-bomb' it may also be \
             advisable to set a top-level directory by adding it to the 'name' value (for example, \
             setting 'name' to {} instead of {name}).",
            join(name, "some_dir")
        ));
    }

    let clean = c.chunk.bool_arg("clean", false);
    let mut changes = Map::new();
    let if_missing = str_of(c.chunk, "if_missing");
    let if_missing_exists = match &if_missing {
        Some(p) => exists(c, p)?,
        None => false,
    };
    let mut needed = c.chunk.bool_arg("overwrite", false);
    let mut contents_missing = false;
    if !if_missing_exists {
        let (missing, wrong) = compare(c, name, &contents);
        contents_missing = missing;
        needed |= missing;
        if !wrong.is_empty() {
            let list: String = wrong.iter().map(|p| format!("\n- {p}")).collect();
            let mut comment = format!(
                "The below paths (relative to {name}) exist, but are the incorrect type (file \
                 instead of directory, symlink instead of file, etc.)."
            );
            if c.test && clean {
                comment.push_str(&format!(
                    " Since the 'clean' option is enabled, the destination paths would be cleared \
                     and the archive would be extracted.\n{list}"
                ));
                return Ok(pending(name, comment, Map::new()));
            }
            if !clean {
                if !c.chunk.bool_arg("force", false) {
                    comment.push_str(&format!(
                        " To proceed with extraction, set 'force' to True. Note that this will \
                         remove these paths before extracting.\n{list}"
                    ));
                    return Err(comment);
                }
                for path in &wrong {
                    let full = join(name, path);
                    call(c.host, "file.remove", vec![json!(full)], &[])?;
                    push(&mut changes, "removed", json!(full));
                }
                needed = true;
            }
        }
    }

    let shown = source.to_string();
    if !needed {
        let comment = match &if_missing {
            Some(p) if if_missing_exists => format!("{p} exists"),
            _ => "All files in archive are already present".to_string(),
        };
        return ownership(c, name, &contents, StateResult::ok(name, comment));
    }
    if c.test {
        let mut comment = format!("Archive {shown} would be extracted to {name}");
        if clean {
            comment.push_str(", after cleaning destination path(s)");
        }
        explain(&mut comment, contents_missing);
        return Ok(pending(name, comment, changes));
    }
    if clean {
        for path in contents
            .top_level_dirs
            .iter()
            .chain(&contents.top_level_files)
        {
            let full = join(name, path.trim_end_matches('/'));
            if exists(c, &full)? {
                call(c.host, "file.remove", vec![json!(full)], &[])?;
                push(&mut changes, "removed", json!(full));
            }
        }
    }
    let created_destdir = !truthy(&call(
        c.host,
        "file.directory_exists",
        vec![json!(name)],
        &[],
    )?);
    let files = unpack(c, name, &cached, options.as_deref())?;
    if files.is_empty() {
        return Err(format!("No files were extracted from {shown}"));
    }
    if created_destdir {
        changes.insert("directories_created".into(), json!([name]));
    }
    changes.insert("extracted_files".into(), json!(trimmed(c.chunk, files)));
    let mut comment = format!("{shown} extracted to {name}");
    explain(&mut comment, contents_missing);
    ownership(c, name, &contents, changed(name, comment, changes))
}

/// The archive as a local file: `salt://` is cached from the master,
/// `file://` and absolute paths are used where they are.
fn local_copy(c: &StateCall<'_>, source: &str) -> Result<String, String> {
    if let Some((env, path)) = salt_url(c, source) {
        return salt_file(env, path)
            .map_err(|e| e.to_string())
            .and_then(|(env, path)| c.host.cache_file(&env, &path))
            .map(|p| p.display().to_string())
            .map_err(|e| format!("Unable to cache {source}: {e}"));
    }
    let local = source.strip_prefix("file://").unwrap_or(source);
    if !local.starts_with('/') {
        return Err(format!(
            "Source {source} is not supported: use salt://, file:// or an absolute local path"
        ));
    }
    if !truthy(&call(c.host, "file.file_exists", vec![json!(local)], &[])?) {
        return Err(format!("Source file '{local}' does not exist"));
    }
    Ok(local.to_string())
}

/// `--strip-components=N` (or `--strip=N`) in tar `options`, so the listing
/// matches what tar will write.
fn strip_components(options: &str) -> Option<u64> {
    options.split_whitespace().find_map(|word| {
        let (key, n) = word.split_once('=')?;
        matches!(key, "--strip-components" | "--strip").then(|| n.parse().ok())?
    })
}

/// Whether each listed path is present with the right type: (something is
/// missing, paths of the wrong type).
fn compare(c: &StateCall<'_>, name: &str, contents: &Contents) -> (bool, Vec<String>) {
    let mut missing = false;
    let mut wrong = Vec::new();
    let groups = [
        (&contents.dirs, "dir"),
        (&contents.files, "file"),
        (&contents.links, "link"),
    ];
    for (paths, want) in groups {
        for path in paths {
            let full = join(name, path.trim_end_matches('/'));
            match lstat_type(c, &full) {
                None => missing = true,
                Some(t) if t == want || (want == "file" && t != "dir" && t != "link") => {}
                Some(_) => wrong.push(path.clone()),
            }
        }
    }
    (missing, wrong)
}

/// The type `file.stats` reports without following symlinks; `None` when
/// the path does not exist.
fn lstat_type(c: &StateCall<'_>, path: &str) -> Option<String> {
    let st = call(
        c.host,
        "file.stats",
        vec![json!(path)],
        &[("follow_symlinks", json!(false))],
    )
    .ok()?;
    st.get("type").and_then(Value::as_str).map(String::from)
}

fn exists(c: &StateCall<'_>, path: &str) -> Result<bool, String> {
    Ok(
        truthy(&call(c.host, "file.exists", vec![json!(path)], &[])?)
            || lstat_type(c, path).is_some(),
    )
}

fn unpack(
    c: &StateCall<'_>,
    name: &str,
    cached: &str,
    options: Option<&str>,
) -> Result<Vec<String>, String> {
    let is_zip = str_of(c.chunk, "archive_format").is_some_and(|f| f.eq_ignore_ascii_case("zip"));
    let out = match options {
        Some(opts) if !is_zip => {
            call(
                c.host,
                "file.makedirs",
                vec![json!(format!("{name}/"))],
                &[],
            )?;
            // tar's verbose listing names what it wrote; `-f` must come last
            // so the archive path follows it.
            let options = format!("-x -v {opts} -f");
            call(
                c.host,
                "archive.tar",
                vec![json!(options), json!(cached)],
                &[("dest", json!(name))],
            )?
        }
        _ => call(
            c.host,
            "archive.extract",
            vec![json!(cached), json!(name)],
            &[("archive_format", json!(str_of(c.chunk, "archive_format")))],
        )?,
    };
    Ok(strings(&out))
}

/// `trim_output`: `True` keeps 100 names, a number that many.
fn trimmed(chunk: &LowChunk, mut files: Vec<String>) -> Vec<String> {
    let keep = match chunk.arg("trim_output") {
        Some(Value::Bool(true)) => Some(100),
        Some(Value::Number(n)) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
        _ => None,
    };
    if let Some(n) = keep {
        files.truncate(n);
    }
    files
}

/// `user`/`group`: enforced recursively on the archive's top-level
/// directories (as a `file.directory` with `recurse` would) and on its
/// top-level files and links.
fn ownership(
    c: &StateCall<'_>,
    name: &str,
    contents: &Contents,
    mut ret: StateResult,
) -> Result<StateResult, String> {
    let user = str_of(c.chunk, "user");
    let group = str_of(c.chunk, "group");
    if user.is_none() && group.is_none() {
        return Ok(ret);
    }
    let mut updated = false;
    let mut failed = Vec::new();
    for dir in &contents.top_level_dirs {
        let full = join(name, dir.trim_end_matches('/'));
        let r = paths::directory(&StateCall {
            host: c.host,
            chunk: &ownership_chunk(c.chunk, &full, &user, &group),
            test: c.test,
            required: &[],
        });
        updated |= !r.changes.is_empty();
        if r.result == Some(false) {
            failed.push(full);
        }
    }
    for file in contents
        .top_level_files
        .iter()
        .chain(&contents.top_level_links)
    {
        let full = join(name, file);
        let Some(st) = super::file::perms::stats(c.host, &full) else {
            failed.push(full);
            continue;
        };
        let is = |key: &str, id: &str| st.get(key).map(super::text) == Some(id.to_string());
        let user_ok = user.as_ref().is_none_or(|u| is("user", u) || is("uid", u));
        let group_ok = group
            .as_ref()
            .is_none_or(|g| is("group", g) || is("gid", g));
        if user_ok && group_ok {
            continue;
        }
        updated = true;
        if !c.test {
            let args = vec![json!(full), json!(user), json!(group)];
            if call(c.host, "file.chown", args, &[]).is_err() {
                failed.push(full);
            }
        }
    }
    if updated {
        ret.changes.insert("updated ownership".into(), json!(true));
        if c.test && ret.result == Some(true) {
            ret.result = None;
            ret.comment
                .push_str(". Ownership would be updated on one or more files/directories.");
        }
    }
    if !failed.is_empty() {
        ret.result = Some(false);
        ret.comment.push_str(
            "\n\nWhile trying to enforce user/group ownership, Salt was unable to change \
             ownership on the following paths:\n",
        );
        for p in failed {
            ret.comment.push_str(&format!("\n- {p}"));
        }
    }
    Ok(ret)
}

/// The `file.directory` call Salt makes to enforce ownership below `path`.
fn ownership_chunk(
    chunk: &LowChunk,
    path: &str,
    user: &Option<String>,
    group: &Option<String>,
) -> LowChunk {
    let mut args = Map::new();
    let mut recurse = Vec::new();
    if let Some(u) = user {
        args.insert("user".into(), json!(u));
        recurse.push("user");
    }
    if let Some(g) = group {
        args.insert("group".into(), json!(g));
        recurse.push("group");
    }
    args.insert("recurse".into(), json!(recurse));
    LowChunk {
        state: "file".into(),
        fun: "directory".into(),
        name: path.to_string(),
        args,
        ..chunk.clone()
    }
}

/// Salt's `_add_explanation`.
fn explain(comment: &mut String, contents_missing: bool) {
    if contents_missing {
        comment.push_str(", due to absence of one or more files/dirs");
    }
}

fn join(dir: &str, rel: &str) -> String {
    format!("{}/{}", dir.trim_end_matches('/'), rel)
}

fn push(changes: &mut Map<String, Value>, key: &str, value: Value) {
    if let Value::Array(items) = changes.entry(key).or_insert_with(|| json!([])) {
        items.push(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run};

    fn listing() -> Value {
        json!({"dirs": ["app/"], "files": ["app/run"], "links": [],
               "top_level_dirs": ["app/"], "top_level_files": [], "top_level_links": []})
    }

    #[test]
    fn extracts_when_files_are_missing_and_not_when_present() {
        let present = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = present.clone();
        let h = MockHost::new(move |f, args, _| match f {
            "file.file_exists" => Ok(json!(true)),
            "archive.list" => Ok(listing()),
            "file.stats" if seen.load(std::sync::atomic::Ordering::SeqCst) => {
                let t = if args[0] == json!("/opt/x/app") {
                    "dir"
                } else {
                    "file"
                };
                Ok(json!({"type": t}))
            }
            "file.stats" => Err("Path not found".into()),
            "file.exists" => Ok(json!(false)),
            "file.directory_exists" => Ok(json!(true)),
            "archive.extract" => Ok(json!(["app", "app/run"])),
            _ => Err(format!("unexpected {f}")),
        });
        let ch = chunk(
            "archive",
            "extracted",
            "/opt/x",
            json!({"source": "/tmp/a.tgz"}),
        );
        let test = run(extracted, &h, &ch, true);
        assert_eq!(test.result, None);
        assert_eq!(
            test.comment,
            "Archive /tmp/a.tgz would be extracted to /opt/x, due to absence of one or more files/dirs"
        );
        let r = run(extracted, &h, &ch, false);
        assert_eq!(r.result, Some(true), "{}", r.comment);
        assert_eq!(r.changes["extracted_files"], json!(["app", "app/run"]));
        present.store(true, std::sync::atomic::Ordering::SeqCst);
        let again = run(extracted, &h, &ch, false);
        assert_eq!(again.comment, "All files in archive are already present");
        assert!(again.changes.is_empty());
    }

    #[test]
    fn refuses_archives_without_one_top_level_dir() {
        let h = MockHost::new(|f, _, _| match f {
            "file.file_exists" => Ok(json!(true)),
            "archive.list" => Ok(json!({"dirs": [], "files": ["a", "b"], "links": [],
                "top_level_dirs": [], "top_level_files": ["a", "b"], "top_level_links": []})),
            _ => Err(format!("unexpected {f}")),
        });
        let ch = chunk(
            "archive",
            "extracted",
            "/opt/x",
            json!({"source": "/tmp/a.tar"}),
        );
        let r = run(extracted, &h, &ch, false);
        assert_eq!(r.result, Some(false));
        assert!(
            r.comment
                .starts_with("Archive does not have a single top-level directory.")
        );
        assert!(
            r.comment
                .contains("setting 'name' to /opt/x/some_dir instead of /opt/x")
        );
    }

    #[test]
    fn tar_options_go_to_the_tar_command_and_the_listing_strips_alike() {
        let h = MockHost::new(|f, args, kw| match f {
            "file.file_exists" => Ok(json!(true)),
            "archive.list" => {
                assert_eq!(kw["strip_components"], json!(1), "listed as tar will write");
                Ok(listing())
            }
            "file.stats" => Err("Path not found".into()),
            "file.directory_exists" => Ok(json!(false)),
            "file.makedirs" => Ok(json!(true)),
            "archive.tar" => {
                assert_eq!(args[0], json!("-x -v --strip-components=1 -f"));
                assert_eq!(args[1], json!("/tmp/a.tgz"));
                assert_eq!(kw["dest"], json!("/opt/x"));
                Ok(json!(["app/run"]))
            }
            _ => Err(format!("unexpected {f}")),
        });
        let ch = chunk(
            "archive",
            "extracted",
            "/opt/x",
            json!({"source": "/tmp/a.tgz", "options": "--strip-components=1"}),
        );
        let r = run(extracted, &h, &ch, false);
        assert_eq!(r.result, Some(true), "{}", r.comment);
        assert_eq!(r.changes["extracted_files"], json!(["app/run"]));
        assert_eq!(r.changes["directories_created"], json!(["/opt/x"]));
    }

    #[test]
    fn strip_components_from_options() {
        assert_eq!(strip_components("--strip-components=1 -z"), Some(1));
        assert_eq!(strip_components("v"), None);
    }

    #[test]
    fn remote_sources_in_test_mode_would_be_cached() {
        let h = MockHost::new(|f, _, _| Err(format!("unexpected {f}")));
        for source in [
            "https://download.example.org/x/app-1.0.tgz",
            "salt://app/app-1.0.tgz",
        ] {
            let ch = chunk("archive", "extracted", "/opt/x", json!({"source": source}));
            let t = run(extracted, &h, &ch, true);
            assert_eq!(t.result, None);
            assert_eq!(
                t.comment,
                format!(
                    "Archive {source} would be cached (if necessary) and checked to discover \
                     if extraction is needed"
                )
            );
        }
        let secret = chunk(
            "archive",
            "extracted",
            "/opt/x",
            json!({"source": "https://me:pw@example.org/a.tgz"}),
        );
        assert!(
            run(extracted, &h, &secret, true)
                .comment
                .starts_with("Archive https://<redacted>@example.org/a.tgz would be cached")
        );
    }

    #[test]
    fn an_unresolvable_remote_source_fails_as_salts_download() {
        let h = MockHost::new(|f, a, _| match f {
            "network.connect" => {
                assert_eq!(a, [json!("nowhere.invalid"), json!("443")]);
                Ok(json!({"result": false,
                    "comment": "Unable to resolve host nowhere.invalid on tcp port 443"}))
            }
            _ => Err(format!("unexpected {f}")),
        });
        let source = "https://nowhere.invalid/linux/app.tgz";
        let ch = chunk("archive", "extracted", "/opt/x", json!({"source": source}));
        let r = run(extracted, &h, &ch, false);
        assert_eq!(r.result, Some(false));
        assert_eq!(r.name, source);
        assert_eq!(
            r.comment,
            "Error: [Errno -2] Name or service not known reading /linux/app.tgz"
        );
    }

    #[test]
    fn a_missing_local_source_does_not_exist() {
        let h = MockHost::new(|f, _, _| match f {
            "file.file_exists" => Ok(json!(false)),
            _ => Err(format!("unexpected {f}")),
        });
        let ch = chunk(
            "archive",
            "extracted",
            "/opt/x",
            json!({"source": "file:///tmp/none.tgz"}),
        );
        assert_eq!(
            run(extracted, &h, &ch, false).comment,
            "Source file '/tmp/none.tgz' does not exist"
        );
    }
}
