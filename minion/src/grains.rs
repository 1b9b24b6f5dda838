//! Grains: what the minion knows about itself, with Salt's names.
//!
//! Collected at start and on `saltutil.refresh_grains`; static grains from the
//! minion config's `grains:` win over detected ones.

use brine_common::config::MinionConfig;
use brine_common::ids::MinionId;
use serde_json::{Map, Value};

/// Detect the grains and lay the configured static grains over them.
pub fn collect(config: &MinionConfig, id: &MinionId) -> Map<String, Value> {
    let mut grains = Map::new();
    grains.insert("id".into(), Value::String(id.to_string()));
    grains.insert(
        "brineversion".into(),
        Value::String(env!("CARGO_PKG_VERSION").into()),
    );
    for (k, v) in &config.grains {
        grains.insert(k.clone(), v.clone());
    }
    grains
}
