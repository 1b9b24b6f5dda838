//! The request channel: a ZeroMQ ROUTER that every minion's DEALER talks to.
//!
//! This module is the loop and the dispatcher. Two kinds of frame arrive (see
//! `brine_common::wire`): a signed auth request, handed to [`auth`]; and a
//! sealed session frame, whose counter is checked and which is decrypted in
//! the receive loop (so one minion's requests keep their order), decoded into
//! the closed [`Request`] enum and handled on its own task by the module of
//! its kind. Each handler takes only the parts of the master it needs, so it
//! can be tested without a socket. Nothing a peer sends can stop this loop:
//! undecodable, oversize, forged or replayed frames are logged and dropped.

mod auth;
mod events;
pub(crate) mod files;
mod grains;
mod mine;
mod pillar;
mod progress;
mod publication;
mod returns;
mod session;

use std::sync::Arc;
use std::time::Duration;

use brine_common::frame::{decode, encode};
use brine_common::ids::MinionId;
use brine_common::wire::{MasterFrame, MinionFrame, Reply, Request, SealedFrame, SessionReply};
use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use zeromq::{
    RouterSendHalf, RouterSocket, Socket, SocketOptions, SocketRecv, SocketSend, ZmqMessage,
};

pub(crate) use returns::return_event;

use crate::daemon::Master;
use crate::sessions::SessionError;

/// Bind the ROUTER on `endpoint` and serve it until the master stops: then
/// no more requests are read, and the loop ends once the handlers already
/// running have sent their replies (the stop bounds the wait). Returns the
/// bound port.
pub async fn start(master: Arc<Master>, endpoint: &str) -> anyhow::Result<u16> {
    let mut options = SocketOptions::default();
    // research/deps.md §1: a small read buffer keeps the ROUTER fast with many peers.
    options.read_buffer(128, 1024, 2);
    options.max_message_size(master.config.max_message_size);
    options.untrusted_message_size(PRE_AUTH_MESSAGE_CAP);
    options.max_message_frames(MAX_REQUEST_FRAMES);
    let mut socket = RouterSocket::with_options(options);
    let bound = socket
        .bind(endpoint)
        .await
        .map_err(|e| anyhow::anyhow!("cannot bind the request port {endpoint}: {e}"))?;
    let port = crate::publisher::endpoint_port(&bound.to_string());
    let (send, mut recv) = socket.split();
    let in_flight = Arc::new(Semaphore::new(MAX_REQUESTS_IN_FLIGHT));
    let intake = auth::AuthIntake::new();
    let stop = master.stop.clone();
    stop.clone().spawn_to_end(async move {
        // One wait for the stop, not one per request.
        let stopping = stop.stopping();
        tokio::pin!(stopping);
        loop {
            // A permit before reading: when the master is saturated, requests
            // wait in the sockets (and minions' TCP windows), not in memory.
            // It is also this loop's yield point: the socket's receive is not
            // counted by tokio's cooperative budget, so a loop awaiting only
            // that never gave its worker thread up while a burst was queued.
            let permit = tokio::select! {
                biased;
                () = &mut stopping => break,
                permit = in_flight.clone().acquire_owned() => permit,
            };
            let Ok(permit) = permit else {
                return;
            };
            let received = tokio::select! {
                biased;
                () = &mut stopping => break,
                received = recv.recv() => received,
            };
            match received {
                Ok(msg) => dispatch(&master, &send, &intake, msg, permit),
                Err(e) => {
                    tracing::warn!("request channel receive error: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        // Every handler holds a permit until its reply is sent.
        let all = u32::try_from(MAX_REQUESTS_IN_FLIGHT).unwrap_or(u32::MAX);
        let _ = in_flight.acquire_many(all).await;
    });
    Ok(port)
}

/// How many requests the master handles at once. Reading, decoding and
/// spawning is quicker than handling, so without a bound a burst of returns
/// became tens of thousands of waiting tasks, each holding its decoded return
/// (the master peaked at 500-680 MiB in a 200,000-return burst, 250-300 MiB
/// with the bound). No request waits on another minion's request, so a
/// bounded set always drains.
const MAX_REQUESTS_IN_FLIGHT: usize = 1024;

/// The largest message a peer may send before it has authenticated on its
/// connection: an auth request is well under a kilobyte. Once the master
/// accepts it, the connection may carry `max_message_size`.
const PRE_AUTH_MESSAGE_CAP: usize = 8 * 1024;

/// A minion's DEALER sends each request as one frame.
const MAX_REQUEST_FRAMES: usize = 4;

/// Route one incoming ROUTER message `[peer identity, payload]`; a session
/// request's handler holds `permit` until the reply is sent (see
/// [`reply_to`]), an auth request its place in the auth line instead.
fn dispatch(
    master: &Arc<Master>,
    send: &RouterSendHalf,
    intake: &Arc<auth::AuthIntake>,
    msg: ZmqMessage,
    permit: OwnedSemaphorePermit,
) {
    let frames = msg.into_vec();
    let [peer, payload] = frames.as_slice() else {
        tracing::debug!("dropping a request with {} frames", frames.len());
        return;
    };
    let cap = master.config.max_message_size;
    let frame: MinionFrame = match decode(payload, cap) {
        Ok(f) => f,
        Err(e) => {
            tracing::debug!("dropping an undecodable request: {e}");
            return;
        }
    };
    match frame {
        MinionFrame::Auth(blob) => {
            let Some(place) = intake.admit(payload.len()) else {
                return;
            };
            // A waiting auth request holds its place in the auth line, not
            // one of the permits that accepted minions' requests need.
            drop(permit);
            let (master, send, peer, intake) =
                (master.clone(), send.clone(), peer.clone(), intake.clone());
            tokio::spawn(async move {
                let Some(turn) = intake.turn().await else {
                    return;
                };
                let answer = auth::Authority::of(&master).answer(&blob).await;
                drop(turn);
                match answer {
                    auth::AuthAnswer::Reply { reply, accepted } => {
                        if accepted {
                            trust_connection(&send, &peer);
                        }
                        reply_to(&send, peer, &MasterFrame::Auth(reply), place).await;
                    }
                    auth::AuthAnswer::PendingFull => intake.refuse_pending_full(),
                    auth::AuthAnswer::None => {}
                }
            });
        }
        MinionFrame::Session(sealed) => dispatch_session(master, send, peer, sealed, permit),
    }
}

/// Open a sealed session frame and handle its request on its own task, or
/// tell the peer its session is unknown (so it authenticates again).
fn dispatch_session(
    master: &Arc<Master>,
    send: &RouterSendHalf,
    peer: &Bytes,
    sealed: SealedFrame,
    permit: OwnedSemaphorePermit,
) {
    let cap = master.config.max_message_size;
    match master.sessions.open(&sealed, cap) {
        Ok((minion, req)) => {
            let (master, send, peer) = (master.clone(), send.clone(), peer.clone());
            tokio::spawn(async move {
                let (body, permit, _stop_waits) =
                    match handle_request(&master, &minion, req.body).await {
                        returns::Acknowledgement::Now(reply) => (reply, Some(permit), None),
                        // Waiting for the job cache's commit is not work: holding
                        // the permit through it would let the commit rate pace
                        // every request. A stopping master still waits for it.
                        waiting => {
                            let held = master.stop.hold();
                            drop(permit);
                            (waiting.settle().await, None, Some(held))
                        }
                    };
                let reply = SessionReply {
                    req_id: req.req_id,
                    body,
                };
                match master.sessions.seal(sealed.session, &reply) {
                    Ok(frame) => {
                        reply_to(&send, peer, &MasterFrame::Session(frame), permit).await;
                    }
                    Err(e) => tracing::debug!("cannot seal a reply to {minion}: {e}"),
                }
            });
        }
        Err(SessionError::Unknown) => {
            let Some(notice) = session::unknown_session_notice(&master.identity, sealed.session)
            else {
                return;
            };
            let (send, peer) = (send.clone(), peer.clone());
            tokio::spawn(async move {
                reply_to(&send, peer, &MasterFrame::UnknownSession(notice), permit).await;
            });
        }
        Err(e) => tracing::warn!(session = sealed.session, "refusing a session frame: {e}"),
    }
}

/// Handle one authenticated request from `minion` with the handler of its
/// kind. Every variant is matched: there is no dispatch by a name that came
/// off the wire. A return is acknowledged once the job cache has committed it.
async fn handle_request(
    master: &Master,
    minion: &MinionId,
    req: Request,
) -> returns::Acknowledgement {
    let jobs = returns::JobLookup::of(master);
    let reply = match req {
        Request::Ping => publication::ping(&master.publisher, minion),
        Request::GetPublishKey => publication::publish_key(&master.publisher, minion),
        Request::CatchUp {
            run,
            broadcast_after,
            own_after,
        } => publication::catch_up(&master.publisher, minion, run, broadcast_after, own_after),
        Request::Ack { jid } => progress::Progress::of(master, jobs).ack(minion, jid).await,
        Request::Heartbeat { jids } => {
            progress::Progress::of(master, jobs)
                .heartbeat(minion, jids)
                .await
        }
        Request::Return(ret) => {
            return returns::ReturnPath::of(master, jobs).ret(minion, ret).await;
        }
        Request::ScheduleReturn { schedule, ret } => {
            return returns::ReturnPath::of(master, jobs)
                .schedule_return(minion, schedule, ret)
                .await;
        }
        Request::StandaloneReturn(ret) => {
            return returns::ReturnPath::of(master, jobs)
                .standalone_return(minion, ret)
                .await;
        }
        Request::Event { tag, data } => events::fire(&master.bus, minion, tag, data),
        Request::MinionData { grains } => {
            grains::store(&master.minion_data, master.cache.as_ref(), minion, grains)
        }
        Request::Pillar {
            saltenv,
            pillarenv,
            extra,
        } => {
            let request = pillar::PillarRequest {
                saltenv,
                pillarenv,
                extra,
            };
            pillar::PillarSource::of(master)
                .serve(minion, request)
                .await
        }
        Request::MineSend { data, clear } => mine::send(&master.mine, minion, data, clear),
        Request::MineDelete { fun } => mine::delete(&master.mine, minion, fun.as_deref()),
        Request::MineGet { tgt, tgt_type, fun } => mine::get(
            &master.mine,
            &master.minion_data,
            minion,
            &tgt,
            tgt_type,
            &fun,
        ),
        Request::FileEnvs => files::environments(&master.fileserver),
        Request::FileList { saltenv } => files::list(&master.fileserver, saltenv).await,
        Request::FileChunk {
            saltenv,
            path,
            offset,
            len,
        } => files::chunk(&master.fileserver, saltenv, path, offset, len).await,
    };
    returns::Acknowledgement::Now(reply)
}

/// Send a reply. The request's `permit` (if it still holds one) is held
/// while the send goes through at once (which also paces the loop that
/// reads requests), and given back if the peer's queue makes it wait: a
/// minion that stops reading its replies must not hold permits and stall
/// everyone else's requests.
async fn reply_to(
    send: &RouterSendHalf,
    peer: Bytes,
    frame: &MasterFrame,
    permit: impl Into<Option<OwnedSemaphorePermit>>,
) {
    let permit = permit.into();
    let Ok(body) = encode(frame) else {
        tracing::warn!("cannot encode a reply");
        return;
    };
    let mut msg = ZmqMessage::from(peer);
    msg.push_back(Bytes::from(body));
    let mut send = send.clone();
    let sending = send.send(msg);
    tokio::pin!(sending);
    let sent = tokio::select! {
        sent = &mut sending => sent,
        () = tokio::time::sleep(REPLY_PERMIT_HOLD) => {
            drop(permit);
            // A vanished peer or a full queue must not hold this task for ever.
            match tokio::time::timeout(Duration::from_secs(5), sending).await {
                Ok(sent) => sent,
                Err(_) => {
                    tracing::debug!("reply timed out");
                    return;
                }
            }
        }
    };
    if let Err(e) = sent {
        tracing::debug!("reply not delivered: {e}");
    }
}

/// How long a reply's send may keep its request's permit.
const REPLY_PERMIT_HOLD: Duration = Duration::from_millis(50);

/// The connection of `peer` has authenticated: it may now carry messages
/// up to `max_message_size`, not only the few KiB of an auth request.
fn trust_connection(send: &RouterSendHalf, peer: &Bytes) {
    match zeromq::util::PeerIdentity::try_from(peer.clone()) {
        Ok(identity) => {
            send.trust_peer(&identity);
        }
        Err(e) => tracing::debug!("unusable peer identity: {e}"),
    }
}

/// The answer when the job cache or the minion data cache cannot be used
/// (its error is logged where it happened).
fn cache_unavailable() -> Reply {
    Reply::Refused {
        reason: brine_common::wire::CACHE_UNAVAILABLE.into(),
    }
}
