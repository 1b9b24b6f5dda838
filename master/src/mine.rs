//! The Salt mine on the master: what each minion's `mine_functions` last
//! returned, kept in memory and written through to `cachedir/mine/<id>.json`
//! so it survives a restart, or, for masters sharing a cluster store, to
//! `brine_mine` there, each change notified so the other masters read it
//! again ([`MineStore::reload`]).
//!
//! Minions store data only as themselves (`Request::MineSend` carries no id);
//! `mine.get` is answered here by matching the target over the master's
//! cached grains and pillar, as Salt's `_mine_get` does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use brine_common::target::{MinionFacts, Target, TargetType};
use brine_common::wire::TargetSpec;
use serde_json::{Map, Value};

use crate::minion_data::MinionData;

/// Mine data per minion: `{id: {function_or_alias: data}}`.
pub struct MineStore {
    by_id: RwLock<HashMap<String, Map<String, Value>>>,
    persist: Persist,
}

/// Where each minion's mine data is kept besides memory.
enum Persist {
    Memory,
    Files(PathBuf),
    Cluster(cluster::ClusterMine),
}

impl MineStore {
    /// A store kept in memory only (tests).
    pub fn in_memory() -> Self {
        MineStore {
            by_id: RwLock::default(),
            persist: Persist::Memory,
        }
    }

    /// The store persisted under `dir`, with everything already there.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut by_id = HashMap::new();
        for entry in std::fs::read_dir(dir)?.flatten() {
            let path = entry.path();
            let Some(id) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            match read_entry(&path) {
                Some(data) => {
                    by_id.insert(id.to_string(), data);
                }
                None => tracing::warn!("ignoring unreadable mine data {}", path.display()),
            }
        }
        Ok(MineStore {
            by_id: RwLock::new(by_id),
            persist: Persist::Files(dir.to_path_buf()),
        })
    }

    /// The store in the cluster store, with everything already there;
    /// `origin` names this master in the change notifications.
    pub fn open_cluster(
        store: Arc<crate::cluster_store::Cluster>,
        origin: i64,
    ) -> Result<Self, crate::cluster_store::ClusterError> {
        let mine = cluster::ClusterMine::start(store, origin);
        Ok(MineStore {
            by_id: RwLock::new(mine.load_all()?),
            persist: Persist::Cluster(mine),
        })
    }

    /// Read every minion's mine again from the cluster store (changes may
    /// have been missed while its notifications were not heard).
    pub async fn reload_all(&self) {
        let Persist::Cluster(mine) = &self.persist else {
            return;
        };
        match mine.read_all().await {
            Ok(all) => *self.write() = all,
            Err(e) => tracing::warn!("cannot read the mine again: {e}"),
        }
    }

    /// Read `id`'s mine again from the cluster store, where another master
    /// changed it (nothing to do for a store of this master's own).
    pub async fn reload(&self, id: &str) {
        let Persist::Cluster(mine) = &self.persist else {
            return;
        };
        match mine.read(id).await {
            Ok(Some(data)) => {
                self.write().insert(id.to_string(), data);
            }
            Ok(None) => {
                self.write().remove(id);
            }
            Err(e) => tracing::warn!("cannot read the mine of {id} again: {e}"),
        }
    }

    /// Merge `data` into `id`'s mine (replace it all with `clear`).
    pub fn send(&self, id: &str, data: Map<String, Value>, clear: bool) {
        let mut all = self.write();
        let mine = all.entry(id.to_string()).or_default();
        if clear {
            mine.clear();
        }
        mine.extend(data);
        self.persist(id, mine);
    }

    /// Forget one function of `id`'s mine, or all of it (`None`).
    pub fn delete(&self, id: &str, fun: Option<&str>) {
        let mut all = self.write();
        match fun {
            Some(fun) => {
                if let Some(mine) = all.get_mut(id) {
                    mine.remove(fun);
                    self.persist(id, mine);
                }
            }
            None => {
                all.remove(id);
                self.persist(id, &Map::new());
            }
        }
    }

    /// Forget a minion whose key was deleted.
    pub fn remove_minion(&self, id: &str) {
        self.delete(id, None);
    }

    /// `id`'s whole mine (for `cache.mine`).
    pub fn of(&self, id: &str) -> Option<Map<String, Value>> {
        self.read().get(id).cloned()
    }

    /// Every minion with mine data, sorted.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.read().keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Salt's `mine.get`: `{minion: data}` for one function, or
    /// `{fun: {minion: data}}` when `fun` is a list (or a comma-separated
    /// string), over the minions `tgt` matches. Data stored with
    /// `allow_tgt` is given only to a `requester` that target matches.
    pub fn get(
        &self,
        minion_data: &MinionData,
        requester: &str,
        tgt: &Value,
        tgt_type: TargetType,
        fun: &Value,
    ) -> Result<Map<String, Value>, String> {
        let spec = TargetSpec {
            tgt: tgt.clone(),
            tgt_type,
        };
        let target = Target::compile(&spec).map_err(|e| e.to_string())?;
        let matched = self.matching(minion_data, &target);
        let (funs, several) = function_list(fun);
        let pick = |f: &str| -> Map<String, Value> {
            matched
                .iter()
                .filter_map(|(id, mine)| {
                    let data = readable(minion_data, requester, mine.get(f)?)?;
                    Some((id.clone(), data))
                })
                .collect()
        };
        if !several {
            return Ok(funs.first().map(|f| pick(f)).unwrap_or_default());
        }
        Ok(funs
            .iter()
            .map(|f| (f.clone(), Value::Object(pick(f))))
            .collect())
    }

    /// The mines of the minions `target` matches (unknown facts do not match).
    fn matching(
        &self,
        minion_data: &MinionData,
        target: &Target,
    ) -> Vec<(String, Map<String, Value>)> {
        let needs = target.data_needs();
        let mut out: Vec<(String, Map<String, Value>)> = self
            .read()
            .iter()
            .filter(|(id, _)| {
                let data = minion_data.facts(id, &needs);
                let facts = MinionFacts::from_cache(id, data.as_ref());
                target.evaluate(&facts).unwrap_or(false)
            })
            .map(|(id, mine)| (id.clone(), mine.clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn persist(&self, id: &str, mine: &Map<String, Value>) {
        let dir = match &self.persist {
            Persist::Memory => return,
            Persist::Cluster(cluster) => return cluster.queue(id, mine),
            Persist::Files(dir) => dir,
        };
        let path = dir.join(format!("{id}.json"));
        let result = if mine.is_empty() {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        } else {
            write_entry(&path, mine)
        };
        if let Err(e) = result {
            tracing::warn!("cannot persist mine data of {id}: {e}");
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Map<String, Value>>> {
        self.by_id.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Map<String, Value>>> {
        self.by_id.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// Stored mine data as `requester` may see it: plain data as is; data
/// wrapped with an `allow_tgt` ACL (Salt's `__data__`/`__allow_tgt__`)
/// unwrapped if the target matches the requester, else nothing.
fn readable(minion_data: &MinionData, requester: &str, stored: &Value) -> Option<Value> {
    let Some(data) = stored.get("__data__") else {
        return Some(stored.clone());
    };
    let Some(allow_tgt) = stored.get("__allow_tgt__") else {
        return Some(data.clone());
    };
    let allow_tgt_type = stored
        .get("__allow_tgt_type__")
        .and_then(Value::as_str)
        .unwrap_or("glob");
    let spec = TargetSpec {
        tgt: allow_tgt.clone(),
        tgt_type: TargetType::parse(allow_tgt_type).ok()?,
    };
    let target = Target::compile(&spec).ok()?;
    let cached = minion_data.facts(requester, &target.data_needs());
    let facts = MinionFacts::from_cache(requester, cached.as_ref());
    target
        .evaluate(&facts)
        .unwrap_or(false)
        .then(|| data.clone())
}

/// The functions `mine.get` asks for, and whether several were asked for
/// (which changes the shape of the answer).
fn function_list(fun: &Value) -> (Vec<String>, bool) {
    match fun {
        Value::Array(items) => (
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            true,
        ),
        Value::String(s) if s.contains(',') => (
            s.split(',')
                .map(|f| f.trim().to_string())
                .filter(|f| !f.is_empty())
                .collect(),
            true,
        ),
        Value::String(s) => (vec![s.clone()], false),
        _ => (Vec::new(), false),
    }
}

fn read_entry(path: &Path) -> Option<Map<String, Value>> {
    let text = std::fs::read(path).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Write atomically: a temp file renamed over the old one.
fn write_entry(path: &Path, mine: &Map<String, Value>) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec(mine).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// The mine in the cluster store: `brine_mine`, a row per minion.
mod cluster {
    use std::collections::HashMap;
    use std::sync::Arc;

    use serde_json::{Map, Value};
    use tokio::sync::mpsc;

    use crate::cluster_store::{Cluster, ClusterError, Shared};

    /// The notification channel (`<origin> <id>`).
    pub const CHANNEL: &str = "brine_mine";

    const ALL: &str = "SELECT minion, data FROM brine_mine";

    fn by_minion(rows: &[tokio_postgres::Row]) -> HashMap<String, Map<String, Value>> {
        rows.iter()
            .filter_map(|row| {
                let data = serde_json::from_slice(row.get::<_, &[u8]>(1)).ok()?;
                Some((row.get::<_, String>(0), data))
            })
            .collect()
    }

    /// Writes go, in order, through a task on the store's runtime, so
    /// storing never waits on the database.
    pub struct ClusterMine {
        cluster: Arc<Cluster>,
        reads: Arc<Shared>,
        writes: mpsc::UnboundedSender<(String, Option<Vec<u8>>)>,
    }

    impl ClusterMine {
        pub fn start(cluster: Arc<Cluster>, origin: i64) -> ClusterMine {
            let (writes, pending) = mpsc::unbounded_channel();
            let writer = Shared::new(cluster.clone());
            cluster.spawn(write_in_order(writer, pending, origin));
            ClusterMine {
                reads: Shared::new(cluster.clone()),
                cluster,
                writes,
            }
        }

        /// Every minion's mine (at start, from a blocking thread).
        pub fn load_all(&self) -> Result<HashMap<String, Map<String, Value>>, ClusterError> {
            let rows = self.reads.block("the mine's load", |client| async move {
                client
                    .query(ALL, &[])
                    .await
                    .map_err(ClusterError::query("the mine's load"))
            })?;
            Ok(by_minion(&rows))
        }

        /// Every minion's mine, from async code.
        pub async fn read_all(&self) -> Result<HashMap<String, Map<String, Value>>, ClusterError> {
            let reads = self.reads.clone();
            let rows = self
                .cluster
                .run("the mine's load", async move {
                    let client = reads.client().await?;
                    client
                        .query(ALL, &[])
                        .await
                        .map_err(ClusterError::query("the mine's load"))
                })
                .await?;
            Ok(by_minion(&rows))
        }

        /// One minion's mine.
        pub async fn read(&self, id: &str) -> Result<Option<Map<String, Value>>, ClusterError> {
            let (reads, id) = (self.reads.clone(), id.to_string());
            let row = self
                .cluster
                .run("a mine read", async move {
                    let client = reads.client().await?;
                    client
                        .query_opt("SELECT data FROM brine_mine WHERE minion = $1", &[&id])
                        .await
                        .map_err(ClusterError::query("a mine read"))
                })
                .await?;
            Ok(row.and_then(|row| serde_json::from_slice(row.get::<_, &[u8]>(0)).ok()))
        }

        /// Store `id`'s mine (an empty one deletes it) after the writes queued before.
        pub fn queue(&self, id: &str, mine: &Map<String, Value>) {
            let data = (!mine.is_empty())
                .then(|| serde_json::to_vec(mine).ok())
                .flatten();
            let _ = self.writes.send((id.to_string(), data));
        }
    }

    async fn write_in_order(
        writer: Arc<Shared>,
        mut pending: mpsc::UnboundedReceiver<(String, Option<Vec<u8>>)>,
        origin: i64,
    ) {
        while let Some((id, data)) = pending.recv().await {
            let written = async {
                let client = writer.client().await?;
                let what = "a mine write";
                match &data {
                    Some(bytes) => client
                        .execute(
                            "INSERT INTO brine_mine (minion, data) VALUES ($1, $2) \
                             ON CONFLICT (minion) DO UPDATE SET data = excluded.data",
                            &[&id, bytes],
                        )
                        .await
                        .map_err(ClusterError::query(what))?,
                    None => client
                        .execute("DELETE FROM brine_mine WHERE minion = $1", &[&id])
                        .await
                        .map_err(ClusterError::query(what))?,
                };
                let note = format!("{origin} {id}");
                client
                    .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &note])
                    .await
                    .map_err(ClusterError::query(what))?;
                Ok::<(), ClusterError>(())
            };
            if let Err(e) = written.await {
                tracing::warn!("cannot store the mine of {id}: {e}");
            }
        }
    }
}

pub use cluster::CHANNEL as MINE_CHANNEL;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn get_matches_the_target_and_picks_the_function() {
        let store = MineStore::in_memory();
        store.send(
            "web1",
            map(json!({"network.ip_addrs": ["10.0.0.1"]})),
            false,
        );
        store.send("db1", map(json!({"network.ip_addrs": ["10.0.0.2"]})), false);
        let data = MinionData::default();
        let got = store
            .get(
                &data,
                "app1",
                &json!("web*"),
                TargetType::Glob,
                &json!("network.ip_addrs"),
            )
            .expect("get");
        assert_eq!(Value::Object(got), json!({"web1": ["10.0.0.1"]}));
        let got = store
            .get(
                &data,
                "app1",
                &json!("*"),
                TargetType::Glob,
                &json!(["network.ip_addrs", "x"]),
            )
            .expect("get");
        assert_eq!(
            Value::Object(got),
            json!({"network.ip_addrs": {"db1": ["10.0.0.2"], "web1": ["10.0.0.1"]}, "x": {}})
        );
    }

    #[test]
    fn send_merges_clear_replaces_delete_and_flush_forget() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = MineStore::open(dir.path()).expect("open");
        store.send("m1", map(json!({"a": 1})), false);
        store.send("m1", map(json!({"b": 2})), false);
        assert_eq!(store.of("m1"), Some(map(json!({"a": 1, "b": 2}))));
        store.send("m1", map(json!({"c": 3})), true);
        assert_eq!(store.of("m1"), Some(map(json!({"c": 3}))));
        let reopened = MineStore::open(dir.path()).expect("reopen");
        assert_eq!(reopened.of("m1"), Some(map(json!({"c": 3}))));
        store.delete("m1", Some("c"));
        assert_eq!(store.of("m1"), Some(Map::new()));
        store.send("m1", map(json!({"d": 4})), false);
        store.delete("m1", None);
        assert_eq!(store.of("m1"), None);
        assert!(
            MineStore::open(dir.path())
                .expect("reopen")
                .ids()
                .is_empty()
        );
    }

    #[test]
    fn allow_tgt_data_goes_only_to_the_minions_it_names() {
        let store = MineStore::in_memory();
        let wrapped =
            json!({"__data__": "secret", "__allow_tgt__": "web*", "__allow_tgt_type__": "glob"});
        store.send("db1", map(json!({"creds": wrapped})), false);
        let data = MinionData::default();
        let ask = |requester: &str| {
            Value::Object(
                store
                    .get(
                        &data,
                        requester,
                        &json!("*"),
                        TargetType::Glob,
                        &json!("creds"),
                    )
                    .expect("get"),
            )
        };
        assert_eq!(
            ask("web1"),
            json!({"db1": "secret"}),
            "unwrapped for an allowed minion"
        );
        assert_eq!(ask("app1"), json!({}), "hidden from the others");
    }

    #[test]
    fn a_bad_target_is_an_error() {
        let store = MineStore::in_memory();
        let data = MinionData::default();
        assert!(
            store
                .get(
                    &data,
                    "app1",
                    &json!("("),
                    TargetType::Compound,
                    &json!("f")
                )
                .is_err()
        );
    }
}
