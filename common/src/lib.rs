//! brine-common: what the master, the minion and the CLIs share.
//!
//! Config loading, the Salt-compatible YAML loader, identities and crypto, the wire
//! protocol (messages and framing), job ids, events, targeting, the `Functions`
//! registry and the outputters. Nothing here talks to the host beyond reading files.

pub mod cli;
pub mod config;
pub mod crypto;
pub mod event;
pub mod fileroots;
pub mod frame;
pub mod functions;
pub mod ids;
pub mod jid;
pub mod logging;
pub mod output;
pub mod path;
pub mod pure_functions;
pub mod schedule;
// Fixture comparison for tests, here and (through the `testing` feature) in other crates.
#[cfg(any(test, feature = "testing"))]
pub mod snapshot;
pub mod target;
pub mod truth;
pub mod typed_key;
pub mod wire;
pub mod yaml;
