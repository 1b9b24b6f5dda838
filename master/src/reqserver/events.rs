//! Events a minion fires onto the master's bus (Salt's `event.send` and
//! `event.fire_master`), under the tags a minion may use.

use brine_common::event::{Event, minion_may_fire};
use brine_common::ids::MinionId;
use brine_common::wire::Reply;
use serde_json::{Value, json};

use crate::bus::EventBus;

/// Fire `minion`'s event, unless its tag is one only the master fires.
pub(super) fn fire(bus: &EventBus, minion: &MinionId, tag: String, data: Value) -> Reply {
    if !minion_may_fire(minion, &tag) {
        tracing::warn!(%minion, %tag, "refused an event under a reserved tag");
        return Reply::Refused {
            reason: format!("minions may not fire events tagged {tag:?}"),
        };
    }
    bus.fire(Event::new(tag, bind_event_id(data, minion)));
    Reply::Ok
}

/// A minion's event data always names the minion that sent it.
fn bind_event_id(data: Value, minion: &MinionId) -> Value {
    let mut map = match data {
        Value::Object(map) => map,
        other => {
            let mut m = serde_json::Map::new();
            m.insert("data".into(), other);
            m
        }
    };
    map.insert("id".into(), json!(minion));
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Event data without the `_stamp` every event gets.
    fn unstamped(mut data: Value) -> Value {
        if let Some(map) = data.as_object_mut() {
            map.remove("_stamp");
        }
        data
    }

    fn reply_is_ok(reply: &Reply) -> bool {
        matches!(reply, Reply::Ok)
    }

    /// The event goes on the bus with the sender's id, whatever id the
    /// minion put in its data.
    #[test]
    fn an_event_names_its_minion() {
        let bus = EventBus::new();
        let mut seen = bus.subscribe();
        let web1 = MinionId::parse("web1").expect("id");
        let reply = fire(
            &bus,
            &web1,
            "app/deploy".into(),
            json!({"id": "db1", "v": 2}),
        );
        assert!(reply_is_ok(&reply), "{reply:?}");
        let event = seen.try_recv().expect("an event").unpack();
        assert_eq!(event.tag, "app/deploy");
        assert_eq!(unstamped(event.data), json!({"id": "web1", "v": 2}));

        fire(&bus, &web1, "app/raw".into(), json!([1, 2]));
        let event = seen.try_recv().expect("an event").unpack();
        assert_eq!(unstamped(event.data), json!({"id": "web1", "data": [1, 2]}));
    }

    /// A minion cannot forge the master's own events (a job's return here).
    #[test]
    fn reserved_tags_are_refused_and_not_fired() {
        let bus = EventBus::new();
        let mut seen = bus.subscribe();
        let web1 = MinionId::parse("web1").expect("id");
        let tag = "salt/job/20261122063000123456/ret/web2";
        let reply = fire(&bus, &web1, tag.into(), json!({}));
        assert!(matches!(reply, Reply::Refused { .. }), "{reply:?}");
        assert!(seen.try_recv().is_err(), "nothing fired");
    }
}
