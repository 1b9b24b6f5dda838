//! Roles: Salt's `user_list`, `role_get`, `user_exists`, `user_create`,
//! `user_update` and `user_remove`.

use brine_common::functions::{FnError, Functions};
use brine_common::output::python;
use brine_states::modules::postgres::password::{self, Method};
use serde_json::{Map, Value, json};

use super::super::MinionCtx;
use super::super::process::Args;
use super::{Conn, Pg, csv, loose_less, psql_query, required, run, version};

const USER_LIST_SIG: &str = "user=None, host=None, port=None, maintenance_db=None, password=None, runas=None, return_password=False";
const ROLE_GET_SIG: &str = "name, user=None, host=None, port=None, maintenance_db=None, password=None, runas=None, return_password=False";
const USER_EXISTS_SIG: &str =
    "name, user=None, host=None, port=None, maintenance_db=None, password=None, runas=None";
const USER_REMOVE_SIG: &str =
    "username, user=None, host=None, port=None, maintenance_db=None, password=None, runas=None";
const USER_CREATE_SIG: &str = "username, user=None, host=None, port=None, maintenance_db=None, password=None, createdb=None, createroles=None, inherit=None, login=None, connlimit=None, encrypted=None, superuser=None, replication=None, rolepassword=None, valid_until=None, groups=None, runas=None";
const USER_UPDATE_SIG: &str = "username, user=None, host=None, port=None, maintenance_db=None, password=None, createdb=None, createroles=None, encrypted=None, superuser=None, inherit=None, login=None, connlimit=None, replication=None, rolepassword=None, valid_until=None, groups=None, runas=None";

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "postgres.user_list",
        USER_LIST_SIG,
        USER_LIST_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, USER_LIST_SIG);
            let users = user_list(&ctx, &Conn::of(&a), a.bool("return_password", false)).await?;
            ctx.answer(users.map_or(json!(false), Value::Object))
        },
    );
    f.register(
        "postgres.role_get",
        ROLE_GET_SIG,
        ROLE_GET_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, ROLE_GET_SIG);
            let name = required(&a, "name")?;
            ctx.answer(
                role_get(&ctx, &Conn::of(&a), &name, a.bool("return_password", false)).await?,
            )
        },
    );
    f.register(
        "postgres.user_exists",
        USER_EXISTS_SIG,
        USER_EXISTS_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, USER_EXISTS_SIG);
            ctx.answer(json!(
                exists(&ctx, &Conn::of(&a), &required(&a, "name")?).await?
            ))
        },
    );
    f.register(
        "postgres.user_create",
        USER_CREATE_SIG,
        USER_CREATE_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, USER_CREATE_SIG);
            ctx.answer(json!(role_create(&ctx, &a).await?))
        },
    );
    f.register(
        "postgres.user_update",
        USER_UPDATE_SIG,
        USER_UPDATE_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, USER_UPDATE_SIG);
            ctx.answer(json!(role_update(&ctx, &a).await?))
        },
    );
    f.register(
        "postgres.user_remove",
        USER_REMOVE_SIG,
        USER_REMOVE_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, USER_REMOVE_SIG);
            ctx.answer(json!(
                role_remove(&ctx, &Conn::of(&a), &required(&a, "username")?).await?
            ))
        },
    );
}

/// The `user_list` query for a server of version `ver`.
fn user_list_query(ver: &str, return_password: bool) -> String {
    let replication = if loose_less(ver, "9.1") {
        "NULL"
    } else {
        "pg_roles.rolreplication"
    };
    let catupdate = if loose_less(ver, "9.5") {
        "pg_roles.rolcatupdate"
    } else {
        "NULL"
    };
    let with_password = |s: &'static str| if return_password { s } else { "" };
    [
        "SELECT pg_roles.rolname as \"name\",pg_roles.rolsuper as \"superuser\", \
         pg_roles.rolinherit as \"inherits privileges\", pg_roles.rolcreaterole as \
         \"can create roles\", pg_roles.rolcreatedb as \"can create databases\", ",
        catupdate,
        " as \"can update system catalogs\", pg_roles.rolcanlogin as \"can login\", ",
        replication,
        " as \"replication\", pg_roles.rolconnlimit as \"connections\", (SELECT \
         array_agg(pg_roles2.rolname)    FROM pg_catalog.pg_auth_members    JOIN \
         pg_catalog.pg_roles pg_roles2 ON (pg_auth_members.roleid = pg_roles2.oid)    \
         WHERE pg_auth_members.member = pg_roles.oid) as \"groups\",\
         pg_roles.rolvaliduntil::timestamp(0) as \"expiry time\", \
         pg_roles.rolconfig  as \"defaults variables\" ",
        with_password(", COALESCE(pg_shadow.passwd, pg_authid.rolpassword) as \"password\" "),
        "FROM pg_roles ",
        with_password("LEFT JOIN pg_authid ON pg_roles.oid = pg_authid.oid "),
        with_password("LEFT JOIN pg_shadow ON pg_roles.oid = pg_shadow.usesysid"),
    ]
    .concat()
}

/// Salt's `user_list`: the roles by name, `None` (Salt's `False`) when
/// the server does not tell its version.
async fn user_list(
    ctx: &Pg,
    conn: &Conn,
    return_password: bool,
) -> Result<Option<Map<String, Value>>, FnError> {
    let Some(ver) = version(ctx, conn).await?.filter(|v| !v.is_empty()) else {
        tracing::warn!(
            "Attempt to parse version of Postgres server failed. Is the server responding?"
        );
        tracing::error!("Could not retrieve Postgres version. Is Postgresql server running?");
        return Ok(None);
    };
    let rows = psql_query(ctx, conn, &user_list_query(&ver, return_password), false).await?;
    Ok(Some(
        rows.iter()
            .map(|row| {
                (
                    cell(row, "name"),
                    Value::Object(role_of(row, return_password)),
                )
            })
            .collect(),
    ))
}

fn cell(row: &Map<String, Value>, key: &str) -> String {
    row.get(key).map(python::to_str).unwrap_or_default()
}

/// One `user_list` entry from its row: `t`/`f` as booleans (anything else
/// `None`, the connection limit too, as in Salt), the expiry time when it
/// reads as a time, the groups from PostgreSQL's `{a,b}` array.
fn role_of(row: &Map<String, Value>, return_password: bool) -> Map<String, Value> {
    let mut role = Map::new();
    for key in [
        "superuser",
        "inherits privileges",
        "can create roles",
        "can create databases",
        "can update system catalogs",
        "can login",
        "replication",
        "connections",
    ] {
        let flag = match cell(row, key).as_str() {
            "t" => json!(true),
            "f" => json!(false),
            _ => Value::Null,
        };
        role.insert(key.into(), flag);
    }
    let expiry = cell(row, "expiry time");
    let expiry = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", &expiry)
        .map_or(Value::Null, |_| json!(expiry));
    role.insert("expiry time".into(), expiry);
    role.insert(
        "defaults variables".into(),
        row.get("defaults variables")
            .cloned()
            .unwrap_or(Value::Null),
    );
    if return_password {
        role.insert(
            "password".into(),
            row.get("password").cloned().unwrap_or(Value::Null),
        );
    }
    let groups = cell(row, "groups");
    let groups = csv::records(groups.trim_matches(|c| c == '{' || c == '}'))
        .into_iter()
        .next()
        .unwrap_or_default();
    role.insert("groups".into(), json!(groups));
    role
}

/// Salt's `role_get`: the role's entry, `None` when missing or when the
/// server does not answer.
async fn role_get(
    ctx: &Pg,
    conn: &Conn,
    name: &str,
    return_password: bool,
) -> Result<Value, FnError> {
    match user_list(ctx, conn, return_password).await? {
        Some(mut users) => Ok(users.remove(name).unwrap_or(Value::Null)),
        None => {
            tracing::error!("Could not retrieve Postgres role. Is Postgres running?");
            Ok(Value::Null)
        }
    }
}

async fn exists(ctx: &Pg, conn: &Conn, name: &str) -> Result<bool, FnError> {
    Ok(python::truthy(&role_get(ctx, conn, name, false).await?))
}

/// A role flag argument: `None`, or its truthiness.
fn flag(a: &Args, key: &str) -> Option<bool> {
    a.get(key).map(python::truthy)
}

/// Salt's `_add_role_flag`.
fn add_flag(
    text: &mut String,
    test: Option<bool>,
    flag: &str,
    cond: Option<bool>,
    prefix: &str,
    addtxt: &str,
) {
    if let Some(test) = test {
        let on = cond.unwrap_or(test);
        text.push(' ');
        if !on {
            text.push_str(prefix);
        }
        text.push_str(flag);
    }
    if !addtxt.is_empty() {
        text.push(' ');
        text.push_str(addtxt);
    }
}

/// The kind of role `_role_cmd_args` builds for.
#[derive(Clone, Copy, PartialEq)]
enum RoleKind {
    User,
    /// `ALTER ROLE`: no defaults for inherit and login.
    Update,
}

/// Salt's `_role_cmd_args`: the attribute list after `CREATE ROLE "x" WITH`
/// or `ALTER ROLE "x" WITH`, then any `; GRANT` statements.
fn role_cmd_args(
    name: &str,
    a: &Args,
    kind: RoleKind,
    db_role: Option<&Map<String, Value>>,
) -> Result<String, FnError> {
    let user = kind == RoleKind::User;
    let inherit = flag(a, "inherit").or(user.then_some(true));
    let login = flag(a, "login").or(user.then_some(true));
    let encrypted = a
        .get("encrypted")
        .cloned()
        .unwrap_or(json!(password::DEFAULT_ENCRYPTION));
    let rolepassword = a.get("rolepassword");
    let is_bool = matches!(rolepassword, Some(Value::Bool(_)));
    let text_password = rolepassword
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let skip_password = text_password.is_none() && !is_bool;
    let escaped_password = match text_password {
        Some(p) => {
            let method = Method::of(&encrypted).map_err(|e| FnError::Exception(e.to_string()))?;
            format!(
                "'{}'",
                password::maybe_encrypt(name, &p.replace('\'', "''"), method)
            )
        }
        None => String::new(),
    };
    let valid_until = a.get("valid_until");
    let escaped_valid_until = valid_until
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|v| format!("'{}'", v.replace('\'', "''")))
        .unwrap_or_default();
    let superuser = flag(a, "superuser");
    let skip_superuser = db_role.is_some_and(|role| {
        superuser.unwrap_or(false) == role.get("superuser").is_some_and(python::truthy)
    });
    let password_given = rolepassword.is_some_and(python::truthy);
    let mut sub = String::new();
    add_flag(&mut sub, inherit, "INHERIT", None, "NO", "");
    add_flag(&mut sub, flag(a, "createdb"), "CREATEDB", None, "NO", "");
    add_flag(
        &mut sub,
        flag(a, "createroles"),
        "CREATEROLE",
        None,
        "NO",
        "",
    );
    if !skip_superuser {
        add_flag(&mut sub, superuser, "SUPERUSER", None, "NO", "");
    }
    add_flag(
        &mut sub,
        flag(a, "replication"),
        "REPLICATION",
        None,
        "NO",
        "",
    );
    add_flag(&mut sub, login, "LOGIN", None, "NO", "");
    if let Some(limit) = a.get("connlimit") {
        add_flag(
            &mut sub,
            Some(python::truthy(limit)),
            "CONNECTION LIMIT",
            None,
            "NO",
            &python::to_str(limit),
        );
    }
    if !(skip_password || is_bool) {
        add_flag(
            &mut sub,
            Some(password_given),
            "ENCRYPTED",
            Some(python::truthy(&encrypted)),
            "UN",
            "",
        );
    }
    if !skip_password {
        add_flag(
            &mut sub,
            Some(password_given),
            "PASSWORD",
            None,
            "NO",
            &escaped_password,
        );
    }
    if let Some(until) = valid_until {
        add_flag(
            &mut sub,
            Some(python::truthy(until)),
            "VALID UNTIL",
            None,
            "NO",
            &escaped_valid_until,
        );
    }
    for group in groups(a.get("groups")) {
        sub.push_str(&format!("; GRANT \"{group}\" TO \"{name}\""));
    }
    Ok(sub)
}

/// The `groups` argument: a list, or a comma-separated string.
fn groups(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) if !items.is_empty() => {
            let joined: Vec<String> = items.iter().map(python::to_str).collect();
            joined.join(",").split(',').map(String::from).collect()
        }
        Some(Value::String(s)) if !s.is_empty() => s.split(',').map(String::from).collect(),
        _ => Vec::new(),
    }
}

/// Salt's `_role_create` for a user: false when the role exists.
async fn role_create(ctx: &Pg, a: &Args) -> Result<bool, FnError> {
    let (conn, name) = (Conn::of(a), required(a, "username")?);
    if exists(ctx, &conn, &name).await? {
        tracing::info!("User '{name}' already exists");
        return Ok(false);
    }
    let query = format!(
        "CREATE ROLE \"{name}\" WITH {}",
        role_cmd_args(&name, a, RoleKind::User, None)?
    );
    Ok(run(ctx, &conn, &["-c", &query]).await?.retcode == 0)
}

/// Salt's `_role_update`: false when the role does not exist.
async fn role_update(ctx: &Pg, a: &Args) -> Result<bool, FnError> {
    let (conn, name) = (Conn::of(a), required(a, "username")?);
    let role = role_get(ctx, &conn, &name, false).await?;
    let Some(role) = role.as_object().filter(|r| !r.is_empty()) else {
        tracing::info!("User '{name}' could not be found");
        return Ok(false);
    };
    let query = format!(
        "ALTER ROLE \"{name}\" WITH {}",
        role_cmd_args(&name, a, RoleKind::Update, Some(role))?
    );
    Ok(run(ctx, &conn, &["-c", &query]).await?.retcode == 0)
}

/// Salt's `_role_remove`: drop the role; true when it is gone after.
async fn role_remove(ctx: &Pg, conn: &Conn, name: &str) -> Result<bool, FnError> {
    if !exists(ctx, conn, name).await? {
        tracing::info!("User '{name}' does not exist");
        return Ok(false);
    }
    run(ctx, conn, &["-c", &format!("DROP ROLE \"{name}\"")]).await?;
    Ok(!exists(ctx, conn, name).await?)
}

const USER_LIST_DOC: &str = "Return a dict with information about users of a Postgres server.\n\nSet return_password to True to get password hash in the result.\n\nCLI Example:\n\n    brine '*' postgres.user_list";
const ROLE_GET_DOC: &str = "Return a dict with information about users of a Postgres server.\n\nSet return_password to True to get password hash in the result.\n\nCLI Example:\n\n    brine '*' postgres.role_get postgres";
const USER_EXISTS_DOC: &str = "Checks if a user exists on the Postgres server.\n\nCLI Example:\n\n    brine '*' postgres.user_exists 'username'";
const USER_CREATE_DOC: &str = "Creates a Postgres user.\n\nCLI Examples:\n\n    brine '*' postgres.user_create 'username' user='user' host='hostname' port='port' password='password' rolepassword='rolepassword' valid_until='valid_until'";
const USER_UPDATE_DOC: &str = "Updates a Postgres user.\n\nCLI Examples:\n\n    brine '*' postgres.user_update 'username' user='user' host='hostname' port='port' password='password' rolepassword='rolepassword' valid_until='valid_until'";
const USER_REMOVE_DOC: &str = "Removes a user from the Postgres server.\n\nCLI Example:\n\n    brine '*' postgres.user_remove 'username'";

#[cfg(test)]
mod tests {
    use super::super::tests::args;
    use super::*;

    #[test]
    fn create_role_statement_is_salts() {
        let a = args(
            USER_CREATE_SIG,
            json!({"username": "frank", "rolepassword": "md5abc", "groups": "staff,admins",
                   "createdb": true, "encrypted": "md5"}),
        );
        assert_eq!(
            role_cmd_args("frank", &a, RoleKind::User, None).expect("a statement"),
            " INHERIT CREATEDB LOGIN ENCRYPTED PASSWORD 'md5abc'; GRANT \"staff\" TO \"frank\"; GRANT \"admins\" TO \"frank\""
        );
        let a = args(
            USER_CREATE_SIG,
            json!({"rolepassword": "secret", "valid_until": "2030-01-01", "connlimit": 5}),
        );
        assert_eq!(
            role_cmd_args("frank", &a, RoleKind::User, None).expect("a statement"),
            format!(
                " INHERIT LOGIN CONNECTION LIMIT 5 ENCRYPTED PASSWORD '{}' VALID UNTIL '2030-01-01'",
                password::md5_password("frank", "secret")
            )
        );
    }

    #[test]
    fn update_role_statement_is_salts() {
        let role = json!({"superuser": false});
        let a = args(
            USER_UPDATE_SIG,
            json!({"superuser": false, "login": false, "rolepassword": false}),
        );
        assert_eq!(
            role_cmd_args("r", &a, RoleKind::Update, role.as_object()).expect("a statement"),
            " NOLOGIN NOPASSWORD"
        );
        let a = args(
            USER_UPDATE_SIG,
            json!({"superuser": true, "encrypted": false, "rolepassword": "p"}),
        );
        assert_eq!(
            role_cmd_args("r", &a, RoleKind::Update, role.as_object()).expect("a statement"),
            " SUPERUSER UNENCRYPTED PASSWORD 'p'"
        );
    }

    #[test]
    fn roles_read_from_rows() {
        let row: Map<String, Value> = serde_json::from_value(json!({
            "name": "frank", "superuser": "f", "inherits privileges": "t",
            "can create roles": "f", "can create databases": "t",
            "can update system catalogs": "", "can login": "t", "replication": "f",
            "connections": "-1", "groups": "{staff,\"my group\"}",
            "expiry time": "2030-01-01 00:00:00", "defaults variables": "",
        }))
        .expect("a row");
        let role = role_of(&row, false);
        assert_eq!(role["superuser"], json!(false));
        assert_eq!(role["can create databases"], json!(true));
        assert_eq!(role["can update system catalogs"], Value::Null);
        assert_eq!(role["connections"], Value::Null);
        assert_eq!(role["groups"], json!(["staff", "my group"]));
        assert_eq!(role["expiry time"], json!("2030-01-01 00:00:00"));
        assert!(!role.contains_key("password"));
        let mut none = row.clone();
        none.insert("groups".into(), json!(""));
        none.insert("expiry time".into(), json!(""));
        let role = role_of(&none, true);
        assert_eq!(role["groups"], json!([]));
        assert_eq!(role["expiry time"], Value::Null);
        assert_eq!(role["password"], Value::Null);
    }

    #[test]
    fn user_list_query_depends_on_the_version() {
        let q = user_list_query("15.14 (Debian 15.14-0+deb12u1)", false);
        assert!(q.contains("NULL as \"can update system catalogs\""));
        assert!(q.contains("pg_roles.rolreplication as \"replication\""));
        assert!(q.ends_with("FROM pg_roles "));
        let q = user_list_query("9.0", true);
        assert!(q.contains("pg_roles.rolcatupdate as"));
        assert!(q.contains("NULL as \"replication\""));
        assert!(q.ends_with("LEFT JOIN pg_shadow ON pg_roles.oid = pg_shadow.usesysid"));
    }
}
