//! `file.managed` with an `http://` source through the real `brine-call`:
//! a tiny server on 127.0.0.1 (a free port, nothing else is contacted)
//! serves the file; the minion downloads it into `extrn_files`, checks the
//! `source_hash` and writes it; a wrong hash fails as Salt's does.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::cluster::{json_out, stderr, stdout};
use crate::gitfs::write;
use crate::states::masterless;

const BODY: &str = "hello remote\n";
const BODY_SHA256: &str = "12543eb212bfaeb4ba048745a032a4d4ad9f61231c89f503ef57228d5af52c8a";

/// Serve `/f.txt` (anything else is a 404) until the test ends; the
/// returned counter says how many requests came.
fn serve() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let (status, body) = if request.starts_with("GET /f.txt ") {
                ("200 OK", BODY)
            } else {
                ("404 Not Found", "no\n")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, hits)
}

/// Every file named `name` under `dir`.
fn find(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(find(&path, name));
        } else if path.file_name().is_some_and(|n| n == name) {
            found.push(path);
        }
    }
    found
}

fn state(ret: &Value) -> Value {
    ret.as_object()
        .and_then(|o| o.values().next().cloned())
        .unwrap_or_else(|| panic!("no state result: {ret:#}"))
}

#[test]
fn file_managed_fetches_checks_and_caches_an_http_source() {
    let (port, hits) = serve();
    let roots = tempfile::tempdir().expect("roots");
    let work = tempfile::tempdir().expect("work");
    let dest = work.path().join("motd");
    let sls = |hash: &str| {
        format!(
            "remote:\n  file.managed:\n    - name: {}\n    - source: http://127.0.0.1:{port}/f.txt\n    - source_hash: {hash}\n",
            dest.display()
        )
    };
    write(roots.path(), "good.sls", &sls(BODY_SHA256));
    write(roots.path(), "bad.sls", &sls(&"ab".repeat(32)));
    write(
        roots.path(),
        "nohash.sls",
        &format!(
            "remote:\n  file.managed:\n    - name: {}\n    - source: http://127.0.0.1:{port}/f.txt\n",
            dest.display()
        ),
    );
    let c = masterless(roots.path());
    let apply = |sls: &str| {
        let out = c.brine_call("m1", &["--local", "--out", "json", "state.apply", sls]);
        let ret = json_out(&out);
        assert!(ret["local"].is_object(), "{}{}", stdout(&out), stderr(&out));
        state(&ret["local"])
    };

    let refused = apply("nohash");
    assert_eq!(refused["result"], json!(false));
    assert_eq!(
        refused["comment"],
        json!(format!(
            "Unable to manage file: Unable to verify upstream hash of source file http://127.0.0.1:{port}/f.txt, please set source_hash or set skip_verify to True"
        ))
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0, "no download without a hash");

    let bad = apply("bad");
    assert_eq!(bad["result"], json!(false), "{bad:#}");
    assert_eq!(
        bad["comment"],
        json!(format!(
            "Specified sha256 checksum for {} ({}) does not match actual checksum ({BODY_SHA256})",
            dest.display(),
            "ab".repeat(32)
        ))
    );
    assert!(!dest.exists(), "a file with the wrong hash is not written");

    let good = apply("good");
    assert_eq!(good["result"], json!(true), "{good:#}");
    assert_eq!(good["changes"]["diff"], json!("New file"));
    assert_eq!(std::fs::read_to_string(&dest).expect("written"), BODY);
    let cached = find(&c.minion_root("m1"), "f.txt");
    assert_eq!(cached.len(), 1, "{cached:?}");
    let shown = cached[0].display().to_string();
    assert!(
        shown.contains(&format!("/extrn_files/base/127.0.0.1{port}/f.txt")),
        "{shown}"
    );

    // The file now has the wanted digest: no download, Salt's comment.
    let before = hits.load(Ordering::SeqCst);
    let again = apply("good");
    assert_eq!(
        again["comment"],
        json!(format!(
            "File {} exists with proper permissions. No changes made.",
            dest.display()
        ))
    );
    assert_eq!(hits.load(Ordering::SeqCst), before);
}
