//! Salt's orchestrate runner (`state.orchestrate` / `state.orch`): an SLS
//! from the master's file server, rendered and compiled by the same state
//! compiler minions use, run on the master with the orchestration state
//! functions (`salt.state`, `salt.function`, `salt.runner`, `salt.wheel`,
//! `salt.wait_for_event`, and the `test` states).
//!
//! ```text
//! runner --block_in_place--> OrchHost (StateHost over the file server)
//!   --high_from_sls/compile/run--> StateFn (states.rs) --host.call("saltmod.*")-->
//!   OrchHost --block_on--> steps.rs (publish + JobWaiter, runners, keys, bus)
//! ```
//!
//! The state runtime is synchronous, so the run happens on this worker thread
//! taken out of the async pool (`block_in_place`), and each step blocks on
//! the master's runtime for its async work. Requisites between steps come
//! from the compiler, exactly as in a minion's state run.
//!
//! The return is Salt's: `{"<master id>_master": {state tag: result}}`
//! (the highstate outputter's input), retcode 1 when a step failed.

mod host;
mod states;
mod steps;

use brine_common::truth::truthy_after_yaml;
use brine_states::compile::{self, CompileError};
use brine_states::runtime::{self, RunOptions};
use serde_json::{Map, Value, json};

use crate::daemon::Master;

pub use host::OrchHost;
pub use states::registry;

/// What `state.orchestrate` was asked to run.
#[derive(Debug, Clone, PartialEq)]
pub struct OrchOptions {
    pub mods: Vec<String>,
    pub saltenv: String,
    pub test: bool,
    /// Salt's `pillar=` override, visible to the orchestration's templates.
    pub pillar: Map<String, Value>,
}

impl OrchOptions {
    /// Read the runner's arguments: `mods` (a list or a comma-separated
    /// string), `saltenv`, `test`, `pillar`.
    pub fn from_args(args: &[Value], kwargs: &Map<String, Value>) -> Result<Self, String> {
        let mods = match args.first().or_else(|| kwargs.get("mods")) {
            Some(Value::String(s)) => s
                .split(',')
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty())
                .collect(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        };
        if mods.is_empty() {
            return Err("state.orchestrate: no SLS given (state.orchestrate <sls>)".into());
        }
        let saltenv = kwargs
            .get("saltenv")
            .and_then(Value::as_str)
            .unwrap_or("base")
            .to_string();
        let test = kwargs.get("test").is_some_and(truthy_after_yaml);
        let pillar = match kwargs.get("pillar") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(p)) => p.clone(),
            Some(_) => return Err("Pillar data must be formatted as a dictionary".into()),
        };
        Ok(OrchOptions {
            mods,
            saltenv,
            test,
            pillar,
        })
    }
}

/// The `state.orchestrate` runner: `(return, retcode)`.
pub async fn runner(
    master: &Master,
    args: Vec<Value>,
    kwargs: Map<String, Value>,
) -> Result<(Value, i32), String> {
    let opts = OrchOptions::from_args(&args, &kwargs)?;
    let handle = tokio::runtime::Handle::current();
    let host = OrchHost::new(master, handle, &opts);
    let outcome = tokio::task::block_in_place(|| run_sls(&host, &opts));
    let id = master_minion_id();
    Ok(match outcome {
        Ok(results) => {
            let retcode = i32::from(!all_succeeded(&results));
            (json!({ id: results }), retcode)
        }
        // Salt reports compile errors as a list under the master's id.
        Err(e) => (json!({ id: e.errors }), 1),
    })
}

/// Render, compile and run the orchestration SLS.
pub fn run_sls(
    host: &OrchHost<'_>,
    opts: &OrchOptions,
) -> Result<Map<String, Value>, CompileError> {
    let high = compile::high_from_sls(host, &opts.saltenv, &opts.mods)?;
    let low = compile::compile(high)?;
    let modules = registry();
    let missing = runtime::missing_functions(&low, &modules);
    if !missing.is_empty() {
        return Err(CompileError::new(missing));
    }
    let run_opts = RunOptions {
        test: opts.test,
        ..Default::default()
    };
    Ok(runtime::run(host, &modules, &low, &run_opts))
}

/// Whether no state of the run failed (`result: false`).
pub fn all_succeeded(results: &Map<String, Value>) -> bool {
    results
        .values()
        .all(|r| r.get("result") != Some(&Value::Bool(false)))
}

/// The runner's pseudo-minion: Salt's master id, `<hostname>_master`.
pub fn master_minion_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    format!("{host}_master")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_read_salts_arguments() {
        let mut kwargs = Map::new();
        kwargs.insert("test".into(), json!("True"));
        kwargs.insert("pillar".into(), json!({"a": 1}));
        let opts = OrchOptions::from_args(&[json!("orch.one,orch.two")], &kwargs).expect("opts");
        assert_eq!(opts.mods, vec!["orch.one", "orch.two"]);
        assert!(opts.test);
        assert_eq!(opts.saltenv, "base");
        assert_eq!(opts.pillar.get("a"), Some(&json!(1)));
        assert!(OrchOptions::from_args(&[], &Map::new()).is_err());
        kwargs.insert("pillar".into(), json!("x"));
        assert!(OrchOptions::from_args(&[json!("o")], &kwargs).is_err());
    }

    #[test]
    fn a_failed_step_fails_the_run() {
        let ok = json!({"a": {"result": true}, "b": {"result": null}});
        let bad = json!({"a": {"result": true}, "b": {"result": false}});
        assert!(all_succeeded(ok.as_object().expect("map")));
        assert!(!all_succeeded(bad.as_object().expect("map")));
        assert!(master_minion_id().ends_with("_master"));
    }
}
