//! The minion's [`StateHost`]: execution functions through the minion's
//! `Functions` registry, grains and pillar from its context, options from its
//! config, and `salt://` files through the minion's [`FileClient`] (the
//! master's file server, or the local `file_roots` with `file_client: local`),
//! which confines every path to its root.
//!
//! A state run happens on a blocking thread: a blocking execution function
//! (file work) runs right there; async functions and the file client are
//! waited for there with the runtime handle.

use std::path::PathBuf;
use std::sync::Arc;

use brine_common::functions::{Call, Functions};
use brine_common::ids::{RelPath, SaltEnv};
use brine_states::host::StateHost;
use serde_json::{Map, Value};

use crate::fileclient::FileClient;
use crate::modules::MinionCtx;

pub struct MinionStateHost {
    /// Itself, for [`StateHost::shared`]: renders hold the host directly.
    me: std::sync::Weak<MinionStateHost>,
    ctx: MinionCtx,
    functions: Arc<Functions<MinionCtx>>,
    handle: tokio::runtime::Handle,
    pillar: Map<String, Value>,
    opts: Map<String, Value>,
    files: FileClient,
}

impl MinionStateHost {
    /// A host for one state run; `pillar` is the run's pillar (the minion's,
    /// with any `pillar=` override merged in).
    pub fn new(
        ctx: MinionCtx,
        functions: Arc<Functions<MinionCtx>>,
        handle: tokio::runtime::Handle,
        pillar: Map<String, Value>,
    ) -> Arc<Self> {
        let opts = crate::modules::config::opts(&ctx);
        let files = FileClient::new(&ctx.config, ctx.upstream());
        Arc::new_cyclic(|me| MinionStateHost {
            me: me.clone(),
            ctx: ctx.rendering(),
            functions,
            handle,
            pillar,
            opts,
            files,
        })
    }
}

impl StateHost for MinionStateHost {
    fn call(
        &self,
        fun: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Result<Value, String> {
        let call = Call {
            fun: fun.to_string(),
            args,
            kwargs,
        };
        let outcome = match self.functions.call_blocking(self.ctx.clone(), call) {
            Ok(outcome) => outcome,
            Err((ctx, call)) => self.handle.block_on(self.functions.call(ctx, call)),
        };
        match outcome.ret {
            Value::String(msg) if !outcome.success => Err(msg),
            ret => Ok(ret),
        }
    }

    /// Straight from the file system: no registry call, no real path.
    fn path_stats(&self, path: &str, owner_names: bool) -> Option<Map<String, Value>> {
        let path = crate::modules::file::meta::absolute(path).ok()?;
        crate::modules::file::meta::stats_without_target(&path, None, true, owner_names).ok()
    }

    fn has_function(&self, fun: &str) -> bool {
        self.functions.contains(fun)
    }

    fn grains(&self) -> Map<String, Value> {
        self.ctx.grains()
    }

    fn pillar(&self) -> Map<String, Value> {
        self.pillar.clone()
    }

    fn opts(&self) -> Map<String, Value> {
        self.opts.clone()
    }

    fn read_file(&self, saltenv: &SaltEnv, path: &RelPath) -> Result<Option<Vec<u8>>, String> {
        self.handle.block_on(self.files.read_file(saltenv, path))
    }

    fn cache_file(&self, saltenv: &SaltEnv, path: &RelPath) -> Result<PathBuf, String> {
        self.handle
            .block_on(self.files.cache_file(saltenv, path))
            .map_err(|e| {
                if e.contains("does not exist") {
                    format!("Source file salt://{path} not found in saltenv '{saltenv}'")
                } else {
                    e
                }
            })
    }

    fn list_files(&self, saltenv: &SaltEnv) -> Result<Vec<RelPath>, String> {
        self.handle.block_on(self.files.list_paths(saltenv))
    }

    fn environments(&self) -> Vec<SaltEnv> {
        self.handle
            .block_on(self.files.environments())
            .unwrap_or_default()
    }

    fn shared(&self) -> Option<Arc<dyn StateHost>> {
        self.me.upgrade().map(|host| host as Arc<dyn StateHost>)
    }
}
