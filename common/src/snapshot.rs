//! Snapshot assertions for tests: text compared against a fixture file.
//!
//! Salt's sample outputs live as files under a `fixtures/` directory next to
//! the tests that use them, instead of string literals pasted into the test.
//! A fixture line may hold `[..]` (cargo's snapshot wildcard), which matches
//! any run of characters within that line, for what changes from run to run
//! (times, pids, paths). On a mismatch the assertion panics with a line diff;
//! with `BRINE_BLESS=1` in the environment it rewrites the fixture instead,
//! keeping every fixture line (wildcards included) that still matches.
//!
//! Built for this crate's tests and, through the `testing` feature, for
//! other crates' tests; never part of a daemon.

use std::fmt::Write as _;
use std::path::Path;

/// The wildcard: any run of characters (possibly none) within one line.
pub const WILDCARD: &str = "[..]";

/// The environment variable that makes [`assert_matches_file`] rewrite the
/// fixture rather than fail.
pub const BLESS_VAR: &str = "BRINE_BLESS";

/// Asserts that `actual` matches the fixture at `path`, relative to the
/// calling crate's manifest directory: `assert_fixture!("src/x/fixtures/y.txt", text)`.
#[macro_export]
macro_rules! assert_fixture {
    ($path:expr, $actual:expr $(,)?) => {
        $crate::snapshot::assert_matches_file(
            &::std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join($path),
            &$actual,
        )
    };
}

/// Asserts that `actual` matches the fixture file at `path`, or rewrites the
/// fixture when [`BLESS_VAR`] is set.
///
/// # Panics
/// On a mismatch (with a diff), or when the fixture cannot be read or written.
#[track_caller]
pub fn assert_matches_file(path: &Path, actual: &str) {
    let expected = std::fs::read_to_string(path);
    if blessing() {
        let blessed = bless(expected.as_deref().unwrap_or(""), actual);
        if let Err(e) = std::fs::write(path, blessed) {
            panic!("cannot bless fixture {}: {e}", path.display());
        }
        return;
    }
    let expected = match expected {
        Ok(text) => text,
        Err(e) => panic!(
            "cannot read fixture {}: {e} (run with {BLESS_VAR}=1 to create it)",
            path.display()
        ),
    };
    if let Err(diff) = compare(&expected, actual) {
        panic!(
            "output does not match fixture {} (run with {BLESS_VAR}=1 to rewrite it):\n{diff}",
            path.display()
        );
    }
}

fn blessing() -> bool {
    std::env::var_os(BLESS_VAR).is_some_and(|v| !v.is_empty() && v != "0")
}

/// `Ok` when `actual` matches `expected` line for line; otherwise a diff,
/// `-` for the fixture's lines and `+` for the actual ones.
pub fn compare(expected: &str, actual: &str) -> Result<(), String> {
    let want = lines(expected);
    let got = lines(actual);
    let same_shape = want.len() == got.len();
    if same_shape && want.iter().zip(&got).all(|(w, g)| line_matches(w, g)) {
        return Ok(());
    }
    Err(diff(&want, &got))
}

/// The lines of `text`, the last one empty when the text ends in a newline,
/// so that a missing or extra final newline is a difference.
fn lines(text: &str) -> Vec<&str> {
    text.split('\n').collect()
}

/// Whether `actual` matches `pattern`, where each `[..]` stands for any run of
/// characters. The literal pieces must appear in order; the first anchors the
/// start and the last the end.
pub fn line_matches(pattern: &str, actual: &str) -> bool {
    let mut pieces = pattern.split(WILDCARD);
    let first = pieces.next().unwrap_or("");
    let Some(mut rest) = actual.strip_prefix(first) else {
        return false;
    };
    let middle_and_last: Vec<&str> = pieces.collect();
    let Some((last, middle)) = middle_and_last.split_last() else {
        return rest.is_empty();
    };
    for piece in middle {
        // The leftmost occurrence leaves the most room for what follows.
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// A line diff by longest common subsequence, where a fixture line and an
/// actual line are "common" when the actual matches the pattern.
fn diff(want: &[&str], got: &[&str]) -> String {
    // lcs[i][j]: the longest match of want[i..] and got[j..].
    let mut lcs = vec![vec![0usize; got.len() + 1]; want.len() + 1];
    for i in (0..want.len()).rev() {
        for j in (0..got.len()).rev() {
            lcs[i][j] = if line_matches(want[i], got[j]) {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut rows) = (0, 0, Vec::new());
    while i < want.len() || j < got.len() {
        if i < want.len() && j < got.len() && line_matches(want[i], got[j]) {
            rows.push(format!("  {}", got[j]));
            (i, j) = (i + 1, j + 1);
        } else if i < want.len() && (j == got.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            rows.push(format!("- {}", want[i]));
            i += 1;
        } else {
            rows.push(format!("+ {}", got[j]));
            j += 1;
        }
    }
    with_context(&rows)
}

/// How many matching lines the diff shows around each difference.
const CONTEXT: usize = 3;

/// The diff's rows, where a run of matching lines farther than [`CONTEXT`]
/// from any difference is shown as `...`, so a long fixture's diff shows
/// where it differs.
fn with_context(rows: &[String]) -> String {
    let changed: Vec<usize> = (0..rows.len())
        .filter(|&k| !rows[k].starts_with("  "))
        .collect();
    let near = |k: usize| changed.iter().any(|&c| c.abs_diff(k) <= CONTEXT);
    let mut out = String::new();
    let mut elided = false;
    for (k, row) in rows.iter().enumerate() {
        if near(k) {
            let _ = writeln!(out, "{row}");
            elided = false;
        } else if !elided {
            out.push_str("  ...\n");
            elided = true;
        }
    }
    out
}

/// The new fixture for `actual`: where the line counts agree, each fixture
/// line that still matches is kept (so its wildcards survive); every other
/// line is the actual text.
fn bless(expected: &str, actual: &str) -> String {
    let want = lines(expected);
    let got = lines(actual);
    if want.len() != got.len() {
        return actual.to_string();
    }
    let kept: Vec<&str> = want
        .iter()
        .zip(&got)
        .map(|(w, g)| if line_matches(w, g) { *w } else { *g })
        .collect();
    kept.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_text_matches() {
        assert_eq!(compare("a\nb\n", "a\nb\n"), Ok(()));
        assert!(line_matches("", ""));
    }

    #[test]
    fn wildcard_matches_any_run_within_a_line() {
        assert!(line_matches(
            "     Started: [..]",
            "     Started: 23:38:28.884640"
        ));
        assert!(line_matches(
            "    Duration: [..] ms",
            "    Duration: 5.508 ms"
        ));
        assert!(line_matches("[..]", ""));
        assert!(line_matches("a[..]b[..]c", "a-b-b-c"));
        assert!(line_matches("x[..]x", "xx"));
        assert!(!line_matches("x[..]x", "x"), "the pieces may not overlap");
        assert!(!line_matches(
            "    Duration: [..] ms",
            "    Duration: 5.508 s"
        ));
        assert!(!line_matches("Started: [..]", " Started: 1"));
        assert_eq!(compare("t: [..]\nend\n", "t: 1.5\nend\n"), Ok(()));
    }

    #[test]
    fn wildcard_does_not_span_lines() {
        assert!(compare("a[..]\n", "a\nb\n").is_err());
    }

    #[test]
    fn mismatch_shows_a_line_diff() {
        let err = compare("one\ntwo [..]\nthree\n", "one\ntwo 2\nTHREE\n")
            .expect_err("the last line differs");
        assert_eq!(err, "  one\n  two 2\n- three\n+ THREE\n  \n");
    }

    #[test]
    fn diff_of_a_long_text_shows_only_the_context() {
        let want: String = (0..20).map(|n| format!("line {n}\n")).collect();
        let got = want.replace("line 10\n", "line ten\n");
        let err = compare(&want, &got).expect_err("line 10 differs");
        assert_eq!(
            err,
            "  ...\n  line 7\n  line 8\n  line 9\n- line 10\n+ line ten\n  \
             line 11\n  line 12\n  line 13\n  ...\n"
        );
    }

    #[test]
    fn missing_final_newline_is_a_difference() {
        let err = compare("a\n", "a").expect_err("no final newline");
        assert_eq!(err, "  a\n- \n");
    }

    #[test]
    fn blessing_keeps_the_wildcards_that_still_match() {
        assert_eq!(bless("t: [..]\nold\n", "t: 7\nnew\n"), "t: [..]\nnew\n");
        assert_eq!(bless("a\n", "a\nb\n"), "a\nb\n");
    }

    #[test]
    fn fixture_file_is_compared_and_a_mismatch_names_it() {
        if blessing() {
            return; // blessing would rewrite rather than fail
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.txt");
        std::fs::write(&path, "pid: [..]\n").expect("write fixture");
        assert_matches_file(&path, "pid: 5538\n");
        let failed = std::panic::catch_unwind(|| assert_matches_file(&path, "pid:\n5538\n"))
            .expect_err("a mismatch panics");
        let message = failed
            .downcast_ref::<String>()
            .expect("a formatted message");
        assert!(message.contains("does not match fixture"), "{message}");
        assert!(message.contains("out.txt"), "{message}");
        assert!(
            message.contains("- pid: [..]\n+ pid:\n+ 5538\n"),
            "{message}"
        );
    }
}
