//! External pillars from the master's `ext_pillar` option: `cmd_yaml`,
//! `cmd_json` (a command's output), `file_tree` (a directory tree whose
//! files become keys) and `git` (pillar trees in git branches, see
//! [`crate::git`]). Commands and directories come from the master's own
//! config only, never from a minion.

use std::path::{Path, PathBuf};
use std::process::Command;

use brine_common::target::{Fnmatch, MinionFacts, Target, TargetType};
use brine_common::wire::TargetSpec;
use serde_json::{Map, Value};

use crate::merge::{MergeStrategy, merge};
use crate::opts::PillarOpts;

/// Why one external pillar gave nothing.
#[derive(Debug, thiserror::Error)]
pub enum ExtPillarError {
    #[error("cannot run '{command}': {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("'{command}' exited with {status}: {stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("{kind} data from '{command}' failed to parse: {message}")]
    Parse {
        kind: &'static str,
        command: String,
        message: String,
    },
    #[error("{kind} data from '{command}' is not a dictionary")]
    NotAMapping { kind: &'static str, command: String },
    #[error("the argument must be {0}")]
    Argument(&'static str),
    #[error("git remote {0}")]
    GitRemote(String),
    #[error("file_tree: no root_dir specified")]
    NoRootDir,
    #[error("file_tree: root_dir {0} does not exist or is not a directory")]
    RootDir(PathBuf),
}

/// Salt's `ext_pillar`: each configured source, merged over `pillar` in turn.
pub(crate) fn ext_pillar(
    mut pillar: Map<String, Value>,
    facts: &MinionFacts<'_>,
    opts: &PillarOpts,
    errors: &mut Vec<String>,
) -> Map<String, Value> {
    if !opts.pillar_override.is_empty() {
        pillar = merge(
            pillar,
            opts.pillar_override.clone(),
            opts.strategy,
            opts.merge_lists,
        );
    }
    for run in &opts.ext_pillar {
        let Some(run) = run.as_object() else {
            errors.push("The \"ext_pillar\" option is malformed".to_owned());
            tracing::error!("The \"ext_pillar\" option is malformed");
            return Map::new();
        };
        for (name, arg) in run {
            if name == "git" {
                let data = crate::git::compile(arg, facts, opts, errors);
                pillar = merge(pillar, data, opts.strategy, opts.merge_lists);
                continue;
            }
            let data = match source(name, arg, facts, opts) {
                Some(Ok(data)) => data,
                Some(Err(e)) => {
                    let msg = format!("Failed to load ext_pillar {name}: {e}");
                    tracing::error!("{msg}");
                    errors.push(msg);
                    continue;
                }
                None => {
                    tracing::error!(
                        "ext_pillar interface named {name} is unavailable (known: cmd_yaml, cmd_json, file_tree, git)"
                    );
                    continue;
                }
            };
            pillar = merge(pillar, data, opts.strategy, opts.merge_lists);
        }
    }
    pillar
}

/// One external pillar's data; `None` for a name we do not have.
fn source(
    name: &str,
    arg: &Value,
    facts: &MinionFacts<'_>,
    opts: &PillarOpts,
) -> Option<Result<Map<String, Value>, ExtPillarError>> {
    Some(match name {
        "cmd_yaml" => command_arg(arg).and_then(|c| cmd_yaml(&c)),
        "cmd_json" => command_arg(arg).and_then(|c| cmd_json(&c)),
        "file_tree" => FileTree::from_arg(arg).and_then(|t| t.pillar(facts, &opts.nodegroups)),
        _ => return None,
    })
}

fn command_arg(arg: &Value) -> Result<String, ExtPillarError> {
    match arg {
        Value::String(command) => Ok(command.clone()),
        Value::Object(map) => map
            .get("command")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(ExtPillarError::Argument("a command")),
        _ => Err(ExtPillarError::Argument("a command")),
    }
}

/// Run a command through the shell (as `cmd.run` does) and return its output.
fn run_command(command: &str) -> Result<String, ExtPillarError> {
    let output = Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .output()
        .map_err(|source| ExtPillarError::Spawn {
            command: command.to_owned(),
            source,
        })?;
    if !output.status.success() {
        return Err(ExtPillarError::Failed {
            command: command.to_owned(),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `cmd_yaml`: the command's output read as YAML.
pub fn cmd_yaml(command: &str) -> Result<Map<String, Value>, ExtPillarError> {
    let text = run_command(command)?;
    let data = brine_common::yaml::load(&text, command).map_err(|e| ExtPillarError::Parse {
        kind: "YAML",
        command: command.to_owned(),
        message: e.message,
    })?;
    as_mapping(data, "YAML", command)
}

/// `cmd_json`: the command's output read as JSON.
pub fn cmd_json(command: &str) -> Result<Map<String, Value>, ExtPillarError> {
    let text = run_command(command)?;
    let data: Value = serde_json::from_str(&text).map_err(|e| ExtPillarError::Parse {
        kind: "JSON",
        command: command.to_owned(),
        message: e.to_string(),
    })?;
    as_mapping(data, "JSON", command)
}

fn as_mapping(
    data: Value,
    kind: &'static str,
    command: &str,
) -> Result<Map<String, Value>, ExtPillarError> {
    match data {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err(ExtPillarError::NotAMapping {
            kind,
            command: command.to_owned(),
        }),
    }
}

/// `file_tree`: `root_dir/nodegroups/<group>/...` for each nodegroup the
/// minion is in, then `root_dir/hosts/<minion id>/...` over it.
#[derive(Debug)]
pub struct FileTree {
    pub root_dir: PathBuf,
    pub follow_dir_links: bool,
    /// `keep_newline`: `true`, or globs of the file paths that keep theirs.
    pub keep_newline: KeepNewline,
}

#[derive(Debug)]
pub enum KeepNewline {
    All(bool),
    Matching(Vec<String>),
}

impl FileTree {
    fn from_arg(arg: &Value) -> Result<Self, ExtPillarError> {
        let map = match arg {
            Value::Object(map) => map.clone(),
            Value::String(root) => {
                let mut map = Map::new();
                map.insert("root_dir".into(), Value::String(root.clone()));
                map
            }
            _ => return Err(ExtPillarError::NoRootDir),
        };
        let root_dir = map
            .get("root_dir")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
            .ok_or(ExtPillarError::NoRootDir)?;
        let keep_newline = match map.get("keep_newline") {
            Some(Value::Array(globs)) => KeepNewline::Matching(
                globs
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
            ),
            Some(Value::Bool(keep)) => KeepNewline::All(*keep),
            _ => KeepNewline::All(false),
        };
        Ok(FileTree {
            root_dir: PathBuf::from(root_dir),
            follow_dir_links: map
                .get("follow_dir_links")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            keep_newline,
        })
    }

    /// The minion's data from the tree.
    pub fn pillar(
        &self,
        facts: &MinionFacts<'_>,
        nodegroups: &Map<String, Value>,
    ) -> Result<Map<String, Value>, ExtPillarError> {
        if !self.root_dir.is_dir() {
            return Err(ExtPillarError::RootDir(self.root_dir.clone()));
        }
        let mut data = Map::new();
        for group in self.groups_of(facts, nodegroups) {
            let group_dir = self.root_dir.join("nodegroups").join(&group);
            let tree = self.construct(&group_dir, &group_dir);
            data = merge(data, tree, MergeStrategy::Recurse, false);
        }
        let host_dir = self.root_dir.join("hosts").join(facts.id);
        if host_dir.is_dir() {
            data = merge(
                data,
                self.construct(&host_dir, &host_dir),
                MergeStrategy::Recurse,
                false,
            );
        }
        Ok(data)
    }

    /// The nodegroups with a directory in `nodegroups/` that the minion is in.
    fn groups_of(&self, facts: &MinionFacts<'_>, nodegroups: &Map<String, Value>) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.root_dir.join("nodegroups")) else {
            return Vec::new();
        };
        let mut groups: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|name| nodegroups.contains_key(name))
            .filter(|name| in_nodegroup(name, facts, nodegroups))
            .collect();
        groups.sort();
        groups
    }

    /// The files under `dir` as nested keys; file contents are strings.
    fn construct(&self, top: &Path, dir: &Path) -> Map<String, Value> {
        let mut data = Map::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return data;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let path = entry.path();
            let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
            if path.is_dir() {
                if is_link && !self.follow_dir_links {
                    continue;
                }
                data.insert(name, Value::Object(self.construct(top, &path)));
            } else if path.is_file() {
                match std::fs::read(&path) {
                    Ok(bytes) => {
                        let text = String::from_utf8_lossy(&bytes).into_owned();
                        data.insert(name, Value::String(self.trim(top, &path, text)));
                    }
                    Err(e) => tracing::error!("file_tree: cannot read {}: {e}", path.display()),
                }
            }
        }
        data
    }

    fn trim(&self, top: &Path, path: &Path, text: String) -> String {
        let keep = match &self.keep_newline {
            KeepNewline::All(keep) => *keep,
            KeepNewline::Matching(globs) => {
                let rel = path.strip_prefix(top).unwrap_or(path);
                let rel = rel.to_string_lossy();
                globs
                    .iter()
                    .filter_map(|g| Fnmatch::new(g).ok())
                    .any(|g| g.is_match(&rel))
            }
        };
        if keep {
            text
        } else {
            text.trim_end_matches(['\r', '\n']).to_owned()
        }
    }
}

fn in_nodegroup(name: &str, facts: &MinionFacts<'_>, nodegroups: &Map<String, Value>) -> bool {
    let spec = TargetSpec {
        tgt: Value::String(name.to_owned()),
        tgt_type: TargetType::Nodegroup,
    };
    Target::compile_with_nodegroups(&spec, nodegroups).is_ok_and(|t| t.matches(facts))
}
