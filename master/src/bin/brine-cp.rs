//! `brine-cp`: copy local files to the targeted minions, like `salt-cp`.
//!
//! The files travel inside the publication (sealed with the publish key like
//! any job) and `cp.recv` writes them on each minion; the message size cap
//! (`max_message_size`) bounds what one copy can carry.

use brine_common::output::print_stdout;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use brine_client::cli::{TargetArgs, return_timeout};
use brine_client::{Client, JobRequest};
use brine_common::cli::{CommonArgs, OutputArgs};
use brine_common::output::render_minion;
use clap::Parser;
use serde_json::{Map, Value, json};

#[derive(Parser)]
#[command(
    name = "brine-cp",
    version,
    about = "Copy local files to minions, like salt-cp"
)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    targeting: TargetArgs,
    /// Seconds without a word from a minion before giving up on it
    #[arg(short = 't', long)]
    timeout: Option<f64>,
    /// Which minions: a glob over ids unless one of the target options says otherwise
    target: String,
    /// One or more local files, then the destination path on the minions
    #[arg(required = true, num_args = 2..)]
    paths: Vec<PathBuf>,
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

/// `{file name: base64 content}` for every source.
fn read_sources(sources: &[PathBuf]) -> anyhow::Result<Map<String, Value>> {
    sources
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .with_context(|| format!("{} has no file name", p.display()))?;
            Ok((name.to_string(), json!(B64.encode(bytes))))
        })
        .collect()
}

async fn run(cli: &Cli, config: &brine_common::config::MasterConfig) -> anyhow::Result<u8> {
    let (dest, sources) = cli.paths.split_last().context("a destination is needed")?;
    let mut kwarg = Map::new();
    kwarg.insert("files".into(), Value::Object(read_sources(sources)?));
    kwarg.insert("dest".into(), json!(dest.display().to_string()));
    let job = JobRequest {
        tgt: Value::String(cli.target.clone()),
        tgt_type: cli.targeting.tgt_type(),
        fun: "cp.recv".into(),
        arg: Vec::new(),
        kwarg,
        user: String::new(),
    };
    let client = Client::new(&config.sock_dir);
    let Some(published) = client.publish(job, true).await? else {
        eprintln!("No minions matched the target. No command was sent, no jid was assigned.");
        return Ok(2);
    };
    let timeout = return_timeout(cli.timeout, config);
    let opts = cli.output.options(config.color, false);
    let format = cli.output.format();
    let mut failed = false;
    let missing = published
        .wait(timeout, |arrived| {
            failed |= arrived
                .data
                .get("retcode")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                != 0;
            let ret = arrived.data.get("return").cloned().unwrap_or(Value::Null);
            print_stdout(&render_minion(format, &opts, &arrived.minion, &ret));
        })
        .await?;
    for (minion, reason) in missing {
        failed = true;
        print_stdout(&render_minion(format, &opts, &minion, &json!(reason)));
    }
    Ok(u8::from(failed))
}
