//! Knowing when to stop waiting for a job's returns (DESIGN.md, "Waiting for
//! returns").
//!
//! Each minion acknowledges a publication it matched as soon as it gets it and
//! heart-beats while the job runs, so per minion we know "never heard from",
//! "running" or "returned". A minion is given up on after `timeout` without a
//! word from it; everyone else is waited for exactly as long as they need.
//! This type is pure bookkeeping over events, so the CLI and the master's
//! runners share it and it is tested without a network.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::time::{Duration, Instant};

use brine_common::event::Event;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    Silent,
    Running,
    Returned,
}

/// Why a minion did not return, in the words the CLI prints.
pub fn missing_reason(not_connected: bool, acked: bool) -> &'static str {
    match (not_connected, acked) {
        (_, true) => "Minion did not return. [Job running, heartbeat lost]",
        (true, false) => "Minion did not return. [Not connected]",
        (false, false) => "Minion did not return. [No response]",
    }
}

/// Where a job stands, for the CLI's progress line: every minion owed a
/// return is in exactly one of the last four counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub total: usize,
    pub returned: usize,
    /// Acknowledged the job (or heart-beat) and has not returned.
    pub running: usize,
    /// Had no session with the master when the job was published, and has
    /// said nothing since.
    pub not_connected: usize,
    /// Connected, but has not acknowledged the job yet.
    pub silent: usize,
}

impl fmt::Display for Tally {
    /// `812/1000 returned, 150 running, 38 not connected`, and how many have
    /// not answered yet when any have not.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} returned, {} running, {} not connected",
            self.returned, self.total, self.running, self.not_connected
        )?;
        if self.silent > 0 {
            write!(f, ", {} no answer yet", self.silent)?;
        }
        Ok(())
    }
}

/// What [`JobWaiter::drive_observed`] reports while it waits.
pub enum WaitUpdate<'a> {
    /// A minion's return, once per minion.
    Returned(Arrived),
    /// The counts after an event, and on each tick while nothing happens.
    Progress(&'a Tally),
    /// Nothing more has arrived yet: the wait is about to block (a printer
    /// that buffers its output writes it now).
    Idle,
}

/// A return as it arrived: the minion and the event data (`return`, `retcode`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Arrived {
    pub minion: String,
    pub data: Value,
}

pub struct JobWaiter {
    jid: String,
    timeout: Duration,
    progress: HashMap<String, Progress>,
    /// When each minion still owed a return last spoke.
    last_heard: HashMap<String, Instant>,
    /// The same, ordered by time, so the latest deadline is found in O(log n)
    /// however many minions a job has.
    by_time: BTreeSet<(Instant, String)>,
    not_connected: BTreeSet<String>,
    /// The counts, kept as events arrive: a job of 10,000 minions sees
    /// 20,000 events, so recounting on each would be quadratic.
    tally: Tally,
}

impl JobWaiter {
    pub fn new(
        jid: &str,
        expected: &[String],
        not_connected: &[String],
        timeout: Duration,
        now: Instant,
    ) -> Self {
        JobWaiter {
            jid: jid.to_string(),
            timeout,
            progress: expected
                .iter()
                .map(|m| (m.clone(), Progress::Silent))
                .collect(),
            last_heard: expected.iter().map(|m| (m.clone(), now)).collect(),
            by_time: expected.iter().map(|m| (now, m.clone())).collect(),
            not_connected: not_connected.iter().cloned().collect(),
            tally: Tally::default(),
        }
        .counted()
    }

    /// With the counts of a new waiter (every minion silent or not connected).
    fn counted(mut self) -> Self {
        let not_connected = self
            .progress
            .keys()
            .filter(|m| self.not_connected.contains(*m))
            .count();
        self.tally = Tally {
            total: self.progress.len(),
            not_connected,
            silent: self.progress.len() - not_connected,
            ..Tally::default()
        };
        self
    }

    /// Move `minion`'s count from where `previous` had it (`None`: a minion
    /// not counted yet) to `next`. Call before `not_connected` forgets it.
    fn recount(&mut self, minion: &str, previous: Option<Progress>, next: Progress) {
        let t = &mut self.tally;
        match previous {
            None => t.total += 1,
            Some(Progress::Returned) => t.returned -= 1,
            Some(Progress::Running) => t.running -= 1,
            Some(Progress::Silent) if self.not_connected.contains(minion) => t.not_connected -= 1,
            Some(Progress::Silent) => t.silent -= 1,
        }
        match next {
            Progress::Returned => t.returned += 1,
            Progress::Running => t.running += 1,
            Progress::Silent => t.silent += 1,
        }
    }

    /// Take one event; returns the return it carried, if it was one for this job.
    pub fn on_event(&mut self, event: Event, now: Instant) -> Option<Arrived> {
        let (kind, minion) = parse_job_tag(&event.tag, &self.jid)?;
        match kind {
            "ret" => {
                // Returns from minions we did not expect are shown too, as Salt does.
                let previous = self.progress.insert(minion.to_string(), Progress::Returned);
                let first = previous != Some(Progress::Returned);
                if first {
                    self.recount(minion, previous, Progress::Returned);
                }
                if let Some(t) = self.last_heard.remove(minion) {
                    self.by_time.remove(&(t, minion.to_string()));
                }
                first.then(|| Arrived {
                    minion: minion.to_string(),
                    data: event.data,
                })
            }
            "ack" | "beat" => {
                // A minion the master did not expect (its cached grains were
                // stale) that says it runs the job is waited for too.
                let previous = self.progress.get(minion).copied();
                if previous != Some(Progress::Returned) {
                    if previous != Some(Progress::Running) {
                        self.recount(minion, previous, Progress::Running);
                    }
                    self.progress.insert(minion.to_string(), Progress::Running);
                    if let Some(old) = self.last_heard.insert(minion.to_string(), now) {
                        self.by_time.remove(&(old, minion.to_string()));
                    }
                    self.by_time.insert((now, minion.to_string()));
                    self.not_connected.remove(minion);
                }
                None
            }
            _ => None,
        }
    }

    /// Every expected minion has returned or been given up on: nobody still
    /// owed a return has spoken within `timeout`.
    pub fn done(&self, now: Instant) -> bool {
        self.next_deadline().is_none_or(|deadline| deadline <= now)
    }

    /// When the last minion still owed a return will be given up on.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.by_time.last().map(|(t, _)| *t + self.timeout)
    }

    /// How many minions returned, run, are not connected or silent.
    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// The minions that did not return, with the reason to print, by id.
    pub fn missing(&self) -> Vec<(String, &'static str)> {
        let mut missing: Vec<(String, &'static str)> = self
            .progress
            .iter()
            .filter(|(_, p)| **p != Progress::Returned)
            .map(|(m, p)| {
                (
                    m.clone(),
                    missing_reason(self.not_connected.contains(m), *p == Progress::Running),
                )
            })
            .collect();
        missing.sort();
        missing
    }
}

/// What an event source yields to [`JobWaiter::drive`].
pub enum Next {
    Event(Event),
    /// Something that is not an event (e.g. a lag notice): keep waiting.
    Nothing,
    /// The source ended, with the reason if it failed.
    Closed(Option<String>),
}

/// Where a waiter's events come from: the bus inside the master, the local
/// socket in the CLI.
pub trait EventSource {
    fn next_event(&mut self) -> impl std::future::Future<Output = Next> + Send;
}

impl JobWaiter {
    /// Feed events from `source` until every expected minion has returned or
    /// been given up on; `on_return` sees each return as it arrives.
    pub async fn drive(
        &mut self,
        source: &mut impl EventSource,
        mut on_return: impl FnMut(Arrived),
    ) -> Result<(), String> {
        self.drive_observed(source, None, |update| {
            if let WaitUpdate::Returned(arrived) = update {
                on_return(arrived);
            }
        })
        .await
    }

    /// [`JobWaiter::drive`] that also reports the [`Tally`] after every
    /// event for this job and, with `tick`, at least that often while
    /// nothing arrives (the CLI's progress line).
    pub async fn drive_observed(
        &mut self,
        source: &mut impl EventSource,
        tick: Option<Duration>,
        mut observe: impl FnMut(WaitUpdate<'_>),
    ) -> Result<(), String> {
        while !self.done(Instant::now()) {
            let Some(next) = self.await_next(source, tick, &mut observe).await else {
                break;
            };
            match next {
                Next::Event(ev) => self.take_event(ev, &mut observe),
                Next::Nothing => {}
                Next::Closed(None) => break,
                Next::Closed(Some(e)) => return Err(e),
            }
        }
        Ok(())
    }

    /// The source's next event, or `None` once the wait is over. Events
    /// already waiting are taken without a word; only when the wait would
    /// block does the observer hear it is idle, then the tally on each tick.
    /// The read survives the ticks: a read cancelled halfway through a frame
    /// would lose its bytes and leave the stream out of step (the CLI's
    /// socket reads frames that way); only the final deadline drops it.
    async fn await_next(
        &self,
        source: &mut impl EventSource,
        tick: Option<Duration>,
        observe: &mut impl FnMut(WaitUpdate<'_>),
    ) -> Option<Next> {
        let mut read = std::pin::pin!(source.next_event());
        let ready = std::future::poll_fn(|cx| std::task::Poll::Ready(read.as_mut().poll(cx))).await;
        if let std::task::Poll::Ready(next) = ready {
            return Some(next);
        }
        observe(WaitUpdate::Idle);
        loop {
            let deadline = self.next_deadline()?;
            let wake = tick.map_or(deadline, |t| deadline.min(Instant::now() + t));
            tokio::select! {
                next = &mut read => return Some(next),
                () = tokio::time::sleep_until(wake.into()) => {
                    if self.done(Instant::now()) {
                        return None;
                    }
                    observe(WaitUpdate::Progress(&self.tally()));
                }
            }
        }
    }

    /// Count an event and tell the observer what it changed.
    fn take_event(&mut self, event: Event, observe: &mut impl FnMut(WaitUpdate<'_>)) {
        let before = self.tally();
        if let Some(arrived) = self.on_event(event, Instant::now()) {
            observe(WaitUpdate::Returned(arrived));
        }
        let after = self.tally();
        if after != before {
            observe(WaitUpdate::Progress(&after));
        }
    }
}

/// `salt/job/<jid>/ret/<id>` -> ("ret", id); `brine/job/<jid>/ack|beat/<id>` likewise.
fn parse_job_tag<'a>(tag: &'a str, jid: &str) -> Option<(&'a str, &'a str)> {
    let rest = tag
        .strip_prefix("salt/job/")
        .or_else(|| tag.strip_prefix("brine/job/"))?;
    let rest = rest.strip_prefix(jid)?.strip_prefix('/')?;
    let (kind, minion) = rest.split_once('/')?;
    Some((kind, minion))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const JID: &str = "20261121234019509933";

    fn ev(tag: String) -> Event {
        Event::new(tag, json!({"return": true}))
    }

    fn waiter(now: Instant) -> JobWaiter {
        let expected = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        JobWaiter::new(
            JID,
            &expected,
            &["c".to_string()],
            Duration::from_secs(5),
            now,
        )
    }

    #[test]
    fn returns_are_reported_once_and_finish_the_wait() {
        let t0 = Instant::now();
        let mut w = waiter(t0);
        assert!(
            w.on_event(ev(format!("salt/job/{JID}/ret/a")), t0)
                .is_some()
        );
        assert!(
            w.on_event(ev(format!("salt/job/{JID}/ret/a")), t0)
                .is_none()
        );
        assert!(
            w.on_event(ev("salt/job/other/ret/b".to_string()), t0)
                .is_none()
        );
        assert!(!w.done(t0));
        w.on_event(ev(format!("salt/job/{JID}/ret/b")), t0);
        w.on_event(ev(format!("salt/job/{JID}/ret/c")), t0);
        assert!(w.done(t0));
        assert!(w.missing().is_empty());
    }

    #[test]
    fn an_unexpected_minion_that_acknowledges_is_waited_for() {
        let t0 = Instant::now();
        let mut w = JobWaiter::new(JID, &["a".to_string()], &[], Duration::from_secs(5), t0);
        w.on_event(ev(format!("salt/job/{JID}/ret/a")), t0);
        assert!(w.done(t0));
        w.on_event(ev(format!("brine/job/{JID}/ack/z")), t0);
        assert!(!w.done(t0), "z said it runs the job");
        assert!(
            w.on_event(ev(format!("salt/job/{JID}/ret/z")), t0)
                .is_some()
        );
        assert!(w.done(t0));
    }

    #[test]
    fn heartbeats_extend_the_wait_and_silence_ends_it() {
        let t0 = Instant::now();
        let mut w = waiter(t0);
        let t4 = t0 + Duration::from_secs(4);
        w.on_event(ev(format!("brine/job/{JID}/ack/a")), t4);
        let t6 = t0 + Duration::from_secs(6);
        // b and c were silent for 6 s; a spoke 2 s ago.
        assert!(!w.done(t6));
        // The wait lasts until the last speaker's silence runs out.
        assert_eq!(w.next_deadline(), Some(t4 + Duration::from_secs(5)));
        let t10 = t0 + Duration::from_secs(10);
        assert!(w.done(t10));
        let missing = w.missing();
        assert_eq!(
            missing[0],
            (
                "a".to_string(),
                "Minion did not return. [Job running, heartbeat lost]"
            )
        );
        assert_eq!(
            missing[1],
            ("b".to_string(), "Minion did not return. [No response]")
        );
        assert_eq!(
            missing[2],
            ("c".to_string(), "Minion did not return. [Not connected]")
        );
    }

    /// A source whose reads take longer than a tick, and that counts the
    /// reads dropped before they finished.
    struct SlowSource {
        events: Vec<Event>,
        dropped_halfway: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        /// How long each read takes; zero: the event is there already.
        delays: Vec<u64>,
    }

    struct DropGuard(Option<std::sync::Arc<std::sync::atomic::AtomicUsize>>);

    impl Drop for DropGuard {
        fn drop(&mut self) {
            if let Some(count) = self.0.take() {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
    }

    impl EventSource for SlowSource {
        fn next_event(&mut self) -> impl std::future::Future<Output = Next> + Send {
            let event = (!self.events.is_empty()).then(|| self.events.remove(0));
            let delay = if self.delays.is_empty() {
                30
            } else {
                self.delays.remove(0)
            };
            let dropped = self.dropped_halfway.clone();
            async move {
                let mut guard = DropGuard(Some(dropped));
                if delay > 0 {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                guard.0 = None;
                event.map_or(Next::Closed(None), Next::Event)
            }
        }
    }

    /// Ticks (every 5 ms here) never cancel a read in progress: the CLI's
    /// socket reads would lose half a frame (found by bench/scale.sh: "frame
    /// of 2175092086 bytes exceeds the cap").
    #[tokio::test]
    async fn ticks_never_cancel_a_read_in_progress() {
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut source = SlowSource {
            events: vec![
                ev(format!("brine/job/{JID}/ack/a")),
                ev(format!("salt/job/{JID}/ret/a")),
            ],
            dropped_halfway: dropped.clone(),
            delays: Vec::new(),
        };
        let mut w = JobWaiter::new(
            JID,
            &["a".to_string()],
            &[],
            Duration::from_secs(5),
            Instant::now(),
        );
        let mut ticks = 0;
        let mut returns = 0;
        w.drive_observed(&mut source, Some(Duration::from_millis(5)), |u| match u {
            WaitUpdate::Returned(_) => returns += 1,
            WaitUpdate::Progress(_) => ticks += 1,
            WaitUpdate::Idle => {}
        })
        .await
        .expect("drive");
        assert_eq!(returns, 1);
        assert!(ticks > 2, "ticks: {ticks}");
        assert_eq!(dropped.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    /// Idle is said only when the wait would block: events already there
    /// are taken one after the other (the CLI writes its output then).
    #[tokio::test]
    async fn idle_is_said_only_before_blocking() {
        let mut source = SlowSource {
            events: vec![
                ev(format!("brine/job/{JID}/ack/a")),
                ev(format!("salt/job/{JID}/ret/a")),
                ev(format!("salt/job/{JID}/ret/b")),
            ],
            dropped_halfway: Default::default(),
            delays: vec![0, 0, 20],
        };
        let expected = ["a".to_string(), "b".to_string()];
        let mut w = JobWaiter::new(JID, &expected, &[], Duration::from_secs(5), Instant::now());
        let mut seen = Vec::new();
        w.drive_observed(&mut source, None, |u| match u {
            WaitUpdate::Returned(arrived) => seen.push(arrived.minion),
            WaitUpdate::Idle => seen.push("idle".into()),
            WaitUpdate::Progress(_) => {}
        })
        .await
        .expect("drive");
        assert_eq!(seen, ["a", "idle", "b"]);
    }

    /// The counts kept as events arrive equal a count from scratch, through
    /// unexpected minions, repeated returns and acks after returns.
    #[test]
    fn the_kept_tally_equals_a_recount() {
        let t0 = Instant::now();
        let mut w = waiter(t0);
        let from_scratch = |w: &JobWaiter| {
            let mut t = Tally {
                total: w.progress.len(),
                ..Tally::default()
            };
            for (m, p) in &w.progress {
                match p {
                    Progress::Returned => t.returned += 1,
                    Progress::Running => t.running += 1,
                    Progress::Silent if w.not_connected.contains(m) => t.not_connected += 1,
                    Progress::Silent => t.silent += 1,
                }
            }
            t
        };
        for (kind, minion) in [
            ("beat", "c"),
            ("ret", "z"),
            ("ack", "y"),
            ("ack", "a"),
            ("ret", "a"),
            ("ret", "a"),
            ("ack", "a"),
            ("ret", "y"),
            ("ret", "b"),
        ] {
            let tag = if kind == "ret" {
                format!("salt/job/{JID}/ret/{minion}")
            } else {
                format!("brine/job/{JID}/{kind}/{minion}")
            };
            w.on_event(ev(tag), t0);
            assert_eq!(w.tally(), from_scratch(&w), "after {kind} {minion}");
        }
    }

    #[test]
    fn the_tally_counts_each_minion_once() {
        let t0 = Instant::now();
        let mut w = waiter(t0);
        assert_eq!(
            w.tally().to_string(),
            "0/3 returned, 0 running, 1 not connected, 2 no answer yet"
        );
        w.on_event(ev(format!("brine/job/{JID}/ack/a")), t0);
        w.on_event(ev(format!("salt/job/{JID}/ret/b")), t0);
        w.on_event(ev(format!("brine/job/{JID}/beat/c")), t0);
        assert_eq!(
            w.tally().to_string(),
            "1/3 returned, 2 running, 0 not connected"
        );
        w.on_event(ev(format!("salt/job/{JID}/ret/a")), t0);
        w.on_event(ev(format!("salt/job/{JID}/ret/c")), t0);
        assert_eq!(
            w.tally(),
            Tally {
                total: 3,
                returned: 3,
                ..Tally::default()
            }
        );
    }
}
