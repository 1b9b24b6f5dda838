//! `brine-swarm`: N simulated minions in one process (see `brine_minion::swarm`).

use brine_common::output::print_line;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use brine_common::cli::CommonArgs;
use brine_common::config::MinionConfig;
use brine_minion::swarm::{self, GrainTemplate, SwarmOptions};
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "brine-swarm",
    version,
    about = "Run many simulated minions (real identities, real protocol) in one process"
)]
struct Cli {
    /// Base minion config (master, master_port, timings); -c as for brine-minion
    #[command(flatten)]
    common: CommonArgs,
    /// How many minions
    #[arg(short = 'n', long, default_value_t = 100)]
    count: usize,
    /// Minion ids are <prefix><number>
    #[arg(long, default_value = "swarm-")]
    id_prefix: String,
    /// The master's address (overrides the config's `master`)
    #[arg(long)]
    master: Option<String>,
    /// The master's request port (overrides the config's `master_port`)
    #[arg(long)]
    master_port: Option<u16>,
    /// A template grain, e.g. role=web,db,cache: minion i gets value i mod 3 (repeatable)
    #[arg(long = "grain", value_name = "KEY=V1,V2,...")]
    grains: Vec<GrainTemplate>,
    /// Keep the minions' keys here, so a restarted swarm is the same minions
    #[arg(long)]
    key_dir: Option<PathBuf>,
    /// Minions started per second
    #[arg(long, default_value_t = 2000)]
    start_rate: usize,
    /// Seconds to wait for every minion to authenticate before reporting failure (0: do not wait)
    #[arg(long, default_value_t = 0)]
    wait_auth: u64,
}

/// Each simulated minion holds two sockets: refuse a count the process's
/// open-files limit cannot hold, saying what to do instead.
fn check_open_files(count: usize) -> anyhow::Result<()> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let needed = (count as u64) * 2 + 256;
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft >= needed {
        return Ok(());
    }
    if hard >= needed {
        setrlimit(Resource::RLIMIT_NOFILE, needed, hard)?;
        return Ok(());
    }
    anyhow::bail!(
        "{count} minions need {needed} open files but this process may open at most {hard}: \
         run several swarms with distinct --id-prefix (bench/scale.sh does) or raise the hard limit"
    )
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    check_open_files(cli.count)?;
    let mut config = cli.common.load::<MinionConfig>()?;
    if let Some(m) = &cli.master {
        config.master = brine_common::config::Masters::single(m.clone());
    }
    if let Some(p) = cli.master_port {
        config.master_port = p;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let started = Instant::now();
        let links = swarm::start(SwarmOptions {
            count: cli.count,
            id_prefix: cli.id_prefix.clone(),
            config,
            grains: cli.grains.clone(),
            key_dir: cli.key_dir.clone(),
            start_rate: cli.start_rate,
        })
        .await?;
        print_line(format_args!(
            "swarm started {} minions in {:.2}s",
            links.len(),
            started.elapsed().as_secs_f64()
        ));
        if cli.wait_auth > 0 {
            let took =
                swarm::wait_authenticated(&links, started, Duration::from_secs(cli.wait_auth))
                    .await?;
            print_line(format_args!(
                "swarm authenticated {} minions in {:.2}s",
                links.len(),
                took.as_secs_f64()
            ));
        }
        brine_common::cli::wait_for_shutdown().await;
        anyhow::Ok(())
    })
}
