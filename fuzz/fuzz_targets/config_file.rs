//! A master and a minion config file, as `load` checks each.
#![no_main]

use brine_common::config::{MasterConfig, MinionConfig, from_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = from_text::<MasterConfig>(text, "master");
    let _ = from_text::<MinionConfig>(text, "minion");
});
