//! `file.managed`: a file with the wanted bytes,
//! owner and mode.
//!
//! The bytes come from `contents`, `contents_pillar`, or a `source` (a
//! `salt://` file cached from the file server, or a local path), optionally
//! rendered with `template: jinja`. `file.manage_contents` compares and
//! writes them and gives Salt's diff (`New file` for a new file).

use brine_common::ids::salt_file;
use brine_common::salt_url;
use serde_json::{Map, Value, json};

use super::absolute_error;
use super::perms::{Wanted, enforce, enforce_known, needed, stats, stats_for};
use crate::lowstate::{StateCall, StateResult};
use crate::modules::{arg, call, changed, name_of, one, pending, str_of, text, truthy};
use crate::render::render_file_template;

/// Where the new bytes come from.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Body {
    /// The text itself (contents, a rendered template, a serialized dataset).
    Text(String),
    /// A local file holding the bytes (a cached `salt://` file, a local source).
    Local(String),
    /// Nothing given: an existing file keeps its bytes, a new one is empty.
    Nothing,
}

pub fn managed(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    if let Some(err) = absolute_error(name) {
        return StateResult::fail(name, err);
    }
    let has_contents = ["contents", "contents_pillar", "contents_grains"]
        .iter()
        .any(|k| c.chunk.arg(k).is_some_and(|v| !v.is_null()));
    if has_contents && c.chunk.arg("source").is_some_and(truthy) {
        return StateResult::fail(
            name,
            "'source' cannot be used in combination with 'contents', 'contents_pillar', or 'contents_grains'",
        );
    }
    let current = stats_for(c.host, name, &Wanted::of(c.chunk, "mode"));
    let is_file = current
        .as_ref()
        .is_some_and(|st| st.get("type") == Some(&json!("file")));
    if !c.chunk.bool_arg("create", true) && !is_file {
        return StateResult::ok(
            name,
            format!("File {name} is not present and is not set for creation"),
        );
    }
    if current
        .as_ref()
        .is_some_and(|st| st.get("type") == Some(&json!("dir")))
    {
        return StateResult::fail(name, format!("Specified target {name} is a directory"));
    }
    if current.is_some()
        && (!c.chunk.bool_arg("replace", true) || super::remote::existing_file_matches(c))
    {
        return ensure_from(c, Body::Nothing, current);
    }
    match wanted_body(c) {
        Ok(body) => ensure_from(c, body, current),
        Err(e) => StateResult::fail(name, e),
    }
}

/// A pillar value by colon-separated path (`app:config`).
fn pillar_value(c: &StateCall<'_>, path: &str) -> Option<Value> {
    let pillar = Value::Object(c.host.pillar());
    path.split(':')
        .try_fold(&pillar, |v, key| v.get(key))
        .cloned()
}

/// The new bytes, from whichever argument gives them.
fn wanted_body(c: &StateCall<'_>) -> Result<Body, String> {
    if let Some(v) = c.chunk.arg("contents").filter(|v| !v.is_null()) {
        return Ok(Body::Text(with_newline(c, contents_text(v))));
    }
    if let Some(key) = str_of(c.chunk, "contents_pillar") {
        let v = pillar_value(c, &key).ok_or_else(|| format!("Pillar {key} does not exist"))?;
        return Ok(Body::Text(with_newline(c, contents_text(&v))));
    }
    let sources = match c.chunk.arg("source") {
        Some(Value::Array(items)) => items.iter().map(text).collect(),
        Some(v) if truthy(v) => vec![text(v)],
        _ => return Ok(Body::Nothing),
    };
    let template = str_of(c.chunk, "template");
    for source in &sources {
        if let Some(body) = fetch(c, source, template.as_deref())? {
            return Ok(body);
        }
    }
    // Salt's real run reports it from `managed` itself, its test run from
    // `check_managed_changes` (without the prefix).
    let prefix = if c.test {
        ""
    } else {
        "Unable to manage file: "
    };
    Err(format!(
        "{prefix}Source file {} not found in saltenv '{}'",
        sources.join(", "),
        c.chunk.env
    ))
}

/// `contents` as text: a list is joined with newlines.
fn contents_text(v: &Value) -> String {
    match v {
        Value::Array(lines) => lines.iter().map(text).collect::<Vec<_>>().join("\n"),
        other => text(other),
    }
}

/// `contents_newline` (default on): end the contents with a newline.
fn with_newline(c: &StateCall<'_>, mut body: String) -> String {
    if c.chunk.bool_arg("contents_newline", true) && !body.ends_with('\n') {
        body.push('\n');
    }
    body
}

/// `salt://path?saltenv=env` -> (env, path), the state's environment when
/// the URL names none.
pub(crate) fn salt_url<'a>(c: &'a StateCall<'_>, source: &'a str) -> Option<(&'a str, &'a str)> {
    let (path, env) = salt_url::split(source)?;
    Some((env.unwrap_or(c.chunk.env.as_str()), path))
}

/// One source: `Ok(None)` when it does not exist (the next one is tried).
fn fetch(c: &StateCall<'_>, source: &str, template: Option<&str>) -> Result<Option<Body>, String> {
    if let Some((env, path)) = salt_url(c, source) {
        // Salt's file server finds no file at a path with `.`/`..` parts.
        if path.split('/').any(|part| part == "." || part == "..") {
            return Ok(None);
        }
        let (env, rel) = salt_file(env, path).map_err(|e| e.to_string())?;
        if let Some(engine) = template {
            let Some(bytes) = c.host.read_file(&env, &rel)? else {
                return Ok(None);
            };
            let src = String::from_utf8(bytes)
                .map_err(|_| format!("Source file {source} is not text"))?;
            return render(c, engine, &src, path, source).map(|t| Some(Body::Text(t)));
        }
        if c.host.read_file(&env, &rel)?.is_none() {
            return Ok(None);
        }
        let local = c.host.cache_file(&env, &rel)?;
        let local = local.display().to_string();
        check_hash(c, source, &local)?;
        return Ok(Some(Body::Local(local)));
    }
    if super::remote::is_remote(source) {
        let Some(local) = super::remote::fetch(c, source)? else {
            return Ok(None);
        };
        if let Some(engine) = template {
            let src = call(c.host, "file.read", vec![json!(local)], &[])?;
            return render(c, engine, &text(&src), &local, source).map(|t| Some(Body::Text(t)));
        }
        return Ok(Some(Body::Local(local)));
    }
    let local = source.strip_prefix("file://").unwrap_or(source);
    if !local.starts_with('/') {
        return Err(format!(
            "Source {source} is neither salt:// nor an absolute local path"
        ));
    }
    if !truthy(&call(c.host, "file.file_exists", vec![json!(local)], &[])?) {
        return Ok(None);
    }
    if let Some(engine) = template {
        let src = call(c.host, "file.read", vec![json!(local)], &[])?;
        return render(c, engine, &text(&src), local, source).map(|t| Some(Body::Text(t)));
    }
    check_hash(c, source, local)?;
    Ok(Some(Body::Local(local.to_string())))
}

/// `source_hash`: `sha256=<hex>`, or a bare hex digest (the type from its length).
pub(crate) fn check_hash(c: &StateCall<'_>, source: &str, local: &str) -> Result<(), String> {
    let Some(spec) = str_of(c.chunk, "source_hash") else {
        return Ok(());
    };
    let (form, expected) = match spec.split_once('=') {
        Some((form, hex)) => (form.to_string(), hex.to_lowercase()),
        None => {
            let form = match spec.len() {
                32 => "md5",
                40 => "sha1",
                56 => "sha224",
                96 => "sha384",
                128 => "sha512",
                _ => "sha256",
            };
            (form.to_string(), spec.to_lowercase())
        }
    };
    let actual = text(&call(
        c.host,
        "file.get_hash",
        vec![json!(local), json!(form)],
        &[],
    )?);
    if actual == expected {
        Ok(())
    } else {
        Err(format!(
            "Specified {form} checksum for {source} ({expected}) does not match actual checksum ({actual})"
        ))
    }
}

/// Render a template source (Jinja only) with Salt's `file.get_managed`
/// context: `name`, `source`, `user`, `group`, `mode`, `attrs`, then
/// `defaults` overridden by `context`.
fn render(
    c: &StateCall<'_>,
    engine: &str,
    src: &str,
    path: &str,
    source: &str,
) -> Result<String, String> {
    if !engine.eq_ignore_ascii_case("jinja") {
        return Err(format!(
            "Specified template format {engine} is not supported"
        ));
    }
    render_file_template(c.host, src, &c.chunk.env, path, template_context(c, source))
        .map_err(|e| format!("Unable to manage file: {}", e.message))
}

/// The names `file.get_managed` passes a `file.managed` template (no `sls`,
/// `tpldir`, ...: Salt gives the SLS names to SLS files only); `defaults`
/// and then `context` override them.
fn template_context(c: &StateCall<'_>, source: &str) -> Map<String, Value> {
    let mut context = Map::new();
    context.insert("name".into(), json!(name_of(c)));
    context.insert("source".into(), json!(source));
    for key in ["user", "group", "attrs"] {
        context.insert(key.into(), arg(c.chunk, key));
    }
    let mode = c.chunk.arg("mode").and_then(super::perms::normalize_mode);
    context.insert("mode".into(), mode.map_or(Value::Null, Value::String));
    for key in ["defaults", "context"] {
        if let Some(Value::Object(m)) = c.chunk.arg(key) {
            context.extend(m.clone());
        }
    }
    context
}

/// Salt's test-mode comment for a file that would change.
fn would_change(name: &str) -> String {
    format!(
        "The file {name} is set to be changed\nNote: No changes made, actual changes may\nbe different due to other states."
    )
}

/// Bring `name` to `body` with the wanted owner and mode.
pub(super) fn ensure(c: &StateCall<'_>, body: Body) -> StateResult {
    let want = Wanted::of(c.chunk, "mode");
    ensure_from(c, body, stats_for(c.host, name_of(c), &want))
}

/// [`ensure`] with the file's stats already read (`None`: it does not exist).
fn ensure_from(c: &StateCall<'_>, body: Body, current: Option<Map<String, Value>>) -> StateResult {
    let name = name_of(c);
    let want = Wanted::of(c.chunk, "mode");
    let body = match (body, &current) {
        (Body::Nothing, Some(st)) => return keep(c, st, &want),
        (Body::Nothing, None) => None,
        (b, _) => Some(b),
    };
    // Test mode predicts without looking at the parent (Salt's
    // `check_managed_changes`).
    if current.is_none()
        && !c.test
        && let Err(e) = parent_dir(c)
    {
        return StateResult::fail(name, e);
    }
    if !c.test
        && let (Some(cmd), Some(b)) = (str_of(c.chunk, "check_cmd"), body.as_ref())
    {
        match check_new_bytes(c, b, &cmd) {
            Ok(None) => {}
            Ok(Some(failed)) => return failed,
            Err(e) => return StateResult::fail(name, format!("Unable to check_cmd file: {e}")),
        }
    }
    let empty = Body::Text(String::new());
    let contents = match manage(c, body.as_ref().unwrap_or(&empty), c.test) {
        Ok(out) => out,
        Err(e) => return StateResult::fail(name, e),
    };
    if c.test {
        return predict(name, current.as_ref(), contents, &want);
    }
    let written = contents.is_some();
    let mut changes = Map::new();
    let mut comment = format!("File {name} updated");
    match (&current, body.is_some()) {
        (None, false) => {
            changes.insert("new".into(), json!(format!("file {name} created")));
            comment = "Empty file".into();
        }
        _ => {
            if let Some(diff) = contents {
                changes.insert("diff".into(), json!(diff));
            }
        }
    }
    if current.is_none()
        && let Err(e) = new_file_mode(c, &want, &mut changes)
    {
        return StateResult::fail(name, e);
    }
    // Unwritten, the file is as `current` saw it: no second look.
    let perms = match (&current, written) {
        (Some(st), false) => enforce_known(c.host, name, st, &want),
        _ => enforce(c.host, name, &want),
    };
    match perms {
        Ok(perm) => changes.extend(perm),
        Err(e) => return StateResult::fail(name, e),
    }
    if changes.is_empty() {
        return StateResult::ok(name, format!("File {name} is in the correct state"));
    }
    changed(name, comment, changes)
}

/// `file.managed`'s own `check_cmd`: when the bytes would change, they go
/// to a temp file first (`tmp_dir`, `tmp_ext`) and `<check_cmd> <temp
/// file>` must succeed; else Salt's failure, which also stops `watch`.
fn check_new_bytes(
    c: &StateCall<'_>,
    body: &Body,
    cmd: &str,
) -> Result<Option<StateResult>, String> {
    if manage(c, body, true)?.is_none() {
        return Ok(None);
    }
    let tmp = text(&call(
        c.host,
        "file.mkstemp",
        vec![],
        &[
            ("suffix", arg(c.chunk, "tmp_ext")),
            ("dir", arg(c.chunk, "tmp_dir")),
        ],
    )?);
    let checked = manage_at(c, &tmp, body, false).and_then(|_| {
        call(
            c.host,
            "cmd.run_all",
            vec![json!(format!("{cmd} {tmp}"))],
            &[
                ("python_shell", json!(false)),
                ("ignore_retcode", json!(true)),
            ],
        )
    });
    // The temp file goes whatever the check said.
    let _ = call(c.host, "file.remove", vec![json!(tmp)], &[]);
    let out = checked?;
    if out.get("retcode").and_then(Value::as_i64) == Some(0) {
        return Ok(None);
    }
    let mut comment = "check_cmd execution failed".to_string();
    for key in ["stdout", "stderr"] {
        if let Some(s) = out
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            comment.push('\n');
            comment.push_str(s);
        }
    }
    Ok(Some(StateResult {
        skip_watch: true,
        ..StateResult::fail(name_of(c), comment)
    }))
}

/// A file Salt has just created: with a wanted mode it starts out `0600`
/// (then gets the mode, reported if it differs); from a `source` without
/// one, its resulting mode is reported.
fn new_file_mode(
    c: &StateCall<'_>,
    want: &Wanted,
    changes: &mut Map<String, Value>,
) -> Result<(), String> {
    let name = name_of(c);
    if want.mode.is_some() {
        let out = call(
            c.host,
            "file.set_mode",
            vec![json!(name), json!("0600")],
            &[],
        )?;
        if let Some(err) = out.as_str().filter(|s| s.starts_with("Invalid")) {
            return Err(err.to_string());
        }
    } else if c.chunk.arg("source").is_some_and(truthy)
        && let Some(mode) =
            stats(c.host, name).and_then(|st| st.get("mode").and_then(super::perms::normalize_mode))
    {
        changes.insert("mode".into(), json!(mode));
    }
    Ok(())
}

/// An existing file whose bytes are left alone (`replace: False`, or no
/// source and no contents): only owner and mode, with Salt's comments.
fn keep(c: &StateCall<'_>, st: &Map<String, Value>, want: &Wanted) -> StateResult {
    let name = name_of(c);
    let perm = needed(st, want);
    if c.test {
        let current_mode = st.get("mode").and_then(super::perms::normalize_mode);
        let comment = match (perm.get("mode"), current_mode) {
            (Some(mode), Some(lmode)) => format!(
                "File {name} will be updated with permissions {} from its current state of {lmode}",
                text(mode)
            ),
            _ => format!("File {name} not updated"),
        };
        if perm.is_empty() {
            return StateResult::ok(name, comment);
        }
        return pending(name, comment, perm);
    }
    // `st` was read at the start of this state and nothing has written the
    // file since: no second look.
    match enforce_known(c.host, name, st, want) {
        Ok(perm) if perm.is_empty() => StateResult::ok(
            name,
            format!("File {name} exists with proper permissions. No changes made."),
        ),
        Ok(perm) => changed(name, "", perm),
        Err(e) => StateResult::fail(name, e),
    }
}

/// The test-mode answer for `ensure`.
fn predict(
    name: &str,
    current: Option<&Map<String, Value>>,
    diff: Option<String>,
    want: &Wanted,
) -> StateResult {
    let changes = match (current, diff) {
        (None, _) => one("newfile", json!(name)),
        (Some(st), diff) => {
            let mut ch = Map::new();
            if let Some(d) = diff {
                ch.insert("diff".into(), json!(d));
            }
            ch.extend(needed(st, want));
            ch
        }
    };
    if changes.is_empty() {
        return StateResult::ok(name, format!("The file {name} is in the correct state"));
    }
    pending(name, would_change(name), changes)
}

/// A missing parent directory: created with `makedirs` (not in test mode),
/// else Salt's error.
fn parent_dir(c: &StateCall<'_>) -> Result<(), String> {
    let name = name_of(c);
    let parent = name
        .rsplit_once('/')
        .map_or("/", |(p, _)| if p.is_empty() { "/" } else { p });
    if truthy(&call(
        c.host,
        "file.directory_exists",
        vec![json!(parent)],
        &[],
    )?) {
        return Ok(());
    }
    if !c.chunk.bool_arg("makedirs", false) {
        return Err("Parent directory not present".into());
    }
    if c.test {
        return Ok(());
    }
    let dir_mode = c
        .chunk
        .arg("dir_mode")
        .and_then(super::perms::normalize_mode);
    call(
        c.host,
        "file.makedirs",
        vec![json!(name)],
        &[
            ("user", c.chunk.arg("user").cloned().unwrap_or(Value::Null)),
            (
                "group",
                c.chunk.arg("group").cloned().unwrap_or(Value::Null),
            ),
            ("mode", dir_mode.map_or(Value::Null, Value::String)),
        ],
    )
    .map(|_| ())
}

/// Compare (and unless `dry_run`, write) the bytes: the diff when they differ.
fn manage(c: &StateCall<'_>, body: &Body, dry_run: bool) -> Result<Option<String>, String> {
    manage_at(c, name_of(c), body, dry_run)
}

/// [`manage`] for any path (`check_cmd`'s temp file gets no backup).
fn manage_at(
    c: &StateCall<'_>,
    path: &str,
    body: &Body,
    dry_run: bool,
) -> Result<Option<String>, String> {
    let (key, value) = match body {
        Body::Text(t) => ("contents", json!(t)),
        Body::Local(p) => ("source", json!(p)),
        Body::Nothing => return Ok(None),
    };
    let backup = str_of(c.chunk, "backup").filter(|b| b != "minion" && path == name_of(c));
    let out = call(
        c.host,
        "file.manage_contents",
        vec![json!(path)],
        &[
            (key, value),
            ("dry_run", json!(dry_run)),
            (
                "show_changes",
                json!(c.chunk.bool_arg("show_changes", true)),
            ),
            ("backup", backup.map_or(Value::Null, Value::String)),
        ],
    )?;
    if out.get("changed").is_some_and(truthy) {
        Ok(Some(out.get("diff").map(text).unwrap_or_default()))
    } else {
        Ok(None)
    }
}
