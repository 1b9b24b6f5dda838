//! The embedded store: the job cache's tables in one `redb` file, the
//! default when the master has no `cluster_store`.

use std::collections::BTreeMap;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use redb::{Database, ReadableDatabase, TableDefinition};

use super::{BatchedJobCache, CacheError, Scan, Store, Table, Write};

/// The job cache in one `redb` file.
pub type RedbJobCache = BatchedJobCache<RedbStore>;

type RawTable = TableDefinition<'static, &'static str, &'static [u8]>;

const JOBS: RawTable = TableDefinition::new("jobs");
const RETURNS: RawTable = TableDefinition::new("returns");
const MINION_DATA: RawTable = TableDefinition::new("minion_data");

/// redb's page cache; its default (1 GiB) is more than a master needs.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

fn definition(table: Table) -> RawTable {
    match table {
        Table::Jobs => JOBS,
        Table::Returns => RETURNS,
        Table::MinionData => MINION_DATA,
    }
}

fn db_err(e: impl Into<redb::Error>) -> CacheError {
    CacheError::Db(e.into())
}

impl RedbJobCache {
    /// Open (or create) the cache file at `path`, creating its directory
    /// (0700) if needed, and start its writer thread.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CacheError> {
        BatchedJobCache::start(RedbStore::open(path.as_ref())?)
    }
}

/// The redb database, which the writer reopens once an I/O error has
/// poisoned it: after one failed write (a full disk, say) redb refuses every
/// later transaction with `PreviousIo` until the file is closed and opened
/// again, so without a reopen the job cache would stay unavailable until the
/// master restarts, however much space came back (tests/e2e/faults.rs).
pub struct RedbStore {
    path: PathBuf,
    /// `None` only between closing the poisoned database and opening it again.
    current: RwLock<Option<Arc<Database>>>,
}

impl RedbStore {
    /// Open (or create) the file, its directory private (0700), the file
    /// itself 0600: returns hold command output and pillar.
    fn open(path: &Path) -> Result<Self, CacheError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|source| CacheError::CreateDir {
                    path: dir.to_path_buf(),
                    source,
                })?;
        }
        let db = open_database(path).map_err(|source| CacheError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(
            |source| CacheError::Permissions {
                path: path.to_path_buf(),
                source,
            },
        )?;
        Ok(RedbStore {
            path: path.to_path_buf(),
            current: RwLock::new(Some(Arc::new(db))),
        })
    }

    /// The open database, for one transaction.
    fn db(&self) -> Result<Arc<Database>, CacheError> {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        current.clone().ok_or(CacheError::Reopening)
    }

    /// Close the database and open the file again. The old one must be
    /// closed first (redb locks the file), so while a reader still holds it
    /// this does nothing and says so; the writer tries again at its next
    /// retry.
    fn reopen(&self) -> Result<(), String> {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        if let Some(db) = current.take()
            && let Err(in_use) = Arc::try_unwrap(db)
        {
            *current = Some(in_use);
            return Err("the database is in use".into());
        }
        let db = open_database(&self.path).map_err(|e| e.to_string())?;
        *current = Some(Arc::new(db));
        Ok(())
    }

    /// The database refuses everything after an earlier I/O error: open it
    /// again so the next retry can succeed once the cause (a full disk) is
    /// gone. What to report for this attempt.
    fn reopen_poisoned(&self) -> String {
        match self.reopen() {
            Ok(()) => {
                tracing::warn!("job cache: reopened the database after an I/O error");
                "an earlier I/O error; the database was reopened for the next try".into()
            }
            Err(e) => format!("an earlier I/O error, and reopening the database failed: {e}"),
        }
    }
}

impl Store for RedbStore {
    fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let txn = self.db()?.begin_read().map_err(db_err)?;
        let t = txn.open_table(definition(table)).map_err(db_err)?;
        Ok(t.get(key).map_err(db_err)?.map(|v| v.value().to_vec()))
    }

    fn scan(&self, table: Table, scan: Scan<'_>) -> Result<BTreeMap<String, Vec<u8>>, CacheError> {
        let txn = self.db()?.begin_read().map_err(db_err)?;
        let t = txn.open_table(definition(table)).map_err(db_err)?;
        let bounds = scan.bounds();
        let iter = match &bounds {
            Some((start, end)) => t.range(start.as_str()..end.as_str()),
            None => t.range::<&str>(..),
        }
        .map_err(db_err)?;
        let mut out = BTreeMap::new();
        for entry in iter {
            let (k, v) = entry.map_err(db_err)?;
            out.insert(k.value().to_string(), v.value().to_vec());
        }
        Ok(out)
    }

    fn commit(&self, batch: &[Write]) -> Result<(), String> {
        let db = self.db().map_err(|e| e.to_string())?;
        match try_commit(&db, batch) {
            Ok(()) => Ok(()),
            Err(redb::Error::PreviousIo) => {
                drop(db);
                Err(self.reopen_poisoned())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn delete_before(&self, cutoff: &str) -> Result<usize, CacheError> {
        let txn = self.db()?.begin_write().map_err(db_err)?;
        let mut dropped = 0;
        {
            let mut jobs = txn.open_table(JOBS).map_err(db_err)?;
            for entry in jobs
                .extract_from_if(..cutoff, |_, _| true)
                .map_err(db_err)?
            {
                entry.map_err(db_err)?;
                dropped += 1;
            }
            let mut returns = txn.open_table(RETURNS).map_err(db_err)?;
            returns.retain_in(..cutoff, |_, _| false).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)?;
        Ok(dropped)
    }
}

fn try_commit(db: &Database, batch: &[Write]) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    {
        let mut jobs = txn.open_table(JOBS)?;
        let mut returns = txn.open_table(RETURNS)?;
        let mut minion_data = txn.open_table(MINION_DATA)?;
        for w in batch {
            let table = match w.table {
                Table::Jobs => &mut jobs,
                Table::Returns => &mut returns,
                Table::MinionData => &mut minion_data,
            };
            match &w.value {
                Some(v) => {
                    table.insert(w.key.as_str(), &v[..])?;
                }
                None => {
                    table.remove(w.key.as_str())?;
                }
            }
        }
    }
    txn.commit()?;
    Ok(())
}

/// Open (or create) the database file with its tables.
fn open_database(path: &Path) -> Result<Database, redb::Error> {
    let db = redb::Builder::new()
        .set_cache_size(CACHE_BYTES)
        .create(path)?;
    let txn = db.begin_write()?;
    for table in [JOBS, RETURNS, MINION_DATA] {
        txn.open_table(table)?;
    }
    txn.commit()?;
    Ok(db)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{T0, jid_at, job, minion, open, ret};
    use crate::job_cache::JobCache;

    /// The database poisoned by an I/O error is closed and opened again:
    /// what was committed is still there and commits work; while a reader
    /// holds the old one the reopen waits for the next try.
    #[test]
    fn a_reopened_database_keeps_what_was_committed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = open(&dir);
        let jid = jid_at(T0);
        cache.save_job(&job(&jid)).expect("save");
        cache.flush().expect("flush");

        let store = cache.store();
        let reader = store.db().expect("open");
        assert_eq!(store.reopen(), Err("the database is in use".to_string()));
        drop(reader);
        store.reopen().expect("reopen");
        assert!(cache.get_job(&jid).expect("read").is_some());
        cache
            .add_return(&jid, &minion("web1"), ret(json!(1)))
            .expect("add");
        cache.flush().expect("commits after the reopen");
        assert!(cache.return_on_disk(&jid, &minion("web1")));
    }
}
