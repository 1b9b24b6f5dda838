//! Salt's `postgres` execution module: roles, databases, tablespaces,
//! schemas and extensions of a PostgreSQL server, read and changed by
//! running `psql` exactly as Salt does (`_psql_cmd`, `_run_psql`,
//! `psql_query`).
//!
//! Every call builds `psql --no-align --no-readline --no-psqlrc
//! --no-password [--username U] [--host H] [--port P] --dbname DB ...`
//! from its connection arguments, falling back to the `postgres.user`,
//! `postgres.host`, `postgres.port` and `postgres.maintenance_db` options
//! (`config.option`), and runs it through `cmd.run_all` as the system user
//! `runas` (`postgres` for a local server), with a temporary `PGPASSFILE`
//! holding `postgres.pass`. Queries are wrapped in `COPY (...) TO STDOUT
//! WITH CSV HEADER` and read as CSV; a psql that fails (a server that is
//! down) reads as no rows, so lists are empty and `user_list` is `False`,
//! as in Salt.

mod catalog;
mod csv;
mod roles;

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;

use brine_common::functions::{FnError, FnOutput, Functions};
use brine_common::output::python;
use serde_json::{Map, Value, json};

use super::MinionCtx;
use super::host::which;
use super::process::Args;

/// The connection parameters most functions take.
const CONN_SIG: &str =
    "user=None, host=None, port=None, maintenance_db=None, password=None, runas=None";

pub fn register(f: &mut Functions<MinionCtx>) {
    // Salt's `__virtual__`: no psql, no postgres module (and no postgres states).
    if which("psql").is_none() {
        return;
    }
    f.register(
        "postgres.version",
        CONN_SIG,
        VERSION_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let conn = Conn::of(&Args::bind(&call, CONN_SIG));
            let found = version(&ctx, &conn).await?;
            ctx.answer(found.map_or(Value::Null, Value::from))
        },
    );
    f.register(
        "postgres.psql_query",
        PSQL_QUERY_SIG,
        PSQL_QUERY_DOC,
        |ctx, call| async move {
            let ctx = Pg::new(ctx);
            let a = Args::bind(&call, PSQL_QUERY_SIG);
            let query = a
                .str("query")
                .ok_or_else(|| FnError::Invocation("missing required argument 'query'".into()))?;
            let rows = psql_query(&ctx, &Conn::of(&a), &query, a.bool("write", false)).await?;
            ctx.answer(json!(rows))
        },
    );
    catalog::register(f);
    roles::register(f);
}

const PSQL_QUERY_SIG: &str = "query, user=None, host=None, port=None, maintenance_db=None, password=None, runas=None, write=False";
const VERSION_DOC: &str =
    "Return the version of a Postgres server.\n\nCLI Example:\n\n    brine '*' postgres.version";
const PSQL_QUERY_DOC: &str = "Run an SQL-Query and return the results as a list. This command\nonly supports SELECT statements.\n\nquery\n    The query string.\n\nuser / host / port / maintenance_db / password\n    Database connection, if different from config or default.\n\nrunas\n    User to run the command as.\n\nwrite\n    Mark query as READ WRITE transaction.\n\nCLI Example:\n\n    brine '*' postgres.psql_query 'select * from pg_stat_activity'";

/// Who connects where: Salt's `user`, `host`, `port`, `maintenance_db`,
/// `password` and `runas` arguments (empty ones count as not given).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conn {
    pub user: Option<String>,
    pub host: Option<String>,
    pub port: Option<String>,
    pub maintenance_db: Option<String>,
    pub password: Option<String>,
    pub runas: Option<String>,
}

/// One call of a `postgres.*` function: the minion context, and the
/// exit code of the last psql it ran, which becomes the call's retcode
/// (Salt's `cmd.run_all` sets `__context__["retcode"]` on every run).
pub struct Pg {
    ctx: MinionCtx,
    last_retcode: std::sync::atomic::AtomicI64,
}

impl Pg {
    pub fn new(ctx: MinionCtx) -> Pg {
        Pg {
            ctx,
            last_retcode: std::sync::atomic::AtomicI64::new(0),
        }
    }

    fn record(&self, retcode: i64) {
        self.last_retcode
            .store(retcode, std::sync::atomic::Ordering::Relaxed);
    }

    /// The function's answer, with the last psql's exit code.
    fn answer(&self, ret: Value) -> Result<FnOutput, FnError> {
        let retcode = self.last_retcode.load(std::sync::atomic::Ordering::Relaxed);
        Ok(FnOutput {
            ret,
            retcode: i32::try_from(retcode).unwrap_or(1),
        })
    }
}

impl std::ops::Deref for Pg {
    type Target = MinionCtx;
    fn deref(&self) -> &MinionCtx {
        &self.ctx
    }
}

/// A required string argument.
fn required(a: &Args, key: &str) -> Result<String, FnError> {
    a.str(key)
        .ok_or_else(|| FnError::Invocation(format!("missing required argument '{key}'")))
}

/// A non-empty string argument.
fn given(a: &Args, key: &str) -> Option<String> {
    a.str(key).filter(|s| !s.is_empty())
}

impl Conn {
    /// The usual connection arguments.
    pub fn of(a: &Args) -> Conn {
        Conn {
            user: given(a, "user"),
            host: given(a, "host"),
            port: given(a, "port"),
            maintenance_db: given(a, "maintenance_db"),
            password: a.str("password"),
            runas: given(a, "runas"),
        }
    }

    /// The schema functions' arguments: `user` is the system user,
    /// `db_*` the connection, `dbname` the database.
    pub fn of_schema(a: &Args) -> Conn {
        Conn {
            user: given(a, "db_user"),
            host: given(a, "db_host"),
            port: given(a, "db_port"),
            maintenance_db: given(a, "dbname"),
            password: a.str("db_password"),
            runas: given(a, "user"),
        }
    }
}

/// What `cmd.run_all` gave for one psql run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PsqlRun {
    pub retcode: i64,
    pub stdout: String,
    /// `cmd.run_all`'s whole dict (pid, retcode, stdout, stderr).
    pub raw: Value,
}

impl PsqlRun {
    fn of(raw: Value) -> PsqlRun {
        PsqlRun {
            retcode: raw.get("retcode").and_then(Value::as_i64).unwrap_or(0),
            stdout: raw
                .get("stdout")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            raw,
        }
    }

    /// Salt's `ret` dict, for messages.
    fn repr(&self) -> String {
        python::repr(&self.raw)
    }
}

/// `__salt__[fun](...)` as the postgres module uses it: `cmd.run_all` of a
/// failing command is not a failed call (its dict, with the retcode, is the
/// answer); a failed call's message loses its `ERROR: ` prefix, as Salt
/// re-raises the inner error with its own message.
async fn call_fn(
    ctx: &MinionCtx,
    fun: &str,
    args: Vec<Value>,
    kwargs: Map<String, Value>,
) -> Result<Value, FnError> {
    let out = ctx.call_outcome(fun, args, kwargs).await?;
    if out.success || !out.ret.is_string() {
        Ok(out.ret)
    } else {
        let msg = python::to_str(&out.ret);
        Err(FnError::Execution(
            msg.strip_prefix("ERROR: ").unwrap_or(&msg).to_string(),
        ))
    }
}

/// `config.option(key)`: `""` when unset.
async fn option(ctx: &MinionCtx, key: &str) -> Result<Value, FnError> {
    call_fn(ctx, "config.option", vec![json!(key)], Map::new()).await
}

/// A string option, `None` when unset or empty.
async fn option_text(ctx: &MinionCtx, key: &str) -> Result<Option<String>, FnError> {
    let v = option(ctx, key).await?;
    Ok(Some(python::to_str(&v)).filter(|s| !v.is_null() && !s.is_empty()))
}

/// Salt's `_find_pg_binary`: in `postgres.bins_dir`, else on the path.
async fn find_pg_binary(ctx: &MinionCtx, util: &str) -> Result<PathBuf, FnError> {
    if let Some(dir) = option_text(ctx, "postgres.bins_dir").await?
        && let Some(found) = which(&format!("{}/{util}", dir.trim_end_matches('/')))
    {
        return Ok(found);
    }
    which(util).ok_or_else(|| FnError::Execution(format!("{util} was not found")))
}

/// Salt's `_psql_cmd`: the psql command line for `args`, the connection
/// filled in from the `postgres.*` options.
async fn psql_cmd(ctx: &MinionCtx, conn: &Conn, args: &[&str]) -> Result<Vec<String>, FnError> {
    let mut filled = conn.clone();
    for (field, key) in [
        (&mut filled.user, "postgres.user"),
        (&mut filled.host, "postgres.host"),
        (&mut filled.port, "postgres.port"),
        (&mut filled.maintenance_db, "postgres.maintenance_db"),
    ] {
        if field.is_none() {
            *field = option_text(ctx, key).await?;
        }
    }
    let psql = find_pg_binary(ctx, "psql").await?;
    Ok(psql_argv(&psql.to_string_lossy(), &filled, args))
}

/// The command line itself, from a filled-in connection.
fn psql_argv(psql: &str, conn: &Conn, args: &[&str]) -> Vec<String> {
    let mut cmd: Vec<String> = [
        psql,
        "--no-align",
        "--no-readline",
        "--no-psqlrc",
        "--no-password",
    ]
    .map(String::from)
    .to_vec();
    for (flag, value) in [
        ("--username", &conn.user),
        ("--host", &conn.host),
        ("--port", &conn.port),
    ] {
        if let Some(v) = value {
            cmd.extend([flag.to_string(), v.clone()]);
        }
    }
    let db = conn.maintenance_db.as_deref().unwrap_or("postgres");
    cmd.extend(["--dbname".to_string(), db.to_string()]);
    cmd.extend(args.iter().map(|a| a.to_string()));
    cmd
}

/// The system user psql runs as when none is given: a local server's
/// owner, by OS family (Salt's `_run_psql`).
fn local_server_user(os_family: &str) -> &'static str {
    if os_family.contains("OpenBSD") {
        "_postgresql"
    } else {
        "postgres"
    }
}

/// Salt's `_psql_prepare_and_run`: build and run psql for `args`.
pub async fn run(ctx: &Pg, conn: &Conn, args: &[&str]) -> Result<PsqlRun, FnError> {
    let cmd = psql_cmd(ctx, conn, args).await?;
    run_psql(ctx, conn, cmd).await
}

/// Salt's `_run_psql`: run `cmd` through `cmd.run_all` as the right user,
/// with a `PGPASSFILE` for the password.
async fn run_psql(ctx: &Pg, conn: &Conn, cmd: Vec<String>) -> Result<PsqlRun, FnError> {
    let mut runas = conn.runas.clone();
    let mut host = conn.host.clone();
    if runas.is_none() {
        if host.is_none() {
            host = option_text(ctx, "postgres.host").await?;
        }
        if host.as_deref().is_none_or(|h| h.starts_with('/')) {
            let family = ctx
                .grains()
                .get("os_family")
                .map(python::to_str)
                .unwrap_or_default();
            runas = Some(local_server_user(&family).to_string());
        }
    }
    let user = conn.user.clone().or_else(|| runas.clone());
    let password = match &conn.password {
        Some(p) => Some(p.clone()),
        None => Some(option(ctx, "postgres.pass").await?)
            .filter(|v| !v.is_null())
            .map(|v| python::to_str(&v)),
    };
    let mut kwargs = Map::new();
    kwargs.insert("python_shell".into(), json!(false));
    kwargs.insert("reset_system_locale".into(), json!(false));
    kwargs.insert("clean_env".into(), json!(true));
    let timeout = call_fn(
        ctx,
        "config.option",
        vec![json!("postgres.timeout")],
        Map::from_iter([("default".to_string(), json!(0))]),
    )
    .await?;
    // Salt hands the timeout on as it is; 0 (its default) means none.
    if python::truthy(&timeout) {
        kwargs.insert("timeout".into(), timeout);
    }
    if let Some(r) = &runas {
        kwargs.insert("runas".into(), json!(r));
    }
    let pgpass = match &password {
        Some(p) => {
            let line = pgpass_line(host.as_deref(), conn.port.as_deref(), user.as_deref(), p);
            let path = write_pgpass(&line, runas.as_deref())?;
            kwargs.insert("env".into(), json!({"PGPASSFILE": path.to_string_lossy()}));
            Some(path)
        }
        None => None,
    };
    let out = call_fn(ctx, "cmd.run_all", vec![json!(cmd)], kwargs).await;
    if let Some(path) = pgpass
        && let Err(e) = std::fs::remove_file(&path)
    {
        tracing::warn!("Remove PGPASSFILE failed: {e}");
    }
    let out = PsqlRun::of(out?);
    ctx.record(out.retcode);
    if out.retcode != 0 {
        tracing::error!("Error connecting to Postgresql server");
    }
    Ok(out)
}

/// The `.pgpass` line Salt writes: `host:port:*:user:password`, with
/// `localhost` for a socket and `*` for what is not given.
fn pgpass_line(
    host: Option<&str>,
    port: Option<&str>,
    user: Option<&str>,
    password: &str,
) -> String {
    let host = match host {
        Some(h) if !h.starts_with('/') => h,
        _ => "localhost",
    };
    format!(
        "{host}:{}:*:{}:{password}",
        port.unwrap_or("*"),
        user.unwrap_or("*")
    )
}

/// A private temporary file holding `line`, owned by `owner` (psql runs as
/// that user and must read it).
fn write_pgpass(line: &str, owner: Option<&str>) -> Result<PathBuf, FnError> {
    let fail = |e: std::io::Error| FnError::Execution(format!("Cannot write a PGPASSFILE: {e}"));
    let dir = std::env::temp_dir();
    let (path, mut file) = loop {
        let path = dir.join(format!("__salt.tmp.{:016x}", rand::random::<u64>()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(file) => break (path, file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(fail(e)),
        }
    };
    file.write_all(line.as_bytes()).map_err(fail)?;
    if let Some(owner) = owner
        && let Ok(Some(user)) = nix::unistd::User::from_name(owner)
        && let Err(e) = nix::unistd::chown(&path, Some(user.uid), None)
    {
        // Salt's `file.chown` only reports this; psql then cannot read it.
        tracing::warn!("cannot give {} to {owner}: {e}", path.display());
    }
    Ok(path)
}

/// Salt's `version`: the first line psql prints for the server version,
/// `None` when the server does not answer.
pub async fn version(ctx: &Pg, conn: &Conn) -> Result<Option<String>, FnError> {
    let query = "SELECT setting FROM pg_catalog.pg_settings WHERE name = 'server_version'";
    let out = run(ctx, conn, &["-c", query, "-t"]).await?;
    Ok(first_line(&out.stdout))
}

/// The first piece of `text` split at newlines (Salt's
/// `salt.utils.itertools.split`), `None` for no text.
fn first_line(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.split('\n').next().unwrap_or("").to_string())
}

/// The query psql runs for `psql_query`.
fn copy_query(query: &str, write: bool) -> String {
    let csv_query = format!(
        "COPY ({}) TO STDOUT WITH CSV HEADER",
        query.trim().trim_end_matches(';')
    );
    if write {
        format!("START TRANSACTION READ WRITE; {csv_query}; COMMIT TRANSACTION;")
    } else {
        csv_query
    }
}

/// Salt's `psql_query`: the rows of `query` as header -> value dicts; no
/// rows when psql fails.
pub async fn psql_query(
    ctx: &Pg,
    conn: &Conn,
    query: &str,
    write: bool,
) -> Result<Vec<Map<String, Value>>, FnError> {
    let csv_query = copy_query(query, write);
    let out = run(ctx, conn, &["-v", "datestyle=ISO,MDY", "-c", &csv_query]).await?;
    if out.retcode > 0 {
        return Ok(Vec::new());
    }
    Ok(rows_of(&out.stdout, write))
}

/// The CSV text as dicts keyed by the header row (blank records skipped;
/// under `write` the last row is psql's `COMMIT`).
fn rows_of(stdout: &str, write: bool) -> Vec<Map<String, Value>> {
    let mut records = csv::records(stdout).into_iter().filter(|r| !r.is_empty());
    let Some(header) = records.next() else {
        return Vec::new();
    };
    let mut rows: Vec<Map<String, Value>> = records
        .map(|r| {
            header
                .iter()
                .zip(r)
                .map(|(k, v)| (k.clone(), Value::String(v)))
                .collect()
        })
        .collect();
    if write {
        rows.pop();
    }
    rows
}

/// One component of a `LooseVersion`.
#[derive(Debug, PartialEq)]
enum Part {
    Num(u64),
    Text(String),
}

/// `LooseVersion(a) < LooseVersion(b)`: numbers and letter runs compared
/// in order (a number against text compares as text, where Python would
/// raise).
pub fn loose_less(a: &str, b: &str) -> bool {
    loose_cmp(a, b) == std::cmp::Ordering::Less
}

fn loose_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (loose_parts(a), loose_parts(b));
    for (x, y) in a.iter().zip(&b) {
        let order = match (x, y) {
            (Part::Num(x), Part::Num(y)) => x.cmp(y),
            (Part::Text(x), Part::Text(y)) => x.cmp(y),
            (Part::Num(x), Part::Text(y)) => x.to_string().cmp(y),
            (Part::Text(x), Part::Num(y)) => x.cmp(&y.to_string()),
        };
        if order.is_ne() {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

/// `LooseVersion.parse`: runs of digits, of lowercase letters, and of
/// anything else, dots dropped.
fn loose_parts(v: &str) -> Vec<Part> {
    fn class(c: char) -> u8 {
        match c {
            '0'..='9' => 0,
            'a'..='z' => 1,
            '.' => 2,
            _ => 3,
        }
    }
    let mut parts = Vec::new();
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '.' {
            continue;
        }
        let mut run = c.to_string();
        while let Some(&d) = chars.peek().filter(|d| class(**d) == class(c)) {
            run.push(d);
            chars.next();
        }
        parts.push(match run.parse() {
            Ok(n) => Part::Num(n),
            Err(_) => Part::Text(run),
        });
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use brine_common::functions::Call;

    /// `kwargs` bound to the signature `sig`.
    pub(in crate::modules::postgres) fn args(sig: &str, kwargs: Value) -> Args {
        let call = Call {
            fun: "postgres.x".into(),
            args: vec![],
            kwargs: kwargs.as_object().cloned().unwrap_or_default(),
        };
        Args::bind(&call, sig)
    }

    #[test]
    fn psql_command_line_is_salts() {
        let conn = Conn {
            user: Some("admin".into()),
            port: Some("5433".into()),
            ..Conn::default()
        };
        assert_eq!(
            psql_argv("/usr/bin/psql", &conn, &["-c", "SELECT 1"]).join(" "),
            "/usr/bin/psql --no-align --no-readline --no-psqlrc --no-password \
             --username admin --port 5433 --dbname postgres -c SELECT 1"
        );
        let conn = Conn {
            host: Some("db".into()),
            maintenance_db: Some("db1".into()),
            ..Conn::default()
        };
        assert_eq!(
            psql_argv("psql", &conn, &[]).join(" "),
            "psql --no-align --no-readline --no-psqlrc --no-password --host db --dbname db1"
        );
    }

    #[test]
    fn queries_are_wrapped_in_copy() {
        assert_eq!(
            copy_query(" SELECT 1;; ", false),
            "COPY (SELECT 1) TO STDOUT WITH CSV HEADER"
        );
        assert_eq!(
            copy_query("SELECT 1", true),
            "START TRANSACTION READ WRITE; COPY (SELECT 1) TO STDOUT WITH CSV HEADER; COMMIT TRANSACTION;"
        );
    }

    #[test]
    fn rows_are_keyed_by_the_header() {
        let rows = rows_of(
            "name,acl,owner\npublic,\"{a=UC/b}\",pg_database_owner\n\n",
            false,
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["acl"], json!("{a=UC/b}"));
        assert_eq!(rows[0]["owner"], json!("pg_database_owner"));
        assert!(rows_of("", false).is_empty());
        let written = rows_of("dt\n2026-01-01 00:00:00\nCOMMIT", true);
        assert_eq!(written.len(), 1);
    }

    #[test]
    fn answers_carry_the_last_psql_exit_code() {
        let functions = crate::modules::registry();
        let id = brine_common::ids::MinionId::parse("m1").expect("id");
        let config = std::sync::Arc::new(brine_common::config::MinionConfig::default());
        let pg = Pg::new(MinionCtx::with_grains(id, config, Map::new(), &functions));
        assert_eq!(pg.answer(json!({})).expect("answer").retcode, 0);
        pg.record(2);
        pg.record(0);
        pg.record(2);
        let out = pg.answer(json!(false)).expect("answer");
        assert_eq!((out.ret, out.retcode), (json!(false), 2));
    }

    #[test]
    fn psql_runs_keep_cmd_run_alls_dict() {
        let run = PsqlRun::of(json!({"pid": 7, "retcode": 2, "stdout": "", "stderr": "down"}));
        assert_eq!(run.retcode, 2);
        assert_eq!(
            run.repr(),
            "{'pid': 7, 'retcode': 2, 'stdout': '', 'stderr': 'down'}"
        );
    }

    #[test]
    fn pgpass_lines() {
        assert_eq!(
            pgpass_line(None, None, Some("postgres"), ""),
            "localhost:*:*:postgres:"
        );
        assert_eq!(
            pgpass_line(Some("/run/pg"), Some("5432"), None, "pw"),
            "localhost:5432:*:*:pw"
        );
        assert_eq!(
            pgpass_line(Some("db"), None, Some("u"), "pw"),
            "db:*:*:u:pw"
        );
    }

    #[test]
    fn version_is_the_first_line() {
        assert_eq!(first_line(""), None);
        assert_eq!(
            first_line("15.14 (Debian 15.14-0+deb12u1)"),
            Some("15.14 (Debian 15.14-0+deb12u1)".into())
        );
        assert_eq!(first_line("\nx"), Some(String::new()));
    }

    #[test]
    fn loose_versions() {
        assert!(!loose_less("15.14 (Debian 15.14-0+deb12u1)", "9.1"));
        assert!(loose_less("9.0.3", "9.1"));
        assert!(loose_less("1.1", "1.10"));
        assert!(!loose_less("1.2", "1.2"));
        assert!(loose_less("1.2", "1.2.1"));
    }

    #[test]
    fn local_servers_are_owned_by_postgres() {
        assert_eq!(local_server_user("Debian"), "postgres");
        assert_eq!(local_server_user("OpenBSD"), "_postgresql");
    }
}
