//! Salt's `cron` states: `present` and `absent` jobs in a user's crontab,
//! through `cron.list_tab`, `cron.set_job`/`set_special` and
//! `cron.rm_job`/`rm_special`.

use serde_json::{Map, Value, json};

use super::{call, changed, name_of, one, pending, str_of, text};
use crate::lowstate::{StateCall, StateModules, StateResult};

pub fn register(m: &mut StateModules) {
    m.register("cron.present", present);
    m.register("cron.absent", absent);
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
                None => StateResult::ok(name, format!("Cron {name} already absent")),
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
}
