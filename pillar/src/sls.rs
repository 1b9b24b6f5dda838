//! Pillar SLS files (Salt's `render_pstate` and `render_pillar`): finding
//! them, rendering them (with `include`, its `defaults` and `key`) and
//! merging them into the pillar.

use std::collections::HashMap;

use brine_common::ids::{SaltEnv, SlsName};
use brine_common::target::Fnmatch;
use brine_states::host::StateHost;
use brine_states::render::{RenderError, SlsSource, render_data};
use serde_json::{Map, Value};

use crate::merge::merge;
use crate::opts::PillarOpts;
use crate::top::{Top, TopMatches};

/// The SLS names an environment has (Salt's `list_states`): `a/b.sls` is
/// `a.b`, `a/init.sls` is `a`.
pub(crate) fn avail(host: &dyn StateHost, env: &str) -> Vec<String> {
    // An environment name that is not a valid saltenv has no files.
    let files = SaltEnv::parse(env)
        .map_err(|e| e.to_string())
        .and_then(|env| host.list_files(&env))
        .unwrap_or_else(|e| {
            tracing::warn!("cannot list pillar environment '{env}': {e}");
            Vec::new()
        });
    let mut names: Vec<String> = files
        .iter()
        .filter_map(|path| SlsName::from_file(path.as_str()).map(|name| name.to_string()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The path and text of SLS `name` in `env` (`a/b.sls`, then `a/b/init.sls`).
pub(crate) fn find(host: &dyn StateHost, env: &str, name: &SlsName) -> Option<(String, String)> {
    // A name that cannot be an environment has no files (the roots know
    // no such environment either).
    let saltenv = SaltEnv::parse(env).ok()?;
    name.candidate_files()
        .into_iter()
        .find_map(|path| match host.read_file(&saltenv, &path) {
            Ok(Some(bytes)) => Some((
                path.to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            )),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!("cannot read pillar {path} in '{env}': {e}");
                None
            }
        })
}

/// SLS names matching a name or glob; the name itself when nothing matches.
fn expand(avail: &[String], pattern: &str) -> Vec<String> {
    let matched: Vec<String> = match Fnmatch::new(pattern) {
        Ok(glob) => avail.iter().filter(|n| glob.is_match(n)).cloned().collect(),
        Err(_) => Vec::new(),
    };
    if matched.is_empty() {
        vec![pattern.to_owned()]
    } else {
        matched
    }
}

/// One environment's rendering: what was rendered already (Salt's `mods`).
struct EnvRender<'a> {
    host: &'a dyn StateHost,
    opts: &'a PillarOpts,
    top: &'a Top,
    env: &'a str,
    avail: Vec<String>,
    mods: HashMap<String, Option<Value>>,
    errors: Vec<String>,
}

/// Salt's `render_pillar`: render every matched SLS and merge it over `pillar`.
pub(crate) fn render_pillar(
    host: &dyn StateHost,
    opts: &PillarOpts,
    top: &Top,
    matches: &TopMatches,
    mut pillar: Map<String, Value>,
    errors: &mut Vec<String>,
) -> Map<String, Value> {
    for (env, patterns) in matches {
        if !opts.envs().contains(env) {
            errors.push(format!(
                "No matching pillar environment for environment '{env}' found"
            ));
        }
        let mut render = EnvRender {
            host,
            opts,
            top,
            env,
            avail: avail(host, env),
            mods: HashMap::new(),
            errors: Vec::new(),
        };
        let files: Vec<String> = patterns
            .iter()
            .flat_map(|p| expand(&render.avail, p))
            .collect();
        for name in files {
            match render.pstate(&name, &Map::new()) {
                Some(Value::Object(data)) => {
                    pillar = merge(pillar, data, opts.strategy, opts.merge_lists);
                }
                Some(_) => tracing::error!(
                    "The rendered pillar sls file, '{name}' state did not return the expected data format. This is a sign of a malformed pillar sls file."
                ),
                None => {}
            }
        }
        errors.append(&mut render.errors);
    }
    pillar
}

impl EnvRender<'_> {
    /// Salt's `render_pstate`: one SLS with its includes, or `None`.
    fn pstate(&mut self, name: &str, defaults: &Map<String, Value>) -> Option<Value> {
        // A name that is not a valid SLS name names no file: it is missing.
        let found = SlsName::parse(name)
            .ok()
            .and_then(|sls| find(self.host, self.env, &sls));
        let Some((path, text)) = found else {
            self.missing(name);
            return None;
        };
        let state = match render_with_defaults(self.host, self.env, name, &path, &text, defaults) {
            Ok(state) => state,
            Err(e) => {
                self.render_failed(name, &e);
                self.mods.insert(name.to_owned(), None);
                return None;
            }
        };
        let Value::Object(mut state) = state else {
            self.errors
                .push(format!("SLS '{name}' does not render to a dictionary"));
            self.mods.insert(name.to_owned(), Some(state.clone()));
            return Some(state);
        };
        let include = state.remove("include");
        self.mods
            .insert(name.to_owned(), Some(Value::Object(state.clone())));
        match include {
            None => Some(Value::Object(state)),
            Some(Value::Array(items)) => {
                let is_init = path.ends_with("/init.sls");
                Some(Value::Object(
                    self.with_includes(name, is_init, &items, state),
                ))
            }
            Some(_) => {
                self.errors.push(format!(
                    "Include Declaration in SLS '{name}' is not formed as a list"
                ));
                Some(Value::Object(state))
            }
        }
    }

    /// A missing SLS: an error when the environment has roots, unless the
    /// top file said `ignore_missing`.
    fn missing(&mut self, name: &str) {
        let ignored = self
            .top
            .ignored
            .iter()
            .any(|(env, sls)| env == self.env && sls == name);
        if ignored {
            tracing::debug!(
                "Skipping ignored and missing SLS '{name}' in environment '{}'",
                self.env
            );
        } else if self.opts.has_roots(self.env) {
            let msg = format!(
                "Specified SLS '{name}' in environment '{}' is not available on the salt master",
                self.env
            );
            tracing::error!("{msg}");
            self.errors.push(msg);
        } else {
            tracing::debug!(
                "Specified SLS '{name}' in environment '{}' was not found.",
                self.env
            );
        }
    }

    fn render_failed(&mut self, name: &str, e: &RenderError) {
        let full = format!(
            "Rendering SLS '{name}' failed, render error:\n{}",
            e.message
        );
        tracing::error!("{full}");
        self.errors.push(if self.opts.safe_render_error {
            format!("Rendering SLS '{name}' failed. Please see master log for details.")
        } else {
            full
        });
    }

    /// Render the includes, then merge them and the including SLS last
    /// (its values win).
    fn with_includes(
        &mut self,
        name: &str,
        is_init: bool,
        items: &[Value],
        state: Map<String, Value>,
    ) -> Map<String, Value> {
        let mut merged: Option<Map<String, Value>> = None;
        for item in items {
            let Some(include) = Include::parse(item) else {
                self.errors.push(format!(
                    "Include Declaration in SLS '{name}' has an entry that is not a name: {item}"
                ));
                continue;
            };
            let target = include.resolve(name, is_init);
            for sub in expand(&self.avail, &target) {
                let rendered = match self.mods.get(&sub) {
                    Some(done) => done.clone(),
                    None => self.pstate(&sub, &include.defaults),
                };
                if let Some(Value::Object(data)) = rendered {
                    let nested = include.nest(data);
                    merged = Some(self.merge_into(merged, nested));
                }
            }
        }
        self.merge_into(merged, state)
    }

    fn merge_into(
        &self,
        base: Option<Map<String, Value>>,
        over: Map<String, Value>,
    ) -> Map<String, Value> {
        match base {
            None => over,
            Some(base) => merge(base, over, self.opts.strategy, self.opts.merge_lists),
        }
    }
}

/// One `include:` entry: `name`, or `name: {defaults: {...}, key: a:b}`.
struct Include {
    name: String,
    defaults: Map<String, Value>,
    key: Option<String>,
}

impl Include {
    fn parse(item: &Value) -> Option<Self> {
        match item {
            Value::String(name) => Some(Include {
                name: name.clone(),
                defaults: Map::new(),
                key: None,
            }),
            Value::Object(map) => {
                let (name, options) = map.iter().next()?;
                Some(Include {
                    name: name.clone(),
                    defaults: options
                        .get("defaults")
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default(),
                    key: options
                        .get("key")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                })
            }
            _ => None,
        }
    }

    /// A relative name (`.sub`) is resolved against the including SLS.
    fn resolve(&self, including: &str, is_init: bool) -> String {
        let Some(rest) = self.name.strip_prefix('.') else {
            return self.name.clone();
        };
        let mut parts: Vec<&str> = including.split('.').collect();
        if !is_init {
            parts.pop();
        }
        parts.push(rest);
        parts.retain(|p| !p.is_empty());
        parts.join(".")
    }

    /// `key: a:b` puts the data under `{a: {b: data}}`.
    fn nest(&self, data: Map<String, Value>) -> Map<String, Value> {
        let Some(key) = &self.key else {
            return data;
        };
        let mut value = Value::Object(data);
        for fragment in key.split(':').rev() {
            let mut outer = Map::new();
            outer.insert(fragment.to_owned(), value);
            value = Value::Object(outer);
        }
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }
}

/// Render an SLS; `defaults` (from an include) become template variables.
fn render_with_defaults(
    host: &dyn StateHost,
    env: &str,
    name: &str,
    path: &str,
    text: &str,
    defaults: &Map<String, Value>,
) -> Result<Value, RenderError> {
    let source = SlsSource {
        saltenv: env,
        sls: name,
        path,
    };
    render_data(host, &source, text, defaults)
}
