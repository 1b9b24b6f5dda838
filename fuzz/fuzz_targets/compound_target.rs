//! Targets as minions (`MineGet`, `__allow_tgt__`), the API and the CLI
//! send them: compiled, then matched against a minion with grains and
//! pillar. The first byte picks the target type.
#![no_main]

use brine_common::target::{MinionFacts, Target, TargetType};
use brine_common::wire::TargetSpec;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

const TYPES: [TargetType; 10] = [
    TargetType::Glob,
    TargetType::Pcre,
    TargetType::List,
    TargetType::Grain,
    TargetType::GrainPcre,
    TargetType::Pillar,
    TargetType::PillarPcre,
    TargetType::IpCidr,
    TargetType::Compound,
    TargetType::Nodegroup,
];

fuzz_target!(|data: &[u8]| {
    let Some((&kind, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let spec = TargetSpec {
        tgt: json!(text),
        tgt_type: TYPES[usize::from(kind) % TYPES.len()],
    };
    let nodegroups = json!({"webs": "G@role:web", "both": "N@webs or db*"});
    let Ok(target) = Target::compile_with_nodegroups(&spec, nodegroups.as_object().expect("map"))
    else {
        return;
    };
    let grains = json!({"role": "web", "os": "Debian", "ipv4": ["10.0.0.5"], "nested": {"a": [1, {"b": "c"}]}});
    let pillar = json!({"role": "db", "list": ["x", "y"]});
    let facts = MinionFacts::new(
        "web1",
        grains.as_object().expect("map"),
        pillar.as_object().expect("map"),
    );
    let _ = target.matches(&facts);
    let _ = target.evaluate(&facts);
    let _ = target.data_needs();
});
