//! brine-master: the master daemon and the CLIs that talk to it.
//!
//! The daemon ([`daemon`]) runs, on one tokio runtime: the publisher
//! ([`publisher`], ZeroMQ PUB), the request server ([`reqserver`], ZeroMQ
//! ROUTER: a loop that decodes each minion request into the closed request
//! enum and dispatches it to the module of its kind under `reqserver/` —
//! auth, session, returns, pillar, files, mine, grains, events, ...), the key
//! store ([`keys`]), the job cache ([`job_cache`], embedded or in the shared
//! PostgreSQL of [`cluster_store`]), the event bus ([`bus`])
//! and the local client socket ([`client_server`]) that `brine`, `brine-key`
//! and `brine-run` use through `brine_client` (the local socket's protocol,
//! the CLIs' shared pieces and the return waiter, in their own crate so that
//! brine-api can use them without linking the master).

pub mod bus;
pub mod client_server;
pub mod cluster_store;
pub mod daemon;
pub mod fileserver;
pub mod functions;
pub mod git_pillar;
pub mod job_cache;
pub mod jobs;
pub mod key_admin;
pub mod keys;
pub mod mine;
pub mod minion_data;
pub mod orchestrate;
pub mod peers;
pub mod publisher;
pub mod publisher_acl;
pub mod pubproc;
pub mod reactor;
pub mod reqserver;
pub mod runners;
pub mod schedule;
pub mod sessions;
pub mod ssh;
pub mod stop;
