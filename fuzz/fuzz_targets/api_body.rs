//! brine-api's request bodies: JSON, YAML and form bodies by content type
//! (the first byte picks it).
#![no_main]

use http::HeaderMap;
use http::header::{CONTENT_TYPE, HeaderValue};
use libfuzzer_sys::fuzz_target;

const TYPES: [&str; 4] = [
    "application/json",
    "application/x-yaml",
    "application/x-www-form-urlencoded",
    "text/plain",
];

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(TYPES[usize::from(kind) % TYPES.len()]),
    );
    let _ = brine_api::body::parse(&headers, body);
});
