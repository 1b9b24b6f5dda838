//! Salt's `ssh_known_hosts` states: `present` (a host's key in a user's or
//! the system's `known_hosts`, given as the key itself, its fingerprint, or
//! fetched with `ssh-keyscan`) and `absent`, through `ssh.check_known_host`,
//! `ssh.set_known_host`, `ssh.get_known_host_entries` and
//! `ssh.rm_known_host`. Texts and the order of the checks are Salt's.

use serde_json::{Value, json};

use super::{call, name_of, str_of, text, truthy};
use crate::lowstate::{StateCall, StateModules, StateResult};

pub fn register(m: &mut StateModules) {
    m.register("ssh_known_hosts.present", present);
    m.register("ssh_known_hosts.absent", absent);
}

/// The `known_hosts` file: the user's relative one, or the system's.
fn config_of(c: &StateCall<'_>, user: Option<&str>) -> Result<String, &'static str> {
    let config = str_of(c.chunk, "config").unwrap_or_else(|| {
        if user.is_some() {
            ".ssh/known_hosts".into()
        } else {
            "/etc/ssh/ssh_known_hosts".into()
        }
    });
    if user.is_none() && !config.starts_with('/') {
        return Err("If not specifying a \"user\", specify an absolute \"config\".");
    }
    Ok(config)
}

/// An argument as given (`Null` when absent).
fn given(c: &StateCall<'_>, key: &str) -> Value {
    c.chunk.arg(key).cloned().unwrap_or(Value::Null)
}

/// The error of an `ssh.*` answer that is Salt's `{"status": "error", ...}`.
fn error_of(v: &Value) -> Option<String> {
    v.as_object().and_then(|m| m.get("error")).map(text)
}

fn present(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let user = str_of(c.chunk, "user");
    let config = match config_of(c, user.as_deref()) {
        Ok(config) => config,
        Err(msg) => return StateResult::fail(name, msg),
    };
    let (key, fingerprint, enc) = (given(c, "key"), given(c, "fingerprint"), given(c, "enc"));
    let hash_type = given(c, "fingerprint_hash_type");
    let port = given(c, "port");
    let run = || -> Result<StateResult, String> {
        if c.test {
            return present_test(c, user.as_deref(), &config);
        }
        let result = call(
            c.host,
            "ssh.set_known_host",
            vec![],
            &[
                ("user", user.clone().map_or(Value::Null, Value::from)),
                ("hostname", json!(name)),
                ("fingerprint", fingerprint.clone()),
                ("key", key.clone()),
                ("port", port.clone()),
                ("enc", enc.clone()),
                ("config", json!(config)),
                (
                    "hash_known_hosts",
                    json!(c.chunk.bool_arg("hash_known_hosts", true)),
                ),
                ("timeout", given(c, "timeout")),
                ("fingerprint_hash_type", hash_type.clone()),
            ],
        )?;
        let status = result.get("status").map(text).unwrap_or_default();
        if status == "exists" {
            return Ok(StateResult::ok(
                name,
                format!("{name} already exists in {config}"),
            ));
        }
        if status == "error" {
            return Ok(StateResult::fail(
                name,
                error_of(&result).unwrap_or_default(),
            ));
        }
        let new = result.get("new").cloned().unwrap_or(Value::Null);
        let first = |field: &str| new.get(0).and_then(|e| e.get(field)).map(text);
        let comment = if truthy(&key) {
            format!(
                "{name}'s key saved to {config} (key: {})",
                first("key").unwrap_or_default()
            )
        } else if truthy(&fingerprint) {
            format!(
                "{name}'s key saved to {config} (fingerprint: {})",
                first("fingerprint").unwrap_or_default()
            )
        } else if truthy(&enc) {
            format!(
                "{name}'s {} key saved to {config} (key: {})",
                text(&enc),
                first("key").unwrap_or_default()
            )
        } else {
            format!("{name}'s key(s) saved to {config}")
        };
        let mut changes = serde_json::Map::new();
        changes.insert(
            "old".into(),
            result.get("old").cloned().unwrap_or(Value::Null),
        );
        changes.insert("new".into(), new);
        Ok(super::changed(name, comment, changes))
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

/// Salt's test-mode checks of `present`.
fn present_test(
    c: &StateCall<'_>,
    user: Option<&str>,
    config: &str,
) -> Result<StateResult, String> {
    let name = name_of(c);
    let (key, fingerprint) = (given(c, "key"), given(c, "fingerprint"));
    if truthy(&key) && truthy(&fingerprint) {
        return Ok(StateResult::fail(
            name,
            "Specify either \"key\" or \"fingerprint\", not both.",
        ));
    }
    if truthy(&key) && !truthy(&given(c, "enc")) {
        return Ok(StateResult::fail(
            name,
            "Required argument \"enc\" if using \"key\" argument.",
        ));
    }
    let result = call(
        c.host,
        "ssh.check_known_host",
        vec![user.map_or(Value::Null, Value::from), json!(name)],
        &[
            ("key", key),
            ("fingerprint", fingerprint),
            ("config", json!(config)),
            ("port", given(c, "port")),
            ("fingerprint_hash_type", given(c, "fingerprint_hash_type")),
        ],
    )
    .map_err(|e| format!("ssh.check_known_host error: {e}"))?;
    if let Some(err) = error_of(&result) {
        return Ok(StateResult::fail(name, err));
    }
    Ok(match text(&result).as_str() {
        "exists" => StateResult::ok(name, format!("Host {name} is already in {config}")),
        "add" => super::pending(
            name,
            format!("Key for {name} is set to be added to {config}"),
            serde_json::Map::new(),
        ),
        _ => super::pending(
            name,
            format!("Key for {name} is set to be updated in {config}"),
            serde_json::Map::new(),
        ),
    })
}

fn absent(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let user = str_of(c.chunk, "user");
    let config = match config_of(c, user.as_deref()) {
        Ok(config) => config,
        Err(msg) => return StateResult::fail(name, msg),
    };
    let user_arg = user.clone().map_or(Value::Null, Value::from);
    let run = || -> Result<StateResult, String> {
        let known = call(
            c.host,
            "ssh.get_known_host_entries",
            // `user` goes by position: a keyword would drop its None.
            vec![user_arg.clone(), json!(name)],
            &[("config", json!(config))],
        )?;
        // Salt tests the answer's truth only: an error dict (a user that
        // does not exist) counts as a host entry found.
        if !truthy(&known) {
            return Ok(StateResult::ok(name, "Host is already absent"));
        }
        if c.test {
            return Ok(super::pending(
                name,
                format!("Key for {name} is set to be removed from {config}"),
                serde_json::Map::new(),
            ));
        }
        let removed = call(
            c.host,
            "ssh.rm_known_host",
            // `user` goes by position: a keyword would drop its None.
            vec![user_arg.clone(), json!(name)],
            &[("config", json!(config))],
        )?;
        if removed.get("status").map(text).as_deref() == Some("error") {
            return Ok(StateResult::fail(
                name,
                error_of(&removed).unwrap_or_default(),
            ));
        }
        let mut changes = serde_json::Map::new();
        changes.insert("old".into(), known);
        changes.insert("new".into(), Value::Null);
        Ok(super::changed(
            name,
            removed.get("comment").map(text).unwrap_or_default(),
            changes,
        ))
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run};

    fn no_user_host() -> MockHost {
        MockHost::new(|f, _, _| match f {
            "ssh.get_known_host_entries" | "ssh.check_known_host" | "ssh.rm_known_host" => {
                Ok(json!({"status": "error", "error": "User buser does not exist"}))
            }
            _ => Err(format!("unexpected {f}")),
        })
    }

    #[test]
    fn key_and_fingerprint_together_are_refused_in_test_mode() {
        let h = no_user_host();
        let ch = chunk(
            "ssh_known_hosts",
            "present",
            "importanthost",
            json!({"user": "buser", "key": "AAAA", "fingerprint": "aa:bb", "enc": "ssh-rsa"}),
        );
        let r = run(present, &h, &ch, true);
        assert_eq!(r.result, Some(false));
        assert_eq!(
            r.comment,
            "Specify either \"key\" or \"fingerprint\", not both."
        );
        assert!(!h.called("ssh.check_known_host"));
    }

    #[test]
    fn a_key_without_enc_is_refused_in_test_mode() {
        let h = no_user_host();
        let ch = chunk(
            "ssh_known_hosts",
            "present",
            "h",
            json!({"user": "buser", "key": "AAAA"}),
        );
        assert_eq!(
            run(present, &h, &ch, true).comment,
            "Required argument \"enc\" if using \"key\" argument."
        );
    }

    #[test]
    fn an_unknown_user_looks_like_a_host_to_remove_in_test_mode() {
        let h = no_user_host();
        let ch = chunk(
            "ssh_known_hosts",
            "absent",
            "notimportanthost",
            json!({"user": "buser"}),
        );
        let r = run(absent, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(
            r.comment,
            "Key for notimportanthost is set to be removed from .ssh/known_hosts"
        );
        let r = run(absent, &h, &ch, false);
        assert_eq!(r.result, Some(false));
        assert_eq!(r.comment, "User buser does not exist");
    }

    #[test]
    fn check_known_host_answers_become_comments() {
        let h = MockHost::new(|f, args, _| match (f, args.get(1)) {
            ("ssh.check_known_host", Some(h)) if h == "known" => Ok(json!("exists")),
            ("ssh.check_known_host", _) => Ok(json!("add")),
            ("ssh.get_known_host_entries", _) => Ok(Value::Null),
            _ => Err(format!("unexpected {f}")),
        });
        let ch = chunk(
            "ssh_known_hosts",
            "present",
            "known",
            json!({"config": "/etc/ssh/ssh_known_hosts"}),
        );
        let r = run(present, &h, &ch, true);
        assert_eq!(r.result, Some(true));
        assert_eq!(
            r.comment,
            "Host known is already in /etc/ssh/ssh_known_hosts"
        );
        let ch = chunk("ssh_known_hosts", "present", "new", json!({"user": "u"}));
        let r = run(present, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(
            r.comment,
            "Key for new is set to be added to .ssh/known_hosts"
        );
        let ch = chunk("ssh_known_hosts", "absent", "gone", json!({"user": "u"}));
        assert_eq!(run(absent, &h, &ch, true).comment, "Host is already absent");
        let ch = chunk(
            "ssh_known_hosts",
            "absent",
            "gone",
            json!({"config": "/etc/ssh/ssh_known_hosts"}),
        );
        assert_eq!(run(absent, &h, &ch, true).comment, "Host is already absent");
        let lookup = h.calls_to("ssh.get_known_host_entries");
        assert_eq!(lookup[1].args, vec![Value::Null, json!("gone")]);
    }

    #[test]
    fn a_relative_config_needs_a_user() {
        let h = no_user_host();
        let ch = chunk(
            "ssh_known_hosts",
            "absent",
            "h",
            json!({"config": "known_hosts"}),
        );
        let r = run(absent, &h, &ch, true);
        assert_eq!(r.result, Some(false));
        assert_eq!(
            r.comment,
            "If not specifying a \"user\", specify an absolute \"config\"."
        );
    }

    #[test]
    fn a_saved_key_reports_the_old_and_new_entries() {
        let h = MockHost::new(|f, _, _| match f {
            "ssh.set_known_host" => Ok(json!({
                "status": "updated",
                "old": null,
                "new": [{"hostname": "h", "enc": "ssh-ed25519", "key": "AAAA", "fingerprint": "aa"}]
            })),
            _ => Err(format!("unexpected {f}")),
        });
        let ch = chunk(
            "ssh_known_hosts",
            "present",
            "h",
            json!({"user": "u", "fingerprint": "aa"}),
        );
        let r = run(present, &h, &ch, false);
        assert_eq!(
            r.comment,
            "h's key saved to .ssh/known_hosts (fingerprint: aa)"
        );
        assert_eq!(r.changes["old"], Value::Null);
    }
}
