//! Salt's `mount` execution module on Linux: the active mounts
//! (`/proc/self/mountinfo`, or `/proc/self/mounts`), the fstab (`fstab`,
//! `set_fstab`, `rm_fstab`), mounting (`mount`, `remount`, `umount`,
//! `is_mounted`) and the mount cache `mount.mounted` keeps under the
//! cachedir (`read_mount_cache`, `write_mount_cache`, `delete_mount_cache`).
//!
//! Return shapes, texts and the fstab line format are Salt's, so the
//! `mount` states and templates that read these functions see what they
//! see under Salt. Commands go through `cmd.run_all` (with `runas`), as
//! Salt's do; only macOS, AIX and Solaris variants are left out.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use brine_common::functions::{Call, FnError, Functions};
use brine_common::output::python;
use serde_json::{Map, Value, json};

use super::MinionCtx;
use super::file::meta::{gid_of, os_error, uid_of};
use super::host::{HostCmd, bool_param, str_param, value_text};

const FSTAB: &str = "/etc/fstab";

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register(
        "mount.active",
        "extended=False",
        ACTIVE_DOC,
        |_, call| async move {
            let extended = truthy_param(&call, 0, "extended");
            Ok(Value::Object(active(extended).await?).into())
        },
    );
    f.register(
        "mount.fstab",
        "config='/etc/fstab'",
        FSTAB_DOC,
        |_, call| async move {
            let config = config_param(&call, 0);
            Ok(Value::Object(fstab(&config)).into())
        },
    );
    f.register(
        "mount.rm_fstab",
        "name, device, config='/etc/fstab'",
        RM_FSTAB_DOC,
        |_, call| async move { Ok(json!(rm_fstab(&call)?).into()) },
    );
    f.register(
        "mount.set_fstab",
        "name, device, fstype, opts='defaults', dump=0, pass_num=0, config='/etc/fstab', test=False, match_on='auto', not_change=False, **kwargs",
        SET_FSTAB_DOC,
        |_, call| async move { Ok(json!(set_fstab(&call)?).into()) },
    );
    f.register(
        "mount.mount",
        "name, device=False, mkmnt=False, fstype='', opts='defaults', user=None, util='mount'",
        MOUNT_DOC,
        |ctx, call| async move { Ok(mount(&ctx, &call).await?.into()) },
    );
    f.register(
        "mount.remount",
        "name, device, mkmnt=False, fstype='', opts='defaults', user=None",
        REMOUNT_DOC,
        |ctx, call| async move { Ok(remount(&ctx, &call).await?.into()) },
    );
    f.register(
        "mount.umount",
        "name, device=None, user=None, util='mount', lazy=False",
        UMOUNT_DOC,
        |ctx, call| async move { Ok(umount(&ctx, &call).await?.into()) },
    );
    f.register(
        "mount.is_mounted",
        "name",
        IS_MOUNTED_DOC,
        |_, call| async move {
            let name = text_param(&call, 0, "name")?;
            Ok(json!(active(false).await?.contains_key(&name)).into())
        },
    );
    f.register(
        "mount.read_mount_cache",
        "name",
        READ_CACHE_DOC,
        |ctx, call| async move {
            let name = text_param(&call, 0, "name")?;
            let cache = read_cache(&cache_file(&ctx));
            Ok(cache
                .get("mounts")
                .and_then(|m| m.get(&name))
                .cloned()
                .unwrap_or_else(|| json!({}))
                .into())
        },
    );
    f.register(
        "mount.write_mount_cache",
        "real_name, device, mkmnt, fstype, mount_opts",
        WRITE_CACHE_DOC,
        |ctx, call| async move { Ok(json!(write_mount_cache(&ctx, &call)?).into()) },
    );
    f.register(
        "mount.delete_mount_cache",
        "real_name",
        DELETE_CACHE_DOC,
        |ctx, call| async move {
            let name = text_param(&call, 0, "real_name")?;
            Ok(json!(delete_mount_cache(&ctx, &name)?).into())
        },
    );
}

/// A required parameter as Python's `str()` of it.
fn text_param(call: &Call, index: usize, name: &str) -> Result<String, FnError> {
    str_param(call, index, name)
        .ok_or_else(|| FnError::Invocation(format!("missing required argument '{name}'")))
}

/// A flag Salt tests with Python's truth (`if mkmnt:`), false when absent.
fn truthy_param(call: &Call, index: usize, name: &str) -> bool {
    call.param(index, name).is_some_and(python::truthy)
}

/// The `config` parameter (default `/etc/fstab`).
fn config_param(call: &Call, index: usize) -> String {
    str_param(call, index, "config").unwrap_or_else(|| FSTAB.to_string())
}

/// `opts` as Salt takes it: a comma-separated string or a list.
fn opts_param(value: Option<&Value>) -> Vec<String> {
    match value {
        None => vec!["defaults".to_string()],
        Some(Value::Array(items)) => items.iter().filter_map(value_text).collect(),
        Some(Value::Null) => Vec::new(),
        Some(v) => value_text(v)
            .map(|s| s.split(',').map(String::from).collect())
            .unwrap_or_default(),
    }
}

// ---------------------------------------------------------------------------
// Active mounts

/// `mount -l`: mount point -> the device as `mount` names it (Salt's
/// `alt_device`).
pub fn parse_mount_list(stdout: &str) -> HashMap<String, String> {
    stdout
        .split('\n')
        .filter_map(|line| {
            let comps: Vec<&str> = line.split_whitespace().collect();
            (comps.len() >= 3).then(|| (comps[2].to_string(), comps[0].to_string()))
        })
        .collect()
}

/// `blkid` output (Salt's `disk.blkid`): device -> {UUID, LABEL, TYPE, ...}.
pub fn parse_blkid(stdout: &str) -> Map<String, Value> {
    let mut ret = Map::new();
    for line in stdout.lines().filter(|l| !l.is_empty()) {
        let (first, rest) = line.split_once(' ').unwrap_or((line, ""));
        let device = first.strip_suffix(':').unwrap_or(first);
        // `KEY="value" KEY2="value2"`: the text between quotes alternates
        // key and value, as Salt's `re.split('"*"', ...)` reads it.
        let parts: Vec<&str> = rest.split('"').filter(|p| !p.is_empty()).collect();
        let info: Map<String, Value> = parts
            .chunks(2)
            .filter(|pair| pair.len() == 2)
            .map(|pair| {
                let key = pair[0].trim_matches('=').trim_matches(' ');
                (key.to_string(), json!(pair[1]))
            })
            .collect();
        ret.insert(device.to_string(), Value::Object(info));
    }
    ret
}

/// Salt's `_resolve_user_group_names`: `uid=`/`gid=` names become ids, and
/// `\040` (an escaped space) becomes `\ `.
pub fn resolve_user_group_names(opts: &str) -> Vec<Value> {
    opts.split(',')
        .map(|opt| {
            let resolved = match opt.split_once('=') {
                Some((key @ ("uid" | "gid"), given)) => {
                    let given = given.split('=').next().unwrap_or(given);
                    let id = if given.chars().all(|c| c.is_ascii_digit()) && !given.is_empty() {
                        None
                    } else if key == "uid" {
                        uid_of(Some(&json!(given)))
                    } else {
                        gid_of(&json!(given))
                    };
                    format!(
                        "{key}={}",
                        id.map_or_else(|| given.to_string(), |i| i.to_string())
                    )
                }
                _ => opt.to_string(),
            };
            json!(resolved.replace("\\040", "\\ "))
        })
        .collect()
}

/// `/proc/self/mountinfo` in Salt's shape, keyed by mount point.
pub fn parse_mountinfo(
    text: &str,
    alt: &HashMap<String, String>,
    blkid: &Map<String, Value>,
) -> Map<String, Value> {
    let mut ret = Map::new();
    for line in text.lines() {
        let comps: Vec<&str> = line.split_whitespace().collect();
        // Optional fields come before the `-` separator; what follows it
        // is the filesystem type, the source and the superblock options.
        let Some(sep) = comps.iter().position(|c| *c == "-") else {
            continue;
        };
        if comps.len() < 6 || comps.len() < sep + 4 {
            continue;
        }
        let (major, minor) = comps[2].split_once(':').unwrap_or((comps[2], ""));
        let device = comps[sep + 2];
        let info = blkid.get(device);
        let uuid = info
            .and_then(|i| i.get("UUID"))
            .and_then(Value::as_str)
            .map(str::to_lowercase);
        let label = info.and_then(|i| i.get("LABEL")).cloned();
        ret.insert(
            comps[4].to_string(),
            json!({
                "mountid": comps[0],
                "parentid": comps[1],
                "major": major,
                "minor": minor,
                "root": comps[3],
                "opts": resolve_user_group_names(comps[5]),
                "fstype": comps[sep + 1],
                "device": device.replace("\\040", "\\ "),
                "alt_device": alt.get(comps[4]),
                "superopts": resolve_user_group_names(comps[sep + 3]),
                "device_uuid": uuid,
                "device_label": label.unwrap_or(Value::Null),
            }),
        );
    }
    ret
}

/// `/proc/self/mounts` in Salt's shape, keyed by mount point.
pub fn parse_proc_mounts(text: &str, alt: &HashMap<String, String>) -> Map<String, Value> {
    let mut ret = Map::new();
    for line in text.lines() {
        let comps: Vec<&str> = line.split_whitespace().collect();
        if comps.len() < 4 {
            continue;
        }
        ret.insert(
            comps[1].to_string(),
            json!({
                "device": comps[0],
                "alt_device": alt.get(comps[1]),
                "fstype": comps[2],
                "opts": resolve_user_group_names(comps[3]),
            }),
        );
    }
    ret
}

/// What `mount -l` says (empty when it cannot run).
async fn mount_list() -> HashMap<String, String> {
    match HostCmd::new("mount").arg("-l").output().await {
        Ok(out) => parse_mount_list(&out.stdout),
        Err(_) => HashMap::new(),
    }
}

/// `blkid`'s devices (empty when it fails, as `disk.blkid` answers).
async fn blkid() -> Map<String, Value> {
    match HostCmd::new("blkid").output().await {
        Ok(out) if out.success() => parse_blkid(&out.stdout),
        _ => Map::new(),
    }
}

/// `mount.active`: mountinfo when `extended` (falling back to
/// `/proc/self/mounts` when it cannot be read), else `/proc/self/mounts`.
pub async fn active(extended: bool) -> Result<Map<String, Value>, FnError> {
    let alt = mount_list().await;
    if extended && let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") {
        return Ok(parse_mountinfo(&text, &alt, &blkid().await));
    }
    let text = std::fs::read_to_string("/proc/self/mounts")
        .map_err(|_| FnError::Execution("File not readable /proc/self/mounts".into()))?;
    Ok(parse_proc_mounts(&text, &alt))
}

// ---------------------------------------------------------------------------
// fstab

/// The fields of an fstab line, in order, as `set_fstab` and `rm_fstab`
/// match them.
const FSTAB_KEYS: [&str; 6] = ["device", "name", "fstype", "opts", "dump", "pass_num"];

/// An fstab line's fields (`None` for a comment or a line that is not an
/// entry: fewer than 4 or more than 6 fields). Missing dump/pass are "0".
fn fields_of(line: &str) -> Option<Vec<String>> {
    if line.starts_with('#') {
        return None;
    }
    let mut comps: Vec<String> = line.split_whitespace().map(String::from).collect();
    if !(4..=6).contains(&comps.len()) {
        return None;
    }
    comps.resize(6, "0".to_string());
    Some(comps)
}

/// Salt's `_fstab_entry`: the non-null fields given, each as `str()`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FstabEntry {
    criteria: Vec<(&'static str, String)>,
}

impl FstabEntry {
    pub fn new(fields: &[(&'static str, Option<String>)]) -> Self {
        FstabEntry {
            criteria: fields
                .iter()
                .filter_map(|(k, v)| v.clone().map(|v| (*k, v)))
                .collect(),
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.criteria
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Only the fields `keys` (`None` when one is not set: Salt's KeyError).
    fn pick(&self, keys: &[String]) -> Option<FstabEntry> {
        let criteria = keys
            .iter()
            .map(|k| {
                self.criteria
                    .iter()
                    .find(|(name, _)| *name == k.as_str())
                    .cloned()
            })
            .collect::<Option<Vec<_>>>()?;
        Some(FstabEntry { criteria })
    }

    /// Whether `line` is an entry agreeing with every field here (options
    /// in any order); `None` when the line is not an entry.
    fn matches(&self, line: &str) -> Option<bool> {
        let fields = fields_of(line)?;
        Some(self.criteria.iter().all(|(key, value)| {
            let Some(i) = FSTAB_KEYS.iter().position(|k| k == key) else {
                return false;
            };
            if *key == "opts" {
                let mut have: Vec<&str> = fields[i].split(',').collect();
                let mut want: Vec<&str> = value.split(',').collect();
                have.sort_unstable();
                want.sort_unstable();
                have == want
            } else {
                fields[i] == *value
            }
        }))
    }

    /// The fstab line (`str(entry)`), Salt's layout.
    fn line(&self) -> String {
        let f = |k| self.get(k).unwrap_or_default();
        format!(
            "{}\t\t{}\t{}\t{}\t{} {}\n",
            f("device"),
            f("name"),
            f("fstype"),
            f("opts"),
            f("dump"),
            f("pass_num")
        )
    }
}

/// `mount.fstab`: mount point -> {device, fstype, opts, dump, pass}; a
/// mount point seen again gets a `_` appended.
pub fn parse_fstab(text: &str) -> Map<String, Value> {
    let mut ret = Map::new();
    for line in text.split_inclusive('\n') {
        let Some(fields) = fields_of(line) else {
            continue;
        };
        let mut name = fields[1].clone();
        while ret.contains_key(&name) {
            name.push('_');
        }
        let opts: Vec<&str> = fields[3].split(',').collect();
        ret.insert(
            name,
            json!({
                "device": fields[0],
                "fstype": fields[2],
                "opts": opts,
                "dump": fields[4],
                "pass": fields[5],
            }),
        );
    }
    ret
}

fn fstab(config: &str) -> Map<String, Value> {
    if !Path::new(config).is_file() {
        return Map::new();
    }
    std::fs::read_to_string(config)
        .map(|t| parse_fstab(&t))
        .unwrap_or_default()
}

/// The fstab text without the entries matching `criteria` (`None` when
/// nothing matched).
pub fn remove_entries(text: &str, criteria: &FstabEntry) -> Option<String> {
    let mut modified = false;
    let mut kept = String::new();
    for line in text.split_inclusive('\n') {
        if criteria.matches(line) == Some(true) {
            modified = true;
        } else {
            kept.push_str(line);
        }
    }
    modified.then_some(kept)
}

fn read_config(config: &str) -> Result<String, FnError> {
    std::fs::read_to_string(config).map_err(|e| {
        FnError::Execution(format!(
            "Couldn't read from {config}: {}",
            os_error(&e, Path::new(config))
        ))
    })
}

fn rm_fstab(call: &Call) -> Result<bool, FnError> {
    let name = text_param(call, 0, "name")?;
    if call.param(1, "device").is_none() {
        return Err(FnError::Invocation(
            "missing required argument 'device'".into(),
        ));
    }
    let device = str_param(call, 1, "device");
    let config = config_param(call, 2);
    let criteria = FstabEntry::new(&[("name", Some(name)), ("device", device)]);
    let text = read_config(&config)?;
    if let Some(kept) = remove_entries(&text, &criteria) {
        std::fs::write(&config, kept).map_err(|e| {
            FnError::Execution(format!(
                "Couldn't write to {config}: {}",
                os_error(&e, Path::new(&config))
            ))
        })?;
    }
    // Salt always answers True here.
    Ok(true)
}

/// Filesystems matched on the mount point rather than the device when
/// `match_on` is `auto` (their "device" is not unique).
const SPECIAL_FS: &[&str] = &[
    "none",
    "tmpfs",
    "sysfs",
    "proc",
    "fusectl",
    "debugfs",
    "securityfs",
    "devtmpfs",
    "cgroup",
    "nfs",
    "nfs4",
    "glusterfs",
    "btrfs",
    "ceph",
];

/// `match_on` as the list of fields to match.
fn match_keys(match_on: Option<&Value>, fstype: &str) -> Result<Vec<String>, FnError> {
    match match_on {
        None | Some(Value::Null) => Ok(vec![auto_key(fstype)]),
        Some(Value::Array(items)) => Ok(items.iter().map(python::to_str).collect()),
        Some(Value::String(s)) if s == "auto" => Ok(vec![auto_key(fstype)]),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(_) => Err(FnError::Execution(
            "match_on must be a string or list of strings".into(),
        )),
    }
}

fn auto_key(fstype: &str) -> String {
    if SPECIAL_FS.contains(&fstype) {
        "name".into()
    } else {
        "device".into()
    }
}

/// What `set_fstab` would make of `text`: "present", "change" or "new",
/// and the new text.
pub fn plan_fstab(
    text: &str,
    entry: &FstabEntry,
    criteria: &FstabEntry,
    not_change: bool,
) -> (&'static str, String) {
    let mut status = None;
    let mut lines = String::new();
    for line in text.split_inclusive('\n') {
        match criteria.matches(line) {
            Some(true) => {
                status = Some("present");
                if not_change || entry.matches(line) == Some(true) {
                    lines.push_str(line);
                } else {
                    status = Some("change");
                    lines.push_str(&entry.line());
                }
            }
            _ => lines.push_str(line),
        }
    }
    match status {
        Some(s) => (s, lines),
        None => {
            lines.push_str(&entry.line());
            ("new", lines)
        }
    }
}

/// Python's `str()` of an argument, with a default for an absent one.
fn text_or(call: &Call, index: usize, name: &str, default: &str) -> String {
    call.param(index, name)
        .map_or_else(|| default.to_string(), python::to_str)
}

fn set_fstab(call: &Call) -> Result<&'static str, FnError> {
    let name = text_param(call, 0, "name")?;
    let device = text_param(call, 1, "device")?;
    let fstype = text_param(call, 2, "fstype")?;
    let opts = match call.param(3, "opts") {
        Some(Value::Array(items)) => items
            .iter()
            .map(python::to_str)
            .collect::<Vec<_>>()
            .join(","),
        _ => text_or(call, 3, "opts", "defaults"),
    };
    let config = config_param(call, 6);
    let test = bool_param(call, 7, "test", false);
    let not_change = truthy_param(call, 9, "not_change");
    let entry = FstabEntry::new(&[
        ("name", Some(name)),
        ("device", Some(device.replace("\\ ", "\\040"))),
        ("fstype", Some(fstype.clone())),
        ("opts", Some(opts.replace("\\ ", "\\040"))),
        ("dump", Some(text_or(call, 4, "dump", "0"))),
        ("pass_num", Some(text_or(call, 5, "pass_num", "0"))),
    ]);
    let keys = match_keys(call.param(8, "match_on"), &fstype)?;
    let criteria = entry.pick(&keys).ok_or_else(|| {
        let bad: Vec<Value> = keys
            .iter()
            .filter(|k| !FSTAB_KEYS.contains(&k.as_str()))
            .map(|k| json!(k))
            .collect();
        FnError::Execution(format!(
            "Unrecognized keys in match_on: \"{}\"",
            python::repr(&Value::Array(bad))
        ))
    })?;
    if !Path::new(&config).is_file() {
        return Err(FnError::Execution(format!("Bad config file \"{config}\"")));
    }
    let text = read_config(&config)?;
    let (status, lines) = plan_fstab(&text, &entry, &criteria, not_change);
    if status != "present" && !test {
        std::fs::write(&config, lines)
            .map_err(|_| FnError::Execution(format!("File not writable {config}")))?;
    }
    Ok(status)
}

// ---------------------------------------------------------------------------
// Mounting

/// `cmd.run_all(argv, runas=user)`: `True` on success, else its stderr
/// (Salt's answer for a failed mount or umount).
async fn run_mount_cmd(
    ctx: &MinionCtx,
    argv: Vec<String>,
    user: Option<&str>,
) -> Result<Value, FnError> {
    let mut kwargs = Map::new();
    kwargs.insert("python_shell".into(), json!(false));
    if let Some(user) = user {
        kwargs.insert("runas".into(), json!(user));
    }
    let out = ctx
        .call_function("cmd.run_all", vec![json!(argv)], kwargs)
        .await?;
    let retcode = out.get("retcode").and_then(Value::as_i64).unwrap_or(1);
    if retcode != 0 {
        return Ok(out.get("stderr").cloned().unwrap_or_else(|| json!("")));
    }
    Ok(json!(true))
}

/// `-o opts -t fstype`, as Salt puts them before the device.
fn mount_args(opts: &[String], fstype: &str) -> Vec<String> {
    let mut args = Vec::new();
    if !opts.is_empty() {
        args.push("-o".to_string());
        args.push(opts.join(","));
    }
    if !fstype.is_empty() {
        args.push("-t".to_string());
        args.push(fstype.to_string());
    }
    args
}

/// The `user` argument (null or empty means the minion's own).
fn user_param(call: &Call, index: usize) -> Option<String> {
    str_param(call, index, "user").filter(|u| !u.is_empty())
}

async fn mount(ctx: &MinionCtx, call: &Call) -> Result<Value, FnError> {
    let name = text_param(call, 0, "name")?;
    // `device=False` (the default) means none.
    let device = call
        .param(1, "device")
        .filter(|d| python::truthy(d))
        .map(python::to_str);
    let mkmnt = truthy_param(call, 2, "mkmnt");
    let fstype = str_param(call, 3, "fstype").unwrap_or_default();
    let opts = opts_param(call.param(4, "opts"));
    let user = user_param(call, 5);
    let util = str_param(call, 6, "util").unwrap_or_else(|| "mount".into());
    if util != "mount" {
        // guestfs and qemu_nbd images are not supported; Salt answers False
        // for a util it does not know.
        return Ok(json!(false));
    }
    if mkmnt && !Path::new(&name).exists() {
        let mut kwargs = Map::new();
        kwargs.insert("user".into(), json!(user));
        ctx.call_function("file.mkdir", vec![json!(name)], kwargs)
            .await?;
    }
    let mut argv = vec!["mount".to_string()];
    match device {
        Some(device) => {
            argv.extend(mount_args(&opts, &fstype));
            argv.push(device);
            argv.push(name);
        }
        None => argv.push(name),
    }
    run_mount_cmd(ctx, argv, user.as_deref()).await
}

async fn remount(ctx: &MinionCtx, call: &Call) -> Result<Value, FnError> {
    let name = text_param(call, 0, "name")?;
    let device = text_param(call, 1, "device")?;
    let fstype = str_param(call, 3, "fstype").unwrap_or_default();
    let mut opts = opts_param(call.param(4, "opts"));
    let user = user_param(call, 5);
    if !active(false).await?.contains_key(&name) {
        return mount(ctx, call).await;
    }
    if !opts.iter().any(|o| o == "remount") {
        opts.push("remount".into());
    }
    let mut argv = vec!["mount".to_string()];
    argv.extend(mount_args(&opts, &fstype));
    argv.push(device);
    argv.push(name);
    run_mount_cmd(ctx, argv, user.as_deref()).await
}

async fn umount(ctx: &MinionCtx, call: &Call) -> Result<Value, FnError> {
    let name = text_param(call, 0, "name")?;
    let device = str_param(call, 1, "device").filter(|d| !d.is_empty());
    let user = user_param(call, 2);
    let util = str_param(call, 3, "util").unwrap_or_else(|| "mount".into());
    let lazy = truthy_param(call, 4, "lazy");
    if util == "guestfs" || util == "qemu_nbd" {
        return Err(FnError::Execution(format!(
            "umount with util={util} is not supported"
        )));
    }
    if !active(false).await?.contains_key(&name) {
        return Ok(json!(format!("{name} does not have anything mounted")));
    }
    let mut argv = vec!["umount".to_string()];
    if lazy {
        argv.push("-l".into());
    }
    argv.push(device.unwrap_or(name));
    run_mount_cmd(ctx, argv, user.as_deref()).await
}

// ---------------------------------------------------------------------------
// The mount cache (`<cachedir>/mounts`, YAML)

fn cache_file(ctx: &MinionCtx) -> PathBuf {
    ctx.config.cachedir.join("mounts")
}

/// The cache's contents (empty when missing or unreadable).
fn read_cache(path: &Path) -> Map<String, Value> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| brine_common::yaml::load(&t, &path.display().to_string()).ok())
        .and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .unwrap_or_default()
}

fn write_cache(path: &Path, cache: Map<String, Value>) -> Result<(), FnError> {
    let text = brine_common::yaml::dump_block(&Value::Object(cache));
    std::fs::write(path, text)
        .map_err(|_| FnError::Execution("Unable to write mount cache.".into()))
}

/// Set one entry of the cache's `mounts` mapping (made anew when missing
/// or not a mapping).
fn set_cached_mount(cache: &mut Map<String, Value>, real_name: String, data: Value) {
    let mut mounts = match cache.remove("mounts") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    mounts.insert(real_name, data);
    cache.insert("mounts".into(), Value::Object(mounts));
}

fn write_mount_cache(ctx: &MinionCtx, call: &Call) -> Result<bool, FnError> {
    let real_name = text_param(call, 0, "real_name")?;
    let arg = |i, n: &str| call.param(i, n).cloned().unwrap_or(Value::Null);
    let path = cache_file(ctx);
    let mut cache = read_cache(&path);
    set_cached_mount(
        &mut cache,
        real_name,
        json!({
            "device": arg(1, "device"),
            "fstype": arg(3, "fstype"),
            "mkmnt": arg(2, "mkmnt"),
            "opts": arg(4, "mount_opts"),
        }),
    );
    write_cache(&path, cache)?;
    Ok(true)
}

fn delete_mount_cache(ctx: &MinionCtx, real_name: &str) -> Result<bool, FnError> {
    let path = cache_file(ctx);
    let mut cache = read_cache(&path);
    let removed = cache
        .get_mut("mounts")
        .and_then(Value::as_object_mut)
        .and_then(|m| m.remove(real_name))
        .is_some();
    if removed {
        write_cache(&path, cache)?;
    }
    Ok(true)
}

const ACTIVE_DOC: &str = "List the active mounts.\n\nextended\n    Read /proc/self/mountinfo (ids, root, superblock options, UUID and\n    label) instead of /proc/self/mounts.\n\nCLI Example:\n\n    brine '*' mount.active";
const FSTAB_DOC: &str =
    "List the contents of the fstab\n\nCLI Example:\n\n    brine '*' mount.fstab";
const RM_FSTAB_DOC: &str = "Remove the mount point from the fstab\n\nCLI Example:\n\n    brine '*' mount.rm_fstab /mnt/foo /dev/sdg";
const SET_FSTAB_DOC: &str = "Verify that this mount is represented in the fstab, change the mount\nto match the data passed, or add the mount if it is not present.\n\nIf the entry is found via `match_on` and `not_change` is True, the\ncurrent line will be preserved.\n\nCLI Example:\n\n    brine '*' mount.set_fstab /mnt/foo /dev/sdz1 ext4";
const MOUNT_DOC: &str =
    "Mount a device\n\nCLI Example:\n\n    brine '*' mount.mount /mnt/foo /dev/sdz1 True";
const REMOUNT_DOC: &str = "Attempt to remount a device, if the device is not already mounted, mount\nis called\n\nCLI Example:\n\n    brine '*' mount.remount /mnt/foo /dev/sdz1 True";
const UMOUNT_DOC: &str = "Attempt to unmount a device by specifying the directory it is mounted on\n\nCLI Example:\n\n    brine '*' mount.umount /mnt/foo\n    brine '*' mount.umount /mnt/foo /dev/xvdc1";
const IS_MOUNTED_DOC: &str = "Provide information if the path is mounted\n\nCLI Example:\n\n    brine '*' mount.is_mounted /mnt/share";
const READ_CACHE_DOC: &str = "Return the cached mount data of a mount point\n\nCLI Example:\n\n    brine '*' mount.read_mount_cache /mnt/share";
const WRITE_CACHE_DOC: &str = "Cache the data a mount point was mounted with\n\nCLI Example:\n\n    brine '*' mount.write_mount_cache /mnt/share /dev/sda1 False ext4 defaults,nosuid";
const DELETE_CACHE_DOC: &str = "Remove a mount point from the mount cache\n\nCLI Example:\n\n    brine '*' mount.delete_mount_cache /mnt/share";

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:5 - cgroup2 cgroup2 rw
50 27 0:40 / /mnt/my\\040disk rw,nosuid master:1 - nfs host:/my\\040share rw,vers=3
";

    #[test]
    fn mountinfo_reads_like_salts_active_extended() {
        let mut alt = HashMap::new();
        alt.insert("/".to_string(), "/dev/vda".to_string());
        let blkid = parse_blkid("/dev/vda: LABEL=\"root\" UUID=\"ABC-12\" TYPE=\"ext4\"\n");
        let m = parse_mountinfo(MOUNTINFO, &alt, &blkid);
        let root = &m["/"];
        assert_eq!(root["mountid"], "27");
        assert_eq!(root["major"], "254");
        assert_eq!(root["minor"], "0");
        assert_eq!(root["opts"], json!(["rw", "relatime"]));
        assert_eq!(root["superopts"], json!(["rw", "discard"]));
        assert_eq!(root["fstype"], "ext4");
        assert_eq!(root["alt_device"], "/dev/vda");
        assert_eq!(root["device_uuid"], "abc-12");
        assert_eq!(root["device_label"], "root");
        // Optional fields before `-` do not shift what follows it.
        assert_eq!(m["/sys/fs/cgroup/unified"]["fstype"], "cgroup2");
        assert_eq!(m["/sys/fs/cgroup/unified"]["alt_device"], Value::Null);
        // The key keeps `\040`; the device shows `\ `.
        assert_eq!(m["/mnt/my\\040disk"]["device"], "host:/my\\ share");
    }

    #[test]
    fn proc_mounts_and_mount_list() {
        let alt = parse_mount_list("proc on /proc type proc (rw,relatime)\n\n");
        assert_eq!(alt.get("/proc").map(String::as_str), Some("proc"));
        let m = parse_proc_mounts("proc /proc proc rw,relatime 0 0\n", &alt);
        assert_eq!(
            m["/proc"],
            json!({"device": "proc", "alt_device": "proc", "fstype": "proc", "opts": ["rw", "relatime"]})
        );
    }

    #[test]
    fn uid_and_gid_names_become_ids() {
        let opts = resolve_user_group_names("rw,uid=root,gid=0,uid=nosuchuser-xyz");
        assert_eq!(
            opts,
            vec![
                json!("rw"),
                json!("uid=0"),
                json!("gid=0"),
                json!("uid=nosuchuser-xyz")
            ]
        );
    }

    const FSTAB_TEXT: &str = "# comment\n/dev/sda1\t/\text4\terrors=remount-ro\t0 1\nhost:/x /mnt/x nfs ro,vers=3\nbad line\n/dev/sdb1 /mnt/x xfs defaults 0 2\n";

    #[test]
    fn fstab_lists_entries_and_renames_repeated_mount_points() {
        let t = parse_fstab(FSTAB_TEXT);
        assert_eq!(
            t["/"],
            json!({"device": "/dev/sda1", "fstype": "ext4", "opts": ["errors=remount-ro"], "dump": "0", "pass": "1"})
        );
        assert_eq!(t["/mnt/x"]["dump"], "0");
        assert_eq!(t["/mnt/x_"]["device"], "/dev/sdb1");
        assert_eq!(t.len(), 3);
    }

    fn entry(name: &str, device: &str, fstype: &str, opts: &str) -> FstabEntry {
        FstabEntry::new(&[
            ("name", Some(name.into())),
            ("device", Some(device.into())),
            ("fstype", Some(fstype.into())),
            ("opts", Some(opts.into())),
            ("dump", Some("0".into())),
            ("pass_num", Some("0".into())),
        ])
    }

    #[test]
    fn set_fstab_plans_present_change_and_new() {
        let e = entry("/mnt/x", "host:/x", "nfs", "vers=3,ro");
        let by_name = e.pick(&["name".into()]).expect("name is set");
        let (status, _) = plan_fstab("host:/x /mnt/x nfs ro,vers=3 0 0\n", &e, &by_name, false);
        assert_eq!(status, "present");
        let (status, text) = plan_fstab("host:/y /mnt/x nfs ro 0 0\n", &e, &by_name, false);
        assert_eq!(status, "change");
        assert_eq!(text, "host:/x\t\t/mnt/x\tnfs\tvers=3,ro\t0 0\n");
        let (status, _) = plan_fstab("host:/y /mnt/x nfs ro 0 0\n", &e, &by_name, true);
        assert_eq!(status, "present");
        let (status, text) = plan_fstab("# only a comment\n", &e, &by_name, false);
        assert_eq!(status, "new");
        assert_eq!(
            text,
            "# only a comment\nhost:/x\t\t/mnt/x\tnfs\tvers=3,ro\t0 0\n"
        );
        assert!(e.pick(&["nosuchkey".into()]).is_none());
    }

    #[test]
    fn match_on_auto_uses_the_mount_point_for_network_filesystems() {
        assert_eq!(match_keys(None, "nfs").ok(), Some(vec!["name".to_string()]));
        assert_eq!(
            match_keys(Some(&json!("auto")), "ext4").ok(),
            Some(vec!["device".to_string()])
        );
        assert!(match_keys(Some(&json!(3)), "ext4").is_err());
    }

    #[test]
    fn rm_fstab_removes_only_matching_entries() {
        let crit = FstabEntry::new(&[("name", Some("/mnt/x".into())), ("device", None)]);
        let kept = remove_entries(FSTAB_TEXT, &crit).expect("two entries match");
        assert_eq!(
            kept,
            "# comment\n/dev/sda1\t/\text4\terrors=remount-ro\t0 1\nbad line\n"
        );
        let none = FstabEntry::new(&[("name", Some("/nope".into())), ("device", None)]);
        assert_eq!(remove_entries(FSTAB_TEXT, &none), None);
    }

    #[test]
    fn mount_args_put_options_then_type() {
        assert_eq!(
            mount_args(&["ro".into(), "vers=3".into()], "nfs"),
            vec!["-o", "ro,vers=3", "-t", "nfs"]
        );
        assert!(mount_args(&[], "").is_empty());
        assert_eq!(opts_param(Some(&json!("a,b"))), vec!["a", "b"]);
        assert_eq!(opts_param(None), vec!["defaults"]);
    }

    #[test]
    fn the_mount_cache_round_trips_through_yaml() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mounts");
        let mut cache = read_cache(&path);
        assert!(cache.is_empty());
        set_cached_mount(
            &mut cache,
            "/mnt/x".into(),
            json!({"device": "host:/x", "opts": ["ro"]}),
        );
        write_cache(&path, cache).expect("write");
        let back = read_cache(&path);
        assert_eq!(back["mounts"]["/mnt/x"]["opts"], json!(["ro"]));
    }
}
