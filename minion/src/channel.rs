//! The request channel of a `brine-call` that `brine-ssh` started
//! (`--ssh-channel`): what a master would answer (the file server, the
//! pillar compiled on the operator's side) asked over the ssh session's
//! stdin and stdout, one frame per request and one per reply, and the
//! printed output sent the same way at the end.
//!
//! Requests take turns (a lock around both streams): a state run asks one
//! thing at a time.
//!
//! The channel takes the process's stdin and stdout for itself: file
//! descriptors 0 and 1 then point at `/dev/null` and at stderr, so that a
//! command a state runs (which inherits them) can neither read the
//! channel's frames nor write into them.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use brine_common::frame::{read_frame, write_frame};
use brine_common::wire::{ChannelUp, MAX_CHANNEL_FRAME, Reply, Request};
use tokio::fs::File;
use tokio::sync::Mutex;

pub struct Channel {
    streams: Mutex<(File, File)>,
    /// Set while a request is under way and left set if it never finished
    /// (its caller gave up mid-frame): what comes next on the streams
    /// would not be its answer, so nothing more is asked.
    broken: AtomicBool,
}

impl Channel {
    /// The channel on this process's stdin and stdout, which are moved out
    /// of the way of everything else (see the module's comment).
    pub fn stdio() -> std::io::Result<Channel> {
        let (input, output) = take_stdio()?;
        Ok(Channel {
            streams: Mutex::new((
                File::from_std(std::fs::File::from(input)),
                File::from_std(std::fs::File::from(output)),
            )),
            broken: AtomicBool::new(false),
        })
    }

    /// Asks brine-ssh and waits for its answer.
    pub async fn request(&self, body: Request) -> Result<Reply, String> {
        let mut streams = self.streams.lock().await;
        if self.broken.swap(true, Ordering::SeqCst) {
            return Err("the channel to brine-ssh broke on an earlier request".into());
        }
        let (input, output) = &mut *streams;
        write_frame(output, &ChannelUp::Request(body))
            .await
            .map_err(|e| format!("cannot ask brine-ssh: {e}"))?;
        let reply = read_frame(input, MAX_CHANNEL_FRAME)
            .await
            .map_err(|e| format!("no answer from brine-ssh: {e}"))?;
        self.broken.store(false, Ordering::SeqCst);
        Ok(reply)
    }

    /// Sends what would have been printed, and the exit code.
    pub async fn finish(&self, output: String, retcode: i32) -> Result<(), String> {
        let mut streams = self.streams.lock().await;
        write_frame(&mut streams.1, &ChannelUp::Done { output, retcode })
            .await
            .map_err(|e| format!("cannot send the result to brine-ssh: {e}"))
    }
}

/// Copies of fds 0 and 1 for the channel (close-on-exec); 0 reopened on
/// `/dev/null`, 1 made a copy of 2.
fn take_stdio() -> std::io::Result<(OwnedFd, OwnedFd)> {
    use nix::unistd::{dup2_stdin, dup2_stdout};
    // Close-on-exec copies: a command brine-call runs must not inherit them.
    let input = std::io::stdin().as_fd().try_clone_to_owned()?;
    let output = std::io::stdout().as_fd().try_clone_to_owned()?;
    let null = std::fs::File::open("/dev/null")?;
    dup2_stdin(&null)?;
    dup2_stdout(std::io::stderr())?;
    Ok((input, output))
}
