//! Where the minion stands in the master's publish stream, kept on disk so a
//! restarted minion can fetch what it missed while it was down.
//!
//! Per master run: the last broadcast sequence and the last sequence on the
//! minion's own topic. A publication at or below them is a replay; one above
//! `last + 1` reveals a gap to catch up.
//!
//! The position is saved by [`start_delivery`]'s writer task, in batches
//! (group commit): a publication reaches the executor only once a saved
//! position covers it. So a restarted minion, which catches up on everything
//! after its saved position, is never handed a publication it already ran
//! (its seen-jid memory is gone by then): at most once, as before batching.
//! The cost is one write, on a blocking thread, per batch of publications
//! that arrived while the previous write was going on, not two fsyncs per
//! publication on the thread that received it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use brine_common::crypto::write_file;
use brine_common::wire::Publication;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamPosition {
    pub run: u64,
    pub broadcast: u64,
    pub own: u64,
    /// When the newest publication delivered was published (its jid, in
    /// microseconds since the epoch; 0: none yet), whichever master's
    /// stream it came in: what a minion that joins another master's stream
    /// ran up to (see `link::stream`).
    #[serde(default)]
    pub newest: i64,
}

/// What a newly seen sequence means.
#[derive(Debug, PartialEq, Eq)]
pub enum SeqVerdict {
    /// Next in line: process it.
    InOrder,
    /// Something before it was missed: fetch everything after `after` first.
    Gap { after: u64 },
    /// Already seen: drop it.
    Replay,
}

impl StreamPosition {
    fn last(&mut self, own: bool) -> &mut u64 {
        if own {
            &mut self.own
        } else {
            &mut self.broadcast
        }
    }

    /// Judge `seq` on the broadcast (`own == false`) or own topic, without
    /// recording it.
    pub fn classify(&mut self, own: bool, seq: u64) -> SeqVerdict {
        let last = *self.last(own);
        if seq <= last {
            SeqVerdict::Replay
        } else if seq == last + 1 {
            SeqVerdict::InOrder
        } else {
            SeqVerdict::Gap { after: last }
        }
    }

    /// Record `seq` as processed; false when it was already (a replay).
    pub fn advance(&mut self, own: bool, seq: u64) -> bool {
        let last = self.last(own);
        if seq <= *last {
            return false;
        }
        *last = seq;
        true
    }
}

/// The persisted position, if the minion ever had one.
pub struct PositionFile {
    path: Option<PathBuf>,
}

impl PositionFile {
    /// `None` keeps the position in memory only (e.g. for simulated minions).
    pub fn new(cachedir: Option<&Path>) -> Self {
        PositionFile {
            path: cachedir.map(|d| d.join("pubstate")),
        }
    }

    /// The position file of one of several masters the minion follows at
    /// once (each master's stream has its own position).
    pub fn for_master(&self, host: &str, port: u16) -> PositionFile {
        let name = format!("pubstate.{host}_{port}").replace(['/', ':'], "_");
        PositionFile {
            path: self.path.as_ref().map(|p| p.with_file_name(name)),
        }
    }

    pub fn load(&self) -> Option<StreamPosition> {
        let bytes = std::fs::read(self.path.as_ref()?).ok()?;
        rmp_serde::from_slice(&bytes).ok()
    }

    /// Whether the position is kept on disk (false: in memory only).
    pub fn is_on_disk(&self) -> bool {
        self.path.is_some()
    }

    /// Write the position (blocking: call it from a blocking thread, as the
    /// writer of [`start_delivery`] does).
    pub fn save(&self, pos: &StreamPosition) {
        let Some(path) = &self.path else { return };
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        match rmp_serde::to_vec_named(pos) {
            Ok(bytes) => {
                if let Err(e) = write_file(path, &bytes, 0o600) {
                    tracing::warn!("cannot save the publish position: {e}");
                }
            }
            Err(e) => tracing::warn!("cannot encode the publish position: {e}"),
        }
    }
}

/// The stream advanced to `pos`, delivering `publications` (possibly none:
/// a new grant moves the position too).
pub struct Advance {
    pub pos: StreamPosition,
    pub publications: Vec<Box<Publication>>,
}

/// Where the link puts what it takes from the stream, in stream order.
pub enum DeliverySink {
    /// Position in memory only (simulated minions): straight to the executor.
    Direct(mpsc::UnboundedSender<Box<Publication>>),
    /// Through the position writer, which saves before it passes them on.
    Durable(mpsc::UnboundedSender<Advance>),
}

impl DeliverySink {
    /// Hand over one step of the stream. Never blocks: callers hold the
    /// link's stream lock, which keeps the steps in order.
    pub fn deliver(
        &self,
        pos: StreamPosition,
        publications: impl IntoIterator<Item = Box<Publication>>,
    ) {
        match self {
            DeliverySink::Direct(to_executor) => {
                for publication in publications {
                    let _ = to_executor.send(publication);
                }
            }
            DeliverySink::Durable(to_writer) => {
                let publications = publications.into_iter().collect();
                let _ = to_writer.send(Advance { pos, publications });
            }
        }
    }
}

/// The sink for a link's deliveries to `to_executor`, and the writer task
/// behind it when `file` is on disk. Dropping the sink stops the writer
/// once it has saved and passed on everything handed to it.
pub fn start_delivery(
    file: PositionFile,
    to_executor: mpsc::UnboundedSender<Box<Publication>>,
) -> (DeliverySink, Option<JoinHandle<()>>) {
    if !file.is_on_disk() {
        return (DeliverySink::Direct(to_executor), None);
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let save = move |pos: &StreamPosition| file.save(pos);
    let writer = tokio::spawn(write_then_deliver(Arc::new(save), rx, to_executor));
    (DeliverySink::Durable(tx), Some(writer))
}

/// The group commit: take every step queued so far, save the newest
/// position once (the steps arrive in stream order, so it covers them all),
/// then pass their publications on in order.
async fn write_then_deliver<S>(
    save: Arc<S>,
    mut steps: mpsc::UnboundedReceiver<Advance>,
    to_executor: mpsc::UnboundedSender<Box<Publication>>,
) where
    S: Fn(&StreamPosition) + Send + Sync + 'static,
{
    while let Some(first) = steps.recv().await {
        let mut pos = first.pos;
        let mut publications = first.publications;
        while let Ok(next) = steps.try_recv() {
            pos = next.pos;
            publications.extend(next.publications);
        }
        let save = save.clone();
        if tokio::task::spawn_blocking(move || save(&pos))
            .await
            .is_err()
        {
            tracing::warn!("saving the publish position failed");
        }
        for publication in publications {
            let _ = to_executor.send(publication);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[test]
    fn sequences_detect_replays_and_gaps() {
        let mut p = StreamPosition::default();
        assert_eq!(p.classify(false, 1), SeqVerdict::InOrder);
        assert!(p.advance(false, 1));
        assert_eq!(p.classify(false, 1), SeqVerdict::Replay);
        assert!(!p.advance(false, 1));
        assert_eq!(p.classify(false, 4), SeqVerdict::Gap { after: 1 });
        assert_eq!(p.classify(true, 1), SeqVerdict::InOrder);
    }

    #[test]
    fn position_survives_a_restart() {
        let dir = tempfile::tempdir().expect("tmp");
        let f = PositionFile::new(Some(dir.path()));
        assert!(f.load().is_none());
        let pos = StreamPosition {
            run: 9,
            broadcast: 3,
            own: 1,
            newest: 0,
        };
        f.save(&pos);
        assert_eq!(PositionFile::new(Some(dir.path())).load(), Some(pos));
    }

    /// A publication told apart by its function's name (`test.<n>`).
    fn publication(n: u64) -> Box<Publication> {
        Box::new(Publication {
            jid: brine_common::ids::Jid::parse("20261207090000000001").expect("jid"),
            tgt: brine_common::wire::TargetSpec {
                tgt: serde_json::json!("*"),
                tgt_type: brine_common::target::TargetType::Glob,
            },
            fun: format!("test.{n}"),
            arg: vec![],
            kwarg: Default::default(),
            user: "root".into(),
            resent_to: None,
        })
    }

    /// Every publication is passed on in order, and only after a saved
    /// position covers it; a burst costs fewer saves than publications.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn publications_wait_for_a_save_that_covers_them_and_saves_are_batched() {
        let saved = Arc::new(Mutex::new(StreamPosition::default()));
        let saves = Arc::new(AtomicUsize::new(0));
        let save = {
            let (saved, saves) = (saved.clone(), saves.clone());
            move |pos: &StreamPosition| {
                std::thread::sleep(Duration::from_millis(5));
                *saved.lock().expect("lock") = *pos;
                saves.fetch_add(1, Ordering::SeqCst);
            }
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let (to_executor, mut delivered) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_then_deliver(Arc::new(save), rx, to_executor));
        let sink = DeliverySink::Durable(tx);
        const BURST: u64 = 200;
        for seq in 1..=BURST {
            let pos = StreamPosition {
                run: 1,
                broadcast: seq,
                own: 0,
                newest: 0,
            };
            sink.deliver(pos, vec![publication(seq)]);
        }
        for seq in 1..=BURST {
            let got = tokio::time::timeout(Duration::from_secs(10), delivered.recv())
                .await
                .expect("in time")
                .expect("a publication");
            assert_eq!(got.fun, format!("test.{seq}"), "in stream order");
            let covered = saved.lock().expect("lock").broadcast;
            assert!(
                covered >= seq,
                "publication {seq} passed on before a save covered it"
            );
        }
        drop(sink);
        tokio::time::timeout(Duration::from_secs(10), writer)
            .await
            .expect("the writer stops once its sink is dropped")
            .expect("writer");
        let count = saves.load(Ordering::SeqCst);
        assert!(
            count < BURST as usize / 2,
            "{count} saves for {BURST} publications"
        );
        assert_eq!(saved.lock().expect("lock").broadcast, BURST);
    }

    /// On disk, the writer leaves the newest position in the file.
    #[tokio::test]
    async fn the_writer_saves_the_newest_position() {
        let dir = tempfile::tempdir().expect("tmp");
        let (to_executor, mut delivered) = mpsc::unbounded_channel();
        let (sink, writer) = start_delivery(PositionFile::new(Some(dir.path())), to_executor);
        let pos = StreamPosition {
            run: 3,
            broadcast: 5,
            own: 2,
            newest: 0,
        };
        sink.deliver(pos, vec![publication(5)]);
        assert!(delivered.recv().await.is_some());
        drop(sink);
        writer
            .expect("a writer for a file on disk")
            .await
            .expect("writer");
        assert_eq!(PositionFile::new(Some(dir.path())).load(), Some(pos));
        let (sink, writer) = start_delivery(PositionFile::new(None), mpsc::unbounded_channel().0);
        assert!(matches!(sink, DeliverySink::Direct(_)) && writer.is_none());
    }
}
