//! The messages of the master's local socket (`<sock_dir>/master.sock`, in
//! a directory of mode 0700): what `brine`, `brine-key`, `brine-run`,
//! `brine-cp` and `brine-api` send, and what the master answers.
//!
//! One connection carries one [`ClientRequest`]. Most requests get one
//! [`ClientReply`]; a watched publication and an event subscription get a
//! stream of replies until the client hangs up. Frames are length-prefixed
//! msgpack (`brine_common::frame`). The master's side (`client_server` in
//! brine-master) decodes these same types.

use std::path::{Path, PathBuf};

use brine_common::event::Event;
use brine_common::ids::{Jid, MinionId};
use brine_common::target::TargetType;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Largest reply a client accepts (a job with many large returns).
pub const CLIENT_FRAME_CAP: usize = 256 * 1024 * 1024;

/// Requests are small (returns flow the other way): the largest the master reads.
pub const REQUEST_CAP: usize = 16 * 1024 * 1024;

/// The socket's path inside the master's `sock_dir`.
pub fn socket_path(sock_dir: &Path) -> PathBuf {
    sock_dir.join("master.sock")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ClientRequest {
    /// Publish a job. With `watch`, the reply stream continues with every event
    /// of the job (acks, heartbeats, returns) until the client hangs up.
    Publish { job: JobRequest, watch: bool },
    /// Stream every event whose tag matches the glob (all when `None`).
    Events { tag_glob: Option<String> },
    /// Run a runner function on the master.
    Runner {
        fun: String,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    },
    /// Change or read keys.
    Keys(KeyCommand),
    /// Fire an event on the master bus (e.g. `salt/netapi/hook/...` from
    /// `brine-api`). Answered with `Fired`.
    FireEvent { tag: String, data: Value },
    /// Which accepted minions does a target match, as a publication of it
    /// would expect them (see `jobs::expected_minions`)? Answered with
    /// `Matched`; nodegroups are expanded first.
    Match { tgt: Value, tgt_type: TargetType },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobRequest {
    pub tgt: Value,
    pub tgt_type: TargetType,
    pub fun: String,
    pub arg: Vec<Value>,
    pub kwarg: Map<String, Value>,
    /// Filled in by the master from the caller's peer credentials; a caller
    /// running as the master's user may name the user it acts for.
    pub user: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum KeyCommand {
    List,
    Accept {
        pattern: String,
        include_rejected: bool,
        include_denied: bool,
    },
    Reject {
        pattern: String,
        include_accepted: bool,
        include_denied: bool,
    },
    Delete {
        pattern: String,
    },
    Fingerprints {
        pattern: String,
    },
    /// Accept exactly this key (Ed25519 public key, PEM) as `id`'s: stored
    /// accepted when the id has no key, moved when it is pending; refused
    /// when the id holds another key (`brine-ssh --bootstrap`).
    AcceptKey {
        id: String,
        key: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ClientReply {
    Published {
        jid: Jid,
        minions: Vec<MinionId>,
        /// Expected minions with no live session at publish time.
        not_connected: Vec<MinionId>,
    },
    /// The target matched no minion: nothing was published.
    NoMinions,
    Event(Event),
    /// Events were lost because this subscriber fell behind. The first
    /// reply to `Events` is `Lagged(0)`: the subscription is live.
    Lagged(u64),
    RunnerResult {
        ret: Value,
        retcode: i32,
    },
    Keys(KeyReply),
    /// The event of a `FireEvent` request is on the bus.
    Fired,
    Matched {
        minions: Vec<MinionId>,
    },
    Error {
        message: String,
    },
    /// `publisher_acl` refused this user the job: Salt's CLI prints the
    /// message as the command's output, not as an error.
    Refused {
        message: String,
    },
}

impl ClientReply {
    /// The encoded `ClientReply::Event` of an event whose data is already
    /// msgpack (as the master's bus keeps it): the bytes `frame::encode`
    /// gives for the unpacked event, without unpacking the data and packing
    /// it again for every subscriber.
    pub fn encoded_event(tag: &str, packed_data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(tag.len() + packed_data.len() + 24);
        // Writing to a Vec cannot fail.
        let _ = rmp::encode::write_map_len(&mut out, 1);
        let _ = rmp::encode::write_str(&mut out, "Event");
        let _ = rmp::encode::write_map_len(&mut out, 2);
        let _ = rmp::encode::write_str(&mut out, "tag");
        let _ = rmp::encode::write_str(&mut out, tag);
        let _ = rmp::encode::write_str(&mut out, "data");
        out.extend_from_slice(packed_data);
        out
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum KeyReply {
    /// Salt's key-state names (`minions`, `minions_pre`, ...) to ids, and
    /// the entries of the key directories that are not key files.
    Listing {
        keys: Map<String, Value>,
        #[serde(default)]
        stray: Vec<String>,
    },
    /// The ids a command changed, under the state they are now in.
    Changed(Map<String, Value>),
    /// State name -> id -> fingerprint, plus `local` for the master's own key.
    Fingerprints(Map<String, Value>),
}

impl KeyReply {
    /// The map every kind of key reply carries.
    pub fn into_map(self) -> Map<String, Value> {
        match self {
            KeyReply::Listing { keys, .. } => keys,
            KeyReply::Changed(map) | KeyReply::Fingerprints(map) => map,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_with_packed_data_is_encoded_as_its_unpacked_event_would_be() {
        let event = Event::new(
            "salt/job/20261121234019509933/ret/m1",
            json!({"return": {"nested": [1, 2.5, null]}, "id": "m1", "retcode": 0}),
        );
        let expected =
            brine_common::frame::encode(&ClientReply::Event(event.clone())).expect("encode");
        let packed = rmp_serde::to_vec_named(&event.data).expect("pack");
        let encoded = ClientReply::encoded_event(&event.tag, &packed);
        assert_eq!(encoded, expected);
        let decoded: ClientReply =
            brine_common::frame::decode(&encoded, usize::MAX).expect("decode");
        assert!(matches!(decoded, ClientReply::Event(e) if e == event));
    }

    #[test]
    fn every_key_reply_gives_its_map() {
        let mut map = Map::new();
        map.insert("minions".into(), json!(["m1"]));
        let listing = KeyReply::Listing {
            keys: map.clone(),
            stray: vec!["junk".into()],
        };
        assert_eq!(listing.into_map(), map);
        assert_eq!(KeyReply::Changed(map.clone()).into_map(), map);
        assert_eq!(KeyReply::Fingerprints(map.clone()).into_map(), map);
    }
}
