//! Execution functions that need nothing of the host they run on: the
//! minion registers them with its other modules, and the master registers
//! them for its own templates (pillar, reactor and orchestrate SLS files),
//! as Salt's master loads `minion_mods` for them. One implementation each.

use crate::functions::Functions;

pub mod file_paths;
pub mod log;
pub mod test;

/// Register every pure function (`test.*`, `log.*`,
/// `file.join`/`basename`/`dirname`).
pub fn register<C: Send + 'static>(f: &mut Functions<C>) {
    test::register(f);
    log::register(f);
    file_paths::register(f);
}
