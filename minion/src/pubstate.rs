//! Where the minion stands in the master's publish stream, kept on disk so a
//! restarted minion can fetch what it missed while it was down.
//!
//! Per master run: the last broadcast sequence and the last sequence on the
//! minion's own topic. A publication at or below them is a replay; one above
//! `last + 1` reveals a gap to catch up.

use std::path::{Path, PathBuf};

use brine_common::crypto::write_file;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamPosition {
    pub run: u64,
    pub broadcast: u64,
    pub own: u64,
}

/// What a newly seen sequence means.
#[derive(Debug, PartialEq, Eq)]
pub enum SeqVerdict {
    /// Next in line: process it.
    InOrder,
    /// Something before it was missed: fetch everything after `after` first.
    Gap { after: u64 },
    /// Already seen: drop it.
    Replay,
}

impl StreamPosition {
    fn last(&mut self, own: bool) -> &mut u64 {
        if own {
            &mut self.own
        } else {
            &mut self.broadcast
        }
    }

    /// Judge `seq` on the broadcast (`own == false`) or own topic, without
    /// recording it.
    pub fn classify(&mut self, own: bool, seq: u64) -> SeqVerdict {
        let last = *self.last(own);
        if seq <= last {
            SeqVerdict::Replay
        } else if seq == last + 1 {
            SeqVerdict::InOrder
        } else {
            SeqVerdict::Gap { after: last }
        }
    }

    /// Record `seq` as processed; false when it was already (a replay).
    pub fn advance(&mut self, own: bool, seq: u64) -> bool {
        let last = self.last(own);
        if seq <= *last {
            return false;
        }
        *last = seq;
        true
    }
}

/// The persisted position, if the minion ever had one.
pub struct PositionFile {
    path: Option<PathBuf>,
}

impl PositionFile {
    /// `None` keeps the position in memory only (e.g. for simulated minions).
    pub fn new(cachedir: Option<&Path>) -> Self {
        PositionFile {
            path: cachedir.map(|d| d.join("pubstate")),
        }
    }

    pub fn load(&self) -> Option<StreamPosition> {
        let bytes = std::fs::read(self.path.as_ref()?).ok()?;
        rmp_serde::from_slice(&bytes).ok()
    }

    pub fn save(&self, pos: &StreamPosition) {
        let Some(path) = &self.path else { return };
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        match rmp_serde::to_vec_named(pos) {
            Ok(bytes) => {
                if let Err(e) = write_file(path, &bytes, 0o600) {
                    tracing::warn!("cannot save the publish position: {e}");
                }
            }
            Err(e) => tracing::warn!("cannot encode the publish position: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_detect_replays_and_gaps() {
        let mut p = StreamPosition::default();
        assert_eq!(p.classify(false, 1), SeqVerdict::InOrder);
        assert!(p.advance(false, 1));
        assert_eq!(p.classify(false, 1), SeqVerdict::Replay);
        assert!(!p.advance(false, 1));
        assert_eq!(p.classify(false, 4), SeqVerdict::Gap { after: 1 });
        assert_eq!(p.classify(true, 1), SeqVerdict::InOrder);
    }

    #[test]
    fn position_survives_a_restart() {
        let dir = tempfile::tempdir().expect("tmp");
        let f = PositionFile::new(Some(dir.path()));
        assert!(f.load().is_none());
        let pos = StreamPosition {
            run: 9,
            broadcast: 3,
            own: 1,
        };
        f.save(&pos);
        assert_eq!(PositionFile::new(Some(dir.path())).load(), Some(pos));
    }
}
