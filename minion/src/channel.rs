//! The request channel of a `brine-call` that `brine-ssh` started
//! (`--ssh-channel`): what a master would answer (the file server, the
//! pillar compiled on the operator's side) asked over the ssh session's
//! stdin and stdout, one frame per request and one per reply, and the
//! printed output sent the same way at the end.
//!
//! Requests take turns (a lock around both streams): a state run asks one
//! thing at a time.

use brine_common::frame::{read_frame, write_frame};
use brine_common::wire::{ChannelUp, MAX_CHANNEL_FRAME, Reply, Request};
use tokio::io::{Stdin, Stdout};
use tokio::sync::Mutex;

pub struct Channel {
    streams: Mutex<(Stdin, Stdout)>,
}

impl Channel {
    pub fn stdio() -> Channel {
        Channel {
            streams: Mutex::new((tokio::io::stdin(), tokio::io::stdout())),
        }
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
