//! The master's event bus: every event the master fires or receives from a
//! minion goes through here to its subscribers (`state.event`, later the
//! reactor). A slow subscriber loses old events rather than slowing the
//! master down (tokio broadcast semantics), and is told how many it lost.
//!
//! Whoever waits for one job's returns (the CLI, a runner) watches that jid
//! instead: its events are routed to it alone, and none is ever dropped, so
//! twenty jobs to ten thousand minions at once lose no return to a lagging
//! broadcast and no watcher filters the others' events.
//!
//! The bus holds each event with its data packed as msgpack ([`BusEvent`]):
//! during a burst of returns the ring and the watchers' queues hold tens of
//! thousands of events for subscribers that have not caught up, and a packed
//! return is a fifth of the size of its JSON tree (and one allocation, not a
//! dozen). A subscriber on a socket writes the packed bytes as they are.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use brine_common::event::Event;
use brine_common::ids::Jid;
use serde_json::Value;
use tokio::sync::{broadcast, mpsc};

/// How many events a subscriber may fall behind before it starts losing them.
const BUS_CAPACITY: usize = 65536;

type JobWatcher = mpsc::UnboundedSender<Arc<BusEvent>>;

/// An event on the bus: its tag, and its data packed as msgpack.
#[derive(Debug)]
pub struct BusEvent {
    pub tag: String,
    packed: Box<[u8]>,
    /// Fired here for another master of the cluster store, which fired it
    /// first (a job event of a minion connected there): this master's
    /// clients see it, its reactor does not react to it a second time.
    pub relayed: bool,
}

impl BusEvent {
    /// Pack `event`.
    pub fn pack(event: Event) -> Self {
        Self::from_data(event.tag, &event.data)
    }

    /// An event whose data is `data` packed as it is, for a hot path that
    /// has the fields at hand and no reason to build a JSON tree. `data` must
    /// serialize as a map with Salt's `_stamp`, as [`Event::new`] makes.
    /// Anything JSON can hold, msgpack encodes.
    pub fn from_data(tag: String, data: &impl serde::Serialize) -> Self {
        let packed = rmp_serde::to_vec_named(data).unwrap_or_else(|e| {
            tracing::error!(%tag, "event data not encodable: {e}");
            rmp_serde::to_vec_named(&Value::Null).unwrap_or_default()
        });
        BusEvent {
            tag,
            packed: packed.into_boxed_slice(),
            relayed: false,
        }
    }

    /// The data as msgpack, for a subscriber that writes it to a socket.
    pub fn packed_data(&self) -> &[u8] {
        &self.packed
    }

    /// The data, unpacked.
    pub fn data(&self) -> Value {
        rmp_serde::from_slice(&self.packed).unwrap_or(Value::Null)
    }

    /// The whole event, unpacked.
    pub fn unpack(&self) -> Event {
        Event {
            tag: self.tag.clone(),
            data: self.data(),
        }
    }
}

#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<BusEvent>>,
    /// Per-jid watchers of job events.
    jobs: Arc<Mutex<HashMap<String, Vec<JobWatcher>>>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(BUS_CAPACITY);
        EventBus {
            tx,
            jobs: Arc::default(),
        }
    }

    pub fn fire(&self, event: Event) {
        self.fire_packed(BusEvent::pack(event));
    }

    pub fn fire_packed(&self, event: BusEvent) {
        tracing::debug!(tag = %event.tag, "event");
        let event = Arc::new(event);
        if let Some(jid) = job_of(&event.tag) {
            self.route_to_watchers(jid, &event);
        }
        // No subscribers is not an error: nobody is listening right now.
        let _ = self.tx.send(event);
    }

    fn route_to_watchers(&self, jid: &str, event: &Arc<BusEvent>) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(watchers) = jobs.get_mut(jid) {
            // A watcher that hung up is forgotten.
            watchers.retain(|w| w.send(event.clone()).is_ok());
            if watchers.is_empty() {
                jobs.remove(jid);
            }
        }
    }

    /// Every event of job `jid` from now on (`salt/job/<jid>/...` and
    /// `brine/job/<jid>/...`), in order, none dropped. Watch before publishing.
    pub fn watch_job(&self, jid: &Jid) -> JobEvents {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        // Watchers that hung up after their job's last event are never sent
        // to again: forget them here, or every finished job would keep one.
        jobs.retain(|_, watchers| {
            watchers.retain(|w| !w.is_closed());
            !watchers.is_empty()
        });
        jobs.entry(jid.to_string()).or_default().push(tx);
        JobEvents { rx }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<BusEvent>> {
        self.tx.subscribe()
    }
}

/// The jid in a job event's tag.
fn job_of(tag: &str) -> Option<&str> {
    let rest = tag
        .strip_prefix("salt/job/")
        .or_else(|| tag.strip_prefix("brine/job/"))?;
    rest.split('/').next()
}

/// The events of one job (see [`EventBus::watch_job`]).
pub struct JobEvents {
    rx: mpsc::UnboundedReceiver<Arc<BusEvent>>,
}

impl JobEvents {
    pub async fn recv(&mut self) -> Option<Arc<BusEvent>> {
        self.rx.recv().await
    }

    /// An event already waiting, if any.
    pub fn try_recv(&mut self) -> Option<Arc<BusEvent>> {
        self.rx.try_recv().ok()
    }
}

impl brine_client::wait::EventSource for JobEvents {
    async fn next_event(&mut self) -> brine_client::wait::Next {
        match self.rx.recv().await {
            Some(ev) => brine_client::wait::Next::Event(ev.unpack()),
            None => brine_client::wait::Next::Closed(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn packed_events_unpack_to_what_was_fired() {
        let event = Event::new(
            "salt/job/20261121234019509933/ret/m1",
            json!({"return": {"a": [1, -2, 3.5, null, true, "x"]}, "retcode": 0, "big": u64::MAX}),
        );
        let packed = BusEvent::pack(event.clone());
        assert_eq!(packed.unpack(), event);
        assert!(
            packed.packed_data().len() < 150,
            "{}",
            packed.packed_data().len()
        );
    }

    #[test]
    fn hung_up_watchers_are_forgotten() {
        let bus = EventBus::new();
        let first = Jid::parse("20261121234019509933").expect("jid");
        drop(bus.watch_job(&first));
        let _second = bus.watch_job(&Jid::parse("20261121234019509934").expect("jid"));
        let jobs = bus.jobs.lock().expect("lock");
        assert!(!jobs.contains_key(first.as_str()));
        assert_eq!(jobs.len(), 1);
    }

    #[tokio::test]
    async fn job_watchers_get_their_jobs_events_only() {
        let bus = EventBus::new();
        let jid = Jid::parse("20261121234019509933").expect("jid");
        let mut watcher = bus.watch_job(&jid);
        bus.fire(Event::new(
            "salt/job/20261121234019509934/ret/m1",
            json!({}),
        ));
        bus.fire(Event::new(
            "brine/job/20261121234019509933/ack/m1",
            json!({}),
        ));
        bus.fire(Event::new(
            "salt/job/20261121234019509933/ret/m1",
            json!({}),
        ));
        assert_eq!(
            watcher.recv().await.expect("ack").tag,
            "brine/job/20261121234019509933/ack/m1"
        );
        assert_eq!(
            watcher.recv().await.expect("ret").tag,
            "salt/job/20261121234019509933/ret/m1"
        );
        drop(watcher);
        bus.fire(Event::new(
            "salt/job/20261121234019509933/ret/m2",
            json!({}),
        ));
        assert!(
            bus.jobs.lock().expect("lock").is_empty(),
            "a dropped watcher is forgotten"
        );
    }
}
