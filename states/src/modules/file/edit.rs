//! The file states that edit text in place: `replace`, `line`,
//! `blockreplace`, `comment`, `uncomment`, `append`, `prepend`, `keyvalue`.
//!
//! The editing execution functions take `dry_run`, so test mode gets the
//! same diff the real run would make.

use serde_json::{Map, Value, json};

use super::absolute_error;
use crate::lowstate::{StateCall, StateResult};
use crate::modules::{arg, call, changed, list_of, name_of, one, pending, str_of, text, truthy};

/// The arguments of `pairs` that were given, as keyword arguments.
fn given(c: &StateCall<'_>, keys: &[&str]) -> Vec<(String, Value)> {
    keys.iter()
        .filter_map(|k| {
            c.chunk
                .arg(k)
                .filter(|v| !v.is_null())
                .map(|v| ((*k).to_string(), v.clone()))
        })
        .collect()
}

fn call_kw(
    c: &StateCall<'_>,
    fun: &str,
    args: Vec<Value>,
    kw: Vec<(String, Value)>,
) -> Result<Value, String> {
    c.host.call(fun, args, kw.into_iter().collect())
}

/// The shared end of `replace`, `line` and `blockreplace`: the execution
/// function returned a diff (or a bool with `show_changes: False`).
fn edited(c: &StateCall<'_>, out: Value, test_comment: &str) -> StateResult {
    let name = name_of(c);
    if !truthy(&out) {
        return StateResult::ok(name, "No changes needed to be made");
    }
    let diff = match out {
        Value::String(d) => json!(d),
        _ => json!("<show_changes=False>"),
    };
    let changes = one("diff", diff);
    if c.test {
        return pending(name, test_comment, changes);
    }
    changed(name, "Changes were made", changes)
}

/// A relative path fails every file state.
fn check_absolute(c: &StateCall<'_>) -> Result<(), Box<StateResult>> {
    match absolute_error(name_of(c)) {
        Some(err) => Err(Box::new(StateResult::fail(name_of(c), err))),
        None => Ok(()),
    }
}

/// Salt's `_check_file`: the path must be absolute and exist (any type),
/// else the state fails with `<name>: file not found` before any edit.
fn check_file(c: &StateCall<'_>) -> Result<(), Box<StateResult>> {
    let name = name_of(c);
    check_absolute(c)?;
    let fail = |err: String| Err(Box::new(StateResult::fail(name, err)));
    match call(c.host, "file.exists", vec![json!(name)], &[]) {
        Ok(v) if truthy(&v) => Ok(()),
        Ok(_) => fail(format!("{name}: {FILE_NOT_FOUND}")),
        Err(e) => fail(e),
    }
}

/// The end of `_check_file`'s message, which `ignore_if_missing` looks for.
const FILE_NOT_FOUND: &str = "file not found";

pub fn replace(c: &StateCall<'_>) -> StateResult {
    if let Err(r) = check_file(c) {
        let missing = r.comment.ends_with(FILE_NOT_FOUND);
        if missing && c.chunk.bool_arg("ignore_if_missing", false) {
            return StateResult::ok(name_of(c), "No changes needed to be made");
        }
        return *r;
    }
    let mut kw = given(
        c,
        &[
            "count",
            "flags",
            "bufsize",
            "append_if_not_found",
            "prepend_if_not_found",
            "not_found_content",
            "backup",
            "show_changes",
            "ignore_if_missing",
            "backslash_literal",
        ],
    );
    kw.push(("dry_run".into(), json!(c.test)));
    let args = vec![
        json!(name_of(c)),
        arg(c.chunk, "pattern"),
        arg(c.chunk, "repl"),
    ];
    match call_kw(c, "file.replace", args, kw) {
        Ok(out) => edited(c, out, "Changes would have been made"),
        Err(e) => StateResult::fail(name_of(c), e),
    }
}

pub fn line(c: &StateCall<'_>) -> StateResult {
    if let Err(r) = check_absolute(c) {
        return *r;
    }
    let name = name_of(c);
    if c.chunk.bool_arg("create", false) && !c.test {
        let exists = call(c.host, "file.file_exists", vec![json!(name)], &[]);
        if exists.as_ref().is_ok_and(|v| !truthy(v)) {
            // Salt ignores the result of its `file.managed` here: a file
            // that could not be created is reported just below.
            let _ = call(c.host, "file.touch", vec![json!(name)], &[]);
        }
    }
    // Checked after `create` (Salt runs `file.managed` first), so a test
    // run on a missing file fails even with `create: True`, as Salt's does.
    if let Err(r) = check_file(c) {
        return *r;
    }
    let mut kw = given(
        c,
        &[
            "content", "match", "mode", "location", "before", "after", "backup", "quiet", "indent",
        ],
    );
    kw.push(("show_changes".into(), json!(true)));
    kw.push(("dry_run".into(), json!(c.test)));
    match call_kw(c, "file.line", vec![json!(name)], kw) {
        Ok(out) => edited(c, out, "Changes would be made"),
        Err(e) => StateResult::fail(name, e),
    }
}

pub fn blockreplace(c: &StateCall<'_>) -> StateResult {
    if let Err(r) = check_file(c) {
        return *r;
    }
    let mut kw = given(
        c,
        &[
            "marker_start",
            "marker_end",
            "content",
            "append_if_not_found",
            "prepend_if_not_found",
            "backup",
            "show_changes",
            "append_newline",
            "insert_before_match",
            "insert_after_match",
        ],
    );
    kw.push(("dry_run".into(), json!(c.test)));
    match call_kw(c, "file.blockreplace", vec![json!(name_of(c))], kw) {
        Ok(out) => edited(c, out, "Changes would be made"),
        Err(e) => StateResult::fail(name_of(c), e),
    }
}

// ---------------------------------------------------------------------------
// comment, uncomment

fn search(c: &StateCall<'_>, pattern: &str) -> Result<bool, String> {
    call(
        c.host,
        "file.search",
        vec![json!(name_of(c)), json!(pattern)],
        &[("multiline", json!(true))],
    )
    .map(|v| truthy(&v))
}

pub fn comment(c: &StateCall<'_>) -> StateResult {
    if let Err(r) = check_file(c) {
        return *r;
    }
    let name = name_of(c);
    let regex = str_of(c.chunk, "regex").unwrap_or_default();
    let ch = str_of(c.chunk, "char").unwrap_or_else(|| "#".into());
    let unanchored = regex
        .trim_start_matches('^')
        .trim_end_matches('$')
        .to_string();
    let run = || -> Result<StateResult, String> {
        if !search(c, &regex)? {
            if search(c, &format!("{ch}{unanchored}"))? {
                return Ok(StateResult::ok(name, "Pattern already commented"));
            }
            if c.chunk.bool_arg("ignore_missing", false) {
                return Ok(StateResult::ok(
                    name,
                    "Pattern not found and ignore_missing set to True",
                ));
            }
            return Ok(StateResult::fail(
                name,
                format!("{unanchored}: Pattern not found"),
            ));
        }
        let changes = match comment_line(c, name, &regex, &ch, true)? {
            Ok(changes) => changes,
            Err(predicted) => return Ok(predicted),
        };
        if search(c, &unanchored)? {
            Ok(changed(name, "Commented lines successfully", changes))
        } else {
            Ok(StateResult {
                changes,
                ..StateResult::fail(name, "Expected commented lines not found")
            })
        }
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

pub fn uncomment(c: &StateCall<'_>) -> StateResult {
    if let Err(r) = check_file(c) {
        return *r;
    }
    let name = name_of(c);
    let regex = str_of(c.chunk, "regex").unwrap_or_default();
    let ch = str_of(c.chunk, "char").unwrap_or_else(|| "#".into());
    let bare = regex.trim_start_matches('^').to_string();
    let run = || -> Result<StateResult, String> {
        if !search(c, &format!("{ch}[ \t]*{bare}"))? {
            if search(c, &format!("^[ \t]*{bare}"))? {
                return Ok(StateResult::ok(name, "Pattern already uncommented"));
            }
            return Ok(StateResult::fail(
                name,
                format!("{regex}: Pattern not found"),
            ));
        }
        let changes = match comment_line(c, name, &regex, &ch, false)? {
            Ok(changes) => changes,
            Err(predicted) => return Ok(predicted),
        };
        if search(c, &format!("^[ \t]*{bare}"))? {
            Ok(changed(name, "Uncommented lines successfully", changes))
        } else {
            Ok(StateResult {
                changes,
                ..StateResult::fail(name, "Expected uncommented lines not found")
            })
        }
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

// ---------------------------------------------------------------------------
// append, prepend, keyvalue: computed here, written by file.manage_contents

/// The file's text, empty when it does not exist.
fn current_text(c: &StateCall<'_>) -> Result<String, String> {
    let name = name_of(c);
    if !truthy(&call(c.host, "file.file_exists", vec![json!(name)], &[])?) {
        return Ok(String::new());
    }
    call(c.host, "file.read", vec![json!(name)], &[]).map(|v| text(&v))
}

/// Write `new` (or predict it): `Ok(None)` when nothing changes, else the diff.
/// Write `new` (not in test mode); the diff when it changes the file, in
/// Salt's `file.append` form when `diff_lines` (see `file.manage_contents`).
fn write_text(c: &StateCall<'_>, new: &str, diff_lines: bool) -> Result<Option<String>, String> {
    let out = call(
        c.host,
        "file.manage_contents",
        vec![json!(name_of(c))],
        &[
            ("contents", json!(new)),
            ("dry_run", json!(c.test)),
            ("diff_lines", json!(diff_lines)),
        ],
    )?;
    Ok(out
        .get("changed")
        .is_some_and(truthy)
        .then(|| out.get("diff").map(text).unwrap_or_default()))
}

/// The text chunks of `text` not yet in the file (whitespace-insensitive, as Salt's search).
fn missing_chunks(c: &StateCall<'_>, old: &str) -> Vec<String> {
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let have = squash(old);
    list_of_text(c)
        .into_iter()
        .filter(|t| !have.contains(&squash(t)))
        .collect()
}

/// `text` as a list of chunks (a string is one chunk).
fn list_of_text(c: &StateCall<'_>) -> Vec<String> {
    match c.chunk.arg("text") {
        Some(Value::String(s)) => vec![s.clone()],
        _ => list_of(c.chunk, "text"),
    }
}

fn add_lines(c: &StateCall<'_>, at_end: bool) -> StateResult {
    if let Err(r) = check_absolute(c) {
        return *r;
    }
    let name = name_of(c);
    // Salt touches a missing file first; a test run answers with the
    // touch's prediction.
    if check_file(c).is_err() {
        let touched = super::paths::touch(c);
        if c.test {
            return touched;
        }
        if let Err(r) = check_file(c) {
            return *r;
        }
    }
    let run = || -> Result<StateResult, String> {
        let old = current_text(c)?;
        let add = missing_chunks(c, &old);
        if add.is_empty() {
            return Ok(StateResult::ok(
                name,
                format!("File {name} is in correct state"),
            ));
        }
        let block: String = add
            .iter()
            .map(|t| format!("{}\n", t.trim_end_matches('\n')))
            .collect();
        let new = if at_end {
            let sep = if old.is_empty() || old.ends_with('\n') {
                ""
            } else {
                "\n"
            };
            format!("{old}{sep}{block}")
        } else {
            format!("{block}{old}")
        };
        let lines = block.lines().count();
        let diff = write_text(c, &new, at_end)?.unwrap_or_default();
        let changes = one("diff", json!(diff));
        if c.test {
            return Ok(pending(
                name,
                format!("File {name} is set to be updated"),
                changes,
            ));
        }
        let verb = if at_end { "Appended" } else { "Prepended" };
        Ok(changed(name, format!("{verb} {lines} lines"), changes))
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

pub fn append(c: &StateCall<'_>) -> StateResult {
    add_lines(c, true)
}

pub fn prepend(c: &StateCall<'_>) -> StateResult {
    add_lines(c, false)
}

/// `keyvalue`: `key_values` (or `key` and `value`) set in a `key=value` file.
pub fn keyvalue(c: &StateCall<'_>) -> StateResult {
    if let Err(r) = check_absolute(c) {
        return *r;
    }
    let name = name_of(c);
    let mut wanted: Vec<(String, String)> = match c.chunk.arg("key_values") {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        _ => Vec::new(),
    };
    if let (Some(k), Some(v)) = (str_of(c.chunk, "key"), c.chunk.arg("value")) {
        wanted.push((k, text(v)));
    }
    if wanted.is_empty() {
        return StateResult::fail(
            name,
            "file.keyvalue key and value not supplied and key_values is empty",
        );
    }
    let sep = str_of(c.chunk, "separator").unwrap_or_else(|| "=".into());
    let run = || -> Result<StateResult, String> {
        let old = current_text(c)?;
        let (new, count) = set_keys(
            &old,
            &wanted,
            &sep,
            c.chunk.bool_arg("append_if_not_found", false),
        );
        if count == 0 {
            return Ok(StateResult::ok(name, "No changes needed to be made"));
        }
        let diff = write_text(c, &new, false)?.unwrap_or_default();
        let changes = one("diff", json!(diff));
        if c.test {
            return Ok(pending(
                name,
                format!("File {name} is set to be changed ({count} lines)"),
                changes,
            ));
        }
        Ok(changed(name, format!("Changed {count} lines"), changes))
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

/// Set each key's value in `old`: the new text and how many lines changed.
fn set_keys(old: &str, wanted: &[(String, String)], sep: &str, append: bool) -> (String, usize) {
    let mut found = vec![false; wanted.len()];
    let mut count = 0;
    let mut out = String::new();
    for line in old.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let hit = body.split_once(sep).and_then(|(k, v)| {
            wanted
                .iter()
                .position(|(wk, _)| wk == k.trim())
                .map(|i| (i, v.trim().to_string()))
        });
        match hit {
            Some((i, current)) => {
                found[i] = true;
                if current != wanted[i].1 {
                    count += 1;
                    out.push_str(&format!("{}{sep}{}\n", wanted[i].0, wanted[i].1));
                } else {
                    out.push_str(line);
                }
            }
            None => out.push_str(line),
        }
    }
    if append {
        for (i, (k, v)) in wanted.iter().enumerate().filter(|(i, _)| !found[*i]) {
            let _ = i;
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&format!("{k}{sep}{v}\n"));
            count += 1;
        }
    }
    (out, count)
}

/// `comment`/`uncomment` once their checks pass: in test mode the predicted
/// result (`Err`), else `file.comment_line` run and its diff as the changes.
fn comment_line(
    c: &StateCall<'_>,
    name: &str,
    regex: &str,
    ch: &str,
    comment: bool,
) -> Result<Result<Map<String, Value>, StateResult>, String> {
    if c.test {
        return Ok(Err(pending(
            name,
            format!("File {name} is set to be updated"),
            one(name, json!("updated")),
        )));
    }
    let out = call(
        c.host,
        "file.comment_line",
        vec![json!(name), json!(regex), json!(ch), json!(comment)],
        &[("backup", arg(c.chunk, "backup"))],
    )?;
    Ok(Ok(if truthy(&out) {
        one("diff", out)
    } else {
        Map::new()
    }))
}
