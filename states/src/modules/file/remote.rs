//! `file.managed` with a remote `source` (`http://`, `https://`, `ftp://`),
//! as Salt's `file.get_managed` and `file.manage_file` do it.
//!
//! Unless `skip_verify` is set, a remote source needs a `source_hash`: a
//! digest (`<type>=<hex>` or bare hex, the type from its length), or a hash
//! file (a local path or a URL) searched for the line of this file (Salt's
//! `file.extract_hash`). The file itself is downloaded by `cp.cache_file`
//! into the minion's `extrn_files` cache; a real run then checks its digest.
//! Texts are Salt's: `Unable to verify upstream hash of source file ...`,
//! `Failed to cache <url>: <reason>`, `Specified sha256 checksum for ...`,
//! with `Unable to manage file: ` in front where Salt's real run has it.

use serde_json::{Value, json};

use crate::lowstate::StateCall;
use crate::modules::{call, name_of, str_of, text};

/// Salt's `VALID_PROTOS`: where a hash file may come from.
const VALID_PROTOS: [&str; 7] = ["salt", "file", "http", "https", "ftp", "swift", "s3"];

/// Salt's `HASHES`, in its order (for the error texts).
const HASHES: [(&str, usize); 6] = [
    ("sha512", 128),
    ("sha384", 96),
    ("sha256", 64),
    ("sha224", 56),
    ("sha1", 40),
    ("md5", 32),
];

/// Whether `source` is fetched from the network.
pub(crate) fn is_remote(source: &str) -> bool {
    matches!(scheme_of(source).as_deref(), Some("http" | "https" | "ftp"))
}

/// The lower-cased URL scheme, if `s` has one (`scheme://`).
fn scheme_of(s: &str) -> Option<String> {
    let (scheme, _) = s.split_once("://")?;
    let valid = !scheme.is_empty()
        && scheme
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "+-.".contains(ch));
    valid.then(|| scheme.to_ascii_lowercase())
}

/// An expected digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceSum {
    pub hash_type: String,
    pub hsum: String,
}

/// The local copy of a remote source: `Ok(None)` when it is one of several
/// sources and cannot be fetched (the next one is tried, as Salt's
/// `source_list` skips a URL that does not answer), `Err` with the state's
/// comment otherwise.
pub(crate) fn fetch(c: &StateCall<'_>, source: &str) -> Result<Option<String>, String> {
    let in_list = matches!(c.chunk.arg("source"), Some(Value::Array(items)) if items.len() > 1);
    // Salt's real run reports `get_managed`'s errors behind this prefix.
    let managed_error = |msg: String| {
        if c.test {
            msg
        } else {
            format!("Unable to manage file: {msg}")
        }
    };
    let skip_verify = c.chunk.bool_arg("skip_verify", false);
    let sum = if skip_verify {
        None
    } else {
        match str_of(c.chunk, "source_hash") {
            Some(spec) => Some(
                source_sum(c, source, &spec)
                    .map_err(|e| managed_error(format!("Unable to manage file: {e}")))?,
            ),
            None => {
                return Err(managed_error(format!(
                    "Unable to verify upstream hash of source file {}, please set source_hash or set skip_verify to True",
                    redact(source)
                )));
            }
        }
    };
    let local = match cached_copy(c, source, skip_verify)? {
        Some(local) => local,
        None => match cache(c, source, sum.as_ref().map(|s| s.hsum.as_str())) {
            Ok(local) => local,
            Err(_) if in_list => return Ok(None),
            Err(e) => {
                return Err(managed_error(format!(
                    "Failed to cache {}: {e}",
                    redact(source)
                )));
            }
        },
    };
    if let Some(sum) = sum.filter(|_| !c.test) {
        verify(c, &local, &sum)?;
    }
    Ok(Some(local))
}

/// Salt's shortcut before any download: an existing file whose digest is
/// the remote source's `source_hash` keeps its bytes (only owner and mode
/// are managed). A hash that cannot be worked out is no match (Salt logs it).
pub(crate) fn existing_file_matches(c: &StateCall<'_>) -> bool {
    let source = match c.chunk.arg("source") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) if items.len() == 1 => text(&items[0]),
        _ => return false,
    };
    let Some(spec) = str_of(c.chunk, "source_hash").filter(|_| is_remote(&source)) else {
        return false;
    };
    let Ok(sum) = source_sum(c, &source, &spec) else {
        return false;
    };
    call(
        c.host,
        "file.get_hash",
        vec![json!(name_of(c)), json!(sum.hash_type)],
        &[],
    )
    .is_ok_and(|have| text(&have) == sum.hsum)
}

/// With `skip_verify`, a copy already in the cache is used as it is.
fn cached_copy(
    c: &StateCall<'_>,
    source: &str,
    skip_verify: bool,
) -> Result<Option<String>, String> {
    if !skip_verify {
        return Ok(None);
    }
    let cached = text(&call(
        c.host,
        "cp.is_cached",
        vec![json!(source), json!(c.chunk.env)],
        &[],
    )?);
    Ok(Some(cached).filter(|p| !p.is_empty()))
}

/// `cp.cache_file` of a URL; the error is the minion's reason.
fn cache(c: &StateCall<'_>, url: &str, hsum: Option<&str>) -> Result<String, String> {
    let verify_ssl = c.chunk.bool_arg("verify_ssl", true);
    call(
        c.host,
        "cp.cache_file",
        vec![json!(url), json!(c.chunk.env)],
        &[
            ("source_hash", hsum.map_or(Value::Null, |h| json!(h))),
            ("verify_ssl", json!(verify_ssl)),
        ],
    )
    .map(|v| text(&v))
    .map_err(|e| crate::modules::exc_text(&e).to_string())
}

/// `file.manage_file`'s check of a downloaded file.
fn verify(c: &StateCall<'_>, local: &str, sum: &SourceSum) -> Result<(), String> {
    let actual = text(&call(
        c.host,
        "file.get_hash",
        vec![json!(local), json!(sum.hash_type)],
        &[],
    )?);
    if actual == sum.hsum {
        return Ok(());
    }
    Err(format!(
        "Specified {} checksum for {} ({}) does not match actual checksum ({actual})",
        sum.hash_type,
        name_of(c),
        sum.hsum
    ))
}

/// Salt's `file.get_source_sum`: the expected digest from `source_hash`.
fn source_sum(c: &StateCall<'_>, source: &str, spec: &str) -> Result<SourceSum, String> {
    let hash_file = if spec.starts_with('/') {
        Some(spec.to_string())
    } else {
        match scheme_of(spec) {
            Some(proto) if VALID_PROTOS.contains(&proto.as_str()) => {
                // Salt's intent when the hash file cannot be cached (its
                // `cp.cache_file` raises there instead: a traceback).
                let not_found = || format!("Source hash file {} not found", redact(spec));
                let local = cache(c, spec, None).map_err(|_| not_found())?;
                if local.is_empty() {
                    return Err(not_found());
                }
                Some(local)
            }
            Some(_) => return Err(invalid_format(spec)),
            None => None,
        }
    };
    match hash_file {
        Some(path) => {
            let content = text(&call(c.host, "file.read", vec![json!(path)], &[])?);
            let hash_name = str_of(c.chunk, "source_hash_name");
            extract_hash(&content, name_of(c), source, hash_name.as_deref())
                .ok_or_else(|| invalid_format(spec))
        }
        None => hash_expression(spec),
    }
}

/// A `source_hash` given as `<type>=<hex>` or as bare hex.
fn hash_expression(spec: &str) -> Result<SourceSum, String> {
    let (hash_type, hsum) = match spec.split_once('=') {
        Some((t, h)) => (t.trim().to_string(), h.trim().to_string()),
        None => {
            if spec.is_empty() || !spec.chars().all(|ch| ch.is_ascii_hexdigit()) {
                return Err(invalid_format(spec));
            }
            let form = form_of_len(spec.len()).ok_or_else(|| invalid_format(spec))?;
            (form.to_string(), spec.to_string())
        }
    };
    let Some(&(_, wanted_len)) = HASHES.iter().find(|(t, _)| *t == hash_type) else {
        let names: Vec<&str> = HASHES.iter().map(|(t, _)| *t).collect();
        return Err(format!(
            "Invalid hash type '{hash_type}'. Supported hash types are: {}. Either remove the hash type and simply use '{hsum}' as the source_hash, or change the hash type to a supported type.",
            names.join(", ")
        ));
    };
    match form_of_len(hsum.len()) {
        None => Err(invalid_format(spec)),
        Some(other) if hsum.len() != wanted_len => Err(format!(
            "Invalid length ({}) for hash type '{hash_type}'. Either remove the hash type and simply use '{hsum}' as the source_hash, or change the hash type to '{other}'",
            hsum.len()
        )),
        Some(_) => Ok(SourceSum {
            hash_type,
            hsum: hsum.to_lowercase(),
        }),
    }
}

/// Salt's `HASHES_REVMAP`.
fn form_of_len(len: usize) -> Option<&'static str> {
    HASHES.iter().find(|(_, l)| *l == len).map(|(t, _)| *t)
}

fn invalid_format(spec: &str) -> String {
    let mut by_len: Vec<&(&str, usize)> = HASHES.iter().collect();
    by_len.sort_by_key(|(_, l)| *l);
    let lengths: Vec<String> = by_len.iter().map(|(t, l)| format!("{t} ({l})")).collect();
    format!(
        "Source hash {} format is invalid. The supported formats are: 1) a hash, 2) an expression in the format <hash_type>=<hash>, or 3) either a path to a local file containing hashes, or a URI of a remote hash file. Supported protocols for remote hash files are: {}. The hash may also not be of a valid length, the following are supported hash types and lengths: {}.",
        redact(spec),
        VALID_PROTOS.join(", "),
        lengths.join(", ")
    )
}

/// Salt's `file.extract_hash` over a hash file's text: the digest on the
/// line naming `source_hash_name`, else the destination's file name, else
/// the source's, else the first digest in the file.
pub(crate) fn extract_hash(
    content: &str,
    file_name: &str,
    source: &str,
    source_hash_name: Option<&str>,
) -> Option<SourceSum> {
    let source_path = source.split_once("://").map_or(source, |(_, rest)| {
        rest.find('/').map_or(rest, |i| &rest[i..])
    });
    let source_path = source_path.split(['?', '#']).next().unwrap_or(source_path);
    let basename = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
    let searches = [
        source_hash_name.map(|n| (n.to_string(), n.to_string(), false)),
        Some((basename(file_name), file_name.to_string(), true)).filter(|_| !file_name.is_empty()),
        Some((basename(source_path), source.to_string(), true)).filter(|_| !source.is_empty()),
    ];
    let mut first = None;
    let mut found: [Option<SourceSum>; 3] = [None, None, None];
    for line in content.lines().map(str::trim) {
        let Some(sum) = digest_in(line) else {
            continue;
        };
        first.get_or_insert_with(|| sum.clone());
        for (slot, search) in found.iter_mut().zip(&searches) {
            if let Some((base, full, path_sep)) = search
                && slot.is_none()
                && line_names(line, base, full, *path_sep)
            {
                *slot = Some(sum.clone());
            }
        }
    }
    found.into_iter().flatten().next().or(first)
}

/// The first digest-length hex word in a line.
fn digest_in(line: &str) -> Option<SourceSum> {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let word = &line[start..i];
        if !word.is_empty()
            && word.chars().all(|ch| ch.is_ascii_hexdigit())
            && let Some(form) = form_of_len(word.len())
        {
            return Some(SourceSum {
                hash_type: form.to_string(),
                hsum: word.to_lowercase(),
            });
        }
        i = i.max(start + 1);
    }
    None
}

/// Whether a hash-file line is about `base` (ending with it after a
/// separator) or starts with `full` and whitespace.
fn line_names(line: &str, base: &str, full: &str, path_sep: bool) -> bool {
    if let Some(before) = line.strip_suffix(base) {
        let sep = before.chars().next_back();
        return sep.is_some_and(|ch| ch.is_whitespace() || (path_sep && "\\/*".contains(ch)));
    }
    line.strip_prefix(full)
        .is_some_and(|rest| rest.starts_with(char::is_whitespace))
}

/// Salt's `redact_http_basic_auth`: from the first `http(s)://` to the
/// last `@` becomes `<redacted>`.
fn redact(url: &str) -> String {
    let lower = url.to_ascii_lowercase();
    let scheme_at = [lower.find("http://"), lower.find("https://")]
        .into_iter()
        .flatten()
        .min();
    let Some(start) = scheme_at else {
        return url.to_string();
    };
    let after_scheme = start + lower[start..].find("://").unwrap_or(0) + 3;
    match url[after_scheme..].rfind('@') {
        Some(at) => format!(
            "{}<redacted>{}",
            &url[..after_scheme],
            &url[after_scheme + at..]
        ),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests;
