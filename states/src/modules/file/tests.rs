//! Tests of the file states against an in-memory host: a small fake file
//! system behind `file.stats`, `file.manage_contents` and friends.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use super::{edit, managed, paths, recurse, serialize};
use crate::lowstate::LowChunk;
use crate::modules::mock::{MockHost, chunk, run};

/// Path -> (contents, mode); directories have `None` contents.
type Fs = Arc<Mutex<BTreeMap<String, (Option<String>, String)>>>;

fn fs_host(files: &[(&str, Option<&str>, &str)]) -> (MockHost, Fs) {
    let fs: Fs = Arc::new(Mutex::new(
        files
            .iter()
            .map(|(p, c, m)| ((*p).to_string(), (c.map(String::from), (*m).to_string())))
            .collect(),
    ));
    let inner = fs.clone();
    let host = MockHost::new(move |f, args, kw| fake(&inner, f, args, kw));
    (host, fs)
}

fn fake(fs: &Fs, f: &str, args: &[Value], kw: &Map<String, Value>) -> Result<Value, String> {
    let mut fs = fs.lock().map_err(|e| e.to_string())?;
    let path = args
        .first()
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let entry = fs.get(&path).cloned();
    match f {
        "file.stats" => entry
            .map(|(c, mode)| json!({"type": if c.is_some() {"file"} else {"dir"}, "mode": mode, "user": "root", "group": "root", "uid": 0, "gid": 0}))
            .ok_or_else(|| format!("Path not found: {path}")),
        "file.exists" => Ok(json!(entry.is_some())),
        "file.file_exists" => Ok(json!(entry.is_some_and(|e| e.0.is_some()))),
        "file.directory_exists" => Ok(json!(entry.is_some_and(|e| e.0.is_none()))),
        "file.is_link" => Ok(json!(false)),
        "file.readdir" => {
            let below = format!("{path}/");
            let children = fs
                .keys()
                .filter_map(|p| p.strip_prefix(&below))
                .filter(|rest| !rest.contains('/'));
            Ok(json!(
                [".", ".."]
                    .into_iter()
                    .chain(children)
                    .collect::<Vec<_>>()
            ))
        }
        "file.read" => Ok(json!(entry.and_then(|e| e.0).unwrap_or_default())),
        "file.set_mode" => {
            let mode = args.get(1).map(crate::modules::text).unwrap_or_default();
            if let Some(e) = fs.get_mut(&path) {
                e.1 = mode.clone();
            }
            Ok(json!(mode))
        }
        "file.makedirs" => Ok(Value::Null),
        "file.remove" => Ok(json!(fs.remove(&path).is_some())),
        "file.manage_contents" => {
            let new = kw.get("contents").and_then(Value::as_str).unwrap_or("cached bytes\n").to_string();
            let old = entry.and_then(|e| e.0);
            if old.as_deref() == Some(new.as_str()) {
                return Ok(json!({"changed": false, "diff": ""}));
            }
            let diff = match &old {
                None => "New file".to_string(),
                Some(o) => format!("--- \n+++ \n@@ -1 +1 @@\n-{o}+{new}"),
            };
            if kw.get("dry_run") != Some(&json!(true)) {
                fs.insert(path, (Some(new), "0644".into()));
            }
            Ok(json!({"changed": true, "diff": diff}))
        }
        "file.replace" => Ok(json!(if args.get(1) == Some(&json!("old")) { "--- \n+++ \n-old\n+new\n" } else { "" })),
        _ => Err(format!("unexpected {f}")),
    }
}

#[test]
fn managed_creates_a_new_file_like_salt() {
    let (h, fs) = fs_host(&[("/etc", None, "0755")]);
    let ch = chunk("file", "managed", "/etc/motd", json!({"contents": "hello"}));
    let t = run(managed::managed, &h, &ch, true);
    assert_eq!(t.result, None);
    assert_eq!(t.changes["newfile"], json!("/etc/motd"));
    assert!(
        t.comment
            .starts_with("The file /etc/motd is set to be changed\nNote: No changes made")
    );
    let r = run(managed::managed, &h, &ch, false);
    assert_eq!(r.result, Some(true));
    assert_eq!(r.comment, "File /etc/motd updated");
    assert_eq!(r.changes["diff"], json!("New file"));
    let written = fs
        .lock()
        .map(|f| f.get("/etc/motd").cloned())
        .ok()
        .flatten();
    assert_eq!(written.and_then(|w| w.0).as_deref(), Some("hello\n"));
    let again = run(managed::managed, &h, &ch, false);
    assert_eq!(again.comment, "File /etc/motd is in the correct state");
    assert!(again.changes.is_empty());
}

#[test]
fn managed_reports_a_diff_and_a_mode_change() {
    let (h, _) = fs_host(&[
        ("/etc", None, "0755"),
        ("/etc/app.conf", Some("a=1\n"), "0644"),
    ]);
    let ch = chunk(
        "file",
        "managed",
        "/etc/app.conf",
        json!({"contents": "a=2", "mode": 600}),
    );
    let t = run(managed::managed, &h, &ch, true);
    assert_eq!(t.result, None);
    assert_eq!(t.changes["mode"], json!("0600"));
    assert!(
        t.changes["diff"]
            .as_str()
            .is_some_and(|d| d.contains("+a=2"))
    );
    let r = run(managed::managed, &h, &ch, false);
    assert_eq!(r.changes["mode"], json!("0600"));
    assert_eq!(h.calls_to("file.set_mode")[0].args[1], json!("0600"));
}

#[test]
fn managed_needs_a_parent_directory_or_makedirs() {
    let (h, _) = fs_host(&[]);
    let ch = chunk("file", "managed", "/opt/x/y", json!({"contents": "x"}));
    let r = run(managed::managed, &h, &ch, false);
    assert_eq!(
        (r.result, r.comment.as_str()),
        (Some(false), "Parent directory not present")
    );
    let rel = chunk("file", "managed", "rel/path", json!({}));
    assert_eq!(
        run(managed::managed, &h, &rel, false).comment,
        "Specified file rel/path is not an absolute path"
    );
}

#[test]
fn managed_with_replace_false_keeps_the_bytes() {
    let (h, _) = fs_host(&[
        ("/etc", None, "0755"),
        ("/etc/keep", Some("mine\n"), "0644"),
    ]);
    let ch = chunk(
        "file",
        "managed",
        "/etc/keep",
        json!({"contents": "theirs", "replace": false}),
    );
    let r = run(managed::managed, &h, &ch, false);
    assert_eq!(
        r.comment,
        "File /etc/keep exists with proper permissions. No changes made."
    );
    assert!(!h.called("file.manage_contents"));
}

#[test]
fn managed_from_a_missing_salt_source_fails() {
    let (h, _) = fs_host(&[("/etc", None, "0755")]);
    let ch = chunk(
        "file",
        "managed",
        "/etc/x",
        json!({"source": "salt://nope"}),
    );
    // Salt 3008.5 (conformance apply-file-managed): prefixed in a real run,
    // not in test mode.
    let r = run(managed::managed, &h, &ch, false);
    assert_eq!(
        r.comment,
        "Unable to manage file: Source file salt://nope not found in saltenv 'base'"
    );
    let t = run(managed::managed, &h, &ch, true);
    assert_eq!(
        t.comment,
        "Source file salt://nope not found in saltenv 'base'"
    );
    assert_eq!(t.result, Some(false));
}

#[test]
fn managed_predicts_a_new_file_even_without_its_parent() {
    let (h, _) = fs_host(&[("/etc", None, "0755")]);
    let ch = chunk("file", "managed", "/etc/no/x", json!({"contents": "x"}));
    let t = run(managed::managed, &h, &ch, true);
    assert_eq!(t.result, None);
    assert_eq!(t.changes["newfile"], json!("/etc/no/x"));
    let r = run(managed::managed, &h, &ch, false);
    assert_eq!(r.comment, "Parent directory not present");
}

#[test]
fn serialize_writes_sorted_json() {
    let (h, fs) = fs_host(&[("/etc", None, "0755")]);
    let ch = chunk(
        "file",
        "serialize",
        "/etc/a.json",
        json!({"dataset": {"b": 1, "a": [1]}, "formatter": "json"}),
    );
    run(serialize::serialize, &h, &ch, false);
    let body = fs
        .lock()
        .ok()
        .and_then(|f| f.get("/etc/a.json").cloned())
        .and_then(|e| e.0);
    assert_eq!(
        body.as_deref(),
        Some("{\n  \"a\": [\n    1\n  ],\n  \"b\": 1\n}\n")
    );
}

#[test]
fn directory_is_created_and_predicted() {
    let (h, _) = fs_host(&[("/srv", None, "0755")]);
    let ch = chunk("file", "directory", "/srv/app", json!({}));
    let t = run(paths::directory, &h, &ch, true);
    assert_eq!(
        t.comment,
        "The following files will be changed:\n/srv/app: directory - new\n"
    );
    assert_eq!(t.changes["/srv/app"], json!({"directory": "new"}));
    // Salt 3008.5 (conformance apply-file-directory): a new directory's
    // comment is empty.
    let r = run(paths::directory, &h, &ch, false);
    assert_eq!(r.comment, "");
    assert_eq!(r.changes["/srv/app"], json!({"directory": "new"}));
    let orphan = chunk("file", "directory", "/nope/app", json!({}));
    let failed = run(paths::directory, &h, &orphan, false);
    assert_eq!(failed.comment, "No directory to create /nope/app in");
    assert_eq!(failed.changes["/nope/app"], json!({"directory": "new"}));
    let (h2, _) = fs_host(&[("/srv", None, "0755")]);
    let ok = run(
        paths::directory,
        &h2,
        &chunk("file", "directory", "/srv", json!({"mode": 755})),
        false,
    );
    assert_eq!(ok.comment, "The directory /srv is in the correct state");
}

/// `/srv/app` with a file and a directory tree to clean and `keep.conf`,
/// which a required `file.managed` manages.
fn directory_to_clean() -> (MockHost, LowChunk, LowChunk) {
    let (h, _) = fs_host(&[
        ("/srv", None, "0755"),
        ("/srv/app", None, "0755"),
        ("/srv/app/keep.conf", Some("k"), "0644"),
        ("/srv/app/old", None, "0755"),
        ("/srv/app/old/a.conf", Some("a"), "0644"),
        ("/srv/app/z.conf", Some("z"), "0644"),
    ]);
    let dir = chunk(
        "file",
        "directory",
        "/srv/app",
        json!({"mode": "0750", "clean": true}),
    );
    let keep = chunk("file", "managed", "/srv/app/keep.conf", json!({}));
    (h, dir, keep)
}

fn run_required(
    host: &MockHost,
    chunk: &LowChunk,
    required: &[&LowChunk],
    test: bool,
) -> crate::lowstate::StateResult {
    paths::directory(&crate::lowstate::StateCall {
        host,
        chunk,
        test,
        required,
    })
}

#[test]
fn directory_clean_predicts_each_path_in_walk_order_like_salt() {
    let (h, dir, keep) = directory_to_clean();
    let t = run_required(&h, &dir, &[&keep], true);
    assert_eq!(t.result, None);
    // Salt 3008.5 (conformance file-directory-clean): the directory's own
    // change, then each directory's files before its subdirectories.
    assert_eq!(
        t.comment,
        "The following files will be changed:\n\
         /srv/app: mode - 0750\n\
         /srv/app/z.conf: removed - Removed due to clean\n\
         /srv/app/old: removed - Removed due to clean\n\
         /srv/app/old/a.conf: removed - Removed due to clean\n"
    );
    let keys: Vec<&String> = t.changes.keys().collect();
    assert_eq!(
        keys,
        [
            "/srv/app",
            "/srv/app/z.conf",
            "/srv/app/old",
            "/srv/app/old/a.conf"
        ]
    );
    assert_eq!(
        t.changes["/srv/app/old"],
        json!({"removed": "Removed due to clean"})
    );
    assert!(h.calls_to("file.remove").is_empty());
}

#[test]
fn directory_clean_removes_a_doomed_tree_once_and_lists_its_top() {
    let (h, dir, keep) = directory_to_clean();
    let r = run_required(&h, &dir, &[&keep], false);
    assert_eq!(r.result, Some(true));
    assert_eq!(r.comment, "Files cleaned from directory /srv/app");
    assert_eq!(
        r.changes["removed"],
        json!(["/srv/app/z.conf", "/srv/app/old"])
    );
    assert_eq!(r.changes["mode"], json!("0750"));
    assert_eq!(
        r.changes["/srv/app/old/a.conf"],
        json!({"removed": "Removed due to clean"})
    );
    let removed: Vec<Value> = h
        .calls_to("file.remove")
        .into_iter()
        .map(|c| c.args[0].clone())
        .collect();
    assert_eq!(removed, [json!("/srv/app/z.conf"), json!("/srv/app/old")]);
}

#[test]
fn absent_removes_and_predicts() {
    let (h, _) = fs_host(&[("/tmp/x", Some(""), "0644")]);
    let ch = chunk("file", "absent", "/tmp/x", json!({}));
    assert_eq!(
        run(paths::absent, &h, &ch, true).comment,
        "File /tmp/x is set for removal"
    );
    let r = run(paths::absent, &h, &ch, false);
    assert_eq!(
        (r.comment.as_str(), r.changes["removed"].clone()),
        ("Removed file /tmp/x", json!("/tmp/x"))
    );
    assert_eq!(
        run(paths::absent, &h, &ch, false).comment,
        "File /tmp/x is not present"
    );
}

#[test]
fn replace_passes_dry_run_in_test_mode() {
    let (h, _) = fs_host(&[("/etc/c", Some("old\n"), "0644")]);
    let ch = chunk(
        "file",
        "replace",
        "/etc/c",
        json!({"pattern": "old", "repl": "new"}),
    );
    let t = run(edit::replace, &h, &ch, true);
    assert_eq!(
        (t.result, t.comment.as_str()),
        (None, "Changes would have been made")
    );
    assert_eq!(h.calls_to("file.replace")[0].kwargs["dry_run"], json!(true));
    let r = run(edit::replace, &h, &ch, false);
    assert_eq!(r.comment, "Changes were made");
    let none = chunk(
        "file",
        "replace",
        "/etc/c",
        json!({"pattern": "zzz", "repl": "new"}),
    );
    assert_eq!(
        run(edit::replace, &h, &none, false).comment,
        "No changes needed to be made"
    );
}

#[test]
fn append_adds_only_missing_text() {
    let (h, fs) = fs_host(&[("/etc/f", Some("one\n"), "0644")]);
    let ch = chunk("file", "append", "/etc/f", json!({"text": ["one", "two"]}));
    let r = run(edit::append, &h, &ch, false);
    assert_eq!(r.comment, "Appended 1 lines");
    let body = fs
        .lock()
        .ok()
        .and_then(|f| f.get("/etc/f").cloned())
        .and_then(|e| e.0);
    assert_eq!(body.as_deref(), Some("one\ntwo\n"));
    assert_eq!(
        run(edit::append, &h, &ch, false).comment,
        "File /etc/f is in correct state"
    );
}

#[test]
fn exists_and_missing_check_only() {
    let (h, _) = fs_host(&[("/etc", None, "0755")]);
    assert_eq!(
        run(
            paths::exists,
            &h,
            &chunk("file", "exists", "/etc", json!({})),
            false
        )
        .result,
        Some(true)
    );
    assert_eq!(
        run(
            paths::missing,
            &h,
            &chunk("file", "missing", "/etc", json!({})),
            false
        )
        .result,
        Some(false)
    );
}

#[test]
fn managed_without_bytes_creates_an_empty_file_or_only_fixes_the_mode() {
    let (h, _) = fs_host(&[("/etc", None, "0755")]);
    let ch = chunk("file", "managed", "/etc/empty", json!({}));
    let r = run(managed::managed, &h, &ch, false);
    assert_eq!(r.comment, "Empty file");
    assert_eq!(r.changes["new"], json!("file /etc/empty created"));
    let again = run(managed::managed, &h, &ch, false);
    assert_eq!(
        again.comment,
        "File /etc/empty exists with proper permissions. No changes made."
    );
}

#[test]
fn managed_template_sees_salts_get_managed_names_and_no_sls_names() {
    let (mut h, fs) = fs_host(&[("/etc", None, "0755")]);
    h.files.insert(
        "app/t.j2",
        b"{{ name }}|{{ source }}|{{ mode }}|{{ user }}|{{ group }}|{{ attrs }}|{{ sls|default('none') }}|{{ tpldir is defined }}|{{ port }}|{{ user2 }}"
            .to_vec(),
    );
    let ch = chunk(
        "file",
        "managed",
        "/etc/app.conf",
        json!({
            "source": ["salt://app/missing.j2", "salt://app/t.j2"],
            "template": "jinja",
            "mode": 644,
            "user": "root",
            "defaults": {"port": 80, "user2": "d"},
            "context": {"port": 8080},
        }),
    );
    let r = run(managed::managed, &h, &ch, false);
    assert_eq!(r.result, Some(true), "{}", r.comment);
    let written = fs
        .lock()
        .map(|f| f["/etc/app.conf"].0.clone())
        .ok()
        .flatten();
    assert_eq!(
        written.as_deref(),
        Some("/etc/app.conf|salt://app/t.j2|0644|root|None|None|none|False|8080|d")
    );
}

#[test]
fn edits_of_a_missing_file_fail_with_salts_file_not_found() {
    let (h, _) = fs_host(&[("/etc", None, "0755")]);
    let cases: [(crate::lowstate::StateFn, &str, Value); 4] = [
        (
            edit::replace,
            "replace",
            json!({"pattern": "a", "repl": "b"}),
        ),
        (edit::blockreplace, "blockreplace", json!({"content": "x"})),
        (edit::comment, "comment", json!({"regex": "x"})),
        (
            edit::line,
            "line",
            json!({"content": "x", "mode": "ensure", "create": true}),
        ),
    ];
    for (f, fun, args) in cases {
        for test in [true, false] {
            let ch = chunk("file", fun, "/etc/missing", args.clone());
            let r = run(f, &h, &ch, test);
            assert_eq!(r.result, Some(false), "{fun} test={test}");
            assert_eq!(
                r.comment, "/etc/missing: file not found",
                "{fun} test={test}"
            );
        }
    }
    assert!(!h.called("file.replace") && !h.called("file.blockreplace"));
}

#[test]
fn replace_of_a_missing_file_with_ignore_if_missing_is_fine() {
    let (h, _) = fs_host(&[]);
    let ch = chunk(
        "file",
        "replace",
        "/etc/missing",
        json!({"pattern": "a", "repl": "b", "ignore_if_missing": true}),
    );
    let r = run(edit::replace, &h, &ch, true);
    assert_eq!(r.result, Some(true));
    assert_eq!(r.comment, "No changes needed to be made");
}

#[test]
fn append_to_a_missing_file_in_test_mode_answers_with_the_touch() {
    let (h, _) = fs_host(&[("/etc", None, "0755")]);
    let ch = chunk(
        "file",
        "append",
        "/etc/sudoers",
        json!({"text": ["Defaults env_reset"]}),
    );
    let r = run(edit::append, &h, &ch, true);
    assert_eq!(r.result, None);
    assert_eq!(r.comment, "File /etc/sudoers is set to be created");
    assert_eq!(
        r.changes,
        json!({"new": "/etc/sudoers"})
            .as_object()
            .cloned()
            .unwrap_or_default()
    );
}

#[test]
fn touch_in_test_mode_of_an_existing_file_is_right_as_salt_says() {
    let (h, _) = fs_host(&[("/etc/motd", Some("hi\n"), "0644")]);
    let ch = chunk("file", "touch", "/etc/motd", json!({}));
    let r = run(paths::touch, &h, &ch, true);
    assert_eq!(r.result, Some(true));
    assert_eq!(r.comment, "File /etc/motd exists and has the correct times");
    assert_eq!(r.changes["new"], json!("/etc/motd"));
}

#[test]
fn managed_with_create_false_leaves_a_missing_file_alone() {
    let (h, fs) = fs_host(&[("/usr", None, "0755")]);
    let ch = chunk(
        "file",
        "managed",
        "/usr/my.cnf",
        json!({"contents": "x", "create": false}),
    );
    for test in [true, false] {
        let r = run(managed::managed, &h, &ch, test);
        assert_eq!(r.result, Some(true));
        assert_eq!(
            r.comment,
            "File /usr/my.cnf is not present and is not set for creation"
        );
    }
    assert!(fs.lock().is_ok_and(|f| !f.contains_key("/usr/my.cnf")));
}

#[test]
fn managed_source_with_dot_parts_is_not_found_as_in_salt() {
    let (h, _) = fs_host(&[("/etc", None, "0755")]);
    let ch = chunk(
        "file",
        "managed",
        "/etc/foo.schema",
        json!({"source": "salt://./files/foo.schema"}),
    );
    let r = run(managed::managed, &h, &ch, false);
    assert_eq!(
        r.comment,
        "Unable to manage file: Source file salt://./files/foo.schema not found in saltenv 'base'"
    );
}

#[test]
fn managed_source_with_an_empty_authority_is_a_file_server_path_as_in_salt() {
    // Salt's `salt.utils.url.parse` drops the leading slashes
    // (`salt:///etc/passwd` is `salt://etc/passwd`), so the host is never
    // asked for an absolute path.
    let (h, _) = fs_host(&[("/etc", None, "0755")]);
    let ch = chunk(
        "file",
        "managed",
        "/etc/x",
        json!({"source": "salt:///etc/passwd"}),
    );
    let r = run(managed::managed, &h, &ch, false);
    assert_eq!(r.result, Some(false));
    assert_eq!(
        r.comment,
        "Unable to manage file: Source file salt:///etc/passwd not found in saltenv 'base'"
    );
}

#[test]
fn managed_source_that_cannot_be_a_file_server_path_is_refused_by_the_state() {
    let (h, _) = fs_host(&[("/etc", None, "0755")]);
    let ch = chunk(
        "file",
        "managed",
        "/etc/x",
        json!({"source": "salt://x?saltenv=../up"}),
    );
    let r = run(managed::managed, &h, &ch, false);
    assert_eq!(r.result, Some(false));
    assert!(r.comment.contains("not a valid saltenv"), "{}", r.comment);
}

#[test]
fn append_asks_for_salts_append_diff_and_prepend_does_not() {
    let (h, _) = fs_host(&[("/etc/app.conf", Some("alpha=1\n"), "0644")]);
    let ch = chunk("file", "append", "/etc/app.conf", json!({"text": "beta=2"}));
    run(edit::append, &h, &ch, true);
    let ch = chunk(
        "file",
        "prepend",
        "/etc/app.conf",
        json!({"text": "zero=0"}),
    );
    run(edit::prepend, &h, &ch, true);
    let calls = h.calls_to("file.manage_contents");
    let flags: Vec<Value> = calls
        .iter()
        .map(|r| r.kwargs["diff_lines"].clone())
        .collect();
    assert_eq!(flags, vec![json!(true), json!(false)]);
}

#[test]
fn managed_check_cmd_checks_a_temp_copy_before_writing() {
    let fs: Fs = Arc::new(Mutex::new(BTreeMap::from([(
        "/etc".to_string(),
        (None, "0755".to_string()),
    )])));
    let inner = fs.clone();
    let h = MockHost::new(move |f, args, kw| match f {
        "file.mkstemp" => {
            if let Ok(mut fs) = inner.lock() {
                fs.insert(
                    "/tmp/__salt.tmp.x".into(),
                    (Some(String::new()), "0600".into()),
                );
            }
            Ok(json!("/tmp/__salt.tmp.x"))
        }
        "cmd.run_all" => {
            let cmd = args.first().and_then(Value::as_str).unwrap_or("");
            let ok = cmd == "grep -q ok /tmp/__salt.tmp.x";
            Ok(
                json!({"retcode": if ok { 0 } else { 1 }, "stdout": "", "stderr": if ok { "" } else { "no match" }}),
            )
        }
        _ => fake(&inner, f, args, kw),
    });
    let bad = chunk(
        "file",
        "managed",
        "/etc/checked2",
        json!({"contents": "ok", "check_cmd": "grep -q missing"}),
    );
    let r = run(managed::managed, &h, &bad, false);
    assert_eq!(r.result, Some(false));
    assert_eq!(r.comment, "check_cmd execution failed\nno match");
    assert!(r.skip_watch && r.changes.is_empty());
    let good = chunk(
        "file",
        "managed",
        "/etc/checked",
        json!({"contents": "ok", "check_cmd": "grep -q ok"}),
    );
    let r = run(managed::managed, &h, &good, false);
    assert_eq!(r.result, Some(true), "{}", r.comment);
    let files = fs.lock().map(|f| f.clone()).unwrap_or_default();
    assert!(files.contains_key("/etc/checked") && !files.contains_key("/etc/checked2"));
    assert!(!files.contains_key("/tmp/__salt.tmp.x"));
}

/// [`fs_host`] with a file server holding `master` (paths without
/// `salt://`), answering `cp.list_master_dirs` as the minion does.
fn master_host(files: &[(&str, Option<&str>, &str)], master: &[&str]) -> (MockHost, Fs) {
    let (plain, fs) = fs_host(files);
    drop(plain);
    let inner = fs.clone();
    let listed: Vec<String> = master.iter().map(|m| (*m).to_string()).collect();
    let mut host = MockHost::new(move |f, args, kw| match f {
        "cp.list_master_dirs" => {
            let prefix = kw
                .get("prefix")
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim_matches('/')
                .to_string();
            let mut dirs: Vec<String> = listed
                .iter()
                .flat_map(|f| f.match_indices('/').map(move |(at, _)| f[..at].to_string()))
                .filter(|d| d.starts_with(&prefix))
                .collect();
            dirs.sort();
            dirs.dedup();
            Ok(json!(dirs))
        }
        "file.find" => {
            let fs = inner.lock().map_err(|e| e.to_string())?;
            let root = args.first().and_then(Value::as_str).unwrap_or("");
            let under: Vec<&String> = fs
                .keys()
                .filter(|p| p.starts_with(&format!("{root}/")))
                .collect();
            Ok(json!(under))
        }
        _ => fake(&inner, f, args, kw),
    });
    host.files = master
        .iter()
        .map(|m| ((*m).to_string(), b"x\n".to_vec()))
        .collect();
    (host, fs)
}

#[test]
fn recurse_test_mode_reports_each_directory_and_file_like_salt() {
    let (h, _) = master_host(
        &[("/srv", None, "0755")],
        &["app/conf/sub/b.conf", "app/conf/a.conf"],
    );
    let ch = chunk(
        "file",
        "recurse",
        "/srv/app",
        json!({"source": "salt://app/conf"}),
    );
    let t = run(recurse::recurse, &h, &ch, true);
    assert_eq!(t.result, None);
    assert_eq!(
        Value::Object(t.changes),
        json!({
            "/srv/app": {"/srv/app": {"directory": "new"}},
            "/srv/app/sub": {"/srv/app/sub": {"directory": "new"}},
            "/srv/app/a.conf": {"newfile": "/srv/app/a.conf"},
            "/srv/app/sub/b.conf": {"newfile": "/srv/app/sub/b.conf"},
        })
    );
    let note = "Note: No changes made, actual changes may\nbe different due to other states.";
    assert_eq!(
        t.comment,
        format!(
            "#### /srv/app ####\nThe following files will be changed:\n/srv/app: directory - new\n\n\n\
             #### /srv/app/sub ####\nThe following files will be changed:\n/srv/app/sub: directory - new\n\n\n\
             #### /srv/app/a.conf ####\nThe file /srv/app/a.conf is set to be changed\n{note}\n\n\
             #### /srv/app/sub/b.conf ####\nThe file /srv/app/sub/b.conf is set to be changed\n{note}"
        )
    );
    assert!(!h.called("file.makedirs"), "test mode creates nothing");
}

#[test]
fn recurse_takes_the_first_existing_source_of_a_list() {
    let (h, _) = master_host(
        &[("/srv", None, "0755"), ("/srv/app", None, "0755")],
        &["b/f"],
    );
    let ch = chunk(
        "file",
        "recurse",
        "/srv/app",
        json!({"source": ["salt://a", "salt://b/", "salt://c"]}),
    );
    let t = run(recurse::recurse, &h, &ch, true);
    assert_eq!(t.result, None);
    assert_eq!(t.changes["/srv/app/f"], json!({"newfile": "/srv/app/f"}));
}

#[test]
fn recurse_source_errors_are_salts() {
    let (h, _) = master_host(&[("/srv", None, "0755")], &["b/f"]);
    let missing = chunk(
        "file",
        "recurse",
        "/srv/app",
        json!({"source": ["salt://a", "salt://c"]}),
    );
    let r = run(recurse::recurse, &h, &missing, true);
    assert_eq!(r.result, Some(false));
    assert_eq!(
        r.comment,
        "Recurse failed: none of the specified sources were found"
    );
    let local = chunk(
        "file",
        "recurse",
        "/srv/app",
        json!({"source": ["salt://b", "/tmp/x"]}),
    );
    assert_eq!(
        run(recurse::recurse, &h, &local, true).comment,
        "Recurse failed: Invalid source '/tmp/x' (must be a salt:// URI)"
    );
    let mode = chunk(
        "file",
        "recurse",
        "/srv/app",
        json!({"source": "salt://b", "mode": 644}),
    );
    assert_eq!(
        run(recurse::recurse, &h, &mode, true).comment,
        "'mode' is not allowed in 'file.recurse'. Please use 'file_mode' and 'dir_mode'."
    );
}

#[test]
fn recurse_with_every_file_excluded_is_in_the_correct_state() {
    let (h, _) = master_host(
        &[("/srv", None, "0755")],
        &["maps/_ec2.conf", "maps/_gce.conf"],
    );
    let ch = chunk(
        "file",
        "recurse",
        "/srv/maps",
        json!({"source": "salt://maps", "exclude_pat": "_*"}),
    );
    let t = run(recurse::recurse, &h, &ch, true);
    assert_eq!(t.result, Some(true));
    assert!(t.changes.is_empty());
    assert_eq!(t.comment, "The directory /srv/maps is in the correct state");
}

#[test]
fn recurse_include_empty_manages_the_source_root_as_name_dot() {
    let (h, _) = master_host(&[("/srv", None, "0755")], &["files/user/.keep"]);
    let ch = chunk(
        "file",
        "recurse",
        "/srv/u",
        json!({"source": "salt://files", "include_empty": true}),
    );
    let t = run(recurse::recurse, &h, &ch, true);
    let mut keys: Vec<&String> = t.changes.keys().collect();
    keys.sort();
    assert_eq!(keys, vec!["/srv/u/.", "/srv/u/user", "/srv/u/user/.keep"]);
}

#[test]
fn recurse_clean_lists_what_it_would_remove_in_test_mode() {
    let (h, _) = master_host(
        &[
            ("/srv", None, "0755"),
            ("/srv/app", None, "0755"),
            ("/srv/app/old", Some("x"), "0644"),
        ],
        &["src/f"],
    );
    let ch = chunk(
        "file",
        "recurse",
        "/srv/app",
        json!({"source": "salt://src", "clean": true}),
    );
    let t = run(recurse::recurse, &h, &ch, true);
    assert_eq!(t.result, None);
    assert!(
        t.comment.ends_with("#### removed ####\n/srv/app/old"),
        "{}",
        t.comment
    );
    assert!(!t.changes.contains_key("removed"));
}

#[test]
fn recurse_patterns_match_the_whole_relative_path() {
    let (h, _) = master_host(
        &[("/srv", None, "0755"), ("/srv/app", None, "0755")],
        &["s/_a", "s/d/_b", "s/c"],
    );
    let ch = chunk(
        "file",
        "recurse",
        "/srv/app",
        json!({"source": "salt://s", "exclude_pat": "_*"}),
    );
    let t = run(recurse::recurse, &h, &ch, true);
    let mut keys: Vec<&String> = t.changes.keys().collect();
    keys.sort();
    // `_*` does not match `d/_b` (Python's fnmatch on the relative path).
    assert_eq!(keys, vec!["/srv/app/c", "/srv/app/d", "/srv/app/d/_b"]);
    let re = chunk(
        "file",
        "recurse",
        "/srv/app",
        json!({"source": "salt://s", "include_pat": "E@^d/"}),
    );
    let t = run(recurse::recurse, &h, &re, true);
    let mut keys: Vec<&String> = t.changes.keys().collect();
    keys.sort();
    assert_eq!(keys, vec!["/srv/app/d", "/srv/app/d/_b"]);
}

#[test]
fn serialize_test_mode_says_the_dataset_will_be_stored() {
    let (h, _) = fs_host(&[("/etc", None, "0755")]);
    let ch = chunk(
        "file",
        "serialize",
        "/etc/a.yml",
        json!({"dataset": {"a": 1}}),
    );
    let t = run(serialize::serialize, &h, &ch, true);
    assert_eq!(t.result, None);
    assert_eq!(
        t.comment,
        "Dataset will be serialized and stored into /etc/a.yml"
    );
    assert_eq!(Value::Object(t.changes), json!({"newfile": "/etc/a.yml"}));
    let quiet = chunk(
        "file",
        "serialize",
        "/etc/a.yml",
        json!({"dataset": {"a": 1}, "show_changes": false}),
    );
    let t = run(serialize::serialize, &h, &quiet, true);
    assert_eq!(t.changes["diff"], json!("<show_changes=False>"));
}

#[test]
fn serialize_writes_yaml_block_style_with_one_final_newline() {
    let (h, fs) = fs_host(&[("/etc", None, "0755")]);
    let ch = chunk(
        "file",
        "serialize",
        "/etc/a.yml",
        json!({"dataset": {"b": [1], "a": "x"}}),
    );
    run(serialize::serialize, &h, &ch, false);
    let body = fs
        .lock()
        .ok()
        .and_then(|f| f.get("/etc/a.yml").cloned())
        .and_then(|e| e.0);
    assert_eq!(body.as_deref(), Some("a: x\nb:\n- 1\n"));
}

#[test]
fn serialize_argument_errors_are_salts() {
    let (h, _) = fs_host(&[("/etc", None, "0755")]);
    let cases = [
        (
            json!({}),
            "Neither 'dataset' nor 'dataset_pillar' was defined",
        ),
        (
            json!({"dataset": {"a": 1}, "serializer": "json", "formatter": "yaml"}),
            "Only one of serializer and formatter are allowed",
        ),
        (
            json!({"dataset": {"a": 1}, "dataset_pillar": "x"}),
            "Only one of 'dataset' and 'dataset_pillar' is permitted",
        ),
        (
            json!({"dataset": {"a": 1}, "formatter": "toml"}),
            "The toml serializer could not be found. It either does not exist or its prerequisites are not installed.",
        ),
    ];
    for (args, comment) in cases {
        let ch = chunk("file", "serialize", "/etc/a", args);
        let r = run(serialize::serialize, &h, &ch, true);
        assert_eq!((r.result, r.comment.as_str()), (Some(false), comment));
    }
    let absent = chunk(
        "file",
        "serialize",
        "/etc/a",
        json!({"dataset": {}, "create": false}),
    );
    assert_eq!(
        run(serialize::serialize, &h, &absent, true).comment,
        "File /etc/a is not present and is not set for creation"
    );
}

#[test]
fn recurse_clean_replaces_a_directory_where_a_file_belongs() {
    let (h, fs) = master_host(
        &[
            ("/srv", None, "0755"),
            ("/srv/app", None, "0755"),
            ("/srv/app/f", None, "0755"),
        ],
        &["src/f"],
    );
    let ch = chunk(
        "file",
        "recurse",
        "/srv/app",
        json!({"source": "salt://src", "clean": true}),
    );
    let t = run(recurse::recurse, &h, &ch, true);
    assert_eq!(t.result, None);
    assert_eq!(
        t.comment,
        "#### /srv/app/f ####\nReplacing directory /srv/app/f with a file"
    );
    let r = run(recurse::recurse, &h, &ch, false);
    assert_eq!(r.result, Some(true), "{}", r.comment);
    assert_eq!(r.changes["/srv/app/f"]["diff"], json!("New file"));
    let now_a_file = fs
        .lock()
        .ok()
        .and_then(|f| f.get("/srv/app/f").cloned())
        .and_then(|e| e.0);
    assert_eq!(now_a_file.as_deref(), Some("cached bytes\n"));
}

#[test]
fn recurse_refuses_unknown_owners_except_in_test_mode() {
    let (plain, _) = master_host(&[("/srv", None, "0755")], &["src/f"]);
    drop(plain);
    let h = MockHost::new(|f, args, _| match f {
        "user.info" | "group.info" => Ok(if args.first() == Some(&json!("root")) {
            json!({"name": "root"})
        } else {
            json!({})
        }),
        "cp.list_master_dirs" => Ok(json!(["src"])),
        _ => Err(format!("unexpected {f}")),
    });
    let ch = chunk(
        "file",
        "recurse",
        "/srv/app",
        json!({"source": "salt://src", "user": "nosuch", "group": "nogroup"}),
    );
    let r = run(recurse::recurse, &h, &ch, false);
    assert_eq!(
        r.comment,
        "User nosuch is not available Group nogroup is not available"
    );
    let known = chunk(
        "file",
        "recurse",
        "/srv/app",
        json!({"source": "salt://src", "user": "root", "group": "nogroup"}),
    );
    assert_eq!(
        run(recurse::recurse, &h, &known, false).comment,
        "Group nogroup is not available"
    );
    let t = run(recurse::recurse, &h, &ch, true);
    assert_ne!(t.comment, r.comment, "test mode only logs unknown owners");
}
