//! Logging in against `external_auth`, in Salt's shape:
//!
//! ```yaml
//! external_auth:
//!   file:
//!     ^filename: /etc/brine/api-users    # user:argon2-hash lines
//!     alice:
//!       - 'web*': ['test.*', 'state.apply']
//!       - '@runner'
//! ```
//!
//! `file` (Salt's file eauth, with argon2 hashes from `brine-api
//! hash-password`) is the only backend so far. A `'*'` entry holds the
//! permissions of every user in the file without an entry of their own.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::passwords;
use crate::perms::{Perms, PermsError};

#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error(transparent)]
    Perms(#[from] PermsError),
    #[error("external_auth: {0}")]
    Invalid(String),
}

/// One eauth backend's users.
struct Backend {
    password_file: PathBuf,
    users: HashMap<String, Arc<Perms>>,
}

pub struct Auth {
    backends: HashMap<String, Backend>,
}

impl Auth {
    pub fn from_config(external_auth: &Map<String, Value>) -> Result<Self, AuthConfigError> {
        let mut backends = HashMap::new();
        for (name, value) in external_auth {
            if name != "file" {
                tracing::warn!("external_auth: backend '{name}' is not supported (only 'file')");
                continue;
            }
            let map = value
                .as_object()
                .ok_or_else(|| AuthConfigError::Invalid(format!("{name}: must be a mapping")))?;
            backends.insert(name.clone(), file_backend(map)?);
        }
        Ok(Auth { backends })
    }

    /// Check a user's password; their permissions on success. Unknown
    /// users cost an argon2 verification too, so timing does not tell
    /// which names exist.
    pub async fn login(
        &self,
        eauth: &str,
        user: &str,
        password: &str,
    ) -> Result<Arc<Perms>, ApiError> {
        let denied = || ApiError::Unauthorized("Authentication failure".into());
        let backend = self.backends.get(eauth).ok_or_else(|| {
            ApiError::Unauthorized(format!("eauth backend '{eauth}' is not configured"))
        })?;
        let file = backend.password_file.clone();
        let (name, password) = (user.to_string(), password.to_string());
        // argon2 is deliberately slow: keep it off the async workers.
        let verified = tokio::task::spawn_blocking(move || check_password(&file, &name, &password))
            .await
            .map_err(|e| ApiError::Master(format!("password check failed: {e}")))?;
        if !verified {
            return Err(denied());
        }
        backend
            .users
            .get(user)
            .or_else(|| backend.users.get("*"))
            .cloned()
            .ok_or_else(denied)
    }
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

fn file_backend(map: &Map<String, Value>) -> Result<Backend, AuthConfigError> {
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
    let mut users = HashMap::new();
    for (user, perms) in map.iter().filter(|(k, _)| !k.starts_with('^')) {
        if user.ends_with('%') {
            tracing::warn!("external_auth: group '{user}' is not supported yet (ignored)");
            continue;
        }
        users.insert(user.clone(), Arc::new(Perms::parse(user, perms)?));
    }
    Ok(Backend {
        password_file: PathBuf::from(password_file),
        users,
    })
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
        std::fs::write(&file, format!("alice:{hash}\n")).expect("write");
        let config = json!({"file": {"^filename": file, "alice": ["test.*"]}});
        let auth = Auth::from_config(config.as_object().expect("map")).expect("auth");
        assert!(auth.login("file", "alice", "pw").await.is_ok());
        assert!(auth.login("file", "alice", "bad").await.is_err());
        assert!(auth.login("file", "mallory", "pw").await.is_err());
        assert!(auth.login("pam", "alice", "pw").await.is_err());
    }
}
