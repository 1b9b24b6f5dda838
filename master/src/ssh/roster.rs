//! Salt's flat roster: the hosts `brine-ssh` reaches, by id.
//!
//! The file is a template rendered as Salt renders it (`jinja|yaml`, or what
//! its first line names); each top-level key is an id, its value either a
//! host name (`web1: 10.0.0.1`) or a mapping of Salt's keys laid over the
//! master's `roster_defaults` and then the `ssh_*` config keys. Salt drops an
//! entry of any other shape without a word; we say which one and why.
//!
//! Every value that ends up on an ssh command line is checked here, so that
//! none can be read as an option (`-oProxyCommand=...` as a host) or carry a
//! line break into a remote script.

use std::path::PathBuf;

use brine_common::config::SshConfig;
use serde_json::{Map, Value};

/// What is wrong with a roster entry.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RosterError {
    #[error("roster entry {id:?}: must be a host name or a mapping, not {found}")]
    Shape { id: String, found: &'static str },
    #[error("roster entry {id:?}: `{key}` {problem}")]
    Field {
        id: String,
        key: &'static str,
        problem: String,
    },
    #[error("the roster must be a mapping of ids to hosts, not {0}")]
    NotAMapping(&'static str),
}

/// One host as `brine-ssh` connects to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The private key (`-i`); `None`: ssh's own choice.
    pub priv_key: Option<PathBuf>,
    pub sudo: bool,
    /// Ask ssh for a terminal (`-t -t`), for `sudo` with `requiretty`.
    pub tty: bool,
    /// Seconds to connect.
    pub timeout: u64,
    /// Merged into the remote minion config.
    pub minion_opts: Map<String, Value>,
    /// Where the remote side keeps `brine-call` and its files; `None`: the
    /// default under `/var/tmp`.
    pub thin_dir: Option<String>,
    /// `-o` options (Salt's `ssh_options`), after the config's.
    pub ssh_options: Vec<String>,
    /// Where `--bootstrap` installs the minion.
    pub install: Install,
}

/// Where `--bootstrap` puts the minion on a host (Brine's roster keys
/// `minion_bin`, `minion_conf_dir`, `minion_service`; Salt has none).
#[derive(Debug, Clone, PartialEq)]
pub struct Install {
    /// The binary's path.
    pub bin: String,
    /// The config directory: the config is `<dir>/minion`.
    pub conf_dir: String,
    pub service: Service,
}

impl Default for Install {
    fn default() -> Self {
        Install {
            bin: "/usr/local/bin/brine-minion".into(),
            conf_dir: "/etc/brine".into(),
            service: Service::Auto,
        }
    }
}

/// How the installed minion is kept running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// systemd where it runs and the login is root (or sudo), else `Direct`.
    Auto,
    /// A unit `brine-minion.service`, enabled.
    Systemd,
    /// Started in its own session, its pid in `<conf_dir>/brine-minion.pid`.
    Direct,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Auto => "auto",
            Service::Systemd => "systemd",
            Service::Direct => "direct",
        }
    }
}

/// Every entry of a rendered roster, in file order.
pub fn entries(rendered: &Value, config: &SshConfig) -> Result<Vec<Entry>, RosterError> {
    let map = match rendered {
        Value::Object(map) => map,
        Value::Null => return Ok(Vec::new()),
        other => return Err(RosterError::NotAMapping(kind(other))),
    };
    map.iter()
        .map(|(id, value)| entry(id, value, config))
        .collect()
}

fn entry(id: &str, value: &Value, config: &SshConfig) -> Result<Entry, RosterError> {
    let mut fields = config.roster_defaults.clone();
    match value {
        Value::String(host) => {
            fields.insert("host".into(), Value::String(host.clone()));
        }
        Value::Object(own) => fields.extend(own.clone()),
        other => {
            return Err(RosterError::Shape {
                id: id.to_owned(),
                found: kind(other),
            });
        }
    }
    let field = Fields {
        id,
        fields: &fields,
    };
    let host = field.text("host")?.unwrap_or_else(|| id.to_owned());
    check_word(id, "host", &host)?;
    let user = field
        .text("user")?
        .unwrap_or_else(|| config.ssh_user.clone());
    check_word(id, "user", &user)?;
    let priv_key = field
        .text("priv")?
        .map(PathBuf::from)
        .or_else(|| config.ssh_priv.clone());
    if let Some(path) = &priv_key {
        check_line(id, "priv", &path.to_string_lossy())?;
    }
    let thin_dir = field.path("thin_dir")?;
    let mut ssh_options = config.ssh_options.clone();
    ssh_options.extend(field.list("ssh_options")?);
    for option in &ssh_options {
        check_ssh_option(id, option)?;
    }
    let install = field.install()?;
    Ok(Entry {
        id: id.to_owned(),
        install,
        port: field.port(config.ssh_port)?,
        priv_key,
        sudo: field.flag("sudo")?.unwrap_or(config.ssh_sudo),
        tty: field.flag("tty")?.unwrap_or(false),
        timeout: field.number("timeout")?.unwrap_or(config.ssh_timeout),
        minion_opts: field.mapping("minion_opts")?,
        thin_dir,
        ssh_options,
        host,
        user,
    })
}

/// The fields of one entry, read with errors that name the entry and key.
struct Fields<'a> {
    id: &'a str,
    fields: &'a Map<String, Value>,
}

impl Fields<'_> {
    fn error(&self, key: &'static str, problem: impl Into<String>) -> RosterError {
        RosterError::Field {
            id: self.id.to_owned(),
            key,
            problem: problem.into(),
        }
    }

    fn present(&self, key: &str) -> Option<&Value> {
        self.fields.get(key).filter(|v| !v.is_null())
    }

    /// A string (a number is taken as its text, as Python's `str()` would).
    fn text(&self, key: &'static str) -> Result<Option<String>, RosterError> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(self.error(key, format!("must be a string, not {}", kind(other)))),
        }
    }

    fn flag(&self, key: &'static str) -> Result<Option<bool>, RosterError> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => {
                Err(self.error(key, format!("must be True or False, not {}", kind(other))))
            }
        }
    }

    fn number(&self, key: &'static str) -> Result<Option<u64>, RosterError> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
            Some(Value::String(s)) if s.trim().parse::<u64>().is_ok() => Ok(s.trim().parse().ok()),
            Some(other) => Err(self.error(key, format!("must be a whole number, not {other}"))),
        }
    }

    fn port(&self, default: u16) -> Result<u16, RosterError> {
        match self.number("port")? {
            None => Ok(default),
            Some(n) => u16::try_from(n)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| self.error("port", format!("{n} is not a port"))),
        }
    }

    fn list(&self, key: &'static str) -> Result<Vec<String>, RosterError> {
        match self.present(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    other => {
                        Err(self.error(key, format!("items must be strings, not {}", kind(other))))
                    }
                })
                .collect(),
            Some(other) => Err(self.error(key, format!("must be a list, not {}", kind(other)))),
        }
    }

    /// An absolute path without control characters.
    fn path(&self, key: &'static str) -> Result<Option<String>, RosterError> {
        let Some(path) = self.text(key)? else {
            return Ok(None);
        };
        check_line(self.id, key, &path)?;
        if !path.starts_with('/') {
            return Err(self.error(key, "must be an absolute path"));
        }
        Ok(Some(path))
    }

    fn install(&self) -> Result<Install, RosterError> {
        let default = Install::default();
        let service = match self.text("minion_service")?.as_deref() {
            None | Some("auto") => Service::Auto,
            Some("systemd") => Service::Systemd,
            Some("direct") => Service::Direct,
            Some(other) => {
                return Err(self.error(
                    "minion_service",
                    format!("{other:?} is none of auto, systemd, direct"),
                ));
            }
        };
        Ok(Install {
            bin: self.plain_path("minion_bin")?.unwrap_or(default.bin),
            conf_dir: self
                .plain_path("minion_conf_dir")?
                .unwrap_or(default.conf_dir),
            service,
        })
    }

    /// An absolute path of letters, digits and `/._+@-` only: it goes into
    /// a systemd unit's `ExecStart`, where spaces, quotes, `$` and `%` mean
    /// something.
    fn plain_path(&self, key: &'static str) -> Result<Option<String>, RosterError> {
        let path = self.path(key)?;
        if let Some(path) = &path
            && !path
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/._+@-".contains(c))
        {
            return Err(self.error(
                key,
                format!("{path:?} may hold only letters, digits and / . _ + @ -"),
            ));
        }
        Ok(path)
    }

    fn mapping(&self, key: &'static str) -> Result<Map<String, Value>, RosterError> {
        match self.present(key) {
            None => Ok(Map::new()),
            Some(Value::Object(map)) => Ok(map.clone()),
            Some(other) => Err(self.error(key, format!("must be a mapping, not {}", kind(other)))),
        }
    }
}

/// A host or user: one word that ssh cannot take for an option.
fn check_word(id: &str, key: &'static str, value: &str) -> Result<(), RosterError> {
    let problem = if value.is_empty() {
        Some("is empty")
    } else if value.starts_with('-') {
        Some("may not start with '-' (ssh would read it as an option)")
    } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("may not hold spaces or control characters")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(RosterError::Field {
            id: id.to_owned(),
            key,
            problem: format!("{value:?} {problem}"),
        }),
        None => Ok(()),
    }
}

/// A path: anything but a control character (a line break would end a
/// line of the remote script or of ssh's option parsing).
fn check_line(id: &str, key: &'static str, value: &str) -> Result<(), RosterError> {
    if value.is_empty() || value.chars().any(char::is_control) {
        return Err(RosterError::Field {
            id: id.to_owned(),
            key,
            problem: format!("{value:?} is empty or holds control characters"),
        });
    }
    Ok(())
}

/// ssh options that run a program or load code on this machine, or read
/// more config that could (`Include`). Salt filters only `ProxyCommand`, and
/// only spelt so (CVE-2021-3197); ssh reads option names in any case.
const COMMAND_OPTIONS: &[&str] = &[
    "proxycommand",
    "localcommand",
    "permitlocalcommand",
    "knownhostscommand",
    "match",
    "include",
    "pkcs11provider",
    "securitykeyprovider",
    "xauthlocation",
];

/// `Key=value` or `Key value`, not one that runs local commands.
fn check_ssh_option(id: &str, option: &str) -> Result<(), RosterError> {
    check_line(id, "ssh_options", option)?;
    let name = option
        .split(|c: char| c == '=' || c.is_whitespace())
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    // Letters and digits only: ssh would strip quotes around a name
    // (`"ProxyCommand" x`) and so get past the list below.
    let plain = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    if !plain {
        return Err(RosterError::Field {
            id: id.to_owned(),
            key: "ssh_options",
            problem: format!("{option:?} is not Key=value"),
        });
    }
    if COMMAND_OPTIONS.contains(&name.as_str()) {
        return Err(RosterError::Field {
            id: id.to_owned(),
            key: "ssh_options",
            problem: format!("{option:?} would run a command on this machine; not allowed"),
        });
    }
    Ok(())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(value: Value) -> Result<Entry, RosterError> {
        entries(&json!({ "web1": value }), &SshConfig::default()).map(|mut e| e.remove(0))
    }

    #[test]
    fn a_bare_string_is_the_host_and_the_rest_comes_from_the_config() {
        let entry = one(json!("10.0.0.1")).expect("entry");
        assert_eq!(entry.host, "10.0.0.1");
        assert_eq!((entry.port, entry.user.as_str()), (22, "root"));
        assert_eq!(entry.timeout, 60);
    }

    #[test]
    fn entry_values_beat_defaults_and_config() {
        let mut config = SshConfig {
            ssh_user: "ops".into(),
            ..SshConfig::default()
        };
        config.roster_defaults.insert("port".into(), json!(2200));
        config
            .roster_defaults
            .insert("user".into(), json!("deploy"));
        let rendered =
            json!({"a": {"host": "h"}, "b": {"host": "h", "user": "alice", "port": "2222"}});
        let all = entries(&rendered, &config).expect("entries");
        assert_eq!((all[0].port, all[0].user.as_str()), (2200, "deploy"));
        assert_eq!((all[1].port, all[1].user.as_str()), (2222, "alice"));
        let no_host =
            entries(&json!({"h9": {"port": 22}}), &SshConfig::default()).expect("entries");
        assert_eq!(no_host[0].host, "h9", "the id is the host");
    }

    #[test]
    fn values_ssh_would_take_for_options_are_refused() {
        for (value, key) in [
            (json!({"host": "-oProxyCommand=touch /tmp/x"}), "host"),
            (json!({"host": "h", "user": "-F/tmp/cfg"}), "user"),
            (json!({"host": "h", "user": "a b"}), "user"),
            (json!({"host": "h", "port": "22 -oProxyCommand=id"}), "port"),
            (json!({"host": "h", "priv": "k\n-oProxyCommand=id"}), "priv"),
            (
                json!({"host": "h", "ssh_options": ["proxycommand=id"]}),
                "ssh_options",
            ),
            (
                json!({"host": "h", "ssh_options": ["ProxyCommand sh -c id"]}),
                "ssh_options",
            ),
            (
                json!({"host": "h", "ssh_options": ["KnownHostsCommand=/bin/id"]}),
                "ssh_options",
            ),
            (
                json!({"host": "h", "ssh_options": ["-oX=y"]}),
                "ssh_options",
            ),
            (json!({"host": "h", "thin_dir": "relative"}), "thin_dir"),
            (json!({"host": "h", "minion_bin": "bin/m"}), "minion_bin"),
            (json!({"host": "h", "minion_bin": "/opt/b m"}), "minion_bin"),
            (json!({"host": "h", "minion_bin": "/opt/%h"}), "minion_bin"),
            (
                json!({"host": "h", "minion_conf_dir": "/e\nx"}),
                "minion_conf_dir",
            ),
            (
                json!({"host": "h", "minion_service": "upstart"}),
                "minion_service",
            ),
        ] {
            match one(value.clone()) {
                Err(RosterError::Field { key: k, .. }) => assert_eq!(k, key, "{value}"),
                other => panic!("{value}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_entry_of_another_shape_is_named() {
        let error = one(json!(42)).expect_err("a number");
        assert_eq!(
            error.to_string(),
            "roster entry \"web1\": must be a host name or a mapping, not a number"
        );
    }
}
