//! The `brine` CLI's progress line (issue 18): on a terminal while a job
//! waits (`0/1 returned, 1 running, 0 not connected`), and in batch mode
//! (`1/1 finished, 0 running, 0 waiting`), erased before the output so
//! stdout is exactly what Salt prints; never when stderr is not a terminal.

use std::io::Read;
use std::process::{Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::pty::openpty;

use crate::cluster::{Cluster, bin, stderr, stdout};

/// What `brine` printed with stderr on a pseudo-terminal: its output and
/// everything the terminal received.
fn brine_on_a_terminal(c: &Cluster, args: &[&str]) -> (Output, String) {
    let pty = openpty(None, None).expect("openpty");
    let child = c
        .command(bin("brine"))
        .arg("-c")
        .arg(c.master_dir())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(pty.slave))
        .spawn()
        .expect("run brine");
    // The child holds the only slave end now, so reading the master side
    // ends (EIO) when brine exits; what was read before stays in `screen`.
    let mut terminal = std::fs::File::from(pty.master);
    let screen = std::thread::spawn(move || {
        let mut screen = Vec::new();
        let _ = terminal.read_to_end(&mut screen);
        String::from_utf8_lossy(&screen).into_owned()
    });
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(output) => output.expect("brine output"),
        Err(_) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("brine {args:?} did not finish within 60 s");
        }
    };
    (output, screen.join().expect("terminal reader"))
}

#[test]
fn a_waiting_job_shows_progress_on_a_terminal_and_never_on_a_pipe() {
    let c = Cluster::builder().minions(1).start().ready();

    let (output, screen) = brine_on_a_terminal(&c, &["-t", "30", "m1", "test.sleep", "2"]);
    assert_eq!(stdout(&output), "m1:\n    True\n", "{screen:?}");
    assert!(
        screen.contains("\r\x1b[K0/1 returned, 1 running, 0 not connected"),
        "{screen:?}"
    );
    assert!(
        screen.ends_with("\r\x1b[K"),
        "the line is erased: {screen:?}"
    );

    let (output, screen) =
        brine_on_a_terminal(&c, &["-b", "1", "-t", "30", "m1", "test.sleep", "1"]);
    assert!(stdout(&output).contains("m1:\n    True\n"), "{output:?}");
    assert!(
        screen.contains("\r\x1b[K1/1 finished, 0 running, 0 waiting"),
        "{screen:?}"
    );
    assert!(
        screen.ends_with("\r\x1b[K"),
        "the line is erased: {screen:?}"
    );

    let piped = c.brine(&["-t", "30", "m1", "test.sleep", "1"]);
    assert_eq!(stdout(&piped), "m1:\n    True\n");
    assert!(
        !stderr(&piped).contains("returned,") && !stderr(&piped).contains('\x1b'),
        "{piped:?}"
    );
}
