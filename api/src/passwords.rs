//! Password hashes (argon2id, PHC strings) and the password file of the
//! `file` eauth backend: one `user:hash` per line, `#` comments allowed.

use std::path::Path;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use ring::rand::{SecureRandom, SystemRandom};

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("no system randomness: {0}")]
    Random(String),
    #[error("hashing failed: {0}")]
    Hash(String),
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

/// Hash a password with argon2id and a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|e| PasswordError::Random(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the stored PHC string; a malformed hash never does.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// The stored hash for `user` in a password file.
pub fn lookup_hash(file: &Path, user: &str) -> Result<Option<String>, PasswordError> {
    let text = std::fs::read_to_string(file).map_err(|source| PasswordError::Read {
        path: file.display().to_string(),
        source,
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| *name == user)
        .map(|(_, hash)| hash.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let hash = hash_password("s3cret").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("s3cret", "not a hash"));
    }

    #[test]
    fn password_file_lookup() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("users");
        std::fs::write(&file, "# users\nalice:$argon2id$x\n\nbob:$argon2id$y\n").expect("write");
        assert_eq!(
            lookup_hash(&file, "bob").expect("read").as_deref(),
            Some("$argon2id$y")
        );
        assert_eq!(lookup_hash(&file, "carol").expect("read"), None);
    }
}
