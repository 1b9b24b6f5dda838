//! An in-memory [`StateHost`] for the compiler's and runtime's tests: files
//! by environment (`<saltenv>/<path>`), fixed grains and pillar, options, and
//! `cmd.retcode` answering from a table.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use brine_common::ids::{RelPath, SaltEnv};
use serde_json::{Map, Value, json};

use crate::host::StateHost;
use crate::testfiles::MemFiles;

#[derive(Default)]
pub struct MemHost {
    /// `salt://` files by `<saltenv>/<path>`.
    pub files: MemFiles,
    pub grains: Map<String, Value>,
    pub pillar: Map<String, Value>,
    /// `cmd.retcode` answers by command text (missing: 1).
    pub retcodes: BTreeMap<String, i64>,
    /// Options beyond `id`.
    pub opts: Map<String, Value>,
    pub calls: Mutex<Vec<String>>,
    /// How many times an environment's files were listed.
    pub listings: std::sync::atomic::AtomicUsize,
}

impl MemHost {
    pub fn with_files(files: &[(&str, &str)]) -> Self {
        let mut h = MemHost {
            files: MemFiles::per_env(),
            ..MemHost::default()
        };
        for (key, text) in files {
            h.files.insert(*key, *text);
        }
        h.grains.insert("id".into(), json!("m1"));
        h.grains.insert("os".into(), json!("Debian"));
        h
    }
}

impl StateHost for MemHost {
    fn call(
        &self,
        fun: &str,
        args: Vec<Value>,
        _kwargs: Map<String, Value>,
    ) -> Result<Value, String> {
        let first = args
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(format!("{fun} {first}"));
        }
        match fun {
            "cmd.retcode" => Ok(json!(self.retcodes.get(&first).copied().unwrap_or(1))),
            _ => Err(format!("'{fun}' is not available.")),
        }
    }
    fn has_function(&self, fun: &str) -> bool {
        fun == "cmd.retcode"
    }
    fn grains(&self) -> Map<String, Value> {
        self.grains.clone()
    }
    fn pillar(&self) -> Map<String, Value> {
        self.pillar.clone()
    }
    fn opts(&self) -> Map<String, Value> {
        let mut opts = self.opts.clone();
        opts.insert("id".into(), json!("m1"));
        opts
    }
    fn read_file(&self, saltenv: &SaltEnv, path: &RelPath) -> Result<Option<Vec<u8>>, String> {
        Ok(self.files.read(saltenv, path))
    }
    fn cache_file(&self, _saltenv: &SaltEnv, path: &RelPath) -> Result<PathBuf, String> {
        Err(format!("no cache for {path}"))
    }
    fn list_files(&self, saltenv: &SaltEnv) -> Result<Vec<RelPath>, String> {
        self.listings
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(self.files.list(saltenv))
    }
    fn environments(&self) -> Vec<SaltEnv> {
        self.files.environments()
    }
}
