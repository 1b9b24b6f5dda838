//! `brine-call`: run a function on this minion, like `salt-call`.

use std::process::ExitCode;

use brine_common::cli::{CommonArgs, OutputArgs};
use brine_common::config::MinionConfig;
use brine_common::functions::{Call, parse_cli_args};
use brine_common::output::{print_stdout, render_all};
use clap::Parser;
use serde_json::Map;

const EXIT_CODES: &str = "\
Exit codes:
  0  the function succeeded
  1  the function failed (with --retcode-passthrough: its retcode)
  2  bad usage or no master to talk to";

#[derive(Parser)]
#[command(name = "brine-call", version, about = "Run a function on this minion", after_help = EXIT_CODES)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// Run without a master
    #[arg(long)]
    local: bool,
    /// Exit with the function's retcode
    #[arg(long = "retcode-passthrough")]
    retcode_passthrough: bool,
    /// The function, e.g. test.ping
    function: String,
    /// Arguments; key=value pairs become keyword arguments
    args: Vec<String>,
}

/// Salt prints state runs (a dict or list of results) with `highstate`.
fn is_state_run(fun: &str, ret: &serde_json::Value) -> bool {
    brine_minion::modules::state::RUN_FUNCTIONS.contains(&fun)
        && (ret.is_object() || ret.is_array())
}

fn main() -> ExitCode {
    brine_common::cli_docs::generate_if_asked::<Cli>();
    let cli = Cli::parse();
    let result = (|| {
        let mut config = cli.common.load::<MinionConfig>()?;
        config.cli = Some("salt-call".into());
        let opts = cli.output.options(config.color, true);
        let state_out = config.state_out.clone();
        let (args, kwargs) = parse_cli_args(&cli.args);
        let call = Call {
            fun: cli.function.clone(),
            args,
            kwargs,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut outcome = runtime.block_on(brine_minion::call::call(config, cli.local, call))?;
        if let Some(message) = &outcome.call_stderr {
            eprintln!("{message}");
            return anyhow::Ok(outcome);
        }
        let out = is_state_run(&cli.function, &outcome.ret).then_some("highstate");
        let mut returns = Map::new();
        returns.insert("local".into(), std::mem::take(&mut outcome.ret));
        if cli.output.wants_highstate(out) {
            let hopts =
                brine_states::output::HighstateOptions::new(opts.color, &state_out, &cli.output);
            print_stdout(&brine_states::output::render_highstate_all(
                &returns, &hopts,
            ));
        } else {
            print_stdout(&render_all(cli.output.format(), &opts, &returns));
        }
        // The process ends next: taking the result apart (a map per state)
        // would only cost time.
        std::mem::forget(returns);
        anyhow::Ok(outcome)
    })();
    match result {
        Ok(outcome) if outcome.retcode == 0 && outcome.success => ExitCode::SUCCESS,
        Ok(outcome) if cli.retcode_passthrough && outcome.retcode > 0 => {
            ExitCode::from(u8::try_from(outcome.retcode.clamp(1, 255)).unwrap_or(1))
        }
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            ExitCode::from(2)
        }
    }
}
