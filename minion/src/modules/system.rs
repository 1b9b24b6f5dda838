//! Salt's `system` execution module: reboot, shut down, halt or power off
//! the host, with Salt's arguments (`at_time` for `reboot` and `shutdown`)
//! and its return value (the command's output).
//!
//! `at_time` is checked before anything runs: only `now`, `+MINUTES`,
//! `HH:MM` or a number of minutes are accepted, so no other word can reach
//! `shutdown`'s command line (a `-c` there would cancel a pending shutdown,
//! for instance). The commands are built by [`power_command`], which the
//! tests check without running anything.

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use serde_json::{Value, json};

use super::MinionCtx;
use super::host::HostCmd;

/// What to do to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    Reboot,
    Shutdown,
    Halt,
    Poweroff,
}

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "system.reboot",
        "at_time=None",
        REBOOT_DOC,
        |_, call| async move { run(Power::Reboot, &call).await },
    );
    f.register(
        "system.shutdown",
        "at_time=None",
        SHUTDOWN_DOC,
        |_, call| async move { run(Power::Shutdown, &call).await },
    );
    f.register("system.halt", "", HALT_DOC, |_, call| async move {
        run(Power::Halt, &call).await
    });
    f.register("system.poweroff", "", POWEROFF_DOC, |_, call| async move {
        run(Power::Poweroff, &call).await
    });
}

/// A valid `shutdown` time: `now`, `+M`, `HH:MM`, or minutes as a number
/// (given as `+M`).
pub fn shutdown_time(at_time: Option<&Value>) -> Result<String, FnError> {
    let bad = |v: &dyn std::fmt::Display| {
        FnError::Invocation(format!(
            "invalid at_time {v}: use 'now', '+MINUTES', 'HH:MM' or a number of minutes"
        ))
    };
    let text = match at_time {
        None | Some(Value::Null) => return Ok("now".into()),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(m) => return Ok(format!("+{m}")),
            None => return Err(bad(n)),
        },
        Some(Value::String(s)) => s.trim().to_string(),
        Some(other) => return Err(bad(other)),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 6 && s.bytes().all(|b| b.is_ascii_digit());
    if text.is_empty() || text == "now" {
        return Ok("now".into());
    }
    if let Some(m) = text.strip_prefix('+').filter(|m| digits(m)) {
        return Ok(format!("+{m}"));
    }
    if digits(&text) {
        return Ok(format!("+{text}"));
    }
    if let Some((h, m)) = text.split_once(':')
        && h.len() <= 2
        && m.len() == 2
        && h.parse::<u8>().is_ok_and(|h| h < 24)
        && m.parse::<u8>().is_ok_and(|m| m < 60)
    {
        return Ok(text);
    }
    Err(bad(&format!("{text:?}")))
}

/// The command for `power` (Salt's: `shutdown -r|-h <time>`, `halt`,
/// `poweroff`).
pub fn power_command(power: Power, at_time: Option<&Value>) -> Result<HostCmd, FnError> {
    Ok(match power {
        Power::Reboot => HostCmd::new("shutdown").args(["-r".to_string(), shutdown_time(at_time)?]),
        Power::Shutdown => {
            HostCmd::new("shutdown").args(["-h".to_string(), shutdown_time(at_time)?])
        }
        Power::Halt => HostCmd::new("halt"),
        Power::Poweroff => HostCmd::new("poweroff"),
    })
}

async fn run(power: Power, call: &Call) -> Result<FnOutput, FnError> {
    let at_time = match power {
        Power::Reboot | Power::Shutdown => call.param(0, "at_time"),
        Power::Halt | Power::Poweroff => None,
    };
    let cmd = power_command(power, at_time)?;
    tracing::warn!(command = %cmd.display(), "system: {power:?} requested");
    let out = cmd.output().await?;
    Ok(json!(out.combined()).into())
}

const REBOOT_DOC: &str = "Reboot the system\n\nat_time\n    The wait time in minutes before the system will be rebooted\n    (or 'now', '+MINUTES', 'HH:MM').\n\nCLI Example:\n\n    brine '*' system.reboot";
const SHUTDOWN_DOC: &str = "Shutdown a running system\n\nat_time\n    The wait time in minutes before the system will be shutdown\n    (or 'now', '+MINUTES', 'HH:MM').\n\nCLI Example:\n\n    brine '*' system.shutdown 5";
const HALT_DOC: &str = "Halt a running system\n\nCLI Example:\n\n    brine '*' system.halt";
const POWEROFF_DOC: &str =
    "Poweroff a running system\n\nCLI Example:\n\n    brine '*' system.poweroff";

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(power: Power, at: Option<Value>) -> Result<Vec<String>, FnError> {
        let cmd = power_command(power, at.as_ref())?;
        Ok(std::iter::once(cmd.program().to_string())
            .chain(cmd.argv().iter().cloned())
            .collect())
    }

    #[test]
    fn builds_salts_commands_without_running_them() {
        assert_eq!(
            argv(Power::Reboot, None).expect("ok"),
            ["shutdown", "-r", "now"]
        );
        assert_eq!(
            argv(Power::Reboot, Some(json!(5))).expect("ok"),
            ["shutdown", "-r", "+5"]
        );
        assert_eq!(
            argv(Power::Shutdown, Some(json!("+10"))).expect("ok"),
            ["shutdown", "-h", "+10"]
        );
        assert_eq!(
            argv(Power::Shutdown, Some(json!("23:30"))).expect("ok"),
            ["shutdown", "-h", "23:30"]
        );
        assert_eq!(
            argv(Power::Shutdown, Some(json!("15"))).expect("ok"),
            ["shutdown", "-h", "+15"]
        );
        assert_eq!(argv(Power::Halt, None).expect("ok"), ["halt"]);
        assert_eq!(argv(Power::Poweroff, None).expect("ok"), ["poweroff"]);
    }

    #[test]
    fn refuses_anything_else_as_a_time() {
        for bad in [
            json!("-c"),
            json!("now; reboot"),
            json!("25:00"),
            json!("+"),
            json!(-1),
            json!(1.5),
            json!(true),
        ] {
            assert!(argv(Power::Reboot, Some(bad.clone())).is_err(), "{bad}");
        }
    }
}
