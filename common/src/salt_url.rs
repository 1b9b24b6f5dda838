//! `salt://` URLs (`salt://path`, `salt://path?saltenv=env`): Salt's
//! `salt.utils.url.parse`, written once for every state, module, renderer
//! and the reactor that takes one from user text.
//!
//! Salt's rules, kept exactly: only the text after the first `salt://` is
//! read; `?saltenv=` splits the path from the environment at its first
//! occurrence (everything after it, `&` included, is the environment); the
//! retired `?env=` query is dropped (its value is ignored); any other `?`
//! stays part of the path; leading slashes of the path are dropped
//! (`salt:///foo` is `salt://foo`). An empty `saltenv=` names no
//! environment, as Salt's callers read it (`if senv: saltenv = senv`).

use crate::ids::{IdError, RelPath, SaltEnv};

const SCHEME: &str = "salt://";
const SALTENV_QUERY: &str = "?saltenv=";
/// Salt's retired query key: the path ends there, the value is ignored.
const RETIRED_ENV_QUERY: &str = "?env=";

/// Salt's `salt.utils.url.parse` on text: the path and the `saltenv` query
/// of a `salt://` URL, `None` when `url` is not one. Nothing is validated:
/// callers that must tell "not on the file server" from "invalid" look at
/// the text first (see [`SaltUrl::parse`] for the typed form).
pub fn split(url: &str) -> Option<(&str, Option<&str>)> {
    let resource = url.strip_prefix(SCHEME)?;
    let (path, saltenv) = if let Some((path, _)) = resource.split_once(RETIRED_ENV_QUERY) {
        (path, None)
    } else if let Some((path, env)) = resource.split_once(SALTENV_QUERY) {
        (path, Some(env).filter(|e| !e.is_empty()))
    } else {
        (resource, None)
    };
    Some((path.trim_start_matches('/'), saltenv))
}

/// A `salt://` URL with both halves validated: the path cannot leave a file
/// root, the environment (when the URL names one) cannot leave the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaltUrl {
    pub path: RelPath,
    pub saltenv: Option<SaltEnv>,
}

impl SaltUrl {
    /// `None` when `url` is not a `salt://` URL; an error when its path
    /// (an empty one too) or its environment is not valid.
    pub fn parse(url: &str) -> Option<Result<SaltUrl, IdError>> {
        let (path, saltenv) = split(url)?;
        Some(Self::from_parts(path, saltenv))
    }

    fn from_parts(path: &str, saltenv: Option<&str>) -> Result<SaltUrl, IdError> {
        let saltenv = saltenv.map(SaltEnv::parse).transpose()?;
        Ok(SaltUrl {
            path: RelPath::parse(path)?,
            saltenv,
        })
    }
}

/// The file a `salt://` URL names: its environment is the URL's own, else
/// `default_env` (the state's, or a `saltenv` argument). `None` when `url`
/// is not a `salt://` URL. The environment is checked before the path, as
/// [`crate::ids::salt_file`] does.
pub fn file_of(url: &str, default_env: &str) -> Option<Result<(SaltEnv, RelPath), IdError>> {
    let (path, saltenv) = split(url)?;
    Some(crate::ids::salt_file(saltenv.unwrap_or(default_env), path))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Salt 3008.5's `salt.utils.url.parse` on the same inputs
    /// (tests/unit/utils/test_url.py and the rules in its body).
    #[test]
    fn split_follows_salts_parse() {
        let cases = [
            ("salt://salt/test/path", Some(("salt/test/path", None))),
            (
                "salt://salt/test/path?saltenv=dev",
                Some(("salt/test/path", Some("dev"))),
            ),
            // The retired `env` query: the path ends, the value is ignored.
            (
                "salt://salt/test/path?env=dev",
                Some(("salt/test/path", None)),
            ),
            // Any other query is part of the path.
            ("salt://a?foo=bar", Some(("a?foo=bar", None))),
            // Everything after `?saltenv=` is the environment.
            ("salt://a?saltenv=dev&x=y", Some(("a", Some("dev&x=y")))),
            ("salt://a?saltenv=", Some(("a", None))),
            ("salt:///etc/passwd", Some(("etc/passwd", None))),
            ("salt:////a", Some(("a", None))),
            ("salt://", Some(("", None))),
            ("/srv/salt/a", None),
            ("file:///a", None),
            ("http://x/salt://a", None),
        ];
        for (url, want) in cases {
            assert_eq!(split(url), want, "{url}");
        }
    }

    #[test]
    fn parse_validates_both_halves() {
        assert_eq!(
            SaltUrl::parse("salt://a/b.txt?saltenv=feature/x"),
            Some(Ok(SaltUrl {
                path: RelPath::parse("a/b.txt").expect("path"),
                saltenv: Some(SaltEnv::parse("feature/x").expect("env")),
            }))
        );
        assert_eq!(
            SaltUrl::parse("salt://a"),
            Some(Ok(SaltUrl {
                path: RelPath::parse("a").expect("path"),
                saltenv: None,
            }))
        );
        for bad in [
            "salt://",
            "salt://../x",
            "salt://a/./b",
            "salt://a?saltenv=..",
        ] {
            assert!(matches!(SaltUrl::parse(bad), Some(Err(_))), "{bad}");
        }
        assert_eq!(SaltUrl::parse("/a"), None);
    }

    #[test]
    fn file_of_takes_the_default_environment_only_when_the_url_names_none() {
        let file =
            |url, env| file_of(url, env).map(|r| r.map(|(e, p)| (e.to_string(), p.to_string())));
        assert_eq!(
            file("salt://a?saltenv=dev", "base"),
            Some(Ok(("dev".into(), "a".into())))
        );
        assert_eq!(
            file("salt://a?saltenv=", "base"),
            Some(Ok(("base".into(), "a".into())))
        );
        assert_eq!(
            file("salt://a", "prod"),
            Some(Ok(("prod".into(), "a".into())))
        );
        assert_eq!(file("a", "base"), None);
    }
}
