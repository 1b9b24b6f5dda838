//! The minion's execution modules, registered by name in a `Functions`
//! registry. Each module file registers its own functions with Salt's names,
//! argument conventions and return shapes.

use std::sync::{Arc, RwLock, Weak};

use brine_common::config::MinionConfig;
use brine_common::functions::{FnError, Functions};
use brine_common::ids::{Jid, MinionId};
use serde_json::{Map, Value};

use crate::executor::RunningJobs;

pub mod archive;
pub mod beacons;
pub mod cmd;
pub mod config;
pub mod cp;
pub mod cron;
pub mod defaults;
pub mod dictupdate;
pub mod disk;
pub mod environ;
pub mod event;
pub mod file;
pub mod git;
pub mod grains;
pub mod group;
pub mod host;
pub mod hosts;
pub mod locale;
pub mod match_;
pub mod mine;
pub mod mount;
pub mod network;
pub mod pillar;
pub mod pkg;
pub mod postgres;
pub mod process;
pub mod saltutil;
pub mod schedule;
pub mod service;
pub mod slsutil;
pub mod ssh;
pub mod state;
pub mod status;
pub mod sys;
pub mod sysctl;
pub mod system;
pub mod timezone;
pub mod user;

/// What a function sees of the minion it runs on.
#[derive(Clone)]
pub struct MinionCtx {
    pub id: MinionId,
    pub config: Arc<MinionConfig>,
    pub running: Arc<RunningJobs>,
    /// The minion's grains (see `crate::grains`); refreshed in place.
    pub grains: Arc<RwLock<crate::grains::GrainStore>>,
    /// The minion's pillar (empty until pillar is compiled by the master).
    pub pillar: Arc<RwLock<Map<String, Value>>>,
    /// The registry itself, for `sys.*` (weak: the registry does not own contexts).
    pub functions: Weak<Functions<MinionCtx>>,
    /// The job this call belongs to, if any.
    pub jid: Option<Jid>,
    /// The link to the master (`None` for `brine-call --local`).
    pub link: Option<crate::link::Link>,
    /// The channel of the `brine-ssh` that started this `brine-call`.
    pub channel: Option<Arc<crate::channel::Channel>>,
    /// Beacon configuration, changed at run time by `beacons.*`.
    pub beacons: Arc<crate::beacons::BeaconStore>,
    /// Scheduled jobs, changed at run time by `schedule.*`.
    pub schedule: Arc<crate::schedule::ScheduleStore>,
    /// Whether `pillar.*` masks values by default (Salt's `mask_pillar`
    /// context variable): true for calls from the command line and jobs,
    /// false while a template renders (see [`MinionCtx::rendering`]).
    pub mask_pillar: bool,
    /// Set while this (masterless) minion compiles its own pillar: the
    /// pillar's templates call functions with it, and one that would
    /// compile the pillar again (`pillar.items`) refuses instead of
    /// recursing for ever.
    pub compiling_pillar: bool,
}

impl MinionCtx {
    /// A context with freshly collected grains.
    pub fn new(
        id: MinionId,
        config: Arc<MinionConfig>,
        functions: &Arc<Functions<MinionCtx>>,
    ) -> Self {
        let grains = crate::grains::collect(&config, &id);
        Self::with_grains(id, config, grains, functions)
    }

    /// A context with the given grains.
    pub fn with_grains(
        id: MinionId,
        config: Arc<MinionConfig>,
        grains: Map<String, Value>,
        functions: &Arc<Functions<MinionCtx>>,
    ) -> Self {
        Self::with_grain_store(
            id,
            config,
            crate::grains::GrainStore::new(grains),
            functions,
        )
    }

    /// A context over a grain store (the swarm's minions share the host's
    /// grains as its base).
    pub fn with_grain_store(
        id: MinionId,
        config: Arc<MinionConfig>,
        grains: crate::grains::GrainStore,
        functions: &Arc<Functions<MinionCtx>>,
    ) -> Self {
        MinionCtx {
            beacons: Arc::new(crate::beacons::BeaconStore::new(&config.beacons)),
            schedule: Arc::new(crate::schedule::ScheduleStore::new(&config.schedule)),
            id,
            config,
            running: Arc::new(RunningJobs::default()),
            grains: Arc::new(RwLock::new(grains)),
            pillar: Arc::new(RwLock::new(Map::new())),
            functions: Arc::downgrade(functions),
            jid: None,
            link: None,
            channel: None,
            mask_pillar: true,
            compiling_pillar: false,
        }
    }

    pub fn with_link(self, link: crate::link::Link) -> Self {
        MinionCtx {
            link: Some(link),
            ..self
        }
    }

    pub fn with_channel(self, channel: Arc<crate::channel::Channel>) -> Self {
        MinionCtx {
            channel: Some(channel),
            ..self
        }
    }

    /// What answers this minion's file and pillar requests: the master's
    /// link, else brine-ssh's channel.
    pub fn upstream(&self) -> Option<crate::upstream::Upstream> {
        use crate::upstream::Upstream;
        match (&self.link, &self.channel) {
            (Some(link), _) => Some(Upstream::Link(link.clone())),
            (None, Some(channel)) => Some(Upstream::Channel(channel.clone())),
            (None, None) => None,
        }
    }

    /// The context functions called from a template see: Salt renders with
    /// `mask_pillar` off, so `salt['pillar.items']()` gives plain values.
    pub fn rendering(self) -> Self {
        MinionCtx {
            mask_pillar: false,
            ..self
        }
    }

    /// The context a masterless pillar's templates call functions with.
    pub fn compiling_pillar(self) -> Self {
        MinionCtx {
            compiling_pillar: true,
            ..self
        }
    }

    pub fn for_job(&self, jid: Jid) -> Self {
        MinionCtx {
            jid: Some(jid),
            ..self.clone()
        }
    }

    /// A snapshot of the grains.
    pub fn grains(&self) -> Map<String, Value> {
        self.grains
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .snapshot()
    }

    /// A snapshot of the pillar.
    pub fn pillar(&self) -> Map<String, Value> {
        self.pillar
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// One top-level pillar key, without copying the rest.
    pub fn pillar_key(&self, key: &str) -> Option<Value> {
        self.pillar
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    /// Write `{key: value}` as YAML to `minion.d/<file>` beside the minion
    /// config, where the config loader reads it at the next start (Salt's
    /// `beacons.save` and `schedule.save`). Nothing to save writes an empty
    /// file, as Salt does. Returns the file's path.
    pub fn save_include(
        &self,
        file: &str,
        key: &str,
        value: Map<String, Value>,
    ) -> std::io::Result<std::path::PathBuf> {
        let dir = self.config.config_dir.join("minion.d");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(file);
        let text = if value.is_empty() {
            String::new()
        } else {
            let mut doc = Map::new();
            doc.insert(key.to_string(), Value::Object(value));
            brine_common::yaml::dump_block(&Value::Object(doc))
        };
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path)?;
        Ok(path)
    }

    /// The minion's own `schedule` or `beacons` entries over those the
    /// pillar defines under the same key (an entry of the same name in the
    /// minion's own configuration wins).
    pub fn over_pillar(&self, key: &str, own: Map<String, Value>) -> Map<String, Value> {
        own_over_pillar(own, self.pillar_key(key))
    }

    pub fn registry(&self) -> Option<Arc<Functions<MinionCtx>>> {
        self.functions.upgrade()
    }

    /// Call another execution function with this context, as Salt's
    /// `__salt__[fun](*args, **kwargs)` does from inside a module: its whole
    /// outcome (a failed call's `ret` is its message, or the dict some
    /// functions fail with).
    pub async fn call_outcome(
        &self,
        fun: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Result<brine_common::functions::Outcome, FnError> {
        let functions = self
            .registry()
            .ok_or_else(|| FnError::Execution("the function registry is gone".into()))?;
        let call = brine_common::functions::Call {
            fun: fun.into(),
            args,
            kwargs,
        };
        Ok(functions.call(self.clone(), call).await)
    }

    /// [`MinionCtx::call_outcome`], a failed call as an execution error
    /// carrying its message (Python's `str()` of what it returned).
    pub async fn call_function(
        &self,
        fun: &str,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Result<Value, FnError> {
        let out = self.call_outcome(fun, args, kwargs).await?;
        if out.success {
            Ok(out.ret)
        } else {
            Err(FnError::Execution(brine_common::output::python::to_str(
                &out.ret,
            )))
        }
    }
}

/// Every execution module, registered.
pub fn registry() -> Arc<Functions<MinionCtx>> {
    Arc::new(all_functions())
}

/// Only the functions of `modules` (the swarm runs a safe subset).
pub fn registry_of(modules: &[&str]) -> Arc<Functions<MinionCtx>> {
    let mut f = all_functions();
    f.retain(|name| {
        name.split_once('.')
            .is_some_and(|(m, _)| modules.contains(&m))
    });
    Arc::new(f)
}

fn all_functions() -> Functions<MinionCtx> {
    let mut f = Functions::new();
    beacons::register(&mut f);
    archive::register(&mut f);
    cmd::register(&mut f);
    config::register(&mut f);
    cp::register(&mut f);
    cron::register(&mut f);
    defaults::register(&mut f);
    disk::register(&mut f);
    environ::register(&mut f);
    event::register(&mut f);
    file::register(&mut f);
    git::register(&mut f);
    grains::register(&mut f);
    group::register(&mut f);
    hosts::register(&mut f);
    brine_common::pure_functions::log::register(&mut f);
    match_::register(&mut f);
    mine::register(&mut f);
    mount::register(&mut f);
    network::register(&mut f);
    pillar::register(&mut f);
    pkg::register(&mut f);
    postgres::register(&mut f);
    saltutil::register(&mut f);
    schedule::register(&mut f);
    service::register(&mut f);
    slsutil::register(&mut f);
    ssh::register(&mut f);
    state::register(&mut f);
    status::register(&mut f);
    sys::register(&mut f);
    sysctl::register(&mut f);
    locale::register(&mut f);
    system::register(&mut f);
    brine_common::pure_functions::test::register(&mut f);
    timezone::register(&mut f);
    user::register(&mut f);
    f
}

/// `own` entries over the pillar's dict (a non-dict pillar value is ignored).
fn own_over_pillar(own: Map<String, Value>, pillar: Option<Value>) -> Map<String, Value> {
    let Some(Value::Object(mut entries)) = pillar else {
        return own;
    };
    entries.extend(own);
    entries
}

#[cfg(test)]
mod over_pillar_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pillar_entries_join_and_the_minions_own_win() {
        let own = json!({"ping": {"function": "test.ping", "seconds": 5}})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let pillar = json!({
            "ping": {"function": "test.ping", "seconds": 99},
            "apply": {"function": "state.apply", "hours": 1},
        });
        let merged = own_over_pillar(own.clone(), Some(pillar));
        assert_eq!(merged["ping"]["seconds"], 5);
        assert_eq!(merged["apply"]["function"], "state.apply");
        assert_eq!(own_over_pillar(own.clone(), None), own);
        assert_eq!(own_over_pillar(own.clone(), Some(json!("junk"))), own);
    }
}
