//! The HTTP routes, in salt-api's (`rest_cherrypy`) shape: every answer is
//! JSON, most of them `{"return": [...]}`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use brine_client::KeyCommand;
use brine_common::target::TargetType;
use serde_json::{Map, Value, json};

use crate::auth::Auth;
use crate::calls;
use crate::error::{ApiError, ApiResult};
use crate::lowstate::{Chunk, Client, parse_chunks};
use crate::master::MasterLink;
use crate::settings::Settings;
use crate::tokens::{Session, TokenStore};
use crate::{body, events, hooks};

/// The header carrying a login token (Salt's).
pub const TOKEN_HEADER: &str = "x-auth-token";

pub struct AppState {
    pub settings: Settings,
    pub master: MasterLink,
    pub nodegroups: Map<String, Value>,
    pub auth: Auth,
    pub tokens: TokenStore,
    pub started: Instant,
    /// The web dashboard's jobs in flight.
    pub ui: crate::webui::UiState,
}

pub type Shared = Arc<AppState>;

pub fn router(state: Shared) -> Router {
    let hook_route = format!(
        "{}/{{*path}}",
        state.settings.webhook_url.trim_end_matches('/')
    );
    let dashboard = state.settings.webui;
    let api = Router::new()
        .route("/", get(index).post(lowstate))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/minions", get(minions_all).post(minions_async))
        .route("/minions/{mid}", get(minion_one))
        .route("/jobs", get(jobs_all))
        .route("/jobs/{jid}", get(job_one))
        .route("/keys", get(keys_all))
        .route("/keys/{mid}", get(key_one))
        .route("/events", get(events::stream))
        .route("/stats", get(stats))
        .route(&hook_route, post(hooks::hook));
    let api = if dashboard {
        api.merge(crate::webui::routes())
    } else {
        api
    };
    api.with_state(state)
}

impl FromRequestParts<Shared> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> ApiResult<Self> {
        let token = parts
            .headers
            .get(TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .or_else(|| event_stream_token(parts))
            .ok_or_else(|| {
                ApiError::Unauthorized("No X-Auth-Token header: please log in".into())
            })?;
        state
            .tokens
            .get(token)
            .ok_or_else(|| ApiError::Unauthorized("Invalid or expired token".into()))
    }
}

/// `GET /events?token=...`: browsers' EventSource cannot set headers, so
/// the event stream (only) also takes the token from the query, as salt-api
/// does.
fn event_stream_token(parts: &Parts) -> Option<&str> {
    if parts.uri.path() != "/events" {
        return None;
    }
    parts
        .uri
        .query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .filter(|t| !t.is_empty())
}

async fn index() -> Json<Value> {
    Json(json!({
        "return": "Welcome",
        "clients": ["local", "local_async", "runner", "wheel"],
    }))
}

async fn login(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let creds = body::value(&headers, body, state.settings.body_limit).await?;
    let field = |name: &str| -> ApiResult<String> {
        creds
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ApiError::field(name, "is required (a string)"))
    };
    let (user, password, eauth) = (field("username")?, field("password")?, field("eauth")?);
    let perms = state.auth.login(&eauth, &user, &password).await?;
    let session = state
        .tokens
        .issue(&user, &eauth, perms)
        .ok_or_else(|| ApiError::Master("no system randomness for a token".into()))?;
    tracing::info!(user = %session.user, "login");
    Ok(Json(json!({"return": [{
        "token": session.token,
        "start": session.start,
        "expire": session.expire,
        "user": session.user,
        "eauth": session.eauth,
        "perms": session.perms.raw,
    }]})))
}

async fn logout(State(state): State<Shared>, session: Session) -> Json<Value> {
    state.tokens.revoke(&session.token);
    Json(json!({"return": "Your token has been cleared"}))
}

async fn lowstate(
    State(state): State<Shared>,
    session: Session,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let chunks = parse_chunks(body::value(&headers, body, state.settings.body_limit).await?)?;
    let results = calls::run_all(&state, &session, chunks).await?;
    Ok(Json(json!({"return": results})))
}

fn local_chunk(client: Client, tgt: &str, fun: String, arg: Vec<Value>) -> Chunk {
    Chunk {
        client,
        fun,
        tgt: Value::String(tgt.to_string()),
        tgt_type: TargetType::Glob,
        arg,
        kwarg: Map::new(),
        timeout: None,
    }
}

async fn one_call(state: &AppState, session: &Session, chunk: Chunk) -> ApiResult<Value> {
    let mut results = calls::run_all(state, session, vec![chunk]).await?;
    Ok(results.pop().unwrap_or(Value::Null))
}

async fn minions_all(State(state): State<Shared>, session: Session) -> ApiResult<Json<Value>> {
    let chunk = local_chunk(Client::Local, "*", "grains.items".into(), Vec::new());
    Ok(Json(
        json!({"return": [one_call(&state, &session, chunk).await?]}),
    ))
}

async fn minion_one(
    State(state): State<Shared>,
    session: Session,
    Path(mid): Path<String>,
) -> ApiResult<Json<Value>> {
    let chunk = local_chunk(Client::Local, &mid, "grains.items".into(), Vec::new());
    Ok(Json(
        json!({"return": [one_call(&state, &session, chunk).await?]}),
    ))
}

/// `POST /minions`: lowstate run as `local_async`, with links to the jobs.
async fn minions_async(
    State(state): State<Shared>,
    session: Session,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let mut chunks = parse_chunks(body::value(&headers, body, state.settings.body_limit).await?)?;
    for chunk in &mut chunks {
        if chunk.client != Client::Local && chunk.client != Client::LocalAsync {
            return Err(ApiError::field(
                "client",
                "POST /minions runs local jobs only",
            ));
        }
        chunk.client = Client::LocalAsync;
    }
    let results = calls::run_all(&state, &session, chunks).await?;
    let links: Vec<Value> = results
        .iter()
        .filter_map(|r| r.get("jid").and_then(Value::as_str))
        .map(|jid| json!({"href": format!("/jobs/{jid}")}))
        .collect();
    Ok(Json(json!({"return": results, "_links": {"jobs": links}})))
}

fn runner_chunk(fun: &str, arg: Vec<Value>) -> Chunk {
    Chunk {
        client: Client::Runner,
        fun: fun.into(),
        tgt: Value::Null,
        tgt_type: TargetType::Glob,
        arg,
        kwarg: Map::new(),
        timeout: None,
    }
}

async fn jobs_all(State(state): State<Shared>, session: Session) -> ApiResult<Json<Value>> {
    let ret = one_call(&state, &session, runner_chunk("jobs.list_jobs", Vec::new())).await?;
    Ok(Json(json!({"return": [ret]})))
}

async fn job_one(
    State(state): State<Shared>,
    session: Session,
    Path(jid): Path<String>,
) -> ApiResult<Json<Value>> {
    let arg = vec![Value::String(jid)];
    let info = one_call(&state, &session, runner_chunk("jobs.list_job", arg.clone())).await?;
    let ret = one_call(&state, &session, runner_chunk("jobs.lookup_jid", arg)).await?;
    Ok(Json(json!({"info": [info], "return": [ret]})))
}

fn require_wheel(session: &Session, fun: &str, args: &[Value]) -> ApiResult<()> {
    let call = brine_common::perms::CallArgs {
        args,
        kwargs: &Map::new(),
    };
    if session
        .perms
        .allows_master(brine_common::perms::Form::Wheel, fun, call)
    {
        return Ok(());
    }
    Err(ApiError::Forbidden(format!(
        "user '{}' may not run wheel function '{fun}'",
        session.user
    )))
}

async fn keys_all(State(state): State<Shared>, session: Session) -> ApiResult<Json<Value>> {
    require_wheel(&session, "key.list_all", &[])?;
    let listing = state.master.keys(KeyCommand::List).await?;
    Ok(Json(json!({"return": listing})))
}

async fn key_one(
    State(state): State<Shared>,
    session: Session,
    Path(mid): Path<String>,
) -> ApiResult<Json<Value>> {
    require_wheel(&session, "key.finger", &[Value::String(mid.clone())])?;
    let fingers = state
        .master
        .keys(KeyCommand::Fingerprints {
            pattern: mid.clone(),
        })
        .await?;
    let found: Map<String, Value> = fingers
        .into_iter()
        .filter(|(state_name, ids)| state_name != "local" && ids.get(&mid).is_some())
        .collect();
    if found.is_empty() {
        return Err(ApiError::NotFound(format!("no key for minion '{mid}'")));
    }
    Ok(Json(json!({"return": found})))
}

async fn stats(State(state): State<Shared>, _session: Session) -> Json<Value> {
    Json(json!({"return": {
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": state.started.elapsed().as_secs(),
        "tokens_active": state.tokens.active(),
    }}))
}
