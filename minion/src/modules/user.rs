//! Salt's `user` execution module (`useradd`): create, change, delete and
//! look up local users with the shadow utilities (`useradd`, `usermod`,
//! `userdel`). Look-ups go through the system's user database (NSS), as
//! Python's `pwd` module does; `info` has Salt's keys (`name`, `uid`, `gid`,
//! `home`, `shell`, `groups`, `passwd` and the GECOS fields `fullname`,
//! `roomnumber`, `workphone`, `homephone`, `other`).

use std::ffi::CString;

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use nix::unistd::{Gid, Group, User, getgrouplist};
use serde_json::{Value, json};

use super::MinionCtx;
use super::host::{HostCmd, blocking, bool_param, check_name, list_value, required_str, str_param};

/// One user, as `getpwnam` gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct PwEntry {
    pub name: String,
    pub passwd: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
    pub home: String,
    pub shell: String,
}

impl PwEntry {
    fn from_user(u: User) -> PwEntry {
        PwEntry {
            passwd: u.passwd.to_string_lossy().into_owned(),
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            gecos: u.gecos.to_string_lossy().into_owned(),
            home: u.dir.display().to_string(),
            shell: u.shell.display().to_string(),
            name: u.name,
        }
    }

    /// A `passwd` line: `name:passwd:uid:gid:gecos:home:shell`.
    pub fn parse(line: &str) -> Option<PwEntry> {
        let f: Vec<&str> = line.splitn(7, ':').collect();
        let [name, passwd, uid, gid, gecos, home, shell] = f.as_slice() else {
            return None;
        };
        Some(PwEntry {
            name: name.to_string(),
            passwd: passwd.to_string(),
            uid: uid.parse().ok()?,
            gid: gid.parse().ok()?,
            gecos: gecos.to_string(),
            home: home.to_string(),
            shell: shell.to_string(),
        })
    }
}

/// The GECOS field's five comma-separated parts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gecos {
    pub fullname: String,
    pub roomnumber: String,
    pub workphone: String,
    pub homephone: String,
    pub other: String,
}

impl Gecos {
    pub fn parse(text: &str) -> Gecos {
        let mut parts = text.splitn(5, ',').map(String::from);
        let mut next = || parts.next().unwrap_or_default();
        Gecos {
            fullname: next(),
            roomnumber: next(),
            workphone: next(),
            homephone: next(),
            other: next(),
        }
    }

    /// Salt's `_build_gecos`.
    pub fn build(&self) -> String {
        let other = if self.other.is_empty() {
            String::new()
        } else {
            format!(",{}", self.other)
        };
        format!(
            "{},{},{},{}{other}",
            self.fullname, self.roomnumber, self.workphone, self.homephone
        )
    }

    fn is_empty(&self) -> bool {
        *self == Gecos::default()
    }
}

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "user.add",
        r#"name, uid=None, gid=None, groups=None, home=None, shell=None, unique=True, system=False, fullname="", roomnumber="", workphone="", homephone="", other="", createhome=True, loginclass=None, nologinit=False, root=None, usergroup=None, local=False"#,
        ADD_DOC,
        |_, call| async move { add(&call).await },
    );
    f.register(
        "user.delete",
        "name, remove=False, force=False, root=None, local=False",
        DELETE_DOC,
        |_, call| async move { delete(&call).await },
    );
    f.register(
        "user.info",
        "name, root=None",
        INFO_DOC,
        |_, call| async move {
            no_root(&call)?;
            let name = required_str(&call, 0, "name")?;
            Ok(info(&name).await?.unwrap_or_else(|| json!({})).into())
        },
    );
    f.register(
        "user.list_users",
        "root=None",
        LIST_USERS_DOC,
        |_, call| async move {
            no_root(&call)?;
            let mut names: Vec<String> = all_users().await?.into_iter().map(|u| u.name).collect();
            names.sort();
            names.dedup();
            Ok(json!(names).into())
        },
    );
    f.register(
        "user.getent",
        "refresh=False, root=None",
        GETENT_DOC,
        |_, call| async move {
            no_root(&call)?;
            getent().await
        },
    );
    f.register(
        "user.list_groups",
        "name",
        LIST_GROUPS_DOC,
        |_, call| async move {
            let name = required_str(&call, 0, "name")?;
            Ok(json!(list_groups(&name).await?).into())
        },
    );
    f.register(
        "user.primary_group",
        "name",
        PRIMARY_GROUP_DOC,
        |_, call| async move { primary_group(&call).await },
    );
    f.register(
        "user.chshell",
        "name, shell, root=None",
        CHSHELL_DOC,
        |_, call| async move { change(&call, Field::Shell).await },
    );
    f.register(
        "user.chhome",
        "name, home, persist=False, root=None",
        CHHOME_DOC,
        |_, call| async move { change(&call, Field::Home).await },
    );
    f.register(
        "user.chuid",
        "name, uid, root=None",
        CHUID_DOC,
        |_, call| async move { change(&call, Field::Uid).await },
    );
    f.register(
        "user.chgid",
        "name, gid, root=None",
        CHGID_DOC,
        |_, call| async move { change(&call, Field::Gid).await },
    );
    f.register(
        "user.chfullname",
        "name, fullname, root=None",
        CHFULLNAME_DOC,
        |_, call| async move { chfullname(&call).await },
    );
    f.register(
        "user.chgroups",
        "name, groups, append=False, root=None",
        CHGROUPS_DOC,
        |_, call| async move { chgroups(&call).await },
    );
}

fn no_root(call: &Call) -> Result<(), FnError> {
    if call.kwargs.get("root").is_some_and(|v| !v.is_null()) {
        return Err(FnError::Invocation(
            "the root argument (managing users of another root directory) is not supported yet"
                .into(),
        ));
    }
    Ok(())
}

fn user_name(call: &Call) -> Result<String, FnError> {
    let name = required_str(call, 0, "name")?;
    check_name("user", &name)?;
    Ok(name)
}

/// The user database entry for `name`, if there is one.
pub async fn lookup(name: &str) -> Result<Option<PwEntry>, FnError> {
    let name = name.to_string();
    blocking(move || {
        User::from_name(&name)
            .map(|u| u.map(PwEntry::from_user))
            .map_err(|e| FnError::Execution(format!("cannot look up user {name}: {e}")))
    })
    .await
}

/// Every user (`getent passwd`).
pub async fn all_users() -> Result<Vec<PwEntry>, FnError> {
    let out = HostCmd::new("getent").arg("passwd").checked().await?;
    Ok(out.stdout.lines().filter_map(PwEntry::parse).collect())
}

/// The names of every group `name` is in, its primary group included, sorted.
pub async fn list_groups(name: &str) -> Result<Vec<String>, FnError> {
    let Some(entry) = lookup(name).await? else {
        return Ok(Vec::new());
    };
    let user = entry.name.clone();
    blocking(move || {
        let cname = CString::new(user.clone())
            .map_err(|_| FnError::Invocation(format!("invalid user name {user:?}")))?;
        let gids = getgrouplist(&cname, Gid::from_raw(entry.gid))
            .map_err(|e| FnError::Execution(format!("cannot list the groups of {user}: {e}")))?;
        let mut names: Vec<String> = gids
            .into_iter()
            .filter_map(|g| Group::from_gid(g).ok().flatten().map(|g| g.name))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    })
    .await
}

/// Salt's `user.info` dict; `None` when there is no such user.
pub async fn info(name: &str) -> Result<Option<Value>, FnError> {
    let Some(entry) = lookup(name).await? else {
        return Ok(None);
    };
    let groups = list_groups(&entry.name).await?;
    Ok(Some(format_info(&entry, groups)))
}

fn format_info(entry: &PwEntry, groups: Vec<String>) -> Value {
    let g = Gecos::parse(&entry.gecos);
    json!({
        "gid": entry.gid,
        "groups": groups,
        "home": entry.home,
        "name": entry.name,
        "passwd": entry.passwd,
        "shell": entry.shell,
        "uid": entry.uid,
        "fullname": g.fullname,
        "roomnumber": g.roomnumber,
        "workphone": g.workphone,
        "homephone": g.homephone,
        "other": g.other,
    })
}

async fn getent() -> Result<FnOutput, FnError> {
    let mut ret = Vec::new();
    for entry in all_users().await? {
        let groups = list_groups(&entry.name).await?;
        ret.push(format_info(&entry, groups));
    }
    Ok(json!(ret).into())
}

async fn primary_group(call: &Call) -> Result<FnOutput, FnError> {
    let name = required_str(call, 0, "name")?;
    let Some(entry) = lookup(&name).await? else {
        return Ok(json!("").into());
    };
    let gid = entry.gid;
    let group = blocking(move || {
        Ok(Group::from_gid(Gid::from_raw(gid))
            .ok()
            .flatten()
            .map(|g| g.name))
    })
    .await?;
    Ok(json!(group.unwrap_or_default()).into())
}

/// `useradd` with Salt's options.
pub fn add_command(call: &Call) -> Result<HostCmd, FnError> {
    let name = user_name(call)?;
    let mut cmd = HostCmd::new("useradd");
    if let Some(shell) = str_param(call, 5, "shell").filter(|s| !s.is_empty()) {
        cmd = cmd.args(["-s".to_string(), shell]);
    }
    if let Some(uid) = str_param(call, 1, "uid").filter(|s| !s.is_empty()) {
        cmd = cmd.args(["-u".to_string(), uid]);
    }
    let usergroup = call.param(17, "usergroup").filter(|v| !v.is_null());
    if let Some(gid) = str_param(call, 2, "gid").filter(|s| !s.is_empty()) {
        cmd = cmd.args(["-g".to_string(), gid]);
    } else if let Some(ug) = usergroup {
        cmd = cmd.arg(if brine_common::truth::salt_is_true(ug) {
            "-U"
        } else {
            "-N"
        });
    }
    let home = str_param(call, 4, "home").filter(|s| !s.is_empty());
    if let Some(home) = &home {
        cmd = cmd.args(["-d", home.as_str()]);
    }
    cmd = cmd.arg(if bool_param(call, 13, "createhome", true) {
        "-m"
    } else {
        "-M"
    });
    if bool_param(call, 15, "nologinit", false) {
        cmd = cmd.arg("-l");
    }
    if !bool_param(call, 6, "unique", true) {
        cmd = cmd.arg("-o");
    }
    if bool_param(call, 7, "system", false) {
        cmd = cmd.arg("-r");
    }
    let gecos = Gecos {
        fullname: str_param(call, 8, "fullname").unwrap_or_default(),
        roomnumber: str_param(call, 9, "roomnumber").unwrap_or_default(),
        workphone: str_param(call, 10, "workphone").unwrap_or_default(),
        homephone: str_param(call, 11, "homephone").unwrap_or_default(),
        other: str_param(call, 12, "other").unwrap_or_default(),
    };
    if !gecos.is_empty() {
        cmd = cmd.args(["-c".to_string(), gecos.build()]);
    }
    Ok(cmd.arg(name))
}

/// True once the user exists; False when `useradd` failed (as Salt; the
/// reason is logged).
async fn add(call: &Call) -> Result<FnOutput, FnError> {
    no_root(call)?;
    if call.param(14, "loginclass").is_some_and(|v| !v.is_null()) {
        return Err(FnError::Invocation(
            "loginclass is only supported on BSD".into(),
        ));
    }
    let cmd = add_command(call)?;
    let out = cmd.output().await?;
    if !out.success() {
        tracing::warn!("user.add: {}", out.failure_message());
        return Ok(json!(false).into());
    }
    // The user exists now: like Salt, report True even if the groups below
    // cannot be set (a later state run reports that).
    if let Some(groups) = call.param(3, "groups").filter(|v| !v.is_null()) {
        let name = user_name(call)?;
        let groups = list_value(groups);
        if !groups.is_empty()
            && let Err(e) = set_groups(&name, &groups, false).await
        {
            tracing::warn!("user.add {name}: cannot set the groups: {e}");
        }
    }
    Ok(json!(true).into())
}

async fn delete(call: &Call) -> Result<FnOutput, FnError> {
    no_root(call)?;
    let name = user_name(call)?;
    let mut cmd = HostCmd::new("userdel");
    if bool_param(call, 1, "remove", false) {
        cmd = cmd.arg("-r");
    }
    if bool_param(call, 2, "force", false) {
        cmd = cmd.arg("-f");
    }
    let out = cmd.arg(name).output().await?;
    if out.success() {
        return Ok(json!(true).into());
    }
    // Debian's userdel exits 12 when only the mail spool could not be removed.
    if out.code == Some(12) && out.stderr.contains("mail") {
        return Ok(json!(true).into());
    }
    tracing::warn!("user.delete: {}", out.failure_message());
    Ok(json!(false).into())
}

#[derive(Debug, Clone, Copy)]
enum Field {
    Shell,
    Home,
    Uid,
    Gid,
}

/// `usermod` one field; true when the user has the wanted value afterwards.
async fn change(call: &Call, field: Field) -> Result<FnOutput, FnError> {
    no_root(call)?;
    let name = user_name(call)?;
    let (key, flag) = match field {
        Field::Shell => ("shell", "-s"),
        Field::Home => ("home", "-d"),
        Field::Uid => ("uid", "-u"),
        Field::Gid => ("gid", "-g"),
    };
    let want = required_str(call, 1, key)?;
    let want_value = match field {
        Field::Uid | Field::Gid => json!(
            want.parse::<u32>()
                .map_err(|_| { FnError::Invocation(format!("{key} must be an integer")) })?
        ),
        Field::Shell | Field::Home => json!(want),
    };
    let pre = info(&name)
        .await?
        .ok_or_else(|| FnError::Execution(format!("User '{name}' does not exist")))?;
    if pre[key] == want_value {
        return Ok(json!(true).into());
    }
    let mut cmd = HostCmd::new("usermod").args([flag, want.as_str()]);
    if matches!(field, Field::Home) && bool_param(call, 2, "persist", false) {
        cmd = cmd.arg("-m");
    }
    let out = cmd.arg(&name).output().await?;
    if !out.success() {
        tracing::warn!("{}", out.failure_message());
    }
    let post = info(&name).await?.unwrap_or_default();
    Ok(json!(post[key] == want_value).into())
}

async fn chfullname(call: &Call) -> Result<FnOutput, FnError> {
    no_root(call)?;
    let name = user_name(call)?;
    let fullname = str_param(call, 1, "fullname").unwrap_or_default();
    let Some(entry) = lookup(&name).await? else {
        return Ok(json!(false).into());
    };
    let mut gecos = Gecos::parse(&entry.gecos);
    if gecos.fullname == fullname {
        return Ok(json!(true).into());
    }
    gecos.fullname = fullname.clone();
    let out = HostCmd::new("usermod")
        .args(["-c".to_string(), gecos.build(), name.clone()])
        .output()
        .await?;
    if !out.success() {
        tracing::warn!("{}", out.failure_message());
    }
    let now = lookup(&name)
        .await?
        .map(|e| Gecos::parse(&e.gecos).fullname);
    Ok(json!(now == Some(fullname)).into())
}

async fn chgroups(call: &Call) -> Result<FnOutput, FnError> {
    no_root(call)?;
    let name = user_name(call)?;
    let groups = call
        .param(1, "groups")
        .map(list_value)
        .ok_or_else(|| FnError::Invocation("missing required argument 'groups'".into()))?;
    let append = bool_param(call, 2, "append", false);
    let mut current = list_groups(&name).await?;
    let mut wanted = groups.clone();
    current.sort();
    wanted.sort();
    wanted.dedup();
    if current == wanted {
        return Ok(json!(true).into());
    }
    Ok(json!(set_groups(&name, &groups, append).await?).into())
}

/// `usermod [-a] -G g1,g2 name`; true when it exited 0.
async fn set_groups(name: &str, groups: &[String], append: bool) -> Result<bool, FnError> {
    let mut cmd = HostCmd::new("usermod");
    if append {
        cmd = cmd.arg("-a");
    }
    let out = cmd
        .args(["-G".to_string(), groups.join(","), name.to_string()])
        .output()
        .await?;
    if !out.success() {
        tracing::warn!("{}", out.failure_message());
    }
    Ok(out.success())
}

const ADD_DOC: &str = "Add a user to the minion\n\nname\n    Username LOGIN to add\n\nuid\n    User ID of the new account\n\ngid\n    Name or ID of the primary group of the new account\n\ngroups\n    List of supplementary groups of the new account\n\nhome\n    Home directory of the new account\n\nshell\n    Login shell of the new account\n\nunique\n    If not True, the user account can have a non-unique UID\n\nsystem\n    Create a system account\n\nfullname, roomnumber, workphone, homephone, other\n    GECOS field for the new account\n\ncreatehome\n    Create the user's home directory\n\nnologinit\n    Do not add the user to the lastlog and faillog databases\n\nusergroup\n    Create and add the user to a new primary group of the same name\n\nReturns True if the user was created, False otherwise.\n\nCLI Example:\n\n    brine '*' user.add name <uid> <gid> <groups> <home> <shell>";
const DELETE_DOC: &str = "Remove a user from the minion\n\nname\n    Username to delete\n\nremove\n    Remove home directory and mail spool\n\nforce\n    Force some actions that would fail otherwise\n\nCLI Example:\n\n    brine '*' user.delete name remove=True force=True";
const INFO_DOC: &str = "Return user information\n\nname\n    User to get the information\n\nReturns {} if there is no such user.\n\nCLI Example:\n\n    brine '*' user.info root";
const LIST_USERS_DOC: &str =
    "Return a list of all users\n\nCLI Example:\n\n    brine '*' user.list_users";
const GETENT_DOC: &str =
    "Return the list of all info for all users\n\nCLI Example:\n\n    brine '*' user.getent";
const LIST_GROUPS_DOC: &str = "Return a list of groups the named user belongs to\n\nname\n    User to get the information\n\nCLI Example:\n\n    brine '*' user.list_groups foo";
const PRIMARY_GROUP_DOC: &str = "Return the primary group of the named user\n\nCLI Example:\n\n    brine '*' user.primary_group saltadmin";
const CHSHELL_DOC: &str = "Change the default shell of the user\n\nname\n    User to modify\n\nshell\n    New login shell for the user account\n\nCLI Example:\n\n    brine '*' user.chshell foo /bin/zsh";
const CHHOME_DOC: &str = "Change the home directory of the user, pass True for persist to move files\nto the new home directory if the old home directory exist.\n\nname\n    User to modify\n\nhome\n    New home directory for the user account\n\npersist\n    Move contents of the home directory to the new location\n\nCLI Example:\n\n    brine '*' user.chhome foo /home/users/foo True";
const CHUID_DOC: &str =
    "Change the uid for a named user\n\nCLI Example:\n\n    brine '*' user.chuid foo 4376";
const CHGID_DOC: &str =
    "Change the default group of the user\n\nCLI Example:\n\n    brine '*' user.chgid foo 4376";
const CHFULLNAME_DOC: &str =
    "Change the user's Full Name\n\nCLI Example:\n\n    brine '*' user.chfullname foo \"Foo Bar\"";
const CHGROUPS_DOC: &str = "Change the groups to which this user belongs\n\nname\n    User to modify\n\ngroups\n    Groups to set for the user\n\nappend : False\n    If ``True``, append the specified group(s). Otherwise, this function\n    will replace the user's groups with the specified group(s).\n\nCLI Examples:\n\n    brine '*' user.chgroups foo wheel,root\n    brine '*' user.chgroups foo wheel,root append=True";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn call(args: Vec<Value>, kwargs: &[(&str, Value)]) -> Call {
        Call {
            fun: "user.add".into(),
            args,
            kwargs: kwargs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<Map<_, _>>(),
        }
    }

    #[test]
    fn passwd_lines_and_gecos() {
        let e = PwEntry::parse("alice:x:1001:1001:Alice A,12,555,666,extra:/home/alice:/bin/bash")
            .expect("parse");
        assert_eq!((e.uid, e.gid), (1001, 1001));
        assert_eq!(e.home, "/home/alice");
        let g = Gecos::parse(&e.gecos);
        assert_eq!(g.fullname, "Alice A");
        assert_eq!(g.other, "extra");
        assert_eq!(g.build(), "Alice A,12,555,666,extra");
        assert_eq!(Gecos::parse("Bob").build(), "Bob,,,");
        assert!(PwEntry::parse("broken:x:notanumber").is_none());
        let info = format_info(&e, vec!["alice".into()]);
        assert_eq!(info["fullname"], json!("Alice A"));
        assert_eq!(info["groups"], json!(["alice"]));
    }

    #[test]
    fn useradd_arguments() {
        let c = call(
            vec![json!("bob")],
            &[
                ("uid", json!(2001)),
                ("shell", json!("/bin/sh")),
                ("home", json!("/srv/bob")),
                ("system", json!(true)),
                ("fullname", json!("Bob B")),
                ("createhome", json!(false)),
            ],
        );
        let cmd = add_command(&c).expect("cmd");
        assert_eq!(cmd.program(), "useradd");
        assert_eq!(
            cmd.argv(),
            [
                "-s", "/bin/sh", "-u", "2001", "-d", "/srv/bob", "-M", "-r", "-c", "Bob B,,,",
                "bob"
            ]
        );
        let c = call(vec![json!("-rf")], &[]);
        assert!(add_command(&c).is_err());
        let c = call(vec![json!("carol")], &[("usergroup", json!(false))]);
        assert_eq!(add_command(&c).expect("cmd").argv(), ["-N", "-m", "carol"]);
    }
}
