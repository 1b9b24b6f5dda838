//! Salt's merge strategies for pillar (`salt/utils/dictupdate.py`): how one
//! SLS file's data, an include, or an external pillar is laid over the data
//! compiled so far.

use serde_json::{Map, Value};

/// `pillar_source_merging_strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MergeStrategy {
    /// `smart` (default): `recurse` (Salt picks `aggregate` only for the
    /// `yamlex` renderer, which we do not have).
    #[default]
    Smart,
    /// Nested mappings are merged key by key; anything else is replaced.
    Recurse,
    /// Mappings merged recursively and lists merged without duplicates.
    Aggregate,
    /// Top-level keys are replaced whole.
    Overwrite,
    /// Only the top file of the minion's saltenv (or `base`) is read; data
    /// is merged as with `recurse`.
    None,
}

impl MergeStrategy {
    /// From the config value; an unknown name falls back to `recurse`, with
    /// Salt's warning.
    pub fn parse(name: &str) -> Self {
        match name {
            "smart" => MergeStrategy::Smart,
            "recurse" => MergeStrategy::Recurse,
            "aggregate" => MergeStrategy::Aggregate,
            "overwrite" => MergeStrategy::Overwrite,
            "none" => MergeStrategy::None,
            other => {
                tracing::warn!("Unknown merging strategy '{other}', fallback to recurse");
                MergeStrategy::Recurse
            }
        }
    }
}

/// Lay `over` on `base` with `strategy`; `merge_lists` is `pillar_merge_lists`.
pub fn merge(
    mut base: Map<String, Value>,
    over: Map<String, Value>,
    strategy: MergeStrategy,
    merge_lists: bool,
) -> Map<String, Value> {
    match strategy {
        MergeStrategy::Smart | MergeStrategy::Recurse | MergeStrategy::None => {
            update(&mut base, over, merge_lists);
        }
        MergeStrategy::Overwrite => {
            for (key, value) in over {
                base.insert(key, value);
            }
        }
        MergeStrategy::Aggregate => aggregate(&mut base, over),
    }
    base
}

/// Salt's `dictupdate.update`: mappings recursively, lists appended without
/// duplicates when `merge_lists`, everything else replaced.
fn update(dest: &mut Map<String, Value>, upd: Map<String, Value>, merge_lists: bool) {
    for (key, value) in upd {
        match (dest.get_mut(&key), value) {
            (Some(Value::Object(inner)), Value::Object(more)) => update(inner, more, merge_lists),
            (Some(Value::Array(list)), Value::Array(more)) if merge_lists => {
                union_into(list, more);
            }
            (_, value) => {
                dest.insert(key, value);
            }
        }
    }
}

/// Salt's `aggregation.aggregate` with every level marked: mappings merge
/// recursively, sequences are united.
fn aggregate(dest: &mut Map<String, Value>, upd: Map<String, Value>) {
    for (key, value) in upd {
        match (dest.get_mut(&key), value) {
            (Some(Value::Object(inner)), Value::Object(more)) => aggregate(inner, more),
            (Some(Value::Array(list)), Value::Array(more)) => union_into(list, more),
            (_, value) => {
                dest.insert(key, value);
            }
        }
    }
}

fn union_into(list: &mut Vec<Value>, more: Vec<Value>) {
    for item in more {
        if !list.contains(&item) {
            list.push(item);
        }
    }
}
