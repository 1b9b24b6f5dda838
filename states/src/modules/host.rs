//! Salt's `host` states: `present` and `absent` entries of the hosts file,
//! through `hosts.has_pair`, `hosts.add_host` and `hosts.rm_host`.

use serde_json::{Map, json};

use super::{call, list_of, name_of, pending, truthy};
use crate::lowstate::{StateCall, StateModules, StateResult};

pub fn register(m: &mut StateModules) {
    m.register("host.present", present);
    m.register("host.absent", absent);
}

fn pairs(c: &StateCall<'_>, add: bool) -> StateResult {
    let name = name_of(c);
    let ips = list_of(c.chunk, "ip");
    if ips.is_empty() {
        return StateResult::fail(name, "No ip address was given");
    }
    let run = || -> Result<StateResult, String> {
        let mut comments = Vec::new();
        let mut done: Map<String, serde_json::Value> = Map::new();
        for ip in &ips {
            let has = truthy(&call(
                c.host,
                "hosts.has_pair",
                vec![json!(ip), json!(name)],
                &[],
            )?);
            if has == add {
                let state = if add {
                    "already present"
                } else {
                    "already absent"
                };
                comments.push(format!("Host {name} ({ip}) {state}"));
                continue;
            }
            if c.test {
                let verb = if add { "added" } else { "removed" };
                comments.push(format!("Host {name} ({ip}) would be {verb}"));
            } else {
                let fun = if add {
                    "hosts.add_host"
                } else {
                    "hosts.rm_host"
                };
                if !truthy(&call(c.host, fun, vec![json!(ip), json!(name)], &[])?) {
                    return Ok(StateResult::fail(
                        name,
                        format!("Failed to change host {name} ({ip})"),
                    ));
                }
                let verb = if add { "Added" } else { "Removed" };
                comments.push(format!("{verb} host {name} ({ip})"));
            }
            done.insert(ip.clone(), json!([name]));
        }
        let comment = comments.join("\n");
        if done.is_empty() {
            return Ok(StateResult::ok(name, comment));
        }
        if c.test {
            return Ok(pending(name, comment, Map::new()));
        }
        let key = if add { "added" } else { "removed" };
        Ok(super::changed(
            name,
            comment,
            super::one(key, serde_json::Value::Object(done)),
        ))
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

fn present(c: &StateCall<'_>) -> StateResult {
    pairs(c, true)
}

fn absent(c: &StateCall<'_>) -> StateResult {
    pairs(c, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run};

    #[test]
    fn present_adds_missing_pairs_only() {
        let h = MockHost::new(|f, args, _| match f {
            "hosts.has_pair" => Ok(json!(args.first() == Some(&json!("10.0.0.1")))),
            "hosts.add_host" => Ok(json!(true)),
            _ => Err(format!("unexpected {f}")),
        });
        let ch = chunk(
            "host",
            "present",
            "db",
            json!({"ip": ["10.0.0.1", "10.0.0.2"]}),
        );
        let r = run(present, &h, &ch, false);
        assert_eq!(
            r.comment,
            "Host db (10.0.0.1) already present\nAdded host db (10.0.0.2)"
        );
        assert_eq!(r.changes["added"], json!({"10.0.0.2": ["db"]}));
        assert_eq!(h.calls_to("hosts.add_host").len(), 1);
    }
}
