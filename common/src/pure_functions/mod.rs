//! Execution functions that need nothing of the host they run on: the
//! minion registers them with its other modules, and the master registers
//! them for its own templates (pillar, reactor and orchestrate SLS files),
//! as Salt's master loads `minion_mods` for them. One implementation each.

use serde_json::Value;

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

/// Python's type name of a JSON value (for Python's `TypeError` messages).
pub fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}
