//! The seam between the state system and the host it runs on.

use std::path::PathBuf;

use brine_common::ids::{RelPath, SaltEnv};
use serde_json::{Map, Value};

/// What rendering, compiling and running states need from the minion. All
/// calls are synchronous: a state run happens on a blocking thread, and the
/// minion's implementation waits for its async functions there.
pub trait StateHost: Send + Sync {
    /// Call an execution function with Salt-style arguments, as
    /// `salt['mod.fun'](*args, **kwargs)` does. `Err` carries Salt's message
    /// for a failed call (e.g. `'x.y' is not available.`).
    fn call(
        &self,
        fun: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Result<Value, String>;

    /// `file.stats` of an absolute `path` (symlinks followed) without its
    /// `target` key, `None` when nothing is there: what the file states look
    /// at first. Without `owner_names`, also without `user` and `group`. A
    /// host may answer it without resolving the real path or the names.
    fn path_stats(&self, path: &str, owner_names: bool) -> Option<Map<String, Value>> {
        match self.call(
            "file.stats",
            vec![Value::String(path.to_string())],
            Map::new(),
        ) {
            Ok(Value::Object(mut stats)) => {
                stats.remove("target");
                if !owner_names {
                    stats.remove("user");
                    stats.remove("group");
                }
                Some(stats)
            }
            _ => None,
        }
    }

    /// Whether an execution function exists (`salt['mod.fun']` lookups, `sys.list_functions`).
    fn has_function(&self, fun: &str) -> bool;

    fn grains(&self) -> Map<String, Value>;

    fn pillar(&self) -> Map<String, Value>;

    /// The minion's options (`opts` in templates; `config.get` falls back to them).
    fn opts(&self) -> Map<String, Value>;

    /// The text of a file on the file server: `path` is relative to the
    /// environment's root (`apache/init.sls`, `top.sls`). Both are validated
    /// where a user's text names the file (see [`brine_common::ids::salt_file`]),
    /// so no host can be asked for a path outside its roots. `Ok(None)` when
    /// it does not exist.
    fn read_file(&self, saltenv: &SaltEnv, path: &RelPath) -> Result<Option<Vec<u8>>, String>;

    /// A local copy of a file-server file (for `file.managed source: salt://...`).
    fn cache_file(&self, saltenv: &SaltEnv, path: &RelPath) -> Result<PathBuf, String>;

    /// Every file path in an environment (to find SLS files and directories).
    fn list_files(&self, saltenv: &SaltEnv) -> Result<Vec<RelPath>, String>;

    /// The environments the file server knows (`base` first).
    fn environments(&self) -> Vec<SaltEnv>;

    /// This host as a shared handle, when it lives in an `Arc`: a render's
    /// template objects (which must be `'static`) then hold it directly,
    /// instead of reaching the borrowed host through a helper thread
    /// (`render::bridge`).
    fn shared(&self) -> Option<std::sync::Arc<dyn StateHost>> {
        None
    }
}
