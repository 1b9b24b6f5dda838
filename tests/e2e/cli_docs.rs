//! Man pages and completions from the real binaries' hidden generator flags
//! (issue 18), as `pkg/build-debs.sh` produces them for the packages: every
//! binary writes its page and its bash, zsh and fish scripts, and `brine`'s
//! page and bash script name its options.

use std::process::Command;

use crate::cluster::bin;

/// Every binary the packages ship.
const SHIPPED: [&str; 8] = [
    "brine",
    "brine-key",
    "brine-run",
    "brine-cp",
    "brine-master",
    "brine-minion",
    "brine-call",
    "brine-api",
];

fn completions(name: &str, shell: &str) -> String {
    let out = Command::new(bin(name))
        .args(["--generate-completions", shell])
        .output()
        .expect("run the binary");
    assert!(
        out.status.success(),
        "{name} --generate-completions {shell}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 script")
}

fn man_page(name: &str, dir: &std::path::Path) -> String {
    let status = Command::new(bin(name))
        .arg("--generate-man")
        .arg(dir)
        .status()
        .expect("run the binary");
    assert!(status.success(), "{name} --generate-man");
    std::fs::read_to_string(dir.join(format!("{name}.1"))).expect("the page")
}

#[test]
fn every_binary_generates_its_man_page_and_completions() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in SHIPPED {
        let page = man_page(name, dir.path());
        assert!(page.contains(&format!(".TH {name} 1")), "{name}.1:\n{page}");
        for shell in ["bash", "zsh", "fish"] {
            assert!(
                completions(name, shell).contains(name),
                "{name}'s {shell} script does not name it"
            );
        }
    }
}

#[test]
fn brines_man_page_and_bash_completion_name_its_options() {
    let dir = tempfile::tempdir().expect("tempdir");
    let page = man_page("brine", dir.path());
    // roff escapes each dash.
    for option in [
        r"\-\-timeout",
        r"\-\-batch\-size",
        r"\-\-compound",
        r"\-\-out",
    ] {
        assert!(page.contains(option), "brine.1 lacks {option}:\n{page}");
    }
    assert!(
        page.contains("TARGET") && page.contains("FUNCTION"),
        "{page}"
    );
    // The hidden generator flags themselves are documented nowhere.
    assert!(!page.contains("generate"), "{page}");

    let bash = completions("brine", "bash");
    for flag in [
        "--timeout",
        "--batch-size",
        "--compound",
        "--out",
        "--no-color",
    ] {
        assert!(bash.contains(flag), "brine's bash completion lacks {flag}");
    }
    assert!(bash.contains("complete -F _brine"), "{bash}");
    assert!(!bash.contains("generate-man"), "{bash}");
}

#[test]
fn brine_apis_subcommand_is_completed_and_has_a_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    man_page("brine-api", dir.path());
    assert!(dir.path().join("brine-api-hash-password.1").exists());
    assert!(completions("brine-api", "bash").contains("hash-password"));
}
