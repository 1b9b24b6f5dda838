//! The `known_hosts` half of Salt's `ssh` module: `get_known_host_entries`,
//! `recv_known_host_entries`, `check_known_host`, `set_known_host`,
//! `rm_known_host` and `hash_known_hosts`, through `ssh-keygen` and
//! `ssh-keyscan` as in Salt, with its `{"status": "error", ...}` answers.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use brine_common::output::python::truthy;
use brine_states::modules::ssh_auth::decode_key;
use serde_json::{Value, json};

use super::{fingerprint, hash_type, join, own};
use crate::modules::MinionCtx;
use crate::modules::host::{HostCmd, bool_param, required_str, str_param, value_text};
use crate::modules::user::lookup;

const DEFAULT_SSH_PORT: i64 = 22;

pub(super) fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "ssh.get_known_host_entries",
        "user, hostname, config=None, port=None, fingerprint_hash_type=None",
        GET_KNOWN_HOST_ENTRIES_DOC,
        |_, call| async move {
            let user = str_param(&call, 0, "user");
            let hostname = required_str(&call, 1, "hostname")?;
            let config = str_param(&call, 2, "config");
            let port = call.param(3, "port").cloned().unwrap_or(Value::Null);
            let hash = hash_type(&call, 4)?;
            let found =
                known_host_entries(user.as_deref(), &hostname, config.as_deref(), &port, &hash)
                    .await?;
            Ok(found.into_value().into())
        },
    );
    f.register(
        "ssh.recv_known_host_entries",
        "hostname, enc=None, port=None, hash_known_hosts=True, timeout=5, fingerprint_hash_type=None",
        RECV_KNOWN_HOST_ENTRIES_DOC,
        |_, call| async move {
            let scan = Scan::from_call(&call, 0)?;
            Ok(entries_value(scan.run().await?).into())
        },
    );
    f.register(
        "ssh.check_known_host",
        "user=None, hostname=None, key=None, fingerprint=None, config=None, port=None, fingerprint_hash_type=None",
        CHECK_KNOWN_HOST_DOC,
        |_, call| async move { check_known_host(&call).await },
    );
    f.register(
        "ssh.rm_known_host",
        "user=None, hostname=None, config=None, port=None",
        RM_KNOWN_HOST_DOC,
        |_, call| async move { rm_known_host(&call).await },
    );
    f.register(
        "ssh.set_known_host",
        "user=None, hostname=None, fingerprint=None, key=None, port=None, enc=None, config=None, hash_known_hosts=True, timeout=5, fingerprint_hash_type=None",
        SET_KNOWN_HOST_DOC,
        |_, call| async move { set_known_host(&call).await },
    );
    f.register(
        "ssh.hash_known_hosts",
        "user=None, config=None",
        HASH_KNOWN_HOSTS_DOC,
        |_, call| async move {
            let user = str_param(&call, 0, "user");
            let config = str_param(&call, 1, "config");
            Ok(hash_known_hosts(user.as_deref(), config.as_deref())
                .await?
                .into())
        },
    );
}

const GET_KNOWN_HOST_ENTRIES_DOC: &str = "Return information about known host entries from the configfile, if any.\nIf there are no entries for a matching hostname, return None.\n\nCLI Example:\n\n    brine '*' ssh.get_known_host_entries <user> <hostname>";
const RECV_KNOWN_HOST_ENTRIES_DOC: &str = "Retrieve information about host public keys from remote server\n\nCLI Example:\n\n    brine '*' ssh.recv_known_host_entries <hostname> enc=<enc> port=<port>";
const CHECK_KNOWN_HOST_DOC: &str = "Check the record in known_hosts file, either by its value or by fingerprint\n(it's enough to set up either key or fingerprint, you don't need to set up\nboth).\n\nCLI Example:\n\n    brine '*' ssh.check_known_host <user> <hostname> key='AAAA...FAaQ=='";
const RM_KNOWN_HOST_DOC: &str = "Remove all keys belonging to hostname from a known_hosts file.\n\nCLI Example:\n\n    brine '*' ssh.rm_known_host <user> <hostname>";
const SET_KNOWN_HOST_DOC: &str = "Download SSH public key from remote host \"hostname\", optionally validate\nits fingerprint against \"fingerprint\" variable and save the record in the\nknown_hosts file.\n\nCLI Example:\n\n    brine '*' ssh.set_known_host <user> fingerprint='xx:xx:..:xx' enc='ssh-rsa' config='.ssh/known_hosts'";
const HASH_KNOWN_HOSTS_DOC: &str = "Hash all the hostnames in the known hosts file.\n\nCLI Example:\n\n    brine '*' ssh.hash_known_hosts";

/// Salt's `{"status": "error", "error": ...}`.
fn error(msg: impl Into<String>) -> Value {
    json!({"status": "error", "error": msg.into()})
}

/// Salt's `_get_known_hosts_file`: the path, or the error dict.
async fn known_hosts_file(
    config: Option<&str>,
    user: Option<&str>,
) -> Result<Result<PathBuf, Value>, FnError> {
    let config = config
        .filter(|c| !c.is_empty())
        .unwrap_or(if user.is_some() {
            ".ssh/known_hosts"
        } else {
            "/etc/ssh/ssh_known_hosts"
        });
    if config.starts_with('/') {
        return Ok(Ok(PathBuf::from(config)));
    }
    let Some(user) = user else {
        return Ok(Err(error("Cannot determine absolute path to file.")));
    };
    Ok(match lookup(user).await? {
        Some(entry) => Ok(join(&entry.home, config)),
        None => Err(error(format!("User {user} does not exist"))),
    })
}

/// Whether `port` is absent (Python-false) or the default one.
fn default_port(port: &Value) -> bool {
    !truthy(port) || port.as_i64() == Some(DEFAULT_SSH_PORT)
}

/// Salt's `_hostname_and_port_to_ssh_hostname`.
fn ssh_hostname(hostname: &str, port: &Value) -> String {
    if default_port(port) {
        hostname.to_string()
    } else {
        format!("[{hostname}]:{}", value_text(port).unwrap_or_default())
    }
}

/// One known host line as Salt's `_parse_openssh_output` gives it.
fn parse_openssh_output(text: &str, hash: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let [hostname, enc, key] = line.split_whitespace().collect::<Vec<_>>()[..] else {
            continue;
        };
        let Some(raw) = decode_key(key) else {
            continue;
        };
        out.push(json!({
            "hostname": hostname,
            "key": key,
            "enc": enc,
            "fingerprint": fingerprint(&raw, hash),
        }));
    }
    out
}

/// Entries, or Salt's `None` for none.
fn entries_value(entries: Vec<Value>) -> Value {
    if entries.is_empty() {
        Value::Null
    } else {
        Value::Array(entries)
    }
}

/// Salt's `salt.utils.decorators.path.which`.
fn require_binary(exe: &str) -> Result<(), FnError> {
    crate::modules::host::which(exe)
        .map(|_| ())
        .ok_or_else(|| FnError::Execution(format!("The '{exe}' binary was not found in $PATH.")))
}

/// What `get_known_host_entries` found.
enum Known {
    Entries(Vec<Value>),
    /// Salt's error dict (an unknown user, no absolute path).
    Error(Value),
}

impl Known {
    fn into_value(self) -> Value {
        match self {
            Known::Entries(e) => entries_value(e),
            Known::Error(v) => v,
        }
    }
}

/// `ssh-keygen -F <host> -f <file>`'s output (`cmd.run`: stdout and stderr).
async fn keygen_find(host: &str, full: &Path) -> Result<String, FnError> {
    let out = HostCmd::new("ssh-keygen")
        .args(["-F", host, "-f"])
        .arg(full.display().to_string())
        .output()
        .await?;
    Ok(out.combined())
}

async fn known_host_entries(
    user: Option<&str>,
    hostname: &str,
    config: Option<&str>,
    port: &Value,
    hash: &str,
) -> Result<Known, FnError> {
    require_binary("ssh-keygen")?;
    let full = match known_hosts_file(config, user).await? {
        Ok(full) => full,
        Err(e) => return Ok(Known::Error(e)),
    };
    let text = keygen_find(&ssh_hostname(hostname, port), &full).await?;
    Ok(Known::Entries(parse_openssh_output(&text, hash)))
}

/// The arguments of `recv_known_host_entries`.
struct Scan {
    hostname: String,
    enc: Option<String>,
    port: Value,
    hashed: bool,
    timeout: String,
    hash: String,
}

impl Scan {
    /// From `hostname, enc, port, hash_known_hosts, timeout,
    /// fingerprint_hash_type` at `first` and the positions after it.
    fn from_call(call: &Call, first: usize) -> Result<Scan, FnError> {
        Ok(Scan {
            hostname: required_str(call, first, "hostname")?,
            enc: str_param(call, first + 1, "enc").filter(|s| !s.is_empty()),
            port: call
                .param(first + 2, "port")
                .cloned()
                .unwrap_or(Value::Null),
            hashed: bool_param(call, first + 3, "hash_known_hosts", true),
            timeout: str_param(call, first + 4, "timeout").unwrap_or_else(|| "5".into()),
            hash: hash_type(call, first + 5)?,
        })
    }

    /// `ssh-keyscan`, tried up to five times until it prints something.
    async fn run(&self) -> Result<Vec<Value>, FnError> {
        require_binary("ssh-keyscan")?;
        let mut cmd = HostCmd::new("ssh-keyscan");
        if let Some(port) = value_text(&self.port).filter(|_| truthy(&self.port)) {
            cmd = cmd.args(["-p".to_string(), port]);
        }
        if let Some(enc) = &self.enc {
            cmd = cmd.args(["-t", enc.as_str()]);
        }
        if self.hashed {
            cmd = cmd.arg("-H");
        }
        cmd = cmd.args(["-T", self.timeout.as_str(), self.hostname.as_str()]);
        let mut text = String::new();
        for _ in 0..5 {
            text = cmd.output().await?.combined();
            if !text.trim().is_empty() {
                break;
            }
        }
        Ok(parse_openssh_output(&text, &self.hash))
    }
}

async fn check_known_host(call: &Call) -> Result<FnOutput, FnError> {
    let Some(hostname) = str_param(call, 1, "hostname").filter(|h| !h.is_empty()) else {
        return Ok(error("hostname argument required").into());
    };
    let user = str_param(call, 0, "user").filter(|u| !u.is_empty());
    let key = str_param(call, 2, "key").filter(|k| !k.is_empty());
    let fingerprint = str_param(call, 3, "fingerprint").filter(|f| !f.is_empty());
    let config = str_param(call, 4, "config");
    let port = call.param(5, "port").cloned().unwrap_or(Value::Null);
    let hash = hash_type(call, 6)?;
    let entries =
        match known_host_entries(user.as_deref(), &hostname, config.as_deref(), &port, &hash)
            .await?
        {
            Known::Error(e) => return Ok(e.into()),
            Known::Entries(e) => e,
        };
    if entries.is_empty() {
        return Ok(json!("add").into());
    }
    let has = |field: &str, want: &str| entries.iter().any(|e| e[field] == want);
    let answer = match (key, fingerprint) {
        (Some(k), _) if !has("key", &k) => "update",
        (None, Some(f)) if !has("fingerprint", &f) => "update",
        _ => "exists",
    };
    Ok(json!(answer).into())
}

/// Make a `known_hosts` file the user's again after `ssh-keygen` rewrote it.
async fn chown_to(full: &Path, user: Option<&str>) -> Result<(), FnError> {
    let Some(user) = user else {
        return Ok(());
    };
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    if let Some(entry) = lookup(user).await? {
        nix::unistd::chown(
            full,
            Some(nix::unistd::Uid::from_raw(entry.uid)),
            Some(nix::unistd::Gid::from_raw(entry.gid)),
        )
        .map_err(|e| FnError::Execution(format!("{}: {e}", full.display())))?;
    }
    Ok(())
}

async fn rm_known_host(call: &Call) -> Result<FnOutput, FnError> {
    let Some(hostname) = str_param(call, 1, "hostname").filter(|h| !h.is_empty()) else {
        return Ok(error("hostname argument required").into());
    };
    let user = str_param(call, 0, "user").filter(|u| !u.is_empty());
    let config = str_param(call, 2, "config");
    let port = call.param(3, "port").cloned().unwrap_or(Value::Null);
    let full = match known_hosts_file(config.as_deref(), user.as_deref()).await? {
        Ok(full) => full,
        Err(e) => return Ok(e.into()),
    };
    if !full.is_file() {
        return Ok(error(format!(
            "Known hosts file {} does not exist",
            full.display()
        ))
        .into());
    }
    let out = HostCmd::new("ssh-keygen")
        .args([
            "-R".to_string(),
            ssh_hostname(&hostname, &port),
            "-f".into(),
        ])
        .arg(full.display().to_string())
        .output()
        .await?;
    chown_to(&full, user.as_deref()).await?;
    Ok(json!({"status": "removed", "comment": out.combined()}).into())
}

async fn hash_known_hosts(user: Option<&str>, config: Option<&str>) -> Result<Value, FnError> {
    let full = match known_hosts_file(config, user).await? {
        Ok(full) => full,
        Err(e) => return Ok(e),
    };
    let Some(meta) = file_meta(&full) else {
        return Ok(error(format!(
            "Known hosts file {} does not exist",
            full.display()
        )));
    };
    let out = HostCmd::new("ssh-keygen")
        .args(["-H", "-f"])
        .arg(full.display().to_string())
        .output()
        .await?;
    std::fs::set_permissions(&full, meta.permissions())
        .map_err(|e| FnError::Execution(format!("{}: {e}", full.display())))?;
    chown_to(&full, user).await?;
    Ok(json!({"status": "updated", "comment": out.combined()}))
}

/// The metadata of a regular file, `None` for anything else.
fn file_meta(path: &Path) -> Option<std::fs::Metadata> {
    std::fs::metadata(path)
        .ok()
        .filter(std::fs::Metadata::is_file)
}

/// The line numbers `ssh-keygen -F` reports for `enc` (all when `None`):
/// Salt's `_get_matched_host_line_numbers`.
fn matched_line_numbers(text: &str, enc: Option<&str>) -> Vec<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for pair in lines.chunks(2) {
        let [found, entry] = pair else { break };
        let Some(line_no) = found
            .split_whitespace()
            .last()
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        let words: Vec<&str> = entry.split_whitespace().collect();
        let line_enc = words.len().checked_sub(2).and_then(|i| words.get(i));
        if enc.is_some_and(|e| line_enc != Some(&e)) {
            continue;
        }
        out.push(line_no);
    }
    out
}

/// What `set_known_host` was asked.
struct SetKnownHost {
    user: Option<String>,
    hostname: String,
    fingerprint: Option<String>,
    key: Option<String>,
    scan: Scan,
    config: Option<String>,
}

async fn set_known_host(call: &Call) -> Result<FnOutput, FnError> {
    let Some(hostname) = str_param(call, 1, "hostname").filter(|h| !h.is_empty()) else {
        return Ok(error("hostname argument required").into());
    };
    let port = call.param(4, "port").cloned().unwrap_or(Value::Null);
    let hashed = bool_param(call, 7, "hash_known_hosts", true);
    if !port.is_null() && port.as_i64() != Some(DEFAULT_SSH_PORT) && hashed {
        return Ok(error(
            "argument port can not be used in conjunction with argument hash_known_hosts",
        )
        .into());
    }
    let req = SetKnownHost {
        user: str_param(call, 0, "user").filter(|u| !u.is_empty()),
        hostname: hostname.clone(),
        fingerprint: str_param(call, 2, "fingerprint").filter(|f| !f.is_empty()),
        key: str_param(call, 3, "key").filter(|k| !k.is_empty()),
        scan: Scan {
            hostname,
            enc: str_param(call, 5, "enc").filter(|e| !e.is_empty()),
            port,
            hashed,
            timeout: str_param(call, 8, "timeout").unwrap_or_else(|| "5".into()),
            hash: hash_type(call, 9)?,
        },
        config: str_param(call, 6, "config"),
    };
    Ok(req.run().await?.into())
}

impl SetKnownHost {
    async fn run(&self) -> Result<Value, FnError> {
        let scan = &self.scan;
        let stored = match known_host_entries(
            self.user.as_deref(),
            &self.hostname,
            self.config.as_deref(),
            &scan.port,
            &scan.hash,
        )
        .await?
        {
            Known::Error(e) => return Ok(e),
            Known::Entries(e) => e,
        };
        let stored_keys: Vec<&Value> = stored
            .iter()
            .filter(|h| scan.enc.as_ref().is_none_or(|e| h["enc"] == *e))
            .map(|h| &h["key"])
            .collect();
        let stored_fps: Vec<&Value> = stored.iter().map(|h| &h["fingerprint"]).collect();
        let update = stored.is_empty()
            || self
                .fingerprint
                .as_ref()
                .is_some_and(|f| !stored_fps.iter().any(|s| *s == f))
            || self
                .key
                .as_ref()
                .is_some_and(|k| !stored_keys.iter().any(|s| *s == k));
        let check = !update && self.key.is_none() && self.fingerprint.is_none();
        if !update && !check {
            return Ok(json!({"status": "exists", "keys": stored_keys}));
        }
        let new_entries = match &self.key {
            Some(key) => vec![json!({
                "hostname": self.hostname,
                "enc": scan.enc,
                "key": key,
            })],
            None => {
                let remote = scan.run().await?;
                if remote.is_empty() {
                    return Ok(error("Unable to receive remote host keys"));
                }
                if let Some(f) = &self.fingerprint
                    && !remote.iter().any(|h| h["fingerprint"] == *f)
                {
                    return Ok(error(
                        "Remote host public keys found but none of their fingerprints match the one you have provided",
                    ));
                }
                if check {
                    let mut known: Vec<&Value> = remote.iter().map(|h| &h["key"]).collect();
                    let mut have = stored_keys.clone();
                    known.sort_by_key(|v| v.to_string());
                    known.dedup();
                    have.sort_by_key(|v| v.to_string());
                    have.dedup();
                    if known == have {
                        return Ok(json!({"status": "exists", "keys": stored_keys}));
                    }
                }
                remote
            }
        };
        let full = match known_hosts_file(self.config.as_deref(), self.user.as_deref()).await? {
            Ok(full) => full,
            Err(e) => return Ok(e),
        };
        self.write(&full, &new_entries).await?;
        Ok(json!({
            "status": "updated",
            "old": entries_value(stored),
            "new": new_entries,
        }))
    }

    /// Drop the host's old lines of this key type, append the new ones.
    async fn write(&self, full: &Path, entries: &[Value]) -> Result<(), FnError> {
        let scan = &self.scan;
        let orig_mode = file_meta(full).map(|m| m.permissions());
        if orig_mode.is_some() {
            let found = keygen_find(&ssh_hostname(&self.hostname, &scan.port), full).await?;
            let mut remove = matched_line_numbers(&found, scan.enc.as_deref());
            if !remove.is_empty() {
                remove.sort_unstable();
                let text = std::fs::read(full)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .map_err(|e| {
                        FnError::Execution(format!(
                            "Couldn't remove old entry(ies) from known hosts file: '{e}'"
                        ))
                    })?;
                let kept: String = text
                    .split_inclusive('\n')
                    .enumerate()
                    .filter(|(i, _)| remove.binary_search(&(i + 1)).is_err())
                    .map(|(_, l)| l)
                    .collect();
                std::fs::write(full, kept).map_err(|e| {
                    FnError::Execution(format!(
                        "Couldn't remove old entry(ies) from known hosts file: '{e}'"
                    ))
                })?;
            }
        }
        let mut lines = String::new();
        for entry in entries {
            let host = entry["hostname"].as_str().unwrap_or_default();
            let enc = value_text(&entry["enc"]).unwrap_or_else(|| "None".into());
            let key = entry["key"].as_str().unwrap_or_default();
            let port_22_or_none =
                scan.port.is_null() || scan.port.as_i64() == Some(DEFAULT_SSH_PORT);
            if scan.hashed || port_22_or_none || host.contains(':') {
                lines.push_str(&format!("{host} {enc} {key}\n"));
            } else {
                let port = value_text(&scan.port).unwrap_or_default();
                lines.push_str(&format!("[{host}]:{port} {enc} {key}\n"));
            }
        }
        let entry = match &self.user {
            Some(u) => lookup(u).await?,
            None => None,
        };
        // Salt creates the directory when it can and only then sets it up.
        if let Some(dir) = full.parent().filter(|d| !d.exists())
            && std::fs::create_dir_all(dir).is_ok()
            && let Some(entry) = &entry
        {
            own(dir, entry, 0o700)?;
        }
        let mut text = std::fs::read(full).unwrap_or_default();
        text.extend_from_slice(lines.as_bytes());
        std::fs::write(full, text).map_err(|e| {
            FnError::Execution(format!("Couldn't append to known hosts file: '{e}'"))
        })?;
        let mode = orig_mode.map_or(0o600, |p| p.mode());
        match &entry {
            Some(entry) => own(full, entry, mode)?,
            None => std::fs::set_permissions(full, std::fs::Permissions::from_mode(mode))
                .map_err(|e| FnError::Execution(format!("{}: {e}", full.display())))?,
        }
        if self.key.is_some() && scan.hashed {
            hash_known_hosts(
                self.user.as_deref(),
                Some(full.display().to_string().as_str()),
            )
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

    #[test]
    fn keygen_output_is_parsed() {
        let out = format!(
            "# Host example.com found: line 3\nexample.com ssh-ed25519 {KEY}\n# Host example.com found: line 7\nexample.com ssh-rsa notbase64!\n"
        );
        let entries = parse_openssh_output(&out, "sha256");
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["enc"], "ssh-ed25519");
        assert_eq!(matched_line_numbers(&out, None), vec![3, 7]);
        assert_eq!(matched_line_numbers(&out, Some("ssh-rsa")), vec![7]);
    }

    #[test]
    fn ports_shape_the_ssh_hostname() {
        assert_eq!(ssh_hostname("h", &Value::Null), "h");
        assert_eq!(ssh_hostname("h", &json!(22)), "h");
        assert_eq!(ssh_hostname("h", &json!(2222)), "[h]:2222");
    }

    #[tokio::test]
    async fn an_unknown_user_has_no_known_hosts_file() {
        let user = "brine-no-such-user-xyz";
        let found = known_hosts_file(None, Some(user)).await.ok();
        assert_eq!(
            found,
            Some(Err(error(format!("User {user} does not exist"))))
        );
        let system = known_hosts_file(None, None).await.ok();
        assert_eq!(system, Some(Ok(PathBuf::from("/etc/ssh/ssh_known_hosts"))));
        let relative = known_hosts_file(Some("kh"), None).await.ok();
        assert_eq!(
            relative,
            Some(Err(error("Cannot determine absolute path to file.")))
        );
    }
}
