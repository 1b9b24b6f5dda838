//! Salt's `cron` states: `present` and `absent` jobs in a user's crontab,
//! through `cron.list_tab`, `cron.set_job`/`set_special` and
//! `cron.rm_job`/`rm_special`; `env_present` and `env_absent` variables
//! through `cron.set_env`/`cron.rm_env`.

use serde_json::{Map, Value, json};

use super::{call, changed, name_of, one, pending, str_of, text};
use crate::lowstate::{StateCall, StateModules, StateResult};

pub fn register(m: &mut StateModules) {
    m.require_function("cron", "cron.list_tab", "cron module could not be loaded");
    m.register("cron.present", present);
    m.register("cron.absent", absent);
    m.register("cron.env_present", env_present);
    m.register("cron.env_absent", env_absent);
}

const FIELDS: [&str; 5] = ["minute", "hour", "daymonth", "month", "dayweek"];

fn user(c: &StateCall<'_>) -> String {
    str_of(c.chunk, "user").unwrap_or_else(|| "root".into())
}

/// The crontab entry this state is about: by `identifier`, else by command.
fn find(c: &StateCall<'_>) -> Result<Option<Map<String, Value>>, String> {
    let tab = call(c.host, "cron.list_tab", vec![json!(user(c))], &[])?;
    let ident = str_of(c.chunk, "identifier");
    let key = if str_of(c.chunk, "special").is_some() {
        "special"
    } else {
        "crons"
    };
    let entries = tab
        .get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(entries
        .into_iter()
        .filter_map(|e| e.as_object().cloned())
        .find(|e| match &ident {
            Some(id) => e.get("identifier").map(text).as_deref() == Some(id.as_str()),
            None => e.get("cmd").map(text).as_deref() == Some(name_of(c)),
        }))
}

/// Whether an existing entry already matches the state's fields.
fn matches(c: &StateCall<'_>, e: &Map<String, Value>) -> bool {
    let field = |k: &str| e.get(k).map(text).unwrap_or_default();
    if let Some(special) = str_of(c.chunk, "special") {
        return field("spec") == special && field("cmd") == name_of(c);
    }
    FIELDS
        .iter()
        .all(|k| field(k) == str_of(c.chunk, k).unwrap_or_else(|| "*".into()))
        && field("cmd") == name_of(c)
        && e.get("commented")
            .is_some_and(|v| *v == json!(c.chunk.bool_arg("commented", false)))
}

fn present(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let user = user(c);
    let run = || -> Result<StateResult, String> {
        if c.test {
            return Ok(match find(c)? {
                Some(e) if matches(c, &e) => {
                    StateResult::ok(name, format!("Cron {name} already present"))
                }
                Some(_) => pending(
                    name,
                    format!("Cron {name} is set to be updated"),
                    Map::new(),
                ),
                None => pending(name, format!("Cron {name} is set to be added"), Map::new()),
            });
        }
        let common = [
            ("commented", json!(c.chunk.bool_arg("commented", false))),
            (
                "comment",
                c.chunk.arg("comment").cloned().unwrap_or(Value::Null),
            ),
            (
                "identifier",
                c.chunk.arg("identifier").cloned().unwrap_or(Value::Null),
            ),
        ];
        let status = match str_of(c.chunk, "special") {
            Some(special) => call(
                c.host,
                "cron.set_special",
                vec![json!(user), json!(special), json!(name)],
                &common,
            )?,
            None => {
                let mut args = vec![json!(user)];
                args.extend(
                    FIELDS
                        .iter()
                        .map(|k| json!(str_of(c.chunk, k).unwrap_or_else(|| "*".into()))),
                );
                args.push(json!(name));
                call(c.host, "cron.set_job", args, &common)?
            }
        };
        Ok(match text(&status).as_str() {
            "present" => StateResult::ok(name, format!("Cron {name} already present")),
            "new" => changed(
                name,
                format!("Cron {name} added to {user}'s crontab"),
                one(&user, json!(name)),
            ),
            "updated" => changed(
                name,
                format!("Cron {name} updated"),
                one(&user, json!(name)),
            ),
            other => StateResult::fail(
                name,
                format!("Cron {name} for user {user} failed to commit with error\n{other}"),
            ),
        })
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

fn absent(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let user = user(c);
    let run = || -> Result<StateResult, String> {
        if c.test {
            return Ok(match find(c)? {
                Some(_) => pending(
                    name,
                    format!("Cron {name} is set to be removed"),
                    Map::new(),
                ),
                None => StateResult::ok(name, format!("Cron {name} is absent")),
            });
        }
        let ident = c.chunk.arg("identifier").cloned().unwrap_or(Value::Null);
        let status = match str_of(c.chunk, "special") {
            Some(special) => call(
                c.host,
                "cron.rm_special",
                vec![json!(user), json!(name)],
                &[("special", json!(special)), ("identifier", ident)],
            )?,
            None => call(
                c.host,
                "cron.rm_job",
                vec![json!(user), json!(name)],
                &[("identifier", ident)],
            )?,
        };
        Ok(match text(&status).as_str() {
            "absent" => StateResult::ok(name, format!("Cron {name} already absent")),
            "removed" => changed(
                name,
                format!("Cron {name} removed from {user}'s crontab"),
                one(&user, json!(name)),
            ),
            other => StateResult::fail(
                name,
                format!("Cron {name} for user {user} failed to commit with error {other}"),
            ),
        })
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

/// Salt's `_check_cron_env`: `absent`, `present`, or `update` (another value).
fn env_status(c: &StateCall<'_>, user: &str, value: &str) -> Result<&'static str, String> {
    let tab = call(c.host, "cron.list_tab", vec![json!(user)], &[])?;
    let entries = tab
        .get("env")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let found = entries
        .iter()
        .find(|e| e.get("name").map(text).as_deref() == Some(name_of(c)));
    Ok(match found {
        None => "absent",
        Some(e) if e.get("value").map(text).unwrap_or_default() == value => "present",
        Some(_) => "update",
    })
}

/// `cron.env_present`: `NAME=value` among the crontab's variables.
fn env_present(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    let user = user(c);
    let value = c.chunk.arg("value").cloned().unwrap_or(Value::Null);
    let run = || -> Result<StateResult, String> {
        if c.test {
            return Ok(match env_status(c, &user, &text(&value))? {
                "present" => StateResult::ok(name, format!("Cron env {name} already present")),
                "update" => pending(
                    name,
                    format!("Cron env {name} is set to be updated"),
                    Map::new(),
                ),
                _ => pending(
                    name,
                    format!("Cron env {name} is set to be added"),
                    Map::new(),
                ),
            });
        }
        let status = call(
            c.host,
            "cron.set_env",
            vec![json!(user), json!(name)],
            &[("value", value.clone())],
        )?;
        Ok(match text(&status).as_str() {
            "present" => StateResult::ok(name, format!("Cron env {name} already present")),
            "new" => changed(
                name,
                format!("Cron env {name} added to {user}'s crontab"),
                one(&user, json!(name)),
            ),
            "updated" => changed(
                name,
                format!("Cron env {name} updated"),
                one(&user, json!(name)),
            ),
            other => StateResult::fail(
                name,
                format!("Cron env {name} for user {user} failed to commit with error \n{other}"),
            ),
        })
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

/// `cron.env_absent`: no variable `name` in the crontab.
fn env_absent(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c).trim();
    let user = user(c);
    let run = || -> Result<StateResult, String> {
        if c.test {
            return Ok(match env_status(c, &user, "")? {
                "absent" => StateResult::ok(name, format!("Cron env {name} is absent")),
                _ => pending(
                    name,
                    format!("Cron env {name} is set to be removed"),
                    Map::new(),
                ),
            });
        }
        let status = call(c.host, "cron.rm_env", vec![json!(user), json!(name)], &[])?;
        Ok(match text(&status).as_str() {
            "absent" => StateResult::ok(name, format!("Cron env {name} already absent")),
            "removed" => changed(
                name,
                format!("Cron env {name} removed from {user}'s crontab"),
                one(&user, json!(name)),
            ),
            other => StateResult::fail(
                name,
                format!("Cron env {name} for user {user} failed to commit with error {other}"),
            ),
        })
    };
    run().unwrap_or_else(|e| StateResult::fail(name, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run};

    #[test]
    fn present_reports_salts_comments() {
        let h = MockHost::new(|f, _, _| match f {
            "cron.list_tab" => Ok(
                json!({"crons": [{"minute": "5", "hour": "*", "daymonth": "*", "month": "*", "dayweek": "*", "cmd": "/bin/job", "commented": false}], "special": []}),
            ),
            "cron.set_job" => Ok(json!("new")),
            _ => Err(format!("unexpected {f}")),
        });
        let same = chunk("cron", "present", "/bin/job", json!({"minute": 5}));
        assert_eq!(
            run(present, &h, &same, true).comment,
            "Cron /bin/job already present"
        );
        let moved = chunk("cron", "present", "/bin/job", json!({"minute": 6}));
        assert_eq!(run(present, &h, &moved, true).result, None);
        let r = run(
            present,
            &h,
            &chunk("cron", "present", "/bin/other", json!({})),
            false,
        );
        assert_eq!(r.comment, "Cron /bin/other added to root's crontab");
        assert_eq!(r.changes["root"], json!("/bin/other"));
    }

    #[test]
    fn env_states_predict_and_set_like_salt() {
        let h = MockHost::new(|f, _, _| match f {
            "cron.list_tab" => {
                Ok(json!({"env": [{"name": "MAILTO", "value": "root"}], "crons": []}))
            }
            "cron.set_env" => Ok(json!("new")),
            "cron.rm_env" => Ok(json!("removed")),
            _ => Err(format!("unexpected {f}")),
        });
        let add = chunk("cron", "env_present", "PATH", json!({"value": "/bin"}));
        let r = run(env_present, &h, &add, true);
        assert_eq!(
            (r.result, r.comment.as_str()),
            (None, "Cron env PATH is set to be added")
        );
        let same = chunk("cron", "env_present", "MAILTO", json!({"value": "root"}));
        assert_eq!(
            run(env_present, &h, &same, true).comment,
            "Cron env MAILTO already present"
        );
        let other = chunk("cron", "env_present", "MAILTO", json!({"value": "me"}));
        assert_eq!(
            run(env_present, &h, &other, true).comment,
            "Cron env MAILTO is set to be updated"
        );
        let r = run(env_present, &h, &add, false);
        assert_eq!(r.comment, "Cron env PATH added to root's crontab");
        assert_eq!(r.changes["root"], json!("PATH"));
        let gone = chunk("cron", "env_absent", "LANG", json!({}));
        let r = run(env_absent, &h, &gone, true);
        assert_eq!(
            (r.result, r.comment.as_str()),
            (Some(true), "Cron env LANG is absent")
        );
        let rm = chunk("cron", "env_absent", "MAILTO", json!({}));
        assert_eq!(
            run(env_absent, &h, &rm, true).comment,
            "Cron env MAILTO is set to be removed"
        );
        assert_eq!(
            run(env_absent, &h, &rm, false).comment,
            "Cron env MAILTO removed from root's crontab"
        );
    }
}
