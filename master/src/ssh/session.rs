//! One function on one roster host: connect with the system `ssh`, run
//! `brine-call --local --ssh-channel` there, copy the binary first when the
//! host lacks this version of it, answer what it asks on the channel (files,
//! pillar: `serve`) and read the JSON it sends at the end.

use std::path::Path;
use std::process::Stdio;

use brine_common::frame::{FrameError, read_frame, write_frame};
use brine_common::wire::{ChannelUp, MAX_CHANNEL_FRAME};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use super::command::{
    self, Connection, DELIMITER, DEPLOY_REQUEST, EXIT_BAD_THIN_DIR, EXIT_DEPLOY, default_thin_dir,
};
use super::roster::Entry;
use super::serve::Server;

/// How long ssh may go on once the conversation is over before it is stopped.
const AFTER_THE_END: std::time::Duration = std::time::Duration::from_secs(10);

/// The `brine-call` copied to hosts.
pub struct Thin<'a> {
    pub binary: &'a Path,
    /// Its SHA-256, hex.
    pub hash: &'a str,
}

/// What a host gave back.
#[derive(Debug, Clone, PartialEq)]
pub struct HostReturn {
    /// The function's return; for a failure before it ran, the reason.
    pub ret: Value,
    pub retcode: i64,
    /// False when the host could not be reached, the function failed or the
    /// output was not understood.
    pub success: bool,
}

impl HostReturn {
    pub(super) fn failed(ret: Value, retcode: i64) -> Self {
        HostReturn {
            ret,
            retcode,
            success: false,
        }
    }
}

/// What one ssh call printed.
pub(super) struct Output {
    pub(super) stdout: String,
    pub(super) stderr: String,
    pub(super) code: Option<i32>,
}

/// What an ssh call is fed on stdin.
pub(super) enum Stdin<'a> {
    Nothing,
    File(&'a Path),
    Bytes(&'a [u8]),
}

/// Runs `argv` (the function and its arguments) on `entry` through
/// `brine-call --local --ssh-channel`, answering its requests from `server`.
pub async fn run_function(
    connection: &Connection<'_>,
    entry: &Entry,
    thin: &Thin<'_>,
    server: &Server,
    argv: &[String],
) -> HostReturn {
    if entry.tty {
        // A terminal turns line feeds into CR LF, echoes input and takes
        // some bytes for keys: the frames would not survive it.
        let reason = "`tty: True` is for raw commands (-r) only: brine-call talks to brine-ssh \
                      over the session, which a terminal would mangle";
        return HostReturn::failed(Value::String(reason.into()), 1);
    }
    let thin_dir = entry
        .thin_dir
        .clone()
        .unwrap_or_else(|| default_thin_dir(&entry.user));
    let conf_dir = format!("{thin_dir}/ids/{}", super::id_key(&entry.id));
    let config = minion_config(entry, &conf_dir);
    let script = command::via_sh(&command::run_script(
        &thin_dir, &conf_dir, thin.hash, &config, entry.sudo, argv,
    ));
    let mut conversation = match converse(connection, entry, &script, server).await {
        Ok(conversation) => conversation,
        Err(reason) => return HostReturn::failed(Value::String(reason), 1),
    };
    if conversation.asks_for_deploy() {
        let deploy = command::via_sh(&command::deploy_script(&thin_dir, thin.hash));
        let copied = match ssh(connection, entry, &deploy, Stdin::File(thin.binary)).await {
            Ok(copied) => copied,
            Err(reason) => return HostReturn::failed(Value::String(reason), 1),
        };
        if copied.code != Some(0) {
            return connection_failure(&copied)
                .unwrap_or_else(|| shim_failure("copying brine-call failed", &copied));
        }
        conversation = match converse(connection, entry, &script, server).await {
            Ok(conversation) => conversation,
            Err(reason) => return HostReturn::failed(Value::String(reason), 1),
        };
    }
    conversation.into_return()
}

/// One run of the remote script with its channel.
struct Conversation {
    /// What `brine-call` sent at the end, if it got that far.
    done: Option<(String, i32)>,
    /// Everything else: the login shell's stdout before the delimiter,
    /// stderr, ssh's exit code.
    output: Output,
}

impl Conversation {
    fn asks_for_deploy(&self) -> bool {
        self.done.is_none()
            && self.output.code == Some(EXIT_DEPLOY)
            && self
                .output
                .stdout
                .lines()
                .any(|line| line.trim_end() == DEPLOY_REQUEST)
    }

    /// `brine-call --out json` printed `{"local": <return>}`; its exit code
    /// is the function's retcode (`--retcode-passthrough`).
    fn into_return(self) -> HostReturn {
        let Some((printed, retcode)) = self.done else {
            if let Some(failure) = connection_failure(&self.output) {
                return failure;
            }
            return shim_failure("brine-call did not finish", &self.output);
        };
        let retcode = i64::from(retcode);
        match serde_json::from_str::<Value>(printed.trim()) {
            Ok(Value::Object(mut map)) if map.contains_key("local") => HostReturn {
                ret: map.remove("local").unwrap_or(Value::Null),
                retcode,
                success: retcode == 0,
            },
            _ => HostReturn::failed(
                json!({
                    "stdout": printed,
                    "stderr": after_delimiter(&self.output.stderr).unwrap_or(&self.output.stderr).trim(),
                    "retcode": retcode,
                    "_error": "Failed to return clean data",
                }),
                retcode.max(1),
            ),
        }
    }
}

/// Starts the remote script and, once it has printed the delimiter,
/// answers the frames `brine-call` sends until it sends its output.
async fn converse(
    connection: &Connection<'_>,
    entry: &Entry,
    script: &str,
    server: &Server,
) -> Result<Conversation, String> {
    let mut child = Command::new("ssh")
        .args(connection.args(entry, script))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run ssh: {e}"))?;
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err("ssh started without its pipes".into());
    };
    let stderr = tokio::spawn(read_all(stderr));
    let mut reader = BufReader::new(stdout);
    let (preamble, started) = read_preamble(&mut reader).await;
    let mut done = None;
    let mut grains = Map::new();
    if started {
        loop {
            match read_frame::<_, ChannelUp>(&mut reader, MAX_CHANNEL_FRAME).await {
                Ok(ChannelUp::Request(request)) => {
                    let reply = server.answer(&entry.id, &mut grains, request).await;
                    if write_frame(&mut stdin, &reply).await.is_err() {
                        break;
                    }
                }
                Ok(ChannelUp::Done { output, retcode }) => {
                    done = Some((output, retcode));
                    break;
                }
                Err(FrameError::Closed) => break,
                Err(e) => {
                    tracing::warn!("{}: the channel broke: {e}", entry.id);
                    break;
                }
            }
        }
    }
    drop(stdin);
    // What is left on stdout after the output frame is nobody's. A process
    // the host left running can hold ssh's output open for ever: a few
    // seconds, then ssh is stopped.
    let ended = tokio::time::timeout(AFTER_THE_END, async {
        let _ = read_all(reader).await;
        child.wait().await
    })
    .await;
    let status = match ended {
        Ok(status) => status,
        Err(_) => {
            let _ = child.start_kill();
            child.wait().await
        }
    }
    .map_err(|e| format!("ssh failed: {e}"))?;
    let stderr = match tokio::time::timeout(AFTER_THE_END, stderr).await {
        Ok(Ok(text)) => text,
        _ => String::new(),
    };
    Ok(Conversation {
        done,
        output: Output {
            stdout: preamble,
            stderr,
            code: status.code(),
        },
    })
}

/// The lines before the delimiter, and whether it came.
async fn read_preamble<R: AsyncBufReadExt + Unpin>(reader: &mut R) -> (String, bool) {
    let mut preamble = String::new();
    loop {
        let mut line = Vec::new();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return (preamble, false),
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        if text.trim_end_matches(['\n', '\r']) == DELIMITER {
            return (preamble, true);
        }
        preamble.push_str(&text);
    }
}

async fn read_all<R: AsyncRead + Unpin>(mut reader: R) -> String {
    let mut bytes = Vec::new();
    let _ = reader.read_to_end(&mut bytes).await;
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Runs `command` as the login shell's command line on the host (`-r`):
/// Salt's raw return, `stdout`, `stderr` and `retcode`.
pub async fn run_raw(connection: &Connection<'_>, entry: &Entry, command: &str) -> HostReturn {
    let output = match ssh(connection, entry, command, Stdin::Nothing).await {
        Ok(output) => output,
        Err(reason) => return HostReturn::failed(Value::String(reason), 1),
    };
    if let Some(failure) = connection_failure(&output) {
        return failure;
    }
    let retcode = i64::from(output.code.unwrap_or(1));
    let mut ret = json!({
        "stdout": output.stdout,
        "stderr": output.stderr.trim_end_matches('\n'),
        "retcode": retcode,
    });
    if retcode != 0 {
        ret["_error"] = json!("The command resulted in a non-zero exit code");
    }
    HostReturn {
        ret,
        retcode,
        success: retcode == 0,
    }
}

/// The config `brine-call` runs with on the host: everything under the id's
/// `conf_dir`, `salt://` and pillar from brine-ssh, the roster's
/// `minion_opts` on top.
fn minion_config(entry: &Entry, conf_dir: &str) -> String {
    let mut config = Map::new();
    config.insert("id".into(), json!(entry.id));
    let thin_dir = conf_dir;
    config.insert("root_dir".into(), json!(format!("{thin_dir}/running_data")));
    // Files and pillar come from brine-ssh, over the channel.
    config.insert("file_client".into(), json!("remote"));
    config.insert("log_level".into(), json!("quiet"));
    config.insert("log_level_logfile".into(), json!("quiet"));
    config.extend(entry.minion_opts.clone());
    // JSON is YAML: one line, no quoting rules of its own to get wrong.
    Value::Object(config).to_string()
}

/// Starts `ssh` and collects what it prints, feeding it `stdin`.
pub(super) async fn ssh(
    connection: &Connection<'_>,
    entry: &Entry,
    remote: &str,
    stdin: Stdin<'_>,
) -> Result<Output, String> {
    let mut child = Command::new("ssh")
        .args(connection.args(entry, remote))
        .stdin(match stdin {
            Stdin::Nothing => Stdio::null(),
            _ => Stdio::piped(),
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run ssh: {e}"))?;
    if let Some(mut pipe) = child.stdin.take() {
        // A host that hangs up early makes the copy fail; its exit status
        // and stderr say why, below.
        match stdin {
            Stdin::File(path) => {
                let mut file = tokio::fs::File::open(path)
                    .await
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let _ = tokio::io::copy(&mut file, &mut pipe).await;
            }
            Stdin::Bytes(bytes) => {
                let _ = pipe.write_all(bytes).await;
            }
            Stdin::Nothing => {}
        }
        let _ = pipe.shutdown().await;
        drop(pipe);
    }
    let output = child
        .wait_with_output()
        .await
        .map_err(|e| format!("ssh failed: {e}"))?;
    Ok(Output {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        code: output.status.code(),
    })
}

/// What follows the last delimiter line, if there is one.
pub(super) fn after_delimiter(text: &str) -> Option<&str> {
    let mut found = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end_matches(['\n', '\r']) == DELIMITER {
            found = Some(offset + line.len());
        }
        offset += line.len();
    }
    found.map(|at| &text[at..])
}

/// ssh itself failed (exit 255: no connection, authentication refused, an
/// unknown or changed host key): its message is the return, as Salt prints it.
pub(super) fn connection_failure(output: &Output) -> Option<HostReturn> {
    (output.code == Some(255) && after_delimiter(&output.stderr).is_none()).then(|| {
        let message = output
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        HostReturn::failed(Value::String(message), 255)
    })
}

/// The remote script failed before `brine-call` ran.
pub(super) fn shim_failure(what: &str, output: &Output) -> HostReturn {
    let code = output.code.unwrap_or(1);
    // What the login shell printed before the delimiter is not the error.
    let stderr = after_delimiter(&output.stderr)
        .unwrap_or(&output.stderr)
        .trim();
    let message = if code == EXIT_BAD_THIN_DIR {
        stderr.to_owned()
    } else {
        format!("ERROR: {what}: {stderr}")
    };
    HostReturn::failed(
        json!({
            "stdout": output.stdout,
            "stderr": message,
            "retcode": code,
            "_error": "The command resulted in a non-zero exit code",
        }),
        i64::from(code),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversation(
        done: Option<(&str, i32)>,
        stdout: &str,
        stderr: &str,
        code: i32,
    ) -> Conversation {
        Conversation {
            done: done.map(|(text, code)| (text.to_owned(), code)),
            output: Output {
                stdout: stdout.into(),
                stderr: stderr.into(),
                code: Some(code),
            },
        }
    }

    #[test]
    fn the_return_is_what_brine_call_sent() {
        let ret = conversation(Some(("{\"local\": true}", 0)), "Welcome!\n", "", 0).into_return();
        assert_eq!(
            ret,
            HostReturn {
                ret: json!(true),
                retcode: 0,
                success: true
            }
        );
        let failed = conversation(Some(("{\"local\": \"\"}", 3)), "", "", 3).into_return();
        assert_eq!((failed.retcode, failed.success), (3, false));
    }

    #[test]
    fn ssh_errors_are_returned_as_its_message() {
        let ret = conversation(None, "", "Host key verification failed.\r\n", 255).into_return();
        assert_eq!(ret.ret, json!("Host key verification failed."));
        assert!(!ret.success);
    }

    #[test]
    fn a_deploy_request_is_its_own_line_and_exit_code() {
        assert!(conversation(None, &format!("motd\n{DEPLOY_REQUEST}\n"), "", 11).asks_for_deploy());
        assert!(!conversation(None, "deploy\n", "", 11).asks_for_deploy());
        assert!(!conversation(None, &format!("{DEPLOY_REQUEST}\n"), "", 1).asks_for_deploy());
    }

    #[tokio::test]
    async fn the_preamble_ends_at_the_delimiter() {
        let text = format!("banner\r\n{DELIMITER}\r\nrest");
        let mut reader = BufReader::new(text.as_bytes());
        let (preamble, started) = read_preamble(&mut reader).await;
        assert_eq!((preamble.as_str(), started), ("banner\r\n", true));
        let mut rest = String::new();
        let _ = reader.read_to_string(&mut rest).await;
        assert_eq!(rest, "rest");
    }
}
