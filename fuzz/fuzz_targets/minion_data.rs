//! The master's minion data cache reads each record's msgpack by hand
//! (`extract` skips what a target does not need): arbitrary bytes as a
//! record, with and without a key filter; and a minion's grains map as
//! rmp-serde decodes it off the wire.
#![no_main]

use std::collections::BTreeSet;

use brine_master::minion_data::extract;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let keys: BTreeSet<String> = ["role".to_string(), "os".to_string()].into();
    let _ = extract(data, "grains", None);
    let _ = extract(data, "pillar", Some(&keys));
    let _ = rmp_serde::from_slice::<serde_json::Map<String, serde_json::Value>>(data);
});
