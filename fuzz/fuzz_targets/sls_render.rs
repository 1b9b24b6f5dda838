//! An SLS file rendered (Jinja, then Salt-YAML) and compiled as
//! `state.show_sls` / `show_lowstate` do, on an in-memory host with grains,
//! pillar and a second file to include or import.
#![no_main]

use std::path::PathBuf;

use brine_common::ids::{RelPath, SaltEnv};
use brine_states::compile::{compile, high_from_sls};
use brine_states::host::StateHost;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

struct OneFile(String);

impl StateHost for OneFile {
    fn call(&self, fun: &str, _: Vec<Value>, _: Map<String, Value>) -> Result<Value, String> {
        Err(format!("'{fun}' is not available."))
    }
    fn has_function(&self, _: &str) -> bool {
        false
    }
    fn grains(&self) -> Map<String, Value> {
        json!({"id": "m1", "os": "Debian", "os_family": "Debian", "roles": ["web"]})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }
    fn pillar(&self) -> Map<String, Value> {
        json!({"users": {"alice": {"uid": 1000}}, "flag": true})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }
    fn opts(&self) -> Map<String, Value> {
        json!({"id": "m1"}).as_object().cloned().unwrap_or_default()
    }
    fn read_file(&self, saltenv: &SaltEnv, path: &RelPath) -> Result<Option<Vec<u8>>, String> {
        Ok(match (saltenv.as_str(), path.as_str()) {
            ("base", "fuzz.sls") => Some(self.0.as_bytes().to_vec()),
            ("base", "other.sls") => Some(b"other:\n  test.nop: []\n".to_vec()),
            ("base", "map.yaml") => Some(b"a: 1\nb: [x, y]\n".to_vec()),
            _ => None,
        })
    }
    fn cache_file(&self, _: &SaltEnv, path: &RelPath) -> Result<PathBuf, String> {
        Err(format!("no cache for {path}"))
    }
    fn list_files(&self, _: &SaltEnv) -> Result<Vec<RelPath>, String> {
        Ok(["fuzz.sls", "other.sls", "map.yaml"]
            .into_iter()
            .filter_map(|p| RelPath::parse(p).ok())
            .collect())
    }
    fn environments(&self) -> Vec<SaltEnv> {
        SaltEnv::parse("base").into_iter().collect()
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let host = OneFile(text.to_string());
    if let Ok(high) = high_from_sls(&host, "base", &["fuzz".to_string()]) {
        let _ = compile(high);
    }
});
