//! Salt's `git` states (`git.config_set`/`git.config_unset` are in
//! [`config`]). `git.latest`: a clone of a remote repository at `target`,
//! kept at the remote's `rev` (a branch, a tag, a commit ID or `HEAD`).
//!
//! Built from the `git.*` execution functions, as in Salt: `git.ls_remote`
//! finds the commit `rev` names on the remote; a missing target is cloned
//! (`force_clone` empties a non-empty directory first); an existing clone
//! has its remote URL corrected, is fetched when the commit is not there
//! yet, and is moved to it: fast-forwarded when that is possible, hard-reset
//! only with `force_reset: True` (uncommitted changes block the update
//! otherwise). `branch` checks out (or creates) that local branch.
//! Comments and the `revision` changes (`old`/`new`) are Salt's.

use serde_json::{Map, Value, json};

use super::{call, name_of, pending, str_of, strings, truthy};
use crate::lowstate::{StateCall, StateModules, StateResult};

mod config;

pub fn register(m: &mut StateModules) {
    m.register("git.latest", latest);
    m.register("git.config_set", config::config_set);
    m.register("git.config_unset", config::config_unset);
}

/// What the remote's `rev` is.
#[derive(Debug, Clone, PartialEq)]
enum RevType {
    Head,
    Branch,
    Tag,
    Sha1,
}

/// The resolved request: the remote commit and how to describe it.
struct Wanted {
    rev: String,
    kind: RevType,
    /// The remote commit (`None` when the remote is empty).
    remote_rev: Option<String>,
    remote: String,
}

impl Wanted {
    /// Salt's `remote_loc`: "remote HEAD (abc1234)", "origin/dev (abc1234)".
    fn location(&self) -> String {
        let short = short(self.remote_rev.as_deref());
        match self.kind {
            RevType::Head => format!("remote HEAD ({short})"),
            RevType::Branch => format!("{}/{} ({short})", self.remote, self.rev),
            _ => format!("{} ({short})", self.rev),
        }
    }

    /// Whether a local commit is the one wanted (a short commit ID matches
    /// by prefix).
    fn matches(&self, local: Option<&str>) -> bool {
        match (local, self.remote_rev.as_deref()) {
            (Some(l), Some(r)) if self.kind == RevType::Sha1 => l.starts_with(r),
            (Some(l), Some(r)) => l == r,
            _ => false,
        }
    }
}

/// Salt's `_short_sha`.
fn short(sha: Option<&str>) -> String {
    sha.map(|s| s.chars().take(7).collect())
        .unwrap_or_else(|| "None".into())
}

/// Salt's `_format_comments`.
fn format_comments(comments: &[String]) -> String {
    let mut out = comments.join(". ");
    if comments.len() > 1 {
        out.push('.');
    }
    out
}

/// The clone as found before the update.
struct Checkout {
    rev: Option<String>,
    /// `None` for a detached HEAD.
    branch: Option<String>,
    /// Uncommitted changes to tracked files.
    changes: bool,
}

/// The runner of one `git.latest`: the state call, its user/identity
/// arguments for every git function, and the comments collected so far.
struct Latest<'a, 'b> {
    c: &'a StateCall<'b>,
    url: String,
    target: String,
    comments: Vec<String>,
    changes: Map<String, Value>,
}

fn latest(c: &StateCall<'_>) -> StateResult {
    let url = name_of(c).to_string();
    let Some(target) = str_of(c.chunk, "target") else {
        return StateResult::fail(
            &url,
            "'None' is not a valid value for the 'target' argument",
        );
    };
    if !target.starts_with('/') {
        return StateResult::fail(&url, format!("Target '{target}' is not an absolute path"));
    }
    let mut run = Latest {
        c,
        url: url.clone(),
        target,
        comments: Vec::new(),
        changes: Map::new(),
    };
    run.apply().unwrap_or_else(|e| {
        let mut comment = e;
        if !run.comments.is_empty() {
            comment = format!(
                "{comment}\n\nChanges already made: {}",
                format_comments(&run.comments)
            );
        }
        StateResult {
            changes: std::mem::take(&mut run.changes),
            ..StateResult::fail(&url, comment)
        }
    })
}

impl Latest<'_, '_> {
    /// Call `git.<fun>` with the state's `user` and `identity`.
    fn git(&self, fun: &str, args: Vec<Value>, kw: &[(&str, Value)]) -> Result<Value, String> {
        let mut all: Vec<(&str, Value)> = kw.to_vec();
        for key in ["user", "identity"] {
            if let Some(v) = self.c.chunk.arg(key) {
                all.push((key, v.clone()));
            }
        }
        call(self.c.host, &format!("git.{fun}"), args, &all).map_err(|e| config::strip_exc(&e))
    }

    fn at_target(
        &self,
        fun: &str,
        more: Vec<Value>,
        kw: &[(&str, Value)],
    ) -> Result<Value, String> {
        let mut args = vec![json!(self.target)];
        args.extend(more);
        self.git(fun, args, kw)
    }

    fn done(&self, comment: String) -> StateResult {
        StateResult {
            changes: self.changes.clone(),
            ..StateResult::ok(&self.url, comment)
        }
    }

    fn apply(&mut self) -> Result<StateResult, String> {
        let wanted = self.resolve()?;
        let stats = call(self.c.host, "file.stats", vec![json!(self.target)], &[]).ok();
        let kind = stats
            .as_ref()
            .and_then(|s| s.get("type"))
            .and_then(Value::as_str);
        if kind.is_some_and(|k| k != "dir") {
            return Err(format!(
                "Target '{}' exists and is a regular file, cannot proceed",
                self.target
            ));
        }
        let is_repo = truthy(&call(
            self.c.host,
            "file.directory_exists",
            vec![json!(format!("{}/.git", self.target))],
            &[],
        )?);
        if is_repo {
            self.update(&wanted)
        } else {
            self.clone_fresh(&wanted, kind.is_some())
        }
    }

    /// `git ls-remote <url> <rev>`: which commit `rev` is and what kind of
    /// name it is.
    fn resolve(&self) -> Result<Wanted, String> {
        let rev = str_of(self.c.chunk, "rev").unwrap_or_else(|| "HEAD".into());
        let remote = str_of(self.c.chunk, "remote").unwrap_or_else(|| "origin".into());
        let refs = self
            .git(
                "ls_remote",
                vec![Value::Null, json!(self.url), json!(rev)],
                &[],
            )
            .map_err(|e| format!("Failed to check remote refs: {e}"))?;
        let sha = |name: &str| refs.get(name).and_then(Value::as_str).map(String::from);
        let (kind, remote_rev) = if rev == "HEAD" {
            (RevType::Head, sha("HEAD"))
        } else if let Some(s) = sha(&format!("refs/heads/{rev}")) {
            (RevType::Branch, Some(s))
        } else if let Some(s) =
            sha(&format!("refs/tags/{rev}^{{}}")).or_else(|| sha(&format!("refs/tags/{rev}")))
        {
            (RevType::Tag, Some(s))
        } else if rev.len() >= 4 && rev.len() <= 40 && rev.chars().all(|ch| ch.is_ascii_hexdigit())
        {
            (RevType::Sha1, Some(rev.to_lowercase()))
        } else {
            return Err(format!(
                "No revision matching '{rev}' exists in the remote repository"
            ));
        };
        Ok(Wanted {
            rev,
            kind,
            remote_rev,
            remote,
        })
    }

    // -----------------------------------------------------------------------
    // A fresh clone

    fn clone_fresh(&mut self, wanted: &Wanted, target_exists: bool) -> Result<StateResult, String> {
        let target = self.target.clone();
        if target_exists && !self.is_empty_dir(&target)? {
            if !self.c.chunk.bool_arg("force_clone", false) {
                return Err(format!(
                    "Target '{target}' exists, is non-empty and is not a git repository. Set the \
                     'force_clone' option to True to remove this directory's contents and proceed \
                     with cloning the remote repository"
                ));
            }
            if self.c.test {
                self.changes.insert("forced clone".into(), json!(true));
                self.changes
                    .insert("new".into(), json!(format!("{} => {target}", self.url)));
                return Ok(pending(
                    &self.url,
                    format!(
                        "Target directory {target} exists. Since force_clone=True, the contents \
                         of {target} would be deleted, and {} would be cloned into this directory.",
                        self.url
                    ),
                    self.changes.clone(),
                ));
            }
            call(self.c.host, "file.remove", vec![json!(target)], &[])?;
            self.changes.insert("forced clone".into(), json!(true));
        }
        if self.c.test {
            self.changes
                .insert("new".into(), json!(format!("{} => {target}", self.url)));
            return Ok(pending(
                &self.url,
                format!("Repository {} would be cloned to {target}", self.url),
                self.changes.clone(),
            ));
        }
        let mut opts = Vec::new();
        if wanted.remote != "origin" {
            opts.extend(["--origin".to_string(), wanted.remote.clone()]);
        }
        if let Some(depth) = self.c.chunk.arg("depth").filter(|v| !v.is_null()) {
            opts.extend([
                "--depth".to_string(),
                super::text(depth),
                "--branch".into(),
                wanted.rev.clone(),
            ]);
        }
        self.git(
            "clone",
            vec![json!(target), json!(self.url)],
            &[("opts", json!(opts))],
        )
        .map_err(|e| format!("Clone failed: {e}"))?;
        self.changes
            .insert("new".into(), json!(format!("{} => {target}", self.url)));
        self.comments
            .push(format!("{} cloned to {target}", self.url));

        match &wanted.remote_rev {
            None if wanted.rev != "HEAD" => {
                return Err(format!(
                    "Repository was cloned but is empty, so {}/{} cannot be checked out",
                    wanted.remote, wanted.rev
                ));
            }
            None => {}
            Some(remote_rev) => {
                if let Some(branch) = str_of(self.c.chunk, "branch")
                    && !self.local_branches()?.contains(&branch)
                {
                    let start = match wanted.kind {
                        RevType::Head => remote_rev.clone(),
                        RevType::Branch => format!("{}/{}", wanted.remote, wanted.rev),
                        _ => wanted.rev.clone(),
                    };
                    self.at_target(
                        "checkout",
                        vec![json!(start)],
                        &[("opts", json!(["-b", branch]))],
                    )?;
                    self.comments.push(format!(
                        "Branch '{branch}' checked out, with {} as a starting point",
                        wanted.location()
                    ));
                }
                let local = self.local_rev();
                if !wanted.matches(local.as_deref()) {
                    self.at_target("reset", vec![], &[("opts", json!(["--hard", remote_rev]))])?;
                    self.comments
                        .push(format!("Repository was reset to {}", wanted.location()));
                }
            }
        }
        self.submodules()?;
        let new_rev = self.local_rev();
        if new_rev.is_some() {
            self.changes
                .insert("revision".into(), json!({"old": null, "new": new_rev}));
        }
        Ok(self.done(format_comments(&self.comments)))
    }

    fn is_empty_dir(&self, dir: &str) -> Result<bool, String> {
        let found = call(
            self.c.host,
            "file.find",
            vec![json!(dir)],
            &[("mindepth", json!(1)), ("maxdepth", json!(1))],
        )?;
        Ok(found.as_array().is_none_or(Vec::is_empty))
    }

    // -----------------------------------------------------------------------
    // An existing clone

    fn update(&mut self, wanted: &Wanted) -> Result<StateResult, String> {
        let local_rev = self.local_rev();
        let local_branch = self.local_branch();
        let branch = str_of(self.c.chunk, "branch");
        let branch_change = branch
            .as_ref()
            .is_some_and(|b| Some(b) != local_branch.as_ref());
        let force_reset = self.c.chunk.bool_arg("force_reset", false);
        let Some(remote_rev) = wanted.remote_rev.clone() else {
            return Ok(self.done(format!(
                "Repository {} is up-to-date (the remote is empty)",
                self.target
            )));
        };
        let mut actions = Vec::new();
        self.check_remote_url(wanted, &mut actions)?;

        let local_changes = self.has_local_changes()?;
        let revs_match = wanted.matches(local_rev.as_deref()) && !branch_change;
        if revs_match {
            if !self.c.test {
                self.comments.append(&mut actions);
            }
            return Ok(self.up_to_date(&actions, local_changes && !force_reset));
        }
        let local = Checkout {
            rev: local_rev.clone(),
            branch: local_branch.clone(),
            changes: local_changes,
        };
        let mut has_remote_rev = self.has_commit(&remote_rev);
        let mut fast_forward = self.merge_kind(wanted, &local, &branch, has_remote_rev)?;
        if self.c.test {
            return Ok(self.predict(
                wanted,
                &local,
                &branch,
                has_remote_rev,
                fast_forward,
                actions,
            ));
        }
        self.comments.append(&mut actions);

        if !has_remote_rev {
            self.fetch(wanted)?;
            has_remote_rev = self.has_commit(&remote_rev);
            if !has_remote_rev && wanted.kind == RevType::Sha1 {
                return Err(format!(
                    "No revision matching '{}' exists in the remote repository",
                    wanted.rev
                ));
            }
            fast_forward = self.merge_kind(wanted, &local, &branch, has_remote_rev)?;
        }
        if let Some(b) = branch.as_ref().filter(|_| branch_change) {
            self.switch_branch(b, wanted, &remote_rev)?;
        }
        let on_branch = self.local_branch().is_some();
        let current = self.local_rev();
        if !wanted.matches(current.as_deref()) {
            if fast_forward == Some(true) && on_branch && wanted.kind != RevType::Sha1 {
                self.at_target(
                    "merge",
                    vec![json!(remote_rev)],
                    &[("opts", json!(["--ff-only"]))],
                )?;
                self.comments.push(format!(
                    "Repository was fast-forwarded to {}",
                    wanted.location()
                ));
            } else if fast_forward == Some(true) {
                self.at_target("reset", vec![], &[("opts", json!(["--hard", remote_rev]))])?;
                self.comments.push(format!(
                    "Repository was reset to {} (fast-forward)",
                    wanted.location()
                ));
            } else {
                self.at_target("reset", vec![], &[("opts", json!(["--hard", remote_rev]))])?;
                self.changes.insert("forced update".into(), json!(true));
                self.comments.push(format!(
                    "Repository was hard-reset to {}",
                    wanted.location()
                ));
            }
        }
        self.submodules()?;
        let new_rev = self.local_rev();
        if !wanted.matches(new_rev.as_deref()) {
            return Err("Failed to update repository".into());
        }
        if local_rev != new_rev {
            self.changes
                .insert("revision".into(), json!({"old": local_rev, "new": new_rev}));
            return Ok(self.done(format_comments(&self.comments)));
        }
        let comments = self.comments.clone();
        Ok(self.up_to_date(&comments, false))
    }

    /// Point the remote at `name` when it points elsewhere.
    fn check_remote_url(
        &mut self,
        wanted: &Wanted,
        actions: &mut Vec<String>,
    ) -> Result<(), String> {
        let current = self.at_target("remote_get", vec![json!(wanted.remote)], &[])?;
        let fetch_url = current
            .get("fetch")
            .and_then(Value::as_str)
            .map(String::from);
        if fetch_url.as_deref() == Some(self.url.as_str()) {
            return Ok(());
        }
        let remote = &wanted.remote;
        if self.c.test {
            actions.push(format!(
                "Remote '{remote}' would be changed from {} to {}",
                fetch_url.as_deref().unwrap_or("None"),
                self.url
            ));
            return Ok(());
        }
        self.at_target("remote_set", vec![json!(self.url), json!(remote)], &[])?;
        match fetch_url {
            None => {
                actions.push(format!("Remote '{remote}' set to {}", self.url));
                self.changes
                    .insert("new".into(), json!(format!("{} => {remote}", self.url)));
            }
            Some(old) => actions.push(format!(
                "Remote '{remote}' changed from {old} to {}",
                self.url
            )),
        }
        Ok(())
    }

    /// Salt's `_uptodate`.
    fn up_to_date(&self, comments: &[String], uncommitted: bool) -> StateResult {
        let mut comment = format!("Repository {} is up-to-date", self.target);
        if uncommitted {
            comment.push_str(
                ", but with uncommitted changes. Set 'force_reset' to True to purge uncommitted \
                 changes.",
            );
        }
        if !comments.is_empty() {
            let would = if self.c.test { "that would be " } else { "" };
            comment.push_str(&format!(
                "\n\nChanges {would}made: {}",
                format_comments(comments)
            ));
        }
        self.done(comment)
    }

    /// The test-mode answer for an existing clone that would change.
    fn predict(
        &mut self,
        wanted: &Wanted,
        local: &Checkout,
        branch: &Option<String>,
        has_remote_rev: bool,
        fast_forward: Option<bool>,
        mut actions: Vec<String>,
    ) -> StateResult {
        let local_rev = local.rev.as_deref();
        let local_branch = &local.branch;
        let remote_short = short(wanted.remote_rev.as_deref());
        let force_reset = self.c.chunk.bool_arg("force_reset", false);
        if !has_remote_rev {
            actions.push(format!("Remote '{}' would be fetched", wanted.remote));
        }
        let merge_action = match fast_forward {
            Some(false) => "hard-reset",
            Some(true) => "fast-forwarded",
            None => "updated",
        };
        match branch
            .as_ref()
            .filter(|b| Some(*b) != local_branch.as_ref())
        {
            Some(b) if !self.local_branches().unwrap_or_default().contains(b) => {
                actions.push(format!(
                    "New branch '{b}' would be checked out, with {} as a starting point",
                    wanted.location()
                ))
            }
            Some(b) => actions.push(format!(
                "Branch '{b}' would be checked out and {merge_action} to {remote_short}"
            )),
            None if fast_forward == Some(true) => actions.push(format!(
                "Repository would be fast-forwarded from {} to {remote_short}",
                short(local_rev)
            )),
            None => actions.push(format!(
                "Repository would be {} from {} to {remote_short}",
                if force_reset && has_remote_rev {
                    "hard-reset"
                } else {
                    "updated"
                },
                short(local_rev)
            )),
        }
        self.changes.insert(
            "revision".into(),
            json!({"old": local_rev, "new": wanted.remote_rev}),
        );
        if fast_forward == Some(false) {
            self.changes.insert("forced update".into(), json!(true));
        }
        pending(&self.url, format_comments(&actions), self.changes.clone())
    }

    /// Salt's `_not_fast_forward` failure.
    fn not_fast_forward(
        &self,
        wanted: &Wanted,
        local: &Checkout,
        branch: &Option<String>,
    ) -> String {
        let (local_rev, local_branch, local_changes) =
            (local.rev.as_deref(), &local.branch, local.changes);
        let pre = short(local_rev);
        let post = short(wanted.remote_rev.as_deref());
        let span = if local_changes && pre != post {
            format!("from {pre} to {post}")
        } else {
            format!("to {post}")
        };
        let after_checkout = match branch {
            Some(b) if Some(b) != local_branch.as_ref() => {
                format!(" (after checking out local branch '{b}')")
            }
            _ => String::new(),
        };
        let (why, or_remote, discard) = if local_changes {
            (
                "there are uncommitted changes",
                " (or 'remote-changes')",
                " and discard these changes",
            )
        } else {
            ("this is not a fast-forward merge", "", "")
        };
        let hint = match (branch, local_branch) {
            (None, Some(lb)) if wanted.rev != "HEAD" && *lb != wanted.rev => format!(
                " The desired rev ({rev}) differs from the name of the local branch ({lb}), if the \
                 desired rev is a branch name then a forced update could possibly be avoided by \
                 setting the 'branch' argument to '{rev}' instead.",
                rev = wanted.rev
            ),
            _ => String::new(),
        };
        format!(
            "Repository would be updated {span}{after_checkout}, but {why}. Set 'force_reset' to \
             True{or_remote} to force this update{discard}.{hint}"
        )
    }

    /// Whether moving to the wanted commit is a fast-forward (`None`: not
    /// known before fetching); a known non-fast-forward is refused unless
    /// `force_reset` is set.
    fn merge_kind(
        &self,
        wanted: &Wanted,
        local: &Checkout,
        branch: &Option<String>,
        has_remote_rev: bool,
    ) -> Result<Option<bool>, String> {
        let fast_forward =
            self.fast_forward(local, wanted.remote_rev.as_deref(), has_remote_rev)?;
        if fast_forward == Some(false) && !self.c.chunk.bool_arg("force_reset", false) {
            return Err(self.not_fast_forward(wanted, local, branch));
        }
        Ok(fast_forward)
    }

    fn fast_forward(
        &self,
        local: &Checkout,
        remote: Option<&str>,
        has_remote_rev: bool,
    ) -> Result<Option<bool>, String> {
        if local.changes {
            return Ok(Some(false));
        }
        if !has_remote_rev {
            return Ok(None);
        }
        let (Some(local), Some(remote)) = (local.rev.as_deref(), remote) else {
            return Ok(Some(true));
        };
        let ancestor = self.at_target(
            "merge_base",
            vec![],
            &[
                ("refs", json!([local, remote])),
                ("is_ancestor", json!(true)),
            ],
        )?;
        Ok(Some(truthy(&ancestor)))
    }

    fn fetch(&mut self, wanted: &Wanted) -> Result<(), String> {
        let refspecs = [
            format!("refs/heads/*:refs/remotes/{}/*", wanted.remote),
            "+refs/tags/*:refs/tags/*".to_string(),
        ];
        let force = self.c.chunk.bool_arg("force_fetch", false);
        self.at_target(
            "fetch",
            vec![],
            &[
                ("remote", json!(wanted.remote)),
                ("force", json!(force)),
                ("refspecs", json!(refspecs)),
            ],
        )
        .map_err(|e| format!("Fetch failed: {e}"))?;
        Ok(())
    }

    fn switch_branch(
        &mut self,
        branch: &str,
        wanted: &Wanted,
        remote_rev: &str,
    ) -> Result<(), String> {
        if self.local_branches()?.iter().any(|b| b == branch) {
            self.at_target("checkout", vec![json!(branch)], &[])?;
            self.comments.push(format!("Branch '{branch}' checked out"));
        } else {
            self.at_target(
                "checkout",
                vec![json!(remote_rev)],
                &[("opts", json!(["-b", branch]))],
            )?;
            self.comments.push(format!(
                "New branch '{branch}' was checked out, with {} as a starting point",
                wanted.location()
            ));
        }
        Ok(())
    }

    fn submodules(&self) -> Result<(), String> {
        if self.c.chunk.bool_arg("submodules", false) {
            self.at_target(
                "submodule",
                vec![json!("update")],
                &[("opts", json!(["--init", "--recursive"]))],
            )
            .map_err(|e| format!("Failed to update submodules: {e}"))?;
        }
        Ok(())
    }

    fn local_rev(&self) -> Option<String> {
        self.at_target("revision", vec![], &[])
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .filter(|s| !s.is_empty() && s != "HEAD")
    }

    /// The checked-out branch, `None` for a detached HEAD.
    fn local_branch(&self) -> Option<String> {
        self.at_target("current_branch", vec![], &[])
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .filter(|b| !b.is_empty() && b != "HEAD")
    }

    fn local_branches(&self) -> Result<Vec<String>, String> {
        Ok(strings(&self.at_target("list_branches", vec![], &[])?))
    }

    fn has_commit(&self, sha: &str) -> bool {
        self.at_target(
            "rev_parse",
            vec![json!(format!("{sha}^{{commit}}"))],
            &[("opts", json!(["--verify", "--quiet"]))],
        )
        .is_ok()
    }

    /// Uncommitted changes to tracked files (untracked files do not count).
    fn has_local_changes(&self) -> Result<bool, String> {
        let status = self.at_target("status", vec![], &[])?;
        Ok(["modified", "new", "deleted"].iter().any(|k| {
            status
                .get(*k)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_join_like_salt() {
        assert_eq!(format_comments(&["a".into()]), "a");
        assert_eq!(format_comments(&["a".into(), "b".into()]), "a. b.");
        assert_eq!(short(Some("0123456789")), "0123456");
    }

    #[test]
    fn short_commit_ids_match_by_prefix() {
        let w = Wanted {
            rev: "abcd123".into(),
            kind: RevType::Sha1,
            remote_rev: Some("abcd123".into()),
            remote: "origin".into(),
        };
        assert!(w.matches(Some("abcd1234567890")));
        assert!(!w.matches(Some("bbcd1234567890")));
        assert_eq!(w.location(), "abcd123 (abcd123)");
    }
}
