//! `brine-ssh`: Brine on hosts without a minion, over the system OpenSSH
//! client (DESIGN.md, "Agentless").
//!
//! The roster (Salt's flat format, `roster`) names the hosts; a target picks
//! some by id; each is reached with `ssh` (the user's ssh config, agent and
//! known_hosts; connections multiplexed), `brine-call` is copied into the
//! host's `thin_dir` once per version (checked by its SHA-256), and the
//! function runs there as `brine-call --local`, its JSON return read back
//! (`session`). At most `--max-procs` hosts are handled at once.

pub mod bootstrap;
pub mod command;
pub mod roster;
pub mod serve;
pub mod session;

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use brine_common::config::MasterConfig;
use brine_states::render::{SlsSource, render_data};
use serde_json::Map;
use tokio::sync::{Semaphore, mpsc};

use crate::fileserver::FileServer;
use crate::reactor::render::ReactorHost;
use roster::Entry;
use session::HostReturn;

/// What went wrong before any host was reached.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("cannot read the roster {path}: {source}")]
    ReadRoster {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot render the roster {path}: {message}")]
    RenderRoster { path: PathBuf, message: String },
    #[error("roster {path}: {source}")]
    Roster {
        path: PathBuf,
        source: roster::RosterError,
    },
    #[error("the binary to copy to hosts: {path}: {source}")]
    Thin {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("ssh's control directory {path}: {problem}")]
    ControlDir { path: PathBuf, problem: String },
}

/// The roster file: `roster_file`, else `roster` in the config directory.
pub fn roster_path(config: &MasterConfig, config_dir: &Path) -> PathBuf {
    config
        .ssh
        .roster_file
        .clone()
        .unwrap_or_else(|| config_dir.join("roster"))
}

/// Reads and renders the roster (Salt renders it as a template: `jinja|yaml`
/// unless its first line names another pipeline), then checks every entry.
pub fn load_roster(config: &MasterConfig, path: &Path) -> Result<Vec<Entry>, SshError> {
    let text = std::fs::read_to_string(path).map_err(|source| SshError::ReadRoster {
        path: path.to_owned(),
        source,
    })?;
    let host = ReactorHost::new(
        Arc::new(FileServer::from_config(config)),
        Arc::default(),
        Map::new(),
    );
    let name = path.display().to_string();
    let source = SlsSource {
        saltenv: "base",
        sls: "",
        path: &name,
    };
    let rendered =
        render_data(&host, &source, &text, &Map::new()).map_err(|e| SshError::RenderRoster {
            path: path.to_owned(),
            message: e.message,
        })?;
    roster::entries(&rendered, &config.ssh).map_err(|source| SshError::Roster {
        path: path.to_owned(),
        source,
    })
}

/// A binary copied to hosts (`brine-call`, or `brine-minion` for
/// `--bootstrap`) and its SHA-256: a copy of `path` (the one installed
/// beside `brine-ssh`) without debug sections, made once with
/// binutils' `strip` under `cachedir/ssh/thin` and kept by the source's size
/// and modification time (a release build is 108 MB with its line tables,
/// 20 MB without: every host gets a copy); `path` itself where `strip` is
/// missing or fails.
pub fn thin_binary(path: &Path, cachedir: &Path) -> Result<(PathBuf, String), SshError> {
    let error = |source| SshError::Thin {
        path: path.to_owned(),
        source,
    };
    let path = std::fs::canonicalize(path).map_err(error)?;
    let meta = std::fs::metadata(&path).map_err(error)?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let source_key = id_key(&format!("{}\0{}\0{modified}", path.display(), meta.len()));
    let dir = cachedir.join("ssh").join("thin");
    let name = path
        .file_name()
        .map_or_else(|| "binary".into(), |n| n.to_string_lossy());
    let stripped = dir.join(format!("{name}-{source_key}"));
    let recorded = dir.join(format!("{name}-{source_key}.sha256"));
    if let Ok(hash) = std::fs::read_to_string(&recorded)
        && stripped.is_file()
    {
        return Ok((stripped, hash.trim().to_owned()));
    }
    let shipped = match strip_copy(&path, &dir, &stripped) {
        Ok(()) => stripped,
        Err(reason) => {
            tracing::info!("shipping {} as it is: {reason}", path.display());
            path.clone()
        }
    };
    let hash = brine_common::fileroots::sha256_file(&shipped).map_err(error)?;
    if shipped != path {
        // Whole or not at all: a torn record would name a wrong hash, and
        // every host would be sent the binary again and refuse it.
        if let Err(e) = brine_common::crypto::write_file(&recorded, hash.as_bytes(), 0o644) {
            tracing::info!("cannot record {}: {e}", recorded.display());
        }
    }
    Ok((shipped, hash))
}

/// `strip --strip-debug -o <to> <from>`, into a part file first.
fn strip_copy(from: &Path, dir: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let part = to.with_extension(format!("part.{}", std::process::id()));
    let status = std::process::Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&part)
        .arg(from)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("strip: {e}"))?;
    if !status.success() {
        let _ = std::fs::remove_file(&part);
        return Err(format!("strip failed ({status})"));
    }
    std::fs::rename(&part, to).map_err(|e| format!("{}: {e}", to.display()))
}

/// The directory of ssh's multiplexing sockets: `/tmp/brine-ssh-<uid>`,
/// 0700 and this user's (a socket path must stay under ~100 bytes, so not
/// under a long cachedir). Another user's or a group-writable one is refused:
/// whoever can write there could put a socket of theirs in our path.
pub fn control_dir() -> Result<PathBuf, SshError> {
    let uid = nix::unistd::getuid().as_raw();
    let path = PathBuf::from(format!("/tmp/brine-ssh-{uid}"));
    let problem = |problem: String| SshError::ControlDir {
        path: path.clone(),
        problem,
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(problem(e.to_string())),
    }
    let meta = std::fs::symlink_metadata(&path).map_err(|e| problem(e.to_string()))?;
    if !meta.is_dir() || meta.uid() != uid || meta.permissions().mode() & 0o077 != 0 {
        return Err(problem(
            "not a directory of this user with mode 0700".to_string(),
        ));
    }
    Ok(path)
}

/// Runs `work` for every entry, at most `max_procs` at once; each result is
/// sent as soon as it is there.
pub fn run_each<F, Fut>(
    entries: Vec<Entry>,
    max_procs: usize,
    work: F,
) -> mpsc::UnboundedReceiver<(String, HostReturn)>
where
    F: Fn(Entry) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = HostReturn> + Send + 'static,
{
    let (sender, receiver) = mpsc::unbounded_channel();
    let slots = Arc::new(Semaphore::new(max_procs.max(1)));
    let work = Arc::new(work);
    for entry in entries {
        let (sender, slots, work) = (sender.clone(), slots.clone(), work.clone());
        tokio::spawn(async move {
            let Ok(_slot) = slots.acquire_owned().await else {
                return;
            };
            let id = entry.id.clone();
            let ret = work(entry).await;
            let _ = sender.send((id, ret));
        });
    }
    receiver
}

/// A roster id as a file name (on the host under `thin_dir/ids`, here in
/// the grains cache): a hash, since an id may hold any character.
pub fn id_key(id: &str) -> String {
    brine_common::fileroots::sha256_hex(id.as_bytes())[..16].to_owned()
}

/// Where the grains each host last sent are kept, for grain targets.
pub fn grains_dir(config: &MasterConfig) -> PathBuf {
    config.cachedir.join("ssh").join("grains")
}

/// The grains host `id` last sent, if it ever did.
pub fn cached_grains(dir: &Path, id: &str) -> Option<Map<String, serde_json::Value>> {
    let text = std::fs::read_to_string(dir.join(format!("{}.json", id_key(id)))).ok()?;
    let mut saved: Map<String, serde_json::Value> = serde_json::from_str(&text).ok()?;
    // The id is kept beside the grains: a hash prefix could collide.
    if saved.get("id").and_then(serde_json::Value::as_str) != Some(id) {
        return None;
    }
    match saved.remove("grains") {
        Some(serde_json::Value::Object(grains)) => Some(grains),
        _ => None,
    }
}

/// Keeps the grains host `id` sent (written whole or not at all).
pub fn save_grains(
    dir: &Path,
    id: &str,
    grains: &Map<String, serde_json::Value>,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}.json", id_key(id)));
    let part = dir.join(format!(".{}.{}.part", id_key(id), std::process::id()));
    let record = serde_json::json!({"id": id, "grains": grains});
    std::fs::write(&part, record.to_string())?;
    std::fs::rename(&part, &path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kept_grains_come_back_for_their_own_id_only() {
        let dir = tempfile::tempdir().expect("dir");
        let grains = json!({"os": "Debian", "role": "web"});
        let grains = grains.as_object().expect("map");
        save_grains(dir.path(), "web/1", grains).expect("save");
        assert_eq!(cached_grains(dir.path(), "web/1").as_ref(), Some(grains));
        assert_eq!(cached_grains(dir.path(), "web2"), None);
        // A file under web/1's name that says it is someone else's is not used.
        let path = dir.path().join(format!("{}.json", id_key("web/1")));
        std::fs::write(&path, json!({"id": "other", "grains": {}}).to_string()).expect("write");
        assert_eq!(cached_grains(dir.path(), "web/1"), None);
    }
}
