//! Salt's `mount` states: `mounted` (mount a device, creating the mount
//! point with `mkmnt`, remounting when options or the device changed, and
//! keeping its fstab entry with `persist`) and `unmounted` (unmount, and
//! purge the fstab entry with `persist`), plus `mod_watch` (remount).
//!
//! The host is read and changed through the `mount` execution module
//! (`mount.active` with `extended=True`, `mount.set_fstab`, ...) and
//! `file.exists`/`file.is_link`/`file.readlink` for Python's
//! `os.path.exists` and `os.path.realpath`. Comments are Salt's, word for
//! word (including its missing space in "options (...)changed"). The macOS
//! (`auto_salt`) and AIX (`filesystems`) variants are left out.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;
use serde_json::{Map, Value, json};

use super::exc_text;
use super::{arg, call, list_of, name_of, str_of, strings, text, truthy};
use crate::host::StateHost;
use crate::lowstate::{StateCall, StateModules, StateResult};

pub fn register(m: &mut StateModules) {
    m.register("mount.mounted", mounted);
    m.register("mount.unmounted", unmounted);
    m.register_mod_watch("mount", mod_watch);
}

/// Options `/proc/self/mountinfo` does not show: never a reason to remount.
const INVISIBLE_OPTIONS: &[&str] = &[
    "_netdev",
    "actimeo",
    "bg",
    "comment",
    "defaults",
    "delay_connect",
    "direct-io-mode",
    "intr",
    "loop",
    "nointr",
    "nobootwait",
    "nofail",
    "password",
    "reconnect",
    "retry",
    "soft",
    "auto",
    "users",
    "bind",
    "nonempty",
    "transform_symlinks",
    "port",
    "backup-volfile-servers",
];

/// `key=value` options whose value mountinfo does not show.
const INVISIBLE_KEYS: &[&str] = &[
    "actimeo",
    "comment",
    "credentials",
    "direct-io-mode",
    "password",
    "port",
    "retry",
    "secretfile",
];

/// An early end of the state: Salt's `return ret` (boxed: a result is large).
type Step<T = ()> = Result<T, Box<StateResult>>;

/// An argument that is true unless given and false (`persist`, `mount`).
fn flag(c: &StateCall<'_>, key: &str, default: bool) -> bool {
    match c.chunk.arg(key) {
        None => default,
        Some(v) => truthy(v),
    }
}

/// `opts` as a list: a comma-separated string is split, a list kept.
fn opts_list(v: Option<&Value>) -> Vec<String> {
    match v {
        None | Some(Value::Null) => vec!["defaults".into()],
        Some(Value::Array(items)) => items.iter().map(text).collect(),
        Some(other) => text(other).split(',').map(String::from).collect(),
    }
}

/// The active mount at `point` (`Null` when there is none).
fn mount_of<'a>(active: &'a Map<String, Value>, point: &str) -> &'a Value {
    active.get(point).unwrap_or(&Value::Null)
}

/// `posixpath.normpath` of an absolute path (a relative one is only
/// cleaned of `.` and empty parts).
fn normpath(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." if absolute => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// `os.path.dirname`.
fn dirname(path: &str) -> String {
    match path.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => path[..i].trim_end_matches('/').to_string(),
        None => String::new(),
    }
}

/// `os.path.realpath` through the host: each existing prefix that is a
/// symlink is replaced by its fully resolved target.
fn realpath(host: &dyn StateHost, path: &str) -> Result<String, String> {
    let norm = normpath(path);
    if !norm.starts_with('/') {
        return Ok(norm);
    }
    let mut resolved = String::from("/");
    for comp in norm.split('/').filter(|c| !c.is_empty()) {
        let candidate = if resolved == "/" {
            format!("/{comp}")
        } else {
            format!("{resolved}/{comp}")
        };
        let is_link = truthy(&call(host, "file.is_link", vec![json!(candidate)], &[])?);
        resolved = if is_link {
            text(&call(
                host,
                "file.readlink",
                vec![json!(candidate)],
                &[("canonicalize", json!(true))],
            )?)
        } else {
            candidate
        };
    }
    Ok(resolved)
}

fn exists(host: &dyn StateHost, path: &str) -> Result<bool, String> {
    Ok(truthy(&call(host, "file.exists", vec![json!(path)], &[])?))
}

/// `mount.active(extended=True)`.
fn active(host: &dyn StateHost) -> Result<Map<String, Value>, String> {
    match call(host, "mount.active", vec![], &[("extended", json!(true))])? {
        Value::Object(m) => Ok(m),
        _ => Ok(Map::new()),
    }
}

/// Salt's `_size_convert` of `size=<n><k|m|g>...`: the size in kilobytes.
fn size_in_k(opt: &str) -> Option<u64> {
    let rest = opt.strip_prefix("size=")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let unit = rest[digits.len()..].chars().next()?;
    let n: u64 = digits.parse().ok()?;
    match unit {
        'k' => Some(n),
        'm' => n.checked_mul(1024),
        'g' => n.checked_mul(1024 * 1024),
        _ => None,
    }
}

/// The first `=`-separated part of an option.
fn key_of(opt: &str) -> &str {
    opt.split('=').next().unwrap_or(opt)
}

/// A state's failure from a failed execution call.
fn failed(name: &str, e: String) -> StateResult {
    StateResult::fail(name, exc_text(&e).to_string())
}

/// Python's `ret["result"] = <value>` for what `mount.mount` and
/// `mount.remount` answer: `True`, or the error text.
fn result_of(v: &Value) -> Option<bool> {
    Some(v == &json!(true))
}

/// One run of `mount.mounted`.
struct Mounted<'a, 'b> {
    c: &'a StateCall<'b>,
    /// The mount point without a trailing slash.
    name: String,
    device: String,
    fstype: String,
    mkmnt: bool,
    opts: Vec<String>,
    user: Value,
    mount: bool,
    ret: StateResult,
    update_mount_cache: bool,
}

fn mounted(c: &StateCall<'_>) -> StateResult {
    let raw_name = name_of(c);
    if raw_name.is_empty() {
        return StateResult::fail(raw_name, "Must provide name to mount.mounted");
    }
    let Some(device) = str_of(c.chunk, "device") else {
        return StateResult::fail(raw_name, "Must provide device to mount.mounted");
    };
    let Some(fstype) = str_of(c.chunk, "fstype") else {
        return StateResult::fail(raw_name, "Must provide fstype to mount.mounted");
    };
    let name = if raw_name == "/" {
        raw_name.to_string()
    } else {
        raw_name.trim_end_matches('/').to_string()
    };
    let mut m = Mounted {
        c,
        name,
        device,
        fstype,
        mkmnt: truthy(&arg(c.chunk, "mkmnt")),
        opts: opts_list(c.chunk.arg("opts")),
        user: arg(c.chunk, "user"),
        mount: flag(c, "mount", true),
        ret: StateResult::ok(raw_name, ""),
        update_mount_cache: false,
    };
    match m.run() {
        Ok(()) => m.ret,
        Err(done) => *done,
    }
}

impl Mounted<'_, '_> {
    fn host(&self) -> &dyn StateHost {
        self.c.host
    }

    /// A failed execution call ends the state with its message.
    fn fail(&self, e: String) -> Box<StateResult> {
        Box::new(failed(&self.ret.name, e))
    }

    /// End the state with `ret` as it is now.
    fn finish(&self) -> Box<StateResult> {
        Box::new(self.ret.clone())
    }

    fn run(&mut self) -> Step {
        let mut active = active(self.host()).map_err(|e| self.fail(e))?;
        let real_name = realpath(self.host(), &self.name).map_err(|e| self.fail(e))?;
        let comp_real_name = real_name.replace(' ', "\\040");
        let mut device_list = Vec::new();
        let real_device = self.real_device(&mut active, &comp_real_name, &mut device_list)?;
        if active.contains_key(&comp_real_name) {
            if let Some(Value::Object(entry)) = active.get_mut(&comp_real_name) {
                entry.entry("superopts").or_insert_with(|| json!([]));
            }
            if self.mount {
                self.check_active(
                    &mut active,
                    &real_name,
                    &comp_real_name,
                    &real_device,
                    &mut device_list,
                )?;
            }
        }
        if !active.contains_key(&comp_real_name) {
            self.not_mounted(&comp_real_name)?;
        }
        if flag(self.c, "persist", true) {
            self.persist(&real_name)?;
        }
        Ok(())
    }

    /// The device as the active mount list would show it (Salt's
    /// `real_device`): bind mounts followed to their source, `UUID=` and
    /// `LABEL=` resolved, LVM names made canonical, FUSE prefixes dropped.
    fn real_device(
        &mut self,
        active: &mut Map<String, Value>,
        comp_real_name: &str,
        device_list: &mut Vec<String>,
    ) -> Step<String> {
        let device = self.device.clone();
        let mut real_device = if device.starts_with('/') {
            if self.opts.iter().any(|o| o == "bind") && active.contains_key(comp_real_name) {
                self.bind_source(active, comp_real_name)?
            } else {
                realpath(self.host(), &device).map_err(|e| self.fail(e))?
            }
        } else if device.to_uppercase().starts_with("UUID=") {
            device
                .split('=')
                .nth(1)
                .unwrap_or("")
                .trim_matches('"')
                .to_lowercase()
        } else if device.to_uppercase().starts_with("LABEL=") {
            self.labelled_device(device_list)?
        } else {
            device.clone()
        };
        if let Some(mapper) = lvm_mapper_name(&device)
            && exists(self.host(), &mapper).map_err(|e| self.fail(e))?
        {
            real_device = mapper;
        }
        if let Some(fuse) = fuse_device(&device) {
            real_device = fuse;
        }
        Ok(real_device)
    }

    /// A bind mount's real source, copying the source mount's options
    /// unless `bind_mount_copy_active_opts` is false.
    fn bind_source(
        &mut self,
        active: &mut Map<String, Value>,
        comp_real_name: &str,
    ) -> Step<String> {
        let copy_opts = flag(self.c, "bind_mount_copy_active_opts", true);
        let mut source = self.device.replace(' ', "\\040");
        let target_device = mount_of(active, comp_real_name)["device"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if !target_device.starts_with('/') {
            // Remote file systems: the bind target's own device.
            if active.contains_key(&source) {
                self.copy_active_opts(active, &source, copy_opts);
                mark_bind(active, comp_real_name);
            }
            return Ok(target_device);
        }
        // Walk up from the source until a mount point is found.
        loop {
            if let Some(found) = active.get(&source) {
                let real = found["device"].as_str().unwrap_or("").to_string();
                self.copy_active_opts(active, &source, copy_opts);
                mark_bind(active, comp_real_name);
                return Ok(real);
            }
            let parent = dirname(&source.replace("\\040", " "));
            if parent == source || parent.is_empty() {
                return realpath(self.host(), &self.device).map_err(|e| self.fail(e));
            }
            source = parent;
        }
    }

    fn copy_active_opts(&mut self, active: &Map<String, Value>, source: &str, copy: bool) {
        if !copy {
            return;
        }
        let mut all: BTreeSet<String> = self.opts.iter().cloned().collect();
        all.extend(strings(&mount_of(active, source)["opts"]));
        all.extend(strings(&mount_of(active, source)["superopts"]));
        self.opts = all.into_iter().collect();
    }

    /// `LABEL=x`: the devices `blkid -t LABEL=x` lists (the first is the one).
    fn labelled_device(&self, device_list: &mut Vec<String>) -> Step<String> {
        let label = self.device.split('=').nth(1).unwrap_or("").to_string();
        let res = call(
            self.host(),
            "cmd.run_all",
            vec![json!(["blkid", "-t", format!("LABEL={label}")])],
            &[("python_shell", json!(false))],
        )
        .map_err(|e| self.fail(e))?;
        if res["retcode"].as_i64().unwrap_or(1) > 0 {
            return Err(Box::new(StateResult::fail(
                &self.ret.name,
                format!("Unable to find device with label {label}."),
            )));
        }
        for line in res["stdout"].as_str().unwrap_or("").lines() {
            device_list.push(line.split(':').next().unwrap_or("").to_string());
        }
        Ok(device_list.first().cloned().unwrap_or_default())
    }

    /// The mount point is mounted: remount when options changed, unmount
    /// when another device is mounted there.
    fn check_active(
        &mut self,
        active: &mut Map<String, Value>,
        real_name: &str,
        comp_real_name: &str,
        real_device: &str,
        device_list: &mut Vec<String>,
    ) -> Step {
        let entry = mount_of(active, comp_real_name).clone();
        let mounted_device = entry["device"].as_str().unwrap_or("").to_string();
        device_list.push(mounted_device);
        let first = device_list[0].clone();
        device_list.push(realpath(self.host(), &first).map_err(|e| self.fail(e))?);
        for key in ["alt_device", "device_uuid", "device_label"] {
            if let Some(alt) = entry.get(key).and_then(Value::as_str)
                && !alt.is_empty()
                && !device_list.iter().any(|d| d == alt)
            {
                device_list.push(alt.to_string());
            }
        }
        if !self.opts.is_empty() {
            self.check_options(active, real_name, comp_real_name)?;
        }
        if device_list.iter().any(|d| d == real_device) {
            self.ret.comment = "Target was already mounted".into();
            return Ok(());
        }
        self.device_mismatch(active, real_name, comp_real_name, real_device, device_list)
    }

    /// Options that differ from the active mount's, after Salt's
    /// translations (`tcp` -> `proto=tcp`, sizes in k, uid/gid names...).
    fn changed_options(
        &self,
        active: &mut Map<String, Value>,
        comp_real_name: &str,
    ) -> Step<(Vec<String>, String)> {
        let c = self.c;
        let mut invisible: BTreeSet<String> =
            INVISIBLE_OPTIONS.iter().map(|s| s.to_string()).collect();
        invisible.extend(list_of(c.chunk, "extra_mount_invisible_options"));
        invisible.extend(list_of(c.chunk, "hidden_opts"));
        let mut invisible_keys: Vec<String> =
            INVISIBLE_KEYS.iter().map(|s| s.to_string()).collect();
        invisible_keys.extend(list_of(c.chunk, "extra_mount_invisible_keys"));
        let mut ignore_fs_keys: BTreeMap<String, Vec<String>> =
            BTreeMap::from([("ramfs".to_string(), vec!["size".to_string()])]);
        if let Value::Object(extra) = arg(c.chunk, "extra_mount_ignore_fs_keys") {
            for (fs, keys) in extra {
                ignore_fs_keys.insert(fs, strings(&keys));
            }
        }
        let ignored = ignore_fs_keys
            .get(&self.fstype)
            .cloned()
            .unwrap_or_default();
        let mut translate: BTreeMap<String, String> = BTreeMap::from([
            ("tcp".to_string(), "proto=tcp".to_string()),
            ("udp".to_string(), "proto=udp".to_string()),
        ]);
        if let Value::Object(extra) = arg(c.chunk, "extra_mount_translate_options") {
            for (k, v) in extra {
                translate.insert(k, text(&v));
            }
        }
        let mut trigger = Vec::new();
        let mut last_opt = String::new();
        for given in &self.opts {
            let mut opt = translate
                .get(given)
                .cloned()
                .unwrap_or_else(|| given.clone());
            if invisible_keys.iter().any(|k| k == key_of(&opt)) {
                opt = key_of(&opt).to_string();
            }
            if let Some(k) = size_in_k(&opt) {
                opt = format!("size={k}k");
            }
            if self.fstype == "cifs" && key_of(&opt) == "user" {
                opt = format!("username={}", opt.split('=').nth(1).unwrap_or(""));
            }
            if ignored.iter().any(|k| k == key_of(&opt)) {
                opt = key_of(&opt).to_string();
            }
            opt = self.numeric_ids(opt)?;
            let superopts = normalise_sizes(active, comp_real_name);
            // Salt's loop sets every option to the active size when the
            // mount has one (tmpfs): such mounts never remount for options.
            if let Some(size) = superopts.iter().rev().find(|s| size_in_k(s).is_some()) {
                opt = size.clone();
            }
            let active_opts = strings(&mount_of(active, comp_real_name)["opts"]);
            let visible_change = !active_opts.contains(&opt)
                && !superopts.contains(&opt)
                && !invisible.contains(&opt)
                && !ignored.contains(&opt)
                && !invisible_keys.contains(&opt);
            if visible_change {
                trigger.push(opt.clone());
            }
            last_opt = opt;
        }
        trigger.sort();
        Ok((trigger, last_opt))
    }

    /// `uid=<name>`/`gid=<name>` as numbers (`user.info`/`group.info`).
    fn numeric_ids(&self, opt: String) -> Step<String> {
        let parts: Vec<&str> = opt.split('=').collect();
        let fun = match parts[0] {
            "uid" => "user.info",
            "gid" => "group.info",
            _ => return Ok(opt),
        };
        if parts.len() < 2 {
            return Ok(opt);
        }
        let given = parts[1];
        if given.chars().all(|ch| ch.is_ascii_digit()) && !given.is_empty() {
            return Ok(format!("{}={given}", parts[0]));
        }
        let info = call(self.host(), fun, vec![json!(given)], &[]).map_err(|e| self.fail(e))?;
        let id = match info.get(parts[0]) {
            Some(v) if truthy(&info) => text(v),
            _ => given.to_string(),
        };
        Ok(format!("{}={id}", parts[0]))
    }

    fn check_options(
        &mut self,
        active: &mut Map<String, Value>,
        real_name: &str,
        comp_real_name: &str,
    ) -> Step {
        let (trigger, last_opt) = self.changed_options(active, comp_real_name)?;
        if !trigger.is_empty() {
            let which = trigger.join(",");
            if self.c.test {
                return Err(Box::new(self.pending(format!(
                    "Remount would be forced because options ({which}) changed"
                ))));
            }
            self.force_remount(real_name, &which, true)?;
            self.update_mount_cache = true;
        }
        let cache = call(
            self.host(),
            "mount.read_mount_cache",
            vec![json!(real_name)],
            &[],
        )
        .map_err(|e| self.fail(e))?;
        match cache.get("opts") {
            Some(cached) => {
                let missing: Vec<String> = strings(cached)
                    .into_iter()
                    .filter(|o| !self.opts.contains(o))
                    .collect();
                if !missing.is_empty() {
                    if self.c.test {
                        return Err(Box::new(self.pending(format!(
                            "Remount would be forced because options ({})changed",
                            missing.join(",")
                        ))));
                    }
                    self.force_remount(real_name, &last_opt, false)?;
                    self.update_mount_cache = true;
                }
            }
            None => self.update_mount_cache = true,
        }
        Ok(())
    }

    /// A test-mode answer with `comment`.
    fn pending(&self, comment: String) -> StateResult {
        StateResult {
            result: None,
            comment,
            ..self.ret.clone()
        }
    }

    fn mount_call(&self, name: &str) -> Step<Value> {
        call(
            self.host(),
            "mount.mount",
            vec![json!(name), json!(self.device)],
            &[
                ("mkmnt", json!(self.mkmnt)),
                ("fstype", json!(self.fstype)),
                ("opts", json!(self.opts)),
            ],
        )
        .map_err(|e| self.fail(e))
    }

    fn umount_call(&self, name: &str, lazy: bool) -> Step<Value> {
        let lazy = if lazy { json!(true) } else { Value::Null };
        call(
            self.host(),
            "mount.umount",
            vec![json!(name)],
            &[("lazy", lazy)],
        )
        .map_err(|e| self.fail(e))
    }

    /// Options changed: NFS, CVFS and FUSE mounts are unmounted (lazily
    /// if need be) and mounted again, others remounted. `first_check`
    /// picks Salt's wording for the two places it does this.
    fn force_remount(&mut self, real_name: &str, which: &str, first_check: bool) -> Step {
        let cycle =
            ["nfs", "cvfs"].contains(&self.fstype.as_str()) || self.fstype.starts_with("fuse");
        if !cycle {
            self.ret.changes.insert(
                "umount".into(),
                json!(format!("Forced remount because options ({which}) changed")),
            );
            let out = call(
                self.host(),
                "mount.remount",
                vec![json!(real_name), json!(self.device)],
                &[
                    ("mkmnt", json!(self.mkmnt)),
                    ("fstype", json!(self.fstype)),
                    ("opts", json!(self.opts)),
                ],
            )
            .map_err(|e| self.fail(e))?;
            self.ret.result = result_of(&out);
            return Ok(());
        }
        self.ret.changes.insert(
            "umount".into(),
            json!(format!(
                "Forced unmount and mount because options ({which}) changed"
            )),
        );
        if self.umount_call(real_name, false)? == json!(true) {
            let out = self.mount_call(real_name)?;
            self.ret.result = result_of(&out);
            return Ok(());
        }
        if first_check {
            self.ret.changes.insert(
                "umount".into(),
                json!(format!(
                    "Forced a lazy unmount and mount because the previous unmount failed and because the options ({which}) changed"
                )),
            );
        }
        let lazy = self.umount_call(real_name, true)?;
        if lazy == json!(true) {
            let out = self.mount_call(real_name)?;
            self.ret.result = result_of(&out);
            return Ok(());
        }
        self.ret.result = Some(false);
        self.ret.comment = format!("Unable to unmount {real_name}: {}.", text(&lazy));
        Err(self.finish())
    }

    /// Another device is mounted on the mount point: unmount it (unless
    /// `device_name_regex` accepts it).
    fn device_mismatch(
        &mut self,
        active: &mut Map<String, Value>,
        real_name: &str,
        comp_real_name: &str,
        real_device: &str,
        device_list: &[String],
    ) -> Step {
        for pattern in list_of(self.c.chunk, "device_name_regex") {
            let Ok(re) = Regex::new(&format!("^(?:{pattern})")) else {
                continue;
            };
            if let Some(hit) = device_list.iter().find(|d| re.is_match(d)) {
                self.ret.result = Some(true);
                self.ret.comment = format!(
                    "An umount will not be forced because device matched device_name_regex: {hit}"
                );
                return Ok(());
            }
        }
        if self.c.test {
            self.ret.result = None;
            self.ret.comment = format!(
                "An umount would have been forced because devices do not match.  Watched: {}",
                self.device
            );
            return Ok(());
        }
        let mut why = format!(
            "Forced unmount because devices don't match. Wanted: {}",
            self.device
        );
        if real_device != self.device {
            why.push_str(&format!(" ({real_device})"));
        }
        why.push_str(&format!(", current: {}", device_list.join(", ")));
        self.ret.changes.insert("umount".into(), json!(why));
        call(
            self.host(),
            "mount.umount",
            vec![json!(real_name)],
            &[("user", self.user.clone())],
        )
        .map_err(|e| self.fail(e))?;
        *active = self::active(self.host()).map_err(|e| self.fail(e))?;
        if active.contains_key(comp_real_name) {
            self.ret.comment = "Unable to unmount".into();
            self.ret.result = Some(false);
            return Err(self.finish());
        }
        self.update_mount_cache = true;
        Ok(())
    }

    /// Nothing is mounted on the mount point: mount (or, with
    /// `mount: False`, only create the mount point).
    fn not_mounted(&mut self, comp_real_name: &str) -> Step {
        let name = self.name.clone();
        let present = exists(self.host(), &name).map_err(|e| self.fail(e))?;
        if !self.mount {
            self.ret.comment = match (present, self.c.test, self.mkmnt) {
                (false, true, true) => format!("{name} would be created, but not mounted"),
                (false, true, false) => {
                    format!("{name} does not exist and would neither be created nor mounted")
                }
                (false, false, true) => {
                    call(
                        self.host(),
                        "file.mkdir",
                        vec![json!(name)],
                        &[("user", self.user.clone())],
                    )
                    .map_err(|e| self.fail(e))?;
                    format!("{name} was created, not mounted")
                }
                (false, false, false) => format!("{name} not present and not mounted"),
                (true, true, _) => format!("{name} would not be mounted"),
                (true, false, _) => format!("{name} not mounted"),
            };
            if self.c.test && !present {
                self.ret.result = None;
            }
            return Ok(());
        }
        if self.c.test {
            let comment = if present {
                format!("{name} would be mounted")
            } else if self.mkmnt {
                format!("{name} would be created and mounted")
            } else {
                format!("{name} does not exist and would not be created")
            };
            return Err(Box::new(self.pending(comment)));
        }
        if !present && !self.mkmnt {
            self.ret.result = Some(false);
            self.ret.comment = "Mount directory is not present".into();
            return Err(self.finish());
        }
        let out = call(
            self.host(),
            "mount.mount",
            vec![
                json!(name),
                json!(self.device),
                json!(self.mkmnt),
                json!(self.fstype),
                json!(self.opts),
            ],
            &[("user", self.user.clone())],
        )
        .map_err(|e| self.fail(e))?;
        let now = active(self.host()).map_err(|e| self.fail(e))?;
        self.update_mount_cache = true;
        if let Value::String(err) = out {
            self.ret.comment = err;
            self.ret.result = Some(false);
            return Err(self.finish());
        }
        if now.contains_key(comp_real_name) {
            self.ret.comment = "Target was successfully mounted".into();
            self.ret.changes.insert("mount".into(), json!(true));
        }
        Ok(())
    }

    /// `persist`: the fstab entry (predicted in test mode).
    fn persist(&mut self, real_name: &str) -> Step {
        let c = self.c;
        let config = str_of(c.chunk, "config").unwrap_or_else(|| "/etc/fstab".into());
        let number = |key| match c.chunk.arg(key) {
            None => json!(0),
            Some(v) => v.clone(),
        };
        let match_on = c
            .chunk
            .arg("match_on")
            .cloned()
            .unwrap_or_else(|| json!("auto"));
        let mut kw = vec![("match_on", match_on)];
        if c.test {
            kw.push(("test", json!(true)));
        }
        let out = call(
            self.host(),
            "mount.set_fstab",
            vec![
                json!(self.name),
                json!(self.device),
                json!(self.fstype),
                json!(self.opts),
                number("dump"),
                number("pass_num"),
                json!(config),
            ],
            &kw,
        )
        .map_err(|e| self.fail(e))?;
        let out = text(&out);
        if c.test && out != "present" {
            return Err(Box::new(self.predicted_persist(&out)));
        }
        if self.update_mount_cache {
            call(
                self.host(),
                "mount.write_mount_cache",
                vec![json!(real_name), json!(self.device)],
                &[
                    ("mkmnt", json!(self.mkmnt)),
                    ("fstype", json!(self.fstype)),
                    ("mount_opts", json!(self.opts)),
                ],
            )
            .map_err(|e| self.fail(e))?;
        }
        match out.as_str() {
            "present" => self
                .ret
                .comment
                .push_str(". Entry already exists in the fstab."),
            "new" => {
                self.ret.changes.insert("persist".into(), json!("new"));
                self.ret.comment.push_str(". Added new entry to the fstab.");
            }
            "change" => {
                self.ret.changes.insert("persist".into(), json!("update"));
                self.ret
                    .comment
                    .push_str(". Updated the entry in the fstab.");
            }
            "bad config" => {
                self.ret.result = Some(false);
                self.ret
                    .comment
                    .push_str(". However, the fstab was not found.");
            }
            _ => {}
        }
        Ok(())
    }

    /// Test mode, the fstab entry is missing or differs.
    fn predicted_persist(&self, out: &str) -> StateResult {
        let name = &self.name;
        let mut ret = self.pending(String::new());
        let comment = match (out, self.mount) {
            ("new", true) => format!(
                "{name} is mounted, but needs to be written to the fstab in order to be made persistent."
            ),
            ("new", false) => {
                format!("{name} needs to be written to the fstab in order to be made persistent.")
            }
            ("change", true) => format!("{name} is mounted, but its fstab entry must be updated."),
            ("change", false) => format!("The {name} fstab entry must be updated."),
            _ => {
                ret.result = Some(false);
                format!(
                    "Unable to detect fstab status for mount point {name} due to unexpected output '{out}' from call to mount.set_fstab. This is most likely a bug."
                )
            }
        };
        ret.comment = format!("{}. {comment}", self.ret.comment);
        ret
    }
}

/// Add `bind` to the bind target's active options (Salt marks it so the
/// option comparison does not ask for a remount).
fn mark_bind(active: &mut Map<String, Value>, comp_real_name: &str) {
    if let Some(Value::Array(opts)) = active
        .get_mut(comp_real_name)
        .and_then(|e| e.get_mut("opts"))
    {
        opts.push(json!("bind"));
    }
}

/// The active mount's superblock options with sizes in kilobytes (Salt
/// rewrites them in place while comparing).
fn normalise_sizes(active: &mut Map<String, Value>, comp_real_name: &str) -> Vec<String> {
    let mut superopts = strings(&mount_of(active, comp_real_name)["superopts"]);
    let (sizes, mut rest): (Vec<String>, Vec<String>) =
        superopts.drain(..).partition(|s| size_in_k(s).is_some());
    rest.extend(
        sizes
            .iter()
            .filter_map(|s| size_in_k(s))
            .map(|k| format!("size={k}k")),
    );
    if let Some(Value::Object(entry)) = active.get_mut(comp_real_name) {
        entry.insert("superopts".into(), json!(rest));
    }
    rest
}

/// `/dev/<vg>/<lv>` as `mount` shows it: `/dev/mapper/<vg>-<lv>` with
/// dashes doubled.
fn lvm_mapper_name(device: &str) -> Option<String> {
    let rest = device.strip_prefix("/dev/")?;
    let (vg, lv) = rest.split_once('/')?;
    if vg.is_empty() || lv.is_empty() || lv.contains('/') {
        return None;
    }
    Some(format!(
        "/dev/mapper/{}-{}",
        vg.replace('-', "--"),
        lv.replace('-', "--")
    ))
}

/// `sshfs#user@host:/dir` -> `user@host:/dir`.
fn fuse_device(device: &str) -> Option<String> {
    let (prefix, rest) = device.split_once('#')?;
    let word = !prefix.is_empty() && prefix.chars().all(|ch| ch.is_alphanumeric() || ch == '_');
    (word && !rest.is_empty()).then(|| rest.to_string())
}

/// `mount.unmounted`: nothing is mounted on `name`; with `persist`, no
/// fstab entry either.
fn unmounted(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    if name.is_empty() {
        return StateResult::fail(name, "Must provide name to mount.unmounted");
    }
    let run = || -> Result<StateResult, String> {
        let mut ret = StateResult::ok(name, "");
        let device = str_of(c.chunk, "device");
        let active = active(c.host)?;
        if !active.contains_key(&name.replace(' ', "\\040")) {
            ret.comment = "Target was already unmounted".into();
        } else {
            if c.test {
                return Ok(StateResult {
                    result: None,
                    ..StateResult::ok(
                        name,
                        format!("Mount point {name} is mounted but should not be"),
                    )
                });
            }
            unmount(c, &mut ret, device.as_deref())?;
        }
        if flag(c, "persist", false) {
            purge(c, &mut ret, device.as_deref())?;
        }
        Ok(ret)
    };
    run().unwrap_or_else(|e| failed(name, e))
}

/// Unmount `name` (and forget it in the mount cache).
fn unmount(c: &StateCall<'_>, ret: &mut StateResult, device: Option<&str>) -> Result<(), String> {
    let name = name_of(c);
    let mut args = vec![json!(name)];
    if let Some(device) = device {
        args.push(json!(device));
    }
    let out = call(
        c.host,
        "mount.umount",
        args,
        &[("user", arg(c.chunk, "user"))],
    )?;
    match out {
        Value::String(err) => {
            ret.comment = err;
            ret.result = Some(false);
        }
        Value::Bool(true) => {
            ret.comment = "Target was successfully unmounted".into();
            ret.changes.insert("umount".into(), json!(true));
        }
        _ => ret.comment = "Execute set to False, Target was not unmounted".into(),
    }
    call(c.host, "mount.delete_mount_cache", vec![json!(name)], &[])?;
    Ok(())
}

/// `persist`: remove the fstab entry (predicted in test mode).
fn purge(c: &StateCall<'_>, ret: &mut StateResult, device: Option<&str>) -> Result<(), String> {
    let name = name_of(c);
    let config = str_of(c.chunk, "config").unwrap_or_else(|| "/etc/fstab".into());
    let fstab = call(c.host, "mount.fstab", vec![json!(config)], &[])?;
    let Some(entry) = fstab.get(name) else {
        ret.comment.push_str(". fstab entry not found");
        return Ok(());
    };
    if let Some(device) = device
        && entry["device"].as_str() != Some(device)
    {
        ret.comment
            .push_str(&format!(". fstab entry for device {device} not found"));
        return Ok(());
    }
    if c.test {
        ret.result = None;
        ret.comment = format!(
            "Mount point {name} is unmounted but needs to be purged from {config} to be made persistent"
        );
        return Ok(());
    }
    let out = call(
        c.host,
        "mount.rm_fstab",
        vec![json!(name), json!(device), json!(config)],
        &[],
    )?;
    if out == json!(true) {
        ret.comment.push_str(". Removed target from fstab");
        ret.changes.insert("persist".into(), json!("purged"));
    } else {
        ret.result = Some(false);
        ret.comment.push_str(". Failed to persist purge");
    }
    Ok(())
}

/// A watched state changed: remount a `mounted` mount point.
fn mod_watch(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c);
    if c.chunk.fun != "mounted" {
        return StateResult::ok(
            name,
            format!("Watch not supported in {} at this time", c.chunk.fun),
        );
    }
    let opts = c
        .chunk
        .arg("opts")
        .cloned()
        .unwrap_or_else(|| json!("defaults"));
    let out = call(
        c.host,
        "mount.remount",
        vec![
            json!(name),
            arg(c.chunk, "device"),
            json!(false),
            arg(c.chunk, "fstype"),
            opts,
        ],
        &[("user", arg(c.chunk, "user"))],
    );
    match out {
        // Salt tests the answer's truth: an error text counts as success
        // there too, only an empty one fails.
        Ok(v) if truthy(&v) => StateResult::ok(name, format!("{name} remounted")),
        Ok(v) => StateResult::fail(name, format!("{name} failed to remount: {}", text(&v))),
        Err(e) => failed(name, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run};

    /// A host with the given active mounts, fstab answer and existing
    /// paths; no symlinks; every change succeeds.
    fn host(active: Value, set_fstab: &'static str, existing: &'static [&'static str]) -> MockHost {
        MockHost::new(move |f, args, _| match f {
            "mount.active" => Ok(active.clone()),
            "file.is_link" => Ok(json!(false)),
            "file.exists" => Ok(json!(existing.contains(&text(&args[0]).as_str()))),
            "mount.set_fstab" => Ok(json!(set_fstab)),
            "mount.read_mount_cache" => Ok(json!({})),
            "mount.fstab" => Ok(
                json!({"/mnt/old": {"device": "host:/old", "fstype": "nfs", "opts": ["ro"], "dump": "0", "pass": "0"}}),
            ),
            "mount.mount"
            | "mount.umount"
            | "mount.remount"
            | "mount.rm_fstab"
            | "mount.write_mount_cache"
            | "mount.delete_mount_cache"
            | "file.mkdir" => Ok(json!(true)),
            _ => Err(format!("unexpected {f}")),
        })
    }

    fn nfs_mount(opts: &str) -> Value {
        json!({"/mnt/data": {
            "device": "host:/data", "fstype": "nfs", "alt_device": "host:/data",
            "opts": ["rw", "relatime"], "superopts": opts.split(',').collect::<Vec<_>>(),
            "device_uuid": null, "device_label": null,
        }})
    }

    #[test]
    fn a_missing_mount_point_would_be_created_and_mounted() {
        // nfs-formula's `/some/path` under test=True, as Salt prints it.
        let h = host(json!({"/": {"device": "/dev/vda"}}), "new", &[]);
        let ch = chunk(
            "mount",
            "mounted",
            "/some/path",
            json!({"device": "hostname:/path", "fstype": "nfs", "opts": "vers=3,rsize=65535,wsize=65535", "persist": true, "mkmnt": true}),
        );
        let r = run(mounted, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(r.comment, "/some/path would be created and mounted");
        assert!(r.changes.is_empty());
        assert!(!h.called("mount.mount"));
        let no_mkmnt = chunk(
            "mount",
            "mounted",
            "/x",
            json!({"device": "d", "fstype": "ext4"}),
        );
        assert_eq!(
            run(mounted, &h, &no_mkmnt, true).comment,
            "/x does not exist and would not be created"
        );
    }

    #[test]
    fn an_unmounted_target_is_mounted_and_persisted() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let lookups = AtomicUsize::new(0);
        let h = MockHost::new(move |f, _, _| match f {
            // Not mounted before the mount, mounted after it.
            "mount.active" if lookups.fetch_add(1, Ordering::SeqCst) == 0 => Ok(json!({})),
            "mount.active" => Ok(nfs_mount("rw")),
            "file.is_link" => Ok(json!(false)),
            "file.exists" => Ok(json!(false)),
            "mount.mount" | "mount.write_mount_cache" => Ok(json!(true)),
            "mount.set_fstab" => Ok(json!("new")),
            _ => Err(format!("unexpected {f}")),
        });
        let ch = chunk(
            "mount",
            "mounted",
            "/mnt/data",
            json!({"device": "host:/data", "fstype": "nfs", "mkmnt": true}),
        );
        let r = run(mounted, &h, &ch, false);
        assert_eq!(r.result, Some(true));
        assert_eq!(
            r.comment,
            "Target was successfully mounted. Added new entry to the fstab."
        );
        assert_eq!(r.changes["mount"], json!(true));
        assert_eq!(r.changes["persist"], json!("new"));
        assert_eq!(h.calls_to("mount.mount")[0].args[2], json!(true));
        assert!(h.called("mount.write_mount_cache"));
    }

    #[test]
    fn a_failed_mount_fails_with_the_mount_commands_error() {
        let h = MockHost::new(|f, _, _| match f {
            // Not mounted before the mount, mounted after it.
            "mount.active" => Ok(json!({})),
            "file.is_link" => Ok(json!(false)),
            "file.exists" => Ok(json!(true)),
            "mount.mount" => Ok(json!("mount: /mnt/data: bad option.")),
            _ => Err(format!("unexpected {f}")),
        });
        let ch = chunk(
            "mount",
            "mounted",
            "/mnt/data/",
            json!({"device": "host:/data", "fstype": "nfs"}),
        );
        let r = run(mounted, &h, &ch, false);
        assert_eq!(r.result, Some(false));
        assert_eq!(r.comment, "mount: /mnt/data: bad option.");
        let call = &h.calls_to("mount.mount")[0];
        assert_eq!(call.args[0], json!("/mnt/data"));
        assert_eq!(call.args[4], json!(["defaults"]));
    }

    #[test]
    fn a_mounted_target_with_the_same_options_only_checks_the_fstab() {
        let h = host(nfs_mount("rw,vers=3"), "present", &["/mnt/data"]);
        let ch = chunk(
            "mount",
            "mounted",
            "/mnt/data",
            json!({"device": "host:/data", "fstype": "nfs", "opts": "vers=3,_netdev"}),
        );
        let r = run(mounted, &h, &ch, true);
        assert_eq!(r.result, Some(true));
        assert_eq!(
            r.comment,
            "Target was already mounted. Entry already exists in the fstab."
        );
        let r = run(mounted, &h, &ch, false);
        assert_eq!(r.result, Some(true));
        assert!(r.changes.is_empty());
        // No cached options yet: the cache is written.
        assert!(h.called("mount.write_mount_cache"));
    }

    #[test]
    fn changed_options_force_a_remount() {
        let h = host(nfs_mount("rw,vers=3"), "change", &["/mnt/data"]);
        let ch = chunk(
            "mount",
            "mounted",
            "/mnt/data",
            json!({"device": "host:/data", "fstype": "nfs", "opts": ["vers=4", "ro"]}),
        );
        let r = run(mounted, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(
            r.comment,
            "Remount would be forced because options (ro,vers=4) changed"
        );
        let r = run(mounted, &h, &ch, false);
        assert_eq!(r.result, Some(true));
        assert_eq!(
            r.changes["umount"],
            json!("Forced unmount and mount because options (ro,vers=4) changed")
        );
        assert_eq!(r.changes["persist"], json!("update"));
        assert_eq!(
            r.comment,
            "Target was already mounted. Updated the entry in the fstab."
        );
        assert!(h.called("mount.umount") && h.called("mount.mount"));
    }

    #[test]
    fn a_different_device_would_be_unmounted() {
        let h = host(nfs_mount("rw"), "present", &["/mnt/data"]);
        let ch = chunk(
            "mount",
            "mounted",
            "/mnt/data",
            json!({"device": "other:/x", "fstype": "nfs"}),
        );
        let r = run(mounted, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(
            r.comment,
            "An umount would have been forced because devices do not match.  Watched: other:/x. Entry already exists in the fstab."
        );
        let regex = chunk(
            "mount",
            "mounted",
            "/mnt/data",
            json!({"device": "other:/x", "fstype": "nfs", "device_name_regex": ["host:.*"]}),
        );
        assert_eq!(
            run(mounted, &h, &regex, true).comment,
            "An umount will not be forced because device matched device_name_regex: host:/data. Entry already exists in the fstab."
        );
    }

    #[test]
    fn test_mode_says_a_new_fstab_entry_is_needed() {
        let h = host(nfs_mount("rw"), "new", &["/mnt/data"]);
        let ch = chunk(
            "mount",
            "mounted",
            "/mnt/data",
            json!({"device": "host:/data", "fstype": "nfs"}),
        );
        let r = run(mounted, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(
            r.comment,
            "Target was already mounted. /mnt/data is mounted, but needs to be written to the fstab in order to be made persistent."
        );
    }

    #[test]
    fn missing_arguments_fail_with_salts_words() {
        let h = host(json!({}), "new", &[]);
        let ch = chunk("mount", "mounted", "/x", json!({"fstype": "nfs"}));
        assert_eq!(
            run(mounted, &h, &ch, true).comment,
            "Must provide device to mount.mounted"
        );
        let ch = chunk("mount", "mounted", "/x", json!({"device": "d"}));
        assert_eq!(
            run(mounted, &h, &ch, true).comment,
            "Must provide fstype to mount.mounted"
        );
    }

    #[test]
    fn unmounted_reports_an_absent_mount_as_done() {
        // nfs-formula's `/some/other/path`, as Salt prints it.
        let h = host(json!({"/": {"device": "/dev/vda"}}), "new", &[]);
        let ch = chunk(
            "mount",
            "unmounted",
            "/some/other/path",
            json!({"device": "hostname:/other/path"}),
        );
        let r = run(unmounted, &h, &ch, true);
        assert_eq!(r.result, Some(true));
        assert_eq!(r.comment, "Target was already unmounted");
        assert!(r.changes.is_empty());
    }

    #[test]
    fn unmounted_unmounts_and_purges_the_fstab_entry() {
        let h = host(json!({"/mnt/old": {"device": "host:/old"}}), "new", &[]);
        let ch = chunk("mount", "unmounted", "/mnt/old", json!({"persist": true}));
        let r = run(unmounted, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(
            r.comment,
            "Mount point /mnt/old is mounted but should not be"
        );
        let r = run(unmounted, &h, &ch, false);
        assert_eq!(r.result, Some(true));
        assert_eq!(
            r.comment,
            "Target was successfully unmounted. Removed target from fstab"
        );
        assert_eq!(r.changes["umount"], json!(true));
        assert_eq!(r.changes["persist"], json!("purged"));
        let wrong = chunk(
            "mount",
            "unmounted",
            "/mnt/old",
            json!({"persist": true, "device": "x:/y"}),
        );
        let absent = host(json!({}), "new", &[]);
        assert_eq!(
            run(unmounted, &absent, &wrong, false).comment,
            "Target was already unmounted. fstab entry for device x:/y not found"
        );
        let purge_test = run(unmounted, &absent, &ch, true);
        assert_eq!(purge_test.result, None);
        assert_eq!(
            purge_test.comment,
            "Mount point /mnt/old is unmounted but needs to be purged from /etc/fstab to be made persistent"
        );
    }

    #[test]
    fn mod_watch_remounts_mounted_states_only() {
        let h = host(json!({}), "new", &[]);
        let ch = chunk(
            "mount",
            "mounted",
            "/mnt/d",
            json!({"device": "h:/d", "fstype": "nfs"}),
        );
        assert_eq!(run(mod_watch, &h, &ch, false).comment, "/mnt/d remounted");
        let ch = chunk("mount", "unmounted", "/mnt/d", json!({}));
        assert_eq!(
            run(mod_watch, &h, &ch, false).comment,
            "Watch not supported in unmounted at this time"
        );
    }

    #[test]
    fn path_and_device_helpers() {
        assert_eq!(normpath("/a//b/./c/../d/"), "/a/b/d");
        assert_eq!(dirname("/a/b"), "/a");
        assert_eq!(dirname("/a"), "/");
        assert_eq!(
            lvm_mapper_name("/dev/my-vg/lv1").as_deref(),
            Some("/dev/mapper/my--vg-lv1")
        );
        assert_eq!(lvm_mapper_name("/dev/sda1"), None);
        assert_eq!(fuse_device("sshfs#u@h:/d").as_deref(), Some("u@h:/d"));
        assert_eq!(fuse_device("h:/d"), None);
        assert_eq!(size_in_k("size=2m"), Some(2048));
        assert_eq!(size_in_k("size=10"), None);
    }

    #[test]
    fn realpath_follows_links_through_the_host() {
        let h = MockHost::new(|f, args, _| match (f, text(&args[0]).as_str()) {
            ("file.is_link", "/srv") => Ok(json!(true)),
            ("file.is_link", _) => Ok(json!(false)),
            ("file.readlink", "/srv") => Ok(json!("/data/srv")),
            _ => Err(format!("unexpected {f}")),
        });
        assert_eq!(realpath(&h, "/srv/x/").ok().as_deref(), Some("/data/srv/x"));
    }
}
