//! The minion's link to its master: one connection task and one subscription
//! task, shared by `brine-minion`, `brine-call` and every simulated minion of
//! a swarm ([`crate::swarm`]).
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
//!
//! Several masters (`master:` a list): with `master_type: failover` the one
//! connection moves to the next master whenever the current one cannot be
//! reached, does not answer, or is lost; otherwise the link keeps one
//! connection per master, all at once, their publications merged (the
//! executor runs a jid once) and each request sent through one that is up.
//!
//! The tasks only move frames; the decisions are made without sockets, in
//! [`stream`] (what to deliver, refuse or catch up on), `session` (counters,
//! replay refusal, reply matching) and `backoff` (how long to wait).

mod backoff;
mod session;
mod stream;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brine_common::crypto::{Direction, Ephemeral, Identity, PublicKey, random_bytes};
use brine_common::frame::{decode, encode};
use brine_common::ids::MinionId;
use brine_common::wire::{
    AUTH_MAX_SKEW_SECS, AuthReply, AuthRequest, AuthStatus, Grant, MasterFrame, MinionFrame,
    PROTOCOL_VERSION, Publication, Reply, Request, SealedFrame, SignedBlob, TOPIC_BROADCAST,
    UnknownSessionNotice, minion_topic, session_info,
};
use bytes::Bytes;
use tokio::sync::{Notify, mpsc, oneshot};
use zeromq::{
    DealerSendHalf, DealerSocket, Socket, SocketOptions, SocketRecv, SocketSend, SubSocket,
    ZmqMessage,
};

use crate::outbox::Outbox;
use crate::pubstate::{DeliverySink, PositionFile, StreamPosition, start_delivery};
use backoff::{Backoff, acceptance_wait};
use session::{Session, Waiter, Waiting};
use stream::{FollowUp, Tracker, Verdict};

/// Read chunk sizes for the minion's sockets: its messages are small, and a
/// swarm holds thousands of these buffers (research/deps.md §1).
const READ_BUFFER_MIN: usize = 128;
const READ_BUFFER_MAX: usize = 8192;

/// How the link reaches and trusts its master.
pub struct LinkSettings {
    pub id: MinionId,
    /// Every master's host and request port, in the order to try them.
    pub masters: Vec<(String, u16)>,
    /// One master at a time, the next when it is lost (`master_type:
    /// failover`); otherwise every master at once.
    pub failover: bool,
    /// Overrides the publish port the master announces.
    pub publish_port: Option<u16>,
    /// The local address both connections leave from (Salt's `source_address`).
    pub source_address: Option<std::net::IpAddr>,
    pub master_finger: Option<String>,
    pub acceptance_wait_time: Duration,
    pub acceptance_wait_time_max: Duration,
    pub auth_timeout: Duration,
    pub alive_interval: Duration,
    pub max_message_size: usize,
    /// Where the pinned master key is kept (`minion_master.pub`); `None` pins in memory.
    pub master_pub_path: Option<PathBuf>,
    pub position: PositionFile,
    /// Where returns wait until the master acknowledges them (on disk for
    /// `brine-minion`, nothing for `brine-call` and simulated minions).
    pub outbox: Outbox,
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
    /// One connection, or one per master when connected to all at once.
    conns: Arc<[Arc<Shared>]>,
    /// Sessions established over every connection (1 + re-auths).
    connected: Arc<tokio::sync::watch::Sender<u64>>,
}

struct Shared {
    settings: LinkSettings,
    identity: Arc<Identity>,
    /// The master of `settings.masters` this connection uses now.
    current: AtomicUsize,
    /// A session with the current master is up.
    alive: AtomicBool,
    // Channel items are boxed: a tokio channel allocates its slots in blocks
    // of 32 items, and a swarm holds thousands of these channels.
    outgoing: mpsc::Sender<Box<Outgoing>>,
    tracker: Mutex<Tracker>,
    /// The subscription task asks the connection task to resynchronise.
    resync: Notify,
    /// Counts the sessions established (shared by a link's connections).
    connected: Arc<tokio::sync::watch::Sender<u64>>,
    /// Where delivered publications go (through the position writer when
    /// the position is on disk); taken away when the minion stops.
    deliveries: Mutex<Option<DeliverySink>>,
    /// The position writer behind `deliveries`, if any.
    position_writer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    next_req: AtomicU64,
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
        let (pub_tx, pub_rx) = mpsc::unbounded_channel();
        let identity = Arc::new(identity);
        let connected = Arc::new(tokio::sync::watch::Sender::new(0));
        let every_master = !settings.failover && settings.masters.len() > 1;
        let conns: Vec<Arc<Shared>> = if every_master {
            settings
                .per_master()
                .into_iter()
                .map(|s| Shared::start(s, identity.clone(), pub_tx.clone(), connected.clone()))
                .collect()
        } else {
            vec![Shared::start(settings, identity, pub_tx, connected.clone())]
        };
        (
            Link {
                conns: conns.into(),
                connected,
            },
            pub_rx,
        )
    }

    /// The connection to send a request through: the first with a session
    /// up, else the first (its queue waits for a session).
    fn conn(&self) -> &Arc<Shared> {
        self.conns
            .iter()
            .find(|c| c.alive.load(Ordering::Relaxed))
            .unwrap_or(&self.conns[0])
    }

    pub fn id(&self) -> &MinionId {
        &self.conns[0].settings.id
    }

    /// Send a request and wait for its reply. Waits through reconnects up to `timeout`.
    pub async fn request(&self, body: Request, timeout: Duration) -> Result<Reply, LinkError> {
        let (tx, rx) = oneshot::channel();
        let send = self
            .conn()
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
        let mut rx = self.connected.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|n| *n > 0))
            .await
            .is_ok()
    }

    /// Changes each time a session is established (the first and every re-auth).
    pub fn session_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.connected.subscribe()
    }

    /// How many sessions this link has established (1 + re-auths).
    pub fn sessions_established(&self) -> u64 {
        *self.connected.borrow()
    }

    /// Where this minion's returns wait for the master's acknowledgement.
    pub fn outbox(&self) -> &Outbox {
        &self.conns[0].settings.outbox
    }

    /// Deliver no more publications (the minion is stopping): what was
    /// taken from the stream so far is saved and handed to the executor,
    /// whose channel then closes; anything later stays unsaved, so a
    /// restarted minion catches up on it.
    pub async fn stop_deliveries(&self) {
        for conn in self.conns.iter() {
            drop(conn.take_deliveries());
            let writer = conn
                .position_writer
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            if let Some(writer) = writer
                && writer.await.is_err()
            {
                tracing::warn!("the publish position writer failed");
            }
        }
    }
}

impl LinkSettings {
    /// One settings per master, for a link connected to all of them: the
    /// same minion, each with its own publication position.
    fn per_master(self) -> Vec<LinkSettings> {
        self.masters
            .iter()
            .map(|(host, port)| LinkSettings {
                id: self.id.clone(),
                masters: vec![(host.clone(), *port)],
                failover: false,
                publish_port: self.publish_port,
                source_address: self.source_address,
                master_finger: self.master_finger.clone(),
                acceptance_wait_time: self.acceptance_wait_time,
                acceptance_wait_time_max: self.acceptance_wait_time_max,
                auth_timeout: self.auth_timeout,
                alive_interval: self.alive_interval,
                max_message_size: self.max_message_size,
                master_pub_path: self.master_pub_path.clone(),
                position: self.position.for_master(host, *port),
                outbox: self.outbox.clone(),
                subscribe: self.subscribe,
                verified: self.verified.clone(),
            })
            .collect()
    }
}

impl Shared {
    /// Start one connection's tasks; its publications go to `pub_tx`.
    fn start(
        settings: LinkSettings,
        identity: Arc<Identity>,
        pub_tx: mpsc::UnboundedSender<Box<Publication>>,
        connected: Arc<tokio::sync::watch::Sender<u64>>,
    ) -> Arc<Shared> {
        let (outgoing, outgoing_rx) = mpsc::channel(1024);
        let mut settings = settings;
        let saved = settings.position.load();
        let master_pub = settings
            .master_pub_path
            .as_deref()
            .and_then(|p| PublicKey::load(p).ok());
        let position = std::mem::replace(&mut settings.position, PositionFile::new(None));
        let (deliveries, position_writer) = start_delivery(position, pub_tx);
        let shared = Arc::new(Shared {
            identity,
            current: AtomicUsize::new(0),
            alive: AtomicBool::new(false),
            outgoing,
            tracker: Mutex::new(Tracker::new(master_pub, saved)),
            resync: Notify::new(),
            connected,
            deliveries: Mutex::new(Some(deliveries)),
            position_writer: Mutex::new(position_writer),
            next_req: AtomicU64::new(1),
            settings,
        });
        tokio::spawn(connection_task(shared.clone(), outgoing_rx));
        shared
    }

    /// The host and request port of the master in use.
    fn master(&self) -> (&str, u16) {
        let masters = &self.settings.masters;
        let (host, port) = &masters[self.current.load(Ordering::Relaxed) % masters.len()];
        (host, *port)
    }

    /// With failover, move on to the next master of the list.
    fn next_master(&self) {
        let count = self.settings.masters.len();
        if !self.settings.failover || count < 2 {
            return;
        }
        let next = (self.current.load(Ordering::Relaxed) + 1) % count;
        self.current.store(next, Ordering::Relaxed);
        let (host, port) = self.master();
        tracing::warn!(id = %self.settings.id, "failing over to the master at {host}:{port}");
    }

    fn tracker(&self) -> std::sync::MutexGuard<'_, Tracker> {
        self.tracker.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn endpoint(&self, port: u16) -> String {
        format!("tcp://{}:{}", self.master().0, port)
    }

    /// Hand one step of the stream to the executor (through the position
    /// writer). Called with the tracker locked, so steps keep stream order.
    fn deliver(
        &self,
        pos: StreamPosition,
        publications: impl IntoIterator<Item = Box<Publication>>,
    ) {
        let deliveries = self.deliveries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sink) = deliveries.as_ref() {
            sink.deliver(pos, publications);
        }
    }

    fn take_deliveries(&self) -> Option<DeliverySink> {
        self.deliveries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }
}

// ---------------------------------------------------------------------------
// The connection task

/// Why authentication did not produce a session.
enum AuthFailure {
    /// Try again after this long (pending, rejected, untrusted master).
    RetryAfter(Duration),
    /// The answer is not the trusted master's (another key, a bad
    /// signature): try again after this long, with failover another master.
    Untrusted(Duration),
    /// The transport broke; reconnect.
    Transport,
    /// The request went out and no answer came within `auth_timeout`.
    Unanswered,
}

/// Warn about unanswered auth requests on the 1st, 10th, 20th... in a row:
/// the reason is worth saying, not every few seconds.
fn warn_unanswered(in_a_row: u32) -> bool {
    in_a_row == 1 || in_a_row.is_multiple_of(10)
}

/// What a minion whose auth requests go unanswered says. The master answers
/// nothing to a request stamped outside [`AUTH_MAX_SKEW_SECS`] of its clock
/// (an answer would help replay), so the minion is the one to name it.
fn unanswered_auth_message(auth_timeout: Duration, now: jiff::Timestamp) -> String {
    format!(
        "the master did not answer the auth request within {}s; a master ignores a request \
         stamped more than {AUTH_MAX_SKEW_SECS} s from its own clock, so check that this host's \
         clock ({now:.0}) agrees with the master's (an unreachable or overloaded master looks \
         the same)",
        auth_timeout.as_secs_f64()
    )
}

async fn connection_task(shared: Arc<Shared>, mut outgoing: mpsc::Receiver<Box<Outgoing>>) {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
    let mut pending_waits = 0u32;
    let mut unanswered = 0u32;
    // The subscription's master and publish port.
    let mut subscription: Option<((usize, u16), tokio::task::JoinHandle<()>)> = None;
    loop {
        let Some((mut send, mut incoming, reader)) = Box::pin(connect_dealer(&shared)).await else {
            shared.next_master();
            tokio::time::sleep(backoff.next()).await;
            continue;
        };
        // The big sub-futures are boxed so this task's own state stays small.
        let auth = Box::pin(authenticate(&shared, &mut send, &mut incoming)).await;
        let (session, grant) = match auth {
            Ok(ok) => ok,
            Err(AuthFailure::RetryAfter(wait) | AuthFailure::Untrusted(wait)) => {
                reader.abort();
                // With failover, a master that is not the trusted one makes
                // way for the next (a pending or refused key stays where it
                // is: the masters share their keys).
                if matches!(auth, Err(AuthFailure::Untrusted(_))) {
                    shared.next_master();
                }
                pending_waits += 1;
                let max = shared.settings.acceptance_wait_time_max;
                tokio::time::sleep(acceptance_wait(max, pending_waits, wait)).await;
                continue;
            }
            Err(AuthFailure::Transport) => {
                reader.abort();
                shared.next_master();
                tokio::time::sleep(backoff.next()).await;
                continue;
            }
            Err(AuthFailure::Unanswered) => {
                reader.abort();
                unanswered += 1;
                if warn_unanswered(unanswered) {
                    let why = unanswered_auth_message(
                        shared.settings.auth_timeout,
                        jiff::Timestamp::now(),
                    );
                    tracing::warn!(id = %shared.settings.id, attempts = unanswered, "{why}");
                }
                shared.next_master();
                tokio::time::sleep(backoff.next()).await;
                continue;
            }
        };
        backoff.reset();
        pending_waits = 0;
        unanswered = 0;
        let catch_up = adopt_grant(&shared, &grant);
        if shared.settings.subscribe {
            let port = shared.settings.publish_port.unwrap_or(grant.publish_port);
            let source = (shared.current.load(Ordering::Relaxed), port);
            if subscription.as_ref().is_none_or(|(s, _)| *s != source) {
                // Another master, or one that came back on another publish
                // port: follow it.
                if let Some((_, old)) = subscription.take() {
                    old.abort();
                }
                let task = tokio::spawn(subscription_task(shared.clone(), port));
                subscription = Some((source, task));
            }
        }
        shared.alive.store(true, Ordering::Relaxed);
        shared.connected.send_modify(|n| *n += 1);
        let (host, port) = shared.master();
        tracing::info!(id = %shared.settings.id, "authenticated with the master at {host}:{port}");
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
        shared.alive.store(false, Ordering::Relaxed);
        tracing::warn!(id = %shared.settings.id, "lost the master; reconnecting");
        shared.next_master();
    }
}

type Incoming = mpsc::Receiver<Box<MasterFrame>>;

/// Where the connection task writes its frames: the DEALER, or a fake
/// master in tests.
trait FrameSink {
    /// Send one frame; false when the transport is broken.
    fn send_frame(
        &mut self,
        frame: &MinionFrame,
        timeout: Duration,
    ) -> impl Future<Output = bool> + Send;
}

impl FrameSink for DealerSendHalf {
    async fn send_frame(&mut self, frame: &MinionFrame, timeout: Duration) -> bool {
        let Ok(bytes) = encode(frame) else {
            return false;
        };
        matches!(
            tokio::time::timeout(timeout, self.send(ZmqMessage::from(Bytes::from(bytes)))).await,
            Ok(Ok(()))
        )
    }
}

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
    if let Some(source) = s.source_address {
        options.source_address(source);
    }
    let mut dealer = DealerSocket::with_options(options);
    // The socket's events tell at once when the master's end closes (it
    // stopped, or was killed): sooner than the next unanswered ping.
    let mut events = dealer.monitor();
    let endpoint = shared.endpoint(shared.master().1);
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
            // Other events (the connection made, say) are passed over.
            let closed = async {
                loop {
                    match futures::StreamExt::next(&mut events).await {
                        Some(zeromq::SocketEvent::Disconnected(_)) => return,
                        Some(_) => continue,
                        None => std::future::pending::<()>().await,
                    }
                }
            };
            let msg = tokio::select! {
                msg = recv.recv() => msg,
                () = closed => {
                    tracing::debug!("the master closed the connection");
                    return;
                }
            };
            let Ok(msg) = msg else { return };
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

/// Run the auth handshake on a fresh DEALER.
async fn authenticate(
    shared: &Arc<Shared>,
    send: &mut impl FrameSink,
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
    if !send
        .send_frame(&MinionFrame::Auth(blob), s.auth_timeout)
        .await
    {
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
            Ok(None) => return Err(AuthFailure::Transport),
            Err(_) => return Err(AuthFailure::Unanswered),
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
    Ok((Session::new(offer.session, cipher), grant))
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
        AuthFailure::Untrusted(s.acceptance_wait_time)
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

/// Take the grant's key and position (queued for saving); returns a
/// catch-up request if the minion is behind.
fn adopt_grant(shared: &Arc<Shared>, grant: &Grant) -> Option<Request> {
    let mut t = shared.tracker();
    let request = t.adopt_grant(grant);
    shared.deliver(t.pos, []);
    request
}

/// Serve an established session until it breaks.
async fn serve(
    shared: &Arc<Shared>,
    mut session: Session,
    send: &mut impl FrameSink,
    incoming: &mut Incoming,
    outgoing: &mut mpsc::Receiver<Box<Outgoing>>,
    first_catch_up: Option<Request>,
) {
    let s = &shared.settings;
    let mut waiting = Waiting::default();
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
                        let Some(reply) = session.open_reply(&sealed, s.max_message_size) else { continue };
                        match waiting.take(&reply) {
                            Some(Waiter::Caller(tx)) => { let _ = tx.send(reply.body); }
                            Some(Waiter::Link) => {
                                awaiting_pong = None;
                                if let Some(req) = on_link_reply(shared, reply.body)
                                    && !send_request(shared, &mut session, send, &mut waiting, req, Waiter::Link).await
                                {
                                    return;
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

/// Seal and send one request, remembering who waits for its reply; false
/// when the transport broke.
async fn send_request(
    shared: &Arc<Shared>,
    session: &mut Session,
    send: &mut impl FrameSink,
    waiting: &mut Waiting,
    body: Request,
    waiter: Waiter,
) -> bool {
    let req_id = shared.next_req.fetch_add(1, Ordering::Relaxed);
    let Some(sealed) = session.seal_request(req_id, body) else {
        return true;
    };
    waiting.insert(req_id, waiter);
    send.send_frame(&MinionFrame::Session(sealed), shared.settings.auth_timeout)
        .await
}

/// React to the answer to one of the link's own requests: deliver what a
/// catch-up brought; returns the request to send next, if any.
fn on_link_reply(shared: &Arc<Shared>, reply: Reply) -> Option<Request> {
    let mut t = shared.tracker();
    match t.on_link_reply(reply) {
        FollowUp::Nothing => None,
        FollowUp::Send(request) => Some(request),
        FollowUp::Deliver(list) => {
            // Handed over under the lock, so the subscription task cannot
            // deliver a later publication in between.
            if !list.is_empty() {
                tracing::info!("caught up on {} missed publications", list.len());
            }
            shared.deliver(t.pos, list.into_iter().map(Box::new));
            None
        }
    }
}

// ---------------------------------------------------------------------------
// The subscription task

async fn subscription_task(shared: Arc<Shared>, port: u16) {
    let mut options = SocketOptions::default();
    options.no_connect_timeout();
    options.read_buffer(READ_BUFFER_MIN, READ_BUFFER_MAX, 2);
    options.max_message_size(shared.settings.max_message_size);
    if let Some(source) = shared.settings.source_address {
        options.source_address(source);
    }
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
            Ok(msg) => {
                let frames = msg.into_vec();
                if let [topic, payload] = frames.as_slice() {
                    on_publication(&shared, &own_topic, topic, payload);
                }
            }
            Err(e) => {
                tracing::debug!("subscription receive error: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Take in one publish frame `[topic, signed envelope]`: deliver it, or
/// wake the connection task to resync, or drop it.
fn on_publication(shared: &Shared, own_topic: &str, topic: &[u8], payload: &[u8]) {
    let cap = shared.settings.max_message_size;
    let Ok(blob) = decode::<SignedBlob>(payload, cap) else {
        tracing::debug!("dropping an undecodable publication");
        return;
    };
    let mut t = shared.tracker();
    let verified = shared.settings.verified.as_deref();
    match t.judge_publication(own_topic, topic, &blob, cap, verified) {
        Verdict::Deliver(publication) => shared.deliver(t.pos, [publication]),
        Verdict::Resync => {
            drop(t);
            shared.resync.notify_one();
        }
        Verdict::Refuse(why) => why.log(),
    }
}

#[cfg(test)]
mod tests;
