//! Man pages and completions from the real binaries' hidden generator flags
//! (issue 18), as `pkg/build-debs.sh` produces them for the packages: every
//! binary writes its page and its bash, zsh and fish scripts, and `brine`'s
//! page and bash script name its options. Function-name completion
//! (`brine '*' sta<TAB>`) against a real master and minion: the hidden
//! `--complete-functions` flag, its cache once the master is gone, and the
//! bash script calling it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use crate::cluster::{Cluster, bin, run_with_timeout, stderr, stdout};

/// Every binary the packages ship.
const SHIPPED: [&str; 9] = [
    "brine",
    "brine-key",
    "brine-run",
    "brine-cp",
    "brine-ssh",
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

/// `brine -c conf --complete-functions prefix`, which must succeed and
/// say nothing on stderr whatever happens (it runs under a shell's TAB).
fn complete_functions(conf: &Path, prefix: &str) -> Vec<String> {
    let out = run_with_timeout(
        Command::new(bin("brine"))
            .arg("-c")
            .arg(conf)
            .args(["--complete-functions", prefix]),
        Duration::from_secs(20),
    );
    assert_silent_success(&out);
    stdout(&out).lines().map(str::to_string).collect()
}

fn assert_silent_success(out: &Output) {
    assert!(out.status.success(), "exit {:?}", out.status);
    assert!(out.stderr.is_empty(), "stderr: {}", stderr(out));
}

fn assert_state_functions(names: &[String]) {
    assert!(names.iter().any(|n| n == "state.apply"), "{names:?}");
    assert!(names.iter().any(|n| n == "state.highstate"), "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("sta")), "{names:?}");
    assert!(!names.iter().any(|n| n == "test.ping"), "{names:?}");
}

/// The cache under the cluster master's cachedir (its root_dir's default).
fn function_cache(c: &Cluster) -> PathBuf {
    c.master_root()
        .join("var/cache/brine/master/completion/functions")
}

/// COMPREPLY of brine's generated bash completion for the words `words`
/// (the last one being completed), with `env` set.
fn bash_completion(words: &[&str], env: &[(&str, &Path)]) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("brine.bash");
    std::fs::write(&script, completions("brine", "bash")).expect("write script");
    let body = r#"source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
_brine_with_functions brine "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}""#;
    let mut cmd = Command::new("bash");
    cmd.args(["-c", body, "bash"]).arg(&script).args(words);
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = run_with_timeout(&mut cmd, Duration::from_secs(20));
    assert_silent_success(&out);
    stdout(&out)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn brine_completes_function_names_from_the_minions_then_from_its_cache() {
    let mut c = Cluster::builder().minions(1).start().ready();
    let conf = c.master_dir();
    let cache = function_cache(&c);
    assert!(!cache.exists(), "a cache before any completion");

    // No cache: the minions are asked, the union cached.
    assert_state_functions(&complete_functions(&conf, "sta"));
    let cached = std::fs::read_to_string(&cache).expect("the cache was written");
    assert!(cached.lines().any(|l| l == "test.ping"), "{cached}");
    assert!(complete_functions(&conf, "").len() > 10);

    // bash, with -c on the line (forwarded) and with BRINE_CONFIG_DIR.
    let brine = bin("brine");
    let brine = brine.to_str().expect("utf-8 path");
    let conf_text = conf.to_str().expect("utf-8 path");
    assert_state_functions(&bash_completion(&[brine, "-c", conf_text, "*", "sta"], &[]));
    assert_state_functions(&bash_completion(
        &[brine, "-t", "5", "*", "sta"],
        &[("BRINE_CONFIG_DIR", &conf)],
    ));
    // Only the FUNCTION word: after it, arguments are clap's (files).
    let after = bash_completion(&[brine, "-c", conf_text, "*", "test.ping", "sta"], &[]);
    assert!(!after.iter().any(|n| n == "state.apply"), "{after:?}");

    // The master gone: the fresh cache answers, and so does a stale one
    // (the refresh fails quietly).
    c.kill_master();
    assert_state_functions(&complete_functions(&conf, "sta"));
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&cache)
        .and_then(|f| f.set_modified(hour_ago))
        .expect("age the cache");
    assert_state_functions(&complete_functions(&conf, "sta"));
}

#[test]
fn function_completion_without_a_master_or_cache_prints_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("conf");
    std::fs::create_dir_all(&conf).expect("mkdir");
    std::fs::write(
        conf.join("master"),
        format!("root_dir: {}\n", dir.path().join("root").display()),
    )
    .expect("config");
    assert!(complete_functions(&conf, "sta").is_empty());
    // A config that does not load is no error either.
    std::fs::write(conf.join("master"), "timeout: [1, 2]\n").expect("config");
    assert!(complete_functions(&conf, "").is_empty());
}
