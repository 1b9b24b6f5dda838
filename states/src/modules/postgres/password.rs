//! PostgreSQL role password verifiers as Salt's `postgres` module builds
//! and checks them (`_md5_password`, `_scram_sha_256`,
//! `_maybe_encrypt_password`, `_verify_password`). The `postgres_user`
//! state compares a wanted password with the stored verifier, and the
//! minion's `postgres.user_create`/`user_update` store the verifier: both
//! use these, so the two always agree.

use base64::Engine as _;
use ring::rand::SecureRandom as _;
use serde_json::Value;

/// Salt's `_DEFAULT_PASSWORDS_ENCRYPTION`.
pub const DEFAULT_ENCRYPTION: &str = "md5";

/// How a password is stored: Salt's `encrypted` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `None`, `True` or `"md5"`.
    Md5,
    /// `"scram-sha-256"`.
    Scram,
    /// `False`: stored as given.
    Plain,
}

/// A bad `encrypted` value (Salt raises `ValueError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unknown password algorithm: {0}")]
pub struct UnknownMethod(pub String);

impl Method {
    /// The method `encrypted` names, as `_maybe_encrypt_password` reads it.
    pub fn of(encrypted: &Value) -> Result<Method, UnknownMethod> {
        match encrypted {
            Value::Null | Value::Bool(true) => Ok(Method::Md5),
            Value::Bool(false) => Ok(Method::Plain),
            Value::String(s) if s == "md5" => Ok(Method::Md5),
            Value::String(s) if s == "scram-sha-256" => Ok(Method::Scram),
            other => Err(UnknownMethod(brine_common::output::python::to_str(other))),
        }
    }
}

/// `md5` + hex md5 of password then role (PostgreSQL's md5 verifier).
pub fn md5_password(role: &str, password: &str) -> String {
    use md5::Digest as _;
    let digest = md5::Md5::digest(format!("{password}{role}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("md5{hex}")
}

/// A SCRAM-SHA-256 verifier (RFC 7677), with the given salt and iterations
/// or a fresh random salt and PostgreSQL's 4096 iterations.
pub fn scram_sha_256(password: &str, salt: Option<&[u8]>, iterations: u32) -> String {
    let mut fresh = [0u8; 16];
    let salt = match salt {
        Some(s) => s,
        None => {
            // A failing system RNG leaves zeros; the verifier stays valid.
            let _ = ring::rand::SystemRandom::new().fill(&mut fresh);
            &fresh
        }
    };
    let rounds = std::num::NonZeroU32::new(iterations.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
    let mut salted = [0u8; 32];
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        rounds,
        salt,
        password.as_bytes(),
        &mut salted,
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &salted);
    let client_key = ring::hmac::sign(&key, b"Client Key");
    let stored_key = ring::digest::digest(&ring::digest::SHA256, client_key.as_ref());
    let server_key = ring::hmac::sign(&key, b"Server Key");
    let b64 = base64::engine::general_purpose::STANDARD;
    format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        b64.encode(salt),
        b64.encode(stored_key.as_ref()),
        b64.encode(server_key.as_ref())
    )
}

/// Salt's `_maybe_encrypt_password`: the verifier to store for `password`
/// (a password that already is a verifier of the method is kept).
pub fn maybe_encrypt(role: &str, password: &str, method: Method) -> String {
    match method {
        Method::Scram if !password.starts_with("SCRAM-SHA-256") => {
            scram_sha_256(password, None, 4096)
        }
        Method::Md5 if !password.starts_with("md5") => md5_password(role, password),
        _ => password.to_string(),
    }
}

/// Salt's `_verify_password`: whether `password` (plain or already a
/// verifier) is what the stored `verifier` holds.
pub fn verify(role: &str, password: &str, verifier: &str, method: Method) -> bool {
    match method {
        Method::Md5 if password.starts_with("md5") => verifier == password,
        Method::Md5 => verifier == md5_password(role, password),
        Method::Scram if password.starts_with("SCRAM-SHA-256") => verifier == password,
        Method::Scram => scram_parameters(verifier).is_some_and(|(iterations, salt)| {
            verifier == scram_sha_256(password, Some(&salt), iterations)
        }),
        Method::Plain => verifier == password,
    }
}

/// The iterations and salt of a stored SCRAM verifier.
fn scram_parameters(verifier: &str) -> Option<(u32, Vec<u8>)> {
    let rest = verifier.strip_prefix("SCRAM-SHA-256$")?;
    let (iterations, rest) = rest.split_once(':')?;
    let (salt, _) = rest.split_once('$')?;
    let iterations = iterations.parse().ok()?;
    let salt = base64::engine::general_purpose::STANDARD
        .decode(salt)
        .ok()?;
    Some((iterations, salt))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn md5_verifier_is_postgres_one() {
        // python: 'md5' + hashlib.md5(b'secretfrank').hexdigest()
        assert_eq!(
            md5_password("frank", "secret"),
            "md5c0d0a2c5f48b91d8e16412ff4dc7b994"
        );
        assert!(verify(
            "frank",
            "secret",
            &md5_password("frank", "secret"),
            Method::Md5
        ));
        assert!(!verify(
            "frank",
            "other",
            &md5_password("frank", "secret"),
            Method::Md5
        ));
    }

    #[test]
    fn scram_verifier_matches_salts_algorithm() {
        // python: postgres._scram_sha_256('secret', salt_bytes=b'0123456789abcdef')
        let v = scram_sha_256("secret", Some(b"0123456789abcdef"), 4096);
        assert_eq!(v, SCRAM_SECRET);
        assert!(verify("frank", "secret", &v, Method::Scram));
        assert!(!verify("frank", "nope", &v, Method::Scram));
        assert!(maybe_encrypt("frank", "secret", Method::Scram).starts_with("SCRAM-SHA-256$4096:"));
    }

    #[test]
    fn methods_read_as_salt_does() {
        assert_eq!(Method::of(&json!(null)), Ok(Method::Md5));
        assert_eq!(Method::of(&json!(true)), Ok(Method::Md5));
        assert_eq!(Method::of(&json!(false)), Ok(Method::Plain));
        assert_eq!(
            Method::of(&json!("sha1"))
                .expect_err("an error")
                .to_string(),
            "Unknown password algorithm: sha1"
        );
        assert_eq!(maybe_encrypt("r", "md5abc", Method::Md5), "md5abc");
    }

    const SCRAM_SECRET: &str = "SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$bpSY5Ze9NUH+I35LC3gVq+DpBfK46iXBxvhAKqVu9pE=:VpYlBuxyzeCI1KnctrefdljpB1mk3Gp7sBI/t11+NkQ=";
}
