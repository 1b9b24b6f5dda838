//! Grains: what the minion knows about itself, with Salt's names and value
//! shapes (`salt/grains/core.py`).
//!
//! Collected at start and on `saltutil.refresh_grains` (or a `grains.*`
//! writer). Three layers, later ones winning, as in Salt:
//!
//! 1. detected grains (this module's submodules: OS, host, network), which
//!    `grains_cache: True` keeps in `cachedir/grains.cache.json` for
//!    `grains_cache_expiration` seconds;
//! 2. the `grains` file beside the minion config (YAML, written by
//!    `grains.setval` and friends);
//! 3. `grains:` in the minion config.
//!
//! `grains_blacklist` (globs over grain names) removes grains of the first two
//! layers; what the config sets explicitly is kept. Detection only reads files
//! and asks the kernel (no commands, no DNS), and takes about a millisecond.

mod host;
mod net;
mod os;
mod store;

pub use store::GrainStore;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use brine_common::config::MinionConfig;
use brine_common::ids::MinionId;
use brine_common::target::Fnmatch;
use serde_json::{Map, Value, json};

/// The cache file under `cachedir` (Salt's is `grains.cache.p`).
const CACHE_FILE: &str = "grains.cache.json";

#[derive(Debug, thiserror::Error)]
pub enum GrainsFileError {
    #[error("cannot read the grains file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the grains file {path} is not valid YAML: {message}")]
    Yaml { path: String, message: String },
    #[error("the grains file {path} must hold a mapping of grain names to values")]
    NotAMapping { path: String },
    #[error("cannot write the grains file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// The minion's grains, reusing cached detection when `grains_cache` allows.
pub fn collect(config: &MinionConfig, id: &MinionId) -> Map<String, Value> {
    let detected = match cached_detection(config) {
        Some(d) => d,
        None => detect_and_cache(config),
    };
    assemble(config, id, detected)
}

/// The minion's grains with detection run afresh (Salt's `refresh_grains`).
pub fn refresh(config: &MinionConfig, id: &MinionId) -> Map<String, Value> {
    assemble(config, id, detect_and_cache(config))
}

/// Where `grains.setval` and friends keep their grains: `grains` beside the
/// minion config.
pub fn grains_file(config: &MinionConfig) -> PathBuf {
    config.config_dir.join("grains")
}

/// The grains file's mapping (empty when the file does not exist).
pub fn read_grains_file(path: &Path) -> Result<Map<String, Value>, GrainsFileError> {
    let shown = || path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
        Err(source) => {
            return Err(GrainsFileError::Read {
                path: shown(),
                source,
            });
        }
    };
    match brine_common::yaml::load(&text, &shown()) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err(GrainsFileError::NotAMapping { path: shown() }),
        Err(e) => Err(GrainsFileError::Yaml {
            path: shown(),
            message: e.to_string(),
        }),
    }
}

/// Replace the grains file with `grains` (block YAML, as Salt writes it),
/// atomically: a reader never sees half a file.
pub fn write_grains_file(path: &Path, grains: &Map<String, Value>) -> Result<(), GrainsFileError> {
    let error = |source| GrainsFileError::Write {
        path: path.display().to_string(),
        source,
    };
    let text = brine_common::yaml::dump_block(&Value::Object(grains.clone()));
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(error)?;
    std::fs::rename(&tmp, path).map_err(error)
}

/// Lay the grains file and the config's grains over the detected ones.
fn assemble(
    config: &MinionConfig,
    id: &MinionId,
    mut grains: Map<String, Value>,
) -> Map<String, Value> {
    grains.insert("id".into(), json!(id.as_str()));
    grains.insert("server_id".into(), json!(host::server_id(id.as_str())));
    grains.insert("master".into(), json!(config.master));
    grains.insert("brineversion".into(), json!(env!("CARGO_PKG_VERSION")));
    match read_grains_file(&grains_file(config)) {
        Ok(from_file) => grains.extend(from_file),
        Err(e) => tracing::warn!("{e}; its grains are left out"),
    }
    remove_blacklisted(&mut grains, &config.grains_blacklist);
    for (k, v) in &config.grains {
        grains.insert(k.clone(), v.clone());
    }
    grains.sort_keys();
    grains
}

/// Drop grains whose names match a `grains_blacklist` glob.
fn remove_blacklisted(grains: &mut Map<String, Value>, blacklist: &[String]) {
    let globs: Vec<Fnmatch> = blacklist
        .iter()
        .filter_map(|pattern| match Fnmatch::new(pattern) {
            Ok(g) => Some(g),
            Err(e) => {
                tracing::warn!("grains_blacklist: {e}");
                None
            }
        })
        .collect();
    if !globs.is_empty() {
        grains.retain(|name, _| !globs.iter().any(|g| g.is_match(name)));
    }
}

/// Every grain this host reports, independent of the minion's id and config.
pub fn detect() -> Map<String, Value> {
    let mut grains = Map::new();
    os::kernel(&mut grains);
    os::distribution(&mut grains);
    let family = grains
        .get("os_family")
        .and_then(Value::as_str)
        .unwrap_or("");
    let cpuarch = grains.get("cpuarch").and_then(Value::as_str).unwrap_or("");
    let osarch = os::osarch(family, cpuarch);
    grains.insert("osarch".into(), json!(osarch));
    grains.insert("init".into(), json!(os::init_system()));
    grains.insert("ps".into(), json!("ps -efHww"));

    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    grains.extend(host::cpu_grains(&cpuinfo));
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    grains.extend(host::memory_grains(&meminfo));
    grains.extend(host::hardware_grains());
    grains.extend(host::virtual_grains(&host::VirtualEvidence::gather(
        &cpuinfo,
    )));
    names_and_addresses(&mut grains);
    if let Some(id) = host::machine_id() {
        grains.insert("machine_id".into(), json!(id));
    }
    grains.extend(host::process_grains());
    let env = |k: &str| std::env::var(k).ok();
    grains.extend(host::environment_grains(env));
    grains.insert("locale_info".into(), host::locale_info(env));
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    grains.insert("kernelparams".into(), host::kernel_params(&cmdline));
    grains
}

/// Host names, interface addresses, `fqdn_ip4`/`fqdn_ip6` and `dns`.
fn names_and_addresses(grains: &mut Map<String, Value>) {
    let hostname = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "localhost".into());
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let names = host::name_grains(&hostname, &hosts);
    let fqdn = names
        .get("fqdn")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    grains.extend(names);
    grains.extend(net::interface_grains(&net::interfaces()));
    let (v4, v6) = host::hosts_addresses(&fqdn, &hosts);
    grains.insert("fqdn_ip4".into(), json!(v4));
    grains.insert("fqdn_ip6".into(), json!(v6));
    if let Some(dns) = net::dns() {
        grains.insert("dns".into(), dns);
    }
}

fn cache_path(config: &MinionConfig) -> PathBuf {
    config.cachedir.join(CACHE_FILE)
}

/// The cached detection, if `grains_cache` is on and the cache is fresh.
fn cached_detection(config: &MinionConfig) -> Option<Map<String, Value>> {
    if !config.grains_cache {
        return None;
    }
    let path = cache_path(config);
    let age = SystemTime::now()
        .duration_since(std::fs::metadata(&path).ok()?.modified().ok()?)
        .unwrap_or_default();
    if age > Duration::from_secs(config.grains_cache_expiration) {
        return None;
    }
    match serde_json::from_slice::<Value>(&std::fs::read(&path).ok()?) {
        Ok(Value::Object(map)) => Some(map),
        _ => {
            tracing::warn!("ignoring the unreadable grains cache {}", path.display());
            None
        }
    }
}

fn detect_and_cache(config: &MinionConfig) -> Map<String, Value> {
    let detected = detect();
    if config.grains_cache {
        let path = cache_path(config);
        let written = std::fs::create_dir_all(&config.cachedir)
            .and_then(|()| std::fs::write(&path, Value::Object(detected.clone()).to_string()));
        if let Err(e) = written {
            tracing::warn!("cannot write the grains cache {}: {e}", path.display());
        }
    }
    detected
}

/// A small file's contents without surrounding whitespace.
fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn config(dir: &Path) -> MinionConfig {
        MinionConfig {
            config_dir: dir.to_path_buf(),
            cachedir: dir.join("cache"),
            ..MinionConfig::default()
        }
    }

    fn id() -> MinionId {
        MinionId::parse("m1").expect("id")
    }

    #[test]
    fn detected_grains_have_salts_names_and_shapes() {
        let dir = tempfile::tempdir().expect("tmp");
        let g = collect(&config(dir.path()), &id());
        for name in [
            "id",
            "os",
            "os_family",
            "osrelease",
            "oscodename",
            "osfullname",
            "osarch",
            "kernel",
            "kernelrelease",
            "cpuarch",
            "cpu_model",
            "num_cpus",
            "mem_total",
            "host",
            "fqdn",
            "domain",
            "nodename",
            "ipv4",
            "ipv6",
            "ip_interfaces",
            "hwaddr_interfaces",
            "virtual",
            "init",
            "shell",
            "path",
            "uid",
            "gid",
            "username",
            "locale_info",
            "brineversion",
        ] {
            assert!(g.contains_key(name), "missing grain {name}");
        }
        assert_eq!(g["id"], "m1");
        assert_eq!(g["kernel"], "Linux");
        assert!(g["num_cpus"].as_u64().is_some_and(|n| n >= 1));
        assert!(g["mem_total"].is_u64());
        assert!(
            g["ipv4"]
                .as_array()
                .is_some_and(|a| a.contains(&json!("127.0.0.1")))
        );
        assert!(g["uid"].is_u64() && g["ip_interfaces"].is_object());
        if g["osrelease"]
            .as_str()
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        {
            assert!(g["osmajorrelease"].is_u64(), "osmajorrelease is an int");
        }
    }

    #[test]
    fn detection_is_fast() {
        detect();
        let start = Instant::now();
        let runs = 20;
        for _ in 0..runs {
            detect();
        }
        let each = start.elapsed() / runs;
        assert!(
            each < Duration::from_millis(50),
            "grain detection took {each:?}"
        );
    }

    #[test]
    fn file_and_config_grains_win_and_blacklist_removes() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join("grains"),
            "role: db\nos: FromFile\nipv6: []\n",
        )
        .expect("write");
        let mut c = config(dir.path());
        c.grains = json!({"role": "web"}).as_object().cloned().expect("map");
        c.grains_blacklist = vec!["ip?_interfaces".into(), "ipv6".into(), "role".into()];
        let g = collect(&c, &id());
        assert_eq!(g["role"], "web", "the config wins and is not blacklisted");
        assert_eq!(g["os"], "FromFile", "the grains file beats detection");
        assert!(!g.contains_key("ip4_interfaces") && !g.contains_key("ipv6"));
        assert!(g.contains_key("ip_interfaces"));
    }

    #[test]
    fn grains_file_round_trip() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("grains");
        assert!(
            read_grains_file(&path)
                .expect("missing is empty")
                .is_empty()
        );
        let grains = json!({"a": {"b": [1, "two"]}, "yes": "yes"})
            .as_object()
            .cloned()
            .expect("map");
        write_grains_file(&path, &grains).expect("write");
        assert_eq!(read_grains_file(&path).expect("read"), grains);
        std::fs::write(&path, "- a list\n").expect("write");
        assert!(matches!(
            read_grains_file(&path),
            Err(GrainsFileError::NotAMapping { .. })
        ));
    }

    #[test]
    fn the_cache_is_used_while_fresh() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut c = config(dir.path());
        c.grains_cache = true;
        collect(&c, &id());
        let cached = cache_path(&c);
        let mut stale: Map<String, Value> =
            serde_json::from_slice(&std::fs::read(&cached).expect("cache written")).expect("json");
        stale.insert("os".into(), json!("Cached"));
        std::fs::write(&cached, Value::Object(stale.clone()).to_string()).expect("write");
        assert_eq!(collect(&c, &id())["os"], "Cached");
        assert_ne!(refresh(&c, &id())["os"], "Cached", "refresh detects afresh");
        std::fs::write(&cached, Value::Object(stale).to_string()).expect("write");
        c.grains_cache_expiration = 0;
        std::thread::sleep(Duration::from_millis(20));
        assert_ne!(
            collect(&c, &id())["os"],
            "Cached",
            "an expired cache is ignored"
        );
    }
}
