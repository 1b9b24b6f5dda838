//! Auth requests: admission (a bound on how many are handled at once), the
//! signature and clock checks, the key store's decision with its `salt/auth`
//! event, and for an accepted key a new session.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use brine_common::crypto::{Identity, PublicKey};
use brine_common::event::{Event, tags};
use brine_common::frame::decode;
use brine_common::ids::MinionId;
use brine_common::wire::{AUTH_MAX_SKEW_SECS, AuthReply, AuthRequest, AuthStatus, SignedBlob};
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::PRE_AUTH_MESSAGE_CAP;
use super::session::SessionGrants;
use crate::bus::EventBus;
use crate::daemon::Master;
use crate::keys::{KeyError, KeyState, Keys};
use crate::publisher::Publisher;

/// Auth requests handled at once. Each costs a signature check, a key store
/// decision on a blocking thread (a new key is flushed to disk, which is
/// waiting rather than work, hence more than the cores) and a signed reply.
const MAX_AUTHS_IN_FLIGHT: usize = 128;

/// The memory that auth requests waiting for their turn may hold: each is
/// charged its size plus [`WAITING_AUTH_OVERHEAD`]. A fleet that starts
/// together (or reconnects after a master restart) asks all at once;
/// answering each in turn takes seconds, while a request dropped unanswered
/// costs its minion a whole `auth_timeout` before it asks again (half of a
/// 10,000-minion swarm waited 20 s that way with room for 4,160). Real auth
/// requests are about 300 bytes, so this holds some 25,000 of them; past it
/// requests are dropped unanswered and counted, so a flood of 8 KiB
/// (`PRE_AUTH_MESSAGE_CAP`) messages holds at most this much, and never the
/// permits that accepted minions' requests need.
const WAITING_AUTH_BUDGET: usize = 32 * 1024 * 1024;

/// What a waiting auth request costs beyond its bytes: its task, its peer
/// identity and its place in the line.
const WAITING_AUTH_OVERHEAD: usize = 1024;

/// How often refused auth requests are summed up in the log.
const REFUSAL_REPORT_EVERY: Duration = Duration::from_secs(10);

/// The admission of auth requests: a place in line within
/// [`WAITING_AUTH_BUDGET`], a bound on how many are handled at once, and a
/// count of those refused (the line full, or the pending keys at
/// `max_pending_keys`), logged as a sum at most every ten seconds.
pub(super) struct AuthIntake {
    places: Arc<Semaphore>,
    turns: Arc<Semaphore>,
    refused_busy: AtomicU64,
    refused_pending_full: AtomicU64,
    /// When refusals were last logged (none yet: the first is logged at once).
    last_report: std::sync::Mutex<Option<Instant>>,
}

impl AuthIntake {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(AuthIntake {
            places: Arc::new(Semaphore::new(WAITING_AUTH_BUDGET)),
            turns: Arc::new(Semaphore::new(MAX_AUTHS_IN_FLIGHT)),
            refused_busy: Default::default(),
            refused_pending_full: Default::default(),
            last_report: std::sync::Mutex::new(None),
        })
    }

    /// A place in line for an auth request of `len` bytes, held until its
    /// reply is sent, or `None` (counted as a refusal) when the line is full.
    pub(super) fn admit(&self, len: usize) -> Option<OwnedSemaphorePermit> {
        let cost = u32::try_from(len.saturating_add(WAITING_AUTH_OVERHEAD)).unwrap_or(u32::MAX);
        match self.places.clone().try_acquire_many_owned(cost) {
            Ok(place) => {
                self.report_refusals_due();
                Some(place)
            }
            Err(_) => {
                self.refuse(&self.refused_busy);
                None
            }
        }
    }

    /// Wait until fewer than [`MAX_AUTHS_IN_FLIGHT`] requests are being
    /// handled; the request is handled while the returned permit lives.
    pub(super) async fn turn(&self) -> Option<OwnedSemaphorePermit> {
        self.turns.clone().acquire_owned().await.ok()
    }

    /// Count a new key refused because `max_pending_keys` was reached.
    pub(super) fn refuse_pending_full(&self) {
        self.refuse(&self.refused_pending_full);
    }

    fn refuse(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
        self.report_refusals_due();
    }

    /// Log the refusals counted since the last report, unless one was logged
    /// less than [`REFUSAL_REPORT_EVERY`] ago. Also called on admission, so
    /// the refusals of a burst that has ended are still reported.
    fn report_refusals_due(&self) {
        let counted = |c: &AtomicU64| c.load(Ordering::Relaxed);
        if counted(&self.refused_busy) + counted(&self.refused_pending_full) == 0 {
            return;
        }
        let mut last = self.last_report.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| t.elapsed() < REFUSAL_REPORT_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        let take = |c: &AtomicU64| c.swap(0, Ordering::Relaxed);
        let (busy, full) = (take(&self.refused_busy), take(&self.refused_pending_full));
        if busy + full == 0 {
            return;
        }
        tracing::warn!(
            busy,
            pending_full = full,
            "refused {} auth requests: {busy} with the line of waiting requests full \
             ({} MiB), {full} with max_pending_keys reached",
            busy + full,
            WAITING_AUTH_BUDGET >> 20
        );
    }
}

/// What becomes of an auth request.
pub(super) enum AuthAnswer {
    /// The signed answer, and whether it grants a session.
    Reply { reply: SignedBlob, accepted: bool },
    /// A new key with `max_pending_keys` reached: refused unanswered.
    PendingFull,
    /// Not worth an answer (forged, stale, undecodable) or a key store error.
    None,
}

/// The parts of the master that answer auth requests.
pub(super) struct Authority<'a> {
    pub identity: &'a Identity,
    pub decider: KeyDecider,
    pub grants: SessionGrants<'a>,
}

impl<'a> Authority<'a> {
    pub(super) fn of(master: &'a Master) -> Self {
        Authority {
            identity: &master.identity,
            decider: KeyDecider::of(master),
            grants: SessionGrants::of(master),
        }
    }

    /// Verify an auth request and answer it with the key store's decision.
    pub(super) async fn answer(&self, blob: &SignedBlob) -> AuthAnswer {
        let Some(req) = verified_auth_request(blob) else {
            return AuthAnswer::None;
        };
        let decision = {
            let decider = self.decider.clone();
            let (id, key) = (req.id.clone(), req.key);
            tokio::task::spawn_blocking(move || decider.decide(&id, &key)).await
        };
        let status = match decision {
            Ok(Ok(status)) => status,
            Ok(Err(KeyError::PendingFull { .. })) => {
                tracing::debug!(id = %req.id, "refused a new key: max_pending_keys reached");
                return AuthAnswer::PendingFull;
            }
            Ok(Err(e)) => {
                tracing::error!(id = %req.id, "key store error: {e}");
                return AuthAnswer::None;
            }
            Err(_) => return AuthAnswer::None,
        };
        self.reply(&req.request, status)
    }

    /// The signed reply to an auth request the key store decided on, with a
    /// new session when the key is accepted.
    fn reply(&self, req: &AuthRequest, status: AuthStatus) -> AuthAnswer {
        let session = match status {
            AuthStatus::Accepted => match self.grants.open(req) {
                Ok(offer) => Some(offer),
                Err(e) => {
                    tracing::error!(id = %req.id, "cannot open a session: {e}");
                    return AuthAnswer::None;
                }
            },
            _ => None,
        };
        let reply = AuthReply {
            id: req.id.clone(),
            nonce: req.nonce.clone(),
            master_pub: self.identity.public().0.to_vec(),
            status,
            session,
        };
        match SignedBlob::sign(self.identity, &reply) {
            Ok(reply) => AuthAnswer::Reply {
                reply,
                accepted: status == AuthStatus::Accepted,
            },
            Err(e) => {
                tracing::error!("cannot sign an auth reply: {e}");
                AuthAnswer::None
            }
        }
    }
}

/// An auth request whose signature is its key's and whose time is current.
struct VerifiedAuth {
    request: AuthRequest,
    id: MinionId,
    key: PublicKey,
}

fn verified_auth_request(blob: &SignedBlob) -> Option<VerifiedAuth> {
    let request: AuthRequest = decode(&blob.body, PRE_AUTH_MESSAGE_CAP)
        .map_err(|e| tracing::debug!("undecodable auth request: {e}"))
        .ok()?;
    let key = PublicKey::from_bytes(&request.pubkey).ok()?;
    if key.verify(&blob.body, &blob.sig).is_err() {
        tracing::warn!(id = %request.id, "auth request with a bad signature");
        return None;
    }
    let now = jiff::Timestamp::now().as_second();
    if (now - request.ts).abs() > AUTH_MAX_SKEW_SECS {
        tracing::warn!(id = %request.id, "auth request outside the allowed clock skew");
        return None;
    }
    Some(VerifiedAuth {
        id: request.id.clone(),
        key,
        request,
    })
}

/// What the master's config says about accepting keys.
#[derive(Debug, Clone, Default)]
pub(super) struct AcceptPolicy {
    pub auto_accept: bool,
    /// Salt's `autosign_file`: glob patterns of ids accepted at once.
    pub autosign_file: Option<PathBuf>,
    pub max_pending_keys: usize,
}

/// The key store's side of an auth request. Owned (cheap clones of shared
/// parts) because it runs on a blocking thread: the decision may read the
/// autosign file and write a key.
#[derive(Clone)]
pub(super) struct KeyDecider {
    pub keys: Arc<dyn Keys>,
    pub policy: AcceptPolicy,
    pub publisher: Arc<Publisher>,
    pub bus: EventBus,
}

impl KeyDecider {
    fn of(master: &Master) -> Self {
        KeyDecider {
            keys: master.keys.clone(),
            policy: AcceptPolicy {
                auto_accept: master.config.auto_accept,
                autosign_file: master.config.autosign_file.clone(),
                max_pending_keys: master.config.max_pending_keys,
            },
            publisher: master.publisher.clone(),
            bus: master.bus.clone(),
        }
    }

    /// The key store's decision for an auth request, plus its `salt/auth` event.
    fn decide(&self, id: &MinionId, key: &PublicKey) -> Result<AuthStatus, KeyError> {
        let autosign = self
            .policy
            .autosign_file
            .as_deref()
            .map(crate::keys::autosign_patterns)
            .unwrap_or_default();
        let decision = self.keys.decide_auth(
            id,
            key,
            self.policy.auto_accept,
            &autosign,
            self.policy.max_pending_keys,
        )?;
        if decision.auto_accepted {
            // Before the session's grant reads it: the publications this
            // minion may catch up on start here.
            self.publisher.mark_accepted(id);
        }
        let (status, act) = match decision.state {
            KeyState::Accepted => (AuthStatus::Accepted, "accept"),
            KeyState::Pending => (AuthStatus::Pending, "pend"),
            KeyState::Rejected => (AuthStatus::Rejected, "reject"),
            KeyState::Denied => (AuthStatus::Denied, "denied"),
        };
        let result = matches!(status, AuthStatus::Accepted | AuthStatus::Pending);
        self.bus.fire(Event::new(
            tags::AUTH,
            json!({"act": act, "id": id, "pub": key.to_pem(), "result": result}),
        ));
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An auth request of `id`, signed by `signer` but presenting `presented`'s
    /// public key, stamped `ts`.
    fn request(id: &str, presented: &Identity, signer: &Identity, ts: i64) -> SignedBlob {
        let request = AuthRequest {
            id: MinionId::parse(id).expect("id"),
            pubkey: presented.public().0.to_vec(),
            eph_pub: vec![7; 32],
            nonce: vec![1; 16],
            ts,
            version: 1,
        };
        SignedBlob::sign(signer, &request).expect("sign")
    }

    fn now() -> i64 {
        jiff::Timestamp::now().as_second()
    }

    #[test]
    fn only_a_current_request_signed_by_its_own_key_is_verified() {
        let minion = Identity::generate().expect("key");
        let other = Identity::generate().expect("key");
        let good =
            verified_auth_request(&request("web1", &minion, &minion, now())).expect("verified");
        assert_eq!(good.id.as_str(), "web1");
        assert_eq!(good.key.0, minion.public().0);

        let forged = request("web1", &minion, &other, now());
        assert!(
            verified_auth_request(&forged).is_none(),
            "signed by another key"
        );
        let stale = request("web1", &minion, &minion, now() - AUTH_MAX_SKEW_SECS - 5);
        assert!(verified_auth_request(&stale).is_none(), "stale");
        let future = request("web1", &minion, &minion, now() + AUTH_MAX_SKEW_SECS + 5);
        assert!(verified_auth_request(&future).is_none(), "from the future");
        let garbage = SignedBlob {
            body: vec![0xc1; 8],
            sig: forged.sig.clone(),
        };
        assert!(verified_auth_request(&garbage).is_none(), "undecodable");
    }

    #[tokio::test]
    async fn the_intake_queues_within_its_budget_and_handles_fewer_at_once() {
        let intake = AuthIntake::new();
        let request = 300;
        let room = WAITING_AUTH_BUDGET / (request + WAITING_AUTH_OVERHEAD);
        assert!(room > 20_000, "a 20,000-minion fleet fits in line: {room}");
        let places: Vec<_> = (0..room)
            .map(|_| intake.admit(request).expect("a place in line"))
            .collect();
        assert!(intake.admit(request).is_none(), "one too many");
        assert_eq!(
            intake.refused_busy.load(Ordering::Relaxed),
            0,
            "logged and reset"
        );
        let mut turns = Vec::new();
        for _ in 0..MAX_AUTHS_IN_FLIGHT {
            turns.push(intake.turn().await.expect("a turn"));
        }
        let next = tokio::time::timeout(Duration::from_millis(50), intake.turn()).await;
        assert!(next.is_err(), "the next one waits for a turn");
        turns.pop();
        let next = tokio::time::timeout(Duration::from_secs(5), intake.turn()).await;
        assert!(matches!(next, Ok(Some(_))), "a finished one makes room");
        drop(places);
        assert!(intake.admit(request).is_some(), "places come back");
    }

    #[test]
    fn large_requests_take_more_of_the_line() {
        let intake = AuthIntake::new();
        let big = PRE_AUTH_MESSAGE_CAP;
        let room = WAITING_AUTH_BUDGET / (big + WAITING_AUTH_OVERHEAD);
        let _places: Vec<_> = (0..room)
            .map(|_| intake.admit(big).expect("a place in line"))
            .collect();
        assert!(
            intake.admit(big).is_none(),
            "a flood of large ones is bounded by bytes"
        );
    }
}
