//! Salt's lowstate: the chunks `POST /` takes, each naming its `client`
//! (`local`, `local_async`, `runner`, `wheel`), `fun` and arguments.

use brine_common::target::TargetType;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    Local,
    LocalAsync,
    Runner,
    Wheel,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub client: Client,
    pub fun: String,
    pub tgt: Value,
    /// `glob` for `runner` and `wheel` chunks, which have no target.
    pub tgt_type: TargetType,
    pub arg: Vec<Value>,
    pub kwarg: Map<String, Value>,
    /// Seconds without a word from a minion before giving up (`local`).
    pub timeout: Option<f64>,
}

/// Keys that are part of the chunk itself, not runner keyword arguments.
const CHUNK_KEYS: &[&str] = &[
    "client",
    "fun",
    "tgt",
    "tgt_type",
    "expr_form",
    "arg",
    "kwarg",
    "timeout",
    "token",
    "full_return",
];

/// One chunk or a list of them.
pub fn parse_chunks(body: Value) -> ApiResult<Vec<Chunk>> {
    match body {
        Value::Array(items) if !items.is_empty() => items.into_iter().map(parse_chunk).collect(),
        Value::Object(_) => Ok(vec![parse_chunk(body)?]),
        Value::Null => Err(ApiError::BadRequest(
            "request body is empty: expected lowstate chunks".into(),
        )),
        _ => Err(ApiError::BadRequest(
            "lowstate must be a mapping or a non-empty list of mappings".into(),
        )),
    }
}

pub fn parse_chunk(value: Value) -> ApiResult<Chunk> {
    let Value::Object(map) = value else {
        return Err(ApiError::BadRequest(
            "each lowstate chunk must be a mapping".into(),
        ));
    };
    let client = parse_client(map.get("client"))?;
    let fun = required_str(&map, "fun")?;
    let (tgt, tgt_type) = match client {
        Client::Local | Client::LocalAsync => target(&map)?,
        Client::Runner | Client::Wheel => (Value::Null, TargetType::Glob),
    };
    let mut kwarg = match map.get("kwarg") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(k)) => k.clone(),
        Some(_) => return Err(ApiError::field("kwarg", "must be a mapping")),
    };
    if matches!(client, Client::Runner | Client::Wheel) {
        // Salt passes a runner's extra keys as its keyword arguments.
        for (k, v) in map
            .iter()
            .filter(|(k, _)| !CHUNK_KEYS.contains(&k.as_str()))
        {
            kwarg.insert(k.clone(), v.clone());
        }
    }
    Ok(Chunk {
        client,
        fun,
        tgt,
        tgt_type,
        arg: args(map.get("arg"))?,
        kwarg,
        timeout: timeout(map.get("timeout"))?,
    })
}

fn parse_client(value: Option<&Value>) -> ApiResult<Client> {
    match value.and_then(Value::as_str) {
        Some("local") => Ok(Client::Local),
        Some("local_async") => Ok(Client::LocalAsync),
        Some("runner") => Ok(Client::Runner),
        Some("wheel") => Ok(Client::Wheel),
        Some(other) => Err(ApiError::field(
            "client",
            &format!("unknown client '{other}' (local, local_async, runner, wheel)"),
        )),
        None => Err(ApiError::field("client", "is required (a string)")),
    }
}

fn required_str(map: &Map<String, Value>, key: &str) -> ApiResult<String> {
    match map.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(_) => Err(ApiError::field(key, "must be a non-empty string")),
        None => Err(ApiError::field(key, "is required")),
    }
}

/// `tgt` and its type. An unknown type is refused under `tgt`, in the words
/// of the target check it used to reach.
fn target(map: &Map<String, Value>) -> ApiResult<(Value, TargetType)> {
    let tgt_type = match map.get("tgt_type").or_else(|| map.get("expr_form")) {
        None => Ok(TargetType::Glob),
        Some(Value::String(s)) => TargetType::parse(s),
        Some(_) => return Err(ApiError::field("tgt_type", "must be a string")),
    };
    let tgt = match map.get("tgt") {
        Some(Value::String(s)) if !s.is_empty() => Value::String(s.clone()),
        Some(Value::Array(a)) if matches!(tgt_type, Ok(TargetType::List)) => {
            Value::Array(a.clone())
        }
        Some(_) => return Err(ApiError::field("tgt", "must be a non-empty string")),
        None => return Err(ApiError::field("tgt", "is required")),
    };
    let tgt_type = tgt_type.map_err(|e| ApiError::field("tgt", &e.to_string()))?;
    Ok((tgt, tgt_type))
}

fn args(value: Option<&Value>) -> ApiResult<Vec<Value>> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => Ok(a.clone()),
        Some(Value::Object(_)) => Err(ApiError::field(
            "arg",
            "must be a list (keyword arguments go in 'kwarg')",
        )),
        Some(scalar) => Ok(vec![scalar.clone()]),
    }
}

fn timeout(value: Option<&Value>) -> ApiResult<Option<f64>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(t) if t.is_finite() && t >= 0.0 => Ok(Some(t)),
            _ => Err(ApiError::field("timeout", "must be a non-negative number")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn local_chunk() {
        let chunks = parse_chunks(json!([{"client": "local", "tgt": "*", "fun": "test.arg",
            "arg": ["a"], "kwarg": {"k": 1}}]))
        .expect("parse");
        assert_eq!(chunks[0].client, Client::Local);
        assert_eq!(chunks[0].tgt_type, TargetType::Glob);
        assert_eq!(chunks[0].arg, vec![json!("a")]);
    }

    #[test]
    fn runner_extras_are_kwargs() {
        let c = parse_chunk(json!({"client": "runner", "fun": "jobs.lookup_jid", "jid": "1"}))
            .expect("parse");
        assert_eq!(c.kwarg["jid"], "1");
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse_chunk(json!({"fun": "test.ping"})).expect_err("no client");
        assert!(e.to_string().contains("'client'"));
        let e = parse_chunk(json!({"client": "local", "fun": "test.ping"})).expect_err("no tgt");
        assert!(e.to_string().contains("'tgt'"));
        let e = parse_chunk(json!({"client": "local", "tgt": "*", "fun": 3})).expect_err("fun");
        assert!(e.to_string().contains("'fun'"));
        assert!(parse_chunks(json!("x")).is_err());
    }

    #[test]
    fn the_target_type_is_parsed_once_here() {
        let chunk = |body: Value| parse_chunk(body).map(|c| (c.tgt, c.tgt_type));
        assert_eq!(
            chunk(json!({"client": "local", "tgt": ["m1", "m2"], "tgt_type": "list", "fun": "f"}))
                .expect("list"),
            (json!(["m1", "m2"]), TargetType::List)
        );
        assert_eq!(
            chunk(json!({"client": "local", "tgt": "os:*", "expr_form": "grain", "fun": "f"}))
                .expect("old name")
                .1,
            TargetType::Grain
        );
        // Refused as the target check refused it before the type was parsed here.
        let unknown = chunk(
            json!({"client": "local", "tgt": "*", "tgt_type": "pillar_exact",
            "fun": "f"}),
        )
        .expect_err("unknown type");
        let before = ApiError::field(
            "tgt",
            &brine_common::target::TargetError::UnknownType("pillar_exact".into()).to_string(),
        );
        assert_eq!(unknown.to_string(), before.to_string());
        assert!(
            unknown
                .to_string()
                .contains("unsupported target type \"pillar_exact\""),
            "{unknown}"
        );
    }
}
