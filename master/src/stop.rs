//! The master's stop (issue 15): one cancellation token that every
//! long-lived task watches (mini-redis's shape: the signal is handed down
//! to the tasks, not polled for), and a tracker of the work the stop waits for.
//!
//! On SIGTERM or SIGINT the daemon calls [`Stop::stop`]: the request server
//! stops reading requests; the client socket stops accepting and its
//! connections end; the reactor, the scheduler, presence, housekeeping and
//! the periodic git updates stop at their next await. The request handlers
//! already running finish, up to a bound, and then the daemon commits the
//! job cache and lets the publisher process go (see `daemon::shut_down`).
//! Nothing acknowledged can be lost either way: a return is acknowledged only
//! once it is committed. SIGHUP is not a stop: it reopens the log file
//! (`brine_common::logging::reopen_on_sighup`, started by `brine-master`).

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

/// The master-wide stop signal and the work it waits for.
#[derive(Clone, Default)]
pub struct Stop {
    token: CancellationToken,
    tracker: TaskTracker,
}

impl Stop {
    /// Run `task` until it ends or the master stops; then it is dropped at
    /// its next await (for loops with nothing to finish: timers, accept loops,
    /// event readers).
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let token = self.token.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                () = token.cancelled() => {}
                () = task => {}
            }
        });
    }

    /// Run `task`, which watches [`Stop::stopping`] itself and winds down:
    /// the stop waits for its end (up to the bound).
    pub fn spawn_to_end<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(task);
    }

    /// Work the stop waits for while this is held.
    pub fn hold(&self) -> TaskTrackerToken {
        self.tracker.token()
    }

    /// Resolves once the master is stopping.
    pub async fn stopping(&self) {
        self.token.cancelled().await;
    }

    /// Signal every task to stop and wait up to `grace` for the work the stop
    /// waits for. `false` when some was still running at the bound.
    pub async fn stop(&self, grace: Duration) -> bool {
        self.token.cancel();
        self.tracker.close();
        tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A loop is cut at its next await; a task run to its end and held work
    /// are waited for; nothing started before the stop is forgotten.
    #[tokio::test]
    async fn stop_cuts_loops_and_waits_for_work_in_hand() {
        let stop = Stop::default();
        stop.spawn(std::future::pending());
        let finished = Arc::new(AtomicBool::new(false));
        let (stopping, done) = (stop.clone(), finished.clone());
        stop.spawn_to_end(async move {
            stopping.stopping().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            done.store(true, Ordering::SeqCst);
        });
        let held = stop.hold();
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            drop(held);
        });
        assert!(stop.stop(Duration::from_secs(5)).await, "all done in time");
        assert!(finished.load(Ordering::SeqCst), "ran to its end");
        release.await.expect("released");
    }

    /// Work that does not end is given up at the bound.
    #[tokio::test]
    async fn stop_gives_up_at_the_bound() {
        let stop = Stop::default();
        let _held = stop.hold();
        assert!(!stop.stop(Duration::from_millis(50)).await);
    }
}
