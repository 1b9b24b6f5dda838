//! The parts of Python's `re` that Salt's `file` functions expose: flag
//! arguments (`flags=8`, `flags=[MULTILINE, IGNORECASE]`), replacement
//! templates (`\1`, `\g<name>`, `\n`), and `re.subn` over the file's bytes.
//!
//! Patterns are compiled with the `regex` crate, in byte mode without
//! Unicode classes, as Python compiles Salt's `bytes` patterns. Python-only
//! syntax (look-around, back-references) is refused with the crate's message.

use regex::bytes::{Captures, Regex, RegexBuilder};
use serde_json::Value;

use super::super::process::py_str;

/// `re.IGNORECASE` and friends, as the integer bits Python uses.
pub const IGNORECASE: u32 = 2;
pub const LOCALE: u32 = 4;
pub const MULTILINE: u32 = 8;
pub const DOTALL: u32 = 16;
pub const UNICODE: u32 = 32;
pub const VERBOSE: u32 = 64;
pub const DEBUG: u32 = 128;
pub const ASCII: u32 = 256;

/// The bits of one flag name, as `getattr(re.RegexFlag, name.upper())`.
fn flag_bits(name: &str) -> Option<u32> {
    Some(match name.to_ascii_uppercase().as_str() {
        "I" | "IGNORECASE" => IGNORECASE,
        "L" | "LOCALE" => LOCALE,
        "M" | "MULTILINE" => MULTILINE,
        "S" | "DOTALL" => DOTALL,
        "U" | "UNICODE" => UNICODE,
        "X" | "VERBOSE" => VERBOSE,
        "DEBUG" => DEBUG,
        "A" | "ASCII" => ASCII,
        _ => return None,
    })
}

/// Salt's `_get_flags`: an integer, one flag name, or a list of names.
pub fn parse_flags(flags: &Value) -> Result<u32, String> {
    match flags {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("Invalid re flags: \"{n}\"")),
        Value::String(name) => {
            flag_bits(name).ok_or_else(|| format!("Invalid re flag given: {name}"))
        }
        Value::Array(items) => items.iter().try_fold(0, |acc, item| {
            let name = py_str(item);
            flag_bits(&name)
                .map(|b| acc | b)
                .ok_or_else(|| format!("Invalid re flag given: {name}"))
        }),
        other => Err(format!(
            "Invalid re flags: \"{}\", must be given either as a single flag string, a list of strings, as an integer, or as an re flag",
            py_str(other)
        )),
    }
}

/// Python spellings the `regex` crate writes differently.
fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            // Python's end-of-string anchor.
            Some('Z') => out.push_str("\\z"),
            Some(n) => {
                out.push('\\');
                out.push(n);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Compile `pattern` with Python flag bits.
pub fn compile(pattern: &str, flags: u32) -> Result<Regex, String> {
    RegexBuilder::new(&translate(pattern))
        .unicode(false)
        .case_insensitive(flags & IGNORECASE != 0)
        .multi_line(flags & MULTILINE != 0)
        .dot_matches_new_line(flags & DOTALL != 0)
        .ignore_whitespace(flags & VERBOSE != 0)
        .build()
        .map_err(|e| e.to_string())
}

/// `re.escape(text)` for use inside a pattern.
pub fn escape(text: &str) -> String {
    regex::escape(text)
}

/// One piece of a parsed replacement template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Literal(Vec<u8>),
    Group(usize),
    Named(String),
}

/// Parse a Python replacement template (`re.sub`'s `repl`): `\1`..`\99`,
/// `\g<1>`, `\g<name>`, and the escapes `\n \t \r \a \b \f \v \\`; an
/// unknown escape of an ASCII letter is an error, of anything else it stays.
pub fn parse_template(repl: &[u8]) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut lit = Vec::new();
    let mut i = 0;
    while i < repl.len() {
        let c = repl[i];
        i += 1;
        if c != b'\\' {
            lit.push(c);
            continue;
        }
        let Some(&n) = repl.get(i) else {
            return Err("bad escape (end of pattern)".into());
        };
        i += 1;
        let group = match n {
            b'g' => {
                let (piece, used) = named_group(&repl[i..])?;
                i += used;
                Some(piece)
            }
            b'1'..=b'9' => {
                let mut num = usize::from(n - b'0');
                if let Some(d) = repl.get(i).filter(|d| d.is_ascii_digit()) {
                    num = num * 10 + usize::from(d - b'0');
                    i += 1;
                }
                Some(Piece::Group(num))
            }
            b'0' => {
                let (byte, used) = octal(&repl[i..]);
                lit.push(byte);
                i += used;
                None
            }
            _ => {
                lit.extend(simple_escape(n)?);
                None
            }
        };
        if let Some(group) = group {
            if !lit.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut lit)));
            }
            pieces.push(group);
        }
    }
    if !lit.is_empty() {
        pieces.push(Piece::Literal(lit));
    }
    Ok(pieces)
}

/// `\g<...>` after the `g`: the piece and how many bytes it took.
fn named_group(rest: &[u8]) -> Result<(Piece, usize), String> {
    let close = rest
        .iter()
        .position(|b| *b == b'>')
        .filter(|_| rest.first() == Some(&b'<'))
        .ok_or_else(|| "missing group name".to_string())?;
    let name = String::from_utf8_lossy(&rest[1..close]).into_owned();
    if name.is_empty() {
        return Err("missing group name".into());
    }
    let piece = match name.parse::<usize>() {
        Ok(n) => Piece::Group(n),
        Err(_) => Piece::Named(name),
    };
    Ok((piece, close + 1))
}

/// `\0`, `\01`, `\012`: an octal byte after the `0` (up to two more digits).
fn octal(rest: &[u8]) -> (u8, usize) {
    let digits = rest
        .iter()
        .take(2)
        .take_while(|d| (b'0'..=b'7').contains(*d))
        .count();
    let value = rest[..digits]
        .iter()
        .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
    (u8::try_from(value).unwrap_or(u8::MAX), digits)
}

fn simple_escape(n: u8) -> Result<Vec<u8>, String> {
    Ok(match n {
        b'n' => vec![b'\n'],
        b't' => vec![b'\t'],
        b'r' => vec![b'\r'],
        b'a' => vec![0x07],
        b'b' => vec![0x08],
        b'f' => vec![0x0c],
        b'v' => vec![0x0b],
        b'\\' => vec![b'\\'],
        c if c.is_ascii_alphabetic() => return Err(format!("bad escape \\{}", char::from(c))),
        c => vec![b'\\', c],
    })
}

fn expand(caps: &Captures<'_>, pieces: &[Piece], out: &mut Vec<u8>) -> Result<(), String> {
    for piece in pieces {
        match piece {
            Piece::Literal(bytes) => out.extend_from_slice(bytes),
            Piece::Group(n) => {
                if *n >= caps.len() {
                    return Err(format!("invalid group reference {n}"));
                }
                if let Some(m) = caps.get(*n) {
                    out.extend_from_slice(m.as_bytes());
                }
            }
            Piece::Named(name) => match caps.name(name) {
                Some(m) => out.extend_from_slice(m.as_bytes()),
                None => return Err(format!("unknown group name '{name}'")),
            },
        }
    }
    Ok(())
}

/// Python checks a template's group references when it compiles it, before
/// any match.
fn check_template(regex: &Regex, pieces: &[Piece]) -> Result<(), String> {
    for piece in pieces {
        match piece {
            Piece::Group(n) if *n >= regex.captures_len() => {
                return Err(format!("invalid group reference {n}"));
            }
            Piece::Named(name) if !regex.capture_names().any(|c| c == Some(name.as_str())) => {
                return Err(format!("unknown group name '{name}'"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// `re.subn(regex, repl, data, count)`: the new bytes and how many matches
/// were replaced (`count` 0 means all). As in Python 3.7+, an empty match
/// right after a non-empty one counts; right after an empty one it does not.
pub fn subn(
    regex: &Regex,
    pieces: &[Piece],
    data: &[u8],
    count: usize,
) -> Result<(Vec<u8>, usize), String> {
    check_template(regex, pieces)?;
    let mut out = Vec::with_capacity(data.len());
    let (mut pos, mut last, mut n) = (0, 0, 0);
    let mut must_advance = false;
    while (count == 0 || n < count) && pos <= data.len() {
        let Some(caps) = regex.captures_at(data, pos) else {
            break;
        };
        let Some(m) = caps.get(0) else { break };
        if must_advance && m.start() == pos && m.end() == pos {
            pos += 1;
            must_advance = false;
            continue;
        }
        out.extend_from_slice(&data[last..m.start()]);
        expand(&caps, pieces, &mut out)?;
        last = m.end();
        n += 1;
        must_advance = m.start() == m.end();
        pos = m.end();
    }
    out.extend_from_slice(&data[last..]);
    Ok((out, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flags_like_salts_get_flags() {
        assert_eq!(parse_flags(&json!(8)), Ok(MULTILINE));
        assert_eq!(parse_flags(&json!("ignorecase")), Ok(IGNORECASE));
        assert_eq!(
            parse_flags(&json!(["MULTILINE", "I"])),
            Ok(MULTILINE | IGNORECASE)
        );
        assert_eq!(
            parse_flags(&json!(["NOPE"])),
            Err("Invalid re flag given: NOPE".to_string())
        );
    }

    #[test]
    fn templates_like_pythons() {
        let r = compile(r"(?P<k>\w+)=(\d+)", MULTILINE).expect("regex");
        let t = parse_template(br"\g<k>: \2\n\g<1>").expect("template");
        let (out, n) = subn(&r, &t, b"a=1 b=2", 0).expect("subn");
        assert_eq!((out.as_slice(), n), (&b"a: 1\na b: 2\nb"[..], 2));
        let (out, n) = subn(&r, &t, b"a=1 b=2", 1).expect("subn");
        assert_eq!((out.as_slice(), n), (&b"a: 1\na b=2"[..], 1));
        assert_eq!(parse_template(br"\q"), Err("bad escape \\q".to_string()));
        assert_eq!(
            parse_template(br"a\&b$1").expect("t"),
            vec![Piece::Literal(br"a\&b$1".to_vec())]
        );
        assert!(subn(&r, &parse_template(br"\5").expect("t"), b"a=1", 0).is_err());
    }

    #[test]
    fn empty_matches_like_python() {
        let t = parse_template(b"-").expect("template");
        let r = compile("x*", 0).expect("regex");
        assert_eq!(
            subn(&r, &t, b"abxd", 0).expect("subn"),
            (b"-a-b--d-".to_vec(), 5)
        );
        let all = compile("^.*$", MULTILINE | DOTALL).expect("regex");
        let a = parse_template(b"A").expect("template");
        assert_eq!(
            subn(&all, &a, b"  \na=5\r\n", 0).expect("subn"),
            (b"AA".to_vec(), 2)
        );
        // Group references are checked before any match, as Python does.
        assert!(subn(&r, &parse_template(br"\1").expect("t"), b"", 0).is_err());
    }

    #[test]
    fn python_anchors_translate() {
        let r = compile(r"end\Z", 0).expect("regex");
        assert!(r.is_match(b"the end"));
        assert!(!r.is_match(b"the end\n"));
        assert!(compile(r"(?<=x)y", 0).is_err());
    }
}
