//! Salt's `service` execution module: start, stop, enable and query system
//! services.
//!
//! Two backends, chosen as Salt's loader chooses its `service` provider:
//! systemd ([`systemd`], Salt's `systemd_service`) when systemd runs as init
//! (`/run/systemd/system` exists, systemd's own `sd_booted()` test), the
//! Debian sysvinit tools ([`sysv`], Salt's `debian_service`: `service`,
//! `/etc/init.d`, `update-rc.d`) otherwise. A Debian container with
//! `systemctl` installed but systemd not running loads both modules in
//! Salt: `debian_service` answers the functions both have, and
//! `systemd_service` adds `service.offline` (true there), which makes the
//! `running`/`dead` states do nothing. Elsewhere, without a running systemd,
//! the `init` grain decides.
//!
//! Function names, arguments and return values are Salt's: `start`, `stop`,
//! ... return True/False (systemd's `start`, `restart` and `reload` raise
//! with systemctl's message instead of returning False, as in Salt);
//! `status` of a glob returns `{service: bool}`.

pub(crate) mod systemd;
mod sysv;

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use serde_json::{Map, Value, json};

use super::MinionCtx;
use super::host::{bool_param, check_name, required_str, str_param, which};

/// Which init system manages services here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    Systemd,
    Sysv,
}

impl Init {
    /// As Salt's loader picks the functions both service modules have.
    pub fn for_host(ctx: &MinionCtx) -> Init {
        let grains = ctx.grains();
        Init::choose(
            grains.get("init").and_then(Value::as_str),
            grains.get("os").and_then(Value::as_str),
            systemd::booted(),
        )
    }

    fn choose(init_grain: Option<&str>, os: Option<&str>, systemd_booted: bool) -> Init {
        // debian_service's __virtual__: these systems, systemd not running.
        let debian_like = matches!(os, Some("Debian" | "Raspbian" | "Devuan" | "NILinuxRT"));
        match init_grain {
            _ if systemd_booted => Init::Systemd,
            _ if debian_like => Init::Sysv,
            Some("systemd") => Init::Systemd,
            _ => Init::Sysv,
        }
    }
}

/// Salt's `service.offline`: `systemctl`'s path when it is installed but
/// systemd is not running, false when systemd runs, null without systemctl.
fn offline_answer() -> Value {
    if systemd::booted() {
        return json!(false);
    }
    match which("systemctl") {
        Some(path) => json!(path.display().to_string()),
        None => Value::Null,
    }
}

/// A service action that both backends implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Restart,
    Reload,
    ForceReload,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart => "restart",
            Action::Reload => "reload",
            Action::ForceReload => "force-reload",
        }
    }
}

const ACTION_SIG: &str = "name, no_block=False, unmask=False, unmask_runtime=False";

pub fn register(f: &mut Functions<MinionCtx>) {
    for (fun, action, doc) in [
        ("service.start", Action::Start, START_DOC),
        ("service.restart", Action::Restart, RESTART_DOC),
        ("service.reload", Action::Reload, RELOAD_DOC),
        (
            "service.force_reload",
            Action::ForceReload,
            FORCE_RELOAD_DOC,
        ),
    ] {
        f.register(fun, ACTION_SIG, doc, move |ctx, call| async move {
            act(&ctx, &call, action).await
        });
    }
    f.register(
        "service.stop",
        "name, no_block=False",
        STOP_DOC,
        |ctx, call| async move { act(&ctx, &call, Action::Stop).await },
    );
    f.register(
        "service.status",
        "name, sig=None, wait=3",
        STATUS_DOC,
        |ctx, call| async move { status(&ctx, &call).await },
    );
    f.register(
        "service.enable",
        "name, **kwargs",
        ENABLE_DOC,
        |ctx, call| async move { set_enabled(&ctx, &call, true).await },
    );
    f.register(
        "service.disable",
        "name, **kwargs",
        DISABLE_DOC,
        |ctx, call| async move { set_enabled(&ctx, &call, false).await },
    );
    f.register(
        "service.enabled",
        "name, **kwargs",
        ENABLED_DOC,
        |ctx, call| async move { is_enabled(&ctx, &call, true).await },
    );
    f.register(
        "service.disabled",
        "name",
        DISABLED_DOC,
        |ctx, call| async move { is_enabled(&ctx, &call, false).await },
    );
    f.register(
        "service.available",
        "name",
        AVAILABLE_DOC,
        |ctx, call| async move { available(&ctx, &call, true).await },
    );
    f.register(
        "service.missing",
        "name",
        MISSING_DOC,
        |ctx, call| async move { available(&ctx, &call, false).await },
    );
    f.register(
        "service.masked",
        "name, runtime=False, root=None",
        MASKED_DOC,
        |_, call| async move {
            let name = service_name(&call)?;
            let runtime = bool_param(&call, 1, "runtime", false);
            Ok(json!(systemd::masked(&name, runtime)).into())
        },
    );
    for (fun, mask, doc) in [
        ("service.mask", true, MASK_DOC),
        ("service.unmask", false, UNMASK_DOC),
    ] {
        f.register(
            fun,
            "name, runtime=False, root=None",
            doc,
            move |_, call| async move {
                let name = service_name(&call)?;
                let runtime = bool_param(&call, 1, "runtime", false);
                Ok(json!(systemd::set_mask(&name, runtime, mask).await?).into())
            },
        );
    }
    f.register("service.offline", "", OFFLINE_DOC, |_, _| async move {
        Ok(offline_answer().into())
    });
    f.register("service.get_all", "", GET_ALL_DOC, |ctx, _| async move {
        listing(&ctx, Listing::All).await
    });
    f.register(
        "service.get_enabled",
        "",
        GET_ENABLED_DOC,
        |ctx, _| async move { listing(&ctx, Listing::Enabled).await },
    );
    f.register(
        "service.get_disabled",
        "",
        GET_DISABLED_DOC,
        |ctx, _| async move { listing(&ctx, Listing::Disabled).await },
    );
    f.register(
        "service.get_running",
        "",
        GET_RUNNING_DOC,
        |ctx, _| async move { listing(&ctx, Listing::Running).await },
    );
}

fn service_name(call: &Call) -> Result<String, FnError> {
    let name = required_str(call, 0, "name")?;
    check_name("service", &name)?;
    Ok(name)
}

async fn act(ctx: &MinionCtx, call: &Call, action: Action) -> Result<FnOutput, FnError> {
    let name = service_name(call)?;
    let done = match Init::for_host(ctx) {
        Init::Sysv => sysv::act(&name, action).await?,
        Init::Systemd => {
            let opts = systemd::ActOptions {
                no_block: bool_param(call, 1, "no_block", false),
                unmask: bool_param(call, 2, "unmask", false),
                unmask_runtime: bool_param(call, 3, "unmask_runtime", false),
            };
            systemd::act(&name, action, &opts).await?
        }
    };
    Ok(json!(done).into())
}

async fn status(ctx: &MinionCtx, call: &Call) -> Result<FnOutput, FnError> {
    let name = required_str(call, 0, "name")?;
    if let Some(sig) = str_param(call, 1, "sig") {
        let pids = super::status::pids_matching(&sig)?;
        return Ok(json!(!pids.is_empty()).into());
    }
    let init = Init::for_host(ctx);
    if !is_glob(&name) {
        check_name("service", &name)?;
        return Ok(json!(running(init, &name).await?).into());
    }
    let all = match init {
        Init::Sysv => sysv::get_all().await?,
        Init::Systemd => systemd::get_all().await?,
    };
    let mut ret = Map::new();
    for service in super::pkg::glob_matches(&name, all.iter()) {
        let up = running(init, &service).await?;
        ret.insert(service, json!(up));
    }
    Ok(Value::Object(ret).into())
}

fn is_glob(name: &str) -> bool {
    name.contains(['*', '?']) || (name.contains('[') && name.contains(']'))
}

async fn running(init: Init, name: &str) -> Result<bool, FnError> {
    match init {
        Init::Sysv => sysv::status(name).await,
        Init::Systemd => systemd::status(name).await,
    }
}

async fn set_enabled(ctx: &MinionCtx, call: &Call, enable: bool) -> Result<FnOutput, FnError> {
    let name = service_name(call)?;
    let done = match Init::for_host(ctx) {
        Init::Sysv => sysv::set_enabled(&name, enable).await?,
        Init::Systemd => {
            let unmask = call
                .kwargs
                .get("unmask")
                .is_some_and(brine_common::truth::salt_is_true);
            systemd::set_enabled(&name, enable, unmask).await?
        }
    };
    Ok(json!(done).into())
}

async fn is_enabled(ctx: &MinionCtx, call: &Call, want: bool) -> Result<FnOutput, FnError> {
    let name = service_name(call)?;
    let enabled = match Init::for_host(ctx) {
        Init::Sysv => sysv::get_enabled().await?.contains(&name),
        Init::Systemd => systemd::enabled(&name).await?,
    };
    if want {
        return Ok(json!(enabled).into());
    }
    // Salt: disabled means "known but not enabled".
    let known = match Init::for_host(ctx) {
        Init::Sysv => sysv::get_all().await?.contains(&name),
        Init::Systemd => true,
    };
    Ok(json!(known && !enabled).into())
}

async fn available(ctx: &MinionCtx, call: &Call, want: bool) -> Result<FnOutput, FnError> {
    let name = service_name(call)?;
    let found = match Init::for_host(ctx) {
        Init::Sysv => sysv::get_all().await?.contains(&name),
        Init::Systemd => systemd::available(&name).await?,
    };
    Ok(json!(found == want).into())
}

#[derive(Debug, Clone, Copy)]
enum Listing {
    All,
    Enabled,
    Disabled,
    Running,
}

async fn listing(ctx: &MinionCtx, which: Listing) -> Result<FnOutput, FnError> {
    let names = match (Init::for_host(ctx), which) {
        (Init::Sysv, Listing::All) => sysv::get_all().await?,
        (Init::Sysv, Listing::Enabled) => sysv::get_enabled().await?,
        (Init::Sysv, Listing::Disabled) => sysv::get_disabled().await?,
        (Init::Sysv, Listing::Running) => sysv::get_running().await?,
        (Init::Systemd, Listing::All) => systemd::get_all().await?,
        (Init::Systemd, Listing::Enabled) => systemd::by_state("enabled").await?,
        (Init::Systemd, Listing::Disabled) => systemd::by_state("disabled").await?,
        (Init::Systemd, Listing::Running) => systemd::get_running().await?,
    };
    Ok(json!(names).into())
}

const START_DOC: &str = "Start the specified service\n\nWith systemd, ``no_block=True`` does not wait for the start to finish and\n``unmask=True`` unmasks the unit first (``unmask_runtime`` for a runtime mask).\n\nCLI Example:\n\n    brine '*' service.start <service name>";
const STOP_DOC: &str =
    "Stop the specified service\n\nCLI Example:\n\n    brine '*' service.stop <service name>";
const RESTART_DOC: &str =
    "Restart the named service\n\nCLI Example:\n\n    brine '*' service.restart <service name>";
const RELOAD_DOC: &str =
    "Reload the named service\n\nCLI Example:\n\n    brine '*' service.reload <service name>";
const FORCE_RELOAD_DOC: &str = "Force-reload the named service\n\nCLI Example:\n\n    brine '*' service.force_reload <service name>";
const STATUS_DOC: &str = "Return the status for a service.\nIf the name contains globbing, a dict mapping service name to True/False\nvalues is returned.\n\nArgs:\n    name (str): The name of the service to check\n    sig (str): Signature to use to find the service via ps\n\nReturns:\n    bool: True if running, False otherwise\n    dict: Maps service name to True if running, False otherwise\n\nCLI Example:\n\n    brine '*' service.status <service name> [service signature]";
const ENABLE_DOC: &str = "Enable the named service to start at boot\n\nCLI Example:\n\n    brine '*' service.enable <service name>";
const DISABLE_DOC: &str = "Disable the named service to start at boot\n\nCLI Example:\n\n    brine '*' service.disable <service name>";
const ENABLED_DOC: &str = "Return True if the named service is enabled, false otherwise\n\nCLI Example:\n\n    brine '*' service.enabled <service name>";
const DISABLED_DOC: &str = "Return True if the named service is disabled, false otherwise\n\nCLI Example:\n\n    brine '*' service.disabled <service name>";
const AVAILABLE_DOC: &str = "Returns ``True`` if the specified service is available, otherwise returns\n``False``.\n\nCLI Example:\n\n    brine '*' service.available sshd";
const MISSING_DOC: &str = "The inverse of service.available.\nReturns ``True`` if the specified service is not available, otherwise returns\n``False``.\n\nCLI Example:\n\n    brine '*' service.missing sshd";
const MASKED_DOC: &str = "Check whether or not a service is masked (systemd). ``runtime=True``\nchecks for a runtime mask instead of an indefinite one.\n\nCLI Examples:\n\n    brine '*' service.masked foo\n    brine '*' service.masked foo runtime=True";
const MASK_DOC: &str = "Mask the specified service with systemd; ``runtime=True`` masks it only\nuntil the next reboot.\n\nCLI Example:\n\n    brine '*' service.mask <service name>";
const UNMASK_DOC: &str = "Unmask the specified service with systemd; ``runtime=True`` removes only\na runtime mask.\n\nCLI Example:\n\n    brine '*' service.unmask <service name>";
const OFFLINE_DOC: &str = "Check if systemd is working in offline mode, where is not possible\nto talk with PID 1 (``systemctl`` is installed but systemd is not running).\n\nCLI Example:\n\n    brine '*' service.offline";
const GET_ALL_DOC: &str =
    "Return all available boot services\n\nCLI Example:\n\n    brine '*' service.get_all";
const GET_ENABLED_DOC: &str = "Return a list of service that are enabled on boot\n\nCLI Example:\n\n    brine '*' service.get_enabled";
const GET_DISABLED_DOC: &str = "Return a set of services that are installed but disabled\n\nCLI Example:\n\n    brine '*' service.get_disabled";
const GET_RUNNING_DOC: &str = "Return a list of all running services, so far as systemd (or the init\nscripts' status commands) can tell.\n\nCLI Example:\n\n    brine '*' service.get_running";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_system_choice() {
        let debian = Some("Debian");
        assert_eq!(Init::choose(Some("systemd"), debian, true), Init::Systemd);
        assert_eq!(Init::choose(None, Some("Fedora"), true), Init::Systemd);
        // A Debian container where systemd is not PID 1: debian_service.
        assert_eq!(Init::choose(Some("systemd"), debian, false), Init::Sysv);
        assert_eq!(
            Init::choose(Some("systemd"), Some("Fedora"), false),
            Init::Systemd
        );
        assert_eq!(Init::choose(None, Some("Fedora"), false), Init::Sysv);
    }

    #[test]
    fn globs() {
        assert!(is_glob("salt*"));
        assert!(is_glob("ng[a-z]nx"));
        assert!(!is_glob("cron"));
    }
}
