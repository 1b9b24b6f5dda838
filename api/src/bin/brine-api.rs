//! `brine-api`: serve the REST API (HTTPS unless `disable_ssl: True` on
//! 127.0.0.1), or `brine-api hash-password` to hash a password for the
//! `file` eauth backend's password file.

use std::io::BufRead;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use brine_api::app::{AppState, router};
use brine_api::auth::Auth;
use brine_api::master::MasterLink;
use brine_api::settings::Settings;
use brine_api::tokens::TokenStore;
use brine_api::{passwords, server, tls};
use brine_client::Client;
use brine_common::cli::{CommonArgs, LogFileArgs};
use brine_common::config::MasterConfig;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "brine-api",
    version,
    about = "The Brine REST API (salt-api compatible)"
)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    log: LogFileArgs,
    /// Write a self-signed certificate and key to ssl_crt/ssl_key if they
    /// do not exist yet, then serve
    #[arg(long = "gen-self-signed")]
    gen_self_signed: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Read a password from stdin and print its argon2 hash, for a
    /// `user:hash` line of the `file` eauth password file
    HashPassword,
}

fn main() -> ExitCode {
    brine_common::cli_docs::generate_if_asked::<Cli>();
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::HashPassword) => hash_password(),
        None => serve(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn hash_password() -> anyhow::Result<()> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']);
    anyhow::ensure!(!password.is_empty(), "no password on stdin");
    println!("{}", passwords::hash_password(password)?);
    Ok(())
}

fn serve(cli: &Cli) -> anyhow::Result<()> {
    let config = cli
        .common
        .load_daemon::<MasterConfig>(&cli.log, |c| &c.api_logfile)?;
    let settings = Settings::from_master(&config)?;
    let tls = match &settings.tls {
        Some(files) => {
            if cli.gen_self_signed && tls::gen_self_signed(files, &cert_names(&settings))? {
                println!("wrote a self-signed certificate to {}", files.crt.display());
            }
            Some(tls::server_config(files)?)
        }
        None => None,
    };
    let state = Arc::new(app_state(&config, settings)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // SIGHUP reopens the log file (logrotate) and never stops the API.
        brine_common::logging::reopen_on_sighup()?;
        if state.settings.webui {
            // The dashboard's counts, from the bus while the API runs.
            let counting = state.clone();
            tokio::spawn(async move { counting.ui.pulse.feed(counting.master.clone()).await });
        }
        listen(state, tls).await
    })
}

fn cert_names(settings: &Settings) -> Vec<String> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let host = settings.addr.ip().to_string();
    if !host.starts_with("0.") && !names.contains(&host) && host != "::" {
        names.push(host);
    }
    if let Ok(name) = hostname() {
        names.push(name);
    }
    names
}

fn hostname() -> anyhow::Result<String> {
    Ok(std::fs::read_to_string("/etc/hostname")?.trim().to_string())
}

fn app_state(config: &MasterConfig, settings: Settings) -> anyhow::Result<AppState> {
    Ok(AppState {
        master: MasterLink {
            client: Client::new(&config.sock_dir),
            timeout: Duration::from_secs(config.timeout),
        },
        nodegroups: config.nodegroups.clone(),
        auth: Auth::from_config(&config.external_auth, &config.auth_pam_service)?,
        tokens: TokenStore::new(Duration::from_secs(config.token_expire)),
        started: Instant::now(),
        ui: brine_api::webui::UiState::new(config),
        settings,
    })
}

async fn listen(
    state: Arc<AppState>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> anyhow::Result<()> {
    let addr = state.settings.addr;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let app = router(state);
    let scheme = if tls.is_some() { "https" } else { "http" };
    // Tests and service managers wait for this line.
    println!("brine-api ready on {scheme}://{}", listener.local_addr()?);
    match tls {
        Some(tls) => server::serve_tls(listener, app, tls).await,
        None => server::serve_plain(listener, app).await?,
    }
    Ok(())
}
