//! brine-client: the master's local socket as the tools on the master's
//! host use it — `brine`, `brine-run`, `brine-cp`, `brine-key` and
//! `brine-api`.
//!
//! [`protocol`] holds the typed requests and replies (the master's
//! `client_server` serves these same types), [`connection`] the async
//! client, [`wait`] the bookkeeping that decides when a job's returns are
//! all in, and [`cli`] what the client CLIs' `main`s share. The crate
//! depends on brine-common only, so a client links none of the master's
//! storage, git or ZeroMQ code.

pub mod cli;
pub mod complete;
pub mod connection;
pub mod progress;
pub mod protocol;
pub mod wait;

pub use connection::{Client, ClientError, Connection, Published, request};
pub use protocol::{
    CLIENT_FRAME_CAP, ClientReply, ClientRequest, JobRequest, KeyCommand, KeyReply, REQUEST_CAP,
    socket_path,
};
