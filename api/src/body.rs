//! Request bodies: read with a size limit, parsed as JSON or YAML by
//! `Content-Type` (JSON when none is given).

use axum::body::{Body, Bytes};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// The whole body, or 413 when it is (or claims to be) over `limit`.
pub async fn read(headers: &HeaderMap, body: Body, limit: usize) -> ApiResult<Bytes> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::TooLarge { limit });
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::TooLarge { limit })
}

/// The body as a value; an empty body is `null`.
pub fn parse(headers: &HeaderMap, bytes: &[u8]) -> ApiResult<Value> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::BadRequest("request body is not UTF-8".into()))?;
    match media_type(headers).as_deref() {
        None | Some("application/json") => serde_json::from_str(text)
            .map_err(|e| ApiError::BadRequest(format!("malformed JSON body: {e}"))),
        Some("application/x-yaml" | "application/yaml" | "text/yaml" | "text/x-yaml") => {
            brine_common::yaml::load(text, "request body")
                .map_err(|e| ApiError::BadRequest(format!("malformed YAML body: {e}")))
        }
        Some(other) => Err(ApiError::BadRequest(format!(
            "Content-Type '{other}' is not supported (use application/json or application/x-yaml)"
        ))),
    }
}

/// Read and parse in one go.
pub async fn value(headers: &HeaderMap, body: Body, limit: usize) -> ApiResult<Value> {
    let bytes = read(headers, body, limit).await?;
    parse(headers, &bytes)
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let media = raw
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    (!media.is_empty()).then_some(media)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn typed(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_str(ct).expect("header"));
        h
    }

    #[test]
    fn json_yaml_and_errors() {
        let json = parse(&HeaderMap::new(), br#"{"a": 1}"#).expect("json");
        assert_eq!(json["a"], 1);
        let yaml =
            parse(&typed("application/x-yaml; charset=utf-8"), b"a: [1, 2]\n").expect("yaml");
        assert_eq!(yaml["a"][1], 2);
        assert!(matches!(
            parse(&HeaderMap::new(), b"{nope"),
            Err(ApiError::BadRequest(_))
        ));
        assert!(parse(&typed("text/html"), b"x").is_err());
        assert_eq!(parse(&HeaderMap::new(), b"  ").expect("empty"), Value::Null);
    }
}
