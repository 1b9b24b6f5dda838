//! A minion's grains, which it sends after every authentication and when
//! they change, kept in the minion data cache for targeting.

use brine_common::ids::MinionId;
use brine_common::wire::Reply;
use serde_json::{Map, Value};

use super::cache_unavailable;
use crate::job_cache::JobCache;
use crate::minion_data::MinionData;

/// Keep `minion`'s grains for targeting (`salt/minion/...` data cache).
pub(super) fn store(
    minion_data: &MinionData,
    cache: &dyn JobCache,
    minion: &MinionId,
    grains: Map<String, Value>,
) -> Reply {
    // The cache write is queued for the next batch: no waiting on the disk.
    match minion_data.set_grains(cache, minion, grains) {
        Ok(()) => Reply::Ok,
        Err(e) => {
            tracing::error!("cannot store {minion}'s data: {e}");
            cache_unavailable()
        }
    }
}
