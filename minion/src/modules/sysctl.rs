//! Salt's `sysctl` execution module (`linux_sysctl`): read kernel
//! parameters (`sysctl -a`, `sysctl -n`), set them (`sysctl -w`) and persist
//! them in a sysctl config file.

use std::path::{Path, PathBuf};

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use serde_json::{Map, Value, json};

use super::MinionCtx;
use super::host::{HostCmd, blocking, required_str, str_param, value_text};

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "sysctl.show",
        "config_file=False",
        SHOW_DOC,
        |_, call| async move { show(&call).await },
    );
    f.register("sysctl.get", "name", GET_DOC, |_, call| async move {
        let name = param_name(&call)?;
        Ok(json!(get(&name).await?).into())
    });
    f.register(
        "sysctl.assign",
        "name, value",
        ASSIGN_DOC,
        |_, call| async move {
            let name = param_name(&call)?;
            let value = value_arg(&call)?;
            Ok(Value::Object(assign(&name, &value).await?).into())
        },
    );
    f.register(
        "sysctl.persist",
        "name, value, config=None",
        PERSIST_DOC,
        |_, call| async move { persist(&call).await },
    );
    f.register(
        "sysctl.default_config",
        "",
        DEFAULT_CONFIG_DOC,
        |_, _| async { Ok(json!(default_config().display().to_string()).into()) },
    );
}

/// Where `persist` writes without a `config` argument: systemd reads
/// `/etc/sysctl.d`, older systems `/etc/sysctl.conf`.
fn default_config() -> PathBuf {
    if super::service::systemd::booted() {
        PathBuf::from("/etc/sysctl.d/99-salt.conf")
    } else {
        PathBuf::from("/etc/sysctl.conf")
    }
}

/// A parameter name: dotted words, nothing a command could take as an option.
fn param_name(call: &Call) -> Result<String, FnError> {
    let name = required_str(call, 0, "name")?;
    let ok = !name.is_empty()
        && !name.starts_with(['-', '.', '/'])
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '_' | '-' | '*' | ':'));
    if !ok {
        return Err(FnError::Invocation(format!("invalid sysctl name {name:?}")));
    }
    Ok(name)
}

fn value_arg(call: &Call) -> Result<String, FnError> {
    call.param(1, "value")
        .and_then(value_text)
        .ok_or_else(|| FnError::Invocation("missing required argument 'value'".into()))
}

async fn show(call: &Call) -> Result<FnOutput, FnError> {
    let config = match call.param(0, "config_file") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => None,
        Some(Value::Bool(true)) => Some(default_config()),
        Some(other) => value_text(other)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from),
    };
    if let Some(path) = config {
        return blocking(move || {
            if !path.exists() {
                return Ok(json!([]).into());
            }
            let text = std::fs::read_to_string(&path).map_err(|e| {
                FnError::Execution(format!(
                    "Could not open sysctl file {}: {e}",
                    path.display()
                ))
            })?;
            Ok(Value::Object(parse_config(&text)).into())
        })
        .await;
    }
    let out = HostCmd::new("sysctl").arg("-a").output().await?;
    Ok(Value::Object(parse_show(&out.stdout)).into())
}

/// `sysctl -a` lines: `name = value`.
pub fn parse_show(out: &str) -> Map<String, Value> {
    out.lines()
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect()
}

/// A sysctl config file: `name = value` (or `name=value`) lines.
pub fn parse_config(text: &str) -> Map<String, Value> {
    let mut ret = Map::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with(';') || !line.contains('=') {
            continue;
        }
        let sep = if line.contains(" = ") { " = " } else { "=" };
        if let Some((k, v)) = line.split_once(sep) {
            ret.insert(k.trim().to_string(), json!(v.trim_start()));
        }
    }
    ret
}

/// `sysctl -n name`: the value (or sysctl's message, as Salt's `cmd.run`).
async fn get(name: &str) -> Result<String, FnError> {
    let out = HostCmd::new("sysctl").args(["-n", name]).output().await?;
    Ok(out.combined())
}

/// The `/proc/sys` file of a parameter (`.` and `/` swap roles).
fn proc_path(name: &str) -> PathBuf {
    let swapped: String = name
        .chars()
        .map(|c| match c {
            '.' => '/',
            '/' => '.',
            other => other,
        })
        .collect();
    Path::new("/proc/sys").join(swapped)
}

/// `sysctl -w name=value`; `{name: value}` as sysctl reports it.
async fn assign(name: &str, value: &str) -> Result<Map<String, Value>, FnError> {
    if !proc_path(name).exists() {
        return Err(FnError::Execution(format!("sysctl {name} does not exist")));
    }
    let squeezed = value.split_whitespace().collect::<Vec<_>>().join(" ");
    let out = HostCmd::new("sysctl")
        .args(["-w".to_string(), format!("{name}={squeezed}")])
        .output()
        .await?;
    let reported = out.stdout.trim().split_once(" = ");
    match reported {
        Some((k, v)) if out.success() && !out.stderr.contains("Invalid argument") => {
            let mut ret = Map::new();
            ret.insert(k.to_string(), json!(v));
            Ok(ret)
        }
        _ => {
            let error = if !out.success() && !out.stderr.trim().is_empty() {
                out.stderr.trim().to_string()
            } else {
                out.stdout.trim().to_string()
            };
            Err(FnError::Execution(format!("sysctl -w failed: {error}")))
        }
    }
}

/// Tabs between the parts of a multi-value setting, as `/proc/sys` shows them.
fn normalize(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join("\t")
}

/// What `persist` does to the config text.
#[derive(Debug, PartialEq)]
enum Edit {
    /// The file already says so.
    AlreadySet,
    /// The new file text.
    Write(String),
}

fn edit_config(text: &str, name: &str, value: &str) -> Edit {
    let want = normalize(value);
    let mut lines: Vec<String> = Vec::new();
    let mut edited = false;
    for line in text.split_inclusive('\n') {
        let parsed = (!line.starts_with('#'))
            .then(|| line.split_once('='))
            .flatten()
            .map(|(k, v)| (k.trim(), normalize(v.trim())));
        match parsed {
            Some((k, v)) if k == name => {
                if v == want {
                    return Edit::AlreadySet;
                }
                lines.push(format!("{name} = {want}\n"));
                edited = true;
            }
            _ => lines.push(line.to_string()),
        }
    }
    if !edited {
        if lines.last().is_some_and(|l| !l.ends_with('\n')) {
            lines.push("\n".into());
        }
        lines.push(format!("{name} = {want}\n"));
    }
    Edit::Write(lines.concat())
}

/// Salt's `persist`: write the setting to the config file and apply it;
/// "Already set" when both the file and the kernel have it, else "Updated".
async fn persist(call: &Call) -> Result<FnOutput, FnError> {
    let name = param_name(call)?;
    let value = value_arg(call)?;
    let config = str_param(call, 2, "config").map_or_else(default_config, PathBuf::from);
    let text = {
        let config = config.clone();
        blocking(move || read_or_create(&config)).await?
    };
    match edit_config(&text, &name, &value) {
        Edit::AlreadySet => {
            if normalize(&get(&name).await?) == normalize(&value) {
                return Ok(json!("Already set").into());
            }
        }
        Edit::Write(new_text) => {
            let config = config.clone();
            blocking(move || {
                std::fs::write(&config, new_text).map_err(|e| {
                    FnError::Execution(format!("Could not write to file {}: {e}", config.display()))
                })
            })
            .await?;
        }
    }
    assign(&name, &value).await?;
    Ok(json!("Updated").into())
}

/// The config text, creating the file (and its directory) with Salt's
/// header when missing.
fn read_or_create(path: &Path) -> Result<String, FnError> {
    if !path.is_file() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                FnError::Execution(format!("Could not create {}: {e}", dir.display()))
            })?;
        }
        std::fs::write(path, "#\n# Kernel sysctl configuration\n#\n").map_err(|e| {
            FnError::Execution(format!("Could not write to file {}: {e}", path.display()))
        })?;
    }
    std::fs::read_to_string(path).map_err(|e| {
        FnError::Execution(format!("Could not read from file {}: {e}", path.display()))
    })
}

const SHOW_DOC: &str = "Return a list of sysctl parameters for this minion\n\nconfig_file\n    Pull the data from the sysctl configuration file instead of the live\n    kernel.\n\nCLI Example:\n\n    brine '*' sysctl.show";
const GET_DOC: &str = "Return a single sysctl parameter for this minion\n\nCLI Example:\n\n    brine '*' sysctl.get net.ipv4.ip_forward";
const ASSIGN_DOC: &str = "Assign a single sysctl parameter for this minion\n\nCLI Example:\n\n    brine '*' sysctl.assign net.ipv4.ip_forward 1";
const PERSIST_DOC: &str = "Assign and persist a simple sysctl parameter for this minion. If ``config``\nis not specified, a sensible default will be chosen using\n:mod:`sysctl.default_config <salt.modules.linux_sysctl.default_config>`.\n\nCLI Example:\n\n    brine '*' sysctl.persist net.ipv4.ip_forward 1";
const DEFAULT_CONFIG_DOC: &str = "Linux hosts using systemd 207 or later ignore ``/etc/sysctl.conf`` and only\nload from ``/etc/sysctl.d/*.conf``. This function will do the proper checks\nand return a default config file which will be valid for the Minion.\n\nCLI Example:\n\n    brine '*' sysctl.default_config";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_and_config_parsing() {
        let s = parse_show(
            "kernel.ostype = Linux\nnet.ipv4.tcp_rmem = 4096\t131072\t6291456\nsysctl: permission denied\n",
        );
        assert_eq!(s["kernel.ostype"], json!("Linux"));
        assert_eq!(s["net.ipv4.tcp_rmem"], json!("4096\t131072\t6291456"));
        assert_eq!(s.len(), 2);
        let c = parse_config("# comment\nvm.swappiness = 10\nnet.ipv4.ip_forward=1\n\n");
        assert_eq!(c["vm.swappiness"], json!("10"));
        assert_eq!(c["net.ipv4.ip_forward"], json!("1"));
    }

    #[test]
    fn persist_edits() {
        let text = "#\n# Kernel sysctl configuration\n#\nvm.swappiness = 10\n";
        assert_eq!(edit_config(text, "vm.swappiness", "10"), Edit::AlreadySet);
        assert_eq!(
            edit_config(text, "vm.swappiness", "20"),
            Edit::Write("#\n# Kernel sysctl configuration\n#\nvm.swappiness = 20\n".into())
        );
        assert_eq!(
            edit_config("a = 1", "b", "4096 87380"),
            Edit::Write("a = 1\nb = 4096\t87380\n".into())
        );
        assert_eq!(
            edit_config(
                "net.ipv4.tcp_rmem = 4096 87380\n",
                "net.ipv4.tcp_rmem",
                "4096\t87380"
            ),
            Edit::AlreadySet
        );
    }

    #[test]
    fn proc_paths() {
        assert_eq!(
            proc_path("net.ipv4.ip_forward"),
            Path::new("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            proc_path("net.ipv4.conf.eth0/1.rp_filter"),
            Path::new("/proc/sys/net/ipv4/conf/eth0.1/rp_filter")
        );
    }
}
