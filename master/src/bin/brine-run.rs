//! `brine-run`: run a runner on the master (`jobs.*`, `manage.*`) or stream its
//! event bus (`state.event`).

use brine_common::output::{print_fmt, print_stdout};
use std::io::Write;
use std::process::ExitCode;

use brine_client::{Client, ClientError, ClientReply};
use brine_common::cli::{CommonArgs, OutputArgs};
use brine_common::functions::parse_cli_args;
use brine_common::output::render_value;
use brine_common::typed_key::spell_keys;
use brine_master::runners::RUNNERS;
use clap::Parser;
use serde_json::{Map, Value};

fn runner_list() -> String {
    let mut s = String::from("Runners:\n");
    for (name, doc) in RUNNERS {
        s.push_str(&format!("  {name:<16} {doc}\n"));
    }
    s
}

#[derive(Parser)]
#[command(name = "brine-run", version, about = "Run a runner function on the Brine master", after_help = runner_list())]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// The runner function, e.g. jobs.lookup_jid
    function: String,
    /// Arguments; key=value pairs become keyword arguments
    args: Vec<String>,
}

fn main() -> ExitCode {
    brine_common::cli_docs::generate_if_asked::<Cli>();
    let cli = &Cli::parse();
    brine_client::cli::run_client(
        &cli.common,
        1,
        |config| async move { run(cli, &config).await },
    )
}

async fn run(cli: &Cli, config: &brine_common::config::MasterConfig) -> anyhow::Result<u8> {
    let (args, kwargs) = parse_cli_args(&cli.args);
    if cli.function == "state.event" {
        return state_event(config, &args, &kwargs).await;
    }
    let client = Client::new(&config.sock_dir);
    match client.runner(&cli.function, args, kwargs).await {
        Ok((ret, retcode)) => {
            let opts = cli.output.options(config.color, true);
            // Salt prints an orchestration with the highstate outputter.
            let is_orchestration =
                matches!(cli.function.as_str(), "state.orchestrate" | "state.orch");
            match ret.as_object() {
                Some(by_master)
                    if is_orchestration && cli.output.wants_highstate(Some("highstate")) =>
                {
                    let hopts = brine_states::output::HighstateOptions::new(
                        opts.color,
                        &config.state_out,
                        &cli.output,
                    );
                    print_fmt(format_args!(
                        "{}",
                        brine_states::output::render_highstate_all(by_master, &hopts)
                    ));
                }
                _ => print_stdout(&render_value(cli.output.format(), &opts, &ret)),
            }
            Ok(u8::try_from(retcode.clamp(0, 255)).unwrap_or(1))
        }
        Err(ClientError::Master(message)) => {
            eprintln!("{message}");
            Ok(1)
        }
        Err(e) => Err(e.into()),
    }
}

/// Salt's `state.event`: print `tag<TAB>json` for each matching event, with
/// sorted, indented JSON when `pretty=True`; stop after `count` events.
async fn state_event(
    config: &brine_common::config::MasterConfig,
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> anyhow::Result<u8> {
    let tagmatch = args
        .first()
        .or_else(|| kwargs.get("tagmatch"))
        .and_then(Value::as_str)
        .unwrap_or("*")
        .to_string();
    let pretty = kwargs
        .get("pretty")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let count = kwargs.get("count").and_then(Value::as_i64).unwrap_or(-1);
    let mut conn = Client::new(&config.sock_dir)
        .subscribe(Some(tagmatch))
        .await?;
    tracing::info!("listening for events");
    let mut seen = 0i64;
    let mut out = std::io::stdout();
    loop {
        match conn.next().await? {
            ClientReply::Event(ev) => {
                // Marker keys (`None`, bools) as `json.dumps` spells them.
                let spelled = spell_keys(&ev.data);
                let data = if pretty {
                    sorted_pretty(&spelled)
                } else {
                    serde_json::to_string(&spelled)?
                };
                writeln!(out, "{}\t{}", ev.tag, data)?;
                out.flush()?;
                seen += 1;
                if count > 0 && seen >= count {
                    return Ok(0);
                }
            }
            ClientReply::Lagged(n) if n > 0 => {
                eprintln!("warning: {n} events were dropped (reader too slow)")
            }
            ClientReply::Error { message } => anyhow::bail!("{message}"),
            _ => {}
        }
    }
}

/// `json.dumps(data, sort_keys=True, indent=4)`.
fn sorted_pretty(v: &Value) -> String {
    fn sort(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(keys.into_iter().map(|k| (k.clone(), sort(&m[k]))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    use serde::Serialize;
    let _ = sort(v).serialize(&mut ser);
    String::from_utf8_lossy(&buf).into_owned()
}
