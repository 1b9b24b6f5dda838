//! Helpers shared by the `cmd` and `file` modules (and any module that runs
//! host commands): binding Salt-style arguments to a Python-like signature,
//! Python's `shlex.split`, `which`, and running a child process the way
//! Salt's `cmd` module does it.
//!
//! A child runs in its own process group, registered with the job it belongs
//! to, so `saltutil.kill_job` (and a `timeout`, and a dropped job future)
//! SIGKILLs the whole group: a `sleep` started by `sh -c` dies with the shell.
//! Everything is asynchronous (`tokio::process`); nothing blocks the
//! runtime's threads.

pub use brine_common::output::python::truthy;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use brine_common::functions::{Call, FnError, Signature};
use brine_common::ids::Jid;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::{Map, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::MinionCtx;
use crate::executor::RunningJobs;

// ---------------------------------------------------------------------------
// Arguments

/// A call's arguments bound to parameter names, as Python binds them to a
/// signature: positional args fill the named parameters in order (extra ones
/// are `*args`), keyword args are looked up by name.
#[derive(Debug, Clone)]
pub struct Args {
    named: Map<String, Value>,
    /// Positional arguments beyond the named parameters (`*args`).
    pub rest: Vec<Value>,
}

impl Args {
    /// Bind `call` to the parameters of `signature` (the same text the
    /// function was registered with).
    pub fn bind(call: &Call, signature: &str) -> Args {
        Args::bind_to(call, &Signature::parse(signature).args)
    }

    /// [`bind`](Self::bind) with the signature's parameter names parsed once.
    pub fn bind_to(call: &Call, names: &[String]) -> Args {
        let mut named = Map::new();
        let mut rest = Vec::new();
        for (i, value) in call.args.iter().enumerate() {
            match names.get(i) {
                Some(name) => {
                    named.insert(name.clone(), value.clone());
                }
                None => rest.push(value.clone()),
            }
        }
        for (k, v) in &call.kwargs {
            named.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Args { named, rest }
    }

    /// The value given for `name`; `None` when absent or given as `None`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.named.get(name).filter(|v| !v.is_null())
    }

    /// The value as Python's `str()` would give it.
    pub fn str(&self, name: &str) -> Option<String> {
        self.get(name).map(py_str)
    }

    /// The value as a string, or `default`.
    pub fn str_or(&self, name: &str, default: &str) -> String {
        self.str(name).unwrap_or_else(|| default.to_string())
    }

    /// Python truthiness of the value, or `default` when absent.
    pub fn bool(&self, name: &str, default: bool) -> bool {
        self.named.get(name).map(truthy).unwrap_or(default)
    }

    /// Every named and keyword argument.
    pub fn named(&self) -> &Map<String, Value> {
        &self.named
    }

    /// True when the parameter was given at all (even as `None`).
    pub fn given(&self, name: &str) -> bool {
        self.named.contains_key(name)
    }

    /// The value as an integer (Python's `int()`), or `default`.
    pub fn int(&self, name: &str, default: i64) -> Result<i64, FnError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => to_int(v).ok_or_else(|| {
                FnError::Invocation(format!(
                    "argument '{name}' must be an integer, not {}",
                    brine_common::output::python::repr(v)
                ))
            }),
        }
    }
}

/// Python's `str()` of a value.
pub fn py_str(v: &Value) -> String {
    brine_common::output::python::to_str(v)
}

/// Python's `int()` of a number or a numeric string.
pub fn to_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// shlex

/// Why [`shlex_split`] refused a string (Python's `ValueError` messages).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShlexError {
    #[error("No closing quotation")]
    NoClosingQuotation,
    #[error("No escaped character")]
    NoEscapedCharacter,
}

/// Python's `shlex` whitespace.
const SHLEX_WHITESPACE: &str = " \t\r\n";

/// Python's `shlex.split(s)` (POSIX mode, no comments), as Salt uses it to
/// turn a command string into an argument vector when no shell is wanted.
pub fn shlex_split(s: &str) -> Result<Vec<String>, ShlexError> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Space,
        Word,
        Quote(char),
        Escape(Option<char>),
    }
    let mut words = Vec::new();
    let mut token = String::new();
    let mut quoted = false;
    let mut state = State::Space;
    for c in s.chars() {
        state = match state {
            State::Space | State::Word if SHLEX_WHITESPACE.contains(c) => {
                if state == State::Word || quoted {
                    words.push(std::mem::take(&mut token));
                    quoted = false;
                }
                State::Space
            }
            State::Space | State::Word if c == '\\' => State::Escape(None),
            State::Space | State::Word if c == '\'' || c == '"' => {
                quoted = true;
                State::Quote(c)
            }
            State::Space | State::Word => {
                token.push(c);
                State::Word
            }
            State::Quote(q) if c == q => State::Word,
            State::Quote('"') if c == '\\' => State::Escape(Some('"')),
            State::Quote(q) => {
                token.push(c);
                State::Quote(q)
            }
            State::Escape(inside) => {
                // Inside double quotes a backslash only escapes `\` and `"`.
                if inside.is_some() && c != '\\' && c != '"' {
                    token.push('\\');
                }
                token.push(c);
                inside.map_or(State::Word, State::Quote)
            }
        };
    }
    match state {
        State::Quote(_) => Err(ShlexError::NoClosingQuotation),
        State::Escape(_) => Err(ShlexError::NoEscapedCharacter),
        State::Word => {
            words.push(token);
            Ok(words)
        }
        State::Space => {
            if quoted {
                words.push(token);
            }
            Ok(words)
        }
    }
}

// ---------------------------------------------------------------------------
// which

pub use brine_common::path::{is_executable, which, which_in};

// ---------------------------------------------------------------------------
// Running a child process

/// Where a child's output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// stdout and stderr captured separately.
    Separate,
    /// stderr sent into stdout (Salt's `stderr=subprocess.STDOUT`), so the
    /// two interleave as the program wrote them.
    Merged,
    /// Not captured, and not waited for (Salt's `bg=True`).
    Background,
}

/// The user a child runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// What to run and how.
#[derive(Debug, Clone)]
pub struct Spawn {
    pub program: String,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    /// The complete environment of the child.
    pub env: Vec<(String, String)>,
    pub runas: Option<RunAs>,
    /// The umask the child starts with.
    pub umask: Option<u32>,
    /// Bytes for the child's stdin (`None`: /dev/null).
    pub stdin: Option<Vec<u8>>,
    pub output: OutputMode,
    pub timeout: Option<Duration>,
}

impl Spawn {
    /// Run `program` with `args` in `cwd` with the minion's environment.
    pub fn new(program: impl Into<String>, args: Vec<String>) -> Spawn {
        Spawn {
            program: program.into(),
            args,
            cwd: PathBuf::from("/"),
            env: minion_env(),
            runas: None,
            umask: None,
            stdin: None,
            output: OutputMode::Separate,
            timeout: None,
        }
    }
}

/// The minion's own environment (variables that are not UTF-8 are left out).
pub fn minion_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// How a child ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub pid: u32,
    /// Python's `returncode`: the exit code, or `-signal` when killed;
    /// `None` for a background child.
    pub returncode: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The timeout ran out and the process group was killed.
    pub timed_out: bool,
}

/// The process group of a child, killed when the guard drops before the
/// child finished (timeout, job killed or aborted), and registered with its
/// job for `saltutil.kill_job` meanwhile.
struct GroupGuard {
    pgid: i32,
    job: Option<(Arc<RunningJobs>, Jid)>,
    armed: bool,
}

impl GroupGuard {
    fn new(pgid: i32, ctx: &MinionCtx) -> GroupGuard {
        let job = ctx.jid.clone().map(|jid| (ctx.running.clone(), jid));
        if let Some((running, jid)) = &job {
            running.add_process_group(jid, pgid);
        }
        GroupGuard {
            pgid,
            job,
            armed: true,
        }
    }

    fn kill(&self) {
        // Never signal group 0 (our own) or a negative id.
        if self.pgid <= 0 {
            return;
        }
        if let Err(e) = killpg(Pid::from_raw(self.pgid), Signal::SIGKILL) {
            tracing::debug!(pgid = self.pgid, "process group already gone: {e}");
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            self.kill();
        }
        if let Some((running, jid)) = &self.job {
            running.remove_process_group(jid, self.pgid);
        }
    }
}

/// The shell snippet that sets the umask and then becomes the real command;
/// the umask and the command arrive as positional parameters, never as text.
const UMASK_WRAPPER: &str = "umask \"$1\" && shift && exec \"$@\"";

/// Where `setpriv` (util-linux) lives, to give a `runas` child its user's
/// supplementary groups (`std` cannot call `initgroups` without `unsafe`).
fn setpriv() -> Option<PathBuf> {
    ["/usr/bin/setpriv", "/bin/setpriv"]
        .iter()
        .map(PathBuf::from)
        .find(|p| is_executable(p))
}

/// The argument vector to execute: the command, wrapped to set the umask and
/// to switch user when asked.
fn argv(spec: &Spawn, setpriv: Option<&Path>) -> Vec<String> {
    let mut argv = vec![spec.program.clone()];
    argv.extend(spec.args.iter().cloned());
    if let Some(mask) = spec.umask {
        let mut wrapped = vec![
            "/bin/sh".to_string(),
            "-c".to_string(),
            UMASK_WRAPPER.to_string(),
            "sh".to_string(),
            format!("{mask:04o}"),
        ];
        wrapped.extend(argv);
        argv = wrapped;
    }
    if let (Some(user), Some(setpriv)) = (&spec.runas, setpriv) {
        let mut wrapped = vec![
            setpriv.display().to_string(),
            format!("--reuid={}", user.uid),
            format!("--regid={}", user.gid),
            "--init-groups".to_string(),
            "--".to_string(),
        ];
        wrapped.extend(argv);
        argv = wrapped;
    }
    argv
}

/// A "not found" error like the one `execvp` gives, checked up front when
/// the command goes through a wrapper (which would only exit 127).
fn check_program(spec: &Spawn) -> io::Result<()> {
    let path_var = spec
        .env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str());
    let found = if spec.program.contains('/') {
        let p = spec.cwd.join(&spec.program);
        p.exists()
    } else {
        path_var
            .unwrap_or("/usr/local/bin:/usr/bin:/bin")
            .split(':')
            .any(|d| Path::new(d).join(&spec.program).is_file())
    };
    if found {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(nix::libc::ENOENT))
    }
}

fn command(spec: &Spawn) -> io::Result<tokio::process::Command> {
    let wrapper = setpriv();
    let argv = argv(spec, wrapper.as_deref());
    if argv.len() != spec.args.len() + 1 {
        check_program(spec)?;
    }
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(&spec.cwd)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .process_group(0)
        .kill_on_drop(false);
    if let (Some(user), None) = (&spec.runas, &wrapper) {
        // No setpriv: switch user directly (std drops supplementary groups).
        cmd.uid(user.uid).gid(user.gid);
    }
    cmd.stdin(if spec.stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    Ok(cmd)
}

/// Run a child to completion (or to its timeout); see the module docs.
pub async fn run(ctx: &MinionCtx, spec: &Spawn) -> io::Result<Finished> {
    let mut cmd = command(spec)?;
    match spec.output {
        OutputMode::Background => run_background(cmd).await,
        OutputMode::Separate => {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            run_captured(ctx, spec, cmd, None).await
        }
        OutputMode::Merged => {
            let (reader, writer) = io::pipe()?;
            let writer2 = writer.try_clone()?;
            cmd.stdout(writer).stderr(writer2);
            let reader = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(reader))?;
            run_captured(ctx, spec, cmd, Some(reader)).await
        }
    }
}

async fn run_background(mut cmd: tokio::process::Command) -> io::Result<Finished> {
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let child = cmd.spawn()?;
    // Tokio reaps the child when it exits; nobody waits for it here.
    Ok(Finished {
        pid: child.id().unwrap_or_default(),
        returncode: None,
        stdout: Vec::new(),
        stderr: Vec::new(),
        timed_out: false,
    })
}

async fn run_captured(
    ctx: &MinionCtx,
    spec: &Spawn,
    mut cmd: tokio::process::Command,
    merged: Option<tokio::net::unix::pipe::Receiver>,
) -> io::Result<Finished> {
    let mut child = cmd.spawn()?;
    // The command holds the write ends of the merged pipe: drop it so the
    // reader sees EOF once the child and its descendants are done.
    drop(cmd);
    let pid = child.id().unwrap_or_default();
    let mut guard = GroupGuard::new(pid as i32, ctx);
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let input = spec.stdin.clone().unwrap_or_default();
    let work = async {
        let feed = async {
            if let Some(mut s) = stdin {
                // A child that exits without reading its input is fine.
                let _ = s.write_all(&input).await;
            }
        };
        let (_, out, err) = tokio::join!(feed, read_all(stdout, merged), read_all(stderr, None));
        let status = child.wait().await?;
        io::Result::Ok((status, out?, err?))
    };
    let outcome = match spec.timeout {
        Some(limit) => tokio::time::timeout(limit, work).await.ok(),
        None => Some(work.await),
    };
    match outcome {
        Some(done) => {
            let (status, stdout, stderr) = done?;
            guard.armed = false;
            Ok(Finished {
                pid,
                returncode: Some(returncode(status)),
                stdout,
                stderr,
                timed_out: false,
            })
        }
        None => {
            guard.kill();
            guard.armed = false;
            // Reap it; the group is dead, so this is immediate.
            let status = child.wait().await.ok();
            Ok(Finished {
                pid,
                returncode: status.map(returncode),
                stdout: Vec::new(),
                stderr: Vec::new(),
                timed_out: true,
            })
        }
    }
}

async fn read_all<R: AsyncRead + Unpin>(
    pipe: Option<R>,
    merged: Option<tokio::net::unix::pipe::Receiver>,
) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if let Some(mut r) = merged {
        r.read_to_end(&mut buf).await?;
    } else if let Some(mut r) = pipe {
        r.read_to_end(&mut buf).await?;
    }
    Ok(buf)
}

/// Python's `Popen.returncode`: the exit code, or minus the signal number.
fn returncode(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| -s))
        .unwrap_or(-1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn split(s: &str) -> Vec<String> {
        shlex_split(s).expect("split")
    }

    #[test]
    fn shlex_matches_python() {
        assert_eq!(split("echo  hello world"), ["echo", "hello", "world"]);
        assert_eq!(split("a 'b c' \"d e\""), ["a", "b c", "d e"]);
        assert_eq!(split("a'b c'd"), ["ab cd"]);
        assert_eq!(split("'' x"), ["", "x"]);
        assert_eq!(split(r#"a\ b"#), ["a b"]);
        assert_eq!(split(r#""a\"b" "c\d" 'e\f'"#), [r#"a"b"#, r"c\d", r"e\f"]);
        assert_eq!(
            split("echo # not a comment"),
            ["echo", "#", "not", "a", "comment"]
        );
        assert_eq!(split("   "), Vec::<String>::new());
        assert_eq!(shlex_split("'open"), Err(ShlexError::NoClosingQuotation));
        assert_eq!(shlex_split("end\\"), Err(ShlexError::NoEscapedCharacter));
    }

    #[test]
    fn args_bind_like_python() {
        let call = Call {
            fun: "x.y".into(),
            args: vec![json!("/a"), json!(1), json!("extra")],
            kwargs: [("c".to_string(), json!(true)), ("b".to_string(), json!(9))]
                .into_iter()
                .collect(),
        };
        let a = Args::bind(&call, "a, b=None, *args, **kwargs");
        assert_eq!(a.str("a").as_deref(), Some("/a"));
        assert_eq!(a.int("b", 0).expect("int"), 1);
        assert!(a.bool("c", false));
        assert_eq!(a.rest, vec![json!("extra")]);
        assert!(!a.bool("missing", false));
    }

    #[test]
    fn truthiness_is_pythons() {
        for v in [
            json!(null),
            json!(false),
            json!(0),
            json!(""),
            json!([]),
            json!({}),
        ] {
            assert!(!truthy(&v), "{v}");
        }
        for v in [json!(true), json!(2), json!("x"), json!([0])] {
            assert!(truthy(&v), "{v}");
        }
    }

    #[test]
    fn which_finds_sh() {
        assert!(which("sh").is_some());
        assert_eq!(which("no-such-program-brine"), None);
        assert_eq!(which_in("/bin/sh", None), Some(PathBuf::from("/bin/sh")));
    }

    #[test]
    fn wrappers_carry_umask_and_user_as_arguments() {
        let mut spec = Spawn::new("ls", vec!["-l".into()]);
        spec.umask = Some(0o27);
        spec.runas = Some(RunAs {
            name: "nobody".into(),
            uid: 65534,
            gid: 65534,
        });
        let v = argv(&spec, Some(Path::new("/usr/bin/setpriv")));
        assert_eq!(
            v,
            [
                "/usr/bin/setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--init-groups",
                "--",
                "/bin/sh",
                "-c",
                UMASK_WRAPPER,
                "sh",
                "0027",
                "ls",
                "-l"
            ]
        );
    }
}
