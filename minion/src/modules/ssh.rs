//! Salt's `ssh` execution module, the part the `ssh_auth` and
//! `ssh_known_hosts` states are built from: a user's `authorized_keys`
//! (`auth_keys`, `check_key`, `check_key_file`, `set_auth_key`,
//! `set_auth_key_from_file`, `rm_auth_key`, `rm_auth_key_from_file`) and
//! `known_hosts` files (`get_known_host_entries`, `recv_known_host_entries`,
//! `check_known_host`, `set_known_host`, `rm_known_host`,
//! `hash_known_hosts`).
//!
//! Return values are Salt's, strings such as `"add"`/`"update"`/`"exists"`
//! and `{"status": "error", "error": ...}` dicts included, because the
//! states decide on them. `known_hosts` lookups and edits go through
//! `ssh-keygen` and `ssh-keyscan`, as in Salt; `authorized_keys` is read and
//! rewritten here, with the parser the `ssh_auth` state shares.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use brine_common::output::python::truthy;
use brine_states::modules::ssh_auth::{AuthLine, decode_key, parse_auth_lines};
use serde_json::{Map, Value, json};

use super::MinionCtx;
use super::host::{HostCmd, bool_param, list_value, required_str, str_param, value_text};
use super::user::{PwEntry, all_users, lookup};
use crate::fileclient::FileClient;

const AUTH_KEYS: &str = ".ssh/authorized_keys";
const DEFAULT_SSH_PORT: i64 = 22;

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "ssh.auth_keys",
        "user=None, config='.ssh/authorized_keys', fingerprint_hash_type=None",
        AUTH_KEYS_DOC,
        |_, call| async move { auth_keys_call(&call).await },
    );
    f.register(
        "ssh.check_key",
        "user, key, enc, comment, options, config='.ssh/authorized_keys', cache_keys=None, fingerprint_hash_type=None",
        CHECK_KEY_DOC,
        |_, call| async move {
            let req = KeyRequest::from_call(&call)?;
            Ok(json!(check_key(&req).await?).into())
        },
    );
    f.register(
        "ssh.check_key_file",
        "user, source, config='.ssh/authorized_keys', saltenv='base', fingerprint_hash_type=None",
        CHECK_KEY_FILE_DOC,
        |ctx, call| async move { check_key_file(&ctx, &call).await },
    );
    f.register(
        "ssh.set_auth_key",
        "user, key, enc='ssh-rsa', comment='', options=None, config='.ssh/authorized_keys', cache_keys=None, fingerprint_hash_type=None",
        SET_AUTH_KEY_DOC,
        |_, call| async move {
            let req = KeyRequest::from_call(&call)?;
            Ok(json!(set_auth_key(&req).await?).into())
        },
    );
    f.register(
        "ssh.set_auth_key_from_file",
        "user, source, config='.ssh/authorized_keys', saltenv='base', fingerprint_hash_type=None, **kwargs",
        SET_AUTH_KEY_FROM_FILE_DOC,
        |ctx, call| async move { set_auth_key_from_file(&ctx, &call).await },
    );
    f.register(
        "ssh.rm_auth_key",
        "user, key, config='.ssh/authorized_keys', fingerprint_hash_type=None",
        RM_AUTH_KEY_DOC,
        |_, call| async move {
            let user = required_str(&call, 0, "user")?;
            let key = required_str(&call, 1, "key")?;
            let config = str_param(&call, 2, "config").unwrap_or_else(|| AUTH_KEYS.into());
            let hash = hash_type(&call, 3)?;
            Ok(json!(rm_auth_key(&user, &key, &config, &hash).await?).into())
        },
    );
    f.register(
        "ssh.rm_auth_key_from_file",
        "user, source, config='.ssh/authorized_keys', saltenv='base', fingerprint_hash_type=None",
        RM_AUTH_KEY_FROM_FILE_DOC,
        |ctx, call| async move { rm_auth_key_from_file(&ctx, &call).await },
    );
    register_known_hosts(f);
}

fn register_known_hosts(f: &mut Functions<MinionCtx>) {
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

const AUTH_KEYS_DOC: &str = "Return the authorized keys for users\n\nCLI Example:\n\n    brine '*' ssh.auth_keys\n    brine '*' ssh.auth_keys root\n    brine '*' ssh.auth_keys user=root\n    brine '*' ssh.auth_keys user=\"[user1, user2]\"";
const CHECK_KEY_DOC: &str = "Check to see if a key needs updating, returns \"update\", \"add\" or \"exists\"\n\nCLI Example:\n\n    brine '*' ssh.check_key <user> <key> <enc> <comment> <options>";
const CHECK_KEY_FILE_DOC: &str = "Check a keyfile from a source destination against the local keys and\nreturn the keys to change\n\nCLI Example:\n\n    brine '*' ssh.check_key_file root salt://ssh/keyfile";
const SET_AUTH_KEY_DOC: &str = "Add a key to the authorized_keys file. The \"key\" parameter must only be the\nstring of text that is the encoded key.\n\nCLI Example:\n\n    brine '*' ssh.set_auth_key <user> '<key>' enc='dsa'";
const SET_AUTH_KEY_FROM_FILE_DOC: &str = "Add a key to the authorized_keys file, using a file as the source.\n\nCLI Example:\n\n    brine '*' ssh.set_auth_key_from_file <user> salt://ssh_keys/<user>.id_rsa.pub";
const RM_AUTH_KEY_DOC: &str = "Remove an authorized key from the specified user's authorized key file\n\nCLI Example:\n\n    brine '*' ssh.rm_auth_key <user> <key>";
const RM_AUTH_KEY_FROM_FILE_DOC: &str = "Remove an authorized key from the specified user's authorized key file,\nusing a file as source\n\nCLI Example:\n\n    brine '*' ssh.rm_auth_key_from_file <user> salt://ssh_keys/<user>.id_rsa.pub";
const GET_KNOWN_HOST_ENTRIES_DOC: &str = "Return information about known host entries from the configfile, if any.\nIf there are no entries for a matching hostname, return None.\n\nCLI Example:\n\n    brine '*' ssh.get_known_host_entries <user> <hostname>";
const RECV_KNOWN_HOST_ENTRIES_DOC: &str = "Retrieve information about host public keys from remote server\n\nCLI Example:\n\n    brine '*' ssh.recv_known_host_entries <hostname> enc=<enc> port=<port>";
const CHECK_KNOWN_HOST_DOC: &str = "Check the record in known_hosts file, either by its value or by fingerprint\n(it's enough to set up either key or fingerprint, you don't need to set up\nboth).\n\nCLI Example:\n\n    brine '*' ssh.check_known_host <user> <hostname> key='AAAA...FAaQ=='";
const RM_KNOWN_HOST_DOC: &str = "Remove all keys belonging to hostname from a known_hosts file.\n\nCLI Example:\n\n    brine '*' ssh.rm_known_host <user> <hostname>";
const SET_KNOWN_HOST_DOC: &str = "Download SSH public key from remote host \"hostname\", optionally validate\nits fingerprint against \"fingerprint\" variable and save the record in the\nknown_hosts file.\n\nCLI Example:\n\n    brine '*' ssh.set_known_host <user> fingerprint='xx:xx:..:xx' enc='ssh-rsa' config='.ssh/known_hosts'";
const HASH_KNOWN_HOSTS_DOC: &str = "Hash all the hostnames in the known hosts file.\n\nCLI Example:\n\n    brine '*' ssh.hash_known_hosts";

// ---------------------------------------------------------------------------
// Keys and fingerprints

/// Salt's `_refine_enc`: the key type's full name.
fn refine_enc(enc: &str) -> Result<String, FnError> {
    const ALSO_ALLOWED: &[&str] = &[
        "rsa-sha2-512",
        "rsa-sha2-256",
        "rsa-sha2-512-cert-v01@openssh.com",
        "rsa-sha2-256-cert-v01@openssh.com",
        "ssh-rsa-cert-v01@openssh.com",
        "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "ecdsa-sha2-nistp384-cert-v01@openssh.com",
        "ecdsa-sha2-nistp521-cert-v01@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
        "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "ssh-ed25519-cert-v01@openssh.com",
        "sk-ssh-ed25519@openssh.com",
        "sk-ssh-ed25519-cert-v01@openssh.com",
    ];
    Ok(match enc {
        "r" | "rsa" | "ssh-rsa" => "ssh-rsa".into(),
        "d" | "dsa" | "dss" | "ssh-dss" => "ssh-dss".into(),
        "e" | "ecdsa" => "ecdsa-sha2-nistp256".into(),
        "ecdsa-sha2-nistp521" | "ecdsa-sha2-nistp384" | "ecdsa-sha2-nistp256" => enc.into(),
        "ed25519" | "ssh-ed25519" => "ssh-ed25519".into(),
        other if ALSO_ALLOWED.contains(&other) => other.into(),
        other => {
            return Err(FnError::Execution(format!(
                "Incorrect encryption key type '{other}'."
            )));
        }
    })
}

/// Salt's `_format_auth_line`.
fn format_auth_line(key: &str, enc: &str, comment: &str, options: &[String]) -> String {
    let mut line = String::new();
    if !options.is_empty() {
        line.push_str(&options.join(","));
        line.push(' ');
    }
    line.push_str(&format!("{enc} {key} {comment}\n"));
    line
}

/// The hash of fingerprints: `fingerprint_hash_type` lower-cased, `sha256`
/// when not given; refused when `hashlib` would not have it.
fn hash_type(call: &Call, index: usize) -> Result<String, FnError> {
    let form = str_param(call, index, "fingerprint_hash_type")
        .filter(|s| !s.is_empty())
        .map_or_else(|| "sha256".to_string(), |s| s.to_lowercase());
    if super::file::hash::digest(b"", &form).is_none() {
        return Err(FnError::Execution(format!(
            "The fingerprint_hash_type {form} is not supported."
        )));
    }
    Ok(form)
}

/// Salt's `_fingerprint` of decoded key bytes: colon-separated hex.
fn fingerprint(raw: &[u8], hash: &str) -> String {
    let hex = super::file::hash::digest(raw, hash).unwrap_or_default();
    hex.as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

/// Salt's per-key dict of `_validate_keys`.
fn key_info(line: &AuthLine, hash: &str) -> Value {
    json!({
        "enc": line.enc,
        "comment": line.comment,
        "options": line.options,
        "fingerprint": fingerprint(&line.raw, hash),
    })
}

/// Salt's `_validate_keys` of a file: key -> its dict.
fn validate_keys(path: &Path, hash: &str) -> Result<Map<String, Value>, FnError> {
    let text = std::fs::read(path)
        .map_err(|_| FnError::Execution(format!("Problem reading ssh key file {}", path.display())))
        .map(|b| String::from_utf8_lossy(&b).into_owned())?;
    Ok(parse_auth_lines(&text)
        .iter()
        .map(|l| (l.key.clone(), key_info(l, hash)))
        .collect())
}

// ---------------------------------------------------------------------------
// authorized_keys

/// Salt's `_expand_authorized_keys_path`: `%u`, `%h` and `%%`.
fn expand_authorized_keys_path(path: &str, user: &str, home: &str) -> Result<String, FnError> {
    let mut out = String::new();
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('u') => out.push_str(user),
            Some('h') => out.push_str(home),
            Some(other) => {
                return Err(FnError::Execution(format!(
                    "AuthorizedKeysFile path: unknown token character \"%{other}\""
                )));
            }
            None => {
                return Err(FnError::Execution(
                    "AuthorizedKeysFile path: Last character can't be escape character".into(),
                ));
            }
        }
    }
    Ok(out)
}

/// Python's `os.path.join(base, path)`.
fn join(base: &str, path: &str) -> PathBuf {
    Path::new(base).join(path)
}

/// Salt's `_get_config_file`: the user's `authorized_keys` path.
async fn config_file(user: &str, config: &str) -> Result<(PathBuf, PwEntry), FnError> {
    let entry = lookup(user)
        .await?
        .ok_or_else(|| FnError::Execution(format!("User '{user}' does not exist")))?;
    let config = expand_authorized_keys_path(config, user, &entry.home)?;
    Ok((join(&entry.home, &config), entry))
}

/// The keys of one user (empty when the user or the file does not exist).
async fn user_auth_keys(
    user: &str,
    config: &str,
    hash: &str,
) -> Result<Map<String, Value>, FnError> {
    match config_file(user, config).await {
        Ok((full, _)) if full.is_file() => validate_keys(&full, hash),
        Ok(_) | Err(FnError::Execution(_)) => Ok(Map::new()),
        Err(e) => Err(e),
    }
}

async fn auth_keys_call(call: &Call) -> Result<FnOutput, FnError> {
    let config = str_param(call, 1, "config").unwrap_or_else(|| AUTH_KEYS.into());
    let hash = hash_type(call, 2)?;
    // One user gives that user's keys; a list (or nobody: every user)
    // gives them per user.
    let users = match call.param(0, "user") {
        Some(Value::Array(list)) => list.iter().filter_map(value_text).collect(),
        Some(v) if truthy(v) => {
            let user = value_text(v).unwrap_or_default();
            return Ok(Value::Object(user_auth_keys(&user, &config, &hash).await?).into());
        }
        _ => all_users()
            .await?
            .into_iter()
            .map(|e| e.name)
            .collect::<Vec<_>>(),
    };
    let mut out = Map::new();
    for user in users {
        if let Ok((full, _)) = config_file(&user, &config).await
            && full.is_file()
        {
            out.insert(user.clone(), Value::Object(validate_keys(&full, &hash)?));
        }
    }
    Ok(Value::Object(out).into())
}

/// The arguments of `check_key` and `set_auth_key`.
struct KeyRequest {
    user: String,
    key: String,
    enc: String,
    comment: String,
    options: Vec<String>,
    config: String,
    hash: String,
}

impl KeyRequest {
    /// From `user, key, enc, comment, options, config, cache_keys,
    /// fingerprint_hash_type` (the order of both `check_key` and
    /// `set_auth_key`).
    fn from_call(call: &Call) -> Result<Self, FnError> {
        Ok(KeyRequest {
            user: required_str(call, 0, "user")?,
            key: required_str(call, 1, "key")?,
            enc: str_param(call, 2, "enc").unwrap_or_else(|| "ssh-rsa".into()),
            comment: str_param(call, 3, "comment").unwrap_or_default(),
            options: call.param(4, "options").map(list_value).unwrap_or_default(),
            config: str_param(call, 5, "config").unwrap_or_else(|| AUTH_KEYS.into()),
            hash: hash_type(call, 7)?,
        })
    }

    fn line(&self, enc: &str) -> String {
        format_auth_line(&self.key, enc, &self.comment, &self.options)
    }
}

/// Salt's `check_key`: "add", "update" or "exists".
async fn check_key(req: &KeyRequest) -> Result<&'static str, FnError> {
    let enc = refine_enc(&req.enc)?;
    let current = user_auth_keys(&req.user, &req.config, &req.hash).await?;
    let Some(have) = current.get(&req.key) else {
        return Ok("add");
    };
    let text_of = |k: &str| have.get(k).and_then(Value::as_str).unwrap_or_default();
    let options: Vec<String> = have.get("options").map(list_value).unwrap_or_default();
    let cline = format_auth_line(&req.key, text_of("enc"), text_of("comment"), &options);
    Ok(if cline == req.line(&enc) {
        "exists"
    } else {
        "update"
    })
}

/// A `source` on the minion: a `salt://` file cached from the file server,
/// or a local path. `None` when it does not exist (Salt's `cp.cache_file`
/// gives `''` then).
async fn cache_source(
    ctx: &MinionCtx,
    source: &str,
    saltenv: &str,
) -> Result<Option<PathBuf>, FnError> {
    if let Some(rest) = source.strip_prefix("salt://") {
        let (path, env) = rest.split_once("?saltenv=").unwrap_or((rest, saltenv));
        let client = FileClient::new(&ctx.config, ctx.link.as_ref());
        return match client.cache_file(env, path).await {
            Ok(p) => Ok(Some(p)),
            Err(e) if e.contains("does not exist") || e.contains("not found") => Ok(None),
            Err(e) => Err(FnError::Execution(e)),
        };
    }
    let local = PathBuf::from(source.strip_prefix("file://").unwrap_or(source));
    if !local.is_absolute() {
        return Err(FnError::Execution(format!(
            "Unsupported key source {source}: use salt:// or an absolute path"
        )));
    }
    Ok(local.is_file().then_some(local))
}

/// The `source` file's keys (`user, source, config, saltenv, hash` at
/// Salt's positions); `None` when the source is missing.
struct FromFile {
    user: String,
    source: String,
    config: String,
    hash: String,
    path: Option<PathBuf>,
}

impl FromFile {
    async fn from_call(ctx: &MinionCtx, call: &Call) -> Result<Self, FnError> {
        let user = required_str(call, 0, "user")?;
        let source = required_str(call, 1, "source")?;
        let config = str_param(call, 2, "config").unwrap_or_else(|| AUTH_KEYS.into());
        let saltenv = str_param(call, 3, "saltenv").unwrap_or_else(|| "base".into());
        let hash = hash_type(call, 4)?;
        let path = cache_source(ctx, &source, &saltenv).await?;
        Ok(FromFile {
            user,
            source,
            config,
            hash,
            path,
        })
    }

    /// The path, or Salt's error for a source that could not be fetched.
    fn required_path(&self) -> Result<&Path, FnError> {
        self.path.as_deref().ok_or_else(|| {
            FnError::Execution("Failed to pull key file from salt file server".into())
        })
    }

    /// Salt logs this when the source holds no valid key.
    fn warn_no_keys(&self) {
        tracing::error!(
            "No keys detected in {}. Is file properly formatted?",
            self.source
        );
    }

    fn request(&self, key: &str, info: &Value, options: Option<Vec<String>>) -> KeyRequest {
        let field = |k: &str| info.get(k).and_then(Value::as_str).unwrap_or_default();
        KeyRequest {
            user: self.user.clone(),
            key: key.to_string(),
            enc: field("enc").to_string(),
            comment: field("comment").to_string(),
            options: options
                .unwrap_or_else(|| info.get("options").map(list_value).unwrap_or_default()),
            config: self.config.clone(),
            hash: self.hash.clone(),
        }
    }
}

async fn check_key_file(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let file = FromFile::from_call(ctx, call).await?;
    let Some(path) = &file.path else {
        return Ok(json!({}).into());
    };
    let keys = validate_keys(path, &file.hash)?;
    if keys.is_empty() {
        file.warn_no_keys();
        return Ok(json!({}).into());
    }
    let mut out = Map::new();
    for (key, info) in &keys {
        let status = check_key(&file.request(key, info, None)).await?;
        out.insert(key.clone(), json!(status));
    }
    Ok(Value::Object(out).into())
}

/// Salt's `rm_auth_key`: "Key removed", "Key not present", ...
async fn rm_auth_key(user: &str, key: &str, config: &str, hash: &str) -> Result<String, FnError> {
    let current = user_auth_keys(user, config, hash).await?;
    if !current.contains_key(key) {
        return Ok("Key not present".into());
    }
    let (full, _) = config_file(user, config).await?;
    if !full.is_file() {
        return Ok(format!(
            "Authorized keys file {} not present",
            full.display()
        ));
    }
    let rewritten = std::fs::read(&full)
        .map(|b| without_key(&String::from_utf8_lossy(&b), key))
        .and_then(|text| std::fs::write(&full, text));
    Ok(match rewritten {
        Ok(()) => "Key removed".into(),
        Err(e) => {
            tracing::warn!("Could not read/write key file: {e}");
            "Key not removed".into()
        }
    })
}

/// The lines of an `authorized_keys` text without `key`, as Salt rewrites
/// them: stripped, blank lines and lines that are not keys dropped.
fn without_key(text: &str, key: &str) -> String {
    let Ok(re) = regex::Regex::new(r"^(.*?)\s?((?:sk-)?(?:ssh\-|ecds)[\w@.-]+\s.+)$") else {
        return text.to_string();
    };
    let mut out = String::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !line.starts_with('#') {
            let Some(caps) = re.captures(line) else {
                continue;
            };
            let comps: Vec<&str> = caps
                .get(2)
                .map_or("", |m| m.as_str())
                .split_whitespace()
                .collect();
            if comps.len() >= 2 && comps[1] == key {
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The lines of an `authorized_keys` text with `key`'s line replaced by
/// `auth_line` (Salt's `_replace_auth_key`).
fn replace_key(text: &str, key: &str, auth_line: &str) -> String {
    let Ok(re) = regex::Regex::new(
        r"((.*)\s)?((?:sk-)?(?:ssh|ecdsa)-[a-z0-9@.-]+)\s([a-zA-Z0-9+/]+={0,2})(\s(.*))?",
    ) else {
        return text.to_string();
    };
    let mut out = String::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let ours = !line.starts_with('#')
            && re
                .captures(line)
                .and_then(|c| c.get(4))
                .is_some_and(|m| m.as_str() == key);
        if ours {
            out.push_str(auth_line);
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

async fn rm_auth_key_from_file(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let file = FromFile::from_call(ctx, call).await?;
    let keys = validate_keys(file.required_path()?, &file.hash)?;
    if keys.is_empty() {
        file.warn_no_keys();
        return Ok(json!("fail").into());
    }
    let mut all = String::new();
    for key in keys.keys() {
        all.push_str(&rm_auth_key(&file.user, key, &file.config, &file.hash).await?);
    }
    let answer = ["Key not removed", "Key removed"]
        .into_iter()
        .find(|a| all.contains(a))
        .unwrap_or("Key not present");
    Ok(json!(answer).into())
}

/// Make `path` belong to the user when the minion runs as root, with `mode`.
fn own(path: &Path, entry: &PwEntry, mode: u32) -> Result<(), FnError> {
    let err = |e: String| FnError::Execution(format!("{}: {e}", path.display()));
    if nix::unistd::geteuid().is_root() {
        nix::unistd::chown(
            path,
            Some(nix::unistd::Uid::from_raw(entry.uid)),
            Some(nix::unistd::Gid::from_raw(entry.gid)),
        )
        .map_err(|e| err(e.to_string()))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| err(e.to_string()))
}

/// Salt's `set_auth_key`: "new", "replace", "no change", "fail",
/// "invalid" or "Invalid public key".
async fn set_auth_key(req: &KeyRequest) -> Result<&'static str, FnError> {
    if req.key.split_whitespace().count() > 1 {
        return Ok("invalid");
    }
    let enc = refine_enc(&req.enc)?;
    let Some(entry) = lookup(&req.user).await? else {
        return Ok("fail");
    };
    if decode_key(&req.key).is_none() {
        return Ok("Invalid public key");
    }
    match check_key(req).await? {
        "update" => {
            let (full, _) = config_file(&req.user, &req.config).await?;
            let text = std::fs::read(&full)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(|e| {
                    FnError::Execution(format!("Problem reading or writing to key file: {e}"))
                })?;
            std::fs::write(&full, replace_key(&text, &req.key, &req.line(&enc))).map_err(|e| {
                FnError::Execution(format!("Problem reading or writing to key file: {e}"))
            })?;
            Ok("replace")
        }
        "exists" => Ok("no change"),
        _ => append_key(req, &enc, &entry).await,
    }
}

/// Append a new key line, creating `~/.ssh` and the file as Salt does.
async fn append_key(req: &KeyRequest, enc: &str, entry: &PwEntry) -> Result<&'static str, FnError> {
    let (full, _) = config_file(&req.user, &req.config).await?;
    let home = Path::new(&entry.home);
    if full.starts_with(home) && !home.is_dir() {
        return Ok("fail");
    }
    if let Some(dir) = full.parent().filter(|d| !d.is_dir()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| FnError::Execution(format!("{}: {e}", dir.display())))?;
        own(dir, entry, 0o700)?;
    }
    let new_file = !full.is_file();
    let mut text = if new_file {
        Vec::new()
    } else {
        std::fs::read(&full)
            .map_err(|e| FnError::Execution(format!("Could not write to key file: {e}")))?
    };
    if text.last().is_some_and(|b| *b != b'\n') {
        text.push(b'\n');
    }
    text.extend_from_slice(req.line(enc).as_bytes());
    std::fs::write(&full, text)
        .map_err(|e| FnError::Execution(format!("Could not write to key file: {e}")))?;
    if new_file {
        own(&full, entry, 0o600)?;
    }
    Ok("new")
}

async fn set_auth_key_from_file(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let file = FromFile::from_call(ctx, call).await?;
    let keys = validate_keys(file.required_path()?, &file.hash)?;
    if keys.is_empty() {
        file.warn_no_keys();
        return Ok(json!("fail").into());
    }
    let options = call
        .kwargs
        .get("options")
        .map(list_value)
        .filter(|o| !o.is_empty());
    let mut all = String::new();
    for (key, info) in &keys {
        all.push_str(set_auth_key(&file.request(key, info, options.clone())).await?);
    }
    let answer = ["fail", "replace", "new"]
        .into_iter()
        .find(|a| all.contains(a))
        .unwrap_or("no change");
    Ok(json!(answer).into())
}

// ---------------------------------------------------------------------------
// known_hosts

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
    super::host::which(exe)
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
    fn key_types_are_refined_like_salt() {
        assert_eq!(refine_enc("rsa").ok().as_deref(), Some("ssh-rsa"));
        assert_eq!(refine_enc("e").ok().as_deref(), Some("ecdsa-sha2-nistp256"));
        assert_eq!(refine_enc("ed25519").ok().as_deref(), Some("ssh-ed25519"));
        let err = refine_enc("blowfish").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("Incorrect encryption key type 'blowfish'.")
        );
    }

    #[test]
    fn auth_lines_format_like_salt() {
        assert_eq!(
            format_auth_line("AAAA", "ssh-rsa", "", &[]),
            "ssh-rsa AAAA \n"
        );
        assert_eq!(
            format_auth_line("AAAA", "ssh-rsa", "me", &["no-pty".into(), "x=1".into()]),
            "no-pty,x=1 ssh-rsa AAAA me\n"
        );
    }

    #[test]
    fn authorized_keys_paths_expand_tokens() {
        assert_eq!(
            expand_authorized_keys_path("%h/.ssh/%u_keys%%", "bob", "/home/bob").ok(),
            Some("/home/bob/.ssh/bob_keys%".into())
        );
        assert!(expand_authorized_keys_path("%x", "bob", "/h").is_err());
        assert!(expand_authorized_keys_path("keys%", "bob", "/h").is_err());
        assert_eq!(join("/home/bob", "/etc/keys"), PathBuf::from("/etc/keys"));
        assert_eq!(
            join("/home/bob", ".ssh/authorized_keys"),
            PathBuf::from("/home/bob/.ssh/authorized_keys")
        );
    }

    #[test]
    fn fingerprints_are_colon_separated_hex() {
        let fp = fingerprint(b"abc", "md5");
        assert_eq!(fp, "90:01:50:98:3c:d2:4f:b0:d6:96:3f:7d:28:e1:7f:72");
    }

    #[test]
    fn a_key_is_removed_and_other_lines_are_kept() {
        let text = format!("# mine\n\nssh-ed25519 {KEY} me\nssh-rsa BBBB you\ngarbage\n");
        assert_eq!(
            without_key(&text, KEY),
            "# mine\nssh-rsa BBBB you\n",
            "blank and non-key lines go, as in Salt"
        );
    }

    #[test]
    fn a_key_line_is_replaced() {
        let text = format!("# mine\nssh-ed25519 {KEY} old\nssh-rsa BBBB you\n");
        let line = format!("no-pty ssh-ed25519 {KEY} new\n");
        assert_eq!(
            replace_key(&text, KEY, &line),
            format!("# mine\nno-pty ssh-ed25519 {KEY} new\nssh-rsa BBBB you\n")
        );
    }

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
    async fn keys_are_added_replaced_and_removed_in_a_sandbox_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("keys");
        let Some(root) = lookup("root").await.ok().flatten() else {
            return;
        };
        let req = |comment: &str| KeyRequest {
            user: root.name.clone(),
            key: KEY.into(),
            enc: "ed25519".into(),
            comment: comment.into(),
            options: Vec::new(),
            config: file.display().to_string(),
            hash: "sha256".into(),
        };
        assert_eq!(check_key(&req("a")).await.ok(), Some("add"));
        assert_eq!(set_auth_key(&req("a")).await.ok(), Some("new"));
        assert_eq!(check_key(&req("a")).await.ok(), Some("exists"));
        assert_eq!(set_auth_key(&req("a")).await.ok(), Some("no change"));
        assert_eq!(set_auth_key(&req("b")).await.ok(), Some("replace"));
        let text = std::fs::read_to_string(&file).expect("read");
        assert_eq!(text, format!("ssh-ed25519 {KEY} b\n"));
        let config = file.display().to_string();
        assert_eq!(
            rm_auth_key(&root.name, KEY, &config, "sha256").await.ok(),
            Some("Key removed".into())
        );
        assert_eq!(
            rm_auth_key(&root.name, KEY, &config, "sha256").await.ok(),
            Some("Key not present".into())
        );
    }

    #[tokio::test]
    async fn an_unknown_user_has_no_keys_and_no_known_hosts_file() {
        let user = "brine-no-such-user-xyz";
        assert!(
            user_auth_keys(user, AUTH_KEYS, "sha256")
                .await
                .is_ok_and(|k| k.is_empty())
        );
        let req = KeyRequest {
            user: user.into(),
            key: "PUBLICKEY".into(),
            enc: "ssh-rsa".into(),
            comment: String::new(),
            options: Vec::new(),
            config: AUTH_KEYS.into(),
            hash: "sha256".into(),
        };
        assert_eq!(check_key(&req).await.ok(), Some("add"));
        assert_eq!(set_auth_key(&req).await.ok(), Some("fail"));
        let found = known_hosts_file(None, Some(user)).await.ok();
        assert_eq!(
            found,
            Some(Err(error(format!("User {user} does not exist"))))
        );
    }
}
