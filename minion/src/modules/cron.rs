//! Salt's `cron` execution module: read and edit a user's crontab through
//! `crontab -u USER -l` and `crontab -u USER -`.
//!
//! The crontab layout is Salt's, so crontabs Salt managed keep working:
//! lines above `# Lines below here are managed by Salt, do not edit` are
//! left alone (`pre`); below it come environment lines, jobs and `@special`
//! jobs, each optionally preceded by a comment carrying
//! `SALT_CRON_IDENTIFIER:<id>`, and `#DISABLED#` marks a commented-out job.

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use rand::Rng;
use serde_json::{Value, json};

use super::MinionCtx;
use super::host::{HostCmd, bool_param, check_name, required_str, str_param, value_text, which};

const TAG: &str = "# Lines below here are managed by Salt, do not edit";
const SALT_CRON_IDENTIFIER: &str = "SALT_CRON_IDENTIFIER";
const SALT_CRON_NO_IDENTIFIER: &str = "NO ID SET";
const DISABLED: &str = "#DISABLED#";

/// A user's crontab, as Salt's `list_tab` returns it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tab {
    pub pre: Vec<String>,
    pub crons: Vec<Job>,
    pub special: Vec<Job>,
    pub env: Vec<(String, Option<String>)>,
}

/// A job: timed (`minute hour daymonth month dayweek`) or `@special`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Job {
    /// `[minute, hour, daymonth, month, dayweek]`, or `[spec]` for a special job.
    pub when: Vec<String>,
    pub cmd: String,
    pub identifier: Option<String>,
    pub comment: Option<String>,
    pub commented: bool,
}

const TIME_FIELDS: [&str; 5] = ["minute", "hour", "daymonth", "month", "dayweek"];

impl Job {
    fn to_json(&self) -> Value {
        let mut map = serde_json::Map::new();
        if self.when.len() == 1 {
            map.insert("spec".into(), json!(self.when[0]));
            map.insert("cmd".into(), json!(self.cmd));
        } else {
            for (k, v) in TIME_FIELDS.iter().zip(&self.when) {
                map.insert(k.to_string(), json!(v));
            }
        }
        map.insert("identifier".into(), json!(self.identifier));
        if self.when.len() != 1 {
            map.insert("cmd".into(), json!(self.cmd));
        }
        map.insert("comment".into(), json!(self.comment));
        map.insert("commented".into(), json!(self.commented));
        Value::Object(map)
    }

    /// Salt's `_cron_id`.
    fn id(&self) -> String {
        self.identifier
            .clone()
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| SALT_CRON_NO_IDENTIFIER.into())
    }

    /// Salt's `_cron_matched`: the same identifier when both have one, else
    /// the same command.
    fn matches(&self, cmd: &str, identifier: Option<&str>) -> bool {
        let cid = self.id();
        let wanted = identifier
            .filter(|i| !i.is_empty())
            .unwrap_or(SALT_CRON_NO_IDENTIFIER);
        if self.cmd != cmd && cid == SALT_CRON_NO_IDENTIFIER && wanted == SALT_CRON_NO_IDENTIFIER {
            return false;
        }
        if self.cmd == cmd && cid == SALT_CRON_NO_IDENTIFIER && identifier.is_some() {
            return true;
        }
        wanted == cid
    }
}

impl Tab {
    pub fn to_json(&self) -> Value {
        json!({
            "pre": self.pre,
            "crons": self.crons.iter().map(Job::to_json).collect::<Vec<_>>(),
            "special": self.special.iter().map(Job::to_json).collect::<Vec<_>>(),
            "env": self.env.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>(),
        })
    }

    /// Parse crontab text (Salt's `list_tab`).
    pub fn parse(text: &str) -> Tab {
        let mut tab = Tab::default();
        let mut managed = false;
        let mut comment: Option<String> = None;
        let mut identifier: Option<String> = None;
        for line in text.lines() {
            if line == TAG {
                managed = true;
                continue;
            }
            if !managed {
                tab.pre.push(line.to_string());
                continue;
            }
            let (line, commented) = match line.strip_prefix(DISABLED) {
                Some(rest) => (rest, true),
                None => (line, false),
            };
            if line.starts_with('@') {
                let mut parts = line.splitn(2, char::is_whitespace);
                let spec = parts.next().unwrap_or_default();
                let cmd = parts.next().unwrap_or_default().trim();
                if cmd.is_empty() {
                    continue;
                }
                tab.special.push(Job {
                    when: vec![spec.to_string()],
                    cmd: cmd.to_string(),
                    identifier: identifier.take(),
                    comment: comment.take(),
                    commented,
                });
            } else if line.starts_with('#') {
                let mut text = line.trim_start_matches(['#', ' ']).to_string();
                if let Some((before, after)) = text.split_once(SALT_CRON_IDENTIFIER) {
                    if after.len() > 1 {
                        identifier = Some(after[1..].to_string());
                    }
                    text = before.trim_end().to_string();
                }
                comment = Some(match comment.take() {
                    Some(c) => format!("{c}\n{text}"),
                    None => text,
                });
            } else if is_env_line(line) {
                if let Some((name, value)) = line.split_once('=') {
                    tab.env.push((name.to_string(), Some(value.to_string())));
                }
            } else if let Some((when, cmd)) = split_timed(line) {
                tab.crons.push(Job {
                    when,
                    cmd,
                    identifier: identifier.take(),
                    comment: comment.take(),
                    commented,
                });
            }
        }
        tab
    }

    /// The crontab text (Salt's `_render_tab`).
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.pre {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str(TAG);
        out.push('\n');
        for (name, value) in &self.env {
            match value.as_deref() {
                None | Some("") => out.push_str(&format!("{name}=\"\"\n")),
                Some(v) => out.push_str(&format!("{name}={v}\n")),
            }
        }
        for job in self.crons.iter().chain(&self.special) {
            render_job(job, &mut out);
        }
        out
    }
}

fn render_job(job: &Job, out: &mut String) {
    if job.comment.is_some() || job.identifier.is_some() {
        out.push('#');
        if let Some(c) = job.comment.as_deref().filter(|c| !c.is_empty()) {
            out.push(' ');
            out.push_str(&c.trim_end().replace('\n', "\n# "));
        }
        if let Some(id) = job.identifier.as_deref().filter(|i| !i.is_empty()) {
            out.push_str(&format!(" {SALT_CRON_IDENTIFIER}:{id}"));
        }
        out.push('\n');
    }
    if job.commented {
        out.push_str(DISABLED);
    }
    out.push_str(&job.when.join(" "));
    out.push(' ');
    out.push_str(&job.cmd);
    out.push('\n');
}

/// `NAME=value` with the `=` before any space.
fn is_env_line(line: &str) -> bool {
    match (line.find('='), line.find(' ')) {
        (Some(eq), None) => eq > 0,
        (Some(eq), Some(sp)) => eq > 0 && eq < sp,
        _ => false,
    }
}

/// Five time fields and the command.
fn split_timed(line: &str) -> Option<(Vec<String>, String)> {
    let mut rest = line.trim_start();
    let mut when = Vec::with_capacity(5);
    for _ in 0..5 {
        let end = rest.find(char::is_whitespace)?;
        when.push(rest[..end].to_string());
        rest = rest[end..].trim_start();
    }
    (!rest.is_empty()).then(|| (when, rest.to_string()))
}

/// Salt's `_needs_change`: `None` (not given) never asks for a change, and
/// `random` only replaces `*`.
fn needs_change(old: Option<&str>, new: Option<&str>) -> bool {
    match new {
        None => false,
        Some(new) if old == Some(new) => false,
        Some("random") => old == Some("*"),
        Some(_) => true,
    }
}

pub fn register(f: &mut Functions<MinionCtx>) {
    // Salt's `__virtual__`: no `crontab` program, no cron module (and so no
    // cron states: "'cron' __virtual__ returned False").
    if which("crontab").is_none() {
        return;
    }
    f.register(
        "cron.raw_cron",
        "user",
        RAW_CRON_DOC,
        |_, call| async move {
            let user = user_arg(&call)?;
            Ok(json!(raw_cron(&user).await?).into())
        },
    );
    for name in ["cron.list_tab", "cron.ls"] {
        f.register(name, "user", LIST_TAB_DOC, |_, call| async move {
            let user = user_arg(&call)?;
            Ok(read_tab(&user).await?.to_json().into())
        });
    }
    f.register(
        "cron.set_job",
        "user, minute, hour, daymonth, month, dayweek, cmd, commented=False, comment=None, identifier=None",
        SET_JOB_DOC,
        |_, call| async move { set_job(&call).await },
    );
    for name in ["cron.rm_job", "cron.rm"] {
        f.register(
            name,
            "user, cmd, minute=None, hour=None, daymonth=None, month=None, dayweek=None, identifier=None",
            RM_JOB_DOC,
            |_, call| async move { rm_job(&call).await },
        );
    }
    f.register(
        "cron.set_special",
        "user, special, cmd, commented=False, comment=None, identifier=None",
        SET_SPECIAL_DOC,
        |_, call| async move { set_special(&call).await },
    );
    f.register(
        "cron.rm_special",
        "user, cmd, special=None, identifier=None",
        RM_SPECIAL_DOC,
        |_, call| async move { rm_special(&call).await },
    );
    f.register(
        "cron.set_env",
        "user, name, value=None",
        SET_ENV_DOC,
        |_, call| async move { set_env(&call).await },
    );
    f.register(
        "cron.rm_env",
        "user, name",
        RM_ENV_DOC,
        |_, call| async move { rm_env(&call).await },
    );
}

fn user_arg(call: &Call) -> Result<String, FnError> {
    let user = required_str(call, 0, "user")?;
    check_name("user", &user)?;
    Ok(user)
}

/// `crontab` for `user`: `-u user` when running as root (or for another
/// user); nothing extra for our own crontab.
fn crontab(user: &str) -> Result<HostCmd, FnError> {
    if nix::unistd::geteuid().is_root() {
        return Ok(HostCmd::new("crontab").args(["-u", user]));
    }
    let me = nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name);
    if me.as_deref() == Some(user) {
        Ok(HostCmd::new("crontab"))
    } else {
        Err(FnError::Execution(format!(
            "cannot edit the crontab of {user}: the minion does not run as root"
        )))
    }
}

/// The user's crontab text ('' when there is none).
async fn raw_cron(user: &str) -> Result<String, FnError> {
    let out = crontab(user)?.arg("-l").output().await?;
    if !out.success() {
        if out.stderr.contains("no crontab for") {
            return Ok(String::new());
        }
        return Err(FnError::Execution(out.failure_message()));
    }
    let mut lines: Vec<&str> = out.stdout.split_inclusive('\n').collect();
    if lines
        .first()
        .is_some_and(|l| l.starts_with("# DO NOT EDIT THIS FILE - edit the master and reinstall."))
    {
        lines.drain(..lines.len().min(3));
    }
    Ok(lines.concat())
}

async fn read_tab(user: &str) -> Result<Tab, FnError> {
    Ok(Tab::parse(&raw_cron(user).await?))
}

async fn write_tab(user: &str, tab: &Tab) -> Result<(), FnError> {
    crontab(user)?
        .arg("-")
        .stdin(tab.render())
        .checked()
        .await
        .map(|_| ())
}

/// A time field as Salt writes it: `random` and `a:b` ranges become a
/// number; anything else is kept (lower-cased).
fn resolve_time(field: &str, value: &str, month: &str) -> String {
    let value = value.to_lowercase();
    let mut rng = rand::rng();
    let (lo, hi) = match field {
        "minute" => (0, 59),
        "hour" => (0, 23),
        "month" => (1, 12),
        "dayweek" => (0, 6),
        _ => match month {
            "1" | "3" | "5" | "7" | "8" | "10" | "12" => (1, 31),
            "4" | "6" | "9" | "11" => (1, 30),
            _ => (1, 28),
        },
    };
    if value == "random" {
        return rng.random_range(lo..=hi).to_string();
    }
    if field != "daymonth"
        && let Some((a, b)) = value.split_once(':')
        && let (Ok(a), Ok(b)) = (a.parse::<i64>(), b.parse::<i64>())
    {
        let (a, b) = (a.min(b), a.max(b));
        return rng.random_range(a..=b).to_string();
    }
    value
}

/// The wanted job of a `set_job`/`set_special` call.
struct Wanted {
    when: Vec<String>,
    cmd: String,
    commented: bool,
    comment: Option<String>,
    identifier: Option<String>,
}

/// Salt's answer for adding or updating a job in `jobs`: `new`, `updated`
/// or `present`.
fn upsert(jobs: &mut Vec<Job>, wanted: Wanted) -> &'static str {
    let Some(pos) = jobs
        .iter()
        .position(|j| j.matches(&wanted.cmd, wanted.identifier.as_deref()))
    else {
        let mut when = wanted.when.clone();
        if when.len() == 5 {
            let month = resolve_time("month", &when[3], "");
            when = TIME_FIELDS
                .iter()
                .zip(&when)
                .map(|(f, v)| resolve_time(f, v, &month))
                .collect();
        }
        jobs.push(Job {
            when,
            cmd: wanted.cmd,
            identifier: wanted.identifier,
            comment: wanted.comment,
            commented: wanted.commented,
        });
        return "new";
    };
    let old = &jobs[pos];
    let time_changes: Vec<bool> = old
        .when
        .iter()
        .zip(&wanted.when)
        .map(|(o, n)| needs_change(Some(o), Some(n)))
        .collect();
    let comment_change = needs_change(old.comment.as_deref(), wanted.comment.as_deref());
    let id_change = needs_change(old.identifier.as_deref(), wanted.identifier.as_deref());
    let cmd_change = old.cmd != wanted.cmd;
    let commented_change = old.commented != wanted.commented;
    if !(time_changes.iter().any(|c| *c)
        || comment_change
        || id_change
        || cmd_change
        || commented_change)
    {
        return "present";
    }
    let mut job = jobs.remove(pos);
    let month = if time_changes.get(3) == Some(&true) {
        resolve_time("month", &wanted.when[3], "")
    } else {
        job.when.get(3).cloned().unwrap_or_default()
    };
    for (i, changed) in time_changes.iter().enumerate() {
        if *changed {
            let field = if job.when.len() == 1 {
                "spec"
            } else {
                TIME_FIELDS[i]
            };
            job.when[i] = if field == "spec" {
                wanted.when[i].clone()
            } else {
                resolve_time(field, &wanted.when[i], &month)
            };
        }
    }
    if comment_change {
        job.comment = wanted.comment;
    }
    if id_change {
        job.identifier = wanted.identifier;
    }
    job.cmd = wanted.cmd;
    job.commented = wanted.commented;
    jobs.push(job);
    "updated"
}

async fn set_job(call: &Call) -> Result<FnOutput, FnError> {
    let user = user_arg(call)?;
    let mut when = Vec::with_capacity(5);
    for (i, field) in TIME_FIELDS.iter().enumerate() {
        when.push(required_str(call, i + 1, field)?.to_lowercase());
    }
    let wanted = Wanted {
        when,
        cmd: required_str(call, 6, "cmd")?,
        commented: bool_param(call, 7, "commented", false),
        comment: str_param(call, 8, "comment"),
        identifier: str_param(call, 9, "identifier"),
    };
    let mut tab = read_tab(&user).await?;
    let ret = upsert(&mut tab.crons, wanted);
    if ret != "present" {
        write_tab(&user, &tab).await?;
    }
    Ok(json!(ret).into())
}

async fn set_special(call: &Call) -> Result<FnOutput, FnError> {
    let user = user_arg(call)?;
    let special = required_str(call, 1, "special")?;
    if !special.starts_with('@') || special.contains(char::is_whitespace) {
        return Err(FnError::Invocation(format!(
            "invalid special {special:?}: expected something like @hourly"
        )));
    }
    let wanted = Wanted {
        when: vec![special],
        cmd: required_str(call, 2, "cmd")?,
        commented: bool_param(call, 3, "commented", false),
        comment: str_param(call, 4, "comment"),
        identifier: str_param(call, 5, "identifier"),
    };
    let mut tab = read_tab(&user).await?;
    let ret = upsert(&mut tab.special, wanted);
    if ret != "present" {
        write_tab(&user, &tab).await?;
    }
    Ok(json!(ret).into())
}

/// Salt's `_date_time_match`: every given field equals the job's (or is
/// `random` and the job's is not `*`).
fn date_time_match(job: &Job, given: &[Option<String>]) -> bool {
    job.when.iter().zip(given).all(|(have, want)| match want {
        None => true,
        Some(w) => have == w || (w.eq_ignore_ascii_case("random") && have != "*"),
    })
}

async fn rm_job(call: &Call) -> Result<FnOutput, FnError> {
    let user = user_arg(call)?;
    let cmd = required_str(call, 1, "cmd")?;
    let given: Vec<Option<String>> = TIME_FIELDS
        .iter()
        .enumerate()
        .map(|(i, f)| call.param(i + 2, f).and_then(value_text))
        .collect();
    let identifier = str_param(call, 7, "identifier");
    let mut tab = read_tab(&user).await?;
    let found = tab.crons.iter().position(|j| {
        j.matches(&cmd, identifier.as_deref())
            && (given.iter().all(Option::is_none) || date_time_match(j, &given))
    });
    let Some(pos) = found else {
        return Ok(json!("absent").into());
    };
    tab.crons.remove(pos);
    write_tab(&user, &tab).await?;
    Ok(json!("removed").into())
}

async fn rm_special(call: &Call) -> Result<FnOutput, FnError> {
    let user = user_arg(call)?;
    let cmd = required_str(call, 1, "cmd")?;
    let special = str_param(call, 2, "special");
    let identifier = str_param(call, 3, "identifier");
    let mut tab = read_tab(&user).await?;
    let found = tab.special.iter().position(|j| {
        j.matches(&cmd, identifier.as_deref())
            && special.as_ref().is_none_or(|s| j.when.first() == Some(s))
    });
    let Some(pos) = found else {
        return Ok(json!("absent").into());
    };
    tab.special.remove(pos);
    write_tab(&user, &tab).await?;
    Ok(json!("removed").into())
}

async fn set_env(call: &Call) -> Result<FnOutput, FnError> {
    let user = user_arg(call)?;
    let name = required_str(call, 1, "name")?;
    if name.is_empty() || name.contains(['=', ' ', '\n']) {
        return Err(FnError::Invocation(format!(
            "invalid variable name {name:?}"
        )));
    }
    let value = str_param(call, 2, "value");
    let mut tab = read_tab(&user).await?;
    let ret = match tab.env.iter().position(|(n, _)| *n == name) {
        Some(i) if tab.env[i].1 == value => return Ok(json!("present").into()),
        Some(i) => {
            tab.env.remove(i);
            "updated"
        }
        None => "new",
    };
    tab.env.push((name, value));
    write_tab(&user, &tab).await?;
    Ok(json!(ret).into())
}

async fn rm_env(call: &Call) -> Result<FnOutput, FnError> {
    let user = user_arg(call)?;
    let name = required_str(call, 1, "name")?;
    let mut tab = read_tab(&user).await?;
    let Some(i) = tab.env.iter().rposition(|(n, _)| *n == name) else {
        return Ok(json!("absent").into());
    };
    tab.env.remove(i);
    write_tab(&user, &tab).await?;
    Ok(json!("removed").into())
}

const RAW_CRON_DOC: &str =
    "Return the contents of the user's crontab\n\nCLI Example:\n\n    brine '*' cron.raw_cron root";
const LIST_TAB_DOC: &str = "Return the contents of the specified user's crontab\n\nReturns {'pre': [...], 'crons': [...], 'special': [...], 'env': [...]}.\n\nCLI Example:\n\n    brine '*' cron.list_tab root";
const SET_JOB_DOC: &str = "Sets a cron job up for a specified user.\n\nReturns 'new', 'updated' or 'present'. A time field of ``random`` picks a\nrandom value (kept on later calls); ``a:b`` picks one in that range.\n\nCLI Example:\n\n    brine '*' cron.set_job root '*' '*' '*' '*' 1 /usr/local/weekly";
const RM_JOB_DOC: &str = "Remove a cron job for a specified user. If any of the day/time params are\nspecified, the job will only be removed if the specified params match.\n\nReturns 'removed' or 'absent'.\n\nCLI Example:\n\n    brine '*' cron.rm_job root /usr/local/weekly\n    brine '*' cron.rm_job root /usr/bin/foo dayweek=1";
const SET_SPECIAL_DOC: &str = "Set up a special command in the crontab.\n\nCLI Example:\n\n    brine '*' cron.set_special root @hourly 'echo foobar'";
const RM_SPECIAL_DOC: &str = "Remove a special cron job for a specified user.\n\nCLI Example:\n\n    brine '*' cron.rm_special root /usr/bin/foo";
const SET_ENV_DOC: &str = "Set up an environment variable in the crontab.\n\nCLI Example:\n\n    brine '*' cron.set_env root MAILTO user@example.com";
const RM_ENV_DOC: &str = "Remove cron environment variable for a specified user.\n\nCLI Example:\n\n    brine '*' cron.rm_env root MAILTO";

#[cfg(test)]
mod tests {
    use super::*;

    const CRONTAB: &str = "\
# an unmanaged comment
0 5 * * * /usr/bin/backup
# Lines below here are managed by Salt, do not edit
MAILTO=ops@example.com
EMPTY=\"\"
# nightly report SALT_CRON_IDENTIFIER:report
30 2 * * *  /usr/local/bin/report --all
#DISABLED#*/5 * * * * /bin/true
# SALT_CRON_IDENTIFIER:tick
@hourly /usr/bin/tick
";

    #[test]
    fn parses_salts_layout() {
        let tab = Tab::parse(CRONTAB);
        assert_eq!(
            tab.pre,
            ["# an unmanaged comment", "0 5 * * * /usr/bin/backup"]
        );
        assert_eq!(
            tab.env,
            [
                ("MAILTO".to_string(), Some("ops@example.com".to_string())),
                ("EMPTY".to_string(), Some("\"\"".to_string()))
            ]
        );
        assert_eq!(tab.crons.len(), 2);
        let report = &tab.crons[0];
        assert_eq!(report.when, ["30", "2", "*", "*", "*"]);
        assert_eq!(report.cmd, "/usr/local/bin/report --all");
        assert_eq!(report.identifier.as_deref(), Some("report"));
        assert_eq!(report.comment.as_deref(), Some("nightly report"));
        assert!(tab.crons[1].commented);
        assert_eq!(tab.crons[1].comment, None);
        assert_eq!(tab.special[0].when, ["@hourly"]);
        assert_eq!(tab.special[0].identifier.as_deref(), Some("tick"));
        assert_eq!(tab.special[0].comment.as_deref(), Some(""));
        let json = tab.to_json();
        assert_eq!(
            json["crons"][0],
            json!({"minute": "30", "hour": "2", "daymonth": "*", "month": "*", "dayweek": "*",
                   "identifier": "report", "cmd": "/usr/local/bin/report --all",
                   "comment": "nightly report", "commented": false})
        );
        assert_eq!(
            json["special"][0],
            json!({"spec": "@hourly", "cmd": "/usr/bin/tick", "identifier": "tick", "comment": "", "commented": false})
        );
    }

    #[test]
    fn renders_back() {
        let tab = Tab::parse(CRONTAB);
        let text = tab.render();
        assert!(text.starts_with("# an unmanaged comment\n0 5 * * * /usr/bin/backup\n# Lines below here are managed by Salt, do not edit\nMAILTO=ops@example.com\n"));
        assert!(text.contains(
            "# nightly report SALT_CRON_IDENTIFIER:report\n30 2 * * * /usr/local/bin/report --all\n"
        ));
        assert!(text.contains("#DISABLED#*/5 * * * * /bin/true\n"));
        assert!(text.contains("# SALT_CRON_IDENTIFIER:tick\n@hourly /usr/bin/tick\n"));
        assert_eq!(Tab::parse(&text), tab);
        assert_eq!(Tab::default().render(), format!("{TAG}\n"));
    }

    fn wanted(when: &[&str], cmd: &str, identifier: Option<&str>) -> Wanted {
        Wanted {
            when: when.iter().map(|s| s.to_string()).collect(),
            cmd: cmd.into(),
            commented: false,
            comment: None,
            identifier: identifier.map(String::from),
        }
    }

    #[test]
    fn set_job_is_new_then_present_then_updated() {
        let mut jobs = Vec::new();
        assert_eq!(
            upsert(
                &mut jobs,
                wanted(&["1", "2", "*", "*", "*"], "/bin/x", None)
            ),
            "new"
        );
        assert_eq!(
            upsert(
                &mut jobs,
                wanted(&["1", "2", "*", "*", "*"], "/bin/x", None)
            ),
            "present"
        );
        assert_eq!(
            upsert(
                &mut jobs,
                wanted(&["5", "2", "*", "*", "*"], "/bin/x", None)
            ),
            "updated"
        );
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].when[0], "5");
        // By identifier, the command itself can change.
        assert_eq!(
            upsert(
                &mut jobs,
                wanted(&["0", "0", "*", "*", "*"], "/bin/y", Some("job"))
            ),
            "new"
        );
        assert_eq!(
            upsert(
                &mut jobs,
                wanted(&["0", "0", "*", "*", "*"], "/bin/z", Some("job"))
            ),
            "updated"
        );
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[1].cmd, "/bin/z");
        // random picks a number once and then keeps it.
        assert_eq!(
            upsert(
                &mut jobs,
                wanted(&["random", "*", "*", "*", "*"], "/bin/r", None)
            ),
            "new"
        );
        let minute: u32 = jobs[2].when[0].parse().expect("a number");
        assert!(minute < 60);
        assert_eq!(
            upsert(
                &mut jobs,
                wanted(&["random", "*", "*", "*", "*"], "/bin/r", None)
            ),
            "present"
        );
    }

    #[test]
    fn time_matching_for_rm_job() {
        let job = Job {
            when: ["1", "2", "*", "*", "5"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            cmd: "/bin/x".into(),
            ..Job::default()
        };
        assert!(date_time_match(
            &job,
            &[None, None, None, None, Some("5".into())]
        ));
        assert!(!date_time_match(
            &job,
            &[None, None, None, None, Some("4".into())]
        ));
        assert!(date_time_match(
            &job,
            &[Some("random".into()), None, None, None, None]
        ));
        assert!(job.matches("/bin/x", None));
        assert!(!job.matches("/bin/other", None));
    }

    #[test]
    fn change_rules() {
        assert!(!needs_change(Some("1"), None));
        assert!(needs_change(Some("1"), Some("2")));
        assert!(needs_change(Some("*"), Some("random")));
        assert!(!needs_change(Some("7"), Some("random")));
        assert!(is_env_line("A=b c"));
        assert!(!is_env_line("* * * * * A=b"));
        assert!(split_timed("1 2 3").is_none());
    }
}
