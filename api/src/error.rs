//! The API's errors and how each becomes an HTTP response.
//!
//! Every error is answered with a JSON body `{"status": <code>, "return":
//! <reason>}`; none of them lets a request reach a minion.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No token, an unknown or an expired one, or a failed login.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but external_auth does not permit this call.
    #[error("{0}")]
    Forbidden(String),
    /// The request body or a field of it is malformed.
    #[error("{0}")]
    BadRequest(String),
    #[error("request body larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("{0}")]
    NotFound(String),
    /// Too many requests of this kind at once (logins): try again later.
    #[error("{0}")]
    Busy(String),
    /// The master could not be reached or answered with an error.
    #[error("master: {0}")]
    Master(String),
}

impl ApiError {
    /// A 400 naming the field that is wrong.
    pub fn field(name: &str, problem: &str) -> Self {
        ApiError::BadRequest(format!("'{name}': {problem}"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Busy(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Master(_) => StatusCode::BAD_GATEWAY,
        }
    }
}

impl From<brine_client::ClientError> for ApiError {
    fn from(e: brine_client::ClientError) -> Self {
        ApiError::Master(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!("{self}");
        } else {
            tracing::info!(status = status.as_u16(), "{self}");
        }
        let body = json!({"status": status.as_u16(), "return": self.to_string()});
        (status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
