//! Mapping keys that Python holds as `None`, `True`/`False` or an infinite
//! or NaN float, in Brine's string-keyed maps.
//!
//! Our data model (`serde_json::Value`) keys every mapping by string, but
//! YAML can write `~: a`, `yes: b` or `.inf: c`, and Salt's Jinja then sees
//! the Python objects: `{{ key }}` prints `None`, `key is none` holds, and a
//! key `'null'` (a string) is another key. So the YAML loader spells such a
//! key as a reserved *marker*: U+FFFF followed by its JSON spelling
//! (`"\u{FFFF}null"`). U+FFFF is a noncharacter that YAML text may not hold
//! (libyaml refuses it as a control character), so no ordinary key reads as
//! a marker; only the six exact spellings below are markers.
//!
//! A marker travels as an ordinary string (msgpack, pillar merges, caches);
//! what reads or prints keys turns it back into what Python has there:
//! the template layer into a typed key ([`TypedKey`]), the outputters into
//! each printer's spelling ([`TypedKey::json`], [`TypedKey::python`],
//! [`TypedKey::yaml`]), and JSON handed to other programs (the REST API, the
//! event bus) through [`spell_keys`]. Ints and finite floats stay spelled as
//! their JSON text (`"2"`, `"1.5"`): their printed forms agree everywhere.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Map, Value};

/// What starts every marker: a noncharacter no YAML text can contain.
const MARKER_PREFIX: char = '\u{FFFF}';

/// A mapping key Python holds as `None`, a bool, or a non-finite float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TypedKey {
    Null,
    Bool(bool),
    /// `inf`, `-inf` or `nan` (finite floats are spelled as strings).
    Float(f64),
}

impl TypedKey {
    /// The typed key a non-finite float or `None`/bool would be; `None` for
    /// a finite float, which stays a string key.
    pub fn float(value: f64) -> Option<TypedKey> {
        (!value.is_finite()).then_some(TypedKey::Float(value))
    }

    /// The key `key` stands for, if it is a marker.
    pub fn parse(key: &str) -> Option<TypedKey> {
        let spelling = key.strip_prefix(MARKER_PREFIX)?;
        Some(match spelling {
            "null" => TypedKey::Null,
            "true" => TypedKey::Bool(true),
            "false" => TypedKey::Bool(false),
            "Infinity" => TypedKey::Float(f64::INFINITY),
            "-Infinity" => TypedKey::Float(f64::NEG_INFINITY),
            "NaN" => TypedKey::Float(f64::NAN),
            _ => return None,
        })
    }

    /// The marker string our maps hold this key under.
    pub fn marker(self) -> String {
        format!("{MARKER_PREFIX}{}", self.json())
    }

    /// `json.dumps`'s spelling of the key (Salt's `--out=json`).
    pub fn json(self) -> &'static str {
        match self {
            TypedKey::Null => "null",
            TypedKey::Bool(true) => "true",
            TypedKey::Bool(false) => "false",
            TypedKey::Float(f) if f.is_nan() => "NaN",
            TypedKey::Float(f) if f > 0.0 => "Infinity",
            TypedKey::Float(_) => "-Infinity",
        }
    }

    /// Python's `repr()` (and `str()`) of the key: `None`, `True`, `inf`.
    pub fn python(self) -> &'static str {
        match self {
            TypedKey::Null => "None",
            TypedKey::Bool(true) => "True",
            TypedKey::Bool(false) => "False",
            TypedKey::Float(f) if f.is_nan() => "nan",
            TypedKey::Float(f) if f > 0.0 => "inf",
            TypedKey::Float(_) => "-inf",
        }
    }

    /// PyYAML's `safe_dump` spelling: `null`, `true`, `.inf`.
    pub fn yaml(self) -> &'static str {
        match self {
            TypedKey::Null => "null",
            TypedKey::Bool(true) => "true",
            TypedKey::Bool(false) => "false",
            TypedKey::Float(f) if f.is_nan() => ".nan",
            TypedKey::Float(f) if f > 0.0 => ".inf",
            TypedKey::Float(_) => "-.inf",
        }
    }
}

/// A map key as `json.dumps` prints it: a marker as its JSON spelling,
/// any other key as it is.
pub fn json_key(key: &str) -> &str {
    match TypedKey::parse(key) {
        Some(typed) => typed.json(),
        None => key,
    }
}

/// A map key as Python's `str()` prints it: `None` for a null key, any
/// string key as it is.
pub fn python_str_key(key: &str) -> &str {
    match TypedKey::parse(key) {
        Some(typed) => typed.python(),
        None => key,
    }
}

/// A map key handed out as a value (`pillar.keys`, jmespath's `keys()`):
/// the JSON `null`/`true`/`false` Python's `None`/`True`/`False` print as,
/// an infinite or NaN float as the string the loader makes of such a value
/// (`".inf"`: JSON has no number for it), any other key as a string.
pub fn key_as_value(key: &str) -> Value {
    match TypedKey::parse(key) {
        None => Value::String(key.to_owned()),
        Some(TypedKey::Null) => Value::Null,
        Some(TypedKey::Bool(b)) => Value::Bool(b),
        Some(float @ TypedKey::Float(_)) => Value::String(float.yaml().to_owned()),
    }
}

/// A copy of `value` with every marker key spelled as `json.dumps` spells it,
/// for JSON that leaves Brine (the REST API, printed events). Borrowed when
/// there is no marker to spell, which is nearly always.
pub fn spell_keys(value: &Value) -> Cow<'_, Value> {
    if has_marker(value) {
        Cow::Owned(spelled(value.clone()))
    } else {
        Cow::Borrowed(value)
    }
}

fn has_marker(value: &Value) -> bool {
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(key, item)| TypedKey::parse(key).is_some() || has_marker(item)),
        Value::Array(items) => items.iter().any(has_marker),
        _ => false,
    }
}

fn spelled(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, item)| (json_key(&key).to_owned(), spelled(item)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(spelled).collect()),
        scalar => scalar,
    }
}

/// Which keys Python's `sorted()` can compare with each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyClass {
    Str,
    None,
    Number,
}

fn key_class(key: &str) -> KeyClass {
    match TypedKey::parse(key) {
        None => KeyClass::Str,
        Some(TypedKey::Null) => KeyClass::None,
        Some(_) => KeyClass::Number,
    }
}

/// The numeric value Python compares a bool or float key by.
fn key_number(key: &str) -> f64 {
    match TypedKey::parse(key) {
        Some(TypedKey::Bool(b)) => f64::from(u8::from(b)),
        Some(TypedKey::Float(f)) => f,
        _ => 0.0,
    }
}

/// Sorts `entries` by their keys as Python's `sorted()` sorts a dict's
/// keys (PyYAML's `safe_dump`, `json.dumps(sort_keys=True)`, Salt's
/// `nested`): strings by code point, bools and floats by value. Keys Python
/// cannot compare (a `None` key beside any other, a string beside a number)
/// make `sorted()` raise: then the order stays and the answer is false, for
/// the caller to do what its Python code does on that `TypeError`.
pub fn sort_as_python<T>(entries: &mut [T], key: impl Fn(&T) -> &str) -> bool {
    let Some(first) = entries.first() else {
        return true;
    };
    let class = key_class(key(first));
    if entries.iter().any(|entry| key_class(key(entry)) != class) {
        return false;
    }
    match class {
        KeyClass::Str => entries.sort_by(|a, b| key(a).cmp(key(b))),
        // Two `None` keys cannot be in one dict: nothing to order.
        KeyClass::None => {}
        KeyClass::Number => entries.sort_by(|a, b| {
            key_number(key(a))
                .partial_cmp(&key_number(key(b)))
                .unwrap_or(Ordering::Equal)
        }),
    }
    true
}

/// A copy of `value` with every map's keys in [`sort_as_python`] order (the
/// order PyYAML's `safe_dump` prints a dict in; it keeps a dict's order when
/// `sorted()` raises).
pub fn sorted_as_python(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            // Unsortable keys stay in order, as PyYAML leaves them.
            let _ = sort_as_python(&mut entries, |entry| entry.0.as_str());
            Value::Object(
                entries
                    .into_iter()
                    .map(|(key, item)| (key.clone(), sorted_as_python(item)))
                    .collect::<Map<String, Value>>(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted_as_python).collect()),
        scalar => scalar.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ALL: [TypedKey; 6] = [
        TypedKey::Null,
        TypedKey::Bool(true),
        TypedKey::Bool(false),
        TypedKey::Float(f64::INFINITY),
        TypedKey::Float(f64::NEG_INFINITY),
        TypedKey::Float(f64::NAN),
    ];

    #[test]
    fn markers_round_trip_and_spell_as_each_printer() {
        let spellings: Vec<_> = ALL
            .iter()
            .map(|key| {
                let back = TypedKey::parse(&key.marker()).expect("a marker");
                assert_eq!(back.json(), key.json());
                (key.json(), key.python(), key.yaml())
            })
            .collect();
        assert_eq!(
            spellings,
            [
                ("null", "None", "null"),
                ("true", "True", "true"),
                ("false", "False", "false"),
                ("Infinity", "inf", ".inf"),
                ("-Infinity", "-inf", "-.inf"),
                ("NaN", "nan", ".nan"),
            ]
        );
    }

    #[test]
    fn only_the_exact_markers_are_typed() {
        for plain in [
            "null",
            "true",
            "None",
            "",
            "\u{FFFF}",
            "\u{FFFF}None",
            "x\u{FFFF}null",
        ] {
            assert_eq!(TypedKey::parse(plain), None, "{plain:?}");
            assert_eq!(json_key(plain), plain);
        }
        assert_eq!(TypedKey::float(1.5), None);
        assert_eq!(
            TypedKey::float(f64::INFINITY),
            Some(TypedKey::Float(f64::INFINITY))
        );
        assert_eq!(python_str_key(&TypedKey::Null.marker()), "None");
        assert_eq!(python_str_key("null"), "null");
    }

    #[test]
    fn keys_as_values_are_json_scalars() {
        let values: Vec<Value> = ALL
            .iter()
            .map(|key| key_as_value(&key.marker()))
            .chain([key_as_value("null")])
            .collect();
        assert_eq!(
            values,
            [
                json!(null),
                json!(true),
                json!(false),
                json!(".inf"),
                json!("-.inf"),
                json!(".nan"),
                json!("null")
            ]
        );
    }

    #[test]
    fn spell_keys_replaces_markers_at_any_depth() {
        let null = TypedKey::Null.marker();
        let yes = TypedKey::Bool(true).marker();
        let value = json!({"a": [{(null.clone()): {(yes.clone()): 1}}], "null": 2});
        assert_eq!(
            spell_keys(&value).into_owned(),
            json!({"a": [{"null": {"true": 1}}], "null": 2})
        );
        let plain = json!({"a": {"b": [1]}});
        assert!(matches!(spell_keys(&plain), Cow::Borrowed(_)));
    }

    #[test]
    fn sorting_follows_pythons_comparisons() {
        let sort = |keys: &[String]| {
            let mut keys = keys.to_vec();
            let sorted = sort_as_python(&mut keys, String::as_str);
            (keys, sorted)
        };
        let [null, yes, no, inf, ninf, _] = ALL.map(TypedKey::marker);
        let s = |text: &str| text.to_owned();
        assert_eq!(sort(&[s("b"), s("a")]), (vec![s("a"), s("b")], true));
        assert_eq!(
            sort(&[inf.clone(), yes.clone(), ninf.clone(), no.clone()]),
            (vec![ninf, no, yes.clone(), inf], true)
        );
        // Incomparable keys: Python's sorted() raises, the order stays.
        let unsortable = [
            vec![s("b"), null.clone(), s("a")],
            vec![yes.clone(), s("a")],
            vec![yes, null],
        ];
        for keys in unsortable {
            assert_eq!(sort(&keys), (keys.clone(), false));
        }
    }
}
