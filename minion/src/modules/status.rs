//! Salt's `status` execution module: uptime, load, memory, CPU, disk and
//! process information, read from `/proc` (Linux) with Salt's key names and
//! shapes.

use std::collections::HashMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use brine_common::functions::{Call, FnError, FnOutput, Functions};
use globset::Glob;
use nix::unistd::{Uid, User};
use serde_json::{Map, Value, json};

use super::MinionCtx;
use super::host::{HostCmd, blocking, required_str, value_text, which};

// The default format has a comma, which a signature cannot spell: it is
// applied in the function instead.
const TIME_SIG: &str = "format=None";

pub fn register(f: &mut Functions<MinionCtx>) {
    f.register("status.time", TIME_SIG, TIME_DOC, |_, call| async move {
        let format =
            super::process::Args::bind(&call, TIME_SIG).str_or("format", "%A, %d. %B %Y %I:%M%p");
        time_now(&format).map(FnOutput::from)
    });
    f.register("status.uptime", "", UPTIME_DOC, |_, _| async move {
        uptime().await
    });
    f.register("status.loadavg", "", LOADAVG_DOC, |_, _| async move {
        blocking(loadavg).await.map(Into::into)
    });
    f.register("status.meminfo", "", MEMINFO_DOC, |_, _| async move {
        blocking(|| Ok(parse_meminfo(&read_proc("meminfo")?).into())).await
    });
    f.register("status.cpuinfo", "", CPUINFO_DOC, |_, _| async move {
        blocking(|| Ok(parse_cpuinfo(&read_proc("cpuinfo")?).into())).await
    });
    f.register("status.cpustats", "", CPUSTATS_DOC, |_, _| async move {
        blocking(|| Ok(parse_cpustats(&read_proc("stat")?).into())).await
    });
    f.register("status.vmstats", "", VMSTATS_DOC, |_, _| async move {
        blocking(|| Ok(parse_vmstats(&read_proc("vmstat")?).into())).await
    });
    f.register(
        "status.diskusage",
        "*args",
        DISKUSAGE_DOC,
        |_, call| async move {
            let args: Vec<String> = call.args.iter().filter_map(value_text).collect();
            blocking(move || diskusage(&args).map(Into::into)).await
        },
    );
    f.register("status.procs", "", PROCS_DOC, |_, _| async move {
        blocking(|| Ok(procs().into())).await
    });
    f.register("status.pid", "sig", PID_DOC, |_, call| async move {
        pid(&call).await
    });
}

fn read_proc(name: &str) -> Result<String, FnError> {
    let path = Path::new("/proc").join(name);
    std::fs::read_to_string(&path)
        .map_err(|e| FnError::Execution(format!("cannot read {}: {e}", path.display())))
}

/// Salt's `_number`: an int if it reads as one, else a float, else the text.
fn number(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return json!(i);
    }
    if let Ok(u) = text.parse::<u64>() {
        return json!(u);
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => json!(f),
        _ => json!(text),
    }
}

// ---------------------------------------------------------------------------
// uptime, loadavg

async fn uptime() -> Result<FnOutput, FnError> {
    let text = blocking(|| read_proc("uptime")).await?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    let mut ret = uptime_from(&text, now)?;
    if which("who").is_some() {
        let out = HostCmd::new("who").arg("-s").output().await?;
        ret.insert("users".into(), json!(out.stdout.lines().count()));
    }
    Ok(Value::Object(ret).into())
}

/// Salt's uptime dict from `/proc/uptime` text at the time `now` (seconds
/// since the epoch).
fn uptime_from(proc_uptime: &str, now: f64) -> Result<Map<String, Value>, FnError> {
    let seconds = proc_uptime
        .split_whitespace()
        .next()
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or_else(|| FnError::Execution(format!("cannot read /proc/uptime: {proc_uptime:?}")))?
        as u64;
    let boot = now - seconds as f64;
    let in_day = seconds % 86_400;
    let mut ret = Map::new();
    ret.insert("seconds".into(), json!(seconds));
    ret.insert("since_iso".into(), json!(python_isoformat(boot)));
    ret.insert("since_t".into(), json!(boot as i64));
    ret.insert("days".into(), json!(seconds / 86_400));
    ret.insert(
        "time".into(),
        json!(format!("{}:{}", in_day / 3600, in_day % 3600 / 60)),
    );
    Ok(ret)
}

/// Python's `datetime.utcfromtimestamp(t).isoformat()`.
fn python_isoformat(t: f64) -> String {
    let secs = t.floor() as i64;
    let micros = ((t - t.floor()) * 1e6).round() as i64;
    let (secs, micros) = if micros >= 1_000_000 {
        (secs + 1, 0)
    } else {
        (secs, micros)
    };
    let Ok(ts) = jiff::Timestamp::from_second(secs) else {
        return String::new();
    };
    let base = ts.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    if micros == 0 {
        base
    } else {
        format!("{base}.{micros:06}")
    }
}

fn loadavg() -> Result<Value, FnError> {
    let text = read_proc("loadavg")?;
    let loads: Vec<f64> = text
        .split_whitespace()
        .take(3)
        .filter_map(|s| s.parse().ok())
        .collect();
    let [one, five, fifteen] = loads.as_slice() else {
        return Err(FnError::Execution(format!(
            "cannot read the load averages from /proc/loadavg: {text:?}"
        )));
    };
    Ok(json!({"1-min": one, "5-min": five, "15-min": fifteen}))
}

// ---------------------------------------------------------------------------
// /proc parsers

/// `MemTotal:  16318556 kB` -> `{"MemTotal": {"value": "16318556", "unit": "kB"}}`.
pub fn parse_meminfo(text: &str) -> Value {
    let mut ret = Map::new();
    for line in text.lines() {
        let comps: Vec<&str> = line.split_whitespace().collect();
        let Some((key, rest)) = comps.split_first() else {
            continue;
        };
        let Some(value) = rest.first() else {
            continue;
        };
        let mut entry = Map::new();
        entry.insert("value".into(), json!(value));
        if let Some(unit) = rest.get(1) {
            entry.insert("unit".into(), json!(unit));
        }
        ret.insert(key.replace(':', ""), Value::Object(entry));
    }
    Value::Object(ret)
}

/// `key : value` lines; `flags` as a list (the last CPU's values win, as in Salt).
pub fn parse_cpuinfo(text: &str) -> Value {
    let mut ret = Map::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim();
        let value = if key == "flags" {
            json!(value.split_whitespace().collect::<Vec<_>>())
        } else {
            json!(value.trim())
        };
        ret.insert(key.to_string(), value);
    }
    Value::Object(ret)
}

/// `/proc/stat` as Salt's `cpustats`.
pub fn parse_cpustats(text: &str) -> Value {
    let mut ret = Map::new();
    for line in text.lines() {
        let comps: Vec<&str> = line.split_whitespace().collect();
        let Some((key, rest)) = comps.split_first() else {
            continue;
        };
        let field = |i: usize| rest.get(i).map_or(Value::Null, |s| number(s));
        let entry = match *key {
            "cpu" => json!({
                "idle": field(3), "iowait": field(4), "irq": field(5), "nice": field(1),
                "softirq": field(6), "steal": field(7), "system": field(2), "user": field(0),
            }),
            "intr" => {
                json!({"total": field(0), "irqs": rest.iter().skip(1).map(|s| number(s)).collect::<Vec<_>>()})
            }
            "softirq" => {
                json!({"total": field(0), "softirqs": rest.iter().skip(1).map(|s| number(s)).collect::<Vec<_>>()})
            }
            _ => field(0),
        };
        ret.insert(key.to_string(), entry);
    }
    Value::Object(ret)
}

/// `/proc/vmstat`: `{key: number}`.
pub fn parse_vmstats(text: &str) -> Value {
    Value::Object(
        text.lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (k.to_string(), number(v.trim())))
            .collect(),
    )
}

// ---------------------------------------------------------------------------
// diskusage

/// Paths (arguments starting with `/`) and filesystem types (globs, the
/// rest) -> `{mountpoint: {available, total}}` in bytes.
fn diskusage(args: &[String]) -> Result<Value, FnError> {
    let paths: Vec<String> = args
        .iter()
        .filter(|a| a.starts_with('/'))
        .cloned()
        .collect();
    let mut fstypes: Vec<&String> = args.iter().filter(|a| !a.starts_with('/')).collect();
    let all = String::from("*");
    if args.is_empty() {
        fstypes.push(&all);
    }
    let mut by_type = Vec::new();
    if !fstypes.is_empty() {
        let mounts = read_proc("mounts")?;
        by_type = mounts_of_types(&mounts, &fstypes);
    }
    let mut ret = Map::new();
    for path in &paths {
        ret.insert(path.clone(), fs_usage(path)?);
    }
    for path in by_type {
        match fs_usage(&path) {
            Ok(usage) => {
                ret.insert(path, usage);
            }
            Err(e) => tracing::debug!("status.diskusage skips {path}: {e}"),
        }
    }
    Ok(Value::Object(ret))
}

/// Mount points in `/proc/mounts` text whose type matches one of the globs.
fn mounts_of_types(mounts: &str, fstypes: &[&String]) -> Vec<String> {
    let matchers: Vec<_> = fstypes
        .iter()
        .filter_map(|t| Glob::new(t).ok().map(|g| g.compile_matcher()))
        .collect();
    let mut ret = Vec::new();
    for line in mounts.lines() {
        let comps: Vec<&str> = line.split_whitespace().collect();
        if let [_, mountpoint, fstype, ..] = comps.as_slice()
            && matchers.iter().any(|m| m.is_match(fstype))
            && !ret.iter().any(|p| p == mountpoint)
        {
            ret.push(unescape_mount(mountpoint));
        }
    }
    ret
}

/// `/proc/mounts` writes spaces and tabs in paths as octal escapes.
fn unescape_mount(path: &str) -> String {
    path.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\134", "\\")
}

fn fs_usage(path: &str) -> Result<Value, FnError> {
    let st = nix::sys::statvfs::statvfs(path)
        .map_err(|e| FnError::Execution(format!("cannot statvfs {path}: {e}")))?;
    let bsize = st.block_size() as u64;
    Ok(json!({
        "available": st.blocks_available() as u64 * bsize,
        "total": st.blocks() as u64 * bsize,
    }))
}

// ---------------------------------------------------------------------------
// processes

/// One process as `ps -ef` would show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Proc {
    pub pid: u32,
    pub ppid: u32,
    pub user: String,
    pub cmd: String,
}

/// Every process in `/proc`.
pub fn processes() -> Vec<Proc> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut users: HashMap<u32, String> = HashMap::new();
    let mut ret: Vec<Proc> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| read_proc_entry(pid, &mut users))
        .collect();
    ret.sort_by_key(|p| p.pid);
    ret
}

fn read_proc_entry(pid: u32, users: &mut HashMap<u32, String>) -> Option<Proc> {
    let dir = Path::new("/proc").join(pid.to_string());
    let status = std::fs::read_to_string(dir.join("status")).ok()?;
    let (name, uid, ppid) = parse_proc_status(&status)?;
    let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
    let user = users
        .entry(uid)
        .or_insert_with(|| {
            User::from_uid(Uid::from_raw(uid))
                .ok()
                .flatten()
                .map_or_else(|| uid.to_string(), |u| u.name)
        })
        .clone();
    Some(Proc {
        pid,
        ppid,
        user,
        cmd: command_line(&cmdline, &name),
    })
}

/// Name, real uid and parent pid from `/proc/<pid>/status`.
pub fn parse_proc_status(text: &str) -> Option<(String, u32, u32)> {
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
    };
    let name = field("Name:")?.to_string();
    let uid = field("Uid:")?.split_whitespace().next()?.parse().ok()?;
    let ppid = field("PPid:")?.parse().ok()?;
    Some((name, uid, ppid))
}

/// The NUL-separated arguments joined by spaces; `[name]` for kernel
/// threads, as `ps` shows them.
pub fn command_line(raw: &[u8], name: &str) -> String {
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if args.is_empty() {
        format!("[{name}]")
    } else {
        args.join(" ")
    }
}

/// `{pid: {user, cmd}}`.
fn procs() -> Value {
    Value::Object(
        processes()
            .into_iter()
            .map(|p| (p.pid.to_string(), json!({"user": p.user, "cmd": p.cmd})))
            .collect(),
    )
}

/// PIDs whose `ps -ef`-like line (`user pid ppid cmd`) matches the regular
/// expression `sig`, leaving out this process itself.
pub fn pids_matching(sig: &str) -> Result<Vec<u32>, FnError> {
    let re = regex::Regex::new(sig)
        .map_err(|e| FnError::Invocation(format!("invalid regular expression {sig:?}: {e}")))?;
    let me = std::process::id();
    // Like Salt, leave out whatever is asking for it (this process, and the
    // CLI that published `status.pid`).
    Ok(processes()
        .into_iter()
        .filter(|p| p.pid != me && !p.cmd.contains("status.pid"))
        .filter(|p| re.is_match(&format!("{} {} {} {}", p.user, p.pid, p.ppid, p.cmd)))
        .map(|p| p.pid)
        .collect())
}

/// Salt returns the PIDs as one newline-separated string.
async fn pid(call: &Call) -> Result<FnOutput, FnError> {
    let sig = required_str(call, 0, "sig")?;
    let pids = blocking(move || pids_matching(&sig)).await?;
    let text: Vec<String> = pids.iter().map(u32::to_string).collect();
    Ok(json!(text.join("\n")).into())
}

/// Salt's `status.time`: the local time formatted with strftime directives.
fn time_now(format: &str) -> Result<Value, FnError> {
    let now = brine_common::local_time::now();
    let mut text = String::new();
    jiff::fmt::strtime::format(format, &now)
        .map(|t| text.push_str(&t))
        .map_err(|e| FnError::Invocation(format!("Invalid time format {format:?}: {e}")))?;
    Ok(Value::String(text))
}

const TIME_DOC: &str = "Return the current time on the minion,\nformatted based on the format parameter.\n\nDefault date format: Monday, 27. July 2015 07:55AM\n\nCLI Example:\n\n    brine '*' status.time\n\n    brine '*' status.time '%s'";
const UPTIME_DOC: &str = "Return the uptime for this system.\n\nReturns a dict with ``seconds``, ``since_iso``, ``since_t``, ``days``, ``time``\n(hours:minutes) and, where ``who`` exists, ``users``.\n\nCLI Example:\n\n    brine '*' status.uptime";
const LOADAVG_DOC: &str =
    "Return the load averages for this minion\n\nCLI Example:\n\n    brine '*' status.loadavg";
const MEMINFO_DOC: &str =
    "Return the memory info for this minion\n\nCLI Example:\n\n    brine '*' status.meminfo";
const CPUINFO_DOC: &str =
    "Return the CPU info for this minion\n\nCLI Example:\n\n    brine '*' status.cpuinfo";
const CPUSTATS_DOC: &str =
    "Return the CPU stats for this minion\n\nCLI Example:\n\n    brine '*' status.cpustats";
const VMSTATS_DOC: &str = "Return the virtual memory stats for this minion\n\nCLI Example:\n\n    brine '*' status.vmstats";
const DISKUSAGE_DOC: &str = "Return the disk usage for this minion\n\nUsage::\n\n    brine '*' status.diskusage [paths and/or filesystem types]\n\nCLI Example:\n\n    brine '*' status.diskusage         # usage for all filesystems\n    brine '*' status.diskusage / /tmp  # usage for / and /tmp\n    brine '*' status.diskusage ext?    # usage for ext[234] filesystems\n    brine '*' status.diskusage / ext?  # usage for / and all ext filesystems";
const PROCS_DOC: &str = "Return the process data\n\nCLI Example:\n\n    brine '*' status.procs";
const PID_DOC: &str = "Return the PID or an empty string if the process is running or not.\nPass a signature to use to find the process via ps. Note you can pass\na Python-compatible regular expression to return all pids of\nprocesses matching the regexp.\n\nCLI Example:\n\n    brine '*' status.pid <sig>";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formats_like_strftime() {
        let year = brine_common::local_time::now().year().to_string();
        assert_eq!(time_now("%Y").expect("time"), Value::String(year));
        let default = time_now("%A, %d. %B %Y %I:%M%p").expect("time");
        assert!(
            default
                .as_str()
                .is_some_and(|t| t.contains(", ") && t.contains(". "))
        );
    }

    #[test]
    fn uptime_shape() {
        let ret = uptime_from("93784.52 1000.0\n", 1_700_000_000.25).expect("uptime");
        assert_eq!(ret["seconds"], json!(93784));
        assert_eq!(ret["days"], json!(1));
        assert_eq!(ret["time"], json!("2:3"));
        assert_eq!(ret["since_t"], json!(1_700_000_000 - 93784));
        assert_eq!(ret["since_iso"], json!("2023-11-13T20:10:16.250000"));
        assert!(uptime_from("garbage", 0.0).is_err());
    }

    #[test]
    fn meminfo_and_cpuinfo() {
        let mem = parse_meminfo("MemTotal:       16318556 kB\nHugePages_Total:       0\n");
        assert_eq!(mem["MemTotal"], json!({"value": "16318556", "unit": "kB"}));
        assert_eq!(mem["HugePages_Total"], json!({"value": "0"}));
        let cpu = parse_cpuinfo(
            "processor\t: 0\nflags\t\t: fpu vme\npower management:\n\nprocessor\t: 1\n",
        );
        assert_eq!(cpu["processor"], json!("1"));
        assert_eq!(cpu["flags"], json!(["fpu", "vme"]));
        assert_eq!(cpu["power management"], json!(""));
    }

    #[test]
    fn cpustats_and_vmstats() {
        let stats =
            parse_cpustats("cpu  10 2 3 4 5 6 7 8 0 0\nintr 100 1 2\nctxt 555\nbtime 1700000000\n");
        assert_eq!(stats["cpu"]["user"], json!(10));
        assert_eq!(stats["cpu"]["idle"], json!(4));
        assert_eq!(stats["intr"], json!({"total": 100, "irqs": [1, 2]}));
        assert_eq!(stats["ctxt"], json!(555));
        assert_eq!(
            parse_vmstats("nr_free_pages 123\n")["nr_free_pages"],
            json!(123)
        );
    }

    #[test]
    fn mount_types() {
        let mounts = "proc /proc proc rw 0 0\n/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /mnt/my\\040disk ext3 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\n";
        let ext = String::from("ext?");
        assert_eq!(mounts_of_types(mounts, &[&ext]), ["/", "/mnt/my disk"]);
        let all = String::from("*");
        assert_eq!(mounts_of_types(mounts, &[&all]).len(), 4);
    }

    #[test]
    fn proc_entries() {
        let status = "Name:\tsleep\nUmask:\t0022\nState:\tS (sleeping)\nPid:\t42\nPPid:\t1\nUid:\t1000\t1000\t1000\t1000\n";
        assert_eq!(parse_proc_status(status), Some(("sleep".into(), 1000, 1)));
        assert_eq!(command_line(b"sleep\x00300\x00", "sleep"), "sleep 300");
        assert_eq!(command_line(b"", "kthreadd"), "[kthreadd]");
    }

    #[test]
    fn finds_this_test_process_parent_but_not_itself() {
        let me = std::process::id();
        let pids = pids_matching(".").expect("regex");
        assert!(!pids.contains(&me));
        assert!(!pids.is_empty());
        assert!(pids_matching("(").is_err());
    }
}
