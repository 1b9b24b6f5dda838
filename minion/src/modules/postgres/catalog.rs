//! Databases, tablespaces, schemas and extensions: Salt's `db_*`,
//! `tablespace_*`, `schema_*` and extension functions.

use brine_common::functions::{FnError, Functions};
use brine_common::output::python;
use serde_json::{Map, Value, json};

use super::super::MinionCtx;
use super::super::process::Args;
use super::{CONN_SIG, Conn, Pg, loose_less, psql_query, required, run};

/// A Salt signature with the connection parameters after `head` (and
/// `tail` after them).
macro_rules! sig {
    ($head:literal) => {
        concat!(
            $head,
            "user=None, host=None, port=None, maintenance_db=None, password=None, runas=None"
        )
    };
    ($head:literal, $tail:literal) => {
        concat!(
            $head,
            "user=None, host=None, port=None, maintenance_db=None, password=None, ",
            $tail
        )
    };
}

const NAME_SIG: &str = sig!("name, ");
const DB_CREATE_SIG: &str = sig!(
    "name, ",
    "tablespace=None, encoding=None, lc_collate=None, lc_ctype=None, owner=None, template=None, runas=None"
);
const DB_ALTER_SIG: &str = sig!(
    "name, ",
    "tablespace=None, owner=None, owner_recurse=False, runas=None"
);
const TS_CREATE_SIG: &str = "name, location, options=None, owner=None, user=None, host=None, port=None, maintenance_db=None, password=None, runas=None";
const TS_ALTER_SIG: &str = sig!(
    "name, ",
    "new_name=None, new_owner=None, set_option=None, reset_option=None, runas=None"
);
const META_SIG: &str = sig!("name, ext_version=None, schema=None, ");
const DROP_EXT_SIG: &str = sig!("name, if_exists=None, restrict=None, cascade=None, ");
const CREATE_EXT_SIG: &str =
    sig!("name, if_not_exists=None, schema=None, ext_version=None, from_version=None, ");
const SCHEMA_SIG: &str =
    "dbname, name, user=None, db_user=None, db_password=None, db_host=None, db_port=None";
const SCHEMA_CREATE_SIG: &str = "dbname, name, owner=None, user=None, db_user=None, db_password=None, db_host=None, db_port=None";
const SCHEMA_LIST_SIG: &str =
    "dbname, user=None, db_user=None, db_password=None, db_host=None, db_port=None";

pub fn register(f: &mut Functions<MinionCtx>) {
    register_databases(f);
    register_tablespaces(f);
    register_schemas(f);
    register_extensions(f);
}

fn register_databases(f: &mut Functions<MinionCtx>) {
    f.register(
        "postgres.db_list",
        CONN_SIG,
        DB_LIST_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, CONN_SIG);
            ctx.answer(Value::Object(db_list(&ctx, &Conn::of(&a)).await?))
        },
    );
    f.register(
        "postgres.db_exists",
        NAME_SIG,
        DB_EXISTS_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, NAME_SIG);
            let name = required(&a, "name")?;
            ctx.answer(json!(
                db_list(&ctx, &Conn::of(&a)).await?.contains_key(&name)
            ))
        },
    );
    f.register(
        "postgres.db_create",
        DB_CREATE_SIG,
        DB_CREATE_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, DB_CREATE_SIG);
            let query = db_create_query(&required(&a, "name")?, &a)?;
            ctx.answer(json!(
                run(&ctx, &Conn::of(&a), &["-c", &query]).await?.retcode == 0
            ))
        },
    );
    f.register(
        "postgres.db_alter",
        DB_ALTER_SIG,
        DB_ALTER_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, DB_ALTER_SIG);
            ctx.answer(json!(db_alter(&ctx, &required(&a, "name")?, &a).await?))
        },
    );
    f.register(
        "postgres.db_remove",
        NAME_SIG,
        DB_REMOVE_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, NAME_SIG);
            ctx.answer(json!(
                db_remove(&ctx, &Conn::of(&a), &required(&a, "name")?).await?
            ))
        },
    );
}

/// Rows keyed by their `key` column, which each row then loses.
fn keyed(rows: Vec<Map<String, Value>>, key: &str) -> Map<String, Value> {
    rows.into_iter()
        .map(|mut row| {
            let name = row
                .remove(key)
                .map(|v| python::to_str(&v))
                .unwrap_or_default();
            (name, Value::Object(row))
        })
        .collect()
}

/// Salt's `db_list`: the databases by name.
async fn db_list(ctx: &Pg, conn: &Conn) -> Result<Map<String, Value>, FnError> {
    let query = "SELECT datname as \"Name\", pga.rolname as \"Owner\", \
        pg_encoding_to_char(encoding) as \"Encoding\", \
        datcollate as \"Collate\", datctype as \"Ctype\", \
        datacl as \"Access privileges\", spcname as \"Tablespace\" \
        FROM pg_database pgd, pg_roles pga, pg_tablespace pgts \
        WHERE pga.oid = pgd.datdba AND pgts.oid = pgd.dattablespace";
    Ok(keyed(psql_query(ctx, conn, query, false).await?, "Name"))
}

/// Salt's `_quote_ddl_value`: `value` in `quote`s, refusing a value that
/// holds the quote.
fn quote_ddl(value: &str, quote: char) -> Result<String, FnError> {
    if value.contains(quote) {
        return Err(FnError::Invocation(format!(
            "Unsupported character {quote} in value: {value}"
        )));
    }
    Ok(format!("{quote}{value}{quote}"))
}

/// `CREATE DATABASE "name" WITH KEY = value ...` for the options given.
fn db_create_query(name: &str, a: &Args) -> Result<String, FnError> {
    let mut query = format!("CREATE DATABASE \"{name}\"");
    let mut chunks: Vec<String> = Vec::new();
    for (key, arg, quote) in [
        ("TABLESPACE", "tablespace", Some('"')),
        ("OWNER", "owner", Some('"')),
        ("TEMPLATE", "template", None),
        ("ENCODING", "encoding", Some('\'')),
        ("LC_COLLATE", "lc_collate", Some('\'')),
        ("LC_CTYPE", "lc_ctype", Some('\'')),
    ] {
        let Some(value) = a.str(arg) else { continue };
        let value = match quote {
            Some(q) => quote_ddl(&value, q)?,
            None => value,
        };
        chunks.extend([key.to_string(), "=".to_string(), value]);
    }
    if !chunks.is_empty() {
        // Salt joins " WITH" and the chunks with spaces.
        chunks.insert(0, " WITH".to_string());
        query.push_str(&chunks.join(" "));
    }
    Ok(query)
}

/// Salt's `db_alter`: a new owner and/or tablespace.
async fn db_alter(ctx: &Pg, name: &str, a: &Args) -> Result<bool, FnError> {
    let owner = a.str("owner").filter(|s| !s.is_empty());
    let tablespace = a.str("tablespace").filter(|s| !s.is_empty());
    if owner.is_none() && tablespace.is_none() {
        return Ok(true);
    }
    if owner.is_some() && a.bool("owner_recurse", false) {
        return Err(FnError::Execution(
            "postgres.db_alter: owner_recurse (Salt's owner_to) is not supported by Brine".into(),
        ));
    }
    let mut queries = Vec::new();
    if let Some(owner) = owner {
        queries.push(format!("ALTER DATABASE \"{name}\" OWNER TO \"{owner}\""));
    }
    if let Some(ts) = tablespace {
        queries.push(format!("ALTER DATABASE \"{name}\" SET TABLESPACE \"{ts}\""));
    }
    // Salt runs them all and judges by the last one.
    let mut last = 0;
    for query in queries {
        last = run(ctx, &Conn::of(a), &["-c", &query]).await?.retcode;
    }
    Ok(last == 0)
}

/// Salt's `db_remove`: revoke connections, end the sessions, drop; any
/// failing step raises.
async fn db_remove(ctx: &Pg, conn: &Conn, name: &str) -> Result<bool, FnError> {
    let queries = [
        format!("REVOKE CONNECT ON DATABASE \"{name}\" FROM public;"),
        format!(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid();"
        ),
        format!("DROP DATABASE \"{name}\";"),
    ];
    for query in &queries {
        let ret = run(ctx, conn, &["-c", query]).await?;
        if ret.retcode != 0 {
            return Err(FnError::Exception(format!("Failed: ret={}", ret.repr())));
        }
    }
    Ok(true)
}

fn register_tablespaces(f: &mut Functions<MinionCtx>) {
    f.register(
        "postgres.tablespace_list",
        CONN_SIG,
        TS_LIST_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, CONN_SIG);
            ctx.answer(Value::Object(tablespace_list(&ctx, &Conn::of(&a)).await?))
        },
    );
    f.register(
        "postgres.tablespace_exists",
        NAME_SIG,
        TS_EXISTS_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, NAME_SIG);
            let name = required(&a, "name")?;
            ctx.answer(json!(
                tablespace_list(&ctx, &Conn::of(&a))
                    .await?
                    .contains_key(&name)
            ))
        },
    );
    f.register(
        "postgres.tablespace_create",
        TS_CREATE_SIG,
        TS_CREATE_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, TS_CREATE_SIG);
            let query =
                tablespace_create_query(&required(&a, "name")?, &required(&a, "location")?, &a);
            ctx.answer(json!(
                run(&ctx, &Conn::of(&a), &["-c", &query]).await?.retcode == 0
            ))
        },
    );
    f.register(
        "postgres.tablespace_alter",
        TS_ALTER_SIG,
        TS_ALTER_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, TS_ALTER_SIG);
            let queries = tablespace_alter_queries(&required(&a, "name")?, &a);
            for query in queries {
                if run(&ctx, &Conn::of(&a), &["-c", &query]).await?.retcode != 0 {
                    return ctx.answer(json!(false));
                }
            }
            ctx.answer(json!(true))
        },
    );
    f.register(
        "postgres.tablespace_remove",
        NAME_SIG,
        TS_REMOVE_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, NAME_SIG);
            let query = format!("DROP TABLESPACE \"{}\"", required(&a, "name")?);
            ctx.answer(json!(
                run(&ctx, &Conn::of(&a), &["-c", &query]).await?.retcode == 0
            ))
        },
    );
}

/// Salt's `tablespace_list`: the tablespaces by name.
async fn tablespace_list(ctx: &Pg, conn: &Conn) -> Result<Map<String, Value>, FnError> {
    let query = "SELECT spcname as \"Name\", pga.rolname as \"Owner\", spcacl as \"ACL\", \
        spcoptions as \"Opts\", pg_tablespace_location(pgts.oid) as \"Location\" \
        FROM pg_tablespace pgts, pg_roles pga WHERE pga.oid = pgts.spcowner";
    Ok(keyed(psql_query(ctx, conn, query, false).await?, "Name"))
}

/// `CREATE TABLESPACE "name" [OWNER "o"] LOCATION 'dir' [WITH ( k = v, ... )]`
/// (Salt keeps the spaces of the parts left out).
fn tablespace_create_query(name: &str, location: &str, a: &Args) -> String {
    let owner = a
        .str("owner")
        .filter(|s| !s.is_empty())
        .map(|o| format!("OWNER \"{o}\""))
        .unwrap_or_default();
    let options = a
        .get("options")
        .and_then(Value::as_object)
        .filter(|o| !o.is_empty())
        .map(|o| {
            let items: Vec<String> = o
                .iter()
                .map(|(k, v)| format!("{k} = {}", python::to_str(v)))
                .collect();
            format!("WITH ( {} )", items.join(", "))
        })
        .unwrap_or_default();
    format!("CREATE TABLESPACE \"{name}\" {owner} LOCATION '{location}' {options}")
}

/// The `ALTER TABLESPACE` statements `tablespace_alter` runs, in order.
fn tablespace_alter_queries(name: &str, a: &Args) -> Vec<String> {
    let text = |key: &str| a.get(key).filter(|v| python::truthy(v)).map(python::to_str);
    let mut queries = Vec::new();
    if let Some(new_name) = text("new_name") {
        queries.push(format!(
            "ALTER TABLESPACE \"{name}\" RENAME TO \"{new_name}\""
        ));
    }
    if let Some(owner) = text("new_owner") {
        queries.push(format!("ALTER TABLESPACE \"{name}\" OWNER TO \"{owner}\""));
    }
    if let Some((k, v)) = a
        .get("set_option")
        .and_then(Value::as_object)
        .and_then(|o| o.iter().next())
    {
        queries.push(format!(
            "ALTER TABLESPACE \"{name}\" SET ({k} = {})",
            python::to_str(v)
        ));
    }
    if let Some(option) = text("reset_option") {
        queries.push(format!("ALTER TABLESPACE \"{name}\" RESET ({option})"));
    }
    queries
}

fn register_schemas(f: &mut Functions<MinionCtx>) {
    f.register(
        "postgres.schema_list",
        SCHEMA_LIST_SIG,
        SCHEMA_LIST_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, SCHEMA_LIST_SIG);
            ctx.answer(Value::Object(
                schema_list(&ctx, &Conn::of_schema(&a)).await?,
            ))
        },
    );
    f.register(
        "postgres.schema_get",
        SCHEMA_SIG,
        SCHEMA_GET_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, SCHEMA_SIG);
            ctx.answer(schema_get(&ctx, &Conn::of_schema(&a), &required(&a, "name")?).await?)
        },
    );
    f.register(
        "postgres.schema_exists",
        SCHEMA_SIG,
        SCHEMA_EXISTS_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, SCHEMA_SIG);
            let found = schema_get(&ctx, &Conn::of_schema(&a), &required(&a, "name")?).await?;
            ctx.answer(json!(python::truthy(&found)))
        },
    );
    f.register(
        "postgres.schema_create",
        SCHEMA_CREATE_SIG,
        SCHEMA_CREATE_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, SCHEMA_CREATE_SIG);
            let (conn, name) = (Conn::of_schema(&a), required(&a, "name")?);
            if python::truthy(&schema_get(&ctx, &conn, &name).await?) {
                return ctx.answer(json!(false));
            }
            let mut query = format!("CREATE SCHEMA \"{name}\"");
            if let Some(owner) = a.str("owner") {
                query.push_str(&format!(" AUTHORIZATION \"{owner}\""));
            }
            ctx.answer(json!(run(&ctx, &conn, &["-c", &query]).await?.retcode == 0))
        },
    );
    f.register(
        "postgres.schema_remove",
        SCHEMA_SIG,
        SCHEMA_REMOVE_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, SCHEMA_SIG);
            let (conn, name) = (Conn::of_schema(&a), required(&a, "name")?);
            // Salt's first check leaves `user` out (so psql runs as the
            // default system user); the drop and the second check use it.
            let first = Conn {
                runas: None,
                ..conn.clone()
            };
            if !python::truthy(&schema_get(&ctx, &first, &name).await?) {
                return ctx.answer(json!(false));
            }
            run(&ctx, &conn, &["-c", &format!("DROP SCHEMA \"{name}\"")]).await?;
            ctx.answer(json!(!python::truthy(
                &schema_get(&ctx, &conn, &name).await?
            )))
        },
    );
}

/// Salt's `schema_list`: the schemas of the connection's database by name,
/// with their owner and ACL.
async fn schema_list(ctx: &Pg, conn: &Conn) -> Result<Map<String, Value>, FnError> {
    let query = "SELECT pg_namespace.nspname as \"name\",pg_namespace.nspacl as \"acl\", \
        pg_roles.rolname as \"owner\" FROM pg_namespace \
        LEFT JOIN pg_roles ON pg_roles.oid = pg_namespace.nspowner ";
    let rows = psql_query(ctx, conn, query, false).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let pick = |k: &str| row.get(k).cloned().unwrap_or(Value::Null);
            let name = python::to_str(&pick("name"));
            (name, json!({"owner": pick("owner"), "acl": pick("acl")}))
        })
        .collect())
}

/// Salt's `schema_get`: the schema's entry, `None` when missing.
async fn schema_get(ctx: &Pg, conn: &Conn, name: &str) -> Result<Value, FnError> {
    Ok(schema_list(ctx, conn)
        .await?
        .remove(name)
        .unwrap_or(Value::Null))
}

fn register_extensions(f: &mut Functions<MinionCtx>) {
    f.register(
        "postgres.available_extensions",
        CONN_SIG,
        AVAILABLE_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, CONN_SIG);
            ctx.answer(Value::Object(
                available_extensions(&ctx, &Conn::of(&a)).await?,
            ))
        },
    );
    f.register(
        "postgres.installed_extensions",
        CONN_SIG,
        INSTALLED_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, CONN_SIG);
            ctx.answer(Value::Object(
                installed_extensions(&ctx, &Conn::of(&a)).await?,
            ))
        },
    );
    f.register(
        "postgres.get_available_extension",
        NAME_SIG,
        GET_AVAILABLE_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, NAME_SIG);
            let name = required(&a, "name")?;
            ctx.answer(
                available_extensions(&ctx, &Conn::of(&a))
                    .await?
                    .remove(&name)
                    .unwrap_or(Value::Null),
            )
        },
    );
    f.register(
        "postgres.get_installed_extension",
        NAME_SIG,
        GET_INSTALLED_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, NAME_SIG);
            ctx.answer(installed(&ctx, &Conn::of(&a), &required(&a, "name")?).await?)
        },
    );
    f.register(
        "postgres.is_available_extension",
        NAME_SIG,
        IS_AVAILABLE_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, NAME_SIG);
            ctx.answer(json!(
                is_available(&ctx, &Conn::of(&a), &required(&a, "name")?).await?
            ))
        },
    );
    f.register(
        "postgres.is_installed_extension",
        NAME_SIG,
        IS_INSTALLED_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, NAME_SIG);
            let found = installed(&ctx, &Conn::of(&a), &required(&a, "name")?).await?;
            ctx.answer(json!(python::truthy(&found)))
        },
    );
    f.register(
        "postgres.create_metadata",
        META_SIG,
        CREATE_METADATA_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, META_SIG);
            let flags = create_metadata(&ctx, &Conn::of(&a), &required(&a, "name")?, &a).await?;
            ctx.answer(json!(flags))
        },
    );
    f.register(
        "postgres.create_extension",
        CREATE_EXT_SIG,
        CREATE_EXTENSION_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, CREATE_EXT_SIG);
            ctx.answer(json!(
                create_extension(&ctx, &required(&a, "name")?, &a).await?
            ))
        },
    );
    f.register(
        "postgres.drop_extension",
        DROP_EXT_SIG,
        DROP_EXTENSION_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, DROP_EXT_SIG);
            ctx.answer(json!(
                drop_extension(&ctx, &required(&a, "name")?, &a).await?
            ))
        },
    );
}

/// `create_metadata`'s flags (Salt's `_EXTENSION_*`).
const NOT_INSTALLED: &str = "EXTENSION NOT INSTALLED";
const INSTALLED: &str = "EXTENSION INSTALLED";
const TO_UPGRADE: &str = "EXTENSION TO UPGRADE";
const TO_MOVE: &str = "EXTENSION TO MOVE";

/// Rows keyed by `key` (kept in the row) when they hold `needs` too.
fn rows_by(rows: Vec<Map<String, Value>>, key: &str, needs: &str) -> Map<String, Value> {
    rows.into_iter()
        .filter(|r| r.contains_key(key) && r.contains_key(needs))
        .map(|r| (python::to_str(&r[key]), Value::Object(r)))
        .collect()
}

async fn available_extensions(ctx: &Pg, conn: &Conn) -> Result<Map<String, Value>, FnError> {
    let rows = psql_query(ctx, conn, "select * from pg_available_extensions();", false).await?;
    Ok(rows_by(rows, "name", "default_version"))
}

async fn installed_extensions(ctx: &Pg, conn: &Conn) -> Result<Map<String, Value>, FnError> {
    let query = "select a.*, b.nspname as schema_name \
        from pg_extension a,  pg_namespace b where a.extnamespace = b.oid;";
    let rows = psql_query(ctx, conn, query, false).await?;
    Ok(rows_by(rows, "extname", "extversion"))
}

/// Salt's `get_installed_extension`: the extension's row, `None` when missing.
async fn installed(ctx: &Pg, conn: &Conn, name: &str) -> Result<Value, FnError> {
    Ok(installed_extensions(ctx, conn)
        .await?
        .remove(name)
        .unwrap_or(Value::Null))
}

async fn is_available(ctx: &Pg, conn: &Conn, name: &str) -> Result<bool, FnError> {
    let wanted = name.to_lowercase();
    Ok(available_extensions(ctx, conn)
        .await?
        .keys()
        .any(|k| k.to_lowercase() == wanted))
}

/// Salt's `create_metadata`: installed or not, and whether a wanted
/// version or schema asks for an upgrade or a move.
async fn create_metadata(
    ctx: &Pg,
    conn: &Conn,
    name: &str,
    a: &Args,
) -> Result<Vec<&'static str>, FnError> {
    let found = installed(ctx, conn, name).await?;
    Ok(metadata_flags(
        &found,
        a.str("ext_version").as_deref(),
        a.str("schema").as_deref(),
    ))
}

fn metadata_flags(found: &Value, version: Option<&str>, schema: Option<&str>) -> Vec<&'static str> {
    let Some(ext) = found.as_object().filter(|o| !o.is_empty()) else {
        return vec![NOT_INSTALLED];
    };
    let field = |k: &str| ext.get(k).map(python::to_str);
    let mut flags = vec![INSTALLED];
    if let Some(version) = version
        && loose_less(
            &field("extversion").unwrap_or_else(|| version.to_string()),
            version,
        )
    {
        flags.push(TO_UPGRADE);
    }
    if let Some(schema) = schema
        && field("extrelocatable").as_deref() == Some("t")
        && field("schema_name").as_deref().unwrap_or(schema) != schema
    {
        flags.push(TO_MOVE);
    }
    flags
}

/// Salt's `create_extension`: install, move or upgrade, then true when
/// the extension is there as wanted.
async fn create_extension(ctx: &Pg, name: &str, a: &Args) -> Result<bool, FnError> {
    let conn = Conn::of(a);
    let flags = create_metadata(ctx, &conn, name, a).await?;
    if is_available(ctx, &conn, name).await? {
        let cmd = extension_statement(name, &flags, a);
        if !cmd.is_empty() {
            run(ctx, &conn, &["-c", &cmd]).await?;
        }
    }
    let flags = create_metadata(ctx, &conn, name, a).await?;
    Ok(flags.iter().all(|f| *f == INSTALLED))
}

/// The SQL that brings the extension where `flags` say it is not.
fn extension_statement(name: &str, flags: &[&str], a: &Args) -> String {
    let text = |k: &str| a.get(k).filter(|v| python::truthy(v)).map(python::to_str);
    let (schema, version) = (text("schema"), text("ext_version"));
    let mut args: Vec<String> = Vec::new();
    if flags.contains(&NOT_INSTALLED) {
        args.push("CREATE EXTENSION".into());
        if a.get("if_not_exists").is_none_or(python::truthy) {
            args.push("IF NOT EXISTS".into());
        }
        args.push(format!("\"{name}\""));
        let mut with = Vec::new();
        if let Some(s) = &schema {
            with.push(format!("SCHEMA \"{s}\""));
        }
        if let Some(v) = &version {
            with.push(format!("VERSION {v}"));
        }
        if let Some(from) = text("from_version") {
            with.push(format!("FROM {from}"));
        }
        if !with.is_empty() {
            args.push("WITH".into());
            args.extend(with);
        }
        args.push(";".into());
    } else {
        if let Some(s) = schema.filter(|_| flags.contains(&TO_MOVE)) {
            args.push(format!("ALTER EXTENSION \"{name}\" SET SCHEMA \"{s}\";"));
        }
        if let Some(v) = version.filter(|_| flags.contains(&TO_UPGRADE)) {
            args.push(format!("ALTER EXTENSION \"{name}\" UPDATE TO {v};"));
        }
    }
    args.join(" ").trim().to_string()
}

/// Salt's `drop_extension`: drop it if installed; true when it is gone.
async fn drop_extension(ctx: &Pg, name: &str, a: &Args) -> Result<bool, FnError> {
    let conn = Conn::of(a);
    let flag = |k: &str, default: bool| a.get(k).map_or(default, python::truthy);
    let mut args = vec!["DROP EXTENSION"];
    if flag("if_exists", false) {
        args.push("IF EXISTS");
    }
    args.push(name);
    if flag("cascade", true) {
        args.push("CASCADE");
    }
    if flag("restrict", false) {
        args.push("RESTRICT");
    }
    args.push(";");
    let cmd = args.join(" ");
    if python::truthy(&installed(ctx, &conn, name).await?) {
        run(ctx, &conn, &["-c", &cmd]).await?;
    }
    Ok(!python::truthy(&installed(ctx, &conn, name).await?))
}

const DB_LIST_DOC: &str = "Return dictionary with information about databases of a Postgres server.\n\nCLI Example:\n\n    brine '*' postgres.db_list";
const DB_EXISTS_DOC: &str = "Checks if a database exists on the Postgres server.\n\nCLI Example:\n\n    brine '*' postgres.db_exists 'dbname'";
const DB_CREATE_DOC: &str = "Adds a databases to the Postgres server.\n\nCLI Example:\n\n    brine '*' postgres.db_create 'dbname'\n\n    brine '*' postgres.db_create 'dbname' template=template_postgis";
const DB_ALTER_DOC: &str = "Change tablespace or/and owner of database.\n\nCLI Example:\n\n    brine '*' postgres.db_alter dbname owner=otheruser";
const DB_REMOVE_DOC: &str = "Removes a databases from the Postgres server.\n\nCLI Example:\n\n    brine '*' postgres.db_remove 'dbname'";
const TS_LIST_DOC: &str = "Return dictionary with information about tablespaces of a Postgres server.\n\nCLI Example:\n\n    brine '*' postgres.tablespace_list";
const TS_EXISTS_DOC: &str = "Checks if a tablespace exists on the Postgres server.\n\nCLI Example:\n\n    brine '*' postgres.tablespace_exists 'dbname'";
const TS_CREATE_DOC: &str = "Adds a tablespace to the Postgres server.\n\nCLI Example:\n\n    brine '*' postgres.tablespace_create tablespacename '/path/datadir'";
const TS_ALTER_DOC: &str = "Change tablespace name, owner, or options.\n\nCLI Example:\n\n    brine '*' postgres.tablespace_alter tsname new_owner=otheruser\n    brine '*' postgres.tablespace_alter index_space new_name=fast_raid\n    brine '*' postgres.tablespace_alter test set_option=\"{'seq_page_cost': '1.1'}\"\n    brine '*' postgres.tablespace_alter tsname reset_option=seq_page_cost";
const TS_REMOVE_DOC: &str = "Removes a tablespace from the Postgres server.\n\nCLI Example:\n\n    brine '*' postgres.tablespace_remove tsname";
const SCHEMA_LIST_DOC: &str = "Return a dict with information about schemas in a Postgres database.\n\nCLI Example:\n\n    brine '*' postgres.schema_list dbname";
const SCHEMA_GET_DOC: &str = "Return a dict with information about schemas in a database.\n\nCLI Example:\n\n    brine '*' postgres.schema_get dbname name";
const SCHEMA_EXISTS_DOC: &str = "Checks if a schema exists on the Postgres server.\n\nCLI Example:\n\n    brine '*' postgres.schema_exists dbname schemaname";
const SCHEMA_CREATE_DOC: &str = "Creates a Postgres schema.\n\nCLI Example:\n\n    brine '*' postgres.schema_create dbname name owner='owner' user='user' db_user='user' db_password='password' db_host='hostname' db_port='port'";
const SCHEMA_REMOVE_DOC: &str = "Removes a schema from the Postgres server.\n\nCLI Example:\n\n    brine '*' postgres.schema_remove dbname schemaname";
const AVAILABLE_DOC: &str = "List available postgresql extensions\n\nCLI Example:\n\n    brine '*' postgres.available_extensions";
const INSTALLED_DOC: &str = "List installed postgresql extensions\n\nCLI Example:\n\n    brine '*' postgres.installed_extensions";
const GET_AVAILABLE_DOC: &str = "Get info about an available postgresql extension\n\nCLI Example:\n\n    brine '*' postgres.get_available_extension plpgsql";
const GET_INSTALLED_DOC: &str = "Get info about an installed postgresql extension\n\nCLI Example:\n\n    brine '*' postgres.get_installed_extension plpgsql";
const IS_AVAILABLE_DOC: &str = "Test if a specific extension is available\n\nCLI Example:\n\n    brine '*' postgres.is_available_extension";
const IS_INSTALLED_DOC: &str = "Test if a specific extension is installed\n\nCLI Example:\n\n    brine '*' postgres.is_installed_extension";
const CREATE_METADATA_DOC: &str = "Get lifecycle information about an extension\n\nCLI Example:\n\n    brine '*' postgres.create_metadata adminpack";
const CREATE_EXTENSION_DOC: &str = "Install a postgresql extension\n\nCLI Example:\n\n    brine '*' postgres.create_extension 'adminpack'";
const DROP_EXTENSION_DOC: &str = "Drop an installed postgresql extension\n\nCLI Example:\n\n    brine '*' postgres.drop_extension 'adminpack'";

#[cfg(test)]
mod tests {
    use super::super::tests::args;
    use super::*;

    #[test]
    fn create_database_statement_is_salts() {
        let a = args(
            DB_CREATE_SIG,
            json!({"owner": "localUser", "template": "template0",
                   "lc_ctype": "en_US.UTF-8", "lc_collate": "en_US.UTF-8"}),
        );
        assert_eq!(
            db_create_query("db1", &a).expect("a statement"),
            "CREATE DATABASE \"db1\" WITH OWNER = \"localUser\" TEMPLATE = template0 \
             LC_COLLATE = 'en_US.UTF-8' LC_CTYPE = 'en_US.UTF-8'"
        );
        assert_eq!(
            db_create_query("d", &args(DB_CREATE_SIG, json!({}))).expect("a statement"),
            "CREATE DATABASE \"d\""
        );
        let bad = args(DB_CREATE_SIG, json!({"encoding": "UTF8'; DROP"}));
        assert_eq!(
            db_create_query("d", &bad)
                .expect_err("an error")
                .to_string(),
            "Unsupported character ' in value: UTF8'; DROP"
        );
    }

    #[test]
    fn tablespace_statements_are_salts() {
        let a = args(TS_CREATE_SIG, json!({}));
        assert_eq!(
            tablespace_create_query("my_space", "/srv/t", &a),
            "CREATE TABLESPACE \"my_space\"  LOCATION '/srv/t' "
        );
        let a = args(
            TS_CREATE_SIG,
            json!({"owner": "u", "options": {"seq_page_cost": 1.1}}),
        );
        assert_eq!(
            tablespace_create_query("s", "/t", &a),
            "CREATE TABLESPACE \"s\" OWNER \"u\" LOCATION '/t' WITH ( seq_page_cost = 1.1 )"
        );
        let a = args(
            TS_ALTER_SIG,
            json!({"new_owner": "u", "set_option": {"k": "v"}}),
        );
        assert_eq!(
            tablespace_alter_queries("s", &a),
            vec![
                "ALTER TABLESPACE \"s\" OWNER TO \"u\"".to_string(),
                "ALTER TABLESPACE \"s\" SET (k = v)".to_string(),
            ]
        );
    }

    #[test]
    fn rows_keyed_by_name() {
        let rows = vec![Map::from_iter([
            ("Name".to_string(), json!("db1")),
            ("Owner".to_string(), json!("u")),
        ])];
        assert_eq!(
            Value::Object(keyed(rows, "Name")),
            json!({"db1": {"Owner": "u"}})
        );
    }

    #[test]
    fn extension_metadata_and_statements() {
        assert_eq!(
            metadata_flags(&Value::Null, None, None),
            vec![NOT_INSTALLED]
        );
        let ext = json!({"extversion": "1.0", "extrelocatable": "t", "schema_name": "public"});
        assert_eq!(
            metadata_flags(&ext, Some("1.1"), Some("ext")),
            vec![INSTALLED, TO_UPGRADE, TO_MOVE]
        );
        assert_eq!(
            metadata_flags(&ext, Some("1.0"), Some("public")),
            vec![INSTALLED]
        );
        let a = args(CREATE_EXT_SIG, json!({"schema": "uuid-ossp"}));
        assert_eq!(
            extension_statement("uuid-ossp", &[NOT_INSTALLED], &a),
            "CREATE EXTENSION IF NOT EXISTS \"uuid-ossp\" WITH SCHEMA \"uuid-ossp\" ;"
        );
        let a = args(
            CREATE_EXT_SIG,
            json!({"schema": "s", "ext_version": "2", "if_not_exists": false}),
        );
        assert_eq!(
            extension_statement("e", &[INSTALLED, TO_UPGRADE, TO_MOVE], &a),
            "ALTER EXTENSION \"e\" SET SCHEMA \"s\"; ALTER EXTENSION \"e\" UPDATE TO 2;"
        );
        assert_eq!(
            extension_statement("e", &[NOT_INSTALLED], &a),
            "CREATE EXTENSION \"e\" WITH SCHEMA \"s\" VERSION 2 ;"
        );
    }
}
