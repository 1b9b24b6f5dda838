//! brine-common: what the master, the minion and the CLIs share.
//!
//! Config loading, the Salt-compatible YAML loader, identities and crypto, the wire
//! protocol (messages and framing), job ids, events, targeting, the `Functions`
//! registry and the outputters. Nothing here talks to the host beyond reading files.

pub mod cli;
pub mod cli_complete;
pub mod cli_docs;
pub mod config;
pub mod crypto;
pub mod event;
pub mod fileroots;
pub mod frame;
pub mod functions;
pub mod ids;
pub mod jid;
pub mod local_time;
pub mod logging;
pub mod output;
pub mod path;
pub mod perms;
pub mod pure_functions;
pub mod salt_url;
pub mod schedule;
// Fixture comparison for tests, here and (through the `testing` feature) in other crates.
#[cfg(any(test, feature = "testing"))]
pub mod snapshot;
pub mod target;
pub mod truth;
pub mod typed_key;
pub mod wire;
pub mod yaml;

/// Every Brine program allocates with mimalloc (set here, in the one crate
/// they all link). A state run, a compile and the master's return burst
/// allocate many small, short-lived values (maps, strings, YAML nodes):
/// glibc's malloc spent a fifth to a third of their CPU in `_int_malloc`,
/// `_int_free` and `malloc_consolidate` (BENCHMARKS.md, issue 17). Built
/// without transparent huge pages (the `no_thp` feature): with them, where
/// the kernel grants THP on `madvise`, a short `brine-call` doubled its RSS.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
