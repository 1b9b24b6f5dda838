//! The ssh command lines and the remote scripts `brine-ssh` runs.
//!
//! Nothing here goes through a local shell: ssh gets an argument vector, each
//! roster value one element of it, the destination after `--`. What runs on
//! the host is one line of POSIX shell that ssh hands to the login shell;
//! every value in it (paths, the config, the function's arguments) is
//! single-quoted by [`quote`], so none is ever read as shell syntax there.

use std::ffi::OsString;
use std::path::Path;

use super::roster::Entry;

/// Printed by the remote script, alone on a line, on stdout and stderr just
/// before `brine-call` starts: what comes after it on stdout is the channel
/// (frames: requests from `brine-call`, its output at the end), what comes
/// before it is the login shell's (a motd, a profile's echo).
pub const DELIMITER: &str = "_brine_ssh_7c1e5b0f4a2d9e86b3c0d1f5a7e2b4c9";

/// Printed alone on a line, with exit code [`EXIT_DEPLOY`], when the host
/// lacks this `brine-call`.
pub const DEPLOY_REQUEST: &str = "_brine_ssh_deploy_3f9a6c1d8e2b7f40a5c6d9e1b2f38a70";

/// The remote script's exit code when `brine-call` is missing or another
/// version (Salt's shim uses 11 for "deploy").
pub const EXIT_DEPLOY: i32 = 11;

/// The remote script's exit code when `thin_dir` is not a directory the
/// login user owns (Salt's 73).
pub const EXIT_BAD_THIN_DIR: i32 = 73;

/// How every ssh call of one run connects.
pub struct Connection<'a> {
    /// Where the multiplexed connections' sockets live (`ControlPath`).
    pub control_dir: &'a Path,
    /// `-i`: accept a host key not seen before (ssh adds it to known_hosts);
    /// a changed key is refused all the same.
    pub ignore_host_keys: bool,
    pub known_hosts_file: Option<&'a Path>,
}

impl Connection<'_> {
    /// `ssh`'s arguments to run `remote` on `entry`'s host.
    pub fn args(&self, entry: &Entry, remote: &str) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        let mut option = |text: String| {
            args.push("-o".into());
            args.push(text.into());
        };
        // No prompt can be answered: an unknown host key or a password
        // request fails at once instead of hanging.
        option("BatchMode=yes".into());
        // First on the line, so the user's ssh config cannot turn them on
        // (ssh keeps an option's first value): a compromised host gets no
        // agent, no X display and no local command.
        option("ForwardAgent=no".into());
        option("ForwardX11=no".into());
        option("PermitLocalCommand=no".into());
        option(format!("ConnectTimeout={}", entry.timeout));
        option("ServerAliveInterval=60".into());
        option("ServerAliveCountMax=3".into());
        // One connection per host for the check, the copy and the run, kept
        // a minute for the next `brine-ssh`.
        option("ControlMaster=auto".into());
        option(format!("ControlPath={}/%C", self.control_dir.display()));
        option("ControlPersist=60".into());
        if self.ignore_host_keys {
            // A key not seen before is taken and recorded; a changed one is
            // still refused (Salt's `no` would connect to an impostor).
            option("StrictHostKeyChecking=accept-new".into());
        }
        if let Some(file) = self.known_hosts_file {
            option(format!("UserKnownHostsFile={}", file.display()));
        }
        for extra in &entry.ssh_options {
            option(extra.clone());
        }
        args.push("-p".into());
        args.push(entry.port.to_string().into());
        args.push("-l".into());
        args.push(entry.user.clone().into());
        if let Some(key) = &entry.priv_key {
            args.push("-i".into());
            args.push(key.clone().into());
        }
        if entry.tty {
            args.push("-t".into());
            args.push("-t".into());
        }
        args.push("--".into());
        args.push(entry.host.clone().into());
        args.push(remote.into());
        args
    }
}

/// `text` as one word of POSIX shell: in single quotes, each `'` as `'\''`.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// What the host runs for a function: check that `thin_dir` holds the
/// `brine-call` of `hash`, write the minion config into `conf_dir` (the
/// roster id's own directory under `thin_dir`: several ids may share a host
/// and a login), print the delimiter and hand over to `brine-call --local
/// --ssh-channel`; or print [`DEPLOY_REQUEST`] and exit [`EXIT_DEPLOY`] to
/// ask for the binary.
pub fn run_script(
    thin_dir: &str,
    conf_dir: &str,
    hash: &str,
    config: &str,
    sudo: bool,
    argv: &[String],
) -> String {
    let words: Vec<String> = argv.iter().map(|a| quote(a)).collect();
    let sudo = if sudo { "sudo -n " } else { "" };
    format!(
        "D={d}; C={c}; umask 077; \
         if [ -x \"$D/brine-call\" ] && [ \"$(cat \"$D/brine-call.sha256\" 2>/dev/null)\" = {hash} ]; then \
         {owned} \
         mkdir -p \"$C\" && printf '%s\\n' {config} > \"$C/minion\" && \
         echo {DELIMITER} && echo {DELIMITER} >&2 && \
         exec {sudo}\"$D/brine-call\" -c \"$C\" --local --ssh-channel --retcode-passthrough --out json -- {words}; \
         else echo {DEPLOY_REQUEST}; exit {EXIT_DEPLOY}; fi",
        d = quote(thin_dir),
        c = quote(conf_dir),
        owned = owned_check("$D"),
        hash = quote(hash),
        config = quote(config),
        words = words.join(" "),
    )
}

/// What the host runs to take the binary on stdin: into `thin_dir` (made
/// 0700 and checked to be the user's own directory), checked against `hash`,
/// then moved into place (a part file per process: hosts that share a
/// `thin_dir` may copy at once).
pub fn deploy_script(thin_dir: &str, hash: &str) -> String {
    format!(
        "D={d}; umask 077; mkdir -p \"$D\" && {owned} \
         P=\"$D/brine-call.part.$$\"; cat > \"$P\" && \
         [ \"$(sha256sum \"$P\" | cut -d' ' -f1)\" = {hash} ] && \
         chmod 700 \"$P\" && mv -f \"$P\" \"$D/brine-call\" && \
         printf '%s' {hash} > \"$D/brine-call.sha256\" || {{ rm -f \"$P\"; exit 1; }}",
        d = quote(thin_dir),
        owned = owned_check("$D"),
        hash = quote(hash),
    )
}

/// Refuses a directory (`dir`, a shell word such as `"$D"`) that is a link,
/// not a directory, another user's or writable by group or others: whoever
/// could write there could swap a file between its check and its use, or
/// plant a link where ours is written. Exit [`EXIT_BAD_THIN_DIR`].
pub fn owned_check(dir: &str) -> String {
    format!(
        "{{ [ -d {dir} ] && [ ! -L {dir} ] && [ -O {dir} ] && \
         case \"$(ls -ld {dir})\" in d????w*|d???????w*) false;; *) true;; esac; }} || \
         {{ echo \"ERROR: {dir} is not a directory of this user that only it can write to\" >&2; exit {EXIT_BAD_THIN_DIR}; }};"
    )
}

/// `script` run by `/bin/sh` whatever the login shell (csh, fish, ...):
/// the login shell gets one line whose only quoted text is base64, which
/// every shell reads alike, and `sh` decodes and runs the script (stdin is
/// left to it).
pub fn via_sh(script: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(script);
    format!("/bin/sh -c 'eval \"$(echo {encoded} | base64 -d)\"'")
}

/// The default `thin_dir`: per login user, under `/var/tmp` (Salt's place).
pub fn default_thin_dir(user: &str) -> String {
    let user: String = user
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("/var/tmp/.{user}_brine")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_words_come_back_whole_from_a_shell() {
        let nasty = [
            "plain",
            "a b",
            "it's",
            "'; touch /tmp/brine-pwned; '",
            "$(id)",
            "`id`",
            "x\ny",
            "--help",
            "*",
            "\\",
            "",
        ];
        let script = format!(
            "printf '%s\\0' {}",
            nasty.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
        );
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&script)
            .output()
            .expect("sh runs");
        let words: Vec<&[u8]> = out.stdout.split(|b| *b == 0).collect();
        let expected: Vec<&[u8]> = nasty.iter().map(|w| w.as_bytes()).collect();
        assert_eq!(&words[..nasty.len()], &expected[..]);
    }

    #[test]
    fn only_a_directory_of_ours_that_no_one_else_can_write_to_passes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let check = |path: &Path| {
            let script = format!(
                "D={}; {} echo ok",
                quote(&path.to_string_lossy()),
                owned_check("\"$D\"")
            );
            std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(script)
                .output()
                .expect("sh")
                .status
                .code()
        };
        let mine = dir.path().join("mine");
        std::fs::create_dir(&mine).expect("mkdir");
        std::fs::set_permissions(&mine, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert_eq!(check(&mine), Some(0));
        for mode in [0o775, 0o757, 0o777] {
            std::fs::set_permissions(&mine, std::fs::Permissions::from_mode(mode)).expect("chmod");
            assert_eq!(check(&mine), Some(EXIT_BAD_THIN_DIR), "mode {mode:o}");
        }
        std::fs::set_permissions(&mine, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&mine, &link).expect("link");
        assert_eq!(check(&link), Some(EXIT_BAD_THIN_DIR), "a link");
        assert_eq!(check(&dir.path().join("missing")), Some(EXIT_BAD_THIN_DIR));
    }

    #[test]
    fn a_script_via_sh_runs_as_written() {
        let script = "printf '%s|' \"$0\" 'it'\\''s' \"$(echo a b)\"; cat";
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(via_sh(script))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(b"from stdin")?;
                child.wait_with_output()
            })
            .expect("sh runs");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "/bin/sh|it's|a b|from stdin"
        );
        assert!(
            via_sh(script)
                .trim_start_matches("/bin/sh -c 'eval \"$(echo ")
                .trim_end_matches(" | base64 -d)\"'")
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c))
        );
    }

    #[test]
    fn every_value_is_one_argument_and_the_host_comes_after_the_options() {
        let entry = Entry {
            id: "web1".into(),
            host: "example.org".into(),
            port: 2222,
            user: "o'neil".into(),
            priv_key: Some("/keys/a key".into()),
            sudo: false,
            tty: false,
            timeout: 7,
            minion_opts: Default::default(),
            thin_dir: None,
            ssh_options: vec!["Compression=yes".into()],
            install: Default::default(),
        };
        let connection = Connection {
            control_dir: Path::new("/run/x"),
            ignore_host_keys: false,
            known_hosts_file: None,
        };
        let args = connection.args(&entry, "echo hi");
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let tail = &args[args.len() - 3..];
        assert_eq!(tail, ["--", "example.org", "echo hi"]);
        let at = |flag: &str| args.iter().position(|a| a == flag).expect(flag) + 1;
        assert_eq!(args[at("-l")], "o'neil");
        assert_eq!(args[at("-i")], "/keys/a key");
        assert_eq!(args[at("-p")], "2222");
        assert!(args.contains(&"ConnectTimeout=7".to_string()));
        assert!(
            !args.iter().any(|a| a.contains("StrictHostKeyChecking")),
            "ssh's own rule unless -i"
        );
    }
}
