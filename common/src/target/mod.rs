//! Targeting: which minions a published job is for (DESIGN.md, "Compatibility
//! contract"; research A.3).
//!
//! One compiled [`Target`] serves both sides. Each minion evaluates it against
//! its own id, grains and pillar and is the authority on whether it runs the
//! job; the master evaluates the same target over its minion data cache to
//! know whom to wait for. Target types and Salt's CLI flags:
//!
//! | type | flag | matches |
//! |---|---|---|
//! | `glob` | (default) | fnmatch on the id |
//! | `pcre` | `-E` | regex on the id, anchored at the start |
//! | `list` | `-L` | comma-separated ids |
//! | `grain` / `grain_pcre` | `-G` / `-P` | `key:value` over grains, glob / regex value |
//! | `pillar` / `pillar_pcre` | `-I` / `-J` | the same over pillar |
//! | `ipcidr` | `-S` | address or subnet against the `ipv4`/`ipv6` grains |
//! | `compound` | `-C` | the above combined with `and`/`or`/`not`/parentheses |
//! | `nodegroup` | `-N` | a named compound target, expanded by the master |
//!
//! Everything that cannot match by construction (a bad regex, an unbalanced
//! parenthesis, an unknown nodegroup) is an error at compile time, so the CLI
//! refuses it before anything is published.

pub mod compound;
mod expr;
mod fnmatch;
mod ipcidr;
mod listmatch;
mod nodegroup;
mod subdict;
mod target_type;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::wire::TargetSpec;

pub use compound::CompoundError;
pub use expr::{DataNeeds, MinionFacts};
pub use fnmatch::Fnmatch;
pub use ipcidr::IpMatch;
pub use listmatch::{ExprMatcher, check_whitelist_blacklist, expr_match};
pub use nodegroup::{expand_group, expand_words};
pub use subdict::{DataPattern, ValueMatch, traverse, traverse_value};
pub use target_type::TargetType;

use expr::{Expr, Term};

/// The delimiter between nested keys and the value in grain and pillar targets.
pub const DEFAULT_DELIMITER: &str = ":";

/// What is wrong with a target.
#[derive(Debug, Error, PartialEq)]
pub enum TargetError {
    #[error("invalid glob {pattern:?}: {problem}")]
    Glob { pattern: String, problem: String },
    #[error("invalid regular expression {0:?}: {1}")]
    Regex(String, String),
    #[error(
        "unsupported target type {0:?} (known: glob, pcre, list, grain, grain_pcre, pillar, pillar_pcre, ipcidr, compound, nodegroup)"
    )]
    UnknownType(String),
    #[error("a target of type {0} must be a string or a list of strings")]
    Shape(TargetType),
    #[error(
        "{kind} target {expr:?} needs a key and a value separated by {delimiter:?}, e.g. os{delimiter}Debian"
    )]
    MissingDelimiter {
        kind: &'static str,
        expr: String,
        delimiter: String,
    },
    #[error("invalid IP/CIDR target {0:?}: {1}")]
    IpCidr(String, String),
    #[error("invalid compound target {expr:?}: {source}")]
    Compound { expr: String, source: CompoundError },
    #[error("unknown nodegroup {0:?} (not in the master's `nodegroups`)")]
    UnknownNodegroup(String),
    #[error("nodegroup {0:?} must be a string or a list of words")]
    NodegroupShape(String),
    #[error("nodegroup {0:?} is empty")]
    NodegroupEmpty(String),
    #[error("nodegroups include each other in a loop: {0}")]
    NodegroupCycle(String),
    #[error(
        "nodegroup target {0:?} reached a minion unexpanded: nodegroups are resolved by the master"
    )]
    NodegroupNotExpanded(String),
    #[error("range targets (-R) are not supported")]
    RangeUnsupported,
}

/// A compiled target.
#[derive(Debug, Clone)]
pub struct Target {
    expr: Expr,
    /// The ids of a `list` target, so the master can publish on their topics.
    listed: Option<Vec<String>>,
}

impl Target {
    /// Compile a target as published: nodegroups must already be expanded
    /// (see [`expand_nodegroups`]).
    pub fn compile(spec: &TargetSpec) -> Result<Self, TargetError> {
        let listed = match spec.tgt_type {
            TargetType::List => Some(list_items(&spec.tgt)?),
            _ => None,
        };
        Ok(Target {
            expr: compile_expr(spec)?,
            listed,
        })
    }

    /// Expand nodegroups from the master's `nodegroups`, then compile.
    pub fn compile_with_nodegroups(
        spec: &TargetSpec,
        nodegroups: &Map<String, Value>,
    ) -> Result<Self, TargetError> {
        Self::compile(&expand_nodegroups(spec, nodegroups)?)
    }

    /// Does the target match? Unknown data counts as "no": this is the
    /// minion's question about itself, where nothing is unknown.
    pub fn matches(&self, facts: &MinionFacts) -> bool {
        self.expr.eval(facts) == Some(true)
    }

    /// Three-valued: `None` when the answer depends on grains or pillar the
    /// facts do not have (the master's question about an uncached minion).
    pub fn evaluate(&self, facts: &MinionFacts) -> Option<bool> {
        self.expr.eval(facts)
    }

    /// Whether the target looks beyond minion ids (grains, pillar, addresses).
    pub fn needs_minion_data(&self) -> bool {
        self.expr.needs_data()
    }

    /// Which grain and pillar keys the target reads.
    pub fn data_needs(&self) -> expr::DataNeeds {
        self.expr.data_needs()
    }

    /// Whether the target is decided by minion ids alone, so the master's
    /// expected set is exact and a return from any other minion is not for
    /// the job. Grain, pillar and address targets are decided by each minion.
    pub fn is_id_only(&self) -> bool {
        !self.needs_minion_data()
    }

    /// Match on the id alone; grain and pillar terms count as "no".
    pub fn matches_id(&self, id: &str) -> bool {
        self.matches(&MinionFacts::id_only(id))
    }

    /// The ids a list target names, so the master can publish on their topics.
    pub fn listed_ids(&self) -> Option<&[String]> {
        self.listed.as_deref()
    }
}

/// Replace a `nodegroup` target, and `N@` words in a `compound` one, with the
/// groups' compound words. Other targets are returned unchanged.
pub fn expand_nodegroups(
    spec: &TargetSpec,
    nodegroups: &Map<String, Value>,
) -> Result<TargetSpec, TargetError> {
    let words = match spec.tgt_type {
        TargetType::Nodegroup => {
            let name = spec
                .tgt
                .as_str()
                .ok_or(TargetError::Shape(TargetType::Nodegroup))?;
            expand_group(name.trim(), nodegroups)?
        }
        TargetType::Compound => {
            let words = compound_words(&spec.tgt)?;
            if !words
                .iter()
                .any(|w| nodegroup::group_reference(w).is_some())
            {
                return Ok(spec.clone());
            }
            expand_words(&words, nodegroups)?
        }
        _ => return Ok(spec.clone()),
    };
    Ok(TargetSpec {
        tgt: words_value(words),
        tgt_type: TargetType::Compound,
    })
}

/// The target narrowed to `ids`: the compound `( target ) and L@ids`. Each
/// minion still decides the original target for itself, and no minion
/// outside `ids` can match — how a caller that checked permissions against
/// the minions a grain or pillar target matched on the master keeps any other
/// minion (whose cached grains were stale) from running the job. Nodegroups
/// must already be expanded. No ids gives an empty list, which matches none.
pub fn restrict_to_ids(spec: &TargetSpec, ids: &[String]) -> Result<TargetSpec, TargetError> {
    if ids.is_empty() {
        return Ok(TargetSpec {
            tgt: Value::Array(Vec::new()),
            tgt_type: TargetType::List,
        });
    }
    let mut words = vec!["(".to_string()];
    words.extend(as_compound_words(spec)?);
    words.extend([")".into(), "and".into(), format!("L@{}", ids.join(","))]);
    Ok(TargetSpec {
        tgt: words_value(words),
        tgt_type: TargetType::Compound,
    })
}

/// A target as compound words: grain `os:Debian` is `G@os:Debian`.
fn as_compound_words(spec: &TargetSpec) -> Result<Vec<String>, TargetError> {
    let text = || spec.tgt.as_str().ok_or(TargetError::Shape(spec.tgt_type));
    let prefixed = |prefix: &str| Ok::<_, TargetError>(format!("{prefix}@{}", text()?));
    let word = match spec.tgt_type {
        TargetType::Compound => return compound_words(&spec.tgt),
        TargetType::Glob => text()?.to_string(),
        TargetType::Pcre => prefixed("E")?,
        TargetType::List => format!("L@{}", list_items(&spec.tgt)?.join(",")),
        TargetType::Grain => prefixed("G")?,
        TargetType::GrainPcre => prefixed("P")?,
        TargetType::Pillar => prefixed("I")?,
        TargetType::PillarPcre => prefixed("J")?,
        TargetType::IpCidr => prefixed("S")?,
        TargetType::Nodegroup => {
            return Err(TargetError::NodegroupNotExpanded(
                spec.tgt.as_str().unwrap_or_default().to_string(),
            ));
        }
        TargetType::Range => return Err(TargetError::RangeUnsupported),
    };
    Ok(vec![word])
}

fn compile_expr(spec: &TargetSpec) -> Result<Expr, TargetError> {
    let text = || spec.tgt.as_str().ok_or(TargetError::Shape(spec.tgt_type));
    let data = |mode, kind| DataPattern::new(text()?, DEFAULT_DELIMITER, mode, kind);
    let term = match spec.tgt_type {
        TargetType::Glob => Term::IdGlob(Fnmatch::new(text()?)?),
        TargetType::Pcre => Term::IdPcre(compound::id_regex(text()?)?),
        TargetType::List => Term::IdList(list_items(&spec.tgt)?),
        TargetType::Grain => Term::Grain(data(ValueMatch::Glob, "grain")?),
        TargetType::GrainPcre => Term::Grain(data(ValueMatch::Regex, "grain_pcre")?),
        TargetType::Pillar => Term::Pillar(data(ValueMatch::Glob, "pillar")?),
        TargetType::PillarPcre => Term::Pillar(data(ValueMatch::Regex, "pillar_pcre")?),
        TargetType::IpCidr => Term::IpCidr(IpMatch::parse(text()?)?),
        TargetType::Compound => return compile_compound(&spec.tgt),
        TargetType::Nodegroup => {
            return Err(TargetError::NodegroupNotExpanded(
                spec.tgt.as_str().unwrap_or_default().to_string(),
            ));
        }
        TargetType::Range => return Err(TargetError::RangeUnsupported),
    };
    Ok(Expr::Term(term))
}

fn compile_compound(tgt: &Value) -> Result<Expr, TargetError> {
    let words = compound_words(tgt)?;
    compound::parse(&words).map_err(|source| TargetError::Compound {
        expr: words.join(" "),
        source,
    })
}

/// A compound target's words: a string split on whitespace, or a list.
fn compound_words(tgt: &Value) -> Result<Vec<String>, TargetError> {
    match tgt {
        Value::String(text) => Ok(compound::words(text)
            .into_iter()
            .map(String::from)
            .collect()),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(String::from)
                    .ok_or(TargetError::Shape(TargetType::Compound))
            })
            .collect(),
        _ => Err(TargetError::Shape(TargetType::Compound)),
    }
}

/// Words as a publication carries them: one string, or a list when a word
/// holds whitespace (a list-form nodegroup may).
fn words_value(words: Vec<String>) -> Value {
    if words.iter().any(|w| w.contains(char::is_whitespace)) {
        Value::Array(words.into_iter().map(Value::String).collect())
    } else {
        Value::String(words.join(" "))
    }
}

/// `web1,web2` -> the ids (blank items dropped).
pub(crate) fn list_from_text(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn list_items(tgt: &Value) -> Result<Vec<String>, TargetError> {
    match tgt {
        Value::String(s) => Ok(list_from_text(s)),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(String::from)
                    .ok_or(TargetError::Shape(TargetType::List))
            })
            .collect(),
        _ => Err(TargetError::Shape(TargetType::List)),
    }
}

#[cfg(test)]
mod tests;
