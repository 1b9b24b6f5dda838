//! An in-memory [`StateHost`] for the state modules' unit tests: execution
//! calls go to a closure that returns canned values, and every call is
//! recorded so tests can check what a state did (and did not) run.

use std::path::PathBuf;
use std::sync::Mutex;

use brine_common::ids::{RelPath, SaltEnv};
use serde_json::{Map, Value};

use crate::host::StateHost;
use crate::lowstate::{LowChunk, StateCall, StateFn, StateResult};
use crate::testfiles::MemFiles;

type Handler =
    Box<dyn Fn(&str, &[Value], &Map<String, Value>) -> Result<Value, String> + Send + Sync>;

/// One recorded execution call.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub fun: String,
    pub args: Vec<Value>,
    pub kwargs: Map<String, Value>,
}

pub struct MockHost {
    handler: Handler,
    pub calls: Mutex<Vec<Recorded>>,
    /// `salt://` files, the same in every environment.
    pub files: MemFiles,
    pub pillar: Map<String, Value>,
}

impl MockHost {
    pub fn new(
        handler: impl Fn(&str, &[Value], &Map<String, Value>) -> Result<Value, String>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        MockHost {
            handler: Box::new(handler),
            calls: Mutex::new(Vec::new()),
            files: MemFiles::default(),
            pillar: Map::new(),
        }
    }

    /// The recorded calls of `fun`.
    pub fn calls_to(&self, fun: &str) -> Vec<Recorded> {
        self.calls
            .lock()
            .map(|c| c.iter().filter(|r| r.fun == fun).cloned().collect())
            .unwrap_or_default()
    }

    pub fn called(&self, fun: &str) -> bool {
        !self.calls_to(fun).is_empty()
    }
}

impl StateHost for MockHost {
    fn call(
        &self,
        fun: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Result<Value, String> {
        let out = (self.handler)(fun, &args, &kwargs);
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(Recorded {
                fun: fun.to_string(),
                args,
                kwargs,
            });
        }
        out
    }

    fn has_function(&self, fun: &str) -> bool {
        !fun.starts_with("missing.")
    }

    fn grains(&self) -> Map<String, Value> {
        Map::new()
    }

    fn pillar(&self) -> Map<String, Value> {
        self.pillar.clone()
    }

    fn opts(&self) -> Map<String, Value> {
        Map::new()
    }

    fn read_file(&self, saltenv: &SaltEnv, path: &RelPath) -> Result<Option<Vec<u8>>, String> {
        Ok(self.files.read(saltenv, path))
    }

    fn cache_file(&self, saltenv: &SaltEnv, path: &RelPath) -> Result<PathBuf, String> {
        if self.files.contains(saltenv, path) {
            Ok(PathBuf::from(format!("/cache/{path}")))
        } else {
            Err(format!("MinionError: Unable to cache file salt://{path}"))
        }
    }

    fn list_files(&self, saltenv: &SaltEnv) -> Result<Vec<RelPath>, String> {
        Ok(self.files.list(saltenv))
    }

    fn environments(&self) -> Vec<SaltEnv> {
        self.files.environments()
    }
}

/// A low chunk for `state.fun` named `name` with the arguments of `args` (an object).
pub fn chunk(state: &str, fun: &str, name: &str, args: Value) -> LowChunk {
    LowChunk {
        id: name.to_string(),
        sls: "test".into(),
        env: "base".into(),
        state: state.into(),
        fun: fun.into(),
        name: name.into(),
        order: 10000,
        args: args.as_object().cloned().unwrap_or_default(),
    }
}

/// Run a state function against `host`.
pub fn run(f: StateFn, host: &MockHost, chunk: &LowChunk, test: bool) -> StateResult {
    f(&StateCall {
        host,
        chunk,
        test,
        required: &[],
    })
}
