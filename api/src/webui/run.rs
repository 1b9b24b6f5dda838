//! Running a function from the dashboard and watching its returns arrive.
//!
//! `POST /ui/run` checks the call as `POST /` checks a `local_async` chunk
//! (the user's permissions on the minions the target matches), publishes it
//! watched, and keeps the publication; the job page's event stream
//! (`/ui/jobs/<jid>/stream`) then takes it and sends each return as it
//! arrives, rendered as the CLI prints it (the highstate outputter for
//! state runs, `nested` otherwise), and at the end the minions that did not
//! return with the CLI's reason. A job page opened later (or without
//! JavaScript) shows the returns the job cache holds.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use brine_client::Published;
use brine_common::config::MasterConfig;
use brine_common::output::{OutputFormat, OutputOptions, render_minion_with_retcode};
use brine_common::target::TargetType;
use brine_states::output::{HighstateOptions, RUN_FUNCTIONS, render_highstate};
use minijinja::value::Serde;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::session::see_other;
use super::{UiSession, ansi, error_page, render, signed_in};
use crate::app::{AppState, Shared};
use crate::calls::{self, Call};
use crate::lowstate::{Chunk, Client};

/// Jobs started here whose pages have not taken their returns yet; older
/// ones are dropped (their returns stay in the job cache).
const PENDING_FOR: Duration = Duration::from_secs(300);

/// Jobs remembered for their pages (who ran what on which minions).
const REMEMBERED: usize = 500;

/// The dashboard's own state.
pub struct UiState {
    runs: Mutex<Runs>,
    highstate: HighstateOptions,
    /// Counts from the bus (returns, failed states, each minion's jobs).
    pub pulse: super::pulse::Pulse,
}

#[derive(Default)]
struct Runs {
    /// Publications whose returns no page has streamed yet.
    pending: HashMap<String, (Published, Instant)>,
    /// What each job run here was, for its page.
    records: HashMap<String, Record>,
    order: Vec<String>,
}

/// A job run from the dashboard.
#[derive(Clone, serde::Serialize)]
pub(super) struct Record {
    pub(super) user: String,
    pub(super) fun: String,
    pub(super) tgt: String,
    minions: Vec<String>,
}

impl UiState {
    pub fn new(config: &MasterConfig) -> UiState {
        UiState {
            runs: Mutex::default(),
            highstate: HighstateOptions::new(true, &config.state_out, &Default::default()),
            pulse: Default::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Runs> {
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn remember(&self, jid: &str, record: Record, published: Published) {
        let mut runs = self.lock();
        runs.pending.retain(|_, (_, at)| at.elapsed() < PENDING_FOR);
        runs.pending
            .insert(jid.to_string(), (published, Instant::now()));
        runs.records.insert(jid.to_string(), record);
        runs.order.push(jid.to_string());
        if runs.order.len() > REMEMBERED {
            let old = runs.order.remove(0);
            runs.records.remove(&old);
        }
    }

    /// The jobs `user` ran here, with their jids.
    pub(super) fn records_of(&self, user: &str) -> Vec<(String, Record)> {
        self.lock()
            .records
            .iter()
            .filter(|(_, r)| r.user == user)
            .map(|(jid, r)| (jid.clone(), r.clone()))
            .collect()
    }

    fn record(&self, jid: &str) -> Option<Record> {
        self.lock().records.get(jid).cloned()
    }

    fn take_pending(&self, jid: &str) -> Option<Published> {
        self.lock().pending.remove(jid).map(|(p, _)| p)
    }
}

#[derive(Deserialize, Default)]
pub struct RunQuery {
    tgt: Option<String>,
    fun: Option<String>,
}

pub async fn run_form(session: UiSession, Query(q): Query<RunQuery>) -> Response {
    run_page(&session, StatusCode::OK, &RunForm::prefilled(q), None)
}

fn run_page(
    session: &UiSession,
    status: StatusCode,
    form: &RunForm,
    error: Option<&str>,
) -> Response {
    render(
        status,
        "run.html",
        minijinja::context! {
            form => Serde(form),
            error,
            types => ["glob", "compound", "pcre", "list", "grain", "grain_pcre", "pillar", "ipcidr", "nodegroup"],
            ..signed_in(session, "run"),
        },
    )
}

#[derive(Deserialize, serde::Serialize, Default)]
pub struct RunForm {
    #[serde(default)]
    csrf: String,
    tgt: String,
    #[serde(default)]
    tgt_type: String,
    fun: String,
    /// One argument per line; `key=value` lines are keyword arguments.
    #[serde(default)]
    args: String,
    /// The `test=True` switch.
    #[serde(default)]
    test: Option<String>,
}

impl RunForm {
    fn prefilled(q: RunQuery) -> RunForm {
        RunForm {
            tgt: q.tgt.unwrap_or_else(|| "*".into()),
            tgt_type: "glob".into(),
            fun: q.fun.unwrap_or_else(|| "test.ping".into()),
            ..RunForm::default()
        }
    }

    /// The lowstate chunk this form asks for.
    fn chunk(&self) -> Result<Chunk, String> {
        let tgt_type = if self.tgt_type.is_empty() {
            TargetType::Glob
        } else {
            TargetType::parse(&self.tgt_type).map_err(|e| e.to_string())?
        };
        if self.tgt.trim().is_empty() {
            return Err("Give a target.".into());
        }
        let fun = self.fun.trim();
        if fun.is_empty() || !fun.contains('.') {
            return Err("Give a function as module.function, e.g. test.ping.".into());
        }
        let words: Vec<String> = self
            .args
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        let (arg, mut kwarg) = brine_common::functions::parse_cli_args(&words);
        if self.test.is_some() {
            kwarg.insert("test".into(), Value::Bool(true));
        }
        Ok(Chunk {
            client: Client::LocalAsync,
            fun: fun.to_string(),
            tgt: Value::String(self.tgt.trim().to_string()),
            tgt_type,
            arg,
            kwarg,
            timeout: None,
        })
    }
}

/// `POST /ui/run`: check, publish watched, and go to the job's page.
pub async fn run(
    State(state): State<Shared>,
    session: UiSession,
    Form(form): Form<RunForm>,
) -> Response {
    if let Some(refused) = session.csrf_refusal(&form.csrf) {
        return refused;
    }
    let chunk = match form.chunk() {
        Ok(chunk) => chunk,
        Err(message) => return run_page(&session, StatusCode::BAD_REQUEST, &form, Some(&message)),
    };
    let job = match calls::authorize(&state, &session.0, chunk).await {
        Ok(Call::Local { job, .. }) => job,
        Ok(_) => {
            return run_page(
                &session,
                StatusCode::BAD_REQUEST,
                &form,
                Some("Not a minion job."),
            );
        }
        Err(e) => {
            let status = e.status();
            return run_page(&session, status, &form, Some(&e.to_string()));
        }
    };
    let fun = job.fun.clone();
    match state.master.client.publish(job, true).await {
        Ok(Some(published)) => {
            let jid = published.jid.to_string();
            tracing::info!(user = %session.0.user, %jid, %fun, "web UI run");
            let record = Record {
                user: session.0.user.clone(),
                fun,
                tgt: form.tgt.clone(),
                minions: published.minions.iter().map(|m| m.to_string()).collect(),
            };
            state.ui.remember(&jid, record, published);
            see_other(&format!("/ui/jobs/{jid}"))
        }
        Ok(None) => run_page(
            &session,
            StatusCode::OK,
            &form,
            Some("No minion matched the target."),
        ),
        Err(e) => run_page(
            &session,
            StatusCode::BAD_GATEWAY,
            &form,
            Some(&format!("The master did not answer: {e}")),
        ),
    }
}

/// What a job page shows of one minion.
#[derive(serde::Serialize)]
struct Shown {
    id: String,
    /// The return as the CLI prints it, as HTML; `None`: not yet.
    html: Option<String>,
    failures: Vec<String>,
    raw: String,
    failed: bool,
}

impl Shown {
    /// A minion whose return has not come (yet).
    fn waiting(id: &str) -> Shown {
        Shown {
            id: id.to_string(),
            html: None,
            failures: Vec::new(),
            raw: String::new(),
            failed: false,
        }
    }
}

/// One minion's return as the CLI prints it, in HTML, with the failed
/// states listed first for a state run.
fn shown(ui: &UiState, id: &str, fun: &str, ret: &Value, retcode: i64) -> Shown {
    let is_state_run = RUN_FUNCTIONS.contains(&fun) && ret.is_object();
    let text = if is_state_run {
        render_highstate(id, ret, &ui.highstate)
    } else {
        let opts = OutputOptions {
            color: true,
            static_: false,
            indent: None,
        };
        render_minion_with_retcode(OutputFormat::Nested, &opts, id, ret, retcode)
    };
    let failures: Vec<String> = if is_state_run {
        ret.as_object()
            .into_iter()
            .flatten()
            .filter(|(_, r)| r.get("result") == Some(&Value::Bool(false)))
            .map(|(key, r)| {
                let name = key.split("_|-").nth(1).unwrap_or(key);
                let comment = r.get("comment").and_then(Value::as_str).unwrap_or_default();
                format!("{name}: {comment}")
            })
            .collect()
    } else {
        Vec::new()
    };
    Shown {
        id: id.to_string(),
        failed: retcode != 0 || !failures.is_empty(),
        html: Some(ansi::to_html(&text)),
        raw: serde_json::to_string_pretty(ret).unwrap_or_default(),
        failures,
    }
}

/// `GET /ui/jobs/<jid>`: a job run here, or any job for users allowed the
/// jobs runners.
pub async fn job(
    State(state): State<Shared>,
    session: UiSession,
    Path(jid): Path<String>,
) -> Response {
    let record = state.ui.record(&jid);
    let own = record.as_ref().is_some_and(|r| r.user == session.0.user);
    let may_look_up = super::pages::allows_runner(&session, "jobs.lookup_jid");
    if !own && !may_look_up {
        return error_page(
            StatusCode::FORBIDDEN,
            &format!(
                "User {} may not see job {jid} (runner jobs.lookup_jid).",
                session.0.user
            ),
            Some(&session),
            "/ui/run",
        );
    }
    let record = match record {
        Some(record) => record,
        None => match job_record(&state, &jid).await {
            Ok(record) => record,
            Err(message) => {
                return error_page(StatusCode::NOT_FOUND, &message, Some(&session), "/ui/run");
            }
        },
    };
    let streaming = state.ui.lock().pending.contains_key(&jid);
    let mut rows: Vec<Shown> = Vec::new();
    if !streaming {
        let returns = state
            .master
            .runner("jobs.lookup_jid", vec![json!(jid)], Map::new())
            .await
            .unwrap_or(Value::Null);
        for id in &record.minions {
            rows.push(match returns.get(id) {
                Some(ret) => shown(&state.ui, id, &record.fun, ret, 0),
                None => Shown::waiting(id),
            });
        }
    } else {
        rows = record.minions.iter().map(|id| Shown::waiting(id)).collect();
    }
    render(
        StatusCode::OK,
        "job.html",
        minijinja::context! {
            jid, streaming,
            record => Serde(&record),
            rows => Serde(rows),
            ..signed_in(&session, "run"),
        },
    )
}

/// A job not run here, from the job cache (`jobs.list_job`).
async fn job_record(state: &AppState, jid: &str) -> Result<Record, String> {
    let info = state
        .master
        .runner("jobs.list_job", vec![json!(jid)], Map::new())
        .await
        .map_err(|e| e.to_string())?;
    if info.get("Error").is_some() {
        return Err(format!("No job {jid} in the job cache."));
    }
    let text = |key: &str| {
        info.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Ok(Record {
        user: text("User"),
        fun: text("Function"),
        tgt: match info.get("Target") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        },
        minions: info
            .get("Minions")
            .map(crate::master::string_list)
            .unwrap_or_default(),
    })
}

/// `GET /ui/jobs/<jid>/stream`: the returns of a job run here as they
/// arrive (`ret` events with the rendered return), then `done` with the
/// minions that did not return and why.
pub async fn job_stream(
    State(state): State<Shared>,
    session: UiSession,
    Path(jid): Path<String>,
) -> Response {
    let own = state
        .ui
        .record(&jid)
        .is_some_and(|r| r.user == session.0.user);
    let published = if own {
        state.ui.take_pending(&jid)
    } else {
        None
    };
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let fun = state.ui.record(&jid).map(|r| r.fun).unwrap_or_default();
    match published {
        None => {
            let _ = sender.send(sse("done", &json!({"missing": {}})));
        }
        Some(published) => {
            let timeout = state.master.timeout;
            tokio::spawn(async move {
                let stream = sender.clone();
                let missing = published
                    .wait(timeout, |arrived| {
                        let ret = arrived.data.get("return").cloned().unwrap_or(Value::Null);
                        let retcode = arrived
                            .data
                            .get("retcode")
                            .and_then(Value::as_i64)
                            .unwrap_or(0);
                        let shown = shown(&state.ui, &arrived.minion, &fun, &ret, retcode);
                        let _ = stream.send(sse("ret", &json!(shown)));
                    })
                    .await;
                let missing: Map<String, Value> = match missing {
                    Ok(missing) => missing
                        .into_iter()
                        .map(|(id, why)| (id, json!(why)))
                        .collect(),
                    Err(e) => {
                        tracing::warn!("web UI: waiting for job returns: {e}");
                        Map::new()
                    }
                };
                let _ = sender.send(sse("done", &json!({"missing": missing})));
            });
        }
    }
    let frames = futures::stream::unfold(receiver, |mut receiver| async move {
        let frame = receiver.recv().await?;
        Some((Ok::<_, Infallible>(frame), receiver))
    });
    (
        [
            (CONTENT_TYPE, "text/event-stream"),
            (CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(frames),
    )
        .into_response()
}

/// One Server-Sent Event.
fn sse(event: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

#[derive(Deserialize)]
pub struct Lookup {
    tgt: Option<String>,
    tgt_type: Option<String>,
    fun: Option<String>,
}

/// Runs `fun` on the target with the user's permissions and a short
/// timeout, for the run form's helpers; the returns by minion.
async fn ask_minions(
    state: &AppState,
    session: &UiSession,
    q: &Lookup,
    fun: &str,
    arg: Vec<Value>,
) -> Option<Map<String, Value>> {
    let tgt_type = TargetType::parse(q.tgt_type.as_deref().unwrap_or("glob")).ok()?;
    let chunk = Chunk {
        client: Client::Local,
        fun: fun.to_string(),
        tgt: Value::String(
            q.tgt
                .clone()
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| "*".into()),
        ),
        tgt_type,
        arg,
        kwarg: Map::new(),
        timeout: Some(5.0),
    };
    let call = calls::authorize(state, &session.0, chunk).await.ok()?;
    match calls::execute(state, call).await.ok()? {
        Value::Object(returns) => Some(returns),
        _ => None,
    }
}

/// `GET /ui/run/functions`: the function names the target's minions have
/// (`sys.list_functions`, when the user may run it there).
pub async fn functions(
    State(state): State<Shared>,
    session: UiSession,
    Query(q): Query<Lookup>,
) -> Response {
    let mut names = std::collections::BTreeSet::new();
    for ret in ask_minions(&state, &session, &q, "sys.list_functions", Vec::new())
        .await
        .unwrap_or_default()
        .values()
    {
        names.extend(
            ret.as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string),
        );
    }
    axum::Json(json!({"names": names})).into_response()
}

/// `GET /ui/run/argspec`: the chosen function's arguments as one line
/// (`sys.argspec` on the target, when the user may run it there).
pub async fn argspec(
    State(state): State<Shared>,
    session: UiSession,
    Query(q): Query<Lookup>,
) -> Response {
    let fun = q.fun.clone().unwrap_or_default();
    let returns = ask_minions(&state, &session, &q, "sys.argspec", vec![json!(fun)]).await;
    let spec = returns
        .as_ref()
        .and_then(|r| r.values().find_map(|ret| ret.get(&fun)).cloned());
    let hint = spec
        .map(|spec| argspec_line(&fun, &spec))
        .unwrap_or_default();
    axum::Json(json!({"hint": hint})).into_response()
}

/// `test.arg(*args, **kwargs)`-style text of a `sys.argspec` entry.
fn argspec_line(fun: &str, spec: &Value) -> String {
    let args: Vec<&str> = spec
        .get("args")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let defaults: Vec<&Value> = spec
        .get("defaults")
        .and_then(Value::as_array)
        .map(|d| d.iter().collect())
        .unwrap_or_default();
    let first_default = args.len().saturating_sub(defaults.len());
    let mut words: Vec<String> = args
        .iter()
        .enumerate()
        .map(
            |(i, name)| match i.checked_sub(first_default).and_then(|d| defaults.get(d)) {
                Some(default) => format!("{name}={default}"),
                None => (*name).to_string(),
            },
        )
        .collect();
    if let Some(varargs) = spec.get("varargs").and_then(Value::as_str) {
        words.push(format!("*{varargs}"));
    }
    if let Some(kwargs) = spec.get("kwargs").and_then(Value::as_str) {
        words.push(format!("**{kwargs}"));
    }
    format!("{fun}({})", words.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_argspec_reads_as_a_signature() {
        let spec = json!({"args": ["name", "value", "force"], "defaults": [null, false], "varargs": null, "kwargs": "kwargs"});
        assert_eq!(
            argspec_line("grains.setval", &spec),
            "grains.setval(name, value=null, force=false, **kwargs)"
        );
    }

    #[test]
    fn the_form_reads_one_argument_per_line() {
        let form = RunForm {
            tgt: "web*".into(),
            fun: "state.apply".into(),
            args: "webserver\n\npillar={\"a\": 1}\n".into(),
            test: Some("True".into()),
            ..RunForm::default()
        };
        let chunk = form.chunk().expect("chunk");
        assert_eq!(chunk.arg, vec![json!("webserver")]);
        assert_eq!(chunk.kwarg["pillar"], json!({"a": 1}));
        assert_eq!(chunk.kwarg["test"], json!(true));
        let bad = RunForm {
            fun: "ping".into(),
            tgt: "*".into(),
            ..RunForm::default()
        };
        assert!(bad.chunk().is_err());
    }
}
