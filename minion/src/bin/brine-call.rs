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
    /// Started by brine-ssh: files and pillar come over stdin/stdout, and so
    /// goes the output
    #[arg(long = "ssh-channel", hide = true, requires = "local")]
    ssh_channel: bool,
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
        let channel = match cli.ssh_channel {
            true => Some(std::sync::Arc::new(
                brine_minion::channel::Channel::stdio()
                    .map_err(|e| anyhow::anyhow!("cannot take stdin/stdout for brine-ssh: {e}"))?,
            )),
            false => None,
        };
        let mut outcome = runtime.block_on(brine_minion::call::call(
            config,
            cli.local,
            channel.clone(),
            call,
        ))?;
        // salt-call prints a failed call's message alone on stderr; for
        // brine-ssh the return is what a minion gives its master (`ERROR...`).
        if let Some(message) = &outcome.call_stderr
            && channel.is_none()
        {
            eprintln!("{message}");
            return anyhow::Ok(outcome);
        }
        let out = is_state_run(&cli.function, &outcome.ret).then_some("highstate");
        let mut returns = Map::new();
        returns.insert("local".into(), std::mem::take(&mut outcome.ret));
        let text = if cli.output.wants_highstate(out) {
            let hopts =
                brine_states::output::HighstateOptions::new(opts.color, &state_out, &cli.output);
            brine_states::output::render_highstate_all(&returns, &hopts)
        } else {
            render_all(cli.output.format(), &opts, &returns)
        };
        match &channel {
            Some(channel) => {
                let code = exit_code(&cli, &outcome);
                runtime
                    .block_on(channel.finish(text, code.into()))
                    .map_err(anyhow::Error::msg)?;
            }
            None => print_stdout(&text),
        }
        // The process ends next: taking the result apart (a map per state)
        // would only cost time.
        std::mem::forget(returns);
        anyhow::Ok(outcome)
    })();
    match result {
        Ok(outcome) => ExitCode::from(exit_code(&cli, &outcome)),
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// 0 on success; the retcode with --retcode-passthrough; else 1.
fn exit_code(cli: &Cli, outcome: &brine_common::functions::Outcome) -> u8 {
    if outcome.retcode == 0 && outcome.success {
        0
    } else if cli.retcode_passthrough && outcome.retcode > 0 {
        u8::try_from(outcome.retcode.clamp(1, 255)).unwrap_or(1)
    } else {
        1
    }
}
