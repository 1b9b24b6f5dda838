//! The local client protocol: how `brine`, `brine-key` and `brine-run` talk to
//! the master over its Unix socket (`<sock_dir>/master.sock`, mode 0700).
//!
//! One connection carries one request. Most requests get one reply; a watched
//! publication and an event subscription get a stream of replies until the
//! client hangs up. Frames are length-prefixed msgpack (`brine_common::frame`).

use std::path::{Path, PathBuf};

use brine_common::event::Event;
use brine_common::frame::{FrameError, read_frame, write_frame};
use brine_common::ids::{Jid, MinionId};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::net::UnixStream;

/// Largest reply the CLI accepts (a job with many large returns).
pub const CLIENT_FRAME_CAP: usize = 256 * 1024 * 1024;

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
    Match { tgt: Value, tgt_type: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobRequest {
    pub tgt: Value,
    pub tgt_type: String,
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
    /// Events were lost because this subscriber fell behind.
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
}

impl ClientReply {
    /// The encoded `ClientReply::Event` of a bus event, built around its
    /// packed data: the bytes `frame::encode` gives for the unpacked event,
    /// without unpacking it and packing it again for every subscriber.
    pub fn encoded_event(event: &crate::bus::BusEvent) -> Vec<u8> {
        let data = event.packed_data();
        let mut out = Vec::with_capacity(event.tag.len() + data.len() + 24);
        // Writing to a Vec cannot fail.
        let _ = rmp::encode::write_map_len(&mut out, 1);
        let _ = rmp::encode::write_str(&mut out, "Event");
        let _ = rmp::encode::write_map_len(&mut out, 2);
        let _ = rmp::encode::write_str(&mut out, "tag");
        let _ = rmp::encode::write_str(&mut out, &event.tag);
        let _ = rmp::encode::write_str(&mut out, "data");
        out.extend_from_slice(data);
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

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the master at {path}: {source} (is brine-master running with this config dir?)"
    )]
    Connect {
        path: String,
        source: std::io::Error,
    },
    #[error("lost the connection to the master: {0}")]
    Frame(#[from] FrameError),
}

/// A connection to the master that has sent its request.
pub struct Connection {
    stream: UnixStream,
}

impl Connection {
    pub async fn open(sock_dir: &Path, request: &ClientRequest) -> Result<Self, ClientError> {
        let path = socket_path(sock_dir);
        let mut stream =
            UnixStream::connect(&path)
                .await
                .map_err(|source| ClientError::Connect {
                    path: path.display().to_string(),
                    source,
                })?;
        write_frame(&mut stream, request).await?;
        Ok(Connection { stream })
    }

    pub async fn next(&mut self) -> Result<ClientReply, ClientError> {
        Ok(read_frame(&mut self.stream, CLIENT_FRAME_CAP).await?)
    }
}

impl crate::wait::EventSource for Connection {
    async fn next_event(&mut self) -> crate::wait::Next {
        use crate::wait::Next;
        match self.next().await {
            Ok(ClientReply::Event(ev)) => Next::Event(ev),
            Ok(_) => Next::Nothing,
            Err(e) => Next::Closed(Some(e.to_string())),
        }
    }
}

/// Send one request and read its single reply.
pub async fn request(sock_dir: &Path, request: &ClientRequest) -> Result<ClientReply, ClientError> {
    Connection::open(sock_dir, request).await?.next().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::BusEvent;
    use serde_json::json;

    #[test]
    fn a_bus_event_is_encoded_as_its_unpacked_event_would_be() {
        let event = Event::new(
            "salt/job/20261121234019509933/ret/m1",
            json!({"return": {"nested": [1, 2.5, null]}, "id": "m1", "retcode": 0}),
        );
        let expected =
            brine_common::frame::encode(&ClientReply::Event(event.clone())).expect("encode");
        let encoded = ClientReply::encoded_event(&BusEvent::pack(event.clone()));
        assert_eq!(encoded, expected);
        let decoded: ClientReply =
            brine_common::frame::decode(&encoded, usize::MAX).expect("decode");
        assert!(matches!(decoded, ClientReply::Event(e) if e == event));
    }
}
