//! The sysvinit backend of `service` (Salt's `debian_service`): actions go
//! through `service NAME ACTION` (or the script in `/etc/init.d` when there
//! is no `service`), boot links through `update-rc.d`, and "enabled" means
//! an `S??name` link in `/etc/rc<runlevel>.d` or `/etc/rcS.d`.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use brine_common::functions::FnError;

use super::Action;
use crate::modules::host::{HostCmd, which};

const INIT_D: &str = "/etc/init.d";

/// How long one status check may take (`get_running` asks many scripts).
const STATUS_TIMEOUT: Duration = Duration::from_secs(20);

fn service_cmd(name: &str, verb: &str) -> HostCmd {
    if which("service").is_some() {
        HostCmd::new("service").args([name, verb])
    } else {
        HostCmd::new(&format!("{INIT_D}/{name}")).arg(verb)
    }
}

/// Run an action; true when it exited 0.
pub async fn act(name: &str, action: Action) -> Result<bool, FnError> {
    let out = service_cmd(name, action.verb()).output().await?;
    if !out.success() {
        tracing::warn!(
            "service {} {}: {}",
            name,
            action.verb(),
            out.failure_message()
        );
    }
    Ok(out.success())
}

/// Whether the script's `status` says it runs.
pub async fn status(name: &str) -> Result<bool, FnError> {
    let out = service_cmd(name, "status")
        .timeout(STATUS_TIMEOUT)
        .output()
        .await?;
    Ok(out.success())
}

/// `update-rc.d NAME defaults` (creates the links if there are none), then
/// `update-rc.d NAME enable|disable`.
pub async fn set_enabled(name: &str, enable: bool) -> Result<bool, FnError> {
    if enable {
        let out = HostCmd::new("update-rc.d")
            .args([name, "defaults"])
            .output()
            .await?;
        if !out.success() {
            tracing::warn!("{}", out.failure_message());
            return Ok(false);
        }
    }
    let verb = if enable { "enable" } else { "disable" };
    let out = HostCmd::new("update-rc.d")
        .args([name, verb])
        .output()
        .await?;
    if !out.success() {
        tracing::warn!("{}", out.failure_message());
    }
    Ok(out.success())
}

/// The current runlevel; "2" (Debian's default) when `runlevel` cannot tell,
/// as in containers.
async fn runlevel() -> String {
    let out = match HostCmd::new("runlevel").output().await {
        Ok(out) => out.stdout,
        Err(_) => return "2".into(),
    };
    parse_runlevel(&out)
}

fn parse_runlevel(out: &str) -> String {
    if out.contains("unknown") {
        return "2".into();
    }
    out.split_whitespace()
        .nth(1)
        .filter(|r| r.len() == 1)
        .unwrap_or("2")
        .to_string()
}

/// Services started at boot in the current runlevel.
pub async fn get_enabled() -> Result<Vec<String>, FnError> {
    let level = runlevel().await;
    let mut ret = BTreeSet::new();
    for dir in [format!("/etc/rc{level}.d"), "/etc/rcS.d".to_string()] {
        ret.extend(start_links(&read_names(Path::new(&dir))));
    }
    Ok(ret.into_iter().collect())
}

/// The service names of `S??name` links.
fn start_links(entries: &[String]) -> Vec<String> {
    entries
        .iter()
        .filter_map(|e| e.strip_prefix('S'))
        .map(|rest| rest.trim_start_matches(|c: char| c.is_ascii_digit()))
        .filter(|name| !name.is_empty())
        .map(String::from)
        .collect()
}

/// Every init script (and every enabled service).
pub async fn get_all() -> Result<Vec<String>, FnError> {
    let mut ret: BTreeSet<String> = read_names(Path::new(INIT_D))
        .into_iter()
        .filter(|n| n != "README")
        .collect();
    ret.extend(get_enabled().await?);
    Ok(ret.into_iter().collect())
}

/// Known but not enabled.
pub async fn get_disabled() -> Result<Vec<String>, FnError> {
    let enabled: BTreeSet<String> = get_enabled().await?.into_iter().collect();
    Ok(get_all()
        .await?
        .into_iter()
        .filter(|n| !enabled.contains(n))
        .collect())
}

/// The services whose status says they run (`service --status-all`'s `+`).
pub async fn get_running() -> Result<Vec<String>, FnError> {
    if which("service").is_some() {
        let out = HostCmd::new("service")
            .arg("--status-all")
            .timeout(Duration::from_secs(120))
            .output()
            .await?;
        return Ok(parse_status_all(&out.stdout));
    }
    let mut ret = Vec::new();
    for name in get_all().await? {
        if status(&name).await? {
            ret.push(name);
        }
    }
    Ok(ret)
}

/// ` [ + ]  cron` lines of `service --status-all`.
fn parse_status_all(out: &str) -> Vec<String> {
    let mut ret: Vec<String> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("[ + ]"))
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    ret.sort();
    ret
}

/// The visible entries of a directory (none if it cannot be read).
fn read_names(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runlevels() {
        assert_eq!(parse_runlevel("unknown\n"), "2");
        assert_eq!(parse_runlevel("N 5\n"), "5");
        assert_eq!(parse_runlevel(""), "2");
    }

    #[test]
    fn start_link_names() {
        let entries: Vec<String> = ["S01cron", "K01exim4", "S02ipv6-setup", "README", "S"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(start_links(&entries), ["cron", "ipv6-setup"]);
    }

    #[test]
    fn status_all_lines() {
        let out = " [ - ]  cron\n [ + ]  dbus\n [ ? ]  hwclock.sh\n [ + ]  ssh\n";
        assert_eq!(parse_status_all(out), ["dbus", "ssh"]);
    }
}
