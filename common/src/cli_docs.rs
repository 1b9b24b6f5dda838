//! Man pages and shell completions generated from a binary's own clap
//! definition, for the Debian packages (`pkg/build-debs.sh`).
//!
//! Every binary calls [`generate_if_asked`] first thing in `main`, so
//! `brine --generate-man DIR` writes `brine.1` (and a page per subcommand)
//! and `brine --generate-completions bash|zsh|fish` prints the script
//! (`brine`'s with function-name completion added, [`crate::cli_complete`]).
//! Why a hidden flag in each binary rather than a separate generator: the
//! `Cli` structs live in the binaries' own files, so a separate tool would
//! need a second copy of (or a move of) every definition; this way there is
//! one definition per CLI and no extra binary in the packages. The flags are
//! read from the raw arguments before clap parses, because clap would
//! otherwise demand the command's required arguments (`brine TARGET FUN`);
//! they are not clap arguments, so they appear in no help, page or
//! completion.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli_complete;

/// The hidden flag that writes man pages into a directory.
pub const GENERATE_MAN: &str = "--generate-man";
/// The hidden flag that prints a completion script for a shell.
pub const GENERATE_COMPLETIONS: &str = "--generate-completions";

/// What the raw arguments ask for, when they ask for documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocRequest {
    /// Write `<name>.1` and one page per subcommand into this directory.
    Man(PathBuf),
    /// Print the completion script for this shell on stdout.
    Completions(Shell),
}

#[derive(Debug, thiserror::Error)]
pub enum DocError {
    #[error("{GENERATE_MAN} needs a directory: {GENERATE_MAN} DIR")]
    MissingDir,
    #[error("{GENERATE_COMPLETIONS} needs a shell: bash, zsh or fish")]
    MissingShell,
    #[error("{GENERATE_COMPLETIONS}: unknown shell {0:?} (bash, zsh, fish)")]
    UnknownShell(String),
    #[error("writing documentation to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The request in `args` (the program name first), if its first argument is
/// one of the hidden flags; anything else is left to clap.
pub fn doc_request(args: &[OsString]) -> Option<Result<DocRequest, DocError>> {
    let flag = args.get(1)?.to_str()?;
    let value = args.get(2);
    match flag {
        GENERATE_MAN => Some(
            value
                .map(|dir| DocRequest::Man(PathBuf::from(dir)))
                .ok_or(DocError::MissingDir),
        ),
        GENERATE_COMPLETIONS => Some(parse_shell(value)),
        _ => None,
    }
}

/// Only the shells the packages install completions for.
fn parse_shell(value: Option<&OsString>) -> Result<DocRequest, DocError> {
    let name = value
        .ok_or(DocError::MissingShell)?
        .to_string_lossy()
        .into_owned();
    match name.as_str() {
        "bash" => Ok(DocRequest::Completions(Shell::Bash)),
        "zsh" => Ok(DocRequest::Completions(Shell::Zsh)),
        "fish" => Ok(DocRequest::Completions(Shell::Fish)),
        _ => Err(DocError::UnknownShell(name)),
    }
}

/// Writes the man pages of `cmd` into `dir` (created if missing).
pub fn write_man_pages(cmd: clap::Command, dir: &Path) -> Result<(), DocError> {
    let write_error = |source| DocError::Write {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(write_error)?;
    clap_mangen::generate_to(cmd, dir).map_err(write_error)
}

/// Writes the completion script of `cmd` for `shell` to `out`; `brine`'s
/// also completes function names ([`crate::cli_complete`]).
pub fn write_completions(
    mut cmd: clap::Command,
    shell: Shell,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let name = cmd.get_name().to_string();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut script);
    let script = String::from_utf8_lossy(&script).into_owned();
    out.write_all(cli_complete::with_function_completion(&cmd, shell, script).as_bytes())
}

/// Carries out a documentation request for the binary whose clap definition
/// is `C` and exits; returns at once when the arguments ask for none.
pub fn generate_if_asked<C: CommandFactory>() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let Some(request) = doc_request(&args) else {
        return;
    };
    let result = request.and_then(|request| run(C::command(), request));
    match result {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2)
        }
    }
}

fn run(cmd: clap::Command, request: DocRequest) -> Result<(), DocError> {
    match request {
        DocRequest::Man(dir) => write_man_pages(cmd, &dir),
        DocRequest::Completions(shell) => {
            let mut stdout = std::io::stdout().lock();
            write_completions(cmd, shell, &mut stdout)
                .and_then(|()| stdout.flush())
                .map_err(|source| DocError::Write {
                    path: PathBuf::from("<stdout>"),
                    source,
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn sample() -> clap::Command {
        clap::Command::new("sample")
            .about("A sample")
            .arg(clap::Arg::new("timeout").long("timeout").short('t'))
            .subcommand(clap::Command::new("serve").about("Serve it"))
    }

    #[test]
    fn ordinary_arguments_are_left_to_clap() {
        assert!(doc_request(&args(&["brine", "*", "test.ping"])).is_none());
        assert!(doc_request(&args(&["brine"])).is_none());
        // Only as the first argument: a target may be any word.
        assert!(doc_request(&args(&["brine", "*", "--generate-man", "d"])).is_none());
    }

    #[test]
    fn the_hidden_flags_are_read() {
        assert_eq!(
            doc_request(&args(&["brine", "--generate-man", "out"])).map(Result::ok),
            Some(Some(DocRequest::Man(PathBuf::from("out"))))
        );
        for (name, shell) in [
            ("bash", Shell::Bash),
            ("zsh", Shell::Zsh),
            ("fish", Shell::Fish),
        ] {
            assert_eq!(
                doc_request(&args(&["brine", "--generate-completions", name])).map(Result::ok),
                Some(Some(DocRequest::Completions(shell)))
            );
        }
    }

    #[test]
    fn a_missing_or_unknown_value_is_an_error() {
        assert!(matches!(
            doc_request(&args(&["brine", "--generate-man"])),
            Some(Err(DocError::MissingDir))
        ));
        assert!(matches!(
            doc_request(&args(&["brine", "--generate-completions"])),
            Some(Err(DocError::MissingShell))
        ));
        assert!(matches!(
            doc_request(&args(&["brine", "--generate-completions", "tcsh"])),
            Some(Err(DocError::UnknownShell(s))) if s == "tcsh"
        ));
    }

    #[test]
    fn man_pages_cover_the_command_and_its_subcommands() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_man_pages(sample(), dir.path()).expect("man pages");
        let page = std::fs::read_to_string(dir.path().join("sample.1")).expect("sample.1");
        assert!(page.contains(".TH sample 1"), "{page}");
        assert!(page.contains("timeout"), "{page}");
        assert!(dir.path().join("sample-serve.1").exists());
    }

    #[test]
    fn completions_name_the_flags_and_subcommands() {
        let mut out = Vec::new();
        write_completions(sample(), Shell::Bash, &mut out).expect("write");
        let script = String::from_utf8(out).expect("utf-8");
        assert!(script.contains("--timeout"), "{script}");
        assert!(script.contains("serve"), "{script}");
    }
}
