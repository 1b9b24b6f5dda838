//! `brine`: publish a job to minions, wait for their returns and print them.
//!
//! The target is checked here before anything is published (a malformed
//! compound expression or an unknown nodegroup is exit code 2). With `-b` the
//! job runs in batches: the target's minions are found with a `test.ping`, as
//! Salt's batch does, then at most N run at once, the next starting as soon as
//! one finishes (after `--batch-wait`), each batch a list-targeted job.

use brine_common::output::print_line;
use std::collections::{BTreeSet, VecDeque};
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use brine_client::cli::TargetArgs;
use brine_client::progress::ProgressLine;
use brine_client::wait::{Arrived, WaitUpdate};
use brine_client::{Client, ClientError, JobRequest};
use brine_common::cli::{CommonArgs, OutputArgs};
use brine_common::config::MasterConfig;
use brine_common::functions::parse_cli_args;
use brine_common::output::{
    OutputFormat, OutputOptions, print_stdout, python, render_all, render_minion_with_retcode,
    render_value,
};
use brine_common::target::{Target, TargetType};
use brine_common::wire::TargetSpec;
use clap::Parser;
use serde_json::{Map, Value, json};

const EXIT_CODES: &str = "\
Exit codes:
  0  every targeted minion returned and succeeded; also a job publisher_acl
     refuses (the refusal is printed as the output, as Salt does)
  1  a minion's function failed, or a minion did not return
  2  the target matched no minion (nothing was published), the target is
     malformed, or bad usage;
     with --retcode-passthrough: the highest retcode a minion returned";

#[derive(Parser)]
#[command(name = "brine", version, about = "Publish a job to minions and print their returns", after_help = EXIT_CODES)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    targeting: TargetArgs,
    /// Run on at most this many minions at a time, or a percentage ('25%')
    #[arg(
        short = 'b',
        long = "batch-size",
        visible_alias = "batch",
        conflicts_with = "async_"
    )]
    batch: Option<String>,
    /// Seconds to wait after a minion returns before its batch slot is reused
    #[arg(long = "batch-wait", requires = "batch", default_value_t = 0.0)]
    batch_wait: f64,
    /// Seconds without a word from a minion before giving up on it
    #[arg(short = 't', long, env = "BRINE_TIMEOUT")]
    timeout: Option<f64>,
    /// Print all returns at once, as one document
    #[arg(long = "static")]
    static_: bool,
    /// Publish and print the job id without waiting
    #[arg(long = "async")]
    async_: bool,
    /// Exit with the highest retcode a minion returned
    #[arg(long = "retcode-passthrough")]
    retcode_passthrough: bool,
    /// Print the job id before the returns, as Salt's verbose mode does
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Print the job id (`jid: ...`) before the returns
    #[arg(long = "show-jid")]
    show_jid: bool,
    /// Which minions: a glob over ids unless one of the target options says otherwise
    target: String,
    /// The function to run, e.g. test.ping
    function: String,
    /// Arguments; key=value pairs become keyword arguments
    args: Vec<String>,
}

fn main() -> ExitCode {
    brine_client::complete::complete_functions_if_asked();
    brine_common::cli_docs::generate_if_asked::<Cli>();
    let cli = &Cli::parse();
    brine_client::cli::run_client(
        &cli.common,
        2,
        |config| async move { run(cli, &config).await },
    )
}

async fn run(cli: &Cli, config: &MasterConfig) -> anyhow::Result<u8> {
    let target = TargetSpec {
        tgt: Value::String(cli.target.clone()),
        tgt_type: cli.targeting.tgt_type(),
    };
    // Refuse a target that can never be right before anything is published.
    if let Err(e) = Target::compile_with_nodegroups(&target, &config.nodegroups) {
        eprintln!("ERROR: {e}");
        return Ok(2);
    }
    let result = match &cli.batch {
        Some(size) => match batch::BatchSize::parse(size) {
            Ok(size) => batch::run(cli, config, target, size).await,
            Err(message) => {
                eprintln!("ERROR: {message}");
                Ok(2)
            }
        },
        None => run_once(cli, config, target).await,
    };
    refusal_as_output(cli, config, result)
}

/// A job `publisher_acl` refused is printed as Salt's CLI prints it: the
/// refusal through the outputter, as the command's output, and exit code 0
/// (Salt's `_output_ret` of the `AuthorizationError`; measured with Salt
/// 3008.5: `Authorization error occurred.` on stdout, `--out=json` gives
/// it quoted, exit code 0).
fn refusal_as_output(
    cli: &Cli,
    config: &MasterConfig,
    result: anyhow::Result<u8>,
) -> anyhow::Result<u8> {
    let Err(error) = result else {
        return result;
    };
    let Some(ClientError::Refused(message)) = error.downcast_ref::<ClientError>() else {
        return Err(error);
    };
    let opts = cli.output.options(config.color, cli.static_);
    let refusal = Value::String(message.clone());
    print_stdout(&render_value(cli.output.format(), &opts, &refusal));
    Ok(0)
}

fn job_request(target: TargetSpec, fun: &str, args: &[String]) -> JobRequest {
    let (arg, kwarg) = parse_cli_args(args);
    JobRequest {
        tgt: target.tgt,
        tgt_type: target.tgt_type,
        fun: fun.to_string(),
        arg,
        kwarg,
        // The master takes the user from the socket's peer credentials.
        user: String::new(),
    }
}

fn no_minions() -> u8 {
    eprintln!("No minions matched the target. No command was sent, no jid was assigned.");
    eprintln!("ERROR: No return received");
    2
}

fn timeout(cli: &Cli, config: &MasterConfig) -> Duration {
    brine_client::cli::return_timeout(cli.timeout, config)
}

async fn run_once(cli: &Cli, config: &MasterConfig, target: TargetSpec) -> anyhow::Result<u8> {
    let job = job_request(target, &cli.function, &cli.args);
    let client = Client::new(&config.sock_dir);
    let Some(published) = client.publish(job, !cli.async_).await? else {
        return Ok(no_minions());
    };
    if cli.async_ {
        print_line(format_args!(
            "Executed command with job ID: {}",
            published.jid
        ));
        return Ok(0);
    }
    announce_jid(cli, published.jid.as_ref());
    let mut printer = Printer::new(cli, config);
    let tick = printer.progress_line.is_enabled().then_some(PROGRESS_TICK);
    let missing = published
        .wait_observed(timeout(cli, config), tick, |update| match update {
            WaitUpdate::Returned(arrived) => printer.returned(&arrived.minion, &arrived.data),
            WaitUpdate::Progress(tally) => printer.progress(&tally.to_string()),
            WaitUpdate::Idle => printer.write_out(),
        })
        .await?;
    for (minion, reason) in missing {
        printer.missing(&minion, reason);
    }
    Ok(printer.finish(cli.retcode_passthrough))
}

/// The job id before the returns, in Salt's words (`LocalClient`'s
/// `get_cli_event_returns`): `-v` underlines it, `--show-jid` names it.
fn announce_jid(cli: &Cli, jid: &str) {
    if cli.verbose {
        let message = format!("Executing job with jid {jid}");
        print_line(format_args!("{message}\n{}\n", "-".repeat(message.len())));
    } else if cli.show_jid {
        print_line(format_args!("jid: {jid}"));
    }
}

/// How often the progress line is redrawn while nothing arrives.
const PROGRESS_TICK: Duration = Duration::from_millis(250);

/// Prints returns as they arrive (or all at once with `--static`) and works
/// out the exit code. While waiting, a progress line on stderr when it is a
/// terminal (brine_client::progress), erased before each thing printed.
struct Printer {
    format: OutputFormat,
    /// `--out=highstate`: every return goes to the highstate outputter.
    all_highstate: bool,
    /// No `--out` given: state runs get Salt's highstate outputter.
    highstate_ok: bool,
    highstate: brine_states::output::HighstateOptions,
    opts: OutputOptions,
    collected: Map<String, Value>,
    max_retcode: i64,
    any_failed: bool,
    progress_line: ProgressLine,
    /// Returns printed but not yet written: written when the wait would
    /// block (`WaitUpdate::Idle`), so a burst of returns is one write, not
    /// one per return.
    unwritten: Vec<u8>,
}

impl Printer {
    fn new(cli: &Cli, config: &MasterConfig) -> Self {
        let opts = cli.output.options(config.color, cli.static_);
        Printer {
            format: cli.output.format(),
            all_highstate: cli.output.wants_highstate(None),
            highstate_ok: cli.output.wants_highstate(Some("highstate")),
            highstate: brine_states::output::HighstateOptions::new(
                opts.color,
                &config.state_out,
                &cli.output,
            ),
            opts,
            collected: Map::new(),
            max_retcode: 0,
            any_failed: false,
            progress_line: ProgressLine::on_stderr(),
            unwritten: Vec::new(),
        }
    }

    /// Queue `text` for stdout; written at the next [`Printer::write_out`]
    /// (or once a good deal has piled up).
    fn print(&mut self, text: &str) {
        self.progress_line.clear();
        self.unwritten.extend_from_slice(text.as_bytes());
        if self.unwritten.len() >= 64 * 1024 {
            self.write_out();
        }
    }

    /// Write what was printed to stdout.
    fn write_out(&mut self) {
        if self.unwritten.is_empty() {
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&self.unwritten);
        let _ = out.flush();
        self.unwritten.clear();
    }

    /// Show where the job stands (only on a terminal; see ProgressLine),
    /// after what was printed.
    fn progress(&mut self, text: &str) {
        if self.progress_line.is_enabled() {
            self.write_out();
            self.progress_line.update(text, Instant::now());
        }
    }

    fn returned(&mut self, minion: &str, data: &Value) {
        let ret = data.get("return").cloned().unwrap_or(Value::Null);
        let retcode = data.get("retcode").and_then(Value::as_i64).unwrap_or(0);
        let success = data
            .get("success")
            .and_then(Value::as_bool)
            .unwrap_or(retcode == 0);
        self.max_retcode = self.max_retcode.max(retcode);
        self.any_failed |= retcode != 0 || !success;
        let is_state_run = data.get("out").and_then(Value::as_str) == Some("highstate");
        if self.highstate_ok && is_state_run && !self.opts.static_ {
            self.print_highstate(minion, &ret);
            return;
        }
        self.emit(minion, ret, retcode);
    }

    fn print_highstate(&mut self, minion: &str, ret: &Value) {
        let text = brine_states::output::render_highstate(minion, ret, &self.highstate);
        self.print(&text);
    }

    fn missing(&mut self, minion: &str, reason: &str) {
        self.any_failed = true;
        self.emit(minion, Value::String(reason.to_string()), 0);
    }

    /// A progress line (batch mode): on stdout between returns, as Salt
    /// prints it, or on stderr when stdout is one `--static` document.
    fn note(&mut self, line: &str) {
        if self.opts.static_ {
            self.progress_line.clear();
            eprintln!("{line}");
        } else {
            self.print(&format!("{line}\n"));
            self.write_out();
        }
    }

    /// A failure that prints no return of its own.
    fn note_failure(&mut self) {
        self.any_failed = true;
    }

    fn emit(&mut self, minion: &str, ret: Value, retcode: i64) {
        if self.opts.static_ {
            self.collected.insert(minion.to_string(), ret);
            return;
        }
        if self.all_highstate {
            self.print_highstate(minion, &ret);
            return;
        }
        let text = render_minion_with_retcode(self.format, &self.opts, minion, &ret, retcode);
        self.print(&text);
    }

    fn finish(mut self, passthrough: bool) -> u8 {
        self.write_out();
        self.progress_line.clear();
        if self.opts.static_ && self.all_highstate {
            print_stdout(&brine_states::output::render_highstate_all(
                &self.collected,
                &self.highstate,
            ));
        } else if self.opts.static_ {
            print_stdout(&render_all(self.format, &self.opts, &self.collected));
        }
        if self.any_failed {
            eprintln!("ERROR: Minions returned with non-zero exit code");
        }
        match (passthrough, self.any_failed) {
            (true, _) if self.max_retcode > 0 => {
                u8::try_from(self.max_retcode.min(255)).unwrap_or(1)
            }
            (_, true) => 1,
            _ => 0,
        }
    }
}

/// Batch mode (`-b`): Salt's sliding window (`salt/cli/batch.py`). The
/// target's minions are found with a `test.ping`; then at most N run at once,
/// each wave a list-targeted job, and a finished minion's slot is refilled
/// (after `--batch-wait`) while the others still run.
mod batch {
    use super::*;
    use tokio::sync::mpsc;

    /// `-b 3` or `-b 25%` (Salt also accepts `%25`).
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum BatchSize {
        Count(usize),
        Percent(f64),
    }

    impl BatchSize {
        pub fn parse(text: &str) -> Result<Self, String> {
            let invalid = || {
                format!(
                    "Invalid batch data sent: {text}\nData must be in the form of %10, 10% or 3"
                )
            };
            let text = text.trim();
            if text.contains('%') {
                let percent: f64 = text.trim_matches('%').parse().map_err(|_| invalid())?;
                return (percent > 0.0 && percent.is_finite())
                    .then_some(BatchSize::Percent(percent))
                    .ok_or_else(invalid);
            }
            match text.parse::<usize>() {
                Ok(n) if n > 0 => Ok(BatchSize::Count(n)),
                _ => Err(invalid()),
            }
        }

        /// How many minions run at once out of `total`: Salt rounds a
        /// percentage down, except that a fraction of one is one.
        pub fn window(self, total: usize) -> usize {
            let n = match self {
                BatchSize::Count(n) => n,
                BatchSize::Percent(p) => {
                    let share = p / 100.0 * total as f64;
                    if share < 1.0 {
                        share.ceil() as usize
                    } else {
                        share as usize
                    }
                }
            };
            n.max(1)
        }
    }

    /// Which minions run, which wait to, and which slots `--batch-wait`
    /// still holds: pure bookkeeping.
    pub struct Window {
        size: usize,
        total: usize,
        to_run: VecDeque<String>,
        active: BTreeSet<String>,
        /// Slots freed by finished minions, usable again at these instants.
        cooling: Vec<Instant>,
        wait: Duration,
    }

    impl Window {
        pub fn new(minions: Vec<String>, size: usize, wait: Duration) -> Self {
            Window {
                size,
                total: minions.len(),
                to_run: minions.into(),
                active: BTreeSet::new(),
                cooling: Vec::new(),
                wait,
            }
        }

        /// The minions to start now, filling the free slots.
        pub fn next_wave(&mut self, now: Instant) -> Vec<String> {
            self.cooling.retain(|until| *until > now);
            let free = self
                .size
                .saturating_sub(self.active.len() + self.cooling.len());
            let wave: Vec<String> = (0..free).map_while(|_| self.to_run.pop_front()).collect();
            self.active.extend(wave.iter().cloned());
            wave
        }

        /// `minion` returned or was given up on: its slot frees (after the wait).
        pub fn finished(&mut self, minion: &str, now: Instant) {
            if self.active.remove(minion) && !self.wait.is_zero() {
                self.cooling.push(now + self.wait);
            }
        }

        pub fn done(&self) -> bool {
            self.to_run.is_empty() && self.active.is_empty()
        }

        /// The batch's progress line: `3/10 finished, 2 running, 5 waiting`.
        pub fn tally(&self) -> String {
            let waiting = self.to_run.len();
            let running = self.active.len();
            let finished = self.total - waiting - running;
            format!(
                "{finished}/{} finished, {running} running, {waiting} waiting",
                self.total
            )
        }

        /// When a held slot frees up, if minions are waiting for one.
        pub fn next_wake(&self) -> Option<Instant> {
            if self.to_run.is_empty() {
                return None;
            }
            self.cooling.iter().min().copied()
        }
    }

    /// What a wave's job reports back to the batch loop.
    enum Progress {
        Returned(Arrived),
        Missing { minion: String, reason: String },
    }

    /// Minions that answered the gathering ping, and those that did not.
    struct Gathered {
        up: Vec<String>,
        down: Vec<String>,
    }

    pub async fn run(
        cli: &Cli,
        config: &MasterConfig,
        target: TargetSpec,
        size: BatchSize,
    ) -> anyhow::Result<u8> {
        let timeout = timeout(cli, config);
        let client = Client::new(&config.sock_dir);
        let Some(gathered) = gather(&client, target, timeout).await? else {
            return Ok(no_minions());
        };
        let mut printer = Printer::new(cli, config);
        for down in &gathered.down {
            printer.note(&format!(
                "Minion {down} did not respond. No job will be sent."
            ));
            printer.note_failure();
        }
        let size = size.window(gathered.up.len());
        let wait = Duration::from_secs_f64(cli.batch_wait.max(0.0));
        let mut window = Window::new(gathered.up, size, wait);
        let (tx, mut rx) = mpsc::unbounded_channel();
        while !window.done() {
            let wave = window.next_wave(Instant::now());
            if !wave.is_empty() {
                printer.note(&format!(
                    "\nExecuting run on {}\n",
                    python::repr(&json!(wave))
                ));
                let job = job_request(
                    TargetSpec {
                        tgt: json!(wave),
                        tgt_type: TargetType::List,
                    },
                    &cli.function,
                    &cli.args,
                );
                tokio::spawn(run_wave(client.clone(), job, wave, timeout, tx.clone()));
            }
            let progress = match window.next_wake() {
                Some(at) => tokio::select! {
                    p = rx.recv() => p,
                    () = tokio::time::sleep_until(at.into()) => continue,
                },
                None => rx.recv().await,
            };
            match progress {
                Some(Progress::Returned(arrived)) => {
                    printer.returned(&arrived.minion, &arrived.data);
                    window.finished(&arrived.minion, Instant::now());
                }
                Some(Progress::Missing { minion, reason }) => {
                    printer.missing(&minion, &reason);
                    window.finished(&minion, Instant::now());
                }
                None => break,
            }
            printer.write_out();
            printer.progress(&window.tally());
        }
        Ok(printer.finish(cli.retcode_passthrough))
    }

    /// Ping the target, as Salt's batch does, to learn who is there.
    async fn gather(
        client: &Client,
        target: TargetSpec,
        timeout: Duration,
    ) -> anyhow::Result<Option<Gathered>> {
        let ping = job_request(target, "test.ping", &[]);
        let Some(ping) = client.publish(ping, true).await? else {
            return Ok(None);
        };
        let mut up = BTreeSet::new();
        let missing = ping
            .wait(timeout, |arrived| {
                up.insert(arrived.minion);
            })
            .await?;
        Ok(Some(Gathered {
            up: up.into_iter().collect(),
            down: missing.into_iter().map(|(m, _)| m).collect(),
        }))
    }

    /// Publish one wave and report each of its minions exactly once.
    async fn run_wave(
        client: Client,
        job: JobRequest,
        wave: Vec<String>,
        timeout: Duration,
        tx: mpsc::UnboundedSender<Progress>,
    ) {
        let mut reported = BTreeSet::new();
        let outcome = async {
            let Some(published) = client.publish(job, true).await? else {
                anyhow::bail!("no longer accepted");
            };
            let missing = published
                .wait(timeout, |arrived| {
                    reported.insert(arrived.minion.clone());
                    let _ = tx.send(Progress::Returned(arrived));
                })
                .await?;
            Ok(missing)
        }
        .await;
        let (missing, fallback) = match outcome {
            Ok(missing) => (missing, None),
            Err(e) => (Vec::new(), Some(format!("Minion did not return. [{e}]"))),
        };
        for (minion, reason) in missing {
            reported.insert(minion.clone());
            let reason = reason.to_string();
            let _ = tx.send(Progress::Missing { minion, reason });
        }
        // Whoever is still unaccounted for (the job failed) is reported too,
        // so the batch loop never waits for a slot that will not free.
        for minion in wave.into_iter().filter(|m| !reported.contains(m)) {
            let reason = fallback
                .clone()
                .unwrap_or_else(|| "Minion did not return. [No response]".into());
            let _ = tx.send(Progress::Missing { minion, reason });
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn batch_sizes_like_salt() {
            assert_eq!(BatchSize::parse("3"), Ok(BatchSize::Count(3)));
            assert_eq!(BatchSize::parse("25%"), Ok(BatchSize::Percent(25.0)));
            assert_eq!(BatchSize::parse("%10"), Ok(BatchSize::Percent(10.0)));
            assert!(BatchSize::parse("0").is_err() && BatchSize::parse("x").is_err());
            assert!(BatchSize::parse("-5%").is_err());
            assert_eq!(BatchSize::Count(2).window(4), 2);
            assert_eq!(BatchSize::Percent(50.0).window(4), 2);
            assert_eq!(
                BatchSize::Percent(10.0).window(4),
                1,
                "a fraction of one is one"
            );
            assert_eq!(BatchSize::Percent(30.0).window(10), 3);
            assert_eq!(BatchSize::Percent(35.0).window(10), 3, "rounded down");
        }

        fn names(n: usize) -> Vec<String> {
            (1..=n).map(|i| format!("m{i}")).collect()
        }

        #[test]
        fn the_window_slides() {
            let t0 = Instant::now();
            let mut w = Window::new(names(4), 2, Duration::ZERO);
            assert_eq!(w.next_wave(t0), ["m1", "m2"]);
            assert!(w.next_wave(t0).is_empty(), "full");
            w.finished("m2", t0);
            assert_eq!(w.next_wave(t0), ["m3"], "one finished, one starts");
            w.finished("m1", t0);
            w.finished("m3", t0);
            assert_eq!(w.next_wave(t0), ["m4"]);
            assert!(!w.done());
            w.finished("m4", t0);
            assert!(w.done());
        }

        #[test]
        fn batch_wait_holds_the_slot() {
            let t0 = Instant::now();
            let wait = Duration::from_secs(2);
            let mut w = Window::new(names(3), 1, wait);
            assert_eq!(w.next_wave(t0), ["m1"]);
            w.finished("m1", t0);
            assert!(w.next_wave(t0 + Duration::from_secs(1)).is_empty());
            assert_eq!(w.next_wake(), Some(t0 + wait));
            assert_eq!(w.next_wave(t0 + wait + Duration::from_millis(1)), ["m2"]);
            w.finished("unknown", t0);
            assert_eq!(w.next_wake(), None, "nothing held");
        }
    }
}
