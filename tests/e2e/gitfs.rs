//! gitfs through the real binaries: a git repository made here with the
//! `git` CLI is served as `salt://` next to `file_roots`; a new commit shows
//! after `brine-run fileserver.update` (or the periodic update); a branch is an environment; and
//! `state.apply` runs an SLS file that lives in git.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::{Cluster, json_out, stdout};

pub(crate) fn git(repo: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A new repository on `branch` with a committer identity.
pub(crate) fn init_repo(repo: &Path, branch: &str) {
    git(
        repo,
        &["init", "--quiet", &format!("--initial-branch={branch}")],
    );
    git(repo, &["config", "user.name", "Brine Test"]);
    git(repo, &["config", "user.email", "test@brine.invalid"]);
}

pub(crate) fn write(root: &Path, rel: &str, text: &str) {
    let full = root.join(rel);
    std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
    std::fs::write(full, text).expect("write");
}

pub(crate) fn commit(repo: &Path, message: &str) {
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "--quiet", "-m", message]);
}

/// A repository on `master` with a top file, an SLS and a plain file.
fn state_repo(repo: &Path) {
    init_repo(repo, "master");
    write(repo, "top.sls", "base:\n  '*':\n    - motd\n");
    write(
        repo,
        "motd.sls",
        "{% set base = pillar['example_dir'] %}\nmotd:\n  file.managed:\n    - name: {{ base }}/motd\n    - contents: \"Welcome from git\"\n    - makedirs: True\n",
    );
    write(repo, "files/motd", "one\n");
    commit(repo, "first");
}

fn call(c: &Cluster, args: &[&str]) -> Value {
    let out = c.brine(&[&["--out", "json", "--static", "-t", "30", "m1"][..], args].concat());
    json_out(&out)["m1"].clone()
}

fn get_file(c: &Cluster, source: &str, dest: &Path, extra: &[&str]) -> String {
    let dest_arg = dest.display().to_string();
    let got = call(
        c,
        &[&["cp.get_file", source, dest_arg.as_str()][..], extra].concat(),
    );
    assert_eq!(got, json!(dest_arg), "cp.get_file {source}");
    std::fs::read_to_string(dest).expect("read fetched file")
}

#[test]
fn git_branches_serve_salt_files_and_follow_new_commits() {
    let repo = tempfile::tempdir().expect("repo");
    state_repo(repo.path());
    let roots = tempfile::tempdir().expect("roots");
    write(roots.path(), "files/motd", "from roots\n");
    write(roots.path(), "roots-only.txt", "roots\n");
    let c = Cluster::builder()
        .minions(1)
        .master_conf(&format!(
            "fileserver_backend:\n  - gitfs\n  - roots\ngitfs_remotes:\n  - file://{}\nfile_roots:\n  base:\n    - {}\n",
            repo.path().display(),
            roots.path().display()
        ))
        .start()
        .ready();

    // gitfs comes first, so its files/motd wins; roots adds its own files.
    assert_eq!(
        call(&c, &["cp.list_master"]),
        json!(["files/motd", "motd.sls", "roots-only.txt", "top.sls"])
    );
    let dest = c.dir.path().join("got/motd");
    assert_eq!(
        get_file(&c, "salt://files/motd", &dest, &["makedirs=True"]),
        "one\n"
    );

    // A new commit and a dev branch appear after fileserver.update, which
    // fires Salt's event.
    write(repo.path(), "files/motd", "two\n");
    commit(repo.path(), "second");
    git(repo.path(), &["checkout", "--quiet", "-b", "dev"]);
    write(repo.path(), "files/motd", "dev\n");
    write(repo.path(), "files/dev-only", "dev only\n");
    commit(repo.path(), "dev");
    let events = c.events("salt/fileserver/gitfs/update");
    let updated = c.brine_run(&["--out", "json", "fileserver.update"]);
    assert_eq!(json_out(&updated), json!(true), "{}", stdout(&updated));
    events.expect("gitfs update", Duration::from_secs(10), |tag, data| {
        tag == "salt/fileserver/gitfs/update" && data["changed"] == json!(true)
    });
    assert_eq!(get_file(&c, "salt://files/motd", &dest, &[]), "two\n");

    // The dev branch is the dev environment.
    assert_eq!(
        json_out(&c.brine_run(&["--out", "json", "fileserver.envs"])),
        json!(["base", "dev"])
    );
    assert_eq!(
        call(&c, &["cp.list_master", "saltenv=dev"]),
        json!(["files/dev-only", "files/motd", "motd.sls", "top.sls"])
    );
    assert_eq!(
        get_file(&c, "salt://files/motd", &dest, &["saltenv=dev"]),
        "dev\n"
    );
    assert_eq!(
        get_file(&c, "salt://files/motd?saltenv=dev", &dest, &[]),
        "dev\n"
    );

    // state.apply runs the top file and SLS from git.
    let applied = c.dir.path().join("applied");
    let pillar = format!(
        "pillar={}",
        json!({"example_dir": applied.display().to_string()})
    );
    let out = c.brine(&[
        "-t",
        "60",
        "--out",
        "json",
        "--static",
        "m1",
        "state.apply",
        &pillar,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(
        std::fs::read_to_string(applied.join("motd")).expect("motd"),
        "Welcome from git\n"
    );
}

#[test]
fn root_and_mountpoint_place_a_remote_under_a_prefix() {
    let repo = tempfile::tempdir().expect("repo");
    init_repo(repo.path(), "main");
    write(repo.path(), "salt/web/init.sls", "web: {}\n");
    write(repo.path(), "README", "not served\n");
    std::os::unix::fs::symlink("/etc/passwd", repo.path().join("salt/leak")).expect("ln");
    commit(repo.path(), "first");
    let c = Cluster::builder()
        .minions(1)
        .master_conf(&format!(
            "fileserver_backend: [git]\ngitfs_base: main\ngitfs_update_interval: 1\ngitfs_remotes:\n  - {}:\n    - root: salt\n    - mountpoint: salt://apps\n",
            repo.path().display()
        ))
        .start()
        .ready();
    assert_eq!(
        call(&c, &["cp.list_master"]),
        json!(["apps/web/init.sls"]),
        "the symlink and files outside the root are not listed"
    );
    let out = c.brine(&["-t", "30", "m1", "cp.cache_file", "salt://apps/leak"]);
    let text = stdout(&out);
    assert!(
        text.contains("ERROR") && !text.contains("root:"),
        "a symlink was served: {text}"
    );

    // The periodic update (every gitfs_update_interval seconds) picks up a
    // new commit without a runner call.
    write(repo.path(), "salt/db.sls", "db: {}\n");
    commit(repo.path(), "second");
    crate::cluster::wait_for("the periodic gitfs update", Duration::from_secs(20), || {
        let listed = call(&c, &["cp.list_master"]);
        (listed == json!(["apps/db.sls", "apps/web/init.sls"])).then_some(())
    });
}

/// `gitfs_saltenv` maps an environment to a branch and a subdirectory;
/// `gitfs_saltenv_blacklist` hides the branch's own environment; a state
/// run in the mapped environment reads its SLS from there.
#[test]
fn gitfs_saltenv_mapping_and_blacklist() {
    let repo = tempfile::tempdir().expect("repo");
    state_repo(repo.path());
    git(repo.path(), &["checkout", "--quiet", "-b", "develop"]);
    write(
        repo.path(),
        "salt/qa.sls",
        "{% set base = pillar['example_dir'] %}\nqa:\n  file.managed:\n    - name: {{ base }}/qa\n    - contents: \"from develop/salt in {{ saltenv }}\"\n",
    );
    commit(repo.path(), "develop");
    git(repo.path(), &["checkout", "--quiet", "master"]);
    let c = Cluster::builder()
        .minions(1)
        .master_conf(&format!(
            "fileserver_backend:\n  - gitfs\ngitfs_remotes:\n  - file://{}\ngitfs_saltenv:\n  - qa:\n    - ref: develop\n    - root: salt\ngitfs_saltenv_blacklist:\n  - develop\n",
            repo.path().display()
        ))
        .start()
        .ready();
    assert_eq!(
        json_out(&c.brine_run(&["--out", "json", "fileserver.envs"])),
        json!(["base", "qa"]),
        "the blacklisted branch is not an environment"
    );
    assert_eq!(
        call(&c, &["cp.list_master", "saltenv=qa"]),
        json!(["qa.sls"])
    );
    assert_eq!(
        call(&c, &["cp.list_master", "saltenv=develop"]),
        json!("ERROR: no environment \"develop\" in the file server")
    );

    let out = tempfile::tempdir().expect("out");
    let pillar = format!(
        "pillar={}",
        json!({"example_dir": out.path().display().to_string()})
    );
    let ret = call(&c, &["state.sls", "qa", "saltenv=qa", &pillar]);
    let results: Vec<&Value> = ret
        .as_object()
        .map(|o| o.values().collect())
        .unwrap_or_default();
    assert!(
        results.len() == 1 && results[0]["result"] == json!(true),
        "{ret:#}"
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("qa")).expect("written"),
        "from develop/salt in qa\n"
    );
}

/// `all_saltenvs` serves one ref as every environment the minions ask for,
/// through the real file server: an environment no branch is named after
/// gets that ref's files.
#[test]
fn all_saltenvs_serves_one_ref_as_every_environment() {
    let repo = tempfile::tempdir().expect("repo");
    state_repo(repo.path());
    git(repo.path(), &["checkout", "--quiet", "-b", "develop"]);
    write(repo.path(), "files/motd", "from develop\n");
    commit(repo.path(), "develop");
    git(repo.path(), &["checkout", "--quiet", "master"]);
    let c = Cluster::builder()
        .minions(1)
        .master_conf(&format!(
            "fileserver_backend:\n  - gitfs\ngitfs_remotes:\n  - file://{}:\n    - all_saltenvs: develop\n",
            repo.path().display()
        ))
        .start()
        .ready();
    let out = tempfile::tempdir().expect("out");
    for env in ["base", "prod", "whatever"] {
        let got = get_file(
            &c,
            "salt://files/motd",
            &out.path().join(env),
            &[&format!("saltenv={env}")],
        );
        assert_eq!(got, "from develop\n", "saltenv {env}");
    }
}
