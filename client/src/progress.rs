//! The CLI's progress line: one line on stderr, redrawn in place while a job
//! waits for returns (`812/1000 returned, 150 running, 38 not connected`),
//! and erased before anything else is printed.
//!
//! Only on a terminal: when stderr is a pipe or a file nothing is ever
//! written, so scripts see exactly what Salt prints. Quick jobs show
//! nothing either: the line first appears after [`FIRST_SHOWN_AFTER`], and
//! is redrawn at most every [`REDRAW_EVERY`] however fast returns arrive.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// A job that finishes sooner never shows the line (no flicker on `test.ping`).
pub const FIRST_SHOWN_AFTER: Duration = Duration::from_millis(300);
/// Redraws are throttled to this.
pub const REDRAW_EVERY: Duration = Duration::from_millis(100);

/// Erase the terminal line the cursor is on and go to its start.
const ERASE_LINE: &str = "\r\x1b[K";

pub struct ProgressLine {
    out: Option<Box<dyn Write + Send>>,
    started: Instant,
    last_drawn: Option<Instant>,
    /// The line is on the screen now.
    shown: bool,
}

impl ProgressLine {
    /// On stderr when it is a terminal; otherwise a line that draws nothing.
    pub fn on_stderr() -> Self {
        let out: Option<Box<dyn Write + Send>> = std::io::stderr()
            .is_terminal()
            .then(|| Box::new(std::io::stderr()) as Box<dyn Write + Send>);
        Self::to(out)
    }

    /// Drawing into `out` (`None`: never draws); for tests.
    pub fn to(out: Option<Box<dyn Write + Send>>) -> Self {
        ProgressLine {
            out,
            started: Instant::now(),
            last_drawn: None,
            shown: false,
        }
    }

    /// Whether anything will ever be drawn (stderr is a terminal): waiting
    /// needs no ticks otherwise.
    pub fn is_enabled(&self) -> bool {
        self.out.is_some()
    }

    /// Show `text` in place of the current line, unless it is too early or
    /// too soon after the last redraw.
    pub fn update(&mut self, text: &str, now: Instant) {
        if now.duration_since(self.started) < FIRST_SHOWN_AFTER
            || self
                .last_drawn
                .is_some_and(|t| now.duration_since(t) < REDRAW_EVERY)
        {
            return;
        }
        let Some(out) = self.out.as_mut() else {
            return;
        };
        // A terminal that went away is not worth an error: stop drawing.
        if write!(out, "{ERASE_LINE}{text}")
            .and_then(|()| out.flush())
            .is_err()
        {
            self.out = None;
            return;
        }
        self.last_drawn = Some(now);
        self.shown = true;
    }

    /// Erase the line if it is shown, before other output (or at the end).
    pub fn clear(&mut self) {
        if !self.shown {
            return;
        }
        self.shown = false;
        // The next update may draw at once: the line is gone.
        self.last_drawn = None;
        if let Some(out) = self.out.as_mut() {
            let _ = write!(out, "{ERASE_LINE}").and_then(|()| out.flush());
        }
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Screen(Arc<Mutex<Vec<u8>>>);

    impl Write for Screen {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("screen").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Screen {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().expect("screen").clone()).expect("utf-8")
        }
    }

    #[test]
    fn draws_late_throttled_and_erases_itself() {
        let screen = Screen::default();
        let mut line = ProgressLine::to(Some(Box::new(screen.clone())));
        let t0 = line.started;
        line.update("too early", t0 + Duration::from_millis(10));
        assert_eq!(screen.text(), "");
        line.update("1/2 returned", t0 + FIRST_SHOWN_AFTER);
        line.update(
            "throttled",
            t0 + FIRST_SHOWN_AFTER + Duration::from_millis(10),
        );
        assert_eq!(screen.text(), "\r\x1b[K1/2 returned");
        line.clear();
        line.update(
            "2/2 returned",
            t0 + FIRST_SHOWN_AFTER + Duration::from_millis(20),
        );
        drop(line);
        assert_eq!(
            screen.text(),
            "\r\x1b[K1/2 returned\r\x1b[K\r\x1b[K2/2 returned\r\x1b[K"
        );
    }

    #[test]
    fn without_a_terminal_nothing_is_drawn() {
        let mut line = ProgressLine::to(None);
        line.update("1/2 returned", Instant::now() + FIRST_SHOWN_AFTER);
        line.clear();
        assert!(!line.shown);
    }
}
