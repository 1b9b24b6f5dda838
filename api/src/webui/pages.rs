//! The dashboard's pages: the overview, the minions table with its target
//! filter, and the keys with their confirmed actions.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use brine_client::KeyCommand;
use brine_common::perms::{CallArgs, Form as PermForm};
use brine_common::target::TargetType;
use brine_common::wire::TargetSpec;
use minijinja::value::Serde;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::session::see_other;
use super::{UiSession, error_page, render, signed_in};
use crate::app::{AppState, Shared};
use crate::error::ApiError;
use crate::master::string_list;

/// What a page shows when the master cannot answer.
pub(super) fn master_error(session: &UiSession, e: &ApiError) -> Response {
    error_page(
        StatusCode::BAD_GATEWAY,
        &format!("The master did not answer: {e}"),
        Some(session),
        "/ui",
    )
}

/// Whether the session's user may run wheel function `fun` with `args`.
fn allows_wheel(session: &UiSession, fun: &str, args: &[Value]) -> bool {
    let call = CallArgs {
        args,
        kwargs: &Map::new(),
    };
    session.0.perms.allows_master(PermForm::Wheel, fun, call)
}

pub(super) fn allows_runner(session: &UiSession, fun: &str) -> bool {
    session
        .0
        .perms
        .allows_master(PermForm::Runner, fun, CallArgs::none())
}

/// The accepted minions this user may see: all of them for `@wheel` or
/// `@runner` users, else those their permissions target by id, nodegroup
/// or (through the master's data cache) grain, pillar or address.
pub(super) async fn visible_minions(
    state: &AppState,
    session: &UiSession,
) -> Result<Vec<String>, ApiError> {
    let accepted = state.master.accepted_minions().await?;
    let perms = &session.0.perms;
    if perms.is_master_level() {
        return Ok(accepted);
    }
    let mut by_data = BTreeSet::new();
    for expr in perms.visibility_data_targets(&state.nodegroups) {
        let spec = TargetSpec {
            tgt: Value::String(expr),
            tgt_type: TargetType::Compound,
        };
        by_data.extend(state.master.matching_minions(&spec).await?);
    }
    Ok(accepted
        .into_iter()
        .filter(|id| by_data.contains(id) || perms.sees_minion(id, &state.nodegroups))
        .collect())
}

/// The minions with a live session on the master (`manage.present`).
pub(super) async fn present(state: &AppState) -> Result<BTreeSet<String>, ApiError> {
    let ids = state
        .master
        .runner("manage.present", Vec::new(), Map::new())
        .await?;
    Ok(string_list(&ids).into_iter().collect())
}

#[derive(Deserialize)]
pub struct Notice {
    notice: Option<String>,
}

pub async fn overview(
    State(state): State<Shared>,
    session: UiSession,
    Query(q): Query<Notice>,
) -> Response {
    match overview_figures(&state, &session).await {
        Ok(figures) => render(
            StatusCode::OK,
            "overview.html",
            minijinja::context! {
                notice => q.notice,
                up => figures.up,
                down => figures.down,
                pending => figures.pending,
                jobs_last_hour => figures.jobs_last_hour,
                returns_per_second => figures.returns_per_second,
                failed_states => figures.failed_states,
                counting_since => figures.counting_since,
                ..signed_in(&session, "overview"),
            },
        ),
        Err(e) => master_error(&session, &e),
    }
}

struct Figures {
    up: usize,
    down: usize,
    /// `None`: the user may not list keys.
    pending: Option<usize>,
    /// `None`: the user may not list jobs.
    jobs_last_hour: Option<usize>,
    /// Fleet-wide counts from the bus, for master-level users only
    /// (`None` for others): returns per second over the last 5 minutes,
    /// failed states in the last 24 hours, since when brine-api counts.
    returns_per_second: Option<String>,
    failed_states: Option<u64>,
    counting_since: Option<String>,
}

async fn overview_figures(state: &AppState, session: &UiSession) -> Result<Figures, ApiError> {
    let visible = visible_minions(state, session).await?;
    let present = present(state).await?;
    let up = visible.iter().filter(|id| present.contains(*id)).count();
    let pending = if allows_wheel(session, "key.list_all", &[]) {
        let listing = state.master.keys(KeyCommand::List).await?;
        Some(
            listing
                .get("minions_pre")
                .map_or(0, |ids| string_list(ids).len()),
        )
    } else {
        None
    };
    let jobs_last_hour = if allows_runner(session, "jobs.list_jobs") {
        let jobs = state
            .master
            .runner("jobs.list_jobs", Vec::new(), Map::new())
            .await?;
        Some(jobs_since(&jobs, 3_600))
    } else {
        None
    };
    let pulse = &state.ui.pulse;
    let fleet = session.0.perms.is_master_level();
    let now = (super::unix_micros() / 1_000_000) as u64;
    Ok(Figures {
        up,
        down: visible.len() - up,
        pending,
        jobs_last_hour,
        returns_per_second: fleet.then(|| format!("{:.2}", pulse.returns_per_second(5, now))),
        failed_states: fleet.then(|| pulse.failed_states_last_day()),
        counting_since: fleet
            .then(|| pulse.since())
            .flatten()
            .filter(|since| now.saturating_sub(*since) < 86_400)
            .map(|since| {
                let jid = brine_common::jid::jid_for_micros(since as i64 * 1_000_000);
                super::history::started(jid.as_str())
            }),
    })
}

/// How many jobs of a `jobs.list_jobs` listing started in the last `secs`
/// seconds (a jid is its start time in UTC).
fn jobs_since(jobs: &Value, secs: i64) -> usize {
    let since = super::unix_micros() - secs * 1_000_000;
    jobs.as_object().map_or(0, |jobs| {
        jobs.keys()
            .filter_map(|jid| super::history::micros_of(jid))
            .filter(|started| *started >= since)
            .count()
    })
}

#[derive(Deserialize)]
pub struct Filter {
    tgt: Option<String>,
    tgt_type: Option<String>,
    state: Option<String>,
}

/// One row of the minions table.
#[derive(Serialize)]
struct MinionRow {
    id: String,
    up: bool,
    key: &'static str,
    os: String,
    addresses: Vec<String>,
    /// The last job it returned while brine-api counted.
    last_job: Option<super::pulse::Returned>,
}

pub async fn minions(
    State(state): State<Shared>,
    session: UiSession,
    Query(filter): Query<Filter>,
) -> Response {
    let tgt = filter.tgt.clone().unwrap_or_default();
    let tgt_type = filter.tgt_type.clone().unwrap_or_else(|| "compound".into());
    let rows = match minion_rows(&state, &session).await {
        Ok(rows) => rows,
        Err(e) => return master_error(&session, &e),
    };
    let (rows, filter_error) = match matched(&state, &tgt, &tgt_type).await {
        Ok(Some(ids)) => (
            rows.into_iter().filter(|r| ids.contains(&r.id)).collect(),
            None,
        ),
        Ok(None) => (rows, None),
        Err(message) => (rows, Some(message)),
    };
    let rows: Vec<MinionRow> = match filter.state.as_deref() {
        Some("up") => rows.into_iter().filter(|r| r.up).collect(),
        Some("down") => rows.into_iter().filter(|r| !r.up).collect(),
        _ => rows,
    };
    render(
        StatusCode::OK,
        "minions.html",
        minijinja::context! {
            rows => Serde(rows), tgt, tgt_type, filter_error,
            ..signed_in(&session, "minions"),
        },
    )
}

async fn minion_rows(state: &AppState, session: &UiSession) -> Result<Vec<MinionRow>, ApiError> {
    let visible = visible_minions(state, session).await?;
    let present = present(state).await?;
    let grains = state
        .master
        .runner("cache.grains", vec![json!("*")], Map::new())
        .await?;
    Ok(visible
        .into_iter()
        .map(|id| {
            let g = grains.get(&id);
            let text = |key: &str| {
                g.and_then(|g| g.get(key))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let os = [text("osfinger"), text("os")]
                .into_iter()
                .find(|s| !s.is_empty())
                .unwrap_or_default();
            let addresses = g
                .and_then(|g| g.get("ipv4"))
                .map(string_list)
                .unwrap_or_default()
                .into_iter()
                .filter(|a| a != "127.0.0.1")
                .collect();
            MinionRow {
                last_job: state.ui.pulse.recent(&id).into_iter().next(),
                up: present.contains(&id),
                key: "accepted",
                os,
                addresses,
                id,
            }
        })
        .collect())
}

/// The ids a non-empty target matches (`None` for no target), or what is
/// wrong with it. Callers keep only the minions the user may see.
async fn matched(
    state: &AppState,
    tgt: &str,
    tgt_type: &str,
) -> Result<Option<BTreeSet<String>>, String> {
    if tgt.trim().is_empty() {
        return Ok(None);
    }
    let tgt_type = TargetType::parse(tgt_type).map_err(|e| e.to_string())?;
    let spec = TargetSpec {
        tgt: Value::String(tgt.to_string()),
        tgt_type,
    };
    let invalid = |e: brine_common::target::TargetError| format!("That target is not valid: {e}");
    brine_common::target::Target::compile_with_nodegroups(&spec, &state.nodegroups)
        .map_err(invalid)?;
    let spec =
        brine_common::target::expand_nodegroups(&spec, &state.nodegroups).map_err(invalid)?;
    let found = state
        .master
        .matching_minions(&spec)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some(found.into_iter().collect()))
}

/// `GET /ui/minions/match`: the ids a target matches, for the filter box.
pub async fn minions_match(
    State(state): State<Shared>,
    session: UiSession,
    Query(filter): Query<Filter>,
) -> Response {
    let tgt = filter.tgt.unwrap_or_default();
    let tgt_type = filter.tgt_type.unwrap_or_else(|| "compound".into());
    let visible = match visible_minions(&state, &session).await {
        Ok(visible) => visible,
        Err(e) => return Json(json!({"error": e.to_string()})).into_response(),
    };
    match matched(&state, &tgt, &tgt_type).await {
        Ok(Some(ids)) => {
            let ids: Vec<&String> = visible.iter().filter(|id| ids.contains(*id)).collect();
            Json(json!({"ids": ids})).into_response()
        }
        Ok(None) => Json(json!({"ids": visible})).into_response(),
        Err(message) => Json(json!({"error": message})).into_response(),
    }
}

/// The key states in the order the page shows them, with what each row
/// offers.
const KEY_GROUPS: [(&str, &str, &[&str]); 4] = [
    ("minions_pre", "Pending", &["accept", "reject", "delete"]),
    ("minions", "Accepted", &["reject", "delete"]),
    ("minions_rejected", "Rejected", &["accept", "delete"]),
    ("minions_denied", "Denied", &["delete"]),
];

fn state_title(state: &str) -> Option<&'static str> {
    KEY_GROUPS
        .iter()
        .find(|(name, _, _)| *name == state)
        .map(|(_, title, _)| *title)
}

/// Every key with its fingerprint: state -> id -> fingerprint.
async fn fingerprints(
    state: &AppState,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, ApiError> {
    let all = state
        .master
        .keys(KeyCommand::Fingerprints {
            pattern: "*".into(),
        })
        .await?;
    Ok(all
        .into_iter()
        .filter(|(state, _)| state != "local")
        .map(|(state, ids)| {
            let ids = ids
                .as_object()
                .map(|ids| {
                    ids.iter()
                        .map(|(id, f)| (id.clone(), f.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            (state, ids)
        })
        .collect())
}

pub async fn keys(
    State(state): State<Shared>,
    session: UiSession,
    Query(q): Query<Notice>,
) -> Response {
    if !allows_wheel(&session, "key.list_all", &[]) {
        return error_page(
            StatusCode::FORBIDDEN,
            &format!(
                "User {} may not list keys (wheel key.list_all).",
                session.0.user
            ),
            Some(&session),
            "/ui",
        );
    }
    let all = match fingerprints(&state).await {
        Ok(all) => all,
        Err(e) => return master_error(&session, &e),
    };
    let groups: Vec<Value> = KEY_GROUPS
        .iter()
        .map(|(name, title, acts)| {
            let keys: Vec<Value> = all
                .get(*name)
                .map(|ids| {
                    ids.iter()
                        .map(|(id, finger)| json!({"id": id, "finger": finger}))
                        .collect()
                })
                .unwrap_or_default();
            json!({"state": name, "title": title, "acts": acts, "keys": keys})
        })
        .collect();
    render(
        StatusCode::OK,
        "keys.html",
        minijinja::context! {
            notice => q.notice,
            groups => Serde(groups),
            ..signed_in(&session, "keys"),
        },
    )
}

#[derive(Deserialize)]
pub struct KeyForm {
    csrf: String,
    id: String,
    state: String,
    act: String,
    /// On the confirmed action: the fingerprint the user confirmed.
    finger: Option<String>,
}

/// The wheel function an action needs.
fn wheel_function(act: &str) -> Option<&'static str> {
    match act {
        "accept" => Some("key.accept"),
        "reject" => Some("key.reject"),
        "delete" => Some("key.delete"),
        _ => None,
    }
}

/// Checks a key form: its CSRF token, a known action the user may run on
/// this id, and a key that is where the page said (its fingerprint now).
async fn checked_key(
    state: &AppState,
    session: &UiSession,
    form: &KeyForm,
) -> Result<(&'static str, String), Response> {
    if let Some(refused) = session.csrf_refusal(&form.csrf) {
        return Err(refused);
    }
    let bad =
        |message: String| error_page(StatusCode::BAD_REQUEST, &message, Some(session), "/ui/keys");
    let Some(fun) = wheel_function(&form.act) else {
        return Err(bad(format!("{:?} is no key action", form.act)));
    };
    if state_title(&form.state).is_none() {
        return Err(bad(format!("{:?} is no key state", form.state)));
    }
    if !allows_wheel(session, fun, &[Value::String(form.id.clone())]) {
        return Err(error_page(
            StatusCode::FORBIDDEN,
            &format!(
                "User {} may not {} the key of {} (wheel {fun}).",
                session.0.user, form.act, form.id
            ),
            Some(session),
            "/ui/keys",
        ));
    }
    let all = fingerprints(state)
        .await
        .map_err(|e| master_error(session, &e))?;
    let finger = all
        .get(&form.state)
        .and_then(|ids| ids.get(&form.id))
        .cloned()
        .ok_or_else(|| {
            bad(format!(
                "{} has no {} key any more: reload the keys page",
                form.id,
                state_title(&form.state).unwrap_or_default().to_lowercase()
            ))
        })?;
    Ok((fun, finger))
}

/// `POST /ui/keys/confirm`: asks before a key action.
pub async fn key_confirm(
    State(state): State<Shared>,
    session: UiSession,
    Form(form): Form<KeyForm>,
) -> Response {
    let finger = match checked_key(&state, &session, &form).await {
        Ok((_, finger)) => finger,
        Err(refused) => return refused,
    };
    render(
        StatusCode::OK,
        "confirm.html",
        minijinja::context! {
            id => form.id,
            state => form.state.clone(),
            state_title => state_title(&form.state),
            act => form.act,
            finger,
            ..signed_in(&session, "keys"),
        },
    )
}

/// `POST /ui/keys/act`: the confirmed action, on the key the user saw.
pub async fn key_act(
    State(state): State<Shared>,
    session: UiSession,
    Form(form): Form<KeyForm>,
) -> Response {
    let (fun, finger) = match checked_key(&state, &session, &form).await {
        Ok(checked) => checked,
        Err(refused) => return refused,
    };
    if form.finger.as_deref() != Some(finger.as_str()) {
        return error_page(
            StatusCode::CONFLICT,
            &format!(
                "The key of {} changed since you confirmed it (now {finger}): nothing was done.",
                form.id
            ),
            Some(&session),
            "/ui/keys",
        );
    }
    let command = match fun {
        "key.accept" => KeyCommand::Accept {
            pattern: form.id.clone(),
            include_rejected: form.state == "minions_rejected",
            include_denied: false,
        },
        "key.reject" => KeyCommand::Reject {
            pattern: form.id.clone(),
            include_accepted: form.state == "minions",
            include_denied: false,
        },
        _ => KeyCommand::Delete {
            pattern: form.id.clone(),
        },
    };
    if let Err(e) = state.master.keys(command).await {
        return master_error(&session, &e);
    }
    tracing::info!(user = %session.0.user, id = %form.id, "web UI: {fun}");
    let done = match form.act.as_str() {
        "accept" => "accepted",
        "reject" => "rejected",
        _ => "deleted",
    };
    let notice = format!("The key of {} was {done}.", form.id);
    see_other(&format!(
        "/ui/keys?notice={}",
        super::session::urlencode(&notice)
    ))
}

/// `GET /ui/events`: the live tail (filled by the page's script).
pub async fn events(session: UiSession) -> Response {
    render(
        StatusCode::OK,
        "events.html",
        minijinja::context! { ..signed_in(&session, "events") },
    )
}

/// `GET /ui/events/stream`: the bus as `GET /events` streams it, within the
/// user's permissions.
pub async fn events_stream(State(state): State<Shared>, session: UiSession) -> Response {
    match crate::events::stream_for(state, session.0).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_of_the_last_hour_are_counted_by_their_jid() {
        let recent = brine_common::jid::JidGenerator::new().next().to_string();
        let jobs = json!({recent: {}, "20200101000000000000": {}, "not-a-jid": {}});
        assert_eq!(jobs_since(&jobs, 3_600), 1);
    }
}
