//! Schedule timing shared by the minion's scheduler and the master's (Salt's
//! `salt.utils.schedule` job options): parsing a job's `schedule:` entry and
//! deciding when it runs. Running a job is the caller's business.
//!
//! A job: `function`, `args`/`kwargs`, an interval (`seconds`, `minutes`,
//! `hours`, `days`, which add up), `once` (with `once_fmt`), `cron` (five
//! fields), `when` and `range` (see [`clock`]), `splay`, `maxrunning`,
//! `run_on_start`, `enabled`, `return_job`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{Map, Value};

use crate::output::python::truthy;

pub mod clock;

use clock::{TimeRange, WhenTime};

/// Salt's default `once_fmt`.
const ONCE_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// A random delay added to each run: `splay: N` or `{start, end}`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Splay {
    pub start: u64,
    pub end: u64,
}

/// One job of the schedule, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    pub function: String,
    pub args: Vec<Value>,
    pub kwargs: Map<String, Value>,
    /// `seconds + minutes + hours + days`, if any was given.
    pub interval: Option<Duration>,
    /// `once`: the one local time the job runs at.
    pub once: Option<jiff::Timestamp>,
    /// `cron`: a five-field cron expression in local time (checked).
    pub cron: Option<String>,
    /// `when`: the local times the job runs at.
    pub when: Vec<WhenTime>,
    /// `range`: the daily window runs are limited to.
    pub range: Option<TimeRange>,
    pub splay: Option<Splay>,
    pub maxrunning: usize,
    pub run_on_start: bool,
    pub enabled: bool,
    pub return_job: bool,
}

/// A number of seconds from a config value (int, float or numeric string).
fn seconds(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl JobSpec {
    /// Parse one job's config, or say why it cannot run.
    pub fn parse(item: &Value) -> Result<JobSpec, String> {
        let map = item.as_object().ok_or("a job must be a dictionary")?;
        let function = map
            .get("function")
            .and_then(Value::as_str)
            .ok_or("the job has no function")?
            .to_string();
        let args = match map.get("args").or_else(|| map.get("job_args")) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(other) => vec![other.clone()],
        };
        let kwargs = map
            .get("kwargs")
            .or_else(|| map.get("job_kwargs"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let once = match map.get("once") {
            Some(value) => Some(parse_once(value, map.get("once_fmt"))?),
            None => None,
        };
        let interval = parse_interval(map)?;
        let cron = match map.get("cron") {
            None => None,
            Some(Value::String(expr)) => {
                parse_cron(expr)?;
                Some(expr.clone())
            }
            Some(other) => return Err(format!("cron must be a string, got {other}")),
        };
        let when = match map.get("when") {
            None => Vec::new(),
            Some(Value::String(text)) => vec![clock::parse_when(text)?],
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .ok_or_else(|| format!("when: {item} is not a string"))
                        .and_then(clock::parse_when)
                })
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(format!("when must be a string or a list, got {other}")),
        };
        let range = map.get("range").map(TimeRange::parse).transpose()?;
        if interval.is_none() && once.is_none() && cron.is_none() && when.is_empty() {
            return Err("the job has no seconds, minutes, hours, days, once, cron or when".into());
        }
        Ok(JobSpec {
            function,
            args,
            kwargs,
            interval,
            once,
            cron,
            when,
            range,
            splay: parse_splay(map.get("splay")),
            maxrunning: seconds(map.get("maxrunning")).map_or(1, |n| n.max(0.0) as usize),
            run_on_start: map.get("run_on_start").is_some_and(truthy),
            enabled: map.get("enabled").is_none_or(truthy),
            return_job: map.get("return_job").is_none_or(truthy),
        })
    }

    /// Salt's `fun_args` of a run: the args, then the kwargs as one dict.
    pub fn fun_args(&self) -> Vec<Value> {
        let mut args = self.args.clone();
        if !self.kwargs.is_empty() {
            args.push(Value::Object(self.kwargs.clone()));
        }
        args
    }

    /// The delay before a run: the interval plus a random splay.
    fn delay(&self) -> Duration {
        self.interval.unwrap_or_default() + self.splay_delay()
    }

    fn splay_delay(&self) -> Duration {
        match self.splay {
            Some(Splay { start, end }) if end >= start => {
                Duration::from_secs(rand::rng().random_range(start..=end))
            }
            _ => Duration::ZERO,
        }
    }
}

fn parse_interval(map: &Map<String, Value>) -> Result<Option<Duration>, String> {
    let mut total = 0.0;
    let mut any = false;
    for (key, factor) in [
        ("seconds", 1.0),
        ("minutes", 60.0),
        ("hours", 3600.0),
        ("days", 86400.0),
    ] {
        if let Some(value) = map.get(key) {
            let n = seconds(Some(value)).ok_or(format!("{key} must be a number"))?;
            total += n * factor;
            any = true;
        }
    }
    if !any {
        return Ok(None);
    }
    if !total.is_finite() || total <= 0.0 {
        return Err("the interval must be positive".into());
    }
    Ok(Some(Duration::from_secs_f64(total)))
}

fn parse_splay(value: Option<&Value>) -> Option<Splay> {
    match value? {
        Value::Object(map) => Some(Splay {
            start: seconds(map.get("start")).unwrap_or(0.0).max(0.0) as u64,
            end: seconds(map.get("end")).unwrap_or(0.0).max(0.0) as u64,
        }),
        other => seconds(Some(other)).map(|end| Splay {
            start: 0,
            end: end.max(0.0) as u64,
        }),
    }
}

/// `once` in `once_fmt` (default `%Y-%m-%dT%H:%M:%S`), local time.
fn parse_once(value: &Value, format: Option<&Value>) -> Result<jiff::Timestamp, String> {
    let text = value.as_str().ok_or("once must be a date string")?;
    let format = format.and_then(Value::as_str).unwrap_or(ONCE_FORMAT);
    let civil = jiff::civil::DateTime::strptime(format, text)
        .map_err(|e| format!("Date string could not be parsed: {text}, {format}: {e}"))?;
    civil
        .to_zoned(crate::local_time::zone().clone())
        .map(|z| z.timestamp())
        .map_err(|e| format!("Date string could not be placed in local time: {e}"))
}

/// A cron expression as Salt's `croniter` reads it: minute, hour, day of
/// month, month, day of week. (croniter's optional sixth field, seconds, is
/// refused rather than misread: other tools put seconds first.)
fn parse_cron(expr: &str) -> Result<croner::Cron, String> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .build()
        .parse(expr)
        .map_err(|e| {
            format!(
                "invalid cron expression {expr:?} (five fields: minute hour day month weekday): {e}"
            )
        })
}

/// When a cron job next runs, after `now` (local time), plus its splay.
fn next_cron_fire(cron: &croner::Cron, spec: &JobSpec, now: Instant) -> Option<Instant> {
    let local = crate::local_time::now();
    let next = cron.find_next_occurrence(&local, false).ok()?;
    let wait = next.timestamp().duration_since(local.timestamp());
    Some(now + wait.unsigned_abs() + spec.splay_delay())
}

/// When a `when` job next runs: the nearest of its times after now, plus
/// its splay.
fn next_when_fire(spec: &JobSpec, now: Instant) -> Option<Instant> {
    let local = crate::local_time::now();
    let next = spec
        .when
        .iter()
        .filter_map(|w| w.next_after(&local))
        .min()?;
    let wait = next.duration_since(local.timestamp());
    Some(now + wait.unsigned_abs() + spec.splay_delay())
}

/// What the scheduler remembers of one job.
pub struct JobState {
    pub spec: JobSpec,
    /// The configuration the spec was parsed from: an unchanged entry is
    /// not parsed again on every tick.
    source: Option<Value>,
    cron: Option<croner::Cron>,
    next_fire: Option<Instant>,
    /// Runs of this job still going (for `maxrunning`).
    pub running: Arc<AtomicUsize>,
}

impl JobState {
    pub fn new(spec: JobSpec, now: Instant) -> JobState {
        let cron = spec.cron.as_deref().and_then(|expr| parse_cron(expr).ok());
        let next_fire = match &cron {
            Some(_) if spec.run_on_start => Some(now + spec.splay_delay()),
            Some(cron) => next_cron_fire(cron, &spec, now),
            None if !spec.when.is_empty() => next_when_fire(&spec, now),
            None => Self::first_fire(&spec, now),
        };
        JobState {
            spec,
            source: None,
            cron,
            next_fire,
            running: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The first run of an interval or `once` job.
    fn first_fire(spec: &JobSpec, now: Instant) -> Option<Instant> {
        match spec.once {
            Some(at) => {
                let wait = at.duration_since(jiff::Timestamp::now());
                // A `once` in the past never runs (Salt skips it too).
                (!wait.is_negative()).then(|| now + wait.unsigned_abs())
            }
            None if spec.run_on_start => Some(now + spec.splay_delay()),
            None => Some(now + spec.delay()),
        }
    }

    /// When the job runs next, after a run that started at `now`.
    fn following_fire(&self, now: Instant) -> Option<Instant> {
        match &self.cron {
            Some(cron) => next_cron_fire(cron, &self.spec, now),
            None if !self.spec.when.is_empty() => next_when_fire(&self.spec, now),
            None => self.spec.interval.map(|_| now + self.spec.delay()),
        }
    }
}

/// Bring the job states in line with the schedule: new or changed jobs
/// start over, removed ones are forgotten.
pub fn sync_jobs(jobs: &mut HashMap<String, JobState>, config: &Map<String, Value>, now: Instant) {
    jobs.retain(|name, _| config.contains_key(name));
    for (name, item) in config {
        if name == "enabled" {
            continue;
        }
        if jobs
            .get(name)
            .is_some_and(|j| j.source.as_ref() == Some(item))
        {
            continue;
        }
        let spec = match JobSpec::parse(item) {
            Ok(spec) => spec,
            Err(e) => {
                jobs.remove(name);
                tracing::debug!("schedule job {name} cannot run: {e}");
                continue;
            }
        };
        match jobs.get_mut(name) {
            // Same meaning, other spelling: keep the timing.
            Some(j) if j.spec == spec => j.source = Some(item.clone()),
            _ => {
                let mut state = JobState::new(spec, now);
                state.source = Some(item.clone());
                jobs.insert(name.clone(), state);
            }
        }
    }
}

/// The jobs to run now (due and enabled, or forced by `run_job`), with
/// their next fire times moved on.
pub fn due_jobs(
    jobs: &mut HashMap<String, JobState>,
    forced: &HashSet<String>,
    paused: bool,
    now: Instant,
) -> Vec<String> {
    let mut due = Vec::new();
    for (name, job) in jobs.iter_mut() {
        if forced.contains(name) {
            due.push(name.clone());
            continue;
        }
        let ready = job.next_fire.is_some_and(|at| at <= now);
        if paused || !job.spec.enabled || !ready {
            continue;
        }
        job.next_fire = job.following_fire(now);
        if job
            .spec
            .range
            .as_ref()
            .is_some_and(|r| !r.allows(&crate::local_time::now()))
        {
            tracing::debug!("schedule job {name}: outside its range, skipping this run");
            continue;
        }
        if job.running.load(Ordering::SeqCst) >= job.spec.maxrunning.max(1) {
            tracing::debug!("schedule job {name}: maxrunning reached, skipping this run");
            continue;
        }
        due.push(name.clone());
    }
    due.sort();
    due
}

/// Whether a top-level `enabled: False` pauses the whole schedule.
pub fn is_paused(config: &Map<String, Value>) -> bool {
    config.get("enabled").is_some_and(|v| !truthy(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sync_keeps_unchanged_jobs_and_restarts_changed_ones() {
        let config = |secs: u64| {
            json!({"job": {"function": "test.ping", "seconds": secs}})
                .as_object()
                .cloned()
                .unwrap_or_default()
        };
        let t0 = Instant::now();
        let mut jobs = HashMap::new();
        sync_jobs(&mut jobs, &config(10), t0);
        let first = jobs["job"].next_fire;
        sync_jobs(&mut jobs, &config(10), t0 + Duration::from_secs(5));
        assert_eq!(
            jobs["job"].next_fire, first,
            "an unchanged job keeps its timing"
        );
        sync_jobs(&mut jobs, &config(20), t0 + Duration::from_secs(5));
        assert_ne!(jobs["job"].next_fire, first, "a changed job starts over");
        sync_jobs(&mut jobs, &Map::new(), t0);
        assert!(jobs.is_empty());
    }

    #[test]
    fn intervals_add_up() {
        let spec = JobSpec::parse(&json!({"function": "test.ping", "seconds": 30, "minutes": 1}))
            .expect("test value");
        assert_eq!(spec.interval, Some(Duration::from_secs(90)));
        assert_eq!(spec.maxrunning, 1);
        assert!(spec.enabled && spec.return_job && !spec.run_on_start);
    }

    #[test]
    fn bad_jobs_say_why() {
        assert!(JobSpec::parse(&json!({"seconds": 5})).is_err());
        assert!(JobSpec::parse(&json!({"function": "test.ping"})).is_err());
        assert!(JobSpec::parse(&json!({"function": "test.ping", "seconds": 0})).is_err());
        let none = JobSpec::parse(&json!({"function": "test.ping"}));
        assert!(
            none.expect_err("should fail")
                .contains("once, cron or when")
        );
    }

    #[test]
    fn splay_forms() {
        assert_eq!(
            parse_splay(Some(&json!(5))),
            Some(Splay { start: 0, end: 5 })
        );
        assert_eq!(
            parse_splay(Some(&json!({"start": 2, "end": 10}))),
            Some(Splay { start: 2, end: 10 })
        );
    }

    #[test]
    fn once_parses_local_time() {
        let spec = JobSpec::parse(&json!({"function": "test.ping", "once": "2030-01-02T03:04:05"}))
            .expect("test value");
        assert!(spec.once.is_some() && spec.interval.is_none());
        let bad = JobSpec::parse(&json!({"function": "test.ping", "once": "tomorrow"}));
        assert!(bad.is_err());
    }

    #[test]
    fn jobs_fire_after_one_interval_or_at_start() {
        let now = Instant::now();
        let config = json!({
            "later": {"function": "test.ping", "seconds": 10},
            "now": {"function": "test.ping", "seconds": 10, "run_on_start": true},
            "off": {"function": "test.ping", "seconds": 1, "enabled": false, "run_on_start": true},
        });
        let mut jobs = HashMap::new();
        sync_jobs(&mut jobs, config.as_object().expect("test value"), now);
        assert_eq!(
            due_jobs(&mut jobs, &HashSet::new(), false, now),
            vec!["now"]
        );
        let later = now + Duration::from_secs(11);
        assert_eq!(
            due_jobs(&mut jobs, &HashSet::new(), false, later),
            vec!["later", "now"]
        );
        let forced: HashSet<String> = ["off".to_string()].into();
        assert_eq!(due_jobs(&mut jobs, &forced, true, later), vec!["off"]);
    }

    #[test]
    fn cron_jobs_parse_five_fields_and_fire_at_the_next_match() {
        let every_minute = json!({"function": "test.ping", "cron": "* * * * *"});
        let spec = JobSpec::parse(&every_minute).expect("parses");
        let now = Instant::now();
        let job = JobState::new(spec, now);
        let next = job.next_fire.expect("scheduled");
        assert!(
            next > now && next <= now + Duration::from_secs(60),
            "within the minute"
        );
        let later = job.following_fire(now).expect("again");
        assert!(later <= now + Duration::from_secs(60));

        let bad = JobSpec::parse(&json!({"function": "test.ping", "cron": "61 * * * *"}));
        assert!(bad.is_err_and(|e| e.contains("invalid cron expression")));
        let six = JobSpec::parse(&json!({"function": "test.ping", "cron": "0 0 * * * 5"}));
        assert!(
            six.is_err(),
            "a sixth (seconds) field is refused, not misread"
        );
        let typed = JobSpec::parse(&json!({"function": "test.ping", "cron": 5}));
        assert!(typed.is_err_and(|e| e.contains("cron must be a string")));
    }

    #[test]
    fn maxrunning_skips_a_run() {
        let now = Instant::now();
        let config = json!({"j": {"function": "test.ping", "seconds": 1, "run_on_start": true}});
        let mut jobs = HashMap::new();
        sync_jobs(&mut jobs, config.as_object().expect("test value"), now);
        jobs["j"].running.store(1, Ordering::SeqCst);
        assert!(due_jobs(&mut jobs, &HashSet::new(), false, now).is_empty());
    }
}
