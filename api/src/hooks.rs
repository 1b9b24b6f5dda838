//! `POST /hook/<path>`: fire `salt/netapi/hook/<path>` on the master's bus
//! with the body (raw and parsed) and the request headers, as salt-api does.
//!
//! A hook with a check in `rest_api: hooks:` is authorised by it alone: an
//! HMAC-SHA256 signature of the body (`sha256=<hex>`, GitHub's format) or a
//! shared secret in a header. Other hooks need a login token unless
//! `webhook_disable_auth: True`. Credentials are never put on the bus.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use ring::hmac;
use serde_json::{Map, Value, json};

use crate::app::{Shared, TOKEN_HEADER};
use crate::body;
use crate::error::{ApiError, ApiResult};
use crate::settings::HookCheck;

/// Headers that carry credentials: left out of the event.
const SECRET_HEADERS: &[&str] = &[TOKEN_HEADER, "authorization", "cookie"];

pub async fn hook(
    State(state): State<Shared>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let path = hook_path(&path)?;
    let raw = body::read(&headers, body, state.settings.body_limit).await?;
    match state.settings.hook_check(&path) {
        Some(check) => verify(check, &headers, &raw)?,
        None if state.settings.webhook_disable_auth => {}
        None => {
            let token = headers
                .get(TOKEN_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if state.tokens.get(token).is_none() {
                return Err(ApiError::Unauthorized(
                    "hook needs a valid X-Auth-Token (or a configured signature check)".into(),
                ));
            }
        }
    }
    let post = match body::parse(&headers, &raw)? {
        Value::Null => json!({}),
        v => v,
    };
    let data = json!({
        "body": String::from_utf8_lossy(&raw),
        "post": post,
        "headers": event_headers(&headers, secret_header(state.settings.hook_check(&path))),
    });
    state
        .master
        .fire(format!("salt/netapi/hook/{path}"), data)
        .await?;
    Ok(Json(json!({"success": true})))
}

/// The hook's path, checked: segments of letters, digits, `-`, `_`, `.`.
fn hook_path(path: &str) -> ApiResult<String> {
    let path = path.trim_matches('/');
    let ok_segment = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if path.split('/').all(ok_segment) {
        Ok(path.to_string())
    } else {
        Err(ApiError::BadRequest(format!("invalid hook path '{path}'")))
    }
}

/// The header a hook's check reads.
fn check_header(check: &HookCheck) -> &str {
    let default_header = match check.mode.as_str() {
        "shared" => "x-hook-secret",
        _ => "x-hub-signature-256",
    };
    check.header.as_deref().unwrap_or(default_header)
}

/// The header that holds a shared secret in clear, if the hook has one.
fn secret_header(check: Option<&HookCheck>) -> Option<&str> {
    check.filter(|c| c.mode == "shared").map(check_header)
}

fn verify(check: &HookCheck, headers: &HeaderMap, body: &[u8]) -> ApiResult<()> {
    let name = check_header(check);
    let given = headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::Unauthorized(format!("hook signature header '{name}' missing")))?;
    let valid = match check.mode.as_str() {
        "shared" => constant_time_eq(given.as_bytes(), check.secret.as_bytes()),
        _ => hmac_valid(&check.secret, body, given),
    };
    if valid {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(
            "hook signature does not match".into(),
        ))
    }
}

/// `sha256=<hex>` of HMAC-SHA256(secret, body).
fn hmac_valid(secret: &str, body: &[u8], given: &str) -> bool {
    let Some(tag) = given.strip_prefix("sha256=").and_then(decode_hex) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hmac::verify(&key, body, &tag).is_ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The request's headers for the event, without those that carry
/// credentials: the login token, cookies, and the hook's own shared-secret
/// header (`secret_header`), whose value is the secret itself.
fn event_headers(headers: &HeaderMap, secret_header: Option<&str>) -> Map<String, Value> {
    let is_secret = |name: &str| {
        SECRET_HEADERS.contains(&name)
            || secret_header.is_some_and(|h| h.eq_ignore_ascii_case(name))
    };
    headers
        .iter()
        .filter(|(name, _)| !is_secret(name.as_str()))
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_string(), Value::String(value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn check(mode: &str) -> HookCheck {
        HookCheck {
            secret: "s3cret".into(),
            mode: mode.into(),
            header: None,
        }
    }

    fn with(name: &'static str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).expect("header"));
        h
    }

    #[test]
    fn hmac_signatures() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"s3cret");
        let sig: String = hmac::sign(&key, b"{}")
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let good = with("x-hub-signature-256", &format!("sha256={sig}"));
        assert!(verify(&check("hmac-sha256"), &good, b"{}").is_ok());
        assert!(verify(&check("hmac-sha256"), &good, b"{ }").is_err());
        assert!(verify(&check("hmac-sha256"), &HeaderMap::new(), b"{}").is_err());
    }

    #[test]
    fn shared_secrets() {
        assert!(verify(&check("shared"), &with("x-hook-secret", "s3cret"), b"").is_ok());
        assert!(verify(&check("shared"), &with("x-hook-secret", "nope"), b"").is_err());
    }

    #[test]
    fn paths_and_headers() {
        assert_eq!(hook_path("/github/push/").expect("ok"), "github/push");
        assert!(hook_path("a/../b").is_err());
        assert!(hook_path("a b").is_err());
        let h = with("x-auth-token", "t");
        assert!(event_headers(&h, None).is_empty());
        let shared = check("shared");
        let h = with("x-hook-secret", "s3cret");
        assert!(event_headers(&h, secret_header(Some(&shared))).is_empty());
        let hmac = check("hmac-sha256");
        let h = with("x-hub-signature-256", "sha256=00");
        assert_eq!(
            event_headers(&h, secret_header(Some(&hmac))).len(),
            1,
            "a MAC is no secret"
        );
    }
}
