//! A rogue peer for the security tests, built from brine-common's own wire
//! primitives rather than from the minion crate, so it can do what a real
//! minion never would: replay its own frames, tamper with them, claim other
//! identities, forge publications.
//!
//! - [`Rogue`]: a ZeroMQ DEALER on the master's request port that speaks the
//!   auth handshake with any id and identity, keeps the session it gets (key,
//!   counters, the [`Grant`] with the shared publish key) and sends sealed
//!   requests, or raw bytes.
//! - [`PubProxy`]: a man in the middle on the publish channel: a SUB on the
//!   master's publish port and a PUB that a minion is configured to subscribe
//!   to (`publish_port: <proxy.port>`). It records every frame, forwards them
//!   while forwarding is on, and injects whatever the test hands it.
//! - Helpers to build, decode, tamper with and forge publish frames.
//!
//! The tests are synchronous; each of these owns a small tokio runtime (one
//! worker, so its sockets keep reading while the test thread blocks).

#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brine_common::crypto::{
    Direction, Ephemeral, Identity, PublicKey, PublishKey, SessionCipher, random_bytes,
};
use brine_common::frame::{decode, encode};
use brine_common::ids::{Jid, MinionId};
use brine_common::target::TargetType;
use brine_common::wire::{
    AuthReply, AuthRequest, AuthStatus, Grant, MasterFrame, MinionFrame, PROTOCOL_VERSION,
    PubEnvelope, Publication, PublishState, Reply, Request, SealedFrame, SessionReply, SignedBlob,
    TargetSpec, session_info,
};
use serde_json::{Map, Value, json};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use zeromq::{
    DealerSocket, PubSocket, Socket, SocketOptions, SocketRecv, SocketSend, SubSocket, ZmqMessage,
};

use crate::cluster::{Cluster, stderr, stdout};

/// The size cap the rogue applies to what it decodes.
const CAP: usize = 64 << 20;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Unix seconds now, as the auth request carries them.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// A unique-enough marker for tags and values of one test run.
pub fn marker(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    format!("{what}-{}-{nanos}", std::process::id())
}

/// A fresh jid no master handed out.
pub fn fresh_jid() -> Jid {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_micros() as i64;
    // A second into the future, so it cannot collide with a real job of this test.
    brine_common::jid::jid_for_micros(micros + 1_000_000)
}

/// A two-frame ZeroMQ message, without naming the `bytes` crate.
pub fn two_frames(first: Vec<u8>, second: Vec<u8>) -> ZmqMessage {
    let mut msg = ZmqMessage::from(first);
    let frame = ZmqMessage::from(second)
        .into_vec()
        .pop()
        .expect("one frame");
    msg.push_back(frame);
    msg
}

/// The frames of a message as plain byte vectors.
pub fn frames_of(msg: &ZmqMessage) -> Vec<Vec<u8>> {
    msg.iter().map(|f| f.to_vec()).collect()
}

// ---------------------------------------------------------------------------
// The request channel

/// What the master answered to an auth request.
#[derive(Debug)]
pub struct AuthAnswer {
    pub reply: AuthReply,
    /// The key the master presented, which verified the answer's signature.
    pub master_pub: PublicKey,
}

/// An auth request ready to send, and the secrets a real minion keeps.
pub struct PreparedAuth {
    pub blob: SignedBlob,
    pub request: AuthRequest,
    pub ephemeral: Ephemeral,
}

impl PreparedAuth {
    /// The request as it travels: a `MinionFrame::Auth`, msgpack-encoded.
    pub fn wire_bytes(&self) -> Vec<u8> {
        encode(&MinionFrame::Auth(self.blob.clone())).expect("encode auth")
    }
}

/// An established session.
pub struct RogueSession {
    pub id: u64,
    cipher: SessionCipher,
    next_out: u64,
    last_in: u64,
    pub grant: Grant,
}

/// A test-side peer on the master's request port.
pub struct Rogue {
    pub id: MinionId,
    pub identity: Identity,
    dealer: Option<DealerSocket>,
    pub session: Option<RogueSession>,
    next_req: u64,
    rt: Runtime,
}

impl Rogue {
    /// Connect a DEALER to the master's request port as `id`, with `identity`.
    pub fn connect(ret_port: u16, id: &str, identity: Identity) -> Rogue {
        let rt = runtime();
        let dealer = rt.block_on(async {
            let mut options = SocketOptions::default();
            options.max_message_size(CAP);
            let mut dealer = DealerSocket::with_options(options);
            tokio::time::timeout(
                Duration::from_secs(10),
                dealer.connect(&format!("tcp://127.0.0.1:{ret_port}")),
            )
            .await
            .expect("connecting the rogue DEALER timed out")
            .expect("connect the rogue DEALER");
            dealer
        });
        Rogue {
            id: MinionId::parse(id).expect("minion id"),
            identity,
            dealer: Some(dealer),
            session: None,
            next_req: 1,
            rt,
        }
    }

    /// A rogue holding an accepted key for `id`: it authenticates once (the key
    /// goes to pending), the test accepts it with `brine-key -a`, and it
    /// authenticates again to get a session and the grant.
    pub fn accepted(c: &Cluster, id: &str) -> Rogue {
        let mut rogue = Rogue::connect(c.ret_port, id, Identity::generate().expect("identity"));
        let first = rogue.authenticate();
        assert_eq!(first, AuthStatus::Pending, "a new key should be pending");
        let out = c.brine_key(&["-a", id, "-y"]);
        assert!(
            out.status.success() && stdout(&out).contains(&format!("Key for minion {id} accepted")),
            "brine-key -a {id}: {} {}",
            stdout(&out),
            stderr(&out)
        );
        assert_eq!(rogue.authenticate(), AuthStatus::Accepted);
        rogue
    }

    /// Build a signed auth request for this rogue's id and identity, stamped `ts`.
    pub fn prepare_auth(&self, ts: i64) -> PreparedAuth {
        let ephemeral = Ephemeral::generate().expect("ephemeral");
        let nonce: [u8; 32] = random_bytes().expect("nonce");
        let request = AuthRequest {
            id: self.id.clone(),
            pubkey: self.identity.public().0.to_vec(),
            eph_pub: ephemeral.public().to_vec(),
            nonce: nonce.to_vec(),
            ts,
            version: PROTOCOL_VERSION,
        };
        let blob = SignedBlob::sign(&self.identity, &request).expect("sign");
        PreparedAuth {
            blob,
            request,
            ephemeral,
        }
    }

    /// Wait for the master's signed answer to the auth request with `nonce`.
    /// Other frames that arrive meanwhile are dropped.
    pub fn wait_auth_answer(&mut self, nonce: &[u8], timeout: Duration) -> Option<AuthAnswer> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv_frame(left)? {
                MasterFrame::Auth(blob) => {
                    let answer = open_auth_answer(&blob);
                    if answer.reply.nonce == nonce {
                        return Some(answer);
                    }
                }
                _ => continue,
            }
        }
    }

    /// The full handshake, as a minion does it. On `Accepted` the session and
    /// the grant are kept.
    pub fn authenticate(&mut self) -> AuthStatus {
        let prepared = self.prepare_auth(unix_now());
        self.send_bytes(&prepared.wire_bytes());
        let answer = self
            .wait_auth_answer(&prepared.request.nonce, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no answer to {}'s auth request", self.id));
        assert_eq!(answer.reply.id, self.id, "the answer is for another id");
        if answer.reply.status == AuthStatus::Accepted {
            let offer = answer
                .reply
                .session
                .expect("an accepted answer has a session");
            let info = session_info(&self.id, &prepared.request.pubkey, &answer.reply.master_pub);
            let cipher = prepared
                .ephemeral
                .derive_session(&offer.eph_pub, &prepared.request.nonce, &info)
                .expect("derive the session key");
            let sealed = SealedFrame {
                session: offer.session,
                counter: 0,
                ct: offer.sealed_grant,
            };
            let grant: Grant = sealed
                .open(&cipher, Direction::ToMinion, CAP)
                .expect("open the grant");
            self.session = Some(RogueSession {
                id: offer.session,
                cipher,
                next_out: 1,
                last_in: 0,
                grant,
            });
        } else {
            assert!(
                answer.reply.session.is_none(),
                "a {:?} answer carries a session",
                answer.reply.status
            );
        }
        answer.reply.status
    }

    fn session(&self) -> &RogueSession {
        self.session.as_ref().expect("the rogue has no session")
    }

    pub fn grant(&self) -> &Grant {
        &self.session().grant
    }

    /// The shared publish key from the grant.
    pub fn publish_key(&self) -> PublishKey {
        PublishKey::from_bytes(&self.grant().publish_key).expect("publish key")
    }

    /// Seal `body` as the next request of the session, without sending it.
    /// Returns the request id and the sealed frame.
    pub fn seal(&mut self, body: Request) -> (u64, SealedFrame) {
        self.seal_any(body)
    }

    /// Seal any serialisable `body` as a request: a shape no honest client
    /// of this version sends (an older wire form, extra fields, bad ids).
    fn seal_any<T: serde::Serialize>(&mut self, body: T) -> (u64, SealedFrame) {
        /// `SessionRequest` with a body of any shape.
        #[derive(serde::Serialize)]
        struct AnyRequest<T> {
            req_id: u64,
            body: T,
        }
        let req_id = self.next_req;
        self.next_req += 1;
        let s = self.session.as_mut().expect("the rogue has no session");
        let counter = s.next_out;
        s.next_out += 1;
        let frame = SealedFrame::seal(
            &s.cipher,
            Direction::ToMaster,
            s.id,
            counter,
            &AnyRequest { req_id, body },
        )
        .expect("seal");
        (req_id, frame)
    }

    /// Send a request of any shape (see `seal_any`) without waiting for
    /// a reply; returns its request id.
    pub fn send_any<T: serde::Serialize>(&mut self, body: T) -> u64 {
        let (req_id, frame) = self.seal_any(body);
        self.send_bytes(&Rogue::wire(&frame));
        req_id
    }

    /// Send a request of any shape (see `seal_any`) and wait for the reply.
    pub fn request_any<T: serde::Serialize>(&mut self, body: T) -> Reply {
        let req_id = self.send_any(body);
        self.wait_reply(req_id, Duration::from_secs(10))
            .expect("no reply from the master within 10 s")
    }

    /// A sealed frame as it travels on the wire.
    pub fn wire(frame: &SealedFrame) -> Vec<u8> {
        encode(&MinionFrame::Session(frame.clone())).expect("encode")
    }

    /// Send one message with one frame.
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.send_message(ZmqMessage::from(bytes.to_vec()));
    }

    pub fn send_message(&mut self, msg: ZmqMessage) {
        let dealer = self.dealer.as_mut().expect("dealer");
        self.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), dealer.send(msg))
                .await
                .expect("sending on the rogue DEALER timed out")
                .expect("send on the rogue DEALER");
        });
    }

    /// The next decodable frame from the master, within `timeout`.
    pub fn recv_frame(&mut self, timeout: Duration) -> Option<MasterFrame> {
        let deadline = Instant::now() + timeout;
        let dealer = self.dealer.as_mut().expect("dealer");
        loop {
            let msg = self
                .rt
                .block_on(async { tokio::time::timeout_at(deadline.into(), dealer.recv()).await })
                .ok()?
                .ok()?;
            let payload = msg.into_vec().pop()?;
            if let Ok(frame) = decode::<MasterFrame>(&payload, CAP) {
                return Some(frame);
            }
        }
    }

    /// Wait for the reply to request `req_id` of the session, within `timeout`.
    /// Replies to other requests are dropped.
    pub fn wait_reply(&mut self, req_id: u64, timeout: Duration) -> Option<Reply> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = self.recv_frame(left)?;
            let MasterFrame::Session(sealed) = frame else {
                continue;
            };
            let s = self.session.as_mut().expect("session");
            if sealed.session != s.id || sealed.counter <= s.last_in {
                continue;
            }
            let Ok(reply) = sealed.open::<SessionReply>(&s.cipher, Direction::ToMinion, CAP) else {
                continue;
            };
            s.last_in = sealed.counter;
            if reply.req_id == req_id {
                return Some(reply.body);
            }
        }
    }

    /// Send `body` in the session and wait for its reply.
    pub fn request(&mut self, body: Request) -> Reply {
        let (req_id, frame) = self.seal(body);
        self.send_bytes(&Rogue::wire(&frame));
        self.wait_reply(req_id, Duration::from_secs(10))
            .expect("no reply from the master within 10 s")
    }

    /// Where the publish stream stands now (`Ping` answers with it).
    pub fn publish_state(&mut self) -> PublishState {
        match self.request(Request::Ping) {
            Reply::Pong(state) => state,
            other => panic!("unexpected answer to a ping: {other:?}"),
        }
    }

    /// Fire an event in the session; the master's answer.
    pub fn fire(&mut self, tag: &str, data: Value) -> Reply {
        self.request(Request::Event {
            tag: tag.to_string(),
            data,
        })
    }
}

impl Drop for Rogue {
    fn drop(&mut self) {
        let _guard = self.rt.enter();
        self.dealer.take();
    }
}

/// Verify the master's signature on an auth answer (against the key it presents).
pub fn open_auth_answer(blob: &SignedBlob) -> AuthAnswer {
    let unverified: AuthReply = decode(&blob.body, CAP).expect("decode the auth answer");
    let master_pub = PublicKey::from_bytes(&unverified.master_pub).expect("master key");
    let reply: AuthReply = blob
        .open(&master_pub, CAP)
        .expect("the master's answer is signed by the key it presents");
    AuthAnswer { reply, master_pub }
}

// ---------------------------------------------------------------------------
// The publish channel

/// A man in the middle between the master's PUB and one minion's SUB.
pub struct PubProxy {
    /// The port the proxy's PUB listens on (give it to a minion as `publish_port`).
    pub port: u16,
    shared: Arc<ProxyShared>,
    inject: mpsc::UnboundedSender<ZmqMessage>,
    rt: Runtime,
}

struct ProxyShared {
    forward: AtomicBool,
    captured: Mutex<Vec<ZmqMessage>>,
}

impl PubProxy {
    /// Subscribe to everything on the master's publish port and bind a PUB on a
    /// free loopback port. Forwarding starts on.
    pub fn start(master_publish_port: u16) -> PubProxy {
        let rt = runtime();
        let shared = Arc::new(ProxyShared {
            forward: AtomicBool::new(true),
            captured: Mutex::new(Vec::new()),
        });
        let (inject, mut injected) = mpsc::unbounded_channel::<ZmqMessage>();
        let port = rt.block_on(async {
            let mut publisher = PubSocket::new();
            let bound = publisher
                .bind("tcp://127.0.0.1:0")
                .await
                .expect("bind the proxy PUB");
            let port: u16 = bound
                .to_string()
                .rsplit(':')
                .next()
                .and_then(|p| p.trim_end_matches('/').parse().ok())
                .expect("proxy port");
            let mut options = SocketOptions::default();
            options.max_message_size(CAP);
            let mut sub = SubSocket::with_options(options);
            sub.connect(&format!("tcp://127.0.0.1:{master_publish_port}"))
                .await
                .expect("connect the proxy SUB");
            sub.subscribe("").await.expect("subscribe to everything");

            // One task reads the master; one owns the PUB and sends what the
            // reader forwards and what the test injects (channels keep the
            // select below cancel-safe).
            let (forwarded, mut to_forward) = mpsc::unbounded_channel::<ZmqMessage>();
            let reader_shared = shared.clone();
            tokio::spawn(async move {
                loop {
                    let Ok(msg) = sub.recv().await else {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    };
                    reader_shared
                        .captured
                        .lock()
                        .expect("captured")
                        .push(msg.clone());
                    if reader_shared.forward.load(Ordering::SeqCst) && forwarded.send(msg).is_err()
                    {
                        return;
                    }
                }
            });
            tokio::spawn(async move {
                loop {
                    let msg = tokio::select! {
                        Some(m) = to_forward.recv() => m,
                        Some(m) = injected.recv() => m,
                        else => return,
                    };
                    let _ = publisher.send(msg).await;
                }
            });
            port
        });
        PubProxy {
            port,
            shared,
            inject,
            rt,
        }
    }

    /// Forward the master's frames (true) or only record them (false).
    pub fn set_forwarding(&self, on: bool) {
        self.shared.forward.store(on, Ordering::SeqCst);
    }

    /// How many frames the proxy has received from the master so far.
    pub fn captured_count(&self) -> usize {
        self.shared.captured.lock().expect("captured").len()
    }

    /// The `n`-th frame received from the master (0-based), waiting up to `timeout`.
    pub fn wait_captured(&self, n: usize, timeout: Duration) -> ZmqMessage {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(m) = self.shared.captured.lock().expect("captured").get(n) {
                return m.clone();
            }
            assert!(
                Instant::now() < deadline,
                "the proxy received no publication #{n} within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Make sure the proxy's own subscription reaches the master's PUB (which
    /// drops frames for subscribers it does not know yet): run `publish` until
    /// the proxy has seen a frame.
    pub fn warm_up(&self, mut publish: impl FnMut()) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.captured_count() == 0 {
            assert!(
                Instant::now() < deadline,
                "the proxy never received a publication from the master"
            );
            publish();
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Send `msg` to the proxy's subscribers.
    pub fn inject(&self, msg: ZmqMessage) {
        self.inject.send(msg).expect("the proxy has stopped");
    }
}

/// Decode a publish frame's envelope without checking its signature.
pub fn envelope_of(msg: &ZmqMessage) -> (String, PubEnvelope, SignedBlob) {
    let frames = frames_of(msg);
    assert_eq!(frames.len(), 2, "a publish frame has a topic and a body");
    let topic = String::from_utf8(frames[0].clone()).expect("utf-8 topic");
    let blob: SignedBlob = decode(&frames[1], CAP).expect("decode the signed blob");
    let env: PubEnvelope = decode(&blob.body, CAP).expect("decode the envelope");
    (topic, env, blob)
}

/// A copy of a publish frame with one bit flipped in the signed body: in the
/// last byte, which is the end of the AES-GCM tag of the sealed publication,
/// so the frame still decodes and only the cryptography can notice.
pub fn flip_a_bit(msg: &ZmqMessage) -> ZmqMessage {
    let (topic, _, mut blob) = envelope_of(msg);
    let last = blob.body.len() - 1;
    blob.body[last] ^= 0x01;
    two_frames(topic.into_bytes(), encode(&blob).expect("encode"))
}

/// A publish frame for `publication` at `(run, epoch, seq)` on `topic`,
/// sealed with `key` and signed by `signer` (the master, or anyone else).
pub fn publish_frame(
    signer: &Identity,
    key: &PublishKey,
    position: (u64, u64, u64),
    topic: &str,
    publication: &Publication,
) -> ZmqMessage {
    let blob = PubEnvelope::seal_and_sign(signer, key, position, topic, publication)
        .expect("seal and sign");
    two_frames(
        topic.as_bytes().to_vec(),
        encode(&blob).expect("encode the blob"),
    )
}

/// A `test.echo` publication for the glob `tgt`.
pub fn echo_publication(jid: &Jid, tgt: &str, text: &str) -> Publication {
    Publication {
        jid: jid.clone(),
        tgt: TargetSpec {
            tgt: json!(tgt),
            tgt_type: TargetType::Glob,
        },
        fun: "test.echo".into(),
        arg: vec![json!(text)],
        kwarg: Map::new(),
        user: "root".into(),
        resent_to: None,
    }
}
