//! `GET /events`: the master's bus as Server-Sent Events, in salt-api's
//! format (`tag: <tag>` then `data: {"tag": ..., "data": ...}`).
//!
//! A user sees the events of minions their permissions let them target
//! (`salt/job/<jid>/ret/<id>`, `salt/minion/<id>/...`): by id, or by a
//! grain, pillar or address entry (the minions the master's data cache
//! matches, looked up again at most every [`DATA_REFRESH`]); everything
//! else (keys, auth, hooks, runners, new jobs) only users allowed `@runner`
//! or `@wheel` see. The stream ends when the token expires.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use brine_client::{ClientReply, Connection};
use brine_common::event::Event;
use brine_common::target::TargetType;
use brine_common::typed_key::spell_keys;
use brine_common::wire::TargetSpec;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::app::{AppState, Shared};
use crate::error::ApiResult;
use crate::tokens::Session;

pub async fn stream(State(state): State<Shared>, session: Session) -> ApiResult<Response> {
    stream_for(state, session).await
}

/// The events `session` may see as a Server-Sent Events response (also the
/// web dashboard's live tail).
pub async fn stream_for(state: Shared, session: Session) -> ApiResult<Response> {
    let conn = state.master.subscribe().await?;
    let events = futures::stream::unfold((conn, state, session, DataView::default()), next_frame);
    let first = futures::stream::once(async { Ok::<_, Infallible>(Bytes::from("retry: 400\n\n")) });
    let body = Body::from_stream(first.chain(events));
    Ok((
        [
            (CONTENT_TYPE, "text/event-stream"),
            (CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response())
}

/// How long a quiet stream waits before sending a keepalive comment.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// How old the minions a data entry covers may get before a hidden
/// minion's event makes the stream ask the master again.
pub const DATA_REFRESH: Duration = Duration::from_secs(10);

/// The minions a session's grain/pillar/address entries cover.
#[derive(Default)]
pub struct DataView {
    ids: BTreeSet<String>,
    fetched: Option<Instant>,
}

type StreamState = (Connection, Arc<AppState>, Session, DataView);

/// The next event this session may see, as an SSE frame.
async fn next_frame(
    (mut conn, state, session, mut view): StreamState,
) -> Option<(Result<Bytes, Infallible>, StreamState)> {
    loop {
        if session.expire <= unix_now() {
            return None;
        }
        let Ok(reply) = tokio::time::timeout(KEEPALIVE, conn.next()).await else {
            // A comment keeps proxies from closing an idle stream, and
            // writing it tells us when the client has gone.
            return Some((
                Ok(Bytes::from(": keepalive\n\n")),
                (conn, state, session, view),
            ));
        };
        match reply {
            Ok(ClientReply::Event(ev))
                if visible(&state, &session, &ev.tag)
                    || visible_by_data(&state, &session, &mut view, &ev.tag).await =>
            {
                return Some((Ok(frame(&ev)), (conn, state, session, view)));
            }
            Ok(ClientReply::Lagged(n)) if n > 0 => {
                let note = Bytes::from(format!(": {n} events dropped (reader too slow)\n\n"));
                return Some((Ok(note), (conn, state, session, view)));
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!("event stream ended: {e}");
                return None;
            }
        }
    }
}

fn frame(ev: &Event) -> Bytes {
    // Marker keys (`None`, bools) as salt-api's `json.dumps` spells them.
    let data = json!({"tag": ev.tag, "data": spell_keys(&ev.data)});
    Bytes::from(format!("tag: {}\ndata: {data}\n\n", ev.tag))
}

pub fn visible(state: &AppState, session: &Session, tag: &str) -> bool {
    let perms = &session.perms;
    perms.is_master_level()
        || minion_of(tag).is_some_and(|id| perms.sees_minion(id, &state.nodegroups))
}

/// Whether a minion's event is visible through the session's grain,
/// pillar or address entries (the covered minions are fetched from the
/// master when older than [`DATA_REFRESH`]).
async fn visible_by_data(
    state: &AppState,
    session: &Session,
    view: &mut DataView,
    tag: &str,
) -> bool {
    let Some(id) = minion_of(tag) else {
        return false;
    };
    let fresh = view.fetched.is_some_and(|at| at.elapsed() < DATA_REFRESH);
    if !fresh {
        let mut ids = BTreeSet::new();
        for expr in session.perms.visibility_data_targets(&state.nodegroups) {
            let spec = TargetSpec {
                tgt: Value::String(expr),
                tgt_type: TargetType::Compound,
            };
            match state.master.matching_minions(&spec).await {
                Ok(found) => ids.extend(found),
                Err(e) => tracing::warn!("event visibility: cannot match {}: {e}", spec.tgt),
            }
        }
        *view = DataView {
            ids,
            fetched: Some(Instant::now()),
        };
    }
    view.ids.contains(id)
}

/// The minion an event is about, from its tag.
pub fn minion_of(tag: &str) -> Option<&str> {
    if let Some(rest) = tag
        .strip_prefix("salt/job/")
        .or_else(|| tag.strip_prefix("brine/job/"))
    {
        let mut parts = rest.splitn(3, '/');
        let (_jid, kind, id) = (parts.next()?, parts.next()?, parts.next()?);
        return matches!(kind, "ret" | "ack" | "beat" | "prog").then_some(id);
    }
    let rest = tag.strip_prefix("salt/minion/")?;
    rest.split('/').next().filter(|id| !id.is_empty())
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minion_from_tags() {
        assert_eq!(minion_of("salt/job/123/ret/web1"), Some("web1"));
        assert_eq!(minion_of("brine/job/123/beat/web1"), Some("web1"));
        assert_eq!(minion_of("salt/job/123/new"), None);
        assert_eq!(minion_of("salt/minion/db1/start"), Some("db1"));
        assert_eq!(minion_of("salt/key"), None);
    }

    #[test]
    fn frames_are_salt_api_shaped() {
        let ev = Event::new("a/b", json!({"x": 1}));
        let text = String::from_utf8(frame(&ev).to_vec()).expect("utf8");
        let (tag, data) = text.split_once('\n').expect("two lines");
        assert_eq!(tag, "tag: a/b");
        let data: serde_json::Value =
            serde_json::from_str(data.trim_start_matches("data: ").trim_end()).expect("json");
        assert_eq!(data["tag"], "a/b");
        assert_eq!(data["data"]["x"], 1);
        assert!(text.ends_with("\n\n"));
    }

    #[test]
    fn frames_spell_none_and_bool_keys_as_json_dumps_does() {
        let null = brine_common::typed_key::TypedKey::Null.marker();
        let ev = Event::new("a/b", json!({"ret": {(null): 1}}));
        let text = String::from_utf8(frame(&ev).to_vec()).expect("utf8");
        assert!(text.contains(r#""ret":{"null":1}"#), "{text}");
    }
}
