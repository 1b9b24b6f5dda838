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
    #[error("invalid SLS name {0:?}: {1}")]
    Sls(String, &'static str),
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

/// A file-server environment name (`base`, `dev`, a git branch such as
/// `feature/x`). Salt takes any string as a saltenv, and gitfs and
/// git_pillar serve a branch `feature/x` as the environment `feature/x`; the
/// name is also a directory under the minion's file cache
/// (`cachedir/files/<saltenv>/...`), so it is refused only where it could
/// leave that directory: empty, absolute, an empty, `.` or `..` component,
/// a backslash, a NUL or other control character, or longer than 255 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SaltEnv(String);

impl SaltEnv {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let ok = !raw.is_empty()
            && raw.len() <= 255
            && !raw.chars().any(|c| c == '\\' || c.is_control())
            && raw.split('/').all(|part| !matches!(part, "" | "." | ".."));
        if ok {
            Ok(SaltEnv(raw.to_string()))
        } else {
            Err(IdError::Path(raw.to_string(), "not a valid saltenv"))
        }
    }
}

/// A `salt://` file named by user text (a state's `source`, a template's
/// `include`, a module's argument): its environment and its path, both
/// validated, so what reaches a file server or a cache directory cannot
/// leave its root.
pub fn salt_file(saltenv: &str, path: &str) -> Result<(SaltEnv, RelPath), IdError> {
    Ok((SaltEnv::parse(saltenv)?, RelPath::parse(path)?))
}

validated_string_id!(SaltEnv);

/// An SLS name (`apache`, `apache.mod_ssl`): the dotted form users write,
/// naming `apache/mod_ssl.sls` or `apache/mod_ssl/init.sls`. Salt's
/// `get_state` also accepts `/` as the separator, so we do. Every component
/// between separators is non-empty (no leading, trailing or doubled dot: a
/// relative include `.x` must be resolved before it becomes a name), and no
/// NUL, backslash or control character, so the file paths it names are
/// always valid [`RelPath`]s.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlsName(String);

/// The SLS file an `a/b` stem names first, and the one it names when that is
/// missing (`a/b/init.sls`).
const SLS_SUFFIX: &str = ".sls";
const SLS_INIT_SUFFIX: &str = "/init.sls";

impl SlsName {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let bad = |why| Err(IdError::Sls(raw.to_string(), why));
        if raw.is_empty() {
            return bad("empty");
        }
        if raw.len() > 4096 {
            return bad("longer than 4096 bytes");
        }
        if raw.chars().any(|c| c == '\\' || c.is_control()) {
            return bad("contains a backslash or control character");
        }
        if raw.split(['.', '/']).any(str::is_empty) {
            return bad("has an empty component");
        }
        Ok(SlsName(raw.to_string()))
    }

    /// Salt's dot-to-slash rule (`a.b` is the directory stem `a/b`), the one
    /// place it is written; also used for the `slspath` of a render context,
    /// whose SLS may be empty and so is not always an `SlsName`.
    pub fn path_of(sls: &str) -> String {
        sls.replace('.', "/")
    }

    /// The stem `a/b` this name stands for.
    pub fn to_path(&self) -> String {
        Self::path_of(&self.0)
    }

    /// The files that may hold this SLS, in Salt's lookup order:
    /// `a/b.sls`, then `a/b/init.sls`.
    pub fn candidate_files(&self) -> [RelPath; 2] {
        let stem = self.to_path();
        // Parsing guarantees non-empty components without `\\` or NUL, and
        // `..` cannot occur since no component is empty between dots.
        [
            RelPath(format!("{stem}{SLS_SUFFIX}")),
            RelPath(format!("{stem}{SLS_INIT_SUFFIX}")),
        ]
    }

    /// The SLS a file-server path holds (Salt's `list_states`): `a/b.sls` is
    /// `a.b`, `a/init.sls` is `a`; `None` for any other file.
    pub fn from_file(path: &str) -> Option<Self> {
        let stem = path
            .strip_suffix(SLS_INIT_SUFFIX)
            .or_else(|| path.strip_suffix(SLS_SUFFIX))?;
        SlsName::parse(&stem.replace('/', ".")).ok()
    }
}

validated_string_id!(SlsName);

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
    }

    #[test]
    fn saltenvs_take_git_branch_names_but_cannot_leave_a_directory() {
        for good in [
            "base",
            "feature-x_1.2",
            "feature/x",
            "release/1.2/rc+1",
            "ünï",
        ] {
            assert!(SaltEnv::parse(good).is_ok(), "{good:?} refused");
        }
        for bad in [
            "", ".", "..", "../base", "a/../b", "/abs", "a/", "a//b", "a\\b", "a\0b", "a\nb",
        ] {
            assert!(SaltEnv::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(SaltEnv::parse(&"x".repeat(256)).is_err());
        let bytes = rmp_serde::to_vec(&"../base").expect("encode");
        assert!(rmp_serde::from_slice::<SaltEnv>(&bytes).is_err());
    }

    #[test]
    fn salt_files_validate_both_halves() {
        let (env, path) = salt_file("feature/x", "salt://a/b.txt").expect("valid");
        assert_eq!((env.as_str(), path.as_str()), ("feature/x", "a/b.txt"));
        assert!(salt_file("..", "a").is_err());
        assert!(salt_file("base", "../a").is_err());
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

    #[test]
    fn sls_names_name_their_two_files_and_nothing_outside_the_root() {
        let name = SlsName::parse("apache.mod_ssl").expect("valid");
        assert_eq!(name.to_path(), "apache/mod_ssl");
        let files = name.candidate_files();
        assert_eq!(files[0].as_str(), "apache/mod_ssl.sls");
        assert_eq!(files[1].as_str(), "apache/mod_ssl/init.sls");
        for file in &files {
            assert!(RelPath::parse(file.as_str()).is_ok(), "{file}");
        }
        assert!(SlsName::parse("apache/mod_ssl").is_ok());
        for bad in [
            "", ".rel", "a.", "a..b", "../x", "a/../b", "a\\b", "a\0b", "/abs",
        ] {
            assert!(SlsName::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(
            rmp_serde::from_slice::<SlsName>(&rmp_serde::to_vec(&"..").expect("encode")).is_err()
        );
    }

    #[test]
    fn sls_names_come_back_from_their_files() {
        let from = |p| SlsName::from_file(p).map(|n| n.to_string());
        assert_eq!(from("a/b.sls").as_deref(), Some("a.b"));
        assert_eq!(from("a/init.sls").as_deref(), Some("a"));
        assert_eq!(from("init.sls").as_deref(), Some("init"));
        assert_eq!(from("top.sls").as_deref(), Some("top"));
        assert_eq!(from("a/b.txt"), None);
    }
}
