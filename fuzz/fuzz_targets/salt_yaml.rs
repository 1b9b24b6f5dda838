//! The Salt-YAML loader (state and pillar SLS, configs, `import_yaml`):
//! one document and a stream, and a dump of what loaded.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(value) = brine_common::yaml::load(text, "fuzz.sls") {
        let _ = brine_common::yaml::dump_block(&value);
        let _ = brine_common::yaml::dump_flow(&value);
    }
    let _ = brine_common::yaml::load_all(text, "fuzz.sls");
});
