//! Salt's presence events (`presence_events: True`): every `loop_interval`
//! seconds `salt/presence/present` with `{"present": [ids]}`, and
//! `salt/presence/change` with `{"new": [...], "lost": [...]}` when the set
//! of connected minions changed since the last look.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use brine_common::event::Event;
use serde_json::json;

use crate::daemon::Master;

pub const PRESENT_TAG: &str = "salt/presence/present";
pub const CHANGE_TAG: &str = "salt/presence/change";

/// Fire presence events until the master stops (returns at once when off).
pub async fn run(master: Arc<Master>) {
    if !master.config.presence_events {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(master.config.loop_interval.max(1)));
    let mut known = BTreeSet::new();
    loop {
        tick.tick().await;
        let now: BTreeSet<String> = master
            .sessions
            .connected(master.presence_window())
            .into_iter()
            .map(|m| m.to_string())
            .collect();
        for event in presence_events(&known, &now) {
            master.bus.fire(event);
        }
        known = now;
    }
}

/// The events for one look: `present` always, `change` when it changed.
fn presence_events(before: &BTreeSet<String>, now: &BTreeSet<String>) -> Vec<Event> {
    let mut events = vec![Event::new(PRESENT_TAG, json!({ "present": now }))];
    let new: Vec<&String> = now.difference(before).collect();
    let lost: Vec<&String> = before.difference(now).collect();
    if !new.is_empty() || !lost.is_empty() {
        events.push(Event::new(CHANGE_TAG, json!({ "new": new, "lost": lost })));
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn change_only_when_the_set_changes() {
        let first = presence_events(&set(&[]), &set(&["a", "b"]));
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].data["present"], json!(["a", "b"]));
        assert_eq!(first[1].data["new"], json!(["a", "b"]));
        assert_eq!(first[1].data["lost"], json!([]));
        assert_eq!(presence_events(&set(&["a"]), &set(&["a"])).len(), 1);
        let lost = presence_events(&set(&["a", "b"]), &set(&["b", "c"]));
        assert_eq!(lost[1].data["new"], json!(["c"]));
        assert_eq!(lost[1].data["lost"], json!(["a"]));
    }
}
