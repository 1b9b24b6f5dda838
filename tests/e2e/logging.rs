//! Logging as Salt configures it (issue 18), through the real daemons: each
//! writes its `log_file` in `log_fmt_logfile` at `log_level_logfile`, reopens
//! it on SIGHUP (logrotate's move-then-HUP) without stopping, and goes on
//! with the console alone when the file cannot be opened.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::cluster::{Cluster, bin, free_port, wait_for, wait_for_text};
use crate::master_stop::publisher_of;

const WAIT: Duration = Duration::from_secs(20);

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn hangup(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("kill -HUP");
    assert!(status.success(), "kill -HUP {pid}");
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// A line of Salt's default log file format: `2026-12-07 13:04:05,042
/// [brine_master.daemon:138 ][INFO    ][4242] brine-master ready ...`.
fn assert_salt_logfile_line(text: &str, message: &str, pid: u32) {
    let line = text
        .lines()
        .find(|l| l.contains(message))
        .unwrap_or_else(|| panic!("no line with {message:?} in:\n{text}"));
    let (stamp, rest) = line.split_at(23);
    let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(digits.len(), 17, "date and milliseconds in {line:?}");
    assert_eq!(&stamp[4..5], "-", "{line:?}");
    assert_eq!(&stamp[19..20], ",", "{line:?}");
    assert!(rest.starts_with(" [brine_"), "{line:?}");
    assert!(rest.contains("][INFO    ]["), "{line:?}");
    assert!(rest.contains(&format!("[{pid}] {message}")), "{line:?}");
}

/// Lines in the log files, a rename as logrotate does it, SIGHUP: new files
/// at the old paths with new lines, the old ones kept, and the master, its
/// publisher process, the minion and brine-api still serving.
#[test]
fn daemons_write_their_log_file_and_reopen_it_on_sighup() {
    let api_conf = format!(
        "log_level_logfile: info\nrest_api:\n  host: 127.0.0.1\n  port: {}\n  disable_ssl: True\n",
        free_port()
    );
    let c = Cluster::builder()
        .minions(1)
        .auto_accept(true)
        .master_conf(&api_conf)
        .minion_conf("log_level_logfile: info\n")
        .start();
    c.wait_pingable("m1", &["m1"]);
    // brine-api's log file from Salt's --log-file flag.
    let api_file = c.dir.path().join("api-file.log");
    let api = c.start_api(&["--log-file", &api_file.display().to_string()]);
    let master_pid = c.master_pid().expect("master");
    let minion_pid = c.minion_pid("m1").expect("minion");
    let master_file = c.master_log_file();
    let minion_file = c.minion_log_file("m1");
    assert!(
        wait_for_text(|| read(&master_file), "brine-master ready", WAIT),
        "master log file {}:\n{}",
        master_file.display(),
        read(&master_file)
    );
    assert_salt_logfile_line(&read(&master_file), "brine-master ready", master_pid);
    assert!(
        wait_for_text(|| read(&minion_file), "running job", WAIT),
        "minion log file:\n{}",
        read(&minion_file)
    );
    // The console keeps its own level (-l debug) and Salt's console format.
    assert!(
        c.master_log().contains("[INFO    ] brine-master ready"),
        "{}",
        c.master_log()
    );

    assert!(api_file.exists(), "brine-api opened its --log-file");

    let master_moved = master_file.with_extension("1");
    let minion_moved = minion_file.with_extension("1");
    std::fs::rename(&master_file, &master_moved).expect("rotate the master's log");
    std::fs::rename(&minion_file, &minion_moved).expect("rotate the minion's log");
    std::fs::rename(&api_file, api_file.with_extension("1")).expect("rotate the API's log");
    let publisher = publisher_of(master_pid);
    hangup(master_pid);
    hangup(minion_pid);
    hangup(api.pid());
    // A SIGHUP meant for the group (a closing terminal) must not end the
    // publisher process either.
    hangup(publisher);
    for (file, who) in [
        (&master_file, "master"),
        (&minion_file, "minion"),
        (&api_file, "brine-api"),
    ] {
        assert!(
            wait_for_text(|| read(file), "log file reopened", WAIT),
            "the {who} did not reopen {}",
            file.display()
        );
    }
    c.wait_pingable("m1", &["m1"]);
    assert!(
        wait_for_text(|| read(&minion_file), "running job", WAIT),
        "the minion's new log file:\n{}",
        read(&minion_file)
    );
    assert!(read(&master_moved).contains("brine-master ready"));
    assert!(read(&minion_moved).contains("running job"));
    assert!(alive(master_pid) && alive(minion_pid) && alive(publisher) && alive(api.pid()));
    let out = c.brine(&["--out", "json", "--static", "m1", "test.ping"]);
    assert!(out.status.success(), "test.ping after SIGHUP");
}

/// A log file that cannot be opened (its directory is a file): the master
/// says so on stderr with the path and the error, and serves anyway.
#[test]
fn an_unopenable_log_file_is_said_and_the_daemon_runs() {
    let mut c = Cluster::builder().minions(0).start();
    let blocker = c.master_root().join("not-a-dir");
    std::fs::write(&blocker, "a file").expect("write");
    let log = blocker.join("master");
    let conf = c.master_dir().join("master");
    let mut text = read(&conf);
    text.push_str(&format!("log_file: {}\n", log.display()));
    std::fs::write(&conf, text).expect("config");
    c.kill_master();
    c.start_master();
    let said = wait_for("the warning", WAIT, || {
        let stderr = c.master_log();
        stderr
            .lines()
            .find(|l| l.contains("cannot open the log file"))
            .map(str::to_string)
    });
    assert!(
        said.contains(&log.display().to_string()) && said.contains("(os error"),
        "{said}"
    );
    c.add_minion("m1", "");
    c.accept_all();
    c.wait_pingable("m1", &["m1"]);
}

/// Under systemd (`JOURNAL_STREAM` names stderr's device and inode) the
/// console lines are plain: sd-daemon's `<N>` priority first, no time, no
/// colour, even with a console format that writes the time.
#[test]
fn console_lines_under_the_journal_are_plain_with_a_priority() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("conf");
    std::fs::create_dir(&conf).expect("mkdir");
    std::fs::write(
        conf.join("master"),
        format!(
            "root_dir: {root}\ninterface: 127.0.0.1\npublish_port: {pp}\nret_port: {rp}\n\
             log_fmt_console: '%(asctime)s %(colorlevel)s %(message)s'\n",
            root = dir.path().join("root").display(),
            pp = free_port(),
            rp = free_port(),
        ),
    )
    .expect("config");
    let journal = dir.path().join("journal");
    let stderr = std::fs::File::create(&journal).expect("stderr file");
    let meta = stderr.metadata().expect("stat");
    let mut master = Command::new(bin("brine-master"))
        .arg("-c")
        .arg(&conf)
        .args(["-l", "info"])
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("start brine-master");
    let stdout = master.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let ready = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.starts_with("brine-master ready"));
        let _ = tx.send(ready);
    });
    let ready = rx.recv_timeout(WAIT).unwrap_or(false);
    let _ = master.kill();
    let _ = master.wait();
    let text = read(&journal);
    assert!(ready, "the master did not start:\n{text}");
    let line = text
        .lines()
        .find(|l| l.contains("brine-master ready"))
        .unwrap_or_else(|| panic!("no ready line:\n{text}"));
    assert!(
        line.starts_with("<6>[INFO    ] brine-master ready"),
        "{line:?}"
    );
    assert!(!text.contains('\x1b'), "no colour: {text:?}");
}
