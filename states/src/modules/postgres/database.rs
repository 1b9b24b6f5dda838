//! `postgres_database.present` and `postgres_database.absent`.

use serde_json::{Map, Value, json};

use super::{AbsentTexts, absent_flow, db_args, with_db_args};
use crate::lowstate::{StateCall, StateModules, StateResult};
use crate::modules::{arg, call, changed, name_of, one, pending, str_of, text, truthy};

pub fn register(m: &mut StateModules) {
    m.register("postgres_database.present", present);
    m.register("postgres_database.absent", absent);
}

/// How an existing database compares with the wanted one.
#[derive(Debug, PartialEq)]
enum Fit {
    Same,
    /// Owner or tablespace differ: `db_alter` can change them.
    Alterable,
    /// Encoding, collation or ctype differ: only a new database would do.
    Unfixable,
}

/// The database's `db_list` entry against the state's arguments; an
/// argument not given (or empty) always fits.
fn fit(c: &StateCall<'_>, params: &Map<String, Value>) -> Fit {
    let have = |key: &str| params.get(key).map(text).unwrap_or_default();
    let differs =
        |arg_name: &str, key: &str| str_of(c.chunk, arg_name).is_some_and(|want| want != have(key));
    let encoding_differs = str_of(c.chunk, "encoding")
        .is_some_and(|want| want.to_lowercase() != have("Encoding").to_lowercase());
    let fixed =
        encoding_differs || differs("lc_collate", "Collate") || differs("lc_ctype", "Ctype");
    if fixed {
        Fit::Unfixable
    } else if differs("tablespace", "Tablespace") || differs("owner", "Owner") {
        Fit::Alterable
    } else {
        Fit::Same
    }
}

fn present(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    present_or_error(c).unwrap_or_else(|e| StateResult::fail(name, e))
}

fn present_or_error(c: &StateCall<'_>) -> Result<StateResult, String> {
    let name = name_of(c);
    let dbs = call(c.host, "postgres.db_list", vec![], &db_args(c))?;
    let existing = dbs.get(name).and_then(Value::as_object);
    match existing.map(|params| fit(c, params)) {
        Some(Fit::Same) => {
            return Ok(StateResult::ok(
                name,
                format!("Database {name} is already present"),
            ));
        }
        Some(Fit::Unfixable) => {
            return Ok(StateResult::fail(
                name,
                format!("Database {name} has wrong parameters which couldn't be changed on fly."),
            ));
        }
        _ => {}
    }
    if c.test {
        let comment = if existing.is_none() {
            format!("Database {name} is set to be created")
        } else {
            format!("Database {name} exists, but parameters need to be changed")
        };
        return Ok(pending(name, comment, Map::new()));
    }
    if existing.is_none() {
        let created = call(
            c.host,
            "postgres.db_create",
            vec![json!(name)],
            &with_db_args(c, create_args(c)),
        )?;
        return Ok(if truthy(&created) {
            changed(
                name,
                format!("The database {name} has been created"),
                one(name, json!("Present")),
            )
        } else {
            StateResult::fail(name, format!("Failed to create database {name}"))
        });
    }
    let alter_args = vec![
        ("tablespace", arg(c.chunk, "tablespace")),
        ("owner", arg(c.chunk, "owner")),
        ("owner_recurse", arg(c.chunk, "owner_recurse")),
    ];
    let altered = call(
        c.host,
        "postgres.db_alter",
        vec![json!(name)],
        &with_db_args(c, alter_args),
    )?;
    Ok(if truthy(&altered) {
        changed(
            name,
            format!("Parameters for database {name} have been changed"),
            one(name, json!("Parameters changed")),
        )
    } else {
        StateResult::fail(
            name,
            format!("Failed to change parameters for database {name}"),
        )
    })
}

fn create_args(c: &StateCall<'_>) -> Vec<(&'static str, Value)> {
    [
        "tablespace",
        "encoding",
        "lc_collate",
        "lc_ctype",
        "owner",
        "template",
    ]
    .into_iter()
    .map(|key| (key, arg(c.chunk, key)))
    .collect()
}

fn absent(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let texts = AbsentTexts {
        not_present: format!("Database {name} is not present, so it cannot be removed"),
        to_remove: format!("Database {name} is set to be removed"),
        removed: format!("Database {name} has been removed"),
        failed: format!("Database {name} failed to be removed"),
    };
    let kw = db_args(c);
    absent_flow(
        c,
        ("postgres.db_exists", &kw),
        ("postgres.db_remove", &kw),
        vec![json!(name)],
        texts,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run};

    fn host(dbs: Value) -> MockHost {
        MockHost::new(move |f, _, _| match f {
            "postgres.db_list" => Ok(dbs.clone()),
            "postgres.db_exists" => Ok(json!(!dbs.as_object().is_some_and(Map::is_empty))),
            "postgres.db_create" | "postgres.db_alter" | "postgres.db_remove" => Ok(json!(true)),
            _ => Err(format!("unexpected {f}")),
        })
    }

    fn db1() -> Value {
        json!({"db1": {"Owner": "localUser", "Encoding": "UTF8", "Collate": "en_US.UTF-8",
                       "Ctype": "en_US.UTF-8", "Access privileges": "", "Tablespace": "pg_default"}})
    }

    fn wanted() -> Value {
        json!({"owner": "localUser", "template": "template0", "lc_ctype": "en_US.UTF-8",
               "lc_collate": "en_US.UTF-8", "user": "postgres"})
    }

    #[test]
    fn missing_database_is_set_to_be_created() {
        let h = host(json!({}));
        let ch = chunk("postgres_database", "present", "db1", wanted());
        let r = run(present, &h, &ch, true);
        assert_eq!(
            (r.result, r.comment.as_str()),
            (None, "Database db1 is set to be created")
        );
        let r = run(present, &h, &ch, false);
        assert_eq!(r.comment, "The database db1 has been created");
        let create = &h.calls_to("postgres.db_create")[0];
        assert_eq!(create.kwargs["template"], json!("template0"));
        assert_eq!(create.kwargs["runas"], json!("postgres"));
    }

    #[test]
    fn existing_database_is_compared() {
        let h = host(db1());
        let ch = chunk("postgres_database", "present", "db1", wanted());
        assert_eq!(
            run(present, &h, &ch, true).comment,
            "Database db1 is already present"
        );
        let mut other = wanted();
        other["owner"] = json!("someone");
        let ch = chunk("postgres_database", "present", "db1", other);
        let r = run(present, &h, &ch, true);
        assert_eq!(
            r.comment,
            "Database db1 exists, but parameters need to be changed"
        );
        assert_eq!(
            run(present, &h, &ch, false).changes["db1"],
            json!("Parameters changed")
        );
        let ch = chunk(
            "postgres_database",
            "present",
            "db1",
            json!({"encoding": "LATIN1"}),
        );
        let r = run(present, &h, &ch, true);
        assert_eq!(r.result, Some(false));
        assert_eq!(
            r.comment,
            "Database db1 has wrong parameters which couldn't be changed on fly."
        );
    }

    #[test]
    fn absent_database() {
        let ch = chunk("postgres_database", "absent", "db1", json!({}));
        assert_eq!(
            run(absent, &host(json!({})), &ch, true).comment,
            "Database db1 is not present, so it cannot be removed"
        );
        let h = host(db1());
        assert_eq!(
            run(absent, &h, &ch, true).comment,
            "Database db1 is set to be removed"
        );
        assert_eq!(run(absent, &h, &ch, false).changes["db1"], json!("Absent"));
    }
}
