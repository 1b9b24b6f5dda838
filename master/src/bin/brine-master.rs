//! `brine-master`: the master daemon.

use brine_common::cli::{CommonArgs, LogFileArgs};
use brine_common::config::MasterConfig;
use clap::Parser;

#[derive(Parser)]
#[command(name = "brine-master", version, about = "The Brine master daemon")]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    log: LogFileArgs,
    /// Internal: run as the master's publisher process on this endpoint
    #[arg(long = "publisher", hide = true, value_name = "ENDPOINT")]
    publisher: Option<String>,
}

fn main() -> anyhow::Result<()> {
    brine_common::cli_docs::generate_if_asked::<Cli>();
    let cli = Cli::parse();
    if let Some(endpoint) = &cli.publisher {
        // The publisher logs to the stderr it shares with the master (the
        // terminal, or the journal under systemd), never to the log file:
        // it has next to nothing to say (a failed send), and one writer of
        // the file is what SIGHUP's reopen can keep right.
        let level = cli.common.log_level.as_deref().unwrap_or("warning");
        brine_common::logging::init(brine_common::logging::Settings::console(level));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        return runtime.block_on(brine_master::pubproc::run_child(endpoint));
    }
    let config = cli
        .common
        .load_daemon::<MasterConfig>(&cli.log, |c| &c.log_file)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        // Blocking work (key files, job cache reads) is short: a few threads
        // serve an auth storm of thousands without a thread (and its stack
        // and malloc arena) per minion.
        .max_blocking_threads(config.worker_threads.max(2) * 4)
        .enable_all()
        .build()?;
    // SIGHUP reopens the log file (logrotate) and never stops the master.
    runtime.block_on(async { brine_common::logging::reopen_on_sighup() })?;
    let result = runtime.block_on(brine_master::daemon::run(config));
    // After a second stop signal, tasks may still run: they are dropped, and
    // a blocking one (a git fetch, say) is not waited for long.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}
