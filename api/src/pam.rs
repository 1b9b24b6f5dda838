//! The `pam` eauth (Salt's `salt.auth.pam`): a password checked by the
//! system's PAM stack through the service `auth.pam.service` (default
//! `login`), then the account itself (expired, locked), as Salt does; the
//! user's groups come from the system's group database, for `name%`
//! entries of `external_auth`.
//!
//! PAM calls block (and modules may sleep after a failure): callers run
//! them on a blocking thread.

use std::ffi::{OsStr, OsString};

use nonstick::{AuthnFlags, ConversationAdapter, Transaction, TransactionBuilder};

/// Answers PAM's prompts: the password for hidden ones (the password
/// prompt), the user name for visible ones (a login prompt).
struct Answers {
    user: String,
    password: String,
}

impl ConversationAdapter for Answers {
    fn prompt(&self, _request: impl AsRef<OsStr>) -> nonstick::Result<OsString> {
        Ok(OsString::from(&self.user))
    }

    fn masked_prompt(&self, _request: impl AsRef<OsStr>) -> nonstick::Result<OsString> {
        Ok(OsString::from(&self.password))
    }

    fn error_msg(&self, message: impl AsRef<OsStr>) {
        tracing::debug!("pam: {}", message.as_ref().to_string_lossy());
    }

    fn info_msg(&self, message: impl AsRef<OsStr>) {
        tracing::debug!("pam: {}", message.as_ref().to_string_lossy());
    }
}

/// Whether PAM accepts `user` with `password` through `service`.
pub fn authenticate(service: &str, user: &str, password: &str) -> bool {
    let answers = Answers {
        user: user.to_string(),
        password: password.to_string(),
    };
    let started = TransactionBuilder::new_with_service(service)
        .username(user)
        .build(answers.into_conversation());
    let mut handle = match started {
        Ok(h) => h,
        Err(e) => {
            tracing::error!("pam: cannot start service '{service}': {e:?}");
            return false;
        }
    };
    match handle
        .authenticate(AuthnFlags::empty())
        .and_then(|()| handle.account_management(AuthnFlags::empty()))
    {
        Ok(()) => true,
        Err(e) => {
            tracing::info!("pam: login of '{user}' through '{service}' refused: {e:?}");
            false
        }
    }
}

/// The names of the groups `user` is in (primary group included), as
/// Salt's `get_group_list`; empty for an unknown user.
pub fn groups(user: &str) -> Vec<String> {
    use nix::unistd::{Group, User, getgrouplist};
    let Ok(Some(account)) = User::from_name(user) else {
        return Vec::new();
    };
    let Ok(name) = std::ffi::CString::new(user) else {
        return Vec::new();
    };
    let gids = getgrouplist(&name, account.gid).unwrap_or_else(|_| vec![account.gid]);
    let mut names: Vec<String> = gids
        .into_iter()
        .filter_map(|gid| Group::from_gid(gid).ok().flatten())
        .map(|g| g.name)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_groups_include_its_primary_group() {
        assert!(groups("root").iter().any(|g| g == "root"));
        assert!(groups("brine-no-such-user").is_empty());
    }

    #[test]
    fn an_unknown_user_is_refused() {
        assert!(!authenticate("login", "brine-no-such-user", "x"));
    }
}
