//! Validated identifiers that arrive from outside: minion ids and job ids.
//!
//! Deserialising one of these refuses bad values, so a minion id with a path
//! separator, a NUL or `..` can never reach code that builds a file path from it
//! (Salt's CVE-2020-11652 class). Construct them with `parse`/`TryFrom`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// The impls every validated string id shares, written once: `as_str`,
/// `Display` as the raw text, and serde as a plain string whose
/// deserialisation goes through the type's `parse` (so a bad value is
/// refused at the wire, never later).
macro_rules! validated_string_id {
    ($ty:ident) => {
        impl $ty {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $ty {
            type Err = IdError;
            fn from_str(raw: &str) -> Result<Self, IdError> {
                $ty::parse(raw)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                $ty::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// Longest minion id we accept; Salt has no limit, hostnames stop at 253.
pub const MAX_MINION_ID_LEN: usize = 253;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum IdError {
    #[error("invalid minion id {0:?}: {1}")]
    MinionId(String, &'static str),
    #[error(
        "invalid jid {0:?}: expected 20 digits (YYYYMMDDhhmmssffffff), optionally followed by _<suffix>"
    )]
    Jid(String),
    #[error("invalid file-server path {0:?}: {1}")]
    Path(String, &'static str),
}

/// A minion id: non-empty, at most 253 bytes, no `/`, `\`, NUL or control
/// characters, not starting with `.`. Safe to use as a file name in
/// `pki_dir`, and never a hidden one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MinionId(String);

impl MinionId {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let bad = |why| Err(IdError::MinionId(raw.to_string(), why));
        if raw.is_empty() {
            return bad("empty");
        }
        if raw.len() > MAX_MINION_ID_LEN {
            return bad("longer than 253 bytes");
        }
        if raw.starts_with('.') {
            // `.` and `..` are path components; any other dot-name would be
            // a hidden key file that listings and `brine-key -d '*'` miss.
            return bad("starts with a dot");
        }
        if raw.chars().any(|c| c == '/' || c == '\\' || c.is_control()) {
            return bad("contains a path separator or control character");
        }
        Ok(MinionId(raw.to_string()))
    }
}

validated_string_id!(MinionId);

/// A Salt job id: `YYYYMMDDhhmmssffffff`, optionally `_<pid>` (Salt's `unique_jid`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Jid(String);

impl Jid {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let (digits, suffix) = match raw.split_once('_') {
            Some((d, s)) => (d, Some(s)),
            None => (raw, None),
        };
        let digits_ok = digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit());
        let suffix_ok = suffix.is_none_or(|s| {
            !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric())
        });
        if digits_ok && suffix_ok {
            Ok(Jid(raw.to_string()))
        } else {
            Err(IdError::Jid(raw.to_string()))
        }
    }

    /// A jid this process formatted itself (see `jid::jid_for_micros`).
    pub(crate) fn from_generated(text: String) -> Self {
        debug_assert!(Jid::parse(&text).is_ok(), "{text}");
        Jid(text)
    }
}

validated_string_id!(Jid);

/// A path inside a file-server environment (`apache/init.sls`): relative,
/// normalised, no `..`, no NUL, no empty or `.` components. Deserialising one
/// refuses anything else, so a traversal cannot even be represented.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelPath(String);

impl RelPath {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let bad = |why| Err(IdError::Path(raw.to_string(), why));
        let trimmed = raw.strip_prefix("salt://").unwrap_or(raw);
        if trimmed.is_empty() {
            return bad("empty");
        }
        if trimmed.len() > 4096 {
            return bad("longer than 4096 bytes");
        }
        if trimmed.starts_with('/') {
            return bad("absolute");
        }
        if trimmed.contains('\0') || trimmed.contains('\\') {
            return bad("contains a NUL byte or a backslash");
        }
        for part in trimmed.split('/') {
            match part {
                "" => return bad("has an empty component"),
                "." | ".." => return bad("has a '.' or '..' component"),
                _ => {}
            }
        }
        Ok(RelPath(trimmed.to_string()))
    }
}

validated_string_id!(RelPath);

/// A file-server environment name (`base`, `dev`, a git branch).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SaltEnv(String);

impl SaltEnv {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let ok = !raw.is_empty()
            && raw.len() <= 255
            && raw != "."
            && raw != ".."
            && raw
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if ok {
            Ok(SaltEnv(raw.to_string()))
        } else {
            Err(IdError::Path(raw.to_string(), "not a valid saltenv"))
        }
    }
}

validated_string_id!(SaltEnv);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minion_ids_that_could_escape_a_directory_are_refused() {
        for bad in [
            "", ".", "..", "../etc", "a/b", "a\\b", "a\0b", "a\nb", ".shadow", "..x",
        ] {
            assert!(MinionId::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(MinionId::parse(&"x".repeat(254)).is_err());
        for good in ["web1", "web-1.example.com", "m0001", "db_1", "ünïcode"] {
            assert!(MinionId::parse(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn minion_id_deserialisation_validates() {
        let bytes = rmp_serde::to_vec(&"../../etc").expect("encode");
        assert!(rmp_serde::from_slice::<MinionId>(&bytes).is_err());
    }

    #[test]
    fn file_server_paths_cannot_leave_their_root() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../b",
            "a/./b",
            "a//b",
            "a\0b",
            "a\\..\\b",
            "salt://../x",
            "a/",
        ] {
            assert!(RelPath::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            RelPath::parse("salt://apache/init.sls")
                .expect("ok")
                .as_str(),
            "apache/init.sls"
        );
        assert!(RelPath::parse("top.sls").is_ok());
        let bytes = rmp_serde::to_vec(&"../../etc/shadow").expect("encode");
        assert!(rmp_serde::from_slice::<RelPath>(&bytes).is_err());
        assert!(SaltEnv::parse("base").is_ok() && SaltEnv::parse("feature-x_1.2").is_ok());
        assert!(SaltEnv::parse("../base").is_err() && SaltEnv::parse("a/b").is_err());
    }

    #[test]
    fn jids_follow_salts_format() {
        assert!(Jid::parse("20261121234019509933").is_ok());
        assert!(Jid::parse("20261121234019509933_1234").is_ok());
        for bad in [
            "",
            "2026112123401950993",
            "2026112123401950993x",
            "20261121234019509933_",
            "20261121234019509933_../x",
        ] {
            assert!(Jid::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
