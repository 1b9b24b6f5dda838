//! Where a minion keeps its grains: one shared base map under the minion's
//! own values. A `brine-minion` has everything in its base; the minions of
//! a swarm share one base (the host's detected grains, about 28 KiB) and
//! keep only their id and template values of their own.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Map, Value};

#[derive(Debug, Clone, Default)]
pub struct GrainStore {
    base: Arc<Map<String, Value>>,
    /// Values over the base (top-level keys).
    own: Map<String, Value>,
}

impl GrainStore {
    /// All grains in one map of this minion's own.
    pub fn new(all: Map<String, Value>) -> Self {
        GrainStore {
            base: Arc::new(all),
            own: Map::new(),
        }
    }

    /// A shared base with this minion's values over it.
    pub fn layered(base: Arc<Map<String, Value>>, own: Map<String, Value>) -> Self {
        GrainStore { base, own }
    }

    /// Every grain, as one map.
    pub fn snapshot(&self) -> Map<String, Value> {
        let mut all = (*self.base).clone();
        all.extend(self.own.iter().map(|(k, v)| (k.clone(), v.clone())));
        all
    }

    /// The grains a target reads (`keys`: top-level names; `None`: all),
    /// borrowed when nothing is layered.
    pub fn for_keys(&self, keys: Option<&BTreeSet<String>>) -> Cow<'_, Map<String, Value>> {
        if self.own.is_empty() {
            return Cow::Borrowed(&self.base);
        }
        let Some(keys) = keys else {
            return Cow::Owned(self.snapshot());
        };
        Cow::Owned(
            keys.iter()
                .filter_map(|k| {
                    let v = self.own.get(k).or_else(|| self.base.get(k))?;
                    Some((k.clone(), v.clone()))
                })
                .collect(),
        )
    }

    /// Replace every grain (a refresh): the new ones are this minion's own.
    pub fn replace(&mut self, all: Map<String, Value>) {
        *self = GrainStore::new(all);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn own_values_win_and_subsets_hold_only_the_keys_asked_for() {
        let base = Arc::new(map(json!({"os": "Debian", "id": "host", "cpus": 2})));
        let store = GrainStore::layered(base, map(json!({"id": "s1", "role": "r1"})));
        assert_eq!(
            Value::Object(store.snapshot()),
            json!({"os": "Debian", "id": "s1", "cpus": 2, "role": "r1"})
        );
        let keys: BTreeSet<String> = ["role".to_string(), "os".to_string()].into();
        assert_eq!(
            Value::Object(store.for_keys(Some(&keys)).into_owned()),
            json!({"os": "Debian", "role": "r1"})
        );
        let plain = GrainStore::new(map(json!({"os": "Debian"})));
        assert!(matches!(plain.for_keys(Some(&keys)), Cow::Borrowed(_)));
    }
}
