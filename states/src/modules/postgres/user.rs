//! `postgres_user.present` and `postgres_user.absent`: a role that can log
//! in, with its attributes, password, expiry and groups.

use serde_json::{Map, Value, json};

use super::password::{self, Method};
use super::{AbsentTexts, absent_flow, db_args, with_db_args};
use crate::lowstate::{StateCall, StateModules, StateResult};
use crate::modules::{arg, call, changed, name_of, one, pending, text, truthy};

pub fn register(m: &mut StateModules) {
    m.register("postgres_user.present", present);
    m.register("postgres_user.absent", absent);
}

/// The role attributes the state compares: (argument, `role_get` key).
const ATTRIBUTES: [(&str, &str); 6] = [
    ("createdb", "can create databases"),
    ("inherit", "inherits privileges"),
    ("login", "can login"),
    ("createroles", "can create roles"),
    ("replication", "replication"),
    ("superuser", "superuser"),
];

fn present(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    present_or_error(c).unwrap_or_else(|e| StateResult::fail(name, e))
}

fn present_or_error(c: &StateCall<'_>) -> Result<StateResult, String> {
    let name = name_of(c);
    let refresh = truthy(&arg(c.chunk, "refresh_password"));
    let role = call(
        c.host,
        "postgres.role_get",
        vec![json!(name)],
        &with_db_args(c, vec![("return_password", json!(!refresh))]),
    )?;
    let existing = role.as_object();
    let mode = if existing.is_some() {
        "update"
    } else {
        "create"
    };
    let mut wanted = arg(c.chunk, "password");
    if existing.is_none() && wanted.is_null() {
        wanted = arg(c.chunk, "default_password");
    }
    let password = match wanted {
        Value::Null => None,
        // Salt reads `encrypted` only for a password (a bad one raises there).
        w => {
            let method = Method::of(&arg(c.chunk, "encrypted")).map_err(|e| e.to_string())?;
            match existing {
                Some(role) if !refresh && already_set(name, &text(&w), role, method) => None,
                _ => Some(password::maybe_encrypt(name, &text(&w), method)),
            }
        }
    };
    let update = match existing {
        Some(role) => differences(c, role, password.is_some())?,
        None => Map::new(),
    };
    if existing.is_some() && update.is_empty() {
        return Ok(StateResult::ok(
            name,
            format!("User {name} is already present"),
        ));
    }
    if c.test {
        let changes = if update.is_empty() {
            Map::new()
        } else {
            one(name, Value::Object(update))
        };
        return Ok(pending(
            name,
            format!("User {name} is set to be {mode}d"),
            changes,
        ));
    }
    let done = call(
        c.host,
        &format!("postgres.user_{mode}"),
        vec![],
        &with_db_args(c, apply_args(c, name, password)),
    )?;
    Ok(if truthy(&done) {
        let what = if update.is_empty() {
            json!("Present")
        } else {
            Value::Object(update)
        };
        changed(
            name,
            format!("The user {name} has been {mode}d"),
            one(name, what),
        )
    } else {
        StateResult::fail(name, format!("Failed to {mode} user {name}"))
    })
}

/// Whether the stored verifier already holds `password`.
fn already_set(name: &str, wanted: &str, role: &Map<String, Value>, method: Method) -> bool {
    let stored = role.get("password").map(text).unwrap_or_default();
    password::verify(name, wanted, &stored, method)
}

/// The keyword arguments of `postgres.user_create`/`user_update`.
fn apply_args(
    c: &StateCall<'_>,
    name: &str,
    password: Option<String>,
) -> Vec<(&'static str, Value)> {
    let encrypted = match arg(c.chunk, "encrypted") {
        Value::Null => json!(password::DEFAULT_ENCRYPTION),
        other => other,
    };
    vec![
        ("username", json!(name)),
        ("createdb", arg(c.chunk, "createdb")),
        ("createroles", arg(c.chunk, "createroles")),
        ("encrypted", encrypted),
        ("superuser", arg(c.chunk, "superuser")),
        ("login", arg(c.chunk, "login")),
        ("inherit", arg(c.chunk, "inherit")),
        ("replication", arg(c.chunk, "replication")),
        ("rolepassword", password.map_or(Value::Null, Value::from)),
        ("valid_until", arg(c.chunk, "valid_until")),
        ("groups", arg(c.chunk, "groups")),
    ]
}

/// What an existing role lacks, in Salt's order and keys.
fn differences(
    c: &StateCall<'_>,
    role: &Map<String, Value>,
    new_password: bool,
) -> Result<Map<String, Value>, String> {
    let mut update = Map::new();
    for (key, column) in ATTRIBUTES {
        let want = arg(c.chunk, key);
        if !want.is_null() && role.get(column).unwrap_or(&Value::Null) != &want {
            update.insert(key.into(), want);
        }
    }
    if new_password {
        update.insert("password".into(), json!(true));
    }
    let valid_until = arg(c.chunk, "valid_until");
    if !valid_until.is_null() && expiry_differs(c, &text(&valid_until), role)? {
        update.insert("valid_until".into(), valid_until);
    }
    let missing = missing_groups(&arg(c.chunk, "groups"), role);
    if !missing.is_empty() {
        update.insert("groups".into(), json!(missing));
    }
    Ok(update)
}

/// Whether the server reads `valid_until` as another time than the role's
/// expiry (Salt asks the server to parse it, as `timestamp(0)`).
fn expiry_differs(
    c: &StateCall<'_>,
    valid_until: &str,
    role: &Map<String, Value>,
) -> Result<bool, String> {
    let query = format!(
        "SELECT '{}'::timestamp(0) as dt;",
        valid_until.replace('\'', "''")
    );
    let rows = call(
        c.host,
        "postgres.psql_query",
        vec![json!(query)],
        &db_args(c),
    )?;
    // Salt indexes the first row; an empty answer is its IndexError.
    let parsed = rows
        .get(0)
        .and_then(|row| row.get("dt"))
        .map(text)
        .ok_or_else(|| format!("The server did not read valid_until {valid_until}"))?;
    let parsed = is_timestamp(&parsed).then_some(parsed);
    let current = role.get("expiry time").and_then(Value::as_str);
    Ok(parsed.as_deref() != current)
}

/// `datetime.strptime(s, "%Y-%m-%d %H:%M:%S")` succeeds.
fn is_timestamp(s: &str) -> bool {
    jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", s).is_ok()
}

/// The wanted groups (a list, or a comma-separated string) the role is not in.
fn missing_groups(groups: &Value, role: &Map<String, Value>) -> Vec<String> {
    let wanted: Vec<String> = match groups {
        Value::String(s) => s.split(',').map(String::from).collect(),
        Value::Array(items) => items.iter().map(text).collect(),
        _ => return Vec::new(),
    };
    let have: Vec<String> = role
        .get("groups")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(text).collect())
        .unwrap_or_default();
    wanted.into_iter().filter(|g| !have.contains(g)).collect()
}

fn absent(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let texts = AbsentTexts {
        not_present: format!("User {name} is not present, so it cannot be removed"),
        to_remove: format!("User {name} is set to be removed"),
        removed: format!("User {name} has been removed"),
        failed: format!("User {name} failed to be removed"),
    };
    let kw = db_args(c);
    absent_flow(
        c,
        ("postgres.user_exists", &kw),
        ("postgres.user_remove", &kw),
        vec![json!(name)],
        texts,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run};

    /// A server that does not answer: no roles at all.
    fn server_down() -> MockHost {
        MockHost::new(|f, _, _| match f {
            "postgres.role_get" => Ok(Value::Null),
            "postgres.user_exists" => Ok(json!(false)),
            _ => Err(format!("unexpected {f}")),
        })
    }

    fn frank() -> Value {
        json!({
            "superuser": false, "inherits privileges": true, "can create roles": false,
            "can create databases": false, "can update system catalogs": null,
            "can login": true, "replication": false, "connections": null,
            "expiry time": null, "defaults variables": "", "groups": ["staff"],
            "password": password::md5_password("frank", "secret"),
        })
    }

    fn server_with_frank() -> MockHost {
        MockHost::new(|f, _, _| match f {
            "postgres.role_get" => Ok(frank()),
            "postgres.user_exists" => Ok(json!(true)),
            "postgres.user_update" | "postgres.user_remove" => Ok(json!(true)),
            _ => Err(format!("unexpected {f}")),
        })
    }

    #[test]
    fn missing_role_is_set_to_be_created() {
        let h = server_down();
        let ch = chunk(
            "postgres_user",
            "present",
            "localUser",
            json!({"password": "x"}),
        );
        let r = run(present, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(r.comment, "User localUser is set to be created");
        assert!(r.changes.is_empty());
        let call = &h.calls_to("postgres.role_get")[0];
        assert_eq!(call.kwargs["return_password"], json!(true));
    }

    #[test]
    fn absent_role_cannot_be_removed() {
        let h = server_down();
        let ch = chunk(
            "postgres_user",
            "absent",
            "absentUser",
            json!({"user": "postgres"}),
        );
        let r = run(absent, &h, &ch, true);
        assert_eq!(r.result, Some(true));
        assert_eq!(
            r.comment,
            "User absentUser is not present, so it cannot be removed"
        );
        assert_eq!(
            h.calls_to("postgres.user_exists")[0].kwargs["runas"],
            json!("postgres")
        );
    }

    #[test]
    fn existing_role_with_the_same_password_is_present() {
        let h = server_with_frank();
        let ch = chunk(
            "postgres_user",
            "present",
            "frank",
            json!({"password": "secret", "login": true, "groups": "staff"}),
        );
        let r = run(present, &h, &ch, true);
        assert_eq!(r.result, Some(true));
        assert_eq!(r.comment, "User frank is already present");
    }

    #[test]
    fn existing_role_lists_what_changes() {
        let h = server_with_frank();
        let ch = chunk(
            "postgres_user",
            "present",
            "frank",
            json!({"password": "new", "createdb": true, "groups": ["staff", "admins"]}),
        );
        let r = run(present, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(r.comment, "User frank is set to be updated");
        assert_eq!(
            r.changes["frank"],
            json!({"createdb": true, "password": true, "groups": ["admins"]})
        );
        let r = run(present, &h, &ch, false);
        assert_eq!(r.comment, "The user frank has been updated");
        let update = &h.calls_to("postgres.user_update")[0].kwargs;
        assert_eq!(
            update["rolepassword"],
            json!(password::md5_password("frank", "new"))
        );
        assert_eq!(update["encrypted"], json!("md5"));
    }

    #[test]
    fn absent_removes_an_existing_role() {
        let h = server_with_frank();
        let ch = chunk("postgres_user", "absent", "frank", json!({}));
        assert_eq!(
            run(absent, &h, &ch, true).comment,
            "User frank is set to be removed"
        );
        let r = run(absent, &h, &ch, false);
        assert_eq!(r.comment, "User frank has been removed");
        assert_eq!(r.changes["frank"], json!("Absent"));
    }

    #[test]
    fn unknown_encryption_fails_cleanly() {
        let h = server_down();
        let ch = chunk(
            "postgres_user",
            "present",
            "u",
            json!({"encrypted": "sha1"}),
        );
        assert_eq!(run(present, &h, &ch, true).result, None);
        let ch = chunk(
            "postgres_user",
            "present",
            "u",
            json!({"encrypted": "sha1", "password": "p"}),
        );
        let r = run(present, &h, &ch, true);
        assert_eq!(r.result, Some(false));
        assert_eq!(r.comment, "Unknown password algorithm: sha1");
    }
}
