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
use brine_common::target::Matcher;
use brine_common::wire::{
    AUTH_MAX_SKEW_SECS, AuthReply, AuthRequest, AuthStatus, Grant, JobReturn, MasterFrame,
    MinionFrame, Reply, Request, SealedFrame, SessionOffer, SessionReply, SignedBlob, TargetSpec,
    session_info,
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
    let mut socket = RouterSocket::with_options(options);
    let bound = socket
        .bind(endpoint)
        .await
        .map_err(|e| anyhow::anyhow!("cannot bind the request port {endpoint}: {e}"))?;
    let port = crate::publisher::endpoint_port(&bound.to_string());
    let (send, mut recv) = socket.split();
    let in_flight = Arc::new(Semaphore::new(MAX_REQUESTS_IN_FLIGHT));
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
                Ok(msg) => dispatch(&master, &send, msg, permit),
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

/// Route one incoming ROUTER message `[peer identity, payload]`; its handler
/// holds `permit` until the reply is sent (see [`reply_to`]).
fn dispatch(
    master: &Arc<Master>,
    send: &RouterSendHalf,
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
            let (master, send, peer) = (master.clone(), send.clone(), peer.clone());
            tokio::spawn(async move {
                if let Some(reply) = handle_auth(&master, &blob).await {
                    reply_to(&send, peer, &MasterFrame::Auth(reply), permit).await;
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
                let (send, peer) = (send.clone(), peer.clone());
                tokio::spawn(async move {
                    reply_to(
                        &send,
                        peer,
                        &MasterFrame::UnknownSession {
                            session: sealed.session,
                        },
                        permit,
                    )
                    .await;
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

/// Verify an auth request and answer it with the key store's decision.
/// Returns `None` for requests not worth an answer (forged, stale).
async fn handle_auth(master: &Arc<Master>, blob: &SignedBlob) -> Option<SignedBlob> {
    let req: AuthRequest = decode(&blob.body, master.config.max_message_size)
        .map_err(|e| tracing::debug!("undecodable auth request: {e}"))
        .ok()?;
    let presented = PublicKey::from_bytes(&req.pubkey).ok()?;
    if presented.verify(&blob.body, &blob.sig).is_err() {
        tracing::warn!(id = %req.id, "auth request with a bad signature");
        return None;
    }
    let now = jiff::Timestamp::now().as_second();
    if (now - req.ts).abs() > AUTH_MAX_SKEW_SECS {
        tracing::warn!(id = %req.id, "auth request outside the allowed clock skew");
        return None;
    }
    let decision = {
        let master = master.clone();
        let (id, key) = (req.id.clone(), presented);
        tokio::task::spawn_blocking(move || master.decide_auth(&id, &key))
            .await
            .ok()?
    };
    let status = match decision {
        Ok(status) => status,
        Err(e) => {
            tracing::error!(id = %req.id, "key store error: {e}");
            return None;
        }
    };
    let session = match status {
        AuthStatus::Accepted => Some(open_session(master, &req).ok()?),
        _ => None,
    };
    let reply = AuthReply {
        id: req.id.clone(),
        nonce: req.nonce.clone(),
        master_pub: master.identity.public().0.to_vec(),
        status,
        session,
    };
    SignedBlob::sign(&master.identity, &reply).ok()
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
            master.bus.fire(Event::new(
                tags::job_ack(jid.as_str(), minion.as_str()),
                json!({"id": minion, "jid": jid}),
            ));
            Reply::Ok
        }
        Request::Heartbeat { jids } => {
            for jid in jids {
                master.bus.fire(Event::new(
                    tags::job_beat(jid.as_str(), minion.as_str()),
                    json!({"id": minion, "jid": jid}),
                ));
            }
            Reply::Ok
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
        Request::MinionData { grains, pillar } => store_minion_data(master, minion, grains, pillar),
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

/// Keep a minion's grains and pillar for targeting (`salt/minion/...` data cache).
fn store_minion_data(
    master: &Arc<Master>,
    minion: &MinionId,
    grains: serde_json::Map<String, Value>,
    pillar: serde_json::Map<String, Value>,
) -> Reply {
    let data = json!({"grains": grains, "pillar": pillar});
    // The cache write is queued for the next batch: no waiting on the disk.
    match master.minion_data.set(master.cache.as_ref(), minion, data) {
        Ok(()) => Reply::Ok,
        Err(e) => {
            tracing::error!("cannot store {minion}'s data: {e}");
            cache_unavailable()
        }
    }
}

/// What a minion may choose about its own pillar compile.
#[derive(Debug, Default)]
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
        session_pillar(
            &job_master.config,
            &job_master.pillar_roots,
            &job_master.minion_data,
            &id,
            request,
        )
    })
    .await;
    let Ok((grains, pillar)) = compiled else {
        return Reply::Refused {
            reason: "the pillar compile stopped".into(),
        };
    };
    let data = json!({"grains": grains, "pillar": pillar});
    if let Err(e) = master.minion_data.set(master.cache.as_ref(), minion, data) {
        tracing::warn!("cannot cache {minion}'s pillar: {e}");
    }
    Reply::Pillar(pillar)
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
    let id_only = Matcher::compile(&spec).is_ok_and(|m| m.is_id_only());
    let expected = job.minions.len();
    let exact = id_only.then(|| job.minions.into_iter().collect());
    let in_flight = JobInFlight::new(job.user, exact, expected);
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
        let decision = self
            .keys
            .decide_auth(id, key, self.config.auto_accept, &autosign)?;
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
