//! `brine-key`: list, accept, reject, delete and fingerprint minion keys, with
//! `salt-key`'s flags. Talks to the running master (so removals end sessions and
//! rotate the publish key at once); with no master running it edits `pki_dir`.

use brine_common::output::{print_fmt, print_line};
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::Context;
use brine_client::{Client, ClientError, KeyCommand, KeyReply};
use brine_common::cli::CommonArgs;
use brine_common::config::MasterConfig;
use brine_common::crypto::PublicKey;
use brine_master::key_admin::execute;
use brine_master::keys::KeyState;
use clap::{ArgGroup, Parser};
use serde_json::{Map, Value};

#[derive(Parser)]
#[command(
    name = "brine-key",
    version,
    about = "Manage minion keys on the Brine master"
)]
// As in salt-key, -l lists keys; the log level is --log-level only.
#[command(mut_arg("log_level", |a| a.short(None)))]
#[command(group(ArgGroup::new("action").args(["list_all", "list", "accept", "accept_all", "reject", "reject_all", "delete", "delete_all", "finger", "finger_all"])))]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    /// List all keys
    #[arg(short = 'L', long = "list-all")]
    list_all: bool,
    /// List keys in one state: pre|un|unaccepted, acc|accepted, rej|rejected, den|denied, all
    #[arg(short = 'l', long = "list", value_name = "ARG")]
    list: Option<String>,
    /// Accept the pending keys matching a glob
    #[arg(short = 'a', long = "accept", value_name = "GLOB")]
    accept: Option<String>,
    /// Accept all pending keys
    #[arg(short = 'A', long = "accept-all")]
    accept_all: bool,
    /// Reject the pending keys matching a glob
    #[arg(short = 'r', long = "reject", value_name = "GLOB")]
    reject: Option<String>,
    /// Reject all pending keys
    #[arg(short = 'R', long = "reject-all")]
    reject_all: bool,
    /// Delete the keys matching a glob, in any state
    #[arg(short = 'd', long = "delete", value_name = "GLOB")]
    delete: Option<String>,
    /// Delete all keys
    #[arg(short = 'D', long = "delete-all")]
    delete_all: bool,
    /// Print the fingerprints of the keys matching a glob
    #[arg(short = 'f', long = "finger", value_name = "GLOB")]
    finger: Option<String>,
    /// Print all fingerprints
    #[arg(short = 'F', long = "finger-all")]
    finger_all: bool,
    /// Answer yes to every question
    #[arg(short = 'y', long = "yes")]
    yes: bool,
    /// With -a/-A: also accept rejected keys
    #[arg(long = "include-rejected")]
    include_rejected: bool,
    /// With -r/-R: also reject accepted keys
    #[arg(long = "include-accepted")]
    include_accepted: bool,
    /// With -a/-r: also act on denied keys
    #[arg(long = "include-denied")]
    include_denied: bool,
    /// Output format: json for machine-readable output
    #[arg(long = "out", value_name = "OUTPUTTER")]
    out: Option<String>,
}

fn main() -> ExitCode {
    brine_common::cli_docs::generate_if_asked::<Cli>();
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<u8> {
    let config = brine_client::cli::master_config(&cli.common)?;
    let (cmd, filter) = command(cli)?;
    if let Some(question) = confirmation(&cmd)
        && !cli.yes
        && !confirm(&question, &cmd)?
    {
        return Ok(0);
    }
    let reply = dispatch(&config, &cmd)?;
    print_reply(cli, &reply, filter.as_deref());
    Ok(0)
}

/// The command the flags ask for, and for `-l` which state to show.
fn command(cli: &Cli) -> anyhow::Result<(KeyCommand, Option<String>)> {
    let pattern = |p: &Option<String>, all: bool| p.clone().or(all.then(|| "*".to_string()));
    if let Some(p) = pattern(&cli.accept, cli.accept_all) {
        return Ok((
            KeyCommand::Accept {
                pattern: p,
                include_rejected: cli.include_rejected,
                include_denied: cli.include_denied,
            },
            None,
        ));
    }
    if let Some(p) = pattern(&cli.reject, cli.reject_all) {
        return Ok((
            KeyCommand::Reject {
                pattern: p,
                include_accepted: cli.include_accepted,
                include_denied: cli.include_denied,
            },
            None,
        ));
    }
    if let Some(p) = pattern(&cli.delete, cli.delete_all) {
        return Ok((KeyCommand::Delete { pattern: p }, None));
    }
    if let Some(p) = pattern(&cli.finger, cli.finger_all) {
        return Ok((KeyCommand::Fingerprints { pattern: p }, None));
    }
    let filter = match cli.list.as_deref() {
        None | Some("all") => None,
        Some(s) => Some(
            KeyState::from_list_arg(s)
                .ok_or_else(|| {
                    anyhow::anyhow!("invalid -l argument {s:?}: use pre, acc, rej, den or all")
                })?
                .json_name()
                .to_string(),
        ),
    };
    Ok((KeyCommand::List, filter))
}

fn confirmation(cmd: &KeyCommand) -> Option<String> {
    match cmd {
        KeyCommand::Accept { pattern, .. } => Some(format!(
            "The keys matching '{pattern}' are going to be accepted."
        )),
        KeyCommand::Reject { pattern, .. } => Some(format!(
            "The keys matching '{pattern}' are going to be rejected."
        )),
        KeyCommand::Delete { pattern } => Some(format!(
            "The keys matching '{pattern}' are going to be deleted."
        )),
        _ => None,
    }
}

/// Ask on the terminal; Salt defaults to yes for accept and no otherwise.
fn confirm(question: &str, cmd: &KeyCommand) -> anyhow::Result<bool> {
    let default_yes = matches!(cmd, KeyCommand::Accept { .. });
    if !std::io::stdin().is_terminal() {
        eprintln!("{question} Not on a terminal: pass -y to proceed.");
        return Ok(false);
    }
    print_line(format_args!("{question}"));
    print_fmt(format_args!(
        "Proceed? {} ",
        if default_yes { "[n/Y]" } else { "[N/y]" }
    ));
    use std::io::Write;
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let answer = line.trim().to_lowercase();
    Ok(if answer.is_empty() {
        default_yes
    } else {
        answer.starts_with('y')
    })
}

/// Through the master when it runs, directly on the key files when not.
fn dispatch(config: &MasterConfig, cmd: &KeyCommand) -> anyhow::Result<KeyReply> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match runtime.block_on(Client::new(&config.sock_dir).keys(cmd.clone())) {
        Ok(reply) => Ok(reply),
        Err(ClientError::Connect { .. }) => offline(config, cmd),
        Err(e) => Err(e.into()),
    }
}

/// The key store itself: `pki_dir`, or the cluster store's (whose other
/// masters hear of the change as they would from a master).
fn offline(config: &MasterConfig, cmd: &KeyCommand) -> anyhow::Result<KeyReply> {
    tracing::debug!("no master running; working on the key store itself");
    let keys = brine_master::keys::open_configured(config).context("key store")?;
    let (_, pub_path) = brine_master::daemon::master_key_paths(config);
    let master_pub = PublicKey::load(&pub_path).unwrap_or(PublicKey([0; 32]));
    Ok(execute(keys.as_ref(), cmd, &master_pub)?.0)
}

fn print_reply(cli: &Cli, reply: &KeyReply, filter: Option<&str>) {
    let json = cli.out.as_deref() == Some("json");
    match reply {
        KeyReply::Listing { keys: map, stray } => {
            for entry in stray {
                eprintln!("[WARNING ] not a key file, ignored (remove or rename it): {entry}");
            }
            let shown: Map<String, Value> = map
                .iter()
                .filter(|(k, _)| filter.is_none_or(|f| f == k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if json {
                print_line(format_args!("{}", pretty(&Value::Object(shown))));
            } else {
                print_listing(&shown);
            }
        }
        KeyReply::Changed(map) if json => {
            print_line(format_args!("{}", pretty(&Value::Object(map.clone()))))
        }
        KeyReply::Changed(map) => {
            for (state, ids) in map {
                let verb = match state.as_str() {
                    "minions" => "accepted",
                    "minions_rejected" => "rejected",
                    _ => "deleted",
                };
                for id in ids.as_array().into_iter().flatten() {
                    print_line(format_args!(
                        "Key for minion {} {verb}.",
                        id.as_str().unwrap_or_default()
                    ));
                }
            }
        }
        KeyReply::Fingerprints(map) if json => {
            print_line(format_args!("{}", pretty(&Value::Object(map.clone()))))
        }
        KeyReply::Fingerprints(map) => print_fingerprints(map),
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v)
        .unwrap_or_default()
        .replace("\n  ", "\n    ")
}

/// Salt's text listing: the states in `-L` order with their headings.
fn print_listing(map: &Map<String, Value>) {
    for state in KeyState::ALL {
        let Some(ids) = map.get(state.json_name()) else {
            continue;
        };
        print_line(format_args!("{}", state.heading()));
        for id in ids.as_array().into_iter().flatten() {
            print_line(format_args!("{}", id.as_str().unwrap_or_default()));
        }
    }
}

fn print_fingerprints(map: &Map<String, Value>) {
    if let Some(Value::Object(local)) = map.get("local") {
        print_line(format_args!("Local Keys:"));
        for (name, fp) in local {
            print_line(format_args!("{name}:  {}", fp.as_str().unwrap_or_default()));
        }
    }
    for state in KeyState::ALL {
        if let Some(Value::Object(ids)) = map.get(state.json_name()) {
            print_line(format_args!("{}", state.heading()));
            for (id, fp) in ids {
                print_line(format_args!("{id}:  {}", fp.as_str().unwrap_or_default()));
            }
        }
    }
}
