//! Signing in and out of the dashboard, the session cookie and the CSRF
//! check.
//!
//! The cookie holds the same kind of token as `X-Auth-Token` (one
//! [`TokenStore`](crate::tokens::TokenStore), the same expiry), scoped to
//! `/ui` and never readable by scripts. The CSRF token lives in the session
//! on the server and in the page's forms.

use axum::extract::{Form, FromRequestParts, Query, State};
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{error_page, render};
use crate::app::Shared;
use crate::error::ApiError;
use crate::tokens::Session;

/// The cookie's name.
const COOKIE_NAME: &str = "brine_session";

/// A signed-in dashboard user.
pub struct UiSession(pub Session);

impl FromRequestParts<Shared> for UiSession {
    type Rejection = Response;

    /// No live session: to the sign-in page, which comes back here after.
    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Response> {
        let token = parts
            .headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|pair| pair.trim().strip_prefix(COOKIE_NAME)?.strip_prefix('='));
        if let Some(session) = token.and_then(|t| state.tokens.get(t)) {
            return Ok(UiSession(session));
        }
        let next = parts
            .uri
            .path_and_query()
            .map_or("/ui", |p| p.as_str())
            .to_string();
        let back = if parts.method == axum::http::Method::GET {
            next
        } else {
            "/ui".into()
        };
        let query = format!("next={}", urlencode(&back));
        Err(see_other(&format!("/ui/login?{query}")))
    }
}

impl UiSession {
    /// The refusal of a request whose form does not carry this session's
    /// CSRF token (compared in constant time); `None` when it does.
    pub fn csrf_refusal(&self, given: &str) -> Option<Response> {
        let expected = self.0.csrf.as_bytes();
        let same = expected.len() == given.len()
            && expected
                .iter()
                .zip(given.as_bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same {
            return None;
        }
        tracing::info!(user = %self.0.user, "web UI: a form without this session's CSRF token");
        Some(error_page(
            StatusCode::FORBIDDEN,
            "This form is not from your session (a stale page, or another site's): reload the page and try again.",
            Some(self),
            "/ui",
        ))
    }
}

/// `303 See Other` to `to`.
pub fn see_other(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(to) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// Percent-encodes everything but unreserved characters.
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Where to go after signing in: a dashboard path only (never another site).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with("/ui") && !path.contains("//") && !path.contains('\\') => {
            path.to_string()
        }
        _ => "/ui".into(),
    }
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

pub async fn login_form(State(state): State<Shared>, Query(q): Query<LoginQuery>) -> Response {
    login_page(
        &state,
        StatusCode::OK,
        &safe_next(q.next.as_deref()),
        "",
        None,
    )
}

fn login_page(
    state: &Shared,
    status: StatusCode,
    next: &str,
    username: &str,
    error: Option<&str>,
) -> Response {
    let backends = state.auth.backend_names();
    render(
        status,
        "login.html",
        minijinja::context! {
            next, username, error,
            eauth => backends.first().cloned().unwrap_or_default(),
            backends,
        },
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    eauth: String,
    next: Option<String>,
}

pub async fn login(State(state): State<Shared>, Form(form): Form<LoginForm>) -> Response {
    let next = safe_next(form.next.as_deref());
    let perms = match state
        .auth
        .login(&form.eauth, &form.username, &form.password)
        .await
    {
        Ok(perms) => perms,
        Err(e) => {
            let (status, message) = match &e {
                ApiError::Busy(m) => (StatusCode::TOO_MANY_REQUESTS, m.clone()),
                _ => (
                    StatusCode::UNAUTHORIZED,
                    "Sign-in failed: the user, password or authentication is wrong.".into(),
                ),
            };
            tracing::info!(user = %form.username, "web UI sign-in refused: {e}");
            return login_page(&state, status, &next, &form.username, Some(&message));
        }
    };
    let Some(session) = state.tokens.issue(&form.username, &form.eauth, perms) else {
        return login_page(
            &state,
            StatusCode::SERVICE_UNAVAILABLE,
            &next,
            &form.username,
            Some("No system randomness for a session: try again."),
        );
    };
    tracing::info!(user = %session.user, "web UI sign-in");
    let max_age = (session.expire - session.start).max(0.0) as u64;
    let cookie = format!(
        "{COOKIE_NAME}={}; Path=/ui; Max-Age={max_age}; Secure; HttpOnly; SameSite=Strict",
        session.token
    );
    with_cookie(see_other(&next), &cookie)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn logout(
    State(state): State<Shared>,
    session: UiSession,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = session.csrf_refusal(&form.csrf) {
        return refused;
    }
    state.tokens.revoke(&session.0.token);
    let cookie = format!("{COOKIE_NAME}=; Path=/ui; Max-Age=0; Secure; HttpOnly; SameSite=Strict");
    with_cookie(see_other("/ui/login"), &cookie)
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dashboard_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/ui/keys")), "/ui/keys");
        for bad in [
            "https://evil.example/",
            "//evil.example/ui",
            "/ui/..//x",
            "/login",
            "/ui\\x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/ui", "{bad}");
        }
        assert_eq!(safe_next(None), "/ui");
        assert_eq!(
            urlencode("/ui/minions?tgt=a b&x"),
            "/ui/minions%3Ftgt%3Da%20b%26x"
        );
    }
}
