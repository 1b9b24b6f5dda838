//! Beacons over the host's state: `diskusage`, `load`, `memusage`,
//! `service`, `ps`, `status`, `network_info` and `pkg`. They read the host
//! through the minion's own execution modules (`disk.usage`, `status.*`,
//! `service.status`, `pkg.latest_version`), so each host action has one
//! implementation.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use brine_common::output::python::truthy;

use super::{call_function, call_function_kw};
use crate::modules::MinionCtx;

/// Keys every beacon config may hold that are not the beacon's own.
const COMMON_KEYS: &[&str] = &[
    "interval",
    "enabled",
    "disable_during_state_run",
    "run_once",
    "beacon_module",
];

/// What the stateful beacons remember between runs.
#[derive(Debug, Default)]
pub struct SystemState {
    /// `load`: whether it has run once, and the averages it last reported.
    load_started: bool,
    load_last: Option<Value>,
    /// `service`: each service's last running state.
    services: HashMap<String, bool>,
}

/// A percentage from config (`63%`, `63`, 63.5).
pub fn percent(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().trim_end_matches('%').trim().parse().ok(),
        _ => None,
    }
}

/// `diskusage`: `{diskusage: <percent used>, mount: <mount>}` for each
/// mount point (the config keys are regular expressions, as in Salt) at or
/// over its threshold.
pub async fn diskusage(ctx: &MinionCtx, config: &Map<String, Value>) -> Vec<Map<String, Value>> {
    let Some(Value::Object(usage)) = call_function(ctx, "disk.usage", Vec::new()).await else {
        return Vec::new();
    };
    let mut ret = Vec::new();
    for (pattern, threshold) in config.iter().filter(|(k, _)| !is_common(k)) {
        let Some(threshold) = percent(threshold) else {
            continue;
        };
        let Ok(re) = regex::Regex::new(&format!("^(?:{pattern})$")) else {
            tracing::warn!("diskusage beacon: bad mount pattern {pattern:?}");
            continue;
        };
        for (mount, info) in usage.iter().filter(|(m, _)| re.is_match(m)) {
            let used = info.get("capacity").and_then(percent);
            if let Some(used) = used.filter(|u| *u >= threshold) {
                let mut item = Map::new();
                item.insert("diskusage".into(), json!(used));
                item.insert("mount".into(), json!(mount));
                ret.push(item);
            }
        }
    }
    ret
}

fn is_common(key: &str) -> bool {
    COMMON_KEYS.contains(&key)
}

/// `load`: `{1m, 5m, 15m}` when an average leaves its `[low, high]` range
/// (`averages:`), at start with `emitatstartup`, and with `onchangeonly`
/// only when the averages differ from the last ones reported.
pub async fn load(
    ctx: &MinionCtx,
    config: &Map<String, Value>,
    state: &mut SystemState,
) -> Vec<Map<String, Value>> {
    let Some(avg) = call_function(ctx, "status.loadavg", Vec::new()).await else {
        return Vec::new();
    };
    let current = json!({
        "1m": avg.get("1-min"),
        "5m": avg.get("5-min"),
        "15m": avg.get("15-min"),
    });
    let first = !state.load_started;
    state.load_started = true;
    let out_of_range = config
        .get("averages")
        .and_then(Value::as_object)
        .is_some_and(|averages| averages_out_of_range(averages, &current));
    let emit_at_start = first && config.get("emitatstartup").is_none_or(truthy);
    if !(out_of_range || emit_at_start) {
        return Vec::new();
    }
    if config.get("onchangeonly").is_some_and(truthy) && state.load_last.as_ref() == Some(&current)
    {
        return Vec::new();
    }
    state.load_last = Some(current.clone());
    current.as_object().cloned().into_iter().collect()
}

/// Whether any configured average is below its low or above its high mark.
pub fn averages_out_of_range(averages: &Map<String, Value>, current: &Value) -> bool {
    averages.iter().any(|(key, range)| {
        let bounds: Vec<f64> = range
            .as_array()
            .map(|r| r.iter().filter_map(percent).collect())
            .unwrap_or_default();
        let value = current.get(key).and_then(Value::as_f64);
        match (bounds.as_slice(), value) {
            ([low, high], Some(v)) => v < *low || v > *high,
            _ => false,
        }
    })
}

/// `memusage`: `{memusage: <percent used>}` at or over `percent`.
pub async fn memusage(ctx: &MinionCtx, config: &Map<String, Value>) -> Vec<Map<String, Value>> {
    let Some(threshold) = config.get("percent").and_then(percent) else {
        return Vec::new();
    };
    let Some(info) = call_function(ctx, "status.meminfo", Vec::new()).await else {
        return Vec::new();
    };
    let Some(used) = memory_used_percent(&info) else {
        return Vec::new();
    };
    if used < threshold {
        return Vec::new();
    }
    let mut item = Map::new();
    item.insert("memusage".into(), json!(used));
    vec![item]
}

/// psutil's `virtual_memory().percent`: (total - available) / total.
pub fn memory_used_percent(meminfo: &Value) -> Option<f64> {
    let field = |name: &str| -> Option<f64> {
        meminfo
            .get(name)?
            .get("value")?
            .as_str()?
            .parse::<f64>()
            .ok()
    };
    let total = field("MemTotal").filter(|t| *t > 0.0)?;
    let available = field("MemAvailable").or_else(|| field("MemFree"))?;
    Some(((total - available) / total * 1000.0).round() / 10.0)
}

/// `service`: `{service_name, tag: <name>, <name>: {running}}` per service;
/// with `onchangeonly` only when the running state changed (the first run
/// reports unless `emitatstartup: False`).
pub async fn service(
    ctx: &MinionCtx,
    config: &Map<String, Value>,
    state: &mut SystemState,
) -> Vec<Map<String, Value>> {
    let Some(services) = config.get("services").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut ret = Vec::new();
    for (name, opts) in services {
        let Some(running) = call_function(ctx, "service.status", vec![json!(name)])
            .await
            .and_then(|v| v.as_bool())
        else {
            continue;
        };
        let previous = state.services.insert(name.clone(), running);
        let onchangeonly = opts.get("onchangeonly").is_some_and(truthy);
        let emit_at_start = opts.get("emitatstartup").is_none_or(truthy);
        let report = match previous {
            None => !onchangeonly || emit_at_start,
            Some(before) => !onchangeonly || before != running,
        };
        if report {
            let mut item = Map::new();
            item.insert(name.clone(), json!({"running": running}));
            item.insert("service_name".into(), json!(name));
            item.insert("tag".into(), json!(name));
            ret.push(item);
        }
    }
    ret
}

/// `pkg`: `{pkg, version}` for each package of `pkgs` that is installed
/// and has a newer version available (`pkg.version`, then
/// `pkg.latest_version`, which refreshes the package database first when
/// `refresh: True`), as Salt's `pkg` beacon reports upgrades.
pub async fn pkg(ctx: &MinionCtx, config: &Map<String, Value>) -> Vec<Map<String, Value>> {
    let Some(pkgs) = config.get("pkgs").and_then(Value::as_array) else {
        tracing::warn!("Configuration for pkg beacon requires list of pkgs.");
        return Vec::new();
    };
    let mut kwargs = Map::new();
    kwargs.insert(
        "refresh".into(),
        json!(config.get("refresh").is_some_and(truthy)),
    );
    let mut ret = Vec::new();
    for name in pkgs.iter().filter_map(Value::as_str) {
        let installed = call_function(ctx, "pkg.version", vec![json!(name)]).await;
        if !installed.as_ref().is_some_and(is_nonempty_text) {
            continue;
        }
        let latest =
            call_function_kw(ctx, "pkg.latest_version", vec![json!(name)], kwargs.clone()).await;
        if let Some(version) = latest.filter(is_nonempty_text) {
            let mut item = Map::new();
            item.insert("pkg".into(), json!(name));
            item.insert("version".into(), version);
            ret.push(item);
        }
    }
    ret
}

fn is_nonempty_text(v: &Value) -> bool {
    v.as_str().is_some_and(|s| !s.is_empty())
}

/// `ps`: `{<name>: Running}` for each process configured `running` that
/// runs, `{<name>: Stopped}` for each configured `stopped` that does not.
pub async fn ps(_ctx: &MinionCtx, config: &Map<String, Value>) -> Vec<Map<String, Value>> {
    let Some(wanted) = config.get("processes").and_then(Value::as_object) else {
        return Vec::new();
    };
    let names: Vec<String> = tokio::task::spawn_blocking(process_names)
        .await
        .unwrap_or_default();
    ps_items(wanted, &names)
}

/// The names of the running processes (the command's base name, and the
/// kernel's 15-character `comm` form of it).
fn process_names() -> Vec<String> {
    crate::modules::status::processes()
        .into_iter()
        .filter_map(|p| {
            let first = p.cmd.split_whitespace().next()?.to_string();
            let base = first.trim_matches(['[', ']']);
            Some(base.rsplit('/').next().unwrap_or(base).to_string())
        })
        .collect()
}

/// The ps beacon's items for the process names found.
pub fn ps_items(wanted: &Map<String, Value>, names: &[String]) -> Vec<Map<String, Value>> {
    let runs = |process: &str| {
        names
            .iter()
            .any(|n| n == process || (process.len() > 15 && n.starts_with(&process[..15])))
    };
    let mut ret = Vec::new();
    for (process, want) in wanted {
        let value = match (want.as_str(), runs(process)) {
            (Some("running"), true) => json!("Running"),
            (Some("stopped"), false) => json!("Stopped"),
            (Some("running" | "stopped"), _) => continue,
            (_, false) => json!(false),
            (_, true) => continue,
        };
        let mut item = Map::new();
        item.insert(process.clone(), value);
        ret.push(item);
    }
    ret
}

/// The counters `network_info` compares, in psutil's names.
const NET_COUNTERS: [&str; 8] = [
    "bytes_sent",
    "bytes_recv",
    "packets_sent",
    "packets_recv",
    "errin",
    "errout",
    "dropin",
    "dropout",
];

/// `network_info`: for each configured interface, one item
/// `{interface, network_info: {<counter>: n}}` when any configured counter
/// equals its value (`type: equal`, the default) or exceeds it
/// (`type: greater`), as Salt's beacon compares psutil's counters.
pub async fn network_info(config: &Map<String, Value>) -> Vec<Map<String, Value>> {
    let Some(interfaces) = config.get("interfaces").and_then(Value::as_object) else {
        return Vec::new();
    };
    let text = tokio::fs::read_to_string("/proc/net/dev")
        .await
        .unwrap_or_default();
    network_info_items(interfaces, &net_io_counters(&text))
}

/// The network_info beacon's items for the counters read.
pub fn network_info_items(
    interfaces: &Map<String, Value>,
    counters: &Map<String, Value>,
) -> Vec<Map<String, Value>> {
    let mut ret = Vec::new();
    for (interface, wanted) in interfaces {
        let (Some(stats), Some(wanted)) = (counters.get(interface), wanted.as_object()) else {
            continue;
        };
        let greater = wanted.get("type").and_then(Value::as_str) == Some("greater");
        let crossed = NET_COUNTERS.iter().any(|attr| {
            let (Some(limit), Some(now)) = (
                wanted.get(*attr).and_then(as_count),
                stats.get(*attr).and_then(Value::as_u64),
            ) else {
                return false;
            };
            if greater { now > limit } else { now == limit }
        });
        if crossed {
            let mut item = Map::new();
            item.insert("interface".into(), json!(interface));
            item.insert("network_info".into(), stats.clone());
            ret.push(item);
        }
    }
    ret
}

/// A configured counter: a number or a numeric string (Salt calls `int()`).
fn as_count(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// psutil's `net_io_counters(pernic=True)` from `/proc/net/dev`.
pub fn net_io_counters(proc_net_dev: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for line in proc_net_dev.lines().skip(2) {
        let Some((name, fields)) = line.split_once(':') else {
            continue;
        };
        let n: Vec<u64> = fields
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        if n.len() < 12 {
            continue;
        }
        out.insert(
            name.trim().to_string(),
            json!({
                "bytes_sent": n[8], "bytes_recv": n[0],
                "packets_sent": n[9], "packets_recv": n[1],
                "errin": n[2], "errout": n[10],
                "dropin": n[3], "dropout": n[11],
            }),
        );
    }
    out
}

/// `status`: one item `{tag: <UTC time>, data: {<function>: <result>}}`
/// with `status.<function>` for each configured function (all of Salt's
/// defaults when none is), narrowed to the listed keys unless `all`.
pub async fn status(ctx: &MinionCtx, config: &Map<String, Value>) -> Vec<Map<String, Value>> {
    let mut selected: Vec<(String, Value)> = config
        .iter()
        .filter(|(k, _)| !is_common(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if selected.is_empty() {
        selected = ["loadavg", "cpustats", "meminfo", "vmstats"]
            .iter()
            .map(|f| (f.to_string(), json!(["all"])))
            .collect();
    }
    let mut data = Map::new();
    for (function, keys) in selected {
        let Some(result) = call_function(ctx, &format!("status.{function}"), Vec::new()).await
        else {
            continue;
        };
        data.insert(function, narrow(result, &keys));
    }
    let mut item = Map::new();
    let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S.%6f");
    item.insert("tag".into(), json!(now.to_string()));
    item.insert("data".into(), Value::Object(data));
    vec![item]
}

/// Keep only the listed keys of a result (everything for `all` or none).
fn narrow(result: Value, keys: &Value) -> Value {
    let keys: Vec<String> = match keys {
        Value::Array(items) => items
            .iter()
            .map(|k| k.as_str().map_or_else(|| k.to_string(), String::from))
            .collect(),
        _ => Vec::new(),
    };
    if keys.is_empty() || keys.iter().any(|k| k == "all") {
        return result;
    }
    match result {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(k, _)| keys.contains(k)).collect())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_parse_in_salt_forms() {
        assert_eq!(percent(&json!("63%")), Some(63.0));
        assert_eq!(percent(&json!(" 50 % ")), Some(50.0));
        assert_eq!(percent(&json!(12.5)), Some(12.5));
        assert_eq!(percent(&json!([])), None);
    }

    #[test]
    fn load_ranges() {
        let averages = json!({"1m": [0.0, 2.0], "5m": [0.0, 1.5]});
        let averages = averages.as_object().expect("test value");
        assert!(!averages_out_of_range(
            averages,
            &json!({"1m": 1.0, "5m": 1.0})
        ));
        assert!(averages_out_of_range(
            averages,
            &json!({"1m": 2.5, "5m": 1.0})
        ));
    }

    #[test]
    fn memory_percent_uses_available() {
        let info = json!({
            "MemTotal": {"value": "1000", "unit": "kB"},
            "MemAvailable": {"value": "250", "unit": "kB"},
        });
        assert_eq!(memory_used_percent(&info), Some(75.0));
    }

    #[test]
    fn network_info_reads_proc_net_dev_and_compares_like_salt() {
        let text = "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n    lo: 1000 10 0 2 0 0 0 0 2000 20 1 3 0 0 0 0\n  eth0: 5 1 0 0 0 0 0 0 6 1 0 0 0 0 0 0\n";
        let counters = net_io_counters(text);
        assert_eq!(
            counters["lo"],
            json!({"bytes_sent": 2000, "bytes_recv": 1000, "packets_sent": 20, "packets_recv": 10,
                   "errin": 0, "errout": 1, "dropin": 2, "dropout": 3})
        );
        let config = json!({
            "lo": {"type": "greater", "bytes_recv": 999},
            "eth0": {"bytes_sent": "6"},
            "missing": {"bytes_sent": 1},
        });
        let items = network_info_items(config.as_object().expect("map"), &counters);
        let names: Vec<&Value> = items.iter().map(|i| &i["interface"]).collect();
        assert_eq!(names, [&json!("lo"), &json!("eth0")]);
        let quiet = json!({"lo": {"type": "greater", "bytes_recv": 5000}});
        assert!(network_info_items(quiet.as_object().expect("map"), &counters).is_empty());
    }

    #[test]
    fn ps_reports_running_and_stopped() {
        let wanted = json!({"sshd": "running", "mysqld": "stopped", "cron": "running"});
        let items = ps_items(
            wanted.as_object().expect("test value"),
            &["sshd".to_string()],
        );
        assert!(
            items.contains(
                &json!({"sshd": "Running"})
                    .as_object()
                    .cloned()
                    .expect("test value")
            )
        );
        assert!(
            items.contains(
                &json!({"mysqld": "Stopped"})
                    .as_object()
                    .cloned()
                    .expect("test value")
            )
        );
        assert_eq!(items.len(), 2);
    }
}
