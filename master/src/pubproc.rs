//! The publisher process: the one that holds the PUB socket.
//!
//! Every connected minion costs the master two sockets, one on each port.
//! Keeping the publish port in a child process (as Salt keeps its publisher
//! daemon apart) lets one master hold twice as many minions under a given
//! open-files limit, and keeps fan-out to thousands of subscribers off the
//! request server's threads. The master seals and signs; the child only
//! copies `[topic, payload]` frames from its stdin to the PUB socket. It exits
//! when its stdin closes, so it never outlives the master, even a SIGKILLed one;
//! it ignores SIGTERM and SIGINT (a service manager or a terminal sends them to
//! the whole process group), so a stopping master decides when it goes: after
//! the last publication, by closing its stdin ([`PubProcess::close`]). It
//! ignores SIGHUP too: a closing terminal sends it to the whole group, and
//! logrotate's reopen is the master's business. The child keeps no log file
//! to reopen: it logs to the stderr it shares with the master (the terminal,
//! or the journal under systemd).

use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use zeromq::{PubSocket, Socket, SocketOptions, SocketSend, ZmqMessage};

/// Largest message a subscriber may send (a subscription is one topic).
const SUBSCRIPTION_CAP: usize = 4096;
/// A subscription is one frame; a message of many is an attack.
const MAX_SUBSCRIPTION_FRAMES: usize = 4;

/// Largest frame the master hands the child.
const FRAME_CAP: usize = 256 * 1024 * 1024;

/// The flag that makes `brine-master` run as the publisher process.
pub const CHILD_FLAG: &str = "--publisher";

/// How long a closed publisher process has to exit before it is killed.
const EXIT_WAIT: Duration = Duration::from_secs(5);

/// The master's handle on its publisher process.
pub struct PubProcess {
    child: Child,
    stdin: ChildStdin,
}

impl PubProcess {
    /// Start the child, bound on `endpoint`; returns it and the bound port.
    pub async fn spawn(endpoint: &str) -> anyhow::Result<(Self, u16)> {
        let exe = std::env::current_exe()?;
        let level = std::env::var("BRINE_PUBLISHER_LOG").unwrap_or_else(|_| "warning".into());
        let mut child = Command::new(exe)
            .args([CHILD_FLAG, endpoint, "-l", &level])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start the publisher process: {e}"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("publisher has no stdout"))?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| anyhow::anyhow!("publisher has no stdin"))?;
        let mut line = String::new();
        let read = tokio::time::timeout(
            Duration::from_secs(15),
            BufReader::new(stdout).read_line(&mut line),
        )
        .await;
        let port = match read {
            Ok(Ok(_)) => line
                .trim()
                .strip_prefix("publisher ready port=")
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| {
                    anyhow::anyhow!("the publisher process could not bind {endpoint}")
                })?,
            _ => anyhow::bail!("the publisher process did not start"),
        };
        Ok((PubProcess { child, stdin }, port))
    }

    /// Hand one publication to the child.
    pub async fn send(&mut self, topic: &[u8], payload: &[u8]) -> std::io::Result<()> {
        let frame = encode_frame(topic, payload)?;
        self.stdin.write_all(&frame).await?;
        self.stdin.flush().await
    }

    /// Close the child's stdin (it sends what it has and exits) and wait
    /// for it to exit; killed if it has not within [`EXIT_WAIT`].
    pub async fn close(self) {
        let PubProcess { mut child, stdin } = self;
        drop(stdin);
        match tokio::time::timeout(EXIT_WAIT, child.wait()).await {
            Ok(Ok(status)) if status.success() => {}
            Ok(Ok(status)) => tracing::warn!("the publisher process exited with {status}"),
            Ok(Err(e)) => tracing::warn!("cannot wait for the publisher process: {e}"),
            Err(_) => {
                tracing::warn!(
                    "the publisher process did not exit within {EXIT_WAIT:?}; killing it"
                );
                if let Err(e) = child.kill().await {
                    tracing::warn!("cannot kill the publisher process: {e}");
                }
            }
        }
    }
}

/// `u32 length | u16 topic length | topic | payload`.
fn encode_frame(topic: &[u8], payload: &[u8]) -> std::io::Result<Vec<u8>> {
    let too_big = || std::io::Error::other("publication too large");
    let topic_len = u16::try_from(topic.len()).map_err(|_| too_big())?;
    let len = u32::try_from(2 + topic.len() + payload.len()).map_err(|_| too_big())?;
    let mut frame = Vec::with_capacity(4 + len as usize);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&topic_len.to_be_bytes());
    frame.extend_from_slice(topic);
    frame.extend_from_slice(payload);
    Ok(frame)
}

/// Read one frame; `None` at end of input (the master is gone).
async fn read_frame<R: AsyncReadExt + Unpin>(r: &mut R) -> std::io::Result<Option<(Bytes, Bytes)>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if !(2..=FRAME_CAP).contains(&len) {
        return Err(std::io::Error::other(format!("bad frame length {len}")));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).await?;
    let topic_len = u16::from_be_bytes([buf[0], buf[1]]) as usize;
    if 2 + topic_len > len {
        return Err(std::io::Error::other("bad topic length"));
    }
    let buf = Bytes::from(buf);
    Ok(Some((
        buf.slice(2..2 + topic_len),
        buf.slice(2 + topic_len..),
    )))
}

/// The child's whole life: bind, say so, copy frames until stdin closes.
pub async fn run_child(endpoint: &str) -> anyhow::Result<()> {
    // Caught and never read: the signals no longer end this process (see
    // the module's doc).
    use tokio::signal::unix::{SignalKind, signal};
    let _ignored = (
        signal(SignalKind::terminate())?,
        signal(SignalKind::interrupt())?,
        signal(SignalKind::hangup())?,
    );
    let (mut socket, bound) = bind(endpoint).await?;
    let port = crate::publisher::endpoint_port(&bound);
    println!("publisher ready port={port}");
    use std::io::Write;
    std::io::stdout().flush()?;
    let mut stdin = tokio::io::stdin();
    while let Some((topic, payload)) = read_frame(&mut stdin).await? {
        let mut msg = ZmqMessage::from(topic);
        msg.push_back(payload);
        if let Err(e) = socket.send(msg).await {
            tracing::warn!("publish send failed: {e}");
        }
    }
    tracing::debug!("the master is gone; publisher exiting");
    Ok(())
}

/// Bind the PUB socket; returns it and the endpoint it is bound on.
async fn bind(endpoint: &str) -> anyhow::Result<(PubSocket, String)> {
    // A publisher of a master that was just killed may still hold the port
    // for a moment: retry for a few seconds.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut options = SocketOptions::default();
        options.max_message_size(SUBSCRIPTION_CAP);
        options.max_message_frames(MAX_SUBSCRIPTION_FRAMES);
        let mut socket = PubSocket::with_options(options);
        match socket.bind(endpoint).await {
            Ok(bound) => return Ok((socket, bound.to_string())),
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::debug!("cannot bind {endpoint} yet: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => anyhow::bail!("cannot bind the publish port {endpoint}: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip() {
        let frame = encode_frame(b"@web1\n", b"payload").expect("encode");
        let mut r = &frame[..];
        let (topic, payload) = read_frame(&mut r).await.expect("read").expect("frame");
        assert_eq!(
            (&topic[..], &payload[..]),
            (&b"@web1\n"[..], &b"payload"[..])
        );
        assert!(read_frame(&mut r).await.expect("eof").is_none());
    }
}
