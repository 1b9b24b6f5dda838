//! Requests about the publication channel: liveness (`Ping`), the current
//! publish key after a rotation, and the publications a minion missed.

use brine_common::ids::MinionId;
use brine_common::wire::Reply;

use crate::publisher::Publisher;

/// Liveness, answered with the publication stream's current state.
pub(super) fn ping(publisher: &Publisher, minion: &MinionId) -> Reply {
    Reply::Pong(publisher.grant_state(minion).1)
}

/// The current publish key and stream state.
pub(super) fn publish_key(publisher: &Publisher, minion: &MinionId) -> Reply {
    let (key, state) = publisher.grant_state(minion);
    Reply::PublishKey {
        key: key.as_bytes().to_vec(),
        state,
    }
}

/// The publications `minion` may see above the sequences it names.
pub(super) fn catch_up(
    publisher: &Publisher,
    minion: &MinionId,
    run: u64,
    broadcast_after: u64,
    own_after: u64,
) -> Reply {
    Reply::CatchUp(publisher.catch_up(minion, run, broadcast_after, own_after))
}
