//! `file.managed` with remote sources against a mock minion: what is asked
//! of `cp.cache_file` and Salt's comments (captured from Salt 3008.5).

use serde_json::{Map, Value, json};

use super::*;
use crate::modules::file::managed;
use crate::modules::mock::{MockHost, chunk, run};

const URL: &str = "http://127.0.0.1:18765/f.txt";
const SHA: &str = "12543eb212bfaeb4ba048745a032a4d4ad9f61231c89f503ef57228d5af52c8a";
const CACHED: &str = "/var/cache/extrn_files/base/127.0.0.118765/f.txt";

/// A minion where `/out` is an empty directory, `URL` downloads to
/// `CACHED` (with digest `SHA`) and any other URL fails as `reason` says.
fn host(reason: &'static str) -> MockHost {
    MockHost::new(move |f, args, _kw: &Map<String, Value>| {
        let arg0 = args.first().and_then(Value::as_str).unwrap_or("");
        match f {
            "file.stats" => Err(format!("Path not found: {arg0}")),
            "file.directory_exists" => Ok(json!(arg0 == "/out")),
            "cp.cache_file" if arg0 == URL => Ok(json!(CACHED)),
            "cp.cache_file" => Err(format!("ERROR: {reason}")),
            "cp.is_cached" => Ok(json!("")),
            "file.get_hash" => Ok(json!(SHA)),
            "file.read" => Ok(json!(format!("{SHA}  f.txt\n{}  other\n", "ab".repeat(32)))),
            "file.manage_contents" => Ok(json!({"changed": true, "diff": "New file"})),
            "file.set_mode" => Ok(json!("0600")),
            _ => Err(format!("unexpected {f}")),
        }
    })
}

fn managed_with(args: Value) -> crate::lowstate::LowChunk {
    chunk("file", "managed", "/out/a", args)
}

#[test]
fn a_remote_source_needs_a_hash_or_skip_verify() {
    let h = host("unused");
    let ch = managed_with(json!({"source": URL}));
    let msg = "Unable to verify upstream hash of source file http://127.0.0.1:18765/f.txt, please set source_hash or set skip_verify to True";
    let t = run(managed::managed, &h, &ch, true);
    assert_eq!((t.result, t.comment.as_str()), (Some(false), msg));
    let r = run(managed::managed, &h, &ch, false);
    assert_eq!(r.comment, format!("Unable to manage file: {msg}"));
    assert!(!h.called("cp.cache_file"));
}

#[test]
fn a_remote_source_is_cached_then_checked() {
    let h = host("unused");
    let ch = managed_with(json!({"source": URL, "source_hash": SHA}));
    let t = run(managed::managed, &h, &ch, true);
    assert_eq!(t.result, None);
    assert_eq!(t.changes["newfile"], json!("/out/a"));
    let cached = h.calls_to("cp.cache_file");
    assert_eq!(cached[0].kwargs["source_hash"], json!(SHA));
    let r = run(managed::managed, &h, &ch, false);
    assert_eq!(r.result, Some(true), "{}", r.comment);
    assert_eq!(r.comment, "File /out/a updated");
    let wrote = h.calls_to("file.manage_contents");
    assert_eq!(
        wrote.last().expect("written").kwargs["source"],
        json!(CACHED)
    );
}

#[test]
fn a_wrong_hash_fails_the_real_run_only() {
    let h = host("unused");
    let wrong = "ab".repeat(32);
    let ch = managed_with(json!({"source": URL, "source_hash": wrong}));
    assert_eq!(run(managed::managed, &h, &ch, true).result, None);
    let r = run(managed::managed, &h, &ch, false);
    assert_eq!(r.result, Some(false));
    assert_eq!(
        r.comment,
        format!(
            "Specified sha256 checksum for /out/a ({wrong}) does not match actual checksum ({SHA})"
        )
    );
    assert!(!h.called("file.manage_contents") || r.changes.is_empty());
}

#[test]
fn a_failed_download_gives_salts_failed_to_cache() {
    let h = host("Error: [Errno -2] Name or service not known reading /key/public");
    let url = "https://user:pw@packages.example.invalid/key/public";
    let ch = managed_with(json!({"source": url, "skip_verify": true}));
    let t = run(managed::managed, &h, &ch, true);
    assert_eq!(
        t.comment,
        "Failed to cache https://<redacted>@packages.example.invalid/key/public: Error: [Errno -2] Name or service not known reading /key/public"
    );
    let r = run(managed::managed, &h, &ch, false);
    assert!(
        r.comment
            .starts_with("Unable to manage file: Failed to cache https://<redacted>@")
    );
}

#[test]
fn a_list_of_sources_skips_remote_ones_that_fail() {
    let h = host("Error: HTTP 404: Not Found reading /missing");
    let ch = managed_with(json!({
        "source": ["http://127.0.0.1:18765/missing", URL],
        "skip_verify": true,
    }));
    let t = run(managed::managed, &h, &ch, true);
    assert_eq!(t.result, None, "{}", t.comment);
    assert_eq!(h.calls_to("cp.cache_file").len(), 2);
}

#[test]
fn a_hash_file_gives_the_line_of_this_file() {
    let h = host("unused");
    let ch = managed_with(json!({"source": URL, "source_hash": format!("{URL}.sha256")}));
    // The hash file's URL is not `URL`: the mock cannot fetch it.
    let t = run(managed::managed, &h, &ch, true);
    assert_eq!(
        t.comment,
        "Unable to manage file: Source hash file http://127.0.0.1:18765/f.txt.sha256 not found"
    );
    let local = managed_with(json!({"source": URL, "source_hash": "/srv/SHA256SUMS"}));
    let t = run(managed::managed, &h, &local, true);
    assert_eq!(t.result, None, "{}", t.comment);
    assert_eq!(
        h.calls_to("cp.cache_file").last().expect("cached").kwargs["source_hash"],
        json!(SHA)
    );
}

#[test]
fn hash_expressions_and_their_errors_are_salts() {
    assert_eq!(
        hash_expression(&format!("SHA256={SHA}").replace("SHA256", "sha256")),
        Ok(SourceSum {
            hash_type: "sha256".into(),
            hsum: SHA.into()
        })
    );
    assert_eq!(
        hash_expression(&format!("md5={SHA}")).expect_err("length"),
        format!(
            "Invalid length (64) for hash type 'md5'. Either remove the hash type and simply use '{SHA}' as the source_hash, or change the hash type to 'sha256'"
        )
    );
    assert!(
        hash_expression("xyz").expect_err("format").starts_with(
            "Source hash xyz format is invalid. The supported formats are: 1) a hash,"
        )
    );
    assert!(
        hash_expression("xyz")
            .expect_err("format")
            .ends_with("Supported protocols for remote hash files are: salt, file, http, https, ftp, swift, s3. The hash may also not be of a valid length, the following are supported hash types and lengths: md5 (32), sha1 (40), sha224 (56), sha256 (64), sha384 (96), sha512 (128).")
    );
    assert!(
        hash_expression(&format!("crc={SHA}"))
            .expect_err("type")
            .starts_with("Invalid hash type 'crc'. Supported hash types are: sha512, sha384, sha256, sha224, sha1, md5.")
    );
}

#[test]
fn extract_hash_prefers_the_named_line() {
    let other = "cd".repeat(32);
    let sums = format!("{other}  other.tgz\n{SHA} *dir/f.tgz\n");
    let found = extract_hash(&sums, "/out/f.tgz", "http://h/x/f.tgz", None).expect("found");
    assert_eq!(found.hsum, SHA);
    let named = extract_hash(&sums, "/out/z", "http://h/z", Some("other.tgz")).expect("found");
    assert_eq!(named.hsum, other);
    // No line names the file: the first digest.
    let first = extract_hash(&sums, "/out/z", "http://h/z", None).expect("found");
    assert_eq!(first.hsum, other);
    assert_eq!(
        extract_hash("no digest here\n", "/a", "http://h/a", None),
        None
    );
}

#[test]
fn remote_sources_and_redaction() {
    assert!(is_remote("https://x/y") && is_remote("FTP://x/y") && is_remote("http://x"));
    assert!(!is_remote("salt://x") && !is_remote("/etc/x") && !is_remote("file:///x"));
    assert_eq!(redact("http://u:p@h/x"), "http://<redacted>@h/x");
    assert_eq!(redact("ftp://u:p@h/x"), "ftp://u:p@h/x");
    assert_eq!(redact("https://h/x"), "https://h/x");
}

#[test]
fn an_existing_file_with_the_hash_is_not_downloaded() {
    let h = MockHost::new(|f, args, _| match f {
        "file.stats" => Ok(
            json!({"type": "file", "mode": "0644", "user": "root", "group": "root", "uid": 0, "gid": 0}),
        ),
        "file.get_hash" if args.first() == Some(&json!("/out/a")) => Ok(json!(SHA)),
        _ => Err(format!("unexpected {f}")),
    });
    let ch = managed_with(json!({"source": URL, "source_hash": SHA}));
    let r = run(managed::managed, &h, &ch, false);
    assert_eq!(
        (r.result, r.comment.as_str()),
        (
            Some(true),
            "File /out/a exists with proper permissions. No changes made."
        )
    );
    let t = run(managed::managed, &h, &ch, true);
    assert_eq!(t.comment, "File /out/a not updated");
    assert!(!h.called("cp.cache_file"));
}
