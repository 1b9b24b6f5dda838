//! Runners: functions that run on the master (`brine-run <fun>`), with Salt's
//! names and output shapes: `jobs.*` read the job cache, `manage.*` ask the
//! minions. (`state.event` streams from the CLI side, see `brine-run`.)

use brine_common::output::python::truthy;
use std::collections::BTreeMap;
use std::time::Duration;

use brine_client::JobRequest;
use brine_common::ids::Jid;
use brine_common::jid::jid_to_start_time;
use brine_common::target::TargetType;
use serde_json::{Map, Value, json};

use crate::daemon::{Master, id_list};
use crate::job_cache::JobRecord;
use crate::jobs;
use crate::keys::KeyState;

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("'{0}' is not available.")]
    Unknown(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Failed(String),
}

/// The runner functions, for `brine-run --help` and error messages.
pub const RUNNERS: &[(&str, &str)] = &[
    (
        "event.send",
        "Fire an event on the master bus: event.send <tag> [data]",
    ),
    (
        "fileserver.dir_list",
        "Directories of an environment: fileserver.dir_list saltenv=base",
    ),
    ("fileserver.envs", "The file server's environments"),
    (
        "fileserver.file_list",
        "Files of an environment: fileserver.file_list saltenv=base",
    ),
    (
        "fileserver.update",
        "Fetch every gitfs remote now (fires salt/fileserver/gitfs/update)",
    ),
    (
        "git_pillar.update",
        "Fetch the git ext_pillar remotes now; per remote, whether its tree changed",
    ),
    (
        "cache.grains",
        "Cached grains of the targeted minions: cache.grains [tgt] [tgt_type=glob]",
    ),
    (
        "cache.mine",
        "Mine data of the targeted minions: cache.mine [tgt] [tgt_type=glob]",
    ),
    (
        "cache.pillar",
        "Cached pillar of the targeted minions: cache.pillar [tgt] [tgt_type=glob]",
    ),
    ("jobs.active", "Jobs still running on any minion"),
    (
        "jobs.exit_success",
        "Whether each minion of a job returned a true value: jobs.exit_success <jid>",
    ),
    (
        "jobs.print_job",
        "One job with its returns, keyed by jid: jobs.print_job <jid>",
    ),
    (
        "jobs.list_job",
        "One job with its returns: jobs.list_job <jid>",
    ),
    ("jobs.list_jobs", "Every job in the job cache"),
    (
        "jobs.lookup_jid",
        "The returns of one job: jobs.lookup_jid <jid>",
    ),
    (
        "manage.down",
        "Accepted minions that do not answer test.ping",
    ),
    (
        "manage.status",
        "Minions that answer (up) and do not (down)",
    ),
    (
        "manage.not_present",
        "Accepted minions with no live connection",
    ),
    ("manage.present", "Minions connected right now"),
    ("manage.up", "Accepted minions that answer test.ping"),
    (
        "reactor.add",
        "Add a reactor until restart: reactor.add <tag-glob> reactors=<sls>",
    ),
    (
        "reactor.delete",
        "Delete a reactor until restart: reactor.delete <tag-glob>",
    ),
    ("reactor.list", "The reactor's tag globs and SLS files"),
    (
        "state.event",
        "Stream events from the bus: state.event [tag-glob] [pretty=True] [count=N]",
    ),
    (
        "state.orchestrate",
        "Run an orchestration SLS from the file server: state.orchestrate <sls> [saltenv=base] [test=True] [pillar={...}]",
    ),
    ("state.orch", "Alias of state.orchestrate"),
];

pub async fn run(
    master: &Master,
    fun: &str,
    args: Vec<Value>,
    kwargs: Map<String, Value>,
) -> Result<(Value, i32), RunnerError> {
    let ret = match fun {
        "fileserver.envs" => id_list(master.fileserver.environments()),
        "fileserver.file_list" => id_list(file_list(master, &saltenv_arg(&args, &kwargs)).await?),
        "fileserver.dir_list" => id_list(dir_list(
            file_list(master, &saltenv_arg(&args, &kwargs)).await?,
        )),
        "fileserver.update" => update(master).await?,
        "git_pillar.update" => git_pillar_update(master).await?,
        "jobs.list_jobs" => list_jobs(master).await?,
        "jobs.lookup_jid" => lookup_jid(master, &jid_arg(&args, &kwargs)?).await?,
        "jobs.list_job" => list_job(master, &jid_arg(&args, &kwargs)?).await?,
        "jobs.active" => active(master, timeout_arg(master, &kwargs)).await?,
        "jobs.print_job" => print_job(master, &jid_arg(&args, &kwargs)?).await?,
        "jobs.exit_success" => exit_success(list_job(master, &jid_arg(&args, &kwargs)?).await?),
        "cache.grains" | "cache.pillar" | "cache.mine" => cache_view(master, fun, &args, &kwargs)?,
        "state.orchestrate" | "state.orch" => {
            return crate::orchestrate::runner(master, args, kwargs)
                .await
                .map_err(RunnerError::Failed);
        }
        "manage.up" => id_list(manage(master, timeout_arg(master, &kwargs)).await?.0),
        "manage.down" => id_list(manage(master, timeout_arg(master, &kwargs)).await?.1),
        "manage.status" => {
            let (up, down) = manage(master, timeout_arg(master, &kwargs)).await?;
            json!({"up": up, "down": down})
        }
        "manage.present" => id_list(present(master)),
        "manage.not_present" => id_list(not_present(master)?),
        "event.send" => event_send(master, &args, &kwargs)?,
        "reactor.list" => master.reactor.rules.list(),
        "reactor.add" => reactor_add(master, &args, &kwargs)?,
        "reactor.delete" => master
            .reactor
            .rules
            .delete(&str_arg(&args, &kwargs, 0, "event")?),
        _ => return Err(RunnerError::Unknown(fun.to_string())),
    };
    Ok((ret, 0))
}

fn saltenv_arg(args: &[Value], kwargs: &Map<String, Value>) -> String {
    args.first()
        .or_else(|| kwargs.get("saltenv"))
        .and_then(Value::as_str)
        .unwrap_or("base")
        .to_string()
}

async fn file_list(master: &Master, saltenv: &str) -> Result<Vec<String>, RunnerError> {
    let (fs, env) = (master.fileserver.clone(), saltenv.to_string());
    let manifest =
        tokio::task::spawn_blocking(move || fs.manifest(&crate::fileserver::known_env(&env)?))
            .await
            .map_err(|e| RunnerError::Failed(e.to_string()))?
            .map_err(|e| RunnerError::Failed(e.to_string()))?;
    Ok(manifest.into_iter().map(|e| e.path.to_string()).collect())
}

/// Salt's `fileserver.update`: `True`, or the failures of the remotes that
/// could not be fetched.
async fn update(master: &Master) -> Result<Value, RunnerError> {
    let outcome = crate::fileserver::update(master).await;
    if outcome.errors.is_empty() {
        return Ok(Value::Bool(true));
    }
    let reasons: Vec<String> = outcome.errors.iter().map(ToString::to_string).collect();
    Err(RunnerError::Failed(reasons.join("\n")))
}

/// Salt's `git_pillar.update`: per remote (`<branch> <url>`), whether its
/// tree changed; the failures of the remotes that could not be fetched.
async fn git_pillar_update(master: &Master) -> Result<Value, RunnerError> {
    let (report, outcome) = crate::git_pillar::update_async(master).await;
    if outcome.errors.is_empty() {
        return Ok(Value::Object(report));
    }
    let reasons: Vec<String> = outcome.errors.iter().map(ToString::to_string).collect();
    Err(RunnerError::Failed(reasons.join("\n")))
}

/// Every directory that holds a file, as Salt's `dir_list` reports them.
fn dir_list(files: Vec<String>) -> Vec<String> {
    let mut dirs: Vec<String> = files
        .iter()
        .flat_map(|f| {
            let parts: Vec<&str> = f.split('/').collect();
            (1..parts.len()).map(move |n| parts[..n].join("/"))
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

fn jid_arg(args: &[Value], kwargs: &Map<String, Value>) -> Result<Jid, RunnerError> {
    let raw = args
        .first()
        .or_else(|| kwargs.get("jid"))
        .ok_or_else(|| RunnerError::Usage("missing argument: jid".into()))?;
    let text = match raw {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Jid::parse(&text).map_err(|e| RunnerError::Usage(e.to_string()))
}

fn timeout_arg(master: &Master, kwargs: &Map<String, Value>) -> Duration {
    let secs = kwargs
        .get("timeout")
        .and_then(Value::as_f64)
        .unwrap_or(master.config.timeout as f64);
    Duration::from_secs_f64(secs.max(0.0))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::job_cache::CacheError> + Send + 'static,
) -> Result<T, RunnerError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RunnerError::Failed(e.to_string()))?
        .map_err(|e| RunnerError::Failed(format!("job cache: {e}")))
}

/// Salt's job summary (`jobs.list_jobs` entries).
fn job_summary(job: &JobRecord) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("Function".into(), json!(job.fun));
    m.insert("Arguments".into(), json!(job.arg));
    m.insert("Target".into(), job.tgt.clone());
    m.insert("Target-type".into(), json!(job.tgt_type));
    m.insert("User".into(), json!(job.user));
    m.insert("StartTime".into(), json!(jid_to_start_time(&job.jid)));
    m
}

async fn list_jobs(master: &Master) -> Result<Value, RunnerError> {
    let cache = master.cache.clone();
    let jobs = blocking(move || cache.list_jobs()).await?;
    let mut out = Map::new();
    for job in jobs {
        out.insert(job.jid.to_string(), Value::Object(job_summary(&job)));
    }
    Ok(Value::Object(out))
}

async fn lookup_jid(master: &Master, jid: &Jid) -> Result<Value, RunnerError> {
    let (cache, jid) = (master.cache.clone(), jid.clone());
    let returns = blocking(move || cache.returns(&jid)).await?;
    Ok(Value::Object(
        returns.into_iter().map(|(m, r)| (m, r.ret)).collect(),
    ))
}

async fn list_job(master: &Master, jid: &Jid) -> Result<Value, RunnerError> {
    let (cache, j) = (master.cache.clone(), jid.clone());
    let Some(job) = blocking(move || cache.get_job(&j)).await? else {
        return Ok(
            json!({"Result": {}, "jid": jid, "Error": "Cannot contact returner or no job with this jid"}),
        );
    };
    let (cache, j) = (master.cache.clone(), jid.clone());
    let returns = blocking(move || cache.returns(&j)).await?;
    let mut out = Map::new();
    out.insert("jid".into(), json!(jid));
    out.extend(job_summary(&job));
    out.insert("Minions".into(), json!(job.minions));
    let result: Map<String, Value> = returns
        .into_iter()
        .map(|(m, r)| (m, json!({"return": r.ret})))
        .collect();
    out.insert("Result".into(), Value::Object(result));
    Ok(Value::Object(out))
}

/// Publish `fun` to every accepted minion and collect what comes back.
async fn ask_all(
    master: &Master,
    fun: &str,
    timeout: Duration,
) -> Result<BTreeMap<String, Value>, RunnerError> {
    let job = JobRequest {
        tgt: json!("*"),
        tgt_type: TargetType::Glob,
        fun: fun.into(),
        arg: vec![],
        kwarg: Map::new(),
        user: "root".into(),
    };
    let returns = jobs::publish_and_wait(master, job, timeout)
        .await
        .map_err(RunnerError::Failed)?;
    Ok(returns
        .map(|(got, _missing)| {
            got.into_iter()
                .map(|(minion, data)| (minion, data.get("return").cloned().unwrap_or(Value::Null)))
                .collect()
        })
        .unwrap_or_default())
}

/// (up, down) among accepted minions, by a live `test.ping`.
async fn manage(
    master: &Master,
    timeout: Duration,
) -> Result<(Vec<String>, Vec<String>), RunnerError> {
    let answered = ask_all(master, "test.ping", timeout).await?;
    let accepted = master
        .keys
        .list(KeyState::Accepted)
        .map_err(|e| RunnerError::Failed(e.to_string()))?;
    let (up, down) = accepted
        .into_iter()
        .map(|m| m.to_string())
        .partition(|m| answered.contains_key(m));
    Ok((up, down))
}

/// Salt's `jobs.active`: ask every minion for `saltutil.running` and group by jid.
async fn active(master: &Master, timeout: Duration) -> Result<Value, RunnerError> {
    let running = ask_all(master, "saltutil.running", timeout).await?;
    let mut out: Map<String, Value> = Map::new();
    for (minion, jobs) in running {
        for job in jobs.as_array().into_iter().flatten() {
            let Some(jid) = job.get("jid").and_then(Value::as_str) else {
                continue;
            };
            let entry = out.entry(jid.to_string()).or_insert_with(|| {
                json!({
                    "Function": job.get("fun").cloned().unwrap_or(Value::Null),
                    "Arguments": job.get("arg").cloned().unwrap_or(json!([])),
                    "Target": job.get("tgt").cloned().unwrap_or(Value::Null),
                    "Target-type": job.get("tgt_type").cloned().unwrap_or(Value::Null),
                    "User": job.get("user").cloned().unwrap_or(Value::Null),
                    "Running": [],
                })
            });
            if let Some(list) = entry.get_mut("Running").and_then(Value::as_array_mut) {
                list.push(
                    json!({ minion.clone(): job.get("pid").cloned().unwrap_or(Value::Null) }),
                );
            }
        }
    }
    Ok(Value::Object(out))
}

/// Salt's `jobs.print_job`: the job and its returns, keyed by jid.
async fn print_job(master: &Master, jid: &Jid) -> Result<Value, RunnerError> {
    let mut job = list_job(master, jid).await?;
    if let Some(fields) = job.as_object_mut() {
        fields.remove("jid");
    }
    Ok(json!({ jid.to_string(): job }))
}

/// Salt's `jobs.exit_success`: per minion of the job, whether its return is truthy.
fn exit_success(job: Value) -> Value {
    let result = job.get("Result").and_then(Value::as_object);
    let returned = |m: &str| {
        result
            .and_then(|r| r.get(m))
            .and_then(|r| r.get("return"))
            .is_some_and(truthy)
    };
    let mut out = Map::new();
    for minion in job
        .get("Minions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(m) = minion.as_str() {
            out.insert(m.to_string(), json!(returned(m)));
        }
    }
    for m in result.into_iter().flat_map(|r| r.keys()) {
        if returned(m) {
            out.insert(m.clone(), json!(true));
        }
    }
    Value::Object(out)
}

/// Salt's `cache.grains`, `cache.pillar` and `cache.mine`: `{minion: data}`
/// for the accepted minions `tgt` (default `*`) matches.
fn cache_view(
    master: &Master,
    fun: &str,
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> Result<Value, RunnerError> {
    let spec = brine_common::wire::TargetSpec {
        tgt: args
            .first()
            .or_else(|| kwargs.get("tgt"))
            .cloned()
            .unwrap_or(json!("*")),
        tgt_type: TargetType::parse(
            kwargs
                .get("tgt_type")
                .and_then(Value::as_str)
                .unwrap_or("glob"),
        )
        .map_err(|e| RunnerError::Usage(e.to_string()))?,
    };
    let target = brine_common::target::Target::compile(&spec)
        .map_err(|e| RunnerError::Usage(e.to_string()))?;
    let accepted = master
        .keys
        .list(KeyState::Accepted)
        .map_err(|e| RunnerError::Failed(e.to_string()))?;
    let everything = brine_common::target::DataNeeds {
        grains: None,
        pillar: None,
    };
    let mut out = Map::new();
    for id in accepted {
        let data = master.minion_data.facts(id.as_str(), &everything);
        let facts = brine_common::target::MinionFacts::from_cache(id.as_str(), data.as_ref());
        if !target.evaluate(&facts).unwrap_or(false) {
            continue;
        }
        let view = match fun {
            "cache.mine" => master.mine.of(id.as_str()).map(Value::Object),
            "cache.grains" => data.as_ref().and_then(|d| d.get("grains")).cloned(),
            _ => data.as_ref().and_then(|d| d.get("pillar")).cloned(),
        };
        if let Some(view) = view {
            out.insert(id.to_string(), view);
        }
    }
    Ok(Value::Object(out))
}

/// Argument `n` or keyword `name`, as a string.
fn str_arg(
    args: &[Value],
    kwargs: &Map<String, Value>,
    n: usize,
    name: &str,
) -> Result<String, RunnerError> {
    match args.get(n).or_else(|| kwargs.get(name)) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Ok(other.to_string()),
        None => Err(RunnerError::Usage(format!("missing argument: {name}"))),
    }
}

/// Minions with a live session, here or on another master of the cluster
/// store (Salt's `manage.present`), sorted.
fn present(master: &Master) -> Vec<String> {
    let mut ids: Vec<String> = master
        .connected_minions()
        .into_iter()
        .map(|m| m.to_string())
        .collect();
    ids.sort();
    ids
}

/// Accepted minions without a live session (Salt's `manage.not_present`).
fn not_present(master: &Master) -> Result<Vec<String>, RunnerError> {
    let connected = master.connected_minions();
    let accepted = master
        .keys
        .list(KeyState::Accepted)
        .map_err(|e| RunnerError::Failed(e.to_string()))?;
    Ok(accepted
        .into_iter()
        .filter(|m| !connected.contains(m))
        .map(|m| m.to_string())
        .collect())
}

/// Salt's `event.send <tag> [data]`: fire on the master bus. `data` is a map
/// (positional or `data=`); without it, the other keyword arguments are the data.
fn event_send(
    master: &Master,
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> Result<Value, RunnerError> {
    let tag = str_arg(args, kwargs, 0, "tag")?;
    if tag.is_empty() {
        return Err(RunnerError::Usage("event.send: the tag is empty".into()));
    }
    let data = match args.get(1).or_else(|| kwargs.get("data")) {
        Some(Value::Object(map)) => map.clone(),
        Some(Value::Null) | None => kwargs
            .iter()
            .filter(|(k, _)| k.as_str() != "tag" && !k.starts_with("__"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        Some(other) => {
            return Err(RunnerError::Usage(format!(
                "event.send: data must be a mapping, not {other}"
            )));
        }
    };
    master
        .bus
        .fire(brine_common::event::Event::new(tag, Value::Object(data)));
    Ok(Value::Bool(true))
}

/// Salt's `reactor.add <event> reactors=<sls or list>`.
fn reactor_add(
    master: &Master,
    args: &[Value],
    kwargs: &Map<String, Value>,
) -> Result<Value, RunnerError> {
    let glob = str_arg(args, kwargs, 0, "event")?;
    let reactors = args
        .get(1)
        .or_else(|| kwargs.get("reactors"))
        .and_then(crate::reactor::rules::sls_list)
        .ok_or_else(|| {
            RunnerError::Usage("reactor.add: reactors must be an SLS path or a list".into())
        })?;
    Ok(master.reactor.rules.add(&glob, reactors))
}
