//! Login tokens: random, held in memory, valid for `token_expire` seconds.
//! A restart of `brine-api` logs everyone out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ring::rand::{SecureRandom, SystemRandom};

use brine_common::perms::Perms;

/// Who a token belongs to and what they may do.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub user: String,
    pub eauth: String,
    pub perms: Arc<Perms>,
    /// The web UI's CSRF token: every form that changes something carries
    /// it, and it is never in a cookie.
    pub csrf: String,
    /// Unix seconds.
    pub start: f64,
    pub expire: f64,
}

pub struct TokenStore {
    ttl: Duration,
    sessions: Mutex<HashMap<String, Session>>,
}

impl TokenStore {
    pub fn new(ttl: Duration) -> Self {
        TokenStore {
            ttl,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Start a session; `None` only when the system has no randomness.
    pub fn issue(&self, user: &str, eauth: &str, perms: Arc<Perms>) -> Option<Session> {
        let token = random_hex()?;
        let start = now();
        let session = Session {
            csrf: random_hex()?,
            token: token.clone(),
            user: user.to_string(),
            eauth: eauth.to_string(),
            perms,
            start,
            expire: start + self.ttl.as_secs_f64(),
        };
        let mut sessions = self.lock();
        sessions.retain(|_, s| s.expire > start);
        sessions.insert(token, session.clone());
        Some(session)
    }

    /// The live session of a token; an expired one is forgotten.
    pub fn get(&self, token: &str) -> Option<Session> {
        let mut sessions = self.lock();
        let session = sessions.get(token)?.clone();
        if session.expire <= now() {
            sessions.remove(token);
            return None;
        }
        Some(session)
    }

    /// End a session (logout).
    pub fn revoke(&self, token: &str) {
        self.lock().remove(token);
    }

    pub fn active(&self) -> usize {
        let t = now();
        self.lock().values().filter(|s| s.expire > t).count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// 20 random bytes in hex.
fn random_hex() -> Option<String> {
    let mut bytes = [0u8; 20];
    SystemRandom::new().fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_resolve_until_expiry() {
        let store = TokenStore::new(Duration::from_secs(60));
        let s = store.issue("alice", "file", Arc::default()).expect("issue");
        assert_eq!(s.token.len(), 40);
        assert_eq!(store.get(&s.token).map(|s| s.user), Some("alice".into()));
        assert!(store.get("nope").is_none());
        let expired = TokenStore::new(Duration::ZERO);
        let s = expired.issue("bob", "file", Arc::default()).expect("issue");
        assert!(expired.get(&s.token).is_none());
    }
}
