//! `brine`: publish a job to minions, wait for their returns and print them.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use brine_common::cli::{CommonArgs, OutputArgs};
use brine_common::functions::parse_cli_args;
use brine_common::output::{OutputFormat, OutputOptions, render_all, render_minion_with_retcode};
use brine_master::client::{ClientReply, ClientRequest, Connection, JobRequest};
use brine_master::wait::JobWaiter;
use clap::{ArgGroup, Parser};
use serde_json::{Map, Value};

const EXIT_CODES: &str = "\
Exit codes:
  0  every targeted minion returned and succeeded
  1  a minion's function failed, or a minion did not return
  2  the target matched no minion (nothing was published), or bad usage;
     with --retcode-passthrough: the highest retcode a minion returned";

#[derive(Parser)]
#[command(name = "brine", version, about = "Publish a job to minions and print their returns", after_help = EXIT_CODES)]
#[command(group(ArgGroup::new("tgt_type").args(["pcre", "list"])))]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// Target is a regular expression over minion ids
    #[arg(short = 'E', long)]
    pcre: bool,
    /// Target is a comma-separated list of minion ids
    #[arg(short = 'L', long)]
    list: bool,
    /// Seconds without a word from a minion before giving up on it
    #[arg(short = 't', long, env = "BRINE_TIMEOUT")]
    timeout: Option<f64>,
    /// Print all returns at once, as one document
    #[arg(long = "static")]
    static_: bool,
    /// Publish and print the job id without waiting
    #[arg(long = "async")]
    async_: bool,
    /// Exit with the highest retcode a minion returned
    #[arg(long = "retcode-passthrough")]
    retcode_passthrough: bool,
    /// Which minions: a glob over ids unless -E or -L
    target: String,
    /// The function to run, e.g. test.ping
    function: String,
    /// Arguments; key=value pairs become keyword arguments
    args: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = (|| {
        let config = brine_master::cli::master_config(&cli.common)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(run(&cli, &config))
    })();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn tgt_type(cli: &Cli) -> &'static str {
    match (cli.pcre, cli.list) {
        (true, _) => "pcre",
        (_, true) => "list",
        _ => "glob",
    }
}

async fn run(cli: &Cli, config: &brine_common::config::MasterConfig) -> anyhow::Result<u8> {
    let (arg, kwarg) = parse_cli_args(&cli.args);
    let job = JobRequest {
        tgt: Value::String(cli.target.clone()),
        tgt_type: tgt_type(cli).into(),
        fun: cli.function.clone(),
        arg,
        kwarg,
        // The master takes the user from the socket's peer credentials.
        user: String::new(),
    };
    let mut conn = Connection::open(
        &config.sock_dir,
        &ClientRequest::Publish {
            job,
            watch: !cli.async_,
        },
    )
    .await?;
    let (jid, minions, not_connected) = match conn.next().await? {
        ClientReply::Published {
            jid,
            minions,
            not_connected,
        } => (jid, minions, not_connected),
        ClientReply::NoMinions => {
            eprintln!("No minions matched the target. No command was sent, no jid was assigned.");
            eprintln!("ERROR: No return received");
            return Ok(2);
        }
        ClientReply::Error { message } => anyhow::bail!("{message}"),
        other => anyhow::bail!("unexpected reply from the master: {other:?}"),
    };
    if cli.async_ {
        println!("Executed command with job ID: {jid}");
        return Ok(0);
    }
    let names = |ids: Vec<brine_common::ids::MinionId>| {
        ids.into_iter().map(|m| m.to_string()).collect::<Vec<_>>()
    };
    let timeout = Duration::from_secs_f64(cli.timeout.unwrap_or(config.timeout as f64).max(0.0));
    let mut waiter = JobWaiter::new(
        jid.as_str(),
        &names(minions),
        &names(not_connected),
        timeout,
        Instant::now(),
    );
    let mut printer = Printer::new(cli, config.color);
    waiter
        .drive(&mut conn, |arrived| {
            printer.returned(&arrived.minion, &arrived.data)
        })
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    for (minion, reason) in waiter.missing() {
        printer.missing(&minion, reason);
    }
    Ok(printer.finish(cli.retcode_passthrough))
}

/// Prints returns as they arrive (or all at once with `--static`) and works
/// out the exit code.
struct Printer {
    format: OutputFormat,
    opts: OutputOptions,
    collected: Map<String, Value>,
    max_retcode: i64,
    any_failed: bool,
}

impl Printer {
    fn new(cli: &Cli, config_color: bool) -> Self {
        Printer {
            format: cli.output.out,
            opts: cli.output.options(config_color, cli.static_),
            collected: Map::new(),
            max_retcode: 0,
            any_failed: false,
        }
    }

    fn returned(&mut self, minion: &str, data: &Value) {
        let ret = data.get("return").cloned().unwrap_or(Value::Null);
        let retcode = data.get("retcode").and_then(Value::as_i64).unwrap_or(0);
        let success = data
            .get("success")
            .and_then(Value::as_bool)
            .unwrap_or(retcode == 0);
        self.max_retcode = self.max_retcode.max(retcode);
        self.any_failed |= retcode != 0 || !success;
        self.emit(minion, ret, retcode);
    }

    fn missing(&mut self, minion: &str, reason: &str) {
        self.any_failed = true;
        self.emit(minion, Value::String(reason.to_string()), 0);
    }

    fn emit(&mut self, minion: &str, ret: Value, retcode: i64) {
        if self.opts.static_ {
            self.collected.insert(minion.to_string(), ret);
            return;
        }
        let text = render_minion_with_retcode(self.format, &self.opts, minion, &ret, retcode);
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    fn finish(self, passthrough: bool) -> u8 {
        if self.opts.static_ {
            print!("{}", render_all(self.format, &self.opts, &self.collected));
        }
        if self.any_failed {
            eprintln!("ERROR: Minions returned with non-zero exit code");
        }
        match (passthrough, self.any_failed) {
            (true, _) if self.max_retcode > 0 => {
                u8::try_from(self.max_retcode.min(255)).unwrap_or(1)
            }
            (_, true) => 1,
            _ => 0,
        }
    }
}
