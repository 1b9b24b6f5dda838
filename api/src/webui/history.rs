//! Looking back: the job history with its filters, and one minion's page
//! (its grains and pillar from the master's cache).

use std::collections::BTreeSet;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use brine_common::perms::{CallArgs, permitted_by_id};
use minijinja::value::Serde;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::pages::{allows_runner, master_error, present, visible_minions};
use super::{UiSession, error_page, render, signed_in};
use crate::app::Shared;

/// Jobs shown at most on one page.
const JOBS_SHOWN: usize = 200;

#[derive(Deserialize, Serialize, Default)]
pub struct JobFilter {
    #[serde(default)]
    fun: String,
    #[serde(default)]
    tgt: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    since: String,
}

/// One row of the jobs table.
#[derive(Serialize)]
struct JobRow {
    jid: String,
    started: String,
    fun: String,
    tgt: String,
    user: String,
}

impl JobFilter {
    /// Seconds back from now, `None` for any time (default: a day).
    fn window(&self) -> Option<i64> {
        match self.since.as_str() {
            "1h" => Some(3_600),
            "7d" => Some(7 * 86_400),
            "all" => None,
            _ => Some(86_400),
        }
    }

    /// Function: a glob (`state.*`) or a part of the name; target and user:
    /// a part of them. Empty matches everything.
    fn keeps(&self, row: &JobRow, started_micros: Option<i64>, since: Option<i64>) -> bool {
        let fun_ok = self.fun.is_empty()
            || if self.fun.contains(['*', '?', '[']) {
                globset::Glob::new(&self.fun)
                    .map(|g| g.compile_matcher().is_match(&row.fun))
                    .unwrap_or(false)
            } else {
                row.fun.contains(&self.fun)
            };
        fun_ok
            && (self.tgt.is_empty() || row.tgt.contains(&self.tgt))
            && (self.user.is_empty() || row.user.contains(&self.user))
            && since.is_none_or(|since| started_micros.is_some_and(|at| at >= since))
    }
}

/// `YYYY-MM-DD HH:MM:SS` of a jid (its start time in UTC).
pub(super) fn started(jid: &str) -> String {
    let d = jid.as_bytes();
    if d.len() < 14 || !d[..14].iter().all(u8::is_ascii_digit) {
        return String::new();
    }
    format!(
        "{}-{}-{} {}:{}:{}",
        &jid[0..4],
        &jid[4..6],
        &jid[6..8],
        &jid[8..10],
        &jid[10..12],
        &jid[12..14]
    )
}

pub(super) fn micros_of(jid: &str) -> Option<i64> {
    let jid = brine_common::ids::Jid::parse(jid).ok()?;
    brine_common::jid::jid_micros(&jid)
}

/// `GET /ui/jobs`: every job (users allowed `jobs.list_jobs`) or the
/// user's own runs from the dashboard, newest first, filtered.
pub async fn jobs(
    State(state): State<Shared>,
    session: UiSession,
    Query(mut filter): Query<JobFilter>,
) -> Response {
    if filter.since.is_empty() {
        filter.since = "24h".into();
    }
    let own_only = !allows_runner(&session, "jobs.list_jobs");
    let rows: Vec<JobRow> = if own_only {
        state
            .ui
            .records_of(&session.0.user)
            .into_iter()
            .map(|(jid, record)| JobRow {
                started: started(&jid),
                fun: record.fun,
                tgt: record.tgt,
                user: record.user,
                jid,
            })
            .collect()
    } else {
        let listing = match state
            .master
            .runner("jobs.list_jobs", Vec::new(), Map::new())
            .await
        {
            Ok(listing) => listing,
            Err(e) => return master_error(&session, &e),
        };
        let text = |job: &Value, key: &str| match job.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        listing
            .as_object()
            .into_iter()
            .flatten()
            .map(|(jid, job)| JobRow {
                jid: jid.clone(),
                started: started(jid),
                fun: text(job, "Function"),
                tgt: text(job, "Target"),
                user: text(job, "User"),
            })
            .collect()
    };
    let now = super::unix_micros();
    let since = filter.window().map(|secs| now - secs * 1_000_000);
    let mut rows: Vec<JobRow> = rows
        .into_iter()
        .filter(|row| filter.keeps(row, micros_of(&row.jid), since))
        .collect();
    rows.sort_by(|a, b| b.jid.cmp(&a.jid));
    let more = rows.len() > JOBS_SHOWN;
    rows.truncate(JOBS_SHOWN);
    render(
        StatusCode::OK,
        "jobs.html",
        minijinja::context! {
            jobs => Serde(rows),
            filter => Serde(&filter),
            own_only, more,
            ..signed_in(&session, "jobs"),
        },
    )
}

/// `GET /ui/minions/<id>`: a minion the user may see, its grains and its
/// pillar's keys (values for users allowed `pillar.items` on it).
pub async fn minion(
    State(state): State<Shared>,
    session: UiSession,
    Path(id): Path<String>,
) -> Response {
    let visible = match visible_minions(&state, &session).await {
        Ok(visible) => visible,
        Err(e) => return master_error(&session, &e),
    };
    if !visible.contains(&id) {
        return error_page(
            StatusCode::NOT_FOUND,
            &format!("No accepted minion {id} that you may see."),
            Some(&session),
            "/ui/minions",
        );
    }
    let cached = |fun: &'static str| {
        let state = state.clone();
        let id = id.clone();
        async move {
            state
                .master
                .runner(fun, vec![json!(id)], Map::new())
                .await
                .map(|all| all.get(&id).cloned().unwrap_or(Value::Null))
        }
    };
    let (grains, pillar, up) = match (
        cached("cache.grains").await,
        cached("cache.pillar").await,
        present(&state).await,
    ) {
        (Ok(grains), Ok(pillar), Ok(present)) => (grains, pillar, present.contains(&id)),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return master_error(&session, &e),
    };
    let targeted: BTreeSet<String> = [id.clone()].into();
    let permitted = |expr: &str| permitted_by_id(expr, &visible, &state.nodegroups);
    let pillar_values =
        session
            .0
            .perms
            .allows_local("pillar.items", CallArgs::none(), &targeted, &permitted);
    render(
        StatusCode::OK,
        "minion.html",
        minijinja::context! {
            up, pillar_values,
            grains => entries(&grains),
            pillar => entries(&pillar),
            recent => Serde(state.ui.pulse.recent(&id)),
            id,
            ..signed_in(&session, "minions"),
        },
    )
}

/// A mapping's keys in order, each with its value as one line of text.
fn entries(value: &Value) -> Vec<(String, String)> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, value)| {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (key.clone(), text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(fun: &str, tgt: &str, user: &str) -> JobRow {
        JobRow {
            jid: "20261208010203000000".into(),
            started: String::new(),
            fun: fun.into(),
            tgt: tgt.into(),
            user: user.into(),
        }
    }

    #[test]
    fn the_job_filter_takes_globs_parts_and_a_window() {
        let filter = |fun: &str, tgt: &str, user: &str| JobFilter {
            fun: fun.into(),
            tgt: tgt.into(),
            user: user.into(),
            since: "all".into(),
        };
        let job = row("state.apply", "web*", "alice");
        assert!(filter("state.*", "", "").keeps(&job, None, None));
        assert!(filter("apply", "web", "ali").keeps(&job, None, None));
        assert!(!filter("test.*", "", "").keeps(&job, None, None));
        assert!(!filter("", "db", "").keeps(&job, None, None));
        assert!(!filter("", "", "bob").keeps(&job, Some(5), Some(10)));
        assert!(
            !filter("", "", "").keeps(&job, Some(5), Some(10)),
            "too old"
        );
        assert!(filter("", "", "").keeps(&job, Some(15), Some(10)));
        assert_eq!(started("20261208010203000000"), "2026-12-08 01:02:03");
        assert_eq!(started("junk"), "");
    }
}
