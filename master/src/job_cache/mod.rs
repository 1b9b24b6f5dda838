//! The job cache: published jobs, the returns minions sent for them, and the
//! minion data cache (grains and the like), behind the [`JobCache`] trait.
//!
//! [`BatchedJobCache`] implements it once over a [`Store`] of three tables,
//! values encoded as msgpack maps (`rmp_serde::to_vec_named`, so fields can be
//! added later):
//!
//! | table         | key             | value                 |
//! |---------------|-----------------|-----------------------|
//! | `jobs`        | `<jid>`         | [`JobRecord`]         |
//! | `returns`     | `<jid>/<minion>`| [`ReturnRecord`]      |
//! | `minion_data` | `<minion>`      | any JSON value        |
//!
//! Two stores exist: [`RedbJobCache`] keeps the tables in one embedded `redb`
//! file (the default), [`PgJobCache`] in PostgreSQL, shared by several masters
//! (`cluster_store: postgres`). Jids sort by time, so both `jobs` and `returns`
//! are ordered oldest first and pruning is one range deletion.
//!
//! Writes never wait for the disk. They go to a background writer thread that
//! commits them in batches (`BATCH_MAX` writes or `BATCH_WINDOW`, whichever
//! comes first: 4096 writes or 20 ms), so a thousand returns cost a handful of
//! fsyncs rather than a thousand. Until its
//! batch is committed a write sits in an in-memory overlay that every read
//! consults, so a read sees every write accepted before it. [`JobCache::flush`]
//! waits until everything accepted so far is durable; dropping the cache
//! flushes too.
//!
//! A write that must be durable before the master says so (a minion drops a
//! return from its outbox once the master acknowledges it) gets a [`Ticket`]:
//! [`committed`] waits for the batch holding it to commit, without forcing a
//! commit of its own, so many returns still share one fsync.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use brine_common::ids::{Jid, MinionId};
use brine_common::jid::{jid_for_micros, stamp_now};
use brine_common::target::TargetType;
use brine_common::wire::JobReturn;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;
use tokio::sync::watch;

mod pg_store;
mod redb_store;

pub use pg_store::{MINION_DATA_CHANNEL, PgJobCache, PgStore};
pub use redb_store::{RedbJobCache, RedbStore};

/// Commit once this many writes are queued...
const BATCH_MAX: usize = 4096;
/// ...or once the oldest queued write has waited this long. Returns are
/// readable from the overlay at once, so the window costs no latency; a
/// longer one means fewer commits rewriting the same pages (the writer's CPU
/// over two 200,000-return bursts: 3.85 s at 256 writes / 5 ms, 3.40 s now).
const BATCH_WINDOW: Duration = Duration::from_millis(20);

/// A published job, as `jobs.list_job` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub jid: Jid,
    /// The function, e.g. `state.apply`.
    pub fun: String,
    #[serde(default)]
    pub arg: Vec<Value>,
    #[serde(default)]
    pub kwarg: Map<String, Value>,
    /// The target expression: a string, or a list for `list` targets.
    pub tgt: Value,
    /// `glob`, `list`, `grain`, `compound`, ... (stored as Salt's string).
    pub tgt_type: TargetType,
    /// Who published it.
    pub user: String,
    /// The minions expected to answer, as computed at publish time.
    #[serde(default)]
    pub minions: Vec<MinionId>,
    /// The master that published it, when several share the cluster store
    /// (its name among its peers, `peers::Peers::origin`): where the
    /// other masters send the job's events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master: Option<i64>,
}

/// One minion's return for one job: the parts of Salt's `_return` load worth
/// keeping (the jid and the minion id are the key, not repeated here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReturnRecord {
    /// What the function returned.
    #[serde(rename = "return")]
    pub ret: Value,
    pub retcode: i32,
    pub success: bool,
    pub fun: String,
    #[serde(default)]
    pub fun_args: Vec<Value>,
    /// The outputter the minion asked for (`highstate`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out: Option<String>,
    /// When the master received it: Salt's `_stamp`, ISO 8601 UTC.
    #[serde(rename = "_stamp", default)]
    pub stamp: String,
}

impl ReturnRecord {
    /// The record of `ret`, stamped now.
    pub fn from_return(ret: &JobReturn) -> Self {
        Self::with_stamp(ret, stamp_now())
    }

    pub fn with_stamp(ret: &JobReturn, stamp: String) -> Self {
        ReturnRecord {
            ret: ret.ret.clone(),
            retcode: ret.retcode,
            success: ret.success,
            fun: ret.fun.clone(),
            fun_args: ret.fun_args.clone(),
            out: ret.out.clone(),
            stamp,
        }
    }
}

#[derive(Debug, Error)]
pub enum CacheError {
    #[error("cannot open the job cache {}: {source}", .path.display())]
    Open { path: PathBuf, source: redb::Error },
    #[error("cannot create the job cache directory {}: {source}", .path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot make the job cache {} private (0600): {source}", .path.display())]
    Permissions {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("job cache database: {0}")]
    Db(#[from] redb::Error),
    #[error("cannot encode {what}: {source}")]
    Encode {
        what: String,
        source: rmp_serde::encode::Error,
    },
    #[error("job cache writer: {0}")]
    Writer(String),
    #[error("job cache commit failed: {0}")]
    Commit(String),
    #[error("the job cache is being reopened after an I/O error")]
    Reopening,
    #[error("cluster store: {0}")]
    Cluster(#[from] crate::cluster_store::ClusterError),
}

/// A write's place in the order the cache accepted writes: once the writer
/// has committed up to it, that write and every write accepted before it
/// are on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(u64);

impl Ticket {
    /// Nothing to wait for (the write was committed already).
    pub const COMMITTED: Ticket = Ticket(0);

    /// The ticket of the write accepted as `seq` (tickets count writes, so
    /// the first write's is 1 and [`Ticket::COMMITTED`] is always reached).
    fn of_seq(seq: u64) -> Self {
        Ticket(seq + 1)
    }
}

/// What the writer has made durable, published after every commit attempt.
#[derive(Debug, Clone, Default)]
pub struct CommitState {
    /// Every write up to this ticket is committed.
    committed: Ticket,
    /// How many commit attempts have failed so far.
    failures: u64,
    /// The last write the latest failed attempt held, and why it failed.
    failed_through: Ticket,
    reason: String,
}

/// A return stored by [`JobCache::add_return`], or found there already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Added {
    /// This call stored it: the first copy of that minion's return.
    pub first: bool,
    /// Wait for this before saying the return is stored.
    pub ticket: Ticket,
}

/// Wait until the write of `ticket` is committed. An error when an attempt
/// to commit it fails meanwhile (the disk is full, say) or the writer has
/// stopped: the write stays queued and may be committed later, but it cannot
/// be promised now.
pub async fn committed(
    mut commits: watch::Receiver<CommitState>,
    ticket: Ticket,
) -> Result<(), CacheError> {
    // Failures before the wait began are not this wait's: the writer retries
    // with this write in the batch, and that attempt decides.
    let seen = commits.borrow_and_update().failures;
    let state = commits
        .wait_for(|s| s.committed >= ticket || (s.failures > seen && s.failed_through >= ticket))
        .await
        .map_err(|_| CacheError::Writer("the writer thread has stopped".into()))?;
    if state.committed >= ticket {
        Ok(())
    } else {
        Err(CacheError::Commit(state.reason.clone()))
    }
}

/// Storage for jobs, their returns and the minion data cache.
///
/// Every method may block on I/O: call them from `spawn_blocking` in async code.
pub trait JobCache: Send + Sync {
    /// Store (or replace) a job.
    fn save_job(&self, job: &JobRecord) -> Result<(), CacheError>;
    fn get_job(&self, jid: &Jid) -> Result<Option<JobRecord>, CacheError>;
    /// Every job, oldest first.
    fn list_jobs(&self) -> Result<Vec<JobRecord>, CacheError>;
    /// The jobs whose jid is `since` or later, oldest first.
    fn jobs_since(&self, since: &Jid) -> Result<Vec<JobRecord>, CacheError>;
    /// Store `minion`'s return for `jid`. Stores nothing (`first: false`)
    /// when that minion already returned for that job (a re-sent or replayed
    /// return): only the first one counts, as in Salt's `local_cache`. Either
    /// way the ticket says when the stored return is durable.
    fn add_return(
        &self,
        jid: &Jid,
        minion: &MinionId,
        ret: ReturnRecord,
    ) -> Result<Added, CacheError>;
    /// Store a return the caller already knows to be the first from `minion`
    /// for `jid` (the master tracks that for jobs in flight). Never waits on
    /// the disk: the write is queued for the next batch, and the ticket says
    /// when it is committed.
    fn store_return(
        &self,
        jid: &Jid,
        minion: &MinionId,
        ret: ReturnRecord,
    ) -> Result<Ticket, CacheError>;
    /// `minion`'s return for `jid`, if stored: the ticket of its write
    /// ([`Ticket::COMMITTED`] once it is on disk).
    fn stored_return(&self, jid: &Jid, minion: &MinionId) -> Result<Option<Ticket>, CacheError>;
    /// The minions that returned for `jid` (without reading their returns).
    fn returned_minions(&self, jid: &Jid) -> Result<Vec<String>, CacheError>;
    /// The returns of `jid` by minion id.
    fn returns(&self, jid: &Jid) -> Result<BTreeMap<String, ReturnRecord>, CacheError>;
    /// Drop the jobs (and their returns) whose jid is older than
    /// `keep_jobs_seconds` before `now_micros`. `0` keeps everything, as in
    /// Salt. Returns the number of jobs dropped.
    fn prune(&self, now_micros: i64, keep_jobs_seconds: u64) -> Result<usize, CacheError>;
    /// Store (or replace) what the master knows about a minion: its record
    /// (`{"grains": ..., "pillar": ...}`) already encoded as msgpack with
    /// named fields, the form [`crate::minion_data::MinionData`] keeps it in.
    fn set_minion_data(&self, id: &MinionId, packed: Vec<u8>) -> Result<(), CacheError>;
    fn minion_data(&self, id: &MinionId) -> Result<Option<Value>, CacheError>;
    /// The data of every minion, by id (for grain targeting).
    fn all_minion_data(&self) -> Result<BTreeMap<String, Value>, CacheError>;
    /// Forget a minion's data (its key was deleted).
    fn remove_minion_data(&self, id: &MinionId) -> Result<(), CacheError>;
    /// Wait until every write accepted so far is on disk.
    fn flush(&self) -> Result<(), CacheError>;
    /// What the writer has committed, for [`committed`].
    fn commits(&self) -> watch::Receiver<CommitState>;
}

/// The tables every store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Table {
    Jobs,
    Returns,
    MinionData,
}

/// Which keys of a table a read wants.
#[derive(Debug, Clone, Copy)]
pub enum Scan<'a> {
    /// Every key.
    All,
    /// The jobs from this jid on.
    JobsFrom(&'a Jid),
    /// The returns of one job: the keys `<jid>/<minion>`.
    ReturnsOf(&'a Jid),
}

impl Scan<'_> {
    /// The scanned keys as a half-open range, `None` for all of them.
    fn bounds(&self) -> Option<(String, String)> {
        match self {
            Scan::All => None,
            // A jid is 20 digits and maybe `_<suffix>`: `~` sorts after all of them.
            Scan::JobsFrom(jid) => Some((jid.as_str().to_string(), "~".to_string())),
            Scan::ReturnsOf(jid) => Some(return_range(jid)),
        }
    }
}

/// Where a [`BatchedJobCache`] keeps its tables: reads of committed data,
/// and durable commits of the batches its writer thread gathers.
pub trait Store: Send + Sync + 'static {
    /// The committed value of one key.
    fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, CacheError>;
    /// The committed entries `scan` selects, by key.
    fn scan(&self, table: Table, scan: Scan<'_>) -> Result<BTreeMap<String, Vec<u8>>, CacheError>;
    /// Apply `batch` in one durable transaction; a later write of a key
    /// replaces an earlier one. The error says why, for the log and for the
    /// requests waiting on the batch.
    fn commit(&self, batch: &[Write]) -> Result<(), String>;
    /// Delete the jobs and returns whose jid sorts below `cutoff`; the
    /// number of jobs deleted.
    fn delete_before(&self, cutoff: &str) -> Result<usize, CacheError>;
}

/// The key of a return: `<jid>/<minion>`. Neither part can contain `/`.
pub fn return_key(jid: &Jid, minion: &MinionId) -> String {
    format!("{}/{}", jid.as_str(), minion.as_str())
}

/// The key range holding every return of `jid`: `<jid>/` up to `<jid>0`
/// (`0` is the byte after `/`).
fn return_range(jid: &Jid) -> (String, String) {
    (format!("{}/", jid.as_str()), format!("{}0", jid.as_str()))
}

/// One queued write; `value: None` deletes the key.
#[derive(Debug, Clone)]
pub struct Write {
    pub table: Table,
    pub key: String,
    pub value: Option<Arc<[u8]>>,
    /// Position in the order writes were accepted (see [`Overlay`]).
    seq: u64,
}

enum Msg {
    Write(Write),
    /// Commit now and answer when done.
    Flush(SyncSender<Result<(), String>>),
    /// Commit what is queued and stop.
    Shutdown,
}

/// The overlay, locked.
type Stored<'a> = MutexGuard<'a, Overlay>;

/// Writes accepted but not yet committed, newest per key, for reads to see.
///
/// A write leaves the overlay only after its commit (and only if no newer
/// write to the same key replaced it meanwhile), so at every moment a write
/// is in the overlay, in the database, or both.
#[derive(Default)]
struct Overlay {
    entries: BTreeMap<(Table, String), Queued>,
    next_seq: u64,
    /// Counts the commits that took writes out of the overlay: a store read
    /// made without the lock is current if none happened meanwhile.
    commits: u64,
}

/// The newest accepted write of one key.
struct Queued {
    seq: u64,
    value: Option<Arc<[u8]>>,
}

impl Overlay {
    /// `Some(Some(bytes))` written, `Some(None)` deleted, `None` not in the overlay.
    fn get(&self, table: Table, key: &str) -> Option<Option<Arc<[u8]>>> {
        self.queued(table, key).map(|q| q.value.clone())
    }

    fn queued(&self, table: Table, key: &str) -> Option<&Queued> {
        self.entries.get(&(table, key.to_string()))
    }

    /// The overlay entries of `table` that `scan` selects.
    fn range(&self, table: Table, scan: Scan<'_>) -> Vec<(String, Option<Arc<[u8]>>)> {
        let (lower, upper) = match scan.bounds() {
            Some((start, end)) => (
                Bound::Included((table, start)),
                Bound::Excluded((table, end)),
            ),
            None => (Bound::Included((table, String::new())), Bound::Unbounded),
        };
        self.entries
            .range((lower, upper))
            .take_while(|((t, _), _)| *t == table)
            .map(|((_, k), q)| (k.clone(), q.value.clone()))
            .collect()
    }

    fn forget_committed(&mut self, batch: &[Write]) {
        self.commits += 1;
        for w in batch {
            let key = (w.table, w.key.clone());
            if self.entries.get(&key).is_some_and(|q| q.seq == w.seq) {
                self.entries.remove(&key);
            }
        }
    }
}

/// The [`JobCache`] over a [`Store`]: writes accepted at once into an
/// overlay that reads consult, committed by a writer thread in batches.
pub struct BatchedJobCache<S: Store> {
    store: Arc<S>,
    overlay: Arc<Mutex<Overlay>>,
    tx: Sender<Msg>,
    writer: Option<JoinHandle<()>>,
    commits: Arc<AtomicU64>,
    committed: watch::Receiver<CommitState>,
    /// Tests make commits fail with this (a full disk, say).
    #[cfg(test)]
    fail_commits: Arc<std::sync::atomic::AtomicBool>,
}

impl<S: Store> std::fmt::Debug for BatchedJobCache<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchedJobCache")
            .field("commits", &self.commit_count())
            .finish_non_exhaustive()
    }
}

impl<S: Store> BatchedJobCache<S> {
    /// A cache over `store`, with its writer thread started.
    pub fn start(store: S) -> Result<Self, CacheError> {
        let store = Arc::new(store);
        let overlay = Arc::new(Mutex::new(Overlay::default()));
        let commits = Arc::new(AtomicU64::new(0));
        let (tx, rx) = mpsc::channel();
        let (published, committed) = watch::channel(CommitState::default());
        #[cfg(test)]
        let fail_commits = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = Writer {
            store: store.clone(),
            overlay: overlay.clone(),
            commits: commits.clone(),
            published,
            rx,
            #[cfg(test)]
            fail_commits: fail_commits.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("brine-job-cache".into())
            .spawn(move || writer.run())
            .map_err(|e| CacheError::Writer(format!("cannot start the writer thread: {e}")))?;
        Ok(BatchedJobCache {
            store,
            overlay,
            tx,
            writer: Some(handle),
            commits,
            committed,
            #[cfg(test)]
            fail_commits,
        })
    }

    /// Make every commit fail (`true`) or work again.
    #[cfg(test)]
    pub(crate) fn fail_commits(&self, fail: bool) {
        self.fail_commits.store(fail, Ordering::Relaxed);
    }

    /// Stop the writer thread, as if it had died: later writes are refused.
    #[cfg(test)]
    pub(crate) fn stop_writer(&self) {
        let _ = self.tx.send(Msg::Shutdown);
        while self.flush().is_ok() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Is `minion`'s return for `jid` in the database (not only queued)?
    /// What a master restarted after a kill -9 would find.
    #[cfg(test)]
    pub(crate) fn return_on_disk(&self, jid: &Jid, minion: &MinionId) -> bool {
        let key = return_key(jid, minion);
        self.store
            .get(Table::Returns, &key)
            .expect("read")
            .is_some()
    }

    /// The store under the cache.
    #[cfg(test)]
    pub(crate) fn store(&self) -> &S {
        &self.store
    }

    /// How many batches the writer has committed (for tests and benchmarks).
    pub fn commit_count(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    fn overlay(&self) -> MutexGuard<'_, Overlay> {
        // A panic while holding the lock cannot leave the map half-updated in
        // a way that matters more than losing the cache would.
        self.overlay.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Accept a write: into the overlay and onto the writer's queue, in the
    /// same critical section so the queue order is the acceptance order.
    fn enqueue(
        &self,
        overlay: &mut Overlay,
        table: Table,
        key: String,
        value: Option<Vec<u8>>,
    ) -> Result<Ticket, CacheError> {
        let value: Option<Arc<[u8]>> = value.map(Arc::from);
        let seq = overlay.next_seq;
        overlay.next_seq += 1;
        let write = Write {
            table,
            key: key.clone(),
            value: value.clone(),
            seq,
        };
        self.tx
            .send(Msg::Write(write))
            .map_err(|_| CacheError::Writer("the writer thread has stopped".into()))?;
        overlay.entries.insert((table, key), Queued { seq, value });
        Ok(Ticket::of_seq(seq))
    }

    fn put(&self, table: Table, key: String, value: Option<Vec<u8>>) -> Result<Ticket, CacheError> {
        let mut overlay = self.overlay();
        self.enqueue(&mut overlay, table, key, value)
    }

    /// Where a stored value of `key` stands: its write's ticket while queued,
    /// [`Ticket::COMMITTED`] once only the database holds it, `None` when
    /// neither holds it (or the newest write deletes it). The overlay comes
    /// back locked with the answer, so nothing is accepted between the look
    /// and what the caller does next.
    ///
    /// The store is read without the overlay's lock (a shared store is a
    /// network round trip away, and every return takes that lock); the
    /// answer holds if no commit moved writes from the overlay to the store
    /// meanwhile, else the look is made again.
    fn stored(&self, table: Table, key: &str) -> Result<(Stored<'_>, Option<Ticket>), CacheError> {
        loop {
            let commits = {
                let overlay = self.overlay();
                if let Some(queued) = overlay.queued(table, key) {
                    let ticket = queued.value.is_some().then(|| Ticket::of_seq(queued.seq));
                    return Ok((overlay, ticket));
                }
                overlay.commits
            };
            let in_store = self.store.get(table, key)?.is_some();
            let overlay = self.overlay();
            if let Some(queued) = overlay.queued(table, key) {
                let ticket = queued.value.is_some().then(|| Ticket::of_seq(queued.seq));
                return Ok((overlay, ticket));
            }
            if overlay.commits == commits {
                return Ok((overlay, in_store.then_some(Ticket::COMMITTED)));
            }
        }
    }

    /// The value of one key as a read sees it: overlay first, then the database.
    fn get_raw(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        if let Some(pending) = self.overlay().get(table, key) {
            return Ok(pending.map(|v| v.to_vec()));
        }
        self.store.get(table, key)
    }

    /// A key range as a read sees it: the database with the overlay on top.
    fn range_raw(
        &self,
        table: Table,
        scan: Scan<'_>,
    ) -> Result<BTreeMap<String, Vec<u8>>, CacheError> {
        // Overlay first: a write leaves it only once committed, so anything
        // missing from this snapshot is visible to the read that follows.
        let pending = self.overlay().range(table, scan);
        let mut out = self.store.scan(table, scan)?;
        for (key, value) in pending {
            match value {
                Some(v) => out.insert(key, v.to_vec()),
                None => out.remove(&key),
            };
        }
        Ok(out)
    }
}

impl<S: Store> Drop for BatchedJobCache<S> {
    fn drop(&mut self) {
        // The writer commits what is queued before it stops.
        let _ = self.tx.send(Msg::Shutdown);
        if let Some(handle) = self.writer.take()
            && handle.join().is_err()
        {
            tracing::error!("the job cache writer thread panicked");
        }
    }
}

fn encode<T: Serialize>(value: &T, what: impl FnOnce() -> String) -> Result<Vec<u8>, CacheError> {
    rmp_serde::to_vec_named(value).map_err(|source| CacheError::Encode {
        what: what(),
        source,
    })
}

/// Decode a stored record; a record that does not decode is logged and skipped.
fn decode<T: DeserializeOwned>(bytes: &[u8], table: Table, key: &str) -> Option<T> {
    match rmp_serde::from_slice(bytes) {
        Ok(value) => Some(value),
        Err(e) => {
            tracing::warn!("job cache: skipping undecodable {table:?} record {key:?}: {e}");
            None
        }
    }
}

/// The job records of `raw` rows that decode (the others are logged).
fn decode_jobs(raw: &BTreeMap<String, Vec<u8>>) -> Vec<JobRecord> {
    raw.iter()
        .filter_map(|(key, bytes)| decode(bytes, Table::Jobs, key))
        .collect()
}

impl<S: Store> JobCache for BatchedJobCache<S> {
    fn save_job(&self, job: &JobRecord) -> Result<(), CacheError> {
        let bytes = encode(job, || format!("job {}", job.jid))?;
        self.put(Table::Jobs, job.jid.as_str().to_string(), Some(bytes))?;
        Ok(())
    }

    fn get_job(&self, jid: &Jid) -> Result<Option<JobRecord>, CacheError> {
        let raw = self.get_raw(Table::Jobs, jid.as_str())?;
        Ok(raw.and_then(|bytes| decode(&bytes, Table::Jobs, jid.as_str())))
    }

    fn list_jobs(&self) -> Result<Vec<JobRecord>, CacheError> {
        let raw = self.range_raw(Table::Jobs, Scan::All)?;
        Ok(decode_jobs(&raw))
    }

    fn jobs_since(&self, since: &Jid) -> Result<Vec<JobRecord>, CacheError> {
        let raw = self.range_raw(Table::Jobs, Scan::JobsFrom(since))?;
        Ok(decode_jobs(&raw))
    }

    fn store_return(
        &self,
        jid: &Jid,
        minion: &MinionId,
        ret: ReturnRecord,
    ) -> Result<Ticket, CacheError> {
        let key = return_key(jid, minion);
        let bytes = encode(&ret, || format!("return {key}"))?;
        self.put(Table::Returns, key, Some(bytes))
    }

    fn add_return(
        &self,
        jid: &Jid,
        minion: &MinionId,
        ret: ReturnRecord,
    ) -> Result<Added, CacheError> {
        let key = return_key(jid, minion);
        let bytes = encode(&ret, || format!("return {key}"))?;
        // Held from the answer to the enqueue, so two copies of one return
        // racing each other cannot both count as the first.
        let (mut overlay, stored) = self.stored(Table::Returns, &key)?;
        if let Some(ticket) = stored {
            tracing::debug!("duplicate return from {minion} for {jid} dropped");
            return Ok(Added {
                first: false,
                ticket,
            });
        }
        let ticket = self.enqueue(&mut overlay, Table::Returns, key, Some(bytes))?;
        Ok(Added {
            first: true,
            ticket,
        })
    }

    fn stored_return(&self, jid: &Jid, minion: &MinionId) -> Result<Option<Ticket>, CacheError> {
        let key = return_key(jid, minion);
        Ok(self.stored(Table::Returns, &key)?.1)
    }

    fn returned_minions(&self, jid: &Jid) -> Result<Vec<String>, CacheError> {
        let start = return_range(jid).0;
        let raw = self.range_raw(Table::Returns, Scan::ReturnsOf(jid))?;
        Ok(raw
            .into_keys()
            .filter_map(|key| key.strip_prefix(&start).map(str::to_string))
            .collect())
    }

    fn returns(&self, jid: &Jid) -> Result<BTreeMap<String, ReturnRecord>, CacheError> {
        let start = return_range(jid).0;
        let raw = self.range_raw(Table::Returns, Scan::ReturnsOf(jid))?;
        Ok(raw
            .iter()
            .filter_map(|(key, bytes)| {
                let minion = key.strip_prefix(&start)?;
                let record = decode(bytes, Table::Returns, key)?;
                Some((minion.to_string(), record))
            })
            .collect())
    }

    fn prune(&self, now_micros: i64, keep_jobs_seconds: u64) -> Result<usize, CacheError> {
        if keep_jobs_seconds == 0 {
            return Ok(0);
        }
        let keep_micros = i64::try_from(keep_jobs_seconds)
            .unwrap_or(i64::MAX)
            .saturating_mul(1_000_000);
        // Jids are fixed-width timestamps: every key of an older job sorts
        // below the jid of the cutoff instant.
        let cutoff = jid_for_micros(now_micros.saturating_sub(keep_micros));
        // Queued writes land first, so a pruned job's returns cannot be
        // committed after the deletion.
        self.flush()?;
        self.store.delete_before(cutoff.as_str())
    }

    fn set_minion_data(&self, id: &MinionId, packed: Vec<u8>) -> Result<(), CacheError> {
        self.put(Table::MinionData, id.as_str().to_string(), Some(packed))?;
        Ok(())
    }

    fn minion_data(&self, id: &MinionId) -> Result<Option<Value>, CacheError> {
        let raw = self.get_raw(Table::MinionData, id.as_str())?;
        Ok(raw.and_then(|bytes| decode(&bytes, Table::MinionData, id.as_str())))
    }

    fn all_minion_data(&self) -> Result<BTreeMap<String, Value>, CacheError> {
        let raw = self.range_raw(Table::MinionData, Scan::All)?;
        Ok(raw
            .into_iter()
            .filter_map(|(key, bytes)| {
                let value = decode(&bytes, Table::MinionData, &key)?;
                Some((key, value))
            })
            .collect())
    }

    fn remove_minion_data(&self, id: &MinionId) -> Result<(), CacheError> {
        self.put(Table::MinionData, id.as_str().to_string(), None)?;
        Ok(())
    }

    fn flush(&self) -> Result<(), CacheError> {
        let (done_tx, done_rx) = mpsc::sync_channel(1);
        let gone = || CacheError::Writer("the writer thread has stopped".into());
        self.tx.send(Msg::Flush(done_tx)).map_err(|_| gone())?;
        done_rx
            .recv()
            .map_err(|_| gone())?
            .map_err(CacheError::Writer)
    }

    fn commits(&self) -> watch::Receiver<CommitState> {
        self.committed.clone()
    }
}

/// The background writer: batches queued writes into few commits.
struct Writer<S: Store> {
    store: Arc<S>,
    overlay: Arc<Mutex<Overlay>>,
    commits: Arc<AtomicU64>,
    /// What is committed, for requests waiting to acknowledge their writes.
    published: watch::Sender<CommitState>,
    rx: Receiver<Msg>,
    #[cfg(test)]
    fail_commits: Arc<std::sync::atomic::AtomicBool>,
}

/// What ended the gathering of a batch.
enum Gathered {
    /// The batch is full or its window closed.
    Batch,
    /// Someone waits for a commit.
    Flush,
    /// The cache is being dropped (or every sender is gone).
    Shutdown,
}

impl<S: Store> Writer<S> {
    fn run(self) {
        let mut batch: Vec<Write> = Vec::new();
        let mut waiters: Vec<SyncSender<Result<(), String>>> = Vec::new();
        let mut failures: u32 = 0;
        let mut stopping = false;
        loop {
            if !stopping {
                stopping = matches!(self.gather(&mut batch, &mut waiters), Gathered::Shutdown);
            }
            let result = self.commit(&batch);
            self.publish(&batch, &result);
            match &result {
                Ok(()) => {
                    failures = 0;
                    self.overlay().forget_committed(&batch);
                    batch.clear();
                }
                Err(e) => {
                    failures += 1;
                    tracing::error!(
                        "job cache commit of {} writes failed (attempt {failures}): {e}",
                        batch.len()
                    );
                }
            }
            for waiter in waiters.drain(..) {
                let _ = waiter.send(result.clone());
            }
            // When stopping, a failing batch gets a few more tries, then is given up.
            if stopping && (result.is_ok() || failures >= 3) {
                break;
            }
            if result.is_err() {
                // The writes stay queued (and readable); retry after a pause.
                std::thread::sleep(backoff(failures));
            }
        }
        if !batch.is_empty() {
            tracing::error!("job cache: {} writes lost at shutdown", batch.len());
        }
    }

    /// Add writes to `batch` until it is full, its window closes, or a flush
    /// or shutdown arrives. Blocks while there is nothing to do.
    fn gather(
        &self,
        batch: &mut Vec<Write>,
        waiters: &mut Vec<SyncSender<Result<(), String>>>,
    ) -> Gathered {
        if batch.is_empty() {
            match self.rx.recv() {
                Ok(msg) => {
                    if let Some(stop) = absorb(msg, batch, waiters) {
                        return stop;
                    }
                }
                Err(_) => return Gathered::Shutdown,
            }
        }
        let deadline = Instant::now() + BATCH_WINDOW;
        while batch.len() < BATCH_MAX {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(wait) {
                Ok(msg) => {
                    if let Some(stop) = absorb(msg, batch, waiters) {
                        return stop;
                    }
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return Gathered::Shutdown,
            }
        }
        Gathered::Batch
    }

    /// Tell the waiting requests how the commit of `batch` went. Batches
    /// commit in acceptance order and a failed one is retried whole (with
    /// later writes added), so a committed batch commits everything up to
    /// its last write.
    fn publish(&self, batch: &[Write], result: &Result<(), String>) {
        let Some(last) = batch.last().map(|w| Ticket::of_seq(w.seq)) else {
            return;
        };
        self.published.send_modify(|state| match result {
            Ok(()) => state.committed = state.committed.max(last),
            Err(e) => {
                state.failures += 1;
                state.failed_through = last;
                state.reason.clone_from(e);
            }
        });
    }

    /// Apply `batch` in one durable transaction.
    fn commit(&self, batch: &[Write]) -> Result<(), String> {
        if batch.is_empty() {
            return Ok(());
        }
        #[cfg(test)]
        if self.fail_commits.load(Ordering::Relaxed) {
            return Err("injected commit failure".into());
        }
        self.store.commit(batch)?;
        self.commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn overlay(&self) -> MutexGuard<'_, Overlay> {
        self.overlay.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Take one message into the batch; `Some` when it ends the gathering.
fn absorb(
    msg: Msg,
    batch: &mut Vec<Write>,
    waiters: &mut Vec<SyncSender<Result<(), String>>>,
) -> Option<Gathered> {
    match msg {
        Msg::Write(w) => {
            batch.push(w);
            None
        }
        Msg::Flush(waiter) => {
            waiters.push(waiter);
            Some(Gathered::Flush)
        }
        Msg::Shutdown => Some(Gathered::Shutdown),
    }
}

/// 10 ms, 20 ms, ... up to 1 s between retries of a failing commit.
fn backoff(failures: u32) -> Duration {
    Duration::from_millis(10u64.saturating_mul(1 << failures.min(7)).min(1000))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minion data record as the master encodes it.
    fn packed(data: &Value) -> Vec<u8> {
        rmp_serde::to_vec_named(data).expect("encode")
    }
    use serde_json::json;

    pub(crate) const T0: i64 = 1_795_304_419_509_933; // 2026-11-21T23:40:19.509933Z

    pub(crate) fn jid_at(micros: i64) -> Jid {
        jid_for_micros(micros)
    }

    pub(crate) fn minion(s: &str) -> MinionId {
        MinionId::parse(s).expect("id")
    }

    pub(crate) fn job(jid: &Jid) -> JobRecord {
        let mut kwarg = Map::new();
        kwarg.insert("test".into(), json!(true));
        JobRecord {
            jid: jid.clone(),
            fun: "state.apply".into(),
            arg: vec![json!("web")],
            kwarg,
            tgt: json!("web*"),
            tgt_type: TargetType::Glob,
            user: "root".into(),
            minions: vec![
                MinionId::parse("web1").expect("id"),
                MinionId::parse("web2").expect("id"),
            ],
            master: None,
        }
    }

    pub(crate) fn ret(value: Value) -> ReturnRecord {
        ReturnRecord {
            ret: value,
            retcode: 0,
            success: true,
            fun: "test.ping".into(),
            fun_args: vec![],
            out: None,
            stamp: "2026-11-21T23:40:19.600000+00:00".into(),
        }
    }

    pub(crate) fn open(dir: &tempfile::TempDir) -> RedbJobCache {
        RedbJobCache::open(dir.path().join("cache/jobs.redb")).expect("open")
    }

    /// A job record as stored while its target type was a `String`.
    #[derive(Serialize)]
    struct StringTypedJob<'a> {
        jid: &'a Jid,
        fun: &'a str,
        arg: &'a [Value],
        kwarg: &'a Map<String, Value>,
        tgt: &'a Value,
        tgt_type: &'a str,
        user: &'a str,
        minions: &'a [MinionId],
    }

    #[test]
    fn records_stored_with_a_string_target_type_read_back_and_store_the_same() {
        let typed = job(&jid_at(T0));
        let old = StringTypedJob {
            jid: &typed.jid,
            fun: &typed.fun,
            arg: &typed.arg,
            kwarg: &typed.kwarg,
            tgt: &typed.tgt,
            tgt_type: "glob",
            user: &typed.user,
            minions: &typed.minions,
        };
        let stored = rmp_serde::to_vec_named(&old).expect("encode");
        let read: JobRecord = decode(&stored, Table::Jobs, "old").expect("an old record decodes");
        assert_eq!(read, typed);
        assert_eq!(encode(&read, String::new).expect("encode"), stored);
        let unknown = StringTypedJob {
            tgt_type: "pillar_exact",
            ..old
        };
        let stored = rmp_serde::to_vec_named(&unknown).expect("encode");
        assert_eq!(decode::<JobRecord>(&stored, Table::Jobs, "bad"), None);
    }

    #[test]
    fn saved_job_is_visible_at_once_and_after_flush() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = open(&dir);
        let jid = jid_at(T0);
        assert_eq!(cache.get_job(&jid).expect("get"), None);
        cache.save_job(&job(&jid)).expect("save");
        assert_eq!(cache.get_job(&jid).expect("get"), Some(job(&jid)));
        cache.flush().expect("flush");
        assert_eq!(cache.get_job(&jid).expect("get"), Some(job(&jid)));
        assert!(
            cache.overlay().entries.is_empty(),
            "flushed writes leave the overlay"
        );
    }

    #[test]
    fn return_record_keeps_the_wire_return() {
        let wire = JobReturn {
            jid: jid_at(T0),
            fun: "cmd.run".into(),
            fun_args: vec![json!("echo hi")],
            ret: json!("hi"),
            retcode: 0,
            success: true,
            out: Some("nested".into()),
        };
        let rec = ReturnRecord::from_return(&wire);
        assert_eq!(
            (rec.ret.clone(), rec.fun.as_str(), rec.out.as_deref()),
            (json!("hi"), "cmd.run", Some("nested"))
        );
        assert!(rec.stamp.ends_with("+00:00"));
        let as_json = serde_json::to_value(&rec).expect("json");
        assert_eq!(as_json["return"], json!("hi"));
        assert!(as_json.get("_stamp").is_some());
    }

    #[test]
    fn many_returns_are_batched_and_all_visible() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = open(&dir);
        let jid = jid_at(T0);
        cache.save_job(&job(&jid)).expect("save");
        let n = 1000;
        for i in 0..n {
            let id = minion(&format!("m{i:04}"));
            assert!(
                cache
                    .add_return(&jid, &id, ret(json!(i)))
                    .expect("add")
                    .first
            );
        }
        // Visible before any flush, through the overlay.
        let got = cache.returns(&jid).expect("returns");
        assert_eq!(got.len(), n);
        assert_eq!(got["m0042"].ret, json!(42));
        cache.flush().expect("flush");
        let commits = cache.commit_count();
        assert!(
            commits >= 1 && commits <= (n as u64) / 4,
            "{commits} commits for {n} returns"
        );
        assert_eq!(cache.returns(&jid).expect("returns").len(), n);
        // Another job's returns are not mixed in.
        assert!(cache.returns(&jid_at(T0 + 1)).expect("returns").is_empty());
        let who = cache.returned_minions(&jid).expect("returned");
        assert_eq!((who.len(), who[42].as_str()), (n, "m0042"));
        let stored = |jid: &Jid, id: &str| cache.stored_return(jid, &minion(id)).expect("stored");
        assert_eq!(stored(&jid, "m0999"), Some(Ticket::COMMITTED));
        assert_eq!(stored(&jid, "m1000"), None);
        assert_eq!(stored(&jid_at(T0 + 1), "m0001"), None);
    }

    /// Once its ticket is committed a return is in the database, not only
    /// in the overlay; and waiting for tickets forces no commit: a crowd of
    /// returns shares a few.
    #[tokio::test]
    async fn an_acknowledged_return_is_on_disk_and_returns_share_commits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = open(&dir);
        let jid = jid_at(T0);
        let n = 500;
        let tickets: Vec<Ticket> = (0..n)
            .map(|i| {
                let id = minion(&format!("m{i:04}"));
                cache.store_return(&jid, &id, ret(json!(i))).expect("store")
            })
            .collect();
        let waits = tickets.iter().map(|t| committed(cache.commits(), *t));
        for result in futures::future::join_all(waits).await {
            result.expect("committed");
        }
        for i in [0, 42, n - 1] {
            assert!(
                cache.return_on_disk(&jid, &minion(&format!("m{i:04}"))),
                "m{i:04}"
            );
        }
        let commits = cache.commit_count();
        assert!(
            commits <= 3,
            "{commits} commits for {n} acknowledged returns"
        );
        assert_eq!(
            cache.stored_return(&jid, &minion("m0042")).expect("stored"),
            Some(Ticket::COMMITTED)
        );
    }

    /// A return accepted while commits fail is not promised: the wait for
    /// its ticket fails. It stays queued and readable, and once commits work
    /// again the same ticket is met.
    #[tokio::test]
    async fn a_return_is_not_promised_while_commits_fail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = open(&dir);
        let jid = jid_at(T0);
        cache.fail_commits(true);
        let ticket = cache
            .store_return(&jid, &minion("web1"), ret(json!(true)))
            .expect("queued");
        let refused = committed(cache.commits(), ticket).await;
        assert!(matches!(refused, Err(CacheError::Commit(_))), "{refused:?}");
        assert!(!cache.return_on_disk(&jid, &minion("web1")));
        assert_eq!(
            cache.stored_return(&jid, &minion("web1")).expect("stored"),
            Some(ticket),
            "still queued, with the same ticket"
        );
        cache.fail_commits(false);
        committed(cache.commits(), ticket)
            .await
            .expect("committed once the disk works again");
        assert!(cache.return_on_disk(&jid, &minion("web1")));
    }

    /// A writer that has stopped takes no write, and nobody waits on it.
    #[tokio::test]
    async fn a_stopped_writer_refuses_writes_and_waits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = open(&dir);
        let jid = jid_at(T0);
        let ticket = cache
            .store_return(&jid, &minion("web1"), ret(json!(1)))
            .expect("store");
        cache.stop_writer();
        committed(cache.commits(), ticket)
            .await
            .expect("committed at the stop");
        let refused = cache.store_return(&jid, &minion("web2"), ret(json!(2)));
        assert!(matches!(refused, Err(CacheError::Writer(_))), "{refused:?}");
        let never = Ticket::of_seq(99);
        let refused = committed(cache.commits(), never).await;
        assert!(matches!(refused, Err(CacheError::Writer(_))), "{refused:?}");
    }

    #[test]
    fn duplicate_return_is_refused_before_and_after_commit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = open(&dir);
        let (jid, web1) = (jid_at(T0), minion("web1"));
        assert!(
            cache
                .add_return(&jid, &web1, ret(json!(true)))
                .expect("first")
                .first
        );
        assert!(
            !cache
                .add_return(&jid, &web1, ret(json!("replayed")))
                .expect("queued dup")
                .first
        );
        cache.flush().expect("flush");
        assert!(
            !cache
                .add_return(&jid, &web1, ret(json!("replayed")))
                .expect("stored dup")
                .first
        );
        assert_eq!(
            cache.returns(&jid).expect("returns")["web1"].ret,
            json!(true)
        );
        // The same minion may return for another job.
        assert!(
            cache
                .add_return(&jid_at(T0 + 1), &web1, ret(json!(1)))
                .expect("other job")
                .first
        );
    }

    #[test]
    fn racing_copies_of_one_return_count_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = open(&dir);
        let (jid, web1) = (jid_at(T0), minion("web1"));
        let firsts: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        cache
                            .add_return(&jid, &web1, ret(json!(1)))
                            .expect("add")
                            .first
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| usize::from(h.join().expect("join")))
                .sum()
        });
        assert_eq!(firsts, 1);
    }

    #[test]
    fn reopen_keeps_jobs_returns_and_minion_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let jid = jid_at(T0);
        {
            let cache = open(&dir);
            cache.save_job(&job(&jid)).expect("save");
            cache
                .add_return(&jid, &minion("web1"), ret(json!(true)))
                .expect("add");
            cache
                .set_minion_data(
                    &minion("web1"),
                    packed(&json!({"grains": {"os": "Debian"}})),
                )
                .expect("data");
            // No flush: dropping the cache (a master shutting down) commits.
        }
        let cache = open(&dir);
        assert_eq!(cache.get_job(&jid).expect("get"), Some(job(&jid)));
        assert_eq!(
            cache.returns(&jid).expect("returns")["web1"].ret,
            json!(true)
        );
        assert!(
            !cache
                .add_return(&jid, &minion("web1"), ret(json!(2)))
                .expect("dup after restart")
                .first
        );
        assert_eq!(
            cache.minion_data(&minion("web1")).expect("data"),
            Some(json!({"grains": {"os": "Debian"}}))
        );
    }

    #[test]
    fn prune_drops_old_jobs_and_their_returns() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = open(&dir);
        let hour = 3_600 * 1_000_000;
        let (old, edge, new) = (
            jid_at(T0 - 25 * hour),
            jid_at(T0 - 24 * hour),
            jid_at(T0 - hour),
        );
        for jid in [&old, &edge, &new] {
            cache.save_job(&job(jid)).expect("save");
            cache
                .add_return(jid, &minion("web1"), ret(json!(1)))
                .expect("add");
        }
        // A return whose job record is gone is pruned by its jid's age too.
        let orphan = jid_at(T0 - 30 * hour);
        cache
            .add_return(&orphan, &minion("web1"), ret(json!(1)))
            .expect("add");

        assert_eq!(cache.prune(T0, 0).expect("keep forever"), 0);
        assert_eq!(cache.prune(T0, 24 * 3_600).expect("prune"), 1);
        let left: Vec<Jid> = cache
            .list_jobs()
            .expect("list")
            .into_iter()
            .map(|j| j.jid)
            .collect();
        assert_eq!(
            left,
            vec![edge.clone(), new.clone()],
            "a job exactly at the cutoff stays"
        );
        assert!(cache.returns(&old).expect("returns").is_empty());
        assert!(cache.returns(&orphan).expect("returns").is_empty());
        assert_eq!(cache.returns(&new).expect("returns").len(), 1);
        assert_eq!(cache.prune(T0, 24 * 3_600).expect("again"), 0);
    }

    #[test]
    fn listed_jobs_are_oldest_first_including_queued_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = open(&dir);
        let jids: Vec<Jid> = [5, 1, 3]
            .iter()
            .map(|s| jid_at(T0 + s * 1_000_000))
            .collect();
        cache.save_job(&job(&jids[0])).expect("save");
        cache.flush().expect("flush");
        cache.save_job(&job(&jids[1])).expect("save"); // queued, not committed
        cache.save_job(&job(&jids[2])).expect("save");
        let listed: Vec<Jid> = cache
            .list_jobs()
            .expect("list")
            .into_iter()
            .map(|j| j.jid)
            .collect();
        assert_eq!(
            listed,
            vec![jids[1].clone(), jids[2].clone(), jids[0].clone()]
        );
        let since: Vec<Jid> = cache
            .jobs_since(&jids[2])
            .expect("since")
            .into_iter()
            .map(|j| j.jid)
            .collect();
        assert_eq!(
            since,
            vec![jids[2].clone(), jids[0].clone()],
            "from t0+3 s on"
        );
    }

    #[test]
    fn undecodable_records_are_skipped_not_fatal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = open(&dir);
        let good = jid_at(T0);
        cache.save_job(&job(&good)).expect("save");
        cache
            .add_return(&good, &minion("web1"), ret(json!(1)))
            .expect("add");
        cache.flush().expect("flush");
        let bad = jid_at(T0 - 1);
        let raw = |table, key: String, bytes: &[u8]| Write {
            table,
            key,
            value: Some(Arc::from(bytes)),
            seq: 0,
        };
        let garbage = [
            raw(Table::Jobs, bad.as_str().to_string(), b"\xc1garbage"),
            raw(
                Table::Returns,
                return_key(&good, &minion("web2")),
                b"\x92\x01",
            ),
        ];
        cache.store().commit(&garbage).expect("commit");
        assert_eq!(cache.get_job(&bad).expect("get"), None);
        assert_eq!(cache.list_jobs().expect("list"), vec![job(&good)]);
        let returns = cache.returns(&good).expect("returns");
        assert_eq!(returns.keys().collect::<Vec<_>>(), ["web1"]);
    }

    #[test]
    fn minion_data_keeps_the_latest_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = open(&dir);
        let (a, b) = (minion("web1"), minion("web2"));
        for i in 0..50 {
            cache
                .set_minion_data(&a, packed(&json!({"n": i})))
                .expect("set");
        }
        cache
            .set_minion_data(&b, packed(&json!({"n": "b"})))
            .expect("set");
        assert_eq!(cache.minion_data(&a).expect("get"), Some(json!({"n": 49})));
        cache.flush().expect("flush");
        assert_eq!(cache.minion_data(&a).expect("get"), Some(json!({"n": 49})));
        cache.remove_minion_data(&b).expect("remove");
        assert_eq!(
            cache.minion_data(&b).expect("get"),
            None,
            "removal visible before commit"
        );
        let all = cache.all_minion_data().expect("all");
        assert_eq!(all.keys().collect::<Vec<_>>(), ["web1"]);
        cache.flush().expect("flush");
        assert_eq!(cache.all_minion_data().expect("all").len(), 1);
    }

    #[test]
    fn cache_is_usable_as_a_shared_trait_object() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache: Arc<dyn JobCache> = Arc::new(open(&dir));
        let jid = jid_at(T0);
        std::thread::scope(|s| {
            for t in 0..4 {
                let cache = cache.clone();
                let jid = jid.clone();
                s.spawn(move || {
                    for i in 0..100 {
                        let id = minion(&format!("t{t}m{i}"));
                        assert!(
                            cache
                                .add_return(&jid, &id, ret(json!(i)))
                                .expect("add")
                                .first
                        );
                    }
                });
            }
        });
        assert_eq!(cache.returns(&jid).expect("returns").len(), 400);
    }
}
