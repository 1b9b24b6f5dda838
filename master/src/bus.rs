//! The master's event bus: every event the master fires or receives from a
//! minion goes through here to its subscribers (CLI waiters, `state.event`,
//! later the reactor). A slow subscriber loses old events rather than slowing
//! the master down (tokio broadcast semantics), and is told how many it lost.

use std::sync::Arc;

use brine_common::event::Event;
use tokio::sync::broadcast;

/// How many events a subscriber may fall behind before it starts losing them.
const BUS_CAPACITY: usize = 65536;

#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<Event>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(BUS_CAPACITY);
        EventBus { tx }
    }

    pub fn fire(&self, event: Event) {
        tracing::debug!(tag = %event.tag, "event");
        // No subscribers is not an error: nobody is listening right now.
        let _ = self.tx.send(Arc::new(event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }
}
