//! What the `main`s of the tools on the master's host share: loading the
//! master config, running a client CLI, the target-type flags.

use brine_common::cli::CommonArgs;
use brine_common::config::MasterConfig;
use brine_common::target::TargetType;
use std::time::Duration;

/// How long a client waits for a minion that has gone silent: the `-t`
/// seconds when given (a negative value is no wait), else the master
/// config's `timeout`.
pub fn return_timeout(flag: Option<f64>, config: &MasterConfig) -> Duration {
    Duration::from_secs_f64(flag.unwrap_or(config.timeout as f64).max(0.0))
}

/// Load the master config named by `-c` and start logging.
pub fn master_config(args: &CommonArgs) -> anyhow::Result<MasterConfig> {
    args.load::<MasterConfig>()
}

/// The `main` of a client CLI (`brine`, `brine-cp`, `brine-run`): load the
/// master config, run `job` on a single-threaded runtime, exit with its
/// code; an error is printed as `ERROR: ...` and exits with `error_code`.
pub fn run_client<Fut>(
    args: &CommonArgs,
    error_code: u8,
    job: impl FnOnce(MasterConfig) -> Fut,
) -> std::process::ExitCode
where
    Fut: std::future::Future<Output = anyhow::Result<u8>>,
{
    let result = (|| {
        let config = master_config(args)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(job(config))
    })();
    match result {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            std::process::ExitCode::from(error_code)
        }
    }
}

/// The target-type flags `brine` and `brine-cp` share (Salt's), at most one.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "tgt_type", multiple = false)]
pub struct TargetArgs {
    /// Target is a regular expression over minion ids
    #[arg(short = 'E', long)]
    pub pcre: bool,
    /// Target is a comma-separated list of minion ids
    #[arg(short = 'L', long)]
    pub list: bool,
    /// Target is a grain and a glob, e.g. 'os:Debian' (nested keys with ':')
    #[arg(short = 'G', long)]
    pub grain: bool,
    /// Target is a grain and a regular expression, e.g. 'os:(Debian|Ubuntu)'
    #[arg(short = 'P', long = "grain-pcre")]
    pub grain_pcre: bool,
    /// Target is a pillar key and a glob
    #[arg(short = 'I', long)]
    pub pillar: bool,
    /// Target is a pillar key and a regular expression
    #[arg(short = 'J', long = "pillar-pcre")]
    pub pillar_pcre: bool,
    /// Target is an address or subnet, e.g. 10.0.0.0/8
    #[arg(short = 'S', long)]
    pub ipcidr: bool,
    /// Target is a nodegroup from the master config's `nodegroups`
    #[arg(short = 'N', long)]
    pub nodegroup: bool,
    /// Target is a compound expression, e.g. 'G@os:Debian and web*'
    #[arg(short = 'C', long)]
    pub compound: bool,
}

impl TargetArgs {
    /// Salt's `tgt_type` for the flags given (`glob` for none).
    pub fn tgt_type(&self) -> TargetType {
        [
            (self.pcre, TargetType::Pcre),
            (self.list, TargetType::List),
            (self.grain, TargetType::Grain),
            (self.grain_pcre, TargetType::GrainPcre),
            (self.pillar, TargetType::Pillar),
            (self.pillar_pcre, TargetType::PillarPcre),
            (self.ipcidr, TargetType::IpCidr),
            (self.nodegroup, TargetType::Nodegroup),
            (self.compound, TargetType::Compound),
        ]
        .into_iter()
        .find_map(|(set, ty)| set.then_some(ty))
        .unwrap_or(TargetType::Glob)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_over_the_config_and_is_never_negative() {
        let config = MasterConfig {
            timeout: 7,
            ..MasterConfig::default()
        };
        assert_eq!(return_timeout(None, &config), Duration::from_secs(7));
        assert_eq!(
            return_timeout(Some(0.5), &config),
            Duration::from_millis(500)
        );
        assert_eq!(return_timeout(Some(-3.0), &config), Duration::ZERO);
    }

    use clap::Parser;

    #[derive(clap::Parser)]
    struct Flags {
        #[command(flatten)]
        targeting: TargetArgs,
    }

    fn tgt_type_of(args: &[&str]) -> TargetType {
        let flags = Flags::try_parse_from(std::iter::once("brine").chain(args.iter().copied()))
            .expect("flags");
        flags.targeting.tgt_type()
    }

    #[test]
    fn each_flag_names_its_target_type_and_none_is_glob() {
        assert_eq!(tgt_type_of(&[]), TargetType::Glob);
        assert_eq!(tgt_type_of(&["-C"]), TargetType::Compound);
        assert_eq!(tgt_type_of(&["-P"]), TargetType::GrainPcre);
        assert_eq!(tgt_type_of(&["--ipcidr"]), TargetType::IpCidr);
        assert_eq!(tgt_type_of(&["-N"]), TargetType::Nodegroup);
        assert!(Flags::try_parse_from(["brine", "-L", "-G"]).is_err());
    }
}
