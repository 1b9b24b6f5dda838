//! Salt's `timezone.system`: the system time zone and whether the hardware
//! clock keeps UTC, through `timezone.zone_compare`, `get_hwclock`,
//! `set_zone` and `set_hwclock`.
//!
//! Where Salt's state lets an execution error escape (`get_hwclock` when
//! `timedatectl` fails, in a container without systemd) and prints a
//! traceback, this one fails with the error's own text.

use serde_json::{Map, Value, json};

use super::{arg, call, exc_text, name_of, text, truthy};
use crate::lowstate::{StateCall, StateModules, StateResult};

pub fn register(m: &mut StateModules) {
    m.register("timezone.system", system);
    m.require_function(
        "timezone",
        "timezone.get_zone",
        "timezone module could not be loaded",
    );
}

/// Python's `utc == flag` for a `bool` flag: `True == 1`, `False == 0`.
fn equals_bool(v: &Value, flag: bool) -> bool {
    match v {
        Value::Bool(b) => *b == flag,
        Value::Number(n) => n.as_f64() == Some(if flag { 1.0 } else { 0.0 }),
        _ => false,
    }
}

/// `timezone.system`: the zone is `name`; with `utc` (default True) the
/// hardware clock keeps UTC.
fn system(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let utc = match arg(c.chunk, "utc") {
        Value::Null if c.chunk.arg("utc").is_none() => json!(true),
        v => v,
    };
    let compzone = match call(c.host, "timezone.zone_compare", vec![json!(name)], &[]) {
        Ok(v) => v,
        Err(e) => {
            return StateResult::fail(
                name,
                format!(
                    "Unable to compare desired timezone '{name}' to system timezone: {}",
                    exc_text(&e)
                ),
            );
        }
    };
    let hwclock = match call(c.host, "timezone.get_hwclock", vec![], &[]) {
        Ok(v) => v,
        Err(e) => return StateResult::fail(name, exc_text(&e)),
    };
    let myutc = hwclock.as_str() != Some("localtime");
    let mut ret = StateResult {
        result: None,
        ..StateResult::new(name)
    };
    let mut messages = Vec::new();
    let do_zone = compzone != json!(true);
    if !do_zone {
        ret.result = Some(true);
        messages.push(format!("Timezone {name} already set"));
    }
    let utc_wanted = truthy(&utc);
    let do_utc = utc_wanted && !equals_bool(&utc, myutc);
    if do_utc {
        ret.result = None;
    } else if utc_wanted {
        messages.push(format!("UTC already set to {name}"));
    }
    if ret.result == Some(true) {
        ret.comment = messages.join(", ");
        return ret;
    }
    if c.test {
        let mut predicted = Vec::new();
        if compzone == json!(false) {
            predicted.push(format!("Timezone {name} needs to be set"));
        }
        if do_utc {
            predicted.push(format!("UTC needs to be set to {}", text(&utc)));
        }
        ret.comment = predicted.join(", ");
        return ret;
    }
    apply(c, ret, do_zone, do_utc, &utc)
}

/// Set what differs, Salt's messages and changes.
fn apply(
    c: &StateCall<'_>,
    mut ret: StateResult,
    do_zone: bool,
    do_utc: bool,
    utc: &Value,
) -> StateResult {
    let name = name_of(c);
    let mut messages = Vec::new();
    let mut changes = Map::new();
    if do_zone {
        match call(c.host, "timezone.set_zone", vec![json!(name)], &[]) {
            Ok(v) if truthy(&v) => {
                changes.insert("timezone".into(), json!(name));
                messages.push(format!("Set timezone {name}"));
                ret.result = Some(true);
            }
            Ok(_) => {
                messages.push("Failed to set timezone".to_string());
                ret.result = Some(false);
            }
            Err(e) => return StateResult::fail(name, exc_text(&e)),
        }
    }
    if do_utc {
        let clock = if truthy(utc) { "UTC" } else { "localtime" };
        match call(c.host, "timezone.set_hwclock", vec![json!(clock)], &[]) {
            Ok(v) if truthy(&v) => {
                changes.insert("utc".into(), utc.clone());
                messages.push(format!("Set UTC to {}", text(utc)));
                ret.result = Some(true);
            }
            Ok(_) => {
                messages.push(format!("Failed to set UTC to {}", text(utc)));
                ret.result = Some(false);
            }
            Err(e) => return StateResult::fail(name, exc_text(&e)),
        }
    }
    ret.changes = changes;
    ret.comment = messages.join(", ");
    ret
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run};

    /// A host whose zone is `zone`, whose clock is `clock`, and whose
    /// setters succeed.
    fn host(zone: &'static str, clock: Value) -> MockHost {
        MockHost::new(move |f, args, _| match f {
            "timezone.zone_compare" => Ok(json!(args.first() == Some(&json!(zone)))),
            "timezone.get_hwclock" => Ok(clock.clone()),
            "timezone.set_zone" | "timezone.set_hwclock" => Ok(json!(true)),
            _ => Err(format!("unexpected {f}")),
        })
    }

    #[test]
    fn a_set_zone_and_utc_clock_are_already_right() {
        let h = host("Europe/Berlin", json!("UTC"));
        let ch = chunk("timezone", "system", "Europe/Berlin", json!({}));
        let r = run(system, &h, &ch, true);
        assert_eq!(r.result, Some(true));
        assert_eq!(
            r.comment,
            "Timezone Europe/Berlin already set, UTC already set to Europe/Berlin"
        );
    }

    #[test]
    fn test_mode_predicts_zone_and_clock_changes() {
        let h = host("Etc/UTC", json!("localtime"));
        let ch = chunk("timezone", "system", "Europe/Berlin", json!({"utc": true}));
        let r = run(system, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(
            r.comment,
            "Timezone Europe/Berlin needs to be set, UTC needs to be set to True"
        );
        assert!(!h.called("timezone.set_zone"));
    }

    #[test]
    fn a_real_run_sets_zone_and_clock() {
        let h = host("Etc/UTC", json!("localtime"));
        let ch = chunk("timezone", "system", "Europe/Berlin", json!({}));
        let r = run(system, &h, &ch, false);
        assert_eq!(r.result, Some(true));
        assert_eq!(r.comment, "Set timezone Europe/Berlin, Set UTC to True");
        assert_eq!(
            r.changes,
            json!({"timezone": "Europe/Berlin", "utc": true})
                .as_object()
                .cloned()
                .unwrap_or_default()
        );
        assert_eq!(
            h.calls_to("timezone.set_hwclock")[0].args,
            vec![json!("UTC")]
        );
    }

    #[test]
    fn utc_false_leaves_the_clock_alone() {
        let h = host("Etc/UTC", Value::Null);
        let ch = chunk("timezone", "system", "Europe/Berlin", json!({"utc": false}));
        let r = run(system, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(r.comment, "Timezone Europe/Berlin needs to be set");
    }

    #[test]
    fn a_failing_timedatectl_fails_the_state_with_its_message() {
        // What this container answers: systemd is not PID 1, so Salt's
        // get_hwclock raises (Salt prints a traceback).
        let h = MockHost::new(|f, _, _| {
            match f {
            "timezone.zone_compare" => Ok(json!(false)),
            "timezone.get_hwclock" => Err("ERROR: timedatectl failed: System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down".into()),
            _ => Err(format!("unexpected {f}")),
        }
        });
        let ch = chunk("timezone", "system", "Europe/Berlin", json!({"utc": true}));
        let r = run(system, &h, &ch, true);
        assert_eq!(r.result, Some(false));
        assert_eq!(
            r.comment,
            "timedatectl failed: System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down"
        );
    }

    #[test]
    fn a_zone_that_cannot_be_compared_fails_with_salts_words() {
        let h = MockHost::new(|f, _, _| {
            match f {
            "timezone.zone_compare" => Err(
                "ERROR executing 'timezone.zone_compare': Can't find a local timezone \"Mars/Base\""
                    .into(),
            ),
            _ => Err(format!("unexpected {f}")),
        }
        });
        let ch = chunk("timezone", "system", "Mars/Base", json!({}));
        let r = run(system, &h, &ch, true);
        assert_eq!(r.result, Some(false));
        assert_eq!(
            r.comment,
            "Unable to compare desired timezone 'Mars/Base' to system timezone: Can't find a local timezone \"Mars/Base\""
        );
    }
}
