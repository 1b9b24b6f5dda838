//! The file server through the real binaries: `salt://` files reach minions
//! intact, unchanged files are not transferred again, and paths that would
//! leave the file root are refused.

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::{Cluster, json_out, stdout};

fn call(c: &Cluster, args: &[&str]) -> Value {
    let out = c.brine(&[&["--out", "json", "--static", "-t", "30", "m1"][..], args].concat());
    json_out(&out)["m1"].clone()
}

#[test]
fn salt_files_reach_minions_once_and_never_from_outside_the_root() {
    let tree = tempfile::tempdir().expect("tree");
    let outside = tempfile::tempdir().expect("outside");
    std::fs::create_dir_all(tree.path().join("files")).expect("mkdir");
    std::fs::write(tree.path().join("files/motd"), "hello from the master\n").expect("write");
    std::fs::write(tree.path().join("top.sls"), "base:\n  '*': []\n").expect("write");
    std::fs::write(
        tree.path().join("files/hi.sh"),
        "#!/bin/sh\necho \"args: $1|$2\"\nexit 3\n",
    )
    .expect("write");
    std::fs::write(outside.path().join("secret"), "not for minions").expect("write");
    std::fs::create_dir_all(tree.path().join("tpl/sub")).expect("mkdir");
    std::fs::write(
        tree.path().join("tpl/hello.j2"),
        "Hello {{ grains['id'] }} and {{ who }}\n",
    )
    .expect("write");
    std::fs::write(tree.path().join("tpl/sub/plain.txt"), "plain\n").expect("write");
    std::os::unix::fs::symlink(
        outside.path().join("secret"),
        tree.path().join("files/leak"),
    )
    .expect("symlink");
    // 100 MiB of varied bytes.
    let big: Vec<u8> = (0..100u32 * 1024 * 1024 / 4)
        .flat_map(|i| i.wrapping_mul(2654435761).to_le_bytes())
        .collect();
    std::fs::write(tree.path().join("files/big.bin"), &big).expect("write big");
    let c = Cluster::builder()
        .minions(1)
        .master_conf(&crate::cluster::file_roots(tree.path()))
        .start()
        .ready();

    let listed = call(&c, &["cp.list_master"]);
    assert_eq!(
        listed,
        json!([
            "files/big.bin",
            "files/hi.sh",
            "files/motd",
            "top.sls",
            "tpl/hello.j2",
            "tpl/sub/plain.txt"
        ]),
        "the escaping symlink is not listed"
    );

    // cp.get_dir copies a directory; cp.get_template renders one file.
    let into = c.dir.path().join("dir-dest");
    let got = call(
        &c,
        &["cp.get_dir", "salt://tpl", &into.display().to_string()],
    );
    assert_eq!(got.as_array().map(Vec::len), Some(2), "{got}");
    assert_eq!(
        std::fs::read_to_string(into.join("tpl/sub/plain.txt")).expect("read"),
        "plain\n"
    );
    let rendered = c.dir.path().join("rendered/hello");
    call(
        &c,
        &[
            "cp.get_template",
            "salt://tpl/hello.j2",
            &rendered.display().to_string(),
            "makedirs=True",
            "who=world",
        ],
    );
    assert_eq!(
        std::fs::read_to_string(&rendered).expect("read"),
        "Hello m1 and world\n"
    );

    // cmd.script runs a script served by the master, with its arguments.
    let ran = call(&c, &["cmd.script", "salt://files/hi.sh", "one 'two words'"]);
    assert_eq!(ran["stdout"], json!("args: one|two words"), "{ran}");
    assert_eq!(ran["retcode"], json!(3));
    assert_eq!(call(&c, &["cp.list_states"]), json!(["top"]));

    let dest = c.dir.path().join("got/motd");
    let got = call(
        &c,
        &[
            "cp.get_file",
            "salt://files/motd",
            &dest.display().to_string(),
            "makedirs=True",
        ],
    );
    assert_eq!(got, json!(dest.display().to_string()));
    assert_eq!(
        std::fs::read_to_string(&dest).expect("read"),
        "hello from the master\n"
    );

    // The big file arrives intact, and a second request does not fetch it again.
    let cached = call(&c, &["cp.cache_file", "salt://files/big.bin"]);
    let cached = std::path::PathBuf::from(cached.as_str().expect("cached path"));
    assert_eq!(std::fs::read(&cached).expect("read cached"), big);
    let before = std::fs::metadata(&cached).expect("meta");
    assert_eq!(
        call(&c, &["cp.cache_file", "salt://files/big.bin"]),
        json!(cached.display().to_string())
    );
    let after = std::fs::metadata(&cached).expect("meta");
    assert_eq!(
        (before.ino(), before.mtime_nsec()),
        (after.ino(), after.mtime_nsec()),
        "re-downloaded an unchanged file"
    );
    let hash = call(&c, &["cp.hash_file", "salt://files/big.bin"]);
    assert_eq!(hash["hash_type"], json!("sha256"));

    // Out of the root: a symlink, a parent path, an absolute path.
    for bad in [
        "salt://files/leak",
        "salt://../etc/passwd",
        "salt:///etc/passwd",
        "salt://files/../../x",
    ] {
        let out = c.brine(&["-t", "30", "m1", "cp.cache_file", bad]);
        let text = stdout(&out);
        assert!(text.contains("ERROR"), "{bad} was not refused: {text}");
        assert!(!text.contains("not for minions"));
    }
    assert!(
        crate::cluster::wait_for_text(
            || c.master_log(),
            "leaves its file root",
            Duration::from_secs(5)
        ),
        "the refusal was not logged"
    );

    let files = json_out(&c.brine_run(&["--out", "json", "fileserver.file_list"]));
    assert_eq!(
        files,
        json!([
            "files/big.bin",
            "files/hi.sh",
            "files/motd",
            "top.sls",
            "tpl/hello.j2",
            "tpl/sub/plain.txt"
        ])
    );
    assert_eq!(
        json_out(&c.brine_run(&["--out", "json", "fileserver.envs"])),
        json!(["base"])
    );
    assert_eq!(
        json_out(&c.brine_run(&["--out", "json", "fileserver.dir_list"])),
        json!(["files", "tpl", "tpl/sub"])
    );
}

#[test]
fn brine_cp_pushes_local_files_to_the_targeted_minions() {
    let c = Cluster::builder().minions(2).start().ready();
    let src = c.dir.path().join("push");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(src.join("a.conf"), "alpha\n").expect("write");
    std::fs::write(src.join("b.bin"), [0u8, 1, 2, 255]).expect("write");

    // One file to a file path, on m1 only.
    let dest = c.dir.path().join("m1-got.conf");
    let out = c.brine_cp(&[
        "--out",
        "json",
        "m1",
        &src.join("a.conf").display().to_string(),
        &dest.display().to_string(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        crate::cluster::stderr(&out)
    );
    assert_eq!(
        json_out(&out),
        json!({"m1": {dest.display().to_string(): true}})
    );
    assert_eq!(std::fs::read_to_string(&dest).expect("read"), "alpha\n");

    // Two files into a directory, on both minions (they share this host).
    let dir = c.dir.path().join("into");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let out = c.brine_cp(&[
        "-L",
        "m1,m2",
        &src.join("a.conf").display().to_string(),
        &src.join("b.bin").display().to_string(),
        &format!("{}/", dir.display()),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(
        std::fs::read(dir.join("b.bin")).expect("read"),
        [0u8, 1, 2, 255]
    );

    // cp.recv refuses a file name that would lead elsewhere.
    let out = c.brine(&[
        "--out",
        "json",
        "--static",
        "m1",
        "cp.recv",
        r#"files={"../x": "YQ=="}"#,
        "dest=/tmp",
    ]);
    assert!(
        json_out(&out)["m1"]
            .as_str()
            .is_some_and(|s| s.contains("refusing file name")),
        "{}",
        stdout(&out)
    );
}
