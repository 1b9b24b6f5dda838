//! `brine-master`: the master daemon.

use brine_common::cli::CommonArgs;
use clap::Parser;

#[derive(Parser)]
#[command(name = "brine-master", version, about = "The Brine master daemon")]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = brine_master::cli::master_config(&cli.common)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(brine_master::daemon::run(config))
}
