//! Salt's `ssh` execution module, the part the `ssh_auth` and
//! `ssh_known_hosts` states are built from: a user's `authorized_keys`
//! (`auth_keys`, `check_key`, `check_key_file`, `set_auth_key`,
//! `set_auth_key_from_file`, `rm_auth_key`, `rm_auth_key_from_file`) here,
//! and `known_hosts` files in [`known_hosts`].
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
use brine_common::salt_url;
use brine_states::modules::ssh_auth::{AuthLine, decode_key, parse_auth_lines};
use serde_json::{Map, Value, json};

use super::MinionCtx;
use super::host::{list_value, required_str, str_param, value_text};
use super::user::{PwEntry, all_users, lookup};
use crate::fileclient::FileClient;

mod known_hosts;

const AUTH_KEYS: &str = ".ssh/authorized_keys";

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
    known_hosts::register(f);
}

const AUTH_KEYS_DOC: &str = "Return the authorized keys for users\n\nCLI Example:\n\n    brine '*' ssh.auth_keys\n    brine '*' ssh.auth_keys root\n    brine '*' ssh.auth_keys user=root\n    brine '*' ssh.auth_keys user=\"[user1, user2]\"";
const CHECK_KEY_DOC: &str = "Check to see if a key needs updating, returns \"update\", \"add\" or \"exists\"\n\nCLI Example:\n\n    brine '*' ssh.check_key <user> <key> <enc> <comment> <options>";
const CHECK_KEY_FILE_DOC: &str = "Check a keyfile from a source destination against the local keys and\nreturn the keys to change\n\nCLI Example:\n\n    brine '*' ssh.check_key_file root salt://ssh/keyfile";
const SET_AUTH_KEY_DOC: &str = "Add a key to the authorized_keys file. The \"key\" parameter must only be the\nstring of text that is the encoded key.\n\nCLI Example:\n\n    brine '*' ssh.set_auth_key <user> '<key>' enc='dsa'";
const SET_AUTH_KEY_FROM_FILE_DOC: &str = "Add a key to the authorized_keys file, using a file as the source.\n\nCLI Example:\n\n    brine '*' ssh.set_auth_key_from_file <user> salt://ssh_keys/<user>.id_rsa.pub";
const RM_AUTH_KEY_DOC: &str = "Remove an authorized key from the specified user's authorized key file\n\nCLI Example:\n\n    brine '*' ssh.rm_auth_key <user> <key>";
const RM_AUTH_KEY_FROM_FILE_DOC: &str = "Remove an authorized key from the specified user's authorized key file,\nusing a file as source\n\nCLI Example:\n\n    brine '*' ssh.rm_auth_key_from_file <user> salt://ssh_keys/<user>.id_rsa.pub";

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
    if let Some(file) = salt_url::file_of(source, saltenv) {
        let (env, path) = file.map_err(|e| FnError::Execution(e.to_string()))?;
        let client = FileClient::new(&ctx.config, ctx.upstream());
        return match client.cache_file(&env, &path).await {
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
    async fn an_unknown_user_has_no_keys() {
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
    }
}
