//! Salt's `service` states: `running`, `dead`, `enabled`, `disabled`, and
//! `mod_watch` (restart, or reload with `reload: True`).
//!
//! Status comes from `service.status`/`service.enabled`; the work from
//! `service.start`, `stop`, `restart`, `reload`, `enable`, `disable`.

use serde_json::{Value, json};

use super::{call, exc_text, name_of, one, pending, truthy};
use crate::lowstate::{StateCall, StateModules, StateResult};

pub fn register(m: &mut StateModules) {
    m.register("service.running", running);
    m.register("service.dead", dead);
    m.register("service.enabled", enabled);
    m.register("service.disabled", disabled);
    m.register("service.masked", masked);
    m.register("service.unmasked", unmasked);
    m.register_mod_watch("service", mod_watch);
}

fn ask(c: &StateCall<'_>, fun: &str) -> Result<bool, String> {
    call(c.host, fun, vec![json!(name_of(c))], &[]).map(|v| truthy(&v))
}

/// What a state does about a service the host does not have.
#[derive(Clone, Copy)]
enum Missing {
    /// Fail (`running`, `enabled`); in test mode, say it would have been `verb`.
    Fail(&'static str),
    /// Succeed: nothing to stop or disable (`dead`, `disabled`); in test
    /// mode, `dead` says it would have been `verb`.
    Pass(Option<&'static str>),
}

/// Salt's `_offline()`: systemd is installed but not running (a container),
/// so `running` and `dead` have nothing to do.
fn offline(c: &StateCall<'_>) -> bool {
    c.host.has_function("service.offline")
        && call(c.host, "service.offline", vec![], &[]).is_ok_and(|v| truthy(&v))
}

fn offline_result(c: &StateCall<'_>) -> StateResult {
    StateResult::ok(name_of(c), "Running in OFFLINE mode. Nothing to do")
}

/// Run `f` after checking the service exists (Salt's `_available`).
fn with_service(
    c: &StateCall<'_>,
    missing: Missing,
    f: impl FnOnce() -> Result<StateResult, String>,
) -> StateResult {
    let name = name_of(c);
    let absent = format!("The named service {name} is not available");
    let not_present = |verb: &str| {
        let msg = format!(
            "Service {name} not present; if created in this state run, it would have been {verb}"
        );
        pending(name, msg, Default::default())
    };
    match (ask(c, "service.available"), missing) {
        (Ok(true), _) => f().unwrap_or_else(|e| StateResult::fail(name, exc_text(&e))),
        (Ok(false), Missing::Fail(verb)) if c.test => not_present(verb),
        (Ok(false), Missing::Pass(Some(verb))) if c.test => not_present(verb),
        (Ok(false), Missing::Fail(_)) => StateResult::fail(name, absent),
        (Ok(false), Missing::Pass(_)) => StateResult::ok(name, absent),
        (Err(e), _) => StateResult::fail(name, exc_text(&e)),
    }
}

/// The `enable:` part of `running`/`dead`: a comment line, and whether it changed.
fn boot(c: &StateCall<'_>, want: bool, state: &str) -> Result<(String, bool), String> {
    let name = name_of(c);
    let (word, fun) = if want {
        ("enabled", "service.enable")
    } else {
        ("disabled", "service.disable")
    };
    let is = ask(
        c,
        if want {
            "service.enabled"
        } else {
            "service.disabled"
        },
    )?;
    if is {
        return Ok((
            format!("Service {name} is already {word}, and is {state}"),
            false,
        ));
    }
    if c.test {
        return Ok((format!("Service {name} set to be {word}"), true));
    }
    if !ask(c, fun)? {
        return Err(format!(
            "Failed when setting service {name} to start at boot, but the service is {state}"
        ));
    }
    Ok((
        format!("Service {name} has been {word}, and is {state}"),
        true,
    ))
}

fn running(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    if offline(c) {
        return offline_result(c);
    }
    with_service(c, Missing::Fail("started"), || {
        let up = ask(c, "service.status")?;
        let mut ret = StateResult::ok(name, format!("The service {name} is already running"));
        if !up {
            if c.test {
                ret = pending(
                    name,
                    format!("Service {name} is set to start"),
                    Default::default(),
                );
            } else {
                call(c.host, "service.start", vec![json!(name)], &[])?;
                if !ask(c, "service.status")? {
                    return Ok(StateResult::fail(
                        name,
                        format!("Service {name} failed to start"),
                    ));
                }
                ret.comment = format!("Started service {name}");
                ret.changes = one(name, json!(true));
            }
        }
        if let Some(enable) = c.chunk.arg("enable").filter(|v| !v.is_null()) {
            let (line, did) = boot(c, truthy(enable), "running")?;
            ret.comment = if up {
                line
            } else {
                format!("{}\n{line}", ret.comment)
            };
            if did && c.test {
                ret.result = None;
            } else if did {
                ret.changes.insert(name.to_string(), json!(true));
            }
        }
        Ok(ret)
    })
}

fn dead(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    if offline(c) {
        return offline_result(c);
    }
    with_service(c, Missing::Pass(Some("stopped")), || {
        let up = ask(c, "service.status")?;
        let mut ret = StateResult::ok(name, format!("The service {name} is already dead"));
        if up {
            if c.test {
                ret = pending(
                    name,
                    format!("Service {name} is set to be killed"),
                    Default::default(),
                );
            } else {
                call(c.host, "service.stop", vec![json!(name)], &[])?;
                if ask(c, "service.status")? {
                    return Ok(StateResult::fail(
                        name,
                        format!("Service {name} failed to die"),
                    ));
                }
                ret.comment = format!("Service {name} was killed");
                ret.changes = one(name, json!(true));
            }
        }
        if let Some(enable) = c.chunk.arg("enable").filter(|v| !v.is_null()) {
            let (line, did) = boot(c, truthy(enable), "dead")?;
            ret.comment = if up {
                format!("{}\n{line}", ret.comment)
            } else {
                line
            };
            if did && c.test {
                ret.result = None;
            } else if did {
                ret.changes.insert(name.to_string(), json!(true));
            }
        }
        Ok(ret)
    })
}

fn at_boot(c: &StateCall<'_>, want: bool) -> StateResult {
    let name = name_of(c);
    let missing = if want {
        Missing::Fail("enabled")
    } else {
        Missing::Pass(None)
    };
    with_service(c, missing, || {
        let (line, did) = boot(c, want, "in the desired state")?;
        Ok(match (did, c.test) {
            (false, _) => StateResult::ok(name, line),
            (true, true) => pending(name, line, Default::default()),
            (true, false) => StateResult {
                changes: one(name, json!(true)),
                ..StateResult::ok(name, line)
            },
        })
    })
}

fn enabled(c: &StateCall<'_>) -> StateResult {
    at_boot(c, true)
}

fn disabled(c: &StateCall<'_>) -> StateResult {
    at_boot(c, false)
}

/// `service.masked` (`mask: true`) and `service.unmasked`, as Salt words
/// them; the changes name the mask kind (`masked` or `runtime masked`).
fn mask_state(c: &StateCall<'_>, mask: bool) -> StateResult {
    let name = name_of(c);
    if !c.host.has_function("service.masked") {
        return StateResult::fail(name, "Service masking not available on this minion");
    }
    let runtime = c.chunk.bool_arg("runtime", false);
    let kind = if runtime { "runtime masked" } else { "masked" };
    let (action, failure) = match (mask, runtime) {
        (true, _) => (kind, "mask"),
        (false, true) => ("runtime unmasked", "unmask"),
        (false, false) => ("unmasked", "unmask"),
    };
    let expected = one(kind, json!({"old": !mask, "new": mask}));
    let is_masked = || -> Result<bool, String> {
        call(
            c.host,
            "service.masked",
            vec![json!(name), json!(runtime)],
            &[],
        )
        .map(|v| truthy(&v))
    };
    let run = || -> Result<StateResult, String> {
        if is_masked()? == mask {
            let comment = if mask {
                format!("Service {name} is already {kind}")
            } else {
                format!("Service {name} was already {action}")
            };
            return Ok(StateResult::ok(name, comment));
        }
        if c.test {
            return Ok(pending(
                name,
                format!("Service {name} would be {action}"),
                expected,
            ));
        }
        let fun = if mask {
            "service.mask"
        } else {
            "service.unmask"
        };
        call(c.host, fun, vec![json!(name), json!(runtime)], &[])?;
        if is_masked()? == mask {
            Ok(StateResult {
                changes: expected,
                ..StateResult::ok(name, format!("Service {name} was {action}"))
            })
        } else {
            Ok(StateResult::fail(
                name,
                format!("Failed to {failure} service {name}"),
            ))
        }
    };
    run().unwrap_or_else(|e| StateResult::fail(name, exc_text(&e)))
}

fn masked(c: &StateCall<'_>) -> StateResult {
    mask_state(c, true)
}

fn unmasked(c: &StateCall<'_>) -> StateResult {
    mask_state(c, false)
}

/// A watched state changed: restart (or reload, or start) a running
/// service; stop one that should be dead.
fn mod_watch(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let run = || -> Result<StateResult, String> {
        let up = ask(c, "service.status")?;
        let (fun, past, future) = match (c.chunk.fun.as_str(), up) {
            ("dead", true) => (
                "service.stop",
                "Service stopped",
                "Service is set to be stopped",
            ),
            ("dead", false) => return Ok(StateResult::ok(name, "Service is already stopped")),
            ("running", true) if c.chunk.bool_arg("reload", false) => (
                "service.reload",
                "Service reloaded",
                "Service is set to be reloaded",
            ),
            ("running", true) => (
                "service.restart",
                "Service restarted",
                "Service is set to be restarted",
            ),
            ("running", false) => (
                "service.start",
                "Service started",
                "Service is set to be started",
            ),
            (other, _) => {
                return Ok(StateResult::fail(
                    name,
                    format!("Unable to trigger watch for service.{other}"),
                ));
            }
        };
        if c.test {
            return Ok(pending(name, future, Default::default()));
        }
        let out = call(c.host, fun, vec![json!(name)], &[])?;
        let ok = !matches!(out, Value::Bool(false));
        Ok(StateResult {
            result: Some(ok),
            changes: one(name, json!(ok)),
            ..StateResult::ok(name, past)
        })
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run};
    use crate::modules::text;

    fn host(up: bool, on_boot: bool) -> MockHost {
        MockHost::new(move |f, _, _| match f {
            "service.offline" => Ok(json!(false)),
            "service.available" => Ok(json!(true)),
            "service.status" => Ok(json!(up)),
            "service.enabled" => Ok(json!(on_boot)),
            "service.disabled" => Ok(json!(!on_boot)),
            "service.start" | "service.stop" | "service.restart" | "service.reload"
            | "service.enable" => Ok(json!(true)),
            _ => Err(format!("unexpected {f}")),
        })
    }

    #[test]
    fn running_is_quiet_when_running() {
        let h = host(true, true);
        let r = run(
            running,
            &h,
            &chunk("service", "running", "nginx", json!({"enable": true})),
            false,
        );
        assert_eq!(r.result, Some(true));
        assert_eq!(
            r.comment,
            "Service nginx is already enabled, and is running"
        );
        assert!(r.changes.is_empty());
    }

    #[test]
    fn running_predicts_a_start_in_test_mode() {
        let h = host(false, true);
        let r = run(
            running,
            &h,
            &chunk("service", "running", "nginx", json!({})),
            true,
        );
        assert_eq!(
            (r.result, r.comment.as_str()),
            (None, "Service nginx is set to start")
        );
        assert!(!h.called("service.start"));
    }

    #[test]
    fn enable_enables_a_disabled_service() {
        let h = host(true, false);
        let r = run(
            enabled,
            &h,
            &chunk("service", "enabled", "nginx", json!({})),
            false,
        );
        assert_eq!(
            r.comment,
            "Service nginx has been enabled, and is in the desired state"
        );
        assert_eq!(r.changes["nginx"], json!(true));
    }

    #[test]
    fn mod_watch_restarts_or_reloads() {
        let h = host(true, true);
        let r = run(
            mod_watch,
            &h,
            &chunk("service", "running", "nginx", json!({})),
            false,
        );
        assert_eq!(r.comment, "Service restarted");
        let r = run(
            mod_watch,
            &h,
            &chunk("service", "running", "nginx", json!({"reload": true})),
            false,
        );
        assert_eq!(r.comment, "Service reloaded");
        assert!(h.called("service.reload"));
    }

    /// systemd installed but not running: `available` raises, as in Salt.
    fn offline_host() -> MockHost {
        MockHost::new(|f, a, _| match f {
            "service.offline" => Ok(json!(true)),
            "service.available" => Err(format!(
                "ERROR: Cannot run in offline mode. Failed to get information on unit '{}'",
                text(&a[0])
            )),
            "service.status" => Ok(json!(false)),
            _ => Err(format!("unexpected {f}")),
        })
    }

    #[test]
    fn offline_running_and_dead_have_nothing_to_do() {
        let h = offline_host();
        for (fun, f) in [
            ("running", running as fn(&StateCall<'_>) -> StateResult),
            ("dead", dead),
        ] {
            for test in [true, false] {
                let ch = chunk("service", fun, "ssh", json!({"enable": true}));
                let r = run(f, &h, &ch, test);
                assert_eq!(r.result, Some(true));
                assert_eq!(r.comment, "Running in OFFLINE mode. Nothing to do");
                assert!(r.changes.is_empty());
            }
        }
        assert!(!h.called("service.available"));
    }

    #[test]
    fn offline_enabled_fails_with_the_modules_error() {
        let h = offline_host();
        let r = run(
            enabled,
            &h,
            &chunk("service", "enabled", "ssh", json!({})),
            true,
        );
        assert_eq!(r.result, Some(false));
        assert_eq!(
            r.comment,
            "Cannot run in offline mode. Failed to get information on unit 'ssh'"
        );
    }

    #[test]
    fn a_missing_service_in_test_mode_would_have_been_created() {
        let h = MockHost::new(|f, _, _| match f {
            "service.offline" | "service.available" => Ok(json!(false)),
            _ => Err(format!("unexpected {f}")),
        });
        let ch = chunk("service", "running", "nosuch", json!({}));
        let t = run(running, &h, &ch, true);
        assert_eq!(t.result, None);
        assert_eq!(
            t.comment,
            "Service nosuch not present; if created in this state run, it would have been started"
        );
        let r = run(running, &h, &ch, false);
        assert_eq!(r.result, Some(false));
        assert_eq!(r.comment, "The named service nosuch is not available");
        let dead_ch = chunk("service", "dead", "nosuch", json!({}));
        assert_eq!(run(dead, &h, &dead_ch, false).result, Some(true));
        assert_eq!(run(dead, &h, &dead_ch, true).result, None);
    }

    #[test]
    fn masking_and_unmasking() {
        let is_masked = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let state = is_masked.clone();
        let h = MockHost::new(move |f, _, _| match f {
            "service.masked" => Ok(json!(state.load(std::sync::atomic::Ordering::SeqCst))),
            "service.mask" => {
                state.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(json!(true))
            }
            _ => Err(format!("unexpected {f}")),
        });
        let mask = chunk("service", "masked", "docker", json!({}));
        let t = run(masked, &h, &mask, true);
        assert_eq!(
            (t.result, t.comment.as_str()),
            (None, "Service docker would be masked")
        );
        assert_eq!(t.changes["masked"], json!({"old": false, "new": true}));
        let r = run(masked, &h, &mask, false);
        assert_eq!(r.comment, "Service docker was masked");
        let unmask = chunk("service", "unmasked", "docker", json!({"runtime": true}));
        is_masked.store(false, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            run(unmasked, &h, &unmask, true).comment,
            "Service docker was already runtime unmasked"
        );
    }
}
