//! The master's local socket: serves `brine`, `brine-key`, `brine-run`,
//! `brine-cp` and `brine-api` the protocol of `brine_client::protocol`.
//!
//! The socket lives in `sock_dir`, which is created mode 0700 so only the
//! master's user (and root) can use it — unless `publisher_acl` names other
//! users: then the socket is open to every local user and each request is
//! authorised by the caller's uid from the kernel (crate::publisher_acl).
//! Each connection carries one [`ClientRequest`]; a bad request is answered
//! with an error, never fatal.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use brine_common::event::Event;
use brine_common::frame::{
    FrameError, read_frame, write_encoded_frame_unflushed, write_frame, write_frame_unflushed,
};
use brine_common::wire::TargetSpec;
use globset::{GlobBuilder, GlobMatcher};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::broadcast::error::RecvError;

use brine_client::{ClientReply, ClientRequest, JobRequest, REQUEST_CAP, socket_path};

use crate::bus::BusEvent;
use crate::daemon::Master;
use crate::jobs::{self, PublishOutcome};
use crate::publisher_acl::{AclError, Caller, PublisherAcl};

pub fn bind(master: &Master) -> anyhow::Result<UnixListener> {
    let dir = &master.config.sock_dir;
    let shared = !master.config.publisher_acl.is_empty();
    let (dir_mode, socket_mode) = if shared {
        (0o755, 0o666)
    } else {
        (0o700, 0o600)
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create sock_dir {}: {e}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(dir_mode))
        .map_err(|e| anyhow::anyhow!("cannot set the mode of sock_dir {}: {e}", dir.display()))?;
    let path = socket_path(dir);
    // A socket file left by a master that was killed is stale: replace it.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)
        .map_err(|e| anyhow::anyhow!("cannot bind {}: {e}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(socket_mode))
        .map_err(|e| anyhow::anyhow!("cannot set the mode of {}: {e}", path.display()))?;
    Ok(listener)
}

/// The master's `publisher_acl`; a malformed one admits nobody but root and
/// the master's user (and says why), rather than stopping the master.
fn publisher_acl(master: &Master) -> PublisherAcl {
    let config = &master.config;
    PublisherAcl::from_config(&config.publisher_acl, &config.publisher_acl_blacklist)
        .unwrap_or_else(|e| {
            tracing::error!("{e}; only root and the master's user may publish");
            PublisherAcl::default()
        })
}

/// Serve the socket; the master's stop ends this loop and every connection
/// (a client waiting on a job or streaming events sees the socket close).
pub async fn serve(master: Arc<Master>, listener: UnixListener) {
    let acl = Arc::new(publisher_acl(&master));
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let master = master.clone();
                let acl = acl.clone();
                master
                    .stop
                    .clone()
                    .spawn(async move { handle(master, &acl, stream).await });
            }
            Err(e) => {
                tracing::warn!("client socket accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn handle(master: Arc<Master>, acl: &PublisherAcl, stream: UnixStream) {
    // Who is asking comes from the kernel (SO_PEERCRED), not from the request.
    let uid = stream.peer_cred().ok().map(|c| c.uid());
    let caller = Caller::of(uid);
    let (mut read, mut write) = stream.into_split();
    let request: ClientRequest = match read_frame(&mut read, REQUEST_CAP).await {
        Ok(r) => r,
        Err(FrameError::Closed) => return,
        Err(e) => {
            let _ = write_frame(&mut write, &error(format!("bad request: {e}"))).await;
            return;
        }
    };
    let result = match request {
        ClientRequest::Publish { mut job, watch } => {
            job.user = job_user(&caller, std::mem::take(&mut job.user));
            match acl.authorize(&master, &caller, &mut job) {
                Ok(()) => publish(&master, job, watch, read, &mut write).await,
                Err(refusal) => write_frame(&mut write, &acl_reply(refusal)).await,
            }
        }
        // A user admitted by publisher_acl may publish, nothing else.
        _ if !caller.is_trusted() => {
            tracing::warn!("request refused: {} may only publish jobs", caller.name);
            let message = format!(
                "permission denied: {} may only publish the jobs publisher_acl permits",
                caller.name
            );
            write_frame(&mut write, &error(message)).await
        }
        ClientRequest::Events { tag_glob } => {
            stream_events(&master, tag_glob, read, &mut write).await
        }
        ClientRequest::Runner { fun, args, kwargs } => {
            let reply = match crate::runners::run(&master, &fun, args, kwargs).await {
                Ok((ret, retcode)) => ClientReply::RunnerResult { ret, retcode },
                Err(e) => error(e.to_string()),
            };
            write_frame(&mut write, &reply).await
        }
        ClientRequest::Keys(cmd) => {
            let reply = match master.key_command(&cmd) {
                Ok(r) => ClientReply::Keys(r),
                Err(e) => error(e.to_string()),
            };
            write_frame(&mut write, &reply).await
        }
        ClientRequest::Match { tgt, tgt_type } => {
            let reply = match jobs::match_target(&master, &TargetSpec { tgt, tgt_type }) {
                Ok(minions) => ClientReply::Matched { minions },
                Err(e) => error(e.to_string()),
            };
            write_frame(&mut write, &reply).await
        }
        ClientRequest::FireEvent { tag, data } => {
            master.bus.fire(Event::new(tag, data));
            write_frame(&mut write, &ClientReply::Fired).await
        }
    };
    if let Err(e) = result {
        tracing::debug!("client connection ended: {e}");
    }
}

/// The user a job is recorded under. A process running as the master's own
/// user (or root) may name the user it acts for — `brine-api` names the
/// eauth login, as salt-api does; it could read the master's keys anyway, so
/// trusting it gives nothing away. Anyone else is recorded as who the kernel
/// says they are, whatever they claim.
/// The reply to a publication the ACL stopped: a refusal Salt's CLI prints
/// as output, or an error about the request.
fn acl_reply(refusal: AclError) -> ClientReply {
    match refusal {
        AclError::Refused(words) => ClientReply::Refused {
            message: words.to_string(),
        },
        AclError::Invalid(message) => error(message),
    }
}

fn job_user(caller: &Caller, claimed: String) -> String {
    if caller.is_trusted() && !claimed.is_empty() {
        claimed
    } else {
        caller.name.clone()
    }
}

fn error(message: String) -> ClientReply {
    ClientReply::Error { message }
}

async fn publish(
    master: &Arc<Master>,
    job: JobRequest,
    watch: bool,
    read: OwnedReadHalf,
    write: &mut OwnedWriteHalf,
) -> Result<(), FrameError> {
    let (jid, events) = match jobs::publish(master, job, watch).await {
        Ok((
            PublishOutcome::Published {
                jid,
                minions,
                not_connected,
            },
            events,
        )) => {
            let reply = ClientReply::Published {
                jid: jid.clone(),
                minions,
                not_connected,
            };
            write_frame(write, &reply).await?;
            (jid, events)
        }
        Ok((PublishOutcome::NoMinions, _)) => {
            return write_frame(write, &ClientReply::NoMinions).await;
        }
        Err(e) => return write_frame(write, &error(e.to_string())).await,
    };
    let Some(mut events) = events else {
        return Ok(());
    };
    tracing::debug!(%jid, "streaming the job's events to the client");
    let mut read = read;
    let mut probe = [0u8; 1];
    // As in `forward`: the returns that arrived together go out with one
    // flush, so a client waiting on thousands of minions drains its queue
    // (held in the master's memory meanwhile) as fast as it can read.
    let mut out = tokio::io::BufWriter::new(write);
    loop {
        tokio::select! {
            // The client never sends more; a read returning means it hung up.
            _ = read.read(&mut probe) => return Ok(()),
            ev = events.recv() => {
                let Some(ev) = ev else { return Ok(()) };
                write_event(&mut out, &ev).await?;
                while let Some(ev) = events.try_recv() {
                    write_event(&mut out, &ev).await?;
                }
                out.flush().await?;
            }
        }
    }
}

async fn stream_events(
    master: &Arc<Master>,
    tag_glob: Option<String>,
    read: OwnedReadHalf,
    write: &mut OwnedWriteHalf,
) -> Result<(), FrameError> {
    let matcher: Option<GlobMatcher> = match tag_glob
        .as_deref()
        .map(|g| GlobBuilder::new(g).literal_separator(false).build())
    {
        None => None,
        Some(Ok(g)) => Some(g.compile_matcher()),
        Some(Err(e)) => return write_frame(write, &error(format!("invalid tag glob: {e}"))).await,
    };
    let events = master.bus.subscribe();
    // An empty Lagged(0) tells the client the subscription is live.
    write_frame(write, &ClientReply::Lagged(0)).await?;
    forward(events, read, write, |ev| {
        matcher.as_ref().is_none_or(|m| m.is_match(&ev.tag))
    })
    .await
}

/// Copy matching bus events to the client until it hangs up.
async fn forward(
    mut events: tokio::sync::broadcast::Receiver<Arc<BusEvent>>,
    mut read: OwnedReadHalf,
    write: &mut OwnedWriteHalf,
    wanted: impl Fn(&BusEvent) -> bool,
) -> Result<(), FrameError> {
    let mut probe = [0u8; 1];
    // Events that arrive together leave together: one flush per burst, not
    // two writes per event, so a subscriber keeps up with a busy bus.
    let mut out = tokio::io::BufWriter::new(write);
    loop {
        tokio::select! {
            // The client never sends more; a read returning means it hung up.
            _ = read.read(&mut probe) => return Ok(()),
            ev = events.recv() => {
                let mut next = Some(ev);
                while let Some(ev) = next.take() {
                    match ev {
                        Ok(ev) if wanted(&ev) => write_event(&mut out, &ev).await?,
                        Ok(_) => {}
                        Err(RecvError::Lagged(n)) => write_frame_unflushed(&mut out, &ClientReply::Lagged(n)).await?,
                        Err(RecvError::Closed) => return Ok(()),
                    }
                    next = match events.try_recv() {
                        Ok(ev) => Some(Ok(ev)),
                        Err(tokio::sync::broadcast::error::TryRecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
                        Err(_) => None,
                    };
                }
                out.flush().await?;
            }
        }
    }
}

/// Write one bus event as a `ClientReply::Event` frame (unflushed).
async fn write_event<W: tokio::io::AsyncWrite + Unpin>(
    out: &mut W,
    event: &BusEvent,
) -> Result<(), FrameError> {
    let encoded = ClientReply::encoded_event(&event.tag, event.packed_data());
    write_encoded_frame_unflushed(out, &encoded).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publisher_acl::user_name;
    use serde_json::json;

    #[test]
    fn an_acl_refusal_is_output_and_a_bad_request_an_error() {
        use crate::publisher_acl::AUTHORIZATION_ERROR;
        assert!(matches!(
            acl_reply(AclError::Refused(AUTHORIZATION_ERROR)),
            ClientReply::Refused { message } if message == AUTHORIZATION_ERROR
        ));
        assert!(matches!(
            acl_reply(AclError::Invalid("bad target".into())),
            ClientReply::Error { message } if message == "bad target"
        ));
    }

    #[tokio::test]
    async fn a_bus_event_is_written_as_its_unpacked_event_would_be() {
        let event = Event::new(
            "salt/job/20261121234019509933/ret/m1",
            json!({"return": {"nested": [1, 2.5, null]}, "id": "m1", "retcode": 0}),
        );
        let mut written = Vec::new();
        write_event(&mut written, &BusEvent::pack(event.clone()))
            .await
            .expect("write");
        let mut expected = Vec::new();
        write_frame(&mut expected, &ClientReply::Event(event))
            .await
            .expect("write");
        assert_eq!(written, expected);
    }

    #[test]
    fn the_masters_own_user_may_name_the_job_user() {
        let me = nix::unistd::geteuid().as_raw();
        assert_eq!(job_user(&Caller::of(Some(me)), "alice".into()), "alice");
        assert_eq!(
            job_user(&Caller::of(Some(me)), String::new()),
            user_name(me)
        );
    }

    #[test]
    fn another_user_is_recorded_as_itself_whatever_it_claims() {
        let me = nix::unistd::geteuid().as_raw();
        let stranger = if me == 65534 { 65533 } else { 65534 };
        assert_eq!(
            job_user(&Caller::of(Some(stranger)), "alice".into()),
            user_name(stranger)
        );
        assert_eq!(job_user(&Caller::of(None), "alice".into()), "unknown");
    }
}
