//! Salt's `host` states: `present`, `absent` and `only` entries of the
//! hosts file, through the `hosts.*` execution functions.

use serde_json::{Map, Value, json};

use super::{call, list_of, name_of, str_of, truthy};
use crate::lowstate::{StateCall, StateModules, StateResult};

pub fn register(m: &mut StateModules) {
    m.register("host.present", present);
    m.register("host.absent", absent);
    m.register("host.only", only);
}

/// The changes and comments `present` gathers, as Salt's `present` does.
#[derive(Default)]
struct Plan {
    to_add: Vec<String>,
    to_remove: Vec<String>,
    update_comment: Vec<String>,
    comments: Vec<String>,
    failed: bool,
}

fn push_new(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|x| x == item) {
        list.push(item.to_string());
    }
}

/// `salt.utils.validate.net.ip_addr`: an IPv4/IPv6 address, optionally with
/// a prefix length.
fn valid_ip(addr: &str) -> bool {
    let (ip, prefix) = addr.split_once('/').unwrap_or((addr, "0"));
    ip.parse::<std::net::IpAddr>().is_ok() && prefix.parse::<u8>().is_ok()
}

/// Salt's sweep of `hosts.list_hosts` against the wanted addresses.
fn plan(
    name: &str,
    ips: &[String],
    comment: Option<&str>,
    clean: bool,
    hosts: &Map<String, Value>,
) -> Plan {
    let mut p = Plan::default();
    for ip in ips.iter().filter(|ip| !hosts.contains_key(*ip)) {
        push_new(&mut p.to_add, ip);
        if comment.is_some() {
            push_new(&mut p.update_comment, ip);
        }
    }
    for (addr, info) in hosts {
        let has_name = info
            .get("aliases")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(name)));
        if !ips.contains(addr) {
            // Without `clean` Salt only warns (a `warnings` key our
            // results do not carry).
            if has_name && clean {
                push_new(&mut p.to_remove, addr);
            }
            continue;
        }
        let current = info.get("comment").and_then(Value::as_str);
        if has_name {
            match comment {
                Some(c) if current != Some(c) => push_new(&mut p.update_comment, addr),
                _ => p
                    .comments
                    .push(format!("Host {name} ({addr}) already present")),
            }
        } else if valid_ip(addr) {
            push_new(&mut p.to_add, addr);
            if comment.is_some() {
                push_new(&mut p.update_comment, addr);
            }
        } else {
            p.failed = true;
            p.comments
                .push(format!("Invalid IP Address for {name} ({addr})"));
        }
    }
    p
}

/// Append `value` to `changes[key][addr]`.
fn note(changes: &mut Map<String, Value>, key: &str, addr: &str, value: &str) {
    let by_addr = changes.entry(key).or_insert_with(|| json!({}));
    if let Some(m) = by_addr.as_object_mut() {
        let list = m.entry(addr).or_insert_with(|| json!([]));
        if let Some(a) = list.as_array_mut() {
            a.push(json!(value));
        }
    }
}

fn present(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let ips = list_of(c.chunk, "ip");
    let comment = str_of(c.chunk, "comment");
    let run = || -> Result<StateResult, String> {
        let hosts = call(c.host, "hosts.list_hosts", vec![], &[])?;
        let hosts = hosts.as_object().cloned().unwrap_or_default();
        let mut p = plan(
            name,
            &ips,
            comment.as_deref(),
            c.chunk.bool_arg("clean", false),
            &hosts,
        );
        let mut result = if p.failed { Some(false) } else { Some(true) };
        let mut changes = Map::new();
        for addr in &p.to_add {
            if c.test {
                result = None;
                p.comments
                    .push(format!("Host {name} ({addr}) would be added"));
            } else if truthy(&call(
                c.host,
                "hosts.add_host",
                vec![json!(addr), json!(name)],
                &[],
            )?) {
                p.comments.push(format!("Added host {name} ({addr})"));
            } else {
                result = Some(false);
                p.comments
                    .push(format!("Failed to add host {name} ({addr})"));
                continue;
            }
            note(&mut changes, "added", addr, name);
        }
        let text = comment.clone().unwrap_or_default();
        for addr in &p.update_comment {
            if c.test {
                p.comments
                    .push(format!("Comment for {addr} ({text}) would be added"));
            } else if truthy(&call(
                c.host,
                "hosts.set_comment",
                vec![json!(addr), json!(text)],
                &[],
            )?) {
                p.comments
                    .push(format!("Set comment for host {addr} ({text})"));
            } else {
                result = Some(false);
                p.comments
                    .push(format!("Failed to add comment for host {addr} ({text})"));
                continue;
            }
            note(&mut changes, "comment_added", addr, &text);
        }
        for addr in &p.to_remove {
            if c.test {
                result = None;
                p.comments
                    .push(format!("Host {name} ({addr}) would be removed"));
            } else if truthy(&call(
                c.host,
                "hosts.rm_host",
                vec![json!(addr), json!(name)],
                &[],
            )?) {
                p.comments.push(format!("Removed host {name} ({addr})"));
            } else {
                result = Some(false);
                p.comments
                    .push(format!("Failed to remove host {name} ({addr})"));
                continue;
            }
            note(&mut changes, "removed", addr, name);
        }
        Ok(StateResult {
            result,
            changes,
            ..StateResult::ok(name, p.comments.join("\n"))
        })
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

fn absent(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let ips = list_of(c.chunk, "ip");
    let run = || -> Result<StateResult, String> {
        let mut result = None;
        let mut changes = Map::new();
        let mut comments = Vec::new();
        for ip in &ips {
            let pair = vec![json!(ip), json!(name)];
            if !truthy(&call(c.host, "hosts.has_pair", pair.clone(), &[])?) {
                result = Some(true);
                comments.push(format!("Host {name} ({ip}) already absent"));
            } else if c.test {
                comments.push(format!("Host {name} ({ip}) needs to be removed"));
            } else if truthy(&call(c.host, "hosts.rm_host", pair, &[])?) {
                changes = super::one("host", json!(name));
                result = Some(true);
                comments.push(format!("Removed host {name} ({ip})"));
            } else {
                result = Some(false);
                comments.push("Failed to remove host".to_string());
            }
        }
        Ok(StateResult {
            result,
            changes,
            ..StateResult::ok(name, comments.join("\n"))
        })
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

/// `host.only`: the address `name` carries exactly `hostnames`, in order
/// (none: its entries go).
fn only(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let wanted = list_of_strings(c.chunk.arg("hostnames"));
    let run = || -> Result<StateResult, String> {
        let old =
            super::strings(&call(c.host, "hosts.get_alias", vec![json!(name)], &[])?).join(" ");
        let new = wanted
            .iter()
            .map(|h| h.trim())
            .collect::<Vec<_>>()
            .join(" ");
        if old == new {
            return Ok(StateResult::ok(
                name,
                format!("IP address {name} already set to \"{new}\""),
            ));
        }
        if c.test {
            return Ok(super::pending(
                name,
                format!("Would change {name} from \"{old}\" to \"{new}\""),
                Map::new(),
            ));
        }
        if !truthy(&call(
            c.host,
            "hosts.set_host",
            vec![json!(name), json!(new)],
            &[],
        )?) {
            return Ok(StateResult::fail(
                name,
                format!("hosts.set_host failed to change {name} from \"{old}\" to \"{new}\""),
            ));
        }
        Ok(super::changed(
            name,
            format!("successfully changed {name} from \"{old}\" to \"{new}\""),
            super::one(name, json!({"old": old, "new": new})),
        ))
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

/// `hostnames`: one name or a list of them (Python's `str()` of each).
fn list_of_strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().map(super::text).collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![super::text(other)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run};

    fn hosts_host() -> MockHost {
        MockHost::new(|f, args, _| match f {
            "hosts.list_hosts" => Ok(json!({
                "comment-0": ["# static"],
                "10.0.0.1": {"aliases": ["db"]},
                "127.0.0.1": {"aliases": ["localhost", "runsc", "vm"]},
            })),
            "hosts.get_alias" => Ok(match args.first().and_then(Value::as_str) {
                Some("127.0.0.1") => json!(["localhost", "runsc", "vm"]),
                _ => json!([]),
            }),
            "hosts.add_host" | "hosts.set_host" => Ok(json!(true)),
            _ => Err(format!("unexpected {f}")),
        })
    }

    #[test]
    fn present_adds_missing_pairs_only() {
        let h = hosts_host();
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

    #[test]
    fn present_in_test_mode_predicts_the_added_pairs_as_changes() {
        let h = hosts_host();
        let ch = chunk("host", "present", "dns", json!({"ip": "9.9.9.9"}));
        let r = run(present, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(r.comment, "Host dns (9.9.9.9) would be added");
        assert_eq!(r.changes["added"], json!({"9.9.9.9": ["dns"]}));
        assert!(!h.called("hosts.add_host"));
    }

    #[test]
    fn only_predicts_and_sets_the_exact_names() {
        let h = hosts_host();
        let names = json!({"hostnames": ["localhost", "localhost.localdomain"]});
        let ch = chunk("host", "only", "127.0.0.1", names);
        let r = run(only, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(
            r.comment,
            "Would change 127.0.0.1 from \"localhost runsc vm\" to \"localhost localhost.localdomain\""
        );
        let r = run(only, &h, &ch, false);
        assert_eq!(
            r.changes["127.0.0.1"],
            json!({"old": "localhost runsc vm", "new": "localhost localhost.localdomain"})
        );
        let none = chunk("host", "only", "127.0.1.1", json!({"hostnames": []}));
        let r = run(only, &h, &none, true);
        assert_eq!(r.result, Some(true));
        assert_eq!(r.comment, "IP address 127.0.1.1 already set to \"\"");
    }
}
