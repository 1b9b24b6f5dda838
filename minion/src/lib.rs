//! brine-minion: the minion daemon and `brine-call`.
//!
//! [`link`] holds the connection to the master (auth, the request channel, the
//! publish subscription, heartbeats, reconnects, catch-up); [`executor`] runs
//! the jobs it delivers as tasks and returns their results through the
//! [`outbox`], which keeps them on disk until the master has them; [`modules`] are the
//! execution modules, registered in a `Functions` registry; [`daemon`] wires it
//! together; [`call`] is `brine-call`.

pub mod beacons;
pub mod call;
pub mod channel;
pub mod daemon;
pub mod executor;
pub mod fileclient;
pub mod grains;
pub mod link;
pub mod modules;
pub mod outbox;
pub mod pubstate;
pub mod schedule;
pub mod startup_states;
pub mod state_host;
pub mod swarm;
pub mod upstream;
