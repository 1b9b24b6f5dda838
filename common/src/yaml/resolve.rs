//! Tags, the YAML 1.1 implicit resolver, and the scalar constructors.
//!
//! The resolver is PyYAML's `Resolver` (`yaml/resolver.py`): the same regular
//! expressions, tried in the same order. The constructors follow PyYAML's
//! `SafeConstructor` with Salt's changes (leading zeros of ints are decimal).

use base64::Engine as _;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
use serde_json::Value;

use crate::output::python::float_repr;
use crate::typed_key::TypedKey;

/// The YAML core tag prefix, which `!!` abbreviates.
const CORE_PREFIX: &str = "tag:yaml.org,2002:";

/// A node's tag after resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tag {
    Null,
    Bool,
    Int,
    Float,
    Str,
    Binary,
    Timestamp,
    /// `<<`: only meaningful as a mapping key.
    Merge,
    /// `=`: PyYAML resolves it but has no constructor; Salt reads it as a
    /// string when it is a mapping key.
    ValueKey,
    /// `!`, `&` or `*` alone; PyYAML lists it "for documentation purposes".
    Yaml,
    PythonUnicode,
    Map,
    Seq,
    /// Any other tag, spelled out in full.
    Other(String),
}

impl Tag {
    /// The tag for a full tag URI such as `tag:yaml.org,2002:str` or `!foo`.
    pub(crate) fn from_uri(uri: &str) -> Tag {
        let Some(name) = uri.strip_prefix(CORE_PREFIX) else {
            return Tag::Other(uri.to_owned());
        };
        match name {
            "null" => Tag::Null,
            "bool" => Tag::Bool,
            "int" => Tag::Int,
            "float" => Tag::Float,
            "str" => Tag::Str,
            "binary" => Tag::Binary,
            "timestamp" => Tag::Timestamp,
            "merge" => Tag::Merge,
            "value" => Tag::ValueKey,
            "yaml" => Tag::Yaml,
            "python/unicode" => Tag::PythonUnicode,
            "map" => Tag::Map,
            "seq" => Tag::Seq,
            _ => Tag::Other(uri.to_owned()),
        }
    }

    /// The full URI, as PyYAML names tags in its messages.
    pub(crate) fn uri(&self) -> String {
        let name = match self {
            Tag::Null => "null",
            Tag::Bool => "bool",
            Tag::Int => "int",
            Tag::Float => "float",
            Tag::Str => "str",
            Tag::Binary => "binary",
            Tag::Timestamp => "timestamp",
            Tag::Merge => "merge",
            Tag::ValueKey => "value",
            Tag::Yaml => "yaml",
            Tag::PythonUnicode => "python/unicode",
            Tag::Map => "map",
            Tag::Seq => "seq",
            Tag::Other(uri) => return uri.clone(),
        };
        format!("{CORE_PREFIX}{name}")
    }
}

/// The tag PyYAML gives a plain, untagged scalar with this text: its implicit
/// resolvers tried in the order PyYAML registers them (bool, float, int,
/// merge, null, timestamp, value, yaml). Each resolver is PyYAML's regular
/// expression written out by hand: compiling the eight expressions was a
/// tenth of a small `brine-call` run's CPU, and every config and SLS load
/// pays it. `resolver_patterns` in the tests keeps the expressions and checks
/// these matchers against them.
pub(crate) fn resolve_plain(text: &str) -> Tag {
    let b = text.as_bytes();
    if is_bool(text) {
        Tag::Bool
    } else if is_float(b) {
        Tag::Float
    } else if is_int(b) {
        Tag::Int
    } else if text == "<<" {
        Tag::Merge
    } else if matches!(text, "~" | "null" | "Null" | "NULL" | "") {
        Tag::Null
    } else if is_timestamp(b) {
        Tag::Timestamp
    } else if text == "=" {
        Tag::ValueKey
    } else if matches!(text, "!" | "&" | "*") {
        Tag::Yaml
    } else {
        Tag::Str
    }
}

/// `yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF`
fn is_bool(text: &str) -> bool {
    matches!(
        text,
        "yes"
            | "Yes"
            | "YES"
            | "no"
            | "No"
            | "NO"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// `[-+]?` stripped.
fn unsigned(b: &[u8]) -> &[u8] {
    match b.first() {
        Some(b'-' | b'+') => &b[1..],
        _ => b,
    }
}

/// Every byte of `b` is allowed by `ok`.
fn all(b: &[u8], ok: impl Fn(u8) -> bool) -> bool {
    b.iter().all(|&c| ok(c))
}

fn digit_or_underscore(c: u8) -> bool {
    c.is_ascii_digit() || c == b'_'
}

/// `[0-9][0-9_]*`
fn decimal_digits(b: &[u8]) -> bool {
    b.first().is_some_and(u8::is_ascii_digit) && all(b, digit_or_underscore)
}

/// `(?::[0-5]?[0-9])+`: one or more groups, each a colon then one digit or
/// two with the first at most 5.
fn sexagesimal_groups(b: &[u8]) -> bool {
    let Some(rest) = b.strip_prefix(b":") else {
        return false;
    };
    rest.split(|&c| c == b':').all(|group| match group {
        [d] => d.is_ascii_digit(),
        [d0, d1] => (b'0'..=b'5').contains(d0) && d1.is_ascii_digit(),
        _ => false,
    })
}

/// `[0-9][0-9_]*(?::[0-5]?[0-9])+`, as a sexagesimal int or a sexagesimal
/// float's part before its point.
fn sexagesimal(b: &[u8]) -> bool {
    let head_len = b.iter().position(|&c| c == b':').unwrap_or(b.len());
    decimal_digits(&b[..head_len]) && sexagesimal_groups(&b[head_len..])
}

/// PyYAML's int: `[-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(?:0|[1-9][0-9_]*)
/// | [-+]?0x[0-9a-fA-F_]+ | [-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+`
fn is_int(b: &[u8]) -> bool {
    let n = unsigned(b);
    match n {
        [b'0'] => true,
        [b'0', b'b', rest @ ..]
            if !rest.is_empty() && all(rest, |c| matches!(c, b'0' | b'1' | b'_')) =>
        {
            true
        }
        [b'0', b'x', rest @ ..]
            if !rest.is_empty() && all(rest, |c| c.is_ascii_hexdigit() || c == b'_') =>
        {
            true
        }
        [b'0', rest @ ..] => !rest.is_empty() && all(rest, |c| matches!(c, b'0'..=b'7' | b'_')),
        [b'1'..=b'9', rest @ ..] => all(rest, digit_or_underscore) || sexagesimal(n),
        _ => false,
    }
}

/// `[eE][-+][0-9]+`, or nothing.
fn optional_exponent(b: &[u8]) -> bool {
    match b {
        [] => true,
        [b'e' | b'E', b'-' | b'+', digits @ ..] => {
            !digits.is_empty() && all(digits, |c| c.is_ascii_digit())
        }
        _ => false,
    }
}

/// `[0-9_]*` then an optional exponent: what follows a float's point.
fn fraction_and_exponent(b: &[u8]) -> bool {
    let digits = b.iter().take_while(|&&c| digit_or_underscore(c)).count();
    optional_exponent(&b[digits..])
}

/// PyYAML's float: `[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
/// | \.[0-9][0-9_]*(?:[eE][-+][0-9]+)? | [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
/// | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)`
fn is_float(b: &[u8]) -> bool {
    if matches!(b, b".nan" | b".NaN" | b".NAN") {
        return true;
    }
    if b.first() == Some(&b'.') {
        // The second form, without a sign.
        if b.get(1).is_some_and(u8::is_ascii_digit) && fraction_and_exponent(&b[1..]) {
            return true;
        }
    }
    let n = unsigned(b);
    if matches!(n, b".inf" | b".Inf" | b".INF") {
        return true;
    }
    let Some(point) = n.iter().position(|&c| c == b'.') else {
        return false;
    };
    let (whole, after) = (&n[..point], &n[point + 1..]);
    (decimal_digits(whole) && fraction_and_exponent(after))
        || (sexagesimal(whole) && all(after, digit_or_underscore))
}

/// A cursor over a timestamp's bytes.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    /// Take `min` to `max` ASCII digits (greedy; no pattern that uses it can
    /// need fewer, since a non-digit must follow).
    fn digits(&mut self, min: usize, max: usize) -> bool {
        let n = self.b[self.at..]
            .iter()
            .take(max)
            .take_while(|c| c.is_ascii_digit())
            .count();
        self.at += n;
        n >= min
    }

    /// Take `c` if it is next.
    fn byte(&mut self, c: u8) -> bool {
        let next = self.b.get(self.at) == Some(&c);
        self.at += usize::from(next);
        next
    }

    /// Take every space or tab next; how many.
    fn blanks(&mut self) -> usize {
        let n = self.b[self.at..]
            .iter()
            .take_while(|&&c| c == b' ' || c == b'\t')
            .count();
        self.at += n;
        n
    }

    fn at_end(&self) -> bool {
        self.at == self.b.len()
    }
}

/// PyYAML's timestamp: `[0-9]{4}-[0-9]{2}-[0-9]{2}` or
/// `[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}
/// (?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?`
fn is_timestamp(b: &[u8]) -> bool {
    let date_only = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
    date_only || is_date_time(b)
}

fn is_date_time(b: &[u8]) -> bool {
    let mut c = Cursor { b, at: 0 };
    let date = c.digits(4, 4) && c.byte(b'-') && c.digits(1, 2) && c.byte(b'-') && c.digits(1, 2);
    let separator = c.byte(b'T') || c.byte(b't') || c.blanks() > 0;
    let time = c.digits(1, 2) && c.byte(b':') && c.digits(2, 2) && c.byte(b':') && c.digits(2, 2);
    if !(date && separator && time) {
        return false;
    }
    if c.byte(b'.') {
        c.digits(0, usize::MAX);
    }
    if c.at_end() {
        return true;
    }
    c.blanks();
    let zone = c.byte(b'Z')
        || ((c.byte(b'-') || c.byte(b'+')) && c.digits(1, 2) && (!c.byte(b':') || c.digits(2, 2)));
    zone && c.at_end()
}

/// A constructed scalar, before it becomes a JSON value or a mapping key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
}

impl Scalar {
    /// The JSON value. Ints go to `i64`, else `u64`, else `f64`; non-finite
    /// floats, which JSON lacks, become their YAML spelling as a string.
    pub(crate) fn into_value(self) -> Value {
        match self {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(b),
            Scalar::Int(i) => {
                if let Ok(small) = i64::try_from(i) {
                    Value::from(small)
                } else if let Ok(big) = u64::try_from(i) {
                    Value::from(big)
                } else {
                    float_value(i as f64)
                }
            }
            Scalar::Float(f) => float_value(f),
            Scalar::Str(s) => Value::String(s),
        }
    }

    /// What Python's `str()` prints for the constructed object: how a
    /// non-string mapping key is spelled in our string-keyed maps.
    pub(crate) fn python_str(&self) -> String {
        match self {
            Scalar::Null => "None".to_owned(),
            Scalar::Bool(true) => "True".to_owned(),
            Scalar::Bool(false) => "False".to_owned(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => float_repr(*f),
            Scalar::Str(s) => s.clone(),
        }
    }

    /// The spelling of the scalar as a key of our string-keyed maps: a null,
    /// bool or non-finite float key as its marker (see
    /// [`crate::typed_key`]), an int or finite float as Python's `str()`
    /// prints it (which is also how `json.dumps` prints it as a key).
    pub(crate) fn map_key(&self) -> String {
        let typed = match self {
            Scalar::Null => Some(TypedKey::Null),
            Scalar::Bool(b) => Some(TypedKey::Bool(*b)),
            Scalar::Float(f) => TypedKey::float(*f),
            _ => None,
        };
        typed.map_or_else(|| self.python_str(), TypedKey::marker)
    }
}

fn float_value(f: f64) -> Value {
    match serde_json::Number::from_f64(f) {
        Some(number) => Value::Number(number),
        None if f.is_nan() => Value::String(".nan".to_owned()),
        None if f > 0.0 => Value::String(".inf".to_owned()),
        None => Value::String("-.inf".to_owned()),
    }
}

/// `!!bool`: PyYAML lower-cases the text and looks it up.
pub(crate) fn construct_bool(text: &str) -> Result<bool, String> {
    match text.to_lowercase().as_str() {
        "yes" | "true" | "on" => Ok(true),
        "no" | "false" | "off" => Ok(false),
        _ => Err(format!("invalid boolean '{text}'")),
    }
}

/// An unsigned magnitude: exact while it fits, else approximate (Python's ints
/// have no limit; ours end at `u128`, then JSON takes them as `f64` anyway).
enum Magnitude {
    Exact(u128),
    Approx(f64),
}

impl Magnitude {
    /// Digits as Python's `int(digits, radix)` reads them (it ignores
    /// surrounding whitespace).
    fn parse(digits: &str, radix: u32) -> Option<Magnitude> {
        let digits = digits.trim();
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        if let Ok(exact) = u128::from_str_radix(digits, radix) {
            return Some(Magnitude::Exact(exact));
        }
        let approx = digits.chars().fold(0.0, |acc, c| {
            acc * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0))
        });
        Some(Magnitude::Approx(approx))
    }

    fn to_f64(&self) -> f64 {
        match *self {
            Magnitude::Exact(exact) => exact as f64,
            Magnitude::Approx(approx) => approx,
        }
    }

    fn signed(self, negative: bool) -> Scalar {
        if let Magnitude::Exact(exact) = self {
            if let Ok(positive) = i128::try_from(exact) {
                return Scalar::Int(if negative { -positive } else { positive });
            }
            if negative && exact == i128::MIN.unsigned_abs() {
                return Scalar::Int(i128::MIN);
            }
        }
        let approx = self.to_f64();
        Scalar::Float(if negative { -approx } else { approx })
    }
}

/// `!!int`, with Salt's change: leading zeros are stripped first, so `0644` is
/// the decimal 644 (Salt's file states then read those digits as a mode). Only
/// an unsigned text is stripped, so `-0644` stays octal, as in Salt.
pub(crate) fn construct_int(text: &str) -> Result<Scalar, String> {
    let invalid = || format!("invalid integer '{text}'");
    // Python's int() ignores surrounding whitespace (`!!int " 1"`).
    let text = text.trim();
    let mut salted = text;
    if text != "0" && text.starts_with('0') && !text.starts_with("0b") && !text.starts_with("0x") {
        salted = text.trim_start_matches('0');
        if salted.is_empty() {
            salted = "0";
        }
    }
    let cleaned: String = salted.chars().filter(|&c| c != '_').collect();
    let (negative, body) = split_sign(&cleaned);
    let magnitude = if body == "0" {
        Some(Magnitude::Exact(0))
    } else if let Some(binary) = body.strip_prefix("0b") {
        Magnitude::parse(binary, 2)
    } else if let Some(hex) = body.strip_prefix("0x") {
        Magnitude::parse(hex, 16)
    } else if body.starts_with('0') {
        Magnitude::parse(body, 8)
    } else if body.contains(':') {
        sexagesimal_int(body)
    } else {
        Magnitude::parse(body, 10)
    };
    magnitude.map(|m| m.signed(negative)).ok_or_else(invalid)
}

/// `1:20:30` is ((1 * 60) + 20) * 60 + 30.
fn sexagesimal_int(body: &str) -> Option<Magnitude> {
    let mut parts = Vec::new();
    for part in body.split(':') {
        parts.push(Magnitude::parse(part, 10)?);
    }
    let exact = parts.iter().try_fold(0u128, |acc, part| match part {
        Magnitude::Exact(digit) => acc.checked_mul(60)?.checked_add(*digit),
        Magnitude::Approx(_) => None,
    });
    Some(match exact {
        Some(exact) => Magnitude::Exact(exact),
        None => Magnitude::Approx(parts.iter().fold(0.0, |acc, p| acc * 60.0 + p.to_f64())),
    })
}

/// `!!float`, as PyYAML's `construct_yaml_float`.
pub(crate) fn construct_float(text: &str) -> Result<f64, String> {
    let invalid = || format!("invalid float '{text}'");
    let cleaned: String = text
        .trim()
        .chars()
        .filter(|&c| c != '_')
        .collect::<String>()
        .to_lowercase();
    let (negative, body) = split_sign(&cleaned);
    let magnitude = match body {
        ".inf" => f64::INFINITY,
        // PyYAML returns its NaN without applying the sign.
        ".nan" => return Ok(f64::NAN),
        _ if body.contains(':') => {
            // Summed from the last part up, as PyYAML does, for the same rounding.
            let mut parts = Vec::new();
            for part in body.split(':') {
                parts.push(part.trim().parse::<f64>().map_err(|_| invalid())?);
            }
            let mut value = 0.0;
            let mut base = 1.0;
            for digit in parts.iter().rev() {
                value += digit * base;
                base *= 60.0;
            }
            value
        }
        _ => body.parse::<f64>().map_err(|_| invalid())?,
    };
    Ok(if negative { -magnitude } else { magnitude })
}

fn split_sign(text: &str) -> (bool, &str) {
    if let Some(rest) = text.strip_prefix('-') {
        (true, rest)
    } else {
        (false, text.strip_prefix('+').unwrap_or(text))
    }
}

/// Python's `base64.decodebytes` pads strictly but tolerates stray bits.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// `!!binary`: base64 (whitespace and line breaks ignored) that must decode to
/// UTF-8, since a JSON value has no bytes.
pub(crate) fn construct_binary(text: &str) -> Result<String, String> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = BASE64
        .decode(compact.as_bytes())
        .map_err(|e| format!("failed to decode base64 data: {e}"))?;
    String::from_utf8(bytes).map_err(|_| "!!binary data is not valid UTF-8".to_owned())
}

/// How PyYAML's `SafeRepresenter` writes a float: `repr()`, lower-cased, with
/// `.0` put before an exponent that lacks a point so it reads back as a float.
pub(crate) fn represent_float(f: f64) -> String {
    let repr = float_repr(f).to_lowercase();
    if !repr.contains('.') && repr.contains('e') {
        repr.replacen('e', ".0e", 1)
    } else {
        repr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PyYAML's implicit resolvers (yaml/resolver.py) as regular expressions,
    /// in its order: the reference `resolve_plain`'s matchers are checked
    /// against. Its patterns are written in verbose mode; these are the same
    /// with the layout whitespace removed.
    fn resolver_patterns() -> Vec<(Tag, regex::Regex)> {
        [
            (
                Tag::Bool,
                r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
            ),
            (
                Tag::Float,
                r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
            ),
            (
                Tag::Int,
                r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
            ),
            (Tag::Merge, r"^(?:<<)$"),
            (Tag::Null, r"^(?:~|null|Null|NULL|)$"),
            (
                Tag::Timestamp,
                r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$",
            ),
            (Tag::ValueKey, r"^(?:=)$"),
            (Tag::Yaml, r"^(?:!|&|\*)$"),
        ]
        .into_iter()
        .map(|(tag, pattern)| (tag, regex::Regex::new(pattern).expect("valid pattern")))
        .collect()
    }

    /// Random texts near every resolver's language (the seeds mutated, and
    /// strings over the bytes the expressions look at) resolve to the same
    /// tag by hand as by PyYAML's expressions.
    #[test]
    fn hand_written_resolvers_agree_with_pyyamls_expressions() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let patterns = resolver_patterns();
        let reference = |text: &str| {
            patterns
                .iter()
                .find(|(_, p)| p.is_match(text))
                .map_or(Tag::Str, |(tag, _)| tag.clone())
        };
        let seeds = [
            "yes",
            "Off",
            "0",
            "-0644",
            "+0b1_01",
            "0x_1F",
            "1_000",
            "1:20",
            "-1:20:59",
            "1.5",
            "1.",
            ".5",
            "-1.0e+3",
            "1.0E-30",
            "-.INF",
            ".NaN",
            "1:20.5",
            "+190:20:30.15",
            "2001-12-14",
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14 21:59:43.10 Z",
            "2001-1-4\t\t1:59:43",
            "2001-12-14T21:59:43+5",
            "2001-12-14T21:59:43.",
            "<<",
            "~",
            "",
            "=",
            "*",
            "!",
            "&",
            "null",
        ];
        let alphabet = b"0123456789_-+.:eExXbBTtZ \tinfINFaNyYsoO<~=!&*";
        let mut rng = StdRng::seed_from_u64(0x5a17);
        let mut checked = 0;
        for _ in 0..200_000 {
            let mut text: Vec<u8> = if rng.random_bool(0.5) {
                seeds[rng.random_range(0..seeds.len())].as_bytes().to_vec()
            } else {
                (0..rng.random_range(0..14))
                    .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                    .collect()
            };
            for _ in 0..rng.random_range(0..3) {
                let at = rng.random_range(0..=text.len());
                let byte = alphabet[rng.random_range(0..alphabet.len())];
                match rng.random_range(0..3) {
                    0 => text.insert(at, byte),
                    1 if at < text.len() => {
                        text.remove(at);
                    }
                    _ if at < text.len() => text[at] = byte,
                    _ => {}
                }
            }
            let text = String::from_utf8(text).expect("ascii");
            assert_eq!(resolve_plain(&text), reference(&text), "{text:?}");
            checked += 1;
        }
        for seed in seeds {
            assert_eq!(resolve_plain(seed), reference(seed), "{seed:?}");
        }
        assert_eq!(checked, 200_000);
    }

    #[test]
    fn resolves_plain_scalars_like_pyyaml() {
        let cases = [
            ("yes", Tag::Bool),
            ("OFF", Tag::Bool),
            ("y", Tag::Str),
            ("n", Tag::Str),
            ("yES", Tag::Str),
            ("", Tag::Null),
            ("~", Tag::Null),
            ("NULL", Tag::Null),
            ("nULL", Tag::Str),
            ("0644", Tag::Int),
            ("0899", Tag::Str),
            ("1_000", Tag::Int),
            ("0x1F", Tag::Int),
            ("0X1F", Tag::Str),
            ("0o17", Tag::Str),
            ("1:20", Tag::Int),
            ("1:70", Tag::Str),
            ("1.5", Tag::Float),
            ("1.", Tag::Float),
            (".5", Tag::Float),
            ("-.5", Tag::Str),
            ("1e3", Tag::Str),
            ("1.0e3", Tag::Str),
            ("1.0e+3", Tag::Float),
            ("-.INF", Tag::Float),
            (".NaN", Tag::Float),
            ("1:20.5", Tag::Float),
            ("2001-12-14", Tag::Timestamp),
            ("2001-12-14 21:59:43.10 -5", Tag::Timestamp),
            ("<<", Tag::Merge),
            ("=", Tag::ValueKey),
            ("*", Tag::Yaml),
            ("hello", Tag::Str),
        ];
        for (text, tag) in cases {
            assert_eq!(resolve_plain(text), tag, "{text:?}");
        }
    }

    #[test]
    fn constructs_ints_with_salts_leading_zero_rule() {
        let cases = [
            ("0", 0),
            ("00", 0),
            ("0644", 644),
            ("0_644", 644),
            ("-0644", -420),
            ("+0644", 420),
            ("1_000", 1000),
            ("0x_1F", 31),
            ("-0x10", -16),
            ("0b101", 5),
            ("1:20", 80),
            ("-1:20:30", -4830),
        ];
        for (text, expected) in cases {
            assert_eq!(construct_int(text), Ok(Scalar::Int(expected)), "{text}");
        }
        // `!!int 0o644`: Salt strips the zero and Python fails on "o644".
        assert!(construct_int("0o644").is_err());
        assert!(construct_int("0_").is_err());
        assert!(construct_int("").is_err());
        assert!(construct_int("abc").is_err());
    }

    #[test]
    fn big_ints_fall_back_to_u64_then_f64() {
        let value = |text: &str| construct_int(text).map(Scalar::into_value);
        assert_eq!(value("18446744073709551615"), Ok(Value::from(u64::MAX)));
        assert_eq!(value("-9223372036854775808"), Ok(Value::from(i64::MIN)));
        assert_eq!(value("99999999999999999999999"), Ok(Value::from(1e23)));
        let huge = "9".repeat(50);
        assert_eq!(value(&huge), Ok(Value::from(1e50)));
    }

    #[test]
    fn constructs_floats() {
        assert_eq!(construct_float("1_000.5"), Ok(1000.5));
        assert_eq!(construct_float("1:20.5"), Ok(80.5));
        assert_eq!(construct_float("-1.5E+3"), Ok(-1500.0));
        assert_eq!(construct_float("1"), Ok(1.0));
        assert_eq!(construct_float("-.inf"), Ok(f64::NEG_INFINITY));
        assert!(construct_float(".NaN").is_ok_and(f64::is_nan));
        assert!(construct_float("abc").is_err());
        assert_eq!(
            Scalar::Float(f64::INFINITY).into_value(),
            Value::from(".inf")
        );
    }

    #[test]
    fn python_repr_of_floats() {
        let cases = [
            (1.5, "1.5"),
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.25e-7, "1.25e-07"),
            (1e100, "1e+100"),
        ];
        for (f, expected) in cases {
            assert_eq!(float_repr(f), expected);
        }
        assert_eq!(represent_float(1e17), "1.0e+17");
        assert_eq!(represent_float(1e-5), "1.0e-05");
        assert_eq!(represent_float(2.5e-5), "2.5e-05");
    }

    #[test]
    fn binary_must_be_base64_of_utf8() {
        assert_eq!(construct_binary("aGVs\n bG8="), Ok("hello".to_owned()));
        assert!(construct_binary("/w==").is_err());
        assert!(construct_binary("aGVsbG8").is_err());
    }
}
