//! The types every part of the state system shares: low chunks (one state
//! call each, as Salt's compiler produces them), state results, and the
//! registry of state functions (`file.managed`, `service.running`, ...).

use std::collections::BTreeMap;

use brine_common::truth::truthy_after_yaml;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::host::StateHost;

/// One state call: Salt's low chunk. Serialises to Salt's lowstate dict
/// (`state.show_lowstate`): `__id__`, `__sls__`, `__env__`, `state`, `fun`,
/// `name`, `order`, and every other argument (requisites included) at the top.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LowChunk {
    #[serde(rename = "__id__")]
    pub id: String,
    #[serde(rename = "__sls__")]
    pub sls: String,
    #[serde(rename = "__env__")]
    pub env: String,
    pub state: String,
    pub fun: String,
    pub name: String,
    /// Salt's order number (explicit `order:`, else by position; `first`
    /// and `last` mapped as Salt maps them).
    pub order: i64,
    #[serde(flatten)]
    pub args: Map<String, Value>,
}

impl LowChunk {
    /// `__sls__` as results show it: null for a state from no SLS
    /// (`state.single`, whose chunk has an empty `sls`).
    pub fn sls_value(&self) -> Value {
        if self.sls.is_empty() {
            Value::Null
        } else {
            Value::String(self.sls.clone())
        }
    }

    /// Salt's result key: `<state>_|-<id>_|-<name>_|-<fun>`.
    pub fn tag(&self) -> String {
        format!(
            "{}_|-{}_|-{}_|-{}",
            self.state, self.id, self.name, self.fun
        )
    }

    /// An argument by name (`name` itself included).
    pub fn arg(&self, key: &str) -> Option<&Value> {
        match key {
            "name" => None,
            _ => self.args.get(key),
        }
    }

    /// A string argument, if given as a string.
    pub fn str_arg(&self, key: &str) -> Option<&str> {
        self.arg(key).and_then(Value::as_str)
    }

    /// A boolean argument as Salt reads a state's argument (YAML's words,
    /// then Python's truth), `default` when absent or null.
    pub fn bool_arg(&self, key: &str, default: bool) -> bool {
        match self.arg(key) {
            None | Some(Value::Null) => default,
            Some(value) => truthy_after_yaml(value),
        }
    }
}

/// What a state function reports: Salt's `name`, `result` (`None` in test
/// mode when something would change), `changes` and `comment`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateResult {
    pub name: String,
    pub result: Option<bool>,
    pub changes: Map<String, Value>,
    pub comment: String,
    /// Salt's `skip_watch`: a check (`onlyif`, `unless`, `creates`, a
    /// failed `check_cmd`) stopped the state, so a watch must not fire `mod_watch`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_watch: bool,
    /// Keys a state module adds to its result beside Salt's four
    /// (`postgres_schema`'s `dbname`), shown after them.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

impl StateResult {
    pub fn new(name: &str) -> Self {
        StateResult {
            name: name.to_string(),
            result: Some(true),
            changes: Map::new(),
            comment: String::new(),
            skip_watch: false,
            extra: Map::new(),
        }
    }

    pub fn ok(name: &str, comment: impl Into<String>) -> Self {
        StateResult {
            comment: comment.into(),
            ..Self::new(name)
        }
    }

    pub fn fail(name: &str, comment: impl Into<String>) -> Self {
        StateResult {
            result: Some(false),
            comment: comment.into(),
            ..Self::new(name)
        }
    }
}

/// One call of a state function.
pub struct StateCall<'a> {
    pub host: &'a dyn StateHost,
    pub chunk: &'a LowChunk,
    /// `test=True`: predict, change nothing; `result: None` where a change would happen.
    pub test: bool,
    /// The states this one requires (`require`, `watch` and their `_in`
    /// forms), as the runtime resolved them (`file.directory` with `clean`
    /// keeps the files they manage, as Salt's `_gen_keep_files` does).
    pub required: &'a [&'a LowChunk],
}

pub type StateFn = fn(&StateCall<'_>) -> StateResult;

/// A registered state function and, if it reacts to `watch`, its `mod_watch`.
#[derive(Clone, Copy)]
pub struct StateEntry {
    pub run: StateFn,
    pub mod_watch: Option<StateFn>,
}

/// The state functions by `module.function` name.
#[derive(Default, Clone)]
pub struct StateModules {
    entries: BTreeMap<String, StateEntry>,
    /// Salt's state `__virtual__`: a module that loads only where an
    /// execution function exists, and why it does not load elsewhere.
    needs: BTreeMap<String, (String, String)>,
}

impl StateModules {
    pub fn register(&mut self, name: &str, run: StateFn) {
        self.entries.insert(
            name.to_string(),
            StateEntry {
                run,
                mod_watch: None,
            },
        );
    }

    /// Give module `module` a `mod_watch` (Salt: one per module, e.g. `service.mod_watch`).
    pub fn register_mod_watch(&mut self, module: &str, f: StateFn) {
        let prefix = format!("{module}.");
        for (name, entry) in self.entries.iter_mut() {
            if name.starts_with(&prefix) {
                entry.mod_watch = Some(f);
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<&StateEntry> {
        self.entries.get(name)
    }

    /// Module `module` loads only where the execution function `fun`
    /// exists (Salt: `if "cron.list_tab" in __salt__`); elsewhere its
    /// functions fail with `reason`.
    pub fn require_function(&mut self, module: &str, fun: &str, reason: &str) {
        self.needs
            .insert(module.to_string(), (fun.to_string(), reason.to_string()));
    }

    /// Why the state function `full` cannot run on `host`, as Salt's
    /// `missing_fun_string` words it; `None` when it can.
    pub fn unavailable(&self, full: &str, host: &dyn StateHost) -> Option<String> {
        let module = full.split('.').next().unwrap_or(full);
        if let Some((fun, reason)) = self.needs.get(module)
            && !host.has_function(fun)
        {
            return Some(format!("'{module}' __virtual__ returned False: {reason}"));
        }
        (!self.entries.contains_key(full)).then(|| format!("'{full}' is not available."))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chunks_serialise_to_salts_lowstate_shape() {
        let mut args = Map::new();
        args.insert("source".into(), json!("salt://motd"));
        let chunk = LowChunk {
            id: "motd".into(),
            sls: "base".into(),
            env: "base".into(),
            state: "file".into(),
            fun: "managed".into(),
            name: "/etc/motd".into(),
            order: 10000,
            args,
        };
        assert_eq!(chunk.tag(), "file_|-motd_|-/etc/motd_|-managed");
        let v = serde_json::to_value(&chunk).expect("serialise");
        assert_eq!(v["__id__"], json!("motd"));
        assert_eq!(v["source"], json!("salt://motd"));
        let back: LowChunk = serde_json::from_value(v).expect("deserialise");
        assert_eq!(back, chunk);
    }
}
