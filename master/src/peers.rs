//! Masters that share a cluster store (`cluster_store: postgres`) relay to
//! each other through it, so a job published on any master reaches every
//! minion whichever master it is connected to, and the client waiting on
//! the publishing master hears of every minion's progress.
//!
//! - Publications: the publishing master adds each one to
//!   `brine_publications` and notifies `brine_publications`; every other
//!   master reads the rows after the last one it relayed, and the recent
//!   rows below it it has not relayed (a row's number is taken when its
//!   insert starts, so with three masters a lower one can commit after a
//!   higher one), and publishes them to its own minions (a minion connected
//!   to several masters runs a jid once). A lost notification is made up by
//!   the next one or by the listener's reconnection, within the 10 minutes
//!   rows are kept; a failed read is tried again after a second.
//! - Minion data and the mine: a change is notified with the committing
//!   master's name; the others read the changed record again, and every
//!   record after their listener (re)connects.
//! - Job events: a master that takes an acknowledgement, a heartbeat or a
//!   return for a job another master published sends the event to that
//!   master (`brine_job_events`, batched every few milliseconds, at most
//!   [`PAYLOAD_MAX`] bytes per notification). A return too large for that
//!   goes as a reference, and the publishing master reads it from the
//!   shared job cache.
//! - Presence: every master writes which minions it has (`brine_presence`)
//!   every [`PRESENCE_INTERVAL`] and reads which ones the others have, so
//!   "connected" means connected to any master.
//!
//! Why PostgreSQL rather than links between masters: the masters share it
//! already, it needs no discovery, no second authenticated channel and no
//! ports between masters, and a master that was away catches up from the
//! table. The cost is a round trip through the database per batch.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brine_common::event::Event;
use brine_common::ids::{Jid, MinionId};
use brine_common::wire::{JobReturn, Publication};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::bus::BusEvent;
use crate::cluster_store::{Cluster, ClusterError, Shared};
use crate::daemon::Master;
use crate::job_cache::MINION_DATA_CHANNEL;
use crate::mine::MINE_CHANNEL;

const PUBLICATIONS: &str = "brine_publications";
const JOB_EVENTS: &str = "brine_job_events";
/// PostgreSQL refuses notification payloads of 8,000 bytes or more.
const PAYLOAD_MAX: usize = 7_000;
/// How long forwarded events gather before they are sent together.
const BATCH_WINDOW: Duration = Duration::from_millis(5);
/// How often a master says which minions it has.
pub const PRESENCE_INTERVAL: Duration = Duration::from_secs(2);
/// Relayed publications are kept this long (a master that was away longer
/// relies on `publish_unfinished` and the minions' own catch-up).
const PUBLICATION_KEEP_SECS: f64 = 600.0;
/// The namespace of the duty locks (two int4 keys: this, the duty's hash).
const LEADER_LOCK_SPACE: i32 = 0x6c65_6164; // "lead"
/// Most publications relayed per read.
const RELAY_BATCH: i64 = 1000;

/// A relayed publication as read: its number, a list target's minions,
/// the encoded publication.
type RelayedRow = (i64, Option<Vec<MinionId>>, Vec<u8>);

/// What a listening master hears.
#[derive(Debug)]
pub enum PeerNote {
    /// The listener (re)connected: what changed while nobody listened must
    /// be read again.
    Connected,
    /// New publications may be waiting.
    Publications,
    /// Job events some master sent (maybe to another master).
    Events(String),
    /// A master changed this minion's data (grains, pillar) in the store.
    MinionData(String),
    /// A master changed this minion's mine (`<origin> <id>`).
    Mine(String),
}

/// What one event notification carries (written by [`payloads`]).
#[derive(Debug, Deserialize)]
struct EventBatch {
    /// The master the events are for.
    to: i64,
    events: Vec<Relayed>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Relayed {
    Event {
        tag: String,
        data: Value,
    },
    /// A return too large to carry: read it from the job cache.
    Return {
        ret: (Jid, MinionId),
    },
}

struct Forward {
    to: i64,
    /// The [`Relayed`] event, serialised once (its size decides the batches).
    json: String,
}

/// This master's side of the relay.
pub struct Peers {
    cluster: Arc<Cluster>,
    reads: Arc<Shared>,
    /// This master's name among its peers, new at every start.
    origin: i64,
    forwards: mpsc::UnboundedSender<Forward>,
    /// The minions other masters had at their last report.
    elsewhere: Mutex<HashSet<MinionId>>,
}

impl std::fmt::Debug for Peers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peers")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Peers {
    pub fn start(cluster: Arc<Cluster>) -> Arc<Peers> {
        let (forwards, pending) = mpsc::unbounded_channel();
        let reads = Shared::new(cluster.clone());
        cluster.spawn(send_events(reads.clone(), pending));
        Arc::new(Peers {
            reads,
            origin: rand::random::<i64>() & i64::MAX,
            forwards,
            elsewhere: Mutex::default(),
            cluster,
        })
    }

    pub fn origin(&self) -> i64 {
        self.origin
    }

    /// Offer a publication to the other masters; `to`: a list target's minions.
    pub async fn announce(
        &self,
        publication: &Publication,
        to: Option<&[MinionId]>,
    ) -> Result<(), ClusterError> {
        let bytes = rmp_serde::to_vec_named(publication).map_err(|e| ClusterError::Encode {
            what: "a publication",
            reason: e.to_string(),
        })?;
        let minions: Option<Vec<String>> =
            to.map(|ids| ids.iter().map(|m| m.to_string()).collect());
        let (reads, origin) = (self.reads.clone(), self.origin);
        let what = "a publication's relay";
        self.cluster
            .run(what, async move {
                let client = reads.client().await?;
                client
                    .execute(
                        "WITH p AS (INSERT INTO brine_publications (origin, minions, publication) \
                         VALUES ($1, $2, $3) RETURNING seq) \
                         SELECT pg_notify('brine_publications', seq::text) FROM p",
                        &[&origin, &minions, &bytes],
                    )
                    .await
                    .map_err(ClusterError::query(what))?;
                Ok(())
            })
            .await
    }

    /// The newest relayed publication's number (where a starting master
    /// begins: older jobs are `publish_unfinished`'s business).
    pub async fn last_publication(&self) -> Result<i64, ClusterError> {
        let reads = self.reads.clone();
        self.cluster
            .run("the publication relay", async move {
                let client = reads.client().await?;
                let row = client
                    .query_one("SELECT coalesce(max(seq), 0) FROM brine_publications", &[])
                    .await
                    .map_err(ClusterError::query("the publication relay"))?;
                Ok(row.get::<_, i64>(0))
            })
            .await
    }

    /// The other masters' publications after `seq`, oldest first.
    async fn publications_after(&self, seq: i64) -> Result<Vec<RelayedRow>, ClusterError> {
        self.publications(
            "SELECT seq, minions, publication FROM brine_publications \
             WHERE seq > $1 AND origin <> $2 ORDER BY seq LIMIT $3",
            seq,
            RELAY_BATCH,
        )
        .await
    }

    /// The other masters' recent publications numbered up to `last` (and at
    /// most [`LATE_SPAN`] below it): where one that committed late shows.
    async fn late_publications(&self, last: i64) -> Result<Vec<RelayedRow>, ClusterError> {
        self.publications(
            "SELECT seq, minions, publication FROM brine_publications \
             WHERE seq <= $1 AND seq > $1 - $3 AND origin <> $2 \
             AND created > now() - make_interval(secs => 30.0) ORDER BY seq",
            last,
            LATE_SPAN,
        )
        .await
    }

    async fn publications(
        &self,
        sql: &'static str,
        seq: i64,
        bound: i64,
    ) -> Result<Vec<RelayedRow>, ClusterError> {
        let (reads, origin) = (self.reads.clone(), self.origin);
        let what = "the publication relay";
        let rows = self
            .cluster
            .run(what, async move {
                let client = reads.client().await?;
                client
                    .query(sql, &[&seq, &origin, &bound])
                    .await
                    .map_err(ClusterError::query(what))
            })
            .await?;
        Ok(rows
            .iter()
            .map(|row| {
                let minions: Option<Vec<String>> = row.get(1);
                let minions = minions.map(|ids| {
                    ids.iter()
                        .filter_map(|id| MinionId::parse(id).ok())
                        .collect()
                });
                (row.get::<_, i64>(0), minions, row.get::<_, Vec<u8>>(2))
            })
            .collect())
    }

    /// Send `event` to the master `to` (nothing when that is this one).
    pub fn forward(&self, to: i64, event: &BusEvent) {
        if to == self.origin {
            return;
        }
        let data = event.data();
        let ret = return_of(&event.tag, &data);
        let whole = Relayed::Event {
            tag: event.tag.clone(),
            data,
        };
        let json = match serde_json::to_string(&whole) {
            Ok(json) if json.len() < PAYLOAD_MAX => json,
            _ => match ret.map(|ret| serde_json::to_string(&Relayed::Return { ret })) {
                Some(Ok(json)) => json,
                _ => {
                    tracing::warn!("event {} too large to relay to its master", event.tag);
                    return;
                }
            },
        };
        let _ = self.forwards.send(Forward { to, json });
    }

    /// Say which minions this master has, and learn which the others have
    /// (those seen within `window`).
    pub async fn report_presence(
        &self,
        here: Vec<MinionId>,
        window: Duration,
    ) -> Result<(), ClusterError> {
        let (reads, origin) = (self.reads.clone(), self.origin);
        let here: Vec<String> = here.iter().map(|m| m.to_string()).collect();
        let window = window.as_secs_f64();
        let what = "the presence report";
        let elsewhere = self
            .cluster
            .run(what, async move {
                let client = reads.client().await?;
                client
                    .execute(
                        "INSERT INTO brine_presence (minion, origin, seen) \
                         SELECT m, $2, now() FROM unnest($1::text[]) AS m \
                         ON CONFLICT (minion, origin) DO UPDATE SET seen = excluded.seen",
                        &[&here, &origin],
                    )
                    .await
                    .map_err(ClusterError::query(what))?;
                client
                    .query(
                        "SELECT DISTINCT minion FROM brine_presence \
                         WHERE origin <> $1 AND seen > now() - make_interval(secs => $2)",
                        &[&origin, &window],
                    )
                    .await
                    .map_err(ClusterError::query(what))
            })
            .await?;
        let elsewhere = elsewhere
            .iter()
            .filter_map(|row| MinionId::parse(row.get::<_, &str>(0)).ok())
            .collect();
        *self.elsewhere.lock().unwrap_or_else(|p| p.into_inner()) = elsewhere;
        Ok(())
    }

    /// The minions connected to other masters, as last reported.
    pub fn connected_elsewhere(&self) -> HashSet<MinionId> {
        self.elsewhere
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Drop relayed publications and presence rows nobody needs any more.
    pub async fn prune(&self) -> Result<(), ClusterError> {
        let reads = self.reads.clone();
        let what = "the relay's pruning";
        self.cluster
            .run(what, async move {
                let client = reads.client().await?;
                client
                    .execute(
                        "DELETE FROM brine_publications \
                         WHERE created < now() - make_interval(secs => $1)",
                        &[&PUBLICATION_KEEP_SECS],
                    )
                    .await
                    .map_err(ClusterError::query(what))?;
                client
                    .execute(
                        "DELETE FROM brine_presence WHERE seen < now() - interval '1 hour'",
                        &[],
                    )
                    .await
                    .map_err(ClusterError::query(what))?;
                Ok(())
            })
            .await
    }

    /// What the other masters send, until the receiver is dropped.
    pub fn listen(&self) -> mpsc::UnboundedReceiver<PeerNote> {
        let (tx, rx) = mpsc::unbounded_channel();
        let cluster = self.cluster.clone();
        self.cluster.spawn(async move {
            while !tx.is_closed() {
                match cluster.connect_listening().await {
                    Ok((client, mut notes)) => {
                        let listen = format!(
                            "LISTEN {PUBLICATIONS}; LISTEN {JOB_EVENTS}; \
                             LISTEN {MINION_DATA_CHANNEL}; LISTEN {MINE_CHANNEL}"
                        );
                        if let Err(e) = client.batch_execute(&listen).await {
                            tracing::warn!("cannot listen to the other masters: {e}");
                        } else {
                            let _ = tx.send(PeerNote::Connected);
                            while let Some(n) = notes.recv().await {
                                let note = match n.channel() {
                                    PUBLICATIONS => PeerNote::Publications,
                                    MINION_DATA_CHANNEL => {
                                        PeerNote::MinionData(n.payload().to_string())
                                    }
                                    MINE_CHANNEL => PeerNote::Mine(n.payload().to_string()),
                                    _ => PeerNote::Events(n.payload().to_string()),
                                };
                                if tx.send(note).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                    Err(e) => tracing::warn!("cannot listen to the other masters: {e}"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        rx
    }
}

/// The jid and minion of a `salt/job/<jid>/ret/<id>` event.
fn return_of(tag: &str, data: &Value) -> Option<(Jid, MinionId)> {
    if !tag.starts_with("salt/job/") || !tag.contains("/ret/") {
        return None;
    }
    let jid = Jid::parse(data.get("jid")?.as_str()?).ok()?;
    let minion = MinionId::parse(data.get("id")?.as_str()?).ok()?;
    Some((jid, minion))
}

/// Send forwarded events in batches: what arrives within [`BATCH_WINDOW`]
/// goes together, one notification per master and [`PAYLOAD_MAX`] bytes.
async fn send_events(reads: Arc<Shared>, mut pending: mpsc::UnboundedReceiver<Forward>) {
    while let Some(first) = pending.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + BATCH_WINDOW;
        while let Ok(Some(more)) = tokio::time::timeout_at(deadline, pending.recv()).await {
            batch.push(more);
        }
        let payloads = payloads(batch);
        let client = match reads.client().await {
            Ok(client) => client,
            Err(e) => {
                tracing::warn!("{} job event notifications lost: {e}", payloads.len());
                continue;
            }
        };
        for payload in payloads {
            if let Err(e) = client
                .execute("SELECT pg_notify('brine_job_events', $1)", &[&payload])
                .await
            {
                tracing::warn!("a job event notification was lost: {e}");
            }
        }
    }
}

/// The notification payloads of `batch`: per master, events packed up to
/// [`PAYLOAD_MAX`] bytes each.
fn payloads(batch: Vec<Forward>) -> Vec<String> {
    let mut by_master: Vec<(i64, Vec<String>)> = Vec::new();
    for f in batch {
        match by_master.iter_mut().find(|(to, _)| *to == f.to) {
            Some((_, events)) => events.push(f.json),
            None => by_master.push((f.to, vec![f.json])),
        }
    }
    // An [`EventBatch`] written out by hand around events already in JSON.
    let wrap =
        |to: i64, events: &[String]| format!(r#"{{"to":{to},"events":[{}]}}"#, events.join(","));
    let mut out = Vec::new();
    for (to, events) in by_master {
        let mut current: Vec<String> = Vec::new();
        let mut size = 0;
        for event in events {
            let len = event.len() + 1;
            if size + len > PAYLOAD_MAX && !current.is_empty() {
                out.push(wrap(to, &current));
                current.clear();
                size = 0;
            }
            size += len;
            current.push(event);
        }
        if !current.is_empty() {
            out.push(wrap(to, &current));
        }
    }
    out
}

/// Relay the other masters' publications and fire the job events they send
/// this master, for as long as the master runs.
pub async fn follow(master: Arc<Master>, peers: Arc<Peers>) {
    let mut relay = RelayState {
        last: first_publication(&peers).await,
        recent: HashMap::new(),
    };
    let mut notes = peers.listen();
    // Reloads of minion data run beside the relay, which they must not hold up.
    let (reload_tx, reload_rx) = mpsc::unbounded_channel();
    master
        .stop
        .spawn(reload_minion_data(master.clone(), reload_rx));
    // A relay that failed to read is tried again after this.
    let mut retry: Option<tokio::time::Instant> = None;
    loop {
        let note = tokio::select! {
            note = notes.recv() => match note {
                Some(note) => note,
                None => return,
            },
            () = sleep_until_some(retry) => PeerNote::Publications,
        };
        match note {
            PeerNote::Connected => {
                // Whatever changed while nobody listened: read it all again.
                let _ = reload_tx.send(None);
                let for_mine = master.clone();
                tokio::spawn(async move { for_mine.mine.reload_all().await });
                retry = relay_publications(&master, &peers, &mut relay).await;
            }
            PeerNote::Publications => retry = relay_publications(&master, &peers, &mut relay).await,
            PeerNote::Events(payload) => fire_events(&master, &peers, &payload),
            PeerNote::MinionData(payload) => {
                if let Some(id) = changed_elsewhere(&peers, &payload) {
                    let _ = reload_tx.send(Some(id.to_string()));
                }
            }
            PeerNote::Mine(payload) => {
                if let Some(id) = changed_elsewhere(&peers, &payload) {
                    let (master, id) = (master.clone(), id.to_string());
                    tokio::spawn(async move { master.mine.reload(&id).await });
                }
            }
        }
    }
}

/// Wait until `at`, or for ever.
async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The newest publication when this master starts (older jobs are
/// `publish_unfinished`'s business), asked until the store answers.
async fn first_publication(peers: &Peers) -> i64 {
    loop {
        match peers.last_publication().await {
            Ok(seq) => return seq,
            Err(e) => {
                tracing::warn!("the publication relay waits for the cluster store: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// The id of a change notification (`<origin> <id>`) another master made:
/// this master's own changes are in its memory already.
fn changed_elsewhere<'a>(peers: &Peers, payload: &'a str) -> Option<&'a str> {
    match payload.split_once(' ') {
        Some((origin, id)) => (origin != peers.origin.to_string()).then_some(id),
        None => {
            tracing::warn!("ignoring a change notification {payload:?}");
            None
        }
    }
}

/// Above this many minions changed at once, reading every record is cheaper
/// than reading each (a fleet authenticating reports all its grains).
const RELOAD_ALL_ABOVE: usize = 256;

/// Read again the data of the minions another master changed in the store,
/// as many at a time as have been named meanwhile.
/// `None` asks for every record.
async fn reload_minion_data(master: Arc<Master>, mut ids: mpsc::UnboundedReceiver<Option<String>>) {
    while let Some(first) = ids.recv().await {
        let mut every = first.is_none();
        let mut batch: HashSet<String> = first.into_iter().collect();
        while let Ok(more) = ids.try_recv() {
            match more {
                Some(id) => {
                    batch.insert(id);
                }
                None => every = true,
            }
        }
        let master = master.clone();
        let reloaded = tokio::task::spawn_blocking(move || {
            let (data, cache) = (&master.minion_data, master.cache.as_ref());
            if every || batch.len() > RELOAD_ALL_ABOVE {
                return data.reload_all(cache);
            }
            for id in batch.iter().filter_map(|id| MinionId::parse(id).ok()) {
                data.reload(cache, &id)?;
            }
            Ok(())
        })
        .await;
        if let Ok(Err(e)) = reloaded {
            tracing::warn!("cannot read the minion data another master changed: {e}");
        }
    }
}

/// Where the relay stands.
struct RelayState {
    /// The highest publication number relayed.
    last: i64,
    /// The numbers relayed lately, with when: a publication's number is
    /// handed out when its insert starts, so with three masters one with a
    /// lower number can commit after a higher one was relayed.
    recent: HashMap<i64, Instant>,
}

/// How far below the highest relayed number a publication that committed
/// late is looked for (during the 30 s after it was added, see
/// `Peers::late_publications`).
const LATE_SPAN: i64 = 1000;
/// How long relayed numbers are remembered (longer than those 30 s).
const RECENT_KEEP: Duration = Duration::from_secs(90);

/// Publish here the other masters' publications this master has not
/// relayed: those after `last`, and any below it that committed late. On a
/// failed read, when to try again.
async fn relay_publications(
    master: &Master,
    peers: &Peers,
    relay: &mut RelayState,
) -> Option<tokio::time::Instant> {
    let retry = || Some(tokio::time::Instant::now() + Duration::from_secs(1));
    relay.recent.retain(|_, at| at.elapsed() < RECENT_KEEP);
    match peers.late_publications(relay.last).await {
        Ok(rows) => {
            for row in rows {
                if !relay.recent.contains_key(&row.0) {
                    relay_one(master, relay, row);
                }
            }
        }
        Err(e) => {
            tracing::warn!("cannot read the other masters' publications: {e}");
            return retry();
        }
    }
    loop {
        let rows = match peers.publications_after(relay.last).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!("cannot read the other masters' publications: {e}");
                return retry();
            }
        };
        let full = rows.len() as i64 == RELAY_BATCH;
        for row in rows {
            relay_one(master, relay, row);
        }
        if !full {
            return None;
        }
    }
}

/// Publish one relayed publication to this master's minions.
fn relay_one(
    master: &Master,
    relay: &mut RelayState,
    (seq, minions, bytes): (i64, Option<Vec<MinionId>>, Vec<u8>),
) {
    relay.last = relay.last.max(seq);
    relay.recent.insert(seq, Instant::now());
    let publication: Publication = match rmp_serde::from_slice(&bytes) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("skipping relayed publication {seq}: {e}");
            return;
        }
    };
    tracing::debug!(jid = %publication.jid, "relaying another master's publication");
    let sent = match &minions {
        Some(ids) => master.publisher.to_minions(ids, &publication),
        None => master.publisher.broadcast(&publication),
    };
    if let Err(e) = sent {
        tracing::warn!("cannot relay publication {}: {e}", publication.jid);
    }
}

/// Fire the events of a notification meant for this master (a return sent
/// by reference is read from the job cache by a task of its own).
fn fire_events(master: &Arc<Master>, peers: &Peers, payload: &str) {
    let batch: EventBatch = match serde_json::from_str(payload) {
        Ok(batch) => batch,
        Err(e) => {
            tracing::warn!("ignoring a job event notification: {e}");
            return;
        }
    };
    if batch.to != peers.origin {
        return;
    }
    for relayed in batch.events {
        // A return taken elsewhere counts here too: a copy the minion sends
        // again to this master (after a failover) is not a first one.
        let returned = match &relayed {
            Relayed::Event { tag, data } => return_of(tag, data),
            Relayed::Return { ret } => Some(ret.clone()),
        };
        if let Some((jid, minion)) = returned
            && let Some(job) = master.in_flight.get(&jid)
        {
            job.record_return(minion.as_str());
        }
        match relayed {
            Relayed::Event { tag, data } => {
                let mut event = BusEvent::pack(Event::new(tag, data));
                event.relayed = true;
                master.bus.fire_packed(event);
            }
            Relayed::Return { ret: (jid, minion) } => {
                let master = master.clone();
                tokio::spawn(async move {
                    match stored_return(&master, &jid, &minion).await {
                        Some(mut event) => {
                            event.relayed = true;
                            master.bus.fire_packed(event);
                        }
                        None => tracing::warn!(
                            "the return of {minion} for {jid} is not in the job cache"
                        ),
                    }
                });
            }
        }
    }
}

/// The return event of a return another master stored, read from the job
/// cache (waiting a little for that master's commit).
async fn stored_return(master: &Master, jid: &Jid, minion: &MinionId) -> Option<BusEvent> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (cache, id) = (master.cache.clone(), jid.clone());
        let found = tokio::task::spawn_blocking(move || {
            let user = cache.get_job(&id)?.map(|job| job.user).unwrap_or_default();
            Ok::<_, crate::job_cache::CacheError>((user, cache.returns(&id)?))
        })
        .await;
        if let Ok(Ok((user, mut returns))) = found
            && let Some(record) = returns.remove(minion.as_str())
        {
            let ret = JobReturn {
                jid: jid.clone(),
                fun: record.fun,
                fun_args: record.fun_args,
                ret: record.ret,
                retcode: record.retcode,
                success: record.success,
                out: record.out,
            };
            return Some(crate::reqserver::return_event(
                &ret,
                minion,
                &user,
                None,
                &record.stamp,
            ));
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether this master holds the cluster-wide lock of `duty`, kept up to
/// date: the duties only one master may do at a time (the master
/// schedule). The lock is a session advisory lock, so a master that dies
/// or loses its connection gives it up at once, and another one, trying
/// every [`PRESENCE_INTERVAL`], takes it.
pub fn leadership(peers: &Peers, duty: &str) -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let cluster = peers.cluster.clone();
    let duty = duty.to_string();
    peers.cluster.spawn(async move {
        while !tx.is_closed() {
            let client = match cluster.connect().await {
                Ok(client) => client,
                Err(e) => {
                    tracing::warn!("cannot seek the lead of {duty}: {e}");
                    tokio::time::sleep(PRESENCE_INTERVAL).await;
                    continue;
                }
            };
            loop {
                // Once taken, the lock stays with the session: only check
                // that the session is alive (taking it again would stack it).
                let held = if *tx.borrow() {
                    client.query_one("SELECT true", &[]).await
                } else {
                    client
                        .query_one(
                            "SELECT pg_try_advisory_lock($1, hashtext($2))",
                            &[&LEADER_LOCK_SPACE, &duty],
                        )
                        .await
                }
                .map(|row| row.get::<_, bool>(0));
                match held {
                    Ok(held) => {
                        if *tx.borrow() != held {
                            let what = if held { "took" } else { "lost" };
                            tracing::info!("{what} the lead of {duty}");
                        }
                        tx.send_replace(held);
                    }
                    Err(e) => {
                        tracing::warn!("the lead of {duty}: {e}");
                        tx.send_replace(false);
                        break;
                    }
                }
                if tx.is_closed() {
                    return;
                }
                tokio::time::sleep(PRESENCE_INTERVAL).await;
            }
        }
    });
    rx
}

/// Report this master's minions every [`PRESENCE_INTERVAL`], and prune the
/// relay's tables every minute.
pub async fn report_presence(master: Arc<Master>, peers: Arc<Peers>) {
    let mut tick = tokio::time::interval(PRESENCE_INTERVAL);
    let mut last_prune = Instant::now();
    loop {
        tick.tick().await;
        let window = master.presence_window();
        let here = master.sessions.connected(window).into_iter().collect();
        if let Err(e) = peers.report_presence(here, window).await {
            // What the others had is unknown now: count only this master's
            // minions as connected rather than ones that may have gone.
            tracing::warn!("{e}");
            peers
                .elsewhere
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        }
        if last_prune.elapsed() > Duration::from_secs(60) {
            last_prune = Instant::now();
            if let Err(e) = peers.prune().await {
                tracing::warn!("{e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(to: i64, n: usize) -> Forward {
        let relayed = Relayed::Event {
            tag: format!("brine/job/20261207200000000000/ack/m{n}"),
            data: json!({"id": format!("m{n}"), "jid": "20261207200000000000"}),
        };
        Forward {
            to,
            json: serde_json::to_string(&relayed).expect("json"),
        }
    }

    /// Events for one master share notifications up to the size limit;
    /// each master gets its own.
    #[test]
    fn events_are_packed_per_master_under_the_payload_limit() {
        let batch: Vec<Forward> = (0..500).map(|n| event(1 + (n % 2) as i64, n)).collect();
        let out = payloads(batch);
        assert!(out.len() >= 4, "{} payloads", out.len());
        let mut seen = 0;
        for payload in &out {
            assert!(payload.len() < 8000, "{} bytes", payload.len());
            let batch: EventBatch = serde_json::from_str(payload).expect("decodes");
            assert!(batch.to == 1 || batch.to == 2);
            seen += batch.events.len();
        }
        assert_eq!(seen, 500);
    }

    #[test]
    fn only_return_events_name_a_return() {
        let data = json!({"jid": "20261207200000000000", "id": "m1"});
        assert!(return_of("salt/job/20261207200000000000/ret/m1", &data).is_some());
        assert!(return_of("brine/job/20261207200000000000/ack/m1", &data).is_none());
    }
}
