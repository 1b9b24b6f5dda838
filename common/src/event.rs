//! Events on the master's bus: a tag and a JSON-like data map, as in Salt.
//!
//! Tags keep Salt's `salt/...` names so reactor configs match unchanged. Minions
//! may fire events, but never under tags that belong to the master.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ids::MinionId;
use crate::jid::stamp_now;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub tag: String,
    pub data: Value,
}

impl Event {
    /// An event with Salt's `_stamp` added to `data` (when it is a map).
    pub fn new(tag: impl Into<String>, data: Value) -> Self {
        let data = match data {
            Value::Object(mut map) => {
                map.entry("_stamp")
                    .or_insert_with(|| Value::String(stamp_now()));
                Value::Object(map)
            }
            other => {
                let mut map = Map::new();
                map.insert("data".into(), other);
                map.insert("_stamp".into(), Value::String(stamp_now()));
                Value::Object(map)
            }
        };
        Event {
            tag: tag.into(),
            data,
        }
    }
}

/// Tags for job events.
pub mod tags {
    pub fn job_new(jid: &str) -> String {
        format!("salt/job/{jid}/new")
    }
    pub fn job_ret(jid: &str, id: &str) -> String {
        format!("salt/job/{jid}/ret/{id}")
    }
    /// Brine's own: a minion received and accepted the publication.
    pub fn job_ack(jid: &str, id: &str) -> String {
        format!("brine/job/{jid}/ack/{id}")
    }
    /// Brine's own: the minion is still running the job.
    pub fn job_beat(jid: &str, id: &str) -> String {
        format!("brine/job/{jid}/beat/{id}")
    }
    pub fn minion_start(id: &str) -> String {
        format!("salt/minion/{id}/start")
    }
    pub const AUTH: &str = "salt/auth";
    pub const KEY: &str = "salt/key";
    pub const MINION_START_LEGACY: &str = "minion_start";
}

/// May the minion `id` fire an event tagged `tag`?
///
/// `salt/` and `brine/` belong to the master, except the minion's own
/// `salt/minion/<id>/...` and `salt/beacon/<id>/...` subtrees and its state
/// results, `salt/state_result/<jid>/<id>/...` (states' `fire_event`) and
/// `salt/job/<jid>/prog/<id>/...` (`state_events`).
/// Anything else (custom tags such as `myapp/deploy`, the legacy
/// `minion_start`) is allowed.
pub fn minion_may_fire(id: &MinionId, tag: &str) -> bool {
    if tag.is_empty() || tag.len() > 512 {
        return false;
    }
    if tag.starts_with("brine/") {
        return false;
    }
    if let Some(rest) = tag.strip_prefix("salt/") {
        let own = |kind: &str| {
            rest.strip_prefix(kind)
                .and_then(|r| r.strip_prefix(id.as_str()))
                .is_some_and(|r| r.is_empty() || r.starts_with('/'))
        };
        // `salt/job/<jid>/prog/<id>/...`: its own state run's progress.
        let own_progress = rest
            .strip_prefix("job/")
            .and_then(|r| r.split_once("/prog/"))
            .is_some_and(|(jid, r)| {
                !jid.is_empty()
                    && !jid.contains('/')
                    && r.strip_prefix(id.as_str())
                        .is_some_and(|r| r.starts_with('/'))
            });
        let own_state_result = rest
            .strip_prefix("state_result/")
            .and_then(|r| r.split_once('/'))
            .is_some_and(|(jid, r)| {
                !jid.is_empty()
                    && r.strip_prefix(id.as_str())
                        .is_some_and(|r| r.starts_with('/'))
            });
        return own("minion/") || own("beacon/") || own_state_result || own_progress;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> MinionId {
        MinionId::parse(s).expect("id")
    }

    #[test]
    fn minions_cannot_fire_master_tags() {
        let m = id("web1");
        for t in [
            "salt/job/20261121234019509933/ret/web1",
            "salt/auth",
            "salt/key",
            "salt/run/1/new",
            "salt/minion/web10/start",
            "salt/minion/other/start",
            "salt/beacon/other/inotify/",
            "brine/job/1/ack/web1",
            "salt/state_result/1/web10/x",
            "salt/state_result/1/other/x",
            "salt/state_result//web1/x",
            "salt/state_result/1/web1",
            "salt/job/1/prog/other/0",
            "salt/job/1/ret/web1",
            "salt/job/1/x/prog/web1/0",
            "",
        ] {
            assert!(!minion_may_fire(&m, t), "{t} allowed");
        }
        for t in [
            "salt/minion/web1/start",
            "salt/beacon/web1/inotify/",
            "salt/state_result/20261122015500000000/web1/deploy/step1",
            "salt/job/20261122015500000000/prog/web1/3",
            "minion_start",
            "myapp/deploy",
        ] {
            assert!(minion_may_fire(&m, t), "{t} refused");
        }
    }

    #[test]
    fn new_events_carry_a_stamp() {
        let e = Event::new("x", serde_json::json!({"a": 1}));
        assert!(e.data["_stamp"].is_string());
    }
}
