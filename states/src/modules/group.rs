//! Salt's `group` states: `present` (gid, `members`, `addusers`,
//! `delusers`) and `absent`, through `group.info`, `group.add`,
//! `group.chgid`, `group.members`, `group.adduser`/`deluser`, `group.delete`.

use serde_json::{Map, Value, json};

use super::{call, changed, list_of, name_of, one, pending, str_of, text};
use crate::lowstate::{StateCall, StateModules, StateResult};

pub fn register(m: &mut StateModules) {
    m.register("group.present", present);
    m.register("group.absent", absent);
}

fn info(c: &StateCall<'_>) -> Result<Map<String, Value>, String> {
    let v = call(c.host, "group.info", vec![json!(name_of(c))], &[])?;
    Ok(v.as_object().cloned().unwrap_or_default())
}

/// The member list the state wants, from the current one.
fn wanted_members(c: &StateCall<'_>, have: &[String]) -> Option<Vec<String>> {
    if c.chunk.arg("members").is_some() {
        let mut want = list_of(c.chunk, "members");
        want.sort();
        return Some(want);
    }
    let (add, del) = (list_of(c.chunk, "addusers"), list_of(c.chunk, "delusers"));
    if add.is_empty() && del.is_empty() {
        return None;
    }
    let mut want: Vec<String> = have.iter().filter(|m| !del.contains(m)).cloned().collect();
    want.extend(add.into_iter().filter(|a| !have.contains(a)));
    want.sort();
    Some(want)
}

fn present(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let run = || -> Result<StateResult, String> {
        let cur = info(c)?;
        let gid = str_of(c.chunk, "gid");
        if cur.is_empty() {
            if c.test {
                return Ok(pending(
                    name,
                    format!("Group {name} set to be added"),
                    Map::new(),
                ));
            }
            call(
                c.host,
                "group.add",
                vec![json!(name)],
                &[
                    ("gid", gid.map_or(Value::Null, Value::from)),
                    ("system", json!(c.chunk.bool_arg("system", false))),
                ],
            )?;
            if let Some(members) = wanted_members(c, &[]).filter(|m| !m.is_empty()) {
                call(
                    c.host,
                    "group.members",
                    vec![json!(name), json!(members.join(","))],
                    &[],
                )?;
            }
            return Ok(changed(name, format!("New group {name} created"), info(c)?));
        }
        let mut have: Vec<String> = cur
            .get("members")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default();
        have.sort();
        let mut changes = Map::new();
        if let Some(g) = gid.filter(|g| *g != cur.get("gid").map(text).unwrap_or_default()) {
            changes.insert("gid".into(), json!(g));
        }
        if let Some(want) = wanted_members(c, &have).filter(|w| *w != have) {
            changes.insert("members".into(), json!(want));
        }
        if changes.is_empty() {
            return Ok(StateResult::ok(
                name,
                format!("Group {name} is present and up to date"),
            ));
        }
        if c.test {
            let lines: String = changes.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
            return Ok(pending(
                name,
                format!("The following group attributes are set to be changed:\n{lines}"),
                Map::new(),
            ));
        }
        if let Some(g) = changes.get("gid") {
            call(c.host, "group.chgid", vec![json!(name), g.clone()], &[])?;
        }
        if let Some(Value::Array(m)) = changes.get("members") {
            let list: Vec<String> = m.iter().map(text).collect();
            call(
                c.host,
                "group.members",
                vec![json!(name), json!(list.join(","))],
                &[],
            )?;
        }
        Ok(changed(name, format!("Updated group {name}"), changes))
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
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

    #[test]
    fn members_are_replaced_when_they_differ() {
        let h = MockHost::new(|f, _, _| match f {
            "group.info" => Ok(json!({"name": "web", "gid": 3000, "members": ["a"]})),
            "group.members" => Ok(json!(true)),
            _ => Err(format!("unexpected {f}")),
        });
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
        let ch = chunk("group", "present", "web", json!({"addusers": ["b"]}));
        assert_eq!(run(present, &h, &ch, true).result, None);
        let r = run(present, &h, &ch, false);
        assert_eq!(r.changes["members"], json!(["a", "b"]));
        assert_eq!(h.calls_to("group.members")[0].args[1], json!("a,b"));
    }
}
