//! More of Salt's Jinja filters, tests and globals (every `@jinja_filter`,
//! `@jinja_test` and `@jinja_global` of Salt 3008 that Brine lacked):
//! random sampling, file and user look-ups, MAC addresses, list and dict
//! helpers, JMESPath queries, Salt's own `min`/`max`, and the `raise` and
//! `ifelse` globals.

use minijinja::value::Value;
use minijinja::{Environment, Error, ErrorKind};

mod data;
mod files;
mod jmespath;
mod pyrandom;
mod random;
mod system;

/// Adds these filters, tests and globals to `env`.
pub(crate) fn register(env: &mut Environment<'_>) {
    random::register(env);
    files::register(env);
    system::register(env);
    data::register(env);
    jmespath::register(env);
}

/// A Python exception as Salt's renderer reports it: `Type: message`.
fn py_error(exception: &str, message: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("{exception}: {message}"),
    )
}

/// Python's type name of a value, for error messages.
fn type_name(value: &Value) -> &'static str {
    crate::render::percent::type_name(value)
}

#[cfg(test)]
pub(super) mod tests {
    use minijinja::Environment;

    /// Renders `template` with minijinja's built-ins and these additions;
    /// an error renders as its message.
    pub(crate) fn render(template: &str) -> String {
        let mut env = Environment::new();
        super::register(&mut env);
        env.render_str(template, ())
            .unwrap_or_else(|err| format!("ERROR: {err:#}"))
    }
}
