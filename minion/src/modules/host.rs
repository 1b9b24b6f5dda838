//! Shared helpers for the execution modules that act on the host (`pkg`,
//! `service`, `user`, `cron`, ...): running a host command, and reading
//! Salt-style arguments.
//!
//! Commands are built from a program and its arguments (never a shell
//! string), run on tokio's process driver so the async threads never block,
//! get no stdin unless given one, run with the C locale so their output parses
//! the same everywhere, and are killed if the job is aborted. A failure names
//! the command, its exit code and its stderr.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brine_common::functions::{Call, FnError};
use brine_common::truth::salt_is_true;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// How long to keep reading a finished command's pipes: a daemon it started
/// may have inherited them and keep them open forever.
const PIPE_GRACE: Duration = Duration::from_millis(500);

/// A host command to run.
#[derive(Debug, Clone)]
pub struct HostCmd {
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
    timeout: Option<Duration>,
    cwd: Option<PathBuf>,
}

/// What a finished command produced.
#[derive(Debug, Clone, PartialEq)]
pub struct CmdOutput {
    /// The command as a shell user would type it (for messages).
    pub command: String,
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CmdOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// "`cmd` exited with code 3: <stderr or stdout>".
    pub fn failure_message(&self) -> String {
        let status = match self.code {
            Some(c) => format!("exited with code {c}"),
            None => "was killed by a signal".to_string(),
        };
        let detail = if self.stderr.trim().is_empty() {
            self.stdout.trim()
        } else {
            self.stderr.trim()
        };
        if detail.is_empty() {
            format!("`{}` {status}", self.command)
        } else {
            format!("`{}` {status}: {detail}", self.command)
        }
    }

    /// stdout and stderr together, as Salt's `cmd.run` returns them.
    pub fn combined(&self) -> String {
        let out = self.stdout.trim_end();
        let err = self.stderr.trim_end();
        match (out.is_empty(), err.is_empty()) {
            (_, true) => out.to_string(),
            (true, false) => err.to_string(),
            (false, false) => format!("{out}\n{err}"),
        }
    }
}

impl HostCmd {
    pub fn new(program: &str) -> Self {
        HostCmd {
            program: program.to_string(),
            args: Vec::new(),
            env: vec![("LC_ALL".into(), "C".into()), ("LANG".into(), "C".into())],
            stdin: None,
            timeout: None,
            cwd: None,
        }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(data.into());
        self
    }

    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// Run in this directory (else the minion's own working directory).
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    pub fn program(&self) -> &str {
        &self.program
    }

    pub fn argv(&self) -> &[String] {
        &self.args
    }

    /// The command line, quoted where a shell would need it.
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .map(shell_quote)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Run to completion. Only failing to start (or the timeout) is an
    /// error; a non-zero exit is in the output.
    pub async fn output(&self) -> Result<CmdOutput, FnError> {
        let program = which(&self.program).ok_or_else(|| {
            FnError::Execution(format!(
                "cannot run `{}`: command '{}' not found",
                self.display(),
                self.program
            ))
        })?;
        let mut cmd = tokio::process::Command::new(&program);
        cmd.args(&self.args)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        tracing::debug!(command = %self.display(), "running host command");
        let run = self.run(cmd);
        match self.timeout {
            None => run.await,
            Some(limit) => tokio::time::timeout(limit, run).await.map_err(|_| {
                FnError::Execution(format!(
                    "`{}` did not finish within {} seconds",
                    self.display(),
                    limit.as_secs_f64()
                ))
            })?,
        }
    }

    /// Run and require exit code 0; the error names the command, the exit
    /// code and stderr.
    pub async fn checked(&self) -> Result<CmdOutput, FnError> {
        let out = self.output().await?;
        if out.success() {
            Ok(out)
        } else {
            Err(FnError::Execution(out.failure_message()))
        }
    }

    async fn run(&self, mut cmd: tokio::process::Command) -> Result<CmdOutput, FnError> {
        let mut child = cmd
            .spawn()
            .map_err(|e| FnError::Execution(format!("cannot run `{}`: {e}", self.display())))?;
        if let (Some(data), Some(mut pipe)) = (self.stdin.clone(), child.stdin.take()) {
            tokio::spawn(async move {
                // A command that exits without reading its input is not an error here.
                let _ = pipe.write_all(&data).await;
            });
        }
        let stdout = collect(child.stdout.take());
        let stderr = collect(child.stderr.take());
        let status = child.wait().await.map_err(|e| {
            FnError::Execution(format!("cannot wait for `{}`: {e}", self.display()))
        })?;
        let (stdout, stderr) = (stdout.finish().await, stderr.finish().await);
        Ok(CmdOutput {
            command: self.display(),
            code: status.code(),
            stdout,
            stderr,
        })
    }
}

/// A pipe being read in the background into a shared buffer.
struct Collector {
    buf: Arc<Mutex<Vec<u8>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

fn collect<R: AsyncRead + Unpin + Send + 'static>(pipe: Option<R>) -> Collector {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let task = pipe.map(|mut pipe| {
        let buf = buf.clone();
        tokio::spawn(async move {
            let mut chunk = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                buf.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(&chunk[..n]);
            }
        })
    });
    Collector { buf, task }
}

impl Collector {
    /// What was read, waiting a little for the rest once the process exited.
    async fn finish(mut self) -> String {
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(PIPE_GRACE, task).await.is_err() {
                abort.abort();
            }
        }
        let bytes = self.buf.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Run blocking work (file reads, NSS look-ups) off the async threads.
pub async fn blocking<T, F>(work: F) -> Result<T, FnError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, FnError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| FnError::Exception(format!("the blocking task failed: {e}")))?
}

pub use brine_common::path::which;

/// Quote a word for display the way a POSIX shell would need it.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

// ---------------------------------------------------------------------------
// Salt-style arguments

/// A boolean parameter as Salt's `is_true` reads it (absent: `default`).
pub fn bool_param(call: &Call, index: usize, name: &str, default: bool) -> bool {
    call.param(index, name).map_or(default, salt_is_true)
}

/// A value as the text Python's `str()` would give for a scalar; `None` for
/// null.
pub fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(true) => Some("True".into()),
        Value::Bool(false) => Some("False".into()),
        other => Some(other.to_string()),
    }
}

/// A keyword-only integer parameter (Salt functions read many of these from
/// `**kwargs`).
pub fn kwarg_int(call: &Call, name: &str, default: i64) -> Result<i64, FnError> {
    match call.kwargs.get(name) {
        None | Some(Value::Null) => Ok(default),
        // No position reaches usize::MAX: this reads the keyword.
        Some(_) => call.int_param(usize::MAX, name, Some(default)),
    }
}

/// An optional text parameter (null counts as absent).
pub fn str_param(call: &Call, index: usize, name: &str) -> Option<String> {
    call.param(index, name).and_then(value_text)
}

/// A required text parameter.
pub fn required_str(call: &Call, index: usize, name: &str) -> Result<String, FnError> {
    str_param(call, index, name)
        .ok_or_else(|| FnError::Invocation(format!("missing required argument '{name}'")))
}

/// A list given as a list or as a comma-separated string (Salt's
/// `split_input`).
pub fn list_value(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().filter_map(value_text).collect(),
        Value::Null => Vec::new(),
        other => value_text(other)
            .map(|s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// A name that goes into a command's arguments: refuse what a command would
/// read as an option or a path.
pub fn check_name(kind: &str, name: &str) -> Result<(), FnError> {
    if name.is_empty() || name.starts_with('-') || name.contains(['/', '\0', '\n']) {
        return Err(FnError::Invocation(format!("invalid {kind} name {name:?}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn runs_commands_and_reports_failures() {
        let out = HostCmd::new("sh")
            .args(["-c", "echo out; echo err >&2; exit 3"])
            .output()
            .await
            .expect("sh runs");
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
        assert_eq!(
            out.failure_message(),
            "`sh -c 'echo out; echo err >&2; exit 3'` exited with code 3: err"
        );
        let err = HostCmd::new("false")
            .checked()
            .await
            .expect_err("false fails");
        assert_eq!(err, FnError::Execution("`false` exited with code 1".into()));
        let err = HostCmd::new("no-such-program-brine")
            .output()
            .await
            .expect_err("missing");
        assert!(
            err.to_string()
                .contains("command 'no-such-program-brine' not found")
        );
    }

    #[tokio::test]
    async fn feeds_stdin_and_times_out() {
        let out = HostCmd::new("cat")
            .stdin("hello")
            .checked()
            .await
            .expect("cat");
        assert_eq!(out.stdout, "hello");
        let err = HostCmd::new("sleep")
            .arg("5")
            .timeout(Duration::from_millis(100))
            .output()
            .await
            .expect_err("timeout");
        assert!(err.to_string().contains("did not finish within"), "{err}");
    }

    #[tokio::test]
    async fn a_daemon_holding_the_pipes_does_not_hang_the_call() {
        let start = std::time::Instant::now();
        let out = HostCmd::new("sh")
            .args(["-c", "sleep 3 & echo started"])
            .checked()
            .await
            .expect("sh");
        assert_eq!(out.stdout, "started\n");
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn lists_text_names_and_quoting() {
        assert_eq!(list_value(&json!("a, b,c")), ["a", "b", "c"]);
        assert_eq!(list_value(&json!(["a", 1])), ["a", "1"]);
        assert_eq!(value_text(&json!(1.5)).as_deref(), Some("1.5"));
        assert!(check_name("service", "--status-all").is_err());
        assert!(check_name("service", "../x").is_err());
        assert!(check_name("service", "cron").is_ok());
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
