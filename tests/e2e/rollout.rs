//! The git-push rollout: a webhook on `brine-api` fires an event, the
//! reactor answers it with `fileserver.update` then `state.apply`, and the
//! minion applies the commit that was just pushed to the gitfs remote.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::cluster::{Cluster, free_port, wait_for};
use crate::gitfs::{git, init_repo};

fn commit_site(repo: &Path, dest: &Path, version: &str) {
    std::fs::write(repo.join("top.sls"), "base:\n  '*':\n    - site\n").expect("write");
    std::fs::write(
        repo.join("site.sls"),
        format!(
            "site:\n  file.managed:\n    - name: {}\n    - contents: \"{version}\"\n",
            dest.display()
        ),
    )
    .expect("write");
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "--quiet", "-m", version]);
}

#[test]
fn a_webhook_rolls_out_the_pushed_commit() {
    let repo = tempfile::tempdir().expect("repo");
    let reactors = tempfile::tempdir().expect("reactors");
    let out_dir = tempfile::tempdir().expect("out");
    let dest = out_dir.path().join("site.txt");
    init_repo(repo.path(), "master");
    commit_site(repo.path(), &dest, "v1");
    let deploy = reactors.path().join("deploy.sls");
    std::fs::write(
        &deploy,
        "update_the_tree:\n  runner.fileserver.update: []\n\nroll_out:\n  local.state.apply:\n    - tgt: '*'\n",
    )
    .expect("write reactor");
    let port = free_port();
    let c = Cluster::builder()
        .minions(1)
        .master_conf(&format!(
            "fileserver_backend:\n  - gitfs\ngitfs_remotes:\n  - file://{repo}\ngitfs_update_interval: 3600\n\
             reactor:\n  - 'salt/netapi/hook/deploy':\n    - {deploy}\n\
             rest_api:\n  port: {port}\n  host: 127.0.0.1\n  disable_ssl: True\n  webhook_disable_auth: True\n",
            repo = repo.path().display(),
            deploy = deploy.display(),
        ))
        .start()
        .ready();
    let api = c.start_api(&[]);
    let events = c.events("*");

    // The pushed commit: nothing applies it until the hook fires.
    commit_site(repo.path(), &dest, "v2");
    let status = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
        ])
        .args(["-d", r#"{"ref": "refs/heads/master"}"#])
        .arg(format!("{}/hook/deploy", api.url))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&status.stdout), "200");

    events.expect("the hook event", Duration::from_secs(20), |t, _| {
        t == "salt/netapi/hook/deploy"
    });
    events.expect("the gitfs update", Duration::from_secs(30), |t, _| {
        t == "salt/fileserver/gitfs/update"
    });
    let (_, new) = events.expect("the rollout job", Duration::from_secs(30), |t, d| {
        t.ends_with("/new") && d["fun"] == json!("state.apply") && d["user"] == json!("Reactor")
    });
    let jid = new["jid"].as_str().expect("jid").to_string();
    events.expect("the rollout's return", Duration::from_secs(60), |t, _| {
        t == format!("salt/job/{jid}/ret/m1")
    });
    wait_for(
        "the pushed commit on the minion",
        Duration::from_secs(30),
        || (std::fs::read_to_string(&dest).ok()? == "v2\n").then_some(()),
    );
}
