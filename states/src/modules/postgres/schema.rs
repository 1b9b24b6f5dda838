//! `postgres_schema.present` and `postgres_schema.absent`: a schema in the
//! database `dbname`. Unlike the other PostgreSQL states these take the
//! execution functions' schema arguments (`user` is the system user,
//! `db_user`/`db_password`/`db_host`/`db_port` the connection).

use serde_json::{Map, Value, json};

use super::{AbsentTexts, absent_flow};
use crate::lowstate::{StateCall, StateModules, StateResult};
use crate::modules::{arg, call, changed, name_of, one, pending, text, truthy};

pub fn register(m: &mut StateModules) {
    m.register("postgres_schema.present", present);
    m.register("postgres_schema.absent", absent);
}

/// Salt's `db_args` of the schema states.
fn db_args(c: &StateCall<'_>) -> Vec<(&'static str, Value)> {
    ["db_user", "db_password", "db_host", "db_port", "user"]
        .into_iter()
        .map(|key| (key, arg(c.chunk, key)))
        .collect()
}

/// The `dbname` argument and the schema's name, the functions' first two
/// positional arguments.
fn target(c: &StateCall<'_>) -> (String, Vec<Value>) {
    let dbname = text(&arg(c.chunk, "dbname"));
    let args = vec![json!(dbname), json!(name_of(c))];
    (dbname, args)
}

/// Salt's schema states carry `dbname` in every result (as given: `None`
/// when absent).
fn with_dbname(c: &StateCall<'_>, result: StateResult) -> StateResult {
    let mut extra = Map::new();
    extra.insert("dbname".into(), arg(c.chunk, "dbname"));
    StateResult { extra, ..result }
}

fn present(c: &StateCall<'_>) -> StateResult {
    with_dbname(c, present_result(c))
}

fn absent(c: &StateCall<'_>) -> StateResult {
    with_dbname(c, absent_result(c))
}

fn present_result(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let (dbname, args) = target(c);
    let run = || -> Result<StateResult, String> {
        let schema = call(c.host, "postgres.schema_get", args.clone(), &db_args(c))?;
        if !schema.is_null() {
            return Ok(StateResult::ok(
                name,
                format!("Schema {name} already exists in database {dbname}"),
            ));
        }
        if c.test {
            return Ok(pending(
                name,
                format!("Schema {name} is set to be created in database {dbname}."),
                Map::new(),
            ));
        }
        let mut kw = vec![("owner", arg(c.chunk, "owner"))];
        kw.extend(db_args(c));
        let created = call(c.host, "postgres.schema_create", args.clone(), &kw)?;
        Ok(if truthy(&created) {
            changed(
                name,
                format!("Schema {name} has been created in database {dbname}"),
                one(name, json!("Present")),
            )
        } else {
            StateResult::fail(
                name,
                format!("Failed to create schema {name} in database {dbname}"),
            )
        })
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

fn absent_result(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let (dbname, args) = target(c);
    let texts = AbsentTexts {
        not_present: format!(
            "Schema {name} is not present in database {dbname}, so it cannot be removed"
        ),
        to_remove: format!("Schema {name} is set to be removed from database {dbname}"),
        removed: format!("Schema {name} has been removed from database {dbname}"),
        failed: format!("Schema {name} failed to be removed"),
    };
    let kw = db_args(c);
    absent_flow(
        c,
        ("postgres.schema_exists", &kw),
        ("postgres.schema_remove", &kw),
        args,
        texts,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run};

    fn host(present: bool) -> MockHost {
        MockHost::new(move |f, _, _| match f {
            "postgres.schema_get" if present => Ok(json!({"owner": "postgres", "acl": ""})),
            "postgres.schema_get" => Ok(Value::Null),
            "postgres.schema_exists" => Ok(json!(present)),
            "postgres.schema_create" | "postgres.schema_remove" => Ok(json!(true)),
            _ => Err(format!("unexpected {f}")),
        })
    }

    #[test]
    fn missing_schema_is_set_to_be_created() {
        let h = host(false);
        let ch = chunk(
            "postgres_schema",
            "present",
            "public",
            json!({"dbname": "db2", "owner": "localUser", "user": "postgres"}),
        );
        let r = run(present, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(
            r.comment,
            "Schema public is set to be created in database db2."
        );
        assert_eq!(r.extra["dbname"], json!("db2"));
        let get = &h.calls_to("postgres.schema_get")[0];
        assert_eq!(get.args, vec![json!("db2"), json!("public")]);
        assert_eq!(get.kwargs["user"], json!("postgres"));
        let r = run(present, &h, &ch, false);
        assert_eq!(r.comment, "Schema public has been created in database db2");
        assert_eq!(
            h.calls_to("postgres.schema_create")[0].kwargs["owner"],
            json!("localUser")
        );
    }

    #[test]
    fn existing_schema() {
        let h = host(true);
        let ch = chunk(
            "postgres_schema",
            "present",
            "public",
            json!({"dbname": "db2"}),
        );
        assert_eq!(
            run(present, &h, &ch, true).comment,
            "Schema public already exists in database db2"
        );
        let ch = chunk(
            "postgres_schema",
            "absent",
            "public",
            json!({"dbname": "db2"}),
        );
        assert_eq!(
            run(absent, &h, &ch, true).comment,
            "Schema public is set to be removed from database db2"
        );
        assert_eq!(
            run(absent, &h, &ch, false).comment,
            "Schema public has been removed from database db2"
        );
        assert_eq!(
            run(absent, &host(false), &ch, true).comment,
            "Schema public is not present in database db2, so it cannot be removed"
        );
    }
}
