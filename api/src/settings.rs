//! `brine-api`'s settings: the master config's `rest_api` block, with
//! defaults, checked before anything listens.
//!
//! TLS is on by default. Plain HTTP needs an explicit `disable_ssl: True` and
//! is refused unless the API listens on 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use brine_common::config::MasterConfig;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Largest request body accepted unless `max_request_body_size` says otherwise.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("rest_api: {0}")]
    Invalid(String),
    #[error(
        "rest_api: disable_ssl is only allowed when host is 127.0.0.1 (host is {0}); plain HTTP would expose tokens and passwords"
    )]
    PlainHttpNotLocal(String),
}

/// One webhook's signature check (`rest_api: hooks: <path>: ...`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HookCheck {
    /// The shared secret, or the HMAC key.
    pub secret: String,
    /// `hmac-sha256` (GitHub's `sha256=<hex>`) or `shared` (the header holds
    /// the secret itself).
    #[serde(default = "default_hook_mode")]
    pub mode: String,
    /// The header to check; `X-Hub-Signature-256` for hmac, `X-Hook-Secret`
    /// for a shared secret.
    #[serde(default)]
    pub header: Option<String>,
}

fn default_hook_mode() -> String {
    "hmac-sha256".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawSettings {
    port: u16,
    host: String,
    ssl_crt: Option<PathBuf>,
    ssl_key: Option<PathBuf>,
    disable_ssl: bool,
    webhook_url: String,
    webhook_disable_auth: bool,
    hooks: Map<String, Value>,
    max_request_body_size: usize,
    webui: bool,
}

impl Default for RawSettings {
    fn default() -> Self {
        RawSettings {
            port: 8000,
            host: "127.0.0.1".into(),
            ssl_crt: None,
            ssl_key: None,
            disable_ssl: false,
            webhook_url: "/hook".into(),
            webhook_disable_auth: false,
            hooks: Map::new(),
            max_request_body_size: DEFAULT_BODY_LIMIT,
            webui: true,
        }
    }
}

/// How the API listens and what it accepts.
#[derive(Debug, Clone)]
pub struct Settings {
    pub addr: SocketAddr,
    /// `None` with `disable_ssl: True`.
    pub tls: Option<TlsFiles>,
    pub webhook_url: String,
    pub webhook_disable_auth: bool,
    pub hooks: Vec<(String, HookCheck)>,
    pub body_limit: usize,
    /// The web dashboard under `/ui` (`webui: False` turns it off).
    pub webui: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TlsFiles {
    pub crt: PathBuf,
    pub key: PathBuf,
}

impl Settings {
    pub fn from_master(config: &MasterConfig) -> Result<Self, SettingsError> {
        let raw: RawSettings = serde_json::from_value(Value::Object(config.rest_api.clone()))
            .map_err(|e| SettingsError::Invalid(e.to_string()))?;
        let ip: IpAddr = raw
            .host
            .parse()
            .map_err(|e| SettingsError::Invalid(format!("host '{}': {e}", raw.host)))?;
        if raw.disable_ssl && ip != IpAddr::V4(Ipv4Addr::LOCALHOST) {
            return Err(SettingsError::PlainHttpNotLocal(raw.host));
        }
        let tls = (!raw.disable_ssl).then(|| TlsFiles {
            crt: raw
                .ssl_crt
                .unwrap_or_else(|| config.pki_dir.join("api/brine-api.crt")),
            key: raw
                .ssl_key
                .unwrap_or_else(|| config.pki_dir.join("api/brine-api.key")),
        });
        let webhook_url = normalise_url(&raw.webhook_url);
        if webhook_url == "/" {
            return Err(SettingsError::Invalid(
                "webhook_url must not be '/' (it would shadow the other endpoints)".into(),
            ));
        }
        Ok(Settings {
            addr: SocketAddr::new(ip, raw.port),
            tls,
            webhook_url,
            webhook_disable_auth: raw.webhook_disable_auth,
            hooks: parse_hooks(raw.hooks)?,
            body_limit: raw.max_request_body_size,
            webui: raw.webui,
        })
    }

    /// The signature check configured for a hook path, if any.
    pub fn hook_check(&self, path: &str) -> Option<&HookCheck> {
        self.hooks.iter().find(|(p, _)| p == path).map(|(_, c)| c)
    }
}

fn normalise_url(url: &str) -> String {
    format!("/{}", url.trim_matches('/'))
}

fn parse_hooks(hooks: Map<String, Value>) -> Result<Vec<(String, HookCheck)>, SettingsError> {
    hooks
        .into_iter()
        .map(|(path, v)| {
            let check: HookCheck = serde_json::from_value(v)
                .map_err(|e| SettingsError::Invalid(format!("hooks: {path}: {e}")))?;
            if check.secret.is_empty() {
                return Err(SettingsError::Invalid(format!(
                    "hooks: {path}: secret must not be empty"
                )));
            }
            if !matches!(check.mode.as_str(), "hmac-sha256" | "shared") {
                return Err(SettingsError::Invalid(format!(
                    "hooks: {path}: mode must be hmac-sha256 or shared, not '{}'",
                    check.mode
                )));
            }
            Ok((path.trim_matches('/').to_string(), check))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(rest_api: Value) -> MasterConfig {
        MasterConfig {
            rest_api: rest_api.as_object().cloned().unwrap_or_default(),
            ..Default::default()
        }
    }

    #[test]
    fn tls_is_on_by_default() {
        let s = Settings::from_master(&config(json!({}))).expect("settings");
        assert!(s.tls.is_some());
        assert_eq!(s.addr.to_string(), "127.0.0.1:8000");
    }

    #[test]
    fn plain_http_only_on_localhost() {
        let local = config(json!({"disable_ssl": true}));
        assert!(Settings::from_master(&local).expect("local").tls.is_none());
        let open = config(json!({"disable_ssl": true, "host": "0.0.0.0"}));
        assert!(matches!(
            Settings::from_master(&open),
            Err(SettingsError::PlainHttpNotLocal(_))
        ));
    }

    #[test]
    fn unknown_keys_and_bad_hooks_are_errors() {
        assert!(Settings::from_master(&config(json!({"prot": 1}))).is_err());
        let bad = json!({"hooks": {"gh": {"secret": "s", "mode": "md5"}}});
        assert!(Settings::from_master(&config(bad)).is_err());
    }
}
