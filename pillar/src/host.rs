//! [`PillarHost`]: the [`StateHost`] pillar SLS files are rendered with.
//!
//! Files come from `pillar_roots` (confined to their roots by
//! [`Roots`]); `grains` are the minion's; `pillar` is what the compile has
//! so far (the override); `salt[...]` offers only what the renderer answers
//! itself (`pillar.get`, `grains.get`, `config.get`, `grains.filter_by`,
//! `defaults.merge`): the master has no execution modules.

use std::path::PathBuf;

use brine_common::fileroots::{FileStore, Roots, RootsError};
use brine_common::ids::RelPath;
use brine_states::host::StateHost;
use serde_json::{Map, Value};

/// Renders pillar files for one minion.
pub struct PillarHost<'a> {
    roots: &'a Roots,
    /// Where `salt[...]` calls go when the pillar is compiled on a minion.
    functions: Option<&'a dyn StateHost>,
    grains: Map<String, Value>,
    pillar: Map<String, Value>,
    opts: Map<String, Value>,
}

impl<'a> PillarHost<'a> {
    pub fn new(
        roots: &'a Roots,
        grains: Map<String, Value>,
        pillar: Map<String, Value>,
        opts: Map<String, Value>,
    ) -> Self {
        PillarHost {
            roots,
            functions: None,
            grains,
            pillar,
            opts,
        }
    }

    /// Send `salt[...]` calls to `functions` (the minion's execution
    /// functions) instead of refusing them.
    pub fn with_functions(self, functions: &'a dyn StateHost) -> Self {
        PillarHost {
            functions: Some(functions),
            ..self
        }
    }

    fn real_path(&self, saltenv: &str, path: &str) -> Result<Option<PathBuf>, String> {
        let rel = RelPath::parse(path).map_err(|e| format!("{path}: {e}"))?;
        match self.roots.resolve(saltenv, &rel) {
            Ok(real) => Ok(Some(real)),
            Err(RootsError::NotFound(..) | RootsError::NoEnv(_)) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl StateHost for PillarHost<'_> {
    fn call(
        &self,
        fun: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Result<Value, String> {
        if let Some(functions) = self.functions {
            return functions.call(fun, args, kwargs);
        }
        Err(format!(
            "'{fun}' is not available while rendering pillar: the master has no execution \
             modules (pillar templates may use salt['pillar.get'], salt['grains.get'], \
             salt['config.get'], salt['grains.filter_by'] and salt['defaults.merge'])"
        ))
    }

    /// On the master every name reaches `call`, whose error says why the
    /// master has no execution modules; "no such function" (Jinja2's
    /// undefined attribute of Salt's loader) would not.
    fn has_function(&self, fun: &str) -> bool {
        self.functions
            .is_none_or(|functions| functions.has_function(fun))
    }

    fn grains(&self) -> Map<String, Value> {
        self.grains.clone()
    }

    fn pillar(&self) -> Map<String, Value> {
        self.pillar.clone()
    }

    fn opts(&self) -> Map<String, Value> {
        self.opts.clone()
    }

    fn read_file(&self, saltenv: &str, path: &str) -> Result<Option<Vec<u8>>, String> {
        self.roots.read_whole(saltenv, path, u64::MAX)
    }

    fn cache_file(&self, saltenv: &str, path: &str) -> Result<PathBuf, String> {
        self.real_path(saltenv, path)?.ok_or_else(|| {
            format!("salt://{path} does not exist in pillar environment '{saltenv}'")
        })
    }

    fn list_files(&self, saltenv: &str) -> Result<Vec<String>, String> {
        self.roots.list_paths(saltenv)
    }

    fn environments(&self) -> Vec<String> {
        self.roots.environments()
    }
}
