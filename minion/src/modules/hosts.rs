//! Salt's `hosts` execution module: read and edit the hosts file
//! (`/etc/hosts`).
//!
//! Which file: the `hosts_file` keyword argument when given (a Brine
//! addition, so the module can be pointed at a copy), else the `hosts.file`
//! option as Salt's `config.option` finds it (the minion's pillar here, as
//! the minion config has no such key yet), else `/etc/hosts`.
//!
//! Reading follows Salt's `_list_hosts`: comment lines are kept as
//! `comment-N` entries, lines with the same address are merged, a trailing
//! `# comment` becomes the entry's `comment`. `add_host` and `set_comment`
//! rewrite the whole file from that view (as Salt does); `set_host` and
//! `rm_host` edit the matching lines in place.

use std::path::{Path, PathBuf};

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use serde_json::{Map, Value, json};

use super::MinionCtx;
use super::host::{blocking, required_str, str_param};

const DEFAULT_HOSTS_FILE: &str = "/etc/hosts";

/// One entry of the parsed hosts file, in file order.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// A comment line, kept as written.
    Comment(String),
    /// An address with its aliases and an optional trailing comment.
    Host {
        ip: String,
        aliases: Vec<String>,
        comment: Option<String>,
    },
}

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "hosts.list_hosts",
        "hosts_file=None",
        LIST_HOSTS_DOC,
        |ctx, call| async move {
            let path = hosts_file(&ctx, &call, 0);
            blocking(move || Ok(list_hosts(&parse(&read(&path)?)).into())).await
        },
    );
    f.register(
        "hosts.get_ip",
        "host, hosts_file=None",
        GET_IP_DOC,
        |ctx, call| async move {
            let host = required_str(&call, 0, "host")?;
            let path = hosts_file(&ctx, &call, 1);
            blocking(move || Ok(json!(get_ip(&parse(&read(&path)?), &host)).into())).await
        },
    );
    f.register(
        "hosts.get_alias",
        "ip, hosts_file=None",
        GET_ALIAS_DOC,
        |ctx, call| async move {
            let ip = required_str(&call, 0, "ip")?;
            let path = hosts_file(&ctx, &call, 1);
            blocking(move || Ok(json!(get_alias(&parse(&read(&path)?), &ip)).into())).await
        },
    );
    f.register(
        "hosts.has_pair",
        "ip, alias, hosts_file=None",
        HAS_PAIR_DOC,
        |ctx, call| async move {
            let ip = required_str(&call, 0, "ip")?;
            let alias = call.param(1, "alias").cloned().unwrap_or(Value::Null);
            let path = hosts_file(&ctx, &call, 2);
            blocking(move || Ok(json!(has_pair(&parse(&read(&path)?), &ip, &alias)).into())).await
        },
    );
    f.register(
        "hosts.set_host",
        "ip, alias, comment=None, hosts_file=None",
        SET_HOST_DOC,
        |ctx, call| async move {
            let ip = required_str(&call, 0, "ip")?;
            let alias = str_param(&call, 1, "alias").unwrap_or_default();
            let comment = str_param(&call, 2, "comment");
            let path = hosts_file(&ctx, &call, 3);
            blocking(move || set_host(&path, &ip, &alias, comment.as_deref()).map(ok_bool)).await
        },
    );
    f.register(
        "hosts.rm_host",
        "ip, alias, hosts_file=None",
        RM_HOST_DOC,
        |ctx, call| async move {
            let ip = required_str(&call, 0, "ip")?;
            let alias = required_str(&call, 1, "alias")?;
            let path = hosts_file(&ctx, &call, 2);
            blocking(move || rm_host(&path, &ip, &alias).map(ok_bool)).await
        },
    );
    f.register(
        "hosts.add_host",
        "ip, alias, hosts_file=None",
        ADD_HOST_DOC,
        |ctx, call| async move {
            let ip = required_str(&call, 0, "ip")?;
            let alias = required_str(&call, 1, "alias")?;
            let path = hosts_file(&ctx, &call, 2);
            blocking(move || add_host(&path, &ip, &alias).map(ok_bool)).await
        },
    );
    f.register(
        "hosts.set_comment",
        "ip, comment, hosts_file=None",
        SET_COMMENT_DOC,
        |ctx, call| async move {
            let ip = required_str(&call, 0, "ip")?;
            let comment = str_param(&call, 1, "comment").unwrap_or_default();
            let path = hosts_file(&ctx, &call, 2);
            blocking(move || set_comment(&path, &ip, &comment).map(ok_bool)).await
        },
    );
}

fn ok_bool(b: bool) -> FnOutput {
    json!(b).into()
}

/// The hosts file to use (see the module docs).
fn hosts_file(ctx: &MinionCtx, call: &Call, index: usize) -> PathBuf {
    if let Some(path) = str_param(call, index, "hosts_file").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let pillar = ctx.pillar();
    pillar
        .get("hosts.file")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_HOSTS_FILE), PathBuf::from)
}

/// The file's text; '' when it does not exist (as Salt).
fn read(path: &Path) -> Result<String, FnError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(FnError::Execution(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn write(path: &Path, text: &str) -> Result<(), FnError> {
    std::fs::write(path, text)
        .map_err(|e| FnError::Execution(format!("cannot write {}: {e}", path.display())))
}

/// Parse hosts file text (Salt's `_list_hosts`).
pub fn parse(text: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('#') {
            entries.push(Entry::Comment(line.to_string()));
            continue;
        }
        let (hosts, comment) = match line.split_once('#') {
            Some((h, c)) => (h.trim(), Some(c.trim_start().to_string())),
            None => (line, None),
        };
        let mut comps = hosts.split_whitespace();
        let Some(ip) = comps.next() else {
            continue;
        };
        let new_aliases: Vec<String> = comps.map(String::from).collect();
        let existing = entries.iter_mut().find_map(|e| match e {
            Entry::Host {
                ip: i,
                aliases,
                comment: c,
            } if i == ip => Some((aliases, c)),
            _ => None,
        });
        match existing {
            Some((aliases, c)) => {
                aliases.extend(new_aliases);
                if comment.as_ref().is_some_and(|c| !c.is_empty()) {
                    *c = comment;
                }
            }
            None => entries.push(Entry::Host {
                ip: ip.to_string(),
                aliases: new_aliases,
                comment: comment.filter(|c| !c.is_empty()),
            }),
        }
    }
    entries
}

/// Salt's `list_hosts` dict: `{ip: {aliases, comment?}, "comment-N": [line]}`.
pub fn list_hosts(entries: &[Entry]) -> Value {
    let mut ret = Map::new();
    let mut n = 0;
    for e in entries {
        match e {
            Entry::Comment(line) => {
                ret.insert(format!("comment-{n}"), json!([line]));
                n += 1;
            }
            Entry::Host {
                ip,
                aliases,
                comment,
            } => {
                let mut info = Map::new();
                info.insert("aliases".into(), json!(aliases));
                if let Some(c) = comment {
                    info.insert("comment".into(), json!(c));
                }
                ret.insert(ip.clone(), Value::Object(info));
            }
        }
    }
    Value::Object(ret)
}

fn aliases_of<'a>(entries: &'a [Entry], ip: &str) -> Option<&'a Vec<String>> {
    entries.iter().find_map(|e| match e {
        Entry::Host { ip: i, aliases, .. } if i == ip => Some(aliases),
        _ => None,
    })
}

/// The first address listing `host` as an alias, or ''.
pub fn get_ip(entries: &[Entry], host: &str) -> String {
    entries
        .iter()
        .find_map(|e| match e {
            Entry::Host { ip, aliases, .. } if aliases.iter().any(|a| a == host) => {
                Some(ip.clone())
            }
            _ => None,
        })
        .unwrap_or_default()
}

pub fn get_alias(entries: &[Entry], ip: &str) -> Vec<String> {
    aliases_of(entries, ip).cloned().unwrap_or_default()
}

/// Whether `ip` has `alias` (or every alias of a list).
pub fn has_pair(entries: &[Entry], ip: &str, alias: &Value) -> bool {
    let Some(aliases) = aliases_of(entries, ip) else {
        return false;
    };
    match alias {
        Value::Array(list) => list
            .iter()
            .all(|a| a.as_str().is_some_and(|a| aliases.iter().any(|x| x == a))),
        Value::String(a) => aliases.contains(a),
        _ => false,
    }
}

/// Salt's `_write_hosts`: one line per entry, tab-separated, ending in a
/// newline.
pub fn render(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        let line = match e {
            Entry::Comment(line) => line.clone(),
            Entry::Host {
                ip,
                aliases,
                comment: Some(c),
            } => {
                format!("{ip}\t\t{}\t\t# {c}", aliases.join(" "))
            }
            Entry::Host {
                ip,
                aliases,
                comment: None,
            } => format!("{ip}\t\t{}", aliases.join(" ")),
        };
        if !line.trim().is_empty() {
            out.push_str(line.trim());
            out.push('\n');
        }
    }
    out
}

/// Make `ip`'s line(s) exactly `ip alias [# comment]`; an empty alias
/// removes every line of `ip`.
pub fn set_host(
    path: &Path,
    ip: &str,
    alias: &str,
    comment: Option<&str>,
) -> Result<bool, FnError> {
    let text = read(path)?;
    write(path, &set_host_text(&text, ip, alias, comment))?;
    Ok(true)
}

fn set_host_text(text: &str, ip: &str, alias: &str, comment: Option<&str>) -> String {
    let new_line = if alias.trim().is_empty() {
        String::new()
    } else {
        match comment.filter(|c| !c.is_empty()) {
            Some(c) => format!("{ip}\t\t{alias}\t\t# {c}\n"),
            None => format!("{ip}\t\t{alias}\n"),
        }
    };
    let mut replaced = false;
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        let is_ip = !trimmed.starts_with('#') && trimmed.split_whitespace().next() == Some(ip);
        if !is_ip {
            out.push_str(line);
        } else if !replaced {
            out.push_str(&new_line);
            replaced = true;
        }
    }
    if !replaced {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&new_line);
    }
    out
}

/// Remove `alias` from `ip`'s lines (and a line left without aliases).
pub fn rm_host(path: &Path, ip: &str, alias: &str) -> Result<bool, FnError> {
    let text = read(path)?;
    if !has_pair(&parse(&text), ip, &json!(alias)) {
        return Ok(true);
    }
    write(path, &rm_host_text(&text, ip, alias))?;
    Ok(true)
}

fn rm_host_text(text: &str, ip: &str, alias: &str) -> String {
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            out.push_str(line);
            continue;
        }
        let (hosts, comment) = match trimmed.split_once('#') {
            Some((h, c)) => (h, Some(c.trim_start())),
            None => (trimmed, None),
        };
        let comps: Vec<&str> = hosts.split_whitespace().collect();
        if comps.first() != Some(&ip) {
            out.push_str(line);
            continue;
        }
        let kept: Vec<&str> = comps[1..].iter().copied().filter(|a| *a != alias).collect();
        if kept.is_empty() {
            continue;
        }
        out.push_str(&format!("{ip}\t\t{} ", kept.join(" ")));
        if let Some(c) = comment {
            out.push_str(&format!("# {c}"));
        }
        out.push('\n');
    }
    out
}

/// Add `alias` to `ip` (creating the entry); rewrites the file.
pub fn add_host(path: &Path, ip: &str, alias: &str) -> Result<bool, FnError> {
    let mut entries = parse(&read(path)?);
    if has_pair(&entries, ip, &json!(alias)) {
        return Ok(true);
    }
    let existing = entries.iter_mut().find_map(|e| match e {
        Entry::Host { ip: i, aliases, .. } if i == ip => Some(aliases),
        _ => None,
    });
    match existing {
        Some(aliases) => aliases.push(alias.to_string()),
        None => entries.push(Entry::Host {
            ip: ip.to_string(),
            aliases: vec![alias.to_string()],
            comment: None,
        }),
    }
    write(path, &render(&entries))?;
    Ok(true)
}

/// Set the trailing comment of `ip`'s entry; False when there is none.
pub fn set_comment(path: &Path, ip: &str, comment: &str) -> Result<bool, FnError> {
    let mut entries = parse(&read(path)?);
    let found = entries.iter_mut().find_map(|e| match e {
        Entry::Host {
            ip: i, comment: c, ..
        } if i == ip => Some(c),
        _ => None,
    });
    let Some(current) = found else {
        return Ok(false);
    };
    if current.as_deref() == Some(comment) {
        return Ok(true);
    }
    *current = Some(comment.to_string());
    write(path, &render(&entries))?;
    Ok(true)
}

const LIST_HOSTS_DOC: &str = "Return the hosts found in the hosts file in this format::\n\n    {'<ip addr>': {'aliases': ['alias1', 'alias2', ...]}}\n\nComment lines appear as 'comment-N' entries.\n\nhosts_file\n    Work on this file instead of the configured hosts file (Brine only).\n\nCLI Example:\n\n    brine '*' hosts.list_hosts";
const GET_IP_DOC: &str = "Return the ip associated with the named host\n\nhosts_file\n    Work on this file instead of the configured hosts file (Brine only).\n\nCLI Example:\n\n    brine '*' hosts.get_ip <hostname>";
const GET_ALIAS_DOC: &str = "Return the list of aliases associated with an ip\n\nAliases (host names) are returned in the order in which they\nappear in the hosts file.  If there are no aliases associated with\nthe IP, an empty list is returned.\n\nhosts_file\n    Work on this file instead of the configured hosts file (Brine only).\n\nCLI Example:\n\n    brine '*' hosts.get_alias <ip addr>";
const HAS_PAIR_DOC: &str = "Return true if the alias is set\n\nhosts_file\n    Work on this file instead of the configured hosts file (Brine only).\n\nCLI Example:\n\n    brine '*' hosts.has_pair <ip> <alias>";
const SET_HOST_DOC: &str = "Set the host entry in the hosts file for the given ip, this will overwrite\nany previous entry for the given ip\n\nIf ``alias`` does not include any host names (it is the empty\nstring or contains only whitespace), all entries for the given\nIP address are removed.\n\nhosts_file\n    Work on this file instead of the configured hosts file (Brine only).\n\nCLI Example:\n\n    brine '*' hosts.set_host <ip> <alias>";
const RM_HOST_DOC: &str = "Remove a host entry from the hosts file\n\nhosts_file\n    Work on this file instead of the configured hosts file (Brine only).\n\nCLI Example:\n\n    brine '*' hosts.rm_host <ip> <alias>";
const ADD_HOST_DOC: &str = "Add a host to an existing entry, if the entry is not in place then create\nit with the given host\n\nhosts_file\n    Work on this file instead of the configured hosts file (Brine only).\n\nCLI Example:\n\n    brine '*' hosts.add_host <ip> <alias>";
const SET_COMMENT_DOC: &str = "Set the comment for a host to an existing entry,\nif the entry is not in place then return False\n\nhosts_file\n    Work on this file instead of the configured hosts file (Brine only).\n\nCLI Example:\n\n    brine '*' hosts.set_comment <ip> <comment>";

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTS: &str = "127.0.0.1\tlocalhost\n# The following lines are desirable for IPv6 capable hosts\n::1     localhost ip6-localhost ip6-loopback\n\n10.0.0.5 web1 web1.example.com # the web server\n10.0.0.5 www\n";

    #[test]
    fn reads_like_salt() {
        let entries = parse(HOSTS);
        assert_eq!(
            list_hosts(&entries),
            json!({
                "127.0.0.1": {"aliases": ["localhost"]},
                "comment-0": ["# The following lines are desirable for IPv6 capable hosts"],
                "::1": {"aliases": ["localhost", "ip6-localhost", "ip6-loopback"]},
                "10.0.0.5": {"aliases": ["web1", "web1.example.com", "www"], "comment": "the web server"},
            })
        );
        assert_eq!(get_ip(&entries, "www"), "10.0.0.5");
        assert_eq!(get_ip(&entries, "nope"), "");
        assert_eq!(
            get_alias(&entries, "::1"),
            ["localhost", "ip6-localhost", "ip6-loopback"]
        );
        assert!(get_alias(&entries, "1.2.3.4").is_empty());
        assert!(has_pair(&entries, "10.0.0.5", &json!("www")));
        assert!(has_pair(&entries, "10.0.0.5", &json!(["www", "web1"])));
        assert!(!has_pair(&entries, "10.0.0.5", &json!(["www", "x"])));
    }

    #[test]
    fn set_host_replaces_and_removes() {
        let text = set_host_text(HOSTS, "10.0.0.5", "app", Some("moved"));
        assert!(text.contains("10.0.0.5\t\tapp\t\t# moved\n"));
        assert!(!text.contains("www"));
        assert!(text.contains("127.0.0.1\tlocalhost\n"));
        let text = set_host_text(HOSTS, "10.0.0.5", " ", None);
        assert!(!text.contains("10.0.0.5"));
        let text = set_host_text("1.1.1.1 a", "2.2.2.2", "b", None);
        assert_eq!(text, "1.1.1.1 a\n2.2.2.2\t\tb\n");
    }

    #[test]
    fn rm_host_keeps_other_aliases_and_comments() {
        let text = rm_host_text(HOSTS, "10.0.0.5", "web1");
        assert!(
            text.contains("10.0.0.5\t\tweb1.example.com # the web server\n"),
            "{text}"
        );
        assert!(text.contains("10.0.0.5\t\twww \n"), "{text}");
        let text = rm_host_text(&text, "10.0.0.5", "www");
        assert!(!text.contains("www"));
    }

    #[test]
    fn add_and_comment_rewrite_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hosts");
        std::fs::write(&path, HOSTS).expect("write");
        assert!(add_host(&path, "10.0.0.9", "db").expect("add"));
        assert!(add_host(&path, "10.0.0.9", "db2").expect("add"));
        assert!(add_host(&path, "10.0.0.9", "db").expect("again"));
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.ends_with("10.0.0.9\t\tdb db2\n"), "{text}");
        assert!(text.contains("# The following lines are desirable for IPv6 capable hosts\n"));
        assert!(set_comment(&path, "10.0.0.9", "database").expect("comment"));
        assert!(!set_comment(&path, "9.9.9.9", "x").expect("comment"));
        let entries = parse(&std::fs::read_to_string(&path).expect("read"));
        assert_eq!(
            list_hosts(&entries)["10.0.0.9"]["comment"],
            json!("database")
        );
        let missing = dir.path().join("absent");
        assert!(add_host(&missing, "1.2.3.4", "x").expect("creates"));
        assert_eq!(
            std::fs::read_to_string(&missing).expect("read"),
            "1.2.3.4\t\tx\n"
        );
    }
}
