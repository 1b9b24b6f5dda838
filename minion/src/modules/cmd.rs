//! Salt's `cmd` execution module: run commands on the minion.
//!
//! Names, arguments, defaults and return shapes are Salt's (`cmd.run`,
//! `cmd.run_all`, ...). Semantics worth knowing:
//!
//! - `python_shell`: when the call comes from a job or `brine-call` (it
//!   carries `__pub_jid`) it defaults to true and the user's own string goes
//!   to `<shell> -c`; otherwise (a cross-module call, a template) it defaults
//!   to false and the string is split like Python's `shlex.split` and run
//!   without a shell.
//! - `cmd.run` returns stdout and stderr merged as the program wrote them;
//!   a non-zero exit becomes the job's retcode (Salt's
//!   `__context__["retcode"]`) unless `ignore_retcode`.
//! - `runas` switches user (with the user's login environment and
//!   supplementary groups), `timeout` kills the command's whole process
//!   group, and `saltutil.kill_job` kills it too (see [`super::process`]).
//! - `cmd.script` needs the fileserver and is not here yet.

use std::path::{Path, PathBuf};
use std::time::Duration;

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use brine_common::output::python;
use brine_common::salt_url;
use nix::unistd::{AccessFlags, Group, User, access};
use serde_json::{Map, Value, json};
use tracing::Level;

use super::MinionCtx;
use super::process::{self, Args, Finished, OutputMode, RunAs, Spawn, py_str, truthy};

/// Signatures, with `{shell}` standing for the default shell.
const RUN_SIG: &str = "cmd, cwd=None, stdin=None, runas=None, group=None, shell={shell}, python_shell=None, env=None, clean_env=False, template=None, rstrip=True, umask=None, output_encoding=None, output_loglevel='debug', log_callback=None, hide_output=False, timeout=None, reset_system_locale=True, ignore_retcode=False, saltenv=None, use_vt=False, redirect_stderr=True, bg=False, password=None, encoded_cmd=False, raise_err=False, prepend_path=None, success_retcodes=None, success_stdout=None, success_stderr=None, **kwargs";
const SHELL_SIG: &str = "cmd, cwd=None, stdin=None, runas=None, group=None, shell={shell}, env=None, clean_env=False, template=None, rstrip=True, umask=None, output_encoding=None, output_loglevel='debug', log_callback=None, hide_output=False, timeout=None, reset_system_locale=True, ignore_retcode=False, saltenv=None, use_vt=False, bg=False, password=None, prepend_path=None, success_retcodes=None, success_stdout=None, success_stderr=None, **kwargs";
const STDOUT_SIG: &str = "cmd, cwd=None, stdin=None, runas=None, group=None, shell={shell}, python_shell=None, env=None, clean_env=False, template=None, rstrip=True, umask=None, output_encoding=None, output_loglevel='debug', log_callback=None, hide_output=False, timeout=None, reset_system_locale=True, ignore_retcode=False, saltenv=None, use_vt=False, password=None, prepend_path=None, success_retcodes=None, success_stdout=None, success_stderr=None, **kwargs";
const ALL_SIG: &str = "cmd, cwd=None, stdin=None, runas=None, group=None, shell={shell}, python_shell=None, env=None, clean_env=False, template=None, rstrip=True, umask=None, output_encoding=None, output_loglevel='debug', log_callback=None, hide_output=False, timeout=None, reset_system_locale=True, ignore_retcode=False, saltenv=None, use_vt=False, redirect_stderr=False, password=None, encoded_cmd=False, prepend_path=None, success_retcodes=None, success_stdout=None, success_stderr=None, **kwargs";
const RETCODE_SIG: &str = "cmd, cwd=None, stdin=None, runas=None, group=None, shell={shell}, python_shell=None, env=None, clean_env=False, template=None, umask=None, output_encoding=None, output_loglevel='debug', log_callback=None, timeout=None, reset_system_locale=True, ignore_retcode=False, saltenv=None, use_vt=False, password=None, success_retcodes=None, success_stdout=None, success_stderr=None, **kwargs";
const SCRIPT_SIG: &str = "source, args=None, cwd=None, stdin=None, runas=None, group=None, shell={shell}, python_shell=None, env=None, template=None, umask=None, output_encoding=None, output_loglevel='debug', log_callback=None, hide_output=False, timeout=None, reset_system_locale=True, saltenv='base', use_vt=False, bg=False, password=None, success_retcodes=None, success_stdout=None, success_stderr=None, **kwargs";
const BG_SIG: &str = "cmd, cwd=None, runas=None, group=None, shell={shell}, python_shell=None, env=None, clean_env=False, template=None, umask=None, timeout=None, output_encoding=None, output_loglevel='debug', log_callback=None, reset_system_locale=True, ignore_retcode=False, saltenv=None, password=None, prepend_path=None, success_retcodes=None, success_stdout=None, success_stderr=None, **kwargs";

/// The locale variables Salt sets to `C` unless the caller set them
/// (`reset_system_locale`), so programs answer in words Salt can parse.
const LOCALE_VARS: [&str; 13] = [
    "LC_CTYPE",
    "LC_NUMERIC",
    "LC_TIME",
    "LC_COLLATE",
    "LC_MONETARY",
    "LC_MESSAGES",
    "LC_PAPER",
    "LC_NAME",
    "LC_ADDRESS",
    "LC_TELEPHONE",
    "LC_MEASUREMENT",
    "LC_IDENTIFICATION",
    "LANGUAGE",
];

/// How long fetching a `runas` user's login environment may take.
const LOGIN_ENV_TIMEOUT: Duration = Duration::from_secs(30);

pub fn register(f: &mut Functions<MinionCtx>) {
    let shell = default_shell();
    let sig = |template: &str| template.replace("{shell}", &python::str_repr(&shell));
    f.register("cmd.run", sig(RUN_SIG), RUN_DOC, |ctx, call| async move {
        run_fn(&ctx, &call, Kind::Run).await
    });
    f.register(
        "cmd.shell",
        sig(SHELL_SIG),
        SHELL_DOC,
        |ctx, call| async move { run_fn(&ctx, &call, Kind::Shell).await },
    );
    f.register(
        "cmd.run_stdout",
        sig(STDOUT_SIG),
        RUN_STDOUT_DOC,
        |ctx, call| async move { run_fn(&ctx, &call, Kind::Stdout).await },
    );
    f.register(
        "cmd.run_stderr",
        sig(STDOUT_SIG),
        RUN_STDERR_DOC,
        |ctx, call| async move { run_fn(&ctx, &call, Kind::Stderr).await },
    );
    f.register(
        "cmd.run_all",
        sig(ALL_SIG),
        RUN_ALL_DOC,
        |ctx, call| async move { run_fn(&ctx, &call, Kind::All).await },
    );
    f.register(
        "cmd.retcode",
        sig(RETCODE_SIG),
        RETCODE_DOC,
        |ctx, call| async move { run_fn(&ctx, &call, Kind::Retcode).await },
    );
    f.register(
        "cmd.run_bg",
        sig(BG_SIG),
        RUN_BG_DOC,
        |ctx, call| async move { run_fn(&ctx, &call, Kind::Background).await },
    );
    f.register(
        "cmd.script",
        sig(SCRIPT_SIG),
        SCRIPT_DOC,
        |ctx, call| async move { script_fn(&ctx, &call).await },
    );
    f.register("cmd.which", "cmd", WHICH_DOC, |_, call| async move {
        which_fn(&call)
    });
    f.register(
        "cmd.which_bin",
        "cmds",
        WHICH_BIN_DOC,
        |_, call| async move { which_bin_fn(&call) },
    );
    f.register("cmd.has_exec", "cmd", HAS_EXEC_DOC, |_, call| async move {
        has_exec_fn(&call)
    });
}

/// The keyword arguments every running function takes, for the docs.
macro_rules! common_args_doc {
    () => {
        "\n\ncwd\n    The directory to run in (default: the home directory of ``runas``, or of\n    the minion's user; ``/`` if that is not readable). Must be absolute.\n\nstdin\n    A string fed to the command's standard input (``\\n`` becomes a newline\n    unless ``stdin_raw_newlines=True``).\n\nrunas / group\n    Run as this user (with the user's login environment) and/or group.\n\nshell\n    The shell for ``python_shell=True`` (default: ``$SHELL`` or /bin/sh).\n\npython_shell\n    True: hand the string to the shell (pipes, redirection, ...). False: split\n    it like a shell would and run the program directly. Defaults to True when\n    called from the CLI, False when called from another function.\n\nenv\n    A dict of environment variables to set. ``clean_env=True`` starts from an\n    empty environment; ``prepend_path`` is put in front of ``$PATH``.\n\numask\n    The umask for the command, in octal (e.g. ``022``).\n\ntimeout\n    Seconds to wait; then the command and everything it started is killed.\n\nrstrip / hide_output / ignore_retcode / output_loglevel\n    Strip trailing whitespace; return empty output; do not fail the job on a\n    non-zero exit; the log level for the output (``quiet`` logs nothing).\n\nsuccess_retcodes / success_stdout / success_stderr\n    Exit codes, or strings in the output, that count as success."
    };
}
const RUN_DOC: &str = concat!(
    "Execute the passed command and return the output (stdout and stderr\nmerged) as a string. A non-zero exit code becomes the job's retcode.\n\ncmd\n    The command to run, e.g. ``ls -lart /home``\n\nredirect_stderr\n    Merge stderr into stdout (default True).\n\nraise_err\n    Fail with the output as the error when the command fails.\n\nbg\n    Start the command in the background and return at once.\n\nCLI Example:\n\n    brine '*' cmd.run \"ls -l | awk '/foo/{print \\$2}'\"\n    brine '*' cmd.run 'echo $FOO' env='{FOO: bar}'",
    common_args_doc!()
);
const SHELL_DOC: &str = concat!(
    "Execute the passed command through the shell and return the output as a\nstring. Like cmd.run with python_shell=True.\n\nCLI Example:\n\n    brine '*' cmd.shell \"ls -l | awk '/foo/{print \\$2}'\"",
    common_args_doc!()
);
const RUN_STDOUT_DOC: &str = concat!(
    "Execute a command, and only return the standard out\n\nCLI Example:\n\n    brine '*' cmd.run_stdout \"ls -l | awk '/foo/{print \\$2}'\"",
    common_args_doc!()
);
const RUN_STDERR_DOC: &str = concat!(
    "Execute a command and only return the standard error\n\nCLI Example:\n\n    brine '*' cmd.run_stderr \"ls -l | awk '/foo/{print \\$2}'\"",
    common_args_doc!()
);
const RUN_ALL_DOC: &str = concat!(
    "Execute the passed command and return a dict of return data: pid,\nretcode, stdout and stderr.\n\nredirect_stderr\n    Merge stderr into stdout (default False).\n\nCLI Example:\n\n    brine '*' cmd.run_all \"ls -l | awk '/foo/{print \\$2}'\"",
    common_args_doc!()
);
const RETCODE_DOC: &str = concat!(
    "Execute a shell command and return the command's return code.\n\nCLI Example:\n\n    brine '*' cmd.retcode \"file /bin/bash\"",
    common_args_doc!()
);
const RUN_BG_DOC: &str = concat!(
    "Execute the passed command in the background and return its pid at once;\nits output is discarded.\n\nCLI Example:\n\n    brine '*' cmd.run_bg \"sleep 60\"",
    common_args_doc!()
);
const SCRIPT_DOC: &str = "Download a script from a remote location and execute the script locally.\nThe script can be located on the salt master file server or on the minion\n(an absolute path). Returns the run_all dict: pid, retcode, stdout, stderr.\n\nCLI Example:\n\n    brine '*' cmd.script salt://scripts/runme.sh\n    brine '*' cmd.script salt://scripts/runme.sh 'arg1 arg2 \"arg 3\"'";
const WHICH_DOC: &str = "Returns the path of an executable available on the minion, None otherwise\n\nCLI Example:\n\n    brine '*' cmd.which cat";
const WHICH_BIN_DOC: &str = "Returns the first command found in a list of commands\n\nCLI Example:\n\n    brine '*' cmd.which_bin '[pip2, pip, pip-python]'";
const HAS_EXEC_DOC: &str = "Returns true if the executable is available on the minion, false otherwise\n\nCLI Example:\n\n    brine '*' cmd.has_exec cat";

/// Which `cmd` function is running: decides defaults and the return value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Run,
    Shell,
    Stdout,
    Stderr,
    All,
    Retcode,
    Background,
}

impl Kind {
    fn signature(self) -> &'static str {
        match self {
            Kind::Run => RUN_SIG,
            Kind::Shell => SHELL_SIG,
            Kind::Stdout | Kind::Stderr => STDOUT_SIG,
            Kind::All => ALL_SIG,
            Kind::Retcode => RETCODE_SIG,
            Kind::Background => BG_SIG,
        }
    }

    fn output(self, args: &Args) -> OutputMode {
        match self {
            Kind::Background => OutputMode::Background,
            _ if args.bool("bg", false) => OutputMode::Background,
            Kind::Run | Kind::Shell => {
                if args.bool("redirect_stderr", true) {
                    OutputMode::Merged
                } else {
                    OutputMode::Separate
                }
            }
            Kind::All if args.bool("redirect_stderr", false) => OutputMode::Merged,
            Kind::Retcode => OutputMode::Merged,
            Kind::Stdout | Kind::Stderr | Kind::All => OutputMode::Separate,
        }
    }
}

/// Salt's `DEFAULT_SHELL`: the minion's `$SHELL`, or `/bin/sh`.
pub fn default_shell() -> String {
    std::env::var("SHELL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh".to_string())
}

/// What a command produced, in Salt's `_run` terms.
#[derive(Debug, Clone, PartialEq)]
struct CmdResult {
    pid: u32,
    /// `None` for a background command.
    retcode: Option<i32>,
    stdout: String,
    stderr: String,
    timed_out: bool,
    /// What the job's retcode becomes (Salt's `__context__["retcode"]`).
    context_retcode: i32,
}

impl CmdResult {
    /// Salt's `run_all` dict (a timeout reports its message as stdout).
    fn to_dict(&self) -> Value {
        if self.timed_out {
            json!({"stdout": self.stdout, "stderr": self.stderr, "retcode": self.retcode, "pid": self.pid})
        } else {
            json!({"pid": self.pid, "retcode": self.retcode, "stdout": self.stdout, "stderr": self.stderr})
        }
    }
}

async fn run_fn(ctx: &MinionCtx, call: &Call, kind: Kind) -> Result<FnOutput, FnError> {
    let args = Args::bind(call, kind.signature());
    let opts = CmdOpts::parse(&args, kind)?;
    let result = execute(ctx, &opts).await?;
    let hide = args.bool("hide_output", false);
    let ret = match kind {
        Kind::Run | Kind::Shell => {
            check_raise_err(&args, &opts, &result)?;
            text_or_hidden(&result.stdout, hide)
        }
        Kind::Stdout => text_or_hidden(&result.stdout, hide),
        Kind::Stderr => text_or_hidden(&result.stderr, hide),
        Kind::All => {
            let mut dict = result.to_dict();
            if hide {
                dict["stdout"] = json!("");
                dict["stderr"] = json!("");
            }
            dict
        }
        Kind::Retcode => json!(result.retcode),
        Kind::Background => json!({"pid": result.pid}),
    };
    Ok(FnOutput {
        ret,
        retcode: result.context_retcode,
    })
}

/// Salt's `cmd.script`: fetch `source` (salt:// through the file client, or a
/// local path), run a private copy of it with `args`, and return `run_all`'s
/// dict. The command runs without a shell unless `python_shell=True`.
async fn script_fn(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let source = call
        .param(0, "source")
        .and_then(Value::as_str)
        .ok_or_else(|| FnError::Invocation("missing required argument 'source'".into()))?
        .to_string();
    let saltenv = call
        .kwargs
        .get("saltenv")
        .and_then(Value::as_str)
        .unwrap_or("base")
        .to_string();
    if call.kwargs.get("template").is_some_and(|t| !t.is_null()) {
        return Err(FnError::Invocation(
            "cmd.script: 'template' is not supported yet".into(),
        ));
    }
    let fetched = match salt_url::file_of(&source, &saltenv) {
        Some(file) => {
            let client = crate::fileclient::FileClient::new(&ctx.config, ctx.upstream());
            let cached = match file {
                Ok((env, path)) => client.cache_file(&env, &path).await,
                Err(e) => Err(e.to_string()),
            };
            cached
                .map_err(|e| FnError::Execution(format!("Unable to cache script {source}: {e}")))?
        }
        None => PathBuf::from(&source),
    };
    let copy = private_copy(
        ctx,
        &fetched,
        call.kwargs.get("runas").and_then(Value::as_str),
    )?;
    let mut cmd = python::str_repr(&copy.display().to_string());
    if let Some(args) = call.param(1, "args").filter(|a| !a.is_null()) {
        cmd.push(' ');
        cmd.push_str(&py_str(args));
    }
    let mut kwargs: Map<String, Value> = call
        .kwargs
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "source" | "args" | "saltenv" | "template"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    kwargs.insert("cmd".into(), json!(cmd));
    kwargs.entry("python_shell").or_insert(json!(false));
    let run = Call {
        fun: "cmd.run_all".into(),
        args: Vec::new(),
        kwargs,
    };
    let result = run_fn(ctx, &run, Kind::All).await;
    let _ = std::fs::remove_file(&copy);
    result
}

/// A copy of a script only its runner can read and execute, in the cache dir.
fn private_copy(ctx: &MinionCtx, script: &Path, runas: Option<&str>) -> Result<PathBuf, FnError> {
    use std::os::unix::fs::PermissionsExt;
    let dir = ctx.config.cachedir.join("scripts");
    std::fs::create_dir_all(&dir)
        .map_err(|e| FnError::Execution(format!("{}: {e}", dir.display())))?;
    let name = script
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("script");
    let copy = dir.join(format!("{}-{}-{name}", std::process::id(), rand_suffix()));
    std::fs::copy(script, &copy)
        .map_err(|e| FnError::Execution(format!("Unable to copy {}: {e}", script.display())))?;
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| FnError::Execution(format!("{}: {e}", copy.display())))?;
    if let Some(user) = runas {
        let user = lookup_user(user)?;
        nix::unistd::chown(&copy, Some(user.uid), Some(user.gid))
            .map_err(|e| FnError::Execution(format!("{}: {e}", copy.display())))?;
        // The user must reach the file through the cache dir.
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711));
    }
    Ok(copy)
}

fn rand_suffix() -> String {
    let bytes: [u8; 6] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text_or_hidden(text: &str, hide: bool) -> Value {
    Value::String(if hide {
        String::new()
    } else {
        text.to_string()
    })
}

/// `cmd.run raise_err=True`: a failing command is an error carrying its output.
fn check_raise_err(args: &Args, opts: &CmdOpts, result: &CmdResult) -> Result<(), FnError> {
    let failed = !opts.ignore_retcode && result.retcode != Some(0);
    if failed && opts.log_level.is_some() && args.bool("raise_err", false) {
        let text = if args.bool("hide_output", false) {
            String::new()
        } else {
            result.stdout.clone()
        };
        return Err(FnError::Execution(text));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Options

/// The command as given: a string, or a list of arguments.
#[derive(Debug, Clone, PartialEq)]
enum CmdSpec {
    Line(String),
    List(Vec<String>),
}

impl CmdSpec {
    fn from_value(v: &Value) -> CmdSpec {
        match v {
            Value::Array(items) => CmdSpec::List(items.iter().map(py_str).collect()),
            other => CmdSpec::Line(py_str(other)),
        }
    }

    /// What Salt logs: the first word.
    fn first_word(&self) -> String {
        match self {
            CmdSpec::Line(s) => s.split_whitespace().next().unwrap_or_default().to_string(),
            CmdSpec::List(v) => v.first().map(|s| s.trim().to_string()).unwrap_or_default(),
        }
    }

    /// How Salt's timeout message shows the command: the string given to a
    /// shell, else the Python list that was executed.
    fn shown(&self, shell: bool) -> String {
        match self {
            CmdSpec::Line(s) if shell => s.clone(),
            CmdSpec::Line(s) => match process::shlex_split(s) {
                Ok(argv) => python::repr(&json!(argv)),
                Err(_) => s.clone(),
            },
            CmdSpec::List(v) => python::repr(&json!(v)),
        }
    }
}

/// Everything `_run` needs, parsed and checked.
#[derive(Debug, Clone)]
struct CmdOpts {
    cmd: CmdSpec,
    cwd: Option<String>,
    stdin: Option<String>,
    runas: Option<String>,
    group: Option<String>,
    shell: String,
    python_shell: bool,
    env: Map<String, Value>,
    clean_env: bool,
    template: Option<String>,
    rstrip: bool,
    umask: Option<String>,
    /// `None`: `output_loglevel=quiet`.
    log_level: Option<Level>,
    timeout: Option<Value>,
    reset_system_locale: bool,
    ignore_retcode: bool,
    output: OutputMode,
    prepend_path: Option<String>,
    success_retcodes: Vec<i64>,
    success_stdout: Vec<String>,
    success_stderr: Vec<String>,
    stdin_raw_newlines: bool,
}

impl CmdOpts {
    fn parse(args: &Args, kind: Kind) -> Result<CmdOpts, FnError> {
        let cmd = args
            .get("cmd")
            .map(CmdSpec::from_value)
            .ok_or_else(|| FnError::Invocation("missing required argument 'cmd'".into()))?;
        let output = kind.output(args);
        let background = output == OutputMode::Background;
        Ok(CmdOpts {
            cmd,
            cwd: args.str("cwd"),
            stdin: args.str("stdin").filter(|_| !background),
            runas: args.str("runas").filter(|s| !s.is_empty()),
            group: args.str("group").filter(|s| !s.is_empty()),
            shell: args.str("shell").unwrap_or_else(default_shell),
            python_shell: python_shell(args, kind),
            env: parse_env(args.get("env")),
            clean_env: args.bool("clean_env", false),
            template: args.str("template").filter(|s| !s.is_empty()),
            rstrip: args.bool("rstrip", true),
            umask: args.str("umask"),
            log_level: log_level(&args.str_or("output_loglevel", "debug")),
            timeout: args.get("timeout").cloned(),
            reset_system_locale: args.bool("reset_system_locale", true),
            ignore_retcode: background || args.bool("ignore_retcode", false),
            output,
            prepend_path: args.str("prepend_path").filter(|s| !s.is_empty()),
            success_retcodes: success_retcodes(args.get("success_retcodes"))?,
            success_stdout: split_input(args.get("success_stdout")),
            success_stderr: split_input(args.get("success_stderr")),
            stdin_raw_newlines: args.bool("stdin_raw_newlines", false),
        })
    }
}

/// Salt's `_python_shell_default`: an explicit value wins; `cmd.shell`
/// defaults to true; the others to true only when called from the CLI (the
/// call carries `__pub_jid`).
fn python_shell(args: &Args, kind: Kind) -> bool {
    if let Some(v) = args.get("python_shell") {
        return truthy(v);
    }
    kind == Kind::Shell || args.get("__pub_jid").is_some_and(truthy)
}

/// Salt's `_parse_env`: a dict, or a list of one-key dicts; anything else is
/// no environment.
fn parse_env(env: Option<&Value>) -> Map<String, Value> {
    match env {
        Some(Value::Object(m)) => m.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())))
            .collect(),
        _ => Map::new(),
    }
}

/// Salt's `_check_loglevel`: a level name, `quiet` for none; unknown names
/// fall back to `info`.
fn log_level(name: &str) -> Option<Level> {
    match name.to_ascii_lowercase().as_str() {
        "quiet" => None,
        "all" | "garbage" | "trace" | "profile" => Some(Level::TRACE),
        "debug" => Some(Level::DEBUG),
        "info" => Some(Level::INFO),
        "warning" | "warn" => Some(Level::WARN),
        "error" | "critical" => Some(Level::ERROR),
        other => {
            tracing::error!(
                "Invalid output_loglevel '{other}'. Valid levels are: warning, trace, quiet, profile, info, garbage, error, debug, critical, all. Falling back to 'info'."
            );
            Some(Level::INFO)
        }
    }
}

/// Salt's `split_input`: a list as it is, a string split on commas.
fn split_input(v: Option<&Value>) -> Vec<String> {
    match v {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(py_str).collect(),
        Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_string()).collect(),
        Some(other) => vec![py_str(other)],
    }
}

fn success_retcodes(v: Option<&Value>) -> Result<Vec<i64>, FnError> {
    if v.is_none() {
        return Ok(vec![0]);
    }
    split_input(v)
        .iter()
        .map(|s| s.trim().parse::<i64>())
        .collect::<Result<_, _>>()
        .map_err(|_| FnError::Invocation("success_retcodes must be a list of integers".into()))
}

// ---------------------------------------------------------------------------
// Running

async fn execute(ctx: &MinionCtx, opts: &CmdOpts) -> Result<CmdResult, FnError> {
    check_shell(&opts.shell)?;
    if let Some(t) = &opts.template {
        return Err(FnError::Execution(format!(
            "Attempted to render file paths with unavailable engine {t}"
        )));
    }
    let user = opts.runas.as_deref().map(lookup_user).transpose()?;
    let group_gid = opts.group.as_deref().map(lookup_group).transpose()?;
    let cwd = resolve_cwd(opts.cwd.as_deref(), user.as_ref())?;
    let umask = parse_umask(opts.umask.as_ref())?;
    let timeout = parse_timeout(opts.timeout.as_ref())?;
    let (program, argv) = command_line(opts)?;
    let runas = identity(user.as_ref(), group_gid)?;
    let spec = Spawn {
        program,
        args: argv,
        cwd: PathBuf::from(&cwd),
        env: build_env(ctx, opts, user.as_ref()).await,
        runas,
        umask,
        stdin: opts
            .stdin
            .as_ref()
            .map(|s| stdin_bytes(s, opts.stdin_raw_newlines)),
        output: opts.output,
        timeout,
    };
    log_start(opts, &cwd);
    let finished = process::run(ctx, &spec)
        .await
        .map_err(|e| spawn_error(opts, &spec, &e))?;
    let result = to_result(opts, finished);
    log_end(opts, &result);
    Ok(result)
}

/// Who the command runs as: `runas` (with `group` as its group, if given),
/// or the minion's own user in `group`, or unchanged.
fn identity(user: Option<&User>, group_gid: Option<u32>) -> Result<Option<RunAs>, FnError> {
    match (user, group_gid) {
        (Some(u), gid) => Ok(Some(RunAs {
            name: u.name.clone(),
            uid: u.uid.as_raw(),
            gid: gid.unwrap_or(u.gid.as_raw()),
        })),
        (None, Some(gid)) => current_user_with_gid(gid).map(Some),
        (None, None) => Ok(None),
    }
}

/// Salt refuses a shell that is not an executable file, even when none is used.
fn check_shell(shell: &str) -> Result<(), FnError> {
    let path = Path::new(shell);
    if path.is_file() && access(path, AccessFlags::X_OK).is_ok() {
        Ok(())
    } else {
        Err(FnError::Execution(format!(
            "The shell {shell} is not available"
        )))
    }
}

fn lookup_user(name: &str) -> Result<User, FnError> {
    User::from_name(name)
        .ok()
        .flatten()
        .ok_or_else(|| FnError::Execution(format!("User '{name}' is not available")))
}

fn lookup_group(name: &str) -> Result<u32, FnError> {
    let by_name = Group::from_name(name)
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw());
    by_name
        .or_else(|| name.parse().ok())
        .ok_or_else(|| FnError::Execution(format!("Group '{name}' is not available")))
}

/// `group` without `runas`: the minion's own user with that group.
fn current_user_with_gid(gid: u32) -> Result<RunAs, FnError> {
    let uid = nix::unistd::getuid();
    let user = User::from_uid(uid)
        .ok()
        .flatten()
        .ok_or_else(|| FnError::Execution(format!("The minion's user (uid {uid}) is unknown")))?;
    Ok(RunAs {
        name: user.name,
        uid: uid.as_raw(),
        gid,
    })
}

/// Salt's cwd rule: the given directory (absolute, existing), else the home
/// of `runas` or of the minion's user, else `/`.
fn resolve_cwd(cwd: Option<&str>, user: Option<&User>) -> Result<String, FnError> {
    let cwd = match cwd.filter(|c| !c.is_empty()) {
        Some(c) => c.to_string(),
        None => {
            let home = match user {
                Some(u) => u.dir.display().to_string(),
                None => own_home(),
            };
            if access(Path::new(&home), AccessFlags::R_OK).is_ok() {
                home
            } else {
                "/".to_string()
            }
        }
    };
    let p = Path::new(&cwd);
    if p.is_absolute() && p.is_dir() {
        Ok(cwd)
    } else {
        Err(FnError::Execution(format!(
            "Specified cwd '{cwd}' either not absolute or does not exist"
        )))
    }
}

/// `os.path.expanduser("~")`, or `/` when there is no home.
fn own_home() -> String {
    super::file::meta::own_home().unwrap_or_else(|| "/".to_string())
}

/// The child's environment, built in Salt's order: the caller's `env`, the
/// `runas` user's login environment under it, locale defaults, then the
/// minion's environment beneath everything (unless `clean_env`).
async fn build_env(ctx: &MinionCtx, opts: &CmdOpts, user: Option<&User>) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = opts
        .env
        .iter()
        .map(|(k, v)| {
            if v.is_null() {
                tracing::error!(
                    "Environment variable '{k}' passed without a value. Setting value to an empty string"
                );
            }
            (k.clone(), if v.is_null() { String::new() } else { py_str(v) })
        })
        .collect();
    if let Some(user) = user {
        let mut login = login_env(ctx, user, &opts.shell).await;
        merge(&mut login, env);
        set(&mut login, "USER", &user.name);
        set(&mut login, "HOME", &user.dir.display().to_string());
        env = login;
    }
    if opts.reset_system_locale {
        for var in LOCALE_VARS {
            if !env.iter().any(|(k, _)| k == var) {
                env.push((var.to_string(), "C".to_string()));
            }
        }
    }
    let notify_given = env.iter().any(|(k, _)| k == "NOTIFY_SOCKET");
    let mut run_env = if opts.clean_env {
        Vec::new()
    } else {
        process::minion_env()
    };
    merge(&mut run_env, env);
    if let Some(prefix) = &opts.prepend_path {
        let path = get(&run_env, "PATH").unwrap_or_default();
        set(&mut run_env, "PATH", &format!("{prefix}:{path}"));
    }
    if !notify_given {
        run_env.retain(|(k, _)| k != "NOTIFY_SOCKET");
    }
    run_env
}

fn get(env: &[(String, String)], key: &str) -> Option<String> {
    env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

fn set(env: &mut Vec<(String, String)>, key: &str, value: &str) {
    match env.iter_mut().find(|(k, _)| k == key) {
        Some(entry) => entry.1 = value.to_string(),
        None => env.push((key.to_string(), value.to_string())),
    }
}

/// `dict.update`: every pair of `over` replaces or joins `base`.
fn merge(base: &mut Vec<(String, String)>, over: Vec<(String, String)>) {
    for (k, v) in over {
        set(base, &k, &v);
    }
}

/// The environment a login shell of `user` has, as Salt gets it: through
/// `su - user`, between two markers that fence off any noise from profile
/// scripts. Empty (with an error logged) if that fails.
async fn login_env(ctx: &MinionCtx, user: &User, shell: &str) -> Vec<(String, String)> {
    let marker = format!("<<<brine-env-{:016x}>>>", rand::random::<u64>());
    let script = format!("printf '%s' '{marker}'; env -0; printf '%s' '{marker}'");
    let mut spec = Spawn::new(
        "su",
        vec![
            "-s".into(),
            shell.into(),
            "-".into(),
            user.name.clone(),
            "-c".into(),
            script,
        ],
    );
    spec.timeout = Some(LOGIN_ENV_TIMEOUT);
    let out = match process::run(ctx, &spec).await {
        Ok(out) => out,
        Err(e) => {
            tracing::error!(
                "Environment could not be retrieved for user '{}': {e}",
                user.name
            );
            return Vec::new();
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let parts: Vec<&str> = text.split(marker.as_str()).collect();
    if parts.len() != 3 {
        tracing::error!(
            "Environment could not be retrieved for user '{}': stderr={:?} stdout={:?}",
            user.name,
            String::from_utf8_lossy(&out.stderr),
            text
        );
        return Vec::new();
    }
    parse_env0(parts[1])
}

/// `env -0` output: `KEY=value` entries separated by NUL.
fn parse_env0(text: &str) -> Vec<(String, String)> {
    text.split('\0')
        .filter_map(|entry| entry.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Salt's umask rule: octal digits, leading zeros ignored, zero refused.
fn parse_umask(umask: Option<&String>) -> Result<Option<u32>, FnError> {
    let Some(raw) = umask else {
        return Ok(None);
    };
    let digits = raw.trim_start_matches('0');
    if digits.is_empty() {
        return Err(FnError::Execution("Zero umask is not allowed.".into()));
    }
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .map(Some)
        .ok_or_else(|| FnError::Execution(format!("Invalid umask: '{raw}'")))
}

/// A number of seconds; `None`, `0` and `0.0` mean no timeout.
fn parse_timeout(timeout: Option<&Value>) -> Result<Option<Duration>, FnError> {
    match timeout {
        None => Ok(None),
        Some(v) if !truthy(v) => Ok(None),
        Some(Value::Number(n)) => {
            let secs = n.as_f64().unwrap_or_default();
            Duration::try_from_secs_f64(secs).map(Some).map_err(|_| {
                FnError::Invocation(format!("Error: timeout {secs} must be a positive number"))
            })
        }
        Some(other) => Err(FnError::Invocation(format!(
            "Error: timeout {} must be a number",
            py_str(other)
        ))),
    }
}

/// The program and its arguments: `<shell> -c <string>` with a shell, the
/// list or the shell-split string without.
fn command_line(opts: &CmdOpts) -> Result<(String, Vec<String>), FnError> {
    let mut argv = match (&opts.cmd, opts.python_shell) {
        (CmdSpec::Line(line), true) => vec![opts.shell.clone(), "-c".into(), line.clone()],
        (CmdSpec::List(list), true) => {
            // Popen(list, shell=True): the first item is the script, the rest
            // its positional parameters.
            let mut v = vec![opts.shell.clone(), "-c".into()];
            v.extend(list.iter().cloned());
            v
        }
        (CmdSpec::Line(line), false) => process::shlex_split(line)
            .map_err(|e| FnError::Exception(format!("ValueError: {e}")))?,
        (CmdSpec::List(list), false) => list.clone(),
    };
    if argv.is_empty() {
        return Err(FnError::Invocation("the command to run is empty".into()));
    }
    let program = argv.remove(0);
    Ok((program, argv))
}

/// Salt turns a `\n` typed on the CLI into a newline.
fn stdin_bytes(stdin: &str, raw_newlines: bool) -> Vec<u8> {
    if raw_newlines {
        stdin.as_bytes().to_vec()
    } else {
        stdin.replace("\\n", "\n").into_bytes()
    }
}

/// Salt's message when the program cannot be started.
fn spawn_error(opts: &CmdOpts, spec: &Spawn, err: &std::io::Error) -> FnError {
    let shown = match &opts.cmd {
        CmdSpec::Line(s) if opts.python_shell => s.clone(),
        _ => {
            let mut v = vec![spec.program.clone()];
            v.extend(spec.args.iter().cloned());
            python::repr(&json!(v))
        }
    };
    let shown = if opts.log_level.is_some() {
        shown
    } else {
        "REDACTED".into()
    };
    let context = python::repr(&json!({
        "cwd": spec.cwd.display().to_string(),
        "shell": opts.python_shell,
    }));
    let reason = match err.raw_os_error() {
        Some(n) => format!(
            "[Errno {n}] {}: {}",
            nix::errno::Errno::from_raw(n).desc(),
            python::str_repr(&spec.program)
        ),
        None => err.to_string(),
    };
    FnError::Execution(format!(
        "Unable to run command '{shown}' with the context '{context}', reason: {reason}"
    ))
}

fn to_result(opts: &CmdOpts, f: Finished) -> CmdResult {
    if f.timed_out {
        let limit = opts.timeout.as_ref().map(py_str).unwrap_or_default();
        return CmdResult {
            pid: f.pid,
            retcode: Some(1),
            stdout: format!(
                "{} : Timed out after {limit} seconds",
                opts.cmd.shown(opts.python_shell)
            ),
            stderr: String::new(),
            timed_out: true,
            // Salt leaves the job's retcode at 0 here; a killed command is a
            // failure, so Brine reports the 1 that run_all shows.
            context_retcode: 1,
        };
    }
    let decode = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes).into_owned();
        if opts.rstrip {
            python::rstrip(&text).to_string()
        } else {
            text
        }
    };
    let (stdout, stderr) = (decode(&f.stdout), decode(&f.stderr));
    let mut retcode = f.returncode;
    let code_ok = retcode.is_some_and(|c| opts.success_retcodes.contains(&i64::from(c)));
    let text_ok = opts
        .success_stdout
        .iter()
        .any(|s| stdout.contains(s.as_str()))
        || opts
            .success_stderr
            .iter()
            .any(|s| stderr.contains(s.as_str()));
    if code_ok || text_ok {
        retcode = Some(0);
    }
    let context_retcode = if opts.ignore_retcode {
        0
    } else {
        retcode.unwrap_or(0)
    };
    CmdResult {
        pid: f.pid,
        retcode,
        stdout,
        stderr,
        timed_out: false,
        context_retcode,
    }
}

/// Salt logs every command at info, unless `output_loglevel=quiet`.
fn log_start(opts: &CmdOpts, cwd: &str) {
    if opts.log_level.is_none() {
        return;
    }
    let quote = if matches!(opts.cmd, CmdSpec::Line(_)) {
        "'"
    } else {
        ""
    };
    let user = opts
        .runas
        .as_ref()
        .map(|u| format!("as user '{u}' "))
        .unwrap_or_default();
    let group = opts
        .group
        .as_ref()
        .map(|g| format!("in group '{g}' "))
        .unwrap_or_default();
    let bg = if opts.output == OutputMode::Background {
        ". Executing command in the background, no output will be logged."
    } else {
        ""
    };
    tracing::info!(
        "Executing command {quote}{}{quote} {user}{group}in directory '{cwd}'{bg}",
        opts.cmd.first_word()
    );
}

fn log_end(opts: &CmdOpts, result: &CmdResult) {
    let Some(mut level) = opts.log_level else {
        return;
    };
    if !opts.ignore_retcode && result.retcode.is_some_and(|c| c != 0) {
        level = Level::ERROR;
        tracing::error!(
            "Command '{}' failed with return code: {}",
            opts.cmd.first_word(),
            result.retcode.unwrap_or_default()
        );
    }
    if !result.stdout.is_empty() {
        log_at(level, &format!("stdout: {}", result.stdout));
    }
    if !result.stderr.is_empty() {
        log_at(level, &format!("stderr: {}", result.stderr));
    }
}

fn log_at(level: Level, msg: &str) {
    match level {
        Level::TRACE => tracing::trace!("{msg}"),
        Level::DEBUG => tracing::debug!("{msg}"),
        Level::INFO => tracing::info!("{msg}"),
        Level::WARN => tracing::warn!("{msg}"),
        Level::ERROR => tracing::error!("{msg}"),
    }
}

// ---------------------------------------------------------------------------
// which

fn which_fn(call: &Call) -> Result<FnOutput, FnError> {
    let exe = call.param(0, "cmd").map(py_str).unwrap_or_default();
    Ok(path_value(process::which(&exe)).into())
}

fn which_bin_fn(call: &Call) -> Result<FnOutput, FnError> {
    let found = match call.param(0, "cmds") {
        Some(Value::Array(items)) => items.iter().find_map(|c| process::which(&py_str(c))),
        Some(other) => process::which(&py_str(other)),
        None => None,
    };
    Ok(path_value(found).into())
}

fn has_exec_fn(call: &Call) -> Result<FnOutput, FnError> {
    let exe = call.param(0, "cmd").map(py_str).unwrap_or_default();
    Ok(json!(process::which(&exe).is_some()).into())
}

fn path_value(p: Option<PathBuf>) -> Value {
    p.map(|p| json!(p.display().to_string()))
        .unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(kind: Kind, positional: Vec<Value>, kwargs: Value) -> Args {
        let call = Call {
            fun: "cmd.x".into(),
            args: positional,
            kwargs: kwargs.as_object().cloned().unwrap_or_default(),
        };
        Args::bind(&call, kind.signature())
    }

    #[test]
    fn python_shell_defaults_follow_salt() {
        let cli = args(
            Kind::Run,
            vec![json!("ls")],
            json!({"__pub_jid": "20240101"}),
        );
        assert!(python_shell(&cli, Kind::Run));
        let nested = args(Kind::Run, vec![json!("ls")], json!({}));
        assert!(!python_shell(&nested, Kind::Run));
        assert!(python_shell(&nested, Kind::Shell));
        let explicit = args(
            Kind::Run,
            vec![json!("ls")],
            json!({"__pub_jid": "1", "python_shell": false}),
        );
        assert!(!python_shell(&explicit, Kind::Run));
    }

    #[test]
    fn positional_arguments_follow_the_signature() {
        let a = args(Kind::Run, vec![json!("pwd"), json!("/tmp")], json!({}));
        assert_eq!(a.str("cwd").as_deref(), Some("/tmp"));
        let opts = CmdOpts::parse(&a, Kind::Run).expect("opts");
        assert_eq!(opts.output, OutputMode::Merged);
        let all = CmdOpts::parse(&args(Kind::All, vec![json!("pwd")], json!({})), Kind::All)
            .expect("opts");
        assert_eq!(all.output, OutputMode::Separate);
    }

    #[test]
    fn umask_is_octal_and_never_zero() {
        assert_eq!(parse_umask(Some(&"022".into())).expect("umask"), Some(0o22));
        assert_eq!(parse_umask(Some(&"27".into())).expect("umask"), Some(0o27));
        assert!(
            matches!(parse_umask(Some(&"000".into())), Err(FnError::Execution(m)) if m == "Zero umask is not allowed.")
        );
        assert!(
            matches!(parse_umask(Some(&"9".into())), Err(FnError::Execution(m)) if m == "Invalid umask: '9'")
        );
    }

    #[test]
    fn env_lists_are_repacked_and_env0_parsed() {
        let env = parse_env(Some(&json!([{"A": "1"}, {"B": 2}])));
        assert_eq!(json!(env), json!({"A": "1", "B": 2}));
        assert!(parse_env(Some(&json!("A=1"))).is_empty());
        assert_eq!(
            parse_env0("HOME=/root\0PATH=/bin:/usr/bin\0X=a=b\0"),
            vec![
                ("HOME".to_string(), "/root".to_string()),
                ("PATH".to_string(), "/bin:/usr/bin".to_string()),
                ("X".to_string(), "a=b".to_string())
            ]
        );
    }

    #[test]
    fn command_lines_with_and_without_a_shell() {
        let mut opts = CmdOpts::parse(
            &args(
                Kind::Run,
                vec![json!("echo 'a b' | cat")],
                json!({"python_shell": true, "shell": "/bin/sh"}),
            ),
            Kind::Run,
        )
        .expect("opts");
        assert_eq!(
            command_line(&opts).expect("argv"),
            (
                "/bin/sh".to_string(),
                vec!["-c".to_string(), "echo 'a b' | cat".to_string()]
            )
        );
        opts.python_shell = false;
        assert_eq!(
            command_line(&opts).expect("argv"),
            (
                "echo".to_string(),
                vec!["a b".to_string(), "|".to_string(), "cat".to_string()]
            )
        );
    }

    #[test]
    fn timeouts_and_success_codes() {
        assert_eq!(
            parse_timeout(Some(&json!(2))).expect("t"),
            Some(Duration::from_secs(2))
        );
        assert_eq!(parse_timeout(Some(&json!(0))).expect("t"), None);
        assert!(parse_timeout(Some(&json!("soon"))).is_err());
        assert_eq!(
            success_retcodes(Some(&json!("1, 2"))).expect("codes"),
            vec![1, 2]
        );
        assert!(success_retcodes(Some(&json!(["x"]))).is_err());
        let opts = CmdOpts::parse(
            &args(
                Kind::All,
                vec![json!("false")],
                json!({"success_retcodes": [1], "timeout": 3}),
            ),
            Kind::All,
        )
        .expect("opts");
        let r = to_result(
            &opts,
            Finished {
                pid: 7,
                returncode: Some(1),
                stdout: b"out \n".to_vec(),
                stderr: Vec::new(),
                timed_out: false,
            },
        );
        assert_eq!(
            (r.retcode, r.context_retcode, r.stdout.as_str()),
            (Some(0), 0, "out")
        );
        let t = to_result(
            &opts,
            Finished {
                pid: 7,
                returncode: Some(-9),
                stdout: Vec::new(),
                stderr: Vec::new(),
                timed_out: true,
            },
        );
        assert_eq!(t.stdout, "['false'] : Timed out after 3 seconds");
        assert_eq!(
            t.to_dict(),
            json!({"stdout": "['false'] : Timed out after 3 seconds", "stderr": "", "retcode": 1, "pid": 7})
        );
    }
}
