//! Salt's `test` states: fixed outcomes for exercising requisites, output
//! and test mode (`succeed_with_changes`, `configurable_test_state`, ...).

use brine_common::output::python;
use serde_json::{Map, Value, json};

use super::{name_of, one, str_of};
use crate::lowstate::{StateCall, StateModules, StateResult};

pub fn register(m: &mut StateModules) {
    m.register("test.nop", nop);
    m.register("test.succeed_without_changes", succeed_without_changes);
    m.register("test.fail_without_changes", fail_without_changes);
    m.register("test.succeed_with_changes", succeed_with_changes);
    m.register("test.fail_with_changes", fail_with_changes);
    m.register("test.configurable_test_state", configurable_test_state);
    m.register("test.show_notification", show_notification);
    m.register_mod_watch("test", mod_watch);
}

/// The changes the `*_with_changes` states pretend to make.
fn pretend_changes() -> Map<String, Value> {
    one(
        "testing",
        json!({"old": "Unchanged", "new": "Something pretended to change"}),
    )
}

fn comment_or(c: &StateCall<'_>, default: &str) -> String {
    c.chunk
        .str_arg("comment")
        .map_or_else(|| default.to_string(), String::from)
}

fn nop(c: &StateCall<'_>) -> StateResult {
    StateResult::ok(name_of(c), "Success!")
}

fn succeed_without_changes(c: &StateCall<'_>) -> StateResult {
    StateResult::ok(name_of(c), comment_or(c, "Success!"))
}

fn fail_without_changes(c: &StateCall<'_>) -> StateResult {
    let comment = if c.test {
        "If we weren't testing, this would be a failure!".to_string()
    } else {
        comment_or(c, "Failure!")
    };
    StateResult::fail(name_of(c), comment)
}

fn succeed_with_changes(c: &StateCall<'_>) -> StateResult {
    let mut ret = StateResult::ok(name_of(c), comment_or(c, "Success!"));
    ret.changes = pretend_changes();
    if c.test {
        ret.result = None;
        ret.comment = "If we weren't testing, this would be successful with changes".into();
    }
    ret
}

fn fail_with_changes(c: &StateCall<'_>) -> StateResult {
    let mut ret = StateResult::fail(name_of(c), comment_or(c, "Failure!"));
    ret.changes = pretend_changes();
    if c.test {
        ret.result = None;
        ret.comment = "If we weren't testing, this would be failed with changes".into();
    }
    ret
}

/// A `True`/`False`/`"Random"` option of `configurable_test_state`.
fn tri_state(v: Option<&Value>, default: bool) -> Option<bool> {
    match v {
        None | Some(Value::Null) => Some(default),
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("random") => Some(random_bool()),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn random_bool() -> bool {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    nanos.is_multiple_of(2)
}

fn configurable_test_state(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let (comment, typed_comment) = given_comment(c.chunk.arg("comment"));
    let Some(changes) = tri_state(c.chunk.arg("changes"), true) else {
        return StateResult::fail(
            name,
            "You have specified the state option 'Changes' with invalid arguments. It must be either 'True', 'False', or 'Random'",
        );
    };
    let Some(result) = tri_state(c.chunk.arg("result"), true) else {
        return StateResult::fail(
            name,
            "You have specified the state option 'Result' with invalid arguments. It must be either 'True', 'False', or 'Random'",
        );
    };
    let mut ret = StateResult {
        result: Some(result),
        ..StateResult::ok(name, comment.clone())
    };
    if changes {
        ret.changes = pretend_changes();
    }
    match c.chunk.arg("warnings") {
        None | Some(Value::Null) => {}
        Some(Value::String(one)) => {
            ret.extra
                .insert("warnings".into(), Value::Array(vec![json!(one)]));
        }
        Some(Value::Array(many)) => {
            ret.extra
                .insert("warnings".into(), Value::Array(many.clone()));
        }
        Some(_) => {
            return StateResult::fail(
                name,
                "You have specified the state option 'warnings' with invalid arguments. It must be a string or a list of strings",
            );
        }
    }
    if c.test {
        let allow_failure = c.chunk.bool_arg("allow_test_mode_failure", false);
        ret.result = match (allow_failure && !result, changes) {
            (true, _) => Some(false),
            (false, false) => Some(true),
            (false, true) => None,
        };
        // Python's `not comment`: an empty dict or a 0 counts as none.
        let none_given = typed_comment
            .as_ref()
            .map_or(comment.is_empty(), |data| !python::truthy(data));
        if none_given {
            ret.comment = "This is a test".into();
            return ret;
        }
    }
    // A comment that is data stays data in the return, as in Salt.
    if let Some(typed) = typed_comment {
        ret.extra.insert("comment".into(), typed);
    }
    ret
}

/// `comment` as a state function may give it: text, or a list Salt's
/// `OutputUnifier` joins into lines, or other data (a dict, a number) that
/// stays what it is in the return (the second value) while its `str()` is
/// the text.
fn given_comment(value: Option<&Value>) -> (String, Option<Value>) {
    match value {
        None | Some(Value::Null) => (String::new(), None),
        Some(Value::String(text)) => (text.clone(), None),
        Some(Value::Array(lines)) => {
            let lines: Vec<String> = lines.iter().map(python::to_str).collect();
            (lines.join("\n"), None)
        }
        Some(data) => (python::to_str(data), Some(data.clone())),
    }
}

fn show_notification(c: &StateCall<'_>) -> StateResult {
    match str_of(c.chunk, "text") {
        Some(text) => StateResult::ok(name_of(c), text),
        None => StateResult::fail(name_of(c), "Missing required argument text."),
    }
}

/// `watch` fired: Salt lists the watched states that changed. The runtime
/// passes them as `__watch_changes__` (`["file: config_file"]`).
fn mod_watch(c: &StateCall<'_>) -> StateResult {
    let changed = c
        .chunk
        .arg("__watch_changes__")
        .cloned()
        .unwrap_or_else(|| json!([]));
    let mut ret = StateResult::ok(name_of(c), comment_or(c, "Watch statement fired."));
    ret.changes = one("Requisites with changes", changed);
    ret
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run};

    fn host() -> MockHost {
        MockHost::new(|f, _, _| Err(format!("unexpected {f}")))
    }

    #[test]
    fn succeed_with_changes_predicts_in_test_mode() {
        let h = host();
        let ch = chunk("test", "succeed_with_changes", "x", json!({}));
        let real = run(succeed_with_changes, &h, &ch, false);
        assert_eq!(real.result, Some(true));
        assert_eq!(real.comment, "Success!");
        assert_eq!(
            real.changes["testing"]["new"],
            json!("Something pretended to change")
        );
        let test = run(succeed_with_changes, &h, &ch, true);
        assert_eq!(test.result, None);
        assert!(!test.changes.is_empty());
    }

    #[test]
    fn fail_without_changes_fails_even_in_test_mode() {
        let h = host();
        let ch = chunk(
            "test",
            "fail_without_changes",
            "x",
            json!({"comment": "boom"}),
        );
        assert_eq!(run(fail_without_changes, &h, &ch, false).comment, "boom");
        let t = run(fail_without_changes, &h, &ch, true);
        assert_eq!(t.result, Some(false));
        assert_eq!(t.comment, "If we weren't testing, this would be a failure!");
    }

    #[test]
    fn configurable_state_follows_its_arguments() {
        let h = host();
        let ch = chunk(
            "test",
            "configurable_test_state",
            "x",
            json!({"changes": false, "result": false, "comment": "c"}),
        );
        let r = run(configurable_test_state, &h, &ch, false);
        assert_eq!((r.result, r.comment.as_str()), (Some(false), "c"));
        assert!(r.changes.is_empty());
        assert_eq!(
            run(configurable_test_state, &h, &ch, true).result,
            Some(true)
        );
        let bad = chunk(
            "test",
            "configurable_test_state",
            "x",
            json!({"result": "maybe"}),
        );
        assert_eq!(
            run(configurable_test_state, &h, &bad, false).result,
            Some(false)
        );
    }

    #[test]
    fn show_notification_needs_text() {
        let h = host();
        let ok = chunk("test", "show_notification", "n", json!({"text": "hello"}));
        assert_eq!(run(show_notification, &h, &ok, false).comment, "hello");
        let bad = chunk("test", "show_notification", "n", json!({}));
        assert_eq!(run(show_notification, &h, &bad, false).result, Some(false));
    }

    #[test]
    fn mod_watch_lists_the_changed_requisites() {
        let h = host();
        let ch = chunk(
            "test",
            "succeed_without_changes",
            "n",
            json!({"__watch_changes__": ["file: config_file"]}),
        );
        let r = run(mod_watch, &h, &ch, false);
        assert_eq!(r.comment, "Watch statement fired.");
        assert_eq!(
            r.changes["Requisites with changes"],
            json!(["file: config_file"])
        );
    }
}
