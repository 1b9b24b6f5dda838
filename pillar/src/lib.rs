//! Pillar compilation, as Salt's `salt/pillar/__init__.py` does it.
//!
//! [`compile`] builds one minion's pillar:
//!
//! 1. the top files (`top.sls`) of every `pillar_roots` environment (only
//!    `pillarenv` when set; only the minion's saltenv or `base` under the
//!    `none` strategy) are rendered and merged; `include:` in a top file
//!    pulls in more top files;
//! 2. each target is matched against the minion's id and grains with
//!    `brine_common::target` (`match:` picks the type, `compound` by
//!    default, as in Salt's `confirm_top`);
//! 3. the matched SLS files (globs allowed) are rendered with Jinja/YAML
//!    through `brine_states::render`, their `include:` entries first
//!    (`defaults:` become template variables, `key: a:b` nests the data),
//!    and merged with `pillar_source_merging_strategy` and
//!    `pillar_merge_lists` (see [`merge`]);
//! 4. the external pillars of `ext_pillar` (`cmd_yaml`, `cmd_json`,
//!    `file_tree`, `git`) are merged over the result, then the override.
//!
//! Nothing fails silently: every problem is a message in [`Pillar::errors`],
//! which the pillar carries under Salt's `_errors` key ([`Pillar::into_map`]);
//! `state.apply` refuses to run with such a pillar.

mod ext;
pub mod git;
mod host;
mod merge;
mod opts;
mod sls;
mod top;

#[cfg(test)]
mod tests;

use brine_common::fileroots::Roots;
use brine_common::target::MinionFacts;
use serde_json::{Map, Value};

pub use ext::{ExtPillarError, FileTree, KeepNewline, cmd_json, cmd_yaml};
pub use host::{PillarHost, SaltFunctions};
pub use merge::{MergeStrategy, merge};
pub use opts::PillarOpts;

/// Salt's key for pillar render errors.
pub const ERRORS_KEY: &str = "_errors";

/// Salt's first line of a state run refused for a broken pillar.
pub const PILLAR_FAILED: &str = "Pillar failed to render with the following messages:";

/// A compiled pillar and what went wrong while compiling it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pillar {
    pub data: Map<String, Value>,
    pub errors: Vec<String>,
}

impl Pillar {
    /// The pillar as minions hold it: the errors, if any, under `_errors`.
    pub fn into_map(self) -> Map<String, Value> {
        let mut data = self.data;
        if !self.errors.is_empty() {
            let errors = self.errors.into_iter().map(Value::String).collect();
            data.insert(ERRORS_KEY.to_owned(), Value::Array(errors));
        }
        data
    }
}

/// The `_errors` of a pillar map (empty when it rendered cleanly).
pub fn errors_of(pillar: &Map<String, Value>) -> Vec<String> {
    match pillar.get(ERRORS_KEY) {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other.to_string()],
    }
}

/// Compile the pillar of `minion_id` (with its `grains`) from `roots` (the
/// `pillar_roots` directories) and `opts`.
pub fn compile(
    roots: &Roots,
    minion_id: &str,
    grains: &Map<String, Value>,
    opts: &PillarOpts,
) -> Pillar {
    compile_on(roots, minion_id, grains, opts, None)
}

/// [`compile`], with `salt[...]` calls in the pillar's templates sent to
/// `functions` when given (a masterless minion's execution functions, or
/// the master's own).
pub fn compile_on(
    roots: &Roots,
    minion_id: &str,
    grains: &Map<String, Value>,
    opts: &PillarOpts,
    functions: Option<&dyn SaltFunctions>,
) -> Pillar {
    let mut host = PillarHost::new(
        roots,
        grains.clone(),
        opts.pillar_override.clone(),
        template_opts(minion_id, grains, opts),
    );
    if let Some(functions) = functions {
        host = host.with_functions(functions);
    }
    let so_far = opts.pillar_override.clone();
    let facts = MinionFacts::new(minion_id, grains, &so_far);
    let (top, mut top_errors) = top::get_top(&host, opts);
    // The top file is matched on what the master knows, never on the
    // override a minion sent with its request: a minion that claims
    // `role: db` there must not be handed the pillar of the db servers
    // (Salt's `top_matches` does not see `pillar_override` either).
    let no_pillar = Map::new();
    let top_facts = MinionFacts::new(minion_id, grains, &no_pillar);
    let matches = top::top_matches(&top.merged, &top_facts, opts);
    let mut errors = Vec::new();
    let data = sls::render_pillar(&host, opts, &top, &matches, so_far.clone(), &mut errors);
    let mut data = ext::ext_pillar(data, &facts, opts, &mut errors);
    errors.append(&mut top_errors);
    if !opts.pillar_override.is_empty() {
        data = merge(
            data,
            opts.pillar_override.clone(),
            opts.strategy,
            opts.merge_lists,
        );
    }
    for error in &errors {
        tracing::error!(minion = minion_id, "Pillar render error: {error}");
    }
    Pillar { data, errors }
}

/// `opts` in pillar templates: the config, with the minion's `id`, `grains`
/// and environments.
fn template_opts(
    minion_id: &str,
    grains: &Map<String, Value>,
    opts: &PillarOpts,
) -> Map<String, Value> {
    let mut map = opts.template_opts.clone();
    map.insert("id".into(), Value::String(minion_id.to_owned()));
    map.insert("grains".into(), Value::Object(grains.clone()));
    map.insert(
        "saltenv".into(),
        opts.saltenv
            .as_ref()
            .map_or(Value::Null, |e| Value::from(e.as_str())),
    );
    map.insert(
        "pillarenv".into(),
        opts.pillarenv
            .as_ref()
            .map_or(Value::Null, |e| Value::from(e.as_str())),
    );
    map
}
