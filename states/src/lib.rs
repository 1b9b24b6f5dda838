//! brine-states: Salt's state system.
//!
//! ```text
//! SLS text --render (jinja|yaml)--> high data --compile--> lowstate chunks (ordered)
//!    --run (requisites, test mode, mod_watch)--> results (Salt's structure) --> output
//! ```
//!
//! Everything that touches the host goes through [`host::StateHost`]: execution
//! functions (`salt['mod.fun']`, and the state modules' own work), grains,
//! pillar, options and the file server. The minion implements it (with its
//! `Functions` registry and its file client); tests implement it in memory.
//! The state run is synchronous and runs on a blocking thread.

pub mod compile;
pub mod host;
pub mod lowstate;
pub mod modules;
pub mod output;
pub mod render;
pub mod runtime;
#[cfg(test)]
mod testfiles;
