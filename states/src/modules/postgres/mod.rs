//! Salt's PostgreSQL states: `postgres_user`, `postgres_database`,
//! `postgres_schema`, `postgres_extension` and `postgres_tablespace`
//! (`present`/`absent` each). They ask the server through the minion's
//! `postgres.*` execution functions (which run `psql`), so a server that
//! does not answer reads as "nothing there", exactly as in Salt: users,
//! databases and the rest are then "set to be created".

use serde_json::{Map, Value, json};

use super::{arg, call, changed, name_of, one, pending, truthy};
use crate::lowstate::{StateCall, StateModules, StateResult};

mod database;
mod extension;
pub mod password;
mod schema;
mod tablespace;
mod user;

/// Why the modules do not load without the `postgres` execution module.
const NOT_LOADED: &str = "Unable to load postgres module.  Make sure `postgres.bins_dir` is set.";

pub fn register(m: &mut StateModules) {
    for module in ["postgres_user", "postgres_database"] {
        m.require_function(module, "postgres.user_exists", NOT_LOADED);
    }
    m.require_function("postgres_schema", "postgres.schema_exists", NOT_LOADED);
    m.require_function(
        "postgres_extension",
        "postgres.create_extension",
        NOT_LOADED,
    );
    m.require_function(
        "postgres_tablespace",
        "postgres.tablespace_exists",
        NOT_LOADED,
    );
    user::register(m);
    database::register(m);
    schema::register(m);
    extension::register(m);
    tablespace::register(m);
}

/// Salt's `db_args`: the connection arguments of the role, database,
/// extension and tablespace states, under the execution functions' names
/// (`user` is the system user psql runs as, `db_user` the database role).
fn db_args(c: &StateCall<'_>) -> Vec<(&'static str, Value)> {
    vec![
        ("maintenance_db", arg(c.chunk, "maintenance_db")),
        ("runas", arg(c.chunk, "user")),
        ("host", arg(c.chunk, "db_host")),
        ("user", arg(c.chunk, "db_user")),
        ("port", arg(c.chunk, "db_port")),
        ("password", arg(c.chunk, "db_password")),
    ]
}

/// `db_args` plus more keyword arguments.
fn with_db_args(c: &StateCall<'_>, more: Vec<(&'static str, Value)>) -> Vec<(&'static str, Value)> {
    let mut all = more;
    all.extend(db_args(c));
    all
}

/// The texts of an `absent` state.
struct AbsentTexts {
    not_present: String,
    to_remove: String,
    removed: String,
    failed: String,
}

/// The `absent` flow the user, database, schema and extension states
/// share: ask `exists`, then (outside test mode) `remove`, each a function
/// with its keyword arguments, both with the positional `args`.
fn absent_flow(
    c: &StateCall<'_>,
    exists: (&str, &[(&str, Value)]),
    remove: (&str, &[(&str, Value)]),
    args: Vec<Value>,
    texts: AbsentTexts,
) -> StateResult {
    let name = name_of(c);
    let run = || -> Result<StateResult, String> {
        if !truthy(&call(c.host, exists.0, args.clone(), exists.1)?) {
            return Ok(StateResult::ok(name, texts.not_present.clone()));
        }
        if c.test {
            return Ok(pending(name, texts.to_remove.clone(), Map::new()));
        }
        Ok(
            if truthy(&call(c.host, remove.0, args.clone(), remove.1)?) {
                changed(name, texts.removed.clone(), one(name, json!("Absent")))
            } else {
                StateResult::fail(name, texts.failed.clone())
            },
        )
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk};
    use serde_json::json;

    #[test]
    fn db_args_use_the_execution_functions_names() {
        let h = MockHost::new(|_, _, _| Ok(json!(null)));
        let ch = chunk(
            "postgres_user",
            "present",
            "frank",
            json!({"user": "postgres", "db_host": "db", "db_port": 5433}),
        );
        let c = StateCall {
            host: &h,
            chunk: &ch,
            test: true,
            required: &[],
        };
        let args = db_args(&c);
        assert!(args.contains(&("runas", json!("postgres"))));
        assert!(args.contains(&("host", json!("db"))));
        assert!(args.contains(&("port", json!(5433))));
        assert!(args.contains(&("user", Value::Null)));
    }
}
