//! The minion's view of the master's publish stream, and every decision the
//! link takes about it, without sockets: which publication to deliver, which
//! to refuse, when to ask the master for the publish key again (a new key
//! epoch or master run) and what to catch up on (a gap, a restart, a
//! subscriber that fell behind).
//!
//! The link's tasks hold one [`Tracker`] behind a lock, feed it what the
//! sockets bring, and act on its answers (send a request, deliver
//! publications, save the position), so the rules here can be tested by
//! plain calls.

use brine_common::crypto::{PublicKey, PublishKey, VerifiedSignatures};
use brine_common::wire::{
    Grant, PubEnvelope, Publication, PublishState, Published, Reply, Request, SignedBlob,
    TOPIC_BROADCAST,
};

use brine_common::jid::jid_micros;

use crate::pubstate::{SeqVerdict, StreamPosition};

/// Publish-stream state shared by the link's two tasks.
pub(super) struct Tracker {
    /// The pinned master key; publications are verified against it.
    pub(super) master_pub: Option<PublicKey>,
    /// The current publish key, from the grant or the last key refresh.
    pub(super) key: Option<PublishKey>,
    /// The epoch of `key`.
    pub(super) epoch: u64,
    pub(super) pos: StreamPosition,
    /// Whether `pos` means anything yet (false for a brand-new minion).
    pub(super) known: bool,
    /// Publications older than this (jid microseconds) are not delivered
    /// from the catch-up of a stream the minion joins without a position in
    /// it: another master's, after a failover. That master's window holds
    /// jobs from long before, which this minion ran already through its
    /// former master (or before a restart, when it no longer remembers
    /// their jids). A job published again to minions that missed it
    /// (`resent_to`) is kept.
    floor: i64,
}

/// How far before the newest publication a minion ran a publication of a
/// newly joined stream may be and still be delivered: the relay between
/// masters and their clocks put jobs published at nearly the same time in
/// different orders on different masters.
const JOIN_MARGIN_MICROS: i64 = 60_000_000;

/// What to do with one publish frame.
#[derive(Debug)]
pub(super) enum Verdict {
    /// Next in line, checked and decrypted; the position has advanced past it.
    Deliver(Box<Publication>),
    /// A gap, a new key epoch or a new master run: the connection task must
    /// refresh the publish key and catch up (which fetches this one too).
    Resync,
    /// Not taken, for this reason.
    Refuse(Refusal),
}

/// Why a publish frame was not taken.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// No master key is pinned yet, so nothing can be verified.
    NoMasterKey,
    /// The signature is not the pinned master's.
    NotTheMasters(String),
    /// Not for this minion, or the frame's topic is not the signed one.
    OtherTopic,
    /// Already delivered (or older than what was).
    Replay { seq: u64 },
    /// No publish key yet to decrypt with.
    NoPublishKey,
    /// The signature is good but the content does not decrypt.
    DoesNotDecrypt(String),
}

impl Refusal {
    /// Say why a publication was dropped (the silent cases are expected
    /// while the link is still starting).
    pub(super) fn log(&self) {
        match self {
            Refusal::NoMasterKey | Refusal::NoPublishKey => {}
            Refusal::NotTheMasters(e) => {
                tracing::warn!("dropping a publication that is not the master's: {e}")
            }
            Refusal::OtherTopic => tracing::warn!("dropping a publication for another topic"),
            Refusal::Replay { seq } => tracing::warn!(seq, "dropping a replayed publication"),
            Refusal::DoesNotDecrypt(e) => {
                tracing::warn!("dropping a publication that does not decrypt: {e}")
            }
        }
    }
}

/// What to do after the answer to one of the link's own requests.
#[derive(Debug)]
pub(super) enum FollowUp {
    Nothing,
    /// Send this request (a key refresh or a catch-up).
    Send(Request),
    /// These caught-up publications are next, in order; the position has
    /// advanced past them.
    Deliver(Vec<Publication>),
}

impl Tracker {
    /// The state at start: a pinned key if one was saved, and the saved
    /// position if there is one.
    pub(super) fn new(master_pub: Option<PublicKey>, saved: Option<StreamPosition>) -> Self {
        Tracker {
            master_pub,
            key: None,
            epoch: 0,
            pos: saved.unwrap_or_default(),
            known: saved.is_some(),
            floor: 0,
        }
    }

    /// Take a new session's grant (its key and where the stream stands);
    /// returns a catch-up request if the minion is behind.
    pub(super) fn adopt_grant(&mut self, grant: &Grant) -> Option<Request> {
        self.key = PublishKey::from_bytes(&grant.publish_key).ok();
        self.epoch = grant.state.epoch;
        let g = &grant.state;
        if !self.known {
            // A brand-new minion starts where the stream stood when its key was
            // accepted (jobs since then were meant for it), else at the present.
            let (broadcast, own) = grant.accepted_at.unwrap_or((g.broadcast_seq, g.own_seq));
            self.pos = StreamPosition {
                run: g.run,
                broadcast,
                own,
                newest: self.pos.newest,
            };
            self.known = true;
            self.catch_up_if_behind(g)
        } else if self.pos.run != g.run {
            // The master restarted, or this is another master's stream: all
            // of the run is new to us, but what another master's window
            // holds from well before what we ran last is not.
            if self.pos.newest > 0 {
                self.floor = self.pos.newest - JOIN_MARGIN_MICROS;
            }
            self.pos = StreamPosition {
                run: g.run,
                broadcast: 0,
                own: 0,
                newest: self.pos.newest,
            };
            Some(catch_up_request(&self.pos))
        } else {
            self.catch_up_if_behind(g)
        }
    }

    /// React to the answer to one of the link's own requests (ping, key
    /// refresh, catch-up).
    pub(super) fn on_link_reply(&mut self, reply: Reply) -> FollowUp {
        let next = match reply {
            Reply::Pong(state) if state.epoch != self.epoch => Some(Request::GetPublishKey),
            // The PUB socket dropped something (slow subscriber): fetch it.
            Reply::Pong(state) => self.catch_up_if_behind(&state),
            Reply::PublishKey { key, state } => {
                self.key = PublishKey::from_bytes(&key).ok();
                self.epoch = state.epoch;
                self.catch_up_if_behind(&state)
            }
            Reply::CatchUp(list) => return FollowUp::Deliver(self.take_caught_up(list)),
            // Answers meant for callers never come back as the link's own.
            Reply::Ok
            | Reply::Refused { .. }
            | Reply::FileEnvs(_)
            | Reply::FileList(_)
            | Reply::FileChunk { .. }
            | Reply::Pillar(_)
            | Reply::Mine(_) => None,
        };
        next.map_or(FollowUp::Nothing, FollowUp::Send)
    }

    /// The publications of a catch-up answer not delivered yet, in order.
    fn take_caught_up(&mut self, list: Vec<Published>) -> Vec<Publication> {
        let taken: Vec<Publication> = list
            .into_iter()
            .filter(|p| self.pos.advance(p.topic != TOPIC_BROADCAST, p.seq))
            .map(|p| p.publication)
            .filter(|p| {
                let new_enough = jid_micros(&p.jid).is_none_or(|t| t >= self.floor);
                if !new_enough && p.resent_to.is_none() {
                    tracing::debug!(jid = %p.jid, "not catching up on a job from before joining this stream");
                }
                new_enough || p.resent_to.is_some()
            })
            .collect();
        for p in &taken {
            self.saw(p);
        }
        taken
    }

    /// Note when `publication` was published, for [`StreamPosition::newest`].
    fn saw(&mut self, publication: &Publication) {
        if let Some(t) = jid_micros(&publication.jid) {
            self.pos.newest = self.pos.newest.max(t);
        }
    }

    /// Check and take in one publish frame: `topic` is its first part,
    /// `blob` the decoded second. `verified` remembers signatures already
    /// checked (a swarm's minions all receive the same publications).
    pub(super) fn judge_publication(
        &mut self,
        own_topic: &str,
        topic: &[u8],
        blob: &SignedBlob,
        cap: usize,
        verified: Option<&VerifiedSignatures>,
    ) -> Verdict {
        let Some(master_pub) = self.master_pub else {
            return Verdict::Refuse(Refusal::NoMasterKey);
        };
        let opened = match verified {
            Some(verified) => blob.open_remembered(&master_pub, verified, cap),
            None => blob.open(&master_pub, cap),
        };
        let env: PubEnvelope = match opened {
            Ok(env) => env,
            Err(e) => return Verdict::Refuse(Refusal::NotTheMasters(e.to_string())),
        };
        let for_us = env.topic == TOPIC_BROADCAST || env.topic == own_topic;
        if !for_us || topic != env.topic.as_bytes() {
            return Verdict::Refuse(Refusal::OtherTopic);
        }
        if env.run != self.pos.run || env.epoch != self.epoch {
            return Verdict::Resync;
        }
        let own = env.topic != TOPIC_BROADCAST;
        match self.pos.classify(own, env.seq) {
            SeqVerdict::Replay => Verdict::Refuse(Refusal::Replay { seq: env.seq }),
            // Fetch the gap and this one, in order, through the session.
            SeqVerdict::Gap { .. } => Verdict::Resync,
            SeqVerdict::InOrder => {
                let Some(key) = &self.key else {
                    return Verdict::Refuse(Refusal::NoPublishKey);
                };
                match env.open(key, cap) {
                    Ok(publication) => {
                        self.pos.advance(own, env.seq);
                        self.saw(&publication);
                        Verdict::Deliver(Box::new(publication))
                    }
                    Err(e) => Verdict::Refuse(Refusal::DoesNotDecrypt(e.to_string())),
                }
            }
        }
    }

    fn catch_up_if_behind(&self, state: &PublishState) -> Option<Request> {
        behind(&self.pos, state).then(|| catch_up_request(&self.pos))
    }
}

fn behind(pos: &StreamPosition, state: &PublishState) -> bool {
    state.broadcast_seq > pos.broadcast || state.own_seq > pos.own
}

fn catch_up_request(pos: &StreamPosition) -> Request {
    Request::CatchUp {
        run: pos.run,
        broadcast_after: pos.broadcast,
        own_after: pos.own,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use brine_common::crypto::Identity;
    use brine_common::ids::{Jid, MinionId};
    use brine_common::target::TargetType;
    use brine_common::wire::{TargetSpec, minion_topic};
    use serde_json::json;

    use super::*;

    pub(in crate::link) const CAP: usize = 1 << 20;
    pub(in crate::link) const RUN: u64 = 7;
    pub(in crate::link) const EPOCH: u64 = 1;

    /// A master as the tracker sees it: a signing identity and a publish key.
    pub(in crate::link) struct FakeMaster {
        pub(in crate::link) identity: Identity,
        pub(in crate::link) key: PublishKey,
    }

    impl FakeMaster {
        pub(in crate::link) fn new() -> Self {
            FakeMaster {
                identity: Identity::generate().expect("identity"),
                key: PublishKey::generate().expect("publish key"),
            }
        }

        pub(in crate::link) fn grant(&self, state: PublishState) -> Grant {
            Grant {
                publish_key: self.key.as_bytes().to_vec(),
                state,
                publish_port: 4505,
                accepted_at: None,
            }
        }

        /// The signed envelope of publication `seq` on `topic`.
        pub(in crate::link) fn publish(
            &self,
            (run, epoch): (u64, u64),
            topic: &str,
            seq: u64,
        ) -> SignedBlob {
            PubEnvelope::seal_and_sign(
                &self.identity,
                &self.key,
                (run, epoch, seq),
                topic,
                &publication(seq),
            )
            .expect("seal")
        }
    }

    /// A publication told apart by its function's name (`test.<n>`).
    pub(in crate::link) fn publication(n: u64) -> Publication {
        Publication {
            jid: Jid::parse("20261121234019509933").expect("jid"),
            tgt: TargetSpec {
                tgt: json!("*"),
                tgt_type: TargetType::Glob,
            },
            fun: format!("test.{n}"),
            arg: vec![],
            kwarg: Default::default(),
            user: "root".into(),
            resent_to: None,
        }
    }

    pub(in crate::link) fn state(broadcast_seq: u64, own_seq: u64) -> PublishState {
        PublishState {
            run: RUN,
            epoch: EPOCH,
            broadcast_seq,
            own_seq,
        }
    }

    pub(in crate::link) fn own_topic() -> String {
        minion_topic(&MinionId::parse("m1").expect("id"))
    }

    /// A tracker that pinned `master` and took its grant at `pos` in run `RUN`.
    pub(in crate::link) fn synced(master: &FakeMaster, broadcast: u64, own: u64) -> Tracker {
        let pos = StreamPosition {
            run: RUN,
            broadcast,
            own,
            newest: 0,
        };
        let mut t = Tracker::new(Some(master.identity.public()), Some(pos));
        assert!(
            t.adopt_grant(&master.grant(state(broadcast, own)))
                .is_none()
        );
        t
    }

    fn judge(t: &mut Tracker, topic: &str, blob: &SignedBlob) -> Verdict {
        t.judge_publication(&own_topic(), topic.as_bytes(), blob, CAP, None)
    }

    fn fun_of(v: Verdict) -> String {
        match v {
            Verdict::Deliver(p) => p.fun,
            other => panic!("expected a delivery, got {other:?}"),
        }
    }

    fn catch_up(run: u64, broadcast_after: u64, own_after: u64) -> Request {
        Request::CatchUp {
            run,
            broadcast_after,
            own_after,
        }
    }

    /// Requests have no `PartialEq`; their debug form tells them apart.
    fn same(a: Option<Request>, b: Option<Request>) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    #[test]
    fn publications_in_order_are_delivered_once() {
        let master = FakeMaster::new();
        let mut t = synced(&master, 0, 0);
        let first = master.publish((RUN, EPOCH), TOPIC_BROADCAST, 1);
        assert_eq!(fun_of(judge(&mut t, TOPIC_BROADCAST, &first)), "test.1");
        let second = master.publish((RUN, EPOCH), TOPIC_BROADCAST, 2);
        assert_eq!(fun_of(judge(&mut t, TOPIC_BROADCAST, &second)), "test.2");
        // The minion's own topic counts on its own.
        let own = master.publish((RUN, EPOCH), &own_topic(), 1);
        assert_eq!(fun_of(judge(&mut t, &own_topic(), &own)), "test.1");
        assert_eq!(
            t.pos,
            StreamPosition {
                run: RUN,
                broadcast: 2,
                own: 1,
                newest: jid_micros(&publication(1).jid).expect("a jid's time"),
            }
        );
        // Receiving one again delivers nothing.
        assert!(matches!(
            judge(&mut t, TOPIC_BROADCAST, &second),
            Verdict::Refuse(Refusal::Replay { seq: 2 })
        ));
    }

    #[test]
    fn replayed_and_old_publications_are_refused() {
        let master = FakeMaster::new();
        let mut t = synced(&master, 5, 0);
        for seq in [1, 5] {
            let old = master.publish((RUN, EPOCH), TOPIC_BROADCAST, seq);
            assert!(matches!(
                judge(&mut t, TOPIC_BROADCAST, &old),
                Verdict::Refuse(Refusal::Replay { seq: s }) if s == seq
            ));
        }
        assert_eq!(t.pos.broadcast, 5, "a refused publication moves nothing");
    }

    #[test]
    fn a_gap_asks_for_a_resync_and_the_catch_up_fills_it_in_order_once() {
        let master = FakeMaster::new();
        let mut t = synced(&master, 1, 0);
        let third = master.publish((RUN, EPOCH), TOPIC_BROADCAST, 4);
        assert!(matches!(
            judge(&mut t, TOPIC_BROADCAST, &third),
            Verdict::Resync
        ));
        assert_eq!(t.pos.broadcast, 1, "nothing past the gap is taken");
        // The connection task refreshes the key; the answer says what to fetch.
        let reply = Reply::PublishKey {
            key: master.key.as_bytes().to_vec(),
            state: state(4, 0),
        };
        let FollowUp::Send(request) = t.on_link_reply(reply) else {
            panic!("a key refresh that shows a gap must ask for a catch-up");
        };
        assert!(same(Some(request), Some(catch_up(RUN, 1, 0))));
        // The answer may repeat what the minion has (1) or list one twice.
        let listed = [1, 2, 3, 3, 4].map(|seq| Published {
            topic: TOPIC_BROADCAST.into(),
            seq,
            publication: publication(seq),
        });
        let FollowUp::Deliver(list) = t.on_link_reply(Reply::CatchUp(listed.to_vec())) else {
            panic!("a catch-up answer delivers");
        };
        let funs: Vec<_> = list.into_iter().map(|p| p.fun).collect();
        assert_eq!(funs, ["test.2", "test.3", "test.4"]);
        // The publication that revealed the gap, arriving late, is not run twice.
        assert!(matches!(
            judge(&mut t, TOPIC_BROADCAST, &third),
            Verdict::Refuse(Refusal::Replay { seq: 4 })
        ));
        // Nor is a second copy of the catch-up.
        let FollowUp::Deliver(again) = t.on_link_reply(Reply::CatchUp(listed.to_vec())) else {
            panic!("a catch-up answer delivers");
        };
        assert!(again.is_empty());
    }

    #[test]
    fn a_pong_that_shows_missed_publications_asks_for_them() {
        let master = FakeMaster::new();
        let mut t = synced(&master, 3, 2);
        assert!(matches!(
            t.on_link_reply(Reply::Pong(state(3, 2))),
            FollowUp::Nothing
        ));
        let FollowUp::Send(request) = t.on_link_reply(Reply::Pong(state(3, 5))) else {
            panic!("a pong ahead of the minion asks for a catch-up");
        };
        assert!(same(Some(request), Some(catch_up(RUN, 3, 2))));
    }

    #[test]
    fn a_new_key_epoch_is_fetched_then_followed() {
        let master = FakeMaster::new();
        let mut t = synced(&master, 2, 0);
        // The master rotated its key: a publication of the new epoch, or a
        // pong naming it, makes the link fetch the key first.
        let rotated = FakeMaster {
            identity: master.identity,
            key: PublishKey::generate().expect("key"),
        };
        let next = rotated.publish((RUN, EPOCH + 1), TOPIC_BROADCAST, 3);
        assert!(matches!(
            judge(&mut t, TOPIC_BROADCAST, &next),
            Verdict::Resync
        ));
        let new_state = PublishState {
            epoch: EPOCH + 1,
            ..state(3, 0)
        };
        let FollowUp::Send(Request::GetPublishKey) =
            t.on_link_reply(Reply::Pong(new_state.clone()))
        else {
            panic!("a pong of another epoch asks for the key");
        };
        let FollowUp::Send(request) = t.on_link_reply(Reply::PublishKey {
            key: rotated.key.as_bytes().to_vec(),
            state: new_state,
        }) else {
            panic!("the new key's state shows publication 3 was missed");
        };
        assert!(same(Some(request), Some(catch_up(RUN, 2, 0))));
        assert_eq!(t.epoch, EPOCH + 1);
        // Later publications of the new epoch are taken directly.
        let after = rotated.publish((RUN, EPOCH + 1), TOPIC_BROADCAST, 3);
        assert_eq!(fun_of(judge(&mut t, TOPIC_BROADCAST, &after)), "test.3");
        // And one sealed under the old key, claiming the new epoch, is refused.
        let forged_epoch = rotated_with_old_key(&rotated, &master.key, 4);
        assert!(matches!(
            judge(&mut t, TOPIC_BROADCAST, &forged_epoch),
            Verdict::Refuse(Refusal::DoesNotDecrypt(_))
        ));
    }

    fn rotated_with_old_key(rotated: &FakeMaster, old: &PublishKey, seq: u64) -> SignedBlob {
        let old = PublishKey::from_bytes(old.as_bytes()).expect("key");
        PubEnvelope::seal_and_sign(
            &rotated.identity,
            &old,
            (RUN, EPOCH + 1, seq),
            TOPIC_BROADCAST,
            &publication(seq),
        )
        .expect("seal")
    }

    #[test]
    fn a_new_master_run_starts_the_stream_over_and_fetches_all_of_it() {
        let master = FakeMaster::new();
        let mut t = synced(&master, 40, 3);
        // Before the new session, publications of the new run ask for a resync.
        let early = master.publish((RUN + 1, EPOCH), TOPIC_BROADCAST, 1);
        assert!(matches!(
            judge(&mut t, TOPIC_BROADCAST, &early),
            Verdict::Resync
        ));
        let restarted = PublishState {
            run: RUN + 1,
            ..state(2, 0)
        };
        let request = t.adopt_grant(&master.grant(restarted));
        assert!(same(request, Some(catch_up(RUN + 1, 0, 0))));
        assert_eq!(
            t.pos,
            StreamPosition {
                run: RUN + 1,
                broadcast: 0,
                own: 0,
                newest: 0,
            }
        );
        // Even when the new run has published nothing yet.
        let mut t = synced(&master, 40, 3);
        let request = t.adopt_grant(&master.grant(PublishState {
            run: RUN + 1,
            ..state(0, 0)
        }));
        assert!(same(request, Some(catch_up(RUN + 1, 0, 0))));
    }

    /// A minion that joins another master's stream (a failover) catches up
    /// on what that master published since shortly before the newest job it
    /// ran, not on the older jobs of that master's window; a job published
    /// again for minions that missed it is kept whatever its age.
    #[test]
    fn joining_another_masters_stream_catches_up_on_recent_jobs_only() {
        let master = FakeMaster::new();
        let mut t = synced(&master, 5, 0);
        let ran = master.publish((RUN, EPOCH), TOPIC_BROADCAST, 6);
        assert!(matches!(
            judge(&mut t, TOPIC_BROADCAST, &ran),
            Verdict::Deliver(_)
        ));
        let newest = t.pos.newest;
        assert!(newest > 0, "delivering notes when the job was published");
        let other_run = PublishState {
            run: RUN + 1,
            ..state(4, 0)
        };
        assert!(same(
            t.adopt_grant(&master.grant(other_run)),
            Some(catch_up(RUN + 1, 0, 0))
        ));
        let at = |seq: u64, seconds_before: i64, resent: bool| {
            let mut p = publication(seq);
            p.jid = brine_common::jid::jid_for_micros(newest - seconds_before * 1_000_000);
            if resent {
                p.resent_to = Some(vec![MinionId::parse("m1").expect("id")]);
            }
            Published {
                topic: TOPIC_BROADCAST.into(),
                seq,
                publication: p,
            }
        };
        let window = vec![
            at(1, 600, false),
            at(2, 600, true),
            at(3, 30, false),
            at(4, -5, false),
        ];
        let FollowUp::Deliver(list) = t.on_link_reply(Reply::CatchUp(window)) else {
            panic!("a catch-up answer delivers");
        };
        let funs: Vec<_> = list.into_iter().map(|p| p.fun).collect();
        assert_eq!(funs, ["test.2", "test.3", "test.4"]);
        assert_eq!(
            t.pos.broadcast, 4,
            "the skipped one is behind the position too"
        );
        assert!(t.pos.newest > newest);
    }

    #[test]
    fn a_brand_new_minion_starts_where_its_key_was_accepted() {
        let master = FakeMaster::new();
        let mut fresh = Tracker::new(Some(master.identity.public()), None);
        let mut grant = master.grant(state(9, 4));
        grant.accepted_at = Some((6, 4));
        assert!(same(fresh.adopt_grant(&grant), Some(catch_up(RUN, 6, 4))));
        // Without an acceptance point it starts at the present.
        let mut fresh = Tracker::new(Some(master.identity.public()), None);
        assert!(fresh.adopt_grant(&master.grant(state(9, 4))).is_none());
        assert_eq!(
            fresh.pos,
            StreamPosition {
                run: RUN,
                broadcast: 9,
                own: 4,
                newest: 0,
            }
        );
        // A reconnect in the same run only fetches what it missed.
        assert!(same(
            fresh.adopt_grant(&master.grant(state(11, 4))),
            Some(catch_up(RUN, 9, 4))
        ));
    }

    #[test]
    fn a_publication_not_signed_by_the_pinned_master_is_dropped() {
        let master = FakeMaster::new();
        let mut t = synced(&master, 0, 0);
        let impostor = FakeMaster {
            identity: Identity::generate().expect("identity"),
            key: PublishKey::from_bytes(master.key.as_bytes()).expect("key"),
        };
        let forged = impostor.publish((RUN, EPOCH), TOPIC_BROADCAST, 1);
        assert!(matches!(
            judge(&mut t, TOPIC_BROADCAST, &forged),
            Verdict::Refuse(Refusal::NotTheMasters(_))
        ));
        // A good envelope whose signature was tampered with, likewise.
        let mut tampered = master.publish((RUN, EPOCH), TOPIC_BROADCAST, 1);
        tampered.sig[0] ^= 1;
        assert!(matches!(
            judge(&mut t, TOPIC_BROADCAST, &tampered),
            Verdict::Refuse(Refusal::NotTheMasters(_))
        ));
        assert_eq!(t.pos.broadcast, 0);
        // Nothing is trusted before a master key is pinned.
        let mut unpinned = Tracker::new(None, None);
        let good = master.publish((RUN, EPOCH), TOPIC_BROADCAST, 1);
        assert!(matches!(
            judge(&mut unpinned, TOPIC_BROADCAST, &good),
            Verdict::Refuse(Refusal::NoMasterKey)
        ));
    }

    #[test]
    fn publications_for_other_topics_are_dropped() {
        let master = FakeMaster::new();
        let mut t = synced(&master, 0, 0);
        let other = minion_topic(&MinionId::parse("m2").expect("id"));
        let theirs = master.publish((RUN, EPOCH), &other, 1);
        assert!(matches!(
            judge(&mut t, &other, &theirs),
            Verdict::Refuse(Refusal::OtherTopic)
        ));
        // A broadcast re-sent under this minion's topic frame is not taken either.
        let broadcast = master.publish((RUN, EPOCH), TOPIC_BROADCAST, 1);
        assert!(matches!(
            judge(&mut t, &own_topic(), &broadcast),
            Verdict::Refuse(Refusal::OtherTopic)
        ));
    }
}
