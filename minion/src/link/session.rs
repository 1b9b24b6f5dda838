//! One established session on the request channel: sealing requests with
//! fresh counters, opening replies (refusing replayed ones), and knowing who
//! waits for which reply. No sockets here; the connection task moves the
//! frames.

use std::collections::HashMap;

use brine_common::crypto::{Direction, ReplayWindow, SessionCipher};
use brine_common::wire::{Reply, Request, SealedFrame, SessionReply, SessionRequest};
use tokio::sync::oneshot;

/// An established session.
pub(super) struct Session {
    pub(super) id: u64,
    cipher: SessionCipher,
    next_out: u64,
    /// Counters of the master's replies seen so far (0 was the grant).
    replies: ReplayWindow,
}

/// Who is waiting for a reply.
pub(super) enum Waiter {
    Caller(oneshot::Sender<Reply>),
    /// The link's own requests (ping, key refresh, catch-up).
    Link,
}

impl Session {
    /// A session whose grant (the master's counter 0) was just opened.
    pub(super) fn new(id: u64, cipher: SessionCipher) -> Self {
        Session {
            id,
            cipher,
            next_out: 1,
            replies: ReplayWindow::starting_at(0),
        }
    }

    /// Seal request `req_id` under the next counter (spent even if sealing
    /// fails, so a counter is never used twice).
    pub(super) fn seal_request(&mut self, req_id: u64, body: Request) -> Option<SealedFrame> {
        let counter = self.next_out;
        self.next_out += 1;
        SealedFrame::seal(
            &self.cipher,
            Direction::ToMaster,
            self.id,
            counter,
            &SessionRequest { req_id, body },
        )
        .ok()
    }

    /// Decrypt a reply; refuse replayed counters from the master's side too.
    pub(super) fn open_reply(&mut self, sealed: &SealedFrame, cap: usize) -> Option<SessionReply> {
        if !self.replies.is_fresh(sealed.counter) {
            tracing::warn!(counter = sealed.counter, "refusing a replayed reply");
            return None;
        }
        let reply: SessionReply = sealed
            .open(&self.cipher, Direction::ToMinion, cap)
            .map_err(|e| tracing::warn!("refusing a reply that does not decrypt: {e}"))
            .ok()?;
        self.replies.record(sealed.counter);
        Some(reply)
    }
}

/// The requests sent on a session and not answered yet, by request id.
#[derive(Default)]
pub(super) struct Waiting(HashMap<u64, Waiter>);

impl Waiting {
    pub(super) fn insert(&mut self, req_id: u64, waiter: Waiter) {
        self.0.insert(req_id, waiter);
    }

    /// Who waits for `reply`, if anyone still does (each reply is taken once).
    pub(super) fn take(&mut self, reply: &SessionReply) -> Option<Waiter> {
        self.0.remove(&reply.req_id)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use brine_common::crypto::Ephemeral;
    use brine_common::wire::{MasterFrame, MinionFrame};

    use super::*;

    const CAP: usize = 1 << 20;

    /// The master's end of a session: opens requests, seals replies.
    pub(in crate::link) struct MasterEnd {
        pub(in crate::link) id: u64,
        cipher: SessionCipher,
        next_out: u64,
    }

    impl MasterEnd {
        /// Open a request the minion sent.
        pub(in crate::link) fn open(&self, frame: &MinionFrame) -> SessionRequest {
            let MinionFrame::Session(sealed) = frame else {
                panic!("expected a session frame, got {frame:?}");
            };
            sealed
                .open(&self.cipher, Direction::ToMaster, CAP)
                .expect("the master opens the request")
        }

        /// Seal the answer to request `req_id`.
        pub(in crate::link) fn answer(&mut self, req_id: u64, body: Reply) -> MasterFrame {
            let counter = self.next_out;
            self.next_out += 1;
            let sealed = SealedFrame::seal(
                &self.cipher,
                Direction::ToMinion,
                self.id,
                counter,
                &SessionReply { req_id, body },
            )
            .expect("seal");
            MasterFrame::Session(sealed)
        }
    }

    /// Both ends of a fresh session, keyed as the handshake keys them.
    pub(in crate::link) fn session_pair(id: u64) -> (Session, MasterEnd) {
        let minion = Ephemeral::generate().expect("eph");
        let master = Ephemeral::generate().expect("eph");
        let (minion_pub, master_pub) = (minion.public(), master.public());
        let nonce = [7u8; 32];
        let minion_cipher = minion
            .derive_session(&master_pub, &nonce, b"info")
            .expect("derive");
        let master_cipher = master
            .derive_session(&minion_pub, &nonce, b"info")
            .expect("derive");
        let end = MasterEnd {
            id,
            cipher: master_cipher,
            next_out: 1,
        };
        (Session::new(id, minion_cipher), end)
    }

    fn sealed(frame: MasterFrame) -> SealedFrame {
        match frame {
            MasterFrame::Session(s) => s,
            other => panic!("expected a session frame, got {other:?}"),
        }
    }

    #[test]
    fn requests_use_fresh_counters_and_replies_open_once() {
        let (mut session, mut master) = session_pair(3);
        let first = session.seal_request(10, Request::Ping).expect("seal");
        let second = session.seal_request(11, Request::Ping).expect("seal");
        assert_eq!((first.counter, second.counter), (1, 2));
        let req = master.open(&MinionFrame::Session(first));
        assert_eq!(req.req_id, 10);

        let reply = sealed(master.answer(10, Reply::Ok));
        assert_eq!(session.open_reply(&reply, CAP).map(|r| r.req_id), Some(10));
        assert!(
            session.open_reply(&reply, CAP).is_none(),
            "a replayed reply is refused"
        );
    }

    #[test]
    fn replies_may_overtake_each_other_but_not_repeat() {
        let (mut session, mut master) = session_pair(3);
        let early = sealed(master.answer(1, Reply::Ok));
        let late = sealed(master.answer(2, Reply::Ok));
        assert!(session.open_reply(&late, CAP).is_some());
        assert!(session.open_reply(&early, CAP).is_some());
        assert!(session.open_reply(&early, CAP).is_none());
        assert!(session.open_reply(&late, CAP).is_none());
    }

    #[test]
    fn a_reply_that_does_not_decrypt_is_refused_and_does_not_spend_its_counter() {
        let (mut session, mut master) = session_pair(3);
        let good = sealed(master.answer(1, Reply::Ok));
        let mut bad = good.clone();
        bad.ct[0] ^= 1;
        assert!(session.open_reply(&bad, CAP).is_none());
        assert!(session.open_reply(&good, CAP).is_some());
    }

    #[test]
    fn each_reply_goes_to_whoever_waits_for_its_request_once() {
        let (mut session, mut master) = session_pair(3);
        let mut waiting = Waiting::default();
        let (tx_a, mut rx_a) = oneshot::channel();
        let (tx_b, mut rx_b) = oneshot::channel();
        waiting.insert(1, Waiter::Caller(tx_a));
        waiting.insert(2, Waiter::Caller(tx_b));
        waiting.insert(3, Waiter::Link);
        // Answers in another order than asked.
        for (req_id, body) in [
            (2, Reply::Ok),
            (3, Reply::Ok),
            (1, Reply::Pillar(Default::default())),
        ] {
            let reply = session
                .open_reply(&sealed(master.answer(req_id, body)), CAP)
                .expect("open");
            match waiting.take(&reply) {
                Some(Waiter::Caller(tx)) => tx.send(reply.body).expect("caller waits"),
                Some(Waiter::Link) => assert_eq!(req_id, 3),
                None => panic!("request {req_id} had a waiter"),
            }
        }
        assert!(matches!(rx_a.try_recv(), Ok(Reply::Pillar(_))));
        assert!(matches!(rx_b.try_recv(), Ok(Reply::Ok)));
        // A second answer to a request already answered finds nobody.
        let again = session
            .open_reply(&sealed(master.answer(1, Reply::Ok)), CAP)
            .expect("open");
        assert!(waiting.take(&again).is_none());
    }
}
