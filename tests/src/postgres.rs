//! A throwaway PostgreSQL for the cluster-store tests: Debian's `postgresql`
//! package (`initdb`, `pg_ctl`; `.ci/run` installs it), a data directory in
//! a temp dir, listening only on a unix socket there (no TCP at all), trust
//! authentication, stopped when dropped.
//!
//! PostgreSQL refuses to run as root, so when the tests run as root the
//! server runs as the package's `postgres` user.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::cluster::{free_port, run_with_timeout};

/// How long initdb or a start may take on a loaded 2-core machine.
const SERVER_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Postgres {
    /// Holds the data directory, the socket and the log.
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// The port names the socket file (`.s.PGSQL.<port>`); nothing listens on it.
    port: u16,
    /// The user the server runs as, when the tests run as root.
    run_as: Option<(u32, u32)>,
}

impl Postgres {
    /// Create a cluster and start it; panics with the server's words when it
    /// cannot.
    pub fn start() -> Postgres {
        Postgres::start_with(None)
    }

    /// [`Postgres::start`] also listening on 127.0.0.1 (its [`Postgres::port`])
    /// with TLS, serving this certificate chain and key (PEM).
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> Postgres {
        Postgres::start_with(Some((cert_pem, key_pem)))
    }

    fn start_with(tls: Option<(&str, &str)>) -> Postgres {
        let bin = server_bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("brine-pg")
            .tempdir()
            .expect("temp dir");
        let run_as = server_user();
        if let Some((uid, gid)) = run_as {
            nix::unistd::chown(
                dir.path(),
                Some(nix::unistd::Uid::from_raw(uid)),
                Some(nix::unistd::Gid::from_raw(gid)),
            )
            .expect("chown the server's dir");
        }
        let pg = Postgres {
            dir,
            bin,
            port: free_port(),
            run_as,
        };
        let data = pg.data_dir();
        let init = pg.run(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        assert!(init.status.success(), "initdb: {}", text(&init));
        let mut options = format!(
            "-k {} -p {} -c fsync=off -c max_connections=200",
            pg.socket_dir().display(),
            pg.port
        );
        match tls {
            None => options.push_str(" -c listen_addresses=''"),
            Some((cert, key)) => {
                let (cert_path, key_path) = (
                    pg.dir.path().join("server.crt"),
                    pg.dir.path().join("server.key"),
                );
                pg.write_private(&cert_path, cert);
                pg.write_private(&key_path, key);
                options.push_str(&format!(
                    " -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                    cert_path.display(),
                    key_path.display()
                ));
            }
        }
        let start = pg.run(
            "pg_ctl",
            &[
                "-D",
                &data.display().to_string(),
                "-l",
                &pg.log_file().display().to_string(),
                "-o",
                &options,
                "-w",
                "-t",
                "100",
                "start",
            ],
        );
        assert!(
            start.status.success(),
            "pg_ctl start: {}\n{}",
            text(&start),
            pg.log()
        );
        pg
    }

    /// Write a file only the server's user may read.
    fn write_private(&self, path: &Path, text: &str) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, text).expect("write");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        if let Some((uid, gid)) = self.run_as {
            nix::unistd::chown(
                path,
                Some(nix::unistd::Uid::from_raw(uid)),
                Some(nix::unistd::Gid::from_raw(gid)),
            )
            .expect("chown");
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The directory holding the server's unix socket: the `host` to give.
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn log_file(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    /// A master config fragment that stores in database `dbname` (created
    /// if missing).
    pub fn master_conf(&self, dbname: &str) -> String {
        self.create_database(dbname);
        format!(
            "cluster_store: postgres\npostgres:\n  host: {}\n  port: {}\n  dbname: {dbname}\n  \
             user: postgres\n  sslmode: disable\n",
            self.socket_dir().display(),
            self.port
        )
    }

    /// Create `dbname` unless it exists.
    pub fn create_database(&self, dbname: &str) {
        let exists = self.sql(
            "postgres",
            &format!("SELECT 1 FROM pg_database WHERE datname = '{dbname}'"),
        );
        if exists.trim() != "1" {
            self.sql("postgres", &format!("CREATE DATABASE \"{dbname}\""));
        }
    }

    /// Run `sql` in `dbname` with psql; its unaligned output. Panics on an error.
    pub fn sql(&self, dbname: &str, sql: &str) -> String {
        let out = self.try_sql(dbname, sql);
        assert!(out.status.success(), "psql {sql:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run `sql` in `dbname` with psql, whatever comes of it.
    pub fn try_sql(&self, dbname: &str, sql: &str) -> Output {
        let mut cmd = Command::new(self.bin.join("psql"));
        cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", &self.socket_dir().display().to_string()])
            .args(["-p", &self.port.to_string(), "-U", "postgres", "-d", dbname])
            .args(["-c", sql]);
        run_with_timeout(&mut cmd, SERVER_TIMEOUT)
    }

    /// Run one of the server's tools as the server's user.
    fn run(&self, tool: &str, args: &[&str]) -> Output {
        let mut cmd = Command::new(self.bin.join(tool));
        cmd.args(args).current_dir(self.dir.path());
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        run_with_timeout(&mut cmd, SERVER_TIMEOUT)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data_dir().display().to_string();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }
}

/// The newest installed server's tools: `/usr/lib/postgresql/<version>/bin`
/// (psql, a client tool, lives there too).
fn server_bin_dir() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let newest = std::fs::read_dir(root)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version);
    match newest {
        Some((_, bin)) => bin,
        None => panic!(
            "no PostgreSQL server under {}: install Debian's postgresql package (.ci/run does)",
            root.display()
        ),
    }
}

/// `postgres`'s uid and gid when the tests run as root.
fn server_user() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let user = nix::unistd::User::from_name("postgres")
        .ok()
        .flatten()
        .expect("the postgres user (Debian's postgresql package creates it)");
    Some((user.uid.as_raw(), user.gid.as_raw()))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
