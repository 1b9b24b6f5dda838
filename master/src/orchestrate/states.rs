//! The orchestration state functions, by Salt's names. Each is a thin
//! [`StateFn`] that hands its chunk to the host (`saltmod.<fun>`): the
//! state runtime is synchronous and knows nothing of the master, while
//! [`super::OrchHost`] does the work on the master's runtime.

use brine_states::lowstate::{StateCall, StateModules, StateResult};
use serde_json::{Map, Value, json};

/// The state functions an orchestration SLS may use: `salt.*` and `test.*`.
pub fn registry() -> StateModules {
    let mut m = StateModules::default();
    m.register("salt.state", |c| delegate(c, "saltmod.state"));
    m.register("salt.function", |c| delegate(c, "saltmod.function"));
    m.register("salt.runner", |c| delegate(c, "saltmod.runner"));
    m.register("salt.wheel", |c| delegate(c, "saltmod.wheel"));
    m.register("salt.wait_for_event", |c| {
        delegate(c, "saltmod.wait_for_event")
    });
    let minion_states = brine_states::modules::registry();
    for name in minion_states.names().filter(|n| n.starts_with("test.")) {
        if let Some(entry) = minion_states.get(name) {
            m.register(name, entry.run);
        }
    }
    m
}

/// Run the step on the host and read back its state result.
fn delegate(call: &StateCall<'_>, fun: &str) -> StateResult {
    let name = call.chunk.name.as_str();
    let chunk = match serde_json::to_value(call.chunk) {
        Ok(chunk) => chunk,
        Err(e) => return StateResult::fail(name, e.to_string()),
    };
    let mut kwargs = Map::new();
    kwargs.insert("test".into(), json!(call.test));
    match call.host.call(fun, vec![chunk], kwargs) {
        Ok(value) => read_result(name, value),
        Err(e) => StateResult::fail(name, e),
    }
}

fn read_result(name: &str, value: Value) -> StateResult {
    serde_json::from_value(value)
        .unwrap_or_else(|e| StateResult::fail(name, format!("bad step result: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_has_the_salt_and_test_states() {
        let m = registry();
        for name in [
            "salt.state",
            "salt.function",
            "salt.runner",
            "salt.wheel",
            "salt.wait_for_event",
            "test.succeed_without_changes",
        ] {
            assert!(m.get(name).is_some(), "{name}");
        }
    }
}
