//! [`OrchHost`]: the [`StateHost`] orchestration SLS files are rendered and
//! run with, on the master.
//!
//! Files come from the master's file server; `pillar` is the runner's
//! `pillar=` override; there are no grains. `host.call("saltmod.<fun>")` is
//! how the orchestration state functions reach the master (see
//! `states.rs`): the call blocks this thread on the master's runtime.
//! Templates may use what the renderer answers itself (`pillar.get`, ...)
//! and the master's own functions (`test.*`, `file.basename`, ...).

use std::path::PathBuf;

use brine_common::fileroots::FileStore;
use brine_common::ids::{RelPath, SaltEnv};
use brine_common::truth::truthy_after_yaml;
use brine_states::host::StateHost;
use brine_states::lowstate::LowChunk;
use serde_json::{Map, Value, json};
use tokio::runtime::Handle;

use super::OrchOptions;
use super::steps;
use crate::daemon::Master;
use crate::functions::MasterFunctions;

pub struct OrchHost<'a> {
    master: &'a Master,
    handle: Handle,
    pillar: Map<String, Value>,
    opts: Map<String, Value>,
}

impl<'a> OrchHost<'a> {
    pub fn new(master: &'a Master, handle: Handle, orch: &OrchOptions) -> Self {
        let mut opts = Map::new();
        opts.insert("id".into(), json!(super::master_minion_id()));
        opts.insert("__role".into(), json!("master"));
        opts.insert("test".into(), json!(orch.test));
        opts.insert("saltenv".into(), json!(orch.saltenv));
        OrchHost {
            master,
            handle,
            pillar: orch.pillar.clone(),
            opts,
        }
    }

    /// Run one orchestration step (`saltmod.state`, ...) for `chunk`.
    fn step(&self, fun: &str, chunk: &LowChunk, test: bool) -> Result<Value, String> {
        let master = self.master;
        let result = match fun {
            "saltmod.state" => self.handle.block_on(steps::state(master, chunk, test)),
            "saltmod.function" => self.handle.block_on(steps::function(master, chunk, test)),
            "saltmod.runner" => self.handle.block_on(steps::runner(master, chunk, test)),
            "saltmod.wheel" => steps::wheel(master, chunk, test),
            "saltmod.wait_for_event" => self
                .handle
                .block_on(steps::wait_for_event(master, chunk, test)),
            _ => return Err(format!("'{fun}' is not available.")),
        };
        serde_json::to_value(result).map_err(|e| e.to_string())
    }
}

/// A template's `salt[fun]` that is no orchestration step: one of the
/// master's own functions, or a refusal naming it.
fn own_function(
    functions: &MasterFunctions,
    fun: &str,
    args: Vec<Value>,
    kwargs: Map<String, Value>,
) -> Result<Value, String> {
    functions.call(fun, args, kwargs).unwrap_or_else(|| {
        Err(format!(
            "'{fun}' is not available: the master has no such execution module \
             (orchestration templates may use salt['pillar.get'], salt['config.get'] and \
             the other functions the renderer answers itself, and the master's own \
             functions)"
        ))
    })
}

impl StateHost for OrchHost<'_> {
    fn call(
        &self,
        fun: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Result<Value, String> {
        if !fun.starts_with("saltmod.") {
            return own_function(&self.master.functions, fun, args, kwargs);
        }
        let chunk: LowChunk = args
            .into_iter()
            .next()
            .ok_or_else(|| format!("{fun}: no state chunk given"))
            .and_then(|v| serde_json::from_value(v).map_err(|e| format!("{fun}: {e}")))?;
        let test = kwargs.get("test").is_some_and(truthy_after_yaml);
        self.step(fun, &chunk, test)
    }

    fn has_function(&self, fun: &str) -> bool {
        fun.starts_with("saltmod.") || self.master.functions.has(fun)
    }

    fn grains(&self) -> Map<String, Value> {
        Map::new()
    }

    fn pillar(&self) -> Map<String, Value> {
        self.pillar.clone()
    }

    fn opts(&self) -> Map<String, Value> {
        self.opts.clone()
    }

    fn read_file(&self, saltenv: &SaltEnv, path: &RelPath) -> Result<Option<Vec<u8>>, String> {
        self.master.fileserver.read_whole(saltenv, path, u64::MAX)
    }

    fn cache_file(&self, _saltenv: &SaltEnv, path: &RelPath) -> Result<PathBuf, String> {
        Err(format!(
            "salt://{path}: orchestration runs on the master and cannot cache files"
        ))
    }

    fn list_files(&self, saltenv: &SaltEnv) -> Result<Vec<RelPath>, String> {
        self.master.fileserver.list_paths(saltenv)
    }

    fn environments(&self) -> Vec<SaltEnv> {
        self.master.fileserver.environments()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_reach_the_masters_functions_and_others_are_refused_by_name() {
        let functions = MasterFunctions::default();
        let echo = own_function(&functions, "test.echo", vec![json!("x")], Map::new());
        assert_eq!(echo, Ok(json!("x")));
        let refused = own_function(&functions, "cmd.run", vec![json!("id")], Map::new());
        assert!(
            matches!(&refused, Err(msg) if msg.starts_with("'cmd.run' is not available")),
            "{refused:?}"
        );
    }
}
