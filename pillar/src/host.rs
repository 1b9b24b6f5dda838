//! [`PillarHost`]: the [`StateHost`] pillar SLS files are rendered with.
//!
//! Files come from `pillar_roots` (confined to their roots by
//! [`Roots`]); `grains` are the minion's; `pillar` is what the compile has
//! so far (the override); `salt[...]` offers what the renderer answers
//! itself (`pillar.get`, `grains.get`, `config.get`, `grains.filter_by`,
//! `defaults.merge`) and the [`SaltFunctions`] the compile is given: a
//! masterless minion's own, or the master's (`test.*`, `file.basename`, ...,
//! as Salt's master loads its `minion_mods` for pillar rendering).

use std::path::PathBuf;

use brine_common::fileroots::{FileStore, Roots, RootsError};
use brine_common::ids::{RelPath, SaltEnv};
use brine_states::host::StateHost;
use serde_json::{Map, Value};

/// Where the `salt[...]` calls of pillar templates go.
pub trait SaltFunctions: Send + Sync {
    /// Call `fun` as `salt[fun](*args, **kwargs)` (`Err` is Salt's message);
    /// `None` when these functions do not have `fun`, which the pillar then
    /// refuses naming it.
    fn call(
        &self,
        fun: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Option<Result<Value, String>>;

    /// Whether a template's `salt[fun]` lookup finds something to call.
    fn has_function(&self, fun: &str) -> bool;
}

/// A state host's functions (a masterless minion lends its own): they
/// answer every call themselves (`'x.y' is not available.`).
impl<T: StateHost> SaltFunctions for T {
    fn call(
        &self,
        fun: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Option<Result<Value, String>> {
        Some(StateHost::call(self, fun, args, kwargs))
    }

    fn has_function(&self, fun: &str) -> bool {
        StateHost::has_function(self, fun)
    }
}

/// Renders pillar files for one minion.
pub struct PillarHost<'a> {
    roots: &'a Roots,
    /// Where `salt[...]` calls go (the minion's or the master's functions).
    functions: Option<&'a dyn SaltFunctions>,
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

    /// Send `salt[...]` calls to `functions` (the minion's or the master's)
    /// instead of refusing them.
    pub fn with_functions(self, functions: &'a dyn SaltFunctions) -> Self {
        PillarHost {
            functions: Some(functions),
            ..self
        }
    }

    fn real_path(&self, saltenv: &SaltEnv, path: &RelPath) -> Result<Option<PathBuf>, String> {
        match self.roots.resolve(saltenv.as_str(), path) {
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
        let answered = self
            .functions
            .and_then(|functions| functions.call(fun, args, kwargs));
        answered.unwrap_or_else(|| {
            Err(format!(
                "'{fun}' is not available while rendering pillar: the master has no such \
                 execution module (pillar templates may use salt['pillar.get'], \
                 salt['grains.get'], salt['config.get'], salt['grains.filter_by'], \
                 salt['defaults.merge'] and the master's own functions)"
            ))
        })
    }

    /// On the master every name reaches `call` (the master's functions say
    /// they have every name), whose refusal says what the master offers;
    /// "no such function" (Jinja2's undefined attribute) would not.
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

    fn read_file(&self, saltenv: &SaltEnv, path: &RelPath) -> Result<Option<Vec<u8>>, String> {
        self.roots.read_whole(saltenv, path, u64::MAX)
    }

    fn cache_file(&self, saltenv: &SaltEnv, path: &RelPath) -> Result<PathBuf, String> {
        self.real_path(saltenv, path)?.ok_or_else(|| {
            format!("salt://{path} does not exist in pillar environment '{saltenv}'")
        })
    }

    fn list_files(&self, saltenv: &SaltEnv) -> Result<Vec<RelPath>, String> {
        self.roots.list_paths(saltenv)
    }

    fn environments(&self) -> Vec<SaltEnv> {
        self.roots.environments()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Functions that have only `test.echo`, as the master's lack most.
    struct EchoOnly;

    impl SaltFunctions for EchoOnly {
        fn call(
            &self,
            fun: &str,
            args: Vec<Value>,
            _kwargs: Map<String, Value>,
        ) -> Option<Result<Value, String>> {
            (fun == "test.echo").then(|| Ok(args.into_iter().next().unwrap_or(Value::Null)))
        }

        fn has_function(&self, _fun: &str) -> bool {
            true
        }
    }

    fn host(roots: &Roots) -> PillarHost<'_> {
        PillarHost::new(roots, Map::new(), Map::new(), Map::new())
    }

    #[test]
    fn calls_reach_the_given_functions_and_others_are_refused_by_name() {
        let roots = Roots::from_config(&Map::new());
        let functions = EchoOnly;
        let with = host(&roots).with_functions(&functions);
        assert_eq!(
            StateHost::call(&with, "test.echo", vec![json!("x")], Map::new()),
            Ok(json!("x"))
        );
        let refused = StateHost::call(&with, "cmd.run", vec![], Map::new());
        assert!(
            matches!(&refused, Err(msg) if msg.starts_with("'cmd.run' is not available")),
            "{refused:?}"
        );
        let without = host(&roots);
        assert!(StateHost::has_function(&without, "test.echo"));
        let refused = StateHost::call(&without, "test.echo", vec![json!("x")], Map::new());
        assert!(
            matches!(&refused, Err(msg) if msg.contains("'test.echo'")),
            "{refused:?}"
        );
    }
}
