//! End-to-end tests: real `brine-master` and `brine-minion` processes on
//! 127.0.0.1 in temp dirs, driven through the real CLIs. Build the binaries
//! first (`cargo build --workspace --bins`); the README's test command does.

use brine_tests::cluster;
mod api;
mod attacks;
mod beacons;
mod brine_ssh;
mod cli_docs;
mod cluster_store;
mod conformance;
mod core;
mod event_chain;
mod faults;
mod fileserver;
mod gitfs;
mod logging;
mod master_stop;
mod mine;
mod modules_cmd_file;
mod modules_system;
mod orchestrate;
mod outbox;
mod peer_table;
mod pillar;
mod progress;
mod publisher_acl;
mod reactor;
mod remote_sources;
mod rogue;
mod rollout;
mod scale;
mod security;
mod startup_states;
mod states;
mod states_sources;
mod targeting;
mod webui;
