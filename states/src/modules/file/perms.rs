//! Ownership and mode: what `file.stats` says, what the state asks for, and
//! the changes Salt's `check_perms` reports (`user`, `group`, `mode`).

use serde_json::{Map, Value, json};

use crate::host::StateHost;
use crate::lowstate::LowChunk;
use crate::modules::{call, str_of, text};

/// The owner and mode a state asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Wanted {
    pub user: Option<String>,
    pub group: Option<String>,
    pub mode: Option<String>,
}

impl Wanted {
    /// `user`, `group` and the mode from `mode_key` (`mode`, `dir_mode`, `file_mode`).
    pub fn of(chunk: &LowChunk, mode_key: &str) -> Wanted {
        Wanted {
            user: str_of(chunk, "user"),
            group: str_of(chunk, "group"),
            mode: chunk.arg(mode_key).and_then(normalize_mode),
        }
    }
}

/// Salt's `normalize_mode`: octal digits, zero-padded to four (`644` -> `0644`).
pub fn normalize_mode(v: &Value) -> Option<String> {
    let raw = match v {
        Value::Null => return None,
        other => text(other),
    };
    let digits = raw.trim().trim_matches(['"', '\'']).trim_start_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    Some(format!("{digits:0>4}"))
}

/// `file.stats` of a path (without `target`), `None` when it does not exist.
pub fn stats(host: &dyn StateHost, path: &str) -> Option<Map<String, Value>> {
    host.path_stats(path, true)
}

/// [`stats`] for comparing with `want` alone: owner names only when `want`
/// names an owner ([`needed`] reads nothing else of them).
pub fn stats_for(host: &dyn StateHost, path: &str, want: &Wanted) -> Option<Map<String, Value>> {
    host.path_stats(path, want.user.is_some() || want.group.is_some())
}

/// The changes needed to make `st` match `want`.
pub fn needed(st: &Map<String, Value>, want: &Wanted) -> Map<String, Value> {
    let mut out = Map::new();
    let is = |key: &str| st.get(key).map(text).unwrap_or_default();
    if let Some(user) = &want.user
        && is("user") != *user
        && is("uid") != *user
    {
        out.insert("user".into(), json!(user));
    }
    if let Some(group) = &want.group
        && is("group") != *group
        && is("gid") != *group
    {
        out.insert("group".into(), json!(group));
    }
    if let Some(mode) = &want.mode
        && normalize_mode(&json!(is("mode"))).as_deref() != Some(mode.as_str())
    {
        out.insert("mode".into(), json!(mode));
    }
    out
}

/// Apply `changes` (from [`needed`]) to `path`.
pub fn apply(host: &dyn StateHost, path: &str, changes: &Map<String, Value>) -> Result<(), String> {
    if changes.contains_key("user") || changes.contains_key("group") {
        let user = changes.get("user").cloned().unwrap_or(Value::Null);
        let group = changes.get("group").cloned().unwrap_or(Value::Null);
        let out = call(host, "file.chown", vec![json!(path), user, group], &[])?;
        if let Value::String(err) = out {
            return Err(err.trim().to_string());
        }
    }
    if let Some(mode) = changes.get("mode") {
        let out = call(host, "file.set_mode", vec![json!(path), mode.clone()], &[])?;
        if let Some(err) = out.as_str().filter(|s| s.starts_with("Invalid")) {
            return Err(err.to_string());
        }
    }
    Ok(())
}

/// Look, then fix: the changes made to `path`'s owner and mode.
pub fn enforce(
    host: &dyn StateHost,
    path: &str,
    want: &Wanted,
) -> Result<Map<String, Value>, String> {
    if *want == Wanted::default() {
        // Nothing asked, nothing to look at.
        return Ok(Map::new());
    }
    let Some(st) = stats_for(host, path, want) else {
        return Ok(Map::new());
    };
    enforce_known(host, path, &st, want)
}

/// [`enforce`] when `st` is `path`'s current stats.
pub fn enforce_known(
    host: &dyn StateHost,
    path: &str,
    st: &Map<String, Value>,
    want: &Wanted,
) -> Result<Map<String, Value>, String> {
    let changes = needed(st, want);
    apply(host, path, &changes)?;
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::testhost::MemHost;

    fn calls(host: &MemHost) -> Vec<String> {
        host.calls.lock().expect("calls").clone()
    }

    #[test]
    fn nothing_wanted_looks_at_nothing_and_no_owner_wanted_asks_no_names() {
        let host = MemHost::with_files(&[]);
        assert_eq!(enforce(&host, "/x", &Wanted::default()), Ok(Map::new()));
        assert!(calls(&host).is_empty(), "{:?}", calls(&host));
        let mode_only = Wanted {
            mode: Some("0644".into()),
            ..Wanted::default()
        };
        // MemHost has no file.stats: the path reads as missing.
        assert_eq!(enforce(&host, "/x", &mode_only), Ok(Map::new()));
        assert_eq!(calls(&host), ["file.stats /x"]);
    }
}
