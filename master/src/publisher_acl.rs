//! Salt's `publisher_acl`: which local users other than root and the
//! master's own user may publish which jobs through the master's socket.
//!
//! Who is asking comes from the kernel (`SO_PEERCRED` on the socket), never
//! from the request, so there are no per-user key files as in Salt. A user
//! gets the permissions of every `publisher_acl` key that matches their name
//! as Salt's `expr_match` does (exact, glob, or whole-name regex), in the
//! list format `external_auth` uses (`brine_common::perms`): a function
//! regex for every minion, `{target: [functions]}` for the minions a target
//! covers, with optional argument constraints. Such a user may only publish
//! (no runners, keys, events or matching), and their job is narrowed to the
//! minions checked, so a minion whose cached grains were stale cannot run it.
//! `publisher_acl_blacklist` (`users`, `modules`) refuses everyone, root
//! included, as in Salt.
//!
//! The socket is private (sock_dir 0700) unless `publisher_acl` names
//! someone; then sock_dir is 0755 and the socket 0666 and every request is
//! authorised here.

use std::collections::BTreeSet;

use brine_client::JobRequest;
use brine_common::perms::{CallArgs, Perms, PermsError, permitted_by_id};
use brine_common::target::{
    ExprMatcher, TargetType, check_whitelist_blacklist, expand_nodegroups, restrict_to_ids,
};
use brine_common::wire::TargetSpec;
use serde_json::{Map, Value};

use crate::daemon::Master;
use crate::jobs;

/// What Salt's CLI prints when a user may not run the job, word for word.
pub const AUTHORIZATION_ERROR: &str = "Authorization error occurred.";
/// What Salt's CLI prints for a user `publisher_acl` does not name.
pub const AUTHENTICATION_ERROR: &str = "Authentication error occurred.";

/// Why a publication does not go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclError {
    /// The ACL says no: Salt's CLI prints these words as the command's
    /// output ([`AUTHORIZATION_ERROR`], [`AUTHENTICATION_ERROR`]).
    Refused(&'static str),
    /// The request itself is wrong (its target): an error like any other.
    Invalid(String),
}

/// Functions everyone may publish (Salt's whitelist): the CLI's own
/// bookkeeping.
const ALWAYS_ALLOWED: &[&str] = &["saltutil.find_job"];

/// Who is on the other end of a socket connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub uid: Option<u32>,
    pub name: String,
}

impl Caller {
    /// The caller the kernel names for a connection (`None`: unknown).
    pub fn of(uid: Option<u32>) -> Self {
        Caller {
            uid,
            name: uid.map_or_else(|| "unknown".into(), user_name),
        }
    }

    /// Root and the master's own user may do anything; they could read the
    /// master's keys anyway.
    pub fn is_trusted(&self) -> bool {
        self.uid
            .is_some_and(|uid| uid == 0 || uid == nix::unistd::geteuid().as_raw())
    }
}

/// A uid's user name, or the uid itself when it has none.
pub fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string())
}

/// The compiled `publisher_acl` and `publisher_acl_blacklist` (their
/// patterns compiled once, not on every publication).
#[derive(Debug, Default)]
pub struct PublisherAcl {
    users: Vec<(ExprMatcher, Perms)>,
    blacklisted_users: Vec<ExprMatcher>,
    blacklisted_modules: Vec<ExprMatcher>,
}

impl PublisherAcl {
    pub fn from_config(
        acl: &Map<String, Value>,
        blacklist: &Map<String, Value>,
    ) -> Result<Self, PermsError> {
        let users = acl
            .iter()
            .map(|(user, list)| {
                let perms = Perms::parse("publisher_acl", user, list)?;
                Ok((ExprMatcher::new(user), perms))
            })
            .collect::<Result<Vec<_>, PermsError>>()?;
        let names = |key: &str| -> Vec<ExprMatcher> {
            match blacklist.get(key) {
                Some(Value::String(s)) => vec![ExprMatcher::new(s)],
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(|v| v.as_str().map(ExprMatcher::new))
                    .collect(),
                _ => Vec::new(),
            }
        };
        Ok(PublisherAcl {
            users,
            blacklisted_users: names("users"),
            blacklisted_modules: names("modules"),
        })
    }

    /// Does the ACL name anyone (and so open the socket to other users)?
    pub fn names_anyone(&self) -> bool {
        !self.users.is_empty()
    }

    fn blacklisted(&self, user: &str, fun: &str) -> bool {
        !check_whitelist_blacklist(user, &[], &self.blacklisted_users)
            || !check_whitelist_blacklist(fun, &[], &self.blacklisted_modules)
    }

    /// The permission lists of every key that matches `user`.
    fn perms_of(&self, user: &str) -> Vec<&Perms> {
        self.users
            .iter()
            .filter(|(pattern, _)| pattern.is_match(user))
            .map(|(_, perms)| perms)
            .collect()
    }

    /// May `caller` publish `job`? For a user the ACL admits, the job's
    /// target is narrowed to the minions that were checked.
    pub fn authorize(
        &self,
        master: &Master,
        caller: &Caller,
        job: &mut JobRequest,
    ) -> Result<(), AclError> {
        if self.blacklisted(&caller.name, &job.fun) {
            tracing::error!(
                "{} does not have permissions to run {} (publisher_acl_blacklist)",
                caller.name,
                job.fun
            );
            return Err(AclError::Refused(AUTHORIZATION_ERROR));
        }
        if caller.is_trusted() || ALWAYS_ALLOWED.contains(&job.fun.as_str()) {
            return Ok(());
        }
        let perms = self.perms_of(&caller.name);
        if perms.is_empty() {
            tracing::warn!(
                "publish refused: user {} is not in publisher_acl",
                caller.name
            );
            return Err(AclError::Refused(AUTHENTICATION_ERROR));
        }
        let spec = expand_nodegroups(
            &TargetSpec {
                tgt: job.tgt.clone(),
                tgt_type: job.tgt_type,
            },
            &master.config.nodegroups,
        )
        .map_err(|e| AclError::Invalid(e.to_string()))?;
        let targeted =
            covered(master, &spec).ok_or_else(|| AclError::Invalid("bad target".to_string()))?;
        // Whether a permitted target covers the targeted minions: decided on
        // those minions alone when ids decide it, not on the whole fleet;
        // a target on grains or pillar needs the master's data cache.
        let known: Vec<String> = targeted.iter().cloned().collect();
        let permitted = |expr: &str| {
            permitted_by_id(expr, &known, &master.config.nodegroups).or_else(|| {
                let spec = TargetSpec {
                    tgt: Value::String(expr.to_string()),
                    tgt_type: TargetType::Compound,
                };
                covered(master, &spec)
            })
        };
        let call = CallArgs {
            args: &job.arg,
            kwargs: &job.kwarg,
        };
        if !perms
            .iter()
            .any(|p| p.allows_local(&job.fun, call, &targeted, &permitted))
        {
            tracing::warn!(
                "publish refused: publisher_acl does not permit {} to run {} on {:?}",
                caller.name,
                job.fun,
                job.tgt
            );
            return Err(AclError::Refused(AUTHORIZATION_ERROR));
        }
        let ids: Vec<String> = targeted.into_iter().collect();
        let narrowed =
            restrict_to_ids(&spec, &ids).map_err(|e| AclError::Invalid(e.to_string()))?;
        job.tgt = narrowed.tgt;
        job.tgt_type = narrowed.tgt_type;
        Ok(())
    }
}

/// The accepted minions a target matches by the master's data cache
/// (`None` for a target that does not compile).
fn covered(master: &Master, spec: &TargetSpec) -> Option<BTreeSet<String>> {
    jobs::match_target(master, spec)
        .ok()
        .map(|ids| ids.iter().map(ToString::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn acl(value: Value, blacklist: Value) -> PublisherAcl {
        let as_map = |v: Value| v.as_object().cloned().unwrap_or_default();
        PublisherAcl::from_config(&as_map(value), &as_map(blacklist)).expect("acl")
    }

    #[test]
    fn users_match_keys_as_salts_expr_match_does() {
        let acl = acl(
            json!({"fred": ["test.*"], "dev_*": ["pkg.*"], "ops[0-9]+": ["cmd.*"]}),
            json!({}),
        );
        assert_eq!(acl.perms_of("fred").len(), 1);
        assert_eq!(acl.perms_of("dev_anna").len(), 1);
        assert_eq!(acl.perms_of("ops12").len(), 1);
        assert!(acl.perms_of("mallory").is_empty());
        assert!(acl.names_anyone());
    }

    #[test]
    fn the_blacklist_names_users_and_modules() {
        let acl = acl(
            json!({"fred": ["test.*"]}),
            json!({"users": ["root", "^(?!sudo_).*$"], "modules": ["cmd.*"]}),
        );
        assert!(acl.blacklisted("root", "test.ping"));
        assert!(acl.blacklisted("fred", "test.ping"), "not sudo_*");
        assert!(!acl.blacklisted("sudo_fred", "test.ping"));
        assert!(acl.blacklisted("sudo_fred", "cmd.run"));
    }

    #[test]
    fn a_malformed_list_is_an_error_naming_the_key_and_user() {
        let err = PublisherAcl::from_config(
            json!({"fred": "test.*"}).as_object().expect("map"),
            &Map::new(),
        )
        .expect_err("a string is not a list");
        assert!(
            err.to_string().starts_with("publisher_acl: fred: "),
            "{err}"
        );
    }

    #[test]
    fn only_root_and_the_masters_user_are_trusted() {
        let me = nix::unistd::geteuid().as_raw();
        let caller = Caller::of;
        assert!(caller(Some(0)).is_trusted());
        assert!(caller(Some(me)).is_trusted());
        assert!(!caller(Some(me + 4242)).is_trusted());
        assert!(!caller(None).is_trusted());
    }
}
