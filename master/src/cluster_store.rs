//! The cluster store: the PostgreSQL database that several masters share
//! (`cluster_store: postgres`), its connection settings and its schema.
//!
//! The master's storage traits are synchronous (their callers run them off
//! the async threads), while the PostgreSQL client is async. A [`Cluster`]
//! owns a small runtime of its own that drives every connection; a
//! synchronous caller hands it a future with [`Cluster::block`] and waits on
//! a plain channel, so it works from any thread, inside the master's runtime
//! or not, without nesting runtimes.
//!
//! The schema is created and migrated by the first master to start: the
//! migrations below run in order under an advisory lock, each in its own
//! transaction with its version recorded in `brine_schema`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use brine_common::config::PostgresConfig;
use thiserror::Error;
use tokio::sync::mpsc;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{AsyncMessage, Client, Config, Notification};

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request to the database may take before the caller is told
/// it failed (a hung server must not hang the master's handlers).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The advisory lock the schema migrations run under ("brine" + 1).
const SCHEMA_LOCK: i64 = 0x6272_696e_6501;

/// The schema, one migration per version, applied in order and never edited
/// once released: a change is a new migration. Key columns sort bytewise
/// (`COLLATE "C"`) so ranges of jids mean what they mean in redb.
const MIGRATIONS: &[&str] = &[
    // 1: the job cache (master/src/job_cache).
    r#"
    CREATE TABLE brine_jobs (
        jid text COLLATE "C" PRIMARY KEY,
        record bytea NOT NULL
    );
    CREATE TABLE brine_returns (
        jid text COLLATE "C" NOT NULL,
        minion text COLLATE "C" NOT NULL,
        record bytea NOT NULL,
        PRIMARY KEY (jid, minion)
    );
    CREATE TABLE brine_minion_data (
        id text COLLATE "C" PRIMARY KEY,
        record bytea NOT NULL
    );
    "#,
    // 2: minion keys (master/src/keys/postgres.rs): a row per id and state,
    // Salt's directory names as states; an id is in at most one of
    // accepted, pending and rejected, a denied key sits beside them.
    r#"
    CREATE TABLE brine_keys (
        id text COLLATE "C" NOT NULL,
        state text NOT NULL
            CHECK (state IN ('minions', 'minions_pre', 'minions_rejected', 'minions_denied')),
        pem text NOT NULL,
        PRIMARY KEY (id, state)
    );
    CREATE UNIQUE INDEX brine_keys_one_state ON brine_keys (id)
        WHERE state <> 'minions_denied';
    CREATE INDEX brine_keys_by_state ON brine_keys (state);
    "#,
    // 3: what masters relay to each other (master/src/peers.rs): the
    // publications of every master, and which minions each one has.
    r#"
    CREATE TABLE brine_publications (
        seq bigserial PRIMARY KEY,
        origin bigint NOT NULL,
        minions text[],
        publication bytea NOT NULL,
        created timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE brine_presence (
        minion text COLLATE "C" NOT NULL,
        origin bigint NOT NULL,
        seen timestamptz NOT NULL,
        PRIMARY KEY (minion, origin)
    );
    "#,
    // 4: the Salt mine (master/src/mine.rs): each minion's data as JSON.
    r#"
    CREATE TABLE brine_mine (
        minion text COLLATE "C" PRIMARY KEY,
        data bytea NOT NULL
    );
    "#,
];

#[derive(Debug, Error)]
pub enum ClusterError {
    #[error("postgres: {field}: {reason}")]
    Config { field: &'static str, reason: String },
    #[error("postgres: cannot read the passfile {}: {reason}", .path.display())]
    Passfile { path: PathBuf, reason: String },
    #[error("cannot connect to PostgreSQL at {target}: {reason}")]
    Connect { target: String, reason: String },
    #[error("PostgreSQL: {what}: {source}")]
    Query {
        what: String,
        source: tokio_postgres::Error,
    },
    #[error("PostgreSQL: {what} took longer than {}s", REQUEST_TIMEOUT.as_secs())]
    Timeout { what: String },
    #[error(
        "the cluster store's schema is at version {found}, newer than this master's {known}: \
         upgrade this master"
    )]
    SchemaTooNew { found: i32, known: usize },
    #[error("cannot encode {what} for the cluster store: {reason}")]
    Encode { what: &'static str, reason: String },
    #[error("cannot start the cluster store's runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the cluster store has stopped")]
    Stopped,
}

impl ClusterError {
    /// A failed query, named for the log.
    pub fn query(what: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> ClusterError {
        let what = what.into();
        move |source| ClusterError::Query { what, source }
    }
}

/// How to connect: the client's config, and TLS when asked for.
#[derive(Clone)]
pub struct Settings {
    pg: Config,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// `host:port/dbname as user`, for messages.
    target: String,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password stays out of logs.
        f.debug_struct("Settings")
            .field("target", &self.target)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Settings from the master's `postgres:` block.
    pub fn from_config(c: &PostgresConfig) -> Result<Settings, ClusterError> {
        let mut pg = match &c.dsn {
            Some(dsn) => {
                let parts = [&c.host, &c.dbname, &c.user];
                if parts.iter().any(|p| p.is_some()) || c.port.is_some() {
                    return Err(ClusterError::Config {
                        field: "dsn",
                        reason: "give either dsn or host/port/dbname/user, not both".into(),
                    });
                }
                Config::from_str(dsn).map_err(|e| ClusterError::Config {
                    field: "dsn",
                    reason: e.to_string(),
                })?
            }
            None => Config::new(),
        };
        if let Some(host) = &c.host {
            pg.host(host);
        }
        if pg.get_hosts().is_empty() {
            // libpq's default: the local server's socket directory.
            pg.host_path("/var/run/postgresql");
        }
        if let Some(port) = c.port {
            pg.port(port);
        }
        if let Some(dbname) = &c.dbname {
            pg.dbname(dbname);
        }
        if let Some(user) = &c.user {
            pg.user(user);
        }
        if pg.get_user().is_none() {
            pg.user(current_user_name());
        }
        if pg.get_dbname().is_none()
            && let Some(user) = pg.get_user()
        {
            let user = user.to_string();
            pg.dbname(&user);
        }
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(CONNECT_TIMEOUT);
        }
        pg.application_name("brine-master");
        // A dsn's own sslmode holds unless `sslmode` (which may say
        // verify-full, a word a dsn cannot) is given beside it.
        let from_dsn = match pg.get_ssl_mode() {
            SslMode::Disable => "disable",
            SslMode::Require => "require",
            _ => "prefer",
        };
        let sslmode = c.sslmode.as_deref().unwrap_or(from_dsn);
        let tls = tls_for(sslmode, c.sslrootcert.as_deref(), &mut pg)?;
        if let Some(path) = &c.passfile
            && pg.get_password().is_none()
            && let Some(password) = password_from(path, &pg)?
        {
            pg.password(password);
        }
        let target = describe(&pg);
        Ok(Settings { pg, tls, target })
    }

    /// Where these settings connect, for messages.
    pub fn target(&self) -> &str {
        &self.target
    }
}

/// The operating-system user the master runs as: libpq's default role.
fn current_user_name() -> String {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| "postgres".into())
}

/// The TLS set-up `sslmode` asks for. `prefer` and `require` encrypt without
/// checking the server's certificate, as libpq does without a root
/// certificate; `verify-full` checks it against `sslrootcert` and the host
/// name.
fn tls_for(
    sslmode: &str,
    rootcert: Option<&Path>,
    pg: &mut Config,
) -> Result<Option<Arc<rustls::ClientConfig>>, ClusterError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClusterError::Config {
            field: "sslmode",
            reason: e.to_string(),
        })?;
    let config = match sslmode {
        "disable" => {
            pg.ssl_mode(SslMode::Disable);
            return Ok(None);
        }
        "prefer" | "require" => {
            pg.ssl_mode(if sslmode == "prefer" {
                SslMode::Prefer
            } else {
                SslMode::Require
            });
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(tls::EncryptOnly(provider)))
                .with_no_client_auth()
        }
        "verify-full" => {
            pg.ssl_mode(SslMode::Require);
            let path = rootcert.ok_or(ClusterError::Config {
                field: "sslrootcert",
                reason: "sslmode verify-full needs the CA certificate (PEM) in sslrootcert".into(),
            })?;
            builder
                .with_root_certificates(tls::roots(path)?)
                .with_no_client_auth()
        }
        other => {
            return Err(ClusterError::Config {
                field: "sslmode",
                reason: format!(
                    "{other:?} is not one of disable, prefer, require, verify-full \
                     (verify-ca is not offered: use verify-full)"
                ),
            });
        }
    };
    Ok(Some(Arc::new(config)))
}

/// `host:port/dbname as user`.
fn describe(pg: &Config) -> String {
    let host = match pg.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => String::new(),
    };
    let port = pg.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{host}:{port}/{} as {}",
        pg.get_dbname().unwrap_or(""),
        pg.get_user().unwrap_or("")
    )
}

/// The password a pgpass-format file holds for this connection: the first
/// line whose `host:port:database:user` matches (`*` matches anything; a
/// unix socket matches `localhost`). Like libpq, a file others may read is
/// refused.
fn password_from(path: &Path, pg: &Config) -> Result<Option<String>, ClusterError> {
    use std::os::unix::fs::PermissionsExt;
    let err = |reason: String| ClusterError::Passfile {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(err(
            "group or others may read it; make it 0600 (chmod 600)".into()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let host = match pg.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        _ => "localhost".to_string(),
    };
    let port = pg.get_ports().first().copied().unwrap_or(5432).to_string();
    let wanted = [
        host.as_str(),
        port.as_str(),
        pg.get_dbname().unwrap_or(""),
        pg.get_user().unwrap_or(""),
    ];
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = pgpass_fields(line);
        let [h, p, d, u, password] = fields.as_slice() else {
            continue;
        };
        let matches = [h, p, d, u]
            .iter()
            .zip(wanted)
            .all(|(field, want)| field.as_str() == "*" || field.as_str() == want);
        if matches {
            return Ok(Some(password.clone()));
        }
    }
    Ok(None)
}

/// The `:`-separated fields of a pgpass line, `\:` and `\\` unescaped.
fn pgpass_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => field.extend(chars.next()),
            ':' if fields.len() < 4 => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// The connection to the cluster store: a runtime of its own driving the
/// PostgreSQL connections, for synchronous callers anywhere.
pub struct Cluster {
    settings: Settings,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Connect, and create or migrate the schema.
    pub fn open(settings: Settings) -> Result<Arc<Cluster>, ClusterError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("brine-postgres")
            .enable_all()
            .build()
            .map_err(ClusterError::Runtime)?;
        let cluster = Arc::new(Cluster {
            settings,
            runtime: Some(runtime),
        });
        let c = cluster.clone();
        cluster.block("the schema migration", async move {
            let client = c.connect().await?;
            migrate(&client).await
        })?;
        Ok(cluster)
    }

    fn handle(&self) -> Result<&tokio::runtime::Handle, ClusterError> {
        self.runtime
            .as_ref()
            .map(|r| r.handle())
            .ok_or(ClusterError::Stopped)
    }

    /// Run `work` on the store's runtime and wait for it, at most
    /// [`REQUEST_TIMEOUT`]. Callable from any thread.
    pub fn block<R, F>(&self, what: &str, work: F) -> Result<R, ClusterError>
    where
        R: Send + 'static,
        F: Future<Output = Result<R, ClusterError>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let task = self.handle()?.spawn(async move {
            let _ = tx.send(work.await);
        });
        match rx.recv_timeout(REQUEST_TIMEOUT) {
            Ok(result) => result,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                // What the caller is told is what happens: the work stops
                // (a transaction in it is rolled back as it is dropped).
                task.abort();
                Err(ClusterError::Timeout {
                    what: what.to_string(),
                })
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(ClusterError::Stopped),
        }
    }

    /// Run `work` on the store's runtime and await it from async code, at
    /// most [`REQUEST_TIMEOUT`].
    pub async fn run<R, F>(&self, what: &str, work: F) -> Result<R, ClusterError>
    where
        R: Send + 'static,
        F: Future<Output = Result<R, ClusterError>> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = self.handle()?.spawn(async move {
            let _ = tx.send(work.await);
        });
        match tokio::time::timeout(REQUEST_TIMEOUT, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ClusterError::Stopped),
            Err(_) => {
                task.abort();
                Err(ClusterError::Timeout {
                    what: what.to_string(),
                })
            }
        }
    }

    /// A new connection; its I/O task runs on the store's runtime. Call from
    /// a future given to [`Cluster::block`] (or spawned on that runtime).
    pub async fn connect(&self) -> Result<Client, ClusterError> {
        self.open_connection(None).await
    }

    /// A new connection whose notifications (`LISTEN`) arrive on the
    /// receiver; it closes when the connection ends.
    pub async fn connect_listening(
        &self,
    ) -> Result<(Client, mpsc::UnboundedReceiver<Notification>), ClusterError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let client = self.open_connection(Some(tx)).await?;
        Ok((client, rx))
    }

    /// Run `work` on the store's runtime without waiting for it.
    pub fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        if let Ok(handle) = self.handle() {
            handle.spawn(work);
        }
    }

    async fn open_connection(
        &self,
        notifications: Option<mpsc::UnboundedSender<Notification>>,
    ) -> Result<Client, ClusterError> {
        let failed = |e: tokio_postgres::Error| ClusterError::Connect {
            target: self.settings.target.clone(),
            reason: error_text(&e),
        };
        let target = self.settings.target.clone();
        let handle = self.handle()?;
        let client = match &self.settings.tls {
            None => {
                let (client, connection) = self
                    .settings
                    .pg
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(failed)?;
                handle.spawn(drive(connection, notifications, target));
                client
            }
            Some(tls) => {
                let make = tokio_postgres_rustls::MakeRustlsConnect::new((**tls).clone());
                let (client, connection) = self.settings.pg.connect(make).await.map_err(failed)?;
                handle.spawn(drive(connection, notifications, target));
                client
            }
        };
        Ok(client)
    }
}

/// Drive a connection's I/O until it ends, passing its notifications on
/// (or dropping them when nobody listens).
async fn drive<S, T>(
    mut connection: tokio_postgres::Connection<S, T>,
    notifications: Option<mpsc::UnboundedSender<Notification>>,
    target: String,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            Some(Ok(AsyncMessage::Notification(n))) => {
                if let Some(tx) = &notifications {
                    let _ = tx.send(n);
                }
            }
            Some(Ok(AsyncMessage::Notice(notice))) => {
                tracing::debug!("PostgreSQL {target}: {}", notice.message());
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                tracing::warn!(
                    "PostgreSQL connection to {target} ended: {}",
                    error_text(&e)
                );
                return;
            }
            None => return,
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which a caller on an async thread may
        // not do; the connections' tasks simply stop.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The error with its cause (tokio-postgres puts the useful part there).
pub fn error_text(e: &tokio_postgres::Error) -> String {
    use std::error::Error as _;
    match e.source() {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Shared")
    }
}

impl std::fmt::Debug for Exclusive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Exclusive")
    }
}

/// One connection, reopened when it breaks: what a store's reads share
/// (tokio-postgres pipelines the queries of concurrent callers).
pub struct Shared {
    cluster: Arc<Cluster>,
    client: tokio::sync::Mutex<Option<Arc<Client>>>,
}

impl Shared {
    pub fn new(cluster: Arc<Cluster>) -> Arc<Shared> {
        Arc::new(Shared {
            cluster,
            client: tokio::sync::Mutex::new(None),
        })
    }

    /// The open connection, connecting again if it was closed.
    pub async fn client(&self) -> Result<Arc<Client>, ClusterError> {
        let mut slot = self.client.lock().await;
        if let Some(client) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(client.clone());
        }
        let client = Arc::new(self.cluster.connect().await?);
        *slot = Some(client.clone());
        Ok(client)
    }

    /// Run `work` with the connection and wait for it (see [`Cluster::block`]).
    pub fn block<R, F, Fut>(self: &Arc<Self>, what: &str, work: F) -> Result<R, ClusterError>
    where
        R: Send + 'static,
        F: FnOnce(Arc<Client>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<R, ClusterError>> + Send,
    {
        let shared = self.clone();
        self.cluster.block(what, async move {
            let client = shared.client().await?;
            work(client).await
        })
    }
}

/// One connection that one caller at a time holds, for its transactions;
/// reopened when it breaks.
pub struct Exclusive {
    cluster: Arc<Cluster>,
    slot: Arc<tokio::sync::Mutex<Option<Client>>>,
}

/// The connection of an [`Exclusive`], held for one piece of work.
pub struct Held(tokio::sync::OwnedMutexGuard<Option<Client>>);

impl Held {
    pub fn client(&mut self) -> Result<&mut Client, ClusterError> {
        self.0.as_mut().ok_or(ClusterError::Stopped)
    }
}

impl Exclusive {
    pub fn new(cluster: Arc<Cluster>) -> Exclusive {
        Exclusive {
            cluster,
            slot: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    /// Run `work` holding the connection (connected again if it broke) and
    /// wait for it (see [`Cluster::block`]).
    pub fn block<R, F, Fut>(&self, what: &str, work: F) -> Result<R, ClusterError>
    where
        R: Send + 'static,
        F: FnOnce(Held) -> Fut + Send + 'static,
        Fut: Future<Output = Result<R, ClusterError>> + Send,
    {
        let slot = self.slot.clone();
        let cluster = self.cluster.clone();
        self.cluster.block(what, async move {
            let mut held = slot.lock_owned().await;
            if held.as_ref().is_none_or(|c| c.is_closed()) {
                *held = Some(cluster.connect().await?);
            }
            work(Held(held)).await
        })
    }
}

/// Create the schema or bring it to this master's version.
async fn migrate(client: &Client) -> Result<(), ClusterError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&SCHEMA_LOCK])
        .await
        .map_err(ClusterError::query("taking the schema lock"))?;
    let result = apply_migrations(client).await;
    // Closing the connection releases the lock too; unlock to be tidy.
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&SCHEMA_LOCK])
        .await;
    result
}

async fn apply_migrations(client: &Client) -> Result<(), ClusterError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS brine_schema (
                version integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await
        .map_err(ClusterError::query("creating brine_schema"))?;
    let row = client
        .query_one("SELECT coalesce(max(version), 0) FROM brine_schema", &[])
        .await
        .map_err(ClusterError::query("reading the schema version"))?;
    let found: i32 = row.get(0);
    let applied = usize::try_from(found).unwrap_or(0);
    if applied > MIGRATIONS.len() {
        return Err(ClusterError::SchemaTooNew {
            found,
            known: MIGRATIONS.len(),
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let version = i32::try_from(index + 1).unwrap_or(i32::MAX);
        let what = format!("schema migration {version}");
        client
            .batch_execute("BEGIN")
            .await
            .map_err(ClusterError::query(what.clone()))?;
        let step = async {
            client.batch_execute(sql).await?;
            client
                .execute(
                    "INSERT INTO brine_schema (version) VALUES ($1)",
                    &[&version],
                )
                .await?;
            client.batch_execute("COMMIT").await
        };
        if let Err(e) = step.await {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(ClusterError::Query { what, source: e });
        }
        tracing::info!("cluster store: schema migrated to version {version}");
    }
    Ok(())
}

/// Certificate handling for `sslmode`.
mod tls {
    use std::path::Path;
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

    use super::ClusterError;

    /// The CA certificates of a PEM file.
    pub(super) fn roots(path: &Path) -> Result<RootCertStore, ClusterError> {
        let err = |reason: String| ClusterError::Config {
            field: "sslrootcert",
            reason: format!("{}: {reason}", path.display()),
        };
        let mut roots = RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| err(e.to_string()))?;
        for cert in certs {
            let cert = cert.map_err(|e| err(e.to_string()))?;
            roots.add(cert).map_err(|e| err(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(err("no certificate in it".into()));
        }
        Ok(roots)
    }

    /// libpq's `require` without a root certificate: the connection is
    /// encrypted and its handshake signatures checked, but any certificate
    /// is taken. `verify-full` is the mode that authenticates the server.
    #[derive(Debug)]
    pub(super) struct EncryptOnly(pub(super) Arc<CryptoProvider>);

    impl ServerCertVerifier for EncryptOnly {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> PostgresConfig {
        serde_json::from_str(text).expect("config")
    }

    #[test]
    fn parts_make_the_connection_and_defaults_follow_libpq() {
        let s = Settings::from_config(&config(
            r#"{"host": "/tmp/pg", "port": 5499, "dbname": "brine", "user": "salt", "sslmode": "disable"}"#,
        ))
        .expect("settings");
        assert_eq!(s.target(), "/tmp/pg:5499/brine as salt");
        assert!(s.tls.is_none());
        let s = Settings::from_config(&config(r#"{"user": "salt"}"#)).expect("settings");
        assert_eq!(s.target(), "/var/run/postgresql:5432/salt as salt");
        assert!(s.tls.is_some(), "prefer tries TLS");
    }

    #[test]
    fn a_dsn_is_read_and_mixing_it_with_parts_is_refused() {
        let s = Settings::from_config(&config(
            r#"{"dsn": "postgresql://brine@db.example:6000/jobs?sslmode=disable"}"#,
        ))
        .expect("settings");
        assert_eq!(s.target(), "db.example:6000/jobs as brine");
        let e =
            Settings::from_config(&config(r#"{"dsn": "host=x", "user": "y"}"#)).expect_err("both");
        assert!(e.to_string().contains("either dsn or"), "{e}");
        // The dsn's sslmode holds; `sslmode` beside it overrides it.
        let s = Settings::from_config(&config(r#"{"dsn": "host=db sslmode=require"}"#))
            .expect("settings");
        assert_eq!(s.pg.get_ssl_mode(), SslMode::Require);
        let s = Settings::from_config(&config(r#"{"dsn": "host=db sslmode=disable"}"#))
            .expect("settings");
        assert!(s.tls.is_none());
        let e = Settings::from_config(&config(r#"{"dsn": "host=db", "sslmode": "verify-full"}"#))
            .expect_err("verify-full needs a root");
        assert!(e.to_string().contains("sslrootcert"), "{e}");
        let e = Settings::from_config(&config(r#"{"dsn": "host=x port=notaport"}"#))
            .expect_err("bad dsn");
        assert!(e.to_string().starts_with("postgres: dsn:"), "{e}");
    }

    #[test]
    fn sslmode_words_are_libpqs_and_verify_full_needs_a_root() {
        let e = Settings::from_config(&config(r#"{"sslmode": "verify-ca"}"#)).expect_err("ca");
        assert!(e.to_string().contains("use verify-full"), "{e}");
        let e = Settings::from_config(&config(r#"{"sslmode": "verify-full"}"#)).expect_err("root");
        assert!(e.to_string().contains("sslrootcert"), "{e}");
        let s = Settings::from_config(&config(r#"{"sslmode": "require"}"#)).expect("require");
        assert_eq!(s.pg.get_ssl_mode(), SslMode::Require);
    }

    #[test]
    fn the_password_comes_from_the_first_matching_passfile_line() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("pgpass");
        std::fs::write(
            &path,
            "# comment\nother:5432:*:brine:no\nlocalhost:5499:brine:brine:s\\:cret\n*:*:*:*:fallback\n",
        )
        .expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let parts = |extra: &str| {
            config(&format!(
                r#"{{"host": "/tmp/pg", "port": 5499, "dbname": "brine", "user": "brine", "passfile": {:?}{extra}}}"#,
                path.display()
            ))
        };
        let s = Settings::from_config(&parts("")).expect("settings");
        assert_eq!(s.pg.get_password(), Some(&b"s:cret"[..]));
        let other = config(&format!(
            r#"{{"host": "db", "user": "x", "passfile": {:?}}}"#,
            path.display()
        ));
        let s = Settings::from_config(&other).expect("settings");
        assert_eq!(s.pg.get_password(), Some(&b"fallback"[..]));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let e = Settings::from_config(&parts("")).expect_err("readable by others");
        assert!(e.to_string().contains("chmod 600"), "{e}");
    }
}
