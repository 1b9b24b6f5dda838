//! The master's own execution functions (Salt's master loads `minion_mods`
//! for its pillar, reactor and orchestrate templates). Only functions that
//! need nothing of a minion host are registered: the pure ones of
//! `brine_common::pure_functions` (`test.*`, `log.*`,
//! `file.join`/`basename`/`dirname`).
//! `config.get`, `pillar.get`, `grains.filter_by` and `defaults.merge` the
//! renderer answers itself.

use brine_common::functions::{Call, Functions};
use serde_json::{Map, Value};

/// The registry of the master's functions; they take no context.
pub struct MasterFunctions {
    registry: Functions<()>,
}

impl Default for MasterFunctions {
    fn default() -> Self {
        let mut registry = Functions::new();
        brine_common::pure_functions::register(&mut registry);
        MasterFunctions { registry }
    }
}

impl MasterFunctions {
    /// Whether `fun` is one of the master's functions.
    pub fn has(&self, fun: &str) -> bool {
        self.registry.contains(fun)
    }

    /// Call `fun` with Salt's argument checks and messages; `None` when the
    /// master does not have it (each host refuses in its own words). Blocks
    /// the calling thread: templates render on blocking threads, and these
    /// functions finish without waiting on the master's runtime.
    pub fn call(
        &self,
        fun: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Option<Result<Value, String>> {
        if !self.has(fun) {
            return None;
        }
        let call = Call {
            fun: fun.to_string(),
            args,
            kwargs,
        };
        let outcome = futures::executor::block_on(self.registry.call((), call));
        Some(match outcome.ret {
            Value::String(msg) if !outcome.success => Err(msg),
            ret => Ok(ret),
        })
    }
}

/// The master's functions as a pillar compile sees them: every name is
/// looked up here, so one the master lacks reaches the pillar's refusal
/// (which names it) instead of a Jinja "undefined".
impl brine_pillar::SaltFunctions for MasterFunctions {
    fn call(
        &self,
        fun: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Option<Result<Value, String>> {
        MasterFunctions::call(self, fun, args, kwargs)
    }

    fn has_function(&self, _fun: &str) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_pure_functions_and_not_others() {
        let functions = MasterFunctions::default();
        assert_eq!(
            functions.call("test.echo", vec![json!("x")], Map::new()),
            Some(Ok(json!("x")))
        );
        assert_eq!(
            functions.call("file.basename", vec![json!("/a/b")], Map::new()),
            Some(Ok(json!("b")))
        );
        // `{% do salt['log.info'](...) %}` in a pillar or reactor SLS.
        assert_eq!(
            functions.call("log.info", vec![json!("rendering")], Map::new()),
            Some(Ok(json!(true)))
        );
        assert!(
            functions
                .call("cmd.run", vec![json!("id")], Map::new())
                .is_none()
        );
        assert!(!functions.has("cmd.run"));
    }

    #[test]
    fn bad_arguments_are_salt_errors() {
        let functions = MasterFunctions::default();
        let err = functions.call("test.echo", vec![], Map::new());
        assert!(matches!(err, Some(Err(msg)) if msg.contains("test.echo")));
    }
}
