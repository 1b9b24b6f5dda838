//! Master and minion configuration: Salt's file layout and key names.
//!
//! `<config dir>/master` (or `minion`) is read first, then `master.d/*.conf` in
//! name order, each file overriding keys of the ones before (as Salt's default
//! `default_include` does). Every file is read with the Salt-YAML loader. An
//! unknown key is a warning, and so is a Salt key Brine accepts but does not
//! act on (each config's `NO_EFFECT`, with why); a value of the wrong type is
//! an error naming the key and the file. Paths (`pki_dir`, `cachedir`, `sock_dir`, ...) are placed
//! under `root_dir`, so a whole installation can live in a temp dir.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::logging::{DateFormat, LogFormat, LogLevel};

/// Where configuration lives unless `-c` says otherwise.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/brine";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Yaml(#[from] crate::yaml::YamlError),
    #[error("{file}: the configuration must be a mapping of keys to values")]
    NotAMapping { file: String },
    #[error("{file}: invalid value for '{key}': {message}")]
    Type {
        file: String,
        key: String,
        message: String,
    },
}

/// Something loaded from a config dir: its typed settings and the warnings
/// (unknown keys) to log once logging is up.
#[derive(Debug)]
pub struct Loaded<T> {
    pub config: T,
    pub warnings: Vec<String>,
    pub files: Vec<PathBuf>,
}

/// A config type: serde with every field defaulted, plus Salt's root_dir rule.
pub trait ConfigFile: Serialize + DeserializeOwned + Default {
    /// `master` or `minion`.
    const NAME: &'static str;
    /// Prefix path options with `root_dir`.
    fn apply_root_dir(&mut self);
    /// Remember the directory the config was loaded from (for files that live
    /// beside it, such as the minion's `grains` file).
    fn set_config_dir(&mut self, _dir: &Path) {}
    /// `log_level`: the console's level unless `-l` says otherwise.
    fn log_level(&self) -> &str;
    /// The other log keys.
    fn log_config(&self) -> &LogConfig;
    /// Salt's keys this config accepts but nothing acts on, each with why:
    /// one set in a file is a warning at load (never silently ignored).
    const NO_EFFECT: &'static [(&'static str, &'static str)] = &[];
}

/// The log keys the master's and the minion's configs share, with Salt's
/// defaults (`log_file` and `log_level` are each config's own fields). The
/// formats are parsed when the config is read, so a bad one is an error
/// naming its file and key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// The log file's level; unset, the config's `log_level` (Salt's rule).
    pub log_level_logfile: Option<LogLevel>,
    pub log_fmt_console: LogFormat,
    pub log_fmt_logfile: LogFormat,
    pub log_datefmt: DateFormat,
    pub log_datefmt_logfile: DateFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            log_level_logfile: None,
            log_fmt_console: LogFormat::console_default(),
            log_fmt_logfile: LogFormat::logfile_default(),
            log_datefmt: DateFormat::console_default(),
            log_datefmt_logfile: DateFormat::logfile_default(),
        }
    }
}

/// How the highstate outputter prints state runs (Salt's keys, read by the
/// CLIs of both configs: `brine`/`brine-run` the master's, `brine-call` the
/// minion's). `--state-output` and `--state-verbose` override the first two.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct StateOutputConfig {
    /// `full`, `terse`, `mixed`, `changes` or `filter`, each also with
    /// `_id` (the ID in place of the name in terse lines).
    pub state_output: String,
    /// `False` hides the states that succeeded without changes.
    pub state_verbose: bool,
    /// The Started/Duration lines and the total run time.
    pub state_output_profile: bool,
    /// Hide the states that succeeded without changes (as `state_verbose:
    /// False`, whatever `state_verbose` says).
    pub state_output_diff: bool,
    /// Success and failure percentages in the summary.
    pub state_output_pct: bool,
    /// `filter` mode: the results (`True`, `False`, `None`) not printed.
    #[serde(deserialize_with = "result_names")]
    pub state_output_exclude: Vec<String>,
    /// `filter` mode: the results printed as one terse line.
    #[serde(deserialize_with = "result_names")]
    pub state_output_terse: Vec<String>,
}

impl Default for StateOutputConfig {
    fn default() -> Self {
        StateOutputConfig {
            state_output: "full".into(),
            state_verbose: true,
            state_output_profile: true,
            state_output_diff: false,
            state_output_pct: false,
            state_output_exclude: Vec::new(),
            state_output_terse: Vec::new(),
        }
    }
}

/// `state_output_exclude`/`state_output_terse` as Salt takes them: a
/// comma-separated string (`True,None`) or a list. Salt compares
/// `str(result)` with each item, so only strings can match: a YAML boolean
/// or null in the list never does, and is dropped here.
fn result_names<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s.split(',').map(str::to_string).collect(),
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| match item {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    })
}

/// Load `<dir>/<NAME>` and `<dir>/<NAME>.d/*.conf`. Missing files are fine: an
/// empty config dir gives the defaults.
pub fn load<T: ConfigFile>(dir: &Path) -> Result<Loaded<T>, ConfigError> {
    let files = config_files(dir, T::NAME);
    let (merged, origin) = read_and_merge(&files)?;
    let (mut config, warnings) = from_merged::<T>(merged, &origin, &dir.display().to_string())?;
    config.apply_root_dir();
    config.set_config_dir(dir);
    Ok(Loaded {
        config,
        warnings,
        files,
    })
}

/// A config from the text of one file named `source`, checked as `load`
/// checks each file (root_dir not applied); with the warnings. For tools
/// and the fuzzer, which have text rather than a config dir.
pub fn from_text<T: ConfigFile>(text: &str, source: &str) -> Result<(T, Vec<String>), ConfigError> {
    let merged = match crate::yaml::load(text, source)? {
        Value::Null => Map::new(),
        Value::Object(map) => map,
        _ => {
            return Err(ConfigError::NotAMapping {
                file: source.to_string(),
            });
        }
    };
    let origin = merged
        .keys()
        .map(|k| (k.clone(), PathBuf::from(source)))
        .collect();
    from_merged(merged, &origin, source)
}

/// The typed config of merged keys: unknown keys become warnings, a key of
/// the wrong type an error that names its file and key.
fn from_merged<T: ConfigFile>(
    merged: Map<String, Value>,
    origin: &Origins,
    source: &str,
) -> Result<(T, Vec<String>), ConfigError> {
    let known = known_keys::<T>();
    let mut warnings = Vec::new();
    for (key, value) in &merged {
        let file = origin
            .get(key)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if !known.contains(key) {
            warnings.push(format!(
                "{file}: unknown configuration key '{key}' (ignored)"
            ));
            continue;
        }
        check_one_key::<T>(key, value, &file)?;
        if let Some((_, why)) = T::NO_EFFECT.iter().find(|(k, _)| k == key) {
            warnings.push(format!("{file}: {key}: {why}"));
        }
    }
    let known_only: Map<String, Value> = merged
        .into_iter()
        .filter(|(k, _)| known.contains(k))
        .collect();
    let config: T =
        serde_json::from_value(Value::Object(known_only)).map_err(|e| ConfigError::Type {
            file: source.to_string(),
            key: "?".into(),
            message: e.to_string(),
        })?;
    Ok((config, warnings))
}

fn config_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut files = vec![dir.join(name)];
    let mut extra: Vec<PathBuf> = fs::read_dir(dir.join(format!("{name}.d")))
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect()
        })
        .unwrap_or_default();
    extra.sort();
    files.extend(extra);
    files.into_iter().filter(|p| p.is_file()).collect()
}

type Origins = HashMap<String, PathBuf>;

fn read_and_merge(files: &[PathBuf]) -> Result<(Map<String, Value>, Origins), ConfigError> {
    let mut merged = Map::new();
    let mut origin = HashMap::new();
    for file in files {
        let text = fs::read_to_string(file).map_err(|source| ConfigError::Read {
            file: file.display().to_string(),
            source,
        })?;
        match crate::yaml::load(&text, &file.display().to_string())? {
            Value::Null => {}
            Value::Object(map) => {
                for (k, v) in map {
                    origin.insert(k.clone(), file.clone());
                    merged.insert(k, v);
                }
            }
            _ => {
                return Err(ConfigError::NotAMapping {
                    file: file.display().to_string(),
                });
            }
        }
    }
    Ok((merged, origin))
}

/// The keys a config type knows: the fields of its serialised default.
fn known_keys<T: ConfigFile>() -> Vec<String> {
    match serde_json::to_value(T::default()) {
        Ok(Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Deserialise a config holding only `key`, so a type error names that key.
fn check_one_key<T: ConfigFile>(key: &str, value: &Value, file: &str) -> Result<(), ConfigError> {
    let mut one = Map::new();
    one.insert(key.to_string(), value.clone());
    serde_json::from_value::<T>(Value::Object(one))
        .map(|_| ())
        .map_err(|e| ConfigError::Type {
            file: file.to_string(),
            key: key.to_string(),
            message: e.to_string(),
        })
}

/// Salt's rule: prefix `path` with `root_dir` unless it is already under it.
pub fn under_root(root_dir: &Path, path: &Path) -> PathBuf {
    if root_dir == Path::new("/") || path.starts_with(root_dir) {
        return path.to_path_buf();
    }
    let rel = path.strip_prefix("/").unwrap_or(path);
    root_dir.join(rel)
}

pub(crate) fn prefix(root_dir: &Path, path: &mut PathBuf) {
    // A syslog destination is not a path under the root (Salt leaves it too).
    if !is_syslog_destination(path) {
        *path = under_root(root_dir, path);
    }
}

/// Salt's `log_file` may name a syslog destination (`udp://host:514`,
/// `tcp://...`, `file:///dev/log`) instead of a file.
pub fn is_syslog_destination(path: &Path) -> bool {
    let text = path.to_string_lossy();
    ["udp://", "tcp://", "file://"]
        .iter()
        .any(|scheme| text.starts_with(scheme))
}

/// Salt's `master`: one address, or a list of them (several masters: all
/// at once, or one at a time with `master_type: failover`). An entry may
/// name its port (`host:port`, `[v6addr]:port`); `master_port` is the port
/// of the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masters(Vec<String>);

impl Masters {
    pub fn single(address: impl Into<String>) -> Self {
        Masters(vec![address.into()])
    }

    /// The entries as written.
    pub fn entries(&self) -> &[String] {
        &self.0
    }

    /// Each master's host and port (`default_port` where none is given).
    pub fn endpoints(&self, default_port: u16) -> Vec<(String, u16)> {
        self.0
            .iter()
            .map(|entry| split_host_port(entry, default_port))
            .collect()
    }
}

/// `host:port` or `[v6]:port` into its parts; a bare host (an IPv6 address
/// with its colons too) keeps `default_port`.
fn split_host_port(entry: &str, default_port: u16) -> (String, u16) {
    if let Some(rest) = entry.strip_prefix('[')
        && let Some((host, after)) = rest.split_once(']')
    {
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return (host.to_string(), port.unwrap_or(default_port));
    }
    match entry.split_once(':') {
        Some((host, port)) if !port.contains(':') => match port.parse() {
            Ok(port) => (host.to_string(), port),
            Err(_) => (entry.to_string(), default_port),
        },
        _ => (entry.to_string(), default_port),
    }
}

impl PartialEq<&str> for Masters {
    fn eq(&self, other: &&str) -> bool {
        self.0.len() == 1 && self.0[0] == *other
    }
}

impl std::fmt::Display for Masters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

impl Serialize for Masters {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => s.serialize_str(one),
            many => many.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Masters {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        match OneOrMany::deserialize(d) {
            Ok(OneOrMany::One(one)) => Ok(Masters(vec![one])),
            Ok(OneOrMany::Many(many)) if many.is_empty() => Err(serde::de::Error::custom(
                "an empty list: name at least one master",
            )),
            Ok(OneOrMany::Many(many)) => Ok(Masters(many)),
            Err(_) => Err(serde::de::Error::custom(
                "expected an address or a list of addresses",
            )),
        }
    }
}

/// Salt's `master_type` values that Brine serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MasterType {
    /// Every master of `master` at once.
    Str,
    /// One master at a time, the next when it is lost.
    Failover,
}

/// Where a master keeps keys, jobs, returns and the minion data cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterStore {
    /// An embedded `redb` file under `cachedir`: one master, no server.
    Redb,
    /// A PostgreSQL database several masters share.
    Postgres,
}

/// How to reach PostgreSQL: a libpq connection string (`dsn`, key=value or
/// `postgresql://` URL) or its parts; the password from a pgpass-format
/// `passfile` (never from the config itself).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PostgresConfig {
    pub dsn: Option<String>,
    /// A host name, an IP address, or a directory holding the server's unix
    /// socket (starts with `/`).
    pub host: Option<String>,
    pub port: Option<u16>,
    pub dbname: Option<String>,
    pub user: Option<String>,
    pub passfile: Option<PathBuf>,
    /// libpq's words: `disable`, `prefer`, `require`, `verify-full`.
    pub sslmode: Option<String>,
    /// The CA certificate (PEM) a `verify-full` server certificate chains to.
    pub sslrootcert: Option<PathBuf>,
}

/// Salt accepts `True`/`False` but also strings for some booleans; we accept
/// only booleans and say so in the type error.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MasterConfig {
    pub root_dir: PathBuf,
    pub pki_dir: PathBuf,
    pub cachedir: PathBuf,
    pub sock_dir: PathBuf,
    pub log_file: PathBuf,
    pub log_level: String,
    #[serde(flatten)]
    pub log: LogConfig,
    /// `brine-api`'s log file (Salt's `api_logfile`).
    pub api_logfile: PathBuf,
    pub interface: String,
    pub publish_port: u16,
    pub ret_port: u16,
    pub auto_accept: bool,
    pub autosign_file: Option<PathBuf>,
    /// Most keys that may wait in `minions_pre` (Brine's key). Auth requests
    /// from unknown ids beyond it are refused without writing anything, so
    /// a flood of made-up ids cannot fill the disk; each refusal is logged
    /// and counted.
    pub max_pending_keys: usize,
    pub keep_jobs_seconds: u64,
    pub timeout: u64,
    pub gather_job_timeout: u64,
    pub worker_threads: usize,
    /// Largest accepted message on any master socket, in bytes.
    pub max_message_size: usize,
    /// How many recent publications are kept for minions that catch up.
    pub publish_window: usize,
    /// A starting master publishes again the jobs of the last this many
    /// seconds that expected minions have not returned for (0: none).
    pub publish_recovery_seconds: u64,
    /// The open-files limit the master asks for (Salt's key); each minion
    /// costs one socket in the master and one in its publisher process.
    pub max_open_files: u64,
    /// Where the master keeps what several masters share: `redb` (embedded,
    /// one master, the default) or `postgres` (the `postgres:` block).
    pub cluster_store: ClusterStore,
    /// The PostgreSQL of `cluster_store: postgres`.
    pub postgres: PostgresConfig,
    /// Seconds without a ping after which a minion counts as disconnected.
    pub presence_timeout: u64,
    pub file_roots: Map<String, Value>,
    pub pillar_roots: Map<String, Value>,
    pub nodegroups: Map<String, Value>,
    pub reactor: Vec<Value>,
    /// Runner functions the master runs on a schedule (Salt's `schedule:`,
    /// the minion's job format).
    pub schedule: Value,
    /// Workers that run reactions (Salt's key).
    pub reactor_worker_threads: usize,
    /// Reactions that may wait for a worker; more are dropped (Salt's key).
    pub reactor_worker_hwm: usize,
    /// Fire `salt/presence/present` and `salt/presence/change` (Salt's key).
    pub presence_events: bool,
    /// Seconds between the master's maintenance looks, e.g. presence events (Salt's key).
    pub loop_interval: u64,
    /// Git remotes served as `salt://` (Salt's gitfs): a URL or path, or a
    /// one-key map from it to per-remote options (`root`, `mountpoint`,
    /// `base`, `name`).
    pub gitfs_remotes: Vec<Value>,
    /// The branch or tag that is the `base` environment.
    pub gitfs_base: String,
    /// Seconds between fetches of every gitfs remote.
    pub gitfs_update_interval: u64,
    /// The subdirectory of every remote served as its top (per-remote `root`).
    pub gitfs_root: String,
    /// A prefix under which every remote's files appear (per-remote `mountpoint`).
    pub gitfs_mountpoint: String,
    /// Per-environment settings for every remote (Salt's key): a list of
    /// one-key maps from an environment to its `ref`, `root` and
    /// `mountpoint`; a remote's own `saltenv` option overrides them.
    pub gitfs_saltenv: Vec<Value>,
    /// Environments served only if they match an entry (exact, glob or
    /// regex); empty: all.
    pub gitfs_saltenv_whitelist: Vec<String>,
    /// Environments never served (exact, glob or regex).
    pub gitfs_saltenv_blacklist: Vec<String>,
    /// Which kinds of refs name environments: `branch`, `tag`, `sha`.
    pub gitfs_ref_types: Vec<String>,
    /// Serve only `base` and the environments `saltenv` maps, not every
    /// branch and tag.
    pub gitfs_disable_saltenv_mapping: bool,
    /// The ref served for an environment no ref matches ("" for none).
    pub gitfs_fallback: String,
    /// The branch of a git ext_pillar remote that is the `base` pillar
    /// environment (Salt's key).
    pub git_pillar_base: String,
    /// The branch of a git ext_pillar remote given without one.
    pub git_pillar_branch: String,
    /// The pillar environment of every git ext_pillar remote ("" for: from
    /// its branch).
    pub git_pillar_env: String,
    /// The subdirectory of every git ext_pillar remote that holds its tree.
    pub git_pillar_root: String,
    /// Let SLS files of one git ext_pillar remote include those of the other
    /// remotes in the same environment.
    pub git_pillar_includes: bool,
    /// Seconds between fetches of the git ext_pillar remotes.
    pub git_pillar_update_interval: u64,
    pub ext_pillar: Vec<Value>,
    /// How pillar SLS files and sources are merged (Salt's key): `smart`
    /// (default), `recurse`, `aggregate`, `overwrite` or `none`.
    pub pillar_source_merging_strategy: String,
    /// Merge lists instead of replacing them when pillar is merged.
    pub pillar_merge_lists: bool,
    /// Compile pillar from this environment only.
    pub pillarenv: Option<String>,
    /// Hide render details in pillar `_errors` (they go to the log).
    pub pillar_safe_render_error: bool,
    /// File server backends in lookup order: `roots`, `git` (or `gitfs`).
    pub fileserver_backend: Vec<String>,
    /// Salt's `publisher_acl`: `{user: [permissions]}` for local users other
    /// than root and the master's own (master/src/publisher_acl.rs).
    pub publisher_acl: Map<String, Value>,
    /// `{users: [...], modules: [...]}`: refused to everyone, root included.
    pub publisher_acl_blacklist: Map<String, Value>,
    pub external_auth: Map<String, Value>,
    /// The PAM service the `pam` eauth logs in through (Salt's key).
    #[serde(rename = "auth.pam.service")]
    pub auth_pam_service: String,
    /// `brine-api`'s settings (Salt's `rest_cherrypy` block): `port`,
    /// `host`, `ssl_crt`, `ssl_key`, `disable_ssl`, ... Read by `brine-api`.
    pub rest_api: Map<String, Value>,
    /// Seconds an API login token stays valid (Salt's key).
    pub token_expire: u64,
    #[serde(flatten)]
    pub state_out: StateOutputConfig,
    pub color: bool,
    #[serde(flatten)]
    pub ssh: SshConfig,
}

/// What `brine-ssh` reads from the master config: Salt's salt-ssh keys.
/// A roster entry's own value beats each of these (Salt's rule).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SshConfig {
    /// The roster; unset, `roster` in the config directory.
    pub roster_file: Option<PathBuf>,
    /// Hosts handled at once.
    pub ssh_max_procs: usize,
    /// The login user of entries that name none.
    pub ssh_user: String,
    /// The port of entries that name none.
    pub ssh_port: u16,
    /// The private key of entries that name none; unset, ssh's own choice
    /// (the user's ssh config, agent and default keys).
    pub ssh_priv: Option<PathBuf>,
    /// Seconds ssh waits to connect (`ConnectTimeout`).
    pub ssh_timeout: u64,
    /// Run the remote side through `sudo` (non-interactive).
    pub ssh_sudo: bool,
    /// The known_hosts file to check host keys against (ssh's own when unset).
    pub known_hosts_file: Option<PathBuf>,
    /// More `-o` options for every ssh call (`Key=value` each).
    pub ssh_options: Vec<String>,
    /// Values every roster entry starts from.
    pub roster_defaults: Map<String, Value>,
}

impl Default for SshConfig {
    fn default() -> Self {
        SshConfig {
            roster_file: None,
            ssh_max_procs: 25,
            ssh_user: "root".into(),
            ssh_port: 22,
            ssh_priv: None,
            ssh_timeout: 60,
            ssh_sudo: false,
            known_hosts_file: None,
            ssh_options: Vec::new(),
            roster_defaults: Map::new(),
        }
    }
}

impl Default for MasterConfig {
    fn default() -> Self {
        MasterConfig {
            root_dir: "/".into(),
            pki_dir: "/etc/brine/pki/master".into(),
            cachedir: "/var/cache/brine/master".into(),
            sock_dir: "/var/run/brine/master".into(),
            log_file: "/var/log/brine/master".into(),
            log_level: "warning".into(),
            log: LogConfig::default(),
            api_logfile: "/var/log/brine/api".into(),
            interface: "0.0.0.0".into(),
            publish_port: 4505,
            ret_port: 4506,
            auto_accept: false,
            autosign_file: None,
            max_pending_keys: 1000,
            keep_jobs_seconds: 86400,
            timeout: 5,
            gather_job_timeout: 10,
            worker_threads: 5,
            max_message_size: 64 * 1024 * 1024,
            publish_window: 1024,
            publish_recovery_seconds: 600,
            max_open_files: 100_000,
            cluster_store: ClusterStore::Redb,
            postgres: PostgresConfig::default(),
            presence_timeout: 30,
            file_roots: base_env("/srv/salt"),
            pillar_roots: base_env("/srv/pillar"),
            nodegroups: Map::new(),
            reactor: Vec::new(),
            schedule: Value::Null,
            reactor_worker_threads: 10,
            reactor_worker_hwm: 10000,
            presence_events: false,
            loop_interval: 60,
            gitfs_remotes: Vec::new(),
            gitfs_base: "master".into(),
            gitfs_update_interval: 60,
            gitfs_root: String::new(),
            gitfs_mountpoint: String::new(),
            gitfs_saltenv: Vec::new(),
            gitfs_saltenv_whitelist: Vec::new(),
            gitfs_saltenv_blacklist: Vec::new(),
            gitfs_ref_types: vec!["branch".into(), "tag".into(), "sha".into()],
            gitfs_disable_saltenv_mapping: false,
            gitfs_fallback: String::new(),
            git_pillar_base: "master".into(),
            git_pillar_branch: "master".into(),
            git_pillar_env: String::new(),
            git_pillar_root: String::new(),
            git_pillar_includes: true,
            git_pillar_update_interval: 60,
            ext_pillar: Vec::new(),
            pillar_source_merging_strategy: "smart".into(),
            pillar_merge_lists: false,
            pillarenv: None,
            pillar_safe_render_error: true,
            fileserver_backend: vec!["roots".into()],
            publisher_acl: Map::new(),
            publisher_acl_blacklist: Map::new(),
            external_auth: Map::new(),
            auth_pam_service: "login".into(),
            rest_api: Map::new(),
            token_expire: 43200,
            state_out: StateOutputConfig::default(),
            color: true,
            ssh: SshConfig::default(),
        }
    }
}

fn base_env(path: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "base".into(),
        Value::Array(vec![Value::String(path.into())]),
    );
    m
}

impl ConfigFile for MasterConfig {
    const NAME: &'static str = "master";
    const NO_EFFECT: &'static [(&'static str, &'static str)] = &[(
        "gather_job_timeout",
        "brine knows a minion still runs a job from its acknowledgement and \
             heartbeats, not from a saltutil.find_job round, so `timeout` (seconds \
             without a word from a minion) alone decides when it gives up; the key \
             has no effect",
    )];
    fn apply_root_dir(&mut self) {
        let root = self.root_dir.clone();
        for p in [
            &mut self.pki_dir,
            &mut self.cachedir,
            &mut self.sock_dir,
            &mut self.log_file,
            &mut self.api_logfile,
        ] {
            prefix(&root, p);
        }
        if let Some(p) = self.autosign_file.as_mut() {
            prefix(&root, p);
        }
    }
    fn log_level(&self) -> &str {
        &self.log_level
    }
    fn log_config(&self) -> &LogConfig {
        &self.log
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MinionConfig {
    /// Defaults to the host name when unset.
    pub id: Option<String>,
    pub root_dir: PathBuf,
    pub pki_dir: PathBuf,
    pub cachedir: PathBuf,
    pub sock_dir: PathBuf,
    pub log_file: PathBuf,
    pub log_level: String,
    #[serde(flatten)]
    pub log: LogConfig,
    pub master: Masters,
    pub master_port: u16,
    /// Salt's `master_type`: `str` (the default: every master in `master`
    /// at once) or `failover` (one at a time, the next when it is lost).
    pub master_type: MasterType,
    /// Try the masters of a failover list in a random order (Salt's key).
    pub random_master: bool,
    /// Overrides the publish port the master announces.
    pub publish_port: Option<u16>,
    /// Salt's `source_address`: the local address the minion's connections
    /// to the master leave from (a host with several, or the fault suite's
    /// minions, each on its own 127.0.0.x).
    pub source_address: Option<std::net::IpAddr>,
    pub master_finger: Option<String>,
    /// Seconds between auth attempts while the key is pending.
    pub acceptance_wait_time: f64,
    /// Upper bound of the growing wait; 0 means "same as acceptance_wait_time".
    pub acceptance_wait_time_max: f64,
    /// Seconds for one request to the master (auth included).
    pub auth_timeout: f64,
    /// Seconds between liveness pings to the master.
    pub master_alive_interval: f64,
    /// Seconds between heartbeats for running jobs.
    pub job_heartbeat_interval: f64,
    /// Seconds a job runs before the minion acknowledges it; a job done
    /// sooner is acknowledged by its return alone (half the requests for
    /// quick jobs on a large fleet).
    pub job_ack_delay: f64,
    /// The most returns the return outbox keeps on disk while they wait for
    /// the master's acknowledgement (Brine's key; Salt has no outbox). When
    /// full, the oldest leave the disk first.
    pub return_outbox_max_count: usize,
    /// The most bytes the return outbox keeps on disk (Brine's key).
    pub return_outbox_max_bytes: u64,
    /// Seconds a stopping minion (SIGTERM, SIGINT) lets its running jobs
    /// finish before it kills them (Brine's key; Salt has none).
    pub graceful_shutdown_timeout: f64,
    pub max_message_size: usize,
    pub grains: Map<String, Value>,
    /// Glob patterns of grain names to leave out (Salt's `grains_blacklist`).
    pub grains_blacklist: Vec<String>,
    /// Cache the detected grains in `cachedir` and reuse them at start-up.
    pub grains_cache: bool,
    /// Seconds the grains cache stays fresh.
    pub grains_cache_expiration: u64,
    /// Where this config was loaded from (set at load time, never read from
    /// a file): the `grains` file that `grains.setval` writes lives there.
    #[serde(skip)]
    pub config_dir: PathBuf,
    /// The program running this minion, by Salt's name for it (`salt-call`,
    /// `salt-minion`): Salt's `__cli` option, which formulas read from
    /// `opts` (e.g. to tell salt-ssh apart). Set by the binary, never read
    /// from a file.
    #[serde(rename = "__cli", skip_deserializing)]
    pub cli: Option<String>,
    pub file_client: String,
    pub file_roots: Map<String, Value>,
    pub pillar_roots: Map<String, Value>,
    /// How pillar SLS files and sources are merged (Salt's key): `smart`
    /// (default), `recurse`, `aggregate`, `overwrite` or `none`.
    pub pillar_source_merging_strategy: String,
    /// Merge lists instead of replacing them when pillar is merged.
    pub pillar_merge_lists: bool,
    /// Compile pillar from this environment only.
    pub pillarenv: Option<String>,
    /// Hide render details in pillar `_errors` (they go to the log).
    pub pillar_safe_render_error: bool,
    /// Send every state's result as a `salt/job/<jid>/prog/...` event
    /// while a state run goes on (Salt's key).
    pub state_events: bool,
    /// Stop a state run at the first failed state (Salt's key).
    pub failhard: bool,
    /// How the top files of several environments combine (Salt's key):
    /// `merge` (default), `same` or `merge_all`.
    pub top_file_merging_strategy: String,
    /// With `same`: the environment whose top file serves environments
    /// that have none.
    pub default_top: String,
    /// The environments whose top files are read, in this order (Salt's
    /// key; empty: every environment, `base` first).
    pub env_order: Vec<String>,
    pub beacons: Value,
    pub schedule: Value,
    /// The state run the minion makes once it has authenticated at start
    /// (Salt's key): none, `highstate`, `sls` (of `sls_list`) or `top` (of
    /// `top_file`).
    pub startup_states: StartupStates,
    /// The SLS names `startup_states: sls` applies.
    pub sls_list: Vec<String>,
    /// The top file `startup_states: top` applies.
    pub top_file: String,
    pub multiprocessing: bool,
    #[serde(flatten)]
    pub state_out: StateOutputConfig,
    pub color: bool,
    /// Salt's `mine_functions`: `{name: [args...] | {kwargs} | null}`, an
    /// alias naming its function with a `mine_function:` item.
    pub mine_functions: Map<String, Value>,
    /// Minutes between mine updates (Salt's `mine_interval`; 0 disables them).
    pub mine_interval: f64,
}

impl Default for MinionConfig {
    fn default() -> Self {
        MinionConfig {
            id: None,
            root_dir: "/".into(),
            pki_dir: "/etc/brine/pki/minion".into(),
            cachedir: "/var/cache/brine/minion".into(),
            sock_dir: "/var/run/brine/minion".into(),
            log_file: "/var/log/brine/minion".into(),
            log_level: "warning".into(),
            log: LogConfig::default(),
            master: Masters::single("salt"),
            master_port: 4506,
            master_type: MasterType::Str,
            random_master: false,
            publish_port: None,
            source_address: None,
            master_finger: None,
            acceptance_wait_time: 10.0,
            acceptance_wait_time_max: 0.0,
            auth_timeout: 5.0,
            master_alive_interval: 10.0,
            job_heartbeat_interval: 2.0,
            job_ack_delay: 0.1,
            return_outbox_max_count: 10_000,
            return_outbox_max_bytes: 256 * 1024 * 1024,
            graceful_shutdown_timeout: 30.0,
            max_message_size: 64 * 1024 * 1024,
            grains: Map::new(),
            grains_blacklist: Vec::new(),
            grains_cache: false,
            grains_cache_expiration: 300,
            config_dir: DEFAULT_CONFIG_DIR.into(),
            cli: None,
            file_client: "remote".into(),
            file_roots: base_env("/srv/salt"),
            pillar_roots: base_env("/srv/pillar"),
            pillar_source_merging_strategy: "smart".into(),
            pillar_merge_lists: false,
            pillarenv: None,
            pillar_safe_render_error: true,
            state_events: false,
            failhard: false,
            top_file_merging_strategy: "merge".into(),
            default_top: "base".into(),
            env_order: Vec::new(),
            beacons: Value::Null,
            schedule: Value::Null,
            startup_states: StartupStates::None,
            sls_list: Vec::new(),
            top_file: String::new(),
            multiprocessing: false,
            state_out: StateOutputConfig::default(),
            color: true,
            mine_functions: Map::new(),
            mine_interval: 60.0,
        }
    }
}

/// Salt's `startup_states`: which state run a starting minion makes. Any
/// other word is a load error naming the key (Salt would run a highstate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Option<String>", into = "String")]
pub enum StartupStates {
    /// `''` (Salt's default): none.
    None,
    Highstate,
    /// `state.sls` of `sls_list`.
    Sls,
    /// `state.top` of `top_file`.
    Top,
}

impl TryFrom<Option<String>> for StartupStates {
    type Error = String;
    fn try_from(word: Option<String>) -> Result<Self, String> {
        match word.as_deref().unwrap_or("") {
            "" => Ok(StartupStates::None),
            "highstate" => Ok(StartupStates::Highstate),
            "sls" => Ok(StartupStates::Sls),
            "top" => Ok(StartupStates::Top),
            other => Err(format!(
                "'{other}' is not one of '' (none), highstate, sls, top"
            )),
        }
    }
}

impl From<StartupStates> for String {
    fn from(states: StartupStates) -> String {
        match states {
            StartupStates::None => "",
            StartupStates::Highstate => "highstate",
            StartupStates::Sls => "sls",
            StartupStates::Top => "top",
        }
        .to_string()
    }
}

impl ConfigFile for MinionConfig {
    const NAME: &'static str = "minion";
    const NO_EFFECT: &'static [(&'static str, &'static str)] = &[(
        "multiprocessing",
        "Brine runs every job as a task of the minion process; the key has no effect",
    )];
    fn apply_root_dir(&mut self) {
        let root = self.root_dir.clone();
        for p in [
            &mut self.pki_dir,
            &mut self.cachedir,
            &mut self.sock_dir,
            &mut self.log_file,
        ] {
            prefix(&root, p);
        }
    }
    fn set_config_dir(&mut self, dir: &Path) {
        self.config_dir = dir.to_path_buf();
    }
    fn log_level(&self) -> &str {
        &self.log_level
    }
    fn log_config(&self) -> &LogConfig {
        &self.log
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(path, text).expect("write");
    }

    #[test]
    fn empty_dir_gives_defaults() {
        let dir = tempfile::tempdir().expect("tmp");
        let loaded = load::<MasterConfig>(dir.path()).expect("load");
        assert_eq!(loaded.config.ret_port, 4506);
        assert!(loaded.warnings.is_empty());
    }

    #[test]
    fn dot_d_files_override_and_paths_go_under_root_dir() {
        let dir = tempfile::tempdir().expect("tmp");
        write(
            dir.path(),
            "master",
            "root_dir: /tmp/brine-root\npublish_port: 1111\nauto_accept: yes\n",
        );
        write(dir.path(), "master.d/10-ports.conf", "publish_port: 2222\n");
        let c = load::<MasterConfig>(dir.path()).expect("load").config;
        assert_eq!(c.publish_port, 2222);
        assert!(c.auto_accept);
        assert_eq!(
            c.pki_dir,
            PathBuf::from("/tmp/brine-root/etc/brine/pki/master")
        );
    }

    #[test]
    fn unknown_key_warns_and_wrong_type_names_key_and_file() {
        let dir = tempfile::tempdir().expect("tmp");
        write(dir.path(), "minion", "master: 127.0.0.1\nfrobnicate: 1\n");
        let loaded = load::<MinionConfig>(dir.path()).expect("load");
        assert_eq!(loaded.config.master, "127.0.0.1");
        assert_eq!(loaded.warnings.len(), 1);
        assert!(loaded.warnings[0].contains("frobnicate"));

        write(dir.path(), "minion.d/bad.conf", "master_port: not-a-port\n");
        let err = load::<MinionConfig>(dir.path())
            .expect_err("type error")
            .to_string();
        assert!(
            err.contains("master_port") && err.contains("bad.conf"),
            "{err}"
        );
    }

    #[test]
    fn minion_config_knows_its_dir_and_grains_keys() {
        let dir = tempfile::tempdir().expect("tmp");
        write(
            dir.path(),
            "minion",
            "grains_blacklist: [ipv6, 'ip*_interfaces']\ngrains_cache: True\nconfig_dir: /elsewhere\n",
        );
        let loaded = load::<MinionConfig>(dir.path()).expect("load");
        assert_eq!(loaded.config.config_dir, dir.path());
        assert_eq!(loaded.config.grains_blacklist, ["ipv6", "ip*_interfaces"]);
        assert!(loaded.config.grains_cache);
        assert_eq!(loaded.config.grains_cache_expiration, 300);
        assert!(
            loaded.warnings.iter().any(|w| w.contains("'config_dir'")),
            "config_dir is not a config key: {:?}",
            loaded.warnings
        );
    }

    /// Salt's `source_address`: an address, or a load error naming the key.
    /// `master` is an address or a list; entries may name their port;
    /// `master_type` takes Salt's words Brine serves.
    #[test]
    fn master_is_one_address_or_a_list_with_ports() {
        let dir = tempfile::tempdir().expect("tmp");
        write(
            dir.path(),
            "minion",
            "master:\n  - a.example\n  - b.example:4600\n  - '[::1]:4700'\n  - ::1\nmaster_type: failover\n",
        );
        let loaded = load::<MinionConfig>(dir.path()).expect("loads").config;
        assert_eq!(
            loaded.master.endpoints(4506),
            [
                ("a.example".to_string(), 4506),
                ("b.example".to_string(), 4600),
                ("::1".to_string(), 4700),
                ("::1".to_string(), 4506),
            ]
        );
        assert_eq!(loaded.master_type, MasterType::Failover);
        assert_eq!(
            serde_json::to_value(&loaded.master)
                .expect("json")
                .as_array()
                .map(Vec::len),
            Some(4)
        );
        write(dir.path(), "minion", "master: salt.example\n");
        let one = load::<MinionConfig>(dir.path()).expect("loads").config;
        assert_eq!(one.master, "salt.example");
        assert_eq!(
            serde_json::to_value(&one.master).expect("json"),
            "salt.example"
        );
        for (text, needle) in [
            ("master: []\n", "an empty list"),
            ("master_type: func\n", "master_type"),
        ] {
            write(dir.path(), "minion", text);
            let err = load::<MinionConfig>(dir.path())
                .expect_err(text)
                .to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn minion_source_address_is_an_ip_address() {
        let dir = tempfile::tempdir().expect("tmp");
        write(dir.path(), "minion", "source_address: 127.0.0.5\n");
        let loaded = load::<MinionConfig>(dir.path()).expect("load");
        assert_eq!(
            loaded.config.source_address,
            Some(std::net::IpAddr::from([127, 0, 0, 5]))
        );
        write(dir.path(), "minion", "source_address: eth0\n");
        let err = load::<MinionConfig>(dir.path())
            .expect_err("not an address")
            .to_string();
        assert!(err.contains("source_address"), "{err}");
    }

    /// `startup_states` takes Salt's words, with `sls_list` and `top_file`;
    /// another word is an error naming the file and the key.
    #[test]
    fn startup_states_takes_salts_words() {
        let dir = tempfile::tempdir().expect("tmp");
        write(
            dir.path(),
            "minion",
            "startup_states: sls\nsls_list: [web, db]\ntop_file: salt://other_top.sls\n",
        );
        let c = load::<MinionConfig>(dir.path()).expect("load").config;
        assert_eq!(c.startup_states, StartupStates::Sls);
        assert_eq!(c.sls_list, ["web", "db"]);
        assert_eq!(c.top_file, "salt://other_top.sls");
        write(dir.path(), "minion", "startup_states:\n");
        let c = load::<MinionConfig>(dir.path()).expect("load").config;
        assert_eq!(c.startup_states, StartupStates::None);
        write(dir.path(), "minion", "startup_states: highstate\n");
        let c = load::<MinionConfig>(dir.path()).expect("load").config;
        assert_eq!(c.startup_states, StartupStates::Highstate);
        write(dir.path(), "minion", "startup_states: everything\n");
        let err = load::<MinionConfig>(dir.path())
            .expect_err("unknown word")
            .to_string();
        assert!(
            err.contains("minion")
                && err.contains("'startup_states'")
                && err.contains("everything"),
            "{err}"
        );
    }

    /// The log keys: Salt's defaults, read from either config, a bad format
    /// or level an error naming the key and the file.
    #[test]
    fn log_keys_have_salt_defaults_and_are_checked() {
        let dir = tempfile::tempdir().expect("tmp");
        write(
            dir.path(),
            "master",
            "root_dir: /srv/x\nlog_fmt_logfile: '%(asctime)s %(message)s'\nlog_level_logfile: debug\n",
        );
        let loaded = load::<MasterConfig>(dir.path()).expect("load");
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let log = &loaded.config.log;
        assert_eq!(log.log_fmt_logfile.as_str(), "%(asctime)s %(message)s");
        assert_eq!(
            log.log_level_logfile.as_ref().map(|l| l.as_str()),
            Some("debug")
        );
        assert_eq!(
            log.log_fmt_console.as_str(),
            "[%(levelname)-8s] %(message)s"
        );
        assert_eq!(log.log_datefmt.as_str(), "%H:%M:%S");
        assert_eq!(log.log_datefmt_logfile.as_str(), "%Y-%m-%d %H:%M:%S");
        assert_eq!(
            loaded.config.log_file,
            Path::new("/srv/x/var/log/brine/master")
        );
        assert_eq!(
            loaded.config.api_logfile,
            Path::new("/srv/x/var/log/brine/api")
        );

        write(
            dir.path(),
            "minion.d/log.conf",
            "log_fmt_console: '[%(levelnme)s] %(message)s'\n",
        );
        let err = load::<MinionConfig>(dir.path())
            .expect_err("unknown placeholder")
            .to_string();
        assert!(
            err.contains("log.conf")
                && err.contains("'log_fmt_console'")
                && err.contains("levelnme"),
            "{err}"
        );
        write(dir.path(), "minion.d/log.conf", "log_level_logfile: loud\n");
        let err = load::<MinionConfig>(dir.path())
            .expect_err("bad level")
            .to_string();
        assert!(
            err.contains("'log_level_logfile'") && err.contains("loud"),
            "{err}"
        );
        write(dir.path(), "minion.d/log.conf", "log_datefmt: '%H:%!'\n");
        let err = load::<MinionConfig>(dir.path())
            .expect_err("bad datefmt")
            .to_string();
        assert!(err.contains("'log_datefmt'"), "{err}");
    }

    /// Keys the daemons and tools read (grep for the field, or for the key
    /// in `opts` for the pillar compiler and the state compiler). A key
    /// added to a config must be added here once something reads it, or to
    /// the config's `NO_EFFECT` list with why: else this test fails.
    /// The keys both configs have, read by both daemons.
    const SHARED_KEYS_WITH_EFFECT: &[&str] = &[
        "root_dir",
        "pki_dir",
        "cachedir",
        "sock_dir",
        "log_file",
        "log_level",
        "log_level_logfile",
        "log_fmt_console",
        "log_fmt_logfile",
        "log_datefmt",
        "log_datefmt_logfile",
        "state_output",
        "state_verbose",
        "state_output_profile",
        "state_output_diff",
        "state_output_pct",
        "state_output_exclude",
        "state_output_terse",
    ];
    const MASTER_KEYS_WITH_EFFECT: &[&str] = &[
        "api_logfile",
        "interface",
        "publish_port",
        "ret_port",
        "auto_accept",
        "autosign_file",
        "max_pending_keys",
        "keep_jobs_seconds",
        "timeout",
        "worker_threads",
        "max_message_size",
        "publish_window",
        "publish_recovery_seconds",
        "max_open_files",
        "cluster_store",
        "postgres",
        "presence_timeout",
        "file_roots",
        "pillar_roots",
        "nodegroups",
        "reactor",
        "schedule",
        "reactor_worker_threads",
        "reactor_worker_hwm",
        "presence_events",
        "loop_interval",
        "gitfs_remotes",
        "gitfs_base",
        "gitfs_update_interval",
        "gitfs_root",
        "gitfs_mountpoint",
        "gitfs_saltenv",
        "gitfs_saltenv_whitelist",
        "gitfs_saltenv_blacklist",
        "gitfs_ref_types",
        "gitfs_disable_saltenv_mapping",
        "gitfs_fallback",
        "git_pillar_base",
        "git_pillar_branch",
        "git_pillar_env",
        "git_pillar_root",
        "git_pillar_includes",
        "git_pillar_update_interval",
        "ext_pillar",
        "pillar_source_merging_strategy",
        "pillar_merge_lists",
        "pillarenv",
        "pillar_safe_render_error",
        "fileserver_backend",
        "publisher_acl",
        "publisher_acl_blacklist",
        "external_auth",
        "auth.pam.service",
        "rest_api",
        "token_expire",
        "color",
        "roster_file",
        "ssh_max_procs",
        "ssh_user",
        "ssh_port",
        "ssh_priv",
        "ssh_timeout",
        "ssh_sudo",
        "known_hosts_file",
        "ssh_options",
        "roster_defaults",
    ];
    const MINION_KEYS_WITH_EFFECT: &[&str] = &[
        "id",
        "master",
        "master_port",
        "master_type",
        "random_master",
        "publish_port",
        "source_address",
        "master_finger",
        "acceptance_wait_time",
        "acceptance_wait_time_max",
        "auth_timeout",
        "master_alive_interval",
        "job_heartbeat_interval",
        "job_ack_delay",
        "return_outbox_max_count",
        "return_outbox_max_bytes",
        "graceful_shutdown_timeout",
        "max_message_size",
        "grains",
        "grains_blacklist",
        "grains_cache",
        "grains_cache_expiration",
        "__cli",
        "file_client",
        "file_roots",
        "pillar_roots",
        "pillar_source_merging_strategy",
        "pillar_merge_lists",
        "pillarenv",
        "pillar_safe_render_error",
        "state_events",
        "failhard",
        "top_file_merging_strategy",
        "default_top",
        "env_order",
        "beacons",
        "schedule",
        "startup_states",
        "sls_list",
        "top_file",
        "color",
        "mine_functions",
        "mine_interval",
    ];

    /// Every key of a config (its serialised default) is read somewhere or
    /// warns that it has no effect; none is both.
    fn check_every_key_has_an_effect_or_warns<T: ConfigFile>(own_keys_with_effect: &[&str]) {
        let with_effect: Vec<&str> = [SHARED_KEYS_WITH_EFFECT, own_keys_with_effect].concat();
        let known = known_keys::<T>();
        for key in &known {
            let has_effect = with_effect.contains(&key.as_str());
            let warns = T::NO_EFFECT.iter().any(|(k, _)| k == key);
            assert!(
                has_effect != warns,
                "{} key '{key}': list it as read in this test, or in NO_EFFECT with why (not both)",
                T::NAME
            );
        }
        for key in with_effect
            .iter()
            .chain(T::NO_EFFECT.iter().map(|(k, _)| k))
        {
            assert!(
                known.contains(&key.to_string()),
                "{} has no key '{key}'",
                T::NAME
            );
        }
    }

    #[test]
    fn every_config_key_has_an_effect_or_a_warning() {
        check_every_key_has_an_effect_or_warns::<MasterConfig>(MASTER_KEYS_WITH_EFFECT);
        check_every_key_has_an_effect_or_warns::<MinionConfig>(MINION_KEYS_WITH_EFFECT);
    }

    /// A key without an effect that a file sets is a warning naming the file,
    /// the key and why; left unset, it says nothing.
    #[test]
    fn a_key_without_effect_warns_only_when_set() {
        let dir = tempfile::tempdir().expect("tmp");
        write(dir.path(), "minion", "multiprocessing: True\n");
        let loaded = load::<MinionConfig>(dir.path()).expect("load");
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        let warning = &loaded.warnings[0];
        assert!(
            warning.contains("minion: multiprocessing: ") && warning.contains("no effect"),
            "{warning}"
        );
        write(
            dir.path(),
            "master",
            "gather_job_timeout: 20\npublisher_acl:\n  fred: ['test.*']\n",
        );
        let loaded = load::<MasterConfig>(dir.path()).expect("load");
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].contains("master: gather_job_timeout: "));
        write(dir.path(), "master", "timeout: 20\n");
        assert!(
            load::<MasterConfig>(dir.path())
                .expect("load")
                .warnings
                .is_empty()
        );
    }

    /// The highstate outputter's keys as Salt reads them: a comma-separated
    /// string or a list of strings for the filter lists (a YAML boolean never
    /// matches Salt's `str(result)`, so it is dropped), in both configs.
    #[test]
    fn state_output_keys_are_read_as_salt_reads_them() {
        let dir = tempfile::tempdir().expect("tmp");
        write(
            dir.path(),
            "master",
            "state_output: filter\nstate_verbose: False\nstate_output_exclude: True,None\n\
             state_output_terse: ['False', True]\nstate_output_pct: True\n",
        );
        let master = load::<MasterConfig>(dir.path()).expect("load").config;
        assert_eq!(master.state_out.state_output, "filter");
        assert!(!master.state_out.state_verbose);
        assert!(master.state_out.state_output_pct);
        assert_eq!(master.state_out.state_output_exclude, ["True", "None"]);
        assert_eq!(master.state_out.state_output_terse, ["False"]);
        write(dir.path(), "minion", "state_output: terse\n");
        let minion = load::<MinionConfig>(dir.path()).expect("load").config;
        assert_eq!(minion.state_out.state_output, "terse");
        assert!(minion.state_out.state_verbose && minion.state_out.state_output_profile);
    }

    /// The commented defaults the packages ship (pkg/config) are real
    /// config: with every key uncommented, each file loads without an
    /// error or a warning (every key known, every value of its type).
    #[test]
    fn the_shipped_configs_load_with_every_key_uncommented() {
        let pkg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pkg/config");
        let uncomment = |name: &str| -> String {
            let text = std::fs::read_to_string(pkg.join(name)).expect("shipped config");
            text.lines()
                .map(|line| {
                    // `#key: value` and its indented continuation lines are
                    // YAML; `# words` is prose.
                    let yaml = line.strip_prefix('#').filter(|rest| {
                        rest.starts_with("  ")
                            || rest.starts_with(|c: char| c.is_ascii_alphabetic())
                    });
                    let yaml = yaml.map(|rest| rest.split("  # ").next().unwrap_or(rest));
                    format!("{}\n", yaml.unwrap_or(""))
                })
                .collect()
        };
        let dir = tempfile::tempdir().expect("tmp");
        for name in ["master", "minion"] {
            write(dir.path(), name, &uncomment(name));
        }
        let master = load::<MasterConfig>(dir.path()).expect("master loads");
        let minion = load::<MinionConfig>(dir.path()).expect("minion loads");
        let no_effect = |w: &String| w.contains("no effect");
        let master_warnings: Vec<&String> =
            master.warnings.iter().filter(|w| !no_effect(w)).collect();
        let minion_warnings: Vec<&String> =
            minion.warnings.iter().filter(|w| !no_effect(w)).collect();
        assert!(master_warnings.is_empty(), "{master_warnings:?}");
        assert!(minion_warnings.is_empty(), "{minion_warnings:?}");
        assert_eq!(master.config.publisher_acl.len(), 1);
        assert!(master.config.state_out.state_verbose);
    }
}
