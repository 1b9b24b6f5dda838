//! Salt's `user` states: `present` (uid, gid, groups, home, shell,
//! fullname) and `absent`, through `user.info`, `user.add`, `user.ch*` and
//! `user.delete`.

use serde_json::{Map, Value, json};

use super::{call, changed, list_of, name_of, one, pending, str_of, text, truthy};
use crate::lowstate::{StateCall, StateModules, StateResult};

pub fn register(m: &mut StateModules) {
    m.register("user.present", present);
    m.register("user.absent", absent);
}

fn info(c: &StateCall<'_>) -> Result<Map<String, Value>, String> {
    let v = call(c.host, "user.info", vec![json!(name_of(c))], &[])?;
    Ok(v.as_object().cloned().unwrap_or_default())
}

/// A `gid` given as a group name, as a number.
fn gid_of(c: &StateCall<'_>) -> Result<Option<String>, String> {
    let Some(gid) = str_of(c.chunk, "gid") else {
        return Ok(None);
    };
    if gid.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Some(gid));
    }
    let g = call(c.host, "group.info", vec![json!(gid)], &[])?;
    g.get("gid")
        .map(|v| Some(text(v)))
        .ok_or_else(|| format!("Group {gid} does not exist"))
}

/// The `groups` the state lists that do not exist (Salt checks each with
/// `group.info`).
fn missing_groups(c: &StateCall<'_>) -> Result<Vec<String>, String> {
    let mut missing = Vec::new();
    for g in list_of(c.chunk, "groups") {
        if !truthy(&call(c.host, "group.info", vec![json!(g)], &[])?) {
            missing.push(g);
        }
    }
    Ok(missing)
}

/// The attributes that differ: key -> wanted value, with the `user.ch*`
/// function. `missing` groups are left out of the comparison (test mode:
/// a `group.present` may create them first).
fn differences(
    c: &StateCall<'_>,
    cur: &Map<String, Value>,
    missing: &[String],
) -> Result<Vec<(&'static str, Value, &'static str)>, String> {
    let mut out = Vec::new();
    let is = |k: &str| cur.get(k).map(text).unwrap_or_default();
    for (key, fun) in [
        ("uid", "user.chuid"),
        ("home", "user.chhome"),
        ("shell", "user.chshell"),
        ("fullname", "user.chfullname"),
    ] {
        if let Some(want) = str_of(c.chunk, key).filter(|w| *w != is(key)) {
            out.push((key, json!(want), fun));
        }
    }
    if let Some(gid) = gid_of(c)?.filter(|g| *g != is("gid")) {
        out.push(("gid", json!(gid), "user.chgid"));
    }
    if c.chunk.arg("groups").is_some() {
        let want: Vec<String> = list_of(c.chunk, "groups")
            .into_iter()
            .filter(|g| !missing.contains(g))
            .collect();
        let have: Vec<String> = cur
            .get("groups")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default();
        let primary = is("gid");
        let missing = want.iter().any(|g| !have.contains(g));
        let extra = c.chunk.bool_arg("remove_groups", true)
            && have
                .iter()
                .any(|g| !want.contains(g) && *g != name_of(c) && *g != primary);
        if missing || extra {
            out.push(("groups", json!(want), "user.chgroups"));
        }
    }
    Ok(out)
}

fn present(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let run = || -> Result<StateResult, String> {
        // A comma separates GECOS fields: Salt refuses it in these.
        for field in ["fullname", "roomnumber", "workphone"] {
            if let Some(v) = c.chunk.arg(field).and_then(|v| v.as_str())
                && v.contains(',')
            {
                return Ok(StateResult::fail(
                    name,
                    format!("Unsupported char ',' in {v}"),
                ));
            }
        }
        let missing = missing_groups(c)?;
        if !missing.is_empty() && !c.test {
            return Ok(StateResult::fail(
                name,
                format!(
                    "The following group(s) are not present: {}",
                    missing.join(",")
                ),
            ));
        }
        let cur = info(c)?;
        if cur.is_empty() {
            return create(c, &missing);
        }
        let diffs = differences(c, &cur, &missing)?;
        if diffs.is_empty() {
            return Ok(StateResult::ok(
                name,
                format!("User {name} is present and up to date"),
            ));
        }
        let changes: Map<String, Value> = diffs
            .iter()
            .map(|(k, v, _)| ((*k).to_string(), v.clone()))
            .collect();
        if c.test {
            let mut lines: String = diffs
                .iter()
                .map(|(k, v, _)| format!("{k}: {}\n", text(v)))
                .collect();
            if !missing.is_empty() {
                lines.push_str(&format!(
                    "groups (pending creation): {}\n",
                    missing.join(",")
                ));
            }
            return Ok(pending(
                name,
                format!("The following user attributes are set to be changed:\n{lines}"),
                Map::new(),
            ));
        }
        for (key, value, fun) in &diffs {
            let extra: &[(&str, Value)] = if *key == "groups" {
                &[("append", json!(!c.chunk.bool_arg("remove_groups", true)))]
            } else {
                &[]
            };
            call(c.host, fun, vec![json!(name), value.clone()], extra)?;
        }
        Ok(changed(name, format!("Updated user {name}"), changes))
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

fn create(c: &StateCall<'_>, missing: &[String]) -> Result<StateResult, String> {
    let name = name_of(c);
    if c.test {
        let mut comment = format!("User {name} set to be added");
        if !missing.is_empty() {
            comment.push_str(&format!(" (pending groups: {})", missing.join(",")));
        }
        return Ok(pending(name, comment, Map::new()));
    }
    let mut kw: Vec<(&str, Value)> = [
        "uid",
        "groups",
        "home",
        "shell",
        "fullname",
        "system",
        "createhome",
        "usergroup",
        "unique",
    ]
    .into_iter()
    .filter_map(|k| c.chunk.arg(k).map(|v| (k, v.clone())))
    .collect();
    if let Some(gid) = gid_of(c)? {
        kw.push(("gid", json!(gid)));
    }
    let ok = call(c.host, "user.add", vec![json!(name)], &kw)?;
    if ok == json!(false) {
        return Ok(StateResult::fail(
            name,
            format!("Failed to create new user {name}"),
        ));
    }
    let now = info(c)?;
    Ok(changed(name, format!("New user {name} created"), now))
}

fn absent(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let run = || -> Result<StateResult, String> {
        if info(c)?.is_empty() {
            return Ok(StateResult::ok(name, format!("User {name} is not present")));
        }
        if c.test {
            return Ok(pending(
                name,
                format!("User {name} set for removal"),
                Map::new(),
            ));
        }
        let kw = [
            ("remove", json!(c.chunk.bool_arg("purge", false))),
            ("force", json!(c.chunk.bool_arg("force", false))),
        ];
        call(c.host, "user.delete", vec![json!(name)], &kw)?;
        Ok(changed(
            name,
            format!("Removed user {name}"),
            one(name, json!("removed")),
        ))
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run};

    fn host() -> MockHost {
        MockHost::new(|f, args, _| match f {
            "user.info" if args.first() == Some(&json!("alice")) => Ok(
                json!({"name": "alice", "uid": 1001, "gid": 1001, "groups": ["alice", "sudo"], "home": "/home/alice", "shell": "/bin/bash", "fullname": "Alice"}),
            ),
            "user.info" => Ok(json!({})),
            "group.info" if args.first() == Some(&json!("sudo")) => {
                Ok(json!({"name": "sudo", "gid": 27, "members": ["alice"]}))
            }
            "group.info" => Ok(json!({})),
            "user.chshell" | "user.add" => Ok(json!(true)),
            _ => Err(format!("unexpected {f}")),
        })
    }

    #[test]
    fn present_user_in_the_right_state_is_left_alone() {
        let h = host();
        let ch = chunk(
            "user",
            "present",
            "alice",
            json!({"uid": 1001, "shell": "/bin/bash", "groups": ["sudo"]}),
        );
        assert_eq!(
            run(present, &h, &ch, false).comment,
            "User alice is present and up to date"
        );
    }

    #[test]
    fn a_changed_shell_is_changed() {
        let h = host();
        let ch = chunk("user", "present", "alice", json!({"shell": "/bin/zsh"}));
        let t = run(present, &h, &ch, true);
        assert_eq!(t.result, None);
        assert!(t.comment.contains("shell: /bin/zsh"));
        let r = run(present, &h, &ch, false);
        assert_eq!(r.changes["shell"], json!("/bin/zsh"));
        assert_eq!(r.comment, "Updated user alice");
    }

    #[test]
    fn a_missing_user_is_predicted_then_added() {
        let h = host();
        let ch = chunk("user", "present", "bob", json!({"home": "/srv/bob"}));
        assert_eq!(
            run(present, &h, &ch, true).comment,
            "User bob set to be added"
        );
        run(present, &h, &ch, false);
        assert_eq!(h.calls_to("user.add")[0].kwargs["home"], json!("/srv/bob"));
    }

    #[test]
    fn missing_groups_are_pending_in_test_mode() {
        let h = host();
        let ch = chunk("user", "present", "bob", json!({"groups": ["bob", "sudo"]}));
        let r = run(present, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(r.comment, "User bob set to be added (pending groups: bob)");
        let r = run(present, &h, &ch, false);
        assert_eq!(r.result, Some(false));
        assert_eq!(r.comment, "The following group(s) are not present: bob");
        assert!(!h.called("user.add"));
    }

    #[test]
    fn missing_groups_of_an_existing_user_are_listed_after_the_changes() {
        let h = host();
        let ch = chunk(
            "user",
            "present",
            "alice",
            json!({"groups": ["sudo", "devs"], "shell": "/bin/zsh"}),
        );
        let r = run(present, &h, &ch, true);
        assert_eq!(
            r.comment,
            "The following user attributes are set to be changed:\nshell: /bin/zsh\ngroups (pending creation): devs\n"
        );
    }

    #[test]
    fn a_comma_in_a_gecos_field_is_refused() {
        let h = host();
        let ch = chunk("user", "present", "bob", json!({"fullname": "Bob, Jr"}));
        let r = run(present, &h, &ch, true);
        assert_eq!(r.result, Some(false));
        assert_eq!(r.comment, "Unsupported char ',' in Bob, Jr");
    }
}
