//! The request channel: a ZeroMQ ROUTER that every minion's DEALER talks to.
//!
//! Two kinds of frame arrive (see `brine_common::wire`): a signed auth request,
//! answered by the key store's decision and, when accepted, a new session; and
//! a sealed session frame, whose counter is checked and which is decrypted in
//! the receive loop (so one minion's requests keep their order) and then
//! handled on its own task. Nothing a peer sends can stop this loop: undecodable,
//! oversize, forged or replayed frames are logged and dropped.

use std::sync::Arc;
use std::time::Duration;

use brine_common::crypto::{Direction, Ephemeral, PublicKey, random_bytes};
use brine_common::event::{Event, minion_may_fire, tags};
use brine_common::frame::{decode, encode};
use brine_common::ids::{Jid, MinionId};
use brine_common::target::Target;
use brine_common::wire::{
    AUTH_MAX_SKEW_SECS, AuthReply, AuthRequest, AuthStatus, Grant, JobReturn, MasterFrame,
    MinionFrame, Reply, Request, SealedFrame, SessionOffer, SessionReply, SignedBlob, TargetSpec,
    UnknownSessionNotice, session_info,
};
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use zeromq::{
    RouterSendHalf, RouterSocket, Socket, SocketOptions, SocketRecv, SocketSend, ZmqMessage,
};

use crate::bus::BusEvent;
use crate::daemon::Master;
use crate::job_cache::{JobRecord, ReturnRecord};
use crate::jobs::{JobInFlight, ReturnVerdict};
use crate::keys::KeyState;
use crate::sessions::SessionError;

/// Bind the ROUTER on `endpoint` and serve it until the process ends.
/// Returns the bound port.
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
    let auth = AuthIntake::new();
    tokio::spawn(async move {
        loop {
            // A permit before reading: when the master is saturated, requests
            // wait in the sockets (and minions' TCP windows), not in memory.
            // It is also this loop's yield point: the socket's receive is not
            // counted by tokio's cooperative budget, so a loop awaiting only
            // that never gave its worker thread up while a burst was queued.
            let Ok(permit) = in_flight.clone().acquire_owned().await else {
                return;
            };
            match recv.recv().await {
                Ok(msg) => dispatch(&master, &send, &auth, msg, permit),
                Err(e) => {
                    tracing::warn!("request channel receive error: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
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

/// Auth requests handled at once. Each costs a signature check, a key store
/// decision on a blocking thread and perhaps a file write; beyond this they
/// are dropped unanswered (a real minion asks again) so that a flood of them
/// cannot take the permits that accepted minions' requests need.
const MAX_AUTHS_IN_FLIGHT: usize = 64;

/// How often refused auth requests are summed up in the log.
const REFUSAL_REPORT_EVERY: Duration = Duration::from_secs(10);

/// The admission of auth requests: a bound on how many are handled at once,
/// and a count of those refused (too many at once, or the pending keys at
/// `max_pending_keys`), logged as a sum at most every ten seconds.
struct AuthIntake {
    permits: Arc<Semaphore>,
    refused_busy: std::sync::atomic::AtomicU64,
    refused_pending_full: std::sync::atomic::AtomicU64,
    /// When refusals were last logged (none yet: the first is logged at once).
    last_report: std::sync::Mutex<Option<std::time::Instant>>,
}

impl AuthIntake {
    fn new() -> Arc<Self> {
        Arc::new(AuthIntake {
            permits: Arc::new(Semaphore::new(MAX_AUTHS_IN_FLIGHT)),
            refused_busy: Default::default(),
            refused_pending_full: Default::default(),
            last_report: std::sync::Mutex::new(None),
        })
    }

    fn refuse(&self, counter: &std::sync::atomic::AtomicU64) {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut last = self.last_report.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| t.elapsed() < REFUSAL_REPORT_EVERY) {
            return;
        }
        *last = Some(std::time::Instant::now());
        let take =
            |c: &std::sync::atomic::AtomicU64| c.swap(0, std::sync::atomic::Ordering::Relaxed);
        let (busy, full) = (take(&self.refused_busy), take(&self.refused_pending_full));
        tracing::warn!(
            busy,
            pending_full = full,
            "refused {} auth requests: {busy} while {MAX_AUTHS_IN_FLIGHT} were being handled, \
             {full} with max_pending_keys reached",
            busy + full
        );
    }
}

/// Route one incoming ROUTER message `[peer identity, payload]`; its handler
/// holds `permit` until the reply is sent (see [`reply_to`]).
fn dispatch(
    master: &Arc<Master>,
    send: &RouterSendHalf,
    auth: &Arc<AuthIntake>,
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
            let Ok(auth_permit) = auth.permits.clone().try_acquire_owned() else {
                auth.refuse(&auth.refused_busy);
                return;
            };
            let (master, send, peer, auth) =
                (master.clone(), send.clone(), peer.clone(), auth.clone());
            tokio::spawn(async move {
                let answer = handle_auth(&master, &blob).await;
                drop(auth_permit);
                match answer {
                    AuthAnswer::Reply { reply, accepted } => {
                        if accepted {
                            trust_connection(&send, &peer);
                        }
                        reply_to(&send, peer, &MasterFrame::Auth(reply), permit).await;
                    }
                    AuthAnswer::PendingFull => auth.refuse(&auth.refused_pending_full),
                    AuthAnswer::None => {}
                }
            });
        }
        MinionFrame::Session(sealed) => match master.sessions.open(&sealed, cap) {
            Ok((minion, req)) => {
                let (master, send, peer) = (master.clone(), send.clone(), peer.clone());
                tokio::spawn(async move {
                    let body = handle_request(&master, &minion, req.body).await;
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
                let notice = UnknownSessionNotice {
                    session: sealed.session,
                };
                let Ok(signed) = SignedBlob::sign(&master.identity, &notice) else {
                    tracing::warn!("cannot sign an unknown-session notice");
                    return;
                };
                let (send, peer) = (send.clone(), peer.clone());
                tokio::spawn(async move {
                    reply_to(&send, peer, &MasterFrame::UnknownSession(signed), permit).await;
                });
            }
            Err(e) => tracing::warn!(session = sealed.session, "refusing a session frame: {e}"),
        },
    }
}

/// Send a reply. The request's `permit` is held while the send goes
/// through at once (which also paces the loop that reads requests), and
/// given back if the peer's queue makes it wait: a minion that stops reading
/// its replies must not hold permits and stall everyone else's requests.
async fn reply_to(
    send: &RouterSendHalf,
    peer: Bytes,
    frame: &MasterFrame,
    permit: OwnedSemaphorePermit,
) {
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

/// What becomes of an auth request.
enum AuthAnswer {
    /// The signed answer, and whether it grants a session.
    Reply { reply: SignedBlob, accepted: bool },
    /// A new key with `max_pending_keys` reached: refused unanswered.
    PendingFull,
    /// Not worth an answer (forged, stale, undecodable) or a key store error.
    None,
}

/// Verify an auth request and answer it with the key store's decision.
async fn handle_auth(master: &Arc<Master>, blob: &SignedBlob) -> AuthAnswer {
    let Some(req) = verified_auth_request(blob) else {
        return AuthAnswer::None;
    };
    let decision = {
        let master = master.clone();
        let (id, key) = (req.id.clone(), req.key);
        tokio::task::spawn_blocking(move || master.decide_auth(&id, &key)).await
    };
    let status = match decision {
        Ok(Ok(status)) => status,
        Ok(Err(crate::keys::KeyError::PendingFull { .. })) => {
            tracing::debug!(id = %req.id, "refused a new key: max_pending_keys reached");
            return AuthAnswer::PendingFull;
        }
        Ok(Err(e)) => {
            tracing::error!(id = %req.id, "key store error: {e}");
            return AuthAnswer::None;
        }
        Err(_) => return AuthAnswer::None,
    };
    let req = req.request;
    let session = match status {
        AuthStatus::Accepted => match open_session(master, &req) {
            Ok(offer) => Some(offer),
            Err(e) => {
                tracing::error!(id = %req.id, "cannot open a session: {e}");
                return AuthAnswer::None;
            }
        },
        _ => None,
    };
    let reply = AuthReply {
        id: req.id.clone(),
        nonce: req.nonce.clone(),
        master_pub: master.identity.public().0.to_vec(),
        status,
        session,
    };
    match SignedBlob::sign(&master.identity, &reply) {
        Ok(reply) => AuthAnswer::Reply {
            reply,
            accepted: status == AuthStatus::Accepted,
        },
        Err(e) => {
            tracing::error!("cannot sign an auth reply: {e}");
            AuthAnswer::None
        }
    }
}

/// An auth request whose signature is its key's and whose time is current.
struct VerifiedAuth {
    request: AuthRequest,
    id: MinionId,
    key: PublicKey,
}

fn verified_auth_request(blob: &SignedBlob) -> Option<VerifiedAuth> {
    let request: AuthRequest = decode(&blob.body, PRE_AUTH_MESSAGE_CAP)
        .map_err(|e| tracing::debug!("undecodable auth request: {e}"))
        .ok()?;
    let key = PublicKey::from_bytes(&request.pubkey).ok()?;
    if key.verify(&blob.body, &blob.sig).is_err() {
        tracing::warn!(id = %request.id, "auth request with a bad signature");
        return None;
    }
    let now = jiff::Timestamp::now().as_second();
    if (now - request.ts).abs() > AUTH_MAX_SKEW_SECS {
        tracing::warn!(id = %request.id, "auth request outside the allowed clock skew");
        return None;
    }
    Some(VerifiedAuth {
        id: request.id.clone(),
        key,
        request,
    })
}

/// Derive the session key, register the session and seal the grant.
fn open_session(master: &Master, req: &AuthRequest) -> anyhow::Result<SessionOffer> {
    let eph = Ephemeral::generate()?;
    let eph_pub = eph.public();
    let info = session_info(&req.id, &req.pubkey, &master.identity.public().0);
    let cipher = eph.derive_session(&req.eph_pub, &req.nonce, &info)?;
    let session = u64::from_be_bytes(random_bytes()?);
    let (key, state) = master.publisher.grant_state(&req.id);
    let grant = Grant {
        publish_key: key.as_bytes().to_vec(),
        state,
        publish_port: master.publish_port,
        accepted_at: master.publisher.accepted_at(&req.id),
    };
    let sealed = SealedFrame::seal(&cipher, Direction::ToMinion, session, 0, &grant)?;
    master.sessions.insert(session, req.id.clone(), cipher);
    Ok(SessionOffer {
        session,
        eph_pub: eph_pub.to_vec(),
        sealed_grant: sealed.ct,
    })
}

/// Handle one authenticated request from `minion`. Every variant is matched:
/// there is no dispatch by a name that came off the wire.
async fn handle_request(master: &Arc<Master>, minion: &MinionId, req: Request) -> Reply {
    match req {
        Request::Ping => Reply::Pong(master.publisher.grant_state(minion).1),
        Request::Ack { jid } => {
            if !job_is_for(master, &jid, minion).await {
                return not_targeted(&jid, minion);
            }
            master.bus.fire(Event::new(
                tags::job_ack(jid.as_str(), minion.as_str()),
                json!({"id": minion, "jid": jid}),
            ));
            Reply::Ok
        }
        Request::Heartbeat { jids } => {
            let mut refused = Vec::new();
            for jid in jids.into_iter().take(MAX_HEARTBEAT_JIDS) {
                if !job_is_for(master, &jid, minion).await {
                    refused.push(jid);
                    continue;
                }
                master.bus.fire(Event::new(
                    tags::job_beat(jid.as_str(), minion.as_str()),
                    json!({"id": minion, "jid": jid}),
                ));
            }
            match refused.as_slice() {
                [] => Reply::Ok,
                [jid, ..] => not_targeted(jid, minion),
            }
        }
        Request::Return(ret) => handle_return(master, minion, ret).await,
        Request::ScheduleReturn { schedule, ret } => {
            handle_schedule_return(master, minion, schedule, ret).await
        }
        Request::Event { tag, data } => {
            if !minion_may_fire(minion, &tag) {
                tracing::warn!(%minion, %tag, "refused an event under a reserved tag");
                return Reply::Refused {
                    reason: format!("minions may not fire events tagged {tag:?}"),
                };
            }
            master
                .bus
                .fire(Event::new(tag, bind_event_id(data, minion)));
            Reply::Ok
        }
        Request::MinionData { grains } => store_minion_data(master, minion, grains),
        Request::Pillar {
            saltenv,
            pillarenv,
            extra,
        } => {
            let request = PillarRequest {
                saltenv: saltenv.map(|e| e.to_string()),
                pillarenv: pillarenv.map(|e| e.to_string()),
                extra,
            };
            serve_pillar(master, minion, request).await
        }
        Request::MineSend { data, clear } => {
            master.mine.send(minion.as_str(), data, clear);
            Reply::Ok
        }
        Request::MineDelete { fun } => {
            master.mine.delete(minion.as_str(), fun.as_deref());
            Reply::Ok
        }
        Request::MineGet { tgt, tgt_type, fun } => {
            match master
                .mine
                .get(&master.minion_data, minion.as_str(), &tgt, &tgt_type, &fun)
            {
                Ok(found) => Reply::Mine(found),
                Err(reason) => Reply::Refused { reason },
            }
        }
        Request::FileEnvs => Reply::FileEnvs(master.fileserver.environments()),
        Request::FileList { saltenv } => {
            let fs = master.fileserver.clone();
            file_reply(
                tokio::task::spawn_blocking(move || {
                    fs.manifest(saltenv.as_str()).map(Reply::FileList)
                })
                .await,
            )
        }
        Request::FileChunk {
            saltenv,
            path,
            offset,
            len,
        } => {
            let fs = master.fileserver.clone();
            let len = len.min(brine_common::wire::MAX_FILE_CHUNK) as usize;
            file_reply(
                tokio::task::spawn_blocking(move || {
                    fs.read_chunk(saltenv.as_str(), &path, offset, len)
                        .map(|(data, size)| Reply::FileChunk { data, size })
                })
                .await,
            )
        }
        Request::GetPublishKey => {
            let (key, state) = master.publisher.grant_state(minion);
            Reply::PublishKey {
                key: key.as_bytes().to_vec(),
                state,
            }
        }
        Request::CatchUp {
            run,
            broadcast_after,
            own_after,
        } => Reply::CatchUp(
            master
                .publisher
                .catch_up(minion, run, broadcast_after, own_after),
        ),
    }
}

/// Most jobs one heartbeat may name (a minion runs a handful at once).
const MAX_HEARTBEAT_JIDS: usize = 256;

/// Whether `jid` is a job the master knows and `minion` is one it is for
/// (see [`JobInFlight::is_for`]): acknowledgements and heartbeats from any
/// other minion are refused, so they cannot hold a waiting client.
async fn job_is_for(master: &Arc<Master>, jid: &Jid, minion: &MinionId) -> bool {
    let job = match master.in_flight.get(jid) {
        Some(job) => job,
        None => match load_job(master, jid).await {
            Ok(job) => job,
            Err(_) => return false,
        },
    };
    job.is_for(minion.as_str(), |needs| {
        master.minion_data.facts(minion.as_str(), needs)
    })
}

/// Keep a minion's grains for targeting (`salt/minion/...` data cache).
fn store_minion_data(
    master: &Arc<Master>,
    minion: &MinionId,
    grains: serde_json::Map<String, Value>,
) -> Reply {
    // The cache write is queued for the next batch: no waiting on the disk.
    match master
        .minion_data
        .set_grains(master.cache.as_ref(), minion, grains)
    {
        Ok(()) => Reply::Ok,
        Err(e) => {
            tracing::error!("cannot store {minion}'s data: {e}");
            cache_unavailable()
        }
    }
}

/// What a minion may choose about its own pillar compile.
#[derive(Debug, Default, Clone)]
struct PillarRequest {
    saltenv: Option<String>,
    pillarenv: Option<String>,
    extra: serde_json::Map<String, Value>,
}

/// Compile the pillar of the session's minion on a blocking thread, cache it
/// for `-I`/`-J` targeting and answer it. The id is the session's: the
/// request has no way to name another minion.
async fn serve_pillar(master: &Arc<Master>, minion: &MinionId, request: PillarRequest) -> Reply {
    let (job_master, id) = (master.clone(), minion.clone());
    let compiled = tokio::task::spawn_blocking(move || {
        let compile = |request| {
            let m = &job_master;
            session_pillar(&m.config, &m.pillar_roots, &m.minion_data, &id, request).1
        };
        // What targeting trusts is the master's own compile: the minion's
        // override goes only into the answer it asked for.
        let own = compile(PillarRequest {
            extra: serde_json::Map::new(),
            ..request.clone()
        });
        let answer = if request.extra.is_empty() {
            own.clone()
        } else {
            compile(request)
        };
        (own, answer)
    })
    .await;
    let Ok((own, answer)) = compiled else {
        return Reply::Refused {
            reason: "the pillar compile stopped".into(),
        };
    };
    if let Err(e) = master
        .minion_data
        .set_pillar(master.cache.as_ref(), minion, own)
    {
        tracing::warn!("cannot cache {minion}'s pillar: {e}");
    }
    Reply::Pillar(answer)
}

/// The cached grains of `minion` and its freshly compiled pillar.
fn session_pillar(
    config: &brine_common::config::MasterConfig,
    roots: &brine_common::fileroots::Roots,
    minion_data: &crate::minion_data::MinionData,
    minion: &MinionId,
    request: PillarRequest,
) -> (
    serde_json::Map<String, Value>,
    serde_json::Map<String, Value>,
) {
    let needs = brine_common::target::DataNeeds {
        grains: None,
        pillar: Some(Default::default()),
    };
    let grains = minion_data
        .facts(minion.as_str(), &needs)
        .and_then(|facts| facts.get("grains").and_then(Value::as_object).cloned())
        .unwrap_or_default();
    let mut opts = brine_pillar::PillarOpts::from_master(config);
    opts.saltenv = request.saltenv;
    if request.pillarenv.is_some() {
        opts.pillarenv = request.pillarenv;
    }
    opts.pillar_override = request.extra;
    let pillar = brine_pillar::compile(roots, minion.as_str(), &grains, &opts).into_map();
    (grains, pillar)
}

/// A file-server answer, or Salt-like refusal text (a missing file, a path
/// that leaves its root) for the minion to report.
fn file_reply(
    result: Result<Result<Reply, crate::fileserver::FileServerError>, tokio::task::JoinError>,
) -> Reply {
    match result {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => Reply::Refused {
            reason: e.to_string(),
        },
        Err(_) => Reply::Refused {
            reason: "file server unavailable".into(),
        },
    }
}

/// A minion's event data always names the minion that sent it.
fn bind_event_id(data: Value, minion: &MinionId) -> Value {
    let mut map = match data {
        Value::Object(map) => map,
        other => {
            let mut m = serde_json::Map::new();
            m.insert("data".into(), other);
            m
        }
    };
    map.insert("id".into(), json!(minion));
    Value::Object(map)
}

/// Store a return (only for a job the master published) and fire its event.
async fn handle_return(master: &Arc<Master>, minion: &MinionId, ret: JobReturn) -> Reply {
    let jid = ret.jid.clone();
    let job = match master.in_flight.get(&jid) {
        Some(job) => job,
        None => match load_job(master, &jid).await {
            Ok(job) => job,
            Err(reason) => return Reply::Refused { reason },
        },
    };
    match job.record_return(minion.as_str()) {
        ReturnVerdict::First => {}
        // A re-sent return (after a reconnect) is acknowledged again, not stored again.
        ReturnVerdict::Duplicate => return Reply::Ok,
        // A minion the job was not for has nothing to return (and must not
        // feed a reactor a `salt/job/<jid>/ret/<id>` event).
        ReturnVerdict::NotTargeted => return not_targeted(&jid, minion),
        ReturnVerdict::AfterCompletion { exact } => {
            return handle_late_return(master, minion, ret, &job.user, exact).await;
        }
    }
    let record = ReturnRecord::from_return(&ret);
    let event = return_event(&ret, minion, &job.user, None, &record.stamp);
    if let Err(e) = master.cache.store_return(&jid, minion, record) {
        return cache_failure(e);
    }
    master.bus.fire_packed(event);
    Reply::Ok
}

/// A return for a job whose expected minions have all returned: usually a
/// re-sent one, which the job cache recognises. Otherwise the minion was not
/// expected: refused for an exact target, stored for any other (a minion
/// whose grains changed since the master last saw them still matches).
async fn handle_late_return(
    master: &Arc<Master>,
    minion: &MinionId,
    ret: JobReturn,
    user: &str,
    exact: bool,
) -> Reply {
    let (cache, jid, id) = (master.cache.clone(), ret.jid.clone(), minion.clone());
    let record = ReturnRecord::from_return(&ret);
    let event = return_event(&ret, minion, user, None, &record.stamp);
    let late = tokio::task::spawn_blocking(move || {
        if exact {
            let had = cache.has_return(&jid, &id)?;
            Ok(if had { Late::Resent } else { Late::NotTargeted })
        } else {
            let new = cache.add_return(&jid, &id, record)?;
            Ok(if new { Late::Stored } else { Late::Resent })
        }
    })
    .await;
    match late {
        Ok(Ok(Late::Resent)) => Reply::Ok,
        Ok(Ok(Late::Stored)) => {
            master.bus.fire_packed(event);
            Reply::Ok
        }
        Ok(Ok(Late::NotTargeted)) => not_targeted(&ret.jid, minion),
        Ok(Err(e)) => cache_failure(e),
        Err(_) => cache_unavailable(),
    }
}

/// What a return after its job's completion turned out to be.
enum Late {
    Resent,
    Stored,
    NotTargeted,
}

fn not_targeted(jid: &Jid, minion: &MinionId) -> Reply {
    Reply::Refused {
        reason: format!("job {jid} was not for {minion}"),
    }
}

fn cache_failure(e: crate::job_cache::CacheError) -> Reply {
    tracing::error!("job cache failed: {e}");
    cache_unavailable()
}

/// The answer when the job cache cannot be used (its error is logged).
fn cache_unavailable() -> Reply {
    Reply::Refused {
        reason: "job cache unavailable".into(),
    }
}

/// A scheduled job's return: the master never published it, so it records
/// the job (targeting only the returning minion, user `schedule`) and then
/// the return. A jid without the minion's suffix, or one that belongs to
/// another job, is refused; a re-sent return is acknowledged once more.
async fn handle_schedule_return(
    master: &Arc<Master>,
    minion: &MinionId,
    schedule: String,
    ret: JobReturn,
) -> Reply {
    let jid = ret.jid.clone();
    if !jid.as_str().contains('_') {
        return Reply::Refused {
            reason: format!("scheduled job {jid} needs a minion-made jid"),
        };
    }
    let record = JobRecord {
        jid: jid.clone(),
        fun: ret.fun.clone(),
        arg: ret.fun_args.clone(),
        kwarg: Default::default(),
        tgt: json!(minion),
        tgt_type: "glob".into(),
        user: "schedule".into(),
        minions: vec![minion.to_string()],
    };
    let (cache, stored) = (master.cache.clone(), ReturnRecord::from_return(&ret));
    let event = return_event(&ret, minion, "schedule", Some(&schedule), &stored.stamp);
    let (id, mine) = (minion.clone(), record.clone());
    let saved = tokio::task::spawn_blocking(move || {
        match cache.get_job(&mine.jid)? {
            Some(existing) if existing == mine => return Ok(false),
            Some(_) => return Ok(true),
            None => {}
        }
        cache.save_job(&mine)?;
        cache.store_return(&mine.jid, &id, stored)?;
        cache.flush().map(|()| false)
    })
    .await;
    match saved {
        Ok(Ok(false)) => {}
        Ok(Ok(true)) => {
            return Reply::Refused {
                reason: format!("job {jid} is not a scheduled job of {minion}"),
            };
        }
        Ok(Err(e)) => return cache_failure(e),
        Err(_) => return cache_unavailable(),
    }
    master.bus.fire_packed(event);
    Reply::Ok
}

/// A job that is no longer (or not yet, after a restart) in memory: read it
/// and the minions that already returned from the job cache, once however
/// many of its returns arrive at the same time.
async fn load_job(master: &Arc<Master>, jid: &Jid) -> Result<Arc<JobInFlight>, String> {
    let _loading = master.in_flight.lock_loading().await;
    if let Some(job) = master.in_flight.get(jid) {
        return Ok(job);
    }
    let (cache, id) = (master.cache.clone(), jid.clone());
    let loaded = tokio::task::spawn_blocking(move || {
        let job = cache.get_job(&id)?;
        let returned = match &job {
            Some(_) => cache.returned_minions(&id)?,
            None => Vec::new(),
        };
        Ok::<_, crate::job_cache::CacheError>((job, returned))
    })
    .await;
    let (job, returned) = match loaded {
        Ok(Ok((Some(job), returned))) => (job, returned),
        Ok(Ok((None, _))) => return Err(format!("no job {jid}")),
        Ok(Err(e)) => {
            tracing::error!("job cache read failed: {e}");
            return Err("job cache unavailable".into());
        }
        Err(_) => return Err("job cache unavailable".into()),
    };
    let spec = TargetSpec {
        tgt: job.tgt.clone(),
        tgt_type: job.tgt_type.clone(),
    };
    let target = Target::compile(&spec).map_err(|e| {
        tracing::error!("job {jid} in the job cache has a bad target: {e}");
        format!("job {jid} has a bad target")
    })?;
    let expected = job.minions.len();
    let exact = target
        .is_id_only()
        .then(|| job.minions.into_iter().collect());
    let in_flight = JobInFlight::new(job.user, target, exact, expected);
    for minion in returned {
        in_flight.record_return(&minion);
    }
    Ok(master.in_flight.insert(jid.clone(), in_flight))
}

/// Salt's `salt/job/<jid>/ret/<id>` event, stamped with the `_stamp` of the
/// return's record in the job cache (one receive time, formatted once).
pub fn return_event(
    ret: &JobReturn,
    minion: &MinionId,
    user: &str,
    schedule: Option<&str>,
    stamp: &str,
) -> BusEvent {
    let data = ReturnEventData {
        stamp,
        cmd: "_return",
        fun: &ret.fun,
        fun_args: &ret.fun_args,
        id: minion.as_str(),
        jid: ret.jid.as_str(),
        out: ret.out.as_deref(),
        retcode: ret.retcode,
        ret: &ret.ret,
        schedule,
        success: ret.success,
        ts: jiff::Timestamp::now().as_second(),
        user,
    };
    BusEvent::from_data(tags::job_ret(ret.jid.as_str(), minion.as_str()), &data)
}

/// The data of a `salt/job/<jid>/ret/<id>` event, as Salt fires it (plus the
/// `schedule` of a scheduled job's return). Packed straight from the return,
/// without building (and copying the return into) a JSON tree first.
#[derive(serde::Serialize)]
struct ReturnEventData<'a> {
    #[serde(rename = "_stamp")]
    stamp: &'a str,
    cmd: &'static str,
    fun: &'a str,
    fun_args: &'a [Value],
    id: &'a str,
    jid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    out: Option<&'a str>,
    retcode: i32,
    #[serde(rename = "return")]
    ret: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule: Option<&'a str>,
    success: bool,
    ts: i64,
    user: &'a str,
}

impl Master {
    /// The key store's decision for an auth request, plus its `salt/auth` event.
    fn decide_auth(
        &self,
        id: &MinionId,
        key: &PublicKey,
    ) -> Result<AuthStatus, crate::keys::KeyError> {
        let autosign = self.autosign_patterns();
        let decision = self.keys.decide_auth(
            id,
            key,
            self.config.auto_accept,
            &autosign,
            self.config.max_pending_keys,
        )?;
        if decision.auto_accepted {
            self.publisher.mark_accepted(id);
        }
        let (status, act) = match decision.state {
            KeyState::Accepted => (AuthStatus::Accepted, "accept"),
            KeyState::Pending => (AuthStatus::Pending, "pend"),
            KeyState::Rejected => (AuthStatus::Rejected, "reject"),
            KeyState::Denied => (AuthStatus::Denied, "denied"),
        };
        self.bus.fire(Event::new(
            tags::AUTH,
            json!({"act": act, "id": id, "pub": key.to_pem(), "result": status == AuthStatus::Accepted || status == AuthStatus::Pending}),
        ));
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job_cache::RedbJobCache;

    fn write(dir: &std::path::Path, path: &str, text: &str) {
        std::fs::write(dir.join(path), text).expect("write");
    }

    /// The pillar request names no minion: the compile is for the session's
    /// minion, with that minion's cached grains, and nobody else's data.
    #[test]
    fn the_pillar_is_compiled_for_the_session_minion_only() {
        let tree = tempfile::tempdir().expect("tree");
        write(
            tree.path(),
            "top.sls",
            "base:\n  'role:web':\n    - match: grain\n    - web\n",
        );
        write(tree.path(), "web.sls", "web_secret: s3cret\n");
        let config = brine_common::config::MasterConfig {
            pillar_roots: serde_json::from_value(
                json!({"base": [tree.path().display().to_string()]}),
            )
            .expect("roots"),
            ..Default::default()
        };
        let roots = brine_common::fileroots::Roots::from_config(&config.pillar_roots);
        let cache_dir = tempfile::tempdir().expect("cache");
        let cache = RedbJobCache::open(cache_dir.path().join("jobs.redb")).expect("cache");
        let data = crate::minion_data::MinionData::default();
        let web = MinionId::parse("web1").expect("id");
        let db = MinionId::parse("db1").expect("id");
        for (id, role) in [(&web, "web"), (&db, "db")] {
            let record = json!({"grains": {"role": role}, "pillar": {}});
            data.set(&cache, id, record).expect("set");
        }
        // The wire request carries no id of its own.
        let request = Request::Pillar {
            saltenv: None,
            pillarenv: None,
            extra: serde_json::Map::new(),
        };
        let encoded = serde_json::to_value(&request).expect("encode");
        assert!(!encoded.to_string().contains("\"id\""), "{encoded}");

        let (_, db_pillar) = session_pillar(&config, &roots, &data, &db, PillarRequest::default());
        assert!(!db_pillar.contains_key("web_secret"), "{db_pillar:?}");
        let (grains, web_pillar) =
            session_pillar(&config, &roots, &data, &web, PillarRequest::default());
        assert_eq!(web_pillar.get("web_secret"), Some(&json!("s3cret")));
        assert_eq!(grains.get("role"), Some(&json!("web")));
    }

    /// The packed event holds what Salt's return event holds.
    #[test]
    fn a_return_event_carries_salts_fields() {
        let jid = Jid::parse("20261122063000123456").expect("jid");
        let ret = JobReturn {
            jid: jid.clone(),
            fun: "test.echo".into(),
            fun_args: vec![json!("hi")],
            ret: json!({"a": [1, 2.5]}),
            retcode: 0,
            success: true,
            out: Some("highstate".into()),
        };
        let web1 = MinionId::parse("web1").expect("id");
        let stamp = "2026-11-22T06:30:00.123456";
        let event = return_event(&ret, &web1, "root", None, stamp).unpack();
        assert_eq!(event.tag, format!("salt/job/{jid}/ret/web1"));
        let mut data = event.data;
        let map = data.as_object_mut().expect("a map");
        assert_eq!(map.remove("_stamp"), Some(json!(stamp)));
        assert!(map.remove("ts").is_some_and(|t| t.is_i64()));
        assert_eq!(
            data,
            json!({
                "cmd": "_return", "fun": "test.echo", "fun_args": ["hi"], "id": "web1",
                "jid": jid.as_str(), "out": "highstate", "retcode": 0,
                "return": {"a": [1, 2.5]}, "success": true, "user": "root",
            })
        );
        let scheduled = return_event(&ret, &web1, "schedule", Some("nightly"), stamp).data();
        assert_eq!(scheduled["schedule"], json!("nightly"));
        assert_eq!(scheduled["user"], json!("schedule"));
    }
}
