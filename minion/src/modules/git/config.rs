//! Salt's `git.config_*` execution functions: read (`config_get`,
//! `config_get_regexp`), set (`config_set`) and unset (`config_unset`) keys
//! of a repository's config (`--local`) or a user's (`global=True`), with
//! Salt's argument checks, return values and error texts, which the
//! `git.config_set`/`git.config_unset` states are built from.

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use serde_json::{Map, Value, json};

use super::{Git, reg};
use crate::modules::MinionCtx;
use crate::modules::host::{CmdOutput, required_str, str_param, value_text};

pub(super) fn register(f: &mut Functions<MinionCtx>) {
    reg(
        f,
        "git.config_get",
        "key, cwd=None, user=None, password=None, ignore_retcode=False, output_encoding=None, **kwargs",
        CONFIG_GET_DOC,
        |g, c| Box::pin(config_get(g, c)),
    );
    reg(
        f,
        "git.config_get_regexp",
        "key, value_regex=None, cwd=None, user=None, password=None, ignore_retcode=False, output_encoding=None, **kwargs",
        CONFIG_GET_REGEXP_DOC,
        |g, c| Box::pin(config_get_regexp(g, c)),
    );
    reg(
        f,
        "git.config_set",
        "key, value=None, multivar=None, cwd=None, user=None, password=None, ignore_retcode=False, output_encoding=None, **kwargs",
        CONFIG_SET_DOC,
        |g, c| Box::pin(config_set(g, c)),
    );
    reg(
        f,
        "git.config_unset",
        "key, value_regex=None, cwd=None, user=None, password=None, ignore_retcode=False, output_encoding=None, **kwargs",
        CONFIG_UNSET_DOC,
        |g, c| Box::pin(config_unset(g, c)),
    );
}

const CONFIG_GET_DOC: &str = "Get the value of a key in the git configuration file (``all=True``: every value, ``None`` when unset).\n\nCLI Example:\n\n    salt myminion git.config_get user.name cwd=/path/to/repo\n    salt myminion git.config_get user.email global=True";
const CONFIG_GET_REGEXP_DOC: &str = "Keys matching a regex, mapped to their values (only those matching ``value_regex`` when given).\n\nCLI Example:\n\n    salt myminion git.config_get_regexp foo.bar 'baz.*' cwd=/path/to/repo\n    salt myminion git.config_get_regexp '^user\\.' global=True";
const CONFIG_SET_DOC: &str = "Set a key in the git configuration file; returns the value(s) of the key being set.\n\nCLI Example:\n\n    salt myminion git.config_set user.email me@example.com cwd=/path/to/repo\n    salt myminion git.config_set user.name 'Foo Bar' global=True";
const CONFIG_UNSET_DOC: &str = "Unset a key in the git configuration file (``all=True`` for every value of a multivar).\n\nCLI Example:\n\n    salt myminion git.config_unset /path/to/repo foo.bar\n    salt myminion git.config_unset /path/to/repo foo.bar all=True";

/// The keyword flags a `config_*` function takes from `**kwargs`; any other
/// keyword is refused as Salt's `invalid_kwargs` does.
fn flags(call: &Call, allowed: &[&str]) -> Result<Map<String, Value>, FnError> {
    let named = [
        "key",
        "value",
        "multivar",
        "value_regex",
        "cwd",
        "user",
        "password",
        "ignore_retcode",
        "output_encoding",
        "identity",
    ];
    let mut out = Map::new();
    let mut invalid = Vec::new();
    for (k, v) in call.user_kwargs() {
        if allowed.contains(&k.as_str()) {
            out.insert(k, v);
        } else if !named.contains(&k.as_str()) {
            invalid.push(format!("{k}={}", value_text(&v).unwrap_or_default()));
        }
    }
    if invalid.is_empty() {
        Ok(out)
    } else {
        Err(FnError::Invocation(format!(
            "The following keyword arguments are not valid: {}",
            invalid.join(", ")
        )))
    }
}

fn flag(flags: &Map<String, Value>, name: &str) -> bool {
    flags
        .get(name)
        .is_some_and(brine_common::truth::salt_is_true)
}

/// Salt's `_expand_path`: a relative `cwd` is under the user's home.
fn expand_cwd(git: &Git, cwd: &str) -> String {
    if cwd.starts_with('/') {
        return cwd.to_string();
    }
    let home = git.home().unwrap_or_else(|| "~".into());
    format!("{}/{cwd}", home.trim_end_matches('/'))
}

/// The `cwd` of a config call: required unless `global`.
fn config_cwd(
    git: &Git,
    call: &Call,
    index: usize,
    global: bool,
) -> Result<Option<String>, FnError> {
    match str_param(call, index, "cwd").filter(|c| !c.is_empty()) {
        Some(cwd) => Ok(Some(expand_cwd(git, &cwd))),
        None if global => Ok(None),
        None => Err(FnError::Invocation(
            "'cwd' argument required unless global=True".into(),
        )),
    }
}

/// `--global` or `--local` (every git Brine meets knows `--local`).
fn scope(global: bool) -> &'static str {
    if global { "--global" } else { "--local" }
}

impl Git {
    /// Run `git <args>` in `cwd` (Salt: the runas user's home, or `/`,
    /// without one); a non-zero exit is returned.
    async fn config_run(&self, cwd: Option<&str>, args: &[String]) -> Result<CmdOutput, FnError> {
        self.user_available()?;
        let dir = match cwd {
            Some(c) => c.to_string(),
            None => self
                .home()
                .filter(|h| std::path::Path::new(h).is_dir())
                .unwrap_or_else(|| "/".into()),
        };
        self.command(None, args).current_dir(dir).output().await
    }

    /// As [`Git::config_run`], failing as Salt's `_git_run` does:
    /// "Command 'git ...' failed: <stderr>".
    async fn config_run_checked(
        &self,
        cwd: Option<&str>,
        args: &[String],
    ) -> Result<CmdOutput, FnError> {
        let out = self.config_run(cwd, args).await?;
        if out.success() {
            return Ok(out);
        }
        let mut msg = format!("Command 'git {}' failed", args.join(" "));
        if !out.stderr.is_empty() {
            msg.push_str(&format!(": {}", out.stderr));
        }
        Err(FnError::Execution(msg))
    }
}

/// The call's retcode, as Salt's `cmd.run_all` leaves it in `__context__`:
/// git's exit code, unless `ignore_retcode`.
fn context_retcode(call: &Call, index: usize, out: &CmdOutput) -> i32 {
    if crate::modules::host::bool_param(call, index, "ignore_retcode", false) {
        0
    } else {
        out.code.unwrap_or(1)
    }
}

/// Salt's `config_get`: the last value, every value (`all`), or `None`;
/// with git's output.
async fn get_values(
    git: &Git,
    cwd: Option<&str>,
    key: &str,
    global: bool,
    all: bool,
) -> Result<(Value, CmdOutput), FnError> {
    let args = vec![
        "config".into(),
        scope(global).into(),
        "--get-all".into(),
        key.to_string(),
    ];
    let out = git.config_run(cwd, &args).await?;
    if out.code == Some(1) {
        return Ok((Value::Null, out));
    }
    let values: Vec<&str> = out.stdout.lines().collect();
    let found = if all {
        json!(values)
    } else {
        json!(values.last().copied().unwrap_or_default())
    };
    Ok((found, out))
}

async fn config_get(git: Git, call: Call) -> Result<FnOutput, FnError> {
    let key = required_str(&call, 0, "key")?;
    let flags = flags(&call, &["global", "all"])?;
    let global = flag(&flags, "global");
    let cwd = config_cwd(&git, &call, 1, global)?;
    let (ret, out) = get_values(&git, cwd.as_deref(), &key, global, flag(&flags, "all")).await?;
    Ok(FnOutput {
        ret,
        retcode: context_retcode(&call, 4, &out),
    })
}

async fn config_get_regexp(git: Git, call: Call) -> Result<FnOutput, FnError> {
    let key = required_str(&call, 0, "key")?;
    let flags = flags(&call, &["global"])?;
    let global = flag(&flags, "global");
    let cwd = config_cwd(&git, &call, 2, global)?;
    let mut args = vec![
        "config".into(),
        scope(global).into(),
        "--get-regexp".into(),
        key,
    ];
    if let Some(regex) = call.param(1, "value_regex").and_then(value_text) {
        args.push(regex);
    }
    let out = git.config_run(cwd.as_deref(), &args).await?;
    let retcode = context_retcode(&call, 5, &out);
    let mut found = Map::new();
    if out.code == Some(1) {
        return Ok(FnOutput {
            ret: Value::Object(found),
            retcode,
        });
    }
    for line in out.stdout.lines() {
        let Some((param, value)) = line.trim_start().split_once(char::is_whitespace) else {
            continue;
        };
        if let Value::Array(values) = found.entry(param).or_insert_with(|| json!([])) {
            values.push(json!(value.trim_start()));
        }
    }
    Ok(FnOutput {
        ret: Value::Object(found),
        retcode,
    })
}

/// `multivar` as a list: a list's items as text, or a comma-separated
/// string.
fn multivar_of(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|i| value_text(i).unwrap_or_default())
            .collect(),
        other => value_text(other)
            .unwrap_or_default()
            .split(',')
            .map(String::from)
            .collect(),
    }
}

async fn config_set(git: Git, call: Call) -> Result<FnOutput, FnError> {
    let key = required_str(&call, 0, "key")?;
    let flags = flags(&call, &["global", "add"])?;
    let global = flag(&flags, "global");
    let cwd = config_cwd(&git, &call, 3, global)?;
    let value = call.param(1, "value").and_then(value_text);
    let multivar = call.param(2, "multivar").filter(|v| !v.is_null());
    if value.is_some() && multivar.is_some() {
        return Err(FnError::Invocation(
            "Only one of 'value' and 'multivar' is permitted".into(),
        ));
    }
    let mut prefix: Vec<String> = vec!["config".into()];
    if global {
        prefix.push("--global".into());
    }
    let targets: Vec<(bool, String)> = match (value, multivar) {
        (Some(v), _) => vec![(flag(&flags, "add"), v)],
        (None, Some(m)) => multivar_of(m)
            .into_iter()
            .enumerate()
            .map(|(i, t)| (i > 0, t))
            .collect(),
        (None, None) => {
            return Err(FnError::Invocation(
                "One of 'value' and 'multivar' is required".into(),
            ));
        }
    };
    for (add, target) in targets {
        let mut args = prefix.clone();
        args.push(if add { "--add" } else { "--replace-all" }.into());
        args.push(key.clone());
        args.push(target);
        git.config_run_checked(cwd.as_deref(), &args).await?;
    }
    let (values, out) = get_values(&git, cwd.as_deref(), &key, global, true).await?;
    Ok(FnOutput {
        ret: values,
        retcode: context_retcode(&call, 6, &out),
    })
}

async fn config_unset(git: Git, call: Call) -> Result<FnOutput, FnError> {
    let key = required_str(&call, 0, "key")?;
    let flags = flags(&call, &["global", "all"])?;
    let global = flag(&flags, "global");
    let cwd = config_cwd(&git, &call, 2, global)?;
    let value_regex = call.param(1, "value_regex").and_then(value_text);
    let unset = if flag(&flags, "all") {
        "--unset-all"
    } else {
        "--unset"
    };
    let mut args = vec![
        "config".into(),
        unset.into(),
        scope(global).into(),
        key.clone(),
    ];
    args.extend(value_regex.clone());
    let out = git.config_run(cwd.as_deref(), &args).await?;
    let msg = match out.code {
        Some(0) => return Ok(json!(true).into()),
        Some(1) => "Section or key is invalid".to_string(),
        Some(5) => {
            if get_values(&git, cwd.as_deref(), &key, global, false)
                .await?
                .0
                .is_null()
            {
                format!("Key '{key}' does not exist")
            } else {
                let mut m = format!("Multiple values exist for key '{key}'");
                if value_regex.is_some() {
                    m.push_str(" and value_regex matches multiple values");
                }
                m
            }
        }
        Some(6) => "The value_regex is invalid".to_string(),
        code => {
            let code = code.map_or_else(|| "None".to_string(), |c| c.to_string());
            let mut m =
                format!("Failed to unset key '{key}', git config returned exit code {code}");
            if !out.stderr.is_empty() {
                m.push_str(&format!("; {}", out.stderr));
            }
            m
        }
    };
    Err(FnError::Execution(msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(kwargs: Value) -> Call {
        Call {
            fun: "git.config_get".into(),
            args: vec![json!("user.name")],
            kwargs: kwargs.as_object().cloned().unwrap_or_default(),
        }
    }

    #[test]
    fn unknown_keywords_are_refused() {
        let err = flags(&call(json!({"global": true, "bogus": 1})), &["global"])
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("The following keyword arguments are not valid: bogus=1")
        );
        let ok =
            flags(&call(json!({"global": true, "user": "u"})), &["global"]).unwrap_or_default();
        assert!(flag(&ok, "global"));
    }

    #[test]
    fn cwd_is_required_unless_global() {
        let git = Git::default();
        let err = config_cwd(&git, &call(json!({})), 1, false)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("'cwd' argument required unless global=True")
        );
        assert_eq!(config_cwd(&git, &call(json!({})), 1, true).ok(), Some(None));
        let abs = config_cwd(&git, &call(json!({"cwd": "/srv/repo"})), 1, false).ok();
        assert_eq!(abs, Some(Some("/srv/repo".into())));
    }

    #[test]
    fn multivars_come_as_lists_or_comma_strings() {
        assert_eq!(multivar_of(&json!("a,b")), vec!["a", "b"]);
        assert_eq!(multivar_of(&json!(["a", 1])), vec!["a", "1"]);
    }

    #[tokio::test]
    async fn a_user_the_system_does_not_know_is_not_available() {
        let git = Git {
            user: Some("brine-no-such-user-xyz".into()),
            identities: Vec::new(),
        };
        let err = get_values(&git, None, "user.name", true, true)
            .await
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("User 'brine-no-such-user-xyz' is not available")
        );
    }

    #[tokio::test]
    async fn keys_are_set_read_and_unset_in_a_sandbox_repository() {
        if crate::modules::host::which("git").is_none() {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path().display().to_string();
        let git = Git::default();
        git.config_run(Some(&repo), &["init".into(), "-q".into()])
            .await
            .expect("git init");
        let set = |value: Value| Call {
            fun: "git.config_set".into(),
            args: vec![json!("foo.bar")],
            kwargs: json!({"cwd": repo, "multivar": value})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        };
        let out = config_set(git.clone(), set(json!(["a", "b"])))
            .await
            .expect("set");
        assert_eq!(out.ret, json!(["a", "b"]));
        let regexp = Call {
            fun: "git.config_get_regexp".into(),
            args: vec![json!("^foo\\.")],
            kwargs: json!({"cwd": repo})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        };
        let found = config_get_regexp(git.clone(), regexp).await.expect("get");
        assert_eq!(found.ret, json!({"foo.bar": ["a", "b"]}));
        let unset = |all: bool| Call {
            fun: "git.config_unset".into(),
            args: vec![json!("foo.bar")],
            kwargs: json!({"cwd": repo, "all": all})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        };
        let multi = config_unset(git.clone(), unset(false))
            .await
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            multi.as_deref(),
            Some("Multiple values exist for key 'foo.bar'")
        );
        let done = config_unset(git.clone(), unset(true)).await.expect("unset");
        assert_eq!(done.ret, json!(true));
        let gone = config_unset(git, unset(true))
            .await
            .err()
            .map(|e| e.to_string());
        assert_eq!(gone.as_deref(), Some("Key 'foo.bar' does not exist"));
    }
}
