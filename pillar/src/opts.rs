//! What a pillar compile is configured with, from the master's config (or a
//! masterless minion's own).

use brine_common::config::{MasterConfig, MinionConfig};
use brine_common::ids::SaltEnv;
use serde_json::{Map, Value};

use crate::merge::MergeStrategy;

/// The options of one pillar compile.
#[derive(Debug, Clone, Default)]
pub struct PillarOpts {
    /// `pillar_roots`: environment -> directories.
    pub pillar_roots: Map<String, Value>,
    pub strategy: MergeStrategy,
    /// `pillar_merge_lists`.
    pub merge_lists: bool,
    /// The minion's saltenv (used by the `none` strategy).
    pub saltenv: Option<SaltEnv>,
    /// Compile from this environment only.
    pub pillarenv: Option<SaltEnv>,
    /// `ext_pillar`: a list of one-key mappings (`- cmd_yaml: ...`). Only
    /// ever from the master's own config (it runs commands).
    pub ext_pillar: Vec<Value>,
    /// `nodegroups`, for `match: nodegroup` and `file_tree`'s `nodegroups/`.
    pub nodegroups: Map<String, Value>,
    /// `pillar_safe_render_error`: keep render details out of `_errors`.
    pub safe_render_error: bool,
    /// Merged over the result (Salt's `pillar_override`, the request's `extra`).
    pub pillar_override: Map<String, Value>,
    /// `git_pillar_*`: where the git ext_pillar trees are and how they map.
    pub git_pillar: crate::git::GitPillarSettings,
    /// `opts` as pillar templates see them (`id` and `grains` are added).
    pub template_opts: Map<String, Value>,
}

impl PillarOpts {
    /// The options a master compiles its minions' pillar with.
    pub fn from_master(config: &MasterConfig) -> Self {
        PillarOpts {
            pillar_roots: config.pillar_roots.clone(),
            strategy: MergeStrategy::parse(&config.pillar_source_merging_strategy),
            merge_lists: config.pillar_merge_lists,
            saltenv: None,
            pillarenv: configured_env(config.pillarenv.as_deref()),
            ext_pillar: config.ext_pillar.clone(),
            nodegroups: config.nodegroups.clone(),
            safe_render_error: config.pillar_safe_render_error,
            pillar_override: Map::new(),
            git_pillar: crate::git::GitPillarSettings::from_master(config),
            template_opts: as_map(config),
        }
    }

    /// The options of a masterless minion (`file_client: local`): its own
    /// `pillar_roots`, no external pillars.
    pub fn from_minion(config: &MinionConfig) -> Self {
        PillarOpts {
            pillar_roots: config.pillar_roots.clone(),
            strategy: MergeStrategy::parse(&config.pillar_source_merging_strategy),
            merge_lists: config.pillar_merge_lists,
            saltenv: None,
            pillarenv: configured_env(config.pillarenv.as_deref()),
            ext_pillar: Vec::new(),
            nodegroups: Map::new(),
            safe_render_error: config.pillar_safe_render_error,
            pillar_override: Map::new(),
            git_pillar: Default::default(),
            template_opts: as_map(config),
        }
    }

    /// The environments to read, `base` first, then `pillar_roots` order
    /// (Salt's `_get_envs`).
    pub(crate) fn envs(&self) -> Vec<String> {
        let mut envs = vec!["base".to_owned()];
        envs.extend(self.pillar_roots.keys().filter(|e| *e != "base").cloned());
        envs
    }

    /// Whether `pillar_roots` has directories for `env`.
    pub(crate) fn has_roots(&self, env: &str) -> bool {
        match self.pillar_roots.get(env) {
            Some(Value::Array(dirs)) => !dirs.is_empty(),
            Some(Value::String(dir)) => !dir.is_empty(),
            _ => false,
        }
    }
}

/// The configured `pillarenv`; one that cannot be an environment name is
/// left out (with a warning), as no `pillar_roots` could serve it.
fn configured_env(name: Option<&str>) -> Option<SaltEnv> {
    let name = name?;
    SaltEnv::parse(name)
        .map_err(|e| tracing::warn!("pillarenv ignored: {e}"))
        .ok()
}

fn as_map<T: serde::Serialize>(config: &T) -> Map<String, Value> {
    match serde_json::to_value(config) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}
