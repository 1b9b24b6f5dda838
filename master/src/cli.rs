//! Pieces the master-side binaries share.

use brine_common::cli::CommonArgs;
use brine_common::config::MasterConfig;

/// Load the master config named by `-c` and start logging.
pub fn master_config(args: &CommonArgs) -> anyhow::Result<MasterConfig> {
    args.load::<MasterConfig>(|c| &c.log_level)
}
