//! `brine-minion`: the minion daemon.

use brine_common::cli::{CommonArgs, LogFileArgs};
use brine_common::config::MinionConfig;
use clap::Parser;

#[derive(Parser)]
#[command(name = "brine-minion", version, about = "The Brine minion daemon")]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    log: LogFileArgs,
}

fn main() -> anyhow::Result<()> {
    brine_common::cli_docs::generate_if_asked::<Cli>();
    let cli = Cli::parse();
    let mut config = cli
        .common
        .load_daemon::<MinionConfig>(&cli.log, |c| &c.log_file)?;
    config.cli = Some("salt-minion".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // SIGHUP reopens the log file (logrotate) and never stops the minion.
    runtime.block_on(async { brine_common::logging::reopen_on_sighup() })?;
    let result = runtime.block_on(brine_minion::daemon::run(config));
    // The daemon has stopped its jobs and saved what must survive; a
    // blocking thread still busy (a killed job's) must not hold up the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}
