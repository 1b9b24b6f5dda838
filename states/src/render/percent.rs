//! Python's `%` string formatting (`printf`-style, `str.__mod__`), called
//! as `__salt_percent(format, operand, is_tuple)`: the preprocessor
//! rewrites `"<literal>" % <operand>` into that call (see `preprocess`).
//!
//! As in Python, a tuple operand gives the arguments, a mapping answers
//! `%(key)s`, and anything else is the one argument. The preprocessor
//! passes `is_tuple` when the operand is a parenthesised tuple literal; a
//! name holding a list is taken as the arguments only when the format
//! wants two or more (Jinja has no tuple type to tell them apart).
//! Conversions: `s r a d i u f F e E g G x X o c %`, flags `-+ 0#`, width
//! and precision (also `*`), and Python's error messages.

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

use super::filters::pystr::{py_repr, py_str};

fn type_error(message: impl Into<String>) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("TypeError: {}", message.into()),
    )
}

fn value_error(message: impl Into<String>) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("ValueError: {}", message.into()),
    )
}

/// Python's type name of a value, for error messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number if value.is_integer() => "int",
        ValueKind::Number => "float",
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq | ValueKind::Iterable => "list",
        ValueKind::Map => "dict",
        _ => "object",
    }
}

/// One `%` conversion of the format.
struct Spec {
    key: Option<String>,
    left: bool,
    plus: bool,
    space: bool,
    zero: bool,
    alt: bool,
    width: Option<Width>,
    precision: Option<Width>,
    conversion: char,
}

enum Width {
    Fixed(usize),
    Star,
}

enum Piece {
    Text(String),
    Spec(Spec),
}

fn parse_format(format: &str) -> Result<Vec<Piece>, Error> {
    let chars: Vec<char> = format.chars().collect();
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '%' {
            text.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        let incomplete = || value_error("incomplete format");
        let mut key = None;
        if chars.get(i) == Some(&'(') {
            let mut depth = 1;
            let mut j = i + 1;
            while j < chars.len() && depth > 0 {
                match chars[j] {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                j += 1;
            }
            if depth > 0 {
                return Err(value_error("incomplete format key"));
            }
            key = Some(chars[i + 1..j - 1].iter().collect::<String>());
            i = j;
        }
        let mut spec = Spec {
            key,
            left: false,
            plus: false,
            space: false,
            zero: false,
            alt: false,
            width: None,
            precision: None,
            conversion: '%',
        };
        while let Some(&c) = chars.get(i) {
            match c {
                '-' => spec.left = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                '#' => spec.alt = true,
                _ => break,
            }
            i += 1;
        }
        spec.width = read_width(&chars, &mut i);
        if chars.get(i) == Some(&'.') {
            i += 1;
            spec.precision = Some(read_width(&chars, &mut i).unwrap_or(Width::Fixed(0)));
        }
        while matches!(chars.get(i), Some('h' | 'l' | 'L')) {
            i += 1;
        }
        let Some(&conversion) = chars.get(i) else {
            return Err(incomplete());
        };
        i += 1;
        if conversion == '%' && spec.key.is_none() && i - start == 2 {
            text.push('%');
            continue;
        }
        if !"sradiufFeEgGxXoc%".contains(conversion) {
            return Err(value_error(format!(
                "unsupported format character '{conversion}' ({:#x}) at index {}",
                conversion as u32,
                i - 1
            )));
        }
        spec.conversion = conversion;
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        pieces.push(Piece::Spec(spec));
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

fn read_width(chars: &[char], i: &mut usize) -> Option<Width> {
    if chars.get(*i) == Some(&'*') {
        *i += 1;
        return Some(Width::Star);
    }
    let start = *i;
    while chars.get(*i).is_some_and(char::is_ascii_digit) {
        *i += 1;
    }
    (start < *i).then(|| {
        Width::Fixed(
            chars[start..*i]
                .iter()
                .collect::<String>()
                .parse()
                .unwrap_or(usize::MAX),
        )
    })
}

/// `format % operand`, as Python computes it.
pub(crate) fn percent(format: &str, operand: Value, is_tuple: bool) -> Result<String, Error> {
    let pieces = parse_format(format)?;
    let wanted = pieces
        .iter()
        .map(|p| match p {
            Piece::Spec(s) if s.key.is_none() => {
                1 + usize::from(matches!(s.width, Some(Width::Star)))
                    + usize::from(matches!(s.precision, Some(Width::Star)))
            }
            _ => 0,
        })
        .sum::<usize>();
    let is_seq = matches!(operand.kind(), ValueKind::Seq | ValueKind::Iterable);
    let args: Vec<Value> = if is_seq && (is_tuple || wanted >= 2) {
        operand.try_iter()?.collect()
    } else {
        vec![operand.clone()]
    };
    let mapping = operand.kind() == ValueKind::Map && !is_tuple;
    let mut next = 0;
    let mut take = || -> Result<Value, Error> {
        let value = args
            .get(next)
            .cloned()
            .ok_or_else(|| type_error("not enough arguments for format string"))?;
        next += 1;
        Ok(value)
    };
    let mut out = String::new();
    let mut used_key = false;
    for piece in &pieces {
        let spec = match piece {
            Piece::Text(text) => {
                out.push_str(text);
                continue;
            }
            Piece::Spec(spec) => spec,
        };
        let mut star = |w: &Option<Width>| -> Result<Option<i64>, Error> {
            match w {
                None => Ok(None),
                Some(Width::Fixed(n)) => Ok(Some(i64::try_from(*n).unwrap_or(i64::MAX))),
                Some(Width::Star) => {
                    let v = take()?;
                    if !v.is_integer() {
                        return Err(type_error("* wants int"));
                    }
                    Ok(i64::try_from(v).ok())
                }
            }
        };
        let mut width = star(&spec.width)?;
        let precision = star(&spec.precision)?.map(|p| usize::try_from(p).unwrap_or(0));
        let mut left = spec.left;
        if let Some(w) = width
            && w < 0
        {
            left = true;
            width = Some(-w);
        }
        let value = if let Some(key) = &spec.key {
            if !mapping {
                return Err(type_error("format requires a mapping"));
            }
            used_key = true;
            operand
                .get_item(&Value::from(key.as_str()))
                .ok()
                .filter(|v| !v.is_undefined())
                .ok_or_else(|| {
                    Error::new(ErrorKind::InvalidOperation, format!("KeyError: '{key}'"))
                })?
        } else if spec.conversion == '%' {
            Value::from("%")
        } else {
            take()?
        };
        let width = width.map_or(0, |w| usize::try_from(w).unwrap_or(0));
        let field = convert(spec, &value, precision)?;
        out.push_str(&pad(
            field,
            width,
            left,
            spec.zero
                && spec.conversion != 's'
                && spec.conversion != 'r'
                && spec.conversion != 'a'
                && spec.conversion != 'c'
                && spec.conversion != '%',
        ));
    }
    if next < args.len() && !mapping && !used_key {
        return Err(type_error(
            "not all arguments converted during string formatting",
        ));
    }
    Ok(out)
}

/// A converted field: the sign and prefix (`-`, `0x`) apart from the
/// digits, so zero padding goes between them.
struct Field {
    sign: String,
    body: String,
}

fn pad(field: Field, width: usize, left: bool, zero: bool) -> String {
    let len = field.sign.chars().count() + field.body.chars().count();
    if len >= width {
        return field.sign + &field.body;
    }
    let fill = width - len;
    if left {
        format!("{}{}{}", field.sign, field.body, " ".repeat(fill))
    } else if zero {
        format!("{}{}{}", field.sign, "0".repeat(fill), field.body)
    } else {
        format!("{}{}{}", " ".repeat(fill), field.sign, field.body)
    }
}

fn text_field(text: String, precision: Option<usize>) -> Field {
    let body = match precision {
        Some(p) => text.chars().take(p).collect(),
        None => text,
    };
    Field {
        sign: String::new(),
        body,
    }
}

fn sign_of(negative: bool, spec: &Spec) -> String {
    if negative {
        "-".into()
    } else if spec.plus {
        "+".into()
    } else if spec.space {
        " ".into()
    } else {
        String::new()
    }
}

/// The integer a `%d`/`%x` conversion takes: ints and bools; floats for
/// `%d` only (truncated).
fn integer(value: &Value, conversion: char) -> Result<i128, Error> {
    match value.kind() {
        ValueKind::Bool => Ok(i128::from(value.is_true())),
        ValueKind::Number if value.is_integer() => {
            i128::try_from(value.clone()).map_err(|_| type_error("integer out of range"))
        }
        ValueKind::Number if matches!(conversion, 'd' | 'i' | 'u') => {
            let f = f64::try_from(value.clone()).unwrap_or(f64::NAN);
            if !f.is_finite() {
                return Err(value_error(
                    "cannot convert float NaN or infinity to integer",
                ));
            }
            // Truncation toward zero, as Python's int(float).
            Ok(f.trunc() as i128)
        }
        _ if matches!(conversion, 'd' | 'i' | 'u') => Err(type_error(format!(
            "%{conversion} format: a real number is required, not {}",
            type_name(value)
        ))),
        _ => Err(type_error(format!(
            "%{conversion} format: an integer is required, not {}",
            type_name(value)
        ))),
    }
}

fn float(value: &Value, conversion: char) -> Result<f64, Error> {
    match value.kind() {
        ValueKind::Bool => Ok(if value.is_true() { 1.0 } else { 0.0 }),
        ValueKind::Number => f64::try_from(value.clone())
            .map_err(|_| type_error(format!("%{conversion} format: number out of range"))),
        _ => Err(type_error(format!(
            "must be real number, not {}",
            type_name(value)
        ))),
    }
}

fn convert(spec: &Spec, value: &Value, precision: Option<usize>) -> Result<Field, Error> {
    let c = spec.conversion;
    Ok(match c {
        '%' => text_field("%".into(), None),
        's' => text_field(py_str(value), precision),
        'r' => text_field(py_repr(value), precision),
        'a' => text_field(ascii(&py_repr(value)), precision),
        'c' => {
            let ch =
                match value.kind() {
                    ValueKind::String => {
                        let s = value.as_str().unwrap_or_default();
                        let mut chars = s.chars();
                        match (chars.next(), chars.next()) {
                            (Some(ch), None) => ch,
                            _ => return Err(type_error(
                                "%c requires an int or a unicode character, not a string of length "
                                    .to_owned()
                                    + &s.chars().count().to_string(),
                            )),
                        }
                    }
                    _ => {
                        let n = integer(value, c).map_err(|_| {
                            type_error(format!(
                                "%c requires an int or a unicode character, not {}",
                                type_name(value)
                            ))
                        })?;
                        u32::try_from(n)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| {
                                Error::new(
                                    ErrorKind::InvalidOperation,
                                    "OverflowError: %c arg not in range(0x110000)",
                                )
                            })?
                    }
                };
            text_field(ch.to_string(), None)
        }
        'd' | 'i' | 'u' | 'x' | 'X' | 'o' => {
            let n = integer(value, c)?;
            let magnitude = n.unsigned_abs();
            let mut digits = match c {
                'x' => format!("{magnitude:x}"),
                'X' => format!("{magnitude:X}"),
                'o' => format!("{magnitude:o}"),
                _ => magnitude.to_string(),
            };
            if let Some(p) = precision
                && digits.len() < p
            {
                digits = "0".repeat(p - digits.len()) + &digits;
            }
            let mut sign = sign_of(n < 0, spec);
            if spec.alt {
                sign.push_str(match c {
                    'x' => "0x",
                    'X' => "0X",
                    'o' => "0o",
                    _ => "",
                });
            }
            Field { sign, body: digits }
        }
        'f' | 'F' | 'e' | 'E' | 'g' | 'G' => {
            let f = float(value, c)?;
            let p = precision.unwrap_or(6);
            let body = if f.is_nan() {
                "nan".to_owned()
            } else if f.is_infinite() {
                "inf".to_owned()
            } else {
                match c {
                    'f' | 'F' => format!("{:.*}", p, f.abs()),
                    'e' | 'E' => exponent(f.abs(), p, spec.alt),
                    _ => general(f.abs(), p, spec.alt),
                }
            };
            let body = if c.is_ascii_uppercase() {
                body.to_uppercase()
            } else {
                body
            };
            Field {
                sign: sign_of(f.is_sign_negative() && !f.is_nan(), spec),
                body,
            }
        }
        _ => {
            return Err(value_error(format!(
                "unsupported format character '{c}' ({:#x})",
                c as u32
            )));
        }
    })
}

/// `%e`: Python writes the exponent with a sign and at least two digits.
fn exponent(f: f64, precision: usize, alt: bool) -> String {
    let text = format!("{:.*e}", precision, f);
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let point = if alt && precision == 0 { "." } else { "" };
    format!(
        "{mantissa}{point}e{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.abs()
    )
}

/// `%g`: fixed or exponent by the exponent after rounding to `precision`
/// significant digits; trailing zeros dropped unless `#`.
fn general(f: f64, precision: usize, alt: bool) -> String {
    let p = precision.max(1);
    if f == 0.0 {
        return if alt {
            format!("{:.*}", p - 1, 0.0)
        } else {
            "0".into()
        };
    }
    let rounded = format!("{:.*e}", p - 1, f);
    let exp: i64 = rounded
        .split_once('e')
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0);
    let p_i = i64::try_from(p).unwrap_or(i64::MAX);
    if (-4..p_i).contains(&exp) {
        let decimals = usize::try_from(p_i - 1 - exp).unwrap_or(0);
        let text = format!("{f:.decimals$}");
        if alt { text } else { strip_zeros(&text) }
    } else {
        let text = exponent(f, p - 1, alt);
        if alt {
            return text;
        }
        match text.split_once('e') {
            Some((mantissa, exp)) => format!("{}e{exp}", strip_zeros(mantissa)),
            None => text,
        }
    }
}

fn strip_zeros(text: &str) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text.to_owned()
    }
}

/// `ascii()`: `repr()` with non-ASCII characters escaped.
fn ascii(text: &str) -> String {
    let mut out = String::new();
    for ch in text.chars() {
        let n = ch as u32;
        if n < 0x80 {
            out.push(ch);
        } else if n < 0x100 {
            out.push_str(&format!("\\x{n:02x}"));
        } else if n < 0x10000 {
            out.push_str(&format!("\\u{n:04x}"));
        } else {
            out.push_str(&format!("\\U{n:08x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(format: &str, operand: Value, is_tuple: bool) -> String {
        percent(format, operand, is_tuple).unwrap_or_else(|e| format!("ERR {e}"))
    }

    fn tuple(items: Vec<Value>) -> Value {
        Value::from(items)
    }

    #[test]
    fn render_percent_conversions_as_python() {
        let t = |items: Vec<Value>| tuple(items);
        assert_eq!(fmt("%s-%s", t(vec!["a".into(), 1.into()]), true), "a-1");
        assert_eq!(fmt("/home/%s", "bob".into(), false), "/home/bob");
        assert_eq!(fmt("%d items", 3.into(), false), "3 items");
        assert_eq!(fmt("%05.2f", 3.14659.into(), false), "03.15");
        assert_eq!(
            fmt("%x/%X/%o", t(vec![255.into(), 255.into(), 8.into()]), true),
            "ff/FF/10"
        );
        assert_eq!(
            fmt("[%-6s][%6s]", t(vec!["ab".into(), "cd".into()]), true),
            "[ab    ][    cd]"
        );
        assert_eq!(fmt("100%%", t(vec![]), true), "100%");
        assert_eq!(fmt("%r", "q".into(), false), "'q'");
        assert_eq!(fmt("%s", Value::from(()), false), "None");
        assert_eq!(fmt("%s", true.into(), false), "True");
        assert_eq!(
            fmt(
                "%+d|% d|%05d",
                t(vec![5.into(), 5.into(), (-42).into()]),
                true
            ),
            "+5| 5|-0042"
        );
        assert_eq!(
            fmt("%#x %#o", t(vec![255.into(), 8.into()]), true),
            "0xff 0o10"
        );
        assert_eq!(
            fmt(
                "%.3s|%*d",
                t(vec!["abcdef".into(), 4.into(), 7.into()]),
                true
            ),
            "abc|   7"
        );
        assert_eq!(fmt("%e", 12345.678.into(), false), "1.234568e+04");
        assert_eq!(
            fmt(
                "%g|%g|%g",
                t(vec![0.0001.into(), 1e20.into(), 2.5.into()]),
                true
            ),
            "0.0001|1e+20|2.5"
        );
        assert_eq!(fmt("%d", 3.9.into(), false), "3");
        assert_eq!(fmt("%c%c", t(vec![65.into(), "b".into()]), true), "Ab");
        // A list held by a name is one argument for one conversion.
        assert_eq!(fmt("%s", Value::from(vec![1, 2]), false), "[1, 2]");
        assert_eq!(fmt("%s=%s", Value::from(vec!["k", "v"]), false), "k=v");
    }

    #[test]
    fn render_percent_mapping_keys() {
        let d = crate::render::mutable::new_dict([
            (Value::from("name"), Value::from("bob")),
            (Value::from("age"), Value::from(42)),
        ]);
        assert_eq!(fmt("%(name)s is %(age)d", d.clone(), false), "bob is 42");
        assert_eq!(fmt("%s", d, false), "{'name': 'bob', 'age': 42}");
    }

    #[test]
    fn render_percent_errors_as_python() {
        assert_eq!(
            fmt("%s %s", "a".into(), false),
            "ERR invalid operation: TypeError: not enough arguments for format string"
        );
        assert_eq!(
            fmt("%s", tuple(vec![1.into(), 2.into()]), true),
            "ERR invalid operation: TypeError: not all arguments converted during string formatting"
        );
        assert_eq!(
            fmt("%d", "x".into(), false),
            "ERR invalid operation: TypeError: %d format: a real number is required, not str"
        );
        assert_eq!(
            fmt("%(k)s", "x".into(), false),
            "ERR invalid operation: TypeError: format requires a mapping"
        );
        assert_eq!(
            fmt("%z", 1.into(), false),
            "ERR invalid operation: ValueError: unsupported format character 'z' (0x7a) at index 1"
        );
        assert!(fmt("abc %", 1.into(), false).contains("incomplete format"));
    }
}
