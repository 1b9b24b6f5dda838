//! The file states about paths rather than contents: `directory`, `absent`,
//! `exists`, `missing`, `symlink`, `touch`, `copy` and `rename`.

use serde_json::{Map, Value, json};

use super::absolute_error;
use super::perms::{Wanted, apply, needed, stats};
use crate::lowstate::{StateCall, StateResult};
use crate::modules::{call, changed, name_of, one, pending, str_of, text, truthy};

fn exists_at(c: &StateCall<'_>, path: &str) -> Result<bool, String> {
    call(c.host, "file.exists", vec![json!(path)], &[]).map(|v| truthy(&v))
}

fn is_link(c: &StateCall<'_>, path: &str) -> Result<bool, String> {
    call(c.host, "file.is_link", vec![json!(path)], &[]).map(|v| truthy(&v))
}

fn is_dir(c: &StateCall<'_>, path: &str) -> Result<bool, String> {
    call(c.host, "file.directory_exists", vec![json!(path)], &[]).map(|v| truthy(&v))
}

fn parent_of(path: &str) -> &str {
    match path.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) | None => "/",
        Some((p, _)) => p,
    }
}

/// Run `f`, turning an execution error into a failed state.
fn guarded(c: &StateCall<'_>, f: impl FnOnce() -> Result<StateResult, String>) -> StateResult {
    f().unwrap_or_else(|e| StateResult::fail(name_of(c), e))
}

// ---------------------------------------------------------------------------
// directory

pub fn directory(c: &StateCall<'_>) -> StateResult {
    let given = name_of(c);
    let name = given.trim_end_matches('/');
    let name = if name.is_empty() { "/" } else { name };
    let result = match absolute_error(name) {
        Some(err) => StateResult::fail(name, err),
        None => guarded(c, || directory_inner(c, name)),
    };
    // Salt works on the name without its trailing slash but reports it as
    // given (`/opt/app/` stays `/opt/app/` in the result).
    StateResult {
        name: given.to_owned(),
        ..result
    }
}

/// A directory that is not there yet, as Salt reports it: changes
/// `{name: {"directory": "new"}}` (kept when it cannot be created), comment
/// "" once made; ownership and mode are given to `file.makedirs` itself.
fn create_directory(c: &StateCall<'_>, name: &str, want: &Wanted) -> Result<StateResult, String> {
    let changes = one(name, json!({"directory": "new"}));
    if c.test {
        return Ok(pending(
            name,
            format!("The following files will be changed:\n{name}: directory - new\n"),
            changes,
        ));
    }
    if !c.chunk.bool_arg("makedirs", false) && !is_dir(c, parent_of(name))? {
        return Ok(StateResult {
            changes,
            ..StateResult::fail(name, format!("No directory to create {name} in"))
        });
    }
    let owner = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
    call(
        c.host,
        "file.makedirs",
        vec![json!(format!("{name}/"))],
        &[
            ("user", owner(&want.user)),
            ("group", owner(&want.group)),
            ("mode", owner(&want.mode)),
        ],
    )?;
    Ok(changed(name, "", changes))
}

fn directory_inner(c: &StateCall<'_>, name: &str) -> Result<StateResult, String> {
    let mode_key = if c.chunk.arg("dir_mode").is_some() {
        "dir_mode"
    } else {
        "mode"
    };
    let want = Wanted::of(c.chunk, mode_key);
    if exists_at(c, name)? && !is_dir(c, name)? {
        if !c.chunk.bool_arg("force", false) {
            return Ok(StateResult::fail(
                name,
                format!("Specified location {name} exists and is a file"),
            ));
        }
        if !c.test {
            call(c.host, "file.remove", vec![json!(name)], &[])?;
        }
    }
    if !is_dir(c, name)? {
        return create_directory(c, name, &want);
    }
    let st = stats(c.host, name).unwrap_or_default();
    let perm = needed(&st, &want);
    let recursed = recurse(c, name)?;
    let doomed = if c.chunk.bool_arg("clean", false) {
        to_clean(c, name)?
    } else {
        Vec::new()
    };
    if c.test {
        return Ok(predicted_directory(name, perm, recursed, &doomed));
    }
    apply(c.host, name, &perm)?;
    let removed = remove_doomed(c, &doomed)?;
    let mut changes = applied_changes(name, perm, recursed, &doomed);
    if !removed.is_empty() {
        changes.insert("removed".into(), json!(removed));
        let comment = format!("Files cleaned from directory {name}");
        return Ok(changed(name, comment, changes));
    }
    if changes.is_empty() {
        return Ok(StateResult::ok(
            name,
            format!("The directory {name} is in the correct state"),
        ));
    }
    Ok(changed(name, format!("Directory {name} updated"), changes))
}

/// What `clean` reports for each path it removes, keyed by the path.
const REMOVED_DUE_TO_CLEAN: &str = "Removed due to clean";

/// The test-mode answer of an existing directory, as Salt's
/// `_check_directory` words it: the paths below whose owner or mode would
/// change (walk order), then the directory itself, then each path `clean`
/// would remove (walk order), one comment line per change.
fn predicted_directory(
    name: &str,
    perm: Map<String, Value>,
    recursed: PathChanges,
    doomed: &[String],
) -> StateResult {
    let all = predicted_changes(name, perm, recursed, doomed);
    if all.is_empty() {
        return StateResult::ok(
            name,
            format!("The directory {name} is in the correct state"),
        );
    }
    let lines: String = all
        .iter()
        .flat_map(|(path, ch)| {
            ch.iter()
                .map(move |(k, v)| format!("{path}: {k} - {}\n", text(v)))
        })
        .collect();
    pending(
        name,
        format!("The following files will be changed:\n{lines}"),
        by_path(all),
    )
}

/// Salt's `_check_directory` changes, path by path in its order.
fn predicted_changes(
    name: &str,
    perm: Map<String, Value>,
    recursed: PathChanges,
    doomed: &[String],
) -> PathChanges {
    let mut all = recursed;
    if !perm.is_empty() {
        all.push((name.to_string(), perm));
    }
    all.extend(
        doomed
            .iter()
            .map(|path| (path.clone(), one("removed", json!(REMOVED_DUE_TO_CLEAN)))),
    );
    all
}

/// `clean: True`: everything under `name` that no `file` state this one
/// requires manages (`StateCall::required`), except what `exclude_pat`
/// matches. A required path keeps its parent directories, a required
/// directory its contents. In `os.walk` order, each directory's files before
/// its subdirectories, as Salt lists them.
fn to_clean(c: &StateCall<'_>, name: &str) -> Result<Vec<String>, String> {
    let required: Vec<&str> = c
        .required
        .iter()
        .filter(|r| r.state == "file")
        .map(|r| r.name.trim_end_matches('/'))
        .collect();
    let kept = |path: &str| {
        required
            .iter()
            .any(|r| *r == path || is_below(r, path) || is_below(path, r))
    };
    let mut doomed = Vec::new();
    for (root, dirs, files) in walk(c, name, None)? {
        for entry in files.iter().chain(&dirs) {
            let path = format!("{root}/{entry}");
            let rel = path
                .strip_prefix(name)
                .unwrap_or(&path)
                .trim_start_matches('/');
            if !kept(&path) && !excluded(c, rel) {
                doomed.push(path);
            }
        }
    }
    Ok(doomed)
}

/// Whether `path` lies somewhere below the directory `dir`.
fn is_below(path: &str, dir: &str) -> bool {
    path.strip_prefix(dir)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// Remove what `clean` dooms. A doomed directory goes with its contents, so
/// what lies below it is neither removed again nor listed: the paths
/// removed are those Salt's walk still finds, in walk order.
fn remove_doomed(c: &StateCall<'_>, doomed: &[String]) -> Result<Vec<String>, String> {
    let mut removed: Vec<String> = Vec::new();
    for path in doomed {
        if removed.iter().any(|gone| is_below(path, gone)) {
            continue;
        }
        call(c.host, "file.remove", vec![json!(path)], &[])?;
        removed.push(path.clone());
    }
    Ok(removed)
}

/// `exclude_pat` spares a path from `clean`.
fn excluded(c: &StateCall<'_>, rel: &str) -> bool {
    c.chunk.arg("exclude_pat").is_some() && !super::recurse::pattern_ok(c, rel)
}

/// `recurse: [user, group, mode, ignore_files, ignore_dirs, silent]`: owner
/// and `file_mode`/`dir_mode` below `name`, path by path in the order
/// `os.walk` visits them (each directory's files, then its subdirectories;
/// entries in the directory's own order), which is the order of Salt's
/// comment lines. The changes are keyed by path (applied unless in test mode).
fn recurse(c: &StateCall<'_>, name: &str) -> Result<PathChanges, String> {
    let Some(what) = recurse_set(c)? else {
        return Ok(Vec::new());
    };
    let pick = |key: &str| what.iter().any(|w| w == key);
    let follow = c.chunk.bool_arg("follow_symlinks", false);
    // Salt's defaults: dir_mode falls back to mode, file_mode to dir_mode.
    let wanted = |mode_keys: &[&str]| Wanted {
        user: str_of(c.chunk, "user").filter(|_| pick("user")),
        group: str_of(c.chunk, "group").filter(|_| pick("group")),
        mode: mode_keys
            .iter()
            .find_map(|key| c.chunk.arg(key).filter(|v| truthy(v)))
            .and_then(super::perms::normalize_mode)
            .filter(|_| pick("mode")),
    };
    let file_want = wanted(&["file_mode", "dir_mode", "mode"]);
    let dir_want = wanted(&["dir_mode", "mode"]);
    let max_depth = c.chunk.arg("max_depth").and_then(Value::as_u64);
    let mut out = Vec::new();
    for (root, dirs, files) in walk(c, name, max_depth)? {
        let checked = [
            (files, &file_want, !pick("ignore_files")),
            (dirs, &dir_want, !pick("ignore_dirs")),
        ];
        for (entries, want, check) in checked {
            for entry in entries.iter().filter(|_| check) {
                let path = format!("{root}/{entry}");
                let ch = meta_changes(c, &path, want, follow);
                if ch.is_empty() {
                    continue;
                }
                if !c.test {
                    apply(c.host, &path, &ch)?;
                }
                out.push((path, ch));
            }
        }
    }
    Ok(out)
}

/// The changes of an applied `file.directory`, shaped as Salt's: what its
/// check predicted, path by path (`clean`'s doomed paths included), and
/// then the flat `user`/`group`/`mode` keys Salt's `check_perms` writes for
/// the directory and for each path below it that changed, the last one
/// winning.
fn applied_changes(
    name: &str,
    perm: Map<String, Value>,
    recursed: PathChanges,
    doomed: &[String],
) -> Map<String, Value> {
    let mut flat = perm.clone();
    for (_, ch) in &recursed {
        flat.extend(ch.clone());
    }
    let mut changes = by_path(predicted_changes(name, perm, recursed, doomed));
    changes.extend(flat);
    changes
}

/// Changes path by path, in the order Salt lists them.
type PathChanges = Vec<(String, Map<String, Value>)>;

/// Per-path changes as the changes dict keys them.
fn by_path(changes: PathChanges) -> Map<String, Value> {
    changes
        .into_iter()
        .map(|(path, ch)| (path, Value::Object(ch)))
        .collect()
}

/// The `recurse` list, checked as Salt checks it; `None` when not asked for.
fn recurse_set(c: &StateCall<'_>) -> Result<Option<Vec<String>>, String> {
    const TYPES: [&str; 6] = [
        "user",
        "group",
        "mode",
        "ignore_files",
        "ignore_dirs",
        "silent",
    ];
    let items = match c.chunk.arg("recurse") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) if items.is_empty() => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(v) if !truthy(v) => return Ok(None),
        Some(_) => return Err("\"recurse\" must be formed as a list of strings".into()),
    };
    let names: Vec<String> = items
        .iter()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect();
    if names.len() != items.len() || names.iter().any(|n| !TYPES.contains(&n.as_str())) {
        let quoted: Vec<String> = TYPES.iter().map(|t| format!("\"{t}\"")).collect();
        return Err(format!(
            "Types for \"recurse\" limited to {}.",
            quoted.join(", ")
        ));
    }
    if names.iter().any(|n| n == "ignore_files") && names.iter().any(|n| n == "ignore_dirs") {
        return Err(
            "Must not specify \"recurse\" options \"ignore_files\" and \"ignore_dirs\" \
                    at the same time."
                .into(),
        );
    }
    Ok(Some(names))
}

/// Salt's `_check_dir_meta` (and its per-file twin): what `path` needs; a
/// symlink's mode is left alone unless links are followed (Linux cannot
/// change it).
fn meta_changes(c: &StateCall<'_>, path: &str, want: &Wanted, follow: bool) -> Map<String, Value> {
    let st = call(
        c.host,
        "file.stats",
        vec![json!(path), Value::Null, json!(follow)],
        &[],
    );
    let Ok(Value::Object(st)) = st else {
        return Map::new();
    };
    let is_link = st.get("type") == Some(&json!("link"));
    let want = Wanted {
        mode: want.mode.clone().filter(|_| follow || !is_link),
        ..want.clone()
    };
    needed(&st, &want)
}

/// One directory of a walk: its path, its subdirectories and its other
/// entries, by name.
type WalkStep = (String, Vec<String>, Vec<String>);

/// `os.walk(top)` top-down through the host (`file.readdir`), down to
/// `max_depth` levels below `top`: a symlink to a directory is listed among
/// the directories but not entered.
fn walk(c: &StateCall<'_>, top: &str, max_depth: Option<u64>) -> Result<Vec<WalkStep>, String> {
    let mut steps = Vec::new();
    let mut pending_dirs = vec![(top.trim_end_matches('/').to_owned(), 0u64)];
    while let Some((root, depth)) = pending_dirs.pop() {
        if max_depth.is_some_and(|max| depth >= max) {
            continue;
        }
        let listed = call(c.host, "file.readdir", vec![json!(root)], &[])?;
        let (mut dirs, mut files) = (Vec::new(), Vec::new());
        for entry in crate::modules::strings(&listed).into_iter().skip(2) {
            let path = format!("{root}/{entry}");
            if is_dir(c, &path)? {
                dirs.push(entry);
            } else {
                files.push(entry);
            }
        }
        let mut below = Vec::new();
        for d in &dirs {
            let path = format!("{root}/{d}");
            if !is_link(c, &path)? {
                below.push((path, depth + 1));
            }
        }
        // Depth first, in listing order: the stack takes them reversed.
        pending_dirs.extend(below.into_iter().rev());
        steps.push((root, dirs, files));
    }
    Ok(steps)
}

// ---------------------------------------------------------------------------
// absent, exists, missing

pub fn absent(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    if let Some(err) = absolute_error(name) {
        return StateResult::fail(name, err);
    }
    if name.trim_end_matches('/').is_empty() {
        return StateResult::fail(name, "Refusing to make \"/\" absent");
    }
    guarded(c, || {
        if !exists_at(c, name)? && !is_link(c, name)? {
            return Ok(StateResult::ok(name, format!("File {name} is not present")));
        }
        let changes = one("removed", json!(name));
        if c.test {
            return Ok(pending(
                name,
                format!("File {name} is set for removal"),
                changes,
            ));
        }
        let what = if is_dir(c, name)? && !is_link(c, name)? {
            "directory"
        } else {
            "file"
        };
        call(c.host, "file.remove", vec![json!(name)], &[])?;
        Ok(changed(name, format!("Removed {what} {name}"), changes))
    })
}

pub fn exists(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    guarded(c, || {
        Ok(if exists_at(c, name)? {
            StateResult::ok(name, format!("Path {name} exists"))
        } else {
            StateResult::fail(name, format!("Specified path {name} does not exist"))
        })
    })
}

pub fn missing(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    guarded(c, || {
        Ok(if exists_at(c, name)? {
            StateResult::fail(name, format!("Specified path {name} exists"))
        } else {
            StateResult::ok(name, format!("Path {name} is missing"))
        })
    })
}

// ---------------------------------------------------------------------------
// symlink

pub fn symlink(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    if let Some(err) = absolute_error(name) {
        return StateResult::fail(name, err);
    }
    let Some(target) = str_of(c.chunk, "target") else {
        return StateResult::fail(name, "A target is required for file.symlink");
    };
    guarded(c, || symlink_inner(c, name, &target))
}

fn symlink_inner(c: &StateCall<'_>, name: &str, target: &str) -> Result<StateResult, String> {
    let force = c.chunk.bool_arg("force", false);
    let link = is_link(c, name)?;
    if link {
        let current = text(&call(c.host, "file.readlink", vec![json!(name)], &[])?);
        if current == target {
            return Ok(StateResult::ok(name, format!("Symlink {name} is present")));
        }
        if c.test {
            let msg = format!("Link {name} target is set to be changed to {target}");
            return Ok(pending(name, msg, one("change", json!(name))));
        }
        call(
            c.host,
            "file.symlink",
            vec![json!(target), json!(name)],
            &[("force", json!(true))],
        )?;
        return Ok(changed(
            name,
            format!("Set target of symlink {name} -> {target}"),
            one("new", json!(name)),
        ));
    }
    if exists_at(c, name)? && !force {
        return Ok(StateResult::fail(
            name,
            format!("File exists where the symlink {name} should be"),
        ));
    }
    if !is_dir(c, parent_of(name))? && !c.chunk.bool_arg("makedirs", false) {
        return Ok(StateResult::fail(
            name,
            format!("Directory {} for symlink is not present", parent_of(name)),
        ));
    }
    if c.test {
        let msg = format!("Symlink {name} to {target} is set for creation");
        return Ok(pending(name, msg, one("new", json!(name))));
    }
    if !is_dir(c, parent_of(name))? {
        call(c.host, "file.makedirs", vec![json!(name)], &[])?;
    }
    call(
        c.host,
        "file.symlink",
        vec![json!(target), json!(name)],
        &[("force", json!(force))],
    )?;
    Ok(changed(
        name,
        format!("Created new symlink {name} -> {target}"),
        one("new", json!(name)),
    ))
}

// ---------------------------------------------------------------------------
// touch, copy, rename

/// Salt's `_check_touch`: a new file is "set to be created"; an existing
/// one is right unless a given `atime`/`mtime` differs from its own (Salt
/// keeps `changes: {new: name}` even then).
fn predict_touch(c: &StateCall<'_>, existed: bool) -> Result<StateResult, String> {
    let name = name_of(c);
    if !existed {
        let comment = format!("File {name} is set to be created");
        return Ok(pending(name, comment, one("new", json!(name))));
    }
    let st = stats(c.host, name).unwrap_or_default();
    let differs = |key: &str| {
        c.chunk
            .arg(key)
            .filter(|v| !v.is_null())
            .is_some_and(|v| Some(text(v)) != st.get(key).map(text))
    };
    if differs("atime") || differs("mtime") {
        let comment = format!("Times set to be updated on file {name}");
        return Ok(pending(name, comment, one("touched", json!(name))));
    }
    Ok(changed(
        name,
        format!("File {name} exists and has the correct times"),
        one("new", json!(name)),
    ))
}

pub fn touch(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    if let Some(err) = absolute_error(name) {
        return StateResult::fail(name, err);
    }
    guarded(c, || {
        let existed = exists_at(c, name)?;
        if c.test {
            return predict_touch(c, existed);
        }
        if !is_dir(c, parent_of(name))? {
            if !c.chunk.bool_arg("makedirs", false) {
                return Ok(StateResult::fail(
                    name,
                    format!("Directory not present to touch file {name}"),
                ));
            }
            call(c.host, "file.makedirs", vec![json!(name)], &[])?;
        }
        let kw = [
            (
                "atime",
                c.chunk.arg("atime").cloned().unwrap_or(Value::Null),
            ),
            (
                "mtime",
                c.chunk.arg("mtime").cloned().unwrap_or(Value::Null),
            ),
        ];
        call(c.host, "file.touch", vec![json!(name)], &kw)?;
        Ok(if existed {
            changed(
                name,
                format!("Updated times on file {name}"),
                one("touched", json!(name)),
            )
        } else {
            changed(
                name,
                format!("Created empty file {name}"),
                one("new", json!(name)),
            )
        })
    })
}

pub fn copy(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    if let Some(err) = absolute_error(name) {
        return StateResult::fail(name, err);
    }
    let Some(source) = str_of(c.chunk, "source") else {
        return StateResult::fail(name, "Source file \"None\" is not present");
    };
    guarded(c, || {
        if !exists_at(c, &source)? {
            return Ok(StateResult::fail(
                name,
                format!("Source file \"{source}\" is not present"),
            ));
        }
        let force = c.chunk.bool_arg("force", false);
        if exists_at(c, name)? && !force {
            return Ok(StateResult::ok(
                name,
                format!("The target file \"{name}\" exists and will not be overwritten"),
            ));
        }
        if exists_at(c, name)? && same_file(c, &source, name)? {
            return Ok(StateResult::ok(
                name,
                format!("The target file \"{name}\" exists and is identical to the source"),
            ));
        }
        let changes = one(name, json!(source));
        if c.test {
            return Ok(pending(
                name,
                format!("File \"{source}\" is set to be copied to \"{name}\""),
                changes,
            ));
        }
        if let Some(missing) = make_target_parent(c, name)? {
            return Ok(missing);
        }
        let dir = is_dir(c, &source)?;
        call(
            c.host,
            "file.copy",
            vec![json!(source), json!(name)],
            &[
                ("recurse", json!(dir)),
                ("remove_existing", json!(force && dir)),
            ],
        )?;
        let want = Wanted::of(c.chunk, "mode");
        let st = stats(c.host, name).unwrap_or_default();
        apply(c.host, name, &needed(&st, &want))?;
        Ok(changed(
            name,
            format!("Copied \"{source}\" to \"{name}\""),
            changes,
        ))
    })
}

/// Two regular files with the same bytes.
/// `copy`/`rename`: the target's parent directory, created with
/// `makedirs: True`, else Salt's failure naming it.
fn make_target_parent(c: &StateCall<'_>, name: &str) -> Result<Option<StateResult>, String> {
    if is_dir(c, parent_of(name))? {
        return Ok(None);
    }
    if !c.chunk.bool_arg("makedirs", false) {
        return Ok(Some(StateResult::fail(
            name,
            format!("The target directory {} is not present", parent_of(name)),
        )));
    }
    call(c.host, "file.makedirs", vec![json!(name)], &[])?;
    Ok(None)
}

fn same_file(c: &StateCall<'_>, a: &str, b: &str) -> Result<bool, String> {
    if is_dir(c, a)? || is_dir(c, b)? {
        return Ok(false);
    }
    let sum = |p: &str| call(c.host, "file.get_hash", vec![json!(p)], &[]);
    Ok(sum(a)? == sum(b)?)
}

pub fn rename(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    if let Some(err) = absolute_error(name) {
        return StateResult::fail(name, err);
    }
    let Some(source) = str_of(c.chunk, "source") else {
        return StateResult::fail(
            name,
            "Source file \"None\" has already been moved out of place",
        );
    };
    guarded(c, || {
        if !exists_at(c, &source)? && !is_link(c, &source)? {
            return Ok(StateResult::ok(
                name,
                format!("Source file \"{source}\" has already been moved out of place"),
            ));
        }
        let force = c.chunk.bool_arg("force", false);
        if exists_at(c, name)? && !force {
            return Ok(StateResult::ok(
                name,
                format!("The target file \"{name}\" exists and will not be overwritten"),
            ));
        }
        let changes = one(name, json!(source));
        if c.test {
            return Ok(pending(
                name,
                format!("File \"{source}\" is set to be moved to \"{name}\""),
                changes,
            ));
        }
        if let Some(missing) = make_target_parent(c, name)? {
            return Ok(missing);
        }
        if exists_at(c, name)? {
            call(c.host, "file.remove", vec![json!(name)], &[])?;
        }
        call(c.host, "file.rename", vec![json!(source), json!(name)], &[])?;
        Ok(changed(
            name,
            format!("Moved \"{source}\" to \"{name}\""),
            changes,
        ))
    })
}
