//! The web dashboard under `/ui`: pages rendered here (minijinja templates
//! and assets embedded in the binary, no CDN), over the same master link,
//! eauth and permissions as the REST API, with a little JavaScript
//! (`assets/app.js`) that only enhances pages which work without it.
//!
//! Sign-in is eauth's; the session rides in a `Secure; HttpOnly;
//! SameSite=Strict` cookie scoped to `/ui`, and every request that changes
//! something carries the session's CSRF token in its form (never in a
//! cookie), checked before anything else. A user sees the minions their
//! permissions let them target, the keys only with `@wheel` rights to list
//! them, and each key action is checked against the matching wheel function
//! (`key.accept`, `key.reject`, `key.delete`) as the REST API checks it.

mod ansi;
mod history;
mod pages;
mod pulse;
mod run;
mod session;

use axum::Router;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use minijinja::Environment;
use std::sync::OnceLock;

use crate::app::Shared;

pub use run::UiState;
pub use session::UiSession;

/// The dashboard's routes (merged into the API's router unless `webui: False`).
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/ui", get(pages::overview))
        .route("/ui/", get(pages::overview))
        .route("/ui/login", get(session::login_form).post(session::login))
        .route("/ui/logout", post(session::logout))
        .route("/ui/minions", get(pages::minions))
        .route("/ui/minions/match", get(pages::minions_match))
        .route("/ui/minions/{id}", get(history::minion))
        .route("/ui/jobs", get(history::jobs))
        .route("/ui/keys", get(pages::keys))
        .route("/ui/keys/confirm", post(pages::key_confirm))
        .route("/ui/keys/act", post(pages::key_act))
        .route("/ui/run", get(run::run_form).post(run::run))
        .route("/ui/run/functions", get(run::functions))
        .route("/ui/run/argspec", get(run::argspec))
        .route("/ui/jobs/{jid}", get(run::job))
        .route("/ui/jobs/{jid}/stream", get(run::job_stream))
        .route("/ui/events", get(pages::events))
        .route("/ui/events/stream", get(pages::events_stream))
        .route("/ui/assets/{name}", get(asset))
}

/// Every page's template, by name.
const TEMPLATES: [(&str, &str); 12] = [
    ("layout.html", include_str!("templates/layout.html")),
    ("login.html", include_str!("templates/login.html")),
    ("error.html", include_str!("templates/error.html")),
    ("overview.html", include_str!("templates/overview.html")),
    ("minions.html", include_str!("templates/minions.html")),
    ("keys.html", include_str!("templates/keys.html")),
    ("confirm.html", include_str!("templates/confirm.html")),
    ("run.html", include_str!("templates/run.html")),
    ("job.html", include_str!("templates/job.html")),
    ("events.html", include_str!("templates/events.html")),
    ("jobs.html", include_str!("templates/jobs.html")),
    ("minion.html", include_str!("templates/minion.html")),
];

/// Microseconds since the epoch (jids, the dashboard's counts).
fn unix_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// The templates, parsed once.
fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, text) in TEMPLATES {
            // The templates are ours and tested: one that does not parse
            // fails every page test, so it is logged rather than panicking.
            if let Err(e) = env.add_template(name, text) {
                tracing::error!("web UI template {name}: {e}");
            }
        }
        env
    })
}

/// `name` rendered with `context` (HTML-escaped: the names end in `.html`).
fn render(status: StatusCode, name: &str, context: minijinja::Value) -> Response {
    let page = templates()
        .get_template(name)
        .and_then(|t| t.render(context));
    match page {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!("web UI page {name}: {e:#}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered; see brine-api's log",
            )
                .into_response()
        }
    }
}

/// What every signed-in page's layout needs: the page (for the current
/// navigation entry), the user and the CSRF token for its forms.
fn signed_in(session: &UiSession, page: &str) -> minijinja::Value {
    minijinja::context! {
        page,
        user => session.0.user.clone(),
        csrf => session.0.csrf.clone(),
    }
}

/// A page that says what went wrong, in the layout (`user` and `csrf` for
/// its header when signed in).
fn error_page(
    status: StatusCode,
    message: &str,
    session: Option<&UiSession>,
    back: &str,
) -> Response {
    let heading = match status {
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::BAD_REQUEST => "Bad request",
        _ => "Something went wrong",
    };
    render(
        status,
        "error.html",
        minijinja::context! {
            heading, message, back,
            user => session.map(|s| s.0.user.clone()),
            csrf => session.map(|s| s.0.csrf.clone()),
        },
    )
}

/// The embedded stylesheet and script.
async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let (kind, body) = match name.as_str() {
        "app.css" => ("text/css; charset=utf-8", include_str!("assets/app.css")),
        "app.js" => (
            "text/javascript; charset=utf-8",
            include_str!("assets/app.js"),
        ),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    ([(CONTENT_TYPE, kind), (CACHE_CONTROL, "no-cache")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        for (name, _) in TEMPLATES {
            assert!(templates().get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn values_are_escaped() {
        let page = templates()
            .get_template("error.html")
            .and_then(|t| {
                t.render(minijinja::context! {
                    heading => "x", message => "<script>alert(1)</script>", back => "/ui",
                })
            })
            .expect("renders");
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(page.contains("&lt;script&gt;"), "{page}");
    }
}
