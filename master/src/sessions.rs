//! Sessions of authenticated minions on the request channel.
//!
//! A session is created by a successful auth and holds the session cipher, the
//! replay window (the highest counter seen from the minion) and the counter for
//! the master's replies. The table also answers "is this minion connected?"
//! from the time each session last sent anything.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use brine_common::crypto::{Direction, ReplayWindow, SessionCipher};
use brine_common::ids::MinionId;
use brine_common::wire::{SealedFrame, SessionReply, SessionRequest, WireError};

pub struct Session {
    pub minion: MinionId,
    cipher: SessionCipher,
    /// Counters received; a repeated or too-old one is a replay.
    requests: ReplayWindow,
    /// Counter for the next reply (0 was used for the sealed grant).
    next_out: u64,
    last_seen: Instant,
}

#[derive(Default)]
pub struct Sessions {
    inner: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    by_id: HashMap<u64, Session>,
    by_minion: HashMap<MinionId, HashSet<u64>>,
}

/// Why a sealed request was refused.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("unknown session")]
    Unknown,
    #[error("replayed or out-of-order counter {0}")]
    Replay(u64),
    #[error(transparent)]
    Wire(#[from] WireError),
}

impl Sessions {
    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Register a new session. Counter 0 to the minion is already spent (grant).
    pub fn insert(&self, session: u64, minion: MinionId, cipher: SessionCipher) {
        let mut t = self.table();
        t.by_minion
            .entry(minion.clone())
            .or_default()
            .insert(session);
        t.by_id.insert(
            session,
            Session {
                minion,
                cipher,
                requests: ReplayWindow::default(),
                next_out: 1,
                last_seen: Instant::now(),
            },
        );
    }

    /// Open a sealed request: the session must exist, the counter must be new,
    /// and the frame must decrypt. Returns the session's minion and the request.
    pub fn open(
        &self,
        frame: &SealedFrame,
        cap: usize,
    ) -> Result<(MinionId, SessionRequest), SessionError> {
        let mut t = self.table();
        let s = t
            .by_id
            .get_mut(&frame.session)
            .ok_or(SessionError::Unknown)?;
        if frame.counter == 0 || !s.requests.is_fresh(frame.counter) {
            return Err(SessionError::Replay(frame.counter));
        }
        let req: SessionRequest = frame.open(&s.cipher, Direction::ToMaster, cap)?;
        // Only an authentic frame moves the window, so garbage cannot block a session.
        s.requests.record(frame.counter);
        s.last_seen = Instant::now();
        Ok((s.minion.clone(), req))
    }

    /// Seal a reply for `session`.
    pub fn seal(&self, session: u64, reply: &SessionReply) -> Result<SealedFrame, SessionError> {
        let mut t = self.table();
        let s = t.by_id.get_mut(&session).ok_or(SessionError::Unknown)?;
        let counter = s.next_out;
        s.next_out += 1;
        SealedFrame::seal(&s.cipher, Direction::ToMinion, session, counter, reply)
            .map_err(|e| SessionError::Wire(e.into()))
    }

    /// Drop every session of `minion` (its key was deleted or rejected).
    pub fn remove_minion(&self, minion: &MinionId) {
        let mut t = self.table();
        if let Some(ids) = t.by_minion.remove(minion) {
            for id in ids {
                t.by_id.remove(&id);
            }
        }
    }

    /// Every minion with a session.
    pub fn minions(&self) -> Vec<MinionId> {
        self.table().by_minion.keys().cloned().collect()
    }

    /// Drop sessions silent for longer than `idle` (the minion went away).
    pub fn expire(&self, idle: Duration) {
        let mut t = self.table();
        let dead: Vec<(u64, MinionId)> = t
            .by_id
            .iter()
            .filter(|(_, s)| s.last_seen.elapsed() > idle)
            .map(|(id, s)| (*id, s.minion.clone()))
            .collect();
        for (id, minion) in dead {
            t.by_id.remove(&id);
            if let Some(set) = t.by_minion.get_mut(&minion) {
                set.remove(&id);
                if set.is_empty() {
                    t.by_minion.remove(&minion);
                }
            }
        }
    }

    /// Minions with a session that spoke within `within`.
    pub fn connected(&self, within: Duration) -> HashSet<MinionId> {
        self.table()
            .by_id
            .values()
            .filter(|s| s.last_seen.elapsed() <= within)
            .map(|s| s.minion.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brine_common::crypto::Ephemeral;
    use brine_common::wire::Request;

    fn pair() -> (SessionCipher, SessionCipher) {
        let (a, b) = (
            Ephemeral::generate().expect("a"),
            Ephemeral::generate().expect("b"),
        );
        let (ap, bp) = (a.public(), b.public());
        (
            a.derive_session(&bp, b"n", b"i").expect("ka"),
            b.derive_session(&ap, b"n", b"i").expect("kb"),
        )
    }

    #[test]
    fn replayed_counters_are_refused() {
        let (master_side, minion_side) = pair();
        let sessions = Sessions::default();
        let id = MinionId::parse("m1").expect("id");
        sessions.insert(7, id.clone(), master_side);
        let req = SessionRequest {
            req_id: 1,
            body: Request::Ping,
        };
        let frame = SealedFrame::seal(&minion_side, Direction::ToMaster, 7, 1, &req).expect("seal");
        assert_eq!(sessions.open(&frame, 1 << 20).expect("first").0, id);
        assert!(matches!(
            sessions.open(&frame, 1 << 20),
            Err(SessionError::Replay(1))
        ));
        let mut forged =
            SealedFrame::seal(&minion_side, Direction::ToMaster, 7, 5, &req).expect("seal");
        forged.ct[0] ^= 1;
        assert!(sessions.open(&forged, 1 << 20).is_err());
        // The forged frame did not move the window: counter 2 still works.
        let next = SealedFrame::seal(&minion_side, Direction::ToMaster, 7, 2, &req).expect("seal");
        assert!(sessions.open(&next, 1 << 20).is_ok());
        sessions.remove_minion(&id);
        assert!(matches!(
            sessions.open(&next, 1 << 20),
            Err(SessionError::Unknown)
        ));
    }
}
