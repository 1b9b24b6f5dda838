//! Matching a published target against a minion (DESIGN.md, targeting).
//!
//! The master uses the same code to compute which minions a target expects,
//! and each minion to decide whether a publication is for it. This file holds
//! the id-based matchers (`glob`, `pcre`, `list`); grain, pillar and compound
//! matching build on it.

use globset::GlobBuilder;
use regex::Regex;
use serde_json::Value;
use thiserror::Error;

use crate::wire::TargetSpec;

#[derive(Debug, Error, PartialEq)]
pub enum TargetError {
    #[error("invalid glob {0:?}: {1}")]
    Glob(String, String),
    #[error("invalid regular expression {0:?}: {1}")]
    Regex(String, String),
    #[error("unsupported target type {0:?}")]
    UnknownType(String),
    #[error("target of type {0} must be a string or a list")]
    Shape(String),
}

/// A compiled target expression.
#[derive(Debug, Clone)]
pub enum Matcher {
    Glob(globset::GlobMatcher),
    Pcre(Regex),
    List(Vec<String>),
}

impl Matcher {
    pub fn compile(spec: &TargetSpec) -> Result<Self, TargetError> {
        let as_str = || -> Result<&str, TargetError> {
            spec.tgt
                .as_str()
                .ok_or_else(|| TargetError::Shape(spec.tgt_type.clone()))
        };
        match spec.tgt_type.as_str() {
            "glob" => glob(as_str()?),
            "pcre" => {
                let re = as_str()?;
                // Salt uses re.match: anchored at the start only.
                Regex::new(&format!("^(?:{re})"))
                    .map(Matcher::Pcre)
                    .map_err(|e| TargetError::Regex(re.to_string(), e.to_string()))
            }
            "list" => Ok(Matcher::List(list_items(&spec.tgt)?)),
            other => Err(TargetError::UnknownType(other.to_string())),
        }
    }

    pub fn matches_id(&self, id: &str) -> bool {
        match self {
            Matcher::Glob(g) => g.is_match(id),
            Matcher::Pcre(re) => re.is_match(id),
            Matcher::List(ids) => ids.iter().any(|i| i == id),
        }
    }

    /// Whether the target is decided by minion ids alone (so the master's
    /// expected list is exact).
    pub fn is_id_only(&self) -> bool {
        matches!(self, Matcher::Glob(_) | Matcher::Pcre(_) | Matcher::List(_))
    }

    /// The ids a list target names, so the master can publish on their topics.
    pub fn listed_ids(&self) -> Option<&[String]> {
        match self {
            Matcher::List(ids) => Some(ids),
            _ => None,
        }
    }
}

/// Salt's fnmatch: `*` crosses every character (there are no path separators
/// in an id), `?`, `[seq]`, `[!seq]`; case-sensitive.
fn glob(pattern: &str) -> Result<Matcher, TargetError> {
    GlobBuilder::new(pattern)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .map(|g| Matcher::Glob(g.compile_matcher()))
        .map_err(|e| TargetError::Glob(pattern.to_string(), e.to_string()))
}

fn list_items(tgt: &Value) -> Result<Vec<String>, TargetError> {
    match tgt {
        Value::String(s) => Ok(s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(String::from)
                    .ok_or_else(|| TargetError::Shape("list".into()))
            })
            .collect(),
        _ => Err(TargetError::Shape("list".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(tgt: Value, ty: &str) -> Matcher {
        Matcher::compile(&TargetSpec {
            tgt,
            tgt_type: ty.into(),
        })
        .expect("compile")
    }

    #[test]
    fn glob_matches_like_fnmatch() {
        let g = m(json!("web*"), "glob");
        assert!(g.matches_id("web1") && g.matches_id("web10.example.com"));
        assert!(!g.matches_id("db1"));
        assert!(m(json!("web[12]"), "glob").matches_id("web2"));
        assert!(!m(json!("web[!12]"), "glob").matches_id("web2"));
        assert!(m(json!("*"), "glob").matches_id("a/b"));
    }

    #[test]
    fn list_and_pcre() {
        let l = m(json!("web1, web2"), "list");
        assert!(l.matches_id("web1") && !l.matches_id("web10"));
        assert!(m(json!(["a", "b"]), "list").matches_id("b"));
        let p = m(json!("web\\d+"), "pcre");
        assert!(p.matches_id("web12") && !p.matches_id("xweb1"));
    }

    #[test]
    fn bad_expressions_are_errors() {
        let spec = |t: &str, ty: &str| TargetSpec {
            tgt: json!(t),
            tgt_type: ty.into(),
        };
        assert!(Matcher::compile(&spec("web[", "glob")).is_err());
        assert!(Matcher::compile(&spec("(", "pcre")).is_err());
        assert!(Matcher::compile(&spec("x", "nosuch")).is_err());
    }
}
