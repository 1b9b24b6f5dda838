//! Salt's `group` states: `present` (gid, `members`, `addusers`,
//! `delusers`) and `absent`, through `group.info`, `group.add`,
//! `group.chgid`, `group.members`, `group.adduser`/`deluser`, `group.delete`.
//!
//! `present` follows Salt's `_changes`: each wanted change is reported in
//! test mode as `key: value` with Python's `str()` of the value (so
//! `members: ['www-data', 'openldap']`, in the order the state gave them),
//! and after a real run the changes are checked again.

use brine_common::output::python::{repr, str_repr};
use serde_json::{Map, Value, json};

use super::{call, changed, list_of, name_of, one, pending, str_of, text, truthy};
use crate::lowstate::{StateCall, StateModules, StateResult};

pub fn register(m: &mut StateModules) {
    m.register("group.present", present);
    m.register("group.absent", absent);
}

fn info(c: &StateCall<'_>) -> Result<Map<String, Value>, String> {
    let v = call(c.host, "group.info", vec![json!(name_of(c))], &[])?;
    Ok(v.as_object().cloned().unwrap_or_default())
}

/// One change Salt's `_changes` found, in its order.
#[derive(Debug, Clone, PartialEq)]
enum Change {
    Gid(i64),
    /// Replace the member list (`members`), as given.
    Members(Vec<String>),
    AddUsers(Vec<String>),
    /// Users to remove; `from_set` when Salt holds them in a Python set
    /// (`members: []` empties the group).
    DelUsers {
        users: Vec<String>,
        from_set: bool,
    },
    /// A `gid` that is not a number: Salt's `_changes` then returns its
    /// error dict, which `present` lists like changes.
    InvalidGid,
}

impl Change {
    /// Salt's comment lines for this change: `key: str(value)`.
    fn lines(&self) -> String {
        let list = |l: &[String]| repr(&json!(l));
        match self {
            Change::Gid(g) => format!("gid: {g}\n"),
            Change::Members(m) => format!("members: {}\n", list(m)),
            Change::AddUsers(a) => format!("addusers: {}\n", list(a)),
            Change::DelUsers {
                users,
                from_set: false,
            } => format!("delusers: {}\n", list(users)),
            // A Python set's order follows string hashes; sorted here.
            Change::DelUsers {
                users,
                from_set: true,
            } => {
                let items: Vec<String> = users.iter().map(|u| str_repr(u)).collect();
                format!("delusers: {{{}}}\n", items.join(", "))
            }
            Change::InvalidGid => "result: False\ncomment: Invalid gid\n".into(),
        }
    }

    /// What `changes` shows for this change when it could not be applied.
    fn entries(&self) -> Vec<(&'static str, Value)> {
        match self {
            Change::Gid(g) => vec![("gid", json!(g))],
            Change::Members(m) => vec![("members", json!(m))],
            Change::AddUsers(a) => vec![("addusers", json!(a))],
            Change::DelUsers { users, .. } => vec![("delusers", json!(users))],
            Change::InvalidGid => vec![("result", json!(false)), ("comment", json!("Invalid gid"))],
        }
    }
}

/// What the state asks for.
struct Wanted {
    gid: Option<String>,
    members: Option<Vec<String>>,
    addusers: Option<Vec<String>>,
    delusers: Option<Vec<String>>,
}

impl Wanted {
    fn of(c: &StateCall<'_>) -> Wanted {
        let given = |key: &str| {
            c.chunk
                .arg(key)
                .filter(|v| !v.is_null())
                .map(|_| list_of(c.chunk, key))
        };
        Wanted {
            gid: str_of(c.chunk, "gid"),
            members: given("members"),
            addusers: given("addusers"),
            delusers: given("delusers"),
        }
    }
}

/// Salt's `_changes`: `None` when the group does not exist.
fn changes_of(c: &StateCall<'_>, want: &Wanted) -> Result<Option<Vec<Change>>, String> {
    let cur = info(c)?;
    if cur.is_empty() {
        return Ok(None);
    }
    let have: Vec<String> = cur
        .get("members")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(text).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    if let Some(gid) = &want.gid {
        match gid.trim().parse::<i64>() {
            Ok(g) if cur.get("gid").and_then(Value::as_i64) != Some(g) => out.push(Change::Gid(g)),
            Ok(_) => {}
            Err(_) => return Ok(Some(vec![Change::InvalidGid])),
        }
    }
    let differs = |wanted: &[String]| {
        have.iter().any(|h| !wanted.contains(h)) || wanted.iter().any(|w| !have.contains(w))
    };
    match &want.members {
        Some(m) if m.is_empty() && differs(m) => {
            let mut users = have.clone();
            users.sort();
            users.dedup();
            out.push(Change::DelUsers {
                users,
                from_set: true,
            });
        }
        Some(m) if !m.is_empty() && differs(m) => out.push(Change::Members(m.clone())),
        _ => {}
    }
    if let Some(add) = &want.addusers {
        let missing: Vec<String> = add.iter().filter(|u| !have.contains(u)).cloned().collect();
        if !missing.is_empty() {
            out.push(Change::AddUsers(missing));
        }
    }
    if let Some(del) = &want.delusers {
        let present: Vec<String> = del.iter().filter(|u| have.contains(u)).cloned().collect();
        if !present.is_empty() {
            // A later `delusers` entry replaces the one `members: []` made,
            // as the key of Salt's dict does.
            out.retain(|ch| !matches!(ch, Change::DelUsers { .. }));
            out.push(Change::DelUsers {
                users: present,
                from_set: false,
            });
        }
    }
    Ok(Some(out))
}

/// Salt's argument checks before anything is looked at.
fn conflict(want: &Wanted) -> Option<&'static str> {
    if want.members.is_some() && (want.addusers.is_some() || want.delusers.is_some()) {
        return Some(
            "Error: Conflicting options \"members\" with \"addusers\" and/or \"delusers\" can not be used together. ",
        );
    }
    if let (Some(add), Some(del)) = (&want.addusers, &want.delusers)
        && add.iter().any(|a| del.contains(a))
    {
        return Some("Error. Same user(s) can not be added and deleted simultaneously");
    }
    None
}

fn present(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let want = Wanted::of(c);
    if let Some(msg) = conflict(&want) {
        return pending(name, msg, Map::new());
    }
    let run = || -> Result<StateResult, String> {
        match changes_of(c, &want)? {
            None => create(c, &want),
            Some(changes) if changes.is_empty() => Ok(StateResult::ok(
                name,
                format!("Group {name} is present and up to date"),
            )),
            Some(changes) => update(c, &want, &changes),
        }
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

/// Apply the changes of an existing group, then look again.
fn update(c: &StateCall<'_>, want: &Wanted, changes: &[Change]) -> Result<StateResult, String> {
    let name = name_of(c);
    let mut comment = String::from("The following group attributes are set to be changed:\n");
    for ch in changes {
        comment.push_str(&ch.lines());
    }
    if c.test {
        return Ok(pending(name, comment, Map::new()));
    }
    for ch in changes {
        match ch {
            Change::Gid(g) => {
                // Passed only when asked for: Brine's `group.chgid` does not
                // take `non_unique` yet.
                let non_unique = if c.chunk.bool_arg("non_unique", false) {
                    json!(true)
                } else {
                    Value::Null
                };
                call(
                    c.host,
                    "group.chgid",
                    vec![json!(name), json!(g)],
                    &[("non_unique", non_unique)],
                )?;
            }
            Change::AddUsers(users) => {
                for u in users {
                    call(c.host, "group.adduser", vec![json!(name), json!(u)], &[])?;
                }
            }
            Change::DelUsers { users, .. } => {
                for u in users {
                    call(c.host, "group.deluser", vec![json!(name), json!(u)], &[])?;
                }
            }
            Change::Members(m) => {
                call(
                    c.host,
                    "group.members",
                    vec![json!(name), json!(m.join(","))],
                    &[],
                )?;
            }
            Change::InvalidGid => {}
        }
    }
    let left = changes_of(c, want)?.unwrap_or_default();
    if left.is_empty() {
        return Ok(changed(
            name,
            comment,
            one("Final", json!("All changes applied successfully")),
        ));
    }
    comment.push_str("Some changes could not be applied");
    let failed: Map<String, Value> = left
        .iter()
        .flat_map(Change::entries)
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    Ok(StateResult {
        result: Some(false),
        changes: one("Failed", Value::Object(failed)),
        ..StateResult::ok(name, comment)
    })
}

/// Create a missing group with its members.
fn create(c: &StateCall<'_>, want: &Wanted) -> Result<StateResult, String> {
    let name = name_of(c);
    if c.test {
        return Ok(pending(
            name,
            format!("Group {name} set to be added"),
            Map::new(),
        ));
    }
    let added = call(
        c.host,
        "group.add",
        vec![json!(name)],
        &[
            ("gid", want.gid.clone().map_or(Value::Null, Value::from)),
            ("system", json!(c.chunk.bool_arg("system", false))),
        ],
    )?;
    if !truthy(&added) {
        return Ok(StateResult::fail(
            name,
            format!("Failed to create new group {name}"),
        ));
    }
    let members = want
        .addusers
        .as_ref()
        .filter(|a| !a.is_empty())
        .or(want.members.as_ref().filter(|m| !m.is_empty()));
    if let Some(members) = members {
        call(
            c.host,
            "group.members",
            vec![json!(name), json!(members.join(","))],
            &[],
        )?;
    }
    Ok(changed(name, format!("New group {name} created"), info(c)?))
}

fn absent(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let run = || -> Result<StateResult, String> {
        if info(c)?.is_empty() {
            return Ok(StateResult::ok(name, "Group not present"));
        }
        if c.test {
            return Ok(pending(
                name,
                format!("Group {name} is set for removal"),
                Map::new(),
            ));
        }
        call(c.host, "group.delete", vec![json!(name)], &[])?;
        Ok(changed(
            name,
            format!("Removed group {name}"),
            one(name, json!("")),
        ))
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run};

    fn web_host() -> MockHost {
        MockHost::new(|f, _, _| match f {
            "group.info" => Ok(json!({"name": "web", "gid": 3000, "members": ["a"]})),
            "group.members" | "group.adduser" | "group.chgid" => Ok(json!(true)),
            _ => Err(format!("unexpected {f}")),
        })
    }

    #[test]
    fn a_group_in_the_right_state_is_left_alone() {
        let h = web_host();
        let same = chunk(
            "group",
            "present",
            "web",
            json!({"gid": 3000, "members": ["a"]}),
        );
        assert_eq!(
            run(present, &h, &same, false).comment,
            "Group web is present and up to date"
        );
    }

    #[test]
    fn members_are_listed_as_python_repr_in_the_order_given() {
        let h = web_host();
        let ch = chunk(
            "group",
            "present",
            "web",
            json!({"members": ["www-data", "openldap"]}),
        );
        let r = run(present, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(
            r.comment,
            "The following group attributes are set to be changed:\nmembers: ['www-data', 'openldap']\n"
        );
        let r = run(present, &h, &ch, false);
        assert_eq!(
            h.calls_to("group.members")[0].args[1],
            json!("www-data,openldap")
        );
        // The mock's group never changes, so the check afterwards fails.
        assert_eq!(r.result, Some(false));
        assert_eq!(
            r.changes["Failed"]["members"],
            json!(["www-data", "openldap"])
        );
    }

    #[test]
    fn addusers_lists_only_the_missing_users() {
        let h = web_host();
        let ch = chunk(
            "group",
            "present",
            "web",
            json!({"addusers": ["a", "b"], "gid": "3001"}),
        );
        let r = run(present, &h, &ch, true);
        assert_eq!(
            r.comment,
            "The following group attributes are set to be changed:\ngid: 3001\naddusers: ['b']\n"
        );
        run(present, &h, &ch, false);
        let chgid = h.calls_to("group.chgid");
        assert_eq!(chgid[0].args, vec![json!("web"), json!(3001)]);
        assert!(chgid[0].kwargs.is_empty());
        assert_eq!(h.calls_to("group.adduser")[0].args[1], json!("b"));
    }

    #[test]
    fn conflicting_options_are_refused_with_result_none() {
        let h = web_host();
        let ch = chunk(
            "group",
            "present",
            "web",
            json!({"members": ["a"], "addusers": ["b"]}),
        );
        let r = run(present, &h, &ch, true);
        assert_eq!(r.result, None);
        assert!(r.comment.starts_with("Error: Conflicting options"));
        assert!(!h.called("group.info"));
    }

    #[test]
    fn a_missing_group_is_predicted() {
        let h = MockHost::new(|_, _, _| Ok(json!({})));
        let ch = chunk("group", "present", "web", json!({"members": ["a"]}));
        assert_eq!(
            run(present, &h, &ch, true).comment,
            "Group web set to be added"
        );
    }
}
