//! Salt's random filters: `random_sample` and `random_shuffle`
//! (`salt/utils/data.py`), `random_hash`/`rand_str` (`salt/utils/hashutils.py`)
//! and `random_str` (`salt/utils/stringutils.py`); and Jinja2's own
//! `random`, which minijinja does not have.
//!
//! A seeded `random_sample` or `random_shuffle` gives exactly Salt's result:
//! Salt seeds `random.Random` with `salt.utils.data.hash(seed)`, the SHA-512
//! hex digest of the seed's bytes (not Python's per-process `hash()`), so
//! the seed must be a string and the outcome is the same on every run.

use base64::Engine as _;
use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Environment, Error};

use super::pyrandom::PyRandom;
use super::{py_error, type_name};
use crate::render::filters::{hash::hex, positional_or_keyword};

/// Adds the random filters to `env`.
pub(super) fn register(env: &mut Environment<'_>) {
    env.add_filter("random_sample", random_sample);
    env.add_filter("random_shuffle", random_shuffle);
    env.add_filter("random_hash", random_hash);
    env.add_filter("rand_str", random_hash);
    env.add_filter("random_str", random_str);
    env.add_filter("random", random_item);
}

/// Jinja2's `|random`: Python's unseeded `random.choice(seq)`, an item of a
/// list, `range` or string (a character); an empty one gives undefined
/// ("No random item, sequence was empty."). A mapping is indexed by the
/// position drawn, as Python's `seq[i]` does, so one without that integer
/// key is a `KeyError`.
fn random_item(value: &Value) -> Result<Value, Error> {
    let length = python_len(value)?;
    if length == 0 {
        return Ok(Value::UNDEFINED);
    }
    let drawn = PyRandom::from_entropy().randint(0, length - 1);
    if value.kind() == ValueKind::Map {
        let item = value.get_item(&Value::from(drawn))?;
        if item.is_undefined() {
            return Err(py_error("KeyError", drawn.to_string()));
        }
        return Ok(item);
    }
    Ok(population(value)?.swap_remove(drawn))
}

/// `|random_sample(size, seed=None)`: `size` distinct items of the list.
fn random_sample(
    value: &Value,
    size: Option<Value>,
    seed: Option<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let size_keyword: Option<Value> = kwargs.get("size")?;
    let seed = positional_or_keyword(seed, &kwargs, "seed")?;
    let Some(size) = size_keyword.or(size) else {
        return Err(py_error(
            "TypeError",
            "sample() missing 1 required positional argument: 'size'",
        ));
    };
    sample(value, &size, seed.as_ref())
}

/// `|random_shuffle(seed=None)`: the whole list in a random order (Salt's
/// `sample` of the list's length).
fn random_shuffle(value: &Value, seed: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let seed = positional_or_keyword(seed, &kwargs, "seed")?;
    // Python takes a mapping's length; `sample` then refuses it.
    sample(value, &Value::from(python_len(value)?), seed.as_ref())
}

/// Python's `len(value)`: a sequence's, string's or mapping's length; a
/// TypeError for anything else.
fn python_len(value: &Value) -> Result<usize, Error> {
    match value.kind() {
        ValueKind::Seq | ValueKind::Iterable | ValueKind::String => Ok(population(value)?.len()),
        ValueKind::Map => Ok(value.len().unwrap_or(0)),
        _ => Err(py_error(
            "TypeError",
            format!("object of type '{}' has no len()", type_name(value)),
        )),
    }
}

/// Python's `random.Random(hash(seed)).sample(value, size)`, or an
/// unseeded generator when the seed is `None`.
fn sample(value: &Value, size: &Value, seed: Option<&Value>) -> Result<Value, Error> {
    // Python seeds the generator before `sample` looks at its arguments.
    let mut rng = match seed.map(seed_digest).transpose()?.flatten() {
        Some(digest) => PyRandom::from_text(&digest),
        None => PyRandom::from_entropy(),
    };
    let population = population(value)?;
    let size = i64::try_from(size.clone()).map_err(|_| {
        py_error(
            "TypeError",
            format!(
                "can't multiply sequence by non-int of type '{}'",
                type_name(size)
            ),
        )
    })?;
    let indexes = usize::try_from(size)
        .ok()
        .and_then(|size| rng.sample_indexes(population.len(), size))
        .ok_or_else(|| py_error("ValueError", "Sample larger than population or is negative"))?;
    Ok(Value::from(
        indexes
            .into_iter()
            .map(|i| population[i].clone())
            .collect::<Vec<_>>(),
    ))
}

/// The items of a Python sequence: a list's (or a `range`'s) items or a
/// string's characters.
fn population(value: &Value) -> Result<Vec<Value>, Error> {
    match value.kind() {
        ValueKind::Seq | ValueKind::Iterable => Ok(value.try_iter()?.collect()),
        ValueKind::String => Ok(value
            .as_str()
            .unwrap_or_default()
            .chars()
            .map(|c| Value::from(c.to_string()))
            .collect()),
        _ => Err(py_error(
            "TypeError",
            "Population must be a sequence.  For dicts or sets, use sorted(d).",
        )),
    }
}

/// Salt's `salt.utils.data.hash(seed)`: the SHA-512 hex digest of a
/// string's UTF-8 bytes (or of bytes); `None` without a seed. Anything else
/// is refused by `hashlib`.
fn seed_digest(seed: &Value) -> Result<Option<String>, Error> {
    let bytes = match seed.kind() {
        ValueKind::None | ValueKind::Undefined => return Ok(None),
        ValueKind::String => seed.as_str().unwrap_or_default().as_bytes(),
        ValueKind::Bytes => seed.as_bytes().unwrap_or_default(),
        _ => {
            return Err(py_error(
                "TypeError",
                "object supporting the buffer API required",
            ));
        }
    };
    digest("sha512", bytes).map(Some)
}

/// `|random_hash(hash_type='md5')` on a number `size`: the hex digest of
/// `str(randint(0, size))`.
fn random_hash(size: &Value, hash_type: Option<String>, kwargs: Kwargs) -> Result<String, Error> {
    let hash_type = positional_or_keyword(hash_type, &kwargs, "hash_type")?;
    let size = i64::try_from(size.clone()).map_err(|_| {
        py_error(
            "TypeError",
            format!(
                "'{}' object cannot be interpreted as an integer",
                type_name(size)
            ),
        )
    })?;
    let Ok(high) = usize::try_from(size) else {
        let stop = size + 1;
        return Err(py_error(
            "ValueError",
            format!("empty range for randrange() (0, {stop}, {stop})"),
        ));
    };
    let algorithm = hash_type.filter(|name| !name.is_empty());
    let number = PyRandom::from_entropy().randint(0, high).to_string();
    digest(algorithm.as_deref().unwrap_or("md5"), number.as_bytes())
}

/// The hex digest of `data` with `hashlib`'s algorithm `name`.
pub(super) fn digest(name: &str, data: &[u8]) -> Result<String, Error> {
    use ring::digest as d;
    let algorithm = match name {
        "md5" => {
            use md5::Digest as _;
            return Ok(hex(&md5::Md5::digest(data)));
        }
        "sha1" => &d::SHA1_FOR_LEGACY_USE_ONLY,
        "sha256" => &d::SHA256,
        "sha384" => &d::SHA384,
        "sha512" => &d::SHA512,
        _ => {
            return Err(py_error(
                "AttributeError",
                format!("module 'hashlib' has no attribute '{name}'"),
            ));
        }
    };
    Ok(hex(d::digest(algorithm, data).as_ref()))
}

/// `|random_str` on a number `size`: `size` characters of
/// base64 of `size` random bytes.
fn random_str(size: usize) -> Result<String, Error> {
    use ring::rand::SecureRandom as _;
    let mut bytes = vec![0u8; size];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| py_error("OSError", "no source of randomness"))?;
    let mut text = base64::engine::general_purpose::STANDARD.encode(&bytes);
    text.truncate(size);
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::super::tests::render;

    #[test]
    fn seeded_sample_is_salts() {
        // python3.11 -c 'import salt.utils.data as d; print(d.sample(list(range(10)), 4, seed="42"))'
        assert_eq!(
            render("{{ range(10)|list|random_sample(4, seed='42') }}"),
            "[1, 9, 5, 3]"
        );
        // A range is a Python sequence too.
        assert_eq!(
            render("{{ range(10)|random_sample(4, seed='42') }}"),
            "[1, 9, 5, 3]"
        );
        assert_eq!(
            render("{{ ['a','b','c','d','e']|random_sample(2, '7') }}"),
            "['b', 'c']"
        );
        assert_eq!(
            render("{{ 'abcdef'|random_sample(size=3, seed='salt') }}"),
            "['a', 'c', 'f']"
        );
        assert_eq!(
            render("{{ range(100)|list|random_sample(3, seed='ünï') }}"),
            "[26, 45, 15]"
        );
    }

    #[test]
    fn seeded_shuffle_is_salts() {
        // python3.11 -c 'import salt.utils.data as d; print(d.shuffle(list(range(8)), seed="3"))'
        assert_eq!(
            render("{{ range(8)|list|random_shuffle(seed='3') }}"),
            "[2, 6, 5, 3, 1, 7, 4, 0]"
        );
        assert_eq!(render("{{ [1,2,3]|random_shuffle('') }}"), "[3, 1, 2]");
        assert_eq!(
            render("{{ range(8)|random_shuffle(seed='3') }}"),
            "[2, 6, 5, 3, 1, 7, 4, 0]"
        );
        let err = render("{{ 5|random_shuffle }}");
        assert!(
            err.contains("TypeError: object of type 'int' has no len()"),
            "{err}"
        );
    }

    #[test]
    fn random_picks_one_item_as_jinja2_does() {
        // The prometheus-formula pillar: `{{ range(1, 100000) | random }}`.
        let n: i64 = render("{{ range(1, 100000) | random }}")
            .parse()
            .expect("a number");
        assert!((1..100000).contains(&n), "{n}");
        assert_eq!(render("{{ ['only'] | random }}"), "only");
        assert_eq!(render("{{ 'x' | random }}"), "x");
        assert!(["a", "b"].contains(&render("{{ ['a', 'b'] | random }}").as_str()));
        assert_eq!(render("{{ ([] | random) is defined }}"), "False");
        let err = render("{{ 5 | random }}");
        assert!(
            err.contains("TypeError: object of type 'int' has no len()"),
            "{err}"
        );
        let err = render("{{ {'a': 1} | random }}");
        assert!(err.contains("KeyError: 0"), "{err}");
    }

    #[test]
    fn unseeded_sample_keeps_the_items() {
        let out = render("{{ [1,2,3]|random_shuffle|sort }}");
        assert_eq!(out, "[1, 2, 3]");
        assert_eq!(render("{{ [1,2,3]|random_sample(2)|length }}"), "2");
    }

    #[test]
    fn bad_samples_are_pythons_errors() {
        let err = render("{{ [1,2]|random_sample(3, seed='1') }}");
        assert!(
            err.contains("ValueError: Sample larger than population or is negative"),
            "{err}"
        );
        let err = render("{{ {'a': 1}|random_shuffle(seed='1') }}");
        assert!(
            err.contains("TypeError: Population must be a sequence."),
            "{err}"
        );
        for seed in ["7", "True", "2.5", "[1]"] {
            let err = render(&format!("{{{{ [1,2]|random_sample(1, seed={seed}) }}}}"));
            assert!(
                err.contains("TypeError: object supporting the buffer API required"),
                "{err}"
            );
        }
        let err = render("{{ [1,2]|random_sample }}");
        assert!(
            err.contains("missing 1 required positional argument: 'size'"),
            "{err}"
        );
    }

    #[test]
    fn random_hash_and_str_have_salts_shapes() {
        assert_eq!(render("{{ 100|random_hash|length }}"), "32");
        assert_eq!(render("{{ 100|rand_str('sha256')|length }}"), "64");
        assert_eq!(
            render("{{ 100|random_hash(hash_type='sha512')|length }}"),
            "128"
        );
        assert_eq!(
            render("{{ 0|random_hash }}"),
            "cfcd208495d565ef66e7dff9f98764da"
        );
        assert_eq!(render("{{ 16|random_str|length }}"), "16");
        let err = render("{{ -5|random_hash }}");
        assert!(
            err.contains("empty range for randrange() (0, -4, -4)"),
            "{err}"
        );
        let err = render("{{ 1|random_hash('nope') }}");
        assert!(
            err.contains("module 'hashlib' has no attribute 'nope'"),
            "{err}"
        );
    }
}
