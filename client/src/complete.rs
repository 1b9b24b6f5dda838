//! `brine [-c DIR] --complete-functions [PREFIX]` (issue 18): the function
//! names the shell completion of `brine` offers after the target, one a
//! line, from a cache of the minions' `sys.list_functions` in the master's
//! cachedir (`<cachedir>/completion/functions`).
//!
//! As Salt's completion does, the answer is cached: a cache younger than
//! [`MAX_AGE`] is printed as it is; an older or missing one is refreshed by
//! publishing `sys.list_functions` to every minion with a short deadline,
//! the union of the returns written atomically (temp file, rename). A
//! completion must never disturb the terminal, so nothing here prints an
//! error or fails: an unreachable master, a socket the user may not use or
//! a cachedir they may not write all fall back to the stale cache, or to
//! nothing, and the exit code is 0. The shell snippets that call the flag
//! are `brine_common::cli_complete`'s.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use brine_common::cli_complete::COMPLETE_FUNCTIONS;
use brine_common::config::{DEFAULT_CONFIG_DIR, MasterConfig, load};
use brine_common::target::TargetType;
use serde_json::{Map, Value};

use crate::{Client, JobRequest};

/// How long the cache answers without asking the minions again.
pub const MAX_AGE: Duration = Duration::from_secs(600);
/// Silence after which a minion is given up on during a refresh.
const SILENCE: Duration = Duration::from_secs(2);
/// The whole refresh, connecting included: a TAB must not hang.
const DEADLINE: Duration = Duration::from_secs(3);
/// The function whose returns fill the cache.
const LIST_FUNCTIONS: &str = "sys.list_functions";

/// What the raw arguments ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `-c DIR`/`--config-dir DIR` given before the flag.
    pub config_dir: Option<PathBuf>,
    /// Only names starting with this (empty: all).
    pub prefix: String,
}

impl Request {
    /// The master config's directory: `-c`, else `BRINE_CONFIG_DIR` (as
    /// clap reads it for the other flags), else /etc/brine.
    pub fn config_dir(&self) -> PathBuf {
        self.config_dir
            .clone()
            .or_else(|| std::env::var_os("BRINE_CONFIG_DIR").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_DIR))
    }
}

/// The request in `args` (the program name first) when they are
/// `[-c DIR | --config-dir DIR | --config-dir=DIR | -cDIR] --complete-functions [PREFIX]`;
/// anything else is left to clap.
pub fn request(args: &[OsString]) -> Option<Request> {
    let words: Vec<&str> = args
        .iter()
        .skip(1)
        .map(|a| a.to_str())
        .collect::<Option<_>>()?;
    let (config_dir, rest) = match words.as_slice() {
        ["-c" | "--config-dir", dir, rest @ ..] => (Some(PathBuf::from(dir)), rest),
        [first, rest @ ..] if first.starts_with("--config-dir=") => {
            (first.strip_prefix("--config-dir=").map(PathBuf::from), rest)
        }
        [first, rest @ ..] if first.starts_with("-c") && first.len() > 2 => {
            (first.strip_prefix("-c").map(PathBuf::from), rest)
        }
        rest => (None, rest),
    };
    match rest {
        [flag] if *flag == COMPLETE_FUNCTIONS => Some(Request {
            config_dir,
            prefix: String::new(),
        }),
        [flag, prefix] if *flag == COMPLETE_FUNCTIONS => Some(Request {
            config_dir,
            prefix: (*prefix).to_string(),
        }),
        _ => None,
    }
}

/// Where the cache lives under the master's `cachedir`.
pub fn cache_path(cachedir: &Path) -> PathBuf {
    cachedir.join("completion").join("functions")
}

/// A cache written at `modified` still answers at `now`. One dated in the
/// future (the clock went back) is treated as stale rather than trusted
/// for however long the jump was.
pub fn is_fresh(modified: SystemTime, now: SystemTime) -> bool {
    now.duration_since(modified).is_ok_and(|age| age < MAX_AGE)
}

/// The names in `names` that start with `prefix`, in their order.
pub fn matching<'a>(names: &'a [String], prefix: &str) -> Vec<&'a str> {
    names
        .iter()
        .map(String::as_str)
        .filter(|name| name.starts_with(prefix))
        .collect()
}

/// The function names of one `sys.list_functions` return (its event
/// data); nothing for a failed return or one of another shape.
pub fn names_in_return(data: &Value) -> Vec<String> {
    let retcode = data.get("retcode").and_then(Value::as_i64).unwrap_or(0);
    if retcode != 0 {
        return Vec::new();
    }
    data.get("return")
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The cached names and when they were written, if the cache is readable.
pub fn read_cache(path: &Path) -> Option<(Vec<String>, SystemTime)> {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok()?;
    let text = std::fs::read_to_string(path).ok()?;
    let names = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect();
    Some((names, modified))
}

/// Write the cache as a whole: a temp file beside it, renamed over it, so a
/// completion running at the same time reads the old list or the new one,
/// never half of one.
pub fn write_cache(path: &Path, names: &BTreeSet<String>) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".functions.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        for name in names {
            writeln!(file, "{name}")?;
        }
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Ask every minion for its functions: the union of the returns that came
/// within [`DEADLINE`], or `None` when the master could not be asked or no
/// minion answered.
async fn ask_minions(sock_dir: &Path) -> Option<BTreeSet<String>> {
    let job = JobRequest {
        tgt: Value::String("*".into()),
        tgt_type: TargetType::Glob,
        fun: LIST_FUNCTIONS.into(),
        arg: Vec::new(),
        kwarg: Map::new(),
        // The master takes the user from the socket's peer credentials.
        user: String::new(),
    };
    let mut names = BTreeSet::new();
    let client = Client::new(sock_dir);
    // Whether the master could not be asked, the wait ended or the deadline
    // cut it short, what had arrived is the answer.
    let _ = tokio::time::timeout(DEADLINE, async {
        let published = client.publish(job, true).await.ok()??;
        published
            .wait(SILENCE, |arrived| {
                names.extend(names_in_return(&arrived.data))
            })
            .await
            .ok()
    })
    .await;
    (!names.is_empty()).then_some(names)
}

/// Refresh the cache from the minions; the new names, if any came.
fn refresh(sock_dir: &Path, cache: &Path) -> Option<Vec<String>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let names = runtime.block_on(ask_minions(sock_dir))?;
    // A cachedir the user may not write (it is root's) only costs the
    // next completion another refresh: the names are printed all the same.
    let _ = write_cache(cache, &names);
    Some(names.into_iter().collect())
}

/// The names to offer for `req`: the cache when fresh, else the minions'
/// answer, else the stale cache, else none.
pub fn names_for(req: &Request) -> Vec<String> {
    let Ok(loaded) = load::<MasterConfig>(&req.config_dir()) else {
        return Vec::new();
    };
    let config = loaded.config;
    let cache = cache_path(&config.cachedir);
    let cached = read_cache(&cache);
    let all = match cached {
        Some((names, modified)) if is_fresh(modified, SystemTime::now()) => names,
        stale => refresh(&config.sock_dir, &cache)
            .or(stale.map(|(names, _)| names))
            .unwrap_or_default(),
    };
    matching(&all, &req.prefix)
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// Answers `--complete-functions` and exits 0 when the arguments ask for
/// it; returns at once otherwise. Call it first thing in `brine`'s `main`.
pub fn complete_functions_if_asked() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let Some(req) = request(&args) else {
        return;
    };
    let mut out = std::io::stdout().lock();
    for name in names_for(&req) {
        // A closed pipe (the shell gave up) is no error worth a word.
        if writeln!(out, "{name}").is_err() {
            break;
        }
    }
    let _ = out.flush();
    std::process::exit(0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn req(dir: Option<&str>, prefix: &str) -> Option<Request> {
        Some(Request {
            config_dir: dir.map(PathBuf::from),
            prefix: prefix.into(),
        })
    }

    #[test]
    fn the_flag_is_read_alone_or_after_the_config_dir() {
        assert_eq!(
            request(&args(&["brine", "--complete-functions"])),
            req(None, "")
        );
        assert_eq!(
            request(&args(&["brine", "--complete-functions", "sta"])),
            req(None, "sta")
        );
        for words in [
            &["brine", "-c", "/d", "--complete-functions", "sta"][..],
            &["brine", "--config-dir", "/d", "--complete-functions", "sta"],
            &["brine", "--config-dir=/d", "--complete-functions", "sta"],
            &["brine", "-c/d", "--complete-functions", "sta"],
        ] {
            assert_eq!(request(&args(words)), req(Some("/d"), "sta"), "{words:?}");
        }
    }

    #[test]
    fn anything_else_is_left_to_clap() {
        assert_eq!(request(&args(&["brine", "*", "test.ping"])), None);
        assert_eq!(request(&args(&["brine"])), None);
        assert_eq!(
            request(&args(&["brine", "*", "--complete-functions", "x"])),
            None
        );
        assert_eq!(
            request(&args(&["brine", "--complete-functions", "a", "b"])),
            None
        );
        assert_eq!(request(&args(&["brine", "-c", "/d"])), None);
    }

    #[test]
    fn the_prefix_filters_and_empty_keeps_all() {
        let names: Vec<String> = ["state.apply", "state.sls", "sys.doc", "test.ping"]
            .map(String::from)
            .to_vec();
        assert_eq!(matching(&names, "sta"), ["state.apply", "state.sls"]);
        assert_eq!(
            matching(&names, "s"),
            ["state.apply", "state.sls", "sys.doc"]
        );
        assert_eq!(matching(&names, "").len(), 4);
        assert!(matching(&names, "nope").is_empty());
    }

    #[test]
    fn the_cache_is_fresh_for_ten_minutes_and_never_from_the_future() {
        let now = SystemTime::now();
        assert!(is_fresh(now, now));
        assert!(is_fresh(now - Duration::from_secs(599), now));
        assert!(!is_fresh(now - Duration::from_secs(600), now));
        assert!(!is_fresh(now + Duration::from_secs(60), now));
    }

    #[test]
    fn only_successful_list_returns_give_names() {
        let ok = json!({"return": ["state.apply", "test.ping", 3], "retcode": 0});
        assert_eq!(names_in_return(&ok), ["state.apply", "test.ping"]);
        assert!(names_in_return(&json!({"return": "oops", "retcode": 1})).is_empty());
        assert!(names_in_return(&json!({"return": ["x"], "retcode": 1})).is_empty());
        assert!(names_in_return(&json!({"return": {"a": 1}})).is_empty());
    }

    #[test]
    fn the_cache_is_written_whole_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = cache_path(dir.path());
        assert!(read_cache(&path).is_none());
        let names: BTreeSet<String> = ["test.ping", "state.apply"].map(String::from).into();
        write_cache(&path, &names).expect("write");
        let (read, modified) = read_cache(&path).expect("read");
        assert_eq!(read, ["state.apply", "test.ping"]);
        assert!(is_fresh(modified, SystemTime::now()));
        // No temp file left beside it.
        let entries = std::fs::read_dir(path.parent().expect("dir")).expect("list");
        assert_eq!(entries.count(), 1);
    }

    #[test]
    fn no_master_and_no_cache_is_nothing_and_a_stale_cache_still_answers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::write(
            root.join("master"),
            format!("root_dir: {}\n", root.display()),
        )
        .expect("config");
        let req = Request {
            config_dir: Some(root.to_path_buf()),
            prefix: "sta".into(),
        };
        // No socket there: nothing, quietly.
        assert!(names_for(&req).is_empty());

        let config = load::<MasterConfig>(root).expect("config").config;
        let cache = cache_path(&config.cachedir);
        let names: BTreeSet<String> = ["state.apply", "test.ping"].map(String::from).into();
        write_cache(&cache, &names).expect("write");
        let old = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&cache)
            .and_then(|f| f.set_modified(old))
            .expect("age the cache");
        assert_eq!(names_for(&req), ["state.apply"]);
    }

    #[test]
    fn a_broken_config_is_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("master"), "timeout: [not, a, number]\n").expect("config");
        let req = Request {
            config_dir: Some(dir.path().to_path_buf()),
            prefix: String::new(),
        };
        assert!(names_for(&req).is_empty());
    }
}
