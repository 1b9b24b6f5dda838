//! States that bring software from elsewhere, through the real binaries:
//! `archive.extracted` (an archive served as `salt://` by the master and
//! cached by the minion, or a local zip) and `git.latest` (a `file://`
//! repository cloned, fast-forwarded, and hard-reset only when asked).

use std::fs::File;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::cluster::{Cluster, json_out, run_ok, stderr, stdout};
use crate::gitfs::{commit, git, init_repo, write};
use crate::states::masterless;

/// A gzip tar archive at `path` with these (name, contents, mode) members;
/// names are written raw, so hostile (`../x`) archives can be made too.
fn tar_gz(path: &Path, members: &[(&str, &str, u32)]) {
    let gz = flate2::write::GzEncoder::new(
        File::create(path).expect("create archive"),
        flate2::Compression::fast(),
    );
    let mut builder = tar::Builder::new(gz);
    for (name, data, mode) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(*mode);
        header.set_entry_type(tar::EntryType::Regular);
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_cksum();
        builder.append(&header, data.as_bytes()).expect("append");
    }
    builder.into_inner().expect("tar").finish().expect("gzip");
}

fn sha256_hex(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read archive");
    ring::digest::digest(&ring::digest::SHA256, &bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The one result of a one-state run.
fn only(ret: &Value) -> Value {
    let states = ret
        .as_object()
        .unwrap_or_else(|| panic!("not a state return: {ret:#}"));
    assert_eq!(states.len(), 1, "{ret:#}");
    states.values().next().cloned().unwrap_or_default()
}

/// `brine-call --local state.apply <sls>`: the one state's result.
fn local_apply(c: &Cluster, sls: &str, extra: &[&str]) -> Value {
    let args = [&["--local", "--out", "json", "state.apply", sls][..], extra].concat();
    let out = c.brine_call("m1", &args);
    let ret = json_out(&out);
    assert!(ret["local"].is_object(), "{}{}", stdout(&out), stderr(&out));
    only(&ret["local"])
}

#[test]
fn archive_extracted_from_the_master_once_and_confined() {
    let srv = tempfile::tempdir().expect("srv");
    let work = tempfile::tempdir().expect("work");
    let dest = work.path().join("opt");
    let archive = srv.path().join("app.tar.gz");
    tar_gz(
        &archive,
        &[
            ("app-1.0/bin/run", "#!/bin/sh\necho run\n", 0o755),
            ("app-1.0/README", "read me\n", 0o644),
        ],
    );
    tar_gz(
        &srv.path().join("evil.tar.gz"),
        &[
            ("app/ok", "fine", 0o644),
            ("app/../../escaped", "gotcha", 0o644),
        ],
    );
    let sls = |name: &str, archive: &str, hash: &str| {
        format!(
            "{name}:\n  archive.extracted:\n    - name: {}\n    - source: salt://{archive}\n    - source_hash: sha256={hash}\n",
            dest.display()
        )
    };
    let good_hash = sha256_hex(&archive);
    write(srv.path(), "app.sls", &sls("app", "app.tar.gz", &good_hash));
    write(
        srv.path(),
        "badhash.sls",
        &sls("badhash", "app.tar.gz", &"0".repeat(64)),
    );
    let evil_hash = sha256_hex(&srv.path().join("evil.tar.gz"));
    write(
        srv.path(),
        "evil.sls",
        &sls("evil", "evil.tar.gz", &evil_hash),
    );
    let c = Cluster::builder()
        .minions(1)
        .master_conf(&crate::cluster::file_roots(srv.path()))
        .start()
        .ready();
    let apply = |sls: &str, extra: &[&str]| {
        let args = [
            &[
                "--out",
                "json",
                "--static",
                "-t",
                "60",
                "m1",
                "state.apply",
                sls,
            ][..],
            extra,
        ]
        .concat();
        only(&json_out(&c.brine(&args))["m1"])
    };
    let shown_dest = dest.display().to_string();

    let predicted = apply("app", &["test=True"]);
    assert_eq!(predicted["result"], Value::Null, "{predicted:#}");
    assert_eq!(
        predicted["comment"],
        // Salt 3008.5: test mode never caches a non-local source, so it
        // cannot look inside the archive.
        json!(
            "Archive salt://app.tar.gz would be cached (if necessary) and checked to discover if extraction is needed"
        )
    );
    assert!(!dest.exists(), "test mode wrote nothing");

    let applied = apply("app", &[]);
    assert_eq!(applied["result"], json!(true), "{applied:#}");
    assert_eq!(
        applied["comment"],
        json!(format!(
            "salt://app.tar.gz extracted to {shown_dest}, due to absence of one or more files/dirs"
        ))
    );
    assert_eq!(
        applied["changes"]["directories_created"],
        json!([shown_dest])
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("app-1.0/README")).expect("extracted"),
        "read me\n"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dest.join("app-1.0/bin/run"))
            .expect("run")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o755, "members keep their mode");

    let again = apply("app", &[]);
    assert_eq!(
        again["comment"],
        json!("All files in archive are already present"),
        "{again:#}"
    );
    assert_eq!(again["changes"], json!({}));

    std::fs::remove_file(dest.join("app-1.0/README")).expect("remove");
    let repaired = apply("app", &[]);
    assert_eq!(repaired["result"], json!(true), "{repaired:#}");
    assert!(
        dest.join("app-1.0/README").exists(),
        "a missing member is restored"
    );

    let bad = apply("badhash", &[]);
    assert_eq!(bad["result"], json!(false), "{bad:#}");
    assert!(
        bad["comment"]
            .as_str()
            .unwrap_or_default()
            .contains("does not match actual checksum"),
        "{bad:#}"
    );

    let evil = apply("evil", &[]);
    assert_eq!(evil["result"], json!(false), "{evil:#}");
    assert!(
        evil["comment"]
            .as_str()
            .unwrap_or_default()
            .contains("member 'app/../../escaped' would be written outside"),
        "{evil:#}"
    );
    assert!(
        !work.path().join("escaped").exists(),
        "nothing escaped the destination"
    );
    assert!(
        !dest.join("app/ok").exists(),
        "a refused archive writes nothing"
    );
}

#[test]
fn archive_extracted_local_zip_without_a_top_level_dir() {
    let roots = tempfile::tempdir().expect("roots");
    let work = tempfile::tempdir().expect("work");
    let zip_path = work.path().join("conf.zip");
    {
        use std::io::Write;
        let mut w = zip::ZipWriter::new(File::create(&zip_path).expect("zip"));
        let opts = zip::write::SimpleFileOptions::default();
        for (name, body) in [("a.conf", "a=1\n"), ("b.conf", "b=2\n")] {
            w.start_file(name, opts).expect("start");
            w.write_all(body.as_bytes()).expect("write");
        }
        w.finish().expect("finish");
    }
    let dest = work.path().join("etc");
    write(
        roots.path(),
        "conf.sls",
        &format!(
            "{{% set strict = pillar.get('strict', False) %}}\nconf:\n  archive.extracted:\n    - name: {}\n    - source: file://{}\n    - enforce_toplevel: {{{{ strict }}}}\n",
            dest.display(),
            zip_path.display()
        ),
    );
    let c = masterless(roots.path());
    let apply = |extra: &[&str]| local_apply(&c, "conf", extra);
    let strict = apply(&[r#"pillar={"strict": true}"#]);
    assert_eq!(strict["result"], json!(false), "{strict:#}");
    assert!(
        strict["comment"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Archive does not have a single top-level directory."),
        "{strict:#}"
    );
    let ret = apply(&[]);
    assert_eq!(ret["result"], json!(true), "{ret:#}");
    assert_eq!(
        ret["changes"]["extracted_files"],
        json!(["a.conf", "b.conf"])
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("b.conf")).expect("b"),
        "b=2\n"
    );
}

fn head(repo: &Path) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["rev-parse", "HEAD"])
        .output()
        .expect("git rev-parse");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A masterless minion whose `app` SLS is a `git.latest` of `upstream`'s
/// `main` into `target`, with `extra` arguments (`    - key: value` lines).
fn git_latest_minion(roots: &Path, upstream: &Path, target: &Path, extra: &str) -> Cluster {
    write(
        roots,
        "app.sls",
        &format!(
            "app:\n  git.latest:\n    - name: file://{}\n    - target: {}\n    - rev: main\n    - branch: main\n{extra}",
            upstream.display(),
            target.display()
        ),
    );
    masterless(roots)
}

#[test]
fn git_latest_clones_fast_forwards_and_resets_only_when_forced() {
    let upstream = tempfile::tempdir().expect("upstream");
    let up = upstream.path();
    init_repo(up, "main");
    write(up, "app.txt", "v1\n");
    commit(up, "v1");
    let first = head(up);

    let roots = tempfile::tempdir().expect("roots");
    let work = tempfile::tempdir().expect("work");
    let target = work.path().join("checkout");
    let c = git_latest_minion(
        roots.path(),
        up,
        &target,
        "    - force_reset: {{ pillar.get('force', False) }}\n",
    );
    let apply = |extra: &[&str]| local_apply(&c, "app", extra);
    let url = format!("file://{}", up.display());
    let shown_target = target.display().to_string();

    let predicted = apply(&["test=True"]);
    assert_eq!(predicted["result"], Value::Null, "{predicted:#}");
    assert_eq!(
        predicted["comment"],
        json!(format!(
            "Repository {url} would be cloned to {shown_target}"
        ))
    );
    assert!(!target.exists(), "test mode cloned nothing");

    let cloned = apply(&[]);
    assert_eq!(cloned["result"], json!(true), "{cloned:#}");
    assert_eq!(
        cloned["comment"],
        json!(format!("{url} cloned to {shown_target}"))
    );
    assert_eq!(
        cloned["changes"]["revision"],
        json!({"old": null, "new": first})
    );
    assert_eq!(
        std::fs::read_to_string(target.join("app.txt")).expect("app"),
        "v1\n"
    );

    let again = apply(&[]);
    assert_eq!(again["changes"], json!({}), "{again:#}");
    assert_eq!(
        again["comment"],
        json!(format!("Repository {shown_target} is up-to-date"))
    );

    write(up, "app.txt", "v2\n");
    commit(up, "v2");
    let second = head(up);
    let would = apply(&["test=True"]);
    assert_eq!(would["result"], Value::Null, "{would:#}");
    assert_eq!(
        would["changes"]["revision"],
        json!({"old": first, "new": second})
    );
    let forwarded = apply(&[]);
    assert_eq!(forwarded["result"], json!(true), "{forwarded:#}");
    assert_eq!(
        forwarded["changes"]["revision"],
        json!({"old": first, "new": second})
    );
    assert!(
        forwarded["comment"]
            .as_str()
            .unwrap_or_default()
            .contains("Repository was fast-forwarded to origin/main"),
        "{forwarded:#}"
    );
    assert_eq!(
        std::fs::read_to_string(target.join("app.txt")).expect("app"),
        "v2\n"
    );

    // The clone and the remote diverge: a local commit, and a new remote one.
    git(&target, &["config", "user.name", "Local"]);
    git(&target, &["config", "user.email", "local@brine.invalid"]);
    write(&target, "local.txt", "mine\n");
    commit(&target, "local work");
    write(up, "app.txt", "v3\n");
    commit(up, "v3");
    let third = head(up);
    let refused = apply(&[]);
    assert_eq!(refused["result"], json!(false), "{refused:#}");
    assert!(
        refused["comment"].as_str().unwrap_or_default().contains(
            "this is not a fast-forward merge. Set 'force_reset' to True to force this update."
        ),
        "{refused:#}"
    );
    assert!(
        target.join("local.txt").exists(),
        "a refused update keeps local work"
    );

    let forced = apply(&[r#"pillar={"force": true}"#]);
    assert_eq!(forced["result"], json!(true), "{forced:#}");
    assert_eq!(
        forced["changes"]["forced update"],
        json!(true),
        "{forced:#}"
    );
    assert_eq!(head(&target), third);
    assert_eq!(
        std::fs::read_to_string(target.join("app.txt")).expect("app"),
        "v3\n"
    );
}

/// `git.latest` with `depth`: a shallow clone of the wanted branch, which
/// later applies still fast-forward.
#[test]
fn git_latest_with_depth_clones_shallow() {
    let upstream = tempfile::tempdir().expect("upstream");
    let up = upstream.path();
    init_repo(up, "main");
    for version in ["v1", "v2", "v3"] {
        write(up, "app.txt", &format!("{version}\n"));
        commit(up, version);
    }
    let roots = tempfile::tempdir().expect("roots");
    let work = tempfile::tempdir().expect("work");
    let target = work.path().join("checkout");
    let c = git_latest_minion(roots.path(), up, &target, "    - depth: 1\n");
    let commits_in_clone = || {
        let out = Command::new("git")
            .arg("-C")
            .arg(&target)
            .args(["rev-list", "--count", "HEAD"])
            .output()
            .expect("git rev-list");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };

    let cloned = local_apply(&c, "app", &[]);
    assert_eq!(cloned["result"], json!(true), "{cloned:#}");
    assert_eq!(commits_in_clone(), "1", "a depth-1 clone holds one commit");
    assert_eq!(head(&target), head(up));

    write(up, "app.txt", "v4\n");
    commit(up, "v4");
    let forwarded = local_apply(&c, "app", &[]);
    assert_eq!(forwarded["result"], json!(true), "{forwarded:#}");
    assert_eq!(head(&target), head(up));
    assert_eq!(
        std::fs::read_to_string(target.join("app.txt")).expect("app"),
        "v4\n"
    );
}

/// A throwaway system user, removed with its home when dropped.
struct ThrowawayUser(String);

impl Drop for ThrowawayUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel")
            .args(["-r", &self.0])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// `git.latest` with `user`: git runs as that user (through `runuser`, with
/// their HOME), so the clone belongs to them; with `submodules`, the
/// submodules are checked out too. The user's own git config allows file://
/// submodules, which git refuses by default since 2.38.
#[test]
fn git_latest_runs_git_as_the_given_user_with_submodules() {
    use std::os::unix::fs::MetadataExt;
    if !nix::unistd::geteuid().is_root() || !Path::new("/usr/sbin/useradd").exists() {
        eprintln!("skipping: needs root and useradd (CI has them)");
        return;
    }
    let user = ThrowawayUser(format!("brinegit{:x}", std::process::id()));
    run_ok(Command::new("useradd").args(["-m", &user.0]));
    let uid = nix::unistd::User::from_name(&user.0)
        .expect("passwd")
        .expect("the new user")
        .uid
        .as_raw();

    let home = Path::new("/home").join(&user.0);
    write(
        &home,
        ".gitconfig",
        "[protocol \"file\"]\n\tallow = always\n",
    );

    let library = tempfile::tempdir().expect("library");
    init_repo(library.path(), "main");
    write(library.path(), "lib.txt", "library\n");
    commit(library.path(), "lib");
    let upstream = tempfile::tempdir().expect("upstream");
    let up = upstream.path();
    init_repo(up, "main");
    write(up, "app.txt", "v1\n");
    let lib_url = format!("file://{}", library.path().display());
    git(
        up,
        &[
            "-c",
            "protocol.file.allow=always",
            "submodule",
            "add",
            "--quiet",
            &lib_url,
            "lib",
        ],
    );
    commit(up, "v1");
    let work = tempfile::tempdir().expect("work");
    // The user reads the repositories and owns the directory the clone goes in.
    for dir in [library.path(), up, work.path(), home.as_path()] {
        run_ok(Command::new("chown").args(["-R", &user.0]).arg(dir));
    }
    let target = work.path().join("checkout");
    let roots = tempfile::tempdir().expect("roots");
    let c = git_latest_minion(
        roots.path(),
        up,
        &target,
        &format!("    - user: {}\n    - submodules: True\n", user.0),
    );
    let cloned = local_apply(&c, "app", &[]);
    assert_eq!(cloned["result"], json!(true), "{cloned:#}");
    for path in [target.clone(), target.join("app.txt"), target.join(".git")] {
        let meta = std::fs::metadata(&path).expect("cloned");
        assert_eq!(meta.uid(), uid, "{} belongs to the user", path.display());
    }
    assert_eq!(
        std::fs::read_to_string(target.join("lib/lib.txt")).expect("the submodule"),
        "library\n"
    );
    let again = local_apply(&c, "app", &[]);
    assert_eq!(again["changes"], json!({}), "{again:#}");
}
