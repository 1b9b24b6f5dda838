//! Beacons: small monitors the minion runs on an interval, each turning
//! what it sees into events on the master's bus (Salt's `salt.beacons`).
//!
//! Configuration is Salt's `beacons:` map from the minion config (over the
//! same map under the pillar's `beacons` key: a beacon of the same name in
//! the minion config wins), in either
//! form Salt accepts: a list of one-key dicts (`- interval: 5`) or the old
//! plain dict. Keys every beacon understands: `interval` (seconds, default
//! 1), `enabled`, `disable_during_state_run`, `run_once` and
//! `beacon_module` (to run one module under several names). A top-level
//! `enabled: False` switches every beacon off.
//!
//! Each item a beacon returns becomes the event
//! `salt/beacon/<minion id>/<beacon>/<tag>` (the item's `tag` is popped and
//! appended, so an item without one ends in `/`) with the item as data and
//! `id` set to the minion id, exactly as Salt's `Beacon.process` builds it.
//!
//! The configuration can change at run time (`beacons.add`, `delete`,
//! `enable`, `disable`, `reset`): it lives in a [`BeaconStore`] shared by the
//! beacon task and the `beacons.*` functions.

pub mod inotify;
pub mod log;
pub mod system;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use brine_common::output::python::truthy;
use brine_common::wire::Request;
use serde_json::{Map, Value, json};

use crate::link::Link;
use crate::modules::MinionCtx;

/// How often the beacon loop wakes (Salt's `loop_interval`).
const LOOP_INTERVAL: Duration = Duration::from_secs(1);
/// How long to wait for the master to take one beacon event.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// The minion's beacon configuration, as `beacons.*` changes it at run time.
#[derive(Debug, Default)]
pub struct BeaconStore {
    config: Mutex<Map<String, Value>>,
    initial: Map<String, Value>,
}

impl BeaconStore {
    /// A store holding `config` (the `beacons:` value of the minion config).
    pub fn new(config: &Value) -> Self {
        let initial = config.as_object().cloned().unwrap_or_default();
        BeaconStore {
            config: Mutex::new(initial.clone()),
            initial,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Map<String, Value>> {
        self.config.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of the current configuration.
    pub fn snapshot(&self) -> Map<String, Value> {
        self.lock().clone()
    }

    /// Change the configuration under the lock; returns what `f` returns.
    pub fn update<T>(&self, f: impl FnOnce(&mut Map<String, Value>) -> T) -> T {
        f(&mut self.lock())
    }

    /// Back to the configuration the minion started with.
    pub fn reset(&self) {
        *self.lock() = self.initial.clone();
    }
}

/// One beacon's configuration merged into one map: the list-of-dicts form
/// becomes the dict Salt's `list(map(_config.update, config))` builds.
pub fn merge_config(raw: &Value) -> Map<String, Value> {
    match raw {
        Value::Array(items) => {
            let mut merged = Map::new();
            for item in items {
                if let Value::Object(map) = item {
                    merged.extend(map.clone());
                }
            }
            merged
        }
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    }
}

/// A beacon's `interval` in seconds (default 1, as Salt's loop interval).
pub fn interval_of(config: &Map<String, Value>) -> Duration {
    let secs = match config.get("interval") {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(1.0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(1.0),
        _ => 1.0,
    };
    Duration::from_secs_f64(if secs.is_finite() { secs.max(0.0) } else { 1.0 })
}

/// Set `enabled` in one beacon's configuration, in whichever form it has.
pub fn set_enabled(raw: &mut Value, enabled: bool) {
    match raw {
        Value::Object(map) => {
            map.insert("enabled".into(), json!(enabled));
        }
        Value::Array(items) => {
            let slot = items
                .iter_mut()
                .filter_map(Value::as_object_mut)
                .find(|m| m.contains_key("enabled"));
            match slot {
                Some(map) => {
                    map.insert("enabled".into(), json!(enabled));
                }
                None => items.push(json!({"enabled": enabled})),
            }
        }
        _ => {}
    }
}

/// The beacon modules there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Module {
    Inotify,
    Diskusage,
    Load,
    Memusage,
    Service,
    Ps,
    Log,
    Status,
    NetworkInfo,
    Pkg,
}

impl Module {
    pub fn from_name(name: &str) -> Option<Module> {
        Some(match name {
            "inotify" => Module::Inotify,
            "diskusage" => Module::Diskusage,
            "load" => Module::Load,
            "memusage" => Module::Memusage,
            "service" => Module::Service,
            "ps" => Module::Ps,
            "log" => Module::Log,
            "status" => Module::Status,
            "network_info" => Module::NetworkInfo,
            "pkg" => Module::Pkg,
            _ => return None,
        })
    }
}

/// What one beacon remembers between runs.
#[derive(Default)]
struct BeaconRuntime {
    last_run: Option<Instant>,
    /// The configuration the state below was built for.
    config: Map<String, Value>,
    inotify: Option<inotify::Watcher>,
    log: log::LogState,
    system: system::SystemState,
}

/// Run the minion's beacons until the process ends. Started only for a real
/// minion (`brine-minion`), never for the swarm's simulated ones.
pub async fn run(ctx: MinionCtx, link: Link) {
    let store = ctx.beacons.clone();
    let mut runtimes: HashMap<String, BeaconRuntime> = HashMap::new();
    let mut tick = tokio::time::interval(LOOP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let config = ctx.over_pillar("beacons", store.snapshot());
        runtimes.retain(|name, _| config.contains_key(name));
        if config.contains_key("enabled") && !config.get("enabled").is_some_and(truthy) {
            continue;
        }
        for (name, raw) in &config {
            if name == "enabled" {
                continue;
            }
            let runtime = runtimes.entry(name.clone()).or_default();
            let events = process_beacon(&ctx, name, raw, runtime).await;
            for (tag, data) in events {
                fire(&link, tag, data).await;
            }
            if merge_config(raw).get("run_once").is_some_and(truthy) {
                store.update(|c| c.get_mut(name).map(|raw| set_enabled(raw, false)));
            }
        }
    }
}

/// Run one beacon if it is enabled and due; its events as (tag, data).
async fn process_beacon(
    ctx: &MinionCtx,
    name: &str,
    raw: &Value,
    runtime: &mut BeaconRuntime,
) -> Vec<(String, Value)> {
    let config = merge_config(raw);
    if config.contains_key("enabled") && !config.get("enabled").is_some_and(truthy) {
        return Vec::new();
    }
    let now = Instant::now();
    if runtime
        .last_run
        .is_some_and(|last| now.duration_since(last) < interval_of(&config))
    {
        return Vec::new();
    }
    runtime.last_run = Some(now);
    if config.get("disable_during_state_run").is_some_and(truthy) && state_run_in_progress(ctx) {
        tracing::debug!("skipping beacon {name}: a state run is in progress");
        return Vec::new();
    }
    let module_name = config
        .get("beacon_module")
        .and_then(Value::as_str)
        .unwrap_or(name);
    let Some(module) = Module::from_name(module_name) else {
        tracing::warn!("Unable to process beacon {name}");
        return Vec::new();
    };
    if runtime.config != config {
        // New or changed configuration: start over (new watches, baselines).
        *runtime = BeaconRuntime {
            last_run: runtime.last_run,
            config: config.clone(),
            ..Default::default()
        };
    }
    let items = run_module(ctx, module, &config, runtime).await;
    items
        .into_iter()
        .map(|item| to_event(ctx.id.as_str(), module_name, item))
        .collect()
}

/// Whether a `state.*` job is running (Salt's `disable_during_state_run`).
fn state_run_in_progress(ctx: &MinionCtx) -> bool {
    ctx.running
        .list()
        .iter()
        .any(|job| job.publication.fun.starts_with("state"))
}

async fn run_module(
    ctx: &MinionCtx,
    module: Module,
    config: &Map<String, Value>,
    runtime: &mut BeaconRuntime,
) -> Vec<Map<String, Value>> {
    match module {
        Module::Inotify => {
            let watcher = runtime
                .inotify
                .get_or_insert_with(|| inotify::Watcher::new(config));
            watcher.poll()
        }
        Module::Log => runtime.log.poll(config),
        Module::Diskusage => system::diskusage(ctx, config).await,
        Module::Load => system::load(ctx, config, &mut runtime.system).await,
        Module::Memusage => system::memusage(ctx, config).await,
        Module::Service => system::service(ctx, config, &mut runtime.system).await,
        Module::Ps => system::ps(ctx, config).await,
        Module::Status => system::status(ctx, config).await,
        Module::NetworkInfo => system::network_info(config).await,
        Module::Pkg => system::pkg(ctx, config).await,
    }
}

/// Salt's event for one beacon item: the item's `tag` appended to
/// `salt/beacon/<id>/<module>/`, `id` added when missing.
pub fn to_event(id: &str, module: &str, mut item: Map<String, Value>) -> (String, Value) {
    let mut tag = format!("salt/beacon/{id}/{module}/");
    if let Some(sub) = item.remove("tag") {
        match sub {
            Value::String(s) => tag.push_str(&s),
            other => tag.push_str(&other.to_string()),
        }
    }
    item.entry("id").or_insert_with(|| json!(id));
    (tag, Value::Object(item))
}

async fn fire(link: &Link, tag: String, data: Value) {
    let request = Request::Event {
        tag: tag.clone(),
        data,
    };
    if let Err(e) = link.request(request, SEND_TIMEOUT).await {
        tracing::warn!("cannot fire beacon event {tag}: {e}");
    }
}

/// Call a function of the minion's registry (one implementation of each
/// host action: beacons read the host through `status.*`, `disk.*`,
/// `service.*`). `None` when it is missing or failed.
pub async fn call_function(ctx: &MinionCtx, fun: &str, args: Vec<Value>) -> Option<Value> {
    call_function_kw(ctx, fun, args, Map::new()).await
}

/// [`call_function`] with keyword arguments.
pub async fn call_function_kw(
    ctx: &MinionCtx,
    fun: &str,
    args: Vec<Value>,
    kwargs: Map<String, Value>,
) -> Option<Value> {
    let registry = ctx.registry()?;
    let call = brine_common::functions::Call {
        fun: fun.to_string(),
        args,
        kwargs,
    };
    let outcome = registry.call(ctx.clone(), call).await;
    if outcome.success {
        Some(outcome.ret)
    } else {
        tracing::debug!("beacon call {fun} failed: {}", outcome.ret);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_and_dict_forms_merge_alike() {
        let list = json!([{"interval": 5}, {"files": {"/tmp/x": {}}}]);
        let dict = json!({"interval": 5, "files": {"/tmp/x": {}}});
        assert_eq!(merge_config(&list), merge_config(&dict));
    }

    #[test]
    fn interval_defaults_to_one_second() {
        assert_eq!(interval_of(&Map::new()), Duration::from_secs(1));
        let c = merge_config(&json!([{"interval": 2.5}]));
        assert_eq!(interval_of(&c), Duration::from_millis(2500));
        let c = merge_config(&json!({"interval": "3"}));
        assert_eq!(interval_of(&c), Duration::from_secs(3));
    }

    #[test]
    fn item_tag_is_appended_and_id_added() {
        let item = json!({"tag": "/tmp/x", "path": "/tmp/x", "change": "IN_MODIFY"});
        let (tag, data) = to_event(
            "m1",
            "inotify",
            item.as_object().cloned().expect("test value"),
        );
        assert_eq!(tag, "salt/beacon/m1/inotify//tmp/x");
        assert_eq!(
            data,
            json!({"path": "/tmp/x", "change": "IN_MODIFY", "id": "m1"})
        );
        let (tag, _) = to_event("m1", "load", Map::new());
        assert_eq!(tag, "salt/beacon/m1/load/");
    }

    #[test]
    fn enabled_is_set_in_either_form() {
        let mut list = json!([{"interval": 5}]);
        set_enabled(&mut list, false);
        assert_eq!(list, json!([{"interval": 5}, {"enabled": false}]));
        set_enabled(&mut list, true);
        assert_eq!(list, json!([{"interval": 5}, {"enabled": true}]));
        let mut dict = json!({"interval": 5});
        set_enabled(&mut dict, false);
        assert_eq!(dict, json!({"interval": 5, "enabled": false}));
    }

    #[test]
    fn store_resets_to_the_initial_config() {
        let store = BeaconStore::new(&json!({"load": [{"interval": 5}]}));
        store.update(|c| c.remove("load"));
        assert!(store.snapshot().is_empty());
        store.reset();
        assert!(store.snapshot().contains_key("load"));
    }
}
