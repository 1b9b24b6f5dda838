//! Salt's `ssh_auth` states: `present` and `absent` keep one public key (or
//! every key of a `source` file) in a user's `authorized_keys`, through the
//! `ssh.*` execution functions (`check_key`, `check_key_file`,
//! `set_auth_key`, `set_auth_key_from_file`, `rm_auth_key`,
//! `rm_auth_key_from_file`).
//!
//! The reading of `authorized_keys`-format text ([`parse_auth_lines`]) lives
//! here, beside its first user, and the minion's `ssh` module reads files
//! with it too: one parser for both.
//!
//! Salt's `ssh.check_key_file` and `ssh.set_auth_key_from_file` leave "No
//! keys detected in <source>" in the loader's `__context__` for the state to
//! find; Brine has no such side channel, so the state reads the source
//! itself (`cp.get_file_str`) when it needs that message.

use base64::Engine as _;
use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use brine_common::salt_url;
use regex::Regex;
use serde_json::{Value, json};

use super::{call, changed, list_of, name_of, one, str_of, text};
use crate::lowstate::{StateCall, StateModules, StateResult};

pub fn register(m: &mut StateModules) {
    m.register("ssh_auth.present", present);
    m.register("ssh_auth.absent", absent);
}

/// Salt's key-line expression: `[options ]<enc> <key>[ comment]`.
const KEY_LINE: &str = r"^(.*?)\s?((?:sk-)?(?:ssh\-|ecds)[\w@.-]+\s.+)$";

/// Python's `base64.b64decode(s, validate=True)`: the standard alphabet,
/// padding required, non-zero trailing bits accepted.
const PY_BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// The bytes of a base64 public key, `None` when Python would refuse it.
pub fn decode_key(key: &str) -> Option<Vec<u8>> {
    PY_BASE64.decode(key).ok()
}

/// One key of an `authorized_keys`-format text.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthLine {
    pub options: Vec<String>,
    pub enc: String,
    pub key: String,
    pub comment: String,
    /// The decoded key (what fingerprints hash).
    pub raw: Vec<u8>,
}

fn key_line() -> Option<Regex> {
    Regex::new(KEY_LINE).ok()
}

/// Salt's `_validate_keys` over text: every valid key line, one entry per
/// key (a later line with the same key replaces the earlier one in place,
/// as a Python dict keeps the first position). Comments, blank lines and
/// keys that are not base64 are skipped.
pub fn parse_auth_lines(text: &str) -> Vec<AuthLine> {
    let Some(re) = key_line() else {
        return Vec::new();
    };
    let mut out: Vec<AuthLine> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(caps) = re.captures(line) else {
            continue;
        };
        let opts = caps.get(1).map_or("", |m| m.as_str());
        let comps: Vec<&str> = caps
            .get(2)
            .map_or("", |m| m.as_str())
            .split_whitespace()
            .collect();
        let [enc, key, rest @ ..] = comps.as_slice() else {
            continue;
        };
        let Some(raw) = decode_key(key) else {
            continue;
        };
        let entry = AuthLine {
            options: if opts.is_empty() {
                Vec::new()
            } else {
                opts.split(',').map(String::from).collect()
            },
            enc: (*enc).to_string(),
            key: (*key).to_string(),
            comment: rest.join(" "),
            raw,
        };
        match out.iter_mut().find(|e| e.key == entry.key) {
            Some(existing) => *existing = entry,
            None => out.push(entry),
        }
    }
    out
}

/// A key given as the state's `name`: `{options} {enc} {key} {comment}` or
/// `{key} [comment]`.
#[derive(Debug, Clone, PartialEq)]
struct KeySpec {
    key: String,
    enc: String,
    comment: String,
    options: Vec<String>,
}

/// How the words of `name` are split: `present` (and `absent` outside test
/// mode for a bare key) split at most once or twice, keeping spaces in the
/// comment; the test-mode checks split fully and take a comment only when
/// there is exactly one more word.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Split {
    Limited,
    Full,
}

/// Split `[options ]<enc> <key>[ comment]`; with the defaults for what is
/// not there. `full_key` is how the `enc key comment` part splits.
fn parse_name(name: &str, defaults: KeySpec, bare: Split, full_key: Split) -> KeySpec {
    let mut spec = defaults;
    let caps = key_line().and_then(|re| {
        re.captures(name).map(|c| {
            (
                c.get(1).map_or("", |m| m.as_str()).to_string(),
                c.get(2).map_or("", |m| m.as_str()).to_string(),
            )
        })
    });
    match caps {
        None => {
            let words = split_words(name, bare, 2);
            spec.key = words.first().cloned().unwrap_or_default();
            if words.len() == 2 {
                spec.comment = words[1].clone();
            }
        }
        Some((opts, rest)) => {
            if !opts.is_empty() {
                spec.options = opts.split(',').map(String::from).collect();
            }
            let comps = split_words(&rest, full_key, 3);
            spec.enc = comps.first().cloned().unwrap_or_default();
            spec.key = comps.get(1).cloned().unwrap_or_default();
            if comps.len() == 3 {
                spec.comment = comps[2].clone();
            }
        }
    }
    spec
}

/// Python's `str.split()` (`Full`) or `str.split(None, parts - 1)`
/// (`Limited`).
fn split_words(text: &str, how: Split, parts: usize) -> Vec<String> {
    match how {
        Split::Full => text.split_whitespace().map(String::from).collect(),
        Split::Limited => {
            let mut out = Vec::new();
            let mut rest = text.trim_start();
            while !rest.is_empty() {
                if out.len() + 1 == parts {
                    out.push(rest.trim_end().to_string());
                    break;
                }
                match rest.find(char::is_whitespace) {
                    Some(i) => {
                        out.push(rest[..i].to_string());
                        rest = rest[i..].trim_start();
                    }
                    None => {
                        out.push(rest.to_string());
                        break;
                    }
                }
            }
            out
        }
    }
}

/// The arguments every `ssh_auth` state shares.
struct Args {
    user: String,
    source: String,
    config: String,
    hash_type: Value,
    saltenv: String,
    spec: KeySpec,
}

impl Args {
    fn of(c: &StateCall<'_>) -> Result<Args, String> {
        let user = str_of(c.chunk, "user").ok_or_else(|| {
            format!(
                "Missing parameter user for state {}.{}",
                c.chunk.state, c.chunk.fun
            )
        })?;
        let options = match c.chunk.arg("options") {
            None | Some(Value::Null) => Vec::new(),
            Some(_) => list_of(c.chunk, "options"),
        };
        Ok(Args {
            user,
            source: str_of(c.chunk, "source").unwrap_or_default(),
            config: str_of(c.chunk, "config").unwrap_or_else(|| ".ssh/authorized_keys".into()),
            hash_type: c
                .chunk
                .arg("fingerprint_hash_type")
                .cloned()
                .unwrap_or(Value::Null),
            saltenv: c.chunk.env.clone(),
            spec: KeySpec {
                key: name_of(c).to_string(),
                enc: str_of(c.chunk, "enc").unwrap_or_else(|| "ssh-rsa".into()),
                comment: c.chunk.arg("comment").map(text).unwrap_or_default(),
                options,
            },
        })
    }

    /// `ssh.check_key` for the key in `spec`.
    fn check_key(&self, c: &StateCall<'_>, spec: &KeySpec) -> Result<String, String> {
        call(
            c.host,
            "ssh.check_key",
            vec![
                json!(self.user),
                json!(spec.key),
                json!(spec.enc),
                json!(spec.comment),
                json!(spec.options),
            ],
            &[
                ("config", json!(self.config)),
                ("fingerprint_hash_type", self.hash_type.clone()),
            ],
        )
        .map(|v| text(&v))
    }

    /// `ssh.check_key_file`: key -> "add", "update" or "exists".
    fn check_key_file(&self, c: &StateCall<'_>) -> Result<Vec<(String, String)>, String> {
        let keys = call(
            c.host,
            "ssh.check_key_file",
            vec![json!(self.user), json!(self.source), json!(self.config)],
            &[
                ("saltenv", json!(self.saltenv)),
                ("fingerprint_hash_type", self.hash_type.clone()),
            ],
        )?;
        Ok(keys
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
            .unwrap_or_default())
    }

    /// The error Salt's `ssh.*_from_file` functions leave behind: the
    /// source exists but holds no valid key.
    fn source_error(&self, c: &StateCall<'_>) -> Option<String> {
        let content = call(
            c.host,
            "cp.get_file_str",
            vec![json!(self.source)],
            &[("saltenv", json!(self.saltenv))],
        )
        .ok()?;
        let content = content.as_str()?;
        parse_auth_lines(content).is_empty().then(|| {
            format!(
                "No keys detected in {}. Is file properly formatted?",
                self.source
            )
        })
    }

    /// Whether the source can be fetched (Salt's `cp.get_url` to the cache).
    fn source_available(&self, c: &StateCall<'_>) -> bool {
        match salt_url::file_of(&self.source, &self.saltenv) {
            Some(file) => file.is_ok_and(|(env, path)| c.host.cache_file(&env, &path).is_ok()),
            None => true,
        }
    }
}

fn present(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c).to_string();
    let run = || -> Result<StateResult, String> {
        let mut args = Args::of(c)?;
        if args.source.is_empty() {
            args.spec = parse_name(&name, args.spec.clone(), Split::Limited, Split::Limited);
        }
        if c.test {
            let (result, comment) = present_test(c, &args)?;
            return Ok(StateResult {
                result,
                ..StateResult::ok(&name, comment)
            });
        }
        let data = if args.source.is_empty() {
            let spec = &args.spec;
            text(&call(
                c.host,
                "ssh.set_auth_key",
                vec![json!(args.user), json!(spec.key)],
                &[
                    ("enc", json!(spec.enc)),
                    ("comment", json!(spec.comment)),
                    ("options", json!(spec.options)),
                    ("config", json!(args.config)),
                    ("fingerprint_hash_type", args.hash_type.clone()),
                ],
            )?)
        } else if !args.source_available(c) {
            "no key".to_string()
        } else {
            let options = c.chunk.arg("options").cloned().unwrap_or(Value::Null);
            text(&call(
                c.host,
                "ssh.set_auth_key_from_file",
                vec![json!(args.user), json!(args.source)],
                &[
                    ("config", json!(args.config)),
                    ("saltenv", json!(args.saltenv)),
                    ("fingerprint_hash_type", args.hash_type.clone()),
                    ("options", options),
                ],
            )?)
        };
        Ok(present_outcome(c, &name, &args, &data))
    };
    run().unwrap_or_else(|e| StateResult::fail(&name, e))
}

/// Salt's answer to what `ssh.set_auth_key*` returned.
fn present_outcome(c: &StateCall<'_>, name: &str, args: &Args, data: &str) -> StateResult {
    let (key, user) = (&args.spec.key, &args.user);
    let fail = |comment: String| StateResult::fail(name, comment);
    match data {
        "replace" => changed(
            name,
            format!("The authorized host key {key} for user {user} was updated"),
            one(key, json!("Updated")),
        ),
        "no change" => StateResult::ok(
            name,
            format!("The authorized host key {key} is already present for user {user}"),
        ),
        "new" => changed(
            name,
            format!("The authorized host key {key} for user {user} was added"),
            one(key, json!("New")),
        ),
        "no key" => fail(format!(
            "Failed to add the ssh key. Source file {} is missing",
            args.source
        )),
        "fail" => fail(
            (!args.source.is_empty())
                .then(|| args.source_error(c))
                .flatten()
                .unwrap_or_else(|| {
                    "Failed to add the ssh key. Is the home directory available, and/or does the key file exist?".into()
                }),
        ),
        "invalid" | "Invalid public key" => {
            fail("Invalid public ssh key, most likely has spaces or invalid syntax".into())
        }
        _ => StateResult::ok(name, ""),
    }
}

/// The test-mode check of a `source` file: a line per key whose status is
/// not `done` (`line(key, status)`), else "already <state>" (or the source's
/// error).
fn source_test(
    c: &StateCall<'_>,
    args: &Args,
    done: &str,
    state: &str,
    line: fn(&str, &str) -> String,
) -> Result<(Option<bool>, String), String> {
    let keys = args.check_key_file(c)?;
    let comment: String = keys
        .iter()
        .filter(|(_, status)| status != done)
        .map(|(key, status)| line(key, status))
        .collect();
    if !comment.is_empty() {
        return Ok((None, comment));
    }
    if keys.is_empty()
        && let Some(err) = args.source_error(c)
    {
        return Ok((Some(false), err));
    }
    Ok((
        Some(true),
        format!("All host keys in file {} are already {state}", args.source),
    ))
}

/// Salt's `_present_test`: `(result, comment)`.
fn present_test(c: &StateCall<'_>, args: &Args) -> Result<(Option<bool>, String), String> {
    if !args.source.is_empty() {
        return source_test(c, args, "exists", "present", |key, status| {
            format!("Set to {status}: {key}\n")
        });
    }
    let spec = parse_name(&args.spec.key, args.spec.clone(), Split::Full, Split::Full);
    let (key, user) = (&spec.key, &args.user);
    Ok(match args.check_key(c, &spec)?.as_str() {
        "update" => (
            None,
            format!("Key {key} for user {user} is set to be updated"),
        ),
        "add" => (
            None,
            format!("Key {key} for user {user} is set to be added"),
        ),
        "exists" => (
            Some(true),
            format!("The authorized host key {key} is already present for user {user}"),
        ),
        _ => (None, spec.comment.clone()),
    })
}

/// Salt's `_absent_test`: `(result, comment)`.
fn absent_test(c: &StateCall<'_>, args: &Args) -> Result<(Option<bool>, String), String> {
    if !args.source.is_empty() {
        return source_test(c, args, "add", "absent", |key, _| {
            format!("Set to remove: {key}\n")
        });
    }
    let spec = parse_name(&args.spec.key, args.spec.clone(), Split::Full, Split::Full);
    Ok(match args.check_key(c, &spec)?.as_str() {
        "update" | "exists" => (
            None,
            format!("Key {} for user {} is set for removal", spec.key, args.user),
        ),
        _ => (Some(true), "Key is already absent".to_string()),
    })
}

fn absent(c: &StateCall<'_>) -> StateResult {
    let name = name_of(c).to_string();
    let run = || -> Result<StateResult, String> {
        let args = Args::of(c)?;
        if c.test {
            let (result, comment) = absent_test(c, &args)?;
            return Ok(StateResult {
                result,
                ..StateResult::ok(&name, comment)
            });
        }
        let (key, comment) = if !args.source.is_empty() {
            // A missing source leaves Salt's comment empty (and the result True).
            let comment = if args.source_available(c) {
                text(&call(
                    c.host,
                    "ssh.rm_auth_key_from_file",
                    vec![json!(args.user), json!(args.source), json!(args.config)],
                    &[
                        ("saltenv", json!(args.saltenv)),
                        ("fingerprint_hash_type", args.hash_type.clone()),
                    ],
                )?)
            } else {
                String::new()
            };
            (name.clone(), comment)
        } else {
            let spec = parse_name(&name, args.spec.clone(), Split::Limited, Split::Full);
            let comment = text(&call(
                c.host,
                "ssh.rm_auth_key",
                vec![json!(args.user), json!(spec.key)],
                &[
                    ("config", json!(args.config)),
                    ("fingerprint_hash_type", args.hash_type.clone()),
                ],
            )?);
            (spec.key, comment)
        };
        Ok(match comment.as_str() {
            "User authorized keys file not present" => StateResult::fail(&name, comment),
            "Key removed" => changed(&name, comment, one(&key, json!("Removed"))),
            _ => StateResult::ok(&name, comment),
        })
    };
    run().unwrap_or_else(|e| StateResult::fail(&name, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::mock::{MockHost, chunk, run};

    const KEY: &str = "AAAAB3NzaC1yc2EAAAADAQABAAABAQC7";

    fn keys_host(status: &'static str) -> MockHost {
        MockHost::new(move |f, args, _| match f {
            "ssh.check_key" => Ok(json!(status)),
            "ssh.check_key_file" => Ok(json!({})),
            "cp.get_file_str" if args.first() == Some(&json!("salt://keys/empty.pub")) => {
                Ok(json!("# nothing here\nnot a key\n"))
            }
            "cp.get_file_str" => Ok(json!(false)),
            "ssh.set_auth_key" => Ok(json!("new")),
            "ssh.rm_auth_key" => Ok(json!("Key removed")),
            _ => Err(format!("unexpected {f}")),
        })
    }

    #[test]
    fn authorized_keys_text_is_read_like_salt() {
        let text = format!(
            "# comment\n\ncommand=\"x\",no-pty ssh-rsa {KEY} me@host extra\nssh-ed25519 PUBLICKEY bad\nssh-rsa {KEY} again\n"
        );
        let keys = parse_auth_lines(&text);
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].comment, "again");
        assert!(keys[0].options.is_empty());
        let first = parse_auth_lines(&format!("command=\"x\",no-pty ssh-rsa {KEY} me@host\n"));
        assert_eq!(first[0].options, vec!["command=\"x\"", "no-pty"]);
        assert_eq!(first[0].enc, "ssh-rsa");
    }

    #[test]
    fn names_split_into_options_enc_key_and_comment() {
        let defaults = KeySpec {
            key: String::new(),
            enc: "ssh-rsa".into(),
            comment: String::new(),
            options: Vec::new(),
        };
        let s = parse_name(
            "no-pty ssh-ed25519 AAAA me at host",
            defaults.clone(),
            Split::Limited,
            Split::Limited,
        );
        assert_eq!(
            (
                s.options,
                s.enc.as_str(),
                s.key.as_str(),
                s.comment.as_str()
            ),
            (
                vec!["no-pty".to_string()],
                "ssh-ed25519",
                "AAAA",
                "me at host"
            )
        );
        let s = parse_name(
            "AAAA me at host",
            defaults.clone(),
            Split::Full,
            Split::Full,
        );
        assert_eq!((s.key.as_str(), s.comment.as_str()), ("AAAA", ""));
        let s = parse_name("AAAA me", defaults, Split::Full, Split::Full);
        assert_eq!((s.key.as_str(), s.comment.as_str()), ("AAAA", "me"));
    }

    #[test]
    fn a_key_to_add_is_predicted() {
        let h = keys_host("add");
        let ch = chunk("ssh_auth", "present", "PUBLICKEY", json!({"user": "buser"}));
        let r = run(present, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(r.comment, "Key PUBLICKEY for user buser is set to be added");
        assert!(r.changes.is_empty());
        assert_eq!(h.calls_to("ssh.check_key")[0].args[2], json!("ssh-rsa"));
    }

    #[test]
    fn a_missing_key_is_already_absent() {
        let h = keys_host("add");
        let ch = chunk(
            "ssh_auth",
            "absent",
            "PUBLICKEY_TO_BE_REMOVED",
            json!({"user": "buser"}),
        );
        let r = run(absent, &h, &ch, true);
        assert_eq!(r.result, Some(true));
        assert_eq!(r.comment, "Key is already absent");
        let h = keys_host("exists");
        let r = run(absent, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(
            r.comment,
            "Key PUBLICKEY_TO_BE_REMOVED for user buser is set for removal"
        );
    }

    #[test]
    fn a_source_without_keys_to_change_is_already_there() {
        let h = keys_host("add");
        let ch = chunk(
            "ssh_auth",
            "present",
            "id0",
            json!({"user": "buser", "source": "salt://keys/buser.id_rsa.pub"}),
        );
        let r = run(present, &h, &ch, true);
        assert_eq!(r.result, Some(true));
        assert_eq!(
            r.comment,
            "All host keys in file salt://keys/buser.id_rsa.pub are already present"
        );
        let ch = chunk(
            "ssh_auth",
            "absent",
            "id1",
            json!({"user": "buser", "source": "salt://keys/deleteduser.id_rsa.pub"}),
        );
        assert_eq!(
            run(absent, &h, &ch, true).comment,
            "All host keys in file salt://keys/deleteduser.id_rsa.pub are already absent"
        );
    }

    #[test]
    fn a_source_without_valid_keys_fails() {
        let h = keys_host("add");
        let ch = chunk(
            "ssh_auth",
            "present",
            "id0",
            json!({"user": "buser", "source": "salt://keys/empty.pub"}),
        );
        let r = run(present, &h, &ch, true);
        assert_eq!(r.result, Some(false));
        assert_eq!(
            r.comment,
            "No keys detected in salt://keys/empty.pub. Is file properly formatted?"
        );
    }

    #[test]
    fn keys_of_a_source_are_listed_by_status() {
        let h = MockHost::new(|f, _, _| match f {
            "ssh.check_key_file" => Ok(json!({"AAAA": "add", "BBBB": "exists", "CCCC": "update"})),
            _ => Err(format!("unexpected {f}")),
        });
        let ch = chunk(
            "ssh_auth",
            "present",
            "id0",
            json!({"user": "u", "source": "salt://k.pub"}),
        );
        let r = run(present, &h, &ch, true);
        assert_eq!(r.result, None);
        assert_eq!(r.comment, "Set to add: AAAA\nSet to update: CCCC\n");
        let r = run(absent, &h, &ch, true);
        assert_eq!(r.comment, "Set to remove: BBBB\nSet to remove: CCCC\n");
    }

    #[test]
    fn keys_are_added_and_removed() {
        let h = keys_host("add");
        let ch = chunk(
            "ssh_auth",
            "present",
            "ssh-ed25519 AAAA me@host",
            json!({"user": "u"}),
        );
        let r = run(present, &h, &ch, false);
        assert_eq!(
            r.comment,
            "The authorized host key AAAA for user u was added"
        );
        assert_eq!(r.changes["AAAA"], json!("New"));
        let set = &h.calls_to("ssh.set_auth_key")[0];
        assert_eq!(set.kwargs["enc"], json!("ssh-ed25519"));
        assert_eq!(set.kwargs["comment"], json!("me@host"));
        let ch = chunk("ssh_auth", "absent", "AAAA", json!({"user": "u"}));
        let r = run(absent, &h, &ch, false);
        assert_eq!(r.comment, "Key removed");
        assert_eq!(r.changes["AAAA"], json!("Removed"));
    }

    #[test]
    fn the_user_is_required() {
        let h = keys_host("add");
        let ch = chunk("ssh_auth", "present", "AAAA", json!({}));
        let r = run(present, &h, &ch, true);
        assert_eq!(r.result, Some(false));
        assert_eq!(
            r.comment,
            "Missing parameter user for state ssh_auth.present"
        );
    }

    #[test]
    fn python_base64_rules() {
        assert!(decode_key("PUBLICKEY").is_none());
        assert!(decode_key("AB==").is_some());
        assert!(decode_key("AB=").is_none());
        assert!(decode_key("A B=").is_none());
    }
}
