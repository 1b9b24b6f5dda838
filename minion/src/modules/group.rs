//! Salt's `group` execution module (`groupadd`): create, delete and change
//! local groups and their members with `groupadd`, `groupdel`, `groupmod`
//! and `gpasswd`. Look-ups go through the system's group database (NSS), as
//! Python's `grp` module does; `info` is `{name, passwd, gid, members}`.

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use nix::unistd::Group;
use serde_json::{Value, json};

use super::MinionCtx;
use super::host::{HostCmd, blocking, bool_param, check_name, list_value, required_str, str_param};

/// One group, as `getgrnam` gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct GrEntry {
    pub name: String,
    pub passwd: String,
    pub gid: u32,
    pub members: Vec<String>,
}

impl GrEntry {
    fn from_group(g: Group) -> GrEntry {
        GrEntry {
            passwd: g.passwd.to_string_lossy().into_owned(),
            gid: g.gid.as_raw(),
            members: g.mem,
            name: g.name,
        }
    }

    /// A `group` line: `name:passwd:gid:member1,member2`.
    pub fn parse(line: &str) -> Option<GrEntry> {
        let f: Vec<&str> = line.splitn(4, ':').collect();
        let [name, passwd, gid, members] = f.as_slice() else {
            return None;
        };
        Some(GrEntry {
            name: name.to_string(),
            passwd: passwd.to_string(),
            gid: gid.parse().ok()?,
            members: members
                .split(',')
                .filter(|m| !m.is_empty())
                .map(String::from)
                .collect(),
        })
    }

    /// Salt's `group.info` dict.
    pub fn to_info(&self) -> Value {
        json!({
            "name": self.name,
            "passwd": self.passwd,
            "gid": self.gid,
            "members": self.members,
        })
    }
}

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "group.add",
        "name, gid=None, system=False, root=None, non_unique=False, local=False",
        ADD_DOC,
        |_, call| async move { add(&call).await },
    );
    f.register(
        "group.delete",
        "name, root=None, local=False",
        DELETE_DOC,
        |_, call| async move {
            no_root(&call)?;
            let name = group_name(&call)?;
            let out = HostCmd::new("groupdel").arg(name).output().await?;
            succeeded(&out)
        },
    );
    f.register(
        "group.info",
        "name, root=None",
        INFO_DOC,
        |_, call| async move {
            no_root(&call)?;
            let name = required_str(&call, 0, "name")?;
            let info = lookup(&name)
                .await?
                .map_or_else(|| json!({}), |g| g.to_info());
            Ok(info.into())
        },
    );
    f.register(
        "group.getent",
        "refresh=False, root=None",
        GETENT_DOC,
        |_, call| async move {
            no_root(&call)?;
            let groups = all_groups().await?;
            Ok(json!(groups.iter().map(GrEntry::to_info).collect::<Vec<_>>()).into())
        },
    );
    f.register(
        "group.chgid",
        "name, gid, root=None",
        CHGID_DOC,
        |_, call| async move { chgid(&call).await },
    );
    f.register(
        "group.adduser",
        "name, username, root=None",
        ADDUSER_DOC,
        |_, call| async move { adduser(&call).await },
    );
    f.register(
        "group.deluser",
        "name, username, root=None",
        DELUSER_DOC,
        |_, call| async move { deluser(&call).await },
    );
    f.register(
        "group.members",
        "name, members_list, root=None",
        MEMBERS_DOC,
        |_, call| async move { members(&call).await },
    );
}

fn no_root(call: &Call) -> Result<(), FnError> {
    if call.kwargs.get("root").is_some_and(|v| !v.is_null()) {
        return Err(FnError::Invocation(
            "the root argument (managing groups of another root directory) is not supported yet"
                .into(),
        ));
    }
    Ok(())
}

fn group_name(call: &Call) -> Result<String, FnError> {
    let name = required_str(call, 0, "name")?;
    check_name("group", &name)?;
    Ok(name)
}

fn user_arg(call: &Call) -> Result<String, FnError> {
    let user = required_str(call, 1, "username")?;
    check_name("user", &user)?;
    Ok(user)
}

/// Salt's answer for these: True when the command exited 0 (the reason for a
/// failure is logged).
fn succeeded(out: &super::host::CmdOutput) -> Result<FnOutput, FnError> {
    if !out.success() {
        tracing::warn!("{}", out.failure_message());
    }
    Ok(json!(out.success()).into())
}

/// The group database entry for `name`, if there is one.
pub async fn lookup(name: &str) -> Result<Option<GrEntry>, FnError> {
    let name = name.to_string();
    blocking(move || {
        Group::from_name(&name)
            .map(|g| g.map(GrEntry::from_group))
            .map_err(|e| FnError::Execution(format!("cannot look up group {name}: {e}")))
    })
    .await
}

/// Every group (`getent group`).
pub async fn all_groups() -> Result<Vec<GrEntry>, FnError> {
    let out = HostCmd::new("getent").arg("group").checked().await?;
    Ok(out.stdout.lines().filter_map(GrEntry::parse).collect())
}

/// `groupadd [-g gid] [-o] [-r] name`.
pub fn add_command(call: &Call) -> Result<HostCmd, FnError> {
    let name = group_name(call)?;
    let mut cmd = HostCmd::new("groupadd");
    if let Some(gid) = str_param(call, 1, "gid").filter(|g| !g.is_empty()) {
        gid.parse::<u32>()
            .map_err(|_| FnError::Invocation(format!("gid must be an integer, not {gid:?}")))?;
        cmd = cmd.args(["-g".to_string(), gid]);
    }
    if bool_param(call, 4, "non_unique", false) {
        cmd = cmd.arg("-o");
    }
    if bool_param(call, 2, "system", false) {
        cmd = cmd.arg("-r");
    }
    Ok(cmd.arg(name))
}

async fn add(call: &Call) -> Result<FnOutput, FnError> {
    no_root(call)?;
    let out = add_command(call)?.output().await?;
    succeeded(&out)
}

async fn chgid(call: &Call) -> Result<FnOutput, FnError> {
    no_root(call)?;
    let name = group_name(call)?;
    let gid: u32 = required_str(call, 1, "gid")?
        .parse()
        .map_err(|_| FnError::Invocation("gid must be an integer".into()))?;
    let pre = lookup(&name)
        .await?
        .ok_or_else(|| FnError::Execution(format!("Group '{name}' does not exist")))?;
    if pre.gid == gid {
        return Ok(json!(true).into());
    }
    let out = HostCmd::new("groupmod")
        .args(["-g".to_string(), gid.to_string(), name.clone()])
        .output()
        .await?;
    if !out.success() {
        tracing::warn!("{}", out.failure_message());
    }
    let post = lookup(&name).await?.map(|g| g.gid);
    Ok(json!(post == Some(gid)).into())
}

async fn adduser(call: &Call) -> Result<FnOutput, FnError> {
    no_root(call)?;
    let name = group_name(call)?;
    let user = user_arg(call)?;
    let out = HostCmd::new("gpasswd")
        .args(["-a", user.as_str(), name.as_str()])
        .output()
        .await?;
    succeeded(&out)
}

/// Removing a user who is not a member is a success, as in Salt.
async fn deluser(call: &Call) -> Result<FnOutput, FnError> {
    no_root(call)?;
    let name = group_name(call)?;
    let user = user_arg(call)?;
    let Some(group) = lookup(&name).await? else {
        return Ok(json!(true).into());
    };
    if !group.members.contains(&user) {
        return Ok(json!(true).into());
    }
    let out = HostCmd::new("gpasswd")
        .args(["-d", user.as_str(), name.as_str()])
        .output()
        .await?;
    succeeded(&out)
}

/// Replace the member list (`gpasswd -M a,b,c name`).
async fn members(call: &Call) -> Result<FnOutput, FnError> {
    no_root(call)?;
    let name = group_name(call)?;
    let list = call
        .param(1, "members_list")
        .map(list_value)
        .ok_or_else(|| FnError::Invocation("missing required argument 'members_list'".into()))?;
    for user in &list {
        check_name("user", user)?;
    }
    let out = HostCmd::new("gpasswd")
        .args(["-M".to_string(), list.join(","), name])
        .output()
        .await?;
    succeeded(&out)
}

const ADD_DOC: &str = "Add the specified group\n\nname\n    Name of the new group\n\ngid\n    Use GID for the new group\n\nsystem\n    Create a system account\n\nnon_unique\n    Allow creating groups with duplicate (non-unique) GIDs\n\nCLI Example:\n\n    brine '*' group.add foo 3456";
const DELETE_DOC: &str = "Remove the named group\n\nname\n    Name group to delete\n\nCLI Example:\n\n    brine '*' group.delete foo";
const INFO_DOC: &str = "Return information about a group\n\nname\n    Name of the group\n\nCLI Example:\n\n    brine '*' group.info foo";
const GETENT_DOC: &str = "Return info on all groups\n\nCLI Example:\n\n    brine '*' group.getent";
const CHGID_DOC: &str = "Change the gid for a named group\n\nname\n    Name of the group to modify\n\ngid\n    Change the group ID to GID\n\nCLI Example:\n\n    brine '*' group.chgid foo 4376";
const ADDUSER_DOC: &str = "Add a user in the group.\n\nname\n    Name of the group to modify\n\nusername\n    Username to add to the group\n\nCLI Example:\n\n     brine '*' group.adduser foo bar\n\nVerifies if a valid username 'bar' as a member of an existing group 'foo',\nif not then adds it.";
const DELUSER_DOC: &str = "Remove a user from the group.\n\nname\n    Name of the group to modify\n\nusername\n    Username to delete from the group\n\nCLI Example:\n\n     brine '*' group.deluser foo bar\n\nRemoves a member user 'bar' from a group 'foo'. If group is not present\nthen returns True.";
const MEMBERS_DOC: &str = "Replaces members of the group with a provided list.\n\nname\n    Name of the group to modify\n\nmembers_list\n    Username list to set into the group\n\nCLI Example:\n\n    brine '*' group.members foo 'user1,user2,user3,...'\n\nReplaces a membership list for a local group 'foo'.\n    foo:x:1234:user1,user2,user3,...";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    #[test]
    fn group_lines() {
        let g = GrEntry::parse("adm:x:4:syslog,alice").expect("parse");
        assert_eq!(
            g.to_info(),
            json!({"name": "adm", "passwd": "x", "gid": 4, "members": ["syslog", "alice"]})
        );
        assert_eq!(
            GrEntry::parse("empty:x:5:").expect("parse").members,
            Vec::<String>::new()
        );
        assert!(GrEntry::parse("bad:x").is_none());
    }

    #[test]
    fn groupadd_arguments() {
        let call = Call {
            fun: "group.add".into(),
            args: vec![json!("web"), json!(3456)],
            kwargs: [("system".to_string(), json!(true))]
                .into_iter()
                .collect::<Map<_, _>>(),
        };
        let cmd = add_command(&call).expect("cmd");
        assert_eq!(cmd.argv(), ["-g", "3456", "-r", "web"]);
        let bad = Call {
            fun: "group.add".into(),
            args: vec![json!("web"), json!("12; rm")],
            kwargs: Map::new(),
        };
        assert!(add_command(&bad).is_err());
    }
}
