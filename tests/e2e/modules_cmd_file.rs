//! The `cmd` and `file` execution modules through the real binaries:
//! `brine-call --local` on files under the test's temp dir, and `brine`
//! through the master for shell defaults, `runas`, retcodes, timeouts and
//! `saltutil.kill_job` killing a command's whole process group.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::{Cluster, json_out, stderr, stdout, wait_for};

/// `brine-call --local --out json <args>` on m1: the `local` value.
fn call(c: &Cluster, args: &[&str]) -> Value {
    let mut all = vec!["--local", "--out", "json"];
    all.extend_from_slice(args);
    let out = c.brine_call("m1", &all);
    json_out(&out)["local"].clone()
}

/// `brine-call --local <args>` that must fail: what it printed on stderr
/// (salt-call prints a function's error there, not a return).
fn call_err(c: &Cluster, args: &[&str]) -> String {
    let mut all = vec!["--local", "--out", "json"];
    all.extend_from_slice(args);
    let out = c.brine_call("m1", &all);
    assert!(!out.status.success(), "brine-call {args:?} should fail");
    assert_eq!(stdout(&out), "", "brine-call {args:?} printed a return");
    stderr(&out)
}

/// `brine --out json --static m1 <args>`: m1's value.
fn via_master(c: &Cluster, args: &[&str]) -> Value {
    let mut all = vec!["--out", "json", "--static", "m1"];
    all.extend_from_slice(args);
    json_out(&c.brine(&all))["m1"].clone()
}

fn p(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

/// Processes whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                String::from_utf8_lossy(&c)
                    .replace('\0', " ")
                    .contains(needle)
            })
        })
        .collect()
}

/// A throwaway system user, deleted when dropped. Holds the host lock
/// while it exists (see `cluster::host_lock`).
struct TempUser(
    String,
    #[allow(dead_code)] std::sync::MutexGuard<'static, ()>,
);

impl TempUser {
    fn create() -> Option<TempUser> {
        if !nix::unistd::geteuid().is_root() {
            return None;
        }
        let lock = crate::cluster::host_lock();
        let name = format!("brinet{}", std::process::id());
        let ok = Command::new("useradd")
            .args(["--system", "--no-create-home", "--shell", "/bin/sh", &name])
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(TempUser(name, lock))
    }
}

impl Drop for TempUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.0).status();
    }
}

#[test]
fn file_functions_edit_files_like_salt() {
    let c = Cluster::builder().minions(1).start();
    let dir: PathBuf = c.dir.path().join("files");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let conf = p(&dir, "app.conf");

    assert_eq!(
        call(
            &c,
            &[
                "file.write",
                &conf,
                "name = demo",
                "args=['port = 80', 'debug = off']"
            ]
        ),
        json!(format!("Wrote 2 lines to \"{conf}\""))
    );
    assert_eq!(
        call(&c, &["file.read", &conf]),
        json!("port = 80\ndebug = off\n")
    );
    assert_eq!(
        call(&c, &["file.append", &conf, "tail = 1"]),
        json!(format!("Wrote 1 lines to \"{conf}\""))
    );
    assert_eq!(
        call(&c, &["file.prepend", &conf, "# head"]),
        json!(format!("Prepended 1 lines to \"{conf}\""))
    );
    assert_eq!(call(&c, &["file.contains", &conf, "debug"]), json!(true));
    assert_eq!(
        call(&c, &["file.search", &conf, "^port = \\d+$"]),
        json!(true)
    );

    // replace: a diff, a .bak of the original, and nothing the second time.
    let diff = call(
        &c,
        &[
            "file.replace",
            &conf,
            "pattern=^port = \\d+$",
            "repl=port = 8080",
        ],
    );
    assert_eq!(
        diff,
        json!(
            "--- \n+++ \n@@ -1,4 +1,4 @@\n # head\n-port = 80\n+port = 8080\n debug = off\n tail = 1\n"
        )
    );
    assert_eq!(
        std::fs::read_to_string(format!("{conf}.bak")).expect("backup"),
        "# head\nport = 80\ndebug = off\ntail = 1\n"
    );
    assert_eq!(
        call(
            &c,
            &[
                "file.replace",
                &conf,
                "pattern=^port = \\d+$",
                "repl=port = 8080",
                "show_changes=False"
            ]
        ),
        json!(false)
    );

    // line and blockreplace, with Salt's diffs.
    assert_eq!(
        call(
            &c,
            &[
                "file.line",
                &conf,
                "content=log = on",
                "after=^debug",
                "mode=ensure"
            ]
        ),
        json!(
            "--- \n+++ \n@@ -1,4 +1,5 @@\n # head\n port = 8080\n debug = off\n+log = on\n tail = 1\n"
        )
    );
    assert_eq!(
        call(
            &c,
            &[
                "file.line",
                &conf,
                "content=log = on",
                "after=^debug",
                "mode=ensure"
            ]
        ),
        json!(false)
    );
    assert_eq!(
        call(
            &c,
            &[
                "file.line",
                &conf,
                "match=^tail",
                "mode=delete",
                "show_changes=False"
            ]
        ),
        json!(true)
    );
    call(
        &c,
        &[
            "file.blockreplace",
            &conf,
            "#-- start --",
            "#-- end --",
            "content=managed = yes",
            "append_if_not_found=True",
            "append_newline=True",
            "backup=False",
        ],
    );
    assert_eq!(
        std::fs::read_to_string(&conf).expect("read"),
        "# head\nport = 8080\ndebug = off\nlog = on\n#-- start --\nmanaged = yes\n#-- end --\n"
    );
    assert_eq!(
        call(&c, &["file.comment", &conf, "^debug"]),
        json!("--- \n+++ \n@@ -1 +1 @@\n-debug = off\n+#debug = off\n")
    );
    assert_eq!(
        call(&c, &["file.uncomment", &conf, "debug"])
            .as_str()
            .map(|d| d.contains("+debug = off")),
        Some(true)
    );

    // Metadata: Salt's keys and octal mode strings.
    assert_eq!(call(&c, &["file.set_mode", &conf, "0640"]), json!("0640"));
    assert_eq!(call(&c, &["file.get_mode", &conf]), json!("0640"));
    let stats = call(&c, &["file.stats", &conf, "hash_type=md5"]);
    for key in [
        "inode", "uid", "gid", "group", "user", "atime", "mtime", "ctime", "size", "mode", "sum",
        "type", "target",
    ] {
        assert!(stats.get(key).is_some(), "stats lacks {key}: {stats}");
    }
    assert_eq!(stats["type"], json!("file"));
    std::fs::write(p(&dir, "abc"), "abc").expect("write");
    assert_eq!(
        call(&c, &["file.get_hash", &p(&dir, "abc"), "md5"]),
        json!("900150983cd24fb0d6963f7d28e17f72")
    );
    assert_eq!(
        call(&c, &["file.get_hash", &p(&dir, "abc"), "form=sha224"]),
        json!("23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7")
    );

    // Directories: makedirs' trailing slash, mkdir, copy, find, rename, links.
    let tree = p(&dir, "tree");
    assert_eq!(
        call(&c, &["file.makedirs", &format!("{tree}/a/b")]),
        Value::Null
    );
    assert!(
        Path::new(&format!("{tree}/a")).is_dir() && !Path::new(&format!("{tree}/a/b")).exists()
    );
    assert_eq!(
        call(&c, &["file.makedirs", &format!("{tree}/a/b/")]),
        Value::Null
    );
    assert_eq!(
        call(&c, &["file.makedirs", &format!("{tree}/a/b/")]),
        json!(format!("Directory '{tree}/a/b' already exists"))
    );
    assert_eq!(
        call(&c, &["file.mkdir", &format!("{tree}/m/n"), "mode=0700"]),
        json!(true)
    );
    assert_eq!(
        call(&c, &["file.get_mode", &format!("{tree}/m/n")]),
        json!("0700")
    );
    std::fs::write(format!("{tree}/a/b/deep.txt"), "deep").expect("write");
    let copy = p(&dir, "copy");
    let refused = call_err(&c, &["file.copy", &tree, &copy]);
    assert!(refused.contains("without recurse flag"), "{refused}");
    assert_eq!(
        call(&c, &["file.copy", &tree, &copy, "recurse=True"]),
        json!(true)
    );
    assert_eq!(
        call(&c, &["file.find", &copy, "type=f", "print=name,size"]),
        json!([["deep.txt", 4]])
    );
    assert_eq!(
        call(&c, &["file.find", &copy, "name=*.txt", "maxdepth=2"]),
        json!([])
    );
    assert_eq!(call(&c, &["file.diskusage", &copy]), json!(4));
    assert_eq!(
        call(
            &c,
            &[
                "file.rename",
                &format!("{copy}/a/b/deep.txt"),
                &format!("{copy}/moved.txt")
            ]
        ),
        json!(true)
    );
    assert_eq!(
        call(&c, &["file.symlink", &conf, &p(&dir, "link")]),
        json!(true)
    );
    assert_eq!(call(&c, &["file.readlink", &p(&dir, "link")]), json!(conf));
    assert_eq!(call(&c, &["file.remove", &copy]), json!(true));
    assert_eq!(call(&c, &["file.remove", &copy]), json!(false));
    assert_eq!(
        call(&c, &["file.touch", &p(&dir, "new"), "mtime=0"]),
        json!(true)
    );
    assert_eq!(
        call(&c, &["file.stats", &p(&dir, "new")])["mtime"].as_f64(),
        Some(0.0)
    );
    assert_eq!(call(&c, &["file.directory_exists", &tree]), json!(true));
    assert_eq!(call(&c, &["file.file_exists", &tree]), json!(false));

    // Errors name what is wrong.
    let out = c.brine_call("m1", &["--local", "file.read", "relative/path"]);
    assert_eq!(out.status.code(), Some(1));
    // salt-call prints the SaltInvocationError on stderr, as Python's exit does.
    assert!(
        stderr(&out).contains("File path must be absolute: relative/path"),
        "{}",
        stderr(&out)
    );
    let missing = call(&c, &["file.read", &p(&dir, "nope")]);
    assert!(
        missing
            .as_str()
            .is_some_and(|s| s.contains("No such file or directory") && s.contains("nope")),
        "{missing}"
    );
    assert_eq!(
        call(&c, &["file.find", &dir.display().to_string(), "colour=red"]),
        json!("error: invalid option \"colour\"")
    );
}

#[test]
fn cmd_functions_run_commands_locally() {
    let c = Cluster::builder().minions(1).start();
    let work = c.dir.path().join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    let work_s = work.display().to_string();

    let all = call(
        &c,
        &[
            "cmd.run_all",
            "echo out; echo err >&2; exit 3",
            "python_shell=True",
        ],
    );
    assert_eq!(
        (
            all["retcode"].clone(),
            all["stdout"].clone(),
            all["stderr"].clone()
        ),
        (json!(3), json!("out"), json!("err"))
    );
    assert!(all["pid"].as_u64().is_some_and(|p| p > 0), "{all}");
    assert_eq!(
        call(
            &c,
            &["cmd.run", "echo out; echo err >&2", "python_shell=True"]
        ),
        json!("out\nerr")
    );
    // Without a shell the string is split like shlex.split and run directly.
    assert_eq!(
        call(&c, &["cmd.run", "echo 'a b' | cat", "python_shell=False"]),
        json!("a b | cat")
    );
    assert_eq!(
        call(&c, &["cmd.run", "pwd", &format!("cwd={work_s}")]),
        json!(work_s)
    );
    assert_eq!(
        call(
            &c,
            &[
                "cmd.run",
                "echo $GREETING",
                "python_shell=True",
                "env={GREETING: hello}"
            ]
        ),
        json!("hello")
    );
    assert_eq!(
        call(&c, &["cmd.run", "cat", "stdin=one\\ntwo"]),
        json!("one\ntwo")
    );
    assert_eq!(
        call(
            &c,
            &["cmd.run_stdout", "echo o; echo e >&2", "python_shell=True"]
        ),
        json!("o")
    );
    assert_eq!(
        call(
            &c,
            &["cmd.run_stderr", "echo o; echo e >&2", "python_shell=True"]
        ),
        json!("e")
    );
    assert_eq!(
        call(&c, &["cmd.run", "umask", "python_shell=True", "umask=027"]),
        json!("0027")
    );
    assert_eq!(
        call(&c, &["cmd.which", "sh"])
            .as_str()
            .map(|s| s.ends_with("/sh")),
        Some(true)
    );
    assert_eq!(
        call(&c, &["cmd.has_exec", "no-such-program-brine"]),
        json!(false)
    );

    // The command's exit code is the job's retcode.
    let out = c.brine_call(
        "m1",
        &[
            "--local",
            "--retcode-passthrough",
            "cmd.retcode",
            "exit 7",
            "python_shell=True",
        ],
    );
    assert_eq!(out.status.code(), Some(7), "{}", stdout(&out));
    let out = c.brine_call("m1", &["--local", "cmd.run", "ls /no/such/dir/brine"]);
    assert_eq!(out.status.code(), Some(1));
    let out = c.brine_call(
        "m1",
        &[
            "--local",
            "cmd.run",
            "ls /no/such/dir/brine",
            "ignore_retcode=True",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // A timeout kills the command and reports like Salt (without a shell,
    // Salt shows the argument list).
    assert_eq!(
        call(
            &c,
            &["cmd.run", "sleep 31.25", "timeout=1", "python_shell=False"]
        ),
        json!("['sleep', '31.25'] : Timed out after 1 seconds")
    );
    assert!(
        processes_with("sleep 31.25").is_empty(),
        "the timed-out sleep survived"
    );

    let missing = call_err(
        &c,
        &["cmd.run", "no-such-program-brine --x", "python_shell=False"],
    );
    assert!(
        missing.starts_with("Error running 'cmd.run': Unable to run command")
            && missing.contains("No such file or directory"),
        "{missing}"
    );
    if nix::unistd::geteuid().is_root() {
        assert_eq!(
            call(&c, &["cmd.run", "id -un", "runas=nobody"]),
            json!("nobody")
        );
    }
}

#[test]
fn cmd_run_through_the_master_uses_a_shell_runas_and_retcodes() {
    let c = Cluster::builder().minions(1).start().ready();

    // From the CLI, cmd.run hands the string to a shell (Salt's default).
    assert_eq!(
        via_master(&c, &["cmd.run", "echo abc | tr a-c x-z"]),
        json!("xyz")
    );
    assert_eq!(
        via_master(&c, &["cmd.run", "echo a b | cat", "python_shell=False"]),
        json!("a b | cat")
    );
    assert_eq!(
        via_master(&c, &["cmd.run", "pwd", "cwd=/tmp"]),
        json!("/tmp")
    );
    assert_eq!(
        via_master(&c, &["cmd.run", "echo $X", "env={X: from-env}"]),
        json!("from-env")
    );

    let out = c.brine(&[
        "--retcode-passthrough",
        "m1",
        "cmd.run",
        "echo failing; exit 7",
    ]);
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("failing"), "{}", stdout(&out));

    assert_eq!(
        via_master(&c, &["cmd.run", "sleep 32.5", "timeout=1"]),
        json!("sleep 32.5 : Timed out after 1 seconds")
    );
    assert!(
        processes_with("sleep 32.5").is_empty(),
        "the timed-out sleep survived"
    );

    if let Some(user) = TempUser::create() {
        assert_eq!(
            via_master(
                &c,
                &[
                    "cmd.run",
                    "id -un; echo $USER",
                    &format!("runas={}", user.0)
                ]
            ),
            json!(format!("{0}\n{0}", user.0))
        );
        let unknown = via_master(&c, &["cmd.run", "id", "runas=no-such-user-brine"]);
        assert_eq!(
            unknown,
            json!("ERROR: User 'no-such-user-brine' is not available")
        );
    }
}

#[test]
fn kill_job_kills_a_running_commands_process_group() {
    let c = Cluster::builder().minions(1).start().ready();
    let marker = "sleep 987.25";
    let out = c.brine(&["--async", "m1", "cmd.run", &format!("{marker}; echo never")]);
    let jid = stdout(&out)
        .trim()
        .strip_prefix("Executed command with job ID: ")
        .unwrap_or_else(|| panic!("no jid: {} {}", stdout(&out), stderr(&out)))
        .to_string();
    wait_for("the sleep to start", Duration::from_secs(20), || {
        (!processes_with(marker).is_empty()).then_some(())
    });

    let killed = via_master(&c, &["saltutil.kill_job", &jid]);
    assert!(
        killed
            .as_str()
            .is_some_and(|s| s.starts_with(&format!("Signal 9 sent to job {jid}"))),
        "{killed}"
    );
    // The shell and its sleep (one process group) are gone.
    wait_for(
        "the job's processes to die",
        Duration::from_secs(10),
        || processes_with(marker).is_empty().then_some(()),
    );
    assert_eq!(via_master(&c, &["saltutil.find_job", &jid]), json!({}));
}
