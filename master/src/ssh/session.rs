//! One function on one roster host: connect with the system `ssh`, run
//! `brine-call --local` there, copy the binary first when the host lacks
//! this version of it, and read the JSON it prints.

use std::path::Path;
use std::process::Stdio;

use serde_json::{Map, Value, json};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::command::{
    self, Connection, DELIMITER, EXIT_BAD_THIN_DIR, EXIT_DEPLOY, default_thin_dir,
};
use super::roster::Entry;

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
    fn failed(ret: Value, retcode: i64) -> Self {
        HostReturn {
            ret,
            retcode,
            success: false,
        }
    }
}

/// What one ssh call printed.
struct Output {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

/// Runs `argv` (the function and its arguments) on `entry` through
/// `brine-call --local`.
pub async fn run_function(
    connection: &Connection<'_>,
    entry: &Entry,
    thin: &Thin<'_>,
    argv: &[String],
) -> HostReturn {
    let thin_dir = entry
        .thin_dir
        .clone()
        .unwrap_or_else(|| default_thin_dir(&entry.user));
    let conf_dir = format!("{thin_dir}/ids/{}", id_dir(&entry.id));
    let config = minion_config(entry, &conf_dir);
    let script = command::run_script(&thin_dir, &conf_dir, thin.hash, &config, entry.sudo, argv);
    let mut output = match ssh(connection, entry, &script, None).await {
        Ok(output) => output,
        Err(reason) => return HostReturn::failed(Value::String(reason), 1),
    };
    if asks_for_deploy(&output) {
        let deploy = command::deploy_script(&thin_dir, thin.hash);
        let copied = match ssh(connection, entry, &deploy, Some(thin.binary)).await {
            Ok(copied) => copied,
            Err(reason) => return HostReturn::failed(Value::String(reason), 1),
        };
        if copied.code != Some(0) {
            return connection_failure(&copied)
                .unwrap_or_else(|| shim_failure("copying brine-call failed", &copied));
        }
        output = match ssh(connection, entry, &script, None).await {
            Ok(output) => output,
            Err(reason) => return HostReturn::failed(Value::String(reason), 1),
        };
    }
    function_return(&output)
}

/// Runs `command` as the login shell's command line on the host (`-r`):
/// Salt's raw return, `stdout`, `stderr` and `retcode`.
pub async fn run_raw(connection: &Connection<'_>, entry: &Entry, command: &str) -> HostReturn {
    let output = match ssh(connection, entry, command, None).await {
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

/// The directory of one roster id under `thin_dir`: a hash, since an id may
/// hold any character.
fn id_dir(id: &str) -> String {
    brine_common::fileroots::sha256_hex(id.as_bytes())[..16].to_owned()
}

/// The config `brine-call` runs with on the host: everything under the id's
/// `conf_dir`, the roster's `minion_opts` on top.
fn minion_config(entry: &Entry, conf_dir: &str) -> String {
    let mut config = Map::new();
    config.insert("id".into(), json!(entry.id));
    let thin_dir = conf_dir;
    config.insert("root_dir".into(), json!(format!("{thin_dir}/running_data")));
    config.insert("file_client".into(), json!("local"));
    config.insert(
        "file_roots".into(),
        json!({"base": [format!("{thin_dir}/running_data/srv/salt")]}),
    );
    config.insert(
        "pillar_roots".into(),
        json!({"base": [format!("{thin_dir}/running_data/srv/pillar")]}),
    );
    config.insert("log_level".into(), json!("quiet"));
    config.insert("log_level_logfile".into(), json!("quiet"));
    config.extend(entry.minion_opts.clone());
    // JSON is YAML: one line, no quoting rules of its own to get wrong.
    Value::Object(config).to_string()
}

/// Starts `ssh` and collects what it prints; `stdin_file` is fed to it.
async fn ssh(
    connection: &Connection<'_>,
    entry: &Entry,
    remote: &str,
    stdin_file: Option<&Path>,
) -> Result<Output, String> {
    let mut child = Command::new("ssh")
        .args(connection.args(entry, remote))
        .stdin(if stdin_file.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run ssh: {e}"))?;
    if let (Some(path), Some(mut stdin)) = (stdin_file, child.stdin.take()) {
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        // A host that hangs up early makes the copy fail; its exit status
        // and stderr say why, below.
        let _ = tokio::io::copy(&mut file, &mut stdin).await;
        let _ = stdin.shutdown().await;
        drop(stdin);
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

/// The remote script's request for the binary.
fn asks_for_deploy(output: &Output) -> bool {
    output.code == Some(EXIT_DEPLOY)
        && after_delimiter(&output.stdout).is_some_and(|rest| rest.trim() == "deploy")
}

/// What follows the last delimiter line, if there is one.
fn after_delimiter(text: &str) -> Option<&str> {
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
fn connection_failure(output: &Output) -> Option<HostReturn> {
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
fn shim_failure(what: &str, output: &Output) -> HostReturn {
    let code = output.code.unwrap_or(1);
    let message = if code == EXIT_BAD_THIN_DIR {
        output.stderr.trim().to_owned()
    } else {
        format!("ERROR: {what}: {}", output.stderr.trim())
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

/// `brine-call --out json` printed `{"local": <return>}` after the delimiter;
/// its exit code is the function's retcode (`--retcode-passthrough`).
fn function_return(output: &Output) -> HostReturn {
    if let Some(failure) = connection_failure(output) {
        return failure;
    }
    let Some(printed) = after_delimiter(&output.stdout) else {
        return shim_failure("the host did not start brine-call", output);
    };
    let retcode = i64::from(output.code.unwrap_or(1));
    match serde_json::from_str::<Value>(printed.trim()) {
        Ok(Value::Object(mut map)) if map.contains_key("local") => HostReturn {
            ret: map.remove("local").unwrap_or(Value::Null),
            retcode,
            success: retcode == 0,
        },
        _ => HostReturn::failed(
            json!({
                "stdout": printed,
                "stderr": after_delimiter(&output.stderr).unwrap_or(&output.stderr).trim(),
                "retcode": retcode,
                "_error": "Failed to return clean data",
            }),
            retcode.max(1),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(stdout: &str, stderr: &str, code: i32) -> Output {
        Output {
            stdout: stdout.into(),
            stderr: stderr.into(),
            code: Some(code),
        }
    }

    #[test]
    fn the_return_is_what_follows_the_delimiter() {
        let printed = format!("Welcome!\n{DELIMITER}\n{{\"local\": true}}\n");
        let ret = function_return(&output(&printed, &format!("{DELIMITER}\n"), 0));
        assert_eq!(
            ret,
            HostReturn {
                ret: json!(true),
                retcode: 0,
                success: true
            }
        );
        let failed = function_return(&output(&format!("{DELIMITER}\n{{\"local\": \"\"}}"), "", 3));
        assert_eq!((failed.retcode, failed.success), (3, false));
    }

    #[test]
    fn ssh_errors_are_returned_as_its_message() {
        let ret = function_return(&output("", "Host key verification failed.\r\n", 255));
        assert_eq!(ret.ret, json!("Host key verification failed."));
        assert!(!ret.success);
    }

    #[test]
    fn a_deploy_request_is_recognised_only_after_the_delimiter() {
        assert!(asks_for_deploy(&output(
            &format!("{DELIMITER}\ndeploy\n"),
            "",
            11
        )));
        assert!(!asks_for_deploy(&output("deploy\n", "", 11)));
    }
}
