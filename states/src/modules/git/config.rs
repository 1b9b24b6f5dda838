//! Salt's `git.config_set` and `git.config_unset` states: a key of a
//! repository's config (`repo`) or of a user's global config
//! (`global: True`, as `user`) set to a value or a multivar, or unset,
//! through `git.config_get`, `git.config_get_regexp`, `git.config_set` and
//! `git.config_unset`. Comments and changes are Salt's.
//!
//! Where Salt lets an execution error escape (a `user` the system does not
//! know makes `cmd.run_all` raise "User '...' is not available", and Salt
//! prints a traceback), the state fails with that error's text.

use brine_common::output::python::repr;
use serde_json::{Map, Value, json};

use crate::lowstate::{StateCall, StateResult};
use crate::modules::{call, name_of, one, pending, str_of, text};

/// An execution error's own text, without the execution layer's `ERROR: `
/// and Salt's `Command '...' failed: ` (Salt's `_strip_exc`).
pub(super) fn strip_exc(e: &str) -> String {
    let e = crate::modules::exc_text(e);
    if let Some(rest) = e.strip_prefix("Command ")
        && let Some(i) = rest.find(" failed: ")
        && rest.starts_with(['\'', '"'])
    {
        return rest[i + " failed: ".len()..].to_string();
    }
    e.to_string()
}

/// What both states share: where the config is and as whom git runs.
struct Target {
    repo: Value,
    user: Value,
    password: Value,
    output_encoding: Value,
    global: bool,
}

impl Target {
    fn of(c: &StateCall<'_>) -> Result<Target, &'static str> {
        let global = c.chunk.bool_arg("global", false);
        let repo = str_of(c.chunk, "repo");
        if !global && repo.is_none() {
            return Err("Non-global config options require the 'repo' argument to be set");
        }
        let given = |k: &str| c.chunk.arg(k).cloned().unwrap_or(Value::Null);
        Ok(Target {
            repo: repo.map_or(Value::Null, Value::from),
            user: given("user"),
            password: given("password"),
            output_encoding: given("output_encoding"),
            global,
        })
    }

    /// `Global key ` before a key's name when the config is global.
    fn prefix(&self, capital: bool) -> &'static str {
        match (self.global, capital) {
            (false, _) => "",
            (true, true) => "Global key ",
            (true, false) => "global key ",
        }
    }

    /// Call a `git.config_*` function with the shared keyword arguments.
    fn call(&self, c: &StateCall<'_>, fun: &str, extra: &[(&str, Value)]) -> Result<Value, String> {
        let mut kw: Vec<(&str, Value)> = vec![
            ("cwd", self.repo.clone()),
            ("user", self.user.clone()),
            ("password", self.password.clone()),
            ("output_encoding", self.output_encoding.clone()),
            ("global", json!(self.global)),
        ];
        kw.extend(extra.iter().cloned());
        call(c.host, fun, vec![], &kw).map_err(|e| strip_exc(&e))
    }

    /// `git.config_get_regexp` for `key` (and `value_regex`), as a map.
    fn matches(
        &self,
        c: &StateCall<'_>,
        key: &str,
        value_regex: &Value,
    ) -> Result<Map<String, Value>, String> {
        let found = self.call(
            c,
            "git.config_get_regexp",
            &[
                ("key", json!(key)),
                ("value_regex", value_regex.clone()),
                ("ignore_retcode", json!(true)),
            ],
        )?;
        Ok(found.as_object().cloned().unwrap_or_default())
    }
}

/// The wanted values and how Salt quotes them in comments.
fn desired(c: &StateCall<'_>) -> Result<(Vec<String>, String), String> {
    let value = c.chunk.arg("value").filter(|v| !v.is_null());
    let multivar = c.chunk.arg("multivar").filter(|v| !v.is_null());
    match (value, multivar) {
        (Some(_), Some(_)) => Err("Only one of 'value' and 'multivar' is permitted".into()),
        (Some(v), None) => {
            let v = text(v);
            Ok((vec![v.clone()], format!("'{v}'")))
        }
        (None, Some(m)) => {
            let list: Vec<String> = match m {
                Value::Array(items) => items.iter().map(text).collect(),
                other => text(other).split(',').map(String::from).collect(),
            };
            let comment = repr(&json!(list));
            Ok((list, comment))
        }
        (None, None) => Err("One of 'value' and 'multivar' is required".into()),
    }
}

/// `git.config_set`: the key holds exactly the wanted value(s).
pub(super) fn config_set(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let (want, quoted) = match desired(c) {
        Ok(d) => d,
        Err(e) => return StateResult::fail(name, e),
    };
    let target = match Target::of(c) {
        Ok(t) => t,
        Err(msg) => return StateResult::fail(name, msg),
    };
    let run = || -> Result<StateResult, String> {
        let pre = target.call(
            c,
            "git.config_get",
            &[
                ("key", json!(name)),
                ("ignore_retcode", json!(true)),
                ("all", json!(true)),
            ],
        )?;
        let want_value = json!(want);
        let key_label = format!("{}'{name}'", target.prefix(true));
        if pre == want_value {
            return Ok(StateResult::ok(
                name,
                format!("{key_label} is already set to {quoted}"),
            ));
        }
        let verb = if pre.is_null() { "added as" } else { "set to" };
        if c.test {
            let mut changes = Map::new();
            changes.insert("old".into(), pre);
            changes.insert("new".into(), want_value);
            return Ok(pending(
                name,
                format!("{key_label} would be {verb} {quoted}"),
                changes,
            ));
        }
        let (value, multivar) = match c.chunk.arg("value").filter(|v| !v.is_null()) {
            Some(_) => (json!(want[0]), Value::Null),
            None => (Value::Null, json!(want)),
        };
        let failed = |detail: &str| {
            format!(
                "Failed to set {}'{name}' to {quoted}{detail}",
                target.prefix(false)
            )
        };
        let post = match target.call(
            c,
            "git.config_set",
            &[
                ("key", json!(name)),
                ("value", value),
                ("multivar", multivar),
            ],
        ) {
            Ok(post) => post,
            Err(e) => return Ok(StateResult::fail(name, failed(&format!(": {e}")))),
        };
        let changes = if pre == post {
            Map::new()
        } else {
            one(name, json!({"old": pre, "new": post}))
        };
        let result = if post == want_value {
            StateResult::ok(name, format!("{key_label} was {verb} {quoted}"))
        } else {
            StateResult::fail(name, failed(""))
        };
        Ok(StateResult { changes, ..result })
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

/// `key (v1, v2)` for each key with more than one value.
fn multivalued(matches: &Map<String, Value>) -> Vec<String> {
    matches
        .iter()
        .filter_map(|(k, v)| {
            let values: Vec<String> = v.as_array()?.iter().map(text).collect();
            (values.len() > 1).then(|| format!("{k} ({})", values.join(", ")))
        })
        .collect()
}

/// `git.config_unset`: no key matching `name` (and `value_regex`) is set.
pub(super) fn config_unset(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let target = match Target::of(c) {
        Ok(t) => t,
        Err(msg) => return StateResult::fail(name, msg),
    };
    let value_regex = c
        .chunk
        .arg("value_regex")
        .filter(|v| !v.is_null())
        .map_or(Value::Null, |v| json!(text(v)));
    let all = c.chunk.bool_arg("all", false);
    // The key expression must match whole key names.
    let key = format!("^{}$", name.trim_start_matches('^').trim_end_matches('$'));
    let run = || -> Result<StateResult, String> {
        let pre_matches = target.matches(c, &key, &value_regex)?;
        if pre_matches.is_empty() {
            return Ok(StateResult::ok(name, "No matching keys are set"));
        }
        let greedy = multivalued(&pre_matches);
        if !all && !greedy.is_empty() {
            let what = if value_regex.is_null() {
                "Multivar(s) matched by the key expression (set 'all' to True to force removal)"
            } else {
                "Multiple values are matched by value_regex for the following keys (set 'all' to True to force removal)"
            };
            return Ok(StateResult::fail(
                name,
                format!("{what}: {}", greedy.join("; ")),
            ));
        }
        if c.test {
            return Ok(pending(
                name,
                format!("{} key(s) would have value(s) unset", pre_matches.len()),
                pre_matches,
            ));
        }
        unset_matches(c, &target, &key, &value_regex, all, pre_matches)
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

/// Unset what matched, then report what went.
fn unset_matches(
    c: &StateCall<'_>,
    target: &Target,
    key: &str,
    value_regex: &Value,
    all: bool,
    pre_matches: Map<String, Value>,
) -> Result<StateResult, String> {
    let name = name_of(c);
    let pre = if value_regex.is_null() {
        pre_matches.clone()
    } else {
        target.matches(c, key, &Value::Null)?
    };
    let failed: Vec<&String> = pre_matches
        .keys()
        .filter(|_| {
            target
                .call(
                    c,
                    "git.config_unset",
                    &[
                        ("key", json!(name)),
                        ("value_regex", value_regex.clone()),
                        ("all", json!(all)),
                    ],
                )
                .is_err()
        })
        .collect();
    if !failed.is_empty() {
        let keys: Vec<&str> = failed.iter().map(|k| k.as_str()).collect();
        return Ok(StateResult::fail(
            name,
            format!(
                "Error(s) occurred unsetting values for the following keys (see the minion log for details): {}",
                keys.join(", ")
            ),
        ));
    }
    let post = target.matches(c, key, &Value::Null)?;
    let mut changes = Map::new();
    for (key_name, values) in &pre {
        let after = post.get(key_name).and_then(Value::as_array);
        let unset: Vec<Value> = values
            .as_array()
            .map(|v| {
                v.iter()
                    .filter(|x| !after.is_some_and(|a| a.contains(x)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if !unset.is_empty() {
            changes.insert(key_name.clone(), Value::Array(unset));
        }
    }
    let post_matches = if value_regex.is_null() {
        post
    } else {
        target.matches(c, key, value_regex)?
    };
    if !post_matches.is_empty() {
        let left: Vec<String> = post_matches
            .iter()
            .map(|(k, v)| {
                let values: Vec<String> = v
                    .as_array()
                    .map(|a| a.iter().map(text).collect())
                    .unwrap_or_default();
                format!("{k} ({})", values.join(", "))
            })
            .collect();
        return Ok(StateResult {
            changes,
            ..StateResult::fail(
                name,
                format!("Failed to unset value(s): {}", left.join("; ")),
            )
        });
    }
    Ok(StateResult {
        changes,
        ..StateResult::ok(name, "Value(s) successfully unset")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run};

    fn no_user_host() -> MockHost {
        MockHost::new(|f, _, _| match f {
            "git.config_get" | "git.config_get_regexp" => {
                Err("ERROR: User 'buser' is not available".into())
            }
            _ => Err(format!("unexpected {f}")),
        })
    }

    #[test]
    fn a_user_that_does_not_exist_fails_cleanly() {
        let h = no_user_host();
        let ch = chunk(
            "git",
            "config_set",
            "user.name",
            json!({"value": "B User", "user": "buser", "global": true}),
        );
        let r = run(config_set, &h, &ch, true);
        assert_eq!(r.result, Some(false));
        assert_eq!(r.comment, "User 'buser' is not available");
        let ch = chunk(
            "git",
            "config_unset",
            "push.default",
            json!({"user": "buser", "global": true, "all": true}),
        );
        let r = run(config_unset, &h, &ch, true);
        assert_eq!(r.result, Some(false));
        assert_eq!(r.comment, "User 'buser' is not available");
        assert_eq!(
            h.calls_to("git.config_get_regexp")[0].kwargs["key"],
            json!("^push.default$")
        );
    }

    #[test]
    fn a_new_global_key_is_predicted_then_set() {
        let h = MockHost::new(|f, _, _| match f {
            "git.config_get" => Ok(Value::Null),
            "git.config_set" => Ok(json!(["Foo"])),
            _ => Err(format!("unexpected {f}")),
        });
        let ch = chunk(
            "git",
            "config_set",
            "user.name",
            json!({"value": "Foo", "global": true}),
        );
        let r = run(config_set, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(r.comment, "Global key 'user.name' would be added as 'Foo'");
        assert_eq!(r.changes["old"], Value::Null);
        assert_eq!(r.changes["new"], json!(["Foo"]));
        let r = run(config_set, &h, &ch, false);
        assert_eq!(r.comment, "Global key 'user.name' was added as 'Foo'");
        assert_eq!(r.changes["user.name"], json!({"old": null, "new": ["Foo"]}));
    }

    #[test]
    fn a_set_multivar_is_left_alone() {
        let h = MockHost::new(|f, _, _| match f {
            "git.config_get" => Ok(json!(["a", "b"])),
            _ => Err(format!("unexpected {f}")),
        });
        let ch = chunk(
            "git",
            "config_set",
            "foo.bar",
            json!({"multivar": "a,b", "repo": "/srv/repo"}),
        );
        let r = run(config_set, &h, &ch, true);
        assert_eq!(r.result, Some(true));
        assert_eq!(r.comment, "'foo.bar' is already set to ['a', 'b']");
    }

    #[test]
    fn arguments_are_checked_first() {
        let h = no_user_host();
        let ch = chunk("git", "config_set", "k", json!({"value": "v"}));
        assert_eq!(
            run(config_set, &h, &ch, true).comment,
            "Non-global config options require the 'repo' argument to be set"
        );
        let ch = chunk(
            "git",
            "config_set",
            "k",
            json!({"value": "v", "multivar": ["a"], "global": true}),
        );
        assert_eq!(
            run(config_set, &h, &ch, true).comment,
            "Only one of 'value' and 'multivar' is permitted"
        );
    }

    #[test]
    fn matching_keys_are_predicted_then_unset() {
        let h = MockHost::new(|f, _, kw| match f {
            "git.config_get_regexp" if kw.get("cwd") == Some(&json!("/r")) => {
                Ok(json!({"color.ui": ["auto"], "color.diff": ["a", "b"]}))
            }
            "git.config_unset" => Ok(json!(true)),
            _ => Err(format!("unexpected {f}")),
        });
        let ch = chunk("git", "config_unset", "color\\..+", json!({"repo": "/r"}));
        let r = run(config_unset, &h, &ch, true);
        assert_eq!(r.result, Some(false));
        assert_eq!(
            r.comment,
            "Multivar(s) matched by the key expression (set 'all' to True to force removal): color.diff (a, b)"
        );
        let ch = chunk(
            "git",
            "config_unset",
            "color\\..+",
            json!({"repo": "/r", "all": true}),
        );
        let r = run(config_unset, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(r.comment, "2 key(s) would have value(s) unset");
        assert_eq!(r.changes["color.ui"], json!(["auto"]));
    }

    #[test]
    fn salts_command_prefix_is_stripped_from_errors() {
        assert_eq!(
            strip_exc("ERROR: Command 'git config --global k v' failed: error: could not lock"),
            "error: could not lock"
        );
        assert_eq!(strip_exc("plain"), "plain");
    }
}
