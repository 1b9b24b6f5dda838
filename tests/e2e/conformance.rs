//! Compatibility with Salt 3008.5 (issue 13): every case of
//! `tests/conformance/cases` runs through the real `brine-call --local`,
//! and its output, normalised as the harness README says, must equal what
//! real Salt printed for the same tree, pillar and grains (captured by
//! `tests/conformance/capture.sh`; Salt itself is not needed here).
//!
//! The comparison is `tests/conformance/compare.py`, the same script a
//! developer or a user runs by hand, so there is one implementation of the
//! sandbox and the normalisation. Commands known to differ today are listed
//! in `tests/conformance/known-differences`; this test fails when any other
//! command differs (a regression) and names listed ones that now match.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::cluster::{bin, run_with_timeout, stderr, stdout};

#[test]
fn salt_trees_render_and_apply_as_salt_3008_does() {
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance");
    let out = run_with_timeout(
        Command::new("python3")
            .arg(harness.join("compare.py"))
            .arg(bin("brine-call"))
            .arg("--summary")
            .arg("--known")
            .arg(harness.join("known-differences")),
        Duration::from_secs(900),
    );
    let report = stdout(&out);
    println!("{report}");
    assert!(
        out.status.success(),
        "conformance regressions against Salt 3008.5 (diffs above):\n{}\n{}",
        report
            .lines()
            .filter(|l| l.starts_with("REGRESSION"))
            .collect::<Vec<_>>()
            .join("\n"),
        stderr(&out)
    );
}

/// formulas.py (the public-formula comparison of docs/compatibility.md)
/// needs Salt to run, so CI checks its pure parts instead: the timestamp
/// mask, the Salt-crash classification and the masking of what Salt does
/// not reproduce itself (`tests/conformance/test_formulas.py`).
#[test]
fn formulas_script_unit_tests() {
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance");
    let out = run_with_timeout(
        Command::new("python3")
            .args(["-m", "unittest", "discover", "-s"])
            .arg(&harness)
            .args(["-p", "test_formulas.py"])
            .current_dir(&harness)
            .env("PYTHONDONTWRITEBYTECODE", "1"),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "tests/conformance/test_formulas.py failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
}
