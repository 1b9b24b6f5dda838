//! `brine-api`: an HTTPS REST API to the Brine master in salt-api's
//! (`rest_cherrypy`) shape, with logins against `external_auth`, webhooks
//! and a live event stream.
//!
//! It is a client of the master's local socket, like `brine` and
//! `brine-run`, so it runs on the master host as the master's user.

pub mod app;
pub mod auth;
pub mod body;
pub mod calls;
pub mod error;
pub mod events;
pub mod hooks;
pub mod lowstate;
pub mod master;
pub mod pam;
pub mod passwords;
pub mod server;
pub mod settings;
pub mod tls;
pub mod tokens;
pub mod webui;
pub mod wheel;
