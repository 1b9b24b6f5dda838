//! Jinja's `default` with its keyword arguments, and Salt's `path_join`
//! (`salt/utils/path.py`, POSIX paths).

use minijinja::value::{Rest, Value, ValueOrKwargs};
use minijinja::{Environment, Error, ErrorKind, State, UndefinedBehavior};

use super::pystr::py_str;
use crate::render::mutable::split_kwargs;

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("default", default);
    env.add_filter("d", default);
    env.add_filter("path_join", path_join);
}

/// Jinja's `default(value, default_value='', boolean=False)`, by position
/// or keyword (minijinja's takes positions only).
fn default(
    state: &State<'_, '_>,
    value: &Value,
    args: Rest<ValueOrKwargs>,
) -> Result<Value, Error> {
    let args = args.into_values();
    let (positional, kwargs) = split_kwargs(&args);
    if positional.len() > 2 {
        return Err(Error::from(ErrorKind::TooManyArguments));
    }
    let mut other = positional.first().cloned();
    let mut boolean = positional.get(1).cloned();
    if let Some(kwargs) = &kwargs {
        if let Some(v) = kwargs.get::<Option<Value>>("default_value")? {
            other = Some(v);
        }
        if let Some(v) = kwargs.get::<Option<Value>>("boolean")? {
            boolean = Some(v);
        }
        kwargs.assert_all_used()?;
    }
    let boolean = match boolean {
        Some(flag)
            if flag.is_undefined() && state.undefined_behavior() == UndefinedBehavior::Strict =>
        {
            return Err(Error::from(ErrorKind::UndefinedError));
        }
        Some(flag) => flag.is_true(),
        None => false,
    };
    if value.is_undefined() || (boolean && !value.is_true()) {
        Ok(other.unwrap_or_else(|| Value::from("")))
    } else {
        Ok(value.clone())
    }
}

/// `posixpath.normpath`.
fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let initial = if path.starts_with("//") && !path.starts_with("///") {
        2
    } else if path.starts_with('/') {
        1
    } else {
        0
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if (initial == 0 && parts.is_empty()) || parts.last() == Some(&"..") {
                    parts.push("..");
                } else {
                    parts.pop();
                }
            }
            other => parts.push(other),
        }
    }
    let out = format!("{}{}", "/".repeat(initial), parts.join("/"));
    if out.is_empty() { ".".into() } else { out }
}

/// Salt's `path_join(*parts, use_posixpath=False)`: every part normalised,
/// the later ones joined below the first even when absolute.
fn path_join(first: &Value, rest: Rest<ValueOrKwargs>) -> Result<String, Error> {
    let rest = rest.into_values();
    let (positional, kwargs) = split_kwargs(&rest);
    if let Some(kwargs) = &kwargs {
        let _: Option<Value> = kwargs.get("use_posixpath")?;
        kwargs.assert_all_used()?;
    }
    let root = normpath(&py_str(first));
    let mut joined = root;
    for part in positional {
        let part = normpath(&py_str(part));
        let part = part.trim_start_matches('/');
        if joined.is_empty() || joined.ends_with('/') {
            joined.push_str(part);
        } else {
            joined.push('/');
            joined.push_str(part);
        }
    }
    Ok(normpath(&joined))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_path_join_as_salt() {
        let join = |first: &str, rest: &[&str]| {
            let rest: Vec<ValueOrKwargs> = rest
                .iter()
                .map(|p| ValueOrKwargs::from(Value::from(*p)))
                .collect();
            path_join(&Value::from(first), Rest(rest)).unwrap_or_else(|e| e.to_string())
        };
        assert_eq!(join("/etc", &["/salt", "minion.d/"]), "/etc/salt/minion.d");
        assert_eq!(join("a/./b", &["../c"]), "a/c");
        assert_eq!(join("/", &[]), "/");
        assert_eq!(join("//srv", &["x"]), "//srv/x");
        assert_eq!(normpath(""), ".");
        assert_eq!(normpath("../../a/.."), "../..");
    }
}
