//! The wire protocol between master and minions (DESIGN.md, "Wire protocol").
//!
//! Two ZeroMQ channels:
//! - request channel (minion DEALER -> master ROUTER): one [`MinionFrame`] per
//!   message, answered by one [`MasterFrame`]. Auth is signed but clear; every
//!   other request travels sealed inside a session ([`SealedFrame`]) and is one
//!   variant of the closed enum [`Request`]: nothing is dispatched by a name
//!   that came off the wire.
//! - publish channel (master PUB -> minion SUB): `[topic, SignedBlob]`, where the
//!   signed body is a [`PubEnvelope`] sealed with the shared publish key.
//!
//! Everything is msgpack maps (`to_vec_named`), so fields can be added later.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::crypto::{CryptoError, Direction, Identity, PublicKey, PublishKey, SessionCipher};
use crate::event::Event;
use crate::frame::{FrameError, decode, encode};
use crate::ids::{Jid, MinionId, RelPath, SaltEnv};
use crate::target::TargetType;

/// The largest file chunk a minion may ask for.
pub const MAX_FILE_CHUNK: u32 = 4 * 1024 * 1024;

/// Protocol version carried in the auth request.
pub const PROTOCOL_VERSION: u32 = 1;

/// Topic frame of a publication every minion receives.
pub const TOPIC_BROADCAST: &str = "*";

/// Topic frame of a publication for one minion. The trailing newline cannot occur
/// in a minion id, so `web1`'s topic is never a prefix of `web10`'s.
pub fn minion_topic(id: &MinionId) -> String {
    format!("@{id}\n")
}

/// How far apart the minion's and the master's clocks may be, and how old an
/// auth request may be before it is refused as a replay.
pub const AUTH_MAX_SKEW_SECS: i64 = 300;

// ---------------------------------------------------------------------------
// Signed blobs

/// A msgpack body and an Ed25519 signature over exactly those bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedBlob {
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub sig: Vec<u8>,
}

impl SignedBlob {
    pub fn sign<T: Serialize>(identity: &Identity, msg: &T) -> Result<Self, FrameError> {
        let body = encode(msg)?;
        let sig = identity.sign(&body);
        Ok(SignedBlob { body, sig })
    }

    /// Verify with `key` and decode the body.
    pub fn open<T: serde::de::DeserializeOwned>(
        &self,
        key: &PublicKey,
        cap: usize,
    ) -> Result<T, WireError> {
        key.verify(&self.body, &self.sig)?;
        Ok(decode(&self.body, cap)?)
    }

    /// [`SignedBlob::open`] through a process's memory of verified signatures.
    pub fn open_remembered<T: serde::de::DeserializeOwned>(
        &self,
        key: &PublicKey,
        verified: &crate::crypto::VerifiedSignatures,
        cap: usize,
    ) -> Result<T, WireError> {
        verified.verify(key, &self.body, &self.sig)?;
        Ok(decode(&self.body, cap)?)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Frame(#[from] FrameError),
}

// ---------------------------------------------------------------------------
// Request channel

/// What a minion sends on the request channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum MinionFrame {
    /// Body: [`AuthRequest`], signed by the minion's identity key.
    Auth(SignedBlob),
    Session(SealedFrame),
}

/// What the master answers on the request channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum MasterFrame {
    /// Body: [`AuthReply`], signed by the master's identity key.
    Auth(SignedBlob),
    Session(SealedFrame),
    /// Body: [`UnknownSessionNotice`], signed by the master's identity key.
    /// The session id is not known (the master restarted, or the key was
    /// removed): authenticate again. Signed, so that an on-path attacker
    /// cannot force minions into re-authentication storms.
    UnknownSession(SignedBlob),
}

/// The master does not know this session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownSessionNotice {
    pub session: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthRequest {
    pub id: MinionId,
    #[serde(with = "serde_bytes")]
    pub pubkey: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub eph_pub: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub nonce: Vec<u8>,
    /// Unix seconds; the master refuses requests outside [`AUTH_MAX_SKEW_SECS`].
    pub ts: i64,
    pub version: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthStatus {
    Accepted,
    Pending,
    Rejected,
    Denied,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthReply {
    pub id: MinionId,
    /// The request's nonce, so a reply cannot be replayed to another request.
    #[serde(with = "serde_bytes")]
    pub nonce: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub master_pub: Vec<u8>,
    pub status: AuthStatus,
    /// Present when accepted.
    pub session: Option<SessionOffer>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionOffer {
    pub session: u64,
    #[serde(with = "serde_bytes")]
    pub eph_pub: Vec<u8>,
    /// A [`Grant`], sealed under the new session key (direction to-minion, counter 0).
    #[serde(with = "serde_bytes")]
    pub sealed_grant: Vec<u8>,
}

/// Where the publish stream stands: which key, which master run, last sequences.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublishState {
    /// Changes on every master start; sequences restart with it.
    pub run: u64,
    /// Changes on every publish-key rotation.
    pub epoch: u64,
    pub broadcast_seq: u64,
    pub own_seq: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    #[serde(with = "serde_bytes")]
    pub publish_key: Vec<u8>,
    pub state: PublishState,
    pub publish_port: u16,
    /// Where the stream stood (broadcast, own) when this master run accepted
    /// the minion's key: a minion with no position of its own starts there, so
    /// jobs published between its acceptance and its first session reach it.
    #[serde(default)]
    pub accepted_at: Option<(u64, u64)>,
}

/// The HKDF `info` that binds a session key to both identities.
pub fn session_info(id: &MinionId, minion_pub: &[u8], master_pub: &[u8]) -> Vec<u8> {
    let mut info = b"brine session v1\0".to_vec();
    info.extend_from_slice(id.as_str().as_bytes());
    info.push(0);
    info.extend_from_slice(minion_pub);
    info.extend_from_slice(master_pub);
    info
}

/// A frame sealed under a session key. `counter` is the nonce and must strictly
/// increase per direction; the receiver refuses a counter it has seen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealedFrame {
    pub session: u64,
    pub counter: u64,
    #[serde(with = "serde_bytes")]
    pub ct: Vec<u8>,
}

impl SealedFrame {
    fn aad(session: u64) -> [u8; 8] {
        session.to_be_bytes()
    }

    pub fn seal<T: Serialize>(
        cipher: &SessionCipher,
        dir: Direction,
        session: u64,
        counter: u64,
        msg: &T,
    ) -> Result<Self, FrameError> {
        let plain = encode(msg)?;
        let ct = cipher.seal(dir, counter, &Self::aad(session), &plain);
        Ok(SealedFrame {
            session,
            counter,
            ct,
        })
    }

    pub fn open<T: serde::de::DeserializeOwned>(
        &self,
        cipher: &SessionCipher,
        dir: Direction,
        cap: usize,
    ) -> Result<T, WireError> {
        let plain = cipher.open(dir, self.counter, &Self::aad(self.session), &self.ct)?;
        Ok(decode(&plain, cap)?)
    }
}

/// A request inside a session. `req_id` pairs it with its [`Reply`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRequest {
    pub req_id: u64,
    pub body: Request,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// Liveness; answered with the current [`PublishState`].
    Ping,
    /// The minion received a publication it matches and will run it.
    Ack {
        jid: Jid,
    },
    /// These jobs are still running.
    Heartbeat {
        jids: Vec<Jid>,
    },
    Return(JobReturn),
    /// The return of a job the minion's own scheduler ran (Salt's
    /// `schedule` returns): the jid is the minion's, with a suffix so it
    /// never collides with a jid the master hands out, and the master stores
    /// it only as this session's minion.
    ScheduleReturn {
        schedule: String,
        ret: JobReturn,
    },
    /// The return of a job the minion started on its own, not from a
    /// publication nor its schedule: the `startup_states` run (Salt sends
    /// it with jid `req`). The jid is minion-made as a scheduled one's; the
    /// master records the job for this session's minion only.
    StandaloneReturn(JobReturn),
    Event {
        tag: String,
        data: Value,
    },
    /// The current publish key (after a rotation).
    GetPublishKey,
    /// The minion's grains, for the master's targeting cache. Sent after
    /// every authentication and whenever they change. (The pillar the master
    /// targets on is the one it compiled, never one a minion sends.)
    MinionData {
        grains: Map<String, Value>,
    },
    /// The file server's environments.
    FileEnvs,
    /// Every file of an environment, with hashes (one request per state run,
    /// not one per file).
    FileList {
        saltenv: SaltEnv,
    },
    /// Part of a file.
    FileChunk {
        saltenv: SaltEnv,
        path: RelPath,
        offset: u64,
        len: u32,
    },
    /// Publications this minion may see with sequences above these.
    CatchUp {
        run: u64,
        broadcast_after: u64,
        own_after: u64,
    },
    /// The pillar of the session's minion (Salt's `_pillar`). There is no id
    /// field: the master compiles the pillar of the minion the session
    /// belongs to, never another. `extra` is merged over the result (Salt's
    /// `pillar_override`).
    Pillar {
        saltenv: Option<SaltEnv>,
        pillarenv: Option<SaltEnv>,
        #[serde(default)]
        extra: Map<String, Value>,
    },
    /// Mine data of the session's minion (Salt's `_mine`): merged over what
    /// the master holds, or replacing it all with `clear`. A minion stores
    /// mine data only as itself.
    MineSend {
        data: Map<String, Value>,
        #[serde(default)]
        clear: bool,
    },
    /// Forget one mine function of the session's minion, or all of them
    /// (`None`, Salt's `mine.flush`).
    MineDelete {
        fun: Option<String>,
    },
    /// Salt's `_mine_get`: the mine data of `fun` from every minion the target matches.
    MineGet {
        tgt: Value,
        tgt_type: TargetType,
        fun: Value,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionReply {
    pub req_id: u64,
    pub body: Reply,
}

/// The reason of a [`Reply::Refused`] that means "not now": the master
/// could not use its job cache, so the minion keeps its return and sends it
/// again later (every other refusal of a return is final).
pub const CACHE_UNAVAILABLE: &str = "job cache unavailable";

impl Request {
    /// The kind of request, for messages (never its contents).
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Ping => "Ping",
            Request::Ack { .. } => "Ack",
            Request::Heartbeat { .. } => "Heartbeat",
            Request::Return(_) => "Return",
            Request::ScheduleReturn { .. } => "ScheduleReturn",
            Request::StandaloneReturn(_) => "StandaloneReturn",
            Request::Event { .. } => "Event",
            Request::GetPublishKey => "GetPublishKey",
            Request::MinionData { .. } => "MinionData",
            Request::FileEnvs => "FileEnvs",
            Request::FileList { .. } => "FileList",
            Request::FileChunk { .. } => "FileChunk",
            Request::CatchUp { .. } => "CatchUp",
            Request::Pillar { .. } => "Pillar",
            Request::MineSend { .. } => "MineSend",
            Request::MineDelete { .. } => "MineDelete",
            Request::MineGet { .. } => "MineGet",
        }
    }
}

impl Reply {
    /// The kind of answer, for messages (never its contents: a pillar).
    pub fn kind(&self) -> &'static str {
        match self {
            Reply::Pong(_) => "Pong",
            Reply::Ok => "Ok",
            Reply::PublishKey { .. } => "PublishKey",
            Reply::CatchUp(_) => "CatchUp",
            Reply::FileEnvs(_) => "FileEnvs",
            Reply::FileList(_) => "FileList",
            Reply::FileChunk { .. } => "FileChunk",
            Reply::Pillar(_) => "Pillar",
            Reply::Mine(_) => "Mine",
            Reply::Refused { .. } => "Refused",
        }
    }
}

/// What a `brine-call` that `brine-ssh` started (`--ssh-channel`) sends up
/// the ssh session, one frame each (`crate::frame`), after the delimiter
/// line: requests a master would answer (files, pillar, its grains first),
/// each answered with one [`Reply`] frame, and at last its printed output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ChannelUp {
    Request(Request),
    Done { output: String, retcode: i32 },
}

/// The largest frame either side of an ssh channel reads: a file chunk and
/// its envelope, or a big return.
pub const MAX_CHANNEL_FRAME: usize = 256 * 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Reply {
    Pong(PublishState),
    Ok,
    PublishKey {
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
        state: PublishState,
    },
    CatchUp(Vec<Published>),
    FileEnvs(Vec<SaltEnv>),
    FileList(Vec<crate::fileroots::FileEntry>),
    FileChunk {
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
        /// The whole file's size.
        size: u64,
    },
    /// The compiled pillar (render errors under Salt's `_errors` key).
    Pillar(Map<String, Value>),
    /// Mine data, `{minion: data}` (or `{fun: {minion: data}}` for several functions).
    Mine(Map<String, Value>),
    Refused {
        reason: String,
    },
}

/// A job's return from one minion, Salt's `_return` load.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobReturn {
    pub jid: Jid,
    pub fun: String,
    #[serde(default)]
    pub fun_args: Vec<Value>,
    #[serde(rename = "return")]
    pub ret: Value,
    pub retcode: i32,
    pub success: bool,
    #[serde(default)]
    pub out: Option<String>,
}

// ---------------------------------------------------------------------------
// Publish channel

/// A job as the master publishes it (Salt's publish load).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Publication {
    pub jid: Jid,
    pub tgt: TargetSpec,
    pub fun: String,
    #[serde(default)]
    pub arg: Vec<Value>,
    #[serde(default)]
    pub kwarg: Map<String, Value>,
    pub user: String,
    /// Set when a restarted master publishes a job again (see
    /// `jobs::publish_unfinished`): only these minions, those it expected
    /// that had not returned, may run it, and only if the target still
    /// matches them. `None` in a job's first publication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resent_to: Option<Vec<MinionId>>,
}

impl Publication {
    /// Whether the publication is meant for `minion` as far as `resent_to`
    /// goes (the target is checked on its own).
    pub fn resent_to_includes(&self, minion: &MinionId) -> bool {
        self.resent_to
            .as_ref()
            .is_none_or(|ids| ids.contains(minion))
    }
}

/// A target as published: the expression and its type, on the wire as
/// Salt's string (`glob`, `list`, ...).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TargetSpec {
    pub tgt: Value,
    pub tgt_type: TargetType,
}

/// A publication with its place in the stream (for catch-up replies).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Published {
    pub topic: String,
    pub seq: u64,
    pub publication: Publication,
}

/// The signed body of a publish frame.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PubEnvelope {
    pub run: u64,
    pub epoch: u64,
    pub seq: u64,
    pub topic: String,
    #[serde(with = "serde_bytes")]
    pub nonce: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub ct: Vec<u8>,
}

impl PubEnvelope {
    fn aad(run: u64, epoch: u64, seq: u64, topic: &str) -> Vec<u8> {
        format!("{run}:{epoch}:{seq}:{topic}").into_bytes()
    }

    /// Seal `publication` for `topic` and sign the result.
    pub fn seal_and_sign(
        master: &Identity,
        key: &PublishKey,
        state: (u64, u64, u64),
        topic: &str,
        publication: &Publication,
    ) -> Result<SignedBlob, WireError> {
        let (run, epoch, seq) = state;
        let plain = encode(publication)?;
        let (nonce, ct) = key.seal(&Self::aad(run, epoch, seq, topic), &plain)?;
        let env = PubEnvelope {
            run,
            epoch,
            seq,
            topic: topic.to_string(),
            nonce: nonce.to_vec(),
            ct,
        };
        Ok(SignedBlob::sign(master, &env)?)
    }

    /// Decrypt with the publish key (the signature was checked by the caller).
    pub fn open(&self, key: &PublishKey, cap: usize) -> Result<Publication, WireError> {
        let aad = Self::aad(self.run, self.epoch, self.seq, &self.topic);
        let plain = key.open(&self.nonce, &aad, &self.ct)?;
        Ok(decode(&plain, cap)?)
    }
}

/// Convenience: an event a minion fires, as it travels in [`Request::Event`].
pub fn event_request(ev: Event) -> Request {
    Request::Event {
        tag: ev.tag,
        data: ev.data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn publication() -> Publication {
        Publication {
            jid: Jid::parse("20261121234019509933").expect("jid"),
            tgt: TargetSpec {
                tgt: Value::String("*".into()),
                tgt_type: TargetType::Glob,
            },
            fun: "test.ping".into(),
            arg: vec![],
            kwarg: Map::new(),
            user: "root".into(),
            resent_to: None,
        }
    }

    #[test]
    fn a_publication_sent_again_names_whom_it_is_for() {
        let first = publication();
        let encoded = rmp_serde::to_vec_named(&first).expect("encode");
        assert!(
            !String::from_utf8_lossy(&encoded).contains("resent_to"),
            "a first publication does not carry the field"
        );
        let id = |s: &str| MinionId::parse(s).expect("id");
        assert!(
            first.resent_to_includes(&id("m9")),
            "a first publication is for any target match"
        );
        let again = Publication {
            resent_to: Some(vec![id("m1")]),
            ..first
        };
        let decoded: Publication =
            rmp_serde::from_slice(&rmp_serde::to_vec_named(&again).expect("encode"))
                .expect("decode");
        assert_eq!(decoded, again);
        assert!(again.resent_to_includes(&id("m1")));
        assert!(!again.resent_to_includes(&id("m2")));
    }

    #[test]
    fn publications_round_trip_and_bind_their_header() {
        let master = Identity::generate().expect("id");
        let key = PublishKey::generate().expect("key");
        let blob =
            PubEnvelope::seal_and_sign(&master, &key, (1, 2, 3), TOPIC_BROADCAST, &publication())
                .expect("seal");
        let mut env: PubEnvelope = blob.open(&master.public(), 1 << 20).expect("verify");
        assert_eq!(env.open(&key, 1 << 20).expect("open"), publication());
        // A header changed after signing (re-signed by an attacker who has the
        // publish key but not the master key would fail the signature; here we
        // check that the AAD binds it too).
        env.seq = 4;
        assert!(env.open(&key, 1 << 20).is_err());
    }

    #[test]
    fn a_signed_blob_with_a_flipped_bit_is_refused() {
        let master = Identity::generate().expect("id");
        let mut blob = SignedBlob::sign(&master, &publication()).expect("sign");
        blob.body[5] ^= 0x10;
        assert!(blob.open::<Publication>(&master.public(), 1 << 20).is_err());
    }

    /// [`TargetSpec`] and [`Request::MineGet`] as they were when the type
    /// was a `String`: what job records already stored and older peers hold.
    #[derive(Debug, Serialize, Deserialize)]
    struct StringTypedSpec {
        tgt: Value,
        tgt_type: String,
    }

    #[derive(Debug, Serialize, Deserialize)]
    enum StringTypedRequest {
        MineGet {
            tgt: Value,
            tgt_type: String,
            fun: Value,
        },
    }

    #[test]
    fn a_typed_target_is_the_same_bytes_and_json_as_the_string_it_was() {
        let typed = TargetSpec {
            tgt: json!("os:Deb*"),
            tgt_type: TargetType::GrainPcre,
        };
        let old = StringTypedSpec {
            tgt: json!("os:Deb*"),
            tgt_type: "grain_pcre".into(),
        };
        let bytes = encode(&old).expect("encode");
        assert_eq!(encode(&typed).expect("encode"), bytes);
        assert_eq!(
            decode::<TargetSpec>(&bytes, 1 << 10).expect("decode"),
            typed
        );
        assert_eq!(
            serde_json::to_string(&typed).expect("json"),
            r#"{"tgt":"os:Deb*","tgt_type":"grain_pcre"}"#
        );

        let typed = Request::MineGet {
            tgt: json!("web*"),
            tgt_type: TargetType::Compound,
            fun: json!("network.ip_addrs"),
        };
        let old = StringTypedRequest::MineGet {
            tgt: json!("web*"),
            tgt_type: "compound".into(),
            fun: json!("network.ip_addrs"),
        };
        let bytes = encode(&old).expect("encode");
        assert_eq!(encode(&typed).expect("encode"), bytes);
        assert!(matches!(
            decode::<Request>(&bytes, 1 << 10).expect("decode"),
            Request::MineGet {
                tgt_type: TargetType::Compound,
                ..
            }
        ));
    }

    #[test]
    fn a_message_with_an_unknown_target_type_is_refused_naming_it() {
        let old = StringTypedSpec {
            tgt: json!("*"),
            tgt_type: "pillar_exact".into(),
        };
        let bytes = encode(&old).expect("encode");
        let err = decode::<TargetSpec>(&bytes, 1 << 10).expect_err("unknown type");
        assert!(
            err.to_string()
                .contains("unsupported target type \"pillar_exact\""),
            "{err}"
        );
    }

    #[test]
    fn topics_of_similar_ids_are_not_prefixes() {
        let a = minion_topic(&MinionId::parse("web1").expect("id"));
        let b = minion_topic(&MinionId::parse("web10").expect("id"));
        assert!(!b.starts_with(&a));
    }
}
