//! `pkgrepo` states against a mock minion whose `pkg.get_repo` knows one
//! repository; comments are Salt 3008.5's.

use serde_json::{Map, Value, json};

use super::*;
use crate::modules::mock::{MockHost, chunk, run};

const SURY: &str = "deb https://packages.sury.org/php/ bookworm main";

/// A Debian minion where `configured` (if any) is the one repository.
fn host(configured: Option<Map<String, Value>>) -> MockHost {
    MockHost::new(move |f, _args, _kw| match f {
        "pkg.get_repo" => Ok(Value::Object(configured.clone().unwrap_or_default())),
        "pkg.mod_repo" => Ok(json!({})),
        "pkg.del_repo" => Ok(json!("Repo removed")),
        "pkg.list_repos" => Ok(json!({})),
        "file.file_exists" => Ok(json!(false)),
        _ => Err(format!("unexpected {f}")),
    })
}

/// What `pkg.get_repo` gives for the sury line in `file`.
fn sury_entry(file: &str) -> Map<String, Value> {
    json!({
        "file": file, "comps": ["main"], "disabled": false, "enabled": true,
        "dist": "bookworm", "suites": ["bookworm"], "type": "deb", "types": ["deb"],
        "uri": "https://packages.sury.org/php/", "uris": ["https://packages.sury.org/php/"],
        "line": SURY, "architectures": [], "signedby": "",
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

fn php_chunk() -> crate::lowstate::LowChunk {
    chunk(
        "pkgrepo",
        "managed",
        SURY,
        json!({
            "humanname": "ondrej/php",
            "file": "/etc/apt/sources.list.d/ondrej-php.list",
            "key_url": "https://packages.sury.org/php/apt.gpg",
            "onlyif": ["test ! -e /etc/apt/sources.list.d/ondrej-php.list"],
            "require_in": [{"pkg": "php_install_php"}],
        }),
    )
}

#[test]
fn a_missing_repo_would_be_configured() {
    let h = host(None);
    let t = run(managed, &h, &php_chunk(), true);
    assert_eq!(t.result, None);
    assert_eq!(t.changes, super::super::one("repo", json!(SURY)));
    assert_eq!(
        t.comment,
        format!(
            "Package repo '{SURY}' would be configured. This may cause pkg states to behave differently than stated if this action is repeated without test=True, due to the differences in the configured repositories."
        )
    );
    let asked = h.calls_to("pkg.get_repo");
    assert_eq!(asked[0].args, [json!(SURY)]);
    assert_eq!(asked[0].kwargs["disabled"], json!(false));
    assert!(!asked[0].kwargs.contains_key("onlyif"));
    assert!(!h.called("pkg.mod_repo"));
}

#[test]
fn a_configured_repo_is_left_alone() {
    let h = host(Some(sury_entry("/etc/apt/sources.list.d/ondrej-php.list")));
    let r = run(managed, &h, &php_chunk(), false);
    assert_eq!(r.result, Some(true));
    assert_eq!(
        r.comment,
        format!("Package repo '{SURY}' already configured")
    );
    assert!(!h.called("pkg.mod_repo"));
}

#[test]
fn a_real_run_configures_through_mod_repo() {
    let h = host(None);
    let r = run(managed, &h, &php_chunk(), false);
    assert_eq!(r.result, Some(true), "{}", r.comment);
    assert_eq!(r.comment, format!("Configured package repo '{SURY}'"));
    assert_eq!(r.changes["repo"], json!(SURY));
    let m = &h.calls_to("pkg.mod_repo")[0];
    assert_eq!(m.args, [json!(SURY)]);
    assert_eq!(
        m.kwargs["key_url"],
        json!("https://packages.sury.org/php/apt.gpg")
    );
    assert_eq!(m.kwargs["saltenv"], json!("base"));
    assert_eq!(m.kwargs["aptkey"], json!(true));
}

#[test]
fn a_disabled_repo_differs_key_by_key_in_test_mode() {
    let h = host(Some(sury_entry("/etc/apt/sources.list.d/ondrej-php.list")));
    let ch = chunk(
        "pkgrepo",
        "managed",
        SURY,
        json!({"file": "/etc/apt/sources.list.d/ondrej-php.list", "disabled": true}),
    );
    let t = run(managed, &h, &ch, true);
    assert_eq!(t.result, None);
    assert_eq!(t.changes["disabled"], json!({"new": true, "old": false}));
    assert_eq!(
        t.changes["line"],
        json!({"new": format!("# {SURY}"), "old": SURY})
    );
}

#[test]
fn argument_errors_are_salts() {
    let h = host(None);
    let both = chunk(
        "pkgrepo",
        "managed",
        SURY,
        json!({"enabled": true, "disabled": false}),
    );
    assert_eq!(
        run(managed, &h, &both, true).comment,
        "Only one of enabled/disabled is allowed"
    );
    let repo = chunk("pkgrepo", "managed", SURY, json!({"repo": "x"}));
    assert!(
        run(managed, &h, &repo, true)
            .comment
            .starts_with("'repo' is not a supported argument")
    );
    // The key conflict keeps result False but the run goes on.
    let keys = chunk(
        "pkgrepo",
        "managed",
        SURY,
        json!({"key_url": "https://k", "keyid": "ABC"}),
    );
    let t = run(managed, &h, &keys, true);
    assert_eq!(t.result, Some(false));
    assert!(t.comment.starts_with("Package repo"));
}

#[test]
fn absent_removes_only_a_present_repo() {
    let h = host(None);
    let ch = chunk("pkgrepo", "absent", SURY, json!({}));
    let r = run(absent, &h, &ch, true);
    assert_eq!(
        (r.result, r.comment.as_str()),
        (
            Some(true),
            format!("Package repo {SURY} is absent").as_str()
        )
    );
    let h = host(Some(sury_entry("/etc/apt/sources.list")));
    let t = run(absent, &h, &ch, true);
    assert_eq!(t.result, None);
    assert!(
        t.comment
            .starts_with(&format!("Package repo '{SURY}' will be removed."))
    );
    let r = run(absent, &h, &ch, false);
    assert_eq!(r.comment, format!("Removed repo {SURY}"));
    assert_eq!(r.changes["repo"], json!(SURY));
    // Salt looks the repo up without the URL's trailing slash.
    assert_eq!(
        h.calls_to("pkg.del_repo")[0].args,
        [json!("deb https://packages.sury.org/php bookworm main")]
    );
}
