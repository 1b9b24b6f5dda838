//! `brine-master`: the master daemon.

use brine_common::cli::CommonArgs;
use clap::Parser;

#[derive(Parser)]
#[command(name = "brine-master", version, about = "The Brine master daemon")]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    /// Internal: run as the master's publisher process on this endpoint
    #[arg(long = "publisher", hide = true, value_name = "ENDPOINT")]
    publisher: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(endpoint) = &cli.publisher {
        brine_common::logging::init(cli.common.log_level.as_deref().unwrap_or("warning"));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        return runtime.block_on(brine_master::pubproc::run_child(endpoint));
    }
    let config = brine_client::cli::master_config(&cli.common)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        // Blocking work (key files, job cache reads) is short: a few threads
        // serve an auth storm of thousands without a thread (and its stack
        // and malloc arena) per minion.
        .max_blocking_threads(config.worker_threads.max(2) * 4)
        .enable_all()
        .build()?;
    let result = runtime.block_on(brine_master::daemon::run(config));
    // After a second stop signal, tasks may still run: they are dropped, and
    // a blocking one (a git fetch, say) is not waited for long.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}
