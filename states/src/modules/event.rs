//! Salt's `event.send`: fire an event on the master's bus through the
//! execution function `event.send`.

use serde_json::{Map, Value, json};

use super::{name_of, pending, truthy};
use crate::lowstate::{StateCall, StateModules, StateResult};

pub fn register(m: &mut StateModules) {
    m.register("event.send", send);
    m.register("event.wait", wait);
    m.register_mod_watch("event", send);
}

fn send(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let data = c.chunk.arg("data").cloned().unwrap_or(Value::Null);
    let mut changes = Map::new();
    changes.insert("tag".into(), json!(name));
    changes.insert("data".into(), data.clone());
    if c.test {
        return pending(name, "Event would have been fired", changes);
    }
    let mut kwargs = Map::new();
    for key in [
        "data",
        "preload",
        "with_env",
        "with_grains",
        "with_pillar",
        "with_env_opts",
    ] {
        if let Some(v) = c.chunk.arg(key).filter(|v| !v.is_null()) {
            kwargs.insert(key.into(), v.clone());
        }
    }
    match c.host.call("event.send", vec![json!(name)], kwargs) {
        Ok(v) if truthy(&v) => StateResult {
            changes,
            ..StateResult::ok(name, "Event fired")
        },
        Ok(_) => StateResult {
            changes,
            ..StateResult::fail(name, "Failed to fire event")
        },
        Err(e) => StateResult::fail(name, e),
    }
}

/// `event.wait`: fires only through `mod_watch`.
fn wait(c: &StateCall<'_>) -> StateResult {
    StateResult::ok(name_of(c), "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run};

    #[test]
    fn send_fires_unless_testing() {
        let h = MockHost::new(|f, _, _| {
            if f == "event.send" {
                Ok(json!(true))
            } else {
                Err(f.to_string())
            }
        });
        let ch = chunk("event", "send", "my/tag", json!({"data": {"a": 1}}));
        assert_eq!(run(send, &h, &ch, true).result, None);
        assert!(!h.called("event.send"));
        let r = run(send, &h, &ch, false);
        assert_eq!(
            (r.comment.as_str(), r.changes["tag"].clone()),
            ("Event fired", json!("my/tag"))
        );
    }
}
