//! The `reactor:` map: a list of one-key maps from a tag glob to the SLS
//! files that react to it, as Salt's `Reactor.list_reactors` reads it.
//!
//! Globs are matched as Python's `fnmatch` does (`*` also matches `/`).
//! Entries that are not one-key maps are skipped, as Salt skips them; a value
//! may be one path or a list of paths.

use std::sync::RwLock;

use globset::{GlobBuilder, GlobMatcher};
use serde_json::{Map, Value, json};

/// One `tag glob -> [sls]` entry.
#[derive(Debug, Clone)]
pub struct Rule {
    pub glob: String,
    pub sls: Vec<String>,
    matcher: Option<GlobMatcher>,
}

impl Rule {
    pub fn new(glob: &str, sls: Vec<String>) -> Self {
        let matcher = match GlobBuilder::new(glob).literal_separator(false).build() {
            Ok(g) => Some(g.compile_matcher()),
            Err(e) => {
                tracing::error!("reactor: invalid tag glob {glob:?}: {e}");
                None
            }
        };
        Rule {
            glob: glob.to_string(),
            sls,
            matcher,
        }
    }

    /// Does this rule react to `tag`?
    pub fn matches(&self, tag: &str) -> bool {
        self.matcher.as_ref().is_some_and(|m| m.is_match(tag))
    }

    /// The entry as it appears in the config (`{glob: [sls...]}`).
    pub fn to_value(&self) -> Value {
        json!({ self.glob.clone(): self.sls })
    }
}

/// The rules of a `reactor:` config value; malformed entries are logged and skipped.
pub fn parse_rules(entries: &[Value]) -> Vec<Rule> {
    entries.iter().filter_map(parse_entry).collect()
}

fn parse_entry(entry: &Value) -> Option<Rule> {
    let Some(map) = entry.as_object().filter(|m| m.len() == 1) else {
        tracing::warn!("reactor: entry {entry} is not a one-key map, skipped");
        return None;
    };
    let (glob, value) = map.iter().next()?;
    match sls_list(value) {
        Some(sls) => Some(Rule::new(glob, sls)),
        None => {
            tracing::warn!("reactor: {glob:?} must name an SLS path or a list of them, skipped");
            None
        }
    }
}

/// One path or a list of paths.
pub fn sls_list(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => None,
    }
}

/// The reactor's rules, changed at run time by `reactor.add`/`reactor.delete`.
#[derive(Debug, Default)]
pub struct RuleSet {
    rules: RwLock<Vec<Rule>>,
}

impl RuleSet {
    pub fn new(rules: Vec<Rule>) -> Self {
        RuleSet {
            rules: RwLock::new(rules),
        }
    }

    /// Every SLS that reacts to `tag`, in config order.
    pub fn reactions_for(&self, tag: &str) -> Vec<String> {
        self.read()
            .iter()
            .filter(|r| r.matches(tag))
            .flat_map(|r| r.sls.iter().cloned())
            .collect()
    }

    /// The rules as Salt's `reactor.list` shows them.
    pub fn list(&self) -> Value {
        Value::Array(self.read().iter().map(Rule::to_value).collect())
    }

    /// Salt's `add_reactor`: refused when the glob is configured already.
    pub fn add(&self, glob: &str, sls: Vec<String>) -> Value {
        let mut rules = self.rules.write().unwrap_or_else(|p| p.into_inner());
        if rules.iter().any(|r| r.glob == glob) {
            return status(false, "Reactor already exists.");
        }
        rules.push(Rule::new(glob, sls));
        status(true, "Reactor added.")
    }

    /// Salt's `delete_reactor`.
    pub fn delete(&self, glob: &str) -> Value {
        let mut rules = self.rules.write().unwrap_or_else(|p| p.into_inner());
        let before = rules.len();
        rules.retain(|r| r.glob != glob);
        if rules.len() < before {
            status(true, "Reactor deleted.")
        } else {
            status(false, "Reactor does not exist.")
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Rule>> {
        self.rules.read().unwrap_or_else(|p| p.into_inner())
    }
}

fn status(ok: bool, comment: &str) -> Value {
    let mut m = Map::new();
    m.insert("status".into(), Value::Bool(ok));
    m.insert("comment".into(), Value::String(comment.into()));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(yaml: &str) -> RuleSet {
        let value = brine_common::yaml::load(yaml, "test").expect("yaml");
        RuleSet::new(parse_rules(value.as_array().expect("list")))
    }

    #[test]
    fn globs_match_like_fnmatch() {
        let set = rules(
            "- 'salt/minion/*/start': [/srv/reactor/start.sls]\n\
             - 'myapp/deploy': salt://reactor/deploy.sls\n\
             - 'salt/beacon/*/inotify//etc/important_file':\n    - a.sls\n    - b.sls\n\
             - 'job-?': [q.sls]\n",
        );
        assert_eq!(
            set.reactions_for("salt/minion/m1/start"),
            vec!["/srv/reactor/start.sls"]
        );
        // `*` crosses `/`, as fnmatch's does.
        assert_eq!(
            set.reactions_for("salt/minion/a/b/start"),
            vec!["/srv/reactor/start.sls"]
        );
        assert_eq!(
            set.reactions_for("myapp/deploy"),
            vec!["salt://reactor/deploy.sls"]
        );
        assert!(set.reactions_for("myapp/deploy/x").is_empty());
        assert_eq!(
            set.reactions_for("salt/beacon/m1/inotify//etc/important_file"),
            vec!["a.sls", "b.sls"]
        );
        assert_eq!(set.reactions_for("job-1"), vec!["q.sls"]);
        assert!(set.reactions_for("job-12").is_empty());
    }

    #[test]
    fn malformed_entries_are_skipped() {
        let set = rules("- just-a-string\n- {a: x.sls, b: y.sls}\n- c: 3\n- d: [ok.sls]\n");
        assert_eq!(set.list(), json!([{"d": ["ok.sls"]}]));
    }

    #[test]
    fn add_and_delete_at_run_time() {
        let set = rules("- a: [x.sls]\n");
        assert_eq!(set.add("a", vec!["y.sls".into()])["status"], json!(false));
        assert_eq!(set.add("b/*", vec!["y.sls".into()])["status"], json!(true));
        assert_eq!(set.reactions_for("b/1"), vec!["y.sls"]);
        assert_eq!(set.delete("b/*")["status"], json!(true));
        assert_eq!(set.delete("b/*")["status"], json!(false));
        assert!(set.reactions_for("b/1").is_empty());
    }
}
