//! What the dashboard counts from the master's bus while brine-api runs:
//! returns per minute, failed states per minute (a day of each), and the
//! last jobs each minion returned, for the overview and the minion pages.
//! One subscription, fed by a task started with the API; it reconnects
//! when the master restarts.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use brine_client::ClientReply;
use brine_states::output::RUN_FUNCTIONS;
use serde_json::Value;

use crate::master::MasterLink;

/// Minutes of counts kept (a day).
const MINUTES: usize = 24 * 60;

/// Jobs remembered per minion.
const JOBS_PER_MINION: usize = 20;

/// Minions whose recent jobs are remembered (the oldest forgotten first).
const MINIONS_REMEMBERED: usize = 100_000;

/// One return a minion sent.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Returned {
    pub jid: String,
    pub fun: String,
    pub success: bool,
}

#[derive(Default)]
struct Counts {
    /// (minute since the epoch, returns, failed states), oldest first.
    minutes: VecDeque<(u64, u64, u64)>,
    recent: HashMap<String, VecDeque<Returned>>,
}

/// The counts, shared by the feeding task and the pages.
#[derive(Default)]
pub struct Pulse {
    counts: Mutex<Counts>,
    /// Unix seconds when counting started.
    since: Mutex<Option<u64>>,
}

fn now_secs() -> u64 {
    (super::unix_micros() / 1_000_000) as u64
}

impl Pulse {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one return event (`salt/job/<jid>/ret/<id>` data) at `secs`.
    pub fn returned(&self, minion: &str, data: &Value, secs: u64) {
        let fun = data.get("fun").and_then(Value::as_str).unwrap_or_default();
        let ret = data.get("return").unwrap_or(&Value::Null);
        let failed_states = if RUN_FUNCTIONS.contains(&fun) {
            ret.as_object().map_or(0, |states| {
                states
                    .values()
                    .filter(|s| s.get("result") == Some(&Value::Bool(false)))
                    .count() as u64
            })
        } else {
            0
        };
        let success = data.get("success").and_then(Value::as_bool).unwrap_or(true)
            && data.get("retcode").and_then(Value::as_i64).unwrap_or(0) == 0
            && failed_states == 0;
        let minute = secs / 60;
        let mut counts = self.lock();
        match counts.minutes.back_mut() {
            Some((m, returns, failed)) if *m == minute => {
                *returns += 1;
                *failed += failed_states;
            }
            _ => counts.minutes.push_back((minute, 1, failed_states)),
        }
        while counts
            .minutes
            .front()
            .is_some_and(|(m, _, _)| *m + MINUTES as u64 <= minute)
        {
            counts.minutes.pop_front();
        }
        if !counts.recent.contains_key(minion) && counts.recent.len() >= MINIONS_REMEMBERED {
            return;
        }
        let jobs = counts.recent.entry(minion.to_string()).or_default();
        jobs.push_front(Returned {
            jid: data
                .get("jid")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            fun: fun.to_string(),
            success,
        });
        jobs.truncate(JOBS_PER_MINION);
    }

    /// Returns per second over the last `minutes` whole minutes before
    /// `secs` (the current minute is still filling).
    pub fn returns_per_second(&self, minutes: u64, secs: u64) -> f64 {
        let now = secs / 60;
        let total: u64 = self
            .lock()
            .minutes
            .iter()
            .filter(|(m, _, _)| *m < now && *m + minutes >= now)
            .map(|(_, returns, _)| returns)
            .sum();
        total as f64 / (minutes * 60) as f64
    }

    /// Failed states returned in the last 24 hours.
    pub fn failed_states_last_day(&self) -> u64 {
        self.lock()
            .minutes
            .iter()
            .map(|(_, _, failed)| failed)
            .sum()
    }

    /// The last jobs `minion` returned, newest first.
    pub fn recent(&self, minion: &str) -> Vec<Returned> {
        self.lock()
            .recent
            .get(minion)
            .map(|jobs| jobs.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// When counting started (Unix seconds), if it has.
    pub fn since(&self) -> Option<u64> {
        *self.since.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Feeds the counts from the bus for as long as the API runs.
    pub async fn feed(&self, master: MasterLink) {
        *self.since.lock().unwrap_or_else(|p| p.into_inner()) = Some(now_secs());
        loop {
            match master.subscribe().await {
                Ok(mut conn) => loop {
                    match conn.next().await {
                        Ok(ClientReply::Event(ev)) => {
                            if let Some(minion) = return_of(&ev.tag) {
                                self.returned(minion, &ev.data, now_secs());
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::debug!("dashboard counts: the bus ended: {e}");
                            break;
                        }
                    }
                },
                Err(e) => tracing::debug!("dashboard counts: no bus yet: {e}"),
            }
            // The master restarts or is not up yet: ask again shortly.
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

/// The minion of a return event's tag (`salt/job/<jid>/ret/<id>`).
fn return_of(tag: &str) -> Option<&str> {
    let rest = tag.strip_prefix("salt/job/")?;
    let mut parts = rest.splitn(3, '/');
    let (_jid, kind, id) = (parts.next()?, parts.next()?, parts.next()?);
    (kind == "ret").then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn returns_and_failed_states_are_counted_by_minute() {
        let pulse = Pulse::default();
        let t = 1_000_000 * 60;
        let state_ret = json!({"jid": "1", "fun": "state.apply", "retcode": 2, "return": {
            "a": {"result": true}, "b": {"result": false}, "c": {"result": false}}});
        pulse.returned("m1", &state_ret, t);
        pulse.returned(
            "m2",
            &json!({"jid": "2", "fun": "test.ping", "return": true}),
            t + 30,
        );
        pulse.returned(
            "m1",
            &json!({"jid": "3", "fun": "test.ping", "return": true}),
            t + 61,
        );
        assert_eq!(pulse.failed_states_last_day(), 2);
        // Two returns in the minute before t+61's minute.
        assert!((pulse.returns_per_second(1, t + 61) - 2.0 / 60.0).abs() < 1e-9);
        let recent = pulse.recent("m1");
        assert_eq!(recent.len(), 2);
        assert_eq!((recent[0].jid.as_str(), recent[0].success), ("3", true));
        assert_eq!(
            (recent[1].fun.as_str(), recent[1].success),
            ("state.apply", false)
        );
        // A day later the old minutes are gone.
        pulse.returned(
            "m1",
            &json!({"jid": "4", "fun": "test.ping", "return": true}),
            t + 86_400,
        );
        assert_eq!(pulse.failed_states_last_day(), 0);
    }

    #[test]
    fn only_return_tags_are_returns() {
        assert_eq!(return_of("salt/job/123/ret/web1"), Some("web1"));
        assert_eq!(return_of("salt/job/123/new"), None);
        assert_eq!(return_of("salt/minion/web1/start"), None);
    }
}
