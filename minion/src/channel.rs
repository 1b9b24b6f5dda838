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

use std::os::fd::OwnedFd;

use brine_common::frame::{read_frame, write_frame};
use brine_common::wire::{ChannelUp, MAX_CHANNEL_FRAME, Reply, Request};
use tokio::fs::File;
use tokio::sync::Mutex;

pub struct Channel {
    streams: Mutex<(File, File)>,
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
        })
    }

    /// Asks brine-ssh and waits for its answer.
    pub async fn request(&self, body: Request) -> Result<Reply, String> {
        let mut streams = self.streams.lock().await;
        let (input, output) = &mut *streams;
        write_frame(output, &ChannelUp::Request(body))
            .await
            .map_err(|e| format!("cannot ask brine-ssh: {e}"))?;
        read_frame(input, MAX_CHANNEL_FRAME)
            .await
            .map_err(|e| format!("no answer from brine-ssh: {e}"))
    }

    /// Sends what would have been printed, and the exit code.
    pub async fn finish(&self, output: String, retcode: i32) -> Result<(), String> {
        let mut streams = self.streams.lock().await;
        write_frame(&mut streams.1, &ChannelUp::Done { output, retcode })
            .await
            .map_err(|e| format!("cannot send the result to brine-ssh: {e}"))
    }
}

/// Copies of fds 0 and 1 for the channel; 0 reopened on `/dev/null`, 1 made
/// a copy of 2.
fn take_stdio() -> std::io::Result<(OwnedFd, OwnedFd)> {
    use nix::unistd::{dup, dup2_stdin, dup2_stdout};
    let input = dup(std::io::stdin())?;
    let output = dup(std::io::stdout())?;
    let null = std::fs::File::open("/dev/null")?;
    dup2_stdin(&null)?;
    dup2_stdout(std::io::stderr())?;
    Ok((input, output))
}
