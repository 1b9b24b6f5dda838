//! `brine-ssh`: run a function on roster hosts over SSH, with no minion
//! there (Salt's `salt-ssh`). The roster names the hosts, the target picks
//! some, and each runs the function through `brine-call --local`, copied to
//! it once per version (master/src/ssh).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use brine_client::cli::TargetArgs;
use brine_common::cli::{CommonArgs, OutputArgs};
use brine_common::config::MasterConfig;
use brine_common::output::{print_stdout, render_all, render_minion_with_retcode};
use brine_common::target::{MinionFacts, Target, TargetType};
use brine_common::wire::TargetSpec;
use brine_master::ssh::bootstrap::{self, Master};
use brine_master::ssh::command::Connection;
use brine_master::ssh::roster::Entry;
use brine_master::ssh::serve::Server;
use brine_master::ssh::session::{self, HostReturn, Thin};
use brine_master::ssh::{self as ssh};
use clap::Parser;
use serde_json::{Map, Value};

const EXIT_CODES: &str = "\
Exit codes:
  0  every targeted host returned and succeeded
  1  a host could not be reached, or its function failed
  2  the target matched no roster entry, the target or roster is malformed,
     or bad usage";

#[derive(Parser)]
#[command(name = "brine-ssh", version, about = "Run functions on roster hosts over SSH, without a minion", after_help = EXIT_CODES)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    targeting: TargetArgs,
    /// The roster file (default: `roster_file`, else `roster` in the config directory)
    #[arg(long = "roster-file")]
    roster_file: Option<PathBuf>,
    /// Accept host keys not seen before (they are added to known_hosts)
    #[arg(short = 'i', long = "ignore-host-keys")]
    ignore_host_keys: bool,
    /// Run the arguments as a shell command on the hosts, without brine-call
    #[arg(short = 'r', long = "raw-shell", visible_alias = "raw")]
    raw_shell: bool,
    /// Hosts handled at once (default: `ssh_max_procs`, 25)
    #[arg(long = "max-procs")]
    max_procs: Option<usize>,
    /// Print all returns at once, as one document
    #[arg(long = "static")]
    static_: bool,
    /// The brine-call copied to hosts (default: the one beside brine-ssh)
    #[arg(long = "thin-binary", value_name = "PATH")]
    thin_binary: Option<PathBuf>,
    /// Install and start brine-minion on the hosts, its key made here and
    /// accepted by this master (roster keys minion_bin, minion_conf_dir,
    /// minion_service, minion_opts); a second run changes nothing
    #[arg(long = "bootstrap", conflicts_with_all = ["raw_shell", "function"])]
    bootstrap: bool,
    /// The brine-minion --bootstrap installs (default: the one beside brine-ssh)
    #[arg(long = "minion-binary", value_name = "PATH", requires = "bootstrap")]
    minion_binary: Option<PathBuf>,
    /// Which roster entries: a glob over ids unless a target option says otherwise
    target: String,
    /// The function to run, e.g. test.ping (with -r: the command)
    #[arg(required_unless_present = "bootstrap")]
    function: Option<String>,
    /// Arguments; key=value pairs become keyword arguments (anything after
    /// the function is an argument, `--help` too)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

fn main() -> ExitCode {
    brine_common::cli_docs::generate_if_asked::<Cli>();
    let cli = &Cli::parse();
    brine_client::cli::run_client(
        &cli.common,
        2,
        |config| async move { run(cli, &config).await },
    )
}

async fn run(cli: &Cli, config: &MasterConfig) -> anyhow::Result<u8> {
    let roster_path = cli
        .roster_file
        .clone()
        .unwrap_or_else(|| ssh::roster_path(config, &cli.common.config_dir));
    let roster = match ssh::load_roster(config, &roster_path) {
        Ok(roster) => roster,
        Err(e) => {
            eprintln!("ERROR: {e}");
            return Ok(2);
        }
    };
    let targeted = match targeted(cli, config, roster) {
        Ok(targeted) => targeted,
        Err(message) => {
            eprintln!("ERROR: {message}");
            return Ok(2);
        }
    };
    if targeted.is_empty() {
        eprintln!("No matching targets found in roster.");
        return Ok(2);
    }
    let control_dir = ssh::control_dir()?;
    let known_hosts = config.ssh.known_hosts_file.clone();
    let work = match work(cli, config).await {
        Ok(work) => work,
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            return Ok(2);
        }
    };
    let job = Arc::new(Job {
        control_dir,
        known_hosts,
        ignore_host_keys: cli.ignore_host_keys,
        work,
    });
    let max_procs = cli.max_procs.unwrap_or(config.ssh.ssh_max_procs);
    let mut returns = ssh::run_each(targeted, max_procs, move |entry| {
        let job = job.clone();
        async move { job.run(&entry).await }
    });
    let mut printer = Printer::new(cli, config);
    while let Some((id, ret)) = returns.recv().await {
        printer.returned(&id, ret);
    }
    Ok(printer.finish())
}

/// The roster entries the target picks, in roster order. Ids decide glob,
/// `-E` and `-L`; grain terms (`-G`, `-P`, `-S`, `-C` with `G@`...) are decided
/// on the grains each host sent on its last run, and an entry with none
/// cached is left out, with a word on stderr.
fn targeted(cli: &Cli, config: &MasterConfig, roster: Vec<Entry>) -> Result<Vec<Entry>, String> {
    let tgt_type = cli.targeting.tgt_type();
    if matches!(
        tgt_type,
        TargetType::Pillar | TargetType::PillarPcre | TargetType::Nodegroup
    ) {
        return Err(format!(
            "brine-ssh targets roster ids and cached grains (glob, -E, -L, -G, -P, -S, -C), not {tgt_type}"
        ));
    }
    let spec = TargetSpec {
        tgt: Value::String(cli.target.clone()),
        tgt_type,
    };
    let target = Target::compile(&spec).map_err(|e| e.to_string())?;
    let grains_dir = ssh::grains_dir(config);
    let mut uncached = Vec::new();
    let picked = roster
        .into_iter()
        .filter(|entry| {
            let grains = target
                .needs_minion_data()
                .then(|| ssh::cached_grains(&grains_dir, &entry.id))
                .flatten();
            let facts = MinionFacts {
                id: &entry.id,
                grains: grains.as_ref(),
                pillar: None,
            };
            match target.evaluate(&facts) {
                Some(matched) => matched,
                None => {
                    uncached.push(entry.id.clone());
                    false
                }
            }
        })
        .collect();
    if !uncached.is_empty() {
        eprintln!(
            "Left out, no grains cached yet (run any function on them once): {}",
            uncached.join(", ")
        );
    }
    Ok(picked)
}

/// What every host is to do.
enum Work {
    /// A function through `brine-call`, with the operator's files and pillar.
    Function {
        thin: (PathBuf, String),
        server: Server,
        argv: Vec<String>,
    },
    /// `-r`: a command line for the login shell.
    Raw { command: String },
    /// `--bootstrap`: brine-minion installed, keyed and started.
    Bootstrap {
        minion: (PathBuf, String),
        /// What the binary is built for, when it is ours (not --minion-binary).
        arch: Option<&'static str>,
        master: Master,
    },
}

async fn work(cli: &Cli, config: &MasterConfig) -> anyhow::Result<Work> {
    let words = || cli.function.iter().chain(cli.args.iter()).cloned();
    if cli.bootstrap {
        let master = Master::from_config(config)
            .await
            .map_err(anyhow::Error::msg)?;
        let minion = shipped(cli.minion_binary.as_ref(), "brine-minion", config)?;
        let arch = cli
            .minion_binary
            .is_none()
            .then_some(std::env::consts::ARCH);
        return Ok(Work::Bootstrap {
            minion,
            arch,
            master,
        });
    }
    if cli.raw_shell {
        // ssh joins a command's words with spaces for the login shell, and
        // so does -r: the arguments are shell text by intent.
        let command = words().collect::<Vec<_>>().join(" ");
        return Ok(Work::Raw { command });
    }
    Ok(Work::Function {
        thin: shipped(cli.thin_binary.as_ref(), "brine-call", config)?,
        server: Server::from_config(config),
        argv: words().collect(),
    })
}

/// A binary copied to hosts and its hash: `given`, else the static build the
/// package ships in `../lib/brine/ssh/` from brine-ssh (runs on any Linux of
/// this machine's architecture), else the one beside brine-ssh (a source
/// build: linked against this machine's glibc).
fn shipped(
    given: Option<&PathBuf>,
    name: &str,
    config: &MasterConfig,
) -> anyhow::Result<(PathBuf, String)> {
    let path = match given {
        Some(path) => path.clone(),
        None => {
            let exe = std::env::current_exe().context("where brine-ssh is installed")?;
            let dir = exe.parent().unwrap_or(std::path::Path::new("/"));
            let packaged = dir.join("../lib/brine/ssh").join(name);
            if packaged.is_file() {
                packaged
            } else {
                dir.join(name)
            }
        }
    };
    tracing::debug!("shipping {}", path.display());
    Ok(ssh::thin_binary(&path, &config.cachedir)?)
}

/// What every host runs.
struct Job {
    control_dir: PathBuf,
    known_hosts: Option<PathBuf>,
    ignore_host_keys: bool,
    work: Work,
}

impl Job {
    async fn run(&self, entry: &Entry) -> HostReturn {
        let connection = Connection {
            control_dir: &self.control_dir,
            ignore_host_keys: self.ignore_host_keys,
            known_hosts_file: self.known_hosts.as_deref(),
        };
        match &self.work {
            Work::Function { thin, server, argv } => {
                let thin = Thin {
                    binary: &thin.0,
                    hash: &thin.1,
                };
                session::run_function(&connection, entry, &thin, server, argv).await
            }
            Work::Raw { command } => session::run_raw(&connection, entry, command).await,
            Work::Bootstrap {
                minion,
                arch,
                master,
            } => {
                let minion = Thin {
                    binary: &minion.0,
                    hash: &minion.1,
                };
                bootstrap::bootstrap(&connection, entry, &minion, *arch, master).await
            }
        }
    }
}

/// Prints returns as they arrive (or all at once with --static), as `brine` does.
struct Printer {
    format: brine_common::output::OutputFormat,
    opts: brine_common::output::OutputOptions,
    highstate: brine_states::output::HighstateOptions,
    /// Whether a state run's return is printed with the highstate outputter.
    highstate_run: bool,
    collected: Map<String, Value>,
    any_failed: bool,
}

impl Printer {
    fn new(cli: &Cli, config: &MasterConfig) -> Self {
        let opts = cli.output.options(config.color, cli.static_);
        let is_state_run = !cli.raw_shell
            && cli
                .function
                .as_deref()
                .is_some_and(|f| brine_states::output::RUN_FUNCTIONS.contains(&f));
        Printer {
            format: cli.output.format(),
            highstate: brine_states::output::HighstateOptions::new(
                opts.color,
                &config.state_out,
                &cli.output,
            ),
            highstate_run: cli
                .output
                .wants_highstate(is_state_run.then_some("highstate")),
            opts,
            collected: Map::new(),
            any_failed: false,
        }
    }

    fn returned(&mut self, id: &str, ret: HostReturn) {
        self.any_failed |= !ret.success;
        if self.opts.static_ {
            self.collected.insert(id.to_owned(), ret.ret);
            return;
        }
        let text = if self.highstate_run && (ret.ret.is_object() || ret.ret.is_array()) {
            brine_states::output::render_highstate(id, &ret.ret, &self.highstate)
        } else {
            render_minion_with_retcode(self.format, &self.opts, id, &ret.ret, ret.retcode)
        };
        print_stdout(&text);
    }

    fn finish(self) -> u8 {
        if self.opts.static_ {
            let text = if self.highstate_run {
                brine_states::output::render_highstate_all(&self.collected, &self.highstate)
            } else {
                render_all(self.format, &self.opts, &self.collected)
            };
            print_stdout(&text);
        }
        if self.any_failed {
            eprintln!("ERROR: Minions returned with non-zero exit code");
            return 1;
        }
        0
    }
}
