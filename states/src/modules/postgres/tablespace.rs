//! `postgres_tablespace.present` and `postgres_tablespace.absent`.

use serde_json::{Map, Value, json};

use super::{db_args, with_db_args};
use crate::lowstate::{StateCall, StateModules, StateResult};
use crate::modules::{arg, call, changed, name_of, one, pending, text, truthy};

pub fn register(m: &mut StateModules) {
    m.register("postgres_tablespace.present", present);
    m.register("postgres_tablespace.absent", absent);
}

fn present(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    present_or_error(c).unwrap_or_else(|e| StateResult::fail(name, e))
}

fn present_or_error(c: &StateCall<'_>) -> Result<StateResult, String> {
    let name = name_of(c);
    let directory = text(&arg(c.chunk, "directory"));
    let spaces = call(c.host, "postgres.tablespace_list", vec![], &db_args(c))?;
    let Some(space) = spaces.get(name).and_then(Value::as_object) else {
        if c.test {
            return Ok(pending(
                name,
                format!("Tablespace {name} is set to be created"),
                Map::new(),
            ));
        }
        let create_args = vec![
            ("options", arg(c.chunk, "options")),
            ("owner", arg(c.chunk, "owner")),
        ];
        let created = call(
            c.host,
            "postgres.tablespace_create",
            vec![json!(name), json!(directory)],
            &with_db_args(c, create_args),
        )?;
        // Salt goes on to read the missing tablespace and raises KeyError;
        // that failure is this one.
        return Ok(if truthy(&created) {
            changed(
                name,
                format!("The tablespace {name} has been created"),
                one(name, json!("Present")),
            )
        } else {
            StateResult::fail(name, format!("Failed to create tablespace {name}"))
        });
    };
    let have = |key: &str| space.get(key).map(text).unwrap_or_default();
    if have("Location") != directory && !c.test {
        return Ok(StateResult::fail(
            name,
            format!(
                "Tablespace {name} is not at the right location. This is\n            \
                 unfixable without dropping and recreating the tablespace."
            ),
        ));
    }
    let mut ret = StateResult::ok(name, format!("Tablespace {name} is already present"));
    let owner = arg(c.chunk, "owner");
    if truthy(&owner) && have("Owner") != text(&owner) {
        if c.test {
            ret.result = None;
            ret.comment = format!("Tablespace {name} owner to be altered");
        } else if truthy(&call(
            c.host,
            "postgres.tablespace_alter",
            vec![json!(name)],
            &[("new_owner", owner.clone())],
        )?) {
            ret.comment = format!("Tablespace {name} owner changed");
            ret.changes.insert(name.into(), json!({"owner": owner}));
        }
    }
    if let Some(options) = arg(c.chunk, "options").as_object() {
        set_options(c, &mut ret, &have("Opts"), options)?;
    }
    Ok(ret)
}

/// Set the options the tablespace's `Opts` text does not show as
/// `key=value` (Salt string-checks PostgreSQL's `{k=v,...}`).
fn set_options(
    c: &StateCall<'_>,
    ret: &mut StateResult,
    opts: &str,
    options: &Map<String, Value>,
) -> Result<(), String> {
    let name = ret.name.clone();
    for (key, value) in options {
        if opts.contains(&format!("{key}={}", text(value))) {
            continue;
        }
        if c.test {
            ret.result = None;
            ret.comment =
                format!("Tablespace {name} options to be\n                        altered");
            break;
        }
        let mut option = Map::new();
        option.insert(key.clone(), value.clone());
        let set = call(
            c.host,
            "postgres.tablespace_alter",
            vec![json!(name)],
            &[("set_option", Value::Object(option.clone()))],
        )?;
        if truthy(&set) {
            ret.comment = format!("Tablespace {name} opts changed");
            let entry = ret.changes.entry(name.clone()).or_insert_with(|| json!({}));
            if let Some(entry) = entry.as_object_mut() {
                let options = entry.entry("options").or_insert_with(|| json!({}));
                if let Some(options) = options.as_object_mut() {
                    options.extend(option);
                }
            }
        }
    }
    Ok(())
}

fn absent(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let run = || -> Result<StateResult, String> {
        let exists = call(
            c.host,
            "postgres.tablespace_exists",
            vec![json!(name)],
            &db_args(c),
        )?;
        if truthy(&exists) {
            if c.test {
                return Ok(pending(
                    name,
                    format!("Tablespace {name} is set to be removed"),
                    Map::new(),
                ));
            }
            let removed = call(
                c.host,
                "postgres.tablespace_remove",
                vec![json!(name)],
                &db_args(c),
            )?;
            if truthy(&removed) {
                return Ok(changed(
                    name,
                    format!("Tablespace {name} has been removed"),
                    one(name, json!("Absent")),
                ));
            }
        }
        // Salt's fallback, also after a failed removal.
        Ok(StateResult::ok(
            name,
            format!("Tablespace {name} is not present, so it cannot be removed"),
        ))
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run};

    fn host(spaces: Value) -> MockHost {
        MockHost::new(move |f, _, _| match f {
            "postgres.tablespace_list" => Ok(spaces.clone()),
            "postgres.tablespace_exists" => {
                Ok(json!(!spaces.as_object().is_some_and(Map::is_empty)))
            }
            "postgres.tablespace_create"
            | "postgres.tablespace_alter"
            | "postgres.tablespace_remove" => Ok(json!(true)),
            _ => Err(format!("unexpected {f}")),
        })
    }

    fn my_space() -> Value {
        json!({"my_space": {"Owner": "postgres", "ACL": "", "Opts": "{seq_page_cost=1.1}",
                            "Location": "/srv/my_tablespace"}})
    }

    #[test]
    fn missing_tablespace_is_set_to_be_created() {
        let h = host(json!({}));
        let ch = chunk(
            "postgres_tablespace",
            "present",
            "my_space",
            json!({"directory": "/srv/my_tablespace", "owner": "localUser"}),
        );
        let r = run(present, &h, &ch, true);
        assert_eq!(
            (r.result, r.comment.as_str()),
            (None, "Tablespace my_space is set to be created")
        );
        let r = run(present, &h, &ch, false);
        assert_eq!(r.comment, "The tablespace my_space has been created");
        let create = &h.calls_to("postgres.tablespace_create")[0];
        assert_eq!(
            create.args,
            vec![json!("my_space"), json!("/srv/my_tablespace")]
        );
    }

    #[test]
    fn existing_tablespace_owner_options_and_location() {
        let h = host(my_space());
        let args = json!({"directory": "/srv/my_tablespace", "owner": "localUser",
                          "options": {"seq_page_cost": 1.1, "random_page_cost": 3.9}});
        let ch = chunk("postgres_tablespace", "present", "my_space", args);
        let r = run(present, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(
            r.comment,
            "Tablespace my_space options to be\n                        altered"
        );
        assert!(!h.called("postgres.tablespace_alter"));
        let r = run(present, &h, &ch, false);
        assert_eq!(r.comment, "Tablespace my_space opts changed");
        assert_eq!(
            r.changes["my_space"],
            json!({"owner": "localUser", "options": {"random_page_cost": 3.9}})
        );
        let moved = chunk(
            "postgres_tablespace",
            "present",
            "my_space",
            json!({"directory": "/x"}),
        );
        let r = run(present, &h, &moved, false);
        assert_eq!(r.result, Some(false));
        assert!(
            r.comment
                .starts_with("Tablespace my_space is not at the right location. This is\n")
        );
    }

    #[test]
    fn absent_tablespace() {
        let ch = chunk("postgres_tablespace", "absent", "my_space", json!({}));
        assert_eq!(
            run(absent, &host(json!({})), &ch, true).comment,
            "Tablespace my_space is not present, so it cannot be removed"
        );
        let h = host(my_space());
        assert_eq!(
            run(absent, &h, &ch, true).comment,
            "Tablespace my_space is set to be removed"
        );
        assert_eq!(
            run(absent, &h, &ch, false).changes["my_space"],
            json!("Absent")
        );
    }
}
