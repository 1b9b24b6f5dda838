//! Nodegroups: named compound targets from the master config's `nodegroups`,
//! expanded on the master before a job is published, as Salt does, so that
//! minions only ever see compound expressions.
//!
//! ```yaml
//! nodegroups:
//!   webs: 'G@role:web'
//!   prod_webs: 'N@webs and G@env:prod'     # nested
//!   dbs: [db1, db2]                        # plain names become L@db1,db2
//! ```
//!
//! A group is a string (split on whitespace) or a list of words. A group of
//! plain names (no operator, no `*`, no `X@` word) becomes one `L@a,b` word,
//! or `E@a,b` when a name holds a regex character; anything else is wrapped in
//! parentheses with its `N@` words expanded in place. A group that includes
//! itself, directly or not, is an error naming the chain.

use serde_json::{Map, Value};

use super::TargetError;
use super::compound::OPERATORS;
use crate::output::python;

/// Characters that make Salt read a group of plain names as a regex.
const REGEX_CHARS: [char; 8] = ['(', '[', '{', '\\', '?', '}', ']', ')'];

/// The compound words a nodegroup stands for.
pub fn expand_group(
    name: &str,
    nodegroups: &Map<String, Value>,
) -> Result<Vec<String>, TargetError> {
    expand(name, nodegroups, &mut Vec::new())
}

/// Compound words with every `N@group` word replaced by the group's words.
pub fn expand_words<S: AsRef<str>>(
    words: &[S],
    nodegroups: &Map<String, Value>,
) -> Result<Vec<String>, TargetError> {
    let mut out = Vec::with_capacity(words.len());
    for word in words {
        match group_reference(word.as_ref()) {
            Some(name) => out.extend(expand_group(name, nodegroups)?),
            None => out.push(word.as_ref().to_string()),
        }
    }
    Ok(out)
}

/// `N@name` -> `name`.
pub fn group_reference(word: &str) -> Option<&str> {
    word.strip_prefix("N@").filter(|name| !name.is_empty())
}

fn expand(
    name: &str,
    nodegroups: &Map<String, Value>,
    chain: &mut Vec<String>,
) -> Result<Vec<String>, TargetError> {
    if chain.iter().any(|n| n == name) {
        chain.push(name.to_string());
        return Err(TargetError::NodegroupCycle(chain.join(" -> ")));
    }
    let definition = nodegroups
        .get(name)
        .ok_or_else(|| TargetError::UnknownNodegroup(name.to_string()))?;
    let words = definition_words(name, definition)?;
    if is_plain_names(&words) {
        return Ok(vec![names_word(&words)]);
    }
    chain.push(name.to_string());
    let mut out = vec!["(".to_string()];
    for word in words {
        match group_reference(&word) {
            Some(inner) => out.extend(expand(inner, nodegroups, chain)?),
            None => out.push(word),
        }
    }
    out.push(")".to_string());
    chain.pop();
    Ok(out)
}

fn definition_words(name: &str, definition: &Value) -> Result<Vec<String>, TargetError> {
    let words: Vec<String> = match definition {
        Value::String(text) => text.split_whitespace().map(String::from).collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => s.clone(),
                other => python::to_str(other),
            })
            .collect(),
        _ => return Err(TargetError::NodegroupShape(name.to_string())),
    };
    if words.is_empty() {
        return Err(TargetError::NodegroupEmpty(name.to_string()));
    }
    Ok(words)
}

/// Salt's test for "a list of node names": no operator, no wildcard, no `X@`.
fn is_plain_names(words: &[String]) -> bool {
    !words
        .iter()
        .any(|w| OPERATORS.contains(&w.as_str()) || w.contains('*') || has_engine_prefix(w))
}

fn has_engine_prefix(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase()) && chars.next() == Some('@')
}

fn names_word(words: &[String]) -> String {
    let regexy = words.iter().any(|w| w.contains(REGEX_CHARS));
    format!("{}@{}", if regexy { "E" } else { "L" }, words.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn groups() -> Map<String, Value> {
        json!({
            "webs": "G@role:web",
            "prod_webs": "N@webs and G@env:prod",
            "dbs": ["db1", "db2"],
            "numbered": "web\\d+",
            "mixed": ["G@role:db", "or", "N@dbs"],
            "loop_a": "N@loop_b or web1",
            "loop_b": "N@loop_a",
            "bad": {"x": 1},
            "empty": "",
        })
        .as_object()
        .cloned()
        .expect("object")
    }

    fn expand(name: &str) -> Result<String, TargetError> {
        expand_group(name, &groups()).map(|w| w.join(" "))
    }

    #[test]
    fn groups_expand_like_salt() {
        assert_eq!(expand("webs").expect("webs"), "( G@role:web )");
        assert_eq!(
            expand("prod_webs").expect("nested"),
            "( ( G@role:web ) and G@env:prod )"
        );
        assert_eq!(expand("dbs").expect("list"), "L@db1,db2");
        assert_eq!(expand("numbered").expect("regex"), "E@web\\d+");
        assert_eq!(
            expand("mixed").expect("mixed"),
            "( G@role:db or L@db1,db2 )"
        );
    }

    #[test]
    fn compound_words_expand_in_place() {
        let words = expand_words(&["web1", "or", "N@dbs"], &groups()).expect("expand");
        assert_eq!(words, ["web1", "or", "L@db1,db2"]);
    }

    #[test]
    fn problems_are_named() {
        assert_eq!(
            expand("nosuch"),
            Err(TargetError::UnknownNodegroup("nosuch".into()))
        );
        assert_eq!(
            expand("loop_a"),
            Err(TargetError::NodegroupCycle(
                "loop_a -> loop_b -> loop_a".into()
            ))
        );
        assert!(matches!(expand("bad"), Err(TargetError::NodegroupShape(_))));
        assert!(matches!(
            expand("empty"),
            Err(TargetError::NodegroupEmpty(_))
        ));
    }
}
