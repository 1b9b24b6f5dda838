//! The minion's link to its master: one connection task and one subscription
//! task, shared by `brine-minion`, `brine-call` and (later) the swarm.
//!
//! The connection task owns the request channel (a ZeroMQ DEALER): it
//! authenticates, pins the master's key, keeps a session, sends requests and
//! matches replies, pings so a dead path is noticed in seconds, and starts
//! over with a new DEALER whenever anything breaks (the crate's DEALER does not
//! reconnect by itself, research/deps.md §1). The subscription task receives
//! publications, checks signature, topic and sequence, and decrypts them.
//! Publications it cannot take in order (a gap, a new key epoch, a new master
//! run) are fetched again through the session ("catch-up"), so a dropped or
//! missed publication is late, never lost.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brine_common::crypto::{
    Direction, Ephemeral, Identity, PublicKey, PublishKey, ReplayWindow, SessionCipher,
    random_bytes,
};
use brine_common::frame::{decode, encode};
use brine_common::ids::MinionId;
use brine_common::wire::{
    AuthReply, AuthRequest, AuthStatus, Grant, MasterFrame, MinionFrame, PROTOCOL_VERSION,
    PubEnvelope, Publication, PublishState, Published, Reply, Request, SealedFrame, SessionReply,
    SessionRequest, SignedBlob, TOPIC_BROADCAST, UnknownSessionNotice, minion_topic, session_info,
};
use bytes::Bytes;
use rand::Rng;
use tokio::sync::{Notify, mpsc, oneshot};
use zeromq::{
    DealerSendHalf, DealerSocket, Socket, SocketOptions, SocketRecv, SocketSend, SubSocket,
    ZmqMessage,
};

use crate::pubstate::{PositionFile, SeqVerdict, StreamPosition};

/// Read chunk sizes for the minion's sockets: its messages are small, and a
/// swarm holds thousands of these buffers (research/deps.md §1).
const READ_BUFFER_MIN: usize = 128;
const READ_BUFFER_MAX: usize = 8192;

/// How the link reaches and trusts its master.
pub struct LinkSettings {
    pub id: MinionId,
    pub master_host: String,
    pub master_port: u16,
    /// Overrides the publish port the master announces.
    pub publish_port: Option<u16>,
    pub master_finger: Option<String>,
    pub acceptance_wait_time: Duration,
    pub acceptance_wait_time_max: Duration,
    pub auth_timeout: Duration,
    pub alive_interval: Duration,
    pub max_message_size: usize,
    /// Where the pinned master key is kept (`minion_master.pub`); `None` pins in memory.
    pub master_pub_path: Option<PathBuf>,
    pub position: PositionFile,
    /// Receive publications (false for `brine-call`, which only makes requests).
    pub subscribe: bool,
    /// Shared by the minions of a swarm, which all receive the same signed
    /// publications; `None` (a real minion) verifies every one afresh.
    pub verified: Option<Arc<brine_common::crypto::VerifiedSignatures>>,
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("no answer from the master within {0:?}")]
    Timeout(Duration),
    #[error("the link to the master has stopped")]
    Stopped,
}

/// A handle to the link; cheap to clone.
#[derive(Clone)]
pub struct Link {
    shared: Arc<Shared>,
}

struct Shared {
    settings: LinkSettings,
    identity: Identity,
    // Channel items are boxed: a tokio channel allocates its slots in blocks
    // of 32 items, and a swarm holds thousands of these channels.
    outgoing: mpsc::Sender<Box<Outgoing>>,
    tracker: Mutex<Tracker>,
    /// The subscription task asks the connection task to resynchronise.
    resync: Notify,
    /// Set once the first session exists.
    connected: tokio::sync::watch::Sender<u64>,
    publications: mpsc::UnboundedSender<Box<Publication>>,
    next_req: AtomicU64,
}

/// Publish-stream state shared by the two tasks.
struct Tracker {
    master_pub: Option<PublicKey>,
    key: Option<PublishKey>,
    epoch: u64,
    pos: StreamPosition,
    /// Whether `pos` means anything yet (false for a brand-new minion).
    known: bool,
}

struct Outgoing {
    body: Request,
    reply: oneshot::Sender<Reply>,
}

impl Link {
    /// Start the link's tasks. Publications the minion should run arrive on the
    /// returned receiver, in order, each at most once per master run.
    pub fn start(
        settings: LinkSettings,
        identity: Identity,
    ) -> (Link, mpsc::UnboundedReceiver<Box<Publication>>) {
        let (outgoing, outgoing_rx) = mpsc::channel(1024);
        let (pub_tx, pub_rx) = mpsc::unbounded_channel();
        let saved = settings.position.load();
        let master_pub = settings
            .master_pub_path
            .as_deref()
            .and_then(|p| PublicKey::load(p).ok());
        let shared = Arc::new(Shared {
            identity,
            outgoing,
            tracker: Mutex::new(Tracker {
                master_pub,
                key: None,
                epoch: 0,
                pos: saved.unwrap_or_default(),
                known: saved.is_some(),
            }),
            resync: Notify::new(),
            connected: tokio::sync::watch::Sender::new(0),
            publications: pub_tx,
            next_req: AtomicU64::new(1),
            settings,
        });
        tokio::spawn(connection_task(shared.clone(), outgoing_rx));
        (Link { shared }, pub_rx)
    }

    pub fn id(&self) -> &MinionId {
        &self.shared.settings.id
    }

    /// Send a request and wait for its reply. Waits through reconnects up to `timeout`.
    pub async fn request(&self, body: Request, timeout: Duration) -> Result<Reply, LinkError> {
        let (tx, rx) = oneshot::channel();
        let send = self
            .shared
            .outgoing
            .send(Box::new(Outgoing { body, reply: tx }));
        match tokio::time::timeout(timeout, async {
            send.await.map_err(|_| LinkError::Stopped)?;
            rx.await.map_err(|_| LinkError::Stopped)
        })
        .await
        {
            Ok(r) => r,
            Err(_) => Err(LinkError::Timeout(timeout)),
        }
    }

    /// Wait until the first session is established (or `timeout` passes).
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        let mut rx = self.shared.connected.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|n| *n > 0))
            .await
            .is_ok()
    }

    /// Changes each time a session is established (the first and every re-auth).
    pub fn session_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.connected.subscribe()
    }

    /// How many sessions this link has established (1 + re-auths).
    pub fn sessions_established(&self) -> u64 {
        *self.shared.connected.borrow()
    }
}

impl Shared {
    fn tracker(&self) -> std::sync::MutexGuard<'_, Tracker> {
        self.tracker.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn endpoint(&self, port: u16) -> String {
        format!("tcp://{}:{}", self.settings.master_host, port)
    }
}

// ---------------------------------------------------------------------------
// The connection task

/// An established session.
struct Session {
    id: u64,
    cipher: SessionCipher,
    next_out: u64,
    /// Counters of the master's replies seen so far (0 was the grant).
    replies: ReplayWindow,
}

/// Why authentication did not produce a session.
enum AuthFailure {
    /// Try again after this long (pending, rejected, untrusted master).
    RetryAfter(Duration),
    /// The transport broke; reconnect.
    Transport,
}

async fn connection_task(shared: Arc<Shared>, mut outgoing: mpsc::Receiver<Box<Outgoing>>) {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let mut pending_waits = 0u32;
    let mut subscription: Option<(u16, tokio::task::JoinHandle<()>)> = None;
    loop {
        let Some((mut send, mut incoming, reader)) = Box::pin(connect_dealer(&shared)).await else {
            tokio::time::sleep(backoff.next()).await;
            continue;
        };
        // The big sub-futures are boxed so this task's own state stays small.
        let auth = Box::pin(authenticate(&shared, &mut send, &mut incoming)).await;
        let (session, grant) = match auth {
            Ok(ok) => ok,
            Err(AuthFailure::RetryAfter(wait)) => {
                reader.abort();
                pending_waits += 1;
                tokio::time::sleep(acceptance_wait(&shared.settings, pending_waits, wait)).await;
                continue;
            }
            Err(AuthFailure::Transport) => {
                reader.abort();
                tokio::time::sleep(backoff.next()).await;
                continue;
            }
        };
        backoff.reset();
        pending_waits = 0;
        let catch_up = adopt_grant(&shared, &grant);
        if shared.settings.subscribe {
            let port = shared.settings.publish_port.unwrap_or(grant.publish_port);
            if subscription.as_ref().is_none_or(|(p, _)| *p != port) {
                // A master that came back on another publish port: follow it.
                if let Some((_, old)) = subscription.take() {
                    old.abort();
                }
                subscription = Some((port, tokio::spawn(subscription_task(shared.clone(), port))));
            }
        }
        shared.connected.send_modify(|n| *n += 1);
        tracing::info!(id = %shared.settings.id, "authenticated with the master");
        Box::pin(serve(
            &shared,
            session,
            &mut send,
            &mut incoming,
            &mut outgoing,
            catch_up,
        ))
        .await;
        reader.abort();
        tracing::warn!(id = %shared.settings.id, "lost the master; reconnecting");
    }
}

type Incoming = mpsc::Receiver<Box<MasterFrame>>;

/// A fresh DEALER connected to the request port, with a reader task feeding
/// decoded frames into a channel (so the serve loop can select on it safely).
async fn connect_dealer(
    shared: &Arc<Shared>,
) -> Option<(DealerSendHalf, Incoming, tokio::task::JoinHandle<()>)> {
    let s = &shared.settings;
    let mut options = SocketOptions::default();
    options.connect_timeout(s.auth_timeout);
    options.read_buffer(READ_BUFFER_MIN, READ_BUFFER_MAX, 2);
    options.max_message_size(s.max_message_size);
    let mut dealer = DealerSocket::with_options(options);
    let endpoint = shared.endpoint(s.master_port);
    match tokio::time::timeout(
        s.auth_timeout + Duration::from_secs(1),
        dealer.connect(&endpoint),
    )
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::debug!("cannot connect to {endpoint}: {e}");
            return None;
        }
        Err(_) => {
            tracing::debug!("connecting to {endpoint} timed out");
            return None;
        }
    }
    let (send, mut recv) = dealer.split();
    let (tx, rx) = mpsc::channel(1024);
    let cap = s.max_message_size;
    let reader = tokio::spawn(async move {
        loop {
            let Ok(msg) = recv.recv().await else { return };
            let Some(payload) = msg.into_vec().pop() else {
                continue;
            };
            match decode::<MasterFrame>(&payload, cap) {
                Ok(frame) => {
                    if tx.send(Box::new(frame)).await.is_err() {
                        return;
                    }
                }
                Err(e) => tracing::debug!("dropping an undecodable frame from the master: {e}"),
            }
        }
    });
    Some((send, rx, reader))
}

async fn send_frame(send: &mut DealerSendHalf, frame: &MinionFrame, timeout: Duration) -> bool {
    let Ok(bytes) = encode(frame) else {
        return false;
    };
    matches!(
        tokio::time::timeout(timeout, send.send(ZmqMessage::from(Bytes::from(bytes)))).await,
        Ok(Ok(()))
    )
}

/// Run the auth handshake on a fresh DEALER.
async fn authenticate(
    shared: &Arc<Shared>,
    send: &mut DealerSendHalf,
    incoming: &mut Incoming,
) -> Result<(Session, Grant), AuthFailure> {
    let s = &shared.settings;
    let eph = Ephemeral::generate().map_err(|_| AuthFailure::Transport)?;
    let nonce: [u8; 32] = random_bytes().map_err(|_| AuthFailure::Transport)?;
    let my_pub = shared.identity.public();
    let req = AuthRequest {
        id: s.id.clone(),
        pubkey: my_pub.0.to_vec(),
        eph_pub: eph.public().to_vec(),
        nonce: nonce.to_vec(),
        ts: jiff::Timestamp::now().as_second(),
        version: PROTOCOL_VERSION,
    };
    let blob = SignedBlob::sign(&shared.identity, &req).map_err(|_| AuthFailure::Transport)?;
    if !send_frame(send, &MinionFrame::Auth(blob), s.auth_timeout).await {
        return Err(AuthFailure::Transport);
    }
    let deadline = tokio::time::Instant::now() + s.auth_timeout;
    let reply_blob = loop {
        match tokio::time::timeout_at(deadline, incoming.recv())
            .await
            .map(|f| f.map(|b| *b))
        {
            Ok(Some(MasterFrame::Auth(blob))) => break blob,
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => return Err(AuthFailure::Transport),
        }
    };
    let reply = verify_auth_reply(shared, &reply_blob, &nonce)?;
    match reply.status {
        AuthStatus::Accepted => {}
        AuthStatus::Pending => {
            tracing::info!(id = %s.id, "key pending on the master; waiting to be accepted");
            return Err(AuthFailure::RetryAfter(s.acceptance_wait_time));
        }
        AuthStatus::Rejected | AuthStatus::Denied => {
            tracing::error!(id = %s.id, status = ?reply.status, "the master refused this minion's key");
            return Err(AuthFailure::RetryAfter(s.acceptance_wait_time));
        }
    }
    let offer = reply.session.ok_or(AuthFailure::Transport)?;
    let info = session_info(&s.id, &my_pub.0, &reply.master_pub);
    let cipher = eph
        .derive_session(&offer.eph_pub, &nonce, &info)
        .map_err(|_| AuthFailure::Transport)?;
    let sealed = SealedFrame {
        session: offer.session,
        counter: 0,
        ct: offer.sealed_grant,
    };
    let grant: Grant = sealed
        .open(&cipher, Direction::ToMinion, s.max_message_size)
        .map_err(|_| AuthFailure::Transport)?;
    Ok((
        Session {
            id: offer.session,
            cipher,
            next_out: 1,
            replies: ReplayWindow::starting_at(0),
        },
        grant,
    ))
}

/// Check the master's signed answer against the pinned key (or pin it).
fn verify_auth_reply(
    shared: &Arc<Shared>,
    blob: &SignedBlob,
    nonce: &[u8],
) -> Result<AuthReply, AuthFailure> {
    let s = &shared.settings;
    let refuse = |why: &str| {
        tracing::error!("refusing the master's answer: {why}");
        AuthFailure::RetryAfter(s.acceptance_wait_time)
    };
    let unverified: AuthReply =
        decode(&blob.body, s.max_message_size).map_err(|_| AuthFailure::Transport)?;
    let presented =
        PublicKey::from_bytes(&unverified.master_pub).map_err(|_| AuthFailure::Transport)?;
    let pinned = shared.tracker().master_pub;
    match pinned {
        Some(pin) if pin != presented => {
            return Err(refuse("the master's key changed since it was pinned"));
        }
        Some(_) => {}
        None => {
            if let Some(finger) = &s.master_finger
                && !finger.eq_ignore_ascii_case(&presented.fingerprint())
            {
                return Err(refuse("the master's key does not match master_finger"));
            }
        }
    }
    let reply: AuthReply = blob
        .open(&presented, s.max_message_size)
        .map_err(|_| refuse("bad signature"))?;
    if reply.nonce != nonce || reply.id != s.id {
        return Err(refuse("the answer is for another request"));
    }
    if pinned.is_none() {
        pin_master(shared, presented);
    }
    Ok(reply)
}

fn pin_master(shared: &Arc<Shared>, key: PublicKey) {
    shared.tracker().master_pub = Some(key);
    if let Some(path) = &shared.settings.master_pub_path {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = brine_common::crypto::write_file(path, key.to_pem().as_bytes(), 0o644) {
            tracing::warn!("cannot save the master's key: {e}");
        }
    }
    tracing::info!(fingerprint = %key.fingerprint(), "pinned the master's key");
}

/// Take the grant's key and position; returns a catch-up request if the
/// minion is behind.
fn adopt_grant(shared: &Arc<Shared>, grant: &Grant) -> Option<Request> {
    let mut t = shared.tracker();
    t.key = PublishKey::from_bytes(&grant.publish_key).ok();
    t.epoch = grant.state.epoch;
    let g = &grant.state;
    let request = if !t.known {
        // A brand-new minion starts where the stream stood when its key was
        // accepted (jobs since then were meant for it), else at the present.
        let (broadcast, own) = grant.accepted_at.unwrap_or((g.broadcast_seq, g.own_seq));
        t.pos = StreamPosition {
            run: g.run,
            broadcast,
            own,
        };
        t.known = true;
        behind(&t.pos, g).then(|| catch_up_request(&t.pos))
    } else if t.pos.run != g.run {
        // The master restarted: everything of its new run is new to us.
        t.pos = StreamPosition {
            run: g.run,
            broadcast: 0,
            own: 0,
        };
        Some(catch_up_request(&t.pos))
    } else {
        behind(&t.pos, g).then(|| catch_up_request(&t.pos))
    };
    shared.settings.position.save(&t.pos);
    request
}

fn behind(pos: &StreamPosition, state: &PublishState) -> bool {
    state.broadcast_seq > pos.broadcast || state.own_seq > pos.own
}

fn catch_up_request(pos: &StreamPosition) -> Request {
    Request::CatchUp {
        run: pos.run,
        broadcast_after: pos.broadcast,
        own_after: pos.own,
    }
}

/// Who is waiting for a reply.
enum Waiter {
    Caller(oneshot::Sender<Reply>),
    /// The link's own requests (ping, key refresh, catch-up).
    Link,
}

/// Serve an established session until it breaks.
async fn serve(
    shared: &Arc<Shared>,
    mut session: Session,
    send: &mut DealerSendHalf,
    incoming: &mut Incoming,
    outgoing: &mut mpsc::Receiver<Box<Outgoing>>,
    first_catch_up: Option<Request>,
) {
    let s = &shared.settings;
    let mut waiting: HashMap<u64, Waiter> = HashMap::new();
    let mut ping = tokio::time::interval(s.alive_interval);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut awaiting_pong: Option<Instant> = None;
    tracing::debug!(
        catching_up = first_catch_up.is_some(),
        "session established"
    );
    if let Some(req) = first_catch_up
        && !send_request(shared, &mut session, send, &mut waiting, req, Waiter::Link).await
    {
        return;
    }
    loop {
        tokio::select! {
            out = outgoing.recv() => {
                let Some(out) = out else { return };
                if !send_request(shared, &mut session, send, &mut waiting, out.body, Waiter::Caller(out.reply)).await {
                    return;
                }
            }
            frame = incoming.recv() => {
                let Some(frame) = frame else { return };
                match *frame {
                    MasterFrame::Session(sealed) if sealed.session == session.id => {
                        let Some(reply) = open_reply(&mut session, &sealed, s.max_message_size) else { continue };
                        match waiting.remove(&reply.req_id) {
                            Some(Waiter::Caller(tx)) => { let _ = tx.send(reply.body); }
                            Some(Waiter::Link) => {
                                awaiting_pong = None;
                                for req in on_link_reply(shared, reply.body) {
                                    if !send_request(shared, &mut session, send, &mut waiting, req, Waiter::Link).await {
                                        return;
                                    }
                                }
                            }
                            None => {}
                        }
                    }
                    MasterFrame::UnknownSession(notice)
                        if unknown_session_notice(shared, &notice) == Some(session.id) =>
                    {
                        tracing::info!("the master no longer knows this session (restarted?); authenticating again");
                        return;
                    }
                    _ => {}
                }
            }
            _ = ping.tick() => {
                if awaiting_pong.is_some_and(|t| t.elapsed() > s.auth_timeout) {
                    tracing::warn!("the master stopped answering pings");
                    return;
                }
                if awaiting_pong.is_none() {
                    awaiting_pong = Some(Instant::now());
                    if !send_request(shared, &mut session, send, &mut waiting, Request::Ping, Waiter::Link).await {
                        return;
                    }
                }
            }
            _ = shared.resync.notified() => {
                // A new epoch or a gap was seen on the subscription: refresh and catch up.
                if !send_request(shared, &mut session, send, &mut waiting, Request::GetPublishKey, Waiter::Link).await {
                    return;
                }
            }
        }
    }
}

/// The session a notice from the master says it does not know, if the
/// notice is signed by the pinned master key (a forged one is ignored).
fn unknown_session_notice(shared: &Shared, notice: &SignedBlob) -> Option<u64> {
    let master_pub = shared.tracker().master_pub?;
    match notice.open::<UnknownSessionNotice>(&master_pub, shared.settings.max_message_size) {
        Ok(notice) => Some(notice.session),
        Err(e) => {
            tracing::warn!("ignoring an unknown-session notice that is not the master's: {e}");
            None
        }
    }
}

async fn send_request(
    shared: &Arc<Shared>,
    session: &mut Session,
    send: &mut DealerSendHalf,
    waiting: &mut HashMap<u64, Waiter>,
    body: Request,
    waiter: Waiter,
) -> bool {
    let req_id = shared.next_req.fetch_add(1, Ordering::Relaxed);
    let counter = session.next_out;
    session.next_out += 1;
    let Ok(sealed) = SealedFrame::seal(
        &session.cipher,
        Direction::ToMaster,
        session.id,
        counter,
        &SessionRequest { req_id, body },
    ) else {
        return true;
    };
    waiting.insert(req_id, waiter);
    send_frame(
        send,
        &MinionFrame::Session(sealed),
        shared.settings.auth_timeout,
    )
    .await
}

/// Decrypt a reply; refuse replayed counters from the master's side too.
fn open_reply(session: &mut Session, sealed: &SealedFrame, cap: usize) -> Option<SessionReply> {
    if !session.replies.is_fresh(sealed.counter) {
        tracing::warn!(counter = sealed.counter, "refusing a replayed reply");
        return None;
    }
    let reply: SessionReply = sealed
        .open(&session.cipher, Direction::ToMinion, cap)
        .map_err(|e| tracing::warn!("refusing a reply that does not decrypt: {e}"))
        .ok()?;
    session.replies.record(sealed.counter);
    Some(reply)
}

/// React to the answer to one of the link's own requests; returns follow-ups.
fn on_link_reply(shared: &Arc<Shared>, reply: Reply) -> Vec<Request> {
    match reply {
        Reply::Pong(state) => {
            let t = shared.tracker();
            if state.epoch != t.epoch {
                vec![Request::GetPublishKey]
            } else if behind(&t.pos, &state) {
                // The PUB socket dropped something (slow subscriber): fetch it.
                vec![catch_up_request(&t.pos)]
            } else {
                vec![]
            }
        }
        Reply::PublishKey { key, state } => {
            let mut t = shared.tracker();
            t.key = PublishKey::from_bytes(&key).ok();
            t.epoch = state.epoch;
            if behind(&t.pos, &state) {
                vec![catch_up_request(&t.pos)]
            } else {
                vec![]
            }
        }
        Reply::CatchUp(list) => {
            deliver_caught_up(shared, list);
            vec![]
        }
        // Answers meant for callers never come back as the link's own.
        Reply::Ok
        | Reply::Refused { .. }
        | Reply::FileEnvs(_)
        | Reply::FileList(_)
        | Reply::FileChunk { .. }
        | Reply::Pillar(_)
        | Reply::Mine(_) => vec![],
    }
}

fn deliver_caught_up(shared: &Arc<Shared>, list: Vec<Published>) {
    let mut t = shared.tracker();
    let mut delivered = 0;
    for p in list {
        let own = p.topic != TOPIC_BROADCAST;
        if t.pos.advance(own, p.seq) {
            delivered += 1;
            let _ = shared.publications.send(Box::new(p.publication));
        }
    }
    shared.settings.position.save(&t.pos);
    if delivered > 0 {
        tracing::info!("caught up on {delivered} missed publications");
    }
}

// ---------------------------------------------------------------------------
// The subscription task

async fn subscription_task(shared: Arc<Shared>, port: u16) {
    let mut options = SocketOptions::default();
    options.no_connect_timeout();
    options.read_buffer(READ_BUFFER_MIN, READ_BUFFER_MAX, 2);
    options.max_message_size(shared.settings.max_message_size);
    let mut sub = SubSocket::with_options(options);
    let endpoint = shared.endpoint(port);
    let own_topic = minion_topic(&shared.settings.id);
    // Boxed, as the setup futures would otherwise size this long-lived task.
    if let Err(e) = Box::pin(sub.connect(&endpoint)).await {
        tracing::error!("cannot subscribe to {endpoint}: {e}");
        return;
    }
    for topic in [TOPIC_BROADCAST, own_topic.as_str()] {
        if let Err(e) = Box::pin(sub.subscribe(topic)).await {
            tracing::error!("cannot subscribe to topic {topic:?}: {e}");
        }
    }
    loop {
        match sub.recv().await {
            Ok(msg) => on_publication(&shared, &own_topic, msg),
            Err(e) => {
                tracing::debug!("subscription receive error: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Check and take in one publish frame `[topic, signed envelope]`.
fn on_publication(shared: &Arc<Shared>, own_topic: &str, msg: ZmqMessage) {
    let frames = msg.into_vec();
    let [topic, payload] = frames.as_slice() else {
        return;
    };
    let cap = shared.settings.max_message_size;
    let Ok(blob) = decode::<SignedBlob>(payload, cap) else {
        tracing::debug!("dropping an undecodable publication");
        return;
    };
    let mut t = shared.tracker();
    let Some(master_pub) = t.master_pub else {
        return;
    };
    let opened = match &shared.settings.verified {
        Some(verified) => blob.open_remembered(&master_pub, verified, cap),
        None => blob.open(&master_pub, cap),
    };
    let env: PubEnvelope = match opened {
        Ok(env) => env,
        Err(e) => {
            tracing::warn!("dropping a publication that is not the master's: {e}");
            return;
        }
    };
    let for_us = env.topic == TOPIC_BROADCAST || env.topic == own_topic;
    if !for_us || topic.as_ref() != env.topic.as_bytes() {
        tracing::warn!("dropping a publication for another topic");
        return;
    }
    if env.run != t.pos.run || env.epoch != t.epoch {
        // A new master run or key: the connection task re-syncs and catches up.
        drop(t);
        shared.resync.notify_one();
        return;
    }
    let own = env.topic != TOPIC_BROADCAST;
    match t.pos.classify(own, env.seq) {
        SeqVerdict::Replay => tracing::warn!(seq = env.seq, "dropping a replayed publication"),
        SeqVerdict::Gap { .. } => {
            // Fetch the gap and this one, in order, through the session.
            drop(t);
            shared.resync.notify_one();
        }
        SeqVerdict::InOrder => {
            let Some(key) = t.key.clone() else { return };
            match env.open(&key, cap) {
                Ok(publication) => {
                    t.pos.advance(own, env.seq);
                    shared.settings.position.save(&t.pos);
                    let _ = shared.publications.send(Box::new(publication));
                }
                Err(e) => tracing::warn!("dropping a publication that does not decrypt: {e}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Waiting

/// Salt's acceptance wait: `acceptance_wait_time`, growing by itself on each
/// retry up to `acceptance_wait_time_max`, plus up to 25% jitter so a fleet
/// does not retry in lockstep.
fn acceptance_wait(s: &LinkSettings, attempt: u32, base: Duration) -> Duration {
    let max = if s.acceptance_wait_time_max.is_zero() {
        base
    } else {
        s.acceptance_wait_time_max
    };
    let grown = base.saturating_mul(attempt.max(1)).min(max.max(base));
    with_jitter(grown)
}

fn with_jitter(d: Duration) -> Duration {
    let factor = rand::rng().random_range(1.0..1.25);
    d.mul_f64(factor)
}

/// Exponential backoff with jitter for transport failures.
struct Backoff {
    first: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    fn new(first: Duration, max: Duration) -> Self {
        Backoff {
            first,
            max,
            current: first,
        }
    }

    fn next(&mut self) -> Duration {
        let d = self.current;
        self.current = (self.current * 2).min(self.max);
        with_jitter(d)
    }

    fn reset(&mut self) {
        self.current = self.first;
    }
}
