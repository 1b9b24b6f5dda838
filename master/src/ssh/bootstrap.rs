//! `brine-ssh <target> --bootstrap`: a minion installed and started on
//! roster hosts, already accepted by this master.
//!
//! Per host, over the one multiplexed ssh connection: a probe reads what is
//! there (the installed binary's hash, the minion's key), then only what
//! differs is done, in an order that leaves nothing half made:
//! 1. the key is decided before anything is written: the host's own key
//!    when it has one (accepted here unless this master holds another key
//!    for the id, which is refused), else a key pair made here, whose
//!    private half goes over ssh to the host's `pki_dir` and nowhere else;
//! 2. `brine-minion` copied (stripped, checked by its SHA-256);
//! 3. the key written on the host, then its public half accepted here;
//! 4. the config written, this master's public key pinned as the minion's
//!    `minion_master.pub` (so it trusts this master from its first
//!    connection), and the service started, or restarted when anything it
//!    runs with changed: a systemd unit where systemd runs and the login is
//!    root, else a process in its own session with a pid file.
//!
//! A second run finds everything in place and changes nothing. Every remote
//! script runs under `/bin/sh -c` (`sudo -n` first with the roster's
//! `sudo`), whatever the login shell, with every value single-quoted
//! ([`quote`]) and multi-line text written by `printf` one line per word.

use std::sync::Arc;

use brine_common::config::{ConfigFile, MasterConfig, MinionConfig, from_text};
use brine_common::crypto::{Identity, PublicKey};
use brine_common::ids::MinionId;
use serde_json::{Map, Value, json};

use super::command::{self, Connection, DELIMITER, owned_check, quote};
use super::roster::{Entry, Install};
use super::session::{self, HostReturn, Output, Stdin, Thin};
use crate::keys::{KeyState, Keys};
use brine_client::KeyCommand;

/// Where a bootstrapped minion's systemd unit goes.
const UNIT_PATH: &str = "/etc/systemd/system/brine-minion.service";

/// This master, as the new minions are to find and trust it.
pub struct Master {
    keys: KeyDesk,
    /// Pinned on every host as `minion_master.pub`.
    pub public: PublicKey,
    /// Where minions connect when the roster's `minion_opts` name no
    /// `master`: the master's `interface`, unless that is a wildcard.
    pub address: Option<String>,
    pub ret_port: u16,
    pub publish_port: u16,
}

/// Where key decisions are made: the running master (its socket, so its
/// own lock orders them with minions' auth requests and it sends the
/// `salt/key` event), else the key store itself, as `brine-key` does.
enum KeyDesk {
    Running(brine_client::Client),
    Store(Arc<dyn Keys>),
}

impl Master {
    /// The master `config` describes: through its socket when it runs.
    pub async fn from_config(config: &MasterConfig) -> Result<Master, String> {
        let (_, pub_path) = crate::daemon::master_key_paths(config);
        let public = PublicKey::load(&pub_path).map_err(|e| {
            format!("the master's public key: {e} (brine-master makes it when it first starts)")
        })?;
        let client = brine_client::Client::new(&config.sock_dir);
        let probe = KeyCommand::Fingerprints {
            pattern: "*".into(),
        };
        let keys = match client.keys(probe).await {
            Ok(_) => KeyDesk::Running(client),
            Err(brine_client::ClientError::Connect { .. }) => {
                tracing::debug!("no master running: bootstrapping on the key store itself");
                let store =
                    crate::keys::open_configured(config).map_err(|e| format!("key store: {e}"))?;
                KeyDesk::Store(store)
            }
            Err(e) => return Err(format!("the master's socket: {e}")),
        };
        let wildcard = ["", "0.0.0.0", "::", "[::]"].contains(&config.interface.as_str());
        Ok(Master {
            keys,
            public,
            address: (!wildcard).then(|| config.interface.clone()),
            ret_port: config.ret_port,
            publish_port: config.publish_port,
        })
    }

    /// Runs a key command where decisions are made; its reply's map.
    async fn keys(&self, cmd: KeyCommand) -> Result<Map<String, Value>, String> {
        match &self.keys {
            KeyDesk::Running(client) => client
                .keys(cmd)
                .await
                .map(|reply| reply.into_map())
                .map_err(|e| e.to_string()),
            KeyDesk::Store(store) => {
                let (store, public) = (store.clone(), self.public);
                tokio::task::spawn_blocking(move || {
                    crate::key_admin::execute(store.as_ref(), &cmd, &public)
                        .map(|(reply, _)| reply.into_map())
                        .map_err(|e| e.to_string())
                })
                .await
                .map_err(|e| e.to_string())?
            }
        }
    }

    /// Every key with its state and fingerprint.
    async fn all_keys(&self) -> Result<Vec<(KeyState, MinionId, String)>, String> {
        let listing = self
            .keys(KeyCommand::Fingerprints {
                pattern: "*".into(),
            })
            .await?;
        let mut all = Vec::new();
        for state in KeyState::ALL {
            let Some(Value::Object(ids)) = listing.get(state.json_name()) else {
                continue;
            };
            for (id, finger) in ids {
                if let (Ok(id), Some(finger)) = (MinionId::parse(id), finger.as_str()) {
                    all.push((state, id, finger.to_string()));
                }
            }
        }
        Ok(all)
    }

    /// Accepts exactly `public` as `id`'s.
    async fn accept(&self, id: &str, public: PublicKey) -> Result<(), String> {
        self.keys(KeyCommand::AcceptKey {
            id: id.to_string(),
            key: public.to_pem(),
        })
        .await
        .map(|_| ())
    }
}

/// Installs, configures and starts the minion of `entry`; the return says
/// what each step did (`binary`, `key`, `config`, `master_key`, `service`).
///
/// `minion_arch` is the architecture the shipped binary is built for, when
/// known (the packaged or installed one: this machine's); a host of another
/// is refused before anything is copied.
pub async fn bootstrap(
    connection: &Connection<'_>,
    entry: &Entry,
    minion: &Thin<'_>,
    minion_arch: Option<&str>,
    master: &Master,
) -> HostReturn {
    match steps(connection, entry, minion, minion_arch, master).await {
        Ok(done) => HostReturn {
            ret: Value::Object(done),
            retcode: 0,
            success: true,
        },
        Err(failure) => failure,
    }
}

async fn steps(
    connection: &Connection<'_>,
    entry: &Entry,
    minion: &Thin<'_>,
    minion_arch: Option<&str>,
    master: &Master,
) -> Result<Map<String, Value>, HostReturn> {
    let fail = |reason: String| HostReturn::failed(Value::String(reason), 1);
    MinionId::parse(&entry.id)
        .map_err(|e| fail(format!("{:?} cannot be a minion id: {e}", entry.id)))?;
    let config = MinionFiles::new(entry, master).map_err(fail)?;
    let install = &entry.install;
    let probe = run(
        connection,
        entry,
        "looking at the host",
        &probe_script(install, &config.pki_dir),
        Stdin::Nothing,
    )
    .await?;
    let found = Found::parse(&probe.stdout).map_err(fail)?;
    found.check_id(entry).map_err(fail)?;
    if let (Some(built_for), Some(host)) = (minion_arch, found.arch.as_deref())
        && !same_arch(built_for, host)
    {
        return Err(fail(format!(
            "the host is {host} and the brine-minion here is built for {built_for}: \
             give one built for {host} with --minion-binary"
        )));
    }
    let all = master
        .all_keys()
        .await
        .map_err(|e| fail(format!("the master's keys: {e}")))?;
    let key = key_plan(&entry.id, &found, &all).map_err(fail)?;

    let mut done = Map::new();
    let binary_changed = found.binary.as_deref() != Some(minion.hash);
    if binary_changed {
        let script = install_binary_script(&install.bin, minion.hash);
        let what = "copying brine-minion";
        run(connection, entry, what, &script, Stdin::File(minion.binary)).await?;
    }
    let verb = match &found.binary {
        None => "installed",
        Some(_) if binary_changed => "replaced",
        Some(_) => "unchanged",
    };
    done.insert("binary".into(), json!(format!("{} {verb}", install.bin)));

    let (public, said) = match key {
        KeyPlan::Keep(public) => (public, "accepted already"),
        KeyPlan::AcceptHosts(public) => (public, "the host's key accepted"),
        KeyPlan::Make(identity) => {
            let script = install_key_script(&config.pki_dir, &identity.public().to_pem());
            let secret = identity.private_pem();
            let what = "writing the minion's key";
            run(
                connection,
                entry,
                what,
                &script,
                Stdin::Bytes(secret.as_bytes()),
            )
            .await?;
            (identity.public(), "made here and accepted")
        }
    };
    let key_changed = !matches!(said, "accepted already");
    if key_changed {
        master
            .accept(&entry.id, public)
            .await
            .map_err(|e| fail(format!("accepting the key: {e}")))?;
    }
    done.insert(
        "key".into(),
        json!(format!("{said} ({})", public.fingerprint())),
    );

    let script = configure_script(&ConfigureScript {
        install,
        files: &config,
        master_pub: &master.public.to_pem(),
        restart: binary_changed || key_changed,
        unit_path: UNIT_PATH,
    });
    let configured = run(
        connection,
        entry,
        "starting brine-minion",
        &script,
        Stdin::Nothing,
    )
    .await?;
    for line in session::after_delimiter(&configured.stdout)
        .unwrap_or_default()
        .lines()
    {
        if let Some((step, what)) = line.split_once(' ')
            && ["config", "master_key", "service"].contains(&step)
        {
            done.insert(step.into(), json!(what));
        }
    }
    Ok(done)
}

/// Whether a binary built for Rust's `built_for` (`std::env::consts::ARCH`)
/// runs on a host whose `uname -m` is `host`.
fn same_arch(built_for: &str, host: &str) -> bool {
    match built_for {
        "arm" => host.starts_with("arm"),
        "x86" => matches!(host, "i386" | "i486" | "i586" | "i686"),
        _ => built_for == host,
    }
}

/// Runs `script` with `/bin/sh` on the host; a failure is the host's return.
async fn run(
    connection: &Connection<'_>,
    entry: &Entry,
    what: &str,
    script: &str,
    stdin: Stdin<'_>,
) -> Result<Output, HostReturn> {
    let sudo = if entry.sudo { "sudo -n " } else { "" };
    let remote = format!("{sudo}{}", command::via_sh(script));
    let output = session::ssh(connection, entry, &remote, stdin)
        .await
        .map_err(|reason| HostReturn::failed(Value::String(reason), 1))?;
    if output.code == Some(0) {
        return Ok(output);
    }
    Err(session::connection_failure(&output)
        .unwrap_or_else(|| session::shim_failure(what, &output)))
}

/// What the probe found on the host.
#[derive(Debug, Default, PartialEq)]
struct Found {
    /// The installed binary's SHA-256.
    binary: Option<String>,
    /// Whether `minion.pem` exists.
    private_key: bool,
    /// `minion.pub`, when it exists.
    public_key: Option<String>,
    /// The minion config there, when it exists.
    config: Option<String>,
    /// `uname -m`.
    arch: Option<String>,
}

impl Found {
    /// Refuses a host whose minion config names another id: the roster
    /// entry points at another minion's host (its key must not be accepted
    /// under this id).
    fn check_id(&self, entry: &Entry) -> Result<(), String> {
        let Some(text) = &self.config else {
            return Ok(());
        };
        let config = brine_common::yaml::load(text, "the host's minion config").unwrap_or_default();
        match config.get("id") {
            Some(Value::String(id)) if id != &entry.id => Err(format!(
                "{}/minion on the host is minion {id:?}'s, not {:?}'s: check the roster entry's host",
                entry.install.conf_dir, entry.id
            )),
            _ => Ok(()),
        }
    }

    /// The probe's lines after the delimiter.
    fn parse(stdout: &str) -> Result<Found, String> {
        let Some(report) = session::after_delimiter(stdout) else {
            return Err("the host's answer to the probe lacks its start line".into());
        };
        let mut found = Found::default();
        let mut lines = report.lines();
        while let Some(line) = lines.next() {
            match line.split_once(' ') {
                Some(("binary", hash)) if !hash.trim().is_empty() => {
                    found.binary = Some(hash.trim().to_owned());
                }
                Some(("arch", arch)) if !arch.trim().is_empty() => {
                    found.arch = Some(arch.trim().to_owned());
                }
                _ if line == "pem" => found.private_key = true,
                _ if line == "pub" => {
                    let text: Vec<&str> = lines.by_ref().take_while(|l| *l != END).collect();
                    found.public_key = Some(text.join("\n"));
                }
                _ if line == "config" => {
                    let text: Vec<&str> = lines.by_ref().take_while(|l| *l != END).collect();
                    found.config = Some(text.join("\n"));
                }
                _ => {}
            }
        }
        Ok(found)
    }
}

/// What becomes of the minion's key.
enum KeyPlan {
    /// The host's key, accepted here already.
    Keep(PublicKey),
    /// The host's key, to accept here.
    AcceptHosts(PublicKey),
    /// A key pair made here for a host that has none.
    Make(Identity),
}

/// Decides the key from what the host has and what this master holds for
/// the id. A key this master holds that is not the host's is never replaced
/// here: that is `brine-key -d`'s decision (another machine may hold it).
fn key_plan(
    id: &str,
    found: &Found,
    all: &[(KeyState, MinionId, String)],
) -> Result<KeyPlan, String> {
    let host = match &found.public_key {
        Some(_) if !found.private_key => {
            return Err(
                "the host has minion.pub without minion.pem (the minion would make a new \
                        pair): remove minion.pub to have a new key made"
                    .into(),
            );
        }
        Some(text) => Some(PublicKey::from_pem(text).ok_or_else(|| {
            "the host's minion.pub is not an Ed25519 public key in PEM form".to_string()
        })?),
        None if found.private_key => {
            return Err(
                "the host has minion.pem without minion.pub: restore minion.pub, \
                        or remove minion.pem to have a new key made"
                    .into(),
            );
        }
        None => None,
    };
    if let Some(key) = &host {
        let finger = key.fingerprint();
        if let Some((_, other, _)) = all.iter().find(|(state, other, f)| {
            *f == finger && other.as_str() != id && *state != KeyState::Denied
        }) {
            return Err(format!(
                "the host's key ({finger}) is minion {other}'s here already: \
                 one key for two ids would let either machine be the other"
            ));
        }
    }
    let stored = all
        .iter()
        .find(|(state, other, _)| other.as_str() == id && *state != KeyState::Denied);
    let same = |finger: &str| host.as_ref().is_some_and(|k| k.fingerprint() == finger);
    match (host, stored) {
        (Some(host), Some((KeyState::Accepted, _, f))) if same(f) => Ok(KeyPlan::Keep(host)),
        (Some(host), Some((KeyState::Pending, _, f))) if same(f) => Ok(KeyPlan::AcceptHosts(host)),
        (Some(_), Some((KeyState::Rejected, _, f))) if same(f) => Err(format!(
            "the master rejected this host's key for {id}: accept it with `brine-key -a {id} \
             --include-rejected`, or delete it with `brine-key -d {id}` to have a new one made"
        )),
        (Some(host), None) => Ok(KeyPlan::AcceptHosts(host)),
        (None, None) => Identity::generate()
            .map(KeyPlan::Make)
            .map_err(|e| format!("cannot make a key pair: {e}")),
        (host, Some((state, _, held))) => {
            let state = match state {
                KeyState::Accepted => "an accepted",
                KeyState::Pending => "a pending",
                KeyState::Rejected => "a rejected",
                KeyState::Denied => "a denied",
            };
            let (on_host, take) = match host {
                Some(key) => (
                    format!("holds another ({})", key.fingerprint()),
                    "the host's",
                ),
                None => ("has none".to_string(), "a new one"),
            };
            Err(format!(
                "the master holds {state} key for {id} ({held}) and the host {on_host}: \
                 delete the master's with `brine-key -d {id}` to take {take}"
            ))
        }
    }
}

/// The minion's config file on the host and the paths it implies.
struct MinionFiles {
    /// The config as written (YAML).
    text: String,
    pki_dir: String,
    log_file: String,
}

impl MinionFiles {
    /// The config: `id`, where this master is (`master`, its ports), then
    /// the roster's `minion_opts`; checked as the minion will read it.
    fn new(entry: &Entry, master: &Master) -> Result<MinionFiles, String> {
        let mut config = Map::new();
        config.insert("id".into(), json!(entry.id));
        if let Some(address) = &master.address {
            config.insert("master".into(), json!(address));
        }
        config.insert("master_port".into(), json!(master.ret_port));
        config.insert("publish_port".into(), json!(master.publish_port));
        config.extend(entry.minion_opts.clone());
        if !config.contains_key("master") {
            return Err(
                "the roster's `minion_opts` name no `master` (where the new minion \
                        finds this master), and this master's `interface` is a wildcard"
                    .into(),
            );
        }
        if config.get("id") != Some(&json!(entry.id)) {
            return Err(
                "`minion_opts` may not give the minion another id than its roster id".into(),
            );
        }
        let text = format!(
            "# Written by brine-ssh --bootstrap: the next bootstrap puts back what it wrote.\n{}",
            brine_common::yaml::dump_block(&Value::Object(config))
        );
        let source = format!("the minion config of {}", entry.id);
        let (mut parsed, _) =
            from_text::<MinionConfig>(&text, &source).map_err(|e| e.to_string())?;
        parsed.apply_root_dir();
        let absolute = |path: &std::path::Path, key: &str| {
            let text = path.to_string_lossy().into_owned();
            if text.starts_with('/') && !text.chars().any(char::is_control) {
                Ok(text)
            } else {
                Err(format!(
                    "{source}: `{key}` must be an absolute path, not {text:?}"
                ))
            }
        };
        Ok(MinionFiles {
            pki_dir: absolute(&parsed.pki_dir, "pki_dir")?,
            log_file: absolute(&parsed.log_file, "log_file")?,
            text,
        })
    }
}

/// `printf` writing `text` line by line: no line break inside a quoted
/// word, so the script stays one line for any login shell.
fn printf_lines(text: &str) -> String {
    let words: Vec<String> = text.trim_end_matches('\n').lines().map(quote).collect();
    format!("printf '%s\\n' {}", words.join(" "))
}

/// Prints the installed binary's hash and the minion's key, after the
/// delimiter.
fn probe_script(install: &Install, pki_dir: &str) -> String {
    format!(
        "B={b}; K={k}; CD={cd}; echo {DELIMITER}; echo {DELIMITER} >&2; \
         echo \"arch $(uname -m)\"; \
         if [ -f \"$B\" ]; then echo \"binary $(sha256sum \"$B\" | cut -d' ' -f1)\"; fi; \
         if [ -e \"$K/minion.pem\" ]; then echo pem; fi; \
         if [ -f \"$K/minion.pub\" ]; then echo pub; cat \"$K/minion.pub\"; echo; echo {END}; fi; \
         if [ -f \"$CD/minion\" ]; then echo config; cat \"$CD/minion\"; echo; echo {END}; fi",
        b = quote(&install.bin),
        k = quote(pki_dir),
        cd = quote(&install.conf_dir),
    )
}

/// Ends a file's text in the probe's report.
const END: &str = "_brine_ssh_end_6d0f3a9c";

/// Takes the binary on stdin into place (a part file per process, checked
/// against `hash`, then moved over the old one: a running minion keeps its
/// copy until it restarts).
fn install_binary_script(bin: &str, hash: &str) -> String {
    format!(
        "B={b}; umask 022; set -C; echo {DELIMITER} >&2; P=\"$B.part.$$\"; \
         BD=$(dirname \"$B\"); mkdir -p \"$BD\" || exit 1; {owned} \
         cat > \"$P\" && \
         [ \"$(sha256sum \"$P\" | cut -d' ' -f1)\" = {hash} ] && \
         chmod 755 \"$P\" && mv -f \"$P\" \"$B\" || \
         {{ rm -f \"$P\"; echo \"cannot install $B\" >&2; exit 1; }}",
        b = quote(bin),
        hash = quote(hash),
        owned = owned_check("\"$BD\""),
    )
}

/// Takes the private key on stdin into `pki_dir/minion.pem` (0600, the
/// directory 0700) and writes `minion.pub` beside it; refuses to replace a
/// key that appeared since the probe.
fn install_key_script(pki_dir: &str, public_pem: &str) -> String {
    format!(
        "K={k}; umask 077; set -C; echo {DELIMITER} >&2; \
         if [ -e \"$K/minion.pem\" ]; then echo \"$K/minion.pem appeared meanwhile: run the bootstrap again\" >&2; exit 1; fi; \
         mkdir -p \"$K\" && chmod 700 \"$K\" || exit 1; {owned} \
         cat > \"$K/.minion.pem.$$\" && grep -qx -- '-----END PRIVATE KEY-----' \"$K/.minion.pem.$$\" && \
         mv -f \"$K/.minion.pem.$$\" \"$K/minion.pem\" && \
         {public} > \"$K/.minion.pub.$$\" && chmod 644 \"$K/.minion.pub.$$\" && \
         mv -f \"$K/.minion.pub.$$\" \"$K/minion.pub\" || \
         {{ rm -f \"$K/.minion.pem.$$\" \"$K/.minion.pub.$$\"; echo \"cannot write the key into $K\" >&2; exit 1; }}",
        k = quote(pki_dir),
        public = printf_lines(public_pem),
        owned = owned_check("\"$K\""),
    )
}

/// What the last step writes and starts.
struct ConfigureScript<'a> {
    install: &'a Install,
    files: &'a MinionFiles,
    master_pub: &'a str,
    /// The binary or the key changed: a running minion restarts.
    restart: bool,
    unit_path: &'a str,
}

/// Writes the config and the pinned master key where they differ, then
/// starts the minion or restarts it when anything it runs with changed;
/// prints `config ...`, `master_key ...` and `service ...` after the
/// delimiter.
fn configure_script(s: &ConfigureScript<'_>) -> String {
    let config = printf_lines(&s.files.text);
    let master_pub = printf_lines(s.master_pub);
    let service = s.install.service.as_str();
    let vars = format!(
        "B={b}; CD={cd}; K={k}; L={l}; U={u}; R={r}; M={service}; umask 022; \
         set -C; echo {DELIMITER}; echo {DELIMITER} >&2;",
        b = quote(&s.install.bin),
        cd = quote(&s.install.conf_dir),
        k = quote(&s.files.pki_dir),
        l = quote(&s.files.log_file),
        u = quote(s.unit_path),
        r = if s.restart { "yes" } else { "no" },
    );
    let files = format!(
        "mkdir -p \"$CD\" \"$K\" && chmod 700 \"$K\" || exit 1; {owned_cd} {owned_k} \
         if [ \"$(cat \"$CD/minion\" 2>/dev/null)\" = \"$({config})\" ]; then echo 'config unchanged'; \
         else {config} > \"$CD/.minion.$$\" && mv -f \"$CD/.minion.$$\" \"$CD/minion\" || \
         {{ rm -f \"$CD/.minion.$$\"; echo \"cannot write $CD/minion\" >&2; exit 1; }}; \
         echo \"config written $CD/minion\"; R=yes; fi; \
         if [ \"$(cat \"$K/minion_master.pub\" 2>/dev/null)\" = \"$({master_pub})\" ]; then echo 'master_key unchanged'; \
         else {master_pub} > \"$K/.minion_master.pub.$$\" && chmod 644 \"$K/.minion_master.pub.$$\" && \
         mv -f \"$K/.minion_master.pub.$$\" \"$K/minion_master.pub\" || \
         {{ rm -f \"$K/.minion_master.pub.$$\"; echo \"cannot write $K/minion_master.pub\" >&2; exit 1; }}; \
         echo 'master_key pinned'; R=yes; fi;",
        owned_cd = owned_check("\"$CD\""),
        owned_k = owned_check("\"$K\""),
    );
    let choose = "if [ \"$M\" = auto ]; then \
         if [ -d /run/systemd/system ] && [ \"$(id -u)\" = 0 ]; then M=systemd; else M=direct; fi; fi;";
    format!(
        "{vars} {files} {choose} if [ \"$M\" = systemd ]; then {systemd} else {direct} fi",
        systemd = systemd_part(s.install),
        direct = DIRECT_PART,
    )
}

/// The unit installed (or corrected) and enabled, then the service started
/// or restarted.
fn systemd_part(install: &Install) -> String {
    let unit = printf_lines(&unit_text(install));
    format!(
        "if [ \"$(cat \"$U\" 2>/dev/null)\" = \"$({unit})\" ]; then :; \
         else {unit} > \"$U.part.$$\" && mv -f \"$U.part.$$\" \"$U\" && systemctl daemon-reload || \
         {{ rm -f \"$U.part.$$\"; echo \"cannot install $U\" >&2; exit 1; }}; R=yes; fi; \
         systemctl enable -q brine-minion.service || exit 1; \
         if systemctl is-active -q brine-minion.service; then \
         if [ \"$R\" = yes ]; then systemctl restart brine-minion.service || exit 1; echo 'service restarted (systemd)'; \
         else echo 'service running (systemd)'; fi; \
         else systemctl start brine-minion.service || exit 1; echo 'service started (systemd)'; fi; \
         sleep 1; systemctl is-active -q brine-minion.service || \
         {{ echo 'brine-minion stopped at once; the end of its journal:' >&2; \
         journalctl -u brine-minion.service -n 20 --no-pager >&2; exit 1; }};"
    )
}

/// The minion in its own session, its pid in `<conf_dir>/brine-minion.pid`:
/// left alone when it runs the installed binary and nothing changed, else
/// stopped (SIGTERM, at most 60 s) and started again; it must still run a
/// second later, else the end of its log is the error.
const DIRECT_PART: &str = "PF=\"$CD/brine-minion.pid\"; RB=$(readlink -f \"$B\"); P=$(cat \"$PF\" 2>/dev/null); \
     ours() { [ -n \"$1\" ] && E=$(readlink \"/proc/$1/exe\" 2>/dev/null) && { [ \"$E\" = \"$RB\" ] || [ \"$E\" = \"$RB (deleted)\" ]; }; }; \
     if ours \"$P\" && [ \"$R\" = no ] && [ \"$E\" = \"$RB\" ]; then echo \"service running (pid $P)\"; \
     else W=started; \
     if ours \"$P\"; then W=restarted; kill \"$P\"; i=0; \
     while ours \"$P\"; do i=$((i+1)); if [ $i -gt 600 ]; then echo \"brine-minion (pid $P) did not stop within 60 s\" >&2; exit 1; fi; sleep 0.1 2>/dev/null || sleep 1; done; fi; \
     S=; if command -v setsid >/dev/null 2>&1; then S=setsid; fi; cd /; \
     $S \"$B\" -c \"$CD\" </dev/null >/dev/null 2>&1 & P=$!; echo \"$P\" >| \"$PF\"; sleep 1; \
     if ours \"$P\"; then echo \"service $W (pid $P)\"; \
     else echo \"brine-minion stopped at once; the end of its log ($L):\" >&2; tail -n 20 \"$L\" >&2; exit 1; fi; fi;";

/// The systemd unit of a bootstrapped minion (the package's, with the
/// installed paths).
fn unit_text(install: &Install) -> String {
    format!(
        "# Written by brine-ssh --bootstrap: the next bootstrap puts back what it wrote.
[Unit]
Description=Brine minion (installed by brine-ssh --bootstrap)
After=network-online.target
Wants=network-online.target

[Service]
Type=exec
ExecStart={bin} -c {conf_dir}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5s
TimeoutStopSec=60s

[Install]
WantedBy=multi-user.target
",
        bin = install.bin,
        conf_dir = install.conf_dir,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn public_of(identity: &Identity) -> Found {
        Found {
            binary: None,
            private_key: true,
            public_key: Some(identity.public().to_pem()),
            config: None,
            arch: None,
        }
    }

    #[test]
    fn the_probe_report_is_read_after_the_delimiter() {
        let key = Identity::generate().expect("key").public().to_pem();
        let stdout = format!(
            "motd: binary nonsense\n{DELIMITER}\narch aarch64\nbinary abc123\npem\npub\n{key}\n{END}\nconfig\nid: web1\n{END}\n"
        );
        let found = Found::parse(&stdout).expect("parsed");
        assert_eq!(found.binary.as_deref(), Some("abc123"));
        assert_eq!(found.config.as_deref(), Some("id: web1"));
        assert_eq!(found.arch.as_deref(), Some("aarch64"));
        assert!(same_arch("x86_64", "x86_64") && same_arch("arm", "armv7l"));
        assert!(!same_arch("x86_64", "aarch64") && !same_arch("aarch64", "x86_64"));
        assert!(found.private_key);
        assert_eq!(
            found.public_key.as_deref().and_then(PublicKey::from_pem),
            PublicKey::from_pem(&key)
        );
        assert_eq!(
            Found::parse(&format!("{DELIMITER}\n")),
            Ok(Found::default())
        );
        assert!(Found::parse("binary abc\n").is_err(), "no delimiter");
    }

    #[test]
    fn a_key_the_master_holds_for_another_machine_is_never_replaced() {
        let host = Identity::generate().expect("key");
        let other = Identity::generate().expect("key").public();
        let mine = host.public();
        let held = |state, key: PublicKey, id: &str| {
            vec![(state, MinionId::parse(id).expect("id"), key.fingerprint())]
        };
        let plan =
            |found: &Found, all: Vec<(KeyState, MinionId, String)>| key_plan("web1", found, &all);
        let none = Found::default();
        assert!(matches!(
            plan(&public_of(&host), held(KeyState::Accepted, mine, "web1")),
            Ok(KeyPlan::Keep(k)) if k == mine
        ));
        assert!(matches!(
            plan(&public_of(&host), held(KeyState::Pending, mine, "web1")),
            Ok(KeyPlan::AcceptHosts(k)) if k == mine
        ));
        assert!(matches!(
            plan(&public_of(&host), Vec::new()),
            Ok(KeyPlan::AcceptHosts(_))
        ));
        assert!(matches!(plan(&none, Vec::new()), Ok(KeyPlan::Make(_))));
        for (found, state) in [
            (public_of(&host), KeyState::Accepted),
            (public_of(&host), KeyState::Pending),
            (public_of(&host), KeyState::Rejected),
            (Found::default(), KeyState::Accepted),
        ] {
            let refused = plan(&found, held(state, other, "web1"))
                .err()
                .expect("refused");
            assert!(refused.contains("brine-key -d web1"), "{refused}");
        }
        // The host's key is another id's already: never a second id for it.
        let refused = plan(&public_of(&host), held(KeyState::Accepted, mine, "db1"))
            .err()
            .expect("refused");
        assert!(refused.contains("db1"), "{refused}");
        // Half a key pair on the host.
        let no_pem = Found {
            private_key: false,
            ..public_of(&host)
        };
        assert!(plan(&no_pem, Vec::new()).is_err(), "minion.pub alone");
        let half = Found {
            private_key: true,
            ..Found::default()
        };
        assert!(plan(&half, Vec::new()).is_err(), "minion.pem alone");
    }

    #[test]
    fn a_host_configured_as_another_minion_is_refused() {
        let mut entry =
            super::super::roster::entries(&json!({"web1": "10.0.0.1"}), &Default::default())
                .expect("entry")
                .remove(0);
        entry.install.conf_dir = "/etc/brine".into();
        let found = |config: &str| Found {
            config: Some(config.into()),
            ..Found::default()
        };
        assert!(found("id: web1\nmaster: m").check_id(&entry).is_ok());
        assert!(Found::default().check_id(&entry).is_ok());
        let refused = found("id: db1\n").check_id(&entry).expect_err("refused");
        assert!(
            refused.contains("\"db1\"") && refused.contains("/etc/brine/minion"),
            "{refused}"
        );
    }

    #[test]
    fn printed_lines_come_back_as_written() {
        let text = "# it's\nid: web1\n\nmaster: '$(id)'\n";
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(printf_lines(text))
            .output()
            .expect("sh");
        assert_eq!(String::from_utf8_lossy(&out.stdout), text);
        assert!(!printf_lines(text).contains('\n'), "one line");
    }

    /// The systemd branch, run with a fake `systemctl` that records its
    /// calls: the unit installed and the service started, then left alone,
    /// then restarted when the binary changed.
    #[test]
    fn under_systemd_the_unit_is_installed_once_and_the_service_restarted_on_change() {
        let dir = tempfile::tempdir().expect("dir");
        let root = dir.path();
        let fake = root.join("fakebin");
        std::fs::create_dir(&fake).expect("mkdir");
        let systemctl = fake.join("systemctl");
        std::fs::write(
            &systemctl,
            "#!/bin/sh\necho \"$*\" >> \"$FAKE/calls\"\n\
             case \"$1\" in is-active) [ -f \"$FAKE/active\" ];; start|restart) touch \"$FAKE/active\";; esac\n",
        )
        .expect("fake systemctl");
        std::fs::set_permissions(
            &systemctl,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
        let install = Install {
            bin: "/opt/brine/brine-minion".into(),
            conf_dir: root.join("etc").display().to_string(),
            service: super::super::roster::Service::Systemd,
        };
        let files = MinionFiles {
            text: "id: web1\nmaster: 10.0.0.1\n".into(),
            pki_dir: root.join("pki").display().to_string(),
            log_file: root.join("log").display().to_string(),
        };
        let unit_path = root.join("brine-minion.service").display().to_string();
        let master_pub = Identity::generate().expect("key").public().to_pem();
        let run = |restart: bool| {
            let script = configure_script(&ConfigureScript {
                install: &install,
                files: &files,
                master_pub: &master_pub,
                restart,
                unit_path: &unit_path,
            });
            let path = format!(
                "{}:{}",
                fake.display(),
                std::env::var("PATH").unwrap_or_default()
            );
            let out = Command::new("/bin/sh")
                .arg("-c")
                .arg(script)
                .env("PATH", path)
                .env("FAKE", root)
                .output()
                .expect("sh");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let calls = std::fs::read_to_string(root.join("calls")).unwrap_or_default();
            std::fs::remove_file(root.join("calls")).ok();
            (stdout, calls)
        };
        let (said, calls) = run(false);
        assert!(said.contains("config written"), "{said}");
        assert!(said.contains("service started (systemd)"), "{said}");
        assert!(
            calls.contains("daemon-reload") && calls.contains("enable -q"),
            "{calls}"
        );
        assert_eq!(
            std::fs::read_to_string(&unit_path).expect("unit"),
            unit_text(&install)
        );
        let (said, calls) = run(false);
        assert!(said.contains("config unchanged"), "{said}");
        assert!(said.contains("service running (systemd)"), "{said}");
        assert!(
            !calls.contains("daemon-reload") && !calls.contains("restart"),
            "{calls}"
        );
        let (said, calls) = run(true);
        assert!(said.contains("service restarted (systemd)"), "{said}");
        assert!(calls.contains("restart brine-minion.service"), "{calls}");
    }
}
