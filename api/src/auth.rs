//! Logging in against `external_auth`, in Salt's shape:
//!
//! ```yaml
//! external_auth:
//!   file:
//!     ^filename: /etc/brine/api-users    # user:argon2-hash lines
//!     alice:
//!       - 'web*': ['test.*', 'state.apply']
//!       - '@runner'
//!   pam:                                 # the system's users (auth.pam.service)
//!     bob:
//!       - test.ping
//!     admins%:                           # every member of group admins
//!       - '.*'
//!       - '@runner'
//! ```
//!
//! Two backends: `file` (Salt's file eauth, with argon2 hashes from
//! `brine-api hash-password`) and `pam` (the system's PAM stack, see
//! [`crate::pam`]). A user's permissions are Salt's `fill_auth_list`: every
//! entry whose name matches the user, plus every `group%` entry of a group
//! the user is in (only `pam` knows groups), and the `'*'` entry only when
//! no entry names the user. A user with no permissions cannot log in.

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use brine_common::target::expr_match;
use serde_json::{Map, Value};
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::passwords;
use brine_common::perms::{Perms, PermsError};

#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error(transparent)]
    Perms(#[from] PermsError),
    #[error("external_auth: {0}")]
    Invalid(String),
}

/// How a backend checks a password.
#[derive(Debug, Clone)]
enum Check {
    /// An argon2 password file.
    File(PathBuf),
    /// The PAM service.
    Pam(String),
}

/// One eauth backend: its check and its permission entries, in config order.
struct Backend {
    check: Check,
    entries: Vec<(String, Value)>,
}

pub struct Auth {
    backends: Vec<(String, Backend)>,
    /// Password checks running at once: argon2 takes about 19 MiB and a
    /// core's worth of time each, so they are not left to the blocking pool's
    /// 512 threads (a login flood once took ~9.5 GiB and every CPU).
    checks: Arc<Semaphore>,
    /// Logins admitted at once, running or waiting for a check; beyond
    /// this a login is answered 429 at once.
    admitted: Arc<Semaphore>,
}

/// Logins that may wait for a password check, per check slot.
const WAITING_PER_CHECK: usize = 4;

/// How many password checks run at once: one per core, at most four.
fn check_slots() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

impl Auth {
    /// The backends of `external_auth`; `pam_service` is `auth.pam.service`.
    pub fn from_config(
        external_auth: &Map<String, Value>,
        pam_service: &str,
    ) -> Result<Self, AuthConfigError> {
        let mut backends = Vec::new();
        for (name, value) in external_auth {
            let map = value
                .as_object()
                .ok_or_else(|| AuthConfigError::Invalid(format!("{name}: must be a mapping")))?;
            let check = match name.as_str() {
                "file" => Check::File(password_file(map)?),
                "pam" => Check::Pam(pam_service.to_string()),
                other => {
                    tracing::warn!(
                        "external_auth: backend '{other}' is not supported (only 'file' and 'pam')"
                    );
                    continue;
                }
            };
            let entries = entries(name, map)?;
            backends.push((name.clone(), Backend { check, entries }));
        }
        let slots = check_slots();
        Ok(Auth {
            backends,
            checks: Arc::new(Semaphore::new(slots)),
            admitted: Arc::new(Semaphore::new(slots * (1 + WAITING_PER_CHECK))),
        })
    }

    /// The configured backends' names (`file`, `pam`), in config order.
    pub fn backend_names(&self) -> Vec<String> {
        self.backends.iter().map(|(name, _)| name.clone()).collect()
    }

    /// Check a user's password; their permissions on success. Unknown
    /// users of the file backend cost an argon2 verification too, so timing
    /// does not tell which names exist.
    pub async fn login(
        &self,
        eauth: &str,
        user: &str,
        password: &str,
    ) -> Result<Arc<Perms>, ApiError> {
        let denied = || ApiError::Unauthorized("Authentication failure".into());
        let backend = self
            .backends
            .iter()
            .find(|(name, _)| name == eauth)
            .map(|(_, b)| b)
            .ok_or_else(|| {
                ApiError::Unauthorized(format!("eauth backend '{eauth}' is not configured"))
            })?;
        let Ok(_admitted) = self.admitted.clone().try_acquire_owned() else {
            return Err(ApiError::Busy(
                "too many logins at once; try again shortly".into(),
            ));
        };
        let slot = self
            .checks
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::Master("password checks stopped".into()))?;
        let check = backend.check.clone();
        let (name, password) = (user.to_string(), password.to_string());
        // argon2 is deliberately slow and PAM may sleep: off the async workers.
        let (verified, groups) = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            match check {
                Check::File(file) => (check_password(&file, &name, &password), Vec::new()),
                Check::Pam(service) => {
                    let ok = crate::pam::authenticate(&service, &name, &password);
                    (
                        ok,
                        if ok {
                            crate::pam::groups(&name)
                        } else {
                            Vec::new()
                        },
                    )
                }
            }
        })
        .await
        .map_err(|e| ApiError::Master(format!("password check failed: {e}")))?;
        if !verified {
            return Err(denied());
        }
        let list = auth_list(&backend.entries, user, &groups);
        if list.is_empty() {
            tracing::info!("external_auth: {eauth} user '{user}' has no permissions");
            return Err(denied());
        }
        Perms::parse("external_auth", user, &Value::Array(list))
            .map(Arc::new)
            .map_err(|e| ApiError::Master(e.to_string()))
    }
}

/// Salt's `fill_auth_list` (without `permissive_acl`): the entries naming
/// the user (Salt's `expr_match`), those of the user's groups (`name%`),
/// and `'*'` only when no entry named the user.
fn auth_list(entries: &[(String, Value)], user: &str, groups: &[String]) -> Vec<Value> {
    let mut list = Vec::new();
    let mut named = false;
    let mut add = |perms: &Value| match perms {
        Value::Array(items) => list.extend(items.iter().cloned()),
        other => list.push(other.clone()),
    };
    for (key, perms) in entries {
        if key == "*" {
            continue;
        }
        if let Some(group) = key.strip_suffix('%') {
            if groups.iter().any(|g| g == group) {
                add(perms);
            }
        } else if expr_match(key, user) {
            named = true;
            add(perms);
        }
    }
    if !named && let Some((_, perms)) = entries.iter().find(|(k, _)| k == "*") {
        add(perms);
    }
    list
}

/// The permission entries of a backend, each checked now so a bad one is a
/// start-up error naming it.
fn entries(
    backend: &str,
    map: &Map<String, Value>,
) -> Result<Vec<(String, Value)>, AuthConfigError> {
    let mut out = Vec::new();
    for (key, perms) in map.iter().filter(|(k, _)| !k.starts_with('^')) {
        Perms::parse("external_auth", key, perms)?;
        if key.ends_with('%') && backend == "file" {
            tracing::warn!(
                "external_auth: file: group entry '{key}' never applies (the file eauth has no groups; pam has)"
            );
        }
        out.push((key.clone(), perms.clone()));
    }
    Ok(out)
}

/// Whether the password file holds `user` with this password.
fn check_password(file: &Path, user: &str, password: &str) -> bool {
    static DUMMY: LazyLock<String> =
        LazyLock::new(|| passwords::hash_password("brine-dummy").unwrap_or_default());
    match passwords::lookup_hash(file, user) {
        Ok(Some(hash)) => passwords::verify_password(password, &hash),
        Ok(None) => {
            let _ = passwords::verify_password(password, &DUMMY);
            false
        }
        Err(e) => {
            tracing::error!("{e}");
            false
        }
    }
}

fn password_file(map: &Map<String, Value>) -> Result<PathBuf, AuthConfigError> {
    let password_file = map
        .get("^filename")
        .and_then(Value::as_str)
        .ok_or_else(|| AuthConfigError::Invalid("file: '^filename' is required".into()))?;
    if let Some(kind) = map.get("^hashtype").and_then(Value::as_str)
        && kind != "argon2"
    {
        return Err(AuthConfigError::Invalid(format!(
            "file: ^hashtype '{kind}' is not supported (argon2 only)"
        )));
    }
    Ok(PathBuf::from(password_file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn login_checks_the_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("users");
        let hash = passwords::hash_password("pw").expect("hash");
        std::fs::write(&file, format!("alice:{hash}\nnobody:{hash}\n")).expect("write");
        let config = json!({"file": {"^filename": file, "alice": ["test.*"]}});
        let auth = Auth::from_config(config.as_object().expect("map"), "login").expect("auth");
        assert!(auth.login("file", "alice", "pw").await.is_ok());
        assert!(auth.login("file", "alice", "bad").await.is_err());
        assert!(auth.login("file", "mallory", "pw").await.is_err());
        assert!(
            auth.login("file", "nobody", "pw").await.is_err(),
            "a user without permissions cannot log in"
        );
        assert!(auth.login("pam", "alice", "pw").await.is_err());
    }

    fn entries_of(value: Value) -> Vec<(String, Value)> {
        value
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    #[test]
    fn auth_lists_join_names_and_groups_and_star_only_for_the_unnamed() {
        let entries = entries_of(json!({
            "alice": ["test.ping"],
            "admins%": ["@runner"],
            "ops%": ["state.apply"],
            "*": ["test.echo"],
        }));
        let admins = vec!["admins".to_string(), "users".to_string()];
        assert_eq!(
            auth_list(&entries, "alice", &admins),
            vec![json!("test.ping"), json!("@runner")]
        );
        assert_eq!(
            auth_list(&entries, "bob", &admins),
            vec![json!("@runner"), json!("test.echo")],
            "a user no entry names gets '*' on top of their groups"
        );
        assert_eq!(auth_list(&entries, "carol", &[]), vec![json!("test.echo")]);
    }
}
