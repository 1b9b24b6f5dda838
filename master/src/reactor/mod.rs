//! The reactor: reactions to events on the master's bus, configured as in
//! Salt (`reactor:` in the master config; `salt/utils/reactor.py`).
//!
//! A dispatcher task reads every event from the bus and looks up the rules
//! whose tag glob matches ([`rules`]). A matching event is queued (at most
//! `reactor_worker_hwm` waiting; beyond that it is dropped with a log line)
//! for a pool of `reactor_worker_threads` workers. A worker renders each SLS
//! with `tag` and `data` ([`render`]), reads the reactions ([`actions`]),
//! orders them by `order:` (file order otherwise) and runs them one after
//! another ([`execute`]). A file that fails (render error, unknown action,
//! failed call) is logged with its name and line and announced on the bus
//! as [`ERROR_TAG`]; the reactor goes on with the next one.
//!
//! Events carrying `user: Reactor` in their data (the reactor's own jobs and
//! errors) are never reacted to, as in Salt, so a broad glob cannot loop.
//! [`presence`] fires Salt's `salt/presence/*` events when `presence_events`
//! is on.

pub mod actions;
pub mod execute;
pub mod presence;
pub mod render;
pub mod rules;

use std::sync::Arc;

use brine_common::event::Event;
use serde_json::{Map, Value, json};
use tokio::sync::{Mutex, broadcast, mpsc};

use crate::bus::BusEvent;
use crate::daemon::Master;
use render::{ReactorHost, SlsLocation};
use rules::RuleSet;

/// The user the reactor's jobs run as, and the marker of its own events.
pub const REACTOR_USER: &str = "Reactor";

/// Fired when a reactor SLS cannot be rendered or run. Salt only logs these;
/// the tag is Brine's own (minions may not fire `brine/` tags).
pub const ERROR_TAG: &str = "brine/reactor/error";

/// The reactor's run-time state: its rules (`reactor.add`/`reactor.delete`
/// change them until the master restarts).
pub struct Reactor {
    pub rules: RuleSet,
}

impl Reactor {
    pub fn from_config(config: &brine_common::config::MasterConfig) -> Self {
        Reactor {
            rules: RuleSet::new(rules::parse_rules(&config.reactor)),
        }
    }
}

/// One event to react to, with the SLS files that react to it.
struct Reaction {
    tag: String,
    data: Value,
    sls: Vec<String>,
}

/// Start the dispatcher and the worker pool, until the master stops.
pub fn start(master: Arc<Master>) {
    let threads = master.config.reactor_worker_threads.max(1);
    let hwm = master.config.reactor_worker_hwm.max(1);
    let (tx, rx) = mpsc::channel(hwm);
    let rx = Arc::new(Mutex::new(rx));
    for _ in 0..threads {
        master.stop.spawn(worker(master.clone(), rx.clone()));
    }
    let events = master.bus.subscribe();
    master.stop.spawn(dispatch(master.clone(), events, tx));
}

/// Read the bus and queue every event a rule matches.
async fn dispatch(
    master: Arc<Master>,
    mut events: broadcast::Receiver<Arc<BusEvent>>,
    queue: mpsc::Sender<Reaction>,
) {
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!("reactor: fell behind the event bus, {n} events not seen");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if event.relayed {
            continue;
        }
        let rules = &master.reactor.rules;
        if event.tag.contains(MANAGE_PREFIX)
            && let Some(reply) = manage(rules, &event.unpack())
        {
            master.bus.fire(reply);
        } else if let Some(reaction) = reaction_for(rules, &event) {
            enqueue(&queue, reaction);
        }
    }
}

const MANAGE_PREFIX: &str = "salt/reactors/manage/";

/// Salt's management events: `salt/reactors/manage/{add,delete,list}`
/// change or list the rules, answered with `add-complete`,
/// `delete-complete` and `list-results`. (Only the master may fire `salt/`
/// tags, so minions cannot change the rules.)
fn manage(rules: &RuleSet, event: &Event) -> Option<Event> {
    let (_, verb) = event.tag.rsplit_once(MANAGE_PREFIX)?;
    let glob = event.data.get("event").and_then(Value::as_str);
    let (tag, result) = match verb {
        "add" => {
            let sls = event.data.get("reactors").and_then(rules::sls_list);
            let result = match (glob, sls) {
                (Some(glob), Some(sls)) => rules.add(glob, sls),
                _ => json!({"status": false, "comment": "'event' and 'reactors' are required."}),
            };
            ("salt/reactors/manage/add-complete", Some(result))
        }
        "delete" => {
            let result = match glob {
                Some(glob) => rules.delete(glob),
                None => json!({"status": false, "comment": "'event' is required."}),
            };
            ("salt/reactors/manage/delete-complete", Some(result))
        }
        "list" => ("salt/reactors/manage/list-results", None),
        _ => return None,
    };
    let mut data = json!({"reactors": rules.list(), "user": REACTOR_USER});
    if let (Some(result), Some(map)) = (result, data.as_object_mut()) {
        map.insert("result".into(), result);
    }
    Some(Event::new(tag, data))
}

/// The reaction an event calls for, if any rule matches and it is not our
/// own. Most events match no rule: only those that do are unpacked.
fn reaction_for(rules: &RuleSet, event: &BusEvent) -> Option<Reaction> {
    let sls = rules.reactions_for(&event.tag);
    if sls.is_empty() {
        return None;
    }
    let data = event.data();
    let own = data.get("user").and_then(Value::as_str) == Some(REACTOR_USER);
    (!own).then(|| Reaction {
        tag: event.tag.clone(),
        data,
        sls,
    })
}

fn enqueue(queue: &mpsc::Sender<Reaction>, reaction: Reaction) {
    match queue.try_send(reaction) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(r)) => tracing::error!(
            "reactor: queue full (reactor_worker_hwm), reaction to {} dropped",
            r.tag
        ),
        Err(mpsc::error::TrySendError::Closed(_)) => {}
    }
}

async fn worker(master: Arc<Master>, queue: Arc<Mutex<mpsc::Receiver<Reaction>>>) {
    loop {
        let next = queue.lock().await.recv().await;
        let Some(reaction) = next else { return };
        react(&master, &reaction).await;
    }
}

/// Render every SLS for the event and run their reactions together, as
/// Salt compiles them: a later file's ID replaces an earlier one's, and the
/// whole is sorted by `order` ([`actions::sort_by_order`]), one after
/// another. A
/// file that fails to render or parse is reported and left out; a failed
/// reaction is reported and the next one runs.
async fn react(master: &Arc<Master>, reaction: &Reaction) {
    let mut planned: Vec<(String, actions::Action)> = Vec::new();
    for sls in &reaction.sls {
        let parsed = match render_off_thread(master, reaction, sls).await {
            Ok(high) => actions::parse_actions(&high).map_err(|e| format!("{sls}: {e}")),
            Err(e) => Err(e),
        };
        match parsed {
            Ok(found) => {
                planned.retain(|(_, earlier)| !found.iter().any(|a| a.id == earlier.id));
                planned.extend(found.into_iter().map(|a| (sls.clone(), a)));
            }
            Err(error) => report_error(master, reaction, sls, &error),
        }
    }
    actions::sort_by_order(&mut planned, |(_, action)| action);
    for (sls, action) in &planned {
        match execute::execute(master, action).await {
            Ok(done) => tracing::info!("reactor: {sls} ({}): {done}", reaction.tag),
            Err(e) => report_error(master, reaction, sls, &format!("{sls}: {e}")),
        }
    }
}

/// Jinja and YAML are CPU work: off the async threads.
async fn render_off_thread(
    master: &Arc<Master>,
    reaction: &Reaction,
    sls: &str,
) -> Result<Value, String> {
    let location = SlsLocation::parse(sls)?;
    let host = ReactorHost::new(
        master.fileserver.clone(),
        master.functions.clone(),
        master_opts(master),
    );
    let (tag, data) = (reaction.tag.clone(), reaction.data.clone());
    tokio::task::spawn_blocking(move || {
        let text = host.load(&location)?;
        host.render(&location, &text, &tag, &data)
    })
    .await
    .map_err(|e| format!("{sls}: render task failed: {e}"))?
}

/// The master's options, as `opts` in reactor templates.
fn master_opts(master: &Master) -> Map<String, Value> {
    match serde_json::to_value(&master.config) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

fn report_error(master: &Master, reaction: &Reaction, sls: &str, error: &str) {
    tracing::error!(
        "reactor: reacting to {} with {sls} failed: {error}",
        reaction.tag
    );
    master.bus.fire(Event::new(
        ERROR_TAG,
        json!({
            "tag": reaction.tag,
            "sls": sls,
            "error": error,
            "user": REACTOR_USER,
        }),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_events_and_unmatched_tags_are_ignored() {
        let rules = RuleSet::new(vec![rules::Rule::new("*", vec!["/r.sls".into()])]);
        let theirs = BusEvent::pack(Event::new("myapp/deploy", json!({"who": "m1"})));
        let reaction = reaction_for(&rules, &theirs).expect("reacts");
        assert_eq!(reaction.sls, vec!["/r.sls"]);
        assert_eq!(reaction.data["who"], json!("m1"));
        let ours = BusEvent::pack(Event::new("salt/job/1/new", json!({"user": "Reactor"})));
        assert!(reaction_for(&rules, &ours).is_none());
        let none = RuleSet::default();
        assert!(reaction_for(&none, &theirs).is_none());
    }

    #[test]
    fn management_events() {
        let rules = RuleSet::default();
        let add = Event::new(
            "salt/reactors/manage/add",
            json!({"event": "a/*", "reactors": "/a.sls"}),
        );
        let reply = manage(&rules, &add).expect("reply");
        assert_eq!(reply.tag, "salt/reactors/manage/add-complete");
        assert_eq!(reply.data["result"]["status"], json!(true));
        assert_eq!(reply.data["reactors"], json!([{"a/*": ["/a.sls"]}]));
        let list = Event::new("salt/reactors/manage/list", json!({}));
        assert_eq!(
            manage(&rules, &list).expect("reply").tag,
            "salt/reactors/manage/list-results"
        );
        let delete = Event::new("salt/reactors/manage/delete", json!({"event": "a/*"}));
        let reply = manage(&rules, &delete).expect("reply");
        assert_eq!(reply.data["result"]["status"], json!(true));
        assert_eq!(reply.data["reactors"], json!([]));
        assert!(
            manage(
                &rules,
                &Event::new("salt/reactors/manage/add-complete", json!({}))
            )
            .is_none()
        );
    }

    #[tokio::test]
    async fn a_full_queue_drops() {
        let (tx, mut rx) = mpsc::channel(1);
        let mk = |tag: &str| Reaction {
            tag: tag.into(),
            data: json!({}),
            sls: vec![],
        };
        enqueue(&tx, mk("a"));
        enqueue(&tx, mk("b"));
        assert_eq!(rx.recv().await.map(|r| r.tag), Some("a".into()));
        assert!(rx.try_recv().is_err(), "the second one was dropped");
    }
}
