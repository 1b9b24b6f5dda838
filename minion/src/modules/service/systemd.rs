//! The systemd backend of `service` (Salt's `systemd_service`): everything
//! through `systemctl`. A name without a unit suffix means `NAME.service`;
//! listings name service units without the suffix and other units with it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use brine_common::functions::FnError;

use super::Action;
use crate::modules::host::{HostCmd, which};

/// Present while systemd runs as the init system (systemd's `sd_booted()`).
const BOOTED_MARKER: &str = "/run/systemd/system";

/// Unit types Salt knows (`VALID_UNIT_TYPES`).
const UNIT_TYPES: &[&str] = &[
    "service",
    "socket",
    "device",
    "mount",
    "automount",
    "swap",
    "target",
    "path",
    "timer",
];

/// Options of start/restart/reload.
#[derive(Debug, Clone, Copy, Default)]
pub struct ActOptions {
    pub no_block: bool,
    pub unmask: bool,
    pub unmask_runtime: bool,
}

/// `name` as a unit name: `.service` added unless it has a unit suffix.
pub fn unit_name(name: &str) -> String {
    let typed = name.rsplit_once('.').is_some_and(|(_, suffix)| {
        UNIT_TYPES.contains(&suffix) || suffix == "slice" || suffix == "scope"
    });
    if typed {
        name.to_string()
    } else {
        format!("{name}.service")
    }
}

fn systemctl<I, S>(args: I) -> HostCmd
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    HostCmd::new("systemctl").args(args)
}

/// The `systemctl` invocation for an action.
pub fn action_command(name: &str, action: Action, no_block: bool) -> HostCmd {
    let mut cmd = systemctl(["--no-pager"]);
    if no_block {
        cmd = cmd.arg("--no-block");
    }
    cmd.args([action.verb().to_string(), unit_name(name)])
}

/// Run an action. `stop` reports failure as false; the others raise with
/// systemctl's message, as Salt does (a masked unit says why).
pub async fn act(name: &str, action: Action, opts: &ActOptions) -> Result<bool, FnError> {
    if action != Action::Stop && (opts.unmask || opts.unmask_runtime) {
        unmask(name, opts.unmask_runtime).await?;
    }
    let out = action_command(name, action, opts.no_block).output().await?;
    if out.success() {
        return Ok(true);
    }
    if action == Action::Stop {
        tracing::warn!("{}", out.failure_message());
        return Ok(false);
    }
    Err(FnError::Execution(out.failure_message()))
}

async fn unmask(name: &str, runtime: bool) -> Result<(), FnError> {
    let mut cmd = systemctl(["unmask"]);
    if runtime {
        cmd = cmd.arg("--runtime");
    }
    cmd.arg(unit_name(name)).checked().await.map(|_| ())
}

/// Where `systemctl mask` puts its `/dev/null` link: `/etc` for a lasting
/// mask, `/run` for one until reboot.
fn mask_link(name: &str, runtime: bool) -> PathBuf {
    let root = if runtime { "/run" } else { "/etc" };
    Path::new(root).join("systemd/system").join(unit_name(name))
}

/// Salt's `masked`: the unit's link points at `/dev/null`.
pub fn masked(name: &str, runtime: bool) -> bool {
    std::fs::read_link(mask_link(name, runtime))
        .is_ok_and(|target| target == Path::new("/dev/null"))
}

/// `systemctl mask|unmask [--runtime]`; unmasking an unmasked unit is a
/// no-op, as in Salt.
pub async fn set_mask(name: &str, runtime: bool, mask: bool) -> Result<bool, FnError> {
    if !mask && !masked(name, runtime) {
        return Ok(true);
    }
    let verb = if mask { "mask" } else { "unmask" };
    let mut cmd = systemctl([verb]);
    if runtime {
        cmd = cmd.arg("--runtime");
    }
    let out = cmd.arg(unit_name(name)).output().await?;
    if !out.success() {
        return Err(FnError::Execution(format!(
            "Failed to {verb} service '{name}'"
        )));
    }
    Ok(true)
}

/// `systemctl is-active`.
pub async fn status(name: &str) -> Result<bool, FnError> {
    Ok(systemctl(["is-active".to_string(), unit_name(name)])
        .output()
        .await?
        .success())
}

/// `systemctl enable|disable`.
pub async fn set_enabled(name: &str, enable: bool, unmask_first: bool) -> Result<bool, FnError> {
    if enable && unmask_first {
        unmask(name, false).await?;
    }
    let verb = if enable { "enable" } else { "disable" };
    let out = systemctl([verb.to_string(), unit_name(name)])
        .output()
        .await?;
    if !out.success() {
        tracing::warn!("{}", out.failure_message());
    }
    Ok(out.success())
}

/// `systemctl is-enabled` exits 0.
pub async fn enabled(name: &str) -> Result<bool, FnError> {
    Ok(systemctl(["is-enabled".to_string(), unit_name(name)])
        .output()
        .await?
        .success())
}

/// Whether systemd runs as the init system.
pub fn booted() -> bool {
    Path::new(BOOTED_MARKER).is_dir()
}

/// Salt's "offline" systemd: `systemctl` is installed but systemd is not
/// the running init (a container or chroot), so no unit can be queried.
pub fn offline() -> bool {
    is_offline(booted(), which("systemctl").is_some())
}

fn is_offline(booted: bool, has_systemctl: bool) -> bool {
    !booted && has_systemctl
}

/// Whether systemd can load the unit; offline, an error as in Salt.
pub async fn available(name: &str) -> Result<bool, FnError> {
    if offline() {
        return Err(FnError::Execution(format!(
            "Cannot run in offline mode. Failed to get information on unit '{name}'"
        )));
    }
    let out = systemctl([
        "show".to_string(),
        "--property=LoadState".to_string(),
        unit_name(name),
    ])
    .output()
    .await?;
    let state = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("LoadState="))
        .unwrap_or("");
    Ok(!state.is_empty() && state != "not-found")
}

/// Every unit file (and what systemd generated from init scripts).
pub async fn get_all() -> Result<Vec<String>, FnError> {
    let files = unit_files().await?;
    let mut ret: BTreeSet<String> = files.into_iter().map(|(name, _)| name).collect();
    if let Ok(entries) = std::fs::read_dir("/etc/init.d") {
        ret.extend(
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.') && n != "README"),
        );
    }
    Ok(ret.into_iter().collect())
}

/// Unit files whose state is `state` (`enabled`, `disabled`).
pub async fn by_state(state: &str) -> Result<Vec<String>, FnError> {
    Ok(unit_files()
        .await?
        .into_iter()
        .filter(|(_, s)| s == state)
        .map(|(n, _)| n)
        .collect())
}

async fn unit_files() -> Result<Vec<(String, String)>, FnError> {
    let out = systemctl(["list-unit-files", "--full", "--no-legend", "--no-pager"])
        .checked()
        .await?;
    Ok(parse_unit_files(&out.stdout))
}

/// `UNIT STATE [PRESET]` lines, names shortened Salt's way.
pub fn parse_unit_files(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|line| {
            let mut cols = line.split_whitespace();
            let unit = cols.next()?;
            let state = cols.next()?;
            Some((short_name(unit)?, state.to_string()))
        })
        .collect()
}

/// `foo.service` -> `foo`, `foo.timer` stays; `None` for other unit types.
fn short_name(unit: &str) -> Option<String> {
    let (base, suffix) = unit.rsplit_once('.')?;
    if !UNIT_TYPES.contains(&suffix) {
        return None;
    }
    Some(if suffix == "service" {
        base.to_string()
    } else {
        unit.to_string()
    })
}

/// Units whose sub-state is `running`.
pub async fn get_running() -> Result<Vec<String>, FnError> {
    let out = systemctl(["--full", "--no-legend", "--no-pager"])
        .checked()
        .await?;
    Ok(parse_running(&out.stdout))
}

/// `UNIT LOAD ACTIVE SUB DESCRIPTION` lines of `systemctl list-units`.
pub fn parse_running(out: &str) -> Vec<String> {
    let mut ret: BTreeSet<String> = BTreeSet::new();
    for line in out.lines() {
        let cols: Vec<&str> = line
            .split_whitespace()
            .skip_while(|c| *c == "●" || *c == "*")
            .collect();
        if let [unit, _load, _active, "running", ..] = cols.as_slice()
            && let Some(name) = short_name(unit)
        {
            ret.insert(name);
        }
    }
    ret.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_means_systemctl_without_a_running_systemd() {
        assert!(is_offline(false, true));
        assert!(!is_offline(true, true));
        assert!(!is_offline(false, false));
    }

    #[test]
    fn mask_links_by_kind() {
        assert_eq!(
            mask_link("docker", false),
            Path::new("/etc/systemd/system/docker.service")
        );
        assert_eq!(
            mask_link("x.socket", true),
            Path::new("/run/systemd/system/x.socket")
        );
        assert!(!masked("brine-surely-not-a-unit", false));
    }

    #[test]
    fn unit_names() {
        assert_eq!(unit_name("nginx"), "nginx.service");
        assert_eq!(unit_name("docker.socket"), "docker.socket");
        assert_eq!(unit_name("getty@tty1"), "getty@tty1.service");
        assert_eq!(unit_name("php7.4-fpm"), "php7.4-fpm.service");
    }

    #[test]
    fn commands() {
        let cmd = action_command("nginx", Action::Restart, true);
        assert_eq!(cmd.program(), "systemctl");
        assert_eq!(
            cmd.argv(),
            ["--no-pager", "--no-block", "restart", "nginx.service"]
        );
    }

    #[test]
    fn listings() {
        let files = "cron.service enabled enabled\nfstrim.timer disabled enabled\nfoo.slice static -\ngetty@.service enabled enabled\n";
        assert_eq!(
            parse_unit_files(files),
            [
                ("cron".to_string(), "enabled".to_string()),
                ("fstrim.timer".to_string(), "disabled".to_string()),
                ("getty@".to_string(), "enabled".to_string()),
            ]
        );
        let units = "  cron.service loaded active running Regular background program processing daemon\n● failed.service loaded failed failed Broken\n  dbus.socket loaded active running D-Bus Socket\n  systemd-tmpfiles-clean.timer loaded active waiting Daily Cleanup\n";
        assert_eq!(parse_running(units), ["cron", "dbus.socket"]);
    }
}
