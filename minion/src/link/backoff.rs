//! How long the link waits before trying the master again: Salt's growing
//! acceptance wait for a key the master does not (yet) accept, and an
//! exponential back-off for a broken transport. Both add jitter so a fleet
//! that lost its master at the same moment does not come back in lockstep.

use std::time::Duration;

use rand::Rng;

/// Salt's acceptance wait: `base` (`acceptance_wait_time`), growing by itself
/// on each retry up to `max` (`acceptance_wait_time_max`, zero for no
/// growth), plus up to 25% jitter.
pub(super) fn acceptance_wait(max: Duration, attempt: u32, base: Duration) -> Duration {
    with_jitter(acceptance_wait_unjittered(max, attempt, base))
}

fn acceptance_wait_unjittered(max: Duration, attempt: u32, base: Duration) -> Duration {
    let max = if max.is_zero() { base } else { max };
    base.saturating_mul(attempt.max(1)).min(max.max(base))
}

/// `d` stretched by a random factor in [1, 1.25).
fn with_jitter(d: Duration) -> Duration {
    let factor = rand::rng().random_range(1.0..1.25);
    d.mul_f64(factor)
}

/// Exponential back-off with jitter for transport failures.
pub(super) struct Backoff {
    first: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub(super) fn new(first: Duration, max: Duration) -> Self {
        Backoff {
            first,
            max,
            current: first,
        }
    }

    /// The next wait: the current step (jittered), doubling the step for the
    /// following call up to `max`.
    pub(super) fn next(&mut self) -> Duration {
        let d = self.current;
        self.current = (self.current * 2).min(self.max);
        with_jitter(d)
    }

    /// Back to the first step (after a success).
    pub(super) fn reset(&mut self) {
        self.current = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// `d` is `step` plus at most 25% jitter.
    fn is_jittered(d: Duration, step: Duration) -> bool {
        d >= step && d < step.mul_f64(1.25)
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_then_resets() {
        let mut b = Backoff::new(100 * MS, 5000 * MS);
        for step in [100, 200, 400, 800, 1600, 3200, 5000, 5000] {
            let d = b.next();
            assert!(is_jittered(d, step * MS), "{d:?} is not {step} ms + jitter");
        }
        b.reset();
        let d = b.next();
        assert!(is_jittered(d, 100 * MS), "{d:?} after reset");
        let d = b.next();
        assert!(is_jittered(d, 200 * MS), "{d:?} second after reset");
    }

    #[test]
    fn acceptance_wait_grows_by_its_base_up_to_the_max() {
        let base = 10_000 * MS;
        let max = 25_000 * MS;
        let waits: Vec<_> = (0..5)
            .map(|attempt| acceptance_wait_unjittered(max, attempt, base))
            .collect();
        assert_eq!(
            waits,
            [10_000, 10_000, 20_000, 25_000, 25_000].map(|ms| ms * MS)
        );
        assert!(is_jittered(acceptance_wait(max, 2, base), 20_000 * MS));
    }

    #[test]
    fn acceptance_wait_without_a_max_does_not_grow() {
        let base = 10_000 * MS;
        assert_eq!(acceptance_wait_unjittered(Duration::ZERO, 7, base), base);
        // A max below the base never shortens the base.
        assert_eq!(acceptance_wait_unjittered(MS, 7, base), base);
    }
}
