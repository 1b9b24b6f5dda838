//! The return outbox: a job's return is on disk before it is sent and stays
//! there until the master acknowledges it, so a return survives a restart,
//! a crash or a SIGTERM of the minion, not only a reconnect.
//!
//! Storage: one small file per return in `<cachedir>/return_outbox`, named by
//! a sequence number (`<seq>.ret`, oldest first), written atomically (temp
//! file, fsync, rename, fsync of the directory). The minion has no embedded
//! database, and a file per return needs none: a crash leaves either the
//! whole return or none of it, and an acknowledgement is one unlink.
//!
//! Bounded by `return_outbox_max_count` and `return_outbox_max_bytes`. When a
//! new return would exceed either, the oldest returns leave the disk first
//! (a warning names each jid); a return dropped that way is still retried
//! from memory while the minion runs, it only no longer survives a restart.
//! A single return bigger than the byte cap is never written (warned too).
//!
//! The master stores each return once whatever the number of copies it is
//! sent, so re-sending one whose acknowledgement was lost is harmless.
//!
//! A job that is running has a mark in the same directory (`<jid>.running`)
//! holding the return to send if the minion dies before the job ends: at the
//! next start each mark left without a return becomes that error return, so a
//! minion killed in the middle of a job still tells the master (the job is not
//! run again: a publication runs at most once). Marks are written without
//! fsync: they must outlive the process (kill -9), not the host, and two
//! fsyncs per job would cost more than most jobs.
//!
//! File I/O happens on blocking threads only. A minion without a disk outbox
//! (`brine-call`, the simulated minions of `brine-swarm`) pays nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brine_common::ids::Jid;
use brine_common::wire::{CACHE_UNAVAILABLE, JobReturn, Reply, Request};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::link::Link;

/// The outbox's directory under the minion's `cachedir`.
pub const OUTBOX_DIR: &str = "return_outbox";
const SUFFIX: &str = ".ret";
const RUNNING_SUFFIX: &str = ".running";

/// How long one delivery attempt waits for the master.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest pause between attempts.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

/// Something the master must acknowledge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Pending {
    /// The return of a job the master published.
    Return(JobReturn),
    /// The return of a job of the minion's own scheduler.
    ScheduleReturn { schedule: String, ret: JobReturn },
    /// The return of a job the minion started on its own (`startup_states`).
    StandaloneReturn(JobReturn),
}

impl Pending {
    pub fn jid(&self) -> &Jid {
        match self {
            Pending::Return(ret)
            | Pending::ScheduleReturn { ret, .. }
            | Pending::StandaloneReturn(ret) => &ret.jid,
        }
    }

    fn request(&self) -> Request {
        match self {
            Pending::Return(ret) => Request::Return(ret.clone()),
            Pending::ScheduleReturn { schedule, ret } => Request::ScheduleReturn {
                schedule: schedule.clone(),
                ret: ret.clone(),
            },
            Pending::StandaloneReturn(ret) => Request::StandaloneReturn(ret.clone()),
        }
    }
}

/// How much the outbox may hold on disk.
#[derive(Debug, Clone, Copy)]
pub struct OutboxLimits {
    pub max_count: usize,
    pub max_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("cannot use the return outbox {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A handle to the outbox; cheap to clone.
#[derive(Clone, Default)]
pub struct Outbox {
    disk: Option<Arc<DiskOutbox>>,
}

/// A return handed to the outbox, ready to be sent.
pub struct Delivery {
    item: Pending,
    /// Its entry on disk, removed once the master settled it.
    entry: Option<(Arc<DiskOutbox>, u64)>,
}

/// A running job's mark on disk; dropping it (the job ended, or was killed)
/// removes the mark.
pub struct RunningMark {
    mark: Option<(Arc<DiskOutbox>, Jid)>,
}

impl Drop for RunningMark {
    fn drop(&mut self) {
        if let Some((disk, jid)) = self.mark.take() {
            // Off the async threads; outside a runtime (tests) inline.
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => drop(rt.spawn_blocking(move || disk.unmark_running(&jid))),
                Err(_) => disk.unmark_running(&jid),
            }
        }
    }
}

/// The returns a previous run left undelivered, oldest first.
pub struct Backlog(Vec<(u64, Pending)>);

impl Backlog {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The jobs of the master's publications these returns answer: the
    /// minion ran them, so it must not run them again if a restarted master
    /// publishes them once more before the returns are stored.
    pub fn published_jids(&self) -> Vec<Jid> {
        self.0
            .iter()
            .filter_map(|(_, item)| match item {
                Pending::Return(ret) => Some(ret.jid.clone()),
                Pending::ScheduleReturn { .. } | Pending::StandaloneReturn(_) => None,
            })
            .collect()
    }
}

impl Outbox {
    /// No disk: returns are retried from memory only.
    pub fn in_memory() -> Self {
        Outbox::default()
    }

    /// Open (creating) the outbox in `dir` and read what it holds. Blocking.
    pub fn open(dir: &Path, limits: OutboxLimits) -> Result<(Outbox, Backlog), OutboxError> {
        let (disk, backlog) = DiskOutbox::open(dir, limits)?;
        let outbox = Outbox {
            disk: Some(Arc::new(disk)),
        };
        Ok((outbox, Backlog(backlog)))
    }

    /// Put `item` on disk (when the outbox has one) before it is sent.
    pub async fn persist(&self, item: Pending) -> Delivery {
        let Some(disk) = &self.disk else {
            return Delivery { item, entry: None };
        };
        let (disk, copy) = (disk.clone(), item.clone());
        let stored = tokio::task::spawn_blocking({
            let disk = disk.clone();
            move || disk.store(&copy)
        })
        .await
        .ok()
        .flatten();
        Delivery {
            item,
            entry: stored.map(|id| (disk, id)),
        }
    }

    /// Mark a job as running, with `interrupted`, the return the next start
    /// sends if the minion dies before the job ends. Nothing without a disk.
    pub async fn mark_running(&self, interrupted: JobReturn) -> RunningMark {
        let Some(disk) = &self.disk else {
            return RunningMark { mark: None };
        };
        let jid = interrupted.jid.clone();
        let written = tokio::task::spawn_blocking({
            let disk = disk.clone();
            move || disk.mark_running(&interrupted)
        })
        .await
        .unwrap_or(false);
        RunningMark {
            mark: written.then(|| (disk.clone(), jid)),
        }
    }

    /// Send what a previous run left, oldest first, one after the other.
    pub async fn replay(&self, link: Link, backlog: Backlog) {
        let Some(disk) = &self.disk else { return };
        if !backlog.is_empty() {
            tracing::info!(
                "re-sending {} returns left in the outbox by the last run",
                backlog.len()
            );
        }
        for (id, item) in backlog.0 {
            let delivery = Delivery {
                item,
                entry: Some((disk.clone(), id)),
            };
            delivery.send(&link).await;
        }
    }

    /// How many returns are on disk waiting for the master.
    pub fn waiting(&self) -> usize {
        self.disk.as_ref().map_or(0, |d| *d.waiting.borrow())
    }

    /// Wait until no return is waiting for the master, or until `deadline`;
    /// true when none is.
    pub async fn wait_empty(&self, deadline: tokio::time::Instant) -> bool {
        let Some(disk) = &self.disk else { return true };
        let mut waiting = disk.waiting.subscribe();
        tokio::time::timeout_at(deadline, waiting.wait_for(|n| *n == 0))
            .await
            .is_ok()
    }
}

/// What the master made of a return.
#[derive(Debug, PartialEq, Eq)]
enum Settled {
    Acknowledged,
    Refused,
}

impl Delivery {
    /// Send until the master acknowledges the return or refuses it for good
    /// (retrying through reconnects and restarts of either side), then
    /// remove it from the disk.
    pub async fn send(self, link: &Link) {
        let jid = self.item.jid().clone();
        let mut wait = Duration::from_millis(200);
        loop {
            let answer = link.request(self.item.request(), ATTEMPT_TIMEOUT).await;
            match judge(&jid, answer) {
                Some(_) => break,
                None => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_RETRY_WAIT);
                }
            }
        }
        if let Some((disk, id)) = self.entry {
            let _ = tokio::task::spawn_blocking(move || disk.remove(id)).await;
        }
    }
}

/// Whether an answer settles a return (`None`: send it again).
fn judge(jid: &Jid, answer: Result<Reply, crate::link::LinkError>) -> Option<Settled> {
    match answer {
        Ok(Reply::Ok) => Some(Settled::Acknowledged),
        // The master could not store it now: a refusal to come back later.
        Ok(Reply::Refused { reason }) if reason == CACHE_UNAVAILABLE => {
            tracing::warn!(%jid, "the master cannot store the return yet: {reason}");
            None
        }
        Ok(Reply::Refused { reason }) => {
            tracing::warn!(%jid, "the master refused the return: {reason}");
            Some(Settled::Refused)
        }
        Ok(other) => {
            tracing::warn!(%jid, "unexpected answer to a return: {other:?}");
            Some(Settled::Refused)
        }
        Err(e) => {
            tracing::debug!(%jid, "return not delivered yet: {e}");
            None
        }
    }
}

/// The outbox's directory and what it holds.
struct DiskOutbox {
    dir: PathBuf,
    limits: OutboxLimits,
    /// Held across each file operation, so the index and the directory
    /// agree (only blocking threads take it).
    index: Mutex<Index>,
    /// How many entries are on disk, for a stopping minion to wait on.
    waiting: watch::Sender<usize>,
}

#[derive(Default)]
struct Index {
    entries: BTreeMap<u64, Entry>,
    bytes: u64,
    next_id: u64,
}

struct Entry {
    jid: Jid,
    bytes: u64,
}

impl DiskOutbox {
    fn open(
        dir: &Path,
        limits: OutboxLimits,
    ) -> Result<(DiskOutbox, Vec<(u64, Pending)>), OutboxError> {
        let io = |source| OutboxError::Io {
            path: dir.to_path_buf(),
            source,
        };
        brine_common::crypto::private_dir(dir).map_err(io)?;
        let mut index = Index::default();
        let mut backlog = Vec::new();
        let mut marks = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.to_string_lossy().ends_with(RUNNING_SUFFIX) {
                marks.push(path);
                continue;
            }
            match read_entry(&path) {
                Some((id, item, bytes)) => {
                    index.insert(id, item.jid().clone(), bytes);
                    backlog.push((id, item));
                }
                None => discard(&path),
            }
        }
        backlog.sort_by_key(|(id, _)| *id);
        let disk = DiskOutbox {
            dir: dir.to_path_buf(),
            limits,
            waiting: watch::Sender::new(index.entries.len()),
            index: Mutex::new(index),
        };
        // Limits lowered since the last run apply to what it left too.
        let evicted = disk.make_room(&mut disk.lock(), 0, 0);
        backlog.retain(|(id, _)| !evicted.contains(id));
        backlog.extend(disk.interrupted_returns(&marks));
        disk.publish_count(&disk.lock());
        Ok((disk, backlog))
    }

    /// The jobs the last run died in the middle of: each mark without a
    /// return in the outbox becomes its error return, stored like any other.
    /// The marks are removed.
    fn interrupted_returns(&self, marks: &[PathBuf]) -> Vec<(u64, Pending)> {
        let mut stored = Vec::new();
        for path in marks {
            let interrupted = std::fs::read(path)
                .ok()
                .and_then(|bytes| rmp_serde::from_slice::<JobReturn>(&bytes).ok());
            if let Some(ret) = interrupted {
                let returned = self.lock().entries.values().any(|e| e.jid == ret.jid);
                if !returned {
                    tracing::warn!(jid = %ret.jid, fun = %ret.fun, "the last run died while this job was running; reporting it");
                    let item = Pending::Return(ret);
                    if let Some(id) = self.store(&item) {
                        stored.push((id, item));
                    }
                }
            }
            discard(path);
        }
        stored
    }

    fn running_path(&self, jid: &Jid) -> PathBuf {
        self.dir.join(format!("{jid}{RUNNING_SUFFIX}"))
    }

    /// Write a running job's mark (see the module doc); whether it is on disk.
    fn mark_running(&self, interrupted: &JobReturn) -> bool {
        let jid = &interrupted.jid;
        let Ok(bytes) = rmp_serde::to_vec_named(interrupted) else {
            return false;
        };
        let path = self.running_path(jid);
        let tmp = self.dir.join(format!(".{jid}{RUNNING_SUFFIX}.tmp"));
        match std::fs::write(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, &path)) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(%jid, "cannot mark the job as running in the outbox: {e}");
                discard(&tmp);
                false
            }
        }
    }

    fn unmark_running(&self, jid: &Jid) {
        discard(&self.running_path(jid));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:020}{SUFFIX}"))
    }

    /// Write `item` as a new entry; its id, or `None` when it is not on disk
    /// (too big, or the write failed: it is then retried from memory only).
    fn store(&self, item: &Pending) -> Option<u64> {
        let jid = item.jid();
        let bytes = match rmp_serde::to_vec_named(item) {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(%jid, "cannot encode the return for the outbox: {e}");
                return None;
            }
        };
        let size = bytes.len() as u64;
        if size > self.limits.max_bytes {
            tracing::warn!(
                %jid,
                size,
                "the return is bigger than return_outbox_max_bytes: not kept on disk, it will not survive a restart"
            );
            return None;
        }
        let mut index = self.lock();
        self.make_room(&mut index, 1, size);
        let id = index.next_id;
        index.next_id += 1;
        let path = self.path(id);
        if let Err(e) = brine_common::crypto::write_file(&path, &bytes, 0o600) {
            tracing::warn!(%jid, "cannot write the return to the outbox: {e}");
            return None;
        }
        index.insert(id, jid.clone(), size);
        self.publish_count(&index);
        Some(id)
    }

    /// Drop the oldest entries until `count` more of `size` bytes in all
    /// fit; the ids dropped.
    fn make_room(&self, index: &mut Index, count: usize, size: u64) -> Vec<u64> {
        let mut evicted = Vec::new();
        let full = |index: &Index| {
            index.entries.len() + count > self.limits.max_count.max(1)
                || index.bytes + size > self.limits.max_bytes
        };
        while full(index)
            && let Some((id, entry)) = index.entries.pop_first()
        {
            index.bytes -= entry.bytes;
            tracing::warn!(
                jid = %entry.jid,
                "the return outbox is full (return_outbox_max_count / return_outbox_max_bytes): dropping the oldest return from the disk; it is retried from memory but will not survive a restart"
            );
            discard(&self.path(id));
            evicted.push(id);
        }
        evicted
    }

    /// The master settled entry `id`: forget it.
    fn remove(&self, id: u64) {
        let mut index = self.lock();
        if let Some(entry) = index.entries.remove(&id) {
            index.bytes -= entry.bytes;
            discard(&self.path(id));
        }
        self.publish_count(&index);
    }

    fn publish_count(&self, index: &Index) {
        self.waiting.send_replace(index.entries.len());
    }
}

impl Index {
    fn insert(&mut self, id: u64, jid: Jid, bytes: u64) {
        self.entries.insert(id, Entry { jid, bytes });
        self.bytes += bytes;
        self.next_id = self.next_id.max(id + 1);
    }
}

/// An entry file's id, content and size; `None` for anything else (a temp
/// file a crash left, or a file that does not decode).
fn read_entry(path: &Path) -> Option<(u64, Pending, u64)> {
    let name = path.file_name()?.to_str()?;
    let id: u64 = name.strip_suffix(SUFFIX)?.parse().ok()?;
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!("cannot read {}: {e}", path.display());
            return None;
        }
    };
    match rmp_serde::from_slice(&bytes) {
        Ok(item) => Some((id, item, bytes.len() as u64)),
        Err(e) => {
            tracing::warn!("dropping {}: not a return ({e})", path.display());
            None
        }
    }
}

fn discard(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("cannot remove {}: {e}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ROOMY: OutboxLimits = OutboxLimits {
        max_count: 100,
        max_bytes: 1 << 20,
    };

    fn ret(n: u64) -> Pending {
        Pending::Return(JobReturn {
            jid: Jid::parse(&format!("202612070900000000{n:02}")).expect("jid"),
            fun: "test.sleep".into(),
            fun_args: vec![json!(n)],
            ret: json!(true),
            retcode: 0,
            success: true,
            out: None,
        })
    }

    fn open(dir: &Path, limits: OutboxLimits) -> (DiskOutbox, Vec<(u64, Pending)>) {
        DiskOutbox::open(dir, limits).expect("open")
    }

    fn items(backlog: &[(u64, Pending)]) -> Vec<Pending> {
        backlog.iter().map(|(_, item)| item.clone()).collect()
    }

    fn files(dir: &Path) -> usize {
        std::fs::read_dir(dir).expect("dir").count()
    }

    /// Only returns of the master's publications name jobs the master may
    /// publish again; a scheduled or standalone job has a jid of its own.
    #[test]
    fn the_backlog_names_the_published_jobs_it_answers() {
        let Pending::Return(own) = ret(2) else {
            unreachable!()
        };
        let backlog = Backlog(vec![
            (1, ret(1)),
            (
                2,
                Pending::ScheduleReturn {
                    schedule: "nightly".into(),
                    ret: own.clone(),
                },
            ),
            (3, Pending::StandaloneReturn(own)),
            (4, ret(3)),
        ]);
        let jids: Vec<Jid> = [ret(1), ret(3)].iter().map(|p| p.jid().clone()).collect();
        assert_eq!(backlog.published_jids(), jids);
    }

    /// What is stored comes back after a "restart", oldest first; what the
    /// master acknowledged does not.
    #[test]
    fn unacknowledged_returns_survive_a_restart_in_order() {
        let dir = tempfile::tempdir().expect("tmp");
        let (outbox, backlog) = open(dir.path(), ROOMY);
        assert!(backlog.is_empty());
        let ids: Vec<u64> = (1..=3)
            .map(|n| outbox.store(&ret(n)).expect("stored"))
            .collect();
        assert_eq!(*outbox.waiting.borrow(), 3);
        outbox.remove(ids[1]);
        assert_eq!(*outbox.waiting.borrow(), 2);
        drop(outbox);

        let (outbox, backlog) = open(dir.path(), ROOMY);
        assert_eq!(items(&backlog), [ret(1), ret(3)]);
        let next = outbox.store(&ret(4)).expect("stored");
        assert!(next > ids[2], "new entries sort after the old ones");
        let (_, backlog) = open(dir.path(), ROOMY);
        assert_eq!(items(&backlog), [ret(1), ret(3), ret(4)]);
    }

    /// A full outbox drops its oldest entries, by count and by bytes; a
    /// return bigger than the byte cap is never written.
    #[test]
    fn a_full_outbox_drops_the_oldest() {
        let dir = tempfile::tempdir().expect("tmp");
        let by_count = OutboxLimits {
            max_count: 2,
            max_bytes: 1 << 20,
        };
        let (outbox, _) = open(dir.path(), by_count);
        for n in 1..=3 {
            outbox.store(&ret(n)).expect("stored");
        }
        assert_eq!(files(dir.path()), 2);
        drop(outbox);
        let (_, backlog) = open(dir.path(), by_count);
        assert_eq!(items(&backlog), [ret(2), ret(3)]);

        let one = rmp_serde::to_vec_named(&ret(1)).expect("encode").len() as u64;
        let by_bytes = OutboxLimits {
            max_count: 100,
            max_bytes: one * 2 + one / 2,
        };
        let (outbox, backlog) = open(dir.path(), by_bytes);
        assert_eq!(backlog.len(), 2);
        outbox.store(&ret(4)).expect("stored");
        drop(outbox);
        let (outbox, backlog) = open(dir.path(), by_bytes);
        assert_eq!(items(&backlog), [ret(3), ret(4)]);

        let Pending::Return(mut huge) = ret(5) else {
            unreachable!()
        };
        huge.ret = json!("x".repeat(one as usize * 3));
        assert_eq!(outbox.store(&Pending::Return(huge)), None);
        assert_eq!(files(dir.path()), 2, "the outbox is unchanged");
    }

    /// Lowered limits apply to what the last run left.
    #[test]
    fn lowered_limits_apply_at_start() {
        let dir = tempfile::tempdir().expect("tmp");
        let (outbox, _) = open(dir.path(), ROOMY);
        for n in 1..=3 {
            outbox.store(&ret(n)).expect("stored");
        }
        drop(outbox);
        let one = OutboxLimits {
            max_count: 1,
            max_bytes: 1 << 20,
        };
        let (outbox, backlog) = open(dir.path(), one);
        assert_eq!(items(&backlog), [ret(3)], "the newest stays");
        assert_eq!(*outbox.waiting.borrow(), 1);
        assert_eq!(files(dir.path()), 1);
    }

    /// Leftovers of a crash (a temp file, a torn or foreign file) are
    /// removed, not sent.
    #[test]
    fn crash_leftovers_are_discarded() {
        let dir = tempfile::tempdir().expect("tmp");
        let (outbox, _) = open(dir.path(), ROOMY);
        outbox.store(&ret(1)).expect("stored");
        drop(outbox);
        std::fs::write(dir.path().join(".00000000000000000001.ret.1.0.tmp"), b"x").expect("w");
        std::fs::write(dir.path().join("00000000000000000007.ret"), b"\xff").expect("w");
        let (_, backlog) = open(dir.path(), ROOMY);
        assert_eq!(items(&backlog), [ret(1)]);
        assert_eq!(files(dir.path()), 1);
    }

    fn interrupted(n: u64) -> JobReturn {
        let Pending::Return(mut ret) = ret(n) else {
            unreachable!()
        };
        ret.ret = json!("interrupted");
        ret.success = false;
        ret
    }

    fn marks(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(RUNNING_SUFFIX))
            .count()
    }

    /// A job the last run died in the middle of (its mark left on disk)
    /// is reported at the next start with the mark's error return, once; a
    /// mark whose return made it to the outbox adds nothing.
    #[test]
    fn a_job_the_last_run_died_in_is_reported_at_the_next_start() {
        let dir = tempfile::tempdir().expect("tmp");
        let (outbox, _) = open(dir.path(), ROOMY);
        assert!(outbox.mark_running(&interrupted(1)));
        assert!(outbox.mark_running(&interrupted(2)));
        outbox.store(&ret(2)).expect("stored"); // job 2 ended, then the crash
        assert_eq!(marks(dir.path()), 2);
        drop(outbox);

        let (_, backlog) = open(dir.path(), ROOMY);
        assert_eq!(items(&backlog), [ret(2), Pending::Return(interrupted(1))]);
        assert_eq!(marks(dir.path()), 0);
        let (_, backlog) = open(dir.path(), ROOMY);
        assert_eq!(backlog.len(), 2, "reported once, then an ordinary entry");
    }

    /// A job that ends (or is killed) drops its mark: nothing to report.
    #[tokio::test]
    async fn a_finished_job_leaves_no_mark() {
        let dir = tempfile::tempdir().expect("tmp");
        let (outbox, _) = Outbox::open(dir.path(), ROOMY).expect("open");
        let mark = outbox.mark_running(interrupted(1)).await;
        assert_eq!(marks(dir.path()), 1);
        drop(mark);
        for _ in 0..100 {
            if marks(dir.path()) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(marks(dir.path()), 0);
        drop(outbox);
        let (_, backlog) = Outbox::open(dir.path(), ROOMY).expect("open");
        assert!(backlog.is_empty());
    }

    /// Only an acknowledgement or a definitive refusal settles a return;
    /// a transport error or a master that cannot store it now does not.
    #[test]
    fn what_settles_a_return() {
        let jid = ret(1).jid().clone();
        assert_eq!(judge(&jid, Ok(Reply::Ok)), Some(Settled::Acknowledged));
        let refused = |reason: &str| {
            Ok(Reply::Refused {
                reason: reason.into(),
            })
        };
        assert_eq!(judge(&jid, refused("no job x")), Some(Settled::Refused));
        assert_eq!(judge(&jid, refused(CACHE_UNAVAILABLE)), None);
        let timeout = Err(crate::link::LinkError::Timeout(Duration::from_secs(1)));
        assert_eq!(judge(&jid, timeout), None);
    }
}
