//! Salt's `git` execution module: the `git` command line, as Salt drives it
//! (`git.clone`, `git.fetch`, `git.revision`, `git.ls_remote`, ...), which
//! the `git.latest` state is built from.
//!
//! Every call runs `git` non-interactively (no terminal prompt, `-C <cwd>`),
//! as `user` when given (through `runuser`, with that user's `HOME`), and
//! with `identity` as the SSH key for ssh remotes. A failure names the git
//! command and what git printed on stderr.

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use serde_json::{Map, Value, json};

use super::MinionCtx;
use super::host::{CmdOutput, HostCmd, bool_param, list_value, required_str, str_param};
use super::process::shlex_split;

mod config;

pub fn register(f: &mut Functions<MinionCtx>) {
    reg(
        f,
        "git.clone",
        "cwd, url=None, name=None, opts='', user=None, identity=None",
        CLONE_DOC,
        |g, c| Box::pin(clone(g, c)),
    );
    reg(
        f,
        "git.fetch",
        "cwd, remote=None, force=False, refspecs=None, opts='', user=None, identity=None",
        FETCH_DOC,
        |g, c| Box::pin(fetch(g, c)),
    );
    reg(
        f,
        "git.init",
        "cwd, bare=False, opts='', user=None",
        INIT_DOC,
        |g, c| Box::pin(init(g, c)),
    );
    reg(
        f,
        "git.revision",
        "cwd, rev='HEAD', short=False, user=None",
        REVISION_DOC,
        |g, c| Box::pin(revision(g, c)),
    );
    reg(
        f,
        "git.rev_parse",
        "cwd, rev=None, opts='', user=None",
        REV_PARSE_DOC,
        |g, c| Box::pin(rev_parse(g, c)),
    );
    reg(
        f,
        "git.current_branch",
        "cwd, user=None",
        CURRENT_BRANCH_DOC,
        |g, c| Box::pin(current_branch(g, c)),
    );
    reg(
        f,
        "git.checkout",
        "cwd, rev=None, force=False, opts='', user=None",
        CHECKOUT_DOC,
        |g, c| Box::pin(checkout(g, c)),
    );
    reg(
        f,
        "git.reset",
        "cwd, opts='', user=None",
        RESET_DOC,
        |g, c| Box::pin(reset(g, c)),
    );
    reg(
        f,
        "git.merge",
        "cwd, rev=None, opts='', user=None",
        MERGE_DOC,
        |g, c| Box::pin(merge(g, c)),
    );
    reg(
        f,
        "git.merge_base",
        "cwd, refs=None, is_ancestor=False, user=None",
        MERGE_BASE_DOC,
        |g, c| Box::pin(merge_base(g, c)),
    );
    reg(
        f,
        "git.ls_remote",
        "cwd=None, remote='origin', ref=None, opts='', user=None, identity=None",
        LS_REMOTE_DOC,
        |g, c| Box::pin(ls_remote(g, c)),
    );
    reg(
        f,
        "git.remote_get",
        "cwd, remote='origin', user=None",
        REMOTE_GET_DOC,
        |g, c| Box::pin(remote_get(g, c)),
    );
    reg(
        f,
        "git.remote_set",
        "cwd, url, remote='origin', user=None",
        REMOTE_SET_DOC,
        |g, c| Box::pin(remote_set(g, c)),
    );
    reg(f, "git.status", "cwd, user=None", STATUS_DOC, |g, c| {
        Box::pin(status(g, c))
    });
    reg(
        f,
        "git.submodule",
        "cwd, command, opts='', user=None, identity=None",
        SUBMODULE_DOC,
        |g, c| Box::pin(submodule(g, c)),
    );
    reg(
        f,
        "git.list_branches",
        "cwd, remote=False, user=None",
        LIST_BRANCHES_DOC,
        |g, c| Box::pin(list_branches(g, c)),
    );
    reg(
        f,
        "git.list_tags",
        "cwd, user=None",
        LIST_TAGS_DOC,
        |g, c| Box::pin(list_tags(g, c)),
    );
    config::register(f);
}

type GitFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<FnOutput, FnError>> + Send>>;

/// Register one function; each gets its parsed `Git` runner and the call.
fn reg(
    f: &mut Functions<MinionCtx>,
    name: &str,
    signature: &'static str,
    doc: &'static str,
    run: fn(Git, Call) -> GitFuture,
) {
    f.register(name, signature, doc, move |_, call| async move {
        let git = Git::from_call(&call)?;
        run(git, call).await
    });
}

const CLONE_DOC: &str = "Clone ``url`` into ``cwd`` (or into ``cwd/name``).\n\nCLI Example:\n\n    salt myminion git.clone /path/to/repo_parent_dir git://github.com/saltstack/salt.git";
const FETCH_DOC: &str = "Fetch from ``remote``; returns the refs that changed (``new``/``updated``).\n\nCLI Example:\n\n    salt myminion git.fetch /path/to/repo remote=origin";
const INIT_DOC: &str = "Create a repository in ``cwd`` (``bare=True`` for a bare one).\n\nCLI Example:\n\n    salt myminion git.init /path/to/repo";
const REVISION_DOC: &str = "The commit ID ``rev`` (default ``HEAD``) points at.\n\nCLI Example:\n\n    salt myminion git.revision /path/to/repo mybranch";
const REV_PARSE_DOC: &str = "``git rev-parse`` with ``opts`` and ``rev``.\n\nCLI Example:\n\n    salt myminion git.rev_parse /path/to/repo HEAD opts='--abbrev-ref'";
const CURRENT_BRANCH_DOC: &str =
    "The checked-out branch.\n\nCLI Example:\n\n    salt myminion git.current_branch /path/to/repo";
const CHECKOUT_DOC: &str = "``git checkout`` of ``rev`` (``force=True`` discards local changes).\n\nCLI Example:\n\n    salt myminion git.checkout /path/to/repo somebranch opts='-b'";
const RESET_DOC: &str = "``git reset`` with ``opts``.\n\nCLI Example:\n\n    salt myminion git.reset /path/to/repo opts='--hard origin/master'";
const MERGE_DOC: &str = "``git merge`` of ``rev`` (default: the upstream branch).\n\nCLI Example:\n\n    salt myminion git.merge /path/to/repo rev=upstream/foo opts='--ff-only'";
const MERGE_BASE_DOC: &str = "The merge base of ``refs``; with ``is_ancestor=True``, whether the first is an ancestor of the second.\n\nCLI Example:\n\n    salt myminion git.merge_base /path/to/repo refs=8f2e542,4ad8cab is_ancestor=True";
const LS_REMOTE_DOC: &str = "The refs of ``remote`` (a remote name in ``cwd``, or a URL) as ``{ref: commit}``.\n\nCLI Example:\n\n    salt myminion git.ls_remote remote=https://mydomain.tld/repo.git ref=mytag";
const REMOTE_GET_DOC: &str = "The fetch and push URLs of ``remote``, ``None`` when it is not configured.\n\nCLI Example:\n\n    salt myminion git.remote_get /path/to/repo upstream";
const REMOTE_SET_DOC: &str = "Point ``remote`` at ``url`` (added if missing).\n\nCLI Example:\n\n    salt myminion git.remote_set /path/to/repo git@github.com:user/repo.git";
const STATUS_DOC: &str = "Changed files: ``modified``, ``new``, ``deleted`` and ``untracked``.\n\nCLI Example:\n\n    salt myminion git.status /path/to/repo";
const SUBMODULE_DOC: &str = "``git submodule <command>`` with ``opts``.\n\nCLI Example:\n\n    salt myminion git.submodule /path/to/repo update opts='--init --recursive'";
const LIST_BRANCHES_DOC: &str = "The local branches (``remote=True``: the remote-tracking ones).\n\nCLI Example:\n\n    salt myminion git.list_branches /path/to/repo";
const LIST_TAGS_DOC: &str =
    "The repository's tags.\n\nCLI Example:\n\n    salt myminion git.list_tags /path/to/repo";

/// How to run `git` for one call: as whom, with which SSH key.
#[derive(Debug, Clone, Default)]
pub struct Git {
    user: Option<String>,
    /// The SSH keys to try, in order (Salt's `identity`, a path or a list).
    identities: Vec<String>,
}

impl Git {
    fn from_call(call: &Call) -> Result<Git, FnError> {
        let text = |key: &str| {
            call.kwargs
                .get(key)
                .and_then(super::host::value_text)
                .filter(|s| !s.is_empty())
        };
        let user = text("user");
        if let Some(u) = &user {
            super::host::check_name("user", u)?;
        }
        let identities = match call.kwargs.get("identity") {
            Some(Value::Array(keys)) => keys.iter().filter_map(super::host::value_text).collect(),
            _ => text("identity").into_iter().collect(),
        };
        Ok(Git { user, identities })
    }

    /// The command for `git [-C cwd] <args>`.
    fn command(&self, cwd: Option<&str>, args: &[String]) -> HostCmd {
        let mut cmd = match &self.user {
            Some(user) => {
                let home = nix::unistd::User::from_name(user)
                    .ok()
                    .flatten()
                    .map(|u| u.dir.display().to_string());
                let cmd = HostCmd::new("runuser").args(["-u", user.as_str(), "--", "git"]);
                match home {
                    Some(h) => cmd.env("HOME", &h),
                    None => cmd,
                }
            }
            None => HostCmd::new("git"),
        };
        if let Some(dir) = cwd {
            cmd = cmd.arg("-C").arg(dir);
        }
        cmd = cmd
            .args(args.iter().cloned())
            .env("GIT_TERMINAL_PROMPT", "0");
        if let Some(key) = self.identity() {
            let ssh = format!(
                "ssh -i {} -o IdentitiesOnly=yes -o BatchMode=yes",
                super::host::shell_quote(key)
            );
            cmd = cmd.env("GIT_SSH_COMMAND", &ssh);
        }
        cmd
    }

    /// Run and require success.
    async fn run(&self, cwd: Option<&str>, args: Vec<String>) -> Result<CmdOutput, FnError> {
        self.user_available()?;
        self.command(cwd, &args).checked().await
    }

    /// Run; a non-zero exit is returned, not an error.
    async fn try_run(&self, cwd: Option<&str>, args: Vec<String>) -> Result<CmdOutput, FnError> {
        self.user_available()?;
        self.command(cwd, &args).output().await
    }

    /// The SSH key to use: the first of `identity` that exists (Salt tries
    /// each in turn and skips the missing ones).
    fn identity(&self) -> Option<&String> {
        self.identities
            .iter()
            .find(|k| k.starts_with("salt://") || std::path::Path::new(k).is_file())
    }

    /// What Salt checks before running git: every identity file missing
    /// fails ("Unable to authenticate..."), then a `runas` user the system
    /// does not know (`cmd.run_all`).
    fn user_available(&self) -> Result<(), FnError> {
        if !self.identities.is_empty() && self.identity().is_none() {
            return Err(FnError::Execution(format!(
                "Unable to authenticate using identity file:\n\nThe following identity file(s) were not found: {}",
                self.identities.join(", ")
            )));
        }
        match &self.user {
            Some(user) if !matches!(nix::unistd::User::from_name(user), Ok(Some(_))) => Err(
                FnError::Execution(format!("User '{user}' is not available")),
            ),
            _ => Ok(()),
        }
    }

    /// The runas user's home directory (the minion's own `HOME` without a
    /// user): where Salt runs a command that has no `cwd`.
    fn home(&self) -> Option<String> {
        match &self.user {
            Some(user) => nix::unistd::User::from_name(user)
                .ok()
                .flatten()
                .map(|u| u.dir.display().to_string()),
            None => std::env::var("HOME").ok(),
        }
    }
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_string()).collect()
}

/// `opts` as a shell would split it.
fn opts(call: &Call, index: usize) -> Result<Vec<String>, FnError> {
    match call.param(index, "opts") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(list_value(&Value::Array(items.clone()))),
        Some(v) => {
            let text = super::host::value_text(v).unwrap_or_default();
            shlex_split(&text).map_err(|e| FnError::Invocation(format!("opts: {e}")))
        }
    }
}

fn cwd(call: &Call) -> Result<String, FnError> {
    let cwd = required_str(call, 0, "cwd")?;
    if !cwd.starts_with('/') {
        return Err(FnError::Invocation(format!(
            "cwd '{cwd}' is not an absolute path"
        )));
    }
    Ok(cwd)
}

fn trimmed(out: &CmdOutput) -> Value {
    json!(out.stdout.trim_end())
}

async fn clone(git: Git, call: Call) -> Result<FnOutput, FnError> {
    let cwd = cwd(&call)?;
    let url = required_str(&call, 1, "url")?;
    let mut args = words(&["clone"]);
    args.extend(opts(&call, 3)?);
    args.push("--".into());
    args.push(url);
    let target = match str_param(&call, 2, "name").filter(|s| !s.is_empty()) {
        Some(name) => format!("{}/{name}", cwd.trim_end_matches('/')),
        None => cwd,
    };
    args.push(target);
    git.run(None, args).await?;
    Ok(json!(true).into())
}

async fn fetch(git: Git, call: Call) -> Result<FnOutput, FnError> {
    let cwd = cwd(&call)?;
    let mut args = words(&["fetch"]);
    if bool_param(&call, 2, "force", false) {
        args.push("--force".into());
    }
    args.extend(opts(&call, 4)?);
    let remote = str_param(&call, 1, "remote").filter(|s| !s.is_empty());
    let refspecs = call
        .param(3, "refspecs")
        .map(list_value)
        .unwrap_or_default();
    if remote.is_some() || !refspecs.is_empty() {
        args.push(remote.unwrap_or_else(|| "origin".into()));
    }
    args.extend(refspecs);
    let out = git.run(Some(&cwd), args).await?;
    Ok(Value::Object(fetch_changes(&out.stderr)).into())
}

/// Salt's summary of `git fetch` output: new refs and updated refs.
fn fetch_changes(stderr: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for line in stderr.lines() {
        let Some((left, right)) = line.split_once(" -> ") else {
            continue;
        };
        let local = right.split_whitespace().next().unwrap_or_default();
        let (key, value) = if left.contains("[new ") {
            ("new", json!(local))
        } else {
            let range = left.split_whitespace().find(|w| w.contains(".."));
            match range.and_then(|r| {
                r.replace("...", "..")
                    .split_once("..")
                    .map(|(a, b)| (a.to_string(), b.to_string()))
            }) {
                Some((old, new)) => ("updated", json!({local: {"old": old, "new": new}})),
                None => continue,
            }
        };
        match (
            out.entry(key)
                .or_insert_with(|| if key == "new" { json!([]) } else { json!({}) }),
            value,
        ) {
            (Value::Array(list), v) => list.push(v),
            (Value::Object(map), Value::Object(v)) => map.extend(v),
            _ => {}
        }
    }
    out
}

async fn init(git: Git, call: Call) -> Result<FnOutput, FnError> {
    let cwd = cwd(&call)?;
    let mut args = words(&["init"]);
    if bool_param(&call, 1, "bare", false) {
        args.push("--bare".into());
    }
    args.extend(opts(&call, 2)?);
    args.push(cwd);
    Ok(json!(git.run(None, args).await?.stdout.trim()).into())
}

async fn revision(git: Git, call: Call) -> Result<FnOutput, FnError> {
    let cwd = cwd(&call)?;
    let rev = str_param(&call, 1, "rev").unwrap_or_else(|| "HEAD".into());
    let mut args = words(&["rev-parse"]);
    if bool_param(&call, 2, "short", false) {
        args.push("--short".into());
    }
    args.push(rev);
    Ok(trimmed(&git.run(Some(&cwd), args).await?).into())
}

async fn rev_parse(git: Git, call: Call) -> Result<FnOutput, FnError> {
    let cwd = cwd(&call)?;
    let mut args = words(&["rev-parse"]);
    args.extend(opts(&call, 2)?);
    if let Some(rev) = str_param(&call, 1, "rev").filter(|s| !s.is_empty()) {
        args.push(rev);
    }
    Ok(trimmed(&git.run(Some(&cwd), args).await?).into())
}

async fn current_branch(git: Git, call: Call) -> Result<FnOutput, FnError> {
    let cwd = cwd(&call)?;
    let out = git
        .run(Some(&cwd), words(&["rev-parse", "--abbrev-ref", "HEAD"]))
        .await?;
    Ok(trimmed(&out).into())
}

async fn checkout(git: Git, call: Call) -> Result<FnOutput, FnError> {
    let cwd = cwd(&call)?;
    let mut args = words(&["checkout"]);
    if bool_param(&call, 2, "force", false) {
        args.push("--force".into());
    }
    args.extend(opts(&call, 3)?);
    if let Some(rev) = str_param(&call, 1, "rev").filter(|s| !s.is_empty()) {
        args.push(rev);
    }
    let out = git.run(Some(&cwd), args).await?;
    Ok(json!(format!("{}{}", out.stdout, out.stderr).trim_end()).into())
}

async fn reset(git: Git, call: Call) -> Result<FnOutput, FnError> {
    let cwd = cwd(&call)?;
    let mut args = words(&["reset"]);
    args.extend(opts(&call, 1)?);
    Ok(trimmed(&git.run(Some(&cwd), args).await?).into())
}

async fn merge(git: Git, call: Call) -> Result<FnOutput, FnError> {
    let cwd = cwd(&call)?;
    let mut args = words(&["merge"]);
    args.extend(opts(&call, 2)?);
    if let Some(rev) = str_param(&call, 1, "rev").filter(|s| !s.is_empty()) {
        args.push(rev);
    }
    Ok(trimmed(&git.run(Some(&cwd), args).await?).into())
}

async fn merge_base(git: Git, call: Call) -> Result<FnOutput, FnError> {
    let cwd = cwd(&call)?;
    let refs = call.param(1, "refs").map(list_value).unwrap_or_default();
    if bool_param(&call, 2, "is_ancestor", false) {
        let [first, second] = refs.as_slice() else {
            return Err(FnError::Invocation(
                "is_ancestor=True needs exactly two refs".into(),
            ));
        };
        let args = vec![
            "merge-base".into(),
            "--is-ancestor".into(),
            first.clone(),
            second.clone(),
        ];
        let out = git.try_run(Some(&cwd), args).await?;
        return match out.code {
            Some(0) => Ok(json!(true).into()),
            Some(1) => Ok(json!(false).into()),
            _ => Err(FnError::Execution(out.failure_message())),
        };
    }
    let mut args = words(&["merge-base"]);
    args.extend(refs);
    Ok(trimmed(&git.run(Some(&cwd), args).await?).into())
}

async fn ls_remote(git: Git, call: Call) -> Result<FnOutput, FnError> {
    let cwd = str_param(&call, 0, "cwd").filter(|s| !s.is_empty());
    let remote = str_param(&call, 1, "remote").unwrap_or_else(|| "origin".into());
    let mut args = words(&["ls-remote"]);
    args.extend(opts(&call, 3)?);
    args.push(remote);
    if let Some(r) = str_param(&call, 2, "ref").filter(|s| !s.is_empty()) {
        args.push(r);
    }
    let out = git.run(cwd.as_deref(), args).await?;
    let refs: Map<String, Value> = out
        .stdout
        .lines()
        .filter_map(|line| {
            let (sha, name) = line.split_once('\t')?;
            Some((name.trim().to_string(), json!(sha.trim())))
        })
        .collect();
    Ok(Value::Object(refs).into())
}

async fn remote_get(git: Git, call: Call) -> Result<FnOutput, FnError> {
    let cwd = cwd(&call)?;
    let remote = str_param(&call, 1, "remote").unwrap_or_else(|| "origin".into());
    let url = |push: bool| {
        let mut args = words(&["remote", "get-url"]);
        if push {
            args.push("--push".into());
        }
        args.push(remote.clone());
        git.try_run(Some(&cwd), args)
    };
    let fetch = url(false).await?;
    if !fetch.success() {
        return Ok(Value::Null.into());
    }
    let push = url(true).await?;
    Ok(json!({"fetch": fetch.stdout.trim(), "push": push.stdout.trim()}).into())
}

async fn remote_set(git: Git, call: Call) -> Result<FnOutput, FnError> {
    let cwd = cwd(&call)?;
    let url = required_str(&call, 1, "url")?;
    let remote = str_param(&call, 2, "remote").unwrap_or_else(|| "origin".into());
    let exists = git
        .try_run(
            Some(&cwd),
            vec!["remote".into(), "get-url".into(), remote.clone()],
        )
        .await?
        .success();
    let verb = if exists { "set-url" } else { "add" };
    git.run(
        Some(&cwd),
        vec!["remote".into(), verb.into(), remote.clone(), url.clone()],
    )
    .await?;
    Ok(json!({"fetch": url, "push": url}).into())
}

async fn status(git: Git, call: Call) -> Result<FnOutput, FnError> {
    let cwd = cwd(&call)?;
    let out = git
        .run(Some(&cwd), words(&["status", "-z", "--porcelain"]))
        .await?;
    Ok(Value::Object(parse_status(&out.stdout)).into())
}

/// `git status -z --porcelain` as Salt groups it.
fn parse_status(text: &str) -> Map<String, Value> {
    let mut out = Map::new();
    let mut entries = text.split('\0').filter(|e| e.len() > 3);
    while let Some(entry) = entries.next() {
        let (code, path) = entry.split_at(3);
        let code = code.trim();
        let key = match code {
            "??" => "untracked",
            c if c.contains('D') => "deleted",
            c if c.contains('A') => "new",
            c if c.starts_with('R') => {
                entries.next(); // the rename's source path
                "modified"
            }
            _ => "modified",
        };
        if let Value::Array(list) = out.entry(key).or_insert_with(|| json!([])) {
            list.push(json!(path));
        }
    }
    out
}

async fn submodule(git: Git, call: Call) -> Result<FnOutput, FnError> {
    let cwd = cwd(&call)?;
    let command = required_str(&call, 1, "command")?;
    let mut args = vec!["submodule".into(), command];
    args.extend(opts(&call, 2)?);
    Ok(trimmed(&git.run(Some(&cwd), args).await?).into())
}

async fn list_branches(git: Git, call: Call) -> Result<FnOutput, FnError> {
    let cwd = cwd(&call)?;
    let (pattern, strip) = if bool_param(&call, 1, "remote", false) {
        ("refs/remotes/", "refs/remotes/")
    } else {
        ("refs/heads/", "refs/heads/")
    };
    list_refs(&git, &cwd, pattern, strip).await
}

async fn list_tags(git: Git, call: Call) -> Result<FnOutput, FnError> {
    let cwd = cwd(&call)?;
    list_refs(&git, &cwd, "refs/tags/", "refs/tags/").await
}

async fn list_refs(git: &Git, cwd: &str, pattern: &str, strip: &str) -> Result<FnOutput, FnError> {
    let args = vec![
        "for-each-ref".into(),
        "--format=%(refname)".into(),
        pattern.into(),
    ];
    let out = git.run(Some(cwd), args).await?;
    let mut names: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix(strip))
        .filter(|n| !n.ends_with("/HEAD"))
        .collect();
    names.sort_unstable();
    Ok(json!(names).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_groups_like_salt() {
        let s = parse_status(" M a.txt\0A  b.txt\0 D c.txt\0?? d.txt\0R  new.txt\0old.txt\0");
        assert_eq!(s["modified"], json!(["a.txt", "new.txt"]));
        assert_eq!(s["new"], json!(["b.txt"]));
        assert_eq!(s["deleted"], json!(["c.txt"]));
        assert_eq!(s["untracked"], json!(["d.txt"]));
    }

    #[test]
    fn fetch_output_summarised() {
        let err = "From /srv/repo\n   1234567..89abcde  master     -> origin/master\n * [new branch]      dev        -> origin/dev\n * [new tag]         v1         -> v1\n";
        let c = fetch_changes(err);
        assert_eq!(c["new"], json!(["origin/dev", "v1"]));
        assert_eq!(
            c["updated"]["origin/master"],
            json!({"old": "1234567", "new": "89abcde"})
        );
    }

    #[test]
    fn missing_identity_files_fail_before_git_runs() {
        let git = Git {
            user: None,
            identities: vec!["/nonexistent/id_a".into(), "/nonexistent/id_b".into()],
        };
        let err = git.user_available().err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "Unable to authenticate using identity file:\n\nThe following identity file(s) were not found: /nonexistent/id_a, /nonexistent/id_b"
            )
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let key = dir.path().join("id");
        std::fs::write(&key, "key").expect("write");
        let git = Git {
            user: None,
            identities: vec!["/nonexistent/id_a".into(), key.display().to_string()],
        };
        assert!(git.user_available().is_ok());
        assert_eq!(git.identity(), Some(&key.display().to_string()));
    }
}
