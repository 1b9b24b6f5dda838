//! Sessions on the request channel: the grant that opens one after an
//! accepted auth, and the notice for a frame of a session the master does
//! not know (it restarted, or expired the session), which sends the minion
//! back to authenticate.

use brine_common::crypto::{Direction, Ephemeral, Identity, random_bytes};
use brine_common::wire::{
    AuthRequest, Grant, SealedFrame, SessionOffer, SignedBlob, UnknownSessionNotice, session_info,
};

use crate::daemon::Master;
use crate::publisher::Publisher;
use crate::sessions::Sessions;

/// The parts of the master that open sessions.
pub(super) struct SessionGrants<'a> {
    pub identity: &'a Identity,
    pub publisher: &'a Publisher,
    pub sessions: &'a Sessions,
    pub publish_port: u16,
}

impl<'a> SessionGrants<'a> {
    pub(super) fn of(master: &'a Master) -> Self {
        SessionGrants {
            identity: &master.identity,
            publisher: &master.publisher,
            sessions: &master.sessions,
            publish_port: master.publish_port,
        }
    }

    /// Derive the session key, register the session and seal the grant.
    pub(super) fn open(&self, req: &AuthRequest) -> anyhow::Result<SessionOffer> {
        let eph = Ephemeral::generate()?;
        let eph_pub = eph.public();
        let info = session_info(&req.id, &req.pubkey, &self.identity.public().0);
        let cipher = eph.derive_session(&req.eph_pub, &req.nonce, &info)?;
        let session = u64::from_be_bytes(random_bytes()?);
        let (key, state) = self.publisher.grant_state(&req.id);
        let grant = Grant {
            publish_key: key.as_bytes().to_vec(),
            state,
            publish_port: self.publish_port,
            accepted_at: self.publisher.accepted_at(&req.id),
        };
        let sealed = SealedFrame::seal(&cipher, Direction::ToMinion, session, 0, &grant)?;
        self.sessions.insert(session, req.id.clone(), cipher);
        Ok(SessionOffer {
            session,
            eph_pub: eph_pub.to_vec(),
            sealed_grant: sealed.ct,
        })
    }
}

/// The master's signed word that `session` is unknown (`None`, logged, when
/// it cannot be signed).
pub(super) fn unknown_session_notice(identity: &Identity, session: u64) -> Option<SignedBlob> {
    let notice = UnknownSessionNotice { session };
    SignedBlob::sign(identity, &notice)
        .map_err(|_| tracing::warn!("cannot sign an unknown-session notice"))
        .ok()
}
