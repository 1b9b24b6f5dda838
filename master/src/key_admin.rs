//! `brine-key` commands over the key store: what each command changes and the
//! reply it prints. The master runs these with side effects (events, session
//! teardown, publish-key rotation, see `Master::key_command`); `brine-key` runs
//! them directly on `pki_dir` when no master is running.

use brine_client::{KeyCommand, KeyReply};
use brine_common::crypto::PublicKey;
use brine_common::ids::MinionId;
use serde_json::{Map, Value};

use crate::daemon::id_list;
#[cfg(test)]
use crate::keys::KeyStore;
use crate::keys::{KeyError, KeyState, Keys};

/// The order `salt-key -L --out json` prints the states in.
pub const LISTING_ORDER: [KeyState; 4] = [
    KeyState::Pending,
    KeyState::Rejected,
    KeyState::Accepted,
    KeyState::Denied,
];

/// What a key command did to one id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAct {
    Accept,
    Reject,
    Delete,
}

impl KeyAct {
    /// Salt's `act` in the `salt/key` event.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAct::Accept => "accept",
            KeyAct::Reject => "reject",
            KeyAct::Delete => "delete",
        }
    }
}

/// The ids a command changed, each with what it did to them.
pub type KeyChanges = Vec<(MinionId, KeyAct)>;

/// Run `cmd`; returns the reply and the ids it changed.
pub fn execute(
    keys: &dyn Keys,
    cmd: &KeyCommand,
    master_pub: &PublicKey,
) -> Result<(KeyReply, KeyChanges), KeyError> {
    Ok(match cmd {
        KeyCommand::List => {
            let mut map = Map::new();
            for state in LISTING_ORDER {
                map.insert(state.json_name().into(), id_list(keys.list(state)?));
            }
            let stray = keys.stray_files()?;
            (KeyReply::Listing { keys: map, stray }, Vec::new())
        }
        KeyCommand::Accept {
            pattern,
            include_rejected,
            include_denied,
        } => {
            let ids = keys.accept(pattern, *include_rejected, *include_denied)?;
            changed(KeyState::Accepted, ids, KeyAct::Accept)
        }
        KeyCommand::Reject {
            pattern,
            include_accepted,
            include_denied,
        } => {
            let ids = keys.reject(pattern, *include_accepted, *include_denied)?;
            changed(KeyState::Rejected, ids, KeyAct::Reject)
        }
        KeyCommand::Delete { pattern } => {
            let ids = keys.delete(pattern)?;
            let mut map = Map::new();
            map.insert("deleted".into(), id_list(&ids));
            let acts = ids.into_iter().map(|id| (id, KeyAct::Delete)).collect();
            (KeyReply::Changed(map), acts)
        }
        KeyCommand::Fingerprints { pattern } => {
            let mut map = Map::new();
            let mut local = Map::new();
            local.insert("master.pub".into(), Value::String(master_pub.fingerprint()));
            map.insert("local".into(), Value::Object(local));
            for (state, id, fp) in keys.fingerprints(pattern)? {
                let entry = map
                    .entry(state.json_name())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = entry {
                    m.insert(id.to_string(), Value::String(fp));
                }
            }
            (KeyReply::Fingerprints(map), Vec::new())
        }
        KeyCommand::AcceptKey { id, key } => accept_key(keys, id, key)?,
    })
}

/// Accepts exactly `key` as `id`'s (see [`KeyCommand::AcceptKey`]); an id
/// holding another key, or this one rejected, is refused and nothing is
/// written.
fn accept_key(keys: &dyn Keys, id: &str, key: &str) -> Result<(KeyReply, KeyChanges), KeyError> {
    let refused = |why: String| KeyError::Refused(why);
    let id = MinionId::parse(id).map_err(|e| refused(format!("{id:?}: {e}")))?;
    let key = PublicKey::from_pem(key)
        .ok_or_else(|| refused("not an Ed25519 public key in PEM form".into()))?;
    match keys.lookup(&id)? {
        Some((KeyState::Accepted, held)) if held == key => {
            return Ok(changed(KeyState::Accepted, Vec::new(), KeyAct::Accept));
        }
        None => {}
        Some((KeyState::Pending, held)) if held == key => {}
        Some((state, held)) => {
            let same = if held == key {
                "this key"
            } else {
                "another key"
            };
            return Err(refused(format!(
                "{id} holds {same} in {} ({})",
                state.json_name(),
                held.fingerprint()
            )));
        }
    }
    let decision = keys.decide_auth(&id, &key, true, &[], usize::MAX)?;
    if decision.state != KeyState::Accepted {
        return Err(refused(format!(
            "another key for {id} arrived meanwhile; its key is {} now",
            decision.state.json_name()
        )));
    }
    Ok(changed(KeyState::Accepted, vec![id], KeyAct::Accept))
}

fn changed(state: KeyState, ids: Vec<MinionId>, act: KeyAct) -> (KeyReply, KeyChanges) {
    let mut map = Map::new();
    map.insert(state.json_name().into(), id_list(&ids));
    (
        KeyReply::Changed(map),
        ids.into_iter().map(|id| (id, act)).collect(),
    )
}

#[cfg(test)]
mod tests {
    use brine_common::crypto::Identity;

    use super::*;

    fn acts(changes: &KeyChanges) -> Vec<(&str, KeyAct)> {
        changes
            .iter()
            .map(|(id, act)| (id.as_str(), *act))
            .collect()
    }

    /// `AcceptKey` takes exactly the key it names: stored accepted for a new
    /// id, moved from pending when it is the pending one, nothing for the
    /// accepted one, refused (nothing written) for an id holding another.
    #[test]
    fn accept_key_takes_only_the_key_it_names() {
        let dir = tempfile::tempdir().expect("dir");
        let keys = KeyStore::open(dir.path()).expect("store");
        let master = Identity::generate().expect("key").public();
        let (mine, other) = (
            Identity::generate().expect("key").public(),
            Identity::generate().expect("key").public(),
        );
        let accept = |id: &str, key: &PublicKey| {
            let cmd = KeyCommand::AcceptKey {
                id: id.into(),
                key: key.to_pem(),
            };
            execute(&keys, &cmd, &master).map(|(_, changes)| changes)
        };
        let web1 = MinionId::parse("web1").expect("id");
        assert_eq!(
            acts(&accept("web1", &mine).expect("new")),
            [("web1", KeyAct::Accept)]
        );
        assert_eq!(
            keys.lookup(&web1).expect("lookup"),
            Some((KeyState::Accepted, mine))
        );
        assert!(
            accept("web1", &mine).expect("again").is_empty(),
            "nothing to do"
        );
        let refused = accept("web1", &other).expect_err("another key");
        assert!(refused.to_string().contains("another key"), "{refused}");
        assert_eq!(
            keys.lookup(&web1).expect("lookup"),
            Some((KeyState::Accepted, mine))
        );
        assert!(
            keys.list(KeyState::Denied).expect("denied").is_empty(),
            "nothing written"
        );
        let db1 = MinionId::parse("db1").expect("id");
        keys.decide_auth(&db1, &other, false, &[], 10)
            .expect("pending");
        assert_eq!(
            acts(&accept("db1", &other).expect("pending")),
            [("db1", KeyAct::Accept)]
        );
        assert!(accept("bad id/..", &mine).is_err());
    }

    /// Each command says what it did to which id: the master fires `salt/key`
    /// with it and ends the sessions of rejected and deleted keys.
    #[test]
    fn a_command_names_what_it_did_to_each_id() {
        let dir = tempfile::tempdir().expect("dir");
        let keys = KeyStore::open(dir.path()).expect("store");
        let master = Identity::generate().expect("key").public();
        let web1 = MinionId::parse("web1").expect("id");
        let minion = Identity::generate().expect("key").public();
        keys.decide_auth(&web1, &minion, false, &[], 10)
            .expect("pending");
        let run = |cmd: KeyCommand| execute(&keys, &cmd, &master).expect("run").1;

        let accepted = run(KeyCommand::Accept {
            pattern: "web*".into(),
            include_rejected: false,
            include_denied: false,
        });
        assert_eq!(acts(&accepted), [("web1", KeyAct::Accept)]);
        let rejected = run(KeyCommand::Reject {
            pattern: "web1".into(),
            include_accepted: true,
            include_denied: false,
        });
        assert_eq!(acts(&rejected), [("web1", KeyAct::Reject)]);
        let deleted = run(KeyCommand::Delete {
            pattern: "*".into(),
        });
        assert_eq!(acts(&deleted), [("web1", KeyAct::Delete)]);
        assert!(
            run(KeyCommand::List).is_empty(),
            "a listing changes nothing"
        );
        assert_eq!(KeyAct::Delete.as_str(), "delete");
    }
}
